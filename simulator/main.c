/*
 * main.c: mychat-sim's entry point: options, the run, the reports.
 */
#include <stdlib.h>

#include "sim.h"

int main(int argc, char **argv) {
  sim_config cfg;
  int rv = sim_opts_parse(&cfg, argc, argv);
  if (rv != 0)
    return rv > 0 ? SIM_EXIT_OK : SIM_EXIT_USAGE;
  sim_result res;
  if (sim_run(&cfg, &res) < 0) {
    free(res.tick);
    return SIM_EXIT_ERROR;
  }
  sim_report_table(stdout, &cfg, &res);
  int status = sim_result_ok(&res) ? SIM_EXIT_OK : SIM_EXIT_VIOLATION;
  if (cfg.json && sim_report_json(cfg.json, &cfg, &res) < 0)
    status = SIM_EXIT_ERROR;
  if (cfg.html && sim_report_html(cfg.html, &cfg, &res) < 0)
    status = SIM_EXIT_ERROR;
  free(res.tick);
  return status;
}
