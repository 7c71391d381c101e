#!/bin/sh
# mc-loadgen (bench/mc_loadgen.c, built against the public headers only)
# against the reference server on loopback: every message it sends is
# confirmed and delivered, and a server that is not there makes it fail.
# Run by `make test` (and `make asan`, with B=build/asan).
. "$(dirname "$0")/common.sh"

# loadgen ARGS...: bounded by its own --timeout and by timeout(1).
loadgen() {
  timeout 40 "$B/mc-loadgen" --timeout 30 "$@" > "$T/lg.out" 2> "$T/lg.err"
}

t_counts() {
  loadgen --server "$SRV" --clients 8 --messages 25 --prefix lga &&
    grep -Eq '^mc-loadgen: clients 8 up 8 sent 200/200 delivered 200 latency avg [0-9.]+ ms max [0-9.]+ ms$' \
      "$T/lg.out" || { cat "$T/lg.out" "$T/lg.err"; return 1; }
}

# The same names again: registering fails with NAME_TAKEN, and it says so.
t_name_taken() {
  ! loadgen --server "$SRV" --clients 2 --messages 1 --prefix lga &&
    grep -q 'NAME_TAKEN' "$T/lg.err" && grep -q ' up [01] sent 0/2 ' "$T/lg.out"
}

t_no_server() {
  stop_server
  ! timeout 20 "$B/mc-loadgen" --server "$SRV" --clients 2 --messages 1 \
    --timeout 2 > "$T/lg.out" 2>&1 && grep -q ' up 0 sent 0/2 delivered 0 ' "$T/lg.out"
}

t_usage() {
  "$B/mc-loadgen" --clients 2 > /dev/null 2>&1
  [ $? -eq 2 ]
}

start_server --rate-burst 1000 || exit 1
check "8 clients x 25 messages: all sent and delivered" t_counts
check "a taken name fails the run with NAME_TAKEN" t_name_taken
check "no server: nothing sent, exit 1 within the timeout" t_no_server
check "no --server: usage, exit 2" t_usage
finish
