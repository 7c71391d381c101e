#include "mc_rng.h"
#include "mc_tests.h"

static void test_mc_rng_repeatable(void) {
  mc_rng a, b, c;
  mc_rng_seed(&a, 42);
  mc_rng_seed(&b, 42);
  mc_rng_seed(&c, 43);
  int differ = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t x = mc_rng_next(&a);
    CU_ASSERT_EQUAL(x, mc_rng_next(&b));
    differ += x != mc_rng_next(&c);
  }
  CU_ASSERT(differ > 990);
}

static void test_mc_rng_below_and_uniform(void) {
  mc_rng r;
  mc_rng_seed(&r, 7);
  unsigned hist[10] = {0};
  double sum = 0;
  for (int i = 0; i < 100000; i++) {
    uint64_t v = mc_rng_below(&r, 10);
    CU_ASSERT_FATAL(v < 10);
    hist[v]++;
    double u = mc_rng_uniform(&r);
    CU_ASSERT_FATAL(u >= 0.0 && u < 1.0);
    sum += u;
  }
  /* Each bucket expects 10,000; 5 sigma is about 475. */
  for (int i = 0; i < 10; i++)
    CU_ASSERT(hist[i] > 9500 && hist[i] < 10500);
  CU_ASSERT(sum / 100000 > 0.49 && sum / 100000 < 0.51);
  CU_ASSERT_EQUAL(mc_rng_below(&r, 0), 0);
}

static void test_mc_rng_bytes_fill(void) {
  mc_rng r;
  mc_rng_seed(&r, 1);
  uint8_t buf[13] = {0};
  mc_rng_bytes(&r, buf, sizeof buf);
  int nonzero = 0;
  for (size_t i = 0; i < sizeof buf; i++)
    nonzero += buf[i] != 0;
  CU_ASSERT(nonzero >= 10);
}

static CU_TestInfo tests[] = {
    {"repeatable", test_mc_rng_repeatable},
    {"below_and_uniform", test_mc_rng_below_and_uniform},
    {"bytes_fill", test_mc_rng_bytes_fill},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_rng_suite = {.pName = "rng", .pTests = tests};
