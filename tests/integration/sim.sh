# tests/integration/sim.sh: mychat-sim end to end (issue 5). Small runs of
# the built simulator on the embedded server; each takes well under a
# second or two of wall time.
. tests/integration/common.sh
SIM="$B/mychat-sim"

# The histogram's CUnit suite (a program of its own).
hist() { "$B/sim-hist-test" > "$T/hist.out" 2>&1 || { cat "$T/hist.out"; return 1; }; }
check "histogram percentiles within 0.4%" hist

# 50 clients, 30 % loss with duplication and reordering: every confirmed
# message arrives exactly once and in order, and the exit code says so.
lossy() {
  "$SIM" --clients 50 --loss 30% --dup 5% --reorder 10% --jitter 5ms \
    --rate 1/s --duration 10s --churn 20% --seed 5 --no-progress \
    --json "$T/lossy.json" > "$T/lossy.out" 2>&1 &&
    grep -q '^all .* 100.00% *0 *0 *0 *0 ' "$T/lossy.out"
}
check "50 clients, 30% loss, dup, reorder, churn: exactly once, exit 0" lossy

# The JSON is parseable and its numbers agree with each other.
json_ok() {
  if command -v python3 > /dev/null 2>&1; then
    python3 - "$T/lossy.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = r["messages"]
a = m["all"]
assert r["ok"] is True
for f in ("sent", "confirmed", "expected", "delivered", "lost"):
    assert a[f] == m["group"][f] + m["direct"][f], f
assert a["sent"] > 0 and a["expected"] > 0
assert a["delivered"] == a["expected"] and a["lost"] == 0
assert a["duplicated"] == 0 and a["out_of_order"] == 0
assert m["direct"]["expected"] == m["direct"]["confirmed"]
assert r["delivery_pct"] == 100.0
assert sum(t["sent"] for t in r["per_second"]) == a["sent"]
lat = r["latency_live"]
assert 0 < lat["p50_ms"] <= lat["p90_ms"] <= lat["p99_ms"] <= lat["max_ms"]
assert r["retransmissions"]["client_tx_per_body"] >= 1.0
assert r["network"]["up_lost"] > 0 and r["network"]["down_duplicated"] > 0
c = r["config"]
assert c["mode"] == "virtual" and c["clients"] == 50 and c["seed"] == 5
assert c["network"]["loss_model"] == "bernoulli"
assert c["network"]["loss_pct"] == 30.0 and c["network"]["reorder_pct"] == 10.0
assert c["phases"] == [{"start_s": 0.0, "length_s": 10.0, "rate_per_s": 1.0,
                        "direct_pct": 30.0}], c["phases"]
assert c["offline"][0]["at_s"] == "random" and c["offline"][0]["share_pct"] == 20.0
assert r["thresholds"][0]["expr"] == "connect_fail<10%"
assert r["thresholds"][0]["default"] is True
assert r["thresholds"][0]["state"] == "pass" and r["exit_status"] == 0
assert "host" not in r and "wall_s" not in r["time"]
assert sum(t["lat_n"] for t in r["per_second"]) == lat["n"]
assert all(t["p50_ms"] <= t["p95_ms"] <= t["p99_ms"] <= t["max_ms"]
           for t in r["per_second"])
PY
  else
    grep -q '"ok": true' "$T/lossy.json" && grep -q '"lost": 0' "$T/lossy.json"
  fi
}
check "--json is parseable and consistent" json_ok

# At 40 % loss some final logouts do not complete within the grace after
# the drain: those sessions are counted as open at the end, so every
# client is either logged out or accounted for.
open_end() {
  "$SIM" --clients 50 --loss 40% --duration 5s --seed 3 --no-progress \
    --json "$T/open.json" > "$T/open.out" 2>&1 || { cat "$T/open.out"; return 1; }
  grep -q '^clients: [1-9][0-9]* sessions* still open at the end' "$T/open.out" &&
    python3 - "$T/open.json" <<'PY' || { cat "$T/open.out"; return 1; }
import json, sys
c = json.load(open(sys.argv[1]))["clients"]
assert c["open_at_end"] > 0, c
assert c["logouts"] + c["open_at_end"] + c["sessions_lost"] == 50, c
PY
}
check "final logouts not completed are counted as open at the end" open_end

# Gilbert-Elliott bursts.
burst() {
  "$SIM" --clients 40 --ge 2%,25%,100%,0% --rate 1/s --duration 8s \
    --drain 60s --seed 9 --no-progress > "$T/burst.out" 2>&1 &&
    grep -q 'result: OK' "$T/burst.out"
}
check "Gilbert-Elliott burst loss: 100% delivery" burst

# Same seed, same run: the virtual mode repeats exactly, to the byte of
# the JSON (a scenario with phases, offline periods, network changes and a
# threshold, so the whole configuration is in it); another seed differs.
repeat() {
  printf 'clients 30\nseed 77\nloss 20%%\nphase 2s rate=1/s\nphase 2s rate=2/s direct=50%%\noffline 20%% at 1s for 2s mode=logout\nnet at 3s loss=5%% delay=30ms\nthreshold p99<10s\n' \
    > "$T/rep.sim" &&
    "$SIM" --scenario "$T/rep.sim" --no-progress --json "$T/a.json" \
      > /dev/null 2>&1 &&
    "$SIM" --scenario "$T/rep.sim" --no-progress --json "$T/b.json" \
      > /dev/null 2>&1 &&
    "$SIM" --scenario "$T/rep.sim" --seed 78 --no-progress --json "$T/c.json" \
      > /dev/null 2>&1 &&
    cmp "$T/a.json" "$T/b.json" && ! cmp -s "$T/a.json" "$T/c.json" &&
    grep -q '"network_changes": \[$' "$T/a.json" &&
    grep -q '"mode": "logout"' "$T/a.json" && grep -q '"expr": "p99<10s"' "$T/a.json"
}
check "same seed repeats exactly (byte-identical JSON)" repeat

# --threads 2 (the embedded server on a thread of its own): the same seed and
# thread count give the same JSON twice, and the same as one thread (the
# windows do not depend on the thread count); with reordering the windows
# have no lookahead and are one instant each (on one thread), also
# repeatable. A broken
# handover between the lanes shows as a difference or a failed guarantee.
threads() {
  for extra in "" "--reorder 10% --jitter 5ms"; do
    for run in a b; do
      # shellcheck disable=SC2086
      "$SIM" --scenario "$T/rep.sim" --clients 60 --threads 2 $extra \
        --no-progress --json "$T/th2$run.json" > "$T/th2$run.out" 2>&1 ||
        { cat "$T/th2$run.out"; return 1; }
    done
    # shellcheck disable=SC2086
    "$SIM" --scenario "$T/rep.sim" --clients 60 --threads 1 $extra \
      --no-progress --json "$T/th1.json" > /dev/null 2>&1 &&
      cmp "$T/th2a.json" "$T/th2b.json" && cmp "$T/th2a.json" "$T/th1.json" &&
      grep -q '^all .* 100.00% *0 *0 *0 *0 ' "$T/th2a.out" || return 1
  done
}
check "--threads 2 repeats exactly and matches --threads 1 (JSON)" threads

# Strings are escaped by the JSON library: a scenario path with a quote, a
# backslash and non-ASCII reads back as it was.
json_escape() {
  f="$T/q\"uo\\te ü.sim"
  printf 'clients 5\nduration 1s\n' > "$f" &&
    "$SIM" --scenario "$f" --no-progress --json "$T/esc.json" > /dev/null 2>&1 &&
    if command -v python3 > /dev/null 2>&1; then
      python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["config"]["scenario"] == sys.argv[2]' "$T/esc.json" "$f"
    else
      grep -q 'q\\"uo\\\\te' "$T/esc.json"
    fi
}
check "JSON strings escaped (quote, backslash, UTF-8)" json_escape

# A scenario file (a trimmed copy of the demo) with an HTML report and a
# pcap capture.
scenario() {
  sed 's/^clients .*/clients 60/; s/^phase .*/phase 6s rate=1\/s direct=30%/; s/at 8s for 5s mode=mix/at 2s for 3s mode=abandon/' \
    simulator/scenarios/demo.sim > "$T/t.sim" &&
    printf 'net at 4s loss=5%%\nthreshold p99<10s\n' >> "$T/t.sim" &&
    "$SIM" --scenario "$T/t.sim" --no-progress --html "$T/r.html" \
      --pcap "$T/r.pcap" > "$T/scen.out" 2>&1 &&
    grep -q 'scenario' "$T/scen.out" && grep -q '<svg' "$T/r.html" &&
    ! grep -q '<script' "$T/r.html" && ! grep -q 'https\?://[^w]' "$T/r.html" &&
    [ -s "$T/r.pcap" ] && html_ok "$T/r.html"
}
# The report's parts (issue 14): every chart, latency percentiles over
# time, the phases, the drain, the offline period and the network change
# marked, the thresholds and the configuration shown.
html_ok() {
  for id in latency-time sent delivered online delivery-time cdf; do
    grep -q "<figure id=\"$id\">" "$1" || { echo "no chart $id" >&2; return 1; }
  done
  for s in '>p50</text>' '>p95</text>' '>p99</text>' 'class="phase1"' \
    'class="drain"' 'class="off"' 'class="net"' 'class="mark netl">loss 5%' \
    '<code>p99&lt;10s</code>' '<code>connect_fail&lt;10%</code>' \
    '<h3>Phases</h3>' '<h3>Offline periods</h3>' '<th>from_s</th>' \
    '<th>loss_model</th>' '>abandon<' 'class="verdict good"'; do
    grep -qF "$s" "$1" || { echo "not in the report: $s" >&2; return 1; }
  done
}
check "scenario file, HTML report, pcap" scenario

# The capture reads back with the project's pcap tool: every datagram is
# MyChat and well formed.
pcap_reads() {
  "$B/mychat-pcap" stats "$T/r.pcap" > "$T/pcap.out" 2>&1 &&
    grep -q 'MyChat [1-9][0-9]* (invalid 0), malformed 0, not MyChat 0' \
      "$T/pcap.out"
}
if [ -x "$B/mychat-pcap" ]; then
  check "--pcap reads back with mychat-pcap" pcap_reads
fi

# Real time over loopback UDP (the embedded server on a socket of its own,
# clients multiplexed over a few sockets): the same guarantees.
udp() {
  "$SIM" --embedded-udp --sockets 4 --clients 30 --loss 10% --rate 2/s \
    --duration 2s --ramp 1s --drain 20s --no-progress > "$T/udp.out" 2>&1 &&
    grep -q 'result: OK' "$T/udp.out"
}
check "--embedded-udp: real time over loopback UDP, 100% delivery" udp

# --server: the same clients against the reference server over UDP.
against_server() {
  start_server || return 1
  "$SIM" --server "$SRV" --sockets 8 --clients 30 --loss 10% --rate 2/s \
    --duration 2s --ramp 1s --drain 20s --no-progress > "$T/srv.out" 2>&1
  rv=$?
  stop_server
  [ "$rv" -eq 0 ] && grep -q 'result: OK' "$T/srv.out" &&
    grep -q '^all .* 100.00%' "$T/srv.out"
}
if [ -x "$B/mychat-server" ]; then
  check "--server: reference server over UDP, 100% delivery" against_server
fi

# Connect failures from a real server fail the run through the default
# threshold, and the summary names the login rate limit behind them: eight
# clients on one socket (one address) against a burst of 5 per address.
rate_limited() {
  start_server --rate-refill-ms 200 || return 1
  "$SIM" --server "$SRV" --sockets 1 --clients 8 --ramp 0 --rate 1/s \
    --duration 2s --drain 10s --no-progress > "$T/rl.out" 2>&1
  rv=$?
  stop_server
  [ "$rv" -eq 4 ] && grep -q '^clients: [1-9][0-9]* of the connect failures were the server.s login rate limit (8 clients share 1 source address:' "$T/rl.out" &&
    grep -q '^  connect_fail<10% .*FAILED (default)$' "$T/rl.out" &&
    grep -q '^all .* 100.00%' "$T/rl.out"
}
if [ -x "$B/mychat-server" ]; then
  check "--server: rate-limited logins fail the default connect_fail threshold" rate_limited
fi

# A bad flag and a bad scenario line: exit 2 with a message.
badflag() {
  "$SIM" --no-such-flag 1 > /dev/null 2> "$T/bad.err"
  [ $? -eq 2 ] &&
    grep -q '^mychat-sim: --no-such-flag: unknown option$' "$T/bad.err" && grep -q "^Try 'mychat-sim --help' for usage.$" "$T/bad.err"
}
check "bad flag exits 2 with a message" badflag
badvalue() {
  "$SIM" --loss 150% > /dev/null 2> "$T/bad2.err"
  [ $? -eq 2 ] &&
    grep -q "^mychat-sim: --loss: bad value '150%' (expected P)$" "$T/bad2.err"
}
check "bad value exits 2 with a message" badvalue
badscen() {
  printf 'clients 10\nwarp 9\n' > "$T/bad.sim"
  "$SIM" --scenario "$T/bad.sim" > /dev/null 2> "$T/bad3.err"
  [ $? -eq 2 ] && grep -q '^mychat-sim: .*bad.sim:2: warp: unknown directive$' "$T/bad3.err"
}
check "bad scenario line exits 2 with file:line" badscen

# --version, and errors as "mychat-sim: what: why" (issue 14).
version() {
  "$SIM" --version > "$T/ver.out" 2>&1 &&
    grep -q '^mychat-sim [0-9][0-9.]* (MyChat protocol v1)$' "$T/ver.out" &&
    "$SIM" --help | grep -q -- '--version'
}
check "--version" version
errstyle() {
  "$SIM" --clients > /dev/null 2> "$T/e1.err"; r1=$?
  "$SIM" --scenario "$T/none.sim" > /dev/null 2> "$T/e2.err"; r2=$?
  "$SIM" --server nohost --clients 1 > /dev/null 2> "$T/e3.err"; r3=$?
  "$SIM" --clients 2 --duration 1s --json "$T/no/such/dir/x.json" \
    > /dev/null 2> "$T/e4.err"; r4=$?
  [ "$r1" -eq 2 ] && [ "$r2" -eq 2 ] && [ "$r3" -eq 2 ] && [ "$r4" -eq 3 ] &&
    grep -q '^mychat-sim: --clients: needs a value$' "$T/e1.err" &&
    grep -q "^mychat-sim: --scenario .*none.sim: No such file or directory$" "$T/e2.err" &&
    grep -q "^mychat-sim: --server: bad value 'nohost' (expected HOST:PORT)$" "$T/e3.err" &&
    grep -q "^mychat-sim: --json .*x.json: No such file or directory$" "$T/e4.err"
}
check "errors say mychat-sim: what: why" errstyle

# Verdicts that can fail (issue 14). Nothing listening: every handshake
# goes unanswered, the run stops as soon as every client has given up and
# exits 5. The port is one a server just let go of (or the discard port).
closed_port() {
  port=9
  if [ -x "$B/mychat-server" ] && start_server; then
    port=$SRV_PORT
    stop_server
  fi
  "$SIM" --server "127.0.0.1:$port" --clients 5 --ramp 0 --connect-timeout 1s \
    --duration 30s --no-progress > "$T/closed.out" 2> "$T/closed.err"
  [ $? -eq 5 ] && grep -q "^result: FAILED, no client connected" "$T/closed.out" &&
    grep -q "^mychat-sim: 127.0.0.1:$port: no client connected: no answer" \
      "$T/closed.err" &&
    grep -q '^  connect_fail<10% .*100.000%  FAILED (default)' "$T/closed.out" &&
    grep -q '^time [0-9]\.' "$T/closed.out" # stopped early, not after 30 s
}
check "--server on a closed port: no client connected, exit 5" closed_port

# Thresholds decide the exit status and are printed with their values: at
# 10 ms one-way delay no delivery takes under 5 ms, every one arrives.
thresholds() {
  "$SIM" --clients 30 --duration 4s --rate 1/s --seed 2 --no-progress \
    --threshold 'p99<5ms' --threshold 'delivery>=100%' \
    --threshold 'connect_fail < 1%' > "$T/thr.out" 2>&1
  [ $? -eq 4 ] &&
    grep -q '^  p99<5ms  *[0-9.]* ms  FAILED$' "$T/thr.out" &&
    grep -q '^  delivery>=100%  *100.000%  ok$' "$T/thr.out" &&
    grep -q '^  connect_fail < 1%  *0.000%  ok$' "$T/thr.out" &&
    ! grep -q 'default' "$T/thr.out" &&
    grep -q '^result: FAILED, 1 of 3 thresholds failed' "$T/thr.out" &&
    "$SIM" --clients 30 --duration 4s --rate 1/s --seed 2 --no-progress \
      --threshold 'p(99)<1s' --threshold 'max<=2s' > "$T/thr2.out" 2>&1 &&
    grep -q '^  p(99)<1s  *[0-9.]* ms  ok$' "$T/thr2.out"
}
check "a threshold that does not hold fails the run (exit 4)" thresholds

# Connect failures above a limit: at 50 % loss and a 2 s handshake timeout
# about half the handshakes fail; the delivery guarantees still hold.
connect_fail() {
  "$SIM" --clients 40 --loss 50% --connect-timeout 2s --duration 3s --seed 3 \
    --no-progress --threshold 'connect_fail<1%' > "$T/cf.out" 2>&1
  [ $? -eq 4 ] && grep -q '^  connect_fail<1%  *[1-9][0-9.]*%  FAILED$' "$T/cf.out"
}
check "connect failures above the limit fail the run" connect_fail

# A threshold on something never measured fails instead of passing.
nodata() {
  "$SIM" --clients 10 --duration 2s --seed 1 --no-progress \
    --threshold 'backlog_p99<10s' > "$T/nd.out" 2>&1
  [ $? -eq 4 ] && grep -q 'backlog_p99<10s .* FAILED (nothing measured)' "$T/nd.out"
}
check "a threshold with nothing measured fails" nodata

badthr() {
  for t in 'p99<5%' 'speed<3' 'p99=3' 'p0<1ms' 'delivery>101%' 'retrans<1ms'; do
    "$SIM" --threshold "$t" > /dev/null 2> "$T/bt.err"
    [ $? -eq 2 ] && grep -q "^mychat-sim: --threshold '$t': " "$T/bt.err" ||
      { echo "accepted or unclear: $t" >&2; cat "$T/bt.err" >&2; return 1; }
  done
}
check "bad thresholds are refused with a reason (exit 2)" badthr

# The progress line shows the stage, elapsed and planned total time.
progress_line() {
  "$SIM" --clients 20 --duration 3s --drain 7s --seed 1 --progress \
    > /dev/null 2> "$T/prog.err" &&
    tr '\r' '\n' < "$T/prog.err" | grep -q '^logout  *[0-9.]*s/10s  clients'
}
check "progress line with elapsed and total time" progress_line

finish
