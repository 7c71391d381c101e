/* Built by tests/integration/install.sh against an installed tree only
 * (pkg-config --cflags --libs mychat): the public headers, which need no
 * protobuf-c header, and the library must be enough to drive a client to
 * its first datagram, read that datagram's routing fields and name wire and
 * library errors. */
#include <stdio.h>
#include <string.h>

#include "mc_client.h"
#include "mc_codec.h"
#include "mc_error.h"

/* Not random, which is fine for a datagram nobody answers. */
static void fill(void *user_data, uint8_t *buf, size_t len) {
  (void)user_data;
  memset(buf, 0x5a, len);
}

int main(void) {
  mc_client_callbacks cb = {.random = fill};
  mc_client *c = mc_client_new(NULL, &cb);
  uint8_t dgram[MC_DATAGRAM_MAX];
  size_t len = 0;
  mc_peek pk = {0};
  int rc = c ? mc_client_connect(c, "alice", "secret-pw", 0, 1) : MC_ERR_NOMEM;
  if (rc == 0)
    rc = mc_client_poll_tx(c, 1, dgram, sizeof dgram, &len) == 1 ? 0 : MC_ERR_STATE;
  if (rc == 0)
    rc = mc_codec_peek(dgram, len, &pk);
  printf("login: %zu bytes, peek %s, body %s, nonce %s; %s; %s\n", len,
         rc ? mc_strerror(rc) : "ok", mc_codec_body_name(pk.body),
         pk.client_nonce ? "set" : "missing", mc_codec_code_name(MC_WIRE_AUTH_FAILED),
         mc_strerror(MC_ERR_NOMEM));
  mc_client_del(c);
  return rc == 0 && pk.body == MC_KIND_LOGIN ? 0 : 1;
}
