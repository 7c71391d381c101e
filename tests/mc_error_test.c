#include <string.h>

#include "mc_error.h"
#include "mc_tests.h"

static void test_mc_error_strings_distinct(void) {
  /* Every code has its own string and name; unknown codes are named so. */
  const int codes[] = {
#define MC__T(name, val, msg) MC_ERR_##name,
      MC_ERRNO_MAP(MC__T)
#undef MC__T
  };
  size_t n = sizeof codes / sizeof codes[0];
  for (size_t i = 0; i < n; i++) {
    CU_ASSERT_STRING_NOT_EQUAL(mc_strerror(codes[i]), "unknown error");
    CU_ASSERT_EQUAL(strncmp(mc_errname(codes[i]), "MC_ERR_", 7), 0);
    for (size_t j = i + 1; j < n; j++) {
      CU_ASSERT_NOT_EQUAL(codes[i], codes[j]);
      CU_ASSERT_STRING_NOT_EQUAL(mc_strerror(codes[i]), mc_strerror(codes[j]));
    }
  }
  CU_ASSERT_STRING_EQUAL(mc_strerror(MC_ERR_BAD_UTF8), "text is not valid UTF-8");
  CU_ASSERT_STRING_EQUAL(mc_errname(MC_ERR_GAVE_UP), "MC_ERR_GAVE_UP");
  CU_ASSERT_STRING_EQUAL(mc_strerror(-9999), "unknown error");
  CU_ASSERT_STRING_EQUAL(mc_strerror(MC_OK), "success");
}

static CU_TestInfo tests[] = {
    {"strings_distinct", test_mc_error_strings_distinct},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_error_suite = {.pName = "error", .pTests = tests};
