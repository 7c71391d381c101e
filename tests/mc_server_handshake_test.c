/*
 * mc_server_handshake_test.c: Register and Login against the server core
 * alone, each datagram from an address the test picks (lib/mc_server_handshake.c):
 * the rate limits of MC-51, MC-52 and MC-134, the equal work of MC-135,
 * the share-out of password work (MC-136) and the hourly registrations
 * (MC-137).
 */
#include <CUnit/CUnit.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "mc_codec.h"
#include "mc_codec_pb.h"
#include "mc_error.h"
#include "mc_memstore.h"
#include "mc_rng.h"
#include "mc_server.h"
#include "mc_tests.h"

typedef struct {
  mc_memstore *ms;
  mc_store store;
  mc_server *srv;
  mc_rng rng;
  mc_tstamp now;
  uint64_t nonce;
  unsigned jobs_verify, jobs_hash;   /* password jobs run, by kind */
  int hold;                          /* leave the jobs pending */
} hs_bench;

static void hs_random(void *ud, uint8_t *buf, size_t len) {
  mc_rng_bytes(&((hs_bench *)ud)->rng, buf, len);
}

static void hs_init(hs_bench *t, const mc_server_config *cfg) {
  memset(t, 0, sizeof *t);
  t->now = 1000 * MC_SEC;
  mc_rng_seed(&t->rng, 12);
  t->ms = mc_memstore_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(t->ms);
  mc_memstore_as_store(t->ms, &t->store);
  mc_server_callbacks cb = {.user_data = t, .random = hs_random};
  t->srv = mc_server_new(cfg, &t->store, &cb);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t->srv);
}

static void hs_free(hs_bench *t) {
  mc_server_del(t->srv);
  mc_memstore_del(t->ms);
}

static mc_server_config hs_config(void) {
  mc_server_config cfg;
  mc_server_config_default(&cfg);
  cfg.auth_cost = MC_AUTH_COST_MIN;
  for (size_t i = 0; i < sizeof cfg.rate_key; i++)
    cfg.rate_key[i] = (uint8_t)(0xa5 ^ i);
  return cfg;
}

/* The IPv4 address 10.h2.h1.h0 (h = |host|), port 4000. */
static mc_addr hs_addr(uint32_t host) {
  uint8_t ip[4] = {10, (uint8_t)(host >> 16), (uint8_t)(host >> 8),
                   (uint8_t)host};
  mc_addr a;
  mc_addr_set_ip(&a, ip, sizeof ip, 4000);
  return a;
}

/* Sends a padded Register (|reg|) or Login from |from|, runs the password
 * jobs it causes, and returns the answer: 0 for a Welcome, the Error's
 * code, or -1 when nothing came back. */
static int hs_try(hs_bench *t, const mc_addr *from, int reg, const char *name,
                  const char *pw) {
  Mychat__Handshake h = MYCHAT__HANDSHAKE__INIT;
  h.name = (char *)name;
  h.password = (char *)pw;
  h.client_nonce = ++t->nonce;
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  env.body_case = reg ? MYCHAT__ENVELOPE__BODY_REGISTER
                      : MYCHAT__ENVELOPE__BODY_LOGIN;
  env.register_ = &h; /* the union member of either case */
  CU_ASSERT_EQUAL_FATAL(mc_codec_pad_handshake(&env), 0);
  uint8_t body[MC_DATAGRAM_MAX], dg[MC_DATAGRAM_MAX];
  size_t blen, len;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode_body(&env, body, sizeof body, &blen), 0);
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode(&env, body, blen, dg, sizeof dg, &len), 0);
  mc_server_recv(t->srv, from, dg, len, t->now);
  mc_auth_job job;
  while (!t->hold && mc_server_poll_auth(t->srv, &job)) {
    if (job.kind == MC_AUTH_JOB_VERIFY)
      t->jobs_verify++;
    else
      t->jobs_hash++;
    mc_auth_job_run(&job);
    mc_server_auth_done(t->srv, &job, t->now);
  }
  int answer = -1;
  mc_addr to;
  while (mc_server_poll_tx(t->srv, t->now, &to, dg, sizeof dg, &len)) {
    Mychat__Envelope *r = NULL;
    if (to.len != from->len || memcmp(to.bytes, from->bytes, to.len) != 0 ||
        mc_codec_unpack(dg, len, &r) < 0)
      continue;
    if (r->body_case == MYCHAT__ENVELOPE__BODY_WELCOME)
      answer = 0;
    else if (r->body_case == MYCHAT__ENVELOPE__BODY_ERROR &&
             r->error->client_nonce == h.client_nonce)
      answer = (int)r->error->code;
    mc_codec_free(r);
  }
  return answer;
}

/* Issue 12: the old table of 4,096 slots under an unkeyed hash reset a slot
 * to full whenever another key landed in it, so one address trying many
 * names hit its own slot now and then and got a fresh burst: 40 guesses
 * passed where 4 should have. Now every name from one address draws on the
 * one address bucket, whatever the names hash to. */
static void test_mc_server_handshake_rate_collision(void) {
  mc_server_config cfg = hs_config();
  hs_bench t;
  hs_init(&t, &cfg);
  mc_addr a = hs_addr(1);
  unsigned passed = 0, limited = 0;
  char name[32];
  for (unsigned i = 0; i < 20000; i++) {
    snprintf(name, sizeof name, "n%u", i);
    int code = hs_try(&t, &a, 0, name, "guess-guess");
    if (code == MYCHAT__ERROR_CODE__RATE_LIMITED)
      limited++;
    else if (code == MYCHAT__ERROR_CODE__AUTH_FAILED)
      passed++;
  }
  printf("\n  collision attack: %u of 20000 guesses passed, %u limited "
         "(burst %u)\n", passed, limited, cfg.rate_burst);
  CU_ASSERT_EQUAL(passed, cfg.rate_burst);
  CU_ASSERT_EQUAL(limited, 20000 - cfg.rate_burst);
  hs_free(&t);
}

/* Buckets that are not full are never forgotten (MC-134): with the table
 * taken by half-used buckets of many addresses, a new address is refused,
 * the first address still has only what it had left, and room comes back
 * once the buckets have refilled. */
static void test_mc_server_handshake_rate_table_full(void) {
  mc_server_config cfg = hs_config();
  hs_bench t;
  hs_init(&t, &cfg);
  unsigned refused = 0;
  const unsigned hosts = 20000; /* two buckets each: more than the table */
  for (uint32_t h = 1; h <= hosts; h++) {
    mc_addr a = hs_addr(h);
    if (hs_try(&t, &a, 0, "victim", "guess-guess") ==
        MYCHAT__ERROR_CODE__RATE_LIMITED)
      refused++;
  }
  CU_ASSERT(refused > 0 && refused < hosts);
  mc_addr first = hs_addr(1), late = hs_addr(hosts + 1);
  CU_ASSERT_EQUAL(hs_try(&t, &late, 0, "victim", "guess-guess"),
                  MYCHAT__ERROR_CODE__RATE_LIMITED);
  int left = 0;
  for (unsigned i = 0; i < cfg.rate_burst; i++)
    left += hs_try(&t, &first, 0, "victim", "guess-guess") ==
            MYCHAT__ERROR_CODE__AUTH_FAILED;
  CU_ASSERT_EQUAL(left, (int)cfg.rate_burst - 1);
  /* Every bucket is full again after burst * refill (backoff included:
   * one failure doubles the refill of one missing token). */
  t.now += (uint64_t)cfg.rate_burst * 2 * cfg.rate_refill_ms * MC_MSEC;
  CU_ASSERT_EQUAL(hs_try(&t, &late, 0, "victim", "guess-guess"),
                  MYCHAT__ERROR_CODE__AUTH_FAILED);
  hs_free(&t);
}

/* Issue 12's targeted lockout: wrong Logins for a name from other
 * addresses draw on their own buckets, not on the owner's (MC-51). */
static void test_mc_server_handshake_rate_owner(void) {
  mc_server_config cfg = hs_config();
  hs_bench t;
  hs_init(&t, &cfg);
  mc_addr owner = hs_addr(1);
  CU_ASSERT_EQUAL_FATAL(hs_try(&t, &owner, 1, "alice", "alice-pw"), 0);
  unsigned failed = 0;
  for (uint32_t h = 2; h < 12; h++) {
    mc_addr a = hs_addr(h);
    for (unsigned i = 0; i < cfg.rate_burst + 2; i++)
      failed += hs_try(&t, &a, 0, "alice", "guess-guess") ==
                MYCHAT__ERROR_CODE__AUTH_FAILED;
  }
  CU_ASSERT_EQUAL(failed, 10 * cfg.rate_burst);
  CU_ASSERT_EQUAL(hs_try(&t, &owner, 0, "alice", "alice-pw"), 0);
  hs_free(&t);
}

/* The backoff of MC-51: after a burst of failures the pair's tokens come
 * back 2^5 times slower; the same address's bucket is not slowed, so it
 * may still try another name. */
static void test_mc_server_handshake_rate_backoff(void) {
  mc_server_config cfg = hs_config();
  hs_bench t;
  hs_init(&t, &cfg);
  mc_addr a = hs_addr(7), owner = hs_addr(8);
  CU_ASSERT_EQUAL_FATAL(hs_try(&t, &owner, 1, "alice", "alice-pw"), 0);
  for (unsigned i = 0; i < cfg.rate_burst; i++)
    CU_ASSERT_EQUAL(hs_try(&t, &a, 0, "alice", "guess-guess"),
                    MYCHAT__ERROR_CODE__AUTH_FAILED);
  t.now += (cfg.rate_refill_ms + 100) * MC_MSEC;
  CU_ASSERT_EQUAL(hs_try(&t, &a, 0, "alice", "guess-guess"),
                  MYCHAT__ERROR_CODE__RATE_LIMITED);
  CU_ASSERT_EQUAL(hs_try(&t, &a, 0, "bob", "guess-guess"),
                  MYCHAT__ERROR_CODE__AUTH_FAILED);
  /* 2^5 refill intervals after the burst, one try for the pair again. */
  t.now += (32 * cfg.rate_refill_ms) * MC_MSEC;
  CU_ASSERT_EQUAL(hs_try(&t, &a, 0, "alice", "alice-pw"), 0);
  hs_free(&t);
}

/* Issue 12: a Login for an unknown name was answered at once (1.3 ms
 * against 140 ms for a known name at the interactive cost), which told
 * which names exist. Now it is verified like any Login (MC-135). */
static void test_mc_server_handshake_unknown_name_verified(void) {
  mc_server_config cfg = hs_config();
  hs_bench t;
  hs_init(&t, &cfg);
  mc_addr a = hs_addr(3);
  CU_ASSERT_EQUAL_FATAL(hs_try(&t, &a, 1, "alice", "alice-pw"), 0);
  CU_ASSERT_EQUAL(t.jobs_hash, 1);
  CU_ASSERT_EQUAL(hs_try(&t, &a, 0, "alice", "guess-guess"),
                  MYCHAT__ERROR_CODE__AUTH_FAILED);
  CU_ASSERT_EQUAL(t.jobs_verify, 1);
  CU_ASSERT_EQUAL(hs_try(&t, &a, 0, "nobody", "guess-guess"),
                  MYCHAT__ERROR_CODE__AUTH_FAILED);
  CU_ASSERT_EQUAL(t.jobs_verify, 2);
  CU_ASSERT_EQUAL(mc_server_get_stats(t.srv)->login_failures, 2);
  hs_free(&t);
}

/* The dummy hash parses as a crypto_pwhash_str hash with the parameters of
 * its cost, so verifying against it does that much work (a malformed one
 * would be refused at once, which is the timing leak again). */
static void test_mc_server_handshake_dummy_hash(void) {
  static const struct {
    mc_auth_cost cost;
    unsigned long long ops;
    size_t mem;
  } costs[] = {
      {MC_AUTH_COST_MIN, crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN},
      {MC_AUTH_COST_INTERACTIVE, crypto_pwhash_OPSLIMIT_INTERACTIVE,
       crypto_pwhash_MEMLIMIT_INTERACTIVE},
      {MC_AUTH_COST_MODERATE, crypto_pwhash_OPSLIMIT_MODERATE,
       crypto_pwhash_MEMLIMIT_MODERATE},
  };
  CU_ASSERT_FATAL(sodium_init() >= 0);
  for (size_t i = 0; i < sizeof costs / sizeof costs[0]; i++) {
    char h[MC_PWHASH_MAX];
    mc_auth_dummy_hash(costs[i].cost, h);
    CU_ASSERT_EQUAL(crypto_pwhash_str_needs_rehash(h, costs[i].ops,
                                                   costs[i].mem), 0);
  }
  char h[MC_PWHASH_MAX];
  mc_auth_dummy_hash(MC_AUTH_COST_MIN, h);
  CU_ASSERT_EQUAL(mc_auth_verify(h, "any-password"), MC_ERR_AUTH);
}

/* Takes every pending job in the order the core hands them out, into
 * |ids| (|cap| of them); returns how many. */
static size_t hs_poll_all(hs_bench *t, uint64_t *ids, size_t cap) {
  mc_auth_job job;
  size_t n = 0;
  while (n < cap && mc_server_poll_auth(t->srv, &job))
    ids[n++] = job.id;
  return n;
}

/* MC-136: Logins before Registers, and each prefix's first job before any
 * prefix's second (issue 12: Registers of a flood queued a Login for
 * minutes). */
static void test_mc_server_handshake_auth_order(void) {
  mc_server_config cfg = hs_config();
  hs_bench t;
  hs_init(&t, &cfg);
  mc_addr owner = hs_addr(0x0201);
  CU_ASSERT_EQUAL_FATAL(hs_try(&t, &owner, 1, "alice", "alice-pw"), 0);
  t.hold = 1;
  char name[16];
  for (uint32_t h = 1; h <= 3; h++) { /* jobs 2, 3, 4: prefix 10.0.0 */
    mc_addr a = hs_addr(h);
    snprintf(name, sizeof name, "a%u", h);
    CU_ASSERT_EQUAL(hs_try(&t, &a, 1, name, "flood-pw"), -1);
  }
  mc_addr b = hs_addr(0x0101);                  /* job 5: prefix 10.0.1 */
  CU_ASSERT_EQUAL(hs_try(&t, &b, 1, "b1", "flood-pw"), -1);
  CU_ASSERT_EQUAL(hs_try(&t, &owner, 0, "alice", "alice-pw"), -1); /* 6 */
  uint64_t ids[8];
  CU_ASSERT_EQUAL_FATAL(hs_poll_all(&t, ids, 8), 5);
  const uint64_t want[5] = {6, 2, 5, 3, 4};
  for (size_t i = 0; i < 5; i++)
    CU_ASSERT_EQUAL(ids[i], want[i]);
  hs_free(&t);
}

/* MC-136: pending jobs are bounded per prefix and in all, Registers to
 * half of it; a Login still finds room. */
static void test_mc_server_handshake_auth_bound(void) {
  mc_server_config cfg = hs_config();
  cfg.auth_per_prefix = 3;
  cfg.auth_queue_max = 8;
  hs_bench t;
  hs_init(&t, &cfg);
  mc_addr owner = hs_addr(0x0901);
  CU_ASSERT_EQUAL_FATAL(hs_try(&t, &owner, 1, "alice", "alice-pw"), 0);
  t.hold = 1;
  char name[16];
  unsigned busy = 0;
  for (uint32_t h = 1; h <= 4; h++) { /* one prefix: the fourth is refused */
    mc_addr a = hs_addr(h);
    snprintf(name, sizeof name, "a%u", h);
    busy += hs_try(&t, &a, 1, name, "flood-pw") ==
            MYCHAT__ERROR_CODE__SERVER_BUSY;
  }
  CU_ASSERT_EQUAL(busy, 1);
  mc_addr b = hs_addr(0x0101), c = hs_addr(0x0201);
  CU_ASSERT_EQUAL(hs_try(&t, &b, 1, "b1", "flood-pw"), -1); /* 4 Registers */
  CU_ASSERT_EQUAL(hs_try(&t, &c, 1, "c1", "flood-pw"),
                  MYCHAT__ERROR_CODE__SERVER_BUSY);         /* half of 8 */
  CU_ASSERT_EQUAL(hs_try(&t, &owner, 0, "alice", "alice-pw"), -1);
  CU_ASSERT_EQUAL(mc_server_get_stats(t.srv)->auth_jobs, 5);
  hs_free(&t);
}

/* MC-137: two registrations per address and three per /24 an hour; a
 * token comes back after an hour over the limit. */
static void test_mc_server_handshake_reg_hourly(void) {
  mc_server_config cfg = hs_config();
  cfg.reg_per_hour = 2;
  cfg.reg_per_hour_prefix = 3;
  hs_bench t;
  hs_init(&t, &cfg);
  mc_addr a = hs_addr(1), b = hs_addr(2), c = hs_addr(3);
  CU_ASSERT_EQUAL(hs_try(&t, &a, 1, "r1", "secret-pw"), 0);
  CU_ASSERT_EQUAL(hs_try(&t, &a, 1, "r2", "secret-pw"), 0);
  CU_ASSERT_EQUAL(hs_try(&t, &a, 1, "r3", "secret-pw"),
                  MYCHAT__ERROR_CODE__RATE_LIMITED);
  CU_ASSERT_EQUAL(hs_try(&t, &b, 1, "r4", "secret-pw"), 0);
  CU_ASSERT_EQUAL(hs_try(&t, &c, 1, "r5", "secret-pw"),
                  MYCHAT__ERROR_CODE__RATE_LIMITED);
  CU_ASSERT_EQUAL(hs_try(&t, &c, 0, "r1", "secret-pw"), 0);
  t.now += 1199 * MC_SEC;
  CU_ASSERT_EQUAL(hs_try(&t, &c, 1, "r5", "secret-pw"),
                  MYCHAT__ERROR_CODE__RATE_LIMITED);
  t.now += 2 * MC_SEC;                  /* an hour / 3: one token back */
  CU_ASSERT_EQUAL(hs_try(&t, &c, 1, "r5", "secret-pw"), 0);
  CU_ASSERT_EQUAL(mc_server_get_stats(t.srv)->registrations, 4);
  hs_free(&t);
}

static CU_TestInfo tests[] = {
    {"rate_collision", test_mc_server_handshake_rate_collision},
    {"rate_table_full", test_mc_server_handshake_rate_table_full},
    {"rate_owner", test_mc_server_handshake_rate_owner},
    {"rate_backoff", test_mc_server_handshake_rate_backoff},
    {"unknown_name_verified", test_mc_server_handshake_unknown_name_verified},
    {"dummy_hash", test_mc_server_handshake_dummy_hash},
    {"auth_order", test_mc_server_handshake_auth_order},
    {"auth_bound", test_mc_server_handshake_auth_bound},
    {"reg_hourly", test_mc_server_handshake_reg_hourly},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_server_handshake_suite = {
    .pName = "server_handshake",
    .pTests = tests,
};
