/*
 * Unit tests of the server (lib/mc_server*.c) fed hand-built datagrams,
 * with the datagrams it answers with taken apart: no client library in
 * between.
 */
#include <string.h>

#include "mc_codec_pb.h"
#include "mc_error.h"
#include "mc_memstore.h"
#include "mc_server.h"
#include "mc_server_fixture.h"
#include "mc_tests.h"

typedef struct {
  mc_test_srv t;
  mc_server *srv;    /* t.srv */
  mc_addr from;
} fixture;

static void setup(fixture *f) {
  mc_test_srv_init(&f->t);
  f->srv = f->t.srv;
  uint8_t ip[4] = {127, 0, 0, 9};
  mc_addr_set_ip(&f->from, ip, sizeof ip, 4000);
}

static void teardown(fixture *f) { mc_test_srv_free(&f->t); }

/* A Register (|reg|) or Login of alice, padded unless |unpadded|. */
static size_t handshake(uint8_t *d, int reg, uint64_t nonce, int unpadded) {
  return mc_test_handshake(d, reg, "alice", "secret", nonce, unpadded);
}

/* Runs the password jobs the server has handed out. */
static void run_auth(fixture *f) {
  mc_auth_job job;
  while (mc_server_poll_auth(f->srv, &job)) {
    mc_auth_job_run(&job);
    CU_ASSERT_EQUAL(mc_server_auth_done(f->srv, &job, 0), 0);
  }
}

/* Runs the password jobs, then takes the one datagram the server has for
 * |f->from|, decoded (NULL when there is none). */
static Mychat__Envelope *answer(fixture *f, size_t *len) {
  run_auth(f);
  uint8_t d[MC_DATAGRAM_MAX];
  mc_addr to;
  if (mc_server_poll_tx(f->srv, 0, &to, d, sizeof d, len) != 1)
    return NULL;
  CU_ASSERT(to.len == f->from.len && !memcmp(to.bytes, f->from.bytes, to.len));
  Mychat__Envelope *env = NULL;
  CU_ASSERT_EQUAL(mc_codec_decode(d, *len, &env), 0);
  return env;
}

/* Sends a padded handshake (the |n| bytes of |d|) and returns the answer,
 * which must be a |kind| body. */
static Mychat__Envelope *answered(fixture *f, const uint8_t *d, size_t n,
                                  Mychat__Envelope__BodyCase kind,
                                  size_t *len) {
  CU_ASSERT_EQUAL(mc_server_recv(f->srv, &f->from, d, n, 0), 0);
  Mychat__Envelope *e = answer(f, len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL_FATAL(e->body_case, kind);
  return e;
}

/* Register, then its retransmission: one session, the same Welcome, never
 * larger than the request (MC-40, MC-60). */
static void test_mc_server_register_welcome(void) {
  fixture f;
  setup(&f);
  uint8_t d[MC_DATAGRAM_MAX];
  size_t n = handshake(d, 1, 77, 0), len;
  Mychat__Envelope *w = answered(&f, d, n, MYCHAT__ENVELOPE__BODY_WELCOME, &len);
  CU_ASSERT_EQUAL(w->welcome->client_nonce, 77);
  CU_ASSERT(len <= n);
  uint64_t sid = w->welcome->session_id;
  mc_codec_free(w);
  w = answered(&f, d, n, MYCHAT__ENVELOPE__BODY_WELCOME, &len);
  CU_ASSERT_EQUAL(w->welcome->session_id, sid);
  mc_codec_free(w);
  CU_ASSERT_EQUAL(mc_server_get_stats(f.srv)->sessions, 1);
  teardown(&f);
}

/* Junk and a handshake under MC_HANDSHAKE_MIN get no answer at all. */
static void test_mc_server_silent_drops(void) {
  fixture f;
  setup(&f);
  uint8_t d[MC_DATAGRAM_MAX];
  size_t len;
  CU_ASSERT_EQUAL(mc_server_recv(f.srv, &f.from, (const uint8_t *)"GET /", 5, 0),
                  MC_ERR_BAD_MAGIC);
  size_t n = handshake(d, 1, 5, 1);
  CU_ASSERT(n < MC_HANDSHAKE_MIN);
  CU_ASSERT_EQUAL(mc_server_recv(f.srv, &f.from, d, n, 0), 0);
  CU_ASSERT_PTR_NULL(answer(&f, &len));
  CU_ASSERT_EQUAL(mc_server_get_stats(f.srv)->rx_dropped, 1);
  CU_ASSERT_EQUAL(mc_server_expiry(f.srv), MC_TSTAMP_NEVER);
  teardown(&f);
}

/* Login to an unknown name and a datagram of no session: each an Error
 * with its code, the first echoing the nonce. */
static void test_mc_server_errors(void) {
  fixture f;
  setup(&f);
  uint8_t d[MC_DATAGRAM_MAX];
  size_t n = handshake(d, 0, 9, 0), len;
  Mychat__Envelope *e = answered(&f, d, n, MYCHAT__ENVELOPE__BODY_ERROR, &len);
  CU_ASSERT_EQUAL(e->error->code, MYCHAT__ERROR_CODE__AUTH_FAILED);
  CU_ASSERT_EQUAL(e->error->client_nonce, 9);
  mc_codec_free(e);

  /* Big enough that the Error fits in its size (MC-60). */
  char text[200];
  memset(text, 'x', sizeof text - 1);
  text[sizeof text - 1] = '\0';
  Mychat__SendMessage sm = MYCHAT__SEND_MESSAGE__INIT;
  sm.client_msg_id = 1, sm.to_case = MYCHAT__SEND_MESSAGE__TO_USER;
  sm.user = (char *)"bob", sm.text = text;
  Mychat__Envelope req = MYCHAT__ENVELOPE__INIT;
  uint8_t tok[MC_TOKEN_LEN] = {1};
  req.session_id = 1234, req.token.len = MC_TOKEN_LEN, req.token.data = tok;
  req.seq = 1, req.body_case = MYCHAT__ENVELOPE__BODY_SEND, req.send = &sm;
  n = mc_test_encode(&req, d);
  CU_ASSERT_EQUAL(mc_server_recv(f.srv, &f.from, d, n, 0), MC_ERR_AUTH);
  e = answer(&f, &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(e->error->code, MYCHAT__ERROR_CODE__UNKNOWN_SESSION);
  CU_ASSERT_EQUAL(e->session_id, 1234);
  mc_codec_free(e);
  teardown(&f);
}

/* Regression (issue 15): a buffer too small for the queued answer made
 * poll_tx return 0 while expiry() said "now", stalling all output. */
static void test_mc_server_small_buffer(void) {
  fixture f;
  setup(&f);
  uint8_t d[MC_DATAGRAM_MAX];
  size_t n = handshake(d, 0, 9, 0), len;
  CU_ASSERT_EQUAL(mc_server_recv(f.srv, &f.from, d, n, 0), 0);
  run_auth(&f); /* an unknown name is verified too (MC-135) */
  mc_addr to;
  CU_ASSERT_EQUAL(mc_server_poll_tx(f.srv, 0, &to, d, 64, &len),
                  MC_ERR_BUFFER_TOO_SMALL);
  CU_ASSERT_EQUAL(mc_server_expiry(f.srv), 0);
  Mychat__Envelope *e = answer(&f, &len); /* still there, whole */
  CU_ASSERT_PTR_NOT_NULL(e);
  mc_codec_free(e);
  CU_ASSERT_EQUAL(mc_server_expiry(f.srv), MC_TSTAMP_NEVER);
  teardown(&f);
}

static CU_TestInfo tests[] = {
    {"register_welcome", test_mc_server_register_welcome},
    {"silent_drops", test_mc_server_silent_drops},
    {"errors", test_mc_server_errors},
    {"small_buffer", test_mc_server_small_buffer},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_server_suite = {.pName = "server", .pTests = tests};
