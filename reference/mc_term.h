/*
 * mc_term.h: the line editor of the mychat terminal client.
 *
 * A thin layer over libedit's own API (not its readline emulation, which
 * hides where the cursor is): one line is edited at a time, a character at
 * a time from the caller's poll() loop, and text printed while a line is
 * being typed goes above it, with the whole line, wrapped or not, cleared
 * and drawn again below. Tab completes the word before the cursor from
 * names the caller gives; Ctrl-D on an empty line is the end of input.
 * Input is read as the locale's multibyte text, so the caller must have
 * called setlocale() with a UTF-8 LC_CTYPE.
 */
#ifndef MC_TERM_H
#define MC_TERM_H

#include <stddef.h>

typedef struct {
  void *user_data;
  /* A line was entered (without its newline), or |line| is NULL: Ctrl-D on
   * an empty line. |line| belongs to the editor; it is valid until the
   * callback returns. */
  void (*on_line)(void *user_data, const char *line);
  /* Candidates for completing a word: returns the |i|th name, or NULL after
   * the last. |first| is set when the word is the first on the line. */
  const char *(*complete)(void *user_data, size_t i, int first);
} mc_term_callbacks;

/* Starts editing on the terminal of standard input and output; |cb| is
 * copied. Returns 0, or -1 when libedit cannot be set up. */
int mc_term_open(const mc_term_callbacks *cb);

/* Whether mc_term_open() succeeded and mc_term_close() was not
 * called since. */
int mc_term_is_open(void);

/* Reads what the terminal has (call when standard input is readable);
 * calls on_line for a finished line. */
void mc_term_read(void);

/* Prints |text| and a newline above the line being edited. Before
 * mc_term_open() it only prints. */
void mc_term_print(const char *text);

/* The terminal changed size. */
void mc_term_resize(void);

/* Before the process stops (Ctrl-Z): gives the terminal back its modes. */
void mc_term_suspend(void);

/* After it was continued: takes the terminal again and redraws the line. */
void mc_term_resume(void);

/* Stops editing and gives the terminal back its modes. */
void mc_term_close(void);

#endif
