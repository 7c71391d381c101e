/*
 * mychat-server: the reference MyChat server.
 *
 * The protocol lives in the sans-I/O core (lib/mc_server.h); this program
 * gives it a UDP socket, a clock, a SQLite store, worker threads for password
 * hashing, a request log and a console. One epoll loop watches the socket,
 * stdin (a line "E" turns the server off), a signalfd (SIGINT, SIGTERM) and
 * the auth workers' eventfd; its timeout is the core's next timer.
 *
 * Durability: every batch of work that may write the store (what the
 * socket holds, up to RX_ROUNDS recvmmsg batches; finished auth jobs;
 * expired timers; shutdown) runs inside one store transaction, and datagrams are taken from the core only after that
 * transaction committed, so no "sent" confirmation leaves before its message
 * is on disk.
 *
 * Sending: the datagrams of a committed batch are handed, 64 at a time, to
 * a sender thread that does the sendmmsg calls, so the kernel's send path
 * (on loopback also the delivery to the receiving socket: a third of the
 * server's CPU at load) runs on the other core while this thread goes on
 * with the next batch. The sender takes the batches in the order given and
 * only ever sends what was committed; the core, SQLite and the log stay on
 * this thread.
 *
 * Storage faults (PROTOCOL.md MC-138): when the database cannot take
 * writes (its lock held by another process, a read-only file, a disk
 * with less free than STORE_RESERVE), mc_sqlstore_begin() says so and
 * the batch runs without a transaction: reads are served, every write
 * fails and the core answers INTERNAL. The store tries again with a
 * backoff; the log says "storage degraded" and "storage recovered" once
 * per change. The reserve keeps a commit from meeting a full disk. A
 * commit that fails all the same (an I/O error) has been rolled back
 * while the core's memory already counts it done: the process then ends
 * with status 1 before anything of the batch is sent, and clients
 * retransmit to the restarted server.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "mc_authpool.h"
#include "mc_error.h"
#include "mc_rate.h"
#include "mc_server.h"
#include "mc_sqlstore.h"
#include "mc_udp.h"

#define PROG "mychat-server"
#define VERSION "1.0"

#define BATCH 64                 /* datagrams per recvmmsg / sendmmsg */
#define RX_MAX 65536             /* read every datagram whole (UDP max) */
#define RX_ROUNDS 32             /* batches at most per store transaction:
                                    a commit rewrites each page it dirtied,
                                    about one per sender in it (the
                                    messages' (sender, client_msg_id)
                                    index), so at load more messages per
                                    commit cost less each; at 8 the cap
                                    bound, about 60 commits/s */
#define AUTH_THREADS 2
#define TX_SLOTS 128             /* batches queued for the sender thread:
                                    8192 datagrams, more than a loop turn
                                    makes at load; a full queue makes the
                                    loop wait (at 32 it did, and the socket
                                    dropped what came in meanwhile) */
#define CONSOLE_MAX 256          /* longest console line kept */
#define SOCK_BUF (8 << 20)       /* socket buffers: a commit's fsync of
                                    arrivals at full load, and more */
#define LOG_BUF (1 << 16)        /* request-log buffer, flushed each turn */
#define STORE_RESERVE (4 << 20)  /* free disk below which writes are refused;
                                    far more than one batch writes */

typedef struct {
  const char *host;
  uint16_t port;
  const char *db;
  const char *log;
  int no_console;                /* --no-console: never read stdin */
  mc_server_config cfg;
} options;

/* One sendmmsg batch, filled by the loop and sent by the sender thread. */
typedef struct {
  unsigned n;                    /* datagrams in it, 1..BATCH */
  struct mmsghdr msg[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage to[BATCH];
  uint8_t buf[BATCH][MC_DATAGRAM_MAX];
} tx_batch;

/* The batches between the loop and the sender thread: a ring of TX_SLOTS.
 * Slots [head, tail) (counted modulo TX_SLOTS) are queued and belong to
 * the sender; the others belong to the loop, which fills slot tail before
 * it moves tail on. head and tail only grow, under |mu|, except that the
 * loop sets both to 0 when they meet (tx_free_slot). */
typedef struct {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t ready;          /* signalled when tail moves or on stop */
  pthread_cond_t space;          /* signalled when head moves */
  tx_batch *slot;                /* TX_SLOTS of them */
  unsigned head, tail;
  int stop;                      /* send what is queued, then end */
  int fd;
  uint64_t dropped;              /* datagrams the socket refused; read
                                    by the loop only after the join */
} tx_queue;

typedef struct {
  mc_server *srv;
  mc_sqlstore *db;
  mc_authpool *auth;
  unsigned auth_busy;            /* jobs handed to the pool, not yet back */
  int fd, ep, sigfd;
  int stdin_open;                /* still watching the console */
  int stop;                      /* shutdown asked for */
  int store_degraded;            /* the last batch could not write */
  FILE *log;
  time_t log_secs;               /* the second log_when shows */
  char log_when[32];             /* "YYYY-MM-DDTHH:MM:SS" of log_secs */
  mc_rate log_rate;              /* no-session lines that may be logged */
  uint64_t log_suppressed;       /* no-session lines not logged since */
  uint64_t log_suppressed_total;
  int64_t wall_offset_ms;
  uint64_t rx_oversize;          /* datagrams over RX_MAX, dropped */
  tx_queue tx;
  char console[CONSOLE_MAX];
  size_t console_len;
  struct mmsghdr rx_msg[BATCH];
  struct iovec rx_iov[BATCH];
  struct sockaddr_storage rx_from[BATCH];
  uint8_t *rx_buf;               /* BATCH * RX_MAX bytes */
} app;

/* The defaults shown are the core's own, so the text cannot drift. */
static void usage(FILE *f) {
  mc_server_config d;
  mc_server_config_default(&d);
  fprintf(f,
          "usage: " PROG " [options]\n"
          "  --host H          address to listen on (default 0.0.0.0; an\n"
          "                    IPv6 address such as :: works too)\n"
          "  --port P          UDP port (default 8000; 0 picks a free one)\n"
          "  --db FILE         SQLite database (default ./mychat.db)\n"
          "  --log FILE        request log, appended (default stderr)\n"
          "  --hash-cost C     password hash cost: min, interactive\n"
          "                    (default) or moderate\n"
          "  --max-sessions N  sessions and logins being checked at once\n"
          "                    (default %" PRIu32 ")\n"
          "  --keepalive-ms N  keepalive interval told to clients\n"
          "                    (default %" PRIu32 ")\n"
          "  --timeout-ms N    silence that ends a session (default %" PRIu32
          ")\n"
          "  --rate-burst N    login attempts per host and per name and host\n"
          "                    at once; wrong passwords slow the pair down\n"
          "                    (default %" PRIu32 ")\n"
          "  --rate-refill-ms N  one attempt back every N ms (default %" PRIu32
          ")\n"
          "  --reg-per-hour N  new accounts per host per hour (default and 0:\n"
          "                    4 x --rate-burst)\n"
          "  --reg-per-hour-prefix N  new accounts per /24 or /56 per hour\n"
          "                    (default and 0: 20 x --rate-burst)\n"
          "  --msg-burst N     messages a user may send at once, beyond which\n"
          "                    they get QUOTA_EXCEEDED (default %" PRIu32 ")\n"
          "  --msg-refill-ms N  one message more every N ms (default %" PRIu32
          ")\n"
          "  --quota-bytes N   bytes of message text stored per user, ever\n"
          "                    (default %" PRIu64 ", 100 MiB)\n"
          "  --queue-max N     replies and pushes a session may queue beyond\n"
          "                    the %" PRIu32 " in flight; a session whose queue is\n"
          "                    full is ended (default %" PRIu32 ")\n"
          "  --max-retries N   retransmissions of one reply or push before the\n"
          "                    session is given up (default %" PRIu32 ")\n"
          "  --auth-per-prefix N  password checks waiting from one /24 or /56\n"
          "                    (default %" PRIu32 ")\n"
          "  --auth-queue-max N  password checks waiting in all, Registers at\n"
          "                    most half (default %" PRIu32 ")\n"
          "  --no-console      do not read stdin (for services and scripts)\n"
          "  -h, --help        show this help\n"
          "  --version         show the version\n"
          "Console: type E and press ENTER to turn the server off; SIGINT\n"
          "and SIGTERM do the same. Stdin is the console unless --no-console\n"
          "is given or stdin is a terminal this process does not own (started\n"
          "in the background with '&'), so the server never stops on tty input.\n"
          "Exit status: 0 after a clean shutdown, 1 when the socket or the\n"
          "database fails, 2 for usage errors.\n",
          d.max_sessions, d.keepalive_ms, d.session_timeout_ms, d.rate_burst,
          d.rate_refill_ms, d.msg_burst, d.msg_refill_ms, d.quota_bytes,
          d.arq.window, d.arq.queue_max, d.arq.max_retries,
          d.auth_per_prefix,
          d.auth_queue_max);
}

static _Noreturn void usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, PROG ": ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry '" PROG " --help' for usage.\n");
  exit(2);
}

/* A whole decimal number in [min, max], or a usage error naming flag
 * --|name|. */
static unsigned long parse_num(const char *name, const char *s,
                               unsigned long min, unsigned long max) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < min ||
      v > max) {
    fprintf(stderr, PROG ": --%s: '%s' is not a number from %lu to %lu\n",
            name, s, min, max);
    fprintf(stderr, "Try '" PROG " --help' for usage.\n");
    exit(2);
  }
  return v;
}

/* The flags that set a number field of mc_server_config (uint32_t or
 * uint64_t), in the order of their getopt values O_NUM, O_NUM + 1, ... */
#define NUM_FLAG(name, field, min, max)                                      \
  {name, offsetof(mc_server_config, field),                                  \
   sizeof(((mc_server_config *)0)->field), min, max}
static const struct {
  const char *name;
  size_t offset;                 /* of the field in mc_server_config */
  size_t size;                   /* 4 or 8 */
  unsigned long min, max;
} num_flags[] = {
    NUM_FLAG("max-sessions", max_sessions, 1, 10000000),
    NUM_FLAG("keepalive-ms", keepalive_ms, 100, 3600000),
    NUM_FLAG("timeout-ms", session_timeout_ms, 200, 86400000),
    NUM_FLAG("rate-burst", rate_burst, 1, 1000000),
    NUM_FLAG("rate-refill-ms", rate_refill_ms, 1, 3600000),
    NUM_FLAG("queue-max", arq.queue_max, 0, MC_ARQ_QUEUE_MAX),
    NUM_FLAG("max-retries", arq.max_retries, 1, MC_ARQ_RETRIES_MAX),
    NUM_FLAG("reg-per-hour", reg_per_hour, 0, 1000000),
    NUM_FLAG("reg-per-hour-prefix", reg_per_hour_prefix, 0, 1000000),
    NUM_FLAG("auth-per-prefix", auth_per_prefix, 1, 10000000),
    NUM_FLAG("auth-queue-max", auth_queue_max, 2, 10000000),
    NUM_FLAG("msg-burst", msg_burst, 1, 1000000),
    NUM_FLAG("msg-refill-ms", msg_refill_ms, 1, 3600000),
    NUM_FLAG("quota-bytes", quota_bytes, 1, 1UL << 50),
};
#define N_NUM_FLAGS (sizeof num_flags / sizeof num_flags[0])

static void parse_args(int argc, char **argv, options *o) {
  enum { O_HOST = 256, O_PORT, O_DB, O_LOG, O_COST, O_VER, O_NOCON, O_NUM };
  struct option longopts[] = {
      {"host", required_argument, NULL, O_HOST},
      {"port", required_argument, NULL, O_PORT},
      {"db", required_argument, NULL, O_DB},
      {"log", required_argument, NULL, O_LOG},
      {"hash-cost", required_argument, NULL, O_COST},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, O_VER},
      {"no-console", no_argument, NULL, O_NOCON},
      [8 + N_NUM_FLAGS] = {NULL, 0, NULL, 0}};
  for (size_t i = 0; i < N_NUM_FLAGS; i++)
    longopts[8 + i] = (struct option){num_flags[i].name, required_argument,
                                      NULL, O_NUM + (int)i};
  o->host = "0.0.0.0";
  o->port = 8000;
  o->db = "./mychat.db";
  o->log = NULL;
  o->no_console = 0;
  mc_server_config_default(&o->cfg);
  opterr = 0; /* our messages, with the usage hint */
  int c;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case O_HOST: o->host = optarg; break;
    case O_PORT: o->port = (uint16_t)parse_num("port", optarg, 0, 65535); break;
    case O_DB: o->db = optarg; break;
    case O_LOG: o->log = optarg; break;
    case O_COST:
      if (mc_auth_cost_parse(optarg, &o->cfg.auth_cost) < 0)
        usage_error("--hash-cost: '%s' is not min, interactive or moderate",
                    optarg);
      break;
    case 'h': usage(stdout); exit(0);
    case O_VER: printf(PROG " " VERSION "\n"); exit(0);
    case O_NOCON: o->no_console = 1; break;
    case ':': usage_error("%s: needs a value", argv[optind - 1]);
    default:
      if (c < O_NUM || c >= O_NUM + (int)N_NUM_FLAGS)
        usage_error("%s: unknown option", argv[optind - 1]);
      const size_t i = (size_t)(c - O_NUM);
      unsigned long v = parse_num(num_flags[i].name, optarg,
                                  num_flags[i].min, num_flags[i].max);
      uint32_t v32 = (uint32_t)v;
      uint64_t v64 = v;
      memcpy((char *)&o->cfg + num_flags[i].offset,
             num_flags[i].size == sizeof v64 ? (void *)&v64 : (void *)&v32,
             num_flags[i].size);
    }
  }
  if (optind < argc)
    usage_error("%s: unexpected argument", argv[optind]);
  if (o->cfg.keepalive_ms >= o->cfg.session_timeout_ms) {
    fprintf(stderr, PROG ": --keepalive-ms (%" PRIu32 ") must be less than "
            "--timeout-ms (%" PRIu32 ")\nTry '" PROG " --help' for usage.\n",
            o->cfg.keepalive_ms, o->cfg.session_timeout_ms);
    exit(2);
  }
}

/* ------------------------------------------------------------------ */
/* core callbacks                                                      */

static void cb_random(void *user_data, uint8_t *buf, size_t len) {
  (void)user_data;
  randombytes_buf(buf, len);
}

/* The core keys rate limits on an address's host part, so a peer is given
 * to it as IP + port (mc_addr_set_ip); an IPv6 scope id, needed to answer a
 * link-local peer, rides after the port. */
static void addr_from_sockaddr(mc_addr *a, const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    mc_addr_set_ip(a, &in6->sin6_addr, 16, ntohs(in6->sin6_port));
    if (in6->sin6_scope_id != 0) {
      memcpy(a->bytes + a->len, &in6->sin6_scope_id, sizeof(uint32_t));
      a->len += sizeof(uint32_t);
    }
  } else {
    const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
    mc_addr_set_ip(a, &in->sin_addr, 4, ntohs(in->sin_port));
  }
}

/* The inverse of addr_from_sockaddr(). Returns the sockaddr's length. */
static socklen_t addr_to_sockaddr(const mc_addr *a,
                                  struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  uint16_t port = (uint16_t)(a->bytes[a->host_len] << 8 |
                             a->bytes[a->host_len + 1]);
  if (a->host_len == 16) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    memcpy(&in6->sin6_addr, a->bytes, 16);
    in6->sin6_port = htons(port);
    if (a->len == 16 + 2 + sizeof(uint32_t))
      memcpy(&in6->sin6_scope_id, a->bytes + 18, sizeof(uint32_t));
    return sizeof *in6;
  }
  struct sockaddr_in *in = (struct sockaddr_in *)ss;
  in->sin_family = AF_INET;
  memcpy(&in->sin_addr, a->bytes, 4);
  in->sin_port = htons(port);
  return sizeof *in;
}

static const char *addr_format(const mc_addr *a, char *buf, size_t cap) {
  struct sockaddr_storage ss;
  socklen_t len = addr_to_sockaddr(a, &ss);
  return mc_udp_format((const struct sockaddr *)&ss, len, buf, cap);
}

/* Lines about datagrams of no session (malformed ones, failed
 * handshakes) are what anyone can make by the thousand: LOG_BURST of them
 * at once, then LOG_PER_SEC a second; the rest are counted, and the count
 * is logged with the next line let through, so a flood cannot fill the
 * disk or slow the loop down with writes. */
#define LOG_BURST 100
#define LOG_REFILL_MS 100 /* 10 a second */

/* One request-log line: time, peer, user, session, type, result, detail. */
static void cb_log(void *user_data, const mc_server_log *rec) {
  app *a = user_data;
  if (rec->session_id == 0 &&
      !mc_rate_take(&a->log_rate, LOG_BURST, LOG_REFILL_MS, rec->now)) {
    a->log_suppressed++;
    a->log_suppressed_total++;
    return;
  }
  int64_t ms = (int64_t)(rec->now / MC_MSEC) + a->wall_offset_ms;
  time_t secs = (time_t)(ms / 1000);
  /* Thousands of lines a second share their second: format it once. */
  if (secs != a->log_secs || a->log_when[0] == '\0') {
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(a->log_when, sizeof a->log_when, "%Y-%m-%dT%H:%M:%S", &tm);
    a->log_secs = secs;
  }
  const char *when = a->log_when;
  char peer[MC_UDP_ADDRSTRLEN];
  if (a->log_suppressed > 0) {
    fprintf(a->log, "%s.%03dZ %" PRIu64 " lines about datagrams of no "
            "session not logged (more than %d a second)\n", when,
            (int)(ms % 1000), a->log_suppressed, 1000 / LOG_REFILL_MS);
    a->log_suppressed = 0;
  }
  /* The core counts what it left out of a session's lines (MC-153). */
  if (rec->dropped > 0)
    fprintf(a->log, "%s.%03dZ %" PRIu32 " lines of session %016" PRIx64
            " not logged (more than %d a second)\n", when, (int)(ms % 1000),
            rec->dropped, rec->session_id, 1000 / MC_SERVER_LOG_REFILL_MS);
  /* The line is put together by hand with unlocked stdio (only this
   * thread logs): at a line per request, fprintf's parsing of the format
   * cost as much as the rest of the line. */
  FILE *f = a->log;
  unsigned milli = (unsigned)(ms % 1000);
  char frac[] = {'.', (char)('0' + milli / 100), (char)('0' + milli / 10 % 10),
                 (char)('0' + milli % 10), 'Z', ' ', '\0'};
  char sid[16 + 2];
  for (int i = 0; i < 16; i++)
    sid[i] = "0123456789abcdef"[(rec->session_id >> (60 - 4 * i)) & 0xf];
  sid[16] = ' ';
  sid[17] = '\0';
  fputs_unlocked(when, f);
  fputs_unlocked(frac, f);
  fputs_unlocked(addr_format(rec->peer, peer, sizeof peer), f);
  putc_unlocked(' ', f);
  fputs_unlocked(rec->user[0] ? rec->user : "-", f);
  putc_unlocked(' ', f);
  fputs_unlocked(sid, f);
  fputs_unlocked(rec->type, f);
  putc_unlocked(' ', f);
  fputs_unlocked(mc_codec_code_name(rec->code), f);
  if (rec->detail[0]) {
    putc_unlocked(' ', f);
    fputs_unlocked(rec->detail, f);
  }
  putc_unlocked('\n', f);
}

/* ------------------------------------------------------------------ */
/* store transactions and sending                                      */

/* One log line per change of state, not one per batch: a fault that lasts
 * an hour must not write a line per datagram. */
static void txn_begin(app *a) {
  int degraded = mc_sqlstore_begin(a->db) < 0;
  if (degraded == a->store_degraded)
    return;
  a->store_degraded = degraded;
  if (degraded) {
    fprintf(stderr, PROG ": storage degraded: %s; writes answered INTERNAL "
            "until it recovers\n", mc_sqlstore_errmsg(a->db));
    fprintf(a->log, "storage degraded: %s\n", mc_sqlstore_errmsg(a->db));
  } else {
    fprintf(stderr, PROG ": storage recovered\n");
    fprintf(a->log, "storage recovered\n");
  }
  fflush(stderr);
}

static void txn_commit(app *a) {
  if (mc_sqlstore_commit(a->db) == 0)
    return;
  /* Nothing of the failed batch may be confirmed: exit before poll_tx. */
  fprintf(stderr, PROG ": FATAL: database commit failed: %s; exiting "
          "without confirming the batch\n", mc_sqlstore_errmsg(a->db));
  fprintf(a->log, "FATAL database commit failed: %s\n",
          mc_sqlstore_errmsg(a->db));
  exit(1);
}

/* Sends batch |b| with sendmmsg. A datagram the socket refuses is
 * dropped: the core retransmits what matters, and an unreliable answer is
 * asked for again by its client. */
static void send_batch(tx_queue *q, tx_batch *b) {
  unsigned i = 0;
  while (i < b->n) {
    int r = sendmmsg(q->fd, b->msg + i, b->n - i, 0);
    if (r > 0) {
      i += (unsigned)r;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      q->dropped += b->n - i;
      return;
    } else {
      q->dropped++; /* this destination failed (e.g. unreachable) */
      i++;
    }
  }
}

/* The sender thread: sends the queued batches in order until stopped
 * with none left. */
static void *tx_main(void *arg) {
  tx_queue *q = arg;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    while (q->head == q->tail && !q->stop)
      pthread_cond_wait(&q->ready, &q->mu);
    if (q->head == q->tail)
      break;
    tx_batch *b = &q->slot[q->head % TX_SLOTS];
    pthread_mutex_unlock(&q->mu);
    send_batch(q, b);
    pthread_mutex_lock(&q->mu);
    q->head++;
    pthread_cond_signal(&q->space);
  }
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

/* The slot the loop fills next, once the sender has sent it (the loop
 * waits while all TX_SLOTS are queued). */
static tx_batch *tx_free_slot(tx_queue *q) {
  pthread_mutex_lock(&q->mu);
  while (q->tail - q->head == TX_SLOTS)
    pthread_cond_wait(&q->space, &q->mu);
  /* Sender caught up (it waits, holding no slot): start again at slot 0,
   * so that the slots touched are those the load needed at once, not the
   * whole ring (about 11 MB) faulted in bit by bit as light traffic wraps
   * around it. */
  if (q->head == q->tail)
    q->head = q->tail = 0;
  tx_batch *b = &q->slot[q->tail % TX_SLOTS];
  pthread_mutex_unlock(&q->mu);
  return b;
}

/* Queues the slot tx_free_slot() returned, now filled. */
static void tx_push(tx_queue *q) {
  pthread_mutex_lock(&q->mu);
  q->tail++;
  pthread_cond_signal(&q->ready);
  pthread_mutex_unlock(&q->mu);
}

/* Takes every datagram the core has to send now and queues them for the
 * sender thread in batches. Only called after the store committed (see
 * the file comment). */
static void flush_tx(app *a) {
  for (;;) {
    mc_tstamp now = mc_udp_now_us();
    tx_batch *b = tx_free_slot(&a->tx);
    unsigned n = 0;
    mc_addr to;
    size_t len;
    while (n < BATCH && mc_server_poll_tx(a->srv, now, &to, b->buf[n],
                                          sizeof b->buf[n], &len) == 1) {
      socklen_t tolen = addr_to_sockaddr(&to, &b->to[n]);
      b->iov[n] = (struct iovec){.iov_base = b->buf[n], .iov_len = len};
      b->msg[n] = (struct mmsghdr){
          .msg_hdr = {.msg_name = &b->to[n], .msg_namelen = tolen,
                      .msg_iov = &b->iov[n], .msg_iovlen = 1}};
      n++;
    }
    if (n == 0)
      return;
    b->n = n;
    tx_push(&a->tx);
    if (n < BATCH)
      return;
  }
}

/* Starts the sender thread on socket |fd|. Returns 0 or an errno value. */
static int tx_start(tx_queue *q, int fd) {
  q->slot = malloc(TX_SLOTS * sizeof *q->slot);
  if (q->slot == NULL)
    return ENOMEM;
  q->fd = fd;
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->ready, NULL);
  pthread_cond_init(&q->space, NULL);
  return pthread_create(&q->thread, NULL, tx_main, q);
}

/* Lets the sender send what is queued, and waits for it to end. */
static void tx_stop(tx_queue *q) {
  pthread_mutex_lock(&q->mu);
  q->stop = 1;
  pthread_cond_signal(&q->ready);
  pthread_mutex_unlock(&q->mu);
  pthread_join(q->thread, NULL);
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->ready);
  pthread_cond_destroy(&q->space);
  free(q->slot);
}

/* Gives every new password job to the workers. A job the pool cannot take
 * (out of memory) is handed back failed, so its client gets an answer. */
static void dispatch_auth(app *a) {
  mc_auth_job job;
  /* One job per free worker: the core picks the next one when a worker is
   * free, so its order (Logins first, prefixes in turn: MC-136) holds
   * instead of a FIFO in the pool. */
  while (a->auth_busy < AUTH_THREADS && mc_server_poll_auth(a->srv, &job)) {
    if (mc_authpool_submit(a->auth, &job) == 0) {
      a->auth_busy++;
    } else {
      job.result = MC_ERR_NOMEM;
      sodium_memzero(job.password, sizeof job.password);
      txn_begin(a);
      mc_server_auth_done(a->srv, &job, mc_udp_now_us());
      txn_commit(a);
    }
  }
}

/* ------------------------------------------------------------------ */
/* event handlers                                                      */

/* Reads one batch into rx_msg. Returns how many datagrams, or 0. */
static int recv_batch(app *a) {
  for (unsigned i = 0; i < BATCH; i++) {
    a->rx_iov[i] = (struct iovec){.iov_base = a->rx_buf + (size_t)i * RX_MAX,
                                  .iov_len = RX_MAX};
    a->rx_msg[i] = (struct mmsghdr){
        .msg_hdr = {.msg_name = &a->rx_from[i],
                    .msg_namelen = sizeof a->rx_from[i],
                    .msg_iov = &a->rx_iov[i], .msg_iovlen = 1}};
  }
  int n = recvmmsg(a->fd, a->rx_msg, BATCH, MSG_DONTWAIT, NULL);
  return n > 0 ? n : 0; /* EAGAIN, EINTR, or an ICMP error from a send */
}

/* Takes up to RX_ROUNDS full batches in one transaction: the commit's
 * fsync, which costs as much as handling dozens of datagrams, is then paid
 * once for all of them when the socket is busy. */
static void on_socket(app *a) {
  int n = recv_batch(a);
  if (n == 0)
    return;
  txn_begin(a);
  for (int round = 1;; round++) {
    mc_tstamp now = mc_udp_now_us();
    for (int i = 0; i < n; i++) {
      const struct msghdr *h = &a->rx_msg[i].msg_hdr;
      if (h->msg_flags & MSG_TRUNC) {
        /* Cut short it could look valid; it is too big for MyChat anyway. */
        a->rx_oversize++;
        continue;
      }
      mc_addr from;
      addr_from_sockaddr(&from, &a->rx_from[i]);
      mc_server_recv(a->srv, &from, a->rx_buf + (size_t)i * RX_MAX,
                     a->rx_msg[i].msg_len, now);
    }
    if (n < BATCH || round == RX_ROUNDS || (n = recv_batch(a)) == 0)
      break;
  }
  txn_commit(a);
}

static void on_auth(app *a) {
  mc_auth_job job;
  int any = 0;
  while (mc_authpool_take(a->auth, &job)) {
    a->auth_busy--;
    if (!any) {
      txn_begin(a);
      any = 1;
    }
    mc_server_auth_done(a->srv, &job, mc_udp_now_us());
  }
  if (any)
    txn_commit(a);
}

static void on_expiry(app *a) {
  mc_tstamp now = mc_udp_now_us();
  if (mc_server_expiry(a->srv) > now)
    return;
  txn_begin(a);
  mc_server_handle_expiry(a->srv, now);
  txn_commit(a);
}

static void on_signal(app *a) {
  struct signalfd_siginfo si;
  while (read(a->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
    a->stop = 1;
}

/* Handles the console lines in |buf|; only "E" (or "e") means anything. */
static void console_feed(app *a, const char *buf, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (buf[i] != '\n') {
      if (a->console_len < sizeof a->console - 1)
        a->console[a->console_len++] = buf[i];
      continue;
    }
    a->console[a->console_len] = '\0';
    a->console_len = 0;
    char *s = a->console;
    while (*s == ' ' || *s == '\t')
      s++;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
                       s[len - 1] == '\r'))
      len--;
    if (len == 1 && (s[0] == 'E' || s[0] == 'e'))
      a->stop = 1;
  }
}

/* Stdin at EOF (or failing) only stops being watched: a server started with
 * </dev/null or in the background keeps running. */
static void console_close(app *a) {
  if (a->stdin_open)
    epoll_ctl(a->ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
  a->stdin_open = 0;
}

static void on_stdin(app *a) {
  char buf[512];
  ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
  if (r > 0)
    console_feed(a, buf, (size_t)r);
  else if (r == 0 || (errno != EINTR && errno != EAGAIN))
    console_close(a);
}

/* Whether stdin is the console. A terminal whose foreground process group is
 * not ours (the server was started with '&') is not: reading it would stop
 * the server with SIGTTIN. Pipes and files are, so scripts can send "E". */
static int console_wanted(const options *o) {
  if (o->no_console)
    return 0;
  if (!isatty(STDIN_FILENO))
    return 1;
  return tcgetpgrp(STDIN_FILENO) == getpgrp();
}

/* A stdin epoll cannot watch (a regular file) is read to its end at once. */
static void console_slurp(app *a) {
  char buf[512];
  ssize_t r;
  while ((r = read(STDIN_FILENO, buf, sizeof buf)) > 0)
    console_feed(a, buf, (size_t)r);
}

/* ------------------------------------------------------------------ */
/* setup and the loop                                                  */

static int epoll_timeout(app *a) {
  mc_tstamp exp = mc_server_expiry(a->srv);
  if (exp == MC_TSTAMP_NEVER)
    return -1;
  mc_tstamp now = mc_udp_now_us();
  if (exp <= now)
    return 0;
  mc_tstamp ms = (exp - now + MC_MSEC - 1) / MC_MSEC; /* never early */
  return ms > INT_MAX ? INT_MAX : (int)ms;
}

static int watch(app *a, int fd) {
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  return epoll_ctl(a->ep, EPOLL_CTL_ADD, fd, &ev);
}

static void fail(const char *what) {
  fprintf(stderr, PROG ": %s: %s\n", what, strerror(errno));
  exit(1);
}

static void setup(app *a, options *o) {
  char err[512];
  if (o->log) {
    a->log = fopen(o->log, "a");
    if (a->log == NULL) {
      fprintf(stderr, PROG ": open(%s): %s\n", o->log, strerror(errno));
      exit(1);
    }
  } else {
    a->log = stderr;
  }
  /* One write() per loop turn instead of one per line: run() flushes after
   * each turn, and exit() (also txn_commit's) flushes what is left. */
  setvbuf(a->log, NULL, _IOFBF, LOG_BUF);

  /* A closed stdout must not kill us; nor may a file-size limit kill us
   * in a database write or in taking the storage reserve: the write then
   * fails with EFBIG (a commit that fails is reported by txn_commit(); a
   * reserve that does not fit is not taken). */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);

  /* Only this thread touches the database; the auth workers never do. */
  if (mc_sqlstore_single_thread() < 0) {
    fprintf(stderr, PROG ": SQLite: cannot turn its locking off\n");
    exit(1);
  }
  if (mc_sqlstore_open(o->db, &a->db, err, sizeof err) < 0) {
    fprintf(stderr, PROG ": %s\n", err);
    exit(1);
  }
  if (mc_sqlstore_set_reserve(a->db, STORE_RESERVE) < 0) {
    errno = ENOMEM;
    fail("storage reserve");
  }
  mc_store store;
  mc_sqlstore_as_store(a->db, &store);

  struct sockaddr_storage sa;
  socklen_t salen;
  if (mc_udp_resolve(o->host, o->port, &sa, &salen, err, sizeof err) < 0) {
    fprintf(stderr, PROG ": --host %s\n", err);
    exit(1);
  }
  a->fd = mc_udp_bind((struct sockaddr *)&sa, salen, err, sizeof err);
  if (a->fd < 0) {
    fprintf(stderr, PROG ": %s\n", err);
    exit(1);
  }
  int rcv, snd;
  if (mc_udp_set_buffers(a->fd, SOCK_BUF, &rcv, &snd, err, sizeof err) < 0) {
    fprintf(stderr, PROG ": %s\n", err);
    exit(1);
  }
  /* Without CAP_NET_ADMIN the kernel caps the buffers at net.core.rmem_max
   * and wmem_max, and a busy server then drops what arrives during a
   * commit: the operator must hear of it. Linux reports twice the size
   * asked for (it counts its bookkeeping), so less than that was capped. */
  if (rcv < 2 * SOCK_BUF || snd < 2 * SOCK_BUF) {
    fprintf(stderr, PROG ": socket buffers capped by the kernel: receive %d, "
            "send %d bytes granted for %d asked (raise net.core.rmem_max "
            "and wmem_max, or give CAP_NET_ADMIN)\n", rcv / 2, snd / 2,
            SOCK_BUF);
    fprintf(a->log, "socket buffers capped: receive %d, send %d of %d\n",
            rcv / 2, snd / 2, SOCK_BUF);
  }
  if (mc_udp_local(a->fd, &sa, &salen, err, sizeof err) < 0) {
    fprintf(stderr, PROG ": %s\n", err);
    exit(1);
  }

  /* Signals arrive through the loop, so shutdown runs in one place. They
   * are blocked before the workers start, which inherit the mask: a
   * SIGTERM must never land on a worker and kill the process unclean. */
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0)
    fail("pthread_sigmask");
  a->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (a->sigfd < 0)
    fail("signalfd");

  a->auth = mc_authpool_new(AUTH_THREADS, err, sizeof err);
  if (a->auth == NULL) {
    fprintf(stderr, PROG ": %s\n", err);
    exit(1);
  }
  a->rx_buf = malloc((size_t)BATCH * RX_MAX);
  if (a->rx_buf == NULL) {
    errno = ENOMEM;
    fail("receive buffers");
  }
  /* After the signal mask, like the auth workers. */
  if ((errno = tx_start(&a->tx, a->fd)) != 0)
    fail("sender thread");

  a->wall_offset_ms = mc_udp_wall_offset_ms();
  mc_rate_init(&a->log_rate, LOG_BURST, mc_udp_now_us());
  o->cfg.wall_offset_ms = a->wall_offset_ms;
  /* A new key every start: no one can learn, from one run, which names and
   * addresses share a place in the rate-limit table of the next. */
  randombytes_buf(o->cfg.rate_key, sizeof o->cfg.rate_key);
  mc_server_callbacks cb = {.user_data = a, .random = cb_random, .log = cb_log};
  a->srv = mc_server_new(&o->cfg, &store, &cb);
  if (a->srv == NULL) {
    errno = ENOMEM;
    fail("server");
  }

  a->ep = epoll_create1(EPOLL_CLOEXEC);
  if (a->ep < 0)
    fail("epoll_create1");
  if (watch(a, a->fd) < 0 || watch(a, a->sigfd) < 0 ||
      watch(a, mc_authpool_fd(a->auth)) < 0)
    fail("epoll_ctl");
  int console = console_wanted(o);
  a->stdin_open = console && watch(a, STDIN_FILENO) == 0;

  char where[MC_UDP_ADDRSTRLEN];
  printf("--> [MyChat server is now online] %s\n",
         mc_udp_format((struct sockaddr *)&sa, salen, where, sizeof where));
  if (console)
    printf("--> [type 'E' and press ENTER to turn server off]\n");
  else
    printf("--> [no console: SIGTERM or SIGINT turns server off]\n");
  fflush(stdout);
  if (console && !a->stdin_open)
    console_slurp(a);
}

static void run(app *a) {
  while (!a->stop) {
    struct epoll_event evs[8];
    int n = epoll_wait(a->ep, evs, 8, epoll_timeout(a));
    if (n < 0 && errno != EINTR)
      fail("epoll_wait");
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == a->fd)
        on_socket(a);
      else if (fd == a->sigfd)
        on_signal(a);
      else if (fd == STDIN_FILENO)
        on_stdin(a);
      else
        on_auth(a);
    }
    on_expiry(a);
    flush_tx(a);
    dispatch_auth(a);
    fflush(a->log);
  }
}

static void teardown(app *a) {
  txn_begin(a);
  mc_server_shutdown(a->srv, mc_udp_now_us());
  txn_commit(a);
  flush_tx(a);
  tx_stop(&a->tx);
  mc_authpool_del(a->auth);

  const mc_server_stats *st = mc_server_get_stats(a->srv);
  fprintf(a->log,
          "stats rx=%" PRIu64 " rx_bytes=%" PRIu64 " malformed=%" PRIu64
          " bad_session=%" PRIu64 " oversize=%" PRIu64 " tx=%" PRIu64
          " tx_dropped=%" PRIu64 " logins=%" PRIu64 " registrations=%" PRIu64
          " messages=%" PRIu64 " retransmissions=%" PRIu64
          " log_suppressed=%" PRIu64 " log_dropped=%" PRIu64
          " quota_refused=%" PRIu64 "\n",
          st->rx_datagrams, st->rx_bytes, st->rx_malformed,
          st->rx_bad_session, a->rx_oversize, st->tx_datagrams, a->tx.dropped,
          st->logins, st->registrations, st->messages_stored,
          st->retransmissions, a->log_suppressed_total, st->log_dropped,
          st->quota_refused);
  mc_server_del(a->srv);
  mc_sqlstore_close(a->db);
  close(a->ep);
  close(a->sigfd);
  close(a->fd);
  free(a->rx_buf);
  if (a->log != stderr)
    fclose(a->log);
  printf("--> [MyChat server is now offline]\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  options o;
  parse_args(argc, argv, &o);
  if (sodium_init() < 0) {
    fprintf(stderr, PROG ": libsodium could not be initialised\n");
    return 1;
  }
  static app a;
  setup(&a, &o);
  run(&a);
  teardown(&a);
  return 0;
}
