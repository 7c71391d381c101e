/*
 * mc_heap.h: the binary min-heap of the whole tree (the server's session
 * timers, mc_netem's delivery queue, the simulator's event queue, the
 * benchmark's client timers).
 *
 * Elements are stored by value, |elem| bytes each, ordered by a |less|
 * function the owner gives. An owner that must find an element again (to
 * remove it or to move it after its key changed) gives a |moved| function
 * too: it is called with an element's new index every time the element
 * lands in a slot, so the owner can keep that index in the element.
 *
 * Ties: among elements that compare equal the pop order is that of the
 * classic sift-up/sift-down on the array (the smaller child, the left one
 * on a tie, moves up only when strictly less). Owners that need one order
 * whatever the algorithm add a unique tie-break to their key.
 */
#ifndef MC_HEAP_H
#define MC_HEAP_H

#include <stddef.h>

#include "mc_mem.h"

/* Returns non-zero when |a| must come out before |b|. */
typedef int (*mc__heap_less)(const void *a, const void *b);
/* |e| now sits at index |i|. */
typedef void (*mc__heap_moved)(void *e, size_t i);

typedef struct {
  unsigned char *v;     /* n elements; when cap > 0, cap > n and the slot
                           v[n] is scratch for the sift loops */
  size_t n, cap, elem;
  mc__heap_less less;
  mc__heap_moved moved; /* may be NULL */
  const mc_mem *mem;    /* NULL: libc */
} mc__heap;

/* |mem| may be NULL (libc); it must outlive |h|. */
void mc__heap_init(mc__heap *h, size_t elem, mc__heap_less less,
                   mc__heap_moved moved, const mc_mem *mem);
/* Frees the array (not what the elements point to); |h| is then empty. */
void mc__heap_free(mc__heap *h);

/* Makes room for |extra| more pushes, so that they cannot fail. Returns 0
 * or MC_ERR_NOMEM (|h| is then unchanged). */
int mc__heap_reserve(mc__heap *h, size_t extra);

/* Copies |e| in. Returns 0 or MC_ERR_NOMEM (|h| is then unchanged). */
int mc__heap_push(mc__heap *h, const void *e);

/* The element at index |i| (< n); index 0 is the least. The pointer is
 * valid until the next change to |h|. */
static inline void *mc__heap_at(const mc__heap *h, size_t i) {
  return h->v + i * h->elem;
}

/* The least element, or NULL when |h| is empty. */
static inline void *mc__heap_top(const mc__heap *h) {
  return h->n > 0 ? h->v : NULL;
}

/* Removes the element at index |i| (< n). */
void mc__heap_remove(mc__heap *h, size_t i);

/* Copies the least element to |out| (when not NULL) and removes it; |h|
 * must not be empty. */
void mc__heap_pop(mc__heap *h, void *out);

/* Restores the order after the key of the element at |i| changed. */
void mc__heap_update(mc__heap *h, size_t i);

#endif
