/*
 * mc_rng.h: a small seeded PRNG (xoshiro256**, seeded through splitmix64).
 *
 * Not for secrets: tokens come from the host's random callback. This is for
 * things that must repeat exactly from a seed: impairment decisions, the
 * simulator's scenario, test workloads.
 */
#ifndef MC_RNG_H
#define MC_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t s[4];
} mc_rng;

/* Seeds |r|; every seed, 0 included, gives a usable distinct stream. */
void mc_rng_seed(mc_rng *r, uint64_t seed);

/* Next 64 random bits. */
uint64_t mc_rng_next(mc_rng *r);

/* Uniform in [0, 1). */
double mc_rng_uniform(mc_rng *r);

/* Uniform in [0, n), without modulo bias; 0 when n is 0. */
uint64_t mc_rng_below(mc_rng *r, uint64_t n);

/* Fills |buf| with |len| random bytes. */
void mc_rng_bytes(mc_rng *r, uint8_t *buf, size_t len);

#endif
