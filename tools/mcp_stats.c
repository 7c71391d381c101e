/*
 * mcp_stats.c: `mychat-pcap stats`. One pass over the capture; every
 * timing is as seen at the capture point.
 *
 * A reliable body is identified by (session, direction, seq): a second
 * sighting is a retransmission. Its "ack time" is from its first sighting to
 * the first datagram in the other direction, same session, whose ack covers
 * it (cumulatively or by a range): the round trip from the capture point,
 * ack delay included. Ping -> Pong pairs (by session and time_us) give a
 * second round-trip estimate.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_cmd.h"

#define PROG "mychat-pcap"
#define BODY_MAX 40               /* body cases are below 40 */
/* An ack cannot newly cover more seqs than this; a hostile cumulative ack
 * far ahead just moves the mark, so one datagram costs bounded work. */
#define ACK_SCAN_MAX 65536

typedef struct {
  int64_t *v;
  size_t n, cap;
} samples;

static void add(samples *s, int64_t x) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 256;
    s->v = mcp_xrealloc(s->v, s->cap * sizeof *s->v);
  }
  s->v[s->n++] = x;
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* One reliable body seen. */
typedef struct {
  uint64_t t_first;
  uint8_t acked;
} rec;

/* One reliable stream: (session, direction). */
typedef struct {
  uint32_t max_seq;             /* highest seq seen */
  uint32_t acked_upto;          /* every seq <= this was covered */
  uint32_t distinct;            /* different seqs seen */
} stream;

typedef struct {
  mcp_ctx c;
  mcp_table recs, streams, msgs, pings;
  rec *rv;
  size_t nr, capr;
  stream *sv;
  size_t ns, caps;
  uint64_t *mv;                 /* message id -> Sent time (0: none) */
  size_t nm, capm;
  uint64_t count[BODY_MAX][3];  /* [body case][direction] */
  uint64_t kinds[4];
  uint64_t first_tx[3], retx[3];
  samples ack_rtt[3], ping_rtt, deliver_lat, receipt_lat;
  uint64_t t_last;
  mcp_table deliver_first;      /* message id -> index into dv: first Deliver */
  uint64_t *dv;
  size_t nd, capd;
} stats;

static void key3(uint8_t *k, uint64_t a, uint64_t b, uint64_t c) {
  memset(k, 0, MCP_KEY_LEN);
  memcpy(k, &a, 8);
  memcpy(k + 8, &b, 8);
  memcpy(k + 16, &c, 8);
}

/* The element of |key| in the array |*arr| (|*n| used of |*cap|, |size|
 * bytes each) indexed through |t|: appended zeroed when new and |create|
 * (then |*fresh| is 1 when not NULL). Returns NULL when absent. */
static void *indexed(mcp_table *t, const uint8_t *key, int create, void **arr,
                     size_t *n, size_t *cap, size_t size, int *fresh) {
  uint32_t *v = mcp_table_get(t, key, create);
  if (!v) return NULL;
  if (fresh) *fresh = *v == UINT32_MAX;
  if (*v == UINT32_MAX) {
    if (*n == *cap) {
      *cap = *cap ? *cap * 2 : 256;
      *arr = mcp_xrealloc(*arr, *cap * size);
    }
    memset((char *)*arr + *n * size, 0, size);
    *v = (uint32_t)(*n)++;
  }
  return (char *)*arr + *v * size;
}

static stream *get_stream(stats *s, uint64_t sid, int dir, int create) {
  uint8_t k[MCP_KEY_LEN];
  key3(k, sid, (uint64_t)dir, 0);
  return indexed(&s->streams, k, create, (void **)&s->sv, &s->ns, &s->caps,
                 sizeof *s->sv, NULL);
}

static rec *get_rec(stats *s, uint64_t sid, int dir, uint32_t seq, int create,
                    int *fresh) {
  uint8_t k[MCP_KEY_LEN];
  key3(k, sid, (uint64_t)dir, seq);
  return indexed(&s->recs, k, create, (void **)&s->rv, &s->nr, &s->capr,
                 sizeof *s->rv, fresh);
}

static void cover(stats *s, uint64_t sid, int dir, uint32_t seq, uint64_t now) {
  rec *r = get_rec(s, sid, dir, seq, 0, NULL);
  if (r && !r->acked) {
    r->acked = 1;
    add(&s->ack_rtt[dir], (int64_t)(now - r->t_first));
  }
}

/* An ack sent in direction |dir| covers the other direction's stream. */
static void on_ack(stats *s, uint64_t sid, int dir, const Mychat__Ack *a,
                   uint64_t now) {
  int other = dir == MCP_DIR_CS ? MCP_DIR_SC : MCP_DIR_CS;
  stream *st = get_stream(s, sid, other, 0);
  if (!st) return;
  uint32_t upto = a->cumulative < st->max_seq ? a->cumulative : st->max_seq;
  if (upto > st->acked_upto) {
    uint32_t from = st->acked_upto + 1;
    if (upto - from >= ACK_SCAN_MAX) from = upto - ACK_SCAN_MAX + 1;
    for (uint32_t q = from; q <= upto; q++) cover(s, sid, other, q, now);
    st->acked_upto = upto;
  }
  for (size_t i = 0; i < a->n_ranges; i++) {
    const Mychat__AckRange *rg = a->ranges[i];
    if (!rg || rg->first > rg->last) continue;
    uint32_t last = rg->last < st->max_seq ? rg->last : st->max_seq;
    if (rg->first > last || last - rg->first >= ACK_SCAN_MAX) continue;
    for (uint32_t q = rg->first; q <= last; q++) cover(s, sid, other, q, now);
  }
}

static uint32_t *msg_slot(mcp_table *t, uint64_t id, int create) {
  uint8_t k[MCP_KEY_LEN];
  key3(k, id, 0, 0);
  return mcp_table_get(t, k, create);
}

static size_t push_u64(uint64_t **v, size_t *n, size_t *cap, uint64_t x) {
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 256;
    *v = mcp_xrealloc(*v, *cap * sizeof **v);
  }
  (*v)[*n] = x;
  return (*n)++;
}

/* Message latencies use first transmissions only. */
static void on_body(stats *s, const Mychat__Envelope *env, uint64_t now) {
  uint32_t *v;
  switch (env->body_case) {
  case MYCHAT__ENVELOPE__BODY_SENT:
    v = msg_slot(&s->msgs, env->sent->message_id, 1);
    if (*v == UINT32_MAX) *v = (uint32_t)push_u64(&s->mv, &s->nm, &s->capm, now);
    break;
  case MYCHAT__ENVELOPE__BODY_DELIVER:
    v = msg_slot(&s->msgs, env->deliver->message_id, 0);
    if (v) add(&s->deliver_lat, (int64_t)(now - s->mv[*v]));
    if (!env->deliver->group[0]) {
      v = msg_slot(&s->deliver_first, env->deliver->message_id, 1);
      if (*v == UINT32_MAX) *v = (uint32_t)push_u64(&s->dv, &s->nd, &s->capd, now);
    }
    break;
  case MYCHAT__ENVELOPE__BODY_RECEIPT:
    v = msg_slot(&s->deliver_first, env->receipt->message_id, 0);
    if (v) add(&s->receipt_lat, (int64_t)(now - s->dv[*v]));
    break;
  case MYCHAT__ENVELOPE__BODY_PING:
    v = msg_slot(&s->pings, env->ping->time_us ^ env->session_id, 1);
    if (*v == UINT32_MAX) *v = (uint32_t)push_u64(&s->mv, &s->nm, &s->capm, now);
    break;
  case MYCHAT__ENVELOPE__BODY_PONG:
    v = msg_slot(&s->pings, env->pong->time_us ^ env->session_id, 0);
    if (v && s->mv[*v]) {
      add(&s->ping_rtt, (int64_t)(now - s->mv[*v]));
      s->mv[*v] = 0;
    }
    break;
  default:
    break;
  }
}

static void take(stats *s, const mcp_dgram *d) {
  uint64_t now = d->f->ts_us;
  s->t_last = now;
  s->kinds[d->kind]++;
  const Mychat__Envelope *env = d->env;
  if (!env || d->kind != MCP_OK) return;
  int dir = (int)d->dir;
  s->count[env->body_case < BODY_MAX ? env->body_case : 0][dir]++;
  if (dir == MCP_DIR_UNKNOWN) return;
  int retx = 0;
  if (env->seq > 0) {
    stream *st = get_stream(s, env->session_id, dir, 1);
    int fresh;
    rec *r = get_rec(s, env->session_id, dir, env->seq, 1, &fresh);
    if (fresh) {
      r->t_first = now;
      s->first_tx[dir]++;
      st->distinct++;
      if (env->seq > st->max_seq) st->max_seq = env->seq;
    } else {
      s->retx[dir]++;
      retx = 1;
    }
  }
  if (env->ack) on_ack(s, env->session_id, dir, env->ack, now);
  if (!retx) on_body(s, env, now);
}

static void print_samples(const char *what, samples *x) {
  printf("%-36s", what);
  if (!x->n) {
    printf(" n=0\n");
    return;
  }
  qsort(x->v, x->n, sizeof *x->v, cmp64);
  printf(" n=%zu p50=%.3f ms p90=%.3f ms max=%.3f ms\n", x->n,
         (double)x->v[(x->n - 1) / 2] / 1000.0,
         (double)x->v[(x->n - 1) * 9 / 10] / 1000.0,
         (double)x->v[x->n - 1] / 1000.0);
}

static void report(stats *s, mc_pcap_reader *r, const char *path) {
  const mc_pcap_counts *n = mc_pcap_counts_get(r);
  uint64_t span = s->c.have_first && s->t_last > s->c.first_ts
                      ? s->t_last - s->c.first_ts : 0;
  printf("capture %s (link type %d): %" PRIu64 " frames over %" PRIu64 ".%06" PRIu64
         " s\n", path, mc_pcap_linktype(r), n->frames, span / 1000000, span % 1000000);
  printf("UDP datagrams %" PRIu64 ": MyChat %" PRIu64 " (invalid %" PRIu64
         "), malformed %" PRIu64 ", not MyChat %" PRIu64 "\n",
         n->datagrams, s->kinds[MCP_OK] + s->kinds[MCP_INVALID], s->kinds[MCP_INVALID],
         s->kinds[MCP_MALFORMED], s->kinds[MCP_FOREIGN]);
  printf("skipped frames %" PRIu64 ": fragments %" PRIu64 ", not UDP %" PRIu64
         ", cut short %" PRIu64 "\n", n->skipped, n->fragments, n->not_udp, n->cut);
  printf("sessions (with a Welcome) %zu, user names (in Register, Login, "
         "Welcome) %zu\n", s->c.sessions.n, s->c.n_users);
  printf("\n%-14s %10s %10s %10s\n", "body", "C->S", "S->C", "unknown");
  for (int b = 0; b < BODY_MAX; b++) {
    uint64_t *c = s->count[b];
    if (!c[0] && !c[1] && !c[2]) continue;
    const char *name = b ? mc_codec_body_name((Mychat__Envelope__BodyCase)b) : "ack-only";
    printf("%-14s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n", name, c[MCP_DIR_CS],
           c[MCP_DIR_SC], c[MCP_DIR_UNKNOWN]);
  }
  printf("\n");
  for (int dir = MCP_DIR_CS; dir <= MCP_DIR_SC; dir++) {
    uint64_t never = 0;
    for (size_t i = 0; i < s->streams.cap; i++) {
      const mcp_slot *sl = &s->streams.slots[i];
      uint64_t d;
      memcpy(&d, sl->key + 8, 8);
      if (sl->used && (int)d == dir)
        never += s->sv[sl->val].max_seq - s->sv[sl->val].distinct;
    }
    double loss = s->first_tx[dir]
                      ? 100.0 * (double)s->retx[dir] / (double)s->first_tx[dir] : 0;
    printf("%s reliable: %" PRIu64 " first transmissions, %" PRIu64
           " retransmissions (loss estimate %.1f %%), %" PRIu64 " seqs never seen\n",
           mcp_dir_name((mcp_dir)dir), s->first_tx[dir], s->retx[dir], loss, never);
  }
  print_samples("ack time C->S (first tx -> ack)", &s->ack_rtt[MCP_DIR_CS]);
  print_samples("ack time S->C (first tx -> ack)", &s->ack_rtt[MCP_DIR_SC]);
  print_samples("RTT Ping -> Pong", &s->ping_rtt);
  print_samples("latency Sent -> Deliver", &s->deliver_lat);
  print_samples("latency Deliver -> Receipt (direct)", &s->receipt_lat);
}

static const char stats_help[] =
    "Usage: " PROG " stats [--port P] [filters] FILE\n"
    "Summarises the MyChat traffic of FILE: datagrams per body and direction,\n"
    "sessions and users, retransmissions (same session, direction and seq\n"
    "seen again) and a loss estimate (retransmissions / first transmissions,\n"
    "and seqs never seen), the time from a reliable body's first transmission\n"
    "to the first ack covering it (per direction), Ping -> Pong round trips,\n"
    "and message latency (Sent -> each Deliver of the same message_id, and\n"
    "Deliver -> Receipt for direct messages); p50/p90/max in milliseconds.\n"
    "Filters (--user, --session, --type, --endpoint, --from, --to) as for dump.\n"
    "  -h, --help   this help\n";

int mcp_cmd_stats(int argc, char **argv) {
  mcp_filter flt = {0};
  unsigned port = 8000;
  int status;
  if (!mcp_filter_args(argc, argv, stats_help, 1, &flt, &port, &status)) return status;
  mc_pcap_reader *r;
  if (mcp_open(&r, argv[optind]) < 0) return 1;
  stats *s = calloc(1, sizeof *s);
  if (!s) mcp_oom();
  mcp_ctx_init(&s->c, port);
  mc_pcap_frame f;
  int rc;
  while ((rc = mc_pcap_next(r, &f)) > 0) {
    if (rc != MC_PCAP_DATAGRAM) continue;
    mcp_dgram d;
    mcp_decode(&s->c, &f, &d);
    if (mcp_filter_match(&flt, &s->c, &d)) take(s, &d);
    mc_codec_free(d.env);
  }
  status = mcp_finish_read(r, rc, argv[optind]);
  report(s, r, argv[optind]);
  mc_pcap_close(r);
  mcp_ctx_free(&s->c);
  mcp_table *tabs[] = {&s->recs, &s->streams, &s->msgs, &s->pings, &s->deliver_first};
  for (size_t i = 0; i < sizeof tabs / sizeof tabs[0]; i++) mcp_table_free(tabs[i]);
  samples *sm[] = {&s->ack_rtt[0], &s->ack_rtt[1], &s->ack_rtt[2], &s->ping_rtt,
                   &s->deliver_lat, &s->receipt_lat};
  for (size_t i = 0; i < sizeof sm / sizeof sm[0]; i++) free(sm[i]->v);
  free(s->rv);
  free(s->sv);
  free(s->mv);
  free(s->dv);
  free(s);
  return status;
}
