/*
 * libFuzzer target: the server session's datagram handler.
 *
 * Each input is a sequence of datagrams, each as a 2-byte big-endian length,
 * a 1-byte time step (milliseconds) and the bytes. Before they are fed in,
 * a real client ("alice") registers and logs in over an in-memory link, so
 * the server has an established session. Randomness is a PRNG reseeded per
 * input, so alice's session id and token are the same on every run: seed
 * inputs (written by MC_FUZZ_SEEDS=DIR, see LLVMFuzzerInitialize) carry them
 * and the fuzzer mutates real in-session requests, acks and handshakes.
 *
 * Checked besides memory safety (ASan/UBSan): every answer fits in one
 * datagram and decodes, and answers to datagrams outside a session are never
 * larger than what caused them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_client.h"
#include "mc_codec_pb.h"
#include "mc_memstore.h"
#include "mc_rng.h"
#include "mc_server.h"

static mc_rng rng;

static void fuzz_random(void *ud, uint8_t *buf, size_t len) {
  (void)ud;
  mc_rng_bytes(&rng, buf, len);
}

typedef struct {
  mc_memstore *ms;
  mc_store store;
  mc_server *srv;
  mc_client *alice;
  mc_addr alice_addr, fuzz_addr;
  mc_tstamp now;
} rig;

/* Drains the server's output, checking each datagram; returns the size of
 * the largest one sent to |watch| (NULL: none watched). Datagrams to alice
 * go to her client, which keeps her session acknowledged. */
static size_t drain(rig *r, const mc_addr *watch) {
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len, largest = 0;
  mc_addr to;
  mc_auth_job job;
  while (mc_server_poll_auth(r->srv, &job)) {
    mc_auth_job_run(&job);
    mc_server_auth_done(r->srv, &job, r->now);
  }
  while (mc_server_poll_tx(r->srv, r->now, &to, buf, sizeof buf, &len) == 1) {
    Mychat__Envelope *env;
    if (len > MC_DATAGRAM_MAX || mc_codec_decode(buf, len, &env) != 0)
      abort(); /* the server must only send valid datagrams */
    mc_codec_free(env);
    if (to.len == r->alice_addr.len &&
        memcmp(to.bytes, r->alice_addr.bytes, to.len) == 0)
      mc_client_recv(r->alice, buf, len, r->now);
    if (watch && to.len == watch->len &&
        memcmp(to.bytes, watch->bytes, to.len) == 0 && len > largest)
      largest = len;
  }
  while (mc_client_poll_tx(r->alice, r->now, buf, sizeof buf, &len) == 1)
    mc_server_recv(r->srv, &r->alice_addr, buf, len, r->now);
  return largest;
}

static int rig_up(rig *r) {
  memset(r, 0, sizeof *r);
  mc_rng_seed(&rng, 1);
  r->now = 1000 * MC_SEC;
  r->ms = mc_memstore_new();
  if (r->ms == NULL)
    return -1;
  mc_memstore_as_store(r->ms, &r->store);
  mc_server_config cfg;
  mc_server_config_default(&cfg);
  cfg.auth_cost = MC_AUTH_COST_MIN;
  cfg.max_sessions = 8;
  mc_server_callbacks scb = {.random = fuzz_random};
  mc_client_callbacks ccb = {.random = fuzz_random};
  r->srv = mc_server_new(&cfg, &r->store, &scb);
  r->alice = mc_client_new(NULL, &ccb);
  if (r->srv == NULL || r->alice == NULL)
    return -1;
  uint8_t a[6] = {127, 0, 0, 1, 0x1f, 0x40}, f[6] = {127, 0, 0, 2, 0, 1};
  mc_addr_set(&r->alice_addr, a, sizeof a);
  mc_addr_set(&r->fuzz_addr, f, sizeof f);
  if (mc_client_connect(r->alice, "alice", "alice-pw", 1, r->now) != 0)
    return -1;
  for (int i = 0; i < 4 && mc_client_get_state(r->alice) !=
                               MC_CLIENT_ESTABLISHED; i++)
    drain(r, NULL);
  return mc_client_get_state(r->alice) == MC_CLIENT_ESTABLISHED ? 0 : -1;
}

static void rig_down(rig *r) {
  mc_client_del(r->alice);
  mc_server_del(r->srv);
  mc_memstore_del(r->ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rig r;
  if (rig_up(&r) != 0)
    abort();
  int authenticated = 0; /* some datagram of this input was taken */
  while (size >= 3) {
    size_t len = (size_t)data[0] << 8 | data[1];
    r.now += (mc_tstamp)data[2] * MC_MSEC;
    data += 3;
    size -= 3;
    if (len > size)
      len = size;
    mc_server_handle_expiry(r.srv, r.now);
    int rv = mc_server_recv(r.srv, &r.fuzz_addr, data, len, r.now);
    size_t answer = drain(&r, &r.fuzz_addr);
    /* Until a datagram of the input is taken (a handshake, or one in
     * alice's session, which then follows the fuzz address), everything
     * sent to the fuzz address answers refused datagrams: it must respect
     * the anti-amplification bound. */
    authenticated |= rv == 0;
    if (!authenticated && answer > len)
      abort();
    data += len;
    size -= len;
  }
  rig_down(&r);
  return 0;
}

/* ---- seed corpus ---- */

static void put_seed(const char *dir, const char *name, const uint8_t *d,
                     size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL)
    return;
  uint8_t hdr[3] = {(uint8_t)(n >> 8), (uint8_t)n, 10};
  fwrite(hdr, 1, 3, f);
  fwrite(d, 1, n, f);
  fclose(f);
}

/* Writes one seed per kind of request alice can make, in her session. */
static void write_seeds(const char *dir) {
  rig r;
  if (rig_up(&r) != 0)
    return;
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len;
  mc_client_group(r.alice, MC_KIND_JOIN_GROUP, "MyChat", r.now, NULL);
  mc_client_send_text(r.alice, NULL, "MyChat", "hello", r.now, NULL, NULL);
  mc_client_send_text(r.alice, "alice", NULL, "note to self", r.now, NULL,
                      NULL);
  mc_client_list(r.alice, MC_LIST_USERS, "", r.now, NULL);
  mc_client_group(r.alice, MC_KIND_CREATE_GROUP, "team", r.now, NULL);
  mc_client_logout(r.alice, r.now);
  char name[32];
  for (int i = 0; mc_client_poll_tx(r.alice, r.now, buf, sizeof buf, &len);
       i++) {
    snprintf(name, sizeof name, "session-%d", i);
    put_seed(dir, name, buf, len);
  }
  mc_client *bob = mc_client_new(NULL, &(mc_client_callbacks){
                                           .random = fuzz_random});
  if (bob && mc_client_connect(bob, "bob", "bob-pw", 1, r.now) == 0 &&
      mc_client_poll_tx(bob, r.now, buf, sizeof buf, &len))
    put_seed(dir, "register", buf, len);
  mc_client_del(bob);
  rig_down(&r);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *dir = getenv("MC_FUZZ_SEEDS");
  if (dir != NULL)
    write_seeds(dir);
  return 0;
}
