/*
 * mc_wire.h: internal helpers shared by the client and server sessions for
 * turning a session's reliability state into datagrams. Not public API.
 */
#ifndef MC_WIRE_H
#define MC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "mc_arq.h"
#include "mc_codec_pb.h"

/* The header every datagram of an established session carries. */
typedef struct {
  uint64_t session_id;
  uint8_t token[MC_TOKEN_LEN];
} mc__wire_id;

/* What mc__wire_poll put in the datagram it built. */
enum { MC__WIRE_NONE = 0, MC__WIRE_RELIABLE, MC__WIRE_UNREL, MC__WIRE_ACK };

/* Builds the next datagram of a session at |now| into |buf|: a reliable body
 * due (new or retransmitted) with the current ack piggybacked; else, if
 * |unrel| (an envelope with only an unreliable body set) is given, that body
 * with the ack; else an ack-only datagram when an ack is due. The datagram
 * is at most |limit| bytes (a budget, PROTOCOL.md 5.5; MC_DATAGRAM_MAX or
 * more: none): what does not fit waits, untaken. Returns
 * MC__WIRE_RELIABLE, MC__WIRE_UNREL or MC__WIRE_ACK with |*len| set,
 * MC__WIRE_NONE when there is nothing to send, MC_ERR_GAVE_UP from the
 * reliability layer, or a codec error. */
int mc__wire_poll(mc_arq *arq, const mc__wire_id *id,
                  const Mychat__Envelope *unrel, mc_tstamp now, size_t limit,
                  uint8_t *buf, size_t cap, size_t *len);

/* Builds an ack-only datagram now, whether or not an ack is due (the last
 * word of a session that is closing). Returns 1 or a codec error. */
int mc__wire_ack_only(mc_arq *arq, const mc__wire_id *id, mc_tstamp now,
                      uint8_t *buf, size_t cap, size_t *len);

/* Serializes the body of |env| and hands it to |arq| with |tag|; stores the
 * seq in |*seq| (may be NULL). Returns 0, or an mc_arq_submit / codec
 * error. */
int mc__wire_submit(mc_arq *arq, const Mychat__Envelope *env, uint64_t tag,
                    uint32_t *seq);

/* Builds an unreliable datagram (no seq, no ack) with header |session_id|
 * and |token| (NULL: none) carrying the body of |env|, at most |limit| bytes (the anti-amplification bound
 * for answers to unauthenticated datagrams, or MC_DATAGRAM_MAX). When the
 * body has a text field that makes it too long the caller shortens it;
 * this returns MC_ERR_TOO_BIG then. Returns 1 on success, or an error. */
int mc__wire_single(const Mychat__Envelope *env, uint64_t session_id,
                    const ProtobufCBinaryData *token, size_t limit,
                    uint8_t *buf, size_t *len);

/* Takes a decoded envelope |env| that arrived in a session: applies its ack
 * and, for a reliable body, hands it to the receive stream, which then owns
 * it (*taken set to 1). Returns 0, or MC_ERR_BAD_FIELD for an ack the
 * stream rejects (the ack alone is ignored; the body is still taken). */
int mc__wire_take(mc_arq *arq, Mychat__Envelope *env, mc_tstamp now,
                  int *taken);

#endif
