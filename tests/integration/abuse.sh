#!/bin/sh
# Abuse resistance of mychat-server (issue 12) over loopback UDP, driven by
# mc-flood at the default `interactive` hash cost. Every program runs under
# `timeout`. Figures are printed for the record.
. "$(dirname "$0")/common.sh"

# A Login for an unknown name costs the same hashing work as one for a known
# name with a wrong password (MC-135): the medians of 20 each lie within
# 20 % of each other. Before, 1.3 ms against 140 ms (issue 12).
t_login_timing() {
  stop_server
  start_server --hash-cost interactive --rate-burst 1000 || return 1
  timeout 20 "$B/mc-probe" --server "$SRV" --timeout 15 --register \
    --user alice --password alice-pw > "$T/lt_reg" || return 1
  timeout 60 "$B/mc-flood" --server "$SRV" --timing 20 --user alice \
    --unknown nobody > "$T/lt_out" || return 1
  cat "$T/lt_out"
  awk '$1 == "timing" { r = $7; exit !(r >= 0.8 && r <= 1.25) }
       END { if (NR == 0) exit 1 }' "$T/lt_out"
}

# Issue 12's flood: Registers and Logins for unknown names from 1,000
# addresses in 127.1.0.0/22 (four /24 prefixes), each within its own login
# limit, at the interactive cost,
# while a user logs in from 127.0.0.1 every 2.5 s, during the flood and for
# 6 s after it. Every one of its Logins gets a Welcome within 3 s: Logins
# go before Registers and prefixes take turns (MC-136). The flood's new
# accounts are bounded by the registrations per prefix per hour (MC-137):
# at most 4 x 25 here. Before, the Login timed out 5 of 5 times.
t_flood() {
  stop_server
  start_server --hash-cost interactive --reg-per-hour-prefix 25 \
    --log "$T/fl.log" || return 1
  timeout 20 "$B/mc-probe" --server "$SRV" --timeout 15 --register \
    --user legit --password legit-pw > "$T/fl_reg" || return 1
  timeout 60 "$B/mc-flood" --server "$SRV" --flood 1000 --seconds 24 \
    --rate 300 --after 6 --user legit --password legit-pw > "$T/fl_out"
  rv=$?
  cat "$T/fl_out"
  stop_server
  # Every account of this server but legit's; the log says who made each.
  made=$(grep -c ' register OK' "$T/fl.log" || true)
  echo "accounts made by the flood: $((made - 1)) (at most 100)"
  [ "$rv" -eq 0 ] && [ "$made" -ge 2 ] && [ "$((made - 1))" -le 100 ] &&
    awk '$1 == "flood" { exit !($3 >= 7000 && $13 > 0) }' "$T/fl_out"
}

check "login timing: unknown name within 20 % of a known one" t_login_timing
check "flood from 1000 addresses: every legitimate Login within 3 s; accounts bounded" t_flood
stop_server
finish
