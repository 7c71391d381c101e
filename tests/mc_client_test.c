/*
 * Unit tests of the client (lib/mc_client.c): its datagrams taken apart,
 * hand-built server datagrams fed in, the events it makes of them.
 */
#include <string.h>

#include "mc_client.h"
#include "mc_codec_pb.h"
#include "mc_error.h"
#include "mc_tests.h"

static void counter_random(void *ud, uint8_t *buf, size_t len) {
  uint8_t *n = ud;
  for (size_t i = 0; i < len; i++)
    buf[i] = ++*n;
}

static mc_client *new_client(uint8_t *rnd) {
  mc_client_callbacks cb = {.user_data = rnd, .random = counter_random};
  mc_client *c = mc_client_new(NULL, &cb);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  return c;
}

/* Takes the client's next datagram and peeks at it. */
static size_t take(mc_client *c, mc_tstamp now, uint8_t *d, mc_peek *pk) {
  size_t len = 0;
  CU_ASSERT_EQUAL_FATAL(mc_client_poll_tx(c, now, d, MC_DATAGRAM_MAX, &len),
                        1);
  CU_ASSERT_EQUAL_FATAL(mc_codec_peek(d, len, pk), 0);
  return len;
}

/* The handshake: padded (MC-47), resent 500 ms later with the same nonce
 * (MC-33), never from a too-small buffer. */
static void test_mc_client_handshake_datagrams(void) {
  uint8_t rnd = 0, d[MC_DATAGRAM_MAX];
  mc_client *c = new_client(&rnd);
  CU_ASSERT_EQUAL(mc_client_connect(c, "alice", "secret", 1, 1000), 0);
  size_t len;
  CU_ASSERT_EQUAL(mc_client_poll_tx(c, 1000, d, 100, &len),
                  MC_ERR_BUFFER_TOO_SMALL);
  mc_peek pk, again;
  len = take(c, 1000, d, &pk);
  CU_ASSERT(len >= MC_HANDSHAKE_MIN);
  CU_ASSERT_EQUAL(pk.body, MYCHAT__ENVELOPE__BODY_REGISTER);
  CU_ASSERT(pk.client_nonce != 0);
  CU_ASSERT_EQUAL(pk.session_id, 0);
  CU_ASSERT_EQUAL(mc_client_poll_tx(c, 1000, d, sizeof d, &len), 0);
  /* The drive contract: the next deadline is the resend, in the future. */
  mc_tstamp next = mc_client_expiry(c);
  CU_ASSERT_EQUAL(next, 1000 + MC_HANDSHAKE_RTO_MS_DEFAULT * MC_MSEC);
  take(c, next, d, &again);
  CU_ASSERT_EQUAL(again.client_nonce, pk.client_nonce);
  mc_client_del(c);
}

/* A Welcome for nonce |nonce| of session 55, into |d|; returns its length. */
static size_t welcome(uint64_t nonce, uint8_t *d) {
  static uint8_t tok[MC_TOKEN_LEN] = {7};
  Mychat__Welcome w = MYCHAT__WELCOME__INIT;
  w.session_id = 55, w.token.len = MC_TOKEN_LEN, w.token.data = tok;
  w.client_nonce = nonce, w.name = (char *)"alice";
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  e.body_case = MYCHAT__ENVELOPE__BODY_WELCOME, e.welcome = &w;
  uint8_t body[MC_DATAGRAM_MAX];
  size_t blen, n;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode_body(&e, body, sizeof body, &blen), 0);
  CU_ASSERT_EQUAL_FATAL(
      mc_codec_encode(&e, body, blen, d, MC_DATAGRAM_MAX, &n), 0);
  return n;
}

/* A Welcome with the right nonce establishes the session; one with another
 * nonce is not ours. */
static void test_mc_client_welcome(void) {
  uint8_t rnd = 0, d[MC_DATAGRAM_MAX];
  mc_client *c = new_client(&rnd);
  CU_ASSERT_EQUAL(mc_client_connect(c, "alice", "secret", 0, 0), 0);
  mc_peek pk;
  take(c, 0, d, &pk);
  size_t n = welcome(pk.client_nonce + 1, d);
  CU_ASSERT_EQUAL(mc_client_recv(c, d, n, 10), MC_ERR_AUTH);
  CU_ASSERT_EQUAL(mc_client_get_state(c), MC_CLIENT_HANDSHAKE);
  n = welcome(pk.client_nonce, d);
  CU_ASSERT_EQUAL(mc_client_recv(c, d, n, 10), 0);
  CU_ASSERT_EQUAL(mc_client_get_state(c), MC_CLIENT_ESTABLISHED);
  mc_client_event ev;
  CU_ASSERT_EQUAL_FATAL(mc_client_poll_event(c, &ev), 1);
  CU_ASSERT_EQUAL(ev.type, MC_CEV_CONNECTED);
  CU_ASSERT_STRING_EQUAL(ev.name, "alice");
  CU_ASSERT_EQUAL(mc_client_poll_event(c, &ev), 0);
  /* A Welcome of keepalive 0 falls back on the default: the first Ping is
   * due MC_KEEPALIVE_MS_DEFAULT after the last datagram sent. */
  CU_ASSERT_EQUAL(mc_client_expiry(c), 10 + MC_KEEPALIVE_MS_DEFAULT * MC_MSEC);
  mc_client_del(c);
}

/* No answer: the handshake gives up after connect_timeout_ms. */
static void test_mc_client_connect_gives_up(void) {
  uint8_t rnd = 0, d[MC_DATAGRAM_MAX];
  mc_client *c = new_client(&rnd);
  CU_ASSERT_EQUAL(mc_client_connect(c, "alice", "secret", 0, 0), 0);
  size_t len;
  mc_tstamp now = 0;
  for (int k = 0; k < 100 && mc_client_get_state(c) == MC_CLIENT_HANDSHAKE;
       k++) {
    if (mc_client_expiry(c) <= now)
      mc_client_handle_expiry(c, now);
    while (mc_client_poll_tx(c, now, d, sizeof d, &len) == 1)
      ;
    mc_tstamp next = mc_client_expiry(c);
    CU_ASSERT_FATAL(next > now);
    if (next != MC_TSTAMP_NEVER)
      now = next;
  }
  CU_ASSERT_EQUAL(mc_client_get_state(c), MC_CLIENT_CLOSED);
  CU_ASSERT_EQUAL(now, MC_CONNECT_TIMEOUT_MS_DEFAULT * MC_MSEC);
  mc_client_event ev;
  CU_ASSERT_EQUAL_FATAL(mc_client_poll_event(c, &ev), 1);
  CU_ASSERT_EQUAL(ev.type, MC_CEV_CONNECT_FAILED);
  mc_client_del(c);
}

static CU_TestInfo tests[] = {
    {"handshake_datagrams", test_mc_client_handshake_datagrams},
    {"welcome", test_mc_client_welcome},
    {"connect_gives_up", test_mc_client_connect_gives_up},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_client_suite = {.pName = "client", .pTests = tests};
