/*
 * sim_report.c: mychat-sim's results as a table on stdout, the figures the
 * table, the JSON (sim_json.c) and the HTML page (sim_html.c) share, and
 * the opening and closing of report files.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "mc_error.h"
#include "sim.h"

const char *const SIM_KIND_NAME[SIM_K_N] = {"group", "direct"};

static uint64_t total(const sim_result *r, size_t off) {
  uint64_t t = 0;
  for (int k = 0; k < SIM_K_N; k++)
    t += *(const uint64_t *)((const char *)&r->k[k] + off);
  return t;
}

#define TOTAL(r, field) total((r), offsetof(sim_kind, field))

/* Every kind added up. */
sim_kind sim_kind_total(const sim_result *r) {
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

double sim_pct(uint64_t a, uint64_t b) {
  return b ? 100.0 * (double)a / (double)b : 100.0;
}

/* Loss rate of a datagram under the configured model: the Bernoulli rate,
 * or Gilbert-Elliott's long-run rate. */
double sim_loss_rate(const mc_netem_config *n) {
  if (!n->ge)
    return n->loss;
  double sum = n->ge_p + n->ge_r;
  double bad = sum > 0 ? n->ge_p / sum : 0;
  return bad * n->ge_1h + (1 - bad) * n->ge_1k;
}

/* Transmissions per reliable body; the least possible at datagram loss p
 * is 1/(1-p). The server's first transmissions are counted as the bodies
 * the clients took, which leaves out the few that never arrived. */
double sim_tx_per_body(uint64_t first, uint64_t retrans) {
  return first ? (double)(first + retrans) / (double)first : 0;
}

double sim_msgs_per_s(const sim_result *r) {
  return r->send_end ? (double)TOTAL(r, sent) / ((double)r->send_end / 1e6)
                     : 0;
}

void sim_report_table(FILE *f, const sim_config *cfg, const sim_result *r) {
  double p = sim_loss_rate(&cfg->net);
  fprintf(f, "mychat-sim: %u clients, %s server, seed %" PRIu64 "%s%s\n",
          cfg->clients,
          cfg->server         ? cfg->server
          : cfg->embedded_udp ? "embedded over loopback UDP (real time)"
                              : "embedded (virtual time)",
          cfg->seed, cfg->scenario ? ", scenario " : "",
          cfg->scenario ? cfg->scenario : "");
  fprintf(f,
          "time %.1f s simulated, %.2f s wall, %.2f s CPU (%u thread%s); %" PRIu64
          " events, %" PRIu64 " datagrams\n\n",
          (double)r->vtime / 1e6, r->wall_s, r->cpu_s, r->threads,
          r->threads == 1 ? "" : "s", r->events,
          r->dgrams_up + r->dgrams_down);
  fprintf(f, "%-8s %9s %9s %9s %10s %10s %7s %6s %6s %6s %6s %8s\n", "kind",
          "sent", "confirmed", "unconf", "expected", "delivered", "deliv%",
          "lost", "dup", "order", "unexp", "backlog");
  for (int k = 0; k <= SIM_K_N; k++) {
    sim_kind t = k < SIM_K_N ? r->k[k] : sim_kind_total(r);
    fprintf(f,
            "%-8s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %10" PRIu64
            " %10" PRIu64 " %6.2f%% %6" PRIu64 " %6" PRIu64 " %6" PRIu64
            " %6" PRIu64 " %8" PRIu64 "\n",
            k < SIM_K_N ? SIM_KIND_NAME[k] : "all", t.sent, t.confirmed,
            t.sent - t.confirmed, t.expected, t.delivered,
            sim_pct(t.expected - t.lost, t.expected), t.lost, t.duplicated,
            t.out_of_order, t.unexpected, t.backlog);
  }
  const sim_hist *h = &r->lat_live;
  fprintf(f,
          "\nlatency (send -> delivery, live): p50 %.1f ms  p90 %.1f ms  "
          "p99 %.1f ms  max %.1f ms  (n=%" PRIu64 ")\n",
          sim_ms(sim_hist_quantile(h, 0.5)), sim_ms(sim_hist_quantile(h, 0.9)),
          sim_ms(sim_hist_quantile(h, 0.99)), sim_ms(h->n ? h->max : 0), h->n);
  h = &r->lat_backlog;
  fprintf(f,
          "latency (backlog after offline):  p50 %.1f ms  p90 %.1f ms  "
          "p99 %.1f ms  max %.1f ms  (n=%" PRIu64 ")\n",
          sim_ms(sim_hist_quantile(h, 0.5)), sim_ms(sim_hist_quantile(h, 0.9)),
          sim_ms(sim_hist_quantile(h, 0.99)), sim_ms(h->n ? h->max : 0), h->n);
  if (r->stopped_no_connect)
    fprintf(f, "drain: not reached, the run stopped early\n");
  else
    fprintf(f, "drain: %.1f s%s\n", (double)r->drain / 1e6,
            r->drain_cut ? ", cut off at --drain with deliveries still owed "
                           "(counted as lost)"
                         : ", until everything owed had arrived");
  fprintf(f, "throughput: %.1f messages/s sent, %.1f deliveries/s\n",
          sim_msgs_per_s(r),
          r->send_end ? (double)TOTAL(r, delivered) / ((double)r->send_end / 1e6)
                      : 0);
  fprintf(f,
          "retransmissions: clients %.3f tx/body (%" PRIu64 " retrans of %" PRIu64
          ")",
          sim_tx_per_body(r->client_tx_first, r->client_tx_retrans),
          r->client_tx_retrans, r->client_tx_first);
  if (r->embedded)
    fprintf(f, ", server %.3f tx/body (%" PRIu64 " retrans of %" PRIu64 ")",
            sim_tx_per_body(r->client_rx_taken, r->srv.retransmissions),
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
  if (r->open_at_end)
    fprintf(f,
            "clients: %" PRIu64 " session%s still open at the end: the final "
            "logout had not completed within the grace after the drain\n",
            r->open_at_end, r->open_at_end == 1 ? "" : "s");
  if (r->connect_rate_limited)
    fprintf(f,
            "clients: %" PRIu64 " of the connect failures were the server's "
            "login rate limit (%u clients share %u source address%s: more "
            "--sockets, or a higher limit on the server)\n",
            r->connect_rate_limited, cfg->clients, cfg->sockets,
            cfg->sockets == 1 ? "" : "es");
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
            mean, sim_ms(r->lag_max),
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

FILE *sim_report_open(const char *path, const char *flag,
                      const char *mode) {
  FILE *f = fopen(path, mode);
  if (f == NULL)
    fprintf(stderr, "mychat-sim: --%s %s: %s\n", flag, path, strerror(errno));
  return f;
}

int sim_report_close(FILE *f, const char *path, const char *flag) {
  if (fclose(f) != 0) {
    fprintf(stderr, "mychat-sim: --%s %s: %s\n", flag, path, strerror(errno));
    return -1;
  }
  return 0;
}

