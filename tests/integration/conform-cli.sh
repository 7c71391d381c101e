#!/bin/sh
# mychat-conform's command line (issue 11): bad use is refused with exit 2
# and a clear message before anything runs; the counts of the console and
# of the JUnit file agree.
. "$(dirname "$0")/common.sh"

CONF="$B/mychat-conform"
STD="--rate-burst 1000 --keepalive-ms 500 --timeout-ms 2000"

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
    ! grep -q "MyChat protocol" "$T/unw"
}

# The hs group has cases of other settings, skipped here: the console and
# the JUnit file count them the same, and the file marks each <skipped/>.
t_junit_counts() {
  "$CONF" --server "$SRV" --filter 'hs-*' --junit "$T/hs.xml" > "$T/hs.txt" 2>&1 ||
    { cat "$T/hs.txt"; return 1; }
  line=$(grep -E '^[0-9]+ cases: ' "$T/hs.txt") || return 1
  n=$(echo "$line" | sed 's/ cases:.*//')
  s=$(echo "$line" | sed 's/.* \([0-9]*\) skipped.*/\1/')
  [ "$s" -gt 0 ] || { echo "  no skipped case in: $line"; return 1; }
  grep -q "<testsuites name=\"mychat-conform\" tests=\"$n\" failures=\"0\" skipped=\"$s\"" \
    "$T/hs.xml" || { echo "  console: $line"; head -2 "$T/hs.xml"; return 1; }
  [ "$(grep -c '<testcase ' "$T/hs.xml")" -eq "$n" ] &&
    [ "$(grep -c '<skipped' "$T/hs.xml")" -eq "$s" ]
}

# shellcheck disable=SC2086 # the flags are words
start_server $STD || exit 1
check "no case selected: exit 2, no case matches" t_no_case
check "nothing answers the probe: exit 2 within 4 s" t_nothing_there
check "an unwritable output path is refused before the run" t_unwritable
check "JUnit counts agree with the console, skipped cases marked" t_junit_counts
finish
