/*
 * mc_server_fixture.h: what the server suites (tests/mc_server_test.c,
 * tests/mc_server_path_test.c) share: a server on a memory store with
 * predictable random bytes, and hand-built datagrams for it.
 */
#ifndef MC_SERVER_FIXTURE_H
#define MC_SERVER_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "mc_codec_pb.h"
#include "mc_memstore.h"
#include "mc_server.h"

typedef struct {
  mc_memstore *ms;
  mc_store st;
  mc_server *srv;
  uint8_t rnd;       /* the last "random" byte given out: they count up */
} mc_test_srv;

/* Starts |t|: a memory store and a server on it with the default settings
 * but the minimal password cost. Fails the test (fatally) when it cannot. */
void mc_test_srv_init(mc_test_srv *t);

/* Frees the server and the store of |t|. */
void mc_test_srv_free(mc_test_srv *t);

/* Encodes |e| (header and body) into |d| (MC_DATAGRAM_MAX bytes); returns
 * the length. */
size_t mc_test_encode(const Mychat__Envelope *e, uint8_t *d);

/* Builds a Register (|reg|) or Login of |name| with |pw| and |nonce| into
 * |d|, padded to MC_HANDSHAKE_MIN bytes unless |unpadded|; returns the
 * length. */
size_t mc_test_handshake(uint8_t *d, int reg, const char *name,
                         const char *pw, uint64_t nonce, int unpadded);

#endif
