/*
 * sim_hist.c: the log-bucketed histogram (see sim_hist.h).
 */
#include "sim_hist.h"

#include <string.h>

#define SUB (1ULL << SIM_HIST_SUB_BITS)

void sim_hist_init(sim_hist *h) {
  memset(h, 0, sizeof *h);
  h->min = UINT64_MAX;
}

int sim_hist_index(uint64_t v) {
  if (v < SUB)
    return (int)v;
  int e = 63 - __builtin_clzll(v); /* e >= SIM_HIST_SUB_BITS */
  int shift = e - SIM_HIST_SUB_BITS;
  /* The top SUB_BITS+1 bits of v: SUB .. 2*SUB-1. */
  uint64_t top = v >> shift;
  int i = (int)(((uint64_t)(shift + 1) << SIM_HIST_SUB_BITS) + (top - SUB));
  return i < SIM_HIST_BUCKETS ? i : SIM_HIST_BUCKETS - 1;
}

void sim_hist_range(int i, uint64_t *lo, uint64_t *hi) {
  if (i < (int)SUB) {
    *lo = *hi = (uint64_t)i;
    return;
  }
  int shift = (i >> SIM_HIST_SUB_BITS) - 1;
  uint64_t top = SUB + (uint64_t)(i & (int)(SUB - 1));
  *lo = top << shift;
  *hi = *lo + (1ULL << shift) - 1;
}

void sim_hist_add(sim_hist *h, uint64_t v) {
  h->counts[sim_hist_index(v)]++;
  h->n++;
  h->sum += (double)v;
  if (v < h->min)
    h->min = v;
  if (v > h->max)
    h->max = v;
}

uint64_t sim_hist_quantile(const sim_hist *h, double q) {
  if (h->n == 0)
    return 0;
  if (q < 0)
    q = 0;
  if (q > 1)
    q = 1;
  uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999);
  if (rank == 0)
    rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < SIM_HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t lo, hi;
      sim_hist_range(i, &lo, &hi);
      uint64_t mid = lo + (hi - lo) / 2;
      if (mid < h->min)
        mid = h->min;
      if (mid > h->max)
        mid = h->max;
      return mid;
    }
  }
  return h->max;
}
