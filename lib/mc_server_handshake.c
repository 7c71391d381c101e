/*
 * mc_server_handshake.c: Register and Login (PROTOCOL.md 5.1 to 5.3): the
 * checks of section 5.1 in order, the per-host and per-pair rate limits,
 * the password jobs handed to the host (mc_server_poll_auth,
 * mc_server_auth_done), and the Welcome that starts a session.
 */
#include "mc_server_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

_Static_assert(MC_RATE_KEY_LEN == crypto_shorthash_KEYBYTES,
               "the rate-limit key is a SipHash-2-4 key");

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

/* Brings |b|'s tokens up to |now|. A new bucket comes in with more tokens
 * than any burst and leaves full. Each failed Login of a pair doubles the
 * time a token takes to come back, up to RATE_BACKOFF_MAX doublings (MC-51).
 * Returns 1 when the bucket is full: its failures are then forgiven, it
 * carries no information, and the table may forget it (MC-134). */
static int rate_refill(const mc_server *srv, rate_bucket *b, mc_tstamp now) {
  uint32_t full = srv->cfg.rate_burst * 1000;
  uint64_t refill = srv->cfg.rate_refill_ms ? srv->cfg.rate_refill_ms : 1;
  refill <<= b->fails < RATE_BACKOFF_MAX ? b->fails : RATE_BACKOFF_MAX;
  uint64_t gained = (now - b->t) / MC_MSEC * 1000 / refill;
  uint64_t t = b->tokens_milli + gained;
  b->tokens_milli = t > full ? full : (uint32_t)t;
  if (gained > 0)
    b->t = now;
  if (b->tokens_milli < full)
    return 0;
  b->fails = 0;
  return 1;
}

/* The bucket of |key| refilled to |now|, a new full one if it had none, or
 * NULL when its set is taken by buckets none of which is full (or |keep|):
 * forgetting one of those would hand its owner fresh tokens, the bypass of
 * issue 12, so the attempt is refused instead (MC-52). Two keys share a
 * bucket only if their 64-bit keyed hashes are equal, which no one without
 * the key can arrange. */
static rate_bucket *rate_bucket_at(mc_server *srv, uint64_t key,
                                   const rate_bucket *keep, mc_tstamp now) {
  rate_bucket *set = &srv->rate[(key >> 1) % RATE_SETS * RATE_WAYS];
  rate_bucket *spare = NULL;
  for (size_t i = 0; i < RATE_WAYS; i++) {
    rate_bucket *b = &set[i];
    if (b->key == key) {
      rate_refill(srv, b, now);
      return b;
    }
    if (spare == NULL && b != keep && (b->key == 0 || rate_refill(srv, b, now)))
      spare = b;
  }
  if (spare != NULL) {
    *spare = (rate_bucket){.key = key, .t = now, .tokens_milli = UINT32_MAX};
    rate_refill(srv, spare, now);
  }
  return spare;
}

/* The key of the bucket of |from|'s host, or with |name| of the pair of
 * that name and host: SipHash-2-4 under the server's random key (MC-134),
 * never 0 (a free bucket). The host's length goes in first, so no host and
 * name can spell another pair. */
static uint64_t rate_key(const mc_server *srv, const mc_addr *from,
                         const char *name) {
  uint8_t in[2 + MC_ADDR_MAX + MC_NAME_MAX];
  size_t hl = from->host_len ? from->host_len : from->len;
  size_t nl = name ? strlen(name) : 0;
  in[0] = name != NULL;
  in[1] = (uint8_t)hl;
  memcpy(in + 2, from->bytes, hl);
  memcpy(in + 2 + hl, name ? name : "", nl);
  uint8_t h[crypto_shorthash_BYTES];
  crypto_shorthash(h, in, 2 + hl + nl, srv->cfg.rate_key);
  uint64_t v;
  memcpy(&v, h, sizeof v);
  return v | 1;
}

/* Takes one attempt from the host's bucket and one from the pair's, or from
 * neither when either is empty or cannot be kept (MC-51, MC-52). Returns 1
 * when allowed. */
static int rate_take(mc_server *srv, const mc_addr *from, const char *name,
                     mc_tstamp now) {
  rate_bucket *h = rate_bucket_at(srv, rate_key(srv, from, NULL), NULL, now);
  rate_bucket *n =
      h ? rate_bucket_at(srv, rate_key(srv, from, name), h, now) : NULL;
  if (h == NULL || n == NULL)
    return 0;
  if (h->tokens_milli < 1000 || n->tokens_milli < 1000)
    return 0;
  h->tokens_milli -= 1000;
  n->tokens_milli -= 1000;
  return 1;
}

/* Records how a Login of the pair (|from|'s host, |name|) ended: a failure
 * lengthens the pair's refill (the backoff of MC-51), a success ends it. */
static void rate_note_login(mc_server *srv, const mc_addr *from,
                            const char *name, int ok, mc_tstamp now) {
  rate_bucket *n = rate_bucket_at(srv, rate_key(srv, from, name), NULL, now);
  if (n != NULL)
    n->fails = ok ? 0 : n->fails + 1;
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
#ifdef MC_FAULT_NO_DEDUP
    /* Conformance fault: a retransmitted handshake is not recognised
     * (MC-40). */
    s = NULL;
#endif
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
  /* 8. The account question that needs no password work. A Login for an
   * unknown name is not answered here: it is verified against a dummy
   * hash, so that its answer takes as long as a wrong password's (MC-135). */
  if (is_reg && found == 0) {
    code = MYCHAT__ERROR_CODE__NAME_TAKEN;
    send_error(srv, from, 0, NULL, code, "that user name is taken", nonce, len);
    slog(srv, now, from, name, 0, type, code, "");
    return;
  }
  if (mc__reserve(srv->mem, &srv->auth, &srv->auth_cap, srv->auth_n + 1,
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
  p->no_user = !is_reg && found != 0;
  p->addr = *from;
  p->req_len = len;
  p->job.id = p->job_id;
  p->job.kind = is_reg ? MC_AUTH_JOB_HASH : MC_AUTH_JOB_VERIFY;
  p->job.cost = srv->cfg.auth_cost;
  snprintf(p->job.password, sizeof p->job.password, "%s", pw);
  if (p->no_user)
    mc_auth_dummy_hash(srv->cfg.auth_cost, p->job.hash);
  else if (!is_reg)
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
  if (job->result != 0 || p.no_user) {
    Mychat__ErrorCode code = p.is_register ? MYCHAT__ERROR_CODE__INTERNAL
                                           : MYCHAT__ERROR_CODE__AUTH_FAILED;
#ifdef MC_FAULT_WRONG_ERROR_CODE
    /* Conformance fault: Login tells unknown names apart (MC-44). */
    if (p.no_user)
      code = MYCHAT__ERROR_CODE__NO_SUCH_USER;
#endif
    if (!p.is_register) {
      srv->stats.login_failures++;
      rate_note_login(srv, &p.addr, p.name, 0, now);
    }
    send_error(srv, &p.addr, 0, NULL, code,
               p.is_register ? "could not hash the password"
                             : "wrong user name or password",
               p.nonce, p.req_len);
    slog(srv, now, &p.addr, p.name, 0, type, code,
         p.no_user ? "no such user" : "");
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
  } else {
    rate_note_login(srv, &p.addr, p.name, 1, now);
  }
  auth_succeeded(srv, &p, now);
  return 0;
}
