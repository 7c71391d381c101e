/*
 * sim.c: the simulation engine of mychat-sim.
 *
 * One priority queue orders every event of the run by (time, insertion
 * order): datagrams in flight in either direction, the client and server
 * timers (each client has at most one live timer entry; entries made stale
 * by a later deadline are skipped when they come up), and the scenario's
 * actions (log in, send, go offline, come back, change the network, stop).
 * Impairment is decided per datagram with mc_netem_decide() on the sending
 * client's up or down model, so there are no per-link queues.
 *
 * In the virtual mode time jumps from event to event. With --server the
 * loop waits in epoll for the next event's real time or a datagram, and the
 * datagrams leave through a pool of UDP sockets (sim_udp_*).
 *
 * Ground truth: every message text starts with "#<index> ", the index of
 * its record here. A record knows the sender, the target, the send time and
 * how many recipients were owed at that time (the group's members whose
 * join the server had confirmed to them, less the sender; or the one direct
 * recipient). Deliveries are checked against it: owed and first (counted),
 * again (duplicate), older than an earlier one of the same conversation
 * (out of order), or to nobody owed (unexpected).
 */
#include "sim.h"
#include "sim_pool.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "mc_client.h"
#include "mc_heap.h"
#include "mc_map.h"
#include "mc_error.h"
#include "mc_memstore.h"
#include "mc_rng.h"

#define T0 (1 * MC_SEC)                      /* virtual time of the start */
#define WALL_EPOCH_MS 1767225600000LL        /* 2026-01-01T00:00:00Z */
#define RETRY_DELAY (1 * MC_SEC)             /* after a failed login */
#define LOGOUT_GRACE (10 * MC_SEC)           /* for the final logouts */
#define GROUP_MEMBERS_HINT 8
#define SERVER_PORT 8000
#define CLIENT_PORT 40000
#define LOST_SHOWN_MAX 20                    /* lost messages listed */

/* ------------------------------------------------------------------ */
/* data                                                                */

enum {
  EV_UP,        /* datagram client -> server */
  EV_DOWN,      /* datagram server -> client */
  EV_CTIMER,    /* a client's timer */
  EV_STIMER,    /* the server's timer */
  EV_LOGIN,     /* a client (re)connects */
  EV_SEND,      /* a client's next message */
  EV_OFFLINE,   /* a client drops off (arg: mode) */
  EV_ONLINE,    /* a client comes back */
  EV_LOGOUT,    /* a client's final logout, after the drain */
  /* From here on: global events, run between two windows (sim_vloop). */
  EV_NET,       /* network change (arg: index) */
  EV_SEND_END,  /* sending stops; everyone comes back for the drain */
  EV_DRAIN_CHECK, /* during the drain: is everything in? */
  EV_DRAIN_END, /* everyone logs out */
  EV_STOP
};

typedef struct {
  mc_tstamp at;
  uint64_t order;
  uint32_t kind, who, arg, len;
  uint8_t *data;
} sim_ev;

/* A calendar queue of events by (at, order); |order| counts pushes, so
 * events of one instant run in the order they were queued. A ring of
 * Q_SLOTS slots of Q_SLOT_US each holds the events of the next 4 s (nearly
 * all: datagrams, retransmission timers), unsorted until their slot comes
 * up; later ones (keepalives, sends) wait in the core's heap and move into
 * the ring as it advances. With a heap alone its sifting was 15 % of the
 * run, over 20 levels of cache misses at 50,000 clients. */
#define Q_SLOT_US 1000
#define Q_SLOTS 4096

typedef struct {
  sim_ev *v;                 /* [head, n) still queued; freed when empty */
  uint32_t head, n, cap;
  int sorted;                /* [head, n) in (at, order) order */
} sim_slot_q;

typedef struct {
  sim_slot_q *ring;          /* slot k holds the absolute slot number
                                cur + (k - cur % Q_SLOTS) mod Q_SLOTS */
  uint64_t cur;              /* absolute slot number (at / Q_SLOT_US) */
  uint64_t hint;             /* >= cur; slots in [cur, hint) are empty */
  size_t in_ring;
  mc__heap far;              /* of sim_ev: at >= (cur + Q_SLOTS) slots */
  uint64_t order;
} sim_queue;

/* Events made by one lane for the other, in the order they were made;
 * handed over between windows. */
typedef struct {
  sim_ev *v;
  size_t n, cap;
} sim_outbox;

/* The embedded server's lane in the virtual mode: its own queue (datagrams
 * up, its timer), clock and counters, so that it can run on a thread of its
 * own while the clients run on the main one. Only the server's thread
 * touches it during a window; the main thread between windows. */
typedef struct {
  _Alignas(64) sim_queue q; /* its own cache lines, away from the sim's */
  mc_tstamp now;
  mc_tstamp timer_at;        /* the server's live timer entry */
  sim_outbox out;            /* datagrams down made in this window */
  int64_t in_flight;         /* copies made less datagrams taken */
  uint64_t dgrams, events;
  uint64_t *tick_dg;         /* datagrams sent per second */
  size_t n_tick_dg;
  char pad[64];              /* keeps the sim's next fields off its lines */
} sim_lane;

/* A group as the simulator sees it: members in the order they first asked
 * to join, each with the time the join was confirmed to them. */
typedef struct {
  uint32_t client;
  uint64_t joined;           /* serial of the confirmation, or UINT64_MAX */
} sim_member;

typedef struct {
  char name[MC_NAME_MAX + 1];
  sim_member *mem;
  uint32_t n_mem, cap_mem;
  uint32_t n_joined;
} sim_group;

typedef struct {
  uint32_t group;            /* index into sim.groups */
  uint32_t pos;              /* this client's index in the group's members */
  uint32_t request;          /* the pending join/create request, or 0 */
  int state;                 /* 0 not asked, 1 asked, 2 member */
  /* The order checks of the group's deliveries to this client: the latest
   * message id, and by the sender's position in the group the latest
   * message index + 1 (grown to the group's size as senders come; a map
   * keyed by receiver, group and sender took four times the memory, the
   * simulator's largest item at 50,000 clients). */
  uint64_t last_id;
  uint32_t *last_idx;
  uint32_t n_last_idx;
} sim_slot;

typedef struct {
  mc_client *c;
  uint32_t idx;
  char name[MC_NAME_MAX + 1], pw[16];
  mc_rng rng;
  mc_netem up;               /* the down link is in sim.down[idx] */
  int create;                /* next connect registers */
  int want_online;
  int known;                 /* connected once: others may write to it */
  int failed;                /* a handshake of it failed */
  int logging_out;
  mc_tstamp timer_at;
  sim_slot slot[SIM_MEMBERSHIPS_MAX];
  uint32_t n_slot;
  /* The current session's arq counters, already added to the totals. */
  uint64_t sess_first, sess_retrans, sess_taken, sess_dup;
  uint32_t sock;             /* --server: index into the socket pool */
  uint64_t session_id;       /* --server: for demultiplexing replies */
  uint64_t nonce;            /* --server: of the last handshake */
} sim_client;

typedef struct {
  uint32_t sender, target;   /* target: group index or client index */
  uint8_t direct, confirmed, refused;
  mc_tstamp t_send;
  uint64_t serial;
  uint64_t message_id;
  uint32_t owed, got;
  uint8_t *bits;             /* group: one bit per member position */
  uint32_t nbits;
  uint8_t direct_got;
} sim_msg;

/* uint64 -> uint64 (the core's map; keys stored +1, since it keeps 0 for
 * empty slots). */
typedef mc__map sim_map;

typedef struct {
  const sim_config *cfg;
  sim_result *res;
  mc_tstamp now, send_end, drain_end, stop_at;
  int stopping, stop;
  mc_rng rng;                /* scenario decisions */
  mc_rng srv_rng;

  /* The clients' lane (and in the real modes everything): its queue and
   * clock are q and now; datagrams up for the server's lane go to up_out.
   * Global events (EV_NET and after) wait in gq for the main thread. */
  sim_queue q, gq;
  sim_outbox up_out;
  sim_lane srv_lane;
  mc_tstamp lookahead;       /* the least delay any datagram gets */
  /* --threads >= 2: the server's lane runs on |worker| for each window
   * [.., win_end); the barriers start and end a window. */
  pthread_t worker;
  int have_worker, win_quit;
  mc_tstamp win_end;
  pthread_barrier_t win_start, win_done;

  sim_client *cl;
  /* Each client's down link, apart from sim_client: the server's lane
   * writes these while the clients' lane writes the clients, and sharing
   * cache lines between the two threads would cost more than the split. */
  mc_netem *down;
  uint32_t n_cl;
  sim_group *groups;
  uint32_t n_groups;
  sim_msg *msgs;
  size_t n_msgs, cap_msgs;
  sim_map by_cmid;           /* client_msg_id -> msg index */
  /* (client, request id) -> msg index, for refusals. Request ids restart
   * in each session and a resend after a reconnect gets a new one the
   * simulator does not see, so this names the latest message sent with
   * that id: enough to count the (never expected) refusals by kind. */
  sim_map by_req;
  /* Direct conversations' order checks (the groups': sim_slot), by
   * (receiver, sender): the latest message_id, and msg index + 1. */
  sim_map direct_last_id, direct_last_idx;
  int64_t in_flight;         /* the clients' lane: see sim_lane */
  uint32_t online, closed_final;
  uint64_t owed_total, delivered_total;
  /* Deliveries still owed for confirmed messages: the drain ends early
   * when this is 0 and no client holds an unconfirmed message. */
  uint64_t pending;
  /* Orders join confirmations and sends that happen at the same instant:
   * a member is owed a message when its join was confirmed first. */
  uint64_t serial;

  /* What the client cores (cpool) and the server core (spool) allocate
   * with: one pool per lane, so that neither is touched by two threads. */
  sim_pool *cpool, *spool;

  /* Embedded server. */
  mc_memstore *ms;
  mc_store store;
  mc_server *srv;

  /* --server and --embedded-udp. */
  int real;
  int ep;
  int srv_fd;                /* --embedded-udp: the server's socket, or -1 */
  int *socks;
  uint32_t n_socks;
  struct sockaddr_storage srv_sa;
  socklen_t srv_salen;
  uint32_t srv_ip;
  uint16_t srv_port;
  struct timespec wall0;

  sim_pcap *pcap;
  double next_progress;
  int progress;
  uint32_t n_failed;         /* clients with a failed handshake */

  /* Live latencies of the second |win_tick|, summed up into that tick's
   * percentiles when a delivery of a later second comes (or at the end). */
  sim_hist win;
  size_t win_tick;
} sim;

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static mc_tstamp real_now(const sim *s) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t us = (int64_t)(ts.tv_sec - s->wall0.tv_sec) * 1000000 +
               (ts.tv_nsec - s->wall0.tv_nsec) / 1000;
  return T0 + (mc_tstamp)(us < 0 ? 0 : us);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (q == NULL) {
    fprintf(stderr, "mychat-sim: %zu bytes: out of memory\n", n);
    exit(SIM_EXIT_ERROR);
  }
  return q;
}

static void oom(const char *what) {
  fprintf(stderr, "mychat-sim: out of memory (%s)\n", what);
  exit(SIM_EXIT_ERROR);
}

/* Returns a pointer to the value of |key|, inserting 0 if absent. */
static uint64_t *map_at(sim_map *m, uint64_t key) {
  uint64_t *v = mc__map_at(m, key + 1);
  if (v == NULL)
    oom("map");
  return v;
}

static int map_get(const sim_map *m, uint64_t key, uint64_t *val) {
  const uint64_t *v = mc__map_find(m, key + 1);
  if (v == NULL)
    return 0;
  *val = *v;
  return 1;
}

/* ------------------------------------------------------------------ */
/* the event queue                                                     */

/* |order| is unique, so events come out in one order whatever the heap
 * or the sort does with ties. */
static int ev_less(const void *a, const void *b) {
  const sim_ev *x = a, *y = b;
  return x->at < y->at || (x->at == y->at && x->order < y->order);
}

static int ev_cmp(const void *a, const void *b) {
  return ev_less(a, b) ? -1 : ev_less(b, a);
}

static void q_init(sim_queue *q) {
  q->ring = calloc(Q_SLOTS, sizeof *q->ring);
  if (q->ring == NULL)
    oom("event queue");
  mc__heap_init(&q->far, sizeof(sim_ev), ev_less, NULL, NULL);
}

/* Puts |e| into its ring slot. A slot being read (head > 0, sorted) takes
 * it in its place; any other gets it at the end, sorted when read. */
static void slot_add(sim_queue *q, const sim_ev *e) {
  uint64_t abs = e->at / Q_SLOT_US;
  if (abs < q->cur) /* before the slot being read: first in it */
    abs = q->cur;
  sim_slot_q *sl = &q->ring[abs % Q_SLOTS];
  if (sl->n == sl->cap) {
    sl->cap = sl->cap ? sl->cap * 2 : 16;
    sl->v = xrealloc(sl->v, sl->cap * sizeof *sl->v);
  }
  uint32_t at = sl->n++;
  if (sl->sorted && at > sl->head && ev_less(e, &sl->v[at - 1])) {
    if (sl->head == 0) {
      sl->sorted = 0;
    } else {
      uint32_t lo = sl->head, hi = at; /* the first that comes after |e| */
      while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ev_less(e, &sl->v[mid]))
          hi = mid;
        else
          lo = mid + 1;
      }
      memmove(&sl->v[lo + 1], &sl->v[lo], (at - lo) * sizeof *sl->v);
      at = lo;
    }
  }
  sl->v[at] = *e;
  q->in_ring++;
  if (abs < q->hint)
    q->hint = abs;
}

static void q_push(sim_queue *q, sim_ev e) {
  e.order = q->order++;
  if (e.at / Q_SLOT_US < q->cur + Q_SLOTS)
    slot_add(q, &e);
  else if (mc__heap_push(&q->far, &e) < 0)
    oom("event queue");
}

/* The first slot with events, sorted, or NULL when the ring is empty. */
static sim_slot_q *q_first(sim_queue *q) {
  if (q->in_ring == 0)
    return NULL;
  for (;; q->hint++) {
    sim_slot_q *sl = &q->ring[q->hint % Q_SLOTS];
    if (sl->head == sl->n)
      continue;
    if (!sl->sorted) {
      qsort(&sl->v[sl->head], sl->n - sl->head, sizeof *sl->v, ev_cmp);
      sl->sorted = 1;
    }
    return sl;
  }
}

/* The time of the first event of |q|, or MC_TSTAMP_NEVER. */
static mc_tstamp q_head(sim_queue *q) {
  sim_slot_q *sl = q_first(q);
  if (sl != NULL)
    return sl->v[sl->head].at;
  const sim_ev *e = mc__heap_top(&q->far);
  return e ? e->at : MC_TSTAMP_NEVER;
}

/* Moves the ring on to absolute slot |abs| (all before it are empty) and
 * the heap's events that then fall within it into their slots. */
static void q_advance(sim_queue *q, uint64_t abs) {
  sim_slot_q *old = &q->ring[q->cur % Q_SLOTS];
  if (abs == q->cur)
    return;
  free(old->v); /* it stays empty until it comes round again */
  *old = (sim_slot_q){0};
  q->cur = abs;
  if (q->hint < abs)
    q->hint = abs;
  const sim_ev *e;
  while ((e = mc__heap_top(&q->far)) != NULL &&
         e->at / Q_SLOT_US < q->cur + Q_SLOTS) {
    sim_ev m;
    mc__heap_pop(&q->far, &m);
    slot_add(q, &m);
  }
}

/* Takes the first event of |q| into |e| if it comes before |end|.
 * Returns 1, or 0 when there is none before |end|. */
static int q_pop_before(sim_queue *q, mc_tstamp end, sim_ev *e) {
  sim_slot_q *sl = q_first(q);
  if (sl == NULL) {
    const sim_ev *f = mc__heap_top(&q->far);
    if (f == NULL || f->at >= end)
      return 0;
    q_advance(q, f->at / Q_SLOT_US);
    sl = q_first(q);
  }
  if (sl->v[sl->head].at >= end)
    return 0;
  q_advance(q, sl->v[sl->head].at / Q_SLOT_US);
  sl = &q->ring[q->cur % Q_SLOTS]; /* the slot may have moved (realloc) */
  *e = sl->v[sl->head++];
  q->in_ring--;
  return 1;
}

static void q_free(sim_queue *q) {
  for (size_t k = 0; q->ring && k < Q_SLOTS; k++) {
    sim_slot_q *sl = &q->ring[k];
    for (uint32_t i = sl->head; i < sl->n; i++)
      free(sl->v[i].data);
    free(sl->v);
  }
  free(q->ring);
  for (size_t e = 0; e < q->far.n; e++)
    free(((sim_ev *)mc__heap_at(&q->far, e))->data);
  mc__heap_free(&q->far);
}

static void out_add(sim_outbox *o, sim_ev e) {
  if (o->n == o->cap) {
    o->cap = o->cap ? o->cap * 2 : 1024;
    o->v = xrealloc(o->v, o->cap * sizeof *o->v);
  }
  o->v[o->n++] = e;
}

/* Hands the events of |o| to |q| in the order they were made. */
static void out_flush(sim_outbox *o, sim_queue *q) {
  for (size_t i = 0; i < o->n; i++)
    q_push(q, o->v[i]);
  o->n = 0;
}

/* Queues an event that is not a datagram: the server's timer on the
 * server's lane, a global event for the main thread, anything else on the
 * clients' lane. In the real modes one queue holds everything. */
static void ev_push(sim *s, mc_tstamp at, uint32_t kind, uint32_t who,
                    uint32_t arg, uint8_t *data, uint32_t len) {
  sim_ev e = {.at = at, .kind = kind, .who = who, .arg = arg, .len = len,
              .data = data};
  if (s->real)
    q_push(&s->q, e);
  else if (kind == EV_STIMER)
    q_push(&s->srv_lane.q, e);
  else if (kind >= EV_NET)
    q_push(&s->gq, e);
  else
    q_push(&s->q, e);
}

/* The allocator of a lane's cores: its pool, or libc under
 * AddressSanitizer, which must see every block to catch misuse. */
static const mc_mem *lane_mem(sim_pool *p) {
#if defined(__SANITIZE_ADDRESS__)
  (void)p;
  return NULL;
#else
  return sim_pool_mem(p);
#endif
}

/* ------------------------------------------------------------------ */
/* addresses                                                           */

/* Client i is 127.1.(i>>8).(i&255), port 40000 + (i >> 16): real loopback
 * addresses, distinct for every client. */
static uint32_t client_ip(uint32_t i) {
  return (127u << 24) | (1u << 16) | (i & 0xffff);
}

static uint16_t client_port(uint32_t i) {
  return (uint16_t)(CLIENT_PORT + (i >> 16));
}

static void client_addr(uint32_t i, mc_addr *a) {
  uint32_t ip = client_ip(i);
  uint16_t port = client_port(i);
  uint8_t b[6] = {(uint8_t)(ip >> 24), (uint8_t)(ip >> 16),
                  (uint8_t)(ip >> 8),  (uint8_t)ip,
                  (uint8_t)(port >> 8), (uint8_t)port};
  mc_addr_set(a, b, sizeof b);
}

static int addr_client(const sim *s, const mc_addr *a, uint32_t *i) {
  if (a->len != 6)
    return 0;
  uint32_t idx = ((uint32_t)(((a->bytes[4] << 8) | a->bytes[5]) - CLIENT_PORT)
                  << 16) |
                 ((uint32_t)a->bytes[2] << 8) | a->bytes[3];
  if (idx >= s->n_cl)
    return 0;
  *i = idx;
  return 1;
}

/* ------------------------------------------------------------------ */
/* datagrams                                                           */

static mc_tstamp tick_index(mc_tstamp t) {
  return t > T0 ? (t - T0) / MC_SEC : 0;
}

static sim_tick *tick_at(sim *s, mc_tstamp t) {
  size_t i = (size_t)tick_index(t);
  sim_result *r = s->res;
  if (i >= r->n_tick) {
    size_t n = i + 1 + 16;
    r->tick = xrealloc(r->tick, n * sizeof *r->tick);
    memset(r->tick + r->n_tick, 0, (n - r->n_tick) * sizeof *r->tick);
    r->n_tick = n;
  }
  return &r->tick[i];
}

/* Offers a datagram sent at |now| to |model| and queues the copies that
 * survive as events of |kind| for client |who|: into |out| for the other
 * lane (virtual mode), or with |out| NULL straight into the one queue of
 * the real modes. |*in_flight| counts the copies. */
static void impair(sim *s, mc_tstamp now, mc_netem *model, uint32_t kind,
                   uint32_t who, const uint8_t *data, size_t len,
                   sim_outbox *out, int64_t *in_flight) {
  mc_netem_verdict v;
  mc_netem_decide(model, len, now, &v);
  for (int k = 0; k < v.copies; k++) {
    /* A real receiver's UDP checksum drops a damaged datagram; only with
     * --corrupt-undetected does one reach the protocol. */
    if (v.corrupt_bit[k] >= 0 && !s->cfg->corrupt_undetected)
      continue;
    uint8_t *copy = xrealloc(NULL, len);
    memcpy(copy, data, len);
    if (v.corrupt_bit[k] >= 0 && (size_t)v.corrupt_bit[k] < len * 8)
      copy[v.corrupt_bit[k] / 8] ^= (uint8_t)(1u << (v.corrupt_bit[k] % 8));
    sim_ev e = {.at = v.at[k] < now ? now : v.at[k], .kind = kind,
                .who = who, .len = (uint32_t)len, .data = copy};
    if (out)
      out_add(out, e);
    else
      q_push(&s->q, e);
    (*in_flight)++;
  }
}

/* --server: a handshake answer is matched to its client by the nonce the
 * client chose, read back from the client's own Register/Login. */
static void remember_nonce(sim_client *cl, const uint8_t *data, size_t len) {
  mc_peek pk;
  if (mc_codec_peek(data, len, &pk) == 0 &&
      (pk.body == MC_KIND_LOGIN ||
       pk.body == MC_KIND_REGISTER))
    cl->nonce = pk.client_nonce;
}

/* Changes a link's settings mid-run (the scenario's `net at`); the
 * options were checked when the scenario was read. */
static void net_change(mc_netem *n, const mc_netem_config *cfg) {
  if (mc_netem_reconfigure(n, cfg) < 0) {
    fprintf(stderr, "mychat-sim: invalid network settings in `net at`\n");
    exit(SIM_EXIT_ERROR);
  }
}

/* The least delay a datagram can get from |n| (mc_netem.h: reorder skips
 * the delay; jitter takes up to |jitter| off it; a rate limit only adds). */
static mc_tstamp net_lookahead(const mc_netem_config *n) {
  if (n->reorder > 0)
    return 0;
  return n->delay > n->jitter ? n->delay - n->jitter : 0;
}

static void send_up(sim *s, sim_client *cl, const uint8_t *data, size_t len) {
  if (s->real && mc_client_get_state(cl->c) == MC_CLIENT_HANDSHAKE)
    remember_nonce(cl, data, len);
  s->res->dgrams_up++;
  tick_at(s, s->now)->dgrams++;
  if (s->pcap)
    sim_pcap_write(s->pcap, s->now, client_ip(cl->idx), client_port(cl->idx),
                   s->srv_ip, s->srv_port, data, len);
  impair(s, s->now, &cl->up, EV_UP, cl->idx, data, len,
         s->real ? NULL : &s->up_out, &s->in_flight);
}

/* ------------------------------------------------------------------ */
/* clients                                                             */

static void client_random(void *ud, uint8_t *buf, size_t len) {
  mc_rng_bytes(&((sim_client *)ud)->rng, buf, len);
}

static void server_random(void *ud, uint8_t *buf, size_t len) {
  mc_rng_bytes(&((sim *)ud)->srv_rng, buf, len);
}

/* Adds the retransmission counters of the client's current session to the
 * totals; called whenever the session may have changed or ended, because
 * the core frees the session's arq with it. */
static void arq_sample(sim *s, sim_client *cl) {
  const mc_arq *a = mc_client_get_arq(cl->c);
  if (a == NULL)
    return;
  const mc_arq_stats *st = mc_arq_get_stats(a);
  s->res->client_tx_first += st->tx_first - cl->sess_first;
  s->res->client_tx_retrans += st->tx_retrans - cl->sess_retrans;
  s->res->client_rx_taken += st->rx_taken - cl->sess_taken;
  s->res->client_rx_dup += st->rx_dup - cl->sess_dup;
  cl->sess_first = st->tx_first;
  cl->sess_retrans = st->tx_retrans;
  cl->sess_taken = st->rx_taken;
  cl->sess_dup = st->rx_dup;
}

static void arq_reset(sim_client *cl) {
  cl->sess_first = cl->sess_retrans = cl->sess_taken = cl->sess_dup = 0;
}

/* Queues a timer entry for deadline |e| unless the one already queued at
 * |*armed| comes first (it looks again when it fires). The pumps follow the
 * core's drive contract, so |e| is later than |now|. */
static void timer_arm(sim *s, mc_tstamp now, mc_tstamp e, mc_tstamp *armed,
                      uint32_t kind, uint32_t who) {
  if (e == MC_TSTAMP_NEVER)
    return;
  if (*armed > now && *armed <= e)
    return;
  *armed = e;
  ev_push(s, e, kind, who, 0, NULL, 0);
}

static void client_event(sim *s, sim_client *cl, const mc_client_event *ev);

/* Moves everything client |cl| has to do at s->now: timers, datagrams out,
 * events (which may queue more requests), then re-arms its timer. */
static void client_pump(sim *s, sim_client *cl) {
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len;
  mc_client_event ev;
  for (;;) {
    if (mc_client_expiry(cl->c) <= s->now)
      mc_client_handle_expiry(cl->c, s->now);
    arq_sample(s, cl);
    while (mc_client_poll_tx(cl->c, s->now, buf, sizeof buf, &len) == 1) {
      arq_sample(s, cl);
      send_up(s, cl, buf, len);
    }
    int any = 0;
    while (mc_client_poll_event(cl->c, &ev) == 1) {
      any = 1;
      client_event(s, cl, &ev);
    }
    if (!any)
      break;
  }
  timer_arm(s, s->now, mc_client_expiry(cl->c), &cl->timer_at, EV_CTIMER,
            cl->idx);
}

static void client_login(sim *s, sim_client *cl) {
  mc_client_state st = mc_client_get_state(cl->c);
  if (!cl->want_online || st == MC_CLIENT_HANDSHAKE ||
      st == MC_CLIENT_ESTABLISHED)
    return;
  arq_reset(cl);
  if (mc_client_connect(cl->c, cl->name, cl->pw, cl->create, s->now) == 0)
    client_pump(s, cl);
}

static void join_groups(sim *s, sim_client *cl) {
  for (uint32_t k = 0; k < cl->n_slot; k++) {
    sim_slot *sl = &cl->slot[k];
    if (sl->state == 2)
      continue;
    if (sl->state == 0) {
      sim_group *g = &s->groups[sl->group];
      if (g->n_mem == g->cap_mem) {
        g->cap_mem = g->cap_mem ? g->cap_mem * 2 : GROUP_MEMBERS_HINT;
        g->mem = xrealloc(g->mem, g->cap_mem * sizeof *g->mem);
      }
      sl->pos = g->n_mem;
      g->mem[g->n_mem++] = (sim_member){.client = cl->idx,
                                        .joined = UINT64_MAX};
      sl->state = 1;
    }
    mc_client_group(cl->c, MC_KIND_JOIN_GROUP,
                    s->groups[sl->group].name, s->now, &sl->request);
  }
}

static void slot_joined(sim *s, sim_slot *sl) {
  sl->state = 2;
  sl->request = 0;
  sim_group *g = &s->groups[sl->group];
  g->mem[sl->pos].joined = ++s->serial;
  g->n_joined++;
}

static void on_result(sim *s, sim_client *cl, const mc_client_event *ev) {
  if (ev->request_kind == MC_KIND_SEND) {
    /* A refused message: the core forgets it, so it is owed to nobody. */
    uint64_t idx;
    if (map_get(&s->by_req, (uint64_t)cl->idx << 32 | ev->request, &idx) &&
        idx < s->n_msgs && !s->msgs[idx].confirmed && !s->msgs[idx].refused) {
      s->msgs[idx].refused = 1;
      s->res->k[s->msgs[idx].direct ? SIM_K_DIRECT : SIM_K_GROUP].refused++;
    }
    return;
  }
  for (uint32_t k = 0; k < cl->n_slot; k++) {
    sim_slot *sl = &cl->slot[k];
    if (sl->state != 1 || sl->request != ev->request)
      continue;
    const char *g = s->groups[sl->group].name;
    switch (ev->code) {
    case MC_WIRE_OK:
    case MC_WIRE_ALREADY_MEMBER:
      slot_joined(s, sl);
      break;
    case MC_WIRE_NO_SUCH_GROUP: /* first one creates it */
      mc_client_group(cl->c, MC_KIND_CREATE_GROUP, g, s->now,
                      &sl->request);
      break;
    case MC_WIRE_GROUP_EXISTS: /* someone else was first */
      mc_client_group(cl->c, MC_KIND_JOIN_GROUP, g, s->now,
                      &sl->request);
      break;
    default:
      sl->request = 0; /* asked again at the next login */
      break;
    }
    return;
  }
}

static void on_sent(sim *s, const mc_client_event *ev) {
  uint64_t idx;
  if (!map_get(&s->by_cmid, ev->client_msg_id, &idx) || idx >= s->n_msgs)
    return;
  sim_msg *m = &s->msgs[idx];
  if (m->confirmed)
    return;
  m->confirmed = 1;
  m->message_id = ev->message_id;
  s->pending += m->owed > m->got ? m->owed - m->got : 0;
  s->res->k[m->direct ? SIM_K_DIRECT : SIM_K_GROUP].confirmed++;
}

/* Parses "#<index> " at the start of a message text. */
static int text_index(const char *text, size_t n_msgs, size_t *idx) {
  if (text[0] != '#')
    return 0;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text + 1, &end, 10);
  if (errno != 0 || end == text + 1 || *end != ' ' || v >= n_msgs)
    return 0;
  *idx = (size_t)v;
  return 1;
}

static sim_slot *client_slot(sim_client *cl, uint32_t group) {
  for (uint32_t k = 0; k < cl->n_slot; k++)
    if (cl->slot[k].group == group && cl->slot[k].state != 0)
      return &cl->slot[k];
  return NULL;
}

/* Counts an out-of-order delivery of message |idx| (id |id|) when it is
 * older than the conversation's latest by the server's ids (|*last_id|)
 * or by the sender's order (|*last_idx|, index + 1), else moves them on. */
static void order_check(sim_kind *k, uint64_t id, size_t idx,
                        uint64_t *last_id, uint64_t *last_idx) {
  if (id < *last_id)
    k->out_of_order++;
  else
    *last_id = id;
  if (idx + 1 < *last_idx)
    k->out_of_order++;
  else
    *last_idx = idx + 1;
}

/* Stores the latency percentiles of the second the window holds into its
 * tick and empties the window. */
static void lat_window_close(sim *s) {
  if (s->win.n == 0)
    return;
  sim_tick *tk = tick_at(s, T0 + s->win_tick * MC_SEC);
  tk->lat_n = s->win.n;
  tk->p50 = sim_hist_quantile(&s->win, 0.5);
  tk->p95 = sim_hist_quantile(&s->win, 0.95);
  tk->p99 = sim_hist_quantile(&s->win, 0.99);
  tk->max = s->win.max;
  sim_hist_init(&s->win);
}

/* Checks a delivered message against the ground truth. */
static void on_message(sim *s, sim_client *cl, const mc_client_event *ev) {
  size_t idx;
  sim_result *r = s->res;
  if (!text_index(ev->text, s->n_msgs, &idx)) {
    r->k[ev->group[0] ? SIM_K_GROUP : SIM_K_DIRECT].unexpected++;
    return;
  }
  sim_msg *m = &s->msgs[idx];
  sim_kind *k = &r->k[m->direct ? SIM_K_DIRECT : SIM_K_GROUP];
  sim_client *from = &s->cl[m->sender];
  /* The envelope must match the record: sender and group. */
  if (strcmp(ev->name, from->name) != 0 ||
      strcmp(ev->group, m->direct ? "" : s->groups[m->target].name) != 0) {
    k->unexpected++;
    return;
  }
  int owed = 0, again = 0;
  sim_slot *sl = NULL;
  if (m->direct) {
    if (m->target != cl->idx) {
      k->unexpected++;
      return;
    }
    again = m->direct_got;
    m->direct_got = 1;
    owed = 1;
  } else {
    sl = client_slot(cl, m->target);
    if (sl == NULL || cl->idx == m->sender) {
      k->unexpected++;
      return;
    }
    if (sl->pos >= m->nbits) {
      uint32_t nb = s->groups[m->target].n_mem;
      m->bits = xrealloc(m->bits, (nb + 7) / 8);
      memset(m->bits + (m->nbits + 7) / 8, 0, (nb + 7) / 8 - (m->nbits + 7) / 8);
      m->nbits = nb;
    }
    again = (m->bits[sl->pos / 8] >> (sl->pos % 8)) & 1;
    m->bits[sl->pos / 8] |= (uint8_t)(1u << (sl->pos % 8));
    owed = s->groups[m->target].mem[sl->pos].joined < m->serial;
  }
  if (again) {
    k->duplicated++;
    return;
  }
  /* Order within the conversation: by the server's message ids, and by
   * the sender's own order. */
  if (m->direct) {
    uint64_t key = (uint64_t)cl->idx << 32 | m->sender;
    order_check(k, ev->message_id, idx, map_at(&s->direct_last_id, key),
                map_at(&s->direct_last_idx, key));
  } else {
    uint32_t pos = client_slot(from, m->target)->pos;
    if (pos >= sl->n_last_idx) {
      uint32_t n = s->groups[m->target].n_mem;
      sl->last_idx = xrealloc(sl->last_idx, n * sizeof *sl->last_idx);
      memset(sl->last_idx + sl->n_last_idx, 0,
             (n - sl->n_last_idx) * sizeof *sl->last_idx);
      sl->n_last_idx = n;
    }
    uint64_t last_idx = sl->last_idx[pos];
    order_check(k, ev->message_id, idx, &sl->last_id, &last_idx);
    sl->last_idx[pos] = (uint32_t)last_idx; /* n_msgs < UINT32_MAX */
  }
  if (ev->missed)
    k->backlog++;
  if (!owed) {
    k->extra++;
    return;
  }
  k->delivered++;
  m->got++;
  if (m->confirmed && s->pending > 0)
    s->pending--;
  s->delivered_total++;
  tick_at(s, s->now)->delivered++;
  mc_tstamp lat = s->now - m->t_send;
  sim_hist_add(ev->missed ? &r->lat_backlog : &r->lat_live, lat);
  if (!ev->missed) {
    size_t t = (size_t)tick_index(s->now);
    if (t != s->win_tick)
      lat_window_close(s);
    s->win_tick = t;
    sim_hist_add(&s->win, lat);
  }
}

static void client_event(sim *s, sim_client *cl, const mc_client_event *ev) {
  sim_result *r = s->res;
  switch (ev->type) {
  case MC_CEV_CONNECTED:
    r->connects++;
    cl->create = 0;
    cl->known = 1;
    cl->logging_out = 0;
    s->online++;
    arq_reset(cl);
    join_groups(s, cl);
    if (!cl->want_online) /* it went offline while connecting */
      mc_client_logout(cl->c, s->now);
    break;
  case MC_CEV_CONNECT_FAILED:
    r->connect_failures++;
    if (!cl->failed) {
      cl->failed = 1;
      s->n_failed++;
    }
    r->last_connect_code = ev->code;
    if (ev->code == MC_WIRE_RATE_LIMITED)
      r->connect_rate_limited++;
    if (r->connects == 0 && s->n_failed == s->n_cl) {
      /* Every client tried and none got in: the server is not there (or
       * the network lets nothing through). Waiting longer shows nothing. */
      r->stopped_no_connect = 1;
      s->stop = 1;
    }
    if (ev->code == MC_WIRE_NAME_TAKEN)
      cl->create = 0;
    if (cl->want_online)
      ev_push(s, s->now + RETRY_DELAY + mc_rng_below(&cl->rng, MC_SEC),
              EV_LOGIN, cl->idx, 0, NULL, 0);
    break;
  case MC_CEV_CLOSED:
    s->online--;
    arq_reset(cl);
    if (ev->code == 0 && ev->lib_error == 0) {
      r->logouts++;
    } else {
      r->sessions_lost++;
    }
    cl->logging_out = 0;
    if (s->stopping)
      s->closed_final++;
    else if (cl->want_online)
      ev_push(s, s->now + RETRY_DELAY / 2, EV_LOGIN, cl->idx, 0, NULL, 0);
    break;
  case MC_CEV_RESULT:
    on_result(s, cl, ev);
    break;
  case MC_CEV_SENT:
    on_sent(s, ev);
    break;
  case MC_CEV_MESSAGE:
    on_message(s, cl, ev);
    break;
  case MC_CEV_DELIVERED:
    r->receipts++;
    break;
  case MC_CEV_PRESENCE:
    r->presence++;
    break;
  case MC_CEV_LIST:
  case MC_CEV_BACKLOG_DONE:
    break;
  }
}

/* The phase running at |t|, or NULL after the last. */
static const sim_phase *phase_at(const sim *s, mc_tstamp t, mc_tstamp *end) {
  mc_tstamp start = T0;
  for (int i = 0; i < s->cfg->n_phase; i++) {
    const sim_phase *p = &s->cfg->phase[i];
    if (t < start + p->len) {
      *end = start + p->len;
      return p;
    }
    start += p->len;
  }
  return NULL;
}

static void schedule_send(sim *s, sim_client *cl) {
  mc_tstamp t = s->now, end;
  for (;;) {
    const sim_phase *p = phase_at(s, t, &end);
    if (p == NULL)
      return;
    if (p->rate > 0) {
      double u = mc_rng_uniform(&cl->rng);
      double gap = -log(1.0 - u) / p->rate * (double)MC_SEC;
      if (t + (mc_tstamp)gap < end) {
        ev_push(s, t + (mc_tstamp)gap + 1, EV_SEND, cl->idx, 0, NULL, 0);
        return;
      }
    }
    t = end; /* memoryless: start afresh in the next phase */
  }
}

static void client_send(sim *s, sim_client *cl) {
  mc_tstamp end;
  const sim_phase *p = phase_at(s, s->now, &end);
  schedule_send(s, cl);
  if (p == NULL)
    return;
  if (mc_client_get_state(cl->c) != MC_CLIENT_ESTABLISHED || cl->logging_out ||
      !cl->want_online) {
    s->res->skipped_sends++;
    return;
  }
  int direct = mc_rng_uniform(&cl->rng) < p->direct;
  uint32_t target = 0, owed = 1;
  if (direct) {
    int found = 0;
    for (int tries = 0; tries < 8 && !found; tries++) {
      target = (uint32_t)mc_rng_below(&cl->rng, s->n_cl);
      found = target != cl->idx && s->cl[target].known;
    }
    if (!found) {
      s->res->skipped_sends++;
      return;
    }
  } else {
    uint32_t cand[SIM_MEMBERSHIPS_MAX], n = 0;
    for (uint32_t k = 0; k < cl->n_slot; k++)
      if (cl->slot[k].state == 2)
        cand[n++] = cl->slot[k].group;
    if (n == 0) {
      s->res->skipped_sends++;
      return;
    }
    target = cand[mc_rng_below(&cl->rng, n)];
    owed = s->groups[target].n_joined - 1;
  }
  char text[MC_TEXT_MAX + 1];
  int tl = snprintf(text, sizeof text, "#%zu from %s ", s->n_msgs, cl->name);
  size_t want = s->cfg->text_len < sizeof text - 1 ? s->cfg->text_len
                                                   : sizeof text - 1;
  for (size_t i = (size_t)tl; i < want; i++)
    text[i] = (char)('a' + (i % 26));
  if ((size_t)tl < want)
    text[want] = '\0';
  uint64_t cmid;
  uint32_t request;
  const char *to = direct ? s->cl[target].name : s->groups[target].name;
  int rv = mc_client_send_text(cl->c, direct ? to : NULL, direct ? NULL : to,
                               text, s->now, &request, &cmid);
  if (rv < 0) {
    /* The core refused (a full queue): worth seeing, not a guarantee. */
    s->res->send_errors++;
    s->res->last_send_error = rv;
    return;
  }
  if (s->n_msgs == s->cap_msgs) {
    if (s->cap_msgs > UINT32_MAX / 4)
      oom("message records"); /* the order checks keep 32-bit indices */
    s->cap_msgs = s->cap_msgs ? s->cap_msgs * 2 : 4096;
    s->msgs = xrealloc(s->msgs, s->cap_msgs * sizeof *s->msgs);
  }
  s->msgs[s->n_msgs] = (sim_msg){.sender = cl->idx, .target = target,
                                 .direct = (uint8_t)direct,
                                 .t_send = s->now, .serial = ++s->serial,
                                 .owed = owed};
  *map_at(&s->by_cmid, cmid) = s->n_msgs;
  *map_at(&s->by_req, (uint64_t)cl->idx << 32 | request) = s->n_msgs;
  s->n_msgs++;
  s->res->k[direct ? SIM_K_DIRECT : SIM_K_GROUP].sent++;
  s->owed_total += owed;
  sim_tick *tk = tick_at(s, s->now);
  tk->sent++;
  tk->owed += owed;
  client_pump(s, cl);
}

static void client_offline(sim *s, sim_client *cl, sim_off_mode mode) {
  if (s->now >= s->send_end || !cl->want_online)
    return;
  cl->want_online = 0;
  if (mode == SIM_OFF_MIX)
    mode = mc_rng_below(&cl->rng, 2) ? SIM_OFF_LOGOUT : SIM_OFF_ABANDON;
  mc_client_state st = mc_client_get_state(cl->c);
  if (st == MC_CLIENT_ESTABLISHED && mode == SIM_OFF_LOGOUT) {
    if (mc_client_logout(cl->c, s->now) == 0) {
      cl->logging_out = 1;
      client_pump(s, cl);
    }
    return;
  }
  if (st == MC_CLIENT_ESTABLISHED || st == MC_CLIENT_HANDSHAKE) {
    arq_sample(s, cl);
    if (st == MC_CLIENT_ESTABLISHED)
      s->online--;
    mc_client_abandon(cl->c);
    arq_reset(cl);
    s->res->abandons++;
  }
}

static void client_online(sim *s, sim_client *cl) {
  if (cl->want_online)
    return;
  cl->want_online = 1;
  client_login(s, cl);
}

/* ------------------------------------------------------------------ */
/* the embedded server                                                 */

/* Counts a datagram the server sent at |ln->now| in its lane's series. */
static void lane_count_dgram(sim_lane *ln) {
  size_t i = (size_t)tick_index(ln->now);
  if (i >= ln->n_tick_dg) {
    size_t n = i + 1 + 16;
    ln->tick_dg = xrealloc(ln->tick_dg, n * sizeof *ln->tick_dg);
    memset(ln->tick_dg + ln->n_tick_dg, 0,
           (n - ln->n_tick_dg) * sizeof *ln->tick_dg);
    ln->n_tick_dg = n;
  }
  ln->tick_dg[i]++;
  ln->dgrams++;
}

/* Moves everything the server has to do at ln->now. It runs on the
 * server's lane and touches nothing of the clients' but their down links
 * (which only this lane uses). */
static void server_pump(sim *s, sim_lane *ln) {
  mc_auth_job job;
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len;
  mc_addr to;
  uint32_t i;
  if (mc_server_expiry(s->srv) <= ln->now)
    mc_server_handle_expiry(s->srv, ln->now);
  while (mc_server_poll_auth(s->srv, &job) == 1) {
    mc_auth_job_run(&job);
    mc_server_auth_done(s->srv, &job, ln->now);
  }
  while (mc_server_poll_tx(s->srv, ln->now, &to, buf, sizeof buf, &len) ==
         1) {
    if (s->srv_fd >= 0) {
      /* --embedded-udp: the address is the client socket's sockaddr. */
      struct sockaddr_in sin;
      if (to.len == sizeof sin) {
        memcpy(&sin, to.bytes, sizeof sin);
        sendto(s->srv_fd, buf, len, 0, (struct sockaddr *)&sin, sizeof sin);
      }
      continue;
    }
    lane_count_dgram(ln);
    if (addr_client(s, &to, &i))
      impair(s, ln->now, &s->down[i], EV_DOWN, i, buf, len, &ln->out,
             &ln->in_flight);
  }
  timer_arm(s, ln->now, mc_server_expiry(s->srv), &s->srv_lane.timer_at,
            EV_STIMER, 0);
}

/* ------------------------------------------------------------------ */
/* --server: real UDP                                                  */

/* --embedded-udp: the in-process server gets a socket of its own on
 * 127.0.0.1 (any free port) and the clients talk to it like to any other. */
static int udp_server_socket(sim *s) {
  s->srv_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->srv_fd < 0) {
    perror("mychat-sim: socket");
    return -1;
  }
  struct sockaddr_in me = {.sin_family = AF_INET};
  me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof me;
  int sz = 16 << 20;
  setsockopt(s->srv_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  if (bind(s->srv_fd, (struct sockaddr *)&me, sizeof me) < 0 ||
      getsockname(s->srv_fd, (struct sockaddr *)&me, &len) < 0) {
    fprintf(stderr, "mychat-sim: bind(127.0.0.1:0): %s\n", strerror(errno));
    return -1;
  }
  memcpy(&s->srv_sa, &me, sizeof me);
  s->srv_salen = sizeof me;
  return 0;
}

static int server_address(sim *s) {
  const char *hp = s->cfg->server;
  const char *colon = strrchr(hp, ':');
  if (colon == NULL || colon == hp) {
    fprintf(stderr, "mychat-sim: --server %s: expected HOST:PORT\n", hp);
    return -1;
  }
  char host[256];
  snprintf(host, sizeof host, "%.*s", (int)(colon - hp), hp);
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};
  struct addrinfo *ai;
  int rv = getaddrinfo(host, colon + 1, &hints, &ai);
  if (rv != 0) {
    fprintf(stderr, "mychat-sim: --server %s: %s\n", hp, gai_strerror(rv));
    return -1;
  }
  memcpy(&s->srv_sa, ai->ai_addr, ai->ai_addrlen);
  s->srv_salen = ai->ai_addrlen;
  freeaddrinfo(ai);
  return 0;
}

static int udp_setup(sim *s) {
  if ((s->srv ? udp_server_socket(s) : server_address(s)) < 0)
    return -1;
  const struct sockaddr_in *sin = (const struct sockaddr_in *)&s->srv_sa;
  s->srv_ip = ntohl(sin->sin_addr.s_addr);
  s->srv_port = ntohs(sin->sin_port);
  int loopback = (s->srv_ip >> 24) == 127;

  s->n_socks = s->cfg->sockets ? s->cfg->sockets : 128;
  if (s->n_socks > s->n_cl)
    s->n_socks = s->n_cl;
  s->socks = xrealloc(NULL, s->n_socks * sizeof *s->socks);
  s->ep = epoll_create1(EPOLL_CLOEXEC);
  if (s->ep < 0) {
    perror("mychat-sim: epoll_create1");
    return -1;
  }
  for (uint32_t k = 0; k < s->n_socks; k++) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      perror("mychat-sim: socket");
      return -1;
    }
    /* On loopback each socket gets its own source address (all of
     * 127.0.0.0/8 is local on Linux), so per-address login limits of the
     * server see a few clients per address rather than all of them. */
    struct sockaddr_in me = {.sin_family = AF_INET};
    me.sin_addr.s_addr = htonl(loopback ? client_ip(k) : INADDR_ANY);
    if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0) {
      char a[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &me.sin_addr, a, sizeof a);
      fprintf(stderr, "mychat-sim: bind(%s:0): %s\n", a, strerror(errno));
      close(fd);
      return -1;
    }
    int sz = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    struct epoll_event ee = {.events = EPOLLIN, .data.u32 = k};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ee) < 0) {
      perror("mychat-sim: epoll_ctl");
      close(fd);
      return -1;
    }
    s->socks[k] = fd;
  }
  for (uint32_t i = 0; i < s->n_cl; i++)
    s->cl[i].sock = i % s->n_socks;
  if (s->srv_fd >= 0) {
    struct epoll_event ee = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->srv_fd, &ee) < 0) {
      perror("mychat-sim: epoll_ctl");
      return -1;
    }
  }
  return 0;
}

/* --embedded-udp: datagrams for the in-process server. */
static void udp_server_read(sim *s) {
  uint8_t buf[2048];
  for (int burst = 0; burst < 1024; burst++) {
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t r = recvfrom(s->srv_fd, buf, sizeof buf, 0,
                         (struct sockaddr *)&from, &fl);
    if (r < 0)
      return;
    mc_addr a;
    mc_addr_set(&a, &from, sizeof from);
    s->srv_lane.now = s->now;
    mc_server_recv(s->srv, &a, buf, (size_t)r, s->now);
    server_pump(s, &s->srv_lane);
  }
}

static void udp_send(sim *s, uint32_t who, const uint8_t *data, size_t len) {
  int fd = s->socks[s->cl[who].sock];
  if (sendto(fd, data, len, 0, (struct sockaddr *)&s->srv_sa, s->srv_salen) <
          0 &&
      errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED)
    fprintf(stderr, "mychat-sim: sendto(%s): %s\n", s->cfg->server,
            strerror(errno));
}

/* Finds the client a reply on socket |k| is for: inside a session by its
 * session id; a handshake answer (Welcome or Error) by the client nonce the
 * client put in its Register/Login (see remember_nonce). The datagram then
 * goes through the client's down-link impairment like any other. */
static void udp_demux(sim *s, uint32_t k, const uint8_t *data, size_t len) {
  mc_peek pk;
  if (mc_codec_peek(data, len, &pk) < 0)
    return;
  uint64_t sid = pk.session_id, nonce = 0, welcome_sid = 0;
  if (pk.body == MC_KIND_WELCOME) {
    nonce = pk.client_nonce;
    welcome_sid = pk.welcome_session_id;
  } else if (pk.body == MC_KIND_ERROR) {
    nonce = pk.client_nonce;
  }
  for (uint32_t i = k; i < s->n_cl; i += s->n_socks) {
    sim_client *cl = &s->cl[i];
    int mine = nonce != 0 ? cl->nonce == nonce
                          : sid != 0 && cl->session_id == sid;
    if (!mine)
      continue;
    if (welcome_sid)
      cl->session_id = welcome_sid;
    impair(s, s->now, &s->down[i], EV_DOWN, i, data, len, NULL,
           &s->in_flight);
    return;
  }
}

static void udp_read(sim *s, int timeout_ms) {
  struct epoll_event evs[64];
  int n = epoll_wait(s->ep, evs, 64, timeout_ms);
  s->now = real_now(s);
  uint8_t buf[2048];
  for (int e = 0; e < n; e++) {
    uint32_t k = evs[e].data.u32;
    if (k == UINT32_MAX) {
      udp_server_read(s);
      continue;
    }
    for (int burst = 0; burst < 256; burst++) {
      ssize_t r = recv(s->socks[k], buf, sizeof buf, 0);
      if (r < 0)
        break;
      s->res->dgrams_down++;
      tick_at(s, s->now)->dgrams++;
      if ((size_t)r <= MC_DATAGRAM_MAX)
        udp_demux(s, k, buf, (size_t)r);
    }
  }
}

/* ------------------------------------------------------------------ */
/* setup                                                               */

static int setup(sim *s, const sim_config *cfg, sim_result *res) {
  memset(s, 0, sizeof *s);
  sim_queue *qs[] = {&s->q, &s->gq, &s->srv_lane.q};
  for (size_t k = 0; k < sizeof qs / sizeof *qs; k++)
    q_init(qs[k]);
  memset(res, 0, sizeof *res);
  sim_hist_init(&res->lat_live);
  sim_hist_init(&res->lat_backlog);
  sim_hist_init(&s->win);
  s->cfg = cfg;
  s->res = res;
  s->now = T0;
  s->real = cfg->server != NULL || cfg->embedded_udp;
  s->srv_fd = -1;
  s->ep = -1;
  s->srv_ip = (127u << 24) | 1;
  s->srv_port = SERVER_PORT;
  mc_rng_seed(&s->rng, cfg->seed);
  mc_rng_seed(&s->srv_rng, cfg->seed ^ 0x5e7e7ULL);
  s->send_end = T0 + sim_send_period(cfg);
  s->drain_end = s->send_end + cfg->drain;
  s->stop_at = MC_TSTAMP_NEVER;
  s->srv_lane.timer_at = MC_TSTAMP_NEVER;
  s->srv_lane.now = T0;
  s->lookahead = net_lookahead(&cfg->net);
  for (int c = 0; c < cfg->n_chg; c++)
    if (net_lookahead(&cfg->chg[c].net) < s->lookahead)
      s->lookahead = net_lookahead(&cfg->chg[c].net);
  res->send_end = s->send_end - T0;
  res->embedded = cfg->server == NULL;

  s->n_groups = cfg->groups ? cfg->groups : (cfg->clients + 49) / 50;
  res->groups = s->n_groups;
  s->groups = calloc(s->n_groups, sizeof *s->groups);
  s->n_cl = cfg->clients;
  s->cl = calloc(s->n_cl, sizeof *s->cl);
  s->down = calloc(s->n_cl, sizeof *s->down);
  s->cpool = sim_pool_new();
  s->spool = sim_pool_new();
  if (s->groups == NULL || s->cl == NULL || s->down == NULL ||
      s->cpool == NULL || s->spool == NULL) {
    fprintf(stderr, "mychat-sim: %u clients: out of memory\n", s->n_cl);
    return -1;
  }
  for (uint32_t g = 0; g < s->n_groups; g++)
    snprintf(s->groups[g].name, sizeof s->groups[g].name, "%sg%u", cfg->names, g);

  mc_client_config ccfg;
  mc_client_config_default(&ccfg);
  ccfg.presence = 1;
  ccfg.connect_timeout_ms = cfg->connect_timeout / MC_MSEC > UINT32_MAX
                                ? UINT32_MAX
                                : (uint32_t)(cfg->connect_timeout / MC_MSEC);
  uint32_t memberships = cfg->memberships < s->n_groups ? cfg->memberships
                                                        : s->n_groups;
  for (uint32_t i = 0; i < s->n_cl; i++) {
    sim_client *cl = &s->cl[i];
    cl->idx = i;
    snprintf(cl->name, sizeof cl->name, "%su%u", cfg->names, i);
    snprintf(cl->pw, sizeof cl->pw, "pass%u", i);
    mc_rng_seed(&cl->rng, mc_rng_next(&s->rng));
    mc_client_callbacks cb = {.user_data = cl, .random = client_random,
                              .mem = lane_mem(s->cpool)};
    cl->c = mc_client_new(&ccfg, &cb);
    if (cl->c == NULL) {
      fprintf(stderr, "mychat-sim: client %u: out of memory\n", i);
      return -1;
    }
    if (mc_netem_init(&cl->up, &cfg->net, mc_rng_next(&cl->rng)) < 0 ||
        mc_netem_init(&s->down[i], &cfg->net, mc_rng_next(&cl->rng)) < 0) {
      fprintf(stderr, "mychat-sim: network settings: invalid\n");
      return -1;
    }
    cl->create = 1;
    cl->timer_at = MC_TSTAMP_NEVER;
    /* Distinct groups: a random start and stride through the groups. */
    uint32_t first = (uint32_t)mc_rng_below(&s->rng, s->n_groups);
    for (uint32_t k = 0; k < memberships; k++)
      cl->slot[cl->n_slot++].group = (first + k) % s->n_groups;
  }

  if (cfg->server == NULL) {
    s->ms = mc_memstore_new();
    if (s->ms == NULL) {
      fprintf(stderr, "mychat-sim: embedded store: out of memory\n");
      return -1;
    }
    mc_memstore_as_store(s->ms, &s->store);
    mc_server_config scfg;
    mc_server_config_default(&scfg);
    scfg.auth_cost = MC_AUTH_COST_MIN;
    scfg.wall_offset_ms = WALL_EPOCH_MS;
    scfg.max_sessions = s->n_cl + 1024;
    /* Over UDP the clients share the pool's source addresses; the login
     * limit per address must let all of a socket's clients in at once. */
    if (cfg->embedded_udp)
      scfg.rate_burst += s->n_cl / (cfg->sockets ? cfg->sockets : 1) + 1;
    /* The clients are no flood: each registers once, all within the ramp.
     * Under the default hourly limits of MC-137 (20 per address) an
     * address's registration bucket stays short of full for minutes, the
     * server's rate table keeps every bucket that is not full (MC-52), and
     * 10,000 registrations filled it: logins were refused as rate limited
     * (20 % of 10,000 clients never got in). At 2 x clients per hour a
     * bucket is full again within a few seconds. */
    scfg.reg_per_hour = scfg.reg_per_hour_prefix = 2 * s->n_cl + 16;
    /* The same table holds the login buckets: each login from a new
     * address leaves two of them (its host's, its name's) short of full
     * for one refill, 2 s by default, and 16,384 buckets in sets of 8 then
     * take about 2,000 logins/s before sets fill and logins are refused
     * (10,000 in 5 s: 9 % failed, 50,000 in 25 s: over 10 %). Refilled
     * every 10 ms (as the conformance runs' servers are) the table holds
     * a few dozen such buckets at any ramp; the burst still applies. */
    scfg.rate_refill_ms = 10;
    mc_server_callbacks scb = {.user_data = s, .random = server_random,
                               .mem = lane_mem(s->spool)};
    s->srv = mc_server_new(&scfg, &s->store, &scb);
    if (s->srv == NULL) {
      fprintf(stderr, "mychat-sim: embedded server: out of memory\n");
      return -1;
    }
  }
  if (s->real) {
    clock_gettime(CLOCK_MONOTONIC, &s->wall0);
    if (udp_setup(s) < 0)
      return -1;
  }
  if (cfg->pcap) {
    s->pcap = sim_pcap_open(cfg->pcap);
    if (s->pcap == NULL)
      return -1;
  }

  /* The scenario: logins spread over the ramp, everyone's first message
   * scheduled from its login, offline periods, network changes. */
  for (uint32_t i = 0; i < s->n_cl; i++) {
    mc_tstamp at = T0 + (s->n_cl > 1 ? cfg->ramp * i / s->n_cl : 0);
    s->cl[i].want_online = 1;
    ev_push(s, at, EV_LOGIN, i, 0, NULL, 0);
    ev_push(s, at, EV_SEND, i, 1, NULL, 0);
  }
  for (int o = 0; o < cfg->n_off; o++) {
    const sim_offline *off = &cfg->off[o];
    for (uint32_t i = 0; i < s->n_cl; i++) {
      if (mc_rng_uniform(&s->rng) >= off->share)
        continue;
      mc_tstamp at = T0 + off->at;
      if (off->random_at) {
        mc_tstamp lo = T0 + cfg->ramp, hi = s->send_end;
        hi = hi > lo + off->len ? hi - off->len : lo + 1;
        at = lo + mc_rng_below(&s->rng, hi - lo);
      }
      ev_push(s, at, EV_OFFLINE, i, off->mode, NULL, 0);
      ev_push(s, at + off->len, EV_ONLINE, i, 0, NULL, 0);
    }
  }
  for (int c = 0; c < cfg->n_chg; c++)
    ev_push(s, T0 + cfg->chg[c].at, EV_NET, 0, (uint32_t)c, NULL, 0);
  ev_push(s, s->send_end, EV_SEND_END, 0, 0, NULL, 0);
  ev_push(s, s->drain_end, EV_DRAIN_END, 0, 0, NULL, 0);
  return 0;
}

static void teardown(sim *s) {
  for (uint32_t i = 0; i < s->n_cl; i++) {
    mc_client_del(s->cl[i].c);
    for (uint32_t k = 0; k < s->cl[i].n_slot; k++)
      free(s->cl[i].slot[k].last_idx);
  }
  free(s->cl);
  free(s->down);
  for (uint32_t g = 0; g < s->n_groups; g++)
    free(s->groups[g].mem);
  free(s->groups);
  for (size_t m = 0; m < s->n_msgs; m++)
    free(s->msgs[m].bits);
  free(s->msgs);
  q_free(&s->q);
  q_free(&s->gq);
  q_free(&s->srv_lane.q);
  sim_outbox *ob[] = {&s->up_out, &s->srv_lane.out};
  for (size_t o = 0; o < sizeof ob / sizeof *ob; o++) {
    for (size_t e = 0; e < ob[o]->n; e++)
      free(ob[o]->v[e].data);
    free(ob[o]->v);
  }
  free(s->srv_lane.tick_dg);
  mc__map_free(&s->by_cmid);
  mc__map_free(&s->by_req);
  mc__map_free(&s->direct_last_id);
  mc__map_free(&s->direct_last_idx);
  if (s->srv)
    mc_server_del(s->srv);
  if (s->ms)
    mc_memstore_del(s->ms);
  if (s->socks) {
    for (uint32_t k = 0; k < s->n_socks; k++)
      close(s->socks[k]);
    free(s->socks);
  }
  if (s->ep >= 0)
    close(s->ep);
  if (s->srv_fd >= 0)
    close(s->srv_fd);
  if (s->pcap)
    sim_pcap_close(s->pcap);
  sim_pool_del(s->cpool);
  sim_pool_del(s->spool);
}

/* ------------------------------------------------------------------ */
/* the loop                                                            */

static void progress(sim *s, int final) {
  double w = wall_now();
  if (!final && w < s->next_progress)
    return;
  s->next_progress = w + 0.2;
  uint64_t sent = 0;
  for (int k = 0; k < SIM_K_N; k++)
    sent += s->res->k[k].sent;
  double pct = s->owed_total ? 100.0 * (double)s->delivered_total /
                                   (double)s->owed_total
                             : 100.0;
  /* The stage, and the time out of the planned length: sending, then the
   * drain at its longest (it ends as soon as everything owed arrived). */
  const char *stage = s->now < s->send_end ? "sending"
                      : !s->stopping      ? "drain"
                                          : "logout";
  fprintf(stderr,
          "\r%-7s %5.1fs/%.0fs  clients %u/%u up  sent %" PRIu64
          "  delivered %" PRIu64 " (%.1f%%)  datagrams %" PRIu64 "   %s",
          stage, (double)(s->now - T0) / 1e6,
          (double)(s->drain_end - T0) / 1e6, s->online, s->n_cl, sent,
          s->delivered_total, pct, s->res->dgrams_up + s->res->dgrams_down,
          final ? "\n" : "");
  fflush(stderr);
}

/* Everything owed has arrived, every message is confirmed and every
 * client is online: the drain has nothing left to wait for. */
static int drained(const sim *s) {
  if (s->pending > 0)
    return 0;
  for (uint32_t i = 0; i < s->n_cl; i++)
    if (mc_client_unconfirmed(s->cl[i].c) > 0 ||
        mc_client_get_state(s->cl[i].c) != MC_CLIENT_ESTABLISHED)
      return 0;
  return 1;
}

/* An event of the server's lane: a datagram up, or the server's timer. */
static void server_dispatch(sim *s, sim_lane *ln, const sim_ev *e) {
  if (e->kind == EV_UP) {
    ln->in_flight--;
    mc_addr from;
    client_addr(e->who, &from);
    mc_server_recv(s->srv, &from, e->data, e->len, ln->now);
  } else {
    if (e->at != s->srv_lane.timer_at)
      return; /* superseded */
    s->srv_lane.timer_at = MC_TSTAMP_NEVER; /* server_pump runs it */
  }
  server_pump(s, ln);
}

/* An event of the clients' lane, a global one, or in the real modes any. */
static void dispatch(sim *s, sim_ev *e) {
  sim_client *cl = e->kind == EV_NET || e->kind == EV_STIMER ||
                           e->kind >= EV_SEND_END
                       ? NULL
                       : &s->cl[e->who];
  switch (e->kind) {
  case EV_UP: /* the real modes; the virtual one: server_dispatch */
    s->in_flight--;
    udp_send(s, e->who, e->data, e->len);
    break;
  case EV_DOWN:
    s->in_flight--;
    if (s->pcap)
      sim_pcap_write(s->pcap, s->now, s->srv_ip, s->srv_port,
                     client_ip(e->who), client_port(e->who), e->data, e->len);
    if (mc_client_recv(cl->c, e->data, e->len, s->now) == 0)
      client_pump(s, cl);
    break;
  case EV_CTIMER:
    if (e->at != cl->timer_at)
      break; /* superseded */
    cl->timer_at = MC_TSTAMP_NEVER;
    client_pump(s, cl);
    break;
  case EV_STIMER: /* --embedded-udp */
    s->srv_lane.now = s->now;
    server_dispatch(s, &s->srv_lane, e);
    break;
  case EV_LOGIN:
    client_login(s, cl);
    break;
  case EV_SEND:
    client_send(s, cl);
    break;
  case EV_OFFLINE:
    client_offline(s, cl, (sim_off_mode)e->arg);
    break;
  case EV_ONLINE:
    client_online(s, cl);
    break;
  case EV_LOGOUT:
    /* Unless its session ended on its own since (CLOSED counted it). */
    if (mc_client_get_state(cl->c) == MC_CLIENT_ESTABLISHED &&
        !cl->logging_out && mc_client_logout(cl->c, s->now) == 0) {
      cl->logging_out = 1;
      client_pump(s, cl);
    }
    break;
  case EV_NET:
    for (uint32_t i = 0; i < s->n_cl; i++) {
      net_change(&s->cl[i].up, &s->cfg->chg[e->arg].net);
      net_change(&s->down[i], &s->cfg->chg[e->arg].net);
    }
    break;
  case EV_SEND_END:
    /* The drain: everyone online, so everything owed can arrive. */
    for (uint32_t i = 0; i < s->n_cl; i++)
      client_online(s, &s->cl[i]);
    ev_push(s, s->now + MC_SEC, EV_DRAIN_CHECK, 0, 0, NULL, 0);
    break;
  case EV_DRAIN_CHECK:
    if (s->stopping)
      break;
    if (drained(s)) {
      ev_push(s, s->now, EV_DRAIN_END, 0, 0, NULL, 0);
      break;
    }
    ev_push(s, s->now + MC_SEC, EV_DRAIN_CHECK, 0, 0, NULL, 0);
    break;
  case EV_DRAIN_END:
    if (s->stopping)
      break;
    s->stopping = 1;
    s->res->drain = s->now - s->send_end;
    s->res->drain_cut = !drained(s);
    s->stop_at = s->now + LOGOUT_GRACE;
    ev_push(s, s->stop_at, EV_STOP, 0, 0, NULL, 0);
    /* The logouts are spread like the logins: all at one instant, every
     * client's logout would push Presence to all its peers at once, and
     * those bodies, queued and in flight together, made the run's peak
     * memory. */
    mc_tstamp spread = s->cfg->ramp < LOGOUT_GRACE / 2 ? s->cfg->ramp
                                                       : LOGOUT_GRACE / 2;
    for (uint32_t i = 0; i < s->n_cl; i++) {
      sim_client *c = &s->cl[i];
      c->want_online = 0;
      if (mc_client_get_state(c->c) == MC_CLIENT_ESTABLISHED) {
        ev_push(s, s->now + spread * i / s->n_cl, EV_LOGOUT, i, 0, NULL, 0);
      } else {
        if (mc_client_get_state(c->c) == MC_CLIENT_HANDSHAKE)
          mc_client_abandon(c->c);
        s->closed_final++;
      }
    }
    break;
  case EV_STOP:
    s->stop = 1;
    break;
  }
}

/* The real modes: one queue, one thread, events at their real time. */
static void run_loop(sim *s) {
  uint64_t n = 0;
  while (!s->stop && q_head(&s->q) != MC_TSTAMP_NEVER) {
    if (s->real) {
      /* Sleep in epoll until the next event is due (at most 50 ms, so the
       * progress line moves), and look at the sockets now and then even
       * when events are due back to back. */
      mc_tstamp now = real_now(s);
      if (q_head(&s->q) > now) {
        int ms = (int)((q_head(&s->q) - now + 999) / 1000);
        udp_read(s, ms > 50 ? 50 : ms);
        if (s->progress)
          progress(s, 0);
        continue;
      }
      if ((n & 63) == 0)
        udp_read(s, 0);
      s->now = real_now(s);
    }
    sim_ev e;
    q_pop_before(&s->q, MC_TSTAMP_NEVER, &e);
    if (s->now > e.at) {
      /* How far behind real time the loop runs: past a few tens of ms
       * the protocol's timers see the simulator's overload. */
      mc_tstamp lag = s->now - e.at;
      s->res->lag_sum += lag;
      s->res->lag_n++;
      if (lag > s->res->lag_max)
        s->res->lag_max = lag;
    }
    dispatch(s, &e);
    tick_at(s, s->now)->online = s->online;
    free(e.data);
    n++;
    s->res->events++;
    if (s->progress && (n & 1023) == 0)
      progress(s, 0);
    /* Everyone logged out and nothing in flight: done early. */
    if (s->stopping && s->closed_final >= s->n_cl && s->in_flight == 0)
      s->stop = 1;
  }
}

/* The clients' lane up to |end|. */
static void client_lane_run(sim *s, mc_tstamp end) {
  sim_ev e;
  while (!s->stop && q_pop_before(&s->q, end, &e)) {
    if (e.at > s->now)
      s->now = e.at;
    dispatch(s, &e);
    tick_at(s, s->now)->online = s->online;
    free(e.data);
    s->res->events++;
  }
}

/* The server's lane up to |end|. */
static void server_lane_run(sim *s, mc_tstamp end) {
  sim_lane *ln = &s->srv_lane;
  sim_ev e;
  while (q_pop_before(&ln->q, end, &e)) {
    if (e.at > ln->now)
      ln->now = e.at;
    server_dispatch(s, ln, &e);
    free(e.data);
    ln->events++;
  }
}

static void *server_thread(void *arg) {
  sim *s = arg;
  for (;;) {
    pthread_barrier_wait(&s->win_start);
    if (s->win_quit)
      return NULL;
    server_lane_run(s, s->win_end);
    pthread_barrier_wait(&s->win_done);
  }
}

/* The virtual mode, in windows. A datagram takes at least s->lookahead to
 * arrive, so nothing one lane does in [t, t + lookahead) can reach the
 * other lane inside that window: the two lanes run it independently (on
 * two threads with --threads 2) and hand over the datagrams they made
 * afterwards, in the order made. Global events run between windows on the
 * main thread, and a window never spans one. The windows, and so every
 * event's order and the result, are the same for any thread count. With no
 * lookahead (reordering, jitter >= delay) a window is one instant, repeated
 * until neither lane has anything left at it. */
static void vloop(sim *s) {
  while (!s->stop) {
    mc_tstamp t = q_head(&s->q), ts = q_head(&s->srv_lane.q),
              tg = q_head(&s->gq);
    if (ts < t)
      t = ts;
    if (tg <= t) {
      if (tg == MC_TSTAMP_NEVER)
        break;
      sim_ev e;
      q_pop_before(&s->gq, MC_TSTAMP_NEVER, &e);
      if (e.at > s->now)
        s->now = e.at;
      dispatch(s, &e);
      tick_at(s, s->now)->online = s->online;
      s->res->events++;
      continue;
    }
    mc_tstamp end = t + (s->lookahead > 0 ? s->lookahead : 1);
    if (end > tg)
      end = tg;
    if (s->have_worker) {
      s->win_end = end;
      pthread_barrier_wait(&s->win_start);
      client_lane_run(s, end);
      pthread_barrier_wait(&s->win_done);
    } else {
      client_lane_run(s, end);
      server_lane_run(s, end);
    }
    out_flush(&s->up_out, &s->srv_lane.q);
    out_flush(&s->srv_lane.out, &s->q);
    if (s->progress)
      progress(s, 0);
    /* Everyone logged out and nothing in flight: done early. */
    if (s->stopping && s->closed_final >= s->n_cl &&
        s->in_flight + s->srv_lane.in_flight == 0)
      s->stop = 1;
  }
}

/* --threads >= 2 in the virtual mode: the server's lane gets a thread.
 * Not without lookahead: a window of one instant holds a handful of events,
 * fewer than two barriers cost. Returns 0, or -1 after an error. */
static int worker_start(sim *s) {
  if (s->real || s->cfg->threads < 2 || s->lookahead == 0)
    return 0;
  int rv = pthread_barrier_init(&s->win_start, NULL, 2);
  if (rv == 0 && (rv = pthread_barrier_init(&s->win_done, NULL, 2)) != 0)
    pthread_barrier_destroy(&s->win_start);
  if (rv == 0 &&
      (rv = pthread_create(&s->worker, NULL, server_thread, s)) != 0) {
    pthread_barrier_destroy(&s->win_start);
    pthread_barrier_destroy(&s->win_done);
  }
  if (rv != 0) {
    fprintf(stderr, "mychat-sim: server thread: %s\n", strerror(rv));
    return -1;
  }
  s->have_worker = 1;
  return 0;
}

static void worker_stop(sim *s) {
  if (!s->have_worker)
    return;
  s->win_quit = 1;
  pthread_barrier_wait(&s->win_start);
  pthread_join(s->worker, NULL);
  pthread_barrier_destroy(&s->win_start);
  pthread_barrier_destroy(&s->win_done);
  s->have_worker = 0;
}

/* ------------------------------------------------------------------ */
/* results                                                             */

static const char *STATE_NAME[] = {"idle", "handshake", "established",
                                   "closed"};

/* Names message |i| and the recipients it never reached, with their
 * client state at the end: the starting point for a bug report. */
static void show_lost(const sim *s, size_t i) {
  const sim_msg *m = &s->msgs[i];
  fprintf(stderr,
          "mychat-sim: lost: #%zu (message id %" PRIu64 ") from %s to %s at "
          "%.3f s, %u of %u delivered; missing:",
          i, m->message_id, s->cl[m->sender].name,
          m->direct ? s->cl[m->target].name : s->groups[m->target].name,
          (double)(m->t_send - T0) / 1e6, m->got, m->owed);
  if (m->direct) {
    fprintf(stderr, " %s (%s)", s->cl[m->target].name,
            STATE_NAME[mc_client_get_state(s->cl[m->target].c)]);
  } else {
    const sim_group *g = &s->groups[m->target];
    for (uint32_t p = 0; p < g->n_mem; p++) {
      const sim_client *c = &s->cl[g->mem[p].client];
      int got = p < m->nbits && ((m->bits[p / 8] >> (p % 8)) & 1);
      if (g->mem[p].joined < m->serial && c->idx != m->sender && !got)
        fprintf(stderr, " %s (%s)", c->name,
                STATE_NAME[mc_client_get_state(c->c)]);
    }
  }
  fputc('\n', stderr);
}

static void tally(sim *s) {
  sim_result *r = s->res;
  size_t shown = 0;
  for (size_t i = 0; i < s->n_msgs; i++) {
    const sim_msg *m = &s->msgs[i];
    if (!m->confirmed)
      continue;
    sim_kind *k = &r->k[m->direct ? SIM_K_DIRECT : SIM_K_GROUP];
    k->expected += m->owed;
    if (m->got < m->owed) {
      k->lost += m->owed - m->got;
      if (shown < LOST_SHOWN_MAX)
        show_lost(s, i);
      shown++;
    }
  }
  if (shown > LOST_SHOWN_MAX)
    fprintf(stderr, "mychat-sim: ... and %zu more messages with losses\n",
            shown - LOST_SHOWN_MAX);
  if (shown > 0 && r->drain_cut)
    fprintf(stderr,
            "mychat-sim: the drain ended at its limit with deliveries still "
            "owed; a longer --drain tells late from lost\n");
  for (uint32_t i = 0; i < s->n_cl; i++) {
    if (mc_client_get_state(s->cl[i].c) == MC_CLIENT_ESTABLISHED)
      r->open_at_end++;
    r->up.offered += s->cl[i].up.stats.offered;
    r->up.dropped_loss += s->cl[i].up.stats.dropped_loss;
    r->up.dropped_queue += s->cl[i].up.stats.dropped_queue;
    r->up.duplicated += s->cl[i].up.stats.duplicated;
    r->up.corrupted += s->cl[i].up.stats.corrupted;
    r->up.reordered += s->cl[i].up.stats.reordered;
    r->down.offered += s->down[i].stats.offered;
    r->down.dropped_loss += s->down[i].stats.dropped_loss;
    r->down.dropped_queue += s->down[i].stats.dropped_queue;
    r->down.duplicated += s->down[i].stats.duplicated;
    r->down.corrupted += s->down[i].stats.corrupted;
    r->down.reordered += s->down[i].stats.reordered;
  }
  if (s->srv)
    r->srv = *mc_server_get_stats(s->srv);
  r->vtime = s->now - T0;
  /* The server's lane counted its datagrams on its own. */
  const sim_lane *ln = &s->srv_lane;
  r->dgrams_down += ln->dgrams;
  r->events += ln->events;
  for (size_t i = 0; i < ln->n_tick_dg; i++)
    if (ln->tick_dg[i] > 0)
      tick_at(s, T0 + i * MC_SEC)->dgrams += ln->tick_dg[i];
  if (r->connects == 0) {
    char why[64];
    if (r->connect_failures == 0)
      snprintf(why, sizeof why, "no handshake finished");
    else if (r->last_connect_code == 0)
      snprintf(why, sizeof why, "no answer within %.1f s",
               (double)s->cfg->connect_timeout / 1e6);
    else
      snprintf(why, sizeof why, "refused with error code %d",
               r->last_connect_code);
    fprintf(stderr, "mychat-sim: %s: no client connected: %s\n",
            s->cfg->server ? s->cfg->server : "embedded server", why);
  }
  lat_window_close(s);
  /* The time series covers the run; trim the growth slack. */
  size_t last = (size_t)tick_index(s->now) + 1;
  if (last < r->n_tick)
    r->n_tick = last;
}

int sim_result_ok(const sim_result *r) {
  for (int k = 0; k < SIM_K_N; k++)
    if (r->k[k].lost || r->k[k].duplicated || r->k[k].out_of_order ||
        r->k[k].unexpected)
      return 0;
  return 1;
}

int sim_run(const sim_config *cfg, sim_result *res) {
  sim *s = calloc(1, sizeof *s);
  if (s == NULL) {
    fprintf(stderr, "mychat-sim: simulator state: out of memory\n");
    return -1;
  }
  double w0 = wall_now();
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  int rv = setup(s, cfg, res);
  if (rv == 0)
    rv = worker_start(s);
  if (rv == 0) {
    s->progress = cfg->progress < 0 ? isatty(2) : cfg->progress;
    if (s->real)
      run_loop(s);
    else
      vloop(s);
    res->threads = s->have_worker ? 2 : 1;
    worker_stop(s);
    if (s->progress)
      progress(s, 1);
    tally(s);
  }
  teardown(s);
  free(s);
  getrusage(RUSAGE_SELF, &ru1);
  res->wall_s = wall_now() - w0;
  res->max_rss_mb = (double)ru1.ru_maxrss / 1024.0; /* Linux: in KiB */
  res->cpu_s = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
               (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
               (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
               (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
  return rv;
}
