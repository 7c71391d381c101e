/* The shared store behaviour tests (see mc_store_cases.h). */
#include "mc_store_cases.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "mc_error.h"

#define OPS(s) ((s)->ops)

static uint64_t add_user(mc_store *s, const char *name) {
  uint64_t id = 0;
  CU_ASSERT_EQUAL_FATAL(OPS(s)->user_add(s->st, name, "hash", &id), 0);
  CU_ASSERT_FATAL(id != 0);
  return id;
}

static uint64_t add_group(mc_store *s, const char *name) {
  uint64_t id = 0;
  CU_ASSERT_EQUAL_FATAL(OPS(s)->group_add(s->st, name, &id), 0);
  CU_ASSERT_FATAL(id != 0);
  return id;
}

static void join(mc_store *s, uint64_t group_id, uint64_t user_id) {
  CU_ASSERT_EQUAL_FATAL(OPS(s)->member_add(s->st, group_id, user_id), 0);
}

/* Stores a message from |from| to user |to| or group |group| (the other
 * 0) and returns its id. */
static uint64_t send(mc_store *s, uint64_t from, uint64_t to, uint64_t group,
                     uint64_t client_msg_id, const char *text) {
  mc_store_msg m = {.sender_id = from,
                    .to_id = to,
                    .group_id = group,
                    .client_msg_id = client_msg_id};
  snprintf(m.text, sizeof m.text, "%s", text);
  int dup = -1;
  CU_ASSERT_EQUAL_FATAL(OPS(s)->msg_add(s->st, &m, 1000 + client_msg_id, &dup),
                        0);
  CU_ASSERT_EQUAL(dup, 0);
  CU_ASSERT_EQUAL(m.time_ms, 1000 + client_msg_id);
  return m.id;
}

/* Checks that the messages pending for |user| after |after| are exactly
 * ids[0..n), fetching them |cap| at a time. */
static void expect_pending(mc_store *s, uint64_t user, uint64_t after,
                           size_t cap, const uint64_t *ids, size_t n) {
  mc_store_msg out[8];
  size_t got = 0, k;
  CU_ASSERT_FATAL(cap <= 8);
  do {
    CU_ASSERT_EQUAL_FATAL(OPS(s)->pending(s->st, user, after, out, cap, &k), 0);
    CU_ASSERT_FATAL(k <= cap);
    for (size_t i = 0; i < k; i++, got++) {
      CU_ASSERT_FATAL(got < n);
      CU_ASSERT_EQUAL(out[i].id, ids[got]);
      after = out[i].id;
    }
  } while (k == cap);
  CU_ASSERT_EQUAL(got, n);
}

static void delivered(mc_store *s, uint64_t user, uint64_t id, int want) {
  mc_store_msg m = {.id = id};
  CU_ASSERT_EQUAL(OPS(s)->delivered(s->st, user, &m, 5000 + id), want);
}

/* Fetches the receipts pending for |user| after |after| (up to 8). */
static size_t receipts(mc_store *s, uint64_t user, uint64_t after,
                       mc_store_receipt *out) {
  size_t n = 99;
  CU_ASSERT_EQUAL_FATAL(OPS(s)->receipts(s->st, user, after, out, 8, &n), 0);
  return n;
}

/* Opens a fresh store |s| (handle |h|) from factory |f|; CLOSE() ends it. */
#define OPEN()                                                                \
  mc_store st_;                                                               \
  void *h_ = f->open(&st_);                                                   \
  CU_ASSERT_PTR_NOT_NULL_FATAL(h_);                                           \
  mc_store *s = &st_
#define CLOSE() f->close(h_)

void mc_store_case_default_group(const mc_store_factory *f) {
  OPEN();
  uint64_t id = 0;
  CU_ASSERT_EQUAL(OPS(s)->group_find(s->st, MC_STORE_DEFAULT_GROUP, &id), 0);
  CU_ASSERT(id != 0);
  mc_store_user out[4];
  size_t n = 0;
  CU_ASSERT_EQUAL(OPS(s)->group_list(s->st, "", out, 4, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_STRING_EQUAL(out[0].name, MC_STORE_DEFAULT_GROUP);
  CU_ASSERT_EQUAL(out[0].id, id);
  CU_ASSERT_EQUAL(OPS(s)->user_list(s->st, NULL, out, 4, &n), 0);
  CU_ASSERT_EQUAL(n, 0);
  CU_ASSERT_EQUAL(OPS(s)->msg_max_id(s->st, &id), 0);
  CU_ASSERT_EQUAL(id, 0);
  CLOSE();
}

void mc_store_case_users(const mc_store_factory *f) {
  OPEN();
  const mc_store_ops *o = OPS(s);
  uint64_t a = 0, b = 0, id = 0;
  CU_ASSERT_EQUAL(o->user_add(s->st, "alice", "$argon2id$a", &a), 0);
  CU_ASSERT_EQUAL(o->user_add(s->st, "bob", "$argon2id$b", &b), 0);
  CU_ASSERT(a != 0 && b != 0 && a != b);
  CU_ASSERT_EQUAL(o->user_add(s->st, "alice", "other", &id), MC_ERR_EXISTS);
  char hash[64];
  CU_ASSERT_EQUAL(o->user_find(s->st, "alice", &id, hash, sizeof hash), 0);
  CU_ASSERT_EQUAL(id, a);
  CU_ASSERT_STRING_EQUAL(hash, "$argon2id$a");
  CU_ASSERT_EQUAL(o->user_find(s->st, "bob", &id, NULL, 0), 0);
  CU_ASSERT_EQUAL(id, b);
  /* "$argon2id$b" needs 12 bytes with its NUL. */
  CU_ASSERT_EQUAL(o->user_find(s->st, "bob", &id, hash, 11),
                  MC_ERR_BUFFER_TOO_SMALL);
  CU_ASSERT_EQUAL(o->user_find(s->st, "bob", &id, hash, 12), 0);
  CU_ASSERT_EQUAL(o->user_find(s->st, "Alice", &id, NULL, 0),
                  MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(o->user_find(s->st, "", &id, NULL, 0), MC_ERR_NOT_FOUND);
  char long_name[MC_NAME_MAX + 2];
  memset(long_name, 'x', MC_NAME_MAX + 1);
  long_name[MC_NAME_MAX + 1] = '\0';
  CU_ASSERT_EQUAL(o->user_add(s->st, long_name, "h", &id), MC_ERR_INVAL);
  CU_ASSERT_EQUAL(o->user_add(s->st, "", "h", &id), MC_ERR_INVAL);
  CU_ASSERT_EQUAL(o->user_add(s->st, "carol", NULL, &id), MC_ERR_INVAL);
  long_name[MC_NAME_MAX] = '\0';
  CU_ASSERT_EQUAL(o->user_add(s->st, long_name, "h", &id), 0);
  CU_ASSERT_EQUAL(o->user_find(s->st, long_name, &b, NULL, 0), 0);
  CU_ASSERT_EQUAL(b, id);
  CLOSE();
}

void mc_store_case_user_list_paging(const mc_store_factory *f) {
  OPEN();
  /* 45 names added out of order, with prefixes and capitals: memcmp order
   * puts digits, then capitals, then "a" before "a0" before "a000". */
  for (int i = 0; i < 45; i++) {
    int k = (i * 17) % 45; /* 17 and 45 are coprime: a permutation */
    char name[8];
    snprintf(name, sizeof name, "%c%d", "aBz0"[k % 4], k);
    add_user(s, name);
  }
  add_user(s, "a000");
  add_user(s, "a");
  mc_store_user page[20];
  char after[MC_NAME_MAX + 1] = "";
  size_t total = 0, n;
  do {
    CU_ASSERT_EQUAL_FATAL(OPS(s)->user_list(s->st, after, page, 20, &n), 0);
    for (size_t i = 0; i < n; i++, total++) {
      CU_ASSERT(strcmp(after, page[i].name) < 0);
      uint64_t id = 0;
      CU_ASSERT_EQUAL(OPS(s)->user_find(s->st, page[i].name, &id, NULL, 0), 0);
      CU_ASSERT_EQUAL(page[i].id, id);
      if (total == 0)
        CU_ASSERT_STRING_EQUAL(page[i].name, "011");
      snprintf(after, sizeof after, "%s", page[i].name);
    }
  } while (n == 20);
  CU_ASSERT_EQUAL(total, 47);
  CU_ASSERT_EQUAL(OPS(s)->user_list(s->st, "a", page, 2, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 2);
  CU_ASSERT_STRING_EQUAL(page[0].name, "a0");
  CU_ASSERT_STRING_EQUAL(page[1].name, "a000");
  CU_ASSERT_EQUAL(OPS(s)->user_list(s->st, "zz", page, 20, &n), 0);
  CU_ASSERT_EQUAL(n, 0);
  CU_ASSERT_EQUAL(OPS(s)->user_list(s->st, "", page, 0, &n), 0);
  CU_ASSERT_EQUAL(n, 0);
  CLOSE();
}

void mc_store_case_groups(const mc_store_factory *f) {
  OPEN();
  const mc_store_ops *o = OPS(s);
  uint64_t dev = add_group(s, "dev"), abc = add_group(s, "abc"), id = 0;
  uint64_t def = 0;
  CU_ASSERT_EQUAL(o->group_add(s->st, "dev", &id), MC_ERR_EXISTS);
  CU_ASSERT_EQUAL(o->group_add(s->st, "", &id), MC_ERR_INVAL);
  CU_ASSERT_EQUAL(o->group_find(s->st, "dev", &id), 0);
  CU_ASSERT_EQUAL(id, dev);
  CU_ASSERT_EQUAL(o->group_find(s->st, "ops", &id), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(o->group_find(s->st, MC_STORE_DEFAULT_GROUP, &def), 0);
  mc_store_user out[8];
  size_t n = 0;
  CU_ASSERT_EQUAL(o->group_list(s->st, "", out, 8, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 3);
  CU_ASSERT_STRING_EQUAL(out[0].name, "MyChat");
  CU_ASSERT_STRING_EQUAL(out[1].name, "abc");
  CU_ASSERT_EQUAL(out[1].id, abc);
  CU_ASSERT_STRING_EQUAL(out[2].name, "dev");
  CU_ASSERT_EQUAL(o->group_list(s->st, "MyChat", out, 1, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_STRING_EQUAL(out[0].name, "abc");

  /* A user's groups, name-sorted and paged, whatever the join order. */
  uint64_t u = add_user(s, "u"), v = add_user(s, "v");
  join(s, dev, u);
  join(s, def, u);
  join(s, abc, u);
  join(s, abc, v);
  CU_ASSERT_EQUAL(o->user_groups(s->st, u, "", out, 8, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 3);
  CU_ASSERT_STRING_EQUAL(out[0].name, "MyChat");
  CU_ASSERT_EQUAL(out[0].id, def);
  CU_ASSERT_STRING_EQUAL(out[1].name, "abc");
  CU_ASSERT_STRING_EQUAL(out[2].name, "dev");
  CU_ASSERT_EQUAL(out[2].id, dev);
  CU_ASSERT_EQUAL(o->user_groups(s->st, u, "MyChat", out, 1, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_STRING_EQUAL(out[0].name, "abc");
  CU_ASSERT_EQUAL(o->user_groups(s->st, v, NULL, out, 8, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_EQUAL(out[0].id, abc);
  CU_ASSERT_EQUAL(o->user_groups(s->st, 999, "", out, 8, &n), 0);
  CU_ASSERT_EQUAL(n, 0);
  CU_ASSERT_EQUAL(o->member_del(s->st, def, u), 0);
  CU_ASSERT_EQUAL(o->user_groups(s->st, u, "", out, 8, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 2);
  CU_ASSERT_STRING_EQUAL(out[0].name, "abc");
  CLOSE();
}

void mc_store_case_members(const mc_store_factory *f) {
  OPEN();
  const mc_store_ops *o = OPS(s);
  uint64_t g = add_group(s, "g"), a = add_user(s, "a"), b = add_user(s, "b");
  CU_ASSERT_EQUAL(o->member_check(s->st, g, a), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(o->member_add(s->st, g, a), 0);
  CU_ASSERT_EQUAL(o->member_add(s->st, g, a), MC_ERR_EXISTS);
  CU_ASSERT_EQUAL(o->member_check(s->st, g, a), 0);
  CU_ASSERT_EQUAL(o->member_check(s->st, g, b), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(o->member_add(s->st, g + 100, a), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(o->member_add(s->st, g, b + 100), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(o->member_del(s->st, g, b), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(o->member_del(s->st, g, a), 0);
  CU_ASSERT_EQUAL(o->member_del(s->st, g, a), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(o->member_check(s->st, g, a), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(o->member_add(s->st, g, a), 0);
  CU_ASSERT_EQUAL(o->member_check(s->st, g, a), 0);
  CLOSE();
}

void mc_store_case_join_cursor(const mc_store_factory *f) {
  OPEN();
  uint64_t g = add_group(s, "g");
  uint64_t a = add_user(s, "a"), b = add_user(s, "b"), c = add_user(s, "c");
  join(s, g, a);
  join(s, g, b);
  uint64_t m1 = send(s, a, 0, g, 1, "before c joined");
  join(s, g, c);
  uint64_t m2 = send(s, a, 0, g, 2, "after c joined");
  expect_pending(s, c, 0, 8, (uint64_t[]){m2}, 1);
  expect_pending(s, b, 0, 8, (uint64_t[]){m1, m2}, 2);
  expect_pending(s, a, 0, 8, NULL, 0);
  /* Leaving and joining again skips what was said in between. */
  CU_ASSERT_EQUAL(OPS(s)->member_del(s->st, g, c), 0);
  expect_pending(s, c, 0, 8, NULL, 0);
  send(s, b, 0, g, 3, "while c was away");
  join(s, g, c);
  uint64_t m4 = send(s, b, 0, g, 4, "c is back");
  expect_pending(s, c, 0, 8, (uint64_t[]){m4}, 1);
  CLOSE();
}

void mc_store_case_msg_add_idempotent(const mc_store_factory *f) {
  OPEN();
  const mc_store_ops *o = OPS(s);
  uint64_t a = add_user(s, "a"), b = add_user(s, "b");
  mc_store_msg m = {.sender_id = a, .to_id = b, .client_msg_id = 7};
  strcpy(m.text, "hi");
  int dup = -1;
  CU_ASSERT_EQUAL_FATAL(o->msg_add(s->st, &m, 1000, &dup), 0);
  CU_ASSERT_EQUAL(dup, 0);
  uint64_t id = m.id;
  CU_ASSERT(id != 0);
  CU_ASSERT_STRING_EQUAL(m.sender, "a");
  CU_ASSERT_STRING_EQUAL(m.to, "b");
  CU_ASSERT_STRING_EQUAL(m.group, "");
  CU_ASSERT_EQUAL(m.time_ms, 1000);

  /* A resend with the same key, even with other text, stores nothing and
   * gets the first message back. */
  mc_store_msg r = {.sender_id = a, .to_id = b, .client_msg_id = 7};
  strcpy(r.text, "hi again");
  CU_ASSERT_EQUAL_FATAL(o->msg_add(s->st, &r, 2000, &dup), 0);
  CU_ASSERT_EQUAL(dup, 1);
  CU_ASSERT_EQUAL(r.id, id);
  CU_ASSERT_EQUAL(r.time_ms, 1000);
  CU_ASSERT_STRING_EQUAL(r.text, "hi");
  CU_ASSERT_STRING_EQUAL(r.to, "b");
  uint64_t max = 0;
  CU_ASSERT_EQUAL(o->msg_max_id(s->st, &max), 0);
  CU_ASSERT_EQUAL(max, id);
  expect_pending(s, b, 0, 8, (uint64_t[]){id}, 1);
  /* msg_find sees the same message under the same key, and nothing else. */
  mc_store_msg found;
  CU_ASSERT_EQUAL_FATAL(o->msg_find(s->st, a, 7, &found), 0);
  CU_ASSERT_EQUAL(found.id, id);
  CU_ASSERT_STRING_EQUAL(found.text, "hi");
  CU_ASSERT_EQUAL(o->msg_find(s->st, a, 8, &found), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(o->msg_find(s->st, b, 7, &found), MC_ERR_NOT_FOUND);

  /* The key is per sender. */
  uint64_t id2 = send(s, b, a, 0, 7, "hi");
  CU_ASSERT(id2 > id);
  CU_ASSERT_EQUAL(o->msg_max_id(s->st, &max), 0);
  CU_ASSERT_EQUAL(max, id2);
  /* A text of exactly MC_TEXT_MAX bytes fits. */
  mc_store_msg big = {.sender_id = a, .to_id = b, .client_msg_id = 8};
  memset(big.text, 'x', MC_TEXT_MAX);
  CU_ASSERT_EQUAL(o->msg_add(s->st, &big, 3000, &dup), 0);
  mc_store_msg out[4];
  size_t n = 0;
  CU_ASSERT_EQUAL(o->pending(s->st, b, id, out, 4, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_EQUAL(strlen(out[0].text), MC_TEXT_MAX);
  CLOSE();
}

/* sent_bytes (MC-151): each stored message adds its text's bytes (not
 * characters) to its sender only; a duplicate or a refused message adds
 * nothing; an unknown user has none. */
void mc_store_case_sent_bytes(const mc_store_factory *f) {
  OPEN();
  const mc_store_ops *o = OPS(s);
  uint64_t a = add_user(s, "a"), b = add_user(s, "b");
  uint64_t g = add_group(s, "g"), bytes = 99;
  CU_ASSERT_EQUAL(o->user_bytes(s->st, a, &bytes), 0);
  CU_ASSERT_EQUAL(bytes, 0);
  CU_ASSERT_EQUAL(o->user_bytes(s->st, b + 1, &bytes), MC_ERR_NOT_FOUND);
  CU_ASSERT_EQUAL(o->user_bytes(s->st, 0, &bytes), MC_ERR_NOT_FOUND);
  send(s, a, b, 0, 1, "hi");
  send(s, a, 0, g, 2, "\xc3\xa9"); /* one character, two bytes */
  CU_ASSERT_EQUAL(o->user_bytes(s->st, a, &bytes), 0);
  CU_ASSERT_EQUAL(bytes, 4);
  mc_store_msg m = {.sender_id = a, .to_id = b, .client_msg_id = 3};
  memset(m.text, 'x', MC_TEXT_MAX);
  int dup = -1;
  CU_ASSERT_EQUAL_FATAL(o->msg_add(s->st, &m, 5000, &dup), 0);
  CU_ASSERT_EQUAL(o->user_bytes(s->st, a, &bytes), 0);
  CU_ASSERT_EQUAL(bytes, 4 + MC_TEXT_MAX);
  /* The resend of 1 with a longer text, an unknown recipient, both
   * recipients: nothing counted. */
  mc_store_msg r = {.sender_id = a, .to_id = b, .client_msg_id = 1};
  strcpy(r.text, "a longer text");
  CU_ASSERT_EQUAL(o->msg_add(s->st, &r, 6000, &dup), 0);
  CU_ASSERT_EQUAL(dup, 1);
  mc_store_msg bad = {.sender_id = a, .to_id = b + 1, .client_msg_id = 4};
  strcpy(bad.text, "lost");
  CU_ASSERT_EQUAL(o->msg_add(s->st, &bad, 6000, &dup), MC_ERR_NOT_FOUND);
  bad.to_id = b;
  bad.group_id = g;
  CU_ASSERT_EQUAL(o->msg_add(s->st, &bad, 6000, &dup), MC_ERR_INVAL);
  CU_ASSERT_EQUAL(o->user_bytes(s->st, a, &bytes), 0);
  CU_ASSERT_EQUAL(bytes, 4 + MC_TEXT_MAX);
  CU_ASSERT_EQUAL(o->user_bytes(s->st, b, &bytes), 0);
  CU_ASSERT_EQUAL(bytes, 0);
  CLOSE();
}

void mc_store_case_msg_add_errors(const mc_store_factory *f) {
  OPEN();
  const mc_store_ops *o = OPS(s);
  uint64_t a = add_user(s, "a"), g = add_group(s, "g");
  struct {
    uint64_t from, to, group;
    int want;
  } bad[] = {
      {a + 50, a, 0, MC_ERR_NOT_FOUND}, /* unknown sender */
      {a, a + 50, 0, MC_ERR_NOT_FOUND}, /* unknown recipient */
      {a, 0, g + 50, MC_ERR_NOT_FOUND}, /* unknown group */
      {a, a, g, MC_ERR_INVAL},          /* both targets */
      {a, 0, 0, MC_ERR_INVAL},          /* no target */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    mc_store_msg m = {.sender_id = bad[i].from,
                      .to_id = bad[i].to,
                      .group_id = bad[i].group,
                      .client_msg_id = i + 1};
    strcpy(m.text, "x");
    int dup = -1;
    CU_ASSERT_EQUAL(o->msg_add(s->st, &m, 1, &dup), bad[i].want);
  }
  mc_store_msg m = {.sender_id = a, .to_id = a, .client_msg_id = 9};
  memset(m.text, 'x', sizeof m.text); /* no NUL */
  int dup;
  CU_ASSERT_EQUAL(o->msg_add(s->st, &m, 1, &dup), MC_ERR_INVAL);
  uint64_t max = 1;
  CU_ASSERT_EQUAL(o->msg_max_id(s->st, &max), 0);
  CU_ASSERT_EQUAL(max, 0);
  expect_pending(s, a, 0, 8, NULL, 0);
  CLOSE();
}

void mc_store_case_pending_merge(const mc_store_factory *f) {
  OPEN();
  uint64_t g1 = add_group(s, "g1"), g2 = add_group(s, "g2");
  uint64_t a = add_user(s, "a"), b = add_user(s, "b"), c = add_user(s, "c");
  uint64_t d = add_user(s, "d");
  join(s, g1, a);
  join(s, g1, b);
  join(s, g1, c);
  join(s, g2, a);
  join(s, g2, b);
  uint64_t want[8];
  size_t n = 0;
  want[n++] = send(s, a, b, 0, 1, "direct a->b");
  want[n++] = send(s, c, 0, g1, 2, "c in g1");
  send(s, b, 0, g2, 3, "b's own in g2");
  send(s, b, 0, g1, 4, "b's own in g1");
  want[n++] = send(s, a, 0, g2, 5, "a in g2");
  uint64_t to_d = send(s, a, d, 0, 6, "direct a->d, not for b");
  want[n++] = send(s, c, b, 0, 7, "direct c->b");
  want[n++] = send(s, a, 0, g1, 8, "a in g1");
  send(s, b, 0, g1, 9, "b's own again");
  want[n++] = send(s, b, b, 0, 10, "b to itself");
  want[n++] = send(s, c, 0, g1, 11, "c in g1 again");
  for (size_t cap = 1; cap <= 8; cap++)
    expect_pending(s, b, 0, cap, want, n);
  expect_pending(s, b, want[2], 8, want + 3, n - 3);
  expect_pending(s, b, want[n - 1], 8, NULL, 0);
  /* Pending stays pending until delivered. */
  expect_pending(s, b, 0, 8, want, n);

  mc_store_msg out[8];
  size_t k = 0;
  CU_ASSERT_EQUAL_FATAL(OPS(s)->pending(s->st, b, 0, out, 8, &k), 0);
  CU_ASSERT_EQUAL_FATAL(k, n);
  /* Every field is filled, names included; send() stored each message at
   * 1000 + client_msg_id. */
  const mc_store_msg want_fields[] = {
      {.sender_id = a, .sender = "a", .to_id = b, .to = "b",
       .client_msg_id = 1, .text = "direct a->b"},
      {.sender_id = a, .sender = "a", .group_id = g2, .group = "g2",
       .client_msg_id = 5, .text = "a in g2"},
  };
  for (size_t i = 0; i < 2; i++) {
    const mc_store_msg *got = &out[2 * i], *w = &want_fields[i];
    CU_ASSERT_EQUAL(got->sender_id, w->sender_id);
    CU_ASSERT_STRING_EQUAL(got->sender, w->sender);
    CU_ASSERT_EQUAL(got->to_id, w->to_id);
    CU_ASSERT_STRING_EQUAL(got->to, w->to);
    CU_ASSERT_EQUAL(got->group_id, w->group_id);
    CU_ASSERT_STRING_EQUAL(got->group, w->group);
    CU_ASSERT_STRING_EQUAL(got->text, w->text);
    CU_ASSERT_EQUAL(got->client_msg_id, w->client_msg_id);
    CU_ASSERT_EQUAL(got->time_ms, 1000 + w->client_msg_id);
  }
  expect_pending(s, d, 0, 8, (uint64_t[]){to_d}, 1);
  expect_pending(s, 999, 0, 8, NULL, 0);
  CLOSE();
}

void mc_store_case_direct_receipts(const mc_store_factory *f) {
  OPEN();
  uint64_t a = add_user(s, "a"), b = add_user(s, "b");
  uint64_t m1 = send(s, a, b, 0, 1, "one");
  uint64_t m2 = send(s, a, b, 0, 2, "two");
  uint64_t m3 = send(s, a, b, 0, 3, "three");
  mc_store_receipt r[8];
  CU_ASSERT_EQUAL(receipts(s, a, 0, r), 0);

  delivered(s, b, m2, 0);
  expect_pending(s, b, 0, 8, (uint64_t[]){m1, m3}, 2);
  CU_ASSERT_EQUAL_FATAL(receipts(s, a, 0, r), 1);
  CU_ASSERT_EQUAL(r[0].message_id, m2);
  CU_ASSERT_STRING_EQUAL(r[0].to, "b");
  CU_ASSERT_EQUAL(r[0].delivered_ms, 5000 + m2);
  uint64_t s1 = r[0].seq;
  CU_ASSERT(s1 > 0);

  delivered(s, b, m1, 0);
  delivered(s, b, m1, 0); /* again: no second receipt */
  CU_ASSERT_EQUAL_FATAL(receipts(s, a, 0, r), 2);
  CU_ASSERT_EQUAL(r[1].message_id, m1);
  uint64_t s2 = r[1].seq;
  CU_ASSERT(s2 > s1);
  CU_ASSERT_EQUAL_FATAL(receipts(s, a, s1, r), 1);
  CU_ASSERT_EQUAL(r[0].message_id, m1);
  CU_ASSERT_EQUAL(receipts(s, b, 0, r), 0);

  /* receipt_done removes one; seqs keep growing after the highest one is
   * done (they are never reused). */
  CU_ASSERT_EQUAL(OPS(s)->receipt_done(s->st, m2), 0);
  CU_ASSERT_EQUAL(OPS(s)->receipt_done(s->st, m2), 0);
  CU_ASSERT_EQUAL(OPS(s)->receipt_done(s->st, m1), 0);
  CU_ASSERT_EQUAL(receipts(s, a, 0, r), 0);
  delivered(s, b, m3, 0);
  CU_ASSERT_EQUAL_FATAL(receipts(s, a, 0, r), 1);
  CU_ASSERT_EQUAL(r[0].message_id, m3);
  CU_ASSERT(r[0].seq > s2);
  expect_pending(s, b, 0, 8, NULL, 0);
  /* A delivered receipt whose message is done is not pending again. */
  delivered(s, b, m1, 0);
  CU_ASSERT_EQUAL(receipts(s, a, 0, r), 1);

  /* Only the recipient can have a direct message delivered. */
  uint64_t m4 = send(s, a, b, 0, 4, "four");
  delivered(s, a, m4, MC_ERR_NOT_FOUND);
  delivered(s, b, m4 + 1, MC_ERR_NOT_FOUND);
  delivered(s, b, 0, MC_ERR_NOT_FOUND);
  expect_pending(s, b, 0, 8, (uint64_t[]){m4}, 1);
  CLOSE();
}

void mc_store_case_group_cursor(const mc_store_factory *f) {
  OPEN();
  uint64_t g = add_group(s, "g"), h = add_group(s, "h");
  uint64_t a = add_user(s, "a"), b = add_user(s, "b"), c = add_user(s, "c");
  join(s, g, a);
  join(s, g, b);
  join(s, h, a);
  uint64_t m1 = send(s, a, 0, g, 1, "1");
  uint64_t m2 = send(s, a, 0, g, 2, "2");
  uint64_t m3 = send(s, a, 0, g, 3, "3");
  send(s, a, 0, h, 4, "not for b");
  delivered(s, b, m2, 0);
  expect_pending(s, b, 0, 8, (uint64_t[]){m3}, 1);
  delivered(s, b, m1, 0); /* the cursor never moves down */
  expect_pending(s, b, 0, 8, (uint64_t[]){m3}, 1);
  delivered(s, b, m3, 0);
  expect_pending(s, b, 0, 8, NULL, 0);
  /* Group delivery makes no receipts. */
  mc_store_receipt r[8];
  CU_ASSERT_EQUAL(receipts(s, a, 0, r), 0);
  /* Not a member: nothing to deliver. */
  delivered(s, c, m1, MC_ERR_NOT_FOUND);
  CLOSE();
}
