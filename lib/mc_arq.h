/*
 * mc_arq.h: the reliability layer for one direction pair of one session.
 *
 * An mc_arq holds a send stream (bodies waiting for an acknowledgement) and a
 * receive stream (reordering and duplicate suppression) for one peer. It does
 * no I/O: the session layer hands it bodies and acks, and asks it what to
 * transmit and when. The algorithm is PROTOCOL.md's section 6 "Reliability"
 * (MC-70 .. MC-93); in short:
 *
 * - Sequence numbers are uint32, start at 1 in each direction, and grow by
 *   one per reliable body; they never wrap: once UINT32_MAX is given out,
 *   mc_arq_submit fails with MC_ERR_LIMIT (the session must end). Seq 0
 *   marks an unreliable datagram.
 * - At most |window| bodies are in flight (seqs from the lowest not
 *   cumulatively acked, up to |window| of them, whether selectively acked
 *   or not). Bodies submitted beyond that wait in order, with their seq
 *   already given. Both ends must use the same window.
 * - An ack carries the cumulative seq (every seq up to it arrived), up to
 *   MC_ACK_RANGES_MAX selective ranges above it (the lowest maximal runs), and
 *   delay_us: how long the ack was held back, i.e. the time since the oldest
 *   arrival it is owed for (0 when none is owed: a piggybacked ack).
 * - An ack is checked as a whole first: its cumulative and every range end
 *   must be below the lowest seq never sent, ranges must be at most
 *   MC_ACK_RANGES_MAX, each first <= last, above cumulative and above the
 *   previous range. Otherwise it is rejected (MC_ERR_BAD_FIELD) and nothing
 *   of it is used. A stale ack (reordered, or lost acks caught up) is valid:
 *   it makes no progress and undoes nothing.
 * - RTT: a sample is taken when an ack newly acknowledges (cumulatively or
 *   selectively) at least one body sent exactly once (Karn), from the most
 *   recently sent such body: r = now - its sending time. min_rtt is the
 *   smallest raw sample. The ack's delay_us, capped at max_ack_delay, is
 *   subtracted when the result stays >= min_rtt (RFC 9002, 5.3).
 *   First sample: srtt = r, rttvar = r/2. Then rttvar = 3/4 rttvar +
 *   1/4 |srtt - r|, srtt = 7/8 srtt + 1/8 r (RFC 6298), in integer
 *   microseconds (rttvar = (3 rttvar + |srtt - r|) / 4, srtt = (7 srtt + r)
 *   / 8, rounded down). rto = srtt + max(4 rttvar, 1 ms) + max_ack_delay,
 *   clamped to [min_rto, max_rto]; initial_rto before any sample.
 * - Retransmission timeout: a body not selectively acked is due again at
 *   last_sent + min(rto << backoff, max_rto) (a few losses in a row must
 *   not stall a chat for minutes; dead peers are found by session timeouts).
 *   Each timeout (one or more bodies found due by one mc_arq_next_tx call;
 *   they are all resent) increases backoff by 1, at most to 6; any ack that
 *   newly acknowledges a body resets backoff to 0.
 * - Fast retransmit: a body not acknowledged while 3 or more higher seqs are
 *   selectively acked (checked whenever an ack is taken) is resent at once,
 *   without changing the backoff (RFC 9002's packet threshold), at most once
 *   per timed transmission of the body (its first one or a timeout
 *   retransmission).
 * - Giving up: a body that has been retransmitted max_retries times (timeout
 *   and fast retransmissions counted) and becomes due again, by timeout or
 *   by the fast rule, makes the stream give up (MC_ERR_GAVE_UP): no body is
 *   ever sent more than 1 + max_retries times.
 * - Receiving: seqs in [next_pop, next_pop + window) are taken, where
 *   next_pop is the next seq mc_arq_pop() returns (so when the application
 *   pops everything after each datagram it is [cumulative + 1,
 *   cumulative + 1 + window), MC-91's window; items left unpopped shrink
 *   it, which keeps the buffer bounded). Below cumulative + 1,
 *   or already held, is a duplicate (dropped, acked at once); above the
 *   window is dropped and acked at once. An in-order arrival (the next seq,
 *   with nothing higher taken before it) is acked within max_ack_delay, or
 *   at once when it is the second one since the last ack; any other
 *   arrival (a gap, or one that fills a gap) is acked at once. Taken bodies
 *   come out of mc_arq_pop() in seq order, exactly once.
 * - The application learns that a sent body reached the peer when the
 *   cumulative ack passes it: mc_arq_pop_acked() gives the submitted tags in
 *   seq order (selective acks give none: the peer's application may not
 *   have the body yet).
 */
#ifndef MC_ARQ_H
#define MC_ARQ_H

#include <stddef.h>
#include <stdint.h>

#include "mc_codec.h" /* MC_ACK_RANGES_MAX */
#include "mc_mem.h"
#include "mc_time.h"

/* The two calls that take protobuf-c Ack messages (mychat.pb-c.h, the
 * core's) name them by struct tag, so this header needs no generated one. */
struct Mychat__Ack;
struct Mychat__AckRange;

typedef struct {
  uint32_t window;          /* bodies in flight at most; 1..256 (default 32) */
  uint32_t queue_max;       /* bodies waiting beyond the window; 0..65536
                               (default 1024) */
  uint32_t max_retries;     /* retransmissions of one body (timeout and
                               fast) before giving up; 0..64 (default 12:
                               a lone body at 30 % loss each way gives
                               up once in 6,000, not once in 400) */
  mc_tstamp initial_rto;    /* before the first RTT sample (500 ms) */
  mc_tstamp min_rto;        /* (200 ms) */
  mc_tstamp max_rto;        /* (4 s: also caps the backed-off interval) */
  mc_tstamp max_ack_delay;  /* (20 ms) */
  /* Frees items left in the receive buffer at mc_arq_free(); may be NULL.
   * It gets |mem| below, so items allocated with it go back to it. */
  void (*item_free)(void *item, const mc_mem *mem);
  const mc_mem *mem;        /* allocator of the arq's own memory (NULL:
                               libc); must outlive the arq */
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

/* Defaults of the configuration (PROTOCOL.md section 3). */
#define MC_ARQ_WINDOW_DEFAULT 32
#define MC_ARQ_QUEUE_DEFAULT 1024

/* Limits of the configuration, checked by mc_arq_init. */
#define MC_ARQ_WINDOW_MAX 256
#define MC_ARQ_QUEUE_MAX 65536
#define MC_ARQ_RETRIES_MAX 64
#define MC_ARQ_RTO_LIMIT (3600 * MC_SEC)   /* max_rto and max_ack_delay */

/* The backoff exponent stops here: rto << 6 is 64 times the rto. */
#define MC__ARQ_BACKOFF_MAX 6

/* Why a body waits for retransmission (mc__arq_out.retx). */
enum { MC__ARQ_RETX_NONE = 0, MC__ARQ_RETX_FAST = 1, MC__ARQ_RETX_TIMEOUT = 2 };

/* One body in the send stream. Internal layout; read only through the API.
 * Its seq is implied by its place in the ring. */
typedef struct mc__arq_out {
  uint64_t tag;
  uint8_t *body;            /* owned; |len| bytes; NULL once acked */
  size_t len;
  mc_tstamp last_sent;      /* time of its latest sending (if sent) */
  uint32_t tx_count;        /* transmissions so far */
  uint8_t sacked;           /* selectively acked: never resent */
  uint8_t retx;             /* MC__ARQ_RETX_*: waiting to be resent */
  uint8_t fast_ok;          /* no fast retransmission since its latest
                               timed sending (first or after a timeout) */
} mc__arq_out;

typedef struct {
  mc_arq_config cfg;
  mc_arq_stats stats;

  /* Send stream. Seqs are uint32 on the wire; the counters here are uint64
   * so that "one past UINT32_MAX" (seq space used up) is representable and
   * no comparison wraps. Invariant:
   * 1 <= snd_popped <= snd_una <= snd_sent <= snd_next <= UINT32_MAX + 1,
   * snd_sent <= snd_una + window, snd_next - snd_popped <= out_cap.
   * |out| is a ring of |out_cap| slots (grown on demand up to window +
   * queue_max) holding seqs [snd_popped, snd_next); out_head is the slot of
   * snd_popped. Seqs below snd_una are cumulatively acked (body freed, tag
   * waiting for mc_arq_pop_acked), [snd_una, snd_sent) are in flight, the
   * rest wait for the window. */
  mc__arq_out *out;
  uint32_t out_cap;
  uint32_t out_head;
  uint64_t snd_popped;      /* lowest seq whose tag was not popped */
  uint64_t snd_una;         /* lowest seq not cumulatively acked */
  uint64_t snd_sent;        /* lowest seq never sent */
  uint64_t snd_next;        /* next seq to give out */
  uint32_t backoff;         /* 0..MC__ARQ_BACKOFF_MAX */
  int gave_up;

  /* RTT estimator (microseconds). srtt, rttvar and min_rtt are valid once
   * has_rtt; rto always (initial_rto before the first sample). */
  int has_rtt;
  mc_tstamp srtt, rttvar, min_rtt, rto;

  /* Receive stream. |in| is a ring of |window| slots for seqs
   * [rcv_pop, rcv_pop + window); in_head is the slot of rcv_pop; a NULL slot
   * holds nothing. Invariant: rcv_pop <= rcv_next; every seq below rcv_next
   * arrived (the cumulative ack is rcv_next - 1), seqs in [rcv_pop,
   * rcv_next) wait for mc_arq_pop, and rcv_next's slot (if rcv_next is in
   * the ring) is empty. */
  void **in;
  uint32_t in_head;
  uint64_t rcv_pop;         /* next seq mc_arq_pop returns */
  uint64_t rcv_next;        /* lowest seq that has not arrived */
  uint64_t rcv_high;        /* highest seq taken (0 before any) */
  int rcv_any;              /* something was taken: acks are meaningful */
  uint32_t unacked_in_order;/* in-order arrivals since the last ack */
  mc_tstamp ack_deadline;   /* MC_TSTAMP_NEVER when no ack is owed */
  mc_tstamp ack_owed_since; /* the oldest arrival the owed ack is for */
} mc_arq;

/* Fills |cfg| with the defaults above. Returns nothing. */
void mc_arq_config_default(mc_arq_config *cfg);

/* Initializes |a| with a copy of |cfg| (NULL for defaults). Returns 0, or
 * MC_ERR_INVAL (window not in 1..MC_ARQ_WINDOW_MAX, queue_max above
 * MC_ARQ_QUEUE_MAX, max_retries above MC_ARQ_RETRIES_MAX, min_rto below
 * 1 ms, not min_rto <= initial_rto <= max_rto <= MC_ARQ_RTO_LIMIT, or
 * max_ack_delay above MC_ARQ_RTO_LIMIT). It allocates nothing: the rings
 * come on first use and go whenever they empty. On failure |a| holds
 * nothing (mc_arq_free on it is harmless). */
int mc_arq_init(mc_arq *a, const mc_arq_config *cfg);

/* Releases everything |a| holds (unacked bodies, buffered items via
 * cfg.item_free). |a| may be re-initialized or freed again afterwards.
 * Returns nothing. */
void mc_arq_free(mc_arq *a);

/* ---- sending ---- */

/* Queues a copy of |body| (|len| bytes) for reliable delivery and stores its
 * seq in |*seq| (may be NULL). |tag| comes back from mc_arq_pop_acked() once
 * the peer has it. Returns 0, or one of: MC_ERR_INVAL (|body| NULL with
 * |len| > 0), MC_ERR_GAVE_UP, MC_ERR_LIMIT (seq space used up),
 * MC_ERR_QUEUE_FULL (window plus queue_max bodies are outstanding or have
 * tags waiting for mc_arq_pop_acked), MC_ERR_NOMEM. */
int mc_arq_submit(mc_arq *a, const uint8_t *body, size_t len, uint64_t tag,
                  uint32_t *seq);

/* Returns the number of bodies submitted but not yet cumulatively acked. */
size_t mc_arq_outstanding(const mc_arq *a);

/* Returns how many more bodies mc_arq_submit takes now: 0 once it would fail
 * with QUEUE_FULL, LIMIT or GAVE_UP. */
size_t mc_arq_room(const mc_arq *a);

/* A body to put on the wire. |body| is the stream's copy: it stays valid
 * until the next call on the same mc_arq other than the const getters. */
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
 * once a body that has been retransmitted max_retries times became due
 * again (see "Giving up" above). */
int mc_arq_next_tx(mc_arq *a, mc_tstamp now, mc_arq_tx *tx);

/* As mc_arq_next_tx, but when the body it would pick is longer than
 * |max_len| it returns 0 and leaves that body next (unsent, or still due
 * for retransmission): a server held to an anti-amplification budget
 * (PROTOCOL.md 5.5) sends it once the budget allows. */
int mc_arq_next_tx_within(mc_arq *a, mc_tstamp now, size_t max_len,
                          mc_arq_tx *tx);

/* Takes an ack from the peer (checked as described above). Returns 0, or
 * MC_ERR_BAD_FIELD when it acknowledges a seq never sent, has more than
 * MC_ACK_RANGES_MAX ranges, a NULL range, or ranges that are not ascending,
 * disjoint and above cumulative (the ack is then ignored as a whole), or
 * MC_ERR_INVAL for a NULL |ack|. */
int mc_arq_on_ack(mc_arq *a, const struct Mychat__Ack *ack, mc_tstamp now);

/* Pops the tag of the next cumulatively acked body, in seq order. Returns 1
 * and stores it in |*tag|, or 0 when none is left. */
int mc_arq_pop_acked(mc_arq *a, uint64_t *tag);

/* ---- receiving ---- */

/* Takes reliable body |item| with |seq| (> 0) arriving at |now|. Returns 1
 * when taken (|a| owns |item| until mc_arq_pop returns it), 0 when it is a
 * duplicate or above the window (not taken: the caller still owns |item|;
 * an ack is owed at once), MC_ERR_BAD_FIELD for seq 0, or MC_ERR_INVAL for
 * a NULL |item| (NULL is mc_arq_pop's "nothing"), or MC_ERR_NOMEM (the
 * receive ring could not be allocated; not taken). */
int mc_arq_on_data(mc_arq *a, uint32_t seq, void *item, mc_tstamp now);

/* Returns the next item in seq order, handing ownership to the caller, or
 * NULL when the next seq has not arrived. */
void *mc_arq_pop(mc_arq *a);

/* Returns how many items mc_arq_pop would return if a body with |seq| were
 * taken now (|seq| 0: none is): those waiting already, and when |seq| is
 * the next to arrive, it and the run of held seqs right above it. A
 * receiver sizes what it must set aside for one datagram by this, before
 * mc_arq_on_data, so that it never takes a body it has no room for. */
size_t mc_arq_ready_with(const mc_arq *a, uint32_t seq);

/* Returns 1 when an ack is owed and its deadline is <= |now| (the session
 * must then send a datagram carrying an ack, an ack-only one if nothing
 * else), else 0. */
int mc_arq_ack_due(const mc_arq *a, mc_tstamp now);

/* Returns 1 if the receive stream has taken anything, so an ack means
 * something (the session may piggyback one on every datagram), else 0. */
int mc_arq_has_ack(const mc_arq *a);

/* Fills |ack| (initialized by the caller with MYCHAT__ACK__INIT) with the
 * current receive state at |now|, pointing ack->ranges at |ranges|, whose
 * entries point into |range_bufs| (caller storage of MC_ACK_RANGES_MAX
 * each; this function initializes them). Clears the owed ack and the count
 * of unacked in-order arrivals. Returns nothing. */
void mc_arq_fill_ack(mc_arq *a, struct Mychat__Ack *ack,
                     struct Mychat__AckRange *range_bufs,
                     struct Mychat__AckRange **ranges, mc_tstamp now);

/* As mc_arq_fill_ack, but changes nothing: the owed ack stays owed. A
 * sender sizes a datagram with it before deciding to send one. */
void mc_arq_peek_ack(const mc_arq *a, struct Mychat__Ack *ack,
                     struct Mychat__AckRange *range_bufs,
                     struct Mychat__AckRange **ranges, mc_tstamp now);

/* ---- timers and state ---- */

/* Returns the highest seq the peer has cumulatively acknowledged (0 before
 * any). */
uint64_t mc_arq_cum_acked(const mc_arq *a);

/* Returns the lowest seq never transmitted: every body sent from now on
 * has a seq at least this (or is a retransmission of a lower one). */
uint64_t mc_arq_next_unsent(const mc_arq *a);

/* Returns the earliest time at which mc_arq_next_tx or mc_arq_ack_due will
 * have something to do, valid until the next call that changes |a|:
 * - 0 (any |now| is past it) when mc_arq_next_tx has something to send
 *   already: a pending retransmission or a new body that fits in the window;
 * - otherwise the earliest of the owed ack's deadline and, for each body in
 *   flight not selectively acked, last_sent + min(rto << backoff, max_rto) (after giving
 *   up, only the ack deadline counts);
 * - MC_TSTAMP_NEVER when there is neither.
 * Before that time mc_arq_next_tx returns 0 and mc_arq_ack_due 0. */
mc_tstamp mc_arq_expiry(const mc_arq *a);

/* Return the current retransmission timeout (min(rto << backoff, max_rto)) and the
 * smoothed RTT (0 before the first sample), in microseconds. */
mc_tstamp mc_arq_rto(const mc_arq *a);
mc_tstamp mc_arq_srtt(const mc_arq *a);

/* Returns the counters of |a| (valid as long as |a|). */
const mc_arq_stats *mc_arq_get_stats(const mc_arq *a);

#endif
