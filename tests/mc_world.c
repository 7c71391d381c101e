#include "mc_world.h"

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

static void world_random(void *ud, uint8_t *buf, size_t len) {
  mc_rng_bytes(&((world *)ud)->rng, buf, len);
}

void world_init(world *w, int n, const mc_netem_config *net, uint64_t seed) {
  CU_ASSERT_EQUAL_FATAL(world_init_mem(w, n, net, seed, NULL), 0);
}

int world_init_mem(world *w, int n, const mc_netem_config *net, uint64_t seed,
                   const mc_mem *mem) {
  memset(w, 0, sizeof *w);
  w->now = 1000 * MC_SEC;
  w->seed = seed;
  mc_rng_seed(&w->rng, seed);
  if (net)
    w->net = *net;
  else
    w->net.delay = 1 * MC_MSEC;
  w->ms = mc_memstore_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(w->ms);
  mc_memstore_as_store(w->ms, &w->store);
  mc_server_config_default(&w->scfg);
  w->scfg.auth_cost = MC_AUTH_COST_MIN;
  /* The worlds test delivery at rates no user would keep up, not the
   * message quota (MC-150; its own tests set it). */
  w->scfg.msg_burst = 1000000;
  mc_server_callbacks scb = {
      .user_data = w, .random = world_random, .mem = mem};
  w->srv = mc_server_new(&w->scfg, &w->store, &scb);
  mc_client_callbacks ccb = {
      .user_data = w, .random = world_random, .mem = mem};
  int rv = w->srv != NULL ? 0 : -1;
  for (int i = 0; i < n; i++) {
    world_client *c = &w->cl[i];
    w->n = i + 1;
    c->c = mc_client_new(NULL, &ccb);
    if (c->c == NULL)
      rv = -1;
    CU_ASSERT_EQUAL_FATAL(mc_netem_link_init(&c->up, &w->net, seed * 31 + 2 * i), 0);
    CU_ASSERT_EQUAL_FATAL(mc_netem_link_init(&c->down, &w->net, seed * 31 + 2 * i + 1), 0);
    uint8_t a[4] = {127, 0, 0, (uint8_t)(i + 1)};
    mc_addr_set(&c->addr, a, sizeof a);
    c->ev = calloc(WORLD_EVENTS_MAX, sizeof *c->ev);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c->ev);
  }
  return rv;
}

void world_free(world *w) {
  for (int i = 0; i < w->n; i++) {
    mc_client_del(w->cl[i].c);
    mc_netem_link_free(&w->cl[i].up);
    mc_netem_link_free(&w->cl[i].down);
    free(w->cl[i].ev);
  }
  mc_server_del(w->srv);
  mc_memstore_del(w->ms);
}

static int client_of(const world *w, const mc_addr *a) {
  for (int i = 0; i < w->n; i++)
    if (a->len == w->cl[i].addr.len &&
        memcmp(a->bytes, w->cl[i].addr.bytes, a->len) == 0)
      return i;
  return -1;
}

/* Moves everything that can move at w->now; returns 1 if anything did. */
static int world_step(world *w) {
  uint8_t buf[MC_DATAGRAM_MAX + 64];
  size_t len;
  uint64_t ctx;
  int moved = 0, rv;
  mc_auth_job job;
  while (mc_server_poll_auth(w->srv, &job)) {
    mc_auth_job_run(&job);
    mc_server_auth_done(w->srv, &job, w->now);
    moved = 1;
  }
  for (int i = 0; i < w->n; i++) {
    world_client *c = &w->cl[i];
    while ((rv = mc_netem_link_recv(&c->up, w->now, buf, sizeof buf, &ctx)) > 0) {
      if (!w->server_deaf)
        mc_server_recv(w->srv, &c->addr, buf, (size_t)rv, w->now);
      moved = 1;
    }
    while ((rv = mc_netem_link_recv(&c->down, w->now, buf, sizeof buf, &ctx)) > 0) {
      mc_client_recv(c->c, buf, (size_t)rv, w->now);
      moved = 1;
    }
    if (mc_client_expiry(c->c) <= w->now)
      mc_client_handle_expiry(c->c, w->now);
    while (mc_client_poll_tx(c->c, w->now, buf, sizeof buf, &len) == 1) {
      mc_netem_link_send(&c->up, buf, len, 0, w->now);
      moved = 1;
    }
    while (c->n_ev < WORLD_EVENTS_MAX &&
           mc_client_poll_event(c->c, &c->ev[c->n_ev]) == 1) {
      c->n_ev++;
      moved = 1;
    }
  }
  if (mc_server_expiry(w->srv) <= w->now)
    mc_server_handle_expiry(w->srv, w->now);
  mc_addr to;
  while (mc_server_poll_tx(w->srv, w->now, &to, buf, sizeof buf, &len) == 1) {
    int i = client_of(w, &to);
    if (len > w->server_tx_max)
      w->server_tx_max = len;
    if (i >= 0)
      mc_netem_link_send(&w->cl[i].down, buf, len, 0, w->now);
    moved = 1;
  }
  return moved;
}

static mc_tstamp next_time(world *w) {
  mc_tstamp t = mc_server_expiry(w->srv);
  for (int i = 0; i < w->n; i++) {
    mc_tstamp x[3] = {mc_client_expiry(w->cl[i].c),
                      mc_netem_link_expiry(&w->cl[i].up),
                      mc_netem_link_expiry(&w->cl[i].down)};
    for (int k = 0; k < 3; k++)
      if (x[k] < t)
        t = x[k];
  }
  return t;
}

void world_run(world *w, mc_tstamp duration, int (*done)(world *, void *),
               void *arg) {
  mc_tstamp end = w->now + duration;
  for (;;) {
    while (world_step(w))
      ;
    if (done && done(w, arg))
      return;
    /* The drive contract (mc_client.h, mc_server.h): once every step at
     * |now| has run, no deadline is left at or before |now|. */
    mc_tstamp t = next_time(w);
    CU_ASSERT_FATAL(t > w->now);
    if (t > end) {
      w->now = end;
      while (world_step(w))
        ;
      return;
    }
    w->now = t;
  }
}

static int settled(world *w, void *arg) {
  mc_client_state s = mc_client_get_state(w->cl[*(int *)arg].c);
  return s == MC_CLIENT_ESTABLISHED || s == MC_CLIENT_CLOSED;
}

int world_connect(world *w, int i, const char *name, int create) {
  char pw[64];
  snprintf(pw, sizeof pw, "pw-%s", name);
  if (mc_client_connect(w->cl[i].c, name, pw, create, w->now) != 0)
    return 0;
  world_run(w, 20 * MC_SEC, settled, &i);
  return mc_client_get_state(w->cl[i].c) == MC_CLIENT_ESTABLISHED;
}

size_t world_count(const world *w, int i, mc_client_event_type type) {
  size_t n = 0;
  for (size_t k = 0; k < w->cl[i].n_ev; k++)
    n += w->cl[i].ev[k].type == type;
  return n;
}

const mc_client_event *world_event(const world *w, int i,
                                   mc_client_event_type type, size_t k) {
  for (size_t j = 0; j < w->cl[i].n_ev; j++)
    if (w->cl[i].ev[j].type == type && k-- == 0)
      return &w->cl[i].ev[j];
  return NULL;
}

int world_inject(world *w, int i, const uint8_t *data, size_t len) {
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t out_len, largest = 0;
  mc_addr to;
  mc_server_recv(w->srv, &w->cl[i].addr, data, len, w->now);
  while (mc_server_poll_tx(w->srv, w->now, &to, buf, sizeof buf, &out_len) == 1) {
    if (to.len == w->cl[i].addr.len &&
        memcmp(to.bytes, w->cl[i].addr.bytes, to.len) == 0 && out_len > largest)
      largest = out_len;
    int j = client_of(w, &to);
    if (j >= 0)
      mc_netem_link_send(&w->cl[j].down, buf, out_len, 0, w->now);
  }
  return (int)largest;
}
