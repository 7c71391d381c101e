/*
 * sim_json.h: the run as jansson values, for --json and the HTML report
 * (which shows the same configuration the JSON holds).
 */
#ifndef SIM_JSON_H
#define SIM_JSON_H

#include <jansson.h>

#include "sim.h"

/* The whole configuration of the run: mode, sizes, seed, network at the
 * start, phases, offline events, network changes, thresholds. Returns a
 * new reference, or NULL when out of memory. */
json_t *sim_json_config(const sim_config *cfg, const sim_result *r);

/* Every threshold with its measured value and verdict; NULL when out of
 * memory. */
json_t *sim_json_thresholds(const sim_config *cfg, const sim_result *r);

#endif
