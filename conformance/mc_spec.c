/*
 * mc_spec.c: requirements out of proto/PROTOCOL.md (see mc_spec.h).
 */
#include "mc_spec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when |w| occurs in |t| as a whole word in capitals. */
static int has_word(const char *t, const char *w) {
  size_t n = strlen(w);
  for (const char *p = strstr(t, w); p != NULL; p = strstr(p + 1, w))
    if ((p == t || !isalnum((unsigned char)p[-1])) &&
        !isalnum((unsigned char)p[n]))
      return 1;
  return 0;
}

static mc_spec_level level_of(const char *t) {
  if (has_word(t, "MUST") || has_word(t, "REQUIRED") || has_word(t, "SHALL"))
    return MC_LEVEL_MUST;
  if (has_word(t, "SHOULD") || has_word(t, "RECOMMENDED"))
    return MC_LEVEL_SHOULD;
  if (has_word(t, "MAY") || has_word(t, "OPTIONAL"))
    return MC_LEVEL_MAY;
  return MC_LEVEL_NONE;
}

static mc_spec_req *find_mut(mc_spec *s, int id) {
  for (size_t i = 0; i < s->n; i++)
    if (s->reqs[i].id == id)
      return &s->reqs[i];
  return NULL;
}

const mc_spec_req *mc_spec_find(const mc_spec *s, int id) {
  return find_mut((mc_spec *)s, id);
}

static int append_text(mc_spec_req *r, const char *more) {
  size_t a = strlen(r->text), b = strlen(more);
  char *t = realloc(r->text, a + b + 2);
  if (t == NULL)
    return -1;
  t[a] = ' ';
  memcpy(t + a + 1, more, b + 1);
  r->text = t;
  return 0;
}

/* "- **MC-n** [wire] text": a new requirement. */
static int add_req(mc_spec *s, size_t *cap, const char *line,
                   const char *section) {
  int id, off = 0;
  if (sscanf(line, "- **MC-%d**%n", &id, &off) != 1 || off == 0)
    return 0;
  if (s->n == *cap) {
    size_t nc = *cap ? *cap * 2 : 160;
    mc_spec_req *n = realloc(s->reqs, nc * sizeof *n);
    if (n == NULL)
      return -1;
    s->reqs = n;
    *cap = nc;
  }
  mc_spec_req *r = &s->reqs[s->n];
  memset(r, 0, sizeof *r);
  const char *t = line + off;
  while (*t == ' ')
    t++;
  if (strncmp(t, "[wire]", 6) == 0) {
    r->wire = 1;
    t += 6;
    while (*t == ' ')
      t++;
  }
  r->id = id;
  r->text = strdup(t);
  if (r->text == NULL)
    return -1;
  snprintf(r->section, sizeof r->section, "%s", section);
  s->n++;
  return 1;
}

/* "| MC-n | summary | wire |" of Appendix A. */
static void add_summary(mc_spec *s, const char *line) {
  int id, off = 0;
  if (sscanf(line, "| MC-%d |%n", &id, &off) != 1 || off == 0)
    return;
  mc_spec_req *r = find_mut(s, id);
  if (r == NULL)
    return;
  const char *t = line + off, *end = strrchr(t, '|');
  while (*t == ' ')
    t++;
  if (end != NULL && end > t) {
    const char *bar = end - 1;
    while (bar > t && *bar != '|')
      bar--;
    end = bar > t ? bar : end;
  }
  size_t n = end ? (size_t)(end - t) : strlen(t);
  while (n > 0 && t[n - 1] == ' ')
    n--;
  snprintf(r->summary, sizeof r->summary, "%.*s", (int)n, t);
}

int mc_spec_load(mc_spec *s, const char *path, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    snprintf(err, errlen, "%s: cannot read the spec (--spec FILE)", path);
    return -1;
  }
  char line[4096], section[16] = "";
  size_t cap = 0;
  mc_spec_req *cur = NULL;
  int rv = 0;
  while (rv == 0 && fgets(line, sizeof line, f) != NULL) {
    line[strcspn(line, "\r\n")] = '\0';
    char sec[16];
    if (sscanf(line, "## %15[0-9.]", sec) == 1 ||
        sscanf(line, "### %15[0-9.]", sec) == 1) {
      size_t l = strlen(sec);
      if (l > 0 && sec[l - 1] == '.')
        sec[l - 1] = '\0';
      snprintf(section, sizeof section, "%s", sec);
    }
    if (strncmp(line, "- **MC-", 7) == 0) {
      int a = add_req(s, &cap, line, section);
      rv = a < 0 ? -1 : 0;
      cur = a > 0 ? &s->reqs[s->n - 1] : NULL;
    } else if (cur != NULL && line[0] == ' ' && line[1] == ' ') {
      rv = append_text(cur, line + 2);
    } else {
      cur = NULL;
      add_summary(s, line);
    }
  }
  fclose(f);
  if (rv < 0) {
    snprintf(err, errlen, "%s: out of memory", path);
    mc_spec_free(s);
    return -1;
  }
  for (size_t i = 0; i < s->n; i++) {
    mc_spec_req *r = &s->reqs[i];
    r->level = level_of(r->text);
    if (r->summary[0] == '\0')
      snprintf(r->summary, sizeof r->summary, "%.100s%s", r->text,
               strlen(r->text) > 100 ? "..." : "");
  }
  if (s->n == 0) {
    snprintf(err, errlen, "%s: no requirement (- **MC-n** ...) in it", path);
    return -1;
  }
  return 0;
}

const char *mc_spec_level_name(mc_spec_level l) {
  switch (l) {
  case MC_LEVEL_MUST: return "MUST";
  case MC_LEVEL_SHOULD: return "SHOULD";
  case MC_LEVEL_MAY: return "MAY";
  default: return "-";
  }
}

mc_spec_level mc_spec_level_cited(const mc_spec *s, const char *text) {
  mc_spec_level best = MC_LEVEL_NONE;
  int prev = 0;
  for (const char *p = text ? strstr(text, "MC-") : NULL; p != NULL;
       p = strstr(p + 3, "MC-")) {
    int id = atoi(p + 3);
    if (id <= 0)
      continue;
    /* "MC-87..MC-90" cites every requirement in between. */
    int from = p >= text + 2 && p[-1] == '.' && p[-2] == '.' && prev > 0 &&
                       prev < id
                   ? prev + 1
                   : id;
    for (int k = from; k <= id; k++) {
      const mc_spec_req *r = mc_spec_find(s, k);
      if (r != NULL && r->level > best)
        best = r->level;
    }
    prev = id;
  }
  return best;
}

void mc_spec_free(mc_spec *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->reqs[i].text);
  free(s->reqs);
  s->reqs = NULL;
  s->n = 0;
}
