/*
 * mc_report.c: JSON and HTML reports (see mc_report.h).
 */
#include "mc_report.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void mc_report_wilson(int passes, int runs, double *lo, double *hi) {
  if (runs <= 0) {
    *lo = 0;
    *hi = 1;
    return;
  }
  const double z = 1.959963984540054, n = runs, p = passes / n;
  double d = 1 + z * z / n, mid = (p + z * z / (2 * n)) / d;
  double half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d;
  *lo = mid - half < 0 ? 0 : mid - half;
  *hi = mid + half > 1 ? 1 : mid + half;
}

/* Verdicts from worst to best: a requirement takes the worst verdict of
 * the cases that check it and ran, else the first that did not run. */
static int rank(const char *v) {
  static const char *const order[] = {"FAIL", "NON-STRICT", "PASS",
                                      "UNSUPPORTED", "SKIPPED"};
  for (int i = 0; i < 5; i++)
    if (strcmp(v, order[i]) == 0)
      return i;
  return 5;
}

static int cites(const mc_report_case *c, int id) {
  for (int k = 0; k < c->n_requires; k++)
    if (c->requires[k] == id)
      return 1;
  return 0;
}

/* The verdict of requirement |id| for |im|, or NULL when no case cites it. */
static const char *req_verdict(const mc_report_impl *im, int id) {
  const char *best = NULL;
  for (size_t i = 0; i < im->n_cases; i++)
    if (cites(&im->cases[i], id) &&
        (best == NULL || rank(im->cases[i].verdict) < rank(best)))
      best = im->cases[i].verdict;
  return best;
}

static const char *unchecked_reason(const mc_spec_req *r) {
  return r->wire ? "tagged [wire], but no case of this run cites it"
                 : "not [wire]: binds clients or server internals that "
                   "datagrams do not show (PROTOCOL.md 1.1)";
}

static void stamp(char *b, size_t cap) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(b, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- JSON ---- */

static json_t *case_json(const mc_report_case *c) {
  json_t *req = json_array();
  for (int k = 0; k < c->n_requires; k++)
    json_array_append_new(req, json_sprintf("MC-%d", c->requires[k]));
  json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:f, s:i, s:i}", "name",
                        c->name, "suite", c->suite, "description", c->desc,
                        "requires", req, "verdict", c->verdict, "seconds",
                        c->secs, "runs", c->runs, "passes", c->passes);
  if (c->detail != NULL && c->detail[0] != '\0')
    json_object_set_new(o, "detail", json_string(c->detail));
  json_object_set_new(o, "link", json_string(c->link));
  if (c->link_why != NULL)
    json_object_set_new(o, "link_why", json_string(c->link_why));
  if (c->runs > 1) {
    double lo, hi;
    mc_report_wilson(c->passes, c->runs, &lo, &hi);
    json_object_set_new(o, "pass_rate",
                        json_real((double)c->passes / c->runs));
    json_object_set_new(o, "wilson95", json_pack("[f,f]", lo, hi));
  }
  return o;
}

static json_t *counts_json(const mc_report_impl *im) {
  json_t *o = json_pack("{s:i, s:i, s:i, s:i, s:i}", "PASS", 0, "FAIL", 0,
                        "NON-STRICT", 0, "UNSUPPORTED", 0, "SKIPPED", 0);
  for (size_t i = 0; i < im->n_cases; i++) {
    json_t *v = json_object_get(o, im->cases[i].verdict);
    if (v != NULL)
      json_integer_set(v, json_integer_value(v) + 1);
  }
  return o;
}

static int write_json(FILE *f, const mc_spec *spec, const mc_report_meta *m,
                      const mc_report_impl *impls, size_t n) {
  char when[32];
  stamp(when, sizeof when);
  json_t *root = json_pack("{s:s, s:s, s:s, s:s, s:b, s:i}", "tool",
                           "mychat-conform", "generated", when, "spec",
                           m->spec_path, "link", m->link, "strict",
                           m->strict, "repeat", m->repeat);
  json_t *ja = json_array();
  for (size_t k = 0; k < n; k++) {
    json_t *cs = json_array();
    for (size_t i = 0; i < impls[k].n_cases; i++)
      json_array_append_new(cs, case_json(&impls[k].cases[i]));
    json_array_append_new(
        ja, json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", impls[k].name,
                      "version", impls[k].version, "statement",
                      impls[k].statement, "counts", counts_json(&impls[k]),
                      "cases", cs));
  }
  json_object_set_new(root, "implementations", ja);
  json_t *rs = json_array();
  for (size_t r = 0; r < spec->n; r++) {
    const mc_spec_req *q = &spec->reqs[r];
    /* One verdict per implementation, in their order (null: no case). */
    json_t *names = json_array(), *verdicts = json_array();
    if (n > 0)
      for (size_t i = 0; i < impls[0].n_cases; i++)
        if (cites(&impls[0].cases[i], q->id))
          json_array_append_new(names, json_string(impls[0].cases[i].name));
    for (size_t k = 0; k < n; k++) {
      const char *v = req_verdict(&impls[k], q->id);
      json_array_append_new(verdicts, v ? json_string(v) : json_null());
    }
    json_t *o = json_pack("{s:o, s:s, s:b, s:s, s:s, s:o}", "id",
                          json_sprintf("MC-%d", q->id), "level",
                          mc_spec_level_name(q->level), "wire", q->wire,
                          "section", q->section, "summary", q->summary,
                          "cases", names);
    if (json_array_size(names) == 0)
      json_object_set_new(o, "unchecked", json_string(unchecked_reason(q)));
    json_object_set_new(o, "verdicts", verdicts);
    json_array_append_new(rs, o);
  }
  json_object_set_new(root, "requirements", rs);
  int rv = json_dumpf(root, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
  fputc('\n', f);
  json_decref(root);
  return rv;
}

/* ---- HTML ---- */

/* HTML text; in an attribute (|attr|) newlines are character references,
 * so that each table row stays on one line of the file. */
static void esc_in(FILE *f, const char *s, int attr) {
  for (; s != NULL && *s; s++) {
    switch (*s) {
    case '\n':
      fputs(attr ? "&#10;" : "\n", f);
      break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

static void esc(FILE *f, const char *s) { esc_in(f, s, 0); }

static const char *css_class(const char *v) {
  static const char *const cls[] = {"fail", "nonstrict", "pass", "unsup",
                                    "skip", "none"};
  return cls[v ? rank(v) : 5];
}

static const char style[] =
    "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;"
    "margin:24px;color:#1d2330;background:#fff}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;"
    "border-bottom:2px solid #dde2ea;padding-bottom:4px}"
    ".meta{color:#555;margin-bottom:12px}"
    "table{border-collapse:collapse;margin:6px 0}"
    "th,td{border:1px solid #d3d8e0;padding:3px 8px;text-align:left;"
    "vertical-align:top}th{background:#eef1f6;position:sticky;top:0}"
    "td.v{text-align:center;font-weight:600;white-space:nowrap}"
    ".pass{background:#d5f2d5;color:#145214}.fail{background:#f7c6c6;"
    "color:#7a0d0d}.nonstrict{background:#fde3b5;color:#6b4200}"
    ".unsup{background:#e9e4f5;color:#3f336b}.skip{background:#eceff3;"
    "color:#555}.none{background:#fafafa;color:#888}"
    ".suite td{background:#f4f6f9;font-weight:600}"
    "a{color:#1f4fa8;text-decoration:none}a:hover{text-decoration:underline}"
    "pre{background:#f6f7f9;border:1px solid #dde2ea;padding:8px;"
    "white-space:pre-wrap;font-size:12px;max-width:1200px}"
    "td.n{text-align:right}td.v a{color:inherit}"
    "small{color:#666}";

static void verdict_cell(FILE *f, const mc_report_case *c, size_t k) {
  fprintf(f, "<td class=\"v %s\"", css_class(c->verdict));
  if (c->detail != NULL && c->detail[0] != '\0') {
    fputs(" title=\"", f);
    esc_in(f, c->detail, 1);
    fputc('"', f);
  }
  fputc('>', f);
  int link = rank(c->verdict) != 2;
  if (link)
    fprintf(f, "<a href=\"#d%zu-%s\">", k, c->name);
  fputs(c->verdict, f);
  if (c->runs > 1) {
    double lo, hi;
    mc_report_wilson(c->passes, c->runs, &lo, &hi);
    fprintf(f, "<br><small>%d/%d [%.0f%%, %.0f%%]</small>", c->passes,
            c->runs, lo * 100, hi * 100);
  }
  if (link)
    fputs("</a>", f);
  /* A case that took less of the link than the run asked for says so in
   * its cell, why in the tooltip. */
  if (c->link_why != NULL) {
    fputs("<br><small title=\"", f);
    esc_in(f, c->link_why, 1);
    fputs("\">link: ", f);
    esc(f, c->link);
    fputs("</small>", f);
  }
  fputs("</td>", f);
}

static void html_summary(FILE *f, const mc_report_impl *impls, size_t n) {
  static const char *const vs[] = {"PASS", "FAIL", "NON-STRICT",
                                   "UNSUPPORTED", "SKIPPED"};
  fputs("<h2>Summary</h2><table><tr><th>Implementation</th>"
        "<th>Version</th><th>Statement</th>", f);
  for (int v = 0; v < 5; v++)
    fprintf(f, "<th class=\"%s\">%s</th>", css_class(vs[v]), vs[v]);
  fputs("</tr>\n", f);
  for (size_t k = 0; k < n; k++) {
    fputs("<tr><td>", f);
    esc(f, impls[k].name);
    fputs("</td><td>", f);
    esc(f, impls[k].version);
    fputs("</td><td>", f);
    esc(f, impls[k].statement);
    fputs("</td>", f);
    for (int v = 0; v < 5; v++) {
      int c = 0;
      for (size_t i = 0; i < impls[k].n_cases; i++)
        c += strcmp(impls[k].cases[i].verdict, vs[v]) == 0;
      fprintf(f, "<td class=\"n %s\">%d</td>", c ? css_class(vs[v]) : "", c);
    }
    fputs("</tr>\n", f);
  }
  fputs("</table>\n", f);
}

static void impl_headers(FILE *f, const mc_report_impl *impls, size_t n) {
  for (size_t k = 0; k < n; k++) {
    fputs("<th>", f);
    esc(f, impls[k].name);
    fputs("</th>", f);
  }
}

static void html_grid(FILE *f, const mc_report_impl *impls, size_t n) {
  fputs("<h2>Cases</h2><table><tr><th>Case</th><th>Checks</th>", f);
  impl_headers(f, impls, n);
  fputs("</tr>\n", f);
  const char *suite = "";
  for (size_t i = 0; i < impls[0].n_cases; i++) {
    const mc_report_case *c = &impls[0].cases[i];
    if (strcmp(suite, c->suite) != 0) {
      suite = c->suite;
      fprintf(f, "<tr class=\"suite\"><td colspan=\"%zu\">%s</td></tr>\n",
              n + 2, suite);
    }
    fprintf(f, "<tr id=\"c-%s\"><td><b>%s</b><br><small>", c->name, c->name);
    esc(f, c->desc);
    fputs("</small></td><td><small>", f);
    for (int r = 0; r < c->n_requires; r++)
      fprintf(f, "%s<a href=\"#MC-%d\">MC-%d</a>", r ? " " : "",
              c->requires[r], c->requires[r]);
    fputs("</small></td>", f);
    for (size_t k = 0; k < n; k++)
      verdict_cell(f, &impls[k].cases[i], k);
    fputs("</tr>\n", f);
  }
  fputs("</table>\n", f);
}

static void html_requirements(FILE *f, const mc_spec *spec,
                              const mc_report_impl *impls, size_t n) {
  size_t unchecked = 0;
  for (size_t r = 0; r < spec->n; r++)
    unchecked += req_verdict(&impls[0], spec->reqs[r].id) == NULL;
  fprintf(f, "<h2>Requirements</h2><p>Every requirement of the spec: %zu, "
             "%zu checked by the cases of this run, %zu not (the reason "
             "is given).</p><table><tr><th>Requirement</th><th>Level</th>"
             "<th>Section</th><th>Summary</th><th>Checked by</th>",
          spec->n, spec->n - unchecked, unchecked);
  impl_headers(f, impls, n);
  fputs("</tr>\n", f);
  for (size_t r = 0; r < spec->n; r++) {
    const mc_spec_req *q = &spec->reqs[r];
    fprintf(f, "<tr id=\"MC-%d\"><td><b>MC-%d</b>%s</td><td>%s</td>"
               "<td>%s</td><td>",
            q->id, q->id, q->wire ? " <small>[wire]</small>" : "",
            mc_spec_level_name(q->level), q->section);
    esc(f, q->summary);
    fputs("</td><td><small>", f);
    const char *v0 = req_verdict(&impls[0], q->id);
    if (v0 == NULL) {
      esc(f, unchecked_reason(q));
    } else {
      int first = 1;
      for (size_t i = 0; i < impls[0].n_cases; i++)
        if (cites(&impls[0].cases[i], q->id)) {
          fprintf(f, "%s<a href=\"#c-%s\">%s</a>", first ? "" : ", ",
                  impls[0].cases[i].name, impls[0].cases[i].name);
          first = 0;
        }
    }
    fputs("</small></td>", f);
    for (size_t k = 0; k < n; k++) {
      const char *v = req_verdict(&impls[k], q->id);
      fprintf(f, "<td class=\"v %s\">%s</td>", css_class(v), v ? v : "-");
    }
    fputs("</tr>\n", f);
  }
  fputs("</table>\n", f);
}

static void html_details(FILE *f, const mc_report_impl *impls, size_t n) {
  fputs("<h2>Details</h2>", f);
  int any = 0;
  for (size_t k = 0; k < n; k++)
    for (size_t i = 0; i < impls[k].n_cases; i++) {
      const mc_report_case *c = &impls[k].cases[i];
      if (rank(c->verdict) == 2)
        continue;
      any = 1;
      fprintf(f, "<h3 id=\"d%zu-%s\"><span class=\"%s\">&nbsp;%s&nbsp;"
                 "</span> %s: ",
              k, c->name, css_class(c->verdict), c->verdict, c->name);
      esc(f, impls[k].name);
      fputs("</h3><pre>", f);
      esc(f, c->detail ? c->detail : "");
      fputs("</pre>\n", f);
    }
  if (!any)
    fputs("<p>Every case passed.</p>", f);
}

static void write_html(FILE *f, const mc_spec *spec, const mc_report_meta *m,
                       const mc_report_impl *impls, size_t n) {
  char when[32];
  stamp(when, sizeof when);
  fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<title>MyChat conformance report</title><style>%s</style>"
             "</head><body>\n<h1>MyChat protocol v1 conformance</h1>"
             "<div class=\"meta\">mychat-conform, %s &middot; spec ",
          style, when);
  esc(f, m->spec_path);
  fputs(" &middot; link: ", f);
  esc(f, m->link);
  fprintf(f, " &middot; %s%s</div>\n",
          m->strict ? "--strict: a SHOULD failure fails"
                    : "SHOULD failures are NON-STRICT",
          m->repeat > 1 ? " &middot; each case repeated, pass rate with its "
                          "95% Wilson interval"
                        : "");
  fputs("<p><b>Verdicts</b>: <span class=\"pass\">PASS</span> "
        "<span class=\"fail\">FAIL</span> (a MUST broken) "
        "<span class=\"nonstrict\">NON-STRICT</span> (only SHOULDs broken) "
        "<span class=\"unsup\">UNSUPPORTED</span> (needs a setting or an "
        "optional behaviour the implementation lacks) "
        "<span class=\"skip\">SKIPPED</span> (none today: every case runs on every link)</p>\n",
        f);
  html_summary(f, impls, n);
  html_grid(f, impls, n);
  html_requirements(f, spec, impls, n);
  html_details(f, impls, n);
  fputs("</body></html>\n", f);
}

int mc_report_write(const char *path, int html, const mc_spec *spec,
                    const mc_report_meta *meta, const mc_report_impl *impls,
                    size_t n, char *err, size_t errlen) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  int rv = 0;
  if (html)
    write_html(f, spec, meta, impls, n);
  else
    rv = write_json(f, spec, meta, impls, n);
  if (fclose(f) != 0 || rv < 0) {
    snprintf(err, errlen, "%s: cannot write", path);
    return -1;
  }
  return 0;
}
