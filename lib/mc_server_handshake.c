/*
 * mc_server_handshake.c: Register and Login (PROTOCOL.md 5.1 to 5.3): the
 * checks of section 5.1 in order, the per-host and per-name rate limits,
 * the password jobs handed to the host (mc_server_poll_auth,
 * mc_server_auth_done), and the Welcome that starts a session.
 */
#include "mc_server_int.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Welcome                                                            */

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
/* rate limits                                                        */

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

/* ------------------------------------------------------------------ */
/* handshake                                                          */

/* Handles a Register or Login by the steps of PROTOCOL.md section 5.1. */
void handle_handshake(mc_server *srv, const mc_addr *from,
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
