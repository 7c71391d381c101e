/*
 * mc-record: records the conformance cases (captures/NAME.pcap and
 * NAME.case) from a running reference server.
 *
 *   mc-record --server HOST:PORT --out DIR [--flags STD|rate|busy] [CASE...]
 *
 * It starts nothing itself: `make captures` (conformance/captures.sh)
 * starts one reference server per set of server flags and runs this against
 * it. Each case is a scripted scenario over real UDP sockets on loopback,
 * built from hand-made envelopes so that the edge cases (bad headers, stray
 * seqs, selective acks) are exactly what the script says. Every datagram
 * sent and received goes into the case's pcap, with synthetic addresses
 * (mc_capture.h) and a virtual clock: 1 ms per datagram plus every
 * deliberate wait, so regenerating gives the same files apart from the
 * values the server chooses (session ids, tokens, times). Nonces and
 * client_msg_ids come from a seed. The scripts wait for the server to go
 * quiet (SETTLE_MS without a datagram) after each step, so the capture
 * shows cause before effect, which the replayer relies on.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mc_capture.h"
#include "mc_codec_pb.h"
#include "mc_error.h"
#include "mc_rng.h"
#include "mc_udp.h"

#define SETTLE_MS 60
#define SETTLE_MAX_MS 3000
#define MAX_SEQ 256

typedef struct {
  int fd;
  int host;                   /* client host: 127.0.0.(1 + host) */
  uint64_t sid;
  uint8_t tok[MC_TOKEN_LEN];
  int in_session;
  uint32_t seq_next;          /* our next reliable seq */
  uint8_t got[MAX_SEQ];       /* server seqs received */
  uint32_t cum;               /* every server seq <= cum received */
  int autoack;                /* ack every push at once */
  int deaf;                   /* keeps no note of pushes: never acks one */
  int quiet;                  /* sends nothing on its Welcome, so the
                                 server never sees its address answer */
} endpoint;

typedef struct {
  struct sockaddr_storage srv;
  socklen_t srvlen;
  mc_rng rng;
  int case_idx;
  endpoint ep[MC_CAP_ENDPOINTS_MAX];
  int n_ep;
  mc_cap_pkt *pkts;
  size_t n_pkts;
  uint64_t vclock_us;
  uint64_t ping_time;
  int failed;
} rec;

typedef struct {
  const char *name;
  const char *flags;          /* NULL: MC_CAP_STD_FLAGS */
  const char *desc;
  const char *requires;
  const char *extra;          /* more .case lines, or NULL */
  void (*run)(rec *r);
} scenario;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "mc-record: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static uint64_t now_ms(void) { return mc_udp_now_us() / 1000; }

static void log_pkt(rec *r, int from_client, int ep, const uint8_t *d,
                    size_t len) {
  if (r->n_pkts == MC_CAP_PKTS_MAX || len > sizeof r->pkts[0].data)
    die("capture too large");
  mc_cap_pkt *p = &r->pkts[r->n_pkts++];
  p->t_us = r->vclock_us;
  p->from_client = from_client;
  p->ep = ep;
  p->host = r->ep[ep].host;
  p->len = len;
  memcpy(p->data, d, len);
  r->vclock_us += 1000;
}

static void raw(rec *r, int ep, const uint8_t *d, size_t len) {
  if (send(r->ep[ep].fd, d, len, 0) < 0)
    die("send: %s", strerror(errno));
  log_pkt(r, 1, ep, d, len);
}

/* Fills |ack| from what |e| received. Returns 1 if it means anything. */
static int fill_ack(const endpoint *e, Mychat__Ack *ack,
                    Mychat__AckRange *rb, Mychat__AckRange **rp) {
  ack->cumulative = e->cum;
  ack->n_ranges = 0;
  ack->ranges = rp;
  for (uint32_t s = e->cum + 1; s < MAX_SEQ && ack->n_ranges < 8; s++) {
    if (!e->got[s] || e->got[s - 1])
      continue;
    uint32_t t = s;
    while (t + 1 < MAX_SEQ && e->got[t + 1])
      t++;
    Mychat__AckRange *x = &rb[ack->n_ranges];
    mychat__ack_range__init(x);
    x->first = s;
    x->last = t;
    rp[ack->n_ranges++] = x;
  }
  return e->cum > 0 || ack->n_ranges > 0;
}

/* Sends |body| (may be NULL: ack-only) from |ep| with |seq|, the session
 * header if |ep| has one, and its ack. */
static void send_env(rec *r, int ep, const Mychat__Envelope *body,
                     uint32_t seq) {
  endpoint *e = &r->ep[ep];
  Mychat__Envelope h = MYCHAT__ENVELOPE__INIT;
  Mychat__Ack ack = MYCHAT__ACK__INIT;
  Mychat__AckRange rb[8], *rp[8];
  if (e->in_session) {
    h.session_id = e->sid;
    h.token.data = e->tok;
    h.token.len = MC_TOKEN_LEN;
    if (fill_ack(e, &ack, rb, rp))
      h.ack = &ack;
  }
  h.seq = seq;
  uint8_t b[MC_DATAGRAM_MAX], d[MC_DATAGRAM_MAX];
  size_t bl = 0, dl;
  if (body != NULL && mc_codec_encode_body(body, b, sizeof b, &bl) < 0)
    die("encode body");
  if (mc_codec_encode(&h, b, bl, d, sizeof d, &dl) < 0)
    die("encode");
  raw(r, ep, d, dl);
}

static void on_recv(rec *r, int ep, const uint8_t *d, size_t len) {
  endpoint *e = &r->ep[ep];
  log_pkt(r, 0, ep, d, len);
  Mychat__Envelope *env;
  if (mc_codec_decode(d, len, &env) < 0) {
    fprintf(stderr, "mc-record: endpoint %d: server datagram does not "
                    "decode\n", ep);
    r->failed = 1;
    return;
  }
  if (env->body_case == MYCHAT__ENVELOPE__BODY_WELCOME && !e->in_session) {
    e->in_session = 1;
    e->sid = env->welcome->session_id;
    memcpy(e->tok, env->welcome->token.data, MC_TOKEN_LEN);
    /* As a real client does (MC-144): the token coming back from this
     * address is what lets the server push here (MC-141). */
    if (!e->quiet)
      send_env(r, ep, NULL, 0);
  }
  if (env->seq > 0 && env->seq < MAX_SEQ && !e->deaf) {
    e->got[env->seq] = 1;
    while (e->cum + 1 < MAX_SEQ && e->got[e->cum + 1])
      e->cum++;
    if (e->autoack)
      send_env(r, ep, NULL, 0);
  }
  mc_codec_free(env);
}

/* Receives until no datagram came for |idle_ms| (or |max_ms| passed),
 * acking pushes where asked to. */
static void pump(rec *r, unsigned idle_ms, unsigned max_ms) {
  uint64_t start = now_ms(), last = start;
  for (;;) {
    uint64_t t = now_ms();
    if (t - last >= idle_ms || t - start >= max_ms)
      return;
    struct pollfd pf[MC_CAP_ENDPOINTS_MAX];
    for (int i = 0; i < r->n_ep; i++) {
      pf[i].fd = r->ep[i].fd;
      pf[i].events = POLLIN;
    }
    if (poll(pf, (nfds_t)r->n_ep, 5) < 0 && errno != EINTR)
      die("poll: %s", strerror(errno));
    for (int i = 0; i < r->n_ep; i++) {
      uint8_t buf[2048];
      ssize_t n;
      while ((n = recv(r->ep[i].fd, buf, sizeof buf, MSG_DONTWAIT)) >= 0) {
        on_recv(r, i, buf, (size_t)n);
        last = now_ms();
      }
    }
  }
}

static void settle(rec *r) { pump(r, SETTLE_MS, SETTLE_MAX_MS); }

/* Waits |ms| (a deliberate gap the replayer keeps), receiving meanwhile;
 * endpoints in |pinging| (a bit mask) send a Ping every |every| ms. */
static void wait_ms(rec *r, unsigned ms, unsigned pinging, unsigned every) {
  uint64_t v0 = r->vclock_us;
  for (unsigned t = 0; t < ms; t += every) {
    unsigned step = ms - t < every ? ms - t : every;
    pump(r, step, step);
    if (r->vclock_us < v0 + (uint64_t)(t + step) * 1000)
      r->vclock_us = v0 + (uint64_t)(t + step) * 1000;
    for (int i = 0; i < r->n_ep; i++)
      if (pinging & (1u << i)) {
        Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
        Mychat__Ping p = MYCHAT__PING__INIT;
        p.time_us = ++r->ping_time;
        env.body_case = MYCHAT__ENVELOPE__BODY_PING;
        env.ping = &p;
        send_env(r, i, &env, 0);
      }
  }
  settle(r);
}

/* A new endpoint on client host |host| (mc_capture.h). */
static int ep_new_at(rec *r, int host) {
  if (r->n_ep == MC_CAP_ENDPOINTS_MAX)
    die("too many endpoints");
  char err[256];
  endpoint *e = &r->ep[r->n_ep];
  memset(e, 0, sizeof *e);
  e->host = host;
  e->fd = mc_capture_socket((struct sockaddr *)&r->srv, r->srvlen, host, err,
                            sizeof err);
  if (e->fd < 0)
    die("%s", err);
  e->seq_next = 1;
  e->autoack = 1;
  return r->n_ep++;
}

static int ep_new(rec *r) { return ep_new_at(r, 0); }

/* A case's made-up name: tag, case number, role. Static ring of buffers,
 * with room for a name one byte too long (hs-limits). */
static const char *N(rec *r, const char *role) {
  static char buf[8][MC_NAME_MAX + 2];
  static int k;
  char *b = buf[k++ % 8];
  if (snprintf(b, sizeof buf[0], MC_CAP_TAG "c%02d%s", r->case_idx, role) >=
      (int)sizeof buf[0])
    die("name for role '%s' too long", role);
  return b;
}

/* ---- handshakes ---- */

typedef struct {
  int reg;
  const char *name, *pw;
  uint64_t nonce;             /* 0: a fresh one */
  int zero_nonce, presence, unpadded;
  size_t size;                /* exactly this many bytes (0: the minimum) */
  uint64_t sid;               /* a session header where none belongs */
  uint32_t seq;
} hs_opt;

/* Builds a handshake datagram into |d|; returns its length. */
static size_t hs_build(rec *r, const hs_opt *o, uint8_t *d, uint64_t *nonce) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Handshake reg = MYCHAT__HANDSHAKE__INIT;
  *nonce = o->nonce ? o->nonce : o->zero_nonce ? 0 : (mc_rng_next(&r->rng) | 1);
  reg.name = (char *)o->name;
  reg.password = (char *)o->pw;
  reg.client_nonce = *nonce;
  reg.presence = o->presence;
  if (o->reg) {
    env.body_case = MYCHAT__ENVELOPE__BODY_REGISTER;
    env.register_ = &reg;
  } else {
    env.body_case = MYCHAT__ENVELOPE__BODY_LOGIN;
    env.login = &reg;
  }
  env.session_id = o->sid;
  env.seq = o->seq;
  uint8_t tok[MC_TOKEN_LEN] = {0};
  if (o->sid) {
    env.token.data = tok;
    env.token.len = MC_TOKEN_LEN;
  }
  size_t bl, dl = 0;
  uint8_t b[MC_DATAGRAM_MAX];
  /* The padding rule, or for a case that needs exactly o->size bytes (one
   * under the minimum, say) padding grown byte by byte until it gets
   * there. */
  static uint8_t zeros[MC_DATAGRAM_MAX];
  if (o->size) {
    reg.padding.data = zeros;
  } else if (!o->unpadded && mc_codec_pad_handshake(&env) < 0) {
    die("pad handshake");
  }
  for (;;) {
    if (mc_codec_encode_body(&env, b, sizeof b, &bl) < 0 ||
        mc_codec_encode(&env, b, bl, d, MC_DATAGRAM_MAX, &dl) < 0)
      die("encode handshake");
    if (!o->size || dl >= o->size || reg.padding.len == sizeof zeros)
      break;
    reg.padding.len++;
  }
  if (o->size && dl != o->size)
    die("no handshake of exactly %zu bytes", o->size);
  return dl;
}

static void hs_send(rec *r, int ep, const hs_opt *o) {
  uint8_t d[MC_DATAGRAM_MAX];
  uint64_t nonce;
  size_t len = hs_build(r, o, d, &nonce);
  raw(r, ep, d, len);
  settle(r);
}

/* Register (|reg|) or log in on a new endpoint; returns the endpoint. */
static int hs(rec *r, int reg, const char *name, int presence) {
  int ep = ep_new(r);
  hs_opt o = {.reg = reg, .name = name, .pw = "secret-pw",
              .presence = presence};
  hs_send(r, ep, &o);
  return ep;
}

/* ---- requests ---- */

static void req(rec *r, int ep, Mychat__Envelope *body) {
  send_env(r, ep, body, r->ep[ep].seq_next++);
  settle(r);
}

static void req_group(rec *r, int ep, Mychat__Envelope__BodyCase kind,
                      const char *name) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__CreateGroup g = MYCHAT__CREATE_GROUP__INIT;
  g.name = (char *)name;
  env.body_case = kind;
  /* CreateGroup, JoinGroup and LeaveGroup have the same one field. */
  env.create_group = &g;
  req(r, ep, &env);
}

/* Fills |env| with the ListRequest |l| of |kind| after |after|. */
static void list_env(Mychat__Envelope *env, Mychat__ListRequest *l, int kind,
                     const char *after) {
  mychat__envelope__init(env);
  mychat__list_request__init(l);
  l->kind = (Mychat__ListKind)kind;
  l->after = (char *)after;
  env->body_case = MYCHAT__ENVELOPE__BODY_LIST;
  env->list = l;
}

static void req_list(rec *r, int ep, int kind, const char *after) {
  Mychat__Envelope env;
  Mychat__ListRequest l;
  list_env(&env, &l, kind, after);
  req(r, ep, &env);
}

static void msg_env(Mychat__Envelope *env, Mychat__SendMessage *m,
                    uint64_t cmid, const char *user, const char *group,
                    const char *text) {
  mychat__envelope__init(env);
  mychat__send_message__init(m);
  m->client_msg_id = cmid;
  if (user != NULL) {
    m->to_case = MYCHAT__SEND_MESSAGE__TO_USER;
    m->user = (char *)user;
  } else if (group != NULL) {
    m->to_case = MYCHAT__SEND_MESSAGE__TO_GROUP;
    m->group = (char *)group;
  }
  m->text = (char *)text;
  env->body_case = MYCHAT__ENVELOPE__BODY_SEND;
  env->send = m;
}

/* Sends a message with a fresh client_msg_id; returns the id. With
 * |settle_after| 0 the caller settles later (back-to-back sends). */
static uint64_t say(rec *r, int ep, const char *user, const char *group,
                    const char *text, int settle_after) {
  Mychat__Envelope env;
  Mychat__SendMessage m;
  uint64_t cmid = mc_rng_next(&r->rng) | 1;
  msg_env(&env, &m, cmid, user, group, text);
  send_env(r, ep, &env, r->ep[ep].seq_next++);
  if (settle_after)
    settle(r);
  return cmid;
}

static void logout(rec *r, int ep) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Logout l = MYCHAT__LOGOUT__INIT;
  env.body_case = MYCHAT__ENVELOPE__BODY_LOGOUT;
  env.logout = &l;
  req(r, ep, &env);
}

static void ping(rec *r, int ep, uint32_t seq) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Ping p = MYCHAT__PING__INIT;
  p.time_us = ++r->ping_time;
  env.body_case = MYCHAT__ENVELOPE__BODY_PING;
  env.ping = &p;
  send_env(r, ep, &env, seq);
  settle(r);
}

/* An ack-only datagram with cumulative |cum| and one range [lo, hi] (none
 * when lo is 0). */
static void sack(rec *r, int ep, uint32_t cum, uint32_t lo, uint32_t hi) {
  endpoint *e = &r->ep[ep];
  Mychat__Envelope h = MYCHAT__ENVELOPE__INIT;
  Mychat__Ack ack = MYCHAT__ACK__INIT;
  Mychat__AckRange rg = MYCHAT__ACK_RANGE__INIT, *rp = &rg;
  h.session_id = e->sid;
  h.token.data = e->tok;
  h.token.len = MC_TOKEN_LEN;
  ack.cumulative = cum;
  if (lo) {
    rg.first = lo;
    rg.last = hi;
    ack.n_ranges = 1;
    ack.ranges = &rp;
  }
  h.ack = &ack;
  uint8_t d[MC_DATAGRAM_MAX];
  size_t dl;
  if (mc_codec_encode(&h, NULL, 0, d, sizeof d, &dl) < 0)
    die("encode");
  raw(r, ep, d, dl);
  settle(r);
}

/* Prefix + session header of |ep| (or none) + |tail| bytes, sent raw. */
static void raw_tail(rec *r, int ep, int with_session, uint32_t seq,
                     const uint8_t *tail, size_t tl) {
  endpoint *e = &r->ep[ep];
  Mychat__Envelope h = MYCHAT__ENVELOPE__INIT;
  if (with_session) {
    h.session_id = e->sid;
    h.token.data = e->tok;
    h.token.len = MC_TOKEN_LEN;
  }
  h.seq = seq;
  uint8_t d[MC_DATAGRAM_MAX];
  size_t dl;
  if (mc_codec_encode(&h, tail, tl, d, sizeof d, &dl) < 0)
    die("encode");
  raw(r, ep, d, dl);
  settle(r);
}

#include "mc_record_cases.h"

/* ---- output ---- */

/* The sidecar of |s|, from the table alone: `--sidecars` rewrites these
 * without recording (a changed description, profile or note). */
static void write_sidecar(const char *dir, const scenario *s) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.case", dir, s->name);
  FILE *f = fopen(path, "w");
  if (f == NULL)
    die("%s: %s", path, strerror(errno));
  fprintf(f, "# Generated by mc-record (conformance/mc_record_cases.h); "
             "`make captures` regenerates it.\n");
  fprintf(f, "description: %s\nrequires: %s\nserver: %s\n", s->desc,
          s->requires, s->flags ? s->flags : MC_CAP_STD_FLAGS);
  if (s->extra)
    fprintf(f, "%s\n", s->extra);
  if (fclose(f) != 0)
    die("%s: write failed", path);
}

static void write_case(const char *dir, const scenario *s, rec *r) {
  char path[4096], err[256];
  snprintf(path, sizeof path, "%s/%s.pcap", dir, s->name);
  if (mc_capture_write(path, r->pkts, r->n_pkts, err, sizeof err) < 0)
    die("%s", err);
  write_sidecar(dir, s);
}

static void usage(FILE *f) {
  fprintf(f, "usage: mc-record --server HOST:PORT --out DIR "
             "[--flags FLAGS] [--seed N] [CASE...]\n"
             "       mc-record --sidecars --out DIR [CASE...]\n"
             "  records each case (all whose server flags are FLAGS, by "
             "default\n  \"" MC_CAP_STD_FLAGS "\") against a running "
             "server;\n  --sidecars writes only the .case files (each "
             "named case, or all), no server\n  needed; --list prints "
             "every case with its flags\n");
}

int main(int argc, char **argv) {
  const char *server = NULL, *out = NULL, *flags = MC_CAP_STD_FLAGS;
  uint64_t seed = 1;
  int list = 0, sidecars = 0;
  static const struct option lo[] = {
      {"server", required_argument, 0, 's'}, {"out", required_argument, 0, 'o'},
      {"flags", required_argument, 0, 'f'},  {"seed", required_argument, 0, 'r'},
      {"list", no_argument, 0, 'l'},         {"help", no_argument, 0, 'h'},
      {"sidecars", no_argument, 0, 'c'},
      {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
    switch (c) {
    case 's': server = optarg; break;
    case 'o': out = optarg; break;
    case 'f': flags = optarg; break;
    case 'r': seed = strtoull(optarg, NULL, 10); break;
    case 'l': list = 1; break;
    case 'c': sidecars = 1; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  size_t n_sc = sizeof scenarios / sizeof scenarios[0];
  if (list) {
    for (size_t i = 0; i < n_sc; i++)
      printf("%s\t%s\n", scenarios[i].name,
             scenarios[i].flags ? scenarios[i].flags : MC_CAP_STD_FLAGS);
    return 0;
  }
  if (sidecars && out != NULL && server == NULL) {
    int found = 0;
    for (int a = optind; a < argc; a++) {
      size_t i = 0;
      while (i < n_sc && strcmp(argv[a], scenarios[i].name) != 0)
        i++;
      if (i == n_sc) {
        fprintf(stderr, "mc-record: no case %s (--list shows them)\n",
                argv[a]);
        return 2;
      }
    }
    for (size_t i = 0; i < n_sc; i++) {
      int want = optind == argc;
      for (int a = optind; a < argc; a++)
        want |= strcmp(argv[a], scenarios[i].name) == 0;
      if (want) {
        write_sidecar(out, &scenarios[i]);
        found++;
      }
    }
    printf("%d sidecars written to %s\n", found, out);
    return 0;
  }
  if (server == NULL || out == NULL || sidecars) {
    usage(stderr);
    return 2;
  }
  rec r;
  memset(&r, 0, sizeof r);
  char err[256];
  if (mc_udp_parse(server, &r.srv, &r.srvlen, err, sizeof err) < 0)
    die("%s", err);
  r.pkts = calloc(MC_CAP_PKTS_MAX, sizeof *r.pkts);
  if (r.pkts == NULL)
    die("out of memory");
  int failed = 0;
  for (size_t i = 0; i < n_sc; i++) {
    const scenario *s = &scenarios[i];
    const char *sf = s->flags ? s->flags : MC_CAP_STD_FLAGS;
    int want = optind == argc && strcmp(sf, flags) == 0;
    for (int a = optind; a < argc; a++)
      want |= strcmp(argv[a], s->name) == 0;
    if (!want)
      continue;
    r.case_idx = (int)i;
    r.n_ep = 0;
    r.n_pkts = 0;
    r.vclock_us = 0;
    r.ping_time = 1000 * (i + 1);
    r.failed = 0;
    /* Each case draws from its own stream: adding a case changes no other. */
    mc_rng_seed(&r.rng, seed * 1000003u + i);
    s->run(&r);
    settle(&r);
    for (int k = 0; k < r.n_ep; k++)
      close(r.ep[k].fd);
    write_case(out, s, &r);
    printf("%-28s %3zu datagrams%s\n", s->name, r.n_pkts,
           r.failed ? "  (server sent garbage)" : "");
    failed |= r.failed;
  }
  free(r.pkts);
  return failed;
}
