#!/bin/sh
# Regenerates captures/ from the reference server (`make captures`): one
# fresh server per set of server flags the cases need, mc-record against
# it. Usage: sh conformance/captures.sh BUILD_DIR
set -eu
B=${1:-build}
OUT=captures
T=$(mktemp -d "${TMPDIR:-/tmp}/mychat-cap.XXXXXX")
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$OUT"
rm -f "$OUT"/*.pcap "$OUT"/*.case
"$B/mc-record" --list | cut -f2 | sort -u > "$T/flagsets"
while IFS= read -r flags; do
  rm -f "$T/db" "$T/out"
  # shellcheck disable=SC2086 # the flags are words
  "$B/mychat-server" --host 127.0.0.1 --port 0 --db "$T/db" --hash-cost min \
    --log "$T/log" $flags < /dev/null > "$T/out" 2>&1 &
  PID=$!
  i=0
  until grep -q "now online" "$T/out" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -le 100 ] || { cat "$T/out" >&2; exit 1; }
    sleep 0.05
  done
  PORT=$(sed -n 's/.*now online.*:\([0-9][0-9]*\).*/\1/p' "$T/out" | head -1)
  "$B/mc-record" --server "127.0.0.1:$PORT" --out "$OUT" --flags "$flags"
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  PID=
done < "$T/flagsets"
