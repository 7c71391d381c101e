/* Unit tests of lib/mc_map.c: the hash map and the array helpers. */
#include <stdlib.h>
#include <string.h>

#include "mc_error.h"
#include "mc_map.h"
#include "mc_rng.h"
#include "mc_tests.h"

static void test_mc_map_put_get_del(void) {
  mc__map m;
  mc__map_init(&m, NULL);
  CU_ASSERT_PTR_NULL(mc__map_get(&m, 1));
  CU_ASSERT_PTR_NULL(mc__map_del(&m, 1));
  static int vals[3000];
  /* Sequential keys, the case the mixing exists for. */
  for (uint64_t k = 1; k <= 3000; k++)
    CU_ASSERT_EQUAL_FATAL(mc__map_put(&m, k, &vals[k - 1]), 0);
  CU_ASSERT_EQUAL(m.n, 3000);
  CU_ASSERT(m.n * 2 <= m.cap);
  /* Deleting every other key shifts probe runs back; the rest must all
   * still be found. */
  for (uint64_t k = 2; k <= 3000; k += 2)
    CU_ASSERT_PTR_EQUAL(mc__map_del(&m, k), &vals[k - 1]);
  for (uint64_t k = 1; k <= 3000; k++)
    CU_ASSERT_PTR_EQUAL(mc__map_get(&m, k), k % 2 ? &vals[k - 1] : NULL);
  CU_ASSERT_EQUAL(m.n, 1500);
  /* Replacing keeps one entry. */
  CU_ASSERT_EQUAL(mc__map_put(&m, 1, &vals[5]), 0);
  CU_ASSERT_PTR_EQUAL(mc__map_get(&m, 1), &vals[5]);
  CU_ASSERT_EQUAL(m.n, 1500);
  CU_ASSERT_EQUAL(mc__map_put(&m, 0, &vals[0]), MC_ERR_INVAL);
  CU_ASSERT_PTR_NULL(mc__map_get(&m, 0));
  mc__map_free(&m);
  CU_ASSERT_EQUAL(m.n, 0);
}

/* Random keys, random deletes, against a plain array. */
static void test_mc_map_random_against_array(void) {
  enum { N = 4000 };
  static uint64_t keys[N];
  static int present[N];
  mc__map m;
  mc__map_init(&m, NULL);
  mc_rng r;
  mc_rng_seed(&r, 3);
  for (size_t i = 0; i < N; i++)
    keys[i] = mc_rng_next(&r) | 1;
  for (int round = 0; round < 20000; round++) {
    size_t i = mc_rng_below(&r, N);
    if (present[i]) {
      CU_ASSERT_PTR_NOT_NULL(mc__map_find(&m, keys[i]));
      CU_ASSERT_EQUAL(*mc__map_find(&m, keys[i]), i);
      mc__map_del(&m, keys[i]);
      present[i] = 0;
    } else {
      uint64_t *v = mc__map_at(&m, keys[i]);
      CU_ASSERT_PTR_NOT_NULL_FATAL(v);
      CU_ASSERT_EQUAL(*v, 0); /* inserted as 0 */
      *v = i;
      present[i] = 1;
    }
  }
  size_t n = 0;
  for (size_t i = 0; i < N; i++) {
    n += present[i];
    CU_ASSERT((mc__map_find(&m, keys[i]) != NULL) == present[i]);
  }
  CU_ASSERT_EQUAL(m.n, n);
  mc__map_free(&m);
}

static void test_mc_map_reserve(void) {
  mc__map m;
  mc__map_init(&m, NULL);
  CU_ASSERT_EQUAL_FATAL(mc__map_reserve(&m, 100), 0);
  size_t cap = m.cap;
  for (uint64_t k = 1; k <= 100; k++)
    CU_ASSERT_PTR_NOT_NULL(mc__map_at(&m, k));
  CU_ASSERT_EQUAL(m.cap, cap); /* no rehash after the reserve */
  CU_ASSERT_EQUAL(mc__map_reserve(&m, SIZE_MAX), MC_ERR_NOMEM);
  CU_ASSERT_PTR_NULL(mc__map_at(&m, 0));
  mc__map_free(&m);
}

/* Hashed entries: names that collide on purpose. */
static const char *names[] = {"ann", "bob", "cy", "dee", "eve"};

static int name_eq(const void *ctx, uint64_t val) {
  return strcmp(names[val], ctx) == 0;
}

static void test_mc_map_hashed_collisions(void) {
  mc__map m;
  mc__map_init(&m, NULL);
  CU_ASSERT_PTR_NULL(mc__map_probe(&m, 7, name_eq, "ann"));
  /* Hash 0 and 1 share a key inside the map; 7 is another run. */
  uint64_t hash[] = {0, 1, 1, 7, 0};
  for (uint64_t i = 0; i < 5; i++)
    CU_ASSERT_EQUAL_FATAL(mc__map_add(&m, hash[i], i), 0);
  for (uint64_t i = 0; i < 5; i++) {
    uint64_t *v = mc__map_probe(&m, hash[i], name_eq, names[i]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(*v, i);
  }
  CU_ASSERT_PTR_NULL(mc__map_probe(&m, 7, name_eq, "ann"));
  CU_ASSERT_PTR_NULL(mc__map_probe(&m, 1, name_eq, "zed"));
  mc__map_free(&m);
}

static void test_mc_map_reserve_and_ring(void) {
  int *a = NULL;
  size_t cap = 0;
  CU_ASSERT_EQUAL(mc__reserve(NULL, &a, &cap, 3, sizeof *a), 0);
  CU_ASSERT_EQUAL(cap, 8);
  CU_ASSERT_EQUAL(mc__reserve(NULL, &a, &cap, 9, sizeof *a), 0);
  CU_ASSERT_EQUAL(cap, 16);
  CU_ASSERT_EQUAL(mc__reserve(NULL, &a, &cap, SIZE_MAX / 2, 8), MC_ERR_NOMEM);
  CU_ASSERT_EQUAL(cap, 16);
  free(a);

  /* A wrapped ring of 4 (head 2: 10, 11, 12, 13) unwraps in order. */
  int *ring = malloc(4 * sizeof *ring);
  CU_ASSERT_PTR_NOT_NULL_FATAL(ring);
  ring[2] = 10, ring[3] = 11, ring[0] = 12, ring[1] = 13;
  size_t head = 2, rcap = 4;
  void *buf = ring;
  CU_ASSERT_EQUAL(mc__ring_grow(NULL, &buf, &head, 4, &rcap, sizeof(int), 16), 0);
  ring = buf;
  CU_ASSERT_EQUAL(head, 0);
  CU_ASSERT_EQUAL(rcap, 8);
  for (int i = 0; i < 4; i++)
    CU_ASSERT_EQUAL(ring[i], 10 + i);
  free(ring);
}

static CU_TestInfo tests[] = {
    {"put_get_del", test_mc_map_put_get_del},
    {"random_against_array", test_mc_map_random_against_array},
    {"reserve", test_mc_map_reserve},
    {"hashed_collisions", test_mc_map_hashed_collisions},
    {"reserve_and_ring", test_mc_map_reserve_and_ring},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_map_suite = {.pName = "map", .pTests = tests};
