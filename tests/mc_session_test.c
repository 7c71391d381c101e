/*
 * Client and server session logic, talking through impaired in-memory links
 * with the in-memory store (tests/mc_world.h). Every feature of the chat is
 * exercised through the public client API and checked by the events the
 * clients see.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mc_codec_pb.h"
#include "mc_error.h"
#include "mc_tests.h"
#include "mc_world.h"

#define ALICE 0
#define BOB 1
#define CAROL 2

static void run_for(world *w, mc_tstamp d) { world_run(w, d, NULL, NULL); }

typedef struct {
  int client;
  mc_client_event_type type;
  size_t count;
} wait_for;

static int has_events(world *w, void *arg) {
  const wait_for *f = arg;
  return world_count(w, f->client, f->type) >= f->count;
}

/* Runs until client |i| has |count| events of |type| in all, at most a
 * minute of virtual time (losses may need several retransmissions). */
static void run_until(world *w, int i, mc_client_event_type type,
                      size_t count) {
  wait_for f = {i, type, count};
  world_run(w, 60 * MC_SEC, has_events, &f);
}

static const mc_client_event *last_event(const world *w, int i,
                                         mc_client_event_type t) {
  size_t n = world_count(w, i, t);
  return n ? world_event(w, i, t, n - 1) : NULL;
}

static void join(world *w, int i, const char *group) {
  size_t before = world_count(w, i, MC_CEV_RESULT);
  CU_ASSERT_EQUAL_FATAL(mc_client_group(w->cl[i].c,
                                        MC_KIND_JOIN_GROUP,
                                        group, w->now, NULL),
                        0);
  run_until(w, i, MC_CEV_RESULT, before + 1);
  const mc_client_event *e = last_event(w, i, MC_CEV_RESULT);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(e->code, 0);
}

static void say(world *w, int i, const char *to_user, const char *to_group,
                const char *text) {
  CU_ASSERT_EQUAL_FATAL(mc_client_send_text(w->cl[i].c, to_user, to_group,
                                            text, w->now, NULL, NULL),
                        0);
}

/* ---- accounts ---- */

static void test_mc_session_register_login(void) {
  world w;
  world_init(&w, 2, NULL, 1);
  CU_ASSERT_TRUE(world_connect(&w, ALICE, "alice", 1));
  const mc_client_event *e = world_event(&w, ALICE, MC_CEV_CONNECTED, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_STRING_EQUAL(e->name, "alice");
  /* The same name cannot be registered twice. */
  CU_ASSERT_FALSE(world_connect(&w, BOB, "alice", 1));
  e = world_event(&w, BOB, MC_CEV_CONNECT_FAILED, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(e->code, MYCHAT__ERROR_CODE__NAME_TAKEN);
  /* Logging out and in again works. */
  CU_ASSERT_EQUAL(mc_client_logout(w.cl[ALICE].c, w.now), 0);
  run_for(&w, 2 * MC_SEC);
  e = last_event(&w, ALICE, MC_CEV_CLOSED);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(e->code, 0);
  CU_ASSERT_EQUAL(mc_server_get_stats(w.srv)->sessions, 0);
  CU_ASSERT_TRUE(world_connect(&w, ALICE, "alice", 0));
  world_free(&w);
}

static void test_mc_session_wrong_password(void) {
  world w;
  world_init(&w, 2, NULL, 2);
  CU_ASSERT_TRUE(world_connect(&w, ALICE, "alice", 1));
  CU_ASSERT_EQUAL(mc_client_connect(w.cl[BOB].c, "alice", "not-her-pw", 0,
                                    w.now),
                  0);
  run_for(&w, 3 * MC_SEC);
  const mc_client_event *e = world_event(&w, BOB, MC_CEV_CONNECT_FAILED, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(e->code, MYCHAT__ERROR_CODE__AUTH_FAILED);
  /* Alice's session is untouched. */
  CU_ASSERT_EQUAL(mc_client_get_state(w.cl[ALICE].c), MC_CLIENT_ESTABLISHED);
  /* Unknown users fail the same way. */
  CU_ASSERT_FALSE(world_connect(&w, BOB, "nobody", 0));
  e = last_event(&w, BOB, MC_CEV_CONNECT_FAILED);
  CU_ASSERT_EQUAL(e->code, MYCHAT__ERROR_CODE__AUTH_FAILED);
  world_free(&w);
}

static void test_mc_session_rate_limited(void) {
  world w;
  world_init(&w, 2, NULL, 3);
  CU_ASSERT_TRUE(world_connect(&w, ALICE, "alice", 1));
  int limited = 0;
  for (int k = 0; k < 8; k++) {
    mc_client_connect(w.cl[BOB].c, "alice", "guess-guess", 0, w.now);
    run_for(&w, 100 * MC_MSEC);
    const mc_client_event *e = last_event(&w, BOB, MC_CEV_CONNECT_FAILED);
    if (e && e->code == MC_WIRE_RATE_LIMITED)
      limited++;
  }
  /* A burst of 5 is allowed (one went to alice's own registration from
   * another address, which does not count against bob's address). */
  CU_ASSERT(limited >= 3);
  world_free(&w);
}

static void test_mc_session_no_server(void) {
  /* A link that loses everything: the handshake gives up after 15 s. */
  mc_netem_config net = {.loss = 1.0};
  world w;
  world_init(&w, 1, &net, 4);
  mc_tstamp start = w.now;
  CU_ASSERT_FALSE(world_connect(&w, ALICE, "alice", 1));
  const mc_client_event *e = world_event(&w, ALICE, MC_CEV_CONNECT_FAILED, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(e->code, 0);
  CU_ASSERT(w.now - start >= 15 * MC_SEC && w.now - start < 16 * MC_SEC);
  world_free(&w);
}

/* ---- the drive contract ---- */

/* The host's loop of mc_client.h and mc_server.h: world_run asserts after
 * every instant that no deadline is left at or before it. These runs take
 * every timer there is through it: handshake retransmission and give-up,
 * retransmission under loss, keepalive, silence on both sides, the linger
 * after a logout. */
static void test_mc_session_drive_contract(void) {
  world w;
  mc_netem_config lossy = {.loss = 0.3, .delay = 20 * MC_MSEC,
                           .jitter = 10 * MC_MSEC, .duplicate = 0.05};
  world_init(&w, 2, &lossy, 24);
  int up = 0;
  for (int k = 0; !up && k < 4; k++)
    up = world_connect(&w, ALICE, "alice", k == 0);
  CU_ASSERT_TRUE_FATAL(up);
  for (int k = 0; k < 20; k++)
    say(&w, ALICE, "alice", NULL, "to myself");
  run_until(&w, ALICE, MC_CEV_MESSAGE, 20);
  CU_ASSERT_EQUAL(mc_client_logout(w.cl[ALICE].c, w.now), 0);
  run_until(&w, ALICE, MC_CEV_CLOSED, 1);
  run_for(&w, 20 * MC_SEC); /* the server's linger runs out */
  CU_ASSERT_EQUAL(mc_server_get_stats(w.srv)->sessions, 0);

  /* The server goes deaf: the client pings, then gives the session up;
   * the server times it out on its side. */
  up = 0;
  for (int k = 0; !up && k < 4; k++)
    up = world_connect(&w, BOB, "bob", k == 0);
  CU_ASSERT_TRUE_FATAL(up);
  w.server_deaf = 1;
  run_until(&w, BOB, MC_CEV_CLOSED, 1);
  CU_ASSERT_EQUAL(mc_client_get_state(w.cl[BOB].c), MC_CLIENT_CLOSED);
  run_for(&w, 40 * MC_SEC);
  CU_ASSERT_EQUAL(mc_server_get_stats(w.srv)->sessions, 0);
  CU_ASSERT(mc_server_get_stats(w.srv)->sessions_timed_out >= 1);
  /* A handshake to a deaf server gives up. */
  CU_ASSERT_FALSE(world_connect(&w, BOB, "bob", 0));
  CU_ASSERT_EQUAL(world_count(&w, BOB, MC_CEV_CONNECT_FAILED), 1);
  CU_ASSERT_EQUAL(mc_client_expiry(w.cl[BOB].c), MC_TSTAMP_NEVER);
  CU_ASSERT_EQUAL(mc_server_expiry(w.srv), MC_TSTAMP_NEVER);
  world_free(&w);
}

/* ---- chat ---- */

static void test_mc_session_group_fanout(void) {
  world w;
  world_init(&w, 3, NULL, 5);
  const char *names[] = {"alice", "bob", "carol"};
  for (int i = 0; i < 3; i++) {
    CU_ASSERT_TRUE_FATAL(world_connect(&w, i, names[i], 1));
    join(&w, i, "MyChat");
  }
  say(&w, ALICE, NULL, "MyChat", "hello all");
  run_for(&w, 2 * MC_SEC);
  const mc_client_event *sent = world_event(&w, ALICE, MC_CEV_SENT, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sent);
  CU_ASSERT(sent->message_id > 0);
  CU_ASSERT(sent->time_ms > 0);
  for (int i = BOB; i <= CAROL; i++) {
    CU_ASSERT_EQUAL(world_count(&w, i, MC_CEV_MESSAGE), 1);
    const mc_client_event *m = world_event(&w, i, MC_CEV_MESSAGE, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_STRING_EQUAL(m->text, "hello all");
    CU_ASSERT_STRING_EQUAL(m->name, "alice");
    CU_ASSERT_STRING_EQUAL(m->group, "MyChat");
    CU_ASSERT_EQUAL(m->message_id, sent->message_id);
    CU_ASSERT_FALSE(m->missed);
  }
  /* The sender does not get its own message back; groups get no receipt. */
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_MESSAGE), 0);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_DELIVERED), 0);
  world_free(&w);
}

static void test_mc_session_direct_sent_delivered(void) {
  world w;
  world_init(&w, 2, NULL, 6);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 1));
  CU_ASSERT_TRUE_FATAL(world_connect(&w, BOB, "bob", 1));
  say(&w, ALICE, "bob", NULL, "hi bob");
  run_for(&w, 2 * MC_SEC);
  const mc_client_event *sent = world_event(&w, ALICE, MC_CEV_SENT, 0);
  const mc_client_event *dlv = world_event(&w, ALICE, MC_CEV_DELIVERED, 0);
  const mc_client_event *msg = world_event(&w, BOB, MC_CEV_MESSAGE, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sent);
  CU_ASSERT_PTR_NOT_NULL_FATAL(dlv);
  CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
  CU_ASSERT_EQUAL(dlv->message_id, sent->message_id);
  CU_ASSERT_STRING_EQUAL(dlv->name, "bob");
  CU_ASSERT_STRING_EQUAL(msg->text, "hi bob");
  CU_ASSERT_STRING_EQUAL(msg->group, "");
  CU_ASSERT_EQUAL(mc_client_unconfirmed(w.cl[ALICE].c), 0);
  world_free(&w);
}

/* alice and bob register, bob logs out, and alice sends him |first| and
 * |second|. */
static void offline_bob_gets_two(world *w, uint64_t seed, const char *first,
                                 const char *second) {
  world_init(w, 2, NULL, seed);
  CU_ASSERT_TRUE_FATAL(world_connect(w, ALICE, "alice", 1));
  CU_ASSERT_TRUE_FATAL(world_connect(w, BOB, "bob", 1));
  mc_client_logout(w->cl[BOB].c, w->now);
  run_for(w, 2 * MC_SEC);
  say(w, ALICE, "bob", NULL, first);
  say(w, ALICE, "bob", NULL, second);
  run_for(w, 2 * MC_SEC);
}

static void test_mc_session_offline_direct_backlog(void) {
  world w;
  offline_bob_gets_two(&w, 7, "are you there?", "second");
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_SENT), 2);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_DELIVERED), 0);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, BOB, "bob", 0));
  run_for(&w, 2 * MC_SEC);
  CU_ASSERT_EQUAL_FATAL(world_count(&w, BOB, MC_CEV_MESSAGE), 2);
  const mc_client_event *m0 = world_event(&w, BOB, MC_CEV_MESSAGE, 0);
  const mc_client_event *m1 = world_event(&w, BOB, MC_CEV_MESSAGE, 1);
  CU_ASSERT_STRING_EQUAL(m0->text, "are you there?");
  CU_ASSERT_STRING_EQUAL(m1->text, "second");
  CU_ASSERT_TRUE(m0->missed && m1->missed);
  const mc_client_event *bd = last_event(&w, BOB, MC_CEV_BACKLOG_DONE);
  CU_ASSERT_PTR_NOT_NULL_FATAL(bd);
  CU_ASSERT_EQUAL(bd->count, 2);
  /* Both receipts reach the sender once the recipient has them. */
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_DELIVERED), 2);
  world_free(&w);
}

/* Regression (issue 13): a session's Receipts waited behind every pending
 * Deliver, so under a steady stream of messages a sender saw no
 * "delivered" until the stream stopped. Alice comes back to 45 missed
 * messages (more than the push window of 32) and 20 receipts: the
 * receipts must start within the Delivers' share of the window (24),
 * not after all 45, and nothing may be lost or reordered for it. */
static void test_mc_session_receipts_among_backlog(void) {
  enum { RECEIPTS = 20, MISSED = 45, DELIVER_SHARE = 24 };
  world w;
  world_init(&w, 3, NULL, 31);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 1));
  CU_ASSERT_TRUE_FATAL(world_connect(&w, BOB, "bob", 1));
  CU_ASSERT_TRUE_FATAL(world_connect(&w, CAROL, "carol", 1));
  mc_client_logout(w.cl[BOB].c, w.now);
  run_for(&w, 2 * MC_SEC);
  char text[32];
  for (int k = 0; k < RECEIPTS; k++) {
    snprintf(text, sizeof text, "to bob %d", k);
    say(&w, ALICE, "bob", NULL, text);
  }
  run_until(&w, ALICE, MC_CEV_SENT, RECEIPTS);
  mc_client_logout(w.cl[ALICE].c, w.now);
  run_for(&w, 2 * MC_SEC);
  /* Bob takes them while Alice is away: 20 receipts wait for her. */
  CU_ASSERT_TRUE_FATAL(world_connect(&w, BOB, "bob", 0));
  run_until(&w, BOB, MC_CEV_MESSAGE, RECEIPTS);
  for (int k = 0; k < MISSED; k++) {
    snprintf(text, sizeof text, "to alice %d", k);
    say(&w, CAROL, "alice", NULL, text);
  }
  run_until(&w, CAROL, MC_CEV_SENT, MISSED);
  CU_ASSERT_EQUAL_FATAL(world_count(&w, CAROL, MC_CEV_SENT), MISSED);
  size_t base = w.cl[ALICE].n_ev;
  size_t delivered_before = world_count(&w, ALICE, MC_CEV_DELIVERED);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 0));
  run_until(&w, ALICE, MC_CEV_DELIVERED, delivered_before + RECEIPTS);
  run_for(&w, 2 * MC_SEC);
  size_t messages = 0, receipts = 0, first_receipt_after = SIZE_MAX;
  size_t done_after = SIZE_MAX;
  for (size_t k = base; k < w.cl[ALICE].n_ev; k++) {
    const mc_client_event *e = &w.cl[ALICE].ev[k];
    if (e->type == MC_CEV_MESSAGE) {
      CU_ASSERT_TRUE(e->missed);
      snprintf(text, sizeof text, "to alice %zu", messages);
      CU_ASSERT_STRING_EQUAL(e->text, text); /* message-id order */
      messages++;
    } else if (e->type == MC_CEV_DELIVERED) {
      if (receipts++ == 0)
        first_receipt_after = messages;
    } else if (e->type == MC_CEV_BACKLOG_DONE) {
      CU_ASSERT_EQUAL(e->count, MISSED);
      done_after = messages;
    }
  }
  CU_ASSERT_EQUAL(messages, MISSED);
  CU_ASSERT_EQUAL(receipts, RECEIPTS);
  CU_ASSERT_EQUAL(done_after, MISSED); /* after the last missed Deliver */
  CU_ASSERT(first_receipt_after <= DELIVER_SHARE);
  world_free(&w);
}

static void test_mc_session_offline_group_backlog(void) {
  world w;
  world_init(&w, 3, NULL, 8);
  const char *names[] = {"alice", "bob", "carol"};
  for (int i = 0; i < 3; i++) {
    CU_ASSERT_TRUE_FATAL(world_connect(&w, i, names[i], 1));
    join(&w, i, "MyChat");
  }
  mc_client_logout(w.cl[ALICE].c, w.now);
  run_for(&w, 2 * MC_SEC);
  char text[32];
  for (int k = 0; k < 50; k++) {
    snprintf(text, sizeof text, "msg %d", k);
    say(&w, k % 2 ? BOB : CAROL, NULL, "MyChat", text);
    /* One at a time, so the store's order is the order of k. */
    run_for(&w, 10 * MC_MSEC);
  }
  run_for(&w, 3 * MC_SEC);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 0));
  run_for(&w, 5 * MC_SEC);
  CU_ASSERT_EQUAL_FATAL(world_count(&w, ALICE, MC_CEV_MESSAGE), 50);
  uint64_t last = 0;
  for (int k = 0; k < 50; k++) {
    const mc_client_event *m = world_event(&w, ALICE, MC_CEV_MESSAGE, k);
    snprintf(text, sizeof text, "msg %d", k);
    CU_ASSERT_STRING_EQUAL(m->text, text);
    CU_ASSERT_TRUE(m->missed);
    CU_ASSERT(m->message_id > last);
    last = m->message_id;
  }
  CU_ASSERT_EQUAL(last_event(&w, ALICE, MC_CEV_BACKLOG_DONE)->count, 50);
  /* A second login gets nothing again: delivered means delivered. */
  mc_client_logout(w.cl[ALICE].c, w.now);
  run_for(&w, 2 * MC_SEC);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 0));
  run_for(&w, 2 * MC_SEC);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_MESSAGE), 50);
  CU_ASSERT_EQUAL(last_event(&w, ALICE, MC_CEV_BACKLOG_DONE)->count, 0);
  world_free(&w);
}

static void test_mc_session_presence(void) {
  world w;
  world_init(&w, 2, NULL, 9);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 1));
  join(&w, ALICE, "MyChat");
  CU_ASSERT_TRUE_FATAL(world_connect(&w, BOB, "bob", 1));
  join(&w, BOB, "MyChat");
  /* Bob was not in a shared group at login; log in again to be seen. */
  mc_client_logout(w.cl[BOB].c, w.now);
  run_for(&w, 2 * MC_SEC);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, BOB, "bob", 0));
  run_for(&w, 1 * MC_SEC);
  size_t n = world_count(&w, ALICE, MC_CEV_PRESENCE);
  CU_ASSERT_FATAL(n >= 2);
  const mc_client_event *off = world_event(&w, ALICE, MC_CEV_PRESENCE, n - 2);
  const mc_client_event *on = world_event(&w, ALICE, MC_CEV_PRESENCE, n - 1);
  CU_ASSERT_STRING_EQUAL(off->name, "bob");
  CU_ASSERT_FALSE(off->online);
  CU_ASSERT_STRING_EQUAL(on->name, "bob");
  CU_ASSERT_TRUE(on->online);
  /* The user list shows who is online. */
  mc_client_list(w.cl[ALICE].c, MC_LIST_USERS, "", w.now,
                 NULL);
  run_for(&w, 1 * MC_SEC);
  const mc_client_event *l = last_event(&w, ALICE, MC_CEV_LIST);
  CU_ASSERT_PTR_NOT_NULL_FATAL(l);
  CU_ASSERT_EQUAL_FATAL(l->n_entries, 2);
  CU_ASSERT_STRING_EQUAL(l->entries[0].name, "alice");
  CU_ASSERT_STRING_EQUAL(l->entries[1].name, "bob");
  CU_ASSERT_TRUE(l->entries[1].online);
  /* Bob goes silent: the server times him out and says so. */
  mc_client_abandon(w.cl[BOB].c);
  run_for(&w, 40 * MC_SEC);
  const mc_client_event *gone = last_event(&w, ALICE, MC_CEV_PRESENCE);
  CU_ASSERT_STRING_EQUAL(gone->name, "bob");
  CU_ASSERT_FALSE(gone->online);
  CU_ASSERT_EQUAL(mc_server_get_stats(w.srv)->sessions_timed_out, 1);
  world_free(&w);
}

static void test_mc_session_group_errors(void) {
  world w;
  world_init(&w, 1, NULL, 10);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 1));
  struct {
    mc_body_kind kind;
    const char *group;
    int code;
  } cases[] = {
      {MC_KIND_JOIN_GROUP, "nosuch", MC_WIRE_NO_SUCH_GROUP},
      {MC_KIND_LEAVE_GROUP, "MyChat", MC_WIRE_NOT_MEMBER},
      {MC_KIND_CREATE_GROUP, "MyChat", MC_WIRE_GROUP_EXISTS},
      {MC_KIND_CREATE_GROUP, "team", 0},
      {MC_KIND_JOIN_GROUP, "team", MC_WIRE_ALREADY_MEMBER},
      {MC_KIND_LEAVE_GROUP, "team", 0},
      {MC_KIND_LEAVE_GROUP, "nosuch", MC_WIRE_NO_SUCH_GROUP},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    uint32_t req;
    CU_ASSERT_EQUAL_FATAL(mc_client_group(w.cl[ALICE].c, cases[k].kind,
                                          cases[k].group, w.now, &req),
                          0);
    run_for(&w, 1 * MC_SEC);
    const mc_client_event *e = last_event(&w, ALICE, MC_CEV_RESULT);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->request, req);
    CU_ASSERT_EQUAL(e->code, cases[k].code);
  }
  /* Writing to a group one is not in, or to nobody, is refused and the
   * message is not kept for resending. */
  say(&w, ALICE, NULL, "MyChat", "let me in");
  say(&w, ALICE, "ghost", NULL, "boo");
  run_for(&w, 1 * MC_SEC);
  size_t n = world_count(&w, ALICE, MC_CEV_RESULT);
  CU_ASSERT_EQUAL(world_event(&w, ALICE, MC_CEV_RESULT, n - 2)->code,
                  MYCHAT__ERROR_CODE__NOT_MEMBER);
  CU_ASSERT_EQUAL(world_event(&w, ALICE, MC_CEV_RESULT, n - 1)->code,
                  MYCHAT__ERROR_CODE__NO_SUCH_USER);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_SENT), 0);
  CU_ASSERT_EQUAL(mc_client_unconfirmed(w.cl[ALICE].c), 0);
  world_free(&w);
}

static void test_mc_session_list_paging(void) {
  world w;
  world_init(&w, 1, NULL, 11);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 1));
  char name[16];
  for (int k = 0; k < 25; k++) {
    snprintf(name, sizeof name, "g%02d", k);
    mc_client_group(w.cl[ALICE].c, MC_KIND_CREATE_GROUP, name,
                    w.now, NULL);
  }
  run_for(&w, 2 * MC_SEC);
  /* 25 groups plus MyChat: 20 on the first page, 6 on the second. */
  mc_client_list(w.cl[ALICE].c, MC_LIST_GROUPS, "", w.now,
                 NULL);
  run_for(&w, 1 * MC_SEC);
  const mc_client_event *p1 = last_event(&w, ALICE, MC_CEV_LIST);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p1);
  CU_ASSERT_EQUAL(p1->n_entries, MC_LIST_PAGE_MAX);
  CU_ASSERT_TRUE(p1->more);
  mc_client_list(w.cl[ALICE].c, MC_LIST_GROUPS,
                 p1->entries[p1->n_entries - 1].name, w.now, NULL);
  run_for(&w, 1 * MC_SEC);
  const mc_client_event *p2 = last_event(&w, ALICE, MC_CEV_LIST);
  CU_ASSERT_EQUAL(p2->n_entries, 6);
  CU_ASSERT_FALSE(p2->more);
  /* Names sort bytewise: "MyChat" before "g00". */
  CU_ASSERT_STRING_EQUAL(p1->entries[0].name, "MyChat");
  CU_ASSERT_STRING_EQUAL(p2->entries[0].name, "g19");
  CU_ASSERT_STRING_EQUAL(p2->entries[5].name, "g24");
  /* Creating more than the per-user limit of groups is refused. */
  size_t results = world_count(&w, ALICE, MC_CEV_RESULT);
  for (size_t k = 0; k < results; k++)
    CU_ASSERT_EQUAL(world_event(&w, ALICE, MC_CEV_RESULT, k)->code, 0);
  for (int k = 25; k < 40; k++) {
    snprintf(name, sizeof name, "g%02d", k);
    mc_client_group(w.cl[ALICE].c, MC_KIND_CREATE_GROUP, name,
                    w.now, NULL);
  }
  run_for(&w, 2 * MC_SEC);
  CU_ASSERT_EQUAL(last_event(&w, ALICE, MC_CEV_RESULT)->code,
                  MYCHAT__ERROR_CODE__TOO_MANY_GROUPS);
  world_free(&w);
}

/* ---- robustness ---- */

static void test_mc_session_storage_failure_not_confirmed(void) {
  world w;
  world_init(&w, 2, NULL, 12);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 1));
  CU_ASSERT_TRUE_FATAL(world_connect(&w, BOB, "bob", 1));
  mc_memstore_fail_after(w.ms, 0);
  say(&w, ALICE, "bob", NULL, "will not be stored");
  run_for(&w, 1 * MC_SEC);
  mc_memstore_fail_after(w.ms, -1);
  const mc_client_event *e = last_event(&w, ALICE, MC_CEV_RESULT);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(e->code, MYCHAT__ERROR_CODE__INTERNAL);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_SENT), 0);
  CU_ASSERT_EQUAL(world_count(&w, BOB, MC_CEV_MESSAGE), 0);
  world_free(&w);
}

/* Issue 12: acknowledgements the store fails to record were lost, so the
 * same Delivers (and Receipts) went out again in every later session. They
 * are kept and recorded once the store works again (MC-139): then the
 * sender gets its receipts and a new session of the recipient gets no
 * Deliver twice. */
static void test_mc_session_unrecorded_ack_retried(void) {
  world w;
  offline_bob_gets_two(&w, 21, "one", "two");
  CU_ASSERT_TRUE_FATAL(world_connect(&w, BOB, "bob", 0));
  /* Bob's first datagram reaches the server, which pushes the backlog only
   * then (MC-141); the store fails before bob's acks of it arrive. */
  world_run(&w, MC_MSEC + MC_MSEC / 2, NULL, NULL);
  mc_memstore_fail_after(w.ms, 0);
  run_for(&w, 500 * MC_MSEC);
  CU_ASSERT_EQUAL(world_count(&w, BOB, MC_CEV_MESSAGE), 2);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_DELIVERED), 0);
  mc_memstore_fail_after(w.ms, -1);
  uint64_t bob_id;
  CU_ASSERT_EQUAL_FATAL(w.store.ops->user_find(w.store.st, "bob", &bob_id,
                                               NULL, 0), 0);
  mc_store_msg pend[4];
  size_t n;
  CU_ASSERT_EQUAL(w.store.ops->pending(w.store.st, bob_id, 0, pend, 4, &n),
                  0);
  CU_ASSERT_EQUAL(n, 2); /* not recorded yet */
  run_for(&w, 2 * MC_SEC); /* the retry */
  CU_ASSERT_EQUAL(w.store.ops->pending(w.store.st, bob_id, 0, pend, 4, &n),
                  0);
  CU_ASSERT_EQUAL(n, 0);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_DELIVERED), 2);
  mc_client_logout(w.cl[BOB].c, w.now);
  run_for(&w, 2 * MC_SEC);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, BOB, "bob", 0));
  run_for(&w, 2 * MC_SEC);
  CU_ASSERT_EQUAL(mc_server_get_stats(w.srv)->delivers_sent, 2);
  world_free(&w);
}

static void test_mc_session_bad_token_and_junk(void) {
  world w;
  world_init(&w, 2, NULL, 13);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 1));
  /* A datagram for a session that does not exist, as small as it gets:
   * even an empty Error UNKNOWN_SESSION echoing its header would be larger,
   * so it gets no answer (MC-60). */
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  uint8_t tok[MC_TOKEN_LEN] = {1, 2, 3};
  env.session_id = 0x1234;
  env.token.data = tok;
  env.token.len = sizeof tok;
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode(&env, NULL, 0, buf, sizeof buf, &len), 0);
  CU_ASSERT_EQUAL(world_inject(&w, BOB, buf, len), 0);
  /* A request in that unknown session is long enough to be answered, by an
   * Error no larger than it. */
  Mychat__Envelope req = MYCHAT__ENVELOPE__INIT;
  Mychat__SendMessage sm = MYCHAT__SEND_MESSAGE__INIT;
  sm.client_msg_id = 9;
  sm.to_case = MYCHAT__SEND_MESSAGE__TO_USER;
  sm.user = (char *)"alice";
  sm.text = (char *)"let me in, I have a token of sorts";
  req.body_case = MYCHAT__ENVELOPE__BODY_SEND;
  req.send = &sm;
  uint8_t body[MC_DATAGRAM_MAX];
  size_t blen;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode_body(&req, body, sizeof body, &blen), 0);
  env.seq = 1;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode(&env, body, blen, buf, sizeof buf, &len), 0);
  int answer = world_inject(&w, BOB, buf, len);
  CU_ASSERT(answer > 0 && (size_t)answer <= len);
  CU_ASSERT_EQUAL(mc_server_get_stats(w.srv)->messages_stored, 0);
  /* Junk of every small size after a valid prefix: never a larger answer. */
  mc_rng r;
  mc_rng_seed(&r, 99);
  for (size_t n = 4; n < 64; n++) {
    buf[0] = 'M', buf[1] = 'Y', buf[2] = 'C', buf[3] = 1;
    mc_rng_bytes(&r, buf + 4, n - 4);
    answer = world_inject(&w, BOB, buf, n);
    CU_ASSERT((size_t)answer <= n);
  }
  /* A short Login (not padded) gets no answer at all. */
  Mychat__Handshake lg = MYCHAT__HANDSHAKE__INIT;
  lg.name = (char *)"alice";
  lg.password = (char *)"pw-alice";
  lg.client_nonce = 5;
  env = (Mychat__Envelope)MYCHAT__ENVELOPE__INIT;
  env.body_case = MYCHAT__ENVELOPE__BODY_LOGIN;
  env.login = &lg;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode_body(&env, body, sizeof body, &blen), 0);
  Mychat__Envelope hdr = MYCHAT__ENVELOPE__INIT;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode(&hdr, body, blen, buf, sizeof buf, &len), 0);
  CU_ASSERT_EQUAL(world_inject(&w, BOB, buf, len), 0);
  /* Not MyChat at all: silence. */
  CU_ASSERT_EQUAL(world_inject(&w, BOB, (const uint8_t *)"GET / HTTP/1.0\r\n", 16), 0);
  /* Alice still chats with herself. */
  say(&w, ALICE, "alice", NULL, "still here");
  run_for(&w, 1 * MC_SEC);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_SENT), 1);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_MESSAGE), 1);
  world_free(&w);
}

static void test_mc_session_address_change(void) {
  world w;
  world_init(&w, 2, NULL, 14);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 1));
  CU_ASSERT_TRUE_FATAL(world_connect(&w, BOB, "bob", 1));
  /* NAT rebinding: alice's packets now come from a new port. */
  uint8_t a[6] = {127, 0, 0, 1, 0x99, 0x01};
  mc_addr_set(&w.cl[ALICE].addr, a, sizeof a);
  say(&w, ALICE, "bob", NULL, "from my new address");
  run_for(&w, 2 * MC_SEC);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_SENT), 1);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_DELIVERED), 1);
  CU_ASSERT_EQUAL(world_count(&w, BOB, MC_CEV_MESSAGE), 1);
  world_free(&w);
}

/* Issue 12: the NAT rebinds an idle client. Its next Ping moves the
 * session (MC-143), but the new address is held to three times what came
 * from it until an ack validates it (MC-142): a long message waits for the
 * budget its Pings bring. The server holds the Pong back meanwhile, so the
 * unanswered Pings come every keepalive_ms / 10 (MC-62) and the message
 * arrives within seconds, not the minute that Pings every keepalive_ms
 * answered by Pongs would take. Once delivered (and acked), the address is
 * validated and the next message comes at once. */
static void test_mc_session_rebinding_idle(void) {
  world w;
  world_init(&w, 2, NULL, 31);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 1));
  CU_ASSERT_TRUE_FATAL(world_connect(&w, BOB, "bob", 1));
  run_for(&w, MC_SEC);
  uint8_t a[6] = {127, 0, 0, 1, 0x99, 0x02};
  mc_addr_set(&w.cl[ALICE].addr, a, sizeof a);
  run_for(&w, MC_KEEPALIVE_MS_DEFAULT * (mc_tstamp)MC_MSEC + MC_SEC);
  CU_ASSERT_EQUAL(mc_server_get_stats(w.srv)->migrations, 1);
  char text[MC_TEXT_MAX + 1];
  memset(text, 'x', MC_TEXT_MAX);
  text[MC_TEXT_MAX] = '\0';
  mc_tstamp t0 = w.now;
  say(&w, BOB, "alice", NULL, text);
  run_until(&w, ALICE, MC_CEV_MESSAGE, 1);
  CU_ASSERT_EQUAL_FATAL(world_count(&w, ALICE, MC_CEV_MESSAGE), 1);
  mc_tstamp held = w.now - t0;
  printf("\n  rebinding: a %d-byte message reached the idle client's new "
         "address after %.1f s",
         MC_TEXT_MAX, (double)held / MC_SEC);
  CU_ASSERT(held < 10 * MC_SEC);
  CU_ASSERT_EQUAL(mc_client_get_state(w.cl[ALICE].c), MC_CLIENT_ESTABLISHED);
  run_for(&w, MC_SEC);
  t0 = w.now;
  say(&w, BOB, "alice", NULL, text);
  run_until(&w, ALICE, MC_CEV_MESSAGE, 2);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_MESSAGE), 2);
  CU_ASSERT(w.now - t0 < 100 * MC_MSEC);
  world_free(&w);
}

static void test_mc_session_replaced_and_shutdown(void) {
  world w;
  world_init(&w, 2, NULL, 15);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 1));
  char pw[] = "pw-alice";
  CU_ASSERT_EQUAL(mc_client_connect(w.cl[BOB].c, "alice", pw, 0, w.now), 0);
  run_for(&w, 2 * MC_SEC);
  const mc_client_event *e = last_event(&w, ALICE, MC_CEV_CLOSED);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(e->code, MYCHAT__ERROR_CODE__SESSION_REPLACED);
  CU_ASSERT_EQUAL(mc_client_get_state(w.cl[BOB].c), MC_CLIENT_ESTABLISHED);
  mc_server_shutdown(w.srv, w.now);
  run_for(&w, 1 * MC_SEC);
  e = last_event(&w, BOB, MC_CEV_CLOSED);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(e->code, MYCHAT__ERROR_CODE__SHUTTING_DOWN);
  CU_ASSERT_EQUAL(mc_server_get_stats(w.srv)->sessions, 0);
  world_free(&w);
}

/* Client |i|'s next request, taken from it before it is sent and decoded:
 * it shows the session id and token (and a request body) a test can reuse.
 * The caller frees it with mc_codec_free(). */
static Mychat__Envelope *own_request(world *w, int i) {
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len;
  Mychat__Envelope *env = NULL;
  mc_client_list(w->cl[i].c, MC_LIST_GROUPS, "", w->now, NULL);
  CU_ASSERT_EQUAL_FATAL(
      mc_client_poll_tx(w->cl[i].c, w->now, buf, sizeof buf, &len), 1);
  CU_ASSERT_EQUAL_FATAL(mc_codec_decode(buf, len, &env), 0);
  return env;
}

/* Regression (found by the simulator with --corrupt): the server answers a
 * datagram whose token was damaged with Error UNKNOWN_SESSION echoing that
 * token; the client ended its healthy session on it. It must only act on an
 * Error that carries its own token. */
static void test_mc_session_error_needs_own_token(void) {
  world w;
  world_init(&w, 1, NULL, 18);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 1));
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len;
  Mychat__Envelope *mine = own_request(&w, ALICE);
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Error err = MYCHAT__ERROR__INIT;
  err.code = MYCHAT__ERROR_CODE__UNKNOWN_SESSION;
  err.text = (char *)"unknown session";
  env.body_case = MYCHAT__ENVELOPE__BODY_ERROR;
  env.error = &err;
  uint8_t body[MC_DATAGRAM_MAX], damaged[MC_TOKEN_LEN];
  size_t blen;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode_body(&env, body, sizeof body, &blen), 0);
  Mychat__Envelope hdr = MYCHAT__ENVELOPE__INIT;
  hdr.session_id = mine->session_id;
  memcpy(damaged, mine->token.data, MC_TOKEN_LEN);
  damaged[3] ^= 0x10;
  hdr.token.data = damaged;
  hdr.token.len = MC_TOKEN_LEN;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode(&hdr, body, blen, buf, sizeof buf, &len), 0);
  CU_ASSERT_EQUAL(mc_client_recv(w.cl[ALICE].c, buf, len, w.now), MC_ERR_AUTH);
  CU_ASSERT_EQUAL(mc_client_get_state(w.cl[ALICE].c), MC_CLIENT_ESTABLISHED);
  /* With her own token it is the server speaking of her session. */
  hdr.token = mine->token;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode(&hdr, body, blen, buf, sizeof buf, &len), 0);
  CU_ASSERT_EQUAL(mc_client_recv(w.cl[ALICE].c, buf, len, w.now), 0);
  CU_ASSERT_EQUAL(mc_client_get_state(w.cl[ALICE].c), MC_CLIENT_CLOSED);
  mc_codec_free(mine);
  world_free(&w);
}

/* Regression (found by fuzz/fuzz_server.c): a first request far above the
 * receive window made an ack owed before anything was taken; the ack was
 * left out of the datagram, so it stayed owed and mc_server_poll_tx returned
 * datagrams forever. */
static void test_mc_session_above_window_first(void) {
  world w;
  world_init(&w, 1, NULL, 19);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 1));
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len;
  Mychat__Envelope *mine = own_request(&w, ALICE);
  Mychat__Envelope hdr = MYCHAT__ENVELOPE__INIT;
  hdr.session_id = mine->session_id;
  hdr.token = mine->token;
  hdr.seq = 40; /* window 32: far above seq 1 */
  uint8_t body[MC_DATAGRAM_MAX];
  size_t blen;
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode_body(mine, body, sizeof body, &blen), 0);
  CU_ASSERT_EQUAL_FATAL(mc_codec_encode(&hdr, body, blen, buf, sizeof buf, &len), 0);
  mc_codec_free(mine);
  CU_ASSERT_EQUAL(mc_server_recv(w.srv, &w.cl[ALICE].addr, buf, len, w.now), 0);
  int n = 0;
  mc_addr to;
  while (n < 100 &&
         mc_server_poll_tx(w.srv, w.now, &to, buf, sizeof buf, &len) == 1)
    n++;
  /* One ack-only datagram for the dropped body, then nothing. */
  CU_ASSERT_EQUAL(n, 1);
  world_free(&w);
}

/* A session lost between sending and the "sent" confirmation: the client
 * sends the message again in its next session, and it is stored once. */
static void test_mc_session_resend_after_loss_is_idempotent(void) {
  world w;
  world_init(&w, 2, NULL, 16);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 1));
  CU_ASSERT_TRUE_FATAL(world_connect(&w, BOB, "bob", 1));
  say(&w, ALICE, "bob", NULL, "exactly once");
  /* Let the request reach the server, then cut alice off before the
   * confirmation comes back. */
  run_for(&w, 1500 * MC_USEC);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_SENT), 0);
  mc_client_abandon(w.cl[ALICE].c);
  run_for(&w, 2 * MC_SEC);
  CU_ASSERT_EQUAL(mc_client_unconfirmed(w.cl[ALICE].c), 1);
  CU_ASSERT_EQUAL(mc_client_reconnect(w.cl[ALICE].c, w.now), 0);
  run_for(&w, 3 * MC_SEC);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_SENT), 1);
  CU_ASSERT_EQUAL(mc_client_unconfirmed(w.cl[ALICE].c), 0);
  CU_ASSERT_EQUAL(world_count(&w, BOB, MC_CEV_MESSAGE), 1);
  CU_ASSERT_EQUAL(mc_server_get_stats(w.srv)->messages_stored, 1);
  world_free(&w);
}

/* Regression: the client never released acknowledged bodies from its send
 * ring, so the 1057th request of a session failed with QUEUE_FULL. */
static void test_mc_session_long_session(void) {
  world w;
  world_init(&w, 2, NULL, 17);
  CU_ASSERT_TRUE_FATAL(world_connect(&w, ALICE, "alice", 1));
  CU_ASSERT_TRUE_FATAL(world_connect(&w, BOB, "bob", 1));
  enum { N = 1500 };
  for (int k = 0; k < N; k++) {
    CU_ASSERT_EQUAL_FATAL(mc_client_send_text(w.cl[ALICE].c, "bob", NULL,
                                              "again", w.now, NULL, NULL),
                          0);
    if (k % 100 == 99)
      run_until(&w, ALICE, MC_CEV_SENT, (size_t)k + 1);
  }
  run_until(&w, BOB, MC_CEV_MESSAGE, N);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_SENT), N);
  CU_ASSERT_EQUAL(world_count(&w, BOB, MC_CEV_MESSAGE), N);
  world_free(&w);
}

/* The whole chat over a bad link: 30 % loss each way, duplication,
 * reordering and jitter. Every message arrives once, in order. */
static void lossy_chat(double loss, uint64_t seed) {
  mc_netem_config net = {.loss = loss,
                         .delay = 20 * MC_MSEC,
                         .jitter = 10 * MC_MSEC,
                         .duplicate = 0.05,
                         .reorder = 0.1};
  world w;
  world_init(&w, 3, &net, seed);
  const char *names[] = {"alice", "bob", "carol"};
  for (int i = 0; i < 3; i++) {
    /* A handshake is not retransmitted forever (15 s, about 9 tries): at
     * 30 % loss each way one in 500 fails, and a user would try again. A
     * second attempt logs in (the first may have made the account). */
    int up = world_connect(&w, i, names[i], 1);
    for (int k = 0; !up && k < 3; k++)
      up = world_connect(&w, i, names[i], 0);
    CU_ASSERT_TRUE_FATAL(up);
    join(&w, i, "MyChat");
  }
  enum { N = 100 };
  char text[32];
  for (int k = 0; k < N; k++) {
    snprintf(text, sizeof text, "g%d", k);
    say(&w, ALICE, NULL, "MyChat", text);
    snprintf(text, sizeof text, "d%d", k);
    say(&w, BOB, "carol", NULL, text);
    run_for(&w, 50 * MC_MSEC);
  }
  run_for(&w, 60 * MC_SEC);
  CU_ASSERT_EQUAL(world_count(&w, ALICE, MC_CEV_SENT), N);
  CU_ASSERT_EQUAL(world_count(&w, BOB, MC_CEV_SENT), N);
  CU_ASSERT_EQUAL(world_count(&w, BOB, MC_CEV_DELIVERED), N);
  CU_ASSERT_EQUAL_FATAL(world_count(&w, BOB, MC_CEV_MESSAGE), N);
  CU_ASSERT_EQUAL_FATAL(world_count(&w, CAROL, MC_CEV_MESSAGE), 2 * N);
  int g = 0, d = 0;
  for (int k = 0; k < 2 * N; k++) {
    const mc_client_event *m = world_event(&w, CAROL, MC_CEV_MESSAGE, k);
    if (m->group[0]) {
      snprintf(text, sizeof text, "g%d", g++);
      CU_ASSERT_STRING_EQUAL(m->text, text);
    } else {
      snprintf(text, sizeof text, "d%d", d++);
      CU_ASSERT_STRING_EQUAL(m->text, text);
    }
  }
  for (int i = 0; i < 3; i++)
    CU_ASSERT_EQUAL(world_count(&w, i, MC_CEV_CLOSED), 0);
  world_free(&w);
}

static void test_mc_session_lossy_chat(void) {
  lossy_chat(0.0, 21);
  lossy_chat(0.1, 22);
  lossy_chat(0.3, 23);
}

static CU_TestInfo tests[] = {
    {"register_login", test_mc_session_register_login},
    {"wrong_password", test_mc_session_wrong_password},
    {"rate_limited", test_mc_session_rate_limited},
    {"no_server", test_mc_session_no_server},
    {"drive_contract", test_mc_session_drive_contract},
    {"group_fanout", test_mc_session_group_fanout},
    {"direct_sent_delivered", test_mc_session_direct_sent_delivered},
    {"offline_direct_backlog", test_mc_session_offline_direct_backlog},
    {"offline_group_backlog", test_mc_session_offline_group_backlog},
    {"receipts_among_backlog", test_mc_session_receipts_among_backlog},
    {"presence", test_mc_session_presence},
    {"group_errors", test_mc_session_group_errors},
    {"list_paging", test_mc_session_list_paging},
    {"storage_failure_not_confirmed",
     test_mc_session_storage_failure_not_confirmed},
    {"unrecorded_ack_retried", test_mc_session_unrecorded_ack_retried},
    {"bad_token_and_junk", test_mc_session_bad_token_and_junk},
    {"address_change", test_mc_session_address_change},
    {"rebinding_idle", test_mc_session_rebinding_idle},
    {"replaced_and_shutdown", test_mc_session_replaced_and_shutdown},
    {"resend_after_loss_is_idempotent",
     test_mc_session_resend_after_loss_is_idempotent},
    {"error_needs_own_token", test_mc_session_error_needs_own_token},
    {"above_window_first", test_mc_session_above_window_first},
    {"long_session", test_mc_session_long_session},
    {"lossy_chat", test_mc_session_lossy_chat},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_session_suite = {.pName = "session", .pTests = tests};
