/*
 * mc-bench-server: throughput and memory benchmark of the reference server.
 *
 * One run, loopback only, bounded in time, three measurements:
 *
 * 1. Chat. A real mychat-server (started here on a free 127.0.0.1 port with
 *    a temporary database, --hash-cost min, a generous --rate-burst,
 *    --msg-burst and --quota-bytes (the quotas are checked, never
 *    reached: a long run of long texts from few clients would pass the
 *    default 100 MiB per user); or a running one given with --attach)
 *    and --clients clients of lib/mc_client living in this one process,
 *    spread over --sockets UDP sockets and driven by one epoll loop. The
 *    clients register, pair up (0-1, 2-3, ...) and
 *    send each other direct messages whenever they have fewer than --window
 *    messages unconfirmed, for --seconds after --warmup. Figure: messages
 *    arriving at their recipients (MC_CEV_MESSAGE) per second, and the
 *    datagrams per second the server took in and sent out: what the clients
 *    sent and received, less what the kernel dropped for a full receive
 *    buffer.
 * 2. Echo. The ceiling of this machine for the same traffic: a child
 *    process echoing with recvmmsg and sendmmsg of up to 64 datagrams (the
 *    server's batch), and the same sockets, batching and loop on the client
 *    side, sending datagrams of the sizes the chat phase used.
 *    Figure: round trips per second. The ratios of 1 to 2 are the result:
 *    ratios against a baseline of the same run, not absolute numbers, since
 *    the machine is shared.
 * 3. Storage. The ceiling of the store alone: an mc_sqlstore (WAL,
 *    synchronous=FULL) in the same temporary place, fed the store calls the
 *    server core makes for each direct message (name lookup, insert with
 *    its duplicate check, delivery, receipt query, receipt done) between the
 *    same clients, --store-batch messages per transaction, for --seconds
 *    after --warmup, without any network. Figure: messages per second;
 *    next to the chat figure it tells whether the store or the rest binds.
 * 4. Memory. A fresh server, --idle-clients sessions logged in and left
 *    idle with keepalives flowing for --idle-seconds; the server's VmRSS
 *    before the sessions, with half of them and with all of them, and the
 *    differences per session.
 *
 * Thousands of clients share a few sockets: the server answers to the
 * source address and finds sessions by id, so the datagrams that come back
 * are handed to their client by the envelope's session_id, or during the
 * handshake by the client_nonce the Welcome or Error echoes.
 *
 * Exit status: 0 when every phase ran, 1 when one failed (a server that did
 * not start, clients that could not log in), 2 for usage errors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mc_client.h"
#include "mc_codec.h"
#include "mc_error.h"
#include "mc_heap.h"
#include "mc_map.h"
#include "mc_sqlstore.h"
#include "mc_udp.h"

#define PROG "mc-bench-server"
#define BATCH 64                    /* datagrams per recvmmsg / sendmmsg */
#define RX_CAP (MC_DATAGRAM_MAX + 1) /* one byte more shows an oversize one */
#define RX_ROUNDS 4                 /* batches read from a socket per wakeup */
#define LOGINS_AT_ONCE 256          /* handshakes in flight at most */
#define SIZES_MAX 4096              /* chat datagram sizes kept for echo */
#define ECHO_LOSS_US (50 * MC_MSEC) /* an echo socket silent this long lost
                                       what it had in flight */
#define ECHO_SOCK_BUF (8 << 20)     /* as mychat-server's SOCK_BUF */
#define TICK_MS 100                 /* longest sleep: stop flag, progress */
#define PASSWORD "bench-password"
#define STOP_WAIT_US (15 * MC_SEC)  /* server shutdown before SIGKILL */
#define SETTLE_US (2 * MC_SEC)      /* after the first half of the logins */

typedef struct {
  const char *server_bin;
  const char *attach;            /* HOST:PORT of a running server, or NULL */
  long server_pid;               /* its pid, for VmRSS (0: unknown) */
  const char *tmp_parent;
  unsigned clients, sockets, window, text_len, echo_inflight;
  unsigned idle_clients;
  unsigned store_batch;          /* messages per transaction, phase 3 */
  double seconds, warmup, idle_seconds;
} options;

/* Counters of one phase; snapshots at the start and end of the measured
 * window are subtracted. */
typedef struct {
  uint64_t tx;                   /* datagrams queued to the server */
  uint64_t tx_dropped;           /* of which the socket refused */
  uint64_t rx;                   /* datagrams received from the server */
  uint64_t unrouted;             /* received, but no client owns them */
  uint64_t delivered;            /* MC_CEV_MESSAGE at recipients */
  uint64_t confirmed;            /* MC_CEV_SENT at senders */
  uint64_t closed, failed;       /* sessions lost, logins refused */
  uint64_t echo_lost;            /* echo datagrams given up as lost */
} counters;

typedef struct {
  int fd;
  unsigned tx_n;                 /* datagrams queued in tx_buf */
  unsigned inflight;             /* echo: sent, not yet back */
  mc_tstamp last_rx, last_tx;    /* echo: loss detection */
  struct mmsghdr tx_msg[BATCH];
  struct iovec tx_iov[BATCH];
  uint8_t tx_buf[BATCH][MC_DATAGRAM_MAX];
} vsock;

typedef struct {
  mc_client *c;
  uint32_t sock;                 /* index into bench.socks */
  uint32_t peer;                 /* partner in the chat phase */
  mc_tstamp timer;               /* earliest entry in the timer heap, or
                                    MC_TSTAMP_NEVER when it has none */
  int dirty;                     /* on the dirty list */
  int connected;
  char name[MC_NAME_MAX + 1];
} vclient;

/* uint64 -> client index (the core's map); keys are never removed (a
 * client connects once). */
typedef mc__map table;

typedef struct {
  mc_tstamp t;
  uint32_t who;
} tnode;

typedef struct {
  const options *o;
  struct sockaddr_storage srv;
  socklen_t srv_len;
  int ep;
  vsock *socks;
  unsigned n_socks;
  vclient *cl;
  unsigned n_cl;
  unsigned next_login;           /* clients [0, next_login) were started */
  unsigned login_limit;          /* ... and [0, login_limit) are to be */
  unsigned n_connected;
  int sending;                   /* chat phase: keep windows full */
  int record;                    /* keep datagram sizes for the echo */
  table by_nonce, by_session;
  mc__heap timers;               /* of tnode, earliest first */
  uint32_t *dirty;
  size_t n_dirty;
  counters cnt;
  char text[MC_TEXT_MAX + 1];
  uint16_t sizes[SIZES_MAX];
  size_t n_sizes, next_size;
  struct mmsghdr rx_msg[BATCH];
  struct iovec rx_iov[BATCH];
  uint8_t rx_buf[BATCH][RX_CAP];
} bench;

typedef struct {
  pid_t pid;
  int in;                        /* its stdin: "E\n" turns it off */
  char dir[256];                 /* temporary directory, "" if none */
} server_proc;

static volatile sig_atomic_t g_stop;
static server_proc g_srv = {.pid = 0, .in = -1, .dir = ""};
static pid_t g_echo_pid;

static void on_stop_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fflush(stdout);
}

static _Noreturn void die(const char *fmt, ...);

/* ------------------------------------------------------------------ */
/* options                                                             */

static void usage(FILE *f) {
  fprintf(f,
          "usage: " PROG " [options]\n"
          "  --server PATH       mychat-server to start (default\n"
          "                      build/mychat-server)\n"
          "  --attach HOST:PORT  use a running server instead\n"
          "  --server-pid PID    its pid, for the memory figure\n"
          "  --clients N         chat clients, paired (default 200)\n"
          "  --sockets N         UDP sockets the clients share (default 32)\n"
          "  --window N          unconfirmed messages per client (default 32)\n"
          "  --text-len N        bytes of message text (default 64)\n"
          "  --seconds S         measured time of each phase (default 10)\n"
          "  --warmup S          unmeasured time before it (default 1)\n"
          "  --echo-inflight N   echo datagrams in flight per socket\n"
          "                      (default 8)\n"
          "  --store-batch N     messages per transaction in the storage\n"
          "                      phase (default 1024, about what the\n"
          "                      server commits at once under the chat\n"
          "                      load; 0 skips it)\n"
          "  --idle-clients N    idle sessions for the memory figure\n"
          "                      (default 10000; 0 skips it)\n"
          "  --idle-seconds S    how long they idle (default 7)\n"
          "  --tmp DIR           where the temporary database goes\n"
          "                      (default $TMPDIR or /tmp)\n"
          "  -h, --help          show this help\n");
}

static _Noreturn void usage_error(const char *what, const char *arg) {
  fprintf(stderr, PROG ": %s '%s'\nTry '" PROG " --help' for usage.\n", what,
          arg);
  exit(2);
}

static unsigned parse_uint(const char *s, unsigned min, unsigned max) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < min ||
      v > max)
    usage_error("bad number", s);
  return (unsigned)v;
}

static double parse_secs(const char *s, double max) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || errno != 0 || !(v >= 0.0) || v > max)
    usage_error("bad number of seconds", s);
  return v;
}

static void parse_args(int argc, char **argv, options *o) {
  enum {
    O_SERVER = 256, O_ATTACH, O_PID, O_CLIENTS, O_SOCKETS, O_WINDOW, O_TEXT,
    O_SECONDS, O_WARMUP, O_ECHO, O_IDLE, O_IDLE_SECS, O_TMP, O_STORE
  };
  static const struct option longopts[] = {
      {"server", required_argument, NULL, O_SERVER},
      {"attach", required_argument, NULL, O_ATTACH},
      {"server-pid", required_argument, NULL, O_PID},
      {"clients", required_argument, NULL, O_CLIENTS},
      {"sockets", required_argument, NULL, O_SOCKETS},
      {"window", required_argument, NULL, O_WINDOW},
      {"text-len", required_argument, NULL, O_TEXT},
      {"seconds", required_argument, NULL, O_SECONDS},
      {"warmup", required_argument, NULL, O_WARMUP},
      {"echo-inflight", required_argument, NULL, O_ECHO},
      {"store-batch", required_argument, NULL, O_STORE},
      {"idle-clients", required_argument, NULL, O_IDLE},
      {"idle-seconds", required_argument, NULL, O_IDLE_SECS},
      {"tmp", required_argument, NULL, O_TMP},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *tmpdir = getenv("TMPDIR");
  *o = (options){.server_bin = "build/mychat-server",
                 .tmp_parent = tmpdir && tmpdir[0] ? tmpdir : "/tmp",
                 .clients = 200, .sockets = 32, .window = 32, .text_len = 64,
                 .echo_inflight = 8, .idle_clients = 10000,
                 .store_batch = 1024,
                 .seconds = 10, .warmup = 1, .idle_seconds = 7};
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case O_SERVER: o->server_bin = optarg; break;
    case O_ATTACH: o->attach = optarg; break;
    case O_PID: o->server_pid = (long)parse_uint(optarg, 1, 1u << 30); break;
    case O_CLIENTS: o->clients = parse_uint(optarg, 2, 20000) & ~1u; break;
    case O_SOCKETS: o->sockets = parse_uint(optarg, 1, 1024); break;
    case O_WINDOW: o->window = parse_uint(optarg, 1, 1024); break;
    case O_TEXT: o->text_len = parse_uint(optarg, 1, MC_TEXT_MAX); break;
    case O_SECONDS: o->seconds = parse_secs(optarg, 600); break;
    case O_WARMUP: o->warmup = parse_secs(optarg, 60); break;
    case O_ECHO: o->echo_inflight = parse_uint(optarg, 1, 4096); break;
    case O_STORE: o->store_batch = parse_uint(optarg, 0, 100000); break;
    case O_IDLE: o->idle_clients = parse_uint(optarg, 0, 50000); break;
    case O_IDLE_SECS: o->idle_seconds = parse_secs(optarg, 600); break;
    case O_TMP: o->tmp_parent = optarg; break;
    case 'h': usage(stdout); exit(0);
    case ':': usage_error("option needs a value:", argv[optind - 1]);
    default: usage_error("unknown option", argv[optind - 1]);
    }
  }
  if (optind < argc)
    usage_error("unexpected argument", argv[optind]);
  if (o->seconds <= 0)
    usage_error("--seconds must be above 0:", "0");
}

/* ------------------------------------------------------------------ */
/* /proc readings                                                      */

/* The resident set of |pid| in bytes, or 0 when unreadable. */
static uint64_t proc_rss(long pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  uint64_t kb = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %" SCNu64, &kb) == 1)
      break;
  fclose(f);
  return kb * 1024;
}

/* CPU time (user + system) of |pid| in seconds, or 0 when unreadable. */
static double proc_cpu(long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* The command name may hold spaces; the fields we want follow its ')':
   * state is field 3, utime and stime fields 14 and 15. */
  const char *p = strrchr(buf, ')');
  unsigned long long ut, st;
  if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                                 "%*u %llu %llu", &ut, &st) != 2)
    return 0;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The 1-minute load average as text into |buf| ("?" when unreadable), a
 * hint of how busy the shared machine was. Returns |buf|. */
static const char *loadavg(char *buf, size_t cap) {
  FILE *f = fopen("/proc/loadavg", "r");
  double l;
  if (f != NULL && fscanf(f, "%lf", &l) == 1)
    snprintf(buf, cap, "%.2f", l);
  else
    snprintf(buf, cap, "?");
  if (f != NULL)
    fclose(f);
  return buf;
}

/* Datagrams the kernel dropped for a full receive buffer, machine-wide
 * (Udp RcvbufErrors of /proc/net/snmp), or 0 when unreadable. */
static uint64_t udp_rcvbuf_errors(void) {
  FILE *f = fopen("/proc/net/snmp", "r");
  if (f == NULL)
    return 0;
  char head[1024], vals[1024];
  uint64_t v = 0;
  while (fgets(head, sizeof head, f)) {
    if (strncmp(head, "Udp:", 4) != 0 || !fgets(vals, sizeof vals, f))
      continue;
    /* The first Udp: line names the columns, the second holds values. */
    char *hs, *vs;
    char *h = strtok_r(head, " \n", &hs), *x = strtok_r(vals, " \n", &vs);
    while (h && x) {
      if (strcmp(h, "RcvbufErrors") == 0) {
        v = strtoull(x, NULL, 10);
        break;
      }
      h = strtok_r(NULL, " \n", &hs);
      x = strtok_r(NULL, " \n", &vs);
    }
    break;
  }
  fclose(f);
  return v;
}

/* ------------------------------------------------------------------ */
/* the server process                                                  */

static void rm_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  struct dirent *e;
  char path[512];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* Waits up to |us| for |pid| to exit. Returns 1 when it did. */
static int wait_exit(pid_t pid, mc_tstamp us) {
  mc_tstamp until = mc_udp_now_us() + us;
  while (mc_udp_now_us() < until) {
    if (waitpid(pid, NULL, WNOHANG) == pid)
      return 1;
    usleep(10000);
  }
  return 0;
}

/* Prints the server's closing "stats" line from its log, if there is one. */
static void print_server_stats(const char *dir) {
  char path[512], line[1024], last[1024] = "";
  snprintf(path, sizeof path, "%s/server.log", dir);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "stats ", 6) == 0)
      snprintf(last, sizeof last, "%s", line);
  fclose(f);
  if (last[0])
    say("  server %s", last);
}

/* Turns the server off the way its console does ("E"), kills it if it does
 * not go within STOP_WAIT_US, and removes its temporary directory. */
static void server_stop(server_proc *sp) {
  if (sp->pid > 0) {
    if (sp->in >= 0 && write(sp->in, "E\n", 2) != 2)
      kill(sp->pid, SIGTERM);
    if (!wait_exit(sp->pid, STOP_WAIT_US)) {
      fprintf(stderr, PROG ": server %ld did not stop; killing it\n",
              (long)sp->pid);
      kill(sp->pid, SIGKILL);
      waitpid(sp->pid, NULL, 0);
    }
    sp->pid = 0;
  }
  if (sp->in >= 0)
    close(sp->in);
  sp->in = -1;
  if (sp->dir[0]) {
    print_server_stats(sp->dir);
    rm_tree(sp->dir);
    sp->dir[0] = '\0';
  }
}

static void cleanup(void) {
  if (g_echo_pid > 0) {
    kill(g_echo_pid, SIGKILL);
    waitpid(g_echo_pid, NULL, 0);
    g_echo_pid = 0;
  }
  server_stop(&g_srv);
}

static _Noreturn void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, PROG ": ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1); /* cleanup() runs from atexit */
}

/* Starts |bin| on a free loopback port with a fresh database in a new
 * temporary directory, and waits (at most 10 s) for its "now online" line
 * to learn the port. */
static void server_start(server_proc *sp, const char *bin,
                         const char *parent, struct sockaddr_storage *sa,
                         socklen_t *salen) {
  snprintf(sp->dir, sizeof sp->dir, "%s/mc-bench.XXXXXX", parent);
  if (mkdtemp(sp->dir) == NULL) {
    int e = errno;
    sp->dir[0] = '\0';
    die("mkdtemp(%s/mc-bench.XXXXXX): %s", parent, strerror(e));
  }
  char db[300], log[300], err[300];
  snprintf(db, sizeof db, "%s/chat.db", sp->dir);
  snprintf(log, sizeof log, "%s/server.log", sp->dir);
  snprintf(err, sizeof err, "%s/server.err", sp->dir);
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
    die("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0)
    die("fork: %s", strerror(errno));
  if (pid == 0) {
    /* The server must not outlive the bench, however the bench ends. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int efd = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (efd < 0 || dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 ||
        dup2(efd, 2) < 0)
      _exit(127);
    execl(bin, bin, "--host", "127.0.0.1", "--port", "0", "--db", db,
          "--log", log, "--hash-cost", "min", "--rate-burst", "1000000",
          "--auth-per-prefix", "100000", "--auth-queue-max", "200000",
          "--rate-refill-ms", "1", "--msg-burst", "1000000",
          "--msg-refill-ms", "1", "--quota-bytes", "1125899906842624",
          (char *)NULL);
    fprintf(stderr, "exec(%s): %s\n", bin, strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  sp->pid = pid;
  sp->in = in[1];

  char buf[512];
  size_t n = 0;
  mc_tstamp until = mc_udp_now_us() + 10 * MC_SEC;
  const char *online = NULL;
  while (online == NULL) {
    mc_tstamp now = mc_udp_now_us();
    struct pollfd p = {.fd = out[0], .events = POLLIN};
    if (now >= until || g_stop || poll(&p, 1, 100) < 0)
      break;
    if (!(p.revents & (POLLIN | POLLHUP)))
      continue;
    ssize_t r = read(out[0], buf + n, sizeof buf - 1 - n);
    if (r <= 0)
      break;
    n += (size_t)r;
    buf[n] = '\0';
    char *nl;
    if ((online = strstr(buf, "now online] ")) != NULL &&
        (nl = strchr(online, '\n')) != NULL)
      *nl = '\0';
    else
      online = NULL;
  }
  close(out[0]);
  if (online == NULL)
    die("%s did not come online within 10 s (see %s)", bin, err);
  char e[256];
  if (mc_udp_parse(online + strlen("now online] "), sa, salen, e,
                   sizeof e) < 0)
    die("server address: %s", e);
}

/* ------------------------------------------------------------------ */
/* client index tables and the timer heap                              */

/* Sized for |n| keys up front, so the map never rehashes mid-run. */
static void table_init(table *t, size_t n) {
  mc__map_init(t, NULL);
  if (mc__map_reserve(t, n) < 0)
    die("out of memory");
}

/* Maps non-zero |key| to |val|. */
static void table_put(table *t, uint64_t key, uint32_t val) {
  if (key == 0)
    return;
  uint64_t *v = mc__map_at(t, key);
  if (v == NULL)
    die("out of memory");
  *v = val;
}

/* Returns 1 with |*val| set when |key| is mapped, else 0. */
static int table_get(const table *t, uint64_t key, uint32_t *val) {
  const uint64_t *v = mc__map_find(t, key);
  if (v == NULL)
    return 0;
  *val = (uint32_t)*v;
  return 1;
}

static int tnode_less(const void *a, const void *b) {
  return ((const tnode *)a)->t < ((const tnode *)b)->t;
}

static void heap_push(bench *b, mc_tstamp t, uint32_t who) {
  tnode n = {.t = t, .who = who};
  if (mc__heap_push(&b->timers, &n) < 0)
    die("out of memory");
}

/* ------------------------------------------------------------------ */
/* sockets                                                             */

static void socks_open(bench *b, const struct sockaddr_storage *to,
                       socklen_t tolen) {
  b->socks = calloc(b->n_socks, sizeof *b->socks);
  if (b->socks == NULL)
    die("out of memory");
  b->ep = epoll_create1(EPOLL_CLOEXEC);
  if (b->ep < 0)
    die("epoll_create1: %s", strerror(errno));
  for (unsigned i = 0; i < b->n_socks; i++) {
    vsock *s = &b->socks[i];
    char err[256];
    s->fd = mc_udp_connect((const struct sockaddr *)to, tolen, err,
                           sizeof err);
    if (s->fd < 0)
      die("%s", err);
    for (unsigned k = 0; k < BATCH; k++) {
      s->tx_iov[k].iov_base = s->tx_buf[k];
      s->tx_msg[k].msg_hdr.msg_iov = &s->tx_iov[k];
      s->tx_msg[k].msg_hdr.msg_iovlen = 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    if (epoll_ctl(b->ep, EPOLL_CTL_ADD, s->fd, &ev) < 0)
      die("epoll_ctl: %s", strerror(errno));
  }
  for (unsigned k = 0; k < BATCH; k++) {
    b->rx_iov[k] = (struct iovec){.iov_base = b->rx_buf[k], .iov_len = RX_CAP};
    b->rx_msg[k].msg_hdr.msg_iov = &b->rx_iov[k];
    b->rx_msg[k].msg_hdr.msg_iovlen = 1;
  }
}

static void socks_close(bench *b) {
  for (unsigned i = 0; i < b->n_socks; i++)
    close(b->socks[i].fd);
  free(b->socks);
  b->socks = NULL;
  close(b->ep);
}

/* Sends what |s| has queued. A datagram the socket refuses is dropped, as
 * the server drops them: the clients' ARQ sends it again. */
static void sock_flush(bench *b, vsock *s) {
  unsigned i = 0;
  while (i < s->tx_n) {
    int r = sendmmsg(s->fd, s->tx_msg + i, s->tx_n - i, 0);
    if (r > 0) {
      i += (unsigned)r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      b->cnt.tx_dropped += s->tx_n - i;
      break;
    }
  }
  s->tx_n = 0;
}

static void socks_flush(bench *b) {
  for (unsigned i = 0; i < b->n_socks; i++)
    if (b->socks[i].tx_n > 0)
      sock_flush(b, &b->socks[i]);
}

/* A free slot in |s|'s send batch, sending the batch first when full. */
static unsigned sock_slot(bench *b, vsock *s) {
  if (s->tx_n == BATCH)
    sock_flush(b, s);
  return s->tx_n;
}

static void record_size(bench *b, size_t len) {
  if (!b->record)
    return;
  b->sizes[b->next_size] = (uint16_t)len;
  b->next_size = (b->next_size + 1) % SIZES_MAX;
  if (b->n_sizes < SIZES_MAX)
    b->n_sizes++;
}

/* Reads up to RX_ROUNDS batches from |s| and hands each datagram to |rx|.
 * The bound keeps one busy socket from starving the others. */
static void sock_recv(bench *b, vsock *s,
                      void (*rx)(bench *, vsock *, const uint8_t *, size_t,
                                 mc_tstamp)) {
  for (int round = 0; round < RX_ROUNDS; round++) {
    int n = recvmmsg(s->fd, b->rx_msg, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
      return;
    mc_tstamp now = mc_udp_now_us();
    for (int i = 0; i < n; i++) {
      b->cnt.rx++;
      if (b->rx_msg[i].msg_hdr.msg_flags & MSG_TRUNC)
        continue;
      record_size(b, b->rx_msg[i].msg_len);
      rx(b, s, b->rx_buf[i], b->rx_msg[i].msg_len, now);
    }
    if (n < BATCH)
      return;
  }
}

/* Milliseconds from |now| until |t| for epoll_wait, at most TICK_MS. */
static int wait_ms(mc_tstamp now, mc_tstamp t) {
  if (t <= now)
    return 0;
  mc_tstamp ms = (t - now + MC_MSEC - 1) / MC_MSEC;
  return ms > TICK_MS ? TICK_MS : (int)ms;
}

/* ------------------------------------------------------------------ */
/* chat clients                                                        */

static void cb_random(void *user_data, uint8_t *buf, size_t len) {
  (void)user_data;
  randombytes_buf(buf, len);
}

static void mark_dirty(bench *b, uint32_t who) {
  if (!b->cl[who].dirty) {
    b->cl[who].dirty = 1;
    b->dirty[b->n_dirty++] = who;
  }
}

/* Creates |n| clients named PREFIX<i> over |n_socks| sockets to the server
 * at b->srv; partners are neighbours (0-1, 2-3, ...). */
static void clients_new(bench *b, unsigned n, unsigned n_socks,
                        const char *prefix) {
  b->n_socks = n_socks < n ? n_socks : n;
  socks_open(b, &b->srv, b->srv_len);
  b->n_cl = n;
  b->cl = calloc(n, sizeof *b->cl);
  b->dirty = calloc(n, sizeof *b->dirty);
  if (b->cl == NULL || b->dirty == NULL)
    die("out of memory");
  table_init(&b->by_nonce, n);
  table_init(&b->by_session, n);
  mc_client_config cfg;
  mc_client_config_default(&cfg);
  cfg.presence = 0; /* the clients join no group: none would come anyway */
  mc_client_callbacks cb = {.user_data = NULL, .random = cb_random};
  for (unsigned i = 0; i < n; i++) {
    vclient *v = &b->cl[i];
    v->c = mc_client_new(&cfg, &cb);
    if (v->c == NULL)
      die("out of memory");
    v->sock = i % b->n_socks;
    v->peer = i ^ 1u;
    v->timer = MC_TSTAMP_NEVER;
    snprintf(v->name, sizeof v->name, "%s%u", prefix, i);
  }
  b->next_login = b->n_connected = 0;
  b->login_limit = n;
  mc__heap_init(&b->timers, sizeof(tnode), tnode_less, NULL, NULL);
  b->n_dirty = 0;
  memset(&b->cnt, 0, sizeof b->cnt);
}

static void clients_del(bench *b) {
  for (unsigned i = 0; i < b->n_cl; i++)
    mc_client_del(b->cl[i].c);
  free(b->cl);
  free(b->dirty);
  b->cl = NULL;
  b->n_cl = 0;
  mc__map_free(&b->by_nonce);
  mc__map_free(&b->by_session);
  mc__heap_free(&b->timers);
  socks_close(b);
}

/* Queues |len| bytes of |v|'s from |buf| on its socket. */
static void client_queue(bench *b, vclient *v, const uint8_t *buf,
                         size_t len) {
  vsock *s = &b->socks[v->sock];
  unsigned k = sock_slot(b, s);
  memcpy(s->tx_buf[k], buf, len);
  s->tx_iov[k].iov_len = len;
  s->tx_n++;
  b->cnt.tx++;
  record_size(b, len);
}

/* Starts client |who|'s registration. Its client_nonce, which the answer
 * echoes, is read back from the Register datagram it builds. */
static void client_connect(bench *b, uint32_t who, mc_tstamp now) {
  vclient *v = &b->cl[who];
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len;
  mc_peek pk;
  if (mc_client_connect(v->c, v->name, PASSWORD, 1, now) < 0 ||
      !mc_client_poll_tx(v->c, now, buf, sizeof buf, &len) ||
      mc_codec_peek(buf, len, &pk) < 0)
    die("client %s cannot start its handshake", v->name);
  if (pk.body == MC_KIND_REGISTER)
    table_put(&b->by_nonce, pk.client_nonce, who);
  client_queue(b, v, buf, len);
  mark_dirty(b, who);
}

/* Finds the client a datagram from the server is for: by session id, else
 * (a handshake answer) by the nonce a Welcome or Error echoes; a Welcome
 * also teaches the session id. Returns 1 with |*who| set, or 0. The client
 * checks everything again, so a wrong guess costs only a rejection. */
static int route(bench *b, const uint8_t *d, size_t len, uint32_t *who) {
  mc_peek pk;
  if (mc_codec_peek(d, len, &pk) < 0)
    return 0;
  if (table_get(&b->by_session, pk.session_id, who))
    return 1;
  int found = 0;
  if (pk.body == MC_KIND_WELCOME) {
    found = table_get(&b->by_nonce, pk.client_nonce, who);
    if (found)
      table_put(&b->by_session, pk.welcome_session_id, *who);
  } else if (pk.body == MC_KIND_ERROR) {
    found = table_get(&b->by_nonce, pk.client_nonce, who);
  }
  return found;
}

static void chat_rx(bench *b, vsock *s, const uint8_t *d, size_t len,
                    mc_tstamp now) {
  (void)s;
  uint32_t who;
  if (!route(b, d, len, &who)) {
    b->cnt.unrouted++;
    return;
  }
  mc_client_recv(b->cl[who].c, d, len, now);
  mark_dirty(b, who);
}

static void client_event(bench *b, vclient *v, const mc_client_event *ev) {
  switch (ev->type) {
  case MC_CEV_CONNECTED:
    v->connected = 1;
    b->n_connected++;
    break;
  case MC_CEV_CONNECT_FAILED:
    b->cnt.failed++;
    fprintf(stderr, PROG ": %s: login failed: %d %s\n", v->name, ev->code,
            ev->text);
    break;
  case MC_CEV_CLOSED:
    b->cnt.closed++;
    if (v->connected)
      b->n_connected--;
    v->connected = 0;
    fprintf(stderr, PROG ": %s: session closed: %d/%d %s\n", v->name,
            ev->code, ev->lib_error, ev->text);
    break;
  case MC_CEV_MESSAGE: b->cnt.delivered++; break;
  case MC_CEV_SENT: b->cnt.confirmed++; break;
  default: break;
  }
}

/* Everything client |who| has to do now: take its events, fill its window
 * when sending, queue its datagrams, and keep its timer in the heap. */
static void client_service(bench *b, uint32_t who, mc_tstamp now) {
  vclient *v = &b->cl[who];
  mc_client_event ev;
  while (mc_client_poll_event(v->c, &ev))
    client_event(b, v, &ev);
  if (b->sending && v->connected && b->cl[v->peer].connected)
    while (mc_client_unconfirmed(v->c) < b->o->window &&
           mc_client_send_text(v->c, b->cl[v->peer].name, NULL, b->text, now,
                               NULL, NULL) == 0) {
    }
  vsock *s = &b->socks[v->sock];
  for (;;) {
    unsigned k = sock_slot(b, s);
    size_t len;
    if (mc_client_poll_tx(v->c, now, s->tx_buf[k], MC_DATAGRAM_MAX, &len) != 1)
      break;
    s->tx_iov[k].iov_len = len;
    s->tx_n++;
    b->cnt.tx++;
    record_size(b, len);
  }
  /* A heap entry later than the client's next deadline would come too
   * late; an earlier one only wakes it early, and it is then re-queued. */
  mc_tstamp t = mc_client_expiry(v->c);
  if (t < v->timer) {
    v->timer = t;
    heap_push(b, t, who);
  }
}

/* Runs the clients' timers that are due. */
static void clients_expire(bench *b, mc_tstamp now) {
  const tnode *first;
  while ((first = mc__heap_top(&b->timers)) != NULL && first->t <= now) {
    tnode n;
    mc__heap_pop(&b->timers, &n);
    vclient *v = &b->cl[n.who];
    if (n.t != v->timer)
      continue; /* superseded by an earlier entry, already run */
    v->timer = MC_TSTAMP_NEVER;
    mc_client_handle_expiry(v->c, now);
    mark_dirty(b, n.who);
  }
}

/* Starts handshakes while fewer than LOGINS_AT_ONCE are in flight. */
static void clients_login(bench *b, mc_tstamp now) {
  /* Every client started is in its handshake, connected, refused, or
   * closed after connecting. */
  while (b->next_login < b->login_limit &&
         b->next_login - b->n_connected - b->cnt.failed - b->cnt.closed <
             LOGINS_AT_ONCE)
    client_connect(b, b->next_login++, now);
}

static int all_logged_in(const bench *b) {
  return b->n_connected + b->cnt.failed + b->cnt.closed >= b->login_limit;
}

/* Messages sent and not yet confirmed, over every connected client. */
static size_t unconfirmed(const bench *b) {
  size_t n = 0;
  for (unsigned i = 0; i < b->n_cl; i++)
    if (b->cl[i].connected)
      n += mc_client_unconfirmed(b->cl[i].c);
  return n;
}

static int all_confirmed(const bench *b) { return unconfirmed(b) == 0; }

/* Runs the clients until |until|, or until |done| (may be NULL) holds.
 * |progress| (may be NULL) is called about once a second. */
static void chat_loop(bench *b, mc_tstamp until, int (*done)(const bench *),
                      void (*progress)(const bench *)) {
  mc_tstamp next_progress = mc_udp_now_us() + MC_SEC;
  while (!g_stop) {
    mc_tstamp now = mc_udp_now_us();
    if (now >= until || (done && done(b)))
      return;
    if (progress && now >= next_progress) {
      progress(b);
      next_progress = now + MC_SEC;
    }
    clients_login(b, now);
    for (size_t i = 0; i < b->n_dirty; i++) {
      b->cl[b->dirty[i]].dirty = 0;
      client_service(b, b->dirty[i], now);
    }
    b->n_dirty = 0;
    socks_flush(b);
    const tnode *first = mc__heap_top(&b->timers);
    mc_tstamp wake = first != NULL && first->t < until ? first->t : until;
    struct epoll_event evs[64];
    int n = epoll_wait(b->ep, evs, 64, wait_ms(now, wake));
    for (int i = 0; i < n; i++)
      sock_recv(b, &b->socks[evs[i].data.u32], chat_rx);
    clients_expire(b, mc_udp_now_us());
  }
}

static void login_progress(const bench *b) {
  say("  logging in: %u of %u connected\n", b->n_connected, b->login_limit);
}

/* Logs clients [0, login_limit) in, within a time bound that grows with
 * their number. Returns 0, or -1 when some could not (said on stderr). */
static int clients_login_all(bench *b) {
  mc_tstamp bound = (20 + b->login_limit / 200) * MC_SEC;
  mc_tstamp t0 = mc_udp_now_us();
  chat_loop(b, t0 + bound, all_logged_in, login_progress);
  double secs = (double)(mc_udp_now_us() - t0) / 1e6;
  say("  %u of %u clients logged in in %.1f s\n", b->n_connected,
      b->login_limit, secs);
  if (b->n_connected < b->login_limit) {
    fprintf(stderr, PROG ": only %u of %u clients logged in\n",
            b->n_connected, b->login_limit);
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* phase 1: chat throughput                                            */

typedef struct {
  double secs;
  double msgs;                   /* delivered messages per second */
  double dgrams;                 /* server datagrams in + out per second */
  double srv_cpu;                /* server CPU seconds per second, or -1 */
  double own_cpu;                /* this process's (the clients') */
  uint64_t kernel_drops;         /* machine-wide receive-buffer drops */
  counters d;                    /* counter differences */
} window_result;

static counters counters_sub(const counters *a, const counters *b) {
  return (counters){
      .tx = a->tx - b->tx, .tx_dropped = a->tx_dropped - b->tx_dropped,
      .rx = a->rx - b->rx, .unrouted = a->unrouted - b->unrouted,
      .delivered = a->delivered - b->delivered,
      .confirmed = a->confirmed - b->confirmed, .closed = a->closed - b->closed,
      .failed = a->failed - b->failed, .echo_lost = a->echo_lost - b->echo_lost};
}

/* Runs |loop| for the warmup, then for the measured seconds, and measures
 * the window between. |pid| is the server process (0: unknown). */
static window_result measure(bench *b, long pid,
                             void (*loop)(bench *, mc_tstamp)) {
  const options *o = b->o;
  loop(b, mc_udp_now_us() + (mc_tstamp)(o->warmup * 1e6));
  counters c0 = b->cnt;
  uint64_t drops0 = udp_rcvbuf_errors();
  double cpu0 = pid ? proc_cpu(pid) : 0, own0 = proc_cpu(getpid());
  mc_tstamp t0 = mc_udp_now_us();
  loop(b, t0 + (mc_tstamp)(o->seconds * 1e6));
  window_result r = {.secs = (double)(mc_udp_now_us() - t0) / 1e6};
  r.d = counters_sub(&b->cnt, &c0);
  r.kernel_drops = udp_rcvbuf_errors() - drops0;
  r.srv_cpu = pid ? (proc_cpu(pid) - cpu0) / r.secs : -1;
  r.own_cpu = (proc_cpu(getpid()) - own0) / r.secs;
  r.msgs = (double)r.d.delivered / r.secs;
  /* Receive-buffer drops are subtracted: what was dropped was not handled.
   * On loopback they are at the server's socket (/proc/net/udp showed all
   * of them there); the clients' sockets keep up. */
  r.dgrams = (double)(r.d.tx - r.d.tx_dropped + r.d.rx) / r.secs -
             (double)r.kernel_drops / r.secs;
  return r;
}

static void chat_run(bench *b, mc_tstamp until) {
  chat_loop(b, until, NULL, NULL);
}

static uint64_t clients_retransmissions(const bench *b) {
  uint64_t n = 0;
  for (unsigned i = 0; i < b->n_cl; i++) {
    const mc_arq *a = mc_client_get_arq(b->cl[i].c);
    if (a)
      n += mc_arq_get_stats(a)->tx_retrans;
  }
  return n;
}

/* Phase 1. Returns 0, or -1 when the clients could not log in. */
static int phase_chat(bench *b, long pid, const char *prefix,
                      window_result *r) {
  const options *o = b->o;
  say("chat: %u clients on %u sockets, window %u, %u-byte texts\n",
      o->clients, o->sockets, o->window, o->text_len);
  clients_new(b, o->clients, o->sockets, prefix);
  if (clients_login_all(b) < 0)
    return -1;
  for (unsigned i = 0; i < o->text_len; i++)
    b->text[i] = (char)('a' + i % 26);
  b->text[o->text_len] = '\0';
  b->sending = 1;
  for (unsigned i = 0; i < b->n_cl; i++)
    mark_dirty(b, i);
  say("  sending: %.1f s warmup, %.1f s measured\n", o->warmup, o->seconds);
  b->record = 1;
  *r = measure(b, pid, chat_run);
  b->record = 0;
  b->sending = 0;
  mc_tstamp t = mc_udp_now_us();
  chat_loop(b, t + 5 * MC_SEC, all_confirmed, NULL);
  say("  drained in %.2f s (%zu messages still unconfirmed); %" PRIu64
      " retransmissions by the clients; %" PRIu64 " sessions lost\n",
      (double)(mc_udp_now_us() - t) / 1e6, unconfirmed(b),
      clients_retransmissions(b), b->cnt.closed);
  clients_del(b);
  return 0;
}

/* ------------------------------------------------------------------ */
/* phase 2: echo ceiling                                               */

/* The echo server: per wakeup one recvmmsg and one sendmmsg of up to
 * BATCH, as mychat-server does. Killed by the parent when done. */
static _Noreturn void echo_child(int fd) {
  static uint8_t buf[BATCH][RX_CAP];
  static struct iovec iov[BATCH];
  static struct sockaddr_storage from[BATCH];
  static struct mmsghdr msg[BATCH];
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (;;) {
    for (unsigned i = 0; i < BATCH; i++) {
      iov[i] = (struct iovec){.iov_base = buf[i], .iov_len = RX_CAP};
      msg[i] = (struct mmsghdr){
          .msg_hdr = {.msg_name = &from[i], .msg_namelen = sizeof from[i],
                      .msg_iov = &iov[i], .msg_iovlen = 1}};
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, -1) < 0)
      continue;
    int n = recvmmsg(fd, msg, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
      continue;
    for (int i = 0; i < n; i++)
      iov[i].iov_len = msg[i].msg_len;
    int done = 0;
    while (done < n) {
      int r = sendmmsg(fd, msg + done, (unsigned)(n - done), 0);
      if (r > 0)
        done += r;
      else if (errno != EINTR)
        break;
    }
  }
}

static void echo_rx(bench *b, vsock *s, const uint8_t *d, size_t len,
                    mc_tstamp now) {
  (void)b;
  (void)d;
  (void)len;
  if (s->inflight > 0)
    s->inflight--;
  s->last_rx = now;
}

/* Keeps echo_inflight datagrams in flight on every socket, of the sizes
 * the chat used; a socket that hears nothing for ECHO_LOSS_US lost what it
 * had in flight. */
static void echo_fill(bench *b, mc_tstamp now) {
  for (unsigned i = 0; i < b->n_socks; i++) {
    vsock *s = &b->socks[i];
    if (s->inflight > 0 && now - s->last_rx > ECHO_LOSS_US &&
        now - s->last_tx > ECHO_LOSS_US) {
      b->cnt.echo_lost += s->inflight;
      s->inflight = 0;
    }
    while (s->inflight < b->o->echo_inflight) {
      unsigned k = sock_slot(b, s);
      size_t len = b->sizes[b->next_size];
      b->next_size = (b->next_size + 1) % b->n_sizes;
      memset(s->tx_buf[k], 'e', len);
      s->tx_iov[k].iov_len = len;
      s->tx_n++;
      s->inflight++;
      s->last_tx = now;
      b->cnt.tx++;
    }
  }
}

static void echo_run(bench *b, mc_tstamp until) {
  while (!g_stop) {
    mc_tstamp now = mc_udp_now_us();
    if (now >= until)
      return;
    echo_fill(b, now);
    socks_flush(b);
    struct epoll_event evs[64];
    int n = epoll_wait(b->ep, evs, 64, wait_ms(now, until));
    for (int i = 0; i < n; i++)
      sock_recv(b, &b->socks[evs[i].data.u32], echo_rx);
  }
}

static void phase_echo(bench *b, window_result *r) {
  const options *o = b->o;
  if (b->n_sizes == 0) {
    b->sizes[0] = 100;
    b->n_sizes = 1;
  }
  uint64_t bytes = 0;
  for (size_t i = 0; i < b->n_sizes; i++)
    bytes += b->sizes[i];
  b->next_size = 0;
  say("echo: %u sockets, %u in flight each, %zu datagram sizes of the chat "
      "(mean %.0f bytes)\n",
      o->sockets, o->echo_inflight, b->n_sizes,
      (double)bytes / (double)b->n_sizes);
  struct sockaddr_storage sa;
  socklen_t salen;
  char err[256];
  if (mc_udp_resolve("127.0.0.1", 0, &sa, &salen, err, sizeof err) < 0)
    die("%s", err);
  /* The server's socket buffers (mychat-server's SOCK_BUF), so that the
   * ceiling is that of the same socket: with the default ones the echo
   * lost datagrams to its receive buffer, each costing ECHO_LOSS_US. */
  int fd = mc_udp_bind((struct sockaddr *)&sa, salen, err, sizeof err);
  if (fd < 0 || mc_udp_set_buffers(fd, ECHO_SOCK_BUF, NULL, NULL, err,
                                   sizeof err) < 0 ||
      mc_udp_local(fd, &sa, &salen, err, sizeof err) < 0)
    die("%s", err);
  g_echo_pid = fork();
  if (g_echo_pid < 0)
    die("fork: %s", strerror(errno));
  if (g_echo_pid == 0)
    echo_child(fd);
  close(fd);

  b->n_socks = o->sockets;
  socks_open(b, &sa, salen);
  memset(&b->cnt, 0, sizeof b->cnt);
  *r = measure(b, g_echo_pid, echo_run);
  r->msgs = (double)r->d.rx / r->secs; /* round trips */
  kill(g_echo_pid, SIGKILL);
  waitpid(g_echo_pid, NULL, 0);
  g_echo_pid = 0;
  socks_close(b);
}

/* ------------------------------------------------------------------ */
/* phase 3: the store's own ceiling                                    */

/* Dies with the store's message unless |err| is 0. */
static void store_check(mc_sqlstore *ss, int err, const char *what) {
  if (err < 0)
    die("storage phase: %s: %s (%s)", what, mc_strerror(err),
        mc_sqlstore_errmsg(ss));
}

/* One direct message from |from| to |to| (named |to_name|), through the
 * store calls the server core makes for it: do_send's recipient lookup,
 * msg_add (which finds a resend itself), then on the recipient's ack
 * delivered(), the sender's receipts() and on its ack receipt_done(). */
static void store_one(mc_sqlstore *ss, const mc_store *st, uint64_t from,
                      uint64_t to, const char *to_name, uint64_t cmid,
                      const char *text, uint64_t *receipt_upto) {
  const mc_store_ops *ops = st->ops;
  mc_store_msg m;
  memset(&m, 0, sizeof m);
  m.sender_id = from;
  m.client_msg_id = cmid;
  snprintf(m.text, sizeof m.text, "%s", text);
  store_check(ss, ops->user_find(st->st, to_name, &m.to_id, NULL, 0),
              "user_find");
  snprintf(m.to, sizeof m.to, "%s", to_name);
  int dup;
  store_check(ss, ops->msg_add(st->st, &m, cmid, &dup), "msg_add");
  if (dup)
    store_check(ss, MC_ERR_EXISTS, "msg_add");
  store_check(ss, ops->delivered(st->st, to, &m, cmid), "delivered");
  mc_store_receipt r[16];
  size_t n;
  store_check(ss, ops->receipts(st->st, from, *receipt_upto, r, 16, &n),
              "receipts");
  for (size_t i = 0; i < n; i++) {
    store_check(ss, ops->receipt_done(st->st, r[i].message_id),
                "receipt_done");
    *receipt_upto = r[i].seq;
  }
}

typedef struct {
  double msgs;                   /* messages per second */
  double cpu_us;                 /* CPU microseconds per message */
} store_result;

/* Phase 3: messages per second through the store alone. */
static store_result phase_store(bench *b) {
  const options *o = b->o;
  char dir[256], path[300], err[512];
  snprintf(dir, sizeof dir, "%s/mc-bench.XXXXXX", o->tmp_parent);
  if (mkdtemp(dir) == NULL)
    die("mkdtemp(%s): %s", dir, strerror(errno));
  snprintf(path, sizeof path, "%s/store.db", dir);
  mc_sqlstore *ss;
  if (mc_sqlstore_open(path, &ss, err, sizeof err) < 0) {
    rm_tree(dir);
    die("storage phase: %s", err);
  }
  mc_store st;
  mc_sqlstore_as_store(ss, &st);
  unsigned n = o->clients;
  uint64_t *ids = calloc(n, sizeof *ids), *upto = calloc(n, sizeof *upto);
  char(*names)[MC_NAME_MAX + 1] = calloc(n, sizeof *names);
  if (!ids || !upto || !names)
    die("out of memory");
  store_check(ss, mc_sqlstore_begin(ss), "begin");
  for (unsigned i = 0; i < n; i++) {
    snprintf(names[i], sizeof names[i], "s%u", i);
    store_check(ss, st.ops->user_add(st.st, names[i], "bench-hash", &ids[i]),
                "user_add");
  }
  store_check(ss, mc_sqlstore_commit(ss), "commit");
  say("storage: %u users, %u messages per transaction, synchronous=FULL, "
      "in %s\n", n, o->store_batch, dir);
  uint64_t cmid = 0, done0 = 0;
  double cpu0 = 0;
  mc_tstamp warm = mc_udp_now_us() + (mc_tstamp)(o->warmup * 1e6), t0 = 0;
  mc_tstamp until = warm + (mc_tstamp)(o->seconds * 1e6);
  for (mc_tstamp now = mc_udp_now_us(); now < until && !g_stop;
       now = mc_udp_now_us()) {
    if (t0 == 0 && now >= warm) {
      t0 = now;
      done0 = cmid;
      cpu0 = proc_cpu(getpid());
    }
    store_check(ss, mc_sqlstore_begin(ss), "begin");
    for (unsigned k = 0; k < o->store_batch; k++, cmid++) {
      unsigned from = (unsigned)(cmid % n), to = from ^ 1u;
      store_one(ss, &st, ids[from], ids[to], names[to], cmid + 1, b->text,
                &upto[from]);
    }
    store_check(ss, mc_sqlstore_commit(ss), "commit");
  }
  mc_tstamp t1 = mc_udp_now_us();
  double cpu = proc_cpu(getpid()) - cpu0;
  mc_sqlstore_close(ss);
  rm_tree(dir);
  free(ids);
  free(upto);
  free(names);
  store_result r = {0};
  if (t0 && t1 > t0 && cmid > done0) {
    r.msgs = (double)(cmid - done0) / ((double)(t1 - t0) / 1e6);
    r.cpu_us = cpu * 1e6 / (double)(cmid - done0);
  }
  return r;
}

/* ------------------------------------------------------------------ */
/* phase 4: memory per idle session                                    */

typedef struct {
  uint64_t before;               /* VmRSS before the sessions (a server
                                    started here: after its startup) */
  uint64_t half;                 /* with the first half of the sessions */
  uint64_t after;                /* with all of them, idle */
} rss_result;

static void idle_progress(const bench *b) {
  say("  idling: %u sessions up\n", b->n_connected);
}

/* Phase 3: RSS after startup, with half of the sessions (after a short
 * settling time), and with all of them after idling. Half and all give the
 * marginal cost of a session, without what fills up once (the store's
 * page cache, malloc arenas). Returns 0 with |r| set, or -1. */
static int phase_rss(bench *b, long pid, const char *prefix, rss_result *r) {
  const options *o = b->o;
  unsigned n_socks = o->sockets;
  /* At most ~320 clients a socket keeps the per-socket bursts of
   * keepalives well inside a receive buffer. */
  if (n_socks < (o->idle_clients + 319) / 320)
    n_socks = (o->idle_clients + 319) / 320;
  say("memory: %u idle sessions on %u sockets, %.1f s idle\n",
      o->idle_clients, n_socks, o->idle_seconds);
  r->before = proc_rss(pid);
  clients_new(b, o->idle_clients, n_socks, prefix);
  b->login_limit = o->idle_clients / 2;
  int rv = clients_login_all(b);
  if (rv == 0) {
    chat_loop(b, mc_udp_now_us() + SETTLE_US, NULL, NULL);
    r->half = proc_rss(pid);
    b->login_limit = o->idle_clients;
    rv = clients_login_all(b);
  }
  if (rv < 0) {
    clients_del(b);
    return -1;
  }
  chat_loop(b, mc_udp_now_us() + (mc_tstamp)(o->idle_seconds * 1e6), NULL,
            idle_progress);
  r->after = proc_rss(pid);
  say("  %u sessions still up after idling, %" PRIu64 " lost\n",
      b->n_connected, b->cnt.closed);
  clients_del(b);
  return 0;
}

/* ------------------------------------------------------------------ */

/* Connects to the server: the one given, or a new one. Returns its pid, or
 * 0 when unknown. */
static long server_up(bench *b) {
  const options *o = b->o;
  char err[256];
  if (o->attach) {
    if (mc_udp_parse(o->attach, &b->srv, &b->srv_len, err, sizeof err) < 0)
      die("--attach: %s", err);
    return o->server_pid;
  }
  server_start(&g_srv, o->server_bin, o->tmp_parent, &b->srv, &b->srv_len);
  char where[MC_UDP_ADDRSTRLEN];
  say("server: %s pid %ld at %s, database in %s\n", o->server_bin,
      (long)g_srv.pid,
      mc_udp_format((struct sockaddr *)&b->srv, b->srv_len, where,
                    sizeof where),
      g_srv.dir);
  usleep(200000); /* let it settle before its RSS is read */
  return g_srv.pid;
}

static void report_window(const char *what, const window_result *r) {
  say("  %s: %.2f s measured; datagrams to the server %" PRIu64
      " (%" PRIu64 " refused by the socket), from it %" PRIu64
      "; kernel receive-buffer drops %" PRIu64 "\n",
      what, r->secs, r->d.tx, r->d.tx_dropped, r->d.rx, r->kernel_drops);
  if (r->srv_cpu >= 0)
    say("  %s: CPU of one core: server %.0f %%, clients %.0f %%\n", what,
        r->srv_cpu * 100, r->own_cpu * 100);
  else
    say("  %s: CPU of one core: clients %.0f %%\n", what, r->own_cpu * 100);
}

int main(int argc, char **argv) {
  options o;
  parse_args(argc, argv, &o);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (sodium_init() < 0)
    die("libsodium could not be initialised");
  struct sigaction sa = {.sa_handler = on_stop_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  atexit(cleanup);

  /* Names unique to this run, so an attached server can be reused. */
  uint8_t rnd[3];
  randombytes_buf(rnd, sizeof rnd);
  char chat_prefix[16], idle_prefix[16];
  snprintf(chat_prefix, sizeof chat_prefix, "c%02x%02x%02x-", rnd[0], rnd[1],
           rnd[2]);
  snprintf(idle_prefix, sizeof idle_prefix, "i%02x%02x%02x-", rnd[0], rnd[1],
           rnd[2]);

  char load0[32], load1[32];
  loadavg(load0, sizeof load0);
  say("load average (1 min): %s; %ld CPUs online\n", load0,
      sysconf(_SC_NPROCESSORS_ONLN));
  static bench b;
  b.o = &o;
  window_result chat, echo;
  rss_result rss = {0};
  int rss_ok = -1;

  long pid = server_up(&b);
  if (phase_chat(&b, pid, chat_prefix, &chat) < 0)
    return 1;
  report_window("chat", &chat);
  if (!o.attach)
    server_stop(&g_srv);
  if (g_stop)
    return 1;

  phase_echo(&b, &echo);
  report_window("echo", &echo);
  if (g_stop)
    return 1;

  store_result store = {0};
  if (o.store_batch > 0)
    store = phase_store(&b);
  if (g_stop)
    return 1;

  if (o.idle_clients > 0) {
    pid = server_up(&b);
    if (pid == 0)
      say("memory: skipped (--attach without --server-pid)\n");
    else
      rss_ok = phase_rss(&b, pid, idle_prefix, &rss);
    if (!o.attach)
      server_stop(&g_srv);
  }

  say("\nresults\n");
  say("  chat: %.0f messages delivered/s (%" PRIu64 " in %.2f s), server "
      "datagrams in+out %.0f/s\n",
      chat.msgs, chat.d.delivered, chat.secs, chat.dgrams);
  say("  echo: %.0f round trips/s, datagrams in+out %.0f/s\n", echo.msgs,
      echo.dgrams);
  say("  ratio: chat messages/s / echo round trips/s = %.3f\n",
      echo.msgs > 0 ? chat.msgs / echo.msgs : 0.0);
  say("  ratio: chat server datagrams/s / echo datagrams/s = %.3f\n",
      echo.dgrams > 0 ? chat.dgrams / echo.dgrams : 0.0);
  /* Echo moves 2 datagrams per round trip, so at the chat's datagrams per
   * message the datagrams alone allow 2 / that of the echo's rate. */
  double per_msg = chat.msgs > 0 ? chat.dgrams / chat.msgs : 0.0;
  say("  datagrams per delivered message: %.2f (echo: 2 per round trip); "
      "bound of the ratio by datagrams alone %.3f\n",
      per_msg, per_msg > 0 ? 2.0 / per_msg : 0.0);
  say("  chat: server CPU %.1f us per delivered message\n",
      chat.srv_cpu >= 0 && chat.msgs > 0 ? chat.srv_cpu * 1e6 / chat.msgs
                                         : -1.0);
  if (o.store_batch > 0)
    say("  storage alone: %.0f messages/s (%u per transaction, CPU %.1f us "
        "per message); ratio chat / storage = %.3f, storage / echo = %.3f\n",
        store.msgs, o.store_batch, store.cpu_us,
        store.msgs > 0 ? chat.msgs / store.msgs : 0.0,
        echo.msgs > 0 ? store.msgs / echo.msgs : 0.0);
  if (rss_ok == 0) {
    unsigned half = o.idle_clients / 2;
    say("  memory: VmRSS %" PRIu64 " kB before the sessions, %" PRIu64
        " kB with %u, %" PRIu64 " kB with %u idle sessions\n",
        rss.before / 1024, rss.half / 1024, half, rss.after / 1024,
        o.idle_clients);
    say("  memory: %.0f bytes per idle session ((after - before) / %u); "
        "%.0f bytes per session from %u to %u\n",
        ((double)rss.after - (double)rss.before) / o.idle_clients,
        o.idle_clients,
        ((double)rss.after - (double)rss.half) / (o.idle_clients - half),
        half, o.idle_clients);
  }
  say("  load average (1 min) at the start %s, at the end %s\n", load0,
      loadavg(load1, sizeof load1));
  /* A memory phase that was asked for and could run but failed fails the
   * run. */
  return o.idle_clients > 0 && pid != 0 && rss_ok < 0 ? 1 : 0;
}
