#include "mc_wire.h"

#include "mc_error.h"

static void header_init(Mychat__Envelope *hdr, const mc__wire_id *id) {
  mychat__envelope__init(hdr);
  hdr->session_id = id->session_id;
  hdr->token.data = (uint8_t *)id->token;
  hdr->token.len = MC_TOKEN_LEN;
}

/* Puts the current ack of |arq| into |hdr|, in caller storage. */
#define WIRE_ACK_STORAGE                                                      \
  Mychat__Ack ack = MYCHAT__ACK__INIT;                                        \
  Mychat__AckRange range_bufs[MC_ACK_RANGES_MAX];                             \
  Mychat__AckRange *ranges[MC_ACK_RANGES_MAX]

int mc__wire_ack_only(mc_arq *arq, const mc__wire_id *id, mc_tstamp now,
                      uint8_t *buf, size_t cap, size_t *len) {
  Mychat__Envelope hdr;
  WIRE_ACK_STORAGE;
  header_init(&hdr, id);
  mc_arq_fill_ack(arq, &ack, range_bufs, ranges, now);
  hdr.ack = &ack;
  int rv = mc_codec_encode(&hdr, NULL, 0, buf, cap, len);
  return rv < 0 ? rv : 1;
}

/* The most a seq adds to a header: its key and a 5-byte varint. */
#define WIRE_SEQ_MAX 6

int mc__wire_poll(mc_arq *arq, const mc__wire_id *id,
                  const Mychat__Envelope *unrel, mc_tstamp now, size_t limit,
                  uint8_t *buf, size_t cap, size_t *len) {
  Mychat__Envelope hdr;
  WIRE_ACK_STORAGE;
  uint8_t body[MC_DATAGRAM_MAX];
  const uint8_t *bp = NULL;
  size_t blen = 0;
  mc_arq_tx tx;
  int what = MC__WIRE_ACK;

  header_init(&hdr, id);
  int owed = mc_arq_ack_due(arq, now);
  /* Every datagram of a session carries the ack once the peer has sent
   * anything reliable: it costs a few bytes and saves ack-only datagrams.
   * An owed ack goes out even before anything was taken (the peer sent
   * only above the window): filling it is what pays the debt, so leaving
   * it out would make this function return the same datagram forever
   * (found by fuzz/fuzz_server.c). */
  int with_ack = owed || mc_arq_has_ack(arq);
  if (with_ack) {
    mc_arq_peek_ack(arq, &ack, range_bufs, ranges, now);
    hdr.ack = &ack;
  }
  /* Under a budget the header is sized first, so that nothing is taken
   * from the stream (or the owed ack cleared) for a datagram that would
   * not fit; the body may use what is left beside a seq. */
  size_t hlen = 0, body_max = SIZE_MAX;
  if (limit < MC_DATAGRAM_MAX) {
    if (mc_codec_encode(&hdr, NULL, 0, buf, limit < cap ? limit : cap,
                        &hlen) < 0)
      return MC__WIRE_NONE;
    body_max = limit - hlen > WIRE_SEQ_MAX ? limit - hlen - WIRE_SEQ_MAX : 0;
  }
  int rv = mc_arq_next_tx_within(arq, now, body_max, &tx);
  if (rv < 0)
    return rv;
  if (rv == 1) {
    hdr.seq = tx.seq;
    bp = tx.body;
    blen = tx.len;
    what = MC__WIRE_RELIABLE;
  } else if (unrel != NULL &&
             mc_codec_encode_body(unrel, body, sizeof body, &blen) == 0 &&
             (limit >= MC_DATAGRAM_MAX || hlen + blen <= limit)) {
    bp = body;
    what = MC__WIRE_UNREL;
  } else if (!owed) {
    return MC__WIRE_NONE;
  } else {
    blen = 0;
  }
  if (with_ack)
    mc_arq_fill_ack(arq, &ack, range_bufs, ranges, now);
  rv = mc_codec_encode(&hdr, bp, blen, buf, cap, len);
  return rv < 0 ? rv : what;
}

int mc__wire_submit(mc_arq *arq, const Mychat__Envelope *env, uint64_t tag,
                    uint32_t *seq) {
  uint8_t body[MC_DATAGRAM_MAX];
  size_t blen;
  int rv = mc_codec_encode_body(env, body, sizeof body, &blen);
  if (rv < 0)
    return rv;
  return mc_arq_submit(arq, body, blen, tag, seq);
}

int mc__wire_single(const Mychat__Envelope *env, uint64_t session_id,
                    const ProtobufCBinaryData *token, size_t limit,
                    uint8_t *buf, size_t *len) {
  Mychat__Envelope hdr = MYCHAT__ENVELOPE__INIT;
  uint8_t body[MC_DATAGRAM_MAX];
  size_t blen;
  hdr.session_id = session_id;
  if (token != NULL)
    hdr.token = *token;
  int rv = mc_codec_encode_body(env, body, sizeof body, &blen);
  if (rv < 0)
    return rv;
  if (limit > MC_DATAGRAM_MAX)
    limit = MC_DATAGRAM_MAX;
  rv = mc_codec_encode(&hdr, body, blen, buf, limit, len);
  return rv < 0 ? rv : 1;
}

int mc__wire_take(mc_arq *arq, Mychat__Envelope *env, mc_tstamp now,
                  int *taken) {
  *taken = 0;
  /* A bad ack is ignored as a whole, but the body beside it still counts
   * (MC-83). */
  int ack_rv = env->ack != NULL ? mc_arq_on_ack(arq, env->ack, now) : 0;
  if (env->seq > 0) {
    int rv = mc_arq_on_data(arq, env->seq, env, now);
    if (rv < 0)
      return rv;
    *taken = rv == 1;
  }
  return ack_rv;
}
