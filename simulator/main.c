/*
 * main.c: mychat-sim's entry point: options, the run, the reports.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"

int main(int argc, char **argv) {
  sim_config cfg;
  int rv = sim_opts_parse(&cfg, argc, argv);
  if (rv != 0) {
    sim_opts_free();
    return rv > 0 ? SIM_EXIT_OK : SIM_EXIT_USAGE;
  }
  /* A report that cannot be written is found before a long run, not
   * after it. Opening for append creates the file and keeps its bytes. */
  FILE *f;
  const char *path[2] = {cfg.json, cfg.html}, *flag[2] = {"json", "html"};
  for (int i = 0; i < 2; i++) {
    if (path[i] == NULL)
      continue;
    if ((f = sim_report_open(path[i], flag[i], "a")) == NULL ||
        sim_report_close(f, path[i], flag[i]) < 0) {
      sim_opts_free();
      return SIM_EXIT_ERROR;
    }
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
