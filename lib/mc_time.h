/*
 * mc_time.h: time as the core sees it.
 *
 * The core never reads a clock. Every call that depends on time takes |now|,
 * a monotonic timestamp in microseconds chosen by the caller (a real clock in
 * the reference programs, a virtual one in the simulator and the tests).
 * Deadlines come back the same way; MC_TSTAMP_NEVER means "no deadline".
 */
#ifndef MC_TIME_H
#define MC_TIME_H

#include <stdint.h>

typedef uint64_t mc_tstamp;

#define MC_TSTAMP_NEVER UINT64_MAX
#define MC_USEC 1ULL
#define MC_MSEC 1000ULL
#define MC_SEC 1000000ULL

#endif
