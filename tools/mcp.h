/*
 * mcp.h: what the mychat-pcap subcommands share: a small hash table, a
 * growable string, the decoding and classification of one captured
 * datagram (direction, session owner), field printing driven by the
 * protobuf-c descriptors, and the datagram filters.
 */
#ifndef MCP_H
#define MCP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "mc_codec_pb.h"
#include "mc_pcap.h"

/* ---- a hash table from fixed-size keys to uint32 values ---- */

#define MCP_KEY_LEN 40

typedef struct {
  uint8_t key[MCP_KEY_LEN];
  uint32_t val;
  uint8_t used;
} mcp_slot;

typedef struct {
  mcp_slot *slots;
  size_t cap, n;                /* cap: power of two or 0; n < cap / 2 */
} mcp_table;

/* Returns the value slot of |key| (MCP_KEY_LEN bytes), creating it with
 * value UINT32_MAX when |create|; NULL when absent and not created. Exits
 * the program when memory runs out: these are command-line tools. */
uint32_t *mcp_table_get(mcp_table *t, const uint8_t *key, int create);
void mcp_table_free(mcp_table *t);

/* ---- a growable string ---- */

typedef struct {
  char *s;
  size_t len, cap;
} mcp_buf;

void mcp_buf_printf(mcp_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The appenders the per-datagram line uses, so that it is built without
 * parsing a printf format per field. */
void mcp_buf_put(mcp_buf *b, const char *s, size_t n);
void mcp_buf_puts(mcp_buf *b, const char *s);
void mcp_buf_putc(mcp_buf *b, char ch);
/* |v| in decimal, left-padded with |pad| to |width| characters. */
void mcp_buf_uint(mcp_buf *b, uint64_t v, int width, char pad);
void mcp_buf_int(mcp_buf *b, int64_t v);
/* The low |digits| hex digits of |v|, lower case, zero-padded. */
void mcp_buf_hex(mcp_buf *b, uint64_t v, int digits);
void mcp_buf_reset(mcp_buf *b);
void mcp_buf_free(mcp_buf *b);

/* Growable arrays exit on allocation failure too. */
void *mcp_xrealloc(void *p, size_t n);

/* Reports that memory ran out and exits with status 1. */
_Noreturn void mcp_oom(void);

/* ---- decoded datagrams ---- */

typedef enum {
  MCP_OK = 0,        /* decoded and valid */
  MCP_INVALID,       /* parsed, but a field breaks PROTOCOL.md section 4.2 */
  MCP_MALFORMED,     /* MyChat prefix, but the envelope does not parse */
  MCP_FOREIGN        /* not MyChat: wrong prefix or size */
} mcp_kind;

typedef enum { MCP_DIR_UNKNOWN = 0, MCP_DIR_CS, MCP_DIR_SC } mcp_dir;

typedef struct {
  const mc_pcap_frame *f;
  Mychat__Envelope *env;        /* NULL for MALFORMED and FOREIGN */
  mcp_kind kind;
  int err;                      /* mc_codec_decode()'s error, or 0 */
  mcp_dir dir;
  const char *body;             /* body name, "malformed" or "non-mychat" */
  const char *user;             /* the user whose traffic this is, or NULL */
  const mc_pcap_endpoint *client; /* the client side, NULL if unknown */
} mcp_dgram;

/* What one pass over a capture has learned: the server's endpoints, and
 * which user owns which session and which client endpoint. */
typedef struct {
  unsigned server_port;
  mc_pcap_endpoint servers[16];
  size_t n_servers;
  mcp_table sessions;           /* session id -> user index */
  mcp_table endpoints;          /* client endpoint -> user index */
  mcp_table user_index;         /* name -> user index */
  char **users;
  size_t n_users;
  uint64_t first_ts;
  int have_first;
} mcp_ctx;

void mcp_ctx_init(mcp_ctx *c, unsigned server_port);
void mcp_ctx_free(mcp_ctx *c);

/* Decodes |f| into |d| and learns from it (direction, owners). The caller
 * releases d->env with mc_codec_free(). */
void mcp_decode(mcp_ctx *c, const mc_pcap_frame *f, mcp_dgram *d);

const char *mcp_dir_name(mcp_dir d);

/* ---- printing ---- */

typedef enum { MCP_SHORT, MCP_TREE, MCP_JSON } mcp_style;

/* Appends the one-line summary, the field tree, or the JSON object of
 * |d| (without a trailing newline for SHORT and JSON). */
void mcp_format(mcp_buf *b, const mcp_ctx *c, const mcp_dgram *d,
                mcp_style style);

/* ---- JSON ----
 * Every JSON the tools write is built with jansson and dumped compact,
 * keys in insertion order. */

/* Returns |v|; exits as out of memory when it is NULL. */
json_t *mcp_json_check(json_t *v);
/* Sets |key| of object |o| to |v| (stealing it; NULL: out of memory). */
void mcp_json_set(json_t *o, const char *key, json_t *v);
/* A JSON string of the |n| bytes of |s|: as they are when valid UTF-8;
 * otherwise each byte 0x80..0xff stands for the code point U+0080..U+00FF
 * (Latin-1), so that the output neither vanishes nor loses a byte. */
json_t *mcp_json_string(const char *s, size_t n);
/* Appends |v| as one compact line (no newline) and releases it. */
void mcp_buf_json(mcp_buf *b, json_t *v);

/* ---- filters ---- */

typedef struct {
  const char *user;             /* NULL: any */
  const char *session;          /* hex prefix of the 16-digit id, or NULL */
  const char *type;             /* body name, or NULL */
  int have_endpoint;
  mc_pcap_endpoint endpoint;
  int have_from, have_to;
  double from, to;              /* seconds: relative, or epoch if > 1e9 */
} mcp_filter;

/* Parses the filter option |opt| ("user", "session", "type", "endpoint",
 * "from", "to") with value |val|. Returns 0, or -1 with a message printed. */
int mcp_filter_set(mcp_filter *flt, const char *prog, const char *opt,
                   const char *val);

/* Returns 1 when |d| passes every filter of |flt|. */
int mcp_filter_match(const mcp_filter *flt, const mcp_ctx *c,
                     const mcp_dgram *d);

#endif
