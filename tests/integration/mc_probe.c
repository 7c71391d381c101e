/*
 * mc-probe: a scripted MyChat client for the integration tests.
 *
 * Client mode drives lib/mc_client over a real UDP socket: connect (register
 * or log in), run requests in the order given, wait for what the test
 * expects, log out, and print one line per client event:
 *
 *   connected NAME | connect-failed CODE|TIMEOUT TEXT
 *   result KIND CODE TEXT | list NAME[(online|offline)]...
 *   sent CLIENT_MSG_ID MESSAGE_ID | delivered MESSAGE_ID TO
 *   message ID FROM GROUP|- missed|new TEXT | backlog-done COUNT
 *   presence NAME online|offline | closed CODE LIB_ERROR|-
 *
 * Requests (--create, --join, --send-to/--group + --text [--repeat N],
 * --list-users) go out in the order given, after the login.
 *
 * Raw modes send hostile datagrams, each from its own socket so every
 * answer can be matched to the datagram that caused it, and check the
 * anti-amplification rule: an answer to an unauthenticated datagram is an
 * Error no larger than that datagram. Each prints a summary line
 * ("raw junk: sent N answered A violations V"). In bad-token mode the probe
 * first logs in (--user) to learn a real session id, and afterwards checks
 * that its session still works.
 *
 * Exit status: 0 when every expectation was met and no raw answer broke the
 * rule, 1 otherwise (timeout, violation), 2 for usage errors, 3 when the
 * connection failed (e.g. a wrong password; the line says why).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mc_client.h"
#include "mc_codec_pb.h" /* the raw modes forge datagrams */
#include "mc_error.h"
#include "mc_udp.h"

#define PROG "mc-probe"
#define ACTIONS_MAX 64
#define RAW_BATCH 64
#define RAW_WAIT_US (300 * MC_MSEC)   /* how long to wait for answers */
#define JUNK_BIG 65000                /* one datagram far over the limit */
#define RX_MAX 65536                  /* the largest UDP datagram */

typedef enum { ACT_SEND_USER, ACT_SEND_GROUP, ACT_CREATE, ACT_JOIN } act_kind;

typedef struct {
  act_kind kind;
  const char *target;
  const char *text;
  unsigned repeat;               /* sends: texts numbered "TEXT #i" */
} action;

typedef struct {
  struct sockaddr_storage srv;
  socklen_t srvlen;
  const char *user, *password;
  const char *as;                /* the name unpadded logins claim */
  int do_register, logout, list_users;
  action act[ACTIONS_MAX];
  size_t n_act;
  const char *pending_user, *pending_group; /* target of the next --text */
  unsigned expect_messages, expect_delivered;
  int expect_backlog;
  double timeout_s;
  unsigned junk, truncated, bad_token, unpadded;
} options;

/* What the client has seen so far. */
typedef struct {
  int connected, failed, closed;
  unsigned sends, sent, send_failed, messages, delivered, results, lists;
  unsigned requests;             /* made; each answered by sent, result or
                                    list */
  int backlog_done;
  uint64_t session_id;           /* from the Welcome, for bad-token mode */
} progress;

static mc_client *client;
static int cfd = -1;
static progress pr;
static mc_tstamp deadline;

static void rnd(void *user_data, uint8_t *buf, size_t len) {
  (void)user_data;
  randombytes_buf(buf, len);
}

static _Noreturn void usage_error(const char *msg, const char *arg) {
  fprintf(stderr, PROG ": %s%s\n", msg, arg);
  fprintf(stderr,
          "usage: " PROG " --server H:P [--user NAME [--password PW] "
          "[--register]]\n"
          "  [--create G] [--join G] [--send-to USER|--group G --text T "
          "[--repeat N]]...\n"
          "  [--list-users] [--expect-messages N] [--expect-delivered N] "
          "[--expect-backlog]\n"
          "  [--no-logout] [--timeout S] [--junk N] [--truncated N] "
          "[--bad-token N]\n"
          "  [--unpadded-login N [--as NAME]]\n");
  exit(2);
}

static unsigned num(const char *s) {
  char *end;
  unsigned long v = strtoul(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v > 100000)
    usage_error("bad number: ", s);
  return (unsigned)v;
}

static void add_action(options *o, act_kind kind, const char *target,
                       const char *text) {
  if (o->n_act == ACTIONS_MAX)
    usage_error("too many actions", "");
  o->act[o->n_act++] = (action){kind, target, text, 1};
}

static void parse_args(int argc, char **argv, options *o) {
  enum { O_SERVER = 256, O_USER, O_PW, O_REG, O_CREATE, O_JOIN, O_TO,
         O_GROUP, O_TEXT, O_REPEAT, O_LIST, O_EXPM, O_EXPD, O_EXPB, O_NOLOG,
         O_TIMEOUT, O_JUNK, O_TRUNC, O_BADTOK, O_UNPAD, O_AS };
  static const struct option lo[] = {
      {"server", 1, NULL, O_SERVER}, {"user", 1, NULL, O_USER},
      {"password", 1, NULL, O_PW}, {"register", 0, NULL, O_REG},
      {"create", 1, NULL, O_CREATE}, {"join", 1, NULL, O_JOIN},
      {"send-to", 1, NULL, O_TO}, {"group", 1, NULL, O_GROUP},
      {"text", 1, NULL, O_TEXT}, {"repeat", 1, NULL, O_REPEAT},
      {"list-users", 0, NULL, O_LIST},
      {"expect-messages", 1, NULL, O_EXPM},
      {"expect-delivered", 1, NULL, O_EXPD},
      {"expect-backlog", 0, NULL, O_EXPB}, {"no-logout", 0, NULL, O_NOLOG},
      {"timeout", 1, NULL, O_TIMEOUT}, {"junk", 1, NULL, O_JUNK},
      {"truncated", 1, NULL, O_TRUNC}, {"bad-token", 1, NULL, O_BADTOK},
      {"unpadded-login", 1, NULL, O_UNPAD}, {"as", 1, NULL, O_AS},
      {NULL, 0, NULL, 0}};
  memset(o, 0, sizeof *o);
  o->password = "secret-pw";
  o->logout = 1;
  o->timeout_s = 10;
  const char *server = NULL;
  char err[256];
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (c) {
    case O_SERVER: server = optarg; break;
    case O_USER: o->user = optarg; break;
    case O_PW: o->password = optarg; break;
    case O_REG: o->do_register = 1; break;
    case O_CREATE: add_action(o, ACT_CREATE, optarg, NULL); break;
    case O_JOIN: add_action(o, ACT_JOIN, optarg, NULL); break;
    case O_TO: o->pending_user = optarg; o->pending_group = NULL; break;
    case O_GROUP: o->pending_group = optarg; o->pending_user = NULL; break;
    case O_TEXT:
      if (o->pending_user)
        add_action(o, ACT_SEND_USER, o->pending_user, optarg);
      else if (o->pending_group)
        add_action(o, ACT_SEND_GROUP, o->pending_group, optarg);
      else
        usage_error("--text needs --send-to or --group before it", "");
      break;
    case O_REPEAT:
      if (o->n_act == 0 || o->act[o->n_act - 1].text == NULL)
        usage_error("--repeat follows a --text", "");
      o->act[o->n_act - 1].repeat = num(optarg);
      break;
    case O_LIST: o->list_users = 1; break;
    case O_EXPM: o->expect_messages = num(optarg); break;
    case O_EXPD: o->expect_delivered = num(optarg); break;
    case O_EXPB: o->expect_backlog = 1; break;
    case O_NOLOG: o->logout = 0; break;
    case O_TIMEOUT: o->timeout_s = num(optarg); break;
    case O_JUNK: o->junk = num(optarg); break;
    case O_TRUNC: o->truncated = num(optarg); break;
    case O_BADTOK: o->bad_token = num(optarg); break;
    case O_UNPAD: o->unpadded = num(optarg); break;
    case O_AS: o->as = optarg; break;
    default: usage_error("unknown option ", argv[optind - 1]);
    }
  }
  if (server == NULL)
    usage_error("--server is required", "");
  if (mc_udp_parse(server, &o->srv, &o->srvlen, err, sizeof err) < 0)
    usage_error("--server ", err);
  if (o->user == NULL && (o->n_act || o->bad_token || o->expect_messages ||
                          o->expect_delivered || o->list_users))
    usage_error("this needs --user", "");
}

/* ------------------------------------------------------------------ */
/* client mode                                                         */

static void print_event(const mc_client_event *ev) {
  switch (ev->type) {
  case MC_CEV_CONNECTED:
    pr.connected = 1;
    printf("connected %s\n", ev->name);
    break;
  case MC_CEV_CONNECT_FAILED:
    pr.failed = 1;
    printf("connect-failed %s %s\n",
           ev->code ? mc_codec_code_name(ev->code) : "TIMEOUT", ev->text);
    break;
  case MC_CEV_CLOSED:
    pr.closed = 1;
    printf("closed %s %s\n", mc_codec_code_name(ev->code),
           ev->lib_error ? mc_errname(ev->lib_error) : "-");
    break;
  case MC_CEV_RESULT:
    pr.results++;
    if (ev->request_kind == MC_KIND_SEND)
      pr.send_failed++;
    printf("result %s %s %s\n", mc_codec_body_name(ev->request_kind),
           mc_codec_code_name(ev->code), ev->text);
    break;
  case MC_CEV_LIST:
    pr.lists++;
    printf("list");
    for (size_t i = 0; i < ev->n_entries; i++)
      printf(" %s%s", ev->entries[i].name,
             ev->list_kind == MC_LIST_USERS
                 ? (ev->entries[i].online ? "(online)" : "(offline)")
                 : "");
    printf("\n");
    break;
  case MC_CEV_SENT:
    pr.sent++;
    printf("sent %" PRIu64 " %" PRIu64 "\n", ev->client_msg_id,
           ev->message_id);
    break;
  case MC_CEV_MESSAGE:
    pr.messages++;
    printf("message %" PRIu64 " %s %s %s %s\n", ev->message_id, ev->name,
           ev->group[0] ? ev->group : "-", ev->missed ? "missed" : "new",
           ev->text);
    break;
  case MC_CEV_DELIVERED:
    pr.delivered++;
    printf("delivered %" PRIu64 " %s\n", ev->message_id, ev->name);
    break;
  case MC_CEV_PRESENCE:
    printf("presence %s %s\n", ev->name, ev->online ? "online" : "offline");
    break;
  case MC_CEV_BACKLOG_DONE:
    pr.backlog_done = 1;
    printf("backlog-done %" PRIu32 "\n", ev->count);
    break;
  }
}

/* Notes the session id of a Welcome: bad-token mode forges datagrams for
 * this very session, with the wrong token. */
static void peek_welcome(const uint8_t *d, size_t len) {
  mc_peek pk;
  if (mc_codec_peek(d, len, &pk) == 0 && pk.body == MC_KIND_WELCOME)
    pr.session_id = pk.welcome_session_id;
}

/* Sends what the client has to send and prints its events. */
static void flush_client(void) {
  static mc_client_event ev;
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len;
  while (mc_client_poll_tx(client, mc_udp_now_us(), buf, sizeof buf, &len) ==
         1) {
    if (send(cfd, buf, len, 0) < 0 && errno != ECONNREFUSED)
      fprintf(stderr, PROG ": send: %s\n", strerror(errno));
  }
  while (mc_client_poll_event(client, &ev))
    print_event(&ev);
  fflush(stdout);
}

/* One round: waits for a datagram or the next timer (never past the
 * deadline), takes what arrived, runs due timers. */
static void step(void) {
  static uint8_t buf[RX_MAX];
  flush_client();
  mc_tstamp now = mc_udp_now_us();
  mc_tstamp until = mc_client_expiry(client);
  if (until > deadline)
    until = deadline;
  int wait_ms = until <= now ? 0 : (int)((until - now + 999) / 1000);
  struct pollfd p = {.fd = cfd, .events = POLLIN};
  if (poll(&p, 1, wait_ms) > 0) {
    ssize_t r;
    while ((r = recv(cfd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC)) >= 0) {
      if ((size_t)r > sizeof buf)
        continue;
      peek_welcome(buf, (size_t)r);
      mc_client_recv(client, buf, (size_t)r, mc_udp_now_us());
    }
  }
  now = mc_udp_now_us();
  if (mc_client_expiry(client) <= now)
    mc_client_handle_expiry(client, now);
  flush_client();
}

/* Runs the client until |done| says so or the deadline passes. Returns 1
 * if |done|, 0 on timeout. */
static int pump(int (*done)(const options *), const options *o) {
  for (;;) {
    if (done(o))
      return 1;
    if (mc_udp_now_us() >= deadline)
      return 0;
    step();
  }
}

static int is_connect_done(const options *o) {
  (void)o;
  return pr.connected || pr.failed || pr.closed;
}

static int is_work_done(const options *o) {
  if (pr.closed)
    return 1;
  return pr.sent + pr.send_failed >= pr.sends &&
         pr.results + pr.lists + pr.sent >= pr.requests &&
         pr.messages >= o->expect_messages &&
         pr.delivered >= o->expect_delivered &&
         (!o->expect_backlog || pr.backlog_done);
}

static int is_closed(const options *o) {
  (void)o;
  return pr.closed;
}

static void request_failed(const char *what, int rv) {
  fprintf(stderr, PROG ": %s: %s\n", what, mc_strerror(rv));
  exit(1);
}

static void run_actions(const options *o) {
  mc_tstamp now = mc_udp_now_us();
  for (size_t i = 0; i < o->n_act; i++) {
    const action *a = &o->act[i];
    int rv;
    if (a->kind == ACT_CREATE || a->kind == ACT_JOIN) {
      rv = mc_client_group(client,
                           a->kind == ACT_CREATE
                               ? MC_KIND_CREATE_GROUP
                               : MC_KIND_JOIN_GROUP,
                           a->target, now, NULL);
      if (rv < 0)
        request_failed(a->target, rv);
      pr.requests++;
      continue;
    }
    for (unsigned k = 1; k <= a->repeat; k++) {
      char text[MC_TEXT_MAX + 1];
      if (a->repeat > 1)
        snprintf(text, sizeof text, "%s #%u", a->text, k);
      else
        snprintf(text, sizeof text, "%s", a->text);
      rv = mc_client_send_text(client,
                               a->kind == ACT_SEND_USER ? a->target : NULL,
                               a->kind == ACT_SEND_GROUP ? a->target : NULL,
                               text, now, NULL, NULL);
      if (rv == MC_ERR_QUEUE_FULL) {
        /* The send window is full: let the server confirm some first. */
        unsigned before = pr.sent + pr.send_failed;
        while (pr.sent + pr.send_failed == before && !pr.closed &&
               mc_udp_now_us() < deadline)
          step();
        if (pr.sent + pr.send_failed == before)
          return; /* closed or out of time: the caller reports it */
        k--;
        continue;
      }
      if (rv < 0)
        request_failed("send", rv);
      pr.sends++;
      pr.requests++;
    }
  }
  if (o->list_users) {
    int rv = mc_client_list(client, MC_LIST_USERS, "", now,
                            NULL);
    if (rv < 0)
      request_failed("list", rv);
    pr.requests++;
  }
}

/* ------------------------------------------------------------------ */
/* raw modes                                                           */

static size_t encode(const Mychat__Envelope *env, uint8_t *out, size_t cap) {
  uint8_t body[MC_DATAGRAM_MAX];
  size_t blen = 0, len = 0;
  if (mc_codec_encode_body(env, body, sizeof body, &blen) < 0 ||
      mc_codec_encode(env, body, blen, out, cap, &len) < 0) {
    fprintf(stderr, PROG ": could not encode a test datagram\n");
    exit(1);
  }
  return len;
}

/* A Login for |name| with |pad| bytes of padding (0: none at all). */
static size_t make_login(const char *name, size_t pad, uint8_t *out,
                         size_t cap) {
  static uint8_t padding[MC_DATAGRAM_MAX];
  Mychat__Handshake lg = MYCHAT__HANDSHAKE__INIT;
  lg.name = (char *)name;
  lg.password = (char *)"not-the-password";
  randombytes_buf(&lg.client_nonce, sizeof lg.client_nonce);
  lg.padding.data = padding;
  lg.padding.len = pad;
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  env.body_case = MYCHAT__ENVELOPE__BODY_LOGIN;
  env.login = &lg;
  return encode(&env, out, cap);
}

/* A datagram of session |sid| with a random (so wrong) token: a Ping for
 * odd |i|, a reliable SendMessage to |to| for even |i|. */
static size_t make_forged(uint64_t sid, unsigned i, const char *to,
                          uint8_t *out, size_t cap) {
  uint8_t token[MC_TOKEN_LEN];
  randombytes_buf(token, sizeof token);
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  env.session_id = sid;
  env.token.data = token;
  env.token.len = sizeof token;
  Mychat__Ping ping = MYCHAT__PING__INIT;
  Mychat__SendMessage sm = MYCHAT__SEND_MESSAGE__INIT;
  if (i % 2) {
    ping.time_us = mc_udp_now_us();
    env.body_case = MYCHAT__ENVELOPE__BODY_PING;
    env.ping = &ping;
  } else {
    env.seq = i / 2 + 1;
    sm.client_msg_id = i + 1;
    sm.to_case = MYCHAT__SEND_MESSAGE__TO_USER;
    sm.user = (char *)to;
    sm.text = (char *)"forged: this must never be stored";
    env.body_case = MYCHAT__ENVELOPE__BODY_SEND;
    env.send = &sm;
  }
  return encode(&env, out, cap);
}

static uint64_t random_sid(void) {
  uint64_t sid;
  randombytes_buf(&sid, sizeof sid);
  return sid | 1; /* 0 means "no session" */
}

typedef enum { RAW_JUNK, RAW_TRUNCATED, RAW_BAD_TOKEN, RAW_UNPADDED } raw_mode;

static const char *const raw_names[] = {"junk", "truncated", "bad-token",
                                        "unpadded-login"};

/* Datagram |i| of mode |m| into |out| (|cap| >= JUNK_BIG). */
static size_t make_raw(const options *o, raw_mode m, unsigned i, uint8_t *out,
                       size_t cap) {
  size_t len;
  switch (m) {
  case RAW_JUNK:
    /* Mostly with the MyChat prefix, so the junk reaches the decoder. */
    if (i == 0)
      len = JUNK_BIG;
    else if (i % 4 == 1)
      len = 1 + randombytes_uniform(MC_DATAGRAM_MAX + 300);
    else
      len = MC_PREFIX_LEN + randombytes_uniform(MC_DATAGRAM_MAX);
    randombytes_buf(out, len);
    if (i % 4 != 1 && len >= MC_PREFIX_LEN)
      mc_codec_write_prefix(out);
    return len;
  case RAW_TRUNCATED:
    len = i % 2 ? make_forged(random_sid(), i, "nobody", out, cap)
                : make_login("truncated", 300, out, cap);
    return MC_PREFIX_LEN + randombytes_uniform((uint32_t)(len - MC_PREFIX_LEN));
  case RAW_BAD_TOKEN:
    return make_forged(pr.session_id ? pr.session_id : random_sid(), i,
                       o->user, out, cap);
  case RAW_UNPADDED:
    return make_login(o->as ? o->as : "unpadded", 0, out, cap);
  }
  return 0;
}

/* Checks one answer to a datagram of |sent| bytes. Returns 1 if it breaks
 * the rules: larger than what caused it, not an Error, or (unpadded login,
 * which the server must drop) there at all. */
static int bad_answer(raw_mode m, const uint8_t *d, size_t len, size_t sent) {
  if (m == RAW_UNPADDED || len > sent)
    return 1;
  Mychat__Envelope *env = NULL;
  int bad = mc_codec_decode(d, len, &env) < 0 ||
            env->body_case != MYCHAT__ENVELOPE__BODY_ERROR;
  mc_codec_free(env);
  return bad;
}

/* Sends |n| datagrams of mode |m|, RAW_BATCH at a time, each from its own
 * socket, and checks every answer. Returns the number of violations. */
static unsigned run_raw(const options *o, raw_mode m, unsigned n) {
  static uint8_t out[JUNK_BIG], in[RX_MAX];
  int fds[RAW_BATCH];
  size_t sent[RAW_BATCH];
  unsigned answered = 0, violations = 0;
  char err[256];
  for (unsigned base = 0; base < n; base += RAW_BATCH) {
    unsigned k = n - base < RAW_BATCH ? n - base : RAW_BATCH;
    for (unsigned j = 0; j < k; j++) {
      fds[j] = mc_udp_connect((struct sockaddr *)&o->srv, o->srvlen, err,
                              sizeof err);
      if (fds[j] < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        exit(1);
      }
      sent[j] = make_raw(o, m, base + j, out, sizeof out);
      if (send(fds[j], out, sent[j], 0) < 0)
        fprintf(stderr, PROG ": send(%zu bytes): %s\n", sent[j],
                strerror(errno));
    }
    mc_tstamp until = mc_udp_now_us() + RAW_WAIT_US;
    struct pollfd p[RAW_BATCH];
    for (;;) {
      mc_tstamp now = mc_udp_now_us();
      if (now >= until)
        break;
      for (unsigned j = 0; j < k; j++)
        p[j] = (struct pollfd){.fd = fds[j], .events = POLLIN};
      if (poll(p, k, (int)((until - now + 999) / 1000)) <= 0)
        continue;
      for (unsigned j = 0; j < k; j++) {
        ssize_t r;
        while ((r = recv(fds[j], in, sizeof in, MSG_DONTWAIT)) >= 0) {
          answered++;
          if (bad_answer(m, in, (size_t)r, sent[j])) {
            violations++;
            printf("violation %s: %zd-byte answer to a %zu-byte datagram\n",
                   raw_names[m], r, sent[j]);
          }
        }
      }
    }
    for (unsigned j = 0; j < k; j++)
      close(fds[j]);
  }
  printf("raw %s: sent %u answered %u violations %u\n", raw_names[m], n,
         answered, violations);
  fflush(stdout);
  return violations;
}

/* ------------------------------------------------------------------ */

static int client_start(const options *o) {
  char err[256];
  cfd = mc_udp_connect((struct sockaddr *)&o->srv, o->srvlen, err, sizeof err);
  if (cfd < 0) {
    fprintf(stderr, PROG ": %s\n", err);
    exit(1);
  }
  mc_client_callbacks cb = {.random = rnd};
  client = mc_client_new(NULL, &cb);
  if (client == NULL) {
    fprintf(stderr, PROG ": out of memory\n");
    exit(1);
  }
  int rv = mc_client_connect(client, o->user, o->password, o->do_register,
                             mc_udp_now_us());
  if (rv < 0)
    request_failed("connect", rv);
  if (!pump(is_connect_done, o)) {
    printf("timeout connecting\n");
    return 1;
  }
  return pr.connected ? 0 : 3;
}

/* Logs out (when asked to) and frees the client. Returns 0, or 1 when the
 * logout was not confirmed in time. */
static int client_finish(const options *o) {
  int rc = 0;
  if (o->logout && !pr.closed &&
      mc_client_logout(client, mc_udp_now_us()) == 0 &&
      !pump(is_closed, o)) {
    printf("timeout logging out\n");
    rc = 1;
  }
  mc_client_del(client);
  close(cfd);
  return rc;
}

int main(int argc, char **argv) {
  static options o;
  parse_args(argc, argv, &o);
  if (sodium_init() < 0) {
    fprintf(stderr, PROG ": libsodium could not be initialised\n");
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  deadline = mc_udp_now_us() + (mc_tstamp)(o.timeout_s * MC_SEC);
  int rc = 0;
  if (o.user) {
    rc = client_start(&o);
    if (rc != 0)
      return rc;
    run_actions(&o);
    if (!pump(is_work_done, &o)) {
      printf("timeout: sent %u/%u messages %u/%u delivered %u/%u\n", pr.sent,
             pr.sends, pr.messages, o.expect_messages, pr.delivered,
             o.expect_delivered);
      rc = 1;
    } else if (pr.closed) {
      rc = 1; /* the session ended before the work was done */
    }
  }
  unsigned violations = 0;
  const unsigned counts[] = {o.junk, o.truncated, o.bad_token, o.unpadded};
  for (raw_mode m = RAW_JUNK; m <= RAW_UNPADDED; m++)
    if (counts[m])
      violations += run_raw(&o, m, counts[m]);
  if (violations)
    rc = 1;
  if (o.user) {
    if (o.bad_token && rc == 0) {
      /* The forged datagrams must have left the real session alone. */
      unsigned lists = pr.lists;
      int rv = mc_client_list(client, MC_LIST_USERS, "",
                              mc_udp_now_us(), NULL);
      pr.requests++;
      deadline = mc_udp_now_us() + 5 * MC_SEC;
      if (rv < 0 || !pump(is_work_done, &o) || pr.lists == lists) {
        printf("session broken after forged datagrams\n");
        rc = 1;
      }
    }
    deadline = mc_udp_now_us() + 5 * MC_SEC;
    if (client_finish(&o) != 0 && rc == 0)
      rc = 1;
  }
  return rc;
}
