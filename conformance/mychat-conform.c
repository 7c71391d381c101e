/*
 * mychat-conform: the MyChat conformance suite.
 *
 *   mychat-conform --server HOST:PORT [options] [CASE...]
 *
 * Replays the cases of captures/ (recorded from the reference server by
 * mc-record) against a server and checks its answers field by field
 * (mc_replay.c; the rules are in conformance/README.md). Cases run as CUnit
 * tests, one suite per case-name prefix (hs, sess, msg, ...), registered at
 * run time from the .case files found; the "mutation" suite sends hostile
 * variants of captured datagrams while a normal case runs. Output is a
 * tree with a mark per case and the MC-n it checks; --junit writes JUnit
 * XML. Exit status: 0 all passed, 1 a case failed, 2 usage or setup error.
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mc_capture.h"
#include "mc_codec.h"
#include "mc_error.h"
#include "mc_replay.h"
#include "mc_rng.h"
#include "mc_target.h"
#include "mc_udp.h"

#define PROG "mychat-conform"
#define MUTATION_REQUIRES "MC-3 MC-26 MC-30 MC-58 MC-60 MC-61"
#define REPORT_MAX 8192
#define MUT_SOURCES 12           /* client datagrams mutated per case */
#define MUT_MAX 96
#define PROBE_MS 2000            /* nothing answers the probe: give up */

typedef struct {
  mc_case c;
  char suite[24];
  int run;                       /* selected */
  int skipped;                   /* selected but not runnable here */
  const char *skip_why;
  int passed;
  double secs;
  char *report;
} entry;

static entry *cases;
static size_t n_cases;

/* The cases the mutation suite builds on: a few with many session
 * datagrams, run for real while their mutants fly. */
static const char *const mutation_bases[] = {"msg-direct", "grp-requests"};
#define N_MUTATION (sizeof mutation_bases / sizeof mutation_bases[0])
static char mutation_names[N_MUTATION][80]; /* CUnit keeps the pointers */
static entry mutation_runs[N_MUTATION];     /* their results */
static size_t n_mutation_runs;
static mc_replay_opts opts;
static const char *server_flags = MC_CAP_STD_FLAGS;
static char last_suite[24];
static int use_color;

static void usage(FILE *f) {
  fprintf(f,
          "usage: " PROG " --server HOST:PORT [options] [CASE...]\n"
          "  --server HOST:PORT  the server under test (loopback)\n"
          "  --captures DIR      cases to run (default: captures)\n"
          "  --list              list the cases and the MC-n each checks\n"
          "  --filter PATTERN    only cases whose name matches (glob or "
          "substring)\n"
          "  --timeout SECONDS   longest wait for one expected datagram "
          "(default 5)\n"
          "  --junit FILE        also write JUnit XML\n"
          "  --server-flags STR  the flags the server runs with: cases that\n"
          "                      need others are skipped (default \"%s\")\n"
          "  --loss P, --dup P, --reorder P   impair the link (P: 0.2 or "
          "20%%)\n"
          "  --delay MS          impair the link: one-way delay\n"
          "  --seed N            impairment and mutation seed (default 1)\n"
          "  -h, --help          this help\n"
          "Exit status: 0 when every case passed, 1 when one failed, 2 on "
          "errors.\n",
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

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const entry *)a)->c.name, ((const entry *)b)->c.name);
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
    if (n_cases == cap) {
      cap = cap ? cap * 2 : 64;
      entry *n = realloc(cases, cap * sizeof *n);
      if (n == NULL) {
        rv = -1;
        break;
      }
      cases = n;
    }
    entry *e = &cases[n_cases];
    memset(e, 0, sizeof *e);
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
  if (n_cases > 0)
    qsort(cases, n_cases, sizeof *cases, cmp_entry);
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

static const char *mark(int ok) {
  if (use_color)
    return ok ? "\033[32m\xe2\x9c\x93\033[0m" : "\033[31m\xe2\x9c\x97\033[0m";
  return ok ? "\xe2\x9c\x93" : "\xe2\x9c\x97";
}

static void print_suite(const char *suite) {
  if (strcmp(suite, last_suite) == 0)
    return;
  snprintf(last_suite, sizeof last_suite, "%s", suite);
  printf("  %s\n", suite);
}

static void print_result(const entry *e, const char *name, const char *desc,
                         const char *req) {
  print_suite(e->suite);
  printf("    %s %s: %s (%.2f s)\n", mark(e->passed), name, desc, e->secs);
  printf("        %s\n", req);
  if (!e->passed) {
    const char *s = e->report;
    while (s != NULL && *s) {
      const char *nl = strchr(s, '\n');
      int n = nl ? (int)(nl - s) : (int)strlen(s);
      printf("        -> %.*s\n", n, s);
      s = nl ? nl + 1 : NULL;
    }
  }
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
    /* The token follows the fixed64 session id: prefix, 0x09, 8 bytes,
     * 0x12, 0x10, then 16 bytes. */
    if (d[4] == 0x09 && d[13] == 0x12 && d[14] == MC_TOKEN_LEN) {
      d[15] ^= 0x01;
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

static void run_entry(entry *e, int with_mutants) {
  char report[REPORT_MAX];
  new_tag(opts.tag);
  mut_job *job = NULL;
  pthread_t th;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (with_mutants) {
    job = calloc(1, sizeof *job);
    if (job != NULL) {
      job->c = &e->c;
      if (pthread_create(&th, NULL, mutate, job) != 0) {
        free(job);
        job = NULL;
      }
    }
  }
  int rv = mc_replay_run(&e->c, &opts, report, sizeof report);
  if (rv < 0 && report[0] == '\0')
    snprintf(report, sizeof report, "could not run: %s\n", mc_strerror(rv));
  size_t rl = strlen(report);
  if (job != NULL) {
    pthread_join(th, NULL);
    if (job->bad) {
      snprintf(report + rl, sizeof report - rl,
               "mutants (%d sent, %d bad answers):\n", job->sent, job->bad);
      rl = strlen(report);
      snprintf(report + rl, sizeof report - rl, "%.4000s", job->report);
    }
    else if (job->sent == 0)
      snprintf(report + rl, sizeof report - rl,
               "no session datagram in the capture to mutate\n");
    rv = rv != 0 || job->bad || job->sent == 0;
    free(job);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  e->secs = (double)(t1.tv_sec - t0.tv_sec) +
            (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  e->passed = rv == 0;
  free(e->report);
  e->report = strdup(report);
}

static void test_case(void) {
  CU_pTest t = CU_get_current_test();
  const char *name = t->pName;
  int mut = strncmp(name, "mutation-", 9) == 0;
  entry *e = find_entry(mut ? name + 9 : name);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  char req[400];
  requires_text(&e->c, req, sizeof req);
  if (mut) {
    /* A mutation test reports under its own name, in suite "mutation". */
    entry *m = &mutation_runs[n_mutation_runs++];
    *m = *e;
    snprintf(m->suite, sizeof m->suite, "mutation");
    snprintf(m->c.name, sizeof m->c.name, "%s", name);
    m->report = NULL;
    run_entry(m, 1);
    snprintf(m->c.desc, sizeof m->c.desc, "hostile variants of %s's "
             "datagrams, with the case itself running", e->c.name);
    print_result(m, name, m->c.desc, MUTATION_REQUIRES);
    CU_ASSERT_TRUE(m->passed);
    return;
  }
  run_entry(e, 0);
  print_result(e, e->c.name, e->c.desc, req);
  CU_ASSERT_TRUE(e->passed);
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

typedef struct {
  char suite[24];
  char name[80];
  int passed, skipped;
  double secs;
  char *report;
  char req[400];
} result;

static result *results;
static size_t n_results;

static void add_result(const entry *e, const char *name, const char *req) {
  result *r = &results[n_results++];
  snprintf(r->suite, sizeof r->suite, "%s", e->suite);
  snprintf(r->name, sizeof r->name, "%s", name);
  r->passed = e->passed;
  r->skipped = e->skipped;
  r->secs = e->secs;
  r->report = e->report;
  snprintf(r->req, sizeof r->req, "%s", req);
}

static int write_junit(const char *path) {
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return -1;
  size_t fails = 0, skips = 0;
  double total = 0;
  for (size_t i = 0; i < n_results; i++) {
    fails += !results[i].passed && !results[i].skipped;
    skips += results[i].skipped;
    total += results[i].secs;
  }
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<testsuites name=\"" PROG "\" tests=\"%zu\" failures=\"%zu\" "
             "skipped=\"%zu\" time=\"%.3f\">\n",
          n_results, fails, skips, total);
  for (size_t i = 0; i < n_results;) {
    size_t k = i, sf = 0, ss = 0;
    double st = 0;
    while (k < n_results && strcmp(results[k].suite, results[i].suite) == 0) {
      sf += !results[k].passed && !results[k].skipped;
      ss += results[k].skipped;
      st += results[k].secs;
      k++;
    }
    fprintf(f, "  <testsuite name=\"%s\" tests=\"%zu\" failures=\"%zu\" "
               "skipped=\"%zu\" time=\"%.3f\">\n",
            results[i].suite, k - i, sf, ss, st);
    for (; i < k; i++) {
      const result *r = &results[i];
      fprintf(f, "    <testcase classname=\"%s\" name=\"%s\" time=\"%.3f\">\n",
              r->suite, r->name, r->secs);
      fprintf(f, "      <properties><property name=\"requires\" "
                 "value=\"%s\"/></properties>\n", r->req);
      if (r->skipped) {
        fprintf(f, "      <skipped message=\"");
        xml_text(f, r->report);
        fprintf(f, "\"/>\n");
      } else if (!r->passed) {
        fprintf(f, "      <failure message=\"conformance failure\">");
        xml_text(f, r->report);
        fprintf(f, "</failure>\n");
      }
      fprintf(f, "    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n");
  }
  fprintf(f, "</testsuites>\n");
  return fclose(f) == 0 ? 0 : -1;
}

/* ---- main ---- */

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

/* Refuses, before anything runs, an output path that could not be
 * written at the end: a file whose directory is missing or read-only, or
 * a directory (|is_dir|) that cannot be created or written. */
static int check_output(const char *opt, const char *path, int is_dir) {
  if (path == NULL)
    return 0;
  if (is_dir) {
    if (mkdir(path, 0777) < 0 && errno != EEXIST) {
      fprintf(stderr, PROG ": --%s %s: %s\n", opt, path, strerror(errno));
      return -1;
    }
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
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
      fprintf(stderr, PROG ": --%s %s: is a directory\n", opt, path);
      return -1;
    }
    if (access(path, F_OK) == 0 ? access(path, W_OK) < 0
                                : access(dir, W_OK) < 0) {
      fprintf(stderr, PROG ": --%s %s: %s\n", opt, path, strerror(errno));
      return -1;
    }
    return 0;
  }
  if (access(path, W_OK) < 0) {
    fprintf(stderr, PROG ": --%s %s: %s\n", opt, path, strerror(errno));
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *server = NULL, *dir = "captures", *filter = NULL,
             *junit = NULL;
  int list = 0;
  opts.timeout_s = 5;
  opts.seed = 1;
  static const struct option lo[] = {
      {"server", required_argument, 0, 's'},
      {"captures", required_argument, 0, 'c'},
      {"list", no_argument, 0, 'l'},
      {"filter", required_argument, 0, 'f'},
      {"timeout", required_argument, 0, 't'},
      {"junit", required_argument, 0, 'j'},
      {"server-flags", required_argument, 0, 'F'},
      {"loss", required_argument, 0, 'L'},
      {"dup", required_argument, 0, 'D'},
      {"reorder", required_argument, 0, 'R'},
      {"delay", required_argument, 0, 'd'},
      {"seed", required_argument, 0, 'S'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  int c;
  int timeout_set = 0;
  while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
    switch (c) {
    case 's': server = optarg; break;
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
    case 'd': opts.netem.delay = (mc_tstamp)(atof(optarg) * 1000); break;
    case 'S': opts.seed = strtoull(optarg, NULL, 10); break;
    case 'h': usage(stdout); return 0;
    default:
      fprintf(stderr, "Try '" PROG " --help' for usage.\n");
      return 2;
    }
  }
  if (load_cases(dir) < 0 || n_cases == 0) {
    if (n_cases == 0)
      fprintf(stderr, PROG ": no cases in %s\n", dir);
    return 2;
  }
  size_t n_sel = 0;
  for (size_t i = 0; i < n_cases; i++)
    n_sel += cases[i].run = selected(cases[i].c.name, filter, argc, argv);
  for (size_t k = 0; k < N_MUTATION; k++) {
    char name[80];
    snprintf(name, sizeof name, "mutation-%s", mutation_bases[k]);
    n_sel += selected(name, filter, argc, argv);
  }
  if (n_sel == 0) {
    fprintf(stderr, PROG ": no case matches%s%s", filter ? " --filter " : "",
            filter ? filter : "");
    for (int a = optind; a < argc; a++)
      fprintf(stderr, " %s", argv[a]);
    fprintf(stderr, " (--list shows the cases)\n");
    return 2;
  }
  if (list) {
    for (size_t i = 0; i < n_cases; i++) {
      char req[400];
      requires_text(&cases[i].c, req, sizeof req);
      if (cases[i].run)
        printf("%-20s %s\n%-20s   %s\n%-20s   server: %s\n", cases[i].c.name,
               cases[i].c.desc, "", req, "", cases[i].c.flags);
    }
    return 0;
  }
  if (server == NULL) {
    fprintf(stderr, PROG ": --server HOST:PORT is required\n");
    usage(stderr);
    return 2;
  }
  char err[256];
  if (mc_udp_parse(server, &opts.server, &opts.server_len, err, sizeof err) <
      0) {
    fprintf(stderr, PROG ": %s\n", err);
    return 2;
  }
  if (check_output("junit", junit, 0) < 0)
    return 2;
  int probe = mc_target_probe((const struct sockaddr *)&opts.server,
                              opts.server_len, PROBE_MS, err, sizeof err);
  if (probe < 0) {
    fprintf(stderr, PROG ": %s\n", err);
    return 2;
  }
  if (probe > 0)
    fprintf(stderr, PROG ": warning: %s; running the cases anyway\n", err);
  opts.impaired = opts.netem.loss > 0 || opts.netem.duplicate > 0 ||
                  opts.netem.reorder > 0 || opts.netem.delay > 0;
  if (opts.impaired && !timeout_set)
    opts.timeout_s = 20;
  if (mc_netem_config_check(&opts.netem) < 0) {
    fprintf(stderr, PROG ": bad impairment settings\n");
    return 2;
  }
  mc_rng_seed(&tag_rng, (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20) ^
                            mc_udp_now_us());
  use_color = isatty(1);

  results = calloc(n_cases * 2 + 4, sizeof *results);
  if (results == NULL || CU_initialize_registry() != CUE_SUCCESS)
    return 2;
  size_t n_skipped = 0;
  CU_pSuite suite = NULL;
  char cur[24] = "";
  for (size_t i = 0; i < n_cases; i++) {
    entry *e = &cases[i];
    if (!e->run)
      continue;
    if (optind == argc && strcmp(e->c.flags, server_flags) != 0) {
      e->skipped = 1;
      e->skip_why = "needs other server flags";
    } else if (opts.impaired && !e->c.impair_ok) {
      e->skipped = 1;
      e->skip_why = "not under impairment";
    }
    if (e->skipped) {
      n_skipped++;
      continue;
    }
    if (suite == NULL || strcmp(cur, e->suite) != 0) {
      snprintf(cur, sizeof cur, "%s", e->suite);
      suite = CU_add_suite(e->suite, NULL, NULL);
    }
    if (suite == NULL || CU_add_test(suite, e->c.name, test_case) == NULL)
      return 2;
  }
  if (!opts.impaired) {
    suite = NULL;
    for (size_t k = 0; k < N_MUTATION; k++) {
      char *name = mutation_names[k];
      snprintf(name, sizeof mutation_names[k], "mutation-%s",
               mutation_bases[k]);
      entry *e = find_entry(mutation_bases[k]);
      if (e == NULL || !selected(name, filter, argc, argv) ||
          strcmp(e->c.flags, server_flags) != 0)
        continue;
      if (suite == NULL)
        suite = CU_add_suite("mutation", NULL, NULL);
      if (suite == NULL || CU_add_test(suite, name, test_case) == NULL)
        return 2;
    }
  }
  printf("MyChat protocol v1 conformance (proto/PROTOCOL.md) against %s\n",
         server);
  if (opts.impaired)
    printf("link impaired: loss %.0f%%, duplicate %.0f%%, reorder %.0f%%, "
           "delay %.0f ms (seed %" PRIu64 ")\n",
           opts.netem.loss * 100, opts.netem.duplicate * 100,
           opts.netem.reorder * 100, (double)opts.netem.delay / 1000,
           opts.seed);
  CU_run_all_tests();
  unsigned ran = CU_get_number_of_tests_run();
  unsigned failed = CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  for (size_t i = 0; i < n_cases; i++) {
    char req[400];
    requires_text(&cases[i].c, req, sizeof req);
    if (cases[i].skipped) {
      free(cases[i].report);
      cases[i].report = strdup(cases[i].skip_why);
      add_result(&cases[i], cases[i].c.name, req);
    } else if (cases[i].run && cases[i].report != NULL) {
      add_result(&cases[i], cases[i].c.name, req);
    }
  }
  for (size_t i = 0; i < n_mutation_runs; i++)
    add_result(&mutation_runs[i], mutation_runs[i].c.name, MUTATION_REQUIRES);
  /* The same counts as the JUnit file: a skipped case is a case. */
  printf("\n%zu cases: %u passed, %u failed, %zu skipped\n", ran + n_skipped,
         ran - failed, failed, n_skipped);
  if (n_skipped > 0)
    printf("(skipped: cases that need other server flags than \"%s\"%s)\n",
           server_flags, opts.impaired ? " or a clean link" : "");
  int rv = failed ? 1 : 0;
  if (junit != NULL && write_junit(junit) < 0) {
    fprintf(stderr, PROG ": %s: cannot write\n", junit);
    rv = 2;
  }
  for (size_t i = 0; i < n_cases; i++) {
    free(cases[i].report);
    mc_case_free(&cases[i].c);
  }
  for (size_t i = 0; i < n_mutation_runs; i++)
    free(mutation_runs[i].report);
  free(cases);
  free(results);
  return rv;
}
