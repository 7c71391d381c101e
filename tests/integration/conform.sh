#!/bin/sh
# The conformance suite (issues 6 and 11) in `make test`, every run in
# parallel so that the whole takes about as long as its longest job:
#  - every [wire] requirement of PROTOCOL.md is cited by a case;
#  - the reference's statement (conformance/impl/reference.impl) runs every
#    case in one command, the suite starting a server per set of settings
#    itself: every case passes, none unsupported;
#  - the same through an impaired link, three runs of each case with
#    different seeds (two of arq-giveup, in a job of its own): every case
#    runs, none skipped, each with the impairments its profile takes
#    (impair: in its .case), and every one at 100 %;
#  - each mutant server with a killed-by: line (mutants/*.mut, built by
#    `make mutants-build`: the faults of issue 6) fails every case that line
#    names (run on those cases only).
. "$(dirname "$0")/common.sh"

CONF="$B/mychat-conform"
CROSS=$(printf '\342\234\227') # the mark of a failed case
IMPAIR="--loss 10% --dup 5% --reorder 5%"
JOBS=
IMP_JOBS="1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"

# job NAME ARGS...: mychat-conform ARGS in the background (at most 150 s);
# output in $T/NAME.txt, exit status in $T/NAME.rc.
job() {
  j_name=$1
  shift
  ( timeout 150 "$CONF" "$@" > "$T/$j_name.txt" 2>&1
    echo $? > "$T/$j_name.rc" ) &
  JOBS="$JOBS $!"
}

# rc NAME: the exit status of job NAME (after wait_jobs).
rc() { cat "$T/$1.rc" 2>/dev/null || echo 255; }

wait_jobs() {
  for p in $JOBS; do wait "$p"; done
  JOBS=
}

# impl_for BINARY FILE: the reference's statement, with the server binary
# BINARY (this build's server, a mutant one), written to FILE.
impl_for() {
  sed "s|build/mychat-server|$1|" conformance/impl/reference.impl > "$2"
}

# failed_cases FILE: the names of the failed cases in an output, sorted.
failed_cases() {
  sed -n 's/^ *\(\x1b\[[0-9;]*m\)\{0,1\}\xe2\x9c\x97\(\x1b\[0m\)\{0,1\} \([^:]*\):.*/\3/p' "$1" |
    sort | tr '\n' ' '
}

t_coverage() {
  sed -n 's/^- \*\*MC-\([0-9]*\)\*\* \[wire\].*/\1/p' proto/PROTOCOL.md |
    sort -n > "$T/wire"
  sed -n 's/^requires: //p' captures/*.case | tr ' ' '\n' |
    sed -n 's/^MC-\([0-9]*\)$/\1/p' | sort -nu > "$T/covered"
  missing=$(comm -23 "$T/wire" "$T/covered" | tr '\n' ' ')
  [ "$(wc -l < "$T/wire")" -gt 100 ] || return 1
  if [ -n "$missing" ]; then
    echo "  [wire] requirements no case cites: $missing"
    return 1
  fi
  grep -q "^msg-offline " "$T/list" && grep -q "MC-123" "$T/list"
}

# The reference on a clean link, every case (arq-giveup in a job of its
# own): all pass, none unsupported or skipped, the JUnit file agrees.
t_reference() {
  ok=0
  for j in ref_giveup ref_rest; do
    if [ "$(rc $j)" -ne 0 ] ||
       ! grep -q " cases: [0-9]* passed, 0 failed, 0 non-strict, 0 unsupported, 0 skipped" \
         "$T/$j.txt"; then
      grep -A4 -E "$CROSS|UNSUPPORTED|SKIPPED" "$T/$j.txt" || tail -5 "$T/$j.txt"
      ok=1
    fi
  done
  n=$(($(wc -l < "$T/names")))
  got=$(cat "$T/ref_giveup.txt" "$T/ref_rest.txt" | grep -c "$(printf '\342\234\223') ")
  [ "$got" -eq "$n" ] || { echo "  $got of $n cases passed"; ok=1; }
  grep -q '<testsuites name="mychat-conform" tests="[0-9]*" failures="0" skipped="0"' \
    "$T/ref.xml" && grep -q '<testcase classname="msg" name="msg-direct"' \
    "$T/ref.xml" || ok=1
  return $ok
}

# Through the impaired link, three seeds per case (arq-giveup two): every
# case runs (none SKIPPED) and passes every run; a case whose profile
# takes less than the link says what it took; the link's counts show loss,
# duplicates and reordering (--reorder with its default delay).
t_reference_impaired() {
  ok=0
  for k in $IMP_JOBS giveup; do
    [ "$(rc imp$k)" -eq 0 ] || { grep -A4 "$CROSS" "$T/imp$k.txt"; ok=1; }
  done
  for k in $IMP_JOBS giveup; do cat "$T/imp$k.txt"; done > "$T/imp.txt"
  rates=$(grep -cE '^  [a-z].* ([0-9])/\1 +100\.0%' "$T/imp.txt")
  bad=$(grep -E '^  [a-z][^ ]* +[0-9]+/[0-9]+ ' "$T/imp.txt" |
        grep -vE ' 3/3 | arq-giveup +2/2 ')
  [ -z "$bad" ] || { echo "  below 100 %:"; echo "$bad"; ok=1; }
  n=$(($(wc -l < "$T/names")))
  [ "$rates" -eq "$n" ] || { echo "  $rates of $n cases at 100 %"; ok=1; }
  ! grep -q "SKIPPED" "$T/imp.txt" || { grep SKIPPED "$T/imp.txt"; ok=1; }
  grep -q "hs-rate: .*, 3/3 passed, link: loss c2s; dup s2c)" "$T/imp.txt" ||
    { echo "  hs-rate does not say the link it took"; ok=1; }
  # The link did impair: each job lost, duplicated and reordered datagrams.
  for k in $IMP_JOBS; do
    awk '/^the link, all runs/ { n++; if ($9 > 0 && $11 > 0 && $13 > 0) ok++ }
         END { exit !(n == 1 && ok == 1) }' "$T/imp$k.txt" ||
      { echo "  job $k: link not impaired:"; grep "^the link" "$T/imp$k.txt"; ok=1; }
  done
  return $ok
}

# Each mutant with a killed-by: line fails every case it names.
t_mutants() {
  [ -s "$T/mutants" ] || return 1
  bad=0
  while read -r mut want; do
    got=$(failed_cases "$T/m_$mut.txt")
    want=$(echo "$want" | tr ' ' '\n' | grep . | sort | tr '\n' ' ')
    if [ "$(rc "m_$mut")" -ne 1 ] || [ "$got" != "$want" ]; then
      echo "  $mut: failed [$got], expected [$want] (exit $(rc "m_$mut"))"
      bad=1
    fi
  done < "$T/mutants"
  return $bad
}

# order_capture: writes $T/ordercap/msg-direct.*, msg-direct with the Sent
# of the message to oneself and its Deliver swapped (records and seqs).
order_capture() {
  mkdir -p "$T/ordercap"
  "$B/mychat-pcap" dump captures/msg-direct.pcap > "$T/order.dump" || return 1
  mid=$(sed -n 's/.*S->C deliver .*message_id=\([0-9]*\) .*text="note to self".*/\1/p' \
          "$T/order.dump")
  d=$(sed -n "s/^ *\([0-9]*\) .*S->C deliver .*message_id=$mid .*/\1/p" "$T/order.dump")
  s=$(sed -n "s/^ *\([0-9]*\) .*-> 127.0.0.1:40001 S->C sent .*message_id=$mid\$/\1/p" \
        "$T/order.dump")
  [ -n "$d" ] && [ -n "$s" ] || return 1
  cp captures/msg-direct.case "$T/ordercap/"
  python3 - captures/msg-direct.pcap "$T/ordercap/msg-direct.pcap" "$s" "$d" <<'EOF' || return 1
import struct, sys
src, dst, a, b = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = open(src, "rb").read()
out, recs, off = [data[:24]], [], 24
while off < len(data):
    n = struct.unpack("<I", data[off + 8:off + 12])[0]
    recs.append([data[off:off + 8], bytearray(data[off + 8:off + 16 + n])])
    off += 16 + n

def seq_at(pkt):  # offset of the seq varint: IPv4 (20) + UDP (8) + "MYC\1"
    i = 8 + 20 + 8 + 4
    while i < len(pkt):
        tag = pkt[i]; i += 1
        if tag == 0x18:
            return i
        wt = tag & 7
        if wt == 1: i += 8
        elif wt == 5: i += 4
        elif wt == 2: i += 1 + pkt[i]
        else:
            while pkt[i] & 0x80: i += 1
            i += 1
    sys.exit("no seq")

ra, rb = recs[a - 1][1], recs[b - 1][1]
sa, sb = ra[seq_at(ra)], rb[seq_at(rb)]
ra[seq_at(ra)], rb[seq_at(rb)] = sb, sa
recs[a - 1][1], recs[b - 1][1] = rb, ra
open(dst, "wb").write(b"".join(out + [h + bytes(p) for h, p in recs]))
EOF
  "$B/mychat-pcap" dump "$T/ordercap/msg-direct.pcap" |
    grep -q "^ *$s .*S->C deliver .*message_id=$mid"
}

# Push order is free where PROTOCOL.md 8.6 leaves it free: the swapped
# msg-direct still passes the reference, which sends the Sent first.
t_order() {
  [ -s "$T/ordercap/msg-direct.pcap" ] || { echo "  no swapped capture"; return 1; }
  [ "$(rc order)" -eq 0 ] || { cat "$T/order.txt"; return 1; }
}

# An "allow:" line lets an answer the spec allows pass: the server whose
# Login answers NO_SUCH_USER fails hs-login-fail (t_mutants) but passes a
# copy of the case that allows that code there.
t_allow() {
  [ "$(rc allow)" -eq 0 ] || { cat "$T/allow.txt"; return 1; }
}


"$CONF" --list > "$T/list" || exit 1
sed -n 's/^\([a-z][^ ]*\) .*/\1/p' "$T/list" > "$T/names"
impl_for "$B/mychat-server" "$T/ref.impl"
job ref_giveup --impl "$T/ref.impl" arq-giveup
# shellcheck disable=SC2046 # case names are words
job ref_rest --impl "$T/ref.impl" --junit "$T/ref.xml" $(grep -vx arq-giveup "$T/names")
# Sixteen impaired jobs, the cases dealt round-robin (the slow ones are
# neighbours in name order: arq-window, arq-ack-timing), 20-30 s each;
# they mostly wait on timers, so they share the cores well. arq-giveup
# (12 to 25 s a run) has a job of its own, two runs.
# shellcheck disable=SC2086
job impgiveup --impl "$T/ref.impl" --repeat 2 $IMPAIR --seed 1200 arq-giveup
for k in $IMP_JOBS; do
  # shellcheck disable=SC2046,SC2086
  job "imp$k" --impl "$T/ref.impl" --repeat 3 $IMPAIR --seed $((k * 100)) \
    $(grep -vx arq-giveup "$T/names" | awk -v k="$k" '(NR - 1) % 16 == k - 1')
done
# The mutants with a killed-by: line, each on its own cases.
for f in mutants/*.mut; do
  want=$(sed -n 's/^killed-by: //p' "$f")
  [ -n "$want" ] && echo "$(basename "$f" .mut) $want"
done > "$T/mutants"
while read -r mut want; do
  if [ -x "$B/mutants/$mut/mychat-server" ]; then
    impl_for "$B/mutants/$mut/mychat-server" "$T/m_$mut.impl"
    # shellcheck disable=SC2086 # case names are words
    job "m_$mut" --impl "$T/m_$mut.impl" $want
  else
    echo "  $B/mutants/$mut/mychat-server missing (make mutants-build)" > "$T/m_$mut.txt"
    echo 255 > "$T/m_$mut.rc"
  fi
done < "$T/mutants"
if order_capture; then
  job order --impl "$T/ref.impl" --spec proto/PROTOCOL.md --captures "$T/ordercap" msg-direct
fi
mkdir -p "$T/allowcap"
cp captures/hs-login-fail.pcap captures/hs-login-fail.case "$T/allowcap/"
echo "allow: error.code AUTH_FAILED=NO_SUCH_USER" \
  >> "$T/allowcap/hs-login-fail.case"
impl_for "$B/mutants/hs-login-unknown-name-code/mychat-server" "$T/allow.impl"
job allow --impl "$T/allow.impl" --spec proto/PROTOCOL.md --captures "$T/allowcap" hs-login-fail
wait_jobs

check "every [wire] requirement is cited by a case" t_coverage
check "a push order the spec leaves free passes (Deliver to oneself first)" t_order
check "an allow: line accepts the answer it names" t_allow
check "the reference's statement runs every case in one command: all pass" t_reference
check "through an impaired link, every case runs (3 runs, arq-giveup 2): all at 100%" t_reference_impaired
check "each mutant with killed-by: fails its cases" t_mutants
finish
