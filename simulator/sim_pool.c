/*
 * sim_pool.c: a free-list allocator for one lane (see sim_pool.h).
 */
#include "sim_pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Small blocks come in classes of POOL_GRAIN bytes; larger ones (beyond
 * the datagram-sized buffers the cores ask for often) from malloc, with
 * the same header. */
#define POOL_GRAIN 16
#define POOL_SMALL_MAX SIM_POOL_SMALL_MAX
#define POOL_CLASSES (POOL_SMALL_MAX / POOL_GRAIN)
#define POOL_SLAB (256 * 1024)
#define POOL_BIG UINT32_MAX

/* Before every block: its class (1..POOL_CLASSES, or POOL_BIG with its
 * size). 16 bytes, so that the block keeps malloc's alignment. */
typedef struct {
  uint32_t cls;
  uint32_t pad;
  uint64_t size;
} pool_hdr;

typedef struct pool_free {
  struct pool_free *next;
} pool_free;

typedef struct pool_slab {
  struct pool_slab *next;
  _Alignas(16) unsigned char bytes[];
} pool_slab;

struct sim_pool {
  mc_mem mem;
  pool_free *free[POOL_CLASSES + 1];  /* by class; [0] unused */
  pool_slab *slabs;                   /* every slab, for sim_pool_del */
  unsigned char *cur, *end;           /* the rest of the newest slab */
};

static void *pool_malloc(size_t size, void *ud) {
  sim_pool *p = ud;
  if (size > POOL_SMALL_MAX) {
    if (size > SIZE_MAX - sizeof(pool_hdr))
      return NULL;
    pool_hdr *h = malloc(sizeof *h + size);
    if (h == NULL)
      return NULL;
    h->cls = POOL_BIG;
    h->size = size;
    return h + 1;
  }
  uint32_t cls = size ? (uint32_t)((size + POOL_GRAIN - 1) / POOL_GRAIN) : 1;
  pool_free *f = p->free[cls];
  if (f != NULL) {
    p->free[cls] = f->next;
    return f;
  }
  size_t need = sizeof(pool_hdr) + (size_t)cls * POOL_GRAIN;
  if ((size_t)(p->end - p->cur) < need) {
    /* The rest of the old slab is left unused: at most one block. */
    pool_slab *sl = malloc(sizeof *sl + POOL_SLAB);
    if (sl == NULL)
      return NULL;
    sl->next = p->slabs;
    p->slabs = sl;
    p->cur = sl->bytes;
    p->end = sl->bytes + POOL_SLAB;
  }
  pool_hdr *h = (pool_hdr *)p->cur;
  p->cur += need;
  h->cls = cls;
  h->size = 0;
  return h + 1;
}

static void pool_freep(void *ptr, void *ud) {
  sim_pool *p = ud;
  if (ptr == NULL)
    return;
  pool_hdr *h = (pool_hdr *)ptr - 1;
  if (h->cls == POOL_BIG) {
    free(h);
    return;
  }
  pool_free *f = ptr;
  f->next = p->free[h->cls];
  p->free[h->cls] = f;
}

static void *pool_calloc(size_t nmemb, size_t size, void *ud) {
  if (size != 0 && nmemb > SIZE_MAX / size)
    return NULL;
  void *ptr = pool_malloc(nmemb * size, ud);
  if (ptr != NULL)
    memset(ptr, 0, nmemb * size);
  return ptr;
}

static void *pool_realloc(void *ptr, size_t size, void *ud) {
  if (ptr == NULL)
    return pool_malloc(size, ud);
  const pool_hdr *h = (const pool_hdr *)ptr - 1;
  size_t room = h->cls == POOL_BIG ? (size_t)h->size
                                   : (size_t)h->cls * POOL_GRAIN;
  if (size <= room && (h->cls != POOL_BIG || size > POOL_SMALL_MAX))
    return ptr;
  void *n = pool_malloc(size, ud);
  if (n == NULL)
    return NULL;
  memcpy(n, ptr, size < room ? size : room);
  pool_freep(ptr, ud);
  return n;
}

sim_pool *sim_pool_new(void) {
  sim_pool *p = calloc(1, sizeof *p);
  if (p == NULL)
    return NULL;
  p->mem = (mc_mem){.user_data = p, .malloc = pool_malloc,
                    .calloc = pool_calloc, .realloc = pool_realloc,
                    .free = pool_freep};
  return p;
}

void sim_pool_del(sim_pool *p) {
  if (p == NULL)
    return;
  while (p->slabs != NULL) {
    pool_slab *n = p->slabs->next;
    free(p->slabs);
    p->slabs = n;
  }
  free(p);
}

const mc_mem *sim_pool_mem(sim_pool *p) { return &p->mem; }
