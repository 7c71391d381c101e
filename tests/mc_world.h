/*
 * mc_world.h: a test world of one server and several clients on a virtual
 * clock, joined by impaired in-memory links (mc_netem). Everything runs in
 * one thread and repeats exactly from the seed. Test-only.
 */
#ifndef MC_WORLD_H
#define MC_WORLD_H

#include "mc_client.h"
#include "mc_memstore.h"
#include "mc_netem.h"
#include "mc_rng.h"
#include "mc_server.h"

#define WORLD_CLIENTS_MAX 8
#define WORLD_EVENTS_MAX 4096

typedef struct {
  mc_client *c;
  mc_netem_link up, down;     /* client->server, server->client */
  mc_addr addr;
  mc_client_event *ev;        /* every event, in order */
  size_t n_ev;
} world_client;

typedef struct {
  mc_tstamp now;
  mc_rng rng;
  mc_memstore *ms;
  mc_store store;
  mc_server *srv;
  mc_server_config scfg;
  mc_netem_config net;
  world_client cl[WORLD_CLIENTS_MAX];
  int n;
  uint64_t seed;
  size_t server_tx_max;       /* largest datagram the server sent */
  int server_deaf;            /* drop every datagram to the server */
} world;

/* Makes a world with |n| clients on links configured by |net| (NULL: a
 * perfect link with 1 ms delay). */
void world_init(world *w, int n, const mc_netem_config *net, uint64_t seed);

/* The same with |mem| (may be NULL) as the server's and clients'
 * allocator. Returns 0, or -1 when mc_server_new or mc_client_new failed
 * (|w| then holds what was made, for world_free). */
int world_init_mem(world *w, int n, const mc_netem_config *net, uint64_t seed,
                   const mc_mem *mem);
void world_free(world *w);

/* Runs the world until |until| (virtual time) or until |done| returns 1. */
void world_run(world *w, mc_tstamp duration, int (*done)(world *, void *),
               void *arg);

/* Connects client |i| (register when |create|) and runs until it is
 * connected or failed; returns 1 when connected. */
int world_connect(world *w, int i, const char *name, int create);

/* The number of events of |type| client |i| has seen. */
size_t world_count(const world *w, int i, mc_client_event_type type);

/* The |k|-th event of |type| of client |i|, or NULL. */
const mc_client_event *world_event(const world *w, int i,
                                   mc_client_event_type type, size_t k);

/* Delivers |len| raw bytes to the server as if from client |i|'s address,
 * then runs the world; returns the server's answers' total size. */
int world_inject(world *w, int i, const uint8_t *data, size_t len);

#endif
