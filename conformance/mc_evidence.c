/*
 * mc_evidence.c: traces and decoded lines of an exchange (see
 * mc_evidence.h).
 */
#include "mc_evidence.h"

#include <stdlib.h>
#include <string.h>

void mc_evidence_trace(void *arg, int ep, int from_client, const uint8_t *d,
                       size_t len, uint64_t t_us) {
  mc_evidence *ev = arg;
  if (ev->n == MC_EVIDENCE_MAX) {
    ev->truncated = 1;
    return;
  }
  if (ev->n == ev->cap) {
    size_t nc = ev->cap ? ev->cap * 2 : 256;
    ev->pkts = mcp_xrealloc(ev->pkts, nc * sizeof *ev->pkts);
    ev->cap = nc;
  }
  if (ev->n == 0)
    ev->t0 = t_us;
  mc_cap_pkt *p = &ev->pkts[ev->n++];
  p->t_us = t_us - ev->t0;
  p->from_client = from_client;
  p->ep = ep;
  /* A datagram too long for a capture record is kept cut: the decoder
   * then reports it as malformed, which it is (MC-2). */
  p->len = len < sizeof p->data ? len : sizeof p->data;
  memcpy(p->data, d, p->len);
}

void mc_evidence_reset(mc_evidence *ev) {
  ev->n = 0;
  ev->truncated = 0;
}

void mc_evidence_free(mc_evidence *ev) {
  free(ev->pkts);
  memset(ev, 0, sizeof *ev);
}

static void endpoint(mc_pcap_endpoint *e, char *text, size_t cap,
                     uint16_t port) {
  memset(e, 0, sizeof *e);
  e->family = 4;
  e->ip[0] = 127;
  e->ip[3] = 1;
  e->port = port;
  mc_pcap_endpoint_format(e, text, cap);
}

void mc_evidence_format(mcp_buf *b, const mc_cap_pkt *pkts, size_t n,
                        const char *lead) {
  mcp_ctx ctx;
  mcp_ctx_init(&ctx, MC_CAP_SERVER_PORT);
  for (size_t i = 0; i < n; i++) {
    const mc_cap_pkt *p = &pkts[i];
    mc_pcap_frame f;
    memset(&f, 0, sizeof f);
    mc_pcap_endpoint srv, cli;
    char st[MC_PCAP_ENDPOINT_TEXT_MAX], ct[MC_PCAP_ENDPOINT_TEXT_MAX];
    endpoint(&srv, st, sizeof st, MC_CAP_SERVER_PORT);
    endpoint(&cli, ct, sizeof ct, (uint16_t)(MC_CAP_CLIENT_PORT0 + p->ep));
    f.frame = i + 1;
    f.ts_us = MC_CAP_TIME_BASE_US + p->t_us;
    f.caplen = (uint32_t)p->len;
    f.src = p->from_client ? cli : srv;
    f.dst = p->from_client ? srv : cli;
    memcpy(f.src_text, p->from_client ? ct : st, sizeof f.src_text);
    memcpy(f.dst_text, p->from_client ? st : ct, sizeof f.dst_text);
    f.payload = p->data;
    f.len = p->len;
    mcp_dgram d;
    mcp_decode(&ctx, &f, &d);
    mcp_buf_printf(b, "%s", lead);
    mcp_format(b, &ctx, &d, MCP_SHORT);
    mcp_buf_printf(b, "\n");
    mc_codec_free(d.env);
  }
  mcp_ctx_free(&ctx);
}
