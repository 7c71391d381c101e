/*
 * mc_rate.h: a token bucket, time passed in.
 *
 * One bucket holds up to |burst| tokens and gains one every |refill_ms|.
 * Tokens are kept in thousandths, so a refill interval that does not
 * divide the time passed loses at most a thousandth of a token per call.
 * The bucket stores no settings: the caller passes |burst| and |refill_ms|
 * at every call, so one table of buckets can hold kinds with different
 * settings (the server's login buckets, MC-51, MC-137) and a setting can
 * change (a pair's backoff) without touching the buckets. Used by the
 * server's login limits and its per-session message limit (MC-150).
 */
#ifndef MC_RATE_H
#define MC_RATE_H

#include <stdint.h>

#include "mc_time.h"

typedef struct {
  mc_tstamp t;                 /* tokens_milli is as of t */
  uint32_t tokens_milli;       /* tokens * 1000; at most burst * 1000 after
                                  mc_rate_refill */
} mc_rate;

/* A full bucket as of |now|. */
void mc_rate_init(mc_rate *r, uint32_t burst, mc_tstamp now);

/* Brings |r|'s tokens up to |now| (never above |burst|; a bucket holding
 * more, as a new table entry may, is cut to |burst|). |refill_ms| 0 counts
 * as 1. Returns 1 when the bucket is full, else 0. */
int mc_rate_refill(mc_rate *r, uint32_t burst, uint64_t refill_ms,
                   mc_tstamp now);

/* Refills |r| to |now| and takes one token. Returns 1 when a token was
 * taken, 0 when the bucket held less than one (it is left as it is). */
int mc_rate_take(mc_rate *r, uint32_t burst, uint64_t refill_ms,
                 mc_tstamp now);

#endif
