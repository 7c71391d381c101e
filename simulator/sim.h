/*
 * sim.h: mychat-sim, a load and correctness simulator for MyChat.
 *
 * Thousands of virtual clients (instances of the sans-I/O client core) run
 * in one process and one thread. In the default mode the server core runs
 * in-process too and time is virtual: one priority queue of {time, datagram
 * | timer | scenario action} events drives everything, so a run is as fast
 * as the CPU allows and repeats exactly from its seed. With --server the
 * same clients talk to a real server over loopback UDP in real time.
 *
 * The simulator knows every message it sent and who must receive it, and
 * checks delivery against that ground truth (sim.c); sim_opts.c reads the
 * command line and scenario files, sim_report.c writes the results.
 */
#ifndef SIM_H
#define SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mc_netem.h"
#include "mc_server.h"
#include "mc_time.h"
#include "sim_hist.h"

#define SIM_PHASES_MAX 64
#define SIM_OFFLINE_MAX 64
#define SIM_NETCHG_MAX 64
#define SIM_MEMBERSHIPS_MAX 16
#define SIM_THRESHOLDS_MAX 32
#define SIM_VERSION "1.0"

/* Exit codes (documented in --help and simulator/README.md). When more
 * than one applies, usage and setup errors win, then the order below
 * VIOLATION, NO_CONNECT, THRESHOLD: a broken guarantee says more than a
 * missed threshold. */
#define SIM_EXIT_OK 0          /* guarantees held, every threshold passed */
#define SIM_EXIT_VIOLATION 1   /* a delivery guarantee was broken */
#define SIM_EXIT_USAGE 2       /* bad command line or scenario file */
#define SIM_EXIT_ERROR 3       /* setup failed, a report not written */
#define SIM_EXIT_THRESHOLD 4   /* a --threshold (or the default) failed */
#define SIM_EXIT_NO_CONNECT 5  /* no client ever connected */

/* Applies unless a --threshold on connect_fail replaces it. */
#define SIM_CONNECT_FAIL_DEFAULT "connect_fail<10%"

typedef enum {
  SIM_M_LAT_P,          /* live latency percentile |q|, ms */
  SIM_M_LAT_MEAN,
  SIM_M_LAT_MAX,
  SIM_M_BACKLOG_P,      /* the same for backlog deliveries */
  SIM_M_BACKLOG_MEAN,
  SIM_M_BACKLOG_MAX,
  SIM_M_DELIVERY,       /* percent of owed deliveries that arrived */
  SIM_M_CONNECT_FAIL,   /* percent of finished handshakes that failed */
  SIM_M_RETRANS         /* client transmissions per reliable body */
} sim_metric;

typedef enum { SIM_OP_LT, SIM_OP_LE, SIM_OP_GT, SIM_OP_GE } sim_op;

/* One pass/fail criterion (grammar in sim_threshold.c). */
typedef struct {
  char text[48];        /* as given, for the summary */
  sim_metric metric;
  double q;             /* SIM_M_*_P: the quantile, 0 < q <= 1 */
  sim_op op;
  double limit;         /* in the metric's unit: ms, percent or a ratio */
  int is_default;       /* not asked for: SIM_CONNECT_FAIL_DEFAULT */
} sim_threshold;

enum { SIM_THR_PASS, SIM_THR_FAIL, SIM_THR_NO_DATA };

typedef struct {
  double value;         /* measured, in the metric's unit */
  int state;            /* SIM_THR_* */
} sim_threshold_result;

/* A stretch of the run with one message rate. Phases follow each other. */
typedef struct {
  mc_tstamp len;
  double rate;     /* messages per second per client */
  double direct;   /* share of direct messages, 0..1 */
} sim_phase;

typedef enum { SIM_OFF_ABANDON, SIM_OFF_LOGOUT, SIM_OFF_MIX } sim_off_mode;

/* A share of the clients goes offline at |at| (or, when |random_at|, each
 * at its own random time inside the sending period) for |len|. */
typedef struct {
  double share;
  int random_at;
  mc_tstamp at, len;
  sim_off_mode mode;
} sim_offline;

/* From |at| on, every link uses |net|. */
typedef struct {
  mc_tstamp at;
  mc_netem_config net;
} sim_netchange;

typedef struct {
  uint32_t clients;
  uint32_t groups;         /* 0: one per 50 clients */
  uint32_t memberships;    /* groups each client joins */
  uint32_t text_len;       /* bytes of message text */
  mc_tstamp ramp, drain;
  sim_phase phase[SIM_PHASES_MAX];
  int n_phase;
  sim_offline off[SIM_OFFLINE_MAX];
  int n_off;
  mc_netem_config net;     /* at the start */
  sim_netchange chg[SIM_NETCHG_MAX];
  int n_chg;
  uint64_t seed;
  const char *server;      /* HOST:PORT, or NULL for the embedded server */
  char names[13];          /* prefix of user and group names */
  int embedded_udp;        /* the embedded server, over loopback UDP */
  int corrupt_undetected;  /* damaged datagrams reach the receiver */
  uint32_t sockets;        /* UDP sockets to spread clients over */
  /* Virtual mode: 1 runs everything on one thread; 2 or more run the
   * embedded server on a thread of its own beside the clients (sim.c: the
   * two lanes). The result does not depend on it. */
  uint32_t threads;
  const char *json, *html, *pcap;
  const char *scenario;    /* the file it came from, for the report */
  int progress;            /* -1: when stderr is a terminal */
  int json_host;           /* --json-host: wall and CPU time in the JSON */
  mc_tstamp connect_timeout; /* a client gives up a handshake after */
  sim_threshold thr[SIM_THRESHOLDS_MAX];
  int n_thr;
} sim_config;

enum { SIM_K_GROUP, SIM_K_DIRECT, SIM_K_N };

/* Ground-truth counts for one kind of message. */
typedef struct {
  uint64_t sent;           /* handed to the client core */
  uint64_t confirmed;      /* "sent" confirmation from the server */
  uint64_t refused;        /* the server answered with an error */
  uint64_t expected;       /* deliveries owed for confirmed messages */
  uint64_t delivered;      /* first deliveries to a required recipient */
  uint64_t extra;          /* deliveries to members whose join raced */
  uint64_t lost;           /* owed, never delivered */
  uint64_t duplicated;     /* second and later deliveries */
  uint64_t out_of_order;   /* older than one delivered before, same thread */
  uint64_t unexpected;     /* to someone who was not a recipient, or bad */
  uint64_t backlog;        /* delivered with the missed flag */
} sim_kind;

/* Per-second time series for the charts. */
typedef struct {
  uint64_t sent, delivered, owed, dgrams;
  uint32_t online;         /* clients connected at the second's last event */
  /* Live deliveries that arrived in this second and their latency
   * percentiles, us (0 when lat_n is 0). */
  uint64_t lat_n, p50, p95, p99, max;
} sim_tick;

typedef struct {
  uint32_t groups;         /* groups of the run (cfg->groups or its default) */
  sim_kind k[SIM_K_N];
  sim_hist lat_live, lat_backlog;
  uint64_t connects, connect_failures, sessions_lost, logouts, abandons;
  uint64_t connect_rate_limited; /* failures the server refused as such */
  /* Sessions still open when the run stopped: a final logout that had not
   * completed within the grace after the drain (its request or Result lost
   * again and again), so neither a logout nor a loss. */
  uint64_t open_at_end;
  /* Every client failed a handshake and none ever connected: the run
   * stopped there, since nothing more could be learnt. */
  int stopped_no_connect;
  int last_connect_code;   /* ErrorCode of the last failure, 0: no answer */
  uint64_t client_tx_first, client_tx_retrans;
  /* Server bodies the clients took (each seq once) and duplicates: the
   * server's first transmissions, as far as they arrived. */
  uint64_t client_rx_taken, client_rx_dup;
  uint64_t presence, receipts, skipped_sends;
  uint64_t send_errors;    /* mc_client_send_text refused */
  int last_send_error;     /* the last reason, an MC_ERR_* */
  mc_netem_stats up, down;
  int embedded;
  mc_server_stats srv;
  uint64_t dgrams_up, dgrams_down, events;
  mc_tstamp vtime;         /* simulated (or real) time the run took */
  mc_tstamp send_end;      /* when sending stopped (time series end) */
  mc_tstamp drain;         /* how long the drain took */
  int drain_cut;           /* it ended at --drain with something owed */
  double wall_s, cpu_s;
  uint32_t threads;        /* threads the run used (--threads, as far as used) */
  double max_rss_mb;       /* the process's peak resident set size */
  mc_tstamp lag_max;       /* real time: latest an event ran, us */
  uint64_t lag_sum, lag_n;
  sim_tick *tick;
  size_t n_tick;
  /* The verdict (sim_verdict_eval): one result per cfg->thr. */
  sim_threshold_result thr[SIM_THRESHOLDS_MAX];
  int n_thr_failed;
} sim_result;

/* sim_opts.c */
/* Parses the command line into |cfg|. Returns 0, 1 after printing --help
 * or --version,
 * or -1 after printing an error to stderr (usage error). */
int sim_opts_parse(sim_config *cfg, int argc, char **argv);
/* Frees the copies of path settings |cfg| points to. */
void sim_opts_free(void);
/* The sending period: the sum of the phases. */
mc_tstamp sim_send_period(const sim_config *cfg);

/* sim.c */
/* Runs the simulation described by |cfg|. Returns 0, or -1 after printing
 * an error (setup failed: out of memory, socket errors). */
int sim_run(const sim_config *cfg, sim_result *res);

/* sim_report.c: the table, and the figures every report shares. */
extern const char *const SIM_KIND_NAME[SIM_K_N]; /* "group", "direct" */
void sim_report_table(FILE *f, const sim_config *cfg, const sim_result *r);
/* Every kind added up. */
sim_kind sim_kind_total(const sim_result *r);
/* 100 * a / b, or 100 when b is 0 (nothing owed, nothing missing). */
double sim_pct(uint64_t a, uint64_t b);
/* The long-run datagram loss rate of |n| (Bernoulli or Gilbert-Elliott). */
double sim_loss_rate(const mc_netem_config *n);
/* Transmissions per reliable body, 0 when nothing was sent. */
double sim_tx_per_body(uint64_t first, uint64_t retrans);
/* Messages sent per second of the sending period. */
double sim_msgs_per_s(const sim_result *r);
static inline double sim_ms(uint64_t us) { return (double)us / 1000.0; }
/* fopen (with |mode|) and fclose of a report file given with --|flag|,
 * with an error "mychat-sim: --json FILE: why" on failure (NULL, -1). */
FILE *sim_report_open(const char *path, const char *flag, const char *mode);
int sim_report_close(FILE *f, const char *path, const char *flag);

/* sim_json.c: --json, through jansson. Returns 0, or -1 after an error. */
int sim_report_json(const char *path, const sim_config *cfg,
                    const sim_result *r);

/* sim_html.c: --html, one self-contained page. Returns 0 or -1. */
int sim_report_html(const char *path, const sim_config *cfg,
                    const sim_result *r);
/* One line on the verdict of an evaluated run, in |buf| or static. */
const char *sim_verdict_text(const sim_config *cfg, const sim_result *r,
                             char *buf, size_t cap);
/* 1 when every delivery guarantee held. */
int sim_result_ok(const sim_result *r);

/* sim_threshold.c */
/* Parses |text| (grammar in sim_threshold.c) into |t|. Returns 0, or -1
 * after printing why to stderr. */
int sim_threshold_parse(const char *text, sim_threshold *t);
/* Adds SIM_CONNECT_FAIL_DEFAULT unless |cfg| has a connect_fail threshold.
 * Returns 0, or -1 when the table is full. */
int sim_threshold_default(sim_config *cfg);
/* Measures every threshold of |cfg| on |r| and fills r->thr. */
void sim_verdict_eval(const sim_config *cfg, sim_result *r);
/* The exit status of an evaluated run: SIM_EXIT_OK, _VIOLATION,
 * _NO_CONNECT or _THRESHOLD. */
int sim_verdict_exit(const sim_result *r);
/* |v| in the unit of |t|'s metric ("620.5 ms", "99.500%", "1.117"). */
void sim_threshold_value(const sim_threshold *t, double v, char *buf,
                         size_t cap);
/* The unit of |t|'s metric and limit: "ms", "%" or "" (a ratio). */
const char *sim_threshold_unit(const sim_threshold *t);
/* "ok", "FAILED" or "FAILED (nothing measured)". */
const char *sim_threshold_state_name(int state);

/* sim_pcap.c: every datagram of a run as IPv4/UDP in a DLT_RAW pcap. */
typedef struct sim_pcap sim_pcap;
sim_pcap *sim_pcap_open(const char *path);
/* |src|/|dst|: IPv4 address (host order) and port. |t| in microseconds. */
void sim_pcap_write(sim_pcap *p, mc_tstamp t, uint32_t src, uint16_t sport,
                    uint32_t dst, uint16_t dport, const uint8_t *data,
                    size_t len);
void sim_pcap_close(sim_pcap *p);

#endif
