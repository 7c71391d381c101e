#include "mc_netem.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mc_error.h"

/* Saturating arithmetic: the line's numbers only overflow for absurd
 * datagram lengths, and then "busy for ever" is the honest answer. */
static uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b) {
  return (a != 0 && b > UINT64_MAX / a) ? UINT64_MAX : a * b;
}

static int is_prob(double p) { return p >= 0.0 && p <= 1.0; } /* NaN fails */

int mc_netem_config_check(const mc_netem_config *cfg) {
  if (cfg == NULL)
    return MC_ERR_INVAL;
  const double probs[] = {cfg->loss,  cfg->ge_p,    cfg->ge_r,
                          cfg->ge_1h, cfg->ge_1k,   cfg->reorder,
                          cfg->duplicate, cfg->corrupt};
  for (size_t i = 0; i < sizeof probs / sizeof probs[0]; i++)
    if (!is_prob(probs[i]))
      return MC_ERR_INVAL;
  if (cfg->ge != 0 && cfg->ge != 1)
    return MC_ERR_INVAL;
  if (cfg->delay > MC_NETEM_MAX_DELAY || cfg->jitter > MC_NETEM_MAX_DELAY ||
      cfg->rate_bps > MC_NETEM_MAX_RATE)
    return MC_ERR_INVAL;
  return 0;
}

int mc_netem_init(mc_netem *n, const mc_netem_config *cfg, uint64_t seed) {
  int rv = mc_netem_config_check(cfg);
  if (rv < 0)
    return rv;
  memset(n, 0, sizeof *n);
  n->cfg = *cfg;
  mc_rng_seed(&n->rng, seed);
  return 0;
}

int mc_netem_reconfigure(mc_netem *n, const mc_netem_config *cfg) {
  int rv = mc_netem_config_check(cfg);
  if (rv < 0)
    return rv;
  n->cfg = *cfg;
  n->busy_frac = 0;
  return 0;
}

/* True with probability |p|. p = 0 never fires and p = 1 always does,
 * because mc_rng_uniform is in [0, 1). */
static int chance(mc_rng *r, double p) { return mc_rng_uniform(r) < p; }

/* Steps the loss model once and says whether this datagram is lost. */
static int lose(mc_netem *n) {
  const mc_netem_config *c = &n->cfg;
  if (!c->ge)
    return chance(&n->rng, c->loss);
  if (n->ge_bad) {
    if (chance(&n->rng, c->ge_r))
      n->ge_bad = 0;
  } else if (chance(&n->rng, c->ge_p)) {
    n->ge_bad = 1;
  }
  return chance(&n->rng, n->ge_bad ? c->ge_1h : c->ge_1k);
}

/* The datagram's transmission time in units of 1/rate_bps microseconds:
 * len * 8 bits * 10^6 us/s. */
static uint64_t tx_units(size_t len) {
  return sat_mul(sat_mul((uint64_t)len, 8), MC_SEC);
}

/* True when the backlog ahead of a datagram of |len| bytes offered at |now|
 * exceeds |queue_limit| transmissions of that size. Compared in units of
 * 1/rate_bps microseconds, so equal sizes compare exactly. */
static int queue_full(const mc_netem *n, size_t len, mc_tstamp now) {
  uint64_t limit = n->cfg.queue_limit;
  if (limit == 0 || n->busy_until < now ||
      (n->busy_until == now && n->busy_frac == 0))
    return 0;
  uint64_t backlog =
      sat_add(sat_mul(n->busy_until - now, n->cfg.rate_bps), n->busy_frac);
  return backlog > sat_mul(limit, tx_units(len));
}

/* Puts a datagram of |len| bytes on the line at |now| and returns when its
 * last bit has left, rounded up to a whole microsecond. */
static mc_tstamp transmit(mc_netem *n, size_t len, mc_tstamp now) {
  uint64_t rate = n->cfg.rate_bps;
  if (n->busy_until < now) {
    n->busy_until = now;
    n->busy_frac = 0;
  }
  uint64_t units = sat_add(n->busy_frac, tx_units(len));
  n->busy_until = sat_add(n->busy_until, units / rate);
  n->busy_frac = units % rate;
  return n->busy_frac > 0 ? sat_add(n->busy_until, 1) : n->busy_until;
}

/* Delivery time of one copy that left the line at |leave|. */
static mc_tstamp delivery_time(mc_netem *n, mc_tstamp leave) {
  const mc_netem_config *c = &n->cfg;
  if (chance(&n->rng, c->reorder)) {
    n->stats.reordered++;
    return leave;
  }
  /* jitter <= MC_NETEM_MAX_DELAY, so 2 * jitter + 1 cannot overflow. */
  uint64_t u = mc_rng_below(&n->rng, 2 * c->jitter + 1);
  uint64_t at = sat_add(sat_add(leave, c->delay), u);
  return at < sat_add(leave, c->jitter) ? leave : at - c->jitter;
}

/* Which bit of a |len|-byte copy to flip, or -1. */
static int corrupt_bit(mc_netem *n, size_t len) {
  if (len == 0 || !chance(&n->rng, n->cfg.corrupt))
    return -1;
  n->stats.corrupted++;
  uint64_t bits = sat_mul((uint64_t)len, 8);
  return (int)mc_rng_below(&n->rng, bits > INT_MAX ? INT_MAX : bits);
}

void mc_netem_decide(mc_netem *n, size_t len, mc_tstamp now,
                     mc_netem_verdict *v) {
  v->copies = 0;
  for (int i = 0; i < 2; i++) {
    v->at[i] = 0;
    v->corrupt_bit[i] = -1;
  }
  n->stats.offered++;
  if (lose(n)) {
    n->stats.dropped_loss++;
    return;
  }
  if (n->cfg.rate_bps != 0 && queue_full(n, len, now)) {
    n->stats.dropped_queue++;
    return;
  }
  v->copies = 1;
  if (chance(&n->rng, n->cfg.duplicate)) {
    n->stats.duplicated++;
    v->copies = 2;
  }
  for (int i = 0; i < v->copies; i++) {
    mc_tstamp leave = n->cfg.rate_bps != 0 ? transmit(n, len, now) : now;
    v->at[i] = delivery_time(n, leave);
    v->corrupt_bit[i] = corrupt_bit(n, len);
  }
  n->stats.delivered += (uint64_t)v->copies;
}

/* Delivery order: by time, ties in offer order (|order| is unique, so the
 * order is one whatever the heap does with ties). */
static int pkt_before(const void *a, const void *b) {
  const mc_netem_pkt *x = a, *y = b;
  return x->at != y->at ? x->at < y->at : x->order < y->order;
}

int mc_netem_link_init(mc_netem_link *l, const mc_netem_config *cfg,
                       uint64_t seed) {
  int rv = mc_netem_init(&l->model, cfg, seed);
  if (rv < 0)
    return rv;
  mc__heap_init(&l->q, sizeof(mc_netem_pkt), pkt_before, NULL, NULL);
  l->order = 0;
  return 0;
}

void mc_netem_link_free(mc_netem_link *l) {
  for (size_t i = 0; i < l->q.n; i++)
    free(((mc_netem_pkt *)mc__heap_at(&l->q, i))->data);
  mc__heap_free(&l->q);
}

int mc_netem_link_send(mc_netem_link *l, const uint8_t *data, size_t len,
                       uint64_t ctx, mc_tstamp now) {
  if (len == 0 || len > INT_MAX || data == NULL)
    return MC_ERR_INVAL;
  mc_netem_verdict v;
  mc_netem_decide(&l->model, len, now, &v);
  if (v.copies == 0)
    return 0;
  uint8_t *copy[2] = {NULL, NULL};
  /* Room for both copies first, so a verdict is queued whole or not at
   * all. */
  int ok = mc__heap_reserve(&l->q, 2) == 0;
  for (int i = 0; ok && i < v.copies; i++)
    ok = (copy[i] = malloc(len)) != NULL;
  if (!ok) {
    free(copy[0]);
    free(copy[1]);
    return MC_ERR_NOMEM;
  }
  for (int i = 0; i < v.copies; i++) {
    memcpy(copy[i], data, len);
    int bit = v.corrupt_bit[i];
    if (bit >= 0)
      copy[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
    mc_netem_pkt p = {
        .at = v.at[i], .order = l->order++, .ctx = ctx, .len = len,
        .data = copy[i]};
    mc__heap_push(&l->q, &p); /* cannot fail: room was reserved */
  }
  return v.copies;
}

int mc_netem_link_recv(mc_netem_link *l, mc_tstamp now, uint8_t *buf,
                       size_t cap, uint64_t *ctx) {
  mc_netem_pkt *p = mc__heap_top(&l->q);
  if (p == NULL || p->at > now)
    return 0;
  if (p->len > cap)
    return MC_ERR_BUFFER_TOO_SMALL;
  memcpy(buf, p->data, p->len);
  int len = (int)p->len;
  *ctx = p->ctx;
  free(p->data);
  mc__heap_pop(&l->q, NULL);
  return len;
}

mc_tstamp mc_netem_link_expiry(const mc_netem_link *l) {
  const mc_netem_pkt *p = mc__heap_top(&l->q);
  return p == NULL ? MC_TSTAMP_NEVER : p->at;
}
