/*
 * sim_pool_test.h: the lane allocator's CUnit tests (sim_pool_test.c).
 */
#ifndef SIM_POOL_TEST_H
#define SIM_POOL_TEST_H

#include <CUnit/CUnit.h>

extern CU_TestInfo sim_pool_tests[];

/* The suite's cleanup: frees the last test's pool. Returns 0. */
int sim_pool_tests_cleanup(void);

#endif
