/*
 * mc_replay.h: stateful replay of one conformance case against a server
 * (the engine of mychat-conform; conformance/README.md states its rules).
 *
 * Each client endpoint of the capture becomes a fresh UDP socket; the
 * client's datagrams are sent in capture order after the substitutions of
 * the values the server chose (session ids, tokens) and of the name tag;
 * before each one, every server datagram the capture shows earlier is
 * awaited and compared field by field. Optionally the link is impaired in
 * process (lib/mc_netem.h, both directions), and the replayer then
 * retransmits the client's datagrams the way a client would.
 */
#ifndef MC_REPLAY_H
#define MC_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mc_capture.h"
#include "mc_netem.h"

typedef struct {
  struct sockaddr_storage server;
  socklen_t server_len;
  double timeout_s;           /* longest wait for one expected datagram */
  int impaired;               /* netem asked for: each case takes the part
                                 its profile allows (mc_case.impair) */
  mc_netem_config netem;
  uint64_t seed;
  char tag[MC_CAP_TAG_LEN + 1]; /* this run's name tag, "abcde." */
  /* Called with every datagram exchanged with the server, as it went on
   * the wire: sent (|from_client| 1, after the impairment) or received
   * (before it), at monotonic time |t_us|. NULL: no trace. */
  void (*trace)(void *arg, int ep, int from_client, const uint8_t *d,
                size_t len, uint64_t t_us);
  void *trace_arg;
  /* NULL, or counters to which each run adds what its link did, both
   * directions together: the evidence that an impaired run was impaired. */
  mc_netem_stats *link;
} mc_replay_opts;

/* A failed run during which the replay itself was not scheduled for this
 * long is void: the timing checks allow 100 ms or so, and a longer silence
 * of ours changes what the server may do. */
#define MC_REPLAY_STALL_US 100000
#define MC_REPLAY_VOID 2

/* The impairments |req| asks for: MC_CAP_IMP_* bits (mc_capture.h).
 * Returns them. */
unsigned mc_replay_kinds(const mc_netem_config *req);

/* Stores in |out| the part of |req| that |kinds| (MC_CAP_IMP_* bits)
 * names, everything else off: the link of a case whose profile takes only
 * those. Returns nothing. */
void mc_replay_mask(const mc_netem_config *req, unsigned kinds,
                    mc_netem_config *out);

/* Replays |c| and stores a readable report of the first failure (field
 * diff, expected versus received) in |report| (|cap| bytes; "" when it
 * passed). Returns 0 on pass, 1 on failure, MC_REPLAY_VOID on a failure
 * after a stall of MC_REPLAY_STALL_US or more of the replay's own, or a
 * negative MC_ERR_* when it could not run (sockets). */
int mc_replay_run(const mc_case *c, const mc_replay_opts *o, char *report,
                  size_t cap);

#endif
