/*
 * sim_pcap.c: writes the simulator's datagrams as a pcap file.
 *
 * Link type DLT_RAW: every record is an IPv4 header and a UDP header we
 * build, then the MyChat datagram, so Wireshark and tools/ can read the
 * capture like one taken on a real interface. The UDP checksum is left 0
 * (allowed for IPv4); the IP header checksum is computed.
 */
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct sim_pcap {
  pcap_t *p;
  pcap_dumper_t *d;
  uint16_t ip_id;
};

sim_pcap *sim_pcap_open(const char *path) {
  sim_pcap *sp = calloc(1, sizeof *sp);
  if (sp == NULL) {
    fprintf(stderr, "mychat-sim: --pcap %s: out of memory\n", path);
    return NULL;
  }
  sp->p = pcap_open_dead(DLT_RAW, 65535);
  if (sp->p == NULL) {
    fprintf(stderr, "mychat-sim: --pcap %s: pcap_open_dead failed\n", path);
    free(sp);
    return NULL;
  }
  sp->d = pcap_dump_open(sp->p, path);
  if (sp->d == NULL) {
    fprintf(stderr, "mychat-sim: --pcap %s: %s\n", path, pcap_geterr(sp->p));
    pcap_close(sp->p);
    free(sp);
    return NULL;
  }
  return sp;
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

void sim_pcap_write(sim_pcap *sp, mc_tstamp t, uint32_t src, uint16_t sport,
                    uint32_t dst, uint16_t dport, const uint8_t *data,
                    size_t len) {
  uint8_t pkt[20 + 8 + 2048];
  if (len > sizeof pkt - 28)
    len = sizeof pkt - 28;
  size_t total = 28 + len;
  memset(pkt, 0, 28);
  pkt[0] = 0x45;                      /* IPv4, 20-byte header */
  put16(pkt + 2, (uint16_t)total);
  put16(pkt + 4, sp->ip_id++);
  pkt[8] = 64;                        /* TTL */
  pkt[9] = 17;                        /* UDP */
  put32(pkt + 12, src);
  put32(pkt + 16, dst);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2)
    sum += (uint32_t)(pkt[i] << 8 | pkt[i + 1]);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  put16(pkt + 10, (uint16_t)~sum);
  put16(pkt + 20, sport);
  put16(pkt + 22, dport);
  put16(pkt + 24, (uint16_t)(8 + len));
  memcpy(pkt + 28, data, len);
  struct pcap_pkthdr h = {0};
  /* Virtual time counts from a fixed date so captures repeat exactly. */
  uint64_t us = 1767225600ULL * 1000000ULL + t;
  h.ts.tv_sec = (time_t)(us / 1000000);
  h.ts.tv_usec = (suseconds_t)(us % 1000000);
  h.caplen = h.len = (bpf_u_int32)total;
  pcap_dump((u_char *)sp->d, &h, pkt);
}

void sim_pcap_close(sim_pcap *sp) {
  if (sp == NULL)
    return;
  pcap_dump_close(sp->d);
  pcap_close(sp->p);
  free(sp);
}
