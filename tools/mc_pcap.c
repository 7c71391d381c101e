/*
 * mc_pcap.c: see mc_pcap.h. Every header length read from a frame is
 * checked against the bytes captured before it is used.
 */
#include "mc_pcap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_error.h"

struct mc_pcap_reader {
  pcap_t *p;
  int dlt;                      /* libpcap's DLT_* value */
  int linktype;                 /* the file's LINKTYPE_* value */
  int live;
  int fd;                       /* live: selectable descriptor, else -1 */
  int timeout_ms;               /* live: longest wait in mc_pcap_next() */
  mc_pcap_counts counts;
  char error[PCAP_ERRBUF_SIZE];
};

struct mc_pcap_writer {
  FILE *f;
  uint32_t linktype;
  int failed;                   /* a write failed; close reports it */
  uint8_t packet[MC_PCAP_PACKET_MAX];
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *a,
                    const char *b) {
  if (err && errlen > 0) snprintf(err, errlen, fmt, a, b);
}

/* Maps libpcap's DLT to the LINKTYPE value, or -1 when not read here. The
 * two differ only for raw IP, whose DLT value varies between platforms. */
static int linktype_of(int dlt) {
  switch (dlt) {
  case DLT_NULL: return MC_PCAP_LINKTYPE_NULL;
  case DLT_EN10MB: return MC_PCAP_LINKTYPE_ETHERNET;
  case DLT_RAW: return MC_PCAP_LINKTYPE_RAW;
  case DLT_LOOP: return MC_PCAP_LINKTYPE_LOOP;
  case DLT_LINUX_SLL: return MC_PCAP_LINKTYPE_SLL;
  case DLT_IPV4: return MC_PCAP_LINKTYPE_IPV4;
  case DLT_IPV6: return MC_PCAP_LINKTYPE_IPV6;
  case DLT_LINUX_SLL2: return MC_PCAP_LINKTYPE_SLL2;
  default: return -1;
  }
}

static int reader_new(mc_pcap_reader **out, pcap_t *p, int live, char *err,
                      size_t errlen) {
  int dlt = pcap_datalink(p);
  int lt = linktype_of(dlt);
  if (lt < 0) {
    char num[16];
    snprintf(num, sizeof num, "%d", dlt);
    const char *name = pcap_datalink_val_to_name(dlt);
    set_err(err, errlen, "unsupported link type %s (%s)", num,
            name ? name : "unknown");
    pcap_close(p);
    return MC_ERR_INVAL;
  }
  mc_pcap_reader *r = calloc(1, sizeof *r);
  if (!r) {
    pcap_close(p);
    set_err(err, errlen, "%s%s", "out of memory", "");
    return MC_ERR_NOMEM;
  }
  r->p = p;
  r->dlt = dlt;
  r->linktype = lt;
  r->live = live;
  r->fd = live ? pcap_get_selectable_fd(p) : -1;
  *out = r;
  return 0;
}

int mc_pcap_open_file(mc_pcap_reader **out, const char *path, char *err,
                      size_t errlen) {
  if (!out) return MC_ERR_INVAL;
  *out = NULL;
  if (!path) return MC_ERR_INVAL;
  char ebuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t *p = pcap_open_offline_with_tstamp_precision(
      path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
  if (!p) {
    set_err(err, errlen, "%s: %s", path, ebuf);
    return MC_ERR_STORAGE;
  }
  return reader_new(out, p, 0, err, errlen);
}

int mc_pcap_open_live(mc_pcap_reader **out, const char *iface,
                      const char *filter, int timeout_ms, char *err,
                      size_t errlen) {
  if (!out) return MC_ERR_INVAL;
  *out = NULL;
  if (!iface || timeout_ms <= 0) return MC_ERR_INVAL;
  char ebuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t *p = pcap_create(iface, ebuf);
  if (!p) {
    set_err(err, errlen, "%s: %s", iface, ebuf);
    return MC_ERR_STORAGE;
  }
  pcap_set_snaplen(p, 65535);
  pcap_set_timeout(p, timeout_ms);
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO);
  /* Show each datagram as it comes rather than when a buffer fills. */
  pcap_set_immediate_mode(p, 1);
  int rc = pcap_activate(p);
  if (rc < 0) {
    /* PCAP_ERROR_PERM_DENIED is the usual case without root; some
     * platforms report a missing capability as a generic error whose text
     * says "Operation not permitted". */
    const char *msg = pcap_geterr(p);
    int perm = rc == PCAP_ERROR_PERM_DENIED ||
               strstr(msg, "not permitted") || strstr(msg, "ermission");
    set_err(err, errlen, "%s: %s", iface, msg[0] ? msg : pcap_statustostr(rc));
    pcap_close(p);
    return perm ? MC_ERR_AUTH : MC_ERR_STORAGE;
  }
  if (filter) {
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
      set_err(err, errlen, "filter '%s': %s", filter, pcap_geterr(p));
      pcap_close(p);
      return MC_ERR_INVAL;
    }
    rc = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (rc < 0) {
      set_err(err, errlen, "filter '%s': %s", filter, pcap_geterr(p));
      pcap_close(p);
      return MC_ERR_INVAL;
    }
  }
  if (pcap_setnonblock(p, 1, ebuf) < 0) {
    set_err(err, errlen, "%s: %s", iface, ebuf);
    pcap_close(p);
    return MC_ERR_STORAGE;
  }
  rc = reader_new(out, p, 1, err, errlen);
  if (rc == 0) (*out)->timeout_ms = timeout_ms;
  return rc;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Marks |f| skipped for |why|; |counter| (may be NULL) is the reason's
 * count. Returns MC_PCAP_SKIPPED. */
static int skip(mc_pcap_reader *r, mc_pcap_frame *f, const char *why,
                uint64_t *counter) {
  f->skip_reason = why;
  r->counts.skipped++;
  if (counter) (*counter)++;
  return MC_PCAP_SKIPPED;
}

/* Reads the UDP header at |p| (|n| bytes up to the end of the IP payload)
 * into |f|. */
static int parse_udp(mc_pcap_reader *r, mc_pcap_frame *f, const uint8_t *p,
                     size_t n) {
  if (n < 8) return skip(r, f, "UDP header cut short", &r->counts.cut);
  size_t ulen = rd16(p + 4);
  if (ulen < 8) return skip(r, f, "bad UDP length", &r->counts.cut);
  if (ulen > n) return skip(r, f, "UDP datagram cut short", &r->counts.cut);
  f->src.port = rd16(p);
  f->dst.port = rd16(p + 2);
  f->payload = p + 8;
  f->len = ulen - 8;
  mc_pcap_endpoint_format(&f->src, f->src_text, sizeof f->src_text);
  mc_pcap_endpoint_format(&f->dst, f->dst_text, sizeof f->dst_text);
  r->counts.datagrams++;
  return MC_PCAP_DATAGRAM;
}

static int parse_ipv4(mc_pcap_reader *r, mc_pcap_frame *f, const uint8_t *p,
                      size_t n) {
  if (n < 20) return skip(r, f, "IPv4 header cut short", &r->counts.cut);
  size_t ihl = (size_t)(p[0] & 0x0f) * 4;
  size_t total = rd16(p + 2);
  if (ihl < 20 || total < ihl) return skip(r, f, "bad IPv4 header", NULL);
  if (total > n) return skip(r, f, "IPv4 packet cut short", &r->counts.cut);
  /* More fragments, or a non-zero offset: only part of a datagram. */
  if (rd16(p + 6) & 0x3fff)
    return skip(r, f, "IPv4 fragment (not reassembled)", &r->counts.fragments);
  if (p[9] != 17) return skip(r, f, "not UDP", &r->counts.not_udp);
  f->src.family = f->dst.family = 4;
  memcpy(f->src.ip, p + 12, 4);
  memcpy(f->dst.ip, p + 16, 4);
  return parse_udp(r, f, p + ihl, total - ihl);
}

static int parse_ipv6(mc_pcap_reader *r, mc_pcap_frame *f, const uint8_t *p,
                      size_t n) {
  if (n < 40) return skip(r, f, "IPv6 header cut short", &r->counts.cut);
  size_t plen = rd16(p + 4);
  if (40 + plen > n) return skip(r, f, "IPv6 packet cut short", &r->counts.cut);
  f->src.family = f->dst.family = 6;
  memcpy(f->src.ip, p + 8, 16);
  memcpy(f->dst.ip, p + 24, 16);
  const uint8_t *q = p + 40;
  size_t left = plen;
  uint8_t next = p[6];
  /* Walk the extension headers; each step is bounded by |left|. */
  for (;;) {
    size_t hlen;
    switch (next) {
    case 17: return parse_udp(r, f, q, left);
    case 0:  /* hop-by-hop */
    case 43: /* routing */
    case 60: /* destination options */
      if (left < 8) return skip(r, f, "IPv6 extension header cut short", &r->counts.cut);
      hlen = ((size_t)q[1] + 1) * 8;
      break;
    case 51: /* authentication header */
      if (left < 8) return skip(r, f, "IPv6 extension header cut short", &r->counts.cut);
      hlen = ((size_t)q[1] + 2) * 4;
      break;
    case 44: /* fragment: an atomic one (offset 0, no more) is whole */
      if (left < 8) return skip(r, f, "IPv6 extension header cut short", &r->counts.cut);
      if (rd16(q + 2) & 0xfff9)
        return skip(r, f, "IPv6 fragment (not reassembled)", &r->counts.fragments);
      hlen = 8;
      break;
    default:
      return skip(r, f, "not UDP", &r->counts.not_udp);
    }
    if (hlen > left) return skip(r, f, "IPv6 extension header cut short", &r->counts.cut);
    next = q[0];
    q += hlen;
    left -= hlen;
  }
}

/* Dispatches on the IP version nibble: link layers that carry a protocol
 * field agree with it for every frame worth reading. */
static int parse_ip(mc_pcap_reader *r, mc_pcap_frame *f, const uint8_t *p,
                    size_t n) {
  if (n < 1) return skip(r, f, "no IP header", &r->counts.cut);
  switch (p[0] >> 4) {
  case 4: return parse_ipv4(r, f, p, n);
  case 6: return parse_ipv6(r, f, p, n);
  default: return skip(r, f, "not IP", &r->counts.not_udp);
  }
}

/* Handles an EtherType |type| for the payload at |p|. */
static int parse_ethertype(mc_pcap_reader *r, mc_pcap_frame *f, uint16_t type,
                           const uint8_t *p, size_t n) {
  if (type == 0x0800 || type == 0x86dd) return parse_ip(r, f, p, n);
  return skip(r, f, "not IP", &r->counts.not_udp);
}

static int parse_frame(mc_pcap_reader *r, mc_pcap_frame *f, const uint8_t *p,
                       size_t n) {
  switch (r->linktype) {
  case MC_PCAP_LINKTYPE_RAW:
  case MC_PCAP_LINKTYPE_IPV4:
  case MC_PCAP_LINKTYPE_IPV6:
    return parse_ip(r, f, p, n);
  case MC_PCAP_LINKTYPE_NULL:
  case MC_PCAP_LINKTYPE_LOOP:
    /* A 4-byte address family in either byte order: the IP version nibble
     * decides, which also covers the BSDs' several AF_INET6 values. */
    if (n < 4) return skip(r, f, "loopback header cut short", &r->counts.cut);
    return parse_ip(r, f, p + 4, n - 4);
  case MC_PCAP_LINKTYPE_ETHERNET: {
    if (n < 14) return skip(r, f, "Ethernet header cut short", &r->counts.cut);
    size_t off = 12;
    uint16_t type = rd16(p + off);
    /* 802.1Q, 802.1ad and the old QinQ tag: 4 bytes each, any depth. */
    while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
      off += 4;
      if (n < off + 2) return skip(r, f, "VLAN tag cut short", &r->counts.cut);
      type = rd16(p + off);
    }
    return parse_ethertype(r, f, type, p + off + 2, n - off - 2);
  }
  case MC_PCAP_LINKTYPE_SLL:
    if (n < 16) return skip(r, f, "SLL header cut short", &r->counts.cut);
    return parse_ethertype(r, f, rd16(p + 14), p + 16, n - 16);
  case MC_PCAP_LINKTYPE_SLL2:
    if (n < 20) return skip(r, f, "SLL2 header cut short", &r->counts.cut);
    return parse_ethertype(r, f, rd16(p), p + 20, n - 20);
  default:
    return skip(r, f, "unsupported link type", NULL);
  }
}

int mc_pcap_next(mc_pcap_reader *r, mc_pcap_frame *f) {
  if (!r || !f) return MC_ERR_INVAL;
  struct pcap_pkthdr *h;
  const u_char *data;
  /* Linux's packet ring does not honour the read timeout while the line
   * is silent, so a live reader waits in poll() (which a signal also
   * interrupts) and reads without blocking. */
  if (r->live && r->fd >= 0) {
    struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
    if (poll(&pfd, 1, r->timeout_ms) <= 0) return MC_PCAP_TIMEOUT;
  }
  int rc = pcap_next_ex(r->p, &h, &data);
  if (rc == 0) return MC_PCAP_TIMEOUT;
  if (rc == PCAP_ERROR_BREAK) return MC_PCAP_END;
  if (rc < 0) {
    snprintf(r->error, sizeof r->error, "%s", pcap_geterr(r->p));
    return MC_ERR_STORAGE;
  }
  memset(f, 0, sizeof *f);
  r->counts.frames++;
  f->frame = r->counts.frames;
  f->ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
  f->caplen = h->caplen;
  return parse_frame(r, f, data, h->caplen);
}

const mc_pcap_counts *mc_pcap_counts_get(const mc_pcap_reader *r) {
  return &r->counts;
}

int mc_pcap_linktype(const mc_pcap_reader *r) { return r->linktype; }

const char *mc_pcap_error(const mc_pcap_reader *r) { return r->error; }

void mc_pcap_close(mc_pcap_reader *r) {
  if (!r) return;
  pcap_close(r->p);
  free(r);
}

/* Writes |v| in decimal at |o| and returns the end. */
static char *put_dec(char *o, unsigned v) {
  char d[8];
  int n = 0;
  do d[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (n > 0) *o++ = d[--n];
  return o;
}

/* Every datagram's two endpoints are formatted, so IPv4 (the common case)
 * is done by hand: inet_ntop and snprintf each parse a format, and were a
 * tenth of dump's time. */
char *mc_pcap_endpoint_format(const mc_pcap_endpoint *e, char *buf,
                              size_t cap) {
  char text[INET6_ADDRSTRLEN + 8] = "?", *o = text;
  if (e->family == 4) {
    for (int i = 0; i < 4; i++) {
      o = put_dec(o, e->ip[i]);
      *o++ = i < 3 ? '.' : ':';
    }
  } else {
    *o++ = '[';
    inet_ntop(AF_INET6, e->ip, o, INET6_ADDRSTRLEN);
    o += strlen(o);
    *o++ = ']';
    *o++ = ':';
  }
  o = put_dec(o, e->port);
  *o = '\0';
  if (cap > 0) {
    size_t n = (size_t)(o - text) < cap ? (size_t)(o - text) : cap - 1;
    memcpy(buf, text, n);
    buf[n] = '\0';
  }
  return buf;
}

int mc_pcap_endpoint_parse(mc_pcap_endpoint *e, const char *text) {
  if (!e || !text) return MC_ERR_INVAL;
  char host[INET6_ADDRSTRLEN + 2];
  const char *colon;
  size_t hlen;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (!close || close[1] != ':') return MC_ERR_INVAL;
    hlen = (size_t)(close - text - 1);
    if (hlen >= sizeof host) return MC_ERR_INVAL;
    memcpy(host, text + 1, hlen);
    colon = close + 1;
  } else {
    colon = strrchr(text, ':');
    if (!colon) return MC_ERR_INVAL;
    hlen = (size_t)(colon - text);
    if (hlen >= sizeof host) return MC_ERR_INVAL;
    memcpy(host, text, hlen);
  }
  host[hlen] = '\0';
  char *end;
  errno = 0;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (errno || end == colon + 1 || *end || port > 65535) return MC_ERR_INVAL;
  memset(e, 0, sizeof *e);
  if (inet_pton(AF_INET, host, e->ip) == 1) e->family = 4;
  else if (inet_pton(AF_INET6, host, e->ip) == 1) e->family = 6;
  else return MC_ERR_INVAL;
  e->port = (uint16_t)port;
  return 0;
}

int mc_pcap_endpoint_equal(const mc_pcap_endpoint *a,
                           const mc_pcap_endpoint *b) {
  size_t n = a->family == 4 ? 4 : 16;
  return a->family == b->family && a->port == b->port &&
         memcmp(a->ip, b->ip, n) == 0;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += rd16(p + i);
  if (n & 1) sum += (uint32_t)p[n - 1] << 8;
  return sum;
}

static uint16_t csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static void wr16(uint8_t *p, size_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

int mc_pcap_build_udp(uint8_t *buf, size_t cap, const mc_pcap_endpoint *src,
                      const mc_pcap_endpoint *dst, const uint8_t *payload,
                      size_t len, size_t *out_len) {
  if (!buf || !src || !dst || (!payload && len) || !out_len ||
      src->family != dst->family || (src->family != 4 && src->family != 6))
    return MC_ERR_INVAL;
  size_t iph = src->family == 4 ? 20 : 40;
  size_t alen = src->family == 4 ? 4 : 16;
  if (len > MC_PCAP_PACKET_MAX - iph - 8) return MC_ERR_TOO_BIG;
  size_t total = iph + 8 + len;
  if (total > cap) return MC_ERR_BUFFER_TOO_SMALL;
  memset(buf, 0, iph + 8);
  uint8_t *ip = buf, *udp = buf + iph;
  if (src->family == 4) {
    ip[0] = 0x45;
    wr16(ip + 2, total);
    ip[6] = 0x40; /* don't fragment */
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, src->ip, 4);
    memcpy(ip + 16, dst->ip, 4);
    wr16(ip + 10, csum_fold(csum_add(0, ip, 20)));
  } else {
    ip[0] = 0x60;
    wr16(ip + 4, 8 + len);
    ip[6] = 17;
    ip[7] = 64;
    memcpy(ip + 8, src->ip, 16);
    memcpy(ip + 24, dst->ip, 16);
  }
  wr16(udp, src->port);
  wr16(udp + 2, dst->port);
  wr16(udp + 4, 8 + len);
  if (len) memcpy(udp + 8, payload, len);
  /* Pseudo-header: addresses, protocol, UDP length. */
  uint32_t sum = csum_add(0, src->ip, alen);
  sum = csum_add(sum, dst->ip, alen);
  sum += 17 + (uint32_t)(8 + len);
  uint16_t c = csum_fold(csum_add(sum, udp, 8 + len));
  wr16(udp + 6, c ? c : 0xffff);
  *out_len = total;
  return 0;
}

static void wr32le(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

int mc_pcap_writer_open(mc_pcap_writer **out, const char *path,
                        uint32_t linktype, char *err, size_t errlen) {
  if (!out) return MC_ERR_INVAL;
  *out = NULL;
  if (!path) return MC_ERR_INVAL;
  mc_pcap_writer *w = calloc(1, sizeof *w);
  if (!w) return MC_ERR_NOMEM;
  w->f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
  if (!w->f) {
    set_err(err, errlen, "%s: %s", path, strerror(errno));
    free(w);
    return MC_ERR_STORAGE;
  }
  w->linktype = linktype;
  /* Little-endian classic pcap header: magic, version 2.4, zone 0,
   * sigfigs 0, snaplen 65535, link type. */
  uint8_t hdr[24];
  wr32le(hdr, 0xa1b2c3d4);
  hdr[4] = 2, hdr[5] = 0, hdr[6] = 4, hdr[7] = 0;
  wr32le(hdr + 8, 0);
  wr32le(hdr + 12, 0);
  wr32le(hdr + 16, 65535);
  wr32le(hdr + 20, linktype);
  if (fwrite(hdr, sizeof hdr, 1, w->f) != 1) {
    set_err(err, errlen, "%s: %s", path, strerror(errno));
    if (w->f != stdout) fclose(w->f);
    free(w);
    return MC_ERR_STORAGE;
  }
  *out = w;
  return 0;
}

int mc_pcap_write_frame(mc_pcap_writer *w, uint64_t ts_us,
                        const uint8_t *frame, size_t len) {
  if (!w || (!frame && len)) return MC_ERR_INVAL;
  if (len > 65535) return MC_ERR_TOO_BIG;
  uint8_t rec[16];
  wr32le(rec, (uint32_t)(ts_us / 1000000u));
  wr32le(rec + 4, (uint32_t)(ts_us % 1000000u));
  wr32le(rec + 8, (uint32_t)len);
  wr32le(rec + 12, (uint32_t)len);
  if (fwrite(rec, sizeof rec, 1, w->f) != 1 ||
      (len && fwrite(frame, len, 1, w->f) != 1)) {
    w->failed = 1;
    return MC_ERR_STORAGE;
  }
  return 0;
}

int mc_pcap_write_udp(mc_pcap_writer *w, uint64_t ts_us,
                      const mc_pcap_endpoint *src, const mc_pcap_endpoint *dst,
                      const uint8_t *payload, size_t len) {
  if (!w || !src) return MC_ERR_INVAL;
  if (!(w->linktype == MC_PCAP_LINKTYPE_RAW ||
        (w->linktype == MC_PCAP_LINKTYPE_IPV4 && src->family == 4) ||
        (w->linktype == MC_PCAP_LINKTYPE_IPV6 && src->family == 6)))
    return MC_ERR_INVAL;
  size_t n;
  int rc = mc_pcap_build_udp(w->packet, sizeof w->packet, src, dst, payload,
                             len, &n);
  if (rc == MC_ERR_BUFFER_TOO_SMALL) return MC_ERR_TOO_BIG;
  if (rc < 0) return rc;
  return mc_pcap_write_frame(w, ts_us, w->packet, n);
}

int mc_pcap_writer_close(mc_pcap_writer *w) {
  if (!w) return 0;
  int bad = w->failed;
  if (w->f == stdout) bad |= fflush(w->f) != 0;
  else bad |= fclose(w->f) != 0;
  free(w);
  return bad ? MC_ERR_STORAGE : 0;
}
