/*
 * mc_store.h: the storage interface the server core calls.
 *
 * The server core keeps sessions in memory and everything that must survive
 * a restart behind this interface: accounts, groups, memberships, messages
 * and delivery state. The reference server plugs in SQLite
 * (reference/mc_sqlstore.c); tests, fuzzers and the simulator use the
 * in-memory store (mc_memstore.h).
 *
 * Delivery model (PROTOCOL.md, "Storage and delivery"):
 * - Message ids are assigned by the store, strictly increasing across all
 *   messages; they order every conversation.
 * - A direct message is pending for its recipient until delivered() is
 *   called for it; then its receipt is pending for its sender until
 *   receipt_done().
 * - A group message is stored once. Each membership keeps a cursor: the
 *   highest group message id delivered to that member. A member's pending
 *   group messages are those above its cursor not sent by the member itself.
 *   Joining sets the cursor to the current highest message id, so a new
 *   member gets what is said after it joined, not the history.
 *
 * Every function returns 0, or a negative MC_ERR_* (listed per function;
 * any function may also return MC_ERR_STORAGE for a failure of the store
 * itself, and then has changed nothing). Strings passed in are borrowed for
 * the call; strings passed out are copied into caller buffers. Names are
 * 1..MC_NAME_MAX bytes; the store checks only their length (the codec checks
 * the characters). A list's |after| of NULL means "" (from the start). A host
 * that batches (one transaction for several datagrams) wraps its calls to
 * the server core in its store's begin/commit functions itself
 * (mc_sqlstore_begin()); the core never calls them.
 */
#ifndef MC_STORE_H
#define MC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "mc_codec.h"

/* The group every new store starts with (a new server has it). */
#define MC_STORE_DEFAULT_GROUP "MyChat"

typedef struct {
  uint64_t id;
  char name[MC_NAME_MAX + 1];
} mc_store_user;

typedef struct {
  uint64_t id;                      /* assigned by msg_add */
  uint64_t sender_id;
  char sender[MC_NAME_MAX + 1];
  uint64_t group_id;                /* 0 for a direct message */
  char group[MC_NAME_MAX + 1];      /* "" for a direct message */
  uint64_t to_id;                   /* direct: the recipient; group: 0 */
  char to[MC_NAME_MAX + 1];         /* direct: the recipient's name */
  uint64_t time_ms;                 /* server time the message was stored */
  uint64_t client_msg_id;           /* the sender's idempotency key */
  char text[MC_TEXT_MAX + 1];
} mc_store_msg;

typedef struct {
  uint64_t message_id;
  char to[MC_NAME_MAX + 1];         /* who received it */
  uint64_t delivered_ms;
  uint64_t seq;                     /* receipt order, strictly increasing */
} mc_store_receipt;

typedef struct mc_store_ops {
  /* Creates user |name| with password hash |pwhash| (a C string) and sets
   * |*id|. Returns 0, MC_ERR_EXISTS, or MC_ERR_INVAL for a bad name length
   * or a NULL |pwhash|. */
  int (*user_add)(void *st, const char *name, const char *pwhash,
                  uint64_t *id);
  /* Looks up |name|: sets |*id| and copies its hash, NUL-terminated, into
   * |pwhash| (|cap| bytes; |pwhash| may be NULL). Returns 0, MC_ERR_NOT_FOUND,
   * or MC_ERR_BUFFER_TOO_SMALL when the hash does not fit in |cap|. */
  int (*user_find)(void *st, const char *name, uint64_t *id, char *pwhash,
                   size_t cap);
  /* Up to |cap| users whose names sort after |after| ("" for the start),
   * in name order (memcmp; a prefix sorts first). |*n| gets the count.
   * Returns 0. */
  int (*user_list)(void *st, const char *after, mc_store_user *out,
                   size_t cap, size_t *n);

  /* Creates group |name| and sets |*id|. Returns 0, MC_ERR_EXISTS, or
   * MC_ERR_INVAL for a bad name length. */
  int (*group_add)(void *st, const char *name, uint64_t *id);
  /* Sets |*id| of group |name|. Returns 0 or MC_ERR_NOT_FOUND. */
  int (*group_find)(void *st, const char *name, uint64_t *id);
  /* Like user_list, for groups. Returns 0. */
  int (*group_list)(void *st, const char *after, mc_store_user *out,
                    size_t cap, size_t *n);
  /* Groups that |user_id| belongs to, sorted by name, after |after|, like
   * user_list (none for an unknown user). Returns 0. */
  int (*user_groups)(void *st, uint64_t user_id, const char *after,
                     mc_store_user *out, size_t cap, size_t *n);
  /* Adds the membership with its cursor at the highest message id so far.
   * Returns 0, MC_ERR_EXISTS when already a member, or MC_ERR_NOT_FOUND for
   * an unknown group or user. Leaving and joining again starts a new cursor:
   * what was said in between is not delivered. */
  int (*member_add)(void *st, uint64_t group_id, uint64_t user_id);
  /* Ends the membership. Returns 0, or MC_ERR_NOT_FOUND when not a
   * member. */
  int (*member_del)(void *st, uint64_t group_id, uint64_t user_id);
  /* 0 if a member, MC_ERR_NOT_FOUND if not. */
  int (*member_check)(void *st, uint64_t group_id, uint64_t user_id);

  /* Stores |m|: reads sender_id, group_id (0 for direct), to_id (0 for a
   * group message), client_msg_id and text; fills in id, time_ms (from
   * |now_ms|) and the names sender, group and to from the ids; sets |*dup| to
   * 0. When (sender_id, client_msg_id) was stored before, stores nothing,
   * fills all of |m| from the earlier message and sets |*dup| to 1. The
   * store does not check group membership (the server core does). Returns
   * 0, MC_ERR_NOT_FOUND for an unknown sender, recipient or group, or
   * MC_ERR_INVAL unless exactly one of group_id and to_id is set, or when
   * the text is not NUL-terminated within MC_TEXT_MAX + 1 bytes. A message
   * stored (not a duplicate) adds its text's length to the sender's
   * sent_bytes (user_bytes), in the same durable step as the message. */
  int (*msg_add)(void *st, mc_store_msg *m, uint64_t now_ms, int *dup);
  /* Sets |*bytes| to the bytes of text of every message stored from
   * |user_id| (its sent_bytes: msg_add's sum, kept across restarts; the
   * byte quota of MC-151). Returns 0, or MC_ERR_NOT_FOUND for an unknown
   * user. */
  int (*user_bytes)(void *st, uint64_t user_id, uint64_t *bytes);
  /* Finds the message (sender_id, client_msg_id) and fills |out| with it.
   * Returns 0, or MC_ERR_NOT_FOUND when none was stored. */
  int (*msg_find)(void *st, uint64_t sender_id, uint64_t client_msg_id,
                  mc_store_msg *out);
  /* Sets |*id| to the highest message id stored so far (0 if none).
   * Returns 0. */
  int (*msg_max_id)(void *st, uint64_t *id);
  /* Up to |cap| messages pending for |user_id| with id > |after|, in id
   * order (direct and group merged), all fields filled; |*n| gets the
   * count. Pending stays pending until delivered(): calling this again
   * returns the same messages. Returns 0. */
  int (*pending)(void *st, uint64_t user_id, uint64_t after,
                 mc_store_msg *out, size_t cap, size_t *n);
  /* Records that message |m| reached |user_id| at |now_ms|: a direct message
   * stops being pending and its receipt becomes pending for the sender; a
   * group message moves the member's cursor up to m->id (never down). Only
   * m->id is read; the rest comes from the stored message. Delivering a
   * direct message again changes nothing (no second receipt). Returns 0, or
   * MC_ERR_NOT_FOUND for an unknown message or when |user_id| is not its
   * recipient (direct) or not a member of its group (group). */
  int (*delivered)(void *st, uint64_t user_id, const mc_store_msg *m,
                   uint64_t now_ms);
  /* Up to |cap| pending receipts for sender |user_id| with seq > |after|, in
   * seq order; |*n| gets the count. Seqs are never reused, also after
   * receipt_done() and a restart. Returns 0. */
  int (*receipts)(void *st, uint64_t user_id, uint64_t after,
                  mc_store_receipt *out, size_t cap, size_t *n);
  /* The sender has the receipt for |message_id|: it stops being pending.
   * Returns 0, also when no receipt is pending for it (the sender may ack a
   * receipt pushed twice). */
  int (*receipt_done)(void *st, uint64_t message_id);
} mc_store_ops;

/* A store: its operations and their first argument. */
typedef struct {
  const mc_store_ops *ops;
  void *st;
} mc_store;

#endif
