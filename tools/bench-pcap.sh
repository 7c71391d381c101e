#!/bin/sh
# make bench-pcap: times `mychat-pcap stats` and a full tshark dissection
# with tools/wireshark/mychat.lua on the same generated capture of N
# datagrams (default 1,000,000), and prints packets/s for each and their
# ratio. Usage: tools/bench-pcap.sh BUILD_DIR [N]
set -eu
B=${1:-build}
N=${2:-1000000}
F="$B/bench-pcap-$N.pcap"
[ -f "$F" ] || "$B/mc-pcapgen" --bench "$N" "$F"
echo "bench-pcap: $F: $N datagrams, $(du -h "$F" | cut -f1)"

# now: wall-clock seconds with nanoseconds.
now() { date +%s.%N; }

t0=$(now)
"$B/mychat-pcap" stats "$F" > /dev/null
t1=$(now)
mp=$(echo "$N / ($t1 - $t0)" | bc -l)
printf "mychat-pcap stats:          %8.2f s  %10.0f packets/s\n" \
  "$(echo "$t1 - $t0" | bc -l)" "$mp"

if command -v tshark > /dev/null 2>&1; then
  t0=$(now)
  # -z io,stat,0 with a mychat field forces every packet through the
  # dissector (tshark skips the tree otherwise).
  tshark -X lua_script:tools/wireshark/mychat.lua -r "$F" -q \
    -z io,stat,0,mychat.envelope.seq > /dev/null 2>&1
  t1=$(now)
  ts=$(echo "$N / ($t1 - $t0)" | bc -l)
  printf "tshark + mychat.lua:        %8.2f s  %10.0f packets/s\n" \
    "$(echo "$t1 - $t0" | bc -l)" "$ts"
  printf "ratio (mychat-pcap/tshark): %8.1f x\n" "$(echo "$mp / $ts" | bc -l)"
else
  echo "tshark not installed: only mychat-pcap timed (make deps installs it)"
fi
