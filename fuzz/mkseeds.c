/*
 * mkseeds.c: writes the seed corpus of fuzz_decode (fuzz/seeds/decode/), a
 * few small valid datagrams of different body kinds, so the fuzzer starts
 * from inputs that get past the parser. Run by `make -f fuzz/fuzz.mk seeds`.
 * Usage: mkseeds DIR
 */
#include <stdio.h>
#include <string.h>

#include "mc_codec_pb.h"
#include "mc_error.h"

/* Encodes |e| (with |seq| and an Ack) into DIR/|name|. Returns 0 or 1. */
static int seed(const char *dir, const char *name, Mychat__Envelope *e,
                uint32_t seq) {
  static uint8_t token[MC_TOKEN_LEN] = "0123456789abcdef";
  Mychat__AckRange range = MYCHAT__ACK_RANGE__INIT;
  range.first = 4, range.last = 6;
  Mychat__AckRange *ranges[] = {&range};
  Mychat__Ack ack = MYCHAT__ACK__INIT;
  ack.cumulative = 2, ack.n_ranges = 1, ack.ranges = ranges, ack.delay_us = 900;
  if (e->body_case != MYCHAT__ENVELOPE__BODY_REGISTER &&
      e->body_case != MYCHAT__ENVELOPE__BODY_LOGIN) {
    e->session_id = 0x0102030405060708ULL;
    e->token.len = MC_TOKEN_LEN, e->token.data = token;
    e->ack = &ack;
  }
  e->seq = seq;

  uint8_t body[MC_DATAGRAM_MAX], dg[MC_DATAGRAM_MAX];
  size_t blen = 0, dlen = 0;
  int rc = 0;
  if (e->body_case != MYCHAT__ENVELOPE__BODY__NOT_SET)
    rc = mc_codec_encode_body(e, body, sizeof body, &blen);
  if (!rc)
    rc = mc_codec_encode(e, body, blen, dg, sizeof dg, &dlen);
  Mychat__Envelope *check = NULL;
  if (!rc)
    rc = mc_codec_decode(dg, dlen, &check);
  mc_codec_free(check);
  if (rc) {
    fprintf(stderr, "mkseeds: %s: %s\n", name, mc_strerror(rc));
    return 1;
  }
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(dg, 1, dlen, f) != dlen || fclose(f) != 0) {
    perror(path);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: mkseeds DIR\n");
    return 2;
  }
  const char *dir = argv[1];
  int fails = 0;

  Mychat__Envelope ack_only = MYCHAT__ENVELOPE__INIT;
  fails += seed(dir, "ack_only", &ack_only, 0);

  Mychat__Handshake login = MYCHAT__HANDSHAKE__INIT;
  login.name = (char *)"alice", login.password = (char *)"secret";
  login.client_nonce = 42, login.presence = 1;
  Mychat__Envelope e1 = MYCHAT__ENVELOPE__INIT;
  e1.body_case = MYCHAT__ENVELOPE__BODY_LOGIN, e1.login = &login;
  fails += seed(dir, "login", &e1, 0);

  Mychat__SendMessage send = MYCHAT__SEND_MESSAGE__INIT;
  send.client_msg_id = 7, send.to_case = MYCHAT__SEND_MESSAGE__TO_GROUP;
  send.group = (char *)"MyChat", send.text = (char *)"h\xC3\xA9llo";
  Mychat__Envelope e2 = MYCHAT__ENVELOPE__INIT;
  e2.body_case = MYCHAT__ENVELOPE__BODY_SEND, e2.send = &send;
  fails += seed(dir, "send", &e2, 3);

  Mychat__ListEntry ann = MYCHAT__LIST_ENTRY__INIT,
                    bob = MYCHAT__LIST_ENTRY__INIT;
  ann.name = (char *)"ann", ann.online = 1, bob.name = (char *)"bob";
  Mychat__ListEntry *entries[] = {&ann, &bob};
  Mychat__ListReply list = MYCHAT__LIST_REPLY__INIT;
  list.request_seq = 3, list.kind = MYCHAT__LIST_KIND__LIST_USERS;
  list.n_entries = 2, list.entries = entries, list.more = 1;
  Mychat__Envelope e3 = MYCHAT__ENVELOPE__INIT;
  e3.body_case = MYCHAT__ENVELOPE__BODY_LIST_REPLY, e3.list_reply = &list;
  fails += seed(dir, "list_reply", &e3, 5);

  Mychat__Deliver deliver = MYCHAT__DELIVER__INIT;
  deliver.message_id = 99, deliver.from = (char *)"bob";
  deliver.text = (char *)"hi", deliver.server_time_ms = 1700000000000ULL;
  Mychat__Envelope e4 = MYCHAT__ENVELOPE__INIT;
  e4.body_case = MYCHAT__ENVELOPE__BODY_DELIVER, e4.deliver = &deliver;
  fails += seed(dir, "deliver", &e4, 6);

  Mychat__Error error = MYCHAT__ERROR__INIT;
  error.code = MYCHAT__ERROR_CODE__AUTH_FAILED, error.text = (char *)"no";
  Mychat__Envelope e5 = MYCHAT__ENVELOPE__INIT;
  e5.body_case = MYCHAT__ENVELOPE__BODY_ERROR, e5.error = &error;
  fails += seed(dir, "error", &e5, 0);
  return fails ? 1 : 0;
}
