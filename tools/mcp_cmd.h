/*
 * mcp_cmd.h: the mychat-pcap subcommands kept in their own files, and the
 * option helpers they share with mychat-pcap.c.
 */
#ifndef MCP_CMD_H
#define MCP_CMD_H

#include <getopt.h>

#include "mcp.h"

/* Long-option codes shared by the subcommands. */
enum { OPT_USER = 256, OPT_SESSION, OPT_TYPE, OPT_ENDPOINT, OPT_FROM, OPT_TO,
       OPT_PORT, OPT_JSON, OPT_SECONDS, OPT_KEY };

/* The filter options, --port and --help, for getopt_long tables. */
#define FILTER_LONGOPTS                                                     \
  {"user", required_argument, 0, OPT_USER},                                 \
  {"session", required_argument, 0, OPT_SESSION},                           \
  {"type", required_argument, 0, OPT_TYPE},                                 \
  {"endpoint", required_argument, 0, OPT_ENDPOINT},                         \
  {"from", required_argument, 0, OPT_FROM},                                 \
  {"to", required_argument, 0, OPT_TO},                                     \
  {"port", required_argument, 0, OPT_PORT},                                 \
  {"help", no_argument, 0, 'h'}

/* Subcommands: each takes its own argv (argv[0] is the command name) and
 * returns the exit status. */
int mcp_cmd_stats(int argc, char **argv);
int mcp_cmd_anonymize(int argc, char **argv);

/* Parses --port's |val| into |*port|. Returns 0, or -1 with a message. */
int mcp_parse_port(const char *val, unsigned *port);

/* Handles a filter option or --port. Returns 0, or -1 with a message. */
int mcp_common_opt(int opt, const char *val, mcp_filter *flt, unsigned *port);

/* Parses the options of a subcommand that takes the filters, --port and
 * --help, then |nargs| operands (1: FILE, 2: IN OUT) from optind on.
 * Returns 1 to go on; 0 after printing |help| or a usage error, with the
 * exit status in |*status|. */
int mcp_filter_args(int argc, char **argv, const char *help, int nargs,
                    mcp_filter *flt, unsigned *port, int *status);

/* Prints the "Try --help" hint for |cmd|; returns 2, the usage status. */
int mcp_usage_error(const char *cmd);

/* getopt_long() for the subcommands, with the program's own messages
 * ("mychat-pcap: --x: unknown option", "...: needs a value") instead of
 * getopt's, which name the subcommand as if it were the program. Returns
 * what getopt_long() returns, '?' for both kinds of error. */
int mcp_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/* Opens capture |path| into |*r|. Returns 0, or -1 with a message. */
int mcp_open(mc_pcap_reader **r, const char *path);

/* Reports skipped fragments and a read error that ended the reading
 * (|rc| from mc_pcap_next()). Returns the exit status: 0, or 1 after a
 * read error. */
int mcp_finish_read(mc_pcap_reader *r, int rc, const char *path);

/* Opens capture |in| and a raw-IP pcap writer on |out|. Returns 0, or -1
 * with a message (nothing left open). */
int mcp_open_io(mc_pcap_reader **r, mc_pcap_writer **w, const char *in,
                const char *out);

/* Reports the end of reading (see mcp_finish_read()) and closes |r| and
 * |w|. Returns the exit status: 0, or 1 after a read or write error. */
int mcp_close_io(mc_pcap_reader *r, mc_pcap_writer *w, int rc, const char *in,
                 const char *out);

#endif
