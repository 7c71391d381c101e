#!/bin/sh
# Integration tests of mychat-pcap and the Wireshark dissector (issue 7) on
# the committed captures of tests/data/ (written by mc-pcapgen; no live
# capture, no root needed). Run by `make test` and `make asan` from the
# top of the tree.
#
#   sh tests/integration/pcap.sh --golden   rewrite tests/data/ (captures and
#                                           expected outputs); `make golden`
. "$(dirname "$0")/common.sh"

PCAP="$B/mychat-pcap"
GEN="$B/mc-pcapgen"
D=tests/data
LUA=tools/wireshark/mychat.lua

# The outputs compared with tests/data/*.golden: NAME and the command.
golden_list() {
  echo "dump-session|$PCAP dump $D/session.pcap"
  echo "dump-session-v|$PCAP dump -v $D/session.pcap"
  echo "dump-session-json|$PCAP dump --json $D/session.pcap"
  echo "dump-ipv6|$PCAP dump $D/session-ipv6.pcap"
  echo "dump-misc|$PCAP dump $D/misc.pcap"
  echo "stats-session|$PCAP stats $D/session.pcap"
  echo "stats-misc|$PCAP stats $D/misc.pcap"
}

if [ "${1:-}" = "--golden" ]; then
  "$GEN" "$D" || exit 1
  golden_list | while IFS='|' read -r name cmd; do
    $cmd > "$D/$name.golden" 2>/dev/null
    echo "wrote $D/$name.golden"
  done
  exit 0
fi

# The generator is deterministic: the committed captures are its output.
t_generator_reproducible() {
  mkdir -p "$T/gen" && "$GEN" "$T/gen" || return 1
  for f in "$T"/gen/*; do
    cmp -s "$f" "$D/$(basename "$f")" || { echo "differs: $f" >&2; return 1; }
  done
}

t_golden() {
  golden_list | {
    ok=0
    while IFS='|' read -r name cmd; do
      $cmd > "$T/$name.out" 2>/dev/null
      diff -u "$D/$name.golden" "$T/$name.out" >&2 || ok=1
    done
    return $ok
  }
}

# Every framing decodes to the same lines as raw IP.
t_framings() {
  "$PCAP" dump "$D/session.pcap" > "$T/raw.out" || return 1
  for f in session-eth.pcap session-sll.pcap session-sll2.pcap \
    session-null.pcap session-loop.pcap session.pcapng; do
    "$PCAP" dump "$D/$f" > "$T/f.out" || return 1
    cmp -s "$T/raw.out" "$T/f.out" || { echo "differs: $f" >&2; return 1; }
  done
  "$PCAP" dump "$D/session-ipv6.pcap" > "$T/v6.out" &&
    "$PCAP" dump "$D/session-ipv6-ext.pcap" > "$T/v6ext.out" &&
    cmp -s "$T/v6.out" "$T/v6ext.out" &&
    [ "$(wc -l < "$T/v6.out")" -eq 35 ] && grep -q '\[fd00::1\]:40001' "$T/v6.out"
}

t_truncated() {
  "$PCAP" dump "$D/truncated.pcap" > "$T/tr.out" 2> "$T/tr.err"
  [ $? -eq 1 ] && [ "$(wc -l < "$T/tr.out")" -eq 34 ] &&
    grep -q "read error after frame 34: truncated dump file" "$T/tr.err"
}

t_unknown_link() {
  "$PCAP" dump "$D/unknown-link.pcap" > "$T/ul.out" 2>&1
  [ $? -eq 1 ] && grep -q "unsupported link type 147" "$T/ul.out"
}

t_misc_flags() {
  "$PCAP" dump "$D/misc.pcap" > "$T/m.out" 2> "$T/m.err" &&
    grep -q "non-mychat (6 bytes: unsupported MyChat protocol version)" "$T/m.out" &&
    grep -q "malformed (10 bytes: envelope is not valid protobuf)" "$T/m.out" &&
    grep -q 'name="bad name!" INVALID: name breaks the name rules' "$T/m.out" &&
    grep -q "skipped (74 bytes: IPv4 fragment (not reassembled))" "$T/m.out" &&
    grep -q "skipped (48 bytes: not UDP)" "$T/m.out" &&
    grep -q "1 IP fragment(s) skipped" "$T/m.err"
}

t_filters() {
  [ "$("$PCAP" dump --type deliver "$D/session.pcap" | wc -l)" -eq 3 ] &&
    [ "$("$PCAP" dump --user bob "$D/session.pcap" | wc -l)" -eq 13 ] &&
    ! "$PCAP" dump --user bob "$D/session.pcap" | grep -q "127.1.0.1:" &&
    [ "$("$PCAP" dump --session a11ce "$D/session.pcap" | wc -l)" -eq 17 ] &&
    [ "$("$PCAP" dump --endpoint 127.1.0.9:40009 "$D/session.pcap" | wc -l)" -eq 2 ] &&
    [ "$("$PCAP" dump --from 0.5 --to 1.0 "$D/session.pcap" | wc -l)" -eq 5 ]
}

# Anonymized output decodes and holds none of the personal strings.
t_anonymize() {
  "$PCAP" anonymize --key test "$D/session.pcap" "$T/anon.pcap" 2> "$T/anon.err" &&
    grep -q "wrote 35 datagrams; dropped 0 not MyChat, 0 malformed" "$T/anon.err" &&
    "$PCAP" dump -v "$T/anon.pcap" > "$T/anon.out" || return 1
  [ "$(grep -c '^ *[0-9]* *[0-9.]* .* -> ' "$T/anon.out")" -eq 35 ] || return 1
  ! grep -q "malformed\|non-mychat\|INVALID" "$T/anon.out" || return 1
  for s in alice bob mallory friends alice-secret-pw bob-hunter2 guess-guess \
    "secret plans" "vault code" a1a1a1a1 b2b2b2b2 1111111111111111 \
    c1c1c1c1 "no such session"; do
    if grep -aq "$s" "$T/anon.pcap" "$T/anon.out"; then
      echo "leaked: $s" >&2
      return 1
    fi
  done
  # Consistent: the same user is the same pseudonym everywhere.
  grep -q 'name: "user-1"' "$T/anon.out" && grep -q 'from: "user-1"' "$T/anon.out" &&
    grep -q 'to: "user-2"' "$T/anon.out" || return 1
  # The same key gives the same output; misc.pcap's junk is dropped.
  "$PCAP" anonymize --key test "$D/session.pcap" "$T/anon2.pcap" 2>/dev/null &&
    cmp -s "$T/anon.pcap" "$T/anon2.pcap" &&
    "$PCAP" anonymize "$D/misc.pcap" "$T/anon3.pcap" 2> "$T/anon3.err" &&
    grep -q "wrote 2 datagrams; dropped 4 not MyChat, 4 malformed" "$T/anon3.err"
}

t_slice() {
  "$PCAP" slice --user bob "$D/session.pcap" "$T/bob.pcap" 2>/dev/null &&
    "$PCAP" dump --json "$T/bob.pcap" > "$T/bob.out" &&
    [ "$(wc -l < "$T/bob.out")" -eq 13 ] &&
    [ "$(grep -c '"user":"bob"' "$T/bob.out")" -eq 13 ] || return 1
  "$PCAP" slice --session b0b0 "$T/bob.pcap" "$T/bob2.pcap" 2>/dev/null &&
    [ "$("$PCAP" dump "$T/bob2.pcap" | wc -l)" -eq 12 ] || return 1
  "$PCAP" slice --from 0.5 --to 1.0 "$D/session.pcap" "$T/win.pcap" 2>/dev/null &&
    "$PCAP" dump "$T/win.pcap" > "$T/win.out" &&
    [ "$(wc -l < "$T/win.out")" -eq 5 ] &&
    grep -q "deliver seq=3" "$T/win.out" && ! grep -q "register\|logout" "$T/win.out" ||
    return 1
  # Absolute epoch times select the same window.
  "$PCAP" slice --from 1764072000.5 --to 1764072001.0 "$D/session.pcap" "$T/win2.pcap" \
    2>/dev/null && cmp -s "$T/win.pcap" "$T/win2.pcap"
}

t_help() {
  "$PCAP" --help | grep -q "anonymize IN OUT" || return 1
  for c in dump stats capture anonymize slice; do
    "$PCAP" "$c" --help | grep -q "^Usage: mychat-pcap $c" || return 1
  done
  "$PCAP" bogus 2>/dev/null
  [ $? -eq 2 ] || return 1
  "$PCAP" dump --session xyz "$D/session.pcap" 2>/dev/null
  [ $? -eq 2 ]
}

t_capture_errors() {
  "$PCAP" capture -i no-such-if0 -c 1 > "$T/cap.out" 2>&1
  [ $? -eq 1 ] && grep -q "no-such-if0" "$T/cap.out" || return 1
  # Without capture rights: libpcap's message and the hint.
  if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 &&
    setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
      "$PCAP" capture -i lo -c 1 > "$T/cap.out" 2>&1
    [ $? -eq 1 ] && grep -q "CAP_NET_RAW" "$T/cap.out" || { cat "$T/cap.out" >&2; return 1; }
  fi
}

t_tshark() {
  if ! command -v tshark >/dev/null 2>&1; then
    echo "# tshark not installed: skipped (make deps installs it)"
    return 0
  fi
  tshark -X lua_script:$LUA -r "$D/session.pcap" -V > "$T/ts.out" 2> "$T/ts.err" ||
    { cat "$T/ts.err" >&2; return 1; }
  for f in "magic: MYC" "session_id: 0xa11ce00000000001" "token: a1a1a1a1" \
    "cumulative: 4" "first: 6" "delay_us: 1500" "client_msg_id: 0xc1c1c1c1c1c1c1c1" \
    "text: hello friends, secret plans at noon" "body: deliver" "code: AUTH_FAILED (3)" \
    "kind: LIST_USERS (1)" "name: alice" "online: True"; do
    grep -q "$f" "$T/ts.out" || { echo "missing: $f" >&2; return 1; }
  done
  [ "$(grep -c '^MyChat$' "$T/ts.out")" -eq 35 ] || return 1
  tshark -X lua_script:$LUA -r "$D/misc.pcap" -V > "$T/tm.out" 2> "$T/tm.err" &&
    grep -q "field tag: varint cut short" "$T/tm.out" &&
    grep -q "token is 2 bytes, not 0 or 16" "$T/tm.out" &&
    grep -q "field 3: varint longer than 10 bytes" "$T/tm.out" &&
    grep -q "wrong wire type for client_msg_id" "$T/tm.out" || return 1
  ! grep -qi "lua error\|dissector error\|dissector_error" "$T/ts.out" "$T/ts.err" \
    "$T/tm.out" "$T/tm.err"
}

check "generator reproduces tests/data" t_generator_reproducible
check "dump/stats match the golden outputs" t_golden
check "Ethernet+VLAN, SLL, SLL2, NULL, LOOP, pcapng, IPv6 ext headers" t_framings
check "truncated capture: frames before the cut, then exit 1" t_truncated
check "unknown link type: clear error" t_unknown_link
check "junk, fragments, non-UDP flagged with reasons" t_misc_flags
check "filters --type --user --session --endpoint --from --to" t_filters
check "anonymize: decodes, leaks nothing, consistent" t_anonymize
check "slice --user --session --from --to" t_slice
check "--help for every subcommand; usage errors exit 2" t_help
check "capture: clear errors (no such interface, no rights)" t_capture_errors
check "tshark with mychat.lua shows the fields, no Lua errors" t_tshark
finish
