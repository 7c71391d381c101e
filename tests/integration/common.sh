# Sourced by tests/integration/*.sh (run by `make test` with B set to the
# build directory). Gives each test a temporary directory, a reference server
# on a free loopback port, and pass/fail bookkeeping.
#
#   start_server [flags]   start mychat-server (under the command in
#                          SRV_RUNAS, if set); sets SRV_PID, SRV_PORT, SRV
#   stop_server            SIGTERM and wait
#   kill9_server           SIGKILL and wait (crash)
#   check NAME CMD...      run CMD; record "ok"/"not ok" for NAME
#   finish                 print "N passed, N failed" and exit accordingly
set -u
B=${B:-build}
T=$(mktemp -d "${TMPDIR:-/tmp}/mychat-it.XXXXXX")
PASSED=0
FAILED=0
SRV_PID=
cleanup() {
  if [ -n "$SRV_PID" ]; then kill -9 "$SRV_PID" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

start_server() {
  : > "$T/server.out"
  ${SRV_RUNAS:-} "$B/mychat-server" --host 127.0.0.1 --port 0 --db "$T/db.sqlite" \
    --hash-cost min --log "$T/server.log" "$@" \
    < /dev/null > "$T/server.out" 2>&1 &
  SRV_PID=$!
  i=0
  while ! grep -q "now online" "$T/server.out" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 100 ] || ! kill -0 "$SRV_PID" 2>/dev/null; then
      echo "start_server: server did not come up:" >&2
      cat "$T/server.out" >&2
      return 1
    fi
    sleep 0.05
  done
  SRV_PORT=$(sed -n 's/.*now online.*:\([0-9][0-9]*\).*/\1/p' "$T/server.out" | head -1)
  SRV="127.0.0.1:$SRV_PORT"
}

stop_server() {
  [ -n "$SRV_PID" ] || return 0
  kill -TERM "$SRV_PID" 2>/dev/null || true
  wait "$SRV_PID" 2>/dev/null || true
  SRV_PID=
}

kill9_server() {
  [ -n "$SRV_PID" ] || return 0
  kill -9 "$SRV_PID" 2>/dev/null || true
  wait "$SRV_PID" 2>/dev/null || true
  SRV_PID=
}

check() {
  name=$1
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
    echo "ok - $name"
  else
    FAILED=$((FAILED + 1))
    echo "not ok - $name"
  fi
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
  exit $?
}
