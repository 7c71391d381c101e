/*
 * mychat-pcap: reads MyChat traffic from captures (issue 7).
 *
 *   dump FILE        one line per datagram (-v field tree, --json)
 *   stats FILE       counts, sessions, retransmissions, RTT, latencies
 *   capture -i IF    live capture, decoded as it arrives
 *   anonymize IN OUT replace names, passwords, tokens, texts
 *   slice IN OUT     keep a session, a user or a time window
 *
 * Exit status: 0 on success, 1 when a file could not be read or written
 * (including a capture cut off in the middle: what came before it is still
 * shown), 2 for usage errors.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mc_error.h"
#include "mcp.h"
#include "mcp_cmd.h"

#define PROG "mychat-pcap"

static const char *const filter_names[] = {"user", "session", "type",
                                           "endpoint", "from", "to"};

int mcp_parse_port(const char *val, unsigned *port) {
  char *end;
  unsigned long p = strtoul(val, &end, 10);
  if (end == val || *end || p == 0 || p > 65535) {
    fprintf(stderr, PROG ": --port wants 1..65535, not '%s'\n", val);
    return -1;
  }
  *port = (unsigned)p;
  return 0;
}

int mcp_common_opt(int opt, const char *val, mcp_filter *flt, unsigned *port) {
  if (opt >= OPT_USER && opt <= OPT_TO)
    return mcp_filter_set(flt, PROG, filter_names[opt - OPT_USER], val);
  if (opt == OPT_PORT) return mcp_parse_port(val, port);
  return -1;
}

int mcp_usage_error(const char *cmd) {
  fprintf(stderr, "Try '" PROG " %s --help' for usage.\n", cmd);
  return 2;
}

int mcp_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts) {
  char opts[32];
  snprintf(opts, sizeof opts, ":%s", shortopts); /* ':' reports a missing value */
  opterr = 0;
  int c = getopt_long(argc, argv, opts, longopts, NULL);
  if (c == ':' || c == '?') {
    const char *bad = argv[optind - 1];
    char shortname[3] = {'-', (char)optopt, 0};
    if (bad[0] != '-' || bad[1] != '-') /* a short option, maybe in a cluster */
      bad = optopt ? shortname : bad;
    fprintf(stderr, PROG ": %s: %s\n", bad,
            c == ':' ? "needs a value" : "unknown option");
    return '?';
  }
  return c;
}

int mcp_open(mc_pcap_reader **r, const char *path) {
  char err[512];
  if (mc_pcap_open_file(r, path, err, sizeof err) < 0) {
    fprintf(stderr, PROG ": %s\n", err);
    return -1;
  }
  return 0;
}

/* Reports how the reading ended. Returns the exit status. */
int mcp_finish_read(mc_pcap_reader *r, int rc, const char *path) {
  const mc_pcap_counts *n = mc_pcap_counts_get(r);
  if (n->fragments)
    fprintf(stderr, PROG ": warning: %" PRIu64 " IP fragment(s) skipped (not reassembled)\n",
            n->fragments);
  if (rc < 0) {
    fprintf(stderr, PROG ": %s: read error after frame %" PRIu64 ": %s\n", path,
            n->frames, mc_pcap_error(r));
    return 1;
  }
  return 0;
}

int mcp_open_io(mc_pcap_reader **r, mc_pcap_writer **w, const char *in,
                const char *out) {
  if (mcp_open(r, in) < 0) return -1;
  char err[512];
  if (mc_pcap_writer_open(w, out, MC_PCAP_LINKTYPE_RAW, err, sizeof err) < 0) {
    fprintf(stderr, PROG ": %s\n", err);
    mc_pcap_close(*r);
    return -1;
  }
  return 0;
}

int mcp_close_io(mc_pcap_reader *r, mc_pcap_writer *w, int rc, const char *in,
                 const char *out) {
  int status = mcp_finish_read(r, rc, in);
  mc_pcap_close(r);
  if (mc_pcap_writer_close(w) < 0) {
    fprintf(stderr, PROG ": %s: write failed\n", out);
    status = 1;
  }
  return status;
}

int mcp_filter_args(int argc, char **argv, const char *help, int nargs,
                    mcp_filter *flt, unsigned *port, int *status) {
  static const struct option lo[] = {FILTER_LONGOPTS, {0, 0, 0, 0}};
  int opt;
  while ((opt = mcp_getopt(argc, argv, "h", lo)) != -1) {
    if (opt == 'h') {
      fputs(help, stdout);
      *status = 0;
      return 0;
    }
    if (opt == '?' || mcp_common_opt(opt, optarg, flt, port) < 0) {
      *status = mcp_usage_error(argv[0]);
      return 0;
    }
  }
  if (optind != argc - nargs) {
    fprintf(stderr, PROG " %s: expected %s\n", argv[0], nargs == 1 ? "one FILE" : "IN and OUT");
    *status = mcp_usage_error(argv[0]);
    return 0;
  }
  return 1;
}

/* ---- dump and capture ---- */

static const char dump_help[] =
    "Usage: " PROG " dump [options] FILE\n"
    "Prints one line per UDP datagram of FILE (pcap or pcapng): frame, time\n"
    "since the first frame, source -> destination, direction (C->S, S->C),\n"
    "body, seq, ack (cumulative[ranges]), session id (first 8 hex digits) and\n"
    "the body's fields. Datagrams that are not MyChat, or do not decode, are\n"
    "shown as such with the decoder's reason; other frames as 'skipped'.\n"
    "  -v, --verbose       every field by name, as a tree\n"
    "      --json          one JSON object per line\n"
    "      --port P        the server's UDP port (default 8000)\n"
    "      --user NAME     only the datagrams of NAME's sessions\n"
    "      --session HEX   only the session whose id starts with HEX\n"
    "      --type BODY     only one body (login, send, deliver, ack-only, ...)\n"
    "      --endpoint H:P  only datagrams from or to H:P\n"
    "      --from T, --to T  time window: seconds since the first frame, or epoch\n"
    "  -h, --help          this help\n";

static void print_dgram(const mcp_ctx *c, const mcp_dgram *d, mcp_style st,
                        mcp_buf *b) {
  mcp_buf_reset(b);
  mcp_format(b, c, d, st);
  if (st != MCP_TREE) mcp_buf_putc(b, '\n');
  fwrite(b->s, 1, b->len, stdout); /* one write per line */
}

static void print_skipped(const mc_pcap_frame *f, mcp_style st, mcp_buf *b) {
  if (st == MCP_JSON) {
    json_t *o = mcp_json_check(json_object());
    mcp_json_set(o, "frame", json_integer((json_int_t)f->frame));
    mcp_json_set(o, "ts_us", json_integer((json_int_t)f->ts_us));
    mcp_json_set(o, "kind", json_string("skipped"));
    mcp_json_set(o, "reason", json_string(f->skip_reason));
    mcp_buf_reset(b);
    mcp_buf_json(b, o);
    mcp_buf_putc(b, '\n');
    fwrite(b->s, 1, b->len, stdout);
  } else
    printf("%4" PRIu64 " skipped (%" PRIu32 " bytes: %s)\n", f->frame, f->caplen,
           f->skip_reason);
}

/* Reads |r| to its end (or, live, until |stop| is set), printing each frame
 * that passes |flt| and writing it to |w| when not NULL. Returns
 * mc_pcap_next()'s last result. */
static int show_all(mc_pcap_reader *r, unsigned port, const mcp_filter *flt,
                    mcp_style st, mc_pcap_writer *w, uint64_t count,
                    volatile sig_atomic_t *stop, time_t deadline) {
  mcp_ctx c;
  mcp_ctx_init(&c, port);
  mcp_buf b = {0};
  mc_pcap_frame f;
  int rc = MC_PCAP_END;
  int filtered = flt->user || flt->session || flt->type || flt->have_endpoint ||
                 flt->have_from || flt->have_to;
  uint64_t shown = 0;
  while (!(stop && *stop) && (rc = mc_pcap_next(r, &f)) > 0) {
    if (deadline && time(NULL) >= deadline) break;
    if (rc == MC_PCAP_TIMEOUT) continue;
    if (rc == MC_PCAP_SKIPPED) {
      if (!filtered) print_skipped(&f, st, &b);
      continue;
    }
    mcp_dgram d;
    mcp_decode(&c, &f, &d);
    if (mcp_filter_match(flt, &c, &d)) {
      print_dgram(&c, &d, st, &b);
      if (w) mc_pcap_write_udp(w, f.ts_us, &f.src, &f.dst, f.payload, f.len);
      shown++;
    }
    mc_codec_free(d.env);
    if (stop) fflush(stdout);
    if (count && shown >= count) break;
  }
  if ((stop && *stop) || (count && shown >= count) ||
      (deadline && time(NULL) >= deadline))
    rc = MC_PCAP_END;
  mcp_buf_free(&b);
  mcp_ctx_free(&c);
  return rc;
}

static int cmd_dump(int argc, char **argv) {
  static const struct option lo[] = {
      FILTER_LONGOPTS, {"verbose", no_argument, 0, 'v'},
      {"json", no_argument, 0, OPT_JSON}, {0, 0, 0, 0}};
  mcp_filter flt = {0};
  unsigned port = 8000;
  mcp_style st = MCP_SHORT;
  int opt;
  while ((opt = mcp_getopt(argc, argv, "vh", lo)) != -1) {
    if (opt == 'h') return fputs(dump_help, stdout), 0;
    if (opt == 'v') st = MCP_TREE;
    else if (opt == OPT_JSON) st = MCP_JSON;
    else if (opt == '?' || mcp_common_opt(opt, optarg, &flt, &port) < 0)
      return mcp_usage_error("dump");
  }
  if (optind != argc - 1) {
    fprintf(stderr, PROG " dump: expected one FILE\n");
    return mcp_usage_error("dump");
  }
  mc_pcap_reader *r;
  if (mcp_open(&r, argv[optind]) < 0) return 1;
  /* A file is read to its end without waiting: lines go out in large
   * blocks (capture, which shows them live, flushes each). */
  static char out[1 << 16];
  setvbuf(stdout, out, _IOFBF, sizeof out);
  int rc = show_all(r, port, &flt, st, NULL, 0, NULL, 0);
  fflush(stdout); /* the lines before a read error's message */
  int status = mcp_finish_read(r, rc, argv[optind]);
  mc_pcap_close(r);
  return status;
}

static const char capture_help[] =
    "Usage: " PROG " capture -i IFACE [--port P] [-w FILE] [-c COUNT] [--seconds N]\n"
    "Captures MyChat traffic live (BPF filter 'udp port P') and prints each\n"
    "datagram as 'dump' does, until SIGINT (Ctrl-C), COUNT datagrams or N\n"
    "seconds. Needs capture rights: root, or CAP_NET_RAW and CAP_NET_ADMIN.\n"
    "  -i, --interface IF  the interface (e.g. lo, eth0, any)\n"
    "      --port P        the MyChat UDP port (default 8000)\n"
    "  -w, --write FILE    also write the datagrams to FILE (pcap, raw IP)\n"
    "  -c, --count N       stop after N datagrams\n"
    "      --seconds N     stop after N seconds\n"
    "  -v, --verbose       field tree;  --json: JSON lines\n"
    "  -h, --help          this help\n";

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

static int cmd_capture(int argc, char **argv) {
  static const struct option lo[] = {
      {"interface", required_argument, 0, 'i'}, {"write", required_argument, 0, 'w'},
      {"count", required_argument, 0, 'c'}, {"seconds", required_argument, 0, OPT_SECONDS},
      {"port", required_argument, 0, OPT_PORT}, {"verbose", no_argument, 0, 'v'},
      {"json", no_argument, 0, OPT_JSON}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  const char *iface = NULL, *out = NULL;
  unsigned port = 8000;
  unsigned long count = 0, seconds = 0;
  mcp_style st = MCP_SHORT;
  mcp_filter flt = {0};
  int opt;
  char *end;
  while ((opt = mcp_getopt(argc, argv, "i:w:c:vh", lo)) != -1) {
    switch (opt) {
    case 'h': return fputs(capture_help, stdout), 0;
    case 'i': iface = optarg; break;
    case 'w': out = optarg; break;
    case 'v': st = MCP_TREE; break;
    case OPT_JSON: st = MCP_JSON; break;
    case 'c': case OPT_SECONDS: {
      unsigned long v = strtoul(optarg, &end, 10);
      if (end == optarg || *end || v == 0) {
        fprintf(stderr, PROG " capture: %s wants a positive number\n",
                opt == 'c' ? "-c" : "--seconds");
        return mcp_usage_error("capture");
      }
      if (opt == 'c') count = v;
      else seconds = v;
      break;
    }
    case OPT_PORT:
      if (mcp_parse_port(optarg, &port) < 0) return mcp_usage_error("capture");
      break;
    default: return mcp_usage_error("capture");
    }
  }
  if (!iface || optind != argc) {
    fprintf(stderr, PROG " capture: -i IFACE is required, and no FILE\n");
    return mcp_usage_error("capture");
  }
  char filter[32], err[512];
  snprintf(filter, sizeof filter, "udp port %u", port);
  mc_pcap_reader *r;
  int rc = mc_pcap_open_live(&r, iface, filter, 200, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, PROG " capture: %s\n", err);
    if (rc == MC_ERR_AUTH)
      fprintf(stderr, PROG " capture: capturing needs root, or CAP_NET_RAW and "
              "CAP_NET_ADMIN (sudo setcap cap_net_raw,cap_net_admin=eip on the "
              PROG " binary)\n");
    return 1;
  }
  mc_pcap_writer *w = NULL;
  if (out && mc_pcap_writer_open(&w, out, MC_PCAP_LINKTYPE_RAW, err, sizeof err) < 0) {
    fprintf(stderr, PROG " capture: %s\n", err);
    mc_pcap_close(r);
    return 1;
  }
  struct sigaction sa = {0};
  sa.sa_handler = on_sigint;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  fprintf(stderr, PROG " capture: listening on %s (%s)\n", iface, filter);
  rc = show_all(r, port, &flt, st, w, count, &interrupted,
                seconds ? time(NULL) + (time_t)seconds : 0);
  return mcp_close_io(r, w, rc, iface, out);
}

/* ---- slice ---- */

static const char slice_help[] =
    "Usage: " PROG " slice [options] IN OUT\n"
    "Writes to OUT (pcap, raw IP) the UDP datagrams of IN that pass every\n"
    "filter given; frames that are not UDP are left out.\n"
    "      --session HEX   the session whose id starts with HEX\n"
    "      --user NAME     NAME's sessions (handshake included)\n"
    "      --from T        from T seconds after the first frame (or epoch T)\n"
    "      --to T          up to T (same units)\n"
    "      --type BODY, --endpoint H:P, --port P   as for 'dump'\n"
    "  -h, --help          this help\n";

static int cmd_slice(int argc, char **argv) {
  mcp_filter flt = {0};
  unsigned port = 8000;
  int status;
  if (!mcp_filter_args(argc, argv, slice_help, 2, &flt, &port, &status)) return status;
  mc_pcap_reader *r;
  mc_pcap_writer *w;
  if (mcp_open_io(&r, &w, argv[optind], argv[optind + 1]) < 0) return 1;
  mcp_ctx c;
  mcp_ctx_init(&c, port);
  mc_pcap_frame f;
  int rc;
  uint64_t kept = 0;
  while ((rc = mc_pcap_next(r, &f)) > 0) {
    if (rc != MC_PCAP_DATAGRAM) continue;
    mcp_dgram d;
    mcp_decode(&c, &f, &d);
    if (mcp_filter_match(&flt, &c, &d)) {
      if (mc_pcap_write_udp(w, f.ts_us, &f.src, &f.dst, f.payload, f.len) == 0)
        kept++;
    }
    mc_codec_free(d.env);
  }
  mcp_ctx_free(&c);
  fprintf(stderr, PROG " slice: kept %" PRIu64 " of %" PRIu64 " datagrams\n", kept,
          mc_pcap_counts_get(r)->datagrams);
  return mcp_close_io(r, w, rc, argv[optind], argv[optind + 1]);
}

/* ---- main ---- */

static const char main_help[] =
    "Usage: " PROG " COMMAND [options] ...\n"
    "Reads MyChat traffic from pcap/pcapng captures (Ethernet, VLAN, Linux\n"
    "SLL/SLL2, loopback, raw IP; IPv4 and IPv6).\n"
    "Commands:\n"
    "  dump FILE          one line per datagram (-v: all fields; --json)\n"
    "  stats FILE         counts, sessions, retransmissions, RTT, latencies\n"
    "  capture -i IFACE   live capture, decoded as it arrives\n"
    "  anonymize IN OUT   replace names, passwords, tokens and texts\n"
    "  slice IN OUT       keep a session, a user or a time window\n"
    "'" PROG " COMMAND --help' describes each; '" PROG " --version' shows\n"
    "the version.\n"
    "Exit status: 0 on success, 1 when a file could not be read or written\n"
    "(a capture cut off in the middle included), 2 for usage errors.\n";

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    int (*fn)(int, char **);
  } cmds[] = {{"dump", cmd_dump}, {"stats", mcp_cmd_stats},
              {"capture", cmd_capture}, {"anonymize", mcp_cmd_anonymize},
              {"slice", cmd_slice}};
  if (argc < 2) {
    fputs(main_help, stderr);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    fputs(main_help, stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    puts(PROG " 1.0 (MyChat protocol v1)");
    return 0;
  }
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (strcmp(argv[1], cmds[i].name) == 0) return cmds[i].fn(argc - 1, argv + 1);
  fprintf(stderr, PROG ": %s: unknown command\nTry '" PROG " --help' for usage.\n", argv[1]);
  return 2;
}
