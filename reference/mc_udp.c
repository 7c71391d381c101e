/*
 * mc_udp.c: UDP sockets, addresses and clocks for the reference programs
 * (mc_udp.h).
 */
#include "mc_udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Printf into |err| when there is room for a message at all. */
#define ERRF(...)                                                             \
  do {                                                                        \
    if (errlen > 0)                                                           \
      snprintf(err, errlen, __VA_ARGS__);                                     \
  } while (0)

int mc_udp_split(const char *hostport, char *host, size_t hostcap,
                 uint16_t *port, char *err, size_t errlen) {
  const char *h = hostport, *colon;
  size_t hlen;
  if (hostport[0] == '[') {
    const char *close = strchr(hostport, ']');
    if (close == NULL) {
      ERRF("%s: missing ']' after an IPv6 address", hostport);
      return -1;
    }
    h = hostport + 1;
    hlen = (size_t)(close - h);
    colon = close + 1;
    if (*colon != ':') {
      ERRF("%s: expected ':PORT' after ']'", hostport);
      return -1;
    }
  } else {
    /* A bare IPv6 address has several colons; the port is after the last
     * one, and brackets are required to make that unambiguous. */
    colon = strrchr(hostport, ':');
    if (colon == NULL) {
      ERRF("%s: expected HOST:PORT", hostport);
      return -1;
    }
    if (memchr(hostport, ':', (size_t)(colon - hostport)) != NULL) {
      ERRF("%s: write an IPv6 address as [ADDRESS]:PORT", hostport);
      return -1;
    }
    hlen = (size_t)(colon - hostport);
  }
  if (hlen == 0 || hlen >= hostcap) {
    ERRF("%s: %s host", hostport, hlen == 0 ? "empty" : "overlong");
    return -1;
  }
  char *end;
  errno = 0;
  unsigned long p = strtoul(colon + 1, &end, 10);
  if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
      p > 65535) {
    ERRF("%s: port must be a number from 0 to 65535", hostport);
    return -1;
  }
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  *port = (uint16_t)p;
  return 0;
}

int mc_udp_resolve(const char *host, uint16_t port,
                   struct sockaddr_storage *sa, socklen_t *salen, char *err,
                   size_t errlen) {
  if (host == NULL || host[0] == '\0')
    host = "0.0.0.0";
  char service[8];
  snprintf(service, sizeof service, "%u", (unsigned)port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_DGRAM,
                           .ai_flags = AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  int rv = getaddrinfo(host, service, &hints, &res);
  if (rv != 0) {
    ERRF("%s: %s", host, rv == EAI_SYSTEM ? strerror(errno)
                                            : gai_strerror(rv));
    return -1;
  }
  /* The first answer is the one the resolver prefers (RFC 6724 order). */
  memset(sa, 0, sizeof *sa);
  memcpy(sa, res->ai_addr, res->ai_addrlen);
  *salen = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

int mc_udp_parse(const char *hostport, struct sockaddr_storage *sa,
                 socklen_t *salen, char *err, size_t errlen) {
  char host[MC_UDP_HOSTMAX];
  uint16_t port;
  if (mc_udp_split(hostport, host, sizeof host, &port, err, errlen) < 0)
    return -1;
  return mc_udp_resolve(host, port, sa, salen, err, errlen);
}

/* Writes |v| in decimal at |p|; returns the end. */
static char *udp_put_dec(char *p, unsigned v) {
  char d[10];
  int n = 0;
  do
    d[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (n > 0)
    *p++ = d[--n];
  return p;
}

const char *mc_udp_format(const struct sockaddr *sa, socklen_t salen,
                          char *buf, size_t cap) {
  char ip[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
    /* By hand: the server's request log formats a peer on every line, and
     * inet_ntop with snprintf was half of that line's cost. */
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    const uint8_t *b = (const uint8_t *)&in->sin_addr;
    char text[sizeof "255.255.255.255:65535"], *p = text;
    for (int i = 0; i < 4; i++) {
      p = udp_put_dec(p, b[i]);
      *p++ = i < 3 ? '.' : ':';
    }
    *udp_put_dec(p, ntohs(in->sin_port)) = '\0';
    snprintf(buf, cap, "%s", text);
  } else if (sa->sa_family == AF_INET6 &&
             salen >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    snprintf(buf, cap, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
  } else {
    snprintf(buf, cap, "?");
  }
  return buf;
}

static int udp_socket(int family, char *err, size_t errlen) {
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    ERRF("socket: %s", strerror(errno));
  return fd;
}

/* Opens a socket of |sa|'s family and applies |op| (bind or connect) to
 * it; |what| names |op| in the message. */
static int udp_open(const struct sockaddr *sa, socklen_t salen,
                    int (*op)(int, const struct sockaddr *, socklen_t),
                    const char *what, char *err, size_t errlen) {
  int fd = udp_socket(sa->sa_family, err, errlen);
  if (fd < 0)
    return -1;
  if (op(fd, sa, salen) < 0) {
    char a[MC_UDP_ADDRSTRLEN];
    ERRF("%s(%s): %s", what, mc_udp_format(sa, salen, a, sizeof a),
         strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

int mc_udp_bind(const struct sockaddr *sa, socklen_t salen, char *err,
                size_t errlen) {
  return udp_open(sa, salen, bind, "bind", err, errlen);
}

int mc_udp_connect(const struct sockaddr *peer, socklen_t salen, char *err,
                   size_t errlen) {
  return udp_open(peer, salen, connect, "connect", err, errlen);
}

/* Sets one buffer: the FORCE variant first, which only root may use. */
static int udp_buffer(int fd, int force, int plain, int bytes, int *got) {
  if (setsockopt(fd, SOL_SOCKET, force, &bytes, sizeof bytes) < 0 &&
      setsockopt(fd, SOL_SOCKET, plain, &bytes, sizeof bytes) < 0)
    return -1;
  socklen_t len = sizeof *got;
  return getsockopt(fd, SOL_SOCKET, plain, got, &len);
}

int mc_udp_set_buffers(int fd, int bytes, int *rcv, int *snd, char *err,
                       size_t errlen) {
  int r = 0, s = 0;
  if (udp_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, bytes, &r) < 0 ||
      udp_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, bytes, &s) < 0) {
    ERRF("setsockopt(SO_RCVBUF/SO_SNDBUF, %d): %s", bytes, strerror(errno));
    return -1;
  }
  if (rcv)
    *rcv = r;
  if (snd)
    *snd = s;
  return 0;
}

int mc_udp_local(int fd, struct sockaddr_storage *sa, socklen_t *salen,
                 char *err, size_t errlen) {
  *salen = sizeof *sa;
  if (getsockname(fd, (struct sockaddr *)sa, salen) < 0) {
    ERRF("getsockname: %s", strerror(errno));
    return -1;
  }
  return 0;
}

static uint64_t clock_us(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t mc_udp_now_us(void) { return clock_us(CLOCK_MONOTONIC); }

int64_t mc_udp_wall_offset_ms(void) {
  return (int64_t)(clock_us(CLOCK_REALTIME) / 1000u) -
         (int64_t)(clock_us(CLOCK_MONOTONIC) / 1000u);
}
