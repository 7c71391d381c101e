/*
 * mc_report.h: mychat-conform's reports, as h2spec's and Autobahn
 * Testsuite's: for every requirement of PROTOCOL.md the cases that check
 * it and their verdicts (those no case checks, with the reason), and an
 * implementation x case grid; as JSON (jansson) and as one self-contained
 * HTML file. One implementation, or several (the matrix mode).
 */
#ifndef MC_REPORT_H
#define MC_REPORT_H

#include <stddef.h>

#include "mc_spec.h"

/* One case's result for one implementation. The strings belong to the
 * caller and must outlive the report call. */
typedef struct {
  const char *name, *suite, *desc;
  const int *requires;
  int n_requires;
  const char *verdict;          /* PASS, FAIL, NON-STRICT, UNSUPPORTED,
                                   SKIPPED */
  const char *detail;           /* the reason or the failure report, or
                                   NULL */
  double secs;
  /* The link the case ran on: "clean", or the impairments it took (an
   * "impair:" value of a .case file: "all both", "loss c2s; dup s2c",
   * "none"), and why not all the run asked for (NULL when all). */
  const char *link, *link_why;
  int runs, passes;             /* --repeat: runs made, passes among them */
} mc_report_case;

/* One implementation's run: the same cases, in the same order, for every
 * implementation of a report. */
typedef struct {
  const char *name, *version, *statement;
  const mc_report_case *cases;
  size_t n_cases;
} mc_report_impl;

typedef struct {
  const char *spec_path;
  const char *link;             /* "clean", or the impairment */
  int strict;
  int repeat;                   /* runs per case */
} mc_report_meta;

/* Writes the JSON report (|html| 0) or the HTML one (|html| 1) of |n|
 * implementations to |path|. Returns 0, or -1 with a message in |err|. */
int mc_report_write(const char *path, int html, const mc_spec *spec,
                    const mc_report_meta *meta, const mc_report_impl *impls,
                    size_t n, char *err, size_t errlen);

/* The 95 % Wilson score interval of |passes| out of |runs|. */
void mc_report_wilson(int passes, int runs, double *lo, double *hi);

#endif
