#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_error.h"
#include "mc_memstore.h"
#include "mc_store_cases.h"
#include "mc_tests.h"

static void *memstore_open(mc_store *out) {
  mc_memstore *ms = mc_memstore_new();
  if (ms)
    mc_memstore_as_store(ms, out);
  return ms;
}

static void memstore_close(void *h) { mc_memstore_del(h); }

static const mc_store_factory factory = {.open = memstore_open,
                                         .close = memstore_close};

#define MEMSTORE_FN(name) MC_STORE_TEST_FN(mc_memstore, factory, name)
MC_STORE_CASES(MEMSTORE_FN)

/* fail_after(n): n operations succeed, then every one fails with
 * MC_ERR_STORAGE and stores nothing, until -1 turns it off. */
static void test_mc_memstore_fail_after(void) {
  mc_memstore *ms = mc_memstore_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(ms);
  mc_store s;
  mc_memstore_as_store(ms, &s);
  uint64_t a, b, id;
  CU_ASSERT_EQUAL(s.ops->user_add(s.st, "a", "h", &a), 0);
  mc_memstore_fail_after(ms, 1);
  CU_ASSERT_EQUAL(s.ops->user_add(s.st, "b", "h", &b), 0);
  mc_store_msg m = {.sender_id = a, .to_id = b, .client_msg_id = 1};
  strcpy(m.text, "lost");
  int dup;
  CU_ASSERT_EQUAL(s.ops->msg_add(s.st, &m, 1, &dup), MC_ERR_STORAGE);
  CU_ASSERT_EQUAL(s.ops->msg_max_id(s.st, &id), MC_ERR_STORAGE);
  CU_ASSERT_EQUAL(s.ops->user_find(s.st, "a", &id, NULL, 0), MC_ERR_STORAGE);
  mc_memstore_fail_after(ms, -1);
  id = 99;
  CU_ASSERT_EQUAL(s.ops->msg_max_id(s.st, &id), 0);
  CU_ASSERT_EQUAL(id, 0);
  mc_store_msg out[2];
  size_t n = 9;
  CU_ASSERT_EQUAL(s.ops->pending(s.st, b, 0, out, 2, &n), 0);
  CU_ASSERT_EQUAL(n, 0);
  /* n = 0: the very next operation fails. */
  mc_memstore_fail_after(ms, 0);
  CU_ASSERT_EQUAL(s.ops->user_add(s.st, "c", "h", &id), MC_ERR_STORAGE);
  mc_memstore_fail_after(ms, -1);
  CU_ASSERT_EQUAL(s.ops->user_find(s.st, "c", &id, NULL, 0), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(s.ops->msg_add(s.st, &m, 1, &dup), 0);
  CU_ASSERT_EQUAL(dup, 0);
  mc_memstore_del(ms);
}

/* A simulator-sized backlog: 20,000 users, 200,000 messages, one reader
 * in 3 busy groups who also sends a lot, paged and delivered 32 at a time.
 * Each message must come exactly once, in id order, which a wrong merge
 * or cursor would break; a linear scan per call would make this test take
 * minutes. */
static void test_mc_memstore_large_backlog(void) {
  mc_memstore *ms = mc_memstore_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(ms);
  mc_store s;
  mc_memstore_as_store(ms, &s);
  enum { USERS = 20000, MSGS = 200000 };
  uint64_t g[3], reader = 0, id;
  char name[16];
  for (int i = 0; i < 3; i++) {
    snprintf(name, sizeof name, "g%d", i);
    CU_ASSERT_EQUAL_FATAL(s.ops->group_add(s.st, name, &g[i]), 0);
  }
  for (int i = 0; i < USERS; i++) {
    snprintf(name, sizeof name, "u%05d", (i * 7919) % USERS);
    CU_ASSERT_EQUAL_FATAL(s.ops->user_add(s.st, name, "h", &id), 0);
    if (i < 3)
      CU_ASSERT_EQUAL_FATAL(s.ops->member_add(s.st, g[i], id), 0);
  }
  CU_ASSERT_EQUAL_FATAL(s.ops->user_find(s.st, "u07919", &reader, NULL, 0), 0);
  for (int i = 0; i < 3; i++)
    s.ops->member_add(s.st, g[i], reader);
  size_t expected = 0;
  static mc_store_msg m; /* large: keep it off the stack */
  for (uint64_t i = 1; i <= MSGS; i++) {
    uint64_t sender = 1 + i % USERS;
    int own = i % 4 == 0;
    m = (mc_store_msg){.sender_id = own ? reader : sender, .client_msg_id = i};
    if (i % 5 == 0 && !own)
      m.to_id = reader;
    else if (i % 5 == 0)
      m.to_id = sender;
    else
      m.group_id = g[i % 3];
    strcpy(m.text, "x");
    int dup;
    CU_ASSERT_EQUAL_FATAL(s.ops->msg_add(s.st, &m, i, &dup), 0);
    expected += (m.group_id && m.sender_id != reader) || m.to_id == reader;
  }
  static mc_store_msg out[32];
  size_t got = 0, n;
  uint64_t last = 0;
  do {
    CU_ASSERT_EQUAL_FATAL(s.ops->pending(s.st, reader, 0, out, 32, &n), 0);
    for (size_t i = 0; i < n; i++) {
      CU_ASSERT_FATAL(out[i].id > last);
      CU_ASSERT_FATAL(out[i].sender_id != reader);
      last = out[i].id;
      CU_ASSERT_EQUAL_FATAL(s.ops->delivered(s.st, reader, &out[i], 1), 0);
    }
    got += n;
  } while (n == 32);
  CU_ASSERT_EQUAL(got, expected);
  mc_store_user page[20];
  CU_ASSERT_EQUAL(s.ops->user_list(s.st, "u19990", page, 20, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 9);
  CU_ASSERT_STRING_EQUAL(page[8].name, "u19999");
  mc_memstore_del(ms);
}

#define MEMSTORE_INFO(name) MC_STORE_TEST_INFO(mc_memstore, name)
static CU_TestInfo tests[] = {
    MC_STORE_CASES(MEMSTORE_INFO)
    {"fail_after", test_mc_memstore_fail_after},
    {"large_backlog", test_mc_memstore_large_backlog},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_memstore_suite = {.pName = "memstore", .pTests = tests};
