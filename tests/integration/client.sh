#!/bin/sh
# Integration tests of the mychat client (issue 4) against a real
# mychat-server over loopback UDP. Run by `make test` (and `make asan`, with
# B=build/asan). The clients run in scripted mode (commands on stdin, one
# line per event on stdout; the format is at the top of reference/mychat.c),
# except one test that drives the terminal client through tmux. Every
# program runs under `timeout`, and every wait is bounded.
. "$(dirname "$0")/common.sh"

TMUX_SOCK="$T/tmux.sock"
trap 'tmux -S "$TMUX_SOCK" kill-server 2>/dev/null; cleanup' EXIT

# Every client here comes from 127.0.0.1: a server with a login rate limit
# per host would throttle the suite itself, so lift it where it can be.
# Short keepalives let a client notice a restarted server quickly.
SRV_FLAGS="--keepalive-ms 500 --timeout-ms 5000"
if "$B/mychat-server" --help 2>&1 | grep -q -- --rate-burst; then
  SRV_FLAGS="$SRV_FLAGS --rate-burst 1000"
fi

# client NAME [FLAGS...]: runs mychat scripted as NAME (password "pw-NAME")
# against the current server; commands from stdin, events to stdout.
client() {
  cname=$1
  shift
  MYCHAT_PASSWORD="pw-$cname" timeout 40 "$B/mychat" --server "$SRV" \
    --user "$cname" "$@"
}

# bg NAME [FLAGS...]: runs client NAME in the background with commands from
# $T/NAME.in and events in $T/NAME.out; the pid goes to $T/NAME.pid.
bg() {
  bname=$1
  shift
  client "$bname" "$@" < "$T/$bname.in" > "$T/$bname.out" 2>&1 &
  echo $! > "$T/$bname.pid"
}

# reap NAME: waits for background client NAME; returns its exit status.
reap() {
  wait "$(cat "$T/$1.pid")"
}

# register NAME...: creates the accounts (each logs out at end of input).
register() {
  for rname in "$@"; do
    client "$rname" --new < /dev/null > "$T/reg-$rname.out" 2>&1 ||
      return 1
    grep -q "^connected $rname\$" "$T/reg-$rname.out" || return 1
  done
}

# wait_for FILE PATTERN [N]: waits (up to 15 s) until FILE has N (1) lines
# matching the grep PATTERN.
wait_for() {
  i=0
  while [ "$(grep -c "$2" "$1" 2>/dev/null)" -lt "${3:-1}" ]; do
    i=$((i + 1))
    [ "$i" -le 300 ] || return 1
    sleep 0.05
  done
}

# msg_id FILE PATTERN: the id= of the first line of FILE matching PATTERN.
msg_id() {
  grep "$2" "$1" | head -1 | sed -n 's/.* id=\([0-9][0-9]*\) .*/\1/p'
}

t_register_login() {
  register alice || return 1
  printf 'LIST USERS\n' | client alice > "$T/login.out" 2>&1 || return 1
  grep -q '^connected alice$' "$T/login.out" &&
    grep -q '^list users .*alice:online' "$T/login.out" &&
    grep -q '^closed OK' "$T/login.out"
}

t_wrong_password() {
  MYCHAT_PASSWORD=not-the-password timeout 30 "$B/mychat" --server "$SRV" \
    --user alice < /dev/null > "$T/wrong.out" 2>&1
  rc=$?
  [ "$rc" -eq 1 ] &&
    grep -q '^connect-failed AUTH_FAILED wrong user name or password$' \
      "$T/wrong.out" &&
    ! grep -q '^connected' "$T/wrong.out" || return 1
  # An unknown name gets the same answer (no user enumeration) ...
  MYCHAT_PASSWORD=whatever timeout 30 "$B/mychat" --server "$SRV" \
    --user nobody < /dev/null > "$T/unknown.out" 2>&1
  [ $? -eq 1 ] && grep -q '^connect-failed AUTH_FAILED' "$T/unknown.out" ||
    return 1
  # ... and registering a name that exists fails.
  client alice --new < /dev/null > "$T/taken.out" 2>&1
  [ $? -eq 1 ] && grep -q '^connect-failed NAME_TAKEN' "$T/taken.out"
}

t_presence() {
  register pa pb || return 1
  # Presence goes to users who share a group, so pb joins first.
  printf 'JOIN MyChat\nWAITFOR result\n' | client pb > "$T/pb0.out" 2>&1 ||
    return 1
  printf 'JOIN MyChat\nWAITFOR presence pb online 15\nWAITFOR presence pb offline 15\n' \
    > "$T/pa.in"
  bg pa
  wait_for "$T/pa.out" '^result JOIN MyChat' || return 1
  printf 'LIST USERS\n' |
    client pb > "$T/pb.out" 2>&1 || return 1
  reap pa || return 1
  grep -q '^presence pb online$' "$T/pa.out" &&
    grep -q '^presence pb offline$' "$T/pa.out" &&
    grep -q '^list users .*pa:online.*pb:online' "$T/pb.out"
}

t_group_fanout() {
  register g1 g2 g3 || return 1
  printf 'CREATE fan\nWAITFOR result\n' | client g1 > "$T/g1c.out" 2>&1 &&
    grep -q '^result CREATE fan OK$' "$T/g1c.out" || return 1
  for n in g2 g3; do
    printf 'JOIN fan\nWAITFOR message 15\n' > "$T/$n.in"
    bg "$n"
  done
  wait_for "$T/g2.out" '^result JOIN fan OK' &&
    wait_for "$T/g3.out" '^result JOIN fan OK' || return 1
  printf 'JOIN fan\nhello fan\nWAITFOR sent\n' | client g1 > "$T/g1.out" 2>&1 ||
    return 1
  reap g2 && reap g3 || return 1
  id=$(msg_id "$T/g1.out" '^sent .*to=#fan')
  [ -n "$id" ] || return 1
  for n in g2 g3; do
    grep -q "^message id=$id from=g1 group=fan missed=0 time=[0-9:]* text=hello fan\$" \
      "$T/$n.out" || return 1
  done
  # The sender does not get its own group message back.
  ! grep -q '^message' "$T/g1.out"
}

t_direct_delivered() {
  register da db || return 1
  printf 'WAITFOR message 15\n' > "$T/db.in"
  bg db
  wait_for "$T/db.out" '^backlog-done' || return 1
  printf 'SEND @db hi db\nWAITFOR delivered\n' | client da > "$T/da.out" 2>&1 ||
    return 1
  reap db || return 1
  id=$(msg_id "$T/da.out" '^sent .*to=db ')
  [ -n "$id" ] &&
    grep -q "^delivered id=$id to=db time=[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\$" \
      "$T/da.out" &&
    grep -q "^message id=$id from=da group=- missed=0 time=[0-9:]* text=hi db\$" \
      "$T/db.out"
}

t_direct_offline() {
  register oa ob || return 1
  printf 'SEND @ob while you were out\nWAITFOR sent\n' |
    client oa > "$T/oa1.out" 2>&1 || return 1
  id=$(msg_id "$T/oa1.out" '^sent .*to=ob ')
  [ -n "$id" ] && ! grep -q '^delivered' "$T/oa1.out" || return 1
  printf 'WAITFOR backlog-done\n' | client ob > "$T/ob.out" 2>&1 || return 1
  grep -q "^message id=$id from=oa group=- missed=1 .*text=while you were out\$" \
    "$T/ob.out" && grep -q '^backlog-done count=1$' "$T/ob.out" || return 1
  # The sender hears of the delivery at its next login.
  printf 'WAITFOR delivered\n' | client oa > "$T/oa2.out" 2>&1 &&
    grep -q "^delivered id=$id to=ob " "$T/oa2.out"
}

t_group_missed() {
  register ma mb || return 1
  printf 'CREATE late\nWAITFOR result\n' | client ma > "$T/ma0.out" 2>&1 &&
    printf 'JOIN late\nWAITFOR result\n' | client mb > "$T/mb0.out" 2>&1 &&
    grep -q '^result JOIN late OK$' "$T/mb0.out" || return 1
  # mb is offline now; ma writes three messages.
  printf 'JOIN late\none\ntwo\nthree\nWAITFOR sent\nWAITFOR sent\nWAITFOR sent\n' |
    client ma > "$T/ma.out" 2>&1 || return 1
  [ "$(grep -c '^sent .*to=#late' "$T/ma.out")" -eq 3 ] || return 1
  printf 'WAITFOR backlog-done\n' | client mb > "$T/mb1.out" 2>&1 || return 1
  grep '^message' "$T/mb1.out" | sed 's/.*missed=\([01]\).*text=/\1 /' \
    > "$T/mb1.msgs"
  printf '1 one\n1 two\n1 three\n' | cmp -s - "$T/mb1.msgs" &&
    grep -q '^backlog-done count=3$' "$T/mb1.out" || return 1
  # Ids increase in delivery order.
  grep '^message' "$T/mb1.out" | sed 's/^message id=\([0-9]*\) .*/\1/' \
    > "$T/mb1.ids"
  sort -n "$T/mb1.ids" | cmp -s - "$T/mb1.ids" || return 1
  # Exactly once: the next login has nothing missed.
  printf 'WAITFOR backlog-done\n' | client mb > "$T/mb2.out" 2>&1 &&
    grep -q '^backlog-done count=0$' "$T/mb2.out" &&
    ! grep -q '^message' "$T/mb2.out"
}

t_reconnect() {
  register ra rb || return 1
  printf 'JOIN MyChat\nWAITFOR reconnecting 20\nWAITFOR connected 20\nWAITFOR message 20\n' \
    > "$T/ra.in"
  bg ra
  wait_for "$T/ra.out" '^result JOIN MyChat' || return 1
  # The server dies and comes back on the same port with the same database:
  # the client's next datagram meets a server that never heard of its
  # session, and the client logs in again by itself.
  kill9_server
  start_server $SRV_FLAGS --port "$SRV_PORT" || return 1
  wait_for "$T/ra.out" '^reconnecting$' &&
    wait_for "$T/ra.out" '^connected ra$' 2 || return 1
  printf 'JOIN MyChat\nafter the restart\nWAITFOR sent\n' |
    client rb > "$T/rb.out" 2>&1 || return 1
  reap ra &&
    grep -q '^message id=[0-9]* from=rb group=MyChat missed=[01] .*text=after the restart$' \
      "$T/ra.out"
}

t_scripted_errors() {
  register se || return 1
  printf 'JOIN nosuchgroup\nSEND #nosuchgroup x\nhello\nB\nFROB\nWAITFOR result SEND\n' |
    client se > "$T/err.out" 2>&1 || return 1
  grep -q '^result JOIN nosuchgroup NO_SUCH_GROUP' "$T/err.out" &&
    grep -q '^result SEND #nosuchgroup NO_SUCH_GROUP' "$T/err.out" &&
    grep -q '^error FROB unknown command$' "$T/err.out" || return 1
  # A WAITFOR that never matches ends the client with status 3.
  printf 'WAITFOR nothing-like-this 0.5\n' | client se > "$T/wf.out" 2>&1
  [ $? -eq 3 ]
}

# screen: the tmux pane's text.
screen() {
  tmux -S "$TMUX_SOCK" capture-pane -p -t it
}

# wait_screen PATTERN: waits (up to 10 s) for PATTERN on the pane.
wait_screen() {
  i=0
  while ! screen | grep -q "$1"; do
    i=$((i + 1))
    [ "$i" -le 200 ] || return 1
    sleep 0.05
  done
}

t_terminal() {
  command -v tmux > /dev/null || return 1
  register ta tb || return 1
  tmux -S "$TMUX_SOCK" new-session -d -s it -x 120 -y 40 \
    "timeout --foreground 60 $B/mychat --server $SRV; echo exit=\$?; sleep 60" || return 1
  wait_screen '^Enter username:' || return 1
  tmux -S "$TMUX_SOCK" send-keys -t it 'ta' Enter
  wait_screen '^Enter password:' || return 1
  tmux -S "$TMUX_SOCK" send-keys -t it 'pw-ta' Enter
  wait_screen "^--> \[type 'JOIN'" || return 1
  screen | grep -q '^#####\[Welcome to MyChat\]#####$' &&
    screen | grep -q '^--> \[connecting to server\]\**\[connected to server\]$' &&
    screen | grep -q '^#####\[you: ta\]#####$' &&
    screen | grep -q '^--> \[available group chats\]$' &&
    screen | grep -q '^1\. MyChat$' &&
    screen | grep -q '^[0-9]*\. tb (offline)$' || return 1
  # The password was not echoed.
  ! screen | grep -q 'pw-ta' || return 1
  tmux -S "$TMUX_SOCK" send-keys -t it 'JOIN MyChat' Enter
  wait_screen "^--> \[you joined 'MyChat' group\]$" || return 1
  screen | grep -q '^#####\[GROUP CHAT\]#####$' || return 1
  # A message arrives while a line is half typed; the line survives.
  tmux -S "$TMUX_SOCK" send-keys -t it 'half'
  printf 'JOIN MyChat\nhello terminal\nWAITFOR sent\n' |
    client tb > "$T/tb.out" 2>&1 || return 1
  wait_screen '^>> tb: hello terminal$' || return 1
  tmux -S "$TMUX_SOCK" send-keys -t it ' typed' Enter
  wait_screen '^--> \[Message sent - [0-9][0-9]:[0-9][0-9]:[0-9][0-9]\]$' ||
    return 1
  printf 'WAITFOR message\n' | client tb > "$T/tb2.out" 2>&1 &&
    grep -q 'from=ta group=MyChat .*text=half typed$' "$T/tb2.out" || return 1
  tmux -S "$TMUX_SOCK" send-keys -t it 'E' Enter
  wait_screen '^exit=0$'
}

start_server $SRV_FLAGS || exit 1
check "register, then log in" t_register_login
check "wrong password, unknown user and taken name are refused" t_wrong_password
check "presence online and offline" t_presence
check "group message fans out to the members" t_group_fanout
check "direct message: sent, delivered" t_direct_delivered
check "direct message to an offline user arrives at login" t_direct_offline
check "group messages missed offline: in order, once" t_group_missed
check "scripted errors and WAITFOR timeout" t_scripted_errors
check "terminal client in tmux: banner, menu, live message" t_terminal
check "reconnects by itself after a server restart" t_reconnect
stop_server
finish
