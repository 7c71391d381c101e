/*
 * mc_map.c: the hash map and the array helpers (see mc_map.h).
 */
#include "mc_map.h"

#include <string.h>

#include "mc_error.h"

/* Keys may be sequential (user ids) or random (session ids); mixing them
 * keeps sequential keys from clustering. */
static size_t slot_of(const mc__map *m, uint64_t key) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdULL;
  key ^= key >> 33;
  return (size_t)key & (m->cap - 1);
}

void mc__map_init(mc__map *m, const mc_mem *mem) {
  m->slots = NULL;
  m->cap = 0;
  m->n = 0;
  m->mem = mem;
}

void mc__map_free(mc__map *m) {
  mc__free(m->mem, m->slots);
  mc__map_init(m, m->mem);
}

/* The slot of |key|, or the empty slot that ends its probe run; NULL when
 * the map has no slots. */
static mc__map_slot *slot_find(const mc__map *m, uint64_t key) {
  if (m->cap == 0)
    return NULL;
  for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1))
    if (m->slots[i].key == key || m->slots[i].key == 0)
      return &m->slots[i];
}

/* Stores a new entry; the caller has made room. */
static void slot_insert(mc__map *m, uint64_t key, uint64_t val) {
  size_t i = slot_of(m, key);
  while (m->slots[i].key != 0)
    i = (i + 1) & (m->cap - 1);
  m->slots[i].key = key;
  m->slots[i].val = val;
  m->n++;
}

int mc__map_reserve(mc__map *m, size_t extra) {
  /* Keep the load at most 1/2 so probe runs stay short. */
  if (extra > SIZE_MAX / 4 - m->n)
    return MC_ERR_NOMEM;
  size_t ncap = m->cap ? m->cap : 16;
  while ((m->n + extra) * 2 > ncap)
    ncap *= 2;
  if (ncap == m->cap)
    return 0;
  mc__map_slot *old = m->slots;
  size_t ocap = m->cap;
  mc__map_slot *slots = mc__calloc(m->mem, ncap, sizeof *slots);
  if (slots == NULL)
    return MC_ERR_NOMEM;
  m->slots = slots;
  m->cap = ncap;
  m->n = 0;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].key != 0)
      slot_insert(m, old[i].key, old[i].val);
  mc__free(m->mem, old);
  return 0;
}

uint64_t *mc__map_find(const mc__map *m, uint64_t key) {
  mc__map_slot *sl = key ? slot_find(m, key) : NULL;
  return sl && sl->key == key ? &sl->val : NULL;
}

uint64_t *mc__map_at(mc__map *m, uint64_t key) {
  uint64_t *v = mc__map_find(m, key);
  if (v != NULL || key == 0)
    return v;
  if (mc__map_reserve(m, 1) < 0)
    return NULL;
  slot_insert(m, key, 0);
  return mc__map_find(m, key);
}

void *mc__map_get(const mc__map *m, uint64_t key) {
  uint64_t *v = mc__map_find(m, key);
  return v ? (void *)(uintptr_t)*v : NULL;
}

int mc__map_put(mc__map *m, uint64_t key, void *val) {
  if (key == 0)
    return MC_ERR_INVAL;
  uint64_t *v = mc__map_at(m, key);
  if (v == NULL)
    return MC_ERR_NOMEM;
  *v = (uint64_t)(uintptr_t)val;
  return 0;
}

void *mc__map_del(mc__map *m, uint64_t key) {
  mc__map_slot *sl = key ? slot_find(m, key) : NULL;
  if (sl == NULL || sl->key != key)
    return NULL;
  size_t mask = m->cap - 1, i = (size_t)(sl - m->slots);
  void *val = (void *)(uintptr_t)sl->val;
  /* Backward-shift deletion: pull later members of the probe run into the
   * hole when their home slot allows, so lookups never need tombstones. */
  size_t hole = i;
  for (size_t j = (i + 1) & mask; m->slots[j].key != 0; j = (j + 1) & mask) {
    size_t home = slot_of(m, m->slots[j].key);
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      m->slots[hole] = m->slots[j];
      hole = j;
    }
  }
  m->slots[hole].key = 0;
  m->slots[hole].val = 0;
  m->n--;
  return val;
}

/* Hashed entries keep their hash as the key; 0 marks an empty slot, so a
 * hash of 0 is stored as 1 (equality is decided by the value anyway). */
static uint64_t hash_key(uint64_t hash) { return hash ? hash : 1; }

int mc__map_add(mc__map *m, uint64_t hash, uint64_t val) {
  int rv = mc__map_reserve(m, 1);
  if (rv == 0)
    slot_insert(m, hash_key(hash), val);
  return rv;
}

uint64_t *mc__map_probe(const mc__map *m, uint64_t hash, mc__map_eq eq,
                        const void *ctx) {
  if (m->cap == 0)
    return NULL;
  uint64_t key = hash_key(hash);
  for (size_t i = slot_of(m, key); m->slots[i].key != 0;
       i = (i + 1) & (m->cap - 1))
    if (m->slots[i].key == key && eq(ctx, m->slots[i].val))
      return &m->slots[i].val;
  return NULL;
}

int mc__reserve(const mc_mem *mem, void *pp, size_t *cap, size_t need,
                size_t elem) {
  if (need <= *cap)
    return 0;
  size_t ncap = *cap ? *cap : 8;
  while (ncap < need)
    ncap *= 2;
  if (ncap > SIZE_MAX / elem)
    return MC_ERR_NOMEM;
  /* |pp| points to some T *; memcpy moves it through a void * without
   * assuming all object pointers share one representation in the type
   * system's eyes. */
  void *p;
  memcpy(&p, pp, sizeof p);
  void *np = mc__realloc(mem, p, ncap * elem);
  if (np == NULL)
    return MC_ERR_NOMEM;
  memcpy(pp, &np, sizeof np);
  *cap = ncap;
  return 0;
}

int mc__ring_grow(const mc_mem *mem, void **buf, size_t *head, size_t n,
                  size_t *cap, size_t elem, size_t first) {
  size_t ncap = *cap ? *cap * 2 : first;
  uint8_t *nb = mc__malloc(mem, ncap * elem);
  if (nb == NULL)
    return MC_ERR_NOMEM;
  /* Copy the two runs of the wrapped ring in order. */
  size_t run = n < *cap - *head ? n : *cap - *head;
  if (n > 0) {
    memcpy(nb, (uint8_t *)*buf + *head * elem, run * elem);
    memcpy(nb + run * elem, *buf, (n - run) * elem);
  }
  mc__free(mem, *buf);
  *buf = nb;
  *head = 0;
  *cap = ncap;
  return 0;
}
