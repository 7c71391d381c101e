/*
 * sim_hist.h: a log-bucketed latency histogram in the spirit of HdrHistogram.
 *
 * Values (microseconds, but any uint64 works) below 2^SIM_HIST_SUB_BITS are
 * counted exactly; above, each power of two is split into 2^SIM_HIST_SUB_BITS
 * equal buckets, so a bucket is never wider than 1/128 of its lower bound and
 * a reported percentile is within 0.4 % of a value that was recorded
 * (the bucket's midpoint is reported). Memory is fixed (a few tens of KB);
 * recording is O(1). Minimum, maximum, count and sum are kept exactly.
 */
#ifndef SIM_HIST_H
#define SIM_HIST_H

#include <stdint.h>

#define SIM_HIST_SUB_BITS 7
#define SIM_HIST_MAX_BITS 44 /* values up to 2^44 us (about 200 days) */
#define SIM_HIST_BUCKETS \
  ((SIM_HIST_MAX_BITS - SIM_HIST_SUB_BITS + 1) << SIM_HIST_SUB_BITS)

typedef struct {
  uint64_t counts[SIM_HIST_BUCKETS];
  uint64_t n, min, max;
  double sum;
} sim_hist;

void sim_hist_init(sim_hist *h);

/* Counts |v| once; values beyond the range land in the last bucket (max
 * stays exact). */
void sim_hist_add(sim_hist *h, uint64_t v);

/* The value below which a fraction |q| (0..1) of the recorded values lie:
 * the midpoint of the bucket holding the ceil(q*n)-th smallest value, clamped
 * to [min, max]. Returns 0 for an empty histogram. */
uint64_t sim_hist_quantile(const sim_hist *h, double q);

/* The bucket index of |v| and the range [lo, hi] of values in bucket |i|:
 * for charts that walk the buckets. */
int sim_hist_index(uint64_t v);
void sim_hist_range(int i, uint64_t *lo, uint64_t *hi);

#endif
