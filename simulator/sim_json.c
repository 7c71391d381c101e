/*
 * sim_json.c: mychat-sim's --json, built with jansson (escaping, structure
 * and number formatting are the library's, not ours).
 *
 * In the virtual mode the file depends only on the configuration and the
 * seed: two runs give the same bytes (tests/integration/sim.sh compares
 * them). That is why the wall and CPU time, which depend on the host, are
 * left out unless --json-host asks for them.
 */
#include <stdlib.h>

#include "sim_json.h"

/* Reals with at most 12 significant digits: 0.1 as 0.1, not as the 17
 * digits of the nearest double. Keys keep the order they were added in. */
#define DUMP_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(12))

static json_int_t I(uint64_t v) {
  return v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v;
}

static double sec(mc_tstamp t) { return (double)t / 1e6; }

/* Adds |v| to |o| under |k|; returns 1 when |v| is NULL (out of memory)
 * or could not be added, so that failures can be or-ed together. */
static int put(json_t *o, const char *k, json_t *v) {
  return json_object_set_new(o, k, v) < 0;
}

/* Appends |v| to |a|, as put(). */
static int push(json_t *a, json_t *v) { return json_array_append_new(a, v) < 0; }

/* Returns |o|, or NULL (freeing |o|) when |bad|. */
static json_t *unless(int bad, json_t *o) {
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *net_json(const mc_netem_config *n) {
  /* The loss model and its own parameters first. */
  json_t *o = json_pack("{s:s}", "loss_model",
                        n->ge ? "gilbert-elliott" : "bernoulli");
  if (o == NULL)
    return NULL;
  int bad = n->ge ? put(o, "ge_pct",
                        json_pack("{s:f, s:f, s:f, s:f}", "p", 100 * n->ge_p,
                                  "r", 100 * n->ge_r, "1-h", 100 * n->ge_1h,
                                  "1-k", 100 * n->ge_1k))
                  : put(o, "loss_pct", json_real(100 * n->loss));
  json_t *rest = json_pack(
      "{s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I}", "loss_rate_pct",
      100 * sim_loss_rate(n), "delay_ms", sim_ms(n->delay), "jitter_ms",
      sim_ms(n->jitter), "duplicate_pct", 100 * n->duplicate, "reorder_pct",
      100 * n->reorder, "corrupt_pct", 100 * n->corrupt, "rate_limit_bps",
      I(n->rate_bps), "queue_limit", (json_int_t)n->queue_limit);
  bad |= rest == NULL || json_object_update(o, rest) < 0;
  json_decref(rest);
  return unless(bad, o);
}

static const char *const OFF_MODE[] = {"abandon", "logout", "mix"};

json_t *sim_json_config(const sim_config *cfg, const sim_result *r) {
  json_t *phases = json_array(), *off = json_array(), *chg = json_array();
  int bad = phases == NULL || off == NULL || chg == NULL;
  mc_tstamp start = 0;
  for (int i = 0; !bad && i < cfg->n_phase; i++) {
    const sim_phase *p = &cfg->phase[i];
    bad |= push(
        phases, json_pack("{s:f, s:f, s:f, s:f}", "start_s", sec(start),
                          "length_s", sec(p->len), "rate_per_s", p->rate,
                          "direct_pct", 100 * p->direct));
    start += p->len;
  }
  for (int i = 0; !bad && i < cfg->n_off; i++) {
    const sim_offline *o = &cfg->off[i];
    bad |= push(
        off, json_pack("{s:f, s:o, s:f, s:s}", "share_pct", 100 * o->share,
                       "at_s", o->random_at ? json_string("random")
                                            : json_real(sec(o->at)),
                       "length_s", sec(o->len), "mode", OFF_MODE[o->mode]));
  }
  for (int i = 0; !bad && i < cfg->n_chg; i++)
    bad |= push(chg, json_pack("{s:f, s:o}", "at_s",
                                         sec(cfg->chg[i].at), "network",
                                         net_json(&cfg->chg[i].net)));
  if (bad) {
    json_decref(phases);
    json_decref(off);
    json_decref(chg);
    return NULL;
  }
  return json_pack(
      "{s:s, s:s?, s:s?, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:f, s:f, s:f, "
      "s:f, s:b, s:o, s:o, s:o, s:o}",
      "mode",
      cfg->server         ? "server"
      : cfg->embedded_udp ? "embedded-udp"
                          : "virtual",
      "server", cfg->server, "scenario", cfg->scenario, "seed", I(cfg->seed),
      "clients", (json_int_t)cfg->clients, "groups", (json_int_t)r->groups,
      "memberships", (json_int_t)cfg->memberships, "text_len",
      (json_int_t)cfg->text_len, "names", cfg->names, "sockets",
      (json_int_t)(cfg->server || cfg->embedded_udp ? cfg->sockets : 0),
      "ramp_s", sec(cfg->ramp), "send_period_s", sec(sim_send_period(cfg)),
      "drain_max_s", sec(cfg->drain), "connect_timeout_s",
      sec(cfg->connect_timeout), "corrupt_undetected",
      cfg->corrupt_undetected, "network", net_json(&cfg->net), "phases",
      phases, "offline", off, "network_changes", chg);
}

static const char *const OP_NAME[] = {"<", "<=", ">", ">="};
static const char *const STATE_NAME[] = {"pass", "fail", "no_data"};

json_t *sim_json_thresholds(const sim_config *cfg, const sim_result *r) {
  json_t *a = json_array();
  int bad = a == NULL;
  for (int i = 0; !bad && i < cfg->n_thr; i++) {
    const sim_threshold *t = &cfg->thr[i];
    bad |= push(
        a, json_pack("{s:s, s:s, s:f, s:s, s:o, s:s, s:b}", "expr", t->text,
                     "op", OP_NAME[t->op], "limit", t->limit, "unit",
                     sim_threshold_unit(t), "value",
                     r->thr[i].state == SIM_THR_NO_DATA
                         ? json_null()
                         : json_real(r->thr[i].value),
                     "state", STATE_NAME[r->thr[i].state], "default",
                     t->is_default));
  }
  return unless(bad, a);
}

static json_t *hist_json(const sim_hist *h) {
  return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "n", I(h->n),
                   "p50_ms", sim_ms(sim_hist_quantile(h, 0.5)), "p90_ms",
                   sim_ms(sim_hist_quantile(h, 0.9)), "p95_ms",
                   sim_ms(sim_hist_quantile(h, 0.95)), "p99_ms",
                   sim_ms(sim_hist_quantile(h, 0.99)), "max_ms",
                   sim_ms(h->n ? h->max : 0), "mean_ms",
                   h->n ? h->sum / (double)h->n / 1000.0 : 0.0);
}

static json_t *kind_json(const sim_kind *k) {
  return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                   "s:I}",
                   "sent", I(k->sent), "confirmed", I(k->confirmed),
                   "unconfirmed", I(k->sent - k->confirmed), "refused",
                   I(k->refused), "expected", I(k->expected), "delivered",
                   I(k->delivered), "extra", I(k->extra), "lost", I(k->lost),
                   "duplicated", I(k->duplicated), "out_of_order",
                   I(k->out_of_order), "unexpected", I(k->unexpected),
                   "backlog", I(k->backlog));
}

static json_t *per_second_json(const sim_result *r) {
  json_t *a = json_array();
  int bad = a == NULL;
  for (size_t i = 0; !bad && i < r->n_tick; i++) {
    const sim_tick *t = &r->tick[i];
    bad |= push(
        a, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, "
                     "s:f}",
                     "t", I(i), "sent", I(t->sent), "delivered",
                     I(t->delivered), "owed", I(t->owed), "datagrams",
                     I(t->dgrams), "online", (json_int_t)t->online, "lat_n",
                     I(t->lat_n), "p50_ms", sim_ms(t->p50), "p95_ms",
                     sim_ms(t->p95), "p99_ms", sim_ms(t->p99), "max_ms",
                     sim_ms(t->max)));
  }
  return unless(bad, a);
}

static json_t *run_json(const sim_config *cfg, const sim_result *r) {
  sim_kind t = sim_kind_total(r);
  double p = sim_loss_rate(&cfg->net);
  double send_s = sec(r->send_end);
  char why[128];
  json_t *o = json_pack(
      "{s:s, s:b, s:i, s:s, s:b, s:o, s:o}", "generator",
      "mychat-sim " SIM_VERSION, "ok", sim_result_ok(r), "exit_status",
      sim_verdict_exit(r), "result", sim_verdict_text(cfg, r, why, sizeof why),
      "stopped_no_connect", r->stopped_no_connect, "config",
      sim_json_config(cfg, r), "thresholds", sim_json_thresholds(cfg, r));
  if (o == NULL)
    return NULL;
  json_t *time = json_pack("{s:f, s:f, s:b, s:I}", "simulated_s",
                           sec(r->vtime), "drain_s", sec(r->drain),
                           "drain_cut", r->drain_cut, "events", I(r->events));
  int bad = time == NULL;
  if (!bad && r->lag_n) /* real time only: how late events ran */
    bad |= put(time, "lag_mean_ms",
               json_real((double)r->lag_sum / (double)r->lag_n / 1000.0)) |
           put(time, "lag_max_ms", json_real(sim_ms(r->lag_max)));
  bad |= put(o, "time", time);
  bad |= put(
      o, "messages",
      json_pack("{s:o, s:o, s:o}", SIM_KIND_NAME[SIM_K_GROUP],
                kind_json(&r->k[SIM_K_GROUP]), SIM_KIND_NAME[SIM_K_DIRECT],
                kind_json(&r->k[SIM_K_DIRECT]), "all", kind_json(&t)));
  bad |= put(o, "delivery_pct",
                      json_real(sim_pct(t.expected - t.lost, t.expected)));
  bad |= put(o, "latency_live", hist_json(&r->lat_live));
  bad |= put(o, "latency_backlog", hist_json(&r->lat_backlog));
  bad |= put(
      o, "throughput",
      json_pack("{s:f, s:f}", "messages_per_s", sim_msgs_per_s(r),
                "deliveries_per_s",
                send_s > 0 ? (double)t.delivered / send_s : 0.0));
  bad |= put(
      o, "retransmissions",
      json_pack("{s:I, s:I, s:f, s:I, s:f, s:f, s:f}", "client_tx_first",
                I(r->client_tx_first), "client_tx_retrans",
                I(r->client_tx_retrans), "client_tx_per_body",
                sim_tx_per_body(r->client_tx_first, r->client_tx_retrans),
                "server_retrans", I(r->srv.retransmissions),
                "server_tx_per_body",
                sim_tx_per_body(r->client_rx_taken, r->srv.retransmissions),
                "server_retrans_per_delivery",
                t.delivered ? (double)r->srv.retransmissions /
                                  (double)t.delivered
                            : 0.0,
                "min_tx_per_body", p < 1 ? 1 / (1 - p) : 0.0));
  bad |= put(
      o, "clients",
      json_pack("{s:I, s:I, s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                "connects", I(r->connects), "connect_failures",
                I(r->connect_failures), "connect_rate_limited",
                I(r->connect_rate_limited), "last_connect_error_code",
                r->last_connect_code, "sessions_lost", I(r->sessions_lost),
                "logouts", I(r->logouts), "abandons", I(r->abandons),
                "open_at_end", I(r->open_at_end), "skipped_sends",
                I(r->skipped_sends), "send_errors", I(r->send_errors), "receipts", I(r->receipts), "presence",
                I(r->presence)));
  bad |= put(
      o, "network",
      json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                "up_offered", I(r->up.offered), "up_lost",
                I(r->up.dropped_loss + r->up.dropped_queue), "up_duplicated",
                I(r->up.duplicated), "up_reordered", I(r->up.reordered),
                "up_corrupted", I(r->up.corrupted), "down_offered",
                I(r->down.offered), "down_lost",
                I(r->down.dropped_loss + r->down.dropped_queue),
                "down_duplicated", I(r->down.duplicated), "down_reordered",
                I(r->down.reordered), "down_corrupted", I(r->down.corrupted),
                "datagrams", I(r->dgrams_up + r->dgrams_down)));
  if (r->embedded)
    bad |= put(
        o, "server",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                  "logins", I(r->srv.logins), "registrations",
                  I(r->srv.registrations), "messages_stored",
                  I(r->srv.messages_stored), "delivers_sent",
                  I(r->srv.delivers_sent), "delivers_acked",
                  I(r->srv.delivers_acked), "retransmissions",
                  I(r->srv.retransmissions), "sessions_ended",
                  I(r->srv.sessions_ended), "sessions_timed_out",
                  I(r->srv.sessions_timed_out), "sessions_gave_up",
                  I(r->srv.sessions_gave_up), "rx_malformed",
                  I(r->srv.rx_malformed), "sessions_at_end",
                  (json_int_t)r->srv.sessions));
  if (cfg->json_host)
    bad |= put(
        o, "host",
        json_pack("{s:f, s:f, s:I, s:f, s:f, s:f}", "wall_s", r->wall_s,
                  "cpu_s", r->cpu_s, "threads", (json_int_t)r->threads,
                  "max_rss_mb", r->max_rss_mb, "cpu_us_per_message",
                  t.sent ? r->cpu_s * 1e6 / (double)t.sent : 0.0,
                  "cpu_us_per_delivery",
                  t.delivered ? r->cpu_s * 1e6 / (double)t.delivered : 0.0));
  bad |= put(o, "per_second", per_second_json(r));
  return unless(bad, o);
}

int sim_report_json(const char *path, const sim_config *cfg,
                    const sim_result *r) {
  json_t *o = run_json(cfg, r);
  if (o == NULL) {
    fprintf(stderr, "mychat-sim: --json %s: cannot build the JSON (out of "
                    "memory, or a path that is not UTF-8)\n", path);
    return -1;
  }
  FILE *f = sim_report_open(path, "json", "w");
  if (f == NULL) {
    json_decref(o);
    return -1;
  }
  int rv = json_dumpf(o, f, DUMP_FLAGS);
  json_decref(o);
  if (rv == 0)
    fputc('\n', f);
  int closed = sim_report_close(f, path, "json");
  return rv < 0 || closed < 0 ? -1 : 0;
}
