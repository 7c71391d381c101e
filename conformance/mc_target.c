/*
 * mc_target.c: the server under test (see mc_target.h).
 */
#include "mc_target.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mc_codec.h"
#include "mc_error.h"
#include "mc_rng.h"
#include "mc_udp.h"

int mc_target_probe(const struct sockaddr *sa, socklen_t salen,
                    int timeout_ms, char *err, size_t errlen) {
  char where[MC_UDP_ADDRSTRLEN];
  mc_udp_format(sa, salen, where, sizeof where);
  int fd = mc_udp_connect(sa, salen, err, errlen);
  if (fd < 0)
    return -1;
  mc_rng rng;
  mc_rng_seed(&rng, mc_udp_now_us() ^ ((uint64_t)getpid() << 32));
  uint8_t tok[MC_TOKEN_LEN];
  mc_rng_bytes(&rng, tok, sizeof tok);
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Ping ping = MYCHAT__PING__INIT;
  env.session_id = mc_rng_next(&rng) | 1;
  env.token.data = tok;
  env.token.len = sizeof tok;
  /* A 10-byte time_us makes room for the Error: MC-60 allows no answer
   * larger than the datagram. */
  ping.time_us = 0xFFFF000000000000ULL | mc_rng_next(&rng);
  env.body_case = MYCHAT__ENVELOPE__BODY_PING;
  env.ping = &ping;
  uint8_t b[64], d[MC_DATAGRAM_MAX];
  size_t bl, dl;
  if (mc_codec_encode_body(&env, b, sizeof b, &bl) < 0 ||
      mc_codec_encode(&env, b, bl, d, sizeof d, &dl) < 0) {
    snprintf(err, errlen, "cannot encode the probe");
    close(fd);
    return -1;
  }
  uint64_t start = mc_udp_now_us(), deadline = start + (uint64_t)timeout_ms * 1000,
           next = start;
  int refused = 0, rv = -1;
  while (mc_udp_now_us() < deadline) {
    if (mc_udp_now_us() >= next) {
      if (send(fd, d, dl, 0) < 0 && errno == ECONNREFUSED)
        refused = 1;
      next += 250000;
    }
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    poll(&pf, 1, 50);
    uint8_t in[65536];
    ssize_t n = recv(fd, in, sizeof in, MSG_DONTWAIT);
    if (n < 0) {
      refused |= errno == ECONNREFUSED;
      continue;
    }
    Mychat__Envelope *a;
    int drv = mc_codec_decode(in, (size_t)n, &a);
    if (drv < 0) {
      snprintf(err, errlen, "%s answered the probe (a Ping of an unknown "
               "session) with %zd bytes that do not decode (%s)", where, n,
               mc_errname(drv));
      rv = 1;
    } else if (a->body_case != MYCHAT__ENVELOPE__BODY_ERROR ||
               a->error->code != MYCHAT__ERROR_CODE__UNKNOWN_SESSION) {
      snprintf(err, errlen, "%s answered the probe (a Ping of an unknown "
               "session) with %s, not Error UNKNOWN_SESSION (MC-58)", where,
               mc_codec_body_name(a->body_case));
      rv = 1;
    } else {
      rv = 0;
    }
    mc_codec_free(a);
    break;
  }
  if (rv < 0)
    snprintf(err, errlen, "%s: no answer to the probe (a Ping of an unknown "
             "session, which must get Error UNKNOWN_SESSION) within %d ms%s",
             where, timeout_ms,
             refused ? ": the port refused it, nothing listens there" : "");
  close(fd);
  return rv;
}
