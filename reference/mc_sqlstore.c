/*
 * mc_sqlstore.c: the SQLite mc_store (see mc_sqlstore.h).
 *
 * Durability: WAL with synchronous=FULL. With synchronous=NORMAL a WAL
 * database also survives kill -9 (the WAL is in the OS page cache), but a
 * power cut can lose the last commits - messages the server has already
 * confirmed Sent. FULL syncs the WAL at every commit, so confirmed means on
 * disk; the host keeps the cost down by grouping many operations in one
 * transaction (mc_sqlstore_begin/commit), which pays one sync for all.
 *
 * Every statement is prepared once at open and reused. Operations that run
 * several statements wrap them in a savepoint, which is its own transaction
 * outside begin/commit and nests inside one, so each operation is
 * all-or-nothing either way.
 */
#include "mc_sqlstore.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "mc_error.h"

/* PRAGMA user_version of the schema below; 0 is a new, empty database.
 * Version 1 had no users.sent_bytes: sq_upgrade_v2 adds it. */
#define SQ_SCHEMA_VERSION 2

/* How long a healthy store waits for another process's lock before a
 * batch runs without writes. A degraded store does not wait at all: it
 * tries again after a backoff from SQ_RETRY_MIN_MS, doubling up to
 * SQ_RETRY_MAX_MS, so a lock held for minutes costs the host's loop one
 * wait, not one per batch. */
#define SQ_BUSY_MS 1000
#define SQ_RETRY_MIN_MS 50
#define SQ_RETRY_MAX_MS 2000

/* Direct messages have no group_id and group messages no to_id (NULL, so
 * the foreign keys hold); the API's 0 maps to NULL both ways. The store
 * checks the foreign keys itself (sq_setup says why): users, groups and
 * messages are never deleted, so a row's references are checked once,
 * when it is inserted. Receipt seqs come from AUTOINCREMENT, which never
 * reuses a seq, even after the highest receipt is deleted. Each index serves one hot query: messages
 * by (group_id, id) for a member's pending group messages from its cursor,
 * pending_direct by (user_id, message_id) for pending direct messages,
 * receipts by (sender_id, seq) for pending receipts. */
static const char sq_schema[] =
    "CREATE TABLE users("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " pwhash TEXT NOT NULL,"
    " sent_bytes INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE chat_groups("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE members("
    " user_id INTEGER NOT NULL REFERENCES users(id),"
    " group_id INTEGER NOT NULL REFERENCES chat_groups(id),"
    " cursor INTEGER NOT NULL,"
    " PRIMARY KEY(user_id, group_id)) WITHOUT ROWID;"
    "CREATE TABLE messages("
    " id INTEGER PRIMARY KEY,"
    " sender_id INTEGER NOT NULL REFERENCES users(id),"
    " group_id INTEGER REFERENCES chat_groups(id),"
    " to_id INTEGER REFERENCES users(id),"
    " time_ms INTEGER NOT NULL,"
    " client_msg_id INTEGER NOT NULL,"
    " text TEXT NOT NULL,"
    " UNIQUE(sender_id, client_msg_id),"
    " CHECK((group_id IS NULL) <> (to_id IS NULL)));"
    "CREATE INDEX messages_by_group ON messages(group_id, id)"
    " WHERE group_id IS NOT NULL;"
    "CREATE TABLE pending_direct("
    " user_id INTEGER NOT NULL REFERENCES users(id),"
    " message_id INTEGER NOT NULL REFERENCES messages(id),"
    " PRIMARY KEY(user_id, message_id)) WITHOUT ROWID;"
    "CREATE TABLE receipts("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " message_id INTEGER NOT NULL UNIQUE REFERENCES messages(id),"
    " sender_id INTEGER NOT NULL REFERENCES users(id),"
    " delivered_ms INTEGER NOT NULL);"
    "CREATE INDEX receipts_by_sender ON receipts(sender_id, seq);"
    "INSERT INTO chat_groups(name) VALUES('" MC_STORE_DEFAULT_GROUP "');";

/* From version 1: each user's sent_bytes is what its stored messages
 * hold, so the byte quota (MC-151) counts what was sent before the
 * upgrade too. length() of a BLOB counts bytes, of TEXT characters. */
static const char sq_upgrade_v2[] =
    "ALTER TABLE users ADD COLUMN sent_bytes INTEGER NOT NULL DEFAULT 0;"
    "UPDATE users SET sent_bytes = (SELECT IFNULL(SUM(length(CAST(text AS"
    " BLOB))), 0) FROM messages WHERE sender_id = users.id);";

enum {
  SQ_USER_ADD,
  SQ_USER_FIND,
  SQ_USER_NAME,
  SQ_USER_LIST,
  SQ_USER_BYTES,
  SQ_USER_SENT,
  SQ_GROUP_ADD,
  SQ_GROUP_FIND,
  SQ_GROUP_NAME,
  SQ_GROUP_LIST,
  SQ_USER_GROUPS,
  SQ_MEMBER_ADD,
  SQ_MEMBER_DEL,
  SQ_MEMBER_CHECK,
  SQ_MEMBER_CURSORS,
  SQ_CURSOR_UP,
  SQ_MSG_BY_KEY,
  SQ_MSG_INSERT,
  SQ_MSG_GET,
  SQ_MSG_ROUTE,
  SQ_MSG_MAX,
  SQ_PENDING_DIRECT,
  SQ_PENDING_GROUP,
  SQ_DIRECT_ADD,
  SQ_DIRECT_DEL,
  SQ_RECEIPT_ADD,
  SQ_RECEIPTS,
  SQ_RECEIPT_DEL,
  SQ_SAVEPOINT,
  SQ_RELEASE,
  SQ_ROLLBACK_TO,
  SQ_BEGIN,
  SQ_COMMIT,
  SQ_ROLLBACK,
  SQ_COUNT
};

/* The columns sq_msg_row() reads, in its order. */
#define SQ_MSG_COLUMNS                                                        \
  "id, sender_id, IFNULL(group_id, 0), IFNULL(to_id, 0), time_ms,"            \
  " client_msg_id, text"

/* The list statements bind ?1 = after, ?2 = limit (and ?3 = user). */
static const char *const sq_sql[SQ_COUNT] = {
    [SQ_USER_ADD] = "INSERT INTO users(name, pwhash) VALUES(?1, ?2)",
    [SQ_USER_FIND] = "SELECT id, pwhash FROM users WHERE name = ?1",
    [SQ_USER_NAME] = "SELECT name FROM users WHERE id = ?1",
    [SQ_USER_LIST] = "SELECT id, name FROM users WHERE name > ?1"
                     " ORDER BY name LIMIT ?2",
    [SQ_USER_BYTES] = "SELECT sent_bytes FROM users WHERE id = ?1",
    [SQ_USER_SENT] = "UPDATE users SET sent_bytes = sent_bytes + ?2"
                     " WHERE id = ?1",
    [SQ_GROUP_ADD] = "INSERT INTO chat_groups(name) VALUES(?1)",
    [SQ_GROUP_FIND] = "SELECT id FROM chat_groups WHERE name = ?1",
    [SQ_GROUP_NAME] = "SELECT name FROM chat_groups WHERE id = ?1",
    [SQ_GROUP_LIST] = "SELECT id, name FROM chat_groups WHERE name > ?1"
                      " ORDER BY name LIMIT ?2",
    [SQ_USER_GROUPS] = "SELECT g.id, g.name FROM members b"
                       " JOIN chat_groups g ON g.id = b.group_id"
                       " WHERE b.user_id = ?3 AND g.name > ?1"
                       " ORDER BY g.name LIMIT ?2",
    [SQ_MEMBER_ADD] = "INSERT INTO members(user_id, group_id, cursor)"
                      " VALUES(?1, ?2, (SELECT IFNULL(MAX(id), 0)"
                      " FROM messages))",
    [SQ_MEMBER_DEL] = "DELETE FROM members WHERE user_id = ?1"
                      " AND group_id = ?2",
    [SQ_MEMBER_CHECK] = "SELECT 1 FROM members WHERE user_id = ?1"
                        " AND group_id = ?2",
    [SQ_MEMBER_CURSORS] = "SELECT group_id, cursor FROM members"
                          " WHERE user_id = ?1",
    [SQ_CURSOR_UP] = "UPDATE members SET cursor = MAX(cursor, ?3)"
                     " WHERE user_id = ?1 AND group_id = ?2",
    [SQ_MSG_BY_KEY] = "SELECT " SQ_MSG_COLUMNS " FROM messages"
                      " WHERE sender_id = ?1 AND client_msg_id = ?2",
    [SQ_MSG_INSERT] = "INSERT INTO messages(sender_id, group_id, to_id,"
                      " time_ms, client_msg_id, text)"
                      " VALUES(?1, NULLIF(?2, 0), NULLIF(?3, 0), ?4, ?5, ?6)",
    [SQ_MSG_GET] = "SELECT " SQ_MSG_COLUMNS " FROM messages WHERE id = ?1",
    [SQ_MSG_ROUTE] = "SELECT sender_id, IFNULL(group_id, 0), IFNULL(to_id, 0)"
                     " FROM messages WHERE id = ?1",
    [SQ_MSG_MAX] = "SELECT IFNULL(MAX(id), 0) FROM messages",
    [SQ_PENDING_DIRECT] = "SELECT message_id FROM pending_direct"
                          " WHERE user_id = ?1 AND message_id > ?2"
                          " ORDER BY message_id LIMIT ?3",
    [SQ_PENDING_GROUP] = "SELECT id FROM messages WHERE group_id = ?1"
                         " AND id > ?2 AND sender_id <> ?3"
                         " ORDER BY id LIMIT ?4",
    [SQ_DIRECT_ADD] = "INSERT INTO pending_direct(user_id, message_id)"
                      " VALUES(?1, ?2)",
    [SQ_DIRECT_DEL] = "DELETE FROM pending_direct WHERE user_id = ?1"
                      " AND message_id = ?2",
    [SQ_RECEIPT_ADD] = "INSERT INTO receipts(message_id, sender_id,"
                       " delivered_ms) VALUES(?1, ?2, ?3)",
    [SQ_RECEIPTS] = "SELECT message_id, delivered_ms, seq FROM receipts"
                    " WHERE sender_id = ?1 AND seq > ?2"
                    " ORDER BY seq LIMIT ?3",
    [SQ_RECEIPT_DEL] = "DELETE FROM receipts WHERE message_id = ?1",
    [SQ_SAVEPOINT] = "SAVEPOINT mc_op",
    [SQ_RELEASE] = "RELEASE mc_op",
    [SQ_ROLLBACK_TO] = "ROLLBACK TO mc_op",
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
};

/* What every message would otherwise read back: names by id and ids by
 * name (users, groups), and a message's sender and recipient by its id.
 * Nothing is ever renamed or deleted, so an entry stays true as long as
 * what it was learned from is committed; a rollback may undo that, so
 * every rollback empties the caches (sq_forget). Direct-mapped: a
 * collision only costs the query the cache saves. */
#define SQ_CACHE 4096 /* entries per name table, a power of two */
/* Routes are looked up again when a Deliver is acknowledged, a few
 * thousand messages later at load: in the relay bench (200 sessions,
 * window 32) 4096 slots missed on 179,169 of 180,000 lookups, each then a
 * query; 16384 on 3.5 %, 32768 on 0.7 %. 32768 slots are 1 MiB. A power
 * of two. */
#define SQ_ROUTES 32768

typedef struct {
  uint64_t id; /* 0: an empty slot (SQLite ids start at 1) */
  char name[MC_NAME_MAX + 1];
} sq_name;

typedef struct {
  sq_name by_id[SQ_CACHE];   /* slot: id */
  sq_name by_name[SQ_CACHE]; /* slot: a hash of the name */
} sq_names;

typedef struct {
  uint64_t id; /* message id; 0: an empty slot */
  uint64_t sender_id, group_id, to_id;
} sq_route;

typedef struct {
  sq_names users, groups;
  sq_route routes[SQ_ROUTES]; /* slot: message id */
} sq_cache;

/* What the messages of the open transaction add to their senders'
 * sent_bytes: one UPDATE per sender at commit instead of one per message
 * (sq_sent_flush), durable with the commit all the same. */
typedef struct {
  uint64_t user_id; /* 0: an empty slot */
  uint64_t bytes;
} sq_sent;

struct mc_sqlstore {
  sqlite3 *db;
  sqlite3_stmt *stmt[SQ_COUNT];
  sq_cache *cache;
  /* Open addressing on the user id, linear probing; at most half full, so
   * a probe always ends. Empty outside a transaction. */
  sq_sent *sent;
  size_t sent_cap; /* slots, a power of two (0 before the first message) */
  size_t sent_n;   /* slots in use */
  char *path;      /* for error messages */
  int in_batch;    /* between mc_sqlstore_begin() and _commit() */
  int in_txn;      /* the batch has a transaction (writes allowed) */
  int degraded;    /* the last try to open a transaction failed */
  unsigned backoff_ms;  /* until the next try, while degraded */
  uint64_t retry_at_ms; /* CLOCK_MONOTONIC time of the next try */
  /* The reserve (mc_sqlstore_set_reserve): |reserve| bytes held in the
   * file |reserve_path| while the disk has room, given back to the
   * file system just before a commit that would otherwise find it full. */
  char *reserve_path;
  uint64_t reserve;
  int reserve_held;
  char errmsg[256];
};

/* Records "what(path): SQLite's message" and returns MC_ERR_STORAGE. */
static int sq_fail(mc_sqlstore *ss, const char *what) {
  snprintf(ss->errmsg, sizeof ss->errmsg, "%s(%s): %s", what, ss->path,
           sqlite3_errmsg(ss->db));
  return MC_ERR_STORAGE;
}

static void sq_forget(mc_sqlstore *ss) {
  memset(ss->cache, 0, sizeof *ss->cache);
}

static sq_sent *sq_sent_slot(sq_sent *t, size_t cap, uint64_t user_id) {
  size_t i = (size_t)(user_id * 0x9e3779b97f4a7c15u) & (cap - 1);
  while (t[i].user_id && t[i].user_id != user_id)
    i = (i + 1) & (cap - 1);
  return &t[i];
}

/* Makes room for one more sender, so that sq_sent_add() cannot fail
 * after the message is stored. Returns 0 or MC_ERR_STORAGE (no memory). */
static int sq_sent_reserve(mc_sqlstore *ss) {
  if (2 * (ss->sent_n + 1) <= ss->sent_cap)
    return 0;
  size_t cap = ss->sent_cap ? 2 * ss->sent_cap : 64;
  sq_sent *t = calloc(cap, sizeof *t);
  if (!t) {
    snprintf(ss->errmsg, sizeof ss->errmsg, "msg_add(%s): out of memory",
             ss->path);
    return MC_ERR_STORAGE;
  }
  for (size_t i = 0; i < ss->sent_cap; i++)
    if (ss->sent[i].user_id)
      *sq_sent_slot(t, cap, ss->sent[i].user_id) = ss->sent[i];
  free(ss->sent);
  ss->sent = t;
  ss->sent_cap = cap;
  return 0;
}

/* After sq_sent_reserve(). */
static void sq_sent_add(mc_sqlstore *ss, uint64_t user_id, uint64_t bytes) {
  sq_sent *e = sq_sent_slot(ss->sent, ss->sent_cap, user_id);
  if (!e->user_id) {
    e->user_id = user_id;
    ss->sent_n++;
  }
  e->bytes += bytes;
}

/* What the open transaction adds to |user_id|'s sent_bytes so far. */
static uint64_t sq_sent_get(const mc_sqlstore *ss, uint64_t user_id) {
  if (!ss->sent_n)
    return 0;
  return sq_sent_slot(ss->sent, ss->sent_cap, user_id)->bytes;
}

/* The transaction is over (committed or rolled back). */
static void sq_sent_clear(mc_sqlstore *ss) {
  if (ss->sent_n)
    memset(ss->sent, 0, ss->sent_cap * sizeof *ss->sent);
  ss->sent_n = 0;
}

/* FNV-1a: names are short; any spread will do. */
static size_t sq_name_slot(const char *name) {
  uint32_t h = 2166136261u;
  for (; *name; name++)
    h = (h ^ (uint8_t)*name) * 16777619u;
  return h & (SQ_CACHE - 1);
}

static void sq_names_put(sq_names *c, uint64_t id, const char *name) {
  sq_name e = {.id = id};
  snprintf(e.name, sizeof e.name, "%s", name);
  c->by_id[id & (SQ_CACHE - 1)] = e;
  c->by_name[sq_name_slot(name)] = e;
}

/* The id cached for |name|, or 0. */
static uint64_t sq_names_id(const sq_names *c, const char *name) {
  const sq_name *e = &c->by_name[sq_name_slot(name)];
  return e->id && strcmp(e->name, name) == 0 ? e->id : 0;
}

/* Returns statement |i|, reset and with its parameters bound: |fmt| has
 * one letter per parameter, 'i' for a uint64_t (stored as its int64 bit
 * pattern) and 's' for a C string. */
static sqlite3_stmt *sq_bind(mc_sqlstore *ss, int i, const char *fmt, ...) {
  sqlite3_stmt *st = ss->stmt[i];
  sqlite3_reset(st);
  va_list ap;
  va_start(ap, fmt);
  for (int k = 1; fmt[k - 1]; k++) {
    if (fmt[k - 1] == 's')
      sqlite3_bind_text(st, k, va_arg(ap, const char *), -1, SQLITE_STATIC);
    else
      sqlite3_bind_int64(st, k, (sqlite3_int64)va_arg(ap, uint64_t));
  }
  va_end(ap);
  return st;
}

/* A LIMIT for |cap| rows (SQLite's integers are signed). */
static uint64_t sq_limit(size_t cap) {
  return cap > INT64_MAX ? (uint64_t)INT64_MAX : (uint64_t)cap;
}

static uint64_t sq_u64(sqlite3_stmt *st, int col) {
  return (uint64_t)sqlite3_column_int64(st, col);
}

/* Copies text column |col| into |dst| (|cap| bytes). Returns 0, or -1 when
 * it does not fit: the store never writes such text, so the database was
 * changed behind its back, and truncating silently would hide that. */
static int sq_text(sqlite3_stmt *st, int col, char *dst, size_t cap) {
  const unsigned char *t = sqlite3_column_text(st, col);
  size_t len = (size_t)sqlite3_column_bytes(st, col);
  if (!t || len >= cap)
    return -1;
  memcpy(dst, t, len + 1);
  return 0;
}

/* Reports a stored value too long for the API's buffers (see sq_text) and
 * returns MC_ERR_STORAGE. */
static int sq_corrupt(mc_sqlstore *ss, const char *what) {
  snprintf(ss->errmsg, sizeof ss->errmsg, "%s(%s): stored value too long",
           what, ss->path);
  return MC_ERR_STORAGE;
}

/* Runs |st| to completion (a write) and resets it. Returns the SQLite
 * result: SQLITE_DONE on success. */
static int sq_run(sqlite3_stmt *st) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    ;
  sqlite3_reset(st);
  return rc;
}

/* Fails an operation that finds the host's transaction gone: SQLite rolls
 * a transaction back by itself after some errors (disk full, I/O), and
 * what follows must not silently autocommit while the host still thinks it
 * is batching. */
static int sq_check_txn(mc_sqlstore *ss) {
  /* A batch without a transaction keeps begin's reason in errmsg. */
  if (ss->in_batch && !ss->in_txn)
    return MC_ERR_STORAGE;
  if (ss->in_txn && sqlite3_get_autocommit(ss->db)) {
    sq_forget(ss);
    sq_sent_clear(ss);
    snprintf(ss->errmsg, sizeof ss->errmsg,
             "transaction(%s): rolled back after an earlier error", ss->path);
    return MC_ERR_STORAGE;
  }
  return 0;
}

static int sq_savepoint(mc_sqlstore *ss) {
  int err = sq_check_txn(ss);
  if (err)
    return err;
  return sq_run(ss->stmt[SQ_SAVEPOINT]) == SQLITE_DONE
             ? 0
             : sq_fail(ss, "savepoint");
}

/* Ends the operation's savepoint: keeps its changes when |err| is 0 (if
 * that commit fails, everything is rolled back), undoes them otherwise.
 * Returns |err|, or MC_ERR_STORAGE when keeping failed. */
static int sq_end(mc_sqlstore *ss, int err) {
  if (!err && sq_run(ss->stmt[SQ_RELEASE]) != SQLITE_DONE)
    err = sq_fail(ss, "commit");
  if (err)
    sq_forget(ss);
  if (err && !sqlite3_get_autocommit(ss->db)) {
    sq_run(ss->stmt[SQ_ROLLBACK_TO]);
    sq_run(ss->stmt[SQ_RELEASE]);
    if (!ss->in_txn && !sqlite3_get_autocommit(ss->db))
      sq_run(ss->stmt[SQ_ROLLBACK]);
  }
  return err;
}

/* Maps the result of a write that may break a constraint. */
static int sq_write_result(mc_sqlstore *ss, int rc, const char *what) {
  if (rc == SQLITE_DONE)
    return 0;
  switch (sqlite3_extended_errcode(ss->db)) {
  case SQLITE_CONSTRAINT_UNIQUE:
  case SQLITE_CONSTRAINT_PRIMARYKEY:
    return MC_ERR_EXISTS;
  default:
    return sq_fail(ss, what);
  }
}

static int sq_name_ok(const char *name) {
  size_t len = name ? strnlen(name, MC_NAME_MAX + 1) : 0;
  return len >= 1 && len <= MC_NAME_MAX;
}

static int sq_user_add(void *p, const char *name, const char *pwhash,
                       uint64_t *id) {
  mc_sqlstore *ss = p;
  if (!sq_name_ok(name) || !pwhash)
    return MC_ERR_INVAL;
  int err = sq_check_txn(ss);
  if (!err)
    err = sq_write_result(
        ss, sq_run(sq_bind(ss, SQ_USER_ADD, "ss", name, pwhash)), "user_add");
  if (!err) {
    *id = (uint64_t)sqlite3_last_insert_rowid(ss->db);
    sq_names_put(&ss->cache->users, *id, name);
  }
  return err;
}

/* Steps a statement that returns at most one row. Returns 1 for a row
 * (the caller reads it, then resets), 0 for none, MC_ERR_STORAGE. */
static int sq_row(mc_sqlstore *ss, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    return 1;
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : sq_fail(ss, what);
}

/* Looks |name| up with statement |i| (id in column 0), caches it in |c|
 * and sets |*id|. Returns 1 with the statement on its row (the caller
 * resets it), or MC_ERR_NOT_FOUND, or MC_ERR_STORAGE. */
static int sq_find(mc_sqlstore *ss, int i, sq_names *c, const char *name,
                   uint64_t *id) {
  if (!sq_name_ok(name))
    return MC_ERR_NOT_FOUND;
  int r = sq_row(ss, sq_bind(ss, i, "s", name), "find");
  if (r > 0) {
    *id = sq_u64(ss->stmt[i], 0);
    sq_names_put(c, *id, name);
  }
  return r ? r : MC_ERR_NOT_FOUND;
}

/* Copies the name of |id| from the cache |c| or else from statement |i|
 * (name in column 0) into |dst| (MC_NAME_MAX + 1 bytes). Returns 0,
 * MC_ERR_NOT_FOUND, or MC_ERR_STORAGE. */
static int sq_name_of(mc_sqlstore *ss, int i, sq_names *c, uint64_t id,
                      char *dst) {
  const sq_name *e = &c->by_id[id & (SQ_CACHE - 1)];
  if (id != 0 && e->id == id) { /* 0 is an empty slot, never an id */
    memcpy(dst, e->name, sizeof e->name);
    return 0;
  }
  sqlite3_stmt *st = sq_bind(ss, i, "i", id);
  int r = sq_row(ss, st, "name");
  if (r <= 0)
    return r ? r : MC_ERR_NOT_FOUND;
  r = sq_text(st, 0, dst, MC_NAME_MAX + 1) ? sq_corrupt(ss, "name") : 0;
  sqlite3_reset(st);
  if (!r)
    sq_names_put(c, id, dst);
  return r;
}

static int sq_user_find(void *p, const char *name, uint64_t *id, char *pwhash,
                        size_t cap) {
  mc_sqlstore *ss = p;
  /* Only a caller that wants the hash (a login) needs the row itself. */
  uint64_t cached = pwhash ? 0 : sq_names_id(&ss->cache->users, name);
  if (cached) {
    *id = cached;
    return 0;
  }
  int r = sq_find(ss, SQ_USER_FIND, &ss->cache->users, name, id);
  if (r < 0)
    return r;
  r = pwhash && sq_text(ss->stmt[SQ_USER_FIND], 1, pwhash, cap)
          ? MC_ERR_BUFFER_TOO_SMALL
          : 0;
  sqlite3_reset(ss->stmt[SQ_USER_FIND]);
  return r;
}

/* Runs list statement |i| (id, name rows; see sq_sql) into |out|; |fmt| is
 * "si", or "sii" for a statement that also takes |user_id|. */
static int sq_list(mc_sqlstore *ss, int i, const char *fmt, uint64_t user_id,
                   const char *after, mc_store_user *out, size_t cap,
                   size_t *n) {
  sqlite3_stmt *st =
      sq_bind(ss, i, fmt, after ? after : "", sq_limit(cap), user_id);
  int rc;
  *n = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    out[*n].id = sq_u64(st, 0);
    if (sq_text(st, 1, out[*n].name, sizeof out[*n].name)) {
      sqlite3_reset(st);
      *n = 0;
      return sq_corrupt(ss, "list");
    }
    (*n)++;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : sq_fail(ss, "list");
}

static int sq_user_list(void *p, const char *after, mc_store_user *out,
                        size_t cap, size_t *n) {
  return sq_list(p, SQ_USER_LIST, "si", 0, after, out, cap, n);
}

static int sq_group_add(void *p, const char *name, uint64_t *id) {
  mc_sqlstore *ss = p;
  if (!sq_name_ok(name))
    return MC_ERR_INVAL;
  int err = sq_check_txn(ss);
  if (!err)
    err = sq_write_result(ss, sq_run(sq_bind(ss, SQ_GROUP_ADD, "s", name)),
                          "group_add");
  if (!err) {
    *id = (uint64_t)sqlite3_last_insert_rowid(ss->db);
    sq_names_put(&ss->cache->groups, *id, name);
  }
  return err;
}

static int sq_group_find(void *p, const char *name, uint64_t *id) {
  mc_sqlstore *ss = p;
  uint64_t cached = sq_names_id(&ss->cache->groups, name);
  if (cached) {
    *id = cached;
    return 0;
  }
  int r = sq_find(ss, SQ_GROUP_FIND, &ss->cache->groups, name, id);
  sqlite3_reset(ss->stmt[SQ_GROUP_FIND]);
  return r < 0 ? r : 0;
}

static int sq_group_list(void *p, const char *after, mc_store_user *out,
                         size_t cap, size_t *n) {
  return sq_list(p, SQ_GROUP_LIST, "si", 0, after, out, cap, n);
}

static int sq_user_groups(void *p, uint64_t user_id, const char *after,
                          mc_store_user *out, size_t cap, size_t *n) {
  return sq_list(p, SQ_USER_GROUPS, "sii", user_id, after, out, cap, n);
}

static int sq_member_add(void *p, uint64_t group_id, uint64_t user_id) {
  mc_sqlstore *ss = p;
  char name[MC_NAME_MAX + 1];
  int err = sq_check_txn(ss);
  if (!err)
    err = sq_name_of(ss, SQ_GROUP_NAME, &ss->cache->groups, group_id, name);
  if (!err)
    err = sq_name_of(ss, SQ_USER_NAME, &ss->cache->users, user_id, name);
  if (err)
    return err;
  return sq_write_result(
      ss, sq_run(sq_bind(ss, SQ_MEMBER_ADD, "ii", user_id, group_id)),
      "member_add");
}

static int sq_member_del(void *p, uint64_t group_id, uint64_t user_id) {
  mc_sqlstore *ss = p;
  int err = sq_check_txn(ss);
  if (!err &&
      sq_run(sq_bind(ss, SQ_MEMBER_DEL, "ii", user_id, group_id)) !=
          SQLITE_DONE)
    err = sq_fail(ss, "member_del");
  if (!err && sqlite3_changes(ss->db) == 0)
    err = MC_ERR_NOT_FOUND;
  return err;
}

static int sq_member_check(void *p, uint64_t group_id, uint64_t user_id) {
  mc_sqlstore *ss = p;
  sqlite3_stmt *st = sq_bind(ss, SQ_MEMBER_CHECK, "ii", user_id, group_id);
  int r = sq_row(ss, st, "member_check");
  sqlite3_reset(st);
  return r < 0 ? r : r ? 0 : MC_ERR_NOT_FOUND;
}

static void sq_route_put(mc_sqlstore *ss, const mc_store_msg *m) {
  ss->cache->routes[m->id & (SQ_ROUTES - 1)] =
      (sq_route){.id = m->id, .sender_id = m->sender_id,
                 .group_id = m->group_id, .to_id = m->to_id};
}

/* Sets |*r| to the sender and recipient of message |id|, from the cache
 * or the database. Returns 0, MC_ERR_NOT_FOUND, or MC_ERR_STORAGE. */
static int sq_route_get(mc_sqlstore *ss, uint64_t id, sq_route *r) {
  const sq_route *e = &ss->cache->routes[id & (SQ_ROUTES - 1)];
  if (e->id == id) {
    *r = *e;
    return 0;
  }
  sqlite3_stmt *st = sq_bind(ss, SQ_MSG_ROUTE, "i", id);
  int n = sq_row(ss, st, "route");
  if (n <= 0)
    return n ? n : MC_ERR_NOT_FOUND;
  *r = (sq_route){.id = id, .sender_id = sq_u64(st, 0),
                  .group_id = sq_u64(st, 1), .to_id = sq_u64(st, 2)};
  sqlite3_reset(st);
  return 0;
}

/* Fills the names of |m| from its ids. Returns 0, MC_ERR_NOT_FOUND when
 * one is unknown, or MC_ERR_STORAGE. */
static int sq_msg_refs(mc_sqlstore *ss, mc_store_msg *m) {
  m->group[0] = m->to[0] = '\0';
  int err = sq_name_of(ss, SQ_USER_NAME, &ss->cache->users, m->sender_id,
                       m->sender);
  if (!err && m->group_id)
    err = sq_name_of(ss, SQ_GROUP_NAME, &ss->cache->groups, m->group_id,
                     m->group);
  if (!err && m->to_id)
    err = sq_name_of(ss, SQ_USER_NAME, &ss->cache->users, m->to_id, m->to);
  return err;
}

/* Fills the names of a stored message |m| from its ids. */
static int sq_msg_names(mc_sqlstore *ss, mc_store_msg *m) {
  int err = sq_msg_refs(ss, m);
  /* The foreign keys promise the names; a missing one is a damaged
   * database, not an unknown message. */
  return err == MC_ERR_NOT_FOUND ? sq_corrupt(ss, "msg_names") : err;
}

/* Fills |m| from the row (SQ_MSG_COLUMNS) that statement |st| is about to
 * step to, and resets |st|. Returns 0, MC_ERR_NOT_FOUND when there is no
 * row, or MC_ERR_STORAGE. */
static int sq_msg_row(mc_sqlstore *ss, sqlite3_stmt *st, mc_store_msg *m) {
  int r = sq_row(ss, st, "msg_get");
  if (r <= 0)
    return r ? r : MC_ERR_NOT_FOUND;
  m->id = sq_u64(st, 0);
  m->sender_id = sq_u64(st, 1);
  m->group_id = sq_u64(st, 2);
  m->to_id = sq_u64(st, 3);
  m->time_ms = sq_u64(st, 4);
  m->client_msg_id = sq_u64(st, 5);
  int bad = sq_text(st, 6, m->text, sizeof m->text);
  sqlite3_reset(st);
  if (bad)
    return sq_corrupt(ss, "msg_get");
  sq_route_put(ss, m);
  return sq_msg_names(ss, m);
}

static int sq_msg_get(mc_sqlstore *ss, uint64_t id, mc_store_msg *m) {
  return sq_msg_row(ss, sq_bind(ss, SQ_MSG_GET, "i", id), m);
}

static int sq_msg_find(void *p, uint64_t sender_id, uint64_t client_msg_id,
                       mc_store_msg *out) {
  mc_sqlstore *ss = p;
  return sq_msg_row(
      ss, sq_bind(ss, SQ_MSG_BY_KEY, "ii", sender_id, client_msg_id), out);
}

/* The insert itself finds a duplicate (the UNIQUE key), so a new message,
 * the common case, costs no lookup before it, and nothing is read back
 * after it. Its sender, recipient or group must exist (the foreign keys):
 * their names, which the message needs anyway, are looked up first, from
 * the caches at no cost for those who write often. The sender's
 * sent_bytes goes up in the same savepoint, or, in the host's
 * transaction, at its commit (sq_sent_flush), so the count and the
 * messages cannot disagree. */
static int sq_msg_add(void *p, mc_store_msg *m, uint64_t now_ms, int *dup) {
  mc_sqlstore *ss = p;
  *dup = 0;
  int err = 0;
  if (!m->group_id == !m->to_id ||
      strnlen(m->text, sizeof m->text) == sizeof m->text)
    err = MC_ERR_INVAL; /* unless it repeats a stored message */
  else if (!(err = sq_msg_refs(ss, m)) && !(err = sq_sent_reserve(ss)) &&
           !(err = sq_savepoint(ss))) {
    err = sq_write_result(ss,
                          sq_run(sq_bind(ss, SQ_MSG_INSERT, "iiiiis",
                                         m->sender_id, m->group_id, m->to_id,
                                         now_ms, m->client_msg_id, m->text)),
                          "msg_add");
    m->id = (uint64_t)sqlite3_last_insert_rowid(ss->db);
    if (!err && m->to_id)
      err = sq_write_result(
          ss, sq_run(sq_bind(ss, SQ_DIRECT_ADD, "ii", m->to_id, m->id)),
          "msg_add");
    if (!err && !ss->in_txn)
      err = sq_write_result(
          ss, sq_run(sq_bind(ss, SQ_USER_SENT, "ii", m->sender_id,
                             (uint64_t)strlen(m->text))),
          "msg_add");
    err = sq_end(ss, err);
    if (!err && ss->in_txn)
      sq_sent_add(ss, m->sender_id, strlen(m->text));
  }
  if (err == MC_ERR_INVAL || err == MC_ERR_EXISTS) {
    int r = sq_msg_find(p, m->sender_id, m->client_msg_id, m);
    *dup = r == 0;
    return r == MC_ERR_NOT_FOUND ? err : r;
  }
  if (err)
    return err;
  m->time_ms = now_ms;
  sq_route_put(ss, m);
  return 0;
}

static int sq_user_bytes(void *p, uint64_t user_id, uint64_t *bytes) {
  mc_sqlstore *ss = p;
  sqlite3_stmt *st = sq_bind(ss, SQ_USER_BYTES, "i", user_id);
  int r = sq_row(ss, st, "user_bytes");
  if (r <= 0)
    return r ? r : MC_ERR_NOT_FOUND;
  *bytes = sq_u64(st, 0) + sq_sent_get(ss, user_id);
  sqlite3_reset(st);
  return 0;
}

static int sq_msg_max_id(void *p, uint64_t *id) {
  mc_sqlstore *ss = p;
  sqlite3_stmt *st = ss->stmt[SQ_MSG_MAX];
  int r = sq_row(ss, st, "msg_max_id");
  if (r <= 0)
    return r ? r : sq_fail(ss, "msg_max_id");
  *id = sq_u64(st, 0);
  sqlite3_reset(st);
  return 0;
}

/* Appends the ids that statement |st| returns to ids[*n..cap). */
static int sq_collect(mc_sqlstore *ss, sqlite3_stmt *st, uint64_t *ids,
                      size_t *n) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    ids[(*n)++] = sq_u64(st, 0);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : sq_fail(ss, "pending");
}

static int sq_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Takes the first |cap| pending ids from each source (direct, and each
 * group from the member's cursor), each source an index range scan, then
 * keeps the |cap| lowest of them all. One query over all sources would
 * sort a whole backlog on every call. */
static int sq_pending(void *p, uint64_t user_id, uint64_t after,
                      mc_store_msg *out, size_t cap, size_t *n) {
  mc_sqlstore *ss = p;
  *n = 0;
  if (cap == 0)
    return 0;
  size_t have = 0, room = cap;
  uint64_t *ids = calloc(room, sizeof *ids);
  if (!ids)
    return MC_ERR_STORAGE;
  int err = sq_collect(ss, sq_bind(ss, SQ_PENDING_DIRECT, "iii", user_id,
                                   after, sq_limit(cap)),
                       ids, &have);
  sqlite3_stmt *mem = sq_bind(ss, SQ_MEMBER_CURSORS, "i", user_id);
  int rc = SQLITE_DONE;
  while (!err && (rc = sqlite3_step(mem)) == SQLITE_ROW) {
    if (room - have < cap) {
      uint64_t *nids = NULL;
      if (room <= SIZE_MAX / 2 / sizeof *ids)
        nids = realloc(ids, 2 * room * sizeof *ids);
      if (!nids) {
        err = MC_ERR_STORAGE;
        break;
      }
      ids = nids;
      room *= 2;
    }
    uint64_t cursor = sq_u64(mem, 1);
    err = sq_collect(ss,
                     sq_bind(ss, SQ_PENDING_GROUP, "iiii", sq_u64(mem, 0),
                             cursor > after ? cursor : after, user_id,
                             sq_limit(cap)),
                     ids, &have);
  }
  if (!err && rc != SQLITE_DONE)
    err = sq_fail(ss, "pending");
  sqlite3_reset(mem);
  qsort(ids, have, sizeof *ids, sq_cmp_u64);
  for (size_t i = 0; !err && i < have && i < cap; i++)
    if (!(err = sq_msg_get(ss, ids[i], &out[i])))
      *n = i + 1;
  free(ids);
  if (err)
    *n = 0;
  return err;
}

static int sq_delivered(void *p, uint64_t user_id, const mc_store_msg *m,
                        uint64_t now_ms) {
  mc_sqlstore *ss = p;
  sq_route r;
  int err = sq_route_get(ss, m->id, &r);
  if (!err)
    err = sq_check_txn(ss);
  if (err)
    return err;
  if (r.group_id) {
    if (sq_run(sq_bind(ss, SQ_CURSOR_UP, "iii", user_id, r.group_id,
                       m->id)) != SQLITE_DONE)
      return sq_fail(ss, "delivered");
    return sqlite3_changes(ss->db) ? 0 : MC_ERR_NOT_FOUND;
  }
  if (r.to_id != user_id)
    return MC_ERR_NOT_FOUND;
  if ((err = sq_savepoint(ss)))
    return err;
  if (sq_run(sq_bind(ss, SQ_DIRECT_DEL, "ii", user_id, m->id)) != SQLITE_DONE)
    err = sq_fail(ss, "delivered");
  else if (sqlite3_changes(ss->db) &&
           sq_run(sq_bind(ss, SQ_RECEIPT_ADD, "iii", m->id, r.sender_id,
                          now_ms)) != SQLITE_DONE)
    err = sq_fail(ss, "delivered");
  return sq_end(ss, err);
}

/* The recipient's name comes from the message's route and the name cache,
 * not from a join per row. */
static int sq_receipts(void *p, uint64_t user_id, uint64_t after,
                       mc_store_receipt *out, size_t cap, size_t *n) {
  mc_sqlstore *ss = p;
  sqlite3_stmt *st =
      sq_bind(ss, SQ_RECEIPTS, "iii", user_id, after, sq_limit(cap));
  int rc = SQLITE_DONE, err = 0;
  *n = 0;
  while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    mc_store_receipt *r = &out[*n];
    sq_route route;
    r->message_id = sq_u64(st, 0);
    r->delivered_ms = sq_u64(st, 1);
    r->seq = sq_u64(st, 2);
    if (!(err = sq_route_get(ss, r->message_id, &route)))
      err = sq_name_of(ss, SQ_USER_NAME, &ss->cache->users, route.to_id,
                       r->to);
    if (err == MC_ERR_NOT_FOUND)
      err = sq_corrupt(ss, "receipts"); /* the foreign keys promise both */
    (*n)++;
  }
  sqlite3_reset(st);
  if (!err && rc != SQLITE_DONE)
    err = sq_fail(ss, "receipts");
  if (err)
    *n = 0;
  return err;
}

static int sq_receipt_done(void *p, uint64_t message_id) {
  mc_sqlstore *ss = p;
  int err = sq_check_txn(ss);
  if (!err &&
      sq_run(sq_bind(ss, SQ_RECEIPT_DEL, "i", message_id)) != SQLITE_DONE)
    err = sq_fail(ss, "receipt_done");
  return err;
}

static const mc_store_ops sq_ops = {
    .user_add = sq_user_add,
    .user_find = sq_user_find,
    .user_list = sq_user_list,
    .group_add = sq_group_add,
    .group_find = sq_group_find,
    .group_list = sq_group_list,
    .user_groups = sq_user_groups,
    .member_add = sq_member_add,
    .member_del = sq_member_del,
    .member_check = sq_member_check,
    .msg_add = sq_msg_add,
    .user_bytes = sq_user_bytes,
    .msg_find = sq_msg_find,
    .msg_max_id = sq_msg_max_id,
    .pending = sq_pending,
    .delivered = sq_delivered,
    .receipts = sq_receipts,
    .receipt_done = sq_receipt_done,
};

/* Runs one SQL text without results; on failure records "open(path): ..."
 * with |what| and returns MC_ERR_STORAGE. */
static int sq_exec(mc_sqlstore *ss, const char *sql, const char *what) {
  char *msg = NULL;
  if (sqlite3_exec(ss->db, sql, NULL, NULL, &msg) == SQLITE_OK)
    return 0;
  snprintf(ss->errmsg, sizeof ss->errmsg, "open(%s): %s: %s", ss->path, what,
           msg ? msg : sqlite3_errmsg(ss->db));
  sqlite3_free(msg);
  return MC_ERR_STORAGE;
}

/* Reads one integer or text pragma result into |num| / |text|. */
static int sq_pragma(mc_sqlstore *ss, const char *sql, long long *num,
                     char *text, size_t cap) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(ss->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (num)
      *num = sqlite3_column_int64(st, 0);
    const unsigned char *t = sqlite3_column_text(st, 0);
    if (text)
      snprintf(text, cap, "%s", t ? (const char *)t : "");
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK)
    snprintf(ss->errmsg, sizeof ss->errmsg, "open(%s): %s: %s", ss->path, sql,
             sqlite3_errmsg(ss->db));
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? 0 : MC_ERR_STORAGE;
}

/* Sets the durability pragmas and creates or checks the schema. A database
 * that already has this schema needs no write here, so a read-only file
 * opens too (its writes then fail at mc_sqlstore_begin()). */
static int sq_setup(mc_sqlstore *ss) {
  char mode[16];
  long long version = 0;
  sqlite3_busy_timeout(ss->db, SQ_BUSY_MS);
  int err = sq_pragma(ss, "PRAGMA journal_mode=WAL", NULL, mode, sizeof mode);
  if (err)
    return err;
  /* An in-memory database (":memory:") keeps its "memory" journal. */
  if (strcmp(mode, "wal") && strcmp(mode, "memory")) {
    snprintf(ss->errmsg, sizeof ss->errmsg,
             "open(%s): cannot use WAL mode (journal mode is %s)", ss->path,
             mode);
    return MC_ERR_STORAGE;
  }
  /* A commit writes every page it dirtied to the WAL, and a checkpoint
   * copies the WAL's distinct pages back and syncs the database: busy
   * index pages are copied once per checkpoint, so the rarer the cheaper.
   * 10000 pages (40 MiB of WAL) between checkpoints instead of SQLite's
   * 1000, and 16 MiB of page cache instead of 2, so that a large batch's
   * pages are not spilled and read back. In the relay bench's chat phase
   * the server's pwrite calls per message went from 1.18-1.35 to 0.83-0.85
   * and its pread calls from 0.87-0.99 to 0.10. */
  /* The foreign keys are checked by the store (sq_msg_refs, sq_member_add;
   * the other inserts refer to rows just found): SQLite's own checks
   * opened the parent tables for every insert, three per message: in the
   * relay bench's storage phase 14.4-15.6 us of CPU per message against
   * 12.0-13.5 with the checks here. */
  if ((err = sq_exec(ss,
                     "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
                     " PRAGMA wal_autocheckpoint=10000;"
                     " PRAGMA cache_size=-16384",
                     "pragmas")) ||
      (err = sq_pragma(ss, "PRAGMA user_version", &version, NULL, 0)))
    return err;
  if (version == SQ_SCHEMA_VERSION)
    return 0;
  /* Looked at again inside the transaction: another process may have
   * created the schema in between. */
  if ((err = sq_exec(ss, "BEGIN IMMEDIATE", "begin")) ||
      (err = sq_pragma(ss, "PRAGMA user_version", &version, NULL, 0)))
    goto out;
  if (version > SQ_SCHEMA_VERSION) {
    snprintf(ss->errmsg, sizeof ss->errmsg,
             "open(%s): schema version %lld is newer than this program's (%d)",
             ss->path, version, SQ_SCHEMA_VERSION);
    err = MC_ERR_STORAGE;
  } else if (version < SQ_SCHEMA_VERSION) {
    /* A new database gets the whole schema; one of version 1 the upgrade. */
    char set_version[40];
    snprintf(set_version, sizeof set_version, "PRAGMA user_version=%d",
             SQ_SCHEMA_VERSION);
    if (!(err = version == 0
                    ? sq_exec(ss, sq_schema, "create schema")
                    : sq_exec(ss, sq_upgrade_v2, "upgrade schema to 2")))
      err = sq_exec(ss, set_version, "set schema version");
  }
  if (!err)
    return sq_exec(ss, "COMMIT", "commit schema");
out:
  sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
  return err;
}

static void sq_disconnect(mc_sqlstore *ss) {
  for (int i = 0; i < SQ_COUNT; i++) {
    sqlite3_finalize(ss->stmt[i]);
    ss->stmt[i] = NULL;
  }
  /* Closing with a transaction open rolls it back. */
  sqlite3_close(ss->db);
  ss->db = NULL;
}

/* Opens ss->path into ss->db with its statements. Returns 0, or
 * MC_ERR_STORAGE with errmsg set and nothing left open. */
static int sq_connect(mc_sqlstore *ss) {
  /* One thread uses a store (mc_sqlstore.h), so SQLite's per-connection
   * mutex only costs. A file this process may not write opens read-only
   * (SQLITE_OPEN_READWRITE falls back to reading). */
  int rc = sqlite3_open_v2(ss->path, &ss->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                               SQLITE_OPEN_NOMUTEX,
                           NULL);
  int e = 0;
  if (rc != SQLITE_OK) {
    snprintf(ss->errmsg, sizeof ss->errmsg, "open(%s): %s", ss->path,
             ss->db ? sqlite3_errmsg(ss->db) : sqlite3_errstr(rc));
    e = MC_ERR_STORAGE;
  }
  if (!e)
    e = sq_setup(ss);
  for (int i = 0; !e && i < SQ_COUNT; i++)
    if (sqlite3_prepare_v3(ss->db, sq_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                           &ss->stmt[i], NULL) != SQLITE_OK) {
      snprintf(ss->errmsg, sizeof ss->errmsg, "open(%s): prepare %s: %s",
               ss->path, sq_sql[i], sqlite3_errmsg(ss->db));
      e = MC_ERR_STORAGE;
    }
  if (e)
    sq_disconnect(ss);
  return e;
}

int mc_sqlstore_open(const char *path, mc_sqlstore **out, char *err,
                     size_t errlen) {
  *out = NULL;
  mc_sqlstore *ss = calloc(1, sizeof *ss);
  if (ss) {
    ss->path = strdup(path);
    ss->cache = calloc(1, sizeof *ss->cache);
  }
  if (!ss || !ss->path || !ss->cache) {
    if (errlen)
      snprintf(err, errlen, "open(%s): out of memory", path);
    if (ss) {
      free(ss->path);
      free(ss->cache);
    }
    free(ss);
    return MC_ERR_NOMEM;
  }
  int e = sq_connect(ss);
  if (e) {
    if (errlen)
      snprintf(err, errlen, "%s", ss->errmsg);
    mc_sqlstore_close(ss);
    return e;
  }
  ss->errmsg[0] = '\0';
  if (errlen)
    err[0] = '\0';
  *out = ss;
  return 0;
}

int mc_sqlstore_single_thread(void) {
  if (sqlite3_config(SQLITE_CONFIG_SINGLETHREAD) != SQLITE_OK ||
      sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
    return MC_ERR_STATE;
  return 0;
}

void mc_sqlstore_close(mc_sqlstore *ss) {
  if (!ss)
    return;
  sq_disconnect(ss);
  free(ss->path);
  free(ss->reserve_path);
  free(ss->cache);
  free(ss->sent);
  free(ss);
}

void mc_sqlstore_as_store(mc_sqlstore *ss, mc_store *out) {
  out->ops = &sq_ops;
  out->st = ss;
}

/* ------------------------------------------------------------------ */
/* the reserve and degraded batches                                    */

static uint64_t sq_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Bytes an unprivileged writer may still use on the database's file
 * system (root's reserved blocks do not count: they are not ours to
 * plan with). */
static uint64_t sq_free_bytes(const mc_sqlstore *ss) {
  struct statvfs sv;
  if (statvfs(ss->path, &sv) < 0)
    return UINT64_MAX; /* unknown: let SQLite find out */
  return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/* Takes the reserve when the disk has room for it and as much again
 * besides (what mc_sqlstore_begin() asks for). posix_fallocate makes the blocks the file's own, so the
 * space is there when it is given back. */
static void sq_reserve_take(mc_sqlstore *ss) {
  if (ss->reserve_held || sq_free_bytes(ss) < 2 * ss->reserve)
    return;
  int fd = open(ss->reserve_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return;
  int r = posix_fallocate(fd, 0, (off_t)ss->reserve);
  close(fd);
  if (r == 0)
    ss->reserve_held = 1;
  else
    unlink(ss->reserve_path);
}

int mc_sqlstore_set_reserve(mc_sqlstore *ss, uint64_t bytes) {
  if (strcmp(ss->path, ":memory:") == 0 || ss->path[0] == '\0')
    return 0; /* no file system to fill */
  size_t len = strlen(ss->path) + sizeof "-reserve";
  char *p = malloc(len);
  if (!p)
    return MC_ERR_NOMEM;
  snprintf(p, len, "%s-reserve", ss->path);
  free(ss->reserve_path);
  ss->reserve_path = p;
  ss->reserve = bytes;
  ss->reserve_held = 0;
  /* A reserve left by an earlier run is ours already. */
  struct stat sb;
  if (stat(p, &sb) == 0 && (uint64_t)sb.st_size >= bytes)
    ss->reserve_held = 1;
  sq_reserve_take(ss);
  return 0;
}

/* Why a new transaction may not start, or 0: a disk with less than the
 * reserve's size free (a commit must never meet a full disk: SQLite rolls
 * the whole transaction back when it does), a read-only file, a lock. */
static int sq_try_begin(mc_sqlstore *ss) {
  if (ss->reserve_path) {
    sq_reserve_take(ss);
    uint64_t free_b = sq_free_bytes(ss);
    if (free_b < ss->reserve) {
      snprintf(ss->errmsg, sizeof ss->errmsg,
               "begin(%s): disk nearly full (%llu bytes free, %llu needed)",
               ss->path, (unsigned long long)free_b,
               (unsigned long long)ss->reserve);
      return MC_ERR_STORAGE;
    }
  }
  /* A read-only connection stays read-only: only a new one finds out
   * that the file may be written again. The old one is closed first, as
   * SQLite shares one file handle per file within a process, and a new
   * connection would inherit the old one's read-only WAL index. If the new
   * one fails, the store has no connection and every operation fails with
   * MC_ERR_STORAGE until a later begin connects. */
  if (!ss->db || sqlite3_db_readonly(ss->db, "main") == 1) {
    sq_disconnect(ss);
    sq_forget(ss);
    int err = sq_connect(ss);
    if (err)
      return err;
    /* BEGIN IMMEDIATE may well succeed on it; its first write would not. */
    if (sqlite3_db_readonly(ss->db, "main") == 1) {
      snprintf(ss->errmsg, sizeof ss->errmsg,
               "begin(%s): the database (or its -wal, -shm) is read-only",
               ss->path);
      return MC_ERR_STORAGE;
    }
  }
  sqlite3_busy_timeout(ss->db, ss->degraded ? 0 : SQ_BUSY_MS);
  if (sq_run(ss->stmt[SQ_BEGIN]) != SQLITE_DONE)
    return sq_fail(ss, "begin");
  return 0;
}

int mc_sqlstore_begin(mc_sqlstore *ss) {
  if (ss->in_batch)
    return MC_ERR_STATE;
  ss->in_batch = 1;
  uint64_t now = sq_now_ms();
  if (ss->degraded && now < ss->retry_at_ms)
    return MC_ERR_STORAGE; /* errmsg still says why */
  int err = sq_try_begin(ss);
  if (err) {
    ss->backoff_ms = !ss->degraded ? SQ_RETRY_MIN_MS
                     : ss->backoff_ms >= SQ_RETRY_MAX_MS / 2
                         ? SQ_RETRY_MAX_MS
                         : 2 * ss->backoff_ms;
    ss->retry_at_ms = now + ss->backoff_ms;
    ss->degraded = 1;
    return err;
  }
  ss->degraded = 0;
  ss->in_txn = 1;
  return 0;
}

/* Writes what the transaction's messages add to their senders'
 * sent_bytes, one UPDATE per sender. Returns 0 or MC_ERR_STORAGE. */
static int sq_sent_flush(mc_sqlstore *ss) {
  for (size_t i = 0; ss->sent_n && i < ss->sent_cap; i++) {
    const sq_sent *e = &ss->sent[i];
    if (e->user_id &&
        sq_run(sq_bind(ss, SQ_USER_SENT, "ii", e->user_id, e->bytes)) !=
            SQLITE_DONE)
      return sq_fail(ss, "commit");
  }
  return 0;
}

int mc_sqlstore_commit(mc_sqlstore *ss) {
  if (!ss->in_batch)
    return MC_ERR_STATE;
  ss->in_batch = 0;
  if (!ss->in_txn)
    return 0; /* a batch without writes */
  ss->in_txn = 0;
  /* The disk filled up during the batch: the reserve's blocks are what
   * this commit is written to. The next begin refuses writes until
   * there is room for the reserve again. */
  if (ss->reserve_held && sq_free_bytes(ss) < ss->reserve) {
    unlink(ss->reserve_path);
    ss->reserve_held = 0;
  }
  int err = sq_sent_flush(ss);
  sq_sent_clear(ss);
  if (!err && sq_run(ss->stmt[SQ_COMMIT]) == SQLITE_DONE)
    return 0;
  if (!err)
    err = sq_fail(ss, "commit");
  sq_forget(ss);
  if (!sqlite3_get_autocommit(ss->db))
    sq_run(ss->stmt[SQ_ROLLBACK]);
  return err;
}

const char *mc_sqlstore_errmsg(const mc_sqlstore *ss) { return ss->errmsg; }
