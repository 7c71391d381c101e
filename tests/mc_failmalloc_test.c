/*
 * Out-of-memory paths of the server and the client, as nghttp2's failmalloc
 * tests do: whole scenarios (handshake, group message with fan-out, backlog
 * delivery, logout) run once to count the allocations they make, then once
 * for every i with the i-th allocation failing. Each run must not crash,
 * must free everything (the allocator counts what is live; make asan runs
 * this under LSan too), must leave no session unreachable (mc_server_del
 * frees only the sessions it can find, so one lost would show as a leak),
 * and must either finish or say so: an API call returns an error, or a
 * client sees its session closed or refused, or a request answered with an
 * error.
 */
#include <stdlib.h>

#include "mc_codec_pb.h"
#include "mc_error.h"
#include "mc_tests.h"
#include "mc_world.h"

/* Fails allocation number |fail_at| (1-based; 0: none) and counts. */
typedef struct {
  unsigned long calls, fail_at;
  long live;
} failmem;

static int fail_now(failmem *f) { return ++f->calls == f->fail_at; }

static void *fm_malloc(size_t size, void *ud) {
  if (fail_now(ud))
    return NULL;
  void *p = malloc(size);
  ((failmem *)ud)->live += p != NULL;
  return p;
}

static void *fm_calloc(size_t nmemb, size_t size, void *ud) {
  if (fail_now(ud))
    return NULL;
  void *p = calloc(nmemb, size);
  ((failmem *)ud)->live += p != NULL;
  return p;
}

static void *fm_realloc(void *ptr, size_t size, void *ud) {
  if (fail_now(ud))
    return NULL;
  void *p = realloc(ptr, size);
  ((failmem *)ud)->live += p != NULL && ptr == NULL;
  return p;
}

static void fm_free(void *ptr, void *ud) {
  ((failmem *)ud)->live -= ptr != NULL;
  free(ptr);
}

/* What one run saw. */
typedef struct {
  int done;   /* the scenario reached its end */
  int error;  /* an error was reported somewhere */
} outcome;

/* An API call's result: an error counts as reported. */
static int ok(outcome *o, int rv) {
  if (rv < 0)
    o->error = 1;
  return rv >= 0;
}

/* Whether any client was told something went wrong. */
static int client_saw_error(const world *w) {
  for (int i = 0; i < w->n; i++)
    for (size_t k = 0; k < w->cl[i].n_ev; k++) {
      const mc_client_event *e = &w->cl[i].ev[k];
      if (e->type == MC_CEV_CONNECT_FAILED ||
          (e->type == MC_CEV_CLOSED && (e->code || e->lib_error)) ||
          (e->type == MC_CEV_RESULT && e->code))
        return 1;
    }
  return 0;
}

static void wait_events(world *w, int i, mc_client_event_type t, size_t n) {
  for (int k = 0; k < 60 && world_count(w, i, t) < n; k++)
    world_run(w, MC_SEC, NULL, NULL);
}

static int connect_as(world *w, outcome *o, int i, const char *name,
                      int create) {
  if (world_connect(w, i, name, create))
    return 1;
  o->error |= world_count(w, i, MC_CEV_CONNECT_FAILED) > 0 ||
              world_count(w, i, MC_CEV_CLOSED) > 0;
  return 0;
}

/* Client |i| sends a group request of |kind| for |group|; returns 1 when
 * it was answered with success. */
static int group_request(world *w, outcome *o, int i, mc_body_kind kind,
                         const char *group) {
  size_t before = world_count(w, i, MC_CEV_RESULT);
  if (!ok(o, mc_client_group(w->cl[i].c, kind, group, w->now, NULL)))
    return 0;
  wait_events(w, i, MC_CEV_RESULT, before + 1);
  const mc_client_event *e =
      world_event(w, i, MC_CEV_RESULT, world_count(w, i, MC_CEV_RESULT) - 1);
  return e != NULL && e->code == 0;
}

static int join_all(world *w, outcome *o, int n) {
  for (int i = 0; i < n; i++)
    if (!group_request(w, o, i, MC_KIND_JOIN_GROUP, "MyChat"))
      return 0;
  return 1;
}

static int logout(world *w, outcome *o, int i) {
  if (!ok(o, mc_client_logout(w->cl[i].c, w->now)))
    return 0;
  wait_events(w, i, MC_CEV_CLOSED, world_count(w, i, MC_CEV_CLOSED) + 1);
  return mc_client_get_state(w->cl[i].c) == MC_CLIENT_CLOSED;
}

/* Register, log out, log in again. */
static int scenario_handshake(world *w, outcome *o) {
  return connect_as(w, o, 0, "alice", 1) && logout(w, o, 0) &&
         connect_as(w, o, 0, "alice", 0);
}

/* Three members; one message reaches the other two. */
static int scenario_fanout(world *w, outcome *o) {
  const char *names[] = {"alice", "bob", "carol"};
  for (int i = 0; i < 3; i++)
    if (!connect_as(w, o, i, names[i], 1))
      return 0;
  if (!join_all(w, o, 3) ||
      !ok(o, mc_client_send_text(w->cl[0].c, NULL, "MyChat", "hello all",
                                 w->now, NULL, NULL)))
    return 0;
  wait_events(w, 1, MC_CEV_MESSAGE, 1);
  wait_events(w, 2, MC_CEV_MESSAGE, 1);
  wait_events(w, 0, MC_CEV_SENT, 1);
  return world_count(w, 1, MC_CEV_MESSAGE) == 1 &&
         world_count(w, 2, MC_CEV_MESSAGE) == 1 &&
         world_count(w, 0, MC_CEV_SENT) == 1;
}

/* Bob is away while Alice writes to him; he gets it when he is back. */
static int scenario_backlog(world *w, outcome *o) {
  if (!connect_as(w, o, 0, "alice", 1) || !connect_as(w, o, 1, "bob", 1) ||
      !logout(w, o, 1) ||
      !ok(o, mc_client_send_text(w->cl[0].c, "bob", NULL, "while away",
                                 w->now, NULL, NULL)))
    return 0;
  wait_events(w, 0, MC_CEV_SENT, 1);
  size_t done_before = world_count(w, 1, MC_CEV_BACKLOG_DONE);
  if (world_count(w, 0, MC_CEV_SENT) != 1 || !connect_as(w, o, 1, "bob", 0))
    return 0;
  wait_events(w, 1, MC_CEV_BACKLOG_DONE, done_before + 1);
  wait_events(w, 0, MC_CEV_DELIVERED, 1);
  return world_count(w, 1, MC_CEV_MESSAGE) == 1 &&
         world_count(w, 1, MC_CEV_BACKLOG_DONE) == done_before + 1 &&
         world_count(w, 0, MC_CEV_DELIVERED) == 1 && logout(w, o, 0);
}

typedef int (*scenario)(world *w, outcome *o);

/* Runs |run| on |clients| clients failing allocation |fail_at|; returns
 * the number of allocations made. */
static unsigned long run_once(scenario run, int clients, unsigned long fail_at,
                              outcome *o) {
  failmem f = {.fail_at = fail_at};
  mc_mem mem = {&f, fm_malloc, fm_calloc, fm_realloc, fm_free};
  world w;
  *o = (outcome){0};
  if (world_init_mem(&w, clients, NULL, 40 + fail_at, &mem) < 0) {
    o->error = 1; /* mc_server_new or mc_client_new said NULL */
  } else {
    o->done = run(&w, o);
    if (!o->done) {
      /* Whatever was cut short ends by its timers: a session the server
       * dropped is noticed by its client's silence timeout. */
      world_run(&w, 40 * MC_SEC, NULL, NULL);
      o->error |= client_saw_error(&w);
    }
  }
  world_free(&w);
  CU_ASSERT_EQUAL(f.live, 0); /* nothing leaked, no session lost */
  return f.calls;
}

static void failmalloc(scenario run, int clients) {
  outcome o;
  unsigned long total = run_once(run, clients, 0, &o);
  CU_ASSERT_FATAL(o.done);
  CU_ASSERT(total > 10);
  unsigned long unfinished = 0;
  for (unsigned long i = 1; i <= total; i++) {
    run_once(run, clients, i, &o);
    if (!o.done) {
      unfinished++;
      CU_ASSERT(o.error); /* cut short, and said so */
    }
  }
  /* Some failures are absorbed (a lost datagram is sent again), others
   * end something: both kinds must have happened. */
  CU_ASSERT(unfinished > 0 && unfinished < total);
}

static void test_mc_failmalloc_handshake(void) {
  failmalloc(scenario_handshake, 1);
}

static void test_mc_failmalloc_fanout(void) { failmalloc(scenario_fanout, 3); }

static void test_mc_failmalloc_backlog(void) {
  failmalloc(scenario_backlog, 2);
}

/* Issue 13, idle-session memory: a session's group array comes with its
 * first group and goes with its last. Joining allocates (before, the array
 * was inline in every session); leaving the only group brings the live
 * allocations back to where they were, twice over; and after all that a
 * join still works, the session getting the group's messages. */
static void test_mc_failmalloc_groups_on_demand(void) {
  failmem f = {0};
  mc_mem mem = {&f, fm_malloc, fm_calloc, fm_realloc, fm_free};
  world w;
  outcome o = {0};
  CU_ASSERT_FATAL(world_init_mem(&w, 2, NULL, 77, &mem) == 0);
  CU_ASSERT_FATAL(connect_as(&w, &o, 0, "alice", 1));
  CU_ASSERT_FATAL(connect_as(&w, &o, 1, "bob", 1));
  CU_ASSERT_FATAL(group_request(&w, &o, 1, MC_KIND_JOIN_GROUP, "MyChat"));
  /* The first join and leave grow tables that are kept for later
   * requests; the rounds after it must each end where they started. */
  for (int round = 0; round < 3; round++) {
    world_run(&w, 2 * MC_SEC, NULL, NULL); /* acks settle, rings freed */
    long idle = f.live;
    CU_ASSERT_FATAL(group_request(&w, &o, 0, MC_KIND_JOIN_GROUP, "MyChat"));
    world_run(&w, 2 * MC_SEC, NULL, NULL);
    CU_ASSERT(f.live > idle);
    CU_ASSERT_FATAL(group_request(&w, &o, 0, MC_KIND_LEAVE_GROUP, "MyChat"));
    world_run(&w, 2 * MC_SEC, NULL, NULL);
    if (round > 0)
      CU_ASSERT_EQUAL(f.live, idle);
  }
  CU_ASSERT_FATAL(group_request(&w, &o, 0, MC_KIND_JOIN_GROUP, "MyChat"));
  CU_ASSERT_EQUAL(mc_client_send_text(w.cl[1].c, NULL, "MyChat", "back",
                                      w.now, NULL, NULL),
                  0);
  wait_events(&w, 0, MC_CEV_MESSAGE, 1);
  CU_ASSERT_EQUAL(world_count(&w, 0, MC_CEV_MESSAGE), 1);
  const mc_client_event *m = world_event(&w, 0, MC_CEV_MESSAGE, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_STRING_EQUAL(m->text, "back");
  CU_ASSERT_FALSE(o.error);
  world_free(&w);
  CU_ASSERT_EQUAL(f.live, 0);
}

static CU_TestInfo tests[] = {
    {"handshake_logout", test_mc_failmalloc_handshake},
    {"group_fanout", test_mc_failmalloc_fanout},
    {"backlog", test_mc_failmalloc_backlog},
    {"groups_on_demand", test_mc_failmalloc_groups_on_demand},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_failmalloc_suite = {.pName = "failmalloc", .pTests = tests};
