/*
 * sim_threshold.c: pass/fail criteria of a run (--threshold), in the spirit
 * of k6's thresholds, and the run's verdict and exit status.
 *
 * Grammar (spaces around the operator are allowed):
 *
 *   THRESHOLD = METRIC OP NUMBER [UNIT]
 *   OP        = "<" | "<=" | ">" | ">="
 *   METRIC    = "p" N | "p(" N ")" | "mean" | "max"      live latency
 *             | "backlog_p" N | "backlog_mean" | "backlog_max"
 *             | "delivery"       % of owed deliveries that arrived
 *             | "connect_fail"   % of finished handshakes that failed
 *             | "retrans"        client transmissions per reliable body
 *
 * N is a percentile, 0 < N <= 100 (p99, p99.9). Latencies take us, ms or s
 * (a bare number is ms, as in k6); percentages take % (a bare number is a
 * percent); retrans is a bare ratio. A threshold on a metric with nothing
 * measured (no delivery, no handshake) fails: a verdict that cannot fail
 * would say nothing.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

typedef struct {
  const char *name;
  sim_metric metric;
} metric_name;

static const metric_name METRICS[] = {
    {"mean", SIM_M_LAT_MEAN},
    {"max", SIM_M_LAT_MAX},
    {"backlog_mean", SIM_M_BACKLOG_MEAN},
    {"backlog_max", SIM_M_BACKLOG_MAX},
    {"delivery", SIM_M_DELIVERY},
    {"connect_fail", SIM_M_CONNECT_FAIL},
    {"retrans", SIM_M_RETRANS},
};

#define N_METRICS (sizeof METRICS / sizeof METRICS[0])

typedef enum { U_MS, U_PCT, U_RATIO } unit_kind;

static unit_kind metric_unit(sim_metric m) {
  switch (m) {
  case SIM_M_DELIVERY:
  case SIM_M_CONNECT_FAIL:
    return U_PCT;
  case SIM_M_RETRANS:
    return U_RATIO;
  default:
    return U_MS;
  }
}

static const char *UNIT_WORD[] = {"a duration like 500ms or 1.5s",
                                  "a percentage like 99.9%",
                                  "a plain number like 1.2"};

/* The percentile after the "p" of a metric name, "99" or "(99.9)", as a
 * quantile (0.99, 0.999); returns 0 or -1. */
static int parse_percentile(const char *s, size_t len, double *q) {
  char buf[32];
  int paren = len >= 2 && s[0] == '(' && s[len - 1] == ')';
  if (paren) {
    s++;
    len -= 2;
  }
  if (len == 0 || len >= sizeof buf)
    return -1;
  memcpy(buf, s, len);
  buf[len] = '\0';
  char *end;
  errno = 0;
  double v = strtod(buf, &end);
  if (errno || *end || !(v > 0 && v <= 100))
    return -1;
  *q = v / 100;
  return 0;
}

/* Returns 0, -1 for an unknown metric, -2 for a bad percentile. */
static int parse_metric(const char *s, size_t len, sim_threshold *t) {
  for (size_t i = 0; i < N_METRICS; i++)
    if (strlen(METRICS[i].name) == len &&
        memcmp(METRICS[i].name, s, len) == 0) {
      t->metric = METRICS[i].metric;
      return 0;
    }
  static const char BACKLOG[] = "backlog_p";
  size_t bl = sizeof BACKLOG - 1;
  if (len > bl && memcmp(s, BACKLOG, bl) == 0) {
    t->metric = SIM_M_BACKLOG_P;
    return parse_percentile(s + bl, len - bl, &t->q) < 0 ? -2 : 0;
  }
  if (len > 1 && s[0] == 'p') {
    t->metric = SIM_M_LAT_P;
    return parse_percentile(s + 1, len - 1, &t->q) < 0 ? -2 : 0;
  }
  return -1;
}

/* The limit and its unit, converted to the metric's unit (ms, percent or a
 * ratio). */
static int parse_limit(const char *s, unit_kind u, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || !isfinite(v) || v < 0)
    return -1;
  while (*end == ' ')
    end++;
  if (u == U_MS) {
    if (*end == '\0' || strcmp(end, "ms") == 0)
      *out = v;
    else if (strcmp(end, "s") == 0)
      *out = v * 1000;
    else if (strcmp(end, "us") == 0)
      *out = v / 1000;
    else
      return -1;
    return 0;
  }
  if (u == U_PCT && strcmp(end, "%") == 0)
    end++;
  if (*end != '\0' || (u == U_PCT && v > 100))
    return -1;
  *out = v;
  return 0;
}

int sim_threshold_parse(const char *text, sim_threshold *t) {
  memset(t, 0, sizeof *t);
  if (strlen(text) >= sizeof t->text) {
    fprintf(stderr, "mychat-sim: --threshold '%s': too long\n", text);
    return -1;
  }
  snprintf(t->text, sizeof t->text, "%s", text);
  const char *op = strpbrk(text, "<>");
  if (op == NULL) {
    fprintf(stderr,
            "mychat-sim: --threshold '%s': no operator (expected METRIC<VALUE, "
            "<=, > or >=, like 'p99<500ms')\n",
            text);
    return -1;
  }
  size_t mlen = (size_t)(op - text);
  while (mlen > 0 && text[mlen - 1] == ' ')
    mlen--;
  const char *m = text + strspn(text, " ");
  mlen -= (size_t)(m - text);
  int rv = parse_metric(m, mlen, t);
  if (rv == -2) {
    fprintf(stderr,
            "mychat-sim: --threshold '%s': bad percentile '%.*s' (expected "
            "p50, p99, p99.9 or p(99): above 0, at most 100)\n",
            text, (int)mlen, m);
    return -1;
  }
  if (rv < 0) {
    fprintf(stderr,
            "mychat-sim: --threshold '%s': unknown metric '%.*s' (expected "
            "pN, mean, max, backlog_pN, backlog_mean, backlog_max, delivery, "
            "connect_fail or retrans)\n",
            text, (int)mlen, m);
    return -1;
  }
  int eq = op[1] == '=';
  t->op = op[0] == '<' ? (eq ? SIM_OP_LE : SIM_OP_LT)
                       : (eq ? SIM_OP_GE : SIM_OP_GT);
  const char *v = op + 1 + eq;
  v += strspn(v, " ");
  unit_kind u = metric_unit(t->metric);
  if (parse_limit(v, u, &t->limit) < 0) {
    fprintf(stderr,
            "mychat-sim: --threshold '%s': bad value '%s' (%.*s takes %s)\n",
            text, v, (int)mlen, m, UNIT_WORD[u]);
    return -1;
  }
  return 0;
}

int sim_threshold_default(sim_config *cfg) {
  for (int i = 0; i < cfg->n_thr; i++)
    if (cfg->thr[i].metric == SIM_M_CONNECT_FAIL)
      return 0;
  if (cfg->n_thr == SIM_THRESHOLDS_MAX)
    return -1;
  sim_threshold *t = &cfg->thr[cfg->n_thr++];
  if (sim_threshold_parse(SIM_CONNECT_FAIL_DEFAULT, t) < 0)
    return -1;
  t->is_default = 1;
  return 0;
}

/* Measures |m| on |r|: returns 1 and sets |*v|, or 0 when nothing was
 * measured. */
static int measure(const sim_threshold *t, const sim_result *r, double *v) {
  const sim_hist *h = t->metric == SIM_M_BACKLOG_P ||
                              t->metric == SIM_M_BACKLOG_MEAN ||
                              t->metric == SIM_M_BACKLOG_MAX
                          ? &r->lat_backlog
                          : &r->lat_live;
  uint64_t expected = 0, lost = 0;
  for (int k = 0; k < SIM_K_N; k++) {
    expected += r->k[k].expected;
    lost += r->k[k].lost;
  }
  uint64_t hs = r->connects + r->connect_failures;
  switch (t->metric) {
  case SIM_M_LAT_P:
  case SIM_M_BACKLOG_P:
    *v = (double)sim_hist_quantile(h, t->q) / 1000;
    return h->n > 0;
  case SIM_M_LAT_MEAN:
  case SIM_M_BACKLOG_MEAN:
    *v = h->n ? h->sum / (double)h->n / 1000 : 0;
    return h->n > 0;
  case SIM_M_LAT_MAX:
  case SIM_M_BACKLOG_MAX:
    *v = h->n ? (double)h->max / 1000 : 0;
    return h->n > 0;
  case SIM_M_DELIVERY:
    *v = expected ? 100.0 * (double)(expected - lost) / (double)expected : 0;
    return expected > 0;
  case SIM_M_CONNECT_FAIL:
    *v = hs ? 100.0 * (double)r->connect_failures / (double)hs : 0;
    return hs > 0;
  case SIM_M_RETRANS:
    *v = r->client_tx_first ? (double)(r->client_tx_first +
                                       r->client_tx_retrans) /
                                  (double)r->client_tx_first
                            : 0;
    return r->client_tx_first > 0;
  }
  return 0;
}

static int holds(const sim_threshold *t, double v) {
  switch (t->op) {
  case SIM_OP_LT: return v < t->limit;
  case SIM_OP_LE: return v <= t->limit;
  case SIM_OP_GT: return v > t->limit;
  case SIM_OP_GE: return v >= t->limit;
  }
  return 0;
}

void sim_verdict_eval(const sim_config *cfg, sim_result *r) {
  r->n_thr_failed = 0;
  for (int i = 0; i < cfg->n_thr; i++) {
    sim_threshold_result *tr = &r->thr[i];
    int got = measure(&cfg->thr[i], r, &tr->value);
    tr->state = !got                           ? SIM_THR_NO_DATA
                : holds(&cfg->thr[i], tr->value) ? SIM_THR_PASS
                                                 : SIM_THR_FAIL;
    if (tr->state != SIM_THR_PASS)
      r->n_thr_failed++;
  }
}

int sim_verdict_exit(const sim_result *r) {
  if (!sim_result_ok(r))
    return SIM_EXIT_VIOLATION;
  if (r->connects == 0)
    return SIM_EXIT_NO_CONNECT;
  if (r->n_thr_failed > 0)
    return SIM_EXIT_THRESHOLD;
  return SIM_EXIT_OK;
}

void sim_threshold_value(const sim_threshold *t, double v, char *buf,
                         size_t cap) {
  switch (metric_unit(t->metric)) {
  case U_MS: snprintf(buf, cap, "%.1f ms", v); break;
  case U_PCT: snprintf(buf, cap, "%.3f%%", v); break;
  case U_RATIO: snprintf(buf, cap, "%.3f", v); break;
  }
}

const char *sim_threshold_state_name(int state) {
  return state == SIM_THR_PASS   ? "ok"
         : state == SIM_THR_FAIL ? "FAILED"
                                 : "FAILED (nothing measured)";
}

const char *sim_threshold_unit(const sim_threshold *t) {
  static const char *const NAME[] = {"ms", "%", ""};
  return NAME[metric_unit(t->metric)];
}
