/*
 * mc_arq.h: the reliability layer for one direction pair of one session.
 *
 * An mc_arq holds a send stream (bodies waiting for an acknowledgement) and a
 * receive stream (reordering and duplicate suppression) for one peer. It does
 * no I/O: the session layer hands it bodies and acks, and asks it what to
 * transmit and when. The algorithm is PROTOCOL.md's section "Reliability"
 * (MC-70 .. MC-93); in short:
 *
 * - Sequence numbers are uint32, start at 1 in each direction, and grow by
 *   one per reliable body. Seq 0 marks an unreliable datagram.
 * - At most |window| bodies are in flight (sent, not cumulatively acked).
 *   Bodies submitted beyond that wait in order, with their seq already given.
 * - An ack carries the cumulative seq and up to MC_ACK_RANGES_MAX selective
 *   ranges above it (the lowest ones), plus how long it was held back.
 * - RTT: a sample is taken when an ack newly covers a body sent exactly once
 *   (Karn), from the most recently sent such body; the ack's delay_us is
 *   subtracted (capped at max_ack_delay) when the result stays >= min_rtt.
 *   First sample: srtt = r, rttvar = r/2. Then rttvar = 3/4 rttvar +
 *   1/4 |srtt - r|, srtt = 7/8 srtt + 1/8 r (RFC 6298).
 *   rto = srtt + max(4 rttvar, 1 ms) + max_ack_delay, clamped to
 *   [min_rto, max_rto]; initial_rto before any sample.
 * - Retransmission timeout: a body is due again at last_sent + (rto << backoff).
 *   Each timeout (one or more bodies found due by mc_arq_next_tx) doubles
 *   the backoff (backoff += 1, at most 6); any ack that newly acknowledges a
 *   body resets backoff to 0. A body due again after max_retries
 *   retransmissions makes the stream give up (MC_ERR_GAVE_UP).
 * - Fast retransmit: a body not selectively acked while 3 or more higher
 *   seqs are is retransmitted at once, once per transmission, without
 *   changing the backoff (RFC 9002's packet threshold).
 * - Receiving: seqs in [next_expected, next_expected + window) are taken;
 *   below that, or already held, is a duplicate (dropped, acked at once);
 *   above is dropped and acked at once. In-order arrivals are acked after
 *   max_ack_delay or at once when two are unacked; anything out of order is
 *   acked at once. Taken bodies come out of mc_arq_pop() in seq order,
 *   exactly once.
 * - The application learns that a sent body reached the peer when the
 *   cumulative ack passes it: mc_arq_pop_acked() gives the submitted tags in
 *   seq order.
 */
#ifndef MC_ARQ_H
#define MC_ARQ_H

#include <stddef.h>
#include <stdint.h>

#include "mc_time.h"
#include "mychat.pb-c.h"

typedef struct {
  uint32_t window;          /* bodies in flight at most; 1..256 (default 32) */
  uint32_t queue_max;       /* bodies waiting beyond the window (default 1024) */
  uint32_t max_retries;     /* retransmissions of one body before giving up (8) */
  mc_tstamp initial_rto;    /* before the first RTT sample (500 ms) */
  mc_tstamp min_rto;        /* (200 ms) */
  mc_tstamp max_rto;        /* (8 s) */
  mc_tstamp max_ack_delay;  /* (20 ms) */
  /* Frees items left in the receive buffer at mc_arq_free(); may be NULL. */
  void (*item_free)(void *item);
} mc_arq_config;

typedef struct {
  uint64_t submitted;       /* bodies handed to mc_arq_submit */
  uint64_t tx_first;        /* first transmissions */
  uint64_t tx_retrans;      /* retransmissions (timeout and fast) */
  uint64_t tx_fast;         /* of which fast retransmissions */
  uint64_t timeouts;        /* retransmission timeouts */
  uint64_t acked;           /* bodies cumulatively acked */
  uint64_t rx_taken;        /* bodies taken (each seq once) */
  uint64_t rx_dup;          /* duplicate arrivals dropped */
  uint64_t rx_out_of_window;/* arrivals above the window dropped */
  uint64_t rx_reordered;    /* bodies taken out of order */
  uint64_t acks_sent;       /* acks filled by mc_arq_fill_ack */
} mc_arq_stats;

/* One body in the send stream. Internal layout; read only through the API. */
typedef struct mc__arq_out {
  uint32_t seq;
  uint64_t tag;
  uint8_t *body;            /* owned; |len| bytes */
  size_t len;
  mc_tstamp last_sent;      /* 0 until first sent */
  uint32_t tx_count;        /* transmissions so far */
  uint8_t sacked;           /* selectively acked */
  uint8_t fast_done;        /* fast-retransmitted since last_sent */
} mc__arq_out;

typedef struct {
  mc_arq_config cfg;
  mc_arq_stats stats;

  /* Send stream. |out| is a ring of |out_cap| slots holding seqs
   * [snd_una, snd_next), the first |window| of them may be in flight.
   * Invariant: snd_una <= snd_sent <= snd_next; seqs < snd_sent were sent at
   * least once. */
  mc__arq_out *out;
  uint32_t out_cap;
  uint32_t out_head;        /* ring index of snd_una */
  uint32_t snd_una;         /* lowest unacked seq */
  uint32_t snd_sent;        /* next seq never sent */
  uint32_t snd_next;        /* next seq to give out */
  uint32_t acked_pending;   /* tags of acked bodies not yet popped */
  uint64_t *acked_tags;     /* ring of |out_cap| tags waiting for pop_acked */
  uint32_t acked_head;
  uint32_t backoff;
  int gave_up;

  /* RTT estimator; valid once has_rtt. */
  int has_rtt;
  mc_tstamp srtt, rttvar, min_rtt, rto;

  /* Receive stream. |in| is a ring of |window| slots for seqs
   * [rcv_next, rcv_next + window); a NULL slot has not arrived. */
  void **in;
  uint32_t in_head;         /* ring index of rcv_next */
  uint32_t rcv_next;        /* next seq to hand to mc_arq_pop */
  uint32_t rcv_delivered;   /* next seq mc_arq_pop will return */
  int rcv_any;              /* something was received: acks are meaningful */
  uint32_t unacked_in_order;/* in-order arrivals since the last ack */
  mc_tstamp ack_deadline;   /* MC_TSTAMP_NEVER when no ack is owed */
  mc_tstamp ack_owed_since; /* when the oldest unacked arrival came */
} mc_arq;

/* Fills |cfg| with the defaults above. */
void mc_arq_config_default(mc_arq_config *cfg);

/* Initializes |a| with a copy of |cfg| (NULL for defaults). Returns 0, or
 * MC_ERR_INVAL (window or queue out of range), MC_ERR_NOMEM. */
int mc_arq_init(mc_arq *a, const mc_arq_config *cfg);

/* Releases everything |a| holds (unsent bodies, buffered items via
 * cfg.item_free). |a| may be re-initialized afterwards. */
void mc_arq_free(mc_arq *a);

/* ---- sending ---- */

/* Queues a copy of |body| (|len| bytes) for reliable delivery and stores its
 * seq in |*seq| (may be NULL). |tag| comes back from mc_arq_pop_acked() once
 * the peer has it. Returns 0, or one of: MC_ERR_QUEUE_FULL (window plus
 * queue_max bodies are outstanding), MC_ERR_GAVE_UP, MC_ERR_LIMIT (seq
 * space used up), MC_ERR_NOMEM. */
int mc_arq_submit(mc_arq *a, const uint8_t *body, size_t len, uint64_t tag,
                  uint32_t *seq);

/* Bodies submitted but not yet cumulatively acked. */
size_t mc_arq_outstanding(const mc_arq *a);

/* Free room for new bodies before mc_arq_submit fails with QUEUE_FULL. */
size_t mc_arq_room(const mc_arq *a);

/* A body to put on the wire. |body| stays valid until the next call on the
 * same mc_arq other than the const getters. */
typedef struct {
  uint32_t seq;
  const uint8_t *body;
  size_t len;
  int retransmission;       /* 1 if this seq was sent before */
} mc_arq_tx;

/* Picks the next body to transmit at |now|: a body due for retransmission
 * (fast first, then timed out, lowest seq first), else the next new body
 * within the window. Marks it sent at |now|. Returns 1 and fills |tx|, 0
 * when nothing is to be sent now, or MC_ERR_GAVE_UP (and keeps returning it)
 * once a body has been retransmitted max_retries times and timed out again. */
int mc_arq_next_tx(mc_arq *a, mc_tstamp now, mc_arq_tx *tx);

/* Takes an ack from the peer. Returns 0, or MC_ERR_BAD_FIELD when it
 * acknowledges a seq never sent or its ranges are not ascending, disjoint
 * and above cumulative (the ack is then ignored as a whole). */
int mc_arq_on_ack(mc_arq *a, const Mychat__Ack *ack, mc_tstamp now);

/* Pops the tag of the next cumulatively acked body, in seq order. Returns 1
 * and stores it in |*tag|, or 0 when none is left. */
int mc_arq_pop_acked(mc_arq *a, uint64_t *tag);

/* ---- receiving ---- */

/* Takes reliable body |item| with |seq| (> 0) arriving at |now|. Returns 1
 * when taken (|a| owns |item| until mc_arq_pop returns it), 0 when it is a
 * duplicate or above the window (not taken: the caller still owns |item|;
 * an ack is owed at once), or MC_ERR_BAD_FIELD for seq 0. */
int mc_arq_on_data(mc_arq *a, uint32_t seq, void *item, mc_tstamp now);

/* Returns the next item in seq order, handing ownership to the caller, or
 * NULL when the next seq has not arrived. */
void *mc_arq_pop(mc_arq *a);

/* 1 when an ack is owed and its deadline is <= |now| (the session must then
 * send a datagram carrying an ack, an ack-only one if nothing else). */
int mc_arq_ack_due(const mc_arq *a, mc_tstamp now);

/* 1 if the receive stream has taken anything, so an ack means something. */
int mc_arq_has_ack(const mc_arq *a);

/* Fills |ack| (initialized by the caller with MYCHAT__ACK__INIT) with the
 * current receive state, pointing ack->ranges at |ranges|/|range_bufs|
 * (caller storage of MC_ACK_RANGES_MAX each). Clears the owed ack. */
void mc_arq_fill_ack(mc_arq *a, Mychat__Ack *ack, Mychat__AckRange *range_bufs,
                     Mychat__AckRange **ranges, mc_tstamp now);

/* ---- timers and state ---- */

/* The earliest time at which mc_arq_next_tx or mc_arq_ack_due will have
 * something new to do, or MC_TSTAMP_NEVER. */
mc_tstamp mc_arq_expiry(const mc_arq *a);

/* Current retransmission timeout (with backoff) and smoothed RTT. */
mc_tstamp mc_arq_rto(const mc_arq *a);
mc_tstamp mc_arq_srtt(const mc_arq *a);

const mc_arq_stats *mc_arq_get_stats(const mc_arq *a);

#endif
