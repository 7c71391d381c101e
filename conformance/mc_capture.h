/*
 * mc_capture.h: a conformance case on disk: a pcap of the datagrams one
 * scripted run exchanged with the reference server (captures/NAME.pcap) and
 * its sidecar (captures/NAME.case). Shared by the recorder (mc-record) and
 * the replayer (mychat-conform); not part of lib/.
 *
 * Addresses in a capture are synthetic: the server is MC_CAP_SERVER_PORT on
 * 127.0.0.1 and client endpoint k (0-based) is MC_CAP_CLIENT_PORT0 + k, so a
 * regenerated capture does not change with the ports the kernel picked.
 * An endpoint's IP address is 127.0.0.(1 + its host number): host 0 for
 * most, other hosts where a case needs clients on several addresses (the
 * per-name login rate limit); recorder and replayer bind such an endpoint
 * to that loopback address.
 *
 * Names: every user and group name a case makes up starts with the tag
 * MC_CAP_TAG ("q0000."); the replayer swaps it, byte for byte, for a tag of
 * its own run, so a case can run again and again against one server.
 */
#ifndef MC_CAPTURE_H
#define MC_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mc_codec_pb.h"

#define MC_CAP_SERVER_PORT 8000
#define MC_CAP_CLIENT_PORT0 40001
#define MC_CAP_ENDPOINTS_MAX 16
#define MC_CAP_PKTS_MAX 512
#define MC_CAP_TAG "q0000."
#define MC_CAP_TAG_LEN 6
#define MC_CAP_TIME_BASE_US 1767225600000000ULL /* 2026-01-01 00:00 UTC */
#define MC_CAP_REQUIRES_MAX 48
#define MC_CAP_DIRECTIVES_MAX 8
#define MC_CAP_GAPS_MAX 16   /* gaps in one retransmit directive (MC-82: 13) */
#define MC_CAP_HOSTS_MAX 64  /* client hosts 127.0.0.1 .. 127.0.0.64 */

typedef struct {
  uint64_t t_us;          /* capture time since the first datagram */
  int from_client;        /* 1: client -> server, 0: server -> client */
  int ep;                 /* client endpoint, 0-based */
  int host;               /* its host: 127.0.0.(1 + host), < MC_CAP_HOSTS_MAX */
  size_t len;
  uint8_t data[MC_DATAGRAM_MAX + 64]; /* oversize probes are a bit longer */
} mc_cap_pkt;

/* "retransmit: EP SEQ MIN-MAX ... [last]": the server must send its
 * reliable seq SEQ to endpoint EP again, each gap (milliseconds between
 * successive transmissions) within its bounds; with "last", never more
 * often than that (it gives up instead, MC-82). */
typedef struct {
  int ep;
  uint32_t seq;
  int n_gaps;
  int last;
  unsigned gap_min[MC_CAP_GAPS_MAX], gap_max[MC_CAP_GAPS_MAX];
} mc_cap_retransmit;

/* "allow: PATH EXPECTED=ALT|ALT...": wherever the capture has EXPECTED in
 * field PATH of a server datagram (as failure reports name fields:
 * "error.code", "result.code"), each ALT is accepted too, because the spec
 * allows more than one answer there. "allow: absent BODY": an unreliable
 * BODY ("pong", "error") of the capture may also not come at all. Values
 * are enum names, decimal numbers or strings, as reports print them. */
typedef struct {
  char path[48];          /* "absent" for the second form */
  char expected[48];      /* the body name for "absent" */
  char alts[96];          /* "|"-separated; "" for "absent" */
} mc_cap_allow;
/* "ack: EP MAX SEQ[/K] ...": of the listed transmissions from endpoint EP
 * (the K-th, 1 by default, of client seq SEQ), the one acked soonest got
 * a server datagram whose ack covers it within MAX milliseconds
 * (MC-87..MC-89). With several listed, one slow answer of a loaded
 * machine does not fail the case, while a server that always waits does. */
typedef struct {
  int ep;
  unsigned max_ms;
  int n;
  uint32_t seq[MC_CAP_GAPS_MAX];
  int occ[MC_CAP_GAPS_MAX];
} mc_cap_acktime;

/* "timeout: EP MIN-MAX PEP SEQ [MC-n] [impaired MIN-MAX]": endpoint EP
 * falls silent, and the push the end of its session causes, recorded as
 * seq SEQ to endpoint PEP (an offline Presence), comes MIN..MAX
 * milliseconds after EP's last datagram went out. MC-n is the rule that
 * times the end: MC-64 (the session timeout) unless given, MC-82 for a
 * give-up. The bounds on an impaired link, when the link may rightly move
 * the end (a give-up timed by an RTO that lost its RTT sample), follow
 * "impaired"; the clean ones otherwise. */
typedef struct {
  int ep, push_ep;
  unsigned min_ms, max_ms;
  unsigned imp_min_ms, imp_max_ms;
  uint32_t seq;
  int req;
} mc_cap_timeout;

/* "impair: KINDS DIR[; KINDS DIR]" (or "impair: none"): of the
 * impairments a run asks for, the ones the case takes in each direction;
 * KINDS is "all" or a comma list of loss, dup, reorder, delay (delay
 * brings its jitter), DIR c2s (toward the server), s2c or both. A case
 * that cannot take an impairment says why in "impair-why:" (a rate limit
 * case counts the handshakes that reach the server, a timing case cannot
 * take delay); it still runs, with what it takes. */
#define MC_CAP_IMP_LOSS 1u
#define MC_CAP_IMP_DUP 2u
#define MC_CAP_IMP_REORDER 4u
#define MC_CAP_IMP_DELAY 8u
#define MC_CAP_IMP_ALL 15u
#define MC_CAP_TO_SERVER 0
#define MC_CAP_TO_CLIENT 1

typedef struct {
  char name[64];
  char desc[256];
  char flags[160];        /* server flags the case needs */
  /* The impairments of the run's link the case takes, per direction
   * (MC_CAP_TO_SERVER, MC_CAP_TO_CLIENT): MC_CAP_IMP_* bits, all of them
   * unless an "impair:" line says otherwise, and why not (from
   * "impair-why:", "" for a case that takes every impairment). */
  unsigned impair[2];
  char impair_why[256];
  int n_requires;
  int requires[MC_CAP_REQUIRES_MAX];
  int n_retransmit;
  mc_cap_retransmit retransmit[MC_CAP_DIRECTIVES_MAX];
  int n_allow;
  mc_cap_allow allow[MC_CAP_DIRECTIVES_MAX];
  int n_acktime;
  mc_cap_acktime acktime[MC_CAP_DIRECTIVES_MAX];
  int n_timeout;
  mc_cap_timeout timeout[MC_CAP_DIRECTIVES_MAX];
  size_t n_pkts;
  mc_cap_pkt *pkts;       /* n_pkts entries, owned */
} mc_case;

/* The standard server flags: the cases without other needs are recorded
 * with these and mychat-conform runs those by default. */
#define MC_CAP_STD_FLAGS "--rate-burst 1000 --rate-refill-ms 10 --keepalive-ms 500 --timeout-ms 2000"

/* Writes |n| packets as a LINKTYPE_RAW pcap at |path|. Returns 0 or a
 * negative MC_ERR_* with a message in |err|. */
int mc_capture_write(const char *path, const mc_cap_pkt *pkts, size_t n,
                     char *err, size_t errlen);

/* Loads captures/NAME.case at |case_path| and the pcap beside it into
 * |c| (zeroed first). Returns 0 or a negative MC_ERR_* with a message in
 * |err|. */
int mc_case_load(mc_case *c, const char *case_path, char *err, size_t errlen);

/* Parses the value of an "impair:" line into |imp| (per direction, as
 * mc_case.impair). Returns 0 or MC_ERR_INVAL. */
int mc_case_parse_impair(const char *v, unsigned imp[2]);

/* Writes |imp| as an "impair:" value ("all both", "loss,dup c2s; dup
 * s2c", "none") into |b| (|cap| bytes). Returns nothing; cuts to fit. */
void mc_case_impair_text(const unsigned imp[2], char *b, size_t cap);

/* Frees what mc_case_load allocated. */
void mc_case_free(mc_case *c);

/* Opens a UDP socket connected to |server| from client host |host|:
 * from an address the kernel picks for host 0, from 127.0.0.(1 + host)
 * otherwise (then |server| must be an IPv4 loopback address). Returns the
 * descriptor, or -1 with a message in |err|. */
int mc_capture_socket(const struct sockaddr *server, socklen_t len, int host,
                      char *err, size_t errlen);

/* Replaces every occurrence of the |n|-byte pattern |from| in |buf| (|len|
 * bytes) by the |n| bytes of |to|. Returns the number replaced. */
size_t mc_capture_replace(uint8_t *buf, size_t len, const uint8_t *from,
                          const uint8_t *to, size_t n);

#endif
