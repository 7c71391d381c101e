#include "mc_rate.h"
#include "mc_tests.h"

/* The burst is exactly reached: |burst| takes pass at one instant, the
 * next does not, and a refused take leaves the bucket as it was. */
static void test_mc_rate_burst_edge(void) {
  mc_rate r;
  mc_tstamp t0 = 5 * MC_SEC;
  mc_rate_init(&r, 50, t0);
  for (int i = 0; i < 49; i++)
    CU_ASSERT_EQUAL_FATAL(mc_rate_take(&r, 50, 100, t0), 1);
  CU_ASSERT_EQUAL(r.tokens_milli, 1000);      /* one under: one left */
  CU_ASSERT_EQUAL(mc_rate_take(&r, 50, 100, t0), 1);
  CU_ASSERT_EQUAL(r.tokens_milli, 0);
  CU_ASSERT_EQUAL(mc_rate_take(&r, 50, 100, t0), 0); /* one over */
  CU_ASSERT_EQUAL(r.tokens_milli, 0);
  CU_ASSERT_EQUAL(mc_rate_take(&r, 1, 100, t0), 0);
}

/* One token per |refill_ms|: 1 ms short of it gives none, it gives one,
 * and time passed in small steps adds up to the same. */
static void test_mc_rate_refill_edge(void) {
  mc_rate r;
  mc_tstamp t0 = MC_SEC;
  mc_rate_init(&r, 2, t0);
  CU_ASSERT_EQUAL(mc_rate_take(&r, 2, 100, t0), 1);
  CU_ASSERT_EQUAL(mc_rate_take(&r, 2, 100, t0), 1);
  CU_ASSERT_EQUAL(mc_rate_take(&r, 2, 100, t0 + 99 * MC_MSEC), 0);
  CU_ASSERT_EQUAL(mc_rate_take(&r, 2, 100, t0 + 100 * MC_MSEC), 1);
  CU_ASSERT_EQUAL(mc_rate_take(&r, 2, 100, t0 + 100 * MC_MSEC), 0);
  /* 100 steps of 1 ms: the thousandths add up to one token. */
  mc_tstamp t = t0 + 100 * MC_MSEC;
  for (int i = 0; i < 99; i++) {
    t += MC_MSEC;
    CU_ASSERT_EQUAL_FATAL(mc_rate_take(&r, 2, 100, t), 0);
  }
  CU_ASSERT_EQUAL(mc_rate_take(&r, 2, 100, t + MC_MSEC), 1);
}

/* Refill stops at the burst, however long the wait; a bucket holding more
 * than the burst (a new table entry) is cut to it; 0 ms counts as 1 ms;
 * a clock that goes back gains nothing. */
static void test_mc_rate_full_and_odd(void) {
  mc_rate r;
  mc_rate_init(&r, 3, 0);
  CU_ASSERT_EQUAL(mc_rate_refill(&r, 3, 100, 0), 1);
  CU_ASSERT_EQUAL(mc_rate_take(&r, 3, 100, 0), 1);
  CU_ASSERT_EQUAL(mc_rate_refill(&r, 3, 100, 0), 0);
  CU_ASSERT_EQUAL(mc_rate_refill(&r, 3, 100, 3600 * MC_SEC), 1);
  CU_ASSERT_EQUAL(r.tokens_milli, 3000);
  r.tokens_milli = UINT32_MAX;
  CU_ASSERT_EQUAL(mc_rate_refill(&r, 3, 100, 3600 * MC_SEC), 1);
  CU_ASSERT_EQUAL(r.tokens_milli, 3000);
  mc_rate_init(&r, 1, 10 * MC_SEC);
  CU_ASSERT_EQUAL(mc_rate_take(&r, 1, 0, 10 * MC_SEC), 1);
  CU_ASSERT_EQUAL(mc_rate_take(&r, 1, 0, 10 * MC_SEC + MC_MSEC), 1);
  CU_ASSERT_EQUAL(mc_rate_take(&r, 1, 0, 9 * MC_SEC), 0);
  CU_ASSERT_EQUAL(r.t, 10 * MC_SEC + MC_MSEC);
}

static CU_TestInfo tests[] = {
    {"burst_edge", test_mc_rate_burst_edge},
    {"refill_edge", test_mc_rate_refill_edge},
    {"full_and_odd", test_mc_rate_full_and_odd},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_rate_suite = {.pName = "rate", .pTests = tests};
