/* mc_server_fixture.c: see mc_server_fixture.h. */
#include "mc_server_fixture.h"

#include <CUnit/CUnit.h>
#include <string.h>

static void counting_random(void *ud, uint8_t *buf, size_t len) {
  mc_test_srv *t = ud;
  for (size_t i = 0; i < len; i++)
    buf[i] = ++t->rnd;
}

void mc_test_srv_init(mc_test_srv *t) {
  memset(t, 0, sizeof *t);
  t->ms = mc_memstore_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(t->ms);
  mc_memstore_as_store(t->ms, &t->st);
  mc_server_config cfg;
  mc_server_config_default(&cfg);
  cfg.auth_cost = MC_AUTH_COST_MIN;
  mc_server_callbacks cb = {.user_data = t, .random = counting_random};
  t->srv = mc_server_new(&cfg, &t->st, &cb);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t->srv);
}

void mc_test_srv_free(mc_test_srv *t) {
  mc_server_del(t->srv);
  mc_memstore_del(t->ms);
}

size_t mc_test_encode(const Mychat__Envelope *e, uint8_t *d) {
  uint8_t body[MC_DATAGRAM_MAX];
  size_t blen, len;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode_body(e, body, sizeof body, &blen), 0);
  CU_ASSERT_EQUAL_FATAL(
      mc_codec_encode(e, body, blen, d, MC_DATAGRAM_MAX, &len), 0);
  return len;
}

size_t mc_test_handshake(uint8_t *d, int reg, const char *name,
                         const char *pw, uint64_t nonce, int unpadded) {
  Mychat__Handshake hs = MYCHAT__HANDSHAKE__INIT;
  hs.name = (char *)name;
  hs.password = (char *)pw;
  hs.client_nonce = nonce;
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  e.body_case = reg ? MYCHAT__ENVELOPE__BODY_REGISTER
                    : MYCHAT__ENVELOPE__BODY_LOGIN;
  e.register_ = &hs; /* the union member of either case */
  if (!unpadded)
    CU_ASSERT_EQUAL_FATAL(mc_codec_pad_handshake(&e), 0);
  return mc_test_encode(&e, d);
}
