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

/* Queues |s|'s Welcome to |to|, which sent a handshake of |limit| bytes
 * (MC-60); to the session's own address it also counts against the budget
 * there (MC-140). */
static void welcome_send(mc_server *srv, sess *s, const mc_addr *to,
                         size_t limit, mc_tstamp now) {
  int own = mc__server_addr_eq(to, &s->path.addr);
  size_t room = own ? mc__server_path_room(&s->path) : limit;
  if (room < limit)
    limit = room;
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Welcome w = MYCHAT__WELCOME__INIT;
  w.session_id = s->id;
  w.token.data = (uint8_t *)s->token;
  w.token.len = MC_TOKEN_LEN;
  w.client_nonce = s->nonce;
  w.name = (char *)s->name;
  w.server_time_ms = mc__server_wall_ms(srv, now);
  w.keepalive_ms = srv->cfg.keepalive_ms;
  w.session_timeout_ms = srv->cfg.session_timeout_ms;
  env.body_case = MYCHAT__ENVELOPE__BODY_WELCOME;
  env.welcome = &w;
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len;
  if (mc__wire_single(&env, 0, NULL, limit, buf, &len) != 1)
    return;
  mc__server_unrel_push(srv, to, buf, len);
  if (own)
    mc__server_path_sent(&s->path, len);
}

/* The password checked out (or the account was made): replace any older
 * session of the user, start a new one, welcome it, push its backlog. */
static void auth_succeeded(mc_server *srv, auth_pending *p, mc_tstamp now) {
  sess *old = mc__map_get(&srv->by_user, p->user_id);
  int was_online = old != NULL;
  /* Logging in again does not refill the message bucket (MC-150). */
  mc_rate msg_rate = was_online ? old->msg_rate : (mc_rate){0, 0};
  if (old != NULL)
    mc__server_sess_end(srv, old, MYCHAT__ERROR_CODE__SESSION_REPLACED,
                        "logged in elsewhere", 0, now);
  sess *s = mc__server_sess_create(srv, p, now);
  uint64_t maxid = 0;
  if (s != NULL && was_online)
    s->msg_rate = msg_rate;
  if (s == NULL || mc__server_sess_load_groups(srv, s) < 0 ||
      srv->store.ops->user_bytes(srv->store.st, s->user_id, &s->sent_bytes) <
          0 ||
      srv->store.ops->msg_max_id(srv->store.st, &maxid) < 0 ||
      mc__map_put(&srv->by_user, s->user_id, s) < 0) {
    if (s != NULL) {
      while (s->n_groups > 0)
        mc__server_sess_leave_group(srv, s, s->groups[0]);
      mc__server_sess_free(srv, s);
    }
    mc__server_send_error(srv, &p->addr, 0, NULL, MYCHAT__ERROR_CODE__INTERNAL,
                          "server could not start the session", p->nonce,
                          p->req_len);
    return;
  }
  s->watermark = maxid;
  srv->stats.logins++;
  mc__server_sess_log(srv, s, now, p->is_register ? "register" : "login", 0,
                      "", 0);
  welcome_send(srv, s, &p->addr, p->req_len, now);
  if (!was_online)
    mc__server_push_presence(srv, s, 1);
  /* Its own pushes (backlog, receipts) wait for the token to come back
   * from its address (MC-141): mc_server_recv pumps it then. */
  mc__server_make_ready(srv, s);
}

/* ------------------------------------------------------------------ */
/* rate limits                                                        */

/* The length of the prefix of |a|'s host that registrations and password
 * work are shared out by (MC-136, MC-137): a /24 for IPv4 (IPv4-mapped
 * IPv6 too), a /56 for IPv6, the whole host for any other address. */
static size_t addr_prefix_len(const mc_addr *a) {
  static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  size_t hl = a->host_len ? a->host_len : a->len;
  if (hl == 4)
    return 3;
  if (hl == 16)
    return memcmp(a->bytes, v4mapped, sizeof v4mapped) == 0 ? 15 : 7;
  return hl;
}

static int addr_same_prefix(const mc_addr *a, const mc_addr *b) {
  size_t n = addr_prefix_len(a);
  return n == addr_prefix_len(b) && memcmp(a->bytes, b->bytes, n) == 0;
}

/* Registrations allowed per hour to one bucket of |kind| (MC-137). */
static uint32_t reg_per_hour(const mc_server *srv, rate_kind kind) {
  uint32_t set = kind == RATE_REG_HOST ? srv->cfg.reg_per_hour
                                       : srv->cfg.reg_per_hour_prefix;
  uint32_t scale = kind == RATE_REG_HOST ? 4 : 20;
  return set ? set : scale * srv->cfg.rate_burst;
}

/* Brings |b|'s tokens up to |now|. A new bucket comes in with more tokens
 * than any burst and leaves full. Each failed Login of a pair doubles the
 * time a token takes to come back, up to RATE_BACKOFF_MAX doublings (MC-51).
 * Returns 1 when the bucket is full: its failures are then forgiven, it
 * carries no information, and the table may forget it (MC-134). */
static int rate_refill(const mc_server *srv, rate_bucket *b, mc_tstamp now) {
  uint32_t burst = srv->cfg.rate_burst;
  uint64_t refill = srv->cfg.rate_refill_ms ? srv->cfg.rate_refill_ms : 1;
  if (b->kind == RATE_REG_HOST || b->kind == RATE_REG_PREFIX) {
    burst = reg_per_hour(srv, b->kind);
    refill = burst ? 3600000 / burst + 1 : 1;
  }
  refill <<= b->fails < RATE_BACKOFF_MAX ? b->fails : RATE_BACKOFF_MAX;
  if (!mc_rate_refill(&b->r, burst, refill, now))
    return 0;
  b->fails = 0;
  return 1;
}

/* The bucket of |key| refilled to |now|, a new full one of |kind| if it had
 * none, or NULL when its set is taken by buckets none of which is full (or
 * |keep|): forgetting one of those would hand its owner fresh tokens, the
 * bypass of issue 12, so the attempt is refused instead (MC-52). Two keys
 * share a bucket only if their 64-bit keyed hashes are equal, which no one
 * without the key can arrange. */
static rate_bucket *rate_bucket_at(mc_server *srv, uint64_t key,
                                   rate_kind kind, const rate_bucket *keep,
                                   mc_tstamp now) {
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
    *spare = (rate_bucket){
        .key = key, .r = {.t = now, .tokens_milli = UINT32_MAX},
        .kind = kind};
    rate_refill(srv, spare, now);
  }
  return spare;
}

/* The key of the bucket of |kind| for |from| (its host, or its prefix for
 * RATE_REG_PREFIX), with |name| for RATE_PAIR: SipHash-2-4 under the
 * server's random key (MC-134), never 0 (a free bucket). The kind and the
 * host's length go in first, so no host and name can spell another pair. */
static uint64_t rate_key(const mc_server *srv, rate_kind kind,
                         const mc_addr *from, const char *name) {
  uint8_t in[2 + MC_ADDR_MAX + MC_NAME_MAX];
  size_t hl = kind == RATE_REG_PREFIX ? addr_prefix_len(from)
              : from->host_len        ? from->host_len
                                      : from->len;
  size_t nl = kind == RATE_PAIR ? strlen(name) : 0;
  in[0] = (uint8_t)kind;
  in[1] = (uint8_t)hl;
  memcpy(in + 2, from->bytes, hl);
  memcpy(in + 2 + hl, name, nl);
  uint8_t h[crypto_shorthash_BYTES];
  crypto_shorthash(h, in, 2 + hl + nl, srv->cfg.rate_key);
  uint64_t v;
  memcpy(&v, h, sizeof v);
  return v | 1;
}

/* Takes one token from each of the buckets of |kinds| (|n| of them) for
 * |from| and |name|, or from none when any is empty or cannot be kept
 * (MC-51, MC-52, MC-137). Returns 1 when allowed. */
static int rate_take_all(mc_server *srv, const rate_kind *kinds, size_t n,
                         const mc_addr *from, const char *name,
                         mc_tstamp now) {
  rate_bucket *b[2] = {NULL, NULL};
  for (size_t i = 0; i < n; i++) {
    b[i] = rate_bucket_at(srv, rate_key(srv, kinds[i], from, name), kinds[i],
                          i ? b[0] : NULL, now);
    if (b[i] == NULL || b[i]->r.tokens_milli < 1000)
      return 0;
  }
  for (size_t i = 0; i < n; i++)
    b[i]->r.tokens_milli -= 1000;
  return 1;
}

/* The login limit: a token from the host's bucket and one from the
 * pair's (MC-51, MC-52). Returns 1 when allowed. */
static int rate_take(mc_server *srv, const mc_addr *from, const char *name,
                     mc_tstamp now) {
  static const rate_kind kinds[] = {RATE_HOST, RATE_PAIR};
  return rate_take_all(srv, kinds, 2, from, name, now);
}

/* The registration limit: a token from the host's hourly bucket and one
 * from its prefix's (MC-137). Returns 1 when allowed. */
static int reg_take(mc_server *srv, const mc_addr *from, mc_tstamp now) {
  static const rate_kind kinds[] = {RATE_REG_HOST, RATE_REG_PREFIX};
  return rate_take_all(srv, kinds, 2, from, "", now);
}

/* Records how a Login of the pair (|from|'s host, |name|) ended: a failure
 * lengthens the pair's refill (the backoff of MC-51), a success ends it. */
static void rate_note_login(mc_server *srv, const mc_addr *from,
                            const char *name, int ok, mc_tstamp now) {
  rate_bucket *n = rate_bucket_at(srv, rate_key(srv, RATE_PAIR, from, name),
                                  RATE_PAIR, NULL, now);
  if (n != NULL)
    n->fails = ok ? 0 : n->fails + 1;
}

/* ------------------------------------------------------------------ */
/* handshake                                                          */

/* Handles a Register or Login by the steps of PROTOCOL.md section 5.1. */
void mc__server_handle_handshake(mc_server *srv, const mc_addr *from,
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
    mc__server_send_error(srv, from, 0, NULL, MYCHAT__ERROR_CODE__BAD_REQUEST,
                          "a handshake carries no session header", nonce, len);
    mc__server_slog(srv, now, from, "", 0, type,
                    MYCHAT__ERROR_CODE__BAD_REQUEST, "");
    return;
  }
  /* 3. Fields. */
  int rv = mc_codec_validate_body(env);
  if (rv < 0) {
    code = (Mychat__ErrorCode)mc_server_wire_code(rv);
    mc__server_send_error(srv, from, 0, NULL, code, mc_strerror(rv), nonce,
                          len);
    mc__server_slog(srv, now, from, "", 0, type, code, mc_strerror(rv));
    return;
  }
  /* 4. A retransmission of a handshake that succeeded: same Welcome. */
  uint64_t uid = 0;
  char hash[MC_PWHASH_MAX];
  int found = srv->store.ops->user_find(srv->store.st, name, &uid, hash,
                                        sizeof hash);
  if (found < 0 && found != MC_ERR_NOT_FOUND) {
    mc__server_send_error(srv, from, 0, NULL, MYCHAT__ERROR_CODE__INTERNAL,
                          "storage failure", nonce, len);
    mc__server_slog(srv, now, from, name, 0, type, MYCHAT__ERROR_CODE__INTERNAL,
                    "");
    return;
  }
  if (found == 0) {
    sess *s = mc__map_get(&srv->by_user, uid);
    if (s != NULL && s->nonce == nonce && s->state == SESS_ESTABLISHED) {
      mc__server_path_received(&s->path, from, len);
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
    mc__server_send_error(srv, from, 0, NULL, code,
                          "too many login attempts; wait a few seconds", nonce,
                          len);
    mc__server_slog(srv, now, from, name, 0, type, code, "");
    return;
  }
  if (srv->stats.sessions + srv->auth_n >= srv->cfg.max_sessions) {
    code = MYCHAT__ERROR_CODE__SERVER_BUSY;
    mc__server_send_error(srv, from, 0, NULL, code,
                          "server full; try again later", nonce, len);
    mc__server_slog(srv, now, from, name, 0, type, code, "session limit");
    return;
  }
  /* 8. The account question that needs no password work. A Login for an
   * unknown name is not answered here: it is verified against a dummy
   * hash, so that its answer takes as long as a wrong password's (MC-135). */
  if (is_reg && found == 0) {
    code = MYCHAT__ERROR_CODE__NAME_TAKEN;
    mc__server_send_error(srv, from, 0, NULL, code, "that user name is taken",
                          nonce, len);
    mc__server_slog(srv, now, from, name, 0, type, code, "");
    return;
  }
  /* Password work is bounded per prefix and in all, Registers to half of
   * it (MC-136); then registrations per hour (MC-137). */
  uint32_t same = 0, regs = 0;
  for (size_t i = 0; i < srv->auth_n; i++) {
    same += addr_same_prefix(&srv->auth[i].addr, from);
    regs += srv->auth[i].is_register;
  }
  if (same >= srv->cfg.auth_per_prefix ||
      (is_reg ? regs >= srv->cfg.auth_queue_max / 2
              : srv->auth_n >= srv->cfg.auth_queue_max)) {
    code = MYCHAT__ERROR_CODE__SERVER_BUSY;
    mc__server_send_error(srv, from, 0, NULL, code,
                          "too many logins waiting; try again later", nonce,
                          len);
    mc__server_slog(srv, now, from, name, 0, type, code, "password work queue");
    return;
  }
  if (is_reg && !reg_take(srv, from, now)) {
    code = MYCHAT__ERROR_CODE__RATE_LIMITED;
    mc__server_send_error(
        srv, from, 0, NULL, code,
        "too many new accounts from your network; try again later", nonce, len);
    mc__server_slog(srv, now, from, name, 0, type, code,
                    "registrations per hour");
    return;
  }
  if (mc__reserve(srv->mem, &srv->auth, &srv->auth_cap, srv->auth_n + 1,
                  sizeof *srv->auth) < 0) {
    mc__server_send_error(srv, from, 0, NULL, MYCHAT__ERROR_CODE__SERVER_BUSY,
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
  p->turn = same;
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

/* Whether pending job |a| goes before |b| (MC-136): Logins first, then the
 * lower turn within its prefix, so that every prefix's first job goes
 * before any prefix's second; then the older. */
static int auth_before(const auth_pending *a, const auth_pending *b) {
  if (a->is_register != b->is_register)
    return b->is_register;
  if (a->turn != b->turn)
    return a->turn < b->turn;
  return a->job_id < b->job_id;
}

int mc_server_poll_auth(mc_server *srv, mc_auth_job *job) {
  auth_pending *next = NULL;
  for (size_t i = 0; i < srv->auth_n; i++)
    if (!srv->auth[i].polled &&
        (next == NULL || auth_before(&srv->auth[i], next)))
      next = &srv->auth[i];
  if (next == NULL)
    return 0;
  next->polled = 1;
  *job = next->job;
  /* The core keeps no copy of the password once the host has it. */
  memset(next->job.password, 0, sizeof next->job.password);
  return 1;
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
    if (!p.is_register) {
      srv->stats.login_failures++;
      rate_note_login(srv, &p.addr, p.name, 0, now);
    }
    mc__server_send_error(srv, &p.addr, 0, NULL, code,
                          p.is_register ? "could not hash the password"
                                        : "wrong user name or password",
                          p.nonce, p.req_len);
    mc__server_slog(srv, now, &p.addr, p.name, 0, type, code,
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
      mc__server_send_error(srv, &p.addr, 0, NULL, code,
                            rv == MC_ERR_EXISTS ? "that user name is taken"
                                                : "storage failure",
                            p.nonce, p.req_len);
      mc__server_slog(srv, now, &p.addr, p.name, 0, type, code, "");
      return 0;
    }
    srv->stats.registrations++;
  } else {
    rate_note_login(srv, &p.addr, p.name, 1, now);
  }
  auth_succeeded(srv, &p, now);
  return 0;
}
