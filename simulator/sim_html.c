/*
 * sim_html.c: mychat-sim's --html report.
 *
 * One self-contained file: inline CSS and inline SVG charts drawn here
 * (latency CDF, deliveries and throughput over time), no scripts, no
 * fonts, nothing fetched.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* ------------------------------------------------------------------ */
/* HTML                                                                */

#define CW 560 /* chart width and height, plot area inside margins */
#define CH 300
#define ML 60
#define MR 20
#define MT 20
#define MB 40

typedef struct {
  FILE *f;
  double x0, x1, y0, y1;
} chart;

static double unlog(double x) { return pow(10, x); }

static double cx(const chart *c, double x) {
  return ML + (x - c->x0) / (c->x1 - c->x0) * (CW - ML - MR);
}

static double cy(const chart *c, double y) {
  return CH - MB - (y - c->y0) / (c->y1 - c->y0) * (CH - MT - MB);
}

/* Short tick labels: 0.5, 92.5, 1500, 120k, 3.2M. */
static void axis_label(FILE *f, double v) {
  if (v >= 1e6)
    fprintf(f, "%.3gM", v / 1e6);
  else if (v >= 1e4)
    fprintf(f, "%.3gk", v / 1e3);
  else
    fprintf(f, "%.4g", v);
}

static void chart_begin(chart *c, const char *title, const char *xlabel,
                        const char *ylabel, int log_x) {
  FILE *f = c->f;
  fprintf(f, "<figure><figcaption>%s</figcaption>\n", title);
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
          "height=\"%d\" viewBox=\"0 0 %d %d\">\n",
          CW, CH, CW, CH);
  fprintf(f,
          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fff\" "
          "stroke=\"#999\"/>\n",
          ML, MT, CW - ML - MR, CH - MT - MB);
  for (int i = 0; i <= 4; i++) {
    double y = c->y0 + (c->y1 - c->y0) * i / 4;
    fprintf(f,
            "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"#eee\"/><text x=\"%d\" y=\"%.1f\" font-size=\"11\" "
            "text-anchor=\"end\">",
            ML, CW - MR, cy(c, y), cy(c, y), ML - 4, cy(c, y) + 4);
    axis_label(f, y);
    fprintf(f, "</text>\n");
  }
  /* A log axis is labelled at each decade, a linear one in quarters. */
  int nx = log_x ? (int)(c->x1 - c->x0) : 4;
  for (int i = 0; i <= nx; i++) {
    double x = c->x0 + (c->x1 - c->x0) * i / nx;
    double v = log_x ? unlog(x) : x;
    fprintf(f,
            "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
            "text-anchor=\"middle\">",
            cx(c, x), CH - MB + 14);
    axis_label(f, v);
    fprintf(f, "</text>\n");
  }
  fprintf(f,
          "<text x=\"%d\" y=\"%d\" font-size=\"12\" "
          "text-anchor=\"middle\">%s</text>\n",
          (CW + ML - MR) / 2, CH - 6, xlabel);
  fprintf(f,
          "<text x=\"14\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\" "
          "transform=\"rotate(-90 14 %d)\">%s</text>\n",
          (CH - MB + MT) / 2, (CH - MB + MT) / 2, ylabel);
}

static void chart_line(chart *c, const double *x, const double *y, size_t n,
                       const char *color, const char *label, int slot) {
  FILE *f = c->f;
  fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
             "points=\"",
          color);
  for (size_t i = 0; i < n; i++)
    fprintf(f, "%.1f,%.1f ", cx(c, x[i]), cy(c, y[i]));
  fprintf(f, "\"/>\n");
  fprintf(f,
          "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"3\" "
          "fill=\"%s\"/><text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>\n",
          ML + 10, MT + 10 + 14 * slot, color, ML + 26, MT + 14 + 14 * slot,
          label);
}

static void chart_end(chart *c) { fprintf(c->f, "</svg></figure>\n"); }

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

static void html_escape(FILE *f, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    switch (s[i]) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    default: fputc(s[i], f);
    }
  }
}

static void html_latency(FILE *f, const sim_result *r) {
  chart c = {.f = f};
  double *x[2], *y[2];
  size_t n[2];
  const sim_hist *h[2] = {&r->lat_live, &r->lat_backlog};
  c.x0 = 1e9;
  c.x1 = -1e9;
  /* The axis starts a decade under the 1st percentile: the rare datagram
   * that skipped every delay would otherwise squeeze the chart. */
  uint64_t p1 = sim_hist_quantile(&r->lat_live, 0.01);
  double floor_ms = pow(10, floor(log10(p1 > 100 ? (double)p1 / 1000 : 0.1)) - 1);
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
  c.y0 = 0;
  c.y1 = 100;
  chart_begin(&c, "Latency CDF (send to delivery)", "latency, ms (log scale)",
              "% of deliveries", 1);
  const char *color[2] = {"#1f77b4", "#d62728"};
  const char *label[2] = {"live", "backlog (after offline)"};
  for (int k = 0; k < 2; k++) {
    if (n[k])
      chart_line(&c, x[k], y[k], n[k], color[k], label[k], k);
    free(x[k]);
    free(y[k]);
  }
  chart_end(&c);
}

static void html_time(FILE *f, const sim_result *r) {
  size_t n = r->n_tick ? r->n_tick : 1;
  double *t = calloc(n, sizeof *t), *a = calloc(n, sizeof *a),
         *b = calloc(n, sizeof *b);
  if (t == NULL || a == NULL || b == NULL) {
    free(t);
    free(a);
    free(b);
    return;
  }
  /* A multiple of 4 seconds, so the quarter ticks are whole seconds. */
  double span = (double)((n + 3) / 4 * 4);
  chart c = {.f = f, .x0 = 0, .x1 = span, .y0 = 0, .y1 = 1};
  for (size_t i = 0; i < r->n_tick; i++) {
    t[i] = (double)i + 0.5;
    a[i] = (double)r->tick[i].sent;
    b[i] = (double)r->tick[i].delivered;
    c.y1 = fmax(c.y1, fmax(a[i], b[i]));
  }
  c.y1 *= 1.1;
  chart_begin(&c, "Throughput over time", "time, s", "per second", 0);
  chart_line(&c, t, a, r->n_tick, "#1f77b4", "messages sent", 0);
  chart_line(&c, t, b, r->n_tick, "#2ca02c", "deliveries", 1);
  chart_end(&c);

  /* Delivery: what has arrived so far of what was owed for the messages
   * sent so far. It dips under loss and churn and must end at 100 %. */
  uint64_t owed = 0, got = 0;
  double lo = 100;
  for (size_t i = 0; i < r->n_tick; i++) {
    owed += r->tick[i].owed;
    got += r->tick[i].delivered;
    a[i] = owed ? fmin(100.0, 100.0 * (double)got / (double)owed) : 100.0;
    lo = fmin(lo, a[i]);
  }
  chart d = {.f = f, .x0 = 0, .x1 = span, .y0 = floor(lo / 10) * 10,
             .y1 = 100};
  if (d.y0 >= 100)
    d.y0 = 90;
  chart_begin(&d, "Delivery over time (cumulative delivered / owed)", "time, s",
              "% delivered", 0);
  chart_line(&d, t, a, r->n_tick, "#9467bd", "delivered so far", 0);
  chart_end(&d);
  free(t);
  free(a);
  free(b);
}

int sim_report_html(const char *path, const sim_config *cfg,
                    const sim_result *r) {
  FILE *f = sim_report_open(path, "html");
  if (f == NULL)
    return -1;
  fprintf(f,
          "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
          "<title>mychat-sim report</title>\n<style>"
          "body{font-family:sans-serif;margin:2em;color:#222}"
          "pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px}"
          "figure{display:inline-block;margin:1em}"
          "figcaption{font-weight:bold;margin-bottom:.3em}"
          ".ok{color:#2ca02c}.bad{color:#d62728}"
          "</style></head><body>\n<h1>mychat-sim report</h1>\n");
  fprintf(f, "<p class=\"%s\"><b>%s</b></p>\n",
          sim_result_ok(r) ? "ok" : "bad",
          sim_result_ok(r) ? "Every delivery guarantee held."
                           : "A delivery guarantee was broken.");
  char *buf = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&buf, &len);
  if (mem) {
    sim_report_table(mem, cfg, r);
    fclose(mem);
    fprintf(f, "<pre>");
    html_escape(f, buf, len);
    fprintf(f, "</pre>\n");
    free(buf);
  }
  html_latency(f, r);
  html_time(f, r);
  fprintf(f, "</body></html>\n");
  return sim_report_close(f, path, "html");
}
