/*
 * main.c: mychat-sim's entry point: options, the run, the reports.
 */
#include <stdlib.h>

#include "sim.h"

int main(int argc, char **argv) {
  sim_config cfg;
  int rv = sim_opts_parse(&cfg, argc, argv);
  if (rv != 0) {
    sim_opts_free();
    return rv > 0 ? SIM_EXIT_OK : SIM_EXIT_USAGE;
  }
  static sim_result res; /* large (histograms); zeroed */
  if (sim_run(&cfg, &res) < 0) {
    free(res.tick);
    sim_opts_free();
    return SIM_EXIT_ERROR;
  }
  sim_verdict_eval(&cfg, &res);
  sim_report_table(stdout, &cfg, &res);
  int status = sim_verdict_exit(&res);
  if (cfg.json && sim_report_json(cfg.json, &cfg, &res) < 0)
    status = SIM_EXIT_ERROR;
  if (cfg.html && sim_report_html(cfg.html, &cfg, &res) < 0)
    status = SIM_EXIT_ERROR;
  free(res.tick);
  sim_opts_free();
  return status;
}
