#!/bin/sh
# Integration tests of mychat-server (issue 4) over loopback UDP, driven by
# mc-probe. Run by `make test` (and `make asan`, with B=build/asan). Every
# program runs under `timeout`, so a hung server or client fails the test
# instead of hanging the suite.
. "$(dirname "$0")/common.sh"

SERVER="$B/mychat-server"
# Every client here comes from 127.0.0.1: the default login rate limit (5
# per host) would throttle the suite itself. t_rate_limit checks the limit.
FLAGS="--rate-burst 1000"

# probe ARGS...: runs mc-probe against the current server.
probe() {
  timeout 30 "$B/mc-probe" --server "$SRV" --timeout 20 "$@"
}

# wait_for FILE PATTERN: waits (up to 10 s) until FILE has a line matching
# PATTERN.
wait_for() {
  i=0
  while ! grep -q "$2" "$1" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -le 200 ] || return 1
    sleep 0.05
  done
}

# lines FILE PATTERN: how many lines of FILE match PATTERN.
lines() {
  grep -c "$2" "$1" || true
}

# run_server ARGS...: runs the server in the foreground (for the failure
# cases), output in $T/run.out, status in RC.
run_server() {
  timeout 10 "$SERVER" "$@" < /dev/null > "$T/run.out" 2>&1
  RC=$?
}

# Root may force the 8 MiB socket buffers past net.core.rmem_max: nothing
# is capped, and the log says nothing of them (storage.sh, whose server
# runs as nobody, sees the capped case).
t_socket_buffers_root() {
  [ "$(id -u)" -eq 0 ] || { echo "  (not root: nothing to check here)"; return 0; }
  ! grep -q "socket buffers capped" "$T/server.log" "$T/server.out"
}

t_ready_line() {
  grep -q "^--> \[MyChat server is now online\] 127\.0\.0\.1:$SRV_PORT\$" \
    "$T/server.out" &&
    grep -q "^--> \[type 'E' and press ENTER to turn server off\]\$" \
      "$T/server.out" &&
    [ "$SRV_PORT" -gt 0 ]
}

t_port_in_use() {
  run_server --host 127.0.0.1 --port "$SRV_PORT" --db "$T/other.db"
  [ "$RC" -eq 1 ] &&
    grep -q "^mychat-server: bind(127\.0\.0\.1:$SRV_PORT): Address already in use" \
      "$T/run.out"
}

t_bad_flag() {
  run_server --bogus
  [ "$RC" -eq 2 ] && grep -q "^mychat-server: --bogus: unknown option$" "$T/run.out" &&
    grep -q "Try 'mychat-server --help'" "$T/run.out" || return 1
  run_server --port 70000
  [ "$RC" -eq 2 ] &&
    grep -q -- "--port: '70000' is not a number" "$T/run.out" || return 1
  run_server --queue-max 65537
  [ "$RC" -eq 2 ] &&
    grep -q -- "--queue-max: '65537' is not a number from 0 to 65536" \
      "$T/run.out" || return 1
  run_server --hash-cost huge
  [ "$RC" -eq 2 ] && grep -q "Try 'mychat-server --help'" "$T/run.out"
}

t_help_version() {
  timeout 5 "$SERVER" --help | grep -q "^usage: mychat-server" &&
    timeout 5 "$SERVER" --version | grep -q "^mychat-server "
}

t_bad_db() {
  mkdir -p "$T/dir.db"
  run_server --host 127.0.0.1 --port 0 --db "$T/dir.db"
  [ "$RC" -eq 1 ] && grep -q "^mychat-server: .*$T/dir.db" "$T/run.out" &&
    ! grep -q "now online" "$T/run.out"
}

t_auth() {
  probe --user alice --register > "$T/a1" &&
    grep -q "^connected alice" "$T/a1" || return 1
  probe --user alice > "$T/a2" && grep -q "^connected alice" "$T/a2" ||
    return 1
  probe --user alice --password wrong-pw > "$T/a3"
  [ $? -eq 3 ] && grep -q "^connect-failed AUTH_FAILED" "$T/a3" || return 1
  probe --user alice --register > "$T/a4"
  [ $? -eq 3 ] && grep -q "^connect-failed NAME_TAKEN" "$T/a4" || return 1
  probe --user nobody-here > "$T/a5"
  [ $? -eq 3 ] && grep -q "^connect-failed AUTH_FAILED" "$T/a5"
}

t_direct_online() {
  probe --user bob --register > /dev/null || return 1
  probe --user bob --expect-messages 1 > "$T/d_bob" &
  bob=$!
  wait_for "$T/d_bob" "^connected" || return 1
  probe --user alice --send-to bob --text "hello bob" --expect-delivered 1 \
    > "$T/d_alice" || return 1
  wait "$bob" || return 1
  grep -q "^sent " "$T/d_alice" &&
    grep -q "^delivered [0-9]* bob\$" "$T/d_alice" &&
    grep -q "^message [0-9]* alice - new hello bob\$" "$T/d_bob"
}

t_direct_offline() {
  probe --user carol --register > /dev/null || return 1
  probe --user alice --send-to carol --text "while you were out" \
    > "$T/o_alice" || return 1
  [ "$(lines "$T/o_alice" "^sent ")" -eq 1 ] || return 1
  probe --user carol --expect-messages 1 > "$T/o_carol" || return 1
  grep -q "^message [0-9]* alice - missed while you were out\$" "$T/o_carol" ||
    return 1
  # The receipt waited for alice, who was offline when carol read it.
  probe --user alice --expect-delivered 1 > "$T/o_alice2" &&
    grep -q "^delivered [0-9]* carol\$" "$T/o_alice2"
}

t_group_backlog() {
  probe --user dave --register --create room > "$T/g_dave0" || return 1
  grep -q "^result create_group OK" "$T/g_dave0" || return 1
  probe --user erin --register --join room > "$T/g_erin0" || return 1
  grep -q "^result join_group OK" "$T/g_erin0" || return 1
  probe --user dave --group room --text "group news" --repeat 5 \
    > "$T/g_dave" || return 1
  [ "$(lines "$T/g_dave" "^sent ")" -eq 5 ] || return 1
  probe --user erin --expect-messages 5 --expect-backlog > "$T/g_erin" ||
    return 1
  grep "^message " "$T/g_erin" | cut -d' ' -f3-5 > "$T/g_got"
  printf 'dave room missed\n%.0s' 1 2 3 4 5 | cmp -s - "$T/g_got" || return 1
  # In order, exactly once: texts #1..#5 and strictly increasing ids.
  [ "$(grep "^message " "$T/g_erin" | sed 's/.*#//' | tr '\n' ' ')" = \
    "1 2 3 4 5 " ] || return 1
  grep "^message " "$T/g_erin" | cut -d' ' -f2 | sort -n -c -u || return 1
  # A second login brings nothing again.
  probe --user erin --expect-backlog > "$T/g_erin2" &&
    [ "$(lines "$T/g_erin2" "^message ")" -eq 0 ]
}

t_kill9_durability() {
  probe --user frank --register > /dev/null &&
    probe --user grace --register > /dev/null || return 1
  probe --user frank --send-to grace --text "durable" --repeat 20 \
    --no-logout > "$T/k_frank" || return 1
  [ "$(lines "$T/k_frank" "^sent ")" -eq 20 ] || return 1
  kill9_server
  start_server $FLAGS || return 1
  probe --user grace --expect-messages 20 > "$T/k_grace" || return 1
  [ "$(grep "^message [0-9]* frank - missed durable #" "$T/k_grace" |
    sort -u | wc -l)" -eq 20 ] || return 1
  probe --user frank > "$T/k_frank2" && grep -q "^connected frank" "$T/k_frank2"
}

t_hostile_traffic() {
  probe --user henry --register > /dev/null &&
    probe --user iris --register > /dev/null || return 1
  probe --user iris --expect-messages 30 > "$T/h_iris" &
  iris=$!
  wait_for "$T/h_iris" "^connected" || return 1
  probe --junk 200 > "$T/h_junk" &
  junk=$!
  probe --truncated 150 > "$T/h_trunc" &
  trunc=$!
  probe --user mallory --register --bad-token 100 > "$T/h_bad" &
  bad=$!
  probe --unpadded-login 30 --as iris > "$T/h_unpad" 2>&1 &
  unpad=$!
  probe --user henry --send-to iris --text "through the noise" --repeat 30 \
    > "$T/h_henry" || return 1
  ok=0
  for p in $iris $junk $trunc $bad $unpad; do wait "$p" || ok=1; done
  if [ "$ok" -ne 0 ]; then
    cat "$T/h_junk" "$T/h_trunc" "$T/h_bad" "$T/h_unpad"
    return 1
  fi
  # Junk, truncated and forged datagrams get bounded Errors (some answered,
  # none larger than its cause); unpadded logins get nothing at all.
  some="[1-9][0-9]*"
  [ "$(lines "$T/h_henry" "^sent ")" -eq 30 ] &&
    [ "$(lines "$T/h_iris" "^message [0-9]* henry - new through")" -eq 30 ] &&
    grep -q "^raw junk: sent 200 answered $some violations 0\$" "$T/h_junk" &&
    grep -q "^raw truncated: sent 150 answered $some violations 0\$" \
      "$T/h_trunc" &&
    grep -q "^raw bad-token: sent 100 answered $some violations 0\$" \
      "$T/h_bad" &&
    grep -q "^raw unpadded-login: sent 30 answered 0 violations 0\$" \
      "$T/h_unpad" &&
    kill -0 "$SRV_PID" &&
    grep -q " malformed MALFORMED" "$T/server.log"
}

# port_of FILE: the port in FILE's "now online" line.
port_of() {
  sed -n 's/.*now online.*:\([0-9][0-9]*\)$/\1/p' "$1"
}

t_commit_failure() {
  # A file-size limit makes a database write fail mid-run: the server must
  # exit 1 with a loud message, and every message it confirmed before that
  # must be there after a restart. The 400 messages come at once: the
  # message quota (MC-150) is lifted so that they all reach the store.
  ( ulimit -f 400
    exec timeout 30 "$SERVER" --host 127.0.0.1 --port 0 --db "$T/fz.db" \
      --hash-cost min $FLAGS --msg-burst 1000 --log "$T/fz.log" \
      < /dev/null > "$T/fz.out" 2>&1 )&
  pid=$!
  wait_for "$T/fz.out" "now online" || return 1
  fz="127.0.0.1:$(port_of "$T/fz.out")"
  big=$(printf '%0790d' 0)
  timeout 30 "$B/mc-probe" --server "$fz" --user fa --register > /dev/null &&
    timeout 30 "$B/mc-probe" --server "$fz" --user fb --register \
      > /dev/null || return 1
  timeout 30 "$B/mc-probe" --server "$fz" --timeout 5 --user fa --no-logout \
    --send-to fb --text "$big" --repeat 400 > "$T/fz.send"
  wait "$pid"
  rc=$?
  [ "$rc" -eq 1 ] && grep -q "FATAL: database commit failed" "$T/fz.out" ||
    return 1
  n=$(lines "$T/fz.send" "^sent ")
  [ "$n" -gt 0 ] && [ "$n" -lt 400 ] || return 1
  timeout 10 "$SERVER" --host 127.0.0.1 --port 0 --db "$T/fz.db" \
    --hash-cost min --log "$T/fz.log" < /dev/null > "$T/fz2.out" 2>&1 &
  pid=$!
  wait_for "$T/fz2.out" "now online" || return 1
  timeout 30 "$B/mc-probe" --server "127.0.0.1:$(port_of "$T/fz2.out")" \
    --timeout 20 --user fb --expect-messages "$n" --expect-backlog \
    > "$T/fz.recv"
  rc=$?
  kill -TERM "$pid" && wait "$pid" && [ "$rc" -eq 0 ] || return 1
  awk '/^sent /{print $3}' "$T/fz.send" | sort > "$T/fz.confirmed"
  awk '/^message /{print $2}' "$T/fz.recv" | sort > "$T/fz.stored"
  [ -z "$(comm -23 "$T/fz.confirmed" "$T/fz.stored")" ]
}

t_request_log() {
  # time, peer, user, session id, type, result
  when='20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
  grep -Eq "^$when 127\.0\.0\.1:[0-9]+ alice [0-9a-f]{16} login OK" \
    "$T/server.log" &&
    grep -Eq ' alice 0{16} login AUTH_FAILED' "$T/server.log"
}

t_rate_limit() {
  # A server with the default limit: burst 5 per host and per name and host.
  stop_server
  start_server || return 1
  for i in 1 2 3 4 5 6 7; do
    probe --user alice --password wrong-pw >> "$T/r_out"
  done
  [ "$(lines "$T/r_out" "^connect-failed AUTH_FAILED")" -ge 1 ] &&
    grep -q "^connect-failed RATE_LIMITED" "$T/r_out" || return 1
  # Back to a server the next tests can log in to at will.
  stop_server
  start_server $FLAGS
}

# A flood of bad datagrams does not flood the request log: 100 lines of
# datagrams of no session at once, then 10 a second (and a line now and
# then with the count left out); the stats at shutdown give the total left
# out, which with the lines logged makes every malformed datagram.
t_log_flood() {
  stop_server
  start_server $FLAGS || return 1
  before=$(wc -l < "$T/server.log")
  t0=$(date +%s)
  probe --truncated 1000 > "$T/lf_out" || return 1
  t1=$(date +%s)
  stop_server
  tail -n +"$((before + 1))" "$T/server.log" > "$T/lf_log"
  start_server $FLAGS || return 1
  logged=$(lines "$T/lf_log" " - 0000000000000000 malformed MALFORMED")
  summaries=$(lines "$T/lf_log" "lines about datagrams of no session not logged")
  left_out=$(sed -n 's/.* log_suppressed=\([0-9]*\) .*/\1/p' "$T/lf_log")
  malformed=$(sed -n 's/^stats .* malformed=\([0-9]*\) .*/\1/p' "$T/lf_log")
  max=$((100 + 10 * (t1 - t0 + 2)))
  [ "$logged" -ge 100 ] && [ "$logged" -le "$max" ] &&
    [ "$summaries" -ge 1 ] && [ "$summaries" -le "$max" ] &&
    [ "${left_out:-0}" -ge 1 ] &&
    [ $((logged + ${left_out:-0})) -eq "${malformed:--1}" ] || {
      echo "  logged $logged (at most $max), $summaries summaries," \
        "left out ${left_out:-?}, malformed ${malformed:-?}"
      return 1
    }
}

# One client sending 80 messages at once (issue 12 item 4): the first 50
# are stored, 30 get QUOTA_EXCEEDED (MC-150); its session's log lines stop
# after 40 with a line saying how many were left out (MC-153); the stats
# at shutdown count both, and the lines logged plus those left out are
# every line of the session (register, 80 sends, logout, end).
t_msg_quota() {
  stop_server
  start_server $FLAGS || return 1
  before=$(wc -l < "$T/server.log")
  probe --user quota1 --register --send-to quota1 --text hi --repeat 80 \
    > "$T/mq_out" || return 1
  stop_server
  tail -n +"$((before + 1))" "$T/server.log" > "$T/mq_log"
  start_server $FLAGS || return 1
  sent=$(lines "$T/mq_out" "^sent ")
  refused=$(lines "$T/mq_out" "^result send QUOTA_EXCEEDED")
  logged=$(lines "$T/mq_log" " quota1 [0-9a-f]\{16\} ")
  summaries=$(lines "$T/mq_log" "lines of session [0-9a-f]\{16\} not logged")
  dropped=$(sed -n 's/^stats .* log_dropped=\([0-9]*\) .*/\1/p' "$T/mq_log")
  quota=$(sed -n 's/^stats .* quota_refused=\([0-9]*\)$/\1/p' "$T/mq_log")
  [ "$sent" -eq 50 ] && [ "$refused" -eq 30 ] && [ "${quota:--1}" -eq 30 ] &&
    [ "$logged" -ge 40 ] && [ "$logged" -lt 83 ] && [ "$summaries" -ge 1 ] &&
    [ $((logged + ${dropped:-0})) -eq 83 ] || {
      echo "  sent $sent, refused $refused (stats ${quota:-?}), logged" \
        "$logged, $summaries summaries, dropped ${dropped:-?}"
      return 1
    }
}

t_sigterm() {
  # A client still connected hears that the server is going away.
  probe --user alice --expect-messages 1 > "$T/s_alice" &
  alice=$!
  wait_for "$T/s_alice" "^connected" || return 1
  pid=$SRV_PID
  kill -TERM "$pid" && wait "$pid"
  rc=$?
  SRV_PID=
  wait "$alice"
  [ "$rc" -eq 0 ] && grep -q "^--> \[MyChat server is now offline\]\$" \
    "$T/server.out" && grep -q "^closed SHUTTING_DOWN" "$T/s_alice"
}

t_ipv6() {
  timeout 10 "$SERVER" --host ::1 --port 0 --db "$T/v6.db" --hash-cost min \
    --log "$T/v6.log" < /dev/null > "$T/v6.out" 2>&1 &
  pid=$!
  if ! wait_for "$T/v6.out" "now online"; then
    kill "$pid" 2>/dev/null
    wait "$pid"
    # A host without IPv6 loopback cannot run this test.
    grep -q "Cannot assign requested address\|Address family not supported" \
      "$T/v6.out"
    return $?
  fi
  port=$(sed -n 's/.*now online\] \[::1\]:\([0-9]*\)$/\1/p' "$T/v6.out")
  timeout 30 "$B/mc-probe" --server "[::1]:$port" --timeout 20 --user v6user \
    --register --list-users --junk 20 > "$T/v6.probe"
  rc=$?
  kill -TERM "$pid" && wait "$pid" && [ "$rc" -eq 0 ] &&
    grep -q "^list v6user(online)" "$T/v6.probe" &&
    grep -q "^raw junk: sent 20 answered [0-9]* violations 0\$" "$T/v6.probe" &&
    grep -q "Z \[::1\]:[0-9]* v6user [0-9a-f]* register OK" "$T/v6.log"
}

t_console_e() {
  printf 'hello\n  E  \n' | timeout 10 "$SERVER" --host 127.0.0.1 --port 0 \
    --db "$T/db.sqlite" --hash-cost min --log "$T/e.log" > "$T/e.out" 2>&1 &&
    grep -q "now online" "$T/e.out" &&
    grep -q "^--> \[MyChat server is now offline\]\$" "$T/e.out"
}

t_stdin_eof_keeps_running() {
  printf 'x\n' | timeout 10 "$SERVER" --host 127.0.0.1 --port 0 \
    --db "$T/db.sqlite" --hash-cost min --log "$T/eof.log" \
    > "$T/eof.out" 2>&1 &
  pid=$!
  wait_for "$T/eof.out" "now online" || return 1
  sleep 0.3
  kill -0 "$pid" || return 1
  kill -INT "$pid" && wait "$pid" &&
    grep -q "now offline" "$T/eof.out"
}

t_no_console() {
  printf 'E\n' | timeout 10 "$SERVER" --host 127.0.0.1 --port 0 --no-console \
    --db "$T/db.sqlite" --hash-cost min --log "$T/nc.log" > "$T/nc.out" 2>&1 &
  pid=$!
  wait_for "$T/nc.out" "now online" || return 1
  sleep 0.3
  kill -0 "$pid" || return 1
  grep -q "^--> \[no console: SIGTERM or SIGINT turns server off\]\$" \
    "$T/nc.out" || return 1
  kill -TERM "$pid" && wait "$pid" && grep -q "now offline" "$T/nc.out"
}

# Regression: `mychat-server ... &` in an interactive shell read its
# terminal from the background and was stopped by SIGTTIN.
t_background_in_shell() {
  sock="$T/tmux.sock"
  tmux -S "$sock" new-session -d -x 160 -y 40 "sh -i" || return 1
  tmux -S "$sock" send-keys "'$SERVER' --host 127.0.0.1 --port 0 \
--db '$T/bg.db' --hash-cost min --log '$T/bg.log' > '$T/bg.out' 2>&1 & \
echo \$! > '$T/bg.pid'" Enter
  ok=0
  if wait_for "$T/bg.out" "now online"; then
    sleep 0.5
    pid=$(cat "$T/bg.pid")
    st=$(ps -o stat= -p "$pid" | tr -d ' ')
    case "$st" in T*|'') ;; *) ok=1 ;; esac
    kill -TERM "$pid" 2>/dev/null
    wait_for "$T/bg.out" "now offline" || ok=0
  fi
  tmux -S "$sock" kill-server 2>/dev/null
  [ "$ok" -eq 1 ] && grep -q "no console" "$T/bg.out"
}

start_server $FLAGS || exit 1
check "ready line shows the bound address" t_ready_line
check "as root the socket buffers are not capped, and nothing is logged" \
  t_socket_buffers_root
check "port in use: bind error" t_port_in_use
check "bad flags: exit 2 with usage hint" t_bad_flag
check "--help and --version" t_help_version
check "unopenable database: clear error" t_bad_db
check "register, login, wrong password, name taken" t_auth
check "direct message: sent and delivered" t_direct_online
check "direct message to an offline user delivered on login" t_direct_offline
check "group backlog in order exactly once" t_group_backlog
check "kill -9 after confirmation loses nothing" t_kill9_durability
check "hostile datagrams bounded while chat goes on" t_hostile_traffic
check "failed commit: exit 1, nothing confirmed lost" t_commit_failure
check "request log lines" t_request_log
check "login rate limit" t_rate_limit
check "a flood of bad datagrams makes a bounded request log" t_log_flood
check "80 messages at once: 30 QUOTA_EXCEEDED, a bounded session log" t_msg_quota
check "SIGTERM shuts down cleanly" t_sigterm
check "IPv6 loopback" t_ipv6
check "E on the console shuts down cleanly" t_console_e
check "EOF on stdin does not shut down" t_stdin_eof_keeps_running
check "--no-console: stdin is not read" t_no_console
check "started with & in a shell: not stopped by tty input" t_background_in_shell
finish
