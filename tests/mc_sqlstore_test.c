#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../reference/mc_sqlstore.h"
#include "mc_error.h"
#include "mc_store_cases.h"
#include "mc_tests.h"

/* A store on a temporary database file, removed with its WAL files. */
typedef struct {
  mc_sqlstore *ss;
  char path[256];
} sqltmp;

/* Picks a fresh database path under $TMPDIR (or /tmp); 0 or -1. */
static int tmp_path(char *path, size_t cap) {
  const char *dir = getenv("TMPDIR");
  snprintf(path, cap, "%s/mc-sqlstore-XXXXXX",
           dir && *dir ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0)
    return -1;
  close(fd); /* SQLite takes an empty file as an empty database */
  return 0;
}

static void remove_db(const char *path) {
  char side[300];
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
}

static mc_sqlstore *open_path(const char *path) {
  mc_sqlstore *ss = NULL;
  char err[256];
  int rc = mc_sqlstore_open(path, &ss, err, sizeof err);
  if (rc)
    fprintf(stderr, "%s\n", err);
  CU_ASSERT_EQUAL(rc, 0);
  return ss;
}

static void *sqlstore_open(mc_store *out) {
  sqltmp *t = calloc(1, sizeof *t);
  if (!t || tmp_path(t->path, sizeof t->path)) {
    free(t);
    return NULL;
  }
  t->ss = open_path(t->path);
  if (!t->ss) {
    remove_db(t->path);
    free(t);
    return NULL;
  }
  mc_sqlstore_as_store(t->ss, out);
  return t;
}

static void sqlstore_close(void *h) {
  sqltmp *t = h;
  mc_sqlstore_close(t->ss);
  remove_db(t->path);
  free(t);
}

static const mc_store_factory factory = {.open = sqlstore_open,
                                         .close = sqlstore_close};

/* Closes and opens |t|'s database again, as a restarted server would. */
static void reopen(sqltmp *t, mc_store *s) {
  mc_sqlstore_close(t->ss);
  t->ss = open_path(t->path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t->ss);
  mc_sqlstore_as_store(t->ss, s);
}

/* The schema version (PRAGMA user_version) of the database at |path|,
 * or -1. */
static int user_version(const char *path) {
  sqlite3 *db;
  sqlite3_stmt *st;
  int v = -1;
  if (sqlite3_open(path, &db) == SQLITE_OK &&
      sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) ==
          SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW)
      v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return v;
}

#define SQLSTORE_FN(name) MC_STORE_TEST_FN(mc_sqlstore, factory, name)
MC_STORE_CASES(SQLSTORE_FN)

/* Everything stored survives close + reopen: accounts, groups, members,
 * messages with their idempotency keys, pending state and receipts, and
 * receipt seqs go on growing. */
static void test_mc_sqlstore_reopen(void) {
  mc_store s;
  sqltmp *t = sqlstore_open(&s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  uint64_t a, b, g, id;
  CU_ASSERT_EQUAL(s.ops->user_add(s.st, "alice", "$h$a", &a), 0);
  CU_ASSERT_EQUAL(s.ops->user_add(s.st, "bob", "$h$b", &b), 0);
  CU_ASSERT_EQUAL(s.ops->group_add(s.st, "dev", &g), 0);
  CU_ASSERT_EQUAL(s.ops->member_add(s.st, g, a), 0);
  CU_ASSERT_EQUAL(s.ops->member_add(s.st, g, b), 0);
  mc_store_msg m[3] = {
      {.sender_id = a, .to_id = b, .client_msg_id = 1, .text = "d1"},
      {.sender_id = a, .to_id = b, .client_msg_id = 2, .text = "d2"},
      {.sender_id = a, .group_id = g, .client_msg_id = 3, .text = "g1"},
  };
  int dup;
  for (int i = 0; i < 3; i++)
    CU_ASSERT_EQUAL_FATAL(s.ops->msg_add(s.st, &m[i], 100 + i, &dup), 0);
  CU_ASSERT_EQUAL(s.ops->delivered(s.st, b, &m[0], 500), 0);
  mc_store_receipt r[4];
  size_t n;
  CU_ASSERT_EQUAL(s.ops->receipts(s.st, a, 0, r, 4, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  uint64_t seq1 = r[0].seq;
  CU_ASSERT_EQUAL(s.ops->receipt_done(s.st, m[0].id), 0);
  reopen(t, &s);
  char hash[16];
  CU_ASSERT_EQUAL(s.ops->user_find(s.st, "bob", &id, hash, sizeof hash), 0);
  CU_ASSERT_EQUAL(id, b);
  CU_ASSERT_STRING_EQUAL(hash, "$h$b");
  CU_ASSERT_EQUAL(s.ops->group_find(s.st, "dev", &id), 0);
  CU_ASSERT_EQUAL(id, g);
  CU_ASSERT_EQUAL(s.ops->member_check(s.st, g, b), 0);
  mc_store_user groups[4];
  CU_ASSERT_EQUAL(s.ops->group_list(s.st, "", groups, 4, &n), 0);
  CU_ASSERT_EQUAL(n, 2); /* MyChat was not created twice */
  mc_store_msg out[4];
  CU_ASSERT_EQUAL(s.ops->pending(s.st, b, 0, out, 4, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 2);
  CU_ASSERT_EQUAL(out[0].id, m[1].id);
  CU_ASSERT_STRING_EQUAL(out[0].text, "d2");
  CU_ASSERT_EQUAL(out[1].id, m[2].id);
  CU_ASSERT_STRING_EQUAL(out[1].group, "dev");
  CU_ASSERT_EQUAL(out[1].time_ms, 102);
  /* A resend after the restart is still recognised. */
  mc_store_msg again = {.sender_id = a, .to_id = b, .client_msg_id = 2};
  strcpy(again.text, "d2 again");
  CU_ASSERT_EQUAL(s.ops->msg_add(s.st, &again, 900, &dup), 0);
  CU_ASSERT_EQUAL(dup, 1);
  CU_ASSERT_EQUAL(again.id, m[1].id);
  CU_ASSERT_EQUAL(s.ops->delivered(s.st, b, &m[1], 600), 0);
  CU_ASSERT_EQUAL(s.ops->receipts(s.st, a, 0, r, 4, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT(r[0].seq > seq1);
  CU_ASSERT_EQUAL(r[0].delivered_ms, 600);
  uint64_t bytes = 0;
  CU_ASSERT_EQUAL(s.ops->user_bytes(s.st, a, &bytes), 0);
  CU_ASSERT_EQUAL(bytes, 6); /* d1 d2 g1; the resend added nothing */

  /* The file is in WAL mode at the current schema version. */
  sqlite3 *db;
  sqlite3_stmt *st;
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(t->path, &db), SQLITE_OK);
  CU_ASSERT_EQUAL(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
                  SQLITE_OK);
  CU_ASSERT_EQUAL(sqlite3_step(st), SQLITE_ROW);
  CU_ASSERT_STRING_EQUAL((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
  CU_ASSERT_EQUAL(user_version(t->path), 2);
  sqlstore_close(t);
}

/* The schema of version 1, before users.sent_bytes, as a database made by
 * an earlier server has it. */
static const char v1_schema[] =
    "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " pwhash TEXT NOT NULL);"
    "CREATE TABLE chat_groups(id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE members(user_id INTEGER NOT NULL REFERENCES users(id),"
    " group_id INTEGER NOT NULL REFERENCES chat_groups(id),"
    " cursor INTEGER NOT NULL, PRIMARY KEY(user_id, group_id)) WITHOUT ROWID;"
    "CREATE TABLE messages(id INTEGER PRIMARY KEY,"
    " sender_id INTEGER NOT NULL REFERENCES users(id),"
    " group_id INTEGER REFERENCES chat_groups(id),"
    " to_id INTEGER REFERENCES users(id), time_ms INTEGER NOT NULL,"
    " client_msg_id INTEGER NOT NULL, text TEXT NOT NULL,"
    " UNIQUE(sender_id, client_msg_id),"
    " CHECK((group_id IS NULL) <> (to_id IS NULL)));"
    "CREATE INDEX messages_by_group ON messages(group_id, id)"
    " WHERE group_id IS NOT NULL;"
    "CREATE TABLE pending_direct(user_id INTEGER NOT NULL REFERENCES users(id),"
    " message_id INTEGER NOT NULL REFERENCES messages(id),"
    " PRIMARY KEY(user_id, message_id)) WITHOUT ROWID;"
    "CREATE TABLE receipts(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " message_id INTEGER NOT NULL UNIQUE REFERENCES messages(id),"
    " sender_id INTEGER NOT NULL REFERENCES users(id),"
    " delivered_ms INTEGER NOT NULL);"
    "CREATE INDEX receipts_by_sender ON receipts(sender_id, seq);"
    "INSERT INTO chat_groups(name) VALUES('MyChat');"
    "INSERT INTO users(name, pwhash) VALUES('ann', 'h'), ('bo', 'h'),"
    " ('cy', 'h');"
    "INSERT INTO messages(sender_id, to_id, time_ms, client_msg_id, text)"
    " VALUES(1, 2, 10, 1, 'hello'), (1, 2, 11, 2, '\xc3\xa9t\xc3\xa9'),"
    " (2, 1, 12, 1, 'x');"
    "INSERT INTO pending_direct VALUES(2, 1), (2, 2), (1, 3);"
    "PRAGMA user_version=1;";

/* A version 1 database is upgraded at open: sent_bytes counts the bytes
 * (not characters) of what each user had sent, and goes on counting; the
 * messages are still there. Regression for the schema change of issue 12
 * item 4. */
static void test_mc_sqlstore_upgrade_v1(void) {
  char path[256];
  CU_ASSERT_EQUAL_FATAL(tmp_path(path, sizeof path), 0);
  sqlite3 *db;
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
  CU_ASSERT_EQUAL_FATAL(sqlite3_exec(db, v1_schema, NULL, NULL, NULL),
                        SQLITE_OK);
  sqlite3_close(db);
  mc_sqlstore *ss = open_path(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(ss);
  mc_store s;
  mc_sqlstore_as_store(ss, &s);
  uint64_t bytes = 0;
  CU_ASSERT_EQUAL(s.ops->user_bytes(s.st, 1, &bytes), 0);
  CU_ASSERT_EQUAL(bytes, 5 + 5);
  CU_ASSERT_EQUAL(s.ops->user_bytes(s.st, 2, &bytes), 0);
  CU_ASSERT_EQUAL(bytes, 1);
  CU_ASSERT_EQUAL(s.ops->user_bytes(s.st, 3, &bytes), 0);
  CU_ASSERT_EQUAL(bytes, 0);
  mc_store_msg out[4];
  size_t n = 0;
  CU_ASSERT_EQUAL(s.ops->pending(s.st, 2, 0, out, 4, &n), 0);
  CU_ASSERT_EQUAL(n, 2);
  mc_store_msg m = {.sender_id = 3, .to_id = 1, .client_msg_id = 1,
                    .text = "abc"};
  int dup = -1;
  CU_ASSERT_EQUAL(s.ops->msg_add(s.st, &m, 20, &dup), 0);
  CU_ASSERT_EQUAL(dup, 0);
  mc_sqlstore_close(ss);
  /* Opened again, it is at version 2 already and keeps the counts. */
  ss = open_path(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(ss);
  mc_sqlstore_as_store(ss, &s);
  CU_ASSERT_EQUAL(s.ops->user_bytes(s.st, 3, &bytes), 0);
  CU_ASSERT_EQUAL(bytes, 3);
  CU_ASSERT_EQUAL(s.ops->user_bytes(s.st, 1, &bytes), 0);
  CU_ASSERT_EQUAL(bytes, 10);
  mc_sqlstore_close(ss);
  CU_ASSERT_EQUAL(user_version(path), 2);
  remove_db(path);
}

/* Operations between begin and commit are stored together; one failing
 * operation does not spoil the others; without commit nothing stays. */
static void test_mc_sqlstore_transactions(void) {
  mc_store s;
  sqltmp *t = sqlstore_open(&s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  mc_sqlstore *ss = t->ss;
  uint64_t a, b, id;
  CU_ASSERT_EQUAL(mc_sqlstore_commit(ss), MC_ERR_STATE);
  CU_ASSERT_EQUAL(mc_sqlstore_begin(ss), 0);
  CU_ASSERT_EQUAL(mc_sqlstore_begin(ss), MC_ERR_STATE);
  CU_ASSERT_EQUAL(s.ops->user_add(s.st, "a", "h", &a), 0);
  CU_ASSERT_EQUAL(s.ops->user_add(s.st, "b", "h", &b), 0);
  mc_store_msg m = {.sender_id = a, .to_id = b + 7, .client_msg_id = 1};
  strcpy(m.text, "to nobody");
  int dup;
  CU_ASSERT_EQUAL(s.ops->msg_add(s.st, &m, 1, &dup), MC_ERR_NOT_FOUND);
  m.to_id = b;
  CU_ASSERT_EQUAL(s.ops->msg_add(s.st, &m, 1, &dup), 0);
  CU_ASSERT_EQUAL(s.ops->user_add(s.st, "a", "h", &id), MC_ERR_EXISTS);
  CU_ASSERT_EQUAL(mc_sqlstore_commit(ss), 0);
  CU_ASSERT_EQUAL(mc_sqlstore_commit(ss), MC_ERR_STATE);
  /* Refused requests are answers, not store failures to log. */
  CU_ASSERT_STRING_EQUAL(mc_sqlstore_errmsg(ss), "");

  CU_ASSERT_EQUAL(mc_sqlstore_begin(ss), 0);
  CU_ASSERT_EQUAL(s.ops->user_add(s.st, "uncommitted", "h", &id), 0);
  reopen(t, &s); /* closing rolls the open transaction back */
  CU_ASSERT_EQUAL(s.ops->user_find(s.st, "b", &id, NULL, 0), 0);
  CU_ASSERT_EQUAL(s.ops->user_find(s.st, "uncommitted", &id, NULL, 0),
                  MC_ERR_NOT_FOUND);
  mc_store_msg out[2];
  size_t n;
  CU_ASSERT_EQUAL(s.ops->pending(s.st, b, 0, out, 2, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_STRING_EQUAL(out[0].text, "to nobody");
  sqlstore_close(t);
}

static double secs_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Issue 12: the lock held by another program made the server exit. Now a
 * batch that cannot get it runs without a transaction: writes fail at once
 * and change nothing, reads are served; the store tries again only after
 * its backoff and then without waiting for the lock, and takes writes
 * again once the lock is gone (MC-138). */
static void test_mc_sqlstore_degraded_batch(void) {
  mc_store s;
  sqltmp *t = sqlstore_open(&s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  uint64_t a, id;
  char hash[8];
  CU_ASSERT_EQUAL(s.ops->user_add(s.st, "a", "h", &a), 0);
  sqlite3 *other = NULL;
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(t->path, &other), SQLITE_OK);
  CU_ASSERT_EQUAL_FATAL(
      sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
  CU_ASSERT_EQUAL(mc_sqlstore_begin(t->ss), MC_ERR_STORAGE);
  CU_ASSERT_PTR_NOT_NULL(strstr(mc_sqlstore_errmsg(t->ss), "locked"));
  CU_ASSERT_EQUAL(s.ops->user_add(s.st, "b", "h", &id), MC_ERR_STORAGE);
  CU_ASSERT_EQUAL(s.ops->user_find(s.st, "a", &id, hash, sizeof hash), 0);
  CU_ASSERT_EQUAL(id, a);
  CU_ASSERT_EQUAL(mc_sqlstore_commit(t->ss), 0);
  usleep(60 * 1000); /* past the first backoff (50 ms) */
  double t0 = secs_now();
  CU_ASSERT_EQUAL(mc_sqlstore_begin(t->ss), MC_ERR_STORAGE);
  CU_ASSERT(secs_now() - t0 < 0.5); /* no second wait for the lock */
  CU_ASSERT_EQUAL(mc_sqlstore_commit(t->ss), 0);
  sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(other);
  CU_ASSERT_EQUAL(mc_sqlstore_begin(t->ss), MC_ERR_STORAGE); /* backoff */
  CU_ASSERT_EQUAL(mc_sqlstore_commit(t->ss), 0);
  usleep(110 * 1000); /* past the second backoff (100 ms) */
  CU_ASSERT_EQUAL(mc_sqlstore_begin(t->ss), 0);
  CU_ASSERT_EQUAL(s.ops->user_add(s.st, "b", "h", &id), 0);
  CU_ASSERT_EQUAL(mc_sqlstore_commit(t->ss), 0);
  CU_ASSERT_EQUAL(s.ops->user_find(s.st, "b", &id, hash, sizeof hash), 0);
  sqlstore_close(t);
}

/* The store's name caches are direct-mapped with 4096 slots:
 * users 4096 ids apart share a slot, so every message between them
 * evicts the other's entry. Names and receipts must still be those of the
 * right users (a cache that kept a colliding entry would name the wrong
 * one). */
static void test_mc_sqlstore_cache_collisions(void) {
  enum { USERS = 4096 * 2 + 8, SLOTS = 4096 };
  mc_store s;
  sqltmp *t = sqlstore_open(&s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  static uint64_t id[USERS];
  char name[MC_NAME_MAX + 1];
  CU_ASSERT_EQUAL_FATAL(mc_sqlstore_begin(t->ss), 0);
  for (int i = 0; i < USERS; i++) {
    snprintf(name, sizeof name, "u%d", i);
    CU_ASSERT_EQUAL_FATAL(s.ops->user_add(s.st, name, "h", &id[i]), 0);
  }
  /* From u<i> to u<i + 4096>, whose id shares u<i>'s slot. */
  for (int i = 0; i < 8; i++) {
    mc_store_msg m = {.sender_id = id[i], .to_id = id[i + SLOTS],
                      .client_msg_id = (uint64_t)i + 1};
    snprintf(m.text, sizeof m.text, "m%d", i);
    int dup;
    CU_ASSERT_EQUAL_FATAL(s.ops->msg_add(s.st, &m, 1, &dup), 0);
    snprintf(name, sizeof name, "u%d", i);
    CU_ASSERT_STRING_EQUAL(m.sender, name);
    snprintf(name, sizeof name, "u%d", i + SLOTS);
    CU_ASSERT_STRING_EQUAL(m.to, name);
  }
  CU_ASSERT_EQUAL_FATAL(mc_sqlstore_commit(t->ss), 0);
  for (int i = 0; i < 8; i++) {
    uint64_t found;
    snprintf(name, sizeof name, "u%d", i + 2 * SLOTS);
    CU_ASSERT_EQUAL(s.ops->user_find(s.st, name, &found, NULL, 0), 0);
    CU_ASSERT_EQUAL(found, id[i + 2 * SLOTS]); /* evicts u<i + 4096> */
    mc_store_msg out[2];
    size_t n;
    CU_ASSERT_EQUAL(s.ops->pending(s.st, id[i + SLOTS], 0, out, 2, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    snprintf(name, sizeof name, "u%d", i);
    CU_ASSERT_STRING_EQUAL(out[0].sender, name);
    CU_ASSERT_EQUAL(s.ops->delivered(s.st, id[i + SLOTS], &out[0], 2), 0);
    mc_store_receipt r[2];
    CU_ASSERT_EQUAL(s.ops->receipts(s.st, id[i], 0, r, 2, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    snprintf(name, sizeof name, "u%d", i + SLOTS);
    CU_ASSERT_STRING_EQUAL(r[0].to, name);
    CU_ASSERT_EQUAL(r[0].message_id, out[0].id);
  }
  sqlstore_close(t);
}

/* The route cache has 32768 slots: messages 32768 ids apart share one.
 * Acknowledging the older one after the newer took its slot must still
 * use the older one's route (its own recipient, its own sender's
 * receipt), and the newer one's route must not answer for it. */
static void test_mc_sqlstore_route_collisions(void) {
  enum { SLOTS = 32768 };
  mc_store s;
  sqltmp *t = sqlstore_open(&s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  uint64_t a, b, c;
  CU_ASSERT_EQUAL_FATAL(mc_sqlstore_begin(t->ss), 0);
  CU_ASSERT_EQUAL_FATAL(s.ops->user_add(s.st, "a", "h", &a), 0);
  CU_ASSERT_EQUAL_FATAL(s.ops->user_add(s.st, "b", "h", &b), 0);
  CU_ASSERT_EQUAL_FATAL(s.ops->user_add(s.st, "c", "h", &c), 0);
  /* a -> b first, then c -> a until an id shares its slot. */
  mc_store_msg first = {.sender_id = a, .to_id = b, .client_msg_id = 1};
  snprintf(first.text, sizeof first.text, "first");
  int dup;
  CU_ASSERT_EQUAL_FATAL(s.ops->msg_add(s.st, &first, 1, &dup), 0);
  mc_store_msg m;
  for (uint64_t k = 1; k <= SLOTS; k++) {
    m = (mc_store_msg){.sender_id = c, .to_id = a, .client_msg_id = k};
    snprintf(m.text, sizeof m.text, "fill");
    CU_ASSERT_EQUAL_FATAL(s.ops->msg_add(s.st, &m, 1, &dup), 0);
  }
  CU_ASSERT_EQUAL_FATAL(m.id, first.id + SLOTS);
  CU_ASSERT_EQUAL_FATAL(mc_sqlstore_commit(t->ss), 0);

  CU_ASSERT_EQUAL_FATAL(mc_sqlstore_begin(t->ss), 0);
  /* The newer one's recipient is a, not b: not b's to acknowledge. */
  CU_ASSERT_EQUAL(s.ops->delivered(s.st, b, &m, 2), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(s.ops->delivered(s.st, b, &first, 2), 0);
  CU_ASSERT_EQUAL(s.ops->delivered(s.st, a, &m, 3), 0);
  CU_ASSERT_EQUAL(s.ops->delivered(s.st, a, &first, 3), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL_FATAL(mc_sqlstore_commit(t->ss), 0);
  mc_store_receipt r[2];
  size_t n;
  CU_ASSERT_EQUAL(s.ops->receipts(s.st, a, 0, r, 2, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_EQUAL(r[0].message_id, first.id);
  CU_ASSERT_STRING_EQUAL(r[0].to, "b");
  CU_ASSERT_EQUAL(s.ops->receipts(s.st, c, 0, r, 2, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_EQUAL(r[0].message_id, m.id);
  CU_ASSERT_STRING_EQUAL(r[0].to, "a");
  sqlstore_close(t);
}

/* In a batch, sent_bytes is written once per sender at commit, not per
 * message: user_bytes must count the batch's messages before the commit,
 * a duplicate or a refused message adds nothing, the sums survive a
 * restart, and a batch rolled back adds nothing. 100 senders make the
 * per-sender table grow twice (64 slots at first, at most half full). */
static void test_mc_sqlstore_sent_bytes_batched(void) {
  enum { USERS = 100 };
  mc_store s;
  sqltmp *t = sqlstore_open(&s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  uint64_t id[USERS], bytes;
  char name[MC_NAME_MAX + 1];
  int dup;
  for (int i = 0; i < USERS; i++) {
    snprintf(name, sizeof name, "u%d", i);
    CU_ASSERT_EQUAL_FATAL(s.ops->user_add(s.st, name, "h", &id[i]), 0);
  }
  /* Outside a batch: its own UPDATE, as before. */
  mc_store_msg m = {.sender_id = id[0], .to_id = id[1], .client_msg_id = 1};
  strcpy(m.text, "12345");
  CU_ASSERT_EQUAL(s.ops->msg_add(s.st, &m, 1, &dup), 0);
  CU_ASSERT_EQUAL_FATAL(mc_sqlstore_begin(t->ss), 0);
  for (int round = 1; round <= 2; round++)
    for (int i = 0; i < USERS; i++) {
      m = (mc_store_msg){.sender_id = id[i], .to_id = id[(i + 1) % USERS],
                         .client_msg_id = 1 + (uint64_t)round};
      snprintf(m.text, sizeof m.text, "%0*d", i + 1, 0); /* i + 1 bytes */
      CU_ASSERT_EQUAL_FATAL(s.ops->msg_add(s.st, &m, 1, &dup), 0);
      CU_ASSERT_EQUAL(dup, 0);
    }
  m = (mc_store_msg){.sender_id = id[3], .to_id = id[4], .client_msg_id = 2};
  strcpy(m.text, "a resend");
  CU_ASSERT_EQUAL(s.ops->msg_add(s.st, &m, 1, &dup), 0);
  CU_ASSERT_EQUAL(dup, 1);
  m = (mc_store_msg){.sender_id = id[3], .to_id = id[USERS - 1] + 1,
                     .client_msg_id = 9};
  strcpy(m.text, "to nobody");
  CU_ASSERT_EQUAL(s.ops->msg_add(s.st, &m, 1, &dup), MC_ERR_NOT_FOUND);
  for (int i = 0; i < USERS; i++) {
    CU_ASSERT_EQUAL(s.ops->user_bytes(s.st, id[i], &bytes), 0);
    CU_ASSERT_EQUAL(bytes, 2 * ((uint64_t)i + 1) + (i == 0 ? 5 : 0));
  }
  CU_ASSERT_EQUAL_FATAL(mc_sqlstore_commit(t->ss), 0);
  /* A batch that never commits (closed open) adds nothing. */
  CU_ASSERT_EQUAL_FATAL(mc_sqlstore_begin(t->ss), 0);
  m = (mc_store_msg){.sender_id = id[7], .to_id = id[8], .client_msg_id = 50};
  strcpy(m.text, "lost");
  CU_ASSERT_EQUAL(s.ops->msg_add(s.st, &m, 1, &dup), 0);
  CU_ASSERT_EQUAL(s.ops->user_bytes(s.st, id[7], &bytes), 0);
  CU_ASSERT_EQUAL(bytes, 2 * 8 + 4);
  reopen(t, &s);
  for (int i = 0; i < USERS; i++) {
    CU_ASSERT_EQUAL(s.ops->user_bytes(s.st, id[i], &bytes), 0);
    CU_ASSERT_EQUAL(bytes, 2 * ((uint64_t)i + 1) + (i == 0 ? 5 : 0));
  }
  sqlstore_close(t);
}

/* The store checks the foreign keys itself, with the name caches, whose
 * empty slots hold id 0: on a fresh cache an id of 0 (never a row's) must
 * not pass for a cached user or group. */
static void test_mc_sqlstore_zero_ids(void) {
  mc_store s;
  sqltmp *t = sqlstore_open(&s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  uint64_t a, g;
  CU_ASSERT_EQUAL_FATAL(mc_sqlstore_begin(t->ss), 0);
  CU_ASSERT_EQUAL_FATAL(s.ops->user_add(s.st, "a", "h", &a), 0);
  CU_ASSERT_EQUAL_FATAL(s.ops->group_find(s.st, MC_STORE_DEFAULT_GROUP, &g),
                        0);
  CU_ASSERT_EQUAL_FATAL(mc_sqlstore_commit(t->ss), 0);
  reopen(t, &s); /* empty caches */
  CU_ASSERT_EQUAL_FATAL(mc_sqlstore_begin(t->ss), 0);
  int dup;
  mc_store_msg m = {.sender_id = 0, .to_id = a, .client_msg_id = 1};
  CU_ASSERT_EQUAL(s.ops->msg_add(s.st, &m, 1, &dup), MC_ERR_NOT_FOUND);
  m = (mc_store_msg){.sender_id = a, .to_id = 0, .group_id = 0,
                     .client_msg_id = 2};
  CU_ASSERT_EQUAL(s.ops->msg_add(s.st, &m, 1, &dup), MC_ERR_INVAL);
  CU_ASSERT_EQUAL(s.ops->member_add(s.st, g, 0), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(s.ops->member_add(s.st, 0, a), MC_ERR_NOT_FOUND);
  /* The same with the ids cached: a and g are known now. */
  m = (mc_store_msg){.sender_id = a, .to_id = a, .client_msg_id = 3};
  CU_ASSERT_EQUAL(s.ops->msg_add(s.st, &m, 1, &dup), 0);
  m = (mc_store_msg){.sender_id = 0, .to_id = a, .client_msg_id = 4};
  CU_ASSERT_EQUAL(s.ops->msg_add(s.st, &m, 1, &dup), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(mc_sqlstore_commit(t->ss), 0);
  sqlstore_close(t);
}

/* Open failures say what and where; a newer schema is refused. */
static void test_mc_sqlstore_open_errors(void) {
  mc_sqlstore *ss = (mc_sqlstore *)&ss; /* not NULL: open must clear it */
  char err[256];
  CU_ASSERT_EQUAL(mc_sqlstore_open("/nonexistent-mc-dir/x.db", &ss, err,
                                   sizeof err),
                  MC_ERR_STORAGE);
  CU_ASSERT_PTR_NULL(ss);
  CU_ASSERT_STRING_EQUAL(
      err, "open(/nonexistent-mc-dir/x.db): unable to open database file");

  char path[256];
  CU_ASSERT_EQUAL_FATAL(tmp_path(path, sizeof path), 0);
  ss = open_path(path);
  mc_sqlstore_close(ss);
  sqlite3 *db;
  CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
  CU_ASSERT_EQUAL(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL),
                  SQLITE_OK);
  sqlite3_close(db);
  CU_ASSERT_EQUAL(mc_sqlstore_open(path, &ss, err, sizeof err),
                  MC_ERR_STORAGE);
  CU_ASSERT_PTR_NULL(ss);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "schema version 99 is newer"));
  remove_db(path);
}

#define SQLSTORE_INFO(name) MC_STORE_TEST_INFO(mc_sqlstore, name)
static CU_TestInfo tests[] = {
    MC_STORE_CASES(SQLSTORE_INFO)
    {"reopen", test_mc_sqlstore_reopen},
    {"transactions", test_mc_sqlstore_transactions},
    {"degraded_batch", test_mc_sqlstore_degraded_batch},
    {"cache_collisions", test_mc_sqlstore_cache_collisions},
    {"route_collisions", test_mc_sqlstore_route_collisions},
    {"sent_bytes_batched", test_mc_sqlstore_sent_bytes_batched},
    {"zero_ids", test_mc_sqlstore_zero_ids},
    {"open_errors", test_mc_sqlstore_open_errors},
    {"upgrade_v1", test_mc_sqlstore_upgrade_v1},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_sqlstore_suite = {.pName = "sqlstore", .pTests = tests};
