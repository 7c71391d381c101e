/*
 * mc_heap.c: the binary min-heap (see mc_heap.h).
 */
#include "mc_heap.h"

#include <string.h>

#include "mc_error.h"
#include "mc_map.h"

/* Copies |src| into slot |i| and tells the owner. */
static void heap_put(mc__heap *h, size_t i, const void *src) {
  memcpy(mc__heap_at(h, i), src, h->elem);
  if (h->moved)
    h->moved(mc__heap_at(h, i), i);
}

/* Moves the element at |i| up to its place; returns where it landed. */
static size_t heap_sift_up(mc__heap *h, size_t i) {
  unsigned char *tmp = mc__heap_at(h, h->n);
  memcpy(tmp, mc__heap_at(h, i), h->elem);
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!h->less(tmp, mc__heap_at(h, p)))
      break;
    heap_put(h, i, mc__heap_at(h, p));
    i = p;
  }
  heap_put(h, i, tmp);
  return i;
}

/* Moves the element at |i| down to its place. */
static void heap_sift_down(mc__heap *h, size_t i) {
  unsigned char *tmp = mc__heap_at(h, h->n);
  memcpy(tmp, mc__heap_at(h, i), h->elem);
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    const void *best = tmp;
    if (l < h->n && h->less(mc__heap_at(h, l), best))
      m = l, best = mc__heap_at(h, l);
    if (l + 1 < h->n && h->less(mc__heap_at(h, l + 1), best))
      m = l + 1;
    if (m == i)
      break;
    heap_put(h, i, mc__heap_at(h, m));
    i = m;
  }
  heap_put(h, i, tmp);
}

void mc__heap_init(mc__heap *h, size_t elem, mc__heap_less less,
                   mc__heap_moved moved, const mc_mem *mem) {
  h->v = NULL;
  h->n = h->cap = 0;
  h->elem = elem;
  h->less = less;
  h->moved = moved;
  h->mem = mem;
}

void mc__heap_free(mc__heap *h) {
  mc__free(h->mem, h->v);
  h->v = NULL;
  h->n = h->cap = 0;
}

int mc__heap_reserve(mc__heap *h, size_t extra) {
  /* One slot more than the elements: the scratch slot. */
  if (extra > SIZE_MAX - 1 - h->n)
    return MC_ERR_NOMEM;
  return mc__reserve(h->mem, &h->v, &h->cap, h->n + extra + 1, h->elem);
}

int mc__heap_push(mc__heap *h, const void *e) {
  int rv = mc__heap_reserve(h, 1);
  if (rv < 0)
    return rv;
  heap_put(h, h->n++, e);
  heap_sift_up(h, h->n - 1);
  return 0;
}

void mc__heap_remove(mc__heap *h, size_t i) {
  size_t last = --h->n;
  if (i == last)
    return;
  heap_put(h, i, mc__heap_at(h, last));
  heap_sift_down(h, heap_sift_up(h, i));
}

void mc__heap_pop(mc__heap *h, void *out) {
  if (out)
    memcpy(out, h->v, h->elem);
  mc__heap_remove(h, 0);
}

void mc__heap_update(mc__heap *h, size_t i) {
  heap_sift_down(h, heap_sift_up(h, i));
}
