/*
 * mychat-conform: the MyChat conformance suite.
 *
 *   mychat-conform --server HOST:PORT [options] [CASE...]
 *   mychat-conform --impl FILE [options] [CASE...]
 *
 * Replays the cases of captures/ (recorded from the reference server by
 * mc-record) against a server and checks its answers field by field
 * (mc_replay.c; the rules are in conformance/README.md). Cases run as CUnit
 * tests, one suite per case-name prefix (hs, sess, msg, ...), registered at
 * run time from the .case files found; the "mutation" suite sends hostile
 * variants of captured datagrams while a normal case runs.
 *
 * Each failure is graded by the requirements it cites, read from
 * proto/PROTOCOL.md (mc_spec.c): breaking a MUST fails the case, breaking
 * only SHOULDs is NON-STRICT (a failure with --strict). An implementation
 * statement (--impl, mc_target.c) declares the server's settings and how to
 * start it: a case whose needs it cannot meet is UNSUPPORTED, with the
 * reason; with a start command the suite starts one server per set of
 * settings the cases need. Exit status: 0 no case failed, 1 a case failed,
 * 2 usage or setup error.
 */
#include <CUnit/CUnit.h>
#include <CUnit/TestRun.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mc_capture.h"
#include "mc_codec_pb.h"
#include "mc_error.h"
#include "mc_evidence.h"
#include "mc_replay.h"
#include "mc_report.h"
#include "mc_rng.h"
#include "mc_spec.h"
#include "mc_target.h"
#include "mc_udp.h"

#define PROG "mychat-conform"
#define VERSION "2.0"
#define MUTATION_REQUIRES "MC-3 MC-26 MC-30 MC-58 MC-60 MC-61"
#define REPORT_MAX 8192
#define MUT_SOURCES 12           /* client datagrams mutated per case */
#define MUT_MAX 96
#define PROBE_MS 2000            /* nothing answers the probe: give up */
#define READY_MS 10000           /* a started server must answer by then */
#define VOID_RETRIES 2           /* runs again of a run void for our stall */
/* One-way delay under --reorder without --delay: every burst the server
 * sends (microseconds apart) can then be overtaken. */
#define MC_CONFORM_REORDER_DELAY_US 2000
#define SERVERS_MAX 16

typedef enum {
  V_NOTRUN = 0,
  V_PASS,
  V_FAIL,
  V_NONSTRICT,                   /* only SHOULD (or MAY) requirements broken */
  V_UNSUPPORTED,                 /* needs what the implementation lacks */
  V_SKIPPED                      /* none today: every case runs on every
                                    link (its profile, mc_case.impair); kept
                                    in the counts and the reports' columns */
} verdict;

static const char *const verdict_names[] = {
    [V_NOTRUN] = "not run", [V_PASS] = "PASS", [V_FAIL] = "FAIL",
    [V_NONSTRICT] = "NON-STRICT", [V_UNSUPPORTED] = "UNSUPPORTED",
    [V_SKIPPED] = "SKIPPED"};

typedef struct {
  mc_case c;
  char suite[24];
  int run;                       /* selected */
  int mutation_of;               /* mutation entry: index of its base + 1 */
  int server;                    /* index in servers[], -1: none */
  verdict v;
  char why[320];                 /* UNSUPPORTED, SKIPPED: the reason */
  /* Impaired run: the impairments the case takes (its profile, mc_case.
   * impair, within what the run asks for), as an "impair:" value; and
   * whether that is less than the run asks for. */
  char link[96];
  int link_cut;
  double secs;
  char *report;                  /* the failure report, owned */
  char *exchange;                /* -v: the decoded exchange, owned */
  char pcap[4096];               /* --pcap-dir: the pcap written, or "" */
  int runs, passes;              /* --repeat */
  int voids, last_void;          /* runs void for our own stall, repeated */
  int fresh;                     /* a server of its own, restarted for
                                    each repetition */
} entry;

static entry *cases;
static size_t n_cases;

/* The cases the mutation suite builds on: a few with many session
 * datagrams, run for real while their mutants fly. */
static const char *const mutation_bases[] = {"msg-direct", "grp-requests"};
#define N_MUTATION (sizeof mutation_bases / sizeof mutation_bases[0])

/* The servers the cases run against: one fixed address, or one started
 * server per set of settings. */
typedef struct {
  char key[256];                 /* the settings, as text */
  mc_target_settings run;
  mc_target_proc proc;
  struct sockaddr_storage sa;
  socklen_t salen;
  char addr[128];
} server_slot;

static server_slot servers[SERVERS_MAX];
static int n_servers;
static mc_replay_opts opts;
static mc_netem_stats link_stats; /* what the impaired links did, all runs */
static mc_spec spec;
static mc_target_impl impl;
static int strict;
static int repeat = 1;           /* --repeat: runs of each case */
static int impl_index;           /* matrix: 1-based, else 0 */
static const char *spec_path;
static char link_text[256] = "clean";
static int verbose;
static const char *pcap_dir;
static mc_evidence evidence;     /* the exchange of the case running */
static const char *captures_dir;
static char last_suite[24];
static int use_color;

static void usage(FILE *f) {
  fprintf(f,
          "usage: " PROG " --server HOST:PORT [options] [CASE...]\n"
          "       " PROG " --impl FILE [options] [CASE...]\n"
          "       " PROG " --matrix FILE [options] [CASE...]\n"
          "  --server HOST:PORT  the server under test (loopback), already\n"
          "                      running\n"
          "  --impl FILE         implementation statement: name, settings,\n"
          "                      claims, start command (conformance/impl/)\n"
          "  --server-flags STR  without --impl: the reference flags the\n"
          "                      server runs with (default:\n"
          "                      \"%s\")\n"
          "  --captures DIR      cases to run (default: captures)\n"
          "  --spec FILE         the spec that grades failures (default:\n"
          "                      proto/PROTOCOL.md beside DIR)\n"
          "  --strict            a SHOULD failure (NON-STRICT) fails the run\n"
          "  --list              list the cases, the MC-n each checks and\n"
          "                      the settings it needs\n"
          "  --filter PATTERN    only cases whose name matches (glob or "
          "substring)\n"
          "  --timeout SECONDS   longest wait for one expected datagram "
          "(default 5;\n"
          "                      20 on an impaired link)\n"
          "  --junit FILE        also write JUnit XML\n"
          "  --json FILE         also write the JSON report: every MC-n, the\n"
          "                      cases that check it, their verdicts\n"
          "  --report FILE.html  the same as one self-contained HTML page\n"
          "  --matrix FILE       run every statement FILE lists (one a line)\n"
          "                      and report an implementation x case grid\n"
          "  -v, --verbose       print each case's exchange, expected and\n"
          "                      received, as mychat-pcap dump lines\n"
          "  --pcap-dir DIR      write DIR/CASE.pcap, what was exchanged, for\n"
          "                      each failed case\n"
          "  --loss P, --dup P, --reorder P   impair the link (P: 0.2 or "
          "20%%); each\n"
          "                      case takes what its profile allows (impair:)\n"
          "  --delay MS          impair the link: one-way delay (2 with\n"
          "                      --reorder, which needs a delay to overtake)\n"
          "  --seed N            impairment and mutation seed (default 1)\n"
          "  --repeat N          run each case N times (seeds S, S+1, ...) and\n"
          "                      print its pass rate, 95%% Wilson interval\n"
          "  -h, --help          this help\n"
          "  --version           the version\n"
          "Verdicts: PASS, FAIL (a MUST broken), NON-STRICT (only SHOULDs),\n"
          "UNSUPPORTED (needs a setting or an optional behaviour the\n"
          "implementation lacks); every case runs on every link.\n"
          "Exit status: 0 when no case failed, 1 when one failed, 2 on "
          "errors\n(no case matches, nothing answers, unwritable output).\n",
          MC_CAP_STD_FLAGS);
}

static double parse_prob(const char *name, const char *s) {
  char *end;
  double v = strtod(s, &end);
  if (*end == '%') {
    v /= 100;
    end++;
  }
  if (end == s || *end != '\0' || !(v >= 0 && v <= 1)) {
    fprintf(stderr, PROG ": --%s: '%s' is not a probability\n", name, s);
    exit(2);
  }
  return v;
}

/* By name, the mutation suite last. */
static int cmp_entry(const void *a, const void *b) {
  const entry *x = a, *y = b;
  if ((x->mutation_of != 0) != (y->mutation_of != 0))
    return x->mutation_of != 0 ? 1 : -1;
  return strcmp(x->c.name, y->c.name);
}

static entry *new_entry(size_t *cap) {
  if (n_cases == *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    entry *n = realloc(cases, nc * sizeof *n);
    if (n == NULL)
      return NULL;
    cases = n;
    *cap = nc;
  }
  entry *e = &cases[n_cases];
  memset(e, 0, sizeof *e);
  e->server = -1;
  return e;
}

/* A mutation entry shares its base's packets (it does not own them). */
static int add_mutation_entries(size_t *cap) {
  for (size_t k = 0; k < N_MUTATION; k++) {
    size_t base = SIZE_MAX;
    for (size_t i = 0; i < n_cases; i++)
      if (cases[i].mutation_of == 0 &&
          strcmp(cases[i].c.name, mutation_bases[k]) == 0)
        base = i;
    if (base == SIZE_MAX)
      continue;
    entry *e = new_entry(cap);
    if (e == NULL)
      return -1;
    e->c = cases[base].c;
    e->mutation_of = (int)base + 1;
    snprintf(e->c.name, sizeof e->c.name, "mutation-%s", mutation_bases[k]);
    snprintf(e->c.desc, sizeof e->c.desc, "hostile variants of %s's "
             "datagrams, with the case itself running", mutation_bases[k]);
    snprintf(e->suite, sizeof e->suite, "mutation");
    e->c.n_requires = 0;
    for (const char *p = MUTATION_REQUIRES; (p = strstr(p, "MC-")) != NULL;
         p += 3)
      e->c.requires[e->c.n_requires++] = atoi(p + 3);
    n_cases++;
  }
  return 0;
}

static int load_cases(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    fprintf(stderr, PROG ": %s: cannot open the captures directory\n", dir);
    return -1;
  }
  struct dirent *de;
  size_t cap = 0;
  int rv = 0;
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (l < 6 || strcmp(de->d_name + l - 5, ".case") != 0)
      continue;
    entry *e = new_entry(&cap);
    if (e == NULL) {
      rv = -1;
      break;
    }
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    if (mc_case_load(&e->c, path, err, sizeof err) < 0) {
      fprintf(stderr, PROG ": %s\n", err);
      rv = -1;
      continue;
    }
    size_t k = strcspn(e->c.name, "-");
    snprintf(e->suite, sizeof e->suite, "%.*s", (int)k, e->c.name);
    n_cases++;
  }
  closedir(d);
  if (rv == 0 && add_mutation_entries(&cap) < 0)
    rv = -1;
  /* CUnit runs the suites in this order. */
  if (n_cases > 0)
    qsort(cases, n_cases, sizeof *cases, cmp_entry);
  for (size_t i = 0; i < n_cases; i++)
    if (cases[i].mutation_of)
      for (size_t j = 0; j < n_cases; j++)
        if (!cases[j].mutation_of &&
            strcmp(cases[j].c.name, cases[i].c.name + 9) == 0)
          cases[i].mutation_of = (int)j + 1;
  return rv;
}

static void requires_text(const mc_case *c, char *b, size_t cap) {
  size_t k = 0;
  b[0] = '\0';
  for (int i = 0; i < c->n_requires && k + 10 < cap; i++)
    k += (size_t)snprintf(b + k, cap - k, "%sMC-%d", i ? " " : "",
                          c->requires[i]);
}

static entry *find_entry(const char *name) {
  for (size_t i = 0; i < n_cases; i++)
    if (strcmp(cases[i].c.name, name) == 0)
      return &cases[i];
  return NULL;
}

/* ---- output ---- */

static const char *mark(verdict v) {
  static const char *const plain[] = {
      [V_NOTRUN] = "?", [V_PASS] = "\xe2\x9c\x93", [V_FAIL] = "\xe2\x9c\x97",
      [V_NONSTRICT] = "!", [V_UNSUPPORTED] = "-", [V_SKIPPED] = "-"};
  static const char *const color[] = {
      [V_NOTRUN] = "?", [V_PASS] = "\033[32m\xe2\x9c\x93\033[0m",
      [V_FAIL] = "\033[31m\xe2\x9c\x97\033[0m", [V_NONSTRICT] = "\033[33m!\033[0m",
      [V_UNSUPPORTED] = "\033[33m-\033[0m", [V_SKIPPED] = "-"};
  return use_color ? color[v] : plain[v];
}

static void print_suite(const char *suite) {
  if (strcmp(suite, last_suite) == 0)
    return;
  snprintf(last_suite, sizeof last_suite, "%s", suite);
  printf("  %s\n", suite);
}

static void print_lines(const char *s, const char *lead) {
  while (s != NULL && *s) {
    const char *nl = strchr(s, '\n');
    int n = nl ? (int)(nl - s) : (int)strlen(s);
    printf("%s%.*s\n", lead, n, s);
    s = nl ? nl + 1 : NULL;
  }
}

static void print_result(const entry *e) {
  char req[400];
  requires_text(&e->c, req, sizeof req);
  print_suite(e->suite);
  if (e->v == V_UNSUPPORTED || e->v == V_SKIPPED) {
    printf("    %s %s: %s: %s\n", mark(e->v), e->c.name, verdict_names[e->v],
           e->why);
    fflush(stdout);
    return;
  }
  char runs[200] = "";
  if (e->runs > 1)
    snprintf(runs, sizeof runs, ", %d/%d passed", e->passes, e->runs);
  if (e->voids > 0)
    snprintf(runs + strlen(runs), sizeof runs - strlen(runs),
             ", %d void run%s repeated: the suite stalled", e->voids,
             e->voids == 1 ? "" : "s");
  if (e->link_cut)
    snprintf(runs + strlen(runs), sizeof runs - strlen(runs),
             ", link: %s", e->link);
  printf("    %s %s: %s (%.2f s%s)%s\n", mark(e->v), e->c.name, e->c.desc,
         e->secs, runs, e->v == V_NONSTRICT ? " NON-STRICT" : "");
  printf("        %s\n", req);
  if (e->link_cut)
    printf("        impaired only so: %s\n", e->c.impair_why);
  if (e->v == V_FAIL || e->v == V_NONSTRICT)
    print_lines(e->report, "        -> ");
  if (e->pcap[0] != '\0')
    printf("        -> what was exchanged: %s\n", e->pcap);
  if (e->exchange != NULL)
    fputs(e->exchange, stdout);
  fflush(stdout);
}

/* ---- mutation: hostile variants of captured datagrams ---- */

typedef struct {
  int fd;
  size_t len;
  uint8_t data[MC_DATAGRAM_MAX + 64];
  const char *what;
  int must_be_silent;            /* the spec requires no answer */
  int want_unknown;              /* exactly one UNKNOWN_SESSION */
} mutant;

typedef struct {
  const mc_case *c;
  char report[REPORT_MAX];
  size_t len;
  int bad;
  int sent;
} mut_job;

static void mut_fail(mut_job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void mut_fail(mut_job *j, const char *fmt, ...) {
  j->bad++;
  if (j->len + 200 >= sizeof j->report)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(j->report + j->len, sizeof j->report - j->len, fmt, ap);
  va_end(ap);
  if (n > 0)
    j->len += (size_t)n;
  j->report[j->len++] = '\n';
  j->report[j->len] = '\0';
}

static void check_answer(mut_job *j, const mutant *m, const uint8_t *d,
                         size_t len, int nth) {
  Mychat__Envelope *env;
  if (nth > 0) {
    mut_fail(j, "%s: a second answer (MC-61)", m->what);
    return;
  }
  if (m->must_be_silent) {
    mut_fail(j, "%s: answered, must be dropped silently (MC-3)", m->what);
    return;
  }
  if (len > m->len)
    mut_fail(j, "%s: answer of %zu bytes to %zu (MC-60)", m->what, len,
             m->len);
  int rv = mc_codec_decode(d, len, &env);
  if (rv < 0) {
    mut_fail(j, "%s: answer does not decode (%s)", m->what, mc_errname(rv));
    return;
  }
  if (env->body_case != MYCHAT__ENVELOPE__BODY_ERROR) {
    mut_fail(j, "%s: answered with %s, not Error", m->what,
             mc_codec_body_name(env->body_case));
  } else {
    int code = env->error->code;
    if (m->want_unknown && code != MYCHAT__ERROR_CODE__UNKNOWN_SESSION)
      mut_fail(j, "%s: Error code %d, expected UNKNOWN_SESSION (MC-58)",
               m->what, code);
    else if (code != MYCHAT__ERROR_CODE__UNKNOWN_SESSION &&
             code != MYCHAT__ERROR_CODE__MALFORMED &&
             code != MYCHAT__ERROR_CODE__BAD_REQUEST)
      mut_fail(j, "%s: Error code %d to a datagram of no session", m->what,
               code);
    else if (code != MYCHAT__ERROR_CODE__UNKNOWN_SESSION &&
             (env->session_id != 0 || env->token.len != 0))
      mut_fail(j, "%s: Error with a session header (MC-26)", m->what);
  }
  mc_codec_free(env);
}

static void add_mutant(mutant *ms, size_t *n, const uint8_t *d, size_t len,
                       const char *what, int silent, int unknown) {
  if (*n == MUT_MAX || len > sizeof ms[0].data)
    return;
  mutant *m = &ms[(*n)++];
  memcpy(m->data, d, len);
  m->len = len;
  m->what = what;
  m->must_be_silent = silent;
  m->want_unknown = unknown;
}

/* Sends mutants of the case's recorded session datagrams (their sessions
 * are long gone, so none is authenticated) from a socket each, and checks
 * every answer. */
static void *mutate(void *arg) {
  mut_job *j = arg;
  static mutant ms[MUT_MAX];
  size_t n = 0, sources = 0;
  mc_rng rng;
  mc_rng_seed(&rng, opts.seed);
  for (size_t i = 0; i < j->c->n_pkts && sources < MUT_SOURCES; i++) {
    const mc_cap_pkt *p = &j->c->pkts[i];
    Mychat__Envelope *env;
    if (!p->from_client || mc_codec_decode(p->data, p->len, &env) < 0)
      continue;
    int session = env->session_id != 0 && env->token.len == MC_TOKEN_LEN;
    mc_codec_free(env);
    if (!session || p->len < 40 || p->len > MC_DATAGRAM_MAX)
      continue;
    sources++;
    size_t len = p->len < MC_DATAGRAM_MAX ? p->len : MC_DATAGRAM_MAX;
    uint8_t d[MC_DATAGRAM_MAX + 64];
    add_mutant(ms, &n, p->data, len, "stale datagram (ended session)", 0,
               1);
    memcpy(d, p->data, len);
    mc_peek pk;
    if (mc_codec_peek(d, len, &pk) == 0 && pk.token_len == MC_TOKEN_LEN) {
      d[pk.token_off] ^= 0x01;
      add_mutant(ms, &n, d, len, "wrong token", 0, 1);
    }
    add_mutant(ms, &n, p->data, len / 2, "truncated to half", 0, 0);
    add_mutant(ms, &n, p->data, 3, "truncated to 3 bytes", 1, 0);
    memcpy(d, p->data, len);
    size_t bit = MC_PREFIX_LEN * 8 + mc_rng_below(&rng, (len - 4) * 8);
    d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    add_mutant(ms, &n, d, len, "one bit flipped", 0, 0);
    memcpy(d, p->data, len);
    memset(d + len, 0, MC_DATAGRAM_MAX + 1 - len);
    add_mutant(ms, &n, d, MC_DATAGRAM_MAX + 1, "oversize (1201 bytes)", 1, 0);
    memcpy(d, p->data, len);
    d[3] = 2;
    add_mutant(ms, &n, d, len, "version 2", 1, 0);
  }
  char err[256];
  for (size_t i = 0; i < n; i++) {
    ms[i].fd = mc_udp_connect((const struct sockaddr *)&opts.server,
                              opts.server_len, err, sizeof err);
    if (ms[i].fd < 0) {
      mut_fail(j, "%s", err);
      n = i;
      break;
    }
    send(ms[i].fd, ms[i].data, ms[i].len, 0);
    j->sent++;
    usleep(2000); /* a trickle, not a flood: the normal case runs too */
  }
  int answers[MUT_MAX] = {0};
  uint64_t until = mc_udp_now_us() + 500000;
  while (mc_udp_now_us() < until) {
    usleep(10000);
    for (size_t i = 0; i < n; i++) {
      uint8_t buf[65536];
      ssize_t r;
      while ((r = recv(ms[i].fd, buf, sizeof buf, MSG_DONTWAIT)) >= 0)
        check_answer(j, &ms[i], buf, (size_t)r, answers[i]++);
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (ms[i].want_unknown && answers[i] == 0)
      mut_fail(j, "%s: no Error UNKNOWN_SESSION (MC-58)", ms[i].what);
    close(ms[i].fd);
  }
  return NULL;
}


/* ---- CUnit tests ---- */

/* A fresh name tag for each run of a case: a letter, four more, a dot. */
static mc_rng tag_rng;
static void new_tag(char *tag) {
  static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  tag[0] = (char)('a' + mc_rng_below(&tag_rng, 16)); /* never 'q' */
  for (int i = 1; i < MC_CAP_TAG_LEN - 1; i++)
    tag[i] = alnum[mc_rng_below(&tag_rng, 36)];
  tag[MC_CAP_TAG_LEN - 1] = '.';
  tag[MC_CAP_TAG_LEN] = '\0';
}

/* The strongest level among the requirements a case cites. */
static mc_spec_level case_level(const mc_case *c) {
  mc_spec_level l = MC_LEVEL_NONE;
  for (int i = 0; i < c->n_requires; i++) {
    const mc_spec_req *r = mc_spec_find(&spec, c->requires[i]);
    if (r != NULL && r->level > l)
      l = r->level;
  }
  return l;
}

/* A failure is graded by the requirements its report cites (the
 * replayer names the rule a datagram breaks); one that cites none the
 * spec has is graded by the case's own. Breaking a MUST fails, breaking
 * only SHOULD or MAY requirements is NON-STRICT. */
static verdict grade(const mc_case *c, const char *report) {
  mc_spec_level l = mc_spec_level_cited(&spec, report);
  if (l == MC_LEVEL_NONE)
    l = case_level(c);
  return l == MC_LEVEL_MUST || l == MC_LEVEL_NONE ? V_FAIL : V_NONSTRICT;
}

/* -v: the exchange as decoded lines, the capture's then this run's;
 * --pcap-dir: a failed case's exchange as a pcap. */
static void keep_evidence(entry *e) {
  e->pcap[0] = '\0';
  if (pcap_dir != NULL && e->v != V_PASS) {
    char err[512];
    if (impl_index > 0) /* matrix: one pcap per implementation and case */
      snprintf(e->pcap, sizeof e->pcap, "%s/%d-%s.pcap", pcap_dir,
               impl_index, e->c.name);
    else
      snprintf(e->pcap, sizeof e->pcap, "%s/%s.pcap", pcap_dir, e->c.name);
    if (mc_capture_write(e->pcap, evidence.pkts, evidence.n, err,
                         sizeof err) < 0) {
      fprintf(stderr, PROG ": %s\n", err);
      e->pcap[0] = '\0';
    }
  }
  if (!verbose)
    return;
  mcp_buf b = {0};
  const entry *base = e->mutation_of ? &cases[e->mutation_of - 1] : e;
  mcp_buf_printf(&b, "        expected (%s/%s.pcap, %zu datagrams%s):\n",
                 captures_dir, base->c.name, e->c.n_pkts,
                 e->mutation_of ? "; the mutants are not traced" : "");
  mc_evidence_format(&b, e->c.pkts, e->c.n_pkts, "          ");
  mcp_buf_printf(&b, "        received (this run, %zu datagrams%s):\n",
                 evidence.n, evidence.truncated ? ", the first ones" : "");
  mc_evidence_format(&b, evidence.pkts, evidence.n, "          ");
  free(e->exchange);
  e->exchange = b.s;
}

/* One run of |e|: its verdict, the report in |report| (|cap| bytes), the
 * seconds it took added to e->secs. */
static verdict run_once(entry *e, char *report, size_t cap) {
  new_tag(opts.tag);
  opts.server = servers[e->server].sa;
  opts.server_len = servers[e->server].salen;
  mut_job *job = NULL;
  pthread_t th;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (e->mutation_of) {
    job = calloc(1, sizeof *job);
    if (job != NULL) {
      job->c = &e->c;
      if (pthread_create(&th, NULL, mutate, job) != 0) {
        free(job);
        job = NULL;
      }
    }
  }
  mc_evidence_reset(&evidence);
  if (verbose || pcap_dir != NULL) {
    opts.trace = mc_evidence_trace;
    opts.trace_arg = &evidence;
  }
  int rv = mc_replay_run(&e->c, &opts, report, cap);
  e->last_void = rv == MC_REPLAY_VOID;
  if (rv < 0 && report[0] == '\0')
    snprintf(report, cap, "could not run: %s\n", mc_strerror(rv));
  size_t rl = strlen(report);
  if (job != NULL) {
    pthread_join(th, NULL);
    if (job->bad) {
      snprintf(report + rl, cap - rl,
               "mutants (%d sent, %d bad answers):\n", job->sent, job->bad);
      rl = strlen(report);
      snprintf(report + rl, cap - rl, "%.4000s", job->report);
    }
    else if (job->sent == 0)
      snprintf(report + rl, cap - rl,
               "no session datagram in the capture to mutate\n");
    rv = rv != 0 || job->bad || job->sent == 0;
    free(job);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  e->secs += (double)(t1.tv_sec - t0.tv_sec) +
             (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  return rv == 0 ? V_PASS : grade(&e->c, report);
}

/* A new server for a slot (--repeat of a case that has its own). Returns
 * 0, or -1 with the reason in |err|. */
static int restart(server_slot *s, char *err, size_t errlen) {
  mc_target_stop(&s->proc);
  if (mc_target_start(&impl, &s->run, READY_MS, &s->proc, err, errlen) < 0)
    return -1;
  s->sa = s->proc.sa;
  s->salen = s->proc.salen;
  memcpy(s->addr, s->proc.addr, sizeof s->proc.addr);
  return 0;
}

/* Runs |e| --repeat times, each with the next impairment seed. The
 * verdict is the worst of the runs, reported with that run's report and
 * evidence (the first of the worst). */
static void run_entry(entry *e) {
  uint64_t seed = opts.seed;
  char report[REPORT_MAX];
  e->runs = e->passes = e->voids = 0;
  e->secs = 0;
  e->v = V_PASS;
  for (int k = 0; k < repeat; k++) {
    opts.seed = seed + (uint64_t)k;
    if (k > 0 && e->fresh && restart(&servers[e->server], report,
                                     sizeof report) < 0) {
      e->v = V_FAIL;
      free(e->report);
      e->report = strdup(report);
      break;
    }
    verdict v = run_once(e, report, sizeof report);
    /* A run void for the suite's own stall is run again, with the same
     * seed, and the repetition counted aside. */
    for (int t = 0; v == V_FAIL && e->last_void && t < VOID_RETRIES; t++) {
      e->voids++;
      if (e->fresh && restart(&servers[e->server], report, sizeof report) < 0)
        break;
      v = run_once(e, report, sizeof report);
    }
    e->runs++;
    e->passes += v == V_PASS;
    int worse = (v == V_FAIL && e->v != V_FAIL) ||
                (v == V_NONSTRICT && e->v == V_PASS);
    if (worse || (k == repeat - 1 && e->v == V_PASS)) {
      if (worse) {
        e->v = v;
        free(e->report);
        e->report = NULL;
        if (repeat > 1) {
          size_t l = strlen(report);
          snprintf(report + l, sizeof report - l, "(run %d of %d, seed %"
                   PRIu64 ")\n", k + 1, repeat, opts.seed);
        }
        e->report = strdup(report);
      }
      keep_evidence(e);
    }
  }
  opts.seed = seed;
}



static void test_case(void) {
  entry *e = find_entry(CU_get_current_test()->pName);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  if (e->v != V_UNSUPPORTED && e->v != V_SKIPPED)
    run_entry(e);
  print_result(e);
  CU_ASSERT_TRUE(e->v != V_FAIL && !(strict && e->v == V_NONSTRICT));
}

/* ---- JUnit XML ---- */

static void xml_text(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default:
      if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
        fputc(*s, f);
    }
  }
}

static int counts_as_failure(verdict v) {
  return v == V_FAIL || (strict && v == V_NONSTRICT);
}

static int counts_as_skip(verdict v) {
  return v == V_UNSUPPORTED || v == V_SKIPPED;
}

static int write_junit(const char *path) {
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return -1;
  size_t n = 0, fails = 0, skips = 0;
  double total = 0;
  for (size_t i = 0; i < n_cases; i++) {
    if (!cases[i].run)
      continue;
    n++;
    fails += counts_as_failure(cases[i].v);
    skips += counts_as_skip(cases[i].v);
    total += cases[i].secs;
  }
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<testsuites name=\"" PROG "\" tests=\"%zu\" failures=\"%zu\" "
             "skipped=\"%zu\" time=\"%.3f\">\n",
          n, fails, skips, total);
  for (size_t i = 0; i < n_cases;) {
    size_t k = i, sn = 0, sf = 0, ss = 0;
    double st = 0;
    while (k < n_cases && strcmp(cases[k].suite, cases[i].suite) == 0) {
      if (cases[k].run) {
        sn++;
        sf += counts_as_failure(cases[k].v);
        ss += counts_as_skip(cases[k].v);
        st += cases[k].secs;
      }
      k++;
    }
    if (sn > 0)
      fprintf(f, "  <testsuite name=\"%s\" tests=\"%zu\" failures=\"%zu\" "
                 "skipped=\"%zu\" time=\"%.3f\">\n",
              cases[i].suite, sn, sf, ss, st);
    for (; i < k; i++) {
      const entry *r = &cases[i];
      char req[400];
      if (!r->run)
        continue;
      requires_text(&r->c, req, sizeof req);
      fprintf(f, "    <testcase classname=\"%s\" name=\"%s\" time=\"%.3f\">\n",
              r->suite, r->c.name, r->secs);
      fprintf(f, "      <properties><property name=\"requires\" "
                 "value=\"%s\"/><property name=\"verdict\" value=\"%s\"/>"
                 "</properties>\n", req, verdict_names[r->v]);
      if (counts_as_skip(r->v)) {
        fprintf(f, "      <skipped message=\"%s: ", verdict_names[r->v]);
        xml_text(f, r->why);
        fprintf(f, "\"/>\n");
      } else if (counts_as_failure(r->v)) {
        fprintf(f, "      <failure message=\"conformance failure (%s)\">",
                verdict_names[r->v]);
        xml_text(f, r->report);
        fprintf(f, "</failure>\n");
      } else if (r->v == V_NONSTRICT) {
        fprintf(f, "      <system-out>NON-STRICT (only SHOULD requirements "
                   "broken):\n");
        xml_text(f, r->report);
        fprintf(f, "</system-out>\n");
      }
      fprintf(f, "    </testcase>\n");
    }
    if (sn > 0)
      fprintf(f, "  </testsuite>\n");
  }
  fprintf(f, "</testsuites>\n");
  return fclose(f) == 0 ? 0 : -1;
}

/* ---- needs and servers ---- */

static int selected(const char *name, const char *filter, int argc,
                    char **argv) {
  if (filter != NULL && fnmatch(filter, name, 0) != 0 &&
      strstr(name, filter) == NULL)
    return 0;
  if (optind == argc)
    return 1;
  for (int a = optind; a < argc; a++)
    if (strcmp(argv[a], name) == 0)
      return 1;
  return 0;
}

/* The server slot for settings |run|: the one fixed server, or the
 * started server of those settings (made here, started later). */
static int server_for(const mc_target_settings *run, int started) {
  char key[256];
  mc_target_settings_text(run, key, sizeof key);
  if (!started)
    key[0] = '\0';
  for (int i = 0; i < n_servers; i++)
    if (strcmp(servers[i].key, key) == 0)
      return i;
  if (n_servers == SERVERS_MAX)
    return -1;
  server_slot *s = &servers[n_servers];
  memset(s, 0, sizeof *s);
  snprintf(s->key, sizeof s->key, "%s", key);
  s->run = *run;
  return n_servers++;
}

/* Decides each selected case's verdict before the run (SKIPPED,
 * UNSUPPORTED) or its server. Returns 0, or -1 when too many servers. */
static int plan(int start) {
  for (size_t i = 0; i < n_cases; i++) {
    entry *e = &cases[i];
    if (!e->run)
      continue;
    const mc_case *c = e->mutation_of ? &cases[e->mutation_of - 1].c : &e->c;
    mc_target_settings need, run;
    if (opts.impaired) {
      unsigned want = mc_replay_kinds(&opts.netem), got[2];
      for (int d = 0; d < 2; d++)
        got[d] = e->c.impair[d] & want;
      mc_case_impair_text(got, e->link, sizeof e->link);
      e->link_cut = got[MC_CAP_TO_SERVER] != want ||
                    got[MC_CAP_TO_CLIENT] != want;
    }
    if (mc_target_needs(&need, c->flags, e->why, sizeof e->why) < 0) {
      e->v = V_UNSUPPORTED;
      continue;
    }
    int optional = 0;
    for (int k = 0; k < e->c.n_requires && !optional; k++) {
      const mc_spec_req *r = mc_spec_find(&spec, e->c.requires[k]);
      if (r != NULL && r->level == MC_LEVEL_MAY &&
          !mc_target_claims(&impl, r->id)) {
        snprintf(e->why, sizeof e->why, "checks MC-%d, an optional "
                 "behaviour (MAY) the statement does not claim", r->id);
        optional = 1;
      }
    }
    if (optional || !mc_target_meets(&impl, &need, &run, e->why,
                                     sizeof e->why)) {
      e->v = V_UNSUPPORTED;
      continue;
    }
    /* A case that drives a limit (the sessions cap, a login rate limit a
     * few handshakes reach, the send queue, a user's stored bytes) would
     * find it used up by its own earlier runs (live sessions, spent
     * tokens, bytes counted): with a start command each repetition gets a
     * new server. */
    e->fresh = start && (need.set[MC_SET_MAX_SESSIONS] ||
                         need.set[MC_SET_QUEUE_MAX] ||
                         need.set[MC_SET_QUOTA_BYTES] ||
                         (need.set[MC_SET_RATE_BURST] &&
                          need.value[MC_SET_RATE_BURST] < 100));
    e->server = server_for(&run, start);
    if (e->server < 0) {
      fprintf(stderr, PROG ": more than %d sets of settings\n", SERVERS_MAX);
      return -1;
    }
  }
  return 0;
}

/* Interrupted (Ctrl-C, a test's timeout): the servers started are
 * stopped too, not left running. kill() is async-signal-safe; the
 * process groups are those mc_target_start made. */
static void on_signal(int sig) {
  for (int i = 0; i < n_servers; i++)
    if (servers[i].proc.pid > 0)
      kill(-servers[i].proc.pid, SIGTERM);
  signal(sig, SIG_DFL);
  raise(sig);
}

static void stop_servers(void) {
  for (int i = 0; i < n_servers; i++)
    mc_target_stop(&servers[i].proc);
}

/* Starts a server per slot, or probes the one fixed server. Returns 0, or
 * -1 with the reason printed. */
static int bring_up(int start, const char *fixed) {
  char err[2048];
  for (int i = 0; i < n_servers; i++) {
    server_slot *s = &servers[i];
    if (start) {
      if (mc_target_start(&impl, &s->run, READY_MS, &s->proc, err,
                          sizeof err) < 0) {
        fprintf(stderr, PROG ": %s: %s\n", impl.name, err);
        return -1;
      }
      s->sa = s->proc.sa;
      s->salen = s->proc.salen;
      /* proc.addr is shorter than addr and NUL-terminated; memcpy, since
       * snprintf within one struct trips GCC's -Wrestrict at -O1. */
      _Static_assert(sizeof s->addr >= sizeof s->proc.addr, "addr sizes");
      memcpy(s->addr, s->proc.addr, sizeof s->proc.addr);
      printf("server %d: started at %s with %s\n", i + 1, s->addr, s->key);
      fflush(stdout);
      continue;
    }
    snprintf(s->addr, sizeof s->addr, "%s", fixed);
    if (mc_udp_parse(fixed, &s->sa, &s->salen, err, sizeof err) < 0) {
      fprintf(stderr, PROG ": %s\n", err);
      return -1;
    }
    int probe = mc_target_probe((const struct sockaddr *)&s->sa, s->salen,
                                PROBE_MS, err, sizeof err);
    if (probe < 0) {
      fprintf(stderr, PROG ": %s\n", err);
      return -1;
    }
    if (probe > 0)
      fprintf(stderr, PROG ": warning: %s; running the cases anyway\n", err);
    char set[256];
    mc_target_settings_text(&impl.settings, set, sizeof set);
    printf("server %s, running with %s (as stated)\n", fixed,
           set[0] ? set : "no declared settings");
  }
  return 0;
}

/* ---- main ---- */

/* Refuses, before anything runs, an output path that could not be
 * written at the end: a file whose directory is missing or read-only, or
 * a directory (|is_dir|) that cannot be created or written. */
static int check_output(const char *opt, const char *path, int is_dir) {
  if (path == NULL)
    return 0;
  const char *bad = NULL;
  if (is_dir) {
    if (mkdir(path, 0777) < 0 && errno != EEXIST)
      bad = strerror(errno);
    else if (access(path, W_OK) < 0)
      bad = strerror(errno);
  } else {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
      snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
      dir[1] = '\0';
    else
      *slash = '\0';
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
      bad = "is a directory";
    else if (access(path, F_OK) == 0 ? access(path, W_OK) < 0
                                     : access(dir, W_OK) < 0)
      bad = strerror(errno);
  }
  if (bad != NULL)
    fprintf(stderr, PROG ": --%s %s: %s\n", opt, path, bad);
  return bad != NULL ? -1 : 0;
}

static void print_list(void) {
  for (size_t i = 0; i < n_cases; i++) {
    const entry *e = &cases[i];
    if (!e->run)
      continue;
    char req[400], needs[256], err[128];
    size_t k = 0;
    req[0] = '\0';
    for (int r = 0; r < e->c.n_requires && k + 20 < sizeof req; r++) {
      const mc_spec_req *q = mc_spec_find(&spec, e->c.requires[r]);
      k += (size_t)snprintf(req + k, sizeof req - k, "%sMC-%d%s%s",
                            r ? " " : "", e->c.requires[r],
                            q && q->level != MC_LEVEL_MUST ? ":" : "",
                            q && q->level != MC_LEVEL_MUST
                                ? mc_spec_level_name(q->level)
                                : "");
    }
    mc_target_settings need;
    const mc_case *c = e->mutation_of ? &cases[e->mutation_of - 1].c : &e->c;
    if (mc_target_needs(&need, c->flags, err, sizeof err) < 0)
      snprintf(needs, sizeof needs, "? (%s)", err);
    else
      mc_target_settings_text(&need, needs, sizeof needs);
    printf("%-20s %s\n%-20s   %s\n%-20s   needs: %s\n", e->c.name, e->c.desc,
           "", req, "", needs[0] ? needs : "nothing");
  }
}

/* --repeat: each case's pass rate with its 95 % Wilson interval. */
static void print_rates(void) {
  printf("\npass rates over %d runs (95%% Wilson interval):\n", repeat);
  printf("  %-26s %7s %6s  %s\n", "case", "passed", "rate", "interval");
  for (size_t i = 0; i < n_cases; i++) {
    const entry *e = &cases[i];
    if (!e->run || e->runs == 0)
      continue;
    double lo, hi;
    mc_report_wilson(e->passes, e->runs, &lo, &hi);
    printf("  %-26s %3d/%-3d %5.1f%%  [%5.1f%%, %5.1f%%]\n", e->c.name,
           e->passes, e->runs, 100.0 * e->passes / e->runs, lo * 100,
           hi * 100);
  }
}

/* Forgets the verdicts of the last implementation (matrix mode). */
static void reset_cases(void) {
  for (size_t i = 0; i < n_cases; i++) {
    entry *e = &cases[i];
    e->v = V_NOTRUN;
    e->why[0] = '\0';
    e->secs = 0;
    e->server = -1;
    e->pcap[0] = '\0';
    e->runs = e->passes = e->fresh = 0;
    free(e->report);
    e->report = NULL;
  }
  n_servers = 0;
}

/* Runs the selected cases against |impl| (started, or at |server|):
 * plans, brings the servers up, runs, stops them, prints the counts.
 * Returns 0, 1 when a case failed, 2 on a setup error. */
static int run_suite(const char *server, size_t n_sel) {
  int start = impl.start[0] != '\0';
  /* The fixed server is probed even when no case can run on it. */
  if ((!start && server_for(&impl.settings, 0) < 0) || plan(start) < 0)
    return 2;
  printf("MyChat protocol v1 conformance (%s) against %s%s%s\n",
         spec_path, impl.name, impl.version[0] ? " " : "", impl.version);
  if (opts.impaired)
    printf("link impaired: %s (seed %" PRIu64 "%s)\n", link_text, opts.seed,
           repeat > 1 ? ", +1 each repetition" : "");
  fflush(stdout); /* before any error bring_up() prints */
  if (bring_up(start, server) < 0) {
    stop_servers();
    return 2;
  }
  if (CU_initialize_registry() != CUE_SUCCESS) {
    stop_servers();
    return 2;
  }
  CU_pSuite suite = NULL;
  char cur[24] = "";
  for (size_t i = 0; i < n_cases; i++) {
    entry *e = &cases[i];
    if (!e->run)
      continue;
    if (suite == NULL || strcmp(cur, e->suite) != 0) {
      snprintf(cur, sizeof cur, "%s", e->suite);
      suite = CU_add_suite(e->suite, NULL, NULL);
    }
    if (suite == NULL || CU_add_test(suite, e->c.name, test_case) == NULL) {
      CU_cleanup_registry();
      stop_servers();
      return 2;
    }
  }
  last_suite[0] = '\0';
  CU_run_all_tests();
  CU_cleanup_registry();
  stop_servers();
  size_t count[V_SKIPPED + 1] = {0};
  for (size_t i = 0; i < n_cases; i++)
    count[cases[i].v] += cases[i].run;
  /* The same counts as the JUnit file: every selected case is a case. */
  printf("\n%zu cases: %zu passed, %zu failed, %zu non-strict, %zu "
         "unsupported, %zu skipped\n",
         n_sel, count[V_PASS], count[V_FAIL], count[V_NONSTRICT],
         count[V_UNSUPPORTED], count[V_SKIPPED]);
  if (count[V_NONSTRICT] > 0)
    printf("(non-strict: only SHOULD requirements broken; %s)\n",
           strict ? "--strict counts them as failures"
                  : "--strict would count them as failures");
  if (opts.impaired)
    printf("the link, all runs, both directions: %" PRIu64 " datagrams, %"
           PRIu64 " lost, %" PRIu64 " duplicated, %" PRIu64 " reordered "
           "(each case only as its profile allows)\n",
           link_stats.offered, link_stats.dropped_loss,
           link_stats.duplicated, link_stats.reordered);
  if (repeat > 1)
    print_rates();
  return count[V_FAIL] > 0 || (strict && count[V_NONSTRICT] > 0);
}

/* A copy of this implementation's verdicts for the reports. */
static int snapshot(mc_report_impl *r, const char *statement) {
  mc_report_case *rc = calloc(n_cases ? n_cases : 1, sizeof *rc);
  if (rc == NULL)
    return -1;
  size_t n = 0;
  for (size_t i = 0; i < n_cases; i++) {
    const entry *e = &cases[i];
    if (!e->run)
      continue;
    mc_report_case *c = &rc[n++];
    c->name = e->c.name;
    c->suite = e->suite;
    c->desc = e->c.desc;
    c->requires = e->c.requires;
    c->n_requires = e->c.n_requires;
    c->verdict = verdict_names[e->v];
    c->detail = strdup(e->v == V_UNSUPPORTED || e->v == V_SKIPPED
                           ? e->why
                           : e->report ? e->report : "");
    c->secs = e->secs;
    c->link = opts.impaired ? e->link : "clean";
    c->link_why = e->link_cut ? e->c.impair_why : NULL;
    c->runs = e->runs;
    c->passes = e->passes;
  }
  r->name = strdup(impl.name);
  r->version = strdup(impl.version);
  r->statement = strdup(statement);
  r->cases = rc;
  r->n_cases = n;
  return 0;
}

static void snapshot_free(mc_report_impl *r) {
  for (size_t i = 0; i < r->n_cases; i++)
    free((char *)r->cases[i].detail);
  free((mc_report_case *)r->cases);
  free((char *)r->name);
  free((char *)r->version);
  free((char *)r->statement);
}

/* The statement files a --matrix file lists, one a line ('#' comments).
 * Returns how many, or -1 with a message printed. */
static int read_matrix(const char *path, char ***out) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, PROG ": --matrix %s: %s\n", path, strerror(errno));
    return -1;
  }
  char line[4096];
  int n = 0;
  char **list = NULL;
  while (fgets(line, sizeof line, f) != NULL) {
    char *l = line + strspn(line, " \t");
    l[strcspn(l, "\r\n")] = '\0';
    size_t k = strlen(l);
    while (k > 0 && (l[k - 1] == ' ' || l[k - 1] == '\t'))
      l[--k] = '\0';
    if (*l == '\0' || *l == '#')
      continue;
    char **nl = realloc(list, (size_t)(n + 1) * sizeof *nl);
    if (nl == NULL || (nl[n] = strdup(l)) == NULL) {
      fclose(f);
      fprintf(stderr, PROG ": out of memory\n");
      return -1;
    }
    list = nl;
    n++;
  }
  fclose(f);
  if (n == 0)
    fprintf(stderr, PROG ": --matrix %s: no statement file listed\n", path);
  *out = list;
  return n > 0 ? n : -1;
}

int main(int argc, char **argv) {
  const char *server = NULL, *dir = "captures", *filter = NULL,
             *junit = NULL, *impl_path = NULL, *server_flags = MC_CAP_STD_FLAGS,
             *json_path = NULL, *html_path = NULL, *matrix_path = NULL;
  int list = 0;
  opts.timeout_s = 5;
  opts.seed = 1;
  enum { O_VERSION = 256, O_STRICT, O_IMPL, O_SPEC, O_PCAP_DIR, O_JSON,
         O_REPORT, O_MATRIX, O_REPEAT };
  static const struct option lo[] = {
      {"server", required_argument, 0, 's'},
      {"impl", required_argument, 0, O_IMPL},
      {"matrix", required_argument, 0, O_MATRIX},
      {"spec", required_argument, 0, O_SPEC},
      {"strict", no_argument, 0, O_STRICT},
      {"captures", required_argument, 0, 'c'},
      {"list", no_argument, 0, 'l'},
      {"filter", required_argument, 0, 'f'},
      {"timeout", required_argument, 0, 't'},
      {"junit", required_argument, 0, 'j'},
      {"json", required_argument, 0, O_JSON},
      {"report", required_argument, 0, O_REPORT},
      {"repeat", required_argument, 0, O_REPEAT},
      {"server-flags", required_argument, 0, 'F'},
      {"loss", required_argument, 0, 'L'},
      {"dup", required_argument, 0, 'D'},
      {"reorder", required_argument, 0, 'R'},
      {"delay", required_argument, 0, 'd'},
      {"seed", required_argument, 0, 'S'},
      {"verbose", no_argument, 0, 'v'},
      {"pcap-dir", required_argument, 0, O_PCAP_DIR},
      {"help", no_argument, 0, 'h'},
      {"version", no_argument, 0, O_VERSION},
      {0, 0, 0, 0}};
  int c;
  int timeout_set = 0;
  int delay_set = 0;
  opterr = 0; /* our messages, in the style of every program */
  while ((c = getopt_long(argc, argv, ":hv", lo, NULL)) != -1) {
    switch (c) {
    case 'v': verbose = 1; break;
    case O_PCAP_DIR: pcap_dir = optarg; break;
    case 's': server = optarg; break;
    case O_IMPL: impl_path = optarg; break;
    case O_MATRIX: matrix_path = optarg; break;
    case O_SPEC: spec_path = optarg; break;
    case O_STRICT: strict = 1; break;
    case O_JSON: json_path = optarg; break;
    case O_REPORT: html_path = optarg; break;
    case O_REPEAT:
      repeat = atoi(optarg);
      if (repeat < 1 || repeat > 10000) {
        fprintf(stderr, PROG ": --repeat: '%s' is not 1..10000\n", optarg);
        return 2;
      }
      break;
    case 'c': dir = optarg; break;
    case 'l': list = 1; break;
    case 'f': filter = optarg; break;
    case 't':
      opts.timeout_s = atof(optarg);
      timeout_set = 1;
      if (!(opts.timeout_s > 0)) {
        fprintf(stderr, PROG ": --timeout: '%s' is not a positive number\n",
                optarg);
        return 2;
      }
      break;
    case 'j': junit = optarg; break;
    case 'F': server_flags = optarg; break;
    case 'L': opts.netem.loss = parse_prob("loss", optarg); break;
    case 'D': opts.netem.duplicate = parse_prob("dup", optarg); break;
    case 'R': opts.netem.reorder = parse_prob("reorder", optarg); break;
    case 'd':
      opts.netem.delay = (mc_tstamp)(atof(optarg) * 1000);
      delay_set = 1;
      break;
    case 'S': opts.seed = strtoull(optarg, NULL, 10); break;
    case 'h': usage(stdout); return 0;
    case O_VERSION:
      printf(PROG " " VERSION " (MyChat protocol version 1)\n");
      return 0;
    case ':':
      fprintf(stderr, PROG ": %s: needs a value\nTry '" PROG
              " --help' for usage.\n", argv[optind - 1]);
      return 2;
    default:
      fprintf(stderr, PROG ": %s: unknown option\nTry '" PROG
              " --help' for usage.\n", argv[optind - 1]);
      return 2;
    }
  }
  captures_dir = dir;
  char err[2048], spec_buf[4096];
  if (spec_path == NULL) {
    /* proto/ beside the captures directory: its parent's, spelled as
     * simply as the directory was ("captures": proto/PROTOCOL.md). */
    char parent[sizeof spec_buf - sizeof "/../proto/PROTOCOL.md"];
    snprintf(parent, sizeof parent, "%s", dir);
    size_t l = strlen(parent);
    while (l > 1 && parent[l - 1] == '/')
      parent[--l] = '\0';
    char *slash = strrchr(parent, '/');
    const char *base = slash ? slash + 1 : parent;
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
      snprintf(spec_buf, sizeof spec_buf, "%s/../proto/PROTOCOL.md", parent);
    else if (slash == NULL)
      snprintf(spec_buf, sizeof spec_buf, "proto/PROTOCOL.md");
    else
      snprintf(spec_buf, sizeof spec_buf, "%.*s/proto/PROTOCOL.md",
               (int)(slash - parent), parent);
    spec_path = spec_buf;
  }
  if (mc_spec_load(&spec, spec_path, err, sizeof err) < 0) {
    fprintf(stderr, PROG ": %s\n", err);
    return 2;
  }
  if (load_cases(dir) < 0 || n_cases == 0) {
    if (n_cases == 0)
      fprintf(stderr, PROG ": no cases in %s\n", dir);
    return 2;
  }
  /* Every case named on the command line must exist, even when others do:
   * a typo would otherwise leave that case silently unrun under a passing
   * verdict. */
  int unknown = 0;
  for (int a = optind; a < argc; a++) {
    size_t i = 0;
    while (i < n_cases && strcmp(cases[i].c.name, argv[a]) != 0)
      i++;
    if (i == n_cases)
      fprintf(stderr, "%s %s", unknown++ ? "" : PROG ": no case matches",
              argv[a]);
  }
  if (unknown) {
    fprintf(stderr, " (--list shows the cases)\n");
    return 2;
  }
  size_t n_sel = 0;
  for (size_t i = 0; i < n_cases; i++)
    n_sel += cases[i].run = selected(cases[i].c.name, filter, argc, argv);
  if (n_sel == 0) {
    fprintf(stderr, PROG ": no case matches%s%s", filter ? " --filter " : "",
            filter ? filter : "");
    for (int a = optind; a < argc; a++)
      fprintf(stderr, " %s", argv[a]);
    fprintf(stderr, " (--list shows the cases)\n");
    return 2;
  }
  if (list) {
    print_list();
    return 0;
  }
  char **statements = NULL;
  int n_impl = 1;
  if (matrix_path != NULL) {
    if (server != NULL || impl_path != NULL || junit != NULL) {
      fprintf(stderr, PROG ": --matrix runs the statements it lists: no "
              "--server, --impl or --junit with it\n");
      return 2;
    }
    n_impl = read_matrix(matrix_path, &statements);
    if (n_impl < 0)
      return 2;
  } else if (impl_path == NULL && server == NULL) {
    fprintf(stderr, PROG ": --server HOST:PORT, --impl FILE or --matrix "
            "FILE is required\n");
    usage(stderr);
    return 2;
  }
  /* Every statement is read before anything runs: a bad one is a usage
   * error, not a run cut short. */
  mc_target_impl *impls = calloc((size_t)n_impl, sizeof *impls);
  if (impls == NULL)
    return 2;
  for (int k = 0; k < n_impl; k++) {
    const char *path = statements ? statements[k] : impl_path;
    if (path == NULL) {
      if (mc_target_from_flags(&impls[k], server, server_flags, err,
                               sizeof err) < 0) {
        fprintf(stderr, PROG ": --server-flags: %s\n", err);
        { free(impls); return 2; }
      }
    } else if (mc_target_load(&impls[k], path, err, sizeof err) < 0) {
      fprintf(stderr, PROG ": %s\n", err);
      { free(impls); return 2; }
    } else if (server != NULL) {
      impls[k].start[0] = '\0'; /* a running server: no starting */
    }
  }
  if (check_output("junit", junit, 0) < 0 ||
      check_output("json", json_path, 0) < 0 ||
      check_output("report", html_path, 0) < 0 ||
      check_output("pcap-dir", pcap_dir, 1) < 0)
    { free(impls); return 2; }
  /* A reordered copy only skips the delay (netem's model): with no delay it
   * overtakes nothing and --reorder would silently do nothing. */
  if (opts.netem.reorder > 0 && !delay_set)
    opts.netem.delay = MC_CONFORM_REORDER_DELAY_US;
  opts.link = &link_stats;
  opts.impaired = opts.netem.loss > 0 || opts.netem.duplicate > 0 ||
                  opts.netem.reorder > 0 || opts.netem.delay > 0;
  if (opts.impaired && !timeout_set)
    opts.timeout_s = 20;
  if (mc_netem_config_check(&opts.netem) < 0) {
    fprintf(stderr, PROG ": bad impairment settings\n");
    { free(impls); return 2; }
  }
  if (opts.impaired)
    snprintf(link_text, sizeof link_text,
             "loss %g%%, duplicate %g%%, reorder %g%%, delay %g ms%s",
             opts.netem.loss * 100, opts.netem.duplicate * 100,
             opts.netem.reorder * 100, (double)opts.netem.delay / 1000,
             opts.netem.reorder > 0 && !delay_set
                 ? " (--reorder's default: reordered datagrams overtake "
                   "delayed ones)"
                 : "");
  mc_rng_seed(&tag_rng, (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20) ^
                            mc_udp_now_us());
  use_color = isatty(1);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGHUP, on_signal);

  mc_report_impl *snaps = calloc((size_t)n_impl, sizeof *snaps);
  int rv = 0;
  for (int k = 0; k < n_impl && snaps != NULL; k++) {
    impl = impls[k];
    impl_index = n_impl > 1 ? k + 1 : 0;
    if (k > 0) {
      reset_cases();
      printf("\n");
    }
    int r = run_suite(impl.start[0] ? NULL : server ? server : impl.server,
                      n_sel);
    if (r == 2) {
      rv = 2;
      break;
    }
    rv |= r;
    if (snapshot(&snaps[k], statements ? statements[k]
                            : impl_path ? impl_path : "(none: --server)") < 0) {
      rv = 2;
      break;
    }
  }
  if (rv != 2 && n_impl > 1) {
    printf("\nmatrix:\n");
    for (int k = 0; k < n_impl; k++) {
      int cnt[V_SKIPPED + 1] = {0};
      for (size_t i = 0; i < snaps[k].n_cases; i++)
        for (int v = 0; v <= V_SKIPPED; v++)
          cnt[v] += strcmp(snaps[k].cases[i].verdict, verdict_names[v]) == 0;
      printf("  %-44s %3d passed, %3d failed, %3d non-strict, %3d "
             "unsupported, %3d skipped\n", snaps[k].name, cnt[V_PASS],
             cnt[V_FAIL], cnt[V_NONSTRICT], cnt[V_UNSUPPORTED],
             cnt[V_SKIPPED]);
    }
  }
  mc_report_meta meta = {.spec_path = spec_path,
                         .link = opts.impaired ? link_text : "clean",
                         .strict = strict,
                         .repeat = repeat};
  const char *outs[2] = {json_path, html_path};
  for (int h = 0; h < 2 && rv != 2; h++)
    if (outs[h] != NULL) {
      if (mc_report_write(outs[h], h, &spec, &meta, snaps, (size_t)n_impl,
                          err, sizeof err) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        rv = 2;
      } else {
        printf("%s report: %s\n", h ? "HTML" : "JSON", outs[h]);
      }
    }
  if (rv != 2 && junit != NULL && write_junit(junit) < 0) {
    fprintf(stderr, PROG ": %s: cannot write\n", junit);
    rv = 2;
  }
  for (int k = 0; snaps != NULL && k < n_impl; k++)
    snapshot_free(&snaps[k]);
  free(snaps);
  for (int k = 0; statements != NULL && k < n_impl; k++)
    free(statements[k]);
  free(statements);
  free(impls);
  reset_cases();
  for (size_t i = 0; i < n_cases; i++) {
    free(cases[i].exchange);
    if (!cases[i].mutation_of)
      mc_case_free(&cases[i].c);
  }
  free(cases);
  mc_evidence_free(&evidence);
  mc_spec_free(&spec);
  return rv;
}
