/*
 * mc_evidence.h: what mychat-conform shows of a case's exchange: a trace
 * of every datagram that went over the wire (fed by mc_replay's trace
 * hook), printed as mychat-pcap dump lines (tools/mcp.h's formatter) next
 * to the capture's, and written as a pcap that mychat-pcap and the
 * Wireshark dissector read.
 *
 * Addresses are the captures' synthetic ones (server 127.0.0.1:8000,
 * client endpoint k 127.0.0.1:40001+k), so the live exchange and the
 * recorded one read the same way and tools find MyChat on its port.
 */
#ifndef MC_EVIDENCE_H
#define MC_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "mc_capture.h"
#include "mcp.h"

typedef struct {
  mc_cap_pkt *pkts;             /* owned; t_us from the first datagram */
  size_t n, cap;
  uint64_t t0;                  /* monotonic time of the first datagram */
  int truncated;                /* more datagrams than MC_EVIDENCE_MAX */
} mc_evidence;

#define MC_EVIDENCE_MAX 8192

/* mc_replay_opts.trace for an mc_evidence |arg|. */
void mc_evidence_trace(void *arg, int ep, int from_client, const uint8_t *d,
                       size_t len, uint64_t t_us);

/* Empties |ev| for the next run (keeps its memory). */
void mc_evidence_reset(mc_evidence *ev);
void mc_evidence_free(mc_evidence *ev);

/* Appends one mychat-pcap dump line per datagram of |pkts| (|n|) to |b|,
 * each after |lead| and ending in a newline. */
void mc_evidence_format(mcp_buf *b, const mc_cap_pkt *pkts, size_t n,
                        const char *lead);

#endif
