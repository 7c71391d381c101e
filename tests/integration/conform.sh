#!/bin/sh
# The conformance suite (issue 6) in `make test`: mychat-conform passes the
# reference server, on a clean link and at 20 % loss; each deliberately
# broken server (`make faulty`, conformance/faults.txt) fails exactly the
# cases named for its fault; every [wire] requirement of PROTOCOL.md is
# cited by a case.
. "$(dirname "$0")/common.sh"

CONF="$B/mychat-conform"
CROSS=$(printf '\342\234\227') # the mark of a failed case
STD="--rate-burst 1000 --keepalive-ms 500 --timeout-ms 2000"
PIDS=
conform_cleanup() {
  for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
  cleanup
}
trap conform_cleanup EXIT

# serve BIN NAME FLAGS...: starts server BIN on a free loopback port with
# FLAGS; sets PORT.
serve() {
  s_bin=$1
  s_tag=$2
  shift 2
  "$s_bin" --host 127.0.0.1 --port 0 --db "$T/$s_tag.db" --hash-cost min \
    --log "$T/$s_tag.log" "$@" < /dev/null > "$T/$s_tag.out" 2>&1 &
  PIDS="$PIDS $!"
  s_i=0
  until grep -q "now online" "$T/$s_tag.out" 2>/dev/null; do
    s_i=$((s_i + 1))
    [ "$s_i" -le 100 ] || return 1
    sleep 0.05
  done
  PORT=$(sed -n 's/.*now online.*:\([0-9][0-9]*\).*/\1/p' "$T/$s_tag.out")
}

# conform PORT OUT ARGS...: runs the suite (at most 120 s), output in OUT.
conform() {
  c_port=$1
  c_out=$2
  shift 2
  timeout 120 "$CONF" --server "127.0.0.1:$c_port" "$@" > "$c_out" 2>&1
}

# failed_cases FILE: the names of the failed cases in an output, sorted.
failed_cases() {
  sed -n 's/^ *\(\x1b\[[0-9;]*m\)\{0,1\}\xe2\x9c\x97\(\x1b\[0m\)\{0,1\} \([^:]*\):.*/\3/p' "$1" |
    sort | tr '\n' ' '
}

# std_cases PREFIX...: the cases recorded with the standard flags whose
# names start with one of PREFIX.
std_cases() {
  for p in "$@"; do
    grep -l "^server: $STD\$" captures/"$p"-*.case 2>/dev/null
  done | sed 's|.*/||; s|\.case$||'
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
  # --list shows each case with the requirements it cites.
  "$CONF" --list > "$T/list" &&
    grep -q "^msg-offline " "$T/list" && grep -q "MC-123" "$T/list"
}

t_reference() {
  serve "$B/mychat-server" ref $STD || return 1
  conform "$PORT" "$T/ref.txt" --junit "$T/ref.xml"
  rc=$?
  [ "$rc" -eq 0 ] || { grep -A4 "$CROSS" "$T/ref.txt"; return 1; }
  grep -q '<testsuites name="mychat-conform" tests="[0-9]*" failures="0"' \
    "$T/ref.xml" && grep -q '<testcase classname="msg" name="msg-direct"' \
    "$T/ref.xml"
}

# bg_conform JOBS BIN TAG FLAGS CASE...: server BIN with FLAGS and the
# suite on the CASEs, in the background, output in $T/TAG.txt; appends
# "PID TAG" to $T/JOBS (PID 0: the server did not start).
bg_conform() {
  b_jobs=$1
  b_bin=$2
  b_tag=$3
  b_flags=$4
  shift 4
  # shellcheck disable=SC2086 # the flags are words
  if serve "$b_bin" "$b_tag" $b_flags; then
    conform "$PORT" "$T/$b_tag.txt" --server-flags "$b_flags" "$@" &
    echo "$! $b_tag" >> "$T/$b_jobs"
  else
    echo "  $b_bin $b_flags did not start" > "$T/$b_tag.txt"
    echo "0 $b_tag" >> "$T/$b_jobs"
  fi
}

# The cases that need other server flags, each set on its own server (and
# on another at 20 % loss, those that allow it), and
# the faulty servers on such cases named in faults.txt, all in the
# background from the start (arq-giveup takes 40 s of waiting for
# retransmissions); t_reference_flags and t_faults check them at the end.
bg_start() {
  sed -n 's/^server: //p' captures/*.case | sort -u | grep -vx -- "$STD" \
    > "$T/flagsets"
  : > "$T/flagjobs"
  : > "$T/faultjobs"
  n=0
  while IFS= read -r flags; do
    n=$((n + 1))
    cases=$(grep -lx -- "server: $flags" captures/*.case |
              sed 's|.*/||; s|\.case$||')
    # shellcheck disable=SC2086 # case names are words
    bg_conform flagjobs "$B/mychat-server" "flags$n" "$flags" $cases
    # Those that may run on an impaired link, at 20 % loss too.
    lossy=$(for c in $cases; do
              grep -qx 'impair: no' "captures/$c.case" || echo "$c"
            done)
    [ -z "$lossy" ] ||
      # shellcheck disable=SC2086
      bg_conform flagjobs "$B/mychat-server" "flagsloss$n" "$flags" \
        --loss 20% --seed "$n" $lossy
  done < "$T/flagsets"
  grep -v '^#' conformance/faults.txt > "$T/faults"
  while IFS=: read -r fault want; do
    for c in $want; do
      flags=$(sed -n 's/^server: //p' "captures/$c.case" 2>/dev/null)
      [ -n "$flags" ] && [ "$flags" != "$STD" ] || continue
      bg_conform faultjobs "$B/faulty/$fault/mychat-server" \
        "ff_${fault}_$c" "$flags" "$c"
    done
  done < "$T/faults"
}

t_reference_flags() {
  [ "$(wc -l < "$T/flagjobs")" -ge 3 ] || return 1
  ok=0
  while read -r pid tag; do
    if [ "$pid" -eq 0 ] || ! wait "$pid"; then
      cat "$T/$tag.txt"
      ok=1
    fi
  done < "$T/flagjobs"
  # Each case of other flags ran and passed (was not skipped); hs-busy at
  # 20 % loss too.
  tick=$(printf '\342\234\223')
  cat "$T"/flags[0-9]*.txt > "$T/all_flags"
  for c in $(grep -Lx -- "server: $STD" captures/*.case |
               sed 's|.*/||; s|\.case$||'); do
    grep -q "$tick $c:" "$T/all_flags" || {
      echo "  $c did not pass"
      ok=1
    }
  done
  cat "$T"/flagsloss*.txt | grep -q "$tick hs-busy:" || {
    echo "  hs-busy did not pass at 20% loss"
    ok=1
  }
  return $ok
}

# At 20 % loss each way, four groups of cases in parallel on one server.
t_reference_loss() {
  serve "$B/mychat-server" loss $STD || return 1
  k=0
  for group in "arq ka" "grp hs list" "msg" "sess val"; do
    k=$((k + 1))
    # shellcheck disable=SC2086 # the group is words
    cases=$(std_cases $group)
    # shellcheck disable=SC2086
    conform "$PORT" "$T/loss$k.txt" --loss 20% --seed "$k" $cases &
    eval "lpid$k=\$!"
  done
  ok=0
  for k in 1 2 3 4; do
    eval "wait \$lpid$k" || {
      ok=1
      grep -A4 "$CROSS" "$T/loss$k.txt"
    }
  done
  return $ok
}

# Every fault fails exactly its cases; the faulty servers run six at a
# time (on the cases of other flags, from bg_start).
t_faults() {
  [ -s "$T/faults" ] || return 1
  : > "$T/fjobs"
  n=0
  while IFS=: read -r fault want; do
    [ -x "$B/faulty/$fault/mychat-server" ] || {
      echo "  $B/faulty/$fault/mychat-server missing (make faulty)"
      return 1
    }
    serve "$B/faulty/$fault/mychat-server" "f_$fault" $STD || return 1
    conform "$PORT" "$T/f_$fault.txt" &
    echo "$! $fault $want" >> "$T/fjobs"
    n=$((n + 1))
    if [ $((n % 6)) -eq 0 ]; then
      for pid in $(tail -6 "$T/fjobs" | cut -d' ' -f1); do
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
      done
    fi
  done < "$T/faults"
  for pid in $(cut -d' ' -f1 "$T/fjobs"); do
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  done
  while read -r pid _; do
    [ "$pid" -eq 0 ] || wait "$pid"
  done < "$T/faultjobs"
  bad=0
  while read -r _ fault want; do
    cat "$T/f_$fault.txt" "$T/ff_${fault}_"*.txt > "$T/all_$fault.txt" \
      2>/dev/null
    got=$(failed_cases "$T/all_$fault.txt")
    want=$(echo "$want" | tr ' ' '\n' | grep . | sort | tr '\n' ' ')
    if [ "$got" != "$want" ]; then
      echo "  $fault: failed [$got], expected [$want]"
      bad=1
    fi
  done < "$T/fjobs"
  return $bad
}

# An "allow:" line lets an answer the spec allows pass: the server whose
# Login answers NO_SUCH_USER fails hs-login-fail (t_faults) but passes a
# copy of the case that allows that code there.
t_allow() {
  mkdir -p "$T/allowcap"
  cp captures/hs-login-fail.pcap captures/hs-login-fail.case "$T/allowcap/"
  echo "allow: error.code AUTH_FAILED=NO_SUCH_USER" \
    >> "$T/allowcap/hs-login-fail.case"
  serve "$B/faulty/WRONG_ERROR_CODE/mychat-server" allow $STD || return 1
  conform "$PORT" "$T/allow.txt" --captures "$T/allowcap" hs-login-fail || {
    cat "$T/allow.txt"
    return 1
  }
}

# Push order is free where PROTOCOL.md 8.6 leaves it free: msg-direct with
# the Sent of the message to oneself and its Deliver swapped (records and
# seqs) still passes the reference, which sends the Sent first.
t_order() {
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
    grep -q "^ *$s .*S->C deliver .*message_id=$mid" || return 1
  serve "$B/mychat-server" order $STD || return 1
  conform "$PORT" "$T/order.txt" --captures "$T/ordercap" msg-direct || {
    cat "$T/order.txt"
    return 1
  }
}

bg_start
check "every [wire] requirement is cited by a case" t_coverage
check "a push order the spec leaves free passes (Deliver to oneself first)" t_order
check "an allow: line accepts the answer it names" t_allow
check "the reference server passes every case" t_reference
check "the reference server passes at 20% loss" t_reference_loss
check "each faulty server fails exactly its cases" t_faults
check "the reference server passes the cases of other flags (also at 20% loss)" t_reference_flags
finish
