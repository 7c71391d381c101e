/*
 * mc_tests.h: the CUnit suites, one per module. Each tests/mc_<module>_test.c
 * defines its CU_TestInfo array and exports the CU_SuiteInfo for main.c.
 */
#ifndef MC_TESTS_H
#define MC_TESTS_H

#include <CUnit/CUnit.h>

extern CU_SuiteInfo mc_error_suite;
extern CU_SuiteInfo mc_rng_suite;
extern CU_SuiteInfo mc_rate_suite;
extern CU_SuiteInfo mc_server_request_suite;
extern CU_SuiteInfo mc_codec_suite;
extern CU_SuiteInfo mc_map_suite;
extern CU_SuiteInfo mc_heap_suite;
extern CU_SuiteInfo mc_netem_suite;
extern CU_SuiteInfo mc_arq_suite;
extern CU_SuiteInfo mc_memstore_suite;
extern CU_SuiteInfo mc_sqlstore_suite;
extern CU_SuiteInfo mc_auth_suite;
extern CU_SuiteInfo mc_wire_suite;
extern CU_SuiteInfo mc_server_suite;
extern CU_SuiteInfo mc_client_suite;
extern CU_SuiteInfo mc_session_suite;
extern CU_SuiteInfo mc_failmalloc_suite;
extern CU_SuiteInfo mc_server_handshake_suite;
extern CU_SuiteInfo mc_server_path_suite;

#endif
