/* The unit test runner: lists the suites; `mc-test [SUITE...]` runs some. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "mc_tests.h"

int main(int argc, char **argv) {
  CU_SuiteInfo all[] = {
      mc_error_suite,      mc_rng_suite,      mc_codec_suite,
      mc_map_suite,        mc_heap_suite,     mc_netem_suite,
      mc_arq_suite,        mc_memstore_suite, mc_sqlstore_suite,
      mc_auth_suite,       mc_wire_suite,     mc_server_suite,
      mc_client_suite,     mc_session_suite,  mc_failmalloc_suite,
      mc_server_handshake_suite, mc_rate_suite, mc_server_request_suite,
      mc_server_path_suite,
      CU_SUITE_INFO_NULL,
  };
  if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
    printf("usage: %s [SUITE...]\nsuites:", argv[0]);
    for (CU_SuiteInfo *s = all; s->pName; s++)
      printf(" %s", s->pName);
    printf("\n");
    return 0;
  }
  /* Keep only the suites named on the command line, if any. */
  CU_SuiteInfo picked[sizeof all / sizeof all[0]];
  size_t n = 0;
  for (CU_SuiteInfo *s = all; s->pName; s++) {
    int want = argc < 2;
    for (int i = 1; i < argc; i++)
      want |= !strcmp(argv[i], s->pName);
    if (want)
      picked[n++] = *s;
  }
  picked[n] = (CU_SuiteInfo)CU_SUITE_INFO_NULL;
  if (n == 0) {
    fprintf(stderr, "mc-test: no suite named %s (see --help)\n", argv[1]);
    return 2;
  }
  if (CU_initialize_registry() != CUE_SUCCESS ||
      CU_register_suites(picked) != CUE_SUCCESS) {
    fprintf(stderr, "mc-test: CUnit: %s\n", CU_get_error_msg());
    return 2;
  }
  CU_basic_set_mode(CU_BRM_NORMAL);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_failures() +
                    CU_get_number_of_tests_failed();
  unsigned run = CU_get_number_of_tests_run();
  CU_cleanup_registry();
  return (failed == 0 && run > 0) ? 0 : 1;
}
