#!/bin/sh
# Integration tests of the mychat client (issue 4) against a real
# mychat-server over loopback UDP. Run by `make test` (and `make asan`, with
# B=build/asan). The clients run in scripted mode (commands on stdin, one
# line per event on stdout; the format is at the top of reference/mychat.c),
# except one test that drives the terminal client through tmux. Every
# program runs under `timeout`, and every wait is bounded.
# shellcheck source=tests/integration/common.sh
. "$(dirname "$0")/common.sh"

TMUX_SOCK="$T/tmux.sock"
trap 'tmux -S "$TMUX_SOCK" kill-server 2>/dev/null; cleanup' EXIT
# A time as the client prints it, HH:MM:SS.
TIME='[0-2][0-9]:[0-5][0-9]:[0-6][0-9]'


# Short keepalives let a client notice a restarted server quickly.
SRV_FLAGS="--keepalive-ms 500 --timeout-ms 5000"
# Every client here comes from 127.0.0.1: a login rate limit per host would
# throttle the suite itself, so lift it where the server has the option.
if "$B/mychat-server" --help 2>&1 | grep -q -- --rate-burst; then
  SRV_FLAGS="$SRV_FLAGS --rate-burst 1000"
fi
# t_long_session sends 2000 messages in one session as fast as the client
# can: the message quota (PROTOCOL.md MC-150) would refuse all but 50.
if "$B/mychat-server" --help 2>&1 | grep -q -- --msg-burst; then
  SRV_FLAGS="$SRV_FLAGS --msg-burst 2000"
fi

# client NAME [FLAGS...]: runs mychat scripted as NAME (password "pw-NAME")
# against the current server; commands from stdin, events to stdout.
client() {
  cname=$1
  shift
  MYCHAT_PASSWORD="pw-$cname" timeout 40 "$B/mychat" --server "$SRV" \
    --user "$cname" "$@"
}

# run NAME OUT COMMAND...: runs client NAME with the COMMANDs (one per
# argument) as its script; events in $T/OUT. Returns the client's status.
run() {
  rname=$1
  rout=$2
  shift 2
  printf '%s\n' "$@" | client "$rname" > "$T/$rout" 2>&1
}

# spawn NAME COMMAND...: runs client NAME in the background with the COMMANDs
# as its script; events in $T/NAME.out, pid in $T/NAME.pid.
spawn() {
  bname=$1
  shift
  printf '%s\n' "$@" > "$T/$bname.in"
  client "$bname" < "$T/$bname.in" > "$T/$bname.out" 2>&1 &
  echo $! > "$T/$bname.pid"
}

# reap NAME: waits for background client NAME; returns its exit status.
reap() {
  wait "$(cat "$T/$1.pid")"
}

# register NAME...: creates the accounts (each logs out at end of input).
register() {
  for gname in "$@"; do
    client "$gname" --new < /dev/null > "$T/reg-$gname.out" 2>&1 &&
      grep -q "^connected $gname\$" "$T/reg-$gname.out" || return 1
  done
}

# wait_for FILE PATTERN [N]: waits (up to 15 s) until FILE has N (1) lines
# matching the grep PATTERN.
wait_for() {
  i=0
  while [ ! -e "$1" ] || [ "$(grep -c "$2" "$1")" -lt "${3:-1}" ]; do
    i=$((i + 1))
    [ "$i" -le 300 ] || return 1
    sleep 0.05
  done
}

# has FILE PATTERN: FILE has a line matching the grep PATTERN.
has() {
  grep -q "$2" "$T/$1"
}

# msg_id FILE PATTERN: the id= of the first line of FILE matching PATTERN.
msg_id() {
  grep "$2" "$T/$1" | head -1 | sed -n 's/.* id=\([0-9][0-9]*\) .*/\1/p'
}

# usage ARGS...: runs mychat with ARGS and no terminal; output in
# $T/usage.out, status in RC.
usage() {
  MYCHAT_PASSWORD=pw-x timeout 10 "$B/mychat" "$@" < /dev/null \
    > "$T/usage.out" 2>&1
  RC=$?
}

t_usage() {
  usage --help
  [ "$RC" -eq 0 ] && has usage.out '^usage: mychat ' || return 1
  usage --version
  [ "$RC" -eq 0 ] && has usage.out '^mychat [0-9.]* (MyChat protocol v1)$' ||
    return 1
  usage --bogus
  [ "$RC" -eq 2 ] && has usage.out "^mychat: --bogus: unknown option\$" &&
    has usage.out "^Try 'mychat --help' for usage.\$" || return 1
  usage --user 'no spaces'
  [ "$RC" -eq 2 ] && has usage.out "^mychat: bad user name 'no spaces'\$" ||
    return 1
  usage --user x --server 127.0.0.1:port
  [ "$RC" -eq 2 ] &&
    has usage.out '^mychat: 127.0.0.1:port: port must be a number' ||
    return 1
  # Without a terminal, the name and password must be given.
  usage
  [ "$RC" -eq 2 ] && has usage.out '^mychat: --user is required'
}

t_register_login() {
  register alice &&
    run alice login.out 'LIST USERS' &&
    has login.out '^connected alice$' &&
    has login.out '^list users .*alice:online' &&
    has login.out '^closed OK$'
}

t_wrong_password() {
  MYCHAT_PASSWORD=not-the-password timeout 30 "$B/mychat" --server "$SRV" \
    --user alice < /dev/null > "$T/wrong.out" 2>&1
  [ $? -eq 1 ] &&
    has wrong.out '^connect-failed AUTH_FAILED wrong user name or password$' &&
    ! has wrong.out '^connected' || return 1
  # An unknown name gets the same answer (no user enumeration) ...
  MYCHAT_PASSWORD=whatever timeout 30 "$B/mychat" --server "$SRV" \
    --user nobody < /dev/null > "$T/unknown.out" 2>&1
  [ $? -eq 1 ] && has unknown.out '^connect-failed AUTH_FAILED' || return 1
  # ... and registering a name that exists fails.
  client alice --new < /dev/null > "$T/taken.out" 2>&1
  [ $? -eq 1 ] && has taken.out '^connect-failed NAME_TAKEN'
}

t_presence() {
  register pa pb || return 1
  # Presence goes to users who share a group, so pb joins first.
  run pb pb0.out 'JOIN MyChat' 'WAITFOR result' || return 1
  spawn pa 'JOIN MyChat' 'WAITFOR presence pb online 15' \
    'WAITFOR presence pb offline 15'
  wait_for "$T/pa.out" '^result JOIN MyChat' &&
    run pb pb.out 'LIST USERS' &&
    reap pa &&
    has pa.out '^presence pb online$' &&
    has pa.out '^presence pb offline$' &&
    has pb.out '^list users .*pa:online.*pb:online'
}

t_group_fanout() {
  register g1 g2 g3 &&
    run g1 g1c.out 'CREATE fan' 'WAITFOR result' &&
    has g1c.out '^result CREATE fan OK$' || return 1
  spawn g2 'JOIN fan' 'WAITFOR message 15'
  spawn g3 'JOIN fan' 'WAITFOR message 15'
  wait_for "$T/g2.out" '^result JOIN fan OK' &&
    wait_for "$T/g3.out" '^result JOIN fan OK' &&
    run g1 g1.out 'JOIN fan' 'hello fan' 'WAITFOR sent' &&
    reap g2 && reap g3 || return 1
  id=$(msg_id g1.out '^sent .*to=#fan')
  m="^message id=$id from=g1 group=fan missed=0 time=$TIME text=hello fan\$"
  [ -n "$id" ] && has g2.out "$m" && has g3.out "$m" &&
    # The sender does not get its own group message back.
    ! has g1.out '^message'
}

# A list longer than one reply page (20 entries) is fetched whole.
t_list_pages() {
  register pg || return 1
  i=0
  {
    while [ "$i" -lt 25 ]; do
      i=$((i + 1))
      echo "CREATE page$i"
    done
    echo 'LIST GROUPS'
    echo 'LIST MYGROUPS'
  } > "$T/pg.in"
  client pg < "$T/pg.in" > "$T/pg.out" 2>&1 &&
    [ "$(grep -c '^result CREATE page[0-9]* OK$' "$T/pg.out")" -eq 25 ] ||
    return 1
  for kind in groups mygroups; do
    grep "^list $kind " "$T/pg.out" | tr ' ' '\n' | grep '^page' | sort \
      > "$T/pg.$kind"
    seq 1 25 | sed 's/^/page/' | sort | cmp -s - "$T/pg.$kind" || return 1
  done
  grep -q '^list groups.* MyChat ' "$T/pg.out"
}

t_direct_delivered() {
  register da db || return 1
  spawn db 'WAITFOR message 15'
  wait_for "$T/db.out" '^backlog-done' &&
    run da da.out 'SEND @db hi db' 'WAITFOR delivered' &&
    reap db || return 1
  id=$(msg_id da.out '^sent .*to=db ')
  [ -n "$id" ] &&
    has da.out "^sent id=$id to=db time=$TIME\$" &&
    has da.out "^delivered id=$id to=db time=$TIME\$" &&
    has db.out \
      "^message id=$id from=da group=- missed=0 time=$TIME text=hi db\$"
}

t_direct_offline() {
  # No WAITFOR: at the end of its input the client waits for the server to
  # confirm the message before it logs out.
  register oa ob &&
    run oa oa1.out 'SEND @ob while you were out' || return 1
  id=$(msg_id oa1.out '^sent .*to=ob ')
  [ -n "$id" ] && ! has oa1.out '^delivered' &&
    run ob ob.out 'WAITFOR backlog-done' &&
    has ob.out \
      "^message id=$id from=oa group=- missed=1 .*text=while you were out\$" &&
    has ob.out '^backlog-done count=1$' &&
    # The sender hears of the delivery at its next login.
    run oa oa2.out 'WAITFOR delivered' &&
    has oa2.out "^delivered id=$id to=ob "
}

t_group_missed() {
  register ma mb &&
    run ma ma0.out 'CREATE late' 'WAITFOR result' &&
    run mb mb0.out 'JOIN late' 'WAITFOR result' &&
    has mb0.out '^result JOIN late OK$' || return 1
  # mb is offline now; ma writes three messages.
  run ma ma.out 'JOIN late' one two three \
    'WAITFOR sent' 'WAITFOR sent' 'WAITFOR sent' &&
    [ "$(grep -c '^sent .*to=#late' "$T/ma.out")" -eq 3 ] &&
    run mb mb1.out 'WAITFOR backlog-done' || return 1
  grep '^message' "$T/mb1.out" | sed 's/.*missed=\([01]\).*text=/\1 /' \
    > "$T/mb1.msgs"
  grep '^message' "$T/mb1.out" | sed 's/^message id=\([0-9]*\) .*/\1/' \
    > "$T/mb1.ids"
  printf '1 one\n1 two\n1 three\n' | cmp -s - "$T/mb1.msgs" &&
    has mb1.out '^backlog-done count=3$' &&
    # Ids increase in delivery order.
    sort -n "$T/mb1.ids" | cmp -s - "$T/mb1.ids" &&
    # Exactly once: the next login has nothing missed.
    run mb mb2.out 'WAITFOR backlog-done' &&
    has mb2.out '^backlog-done count=0$' &&
    ! has mb2.out '^message'
}

t_scripted_errors() {
  register se &&
    run se err.out 'JOIN nosuchgroup' 'SEND #nosuchgroup x' hello B FROB \
      'SEND @se' 'WAITFOR result SEND' &&
    has err.out '^result JOIN nosuchgroup NO_SUCH_GROUP' &&
    has err.out '^result SEND #nosuchgroup NO_SUCH_GROUP' &&
    has err.out '^error FROB unknown command$' &&
    has err.out '^error SEND usage: ' || return 1
  # An overlong line is refused whole, not sent in pieces.
  long=$(printf '%5000s' '' | tr ' ' x)
  run se long.out 'CHAT se' "$long" 'SAY short' 'WAITFOR sent' &&
    has long.out '^error - line too long$' &&
    [ "$(grep -c '^sent ' "$T/long.out")" -eq 1 ] &&
    ! has long.out '^result SEND' || return 1
  # A WAITFOR that never matches ends the client with status 3.
  run se wf.out 'WAITFOR nothing-like-this 0.5'
  [ $? -eq 3 ]
}

# Regression: the client core never popped acked tags from its send ring,
# so a session refused every request (QUEUE_FULL) after window + queue_max
# (1056) of them. 2000 messages in one session must all be confirmed.
t_long_session() {
  register lo || return 1
  i=0
  {
    echo 'CHAT lo'
    while [ "$i" -lt 2000 ]; do
      i=$((i + 1))
      echo "note $i"
    done
  } > "$T/lo.in"
  client lo < "$T/lo.in" > "$T/lo.out" 2>&1 &&
    [ "$(grep -c '^sent id=[0-9]* to=lo ' "$T/lo.out")" -eq 2000 ] &&
    ! has lo.out '^error'
}

t_reconnect() {
  register ra rb || return 1
  spawn ra 'JOIN MyChat' 'WAITFOR reconnecting 20' 'WAITFOR connected 20' \
    'WAITFOR message 20'
  wait_for "$T/ra.out" '^result JOIN MyChat' || return 1
  # The server dies and comes back on the same port with the same database:
  # the client's next datagram meets a server that never heard of its
  # session, and the client logs in again by itself.
  kill9_server
  # shellcheck disable=SC2086
  start_server $SRV_FLAGS --port "$SRV_PORT" &&
    wait_for "$T/ra.out" '^reconnecting$' &&
    wait_for "$T/ra.out" '^connected ra$' 2 &&
    run rb rb.out 'JOIN MyChat' 'after the restart' 'WAITFOR sent' &&
    reap ra &&
    has ra.out '^message id=[0-9]* from=rb group=MyChat .*after the restart$'
}

# The terminal client runs in a tmux pane, session $TM (one at a time),
# read as UTF-8 whatever the test's own locale.
TM=
TERM_N=0
tmux_() {
  LC_ALL=C.UTF-8 tmux -u -S "$TMUX_SOCK" "$@"
}

# screen: the tmux pane's text.
screen() {
  tmux_ capture-pane -p -t "$TM"
}

# on_screen PATTERN: the pane has a line matching the grep PATTERN.
on_screen() {
  screen | grep -q "$1"
}

# wait_screen PATTERN [N]: waits (up to N s, 10) for PATTERN on the pane.
wait_screen() {
  i=0
  while ! on_screen "$1"; do
    i=$((i + 1))
    [ "$i" -le $((${2:-10} * 20)) ] || return 1
    sleep 0.05
  done
}

# wait_screen_n PATTERN N: waits (up to 10 s) for N lines matching PATTERN.
wait_screen_n() {
  i=0
  while [ "$(screen | grep -c "$1")" -lt "$2" ]; do
    i=$((i + 1))
    [ "$i" -le 200 ] || return 1
    sleep 0.05
  done
}

# keys KEYS...: types into the pane (tmux send-keys).
keys() {
  tmux_ send-keys -t "$TM" "$@"
}

# term ARGS...: starts mychat ARGS in a new pane of 120 x 40, as a user
# with a UTF-8 locale; "exit=STATUS" shows when it ends. It runs under no
# `timeout`: with --foreground (needed to read the terminal) timeout passes
# on the SIGINT of a Ctrl-C, which mychat would then get twice. The pane is
# bounded all the same: every wait on it is, and ending its session (the
# next term, or the trap at exit) hangs it up.
term() {
  pane "LC_ALL=C.UTF-8 $B/mychat $*; echo exit=\$?; sleep 60"
}

# pane COMMAND: runs the shell COMMAND in a new pane of 120 x 40. The
# session before is ended after the new one started: a tmux server with no
# session left exits, and could not take the new one meanwhile; so the
# shell of a pane is not left to exit by itself.
pane() {
  old=$TM
  TERM_N=$((TERM_N + 1))
  TM=it$TERM_N
  tmux_ new-session -d -s "$TM" -x 120 -y 40 "$1" || return 1
  [ -z "$old" ] || tmux_ kill-session -t "$old" 2> /dev/null || true
}

# login NAME: in a pane started without --user, types NAME and its
# password and waits for the menu.
login() {
  wait_screen '^Enter username:' && keys "$1" Enter &&
    wait_screen '^Enter password:' && keys "pw-$1" Enter &&
    wait_screen "^--> \[type 'JOIN'"
}

UTF8='naïve café Grüße 你好 🎉'

# in_pane TEST: runs TEST; when it fails, shows the pane as it was.
in_pane() {
  "$@" && return 0
  echo "# $1 failed; the pane:"
  screen | sed '/^$/d; s/^/#   /'
  return 1
}

t_terminal() {
  command -v tmux > /dev/null && register ta tb || return 1
  # A direct message waits for ta: it is shown at login, missed, direct,
  # with its time.
  run tb tb0.out 'SEND @ta before you came' 'WAITFOR sent' || return 1
  term --server "$SRV" && login ta || return 1
  on_screen '^#####\[Welcome to MyChat\]#####$' &&
    on_screen "^--> \[checking server $SRV\]\**\[server is online\]$" &&
    on_screen '^--> \[connecting to server\]\**\[connected to server\]$' &&
    on_screen "^>> \[$TIME\] tb (direct): before you came (missed)\$" &&
    on_screen '^#####\[you: ta\]#####$' &&
    on_screen '^--> \[available group chats\]$' &&
    on_screen '^1\. MyChat$' &&
    on_screen '^--> \[available users\]$' &&
    on_screen '^[0-9]*\. tb (offline)$' &&
    # The password was not echoed.
    ! on_screen 'pw-ta' || return 1
  # An unknown user is answered in the menu, which goes on working: a
  # number picks from the list of users, Tab completes a name.
  keys 'CHAT nobody' Enter &&
    wait_screen "^--> \[no user 'nobody'; R shows who there is\]$" &&
    keys "CHAT $(screen | sed -n 's/^\([0-9]*\)\. tb (offline)$/\1/p')" \
      Enter &&
    wait_screen '^#####\[CHAT WITH tb\]#####$' &&
    # Entering the chat shows its last messages.
    wait_screen "^>> \[$TIME\] tb: before you came\$" &&
    keys B Enter && keys 'JOIN MyCh' Tab Enter &&
    wait_screen "^--> \[you joined 'MyChat' group\]$" &&
    on_screen '^#####\[GROUP CHAT\]#####$' || return 1
  # A message arrives while a line is half typed; the line survives.
  keys half &&
    run tb tb.out 'JOIN MyChat' "hello terminal $UTF8" 'WAITFOR sent' &&
    wait_screen "^>> \[$TIME\] tb: hello terminal $UTF8\$" &&
    keys " typed $UTF8" Enter &&
    wait_screen "^--> \[Message sent - $TIME\]\$" &&
    run tb tb2.out 'WAITFOR message' &&
    has tb2.out "from=ta group=MyChat .*text=half typed $UTF8\$" || return 1
  # Ctrl-D on an empty line exits (logged out, status 0).
  keys C-d && wait_screen '^exit=0$'
}

# A wrapped line being typed is cleared whole when a message arrives above
# it: no stale copy of its first row is left.
t_terminal_wrap() {
  term --server "$SRV" --user ta && wait_screen '^Enter password:' &&
    keys pw-ta Enter && wait_screen "^--> \[type 'JOIN'" &&
    keys 'CHAT tb' Enter && wait_screen '^#####\[CHAT WITH tb\]#####$' ||
    return 1
  # 150 z's take two rows; a stale copy of the first would add 120.
  keys "$(printf 'z%.0s' $(seq 1 150))" &&
    run tb wrap.out 'SEND @ta over the long line' 'WAITFOR sent' &&
    wait_screen "^>> \[$TIME\] tb: over the long line\$" &&
    [ "$(screen | tr -cd z | wc -c)" -eq 150 ] &&
    screen | tail -n +2 | grep -q '^z\{120\}$' &&
    # Ctrl-C exits, logged out.
    keys C-c && wait_screen '^--> \[logged out\]$' && wait_screen '^exit=0$'
}

# Ctrl-Z stops the client in a shell with job control, and after fg the
# line typed before goes on being edited (the terminal's modes restored).
t_terminal_suspend() {
  command -v bash > /dev/null || return 1
  pane "env -i PATH=$PATH HOME=$T TERM=screen LC_ALL=C.UTF-8 PS1='$ ' \
bash --norc --noprofile -i" &&
    wait_screen '^\$' &&
    keys "$B/mychat --server $SRV --user ta" Enter &&
    wait_screen '^Enter password:' && keys pw-ta Enter &&
    wait_screen "^--> \[type 'JOIN'" && keys 'CHAT tb' Enter &&
    wait_screen '^#####\[CHAT WITH tb\]#####$' && keys 'before ' &&
    wait_screen '^before *$' && keys C-z &&
    wait_screen 'Stopped' && keys fg Enter &&
    # Drawn again, and edited a key at a time (in the shell's modes the
    # keys would wait for Enter, echoed by the terminal).
    keys after && wait_screen '^before after$' &&
    [ "$(screen | grep -c after)" -eq 1 ] &&
    keys Enter && wait_screen "^--> \[Message sent - $TIME\]\$" &&
    run tb susp.out 'WAITFOR backlog-done' &&
    has susp.out 'from=ta group=- missed=1 .*text=before after$' &&
    keys E Enter && wait_screen '^--> \[logged out\]$'
}

# A wrong password is asked for again (three tries in all).
t_terminal_password() {
  term --server "$SRV" --user ta && wait_screen '^Enter password:' &&
    keys not-it Enter &&
    wait_screen_n '^Enter password:' 2 &&
    on_screen '^--> \[wrong user name or password\]$' &&
    keys pw-ta Enter && wait_screen "^--> \[type 'JOIN'" &&
    # Tab completes a user's name (alice registered before).
    keys 'CHAT al' Tab && wait_screen '^CHAT alice *$' &&
    keys C-u E Enter && wait_screen '^exit=0$' || return 1
  term --server "$SRV" --user ta && wait_screen '^Enter password:' &&
    keys bad-1 Enter && wait_screen_n '^Enter password:' 2 &&
    keys bad-2 Enter && wait_screen_n '^Enter password:' 3 &&
    keys bad-3 Enter && wait_screen '^exit=1$' &&
    [ "$(screen | grep -c '^--> \[wrong user name or password\]$')" -eq 3 ] &&
    on_screen '^--> \[a new account: mychat --new --user NAME\]$' 
}

# The server is checked before the name is asked for; a host without a
# port is port 8000. Nothing should answer there, but a MyChat server that
# someone runs on the default port may: then it must have been found.
t_terminal_probe() {
  term --server 127.0.0.1 &&
    wait_screen '^--> \[checking server 127.0.0.1:8000\]\*\*' &&
    { ! on_screen '^Enter username:' || on_screen 'server is online'; } &&
    keys C-c && wait_screen '^exit=1$'
}

# A message typed while the server is down is shown pending and sent when
# it is back. The server restarts with short timeouts so that the client
# sees the loss in about a second.
t_terminal_pending() {
  FAST="--keepalive-ms 200 --timeout-ms 1000 --rate-burst 1000"
  kill9_server
  # shellcheck disable=SC2086
  start_server $FAST --port "$SRV_PORT" || return 1
  term --server "$SRV" --user ta && wait_screen '^Enter password:' &&
    keys pw-ta Enter && wait_screen "^--> \[type 'JOIN'" &&
    keys 'CHAT tb' Enter && wait_screen '^#####\[CHAT WITH tb\]#####$' ||
    return 1
  kill9_server
  wait_screen '^--> \[connection lost, reconnecting\]$' &&
    keys 'written while away' Enter &&
    wait_screen '^--> \[Message pending - not connected' &&
    # E with a message pending says so rather than exit.
    keys E Enter && wait_screen '^--> \[1 message not sent yet' &&
    ! on_screen '^exit=' || return 1
  # shellcheck disable=SC2086
  start_server $FAST --port "$SRV_PORT" &&
    wait_screen '^--> \[connected to server\]$' 15 &&
    wait_screen "^--> \[Message sent - $TIME\]\$" &&
    run tb pend.out 'WAITFOR backlog-done' &&
    has pend.out "^message id=[0-9]* from=ta group=- missed=1 time=$TIME \
text=written while away\$" &&
    keys E Enter && wait_screen '^exit=0$' || return 1
  kill9_server
  # shellcheck disable=SC2086
  start_server $SRV_FLAGS --port "$SRV_PORT"
}

# shellcheck disable=SC2086
start_server $SRV_FLAGS || exit 1
check "usage errors, --help, --version" t_usage
check "register, then log in" t_register_login
check "wrong password, unknown user and taken name are refused" t_wrong_password
# Early, while the menu still fits the pane.
check "terminal: banner, menu, CHAT nobody, list numbers, UTF-8, times" \
  in_pane t_terminal
check "terminal: a wrapped line is redrawn cleanly" in_pane t_terminal_wrap
check "terminal: a wrong password is asked again" in_pane t_terminal_password
check "terminal: Ctrl-Z, then fg, goes on editing" in_pane t_terminal_suspend
check "terminal: the server is checked first, port 8000 by default" \
  in_pane t_terminal_probe
check "presence online and offline" t_presence
check "group message fans out to the members" t_group_fanout
check "lists longer than a page" t_list_pages
check "direct message: sent, delivered" t_direct_delivered
check "direct message to an offline user arrives at login" t_direct_offline
check "group messages missed offline: in order, once" t_group_missed
check "scripted errors and WAITFOR timeout" t_scripted_errors
check "2000 messages in one session" t_long_session
check "reconnects by itself after a server restart" t_reconnect
check "terminal: a message typed while the server is down is sent" \
  in_pane t_terminal_pending
stop_server
finish
