/*
 * mc_arq.c: the reliability layer (see mc_arq.h for the algorithm).
 *
 * Everything here is bounded by the window (at most MC_ARQ_WINDOW_MAX bodies
 * in flight), so the per-call scans over the flight are cheap and keep the
 * code simple; nothing scans the waiting queue.
 */
#include "mc_arq.h"

#include <stdlib.h>
#include <string.h>

#include "mc_error.h"
#include "mychat.pb-c.h"

/* The ring of the send stream starts this small and doubles on demand, so an
 * idle session costs little even with a large queue_max. */
#define MC__ARQ_OUT_INITIAL 16

/* RTT samples above this are cut to it: no real path is that slow, and it
 * keeps 7 * srtt far from overflowing whatever the caller's clock does. */
#define MC__ARQ_RTT_SAMPLE_MAX (3600 * MC_SEC)

/* One past the last usable seq. */
#define MC__ARQ_SEQ_END ((uint64_t)UINT32_MAX + 1)

void mc_arq_config_default(mc_arq_config *cfg) {
  *cfg = (mc_arq_config){
      .window = MC_ARQ_WINDOW_DEFAULT,
      .queue_max = MC_ARQ_QUEUE_DEFAULT,
      .max_retries = 12,
      .initial_rto = 500 * MC_MSEC,
      .min_rto = 200 * MC_MSEC,
      .max_rto = 4 * MC_SEC,
      .max_ack_delay = 20 * MC_MSEC,
      .item_free = NULL,
      .mem = NULL,
  };
}

static int config_valid(const mc_arq_config *c) {
  return c->window >= 1 && c->window <= MC_ARQ_WINDOW_MAX &&
         c->queue_max <= MC_ARQ_QUEUE_MAX &&
         c->max_retries <= MC_ARQ_RETRIES_MAX && c->min_rto >= MC_MSEC &&
         c->min_rto <= c->initial_rto && c->initial_rto <= c->max_rto &&
         c->max_rto <= MC_ARQ_RTO_LIMIT &&
         c->max_ack_delay <= MC_ARQ_RTO_LIMIT;
}

int mc_arq_init(mc_arq *a, const mc_arq_config *cfg) {
  mc_arq_config c;
  if (cfg)
    c = *cfg;
  else
    mc_arq_config_default(&c);
  memset(a, 0, sizeof *a);
  if (!config_valid(&c))
    return MC_ERR_INVAL;
  /* The rings are allocated on first use and released whenever they empty:
   * most sessions idle, and an idle stream should cost no buffers. */
  a->cfg = c;
  a->snd_popped = a->snd_una = a->snd_sent = a->snd_next = 1;
  a->rto = c.initial_rto;
  a->rcv_pop = a->rcv_next = 1;
  a->ack_deadline = MC_TSTAMP_NEVER;
  return 0;
}

/* The slot of send seq |seq|, which must be in [snd_popped, snd_next). */
static mc__arq_out *out_slot(const mc_arq *a, uint64_t seq) {
  return &a->out[(a->out_head + (seq - a->snd_popped)) % a->out_cap];
}

/* The slot of receive seq |seq|, which must be in [rcv_pop, rcv_pop +
 * window). */
static void **in_slot(const mc_arq *a, uint64_t seq) {
  return &a->in[(a->in_head + (seq - a->rcv_pop)) % a->cfg.window];
}

void mc_arq_free(mc_arq *a) {
  if (a->out)
    for (uint64_t s = a->snd_popped; s < a->snd_next; s++)
      mc__free(a->cfg.mem, out_slot(a, s)->body);
  if (a->in)
    for (uint32_t i = 0; i < a->cfg.window; i++)
      if (a->in[i] && a->cfg.item_free)
        a->cfg.item_free(a->in[i], a->cfg.mem);
  mc__free(a->cfg.mem, a->out);
  mc__free(a->cfg.mem, a->in);
  memset(a, 0, sizeof *a);
}

/* ---- sending ---- */

size_t mc_arq_outstanding(const mc_arq *a) {
  return (size_t)(a->snd_next - a->snd_una);
}

size_t mc_arq_room(const mc_arq *a) {
  if (a->gave_up)
    return 0;
  uint64_t limit = (uint64_t)a->cfg.window + a->cfg.queue_max;
  uint64_t room = limit - (a->snd_next - a->snd_popped);
  uint64_t seqs_left = MC__ARQ_SEQ_END - a->snd_next;
  return (size_t)(room < seqs_left ? room : seqs_left);
}

/* Doubles the send ring (up to window + queue_max slots), unrolling it so
 * that snd_popped sits in slot 0. Returns 0 or MC_ERR_NOMEM. */
static int out_grow(mc_arq *a) {
  uint32_t limit = a->cfg.window + a->cfg.queue_max;
  uint32_t cap = a->out_cap ? a->out_cap * 2 : MC__ARQ_OUT_INITIAL;
  if (cap > limit)
    cap = limit;
  mc__arq_out *out = mc__calloc(a->cfg.mem, cap, sizeof *out);
  if (!out)
    return MC_ERR_NOMEM;
  uint32_t n = (uint32_t)(a->snd_next - a->snd_popped);
  for (uint32_t i = 0; i < n; i++)
    out[i] = *out_slot(a, a->snd_popped + i);
  mc__free(a->cfg.mem, a->out);
  a->out = out;
  a->out_cap = cap;
  a->out_head = 0;
  return 0;
}

int mc_arq_submit(mc_arq *a, const uint8_t *body, size_t len, uint64_t tag,
                  uint32_t *seq) {
  if (body == NULL && len > 0)
    return MC_ERR_INVAL;
  if (a->gave_up)
    return MC_ERR_GAVE_UP;
  if (a->snd_next >= MC__ARQ_SEQ_END)
    return MC_ERR_LIMIT;
  if (mc_arq_room(a) == 0)
    return MC_ERR_QUEUE_FULL;
  if (a->snd_next - a->snd_popped == a->out_cap && out_grow(a) != 0)
    return MC_ERR_NOMEM;
  /* malloc(0) may return NULL, which would read as out of memory. */
  uint8_t *copy = mc__malloc(a->cfg.mem, len ? len : 1);
  if (!copy)
    return MC_ERR_NOMEM;
  if (len)
    memcpy(copy, body, len);
  mc__arq_out *o = out_slot(a, a->snd_next);
  *o = (mc__arq_out){.tag = tag, .body = copy, .len = len};
  if (seq)
    *seq = (uint32_t)a->snd_next;
  a->snd_next++;
  a->stats.submitted++;
  return 0;
}

/* The retransmission timeout with backoff applied, at most max_rto (or
 * rto, if that is larger): a chat cannot wait minutes after a few losses in
 * a row, and a dead peer is found by the session timeout, not here. */
static mc_tstamp backed_off_rto(const mc_arq *a) {
  mc_tstamp t = a->rto << a->backoff;
  mc_tstamp cap = a->cfg.max_rto > a->rto ? a->cfg.max_rto : a->rto;
  return t < cap ? t : cap;
}

static mc_tstamp add_sat(mc_tstamp t, mc_tstamp d) {
  return t > MC_TSTAMP_NEVER - d ? MC_TSTAMP_NEVER : t + d;
}

/* Marks every in-flight body whose retransmission deadline has passed, as
 * one timeout: the backoff grows once however many bodies it finds. Returns
 * 0, or MC_ERR_GAVE_UP when one of them has no retransmission left. */
static int detect_timeouts(mc_arq *a, mc_tstamp now) {
  mc_tstamp span = backed_off_rto(a);
  int found = 0;
  for (uint64_t s = a->snd_una; s < a->snd_sent; s++) {
    mc__arq_out *o = out_slot(a, s);
    if (o->sacked || o->retx || add_sat(o->last_sent, span) > now)
      continue;
    if (o->tx_count > a->cfg.max_retries) {
      a->gave_up = 1;
      return MC_ERR_GAVE_UP;
    }
    o->retx = MC__ARQ_RETX_TIMEOUT;
    found = 1;
  }
  if (found) {
    a->stats.timeouts++;
    if (a->backoff < MC__ARQ_BACKOFF_MAX)
      a->backoff++;
  }
  return 0;
}

/* Returns the lowest in-flight seq waiting for retransmission of |kind|, or
 * 0 if none does. */
static uint64_t find_retx(const mc_arq *a, uint8_t kind) {
  for (uint64_t s = a->snd_una; s < a->snd_sent; s++)
    if (out_slot(a, s)->retx == kind)
      return s;
  return 0;
}

int mc_arq_next_tx(mc_arq *a, mc_tstamp now, mc_arq_tx *tx) {
  return mc_arq_next_tx_within(a, now, SIZE_MAX, tx);
}

int mc_arq_next_tx_within(mc_arq *a, mc_tstamp now, size_t max_len,
                          mc_arq_tx *tx) {
  if (a->gave_up)
    return MC_ERR_GAVE_UP;
  /* A timeout already found is served before looking for the next one, so
   * that the bodies it found share one backoff step. */
  if (find_retx(a, MC__ARQ_RETX_TIMEOUT) == 0) {
    int rc = detect_timeouts(a, now);
    if (rc < 0)
      return rc;
  }
  uint64_t seq = find_retx(a, MC__ARQ_RETX_FAST);
  if (seq == 0)
    seq = find_retx(a, MC__ARQ_RETX_TIMEOUT);
  if (seq == 0) {
    if (a->snd_sent == a->snd_next ||
        a->snd_sent >= a->snd_una + a->cfg.window)
      return 0;
    seq = a->snd_sent;
  }
  mc__arq_out *o = out_slot(a, seq);
  /* The body that is next stays next: a smaller one behind it does not
   * overtake it, so the order of MC-79 holds whatever the budget. */
  if (o->len > max_len)
    return 0;
  if (seq == a->snd_sent)
    a->snd_sent++;
  if (o->tx_count == 0) {
    a->stats.tx_first++;
  } else {
    a->stats.tx_retrans++;
    if (o->retx == MC__ARQ_RETX_FAST)
      a->stats.tx_fast++;
  }
  /* A fast retransmission is allowed once per timed sending (MC-81). */
  o->fast_ok = o->retx != MC__ARQ_RETX_FAST;
  o->tx_count++;
  o->last_sent = now;
  o->retx = MC__ARQ_RETX_NONE;
  *tx = (mc_arq_tx){.seq = (uint32_t)seq,
                    .body = o->body,
                    .len = o->len,
                    .retransmission = o->tx_count > 1};
  return 1;
}

/* Checks |ack| as a whole before anything of it is used. Returns 0 or
 * MC_ERR_BAD_FIELD. */
static int ack_valid(const mc_arq *a, const Mychat__Ack *ack) {
  if ((uint64_t)ack->cumulative >= a->snd_sent ||
      ack->n_ranges > MC_ACK_RANGES_MAX ||
      (ack->n_ranges > 0 && ack->ranges == NULL))
    return MC_ERR_BAD_FIELD;
  uint64_t floor = ack->cumulative; /* every range starts above this */
  for (size_t i = 0; i < ack->n_ranges; i++) {
    const Mychat__AckRange *r = ack->ranges[i];
    if (r == NULL || r->first <= floor || r->first > r->last ||
        (uint64_t)r->last >= a->snd_sent)
      return MC_ERR_BAD_FIELD;
    floor = r->last;
  }
  return 0;
}

static void rtt_sample(mc_arq *a, mc_tstamp r, mc_tstamp ack_delay) {
  const mc_arq_config *c = &a->cfg;
  if (r > MC__ARQ_RTT_SAMPLE_MAX)
    r = MC__ARQ_RTT_SAMPLE_MAX;
  /* min_rtt is the raw minimum, so the peer's claimed delay cannot pull the
   * sample below what the path has shown it can do (RFC 9002, 5.3). */
  if (!a->has_rtt || r < a->min_rtt)
    a->min_rtt = r;
  mc_tstamp d = ack_delay < c->max_ack_delay ? ack_delay : c->max_ack_delay;
  if (r >= a->min_rtt + d)
    r -= d;
  if (!a->has_rtt) {
    a->srtt = r;
    a->rttvar = r / 2;
    a->has_rtt = 1;
  } else {
    mc_tstamp diff = a->srtt > r ? a->srtt - r : r - a->srtt;
    a->rttvar = (3 * a->rttvar + diff) / 4;
    a->srtt = (7 * a->srtt + r) / 8;
  }
  mc_tstamp var = 4 * a->rttvar > MC_MSEC ? 4 * a->rttvar : MC_MSEC;
  mc_tstamp rto = a->srtt + var + c->max_ack_delay;
  if (rto < c->min_rto)
    rto = c->min_rto;
  if (rto > c->max_rto)
    rto = c->max_rto;
  a->rto = rto;
}

/* Marks for fast retransmission every in-flight body not acknowledged while
 * three or more higher seqs sent no earlier than its latest sending are
 * selectively acked (RFC 9002's packet threshold, counted as RACK does:
 * only what was sent after it proves this sending lost, so a body just
 * resent by a timeout is not fast-resent at once on old news), once per
 * timed sending of the body. Such a body is due again: if it has no
 * retransmission left, the stream gives up. The flight is at most a
 * window, so the quadratic walk is bounded. */
static void detect_fast(mc_arq *a) {
  for (uint64_t s = a->snd_una; s < a->snd_sent; s++) {
    mc__arq_out *o = out_slot(a, s);
    if (o->sacked || !o->fast_ok || o->retx != MC__ARQ_RETX_NONE)
      continue;
    uint32_t above = 0;
    for (uint64_t h = s + 1; h < a->snd_sent && above < 3; h++) {
      const mc__arq_out *p = out_slot(a, h);
      above += p->sacked && p->last_sent >= o->last_sent;
    }
    if (above < 3)
      continue;
    if (o->tx_count > a->cfg.max_retries) {
      a->gave_up = 1;
      return;
    }
    o->retx = MC__ARQ_RETX_FAST;
  }
}

/* Notes that the body in |o| is newly acknowledged and whether it offers a
 * better RTT sample (Karn: only bodies sent once; of those the latest sent). */
static void newly_acked(const mc__arq_out *o, int *newly, int *have_sample,
                        mc_tstamp *sample_sent) {
  *newly = 1;
  if (o->tx_count == 1 && (!*have_sample || o->last_sent > *sample_sent)) {
    *have_sample = 1;
    *sample_sent = o->last_sent;
  }
}

int mc_arq_on_ack(mc_arq *a, const Mychat__Ack *ack, mc_tstamp now) {
  if (ack == NULL)
    return MC_ERR_INVAL;
  int rc = ack_valid(a, ack);
  if (rc < 0)
    return rc;
  int newly = 0, have_sample = 0;
  mc_tstamp sample_sent = 0;
  /* An older cumulative than snd_una - 1 is a stale ack: no progress. */
  for (; a->snd_una <= ack->cumulative; a->snd_una++) {
    mc__arq_out *o = out_slot(a, a->snd_una);
    if (!o->sacked)
      newly_acked(o, &newly, &have_sample, &sample_sent);
    mc__free(a->cfg.mem, o->body);
    o->body = NULL;
    a->stats.acked++;
  }
  for (size_t i = 0; i < ack->n_ranges; i++) {
    const Mychat__AckRange *r = ack->ranges[i];
    uint64_t s = r->first > a->snd_una ? r->first : a->snd_una;
    for (; s <= r->last; s++) {
      mc__arq_out *o = out_slot(a, s);
      if (o->sacked)
        continue;
      o->sacked = 1;
      o->retx = MC__ARQ_RETX_NONE;
      newly_acked(o, &newly, &have_sample, &sample_sent);
    }
  }
  if (newly)
    a->backoff = 0;
  if (have_sample)
    rtt_sample(a, now > sample_sent ? now - sample_sent : 0, ack->delay_us);
  detect_fast(a);
  return 0;
}

int mc_arq_pop_acked(mc_arq *a, uint64_t *tag) {
  if (a->snd_popped == a->snd_una)
    return 0;
  *tag = a->out[a->out_head].tag;
  a->out_head = (a->out_head + 1) % a->out_cap;
  a->snd_popped++;
  if (a->snd_popped == a->snd_next) {
    mc__free(a->cfg.mem, a->out);
    a->out = NULL;
    a->out_cap = a->out_head = 0;
  }
  return 1;
}

/* ---- receiving ---- */

/* Owes an ack, for an arrival at |now|, no later than |at|. */
static void ack_by(mc_arq *a, mc_tstamp now, mc_tstamp at) {
  if (a->ack_deadline == MC_TSTAMP_NEVER)
    a->ack_owed_since = now;
  if (at < a->ack_deadline)
    a->ack_deadline = at;
}

int mc_arq_on_data(mc_arq *a, uint32_t seq, void *item, mc_tstamp now) {
  if (seq == 0)
    return MC_ERR_BAD_FIELD;
  if (item == NULL)
    return MC_ERR_INVAL;
  if (seq < a->rcv_next ||
      (seq < a->rcv_pop + a->cfg.window && a->in != NULL &&
       *in_slot(a, seq) != NULL)) {
    /* The peer resends because it missed our ack: tell it again at once. */
    a->stats.rx_dup++;
    ack_by(a, now, now);
    return 0;
  }
  if (seq >= a->rcv_pop + a->cfg.window) {
    a->stats.rx_out_of_window++;
    ack_by(a, now, now);
    return 0;
  }
  if (a->in == NULL &&
      (a->in = mc__calloc(a->cfg.mem, a->cfg.window, sizeof *a->in)) == NULL)
    return MC_ERR_NOMEM;
  *in_slot(a, seq) = item;
  a->stats.rx_taken++;
  a->rcv_any = 1;
  uint64_t high = a->rcv_high;
  if (seq > a->rcv_high)
    a->rcv_high = seq;
  if (seq != a->rcv_next) {
    /* A gap: the peer should hear about it soon (fast retransmit). */
    a->stats.rx_reordered++;
    ack_by(a, now, now);
    return 1;
  }
  while (a->rcv_next < a->rcv_pop + a->cfg.window &&
         *in_slot(a, a->rcv_next) != NULL)
    a->rcv_next++;
  if (high > seq) {
    /* It came after a higher seq (it fills a gap, or part of one): the
     * peer is recovering a loss and learns at once what is now covered. */
    ack_by(a, now, now);
  } else if (++a->unacked_in_order >= 2) {
    ack_by(a, now, now);
  } else {
    ack_by(a, now, add_sat(now, a->cfg.max_ack_delay));
  }
  return 1;
}

size_t mc_arq_ready_with(const mc_arq *a, uint32_t seq) {
  size_t n = (size_t)(a->rcv_next - a->rcv_pop);
  if (seq == 0 || seq != a->rcv_next || seq >= a->rcv_pop + a->cfg.window)
    return n;
  uint64_t s = a->rcv_next + 1;
  while (s < a->rcv_pop + a->cfg.window && a->in != NULL &&
         *in_slot(a, s) != NULL)
    s++;
  return n + (size_t)(s - a->rcv_next);
}

void *mc_arq_pop(mc_arq *a) {
  if (a->rcv_pop == a->rcv_next)
    return NULL;
  void *item = a->in[a->in_head];
  a->in[a->in_head] = NULL;
  a->in_head = (a->in_head + 1) % a->cfg.window;
  a->rcv_pop++;
  if (a->rcv_pop == a->rcv_next && a->rcv_high < a->rcv_pop) {
    /* Nothing is held above the popped seqs: the ring is empty. */
    mc__free(a->cfg.mem, a->in);
    a->in = NULL;
    a->in_head = 0;
  }
  return item;
}

int mc_arq_ack_due(const mc_arq *a, mc_tstamp now) {
  return a->ack_deadline != MC_TSTAMP_NEVER && a->ack_deadline <= now;
}

int mc_arq_has_ack(const mc_arq *a) { return a->rcv_any; }

void mc_arq_fill_ack(mc_arq *a, Mychat__Ack *ack, Mychat__AckRange *range_bufs,
                     Mychat__AckRange **ranges, mc_tstamp now) {
  mc_arq_peek_ack(a, ack, range_bufs, ranges, now);
  a->ack_deadline = MC_TSTAMP_NEVER;
  a->unacked_in_order = 0;
  a->stats.acks_sent++;
}

void mc_arq_peek_ack(const mc_arq *a, Mychat__Ack *ack,
                     Mychat__AckRange *range_bufs, Mychat__AckRange **ranges,
                     mc_tstamp now) {
  size_t n = 0;
  /* No ring: nothing is held above rcv_next, so there are no ranges. */
  uint64_t end = a->in ? a->rcv_pop + a->cfg.window : 0;
  for (uint64_t s = a->rcv_next + 1; s < end; s++) {
    if (*in_slot(a, s) == NULL)
      continue;
    if (n > 0 && (uint64_t)range_bufs[n - 1].last + 1 == s) {
      range_bufs[n - 1].last = (uint32_t)s;
      continue;
    }
    if (n == MC_ACK_RANGES_MAX)
      break;
    range_bufs[n] = (Mychat__AckRange)MYCHAT__ACK_RANGE__INIT;
    range_bufs[n].first = range_bufs[n].last = (uint32_t)s;
    ranges[n] = &range_bufs[n];
    n++;
  }
  ack->cumulative = (uint32_t)(a->rcv_next - 1);
  ack->n_ranges = n;
  ack->ranges = n ? ranges : NULL;
  /* MC-84: held back since the oldest arrival it is owed for. */
  mc_tstamp held = 0;
  if (a->ack_deadline != MC_TSTAMP_NEVER && now > a->ack_owed_since)
    held = now - a->ack_owed_since;
  ack->delay_us = held > UINT32_MAX ? UINT32_MAX : (uint32_t)held;
}

/* ---- timers and state ---- */

uint64_t mc_arq_cum_acked(const mc_arq *a) { return a->snd_una - 1; }

uint64_t mc_arq_next_unsent(const mc_arq *a) { return a->snd_sent; }

mc_tstamp mc_arq_expiry(const mc_arq *a) {
  mc_tstamp t = a->ack_deadline;
  if (a->gave_up)
    return t;
  if (a->snd_sent < a->snd_next && a->snd_sent < a->snd_una + a->cfg.window)
    return 0;
  mc_tstamp span = backed_off_rto(a);
  for (uint64_t s = a->snd_una; s < a->snd_sent; s++) {
    const mc__arq_out *o = out_slot(a, s);
    if (o->retx)
      return 0;
    if (!o->sacked) {
      mc_tstamp due = add_sat(o->last_sent, span);
      if (due < t)
        t = due;
    }
  }
  return t;
}

mc_tstamp mc_arq_rto(const mc_arq *a) { return backed_off_rto(a); }

mc_tstamp mc_arq_srtt(const mc_arq *a) { return a->has_rtt ? a->srtt : 0; }

const mc_arq_stats *mc_arq_get_stats(const mc_arq *a) { return &a->stats; }
