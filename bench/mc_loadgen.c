/*
 * mc_loadgen.c: mc-loadgen, a UDP load generator written against the
 * installed API only (mc_client.h, mc_codec.h, mc_error.h; its build rule
 * has no build/gen on the include path), to show that API is enough.
 *
 *   mc-loadgen --server HOST:PORT [--clients N] [--messages M]
 *              [--prefix NAME] [--timeout SECONDS]
 *
 * N clients register over one socket, then each sends M direct messages to
 * the next. It prints how many the server confirmed (sent) and the
 * recipients got (delivered), with the delivery latency, and exits 0 only
 * when every message was both sent and delivered. Datagrams are routed to
 * their client with mc_codec_peek(): a Welcome or Error by the handshake
 * nonce, anything else by session id.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "mc_client.h"
#include "mc_codec.h"
#include "mc_error.h"

#define CLIENTS_MAX 256

typedef struct {
  mc_client *c;
  char name[MC_NAME_MAX + 1];
  uint64_t nonce, session_id; /* the routing keys of its datagrams */
  unsigned queued;            /* messages mc_client_send_text took */
} lg_client;

static lg_client g_cl[CLIENTS_MAX];
static unsigned g_n = 4, g_m = 10, g_up, g_down;
static uint64_t g_sent, g_delivered, g_lat_sum, g_lat_max;

static mc_tstamp now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (mc_tstamp)ts.tv_sec * MC_SEC + (mc_tstamp)ts.tv_nsec / 1000;
}

static void fill_random(void *user_data, uint8_t *buf, size_t len) {
  (void)user_data;
  if (getrandom(buf, len, 0) != (ssize_t)len)
    abort(); /* the kernel's RNG does not fail requests this small */
}

static void on_event(lg_client *cl, const mc_client_event *ev, mc_tstamp now) {
  if (ev->type == MC_CEV_CONNECTED) {
    g_up++;
  } else if (ev->type == MC_CEV_CONNECT_FAILED || ev->type == MC_CEV_CLOSED) {
    g_down++;
    fprintf(stderr, "mc-loadgen: %s: %s %s\n", cl->name,
            ev->code ? mc_codec_code_name(ev->code) : "TIMEOUT", ev->text);
  } else if (ev->type == MC_CEV_SENT) {
    g_sent++;
  } else if (ev->type == MC_CEV_MESSAGE) {
    /* The text is the send time: sender and recipient share this clock. */
    uint64_t lat = now - strtoull(ev->text, NULL, 10);
    g_delivered++, g_lat_sum += lat;
    g_lat_max = lat > g_lat_max ? lat : g_lat_max;
  }
}

/* Queues |cl|'s messages to the next client, as many as its send window
 * takes now (the rest on a later round). */
static void send_share(lg_client *cl, mc_tstamp now) {
  const char *to = g_cl[(size_t)(cl - g_cl + 1) % g_n].name;
  for (; cl->queued < g_m; cl->queued++) {
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, now);
    int rc = mc_client_send_text(cl->c, to, NULL, text, now, NULL, NULL);
    if (rc == MC_ERR_QUEUE_FULL)
      return;
    if (rc < 0) {
      fprintf(stderr, "mc-loadgen: %s: send: %s\n", cl->name, mc_strerror(rc));
      g_down++, cl->queued = g_m;
    }
  }
}

/* One round of the drive contract (mc_client.h) for |cl| at |now|. */
static void drive(int fd, lg_client *cl, mc_tstamp now) {
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len;
  mc_client_event ev;
  if (g_up == g_n)
    send_share(cl, now);
  if (mc_client_expiry(cl->c) <= now)
    mc_client_handle_expiry(cl->c, now);
  while (mc_client_poll_tx(cl->c, now, buf, sizeof buf, &len) == 1) {
    mc_peek pk;
    if (mc_codec_peek(buf, len, &pk) == 0 && pk.body == MC_KIND_REGISTER)
      cl->nonce = pk.client_nonce;
    (void)send(fd, buf, len, 0); /* a lost datagram is the ARQ's to resend */
  }
  while (mc_client_poll_event(cl->c, &ev) == 1)
    on_event(cl, &ev, now);
}

/* The client a datagram from the server belongs to, or NULL. */
static lg_client *route(const uint8_t *d, size_t len) {
  mc_peek pk;
  if (mc_codec_peek(d, len, &pk) != 0)
    return NULL;
  int by_nonce = pk.client_nonce != 0 &&
                 (pk.body == MC_KIND_WELCOME || pk.body == MC_KIND_ERROR);
  for (unsigned i = 0; i < g_n; i++) {
    lg_client *cl = &g_cl[i];
    if (by_nonce ? cl->nonce == pk.client_nonce
                 : pk.session_id != 0 && cl->session_id == pk.session_id) {
      if (pk.body == MC_KIND_WELCOME)
        cl->session_id = pk.welcome_session_id;
      return cl;
    }
  }
  return NULL;
}

static int usage(void) {
  fprintf(stderr, "usage: mc-loadgen --server IPV4:PORT [--clients N] "
                  "[--messages M] [--prefix NAME] [--timeout SECONDS]\n");
  return 2;
}

int main(int argc, char **argv) {
  const char *server = NULL, *prefix = "lg";
  unsigned timeout_s = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *o = argv[i], *v = argv[i + 1];
    if (strcmp(o, "--server") == 0) server = v;
    else if (strcmp(o, "--clients") == 0) g_n = (unsigned)atoi(v);
    else if (strcmp(o, "--messages") == 0) g_m = (unsigned)atoi(v);
    else if (strcmp(o, "--prefix") == 0) prefix = v;
    else if (strcmp(o, "--timeout") == 0) timeout_s = (unsigned)atoi(v);
    else return usage();
  }
  struct sockaddr_in sa = {.sin_family = AF_INET};
  char host[64];
  unsigned port = 0;
  if (server == NULL || argc % 2 == 0 || g_n < 2 || g_n > CLIENTS_MAX ||
      sscanf(server, "%63[0-9.]:%u", host, &port) != 2 || port > 65535 ||
      inet_pton(AF_INET, host, &sa.sin_addr) != 1)
    return usage();
  sa.sin_port = htons((uint16_t)port);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    perror("mc-loadgen: socket/connect");
    return 1;
  }
  mc_client_callbacks cb = {.random = fill_random};
  mc_tstamp start = now_us(), deadline = start + timeout_s * MC_SEC, now;
  for (unsigned i = 0; i < g_n; i++) {
    snprintf(g_cl[i].name, sizeof g_cl[i].name, "%s%u", prefix, i);
    int rc = (g_cl[i].c = mc_client_new(NULL, &cb)) == NULL
                 ? MC_ERR_NOMEM
                 : mc_client_connect(g_cl[i].c, g_cl[i].name, "loadgen-pw", 1,
                                     start);
    if (rc < 0) {
      fprintf(stderr, "mc-loadgen: %s: %s\n", g_cl[i].name, mc_strerror(rc));
      return 1;
    }
  }
  uint64_t total = (uint64_t)g_n * g_m;
  while (g_down == 0 && (g_sent < total || g_delivered < total) &&
         (now = now_us()) < deadline) {
    mc_tstamp next = now + 50 * MC_MSEC;
    for (unsigned i = 0; i < g_n; i++) {
      drive(fd, &g_cl[i], now);
      mc_tstamp e = mc_client_expiry(g_cl[i].c);
      next = e < next ? e : next;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, next > now ? (int)((next - now + 999) / 1000) : 0) <= 0)
      continue;
    uint8_t in[MC_DATAGRAM_MAX + 1];
    ssize_t n;
    while ((n = recv(fd, in, sizeof in, MSG_DONTWAIT)) > 0) {
      lg_client *cl = route(in, (size_t)n);
      if (cl)
        (void)mc_client_recv(cl->c, in, (size_t)n, now_us());
    }
  }
  printf("mc-loadgen: clients %u up %u sent %" PRIu64 "/%" PRIu64
         " delivered %" PRIu64 " latency avg %.2f ms max %.2f ms\n",
         g_n, g_up, g_sent, total, g_delivered,
         g_delivered ? (double)g_lat_sum / (double)g_delivered / 1000.0 : 0.0,
         (double)g_lat_max / 1000.0);
  for (unsigned i = 0; i < g_n; i++)
    mc_client_del(g_cl[i].c);
  return g_sent == total && g_delivered == total ? 0 : 1;
}
