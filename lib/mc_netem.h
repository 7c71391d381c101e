/*
 * mc_netem.h: a network impairment model for one direction of one link.
 *
 * Modelled on Linux netem's knobs, without root and without I/O: the caller
 * offers a datagram at a time and the model says what happens to it (dropped,
 * delivered once or twice, when, and whether a bit is flipped). Decisions
 * come from an mc_rng seeded by the caller, so a run repeats exactly.
 *
 * Two layers:
 * - mc_netem_decide(): the pure decision, for callers with their own event
 *   queue (the simulator keeps one queue for thousands of links).
 * - mc_netem_link: the decision plus a delivery queue ordered by time, for
 *   tests and small tools.
 *
 * Semantics (PROTOCOL.md does not depend on them; README of the simulator
 * documents them):
 * - loss: Bernoulli loss with probability |loss|, unless |ge| is set.
 * - Gilbert-Elliott (netem "loss gemodel p r 1-h 1-k"): a two-state chain
 *   evaluated once per datagram: in Good, move to Bad with probability p; in
 *   Bad, move to Good with probability r; then lose the datagram with
 *   probability 1-k if the chain is now in Good, 1-h if it is now in Bad.
 *   With 1-h = 1 and 1-k = 0, mean burst length is 1/r datagrams and the
 *   long-run loss rate is p/(p+r).
 * - A lost datagram is gone: it is neither duplicated nor put on the line.
 * - rate_bps: if non-zero, datagrams are serialized one after another on a
 *   line of this rate. The line is busy until busy_until (kept exactly, to
 *   a fraction of a microsecond, see busy_frac); a datagram's transmission
 *   starts at max(now, busy_until) and takes len*8/rate_bps seconds, so the
 *   long-run throughput is exactly rate_bps; its delay starts
 *   when its last bit leaves (rounded up to the next microsecond). If
 *   |queue_limit| > 0, a datagram is dropped when the backlog
 *   (busy_until - now) exceeds |queue_limit| transmissions at its size: with
 *   equal sizes, one datagram on the line and |queue_limit| waiting behind
 *   it. 0 means an unlimited queue. Because the allowance scales with the
 *   datagram's own size, under overload small datagrams are dropped more
 *   often than large ones.
 * - duplicate: with probability |duplicate| a second copy is delivered, with
 *   its own reorder, delay and corruption draws. With a rate limit it is a
 *   second transmission right behind the first, not subject to the queue
 *   limit (it was accepted with its original), so the line never carries
 *   more than rate_bps.
 * - reorder: with probability |reorder| a copy skips the delay (delivered as
 *   soon as it leaves the line, i.e. at now without a rate limit),
 *   overtaking earlier delayed ones (netem's "reorder").
 * - delay/jitter: delivery at leave + delay + u, u uniform in
 *   [-jitter, +jitter] (whole microseconds), never before leave, where leave
 *   is now without a rate limit.
 * - corrupt: with probability |corrupt| a copy gets one uniformly chosen bit
 *   flipped (among the first INT_MAX bits; none if the datagram is empty).
 * Decisions depend only on the seed, the config and the sequence of
 * (len, now) offered, never on what the caller does with the verdicts.
 */
#ifndef MC_NETEM_H
#define MC_NETEM_H

#include <stddef.h>
#include <stdint.h>

#include "mc_heap.h"
#include "mc_rng.h"
#include "mc_time.h"

/* Bounds enforced by mc_netem_config_check. With them the line arithmetic
 * is exact for any datagram a real network carries (beyond that it
 * saturates instead of wrapping), and delay + jitter cannot overflow. */
#define MC_NETEM_MAX_DELAY (3600ULL * MC_SEC) /* delay and jitter each */
#define MC_NETEM_MAX_RATE 1000000000000ULL   /* 1 Tbit/s */

typedef struct {
  double loss;                /* 0..1 */
  int ge;                     /* 1: Gilbert-Elliott instead of |loss|, or 0 */
  double ge_p, ge_r, ge_1h, ge_1k; /* each 0..1 */
  mc_tstamp delay, jitter;    /* each <= MC_NETEM_MAX_DELAY */
  double reorder;             /* 0..1 */
  double duplicate;           /* 0..1 */
  double corrupt;             /* 0..1 */
  uint64_t rate_bps;          /* 0 = unlimited; <= MC_NETEM_MAX_RATE */
  uint32_t queue_limit;       /* with rate_bps; 0 = unlimited */
} mc_netem_config;

/* Counters of mc_netem_decide. |offered|, |dropped_loss| and
 * |dropped_queue| count datagrams; |duplicated| counts datagrams given a
 * second copy; |corrupted|, |reordered| and |delivered| count copies
 * (delivered = copies scheduled for delivery). */
typedef struct {
  uint64_t offered, dropped_loss, dropped_queue, duplicated, corrupted,
      reordered, delivered;
} mc_netem_stats;

typedef struct {
  mc_netem_config cfg;
  mc_rng rng;
  int ge_bad;                 /* Gilbert-Elliott state: 1 in Bad */
  /* Rate limit: the line is free at busy_until + busy_frac / rate_bps
   * microseconds; busy_frac < rate_bps. Keeping the fraction makes long-run
   * throughput exactly rate_bps instead of drifting with rounding. */
  mc_tstamp busy_until;
  uint64_t busy_frac;
  mc_netem_stats stats;
} mc_netem;

/* What happens to one datagram. Entries past |copies| are 0 and -1. */
typedef struct {
  int copies;                 /* 0 (dropped), 1 or 2 */
  mc_tstamp at[2];            /* delivery time of each copy */
  int corrupt_bit[2];         /* bit index to flip in each copy, or -1;
                               * bit b is data[b / 8] & (1 << (b % 8)) */
} mc_netem_verdict;

/* Checks |cfg|: every probability (loss, ge_p, ge_r, ge_1h, ge_1k, reorder,
 * duplicate, corrupt) in [0,1] and not NaN, ge 0 or 1, delay and jitter at
 * most MC_NETEM_MAX_DELAY, rate_bps at most MC_NETEM_MAX_RATE. jitter may
 * exceed delay (delivery is then clamped to leave time). Returns 0 or
 * MC_ERR_INVAL. */
int mc_netem_config_check(const mc_netem_config *cfg);

/* Initializes |n| with a copy of |cfg|, Good state, an idle line and zero
 * stats. Returns 0 or MC_ERR_INVAL (bad |cfg|; |n| is left untouched). */
int mc_netem_init(mc_netem *n, const mc_netem_config *cfg, uint64_t seed);

/* Changes |n|'s settings to |cfg| mid-run (a link that gets worse or
 * better): the random stream, the Gilbert-Elliott state, the line's busy
 * time and the stats carry over; the line's sub-microsecond remainder is
 * dropped, being only meaningful at the old rate (busy_frac < rate_bps).
 * Returns 0 or MC_ERR_INVAL (bad |cfg|; |n| is left untouched). */
int mc_netem_reconfigure(mc_netem *n, const mc_netem_config *cfg);

/* Decides the fate of a datagram of |len| bytes offered at |now| and fills
 * |v| (see the semantics above). |now| should not go backwards between
 * calls; if it does, the line is simply still busy. Updates the stats, the
 * Gilbert-Elliott state and the line. Returns nothing: every input has a
 * verdict. */
void mc_netem_decide(mc_netem *n, size_t len, mc_tstamp now,
                     mc_netem_verdict *v);

/* One queued datagram of a link. */
typedef struct {
  mc_tstamp at;
  uint64_t order;             /* tie-break: offer order */
  uint64_t ctx;               /* the caller's, carried along */
  size_t len;
  uint8_t *data;              /* owned by the link */
} mc_netem_pkt;

typedef struct {
  mc_netem model;
  mc__heap q;                 /* of mc_netem_pkt, on (at, order) */
  uint64_t order;             /* order of the next copy queued */
} mc_netem_link;

/* Initializes |l| empty, its model as mc_netem_init. Returns 0 or
 * MC_ERR_INVAL. */
int mc_netem_link_init(mc_netem_link *l, const mc_netem_config *cfg,
                       uint64_t seed);

/* Frees every queued datagram and the heap; |l| is then empty and may be
 * freed again or re-initialized. Returns nothing. */
void mc_netem_link_free(mc_netem_link *l);

/* Offers |len| bytes of |data| at |now|; the link copies them (the caller
 * keeps |data|) and flips the corrupted bit in its copy. Returns the number
 * of copies queued (0, 1, 2), MC_ERR_INVAL if |data| is NULL or |len| is 0
 * (an empty datagram could not be told apart from "none due" by
 * mc_netem_link_recv) or above INT_MAX (its length could not be returned), or
 * MC_ERR_NOMEM (nothing queued, but the model has decided and counted the
 * datagram, so the run stays repeatable). */
int mc_netem_link_send(mc_netem_link *l, const uint8_t *data, size_t len,
                       uint64_t ctx, mc_tstamp now);

/* Takes the next datagram due at or before |now| into |buf| (|cap| bytes);
 * datagrams come out in order of delivery time, ties in offer order.
 * Returns its length (> 0) and stores its ctx in |*ctx|, 0 when none is
 * due, or MC_ERR_BUFFER_TOO_SMALL (the datagram stays queued). */
int mc_netem_link_recv(mc_netem_link *l, mc_tstamp now, uint8_t *buf,
                       size_t cap, uint64_t *ctx);

/* Returns when the next datagram is due, or MC_TSTAMP_NEVER when the link
 * is empty. */
mc_tstamp mc_netem_link_expiry(const mc_netem_link *l);

#endif
