/*
 * mc_store_cases.h: store behaviour tests written once and run against
 * every mc_store implementation (tests/mc_memstore_test.c,
 * tests/mc_sqlstore_test.c).
 *
 * Each case takes a factory, opens fresh stores through it and closes them.
 * A suite defines a CUnit test per case name with MC_STORE_CASES().
 */
#ifndef MC_STORE_CASES_H
#define MC_STORE_CASES_H

#include "mc_store.h"

typedef struct {
  /* Opens a fresh store (holding only the default group) into |out|;
   * returns its handle for close(), or NULL on failure. */
  void *(*open)(mc_store *out);
  /* Closes the store and removes anything it left behind. */
  void (*close)(void *handle);
} mc_store_factory;

/* X(case) for every shared case; mc_store_case_<case>() runs it. */
#define MC_STORE_CASES(X)                                                     \
  X(default_group)                                                            \
  X(users)                                                                    \
  X(user_list_paging)                                                         \
  X(groups)                                                                   \
  X(members)                                                                  \
  X(join_cursor)                                                              \
  X(msg_add_idempotent)                                                       \
  X(msg_add_errors)                                                           \
  X(sent_bytes)                                                               \
  X(pending_merge)                                                            \
  X(direct_receipts)                                                          \
  X(group_cursor)

#define MC_STORE_CASE_DECL(name)                                              \
  void mc_store_case_##name(const mc_store_factory *f);
MC_STORE_CASES(MC_STORE_CASE_DECL)
#undef MC_STORE_CASE_DECL

/* Defines the CUnit test function test_<prefix>_<case> running one shared
 * case with |factory|, and MC_STORE_TEST_INFO(prefix, case) names it in a
 * CU_TestInfo array. */
#define MC_STORE_TEST_FN(prefix, factory, name)                               \
  static void test_##prefix##_##name(void) { mc_store_case_##name(&factory); }
#define MC_STORE_TEST_INFO(prefix, name) {#name, test_##prefix##_##name},

#endif
