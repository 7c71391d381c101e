/* Unit tests of lib/mc_auth.c: hashes, verification and password jobs. */
#include <string.h>

#include "mc_auth.h"
#include "mc_error.h"
#include "mc_tests.h"

static void test_mc_auth_hash_verify(void) {
  char h1[MC_PWHASH_MAX], h2[MC_PWHASH_MAX];
  CU_ASSERT_EQUAL_FATAL(mc_auth_hash("secret", MC_AUTH_COST_MIN, h1), 0);
  CU_ASSERT_EQUAL_FATAL(mc_auth_hash("secret", MC_AUTH_COST_MIN, h2), 0);
  CU_ASSERT(strcmp(h1, h2) != 0); /* salted */
  CU_ASSERT_EQUAL(mc_auth_verify(h1, "secret"), 0);
  CU_ASSERT_EQUAL(mc_auth_verify(h2, "secret"), 0);
  CU_ASSERT_EQUAL(mc_auth_verify(h1, "Secret"), MC_ERR_AUTH);
  CU_ASSERT_EQUAL(mc_auth_verify("not a hash", "secret"), MC_ERR_AUTH);
  CU_ASSERT_EQUAL(mc_auth_verify("", ""), MC_ERR_AUTH);
}

static void test_mc_auth_cost_parse(void) {
  mc_auth_cost c = MC_AUTH_COST_MODERATE;
  CU_ASSERT_EQUAL(mc_auth_cost_parse("min", &c), 0);
  CU_ASSERT_EQUAL(c, MC_AUTH_COST_MIN);
  CU_ASSERT_EQUAL(mc_auth_cost_parse("interactive", &c), 0);
  CU_ASSERT_EQUAL(c, MC_AUTH_COST_INTERACTIVE);
  CU_ASSERT_EQUAL(mc_auth_cost_parse("moderate", &c), 0);
  CU_ASSERT_EQUAL(c, MC_AUTH_COST_MODERATE);
  CU_ASSERT_EQUAL(mc_auth_cost_parse("max", &c), MC_ERR_INVAL);
  CU_ASSERT_EQUAL(c, MC_AUTH_COST_MODERATE);
}

/* A HASH job's output verifies in a VERIFY job; both wipe the password. */
static void test_mc_auth_jobs(void) {
  mc_auth_job h = {.id = 1, .kind = MC_AUTH_JOB_HASH,
                   .cost = MC_AUTH_COST_MIN};
  strcpy(h.password, "hunter22");
  mc_auth_job_run(&h);
  CU_ASSERT_EQUAL_FATAL(h.result, 0);
  CU_ASSERT_EQUAL(h.id, 1);
  CU_ASSERT_EQUAL(h.password[0], '\0');
  mc_auth_job v = {.id = 2, .kind = MC_AUTH_JOB_VERIFY};
  strcpy(v.password, "hunter22");
  memcpy(v.hash, h.hash, sizeof v.hash);
  mc_auth_job_run(&v);
  CU_ASSERT_EQUAL(v.result, 0);
  CU_ASSERT_EQUAL(v.password[0], '\0');
  strcpy(v.password, "hunter23");
  mc_auth_job_run(&v);
  CU_ASSERT_EQUAL(v.result, MC_ERR_AUTH);
}

static CU_TestInfo tests[] = {
    {"hash_verify", test_mc_auth_hash_verify},
    {"cost_parse", test_mc_auth_cost_parse},
    {"jobs", test_mc_auth_jobs},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_auth_suite = {.pName = "auth", .pTests = tests};
