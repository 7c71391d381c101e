/*
 * mc-pcapgen: writes the test captures of tests/data/ (issue 7), and large
 * captures for `make bench-pcap`. Not installed.
 *
 *   mc-pcapgen DIR          every test capture into DIR
 *   mc-pcapgen --bench N F  about N datagrams of repeated sessions into F
 *
 * The captures hold one scripted MyChat exchange between the server
 * 127.0.0.1:8000 and clients at 127.1.0.x (register, login, a group, group
 * and direct messages with a retransmission and a receipt, ping/pong, a
 * list, selective acks, logout, a failed login and an unknown session),
 * encoded with lib/mc_codec, in several framings; plus captures of what the
 * reader must skip or flag. Everything is fixed, so the files (and the
 * golden outputs made from them) are the same on every run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_codec_pb.h"
#include "mc_error.h"
#include "mc_pcap.h"

#define PROG "mc-pcapgen"
#define T0_US 1764072000000000ull   /* 2025-11-25 12:00:00 UTC */
#define DGRAMS_MAX 64

typedef struct {
  uint64_t ts_us;
  mc_pcap_endpoint src, dst;
  uint8_t data[MC_DATAGRAM_MAX];
  size_t len;
} dgram;

typedef struct {
  dgram d[DGRAMS_MAX];
  size_t n;
  int v6;                       /* addresses in fd00::/8 instead of 127/8 */
  uint64_t sid_salt;            /* varies session ids between bench rounds */
  uint32_t host;                /* varies client addresses likewise */
} script;

static void die(const char *what, int rc) {
  fprintf(stderr, PROG ": %s: %s\n", what, rc < 0 ? mc_strerror(rc) : "failed");
  exit(1);
}

/* Endpoint of party |who|: 0 the server, else client number |who|. */
static mc_pcap_endpoint ep(const script *s, int who) {
  mc_pcap_endpoint e = {0};
  if (s->v6) {
    e.family = 6;
    e.ip[0] = 0xfd;
    e.ip[13] = (uint8_t)(s->host >> 8);
    e.ip[14] = (uint8_t)s->host;
    e.ip[15] = (uint8_t)who;
  } else {
    e.family = 4;
    e.ip[0] = 127;
    e.ip[1] = who ? 1 : 0;
    e.ip[2] = who ? (uint8_t)s->host : 0;
    e.ip[3] = who ? (uint8_t)who : 1;
  }
  e.port = who ? (uint16_t)(40000 + who) : 8000;
  return e;
}

typedef struct {
  uint64_t sid;
  uint8_t token[MC_TOKEN_LEN];
} sess;

/* Appends a datagram from |from| to |to| (0 = server) at |ms| after T0:
 * the header from |s| (NULL: no session), |seq| and an Ack when |ack| is
 * not NULL, and body |e| (its header fields are overwritten). */
static void emit(script *sc, double ms, int from, int to, const sess *s,
                 uint32_t seq, Mychat__Ack *ack, Mychat__Envelope *e) {
  if (sc->n == DGRAMS_MAX) die("script", MC_ERR_LIMIT);
  dgram *d = &sc->d[sc->n++];
  d->ts_us = T0_US + (uint64_t)(ms * 1000.0) + sc->sid_salt * 5000000u;
  d->src = ep(sc, from);
  d->dst = ep(sc, to);
  e->session_id = s ? s->sid : 0;
  e->token.len = s ? MC_TOKEN_LEN : 0;
  e->token.data = s ? (uint8_t *)s->token : NULL;
  e->seq = seq;
  e->ack = ack;
  uint8_t body[MC_DATAGRAM_MAX];
  size_t blen = 0;
  int rc = 0;
  if (e->body_case != MYCHAT__ENVELOPE__BODY__NOT_SET)
    rc = mc_codec_encode_body(e, body, sizeof body, &blen);
  if (!rc) rc = mc_codec_encode(e, blen ? body : NULL, blen, d->data, sizeof d->data, &d->len);
  if (rc) die("encode", rc);
}

/* Register and Login are padded to MC_HANDSHAKE_MIN bytes (MC-47). */
static void emit_padded(script *sc, double ms, int from, Mychat__Envelope *e) {
  e->session_id = 0, e->token.len = 0, e->seq = 0, e->ack = NULL;
  int rc = mc_codec_pad_handshake(e);
  if (rc) die("padding", rc);
  emit(sc, ms, from, 0, NULL, 0, NULL, e);
}

static Mychat__Ack *mkack(Mychat__Ack *a, uint32_t cum) {
  mychat__ack__init(a);
  a->cumulative = cum;
  return a;
}

/* A client's ack-only datagram acknowledging the server's stream up to
 * |cum|. */
static void ack_only(script *sc, double ms, int from, const sess *s, uint32_t cum) {
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  Mychat__Ack a;
  emit(sc, ms, from, 0, s, 0, mkack(&a, cum), &e);
}

/* The scripted exchange. */
static void session_script(script *sc) {
  sess alice = {0xa11ce00000000001ull ^ (sc->sid_salt << 16), {0}};
  sess bob = {0xb0b0000000000002ull ^ (sc->sid_salt << 16), {0}};
  memset(alice.token, 0xa1, sizeof alice.token);
  memset(bob.token, 0xb2, sizeof bob.token);
  Mychat__Envelope e;
  Mychat__Ack a;
  enum { SRV = 0, ALICE = 1, BOB = 2, MALLORY = 3, STRAY = 9 };

  Mychat__Handshake reg = MYCHAT__HANDSHAKE__INIT;
  reg.name = (char *)"alice", reg.password = (char *)"alice-secret-pw";
  reg.client_nonce = 0x1111111111111111ull, reg.presence = 1;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_REGISTER, e.register_ = &reg;
  emit_padded(sc, 0, ALICE, &e);

  Mychat__Welcome w = MYCHAT__WELCOME__INIT;
  w.session_id = alice.sid, w.token.len = MC_TOKEN_LEN, w.token.data = alice.token;
  w.client_nonce = reg.client_nonce, w.name = (char *)"alice";
  w.server_time_ms = T0_US / 1000, w.keepalive_ms = 5000, w.session_timeout_ms = 30000;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_WELCOME, e.welcome = &w;
  emit(sc, 2, SRV, ALICE, NULL, 0, NULL, &e);

  Mychat__Handshake lg = MYCHAT__HANDSHAKE__INIT;
  lg.name = (char *)"bob", lg.password = (char *)"bob-hunter2", lg.client_nonce = 0x2222222222222222ull;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_LOGIN, e.login = &lg;
  emit_padded(sc, 10, BOB, &e);

  w.session_id = bob.sid, w.token.data = bob.token, w.client_nonce = lg.client_nonce;
  w.name = (char *)"bob", w.server_time_ms += 10;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_WELCOME, e.welcome = &w;
  emit(sc, 12, SRV, BOB, NULL, 0, NULL, &e);

  Mychat__CreateGroup cg = MYCHAT__CREATE_GROUP__INIT;
  cg.name = (char *)"friends";
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_CREATE_GROUP, e.create_group = &cg;
  emit(sc, 20, ALICE, SRV, &alice, 1, NULL, &e);

  Mychat__Result res = MYCHAT__RESULT__INIT;
  res.request_seq = 1;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_RESULT, e.result = &res;
  emit(sc, 22, SRV, ALICE, &alice, 1, mkack(&a, 1), &e);

  Mychat__JoinGroup jg = MYCHAT__JOIN_GROUP__INIT;
  jg.name = (char *)"friends";
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_JOIN_GROUP, e.join_group = &jg;
  emit(sc, 30, BOB, SRV, &bob, 1, NULL, &e);
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_RESULT, e.result = &res;
  emit(sc, 32, SRV, BOB, &bob, 1, mkack(&a, 1), &e);

  Mychat__SendMessage sm = MYCHAT__SEND_MESSAGE__INIT;
  sm.client_msg_id = 0xc1c1c1c1c1c1c1c1ull, sm.to_case = MYCHAT__SEND_MESSAGE__TO_GROUP;
  sm.group = (char *)"friends", sm.text = (char *)"hello friends, secret plans at noon";
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_SEND, e.send = &sm;
  emit(sc, 40, ALICE, SRV, &alice, 2, mkack(&a, 1), &e);

  Mychat__Sent sent = MYCHAT__SENT__INIT;
  /* Message ids are unique on a server: bench rounds must not reuse them. */
  uint64_t msg_base = 101 + sc->sid_salt * 2;
  sent.request_seq = 2, sent.client_msg_id = sm.client_msg_id, sent.message_id = msg_base;
  sent.server_time_ms = T0_US / 1000 + 42;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_SENT, e.sent = &sent;
  emit(sc, 42, SRV, ALICE, &alice, 2, mkack(&a, 2), &e);

  Mychat__Deliver dl = MYCHAT__DELIVER__INIT;
  dl.message_id = msg_base, dl.from = (char *)"alice", dl.group = (char *)"friends";
  dl.text = sm.text, dl.server_time_ms = sent.server_time_ms;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_DELIVER, e.deliver = &dl;
  emit(sc, 43, SRV, BOB, &bob, 2, mkack(&a, 1), &e);
  ack_only(sc, 45, BOB, &bob, 2);

  sm.client_msg_id = 0xc2c2c2c2c2c2c2c2ull, sm.to_case = MYCHAT__SEND_MESSAGE__TO_USER;
  sm.user = (char *)"bob", sm.text = (char *)"psst bob: the vault code is 0451 \xc3\xa9t\xc3\xa9";
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_SEND, e.send = &sm;
  emit(sc, 50, ALICE, SRV, &alice, 3, mkack(&a, 2), &e);
  sent.request_seq = 3, sent.client_msg_id = sm.client_msg_id, sent.message_id = msg_base + 1;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_SENT, e.sent = &sent;
  emit(sc, 52, SRV, ALICE, &alice, 3, mkack(&a, 3), &e);
  dl.message_id = msg_base + 1, dl.group = (char *)"", dl.text = sm.text;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_DELIVER, e.deliver = &dl;
  emit(sc, 53, SRV, BOB, &bob, 3, mkack(&a, 2), &e);
  /* The first Deliver was lost on its way: the server resends it. */
  emit(sc, 560, SRV, BOB, &bob, 3, mkack(&a, 2), &e);
  ack_only(sc, 562, BOB, &bob, 3);

  Mychat__Receipt rc = MYCHAT__RECEIPT__INIT;
  rc.message_id = msg_base + 1, rc.to = (char *)"bob", rc.delivered_time_ms = T0_US / 1000 + 562;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_RECEIPT, e.receipt = &rc;
  emit(sc, 563, SRV, ALICE, &alice, 4, mkack(&a, 3), &e);
  ack_only(sc, 565, ALICE, &alice, 4);

  Mychat__Ping pi = MYCHAT__PING__INIT;
  pi.time_us = 1000000;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_PING, e.ping = &pi;
  emit(sc, 1000, BOB, SRV, &bob, 0, mkack(&a, 3), &e);
  Mychat__Pong po = MYCHAT__PONG__INIT;
  po.time_us = pi.time_us;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_PONG, e.pong = &po;
  emit(sc, 1001.5, SRV, BOB, &bob, 0, mkack(&a, 2), &e);

  Mychat__ListRequest lr = MYCHAT__LIST_REQUEST__INIT;
  lr.kind = MYCHAT__LIST_KIND__LIST_USERS;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_LIST, e.list = &lr;
  emit(sc, 1100, ALICE, SRV, &alice, 4, mkack(&a, 4), &e);
  Mychat__ListEntry le1 = MYCHAT__LIST_ENTRY__INIT, le2 = MYCHAT__LIST_ENTRY__INIT;
  le1.name = (char *)"alice", le1.online = 1, le2.name = (char *)"bob", le2.online = 1;
  Mychat__ListEntry *ents[] = {&le1, &le2};
  Mychat__ListReply rp = MYCHAT__LIST_REPLY__INIT;
  rp.request_seq = 4, rp.kind = lr.kind, rp.n_entries = 2, rp.entries = ents;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_LIST_REPLY, e.list_reply = &rp;
  emit(sc, 1102, SRV, ALICE, &alice, 5, mkack(&a, 4), &e);

  Mychat__Logout lo = MYCHAT__LOGOUT__INIT;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_LOGOUT, e.logout = &lo;
  emit(sc, 1200, BOB, SRV, &bob, 2, mkack(&a, 3), &e);
  res.request_seq = 2;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_RESULT, e.result = &res;
  emit(sc, 1202, SRV, BOB, &bob, 4, mkack(&a, 2), &e);

  Mychat__Presence pr = MYCHAT__PRESENCE__INIT;
  pr.name = (char *)"bob";
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_PRESENCE, e.presence = &pr;
  emit(sc, 1203, SRV, ALICE, &alice, 6, mkack(&a, 4), &e);
  /* Alice got the Presence (6) but not the ListReply (5). */
  Mychat__AckRange rg = MYCHAT__ACK_RANGE__INIT, *rgs[] = {&rg};
  rg.first = 6, rg.last = 6;
  mychat__envelope__init(&e);
  mkack(&a, 4), a.n_ranges = 1, a.ranges = rgs, a.delay_us = 1500;
  emit(sc, 1210, ALICE, SRV, &alice, 0, &a, &e);
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_LIST_REPLY, e.list_reply = &rp;
  emit(sc, 1211, SRV, ALICE, &alice, 5, mkack(&a, 4), &e);
  ack_only(sc, 1213, ALICE, &alice, 6);

  Mychat__BacklogDone bd = MYCHAT__BACKLOG_DONE__INIT;
  bd.count = 0;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_BACKLOG_DONE, e.backlog_done = &bd;
  emit(sc, 1220, SRV, ALICE, &alice, 7, mkack(&a, 4), &e);
  ack_only(sc, 1240, ALICE, &alice, 7);

  lg.name = (char *)"mallory", lg.password = (char *)"guess-guess", lg.client_nonce = 0x3333333333333333ull;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_LOGIN, e.login = &lg;
  emit_padded(sc, 1300, MALLORY, &e);
  Mychat__Error er = MYCHAT__ERROR__INIT;
  er.code = MYCHAT__ERROR_CODE__AUTH_FAILED, er.text = (char *)"wrong name or password for mallory";
  er.client_nonce = lg.client_nonce;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_ERROR, e.error = &er;
  emit(sc, 1302, SRV, MALLORY, NULL, 0, NULL, &e);

  sess stale = {0xdeadbeef00000009ull, {0}};
  memset(stale.token, 0x99, sizeof stale.token);
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_PING, e.ping = &pi;
  emit(sc, 1400, STRAY, SRV, &stale, 0, NULL, &e);
  er.code = MYCHAT__ERROR_CODE__UNKNOWN_SESSION, er.text = (char *)"no such session", er.client_nonce = 0;
  mychat__envelope__init(&e), e.body_case = MYCHAT__ENVELOPE__BODY_ERROR, e.error = &er;
  emit(sc, 1401, SRV, STRAY, &stale, 0, NULL, &e);
}

/* ---- framings ---- */

typedef enum { F_RAW, F_ETH, F_ETH_VLAN, F_SLL, F_SLL2, F_NULL, F_LOOP } framing;

/* Writes link header |fr| for an IP packet of version |ipv| into |h|;
 * returns its length. */
static size_t link_header(framing fr, int ipv, uint8_t *h) {
  uint16_t et = ipv == 6 ? 0x86dd : 0x0800;
  static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 1}, mac_b[6] = {0x02, 0, 0, 0, 0, 2};
  switch (fr) {
  case F_RAW: return 0;
  case F_ETH:
  case F_ETH_VLAN: {
    memcpy(h, mac_a, 6);
    memcpy(h + 6, mac_b, 6);
    size_t off = 12;
    if (fr == F_ETH_VLAN) {
      h[12] = 0x81, h[13] = 0x00, h[14] = 0x00, h[15] = 42;
      off = 16;
    }
    h[off] = (uint8_t)(et >> 8), h[off + 1] = (uint8_t)et;
    return off + 2;
  }
  case F_SLL:
    memset(h, 0, 16);
    h[1] = 0;               /* packet type: to us */
    h[3] = 1;               /* ARPHRD_ETHER */
    h[5] = 6;               /* address length */
    memcpy(h + 6, mac_a, 6);
    h[14] = (uint8_t)(et >> 8), h[15] = (uint8_t)et;
    return 16;
  case F_SLL2:
    memset(h, 0, 20);
    h[0] = (uint8_t)(et >> 8), h[1] = (uint8_t)et;
    h[7] = 1;               /* interface index */
    h[9] = 1;               /* ARPHRD_ETHER */
    h[11] = 6;
    memcpy(h + 12, mac_a, 6);
    return 20;
  case F_NULL: {            /* host byte order (little-endian here) */
    uint32_t af = ipv == 6 ? 10 : 2;
    memcpy(h, &af, 4);
    return 4;
  }
  case F_LOOP:              /* network byte order */
    h[0] = h[1] = h[2] = 0, h[3] = ipv == 6 ? 24 : 2;
    return 4;
  }
  return 0;
}

static uint32_t linktype_of(framing fr) {
  static const uint32_t lt[] = {MC_PCAP_LINKTYPE_RAW, MC_PCAP_LINKTYPE_ETHERNET,
                                MC_PCAP_LINKTYPE_ETHERNET, MC_PCAP_LINKTYPE_SLL,
                                MC_PCAP_LINKTYPE_SLL2, MC_PCAP_LINKTYPE_NULL,
                                MC_PCAP_LINKTYPE_LOOP};
  return lt[fr];
}

/* Builds the frame of |d| in framing |fr| into |buf|; returns its length. */
static size_t frame_of(const dgram *d, framing fr, uint8_t *buf, size_t cap) {
  size_t h = link_header(fr, d->src.family, buf), n;
  int rc = mc_pcap_build_udp(buf + h, cap - h, &d->src, &d->dst, d->data, d->len, &n);
  if (rc) die("build", rc);
  return h + n;
}

static void path_join(char *out, size_t cap, const char *dir, const char *name) {
  if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap) die(name, MC_ERR_LIMIT);
}

/* Writes the frames of |sc| in framing |fr| (Ethernet with VLAN tags on
 * every other frame) to DIR/NAME. */
static void write_pcap(const script *sc, framing fr, const char *dir, const char *name) {
  char path[1024], err[512];
  path_join(path, sizeof path, dir, name);
  mc_pcap_writer *w;
  if (mc_pcap_writer_open(&w, path, linktype_of(fr), err, sizeof err) < 0) {
    fprintf(stderr, PROG ": %s\n", err);
    exit(1);
  }
  static uint8_t buf[MC_PCAP_PACKET_MAX];
  for (size_t i = 0; i < sc->n; i++) {
    framing f = fr == F_ETH && (i & 1) ? F_ETH_VLAN : fr;
    size_t n = frame_of(&sc->d[i], f, buf, sizeof buf);
    if (mc_pcap_write_frame(w, sc->d[i].ts_us, buf, n) < 0) die(path, MC_ERR_STORAGE);
  }
  if (mc_pcap_writer_close(w) < 0) die(path, MC_ERR_STORAGE);
}

static void put32(FILE *f, uint32_t v) { fwrite(&v, 4, 1, f); }
static void put16(FILE *f, uint16_t v) { fwrite(&v, 2, 1, f); }

/* A pcapng file (host byte order, little-endian here): section header,
 * one Ethernet interface with microsecond timestamps, enhanced packets. */
static void write_pcapng(const script *sc, const char *dir, const char *name) {
  char path[1024];
  path_join(path, sizeof path, dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) die(path, MC_ERR_STORAGE);
  put32(f, 0x0a0d0d0a), put32(f, 28), put32(f, 0x1a2b3c4d);
  put16(f, 1), put16(f, 0), put32(f, 0xffffffff), put32(f, 0xffffffff), put32(f, 28);
  put32(f, 1), put32(f, 20), put16(f, MC_PCAP_LINKTYPE_ETHERNET), put16(f, 0);
  put32(f, 65535), put32(f, 20);
  static uint8_t buf[MC_PCAP_PACKET_MAX];
  for (size_t i = 0; i < sc->n; i++) {
    size_t n = frame_of(&sc->d[i], F_ETH, buf, sizeof buf);
    size_t padded = (n + 3) & ~(size_t)3;
    uint32_t total = (uint32_t)(32 + padded);
    uint64_t ts = sc->d[i].ts_us;
    put32(f, 6), put32(f, total), put32(f, 0);
    put32(f, (uint32_t)(ts >> 32)), put32(f, (uint32_t)ts);
    put32(f, (uint32_t)n), put32(f, (uint32_t)n);
    fwrite(buf, 1, n, f);
    static const uint8_t pad[4];
    fwrite(pad, 1, padded - n, f);
    put32(f, total);
  }
  if (fclose(f) != 0) die(path, MC_ERR_STORAGE);
}

/* The first |keep| bytes of DIR/FROM into DIR/TO. */
static void truncate_copy(const char *dir, const char *from, const char *to, long cut) {
  char pf[1024], pt[1024];
  path_join(pf, sizeof pf, dir, from);
  path_join(pt, sizeof pt, dir, to);
  FILE *in = fopen(pf, "rb"), *out = fopen(pt, "wb");
  if (!in || !out) die(pt, MC_ERR_STORAGE);
  fseek(in, 0, SEEK_END);
  long keep = ftell(in) - cut;
  fseek(in, 0, SEEK_SET);
  for (long i = 0; i < keep; i++) fputc(fgetc(in), out);
  fclose(in);
  if (fclose(out) != 0) die(pt, MC_ERR_STORAGE);
}

/* Datagrams and frames the reader must flag or skip, in raw IP. */
static void write_misc(const char *dir) {
  char path[1024], err[512];
  path_join(path, sizeof path, dir, "misc.pcap");
  mc_pcap_writer *w;
  if (mc_pcap_writer_open(&w, path, MC_PCAP_LINKTYPE_RAW, err, sizeof err) < 0) die(err, 0);
  script sc = {0};
  mc_pcap_endpoint cli = ep(&sc, 5), srv = ep(&sc, 0), dns = cli;
  dns.port = 53;
  uint64_t t = T0_US;
  /* Not MyChat: a DNS-looking datagram, a wrong version, too short. */
  static const uint8_t dnsq[] = {0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  mc_pcap_write_udp(w, t += 1000, &cli, &dns, dnsq, sizeof dnsq);
  mc_pcap_write_udp(w, t += 1000, &cli, &srv, (const uint8_t *)"MYC\x02\x09\x01", 6);
  mc_pcap_write_udp(w, t += 1000, &cli, &srv, (const uint8_t *)"MY", 2);
  /* MyChat prefix, but not protobuf. */
  mc_pcap_write_udp(w, t += 1000, &cli, &srv,
                    (const uint8_t *)"MYC\x01\xff\xff\xff\xff\xff\xff", 10);
  /* Protobuf edge cases: an empty and a short token, a varint over 10
   * bytes, a fixed64 field sent as length-delimited. */
  mc_pcap_write_udp(w, t += 1000, &cli, &srv, (const uint8_t *)"MYC\x01\x12\x00", 6);
  mc_pcap_write_udp(w, t += 1000, &cli, &srv, (const uint8_t *)"MYC\x01\x12\x02zz", 8);
  mc_pcap_write_udp(w, t += 1000, &cli, &srv,
                    (const uint8_t *)"MYC\x01\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 16);
  mc_pcap_write_udp(w, t += 1000, &cli, &srv,
                    (const uint8_t *)"MYC\x01\x8a\x01\x03\x0a\x01\xff", 10);
  /* Parses, but breaks a field rule: a name with a space. */
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  Mychat__JoinGroup jg = MYCHAT__JOIN_GROUP__INIT;
  jg.name = (char *)"bad name!";
  e.session_id = 0x5e55000000000005ull;
  uint8_t tok[MC_TOKEN_LEN] = {0};
  e.token.len = MC_TOKEN_LEN, e.token.data = tok, e.seq = 1;
  e.body_case = MYCHAT__ENVELOPE__BODY_JOIN_GROUP, e.join_group = &jg;
  uint8_t body[256], dg[MC_DATAGRAM_MAX];
  size_t blen, dlen;
  if (mc_codec_encode_body(&e, body, sizeof body, &blen) ||
      mc_codec_encode(&e, body, blen, dg, sizeof dg, &dlen))
    die("encode", MC_ERR_DECODE);
  mc_pcap_write_udp(w, t += 1000, &cli, &srv, dg, dlen);
  /* An empty UDP datagram. */
  mc_pcap_write_udp(w, t += 1000, &cli, &srv, NULL, 0);
  /* A TCP segment (protocol 6): not UDP. */
  uint8_t pkt[128];
  size_t n;
  mc_pcap_build_udp(pkt, sizeof pkt, &cli, &srv, dg, 20, &n);
  pkt[9] = 6;
  mc_pcap_write_frame(w, t += 1000, pkt, n);
  /* The first fragment of a fragmented datagram (MF set). */
  mc_pcap_build_udp(pkt, sizeof pkt, &cli, &srv, dg, dlen < 64 ? dlen : 64, &n);
  pkt[6] = 0x20;
  mc_pcap_write_frame(w, t += 1000, pkt, n);
  /* An IP packet whose header claims more bytes than the frame holds. */
  mc_pcap_build_udp(pkt, sizeof pkt, &cli, &srv, dg, 20, &n);
  mc_pcap_write_frame(w, t += 1000, pkt, n - 10);
  /* Not IP at all. */
  mc_pcap_write_frame(w, t += 1000, (const uint8_t *)"\x00\x01\x02\x03", 4);
  if (mc_pcap_writer_close(w) < 0) die(path, MC_ERR_STORAGE);

  /* A link type this reader does not know (USER0). */
  path_join(path, sizeof path, dir, "unknown-link.pcap");
  if (mc_pcap_writer_open(&w, path, 147, err, sizeof err) < 0) die(err, 0);
  mc_pcap_write_frame(w, T0_US, dnsq, sizeof dnsq);
  if (mc_pcap_writer_close(w) < 0) die(path, MC_ERR_STORAGE);
}

/* IPv6 with a hop-by-hop options header in front of every UDP header. */
static void write_ipv6_ext(const script *sc, const char *dir, const char *name) {
  char path[1024], err[512];
  path_join(path, sizeof path, dir, name);
  mc_pcap_writer *w;
  if (mc_pcap_writer_open(&w, path, MC_PCAP_LINKTYPE_IPV6, err, sizeof err) < 0) die(err, 0);
  static uint8_t buf[MC_PCAP_PACKET_MAX], out[MC_PCAP_PACKET_MAX];
  for (size_t i = 0; i < sc->n; i++) {
    size_t n;
    if (mc_pcap_build_udp(buf, sizeof buf, &sc->d[i].src, &sc->d[i].dst,
                          sc->d[i].data, sc->d[i].len, &n))
      die("build", MC_ERR_INVAL);
    memcpy(out, buf, 40);
    out[6] = 0;                           /* next: hop-by-hop */
    uint16_t plen = (uint16_t)(n - 40 + 8);
    out[4] = (uint8_t)(plen >> 8), out[5] = (uint8_t)plen;
    memset(out + 40, 0, 8);
    out[40] = 17;                         /* then UDP */
    out[42] = 1, out[43] = 4;             /* PadN option filling the rest */
    memcpy(out + 48, buf + 40, n - 40);
    if (mc_pcap_write_frame(w, sc->d[i].ts_us, out, n + 8)) die(path, MC_ERR_STORAGE);
  }
  if (mc_pcap_writer_close(w) < 0) die(path, MC_ERR_STORAGE);
}

static void write_bench(unsigned long n, const char *path) {
  char err[512];
  mc_pcap_writer *w;
  if (mc_pcap_writer_open(&w, path, MC_PCAP_LINKTYPE_RAW, err, sizeof err) < 0) {
    fprintf(stderr, PROG ": %s\n", err);
    exit(1);
  }
  static script sc;
  unsigned long done = 0;
  for (uint32_t round = 0; done < n; round++) {
    memset(&sc, 0, sizeof sc);
    sc.sid_salt = round;
    sc.host = round % 250;
    session_script(&sc);
    for (size_t i = 0; i < sc.n && done < n; i++, done++)
      if (mc_pcap_write_udp(w, sc.d[i].ts_us, &sc.d[i].src, &sc.d[i].dst,
                            sc.d[i].data, sc.d[i].len) < 0)
        die(path, MC_ERR_STORAGE);
  }
  if (mc_pcap_writer_close(w) < 0) die(path, MC_ERR_STORAGE);
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--bench") == 0) {
    write_bench(strtoul(argv[2], NULL, 10), argv[3]);
    return 0;
  }
  if (argc != 2 || argv[1][0] == '-') {
    fprintf(stderr, "Usage: " PROG " DIR | " PROG " --bench N FILE\n");
    return 2;
  }
  const char *dir = argv[1];
  static script sc, sc6;
  session_script(&sc);
  write_pcap(&sc, F_RAW, dir, "session.pcap");
  write_pcap(&sc, F_ETH, dir, "session-eth.pcap");
  write_pcap(&sc, F_SLL, dir, "session-sll.pcap");
  write_pcap(&sc, F_SLL2, dir, "session-sll2.pcap");
  write_pcap(&sc, F_NULL, dir, "session-null.pcap");
  write_pcap(&sc, F_LOOP, dir, "session-loop.pcap");
  write_pcapng(&sc, dir, "session.pcapng");
  truncate_copy(dir, "session.pcap", "truncated.pcap", 40);
  sc6.v6 = 1;
  session_script(&sc6);
  write_pcap(&sc6, F_RAW, dir, "session-ipv6.pcap");
  write_ipv6_ext(&sc6, dir, "session-ipv6-ext.pcap");
  write_misc(dir);
  return 0;
}
