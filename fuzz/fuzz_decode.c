/*
 * fuzz_decode.c: libFuzzer target for mc_codec_decode().
 *
 * Any input must decode to a valid envelope or a defined error, without
 * crashing or leaking (ASan and UBSan watch). An envelope that decodes must
 * survive the way the ARQ layer re-sends it: encoding its body and header
 * again gives a datagram that decodes, and encoding that one gives the same
 * bytes (the encoding is canonical, so a second round changes nothing).
 */
#include <stdlib.h>
#include <string.h>

#include "mc_codec_pb.h"
#include "mc_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encodes |env| as body bytes behind its header into |dg|; aborts if that
 * fails, since a decoded envelope is never larger re-encoded. */
static size_t reencode(const Mychat__Envelope *env, uint8_t *dg) {
  uint8_t body[MC_DATAGRAM_MAX];
  size_t blen = 0, dlen = 0;
  if (env->body_case != MYCHAT__ENVELOPE__BODY__NOT_SET &&
      mc_codec_encode_body(env, body, sizeof body, &blen) != 0)
    abort();
  if (mc_codec_encode(env, body, blen, dg, MC_DATAGRAM_MAX, &dlen) != 0)
    abort();
  return dlen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Mychat__Envelope *env = NULL;
  int rc = mc_codec_decode(data, size, &env);
  if (rc != 0) {
    if (env != NULL || rc >= 0 || !strcmp(mc_errname(rc), "MC_ERR_UNKNOWN"))
      abort();
    return 0;
  }
  uint8_t dg1[MC_DATAGRAM_MAX], dg2[MC_DATAGRAM_MAX];
  size_t n1 = reencode(env, dg1);
  mc_codec_free(env);
  env = NULL;
  if (mc_codec_decode(dg1, n1, &env) != 0)
    abort();
  size_t n2 = reencode(env, dg2);
  mc_codec_free(env);
  if (n1 != n2 || memcmp(dg1, dg2, n1) != 0)
    abort();
  return 0;
}
