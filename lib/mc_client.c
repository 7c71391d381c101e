/*
 * mc_client.c: the client state machine (PROTOCOL.md sections 5, 7, 8).
 */
#include "mc_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_error.h"
#include "mc_map.h"
#include "mc_wire.h"

#define SEEN_MAX 4096 /* message ids remembered for duplicate drops */
#define SEEN_FIRST 64 /* the array's first size; it doubles up to SEEN_MAX */
#define SEEN_EVICT (SEEN_MAX / 8) /* lowest ids forgotten at once when full */
#define EV_FIRST 1    /* the event queue's first size: most datagrams make one */

/* A request waiting for its reply. */
typedef struct {
  uint32_t seq;
  mc_body_kind kind;
  uint64_t client_msg_id;       /* SendMessage only */
} pending_req;

/* A message the server has not confirmed yet: kept to send again in the
 * next session if this one is lost. */
typedef struct {
  uint64_t client_msg_id;
  int to_group;
  char to[MC_NAME_MAX + 1];
  char *text;                   /* owned */
} unconfirmed;

struct mc_client {
  mc_client_config cfg;
  mc_client_callbacks cb;
  mc_client_state state;
  int logging_out;              /* Logout sent: no new requests */
  int proof_owed;               /* Welcome taken, nothing sent since: the
                                   server waits for the token (MC-140) */
  int have_creds;

  char name[MC_NAME_MAX + 1];
  char password[MC_PASSWORD_MAX + 1];
  int create;

  /* Handshake. */
  uint64_t nonce;
  mc_tstamp hs_start, hs_next, hs_rto;

  /* Session. */
  mc__wire_id id;
  uint32_t keepalive_ms, timeout_ms;
  mc_tstamp last_sent, last_heard, last_ping;
  mc_arq arq;
  int arq_live;

  pending_req *reqs;
  size_t n_reqs, cap_reqs;
  unconfirmed *unconf;
  size_t n_unconf, cap_unconf;

  /* Duplicate drops: the ids handed to the user, ascending, 8 bytes
   * each (a hash map and an eviction ring took about 40, and thousands of
   * clients share one simulator process). The array grows as ids come, up
   * to SEEN_MAX; when full, the SEEN_EVICT lowest go at once, so that an
   * eviction moves the array once per SEEN_EVICT ids. Ids mostly arrive
   * ascending (the server numbers messages in storage order), so an
   * insertion moves little. seen_n <= seen_cap <= SEEN_MAX. */
  uint64_t *seen;
  size_t seen_n, seen_cap;

  mc_client_event *ev;
  size_t ev_head, ev_n, ev_cap;
  /* The CLOSED or CONNECT_FAILED event the ring had no memory for: it is
   * taken after the |end_after| events before it. */
  mc_client_event end_ev;
  int end_pending;
  size_t end_after;
  const mc_mem *mem;            /* cb.mem */
};

/* ------------------------------------------------------------------ */
/* events                                                              */

/* Makes room for |n| more events. Returns 0 or MC_ERR_NOMEM. */
static int ev_reserve(mc_client *c, size_t n) {
  while (c->ev_cap - c->ev_n < n)
    if (mc__ring_grow(c->mem, (void **)&c->ev, &c->ev_head, c->ev_n,
                      &c->ev_cap, sizeof *c->ev, EV_FIRST) < 0)
      return MC_ERR_NOMEM;
  return 0;
}

/* Events are large and thousands of clients share one simulator process,
 * so an empty queue keeps no more than EV_FIRST slots: a burst (presence
 * pushes, a backlog) does not keep its size for the client's life. The
 * first slot stays: freed, most datagrams allocated it again, at a size
 * beyond malloc's per-thread caches (a tenth of a simulation's time). */
static void ev_trim(mc_client *c) {
  if (c->ev_n == 0 && c->ev_cap > EV_FIRST) {
    mc__free(c->mem, c->ev);
    c->ev = NULL;
    c->ev_head = c->ev_cap = 0;
  }
}

/* Returns a zeroed event at the tail of the queue. mc_client_recv reserves
 * room for every event a datagram can make, and a session's end, which
 * may come from a timer, has a slot of its own; so only an event of some
 * other path can find no memory, and is then lost (NULL). */
static mc_client_event *ev_push(mc_client *c, mc_client_event_type t) {
  mc_client_event *e;
  if (ev_reserve(c, 1) == 0) {
    e = &c->ev[(c->ev_head + c->ev_n++) % c->ev_cap];
  } else if ((t == MC_CEV_CLOSED || t == MC_CEV_CONNECT_FAILED) &&
             !c->end_pending) {
    c->end_pending = 1;
    c->end_after = c->ev_n;
    e = &c->end_ev;
  } else {
    return NULL;
  }
  memset(e, 0, offsetof(mc_client_event, entries));
  e->n_entries = 0;
  e->type = t;
  return e;
}

int mc_client_poll_event(mc_client *c, mc_client_event *ev) {
  if (c->end_pending && c->end_after == 0) {
    c->end_pending = 0;
    *ev = c->end_ev;
    return 1;
  }
  if (c->ev_n == 0)
    return 0;
  if (c->end_pending)
    c->end_after--;
  /* The entries in use only: the rest of a List's page is most of the
   * event's size, and most events carry none. */
  const mc_client_event *e = &c->ev[c->ev_head];
  memcpy(ev, e, offsetof(mc_client_event, entries) +
                    e->n_entries * sizeof e->entries[0]);
  c->ev_head = (c->ev_head + 1) % c->ev_cap;
  c->ev_n--;
  ev_trim(c);
  return 1;
}

static void copy_str(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src ? src : "");
}

/* ------------------------------------------------------------------ */
/* life                                                                */

void mc_client_config_default(mc_client_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->connect_timeout_ms = MC_CONNECT_TIMEOUT_MS_DEFAULT;
  cfg->handshake_rto_ms = MC_HANDSHAKE_RTO_MS_DEFAULT;
  cfg->presence = 1;
  mc_arq_config_default(&cfg->arq);
}

mc_client *mc_client_new(const mc_client_config *cfg,
                         const mc_client_callbacks *cb) {
  if (cb == NULL || cb->random == NULL)
    return NULL;
  mc_client *c = mc__calloc(cb->mem, 1, sizeof *c);
  if (c == NULL)
    return NULL;
  c->mem = cb->mem;
  if (cfg)
    c->cfg = *cfg;
  else
    mc_client_config_default(&c->cfg);
  c->cb = *cb;
  c->state = MC_CLIENT_IDLE;
  return c;
}

static void session_drop(mc_client *c) {
  if (c->arq_live)
    mc_arq_free(&c->arq);
  c->arq_live = 0;
  c->n_reqs = 0;
  c->logging_out = 0;
}

void mc_client_del(mc_client *c) {
  if (c == NULL)
    return;
  session_drop(c);
  for (size_t i = 0; i < c->n_unconf; i++)
    mc__free(c->mem, c->unconf[i].text);
  mc__free(c->mem, c->unconf);
  mc__free(c->mem, c->reqs);
  mc__free(c->mem, c->ev);
  mc__free(c->mem, c->seen);
  /* volatile keeps the wipe from being optimised away before free. */
  volatile char *p = c->password;
  for (size_t i = 0; i < sizeof c->password; i++)
    p[i] = 0;
  mc__free(c->mem, c);
}

mc_client_state mc_client_get_state(const mc_client *c) { return c->state; }

const mc_arq *mc_client_get_arq(const mc_client *c) {
  return c->arq_live ? &c->arq : NULL;
}

size_t mc_client_unconfirmed(const mc_client *c) { return c->n_unconf; }

static void closed(mc_client *c, int code, int lib_error, const char *text) {
  session_drop(c);
  c->state = MC_CLIENT_CLOSED;
  mc_client_event *e = ev_push(c, MC_CEV_CLOSED);
  if (e) {
    e->code = code;
    e->lib_error = lib_error;
    copy_str(e->text, sizeof e->text, text);
  }
}

void mc_client_abandon(mc_client *c) {
  session_drop(c);
  c->state = MC_CLIENT_CLOSED;
}

/* ------------------------------------------------------------------ */
/* handshake                                                           */

static void handshake_start(mc_client *c, mc_tstamp now) {
  session_drop(c);
  c->cb.random(c->cb.user_data, (uint8_t *)&c->nonce, sizeof c->nonce);
  if (c->nonce == 0) /* a server refuses nonce 0 (MC-18) */
    c->nonce = 1;
  c->state = MC_CLIENT_HANDSHAKE;
  c->hs_start = c->hs_next = now;
  c->hs_rto = c->cfg.handshake_rto_ms * MC_MSEC;
}

int mc_client_connect(mc_client *c, const char *name, const char *password,
                      int create, mc_tstamp now) {
  if (c->state == MC_CLIENT_HANDSHAKE || c->state == MC_CLIENT_ESTABLISHED)
    return MC_ERR_STATE;
  if (!mc_codec_name_valid(name))
    return MC_ERR_BAD_NAME;
  size_t pl = strlen(password);
  if (pl < MC_PASSWORD_MIN || pl > MC_PASSWORD_MAX)
    return MC_ERR_BAD_PASSWORD;
  copy_str(c->name, sizeof c->name, name);
  copy_str(c->password, sizeof c->password, password);
  c->create = create;
  c->have_creds = 1;
  handshake_start(c, now);
  return 0;
}

int mc_client_reconnect(mc_client *c, mc_tstamp now) {
  if (!c->have_creds || c->state == MC_CLIENT_HANDSHAKE ||
      c->state == MC_CLIENT_ESTABLISHED)
    return MC_ERR_STATE;
  c->create = 0;
  handshake_start(c, now);
  return 0;
}

/* Builds the Register/Login datagram, padded to MC_HANDSHAKE_MIN bytes so
 * the server may answer it without amplifying. */
static int handshake_build(mc_client *c, uint8_t *buf, size_t cap,
                           size_t *len) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Handshake hs = MYCHAT__HANDSHAKE__INIT;
  hs.name = c->name;
  hs.password = c->password;
  hs.client_nonce = c->nonce;
  hs.presence = c->cfg.presence;
  if (c->create) {
    env.body_case = MYCHAT__ENVELOPE__BODY_REGISTER;
    env.register_ = &hs;
  } else {
    env.body_case = MYCHAT__ENVELOPE__BODY_LOGIN;
    env.login = &hs;
  }
  int rv = mc_codec_pad_handshake(&env);
  if (rv == 0)
    rv = mc__wire_single(&env, 0, NULL, cap, buf, len);
  return rv < 0 ? rv : 0;
}

/* Sends a request body and remembers it for its reply. */
static int request_submit(mc_client *c, const Mychat__Envelope *env,
                          uint64_t client_msg_id, uint32_t *request) {
  int rv = mc__reserve(c->mem, &c->reqs, &c->cap_reqs, c->n_reqs + 1,
                       sizeof *c->reqs);
  if (rv < 0)
    return rv;
  uint32_t seq;
  rv = mc__wire_submit(&c->arq, env, 0, &seq);
  if (rv < 0)
    return rv;
  c->reqs[c->n_reqs++] = (pending_req){
      .seq = seq, .kind = (mc_body_kind)env->body_case, .client_msg_id = client_msg_id};
  if (request)
    *request = seq;
  return 0;
}

static int send_unconfirmed(mc_client *c, const unconfirmed *u,
                            uint32_t *request) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__SendMessage sm = MYCHAT__SEND_MESSAGE__INIT;
  sm.client_msg_id = u->client_msg_id;
  if (u->to_group) {
    sm.to_case = MYCHAT__SEND_MESSAGE__TO_GROUP;
    sm.group = (char *)u->to;
  } else {
    sm.to_case = MYCHAT__SEND_MESSAGE__TO_USER;
    sm.user = (char *)u->to;
  }
  sm.text = u->text;
  env.body_case = MYCHAT__ENVELOPE__BODY_SEND;
  env.send = &sm;
  return request_submit(c, &env, u->client_msg_id, request);
}

/* The receive stream holds decoded envelopes. */
static void env_free(void *env, const mc_mem *mem) {
  mc__codec_free(mem, env);
}

static void established(mc_client *c, const Mychat__Welcome *w,
                        mc_tstamp now) {
  mc_arq_config acfg = c->cfg.arq;
  acfg.item_free = env_free;
  acfg.mem = c->mem;
  if (mc_arq_init(&c->arq, &acfg) < 0) {
    closed(c, MYCHAT__ERROR_CODE__ERROR_NONE, MC_ERR_NOMEM, "out of memory");
    return;
  }
  c->arq_live = 1;
  c->state = MC_CLIENT_ESTABLISHED;
  c->id.session_id = w->session_id;
  memcpy(c->id.token, w->token.data, MC_TOKEN_LEN);
  c->keepalive_ms = w->keepalive_ms ? w->keepalive_ms : MC_KEEPALIVE_MS_DEFAULT;
  c->timeout_ms = w->session_timeout_ms ? w->session_timeout_ms
                                        : MC_SESSION_TIMEOUT_MS_DEFAULT;
  c->last_sent = c->last_heard = now;
  c->last_ping = 0;
  c->proof_owed = 1;
  mc_client_event *e = ev_push(c, MC_CEV_CONNECTED);
  if (e) {
    copy_str(e->name, sizeof e->name, w->name);
    e->time_ms = w->server_time_ms;
  }
  /* Messages the last session did not get confirmed go again, in order.
   * One that cannot be queued (memory) ends the session: they all stay
   * unconfirmed, and the next session sends them again. */
  for (size_t i = 0; i < c->n_unconf; i++) {
    int rv = send_unconfirmed(c, &c->unconf[i], NULL);
    if (rv < 0) {
      closed(c, 0, rv, "could not send the unconfirmed messages again");
      return;
    }
  }
}

/* ------------------------------------------------------------------ */
/* requests                                                            */

int mc_client_send_text(mc_client *c, const char *to_user,
                        const char *to_group, const char *text, mc_tstamp now,
                        uint32_t *request, uint64_t *client_msg_id) {
  (void)now;
  if (c->state != MC_CLIENT_ESTABLISHED || c->logging_out)
    return MC_ERR_STATE;
  const char *to = to_user ? to_user : to_group;
  if (to == NULL || !mc_codec_name_valid(to))
    return MC_ERR_BAD_NAME;
  size_t tl = strlen(text);
  if (tl == 0 || tl > MC_TEXT_MAX)
    return MC_ERR_TEXT_TOO_LONG;
  if (!mc_codec_utf8_valid((const uint8_t *)text, tl))
    return MC_ERR_BAD_UTF8;
  if (mc__reserve(c->mem, &c->unconf, &c->cap_unconf, c->n_unconf + 1,
                  sizeof *c->unconf) < 0)
    return MC_ERR_NOMEM;
  unconfirmed *u = &c->unconf[c->n_unconf];
  do {
    c->cb.random(c->cb.user_data, (uint8_t *)&u->client_msg_id,
                 sizeof u->client_msg_id);
  } while (u->client_msg_id == 0);
  u->to_group = to_user == NULL;
  copy_str(u->to, sizeof u->to, to);
  u->text = mc__malloc(c->mem, tl + 1);
  if (u->text == NULL)
    return MC_ERR_NOMEM;
  memcpy(u->text, text, tl + 1);
  int rv = send_unconfirmed(c, u, request);
  if (rv < 0) {
    mc__free(c->mem, u->text);
    return rv;
  }
  c->n_unconf++;
  if (client_msg_id)
    *client_msg_id = u->client_msg_id;
  return 0;
}

int mc_client_group(mc_client *c, mc_body_kind kind,
                    const char *group, mc_tstamp now, uint32_t *request) {
  (void)now;
  if (c->state != MC_CLIENT_ESTABLISHED || c->logging_out)
    return MC_ERR_STATE;
  if (!mc_codec_name_valid(group))
    return MC_ERR_BAD_NAME;
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__CreateGroup cg = MYCHAT__CREATE_GROUP__INIT;
  Mychat__JoinGroup jg = MYCHAT__JOIN_GROUP__INIT;
  Mychat__LeaveGroup lg = MYCHAT__LEAVE_GROUP__INIT;
  switch (kind) {
  case MC_KIND_CREATE_GROUP:
    cg.name = (char *)group;
    env.create_group = &cg;
    break;
  case MC_KIND_JOIN_GROUP:
    jg.name = (char *)group;
    env.join_group = &jg;
    break;
  case MC_KIND_LEAVE_GROUP:
    lg.name = (char *)group;
    env.leave_group = &lg;
    break;
  default:
    return MC_ERR_INVAL;
  }
  env.body_case = (Mychat__Envelope__BodyCase)kind;
  return request_submit(c, &env, 0, request);
}

int mc_client_list(mc_client *c, mc_list_kind kind, const char *after,
                   mc_tstamp now, uint32_t *request) {
  (void)now;
  if (c->state != MC_CLIENT_ESTABLISHED || c->logging_out)
    return MC_ERR_STATE;
  if (after == NULL)
    after = "";
  if (after[0] != '\0' && !mc_codec_name_valid(after))
    return MC_ERR_BAD_NAME;
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__ListRequest lr = MYCHAT__LIST_REQUEST__INIT;
  lr.kind = (Mychat__ListKind)kind;
  lr.after = (char *)after;
  env.body_case = MYCHAT__ENVELOPE__BODY_LIST;
  env.list = &lr;
  return request_submit(c, &env, 0, request);
}

int mc_client_logout(mc_client *c, mc_tstamp now) {
  (void)now;
  if (c->state != MC_CLIENT_ESTABLISHED || c->logging_out)
    return MC_ERR_STATE;
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Logout lo = MYCHAT__LOGOUT__INIT;
  env.body_case = MYCHAT__ENVELOPE__BODY_LOGOUT;
  env.logout = &lo;
  int rv = request_submit(c, &env, 0, NULL);
  if (rv == 0)
    c->logging_out = 1;
  return rv;
}

/* ------------------------------------------------------------------ */
/* datagrams in                                                        */

/* Finds and removes the pending request |seq|; returns 0 if unknown. */
static int take_request(mc_client *c, uint32_t seq, pending_req *out) {
  for (size_t i = 0; i < c->n_reqs; i++)
    if (c->reqs[i].seq == seq) {
      *out = c->reqs[i];
      memmove(&c->reqs[i], &c->reqs[i + 1],
              (c->n_reqs - i - 1) * sizeof *c->reqs);
      c->n_reqs--;
      return 1;
    }
  return 0;
}

static void unconfirmed_drop(mc_client *c, uint64_t client_msg_id) {
  for (size_t i = 0; i < c->n_unconf; i++)
    if (c->unconf[i].client_msg_id == client_msg_id) {
      mc__free(c->mem, c->unconf[i].text);
      memmove(&c->unconf[i], &c->unconf[i + 1],
              (c->n_unconf - i - 1) * sizeof *c->unconf);
      c->n_unconf--;
      return;
    }
}

/* Returns 1 the first time |id| is seen, 0 after. */
static int first_sight(mc_client *c, uint64_t id) {
  if (id == 0)
    return 1;
  size_t lo = 0, hi = c->seen_n; /* the first index whose id is >= |id| */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (c->seen[mid] < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < c->seen_n && c->seen[lo] == id)
    return 0;
  if (c->seen_n == c->seen_cap && c->seen_cap < SEEN_MAX) {
    size_t ncap = c->seen_cap ? c->seen_cap * 2 : SEEN_FIRST;
    uint64_t *nr = mc__realloc(c->mem, c->seen, ncap * sizeof *nr);
    if (nr != NULL) { /* else: evict within the array there is */
      c->seen = nr;
      c->seen_cap = ncap;
    }
  }
  if (c->seen_n == c->seen_cap && c->seen_n > 0) {
    size_t drop = c->seen_n < SEEN_EVICT ? c->seen_n : SEEN_EVICT;
    if (lo < drop)
      return 1; /* lower than all that would stay: not worth keeping */
    memmove(c->seen, c->seen + drop, (c->seen_n - drop) * sizeof *c->seen);
    c->seen_n -= drop;
    lo -= drop;
  }
  if (c->seen_n == c->seen_cap)
    return 1; /* no memory to remember it: a duplicate may pass */
  memmove(c->seen + lo + 1, c->seen + lo, (c->seen_n - lo) * sizeof *c->seen);
  c->seen[lo] = id;
  c->seen_n++;
  return 1;
}

/* Handles one in-order reliable body from the server. */
static void handle_push(mc_client *c, const Mychat__Envelope *env) {
  mc_client_event *e;
  pending_req req;
  switch (env->body_case) {
  case MYCHAT__ENVELOPE__BODY_RESULT:
    if (!take_request(c, env->result->request_seq, &req))
      return;
    if (req.kind == MC_KIND_SEND)
      unconfirmed_drop(c, req.client_msg_id); /* refused: not retried */
    if (req.kind == MC_KIND_LOGOUT) {
      /* The final ack still has to go out: poll_tx closes after it. */
      c->logging_out = 2;
      return;
    }
    e = ev_push(c, MC_CEV_RESULT);
    if (e) {
      e->request = req.seq;
      e->request_kind = req.kind;
      e->code = (mc_wire_code)env->result->code;
      copy_str(e->text, sizeof e->text, env->result->text);
    }
    return;
  case MYCHAT__ENVELOPE__BODY_LIST_REPLY:
    if (!take_request(c, env->list_reply->request_seq, &req))
      return;
    e = ev_push(c, MC_CEV_LIST);
    if (e) {
      const Mychat__ListReply *lr = env->list_reply;
      e->request = req.seq;
      e->request_kind = req.kind;
      e->list_kind = (mc_list_kind)lr->kind;
      e->more = lr->more;
      e->n_entries = lr->n_entries;
      for (size_t i = 0; i < lr->n_entries; i++) {
        copy_str(e->entries[i].name, sizeof e->entries[i].name,
                 lr->entries[i]->name);
        e->entries[i].online = lr->entries[i]->online;
      }
    }
    return;
  case MYCHAT__ENVELOPE__BODY_SENT:
    if (!take_request(c, env->sent->request_seq, &req))
      return;
    unconfirmed_drop(c, env->sent->client_msg_id);
    e = ev_push(c, MC_CEV_SENT);
    if (e) {
      e->request = req.seq;
      e->request_kind = req.kind;
      e->client_msg_id = env->sent->client_msg_id;
      e->message_id = env->sent->message_id;
      e->time_ms = env->sent->server_time_ms;
    }
    return;
  case MYCHAT__ENVELOPE__BODY_DELIVER:
    if (!first_sight(c, env->deliver->message_id))
      return;
    e = ev_push(c, MC_CEV_MESSAGE);
    if (e) {
      const Mychat__Deliver *d = env->deliver;
      e->message_id = d->message_id;
      copy_str(e->name, sizeof e->name, d->from);
      copy_str(e->group, sizeof e->group, d->group);
      copy_str(e->text, sizeof e->text, d->text);
      e->time_ms = d->server_time_ms;
      e->missed = d->missed;
    }
    return;
  case MYCHAT__ENVELOPE__BODY_RECEIPT:
    e = ev_push(c, MC_CEV_DELIVERED);
    if (e) {
      e->message_id = env->receipt->message_id;
      copy_str(e->name, sizeof e->name, env->receipt->to);
      e->time_ms = env->receipt->delivered_time_ms;
    }
    return;
  case MYCHAT__ENVELOPE__BODY_PRESENCE:
    e = ev_push(c, MC_CEV_PRESENCE);
    if (e) {
      copy_str(e->name, sizeof e->name, env->presence->name);
      e->online = env->presence->online;
    }
    return;
  case MYCHAT__ENVELOPE__BODY_BACKLOG_DONE:
    e = ev_push(c, MC_CEV_BACKLOG_DONE);
    if (e)
      e->count = env->backlog_done->count;
    return;
  default:
    return; /* a client body from the server: acked, ignored */
  }
}

static int recv_handshake(mc_client *c, const Mychat__Envelope *env,
                          mc_tstamp now) {
  if (env->body_case == MYCHAT__ENVELOPE__BODY_WELCOME &&
      env->welcome->client_nonce == c->nonce &&
      env->welcome->token.len == MC_TOKEN_LEN) {
    established(c, env->welcome, now);
    return 0;
  }
  if (env->body_case == MYCHAT__ENVELOPE__BODY_ERROR &&
      env->error->client_nonce == c->nonce) {
    c->state = MC_CLIENT_CLOSED;
    mc_client_event *e = ev_push(c, MC_CEV_CONNECT_FAILED);
    if (e) {
      e->code = (mc_wire_code)env->error->code;
      copy_str(e->text, sizeof e->text, env->error->text);
    }
    return 0;
  }
  return MC_ERR_AUTH;
}

int mc_client_recv(mc_client *c, const uint8_t *dgram, size_t len,
                   mc_tstamp now) {
  Mychat__Envelope *env = NULL;
  int rv = mc__codec_decode(c->mem, dgram, len, &env);
  if (rv < 0)
    return rv;
  /* Room is set aside first for every event the datagram can make, so that
   * a datagram the client cannot take is left as if lost (the server sends
   * it again): CONNECTED in a handshake, else one per body it lets out of
   * the receive stream (a session's end has a slot of its own). Only that
   * much, not a window's worth: see ev_trim. */
  if (c->state == MC_CLIENT_HANDSHAKE) {
    rv = ev_reserve(c, 1);
    if (rv == 0)
      rv = recv_handshake(c, env, now);
    mc__codec_free(c->mem, env);
    ev_trim(c);
    return rv;
  }
  if (c->state != MC_CLIENT_ESTABLISHED ||
      env->session_id != c->id.session_id) {
    mc__codec_free(c->mem, env);
    return MC_ERR_AUTH;
  }
  if (env->token.len != MC_TOKEN_LEN ||
      memcmp(env->token.data, c->id.token, MC_TOKEN_LEN) != 0) {
    mc__codec_free(c->mem, env);
    return MC_ERR_AUTH;
  }
  /* An Error of our session ends it. It must carry our token too: the
   * server echoes the token of the datagram it refuses, so a refusal of one
   * of our datagrams whose token was damaged on the way must not end a
   * healthy session. */
  if (env->body_case == MYCHAT__ENVELOPE__BODY_ERROR) {
    int code = env->error->code;
    char text[MC_ERROR_TEXT_MAX + 1];
    copy_str(text, sizeof text, env->error->text);
    mc__codec_free(c->mem, env);
    closed(c, code, 0, text);
    return 0;
  }
  if (ev_reserve(c, mc_arq_ready_with(&c->arq, env->seq)) < 0) {
    mc__codec_free(c->mem, env);
    ev_trim(c);
    return MC_ERR_NOMEM;
  }
  c->last_heard = now;
  int taken = 0;
  rv = mc__wire_take(&c->arq, env, now, &taken);
  if (!taken)
    mc__codec_free(c->mem, env);
  if (rv < 0) {
    ev_trim(c);
    return rv;
  }
  /* Acked bodies hold send-ring slots until their tags are popped; the
   * client matches replies by request seq and needs no tag, so it frees
   * them at once (else the session refuses requests with QUEUE_FULL after
   * window + queue_max of them). */
  uint64_t tag;
  while (mc_arq_pop_acked(&c->arq, &tag) == 1)
    ;
  Mychat__Envelope *push;
  while (c->arq_live && (push = mc_arq_pop(&c->arq)) != NULL) {
    handle_push(c, push);
    mc__codec_free(c->mem, push);
  }
  ev_trim(c);
  return 0;
}

/* ------------------------------------------------------------------ */
/* datagrams out and timers                                            */

/* A Ping goes out after keepalive_ms of sending nothing, and again every
 * tenth of that while the last Ping has had no answer (no datagram from the
 * server since), so that a lossy path does not end a live session for want
 * of one lucky Ping (MC-62). */
static mc_tstamp ping_due(const mc_client *c) {
  mc_tstamp ka = c->keepalive_ms * MC_MSEC;
  mc_tstamp idle = c->last_sent + ka;
  if (c->last_ping != 0 && c->last_heard < c->last_ping) {
    mc_tstamp again = c->last_ping + ka / 10;
    return again < idle ? again : idle;
  }
  return idle;
}

int mc_client_poll_tx(mc_client *c, mc_tstamp now, uint8_t *buf, size_t cap,
                      size_t *len) {
  /* A smaller buffer could stall what is due: say so rather than return 0
   * with a deadline left in the past. */
  if (cap < MC_DATAGRAM_MAX)
    return MC_ERR_BUFFER_TOO_SMALL;
  if (c->state == MC_CLIENT_HANDSHAKE) {
    if (now < c->hs_next || now >= c->hs_start +
                                       c->cfg.connect_timeout_ms * MC_MSEC)
      return 0;
    int rv = handshake_build(c, buf, cap, len);
    if (rv < 0)
      return rv;
    c->hs_next = now + c->hs_rto;
    mc_tstamp rto_max = MC_HANDSHAKE_RTO_MS_MAX * MC_MSEC;
    c->hs_rto = c->hs_rto * 2 > rto_max ? rto_max : c->hs_rto * 2;
    return 1;
  }
  if (c->state != MC_CLIENT_ESTABLISHED)
    return 0;
  if (c->logging_out == 2) {
    /* The server keeps the session until this ack reaches it. */
    int rv = mc__wire_ack_only(&c->arq, &c->id, now, buf, cap, len);
    closed(c, 0, 0, "logged out");
    return rv == 1;
  }
  Mychat__Envelope ping_env = MYCHAT__ENVELOPE__INIT;
  Mychat__Ping ping = MYCHAT__PING__INIT;
  int want_ping = now >= ping_due(c);
  if (want_ping) {
    ping.time_us = now;
    ping_env.body_case = MYCHAT__ENVELOPE__BODY_PING;
    ping_env.ping = &ping;
  }
  int rv = mc__wire_poll(&c->arq, &c->id, want_ping ? &ping_env : NULL, now,
                         MC_DATAGRAM_MAX, buf, cap, len);
  /* The token coming back from this address is what lets the server send
   * more than the Welcome here (MC-140): an ack-only datagram at once when
   * nothing else is going, rather than a wait for the first Ping. */
  if (rv == MC__WIRE_NONE && c->proof_owed)
    rv = mc__wire_ack_only(&c->arq, &c->id, now, buf, cap, len);
  if (rv == MC_ERR_GAVE_UP) {
    closed(c, 0, MC_ERR_GAVE_UP, "the server stopped answering");
    return 0;
  }
  if (rv <= 0)
    return rv;
  c->last_sent = now;
  c->proof_owed = 0;
  if (rv == MC__WIRE_UNREL)
    c->last_ping = now;
  return 1;
}

mc_tstamp mc_client_expiry(const mc_client *c) {
  if (c->state == MC_CLIENT_HANDSHAKE) {
    mc_tstamp give_up = c->hs_start + c->cfg.connect_timeout_ms * MC_MSEC;
    return c->hs_next < give_up ? c->hs_next : give_up;
  }
  if (c->state != MC_CLIENT_ESTABLISHED)
    return MC_TSTAMP_NEVER;
  if (c->logging_out == 2 || c->proof_owed)
    return 0;
  mc_tstamp t = mc_arq_expiry(&c->arq);
  mc_tstamp ka = ping_due(c);
  mc_tstamp silent = c->last_heard + c->timeout_ms * MC_MSEC;
  if (ka < t)
    t = ka;
  return silent < t ? silent : t;
}

void mc_client_handle_expiry(mc_client *c, mc_tstamp now) {
  if (c->state == MC_CLIENT_HANDSHAKE &&
      now >= c->hs_start + c->cfg.connect_timeout_ms * MC_MSEC) {
    c->state = MC_CLIENT_CLOSED;
    mc_client_event *e = ev_push(c, MC_CEV_CONNECT_FAILED);
    if (e)
      copy_str(e->text, sizeof e->text, "couldn't connect to server");
    return;
  }
  if (c->state == MC_CLIENT_ESTABLISHED &&
      now >= c->last_heard + c->timeout_ms * MC_MSEC)
    closed(c, 0, MC_ERR_STATE, "the server went silent");
}
