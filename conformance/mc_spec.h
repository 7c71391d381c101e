/*
 * mc_spec.h: the requirements of proto/PROTOCOL.md as mychat-conform grades
 * and reports them, read from the spec file at run time so that the grades
 * follow the text and cannot drift from it.
 *
 * A requirement is a line "- **MC-n** [wire] text" (the tag optional; the
 * text may go on in indented lines). Its level is the strongest BCP 14
 * keyword its text uses: MUST (MUST, MUST NOT, REQUIRED, SHALL, SHALL
 * NOT), else SHOULD (SHOULD, SHOULD NOT, RECOMMENDED), else MAY (MAY,
 * OPTIONAL). Appendix A's table ("| MC-n | summary | wire |") gives the
 * short summary.
 */
#ifndef MC_SPEC_H
#define MC_SPEC_H

#include <stddef.h>

typedef enum {
  MC_LEVEL_NONE = 0,            /* no keyword, or not in the spec */
  MC_LEVEL_MAY,
  MC_LEVEL_SHOULD,
  MC_LEVEL_MUST
} mc_spec_level;

typedef struct {
  int id;                       /* n of MC-n */
  int wire;                     /* tagged [wire] */
  mc_spec_level level;
  char section[16];             /* "5.1": the heading it sits under */
  char summary[160];            /* Appendix A's, or the text's start */
  char *text;                   /* the whole requirement, owned */
} mc_spec_req;

typedef struct {
  mc_spec_req *reqs;            /* in document order, owned */
  size_t n;
} mc_spec;

/* Reads the spec at |path| into |s|. Returns 0, or -1 with a message in
 * |err| (|errlen| bytes) when the file cannot be read or holds no
 * requirement. */
int mc_spec_load(mc_spec *s, const char *path, char *err, size_t errlen);

/* The requirement MC-|id|, or NULL. */
const mc_spec_req *mc_spec_find(const mc_spec *s, int id);

/* "MUST", "SHOULD", "MAY" or "-". */
const char *mc_spec_level_name(mc_spec_level l);

/* The strongest level among the requirements |text| cites ("MC-86",
 * "(MC-79, MC-81)", ranges "MC-87..MC-90"); MC_LEVEL_NONE when it cites
 * none the spec has. */
mc_spec_level mc_spec_level_cited(const mc_spec *s, const char *text);

void mc_spec_free(mc_spec *s);

#endif
