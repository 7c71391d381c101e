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
  /* The client proves its address at once (MC-140): an ack-only datagram
   * of the session, and only one. */
  CU_ASSERT_EQUAL(mc_client_expiry(c), 0);
  take(c, 10, d, &pk);
  CU_ASSERT_EQUAL(pk.session_id, 55);
  CU_ASSERT_EQUAL(pk.body, MC_KIND_NONE);
  CU_ASSERT_EQUAL(pk.seq, 0);
  CU_ASSERT_EQUAL(mc_client_poll_tx(c, 10, d, sizeof d, &n), 0);
  /* A Welcome of keepalive 0 falls back on the default: the first Ping is
   * due MC_KEEPALIVE_MS_DEFAULT after the last datagram sent. */
  CU_ASSERT_EQUAL(mc_client_expiry(c), 10 + MC_KEEPALIVE_MS_DEFAULT * MC_MSEC);
  mc_client_del(c);
}

/* Deliver |id| as reliable seq |seq| of session 55 (see welcome), into
 * |d|; returns its length. */
static size_t deliver(uint32_t seq, uint64_t id, uint8_t *d) {
  static uint8_t tok[MC_TOKEN_LEN] = {7};
  Mychat__Deliver dv = MYCHAT__DELIVER__INIT;
  dv.message_id = id, dv.from = (char *)"bob", dv.text = (char *)"hi";
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  e.session_id = 55, e.token.len = MC_TOKEN_LEN, e.token.data = tok;
  e.seq = seq;
  e.body_case = MYCHAT__ENVELOPE__BODY_DELIVER, e.deliver = &dv;
  uint8_t body[MC_DATAGRAM_MAX];
  size_t blen, n;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode_body(&e, body, sizeof body, &blen), 0);
  CU_ASSERT_EQUAL_FATAL(
      mc_codec_encode(&e, body, blen, d, MC_DATAGRAM_MAX, &n), 0);
  return n;
}

/* Feeds Deliver |id| as the next seq; returns 1 when it became a message
 * event (a first sight), 0 when dropped as a duplicate (MC-128). */
static int deliver_once(mc_client *c, uint32_t *seq, uint64_t id) {
  uint8_t d[MC_DATAGRAM_MAX];
  size_t n = deliver(++*seq, id, d);
  CU_ASSERT_EQUAL_FATAL(mc_client_recv(c, d, n, 20), 0);
  int messages = 0;
  mc_client_event ev;
  while (mc_client_poll_event(c, &ev) == 1)
    if (ev.type == MC_CEV_MESSAGE) {
      CU_ASSERT_EQUAL(ev.message_id, id);
      messages++;
    }
  return messages;
}

/* Duplicate Delivers are dropped by message id in any arrival order; the
 * 4,096 highest ids are remembered, and beyond that the lowest 512 go at
 * once: an id below every remembered one is handed over again. */
static void test_mc_client_deliver_dedup(void) {
  uint8_t rnd = 0, d[MC_DATAGRAM_MAX];
  mc_client *c = new_client(&rnd);
  CU_ASSERT_EQUAL(mc_client_connect(c, "alice", "secret", 0, 0), 0);
  mc_peek pk;
  take(c, 0, d, &pk);
  size_t n = welcome(pk.client_nonce, d);
  CU_ASSERT_EQUAL_FATAL(mc_client_recv(c, d, n, 10), 0);
  mc_client_event ev;
  while (mc_client_poll_event(c, &ev) == 1)
    ;
  uint32_t seq = 0;
  static const uint64_t order[] = {9000, 10, 5000, 7, 10, 9000, 7, 5000, 8};
  static const int first[] = {1, 1, 1, 1, 0, 0, 0, 0, 1};
  for (size_t i = 0; i < sizeof order / sizeof *order; i++)
    CU_ASSERT_EQUAL(deliver_once(c, &seq, order[i]), first[i]);
  /* 5 remembered; 4,091 more fill the array (ids 10001..14091). */
  for (uint64_t id = 10001; id <= 14091; id++)
    CU_ASSERT_EQUAL_FATAL(deliver_once(c, &seq, id), 1);
  CU_ASSERT_EQUAL(deliver_once(c, &seq, 14091), 0);
  CU_ASSERT_EQUAL(deliver_once(c, &seq, 7), 0);
  /* Full: the next new id makes the 512 lowest go (7 .. 10507). */
  CU_ASSERT_EQUAL(deliver_once(c, &seq, 20000), 1);
  CU_ASSERT_EQUAL(deliver_once(c, &seq, 10508), 0);
  CU_ASSERT_EQUAL(deliver_once(c, &seq, 20000), 0);
  CU_ASSERT_EQUAL(deliver_once(c, &seq, 10507), 1); /* forgotten */
  CU_ASSERT_EQUAL(deliver_once(c, &seq, 7), 1);
  CU_ASSERT_EQUAL(deliver_once(c, &seq, 7), 0);
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
    {"deliver_dedup", test_mc_client_deliver_dedup},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_client_suite = {.pName = "client", .pTests = tests};
