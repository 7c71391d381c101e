/*
 * mc_server_int.h: the state the files of the server share, internal to
 * the core (mc_server.c, mc_server_handshake.c, mc_server_session.c,
 * mc_server_request.c, mc_server_push.c; mc_server_path.c keeps its own
 * state, in mc_server_path.h).
 *
 * Layout: sessions live in |by_id| (session id -> session) and, while
 * established, in |by_user| (user id -> session) and in the online list of
 * each of their groups. A session with something to send sits on the ready
 * list; every other session sits in the timer heap under its next deadline.
 * Nothing here blocks: password work goes out as jobs, storage is called
 * synchronously (the host makes it fast: local SQLite or memory).
 */
#ifndef MC_SERVER_INT_H
#define MC_SERVER_INT_H

#include "mc_server.h"
#include "mc_server_path.h"

#include "mc_error.h"
#include "mc_heap.h"
#include "mc_map.h"
#include "mc_rate.h"
#include "mc_wire.h"

#define UNREL_QUEUE_MAX 1024 /* unreliable answers waiting for poll_tx */
#define CLOSING_LINGER (10 * MC_SEC)
#define UNRECORDED_MAX 256   /* acknowledged pushes kept unrecorded */
#define UNRECORDED_RETRY MC_SEC

typedef enum { SESS_ESTABLISHED, SESS_CLOSING } sess_state;

/* What a reliable body was, so its acknowledgement can be acted on. */
typedef enum { REC_OTHER, REC_DELIVER, REC_RECEIPT } rec_kind;
typedef struct {
  rec_kind kind;
  uint64_t msg_id, group_id, sender_id, to_id;
} push_rec;

/* A push that |user_id| acknowledged but the store failed to record
 * (MC-139), with the time its delivery is to be recorded at. */
typedef struct {
  uint64_t user_id;
  uint64_t at_ms;
  push_rec r;
} unrecorded;

/* An idle session's bytes are the server's memory at scale (issue 13 wants
 * at most 1.5 KiB each at 10,000 sessions), so what only some sessions use
 * is allocated on first use and freed when it empties (|recs|, |groups|,
 * the arq's rings), and the flags are bytes, grouped to leave no padding. */
typedef struct sess {
  uint64_t id;
  uint8_t token[MC_TOKEN_LEN];
  uint64_t user_id;
  uint64_t nonce;              /* of the handshake that made it */
  mc_server_path path;         /* its address and budget (MC-140) */
  mc_tstamp last_heard;
  mc_tstamp closing_deadline;
  mc_arq arq;

  /* Records of reliable bodies in submit order; pop_acked gives tags in the
   * same order, so the head record always belongs to the next acked tag. */
  push_rec *recs;
  size_t rec_head, rec_n, rec_cap;

  /* Delivery cursor: every pending message with id <= enqueued_upto is in
   * the send stream. caught_up: the last fetch found nothing beyond it, and
   * every message stored since was pushed directly. */
  uint64_t enqueued_upto, watermark;
  uint64_t receipt_upto;
  uint32_t missed;
  /* Delivers and Receipts pushed and not yet acked; together at most
   * push_window (MC-133), and while both kinds are pending each stays
   * within its share of it (push_room in mc_server_push.c). */
  uint32_t delivers_inflight, receipts_inflight;

  /* The user's groups, |n_groups| of them (at most MC_GROUPS_PER_USER_MAX)
   * in an array of |groups_cap|: NULL while there are none (most sessions
   * of a chat service are in no group, and a full inline array was a
   * quarter of the struct). */
  uint64_t *groups;
  size_t n_groups, groups_cap;

  uint64_t pong_time;
  mc_rate msg_rate;            /* SendMessages (MC-150) */
  mc_rate log_rate;            /* request-log lines (MC-153) */
  uint64_t sent_bytes;         /* the user's, as the store counts them
                                  (MC-151); one session per user, so this
                                  copy is the only one that changes */
  uint32_t log_dropped;        /* lines not logged since the last one */
  uint32_t mark;               /* presence fan-out generation */

  size_t heap_idx;             /* SIZE_MAX when not in the heap */
  mc_tstamp deadline;
  struct sess *ready_next, *ready_prev;

  char name[MC_NAME_MAX + 1];
  uint8_t state;               /* sess_state */
  uint8_t blocked;             /* something is due that the budget does not
                                  let out: its timers wait for a datagram */
  uint8_t presence;            /* wants Presence pushes */
  uint8_t caught_up, backlog_done;
  uint8_t receipts_caught_up;
  uint8_t pong_owed;
  uint8_t failed;              /* a body could not be queued: end it */
  uint8_t in_ready;
} sess;

typedef struct {
  sess **v;
  size_t n, cap;
} sess_list;

typedef struct {
  uint64_t job_id;
  mc_auth_job job;
  int polled;
  int is_register;
  char name[MC_NAME_MAX + 1];
  uint64_t nonce;
  int presence;
  uint64_t user_id;            /* login: the user being checked */
  uint32_t turn;               /* jobs of its prefix queued before it:
                                  lower turns are taken first (MC-136) */
  int no_user;                 /* login of an unknown name: verified
                                  against a dummy hash, then AUTH_FAILED */
  mc_addr addr;
  size_t req_len;              /* anti-amplification bound */
} auth_pending;

/* A login rate-limit bucket (MC-51, MC-134). A full bucket carries no
 * information, so it is the only kind the table may forget. */
typedef enum {
  RATE_HOST,                   /* handshakes of an address (MC-51) */
  RATE_PAIR,                   /* of a name from an address, with backoff */
  RATE_REG_HOST,               /* Registers of an address per hour (MC-137) */
  RATE_REG_PREFIX              /* of an address prefix per hour */
} rate_kind;

typedef struct {
  uint64_t key;                /* keyed hash of kind and what it counts;
                                  0: free */
  mc_rate r;                   /* attempts; a new entry comes in holding
                                  more than any burst and leaves full */
  uint32_t fails;              /* pair buckets: failed Logins since the
                                  bucket was last full (the backoff) */
  rate_kind kind;
} rate_bucket;

/* The table: RATE_SETS sets of RATE_WAYS buckets; a key lives in the set
 * its hash picks, in any way of it. */
#define RATE_SETS 2048
#define RATE_WAYS 8
#define RATE_BACKOFF_MAX 6     /* refill interval at most 64 times longer */

typedef struct {
  mc_addr to;
  size_t len;
  uint8_t data[MC_DATAGRAM_MAX];
} unrel_dgram;

struct mc_server {
  mc_server_config cfg;
  mc_store store;
  mc_server_callbacks cb;
  const mc_mem *mem;           /* cb.mem */
  mc_server_stats stats;

  mc__map by_id, by_user, groups_online;
  mc__heap heap;               /* of sess *, least deadline first */
  sess *ready_head, *ready_tail;

  unrel_dgram *unrel;
  size_t unrel_head, unrel_n;

  auth_pending *auth;          /* handshakes waiting for password work */
  size_t auth_n, auth_cap;
  uint64_t next_job_id;

  rate_bucket rate[RATE_SETS * RATE_WAYS];
  uint32_t mark_gen;

  /* Acknowledgements the store failed to record: not pushed again while
   * they are here, recorded at the next retry (MC-139). One that finds
   * the array full is left to be pushed again in a later session, as
   * after a restart. */
  unrecorded unrec[UNRECORDED_MAX];
  size_t unrec_n;
  mc_tstamp unrec_retry;       /* when to try recording them again */
};

/* Functions shared by the server's files. They carry the core's internal
 * prefix (mc__, STYLE.md), so they cannot clash with a program's own
 * functions; only the server's files include this header. */

/* mc_server.c */
uint64_t mc__server_wall_ms(const mc_server *srv, mc_tstamp now);
void mc__server_slog(mc_server *srv, mc_tstamp now, const mc_addr *peer,
                     const char *user, uint64_t sid, const char *type, int code,
                     const char *detail);
/* A line of session |s|'s, within its share of the log (MC-153); one with
 * |always| is logged whatever the share, with the count left out. */
void mc__server_sess_log(mc_server *srv, sess *s, mc_tstamp now,
                         const char *type, int code, const char *detail,
                         int always);
void mc__server_unrel_push(mc_server *srv, const mc_addr *to,
                           const uint8_t *data, size_t len);
size_t mc__server_send_error(mc_server *srv, const mc_addr *to, uint64_t sid,
                             const ProtobufCBinaryData *token,
                             Mychat__ErrorCode code, const char *text,
                             uint64_t nonce, size_t limit);
/* Queues Error{code, text} with |s|'s header to its address, within its
 * budget (MC-140). */
void mc__server_sess_error(mc_server *srv, sess *s, Mychat__ErrorCode code,
                           const char *text);

/* mc_server_session.c */
/* The session with the earliest deadline in the timer heap, or NULL. */
static inline sess *heap_first(const mc_server *srv) {
  sess **top = mc__heap_top(&srv->heap);
  return top ? *top : NULL;
}
void mc__server_heap_init(mc_server *srv);
void mc__server_heap_schedule(mc_server *srv, sess *s);
void mc__server_make_ready(mc_server *srv, sess *s);
void mc__server_ready_remove(mc_server *srv, sess *s);
int mc__server_sess_join_group(mc_server *srv, sess *s, uint64_t gid);
void mc__server_sess_leave_group(mc_server *srv, sess *s, uint64_t gid);
void mc__server_sess_free(mc_server *srv, sess *s);
void mc__server_sess_end(mc_server *srv, sess *s, Mychat__ErrorCode code,
                         const char *why, int linger, mc_tstamp now);
int mc__server_sess_load_groups(mc_server *srv, sess *s);
sess *mc__server_sess_create(mc_server *srv, const auth_pending *p,
                             mc_tstamp now);

/* mc_server_push.c */
int mc__server_sess_submit(mc_server *srv, sess *s, const Mychat__Envelope *env,
                           const push_rec *r);
void mc__server_sess_pump(mc_server *srv, sess *s);
void mc__server_sess_notify_message(mc_server *srv, sess *s,
                                    const mc_store_msg *m);
void mc__server_push_presence(mc_server *srv, const sess *subject, int online);
void mc__server_handle_acked(mc_server *srv, sess *s, mc_tstamp now);
/* Tries again to record the acknowledgements the store failed to record,
 * once srv->unrec_retry has come. */
void mc__server_unrec_retry(mc_server *srv, mc_tstamp now);

/* mc_server_handshake.c */
void mc__server_handle_handshake(mc_server *srv, const mc_addr *from,
                                 const Mychat__Envelope *env, size_t len,
                                 mc_tstamp now);

/* mc_server_request.c */
void mc__server_handle_request(mc_server *srv, sess *s, Mychat__Envelope *env,
                               mc_tstamp now);

#endif
