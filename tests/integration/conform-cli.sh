#!/bin/sh
# mychat-conform's command line (issue 11): bad use is refused with exit 2
# and a clear message before anything runs; the counts of the console and
# of the JUnit file agree.
. "$(dirname "$0")/common.sh"

CONF="$B/mychat-conform"
STD="--rate-burst 1000 --rate-refill-ms 10 --keepalive-ms 500 --timeout-ms 2000"

# expect_refusal OUT WORDS CMD...: CMD exits 2 and its output has WORDS.
expect_refusal() {
  e_out=$1
  e_words=$2
  shift 2
  "$@" > "$e_out" 2>&1
  e_rc=$?
  grep -q -- "$e_words" "$e_out" && [ "$e_rc" -eq 2 ] || {
    echo "  exit $e_rc, output:"
    sed 's/^/    /' "$e_out"
    return 1
  }
}

t_no_case() {
  expect_refusal "$T/nocase" "no case matches" \
    "$CONF" --server "$SRV" nosuchcase &&
    expect_refusal "$T/nofilter" "no case matches" \
      "$CONF" --server "$SRV" --filter 'zz*' &&
    expect_refusal "$T/onetypo" "no case matches nosuchcase (" \
      "$CONF" --server "$SRV" hs-login nosuchcase &&
    ! grep -q "cases:" "$T/nocase"
}

# Nothing listens at the port: a clear error within the probe's 2 s, not
# every case waiting out its timeout.
t_nothing_there() {
  start=$(date +%s)
  expect_refusal "$T/refused" "no answer to the probe" \
    "$CONF" --server 127.0.0.1:9 hs-login || return 1
  [ $(($(date +%s) - start)) -le 4 ] && ! grep -q "cases:" "$T/refused"
}

t_unwritable() {
  expect_refusal "$T/unw" "/nonexistent/dir/out.xml" \
    "$CONF" --server "$SRV" --junit /nonexistent/dir/out.xml hs-login &&
    ! grep -q "MyChat protocol" "$T/unw" &&
    expect_refusal "$T/unw2" "pcap-dir /nonexistent/pc" \
      "$CONF" --server "$SRV" --pcap-dir /nonexistent/pc hs-login
}

# The hs group has cases of other settings, UNSUPPORTED here: the console
# and the JUnit file count them the same, and the file marks each
# <skipped/> (JUnit's word for a case that did not run).
t_junit_counts() {
  "$CONF" --server "$SRV" --filter 'hs-*' --junit "$T/hs.xml" > "$T/hs.txt" 2>&1 ||
    { cat "$T/hs.txt"; return 1; }
  line=$(grep -E '^[0-9]+ cases: ' "$T/hs.txt") || return 1
  n=$(echo "$line" | sed 's/ cases:.*//')
  u=$(echo "$line" | sed 's/.* \([0-9]*\) unsupported.*/\1/')
  k=$(echo "$line" | sed 's/.* \([0-9]*\) skipped.*/\1/')
  s=$((u + k))
  [ "$s" -gt 0 ] || { echo "  no unsupported case in: $line"; return 1; }
  grep -q "<testsuites name=\"mychat-conform\" tests=\"$n\" failures=\"0\" skipped=\"$s\"" \
    "$T/hs.xml" || { echo "  console: $line"; head -2 "$T/hs.xml"; return 1; }
  [ "$(grep -c '<testcase ' "$T/hs.xml")" -eq "$n" ] &&
    [ "$(grep -c '<skipped' "$T/hs.xml")" -eq "$s" ]
}

# Without --impl the server is taken to run the standard flags: a case that
# needs another setting is UNSUPPORTED with the reason, not skipped
# silently, and does not fail the run.
t_unsupported() {
  "$CONF" --server "$SRV" hs-busy hs-login > "$T/uns.txt" 2>&1 ||
    { cat "$T/uns.txt"; return 1; }
  grep -q "hs-busy: UNSUPPORTED: .*needs max_sessions=1, runs with 100000" \
    "$T/uns.txt" && grep -q "1 passed, 0 failed, 0 non-strict, 1 unsupported" \
    "$T/uns.txt" || { cat "$T/uns.txt"; return 1; }
}

# The standard cases' burst of 1000 and refill of 10 ms only keep the
# suite from running out of login tokens: a server stated more generous
# serves them, a stingier one does not (the planner's decision; the server
# here runs the standard flags).
t_generous() {
  KA="--keepalive-ms 500 --timeout-ms 2000"
  "$CONF" --server "$SRV" --server-flags "--rate-burst 5000 --rate-refill-ms 5 $KA" \
    hs-login > "$T/gen.txt" 2>&1 && grep -q "1 passed, 0 failed" "$T/gen.txt" ||
    { cat "$T/gen.txt"; return 1; }
  "$CONF" --server "$SRV" --server-flags "--rate-burst 999 --rate-refill-ms 11 $KA" \
    hs-login > "$T/gen2.txt" 2>&1 &&
    grep -q "hs-login: UNSUPPORTED: needs rate_burst>=1000, runs with 999; needs rate_refill_ms<=10, runs with 11" \
      "$T/gen2.txt" || { cat "$T/gen2.txt"; return 1; }
}

# With the reference's statement the suite starts a server per set of
# settings itself (here two: the sessions cap of 1 and the standard set),
# runs the cases on theirs and stops them.
t_impl_start() {
  "$CONF" --impl conformance/impl/reference.impl hs-busy hs-login \
    > "$T/impl.txt" 2>&1 || { cat "$T/impl.txt"; return 1; }
  grep -q "^server 2: started at 127.0.0.1:[0-9]* with .*max_sessions=1" \
    "$T/impl.txt" && grep -q "2 cases: 2 passed, 0 failed" "$T/impl.txt" ||
    { cat "$T/impl.txt"; return 1; }
  port=$(sed -n 's/^server 2: started at 127.0.0.1:\([0-9]*\) .*/\1/p' "$T/impl.txt")
  # Stopped afterwards: nothing answers there any more.
  expect_refusal "$T/gone" "no answer to the probe" \
    "$CONF" --server "127.0.0.1:$port" hs-login
}

# Stopped from outside (Ctrl-C, a timeout) in the middle of a case, the
# suite stops the servers it started.
t_interrupted() {
  timeout -s TERM 3 "$CONF" --impl conformance/impl/reference.impl arq-giveup \
    > "$T/int.txt" 2>&1
  port=$(sed -n 's/^server 1: started at 127.0.0.1:\([0-9]*\) .*/\1/p' "$T/int.txt")
  [ -n "$port" ] || { cat "$T/int.txt"; return 1; }
  sleep 0.5
  expect_refusal "$T/int2" "no answer to the probe" \
    "$CONF" --server "127.0.0.1:$port" hs-login
}

t_impl_bad() {
  printf 'name = x\nkeepalive_ms = soon\n' > "$T/bad.impl"
  expect_refusal "$T/badimpl" "bad.impl:2: keepalive_ms: 'soon' is not a number" \
    "$CONF" --impl "$T/bad.impl" hs-login &&
    printf 'name = x\nstart = run {port} {colour}\n' > "$T/bad2.impl" &&
    expect_refusal "$T/badimpl2" "{colour} is not a placeholder" \
      "$CONF" --impl "$T/bad2.impl" hs-login &&
    expect_refusal "$T/badflags" "server flag --colour 3 maps to no setting" \
      "$CONF" --server "$SRV" --server-flags "--colour 3" hs-login &&
    printf 'name = x\nkeepalive_ms = 500\nsession_timeout_ms = 2000\nrate_burst = 1000\nrate_refill_ms = 10\nstart = echo cannot bind {port} >&2; exit 3\n' \
      > "$T/bad3.impl" &&
    expect_refusal "$T/badimpl3" "exited at once (status 3)" \
      "$CONF" --impl "$T/bad3.impl" hs-login
}

# Grading follows the spec's keywords. A statement that misstates the
# keepalive (the server runs 600, it says 500) fails the case on the
# Welcome; with a spec where the case's requirements are SHOULDs the
# failure is NON-STRICT and does not fail the run, unless --strict; where
# they are MAYs the case checks optional behaviours the statement does not
# claim: UNSUPPORTED.
# liar_impl: $T/liar.impl, a statement whose server runs a keepalive of
# 600 ms where it states 500, so every case fails on the first Welcome.
liar_impl() {
  {
    echo "name = misstated keepalive"
    echo "keepalive_ms = 500"
    echo "session_timeout_ms = 2000"
    echo "rate_burst = 1000"
    echo "rate_refill_ms = 10"
    echo "start = exec $B/mychat-server --host {host} --port {port} --db {dir}/db --hash-cost min --log {dir}/log --keepalive-ms 600 --timeout-ms 2000 --rate-burst {rate_burst} --rate-refill-ms {rate_refill_ms}"
  } > "$T/liar.impl"
}

t_grading() {
  liar_impl
  "$CONF" --impl "$T/liar.impl" hs-login > "$T/must.txt" 2>&1
  [ $? -eq 1 ] && grep -q "keepalive_ms: expected 500, got 600" "$T/must.txt" &&
    grep -q "0 passed, 1 failed" "$T/must.txt" || { cat "$T/must.txt"; return 1; }
  sed 's/MUST/SHOULD/g' proto/PROTOCOL.md > "$T/should.md"
  "$CONF" --impl "$T/liar.impl" --spec "$T/should.md" hs-login > "$T/should.txt" 2>&1 &&
    grep -q "hs-login: .* NON-STRICT" "$T/should.txt" &&
    grep -q "0 failed, 1 non-strict" "$T/should.txt" || { cat "$T/should.txt"; return 1; }
  "$CONF" --impl "$T/liar.impl" --spec "$T/should.md" --strict hs-login \
    > "$T/strict.txt" 2>&1
  [ $? -eq 1 ] || { cat "$T/strict.txt"; return 1; }
  sed 's/MUST/MAY/g' proto/PROTOCOL.md > "$T/may.md"
  "$CONF" --impl "$T/liar.impl" --spec "$T/may.md" hs-login > "$T/may.txt" 2>&1 &&
    grep -q "hs-login: UNSUPPORTED: checks MC-[0-9]*, an optional behaviour" "$T/may.txt" ||
    { cat "$T/may.txt"; return 1; }
}

# -v: the capture's exchange and this run's, as mychat-pcap dump lines.
t_verbose() {
  "$CONF" --server "$SRV" -v hs-login > "$T/v.txt" 2>&1 || { cat "$T/v.txt"; return 1; }
  sed -n '/expected (captures\/hs-login.pcap, 16 datagrams)/,/received/p' "$T/v.txt" |
    grep -c '127.0.0.1:[0-9]* -> 127.0.0.1:[0-9]* [CS]->[CS] ' > "$T/v.n" &&
    [ "$(cat "$T/v.n")" -eq 16 ] &&
    sed -n '/received (this run/,$p' "$T/v.txt" |
      grep -q 'S->C welcome seq=0 session_id=[0-9a-f]* client_nonce=4d369ad8' ||
    { cat "$T/v.txt"; return 1; }
}

# --pcap-dir: a failed case's exchange as a pcap that mychat-pcap (and
# tshark with the dissector, when installed) reads; none for a pass.
t_pcap_dir() {
  liar_impl
  "$CONF" --impl "$T/liar.impl" --pcap-dir "$T/pc" -v hs-login > "$T/pc.txt" 2>&1
  [ $? -eq 1 ] && [ -s "$T/pc/hs-login.pcap" ] ||
    { cat "$T/pc.txt"; ls -l "$T/pc"; return 1; }
  grep -q "what was exchanged: $T/pc/hs-login.pcap" "$T/pc.txt" || return 1
  n=$(sed -n 's/.*received (this run, \([0-9]*\) datagrams.*/\1/p' "$T/pc.txt")
  "$B/mychat-pcap" dump -v "$T/pc/hs-login.pcap" > "$T/pc.dump" || return 1
  grep -q "keepalive_ms: 600" "$T/pc.dump" &&
    [ "$("$B/mychat-pcap" dump "$T/pc/hs-login.pcap" | wc -l)" -eq "$n" ] ||
    { echo "  $n datagrams, dump:"; cat "$T/pc.dump"; return 1; }
  if command -v tshark > /dev/null 2>&1; then
    timeout 60 tshark -X lua_script:tools/wireshark/mychat.lua -r "$T/pc/hs-login.pcap" \
      2> /dev/null | grep -c ' MyChat ' > "$T/pc.ts"
    [ "$(cat "$T/pc.ts")" -eq "$n" ] || { echo "  tshark: $(cat "$T/pc.ts") of $n"; return 1; }
  fi
  "$CONF" --server "$SRV" --pcap-dir "$T/pc2" hs-login > "$T/pc2.txt" 2>&1 &&
    [ -d "$T/pc2" ] && [ -z "$(ls "$T/pc2")" ]
}

# json_ok FILE: FILE parses as JSON (when python3 is there to say so).
json_ok() {
  command -v python3 > /dev/null 2>&1 || return 0
  python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1"
}

# --json and --report: every MC-n of the spec, checked or with the reason
# it is not; the HTML page is self-contained.
t_reports() {
  "$CONF" --server "$SRV" --json "$T/r.json" --report "$T/r.html" hs-login hs-busy \
    > "$T/r.txt" 2>&1 || { cat "$T/r.txt"; return 1; }
  all=$(grep -c '^- \*\*MC-[0-9]*\*\*' proto/PROTOCOL.md)
  json_ok "$T/r.json" &&
    [ "$(grep -c '"id": "MC-[0-9]*"' "$T/r.json")" -eq "$all" ] &&
    [ "$(grep -c '<tr id="MC-[0-9]*">' "$T/r.html")" -eq "$all" ] &&
    grep -q '"unchecked": "not \[wire\]' "$T/r.json" &&
    grep -q '"verdict": "UNSUPPORTED"' "$T/r.json" &&
    grep -q '<tr id="MC-45">.*hs-login.*PASS' "$T/r.html" &&
    ! grep -qE '(src|href)="(https?:)?//' "$T/r.html" ||
    { echo "  $all requirements; report:"; head -40 "$T/r.json"; return 1; }
}

# --matrix: each statement's run, then an implementation x case grid.
t_matrix() {
  liar_impl
  printf '# two implementations\nconformance/impl/reference.impl\n%s\n' \
    "$T/liar.impl" > "$T/matrix"
  "$CONF" --matrix "$T/matrix" --json "$T/m.json" --report "$T/m.html" hs-login \
    > "$T/m.txt" 2>&1
  [ $? -eq 1 ] && json_ok "$T/m.json" &&
    grep -q "^  MyChat reference server.* 1 passed,   0 failed" "$T/m.txt" &&
    grep -q "^  misstated keepalive .* 0 passed,   1 failed" "$T/m.txt" &&
    [ "$(grep -c '"statement": ' "$T/m.json")" -eq 2 ] &&
    grep -q '<tr id="c-hs-login">.*PASS.*FAIL' "$T/m.html" ||
    { cat "$T/m.txt"; return 1; }
}

# --repeat: each case N times, its pass rate with the 95 % Wilson interval
# (2 of 2: [34.2 %, 100 %]); hs-busy, which drives the sessions cap, gets
# a new server for each run.
t_repeat() {
  "$CONF" --impl conformance/impl/reference.impl --repeat 2 --loss 5% hs-login hs-busy \
    > "$T/rep.txt" 2>&1 || { cat "$T/rep.txt"; return 1; }
  grep -q "hs-login: .*, 2/2 passed)" "$T/rep.txt" &&
    grep -qE "^  hs-busy +2/2 +100.0%  \[ 34.2%, 100.0%\]" "$T/rep.txt" &&
    grep -qE "^  hs-login +2/2 " "$T/rep.txt" || { cat "$T/rep.txt"; return 1; }
}

# The .case files are what mc-record's table gives (`mc-record --sidecars`
# regenerates them without a server); an unknown case is refused.
t_sidecars() {
  mkdir -p "$T/sc"
  "$B/mc-record" --sidecars --out "$T/sc" > "$T/sc.txt" 2>&1 ||
    { cat "$T/sc.txt"; return 1; }
  n=$(ls captures/*.case | wc -l)
  grep -q "^$n sidecars written" "$T/sc.txt" || { cat "$T/sc.txt"; return 1; }
  for f in captures/*.case; do
    cmp -s "$f" "$T/sc/$(basename "$f")" ||
      { echo "  $f differs from the table:"; diff "$T/sc/$(basename "$f")" "$f"; return 1; }
  done
  expect_refusal "$T/sc2.txt" "no case nosuch" \
    "$B/mc-record" --sidecars --out "$T/sc" nosuch
}

# profile_case IMPAIR: hs-register with "impair: IMPAIR" in $T/prof.
profile_case() {
  rm -rf "$T/prof"
  mkdir -p "$T/prof"
  cp captures/hs-register.pcap "$T/prof/"
  { grep -v '^impair' captures/hs-register.case
    echo "impair: $1"
    echo "impair-why: a test of the profile"; } > "$T/prof/hs-register.case"
}

# A case takes only the impairments its profile names, in the directions
# it names, and says so: on a link that loses everything, hs-register
# with "impair: none" passes (on a clean link, its line and the JSON say
# which and why), with loss toward the server or toward the client only it
# times out. A profile the parser does not know is refused.
t_profile() {
  profile_case none
  "$CONF" --server "$SRV" --captures "$T/prof" --spec proto/PROTOCOL.md \
    --loss 100% --timeout 1 --json "$T/prof.json" hs-register > "$T/p0.txt" 2>&1 &&
    grep -q "hs-register: .*, link: none)" "$T/p0.txt" &&
    grep -q "impaired only so: a test of the profile" "$T/p0.txt" &&
    grep -q '"link": "none"' "$T/prof.json" &&
    grep -q '"link_why": "a test of the profile"' "$T/prof.json" ||
    { cat "$T/p0.txt"; return 1; }
  for dir in c2s s2c; do
    profile_case "loss $dir"
    "$CONF" --server "$SRV" --captures "$T/prof" --spec proto/PROTOCOL.md \
      --loss 100% --timeout 1 hs-register > "$T/p1.txt" 2>&1
    [ $? -eq 1 ] && grep -q "hs-register: .*, link: loss $dir)" "$T/p1.txt" &&
      grep -q "timed out waiting" "$T/p1.txt" || { cat "$T/p1.txt"; return 1; }
  done
  profile_case "sometimes both"
  expect_refusal "$T/p2.txt" "hs-register.case" \
    "$CONF" --server "$SRV" --captures "$T/prof" --spec proto/PROTOCOL.md hs-register
}

# shellcheck disable=SC2086 # the flags are words
start_server $STD || exit 1
check "no case selected, or one named that does not exist: exit 2, no case matches" t_no_case
check "nothing answers the probe: exit 2 within 4 s" t_nothing_there
check "an unwritable output path is refused before the run" t_unwritable
check "JUnit counts agree with the console, skipped cases marked" t_junit_counts
check "a case whose settings the server lacks is UNSUPPORTED, with the reason" t_unsupported
check "a stated login limit at least as generous as a case's serves it" t_generous
check "--impl with a start command starts and stops a server per setting" t_impl_start
check "interrupted, the suite stops the servers it started" t_interrupted
check "a bad statement file, or a server that does not start, is refused" t_impl_bad
check "-v prints the expected and the received exchange, decoded" t_verbose
check "--pcap-dir writes what a failed case exchanged, readable by mychat-pcap and tshark" t_pcap_dir
check "--json and --report list every requirement with its cases and verdicts" t_reports
check "--matrix runs each statement and writes the grid" t_matrix
check "--repeat prints each case's pass rate with its Wilson interval" t_repeat
check "MUST failures fail, SHOULD ones are NON-STRICT (--strict fails), MAY ones need a claim" t_grading
check "the .case files are what mc-record --sidecars writes from its table" t_sidecars
check "a case takes the impairments of its profile only, and says so" t_profile
finish
