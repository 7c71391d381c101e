/*
 * mc_server_push.c: what the server sends on a session unasked
 * (PROTOCOL.md section 8): reliable submission with a record of each body,
 * Delivers from the store (the backlog first, then live messages, then
 * BacklogDone), Receipts, Presence fan-out, and acting on the client's
 * acknowledgements of all of them.
 */
#include "mc_server_int.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* reliable pushes                                                    */

static int rec_push(mc_server *srv, sess *s, const push_rec *r) {
  if (s->rec_n == s->rec_cap &&
      mc__ring_grow(srv->mem, (void **)&s->recs, &s->rec_head, s->rec_n,
                    &s->rec_cap, sizeof *s->recs, 16) < 0)
    return MC_ERR_NOMEM;
  s->recs[(s->rec_head + s->rec_n++) % s->rec_cap] = *r;
  return 0;
}

/* Submits a reliable body on |s| and remembers what it was. */
int mc__server_sess_submit(mc_server *srv, sess *s, const Mychat__Envelope *env,
                           const push_rec *r) {
  static const push_rec other = {.kind = REC_OTHER};
  int rv = mc__wire_submit(&s->arq, env, 0, NULL);
  if (rv == 0)
    rv = rec_push(srv, s, r ? r : &other);
  /* A session whose queue is full (or memory short) cannot keep its
   * promise of a reply or a push; poll_tx ends it, outside whatever loop
   * this call sits in (MC-132). */
  if (rv < 0)
    s->failed = 1;
  mc__server_make_ready(srv, s);
  return rv;
}

static int push_deliver(mc_server *srv, sess *s, const mc_store_msg *m,
                        int missed) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Deliver d = MYCHAT__DELIVER__INIT;
  d.message_id = m->id;
  d.from = (char *)m->sender;
  d.group = (char *)m->group;
  d.text = (char *)m->text;
  d.server_time_ms = m->time_ms;
  d.missed = missed;
  env.body_case = MYCHAT__ENVELOPE__BODY_DELIVER;
  env.deliver = &d;
  push_rec r = {.kind = REC_DELIVER,
                .msg_id = m->id,
                .group_id = m->group_id,
                .sender_id = m->sender_id,
                .to_id = m->to_id};
  int rv = mc__server_sess_submit(srv, s, &env, &r);
  if (rv == 0) {
    s->delivers_inflight++;
    s->enqueued_upto = m->id;
    if (missed)
      s->missed++;
    srv->stats.delivers_sent++;
  }
  return rv;
}

static void push_backlog_done(mc_server *srv, sess *s) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__BacklogDone bd = MYCHAT__BACKLOG_DONE__INIT;
  bd.count = s->missed;
  env.body_case = MYCHAT__ENVELOPE__BODY_BACKLOG_DONE;
  env.backlog_done = &bd;
  if (mc__server_sess_submit(srv, s, &env, NULL) == 0)
    s->backlog_done = 1;
}

/* ------------------------------------------------------------------ */
/* acknowledgements the store could not record (MC-139)               */

static int unrec_has(const mc_server *srv, uint64_t user_id, rec_kind kind,
                     uint64_t msg_id) {
  for (size_t i = 0; i < srv->unrec_n; i++)
    if (srv->unrec[i].user_id == user_id && srv->unrec[i].r.kind == kind &&
        srv->unrec[i].r.msg_id == msg_id)
      return 1;
  return 0;
}

/* A direct message reached its recipient: its sender, if online, gets the
 * receipt. */
static void receipt_ready(mc_server *srv, uint64_t sender_id) {
  sess *sender = mc__map_get(&srv->by_user, sender_id);
  if (sender != NULL && sender->state == SESS_ESTABLISHED) {
    sender->receipts_caught_up = 0;
    mc__server_sess_pump(srv, sender);
  }
}

/* Records that |user_id| has the push |r| (at |at_ms|). Returns the
 * store's result; MC_ERR_STORAGE only when it failed. */
static int record_ack(mc_server *srv, uint64_t user_id, const push_rec *r,
                      uint64_t at_ms) {
  if (r->kind == REC_RECEIPT)
    return srv->store.ops->receipt_done(srv->store.st, r->msg_id);
  mc_store_msg m;
  memset(&m, 0, sizeof m);
  m.id = r->msg_id;
  m.group_id = r->group_id;
  m.sender_id = r->sender_id;
  m.to_id = r->to_id;
  int rv = srv->store.ops->delivered(srv->store.st, user_id, &m, at_ms);
  if (rv == 0 && r->group_id == 0)
    receipt_ready(srv, r->sender_id);
  return rv;
}

/* Records an acknowledgement, or keeps it for a retry when the store
 * fails. */
static void record_or_keep(mc_server *srv, uint64_t user_id,
                           const push_rec *r, mc_tstamp now) {
  uint64_t at_ms = mc__server_wall_ms(srv, now);
  if (record_ack(srv, user_id, r, at_ms) != MC_ERR_STORAGE ||
      srv->unrec_n == UNRECORDED_MAX)
    return;
  if (srv->unrec_n == 0)
    srv->unrec_retry = now + UNRECORDED_RETRY;
  srv->unrec[srv->unrec_n++] = (unrecorded){user_id, at_ms, *r};
}

void mc__server_unrec_retry(mc_server *srv, mc_tstamp now) {
  if (srv->unrec_n == 0 || now < srv->unrec_retry)
    return;
  /* In place: recording a delivery pumps its sender's session, which
   * reads the array; an entry it still finds there that is recorded now
   * only skips what is no longer pending anyway. */
  size_t kept = 0;
  for (size_t i = 0; i < srv->unrec_n; i++) {
    unrecorded u = srv->unrec[i];
    if (record_ack(srv, u.user_id, &u.r, u.at_ms) == MC_ERR_STORAGE)
      srv->unrec[kept++] = u;
  }
  srv->unrec_n = kept;
  srv->unrec_retry = now + UNRECORDED_RETRY;
}

/* How many more pushes of one kind |s| may queue now, holding |mine| of
 * them, while the other kind is pending (|other_pending|): at most
 * push_window in all (MC-133), and while both are pending each kind at
 * most its share of the window, so a stream of Delivers cannot keep the
 * sender's Receipts waiting until it stops, nor Receipts the Delivers.
 * Receipts' share is a quarter of the window, at least 1 (so a window of
 * 1 pushes Receipts first); Delivers have the rest. A half for Receipts
 * cut the relay bench's Delivers in flight so far that its messages/s
 * fell by half (6 datagrams per message, where a quarter takes 4). */
static size_t push_room(const mc_server *srv, const sess *s, int receipt,
                        int other_pending) {
  uint32_t w = srv->cfg.push_window;
  uint32_t inflight = s->delivers_inflight + s->receipts_inflight;
  if (inflight >= w)
    return 0;
  size_t room = w - inflight;
  if (other_pending) {
    uint32_t receipt_share = w / 4 > 0 ? w / 4 : 1;
    uint32_t share = receipt ? receipt_share : w - receipt_share;
    uint32_t mine = receipt ? s->receipts_inflight : s->delivers_inflight;
    size_t left = mine < share ? share - mine : 0;
    if (left < room)
      room = left;
  }
  return room;
}

static size_t deliver_room(const mc_server *srv, const sess *s) {
  return push_room(srv, s, 0, !s->receipts_caught_up);
}

static size_t receipt_room(const mc_server *srv, const sess *s) {
  return push_room(srv, s, 1, !s->caught_up);
}

/* Moves pending messages into the push window: missed ones first (the
 * BacklogDone marker after the last of them), then live ones, within
 * deliver_room. Returns 0, or -1 when the store or the session failed. */
static int pump_delivers(mc_server *srv, sess *s) {
  mc_store_msg batch[16];
  size_t want;
  while (!s->caught_up && (want = deliver_room(srv, s)) > 0) {
    size_t n = 0;
    if (want > sizeof batch / sizeof batch[0])
      want = sizeof batch / sizeof batch[0];
    if (srv->store.ops->pending(srv->store.st, s->user_id, s->enqueued_upto,
                                batch, want, &n) < 0)
      return -1; /* store trouble: try again on the next event */
    for (size_t i = 0; i < n; i++) {
      if (unrec_has(srv, s->user_id, REC_DELIVER, batch[i].id)) {
        s->enqueued_upto = batch[i].id; /* the user has it */
        continue;
      }
      int missed = batch[i].id <= s->watermark;
      if (!missed && !s->backlog_done)
        push_backlog_done(srv, s);
      if (push_deliver(srv, s, &batch[i], missed) < 0)
        return -1;
    }
    if (n < want)
      s->caught_up = 1;
  }
  if (s->caught_up && !s->backlog_done)
    push_backlog_done(srv, s);
  return 0;
}

/* Moves pending receipts into the push window, within receipt_room.
 * Returns 0, or -1 when the store or the session failed. */
static int pump_receipts(mc_server *srv, sess *s) {
  mc_store_receipt rb[16];
  size_t want;
  while (!s->receipts_caught_up && (want = receipt_room(srv, s)) > 0) {
    size_t n = 0;
    if (want > sizeof rb / sizeof rb[0])
      want = sizeof rb / sizeof rb[0];
    if (srv->store.ops->receipts(srv->store.st, s->user_id, s->receipt_upto,
                                 rb, want, &n) < 0)
      return -1;
    for (size_t i = 0; i < n; i++) {
      if (unrec_has(srv, s->user_id, REC_RECEIPT, rb[i].message_id)) {
        s->receipt_upto = rb[i].seq; /* the user has it */
        continue;
      }
      Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
      Mychat__Receipt rc = MYCHAT__RECEIPT__INIT;
      rc.message_id = rb[i].message_id;
      rc.to = rb[i].to;
      rc.delivered_time_ms = rb[i].delivered_ms;
      env.body_case = MYCHAT__ENVELOPE__BODY_RECEIPT;
      env.receipt = &rc;
      push_rec r = {.kind = REC_RECEIPT, .msg_id = rb[i].message_id};
      if (mc__server_sess_submit(srv, s, &env, &r) < 0)
        return -1;
      s->receipts_inflight++;
      s->receipt_upto = rb[i].seq;
    }
    if (n < want)
      s->receipts_caught_up = 1;
  }
  return 0;
}

/* Fills the push window of |s| from the store: Delivers and Receipts, each
 * within its share while both are pending (push_room). A kind found caught
 * up leaves its share to the other, hence Delivers once more at the end. */
void mc__server_sess_pump(mc_server *srv, sess *s) {
  /* Before the token comes back from its client nothing is pushed (MC-141):
   * the backlog of an account must not flood an address that only claimed
   * a Login. */
  if (s->state != SESS_ESTABLISHED || !s->path.heard)
    return;
  if (pump_delivers(srv, s) == 0 && pump_receipts(srv, s) == 0)
    pump_delivers(srv, s);
}

/* A message for |s|'s user was just stored. */
void mc__server_sess_notify_message(mc_server *srv, sess *s,
                                    const mc_store_msg *m) {
  if (s->state != SESS_ESTABLISHED)
    return;
  /* Pushing directly keeps the common case free of store queries; it is
   * only correct when nothing older is still waiting in the store. */
  if (s->caught_up && s->backlog_done && deliver_room(srv, s) > 0 &&
      m->id > s->enqueued_upto) {
    push_deliver(srv, s, m, 0);
    return;
  }
  s->caught_up = 0;
  mc__server_sess_pump(srv, s);
}

void mc__server_push_presence(mc_server *srv, const sess *subject, int online) {
  srv->mark_gen++;
  for (size_t g = 0; g < subject->n_groups; g++) {
    sess_list *l = mc__map_get(&srv->groups_online, subject->groups[g]);
    if (l == NULL)
      continue;
    for (size_t i = 0; i < l->n; i++) {
      sess *t = l->v[i];
      if (t == subject || !t->presence || t->mark == srv->mark_gen ||
          t->state != SESS_ESTABLISHED)
        continue;
      t->mark = srv->mark_gen;
      Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
      Mychat__Presence p = MYCHAT__PRESENCE__INIT;
      p.name = (char *)subject->name;
      p.online = online;
      env.body_case = MYCHAT__ENVELOPE__BODY_PRESENCE;
      env.presence = &p;
      mc__server_sess_submit(srv, t, &env, NULL);
    }
  }
}

/* ------------------------------------------------------------------ */
/* acknowledgements                                                   */

/* Acts on what the client has now acknowledged, in order. */
void mc__server_handle_acked(mc_server *srv, sess *s, mc_tstamp now) {
  uint64_t tag;
  int more = 0;
  while (mc_arq_pop_acked(&s->arq, &tag) == 1 && s->rec_n > 0) {
    push_rec r = s->recs[s->rec_head];
    s->rec_head = (s->rec_head + 1) % s->rec_cap;
    s->rec_n--;
    if (s->rec_n == 0) {
      /* An idle session keeps no record ring (mc__ring_grow remakes it). */
      mc__free(srv->mem, s->recs);
      s->recs = NULL;
      s->rec_head = s->rec_cap = 0;
    }
    if (r.kind == REC_OTHER)
      continue;
    more = 1;
    if (r.kind == REC_RECEIPT) {
      s->receipts_inflight--;
      srv->stats.receipts_acked++;
    } else {
      s->delivers_inflight--;
      srv->stats.delivers_acked++;
    }
    record_or_keep(srv, s->user_id, &r, now);
  }
  if (more)
    mc__server_sess_pump(srv, s);
}
