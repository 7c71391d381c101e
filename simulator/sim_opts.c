/*
 * sim_opts.c: mychat-sim's command line and scenario files.
 *
 * Both go through one table of settings: `--clients 200` on the command
 * line is `clients 200` in a scenario file. Scenario files add three
 * directives of their own (phase, offline, net; see usage()). Settings are
 * applied in order, so flags after --scenario override the file.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mc_codec.h"
#include "mc_error.h"
#include "sim.h"

typedef struct {
  sim_config *cfg;
  double rate, direct;       /* for phases that do not say */
  mc_tstamp duration;        /* the single phase when there are no others */
  int explicit_phases;
  mc_tstamp churn_len;
  sim_off_mode churn_mode;
  double churn;
  int names_set;
} opts;

static opts O; /* the parse in progress (one per process) */

#define SOCKETS_DEFAULT 128
#define SOCKETS_MAX 16384
#define FDS_SPARE 64 /* descriptors left for epoll, reports, the pcap */

/* ------------------------------------------------------------------ */
/* values                                                              */

static int parse_u32(const char *v, uint32_t *out) {
  char *end;
  errno = 0;
  unsigned long x = strtoul(v, &end, 10);
  if (errno || end == v || *end || x > UINT32_MAX || v[0] == '-')
    return -1;
  *out = (uint32_t)x;
  return 0;
}

/* A number with a unit suffix from |u| (a NULL-terminated table; "" is
 * the bare number), scaled by the unit and at most |max|. */
typedef struct {
  const char *suffix;
  double mul;
} unit;

static int parse_scaled(const char *v, const unit *u, double max,
                        double *out) {
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (errno || end == v || x < 0 || x != x)
    return -1;
  for (; u->suffix; u++)
    if (strcmp(end, u->suffix) == 0) {
      if (x * u->mul > max)
        return -1;
      *out = x * u->mul;
      return 0;
    }
  return -1;
}

/* "10%", "0.1%" or a bare "10" (also percent) -> a fraction 0..1. */
static int parse_pct(const char *v, double *out) {
  static const unit u[] = {{"%", 0.01}, {"", 0.01}, {NULL, 0}};
  return parse_scaled(v, u, 1.0, out);
}

/* "20ms", "5s", "1.5s", "250us", "2m"; a bare number is seconds. */
static int parse_dur(const char *v, mc_tstamp *out) {
  static const unit u[] = {{"", 1e6},  {"s", 1e6},     {"ms", 1e3},
                           {"us", 1},  {"m", 60e6},    {"min", 60e6},
                           {NULL, 0}};
  double x;
  if (parse_scaled(v, u, 1e15, &x) < 0)
    return -1;
  *out = (mc_tstamp)llround(x);
  return 0;
}

/* "2/s", "30/m", "0.5"; per second. */
static int parse_rate(const char *v, double *out) {
  static const unit u[] = {{"", 1},          {"/s", 1},
                           {"/m", 1 / 60.0}, {"/min", 1 / 60.0},
                           {NULL, 0}};
  return parse_scaled(v, u, 1e6, out);
}

/* "10mbit", "512kbit", "1gbit", "9600bit" or a bare number of bits/s. */
static int parse_bw(const char *v, uint64_t *out) {
  static const unit u[] = {{"", 1},      {"bit", 1},    {"kbit", 1e3},
                           {"mbit", 1e6}, {"gbit", 1e9}, {NULL, 0}};
  double x;
  if (parse_scaled(v, u, 1e12, &x) < 0)
    return -1;
  *out = (uint64_t)llround(x);
  return 0;
}

/* ------------------------------------------------------------------ */
/* settings                                                            */

/* Path settings outlive the line they were read from: the config points
 * at copies kept here until sim_opts_free(). */
#define KEPT_MAX 64
static char *KEPT[KEPT_MAX];
static size_t n_kept;

static const char *keep(const char *v) {
  if (n_kept == KEPT_MAX)
    return NULL;
  char *d = strdup(v);
  if (d != NULL)
    KEPT[n_kept++] = d;
  return d;
}

void sim_opts_free(void) {
  while (n_kept > 0)
    free(KEPT[--n_kept]);
}

/* Settings that need more than parsing one value into one field. */
typedef int (*setter)(mc_netem_config *net, const char *v);

static int parse_mode(const char *v, sim_off_mode *m) {
  if (strcmp(v, "abandon") == 0)
    *m = SIM_OFF_ABANDON;
  else if (strcmp(v, "logout") == 0)
    *m = SIM_OFF_LOGOUT;
  else if (strcmp(v, "mix") == 0)
    *m = SIM_OFF_MIX;
  else
    return -1;
  return 0;
}
static int set_offline_mode(mc_netem_config *n, const char *v) {
  (void)n;
  return parse_mode(v, &O.churn_mode);
}
static int set_seed(mc_netem_config *n, const char *v) {
  (void)n;
  char *end;
  errno = 0;
  O.cfg->seed = strtoull(v, &end, 0);
  return errno || end == v || *end ? -1 : 0;
}
static int set_server(mc_netem_config *n, const char *v) {
  (void)n;
  O.cfg->server = keep(v);
  return O.cfg->server && strchr(v, ':') ? 0 : -1;
}
static int set_names(mc_netem_config *n, const char *v) {
  (void)n;
  size_t len = strlen(v);
  if (len >= sizeof O.cfg->names || (len > 0 && !isalpha((unsigned char)v[0])))
    return -1;
  for (size_t i = 0; i < len; i++)
    if (!isalnum((unsigned char)v[i]))
      return -1;
  memcpy(O.cfg->names, v, len + 1);
  O.names_set = 1;
  return 0;
}
static int set_threshold(mc_netem_config *n, const char *v) {
  (void)n;
  if (O.cfg->n_thr == SIM_THRESHOLDS_MAX) {
    fprintf(stderr, "mychat-sim: --threshold: more than %d\n",
            SIM_THRESHOLDS_MAX);
    return -2;
  }
  if (sim_threshold_parse(v, &O.cfg->thr[O.cfg->n_thr]) < 0)
    return -2;
  O.cfg->n_thr++;
  return 0;
}
static int set_loss(mc_netem_config *n, const char *v) {
  n->ge = 0;
  return parse_pct(v, &n->loss);
}
static int set_ge(mc_netem_config *n, const char *v) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", v);
  double *dst[4] = {&n->ge_p, &n->ge_r, &n->ge_1h, &n->ge_1k};
  char *save, *tok = strtok_r(buf, ",", &save);
  for (int i = 0; i < 4; i++) {
    if (tok == NULL || parse_pct(tok, dst[i]) < 0)
      return -1;
    tok = strtok_r(NULL, ",", &save);
  }
  n->ge = 1;
  return tok == NULL ? 0 : -1;
}

/* Where a setting's field lives and how its value is read. */
typedef enum { IN_CFG, IN_NET, IN_OPTS } place;
typedef enum { V_U32, V_PCT, V_DUR, V_RATE, V_BW, V_PATH, V_FN } vtype;

typedef struct {
  const char *name, *arg, *def, *help;
  vtype type;
  place in;
  size_t off;                /* of the field in its place */
  uint32_t lo, hi;           /* V_U32: range; V_DUR: lo > 0 means > 0 */
  setter fn;                 /* V_FN */
} setting;

#define CFG(f) IN_CFG, offsetof(sim_config, f)
#define NET(f) IN_NET, offsetof(mc_netem_config, f)
#define OPT(f) IN_OPTS, offsetof(opts, f)
#define FN(f) V_FN, IN_CFG, 0, 0, 0, f

static const setting SETTINGS[] = {
    {"clients", "N", "1000", "virtual clients", V_U32, CFG(clients), 1,
     1u << 20, NULL},
    {"groups", "N", "clients/50", "groups (names g0, g1, ...)", V_U32,
     CFG(groups), 0, 1u << 20, NULL},
    {"memberships", "N", "2", "groups each client joins", V_U32,
     CFG(memberships), 0, SIM_MEMBERSHIPS_MAX, NULL},
    {"rate", "R", "0.2/s", "messages per client per second (or N/m)", V_RATE,
     OPT(rate), 0, 0, NULL},
    {"direct", "P", "30%", "share of direct (vs group) messages", V_PCT,
     OPT(direct), 0, 0, NULL},
    {"duration", "D", "30s", "sending period (when no phase lines)", V_DUR,
     OPT(duration), 1, 0, NULL},
    {"ramp", "D", "5s", "logins spread evenly over this time", V_DUR,
     CFG(ramp), 0, 0, NULL},
    {"drain", "D", "60s",
     "after sending stops, all clients online until everything owed has "
     "arrived, at most D; then everyone logs out",
     V_DUR, CFG(drain), 0, 0, NULL},
    {"churn", "P", "0%",
     "clients that go offline once, each at a random time", V_PCT,
     OPT(churn), 0, 0, NULL},
    {"offline-for", "D", "5s", "how long a churned client stays away", V_DUR,
     OPT(churn_len), 0, 0, NULL},
    {"offline-mode", "M", "mix",
     "abandon (silent, like a lost network), logout, or mix (half each)",
     FN(set_offline_mode)},
    {"text-len", "N", "64", "bytes of message text", V_U32, CFG(text_len), 0,
     MC_TEXT_MAX, NULL},
    {"seed", "N", "1", "seed of everything random in the run",
     FN(set_seed)},
    {"loss", "P", "0%", "Bernoulli datagram loss, each direction",
     V_FN, IN_NET, 0, 0, 0, set_loss},
    {"ge", "p,r,1-h,1-k", "off",
     "Gilbert-Elliott loss instead (netem gemodel, percents)", V_FN, IN_NET,
     0, 0, 0, set_ge},
    {"delay", "D", "10ms", "one-way delay", V_DUR, NET(delay), 0, 0, NULL},
    {"jitter", "D", "0ms", "delay varies uniformly by +-D", V_DUR,
     NET(jitter), 0, 0, NULL},
    {"dup", "P", "0%", "datagrams delivered twice", V_PCT, NET(duplicate), 0,
     0, NULL},
    {"reorder", "P", "0%", "datagrams that skip the delay (overtake)", V_PCT,
     NET(reorder), 0, 0, NULL},
    {"corrupt", "P", "0%",
     "datagrams with one bit flipped; the receiver's UDP checksum drops them"
     " unless --corrupt-undetected", V_PCT,
     NET(corrupt), 0, 0, NULL},
    {"rate-limit", "BW", "off",
     "link rate per client and direction (10mbit, 512kbit)", V_BW,
     NET(rate_bps), 0, 0, NULL},
    {"queue-limit", "N", "0",
     "datagrams waiting for a rate-limited link (0 = unlimited)", V_U32,
     NET(queue_limit), 0, UINT32_MAX, NULL},
    {"connect-timeout", "D", "15s",
     "a client gives up a handshake without an answer after D", V_DUR,
     CFG(connect_timeout), 1, 0, NULL},
    {"threshold", "EXPR", "connect_fail<10%",
     "pass/fail criterion, repeatable: METRIC OP VALUE with OP one of < <= > "
     ">= and METRIC pN (live latency percentile, p99 or p(99.9)), mean, max, "
     "backlog_pN, backlog_mean, backlog_max (ms; also us, s), delivery, "
     "connect_fail (%), retrans (tx per body); e.g. 'p99<500ms' "
     "'delivery>=100%'; a metric with nothing measured fails; a connect_fail "
     "threshold replaces the default",
     FN(set_threshold)},
    {"server", "HOST:PORT", "embedded",
     "real time over UDP against that server instead", FN(set_server)},
    {"names", "PREFIX", "none; with --server a fresh one per run",
     "prefix of user and group names (letters and digits, <= 12), so runs "
     "against one server do not share accounts",
     FN(set_names)},
    {"sockets", "N", "128; with --server clients/4 when more",
     "--server, --embedded-udp: UDP sockets the clients share (on "
     "loopback each has its own address; the reference server lets 5 "
     "logins per address in at once)", V_U32,
     CFG(sockets), 1, SOCKETS_MAX, NULL},
    {"threads", "N", "the number of cores",
     "virtual mode: with 2 or more the embedded server runs on a thread of "
     "its own beside the clients (more than 2 are not used yet; none "
     "without a least delay, e.g. with --reorder); the result is the same "
     "for any N", V_U32, CFG(threads), 1, 1024, NULL},
    {"json", "FILE", "", "write the results as JSON", V_PATH, CFG(json), 0, 0,
     NULL},
    {"html", "FILE", "", "write a self-contained HTML report with charts",
     V_PATH, CFG(html), 0, 0, NULL},
    {"pcap", "FILE", "",
     "write every datagram (client->server as sent, before impairment; "
     "server->client as received, after impairment)",
     V_PATH, CFG(pcap), 0, 0, NULL},
};

#define N_SETTINGS (sizeof SETTINGS / sizeof SETTINGS[0])

static const setting *find_setting(const char *name) {
  for (size_t i = 0; i < N_SETTINGS; i++)
    if (strcmp(SETTINGS[i].name, name) == 0)
      return &SETTINGS[i];
  return NULL;
}

/* Prints "  LHS  text" with the text wrapped at 79 columns under itself. */
static void help_line(FILE *f, const char *lhs, const char *text) {
  enum { INDENT = 27, WIDTH = 79 };
  fprintf(f, "  %-24s ", lhs);
  int col = INDENT;
  while (*text) {
    size_t word = strcspn(text, " ");
    if (col > INDENT && col + 1 + (int)word > WIDTH) {
      fprintf(f, "\n%*s", INDENT, "");
      col = INDENT;
    } else if (col > INDENT) {
      fputc(' ', f);
      col++;
    }
    fprintf(f, "%.*s", (int)word, text);
    col += (int)word;
    text += word;
    text += strspn(text, " ");
  }
  fputc('\n', f);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: mychat-sim [options]\n"
          "\n"
          "Simulates many MyChat clients and checks that every confirmed "
          "message reaches\n"
          "every recipient exactly once and in order. By default the server "
          "core runs\n"
          "in-process on a virtual clock (as fast as the CPU allows, "
          "repeatable from\n"
          "--seed); with --server the clients talk UDP to a real server in "
          "real time.\n"
          "\n"
          "Options (D: duration like 20ms, 5s, 2m; P: percent like 10%% or "
          "0.1%%):\n");
  for (size_t i = 0; i < N_SETTINGS; i++) {
    char lhs[64], text[512];
    snprintf(lhs, sizeof lhs, "--%s %s", SETTINGS[i].name, SETTINGS[i].arg);
    snprintf(text, sizeof text, "%s%s%s%s", SETTINGS[i].help,
             SETTINGS[i].def[0] ? " (default " : "", SETTINGS[i].def,
             SETTINGS[i].def[0] ? ")" : "");
    help_line(f, lhs, text);
  }
  fprintf(f,
          "  %-24s read a scenario file (applied where it appears)\n"
          "  %-24s the embedded server in real time over loopback UDP\n"
          "  %-24s (same thread, epoll; its login limit per address is\n"
          "  %-24s raised to clients/sockets + 6)\n"
          "  %-24s damaged datagrams escape the UDP checksum and reach\n"
          "  %-24s the receiver (MyChat v1 has no checksum of its own:\n"
          "  %-24s delivery guarantees may then break; MC-131)\n"
          "  %-24s also put wall and CPU time in the --json file (which\n"
          "  %-24s then differs between runs of one seed)\n"
          "  %-24s progress line on stderr (default: when a terminal)\n"
          "  %-24s no progress line\n"
          "  %-24s this text\n"
          "  %-24s the version of mychat-sim and of the protocol\n"
          "\n"
          "Scenario files (simulator/scenarios/*.sim): one directive per "
          "line, # starts\n"
          "a comment. Every option above is a directive without the dashes "
          "(clients 200).\n"
          "Three more:\n"
          "  phase D [rate=R] [direct=P]    a sending period; phases follow "
          "each other\n"
          "                                 and replace --duration\n"
          "  offline P at D|random for D [mode=M]\n"
          "                                 a share of the clients goes away "
          "and comes back\n"
          "  net [at D] KEY=VALUE...        network settings (loss, ge, "
          "delay, jitter, dup,\n"
          "                                 reorder, corrupt, rate-limit, "
          "queue-limit),\n"
          "                                 from the start or changed at D\n"
          "\n"
          "Impairment applies to each client's link, both directions, "
          "independently.\n"
          "\n"
          "Exit status (the first that applies):\n"
          "  2  usage error\n"
          "  3  setup failed or a report could not be written\n"
          "  1  a confirmed message was lost, duplicated or reordered, or "
          "went to someone\n"
          "     it was not for\n"
          "  5  no client ever connected (the run stops once every client's "
          "handshake\n"
          "     has failed)\n"
          "  4  a threshold failed (%s applies unless a connect_fail\n"
          "     threshold is given)\n"
          "  0  every guarantee held and every threshold passed\n",
          "--scenario FILE", "--embedded-udp", "", "", "--corrupt-undetected", "", "", "--json-host", "", "--progress", "--no-progress", "--help", "--version",
          SIM_CONNECT_FAIL_DEFAULT);
}

/* Parses |v| into the field of |st|; network settings go to |net| (the
 * start's or a `net at` line's). */
static int apply(const setting *st, mc_netem_config *net, const char *v,
                 const char *where) {
  char *base = st->in == IN_NET   ? (char *)net
               : st->in == IN_CFG ? (char *)O.cfg
                                  : (char *)&O;
  void *field = base + st->off;
  int rv;
  switch (st->type) {
  case V_U32:
    rv = parse_u32(v, field);
    if (rv == 0 && (*(uint32_t *)field < st->lo || *(uint32_t *)field > st->hi))
      rv = -1;
    break;
  case V_PCT:
    rv = parse_pct(v, field);
    break;
  case V_DUR:
    rv = parse_dur(v, field);
    if (rv == 0 && st->lo > 0 && *(mc_tstamp *)field == 0)
      rv = -1;
    break;
  case V_RATE:
    rv = parse_rate(v, field);
    break;
  case V_BW:
    rv = parse_bw(v, field);
    break;
  case V_PATH:
    *(const char **)field = keep(v);
    rv = *(const char **)field ? 0 : -1;
    break;
  default:
    rv = st->fn(net, v);
    break;
  }
  if (rv == -2) /* the setter said why */
    return -1;
  if (rv < 0) {
    fprintf(stderr, "mychat-sim: %s%s: bad value '%s' (expected %s)\n", where,
            st->name, v, st->arg);
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* scenario files                                                      */

static int kv_net(mc_netem_config *net, char *tok, const char *where) {
  char *eq = strchr(tok, '=');
  if (eq == NULL) {
    fprintf(stderr, "mychat-sim: %s%s: expected KEY=VALUE\n", where, tok);
    return -1;
  }
  *eq = '\0';
  const setting *st = find_setting(tok);
  if (st == NULL || st->in != IN_NET) {
    fprintf(stderr, "mychat-sim: %s%s: unknown network setting\n", where,
            tok);
    return -1;
  }
  return apply(st, net, eq + 1, where);
}

static int directive(char **tok, int n, const char *where) {
  sim_config *cfg = O.cfg;
  if (strcmp(tok[0], "phase") == 0) {
    if (n < 2 || cfg->n_phase == SIM_PHASES_MAX) {
      fprintf(stderr,
              "mychat-sim: %sphase: %s\n", where,
              n < 2 ? "expected phase D [rate=R] [direct=P]"
                    : "too many phases");
      return -1;
    }
    sim_phase *p = &cfg->phase[cfg->n_phase];
    p->rate = O.rate;
    p->direct = O.direct;
    if (parse_dur(tok[1], &p->len) < 0 || p->len == 0) {
      fprintf(stderr, "mychat-sim: %sphase: bad length '%s'\n", where,
              tok[1]);
      return -1;
    }
    for (int i = 2; i < n; i++) {
      int bad = 1;
      if (strncmp(tok[i], "rate=", 5) == 0)
        bad = parse_rate(tok[i] + 5, &p->rate) < 0;
      else if (strncmp(tok[i], "direct=", 7) == 0)
        bad = parse_pct(tok[i] + 7, &p->direct) < 0;
      if (bad) {
        fprintf(stderr, "mychat-sim: %sphase: bad setting '%s'\n", where,
                tok[i]);
        return -1;
      }
    }
    cfg->n_phase++;
    O.explicit_phases = 1;
    return 0;
  }
  if (strcmp(tok[0], "offline") == 0) {
    sim_offline *o = &cfg->off[cfg->n_off];
    o->mode = SIM_OFF_MIX;
    int bad = n < 6 || n > 7 || cfg->n_off == SIM_OFFLINE_MAX ||
              parse_pct(tok[1], &o->share) < 0 || strcmp(tok[2], "at") != 0 ||
              strcmp(tok[4], "for") != 0 || parse_dur(tok[5], &o->len) < 0;
    if (!bad) {
      o->random_at = strcmp(tok[3], "random") == 0;
      bad = !o->random_at && parse_dur(tok[3], &o->at) < 0;
    }
    if (!bad && n == 7)
      bad = strncmp(tok[6], "mode=", 5) != 0 || parse_mode(tok[6] + 5, &o->mode);
    if (bad) {
      fprintf(stderr,
              "mychat-sim: %soffline: expected offline P at D|random for D "
              "[mode=abandon|logout|mix]\n",
              where);
      return -1;
    }
    cfg->n_off++;
    return 0;
  }
  if (strcmp(tok[0], "net") == 0) {
    int i = 1;
    mc_netem_config *net = &cfg->net;
    if (n >= 3 && strcmp(tok[1], "at") == 0) {
      if (cfg->n_chg == SIM_NETCHG_MAX) {
        fprintf(stderr, "mychat-sim: %snet: more than %d changes\n", where,
                SIM_NETCHG_MAX);
        return -1;
      }
      sim_netchange *c = &cfg->chg[cfg->n_chg];
      /* A change starts from the latest settings and edits them. */
      c->net = cfg->n_chg ? cfg->chg[cfg->n_chg - 1].net : cfg->net;
      if (parse_dur(tok[2], &c->at) < 0) {
        fprintf(stderr, "mychat-sim: %snet at: bad time '%s'\n", where,
                tok[2]);
        return -1;
      }
      net = &c->net;
      cfg->n_chg++;
      i = 3;
    }
    for (; i < n; i++)
      if (kv_net(net, tok[i], where) < 0)
        return -1;
    return 0;
  }
  const setting *st = find_setting(tok[0]);
  if (st != NULL && st->fn == set_threshold && n > 2) {
    /* "threshold p99 < 500ms": the expression may contain spaces. */
    char expr[256] = "";
    for (int i = 1; i < n; i++)
      snprintf(expr + strlen(expr), sizeof expr - strlen(expr), "%s%s",
               i > 1 ? " " : "", tok[i]);
    return apply(st, &cfg->net, expr, where);
  }
  if (st == NULL || n != 2) {
    fprintf(stderr, "mychat-sim: %s%s: %s\n", where, tok[0],
            st ? "expected one value" : "unknown directive");
    return -1;
  }
  return apply(st, &cfg->net, tok[1], where);
}

static int scenario_load(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "mychat-sim: --scenario %s: %s\n", path, strerror(errno));
    return -1;
  }
  char line[1024], where[512];
  int lineno = 0, rv = 0;
  while (rv == 0 && fgets(line, sizeof line, f)) {
    lineno++;
    char *hash = strchr(line, '#');
    if (hash)
      *hash = '\0';
    char *tok[16], *save;
    int n = 0;
    for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 16;
         t = strtok_r(NULL, " \t\r\n", &save))
      tok[n++] = t;
    if (n == 0)
      continue;
    snprintf(where, sizeof where, "%s:%d: ", path, lineno);
    rv = directive(tok, n, where);
  }
  fclose(f);
  return rv;
}

/* ------------------------------------------------------------------ */
/* the command line                                                    */

mc_tstamp sim_send_period(const sim_config *cfg) {
  mc_tstamp t = 0;
  for (int i = 0; i < cfg->n_phase; i++)
    t += cfg->phase[i].len;
  return t;
}

static void defaults(sim_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  memset(&O, 0, sizeof O);
  O.cfg = cfg;
  cfg->clients = 1000;
  cfg->memberships = 2;
  cfg->text_len = 64;
  cfg->ramp = 5 * MC_SEC;
  cfg->drain = 60 * MC_SEC;
  cfg->seed = 1;
  cfg->sockets = 0; /* chosen once the client count is known */
  cfg->progress = -1;
  cfg->net.delay = 10 * MC_MSEC;
  cfg->connect_timeout = 15 * MC_SEC;
  O.rate = 0.2;
  O.direct = 0.3;
  O.duration = 30 * MC_SEC;
  O.churn_len = 5 * MC_SEC;
  O.churn_mode = SIM_OFF_MIX;
}

int sim_opts_parse(sim_config *cfg, int argc, char **argv) {
  defaults(cfg);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 1;
    }
    if (strcmp(a, "--version") == 0) {
      printf("mychat-sim %s (MyChat protocol v%d)\n", SIM_VERSION,
             MC_PROTOCOL_VERSION);
      return 1;
    }
    if (strcmp(a, "--progress") == 0 || strcmp(a, "--no-progress") == 0) {
      cfg->progress = a[2] == 'p';
      continue;
    }
    if (strcmp(a, "--embedded-udp") == 0) {
      cfg->embedded_udp = 1;
      continue;
    }
    if (strcmp(a, "--corrupt-undetected") == 0) {
      cfg->corrupt_undetected = 1;
      continue;
    }
    if (strcmp(a, "--json-host") == 0) {
      cfg->json_host = 1;
      continue;
    }
    if (strncmp(a, "--", 2) != 0) {
      fprintf(stderr, "mychat-sim: %s: unexpected argument\nTry 'mychat-sim --help' for usage.\n",
              a);
      return -1;
    }
    const char *name = a + 2, *val = NULL;
    char namebuf[64];
    const char *eq = strchr(name, '=');
    if (eq) {
      snprintf(namebuf, sizeof namebuf, "%.*s", (int)(eq - name), name);
      name = namebuf;
      val = eq + 1;
    } else if (i + 1 < argc) {
      val = argv[++i];
    }
    const setting *st = find_setting(name);
    if (st == NULL && strcmp(name, "scenario") != 0) {
      fprintf(stderr, "mychat-sim: %s: unknown option\nTry 'mychat-sim --help' for usage.\n", a);
      return -1;
    }
    if (val == NULL) {
      fprintf(stderr, "mychat-sim: %s: needs a value\nTry 'mychat-sim --help' for usage.\n", a);
      return -1;
    }
    if (st == NULL) {
      cfg->scenario = keep(val);
      if (scenario_load(val) < 0)
        return -1;
      continue;
    }
    if (apply(st, &cfg->net, val, "--") < 0)
      return -1;
  }
  if (!O.explicit_phases) {
    cfg->n_phase = 1;
    cfg->phase[0] = (sim_phase){.len = O.duration, .rate = O.rate,
                                .direct = O.direct};
  }
  if (O.churn > 0 && cfg->n_off < SIM_OFFLINE_MAX)
    cfg->off[cfg->n_off++] = (sim_offline){.share = O.churn, .random_at = 1,
                                           .len = O.churn_len,
                                           .mode = O.churn_mode};
  if (cfg->embedded_udp && cfg->server) {
    fprintf(stderr, "mychat-sim: --embedded-udp: cannot be used with "
                    "--server\n");
    return -1;
  }
  if (cfg->server && !O.names_set) {
    /* A real server keeps accounts, memberships and backlogs between runs;
     * a run of its own starts from nothing. */
    uint64_t x = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
    cfg->names[0] = 'r';
    for (int i = 1; i < 7; i++, x /= 36)
      cfg->names[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[x % 36];
    cfg->names[7] = '\0';
  }
  if (cfg->sockets == 0) {
    /* A real server limits logins per source address (the reference
     * server: 5 at once, then one every 2 s); more clients per socket than
     * that would turn the simulator's own setup into connect failures. */
    uint32_t per4 = cfg->clients / 4 + 1;
    cfg->sockets = cfg->server && per4 > SOCKETS_DEFAULT ? per4
                                                         : SOCKETS_DEFAULT;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 2 * FDS_SPARE &&
        cfg->sockets > rl.rlim_cur - FDS_SPARE)
      cfg->sockets = (uint32_t)(rl.rlim_cur - FDS_SPARE);
    if (cfg->sockets > SOCKETS_MAX)
      cfg->sockets = SOCKETS_MAX;
  }
  if (cfg->threads == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = n > 1 ? (uint32_t)n : 1;
  }
  if (sim_threshold_default(cfg) < 0) {
    fprintf(stderr, "mychat-sim: --threshold: no room for the default %s\n",
            SIM_CONNECT_FAIL_DEFAULT);
    return -1;
  }
  if (mc_netem_config_check(&cfg->net) < 0) {
    fprintf(stderr, "mychat-sim: network settings: out of range\n");
    return -1;
  }
  for (int c = 0; c < cfg->n_chg; c++)
    if (mc_netem_config_check(&cfg->chg[c].net) < 0) {
      fprintf(stderr, "mychat-sim: network change %d: out of range\n",
              c + 1);
      return -1;
    }
  return 0;
}
