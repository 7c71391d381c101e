#include "mc_map.h"

#include <stdlib.h>
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

void mc__map_init(mc__map *m) {
  m->slots = NULL;
  m->cap = 0;
  m->n = 0;
}

void mc__map_free(mc__map *m) {
  free(m->slots);
  mc__map_init(m);
}

void *mc__map_get(const mc__map *m, uint64_t key) {
  if (m->cap == 0 || key == 0)
    return NULL;
  for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
    if (m->slots[i].key == key)
      return m->slots[i].val;
    if (m->slots[i].key == 0)
      return NULL;
  }
}

static int grow(mc__map *m) {
  size_t ncap = m->cap ? m->cap * 2 : 16;
  mc__map_slot *old = m->slots;
  size_t ocap = m->cap;
  m->slots = calloc(ncap, sizeof *m->slots);
  if (m->slots == NULL) {
    m->slots = old;
    return MC_ERR_NOMEM;
  }
  m->cap = ncap;
  m->n = 0;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].key != 0)
      mc__map_put(m, old[i].key, old[i].val);
  free(old);
  return 0;
}

int mc__map_put(mc__map *m, uint64_t key, void *val) {
  if (key == 0)
    return MC_ERR_INVAL;
  /* Keep the load at most 1/2 so probe runs stay short. */
  if ((m->n + 1) * 2 > m->cap) {
    int rv = grow(m);
    if (rv < 0)
      return rv;
  }
  for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
    if (m->slots[i].key == key) {
      m->slots[i].val = val;
      return 0;
    }
    if (m->slots[i].key == 0) {
      m->slots[i].key = key;
      m->slots[i].val = val;
      m->n++;
      return 0;
    }
  }
}

void *mc__map_del(mc__map *m, uint64_t key) {
  if (m->cap == 0 || key == 0)
    return NULL;
  size_t mask = m->cap - 1, i = slot_of(m, key);
  while (m->slots[i].key != key) {
    if (m->slots[i].key == 0)
      return NULL;
    i = (i + 1) & mask;
  }
  void *val = m->slots[i].val;
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
  m->slots[hole].val = NULL;
  m->n--;
  return val;
}

int mc__reserve(void *pp, size_t *cap, size_t need, size_t elem) {
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
  void *np = realloc(p, ncap * elem);
  if (np == NULL)
    return MC_ERR_NOMEM;
  memcpy(pp, &np, sizeof np);
  *cap = ncap;
  return 0;
}

int mc__ring_grow(void **buf, size_t *head, size_t n, size_t *cap,
                  size_t elem, size_t first) {
  size_t ncap = *cap ? *cap * 2 : first;
  uint8_t *nb = malloc(ncap * elem);
  if (nb == NULL)
    return MC_ERR_NOMEM;
  /* Copy the two runs of the wrapped ring in order. */
  size_t run = n < *cap - *head ? n : *cap - *head;
  if (n > 0) {
    memcpy(nb, (uint8_t *)*buf + *head * elem, run * elem);
    memcpy(nb + run * elem, *buf, (n - run) * elem);
  }
  free(*buf);
  *buf = nb;
  *head = 0;
  *cap = ncap;
  return 0;
}
