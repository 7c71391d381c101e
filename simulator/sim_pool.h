/*
 * sim_pool.h: a free-list allocator for one lane of the virtual mode.
 *
 * The client and server cores allocate and free small blocks at a high
 * rate (protobuf-c's decoding of every datagram, the reliability layer's
 * bodies, client events), in bursts of thousands when a group message fans
 * out; glibc's per-thread cache holds only a few blocks per size, so most
 * of them went through its locked bins (malloc and free were 15-18 % of a
 * run). A pool keeps every freed block on a list for its size class, for
 * the next allocation of that class, and never gives memory back before
 * sim_pool_del: its footprint is the lane's peak of each class.
 *
 * A pool is not thread-safe: one lane (one thread at a time) uses it. The
 * mc_mem it gives out must not be used after sim_pool_del. (The simulator
 * does not use it under AddressSanitizer, which must see every block.)
 */
#ifndef SIM_POOL_H
#define SIM_POOL_H

#include "mc_mem.h"

/* Blocks up to this size come from the pool's slabs, larger ones from
 * malloc (freed at once). */
#define SIM_POOL_SMALL_MAX 2048

typedef struct sim_pool sim_pool;

/* Returns a new, empty pool, or NULL when out of memory. */
sim_pool *sim_pool_new(void);

/* Frees the pool and every block it gave out; NULL is accepted. */
void sim_pool_del(sim_pool *p);

/* The allocator over |p|, for the cores' callbacks; |p| owns it. */
const mc_mem *sim_pool_mem(sim_pool *p);

#endif
