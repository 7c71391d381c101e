/*
 * mc-flood: handshake load for the abuse tests of issue 12, on loopback.
 *
 *   mc-flood --server H:P --timing N --user NAME --unknown NAME2
 *     N Logins with a wrong password for the account NAME and N for the
 *     unknown name NAME2, alternating, one at a time; prints the median
 *     time to the answer of each kind (MC-135) and their ratio:
 *       timing known_ms K unknown_ms U ratio R
 *
 *   mc-flood --server H:P --flood HOSTS --seconds S --rate R
 *            --user NAME --password PW [--after A] [--every MS]
 *     Registers and Logins (alternating) for fresh names, R a second for S
 *     seconds, each from one of
 *     HOSTS addresses 127.1.x.y (one socket: the source address is picked
 *     per datagram with IP_PKTINFO), while the account NAME logs in from
 *     127.0.0.1 every MS ms (2500: within its own rate limit, MC-51),
 *     during the flood and for A seconds after it.
 *     Prints what the flood got and the slowest legitimate Login:
 *       flood sent N hosts H welcome W rate_limited L busy B auth_failed F
 *         other O
 *       legit logins N ok K max_ms M
 *     Exit status 1 when a legitimate Login failed or took over 3 s.
 *
 * Every Login retransmits like a client (MC-33: 500 ms, doubling, capped at
 * 2 s) and is timed from its first transmission.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mc_codec_pb.h"
#include "mc_time.h"
#include "mc_udp.h"

#define PROG "mc-flood"
#define LEGIT_MAX_US (3 * MC_SEC)
#define ANSWER_WAIT_US (10 * MC_SEC) /* a Login not answered by then fails */
#define TIMING_MAX 200

typedef struct {
  struct sockaddr_in server;
  int flood_fd, legit_fd;
  uint64_t nonce;
} bench;

static void die(const char *what) {
  fprintf(stderr, PROG ": %s: %s\n", what, strerror(errno));
  exit(2);
}

static int udp_socket(uint32_t ip_host_order, int pktinfo) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    die("socket");
  int one = 1, big = 4 << 20;
  if (pktinfo && setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0)
    die("setsockopt(IP_PKTINFO)");
  /* Best effort: a bigger buffer only means fewer answers dropped. */
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(ip_host_order)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
    die("bind");
  return fd;
}

/* A Register (|reg|) or Login padded past 256 bytes (MC-32). */
static size_t handshake(int reg, const char *name, const char *pw,
                        uint64_t nonce, uint8_t *out) {
  Mychat__Handshake h = MYCHAT__HANDSHAKE__INIT;
  h.name = (char *)name;
  h.password = (char *)pw;
  h.client_nonce = nonce;
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  env.body_case = reg ? MYCHAT__ENVELOPE__BODY_REGISTER
                      : MYCHAT__ENVELOPE__BODY_LOGIN;
  env.register_ = &h; /* the union member of either case */
  uint8_t body[MC_DATAGRAM_MAX];
  size_t blen, len;
  if (mc_codec_pad_handshake(&env) < 0 ||
      mc_codec_encode_body(&env, body, sizeof body, &blen) < 0 ||
      mc_codec_encode(&env, body, blen, out, MC_DATAGRAM_MAX, &len) < 0) {
    fprintf(stderr, PROG ": cannot encode a handshake for %s\n", name);
    exit(2);
  }
  return len;
}

/* Sends from |src| (host order; 0: the socket's own address). */
static void send_from(const bench *b, int fd, uint32_t src, const uint8_t *d,
                      size_t len) {
  struct iovec iov = {.iov_base = (void *)d, .iov_len = len};
  union {
    char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
    struct cmsghdr align;
  } ctl;
  struct msghdr m = {.msg_name = (void *)&b->server,
                     .msg_namelen = sizeof b->server,
                     .msg_iov = &iov,
                     .msg_iovlen = 1};
  if (src != 0) {
    memset(&ctl, 0, sizeof ctl);
    m.msg_control = ctl.buf;
    m.msg_controllen = sizeof ctl.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    struct in_pktinfo pi = {.ipi_spec_dst.s_addr = htonl(src)};
    memcpy(CMSG_DATA(c), &pi, sizeof pi);
  }
  /* A full send buffer drops the datagram, as a busy network would. */
  (void)sendmsg(fd, &m, 0);
}

/* Reads one answer from |fd|: returns 1 with its nonce and its code (0 for
 * a Welcome, the Error's code otherwise), 0 when nothing is waiting. */
static int answer(int fd, uint64_t *nonce, int *code) {
  uint8_t buf[MC_DATAGRAM_MAX + 1];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0)
      return 0;
    Mychat__Envelope *e = NULL;
    if (mc_codec_unpack(buf, (size_t)n, &e) < 0)
      continue;
    int ok = 1;
    if (e->body_case == MYCHAT__ENVELOPE__BODY_WELCOME) {
      *nonce = e->welcome->client_nonce;
      *code = 0;
    } else if (e->body_case == MYCHAT__ENVELOPE__BODY_ERROR &&
               e->session_id == 0) {
      *nonce = e->error->client_nonce;
      *code = (int)e->error->code;
    } else {
      ok = 0; /* a push or Error of a session: not a handshake's answer */
    }
    mc_codec_free(e);
    if (ok)
      return 1;
  }
}

/* One Login in progress, retransmitted per MC-33. */
typedef struct {
  uint64_t nonce, first, next, gap;
  uint8_t d[MC_DATAGRAM_MAX];
  size_t len;
} login;

static void login_start(bench *b, login *l, const char *name, const char *pw,
                        uint64_t now) {
  l->nonce = ++b->nonce;
  l->len = handshake(0, name, pw, l->nonce, l->d);
  l->first = now;
  l->gap = 500 * MC_MSEC;
  l->next = now;
}

static void login_tick(const bench *b, login *l, uint64_t now) {
  if (now < l->next)
    return;
  send_from(b, b->legit_fd, 0, l->d, l->len);
  l->next = now + l->gap;
  l->gap = l->gap * 2 > 2 * MC_SEC ? 2 * MC_SEC : l->gap * 2;
}

static void wait_fds(const bench *b, uint64_t until) {
  uint64_t now = mc_udp_now_us();
  struct pollfd p[2] = {{.fd = b->legit_fd, .events = POLLIN},
                        {.fd = b->flood_fd, .events = POLLIN}};
  int ms = until > now ? (int)((until - now + 999) / 1000) : 0;
  (void)poll(p, b->flood_fd >= 0 ? 2 : 1, ms);
}

/* Runs one Login to its answer; returns the time it took in µs, or 0 when
 * it got none within ANSWER_WAIT_US. |*code| gets the answer. */
static uint64_t login_once(bench *b, const char *name, const char *pw,
                           int *code) {
  login l;
  uint64_t now = mc_udp_now_us();
  login_start(b, &l, name, pw, now);
  while (now - l.first < ANSWER_WAIT_US) {
    login_tick(b, &l, now);
    uint64_t nonce;
    while (answer(b->legit_fd, &nonce, code))
      if (nonce == l.nonce)
        return mc_udp_now_us() - l.first;
    wait_fds(b, l.next);
    now = mc_udp_now_us();
  }
  return 0;
}

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, c = *(const uint64_t *)y;
  return a < c ? -1 : a > c;
}

static double median_ms(uint64_t *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_u64);
  return (n % 2 ? (double)v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0) / 1e3;
}

static int run_timing(bench *b, int n, const char *user, const char *unknown) {
  uint64_t known[TIMING_MAX], unk[TIMING_MAX];
  for (int i = 0; i < n; i++) {
    int ck = -1, cu = -1;
    known[i] = login_once(b, user, "wrong-password", &ck);
    unk[i] = login_once(b, unknown, "wrong-password", &cu);
    if (!known[i] || !unk[i] || ck != MYCHAT__ERROR_CODE__AUTH_FAILED ||
        cu != MYCHAT__ERROR_CODE__AUTH_FAILED) {
      fprintf(stderr, PROG ": login %d: answers %d and %d, not AUTH_FAILED\n",
              i, ck, cu);
      return 1;
    }
  }
  double k = median_ms(known, n), u = median_ms(unk, n);
  printf("timing known_ms %.1f unknown_ms %.1f ratio %.2f\n", k, u, u / k);
  return 0;
}

static int run_flood(bench *b, unsigned hosts, double seconds, double rate,
                     double after, uint64_t every, const char *user,
                     const char *pw) {
  unsigned long sent = 0, welcome = 0, limited = 0, busy = 0, failed = 0;
  unsigned long other = 0;
  unsigned logins = 0, ok = 0;
  uint64_t worst = 0;
  uint64_t start = mc_udp_now_us();
  uint64_t flood_end = start + (uint64_t)(seconds * 1e6);
  uint64_t end = flood_end + (uint64_t)(after * 1e6);
  uint64_t next_legit = start;
  uint64_t gap = (uint64_t)(1e6 / rate);
  login l = {0};
  int legit_busy = 0;
  uint8_t d[MC_DATAGRAM_MAX];
  uint64_t now = start;
  while (now < end || legit_busy) {
    /* The flood: catch up with the schedule. */
    while (now < flood_end && start + sent * gap <= now) {
      unsigned h = (unsigned)(sent % hosts);
      char name[32];
      snprintf(name, sizeof name, "f%ux%lu", h, sent / hosts);
      /* Half Registers, half Logins for names that do not exist: both
       * cost password work (MC-135), and the Logins compete with the
       * legitimate user's. */
      size_t len = handshake(sent % 2 == 0, name, "flood-password",
                             ++b->nonce, d);
      send_from(b, b->flood_fd, (127u << 24) | (1u << 16) | (h + 1), d, len);
      sent++;
    }
    uint64_t nonce;
    int code;
    while (answer(b->flood_fd, &nonce, &code)) {
      if (code == 0)
        welcome++;
      else if (code == MYCHAT__ERROR_CODE__RATE_LIMITED)
        limited++;
      else if (code == MYCHAT__ERROR_CODE__SERVER_BUSY)
        busy++;
      else if (code == MYCHAT__ERROR_CODE__AUTH_FAILED)
        failed++;
      else
        other++;
    }
    /* The legitimate user. */
    if (!legit_busy && now < end && now >= next_legit) {
      login_start(b, &l, user, pw, now);
      legit_busy = 1;
      logins++;
    }
    if (legit_busy) {
      login_tick(b, &l, now);
      while (answer(b->legit_fd, &nonce, &code)) {
        if (nonce != l.nonce)
          continue;
        uint64_t took = mc_udp_now_us() - l.first;
        worst = took > worst ? took : worst;
        if (code == 0 && took <= LEGIT_MAX_US)
          ok++;
        else
          fprintf(stderr, PROG ": legit login %u: code %d after %.0f ms\n",
                  logins, code, took / 1e3);
        legit_busy = 0;
        next_legit = l.first + every;
      }
      if (legit_busy && now - l.first > ANSWER_WAIT_US) {
        fprintf(stderr, PROG ": legit login %u: no answer\n", logins);
        worst = now - l.first;
        legit_busy = 0;
        next_legit = now;
      }
    }
    uint64_t wake = now + 2 * MC_MSEC;
    if (legit_busy && l.next < wake)
      wake = l.next;
    wait_fds(b, wake);
    now = mc_udp_now_us();
  }
  printf("flood sent %lu hosts %u welcome %lu rate_limited %lu busy %lu "
         "auth_failed %lu other %lu\n", sent, hosts, welcome, limited, busy,
         failed, other);
  printf("legit logins %u ok %u max_ms %.0f\n", logins, ok, worst / 1e3);
  return logins > 0 && ok == logins ? 0 : 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: " PROG " --server H:P --timing N --user NAME --unknown NAME\n"
          "       " PROG " --server H:P --flood HOSTS --seconds S --rate R\n"
          "                --user NAME --password PW [--after A] [--every MS]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *server = NULL, *user = NULL, *pw = NULL, *unknown = NULL;
  int timing = 0;
  unsigned hosts = 0;
  double seconds = 0, rate = 0, after = 0, every_ms = 2500;
  enum { O_SERVER = 256, O_TIMING, O_USER, O_PW, O_UNKNOWN, O_FLOOD,
         O_SECONDS, O_RATE, O_AFTER, O_EVERY };
  static const struct option opts[] = {
      {"server", required_argument, NULL, O_SERVER},
      {"timing", required_argument, NULL, O_TIMING},
      {"user", required_argument, NULL, O_USER},
      {"password", required_argument, NULL, O_PW},
      {"unknown", required_argument, NULL, O_UNKNOWN},
      {"flood", required_argument, NULL, O_FLOOD},
      {"seconds", required_argument, NULL, O_SECONDS},
      {"rate", required_argument, NULL, O_RATE},
      {"after", required_argument, NULL, O_AFTER},
      {"every", required_argument, NULL, O_EVERY},
      {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case O_SERVER: server = optarg; break;
    case O_TIMING: timing = atoi(optarg); break;
    case O_USER: user = optarg; break;
    case O_PW: pw = optarg; break;
    case O_UNKNOWN: unknown = optarg; break;
    case O_FLOOD: hosts = (unsigned)atoi(optarg); break;
    case O_SECONDS: seconds = atof(optarg); break;
    case O_RATE: rate = atof(optarg); break;
    case O_AFTER: after = atof(optarg); break;
    case O_EVERY: every_ms = atof(optarg); break;
    default: usage();
    }
  }
  bench b = {.flood_fd = -1};
  struct sockaddr_storage ss;
  socklen_t sl;
  char err[256];
  if (server == NULL || user == NULL ||
      mc_udp_parse(server, &ss, &sl, err, sizeof err) < 0 ||
      ss.ss_family != AF_INET)
    usage();
  memcpy(&b.server, &ss, sizeof b.server);
  b.legit_fd = udp_socket(INADDR_LOOPBACK, 0);
  if (timing > 0 && timing <= TIMING_MAX && unknown != NULL)
    return run_timing(&b, timing, user, unknown);
  if (hosts > 0 && hosts < 65000 && seconds > 0 && rate > 0 && pw != NULL) {
    b.flood_fd = udp_socket(INADDR_ANY, 1);
    return run_flood(&b, hosts, seconds, rate, after,
                     (uint64_t)(every_ms * 1e3), user, pw);
  }
  usage();
}
