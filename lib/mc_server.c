/*
 * mc_server.c: the server's entry points (PROTOCOL.md section 4.3): a
 * datagram in (mc_server_recv: decode, route to the handshake or to its
 * session by id and token), datagrams out (mc_server_poll_tx: unreliable
 * answers first, then each ready session's reliable stream), the timer
 * entry points (mc_server_expiry, mc_server_handle_expiry), shutdown, and
 * the server's life (new, del, config, stats). Also the helpers every part
 * of the server shares: the log hook, wall time, the queue of unreliable
 * answers and the Error builder.
 *
 * The rest of the server: mc_server_handshake.c (Register, Login, rate
 * limits, password jobs), mc_server_session.c (session life, timer heap,
 * ready list, group online lists), mc_server_request.c (client requests),
 * mc_server_push.c (reliable pushes, backlog, acknowledgements),
 * mc_server_path.c (each session's address: its anti-amplification budget
 * and validation); the state they share is in mc_server_int.h.
 */
#include "mc_server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* small helpers                                                      */

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

uint64_t mc__server_wall_ms(const mc_server *srv, mc_tstamp now) {
  return (uint64_t)((int64_t)(now / MC_MSEC) + srv->cfg.wall_offset_ms);
}

/* Constant time, so a wrong token does not reveal how much of it matched. */
static int token_eq(const uint8_t *a, const uint8_t *b) {
  uint8_t d = 0;
  for (size_t i = 0; i < MC_TOKEN_LEN; i++)
    d |= a[i] ^ b[i];
  return d == 0;
}

static void server_log(mc_server *srv, mc_tstamp now, const mc_addr *peer,
                       const char *user, uint64_t sid, const char *type,
                       int code, const char *detail, uint32_t dropped) {
  mc_server_log rec = {.now = now,
                       .peer = peer,
                       .user = user ? user : "",
                       .session_id = sid,
                       .type = type,
                       .code = code,
                       .detail = detail ? detail : "",
                       .dropped = dropped};
  srv->cb.log(srv->cb.user_data, &rec);
}

void mc__server_slog(mc_server *srv, mc_tstamp now, const mc_addr *peer,
                     const char *user, uint64_t sid, const char *type, int code,
                     const char *detail) {
  if (srv->cb.log != NULL)
    server_log(srv, now, peer, user, sid, type, code, detail, 0);
}

/* A client that sends a thousand requests a second would make a thousand
 * lines a second (about 170 KB/s, issue 12): each session has a bucket of
 * lines, and what it cannot take is counted, not written (MC-153). */
void mc__server_sess_log(mc_server *srv, sess *s, mc_tstamp now,
                         const char *type, int code, const char *detail,
                         int always) {
  if (srv->cb.log == NULL)
    return;
  if (!mc_rate_take(&s->log_rate, MC_SERVER_LOG_BURST,
                    MC_SERVER_LOG_REFILL_MS, now) &&
      !always) {
    s->log_dropped++;
    srv->stats.log_dropped++;
    return;
  }
  server_log(srv, now, &s->path.addr, s->name, s->id, type, code, detail,
             s->log_dropped);
  s->log_dropped = 0;
}

mc_wire_code mc_server_wire_code(int err) {
  switch (err) {
  case MC_ERR_DECODE:
  case MC_ERR_BAD_UTF8: /* a string that is not UTF-8 is malformed (MC-21) */
  case MC_ERR_NO_BODY:
  case MC_ERR_MISSING_FIELD:
  case MC_ERR_BAD_FIELD:
  case MC_ERR_INVAL:
    return MC_WIRE_MALFORMED;
  case MC_ERR_BAD_NAME:
    return MC_WIRE_BAD_NAME;
  case MC_ERR_BAD_PASSWORD:
    return MC_WIRE_BAD_PASSWORD;
  case MC_ERR_TEXT_TOO_LONG:
    return MC_WIRE_TEXT_TOO_LONG;
  case MC_ERR_STATE:
    return MC_WIRE_BAD_REQUEST;
  case MC_ERR_AUTH:
    return MC_WIRE_AUTH_FAILED;
  default:
    return MC_WIRE_INTERNAL;
  }
}

/* ------------------------------------------------------------------ */
/* unreliable answers                                                 */

void mc__server_unrel_push(mc_server *srv, const mc_addr *to,
                           const uint8_t *data, size_t len) {
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
 * one does not (MC-60). Returns the length queued, 0 when none. */
size_t mc__server_send_error(mc_server *srv, const mc_addr *to, uint64_t sid,
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
      mc__server_unrel_push(srv, to, buf, len);
      return len;
    }
    if (tl == 0)
      return 0;
    tl = tl > 8 ? tl - 8 : 0;
    while (tl > 0 && ((uint8_t)t[tl] & 0xC0) == 0x80)
      tl--;
    t[tl] = '\0';
  }
}

void mc__server_sess_error(mc_server *srv, sess *s, Mychat__ErrorCode code,
                           const char *text) {
  ProtobufCBinaryData tok = {MC_TOKEN_LEN, s->token};
  size_t room = mc__server_path_room(&s->path);
  size_t len = mc__server_send_error(srv, &s->path.addr, s->id, &tok, code,
                                     text, 0,
                                     room < MC_DATAGRAM_MAX ? room
                                                            : MC_DATAGRAM_MAX);
  mc__server_path_sent(&s->path, len);
}

/* ------------------------------------------------------------------ */
/* datagrams in                                                       */

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
  rv = mc__codec_unpack(srv->mem, dgram, len, &env);
  if (rv == MC_ERR_NOMEM)
    return rv; /* not the datagram's fault: as if lost, it comes again */
  if (rv < 0) {
    srv->stats.rx_malformed++;
    mc__server_send_error(srv, from, 0, NULL, MYCHAT__ERROR_CODE__MALFORMED,
                          mc_strerror(rv), 0, len);
    mc__server_slog(srv, now, from, "", 0, "malformed",
                    MYCHAT__ERROR_CODE__MALFORMED, mc_strerror(rv));
    return rv;
  }
  if (env->body_case == MYCHAT__ENVELOPE__BODY_REGISTER ||
      env->body_case == MYCHAT__ENVELOPE__BODY_LOGIN) {
    mc__server_handle_handshake(srv, from, env, len, now);
    mc__codec_free(srv->mem, env);
    return 0;
  }
  sess *s = env->session_id ? mc__map_get(&srv->by_id, env->session_id) : NULL;
  if (s == NULL || env->token.len != MC_TOKEN_LEN ||
      !token_eq(env->token.data, s->token)) {
    srv->stats.rx_bad_session++;
    mc__server_send_error(srv, from, env->session_id, &env->token,
                          MYCHAT__ERROR_CODE__UNKNOWN_SESSION,
                          env->session_id
                              ? "unknown session or wrong token; log in again"
                              : "log in first",
                          0, len);
    mc__codec_free(srv->mem, env);
    return MC_ERR_AUTH;
  }
  s->last_heard = now;
  int was_heard = s->path.heard;
  int is_ping =
      env->seq == 0 && env->body_case == MYCHAT__ENVELOPE__BODY_PING;
  mc_server_path_rx prx = {.ping_time = is_ping ? env->ping->time_us : 0};
  uint64_t cum = mc_arq_cum_acked(&s->arq);
  int taken = 0;
  rv = mc__wire_take(&s->arq, env, now, &taken);
  if (rv < 0)
    srv->stats.rx_malformed++; /* a bad ack: ignored, the rest stands */
  /* Authenticated: the session follows its client to a new address, but
   * only for a datagram that brings something new (MC-56, MC-143), and
   * within a budget there until the address is validated (MC-142). */
  prx.took_body = taken;
  prx.cum_acked = mc_arq_cum_acked(&s->arq);
  prx.acked_more = prx.cum_acked > cum;
  prx.next_unsent = mc_arq_next_unsent(&s->arq);
  if (mc__server_path_on_datagram(&s->path, from, len, &prx))
    srv->stats.migrations++;
  if (env->seq == 0 && env->body_case != MYCHAT__ENVELOPE__BODY__NOT_SET) {
    if (is_ping) {
      s->pong_owed = 1;
      s->pong_time = env->ping->time_us;
    } else {
      mc__server_sess_error(srv, s, MYCHAT__ERROR_CODE__BAD_REQUEST,
                            "this body is not sent unreliably by a client");
    }
  }
  if (!taken)
    mc__codec_free(srv->mem, env);
  s->blocked = 0;
  mc__server_handle_acked(srv, s, now);
  /* The token came back: what waited for it may go now (MC-141). */
  if (!was_heard)
    mc__server_sess_pump(srv, s);
  Mychat__Envelope *req;
  /* A logout inside mc__server_handle_request leaves |s| lingering (its Result
   * is outstanding), never freed, so the loop may go on with it. */
  while ((req = mc_arq_pop(&s->arq)) != NULL) {
    mc__server_handle_request(srv, s, req, now);
    mc__codec_free(srv->mem, req);
  }
  mc__server_make_ready(srv, s);
  return 0;
}

/* ------------------------------------------------------------------ */
/* datagrams out and timers                                           */

int mc_server_poll_tx(mc_server *srv, mc_tstamp now, mc_addr *to,
                      uint8_t *buf, size_t cap, size_t *len) {
  /* A smaller buffer would stall all output while expiry says "now". */
  if (cap < MC_DATAGRAM_MAX)
    return MC_ERR_BUFFER_TOO_SMALL;
  if (srv->unrel_n > 0) {
    unrel_dgram *d = &srv->unrel[srv->unrel_head];
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
      mc__server_ready_remove(srv, s);
      srv->stats.sessions_gave_up++;
      mc__server_sess_end(srv, s, MYCHAT__ERROR_CODE__ERROR_NONE,
                          "send queue full", 0, now);
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
    /* Nothing but the Welcome goes before the token comes back (MC-141);
     * after it, the budget of an address not yet validated (MC-140). */
    size_t room = s->path.heard ? mc__server_path_room(&s->path) : 0;
    /* While a reliable body waits for that budget, a Pong would spend it:
     * held back, the client's unanswered Pings come ten times as often
     * (MC-62) and each brings more budget (MC-142). */
    int with_pong = s->pong_owed &&
                    (s->path.validated || mc_arq_expiry(&s->arq) > now);
    int rv = mc__wire_poll(&s->arq, &id, with_pong ? &pong_env : NULL, now,
                           room, buf, cap, len);
    if (rv > 0) {
      /* Reliable bodies go first; the Pong waits for a datagram of its own
       * (any datagram of the session proves it alive, so no hurry). */
      if (rv == MC__WIRE_UNREL)
        s->pong_owed = 0;
      srv->stats.retransmissions +=
          mc_arq_get_stats(&s->arq)->tx_retrans - retrans;
      *to = s->path.addr;
      mc__server_path_sent(&s->path, *len);
      srv->stats.tx_datagrams++;
      srv->stats.tx_bytes += *len;
      return 1;
    }
    mc__server_ready_remove(srv, s);
    s->blocked = rv == MC__WIRE_NONE && mc_arq_expiry(&s->arq) <= now;
    if (rv == MC__WIRE_NONE && s->blocked)
      srv->stats.tx_held++;
    if (rv < 0) {
      srv->stats.sessions_gave_up++;
      mc__server_sess_end(srv, s, MYCHAT__ERROR_CODE__ERROR_NONE,
                          "client stopped acking", 0, now);
      continue;
    }
    if (s->state == SESS_CLOSING && mc_arq_outstanding(&s->arq) == 0) {
      mc__server_sess_free(srv, s);
      continue;
    }
    mc__server_heap_schedule(srv, s);
  }
  return 0;
}

mc_tstamp mc_server_expiry(mc_server *srv) {
  if (srv->unrel_n > 0 || srv->ready_head != NULL)
    return 0;
  sess *first = heap_first(srv);
  mc_tstamp t = first ? first->deadline : MC_TSTAMP_NEVER;
  return srv->unrec_n > 0 && srv->unrec_retry < t ? srv->unrec_retry : t;
}

void mc_server_handle_expiry(mc_server *srv, mc_tstamp now) {
  sess *s;
  mc__server_unrec_retry(srv, now);
  while ((s = heap_first(srv)) != NULL && s->deadline <= now) {
    if (s->state == SESS_CLOSING && now >= s->closing_deadline) {
      mc__server_sess_free(srv, s);
      continue;
    }
    if (s->state == SESS_ESTABLISHED &&
        now >= s->last_heard + srv->cfg.session_timeout_ms * MC_MSEC) {
      srv->stats.sessions_timed_out++;
      mc__server_sess_end(srv, s, MYCHAT__ERROR_CODE__ERROR_NONE, "timed out",
                          0, now);
      continue;
    }
    mc__server_make_ready(srv, s);
  }
}

void mc_server_shutdown(mc_server *srv, mc_tstamp now) {
  while (heap_first(srv) != NULL || srv->ready_head != NULL) {
    sess *s = heap_first(srv) ? heap_first(srv) : srv->ready_head;
    if (s->state == SESS_ESTABLISHED)
      mc__server_sess_end(srv, s, MYCHAT__ERROR_CODE__SHUTTING_DOWN,
                          "server shutting down", 0, now);
    else
      mc__server_sess_free(srv, s);
  }
}

/* ------------------------------------------------------------------ */
/* life                                                               */

void mc_server_config_default(mc_server_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_sessions = 100000;
  cfg->keepalive_ms = MC_KEEPALIVE_MS_DEFAULT;
  cfg->session_timeout_ms = MC_SESSION_TIMEOUT_MS_DEFAULT;
  cfg->rate_burst = 5;
  cfg->rate_refill_ms = 2000;
  cfg->auth_per_prefix = 32;
  cfg->auth_queue_max = 256;
  cfg->msg_burst = 50;
  cfg->msg_refill_ms = 100;
  cfg->quota_bytes = 100ULL << 20;
  cfg->push_window = 32;
  cfg->auth_cost = MC_AUTH_COST_INTERACTIVE;
  mc_arq_config_default(&cfg->arq);
}

mc_server *mc_server_new(const mc_server_config *cfg, const mc_store *store,
                         const mc_server_callbacks *cb) {
  if (cb == NULL || cb->random == NULL || store == NULL)
    return NULL;
  mc_server *srv = mc__calloc(cb->mem, 1, sizeof *srv);
  if (srv == NULL)
    return NULL;
  srv->mem = cb->mem;
  if (cfg)
    srv->cfg = *cfg;
  else
    mc_server_config_default(&srv->cfg);
  if (srv->cfg.push_window == 0)
    srv->cfg.push_window = 1;
  srv->store = *store;
  srv->cb = *cb;
  mc__map_init(&srv->by_id, srv->mem);
  mc__map_init(&srv->by_user, srv->mem);
  mc__map_init(&srv->groups_online, srv->mem);
  mc__server_heap_init(srv);
  srv->unrel = mc__malloc(srv->mem, UNREL_QUEUE_MAX * sizeof *srv->unrel);
  if (srv->unrel == NULL) {
    mc_server_del(srv);
    return NULL;
  }
  return srv;
}

void mc_server_del(mc_server *srv) {
  if (srv == NULL)
    return;
  while (heap_first(srv) != NULL || srv->ready_head != NULL) {
    sess *s = heap_first(srv) ? heap_first(srv) : srv->ready_head;
    while (s->n_groups > 0)
      mc__server_sess_leave_group(srv, s, s->groups[0]);
    mc__server_sess_free(srv, s);
  }
  mc__map_free(&srv->by_id);
  mc__map_free(&srv->by_user);
  mc__map_free(&srv->groups_online);
  mc__heap_free(&srv->heap);
  mc__free(srv->mem, srv->unrel);
  if (srv->auth)
    memset(srv->auth, 0, srv->auth_cap * sizeof *srv->auth); /* passwords */
  mc__free(srv->mem, srv->auth);
  mc__free(srv->mem, srv);
}

const mc_server_stats *mc_server_get_stats(const mc_server *srv) {
  return &srv->stats;
}
