/*
 * mc_server_session.c: the life of a server session (PROTOCOL.md 5.6 to
 * 5.8): creating one after a handshake, ending it (logout, timeout, give-up,
 * replacement, shutdown) and freeing it; where it waits, in the timer heap
 * under its next deadline or on the ready list for poll_tx; and the online
 * lists of the groups it is in.
 */
#include "mc_server_int.h"

#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------------ */
/* timer heap and ready list                                          */

static int heap_less(const void *a, const void *b) {
  return (*(sess *const *)a)->deadline < (*(sess *const *)b)->deadline;
}

static void heap_moved(void *e, size_t i) { (*(sess **)e)->heap_idx = i; }

void mc__server_heap_init(mc_server *srv) {
  mc__heap_init(&srv->heap, sizeof(sess *), heap_less, heap_moved, srv->mem);
}

static void heap_remove(mc_server *srv, sess *s) {
  size_t i = s->heap_idx;
  if (i == SIZE_MAX)
    return;
  s->heap_idx = SIZE_MAX;
  mc__heap_remove(&srv->heap, i);
}

static mc_tstamp sess_deadline(const mc_server *srv, const sess *s) {
  /* A blocked session has nothing it may send until a datagram arrives
   * (which makes it ready), so only its own end can come first. */
  mc_tstamp d = s->blocked ? MC_TSTAMP_NEVER : mc_arq_expiry(&s->arq);
  mc_tstamp limit = s->state == SESS_CLOSING
                        ? s->closing_deadline
                        : s->last_heard + srv->cfg.session_timeout_ms * MC_MSEC;
  return limit < d ? limit : d;
}

/* Puts |s| back in the heap under its current deadline; a session on the
 * ready list is rescheduled when poll_tx has drained it. It cannot run out
 * of memory: mc__server_sess_create made room in the heap for every session. */
void mc__server_heap_schedule(mc_server *srv, sess *s) {
  if (s->in_ready)
    return;
  s->deadline = sess_deadline(srv, s);
  if (s->heap_idx != SIZE_MAX)
    mc__heap_update(&srv->heap, s->heap_idx);
  else
    (void)mc__heap_push(&srv->heap,
                        &s); /* room made by mc__server_sess_create */
}

/* Moves |s| to the ready list: poll_tx will look at it next. */
void mc__server_make_ready(mc_server *srv, sess *s) {
  if (s->in_ready)
    return;
  heap_remove(srv, s);
  s->in_ready = 1;
  s->ready_next = NULL;
  s->ready_prev = srv->ready_tail;
  if (srv->ready_tail)
    srv->ready_tail->ready_next = s;
  else
    srv->ready_head = s;
  srv->ready_tail = s;
}

void mc__server_ready_remove(mc_server *srv, sess *s) {
  if (!s->in_ready)
    return;
  if (s->ready_prev)
    s->ready_prev->ready_next = s->ready_next;
  else
    srv->ready_head = s->ready_next;
  if (s->ready_next)
    s->ready_next->ready_prev = s->ready_prev;
  else
    srv->ready_tail = s->ready_prev;
  s->in_ready = 0;
  s->ready_next = s->ready_prev = NULL;
}

/* ------------------------------------------------------------------ */
/* group online lists                                                 */

static int online_add(mc_server *srv, uint64_t gid, sess *s) {
  sess_list *l = mc__map_get(&srv->groups_online, gid);
  if (l == NULL) {
    l = mc__calloc(srv->mem, 1, sizeof *l);
    if (l == NULL || mc__map_put(&srv->groups_online, gid, l) < 0) {
      mc__free(srv->mem, l);
      return MC_ERR_NOMEM;
    }
  }
  if (mc__reserve(srv->mem, &l->v, &l->cap, l->n + 1, sizeof *l->v) < 0) {
    if (l->n == 0) { /* just made: no session would ever free it */
      mc__map_del(&srv->groups_online, gid);
      mc__free(srv->mem, l);
    }
    return MC_ERR_NOMEM;
  }
  l->v[l->n++] = s;
  return 0;
}

static void online_del(mc_server *srv, uint64_t gid, sess *s) {
  sess_list *l = mc__map_get(&srv->groups_online, gid);
  if (l == NULL)
    return;
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i] == s) {
      l->v[i] = l->v[--l->n];
      break;
    }
  if (l->n == 0) {
    mc__map_del(&srv->groups_online, gid);
    mc__free(srv->mem, l->v);
    mc__free(srv->mem, l);
  }
}

/* A session's group array comes with its first group and goes with its
 * last (sess.groups), so a session in no group holds none. */
static void groups_release_if_empty(mc_server *srv, sess *s) {
  if (s->n_groups == 0) {
    mc__free(srv->mem, s->groups);
    s->groups = NULL;
    s->groups_cap = 0;
  }
}

int mc__server_sess_join_group(mc_server *srv, sess *s, uint64_t gid) {
  if (s->n_groups == MC_GROUPS_PER_USER_MAX)
    return MC_ERR_LIMIT;
  if (mc__reserve(srv->mem, &s->groups, &s->groups_cap, s->n_groups + 1,
                  sizeof *s->groups) < 0)
    return MC_ERR_NOMEM;
  int rv = online_add(srv, gid, s);
  if (rv == 0)
    s->groups[s->n_groups++] = gid;
  else
    groups_release_if_empty(srv, s);
  return rv;
}

void mc__server_sess_leave_group(mc_server *srv, sess *s, uint64_t gid) {
  for (size_t i = 0; i < s->n_groups; i++)
    if (s->groups[i] == gid) {
      s->groups[i] = s->groups[--s->n_groups];
      online_del(srv, gid, s);
      groups_release_if_empty(srv, s);
      return;
    }
}

/* ------------------------------------------------------------------ */
/* session life                                                       */

void mc__server_sess_free(mc_server *srv, sess *s) {
  heap_remove(srv, s);
  mc__server_ready_remove(srv, s);
  mc__map_del(&srv->by_id, s->id);
  mc_arq_free(&s->arq);
  mc__free(srv->mem, s->recs);
  mc__free(srv->mem, s->groups);
  mc__free(srv->mem, s);
  srv->stats.sessions--;
}

/* Takes |s| offline: out of the user and group indexes, presence pushed.
 * With |linger| the session stays to finish retransmitting what it owes
 * (the logout Result); otherwise it is freed now. |code| != 0 also tells
 * the client why, in an unreliable Error. */
void mc__server_sess_end(mc_server *srv, sess *s, Mychat__ErrorCode code,
                         const char *why, int linger, mc_tstamp now) {
  if (s->state == SESS_ESTABLISHED) {
    /* Replacement keeps the user online and shutdown has no one left to
     * tell, so only logout, timeout and give-up push Presence (MC-125). */
    if (code == MYCHAT__ERROR_CODE__ERROR_NONE)
      mc__server_push_presence(srv, s, 0);
    while (s->n_groups > 0)
      mc__server_sess_leave_group(srv, s, s->groups[0]);
    if (mc__map_get(&srv->by_user, s->user_id) == s)
      mc__map_del(&srv->by_user, s->user_id);
    srv->stats.sessions_ended++;
    mc__server_sess_log(srv, s, now, "end", code, why, 1);
  }
  if (code != MYCHAT__ERROR_CODE__ERROR_NONE)
    mc__server_sess_error(srv, s, code, why);
  /* Even with nothing outstanding (a logout Result that could not be
   * queued for lack of memory) a lingering session is not freed here:
   * mc_server_recv goes on with it after mc__server_handle_request; poll_tx
   * frees it. */
  if (linger) {
    s->state = SESS_CLOSING;
    s->closing_deadline = now + CLOSING_LINGER;
    mc__server_make_ready(srv, s);
    return;
  }
  mc__server_sess_free(srv, s);
}

/* Loads the user's groups into the session and the online lists. */
int mc__server_sess_load_groups(mc_server *srv, sess *s) {
  mc_store_user g[MC_GROUPS_PER_USER_MAX];
  size_t n = 0;
  int rv = srv->store.ops->user_groups(srv->store.st, s->user_id, "", g,
                                       MC_GROUPS_PER_USER_MAX, &n);
  for (size_t i = 0; rv == 0 && i < n; i++)
    rv = mc__server_sess_join_group(srv, s, g[i].id);
  return rv;
}

/* The receive stream holds decoded envelopes. */
static void env_free(void *env, const mc_mem *mem) {
  mc__codec_free(mem, env);
}

sess *mc__server_sess_create(mc_server *srv, const auth_pending *p,
                             mc_tstamp now) {
  sess *s = mc__calloc(srv->mem, 1, sizeof *s);
  mc_arq_config acfg = srv->cfg.arq;
  acfg.item_free = env_free;
  acfg.mem = srv->mem;
  if (s == NULL)
    return NULL;
  if (mc_arq_init(&s->arq, &acfg) < 0) {
    mc__free(srv->mem, s);
    return NULL;
  }
  do {
    srv->cb.random(srv->cb.user_data, (uint8_t *)&s->id, sizeof s->id);
  } while (s->id == 0 || mc__map_get(&srv->by_id, s->id) != NULL);
  srv->cb.random(srv->cb.user_data, s->token, MC_TOKEN_LEN);
  s->user_id = p->user_id;
  snprintf(s->name, sizeof s->name, "%s", p->name);
  s->nonce = p->nonce;
  mc__server_path_init(&s->path, &p->addr, p->req_len);
  s->presence = p->presence;
  s->last_heard = now;
  mc_rate_init(&s->msg_rate, srv->cfg.msg_burst, now);
  mc_rate_init(&s->log_rate, MC_SERVER_LOG_BURST, now);
  s->heap_idx = SIZE_MAX;
  /* Every session is in the heap or on the ready list, so a heap slot for
   * each (and the heap's scratch slot) means mc__server_heap_schedule never
   * fails: a session it dropped would never time out, nor be freed by
   * mc_server_del. */
  size_t heap_need = srv->stats.sessions + 1 - srv->heap.n;
  if (mc__heap_reserve(&srv->heap, heap_need) < 0 ||
      mc__map_put(&srv->by_id, s->id, s) < 0) {
    mc_arq_free(&s->arq);
    mc__free(srv->mem, s);
    return NULL;
  }
  srv->stats.sessions++;
  return s;
}
