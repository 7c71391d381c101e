/*
 * mc_mem.h: the allocator the core allocates with (as nghttp2_mem).
 *
 * A host that wants to bound, count or fail allocations passes an mc_mem
 * in mc_server_callbacks or mc_client_callbacks; NULL there means libc.
 * Everything the server or client allocates, protobuf-c's decoding of
 * datagrams included, goes through it, and everything it frees goes back
 * through the same one. The mc_mem must outlive the object using it.
 */
#ifndef MC_MEM_H
#define MC_MEM_H

#include <stddef.h>

typedef struct {
  void *user_data;
  /* As malloc, calloc, realloc and free; |user_data| is the field above.
   * free must accept NULL. */
  void *(*malloc)(size_t size, void *user_data);
  void *(*calloc)(size_t nmemb, size_t size, void *user_data);
  void *(*realloc)(void *ptr, size_t size, void *user_data);
  void (*free)(void *ptr, void *user_data);
} mc_mem;

/* The libc allocator. */
const mc_mem *mc_mem_default(void);

/* The core's calls: |mem| NULL means mc_mem_default(). */
void *mc__malloc(const mc_mem *mem, size_t size);
void *mc__calloc(const mc_mem *mem, size_t nmemb, size_t size);
void *mc__realloc(const mc_mem *mem, void *ptr, size_t size);
void mc__free(const mc_mem *mem, void *ptr);

#endif
