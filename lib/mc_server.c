/*
 * mc_server.c: the server state machine (PROTOCOL.md sections 5, 7, 8).
 *
 * Layout: sessions live in |by_id| (session id -> session) and, while
 * established, in |by_user| (user id -> session) and in the online list of
 * each of their groups. A session with something to send sits on the ready
 * list; every other session sits in the timer heap under its next deadline.
 * Nothing here blocks: password work goes out as jobs, storage is called
 * synchronously (the host makes it fast: local SQLite or memory).
 */
#include "mc_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_error.h"
#include "mc_map.h"
#include "mc_wire.h"

#define UNREL_QUEUE_MAX 1024 /* unreliable answers waiting for poll_tx */
#define CLOSING_LINGER (10 * MC_SEC)

typedef enum { SESS_ESTABLISHED, SESS_CLOSING } sess_state;

/* What a reliable body was, so its acknowledgement can be acted on. */
typedef enum { REC_OTHER, REC_DELIVER, REC_RECEIPT } rec_kind;
typedef struct {
  rec_kind kind;
  uint64_t msg_id, group_id, sender_id, to_id;
} push_rec;

typedef struct sess {
  uint64_t id;
  uint8_t token[MC_TOKEN_LEN];
  uint64_t user_id;
  char name[MC_NAME_MAX + 1];
  uint64_t nonce;              /* of the handshake that made it */
  mc_addr addr;
  sess_state state;
  int presence;                /* wants Presence pushes */
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
  int caught_up, backlog_done;
  uint32_t missed;
  uint64_t receipt_upto;
  int receipts_caught_up;
  uint32_t pushes_inflight;

  uint64_t groups[MC_GROUPS_PER_USER_MAX];
  size_t n_groups;

  int pong_owed;
  uint64_t pong_time;
  int failed;                  /* a body could not be queued: end it */
  uint32_t mark;               /* presence fan-out generation */

  size_t heap_idx;             /* SIZE_MAX when not in the heap */
  mc_tstamp deadline;
  struct sess *ready_next, *ready_prev;
  int in_ready;
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
  mc_addr addr;
  size_t req_len;              /* anti-amplification bound */
} auth_pending;

typedef struct {
  uint64_t key;
  mc_tstamp t;
  uint32_t tokens_milli;       /* attempts * 1000 */
} rate_bucket;

#define RATE_BUCKETS 4096

typedef struct {
  mc_addr to;
  size_t len;
  uint8_t data[MC_DATAGRAM_MAX];
} unrel_dgram;

struct mc_server {
  mc_server_config cfg;
  mc_store store;
  mc_server_callbacks cb;
  mc_server_stats stats;

  mc__map by_id, by_user, groups_online;
  sess **heap;
  size_t heap_n, heap_cap;
  sess *ready_head, *ready_tail;

  unrel_dgram *unrel;
  size_t unrel_head, unrel_n;

  auth_pending *auth;          /* handshakes waiting for password work */
  size_t auth_n, auth_cap;
  uint64_t next_job_id;

  rate_bucket rate[RATE_BUCKETS];
  uint32_t mark_gen;
};

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

void mc_addr_set(mc_addr *a, const void *bytes, size_t len) {
  if (len > MC_ADDR_MAX)
    len = MC_ADDR_MAX;
  a->len = a->host_len = (uint8_t)len;
  memcpy(a->bytes, bytes, len);
}

void mc_addr_set_ip(mc_addr *a, const void *ip, size_t ip_len, uint16_t port) {
  if (ip_len > MC_ADDR_MAX - 2)
    ip_len = MC_ADDR_MAX - 2;
  memcpy(a->bytes, ip, ip_len);
  a->bytes[ip_len] = (uint8_t)(port >> 8);
  a->bytes[ip_len + 1] = (uint8_t)port;
  a->len = (uint8_t)(ip_len + 2);
  a->host_len = (uint8_t)ip_len;
}

static int addr_eq(const mc_addr *a, const mc_addr *b) {
  return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

static uint64_t wall_ms(const mc_server *srv, mc_tstamp now) {
  return (uint64_t)((int64_t)(now / MC_MSEC) + srv->cfg.wall_offset_ms);
}

/* Constant time, so a wrong token does not reveal how much of it matched. */
static int token_eq(const uint8_t *a, const uint8_t *b) {
  uint8_t d = 0;
  for (size_t i = 0; i < MC_TOKEN_LEN; i++)
    d |= a[i] ^ b[i];
  return d == 0;
}

static void slog(mc_server *srv, mc_tstamp now, const mc_addr *peer,
                 const char *user, uint64_t sid, const char *type, int code,
                 const char *detail) {
  if (srv->cb.log == NULL)
    return;
  mc_server_log rec = {.now = now,
                       .peer = peer,
                       .user = user ? user : "",
                       .session_id = sid,
                       .type = type,
                       .code = code,
                       .detail = detail ? detail : ""};
  srv->cb.log(srv->cb.user_data, &rec);
}

Mychat__ErrorCode mc_server_wire_code(int err) {
  switch (err) {
  case MC_ERR_DECODE:
  case MC_ERR_NO_BODY:
  case MC_ERR_MISSING_FIELD:
  case MC_ERR_BAD_FIELD:
  case MC_ERR_INVAL:
    return MYCHAT__ERROR_CODE__MALFORMED;
  case MC_ERR_BAD_NAME:
    return MYCHAT__ERROR_CODE__BAD_NAME;
  case MC_ERR_BAD_PASSWORD:
    return MYCHAT__ERROR_CODE__BAD_PASSWORD;
  case MC_ERR_BAD_UTF8:
    return MYCHAT__ERROR_CODE__BAD_UTF8;
  case MC_ERR_TEXT_TOO_LONG:
    return MYCHAT__ERROR_CODE__TEXT_TOO_LONG;
  case MC_ERR_STATE:
  case MC_ERR_WRONG_DIRECTION:
    return MYCHAT__ERROR_CODE__BAD_REQUEST;
  case MC_ERR_AUTH:
    return MYCHAT__ERROR_CODE__AUTH_FAILED;
  default:
    return MYCHAT__ERROR_CODE__INTERNAL;
  }
}

/* ------------------------------------------------------------------ */
/* timer heap and ready list                                           */

static int heap_less(const sess *a, const sess *b) {
  return a->deadline < b->deadline;
}

static void heap_set(mc_server *srv, size_t i, sess *s) {
  srv->heap[i] = s;
  s->heap_idx = i;
}

static void heap_up(mc_server *srv, size_t i) {
  sess *s = srv->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!heap_less(s, srv->heap[p]))
      break;
    heap_set(srv, i, srv->heap[p]);
    i = p;
  }
  heap_set(srv, i, s);
}

static void heap_down(mc_server *srv, size_t i) {
  sess *s = srv->heap[i];
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    sess *best = s;
    if (l < srv->heap_n && heap_less(srv->heap[l], best))
      m = l, best = srv->heap[l];
    if (l + 1 < srv->heap_n && heap_less(srv->heap[l + 1], best))
      m = l + 1, best = srv->heap[l + 1];
    if (m == i)
      break;
    heap_set(srv, i, best);
    i = m;
  }
  heap_set(srv, i, s);
}

static void heap_remove(mc_server *srv, sess *s) {
  size_t i = s->heap_idx;
  if (i == SIZE_MAX)
    return;
  s->heap_idx = SIZE_MAX;
  sess *last = srv->heap[--srv->heap_n];
  if (i == srv->heap_n)
    return;
  heap_set(srv, i, last);
  heap_up(srv, i);
  heap_down(srv, last->heap_idx);
}

static mc_tstamp sess_deadline(const mc_server *srv, const sess *s) {
  mc_tstamp d = mc_arq_expiry(&s->arq);
  mc_tstamp limit = s->state == SESS_CLOSING
                        ? s->closing_deadline
                        : s->last_heard + srv->cfg.session_timeout_ms * MC_MSEC;
  return limit < d ? limit : d;
}

/* Puts |s| back in the heap under its current deadline; a session on the
 * ready list is rescheduled when poll_tx has drained it. */
static int heap_schedule(mc_server *srv, sess *s) {
  if (s->in_ready)
    return 0;
  s->deadline = sess_deadline(srv, s);
  if (s->heap_idx != SIZE_MAX) {
    heap_up(srv, s->heap_idx);
    heap_down(srv, s->heap_idx);
    return 0;
  }
  if (mc__reserve(&srv->heap, &srv->heap_cap, srv->heap_n + 1,
                  sizeof *srv->heap) < 0)
    return MC_ERR_NOMEM;
  heap_set(srv, srv->heap_n++, s);
  heap_up(srv, s->heap_idx);
  return 0;
}

/* Moves |s| to the ready list: poll_tx will look at it next. */
static void make_ready(mc_server *srv, sess *s) {
  if (s->in_ready)
    return;
  heap_remove(srv, s);
  s->in_ready = 1;
  s->ready_next = NULL;
  s->ready_prev = srv->ready_tail;
  if (srv->ready_tail)
    srv->ready_tail->ready_next = s;
  else
    srv->ready_head = s;
  srv->ready_tail = s;
}

static void ready_remove(mc_server *srv, sess *s) {
  if (!s->in_ready)
    return;
  if (s->ready_prev)
    s->ready_prev->ready_next = s->ready_next;
  else
    srv->ready_head = s->ready_next;
  if (s->ready_next)
    s->ready_next->ready_prev = s->ready_prev;
  else
    srv->ready_tail = s->ready_prev;
  s->in_ready = 0;
  s->ready_next = s->ready_prev = NULL;
}

/* ------------------------------------------------------------------ */
/* unreliable answers                                                  */

static void unrel_push(mc_server *srv, const mc_addr *to, const uint8_t *data,
                       size_t len) {
  if (srv->unrel_n == UNREL_QUEUE_MAX) {
    /* Answers to unauthenticated traffic are the first thing to shed under
     * a flood: dropping one costs a retransmission, never data. */
    srv->stats.rx_dropped++;
    return;
  }
  unrel_dgram *d = &srv->unrel[(srv->unrel_head + srv->unrel_n++) %
                               UNREL_QUEUE_MAX];
  d->to = *to;
  d->len = len;
  memcpy(d->data, data, len);
}

/* Queues Error{code, text, nonce} to |to| with header |sid| and |token|
 * (NULL: none), in a datagram of at most |limit| bytes: the text is cut (at
 * a UTF-8 boundary) until it fits, and nothing is sent when even an empty
 * one does not (MC-60). */
static void send_error(mc_server *srv, const mc_addr *to, uint64_t sid,
                       const ProtobufCBinaryData *token,
                       Mychat__ErrorCode code, const char *text,
                       uint64_t nonce, size_t limit) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Error err = MYCHAT__ERROR__INIT;
  char t[MC_ERROR_TEXT_MAX + 1];
  snprintf(t, sizeof t, "%s", text);
  err.code = code;
  err.text = t;
  err.client_nonce = nonce;
  env.body_case = MYCHAT__ENVELOPE__BODY_ERROR;
  env.error = &err;
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len, tl = strlen(t);
  for (;;) {
    if (mc__wire_single(&env, sid, token, limit, buf, &len) == 1) {
      unrel_push(srv, to, buf, len);
      return;
    }
    if (tl == 0)
      return;
    tl = tl > 8 ? tl - 8 : 0;
    while (tl > 0 && ((uint8_t)t[tl] & 0xC0) == 0x80)
      tl--;
    t[tl] = '\0';
  }
}

/* ------------------------------------------------------------------ */
/* sessions: reliable pushes                                           */

static int rec_push(sess *s, const push_rec *r) {
  if (s->rec_n == s->rec_cap &&
      mc__ring_grow((void **)&s->recs, &s->rec_head, s->rec_n, &s->rec_cap,
                    sizeof *s->recs, 16) < 0)
    return MC_ERR_NOMEM;
  s->recs[(s->rec_head + s->rec_n++) % s->rec_cap] = *r;
  return 0;
}

/* Submits a reliable body on |s| and remembers what it was. */
static int sess_submit(mc_server *srv, sess *s, const Mychat__Envelope *env,
                       const push_rec *r) {
  static const push_rec other = {.kind = REC_OTHER};
  int rv = mc__wire_submit(&s->arq, env, 0, NULL);
  if (rv == 0)
    rv = rec_push(s, r ? r : &other);
  /* A session whose queue is full (or memory short) cannot keep its
   * promise of a reply or a push; poll_tx ends it, outside whatever loop
   * this call sits in (MC-132). */
  if (rv < 0)
    s->failed = 1;
  make_ready(srv, s);
  return rv;
}

static void reply_result(mc_server *srv, sess *s, uint32_t req_seq,
                         Mychat__ErrorCode code, const char *text) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Result res = MYCHAT__RESULT__INIT;
  char t[MC_ERROR_TEXT_MAX + 1];
  snprintf(t, sizeof t, "%s", text);
  res.request_seq = req_seq;
  res.code = code;
  res.text = t;
  env.body_case = MYCHAT__ENVELOPE__BODY_RESULT;
  env.result = &res;
  sess_submit(srv, s, &env, NULL);
}

static int push_deliver(mc_server *srv, sess *s, const mc_store_msg *m,
                        int missed) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Deliver d = MYCHAT__DELIVER__INIT;
  d.message_id = m->id;
  d.from = (char *)m->sender;
  d.group = (char *)m->group;
  d.text = (char *)m->text;
  d.server_time_ms = m->time_ms;
  d.missed = missed;
  env.body_case = MYCHAT__ENVELOPE__BODY_DELIVER;
  env.deliver = &d;
  push_rec r = {.kind = REC_DELIVER,
                .msg_id = m->id,
                .group_id = m->group_id,
                .sender_id = m->sender_id,
                .to_id = m->to_id};
  int rv = sess_submit(srv, s, &env, &r);
  if (rv == 0) {
    s->pushes_inflight++;
    s->enqueued_upto = m->id;
    if (missed)
      s->missed++;
    srv->stats.delivers_sent++;
  }
  return rv;
}

static void push_backlog_done(mc_server *srv, sess *s) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__BacklogDone bd = MYCHAT__BACKLOG_DONE__INIT;
  bd.count = s->missed;
  env.body_case = MYCHAT__ENVELOPE__BODY_BACKLOG_DONE;
  env.backlog_done = &bd;
  if (sess_submit(srv, s, &env, NULL) == 0)
    s->backlog_done = 1;
}

/* Fills the push window of |s| from the store: missed messages first (the
 * BacklogDone marker after the last of them), then live ones, then
 * receipts. Bounded by push_window per call. */
static void sess_pump(mc_server *srv, sess *s) {
  mc_store_msg batch[16];
  if (s->state != SESS_ESTABLISHED)
    return;
  while (!s->caught_up && s->pushes_inflight < srv->cfg.push_window) {
    size_t want = srv->cfg.push_window - s->pushes_inflight, n = 0;
    if (want > sizeof batch / sizeof batch[0])
      want = sizeof batch / sizeof batch[0];
    if (srv->store.ops->pending(srv->store.st, s->user_id, s->enqueued_upto,
                                batch, want, &n) < 0)
      return; /* store trouble: try again on the next event */
    for (size_t i = 0; i < n; i++) {
      int missed = batch[i].id <= s->watermark;
      if (!missed && !s->backlog_done)
        push_backlog_done(srv, s);
      if (push_deliver(srv, s, &batch[i], missed) < 0)
        return;
    }
    if (n < want)
      s->caught_up = 1;
  }
  if (s->caught_up && !s->backlog_done)
    push_backlog_done(srv, s);

  mc_store_receipt rb[16];
  while (!s->receipts_caught_up &&
         s->pushes_inflight < srv->cfg.push_window) {
    size_t want = srv->cfg.push_window - s->pushes_inflight, n = 0;
    if (want > sizeof rb / sizeof rb[0])
      want = sizeof rb / sizeof rb[0];
    if (srv->store.ops->receipts(srv->store.st, s->user_id, s->receipt_upto,
                                 rb, want, &n) < 0)
      return;
    for (size_t i = 0; i < n; i++) {
      Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
      Mychat__Receipt rc = MYCHAT__RECEIPT__INIT;
      rc.message_id = rb[i].message_id;
      rc.to = rb[i].to;
      rc.delivered_time_ms = rb[i].delivered_ms;
      env.body_case = MYCHAT__ENVELOPE__BODY_RECEIPT;
      env.receipt = &rc;
      push_rec r = {.kind = REC_RECEIPT, .msg_id = rb[i].message_id};
      if (sess_submit(srv, s, &env, &r) < 0)
        return;
      s->pushes_inflight++;
      s->receipt_upto = rb[i].seq;
    }
    if (n < want)
      s->receipts_caught_up = 1;
  }
}

/* A message for |s|'s user was just stored. */
static void sess_notify_message(mc_server *srv, sess *s,
                                const mc_store_msg *m) {
  if (s->state != SESS_ESTABLISHED)
    return;
  /* Pushing directly keeps the common case free of store queries; it is
   * only correct when nothing older is still waiting in the store. */
  if (s->caught_up && s->backlog_done &&
      s->pushes_inflight < srv->cfg.push_window && m->id > s->enqueued_upto) {
    push_deliver(srv, s, m, 0);
    return;
  }
  s->caught_up = 0;
  sess_pump(srv, s);
}

static void push_presence(mc_server *srv, const sess *subject, int online) {
  srv->mark_gen++;
  for (size_t g = 0; g < subject->n_groups; g++) {
    sess_list *l = mc__map_get(&srv->groups_online, subject->groups[g]);
    if (l == NULL)
      continue;
    for (size_t i = 0; i < l->n; i++) {
      sess *t = l->v[i];
      if (t == subject || !t->presence || t->mark == srv->mark_gen ||
          t->state != SESS_ESTABLISHED)
        continue;
      t->mark = srv->mark_gen;
      Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
      Mychat__Presence p = MYCHAT__PRESENCE__INIT;
      p.name = (char *)subject->name;
      p.online = online;
      env.body_case = MYCHAT__ENVELOPE__BODY_PRESENCE;
      env.presence = &p;
      sess_submit(srv, t, &env, NULL);
    }
  }
}

/* ------------------------------------------------------------------ */
/* group online lists                                                  */

static int online_add(mc_server *srv, uint64_t gid, sess *s) {
  sess_list *l = mc__map_get(&srv->groups_online, gid);
  if (l == NULL) {
    l = calloc(1, sizeof *l);
    if (l == NULL || mc__map_put(&srv->groups_online, gid, l) < 0) {
      free(l);
      return MC_ERR_NOMEM;
    }
  }
  if (mc__reserve(&l->v, &l->cap, l->n + 1, sizeof *l->v) < 0)
    return MC_ERR_NOMEM;
  l->v[l->n++] = s;
  return 0;
}

static void online_del(mc_server *srv, uint64_t gid, sess *s) {
  sess_list *l = mc__map_get(&srv->groups_online, gid);
  if (l == NULL)
    return;
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i] == s) {
      l->v[i] = l->v[--l->n];
      break;
    }
  if (l->n == 0) {
    mc__map_del(&srv->groups_online, gid);
    free(l->v);
    free(l);
  }
}

static int sess_join_group(mc_server *srv, sess *s, uint64_t gid) {
  if (s->n_groups == MC_GROUPS_PER_USER_MAX)
    return MC_ERR_LIMIT;
  int rv = online_add(srv, gid, s);
  if (rv == 0)
    s->groups[s->n_groups++] = gid;
  return rv;
}

static void sess_leave_group(mc_server *srv, sess *s, uint64_t gid) {
  for (size_t i = 0; i < s->n_groups; i++)
    if (s->groups[i] == gid) {
      s->groups[i] = s->groups[--s->n_groups];
      online_del(srv, gid, s);
      return;
    }
}

/* ------------------------------------------------------------------ */
/* session life                                                        */

static void sess_free(mc_server *srv, sess *s) {
  heap_remove(srv, s);
  ready_remove(srv, s);
  mc__map_del(&srv->by_id, s->id);
  mc_arq_free(&s->arq);
  free(s->recs);
  free(s);
  srv->stats.sessions--;
}

/* Takes |s| offline: out of the user and group indexes, presence pushed.
 * With |linger| the session stays to finish retransmitting what it owes
 * (the logout Result); otherwise it is freed now. |code| != 0 also tells
 * the client why, in an unreliable Error. */
static void sess_end(mc_server *srv, sess *s, Mychat__ErrorCode code,
                     const char *why, int linger, mc_tstamp now) {
  if (s->state == SESS_ESTABLISHED) {
    /* Replacement keeps the user online and shutdown has no one left to
     * tell, so only logout, timeout and give-up push Presence (MC-125). */
    if (code == MYCHAT__ERROR_CODE__ERROR_NONE)
      push_presence(srv, s, 0);
    while (s->n_groups > 0)
      sess_leave_group(srv, s, s->groups[0]);
    if (mc__map_get(&srv->by_user, s->user_id) == s)
      mc__map_del(&srv->by_user, s->user_id);
    srv->stats.sessions_ended++;
    slog(srv, now, &s->addr, s->name, s->id, "end", code, why);
  }
  if (code != MYCHAT__ERROR_CODE__ERROR_NONE) {
    ProtobufCBinaryData tok = {MC_TOKEN_LEN, s->token};
    send_error(srv, &s->addr, s->id, &tok, code, why, 0, MC_DATAGRAM_MAX);
  }
  if (linger && mc_arq_outstanding(&s->arq) > 0) {
    s->state = SESS_CLOSING;
    s->closing_deadline = now + CLOSING_LINGER;
    make_ready(srv, s);
    return;
  }
  sess_free(srv, s);
}

static void welcome_send(mc_server *srv, const sess *s, const mc_addr *to,
                         size_t limit, mc_tstamp now) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Welcome w = MYCHAT__WELCOME__INIT;
  w.session_id = s->id;
  w.token.data = (uint8_t *)s->token;
  w.token.len = MC_TOKEN_LEN;
  w.client_nonce = s->nonce;
  w.name = (char *)s->name;
  w.server_time_ms = wall_ms(srv, now);
  w.keepalive_ms = srv->cfg.keepalive_ms;
  w.session_timeout_ms = srv->cfg.session_timeout_ms;
  env.body_case = MYCHAT__ENVELOPE__BODY_WELCOME;
  env.welcome = &w;
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len;
  if (mc__wire_single(&env, 0, NULL, limit, buf, &len) == 1)
    unrel_push(srv, to, buf, len);
}

/* Loads the user's groups into the session and the online lists. */
static int sess_load_groups(mc_server *srv, sess *s) {
  mc_store_user g[MC_GROUPS_PER_USER_MAX];
  size_t n = 0;
  int rv = srv->store.ops->user_groups(srv->store.st, s->user_id, "", g,
                                       MC_GROUPS_PER_USER_MAX, &n);
  for (size_t i = 0; rv == 0 && i < n; i++)
    rv = sess_join_group(srv, s, g[i].id);
  return rv;
}

/* The receive stream holds decoded envelopes. */
static void env_free(void *env) { mc_codec_free(env); }

static sess *sess_create(mc_server *srv, const auth_pending *p,
                         mc_tstamp now) {
  sess *s = calloc(1, sizeof *s);
  mc_arq_config acfg = srv->cfg.arq;
  acfg.item_free = env_free;
  if (s == NULL)
    return NULL;
  if (mc_arq_init(&s->arq, &acfg) < 0) {
    free(s);
    return NULL;
  }
  do {
    srv->cb.random(srv->cb.user_data, (uint8_t *)&s->id, sizeof s->id);
  } while (s->id == 0 || mc__map_get(&srv->by_id, s->id) != NULL);
  srv->cb.random(srv->cb.user_data, s->token, MC_TOKEN_LEN);
  s->user_id = p->user_id;
  snprintf(s->name, sizeof s->name, "%s", p->name);
  s->nonce = p->nonce;
  s->addr = p->addr;
  s->presence = p->presence;
  s->last_heard = now;
  s->heap_idx = SIZE_MAX;
  if (mc__map_put(&srv->by_id, s->id, s) < 0) {
    mc_arq_free(&s->arq);
    free(s);
    return NULL;
  }
  srv->stats.sessions++;
  return s;
}

/* The password checked out (or the account was made): replace any older
 * session of the user, start a new one, welcome it, push its backlog. */
static void auth_succeeded(mc_server *srv, auth_pending *p, mc_tstamp now) {
  sess *old = mc__map_get(&srv->by_user, p->user_id);
  int was_online = old != NULL;
  if (old != NULL)
    sess_end(srv, old, MYCHAT__ERROR_CODE__SESSION_REPLACED,
             "logged in elsewhere", 0, now);
  sess *s = sess_create(srv, p, now);
  uint64_t maxid = 0;
  if (s == NULL || sess_load_groups(srv, s) < 0 ||
      srv->store.ops->msg_max_id(srv->store.st, &maxid) < 0 ||
      mc__map_put(&srv->by_user, s->user_id, s) < 0) {
    if (s != NULL) {
      while (s->n_groups > 0)
        sess_leave_group(srv, s, s->groups[0]);
      sess_free(srv, s);
    }
    send_error(srv, &p->addr, 0, NULL, MYCHAT__ERROR_CODE__INTERNAL,
               "server could not start the session", p->nonce, p->req_len);
    return;
  }
  s->watermark = maxid;
  srv->stats.logins++;
  slog(srv, now, &p->addr, p->name, s->id, p->is_register ? "register" : "login",
       0, "");
  welcome_send(srv, s, &p->addr, p->req_len, now);
  if (!was_online)
    push_presence(srv, s, 1);
  sess_pump(srv, s);
  make_ready(srv, s);
}

/* ------------------------------------------------------------------ */
/* handshake                                                           */

/* Refills bucket |key| to |now| and returns it (a collision restarts the
 * bucket: that errs towards letting a user in, never towards locking one
 * out for someone else's attempts). */
static rate_bucket *rate_bucket_at(mc_server *srv, uint64_t key,
                                   mc_tstamp now) {
  rate_bucket *b = &srv->rate[key % RATE_BUCKETS];
  uint32_t full = srv->cfg.rate_burst * 1000;
  if (b->key != key) {
    b->key = key;
    b->t = now;
    b->tokens_milli = full;
  }
  uint64_t refill = srv->cfg.rate_refill_ms ? srv->cfg.rate_refill_ms : 1;
  uint64_t gained = (now - b->t) / MC_MSEC * 1000 / refill;
  if (gained > 0) {
    uint64_t t = b->tokens_milli + gained;
    b->tokens_milli = t > full ? full : (uint32_t)t;
    b->t = now;
  }
  return b;
}

static uint64_t hash_bytes(uint64_t seed, const void *p, size_t n) {
  const uint8_t *b = p;
  uint64_t h = 0xcbf29ce484222325ULL ^ seed; /* FNV-1a */
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 0x100000001b3ULL;
  return h | 1;
}

/* Takes one attempt from the host's bucket and one from the name's, or from
 * neither when either is empty (MC-51, MC-52). Returns 1 when allowed. */
static int rate_take(mc_server *srv, const mc_addr *from, const char *name,
                     mc_tstamp now) {
  size_t hl = from->host_len ? from->host_len : from->len;
  rate_bucket *h = rate_bucket_at(srv, hash_bytes(1, from->bytes, hl), now);
  rate_bucket *n = rate_bucket_at(srv, hash_bytes(2, name, strlen(name)), now);
  if (h->tokens_milli < 1000 || n->tokens_milli < 1000)
    return 0;
  h->tokens_milli -= 1000;
  if (n != h) /* both keys may land in one slot only by collision */
    n->tokens_milli -= 1000;
  return 1;
}

/* Handles a Register or Login by the steps of PROTOCOL.md section 5.1. */
static void handle_handshake(mc_server *srv, const mc_addr *from,
                             const Mychat__Envelope *env, size_t len,
                             mc_tstamp now) {
  int is_reg = env->body_case == MYCHAT__ENVELOPE__BODY_REGISTER;
  const Mychat__Handshake *hs = is_reg ? env->register_ : env->login;
  const char *name = hs->name, *pw = hs->password;
  uint64_t nonce = hs->client_nonce;
  int presence = hs->presence;
  const char *type = is_reg ? "register" : "login";
  Mychat__ErrorCode code;

  /* 1. Too short to answer without amplifying: a real client pads. */
  if (len < MC_HANDSHAKE_MIN) {
    srv->stats.rx_dropped++;
    return;
  }
  /* 2. A handshake belongs to no session. */
  if (env->session_id != 0 || env->token.len != 0 || env->seq != 0) {
    send_error(srv, from, 0, NULL, MYCHAT__ERROR_CODE__BAD_REQUEST,
               "a handshake carries no session header", nonce, len);
    slog(srv, now, from, "", 0, type, MYCHAT__ERROR_CODE__BAD_REQUEST, "");
    return;
  }
  /* 3. Fields. */
  int rv = mc_codec_validate_body(env);
  if (rv < 0) {
    code = mc_server_wire_code(rv);
    send_error(srv, from, 0, NULL, code, mc_strerror(rv), nonce, len);
    slog(srv, now, from, "", 0, type, code, mc_strerror(rv));
    return;
  }
  /* 4. A retransmission of a handshake that succeeded: same Welcome. */
  uint64_t uid = 0;
  char hash[MC_PWHASH_MAX];
  int found = srv->store.ops->user_find(srv->store.st, name, &uid, hash,
                                        sizeof hash);
  if (found < 0 && found != MC_ERR_NOT_FOUND) {
    send_error(srv, from, 0, NULL, MYCHAT__ERROR_CODE__INTERNAL,
               "storage failure", nonce, len);
    slog(srv, now, from, name, 0, type, MYCHAT__ERROR_CODE__INTERNAL, "");
    return;
  }
  if (found == 0) {
    sess *s = mc__map_get(&srv->by_user, uid);
    if (s != NULL && s->nonce == nonce && s->state == SESS_ESTABLISHED) {
      welcome_send(srv, s, from, len, now);
      return;
    }
  }
  /* 5. A retransmission of a handshake in progress: its answer is coming. */
  for (size_t i = 0; i < srv->auth_n; i++)
    if (srv->auth[i].nonce == nonce && strcmp(srv->auth[i].name, name) == 0)
      return;
  /* 6, 7. Rate limits, then room. */
  if (!rate_take(srv, from, name, now)) {
    code = MYCHAT__ERROR_CODE__RATE_LIMITED;
    send_error(srv, from, 0, NULL, code,
               "too many login attempts; wait a few seconds", nonce, len);
    slog(srv, now, from, name, 0, type, code, "");
    return;
  }
  if (srv->stats.sessions + srv->auth_n >= srv->cfg.max_sessions) {
    code = MYCHAT__ERROR_CODE__SERVER_BUSY;
    send_error(srv, from, 0, NULL, code, "server full; try again later",
               nonce, len);
    slog(srv, now, from, name, 0, type, code, "session limit");
    return;
  }
  /* 8. The account question that needs no password work. */
  if (is_reg == (found == 0)) {
    code = is_reg ? MYCHAT__ERROR_CODE__NAME_TAKEN
                  : MYCHAT__ERROR_CODE__AUTH_FAILED;
    if (!is_reg)
      srv->stats.login_failures++;
    send_error(srv, from, 0, NULL, code,
               is_reg ? "that user name is taken"
                      : "wrong user name or password",
               nonce, len);
    slog(srv, now, from, name, 0, type, code, is_reg ? "" : "no such user");
    return;
  }
  if (mc__reserve(&srv->auth, &srv->auth_cap, srv->auth_n + 1,
                  sizeof *srv->auth) < 0) {
    send_error(srv, from, 0, NULL, MYCHAT__ERROR_CODE__SERVER_BUSY,
               "server out of memory", nonce, len);
    return;
  }
  auth_pending *p = &srv->auth[srv->auth_n++];
  memset(p, 0, sizeof *p);
  p->job_id = ++srv->next_job_id;
  p->is_register = is_reg;
  snprintf(p->name, sizeof p->name, "%s", name);
  p->nonce = nonce;
  p->presence = presence;
  p->user_id = uid;
  p->addr = *from;
  p->req_len = len;
  p->job.id = p->job_id;
  p->job.kind = is_reg ? MC_AUTH_JOB_HASH : MC_AUTH_JOB_VERIFY;
  p->job.cost = srv->cfg.auth_cost;
  snprintf(p->job.password, sizeof p->job.password, "%s", pw);
  if (!is_reg)
    snprintf(p->job.hash, sizeof p->job.hash, "%s", hash);
  srv->stats.auth_jobs = (uint32_t)srv->auth_n;
}

int mc_server_poll_auth(mc_server *srv, mc_auth_job *job) {
  for (size_t i = 0; i < srv->auth_n; i++)
    if (!srv->auth[i].polled) {
      srv->auth[i].polled = 1;
      *job = srv->auth[i].job;
      /* The core keeps no copy of the password once the host has it. */
      memset(srv->auth[i].job.password, 0, sizeof srv->auth[i].job.password);
      return 1;
    }
  return 0;
}

int mc_server_auth_done(mc_server *srv, const mc_auth_job *job,
                        mc_tstamp now) {
  size_t i = 0;
  while (i < srv->auth_n && srv->auth[i].job_id != job->id)
    i++;
  if (i == srv->auth_n)
    return MC_ERR_NOT_FOUND;
  auth_pending p = srv->auth[i];
  srv->auth[i] = srv->auth[--srv->auth_n];
  srv->stats.auth_jobs = (uint32_t)srv->auth_n;
  const char *type = p.is_register ? "register" : "login";
  if (job->result != 0) {
    Mychat__ErrorCode code = p.is_register ? MYCHAT__ERROR_CODE__INTERNAL
                                           : MYCHAT__ERROR_CODE__AUTH_FAILED;
    if (!p.is_register)
      srv->stats.login_failures++;
    send_error(srv, &p.addr, 0, NULL, code,
               p.is_register ? "could not hash the password"
                             : "wrong user name or password",
               p.nonce, p.req_len);
    slog(srv, now, &p.addr, p.name, 0, type, code, "");
    return 0;
  }
  if (p.is_register) {
    int rv = srv->store.ops->user_add(srv->store.st, p.name, job->hash,
                                      &p.user_id);
    if (rv < 0) {
      Mychat__ErrorCode code = rv == MC_ERR_EXISTS
                                   ? MYCHAT__ERROR_CODE__NAME_TAKEN
                                   : MYCHAT__ERROR_CODE__INTERNAL;
      send_error(srv, &p.addr, 0, NULL, code,
                 rv == MC_ERR_EXISTS ? "that user name is taken"
                                     : "storage failure",
                 p.nonce, p.req_len);
      slog(srv, now, &p.addr, p.name, 0, type, code, "");
      return 0;
    }
    srv->stats.registrations++;
  }
  auth_succeeded(srv, &p, now);
  return 0;
}

/* ------------------------------------------------------------------ */
/* requests                                                            */

static Mychat__ErrorCode store_code(int rv, Mychat__ErrorCode not_found,
                                    Mychat__ErrorCode exists) {
  if (rv == MC_ERR_NOT_FOUND)
    return not_found;
  if (rv == MC_ERR_EXISTS)
    return exists;
  return MYCHAT__ERROR_CODE__INTERNAL;
}

static Mychat__ErrorCode do_list(mc_server *srv, sess *s, uint32_t seq,
                                 const Mychat__ListRequest *lr) {
  mc_store_user items[MC_LIST_PAGE_MAX + 1];
  size_t n = 0;
  int rv;
  const char *after = lr->after ? lr->after : "";
  switch (lr->kind) {
  case MYCHAT__LIST_KIND__LIST_USERS:
    rv = srv->store.ops->user_list(srv->store.st, after, items,
                                   MC_LIST_PAGE_MAX + 1, &n);
    break;
  case MYCHAT__LIST_KIND__LIST_MY_GROUPS:
    rv = srv->store.ops->user_groups(srv->store.st, s->user_id, after, items,
                                     MC_LIST_PAGE_MAX + 1, &n);
    break;
  default:
    rv = srv->store.ops->group_list(srv->store.st, after, items,
                                    MC_LIST_PAGE_MAX + 1, &n);
    break;
  }
  if (rv < 0)
    return MYCHAT__ERROR_CODE__INTERNAL;
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__ListReply rep = MYCHAT__LIST_REPLY__INIT;
  Mychat__ListEntry ents[MC_LIST_PAGE_MAX];
  Mychat__ListEntry *ptrs[MC_LIST_PAGE_MAX];
  rep.request_seq = seq;
  rep.kind = lr->kind;
  rep.more = n > MC_LIST_PAGE_MAX;
  if (n > MC_LIST_PAGE_MAX)
    n = MC_LIST_PAGE_MAX;
  for (size_t i = 0; i < n; i++) {
    mychat__list_entry__init(&ents[i]);
    ents[i].name = items[i].name;
    if (lr->kind == MYCHAT__LIST_KIND__LIST_USERS) {
      sess *t = mc__map_get(&srv->by_user, items[i].id);
      ents[i].online = t != NULL && t->state == SESS_ESTABLISHED;
    }
    ptrs[i] = &ents[i];
  }
  rep.n_entries = n;
  rep.entries = ptrs;
  env.body_case = MYCHAT__ENVELOPE__BODY_LIST_REPLY;
  env.list_reply = &rep;
  sess_submit(srv, s, &env, NULL);
  return MYCHAT__ERROR_CODE__ERROR_NONE;
}

static Mychat__ErrorCode too_many_groups(char *why, size_t wlen) {
  snprintf(why, wlen, "you are in %d groups already", MC_GROUPS_PER_USER_MAX);
  return MYCHAT__ERROR_CODE__TOO_MANY_GROUPS;
}

/* CreateGroup, JoinGroup, LeaveGroup, with their checks in the order of
 * MC-102 .. MC-104. */
static Mychat__ErrorCode do_group(mc_server *srv, sess *s,
                                  Mychat__Envelope__BodyCase bc,
                                  const char *name, char *why, size_t wlen) {
  const mc_store_ops *o = srv->store.ops;
  uint64_t gid;
  int rv = o->group_find(srv->store.st, name, &gid);
  if (rv < 0 && rv != MC_ERR_NOT_FOUND)
    return MYCHAT__ERROR_CODE__INTERNAL;
  if (bc == MYCHAT__ENVELOPE__BODY_CREATE_GROUP) {
    if (rv == 0) {
      snprintf(why, wlen, "group '%s' exists", name);
      return MYCHAT__ERROR_CODE__GROUP_EXISTS;
    }
    if (s->n_groups >= MC_GROUPS_PER_USER_MAX)
      return too_many_groups(why, wlen);
    if (o->group_add(srv->store.st, name, &gid) < 0 ||
        o->member_add(srv->store.st, gid, s->user_id) < 0 ||
        sess_join_group(srv, s, gid) < 0)
      return MYCHAT__ERROR_CODE__INTERNAL;
    return MYCHAT__ERROR_CODE__ERROR_NONE;
  }
  if (rv == MC_ERR_NOT_FOUND) {
    snprintf(why, wlen, "no group '%s'", name);
    return MYCHAT__ERROR_CODE__NO_SUCH_GROUP;
  }
  int member = o->member_check(srv->store.st, gid, s->user_id);
  if (member < 0 && member != MC_ERR_NOT_FOUND)
    return MYCHAT__ERROR_CODE__INTERNAL;
  if (bc == MYCHAT__ENVELOPE__BODY_LEAVE_GROUP) {
    if (member != 0) {
      snprintf(why, wlen, "you are not in '%s'", name);
      return MYCHAT__ERROR_CODE__NOT_MEMBER;
    }
    if (o->member_del(srv->store.st, gid, s->user_id) < 0)
      return MYCHAT__ERROR_CODE__INTERNAL;
    sess_leave_group(srv, s, gid);
    return MYCHAT__ERROR_CODE__ERROR_NONE;
  }
  if (member == 0) {
    snprintf(why, wlen, "you are in '%s' already", name);
    return MYCHAT__ERROR_CODE__ALREADY_MEMBER;
  }
  if (s->n_groups >= MC_GROUPS_PER_USER_MAX)
    return too_many_groups(why, wlen);
  if (o->member_add(srv->store.st, gid, s->user_id) < 0 ||
      sess_join_group(srv, s, gid) < 0)
    return MYCHAT__ERROR_CODE__INTERNAL;
  return MYCHAT__ERROR_CODE__ERROR_NONE;
}

/* The "sent" confirmation of stored message |m|. */
static Mychat__ErrorCode send_sent(mc_server *srv, sess *s, uint32_t seq,
                                   const mc_store_msg *m) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Sent sent = MYCHAT__SENT__INIT;
  sent.request_seq = seq;
  sent.client_msg_id = m->client_msg_id;
  sent.message_id = m->id;
  sent.server_time_ms = m->time_ms;
  env.body_case = MYCHAT__ENVELOPE__BODY_SENT;
  env.sent = &sent;
  sess_submit(srv, s, &env, NULL);
  return MYCHAT__ERROR_CODE__ERROR_NONE;
}

static Mychat__ErrorCode do_send(mc_server *srv, sess *s, uint32_t seq,
                                 const Mychat__SendMessage *sm, mc_tstamp now,
                                 char *why, size_t wlen) {
  mc_store_msg m;
  memset(&m, 0, sizeof m);
  /* A resend of a stored message is confirmed again before anything else
   * is checked: it may come after the sender left the group (MC-107). */
  int rv = srv->store.ops->msg_find(srv->store.st, s->user_id,
                                    sm->client_msg_id, &m);
  if (rv == 0)
    return send_sent(srv, s, seq, &m);
  if (rv != MC_ERR_NOT_FOUND)
    return MYCHAT__ERROR_CODE__INTERNAL;
  m.sender_id = s->user_id;
  snprintf(m.sender, sizeof m.sender, "%s", s->name);
  m.client_msg_id = sm->client_msg_id;
  snprintf(m.text, sizeof m.text, "%s", sm->text);
  if (sm->to_case == MYCHAT__SEND_MESSAGE__TO_USER) {
    rv = srv->store.ops->user_find(srv->store.st, sm->user, &m.to_id, NULL, 0);
    if (rv < 0) {
      snprintf(why, wlen, "no user '%s'", sm->user);
      return store_code(rv, MYCHAT__ERROR_CODE__NO_SUCH_USER,
                        MYCHAT__ERROR_CODE__INTERNAL);
    }
    snprintf(m.to, sizeof m.to, "%s", sm->user);
  } else {
    rv = srv->store.ops->group_find(srv->store.st, sm->group, &m.group_id);
    if (rv < 0) {
      snprintf(why, wlen, "no group '%s'", sm->group);
      return store_code(rv, MYCHAT__ERROR_CODE__NO_SUCH_GROUP,
                        MYCHAT__ERROR_CODE__INTERNAL);
    }
    rv = srv->store.ops->member_check(srv->store.st, m.group_id, s->user_id);
    if (rv < 0) {
      snprintf(why, wlen, "join '%s' before writing to it", sm->group);
      return store_code(rv, MYCHAT__ERROR_CODE__NOT_MEMBER,
                        MYCHAT__ERROR_CODE__INTERNAL);
    }
    snprintf(m.group, sizeof m.group, "%s", sm->group);
  }
  int dup = 0;
  rv = srv->store.ops->msg_add(srv->store.st, &m, wall_ms(srv, now), &dup);
  if (rv < 0) {
    snprintf(why, wlen, "the message could not be stored");
    return MYCHAT__ERROR_CODE__INTERNAL;
  }
  send_sent(srv, s, seq, &m);
  if (dup)
    return MYCHAT__ERROR_CODE__ERROR_NONE;
  srv->stats.messages_stored++;
  if (m.group_id == 0) {
    sess *t = mc__map_get(&srv->by_user, m.to_id);
    if (t != NULL)
      sess_notify_message(srv, t, &m);
    return MYCHAT__ERROR_CODE__ERROR_NONE;
  }
  sess_list *l = mc__map_get(&srv->groups_online, m.group_id);
  for (size_t i = 0; l != NULL && i < l->n; i++)
    if (l->v[i] != s)
      sess_notify_message(srv, l->v[i], &m);
  return MYCHAT__ERROR_CODE__ERROR_NONE;
}

/* Handles one in-order request of |s|. Every request gets exactly one
 * reliable answer: its own (Sent, ListReply) or a Result. */
static void handle_request(mc_server *srv, sess *s, Mychat__Envelope *env,
                           mc_tstamp now) {
  char why[MC_ERROR_TEXT_MAX + 1] = "";
  Mychat__ErrorCode code = MYCHAT__ERROR_CODE__ERROR_NONE;
  int answered = 0;
  const char *type = mc_codec_body_name(env->body_case);

  if (s->state != SESS_ESTABLISHED)
    return; /* logged out: acked, not acted on */
  int rv = MC_OK;
  if (mc_codec_body_class(env->body_case) != MC_BODY_REQUEST) {
    code = MYCHAT__ERROR_CODE__BAD_REQUEST;
    snprintf(why, sizeof why, "'%s' is not a client request", type);
  } else if ((rv = mc_codec_validate_body(env)) < 0) {
    code = mc_server_wire_code(rv);
    snprintf(why, sizeof why, "%s", mc_strerror(rv));
  }
  if (code != MYCHAT__ERROR_CODE__ERROR_NONE) {
    reply_result(srv, s, env->seq, code, why);
    slog(srv, now, &s->addr, s->name, s->id, type, code, why);
    return;
  }
  switch (env->body_case) {
  case MYCHAT__ENVELOPE__BODY_LOGOUT:
    reply_result(srv, s, env->seq, code, "bye");
    slog(srv, now, &s->addr, s->name, s->id, type, 0, "");
    sess_end(srv, s, MYCHAT__ERROR_CODE__ERROR_NONE, "logout", 1, now);
    return;
  case MYCHAT__ENVELOPE__BODY_LIST:
    code = do_list(srv, s, env->seq, env->list);
    answered = code == MYCHAT__ERROR_CODE__ERROR_NONE;
    break;
  case MYCHAT__ENVELOPE__BODY_CREATE_GROUP:
    code = do_group(srv, s, env->body_case, env->create_group->name, why,
                    sizeof why);
    break;
  case MYCHAT__ENVELOPE__BODY_JOIN_GROUP:
    code = do_group(srv, s, env->body_case, env->join_group->name, why,
                    sizeof why);
    break;
  case MYCHAT__ENVELOPE__BODY_LEAVE_GROUP:
    code = do_group(srv, s, env->body_case, env->leave_group->name, why,
                    sizeof why);
    break;
  case MYCHAT__ENVELOPE__BODY_SEND:
    code = do_send(srv, s, env->seq, env->send, now, why, sizeof why);
    answered = code == MYCHAT__ERROR_CODE__ERROR_NONE;
    break;
  default: /* every request class body is handled above */
    break;
  }
  if (!answered)
    reply_result(srv, s, env->seq, code, code ? why : "ok");
  slog(srv, now, &s->addr, s->name, s->id, type, code, why);
}

/* Acts on what the client has now acknowledged, in order. */
static void handle_acked(mc_server *srv, sess *s, mc_tstamp now) {
  uint64_t tag;
  int more = 0;
  while (mc_arq_pop_acked(&s->arq, &tag) == 1 && s->rec_n > 0) {
    push_rec r = s->recs[s->rec_head];
    s->rec_head = (s->rec_head + 1) % s->rec_cap;
    s->rec_n--;
    if (r.kind == REC_OTHER)
      continue;
    s->pushes_inflight--;
    more = 1;
    if (r.kind == REC_RECEIPT) {
      srv->store.ops->receipt_done(srv->store.st, r.msg_id);
      srv->stats.receipts_acked++;
      continue;
    }
    mc_store_msg m;
    memset(&m, 0, sizeof m);
    m.id = r.msg_id;
    m.group_id = r.group_id;
    m.sender_id = r.sender_id;
    m.to_id = r.to_id;
    srv->stats.delivers_acked++;
    if (srv->store.ops->delivered(srv->store.st, s->user_id, &m,
                                  wall_ms(srv, now)) < 0 ||
        r.group_id != 0)
      continue;
    /* A direct message arrived: its sender, if online, gets the receipt. */
    sess *sender = mc__map_get(&srv->by_user, r.sender_id);
    if (sender != NULL && sender->state == SESS_ESTABLISHED) {
      sender->receipts_caught_up = 0;
      sess_pump(srv, sender);
    }
  }
  if (more)
    sess_pump(srv, s);
}

/* ------------------------------------------------------------------ */
/* datagrams in                                                        */

int mc_server_recv(mc_server *srv, const mc_addr *from, const uint8_t *dgram,
                   size_t len, mc_tstamp now) {
  srv->stats.rx_datagrams++;
  srv->stats.rx_bytes += len;
  /* The steps of PROTOCOL.md section 4.3, in order. */
  int rv = mc_codec_check_prefix(dgram, len);
  if (rv < 0) {
    /* Maybe not MyChat at all: answering could reflect traffic anywhere. */
    srv->stats.rx_malformed++;
    return rv;
  }
  Mychat__Envelope *env = NULL;
  rv = mc_codec_unpack(dgram, len, &env);
  if (rv < 0) {
    srv->stats.rx_malformed++;
    send_error(srv, from, 0, NULL, MYCHAT__ERROR_CODE__MALFORMED,
               mc_strerror(rv), 0, len);
    slog(srv, now, from, "", 0, "malformed", MYCHAT__ERROR_CODE__MALFORMED,
         mc_strerror(rv));
    return rv;
  }
  if (env->body_case == MYCHAT__ENVELOPE__BODY_REGISTER ||
      env->body_case == MYCHAT__ENVELOPE__BODY_LOGIN) {
    handle_handshake(srv, from, env, len, now);
    mc_codec_free(env);
    return 0;
  }
  sess *s = env->session_id ? mc__map_get(&srv->by_id, env->session_id) : NULL;
  if (s == NULL || env->token.len != MC_TOKEN_LEN ||
      !token_eq(env->token.data, s->token)) {
    srv->stats.rx_bad_session++;
    send_error(srv, from, env->session_id, &env->token,
               MYCHAT__ERROR_CODE__UNKNOWN_SESSION,
               env->session_id ? "unknown session or wrong token; log in again"
                               : "log in first",
               0, len);
    mc_codec_free(env);
    return MC_ERR_AUTH;
  }
  /* Authenticated: the session follows its client to a new address. */
  if (!addr_eq(&s->addr, from))
    s->addr = *from;
  s->last_heard = now;
  if (env->seq == 0 && env->body_case != MYCHAT__ENVELOPE__BODY__NOT_SET) {
    if (env->body_case == MYCHAT__ENVELOPE__BODY_PING) {
      s->pong_owed = 1;
      s->pong_time = env->ping->time_us;
    } else {
      ProtobufCBinaryData tok = {MC_TOKEN_LEN, s->token};
      send_error(srv, from, s->id, &tok, MYCHAT__ERROR_CODE__BAD_REQUEST,
                 "this body is not sent unreliably by a client", 0,
                 MC_DATAGRAM_MAX);
    }
  }
  int taken = 0;
  rv = mc__wire_take(&s->arq, env, now, &taken);
  if (!taken)
    mc_codec_free(env);
  if (rv < 0)
    srv->stats.rx_malformed++; /* a bad ack: ignored, the rest stands */
  handle_acked(srv, s, now);
  Mychat__Envelope *req;
  /* A logout inside handle_request leaves |s| lingering (its Result is
   * outstanding), never freed, so the loop may go on with it. */
  while ((req = mc_arq_pop(&s->arq)) != NULL) {
    handle_request(srv, s, req, now);
    mc_codec_free(req);
  }
  make_ready(srv, s);
  return 0;
}

/* ------------------------------------------------------------------ */
/* datagrams out and timers                                            */

int mc_server_poll_tx(mc_server *srv, mc_tstamp now, mc_addr *to,
                      uint8_t *buf, size_t cap, size_t *len) {
  if (srv->unrel_n > 0) {
    unrel_dgram *d = &srv->unrel[srv->unrel_head];
    if (d->len > cap)
      return 0;
    *to = d->to;
    memcpy(buf, d->data, d->len);
    *len = d->len;
    srv->unrel_head = (srv->unrel_head + 1) % UNREL_QUEUE_MAX;
    srv->unrel_n--;
    srv->stats.tx_datagrams++;
    srv->stats.tx_bytes += *len;
    return 1;
  }
  while (srv->ready_head != NULL) {
    sess *s = srv->ready_head;
    if (s->failed) {
      ready_remove(srv, s);
      srv->stats.sessions_gave_up++;
      sess_end(srv, s, MYCHAT__ERROR_CODE__ERROR_NONE, "send queue full", 0,
               now);
      continue;
    }
    Mychat__Envelope pong_env = MYCHAT__ENVELOPE__INIT;
    Mychat__Pong pong = MYCHAT__PONG__INIT;
    if (s->pong_owed) {
      pong.time_us = s->pong_time;
      pong_env.body_case = MYCHAT__ENVELOPE__BODY_PONG;
      pong_env.pong = &pong;
    }
    mc__wire_id id = {.session_id = s->id};
    memcpy(id.token, s->token, MC_TOKEN_LEN);
    uint64_t retrans = mc_arq_get_stats(&s->arq)->tx_retrans;
    int rv = mc__wire_poll(&s->arq, &id, s->pong_owed ? &pong_env : NULL, now,
                           buf, cap, len);
    if (rv > 0) {
      /* Reliable bodies go first; the Pong waits for a datagram of its own
       * (any datagram of the session proves it alive, so no hurry). */
      if (rv == MC__WIRE_UNREL)
        s->pong_owed = 0;
      srv->stats.retransmissions +=
          mc_arq_get_stats(&s->arq)->tx_retrans - retrans;
      *to = s->addr;
      srv->stats.tx_datagrams++;
      srv->stats.tx_bytes += *len;
      return 1;
    }
    ready_remove(srv, s);
    if (rv < 0) {
      srv->stats.sessions_gave_up++;
      sess_end(srv, s, MYCHAT__ERROR_CODE__ERROR_NONE, "client stopped acking",
               0, now);
      continue;
    }
    if (s->state == SESS_CLOSING && mc_arq_outstanding(&s->arq) == 0) {
      sess_free(srv, s);
      continue;
    }
    heap_schedule(srv, s);
  }
  return 0;
}

mc_tstamp mc_server_expiry(mc_server *srv) {
  if (srv->unrel_n > 0 || srv->ready_head != NULL)
    return 0;
  return srv->heap_n > 0 ? srv->heap[0]->deadline : MC_TSTAMP_NEVER;
}

void mc_server_handle_expiry(mc_server *srv, mc_tstamp now) {
  while (srv->heap_n > 0 && srv->heap[0]->deadline <= now) {
    sess *s = srv->heap[0];
    if (s->state == SESS_CLOSING && now >= s->closing_deadline) {
      sess_free(srv, s);
      continue;
    }
    if (s->state == SESS_ESTABLISHED &&
        now >= s->last_heard + srv->cfg.session_timeout_ms * MC_MSEC) {
      srv->stats.sessions_timed_out++;
      sess_end(srv, s, MYCHAT__ERROR_CODE__ERROR_NONE, "timed out", 0, now);
      continue;
    }
    make_ready(srv, s);
  }
}

void mc_server_shutdown(mc_server *srv, mc_tstamp now) {
  while (srv->heap_n > 0 || srv->ready_head != NULL) {
    sess *s = srv->heap_n > 0 ? srv->heap[0] : srv->ready_head;
    if (s->state == SESS_ESTABLISHED)
      sess_end(srv, s, MYCHAT__ERROR_CODE__SHUTTING_DOWN,
               "server shutting down", 0, now);
    else
      sess_free(srv, s);
  }
}

/* ------------------------------------------------------------------ */
/* life                                                                */

void mc_server_config_default(mc_server_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_sessions = 100000;
  cfg->keepalive_ms = 5000;
  cfg->session_timeout_ms = 30000;
  cfg->rate_burst = 5;
  cfg->rate_refill_ms = 2000;
  cfg->push_window = 32;
  cfg->auth_cost = MC_AUTH_COST_INTERACTIVE;
  mc_arq_config_default(&cfg->arq);
}

mc_server *mc_server_new(const mc_server_config *cfg, const mc_store *store,
                         const mc_server_callbacks *cb) {
  if (cb == NULL || cb->random == NULL || store == NULL)
    return NULL;
  mc_server *srv = calloc(1, sizeof *srv);
  if (srv == NULL)
    return NULL;
  if (cfg)
    srv->cfg = *cfg;
  else
    mc_server_config_default(&srv->cfg);
  if (srv->cfg.push_window == 0)
    srv->cfg.push_window = 1;
  srv->store = *store;
  srv->cb = *cb;
  mc__map_init(&srv->by_id);
  mc__map_init(&srv->by_user);
  mc__map_init(&srv->groups_online);
  srv->unrel = malloc(UNREL_QUEUE_MAX * sizeof *srv->unrel);
  if (srv->unrel == NULL) {
    mc_server_del(srv);
    return NULL;
  }
  return srv;
}

void mc_server_del(mc_server *srv) {
  if (srv == NULL)
    return;
  while (srv->heap_n > 0 || srv->ready_head != NULL) {
    sess *s = srv->heap_n > 0 ? srv->heap[0] : srv->ready_head;
    while (s->n_groups > 0)
      sess_leave_group(srv, s, s->groups[0]);
    sess_free(srv, s);
  }
  mc__map_free(&srv->by_id);
  mc__map_free(&srv->by_user);
  mc__map_free(&srv->groups_online);
  free(srv->heap);
  free(srv->unrel);
  if (srv->auth)
    memset(srv->auth, 0, srv->auth_cap * sizeof *srv->auth); /* passwords */
  free(srv->auth);
  free(srv);
}

const mc_server_stats *mc_server_get_stats(const mc_server *srv) {
  return &srv->stats;
}
