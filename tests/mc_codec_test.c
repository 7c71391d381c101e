#include <string.h>

#include "mc_codec_pb.h"
#include "mc_error.h"
#include "mc_rng.h"
#include "mc_tests.h"

/* protobuf-c declares string fields char *; the tests only read them. */
#define S(lit) ((char *)(lit))

static uint8_t token16[MC_TOKEN_LEN] = {1, 2,  3,  4,  5,  6,  7,  8,
                                        9, 10, 11, 12, 13, 14, 15, 16};

/* Encodes |e| the way the ARQ layer does (body bytes, then header + body)
 * into |dg|. Returns the datagram length, or 0 after a failed assertion. */
static size_t encode_dgram(const Mychat__Envelope *e, uint8_t *dg, size_t cap) {
  uint8_t body[MC_DATAGRAM_MAX];
  size_t blen = 0, dlen = 0;
  if (e->body_case != MYCHAT__ENVELOPE__BODY__NOT_SET)
    CU_ASSERT_EQUAL_FATAL(mc_codec_encode_body(e, body, sizeof body, &blen), 0);
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode(e, body, blen, dg, cap, &dlen), 0);
  return dlen;
}

/* Encodes |e| and returns what decoding the datagram says. */
static int enc_dec(const Mychat__Envelope *e) {
  uint8_t dg[MC_DATAGRAM_MAX];
  size_t n = encode_dgram(e, dg, sizeof dg);
  Mychat__Envelope *out = (Mychat__Envelope *)1;
  int rc = mc_codec_decode(dg, n, &out);
  CU_ASSERT((rc == 0) == (out != NULL));
  mc_codec_free(out);
  return rc;
}

/* Decodes the bytes of string literal |lit| (which may hold NULs). */
#define DEC_LIT(lit) dec_bytes((const uint8_t *)(lit), sizeof(lit) - 1)

static int dec_bytes(const uint8_t *dg, size_t n) {
  Mychat__Envelope *out = NULL;
  int rc = mc_codec_decode(dg, n, &out);
  CU_ASSERT((rc == 0) == (out != NULL));
  mc_codec_free(out);
  return rc;
}

/* An envelope carrying |body| in case |c|, with the seq its class needs. */
static Mychat__Envelope with_body(Mychat__Envelope__BodyCase c, void *body) {
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  mc_body_class k = mc_codec_body_class(c);
  e.body_case = c;
  e.ping = body; /* every member of the body union is a message pointer */
  e.seq = (k == MC_BODY_REQUEST || k == MC_BODY_PUSH) ? 42 : 0;
  return e;
}

/*
 * Puts |body| (case |c|) in an envelope with a full header (session, token,
 * an Ack with two ranges), encodes and decodes it, checks the header came back
 * and that the body re-encodes to the same bytes. Returns the decoded envelope
 * for field checks; the caller frees it.
 */
static Mychat__Envelope *roundtrip(Mychat__Envelope__BodyCase c, void *body) {
  Mychat__Envelope env = with_body(c, body), *e = &env;
  Mychat__AckRange r1 = MYCHAT__ACK_RANGE__INIT, r2 = MYCHAT__ACK_RANGE__INIT;
  r1.first = 7, r1.last = 9, r2.first = 12, r2.last = 12;
  Mychat__AckRange *ranges[] = {&r1, &r2};
  Mychat__Ack ack = MYCHAT__ACK__INIT;
  ack.cumulative = 5, ack.n_ranges = 2, ack.ranges = ranges,
  ack.delay_us = 1500;
  e->session_id = 0x1122334455667788ULL;
  e->token.len = MC_TOKEN_LEN, e->token.data = token16;
  e->ack = &ack;

  uint8_t dg[MC_DATAGRAM_MAX];
  size_t n = encode_dgram(e, dg, sizeof dg);
  Mychat__Envelope *d = NULL;
  CU_ASSERT_EQUAL_FATAL(mc_codec_decode(dg, n, &d), 0);
  CU_ASSERT_FATAL(d != NULL);
  CU_ASSERT_EQUAL(d->session_id, e->session_id);
  CU_ASSERT_EQUAL(d->seq, e->seq);
  CU_ASSERT_EQUAL_FATAL(d->token.len, MC_TOKEN_LEN);
  CU_ASSERT(memcmp(d->token.data, token16, MC_TOKEN_LEN) == 0);
  CU_ASSERT_FATAL(d->ack != NULL && d->ack->n_ranges == 2);
  CU_ASSERT_EQUAL(d->ack->cumulative, 5);
  CU_ASSERT_EQUAL(d->ack->delay_us, 1500);
  CU_ASSERT(d->ack->ranges[0]->first == 7 && d->ack->ranges[0]->last == 9);
  CU_ASSERT(d->ack->ranges[1]->first == 12 && d->ack->ranges[1]->last == 12);
  CU_ASSERT_EQUAL_FATAL(d->body_case, e->body_case);

  uint8_t b1[MC_DATAGRAM_MAX], b2[MC_DATAGRAM_MAX];
  size_t l1 = 0, l2 = 0;
  CU_ASSERT_EQUAL(mc_codec_encode_body(e, b1, sizeof b1, &l1), 0);
  CU_ASSERT_EQUAL(mc_codec_encode_body(d, b2, sizeof b2, &l2), 0);
  CU_ASSERT(l1 == l2 && memcmp(b1, b2, l1) == 0);
  return d;
}

static void test_mc_codec_roundtrip_handshake(void) {
  uint8_t pad[200];
  memset(pad, 0, sizeof pad);
  Mychat__Handshake reg = MYCHAT__HANDSHAKE__INIT;
  reg.name = S("alice"), reg.password = S("secret"), reg.presence = 1;
  reg.client_nonce = 0xDEADBEEFCAFEULL;
  reg.padding.len = sizeof pad, reg.padding.data = pad;
  Mychat__Envelope *d = roundtrip(MYCHAT__ENVELOPE__BODY_REGISTER, &reg);
  CU_ASSERT_STRING_EQUAL(d->register_->name, "alice");
  CU_ASSERT_STRING_EQUAL(d->register_->password, "secret");
  CU_ASSERT_EQUAL(d->register_->client_nonce, 0xDEADBEEFCAFEULL);
  CU_ASSERT_EQUAL(d->register_->presence, 1);
  CU_ASSERT_EQUAL(d->register_->padding.len, sizeof pad);
  mc_codec_free(d);

  Mychat__Handshake login = MYCHAT__HANDSHAKE__INIT;
  login.name = S("bob.b"), login.password = S("hunter22");
  login.client_nonce = 77;
  d = roundtrip(MYCHAT__ENVELOPE__BODY_LOGIN, &login);
  CU_ASSERT_STRING_EQUAL(d->login->name, "bob.b");
  CU_ASSERT_STRING_EQUAL(d->login->password, "hunter22");
  CU_ASSERT_EQUAL(d->login->client_nonce, 77);
  CU_ASSERT_EQUAL(d->login->presence, 0);
  mc_codec_free(d);
}

static void test_mc_codec_roundtrip_requests(void) {
  Mychat__Logout lo = MYCHAT__LOGOUT__INIT;
  mc_codec_free(roundtrip(MYCHAT__ENVELOPE__BODY_LOGOUT, &lo));

  Mychat__ListRequest lr = MYCHAT__LIST_REQUEST__INIT;
  lr.kind = MYCHAT__LIST_KIND__LIST_USERS, lr.after = S("carol");
  Mychat__Envelope *d = roundtrip(MYCHAT__ENVELOPE__BODY_LIST, &lr);
  CU_ASSERT_EQUAL(d->list->kind, MYCHAT__LIST_KIND__LIST_USERS);
  CU_ASSERT_STRING_EQUAL(d->list->after, "carol");
  mc_codec_free(d);

  Mychat__SendMessage sm = MYCHAT__SEND_MESSAGE__INIT;
  sm.client_msg_id = 9, sm.to_case = MYCHAT__SEND_MESSAGE__TO_USER;
  sm.user = S("dave"), sm.text = S("h\xC3\xA9llo \xF0\x9F\x98\x80");
  d = roundtrip(MYCHAT__ENVELOPE__BODY_SEND, &sm);
  CU_ASSERT_EQUAL(d->send->client_msg_id, 9);
  CU_ASSERT_EQUAL(d->send->to_case, MYCHAT__SEND_MESSAGE__TO_USER);
  CU_ASSERT_STRING_EQUAL(d->send->user, "dave");
  CU_ASSERT_STRING_EQUAL(d->send->text, "h\xC3\xA9llo \xF0\x9F\x98\x80");
  mc_codec_free(d);

  sm.to_case = MYCHAT__SEND_MESSAGE__TO_GROUP, sm.group = S("MyChat");
  d = roundtrip(MYCHAT__ENVELOPE__BODY_SEND, &sm);
  CU_ASSERT_EQUAL(d->send->to_case, MYCHAT__SEND_MESSAGE__TO_GROUP);
  CU_ASSERT_STRING_EQUAL(d->send->group, "MyChat");
  mc_codec_free(d);
}

static void test_mc_codec_roundtrip_server(void) {
  Mychat__Welcome w = MYCHAT__WELCOME__INIT;
  w.session_id = 99, w.token.len = MC_TOKEN_LEN, w.token.data = token16;
  w.client_nonce = 5, w.name = S("alice"), w.server_time_ms = 1700000000000;
  w.keepalive_ms = 10000, w.session_timeout_ms = 30000;
  Mychat__Envelope *d = roundtrip(MYCHAT__ENVELOPE__BODY_WELCOME, &w);
  CU_ASSERT_EQUAL(d->welcome->session_id, 99);
  CU_ASSERT(d->welcome->token.len == MC_TOKEN_LEN &&
            memcmp(d->welcome->token.data, token16, MC_TOKEN_LEN) == 0);
  CU_ASSERT_EQUAL(d->welcome->client_nonce, 5);
  CU_ASSERT_STRING_EQUAL(d->welcome->name, "alice");
  CU_ASSERT_EQUAL(d->welcome->server_time_ms, 1700000000000);
  CU_ASSERT_EQUAL(d->welcome->keepalive_ms, 10000);
  CU_ASSERT_EQUAL(d->welcome->session_timeout_ms, 30000);
  mc_codec_free(d);

  Mychat__Result res = MYCHAT__RESULT__INIT;
  res.request_seq = 3, res.code = MYCHAT__ERROR_CODE__NOT_MEMBER;
  res.text = S("not a member");
  d = roundtrip(MYCHAT__ENVELOPE__BODY_RESULT, &res);
  CU_ASSERT_EQUAL(d->result->request_seq, 3);
  CU_ASSERT_EQUAL(d->result->code, MYCHAT__ERROR_CODE__NOT_MEMBER);
  CU_ASSERT_STRING_EQUAL(d->result->text, "not a member");
  mc_codec_free(d);

  Mychat__ListEntry le1 = MYCHAT__LIST_ENTRY__INIT,
                    le2 = MYCHAT__LIST_ENTRY__INIT;
  le1.name = S("ann"), le1.online = 1, le2.name = S("zed");
  Mychat__ListEntry *entries[] = {&le1, &le2};
  Mychat__ListReply lr = MYCHAT__LIST_REPLY__INIT;
  lr.request_seq = 4, lr.kind = MYCHAT__LIST_KIND__LIST_USERS;
  lr.n_entries = 2, lr.entries = entries, lr.more = 1;
  d = roundtrip(MYCHAT__ENVELOPE__BODY_LIST_REPLY, &lr);
  CU_ASSERT_EQUAL(d->list_reply->request_seq, 4);
  CU_ASSERT_EQUAL(d->list_reply->kind, MYCHAT__LIST_KIND__LIST_USERS);
  CU_ASSERT_EQUAL_FATAL(d->list_reply->n_entries, 2);
  CU_ASSERT_STRING_EQUAL(d->list_reply->entries[0]->name, "ann");
  CU_ASSERT_EQUAL(d->list_reply->entries[0]->online, 1);
  CU_ASSERT_STRING_EQUAL(d->list_reply->entries[1]->name, "zed");
  CU_ASSERT_EQUAL(d->list_reply->entries[1]->online, 0);
  CU_ASSERT_EQUAL(d->list_reply->more, 1);
  mc_codec_free(d);

  Mychat__Sent sent = MYCHAT__SENT__INIT;
  sent.request_seq = 8, sent.client_msg_id = 9, sent.message_id = 1000;
  sent.server_time_ms = 55;
  d = roundtrip(MYCHAT__ENVELOPE__BODY_SENT, &sent);
  CU_ASSERT(d->sent->request_seq == 8 && d->sent->client_msg_id == 9 &&
            d->sent->message_id == 1000 && d->sent->server_time_ms == 55);
  mc_codec_free(d);

  Mychat__Deliver dl = MYCHAT__DELIVER__INIT;
  dl.message_id = 1001, dl.from = S("bob"), dl.group = S("MyChat");
  dl.text = S("hi all"), dl.server_time_ms = 66, dl.missed = 1;
  d = roundtrip(MYCHAT__ENVELOPE__BODY_DELIVER, &dl);
  CU_ASSERT_EQUAL(d->deliver->message_id, 1001);
  CU_ASSERT_STRING_EQUAL(d->deliver->from, "bob");
  CU_ASSERT_STRING_EQUAL(d->deliver->group, "MyChat");
  CU_ASSERT_STRING_EQUAL(d->deliver->text, "hi all");
  CU_ASSERT(d->deliver->server_time_ms == 66 && d->deliver->missed == 1);
  mc_codec_free(d);

  dl.group = S(""); /* a direct message */
  d = roundtrip(MYCHAT__ENVELOPE__BODY_DELIVER, &dl);
  CU_ASSERT_STRING_EQUAL(d->deliver->group, "");
  mc_codec_free(d);

  Mychat__Receipt rc = MYCHAT__RECEIPT__INIT;
  rc.message_id = 1001, rc.to = S("carol"), rc.delivered_time_ms = 77;
  d = roundtrip(MYCHAT__ENVELOPE__BODY_RECEIPT, &rc);
  CU_ASSERT(d->receipt->message_id == 1001 &&
            d->receipt->delivered_time_ms == 77);
  CU_ASSERT_STRING_EQUAL(d->receipt->to, "carol");
  mc_codec_free(d);

  Mychat__Presence pr = MYCHAT__PRESENCE__INIT;
  pr.name = S("erin"), pr.online = 1;
  d = roundtrip(MYCHAT__ENVELOPE__BODY_PRESENCE, &pr);
  CU_ASSERT_STRING_EQUAL(d->presence->name, "erin");
  CU_ASSERT_EQUAL(d->presence->online, 1);
  mc_codec_free(d);

  Mychat__Error er = MYCHAT__ERROR__INIT;
  er.code = MYCHAT__ERROR_CODE__AUTH_FAILED, er.text = S("no");
  er.client_nonce = 4;
  d = roundtrip(MYCHAT__ENVELOPE__BODY_ERROR, &er);
  CU_ASSERT_EQUAL(d->error->code, MYCHAT__ERROR_CODE__AUTH_FAILED);
  CU_ASSERT_STRING_EQUAL(d->error->text, "no");
  CU_ASSERT_EQUAL(d->error->client_nonce, 4);
  mc_codec_free(d);
}

/* The bodies with a single field. roundtrip() checks that the decoded body
 * re-encodes to the bytes that were sent, so the field came back unchanged;
 * JoinGroup's name is also read back directly. */
static void test_mc_codec_roundtrip_one_field(void) {
  Mychat__CreateGroup cg = MYCHAT__CREATE_GROUP__INIT;
  Mychat__JoinGroup jg = MYCHAT__JOIN_GROUP__INIT;
  Mychat__LeaveGroup lg = MYCHAT__LEAVE_GROUP__INIT;
  Mychat__Ping ping = MYCHAT__PING__INIT;
  Mychat__Pong pong = MYCHAT__PONG__INIT;
  Mychat__BacklogDone bd = MYCHAT__BACKLOG_DONE__INIT;
  cg.name = S("g-1"), jg.name = S("MyChat"), lg.name = S("x_y");
  ping.time_us = 123456789, pong.time_us = UINT64_MAX, bd.count = 12;
  const struct {
    Mychat__Envelope__BodyCase c;
    void *body;
  } bodies[] = {
      {MYCHAT__ENVELOPE__BODY_CREATE_GROUP, &cg},
      {MYCHAT__ENVELOPE__BODY_JOIN_GROUP, &jg},
      {MYCHAT__ENVELOPE__BODY_LEAVE_GROUP, &lg},
      {MYCHAT__ENVELOPE__BODY_PING, &ping},
      {MYCHAT__ENVELOPE__BODY_PONG, &pong},
      {MYCHAT__ENVELOPE__BODY_BACKLOG_DONE, &bd},
  };
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
    mc_codec_free(roundtrip(bodies[i].c, bodies[i].body));
  Mychat__Envelope *d = roundtrip(MYCHAT__ENVELOPE__BODY_JOIN_GROUP, &jg);
  CU_ASSERT_STRING_EQUAL(d->join_group->name, "MyChat");
  mc_codec_free(d);
}

/* The datagram is prefix + packed header + body bytes, and it decodes to the
 * same envelope as packing the whole envelope at once would give. */
static void test_mc_codec_concatenation(void) {
  Mychat__CreateGroup cg = MYCHAT__CREATE_GROUP__INIT;
  cg.name = S("team");
  Mychat__Envelope full = with_body(MYCHAT__ENVELOPE__BODY_CREATE_GROUP, &cg);
  full.session_id = 7, full.token.len = MC_TOKEN_LEN, full.token.data = token16;

  uint8_t body[64], dg[MC_DATAGRAM_MAX], whole[MC_DATAGRAM_MAX];
  size_t blen = 0, dlen = 0;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode_body(&full, body, sizeof body, &blen),
                        0);
  CU_ASSERT_EQUAL_FATAL(
      mc_codec_encode(&full, body, blen, dg, sizeof dg, &dlen), 0);
  size_t wlen = mychat__envelope__pack(&full, whole);
  CU_ASSERT_EQUAL(dlen, MC_PREFIX_LEN + wlen);
  CU_ASSERT(memcmp(dg, "MYC\x01", MC_PREFIX_LEN) == 0);
  CU_ASSERT(memcmp(dg + MC_PREFIX_LEN, whole, wlen) == 0);
  CU_ASSERT(memcmp(dg + dlen - blen, body, blen) == 0);

  /* A retransmission: same body bytes behind a new header. */
  full.seq = 43, full.session_id = 8;
  CU_ASSERT_EQUAL_FATAL(
      mc_codec_encode(&full, body, blen, dg, sizeof dg, &dlen), 0);
  Mychat__Envelope *d = NULL;
  CU_ASSERT_EQUAL_FATAL(mc_codec_decode(dg, dlen, &d), 0);
  CU_ASSERT(d->seq == 43 && d->session_id == 8);
  CU_ASSERT_STRING_EQUAL(d->create_group->name, "team");
  mc_codec_free(d);
}

static void test_mc_codec_ack_only(void) {
  Mychat__Ack ack = MYCHAT__ACK__INIT;
  ack.cumulative = 10;
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  e.session_id = 1, e.token.len = MC_TOKEN_LEN, e.token.data = token16;
  e.ack = &ack;
  uint8_t dg[MC_DATAGRAM_MAX];
  size_t n = encode_dgram(&e, dg, sizeof dg);
  Mychat__Envelope *d = NULL;
  CU_ASSERT_EQUAL_FATAL(mc_codec_decode(dg, n, &d), 0);
  CU_ASSERT_EQUAL(d->body_case, MYCHAT__ENVELOPE__BODY__NOT_SET);
  CU_ASSERT(d->ack != NULL && d->ack->cumulative == 10);
  mc_codec_free(d);
  /* Just the prefix is an empty envelope: valid. */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01"), 0);
}

static void test_mc_codec_prefix_errors(void) {
  uint8_t dg[MC_DATAGRAM_MAX + 1];
  memset(dg, 0, sizeof dg);
  memcpy(dg, "MYC\x01", 4);
  CU_ASSERT_EQUAL(dec_bytes(dg, 0), MC_ERR_TRUNCATED);
  CU_ASSERT_EQUAL(dec_bytes(dg, 3), MC_ERR_TRUNCATED);
  CU_ASSERT_EQUAL(dec_bytes(NULL, 10), MC_ERR_TRUNCATED);
  CU_ASSERT_EQUAL(dec_bytes(dg, MC_DATAGRAM_MAX + 1), MC_ERR_TOO_BIG);
  CU_ASSERT_EQUAL(mc_codec_check_prefix(dg, MC_DATAGRAM_MAX), 0);
  CU_ASSERT_EQUAL(DEC_LIT("MYD\x01"), MC_ERR_BAD_MAGIC);
  CU_ASSERT_EQUAL(DEC_LIT("XYC\x01"), MC_ERR_BAD_MAGIC);
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x02"), MC_ERR_BAD_VERSION);
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x00"), MC_ERR_BAD_VERSION);
  /* Not protobuf: a truncated varint, a length past the end, wire type 7. */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x18\xFF"), MC_ERR_DECODE);
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x12\x40"
                          "ab"),
                  MC_ERR_DECODE);
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\xFF\xFF\xFF"), MC_ERR_DECODE);
  Mychat__Envelope *out = NULL;
  CU_ASSERT_EQUAL(mc_codec_decode(dg, 4, NULL), MC_ERR_INVAL);
  CU_ASSERT_EQUAL(mc_codec_decode(dg, 3, &out), MC_ERR_TRUNCATED);
  CU_ASSERT_PTR_NULL(out);
}

/* Decodes |body| (case |c|) sent with |seq|. */
static int seq_rc(Mychat__Envelope__BodyCase c, void *body, uint32_t seq) {
  Mychat__Envelope e = with_body(c, body);
  e.seq = seq;
  return enc_dec(&e);
}

static void test_mc_codec_seq_rules(void) {
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  e.seq = 5; /* reliable, but no body */
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_NO_BODY);

  Mychat__Logout lo = MYCHAT__LOGOUT__INIT;
  Mychat__Sent sent = MYCHAT__SENT__INIT;
  Mychat__Ping ping = MYCHAT__PING__INIT;
  Mychat__Handshake login = MYCHAT__HANDSHAKE__INIT;
  login.name = S("al"), login.password = S("pass"), login.client_nonce = 9;
  CU_ASSERT_EQUAL(seq_rc(MYCHAT__ENVELOPE__BODY_LOGOUT, &lo, 1), 0);
  CU_ASSERT_EQUAL(seq_rc(MYCHAT__ENVELOPE__BODY_LOGOUT, &lo, 0),
                  MC_ERR_BAD_FIELD);
  CU_ASSERT_EQUAL(seq_rc(MYCHAT__ENVELOPE__BODY_SENT, &sent, 0),
                  MC_ERR_BAD_FIELD);
  CU_ASSERT_EQUAL(seq_rc(MYCHAT__ENVELOPE__BODY_PING, &ping, 0), 0);
  CU_ASSERT_EQUAL(seq_rc(MYCHAT__ENVELOPE__BODY_PING, &ping, 1),
                  MC_ERR_BAD_FIELD);
  CU_ASSERT_EQUAL(seq_rc(MYCHAT__ENVELOPE__BODY_LOGIN, &login, 0), 0);
  CU_ASSERT_EQUAL(seq_rc(MYCHAT__ENVELOPE__BODY_LOGIN, &login, 1),
                  MC_ERR_BAD_FIELD);

  /* Hand-built envelopes: a NULL body pointer, a NULL envelope. */
  e = with_body(MYCHAT__ENVELOPE__BODY_LOGIN, NULL);
  CU_ASSERT_EQUAL(mc_codec_validate(&e), MC_ERR_MISSING_FIELD);
  CU_ASSERT_EQUAL(mc_codec_validate(NULL), MC_ERR_INVAL);
}

/* Message text goes through the UTF-8 check on decode. */
static int text_rc(const char *text) {
  Mychat__SendMessage sm = MYCHAT__SEND_MESSAGE__INIT;
  sm.client_msg_id = 1, sm.to_case = MYCHAT__SEND_MESSAGE__TO_USER;
  sm.user = S("bob"), sm.text = (char *)text;
  Mychat__Envelope e = with_body(MYCHAT__ENVELOPE__BODY_SEND, &sm);
  return enc_dec(&e);
}

static void test_mc_codec_utf8(void) {
  CU_ASSERT_EQUAL(text_rc("plain ascii"), 0);
  CU_ASSERT_EQUAL(
      text_rc("\xE2\x82\xAC \xED\x9F\xBF \xEE\x80\x80 \xF4\x8F\xBF\xBF"),
      0); /* U+20AC, U+D7FF, U+E000, U+10FFFF */
  CU_ASSERT_EQUAL(text_rc("\xC0\xAF"), MC_ERR_BAD_UTF8);     /* overlong / */
  CU_ASSERT_EQUAL(text_rc("\xC1\xBF"), MC_ERR_BAD_UTF8);     /* overlong */
  CU_ASSERT_EQUAL(text_rc("\xE0\x80\xAF"), MC_ERR_BAD_UTF8); /* overlong */
  CU_ASSERT_EQUAL(text_rc("\xF0\x80\x80\xAF"), MC_ERR_BAD_UTF8); /* overlong */
  CU_ASSERT_EQUAL(text_rc("\xED\xA0\x80"), MC_ERR_BAD_UTF8);     /* U+D800 */
  CU_ASSERT_EQUAL(text_rc("\xED\xBF\xBF"), MC_ERR_BAD_UTF8);     /* U+DFFF */
  CU_ASSERT_EQUAL(text_rc("\xF4\x90\x80\x80"), MC_ERR_BAD_UTF8); /* U+110000 */
  CU_ASSERT_EQUAL(text_rc("\xF5\x80\x80\x80"), MC_ERR_BAD_UTF8);
  CU_ASSERT_EQUAL(text_rc("ab\xE2\x82"), MC_ERR_BAD_UTF8); /* truncated */
  CU_ASSERT_EQUAL(text_rc("\xE2\x82z"), MC_ERR_BAD_UTF8);  /* cut short */
  CU_ASSERT_EQUAL(text_rc("a\x80"), MC_ERR_BAD_UTF8); /* lone continuation */
  CU_ASSERT_EQUAL(text_rc("\xFF"), MC_ERR_BAD_UTF8);
  CU_ASSERT_EQUAL(mc_codec_utf8_valid((const uint8_t *)"", 0), 1);
  CU_ASSERT_EQUAL(mc_codec_utf8_valid((const uint8_t *)"a\0b", 3), 1);
}

/* A string of |max| bytes passes |rc_of|; one byte more gives |err|. */
static void check_limit(int (*rc_of)(const char *), size_t max, int err) {
  static char s[MC_TEXT_MAX + 2];
  CU_ASSERT_FATAL(max + 2 <= sizeof s);
  memset(s, 'x', max + 1);
  s[max] = '\0';
  CU_ASSERT_EQUAL(rc_of(s), 0);
  s[max] = 'x', s[max + 1] = '\0';
  CU_ASSERT_EQUAL(rc_of(s), err);
}

static void test_mc_codec_text_length(void) {
  check_limit(text_rc, MC_TEXT_MAX, MC_ERR_TEXT_TOO_LONG);
  CU_ASSERT_EQUAL(text_rc(""), MC_ERR_MISSING_FIELD);
  char text[MC_TEXT_MAX + 2];
  memset(text, 'x', sizeof text);
  text[MC_TEXT_MAX + 1] = '\0';

  Mychat__Deliver dl = MYCHAT__DELIVER__INIT;
  dl.from = S("bob"), dl.text = text;
  Mychat__Envelope e = with_body(MYCHAT__ENVELOPE__BODY_DELIVER, &dl);
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_TEXT_TOO_LONG);
  dl.text = S("\xC0\x80");
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_UTF8);
}

/* Names go through the name rule in a JoinGroup. */
static int name_rc(const char *name) {
  Mychat__JoinGroup jg = MYCHAT__JOIN_GROUP__INIT;
  jg.name = (char *)name;
  Mychat__Envelope e = with_body(MYCHAT__ENVELOPE__BODY_JOIN_GROUP, &jg);
  return enc_dec(&e);
}

static void test_mc_codec_names(void) {
  CU_ASSERT_EQUAL(name_rc("a"), 0);
  CU_ASSERT_EQUAL(name_rc("9lives_.-X"), 0);
  CU_ASSERT_EQUAL(name_rc("abcdefghijklmnopqrstuvwxyz012345"), 0); /* 32 */
  CU_ASSERT_EQUAL(name_rc("abcdefghijklmnopqrstuvwxyz0123456"),
                  MC_ERR_BAD_NAME);
  /* Regression: an empty name was MALFORMED (a missing field) where MC-13
   * says BAD_NAME. */
  CU_ASSERT_EQUAL(name_rc(""), MC_ERR_BAD_NAME);
  CU_ASSERT_EQUAL(name_rc(".hidden"), MC_ERR_BAD_NAME);
  CU_ASSERT_EQUAL(name_rc("-x"), MC_ERR_BAD_NAME);
  CU_ASSERT_EQUAL(name_rc("_x"), MC_ERR_BAD_NAME);
  CU_ASSERT_EQUAL(name_rc("two words"), MC_ERR_BAD_NAME);
  CU_ASSERT_EQUAL(name_rc("caf\xC3\xA9"), MC_ERR_BAD_NAME);
  CU_ASSERT_EQUAL(name_rc("a/b"), MC_ERR_BAD_NAME);
  CU_ASSERT_EQUAL(mc_codec_name_valid(NULL), 0);

  /* Other name fields: optional ones may be empty, but not invalid. */
  Mychat__ListRequest lr = MYCHAT__LIST_REQUEST__INIT;
  Mychat__Envelope e = with_body(MYCHAT__ENVELOPE__BODY_LIST, &lr);
  CU_ASSERT_EQUAL(enc_dec(&e), 0);
  lr.after = S("a b");
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_NAME);
  Mychat__Deliver dl = MYCHAT__DELIVER__INIT;
  dl.from = S("bob"), dl.group = S("bad group"), dl.text = S("hi");
  e = with_body(MYCHAT__ENVELOPE__BODY_DELIVER, &dl);
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_NAME);
  dl.group = S(""), dl.from = S("");
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_NAME);
  Mychat__Presence pr = MYCHAT__PRESENCE__INIT;
  pr.name = S(".x");
  e = with_body(MYCHAT__ENVELOPE__BODY_PRESENCE, &pr);
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_NAME);
  Mychat__Receipt rc = MYCHAT__RECEIPT__INIT;
  e = with_body(MYCHAT__ENVELOPE__BODY_RECEIPT, &rc);
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_NAME);
}

static int password_rc(const char *pw) {
  Mychat__Handshake reg = MYCHAT__HANDSHAKE__INIT;
  reg.name = S("alice"), reg.password = (char *)pw, reg.client_nonce = 1;
  Mychat__Envelope e = with_body(MYCHAT__ENVELOPE__BODY_REGISTER, &reg);
  return enc_dec(&e);
}

/* Regression: a Register or Login with client_nonce 0 was accepted and
 * answered with a Welcome (MC-18). It is refused before its other fields. */
static void test_mc_codec_handshake_nonce(void) {
  Mychat__Handshake hs = MYCHAT__HANDSHAKE__INIT;
  hs.name = S("alice"), hs.password = S("secret");
  Mychat__Envelope reg = with_body(MYCHAT__ENVELOPE__BODY_REGISTER, &hs);
  Mychat__Envelope login = with_body(MYCHAT__ENVELOPE__BODY_LOGIN, &hs);
  CU_ASSERT_EQUAL(enc_dec(&reg), MC_ERR_MISSING_FIELD);
  CU_ASSERT_EQUAL(enc_dec(&login), MC_ERR_MISSING_FIELD);
  hs.name = S(".bad");
  CU_ASSERT_EQUAL(enc_dec(&login), MC_ERR_MISSING_FIELD);
  hs.client_nonce = 1;
  CU_ASSERT_EQUAL(enc_dec(&login), MC_ERR_BAD_NAME);
  hs.name = S("alice");
  CU_ASSERT_EQUAL(enc_dec(&reg), 0);
  CU_ASSERT_EQUAL(enc_dec(&login), 0);
}

static void test_mc_codec_passwords(void) {
  check_limit(password_rc, MC_PASSWORD_MAX, MC_ERR_BAD_PASSWORD);
  CU_ASSERT_EQUAL(password_rc("1234"), 0);
  CU_ASSERT_EQUAL(password_rc("123"), MC_ERR_BAD_PASSWORD);
  CU_ASSERT_EQUAL(password_rc(""), MC_ERR_BAD_PASSWORD);
}

static void test_mc_codec_token(void) {
  uint8_t tok[MC_TOKEN_LEN + 1] = {0};
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  e.token.data = tok;
  e.token.len = MC_TOKEN_LEN;
  CU_ASSERT_EQUAL(enc_dec(&e), 0);
  e.token.len = MC_TOKEN_LEN - 1;
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_FIELD);
  e.token.len = MC_TOKEN_LEN + 1;
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_FIELD);

  Mychat__Welcome w = MYCHAT__WELCOME__INIT;
  w.session_id = 1, w.name = S("alice");
  e = with_body(MYCHAT__ENVELOPE__BODY_WELCOME, &w);
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_FIELD); /* empty token */
  w.token.data = tok, w.token.len = MC_TOKEN_LEN;
  CU_ASSERT_EQUAL(enc_dec(&e), 0);
  w.session_id = 0;
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_MISSING_FIELD);
}

/* An ack-only envelope whose Ack has the |n| ranges given as pairs. */
static int ack_rc(uint32_t cumulative, const uint32_t *pairs, size_t n) {
  Mychat__AckRange r[MC_ACK_RANGES_MAX + 1];
  Mychat__AckRange *rp[MC_ACK_RANGES_MAX + 1];
  for (size_t i = 0; i < n; i++) {
    mychat__ack_range__init(&r[i]);
    r[i].first = pairs[2 * i], r[i].last = pairs[2 * i + 1];
    rp[i] = &r[i];
  }
  Mychat__Ack ack = MYCHAT__ACK__INIT;
  ack.cumulative = cumulative, ack.n_ranges = n, ack.ranges = rp;
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  e.ack = &ack;
  return enc_dec(&e);
}

static void test_mc_codec_ack_ranges(void) {
  const uint32_t nine[] = {2,  2,  4,  4,  6,  6,  8,  8,  10,
                           10, 12, 12, 14, 14, 16, 16, 18, 18};
  CU_ASSERT_EQUAL(ack_rc(0, nine, 8), 0);
  CU_ASSERT_EQUAL(ack_rc(0, nine, 9), MC_ERR_BAD_FIELD);
  const uint32_t overlap[] = {3, 6, 6, 9};
  CU_ASSERT_EQUAL(ack_rc(1, overlap, 2), MC_ERR_BAD_FIELD);
  const uint32_t adjacent[] = {3, 5, 6, 9};
  CU_ASSERT_EQUAL(ack_rc(1, adjacent, 2), 0);
  const uint32_t descending[] = {10, 12, 3, 5};
  CU_ASSERT_EQUAL(ack_rc(1, descending, 2), MC_ERR_BAD_FIELD);
  const uint32_t reversed[] = {9, 7};
  CU_ASSERT_EQUAL(ack_rc(1, reversed, 1), MC_ERR_BAD_FIELD);
  const uint32_t below[] = {5, 8};
  CU_ASSERT_EQUAL(ack_rc(5, below, 1), MC_ERR_BAD_FIELD);
  CU_ASSERT_EQUAL(ack_rc(4, below, 1), 0);
  const uint32_t top[] = {UINT32_MAX, UINT32_MAX};
  CU_ASSERT_EQUAL(ack_rc(UINT32_MAX - 2, top, 1), 0);
}

static void test_mc_codec_send_rules(void) {
  Mychat__SendMessage sm = MYCHAT__SEND_MESSAGE__INIT;
  sm.client_msg_id = 1, sm.text = S("hi");
  Mychat__Envelope e = with_body(MYCHAT__ENVELOPE__BODY_SEND, &sm);
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_MISSING_FIELD); /* no target */
  sm.to_case = MYCHAT__SEND_MESSAGE__TO_GROUP, sm.group = S("");
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_NAME);
  sm.group = S("g!");
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_NAME);
  sm.group = S("g");
  CU_ASSERT_EQUAL(enc_dec(&e), 0);
  sm.client_msg_id = 0;
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_MISSING_FIELD);
  /* The table order of PROTOCOL.md 4.2: client_msg_id before the name. */
  sm.group = S("g!");
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_MISSING_FIELD);
}

static int error_text_rc(const char *text) {
  Mychat__Error er = MYCHAT__ERROR__INIT;
  er.code = MYCHAT__ERROR_CODE__MALFORMED, er.text = (char *)text;
  Mychat__Envelope e = with_body(MYCHAT__ENVELOPE__BODY_ERROR, &er);
  return enc_dec(&e);
}

static int result_text_rc(const char *text) {
  Mychat__Result res = MYCHAT__RESULT__INIT;
  res.text = (char *)text; /* code ERROR_NONE: success */
  Mychat__Envelope e = with_body(MYCHAT__ENVELOPE__BODY_RESULT, &res);
  return enc_dec(&e);
}

static void test_mc_codec_error_and_result(void) {
  check_limit(error_text_rc, MC_ERROR_TEXT_MAX, MC_ERR_TEXT_TOO_LONG);
  check_limit(result_text_rc, MC_ERROR_TEXT_MAX, MC_ERR_TEXT_TOO_LONG);
  Mychat__Error er = MYCHAT__ERROR__INIT;
  Mychat__Envelope e = with_body(MYCHAT__ENVELOPE__BODY_ERROR, &er);
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_MISSING_FIELD);
  er.code = (Mychat__ErrorCode)22; /* one past QUOTA_EXCEEDED */
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_FIELD);

  Mychat__Result res = MYCHAT__RESULT__INIT;
  e = with_body(MYCHAT__ENVELOPE__BODY_RESULT, &res);
  res.code = (Mychat__ErrorCode)-1;
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_FIELD);
}

static void test_mc_codec_list_rules(void) {
  Mychat__ListRequest lq = MYCHAT__LIST_REQUEST__INIT;
  lq.kind = (Mychat__ListKind)3;
  Mychat__Envelope e = with_body(MYCHAT__ENVELOPE__BODY_LIST, &lq);
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_FIELD);

  Mychat__ListEntry ent[MC_LIST_PAGE_MAX + 1];
  Mychat__ListEntry *ep[MC_LIST_PAGE_MAX + 1];
  for (int i = 0; i <= MC_LIST_PAGE_MAX; i++) {
    mychat__list_entry__init(&ent[i]);
    ent[i].name = S("user");
    ep[i] = &ent[i];
  }
  Mychat__ListReply lr = MYCHAT__LIST_REPLY__INIT;
  lr.n_entries = MC_LIST_PAGE_MAX, lr.entries = ep;
  e = with_body(MYCHAT__ENVELOPE__BODY_LIST_REPLY, &lr);
  CU_ASSERT_EQUAL(enc_dec(&e), 0);
  lr.n_entries = MC_LIST_PAGE_MAX + 1;
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_FIELD);
  lr.n_entries = 2, ent[1].name = S("no way");
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_NAME);
  ent[1].name = S("");
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_NAME);
  ent[1].name = S("ok");
  lr.kind = (Mychat__ListKind)9;
  CU_ASSERT_EQUAL(enc_dec(&e), MC_ERR_BAD_FIELD);
}

/* Hand-written wire bytes for what the protobuf-c encoder cannot produce. */
static void test_mc_codec_wire_oddities(void) {
  /* seq=1 (18 01), create_group (72 len) { name (0A len) ... }. */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x18\x01\x72\x05\x0A\x03"
                          "acb"),
                  0);
  /* A NUL inside the name would reach the application as "a". */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x18\x01\x72\x05\x0A\x03"
                          "a\0b"),
                  MC_ERR_BAD_FIELD);
  /* An unknown field inside a known body is ignored (field 9, varint). */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x18\x01\x72\x07\x0A\x03"
                          "acb\x48\x01"),
                  0);
  /* An unknown header field (5) is ignored: this is an ack-only datagram. */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x28\x01"), 0);
  /* Regression (fuzz_decode): field number 0 with a two-byte tag, which
   * protobuf-c keeps as unknown but re-encodes into a datagram it refuses. */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x80\x00\x00"), MC_ERR_DECODE);
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x18\x01\x72\x07\x0A\x03"
                          "acb\x80\x00"),
                  MC_ERR_DECODE);
  /* An unknown body (field 40, empty), with seq 0 and seq 1. */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\xC2\x02\x00"), MC_ERR_NO_BODY);
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x18\x01\xC2\x02\x00"), MC_ERR_NO_BODY);
}

/* Every string field must be UTF-8 or the envelope is malformed (MC-8,
 * MC-21), as a proto3 library that checks UTF-8 would refuse to parse it:
 * names and nested strings too, not only message text. */
static void test_mc_codec_utf8_any_string(void) {
  /* seq=1, create_group { name "a\xFFb" }: not BAD_NAME, malformed. */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x18\x01\x72\x05\x0A\x03"
                          "a\xFF" "b"),
                  MC_ERR_BAD_UTF8);
  /* A valid non-ASCII name is UTF-8, and then BAD_NAME. */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x18\x01\x72\x07\x0A\x05"
                          "caf\xC3\xA9"),
                  MC_ERR_BAD_NAME);
  /* list_reply (32, 82 02) { entries (3, 1A) { name (0A) "\xC0\x80" } }:
   * nested two deep. */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x18\x01\x82\x02\x06\x1A\x04\x0A\x02"
                          "\xC0\x80"),
                  MC_ERR_BAD_UTF8);
  /* error (39, BA 02) { code 1, text "\xED\xA0\x80" (a surrogate) }. */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\xBA\x02\x07\x08\x01\x12\x03"
                          "\xED\xA0\x80"),
                  MC_ERR_BAD_UTF8);
  /* Bytes fields are not text: a token of 16 0xFF bytes is fine. */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x09\x01\x00\x00\x00\x00\x00\x00\x00"
                          "\x12\x10\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF"
                          "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF"),
                  0);
}

/* A known field that arrives with another wire type is malformed (MC-8):
 * many libraries would keep it as an unknown field, protobuf-c refuses it. */
static void test_mc_codec_wire_type(void) {
  /* seq (3) as length-delimited, then a Ping. */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x1A\x01\x05\x92\x01\x02\x08\x01"),
                  MC_ERR_DECODE);
  /* ping { time_us (1) as fixed64 }. */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x92\x01\x09\x09\x01\x02\x03\x04"
                          "\x05\x06\x07\x08"),
                  MC_ERR_DECODE);
  /* A body field (ping, 18) as a varint. */
  CU_ASSERT_EQUAL(DEC_LIT("MYC\x01\x90\x01\x01"), MC_ERR_DECODE);
}

/* Two bodies in one envelope: the last one counts, as in any proto3
 * oneof (PROTOCOL.md section 2.2). */
static void test_mc_codec_two_bodies(void) {
  static const uint8_t d[] = {'M',  'Y',  'C',  1,    0x92, 0x01,
                              0x02, 0x08, 0x01, 0x62, 0x00}; /* ping, logout */
  Mychat__Envelope *env = NULL;
  CU_ASSERT_EQUAL_FATAL(mc_codec_unpack(d, sizeof d, &env), 0);
  CU_ASSERT_EQUAL(env->body_case, MYCHAT__ENVELOPE__BODY_LOGOUT);
  mc_codec_free(env);
}

static void test_mc_codec_encode_limits(void) {
  Mychat__Logout lo = MYCHAT__LOGOUT__INIT;
  Mychat__Envelope e = with_body(MYCHAT__ENVELOPE__BODY_LOGOUT, &lo);
  e.session_id = 1, e.token.len = MC_TOKEN_LEN, e.token.data = token16;
  uint8_t body[8], dg[MC_DATAGRAM_MAX];
  size_t blen = 0, dlen = 0;
  /* A Logout body is 2 bytes (tag, zero length). */
  CU_ASSERT_EQUAL(mc_codec_encode_body(&e, body, 1, &blen),
                  MC_ERR_BUFFER_TOO_SMALL);
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode_body(&e, body, 2, &blen), 0);
  CU_ASSERT_EQUAL(blen, 2);
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode(&e, body, blen, dg, sizeof dg, &dlen),
                        0);
  CU_ASSERT_EQUAL(mc_codec_encode(&e, body, blen, dg, dlen - 1, &dlen),
                  MC_ERR_TOO_BIG);
  CU_ASSERT_EQUAL(
      mc_codec_encode(&e, body, MC_DATAGRAM_MAX, dg, sizeof dg, &dlen),
      MC_ERR_TOO_BIG);
  CU_ASSERT_EQUAL(mc_codec_encode(NULL, body, blen, dg, sizeof dg, &dlen),
                  MC_ERR_INVAL);

  Mychat__Envelope none = MYCHAT__ENVELOPE__INIT;
  CU_ASSERT_EQUAL(mc_codec_encode_body(&none, body, sizeof body, &blen),
                  MC_ERR_NO_BODY);
  none.body_case = (Mychat__Envelope__BodyCase)5; /* a header field number */
  none.ping = (Mychat__Ping *)&lo;
  CU_ASSERT_EQUAL(mc_codec_encode_body(&none, body, sizeof body, &blen),
                  MC_ERR_NO_BODY);
  e.logout = NULL;
  CU_ASSERT_EQUAL(mc_codec_encode_body(&e, body, sizeof body, &blen),
                  MC_ERR_NO_BODY);
}

/* The largest bodies with the largest header still fit one datagram. */
static void test_mc_codec_maximal_fits(void) {
  char text[MC_TEXT_MAX + 1];
  /* 3-byte characters use the whole 800 bytes without a partial one. */
  for (int i = 0; i + 3 <= MC_TEXT_MAX; i += 3)
    memcpy(text + i, "\xE2\x82\xAC", 3);
  memset(text + MC_TEXT_MAX - MC_TEXT_MAX % 3, 'x', MC_TEXT_MAX % 3);
  text[MC_TEXT_MAX] = '\0';
  char *name = S("abcdefghijklmnopqrstuvwxyz012345");

  Mychat__AckRange r[MC_ACK_RANGES_MAX];
  Mychat__AckRange *rp[MC_ACK_RANGES_MAX];
  for (int i = 0; i < MC_ACK_RANGES_MAX; i++) {
    mychat__ack_range__init(&r[i]);
    r[i].first = 0xF0000000u + 4u * (uint32_t)i + 2u;
    r[i].last = r[i].first + 1;
    rp[i] = &r[i];
  }
  Mychat__Ack ack = MYCHAT__ACK__INIT;
  ack.cumulative = 0xF0000000u, ack.n_ranges = MC_ACK_RANGES_MAX;
  ack.ranges = rp, ack.delay_us = UINT32_MAX;

  Mychat__SendMessage sm = MYCHAT__SEND_MESSAGE__INIT;
  sm.client_msg_id = UINT64_MAX, sm.to_case = MYCHAT__SEND_MESSAGE__TO_GROUP;
  sm.group = name, sm.text = text;
  Mychat__Deliver dl = MYCHAT__DELIVER__INIT;
  dl.message_id = UINT64_MAX, dl.from = name, dl.group = name, dl.text = text;
  dl.server_time_ms = UINT64_MAX, dl.missed = 1;
  Mychat__Envelope bodies[] = {
      with_body(MYCHAT__ENVELOPE__BODY_SEND, &sm),
      with_body(MYCHAT__ENVELOPE__BODY_DELIVER, &dl),
  };
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    Mychat__Envelope *e = &bodies[i];
    e->session_id = UINT64_MAX, e->seq = UINT32_MAX, e->ack = &ack;
    e->token.len = MC_TOKEN_LEN, e->token.data = token16;
    uint8_t dg[MC_DATAGRAM_MAX];
    size_t n = encode_dgram(e, dg, sizeof dg);
    CU_ASSERT(n > 900 && n <= MC_DATAGRAM_MAX);
    Mychat__Envelope *d = NULL;
    CU_ASSERT_EQUAL(mc_codec_decode(dg, n, &d), 0);
    mc_codec_free(d);
  }
}

/* The wire-code names are the schema's: every value of the generated
 * ErrorCode enum (mc_codec.c asserts the numbers at compile time) has the
 * descriptor's name, ERROR_NONE is "OK", and a value past the schema is
 * "UNKNOWN". */
static void test_mc_codec_code_names(void) {
  const ProtobufCEnumDescriptor *d = &mychat__error_code__descriptor;
  CU_ASSERT_EQUAL(d->n_values, MC_WIRE_QUOTA_EXCEEDED + 1);
  for (unsigned i = 1; i < d->n_values; i++)
    CU_ASSERT_STRING_EQUAL(mc_codec_code_name(d->values[i].value),
                           d->values[i].name);
  CU_ASSERT_STRING_EQUAL(mc_codec_code_name(MC_WIRE_OK), "OK");
  CU_ASSERT_STRING_EQUAL(mc_codec_code_name(MC_WIRE_AUTH_FAILED),
                         "AUTH_FAILED");
  CU_ASSERT_STRING_EQUAL(mc_codec_code_name(MC_WIRE_QUOTA_EXCEEDED + 1),
                         "UNKNOWN");
  CU_ASSERT_STRING_EQUAL(mc_codec_code_name(-1), "UNKNOWN");
}

/* A sessionless Ping decodes as one, and a buffer too small is refused. */
static void test_mc_codec_encode_ping(void) {
  uint8_t d[MC_DATAGRAM_MAX];
  size_t len = 0;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode_ping(1234567, d, sizeof d, &len), 0);
  Mychat__Envelope *env = NULL;
  CU_ASSERT_EQUAL_FATAL(mc_codec_decode(d, len, &env), 0);
  CU_ASSERT_EQUAL(env->body_case, MYCHAT__ENVELOPE__BODY_PING);
  CU_ASSERT_EQUAL(env->ping->time_us, 1234567);
  CU_ASSERT_EQUAL(env->session_id, 0);
  CU_ASSERT_EQUAL(env->seq, 0);
  mc_codec_free(env);
  CU_ASSERT_EQUAL(mc_codec_encode_ping(1234567, d, len - 1, &len),
                  MC_ERR_TOO_BIG);
}

static void test_mc_codec_body_names_and_classes(void) {
  CU_ASSERT_STRING_EQUAL(mc_codec_body_name(MYCHAT__ENVELOPE__BODY__NOT_SET),
                         "none");
  CU_ASSERT_STRING_EQUAL(mc_codec_body_name(MYCHAT__ENVELOPE__BODY_SEND),
                         "send");
  CU_ASSERT_STRING_EQUAL(mc_codec_body_name(MYCHAT__ENVELOPE__BODY_REGISTER),
                         "register");
  CU_ASSERT_STRING_EQUAL(
      mc_codec_body_name(MYCHAT__ENVELOPE__BODY_BACKLOG_DONE), "backlog_done");
  CU_ASSERT_STRING_EQUAL(mc_codec_body_name((Mychat__Envelope__BodyCase)3),
                         "unknown"); /* seq: a header field */
  CU_ASSERT_STRING_EQUAL(mc_codec_body_name((Mychat__Envelope__BodyCase)40),
                         "unknown");
  CU_ASSERT_EQUAL(mc_codec_body_class(MYCHAT__ENVELOPE__BODY__NOT_SET),
                  MC_BODY_NONE);
  CU_ASSERT_EQUAL(mc_codec_body_class((Mychat__Envelope__BodyCase)40),
                  MC_BODY_NONE);

  /* Every case of the schema has a name and the class DESIGN.md gives it. */
  const mc_body_class want[] = {
      MC_BODY_HANDSHAKE,    MC_BODY_HANDSHAKE, MC_BODY_REQUEST,
      MC_BODY_REQUEST,      MC_BODY_REQUEST,   MC_BODY_REQUEST,
      MC_BODY_REQUEST,      MC_BODY_REQUEST,   MC_BODY_CLIENT_UNREL,
      MC_BODY_SERVER_UNREL, MC_BODY_PUSH,      MC_BODY_PUSH,
      MC_BODY_PUSH,         MC_BODY_PUSH,      MC_BODY_PUSH,
      MC_BODY_PUSH,         MC_BODY_PUSH,      MC_BODY_SERVER_UNREL,
      MC_BODY_SERVER_UNREL,
  };
  const ProtobufCMessageDescriptor *d = &mychat__envelope__descriptor;
  size_t k = 0;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
      continue;
    CU_ASSERT_FATAL(k < sizeof want / sizeof want[0]);
    Mychat__Envelope__BodyCase c = (Mychat__Envelope__BodyCase)f->id;
    CU_ASSERT_STRING_EQUAL(mc_codec_body_name(c), f->name);
    CU_ASSERT_EQUAL(mc_codec_body_class(c), want[k]);
    k++;
  }
  CU_ASSERT_EQUAL(k, sizeof want / sizeof want[0]);
}

/* Every error the decoder may return. */
static int defined_error(int rc) {
  switch (rc) {
  case MC_ERR_DECODE:
  case MC_ERR_NO_BODY:
  case MC_ERR_MISSING_FIELD:
  case MC_ERR_BAD_FIELD:
  case MC_ERR_BAD_UTF8:
  case MC_ERR_TEXT_TOO_LONG:
  case MC_ERR_BAD_NAME:
  case MC_ERR_BAD_PASSWORD:
    return 1;
  default:
    return 0;
  }
}

/* Random datagrams with a valid prefix: pure noise, and valid datagrams with
 * a few bytes changed (which get further into the validation). Decoding must
 * never crash and must give a valid envelope or a defined error. */
/* The nonce a decoded envelope carries where mc_codec_peek looks for one. */
static uint64_t env_nonce(const Mychat__Envelope *e) {
  switch (e->body_case) {
  case MYCHAT__ENVELOPE__BODY_REGISTER:
    return e->register_->client_nonce;
  case MYCHAT__ENVELOPE__BODY_LOGIN:
    return e->login->client_nonce;
  case MYCHAT__ENVELOPE__BODY_WELCOME:
    return e->welcome->client_nonce;
  case MYCHAT__ENVELOPE__BODY_ERROR:
    return e->error->client_nonce;
  default:
    return 0;
  }
}

/* Peeks at datagram |dg| and checks it agrees with its decoding |e|. */
static void check_peek(const uint8_t *dg, size_t n, const Mychat__Envelope *e) {
  mc_peek pk;
  CU_ASSERT_EQUAL_FATAL(mc_codec_peek(dg, n, &pk), 0);
  CU_ASSERT_EQUAL(pk.session_id, e->session_id);
  CU_ASSERT_EQUAL(pk.seq, e->seq);
  CU_ASSERT_EQUAL(pk.body, e->body_case);
  CU_ASSERT_EQUAL(pk.token_len, e->token.len);
  if (e->token.len > 0)
    CU_ASSERT(memcmp(dg + pk.token_off, e->token.data, e->token.len) == 0);
  CU_ASSERT_EQUAL(pk.client_nonce, env_nonce(e));
  CU_ASSERT_EQUAL(pk.welcome_session_id,
                  e->body_case == MYCHAT__ENVELOPE__BODY_WELCOME
                      ? e->welcome->session_id
                      : 0);
}

/* Encodes |e|, decodes it, and checks the peek against the decoding. */
static void peek_roundtrip(const Mychat__Envelope *e) {
  uint8_t dg[MC_DATAGRAM_MAX];
  size_t n = encode_dgram(e, dg, sizeof dg);
  Mychat__Envelope *d = NULL;
  CU_ASSERT_EQUAL_FATAL(mc_codec_unpack(dg, n, &d), 0);
  check_peek(dg, n, d);
  mc_codec_free(d);
}

static void test_mc_codec_peek(void) {
  Mychat__Handshake hs = MYCHAT__HANDSHAKE__INIT;
  hs.name = S("alice"), hs.password = S("secret"), hs.client_nonce = 77;
  hs.padding.len = 200, hs.padding.data = (uint8_t[200]){0};
  Mychat__Envelope e = with_body(MYCHAT__ENVELOPE__BODY_REGISTER, &hs);
  peek_roundtrip(&e);
  e.body_case = MYCHAT__ENVELOPE__BODY_LOGIN;
  peek_roundtrip(&e);

  Mychat__Welcome w = MYCHAT__WELCOME__INIT;
  w.session_id = 0x0102030405060708ULL, w.client_nonce = ~0ULL;
  w.token.len = MC_TOKEN_LEN, w.token.data = token16, w.name = S("alice");
  e = with_body(MYCHAT__ENVELOPE__BODY_WELCOME, &w);
  peek_roundtrip(&e);

  Mychat__Error er = MYCHAT__ERROR__INIT;
  er.code = MYCHAT__ERROR_CODE__AUTH_FAILED, er.text = S("no"),
  er.client_nonce = 5;
  e = with_body(MYCHAT__ENVELOPE__BODY_ERROR, &er);
  peek_roundtrip(&e);

  /* In a session: header fields, a reliable body with no nonce. */
  Mychat__SendMessage sm = MYCHAT__SEND_MESSAGE__INIT;
  sm.client_msg_id = 3, sm.to_case = MYCHAT__SEND_MESSAGE__TO_USER;
  sm.user = S("bob"), sm.text = S("hi");
  e = with_body(MYCHAT__ENVELOPE__BODY_SEND, &sm);
  e.session_id = 99, e.token.len = MC_TOKEN_LEN, e.token.data = token16;
  e.seq = 1234567;
  peek_roundtrip(&e);

  /* Ack only: no body. */
  Mychat__Ack ack = MYCHAT__ACK__INIT;
  ack.cumulative = 4;
  Mychat__Envelope a = MYCHAT__ENVELOPE__INIT;
  a.session_id = 99, a.token.len = MC_TOKEN_LEN, a.token.data = token16;
  a.ack = &ack;
  peek_roundtrip(&a);

  /* Errors: the prefix's, and a wire form that runs out. */
  mc_peek pk;
  CU_ASSERT_EQUAL(mc_codec_peek((const uint8_t *)"MYC", 3, &pk),
                  MC_ERR_TRUNCATED);
  CU_ASSERT_EQUAL(mc_codec_peek((const uint8_t *)"MYC\x02", 4, &pk),
                  MC_ERR_BAD_VERSION);
  CU_ASSERT_EQUAL(
      mc_codec_peek((const uint8_t *)"MYC\x01\x09\x01\x02", 7, &pk),
      MC_ERR_DECODE);
  CU_ASSERT_EQUAL(pk.session_id, 0);
  CU_ASSERT_EQUAL(mc_codec_peek((const uint8_t *)"MYC\x01", 4, &pk), 0);
  CU_ASSERT_EQUAL(pk.body, MYCHAT__ENVELOPE__BODY__NOT_SET);
}

/* mc_codec_parse reads what mc_codec_decode refuses, but not junk. */
static void test_mc_codec_parse_lax(void) {
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  e.session_id = 7, e.token.len = 3, e.token.data = token16; /* bad token */
  uint8_t dg[MC_DATAGRAM_MAX + 16];
  size_t n = encode_dgram(&e, dg, sizeof dg);
  Mychat__Envelope *d = (Mychat__Envelope *)1;
  CU_ASSERT_EQUAL(mc_codec_decode(dg, n, &d), MC_ERR_BAD_FIELD);
  CU_ASSERT_EQUAL_FATAL(mc_codec_parse(dg, n, &d), 0);
  CU_ASSERT_EQUAL(d->session_id, 7);
  CU_ASSERT_EQUAL(d->token.len, 3);
  mc_codec_free(d);
  /* Over the size limit (an unknown field pads it): parsed all the same. */
  memset(dg + n, 0, sizeof dg - n);
  size_t pad = sizeof dg - n - 3; /* field 9 (unknown), a 2-byte length */
  dg[n] = 0x4a, dg[n + 1] = (uint8_t)(0x80 | (pad & 0x7f));
  dg[n + 2] = (uint8_t)(pad >> 7);
  CU_ASSERT_EQUAL(mc_codec_unpack(dg, sizeof dg, &d), MC_ERR_TOO_BIG);
  CU_ASSERT_EQUAL_FATAL(mc_codec_parse(dg, sizeof dg, &d), 0);
  mc_codec_free(d);
  CU_ASSERT_EQUAL(mc_codec_parse((const uint8_t *)"MYX\x01", 4, &d),
                  MC_ERR_BAD_MAGIC);
  CU_ASSERT_PTR_NULL(d);
  CU_ASSERT_EQUAL(mc_codec_parse((const uint8_t *)"MYC\x01\xff", 5, &d),
                  MC_ERR_DECODE);
  CU_ASSERT_EQUAL(mc_codec_parse(dg, n, NULL), MC_ERR_INVAL);
}

/* The datagram length of |e| (header and body). */
static size_t dgram_len(const Mychat__Envelope *e) {
  uint8_t dg[MC_DATAGRAM_MAX];
  return encode_dgram(e, dg, sizeof dg);
}

/* The padding reaches MC_HANDSHAKE_MIN with the fewest bytes, whatever
 * the name's length and the header (MC-47). */
static void test_mc_codec_pad_handshake(void) {
  char name[MC_NAME_MAX + 1];
  for (size_t n = 1; n <= MC_NAME_MAX; n++) {
    memset(name, 'a', n);
    name[n] = '\0';
    Mychat__Handshake hs = MYCHAT__HANDSHAKE__INIT;
    hs.name = name, hs.password = S("secret"), hs.client_nonce = 1;
    Mychat__Envelope e = with_body(n % 2 ? MYCHAT__ENVELOPE__BODY_REGISTER
                                         : MYCHAT__ENVELOPE__BODY_LOGIN,
                                   &hs);
    if (n % 3 == 0) /* a header that does not belong, as a test sends */
      e.session_id = 1, e.token.len = MC_TOKEN_LEN, e.token.data = token16;
    CU_ASSERT_EQUAL_FATAL(mc_codec_pad_handshake(&e), 0);
    CU_ASSERT(dgram_len(&e) >= MC_HANDSHAKE_MIN);
    hs.padding.len--;
    CU_ASSERT(dgram_len(&e) < MC_HANDSHAKE_MIN);
  }
  Mychat__Ping ping = MYCHAT__PING__INIT;
  Mychat__Envelope p = with_body(MYCHAT__ENVELOPE__BODY_PING, &ping);
  CU_ASSERT_EQUAL(mc_codec_pad_handshake(&p), MC_ERR_INVAL);
  CU_ASSERT_EQUAL(mc_codec_pad_handshake(NULL), MC_ERR_INVAL);
  uint8_t pre[MC_PREFIX_LEN];
  mc_codec_write_prefix(pre);
  CU_ASSERT_EQUAL(mc_codec_check_prefix(pre, sizeof pre), 0);
}

static void test_mc_codec_random_datagrams(void) {
  Mychat__SendMessage sm = MYCHAT__SEND_MESSAGE__INIT;
  sm.client_msg_id = 3, sm.to_case = MYCHAT__SEND_MESSAGE__TO_USER;
  sm.user = S("bob"), sm.text = S("hello there \xE2\x82\xAC");
  Mychat__Envelope e = with_body(MYCHAT__ENVELOPE__BODY_SEND, &sm);
  e.session_id = 12, e.token.len = MC_TOKEN_LEN, e.token.data = token16;
  uint8_t valid[MC_DATAGRAM_MAX];
  size_t vlen = encode_dgram(&e, valid, sizeof valid);

  mc_rng r;
  mc_rng_seed(&r, 2026);
  uint8_t dg[MC_DATAGRAM_MAX];
  unsigned ok = 0, bad = 0;
  for (int i = 0; i < 100000; i++) {
    size_t n;
    if (i % 2) {
      n = MC_PREFIX_LEN + (size_t)mc_rng_below(&r, MC_DATAGRAM_MAX - 3);
      mc_rng_bytes(&r, dg, n);
    } else {
      n = vlen;
      memcpy(dg, valid, n);
      for (int k = 0, flips = 1 + (int)mc_rng_below(&r, 3); k < flips; k++)
        dg[MC_PREFIX_LEN + mc_rng_below(&r, n - MC_PREFIX_LEN)] =
            (uint8_t)mc_rng_next(&r);
      n -= (size_t)mc_rng_below(&r, 2) * mc_rng_below(&r, n - MC_PREFIX_LEN);
    }
    memcpy(dg, "MYC\x01", MC_PREFIX_LEN);
    Mychat__Envelope *d = NULL;
    int rc = mc_codec_decode(dg, n, &d);
    if (rc == 0) {
      CU_ASSERT_FATAL(d != NULL);
      CU_ASSERT_EQUAL_FATAL(mc_codec_validate(d), 0);
      check_peek(dg, n, d); /* wherever decoding succeeds, peek agrees */
      ok++;
    } else {
      CU_ASSERT_FATAL(d == NULL);
      CU_ASSERT_FATAL(defined_error(rc));
      bad++;
    }
    mc_codec_free(d);
  }
  /* Both outcomes happen, so the loop exercised the validation. */
  CU_ASSERT(ok > 100 && bad > 100);
}

static CU_TestInfo tests[] = {
    {"roundtrip_handshake", test_mc_codec_roundtrip_handshake},
    {"roundtrip_requests", test_mc_codec_roundtrip_requests},
    {"roundtrip_server", test_mc_codec_roundtrip_server},
    {"roundtrip_one_field", test_mc_codec_roundtrip_one_field},
    {"concatenation", test_mc_codec_concatenation},
    {"ack_only", test_mc_codec_ack_only},
    {"prefix_errors", test_mc_codec_prefix_errors},
    {"seq_rules", test_mc_codec_seq_rules},
    {"utf8", test_mc_codec_utf8},
    {"text_length", test_mc_codec_text_length},
    {"names", test_mc_codec_names},
    {"passwords", test_mc_codec_passwords},
    {"handshake_nonce", test_mc_codec_handshake_nonce},
    {"token", test_mc_codec_token},
    {"ack_ranges", test_mc_codec_ack_ranges},
    {"send_rules", test_mc_codec_send_rules},
    {"error_and_result", test_mc_codec_error_and_result},
    {"list_rules", test_mc_codec_list_rules},
    {"wire_oddities", test_mc_codec_wire_oddities},
    {"utf8_any_string", test_mc_codec_utf8_any_string},
    {"wire_type", test_mc_codec_wire_type},
    {"two_bodies", test_mc_codec_two_bodies},
    {"encode_limits", test_mc_codec_encode_limits},
    {"maximal_fits", test_mc_codec_maximal_fits},
    {"peek", test_mc_codec_peek},
    {"parse_lax", test_mc_codec_parse_lax},
    {"pad_handshake", test_mc_codec_pad_handshake},
    {"body_names_and_classes", test_mc_codec_body_names_and_classes},
    {"code_names", test_mc_codec_code_names},
    {"encode_ping", test_mc_codec_encode_ping},
    {"random_datagrams", test_mc_codec_random_datagrams},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_codec_suite = {.pName = "codec", .pTests = tests};
