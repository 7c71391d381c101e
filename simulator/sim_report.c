/*
 * sim_report.c: mychat-sim's results as a table, JSON and an HTML page.
 *
 * The HTML report is one self-contained file: inline CSS and inline SVG
 * charts drawn here (latency CDF, deliveries and throughput over time), no
 * scripts, no fonts, nothing fetched.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>

#include "mc_error.h"
#include "sim.h"

static const char *KIND_NAME[SIM_K_N] = {"group", "direct"};

static double ms(uint64_t us) { return (double)us / 1000.0; }

static uint64_t total(const sim_result *r, size_t off) {
  uint64_t t = 0;
  for (int k = 0; k < SIM_K_N; k++)
    t += *(const uint64_t *)((const char *)&r->k[k] + off);
  return t;
}

#define TOTAL(r, field) total((r), offsetof(sim_kind, field))

/* Every kind added up. */
static sim_kind kind_total(const sim_result *r) {
  sim_kind t = {0};
  t.sent = TOTAL(r, sent);
  t.confirmed = TOTAL(r, confirmed);
  t.refused = TOTAL(r, refused);
  t.expected = TOTAL(r, expected);
  t.delivered = TOTAL(r, delivered);
  t.extra = TOTAL(r, extra);
  t.lost = TOTAL(r, lost);
  t.duplicated = TOTAL(r, duplicated);
  t.out_of_order = TOTAL(r, out_of_order);
  t.unexpected = TOTAL(r, unexpected);
  t.backlog = TOTAL(r, backlog);
  return t;
}

static double pct(uint64_t a, uint64_t b) {
  return b ? 100.0 * (double)a / (double)b : 100.0;
}

/* Loss rate of a datagram under the configured model: the Bernoulli rate,
 * or Gilbert-Elliott's long-run rate. */
static double loss_rate(const mc_netem_config *n) {
  if (!n->ge)
    return n->loss;
  double sum = n->ge_p + n->ge_r;
  double bad = sum > 0 ? n->ge_p / sum : 0;
  return bad * n->ge_1h + (1 - bad) * n->ge_1k;
}

/* Transmissions per reliable body; the least possible at datagram loss p
 * is 1/(1-p). The server's first transmissions are counted as the bodies
 * the clients took, which leaves out the few that never arrived. */
static double tx_per_body(uint64_t first, uint64_t retrans) {
  return first ? (double)(first + retrans) / (double)first : 0;
}

static double msgs_per_s(const sim_result *r) {
  return r->send_end ? (double)TOTAL(r, sent) / ((double)r->send_end / 1e6)
                     : 0;
}

void sim_report_table(FILE *f, const sim_config *cfg, const sim_result *r) {
  double p = loss_rate(&cfg->net);
  fprintf(f, "mychat-sim: %u clients, %s server, seed %" PRIu64 "%s%s\n",
          cfg->clients,
          cfg->server         ? cfg->server
          : cfg->embedded_udp ? "embedded over loopback UDP (real time)"
                              : "embedded (virtual time)",
          cfg->seed, cfg->scenario ? ", scenario " : "",
          cfg->scenario ? cfg->scenario : "");
  fprintf(f,
          "time %.1f s simulated, %.2f s wall, %.2f s CPU; %" PRIu64
          " events, %" PRIu64 " datagrams\n\n",
          (double)r->vtime / 1e6, r->wall_s, r->cpu_s, r->events,
          r->dgrams_up + r->dgrams_down);
  fprintf(f, "%-8s %9s %9s %9s %10s %10s %7s %6s %6s %6s %6s %8s\n", "kind",
          "sent", "confirmed", "unconf", "expected", "delivered", "deliv%",
          "lost", "dup", "order", "unexp", "backlog");
  for (int k = 0; k <= SIM_K_N; k++) {
    sim_kind t = k < SIM_K_N ? r->k[k] : kind_total(r);
    fprintf(f,
            "%-8s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %10" PRIu64
            " %10" PRIu64 " %6.2f%% %6" PRIu64 " %6" PRIu64 " %6" PRIu64
            " %6" PRIu64 " %8" PRIu64 "\n",
            k < SIM_K_N ? KIND_NAME[k] : "all", t.sent, t.confirmed,
            t.sent - t.confirmed, t.expected, t.delivered,
            pct(t.expected - t.lost, t.expected), t.lost, t.duplicated,
            t.out_of_order, t.unexpected, t.backlog);
  }
  const sim_hist *h = &r->lat_live;
  fprintf(f,
          "\nlatency (send -> delivery, live): p50 %.1f ms  p90 %.1f ms  "
          "p99 %.1f ms  max %.1f ms  (n=%" PRIu64 ")\n",
          ms(sim_hist_quantile(h, 0.5)), ms(sim_hist_quantile(h, 0.9)),
          ms(sim_hist_quantile(h, 0.99)), ms(h->n ? h->max : 0), h->n);
  h = &r->lat_backlog;
  fprintf(f,
          "latency (backlog after offline):  p50 %.1f ms  p90 %.1f ms  "
          "p99 %.1f ms  max %.1f ms  (n=%" PRIu64 ")\n",
          ms(sim_hist_quantile(h, 0.5)), ms(sim_hist_quantile(h, 0.9)),
          ms(sim_hist_quantile(h, 0.99)), ms(h->n ? h->max : 0), h->n);
  if (r->stopped_no_connect)
    fprintf(f, "drain: not reached, the run stopped early\n");
  else
    fprintf(f, "drain: %.1f s%s\n", (double)r->drain / 1e6,
            r->drain_cut ? ", cut off at --drain with deliveries still owed "
                           "(counted as lost)"
                         : ", until everything owed had arrived");
  fprintf(f, "throughput: %.1f messages/s sent, %.1f deliveries/s\n",
          msgs_per_s(r),
          r->send_end ? (double)TOTAL(r, delivered) / ((double)r->send_end / 1e6)
                      : 0);
  fprintf(f,
          "retransmissions: clients %.3f tx/body (%" PRIu64 " retrans of %" PRIu64
          ")",
          tx_per_body(r->client_tx_first, r->client_tx_retrans),
          r->client_tx_retrans, r->client_tx_first);
  if (r->embedded)
    fprintf(f, ", server %.3f tx/body (%" PRIu64 " retrans of %" PRIu64 ")",
            tx_per_body(r->client_rx_taken, r->srv.retransmissions),
            r->srv.retransmissions, r->client_rx_taken);
  fprintf(f, "; minimum at %.1f%% loss: %.3f tx/body\n", 100 * p,
          p < 1 ? 1 / (1 - p) : 0);
  fprintf(f,
          "network: up %" PRIu64 " offered, %" PRIu64 " lost, %" PRIu64
          " duplicated, %" PRIu64 " reordered, %" PRIu64
          " corrupted; down %" PRIu64 " offered, %" PRIu64 " lost, %" PRIu64
          " duplicated, %" PRIu64 " reordered, %" PRIu64 " corrupted\n",
          r->up.offered, r->up.dropped_loss + r->up.dropped_queue,
          r->up.duplicated, r->up.reordered, r->up.corrupted, r->down.offered,
          r->down.dropped_loss + r->down.dropped_queue, r->down.duplicated,
          r->down.reordered, r->down.corrupted);
  fprintf(f,
          "clients: %" PRIu64 " connects, %" PRIu64 " connect failures, %" PRIu64
          " sessions lost, %" PRIu64 " logouts, %" PRIu64 " abandoned, %" PRIu64
          " sends skipped (offline)\n",
          r->connects, r->connect_failures, r->sessions_lost, r->logouts,
          r->abandons, r->skipped_sends);
  if (r->send_errors)
    fprintf(f, "clients: %" PRIu64 " sends refused by the client core (last: %s)\n",
            r->send_errors, mc_strerror(r->last_send_error));
  if (r->embedded)
    fprintf(f,
            "server: %" PRIu64 " logins, %" PRIu64 " registrations, %" PRIu64
            " stored, %" PRIu64 " delivers sent, %" PRIu64 " acked, %" PRIu64
            " sessions ended (%" PRIu64 " timed out, %" PRIu64
            " gave up), %" PRIu64 " malformed, %" PRIu64 " bad session\n",
            r->srv.logins, r->srv.registrations, r->srv.messages_stored,
            r->srv.delivers_sent, r->srv.delivers_acked, r->srv.sessions_ended,
            r->srv.sessions_timed_out, r->srv.sessions_gave_up,
            r->srv.rx_malformed, r->srv.rx_bad_session);
  if (r->lag_n) {
    double mean = (double)r->lag_sum / (double)r->lag_n / 1000.0;
    fprintf(f, "real time: events ran %.2f ms late on average, %.1f ms at worst%s\n",
            mean, ms(r->lag_max),
            mean > 20 ? " - the simulator could not keep up; timers and "
                        "retransmissions reflect its overload (fewer "
                        "clients, or --server with the server elsewhere)"
                      : "");
  }
  if (r->stopped_no_connect)
    fprintf(f, "stopped early: every client's handshake went unanswered "
               "for --connect-timeout and none ever connected\n");
  if (cfg->n_thr > 0)
    fprintf(f, "thresholds:\n");
  for (int i = 0; i < cfg->n_thr; i++) {
    char v[32];
    sim_threshold_value(&cfg->thr[i], r->thr[i].value, v, sizeof v);
    fprintf(f, "  %-20s %12s  %s%s\n", cfg->thr[i].text,
            r->thr[i].state == SIM_THR_NO_DATA ? "-" : v,
            sim_threshold_state_name(r->thr[i].state),
            cfg->thr[i].is_default ? " (default)" : "");
  }
  char why[128];
  fprintf(f, "result: %s\n", sim_verdict_text(cfg, r, why, sizeof why));
}

const char *sim_verdict_text(const sim_config *cfg, const sim_result *r,
                             char *buf, size_t cap) {
  switch (sim_verdict_exit(r)) {
  case SIM_EXIT_VIOLATION:
    return "FAILED, a delivery guarantee was broken";
  case SIM_EXIT_NO_CONNECT:
    snprintf(buf, cap, "FAILED, no client connected to %s",
             cfg->server ? cfg->server : "the embedded server");
    return buf;
  case SIM_EXIT_THRESHOLD:
    snprintf(buf, cap, "FAILED, %d of %d thresholds failed", r->n_thr_failed,
             cfg->n_thr);
    return buf;
  default:
    return "OK, every delivery guarantee held and every threshold passed";
  }
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

static void json_hist(FILE *f, const char *name, const sim_hist *h) {
  fprintf(f,
          "  \"%s\": {\"n\": %" PRIu64 ", \"p50_ms\": %.3f, \"p90_ms\": %.3f, "
          "\"p99_ms\": %.3f, \"max_ms\": %.3f, \"mean_ms\": %.3f}",
          name, h->n, ms(sim_hist_quantile(h, 0.5)),
          ms(sim_hist_quantile(h, 0.9)), ms(sim_hist_quantile(h, 0.99)),
          ms(h->n ? h->max : 0), h->n ? h->sum / (double)h->n / 1000.0 : 0);
}

static void json_kind(FILE *f, const char *name, const sim_kind *k) {
  fprintf(f,
          "    \"%s\": {\"sent\": %" PRIu64 ", \"confirmed\": %" PRIu64
          ", \"unconfirmed\": %" PRIu64 ", \"refused\": %" PRIu64
          ", \"expected\": %" PRIu64 ", \"delivered\": %" PRIu64
          ", \"extra\": %" PRIu64 ", \"lost\": %" PRIu64
          ", \"duplicated\": %" PRIu64 ", \"out_of_order\": %" PRIu64
          ", \"unexpected\": %" PRIu64 ", \"backlog\": %" PRIu64 "}",
          name, k->sent, k->confirmed, k->sent - k->confirmed, k->refused,
          k->expected, k->delivered, k->extra, k->lost, k->duplicated,
          k->out_of_order, k->unexpected, k->backlog);
}

static FILE *report_open(const char *path, const char *flag) {
  FILE *f = fopen(path, "w");
  if (f == NULL)
    fprintf(stderr, "mychat-sim: --%s %s: %s\n", flag, path, strerror(errno));
  return f;
}

static int report_close(FILE *f, const char *path, const char *flag) {
  if (fclose(f) != 0) {
    fprintf(stderr, "mychat-sim: --%s %s: %s\n", flag, path, strerror(errno));
    return -1;
  }
  return 0;
}

int sim_report_json(const char *path, const sim_config *cfg,
                    const sim_result *r) {
  FILE *f = report_open(path, "json");
  if (f == NULL)
    return -1;
  double p = loss_rate(&cfg->net);
  fprintf(f, "{\n  \"ok\": %s,\n", sim_result_ok(r) ? "true" : "false");
  fprintf(f,
          "  \"config\": {\"clients\": %u, \"seed\": %" PRIu64
          ", \"embedded\": %s, \"loss\": %.6f, \"send_period_s\": %.3f},\n",
          cfg->clients, cfg->seed, r->embedded ? "true" : "false", p,
          (double)r->send_end / 1e6);
  fprintf(f,
          "  \"time\": {\"simulated_s\": %.3f, \"wall_s\": %.3f, \"cpu_s\": "
          "%.3f, \"events\": %" PRIu64 ", \"drain_s\": %.3f, "
          "\"drain_cut\": %s, \"lag_mean_ms\": %.3f, \"lag_max_ms\": %.3f},\n",
          (double)r->vtime / 1e6, r->wall_s, r->cpu_s, r->events,
          (double)r->drain / 1e6, r->drain_cut ? "true" : "false",
          r->lag_n ? (double)r->lag_sum / (double)r->lag_n / 1000.0 : 0,
          ms(r->lag_max));
  fprintf(f, "  \"messages\": {\n");
  for (int k = 0; k < SIM_K_N; k++) {
    json_kind(f, KIND_NAME[k], &r->k[k]);
    fprintf(f, ",\n");
  }
  sim_kind t = kind_total(r);
  json_kind(f, "all", &t);
  fprintf(f, "\n  },\n");
  fprintf(f, "  \"delivery_pct\": %.4f,\n",
          pct(t.expected - t.lost, t.expected));
  json_hist(f, "latency_live", &r->lat_live);
  fprintf(f, ",\n");
  json_hist(f, "latency_backlog", &r->lat_backlog);
  fprintf(f, ",\n");
  fprintf(f,
          "  \"throughput\": {\"messages_per_s\": %.3f, \"deliveries_per_s\": "
          "%.3f, \"cpu_us_per_message\": %.3f, \"cpu_us_per_delivery\": "
          "%.3f},\n",
          msgs_per_s(r),
          r->send_end ? (double)t.delivered / ((double)r->send_end / 1e6) : 0,
          t.sent ? r->cpu_s * 1e6 / (double)t.sent : 0,
          t.delivered ? r->cpu_s * 1e6 / (double)t.delivered : 0);
  fprintf(f,
          "  \"retransmissions\": {\"client_tx_first\": %" PRIu64
          ", \"client_tx_retrans\": %" PRIu64
          ", \"client_tx_per_body\": %.4f, \"server_retrans\": %" PRIu64
          ", \"server_tx_per_body\": %.4f, \"server_retrans_per_delivery\": "
          "%.4f, \"min_tx_per_body\": %.4f},\n",
          r->client_tx_first, r->client_tx_retrans,
          tx_per_body(r->client_tx_first, r->client_tx_retrans),
          r->srv.retransmissions,
          tx_per_body(r->client_rx_taken, r->srv.retransmissions),
          t.delivered ? (double)r->srv.retransmissions / (double)t.delivered
                      : 0,
          p < 1 ? 1 / (1 - p) : 0);
  fprintf(f,
          "  \"clients\": {\"connects\": %" PRIu64
          ", \"connect_failures\": %" PRIu64 ", \"sessions_lost\": %" PRIu64
          ", \"logouts\": %" PRIu64 ", \"abandons\": %" PRIu64
          ", \"skipped_sends\": %" PRIu64 ", \"send_errors\": %" PRIu64
          ", \"receipts\": %" PRIu64
          ", \"presence\": %" PRIu64 "},\n",
          r->connects, r->connect_failures, r->sessions_lost, r->logouts,
          r->abandons, r->skipped_sends, r->send_errors, r->receipts,
          r->presence);
  fprintf(f,
          "  \"network\": {\"up_offered\": %" PRIu64 ", \"up_lost\": %" PRIu64
          ", \"up_duplicated\": %" PRIu64 ", \"down_offered\": %" PRIu64
          ", \"down_lost\": %" PRIu64 ", \"down_duplicated\": %" PRIu64
          ", \"datagrams\": %" PRIu64 "},\n",
          r->up.offered, r->up.dropped_loss + r->up.dropped_queue,
          r->up.duplicated, r->down.offered,
          r->down.dropped_loss + r->down.dropped_queue, r->down.duplicated,
          r->dgrams_up + r->dgrams_down);
  if (r->embedded)
    fprintf(f,
            "  \"server\": {\"logins\": %" PRIu64 ", \"registrations\": %" PRIu64
            ", \"messages_stored\": %" PRIu64 ", \"delivers_sent\": %" PRIu64
            ", \"delivers_acked\": %" PRIu64 ", \"retransmissions\": %" PRIu64
            ", \"sessions_ended\": %" PRIu64 ", \"sessions_timed_out\": %" PRIu64
            ", \"sessions_gave_up\": %" PRIu64 ", \"rx_malformed\": %" PRIu64
            ", \"sessions_at_end\": %u},\n",
            r->srv.logins, r->srv.registrations, r->srv.messages_stored,
            r->srv.delivers_sent, r->srv.delivers_acked,
            r->srv.retransmissions, r->srv.sessions_ended,
            r->srv.sessions_timed_out, r->srv.sessions_gave_up,
            r->srv.rx_malformed, r->srv.sessions);
  fprintf(f, "  \"per_second\": [");
  for (size_t i = 0; i < r->n_tick; i++)
    fprintf(f, "%s\n    {\"t\": %zu, \"sent\": %" PRIu64 ", \"delivered\": %" PRIu64
               ", \"owed\": %" PRIu64 ", \"datagrams\": %" PRIu64 "}",
            i ? "," : "", i, r->tick[i].sent, r->tick[i].delivered,
            r->tick[i].owed, r->tick[i].dgrams);
  fprintf(f, "\n  ]\n}\n");
  return report_close(f, path, "json");
}

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
  FILE *f = report_open(path, "html");
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
  return report_close(f, path, "html");
}
