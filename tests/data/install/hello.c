/* Built by tests/integration/install.sh against an installed tree only
 * (pkg-config --cflags --libs mychat): the public headers and the library
 * must be enough to build a datagram, decode it and name errors. */
#include <stdio.h>
#include "mc_codec.h"
#include "mc_error.h"

int main(void) {
  uint8_t body[64], dgram[128];
  size_t blen = 0, dlen = 0;
  Mychat__Envelope hdr = MYCHAT__ENVELOPE__INIT;
  Mychat__Ping ping = MYCHAT__PING__INIT;
  hdr.body_case = MYCHAT__ENVELOPE__BODY_PING, hdr.ping = &ping;
  hdr.session_id = 42;
  int rc = mc_codec_encode_body(&hdr, body, sizeof body, &blen);
  if (rc == 0)
    rc = mc_codec_encode(&hdr, body, blen, dgram, sizeof dgram, &dlen);
  Mychat__Envelope *env = NULL;
  if (rc == 0)
    rc = mc_codec_decode(dgram, dlen, &env);
  printf("%zu bytes, decode: %s, body %s, session %llu\n", dlen,
         rc ? mc_strerror(rc) : "ok", env ? mc_codec_body_name(env->body_case) : "-",
         env ? (unsigned long long)env->session_id : 0ULL);
  mc_codec_free(env);
  return rc == 0 ? 0 : 1;
}
