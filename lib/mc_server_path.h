/*
 * mc_server_path.h: where a server session sends, and how much it may send
 * there before the address is known to be its client's (PROTOCOL.md 5.5,
 * MC-140 to MC-144; RFC 9000 sections 8 and 9 are the model).
 *
 * A source address is only a claim: a spoofed handshake, or a datagram of a
 * session replayed from someone else's address, would otherwise turn the
 * server into an amplifier aimed at that address. Until the address is
 * validated the server sends to it at most MC_PATH_FACTOR times the bytes
 * it received from it. The handshake's address is validated by the token
 * coming back from it (only that address was sent the Welcome); an address
 * the session moved to, by an ack from it of a seq first sent after the
 * move (only a client there can have seen that body).
 *
 * Internal to the server core; pure bookkeeping, no I/O.
 */
#ifndef MC_SERVER_PATH_H
#define MC_SERVER_PATH_H

#include <stddef.h>
#include <stdint.h>

#include "mc_server.h"

#define MC_PATH_FACTOR 3 /* bytes sent per byte received, unvalidated */

/* What mc__server_path_on_datagram learned from an authenticated datagram
 * that is not stale: it brings something the session has not seen. */
typedef struct {
  int took_body;         /* a reliable body with a new seq was taken */
  int acked_more;        /* its ack raised the cumulative ack */
  uint64_t ping_time;    /* a Ping's time_us, 0 when it is no Ping */
  uint64_t cum_acked;    /* the session's cumulative ack after it */
  uint64_t next_unsent;  /* the lowest seq the session never sent */
} mc_server_path_rx;

typedef struct {
  mc_addr addr;          /* where the session's datagrams go */
  uint8_t validated;     /* addr is its client's: no budget */
  uint8_t heard;         /* a datagram carrying the token arrived: pushes
                            may start (MC-141) (flags are bytes next to the
                            30-byte addresses: no padding in a struct every
                            session holds) */
  /* While not validated: bytes received from and sent to addr since it
   * became the path. Invariant: tx <= MC_PATH_FACTOR * rx. */
  uint64_t rx, tx;
  /* An ack from addr covering this seq validates addr after a move; 0 on
   * the handshake's address, which the token alone validates. */
  uint64_t probe;
  mc_addr last_valid;    /* the last address validated, if has_valid: a
                            session moving back there needs no new proof */
  uint8_t has_valid;
  uint64_t ping_high;    /* the highest Ping time_us taken: a Ping not above
                            it is an old one */
} mc_server_path;

/* Starts |p| on the handshake's address |a|, whose datagram of |rx_len|
 * bytes is the first budget. Returns nothing. */
void mc__server_path_init(mc_server_path *p, const mc_addr *a, size_t rx_len);

/* Returns how many bytes may go to p->addr now: SIZE_MAX once validated. */
size_t mc__server_path_room(const mc_server_path *p);

/* Counts |len| bytes sent to p->addr. Returns nothing. */
void mc__server_path_sent(mc_server_path *p, size_t len);

/* Counts |len| bytes received from |from| outside the session (a copy of
 * the handshake): they add to the budget only when |from| is p->addr.
 * Returns nothing. */
void mc__server_path_received(mc_server_path *p, const mc_addr *from,
                              size_t len);

/* Takes an authenticated datagram of |len| bytes from |from|, after its ack
 * and body were handed to the session's streams, with what that showed in
 * |rx|. From p->addr it adds to the budget and may validate the address;
 * from another address it moves the session there (MC-56) only when it is
 * fresh (the session's first, a new seq, a higher cumulative ack or a
 * newer Ping, MC-143), unvalidated unless it is the last validated address.
 * Returns 1 when the session moved, else 0. */
int mc__server_path_on_datagram(mc_server_path *p, const mc_addr *from,
                                size_t len, const mc_server_path_rx *rx);

/* Returns 1 when |a| and |b| are the same address, else 0. */
int mc__server_addr_eq(const mc_addr *a, const mc_addr *b);

#endif
