/*
 * mc_memstore.h: an in-memory mc_store for unit tests, fuzzers and the
 * simulator.
 *
 * Nothing survives mc_memstore_del(). The store is sized for simulations with
 * tens of thousands of users and hundreds of thousands of messages: names
 * and idempotency keys are found through hash tables, lists page through
 * name-sorted arrays, and pending() merges the user's pending direct ids
 * with each of the user's groups' message arrays from the member's cursor,
 * so no call scans all messages. A new store already holds the default group
 * "MyChat" (a new server has it).
 *
 * Not thread-safe: one thread at a time may call into a store.
 */
#ifndef MC_MEMSTORE_H
#define MC_MEMSTORE_H

#include "mc_store.h"

typedef struct mc_memstore mc_memstore;

/* Returns a new, empty store holding only the group "MyChat", or NULL when
 * out of memory. The caller owns it and frees it with mc_memstore_del(). */
mc_memstore *mc_memstore_new(void);

/* Frees |ms| and everything it stores; NULL is allowed. */
void mc_memstore_del(mc_memstore *ms);

/* Fills |out| with the store's operations and |ms| as their first argument.
 * |out| borrows |ms|: it is valid until mc_memstore_del(ms). */
void mc_memstore_as_store(mc_memstore *ms, mc_store *out);

/* Fault injection for tests: after the next |n| store operations succeed
 * normally, every later operation fails with MC_ERR_STORAGE and changes
 * nothing, so a test can check that nothing is confirmed unless stored.
 * n = 0 makes the very next operation fail; n = -1 turns failing off. */
void mc_memstore_fail_after(mc_memstore *ms, long n);

#endif
