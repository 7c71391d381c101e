/*
 * mc_sqlstore.h: the SQLite mc_store of the reference server.
 *
 * One database file holds accounts, groups, memberships, messages and
 * delivery state (schema in mc_sqlstore.c, versioned with PRAGMA
 * user_version). The database runs in WAL mode with synchronous=FULL: a
 * commit returns only after the WAL is synced, so a message confirmed Sent
 * after a commit survives kill -9 and power loss. A new database starts with
 * the group "MyChat".
 *
 * Each store operation outside mc_sqlstore_begin()/mc_sqlstore_commit() is
 * its own transaction. Between them, operations join the host's transaction
 * (each still all-or-nothing, through a savepoint), so the host pays one
 * sync for many datagrams; it must then confirm nothing to clients before
 * mc_sqlstore_commit() succeeds.
 *
 * Not thread-safe: one thread at a time may use a store.
 */
#ifndef MC_SQLSTORE_H
#define MC_SQLSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "mc_store.h"

typedef struct mc_sqlstore mc_sqlstore;

/* Opens (creating if missing) the database at |path| and sets |*out|.
 * Returns 0, or MC_ERR_STORAGE (or MC_ERR_NOMEM) with a message naming the
 * path in |err| (|errlen| bytes, always NUL-terminated when errlen > 0),
 * e.g. "open(/x/y.db): unable to open database file". A database written by
 * a newer schema version is refused. The caller closes |*out| with
 * mc_sqlstore_close(). */
int mc_sqlstore_open(const char *path, mc_sqlstore **out, char *err,
                     size_t errlen);

/* Turns SQLite's own locking off for the whole process (its global
 * mutexes and memory statistics): for a program in which only one thread
 * ever calls SQLite, such as mychat-server, whose other threads only
 * hash passwords and send datagrams. Must be called before the first mc_sqlstore_open().
 * Returns 0, or MC_ERR_STATE when SQLite was already initialised. */
int mc_sqlstore_single_thread(void);

/* Closes |ss|; a transaction still open is rolled back. NULL is allowed. */
void mc_sqlstore_close(mc_sqlstore *ss);

/* Fills |out| with the store's operations and |ss| as their first argument.
 * |out| borrows |ss|: it is valid until mc_sqlstore_close(ss). */
void mc_sqlstore_as_store(mc_sqlstore *ss, mc_store *out);

/* Starts a batch of operations. Returns 0 with a transaction open that
 * they join, MC_ERR_STATE when a batch is already open, or MC_ERR_STORAGE
 * when the database cannot take writes now: another process holds its
 * lock (past a wait of 1 s), the file is read-only, or the
 * disk has less free than the reserve (mc_sqlstore_set_reserve). The batch
 * then runs without a transaction: reads are served, every write fails at
 * once with MC_ERR_STORAGE and changes nothing, and mc_sqlstore_errmsg()
 * says why. Once degraded, begin tries again only after a backoff (50 ms,
 * doubling up to 2 s) and then without waiting for a lock, so a fault that
 * lasts costs the host no wait per batch; a read-only file is opened again
 * at each try, so the store recovers by itself when the fault clears.
 * Either way the host ends the batch with mc_sqlstore_commit(). */
int mc_sqlstore_begin(mc_sqlstore *ss);

/* Ends the batch started by mc_sqlstore_begin(), committing its
 * transaction durably. Returns 0 (also for a batch that had no
 * transaction), MC_ERR_STATE when no batch is open, or MC_ERR_STORAGE:
 * then the whole transaction is rolled back and nothing of it was stored.
 * With a reserve, a commit that finds the disk nearly full first gives the
 * reserve back, so that the commit still finds room. */
int mc_sqlstore_commit(mc_sqlstore *ss);

/* Keeps |bytes| of the database's file system in the file PATH-reserve
 * (taken now if there is room for it twice over, else as soon as there
 * is), and from now on refuses to start a transaction while less than
 * |bytes| is free: a transaction that finds the disk full is rolled back
 * whole by SQLite, which the host could not undo in its own state. The
 * file stays after close, for the next run. Nothing for ":memory:".
 * Returns 0 or MC_ERR_NOMEM. */
int mc_sqlstore_set_reserve(mc_sqlstore *ss, uint64_t bytes);

/* The message of the last SQLite failure, with context, for the host's log
 * ("" if none yet). Valid until the next call on |ss|. */
const char *mc_sqlstore_errmsg(const mc_sqlstore *ss);

#endif
