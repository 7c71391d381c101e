#!/bin/sh
# make bench-pcap: on one generated capture of N datagrams (default
# 1,000,000), times `mychat-pcap stats` against a full tshark dissection
# with tools/wireshark/mychat.lua, and `mychat-pcap dump` against
# `tcpdump -r FILE -nn` (TZ=UTC, output to /dev/null), and prints
# packets/s for each and the ratios (above 1: mychat-pcap is faster).
# Usage: tools/bench-pcap.sh BUILD_DIR [N]
set -eu
B=${1:-build}
N=${2:-1000000}
F="$B/bench-pcap-$N.pcap"
[ -f "$F" ] || "$B/mc-pcapgen" --bench "$N" "$F"
echo "bench-pcap: $F: $N datagrams, $(du -h "$F" | cut -f1)"

# now: wall-clock seconds with nanoseconds.
now() { date +%s.%N; }

# timed LABEL COMMAND...: runs COMMAND with its output discarded, prints
# its time and packets/s, and leaves the packets/s in $pps.
timed() {
  label=$1
  shift
  t0=$(now)
  "$@" > /dev/null 2>&1
  t1=$(now)
  pps=$(echo "$N / ($t1 - $t0)" | bc -l)
  printf "%-27s %8.2f s  %10.0f packets/s\n" "$label:" \
    "$(echo "$t1 - $t0" | bc -l)" "$pps"
}

timed "mychat-pcap stats" "$B/mychat-pcap" stats "$F"
mp=$pps
if command -v tshark > /dev/null 2>&1; then
  # -z io,stat,0 with a mychat field forces every packet through the
  # dissector (tshark skips the tree otherwise).
  timed "tshark + mychat.lua" tshark -X lua_script:tools/wireshark/mychat.lua \
    -r "$F" -q -z io,stat,0,mychat.envelope.seq
  printf "ratio (mychat-pcap/tshark): %8.1f x\n" "$(echo "$mp / $pps" | bc -l)"
else
  echo "tshark not installed: only mychat-pcap stats timed (make deps installs it)"
fi

timed "mychat-pcap dump" "$B/mychat-pcap" dump "$F"
md=$pps
if command -v tcpdump > /dev/null 2>&1; then
  timed "tcpdump -r -nn (TZ=UTC)" env TZ=UTC tcpdump -r "$F" -nn
  printf "ratio (dump/tcpdump):       %8.2f x\n" "$(echo "$md / $pps" | bc -l)"
else
  echo "tcpdump not installed: only mychat-pcap dump timed (make deps installs it)"
fi
