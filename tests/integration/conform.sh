#!/bin/sh
# The conformance suite (issue 6) in `make test`: mychat-conform passes the
# reference server, on a clean link and at 20 % loss; each mutant server
# with a killed-by: line (mutants/*.mut, built by `make mutants-build`)
# fails each case it names; every [wire] requirement of PROTOCOL.md is
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
# on another at 20 % loss, those that allow it), and the mutants on their
# killed-by: cases, all in the background from the start (arq-giveup takes
# 40 s of waiting for retransmissions); t_reference_flags and t_mutants
# check them at the end.
bg_start() {
  sed -n 's/^server: //p' captures/*.case | sort -u | grep -vx -- "$STD" \
    > "$T/flagsets"
  : > "$T/flagjobs"
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
  B="$B" python3 mutants/mutants.py kills > "$T/kills.txt" 2>&1 &
  KILLS_PID=$!
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

# Each converted fault (a mutant with a killed-by: line) fails each of its
# cases (run in the background from bg_start, on those cases only).
t_mutants() {
  wait "$KILLS_PID" || {
    cat "$T/kills.txt"
    return 1
  }
}

bg_start
check "every [wire] requirement is cited by a case" t_coverage
check "the reference server passes every case" t_reference
check "the reference server passes at 20% loss" t_reference_loss
check "each mutant with killed-by: fails its cases" t_mutants
check "the reference server passes the cases of other flags (also at 20% loss)" t_reference_flags
finish
