/*
 * mc_term.c: the line editor of the mychat terminal client (libedit).
 *
 * There is one terminal, so the editor is one static object. libedit runs
 * unbuffered: each el_gets() takes one key and returns the line so far,
 * which lets the caller's poll() loop go on serving the network while a
 * line is typed. A finished line is taken when it ends in a newline; the
 * editor is then restarted (unbuffered off and on), which is libedit's way
 * to begin a new empty line.
 */
#include "mc_term.h"

#include <ctype.h>
#include <histedit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#define HISTORY_SIZE 200
#define COMPLETE_MAX 64 /* candidates listed at most */
#define WORD_MAX 64     /* longest word completed */

static struct {
  EditLine *e; /* NULL: not open */
  History *h;
  mc_term_callbacks cb;
  int eof; /* Ctrl-D on an empty line, not yet reported */
} g;

static char *term_prompt(EditLine *e) {
  (void)e;
  /* The screens of the original MyChat have no prompt. */
  return (char *)"";
}

static int term_cols(void) {
  struct winsize ws;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return 80;
}

/* How many screen rows the line being edited takes above the cursor's:
 * the rows to go up before clearing it. libedit draws a character that
 * has no width of its own as two (^X). */
static int rows_above_cursor(void) {
  const LineInfoW *li = el_wline(g.e);
  int w = 0;
  for (const wchar_t *p = li->buffer; p < li->cursor; p++) {
    int cw = wcwidth(*p);
    w += cw < 0 ? 2 : cw;
  }
  return w / term_cols();
}

/* Erases the line being edited from the screen; the cursor ends at the
 * start of its first row. */
static void erase_line(void) {
  int up = rows_above_cursor();
  if (up > 0)
    printf("\r\033[%dA\033[J", up);
  else
    printf("\r\033[J");
}

void mc_term_print(const char *text) {
  if (g.e == NULL) {
    printf("%s\n", text);
    fflush(stdout);
    return;
  }
  erase_line();
  printf("%s\n", text);
  fflush(stdout);
  /* Redraws the prompt and the line from where the cursor is now, with
   * the cursor where it was in the line. */
  el_set(g.e, EL_REFRESH);
}

void mc_term_resize(void) {
  if (g.e == NULL)
    return;
  el_resize(g.e);
  el_set(g.e, EL_REFRESH);
}

void mc_term_suspend(void) {
  if (g.e != NULL)
    el_set(g.e, EL_PREP_TERM, 0);
}

/* The modes are set at once, not at the next key: in the shell's modes
 * the terminal would hold keys back until a newline. */
void mc_term_resume(void) {
  if (g.e == NULL)
    return;
  el_set(g.e, EL_PREP_TERM, 1);
  el_set(g.e, EL_REFRESH);
}

/* Ctrl-D: the end of input on an empty line, else delete the character
 * under the cursor (as in a shell). */
static unsigned char term_eof(EditLine *e, int ch) {
  (void)ch;
  const LineInfoW *li = el_wline(e);
  if (li->lastchar == li->buffer) {
    g.eof = 1;
    return CC_NORM;
  }
  if (li->cursor == li->lastchar)
    return CC_ERROR;
  el_cursor(e, 1);
  el_wdeletestr(e, 1);
  return CC_REFRESH;
}

/* Tab: completes the word before the cursor from the caller's names
 * (case-insensitively, taking the name's case). One candidate is put in
 * whole with a space after it; several get their common start, or are
 * listed above the line when that adds nothing. */
static unsigned char term_complete(EditLine *e, int ch) {
  (void)ch;
  const LineInfo *li = el_line(e);
  const char *start = li->cursor;
  while (start > li->buffer && start[-1] != ' ' && start[-1] != '\t')
    start--;
  /* A name after '@' or '#' (SEND @bob, SEND #group) completes too. */
  if (start < li->cursor && (*start == '@' || *start == '#'))
    start++;
  size_t plen = (size_t)(li->cursor - start);
  if (plen >= WORD_MAX)
    return CC_ERROR;
  char prefix[WORD_MAX];
  memcpy(prefix, start, plen);
  prefix[plen] = '\0';
  int first = 1;
  for (const char *p = li->buffer; p < start; p++)
    if (*p != ' ' && *p != '\t' && *p != '/')
      first = 0;

  const char *match[COMPLETE_MAX];
  size_t n = 0, common = 0;
  const char *name;
  for (size_t i = 0; (name = g.cb.complete(g.cb.user_data, i, first)); i++) {
    if (strncasecmp(name, prefix, plen) != 0)
      continue;
    size_t j = 0;
    while (j < n && strcmp(match[j], name) != 0)
      j++;
    if (j < n || n == COMPLETE_MAX)
      continue; /* a name seen twice, or too many to list */
    if (n == 0) {
      common = strlen(name);
    } else {
      size_t k = 0;
      while (k < common && name[k] && (name[k] | 0x20) == (match[0][k] | 0x20))
        k++;
      common = k;
    }
    match[n++] = name;
  }
  if (n == 0)
    return CC_ERROR;
  char add[WORD_MAX + 2];
  if (n == 1)
    snprintf(add, sizeof add, "%s ", match[0]);
  else if (common > plen)
    snprintf(add, sizeof add, "%.*s", (int)common, match[0]);
  if (n == 1 || common > plen) {
    el_deletestr(e, (int)plen);
    el_insertstr(e, add);
    return CC_REFRESH;
  }
  char list[COMPLETE_MAX * (WORD_MAX + 2) + 1];
  size_t o = 0;
  for (size_t i = 0; i < n; i++)
    o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? "  " : "",
                          match[i]);
  mc_term_print(list);
  return CC_REFRESH;
}

int mc_term_open(const mc_term_callbacks *cb) {
  g.cb = *cb;
  g.eof = 0;
  g.e = el_init("mychat", stdin, stdout, stderr);
  g.h = history_init();
  if (g.e == NULL || g.h == NULL) {
    if (g.e)
      el_end(g.e);
    if (g.h)
      history_end(g.h);
    g.e = NULL;
    g.h = NULL;
    return -1;
  }
  HistEvent ev;
  history(g.h, &ev, H_SETSIZE, HISTORY_SIZE);
  el_set(g.e, EL_HIST, history, g.h);
  el_set(g.e, EL_PROMPT, term_prompt);
  el_set(g.e, EL_EDITOR, "emacs");
  /* The client's own handlers see SIGINT and SIGTERM. */
  el_set(g.e, EL_SIGNAL, 0);
  el_source(g.e, NULL); /* the user's ~/.editrc, as any libedit program */
  /* The wide calls: the narrow EL_ADDFN copies its two strings and never
   * frees them (libedit 20221030). */
  el_wset(g.e, EL_ADDFN, L"mychat-complete", L"complete a user or group name",
          term_complete);
  el_set(g.e, EL_BIND, "^I", "mychat-complete", NULL);
  el_wset(g.e, EL_ADDFN, L"mychat-eof", L"end of input on an empty line",
          term_eof);
  el_set(g.e, EL_BIND, "^D", "mychat-eof", NULL);
  el_set(g.e, EL_UNBUFFERED, 1);
  return 0;
}

int mc_term_is_open(void) { return g.e != NULL; }

void mc_term_read(void) {
  if (g.e == NULL)
    return;
  int n = 0;
  const char *buf = el_gets(g.e, &n);
  if (g.eof) {
    g.eof = 0;
    g.cb.on_line(g.cb.user_data, NULL);
    return;
  }
  if (buf == NULL || n <= 0 || (buf[n - 1] != '\n' && buf[n - 1] != '\r'))
    return;
  char *line = strndup(buf, (size_t)n - 1);
  /* A new empty line: libedit starts one when unbuffered mode is set. */
  el_set(g.e, EL_UNBUFFERED, 0);
  el_set(g.e, EL_UNBUFFERED, 1);
  if (line == NULL)
    return; /* out of memory: the line is lost, as if never typed */
  if (line[strspn(line, " \t")] != '\0') {
    HistEvent ev;
    history(g.h, &ev, H_ENTER, line);
  }
  g.cb.on_line(g.cb.user_data, line);
  free(line);
}

void mc_term_close(void) {
  if (g.e == NULL)
    return;
  erase_line();
  fflush(stdout);
  el_set(g.e, EL_UNBUFFERED, 0);
  el_end(g.e);
  history_end(g.h);
  g.e = NULL;
  g.h = NULL;
}
