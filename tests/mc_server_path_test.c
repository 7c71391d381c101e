/*
 * Unit tests of the anti-amplification budget and address validation
 * (lib/mc_server_path.c, PROTOCOL.md 5.5, MC-140 to MC-143): the
 * bookkeeping alone, then a server fed datagrams from a victim's address
 * that never answers, with the bytes it sends there counted against the
 * bytes it got from there. Issue 12 measured a Login with a 200-message
 * backlog at 272,619 bytes out for 256 in (1,065 times); each kind of
 * unauthenticated datagram's ratio is printed and must be at most 3.
 */
#include <stdio.h>
#include <string.h>

#include "mc_auth.h"
#include "mc_codec_pb.h"
#include "mc_error.h"
#include "mc_memstore.h"
#include "mc_server.h"
#include "mc_server_path.h"
#include "mc_server_fixture.h"
#include "mc_tests.h"

/* ---- the bookkeeping ---- */

static void addr(mc_addr *a, uint8_t host, uint16_t port) {
  uint8_t ip[4] = {192, 0, 2, host};
  mc_addr_set_ip(a, ip, sizeof ip, port);
}

/* The handshake's bytes make the first budget: three times them, to the
 * byte; a datagram of the session from the same address validates it. */
static void test_mc_server_path_budget_exact(void) {
  mc_server_path p;
  mc_addr a, b;
  addr(&a, 1, 4000);
  addr(&b, 1, 4001);
  mc__server_path_init(&p, &a, 256);
  CU_ASSERT_EQUAL(mc__server_path_room(&p), 768);
  mc__server_path_sent(&p, 767);
  CU_ASSERT_EQUAL(mc__server_path_room(&p), 1);
  mc__server_path_sent(&p, 1);
  CU_ASSERT_EQUAL(mc__server_path_room(&p), 0);
  /* A copy of the handshake from the same address adds its bytes; one
   * from another port of the same host adds nothing. */
  mc__server_path_received(&p, &b, 256);
  CU_ASSERT_EQUAL(mc__server_path_room(&p), 0);
  mc__server_path_received(&p, &a, 1);
  CU_ASSERT_EQUAL(mc__server_path_room(&p), 3);
  CU_ASSERT_FALSE(p.heard);
  mc_server_path_rx rx = {.next_unsent = 1};
  CU_ASSERT_EQUAL(mc__server_path_on_datagram(&p, &a, 31, &rx), 0);
  CU_ASSERT_TRUE(p.heard);
  CU_ASSERT_TRUE(p.validated);
  CU_ASSERT_EQUAL(mc__server_path_room(&p), SIZE_MAX);
}

/* A move is validated by a cumulative ack of the first seq sent after it,
 * not of one below it (MC-142). */
static void test_mc_server_path_move_probe(void) {
  mc_server_path p;
  mc_addr a, b;
  addr(&a, 1, 4000);
  addr(&b, 2, 4000);
  mc__server_path_init(&p, &a, 256);
  mc_server_path_rx rx = {.next_unsent = 1};
  mc__server_path_on_datagram(&p, &a, 31, &rx);
  /* Seqs 1..4 sent at a; a new seq from b moves the session there. */
  rx = (mc_server_path_rx){.took_body = 1, .cum_acked = 2, .next_unsent = 5};
  CU_ASSERT_EQUAL(mc__server_path_on_datagram(&p, &b, 60, &rx), 1);
  CU_ASSERT_FALSE(p.validated);
  CU_ASSERT_EQUAL(mc__server_path_room(&p), 180);
  /* Acks from b of seqs up to 4 (sent before the move) prove nothing. */
  rx = (mc_server_path_rx){.acked_more = 1, .cum_acked = 4, .next_unsent = 5};
  CU_ASSERT_EQUAL(mc__server_path_on_datagram(&p, &b, 35, &rx), 0);
  CU_ASSERT_FALSE(p.validated);
  CU_ASSERT_EQUAL(mc__server_path_room(&p), 285);
  /* The ack of seq 5, the first sent after the move, does. */
  rx = (mc_server_path_rx){.acked_more = 1, .cum_acked = 5, .next_unsent = 6};
  mc__server_path_on_datagram(&p, &b, 35, &rx);
  CU_ASSERT_TRUE(p.validated);
}

/* Only a datagram that brings something new moves the session (MC-143);
 * back at the last validated address it is validated at once. */
static void test_mc_server_path_fresh_only(void) {
  mc_server_path p;
  mc_addr a, b;
  addr(&a, 1, 4000);
  addr(&b, 2, 4000);
  mc__server_path_init(&p, &a, 256);
  mc_server_path_rx rx = {.ping_time = 100, .next_unsent = 1};
  mc__server_path_on_datagram(&p, &a, 42, &rx);
  CU_ASSERT_TRUE(p.validated);
  /* A duplicate seq, an ack raising nothing, a Ping not newer: no move. */
  rx = (mc_server_path_rx){.cum_acked = 3, .next_unsent = 4};
  CU_ASSERT_EQUAL(mc__server_path_on_datagram(&p, &b, 60, &rx), 0);
  rx.ping_time = 100;
  CU_ASSERT_EQUAL(mc__server_path_on_datagram(&p, &b, 42, &rx), 0);
  CU_ASSERT_TRUE(mc__server_addr_eq(&p.addr, &a));
  /* A Ping one above the last one moves it. */
  rx.ping_time = 101;
  CU_ASSERT_EQUAL(mc__server_path_on_datagram(&p, &b, 42, &rx), 1);
  CU_ASSERT_TRUE(mc__server_addr_eq(&p.addr, &b));
  CU_ASSERT_FALSE(p.validated);
  rx.ping_time = 102;
  CU_ASSERT_EQUAL(mc__server_path_on_datagram(&p, &a, 42, &rx), 1);
  CU_ASSERT_TRUE(p.validated);
}

/* ---- a server and a victim that never answers ---- */

#define TEXT_LEN 800 /* issue 12's backlog: long messages */

typedef struct {
  mc_test_srv t;
  mc_server *srv;    /* t.srv */
  mc_store st;       /* t.st */
  mc_addr victim;
  mc_tstamp now;
  uint64_t rx, tx;   /* bytes from and to the victim */
  uint64_t tx_dgrams;
} fixture;

static void setup(fixture *f) {
  memset(f, 0, sizeof *f);
  mc_test_srv_init(&f->t);
  f->srv = f->t.srv;
  f->st = f->t.st;
  addr(&f->victim, 9, 4000);
}

static void teardown(fixture *f) { mc_test_srv_free(&f->t); }

/* Runs the server until |until| as its host would (password jobs, timers,
 * every datagram out), counting what goes to the victim; nothing answers. */
static void run_until(fixture *f, mc_tstamp until) {
  for (;;) {
    mc_auth_job job;
    while (mc_server_poll_auth(f->srv, &job)) {
      mc_auth_job_run(&job);
      CU_ASSERT_EQUAL(mc_server_auth_done(f->srv, &job, f->now), 0);
    }
    if (mc_server_expiry(f->srv) <= f->now)
      mc_server_handle_expiry(f->srv, f->now);
    uint8_t d[MC_DATAGRAM_MAX];
    size_t len;
    mc_addr to;
    while (mc_server_poll_tx(f->srv, f->now, &to, d, sizeof d, &len) == 1)
      if (mc__server_addr_eq(&to, &f->victim)) {
        f->tx += len;
        f->tx_dgrams++;
      }
    mc_tstamp next = mc_server_expiry(f->srv);
    CU_ASSERT_FATAL(next > f->now); /* the drive contract: no busy loop */
    if (next > until)
      break;
    f->now = next;
  }
  f->now = until;
}

static void from_victim(fixture *f, const uint8_t *d, size_t len) {
  f->rx += len;
  mc_server_recv(f->srv, &f->victim, d, len, f->now);
}

/* A datagram of session |sid| with |tok|: a Ping of |time_us|, or an
 * ack-only one when |time_us| is 0. */
static size_t sess_dgram(uint8_t *d, uint64_t sid, const uint8_t *tok,
                         uint64_t time_us) {
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  Mychat__Ping ping = MYCHAT__PING__INIT;
  if (time_us) {
    ping.time_us = time_us;
    e.body_case = MYCHAT__ENVELOPE__BODY_PING;
    e.ping = &ping;
  }
  e.session_id = sid;
  e.token.data = (uint8_t *)tok;
  e.token.len = MC_TOKEN_LEN;
  if (time_us)
    return mc_test_encode(&e, d);
  size_t len;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode(&e, NULL, 0, d, MC_DATAGRAM_MAX, &len),
                        0);
  return len;
}

/* Logs |name| in from |from| (not the victim) and, if |prove|, answers
 * the Welcome from there as a real client does (MC-144); fills in the
 * session id and token. */
static void login_elsewhere(fixture *f, const char *name, const mc_addr *from,
                            int prove, uint64_t *sid, uint8_t *tok) {
  uint8_t d[MC_DATAGRAM_MAX];
  size_t n = mc_test_handshake(d, 0, name, "secret", 5, 0);
  CU_ASSERT_EQUAL(mc_server_recv(f->srv, from, d, n, f->now), 0);
  mc_auth_job job;
  CU_ASSERT_EQUAL_FATAL(mc_server_poll_auth(f->srv, &job), 1);
  mc_auth_job_run(&job);
  CU_ASSERT_EQUAL(mc_server_auth_done(f->srv, &job, f->now), 0);
  mc_addr to;
  CU_ASSERT_EQUAL_FATAL(
      mc_server_poll_tx(f->srv, f->now, &to, d, sizeof d, &n), 1);
  Mychat__Envelope *env;
  CU_ASSERT_EQUAL_FATAL(mc_codec_decode(d, n, &env), 0);
  CU_ASSERT_EQUAL_FATAL(env->body_case, MYCHAT__ENVELOPE__BODY_WELCOME);
  memcpy(tok, env->welcome->token.data, MC_TOKEN_LEN);
  *sid = env->welcome->session_id;
  mc_codec_free(env);
  n = sess_dgram(d, *sid, tok, 0);
  if (prove)
    CU_ASSERT_EQUAL(mc_server_recv(f->srv, from, d, n, f->now), 0);
}

static void count_reset(fixture *f) { f->rx = f->tx = f->tx_dgrams = 0; }

/* Makes account |name| (password "secret") in the store; returns its id. */
static uint64_t account(fixture *f, const char *name) {
  char hash[MC_PWHASH_MAX];
  uint64_t id;
  CU_ASSERT_EQUAL_FATAL(mc_auth_hash("secret", MC_AUTH_COST_MIN, hash), 0);
  CU_ASSERT_EQUAL_FATAL(f->st.ops->user_add(f->st.st, name, hash, &id), 0);
  return id;
}

/* Stores |n| direct messages of TEXT_LEN bytes from |from| to |to|. */
static void backlog(fixture *f, uint64_t from, uint64_t to, int n) {
  for (int i = 0; i < n; i++) {
    mc_store_msg m;
    memset(&m, 0, sizeof m);
    m.sender_id = from;
    m.to_id = to;
    m.client_msg_id = (uint64_t)i + 1;
    memset(m.text, 'm', TEXT_LEN);
    int dup;
    CU_ASSERT_EQUAL_FATAL(f->st.ops->msg_add(f->st.st, &m, 1000, &dup), 0);
  }
}

/* Prints and checks the ratio of what the victim got to what it "sent". */
static void ratio(const fixture *f, const char *what) {
  double r = f->rx ? (double)f->tx / (double)f->rx : 0;
  printf("\n  amplification %-44s %6llu B in, %6llu B out in %3llu "
         "datagrams: %.2fx",
         what, (unsigned long long)f->rx, (unsigned long long)f->tx,
         (unsigned long long)f->tx_dgrams, r);
  CU_ASSERT(f->rx > 0);
  CU_ASSERT(f->tx <= 3 * f->rx);
}

/* Each handshake answered without a session: its Error at most its size. */
static void test_mc_server_path_handshake_errors(void) {
  static const struct {
    const char *what;
    int reg;
    const char *name, *pw;
  } kinds[] = {
      {"Register of a taken name", 1, "alice", "secret"},
      {"Login with a wrong password", 0, "alice", "wrong"},
      {"Login of an unknown name", 0, "nobody", "secret"},
      {"Register with a bad name", 1, "bad name", "secret"},
  };
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    fixture f;
    setup(&f);
    account(&f, "alice");
    uint8_t d[MC_DATAGRAM_MAX];
    size_t n =
        mc_test_handshake(d, kinds[k].reg, kinds[k].name, kinds[k].pw, 7, 0);
    from_victim(&f, d, n);
    run_until(&f, 60 * MC_SEC);
    CU_ASSERT_EQUAL(f.tx_dgrams, 1);
    ratio(&f, kinds[k].what);
    teardown(&f);
  }
}

/* Datagrams of no session or of another's, bad headers and junk, with a
 * live session on the server: one Error each at most, none larger. */
static void test_mc_server_path_no_session(void) {
  fixture f;
  setup(&f);
  account(&f, "alice");
  mc_addr owner;
  addr(&owner, 1, 4000);
  uint64_t sid;
  uint8_t tok[MC_TOKEN_LEN], d[MC_DATAGRAM_MAX];
  login_elsewhere(&f, "alice", &owner, 1, &sid, tok);
  run_until(&f, MC_MSEC);
  count_reset(&f);

  size_t n = sess_dgram(d, sid + 1, tok, 1);
  from_victim(&f, d, n);
  run_until(&f, 2 * MC_MSEC);
  CU_ASSERT_EQUAL(f.tx_dgrams, 1);
  ratio(&f, "Ping of an unknown session");

  count_reset(&f);
  tok[MC_TOKEN_LEN - 1] ^= 1;
  n = sess_dgram(d, sid, tok, 1);
  tok[MC_TOKEN_LEN - 1] ^= 1;
  from_victim(&f, d, n);
  run_until(&f, 3 * MC_MSEC);
  CU_ASSERT_EQUAL(f.tx_dgrams, 1);
  ratio(&f, "Ping of a live session, wrong token");

  count_reset(&f);
  n = mc_test_handshake(d, 0, "alice", "secret", 6, 0);
  d[0] = 'X';
  from_victim(&f, d, n);
  run_until(&f, 4 * MC_MSEC);
  CU_ASSERT_EQUAL(f.tx_dgrams, 0);
  ratio(&f, "bad prefix");

  count_reset(&f);
  /* Field 1 with wire type 7, which does not exist: MALFORMED. */
  uint8_t junk[100] = {'M', 'Y', 'C', 1, 0x0f};
  from_victim(&f, junk, sizeof junk);
  run_until(&f, 5 * MC_MSEC);
  CU_ASSERT_EQUAL(f.tx_dgrams, 1);
  ratio(&f, "malformed envelope");

  count_reset(&f);
  n = mc_test_handshake(d, 0, "alice", "secret", 6, 1);
  CU_ASSERT(n < MC_HANDSHAKE_MIN);
  from_victim(&f, d, n);
  run_until(&f, 6 * MC_MSEC);
  CU_ASSERT_EQUAL(f.tx_dgrams, 0);
  ratio(&f, "Login under 256 bytes");

  /* The session's own copy of its Login, from the victim: the Welcome
   * again, no larger than the copy (MC-40, MC-60). */
  count_reset(&f);
  n = mc_test_handshake(d, 0, "alice", "secret", 5, 0);
  from_victim(&f, d, n);
  run_until(&f, 7 * MC_MSEC);
  CU_ASSERT_EQUAL(f.tx_dgrams, 1);
  ratio(&f, "copy of a live session's Login");
  teardown(&f);
}

/* A Register from the victim's address: the Welcome only. */
static void test_mc_server_path_register(void) {
  fixture f;
  setup(&f);
  uint8_t d[MC_DATAGRAM_MAX];
  size_t n = mc_test_handshake(d, 1, "carol", "secret", 12, 0);
  from_victim(&f, d, n);
  run_until(&f, 60 * MC_SEC);
  CU_ASSERT_EQUAL(f.tx_dgrams, 1);
  ratio(&f, "Register, never answered");
  teardown(&f);
}

/* A Login that succeeds from the victim's address, for an account with
 * 200 messages waiting, and copies of it: the Welcome each time and
 * nothing else (MC-141), for as long as the session lives. */
static void test_mc_server_path_login_backlog(void) {
  fixture f;
  setup(&f);
  uint64_t bob = account(&f, "bob"), alice = account(&f, "alice");
  backlog(&f, bob, alice, 200);
  uint8_t d[MC_DATAGRAM_MAX];
  size_t n = mc_test_handshake(d, 0, "alice", "secret", 11, 0);
  from_victim(&f, d, n);
  run_until(&f, 60 * MC_SEC);
  CU_ASSERT_EQUAL(f.tx_dgrams, 1);
  CU_ASSERT_EQUAL(mc_server_get_stats(f.srv)->sessions_timed_out, 1);
  ratio(&f, "Login, 200-message backlog, never answered");
  /* Ten more copies, one a second: a new session (its nonce's session is
   * gone), then the same Welcome nine times. */
  count_reset(&f);
  for (int i = 0; i < 10; i++) {
    from_victim(&f, d, n);
    run_until(&f, f.now + MC_SEC);
  }
  run_until(&f, f.now + 60 * MC_SEC);
  CU_ASSERT_EQUAL(f.tx_dgrams, 10);
  ratio(&f, "the same Login 10 times, backlog 200");
  teardown(&f);
}

/* The token coming back unlocks the backlog: before it nothing is due
 * but the session's timeout; its first datagram from the handshake's
 * address validates that address and the pushes start at once (MC-141). */
static void test_mc_server_path_token_unlocks(void) {
  fixture f;
  setup(&f);
  uint64_t bob = account(&f, "bob"), alice = account(&f, "alice");
  backlog(&f, bob, alice, 3);
  mc_addr client, to;
  addr(&client, 1, 4000);
  uint64_t sid;
  uint8_t tok[MC_TOKEN_LEN], d[MC_DATAGRAM_MAX];
  size_t n;
  login_elsewhere(&f, "alice", &client, 0, &sid, tok);
  CU_ASSERT_EQUAL(mc_server_poll_tx(f.srv, 0, &to, d, sizeof d, &n), 0);
  CU_ASSERT_EQUAL(mc_server_expiry(f.srv),
                  MC_SESSION_TIMEOUT_MS_DEFAULT * (mc_tstamp)MC_MSEC);
  n = sess_dgram(d, sid, tok, 0);
  CU_ASSERT_EQUAL(mc_server_recv(f.srv, &client, d, n, 0), 0);
  CU_ASSERT_EQUAL_FATAL(mc_server_poll_tx(f.srv, 0, &to, d, sizeof d, &n), 1);
  CU_ASSERT_TRUE(mc__server_addr_eq(&to, &client));
  Mychat__Envelope *env;
  CU_ASSERT_EQUAL_FATAL(mc_codec_decode(d, n, &env), 0);
  CU_ASSERT_EQUAL(env->body_case, MYCHAT__ENVELOPE__BODY_DELIVER);
  CU_ASSERT_EQUAL(env->seq, 1);
  mc_codec_free(env);
  teardown(&f);
}

/* A session moved to the victim's address by a fresh datagram with the
 * token (an on-path attacker's) gets there at most three times what came
 * from there, though 200 messages wait for it (MC-142); its owner's next
 * datagram takes it back, validated at once. */
static void test_mc_server_path_moved(void) {
  fixture f;
  setup(&f);
  uint64_t bob = account(&f, "bob"), alice = account(&f, "alice");
  mc_addr owner;
  addr(&owner, 1, 4000);
  uint64_t sid;
  uint8_t tok[MC_TOKEN_LEN], d[MC_DATAGRAM_MAX];
  backlog(&f, bob, alice, 200);
  /* 32 Delivers go to the owner, who never acks them here. */
  login_elsewhere(&f, "alice", &owner, 1, &sid, tok);
  run_until(&f, MC_MSEC);
  size_t n = sess_dgram(d, sid, tok, 99);
  from_victim(&f, d, n);
  run_until(&f, 20 * MC_SEC);
  CU_ASSERT_EQUAL(mc_server_get_stats(f.srv)->migrations, 1);
  CU_ASSERT(f.tx_dgrams >= 1); /* the Pong at least */
  ratio(&f, "session moved by a Ping, 200 waiting");
  n = sess_dgram(d, sid, tok, 100);
  CU_ASSERT_EQUAL(mc_server_recv(f.srv, &owner, d, n, f.now), 0);
  CU_ASSERT_EQUAL(mc_server_get_stats(f.srv)->migrations, 2);
  teardown(&f);
}

static CU_TestInfo tests[] = {
    {"budget_exact", test_mc_server_path_budget_exact},
    {"move_probe", test_mc_server_path_move_probe},
    {"fresh_only", test_mc_server_path_fresh_only},
    {"handshake_errors", test_mc_server_path_handshake_errors},
    {"no_session", test_mc_server_path_no_session},
    {"register", test_mc_server_path_register},
    {"login_backlog", test_mc_server_path_login_backlog},
    {"token_unlocks", test_mc_server_path_token_unlocks},
    {"moved", test_mc_server_path_moved},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_server_path_suite = {.pName = "server_path", .pTests = tests};
