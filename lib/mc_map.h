/*
 * mc_map.h: small containers internal to the core. An open-addressing hash map from non-zero uint64 keys to
 * pointers (linear probing, backward-shift deletion). Internal to the core:
 * sessions by id, sessions by user, online members by group.
 */
#ifndef MC_MAP_H
#define MC_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t key;   /* 0 = empty slot */
  void *val;
} mc__map_slot;

typedef struct {
  mc__map_slot *slots;
  size_t cap;     /* power of two, or 0 */
  size_t n;
} mc__map;

void mc__map_init(mc__map *m);
void mc__map_free(mc__map *m);

/* Returns the value for |key|, or NULL. */
void *mc__map_get(const mc__map *m, uint64_t key);

/* Sets |key| (non-zero) to |val|, replacing any value. Returns 0, or
 * MC_ERR_NOMEM / MC_ERR_INVAL (key 0). */
int mc__map_put(mc__map *m, uint64_t key, void *val);

/* Removes |key| if present; returns its value or NULL. */
void *mc__map_del(mc__map *m, uint64_t key);

/* Makes room for |need| elements of |elem| bytes in the array at |*pp| (a
 * pointer to any pointer type) of capacity |*cap|, doubling from 8.
 * Returns 0 or MC_ERR_NOMEM (the array is then unchanged). */
int mc__reserve(void *pp, size_t *cap, size_t need, size_t elem);

/* Grows the ring buffer |*buf| of |*cap| elements of |elem| bytes holding
 * |n| elements from index |*head| (wrapping), to twice its size (|first| when
 * empty), unwrapping it so that *head becomes 0. Returns 0 or
 * MC_ERR_NOMEM (the ring is then unchanged). */
int mc__ring_grow(void **buf, size_t *head, size_t n, size_t *cap,
                  size_t elem, size_t first);

#endif
