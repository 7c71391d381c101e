/*
 * sim_html.c: mychat-sim's --html report.
 *
 * One self-contained file, as a k6 or Tsung user expects from a load test
 * report: the verdict and the thresholds first, a row of key figures, then
 * full-width charts over time (latency percentiles, messages sent,
 * deliveries, clients connected, delivery so far) on which the phases, the
 * drain, network changes and offline periods are marked, the latency CDF,
 * the counters, and the whole configuration (the same object the JSON
 * holds, sim_json_config). Inline CSS and inline SVG drawn here; no
 * scripts, no fonts, nothing fetched. Hovering a point shows its value
 * through SVG <title>, which needs no script.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim_json.h"

/* Every chart has the same geometry; the page scales it to its width. */
#define CW 1200
#define CH 250
#define ML 72
#define MR 24
#define MT 34 /* room for the phase labels above the plot */
#define MB 50 /* tick labels, the legend and the axis label below */

#define C_P50 "#1f77b4"
#define C_P95 "#ff7f0e"
#define C_P99 "#d62728"
#define C_MAX "#999999"
#define C_SENT "#1f77b4"
#define C_DELIV "#2ca02c"
#define C_ONLINE "#17becf"
#define C_DPCT "#9467bd"
#define C_NET "#e377c2"
#define C_OFF "#d62728"

typedef struct {
  FILE *f;
  double x0, x1, y0, y1;     /* data range; y0/y1 are log10 when log_y */
  int log_y;
  int log_x;                 /* x values are log10 already: label 10^x */
} chart;

static double cx(const chart *c, double x) {
  return ML + (x - c->x0) / (c->x1 - c->x0) * (CW - ML - MR);
}

static double cy(const chart *c, double y) {
  if (c->log_y)
    y = log10(y > 0 ? y : pow(10, c->y0));
  return CH - MB - (y - c->y0) / (c->y1 - c->y0) * (CH - MT - MB);
}

static void esc(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

/* printf, then HTML-escaped. */
static void vescf(FILE *f, const char *fmt, va_list ap) {
  char buf[512];
  vsnprintf(buf, sizeof buf, fmt, ap);
  esc(f, buf);
}

static void escf(FILE *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vescf(f, fmt, ap);
  va_end(ap);
}

/* Short tick labels: 0.5, 92.5, 1500, 120k, 3.2M. */
static void num_label(FILE *f, double v) {
  if (fabs(v) >= 1e6)
    fprintf(f, "%.3gM", v / 1e6);
  else if (fabs(v) >= 1e4)
    fprintf(f, "%.3gk", v / 1e3);
  else
    fprintf(f, "%.4g", v);
}

/* 1, 2 or 5 times a power of ten, at least |x|. */
static double nice(double x) {
  if (x <= 0)
    return 1;
  double p = pow(10, floor(log10(x)));
  double m = x / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/* The |i|-th tick of a log axis over decades [lo, hi] (log10): 1, 2 and 5
 * times each power of ten while there are at most three decades, the
 * powers alone beyond. Returns 0 past the last. */
static int log_tick(double lo, double hi, int i, double *v) {
  static const int M[] = {1, 2, 5};
  int per = hi - lo > 3 ? 1 : 3;
  for (int k = 0;; k++) {
    int d = (int)floor(lo) + k / per;
    if (d > (int)ceil(hi))
      return 0;
    double x = M[k % per] * pow(10, d);
    if (log10(x) < lo - 1e-9 || log10(x) > hi + 1e-9)
      continue;
    if (i-- == 0) {
      *v = x;
      return 1;
    }
  }
}

/* The plot area, the y grid with labels, the time (or other) axis. */
static void chart_begin(chart *c, const char *id, const char *title,
                        const char *note, const char *xlabel,
                        const char *ylabel) {
  FILE *f = c->f;
  fprintf(f, "<figure id=\"%s\"><figcaption>%s", id, title);
  if (note)
    fprintf(f, " <span class=\"note\">%s</span>", note);
  fprintf(f,
          "</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
          "viewBox=\"0 0 %d %d\" role=\"img\">\n"
          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fff\" "
          "stroke=\"#bbb\"/>\n",
          CW, CH, ML, MT, CW - ML - MR, CH - MT - MB);
  double ystep = nice((c->y1 - c->y0) / 5), v;
  for (int i = 0;; i++) {
    v = c->y0 + i * ystep;
    if (c->log_y ? !log_tick(c->y0, c->y1, i, &v) : v > c->y1 + ystep * 1e-6)
      break;
    fprintf(f,
            "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
            "class=\"grid\"/><text x=\"%d\" y=\"%.1f\" class=\"yl\">",
            ML, CW - MR, cy(c, v), cy(c, v), ML - 6, cy(c, v) + 4);
    num_label(f, v);
    fprintf(f, "</text>\n");
  }
  double step = nice((c->x1 - c->x0) / 12);
  for (int i = 0;; i++) {
    double x = ceil(c->x0 / step) * step + i * step;
    if (c->log_x ? !log_tick(c->x0, c->x1, i, &v) : x > c->x1 + 1e-9)
      break;
    if (c->log_x)
      x = log10(v);
    else
      v = x;
    fprintf(f,
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" "
            "stroke=\"#999\"/><text x=\"%.1f\" y=\"%d\" class=\"xl\">",
            cx(c, x), cx(c, x), CH - MB, CH - MB + 4, cx(c, x), CH - MB + 16);
    num_label(f, v);
    fprintf(f, "</text>\n");
  }
  fprintf(f,
          "<text x=\"%d\" y=\"%d\" class=\"axis\" "
          "style=\"text-anchor:end\">%s</text>\n"
          "<text x=\"16\" y=\"%d\" class=\"axis\" "
          "transform=\"rotate(-90 16 %d)\">%s</text>\n",
          CW - MR, CH - 8, xlabel, (CH - MB + MT) / 2,
          (CH - MB + MT) / 2, ylabel);
}

static void chart_end(chart *c) { fprintf(c->f, "</svg></figure>\n"); }

/* A band over [a, b) seconds of the plot, clipped to it. */
static void band(const chart *c, double a, double b, const char *cls,
                 double top, double height, const char *title) {
  a = fmax(a, c->x0);
  b = fmin(b, c->x1);
  if (b <= a)
    return;
  fprintf(c->f,
          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
          "class=\"%s\"><title>",
          cx(c, a), top, cx(c, b) - cx(c, a), height, cls);
  esc(c->f, title);
  fprintf(c->f, "</title></rect>\n");
}

static void net_text(const mc_netem_config *n, char *buf, size_t cap) {
  int k = n->ge ? snprintf(buf, cap, "GE %g/%g/%g/%g%%", 100 * n->ge_p,
                           100 * n->ge_r, 100 * n->ge_1h, 100 * n->ge_1k)
                : snprintf(buf, cap, "loss %g%%", 100 * n->loss);
  k += snprintf(buf + k, cap - (size_t)k, ", delay %g ms",
                sim_ms(n->delay));
  if (n->jitter)
    k += snprintf(buf + k, cap - (size_t)k, " \u00b1%g", sim_ms(n->jitter));
  if (n->duplicate > 0)
    k += snprintf(buf + k, cap - (size_t)k, ", dup %g%%", 100 * n->duplicate);
  if (n->reorder > 0)
    k += snprintf(buf + k, cap - (size_t)k, ", reorder %g%%",
                  100 * n->reorder);
  if (n->corrupt > 0)
    k += snprintf(buf + k, cap - (size_t)k, ", corrupt %g%%",
                  100 * n->corrupt);
  if (n->rate_bps)
    snprintf(buf + k, cap - (size_t)k, ", %g kbit/s", (double)n->rate_bps / 1e3);
}

static const char *const OFF_MODE[] = {"abandon", "logout", "mix"};

/* What happened when, drawn under a time chart's lines: phases (shaded in
 * turn, labelled above the plot), the drain, offline periods (a red band;
 * random ones as a strip along the bottom over the span they fall in) and
 * network changes (a dashed line, labelled). */
static void chart_marks(const chart *c, const sim_config *cfg,
                        const sim_result *r) {
  FILE *f = c->f;
  double t = 0, ph = CH - MT - MB;
  char buf[160];
  for (int i = 0; i < cfg->n_phase; i++) {
    const sim_phase *p = &cfg->phase[i];
    double len = (double)p->len / 1e6;
    snprintf(buf, sizeof buf, "phase %d: %g msg/s per client, %g%% direct",
             i + 1, p->rate, 100 * p->direct);
    band(c, t, t + len, i % 2 ? "phase2" : "phase1", MT, ph, buf);
    if (cfg->n_phase > 1 || i == 0)
      fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"mark\">%s%d: %g/s</text>\n",
              cx(c, t) + 3, MT - 6, cfg->n_phase > 1 ? "phase " : "phase ",
              i + 1, p->rate);
    t += len;
  }
  if (!r->stopped_no_connect) {
    double d0 = (double)r->send_end / 1e6, d1 = d0 + (double)r->drain / 1e6;
    band(c, d0, d1 > d0 ? d1 : d0 + 0.5, "drain", MT, ph,
         "drain: everyone online until everything owed arrived");
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"mark\">drain</text>\n",
            cx(c, d0) + 3, MT - 6);
  }
  for (int i = 0; i < cfg->n_off; i++) {
    const sim_offline *o = &cfg->off[i];
    double len = (double)o->len / 1e6;
    if (o->random_at) {
      snprintf(buf, sizeof buf,
               "offline: %g%% of the clients, each at a random time, for "
               "%g s (%s)",
               100 * o->share, len, OFF_MODE[o->mode]);
      double y = CH - MB - 6.0 - 7.0 * i;
      band(c, (double)cfg->ramp / 1e6, (double)r->send_end / 1e6, "offr", y,
           5, buf);
      fprintf(f,
              "<text x=\"%.1f\" y=\"%.1f\" class=\"mark off\">%g%% offline at "
              "random times</text>\n",
              cx(c, (double)cfg->ramp / 1e6) + 3, y - 3, 100 * o->share);
    } else {
      double a = (double)o->at / 1e6;
      snprintf(buf, sizeof buf, "offline: %g%% of the clients for %g s (%s)",
               100 * o->share, len, OFF_MODE[o->mode]);
      band(c, a, a + len, "off", MT, ph, buf);
      fprintf(f,
              "<text x=\"%.1f\" y=\"%d\" class=\"mark off\">%g%% offline"
              "</text>\n",
              cx(c, a) + 3, MT + 40, 100 * o->share);
    }
  }
  for (int i = 0; i < cfg->n_chg; i++) {
    double a = (double)cfg->chg[i].at / 1e6;
    if (a < c->x0 || a > c->x1)
      continue;
    net_text(&cfg->chg[i].net, buf, sizeof buf);
    fprintf(f,
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" class=\"net\">"
            "<title>",
            cx(c, a), cx(c, a), MT, CH - MB);
    escf(f, "network from %g s: %s", a, buf);
    fprintf(f,
            "</title></line><text x=\"%.1f\" y=\"%d\" class=\"mark netl\">",
            cx(c, a) + 3, MT + 12 + 12 * (i % 2));
    esc(f, buf);
    fprintf(f, "</text>\n");
  }
}

/* A series; NAN values leave gaps. Each point has a tooltip. */
static void series(const chart *c, const double *x, const double *y, size_t n,
                   const char *color, const char *label, const char *unit,
                   int slot, int dashed) {
  FILE *f = c->f;
  int open = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(y[i])) {
      if (open)
        fprintf(f, "\"/>\n");
      open = 0;
      continue;
    }
    if (!open)
      fprintf(f,
              "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s "
              "points=\"",
              color, dashed ? "1.2" : "2",
              dashed ? " stroke-dasharray=\"3 3\"" : "");
    open = 1;
    fprintf(f, "%.1f,%.1f ", cx(c, x[i]), cy(c, y[i]));
  }
  if (open)
    fprintf(f, "\"/>\n");
  /* Tooltips on small invisible dots, fewer when the run is long. */
  size_t every = n > 600 ? n / 300 : 1;
  for (size_t i = 0; i < n; i += every) {
    if (isnan(y[i]))
      continue;
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" class=\"tip\"><title>",
            cx(c, x[i]), cy(c, y[i]));
    if (c->log_x) /* the CDF */
      fprintf(f, "%s: %.4g%s at or below %.4g ms", label, y[i], unit,
              pow(10, x[i]));
    else /* a second of the run */
      fprintf(f, "%s in second %.0f: %.4g%s", label, x[i] - 0.5, y[i], unit);
    fprintf(f, "</title></circle>\n");
  }
  int lx = ML + 130 * slot;
  fprintf(f,
          "<rect x=\"%d\" y=\"%d\" width=\"16\" height=\"3\" fill=\"%s\"/>"
          "<text x=\"%d\" y=\"%d\" class=\"legend\">%s</text>\n",
          lx, CH - 12, color, lx + 20, CH - 7, label);
}

/* ------------------------------------------------------------------ */
/* charts over time                                                    */

typedef struct {
  const sim_config *cfg;
  const sim_result *r;
  size_t n;
  double *t, *a, *b, *c, *d;   /* the time axis and four series */
  double span;
} timeline;

static void time_chart(FILE *f, const timeline *tl, chart *c, const char *id,
                       const char *title, const char *note,
                       const char *ylabel) {
  c->f = f;
  c->x0 = 0;
  c->x1 = tl->span;
  chart_begin(c, id, title, note, "time since the start, s", ylabel);
  chart_marks(c, tl->cfg, tl->r);
}

/* The largest of |n| values (NANs skipped), at least |floor|. */
static double top(const double *v, size_t n, double floor) {
  for (size_t i = 0; i < n; i++)
    if (!isnan(v[i]) && v[i] > floor)
      floor = v[i];
  return floor;
}

static void html_latency_time(FILE *f, const timeline *tl) {
  double lo = INFINITY, hi = 0;
  for (size_t i = 0; i < tl->n; i++) {
    const sim_tick *k = &tl->r->tick[i];
    int have = k->lat_n > 0;
    tl->a[i] = have ? sim_ms(k->p50) : NAN;
    tl->b[i] = have ? sim_ms(k->p95) : NAN;
    tl->c[i] = have ? sim_ms(k->p99) : NAN;
    tl->d[i] = have ? sim_ms(k->max) : NAN;
    if (have) {
      lo = fmin(lo, fmax(tl->a[i], 0.01));
      hi = fmax(hi, tl->d[i]);
    }
  }
  if (hi == 0)
    lo = 1, hi = 10;
  chart c = {.log_y = 1, .y0 = floor(log10(lo)), .y1 = ceil(log10(hi))};
  if (c.y1 <= c.y0)
    c.y1 = c.y0 + 1;
  time_chart(f, tl, &c, "latency-time", "Latency over time",
             "live deliveries arriving in each second; log scale",
             "latency, ms");
  series(&c, tl->t, tl->d, tl->n, C_MAX, "max", " ms", 3, 1);
  series(&c, tl->t, tl->c, tl->n, C_P99, "p99", " ms", 2, 0);
  series(&c, tl->t, tl->b, tl->n, C_P95, "p95", " ms", 1, 0);
  series(&c, tl->t, tl->a, tl->n, C_P50, "p50", " ms", 0, 0);
  chart_end(&c);
}

/* One quantity per second on its own chart and axis. */
static void html_count_time(FILE *f, const timeline *tl, const double *v,
                            const char *id, const char *title,
                            const char *note, const char *ylabel,
                            const char *color, const char *label) {
  chart c = {.y0 = 0};
  double step = nice(top(v, tl->n, 1) / 5);
  c.y1 = ceil(top(v, tl->n, 1) * 1.05 / step) * step;
  time_chart(f, tl, &c, id, title, note, ylabel);
  series(&c, tl->t, v, tl->n, color, label, "", 0, 0);
  chart_end(&c);
}

static void html_timeline(FILE *f, const sim_config *cfg, const sim_result *r) {
  timeline tl = {.cfg = cfg, .r = r, .n = r->n_tick};
  size_t n = tl.n ? tl.n : 1;
  tl.t = calloc(n, sizeof(double));
  tl.a = calloc(n, sizeof(double));
  tl.b = calloc(n, sizeof(double));
  tl.c = calloc(n, sizeof(double));
  tl.d = calloc(n, sizeof(double));
  if (tl.t && tl.a && tl.b && tl.c && tl.d) {
    tl.span = fmax((double)tl.n, 1);
    for (size_t i = 0; i < tl.n; i++)
      tl.t[i] = (double)i + 0.5;
    html_latency_time(f, &tl);

    for (size_t i = 0; i < tl.n; i++) {
      tl.a[i] = (double)r->tick[i].sent;
      tl.b[i] = (double)r->tick[i].delivered;
      tl.c[i] = (double)r->tick[i].online;
    }
    html_count_time(f, &tl, tl.a, "sent", "Messages sent per second",
                    "handed to the client cores, group and direct", "messages/s",
                    C_SENT, "sent");
    html_count_time(f, &tl, tl.b, "delivered", "Deliveries per second",
                    "first deliveries to an owed recipient, live and backlog",
                    "deliveries/s", C_DELIV, "delivered");
    html_count_time(f, &tl, tl.c, "online", "Clients connected",
                    "at the end of each second", "clients", C_ONLINE,
                    "connected");

    /* What has arrived so far of what was owed for the messages sent so
     * far: it dips under loss and churn and must end at 100 %. */
    uint64_t owed = 0, got = 0;
    double lo = 100;
    for (size_t i = 0; i < tl.n; i++) {
      owed += r->tick[i].owed;
      got += r->tick[i].delivered;
      tl.d[i] = owed ? fmin(100.0, 100.0 * (double)got / (double)owed) : NAN;
      if (!isnan(tl.d[i]))
        lo = fmin(lo, tl.d[i]);
    }
    chart c = {.y0 = floor(lo / 10) * 10, .y1 = 100};
    if (c.y0 >= 100)
      c.y0 = 90;
    time_chart(f, &tl, &c, "delivery-time", "Delivery so far",
               "cumulative deliveries over deliveries owed; must end at 100%",
               "% delivered");
    series(&c, tl.t, tl.d, tl.n, C_DPCT, "delivered so far", "%", 0, 0);
    chart_end(&c);
  }
  free(tl.t);
  free(tl.a);
  free(tl.b);
  free(tl.c);
  free(tl.d);
}

/* ------------------------------------------------------------------ */
/* the latency CDF                                                     */

/* Points of a histogram's CDF: x = log10(ms) at each non-empty bucket's
 * upper edge (at least |floor_ms|), y = percent of values at or below. */
static size_t cdf_points(const sim_hist *h, double floor_ms, double *x,
                         double *y) {
  size_t n = 0;
  uint64_t seen = 0;
  for (int i = 0; i < SIM_HIST_BUCKETS && h->n; i++) {
    if (h->counts[i] == 0)
      continue;
    uint64_t lo, hi;
    sim_hist_range(i, &lo, &hi);
    if (seen == 0) {
      /* The curve starts at 0 % where the first bucket begins. */
      double v0 = (double)lo / 1000.0;
      x[n] = log10(v0 < floor_ms ? floor_ms : v0);
      y[n++] = 0;
    }
    seen += h->counts[i];
    double v = (double)(hi + 1) / 1000.0;
    x[n] = log10(v < floor_ms ? floor_ms : v);
    y[n] = 100.0 * (double)seen / (double)h->n;
    n++;
  }
  return n;
}

static void html_cdf(FILE *f, const sim_result *r) {
  chart c = {.f = f, .x0 = 1e9, .x1 = -1e9, .y0 = 0, .y1 = 100, .log_x = 1};
  double *x[2], *y[2];
  size_t n[2];
  const sim_hist *h[2] = {&r->lat_live, &r->lat_backlog};
  /* The axis starts a decade under the 1st percentile: the rare datagram
   * that skipped every delay would otherwise squeeze the chart. */
  uint64_t p1 = sim_hist_quantile(&r->lat_live, 0.01);
  double floor_ms =
      pow(10, floor(log10(p1 > 100 ? (double)p1 / 1000 : 0.1)) - 1);
  for (int k = 0; k < 2; k++) {
    x[k] = malloc((SIM_HIST_BUCKETS + 1) * sizeof(double));
    y[k] = malloc((SIM_HIST_BUCKETS + 1) * sizeof(double));
    n[k] = x[k] && y[k] ? cdf_points(h[k], floor_ms, x[k], y[k]) : 0;
    if (n[k]) {
      c.x0 = fmin(c.x0, x[k][0]);
      c.x1 = fmax(c.x1, x[k][n[k] - 1]);
    }
  }
  if (c.x0 > c.x1) {
    c.x0 = 0;
    c.x1 = 1;
  }
  c.x0 = floor(c.x0);
  c.x1 = ceil(c.x1 + 1e-9);
  chart_begin(&c, "cdf", "Latency distribution (CDF)",
              "send to delivery, all deliveries of the run; log scale",
              "latency, ms", "% of deliveries at or below");
  const char *color[2] = {C_P50, C_P99};
  const char *label[2] = {"live", "backlog (after offline)"};
  for (int k = 0; k < 2; k++) {
    /* The CDF's x is already log10(ms): drawn on a linear axis. */
    if (n[k])
      series(&c, x[k], y[k], n[k], color[k], label[k], "%", k, 0);
    free(x[k]);
    free(y[k]);
  }
  chart_end(&c);
}

/* ------------------------------------------------------------------ */
/* tables                                                              */

/* A key figure: the value (printf-style) over its label. */
static void tile(FILE *f, const char *label, const char *cls,
                 const char *fmt, ...) {
  va_list ap;
  fprintf(f, "<div class=\"tile %s\"><div class=\"v\">", cls);
  va_start(ap, fmt);
  vescf(f, fmt, ap);
  va_end(ap);
  fprintf(f, "</div><div class=\"l\">%s</div></div>\n", label);
}

static void html_tiles(FILE *f, const sim_result *r) {
  sim_kind t = sim_kind_total(r);
  const sim_hist *h = &r->lat_live;
  fprintf(f, "<div class=\"tiles\">\n");
  if (t.expected)
    tile(f, "delivery (delivered / owed)", t.lost ? "bad" : "good", "%.2f%%",
         sim_pct(t.expected - t.lost, t.expected));
  else
    tile(f, "delivery", "warn", "nothing owed");
  if (h->n)
    tile(f, "latency p50 / p95 / p99 (live)", "", "%.0f / %.0f / %.0f ms",
         sim_ms(sim_hist_quantile(h, 0.5)), sim_ms(sim_hist_quantile(h, 0.95)),
         sim_ms(sim_hist_quantile(h, 0.99)));
  else
    tile(f, "latency (live)", "", "no deliveries");
  if (r->lat_backlog.n)
    tile(f, "backlog latency p99", "", "%.0f ms",
         sim_ms(sim_hist_quantile(&r->lat_backlog, 0.99)));
  else
    tile(f, "backlog latency", "", "no backlog");
  tile(f, "messages sent", "", "%" PRIu64 " (%.1f/s)", t.sent,
       sim_msgs_per_s(r));
  tile(f, "deliveries", "", "%" PRIu64, t.delivered);
  tile(f, "connects / failures", r->connect_failures ? "warn" : "",
       "%" PRIu64 " / %" PRIu64, r->connects, r->connect_failures);
  tile(f, "lost / dup / order / unexp",
       sim_result_ok(r) ? "good" : "bad",
       "%" PRIu64 " / %" PRIu64 " / %" PRIu64 " / %" PRIu64, t.lost,
       t.duplicated, t.out_of_order, t.unexpected);
  if (r->client_tx_first)
    tile(f, "client tx per body", "", "%.3f",
         sim_tx_per_body(r->client_tx_first, r->client_tx_retrans));
  else
    tile(f, "client tx per body", "", "nothing sent");
  fprintf(f, "</div>\n");
}

static void html_thresholds(FILE *f, const sim_config *cfg,
                            const sim_result *r) {
  fprintf(f, "<h2>Thresholds</h2>\n<table class=\"thr\"><tr><th>threshold"
             "</th><th>measured</th><th>result</th></tr>\n");
  for (int i = 0; i < cfg->n_thr; i++) {
    char v[32];
    sim_threshold_value(&cfg->thr[i], r->thr[i].value, v, sizeof v);
    fprintf(f, "<tr><td><code>");
    esc(f, cfg->thr[i].text);
    fprintf(f, "</code>%s</td><td class=\"n\">%s</td><td><span class=\"pill "
               "%s\">%s</span></td></tr>\n",
            cfg->thr[i].is_default ? " <span class=\"note\">(default)</span>"
                                   : "",
            r->thr[i].state == SIM_THR_NO_DATA ? "&ndash;" : v,
            r->thr[i].state == SIM_THR_PASS ? "good" : "bad",
            sim_threshold_state_name(r->thr[i].state));
  }
  fprintf(f, "</table>\n");
}

static void html_kinds(FILE *f, const sim_result *r) {
  static const char *const HEAD[] = {
      "kind",     "sent", "confirmed", "unconfirmed", "expected", "delivered",
      "delivery", "lost", "duplicated", "out of order", "unexpected",
      "backlog", "extra"};
  fprintf(f, "<h2>Messages</h2>\n<div class=\"wide\"><table><tr>");
  for (size_t i = 0; i < sizeof HEAD / sizeof HEAD[0]; i++)
    fprintf(f, "<th>%s</th>", HEAD[i]);
  fprintf(f, "</tr>\n");
  for (int k = 0; k <= SIM_K_N; k++) {
    sim_kind t = k < SIM_K_N ? r->k[k] : sim_kind_total(r);
    fprintf(f,
            "<tr%s><td>%s</td><td class=\"n\">%" PRIu64
            "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
            "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
            "</td><td class=\"n\">%.2f%%</td>",
            k == SIM_K_N ? " class=\"total\"" : "",
            k < SIM_K_N ? SIM_KIND_NAME[k] : "all", t.sent, t.confirmed,
            t.sent - t.confirmed, t.expected, t.delivered,
            sim_pct(t.expected - t.lost, t.expected));
    const uint64_t bad[] = {t.lost, t.duplicated, t.out_of_order,
                            t.unexpected};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
      fprintf(f, "<td class=\"n%s\">%" PRIu64 "</td>", bad[i] ? " badn" : "",
              bad[i]);
    fprintf(f,
            "<td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
            "</td></tr>\n",
            t.backlog, t.extra);
  }
  fprintf(f, "</table></div>\n");
}

/* A JSON value as HTML: objects as two-column tables, arrays of objects
 * as tables with a column per key (the union over the rows); an object
 * inside such a table is written on one line. */
static void html_json(FILE *f, json_t *v);

static void html_json_scalar(FILE *f, json_t *v, int inline_obj) {
  const char *key;
  json_t *x;
  switch (json_typeof(v)) {
  case JSON_STRING: esc(f, json_string_value(v)); break;
  case JSON_INTEGER:
    fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    break;
  case JSON_REAL: fprintf(f, "%g", json_real_value(v)); break;
  case JSON_TRUE: fputs("yes", f); break;
  case JSON_FALSE: fputs("no", f); break;
  case JSON_NULL: fputs("&ndash;", f); break;
  case JSON_OBJECT:
    if (inline_obj) {
      int first = 1;
      json_object_foreach(v, key, x) {
        fputs(first ? "" : ", ", f);
        first = 0;
        esc(f, key);
        fputc(' ', f);
        html_json_scalar(f, x, 1);
      }
      break;
    }
    /* fall through */
  default: html_json(f, v); break;
  }
}

static void html_json_rows(FILE *f, json_t *v) {
  const char *key;
  json_t *x, *row;
  size_t i;
  json_t *cols = json_object(); /* the keys of every row, in order */
  if (cols == NULL)
    return;
  json_array_foreach(v, i, row) {
    json_object_foreach(row, key, x) json_object_set(cols, key, json_null());
  }
  fprintf(f, "<table><tr><th>#</th>");
  json_object_foreach(cols, key, x) {
    fprintf(f, "<th>");
    esc(f, key);
    fprintf(f, "</th>");
  }
  fprintf(f, "</tr>");
  json_array_foreach(v, i, row) {
    fprintf(f, "<tr><td>%zu</td>", i + 1);
    json_object_foreach(cols, key, x) {
      json_t *cell = json_object_get(row, key);
      fprintf(f, "<td>");
      html_json_scalar(f, cell ? cell : json_null(), 1);
      fprintf(f, "</td>");
    }
    fprintf(f, "</tr>");
  }
  fprintf(f, "</table>");
  json_decref(cols);
}

static void html_json(FILE *f, json_t *v) {
  const char *key;
  json_t *x;
  size_t i;
  if (json_is_object(v)) {
    fprintf(f, "<table class=\"kv\">");
    json_object_foreach(v, key, x) {
      fprintf(f, "<tr><th>");
      esc(f, key);
      fprintf(f, "</th><td>");
      html_json_scalar(f, x, 0);
      fprintf(f, "</td></tr>");
    }
    fprintf(f, "</table>");
  } else if (json_is_array(v) && json_array_size(v) == 0) {
    fputs("none", f);
  } else if (json_is_array(v) && json_is_object(json_array_get(v, 0))) {
    html_json_rows(f, v);
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, x) {
      fputs(i ? ", " : "", f);
      html_json_scalar(f, x, 1);
    }
  } else {
    html_json_scalar(f, v, 0);
  }
}

/* The network at the start and at each change, one row each. Returns a
 * new reference or NULL. */
static json_t *network_rows(json_t *start, json_t *changes) {
  json_t *rows = json_array(), *chg;
  size_t i;
  int bad = rows == NULL;
  json_t *first = json_pack("{s:f}", "from_s", 0.0);
  bad |= first == NULL || json_object_update(first, start) < 0 ||
         json_array_append_new(rows, first) < 0;
  json_array_foreach(changes, i, chg) {
    json_t *row = json_pack("{s:O}", "from_s", json_object_get(chg, "at_s"));
    bad |= row == NULL ||
           json_object_update(row, json_object_get(chg, "network")) < 0 ||
           json_array_append_new(rows, row) < 0;
  }
  if (bad) {
    json_decref(rows);
    return NULL;
  }
  return rows;
}

/* The configuration: the scalars in one table; the network (at the start
 * and at each change), the phases and the offline periods each in its own. */
static int html_config(FILE *f, const sim_config *cfg, const sim_result *r) {
  json_t *c = sim_json_config(cfg, r);
  if (c == NULL)
    return -1;
  json_t *net = network_rows(json_object_get(c, "network"),
                             json_object_get(c, "network_changes"));
  json_t *phases = json_incref(json_object_get(c, "phases"));
  json_t *off = json_incref(json_object_get(c, "offline"));
  static const char *const MOVED[] = {"network", "network_changes", "phases",
                                      "offline"};
  for (size_t i = 0; i < sizeof MOVED / sizeof MOVED[0]; i++)
    json_object_del(c, MOVED[i]);
  int rv = net == NULL ? -1 : 0;
  fprintf(f, "<h2>Configuration</h2>\n<div class=\"cols\"><div><h3>Run</h3>");
  html_json(f, c);
  fprintf(f, "</div><div><h3>Phases</h3>");
  html_json(f, phases);
  fprintf(f, "<h3>Offline periods</h3>");
  html_json(f, off);
  fprintf(f, "<h3>Network (from the start, then each change)</h3>"
             "<div class=\"wide\">");
  if (net)
    html_json(f, net);
  fprintf(f, "</div></div></div>\n");
  json_decref(net);
  json_decref(phases);
  json_decref(off);
  json_decref(c);
  return rv;
}

/* The rest of the text summary (retransmissions, network, server, clients)
 * as it is printed on stdout. */
static void html_details(FILE *f, const sim_config *cfg, const sim_result *r) {
  char *buf = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&buf, &len);
  if (mem == NULL)
    return;
  sim_report_table(mem, cfg, r);
  fclose(mem);
  fprintf(f, "<h2>Summary as printed</h2>\n<pre>");
  esc(f, buf);
  fprintf(f, "</pre>\n");
  free(buf);
}

static const char CSS[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;"
    "margin:0;padding:1.2em 2em;color:#222;background:#f4f5f7}"
    "h1{margin:.2em 0;font-size:1.7em}h2{margin:1.4em 0 .5em;font-size:1.25em}"
    "h3{margin:.4em 0;font-size:1em;color:#555}"
    ".sub{color:#555;margin-bottom:1em}"
    ".verdict{padding:.8em 1.2em;border-radius:6px;font-size:1.2em;"
    "font-weight:600;color:#fff}"
    ".verdict.good{background:#2e7d32}.verdict.bad{background:#c62828}"
    ".tiles{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}"
    ".tile{background:#fff;border-radius:6px;padding:.7em 1em;flex:1 1 180px;"
    "box-shadow:0 1px 2px rgba(0,0,0,.1);border-top:4px solid #90a4ae;"
    "min-width:max-content}"
    ".tile.good{border-top-color:#2e7d32}.tile.bad{border-top-color:#c62828}"
    ".tile.warn{border-top-color:#f9a825}"
    ".tile .v{font-size:1.45em;font-weight:600;white-space:nowrap}.tile .l{color:#666;"
    "font-size:.85em}"
    "figure{margin:0 0 1.2em;background:#fff;border-radius:6px;"
    "padding:.6em .8em;box-shadow:0 1px 2px rgba(0,0,0,.1)}"
    "figcaption{font-weight:600;margin-bottom:.2em}"
    "svg{width:100%;height:auto;display:block}"
    "svg text{font-size:12px;fill:#333}"
    ".yl{text-anchor:end}.xl{text-anchor:middle}"
    ".axis{text-anchor:middle;font-size:12px;fill:#555}"
    ".legend{font-size:12px}"
    ".grid{stroke:#e6e6e6}"
    ".phase1{fill:#f3f6fb}.phase2{fill:#e6edf7}"
    ".drain{fill:#f1f1f1}"
    ".off{fill:rgba(214,39,40,.12)}.offr{fill:rgba(214,39,40,.45)}"
    ".net{stroke:" C_NET ";stroke-width:1.5;stroke-dasharray:6 3}"
    ".mark{font-size:11px;fill:#555;paint-order:stroke;stroke:#fff;"
    "stroke-width:3px;stroke-linejoin:round}.mark.netl{fill:#b0307f}"
    ".mark.off{fill:#b71c1c}"
    ".tip{fill:transparent}.tip:hover{fill:#000}"
    ".note{font-weight:normal;color:#777;font-size:.85em}"
    "table{border-collapse:collapse;background:#fff;font-size:.9em}"
    "th,td{padding:.3em .7em;border-bottom:1px solid #eee;text-align:left;"
    "vertical-align:top}"
    "th{background:#fafafa;color:#444}td.n{text-align:right;"
    "font-variant-numeric:tabular-nums}"
    "tr.total td{font-weight:600;border-top:2px solid #ccc}"
    ".badn{color:#c62828;font-weight:600}"
    ".wide{overflow-x:auto}"
    ".pill{padding:.1em .6em;border-radius:1em;color:#fff;font-size:.85em}"
    ".pill.good{background:#2e7d32}.pill.bad{background:#c62828}"
    ".cols{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start}"
    ".kv th{width:12em}.kv .kv th{width:auto}"
    "pre{background:#fff;padding:1em;overflow-x:auto;font-size:12px;"
    "border-radius:6px}"
    "footer{margin-top:2em;color:#888;font-size:.85em}";

int sim_report_html(const char *path, const sim_config *cfg,
                    const sim_result *r) {
  FILE *f = sim_report_open(path, "html", "w");
  if (f == NULL)
    return -1;
  int status = sim_verdict_exit(r);
  char why[128];
  fprintf(f,
          "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width\">"
          "<title>mychat-sim report</title>\n<style>%s</style></head><body>\n"
          "<h1>mychat-sim report</h1>\n<div class=\"sub\">",
          CSS);
  escf(f, "%u clients, %s, seed %" PRIu64, cfg->clients,
       cfg->server         ? cfg->server
       : cfg->embedded_udp ? "embedded server over loopback UDP (real time)"
                           : "embedded server (virtual time)",
       cfg->seed);
  if (cfg->scenario)
    escf(f, ", scenario %s", cfg->scenario);
  escf(f, "; %.1f s simulated, %.2f s wall", (double)r->vtime / 1e6,
       r->wall_s);
  fprintf(f, "</div>\n<div class=\"verdict %s\">", status ? "bad" : "good");
  esc(f, sim_verdict_text(cfg, r, why, sizeof why));
  fprintf(f, " <span class=\"note\" style=\"color:#fff\">(exit status %d)"
             "</span></div>\n",
          status);
  html_tiles(f, r);
  html_thresholds(f, cfg, r);
  fprintf(f, "<h2>Over time</h2>\n");
  html_timeline(f, cfg, r);
  html_cdf(f, r);
  html_kinds(f, r);
  int rv = html_config(f, cfg, r);
  html_details(f, cfg, r);
  fprintf(f,
          "<footer>mychat-sim " SIM_VERSION
          "; one self-contained file (inline SVG, no scripts). Shaded: "
          "phases (alternating), the drain (grey), offline periods (red; "
          "random ones as a strip at the bottom over the span they fall "
          "in); dashed lines: network changes. Hover a point for its "
          "value.</footer>\n</body></html>\n");
  if (rv < 0)
    fprintf(stderr, "mychat-sim: --html %s: out of memory\n", path);
  return sim_report_close(f, path, "html") < 0 || rv < 0 ? -1 : 0;
}
