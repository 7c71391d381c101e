/*
 * mc_server_request.c: the requests of an established session (PROTOCOL.md
 * section 7): List, CreateGroup, JoinGroup, LeaveGroup, SendMessage and
 * Logout, each answered once, reliably.
 */
#include "mc_server_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* requests                                                           */

static Mychat__ErrorCode store_code(int rv, Mychat__ErrorCode not_found,
                                    Mychat__ErrorCode exists) {
  if (rv == MC_ERR_NOT_FOUND)
    return not_found;
  if (rv == MC_ERR_EXISTS)
    return exists;
  return MYCHAT__ERROR_CODE__INTERNAL;
}

static Mychat__ErrorCode do_list(mc_server *srv, sess *s, uint32_t seq,
                                 const Mychat__ListRequest *lr) {
  mc_store_user items[MC_LIST_PAGE_MAX + 1];
  size_t n = 0;
  int rv;
  const char *after = lr->after ? lr->after : "";
  switch (lr->kind) {
  case MYCHAT__LIST_KIND__LIST_USERS:
    rv = srv->store.ops->user_list(srv->store.st, after, items,
                                   MC_LIST_PAGE_MAX + 1, &n);
    break;
  case MYCHAT__LIST_KIND__LIST_MY_GROUPS:
    rv = srv->store.ops->user_groups(srv->store.st, s->user_id, after, items,
                                     MC_LIST_PAGE_MAX + 1, &n);
    break;
  default:
    rv = srv->store.ops->group_list(srv->store.st, after, items,
                                    MC_LIST_PAGE_MAX + 1, &n);
    break;
  }
  if (rv < 0)
    return MYCHAT__ERROR_CODE__INTERNAL;
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__ListReply rep = MYCHAT__LIST_REPLY__INIT;
  Mychat__ListEntry ents[MC_LIST_PAGE_MAX];
  Mychat__ListEntry *ptrs[MC_LIST_PAGE_MAX];
  rep.request_seq = seq;
  rep.kind = lr->kind;
  rep.more = n > MC_LIST_PAGE_MAX;
  if (n > MC_LIST_PAGE_MAX)
    n = MC_LIST_PAGE_MAX;
  for (size_t i = 0; i < n; i++) {
    mychat__list_entry__init(&ents[i]);
    ents[i].name = items[i].name;
    if (lr->kind == MYCHAT__LIST_KIND__LIST_USERS) {
      sess *t = mc__map_get(&srv->by_user, items[i].id);
      ents[i].online = t != NULL && t->state == SESS_ESTABLISHED;
    }
    ptrs[i] = &ents[i];
  }
  rep.n_entries = n;
  rep.entries = ptrs;
  env.body_case = MYCHAT__ENVELOPE__BODY_LIST_REPLY;
  env.list_reply = &rep;
  mc__server_sess_submit(srv, s, &env, NULL);
  return MYCHAT__ERROR_CODE__ERROR_NONE;
}

static Mychat__ErrorCode too_many_groups(char *why, size_t wlen) {
  snprintf(why, wlen, "you are in %d groups already", MC_GROUPS_PER_USER_MAX);
  return MYCHAT__ERROR_CODE__TOO_MANY_GROUPS;
}

/* CreateGroup, JoinGroup, LeaveGroup, with their checks in the order of
 * MC-102 .. MC-104. */
static Mychat__ErrorCode do_group(mc_server *srv, sess *s,
                                  Mychat__Envelope__BodyCase bc,
                                  const char *name, char *why, size_t wlen) {
  const mc_store_ops *o = srv->store.ops;
  uint64_t gid;
  int rv = o->group_find(srv->store.st, name, &gid);
  if (rv < 0 && rv != MC_ERR_NOT_FOUND)
    return MYCHAT__ERROR_CODE__INTERNAL;
  if (bc == MYCHAT__ENVELOPE__BODY_CREATE_GROUP) {
    if (rv == 0) {
      snprintf(why, wlen, "group '%s' exists", name);
      return MYCHAT__ERROR_CODE__GROUP_EXISTS;
    }
    if (s->n_groups >= MC_GROUPS_PER_USER_MAX)
      return too_many_groups(why, wlen);
    if (o->group_add(srv->store.st, name, &gid) < 0 ||
        o->member_add(srv->store.st, gid, s->user_id) < 0 ||
        mc__server_sess_join_group(srv, s, gid) < 0)
      return MYCHAT__ERROR_CODE__INTERNAL;
    return MYCHAT__ERROR_CODE__ERROR_NONE;
  }
  if (rv == MC_ERR_NOT_FOUND) {
    snprintf(why, wlen, "no group '%s'", name);
    return MYCHAT__ERROR_CODE__NO_SUCH_GROUP;
  }
  int member = o->member_check(srv->store.st, gid, s->user_id);
  if (member < 0 && member != MC_ERR_NOT_FOUND)
    return MYCHAT__ERROR_CODE__INTERNAL;
  if (bc == MYCHAT__ENVELOPE__BODY_LEAVE_GROUP) {
    if (member != 0) {
      snprintf(why, wlen, "you are not in '%s'", name);
      return MYCHAT__ERROR_CODE__NOT_MEMBER;
    }
    if (o->member_del(srv->store.st, gid, s->user_id) < 0)
      return MYCHAT__ERROR_CODE__INTERNAL;
    mc__server_sess_leave_group(srv, s, gid);
    return MYCHAT__ERROR_CODE__ERROR_NONE;
  }
  if (member == 0) {
    snprintf(why, wlen, "you are in '%s' already", name);
    return MYCHAT__ERROR_CODE__ALREADY_MEMBER;
  }
  if (s->n_groups >= MC_GROUPS_PER_USER_MAX)
    return too_many_groups(why, wlen);
  if (o->member_add(srv->store.st, gid, s->user_id) < 0 ||
      mc__server_sess_join_group(srv, s, gid) < 0)
    return MYCHAT__ERROR_CODE__INTERNAL;
  return MYCHAT__ERROR_CODE__ERROR_NONE;
}

/* The "sent" confirmation of stored message |m|. */
static Mychat__ErrorCode send_sent(mc_server *srv, sess *s, uint32_t seq,
                                   const mc_store_msg *m) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Sent sent = MYCHAT__SENT__INIT;
  sent.request_seq = seq;
  sent.client_msg_id = m->client_msg_id;
  sent.message_id = m->id;
  sent.server_time_ms = m->time_ms;
  env.body_case = MYCHAT__ENVELOPE__BODY_SENT;
  env.sent = &sent;
  mc__server_sess_submit(srv, s, &env, NULL);
  return MYCHAT__ERROR_CODE__ERROR_NONE;
}

static Mychat__ErrorCode do_send(mc_server *srv, sess *s, uint32_t seq,
                                 const Mychat__SendMessage *sm, mc_tstamp now,
                                 char *why, size_t wlen) {
  mc_store_msg m;
  memset(&m, 0, sizeof m);
  m.sender_id = s->user_id;
  snprintf(m.sender, sizeof m.sender, "%s", s->name);
  m.client_msg_id = sm->client_msg_id;
  snprintf(m.text, sizeof m.text, "%s", sm->text);
  Mychat__ErrorCode refused = MYCHAT__ERROR_CODE__ERROR_NONE;
  int rv;
  size_t tlen = strlen(m.text);
  /* The quotas come first (MC-150, MC-151): they are the cheap checks,
   * and a client over them learns nothing about names. A refused message
   * takes no token; one past the byte quota has taken one. */
  if (!mc_rate_take(&s->msg_rate, srv->cfg.msg_burst, srv->cfg.msg_refill_ms,
                    now)) {
    snprintf(why, wlen, "more than %" PRIu32 " messages at once; one more "
             "every %" PRIu32 " ms", srv->cfg.msg_burst,
             srv->cfg.msg_refill_ms);
    refused = MYCHAT__ERROR_CODE__QUOTA_EXCEEDED;
  } else if (s->sent_bytes + tlen > srv->cfg.quota_bytes) {
    snprintf(why, wlen, "stored bytes quota of %" PRIu64 " reached",
             srv->cfg.quota_bytes);
    refused = MYCHAT__ERROR_CODE__QUOTA_EXCEEDED;
  } else if (sm->to_case == MYCHAT__SEND_MESSAGE__TO_USER) {
    rv = srv->store.ops->user_find(srv->store.st, sm->user, &m.to_id, NULL, 0);
    if (rv < 0) {
      snprintf(why, wlen, "no user '%s'", sm->user);
      refused = store_code(rv, MYCHAT__ERROR_CODE__NO_SUCH_USER,
                           MYCHAT__ERROR_CODE__INTERNAL);
    }
    snprintf(m.to, sizeof m.to, "%s", sm->user);
  } else {
    rv = srv->store.ops->group_find(srv->store.st, sm->group, &m.group_id);
    if (rv < 0) {
      snprintf(why, wlen, "no group '%s'", sm->group);
      refused = store_code(rv, MYCHAT__ERROR_CODE__NO_SUCH_GROUP,
                           MYCHAT__ERROR_CODE__INTERNAL);
    } else if ((rv = srv->store.ops->member_check(srv->store.st, m.group_id,
                                                  s->user_id)) < 0) {
      snprintf(why, wlen, "join '%s' before writing to it", sm->group);
      refused = store_code(rv, MYCHAT__ERROR_CODE__NOT_MEMBER,
                           MYCHAT__ERROR_CODE__INTERNAL);
    }
    snprintf(m.group, sizeof m.group, "%s", sm->group);
  }
  if (refused != MYCHAT__ERROR_CODE__ERROR_NONE) {
    /* A resend of a stored message is confirmed again whatever the checks
     * say now: it may come after the sender left the group (MC-107).
     * msg_add finds a resend by itself, so only a refused message costs
     * this lookup, not every message. */
    rv = srv->store.ops->msg_find(srv->store.st, s->user_id,
                                  sm->client_msg_id, &m);
    if (rv == 0) {
      why[0] = '\0';
      return send_sent(srv, s, seq, &m);
    }
    if (rv == MC_ERR_NOT_FOUND && refused == MYCHAT__ERROR_CODE__QUOTA_EXCEEDED)
      srv->stats.quota_refused++;
    return rv == MC_ERR_NOT_FOUND ? refused : MYCHAT__ERROR_CODE__INTERNAL;
  }
  int dup = 0;
  rv = srv->store.ops->msg_add(srv->store.st, &m, mc__server_wall_ms(srv, now),
                               &dup);
  if (rv < 0) {
    snprintf(why, wlen, "the message could not be stored");
    return MYCHAT__ERROR_CODE__INTERNAL;
  }
  send_sent(srv, s, seq, &m);
  if (dup)
    return MYCHAT__ERROR_CODE__ERROR_NONE;
  s->sent_bytes += tlen; /* as msg_add counted it */
  srv->stats.messages_stored++;
  if (m.group_id == 0) {
    sess *t = mc__map_get(&srv->by_user, m.to_id);
    if (t != NULL)
      mc__server_sess_notify_message(srv, t, &m);
    return MYCHAT__ERROR_CODE__ERROR_NONE;
  }
  sess_list *l = mc__map_get(&srv->groups_online, m.group_id);
  for (size_t i = 0; l != NULL && i < l->n; i++)
    if (l->v[i] != s)
      mc__server_sess_notify_message(srv, l->v[i], &m);
  return MYCHAT__ERROR_CODE__ERROR_NONE;
}

static void reply_result(mc_server *srv, sess *s, uint32_t req_seq,
                         Mychat__ErrorCode code, const char *text) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Result res = MYCHAT__RESULT__INIT;
  char t[MC_ERROR_TEXT_MAX + 1];
  snprintf(t, sizeof t, "%s", text);
  res.request_seq = req_seq;
  res.code = code;
  res.text = t;
  env.body_case = MYCHAT__ENVELOPE__BODY_RESULT;
  env.result = &res;
  mc__server_sess_submit(srv, s, &env, NULL);
}

/* Handles one in-order request of |s|. Every request gets exactly one
 * reliable answer: its own (Sent, ListReply) or a Result. */
void mc__server_handle_request(mc_server *srv, sess *s, Mychat__Envelope *env,
                               mc_tstamp now) {
  char why[MC_ERROR_TEXT_MAX + 1] = "";
  Mychat__ErrorCode code = MYCHAT__ERROR_CODE__ERROR_NONE;
  int answered = 0;
  const char *type = mc_codec_body_name(env->body_case);

  if (s->state != SESS_ESTABLISHED)
    return; /* logged out: acked, not acted on */
  int rv = MC_OK;
  if (mc_codec_body_class(env->body_case) != MC_BODY_REQUEST) {
    code = MYCHAT__ERROR_CODE__BAD_REQUEST;
    snprintf(why, sizeof why, "'%s' is not a client request", type);
  } else if ((rv = mc_codec_validate_body(env)) < 0) {
    code = (Mychat__ErrorCode)mc_server_wire_code(rv);
    snprintf(why, sizeof why, "%s", mc_strerror(rv));
  }
  if (code != MYCHAT__ERROR_CODE__ERROR_NONE) {
    reply_result(srv, s, env->seq, code, why);
    mc__server_sess_log(srv, s, now, type, code, why, 0);
    return;
  }
  switch (env->body_case) {
  case MYCHAT__ENVELOPE__BODY_LOGOUT:
    reply_result(srv, s, env->seq, code, "bye");
    mc__server_sess_log(srv, s, now, type, 0, "", 0);
    mc__server_sess_end(srv, s, MYCHAT__ERROR_CODE__ERROR_NONE, "logout", 1,
                        now);
    return;
  case MYCHAT__ENVELOPE__BODY_LIST:
    code = do_list(srv, s, env->seq, env->list);
    answered = code == MYCHAT__ERROR_CODE__ERROR_NONE;
    break;
  case MYCHAT__ENVELOPE__BODY_CREATE_GROUP:
    code = do_group(srv, s, env->body_case, env->create_group->name, why,
                    sizeof why);
    break;
  case MYCHAT__ENVELOPE__BODY_JOIN_GROUP:
    code = do_group(srv, s, env->body_case, env->join_group->name, why,
                    sizeof why);
    break;
  case MYCHAT__ENVELOPE__BODY_LEAVE_GROUP:
    code = do_group(srv, s, env->body_case, env->leave_group->name, why,
                    sizeof why);
    break;
  case MYCHAT__ENVELOPE__BODY_SEND:
    code = do_send(srv, s, env->seq, env->send, now, why, sizeof why);
    answered = code == MYCHAT__ERROR_CODE__ERROR_NONE;
    break;
  default: /* every request class body is handled above */
    break;
  }
  if (!answered)
    reply_result(srv, s, env->seq, code, code ? why : "ok");
  mc__server_sess_log(srv, s, now, type, code, why, 0);
}
