/*
 * mc_server_request_test.c: SendMessage against the server core alone
 * (lib/mc_server_request.c): the message rate of MC-150 and the stored-
 * bytes quota of MC-151 at their edges, and the per-session bound on the
 * request log (MC-153), which no datagram shows.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "mc_codec.h"
#include "mc_codec_pb.h"
#include "mc_memstore.h"
#include "mc_server.h"
#include "mc_tests.h"

typedef struct {
  mc_memstore *ms;
  mc_store store;
  mc_server *srv;
  mc_addr addr;
  uint64_t sid;
  uint8_t token[MC_TOKEN_LEN];
  uint32_t seq;                /* our last request seq */
  uint32_t acked;              /* the server's seqs we have had, in order */
  uint8_t rnd;
  size_t lines;                /* session lines logged */
  uint32_t dropped;            /* their |dropped| counts, summed */
  uint32_t last_dropped;       /* of the last line */
} q_fix;

static void q_random(void *ud, uint8_t *buf, size_t len) {
  q_fix *f = ud;
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(++f->rnd * 37);
}

static void q_log(void *ud, const mc_server_log *rec) {
  q_fix *f = ud;
  if (rec->session_id == 0)
    return;
  f->lines++;
  f->dropped += rec->dropped;
  f->last_dropped = rec->dropped;
}

/* Takes every datagram the server has at |now|; returns the code that
 * answers request |seq| (0 for a Sent), or -1 if none does. Acks what
 * came in order, as a client would with its next datagram. */
static int q_drain(q_fix *f, uint32_t seq, mc_tstamp now) {
  uint8_t d[MC_DATAGRAM_MAX];
  size_t len;
  mc_addr to;
  int code = -1;
  while (mc_server_poll_tx(f->srv, now, &to, d, sizeof d, &len) == 1) {
    Mychat__Envelope *e = NULL;
    CU_ASSERT_EQUAL_FATAL(mc_codec_unpack(d, len, &e), 0);
    if (e->body_case == MYCHAT__ENVELOPE__BODY_WELCOME) {
      f->sid = e->welcome->session_id;
      memcpy(f->token, e->welcome->token.data, MC_TOKEN_LEN);
    }
    if (e->seq == f->acked + 1)
      f->acked = e->seq;
    if (e->body_case == MYCHAT__ENVELOPE__BODY_SENT &&
        e->sent->request_seq == seq)
      code = 0;
    if (e->body_case == MYCHAT__ENVELOPE__BODY_RESULT &&
        e->result->request_seq == seq)
      code = (int)e->result->code;
    mc_codec_free(e);
  }
  return code;
}

static void q_recv(q_fix *f, Mychat__Envelope *e, mc_tstamp now) {
  uint8_t body[MC_DATAGRAM_MAX], d[MC_DATAGRAM_MAX];
  size_t blen, len;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode_body(e, body, sizeof body, &blen), 0);
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode(e, body, blen, d, sizeof d, &len), 0);
  CU_ASSERT_EQUAL(mc_server_recv(f->srv, &f->addr, d, len, now), 0);
}

/* A server with the default settings but a message burst and refill and
 * a byte quota (0: the default), and user "alice" registered and in
 * session. */
static void q_init(q_fix *f, uint32_t burst, uint32_t refill_ms,
                   uint64_t quota) {
  memset(f, 0, sizeof *f);
  mc_server_config c;
  mc_server_config_default(&c);
  c.auth_cost = MC_AUTH_COST_MIN;
  c.msg_burst = burst ? burst : c.msg_burst;
  c.msg_refill_ms = refill_ms ? refill_ms : c.msg_refill_ms;
  c.quota_bytes = quota ? quota : c.quota_bytes;
  const mc_server_config *cfg = &c;
  f->ms = mc_memstore_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(f->ms);
  mc_memstore_as_store(f->ms, &f->store);
  mc_server_callbacks cb = {.user_data = f, .random = q_random, .log = q_log};
  f->srv = mc_server_new(cfg, &f->store, &cb);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f->srv);
  uint8_t ip[4] = {127, 0, 0, 7};
  mc_addr_set_ip(&f->addr, ip, sizeof ip, 5000);
  Mychat__Handshake h = MYCHAT__HANDSHAKE__INIT;
  h.name = (char *)"alice";
  h.password = (char *)"secret-pw";
  h.client_nonce = 77;
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  e.body_case = MYCHAT__ENVELOPE__BODY_REGISTER;
  e.register_ = &h;
  CU_ASSERT_EQUAL_FATAL(mc_codec_pad_handshake(&e), 0);
  q_recv(f, &e, 0);
  mc_auth_job job;
  while (mc_server_poll_auth(f->srv, &job)) {
    mc_auth_job_run(&job);
    CU_ASSERT_EQUAL(mc_server_auth_done(f->srv, &job, 0), 0);
  }
  q_drain(f, 0, 0);
  CU_ASSERT_FATAL(f->sid != 0);
}

static void q_free(q_fix *f) {
  mc_server_del(f->srv);
  mc_memstore_del(f->ms);
}

/* Sends a SendMessage from alice to herself at |now| (|cmid| 0: a new
 * one) and returns the code of its answer (0: Sent). */
static int q_send(q_fix *f, uint64_t cmid, const char *text, mc_tstamp now) {
  Mychat__SendMessage m = MYCHAT__SEND_MESSAGE__INIT;
  m.client_msg_id = cmid ? cmid : 1000 + f->seq;
  m.to_case = MYCHAT__SEND_MESSAGE__TO_USER;
  m.user = (char *)"alice";
  m.text = (char *)text;
  Mychat__Ack ack = MYCHAT__ACK__INIT;
  ack.cumulative = f->acked;
  Mychat__Envelope e = MYCHAT__ENVELOPE__INIT;
  e.session_id = f->sid;
  e.token.len = MC_TOKEN_LEN;
  e.token.data = f->token;
  e.seq = ++f->seq;
  e.ack = &ack;
  e.body_case = MYCHAT__ENVELOPE__BODY_SEND;
  e.send = &m;
  q_recv(f, &e, now);
  return q_drain(f, e.seq, now);
}

/* A burst of 3: the third at one instant passes, the fourth does not;
 * 99 ms later still not, at 100 ms one token, not two. A resend of a
 * stored message is confirmed with the bucket empty (MC-107 first) and
 * takes no token. */
static void test_mc_server_request_msg_rate_edges(void) {
  q_fix f;
  q_init(&f, 3, 100, 0);
  mc_tstamp t = 5 * MC_SEC;
  CU_ASSERT_EQUAL(q_send(&f, 1, "a", t), 0);
  CU_ASSERT_EQUAL(q_send(&f, 2, "b", t), 0);
  CU_ASSERT_EQUAL(q_send(&f, 3, "c", t), 0);
  CU_ASSERT_EQUAL(q_send(&f, 4, "d", t), MC_WIRE_QUOTA_EXCEEDED);
  CU_ASSERT_EQUAL(q_send(&f, 1, "a", t), 0); /* the resend: its Sent */
  CU_ASSERT_EQUAL(q_send(&f, 4, "d", t + 99 * MC_MSEC),
                  MC_WIRE_QUOTA_EXCEEDED);
  CU_ASSERT_EQUAL(q_send(&f, 4, "d", t + 100 * MC_MSEC), 0);
  CU_ASSERT_EQUAL(q_send(&f, 5, "e", t + 100 * MC_MSEC),
                  MC_WIRE_QUOTA_EXCEEDED);
  /* Refused messages were not stored: 4 messages, 4 bytes; 3 refusals
   * counted, not the resend. */
  CU_ASSERT_EQUAL(mc_server_get_stats(f.srv)->messages_stored, 4);
  CU_ASSERT_EQUAL(mc_server_get_stats(f.srv)->quota_refused, 3);
  uint64_t bytes = 0;
  CU_ASSERT_EQUAL(f.store.ops->user_bytes(f.store.st, 1, &bytes), 0);
  CU_ASSERT_EQUAL(bytes, 4);
  q_free(&f);
}

/* A quota of 10 bytes: 5 + 4 stored, 2 more refused (11), 1 stored
 * (exactly 10), 1 more refused; a resend is still confirmed; bytes, not
 * characters. */
static void test_mc_server_request_quota_edges(void) {
  q_fix f;
  q_init(&f, 0, 0, 10);
  CU_ASSERT_EQUAL(q_send(&f, 1, "12345", 0), 0);
  CU_ASSERT_EQUAL(q_send(&f, 2, "1234", 0), 0);
  CU_ASSERT_EQUAL(q_send(&f, 3, "\xc3\xa9", 0), MC_WIRE_QUOTA_EXCEEDED);
  CU_ASSERT_EQUAL(q_send(&f, 3, "1", 0), 0);
  CU_ASSERT_EQUAL(q_send(&f, 4, "1", 0), MC_WIRE_QUOTA_EXCEEDED);
  CU_ASSERT_EQUAL(q_send(&f, 2, "1234", 0), 0);
  CU_ASSERT_EQUAL(mc_server_get_stats(f.srv)->quota_refused, 2);
  uint64_t bytes = 0;
  CU_ASSERT_EQUAL(f.store.ops->user_bytes(f.store.st, 1, &bytes), 0);
  CU_ASSERT_EQUAL(bytes, 10);
  q_free(&f);
}

/* Issue 12: every request made a log line, 170 KB/s for one client. A
 * session gets 40 lines at once (its register line included), then one
 * every 50 ms; the next line says how many were left out, and its end is
 * always logged. */
static void test_mc_server_request_log_bound(void) {
  q_fix f;
  q_init(&f, 1000, 0, 0);
  CU_ASSERT_EQUAL(f.lines, 1);
  for (int i = 0; i < MC_SERVER_LOG_BURST + 20; i++)
    CU_ASSERT_EQUAL_FATAL(q_send(&f, 0, "x", 0), 0);
  CU_ASSERT_EQUAL(f.lines, MC_SERVER_LOG_BURST);
  CU_ASSERT_EQUAL(f.dropped, 0);
  mc_tstamp t = (MC_SERVER_LOG_REFILL_MS - 1) * MC_MSEC;
  CU_ASSERT_EQUAL(q_send(&f, 0, "x", t), 0);
  CU_ASSERT_EQUAL(f.lines, MC_SERVER_LOG_BURST);
  t = MC_SERVER_LOG_REFILL_MS * MC_MSEC;
  CU_ASSERT_EQUAL(q_send(&f, 0, "x", t), 0);
  CU_ASSERT_EQUAL(f.lines, MC_SERVER_LOG_BURST + 1);
  CU_ASSERT_EQUAL(f.last_dropped, 22);
  CU_ASSERT_EQUAL(q_send(&f, 0, "x", t), 0); /* dropped */
  CU_ASSERT_EQUAL(f.lines, MC_SERVER_LOG_BURST + 1);
  CU_ASSERT_EQUAL(mc_server_get_stats(f.srv)->log_dropped, 23);
  mc_server_shutdown(f.srv, t);              /* the end line comes */
  CU_ASSERT_EQUAL(f.lines, MC_SERVER_LOG_BURST + 2);
  CU_ASSERT_EQUAL(f.last_dropped, 1);
  q_free(&f);
}

static CU_TestInfo tests[] = {
    {"msg_rate_edges", test_mc_server_request_msg_rate_edges},
    {"quota_edges", test_mc_server_request_quota_edges},
    {"log_bound", test_mc_server_request_log_bound},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_server_request_suite = {.pName = "server_request",
                                        .pTests = tests};
