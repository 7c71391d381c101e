/*
 * sim_pool_test.c: CUnit tests of the simulator's lane allocator, in the
 * sim-hist-test program (sim_hist_test.c lists the suite).
 */
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <string.h>

#include "sim_pool.h"
#include "sim_pool_test.h"

/* Each test's pool; the one before is freed first, the last one by the
 * suite's cleanup. */
static sim_pool *P;

static const mc_mem *pool_fresh(void) {
  sim_pool_del(P);
  P = sim_pool_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(P);
  return sim_pool_mem(P);
}

int sim_pool_tests_cleanup(void) {
  sim_pool_del(P);
  P = NULL;
  return 0;
}

/* A freed block is the next one of its class, and only of its class. */
static void test_sim_pool_reuse_by_class(void) {
  const mc_mem *m = pool_fresh();
  unsigned char *a = m->malloc(100, m->user_data);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  memset(a, 0xab, 100);
  m->free(a, m->user_data);
  unsigned char *b = m->malloc(40, m->user_data);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_PTR_NOT_EQUAL(b, a);
  unsigned char *c = m->malloc(97, m->user_data);
  CU_ASSERT_PTR_EQUAL(c, a);
  m->free(b, m->user_data);
  m->free(c, m->user_data);
  m->free(NULL, m->user_data);
}

/* At, one under and one over the small limit, and across it by realloc:
 * the contents survive and every block is writable to its full size. */
static void test_sim_pool_small_limit_and_realloc(void) {
  const mc_mem *m = pool_fresh();
  size_t sizes[] = {SIM_POOL_SMALL_MAX - 1, SIM_POOL_SMALL_MAX,
                    SIM_POOL_SMALL_MAX + 1};
  for (size_t k = 0; k < 3; k++) {
    unsigned char *v = m->malloc(sizes[k], m->user_data);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    memset(v, (int)k + 1, sizes[k]);
    CU_ASSERT_EQUAL(((uintptr_t)v) % 16, 0);
    unsigned char *w = m->realloc(v, sizes[k] * 3, m->user_data);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_EQUAL(w[0], k + 1);
    CU_ASSERT_EQUAL(w[sizes[k] - 1], k + 1);
    memset(w, 0, sizes[k] * 3);
    unsigned char *x = m->realloc(w, 8, m->user_data);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    CU_ASSERT_EQUAL(x[7], 0);
    m->free(x, m->user_data);
  }
  /* Growing within a block's class keeps the block. */
  unsigned char *y = m->malloc(17, m->user_data);
  CU_ASSERT_PTR_EQUAL(m->realloc(y, 32, m->user_data), y);
  m->free(y, m->user_data);
}

/* calloc zeroes a reused block and refuses a product that overflows. */
static void test_sim_pool_calloc(void) {
  const mc_mem *m = pool_fresh();
  unsigned char *a = m->malloc(64, m->user_data);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  memset(a, 0xff, 64);
  m->free(a, m->user_data);
  unsigned char *b = m->calloc(8, 8, m->user_data);
  CU_ASSERT_PTR_EQUAL(b, a);
  int zero = 1;
  for (size_t i = 0; i < 64; i++)
    zero &= b[i] == 0;
  CU_ASSERT_TRUE(zero);
  CU_ASSERT_PTR_NULL(m->calloc(SIZE_MAX / 2 + 1, 2, m->user_data));
  CU_ASSERT_PTR_NULL(m->malloc(SIZE_MAX, m->user_data));
  m->free(b, m->user_data);
}

CU_TestInfo sim_pool_tests[] = {
    {"reuse_by_class", test_sim_pool_reuse_by_class},
    {"small_limit_and_realloc", test_sim_pool_small_limit_and_realloc},
    {"calloc", test_sim_pool_calloc},
    CU_TEST_INFO_NULL,
};
