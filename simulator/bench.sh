#!/bin/sh
# bench-sim: for each client count, a fixed 20 s of virtual sending at 10 %
# loss; reports whether delivery stayed at 100 %, the wall and CPU time, and
# the simulator's CPU time per message. Stops at the first count that takes
# longer than WALL seconds or loses anything; prints the largest count that
# held.
#   sh simulator/bench.sh BIN WALL COUNT...
set -u
BIN=$1
WALL=$2
shift 2
T=$(mktemp -d "${TMPDIR:-/tmp}/mychat-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
best=0
printf '%8s %4s %9s %11s %8s %8s %11s %11s\n' clients ok messages deliveries wall_s cpu_s cpu_us/msg cpu_us/dlv
while [ $# -gt 0 ]; do
  n=$1
  shift
  "$BIN" --clients "$n" --loss 10% --duration 20s --ramp 5s --seed 1 \
    --no-progress --json "$T/r.json" --json-host > "$T/out" 2>&1
  rc=$?
  if [ ! -s "$T/r.json" ]; then
    echo "bench-sim: run with $n clients failed (exit $rc):" >&2
    cat "$T/out" >&2
    break
  fi
  # The JSON has one field per line; read without a JSON tool.
  get() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" "$T/r.json" | head -1; }
  # A field of the "all" message counts (after the group and direct ones).
  all() { awk -v k="\"$1\":" '/"all": [{]/ { a = 1 }
    a && $1 == k { gsub(/[^0-9]/, "", $2); print $2; exit }' "$T/r.json"; }
  sent=$(all sent)
  deliv=$(all delivered)
  wall=$(get wall_s)
  cpu=$(get cpu_s)
  per=$(get cpu_us_per_message)
  perd=$(get cpu_us_per_delivery)
  ok=no
  [ "$rc" -eq 0 ] && ok=yes
  printf '%8s %4s %9s %11s %8.2f %8.2f %11.1f %11.2f\n' "$n" "$ok" "$sent" "$deliv" "$wall" "$cpu" "$per" "$perd"
  [ "$ok" = yes ] || break
  best=$n
  # Stop before a count that would take longer than the budget: time grows
  # about linearly with the client count.
  if [ $# -gt 0 ] && awk "BEGIN { exit !($wall * $1 / $n > $WALL) }"; then
    echo "bench-sim: next count would exceed ${WALL}s of wall time; stopping"
    break
  fi
done
echo "bench-sim: largest client count with 100% delivery at 10% loss: $best"
