/*
 * mc_mem.c: the default allocator and the core's calls (see mc_mem.h).
 */
#include "mc_mem.h"

#include <stdlib.h>

static void *libc_malloc(size_t size, void *ud) {
  (void)ud;
  return malloc(size);
}

static void *libc_calloc(size_t nmemb, size_t size, void *ud) {
  (void)ud;
  return calloc(nmemb, size);
}

static void *libc_realloc(void *ptr, size_t size, void *ud) {
  (void)ud;
  return realloc(ptr, size);
}

static void libc_free(void *ptr, void *ud) {
  (void)ud;
  free(ptr);
}

static const mc_mem libc_mem = {NULL, libc_malloc, libc_calloc, libc_realloc,
                                libc_free};

const mc_mem *mc_mem_default(void) { return &libc_mem; }

void *mc__malloc(const mc_mem *mem, size_t size) {
  mem = mem ? mem : &libc_mem;
  return mem->malloc(size, mem->user_data);
}

void *mc__calloc(const mc_mem *mem, size_t nmemb, size_t size) {
  mem = mem ? mem : &libc_mem;
  return mem->calloc(nmemb, size, mem->user_data);
}

void *mc__realloc(const mc_mem *mem, void *ptr, size_t size) {
  mem = mem ? mem : &libc_mem;
  return mem->realloc(ptr, size, mem->user_data);
}

void mc__free(const mc_mem *mem, void *ptr) {
  mem = mem ? mem : &libc_mem;
  mem->free(ptr, mem->user_data);
}
