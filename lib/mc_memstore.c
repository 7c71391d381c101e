/*
 * mc_memstore.c: the in-memory mc_store (see mc_memstore.h).
 *
 * Ids are dense: user, group and message ids start at 1 and index arrays
 * (users[id - 1], msgs[id - 1]), because nothing is ever deleted except
 * memberships and pending state. Every operation reserves all the memory it
 * needs before it changes anything, so a failure leaves the store as it was.
 */
#include "mc_memstore.h"

#include "mc_map.h"

#include <stdlib.h>
#include <string.h>

#include "mc_error.h"

/* A sorted array of ids with a consumed prefix: the live entries are
 * v[head..len). Pending queues are mostly drained from the front, so
 * removing near the head only shifts the few entries before it. */
typedef struct {
  uint64_t *v;
  size_t head, len, cap;
} ms_idq;

/* Users or groups: names by id, a hash index and a name-sorted index. */
typedef struct {
  char (*name)[MC_NAME_MAX + 1]; /* name[id - 1] */
  size_t n, cap;
  uint64_t *sorted; /* all n ids in name order (strcmp, i.e. memcmp) */
  size_t scap;
  mc__map index;    /* hash of a name -> id */
} ms_names;

typedef struct {
  uint64_t group_id;
  uint64_t cursor; /* highest group message id delivered (or skipped as the
                      member's own); never decreases */
} ms_member;

typedef struct {
  char *pwhash;
  ms_member *mem; /* sorted by group name, for user_groups() */
  size_t nmem, capmem;
  ms_idq direct;   /* ids of direct messages pending for this user */
  ms_idq receipts; /* ids of this user's messages with a pending receipt,
                      in receipt seq order */
  uint64_t sent_bytes; /* text bytes of every message stored from it */
} ms_user;

enum { MS_PENDING, MS_RECEIPT, MS_DONE };

typedef struct {
  uint64_t sender_id, group_id, to_id, time_ms, client_msg_id;
  uint64_t receipt_seq, delivered_ms; /* direct, once delivered */
  char *text;
  int state; /* direct messages: MS_PENDING -> MS_RECEIPT -> MS_DONE */
} ms_msg;

struct mc_memstore {
  ms_names unames, gnames;
  ms_user *users; /* users[id - 1], unames.n of them */
  size_t ucap;
  ms_idq *groups; /* groups[id - 1]: the group's message ids, ascending */
  size_t gcap;
  ms_msg *msgs; /* msgs[id - 1] */
  size_t nmsgs, mcap;
  mc__map keys;         /* hash of (sender_id, client_msg_id) -> msg id */
  uint64_t receipt_seq; /* last receipt seq handed out */
  long fail_after;      /* operations left before failing; -1: never */
};

/* Grows the array whose pointer is at |pp| (|*cap| elements of |elem|
 * bytes) to hold at least |need|; on failure it stays as it was. The
 * pointer is read and written with memcpy so any element type can share
 * this function without breaking the aliasing rules. */
/* The store reports any failure as a storage failure. */
static int ms_reserve(void *pp, size_t *cap, size_t need, size_t elem) {
  return mc__reserve(NULL, pp, cap, need, elem) < 0 ? MC_ERR_STORAGE : 0;
}

/* Makes room to append one id to |q|, reusing the consumed prefix first. */
static int ms_idq_reserve(ms_idq *q) {
  if (q->len < q->cap)
    return 0;
  if (q->head > q->len / 2) {
    memmove(q->v, q->v + q->head, (q->len - q->head) * sizeof *q->v);
    q->len -= q->head;
    q->head = 0;
    return 0;
  }
  return ms_reserve(&q->v, &q->cap, q->len + 1, sizeof *q->v);
}

/* Removes entry |i| (head <= i < len) of |q|. */
static void ms_idq_remove(ms_idq *q, size_t i) {
  memmove(q->v + q->head + 1, q->v + q->head, (i - q->head) * sizeof *q->v);
  if (++q->head == q->len)
    q->head = q->len = 0;
}

/* The sort key of an id in a queue: the id itself, or for a receipt queue
 * the receipt seq of that message. */
static uint64_t ms_key(const mc_memstore *s, uint64_t id, int by_seq) {
  return by_seq ? s->msgs[id - 1].receipt_seq : id;
}

/* First index in q's live entries whose key is above |key|. */
static size_t ms_idq_above(const mc_memstore *s, const ms_idq *q,
                           uint64_t key, int by_seq) {
  size_t lo = q->head, hi = q->len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ms_key(s, q->v[mid], by_seq) <= key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Removes the entry with key |key| (>= 1) from |q| if it is there. */
static void ms_idq_remove_key(const mc_memstore *s, ms_idq *q, uint64_t key,
                              int by_seq) {
  size_t i = ms_idq_above(s, q, key - 1, by_seq);
  if (i < q->len && ms_key(s, q->v[i], by_seq) == key)
    ms_idq_remove(q, i);
}

static uint64_t ms_mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static uint64_t ms_hash_name(const char *name) {
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, then mixed */
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    h = (h ^ *p) * 0x100000001b3ULL;
  return ms_mix(h);
}

static uint64_t ms_hash_key(uint64_t sender_id, uint64_t client_msg_id) {
  return ms_mix(ms_mix(sender_id) ^ client_msg_id);
}

/* Makes room for one more entry in the hash index |t|. */
static int ms_index_reserve(mc__map *t) {
  return mc__map_reserve(t, 1) < 0 ? MC_ERR_STORAGE : 0;
}

/* What a hash index lookup compares an entry with. */
typedef struct {
  const mc_memstore *s;
  const ms_names *ns;
  const char *name;
  uint64_t sender_id, client_msg_id;
} ms_index_key;

static int ms_eq_name(const void *ctx, uint64_t id) {
  const ms_index_key *k = ctx;
  return !strcmp(k->ns->name[id - 1], k->name);
}

static int ms_eq_msgkey(const void *ctx, uint64_t id) {
  const ms_index_key *k = ctx;
  const ms_msg *m = &k->s->msgs[id - 1];
  return m->sender_id == k->sender_id && m->client_msg_id == k->client_msg_id;
}

static int ms_name_ok(const char *name) {
  size_t len = name ? strnlen(name, MC_NAME_MAX + 1) : 0;
  return len >= 1 && len <= MC_NAME_MAX;
}

static uint64_t ms_names_find(const ms_names *ns, const char *name) {
  if (!ms_name_ok(name))
    return 0;
  ms_index_key key = {.ns = ns, .name = name};
  const uint64_t *id =
      mc__map_probe(&ns->index, ms_hash_name(name), ms_eq_name, &key);
  return id ? *id : 0;
}

/* First index in ids[0..n) (name-sorted ids of |ns|) whose name sorts
 * after |name|; NULL means "". */
static size_t ms_names_after(const ms_names *ns, const uint64_t *ids,
                             size_t n, const char *name) {
  if (!name)
    name = "";
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(ns->name[ids[mid] - 1], name) <= 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Adds |name| (valid, not present) to |ns| and returns its new id, or 0
 * when out of memory. */
static uint64_t ms_names_add(ms_names *ns, const char *name) {
  if (ms_reserve(&ns->name, &ns->cap, ns->n + 1, sizeof *ns->name) ||
      ms_reserve(&ns->sorted, &ns->scap, ns->n + 1, sizeof *ns->sorted) ||
      ms_index_reserve(&ns->index))
    return 0;
  uint64_t id = ++ns->n;
  memcpy(ns->name[id - 1], name, strlen(name) + 1);
  size_t at = ms_names_after(ns, ns->sorted, ns->n - 1, name);
  memmove(ns->sorted + at + 1, ns->sorted + at,
          (ns->n - 1 - at) * sizeof *ns->sorted);
  ns->sorted[at] = id;
  mc__map_add(&ns->index, ms_hash_name(name), id); /* room reserved */
  return id;
}

/* Copies up to |cap| entries of |ns| after |after|, in name order. */
static void ms_names_list(const ms_names *ns, const char *after,
                          mc_store_user *out, size_t cap, size_t *count) {
  size_t i = ms_names_after(ns, ns->sorted, ns->n, after);
  *count = 0;
  for (; i < ns->n && *count < cap; i++, (*count)++) {
    out[*count].id = ns->sorted[i];
    memcpy(out[*count].name, ns->name[ns->sorted[i] - 1], MC_NAME_MAX + 1);
  }
}

static void ms_names_free(ms_names *ns) {
  free(ns->name);
  free(ns->sorted);
  mc__map_free(&ns->index);
}

/* Counts one operation; tells whether it must fail (mc_memstore_fail_after).
 */
static int ms_fail(mc_memstore *s) {
  if (s->fail_after < 0)
    return 0;
  if (s->fail_after == 0)
    return 1;
  s->fail_after--;
  return 0;
}

static ms_user *ms_user_get(mc_memstore *s, uint64_t id) {
  return id >= 1 && id <= s->unames.n ? &s->users[id - 1] : NULL;
}

/* The start of the per-user reads (user_groups, pending, receipts):
 * counts the operation, zeroes |*n| and sets |*u| (NULL for an unknown
 * user, who has nothing). */
static int ms_user_read(mc_memstore *s, uint64_t user_id, size_t *n,
                        ms_user **u) {
  if (ms_fail(s))
    return MC_ERR_STORAGE;
  *n = 0;
  *u = ms_user_get(s, user_id);
  return 0;
}

static ms_member *ms_member_get(ms_user *u, uint64_t group_id) {
  for (size_t i = 0; u && i < u->nmem; i++)
    if (u->mem[i].group_id == group_id)
      return &u->mem[i];
  return NULL;
}

/* The checks user_add and group_add share: counts the operation, then
 * returns 0 if |name| is valid and free in |ns|. */
static int ms_add_check(mc_memstore *s, const ms_names *ns, const char *name) {
  if (ms_fail(s))
    return MC_ERR_STORAGE;
  if (!ms_name_ok(name))
    return MC_ERR_INVAL;
  return ms_names_find(ns, name) ? MC_ERR_EXISTS : 0;
}

/* user_find and group_find: counts the operation and sets |*id| of |name|
 * in |ns|. */
static int ms_lookup(mc_memstore *s, const ms_names *ns, const char *name,
                     uint64_t *id) {
  if (ms_fail(s))
    return MC_ERR_STORAGE;
  uint64_t found = ms_names_find(ns, name);
  if (!found)
    return MC_ERR_NOT_FOUND;
  *id = found;
  return 0;
}

/* user_list and group_list: counts the operation and pages through |ns|. */
static int ms_list(mc_memstore *s, const ms_names *ns, const char *after,
                   mc_store_user *out, size_t cap, size_t *n) {
  if (ms_fail(s))
    return MC_ERR_STORAGE;
  ms_names_list(ns, after, out, cap, n);
  return 0;
}

static int ms_user_add(void *st, const char *name, const char *pwhash,
                       uint64_t *id) {
  mc_memstore *s = st;
  int err = ms_add_check(s, &s->unames, name);
  if (err || !pwhash)
    return err ? err : MC_ERR_INVAL;
  char *h = strdup(pwhash);
  if (!h || ms_reserve(&s->users, &s->ucap, s->unames.n + 1, sizeof *s->users))
    goto oom;
  uint64_t uid = ms_names_add(&s->unames, name);
  if (!uid)
    goto oom;
  s->users[uid - 1] = (ms_user){.pwhash = h};
  *id = uid;
  return 0;
oom:
  free(h);
  return MC_ERR_STORAGE;
}

static int ms_user_find(void *st, const char *name, uint64_t *id, char *pwhash,
                        size_t cap) {
  mc_memstore *s = st;
  uint64_t uid;
  int err = ms_lookup(s, &s->unames, name, &uid);
  if (err)
    return err;
  const char *h = s->users[uid - 1].pwhash;
  size_t len = strlen(h);
  if (pwhash) {
    if (len >= cap)
      return MC_ERR_BUFFER_TOO_SMALL;
    memcpy(pwhash, h, len + 1);
  }
  *id = uid;
  return 0;
}

static int ms_user_list(void *st, const char *after, mc_store_user *out,
                        size_t cap, size_t *n) {
  mc_memstore *s = st;
  return ms_list(s, &s->unames, after, out, cap, n);
}

static int ms_group_add(void *st, const char *name, uint64_t *id) {
  mc_memstore *s = st;
  int err = ms_add_check(s, &s->gnames, name);
  if (err)
    return err;
  if (ms_reserve(&s->groups, &s->gcap, s->gnames.n + 1, sizeof *s->groups))
    return MC_ERR_STORAGE;
  uint64_t gid = ms_names_add(&s->gnames, name);
  if (!gid)
    return MC_ERR_STORAGE;
  s->groups[gid - 1] = (ms_idq){0};
  *id = gid;
  return 0;
}

static int ms_group_find(void *st, const char *name, uint64_t *id) {
  mc_memstore *s = st;
  return ms_lookup(s, &s->gnames, name, id);
}

static int ms_group_list(void *st, const char *after, mc_store_user *out,
                         size_t cap, size_t *n) {
  mc_memstore *s = st;
  return ms_list(s, &s->gnames, after, out, cap, n);
}

static int ms_user_groups(void *st, uint64_t user_id, const char *after,
                          mc_store_user *out, size_t cap, size_t *n) {
  mc_memstore *s = st;
  ms_user *u;
  int err = ms_user_read(s, user_id, n, &u);
  if (err || !u)
    return err;
  /* The memberships are few and sorted by group name. */
  for (size_t i = 0; i < u->nmem && *n < cap; i++) {
    const char *name = s->gnames.name[u->mem[i].group_id - 1];
    if (strcmp(name, after ? after : "") <= 0)
      continue;
    out[*n].id = u->mem[i].group_id;
    memcpy(out[*n].name, name, MC_NAME_MAX + 1);
    (*n)++;
  }
  return 0;
}

static int ms_member_add(void *st, uint64_t group_id, uint64_t user_id) {
  mc_memstore *s = st;
  if (ms_fail(s))
    return MC_ERR_STORAGE;
  ms_user *u = ms_user_get(s, user_id);
  if (!u || group_id < 1 || group_id > s->gnames.n)
    return MC_ERR_NOT_FOUND;
  if (ms_member_get(u, group_id))
    return MC_ERR_EXISTS;
  if (ms_reserve(&u->mem, &u->capmem, u->nmem + 1, sizeof *u->mem))
    return MC_ERR_STORAGE;
  const char *gname = s->gnames.name[group_id - 1];
  size_t at = 0;
  while (at < u->nmem && strcmp(s->gnames.name[u->mem[at].group_id - 1],
                                gname) < 0)
    at++;
  memmove(u->mem + at + 1, u->mem + at, (u->nmem - at) * sizeof *u->mem);
  u->mem[at] = (ms_member){.group_id = group_id, .cursor = s->nmsgs};
  u->nmem++;
  return 0;
}

static int ms_member_del(void *st, uint64_t group_id, uint64_t user_id) {
  mc_memstore *s = st;
  if (ms_fail(s))
    return MC_ERR_STORAGE;
  ms_user *u = ms_user_get(s, user_id);
  ms_member *mb = ms_member_get(u, group_id);
  if (!mb)
    return MC_ERR_NOT_FOUND;
  size_t at = (size_t)(mb - u->mem);
  memmove(mb, mb + 1, (u->nmem - at - 1) * sizeof *mb);
  u->nmem--;
  return 0;
}

static int ms_member_check(void *st, uint64_t group_id, uint64_t user_id) {
  mc_memstore *s = st;
  if (ms_fail(s))
    return MC_ERR_STORAGE;
  return ms_member_get(ms_user_get(s, user_id), group_id) ? 0
                                                          : MC_ERR_NOT_FOUND;
}

/* Fills |out| from stored message |id|. */
static void ms_fill(const mc_memstore *s, uint64_t id, mc_store_msg *out) {
  const ms_msg *m = &s->msgs[id - 1];
  out->id = id;
  out->sender_id = m->sender_id;
  memcpy(out->sender, s->unames.name[m->sender_id - 1], MC_NAME_MAX + 1);
  out->group_id = m->group_id;
  out->to_id = m->to_id;
  out->group[0] = out->to[0] = '\0';
  if (m->group_id)
    memcpy(out->group, s->gnames.name[m->group_id - 1], MC_NAME_MAX + 1);
  else
    memcpy(out->to, s->unames.name[m->to_id - 1], MC_NAME_MAX + 1);
  out->time_ms = m->time_ms;
  out->client_msg_id = m->client_msg_id;
  memcpy(out->text, m->text, strlen(m->text) + 1);
}

/* The id stored under (sender_id, client_msg_id), or 0. */
static uint64_t ms_key_find(const mc_memstore *s, uint64_t sender_id,
                            uint64_t client_msg_id) {
  ms_index_key key = {
      .s = s, .sender_id = sender_id, .client_msg_id = client_msg_id};
  const uint64_t *id = mc__map_probe(
      &s->keys, ms_hash_key(sender_id, client_msg_id), ms_eq_msgkey, &key);
  return id ? *id : 0;
}

static int ms_msg_find(void *st, uint64_t sender_id, uint64_t client_msg_id,
                       mc_store_msg *out) {
  mc_memstore *s = st;
  if (ms_fail(s))
    return MC_ERR_STORAGE;
  uint64_t id = ms_key_find(s, sender_id, client_msg_id);
  if (!id)
    return MC_ERR_NOT_FOUND;
  ms_fill(s, id, out);
  return 0;
}

static int ms_msg_add(void *st, mc_store_msg *m, uint64_t now_ms, int *dup) {
  mc_memstore *s = st;
  if (ms_fail(s))
    return MC_ERR_STORAGE;
  *dup = 0;
  if (!ms_user_get(s, m->sender_id))
    return MC_ERR_NOT_FOUND;
  uint64_t old = ms_key_find(s, m->sender_id, m->client_msg_id);
  if (old) {
    ms_fill(s, old, m);
    *dup = 1;
    return 0;
  }
  size_t tlen = strnlen(m->text, sizeof m->text);
  if (!m->group_id == !m->to_id || tlen == sizeof m->text)
    return MC_ERR_INVAL;
  ms_user *to = ms_user_get(s, m->to_id);
  if (m->group_id ? m->group_id > s->gnames.n : !to)
    return MC_ERR_NOT_FOUND;
  ms_idq *q = m->group_id ? &s->groups[m->group_id - 1] : &to->direct;
  char *text = malloc(tlen + 1);
  if (!text ||
      ms_reserve(&s->msgs, &s->mcap, s->nmsgs + 1, sizeof *s->msgs) ||
      ms_index_reserve(&s->keys) || ms_idq_reserve(q)) {
    free(text);
    return MC_ERR_STORAGE;
  }
  memcpy(text, m->text, tlen + 1);
  uint64_t id = ++s->nmsgs;
  s->msgs[id - 1] = (ms_msg){.sender_id = m->sender_id,
                             .group_id = m->group_id,
                             .to_id = m->to_id,
                             .time_ms = now_ms,
                             .client_msg_id = m->client_msg_id,
                             .text = text,
                             .state = MS_PENDING};
  /* room reserved above */
  mc__map_add(&s->keys, ms_hash_key(m->sender_id, m->client_msg_id), id);
  q->v[q->len++] = id;
  ms_user_get(s, m->sender_id)->sent_bytes += tlen;
  ms_fill(s, id, m);
  return 0;
}

static int ms_user_bytes(void *st, uint64_t user_id, uint64_t *bytes) {
  mc_memstore *s = st;
  if (ms_fail(s))
    return MC_ERR_STORAGE;
  const ms_user *u = ms_user_get(s, user_id);
  if (!u)
    return MC_ERR_NOT_FOUND;
  *bytes = u->sent_bytes;
  return 0;
}

static int ms_msg_max_id(void *st, uint64_t *id) {
  mc_memstore *s = st;
  if (ms_fail(s))
    return MC_ERR_STORAGE;
  *id = s->nmsgs;
  return 0;
}

/* One sorted source of pending ids in pending(): q->v[i..q->len). */
typedef struct {
  const ms_idq *q;
  size_t i;
  int skip_own; /* group streams skip the member's own messages */
} ms_stream;

static void ms_stream_skip_own(const mc_memstore *s, ms_stream *it,
                               uint64_t user_id) {
  while (it->skip_own && it->i < it->q->len &&
         s->msgs[it->q->v[it->i] - 1].sender_id == user_id)
    it->i++;
}

static int ms_pending(void *st, uint64_t user_id, uint64_t after,
                      mc_store_msg *out, size_t cap, size_t *n) {
  mc_memstore *s = st;
  ms_user *u;
  int err = ms_user_read(s, user_id, n, &u);
  if (err || !u)
    return err;
  ms_stream *it = malloc((u->nmem + 1) * sizeof *it);
  if (!it)
    return MC_ERR_STORAGE;
  it[0] = (ms_stream){&u->direct, ms_idq_above(s, &u->direct, after, 0), 0};
  for (size_t g = 0; g < u->nmem; g++) {
    ms_member *mb = &u->mem[g];
    ms_stream *gs = &it[g + 1];
    const ms_idq *q = &s->groups[mb->group_id - 1];
    *gs = (ms_stream){q, ms_idq_above(s, q, mb->cursor, 0), 1};
    /* The member's own messages right above its cursor are never pending:
     * moving the cursor over them changes no answer and keeps a busy
     * sender's scans short. */
    ms_stream_skip_own(s, gs, user_id);
    if (gs->i > q->head && q->v[gs->i - 1] > mb->cursor)
      mb->cursor = q->v[gs->i - 1];
    if (after > mb->cursor) {
      gs->i = ms_idq_above(s, q, after, 0);
      ms_stream_skip_own(s, gs, user_id);
    }
  }
  while (*n < cap) {
    ms_stream *best = NULL;
    for (size_t k = 0; k <= u->nmem; k++)
      if (it[k].i < it[k].q->len &&
          (!best || it[k].q->v[it[k].i] < best->q->v[best->i]))
        best = &it[k];
    if (!best)
      break;
    ms_fill(s, best->q->v[best->i++], &out[(*n)++]);
    ms_stream_skip_own(s, best, user_id);
  }
  free(it);
  return 0;
}

static int ms_delivered(void *st, uint64_t user_id, const mc_store_msg *m,
                        uint64_t now_ms) {
  mc_memstore *s = st;
  if (ms_fail(s))
    return MC_ERR_STORAGE;
  if (m->id < 1 || m->id > s->nmsgs)
    return MC_ERR_NOT_FOUND;
  ms_msg *msg = &s->msgs[m->id - 1];
  ms_user *u = ms_user_get(s, user_id);
  if (msg->group_id) {
    ms_member *mb = ms_member_get(u, msg->group_id);
    if (!mb)
      return MC_ERR_NOT_FOUND;
    if (mb->cursor < m->id)
      mb->cursor = m->id;
    return 0;
  }
  if (msg->to_id != user_id)
    return MC_ERR_NOT_FOUND;
  if (msg->state != MS_PENDING)
    return 0;
  ms_idq *rq = &s->users[msg->sender_id - 1].receipts;
  if (ms_idq_reserve(rq))
    return MC_ERR_STORAGE;
  ms_idq_remove_key(s, &u->direct, m->id, 0);
  msg->state = MS_RECEIPT;
  msg->receipt_seq = ++s->receipt_seq;
  msg->delivered_ms = now_ms;
  rq->v[rq->len++] = m->id;
  return 0;
}

static int ms_receipts(void *st, uint64_t user_id, uint64_t after,
                       mc_store_receipt *out, size_t cap, size_t *n) {
  mc_memstore *s = st;
  ms_user *u;
  int err = ms_user_read(s, user_id, n, &u);
  if (err || !u)
    return err;
  const ms_idq *q = &u->receipts;
  for (size_t i = ms_idq_above(s, q, after, 1); i < q->len && *n < cap; i++) {
    const ms_msg *msg = &s->msgs[q->v[i] - 1];
    mc_store_receipt *r = &out[(*n)++];
    r->message_id = q->v[i];
    memcpy(r->to, s->unames.name[msg->to_id - 1], MC_NAME_MAX + 1);
    r->delivered_ms = msg->delivered_ms;
    r->seq = msg->receipt_seq;
  }
  return 0;
}

static int ms_receipt_done(void *st, uint64_t message_id) {
  mc_memstore *s = st;
  if (ms_fail(s))
    return MC_ERR_STORAGE;
  if (message_id < 1 || message_id > s->nmsgs)
    return 0;
  ms_msg *msg = &s->msgs[message_id - 1];
  if (msg->state != MS_RECEIPT)
    return 0;
  ms_idq_remove_key(s, &s->users[msg->sender_id - 1].receipts,
                    msg->receipt_seq, 1);
  msg->state = MS_DONE;
  return 0;
}

static const mc_store_ops ms_ops = {
    .user_add = ms_user_add,
    .user_find = ms_user_find,
    .user_list = ms_user_list,
    .group_add = ms_group_add,
    .group_find = ms_group_find,
    .group_list = ms_group_list,
    .user_groups = ms_user_groups,
    .member_add = ms_member_add,
    .member_del = ms_member_del,
    .member_check = ms_member_check,
    .msg_add = ms_msg_add,
    .user_bytes = ms_user_bytes,
    .msg_find = ms_msg_find,
    .msg_max_id = ms_msg_max_id,
    .pending = ms_pending,
    .delivered = ms_delivered,
    .receipts = ms_receipts,
    .receipt_done = ms_receipt_done,
};

mc_memstore *mc_memstore_new(void) {
  mc_memstore *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->fail_after = -1;
  uint64_t gid;
  if (ms_group_add(s, MC_STORE_DEFAULT_GROUP, &gid)) {
    mc_memstore_del(s);
    return NULL;
  }
  return s;
}

void mc_memstore_del(mc_memstore *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->unames.n; i++) {
    free(s->users[i].pwhash);
    free(s->users[i].mem);
    free(s->users[i].direct.v);
    free(s->users[i].receipts.v);
  }
  for (size_t i = 0; i < s->gnames.n; i++)
    free(s->groups[i].v);
  for (size_t i = 0; i < s->nmsgs; i++)
    free(s->msgs[i].text);
  ms_names_free(&s->unames);
  ms_names_free(&s->gnames);
  free(s->users);
  free(s->groups);
  free(s->msgs);
  mc__map_free(&s->keys);
  free(s);
}

void mc_memstore_as_store(mc_memstore *s, mc_store *out) {
  out->ops = &ms_ops;
  out->st = s;
}

void mc_memstore_fail_after(mc_memstore *s, long n) {
  s->fail_after = n < 0 ? -1 : n;
}
