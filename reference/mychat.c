/*
 * mychat.c: the MyChat command-line client (issues 4 and 14).
 *
 *   mychat [--server HOST[:PORT]] [--user NAME] [--new] [-h|--help]
 *          [--version]
 *
 * On a terminal it keeps the screens of the original MyChat design: the
 * banner, the username and password prompts, "--> [connecting to server]"
 * with a star every 0.2 s, the menu of group chats and users, JOIN / CHAT /
 * R / E, and in a chat B to go back. Each message sent shows
 * "--> [Message sent - HH:MM:SS]", a direct one later also
 * "--> [Message delivered - HH:MM:SS]"; each message received shows its
 * time, ">> [HH:MM:SS] bob: hi" (the date too when not today's), and
 * outside its own chat where it belongs ("[group]" or "(direct)") and
 * "(missed)" when it came while the user was away. Beyond the original:
 *
 *  - the server is checked (a Ping outside any session, answered with an
 *    Error by any MyChat server) before the name and password are asked
 *    for; a --server without a port means port 8000;
 *  - a wrong password is asked for again, three tries in all; with --new a
 *    taken name likewise;
 *  - CHAT checks that the user exists (a page of the user list) and stays
 *    in the menu when not; a number from the menu's lists stands for its
 *    name (JOIN 1, CHAT 2), unless an entry has that very name; the menu
 *    marks the groups the user joined; CREATE and LEAVE groups;
 *  - entering a chat shows its last messages this client saw or sent (the
 *    server keeps no history a client can ask for in protocol v1);
 *  - in a chat a line starting with '/' is a menu command (/chat bob,
 *    /join g, /leave g, /b, /help), "//" sends a line starting with '/';
 *  - a message typed while the session is lost is kept, shown pending and
 *    sent when the client is logged in again;
 *  - input is UTF-8 (the locale's, or C.UTF-8 when the locale is not);
 *  - lines are edited with libedit (mc_term.c) from the one poll() loop: a
 *    message that arrives while a line is typed is printed above it, the
 *    line, wrapped or not, drawn again below; Tab completes user and group
 *    names (and the menu's commands); up and down recall lines; Ctrl-Z
 *    suspends, the terminal's modes given back to the shell until fg;
 *  - E (in a chat too), Ctrl-D on an empty line and Ctrl-C log out and
 *    exit 0: first waiting (at most 5 s) for the server to confirm what was
 *    sent, and with messages still pending saying so first (asking again
 *    exits anyway); while logging out they exit at once.
 *
 * The password comes from the MYCHAT_PASSWORD environment variable when it
 * is set (for scripts), else from a prompt that does not echo. --new
 * registers the name.
 *
 * A session that is lost (the server went silent, stopped acking, restarted
 * or is shutting down) is logged in again by itself; the core sends the
 * messages the server had not confirmed again. A terminal client keeps
 * trying; a scripted one gives up (status 1) when a new login gets no
 * answer within 15 s. A login elsewhere under the same name ends the client
 * (status 1) rather than fight over the session.
 *
 * When standard input is not a terminal the client runs scripted: no
 * banner or prompts; --user and MYCHAT_PASSWORD are required. Commands are
 * read one line at a time (blank lines and lines starting with '#' are
 * skipped):
 *
 *   JOIN g | CREATE g | LEAVE g   group requests; JOIN also enters chat g
 *   CHAT bob                      enter the one-on-one chat with bob
 *   B                             leave the current chat
 *   SAY text | text               send text to the current chat (a line
 *                                 whose first word is a command is that
 *                                 command: SAY sends any text)
 *   SEND @bob text | SEND #g text send without entering a chat
 *   LIST USERS|GROUPS|MYGROUPS    list (every page)
 *   WAIT N                        process events for N seconds
 *   WAITFOR PREFIX [N]            wait (N s, default 10) for an output line
 *                                 starting with PREFIX (which may contain
 *                                 spaces; a last word that is a number is
 *                                 N); exit 3 on timeout. Output lines are a
 *                                 queue: a WAITFOR takes the lines printed
 *                                 since the last WAITFOR matched, up to and
 *                                 including its match, so a line printed
 *                                 before the WAITFOR was read is not missed.
 *   E                             log out and exit 0
 *
 * Commands are read only while the session is established and nothing
 * above is still waiting. At the end of input the client waits (at most
 * 5 s) until the server confirmed every message sent, logs out and exits 0.
 *
 * Scripted output: exactly one line per event on standard output. Times
 * are the server's (when it stored, or delivered, the message), HH:MM:SS in
 * the local zone. CODE is the protocol ErrorCode name (AUTH_FAILED,
 * NO_SUCH_GROUP, ...).
 *
 *   connected NAME                     (again after each reconnect)
 *   connect-failed CODE|TIMEOUT TEXT
 *   sent id=MSGID to=USER|#GROUP time=T
 *   delivered id=MSGID to=USER time=T
 *   message id=MSGID from=USER group=GROUP|- missed=0|1 time=T text=TEXT
 *   presence USER online|offline
 *   backlog-done count=N
 *   result JOIN|CREATE|LEAVE|SEND NAME|#GROUP OK|CODE [TEXT]
 *   list users NAME:online|offline ... | list groups NAME ...
 *   | list mygroups NAME ...
 *   closed OK                          (after a logout)
 *   closed LOST|CODE TEXT              (LOST: the server went silent or
 *                                      stopped acking)
 *   reconnecting                       (after a closed that was not OK)
 *   error COMMAND TEXT                 (a command refused locally)
 *
 * MSGID is the server's message id: "sent", "delivered" and the
 * recipient's "message" line of one message carry the same one. TEXT is
 * printed as received, except that control characters (and the C1
 * controls U+0080..U+009F) are written as \xHH and a backslash as \\, so
 * one line is always one event. On a terminal the control characters are
 * escaped the same way, so a hostile sender cannot drive the terminal.
 *
 * Exit status: 0 after logging out, 1 when connecting or the session
 * failed for good, 2 for usage errors, 3 when a WAITFOR timed out.
 */
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "mc_client.h"
#include "mc_error.h"
#include "mc_term.h"
#include "mc_udp.h"

#define MYCHAT_VERSION "1.0"
#define DEFAULT_SERVER "127.0.0.1:8000"
#define DEFAULT_PORT 8000 /* a --server without a port, as the original */
#define STAR_INTERVAL (200 * MC_MSEC)
#define LOGOUT_WAIT (3 * MC_SEC)
#define DRAIN_WAIT (5 * MC_SEC)
#define RECONNECT_DELAY (1 * MC_SEC)
#define WAITFOR_DEFAULT_S 10.0
#define OUTQ_MAX 4096 /* output lines a WAITFOR may still look at */
#define OPS_MAX 128   /* requests remembered for their replies */
/* Messages remembered for their confirmations: twice what the core keeps
 * outstanding in a session (window and queue), so a message is only
 * forgotten after that many newer ones. */
#define SENDS_MAX (2 * (MC_ARQ_WINDOW_DEFAULT + MC_ARQ_QUEUE_DEFAULT))
#define LINE_MAX_IN 4096 /* longest command line */
#define PROBE_TRIES 75   /* server check: 75 x 0.2 s, the original's 15 s */
#define LOGIN_TRIES 3    /* a wrong password or taken name asked again */
#define QUEUED_MAX 256   /* messages typed while disconnected */
#define HIST_MAX 512     /* messages kept for "last messages" */
#define HIST_SHOW 10     /* last messages shown on entering a chat */

enum { EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_WAITFOR = 3 };

typedef enum { VIEW_MENU, VIEW_GROUP, VIEW_DIRECT } view_kind;

/* Where the client is in its life. */
typedef enum {
  PH_CONNECTING,   /* first handshake (stars on a terminal) */
  PH_ONLINE,       /* established */
  PH_RECONNECTING, /* session lost; handshaking again or waiting to */
  PH_LOGGING_OUT,  /* Logout sent, waiting for the server's OK */
  PH_DONE
} phase;

/* What a list that is being paged through is for: the menu's three lists
 * one after the other, a script's LIST, or finding out whether the user
 * of a CHAT exists. */
typedef enum {
  LP_NONE,
  LP_MENU_GROUPS,
  LP_MENU_MYGROUPS,
  LP_MENU_USERS,
  LP_SCRIPT,
  LP_LOOKUP
} list_purpose;

/* A request waiting for its Result: the command and name to report. */
typedef struct {
  uint32_t request;
  mc_body_kind kind;
  char name[MC_NAME_MAX + 1];
  int enter; /* a JOIN typed on the terminal: enter it */
} pending_op;

/* A message sent, for reporting its confirmation. */
typedef struct {
  uint32_t request;
  uint64_t client_msg_id; /* 0: free slot, or already confirmed */
  int group;              /* |to| is a group, else a user */
  char to[MC_NAME_MAX + 1];
} sent_msg;

typedef struct {
  mc_client_list_entry *v;
  size_t n, cap;
} entry_list;

/* A message typed on the terminal while the client was not connected,
 * sent when it is again. */
typedef struct {
  int group; /* |to| is a group, else a user */
  char to[MC_NAME_MAX + 1];
  char text[MC_TEXT_MAX + 1];
} queued_msg;

/* A message of a conversation, kept to show the last ones on entering
 * it: the server keeps no history a client can ask for (protocol v1). */
typedef struct {
  char chat[MC_NAME_MAX + 2]; /* "#group", or the other user's name */
  char from[MC_NAME_MAX + 1];
  uint64_t time_ms;
  char text[MC_TEXT_MAX + 1];
} hist_msg;

typedef struct {
  int interactive;
  char user[MC_NAME_MAX + 1];
  char password[MC_PASSWORD_MAX + 2]; /* one byte more: overlong shows */
  int create;

  int fd;
  mc_client *cl;
  phase ph;
  int exit_code;
  mc_tstamp next_star;    /* PH_CONNECTING on a terminal */
  mc_tstamp reconnect_at; /* PH_RECONNECTING: next attempt, or NEVER */
  mc_tstamp logout_deadline;

  view_kind view;
  char view_name[MC_NAME_MAX + 1];

  pending_op ops[OPS_MAX];
  size_t ops_next;
  sent_msg sends[SENDS_MAX];
  size_t sends_next;

  /* The list being paged through. */
  list_purpose lp;
  mc_list_kind lkind;
  uint32_t lrequest;
  entry_list lacc, groups, mygroups, users;
  int menu_shown;               /* the first menu was printed (the editor on) */
  char lookup[MC_NAME_MAX + 1]; /* LP_LOOKUP: the user looked for */

  /* Terminal mode. */
  int login_tries; /* handshakes refused for the password/name */
  int quit_asked;  /* a quit was refused once for unsent messages */
  queued_msg queued[QUEUED_MAX]; /* ring, oldest at queued_head */
  size_t queued_head, queued_n;
  hist_msg hist[HIST_MAX]; /* ring, oldest at hist_head */
  size_t hist_head, hist_n;

  /* Scripted mode. */
  char inbuf[LINE_MAX_IN + 1];
  size_t inlen;
  int in_eof;           /* end of input (on a terminal: it hung up) */
  int retry;            /* the line at the head of inbuf waits for room */
  int skipping;         /* dropping the rest of an overlong line */
  mc_tstamp wait_until; /* WAIT, or 0 */
  char waitfor[LINE_MAX_IN];
  mc_tstamp waitfor_until; /* WAITFOR deadline, or 0 */
  mc_tstamp drain_until;   /* end of input: confirmation deadline, or 0 */
  char *outq[OUTQ_MAX];    /* output lines not yet taken by a WAITFOR */
  size_t outq_head, outq_n;
} app;

static volatile sig_atomic_t g_stop, g_winch, g_tstp;

static void on_signal(int sig) {
  if (sig == SIGWINCH)
    g_winch = 1;
  else if (sig == SIGTSTP)
    g_tstp = 1;
  else
    g_stop = 1;
}

/* Ctrl-Z while a line is edited: the terminal gets its modes back before
 * the process stops, and libedit's again after it was continued, or the
 * shell and then the editor would each find the other's modes. */
static void suspend(void) {
  struct sigaction dfl = {.sa_handler = SIG_DFL},
                   own = {.sa_handler = on_signal};
  sigemptyset(&dfl.sa_mask);
  sigemptyset(&own.sa_mask);
  mc_term_suspend();
  sigaction(SIGTSTP, &dfl, NULL);
  raise(SIGTSTP); /* returns when continued */
  sigaction(SIGTSTP, &own, NULL);
  mc_term_resume();
}

static mc_tstamp now_us(void) { return mc_udp_now_us(); }

/* The wall clock in ms since the epoch, as server times are. */
static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void random_bytes(void *user_data, uint8_t *buf, size_t len) {
  (void)user_data;
  while (len > 0) {
    ssize_t n = getrandom(buf, len, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      /* Without randomness nonces and message ids would repeat. */
      perror("mychat: getrandom");
      exit(EXIT_FAIL);
    }
    buf += n;
    len -= (size_t)n;
  }
}

/* Formats server time |ms| (Unix epoch) as HH:MM:SS in the local zone. */
static void fmt_time(uint64_t ms, char out[9]) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (localtime_r(&t, &tm) == NULL || strftime(out, 9, "%H:%M:%S", &tm) == 0)
    snprintf(out, 9, "??:??:??");
}

/* A message's time on the terminal: [HH:MM:SS], with the date in front
 * when it is not today's (a message missed for days). */
static void fmt_stamp(uint64_t ms, char out[24]) {
  time_t t = (time_t)(ms / 1000), now = time(NULL);
  struct tm tm, today;
  if (localtime_r(&t, &tm) == NULL || localtime_r(&now, &today) == NULL ||
      strftime(out, 24,
               tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday
                   ? "[%H:%M:%S]"
                   : "[%Y-%m-%d %H:%M:%S]",
               &tm) == 0)
    snprintf(out, 24, "[??:??:??]");
}

/* Copies |in| to |out| with control characters (C0, DEL and the UTF-8
 * encoded C1 range) as \xHH, and in scripted output backslashes doubled:
 * text from the network must not move the cursor or end a line of scripted
 * output, and a script must be able to tell "\x0A" typed from a newline. */
static void escape_text(const app *a, const char *in, char *out, size_t cap) {
  size_t o = 0;
  const unsigned char *s = (const unsigned char *)in;
  for (size_t i = 0; s[i] != '\0' && o + 9 < cap; i++) {
    unsigned c = s[i];
    if (c == 0xC2 && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F) {
      o += (size_t)snprintf(out + o, cap - o, "\\xC2\\x%02X", s[i + 1]);
      i++;
    } else if (c < 0x20 || c == 0x7F) {
      o += (size_t)snprintf(out + o, cap - o, "\\x%02X", c);
    } else if (c == '\\' && !a->interactive) {
      out[o++] = '\\';
      out[o++] = '\\';
    } else {
      out[o++] = (char)c;
    }
  }
  out[o] = '\0';
}

/* The command words of the requests that get a Result. */
static const struct {
  const char *word;
  mc_body_kind kind;
} k_requests[] = {
    {"JOIN", MC_KIND_JOIN_GROUP},
    {"CREATE", MC_KIND_CREATE_GROUP},
    {"LEAVE", MC_KIND_LEAVE_GROUP},
    {"SEND", MC_KIND_SEND},
};

static const char *kind_word(mc_body_kind kind) {
  for (size_t i = 0; i < sizeof k_requests / sizeof k_requests[0]; i++)
    if (k_requests[i].kind == kind)
      return k_requests[i].word;
  return mc_codec_body_name(kind);
}

/* ------------------------------------------------------------------ */
/* output                                                              */

/* Scripted mode: remembers |line| for a later WAITFOR. */
static void outq_push(app *a, const char *line) {
  if (a->outq_n == OUTQ_MAX) {
    free(a->outq[a->outq_head]);
    a->outq_head = (a->outq_head + 1) % OUTQ_MAX;
    a->outq_n--;
  }
  char *copy = strdup(line);
  if (copy == NULL)
    return; /* a WAITFOR for it will time out: reported, not silent */
  a->outq[(a->outq_head + a->outq_n++) % OUTQ_MAX] = copy;
}

/* Takes queued lines up to the first one starting with the WAITFOR prefix;
 * returns 1 if it was found (the wait is over). */
static int outq_match(app *a) {
  size_t plen = strlen(a->waitfor);
  for (size_t i = 0; i < a->outq_n; i++) {
    const char *l = a->outq[(a->outq_head + i) % OUTQ_MAX];
    if (strncmp(l, a->waitfor, plen) != 0)
      continue;
    for (size_t j = 0; j <= i; j++) {
      free(a->outq[a->outq_head]);
      a->outq_head = (a->outq_head + 1) % OUTQ_MAX;
    }
    a->outq_n -= i + 1;
    return 1;
  }
  return 0;
}

/* Prints one line. Scripted, it also goes into the WAITFOR queue. On a
 * terminal with a line being edited, the text goes above that line, which
 * is then drawn again with the cursor where it was. */
static void say(app *a, const char *fmt, ...) {
  char *line;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&line, fmt, ap);
  va_end(ap);
  if (n < 0)
    return; /* out of memory: the line is lost, the client goes on */
  if (a->interactive) {
    mc_term_print(line);
  } else {
    printf("%s\n", line);
    fflush(stdout);
    outq_push(a, line);
  }
  free(line);
}

/* A command was refused before reaching the server. */
static void refuse(app *a, const char *cmd, const char *why) {
  if (a->interactive)
    say(a, "--> [%s]", why);
  else
    say(a, "error %s %s", cmd, why);
}

/* ------------------------------------------------------------------ */
/* network                                                             */

static void flush_tx(app *a, mc_tstamp now) {
  uint8_t buf[MC_DATAGRAM_MAX];
  size_t len;
  while (mc_client_poll_tx(a->cl, now, buf, sizeof buf, &len) == 1)
    /* Loss is the protocol's business: the core retransmits. */
    (void)send(a->fd, buf, len, 0);
}

static void read_socket(app *a, mc_tstamp now) {
  uint8_t buf[MC_DATAGRAM_MAX + 1];
  for (int i = 0; i < 64; i++) {
    ssize_t n = recv(a->fd, buf, sizeof buf, 0);
    if (n < 0 && errno == ECONNREFUSED)
      continue; /* an ICMP error from an earlier send: the server is away */
    if (n < 0)
      return;
    mc_client_recv(a->cl, buf, (size_t)n, now);
  }
}

/* ------------------------------------------------------------------ */
/* requests                                                            */

static void op_add(app *a, uint32_t request, mc_body_kind kind,
                   const char *name, int enter) {
  pending_op *op = &a->ops[a->ops_next++ % OPS_MAX];
  op->request = request;
  op->kind = kind;
  op->enter = enter;
  snprintf(op->name, sizeof op->name, "%s", name);
}

/* Finds the pending request |request|; a zero kind marks a free slot. */
static pending_op *op_find(app *a, uint32_t request) {
  for (size_t i = 0; i < OPS_MAX; i++)
    if (a->ops[i].request == request &&
        a->ops[i].kind != MC_KIND_NONE)
      return &a->ops[i];
  return NULL;
}

/* Finds a message by its client id, or (|client_msg_id| 0) by the request
 * that sent it in this session. */
static sent_msg *send_find(app *a, uint32_t request, uint64_t client_msg_id) {
  for (size_t i = 0; i < SENDS_MAX; i++) {
    sent_msg *s = &a->sends[i];
    if (s->client_msg_id != 0 &&
        (s->client_msg_id == client_msg_id ||
         (client_msg_id == 0 && request != 0 && s->request == request)))
      return s;
  }
  return NULL;
}

/* Words for a library error a command met here. */
static const char *lib_why(int rv) {
  switch (rv) {
  case MC_ERR_STATE:
    return "not connected to server";
  case MC_ERR_QUEUE_FULL:
    return "too many requests waiting; try again";
  default:
    return mc_strerror(rv);
  }
}

/* Returns 0, or MC_ERR_QUEUE_FULL (the caller may try again later), or
 * another error already reported. */
static int do_group(app *a, mc_body_kind kind, const char *g,
                    int enter) {
  uint32_t req;
  int rv = mc_client_group(a->cl, kind, g, now_us(), &req);
  if (rv == 0)
    op_add(a, req, kind, g, enter);
  else if (rv != MC_ERR_QUEUE_FULL || a->interactive)
    refuse(a, kind_word(kind),
           rv == MC_ERR_BAD_NAME ? "bad group name" : lib_why(rv));
  return rv;
}

/* Sends |text| to |user| or (|user| NULL) |group| and remembers it for its
 * confirmations. Returns as do_group(). */
static int do_send(app *a, const char *user, const char *group,
                   const char *text) {
  uint32_t req;
  uint64_t cid;
  int rv = mc_client_send_text(a->cl, user, group, text, now_us(), &req, &cid);
  if (rv == 0) {
    sent_msg *s = &a->sends[a->sends_next++ % SENDS_MAX];
    s->request = req;
    s->client_msg_id = cid;
    s->group = user == NULL;
    snprintf(s->to, sizeof s->to, "%s", user ? user : group);
  } else if (rv != MC_ERR_QUEUE_FULL || a->interactive) {
    refuse(a, "SEND", lib_why(rv));
  }
  return rv;
}

/* Terminal: keeps a message typed while not connected, for
 * send_queued(). Returns 0, or -1 when it was refused (and said why). */
static int queue_add(app *a, const char *user, const char *group,
                     const char *text) {
  const char *why = NULL;
  if (strlen(text) > MC_TEXT_MAX)
    why = mc_strerror(MC_ERR_TEXT_TOO_LONG);
  else if (!mc_codec_utf8_valid((const uint8_t *)text, strlen(text)))
    why = mc_strerror(MC_ERR_BAD_UTF8);
  else if (a->queued_n == QUEUED_MAX)
    why = "too many messages waiting";
  if (why) {
    say(a, "--> [Message not sent: %s]", why);
    return -1;
  }
  queued_msg *q = &a->queued[(a->queued_head + a->queued_n++) % QUEUED_MAX];
  q->group = user == NULL;
  snprintf(q->to, sizeof q->to, "%s", user ? user : group);
  snprintf(q->text, sizeof q->text, "%s", text);
  say(a, "--> [Message pending - not connected; it goes when the server is "
         "back]");
  return 0;
}

/* Sends the messages typed while not connected, oldest first, as far as
 * the core has room (the rest go after the next confirmation). */
static void send_queued(app *a) {
  while (a->queued_n > 0 && a->ph == PH_ONLINE) {
    const queued_msg *q = &a->queued[a->queued_head];
    if (do_send(a, q->group ? NULL : q->to, q->group ? q->to : NULL, q->text) ==
        MC_ERR_QUEUE_FULL)
      return;
    a->queued_head = (a->queued_head + 1) % QUEUED_MAX;
    a->queued_n--;
  }
}

/* Asks for the first page of a list, for |p|, from the names after
 * |after| ("" for all). */
static void list_from(app *a, list_purpose p, mc_list_kind kind,
                      const char *after) {
  uint32_t req;
  a->lacc.n = 0;
  int rv = mc_client_list(a->cl, kind, after, now_us(), &req);
  if (rv < 0) {
    refuse(a, "LIST", lib_why(rv));
    a->lp = LP_NONE;
    return;
  }
  a->lp = p;
  a->lkind = kind;
  a->lrequest = req;
}

static void list_start(app *a, list_purpose p, mc_list_kind kind) {
  list_from(a, p, kind, "");
}

/* Appends |n| entries to |l|; out of memory, the list stays short (a
 * list is shown, not relied on). */
static void entries_append(entry_list *l, const mc_client_list_entry *e,
                           size_t n) {
  if (n == 0)
    return; /* an empty page: |l->v| may still be NULL */
  if (l->n + n > l->cap) {
    size_t ncap = l->cap ? l->cap : 32;
    while (ncap < l->n + n)
      ncap *= 2;
    mc_client_list_entry *nv = realloc(l->v, ncap * sizeof *nv);
    if (nv == NULL)
      return;
    l->v = nv;
    l->cap = ncap;
  }
  memcpy(l->v + l->n, e, n * sizeof *e);
  l->n += n;
}

static void entries_swap(entry_list *x, entry_list *y) {
  entry_list t = *x;
  *x = *y;
  *y = t;
}

/* ------------------------------------------------------------------ */
/* the terminal's screens                                              */

static void print_hint(app *a) {
  if (a->view == VIEW_MENU) {
    say(a, "--> [type 'JOIN' + 'group chat name' and press ENTER to join the "
           "group chat, 'CHAT' + 'username' and press ENTER to chat to a "
           "user, 'R' to refresh and 'E' to exit]");
    say(a, "--> [a number picks from a list; CREATE or LEAVE + group; Tab "
           "completes names; /help for more]");
  } else {
    say(a, "--> [type message and press ENTER or type 'B' to return to "
           "menu]");
  }
}

static void print_help(app *a) {
  say(a, "--> [menu: JOIN <group>, CHAT <user>, CREATE <group>, "
         "LEAVE <group>, R (refresh), E (exit), /help]");
  say(a, "--> [a list's number stands for its name: JOIN 1, CHAT 2]");
  say(a, "--> [in a chat: type a message and press ENTER, B (back to menu), "
         "E (exit); a menu command with '/' in front (/chat bob, /join g, "
         "/leave g); '//' in front sends a line starting with '/']");
  say(a, "--> [keys: Tab completes a name, Ctrl-D on an empty line or "
         "Ctrl-C exits, up and down arrows recall lines]");
  say(a, "--> [messages typed while the server is away wait as pending and "
         "are sent when it is back]");
}

static int list_has(const entry_list *l, const char *name) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->v[i].name, name) == 0)
      return 1;
  return 0;
}

/* The |n|th (from 1) user of the menu's list, which leaves the user out,
 * or NULL. */
static const mc_client_list_entry *menu_user(const app *a, unsigned long n) {
  for (size_t i = 0; i < a->users.n; i++)
    if (strcmp(a->users.v[i].name, a->user) != 0 && --n == 0)
      return &a->users.v[i];
  return NULL;
}

/* What a menu argument names: a user (|users|) or group of the menu's
 * lists as typed, else the entry a list number stands for, else |arg|
 * itself (a name the lists do not have). A user named "3" is still found
 * by name. */
static const char *menu_pick(const app *a, const char *arg, int users) {
  const entry_list *l = users ? &a->users : &a->groups;
  if (list_has(l, arg) || *arg < '1' || *arg > '9')
    return arg;
  char *end;
  unsigned long n = strtoul(arg, &end, 10);
  if (*end != '\0')
    return arg;
  const mc_client_list_entry *e = users       ? menu_user(a, n)
                                  : n <= l->n ? &l->v[n - 1]
                                              : NULL;
  return e ? e->name : arg;
}

static void print_menu(app *a) {
  say(a, "#####[you: %s]#####", a->user);
  say(a, "--> [available group chats]");
  for (size_t i = 0; i < a->groups.n; i++)
    say(a, "%zu. %s%s", i + 1, a->groups.v[i].name,
        list_has(&a->mygroups, a->groups.v[i].name) ? " (joined)" : "");
  say(a, "");
  const mc_client_list_entry *u;
  unsigned long k = 0;
  while ((u = menu_user(a, k + 1)) != NULL) {
    if (++k == 1)
      say(a, "--> [available users]");
    say(a, "%lu. %s (%s)", k, u->name, u->online ? "online" : "offline");
  }
  if (k > 0)
    say(a, "");
  print_hint(a);
}

/* The conversation a message belongs to in the history: "#group", or the
 * other user of a direct chat. */
static void chat_key(const char *group, const char *peer,
                     char out[MC_NAME_MAX + 2]) {
  snprintf(out, MC_NAME_MAX + 2, "%s%s", group[0] ? "#" : "",
           group[0] ? group : peer);
}

static void hist_add(app *a, const char *chat, const char *from,
                     uint64_t time_ms, const char *text) {
  hist_msg *h;
  if (a->hist_n == HIST_MAX) {
    h = &a->hist[a->hist_head]; /* the oldest goes */
    a->hist_head = (a->hist_head + 1) % HIST_MAX;
  } else {
    h = &a->hist[(a->hist_head + a->hist_n++) % HIST_MAX];
  }
  snprintf(h->chat, sizeof h->chat, "%s", chat);
  snprintf(h->from, sizeof h->from, "%s", from);
  snprintf(h->text, sizeof h->text, "%s", text);
  h->time_ms = time_ms;
}

/* One message on the terminal: ">> [TIME] FROM: TEXT", saying where it
 * belongs unless it is part of the chat on screen (|here|): a group in
 * brackets, a direct message "(direct)". */
static void show_message(app *a, const char *from, const char *group,
                         uint64_t time_ms, const char *raw, int missed,
                         int here) {
  char text[4 * MC_TEXT_MAX + 1], t[24];
  escape_text(a, raw, text, sizeof text);
  fmt_stamp(time_ms, t);
  const char *m = missed ? " (missed)" : "";
  if (here)
    say(a, ">> %s %s: %s%s", t, from, text, m);
  else if (group[0])
    say(a, ">> %s [%s] %s: %s%s", t, group, from, text, m);
  else
    say(a, ">> %s %s (direct): %s%s", t, from, text, m);
}

/* The last messages of chat |key| this client saw or sent, oldest first. */
static void show_history(app *a, const char *key) {
  size_t idx[HIST_SHOW], n = 0;
  for (size_t i = a->hist_n; i-- > 0 && n < HIST_SHOW;) {
    size_t k = (a->hist_head + i) % HIST_MAX;
    if (strcmp(a->hist[k].chat, key) == 0)
      idx[n++] = k;
  }
  if (n == 0)
    return;
  say(a, "--> [last messages]");
  while (n-- > 0) {
    const hist_msg *h = &a->hist[idx[n]];
    show_message(a, h->from, "", h->time_ms, h->text, 0, 1);
  }
}

static void enter_view(app *a, view_kind v, const char *name) {
  a->view = v;
  snprintf(a->view_name, sizeof a->view_name, "%s", name);
  if (!a->interactive)
    return;
  char key[MC_NAME_MAX + 2];
  if (v == VIEW_GROUP) {
    say(a, "#####[GROUP CHAT]#####");
    say(a, "--> [Access granted]");
    say(a, "--> [you joined '%s' group]", name);
    chat_key(name, "", key);
  } else {
    say(a, "#####[CHAT WITH %s]#####", name);
    chat_key("", name, key);
  }
  print_hint(a);
  show_history(a, key);
}

/* Terminal CHAT: a user the lists know is entered at once; another name
 * is looked up first, from the page of users where it would be, so that
 * a chat with nobody is refused in the menu. */
static void start_chat(app *a, const char *arg) {
  const char *name = menu_pick(a, arg, 1);
  if (!mc_codec_name_valid(name)) {
    refuse(a, "CHAT", "bad user name");
  } else if (list_has(&a->users, name)) {
    enter_view(a, VIEW_DIRECT, name);
  } else if (a->ph != PH_ONLINE) {
    say(a, "--> [not connected to server; wait a moment]");
  } else {
    snprintf(a->lookup, sizeof a->lookup, "%s", name);
    /* Names sort after every proper prefix of theirs: start there. */
    char after[MC_NAME_MAX + 1];
    snprintf(after, sizeof after, "%.*s", (int)strlen(name) - 1, name);
    list_from(a, LP_LOOKUP, MC_LIST_USERS, after);
  }
}

/* LP_LOOKUP: a page of users came. Returns 1 when it decided (the name is
 * in it, or a later name is, or no page follows). */
static int lookup_page(app *a, const mc_client_event *ev) {
  int found = 0, past = 0;
  for (size_t i = 0; i < ev->n_entries; i++) {
    int c = strcmp(ev->entries[i].name, a->lookup);
    found |= c == 0;
    past |= c > 0;
    if (c == 0)
      entries_append(&a->users, &ev->entries[i], 1);
  }
  if (!found && !past && ev->more && ev->n_entries > 0)
    return 0;
  a->lp = LP_NONE;
  if (found)
    enter_view(a, VIEW_DIRECT, a->lookup);
  else
    say(a, "--> [no user '%s'; R shows who there is]", a->lookup);
  return 1;
}

/* Defined with the commands and the start-up, used by the events. */
static int ask_name(app *a);
static int ask_password(app *a);
static void back_to_menu(app *a);

/* ------------------------------------------------------------------ */
/* events                                                              */

static void on_list(app *a, const mc_client_event *ev) {
  if (a->lp == LP_NONE || ev->request != a->lrequest)
    return;
  if (a->lp == LP_LOOKUP && lookup_page(a, ev))
    return;
  entries_append(&a->lacc, ev->entries, ev->n_entries);
  if (ev->more && ev->n_entries > 0) {
    uint32_t req;
    if (mc_client_list(a->cl, a->lkind, ev->entries[ev->n_entries - 1].name,
                       now_us(), &req) == 0) {
      a->lrequest = req;
      return;
    }
  }
  list_purpose p = a->lp;
  a->lp = LP_NONE;
  if (p == LP_MENU_GROUPS) {
    entries_swap(&a->groups, &a->lacc);
    list_start(a, LP_MENU_MYGROUPS, MC_LIST_MY_GROUPS);
    return;
  }
  if (p == LP_MENU_MYGROUPS) {
    entries_swap(&a->mygroups, &a->lacc);
    list_start(a, LP_MENU_USERS, MC_LIST_USERS);
    return;
  }
  if (p == LP_MENU_USERS) {
    entries_swap(&a->users, &a->lacc);
    print_menu(a);
    a->menu_shown = 1;
    return;
  }
  if (p == LP_LOOKUP) { /* the next page could not be asked for */
    say(a, "--> [couldn't look up '%s'; try again]", a->lookup);
    return;
  }
  const char *word = ev->list_kind == MC_LIST_USERS ? "users"
                     : ev->list_kind == MC_LIST_GROUPS
                         ? "groups"
                         : "mygroups";
  /* One line however long the list: a script reads it whole. */
  char *line = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&line, &len);
  if (f == NULL)
    return;
  fprintf(f, "list %s", word);
  for (size_t i = 0; i < a->lacc.n; i++) {
    const mc_client_list_entry *e = &a->lacc.v[i];
    if (ev->list_kind == MC_LIST_USERS)
      fprintf(f, " %s:%s", e->name, e->online ? "online" : "offline");
    else
      fprintf(f, " %s", e->name);
  }
  if (fclose(f) == 0)
    say(a, "%s", line);
  free(line);
}

static void on_result(app *a, const mc_client_event *ev) {
  char text[4 * MC_TEXT_MAX + 1];
  escape_text(a, ev->text, text, sizeof text);
  /* What the request was about: "-" when it is not known (a message the
   * core sent again after a reconnect, under a request id of its own). */
  char name[MC_NAME_MAX + 2] = "-";
  int enter = 0;
  if (ev->request_kind == MC_KIND_SEND) {
    sent_msg *s = send_find(a, ev->request, 0);
    if (s) {
      snprintf(name, sizeof name, "%s%s", s->group ? "#" : "", s->to);
      s->client_msg_id = 0;
    }
  } else {
    pending_op *op = op_find(a, ev->request);
    if (op) {
      snprintf(name, sizeof name, "%s", op->name);
      enter = op->enter;
      op->kind = MC_KIND_NONE;
    }
  }
  if (!a->interactive) {
    say(a, "result %s %s %s%s%s", kind_word(ev->request_kind), name,
        mc_codec_code_name(ev->code), ev->code ? " " : "",
        ev->code ? text : "");
    return;
  }
  if (ev->request_kind == MC_KIND_SEND) {
    say(a, "--> [Message not sent: %s]",
        text[0] ? text : mc_codec_code_name(ev->code));
    return;
  }
  int ok = ev->code == MC_WIRE_OK;
  if (ev->request_kind == MC_KIND_JOIN_GROUP) {
    if ((ok || ev->code == MC_WIRE_ALREADY_MEMBER) && enter)
      enter_view(a, VIEW_GROUP, name);
    else if (!ok)
      say(a, "--> [couldn't join '%s': %s]", name, text);
  } else if (ok && ev->request_kind == MC_KIND_CREATE_GROUP) {
    say(a, "--> [group '%s' created]", name);
  } else if (ok) {
    say(a, "--> [you left '%s' group]", name);
    if (a->view == VIEW_GROUP && strcmp(a->view_name, name) == 0)
      back_to_menu(a); /* its chat cannot be written to any more */
  } else {
    say(a, "--> [%s '%s' failed: %s]", kind_word(ev->request_kind), name,
        text[0] ? text : mc_codec_code_name(ev->code));
  }
}

static void on_message(app *a, const mc_client_event *ev) {
  if (!a->interactive) {
    char text[4 * MC_TEXT_MAX + 1], t[9];
    escape_text(a, ev->text, text, sizeof text);
    fmt_time(ev->time_ms, t);
    say(a, "message id=%llu from=%s group=%s missed=%d time=%s text=%s",
        (unsigned long long)ev->message_id, ev->name,
        ev->group[0] ? ev->group : "-", ev->missed ? 1 : 0, t, text);
    return;
  }
  char key[MC_NAME_MAX + 2];
  chat_key(ev->group, ev->name, key);
  hist_add(a, key, ev->name, ev->time_ms, ev->text);
  /* Outside its own chat (the menu included, where missed messages come)
   * a message says where it belongs. */
  int here =
      ev->group[0]
          ? a->view == VIEW_GROUP && strcmp(a->view_name, ev->group) == 0
          : a->view == VIEW_DIRECT && strcmp(a->view_name, ev->name) == 0;
  show_message(a, ev->name, ev->group, ev->time_ms, ev->text, ev->missed, here);
}

static void start_logout(app *a, mc_tstamp now) {
  if (mc_client_get_state(a->cl) == MC_CLIENT_ESTABLISHED &&
      mc_client_logout(a->cl, now) == 0) {
    a->ph = PH_LOGGING_OUT;
    a->logout_deadline = now + LOGOUT_WAIT;
  } else {
    a->ph = PH_DONE;
  }
}

static void on_connected(app *a, const mc_client_event *ev) {
  int first = a->ph == PH_CONNECTING;
  a->ph = PH_ONLINE;
  /* The core keeps its own copy for reconnecting. */
  memset(a->password, 0, sizeof a->password);
  if (!a->interactive) {
    say(a, "connected %s", ev->name);
    return;
  }
  if (first) {
    printf("[connected to server]\n");
    fflush(stdout);
    list_start(a, LP_MENU_GROUPS, MC_LIST_GROUPS);
  } else {
    say(a, "--> [connected to server]");
    if (!a->menu_shown) /* the session was lost before the first menu */
      list_start(a, LP_MENU_GROUPS, MC_LIST_GROUPS);
  }
  send_queued(a);
}

/* Ends the client with status 1, saying |why| (if not NULL) on a
 * terminal. */
static void give_up(app *a, const char *why) {
  if (a->interactive && why)
    say(a, "--> [%s]", why);
  a->exit_code = EXIT_FAIL;
  a->ph = PH_DONE;
}

static void on_closed(app *a, const mc_client_event *ev, mc_tstamp now) {
  char text[4 * MC_ERROR_TEXT_MAX + 1];
  escape_text(a, ev->text, text, sizeof text);
  int logout = ev->code == 0 && ev->lib_error == 0;
  if (!a->interactive && logout)
    say(a, "closed OK");
  else if (!a->interactive)
    say(a, "closed %s %s", ev->code ? mc_codec_code_name(ev->code) : "LOST",
        text);
  /* Request ids start again at 1 in the next session; the core sends the
   * unconfirmed messages again under new ones (matched by client id). */
  a->lp = LP_NONE;
  memset(a->ops, 0, sizeof a->ops);
  for (size_t i = 0; i < SENDS_MAX; i++)
    a->sends[i].request = 0;
  if (logout || a->ph == PH_LOGGING_OUT) {
    if (a->interactive)
      say(a, "--> [logged out]");
    a->ph = PH_DONE;
    return;
  }
  if (ev->code == MC_WIRE_SESSION_REPLACED) {
    /* Logging in again would throw the other login out in turn. */
    give_up(a, "you logged in somewhere else; bye");
    return;
  }
  size_t unsent = mc_client_unconfirmed(a->cl);
  if (a->interactive && unsent > 0)
    say(a, "--> [connection lost, reconnecting; %zu message%s pending]", unsent,
        unsent == 1 ? "" : "s");
  else if (a->interactive)
    say(a, "--> [connection lost, reconnecting]");
  else
    say(a, "reconnecting");
  a->ph = PH_RECONNECTING;
  a->reconnect_at = now;
}

/* On a terminal, a first login refused for its password (AUTH_FAILED) or,
 * with --new, its name (NAME_TAKEN) asks for it again, LOGIN_TRIES times
 * in all. Returns 1 when a new handshake started. */
static int retry_login(app *a, int code) {
  int auth = code == MC_WIRE_AUTH_FAILED;
  if ((!auth && code != MC_WIRE_NAME_TAKEN) ||
      ++a->login_tries >= LOGIN_TRIES) {
    if (auth && !a->create)
      printf("--> [a new account: mychat --new --user NAME]\n");
    return 0;
  }
  if ((auth ? ask_password(a) : ask_name(a)) < 0)
    return 0;
  mc_tstamp now = now_us();
  mc_client_connect(a->cl, a->user, a->password, a->create, now);
  printf("--> [connecting to server]");
  fflush(stdout);
  a->next_star = now;
  return 1;
}

/* A handshake failed: decides whether to ask again, try again, or give
 * up. */
static void on_connect_failed(app *a, const mc_client_event *ev,
                              mc_tstamp now) {
  char text[4 * MC_ERROR_TEXT_MAX + 1];
  escape_text(a, ev->text, text, sizeof text);
  int auth = ev->code == MC_WIRE_AUTH_FAILED;
  if (!a->interactive) {
    say(a, "connect-failed %s %s",
        ev->code ? mc_codec_code_name(ev->code) : "TIMEOUT",
        auth ? "wrong user name or password" : text);
  } else if (a->ph == PH_CONNECTING) {
    if (ev->code == 0)
      printf("[couldn't connect to server]\n");
    else if (auth)
      printf("\n--> [wrong user name or password]\n");
    else if (ev->code == MC_WIRE_NAME_TAKEN)
      printf("\n--> [user name '%s' is taken]\n", a->user);
    else
      printf("\n--> [couldn't log in: %s]\n", text);
    fflush(stdout);
  }
  if (a->ph == PH_RECONNECTING) {
    /* The server may be restarting or busy: keep trying, unless it says
     * the credentials stopped working. A script is not left hanging on a
     * server that stays away (no answer for connect_timeout_ms). */
    if (auth || (!a->interactive && ev->code == 0)) {
      give_up(a, "wrong user name or password");
      return;
    }
    if (a->interactive)
      say(a, "--> [couldn't connect to server, retrying]");
    a->reconnect_at = now + RECONNECT_DELAY;
    return;
  }
  if (a->interactive && retry_login(a, ev->code))
    return;
  give_up(a, NULL);
}

static void handle_event(app *a, const mc_client_event *ev, mc_tstamp now) {
  char t[9];
  switch (ev->type) {
  case MC_CEV_CONNECTED:
    on_connected(a, ev);
    return;
  case MC_CEV_CONNECT_FAILED:
    on_connect_failed(a, ev, now);
    return;
  case MC_CEV_CLOSED:
    on_closed(a, ev, now);
    return;
  case MC_CEV_RESULT:
    on_result(a, ev);
    return;
  case MC_CEV_LIST:
    on_list(a, ev);
    return;
  case MC_CEV_SENT: {
    fmt_time(ev->time_ms, t);
    sent_msg *s = send_find(a, 0, ev->client_msg_id);
    if (a->interactive)
      say(a, "--> [Message sent - %s]", t);
    else
      say(a, "sent id=%llu to=%s%s time=%s", (unsigned long long)ev->message_id,
          s && s->group ? "#" : "", s ? s->to : "-", t);
    if (s)
      s->client_msg_id = 0;
    send_queued(a); /* a confirmation makes room in the core */
    return;
  }
  case MC_CEV_DELIVERED:
    fmt_time(ev->time_ms, t);
    if (a->interactive)
      say(a, "--> [Message delivered - %s]", t);
    else
      say(a, "delivered id=%llu to=%s time=%s",
          (unsigned long long)ev->message_id, ev->name, t);
    return;
  case MC_CEV_MESSAGE:
    on_message(a, ev);
    return;
  case MC_CEV_PRESENCE:
    if (a->interactive)
      say(a, "--> [%s is %s]", ev->name, ev->online ? "online" : "offline");
    else
      say(a, "presence %s %s", ev->name, ev->online ? "online" : "offline");
    return;
  case MC_CEV_BACKLOG_DONE:
    if (!a->interactive)
      say(a, "backlog-done count=%u", ev->count);
    else if (ev->count > 0)
      say(a, "--> [%u missed message%s]", ev->count, ev->count == 1 ? "" : "s");
    return;
  }
}

/* ------------------------------------------------------------------ */
/* commands                                                            */

/* Splits "WORD rest" in place: returns the rest (never NULL) and leaves
 * the word NUL-terminated in |line|. */
static char *split_word(char *line) {
  char *p = line;
  while (*p && *p != ' ' && *p != '\t')
    p++;
  if (*p == '\0')
    return p;
  *p++ = '\0';
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
    s[--n] = '\0';
  return s;
}

/* Sends |text| to the current chat. Returns do_send()'s result, or 0 when
 * refused here. */
static int send_to_view(app *a, const char *text) {
  if (a->view == VIEW_MENU) {
    refuse(a, "SAY", "not in a chat");
    return 0;
  }
  if (*text == '\0') {
    refuse(a, "SAY", "empty message");
    return 0;
  }
  const char *user = a->view == VIEW_DIRECT ? a->view_name : NULL;
  const char *group = user ? NULL : a->view_name;
  if (!a->interactive)
    return do_send(a, user, group, text);
  char key[MC_NAME_MAX + 2];
  chat_key(group ? group : "", a->view_name, key);
  if (a->ph == PH_LOGGING_OUT) {
    refuse(a, "SAY", "logging out");
    return 0;
  }
  /* Not connected, the message waits for the next session. */
  int rv = a->ph == PH_ONLINE ? do_send(a, user, group, text)
                              : queue_add(a, user, group, text);
  if (rv == 0)
    hist_add(a, key, a->user, wall_ms(), text);
  return rv;
}

/* Returns 1 and sets |*kind| if |w| is JOIN, CREATE or LEAVE. */
static int group_word(const char *w, mc_body_kind *kind) {
  for (size_t i = 0; i < sizeof k_requests / sizeof k_requests[0]; i++)
    if (k_requests[i].kind != MC_KIND_SEND &&
        strcasecmp(w, k_requests[i].word) == 0) {
      *kind = k_requests[i].kind;
      return 1;
    }
  return 0;
}

/* E, Ctrl-D on an empty line, Ctrl-C: logs out and exits. Messages typed
 * while not connected are named first, and only a second request leaves
 * them behind; messages the server has not confirmed yet are waited for
 * (DRAIN_WAIT at most). A request while that wait or the logout runs
 * leaves at once. */
static void request_quit(app *a) {
  mc_tstamp now = now_us();
  size_t unconfirmed = mc_client_unconfirmed(a->cl);
  if (a->ph == PH_LOGGING_OUT) {
    a->ph = PH_DONE;
  } else if (a->queued_n > 0 && !a->quit_asked) {
    a->quit_asked = 1;
    say(a,
        "--> [%zu message%s not sent yet (not connected); E, Ctrl-D or "
        "Ctrl-C again quits anyway]",
        a->queued_n, a->queued_n == 1 ? "" : "s");
  } else if (a->ph == PH_ONLINE && unconfirmed > 0 && a->drain_until == 0) {
    say(a, "--> [waiting for the server to confirm %zu message%s]", unconfirmed,
        unconfirmed == 1 ? "" : "s");
    a->drain_until = now + DRAIN_WAIT;
  } else {
    start_logout(a, now);
  }
}

/* Says so and returns 0 when there is no session for a request. */
static int need_online(app *a) {
  if (a->ph == PH_ONLINE)
    return 1;
  say(a, "--> [not connected to server; wait a moment]");
  return 0;
}

/* B: the menu, fetched again (or as last fetched while not connected). */
static void back_to_menu(app *a) {
  a->view = VIEW_MENU;
  if (a->ph == PH_ONLINE && a->lp == LP_NONE)
    list_start(a, LP_MENU_GROUPS, MC_LIST_GROUPS);
  else
    print_menu(a);
}

/* A menu command (in a chat: one typed after '/'). */
static void term_command(app *a, char *line) {
  char *arg = split_word(line);
  mc_body_kind kind;
  int bare = *arg == '\0';
  if (bare && (strcasecmp(line, "E") == 0 || strcasecmp(line, "QUIT") == 0))
    request_quit(a);
  else if (bare && strcasecmp(line, "HELP") == 0)
    print_help(a);
  else if (bare && strcasecmp(line, "B") == 0)
    back_to_menu(a);
  else if (bare && strcasecmp(line, "R") == 0) {
    if (need_online(a) && a->lp == LP_NONE)
      list_start(a, LP_MENU_GROUPS, MC_LIST_GROUPS);
  } else if (!bare && group_word(line, &kind)) {
    if (need_online(a))
      do_group(a, kind,
               kind == MC_KIND_CREATE_GROUP
                   ? arg
                   : menu_pick(a, arg, 0),
               kind == MC_KIND_JOIN_GROUP);
  } else if (!bare && strcasecmp(line, "CHAT") == 0)
    start_chat(a, arg);
  else
    say(a, "--> [unknown command '%s'; type /help]", line);
}

/* A line typed on the terminal. In a chat it is a message, except B, E
 * and a line starting with one '/', which is a menu command. */
static void interactive_line(app *a, char *raw) {
  char *line = trim(raw);
  if (*line == '\0')
    return;
  if (line[0] == '/' && line[1] != '/')
    term_command(a, line + 1);
  else if (a->view == VIEW_MENU)
    term_command(a, line);
  else if (strcasecmp(line, "B") == 0)
    back_to_menu(a);
  else if (strcasecmp(line, "E") == 0)
    request_quit(a);
  else
    send_to_view(a, line[0] == '/' ? line + 1 : line);
}

/* The editor's line callback: |line| is NULL for Ctrl-D on an empty
 * line. */
static void on_term_line(void *user_data, const char *line) {
  app *a = user_data;
  char *copy = line ? strdup(line) : NULL;
  if (line == NULL)
    request_quit(a);
  else if (copy == NULL)
    say(a, "--> [out of memory; line dropped]");
  else
    interactive_line(a, copy);
  free(copy);
}

/* Tab's candidates: in the menu the command words first, then the users
 * and groups of the lists. */
static const char *complete_name(void *user_data, size_t i, int first) {
  static const char *const words[] = {"JOIN", "CHAT", "CREATE", "LEAVE"};
  const app *a = user_data;
  size_t nw = sizeof words / sizeof words[0];
  if (first && a->view == VIEW_MENU) {
    if (i < nw)
      return words[i];
    i -= nw;
  }
  if (i < a->users.n)
    return a->users.v[i].name;
  i -= a->users.n;
  return i < a->groups.n ? a->groups.v[i].name : NULL;
}

/* Parses a decimal number of seconds >= 0. Returns 0 on success. */
static int parse_seconds(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end != '\0' || !(v >= 0) || v > 86400)
    return -1;
  *out = v;
  return 0;
}

/* Scripted WAITFOR: |arg| is "PREFIX [SECONDS]". */
static void script_waitfor(app *a, char *arg, mc_tstamp now) {
  /* A last word that is a number is the timeout, not the prefix. */
  double secs;
  char *last = strrchr(arg, ' ');
  if (last && parse_seconds(last + 1, &secs) == 0)
    *last = '\0';
  else
    secs = WAITFOR_DEFAULT_S;
  snprintf(a->waitfor, sizeof a->waitfor, "%s", trim(arg));
  if (!outq_match(a))
    a->waitfor_until = now + (mc_tstamp)(secs * MC_SEC);
}

/* Scripted LIST: |arg| is USERS, GROUPS or MYGROUPS. */
static void script_list(app *a, const char *arg) {
  if (strcasecmp(arg, "USERS") == 0)
    list_start(a, LP_SCRIPT, MC_LIST_USERS);
  else if (strcasecmp(arg, "GROUPS") == 0)
    list_start(a, LP_SCRIPT, MC_LIST_GROUPS);
  else if (strcasecmp(arg, "MYGROUPS") == 0)
    list_start(a, LP_SCRIPT, MC_LIST_MY_GROUPS);
  else
    refuse(a, "LIST", "usage: LIST USERS|GROUPS|MYGROUPS");
}

/* Runs one scripted command line. A line whose first word is a command is
 * that command (SAY sends any text); any other line is a message to the
 * current chat. Returns 0 when done with the line, or MC_ERR_QUEUE_FULL
 * when it must run again later. */
static int script_line(app *a, char *raw, mc_tstamp now) {
  char *line = trim(raw);
  if (*line == '\0' || *line == '#')
    return 0;
  size_t wl = strcspn(line, " \t");
  char cmd[16];
  snprintf(cmd, sizeof cmd, "%.*s", (int)wl, line);
  char *arg = line + wl;
  arg += strspn(arg, " \t");
  mc_body_kind kind;
  int rv = 0;
  double secs;
  if (strcasecmp(cmd, "E") == 0) {
    start_logout(a, now);
  } else if (strcasecmp(cmd, "B") == 0) {
    a->view = VIEW_MENU;
  } else if (group_word(cmd, &kind)) {
    rv = do_group(a, kind, arg, 0);
    if (rv == 0 && kind == MC_KIND_JOIN_GROUP)
      enter_view(a, VIEW_GROUP, arg);
  } else if (strcasecmp(cmd, "CHAT") == 0) {
    if (mc_codec_name_valid(arg))
      enter_view(a, VIEW_DIRECT, arg);
    else
      refuse(a, cmd, "bad user name");
  } else if (strcasecmp(cmd, "SAY") == 0) {
    rv = send_to_view(a, arg);
  } else if (strcasecmp(cmd, "SEND") == 0) {
    char *text = arg + strcspn(arg, " \t");
    if (*text != '\0')
      *text++ = '\0';
    text += strspn(text, " \t");
    if ((*arg != '@' && *arg != '#') || *text == '\0')
      refuse(a, cmd, "usage: SEND @USER TEXT | SEND #GROUP TEXT");
    else
      rv = *arg == '@' ? do_send(a, arg + 1, NULL, text)
                       : do_send(a, NULL, arg + 1, text);
  } else if (strcasecmp(cmd, "LIST") == 0) {
    script_list(a, arg);
  } else if (strcasecmp(cmd, "WAIT") == 0) {
    if (parse_seconds(arg, &secs) == 0)
      a->wait_until = now + (mc_tstamp)(secs * MC_SEC);
    else
      refuse(a, cmd, "usage: WAIT SECONDS");
  } else if (strcasecmp(cmd, "WAITFOR") == 0) {
    if (*arg)
      script_waitfor(a, arg, now);
    else
      refuse(a, cmd, "usage: WAITFOR PREFIX [SECONDS]");
  } else if (a->view != VIEW_MENU) {
    rv = send_to_view(a, line);
  } else {
    refuse(a, cmd, "unknown command");
  }
  return rv == MC_ERR_QUEUE_FULL ? rv : 0;
}

/* Scripted mode: whether the next command may run now. */
static int script_ready(const app *a, mc_tstamp now) {
  return a->ph == PH_ONLINE && a->lp == LP_NONE && a->waitfor_until == 0 &&
         a->wait_until <= now && a->drain_until == 0;
}

/* Runs buffered command lines while the client is ready for them. */
static void script_run(app *a, mc_tstamp now) {
  while (script_ready(a, now)) {
    char *nl = memchr(a->inbuf, '\n', a->inlen);
    size_t len = nl ? (size_t)(nl - a->inbuf) : a->inlen;
    if (nl == NULL && !a->in_eof && a->inlen < LINE_MAX_IN)
      return; /* partial line: wait for the rest */
    if (nl == NULL && a->inlen == LINE_MAX_IN) {
      /* A line this long is no command and too long for a message: it
       * is refused whole rather than cut into pieces. */
      refuse(a, "-", "line too long");
      a->inlen = 0;
      a->skipping = 1;
      return;
    }
    if (len == 0 && nl == NULL) {
      if (a->in_eof && a->drain_until == 0)
        a->drain_until = now + DRAIN_WAIT;
      return;
    }
    char line[LINE_MAX_IN + 1];
    memcpy(line, a->inbuf, len);
    line[len] = '\0';
    if (script_line(a, line, now) == MC_ERR_QUEUE_FULL) {
      a->retry = 1;
      return;
    }
    a->retry = 0;
    size_t used = nl ? len + 1 : len;
    memmove(a->inbuf, a->inbuf + used, a->inlen - used);
    a->inlen -= used;
  }
}

static void read_stdin(app *a) {
  ssize_t n = read(STDIN_FILENO, a->inbuf + a->inlen, LINE_MAX_IN - a->inlen);
  if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
    a->in_eof = 1;
    return;
  }
  if (n < 0)
    return;
  a->inlen += (size_t)n;
  if (!a->skipping)
    return;
  /* The rest of an overlong line goes, up to and including its end. */
  char *nl = memchr(a->inbuf, '\n', a->inlen);
  size_t drop = nl ? (size_t)(nl - a->inbuf) + 1 : a->inlen;
  memmove(a->inbuf, a->inbuf + drop, a->inlen - drop);
  a->inlen -= drop;
  a->skipping = nl == NULL;
}

/* ------------------------------------------------------------------ */
/* timers and the loop                                                 */

static mc_tstamp min_t(mc_tstamp x, mc_tstamp y) { return x < y ? x : y; }

/* Runs the client's own deadlines; returns the next one. */
static mc_tstamp app_timers(app *a, mc_tstamp now) {
  mc_tstamp next = MC_TSTAMP_NEVER;
  if (a->ph == PH_CONNECTING && a->interactive) {
    if (now >= a->next_star) {
      putchar('*');
      fflush(stdout);
      a->next_star = now + STAR_INTERVAL;
    }
    next = a->next_star;
  }
  if (a->ph == PH_RECONNECTING && a->reconnect_at != MC_TSTAMP_NEVER) {
    if (now >= a->reconnect_at) {
      a->reconnect_at = MC_TSTAMP_NEVER;
      mc_client_reconnect(a->cl, now);
    } else {
      next = min_t(next, a->reconnect_at);
    }
  }
  if (a->ph == PH_LOGGING_OUT) {
    if (now >= a->logout_deadline)
      a->ph = PH_DONE; /* the server is gone; it times the session out */
    next = min_t(next, a->logout_deadline);
  }
  if (a->waitfor_until) {
    if (outq_match(a)) {
      a->waitfor_until = 0;
    } else if (now >= a->waitfor_until) {
      fprintf(stderr, "mychat: WAITFOR '%s' timed out\n", a->waitfor);
      a->exit_code = EXIT_WAITFOR;
      start_logout(a, now);
      a->waitfor_until = 0;
      a->in_eof = 1;
      a->inlen = 0;
    } else {
      next = min_t(next, a->waitfor_until);
    }
  }
  if (a->wait_until > now)
    next = min_t(next, a->wait_until);
  if (a->drain_until && a->ph == PH_ONLINE) {
    if (mc_client_unconfirmed(a->cl) == 0 || now >= a->drain_until)
      start_logout(a, now);
    else
      next = min_t(next, a->drain_until);
  }
  return next;
}

/* Runs the core's timers, the script, the client's own deadlines, sends
 * what is due and handles the events, until a pass has no event left (an
 * event may queue more to send). Returns the next deadline. */
static mc_tstamp pump(app *a) {
  for (;;) {
    mc_tstamp now = now_us();
    if (mc_client_expiry(a->cl) <= now)
      mc_client_handle_expiry(a->cl, now);
    if (!a->interactive)
      script_run(a, now);
    mc_tstamp next = app_timers(a, now);
    flush_tx(a, now);
    mc_client_event ev;
    int any = 0;
    while (mc_client_poll_event(a->cl, &ev)) {
      handle_event(a, &ev, now);
      any = 1;
    }
    if (!any) /* the drive contract: now later than |now| */
      return min_t(next, mc_client_expiry(a->cl));
  }
}

static int run(app *a) {
  while (a->ph != PH_DONE) {
    if (g_stop) {
      g_stop = 0;
      if (a->interactive)
        request_quit(a);
      else if (a->ph == PH_ONLINE)
        start_logout(a, now_us());
      else
        a->ph = PH_DONE;
      continue;
    }
    if (g_winch) {
      g_winch = 0;
      mc_term_resize();
    }
    if (g_tstp) {
      g_tstp = 0;
      suspend();
    }
    mc_tstamp next = pump(a);
    if (a->ph == PH_DONE)
      break;
    if (a->interactive && !mc_term_is_open() && a->menu_shown) {
      mc_term_callbacks tcb = {
          .user_data = a, .on_line = on_term_line, .complete = complete_name};
      if (mc_term_open(&tcb) < 0) {
        fprintf(stderr, "mychat: libedit: cannot edit lines here\n");
        return EXIT_FAIL;
      }
      /* Only now: at the prompts before, Ctrl-Z stops as usual. */
      struct sigaction own = {.sa_handler = on_signal};
      sigemptyset(&own.sa_mask);
      sigaction(SIGTSTP, &own, NULL);
    }
    struct pollfd p[2] = {{.fd = a->fd, .events = POLLIN},
                          {.fd = STDIN_FILENO, .events = POLLIN}};
    int want_stdin = a->interactive
                         ? mc_term_is_open() && !a->in_eof
                         : !a->in_eof && a->inlen < LINE_MAX_IN && !a->retry;
    mc_tstamp now = now_us();
    int timeout = -1;
    if (next != MC_TSTAMP_NEVER)
      timeout = next <= now ? 0 : (int)((next - now + 999) / 1000);
    if (poll(p, want_stdin ? 2 : 1, timeout) < 0) {
      if (errno == EINTR)
        continue;
      perror("mychat: poll");
      return EXIT_FAIL;
    }
    now = now_us();
    if (p[0].revents)
      read_socket(a, now);
    if (want_stdin && a->interactive && !(p[1].revents & POLLIN) &&
        p[1].revents) {
      /* The terminal went away (hangup): nobody is left to type E. */
      a->in_eof = 1;
      start_logout(a, now);
    } else if (want_stdin && p[1].revents) {
      if (a->interactive)
        mc_term_read();
      else
        read_stdin(a);
    }
    /* A retried command waits for the core to make room, which only an
     * arrival from the server can do. */
    if (p[0].revents)
      a->retry = 0;
  }
  return a->exit_code;
}

/* ------------------------------------------------------------------ */
/* start-up                                                            */

/* Reads one line from the terminal, without echo if |hide|. Returns 0, or
 * -1 at end of input. */
static int tty_line(const char *prompt, char *buf, size_t cap, int hide) {
  struct termios old, quiet;
  int restore = 0;
  printf("%s", prompt);
  fflush(stdout);
  if (hide && tcgetattr(STDIN_FILENO, &old) == 0) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  size_t n = 0;
  int rv = -1;
  for (;;) {
    char c;
    ssize_t r = read(STDIN_FILENO, &c, 1);
    if (r < 0 && errno == EINTR && !g_stop)
      continue;
    if (r <= 0)
      break;
    if (c == '\n') {
      rv = 0;
      break;
    }
    if (n + 1 < cap)
      buf[n++] = c;
  }
  buf[n] = '\0';
  if (restore) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    printf("\n");
  }
  return rv;
}

/* Messages are UTF-8 (MC-21), so the terminal is read as UTF-8 text: the
 * user's locale when it is UTF-8, else C.UTF-8, since in a locale of
 * single-byte characters libedit drops every byte above 127. */
static void use_utf8(void) {
  setlocale(LC_ALL, "");
  if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
    setlocale(LC_CTYPE, "C.UTF-8");
}

static void usage(void) {
  printf("usage: mychat [--server HOST[:PORT]] [--user NAME] [--new]\n"
         "              [-h|--help] [--version]\n"
         "  --server HOST[:PORT]  server address (default %s; the port\n"
         "                        is %d when left out; IPv6 as [ADDR]:PORT)\n"
         "  --user NAME           log in as NAME (else asked for)\n"
         "  --new                 register NAME as a new account\n"
         "  -h, --help            show this help\n"
         "  --version             show the version\n"
         "The password is read from MYCHAT_PASSWORD, or asked for (three\n"
         "tries). On a terminal the server is checked first, then:\n"
         "  menu     JOIN g | CHAT u | CREATE g | LEAVE g   (a list's number\n"
         "           stands for its name: JOIN 1, CHAT 2), R (refresh),\n"
         "           E (exit), /help\n"
         "  chat     type a message and press ENTER; B (back to the menu),\n"
         "           E (exit), /CMD for a menu command (/chat u, /join g),\n"
         "           //text sends '/text'\n"
         "  keys     Tab completes names, up and down recall lines,\n"
         "           Ctrl-D on an empty line or Ctrl-C exits, Ctrl-Z\n"
         "           suspends\n"
         "Messages typed while the server is away are kept and sent when it\n"
         "is back; E, Ctrl-D or Ctrl-C waits up to 5 s for the server to\n"
         "confirm what was sent, and with messages still pending asks again.\n"
         "\n"
         "When standard input is not a terminal: one command a line in, one\n"
         "event a line out (listed at the top of reference/mychat.c):\n"
         "  groups   JOIN g | CREATE g | LEAVE g\n"
         "  chats    CHAT u | B | SAY text | text (in a chat)\n"
         "  send     SEND @u text | SEND #g text\n"
         "  lists    LIST USERS|GROUPS|MYGROUPS\n"
         "  waits    WAIT SECONDS | WAITFOR PREFIX [SECONDS]\n"
         "  exit     E\n"
         "\n"
         "Exit status: 0 logged out, 1 connecting or the session failed,\n"
         "2 usage error, 3 a WAITFOR timed out.\n",
         DEFAULT_SERVER, DEFAULT_PORT);
}

/* Reports a bad command line; returns the usage exit status. */
static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "mychat: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry 'mychat --help' for usage.\n");
  return EXIT_USAGE;
}

/* Parses the command line and asks for what is missing. Returns -1 to go
 * on, or an exit status. */
static int setup(app *a, int argc, char **argv, const char **server) {
  static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                       {"user", required_argument, NULL, 'u'},
                                       {"new", no_argument, NULL, 'n'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {NULL, 0, NULL, 0}};
  int o;
  *server = DEFAULT_SERVER;
  opterr = 0; /* our messages, with the usage hint */
  while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (o) {
    case 's':
      *server = optarg;
      break;
    case 'u':
      if (!mc_codec_name_valid(optarg))
        return usage_error("bad user name '%s'", optarg);
      snprintf(a->user, sizeof a->user, "%s", optarg);
      break;
    case 'n':
      a->create = 1;
      break;
    case 'h':
      usage();
      return 0;
    case 'V':
      printf("mychat %s (MyChat protocol v%d)\n", MYCHAT_VERSION,
             MC_PROTOCOL_VERSION);
      return 0;
    case ':':
      return usage_error("%s: needs a value", argv[optind - 1]);
    default:
      return usage_error("%s: unknown option", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return usage_error("%s: unexpected argument", argv[optind]);
  a->interactive = isatty(STDIN_FILENO);
  if (a->interactive)
    printf("#####[Welcome to MyChat]#####\n");
  if (a->user[0] == '\0' && !a->interactive) {
    fprintf(stderr, "mychat: --user is required when not on a terminal\n");
    return EXIT_USAGE;
  }
  const char *env = getenv("MYCHAT_PASSWORD");
  if (env) {
    snprintf(a->password, sizeof a->password, "%s", env);
  } else if (!a->interactive) {
    fprintf(stderr, "mychat: set MYCHAT_PASSWORD when not on a terminal\n");
    return EXIT_USAGE;
  }
  size_t pl = strlen(a->password);
  if (env && (pl < MC_PASSWORD_MIN || pl > MC_PASSWORD_MAX)) {
    fprintf(stderr, "mychat: a password is %d to %d bytes\n", MC_PASSWORD_MIN,
            MC_PASSWORD_MAX);
    return EXIT_USAGE;
  }
  return -1;
}

/* Asks for the user name until a valid one is typed. Returns 0, or -1 at
 * the end of input. */
static int ask_name(app *a) {
  for (;;) {
    if (tty_line("Enter username: ", a->user, sizeof a->user, 0) < 0)
      return -1;
    if (mc_codec_name_valid(a->user))
      return 0;
    printf("--> [a user name is 1 to %d letters, digits, '_', '.' or '-', "
           "not starting with '_', '.' or '-']\n",
           MC_NAME_MAX);
  }
}

/* Asks for the password, without echo, until one of a valid length is
 * typed. Returns 0, or -1 at the end of input. */
static int ask_password(app *a) {
  for (;;) {
    if (tty_line("Enter password: ", a->password, sizeof a->password, 1) < 0)
      return -1;
    size_t pl = strlen(a->password);
    if (pl >= MC_PASSWORD_MIN && pl <= MC_PASSWORD_MAX)
      return 0;
    printf("--> [a password is %d to %d bytes]\n", MC_PASSWORD_MIN,
           MC_PASSWORD_MAX);
  }
}

/* Resolves --server: HOST:PORT, or a HOST (a name, an IPv4 address, an
 * IPv6 address bare or in brackets) without a port, which means port
 * 8000. Returns 0, or -1 with |err| set. */
static int parse_server(const char *server, struct sockaddr_storage *sa,
                        socklen_t *salen, char *err, size_t cap) {
  const char *colon = strchr(server, ':');
  size_t len = strlen(server);
  int bracket = server[0] == '[';
  if (len == 0) {
    snprintf(err, cap, "empty server address");
    return -1;
  }
  /* One colon, or one after "]", starts a port; more, unbracketed, are an
   * IPv6 address's own. */
  if (bracket ? server[len - 1] != ']'
              : colon && strchr(colon + 1, ':') == NULL)
    return mc_udp_parse(server, sa, salen, err, cap);
  char host[MC_UDP_HOSTMAX];
  snprintf(host, sizeof host, "%.*s", (int)(bracket ? len - 2 : len),
           server + bracket);
  return mc_udp_resolve(host, DEFAULT_PORT, sa, salen, err, cap);
}

/* Terminal mode: checks that a MyChat server answers before the user
 * types a name and a password, with a star every 0.2 s for 15 s, as the
 * original did when connecting. A Ping outside any session must be
 * answered with Error UNKNOWN_SESSION (MC-58); its time makes it larger
 * than that Error, which a server may not send bigger than what it
 * answers (MC-60). Returns 0 when the server answered. */
static int probe_server(int fd, const char *server) {
  uint8_t dgram[64], in[MC_DATAGRAM_MAX + 1];
  size_t dlen;
  if (mc_codec_encode_ping(now_us(), dgram, sizeof dgram, &dlen) != 0)
    return -1;
  printf("--> [checking server %s]", server);
  fflush(stdout);
  for (int i = 0; i < PROBE_TRIES && !g_stop; i++) {
    (void)send(fd, dgram, dlen, 0);
    putchar('*');
    fflush(stdout);
    mc_tstamp until = now_us() + STAR_INTERVAL, now;
    while (!g_stop && (now = now_us()) < until) {
      struct pollfd p = {.fd = fd, .events = POLLIN};
      if (poll(&p, 1, (int)((until - now + 999) / 1000)) <= 0)
        continue;
      ssize_t n = recv(fd, in, sizeof in, 0);
      mc_peek pk;
      int ok = n > 0 && mc_codec_peek(in, (size_t)n, &pk) == 0 &&
               pk.body == MC_KIND_ERROR;
      if (ok) {
        printf("[server is online]\n");
        /* What was typed while waiting is not a user name. */
        tcflush(STDIN_FILENO, TCIFLUSH);
        return 0;
      }
    }
  }
  printf("[couldn't connect to server]\n");
  return -1;
}

/* Terminal mode: the name and password not given, asked for. Returns 0,
 * or -1 at the end of input. */
static int ask_missing(app *a) {
  if (a->user[0] == '\0' && ask_name(a) < 0)
    return -1;
  return a->password[0] == '\0' ? ask_password(a) : 0;
}

int main(int argc, char **argv) {
  static app a; /* large (buffers); zeroed */
  const char *server;
  a.fd = -1;
  /* Installed first so that an interrupt during the password prompt still
   * lets tty_line() turn echo back on. */
  struct sigaction act = {.sa_handler = on_signal};
  sigemptyset(&act.sa_mask);
  sigaction(SIGINT, &act, NULL);
  sigaction(SIGTERM, &act, NULL);
  sigaction(SIGWINCH, &act, NULL);
  signal(SIGPIPE, SIG_IGN);
  use_utf8();
  int rv = setup(&a, argc, argv, &server);
  if (rv >= 0)
    return rv;

  char err[256];
  struct sockaddr_storage peer;
  socklen_t salen;
  if (parse_server(server, &peer, &salen, err, sizeof err) == 0)
    a.fd = mc_udp_connect((struct sockaddr *)&peer, salen, err, sizeof err);
  if (a.fd < 0) {
    fprintf(stderr, "mychat: %s\n", err);
    return EXIT_USAGE;
  }
  if (a.interactive) {
    char shown[MC_UDP_ADDRSTRLEN];
    mc_udp_format((struct sockaddr *)&peer, salen, shown, sizeof shown);
    if (probe_server(a.fd, shown) < 0 || ask_missing(&a) < 0) {
      close(a.fd);
      return EXIT_FAIL;
    }
  }
  mc_client_callbacks cb = {.random = random_bytes};
  a.cl = mc_client_new(NULL, &cb);
  if (a.cl == NULL) {
    fprintf(stderr, "mychat: out of memory\n");
    return EXIT_FAIL;
  }

  mc_tstamp now = now_us();
  mc_client_connect(a.cl, a.user, a.password, a.create, now);
  a.ph = PH_CONNECTING;
  a.reconnect_at = MC_TSTAMP_NEVER;
  if (a.interactive) {
    printf("--> [connecting to server]");
    fflush(stdout);
    a.next_star = now;
  }
  rv = run(&a);

  mc_term_close();
  mc_client_del(a.cl);
  close(a.fd);
  for (size_t i = 0; i < a.outq_n; i++)
    free(a.outq[(a.outq_head + i) % OUTQ_MAX]);
  free(a.lacc.v);
  free(a.groups.v);
  free(a.users.v);
  return rv;
}
