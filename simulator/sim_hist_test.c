/*
 * sim_hist_test.c: CUnit tests of the simulator's latency histogram, a
 * program of its own (sim-hist-test, which also runs the lane allocator's
 * suite, sim_pool_test.c) run by tests/integration/sim.sh.
 */
#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdlib.h>

#include "sim_hist.h"
#include "sim_pool_test.h"

static sim_hist H;

/* Relative error of |got| against |want|, for the 0.4 % promise. */
static double rel(uint64_t got, uint64_t want) {
  return fabs((double)got - (double)want) / (double)want;
}

static void test_sim_hist_small_values_exact(void) {
  sim_hist_init(&H);
  for (uint64_t v = 1; v <= 100; v++)
    sim_hist_add(&H, v);
  CU_ASSERT_EQUAL(sim_hist_quantile(&H, 0.5), 50);
  CU_ASSERT_EQUAL(sim_hist_quantile(&H, 0.99), 99);
  CU_ASSERT_EQUAL(sim_hist_quantile(&H, 1.0), 100);
  CU_ASSERT_EQUAL(sim_hist_quantile(&H, 0.0), 1);
  CU_ASSERT_EQUAL(H.n, 100);
}

/* A uniform distribution over [1 ms, 1 s] in microseconds: every
 * percentile within the stated 0.4 % of the exact one. */
static void test_sim_hist_uniform_percentiles(void) {
  sim_hist_init(&H);
  const uint64_t lo = 1000, n = 999001;
  for (uint64_t i = 0; i < n; i++)
    sim_hist_add(&H, lo + i);
  double qs[] = {0.1, 0.5, 0.9, 0.99, 0.999};
  for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
    uint64_t want = lo + (uint64_t)ceil(qs[k] * (double)n) - 1;
    CU_ASSERT(rel(sim_hist_quantile(&H, qs[k]), want) <= 0.004);
  }
  CU_ASSERT_EQUAL(H.min, lo);
  CU_ASSERT_EQUAL(H.max, lo + n - 1);
}

/* Powers of two, a skewed distribution: buckets cover the whole range and
 * each value falls inside its bucket's reported range. */
static void test_sim_hist_bucket_ranges(void) {
  for (uint64_t v = 1; v < (1ULL << 40); v = v * 3 + 1) {
    uint64_t lo, hi;
    int i = sim_hist_index(v);
    sim_hist_range(i, &lo, &hi);
    CU_ASSERT(lo <= v && v <= hi);
    CU_ASSERT((double)(hi - lo) <= (double)lo / 128.0 + 1);
  }
}

static void test_sim_hist_empty_and_huge(void) {
  sim_hist_init(&H);
  CU_ASSERT_EQUAL(sim_hist_quantile(&H, 0.5), 0);
  sim_hist_add(&H, UINT64_MAX);
  CU_ASSERT_EQUAL(sim_hist_quantile(&H, 0.5), UINT64_MAX);
}

static CU_TestInfo tests[] = {
    {"small_values_exact", test_sim_hist_small_values_exact},
    {"uniform_percentiles", test_sim_hist_uniform_percentiles},
    {"bucket_ranges", test_sim_hist_bucket_ranges},
    {"empty_and_huge", test_sim_hist_empty_and_huge},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {.pName = "sim_hist", .pTests = tests},
    {.pName = "sim_pool", .pTests = sim_pool_tests,
     .pCleanupFunc = sim_pool_tests_cleanup},
    CU_SUITE_INFO_NULL,
};

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS)
    return 2;
  CU_register_suites(suites);
  CU_basic_set_mode(CU_BRM_NORMAL);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failed ? 1 : 0;
}
