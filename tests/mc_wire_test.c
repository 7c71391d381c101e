/* Unit tests of lib/mc_wire.c: a session's reliability state to datagrams
 * and back, between two arqs. */
#include <string.h>

#include "mc_error.h"
#include "mc_tests.h"
#include "mc_wire.h"

static void env_free(void *env, const mc_mem *mem) {
  mc__codec_free(mem, env);
}

static void init_pair(mc_arq *a, mc_arq *b) {
  mc_arq_config cfg;
  mc_arq_config_default(&cfg);
  cfg.item_free = env_free;
  CU_ASSERT_EQUAL_FATAL(mc_arq_init(a, &cfg), 0);
  CU_ASSERT_EQUAL_FATAL(mc_arq_init(b, &cfg), 0);
}

/* A reliable body goes out with the session header, is taken by the peer,
 * and the peer's ack-only answer settles it. */
static void test_mc_wire_reliable_roundtrip(void) {
  mc_arq a, b;
  init_pair(&a, &b);
  mc__wire_id id = {.session_id = 42, .token = {9}};
  Mychat__Envelope req = MYCHAT__ENVELOPE__INIT;
  Mychat__Logout lo = MYCHAT__LOGOUT__INIT;
  req.body_case = MYCHAT__ENVELOPE__BODY_LOGOUT, req.logout = &lo;
  uint32_t seq = 0;
  CU_ASSERT_EQUAL_FATAL(mc__wire_submit(&a, &req, 7, &seq), 0);
  CU_ASSERT_EQUAL(seq, 1);
  uint8_t d[MC_DATAGRAM_MAX];
  size_t len;
  CU_ASSERT_EQUAL_FATAL(mc__wire_poll(&a, &id, NULL, 0, MC_DATAGRAM_MAX, d, sizeof d, &len),
                        MC__WIRE_RELIABLE);
  Mychat__Envelope *in = NULL;
  CU_ASSERT_EQUAL_FATAL(mc_codec_decode(d, len, &in), 0);
  CU_ASSERT_EQUAL(in->session_id, 42);
  CU_ASSERT_EQUAL(in->seq, 1);
  CU_ASSERT_EQUAL(in->body_case, MYCHAT__ENVELOPE__BODY_LOGOUT);
  int taken = 0;
  CU_ASSERT_EQUAL(mc__wire_take(&b, in, 1000, &taken), 0);
  CU_ASSERT_EQUAL_FATAL(taken, 1); /* |b| owns it now */
  Mychat__Envelope *got = mc_arq_pop(&b);
  CU_ASSERT_PTR_EQUAL(got, in);
  mc_codec_free(got);
  /* The peer owes an ack: an ack-only datagram, then nothing. */
  mc_tstamp t = mc_arq_expiry(&b);
  CU_ASSERT_EQUAL_FATAL(mc__wire_poll(&b, &id, NULL, t, MC_DATAGRAM_MAX, d, sizeof d, &len),
                        MC__WIRE_ACK);
  CU_ASSERT_EQUAL(mc__wire_poll(&b, &id, NULL, t, MC_DATAGRAM_MAX, d, sizeof d, &len),
                  MC__WIRE_NONE);
  CU_ASSERT_EQUAL_FATAL(mc_codec_decode(d, len, &in), 0);
  CU_ASSERT_EQUAL(mc__wire_take(&a, in, 2000, &taken), 0);
  CU_ASSERT_EQUAL(taken, 0);
  mc_codec_free(in);
  uint64_t tag = 0;
  CU_ASSERT_EQUAL(mc_arq_pop_acked(&a, &tag), 1);
  CU_ASSERT_EQUAL(tag, 7);
  CU_ASSERT_EQUAL(mc_arq_outstanding(&a), 0);
  mc_arq_free(&a);
  mc_arq_free(&b);
}

/* An unreliable datagram respects its size limit (MC-60). */
static void test_mc_wire_single_limit(void) {
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  Mychat__Error er = MYCHAT__ERROR__INIT;
  er.code = MYCHAT__ERROR_CODE__MALFORMED;
  er.text = (char *)"a text of some forty bytes, more or less";
  e.body_case = MYCHAT__ENVELOPE__BODY_ERROR, e.error = &er;
  uint8_t d[MC_DATAGRAM_MAX];
  size_t len;
  CU_ASSERT_EQUAL_FATAL(mc__wire_single(&e, 0, NULL, sizeof d, d, &len), 1);
  size_t full = len;
  CU_ASSERT_EQUAL(mc__wire_single(&e, 0, NULL, full, d, &len), 1);
  CU_ASSERT_EQUAL(mc__wire_single(&e, 0, NULL, full - 1, d, &len),
                  MC_ERR_TOO_BIG);
}

static CU_TestInfo tests[] = {
    {"reliable_roundtrip", test_mc_wire_reliable_roundtrip},
    {"single_limit", test_mc_wire_single_limit},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_wire_suite = {.pName = "wire", .pTests = tests};
