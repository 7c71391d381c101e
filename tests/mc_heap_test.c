/* Unit tests of lib/mc_heap.c, checked against a plain sorted reference. */
#include <stdlib.h>

#include "mc_error.h"

#include "mc_heap.h"
#include "mc_rng.h"
#include "mc_tests.h"

typedef struct {
  uint64_t key;
  size_t idx; /* kept by the moved callback */
} item;

static int item_less(const void *a, const void *b) {
  return ((const item *)a)->key < ((const item *)b)->key;
}

static int u64_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static void test_mc_heap_pops_in_order(void) {
  mc__heap h;
  mc__heap_init(&h, sizeof(item), item_less, NULL, NULL);
  CU_ASSERT_PTR_NULL(mc__heap_top(&h));
  mc_rng r;
  mc_rng_seed(&r, 5);
  enum { N = 2000 };
  uint64_t ref[N];
  for (size_t i = 0; i < N; i++) {
    /* Few distinct keys, so ties are common. */
    item it = {.key = mc_rng_below(&r, 300)};
    ref[i] = it.key;
    CU_ASSERT_EQUAL_FATAL(mc__heap_push(&h, &it), 0);
  }
  qsort(ref, N, sizeof ref[0], u64_cmp);
  for (size_t i = 0; i < N; i++) {
    item out;
    CU_ASSERT_PTR_NOT_NULL_FATAL(mc__heap_top(&h));
    mc__heap_pop(&h, &out);
    CU_ASSERT_EQUAL(out.key, ref[i]);
  }
  CU_ASSERT_EQUAL(h.n, 0);
  CU_ASSERT_PTR_NULL(mc__heap_top(&h));
  mc__heap_free(&h);
}

/* The server's use: the heap holds pointers and the elements know their
 * index, so any of them can be removed or re-keyed. */
static void ptr_moved(void *e, size_t i) { (*(item **)e)->idx = i; }

static int ptr_less(const void *a, const void *b) {
  return (*(item *const *)a)->key < (*(item *const *)b)->key;
}

static void test_mc_heap_indexed_remove_update(void) {
  enum { N = 500 };
  static item items[N];
  mc__heap h;
  mc__heap_init(&h, sizeof(item *), ptr_less, ptr_moved, NULL);
  mc_rng r;
  mc_rng_seed(&r, 9);
  for (size_t i = 0; i < N; i++) {
    items[i].key = mc_rng_below(&r, 1000);
    item *p = &items[i];
    CU_ASSERT_EQUAL_FATAL(mc__heap_push(&h, &p), 0);
  }
  for (size_t i = 0; i < N; i++)
    CU_ASSERT_PTR_EQUAL(*(item **)mc__heap_at(&h, items[i].idx), &items[i]);
  /* Remove every third, re-key every third other one. */
  int gone[N] = {0};
  for (size_t i = 0; i < N; i++) {
    if (i % 3 == 0) {
      mc__heap_remove(&h, items[i].idx);
      gone[i] = 1;
    } else if (i % 3 == 1) {
      items[i].key = mc_rng_below(&r, 1000);
      mc__heap_update(&h, items[i].idx);
    }
  }
  uint64_t ref[N];
  size_t n = 0;
  for (size_t i = 0; i < N; i++)
    if (!gone[i]) {
      ref[n++] = items[i].key;
      CU_ASSERT_PTR_EQUAL(*(item **)mc__heap_at(&h, items[i].idx), &items[i]);
    }
  CU_ASSERT_EQUAL_FATAL(h.n, n);
  qsort(ref, n, sizeof ref[0], u64_cmp);
  for (size_t i = 0; i < n; i++) {
    item *top;
    mc__heap_pop(&h, &top);
    CU_ASSERT_EQUAL(top->key, ref[i]);
  }
  mc__heap_free(&h);
}

static void test_mc_heap_reserve_then_push(void) {
  mc__heap h;
  mc__heap_init(&h, sizeof(item), item_less, NULL, NULL);
  CU_ASSERT_EQUAL_FATAL(mc__heap_reserve(&h, 10), 0);
  size_t cap = h.cap;
  CU_ASSERT(cap > 10); /* ten pushes and the scratch slot */
  for (uint64_t k = 10; k > 0; k--) {
    item it = {.key = k};
    CU_ASSERT_EQUAL(mc__heap_push(&h, &it), 0);
  }
  CU_ASSERT_EQUAL(h.cap, cap); /* no allocation after the reserve */
  CU_ASSERT_EQUAL(((item *)mc__heap_top(&h))->key, 1);
  CU_ASSERT_EQUAL(mc__heap_reserve(&h, SIZE_MAX), MC_ERR_NOMEM);
  mc__heap_free(&h);
}

static CU_TestInfo tests[] = {
    {"pops_in_order", test_mc_heap_pops_in_order},
    {"indexed_remove_update", test_mc_heap_indexed_remove_update},
    {"reserve_then_push", test_mc_heap_reserve_then_push},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_heap_suite = {.pName = "heap", .pTests = tests};
