/*
 * mc_capture.c: reading and writing conformance cases (see mc_capture.h).
 */
#include "mc_capture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mc_error.h"
#include "mc_pcap.h"
#include "mc_udp.h"

static void endpoint_of(mc_pcap_endpoint *e, int host, uint16_t port) {
  memset(e, 0, sizeof *e);
  e->family = 4;
  e->ip[0] = 127;
  e->ip[3] = (uint8_t)(1 + host);
  e->port = port;
}

int mc_capture_write(const char *path, const mc_cap_pkt *pkts, size_t n,
                     char *err, size_t errlen) {
  mc_pcap_writer *w;
  int rv = mc_pcap_writer_open(&w, path, MC_PCAP_LINKTYPE_RAW, err, errlen);
  if (rv < 0)
    return rv;
  for (size_t i = 0; i < n && rv == 0; i++) {
    mc_pcap_endpoint srv, cli;
    endpoint_of(&srv, 0, MC_CAP_SERVER_PORT);
    endpoint_of(&cli, pkts[i].host,
                (uint16_t)(MC_CAP_CLIENT_PORT0 + pkts[i].ep));
    rv = mc_pcap_write_udp(w, MC_CAP_TIME_BASE_US + pkts[i].t_us,
                           pkts[i].from_client ? &cli : &srv,
                           pkts[i].from_client ? &srv : &cli, pkts[i].data,
                           pkts[i].len);
  }
  int rc = mc_pcap_writer_close(w);
  if (rv == 0)
    rv = rc;
  if (rv < 0)
    snprintf(err, errlen, "%s: %s", path, mc_strerror(rv));
  return rv;
}

static int load_pcap(mc_case *c, const char *path, char *err, size_t errlen) {
  mc_pcap_reader *r;
  int rv = mc_pcap_open_file(&r, path, err, errlen);
  if (rv < 0)
    return rv;
  c->pkts = calloc(MC_CAP_PKTS_MAX, sizeof *c->pkts);
  if (c->pkts == NULL) {
    mc_pcap_close(r);
    return MC_ERR_NOMEM;
  }
  mc_pcap_frame f;
  uint64_t t0 = 0;
  while ((rv = mc_pcap_next(r, &f)) != MC_PCAP_END) {
    if (rv < 0) {
      snprintf(err, errlen, "%s: %s", path, mc_pcap_error(r));
      break;
    }
    if (rv != MC_PCAP_DATAGRAM)
      continue;
    int from_client = f.dst.port == MC_CAP_SERVER_PORT;
    const mc_pcap_endpoint *cli = from_client ? &f.src : &f.dst;
    int ep = cli->port - MC_CAP_CLIENT_PORT0;
    int host = cli->ip[3] - 1;
    if (c->n_pkts == MC_CAP_PKTS_MAX || ep < 0 ||
        ep >= MC_CAP_ENDPOINTS_MAX || host < 0 || host >= MC_CAP_HOSTS_MAX ||
        f.len > sizeof c->pkts[0].data) {
      snprintf(err, errlen, "%s: frame %llu: not a conformance capture",
               path, (unsigned long long)f.frame);
      rv = MC_ERR_BAD_FIELD;
      break;
    }
    if (c->n_pkts == 0)
      t0 = f.ts_us;
    mc_cap_pkt *p = &c->pkts[c->n_pkts++];
    p->t_us = f.ts_us - t0;
    p->from_client = from_client;
    p->ep = ep;
    p->host = host;
    p->len = f.len;
    memcpy(p->data, f.payload, f.len);
  }
  mc_pcap_close(r);
  return rv < 0 ? rv : 0;
}

/* "MIN-MAX" into |lo| and |hi|. */
static int parse_range(const char *s, unsigned *lo, unsigned *hi) {
  return sscanf(s, "%u-%u", lo, hi) == 2 && *lo <= *hi ? 0 : -1;
}

static int parse_retransmit(mc_case *c, char *v) {
  if (c->n_retransmit == MC_CAP_DIRECTIVES_MAX)
    return -1;
  mc_cap_retransmit *d = &c->retransmit[c->n_retransmit];
  char *save = NULL, *tok = strtok_r(v, " \t", &save);
  if (tok == NULL)
    return -1;
  d->ep = atoi(tok);
  if ((tok = strtok_r(NULL, " \t", &save)) == NULL)
    return -1;
  d->seq = (uint32_t)strtoul(tok, NULL, 10);
  while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
    if (d->last)
      return -1; /* "last" ends the line */
    if (strcmp(tok, "last") == 0) {
      d->last = 1;
      continue;
    }
    if (d->n_gaps == MC_CAP_GAPS_MAX ||
        parse_range(tok, &d->gap_min[d->n_gaps], &d->gap_max[d->n_gaps]) < 0)
      return -1;
    d->n_gaps++;
  }
  if (d->ep < 0 || d->ep >= MC_CAP_ENDPOINTS_MAX || d->seq == 0 ||
      d->n_gaps == 0)
    return -1;
  c->n_retransmit++;
  return 0;
}

static int parse_allow(mc_case *c, const char *v) {
  if (c->n_allow == MC_CAP_DIRECTIVES_MAX)
    return -1;
  mc_cap_allow *a = &c->allow[c->n_allow];
  char rest[160];
  if (sscanf(v, "%47s %159s", a->path, rest) != 2)
    return -1;
  if (strcmp(a->path, "absent") == 0) {
    snprintf(a->expected, sizeof a->expected, "%.47s", rest);
    a->alts[0] = '\0';
  } else {
    char *eq = strchr(rest, '=');
    if (eq == NULL || eq == rest || eq[1] == '\0' ||
        (size_t)(eq - rest) >= sizeof a->expected ||
        strlen(eq + 1) >= sizeof a->alts)
      return -1;
    snprintf(a->expected, sizeof a->expected, "%.*s", (int)(eq - rest), rest);
    snprintf(a->alts, sizeof a->alts, "%s", eq + 1);
  }
  c->n_allow++;
  return 0;
}

static int parse_acktime(mc_case *c, char *v) {
  if (c->n_acktime == MC_CAP_DIRECTIVES_MAX)
    return -1;
  mc_cap_acktime *d = &c->acktime[c->n_acktime];
  char *save = NULL, *ep = strtok_r(v, " \t", &save);
  char *max = ep ? strtok_r(NULL, " \t", &save) : NULL;
  if (max == NULL || sscanf(max, "%u", &d->max_ms) != 1)
    return -1;
  d->ep = atoi(ep);
  for (char *t = strtok_r(NULL, " \t", &save); t != NULL;
       t = strtok_r(NULL, " \t", &save)) {
    unsigned seq, occ = 1;
    if (d->n == MC_CAP_GAPS_MAX || sscanf(t, "%u/%u", &seq, &occ) < 1 ||
        seq == 0 || occ == 0)
      return -1;
    d->seq[d->n] = seq;
    d->occ[d->n++] = (int)occ;
  }
  if (d->ep < 0 || d->ep >= MC_CAP_ENDPOINTS_MAX || d->n == 0)
    return -1;
  c->n_acktime++;
  return 0;
}

static int parse_timeout(mc_case *c, const char *v) {
  if (c->n_timeout == MC_CAP_DIRECTIVES_MAX)
    return -1;
  mc_cap_timeout *d = &c->timeout[c->n_timeout];
  char range[32], req[32] = "", word[32] = "", irange[32] = "", rest;
  int n = sscanf(v, "%d %31s %d %u %31s %31s %31s %c", &d->ep, range,
                 &d->push_ep, &d->seq, req, word, irange, &rest);
  d->req = 64;
  if (n == 6 && strcmp(req, "impaired") == 0) { /* no MC-n before it */
    snprintf(irange, sizeof irange, "%s", word);
    snprintf(word, sizeof word, "%s", req);
    req[0] = '\0';
    n = 7;
  }
  if (n < 4 || n == 6 || n > 7 || parse_range(range, &d->min_ms, &d->max_ms) < 0 ||
      (req[0] != '\0' && (sscanf(req, "MC-%d%c", &d->req, &rest) != 1 ||
                          d->req <= 0)) ||
      d->ep < 0 || d->ep >= MC_CAP_ENDPOINTS_MAX || d->push_ep < 0 ||
      d->push_ep >= MC_CAP_ENDPOINTS_MAX || d->seq == 0)
    return -1;
  d->imp_min_ms = d->min_ms;
  d->imp_max_ms = d->max_ms;
  if (n == 7 && (strcmp(word, "impaired") != 0 ||
                 parse_range(irange, &d->imp_min_ms, &d->imp_max_ms) < 0))
    return -1;
  c->n_timeout++;
  return 0;
}

static const struct {
  const char *name;
  unsigned bit;
} imp_kinds[] = {{"loss", MC_CAP_IMP_LOSS},
                 {"dup", MC_CAP_IMP_DUP},
                 {"reorder", MC_CAP_IMP_REORDER},
                 {"delay", MC_CAP_IMP_DELAY}};
#define N_IMP_KINDS (sizeof imp_kinds / sizeof imp_kinds[0])

static unsigned imp_kind(const char *s, size_t n) {
  if (n == 3 && memcmp(s, "all", 3) == 0)
    return MC_CAP_IMP_ALL;
  for (size_t k = 0; k < N_IMP_KINDS; k++)
    if (strlen(imp_kinds[k].name) == n && memcmp(imp_kinds[k].name, s, n) == 0)
      return imp_kinds[k].bit;
  return 0;
}

int mc_case_parse_impair(const char *v, unsigned imp[2]) {
  unsigned out[2] = {0, 0};
  char buf[256];
  if (strlen(v) >= sizeof buf)
    return MC_ERR_INVAL;
  snprintf(buf, sizeof buf, "%s", v);
  if (strcmp(buf, "none") == 0) {
    imp[0] = imp[1] = 0;
    return 0;
  }
  char *save = NULL;
  for (char *g = strtok_r(buf, ";", &save); g != NULL;
       g = strtok_r(NULL, ";", &save)) {
    char kinds[128], dir[16], rest;
    if (sscanf(g, " %127s %15s %c", kinds, dir, &rest) != 2)
      return MC_ERR_INVAL;
    unsigned bits = 0;
    for (const char *k = kinds; *k;) {
      size_t n = strcspn(k, ",");
      unsigned b = imp_kind(k, n);
      if (b == 0 || (bits & b) != 0)
        return MC_ERR_INVAL;
      bits |= b;
      k += n + (k[n] == ',');
    }
    int to_s = strcmp(dir, "c2s") == 0 || strcmp(dir, "both") == 0;
    int to_c = strcmp(dir, "s2c") == 0 || strcmp(dir, "both") == 0;
    if (!to_s && !to_c)
      return MC_ERR_INVAL;
    /* A direction named twice would make one of its groups pointless. */
    if ((to_s && out[MC_CAP_TO_SERVER]) || (to_c && out[MC_CAP_TO_CLIENT]))
      return MC_ERR_INVAL;
    if (to_s)
      out[MC_CAP_TO_SERVER] = bits;
    if (to_c)
      out[MC_CAP_TO_CLIENT] = bits;
  }
  if (out[0] == 0 && out[1] == 0)
    return MC_ERR_INVAL; /* "none" says that */
  imp[0] = out[0];
  imp[1] = out[1];
  return 0;
}

static size_t kinds_text(unsigned bits, char *b, size_t cap) {
  size_t k = 0;
  if (bits == MC_CAP_IMP_ALL)
    return (size_t)snprintf(b, cap, "all");
  for (size_t i = 0; i < N_IMP_KINDS && k < cap; i++)
    if (bits & imp_kinds[i].bit)
      k += (size_t)snprintf(b + k, cap - k, "%s%s", k ? "," : "",
                            imp_kinds[i].name);
  return k;
}

void mc_case_impair_text(const unsigned imp[2], char *b, size_t cap) {
  char s[64], c[64];
  kinds_text(imp[MC_CAP_TO_SERVER], s, sizeof s);
  kinds_text(imp[MC_CAP_TO_CLIENT], c, sizeof c);
  if (imp[0] == 0 && imp[1] == 0)
    snprintf(b, cap, "none");
  else if (imp[0] == imp[1])
    snprintf(b, cap, "%s both", s);
  else if (imp[MC_CAP_TO_CLIENT] == 0)
    snprintf(b, cap, "%s c2s", s);
  else if (imp[MC_CAP_TO_SERVER] == 0)
    snprintf(b, cap, "%s s2c", c);
  else
    snprintf(b, cap, "%s c2s; %s s2c", s, c);
}

static int parse_line(mc_case *c, char *line) {
  char *colon = strchr(line, ':');
  if (line[0] == '#' || line[0] == '\0')
    return 0;
  if (colon == NULL)
    return -1;
  *colon = '\0';
  char *v = colon + 1;
  while (*v == ' ' || *v == '\t')
    v++;
  if (strcmp(line, "description") == 0) {
    snprintf(c->desc, sizeof c->desc, "%s", v);
  } else if (strcmp(line, "server") == 0) {
    snprintf(c->flags, sizeof c->flags, "%s", v);
  } else if (strcmp(line, "impair") == 0) {
    return mc_case_parse_impair(v, c->impair);
  } else if (strcmp(line, "impair-why") == 0) {
    snprintf(c->impair_why, sizeof c->impair_why, "%s", v);
  } else if (strcmp(line, "retransmit") == 0) {
    return parse_retransmit(c, v);
  } else if (strcmp(line, "allow") == 0) {
    return parse_allow(c, v);
  } else if (strcmp(line, "ack") == 0) {
    return parse_acktime(c, v);
  } else if (strcmp(line, "timeout") == 0) {
    return parse_timeout(c, v);
  } else if (strcmp(line, "requires") == 0) {
    char *save = NULL;
    for (char *t = strtok_r(v, " \t", &save); t != NULL;
         t = strtok_r(NULL, " \t", &save)) {
      int n;
      if (sscanf(t, "MC-%d", &n) != 1 || n <= 0 ||
          c->n_requires == MC_CAP_REQUIRES_MAX)
        return -1;
      c->requires[c->n_requires++] = n;
    }
  } else if (strcmp(line, "note") != 0) {
    return -1;
  }
  return 0;
}

int mc_case_load(mc_case *c, const char *case_path, char *err,
                 size_t errlen) {
  memset(c, 0, sizeof *c);
  c->impair[MC_CAP_TO_SERVER] = c->impair[MC_CAP_TO_CLIENT] = MC_CAP_IMP_ALL;
  const char *base = strrchr(case_path, '/');
  base = base ? base + 1 : case_path;
  size_t bl = strlen(base);
  if (bl < 6 || strcmp(base + bl - 5, ".case") != 0 ||
      bl - 5 >= sizeof c->name) {
    snprintf(err, errlen, "%s: not a .case file", case_path);
    return MC_ERR_INVAL;
  }
  memcpy(c->name, base, bl - 5);
  FILE *f = fopen(case_path, "r");
  if (f == NULL) {
    snprintf(err, errlen, "%s: cannot open", case_path);
    return MC_ERR_STORAGE;
  }
  char line[512];
  int lineno = 0, bad = 0;
  while (!bad && fgets(line, sizeof line, f) != NULL) {
    lineno++;
    line[strcspn(line, "\r\n")] = '\0';
    bad = parse_line(c, line) < 0;
  }
  fclose(f);
  if (bad) {
    snprintf(err, errlen, "%s:%d: bad line", case_path, lineno);
    return MC_ERR_BAD_FIELD;
  }
  char pcap[4096];
  snprintf(pcap, sizeof pcap, "%.*s.pcap", (int)(strlen(case_path) - 5),
           case_path);
  int rv = load_pcap(c, pcap, err, errlen);
  if (rv < 0)
    mc_case_free(c);
  return rv;
}

void mc_case_free(mc_case *c) {
  free(c->pkts);
  c->pkts = NULL;
  c->n_pkts = 0;
}

int mc_capture_socket(const struct sockaddr *server, socklen_t len, int host,
                      char *err, size_t errlen) {
  if (host == 0)
    return mc_udp_connect(server, len, err, errlen);
  const struct sockaddr_in *in = (const struct sockaddr_in *)server;
  if (server->sa_family != AF_INET || len < sizeof *in ||
      (ntohl(in->sin_addr.s_addr) >> 24) != 127) {
    snprintf(err, errlen, "client host 127.0.0.%d needs a server on an IPv4 "
             "loopback address (127.0.0.0/8)", 1 + host);
    return -1;
  }
  struct sockaddr_in from;
  memset(&from, 0, sizeof from);
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)host);
  int fd = mc_udp_bind((const struct sockaddr *)&from, sizeof from, err,
                       errlen);
  if (fd < 0)
    return -1;
  if (connect(fd, server, len) < 0) {
    char a[MC_UDP_ADDRSTRLEN];
    snprintf(err, errlen, "connect(%s) from 127.0.0.%d: %s",
             mc_udp_format(server, len, a, sizeof a), 1 + host,
             strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

size_t mc_capture_replace(uint8_t *buf, size_t len, const uint8_t *from,
                          const uint8_t *to, size_t n) {
  size_t count = 0;
  if (n == 0 || len < n)
    return 0;
  for (size_t i = 0; i + n <= len; i++) {
    if (memcmp(buf + i, from, n) == 0) {
      memcpy(buf + i, to, n);
      count++;
      i += n - 1;
    }
  }
  return count;
}
