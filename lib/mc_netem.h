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
 *   probability 1-k in Good, 1-h in Bad. Mean burst length is 1/r datagrams
 *   when 1-h = 1.
 * - delay/jitter: delivery at now + delay + u, u uniform in [-jitter, +jitter],
 *   never before now.
 * - reorder: with probability |reorder| a datagram skips the delay (delivered
 *   at now), overtaking earlier delayed ones (netem's "reorder").
 * - duplicate: with probability |duplicate| a second copy is delivered, with
 *   its own delay draw.
 * - corrupt: with probability |corrupt| one uniformly chosen bit is flipped.
 * - rate_bps: if non-zero, datagrams are serialized one after another at this
 *   rate; their delay starts when their last bit leaves. |queue_limit|
 *   datagrams may wait (0 = unlimited); beyond that they are dropped.
 */
#ifndef MC_NETEM_H
#define MC_NETEM_H

#include <stddef.h>
#include <stdint.h>

#include "mc_rng.h"
#include "mc_time.h"

typedef struct {
  double loss;                /* 0..1 */
  int ge;                     /* 1: Gilbert-Elliott instead of |loss| */
  double ge_p, ge_r, ge_1h, ge_1k;
  mc_tstamp delay, jitter;
  double reorder;             /* 0..1 */
  double duplicate;           /* 0..1 */
  double corrupt;             /* 0..1 */
  uint64_t rate_bps;          /* 0 = unlimited */
  uint32_t queue_limit;       /* with rate_bps; 0 = unlimited */
} mc_netem_config;

typedef struct {
  uint64_t offered, dropped_loss, dropped_queue, duplicated, corrupted,
      reordered, delivered;
} mc_netem_stats;

typedef struct {
  mc_netem_config cfg;
  mc_rng rng;
  int ge_bad;                 /* Gilbert-Elliott state: 1 in Bad */
  mc_tstamp busy_until;       /* rate limit: when the line is free */
  uint32_t queued;            /* rate limit: datagrams waiting (see decide) */
  mc_netem_stats stats;
} mc_netem;

/* What happens to one datagram. */
typedef struct {
  int copies;                 /* 0 (dropped), 1 or 2 */
  mc_tstamp at[2];            /* delivery time of each copy */
  int corrupt_bit[2];         /* bit index to flip in each copy, or -1 */
} mc_netem_verdict;

/* Checks |cfg| (probabilities in [0,1], jitter <= delay is not required).
 * Returns 0 or MC_ERR_INVAL. */
int mc_netem_config_check(const mc_netem_config *cfg);

/* Initializes |n|. Returns 0 or MC_ERR_INVAL. */
int mc_netem_init(mc_netem *n, const mc_netem_config *cfg, uint64_t seed);

/* Decides the fate of a datagram of |len| bytes offered at |now|. With a
 * rate limit, the caller must call mc_netem_left() when a copy it was told
 * about leaves the line... (see .c); without one, decisions are independent
 * of the caller's queue. */
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
  mc_netem_pkt *heap;         /* binary min-heap on (at, order) */
  size_t n, cap;
  uint64_t order;
} mc_netem_link;

int mc_netem_link_init(mc_netem_link *l, const mc_netem_config *cfg,
                       uint64_t seed);
void mc_netem_link_free(mc_netem_link *l);

/* Offers a copy of |data| at |now|. Returns the number of copies queued
 * (0, 1, 2), or MC_ERR_NOMEM. */
int mc_netem_link_send(mc_netem_link *l, const uint8_t *data, size_t len,
                       uint64_t ctx, mc_tstamp now);

/* Takes the next datagram due at or before |now| into |buf| (|cap| bytes).
 * Returns its length (> 0) and stores its ctx, 0 when none is due, or
 * MC_ERR_BUFFER_TOO_SMALL. */
int mc_netem_link_recv(mc_netem_link *l, mc_tstamp now, uint8_t *buf,
                       size_t cap, uint64_t *ctx);

/* When the next datagram is due, or MC_TSTAMP_NEVER. */
mc_tstamp mc_netem_link_expiry(const mc_netem_link *l);

#endif
