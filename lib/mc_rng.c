#include "mc_rng.h"

#include <string.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void mc_rng_seed(mc_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64(&x);
}

uint64_t mc_rng_next(mc_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double mc_rng_uniform(mc_rng *r) {
  /* The top 53 bits make every double in [0, 1) with spacing 2^-53. */
  return (double)(mc_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t mc_rng_below(mc_rng *r, uint64_t n) {
  if (n == 0)
    return 0;
  /* Rejection sampling: drop the top partial copy of [0, n). */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do
    x = mc_rng_next(r);
  while (x >= limit);
  return x % n;
}

void mc_rng_bytes(mc_rng *r, uint8_t *buf, size_t len) {
  while (len > 0) {
    uint64_t x = mc_rng_next(r);
    size_t n = len < sizeof x ? len : sizeof x;
    memcpy(buf, &x, n);
    buf += n;
    len -= n;
  }
}
