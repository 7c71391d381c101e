/*
 * mc_replay.c: the replay engine of mychat-conform (see mc_replay.h and
 * conformance/README.md for the rules it applies).
 */
#include "mc_replay.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

#include "mc_arq.h"
#include "mc_codec_pb.h"
#include "mc_error.h"
#include "mc_udp.h"
#include "mcp.h"

#define MAXSEQ 1024
#define RX_TIMES (MC_CAP_GAPS_MAX + 1) /* arrival times kept per seq */
#define QMAX 512
#define BINDS 512
#define GAP_KEPT_US 100000       /* recorded client gaps kept from here */
#define TIME_SLACK_MS 600000     /* server times within 10 min of ours */
#define KEEPALIVE_US 300000      /* impaired: our own Pings, this often */
#define RXLOG 64                 /* received datagrams kept for reports */
#define RXLOG_SHOWN 12           /* of them, listed under a timeout */
#define DUMP_LINE_MAX 240             /* one decoded datagram */
#define TXLOG 64                 /* our latest transmissions kept per endpoint */
/* An ack's delay_us (MC-84) against what we saw: the ack came |el| after
 * we sent what it covers, so the server held it at most |el| (plus clock
 * granularity) and at least |el| less the time our datagram and its ack
 * spent on the way and in queues, a few ms on a loaded machine; a server
 * that holds the ack 20 ms and says 0 is well outside. */
#define ACK_DELAY_OVER_US 2000
#define ACK_DELAY_UNDER_US 8000

enum { X_CLIENT, X_REL, X_RETX, X_UNREL, X_ACKONLY };

typedef struct {
  int kind;
  uint32_t seq;
  int body;                      /* Mychat__Envelope__BodyCase */
  int has_ack;
  uint32_t cum, n_ranges, rf[MC_ACK_RANGES_MAX], rl[MC_ACK_RANGES_MAX];
  int matched;
  int occ;                       /* server: nth sending of this seq here */
  int demanded;                  /* a retransmission the case requires */
  int awaited;                   /* server unreliable: a client datagram
                                    of its endpoint waits for it */
  int ack_only;                  /* a datagram with neither seq nor body */
  int retx_rel;                  /* client: reliable, acked in the capture */
  int code;                      /* server Error: its code */
  uint64_t stamp_ns;             /* clean link: kernel receive time of the
                                    live datagram matched to it */
  int awaits;                    /* client: server unreliable it awaits */
  int chain;                     /* server reliable: its order chain */
  char who[MC_NAME_MAX + 8];     /* Presence: whose (its chain is per user) */
  int optional;                  /* unreliable that may not come ("allow:") */
  uint64_t nonce;                /* server Welcome or Error: client_nonce */
  uint64_t ping_time;            /* client Ping: its time_us (0: none) */
  uint64_t wire_at;              /* client: when a copy of it first went on
                                    the wire (past our side of the link) */
  int copy;                      /* client: the bytes of an earlier datagram
                                    of its endpoint, no unreliable answer
                                    between: a retransmission the capture's
                                    server dropped (MC-41) */
} pinfo;

/* The order chains of a session's pushes (PROTOCOL.md section 8.6): the
 * pushes of one chain keep the capture's order, pushes of different chains
 * may come in any order. Receipts form no chain: each may come anywhere. */
enum { CH_FREE, CH_REPLY, CH_MESSAGE, CH_PRESENCE };

typedef struct {
  uint64_t at;
  uint64_t order;                /* offer order: ties of |at| keep it */
  int to_server, ep;
  int idx;                       /* to the server: the capture index of a
                                    script datagram, -1 for our own */
  size_t len;
  uint8_t data[MC_DATAGRAM_MAX + 64];
} qitem;

typedef struct {
  int ep;
  uint32_t seq;
  size_t idx;                    /* its capture index */
  uint64_t sid;                  /* its session */
  int past_end;                  /* sent after the capture's server ended
                                    that session (ack_free): resent only
                                    until the session is seen gone */
  uint64_t last;
  size_t len;
  uint8_t data[MC_DATAGRAM_MAX + 64];
} pending;

typedef struct {
  int fd;
  uint8_t acked[MAXSEQ];         /* our seqs the server acked, ever */
  uint8_t ack_ok[MAXSEQ];        /* our seqs the capture's server acked */
  uint8_t ack_free[MAXSEQ];      /* our seqs sent after the last ack the
                                    capture's server sent here: its session
                                    ended first (MC-132), so an ack of them
                                    is neither owed nor wrong */
  int rx_count[MAXSEQ];
  int tx_count[MAXSEQ];          /* our transmissions of each seq */
  uint64_t rx_time[MAXSEQ][RX_TIMES];
  uint8_t *rx_body[MAXSEQ];
  size_t rx_len[MAXSEQ];
  /* A push that came before a lower seq of its session: it waits here,
   * with its decoded line, to be matched in stream order (a client sees
   * its pushes in seq order, whatever order the network gives). */
  Mychat__Envelope *rx_env[MAXSEQ];
  char *rx_line[MAXSEQ];
  uint64_t acked_at[MAXSEQ];     /* when we first acked a server seq */
  /* Impaired link: when a datagram of each live seq first reached our
   * socket, before the link's loss and delay toward us, so when the
   * server first sent it (0: never). A timeout: bound is checked on it. */
  uint64_t raw_at[MAXSEQ];
  /* The server's seqs as the capture has them versus as they came: a
   * push may take another place in the stream than in the capture when
   * the spec leaves the order free, so recorded seq r is live seq
   * live_of[r] (0: not seen yet) and our recorded acks are rewritten. */
  uint32_t live_of[MAXSEQ], rec_of[MAXSEQ];
  int remapped;                  /* some live_of[r] != r */
  uint32_t top_seq;              /* highest live seq received */
  uint64_t push_sid;             /* the session of the pushes here */
  uint32_t ack_sent_cum;
  uint8_t last_ack[MC_DATAGRAM_MAX + 64]; /* our latest datagram with ack */
  size_t last_ack_len;
  int retrans;                   /* our retransmissions from here */
  int unrel_extra;               /* extra unreliable answers seen */
  int live;                      /* impaired: keep the session alive */
  uint64_t sid;                  /* the live session, from its Welcome */
  uint8_t tok[MC_TOKEN_LEN];
  uint64_t last_ping;
  int pinged;
  int pend_unrel;                /* capture index awaiting an answer, -1 */
  int pend_unrel_idx;            /* capture index of the datagram resent */
  /* The capture index of this endpoint's last datagram before the push
   * a timeout: directive times (-1: none): once it is sent, the endpoint
   * falls silent as the capture's client did, no keepalive of ours. */
  int silent_from;
  /* The capture's client sent a datagram of a session from here: our
   * keepalive may too. One that never did (hs-validate's client that does
   * not answer its Welcome) must not prove the address with ours (MC-141). */
  int speaks;
  int last_sent;                 /* capture index we sent last, -1 */
  uint64_t pend_unrel_last;
  size_t pend_unrel_len;
  uint8_t pend_unrel_data[MC_DATAGRAM_MAX + 64];
  uint64_t tx_at[TXLOG];         /* when our datagrams went on the wire */
  size_t n_tx;                   /* ever sent; ring of TXLOG */
} epst;

typedef struct {
  const mc_case *c;
  const mc_replay_opts *o;
  pinfo *pi;
  epst ep[MC_CAP_ENDPOINTS_MAX];
  int host[MC_CAP_ENDPOINTS_MAX]; /* each endpoint's client host */
  int n_ep;
  struct { uint64_t rec, live; } sid[BINDS], mid[BINDS], mtime[BINDS];
  size_t n_sid, n_mid, n_mtime;
  struct { uint8_t rec[MC_TOKEN_LEN], live[MC_TOKEN_LEN]; } tok[BINDS];
  size_t n_tok;
  char prefix[MC_CAP_TAG_LEN + 4]; /* this case's names: "tag.cNN" */
  size_t prefix_len;
  /* The link of this case: the run's impairments that its profile
   * takes, per direction (mc_case.impair). |impaired|: any of them in
   * force; else the clean-link rules and checks apply. */
  mc_netem nout, nin;
  int impaired;
  qitem *q;
  size_t nq;
  uint64_t q_order;              /* order of the next copy queued */
  pending *pend;
  size_t npend;
  /* The transmissions each "ack:" directive lists: when each went out,
   * and when an ack covering it first came after (0: not yet). */
  struct {
    uint64_t sent[MC_CAP_GAPS_MAX], acked[MC_CAP_GAPS_MAX];
    uint32_t delay_us[MC_CAP_GAPS_MAX]; /* of the ack that came first */
  } ackt[MC_CAP_DIRECTIVES_MAX];
  /* The live sessions whose server has acked a seq of ours, so has taken
   * a reliable body: each of its datagrams must carry its ack (MC-85). */
  uint64_t took[BINDS];
  size_t n_took;
  uint64_t rx_stamp_ns;          /* of the datagram on_server handles */
  /* The time_us of our own Pings: the smallest that no Ping of the
   * capture has. Below the capture's own, so that ours never make
   * theirs stale: a session moves on a Ping only if its time_us beats
   * every earlier one (MC-143), and the capture's Pings move sessions. */
  uint64_t own_ping;
  /* The latest client datagram of the script sent: its capture index and
   * when it last went out (its latest resend, on an impaired link: the
   * server saw that one), from which a recorded gap is kept. */
  size_t prev_i;
  uint64_t prev_sent;
  char *out;
  size_t cap, len;
  int failed;
  /* The suite's own stalls: the longest time the loop was not scheduled
   * beyond what it asked for, and when it last ran. */
  uint64_t stall_us, step_end;
  /* What arrived, decoded one line each (`mychat-pcap dump` style, with
   * the capture's synthetic addresses), so that a failure can show what
   * came instead of what it waited for. */
  mcp_ctx mcx;
  uint64_t t0;                     /* start of the run, monotonic us */
  char (*rxlog)[DUMP_LINE_MAX];
  size_t n_rx;                     /* lines ever logged; ring of RXLOG */
  size_t rx_mark;                  /* n_rx when the current wait began */
  /* The first difference of the latest comparison: its field path and,
   * for an enum field, the expected value (to name the requirement). */
  char why_path[160];
  int why_code;
  char cite_buf[96];
  /* Each session's push stream: the next live seq to match. */
  struct {
    uint64_t sid;
    uint32_t next;
  } stream[BINDS];
  size_t n_stream;
} replay;

static void emit(replay *rp, const char *fmt, ...) {
  if (rp->len + 1 >= rp->cap)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(rp->out + rp->len, rp->cap - rp->len, fmt, ap);
  va_end(ap);
  if (n > 0)
    rp->len += (size_t)n < rp->cap - rp->len ? (size_t)n : rp->cap - rp->len - 1;
}

static void fail(replay *rp, const char *fmt, ...) {
  if (rp->failed)
    return;
  rp->failed = 1;
  char b[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  emit(rp, "%s\n", b);
}

static uint64_t wall_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* Lax decoding (no validation) of a datagram the capture holds. */
static Mychat__Envelope *lax(const uint8_t *d, size_t len) {
  Mychat__Envelope *env;
  return mc_codec_parse(d, len, &env) == 0 ? env : NULL;
}

/* Decodes datagram |d|, seen |t_us| into the run (or into the capture),
 * into one line as `mychat-pcap dump` prints it, from the capture's point
 * of view: the server at 127.0.0.1:8000, client endpoint |ep| at
 * 127.0.0.1:40001+ep. */
static void dump_line(replay *rp, int ep, int to_server, const uint8_t *d,
                      size_t len, uint64_t t_us, char *out, size_t cap) {
  mc_pcap_frame f;
  memset(&f, 0, sizeof f);
  f.ts_us = t_us;
  char client[32], server[] = "127.0.0.1:8000";
  snprintf(client, sizeof client, "127.0.0.1:%d", MC_CAP_CLIENT_PORT0 + ep);
  snprintf(f.src_text, sizeof f.src_text, "%s", to_server ? client : server);
  snprintf(f.dst_text, sizeof f.dst_text, "%s", to_server ? server : client);
  mc_pcap_endpoint_parse(&f.src, f.src_text);
  mc_pcap_endpoint_parse(&f.dst, f.dst_text);
  f.payload = d;
  f.len = len;
  mcp_dgram dg;
  mcp_decode(&rp->mcx, &f, &dg);
  mcp_buf b = {0};
  mcp_format(&b, &rp->mcx, &dg, MCP_SHORT);
  /* No frame number: the line is not from one pcap. */
  const char *line = b.s ? b.s : "";
  line += strspn(line, " ");
  line += strspn(line, "0123456789");
  line += strspn(line, " ");
  snprintf(out, cap, "%s", line);
  mcp_buf_free(&b);
  mc_codec_free(dg.env);
}

/* The capture's datagram |j| (substituted), decoded on one line. */
static void capture_line(replay *rp, size_t j, char *out, size_t cap);

static void log_rx(replay *rp, int ep, const uint8_t *d, size_t len) {
  dump_line(rp, ep, 0, d, len, mc_udp_now_us() - rp->t0,
            rp->rxlog[rp->n_rx % RXLOG], DUMP_LINE_MAX);
  rp->n_rx++;
}

/* Lists what arrived since the current wait began (the last RXLOG_SHOWN
 * of it), for a report of what came instead of what was awaited. */
static void emit_arrivals(replay *rp) {
  size_t n = rp->n_rx - rp->rx_mark;
  if (n == 0) {
    emit(rp, "nothing arrived meanwhile\n");
    return;
  }
  size_t first = rp->rx_mark;
  if (n > RXLOG_SHOWN)
    first = rp->n_rx - RXLOG_SHOWN;
  emit(rp, "received meanwhile (%zu datagram%s%s):\n", n, n == 1 ? "" : "s",
       first > rp->rx_mark ? ", the last ones" : "");
  for (size_t i = first; i < rp->n_rx; i++)
    emit(rp, "  %s\n", rp->rxlog[i % RXLOG]);
}

/* ---- which requirement a failure breaks ---- */

/* The requirements that decide when each wire code is the answer. */
static const char *const code_reqs[] = {
    [MYCHAT__ERROR_CODE__ERROR_NONE] = "MC-95",
    [MYCHAT__ERROR_CODE__MALFORMED] = "MC-25 MC-8 MC-19 MC-17 MC-18 MC-38",
    [MYCHAT__ERROR_CODE__UNKNOWN_SESSION] = "MC-58",
    [MYCHAT__ERROR_CODE__AUTH_FAILED] = "MC-44",
    [MYCHAT__ERROR_CODE__NAME_TAKEN] = "MC-43",
    [MYCHAT__ERROR_CODE__BAD_NAME] = "MC-13 MC-14 MC-38",
    [MYCHAT__ERROR_CODE__BAD_PASSWORD] = "MC-15 MC-38",
    [MYCHAT__ERROR_CODE__RATE_LIMITED] = "MC-52 MC-51",
    [MYCHAT__ERROR_CODE__NO_SUCH_USER] = "MC-108",
    [MYCHAT__ERROR_CODE__NO_SUCH_GROUP] = "MC-103 MC-104 MC-108",
    [MYCHAT__ERROR_CODE__GROUP_EXISTS] = "MC-102",
    [MYCHAT__ERROR_CODE__NOT_MEMBER] = "MC-104 MC-108",
    [MYCHAT__ERROR_CODE__ALREADY_MEMBER] = "MC-103",
    [MYCHAT__ERROR_CODE__TOO_MANY_GROUPS] = "MC-102 MC-103",
    [MYCHAT__ERROR_CODE__TEXT_TOO_LONG] = "MC-20",
    [MYCHAT__ERROR_CODE__SERVER_BUSY] = "MC-42",
    [MYCHAT__ERROR_CODE__SESSION_REPLACED] = "MC-67",
    [MYCHAT__ERROR_CODE__BAD_REQUEST] = "MC-28 MC-29 MC-37",
    [MYCHAT__ERROR_CODE__QUOTA_EXCEEDED] = "MC-150 MC-151",
};

/* The requirements a field of a server body carries out; the first entry
 * that the field path contains decides. */
static const struct {
  const char *field, *reqs;
} field_reqs[] = {
    {"request_seq", "MC-94 MC-96"},
    {"client_nonce", "MC-39 MC-45"},
    {"session_id", "MC-4 MC-45 MC-58"},
    {"token", "MC-4 MC-45 MC-58"},
    {"message_id", "MC-107 MC-113"},
    {"server_time_ms", "MC-107 MC-109 MC-118"},
    {"sent.", "MC-109"},
    {"deliver.missed", "MC-122"},
    {"deliver.", "MC-118"},
    {"backlog_done.", "MC-123"},
    {"receipt.", "MC-120 MC-121"},
    {"presence.", "MC-124 MC-125"},
    {"list_reply.more", "MC-100"},
    {"online", "MC-101"},
    {"list_reply.", "MC-99"},
    {"welcome.", "MC-45 MC-47"},
    {"pong.", "MC-63"},
};

/* The requirements that make a server send each body: for a body that did
 * not come, or came in the place of another. |code| is an Error's code;
 * |online| a Presence's status (an offline one comes from the end of a
 * session, so the rule that ends it is the cause). */
static const char *body_reqs(int body, int code, int online) {
  switch (body) {
  case MYCHAT__ENVELOPE__BODY_WELCOME:
    return "MC-43 MC-40 MC-35";
  case MYCHAT__ENVELOPE__BODY_ERROR:
    return code >= 0 && (size_t)code < sizeof code_reqs / sizeof code_reqs[0] &&
                   code_reqs[code]
               ? code_reqs[code]
               : "MC-24";
  case MYCHAT__ENVELOPE__BODY_RESULT:
    return "MC-94 MC-95";
  case MYCHAT__ENVELOPE__BODY_LIST_REPLY:
    return "MC-94 MC-99";
  case MYCHAT__ENVELOPE__BODY_SENT:
    return "MC-94 MC-109";
  case MYCHAT__ENVELOPE__BODY_DELIVER:
    return "MC-119 MC-115 MC-116 MC-127";
  case MYCHAT__ENVELOPE__BODY_RECEIPT:
    return "MC-120 MC-121 MC-127";
  case MYCHAT__ENVELOPE__BODY_BACKLOG_DONE:
    return "MC-123";
  case MYCHAT__ENVELOPE__BODY_PRESENCE:
    return online ? "MC-125 MC-124"
                  : "MC-125 MC-64 MC-66 MC-82 MC-132 MC-124";
  case MYCHAT__ENVELOPE__BODY_PONG:
    return "MC-63";
  default:
    return "MC-24";
  }
}

/* The requirements a push breaks that the capture does not have at all. */
static const char *extra_push_reqs(int body) {
  switch (body) {
  case MYCHAT__ENVELOPE__BODY_DELIVER:
    return "MC-105 MC-116 MC-92 MC-115";
  case MYCHAT__ENVELOPE__BODY_PRESENCE:
    return "MC-124 MC-125";
  case MYCHAT__ENVELOPE__BODY_RECEIPT:
    return "MC-121 MC-120";
  case MYCHAT__ENVELOPE__BODY_BACKLOG_DONE:
    return "MC-123";
  default:
    return "MC-92 MC-94 MC-66"; /* a reply to nothing, or twice */
  }
}

/* Of the space-separated requirements |reqs|, the one that comes first in
 * the case's "requires:" line is the one to name; when the case checks
 * none of them, all are named. The result lives until the next call. */
static const char *cite(replay *rp, const char *reqs) {
  /* In the case's order: a case names its main requirement first. */
  for (int k = 0; k < rp->c->n_requires; k++) {
    char copy[96], *save = NULL;
    snprintf(copy, sizeof copy, "%s", reqs);
    for (char *t = strtok_r(copy, " ", &save); t;
         t = strtok_r(NULL, " ", &save)) {
      int n;
      if (sscanf(t, "MC-%d", &n) == 1 && n == rp->c->requires[k]) {
        snprintf(rp->cite_buf, sizeof rp->cite_buf, "breaks MC-%d", n);
        return rp->cite_buf;
      }
    }
  }
  snprintf(rp->cite_buf, sizeof rp->cite_buf, "breaks one of %s", reqs);
  return rp->cite_buf;
}

/* The requirements the first difference of the latest comparison with
 * capture body |body| breaks. */
static const char *diff_reqs(const replay *rp, int body, int online) {
  const char *p = rp->why_path;
  size_t n = strlen(p);
  if (n > 5 && strcmp(p + n - 5, ".code") == 0)
    return body_reqs(MYCHAT__ENVELOPE__BODY_ERROR, rp->why_code, 0);
  for (size_t i = 0; i < sizeof field_reqs / sizeof field_reqs[0]; i++)
    if (strstr(p, field_reqs[i].field) != NULL)
      return field_reqs[i].reqs;
  return body_reqs(body, -1, online);
}

/* ---- substitution ---- */

/* How many of the MC_TOKEN_LEN bytes at |a| and |b| differ, counting up
 * to 2 only; |*at| is where the last difference found is. */
static size_t tok_diffs(const uint8_t *a, const uint8_t *b, size_t *at) {
  size_t diffs = 0;
  *at = 0;
  for (size_t k = 0; k < MC_TOKEN_LEN && diffs < 2; k++)
    if (a[k] != b[k]) {
      diffs++;
      *at = k;
    }
  return diffs;
}

/* Replaces in |d| every 16 bytes equal to recorded token |rec|, or equal
 * to it but for one byte (a token the script spoiled on purpose, sess-
 * unknown), by live token |live| with the same byte spoiled the same way:
 * a token wrong only in its last byte stays wrong only there. */
static void subst_token(uint8_t *d, size_t len, const uint8_t *rec,
                        const uint8_t *live) {
  for (size_t i = 0; i + MC_TOKEN_LEN <= len; i++) {
    size_t at;
    if (tok_diffs(d + i, rec, &at) == 2)
      continue;
    uint8_t spoil = (uint8_t)(d[i + at] ^ rec[at]);
    memcpy(d + i, live, MC_TOKEN_LEN);
    d[i + at] ^= spoil;
    i += MC_TOKEN_LEN - 1;
  }
}

static void subst(replay *rp, uint8_t *d, size_t len) {
  mc_capture_replace(d, len, (const uint8_t *)MC_CAP_TAG,
                     (const uint8_t *)rp->o->tag, MC_CAP_TAG_LEN);
  for (size_t i = 0; i < rp->n_sid; i++) {
    uint8_t a[8], b[8];
    for (int k = 0; k < 8; k++) {
      a[k] = (uint8_t)(rp->sid[i].rec >> (8 * k));
      b[k] = (uint8_t)(rp->sid[i].live >> (8 * k));
    }
    mc_capture_replace(d, len, a, b, 8);
  }
  for (size_t i = 0; i < rp->n_tok; i++)
    subst_token(d, len, rp->tok[i].rec, rp->tok[i].live);
}

static void capture_line(replay *rp, size_t j, char *out, size_t cap) {
  const mc_cap_pkt *p = &rp->c->pkts[j];
  uint8_t d[MC_DATAGRAM_MAX + 64];
  memcpy(d, p->data, p->len);
  subst(rp, d, p->len);
  dump_line(rp, p->ep, p->from_client, d, p->len, p->t_us, out, cap);
}

/* ---- field comparison ---- */

typedef struct {
  replay *rp;
  int bad;
  int have_mid;
  uint64_t rec_mid;
} cmpctx;

static void diff(cmpctx *x, const char *path, const char *fmt, ...) {
  if (x->bad == 0)
    snprintf(x->rp->why_path, sizeof x->rp->why_path, "%s", path);
  char b[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  emit(x->rp, "      %s: %s\n", path[0] ? path : "(envelope)", b);
  x->bad++;
}

/* Binds recorded |e| to live |l| in |map| or checks an earlier binding.
 * Returns 1 when consistent. */
static int bind64(uint64_t (*map)[2], size_t *n, uint64_t e, uint64_t l,
                  int injective, int monotonic, int *order_bad) {
  if (e == l)
    return 1; /* zero, or substituted already, or echoed */
  if (e == 0 || l == 0)
    return 0;
  for (size_t i = 0; i < *n; i++) {
    if (map[i][0] == e)
      return map[i][1] == l;
    if (injective && map[i][1] == l && map[i][0] != e)
      return 0;
  }
  if (monotonic)
    for (size_t i = 0; i < *n; i++)
      if ((e > map[i][0]) != (l > map[i][1]))
        *order_bad = 1;
  if (*n < BINDS) {
    map[*n][0] = e;
    map[*n][1] = l;
    (*n)++;
  }
  return 1;
}

static int bind_tok(replay *rp, const ProtobufCBinaryData *e,
                    const ProtobufCBinaryData *l) {
  if (e->len != l->len)
    return 0;
  if (e->len == 0 || memcmp(e->data, l->data, e->len) == 0)
    return 1;
  if (e->len != MC_TOKEN_LEN)
    return 0;
  for (size_t i = 0; i < rp->n_tok; i++) {
    size_t at;
    if (memcmp(rp->tok[i].rec, e->data, MC_TOKEN_LEN) == 0)
      return memcmp(rp->tok[i].live, l->data, MC_TOKEN_LEN) == 0;
    /* A bound live token, or one spoiled in one byte (sess-unknown's
     * probes), on either side was substituted already or is the
     * session's own: the two differ, and binding them would make subst()
     * spoil the good token in every later datagram (a late copy of one
     * probe's answer taken for the other's, on an impaired link). */
    if (tok_diffs(rp->tok[i].live, l->data, &at) < 2 ||
        tok_diffs(rp->tok[i].live, e->data, &at) < 2)
      return 0;
  }
  if (rp->n_tok < BINDS) {
    memcpy(rp->tok[rp->n_tok].rec, e->data, MC_TOKEN_LEN);
    memcpy(rp->tok[rp->n_tok].live, l->data, MC_TOKEN_LEN);
    rp->n_tok++;
  }
  return 1;
}

static void hex(char *b, size_t cap, const ProtobufCBinaryData *d) {
  size_t k = 0;
  b[0] = '\0';
  for (size_t i = 0; i < d->len && k + 3 < cap; i++)
    k += (size_t)snprintf(b + k, cap - k, "%02x", d->data[i]);
}

static void cmp_message(cmpctx *x, const char *path, const ProtobufCMessage *e,
                        const ProtobufCMessage *l);

static int name_ours(const replay *rp, const char *n) {
  return strncmp(n, rp->prefix, rp->prefix_len) == 0;
}

/* ListReply: entries of other cases and runs (other name prefixes) may
 * appear in the live reply; ours must match, in order, and the whole page
 * must be sorted (MC-99). */
static void cmp_list(cmpctx *x, const char *path, const Mychat__ListReply *e,
                     const Mychat__ListReply *l) {
  char p[200];
  if (e->request_seq != l->request_seq)
    diff(x, path, "request_seq: expected %u, got %u", e->request_seq,
         l->request_seq);
  if (e->kind != l->kind)
    diff(x, path, "kind: expected %d, got %d", e->kind, l->kind);
  if (l->n_entries > MC_LIST_PAGE_MAX)
    diff(x, path, "%zu entries, more than 20 (MC-99)", l->n_entries);
  for (size_t i = 1; i < l->n_entries; i++)
    if (strcmp(l->entries[i - 1]->name, l->entries[i]->name) >= 0)
      diff(x, path, "entries not sorted: '%s' before '%s' (MC-99)",
           l->entries[i - 1]->name, l->entries[i]->name);
  size_t j = 0, foreign = 0;
  for (size_t i = 0; i < l->n_entries; i++) {
    const Mychat__ListEntry *le = l->entries[i];
    int expected_here = j < e->n_entries &&
                        strcmp(e->entries[j]->name, le->name) == 0;
    if (!expected_here && !name_ours(x->rp, le->name)) {
      int listed = 0;
      for (size_t k = 0; k < e->n_entries; k++)
        listed |= strcmp(e->entries[k]->name, le->name) == 0;
      if (!listed) {
        foreign++;
        continue;
      }
    }
    snprintf(p, sizeof p, "%s.entries[%zu]", path, j);
    if (j >= e->n_entries) {
      diff(x, p, "unexpected entry '%s'", le->name);
    } else {
      if (strcmp(e->entries[j]->name, le->name) != 0)
        diff(x, p, "name: expected '%s', got '%s'", e->entries[j]->name,
             le->name);
      else if (e->entries[j]->online != le->online)
        diff(x, p, "'%s' online: expected %d, got %d", le->name,
             e->entries[j]->online, le->online);
    }
    j++;
  }
  if (j < e->n_entries) {
    snprintf(p, sizeof p, "%s.entries[%zu]", path, j);
    diff(x, p, "missing entry '%s' (and %zu more)", e->entries[j]->name,
         e->n_entries - j - 1);
  }
  if (e->more != l->more && !(l->more && foreign > 0))
    diff(x, path, "more: expected %d, got %d", e->more, l->more);
}

/* 1 when the case allows the live value |got| where the capture has |want|
 * in field |path| (an "allow:" line: the spec allows either answer). */
static int allowed(const replay *rp, const char *path, const char *want,
                   const char *got) {
  for (int i = 0; i < rp->c->n_allow; i++) {
    const mc_cap_allow *a = &rp->c->allow[i];
    if (strcmp(a->path, path) != 0 || strcmp(a->expected, want) != 0)
      continue;
    size_t n = strlen(got);
    for (const char *t = a->alts; *t != '\0';) {
      size_t k = strcspn(t, "|");
      if (k == n && strncmp(t, got, n) == 0)
        return 1;
      t += k + (t[k] == '|');
    }
  }
  return 0;
}

static void cmp_field(cmpctx *x, const char *path, const ProtobufCFieldDescriptor *f,
                      const void *ev, const void *lv, const char *msgname) {
  char eb[80], lb[80];
  const char *n = f->name;
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_BOOL:
  case PROTOBUF_C_TYPE_ENUM: {
    uint32_t a = *(const uint32_t *)ev, b = *(const uint32_t *)lv;
    if (a == b)
      return;
    if (f->type == PROTOBUF_C_TYPE_ENUM) {
      const ProtobufCEnumValue *va =
          protobuf_c_enum_descriptor_get_value(f->descriptor, (int)a);
      const ProtobufCEnumValue *vb =
          protobuf_c_enum_descriptor_get_value(f->descriptor, (int)b);
      snprintf(eb, sizeof eb, "%s", va ? va->name : "?");
      snprintf(lb, sizeof lb, "%s", vb ? vb->name : "?");
      if (x->bad == 0 && !allowed(x->rp, path, eb, lb))
        x->rp->why_code = (int)a;
    } else {
      snprintf(eb, sizeof eb, "%u", a);
      snprintf(lb, sizeof lb, "%u", b);
    }
    if (!allowed(x->rp, path, eb, lb))
      diff(x, path, "expected %s, got %s", eb, lb);
    return;
  }
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: {
    uint64_t a = *(const uint64_t *)ev, b = *(const uint64_t *)lv;
    int order_bad = 0;
    if (strcmp(n, "session_id") == 0) {
      if (!bind64((uint64_t(*)[2])x->rp->sid, &x->rp->n_sid, a, b, 1, 0,
                  &order_bad))
        diff(x, path, "expected %s%" PRIx64 ", got %" PRIx64,
             a ? "the session's id, bound to " : "", a, b);
    } else if (strcmp(n, "message_id") == 0) {
      x->have_mid = 1;
      x->rec_mid = a;
      if (!bind64((uint64_t(*)[2])x->rp->mid, &x->rp->n_mid, a, b, 1, 1,
                  &order_bad))
        diff(x, path, "expected the id bound to recorded %" PRIu64
             ", got %" PRIu64, a, b);
      if (order_bad)
        diff(x, path, "message ids out of order: recorded %" PRIu64
             " maps to %" PRIu64 " (MC-113)", a, b);
    } else if (strcmp(n, "server_time_ms") == 0 ||
               strcmp(n, "delivered_time_ms") == 0) {
      uint64_t w = wall_ms();
      if (b + TIME_SLACK_MS < w || b > w + TIME_SLACK_MS)
        diff(x, path, "%" PRIu64 " is not a plausible server time (now %"
             PRIu64 ")", b, w);
      else if (x->have_mid && n[0] == 's' &&
               !bind64((uint64_t(*)[2])x->rp->mtime, &x->rp->n_mtime,
                       x->rec_mid, b, 0, 0, &order_bad))
        diff(x, path, "%" PRIu64 " differs from the time given for the "
             "same message before", b);
    } else if (a != b) {
      snprintf(eb, sizeof eb, "%" PRIu64, a);
      snprintf(lb, sizeof lb, "%" PRIu64, b);
      if (!allowed(x->rp, path, eb, lb))
        diff(x, path, "expected %s, got %s", eb, lb);
    }
    return;
  }
  case PROTOBUF_C_TYPE_STRING: {
    const char *a = *(char *const *)ev, *b = *(char *const *)lv;
    a = a ? a : "";
    b = b ? b : "";
    if (strcmp(n, "text") == 0 &&
        (strcmp(msgname, "Error") == 0 || strcmp(msgname, "Result") == 0)) {
      if (strlen(b) > MC_ERROR_TEXT_MAX)
        diff(x, path, "%zu bytes, more than 120 (MC-22)", strlen(b));
      return;
    }
    if (strcmp(a, b) != 0 && !allowed(x->rp, path, a, b))
      diff(x, path, "expected '%.60s', got '%.60s'", a, b);
    return;
  }
  case PROTOBUF_C_TYPE_BYTES: {
    const ProtobufCBinaryData *a = ev, *b = lv;
    if (strcmp(n, "token") == 0 ? !bind_tok(x->rp, a, b)
                                : (a->len != b->len ||
                                   memcmp(a->data, b->data, a->len) != 0)) {
      hex(eb, sizeof eb, a);
      hex(lb, sizeof lb, b);
      diff(x, path, "expected %s%s, got %s",
           strcmp(n, "token") == 0 && a->len ? "the token bound to " : "",
           a->len ? eb : "(empty)", b->len ? lb : "(empty)");
    }
    return;
  }
  case PROTOBUF_C_TYPE_MESSAGE: {
    const ProtobufCMessage *a = *(ProtobufCMessage *const *)ev;
    const ProtobufCMessage *b = *(ProtobufCMessage *const *)lv;
    if ((a == NULL) != (b == NULL)) {
      diff(x, path, "expected %s, got %s", a ? "present" : "absent",
           b ? "present" : "absent");
      return;
    }
    if (a == NULL)
      return;
    if (a->descriptor == &mychat__list_reply__descriptor)
      cmp_list(x, path, (const Mychat__ListReply *)a,
               (const Mychat__ListReply *)b);
    else
      cmp_message(x, path, a, b);
    return;
  }
  default:
    diff(x, path, "field type %d not compared", (int)f->type);
  }
}

static void cmp_message(cmpctx *x, const char *path, const ProtobufCMessage *e,
                        const ProtobufCMessage *l) {
  const ProtobufCMessageDescriptor *d = e->descriptor;
  if (l->descriptor != d) {
    diff(x, path, "expected %s, got %s", d->short_name,
         l->descriptor->short_name);
    return;
  }
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    char p[160];
    snprintf(p, sizeof p, "%s%s%s", path, path[0] ? "." : "", f->name);
    if (strcmp(f->name, "ack") == 0 || strcmp(f->name, "padding") == 0)
      continue; /* acks are checked as acks; padding is free */
    const char *eb = (const char *)e, *lb = (const char *)l;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      uint32_t ce = *(const uint32_t *)(eb + f->quantifier_offset);
      uint32_t cl = *(const uint32_t *)(lb + f->quantifier_offset);
      if (ce != f->id && cl != f->id)
        continue;
      if (ce != cl) {
        diff(x, p, "expected %s, got %s", ce == f->id ? "present" : "absent",
             cl == f->id ? "present" : "absent");
        continue;
      }
    }
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t ne = *(const size_t *)(eb + f->quantifier_offset);
      size_t nl = *(const size_t *)(lb + f->quantifier_offset);
      if (ne != nl) {
        diff(x, p, "expected %zu entries, got %zu", ne, nl);
        continue;
      }
      ProtobufCMessage *const *ea = *(ProtobufCMessage **const *)(eb + f->offset);
      ProtobufCMessage *const *la = *(ProtobufCMessage **const *)(lb + f->offset);
      for (size_t k = 0; k < ne && f->type == PROTOBUF_C_TYPE_MESSAGE; k++) {
        char q[200];
        snprintf(q, sizeof q, "%s[%zu]", p, k);
        cmp_message(x, q, ea[k], la[k]);
      }
      continue;
    }
    cmp_field(x, p, f, eb + f->offset, lb + f->offset, d->short_name);
  }
}

/* One-line summary of a datagram's body, for reports. */
static void summary(char *b, size_t cap, const Mychat__Envelope *env) {
  const char *name = mc_codec_body_name(env->body_case);
  if (env->body_case == MYCHAT__ENVELOPE__BODY_ERROR) {
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &mychat__error_code__descriptor, env->error->code);
    snprintf(b, cap, "error %s seq %u", v ? v->name : "?", env->seq);
  } else if (env->body_case == MYCHAT__ENVELOPE__BODY_RESULT) {
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &mychat__error_code__descriptor, env->result->code);
    snprintf(b, cap, "result %s for request %u, seq %u", v ? v->name : "?",
             env->result->request_seq, env->seq);
  } else {
    snprintf(b, cap, "%s seq %u", name, env->seq);
  }
}

/* ---- capture analysis ---- */

static int ack_covers(const uint8_t *set, const pinfo *p) {
  for (uint32_t s = 1; s <= p->cum && s < MAXSEQ; s++)
    if (!set[s])
      return 0;
  for (uint32_t r = 0; r < p->n_ranges; r++)
    for (uint32_t s = p->rf[r]; s <= p->rl[r] && s < MAXSEQ; s++)
      if (!set[s])
        return 0;
  return 1;
}

static void ack_mark(uint8_t *set, const Mychat__Ack *a) {
  for (uint32_t s = 1; s <= a->cumulative && s < MAXSEQ; s++)
    set[s] = 1;
  for (size_t r = 0; r < a->n_ranges; r++)
    for (uint32_t s = a->ranges[r]->first; s <= a->ranges[r]->last && s < MAXSEQ;
         s++)
      set[s] = 1;
}

static int chain_of(const Mychat__Envelope *env) {
  switch (env->body_case) {
  case MYCHAT__ENVELOPE__BODY_RESULT:
  case MYCHAT__ENVELOPE__BODY_LIST_REPLY:
  case MYCHAT__ENVELOPE__BODY_SENT:
    return CH_REPLY; /* in request order, MC-96 */
  case MYCHAT__ENVELOPE__BODY_DELIVER:
  case MYCHAT__ENVELOPE__BODY_BACKLOG_DONE:
    return CH_MESSAGE; /* in id order, BacklogDone between: MC-117, MC-123 */
  case MYCHAT__ENVELOPE__BODY_PRESENCE:
    return CH_PRESENCE; /* one user's in the order of changes, MC-124 */
  default:
    return CH_FREE;
  }
}

/* Whether capture datagram |q| acks seq |s|. */
static int pinfo_acks(const pinfo *q, uint32_t s) {
  if (!q->has_ack)
    return 0;
  if (s <= q->cum)
    return 1;
  for (uint32_t r = 0; r < q->n_ranges; r++)
    if (s >= q->rf[r] && s <= q->rl[r])
      return 1;
  return 0;
}

/* Whether the capture's server acked client datagram |i| (its seq at its
 * endpoint) before the client sent that seq again: one the reference
 * dropped (beyond its window, arq-rwindow) is not to be resent, even if
 * the same seq with another body was acked later. */
static int acked_later(const replay *rp, size_t i) {
  const mc_cap_pkt *p = &rp->c->pkts[i];
  uint32_t s = rp->pi[i].seq;
  for (size_t j = i + 1; j < rp->c->n_pkts; j++) {
    if (rp->c->pkts[j].ep != p->ep)
      continue;
    if (rp->c->pkts[j].from_client && rp->pi[j].seq == s)
      return 0;
    if (!rp->c->pkts[j].from_client && pinfo_acks(&rp->pi[j], s))
      return 1;
  }
  return 0;
}

/* Whether server datagram |j| is an unreliable answer given already at
 * its endpoint (same body, same client_nonce) with no request between,
 * only acks: the answer to a copy of a handshake that the capture's server
 * found answered (MC-40) where another finds its job pending and drops
 * it (MC-41). It may then be missing. */
static int is_answer_again(const replay *rp, size_t j) {
  const mc_case *c = rp->c;
  const pinfo *q = &rp->pi[j];
  if (q->kind != X_UNREL || q->nonce == 0)
    return 0;
  for (size_t k = j; k-- > 0;) {
    const pinfo *x = &rp->pi[k];
    if (c->pkts[k].ep != c->pkts[j].ep)
      continue;
    if (c->pkts[k].from_client && !x->ack_only)
      return 0;
    if (x->kind == X_UNREL && x->body == q->body && x->nonce == q->nonce)
      return 1;
  }
  return 0;
}

/* Whether client datagram |i| repeats the bytes of an earlier one of its
 * endpoint with no unreliable answer between (pinfo.copy). The server may
 * answer it after all, with the answer already given (a Welcome again,
 * MC-40: the session was live by then): one extra copy allowed. */
static int is_copy(const replay *rp, size_t i) {
  const mc_case *c = rp->c;
  const mc_cap_pkt *p = &c->pkts[i];
  for (size_t k = i; k-- > 0;) {
    if (c->pkts[k].ep != p->ep)
      continue;
    if (!c->pkts[k].from_client && rp->pi[k].kind == X_UNREL)
      return 0;
    if (c->pkts[k].from_client && c->pkts[k].len == p->len &&
        memcmp(c->pkts[k].data, p->data, p->len) == 0)
      return 1;
  }
  return 0;
}

static void analyse(replay *rp) {
  const mc_case *c = rp->c;
  for (size_t i = 0; i < c->n_pkts; i++) {
    const mc_cap_pkt *p = &c->pkts[i];
    pinfo *q = &rp->pi[i];
    q->awaits = -1;
    if (p->ep + 1 > rp->n_ep)
      rp->n_ep = p->ep + 1;
    rp->host[p->ep] = p->host; /* one host per endpoint: the recorder's */
    Mychat__Envelope *env = lax(p->data, p->len);
    if (env != NULL) {
      q->seq = env->seq;
      q->body = env->body_case;
      q->chain = chain_of(env);
      if (env->body_case == MYCHAT__ENVELOPE__BODY_PRESENCE &&
          env->presence != NULL && env->presence->name != NULL)
        snprintf(q->who, sizeof q->who, "%s", env->presence->name);
      q->ack_only = q->seq == 0 && q->body == 0;
      if (env->body_case == MYCHAT__ENVELOPE__BODY_ERROR) {
        q->code = env->error->code;
        q->nonce = env->error->client_nonce;
      }
      if (env->body_case == MYCHAT__ENVELOPE__BODY_WELCOME)
        q->nonce = env->welcome->client_nonce;
      if (env->body_case == MYCHAT__ENVELOPE__BODY_PING && env->ping != NULL)
        q->ping_time = env->ping->time_us;
      if (env->ack != NULL) {
        q->has_ack = 1;
        q->cum = env->ack->cumulative;
        for (size_t r = 0; r < env->ack->n_ranges && r < MC_ACK_RANGES_MAX;
             r++) {
          q->rf[r] = env->ack->ranges[r]->first;
          q->rl[r] = env->ack->ranges[r]->last;
          q->n_ranges++;
        }
        if (!p->from_client)
          ack_mark(rp->ep[p->ep].ack_ok, env->ack);
      }
      mychat__envelope__free_unpacked(env, NULL);
    }
    if (p->from_client) {
      q->kind = X_CLIENT;
    } else if (q->seq > 0) {
      q->kind = X_REL;
      q->occ = 1;
      for (size_t j = 0; j < i; j++)
        if (!c->pkts[j].from_client && c->pkts[j].ep == p->ep &&
            rp->pi[j].seq == q->seq && rp->pi[j].kind != X_CLIENT) {
          q->kind = X_RETX;
          q->occ++;
        }
      for (int k = 0; k < c->n_retransmit; k++)
        q->demanded |= q->kind == X_RETX && c->retransmit[k].ep == p->ep &&
                       c->retransmit[k].seq == q->seq;
    } else {
      q->kind = q->body ? X_UNREL : X_ACKONLY;
      for (int k = 0; k < c->n_allow && q->body; k++)
        q->optional |= strcmp(c->allow[k].path, "absent") == 0 &&
                       strcmp(c->allow[k].expected,
                              mc_codec_body_name(q->body)) == 0;
      q->optional |= is_answer_again(rp, i);
    }
  }
  size_t last_ack[MC_CAP_ENDPOINTS_MAX] = {0}; /* index + 1 */
  for (size_t i = 0; i < c->n_pkts; i++)
    if (!c->pkts[i].from_client && rp->pi[i].has_ack)
      last_ack[c->pkts[i].ep] = i + 1;
  for (size_t i = 0; i < c->n_pkts; i++) {
    const mc_cap_pkt *p = &c->pkts[i];
    pinfo *q = &rp->pi[i];
    if (!p->from_client)
      continue;
    if (q->seq > 0 && q->seq < MAXSEQ && i >= last_ack[p->ep])
      rp->ep[p->ep].ack_free[q->seq] = 1;
    q->retx_rel = q->seq > 0 && q->seq < MAXSEQ && acked_later(rp, i);
    q->copy = is_copy(rp, i);
    for (size_t j = i + 1; j < c->n_pkts; j++) {
      if (c->pkts[j].ep != p->ep)
        continue;
      /* An ack of a push that came meanwhile (a retransmission of another
       * session's, list-users) asks for nothing: the answer may follow.
       * A datagram with neither body nor ack is a probe (MALFORMED). */
      if (c->pkts[j].from_client && rp->pi[j].ack_only && rp->pi[j].has_ack)
        continue;
      if (c->pkts[j].from_client)
        break;
      if (rp->pi[j].kind == X_UNREL && !q->retx_rel && !q->ack_only) {
        q->awaits = (int)j;
        rp->pi[j].awaited = 1;
        break;
      }
    }
    /* The case's name prefix: the tag and "cNN" after it. */
    for (size_t k = 0; rp->prefix_len == 0 && k + MC_CAP_TAG_LEN + 3 <= p->len;
         k++)
      if (memcmp(p->data + k, MC_CAP_TAG, MC_CAP_TAG_LEN) == 0) {
        memcpy(rp->prefix, rp->o->tag, MC_CAP_TAG_LEN);
        memcpy(rp->prefix + MC_CAP_TAG_LEN, p->data + k + MC_CAP_TAG_LEN, 3);
        rp->prefix_len = MC_CAP_TAG_LEN + 3;
      }
  }
}

/* ---- ack timing ("ack:" directives) ---- */

/* Notes our transmission of |seq| from |ep| where a directive lists it. */
static void ackt_sent(replay *rp, int ep, uint32_t seq, uint64_t now) {
  if (seq >= MAXSEQ)
    return;
  int occ = ++rp->ep[ep].tx_count[seq];
  for (int k = 0; k < rp->c->n_acktime; k++) {
    const mc_cap_acktime *d = &rp->c->acktime[k];
    for (int i = 0; i < d->n && d->ep == ep; i++)
      if (d->seq[i] == seq && d->occ[i] == occ)
        rp->ackt[k].sent[i] = now;
  }
}

static void ackt_acked(replay *rp, int ep, const Mychat__Ack *ack,
                       uint64_t now) {
  uint8_t set[MAXSEQ] = {0};
  ack_mark(set, ack);
  for (int k = 0; k < rp->c->n_acktime; k++) {
    const mc_cap_acktime *d = &rp->c->acktime[k];
    for (int i = 0; i < d->n && d->ep == ep; i++)
      if (d->seq[i] < MAXSEQ && set[d->seq[i]] && rp->ackt[k].sent[i] &&
          rp->ackt[k].acked[i] == 0) {
        rp->ackt[k].acked[i] = now;
        rp->ackt[k].delay_us[i] = ack->delay_us;
      }
  }
}

/* How far the delay_us of the ack of transmission |i| of directive |k|
 * lies outside what its timing allows (0: inside), in microseconds. */
static uint64_t ackdelay_off(const replay *rp, int k, int i) {
  uint64_t el = rp->ackt[k].acked[i] - rp->ackt[k].sent[i];
  uint64_t d = rp->ackt[k].delay_us[i];
  if (d > el + ACK_DELAY_OVER_US)
    return d - el - ACK_DELAY_OVER_US;
  if (el > d + ACK_DELAY_UNDER_US)
    return el - d - ACK_DELAY_UNDER_US;
  return 0;
}

/* The first ack covering one of the transmissions directive |k| lists
 * says how long it was held (delay_us, MC-84) about as long as we saw it
 * take; the sample that fits best counts, as for the time itself. */
static void check_ackdelay(replay *rp, int k) {
  const mc_cap_acktime *d = &rp->c->acktime[k];
  uint64_t best = UINT64_MAX;
  int best_i = 0;
  for (int i = 0; i < d->n; i++)
    if (rp->ackt[k].acked[i] != 0 && ackdelay_off(rp, k, i) < best) {
      best = ackdelay_off(rp, k, i);
      best_i = i;
    }
  if (best == 0 || best == UINT64_MAX)
    return;
  fail(rp, "endpoint %d: our seq %u was acked %.1f ms after we sent it with "
           "delay_us %u%s: delay_us must be the time the ack was held since "
           "the arrival it is owed for (breaks MC-84)", d->ep,
       d->seq[best_i],
       (double)(rp->ackt[k].acked[best_i] - rp->ackt[k].sent[best_i]) / 1000,
       rp->ackt[k].delay_us[best_i],
       d->n > 1 ? " (the closest of its ack line)" : "");
}

/* The soonest acked of the transmissions directive |k| lists was acked
 * within its bound. */
static void check_acktime(replay *rp, int k) {
  const mc_cap_acktime *d = &rp->c->acktime[k];
  uint64_t best = UINT64_MAX;
  int best_i = 0;
  for (int i = 0; i < d->n; i++) {
    if (rp->ackt[k].sent[i] == 0) {
      fail(rp, "ack directive: endpoint %d never sent seq %u a %d%s time",
           d->ep, d->seq[i], d->occ[i], d->occ[i] == 1 ? "st" : "th");
      return;
    }
    uint64_t t = rp->ackt[k].acked[i];
    if (t != 0 && t - rp->ackt[k].sent[i] < best) {
      best = t - rp->ackt[k].sent[i];
      best_i = i;
    }
  }
  if (best == UINT64_MAX)
    fail(rp, "endpoint %d: our seq %u (and the others of its ack line) "
             "never acked, expected within %u ms (MC-87..MC-90)", d->ep,
         d->seq[0], d->max_ms);
  else if (best / 1000 > d->max_ms)
    fail(rp, "endpoint %d: our seq %u acked after %" PRIu64 " ms%s, "
             "expected within %u ms (MC-87..MC-89)", d->ep, d->seq[best_i],
         best / 1000, d->n > 1 ? " (the soonest of its ack line)" : "",
         d->max_ms);
  else
    check_ackdelay(rp, k);
}

/* ---- the wire, through the impairment model ---- */

unsigned mc_replay_kinds(const mc_netem_config *req) {
  return (req->loss > 0 || req->ge ? MC_CAP_IMP_LOSS : 0) |
         (req->duplicate > 0 ? MC_CAP_IMP_DUP : 0) |
         (req->reorder > 0 ? MC_CAP_IMP_REORDER : 0) |
         (req->delay > 0 || req->jitter > 0 ? MC_CAP_IMP_DELAY : 0);
}

void mc_replay_mask(const mc_netem_config *req, unsigned kinds,
                    mc_netem_config *out) {
  memset(out, 0, sizeof *out);
  if (kinds & MC_CAP_IMP_LOSS) {
    out->loss = req->loss;
    out->ge = req->ge;
    out->ge_p = req->ge_p;
    out->ge_r = req->ge_r;
    out->ge_1h = req->ge_1h;
    out->ge_1k = req->ge_1k;
  }
  if (kinds & MC_CAP_IMP_DUP)
    out->duplicate = req->duplicate;
  if (kinds & MC_CAP_IMP_REORDER)
    out->reorder = req->reorder;
  if (kinds & MC_CAP_IMP_DELAY) {
    out->delay = req->delay;
    out->jitter = req->jitter;
  }
}

static void wire_send(replay *rp, int ep, const uint8_t *d, size_t len,
                      int idx) {
  epst *e = &rp->ep[ep];
  e->tx_at[e->n_tx++ % TXLOG] = mc_udp_now_us();
  if (idx >= 0 && rp->pi[idx].wire_at == 0)
    rp->pi[idx].wire_at = e->tx_at[(e->n_tx - 1) % TXLOG];
  if (send(e->fd, d, len, 0) < 0 && errno != ECONNREFUSED)
    fail(rp, "send: %s", strerror(errno));
  else if (rp->o->trace != NULL)
    rp->o->trace(rp->o->trace_arg, ep, 1, d, len, mc_udp_now_us());
}

static void queue(replay *rp, int to_server, int ep, int idx,
                  const uint8_t *d, size_t len, uint64_t now) {
  mc_netem_verdict v;
  mc_netem_decide(to_server ? &rp->nout : &rp->nin, len, now, &v);
  for (int k = 0; k < v.copies; k++) {
    if (rp->nq == QMAX)
      return;
    qitem *it = &rp->q[rp->nq++];
    it->at = v.at[k];
    it->order = rp->q_order++;
    it->to_server = to_server;
    it->ep = ep;
    it->idx = idx;
    it->len = len;
    memcpy(it->data, d, len);
  }
}

static void on_server(replay *rp, int ep, const uint8_t *d, size_t len,
                      uint64_t now);

/* Sends |d| from |ep| through the link; |idx|: the capture index of the
 * script's datagram it is (a resend too), or -1 for one of our own. */
static void out(replay *rp, int ep, int idx, const uint8_t *d, size_t len,
                uint64_t now) {
  if (rp->impaired)
    queue(rp, 1, ep, idx, d, len, now);
  else
    wire_send(rp, ep, d, len, idx);
}

static int live_at(const replay *rp, uint64_t sid);

/* Our ack-only datagram from the latest ack we sent at |ep|: the answer to
 * a push retransmitted because our ack was lost. */
static void resend_ack(replay *rp, int ep, uint64_t now) {
  epst *e = &rp->ep[ep];
  if (e->last_ack_len == 0)
    return;
  Mychat__Envelope *env = lax(e->last_ack, e->last_ack_len);
  if (env == NULL)
    return;
  /* A session that moved on to another endpoint (MC-56) is not answered
   * from here: a client that changed address has left the old one, and
   * our ack from it, coming after the datagram from the new one, would
   * move the session back (a push resent before the move arrived). */
  int at = live_at(rp, env->session_id);
  if (at >= 0 && at != ep) {
    mychat__envelope__free_unpacked(env, NULL);
    return;
  }
  uint8_t d[MC_DATAGRAM_MAX];
  size_t len;
  env->seq = 0;
  if (mc_codec_encode(env, NULL, 0, d, sizeof d, &len) == 0)
    out(rp, ep, -1, d, len, now);
  mychat__envelope__free_unpacked(env, NULL);
}

static int live_session(const replay *rp, uint64_t sid) {
  for (size_t i = 0; i < rp->n_sid; i++)
    if (rp->sid[i].live == sid)
      return 1;
  return 0;
}

/* Returns the endpoint our keepalive keeps session |sid| alive from, or
 * -1. */
static int live_at(const replay *rp, uint64_t sid) {
  for (int k = 0; k < rp->n_ep; k++)
    if (rp->ep[k].live && rp->ep[k].sid == sid)
      return k;
  return -1;
}

/* Notes what our datagram |d| tells the server: its ack, if it belongs
 * to a live session. */
static void note_sent(replay *rp, int ep, const uint8_t *d, size_t len,
                      uint64_t now) {
  epst *e = &rp->ep[ep];
  Mychat__Envelope *env = lax(d, len);
  if (env == NULL)
    return;
  /* A session used from another endpoint moved there (MC-56): only the
   * new one keeps it alive. A malformed probe carrying its header neither
   * moves it nor acks anything (the server takes nothing from it), and its
   * ack, out of range, would not encode in our keepalive (val-malformed):
   * only what passes the strict codec counts. */
  Mychat__Envelope *strict = NULL;
  int valid = mc_codec_decode(d, len, &strict) == 0;
  mc_codec_free(strict);
  if (valid && env->session_id != 0 && env->token.len == MC_TOKEN_LEN)
    for (int k = 0; k < rp->n_ep; k++)
      if (k != ep && rp->ep[k].live && rp->ep[k].sid == env->session_id &&
          memcmp(rp->ep[k].tok, env->token.data, MC_TOKEN_LEN) == 0) {
        rp->ep[k].live = 0;
        e->live = 1;
        e->sid = env->session_id;
        memcpy(e->tok, env->token.data, MC_TOKEN_LEN);
      }
  if (valid && env->ack != NULL && live_session(rp, env->session_id)) {
    if (env->ack->cumulative > e->ack_sent_cum)
      e->ack_sent_cum = env->ack->cumulative;
    uint8_t set[MAXSEQ] = {0};
    ack_mark(set, env->ack);
    for (int s = 1; s < MAXSEQ; s++)
      if (set[s] && e->acked_at[s] == 0)
        e->acked_at[s] = now;
    if (len <= sizeof e->last_ack) {
      memcpy(e->last_ack, d, len);
      e->last_ack_len = len;
    }
  }
  mychat__envelope__free_unpacked(env, NULL);
}

static int body_bytes(const Mychat__Envelope *env, uint8_t *b, size_t *len) {
  if (env->body_case == MYCHAT__ENVELOPE__BODY__NOT_SET) {
    *len = 0;
    return 0;
  }
  return mc_codec_encode_body(env, b, MC_DATAGRAM_MAX, len);
}

/* Compares expected capture datagram |j| with live |l|; 1 when equal.
 * With |report| the differences go to the report. */
static int compare(replay *rp, size_t j, const Mychat__Envelope *l,
                   int report) {
  uint8_t d[MC_DATAGRAM_MAX + 64];
  const mc_cap_pkt *p = &rp->c->pkts[j];
  memcpy(d, p->data, p->len);
  subst(rp, d, p->len);
  Mychat__Envelope *e = lax(d, p->len);
  if (e == NULL) {
    fail(rp, "capture datagram %zu does not decode", j + 1);
    return 0;
  }
  /* A push's seq is its place in the live stream, which the order rules
   * let differ from the capture's (stream order is checked by chain). */
  if (e->seq > 0 && l->seq > 0)
    e->seq = l->seq;
  size_t mark = rp->len;
  cmpctx x = {.rp = rp};
  /* A trial comparison must not bind: keep the maps and restore them. */
  size_t ns = rp->n_sid, nm = rp->n_mid, nt = rp->n_tok, nmt = rp->n_mtime;
  cmp_message(&x, "", &e->base, &l->base);
  if (x.bad && !report) {
    rp->n_sid = ns;
    rp->n_mid = nm;
    rp->n_tok = nt;
    rp->n_mtime = nmt;
    rp->len = mark;
    rp->out[rp->len] = '\0';
  }
  mychat__envelope__free_unpacked(e, NULL);
  return x.bad == 0;
}

static void report_mismatch(replay *rp, size_t j, int ep,
                            const Mychat__Envelope *l, const char *got) {
  char a[160], b[160];
  uint8_t d[MC_DATAGRAM_MAX + 64];
  const mc_cap_pkt *p = &rp->c->pkts[j];
  memcpy(d, p->data, p->len);
  subst(rp, d, p->len);
  Mychat__Envelope *e = lax(d, p->len);
  if (e == NULL)
    return;
  summary(a, sizeof a, e);
  summary(b, sizeof b, l);
  int body = e->body_case;
  int online = body == MYCHAT__ENVELOPE__BODY_PRESENCE && e->presence->online;
  int code = body == MYCHAT__ENVELOPE__BODY_ERROR ? (int)e->error->code : -1;
  mychat__envelope__free_unpacked(e, NULL);
  compare(rp, j, l, 0); /* a trial, for the first difference */
  /* Another body in the place of the expected one breaks the rule that
   * makes the server send the expected body (a Welcome where the sessions
   * cap wants SERVER_BUSY breaks MC-42), not a rule of a field. */
  const char *reqs = (int)l->body_case == body
                         ? diff_reqs(rp, body, online)
                         : body_reqs(body, code, online);
  fail(rp, "endpoint %d, capture datagram %zu: expected %s, received %s (%s)",
       ep, j + 1, a, b, cite(rp, reqs));
  char line[DUMP_LINE_MAX];
  capture_line(rp, j, line, sizeof line);
  emit(rp, "expected: %s\n", line);
  emit(rp, "received: %s\n", got);
  rp->failed = 0; /* let compare() add the field lines, then fail again */
  compare(rp, j, l, 1);
  rp->failed = 1;
}

/* Why the reference did not acknowledge our seq |s| at |ep|, from what
 * the capture sent with that seq there: nothing (the ack is of the
 * session's stream from another endpoint, so the session moved here),
 * something malformed (never taken), or a body beyond the window. */
static const char *why_not_acked(const replay *rp, int ep, uint32_t s) {
  int sent = 0, valid = 0;
  for (size_t i = 0; i < rp->c->n_pkts; i++) {
    const mc_cap_pkt *p = &rp->c->pkts[i];
    if (!p->from_client || p->ep != ep || rp->pi[i].seq != s)
      continue;
    sent = 1;
    Mychat__Envelope *env;
    if (mc_codec_unpack(p->data, p->len, &env) == 0) {
      valid = 1;
      mc_codec_free(env);
    }
  }
  if (!sent)
    return "no datagram with that seq went from this endpoint, so the "
           "session's datagrams came here, where it was not used last "
           "(MC-56, MC-57)";
  if (!valid)
    return "it was sent in a malformed datagram, which must not be acted "
           "on (MC-25)";
  return "it was beyond the receive window, which must be dropped (MC-91)";
}

/* 1 when capture datagram |j|, an unmatched push, may come now: no
 * unmatched push before it at its endpoint is of its order chain. */
static int chain_head(const replay *rp, size_t j) {
  const pinfo *q = &rp->pi[j];
  if (q->chain == CH_FREE)
    return 1;
  for (size_t k = 0; k < j; k++) {
    const pinfo *o = &rp->pi[k];
    if (o->kind == X_REL && !o->matched && rp->c->pkts[k].ep == rp->c->pkts[j].ep &&
        o->chain == q->chain &&
        (q->chain != CH_PRESENCE || strcmp(o->who, q->who) == 0))
      return 0;
  }
  return 1;
}

/* The requirement a push breaks that came before another of its order
 * chain that the capture has first. */
static const char *chain_reqs(const pinfo *q) {
  switch (q->chain) {
  case CH_REPLY:
    return "MC-96";
  case CH_MESSAGE:
    return q->body == MYCHAT__ENVELOPE__BODY_BACKLOG_DONE ? "MC-123"
                                                           : "MC-117 MC-123";
  default:
    return "MC-124";
  }
}

/* The push at live seq |s| of its session, at |ep|, in stream order: the
 * capture's push it is, among those the order rules let come now, found
 * by content, and its recorded seq bound to |s|. When none is equal, the
 * report names the cause: a push of the capture that is equal but may
 * not come yet (an order rule), else the push of its kind that was due,
 * else the one its chain was due to send (missing: a backlog Deliver
 * where a BacklogDone came), else any push of its kind. */
static void match_push(replay *rp, int ep, uint32_t s,
                       const Mychat__Envelope *l, const char *got) {
  epst *e = &rp->ep[ep];
  size_t due = SIZE_MAX, any = SIZE_MAX, early = SIZE_MAX, head = SIZE_MAX;
  int chain = chain_of(l);
  for (size_t j = 0; j < rp->c->n_pkts; j++) {
    pinfo *q = &rp->pi[j];
    if (rp->c->pkts[j].ep != ep || q->kind != X_REL || q->matched)
      continue;
    if (any == SIZE_MAX && q->body == (int)l->body_case)
      any = j;
    if (!chain_head(rp, j)) {
      if (early == SIZE_MAX && q->body == (int)l->body_case &&
          compare(rp, j, l, 0))
        early = j;
      continue;
    }
    if (due == SIZE_MAX && q->body == (int)l->body_case)
      due = j;
    if (head == SIZE_MAX && chain != CH_FREE && q->chain == chain)
      head = j;
    if (!compare(rp, j, l, 0))
      continue;
    q->matched = 1;
    if (q->seq < MAXSEQ) {
      e->live_of[q->seq] = s;
      e->rec_of[s] = q->seq;
      e->remapped |= q->seq != s;
    }
    return;
  }
  char a[160];
  summary(a, sizeof a, l);
  if (early != SIZE_MAX) {
    fail(rp, "endpoint %d: %s came before what the capture has before it "
             "in the same order (capture datagram %zu; breaks %s)",
         ep, a, early + 1, chain_reqs(&rp->pi[early]));
    emit(rp, "received: %s\n", got);
    return;
  }
  size_t j = due != SIZE_MAX ? due : head != SIZE_MAX ? head : any;
  if (j != SIZE_MAX) {
    rp->pi[j].matched = 1;
    report_mismatch(rp, j, ep, l, got);
    return;
  }
  int at = live_at(rp, l->session_id);
  if (at >= 0 && at != ep)
    fail(rp, "endpoint %d: unexpected push: %s (the session was used last "
             "from endpoint %d: its datagrams must follow it there, breaks "
             "MC-56)", ep, a, at);
  else
    fail(rp, "endpoint %d: unexpected push: %s (%s)", ep, a,
         cite(rp, extra_push_reqs(l->body_case)));
  emit(rp, "received: %s\n", got);
}

/* The stream of session |sid|: the next live seq to match. */
static uint32_t *stream_next(replay *rp, uint64_t sid) {
  for (size_t i = 0; i < rp->n_stream; i++)
    if (rp->stream[i].sid == sid)
      return &rp->stream[i].next;
  if (rp->n_stream == BINDS)
    return NULL;
  rp->stream[rp->n_stream].sid = sid;
  rp->stream[rp->n_stream].next = 1;
  return &rp->stream[rp->n_stream++].next;
}

/* Matches the waiting pushes of session |sid| that are next in its
 * stream, at whichever endpoint they came (the session may have moved,
 * MC-56). */
static void drain(replay *rp, uint64_t sid) {
  uint32_t *next = stream_next(rp, sid);
  while (next != NULL && *next < MAXSEQ && !rp->failed) {
    int k = 0;
    while (k < rp->n_ep && (rp->ep[k].rx_env[*next] == NULL ||
                            rp->ep[k].rx_env[*next]->session_id != sid))
      k++;
    if (k == rp->n_ep)
      return;
    epst *e = &rp->ep[k];
    uint32_t s = (*next)++;
    match_push(rp, k, s, e->rx_env[s], e->rx_line[s]);
    mc_codec_free(e->rx_env[s]);
    e->rx_env[s] = NULL;
    free(e->rx_line[s]);
    e->rx_line[s] = NULL;
  }
}

/* Which requirement an unreliable datagram the capture does not have
 * breaks, from the client datagram it answers (the last one sent from
 * |ep|): one that is to be dropped silently, or one already answered. */
static const char *why_unexpected(const replay *rp, int ep, uint64_t sid) {
  int at = sid != 0 ? live_at(rp, sid) : -1;
  if (at >= 0 && at != ep)
    return "it went to an address the session was not used from last: its "
           "datagrams must follow the latest authenticated datagram, "
           "whatever that carried: breaks MC-56";
  int i = rp->ep[ep].last_sent;
  if (i < 0)
    return "nothing was sent from this endpoint: breaks MC-57";
  const mc_cap_pkt *p = &rp->c->pkts[i];
  if (mc_codec_check_prefix(p->data, p->len) < 0)
    return "it answers a datagram of bad size or prefix, which must be "
           "dropped silently: breaks MC-3";
  const pinfo *q = &rp->pi[i];
  if ((q->body == MYCHAT__ENVELOPE__BODY_REGISTER ||
       q->body == MYCHAT__ENVELOPE__BODY_LOGIN) &&
      p->len < MC_HANDSHAKE_MIN)
    return "it answers a handshake under 256 bytes, which must be dropped "
           "silently: breaks MC-36";
  return "a second answer, or one where the capture is silent: breaks "
         "MC-61, or MC-64 if the session should have ended";
}

/* MC-85 on a clean link: once the server has acked a seq of ours in a
 * session (so it has taken a body of it), every datagram of the session
 * it sends carries the ack. Errors are left out: one ends the session
 * (SESSION_REPLACED, SHUTTING_DOWN) or belongs to none (UNKNOWN_SESSION
 * echoes the header it got). On an impaired link our own reordering can
 * bring a datagram sent before the body was taken after one that acks
 * it. Returns 0 when it failed the case. */
static int check_piggyback(replay *rp, int ep, const Mychat__Envelope *l) {
  if (l->session_id == 0 || l->body_case == MYCHAT__ENVELOPE__BODY_ERROR)
    return 1;
  size_t i = 0;
  while (i < rp->n_took && rp->took[i] != l->session_id)
    i++;
  if (l->ack == NULL && i < rp->n_took) {
    char a[160];
    summary(a, sizeof a, l);
    fail(rp, "endpoint %d: %s carries no ack, though the server has taken "
             "a reliable body of the session: every datagram of it must "
             "carry the current ack (breaks MC-85)", ep, a);
    emit(rp, "received: %s\n", rp->rxlog[(rp->n_rx - 1) % RXLOG]);
    return 0;
  }
  if (l->ack != NULL && (l->ack->cumulative > 0 || l->ack->n_ranges > 0) &&
      i == rp->n_took && rp->n_took < BINDS)
    rp->took[rp->n_took++] = l->session_id;
  return 1;
}

static void on_server(replay *rp, int ep, const uint8_t *d, size_t len,
                      uint64_t now) {
  epst *e = &rp->ep[ep];
  Mychat__Envelope *l;
  log_rx(rp, ep, d, len);
  int rv = mc_codec_decode(d, len, &l);
  if (rv < 0) {
    fail(rp, "endpoint %d: server datagram of %zu bytes does not decode "
             "(%s): MC-1, MC-2, MC-6 or the field rules", ep, len,
         mc_errname(rv));
    return;
  }
  mc_body_class cls = mc_codec_body_class(l->body_case);
  if (cls != MC_BODY_NONE && cls != MC_BODY_PUSH && cls != MC_BODY_SERVER_UNREL) {
    fail(rp, "endpoint %d: the server sent a client body '%s' (MC-7)", ep,
         mc_codec_body_name(l->body_case));
    goto done;
  }
  if (!rp->impaired && !check_piggyback(rp, ep, l))
    goto done;
  if (l->ack != NULL) {
    ack_mark(e->acked, l->ack);
    ackt_acked(rp, ep, l->ack, now);
  }
  for (int s = 1; s < MAXSEQ; s++)
    if (e->acked[s] && !e->ack_ok[s] && !e->ack_free[s]) {
      fail(rp, "endpoint %d: the server acked our seq %d, which the "
               "reference never acked: %s", ep, s, why_not_acked(rp, ep, s));
      emit(rp, "in: %s\n", rp->rxlog[(rp->n_rx - 1) % RXLOG]);
      goto done;
    }
  if (l->seq > 0) {
    uint32_t s = l->seq;
    if (s > e->ack_sent_cum + MC_ARQ_WINDOW_DEFAULT) {
      fail(rp, "endpoint %d: push seq %u with only %u acked: more than %d "
               "in flight (MC-73)", ep, s, e->ack_sent_cum,
           MC_ARQ_WINDOW_DEFAULT);
      goto done;
    }
    if (s >= MAXSEQ) {
      fail(rp, "endpoint %d: push seq %u beyond this replayer", ep, s);
      goto done;
    }
    uint8_t b[MC_DATAGRAM_MAX];
    size_t bl;
    body_bytes(l, b, &bl);
    if (s > e->top_seq)
      e->top_seq = s;
    e->push_sid = l->session_id;
    if (e->rx_count[s] < RX_TIMES)
      e->rx_time[s][e->rx_count[s]] = now;
    if (e->rx_count[s]++ > 0) {
      if (bl != e->rx_len[s] || memcmp(b, e->rx_body[s], bl) != 0)
        fail(rp, "endpoint %d: retransmission of seq %u has another body "
                 "(MC-71)", ep, s);
      else if (!rp->impaired && e->acked_at[s] &&
               now > e->acked_at[s] + 400000)
        fail(rp, "endpoint %d: seq %u resent %" PRIu64 " ms after we acked "
                 "it (MC-86)", ep, s, (now - e->acked_at[s]) / 1000);
      else if (rp->impaired && e->acked_at[s])
        resend_ack(rp, ep, now); /* our ack was lost; none owed else */
      goto done;
    }
    e->rx_body[s] = malloc(bl ? bl : 1);
    if (e->rx_body[s] != NULL)
      memcpy(e->rx_body[s], b, bl);
    e->rx_len[s] = bl;
    e->rx_env[s] = l;
    e->rx_line[s] = strdup(rp->rxlog[(rp->n_rx - 1) % RXLOG]);
    l = NULL; /* kept until drain() matches it */
    drain(rp, e->rx_env[s]->session_id);
    goto done;
  }
  if (l->body_case == MYCHAT__ENVELOPE__BODY__NOT_SET)
    goto done;
  if (l->body_case == MYCHAT__ENVELOPE__BODY_PONG &&
      l->pong->time_us == rp->own_ping)
    goto done; /* the answer to our own keepalive */
  if (l->body_case == MYCHAT__ENVELOPE__BODY_ERROR &&
      l->error->code == MYCHAT__ERROR_CODE__UNKNOWN_SESSION) {
    for (size_t i = 0; i < rp->npend;) { /* the session is gone */
      if (rp->pend[i].past_end && rp->pend[i].ep == ep &&
          rp->pend[i].sid == l->session_id)
        rp->pend[i] = rp->pend[--rp->npend];
      else
        i++;
    }
  }
  /* Unreliable: the earliest unmatched expectation it equals. */
  size_t first = SIZE_MAX;
  for (size_t j = 0; j < rp->c->n_pkts; j++) {
    if (rp->c->pkts[j].from_client || rp->c->pkts[j].ep != ep ||
        rp->pi[j].kind != X_UNREL || rp->pi[j].matched)
      continue;
    if (first == SIZE_MAX)
      first = j;
    if (compare(rp, j, l, 0)) {
      rp->pi[j].matched = 1;
      rp->pi[j].stamp_ns = rp->rx_stamp_ns;
      if (l->body_case == MYCHAT__ENVELOPE__BODY_WELCOME &&
          live_at(rp, l->welcome->session_id) < 0) {
        /* A copy of the Welcome at another endpoint (a handshake resent
         * from there, MC-40) does not move the session: our keepalive
         * from here would (MC-56), and the session's acks would follow. */
        e->live = 1;
        e->sid = l->welcome->session_id;
        memcpy(e->tok, l->welcome->token.data, MC_TOKEN_LEN);
      } else if (l->body_case == MYCHAT__ENVELOPE__BODY_ERROR &&
                 l->session_id == e->sid && l->token.len == MC_TOKEN_LEN &&
                 memcmp(l->token.data, e->tok, MC_TOKEN_LEN) == 0) {
        /* Replaced, shut down or unknown: no more Pings. An Error of no
         * session (MALFORMED) or echoing another token (a probe's) says
         * nothing about the session, whose keepalive must go on. */
        e->live = 0;
      }
      goto done;
    }
    if (!rp->impaired && !rp->pi[j].optional)
      break; /* in order on a clean link; one that may be missing aside */
  }
  /* Another copy of an answer already matched (a Welcome to a resent
   * Register, say): allowed as the answer to our retransmissions. */
  if (rp->impaired || e->unrel_extra < e->retrans)
    for (size_t j = 0; j < rp->c->n_pkts; j++)
      if (!rp->c->pkts[j].from_client && rp->c->pkts[j].ep == ep &&
          rp->pi[j].kind == X_UNREL && rp->pi[j].matched &&
          compare(rp, j, l, 0)) {
        e->unrel_extra++;
        goto done;
      }
  if (rp->impaired && l->body_case == MYCHAT__ENVELOPE__BODY_ERROR &&
      l->error->code == MYCHAT__ERROR_CODE__UNKNOWN_SESSION &&
      (e->retrans > 0 || e->pinged)) {
    /* A retransmission or keepalive that crossed the session's end (a
     * Logout whose Result was lost, say): a client sees the same. */
  } else if (first != SIZE_MAX) {
    report_mismatch(rp, first, ep, l, rp->rxlog[(rp->n_rx - 1) % RXLOG]);
  } else {
    char a[160];
    summary(a, sizeof a, l);
    fail(rp, "endpoint %d: unexpected datagram: %s (%s)", ep, a,
         why_unexpected(rp, ep, l->session_id));
    emit(rp, "received: %s\n", rp->rxlog[(rp->n_rx - 1) % RXLOG]);
  }
done:
  mc_codec_free(l);
}

/* ---- the event loop ---- */

/* Hands over what the link releases by |now|, in the link's order: by
 * delivery time, ties in the order offered. Only the model reorders (a
 * reordered copy skips the delay); taking the queue in its array order
 * would reorder datagrams released together, the copies offered in one
 * step, which no link of the model does. */
static void deliver_due(replay *rp, uint64_t now) {
  while (!rp->failed) {
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < rp->nq; i++)
      if (rp->q[i].at <= now &&
          (best == SIZE_MAX || rp->q[i].at < rp->q[best].at ||
           (rp->q[i].at == rp->q[best].at &&
            rp->q[i].order < rp->q[best].order)))
        best = i;
    if (best == SIZE_MAX)
      return;
    qitem it = rp->q[best];
    rp->q[best] = rp->q[--rp->nq];
    if (it.to_server)
      wire_send(rp, it.ep, it.data, it.len, it.idx);
    else
      on_server(rp, it.ep, it.data, it.len, now);
  }
}

/* Under impairment the replay runs slower than the recording: a Ping now
 * and then (with our latest ack, MC-85) keeps each live session from
 * timing out, as a real client's keepalive would (MC-62). */
static void keepalive(replay *rp, int ep, uint64_t now) {
  epst *e = &rp->ep[ep];
  Mychat__Envelope *last = e->last_ack_len ? lax(e->last_ack, e->last_ack_len)
                                           : NULL;
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Ping ping = MYCHAT__PING__INIT;
  ping.time_us = rp->own_ping;
  env.session_id = e->sid;
  env.token.data = e->tok;
  env.token.len = MC_TOKEN_LEN;
  env.ack = last != NULL && last->session_id == e->sid ? last->ack : NULL;
  env.body_case = MYCHAT__ENVELOPE__BODY_PING;
  env.ping = &ping;
  uint8_t b[64], d[MC_DATAGRAM_MAX];
  size_t bl, dl;
  if (mc_codec_encode_body(&env, b, sizeof b, &bl) == 0 &&
      mc_codec_encode(&env, b, bl, d, sizeof d, &dl) == 0) {
    out(rp, ep, -1, d, dl, now);
    e->pinged = 1;
  }
  e->last_ping = now;
  if (last != NULL)
    mychat__envelope__free_unpacked(last, NULL);
}

/* Our resend interval of a reliable datagram not acked. */
static uint64_t rto_us(const replay *rp) {
  return rp->impaired ? 300000 : 1000000;
}

/* Impaired link: our resend interval of a datagram whose unreliable answer
 * has not come. On a clean link nothing is lost, so an answer that does
 * not come is the server's drop, which a resend would hide (a handshake
 * dropped as if it were the copy of a pending one, MC-41). */
#define UNREL_RESEND_US 400000

static void retransmit_due(replay *rp, uint64_t now) {
  for (size_t i = 0; i < rp->npend;) {
    pending *p = &rp->pend[i];
    if (rp->ep[p->ep].acked[p->seq]) {
      *p = rp->pend[--rp->npend];
      continue;
    }
    if (now >= p->last + rto_us(rp)) {
      p->last = now;
      if (rp->impaired && p->idx == rp->prev_i)
        rp->prev_sent = now;
      rp->ep[p->ep].retrans++;
      out(rp, p->ep, (int)p->idx, p->data, p->len, now);
      ackt_sent(rp, p->ep, p->seq, now);
    }
    i++;
  }
  for (int k = 0; k < rp->n_ep && rp->impaired; k++)
    if (rp->ep[k].live && rp->ep[k].speaks &&
        now >= rp->ep[k].last_ping + KEEPALIVE_US &&
        !(rp->ep[k].silent_from >= 0 &&
          rp->ep[k].last_sent >= rp->ep[k].silent_from))
      keepalive(rp, k, now);
  for (int k = 0; k < rp->n_ep; k++) {
    epst *e = &rp->ep[k];
    if (e->pend_unrel < 0 || !rp->impaired)
      continue;
    if (rp->pi[e->pend_unrel].matched) {
      e->pend_unrel = -1;
    } else if (now >= e->pend_unrel_last + UNREL_RESEND_US) {
      e->pend_unrel_last = now;
      if ((size_t)e->pend_unrel_idx == rp->prev_i)
        rp->prev_sent = now;
      e->retrans++;
      out(rp, k, e->pend_unrel_idx, e->pend_unrel_data, e->pend_unrel_len,
          now);
    }
  }
}

/* Runs the loop until |until| (monotonic microseconds). */
static void step(replay *rp, uint64_t until) {
  uint64_t now = mc_udp_now_us();
  uint64_t wake = until;
  for (size_t i = 0; i < rp->nq; i++)
    if (rp->q[i].at < wake)
      wake = rp->q[i].at;
  int ms = wake > now ? (int)((wake - now + 999) / 1000) : 0;
  if (ms > 20)
    ms = 20; /* retransmission timers are coarse */
  struct pollfd pf[MC_CAP_ENDPOINTS_MAX];
  for (int k = 0; k < rp->n_ep; k++) {
    pf[k].fd = rp->ep[k].fd;
    pf[k].events = POLLIN;
  }
  uint64_t asked = now + (uint64_t)ms * 1000;
  if (rp->step_end != 0 && now - rp->step_end > rp->stall_us)
    rp->stall_us = now - rp->step_end;
  poll(pf, (nfds_t)rp->n_ep, ms);
  now = mc_udp_now_us();
  if (now > asked && now - asked > rp->stall_us)
    rp->stall_us = now - asked;
  for (int k = 0; k < rp->n_ep && !rp->failed; k++) {
    uint8_t buf[65536];
    ssize_t n;
    while (!rp->failed &&
           (n = recv(rp->ep[k].fd, buf, sizeof buf, MSG_DONTWAIT)) >= 0) {
      if (rp->o->trace != NULL)
        rp->o->trace(rp->o->trace_arg, k, 0, buf, (size_t)n, now);
      if ((size_t)n > MC_DATAGRAM_MAX + 64) {
        fail(rp, "endpoint %d: server datagram of %zd bytes (MC-2)", k, n);
        break;
      }
      if (rp->impaired) {
        mc_peek pk;
        if (mc_codec_peek(buf, (size_t)n, &pk) == 0 && pk.seq > 0 &&
            pk.seq < MAXSEQ && rp->ep[k].raw_at[pk.seq] == 0)
          rp->ep[k].raw_at[pk.seq] = now;
        queue(rp, 0, k, -1, buf, (size_t)n, now);
      } else {
        struct timespec ts;
        rp->rx_stamp_ns = ioctl(rp->ep[k].fd, SIOCGSTAMPNS, &ts) == 0
                              ? (uint64_t)ts.tv_sec * 1000000000u +
                                    (uint64_t)ts.tv_nsec
                              : 0;
        on_server(rp, k, buf, (size_t)n, now);
      }
    }
  }
  deliver_due(rp, now);
  retransmit_due(rp, now);
  rp->step_end = mc_udp_now_us();
}

/* The live seq of the push recorded as |rec| at |ep| (itself until seen). */
static uint32_t live_seq(const replay *rp, int ep, uint32_t rec) {
  return rec < MAXSEQ && rp->ep[ep].live_of[rec] ? rp->ep[ep].live_of[rec]
                                                 : rec;
}

static int satisfied(replay *rp, size_t j) {
  const pinfo *q = &rp->pi[j];
  if (q->kind == X_CLIENT)
    return 1;
  /* An unreliable datagram nothing at its endpoint asked for (an Error
   * SESSION_REPLACED to the old session) cannot be asked for again: on an
   * impaired link it may be lost for good. */
  if (q->kind == X_UNREL && !q->matched && !q->awaited && rp->impaired)
    return 1;
  if (q->kind == X_UNREL && !q->matched && q->optional)
    return 1; /* the spec lets it be missing */
  if ((q->kind == X_REL || q->kind == X_UNREL) && !q->matched)
    return 0;
  /* A retransmission the case demands must be seen before the client
   * goes on (its next ack would make it unnecessary). */
  int ep = rp->c->pkts[j].ep;
  if (q->demanded && !rp->impaired &&
      rp->ep[ep].rx_count[live_seq(rp, ep, q->seq)] < q->occ)
    return 0;
  return !q->has_ack || ack_covers(rp->ep[rp->c->pkts[j].ep].acked, q);
}

static void describe_wait(replay *rp, size_t j) {
  const pinfo *q = &rp->pi[j];
  int ep = rp->c->pkts[j].ep;
  uint32_t live = live_seq(rp, ep, q->seq);
  if (q->demanded && q->matched == 0 && q->kind == X_RETX &&
      rp->ep[ep].rx_count[live] < q->occ) {
    fail(rp, "endpoint %d: timed out waiting for retransmission %d of seq "
             "%u (capture datagram %zu; breaks MC-79, or MC-81 if it was "
             "selectively acked past)", ep, q->occ - 1, live, j + 1);
  } else if ((q->kind == X_REL || q->kind == X_UNREL) && !q->matched) {
    uint8_t d[MC_DATAGRAM_MAX + 64];
    memcpy(d, rp->c->pkts[j].data, rp->c->pkts[j].len);
    subst(rp, d, rp->c->pkts[j].len);
    Mychat__Envelope *e = lax(d, rp->c->pkts[j].len);
    char a[160] = "?";
    int body = -1, code = -1, online = 0;
    if (e != NULL) {
      summary(a, sizeof a, e);
      body = e->body_case;
      if (body == MYCHAT__ENVELOPE__BODY_ERROR && e->error != NULL)
        code = e->error->code;
      if (body == MYCHAT__ENVELOPE__BODY_PRESENCE && e->presence != NULL)
        online = e->presence->online;
      mychat__envelope__free_unpacked(e, NULL);
    }
    /* An answer to a handshake that never came: the server dropped it,
     * which only a copy of a pending handshake may be (MC-41). */
    char reqs[96];
    int hs = 0;
    for (size_t k = 0; k < j; k++)
      hs |= rp->pi[k].awaits == (int)j &&
            (rp->pi[k].body == MYCHAT__ENVELOPE__BODY_REGISTER ||
             rp->pi[k].body == MYCHAT__ENVELOPE__BODY_LOGIN);
    snprintf(reqs, sizeof reqs, "%s%s", hs ? "MC-41 " : "",
             body_reqs(body, code, online));
    fail(rp, "endpoint %d: timed out waiting for capture datagram %zu: %s "
             "(%s)", ep, j + 1, a, cite(rp, reqs));
    char line[DUMP_LINE_MAX];
    capture_line(rp, j, line, sizeof line);
    emit(rp, "awaited: %s\n", line);
  } else {
    char rs[80] = "";
    size_t k = 0;
    for (uint32_t r = 0; r < q->n_ranges && k < sizeof rs - 24; r++)
      k += (size_t)snprintf(rs + k, sizeof rs - k, " [%u,%u]", q->rf[r],
                            q->rl[r]);
    fail(rp, "endpoint %d: timed out waiting for an ack of cumulative %u%s "
             "(capture datagram %zu; MC-84, MC-87..MC-90)", ep, q->cum, rs,
         j + 1);
  }
}

/* Waits until every expectation before capture index |upto| holds. */
static void wait_for(replay *rp, size_t upto) {
  uint64_t deadline = mc_udp_now_us() + (uint64_t)(rp->o->timeout_s * 1e6);
  rp->rx_mark = rp->n_rx;
  for (;;) {
    size_t j = 0;
    while (j < upto && satisfied(rp, j))
      j++;
    if (j == upto || rp->failed)
      return;
    if (mc_udp_now_us() >= deadline) {
      describe_wait(rp, j);
      emit_arrivals(rp);
      return;
    }
    step(rp, deadline);
  }
}

static void idle(replay *rp, uint64_t until) {
  while (!rp->failed && mc_udp_now_us() < until)
    step(rp, until);
}

/* Rewrites the ack of our datagram |d| (|*len| bytes, room for
 * MC_DATAGRAM_MAX) from the capture's server seqs to the live ones, when
 * pushes took other places in the live stream (section 8.6 leaves their
 * order free): the client acknowledges the same pushes, by their live
 * seqs. Datagrams that do not decode (probes) are left as they are. */
static void remap_ack(const replay *rp, int ep, uint8_t *d, size_t *len) {
  const epst *e = &rp->ep[ep];
  if (!e->remapped)
    return;
  Mychat__Envelope *env = lax(d, *len);
  if (env == NULL)
    return;
  uint8_t rec[MAXSEQ] = {0}, live[MAXSEQ] = {0};
  if (env->ack != NULL) {
    ack_mark(rec, env->ack);
    for (uint32_t r = 1; r < MAXSEQ; r++)
      if (rec[r])
        live[live_seq(rp, ep, r)] = 1;
  }
  if (env->ack == NULL || memcmp(rec, live, sizeof rec) == 0) {
    mychat__envelope__free_unpacked(env, NULL);
    return;
  }
  Mychat__Ack ack = MYCHAT__ACK__INIT;
  Mychat__AckRange rv[MC_ACK_RANGES_MAX], *rp_[MC_ACK_RANGES_MAX];
  ack.delay_us = env->ack->delay_us;
  uint32_t s = 1;
  while (s < MAXSEQ && live[s])
    s++;
  ack.cumulative = s - 1;
  while (s < MAXSEQ && ack.n_ranges < MC_ACK_RANGES_MAX) {
    while (s < MAXSEQ && !live[s])
      s++;
    if (s == MAXSEQ)
      break;
    Mychat__AckRange *r = &rv[ack.n_ranges];
    mychat__ack_range__init(r);
    r->first = s;
    while (s < MAXSEQ && live[s])
      s++;
    r->last = s - 1;
    rp_[ack.n_ranges++] = r;
  }
  ack.ranges = rp_;
  Mychat__Ack *was = env->ack;
  env->ack = &ack;
  uint8_t b[MC_DATAGRAM_MAX];
  size_t bl;
  if (body_bytes(env, b, &bl) == 0)
    mc_codec_encode(env, b, bl, d, MC_DATAGRAM_MAX, len);
  env->ack = was;
  mychat__envelope__free_unpacked(env, NULL);
}

static void send_client(replay *rp, size_t i) {
  const mc_cap_pkt *p = &rp->c->pkts[i];
  const pinfo *q = &rp->pi[i];
  epst *e = &rp->ep[p->ep];
  uint8_t d[MC_DATAGRAM_MAX + 64];
  size_t len = p->len;
  memcpy(d, p->data, len);
  subst(rp, d, len);
  remap_ack(rp, p->ep, d, &len);
  e->last_sent = (int)i;
  uint64_t now = mc_udp_now_us();
  out(rp, p->ep, (int)i, d, len, now);
  note_sent(rp, p->ep, d, len, now);
  if (q->seq > 0)
    ackt_sent(rp, p->ep, q->seq, now);
  if (q->copy)
    e->retrans++;
  if (q->body == MYCHAT__ENVELOPE__BODY_LOGOUT)
    e->live = 0;
  /* On an impaired link a request sent after the capture's server last
   * acked here (its session ended first, MC-132) is resent too: lost, it
   * would hold back the ones after it, and the end they cause. */
  int past_end = rp->impaired && q->seq > 0 && q->seq < MAXSEQ &&
                 e->ack_free[q->seq] && !q->retx_rel;
  if ((q->retx_rel || past_end) && rp->npend < QMAX) {
    pending *pd = &rp->pend[rp->npend++];
    mc_peek pk;
    pd->ep = p->ep;
    pd->seq = q->seq;
    pd->idx = i;
    pd->sid = mc_codec_peek(d, len, &pk) == 0 ? pk.session_id : 0;
    pd->past_end = past_end;
    pd->last = now;
    pd->len = len;
    memcpy(pd->data, d, len);
  }
  if (q->awaits >= 0) {
    e->pend_unrel = q->awaits;
    e->pend_unrel_idx = (int)i;
    e->pend_unrel_last = now;
    e->pend_unrel_len = len;
    memcpy(e->pend_unrel_data, d, len);
  }
}

/* Pushes are matched by content, so a gap in the server's seqs would go
 * unseen there: every seq up to the highest must have come (MC-70), at
 * this endpoint or another its session moved to (MC-56). */
static void check_seqs(replay *rp, int ep) {
  const epst *e = &rp->ep[ep];
  for (uint32_t s = 1; s <= e->top_seq && s < MAXSEQ; s++) {
    int came = 0;
    for (int k = 0; k < rp->n_ep; k++)
      came |= rp->ep[k].rx_count[s] > 0 && rp->ep[k].push_sid == e->push_sid;
    if (!came) {
      fail(rp, "endpoint %d: push seq %u never came, though seq %u did: "
               "seqs count up by one (breaks MC-70)", ep, s, e->top_seq);
      return;
    }
  }
}

static void check_retransmit(replay *rp, const mc_cap_retransmit *r) {
  const epst *e = &rp->ep[r->ep];
  if (r->ep >= rp->n_ep || r->seq >= MAXSEQ) {
    fail(rp, "retransmit directive names endpoint %d seq %u, not in the "
             "capture", r->ep, r->seq);
    return;
  }
  uint32_t seq = live_seq(rp, r->ep, r->seq);
  int n = e->rx_count[seq];
  if (n < r->n_gaps + 1) {
    fail(rp, "endpoint %d: seq %u arrived %d times, expected at least %d "
             "(retransmission: MC-79)", r->ep, r->seq, n, r->n_gaps + 1);
    return;
  }
  if (r->last && n > r->n_gaps + 1) {
    fail(rp, "endpoint %d: seq %u arrived %d times, expected %d: after %d "
             "retransmissions the server must give up (MC-82)", r->ep, r->seq,
         n, r->n_gaps + 1, r->n_gaps);
    return;
  }
  for (int k = 0; k < r->n_gaps; k++) {
    uint64_t g = (e->rx_time[seq][k + 1] - e->rx_time[seq][k]) / 1000;
    if (g < r->gap_min[k] || g > r->gap_max[k]) {
      /* The case's own timing rule decides (fast retransmit, initial RTO,
       * backoff...): its requires line names it first. */
      fail(rp, "endpoint %d: seq %u transmission %d came %" PRIu64 " ms "
               "after the one before, %s than expected (%u..%u ms; %s)",
           r->ep, r->seq, k + 2, g, g < r->gap_min[k] ? "sooner" : "later",
           r->gap_min[k], r->gap_max[k],
           cite(rp, "MC-74 MC-78 MC-79 MC-80 MC-81 MC-82"));
      return;
    }
  }
}

/* A session ends on time (MC-64, or the directive's MC-n): the push its
 * end causes came within the directive's bounds after the last datagram
 * we sent from its endpoint before that push. */
static void check_timeout(replay *rp, const mc_cap_timeout *t) {
  if (t->ep >= rp->n_ep || t->push_ep >= rp->n_ep || t->seq >= MAXSEQ) {
    fail(rp, "timeout directive names endpoints %d, %d, seq %u, not in the "
             "capture", t->ep, t->push_ep, t->seq);
    return;
  }
  const epst *p = &rp->ep[t->push_ep], *e = &rp->ep[t->ep];
  uint32_t seq = live_seq(rp, t->push_ep, t->seq);
  if (p->rx_count[seq] == 0) {
    fail(rp, "endpoint %d: push seq %u, the end of the session of endpoint "
             "%d, never came (MC-%d)", t->push_ep, t->seq, t->ep, t->req);
    return;
  }
  /* Impaired: from when the server sent it first, a copy lost or delayed
   * on its way to us aside; our side is on the wire already (tx_at). */
  uint64_t at = rp->impaired && p->raw_at[seq] ? p->raw_at[seq]
                                               : p->rx_time[seq][0];
  uint64_t last = 0;
  size_t n = e->n_tx < TXLOG ? e->n_tx : TXLOG;
  for (size_t k = 0; k < n; k++) {
    uint64_t x = e->tx_at[(e->n_tx - 1 - k) % TXLOG];
    if (x < at) {
      last = x;
      break;
    }
  }
  /* A give-up (not MC-64) counts from the push's first transmission,
   * which the first copy of our last datagram to reach the server caused;
   * our resends of it (its ack lost) move nothing. */
  int sf = e->silent_from;
  if (rp->impaired && t->req != 64 && sf >= 0 && rp->pi[sf].wire_at != 0 &&
      rp->pi[sf].wire_at < at)
    last = rp->pi[sf].wire_at;
  uint64_t g = last ? (at - last) / 1000 : 0;
  unsigned lo = rp->impaired ? t->imp_min_ms : t->min_ms;
  unsigned hi = rp->impaired ? t->imp_max_ms : t->max_ms;
  if (last == 0 || g < lo || g > hi)
    fail(rp, "endpoint %d: the session of endpoint %d ended %" PRIu64 " ms "
             "after its last datagram (push seq %u at endpoint %d), expected "
             "%u..%u ms%s (breaks MC-%d)",
         t->push_ep, t->ep, g, t->seq, t->push_ep, lo, hi,
         rp->impaired ? " on this link" : "", t->req);
}

/* Marks where the endpoint a timeout directive |t| times falls silent:
 * its last datagram in the capture before the push the end causes. */
static void silence(replay *rp, const mc_cap_timeout *t) {
  const mc_case *c = rp->c;
  if (t->ep >= rp->n_ep)
    return; /* check_timeout says so */
  int last = -1;
  for (size_t j = 0; j < c->n_pkts; j++) {
    const mc_cap_pkt *p = &c->pkts[j];
    if (!p->from_client && p->ep == t->push_ep && rp->pi[j].seq == t->seq)
      break;
    if (p->from_client && p->ep == t->ep)
      last = (int)j;
  }
  rp->ep[t->ep].silent_from = last;
}

/* MC-67: the Error SESSION_REPLACED to a user's old session goes out
 * before the new session's Welcome. Both answer one client datagram, at
 * two endpoints, so only the kernel's receive times can order them (the
 * loop reads its sockets in endpoint order). Clean link only. */
static void check_replaced_order(replay *rp) {
  const mc_case *c = rp->c;
  for (size_t i = 0; i < c->n_pkts; i++) {
    if (!c->pkts[i].from_client)
      continue;
    size_t err = SIZE_MAX, wel = SIZE_MAX;
    for (size_t j = i + 1; j < c->n_pkts && !c->pkts[j].from_client; j++) {
      if (rp->pi[j].kind != X_UNREL || rp->pi[j].stamp_ns == 0)
        continue;
      if (rp->pi[j].body == MYCHAT__ENVELOPE__BODY_ERROR &&
          rp->pi[j].code == MYCHAT__ERROR_CODE__SESSION_REPLACED)
        err = j;
      else if (rp->pi[j].body == MYCHAT__ENVELOPE__BODY_WELCOME)
        wel = j;
    }
    if (err != SIZE_MAX && wel != SIZE_MAX &&
        rp->pi[wel].stamp_ns < rp->pi[err].stamp_ns) {
      fail(rp, "endpoint %d got the new session's Welcome %" PRIu64 " us "
               "before endpoint %d got SESSION_REPLACED for the old one: "
               "the old session must end first (MC-67)", c->pkts[wel].ep,
           (rp->pi[err].stamp_ns - rp->pi[wel].stamp_ns) / 1000,
           c->pkts[err].ep);
      return;
    }
  }
}

int mc_replay_run(const mc_case *c, const mc_replay_opts *o, char *report,
                  size_t cap) {
  replay *rp = calloc(1, sizeof *rp);
  if (rp == NULL)
    return MC_ERR_NOMEM;
  rp->c = c;
  rp->o = o;
  rp->out = report;
  rp->cap = cap;
  report[0] = '\0';
  rp->pi = calloc(c->n_pkts ? c->n_pkts : 1, sizeof *rp->pi);
  rp->q = calloc(QMAX, sizeof *rp->q);
  rp->pend = calloc(QMAX, sizeof *rp->pend);
  int rv = 0;
  if (rp->pi == NULL || rp->q == NULL || rp->pend == NULL) {
    rv = MC_ERR_NOMEM;
    goto out;
  }
  rp->rxlog = calloc(RXLOG, sizeof *rp->rxlog);
  if (rp->rxlog == NULL) {
    rv = MC_ERR_NOMEM;
    goto out;
  }
  mcp_ctx_init(&rp->mcx, MC_CAP_SERVER_PORT);
  rp->mcx.have_first = 1; /* times are given relative already */
  rp->t0 = mc_udp_now_us();
  mc_netem_config to_s, to_c;
  mc_replay_mask(&o->netem, o->impaired ? c->impair[MC_CAP_TO_SERVER] : 0,
                 &to_s);
  mc_replay_mask(&o->netem, o->impaired ? c->impair[MC_CAP_TO_CLIENT] : 0,
                 &to_c);
  rp->impaired = mc_replay_kinds(&to_s) != 0 || mc_replay_kinds(&to_c) != 0;
  mc_netem_init(&rp->nout, &to_s, o->seed * 2 + 1);
  mc_netem_init(&rp->nin, &to_c, o->seed * 2 + 2);
  analyse(rp);
  for (int k = 0; k < rp->n_ep; k++) {
    char err[256];
    rp->ep[k].pend_unrel = -1;
    rp->ep[k].last_sent = -1;
    rp->ep[k].silent_from = -1;
    rp->ep[k].fd = mc_capture_socket((const struct sockaddr *)&o->server,
                                     o->server_len, rp->host[k], err,
                                     sizeof err);
    if (rp->ep[k].fd < 0) {
      snprintf(report, cap, "%s\n", err);
      rv = MC_ERR_STORAGE;
      goto out;
    }
    /* The first SIOCGSTAMPNS has nothing to tell (ENOENT) but makes the
     * kernel stamp every datagram from then on, the first included. */
    struct timespec ts;
    (void)ioctl(rp->ep[k].fd, SIOCGSTAMPNS, &ts);
  }
  for (int k = 0; k < c->n_timeout; k++)
    silence(rp, &c->timeout[k]);
  rp->own_ping = 1;
  for (size_t i = 0; i < c->n_pkts; i++)
    if (c->pkts[i].from_client && rp->pi[i].ping_time == rp->own_ping) {
      rp->own_ping++; /* taken: try the next, from the start */
      i = (size_t)-1;
    }
  for (size_t i = 0; i < c->n_pkts; i++) {
    mc_peek pk;
    if (c->pkts[i].from_client &&
        mc_codec_peek(c->pkts[i].data, c->pkts[i].len, &pk) == 0 &&
        pk.session_id != 0 && pk.token_len == MC_TOKEN_LEN)
      rp->ep[c->pkts[i].ep].speaks = 1;
  }
  uint64_t prev_t = 0;
  int any = 0;
  for (size_t i = 0; i < c->n_pkts && !rp->failed; i++) {
    if (!c->pkts[i].from_client)
      continue;
    /* The recorded gap first, then what the capture shows before this
     * datagram: the wait's timeout then counts from the end of the gap,
     * so a gap longer than it (retransmissions of a body never acked,
     * MC-82) does not fail a correct server. */
    uint64_t gap = c->pkts[i].t_us - prev_t, until;
    while (any && gap >= GAP_KEPT_US && !rp->failed &&
           mc_udp_now_us() < (until = rp->prev_sent + gap))
      idle(rp, until);
    wait_for(rp, i);
    if (rp->failed)
      break;
    send_client(rp, i);
    prev_t = c->pkts[i].t_us;
    rp->prev_i = i;
    rp->prev_sent = mc_udp_now_us();
    any = 1;
  }
  wait_for(rp, c->n_pkts);
  /* Quiet period: anything more the server sends now is unexpected. */
  idle(rp, mc_udp_now_us() + (rp->impaired ? 800000 : 250000));
  for (int k = 0; k < c->n_retransmit && !rp->failed && !rp->impaired; k++)
    check_retransmit(rp, &c->retransmit[k]);
  for (int k = 0; k < rp->n_ep && !rp->failed && !rp->impaired; k++)
    check_seqs(rp, k);
  for (int k = 0; k < c->n_acktime && !rp->failed && !rp->impaired; k++)
    check_acktime(rp, k);
  for (int k = 0; k < c->n_timeout && !rp->failed; k++)
    check_timeout(rp, &c->timeout[k]);
  if (!rp->failed && !rp->impaired)
    check_replaced_order(rp);
  rv = rp->failed;
  /* Not scheduled for that long, we went silent and answered late, as the
   * server saw it: its session may have timed out, our resend may have
   * crossed its answer (seen on a loaded machine: a second Welcome, 2.3 s
   * in). Such a failure says nothing about the server. */
  if (rv && rp->stall_us >= MC_REPLAY_STALL_US) {
    emit(rp, "this run is void: the suite itself was not scheduled for "
             "%" PRIu64 " ms\n", rp->stall_us / 1000);
    rv = MC_REPLAY_VOID;
  }
out:
  if (o->link != NULL) {
    const mc_netem_stats *d[2] = {&rp->nout.stats, &rp->nin.stats};
    for (int k = 0; k < 2; k++) {
      o->link->offered += d[k]->offered;
      o->link->dropped_loss += d[k]->dropped_loss;
      o->link->duplicated += d[k]->duplicated;
      o->link->reordered += d[k]->reordered;
    }
  }
  for (int k = 0; k < rp->n_ep; k++) {
    if (rp->ep[k].fd > 0)
      close(rp->ep[k].fd);
    for (int s = 0; s < MAXSEQ; s++) {
      free(rp->ep[k].rx_body[s]);
      mc_codec_free(rp->ep[k].rx_env[s]);
      free(rp->ep[k].rx_line[s]);
    }
  }
  free(rp->pi);
  free(rp->q);
  free(rp->pend);
  if (rp->rxlog != NULL)
    mcp_ctx_free(&rp->mcx);
  free(rp->rxlog);
  free(rp);
  return rv;
}
