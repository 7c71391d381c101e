#include "mc_tests.h"

/* Placeholder until the module lands; replaced by its real tests. */
static CU_TestInfo tests[] = {
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_arq_suite = {.pName = "arq", .pTests = tests};
