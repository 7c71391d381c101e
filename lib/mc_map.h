/*
 * mc_map.h: the hash map of the whole tree, and the array helpers of the
 * core.
 *
 * mc__map maps non-zero uint64 keys to uint64 values (a pointer fits: the
 * _get/_put/_del calls take and give pointers) by open addressing: linear
 * probing, load at most 1/2, backward-shift deletion, so lookups need no
 * tombstones. Users: the server (sessions by id and by user, online lists by
 * group), mc_memstore (names and message keys), the simulator and the
 * benchmark (their own bookkeeping).
 *
 * Keys that are not integers (names, pairs) go in by a 64-bit hash with
 * mc__map_add and are found with mc__map_probe and an equality function:
 * several entries may then share a hash, and the value says which is which.
 * A map is used in one way or the other, never both.
 */
#ifndef MC_MAP_H
#define MC_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "mc_mem.h"

typedef struct {
  uint64_t key;   /* 0 = empty slot */
  uint64_t val;
} mc__map_slot;

typedef struct {
  mc__map_slot *slots;
  size_t cap;     /* power of two, or 0 */
  size_t n;       /* entries; n * 2 <= cap */
  const mc_mem *mem; /* NULL: libc (so an all-zero map is an empty one) */
} mc__map;

/* |mem| may be NULL (libc); it must outlive |m|. */
void mc__map_init(mc__map *m, const mc_mem *mem);
void mc__map_free(mc__map *m);

/* Returns the value for |key|, or NULL. */
void *mc__map_get(const mc__map *m, uint64_t key);

/* Sets |key| (non-zero) to |val|, replacing any value. Returns 0, or
 * MC_ERR_NOMEM / MC_ERR_INVAL (key 0). */
int mc__map_put(mc__map *m, uint64_t key, void *val);

/* Removes |key| if present; returns its value or NULL. */
void *mc__map_del(mc__map *m, uint64_t key);

/* The value of |key|, or NULL when |key| is absent; the pointer is valid
 * until the next insertion. */
uint64_t *mc__map_find(const mc__map *m, uint64_t key);

/* The value of |key|, inserted as 0 when absent; NULL when memory ran out
 * (|m| is then unchanged) or |key| is 0. Valid until the next insertion. */
uint64_t *mc__map_at(mc__map *m, uint64_t key);

/* Makes room for |extra| more entries, so that inserting them cannot fail.
 * Returns 0 or MC_ERR_NOMEM (|m| is then unchanged). */
int mc__map_reserve(mc__map *m, size_t extra);

/* Tells whether the entry of value |val| has the key |ctx| looks for. */
typedef int (*mc__map_eq)(const void *ctx, uint64_t val);

/* Adds an entry |val| under |hash| (any value) without looking for an equal
 * one. Returns 0 or MC_ERR_NOMEM (|m| is then unchanged). */
int mc__map_add(mc__map *m, uint64_t hash, uint64_t val);

/* The value of the entry under |hash| for which |eq| says yes, or NULL. */
uint64_t *mc__map_probe(const mc__map *m, uint64_t hash, mc__map_eq eq,
                        const void *ctx);

/* Makes room for |need| elements of |elem| bytes in the array at |*pp| (a
 * pointer to any pointer type) of capacity |*cap|, doubling from 8.
 * Returns 0 or MC_ERR_NOMEM (the array is then unchanged). |mem| may be
 * NULL (libc). */
int mc__reserve(const mc_mem *mem, void *pp, size_t *cap, size_t need,
                size_t elem);

/* Grows the ring buffer |*buf| of |*cap| elements of |elem| bytes holding
 * |n| elements from index |*head| (wrapping), to twice its size (|first| when
 * empty), unwrapping it so that *head becomes 0. Returns 0 or
 * MC_ERR_NOMEM (the ring is then unchanged). */
int mc__ring_grow(const mc_mem *mem, void **buf, size_t *head, size_t n,
                  size_t *cap, size_t elem, size_t first);

#endif
