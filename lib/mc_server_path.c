/*
 * mc_server_path.c: the anti-amplification budget of a server session and
 * the validation of its address (PROTOCOL.md 5.5); see mc_server_path.h.
 */
#include "mc_server_path.h"

#include <string.h>

int mc__server_addr_eq(const mc_addr *a, const mc_addr *b) {
  return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

void mc__server_path_init(mc_server_path *p, const mc_addr *a, size_t rx_len) {
  memset(p, 0, sizeof *p);
  p->addr = *a;
  p->rx = rx_len;
}

size_t mc__server_path_room(const mc_server_path *p) {
  if (p->validated)
    return SIZE_MAX;
  uint64_t allowed = MC_PATH_FACTOR * p->rx;
  uint64_t room = allowed > p->tx ? allowed - p->tx : 0;
  return room > SIZE_MAX - 1 ? SIZE_MAX - 1 : (size_t)room;
}

void mc__server_path_sent(mc_server_path *p, size_t len) {
  if (!p->validated)
    p->tx += len;
}

void mc__server_path_received(mc_server_path *p, const mc_addr *from,
                              size_t len) {
  if (!p->validated && mc__server_addr_eq(from, &p->addr))
    p->rx += len;
}

static void validate(mc_server_path *p) {
  p->validated = 1;
  p->last_valid = p->addr;
  p->has_valid = 1;
}

int mc__server_path_on_datagram(mc_server_path *p, const mc_addr *from,
                                size_t len, const mc_server_path_rx *rx) {
  int newer_ping = rx->ping_time > p->ping_high;
  if (newer_ping)
    p->ping_high = rx->ping_time;
  int fresh = !p->heard || rx->took_body || rx->acked_more || newer_ping;
  p->heard = 1;
  if (mc__server_addr_eq(from, &p->addr)) {
    if (!p->validated) {
      p->rx += len;
      if (p->probe == 0 || rx->cum_acked >= p->probe)
        validate(p);
    }
    return 0;
  }
  /* A datagram that brings nothing new may be a copy replayed from
   * anywhere: it is served, but it does not redirect the session. */
  if (!fresh)
    return 0;
  p->addr = *from;
  p->rx = len;
  p->tx = 0;
  p->probe = rx->next_unsent;
  p->validated = 0;
  if (p->has_valid && mc__server_addr_eq(from, &p->last_valid))
    validate(p);
  return 1;
}
