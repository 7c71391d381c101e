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

check "login timing: unknown name within 20 % of a known one" t_login_timing
stop_server
finish
