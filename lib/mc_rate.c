/*
 * mc_rate.c: the token bucket of mc_rate.h.
 */
#include "mc_rate.h"

void mc_rate_init(mc_rate *r, uint32_t burst, mc_tstamp now) {
  r->t = now;
  r->tokens_milli = burst * 1000;
}

int mc_rate_refill(mc_rate *r, uint32_t burst, uint64_t refill_ms,
                   mc_tstamp now) {
  uint32_t full = burst * 1000;
  uint64_t refill = refill_ms ? refill_ms : 1;
  /* A clock that went back (a caller's mistake) gains nothing rather than
   * wrapping around to a full bucket. */
  uint64_t gained = now > r->t ? (now - r->t) / MC_MSEC * 1000 / refill : 0;
  uint64_t t = r->tokens_milli + gained;
  r->tokens_milli = t > full ? full : (uint32_t)t;
  /* The time is moved on only when something was gained, so calls more
   * often than a thousandth of |refill_ms| still add up. */
  if (gained > 0)
    r->t = now;
  return r->tokens_milli >= full;
}

int mc_rate_take(mc_rate *r, uint32_t burst, uint64_t refill_ms,
                 mc_tstamp now) {
  mc_rate_refill(r, burst, refill_ms, now);
  if (r->tokens_milli < 1000)
    return 0;
  r->tokens_milli -= 1000;
  return 1;
}
