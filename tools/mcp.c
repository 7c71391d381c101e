/*
 * mcp.c: see mcp.h.
 */
#include "mcp.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mc_error.h"

_Noreturn void mcp_oom(void) {
  fprintf(stderr, "mychat-pcap: out of memory\n");
  exit(1);
}

void *mcp_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) mcp_oom();
  return q;
}

/* ---- table ---- */

/* Mixes the key in 8-byte words: dump and stats look up every datagram,
 * and a byte-at-a-time hash of 40 bytes was a tenth of dump's time. */
_Static_assert(MCP_KEY_LEN % 8 == 0, "key_hash reads whole words");
static uint64_t key_hash(const uint8_t *k) {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < MCP_KEY_LEN; i += 8) {
    uint64_t w;
    memcpy(&w, k + i, sizeof w);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  return h;
}

static void table_grow(mcp_table *t) {
  size_t ncap = t->cap ? t->cap * 2 : 64;
  mcp_slot *ns = calloc(ncap, sizeof *ns);
  if (!ns) mcp_oom();
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->slots[i].used) continue;
    size_t j = key_hash(t->slots[i].key) & (ncap - 1);
    while (ns[j].used) j = (j + 1) & (ncap - 1);
    ns[j] = t->slots[i];
  }
  free(t->slots);
  t->slots = ns;
  t->cap = ncap;
}

uint32_t *mcp_table_get(mcp_table *t, const uint8_t *key, int create) {
  if (t->cap) {
    size_t j = key_hash(key) & (t->cap - 1);
    while (t->slots[j].used) {
      if (memcmp(t->slots[j].key, key, MCP_KEY_LEN) == 0) return &t->slots[j].val;
      j = (j + 1) & (t->cap - 1);
    }
  }
  if (!create) return NULL;
  if ((t->n + 1) * 2 > t->cap) table_grow(t);
  size_t j = key_hash(key) & (t->cap - 1);
  while (t->slots[j].used) j = (j + 1) & (t->cap - 1);
  memcpy(t->slots[j].key, key, MCP_KEY_LEN);
  t->slots[j].used = 1;
  t->slots[j].val = UINT32_MAX;
  t->n++;
  return &t->slots[j].val;
}

void mcp_table_free(mcp_table *t) {
  free(t->slots);
  memset(t, 0, sizeof *t);
}

/* ---- buf ---- */

void mcp_buf_printf(mcp_buf *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    b->cap = (b->cap + (size_t)n + 1) * 2;
    b->s = mcp_xrealloc(b->s, b->cap);
  }
}

/* Makes room for |n| more bytes and the NUL after them. */
static char *buf_room(mcp_buf *b, size_t n) {
  if (b->cap - b->len < n + 1) {
    b->cap = (b->cap + n + 1) * 2;
    b->s = mcp_xrealloc(b->s, b->cap);
  }
  return b->s + b->len;
}

void mcp_buf_put(mcp_buf *b, const char *s, size_t n) {
  memcpy(buf_room(b, n), s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

void mcp_buf_puts(mcp_buf *b, const char *s) { mcp_buf_put(b, s, strlen(s)); }

void mcp_buf_putc(mcp_buf *b, char ch) {
  *buf_room(b, 1) = ch;
  b->s[++b->len] = '\0';
}

void mcp_buf_uint(mcp_buf *b, uint64_t v, int width, char pad) {
  char d[24];
  int n = 0;
  do d[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  int fill = width > n ? width - n : 0;
  char *o = buf_room(b, (size_t)(fill + n));
  memset(o, pad, (size_t)fill);
  for (int i = 0; i < n; i++) o[fill + i] = d[n - 1 - i];
  b->len += (size_t)(fill + n);
  b->s[b->len] = '\0';
}

void mcp_buf_int(mcp_buf *b, int64_t v) {
  if (v < 0) mcp_buf_putc(b, '-');
  mcp_buf_uint(b, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 0, ' ');
}

void mcp_buf_hex(mcp_buf *b, uint64_t v, int digits) {
  static const char hex[] = "0123456789abcdef";
  char *o = buf_room(b, (size_t)digits);
  for (int i = digits - 1; i >= 0; i--, v >>= 4) o[i] = hex[v & 15];
  b->len += (size_t)digits;
  b->s[b->len] = '\0';
}

void mcp_buf_reset(mcp_buf *b) {
  b->len = 0;
  if (b->s) b->s[0] = '\0';
}

void mcp_buf_free(mcp_buf *b) {
  free(b->s);
  memset(b, 0, sizeof *b);
}

/* Appends |n| bytes of |s| as a quoted, escaped string, cut to |max| bytes
 * (0: no limit) with "..." when cut. */
static void mcp_quote(mcp_buf *b, const char *s, size_t n, size_t max) {
  int cut = max && n > max;
  if (cut) {
    n = max;
    /* Do not end in the middle of a UTF-8 sequence. */
    while (n > 0 && ((uint8_t)s[n] & 0xc0) == 0x80) n--;
  }
  int utf8 = mc_codec_utf8_valid((const uint8_t *)s, n);
  mcp_buf_putc(b, '"');
  /* Runs of plain bytes are copied at once; only escapes are built. */
  size_t plain = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t ch = (uint8_t)s[i];
    int esc = ch == '"' || ch == '\\' || ch == '\n' || ch < 0x20 ||
              ch == 0x7f || (ch >= 0x80 && !utf8);
    if (!esc) continue;
    mcp_buf_put(b, s + plain, i - plain);
    plain = i + 1;
    mcp_buf_putc(b, '\\');
    if (ch == '"' || ch == '\\') mcp_buf_putc(b, (char)ch);
    else if (ch == '\n') mcp_buf_putc(b, 'n');
    else mcp_buf_putc(b, 'x'), mcp_buf_hex(b, ch, 2);
  }
  mcp_buf_put(b, s + plain, n - plain);
  mcp_buf_puts(b, cut ? "...\"" : "\"");
}

/* ---- context ---- */

void mcp_ctx_init(mcp_ctx *c, unsigned server_port) {
  memset(c, 0, sizeof *c);
  c->server_port = server_port;
}

void mcp_ctx_free(mcp_ctx *c) {
  for (size_t i = 0; i < c->n_users; i++) free(c->users[i]);
  free(c->users);
  mcp_table_free(&c->sessions);
  mcp_table_free(&c->endpoints);
  mcp_table_free(&c->user_index);
}

static void key_u64(uint8_t *k, uint64_t v) {
  memset(k, 0, MCP_KEY_LEN);
  memcpy(k, &v, sizeof v);
}

static void key_endpoint(uint8_t *k, const mc_pcap_endpoint *e) {
  memset(k, 0, MCP_KEY_LEN);
  k[0] = e->family;
  memcpy(k + 1, e->ip, 16);
  memcpy(k + 17, &e->port, 2);
}

/* Interns user |name|; returns its index. */
static uint32_t mcp_user_intern(mcp_ctx *c, const char *name) {
  uint8_t k[MCP_KEY_LEN] = {0};
  /* Valid names are at most 32 bytes, so they fit the key. */
  strncpy((char *)k, name, MCP_KEY_LEN - 1);
  uint32_t *v = mcp_table_get(&c->user_index, k, 1);
  if (*v == UINT32_MAX) {
    c->users = mcp_xrealloc(c->users, (c->n_users + 1) * sizeof *c->users);
    c->users[c->n_users] = strdup(name);
    if (!c->users[c->n_users]) mcp_oom();
    *v = (uint32_t)c->n_users++;
  }
  return *v;
}

static int is_server(const mcp_ctx *c, const mc_pcap_endpoint *e) {
  for (size_t i = 0; i < c->n_servers; i++)
    if (mc_pcap_endpoint_equal(&c->servers[i], e)) return 1;
  return 0;
}

static void learn_server(mcp_ctx *c, const mc_pcap_endpoint *e) {
  if (is_server(c, e) || c->n_servers == sizeof c->servers / sizeof c->servers[0])
    return;
  c->servers[c->n_servers++] = *e;
}

static mcp_dir find_dir(mcp_ctx *c, const mc_pcap_frame *f,
                        const Mychat__Envelope *env) {
  int to_srv = f->dst.port == c->server_port;
  int from_srv = f->src.port == c->server_port;
  if (to_srv != from_srv) return to_srv ? MCP_DIR_CS : MCP_DIR_SC;
  if (env) {
    switch (mc_codec_body_class(env->body_case)) {
    case MC_BODY_HANDSHAKE:
    case MC_BODY_REQUEST:
    case MC_BODY_CLIENT_UNREL:
      learn_server(c, &f->dst);
      return MCP_DIR_CS;
    case MC_BODY_PUSH:
    case MC_BODY_SERVER_UNREL:
      learn_server(c, &f->src);
      return MCP_DIR_SC;
    case MC_BODY_NONE:
      break;
    }
  }
  if (is_server(c, &f->src)) return MCP_DIR_SC;
  if (is_server(c, &f->dst)) return MCP_DIR_CS;
  return MCP_DIR_UNKNOWN;
}

const char *mcp_dir_name(mcp_dir d) {
  return d == MCP_DIR_CS ? "C->S" : d == MCP_DIR_SC ? "S->C" : "?";
}

static const char *handshake_name(const Mychat__Envelope *env) {
  if (env->body_case == MYCHAT__ENVELOPE__BODY_REGISTER && env->register_)
    return env->register_->name;
  if (env->body_case == MYCHAT__ENVELOPE__BODY_LOGIN && env->login)
    return env->login->name;
  return NULL;
}

void mcp_decode(mcp_ctx *c, const mc_pcap_frame *f, mcp_dgram *d) {
  memset(d, 0, sizeof *d);
  d->f = f;
  if (!c->have_first) {
    c->first_ts = f->ts_us;
    c->have_first = 1;
  }
  d->err = mc_codec_decode(f->payload, f->len, &d->env);
  if (d->err == 0) {
    d->kind = MCP_OK;
  } else if (mc_codec_unpack(f->payload, f->len, &d->env) == 0) {
    d->kind = MCP_INVALID;
  } else {
    int pre = mc_codec_check_prefix(f->payload, f->len);
    d->kind = pre ? MCP_FOREIGN : MCP_MALFORMED;
  }
  Mychat__Envelope *env = d->env;
  d->dir = find_dir(c, f, env);
  d->client = d->dir == MCP_DIR_CS ? &f->src : d->dir == MCP_DIR_SC ? &f->dst : NULL;
  if (!env) {
    d->body = d->kind == MCP_FOREIGN ? "non-mychat" : "malformed";
    return;
  }
  d->body = env->body_case == MYCHAT__ENVELOPE__BODY__NOT_SET
                ? "ack-only" : mc_codec_body_name(env->body_case);
  uint8_t k[MCP_KEY_LEN];
  /* Only valid datagrams teach: their names passed the name rules. */
  const char *hs = d->kind == MCP_OK ? handshake_name(env) : NULL;
  if (hs && d->client && d->dir == MCP_DIR_CS) {
    key_endpoint(k, d->client);
    *mcp_table_get(&c->endpoints, k, 1) = mcp_user_intern(c, hs);
  }
  if (d->kind == MCP_OK && env->body_case == MYCHAT__ENVELOPE__BODY_WELCOME &&
      d->dir == MCP_DIR_SC) {
    uint32_t u = mcp_user_intern(c, env->welcome->name);
    key_u64(k, env->welcome->session_id);
    *mcp_table_get(&c->sessions, k, 1) = u;
    key_endpoint(k, d->client);
    *mcp_table_get(&c->endpoints, k, 1) = u;
  }
  uint32_t *u = NULL;
  if (env->session_id) {
    key_u64(k, env->session_id);
    u = mcp_table_get(&c->sessions, k, 0);
  }
  if (!u && d->client) {
    key_endpoint(k, d->client);
    u = mcp_table_get(&c->endpoints, k, 0);
  }
  if (u) d->user = c->users[*u];
}

/* ---- printing, driven by the protobuf-c descriptors ---- */

/* Fields the one-line summary leaves out: secrets, padding and clocks; -v
 * shows them. */
static int short_skip(const char *name) {
  static const char *const skip[] = {"padding", "password", "token",
                                     "server_time_ms", "delivered_time_ms",
                                     "keepalive_ms", "session_timeout_ms"};
  for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
    if (strcmp(name, skip[i]) == 0) return 1;
  return 0;
}

static const void *at(const ProtobufCMessage *m, unsigned off) {
  return (const char *)m + off;
}

/* Returns 1 when field |fd| of |m| is present: a set oneof member, a
 * non-empty repeated field, a non-NULL message; for scalars, in the short
 * style only a non-zero value counts. */
static int present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd,
                   int nonzero_only) {
  if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
    return *(const uint32_t *)at(m, fd->quantifier_offset) == fd->id;
  if (fd->label == PROTOBUF_C_LABEL_REPEATED)
    return *(const size_t *)at(m, fd->quantifier_offset) > 0 || !nonzero_only;
  const void *p = at(m, fd->offset);
  switch (fd->type) {
  case PROTOBUF_C_TYPE_MESSAGE: return *(ProtobufCMessage *const *)p != NULL;
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(const char *const *)p;
    return s && (s[0] || !nonzero_only);
  }
  case PROTOBUF_C_TYPE_BYTES:
    return ((const ProtobufCBinaryData *)p)->len > 0 || !nonzero_only;
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
    return *(const uint64_t *)p != 0 || !nonzero_only;
  default:
    return *(const uint32_t *)p != 0 || !nonzero_only;
  }
}

static void format_message(mcp_buf *b, const ProtobufCMessage *m,
                           mcp_style st, int depth);

/* Appends the value of one scalar (or message) element at |p|. */
static void format_value(mcp_buf *b, const ProtobufCFieldDescriptor *fd,
                         const void *p, mcp_style st, int depth) {
  switch (fd->type) {
  case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
    mcp_buf_int(b, *(const int32_t *)p);
    break;
  case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    mcp_buf_uint(b, *(const uint32_t *)p, 0, ' ');
    break;
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
    mcp_buf_int(b, *(const int64_t *)p);
    break;
  case PROTOBUF_C_TYPE_UINT64:
    mcp_buf_uint(b, *(const uint64_t *)p, 0, ' ');
    break;
  case PROTOBUF_C_TYPE_FIXED64: {
    /* Ids and nonces: hex; the summary keeps the first 8 digits. */
    uint64_t v = *(const uint64_t *)p;
    if (st == MCP_SHORT) {
      mcp_buf_hex(b, v >> 32, 8);
    } else {
      mcp_buf_puts(b, "0x");
      mcp_buf_hex(b, v, 16);
    }
    break;
  }
  case PROTOBUF_C_TYPE_FLOAT:
    mcp_buf_printf(b, "%g", (double)*(const float *)p);
    break;
  case PROTOBUF_C_TYPE_DOUBLE:
    mcp_buf_printf(b, "%g", *(const double *)p);
    break;
  case PROTOBUF_C_TYPE_BOOL:
    mcp_buf_puts(b, *(const protobuf_c_boolean *)p ? "true" : "false");
    break;
  case PROTOBUF_C_TYPE_ENUM: {
    int v = *(const int *)p;
    const ProtobufCEnumValue *ev =
        protobuf_c_enum_descriptor_get_value(fd->descriptor, v);
    if (!ev) mcp_buf_int(b, v);
    else mcp_buf_puts(b, ev->name);
    break;
  }
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(const char *const *)p;
    mcp_quote(b, s, strlen(s), st == MCP_SHORT ? 40 : 0);
    break;
  }
  case PROTOBUF_C_TYPE_BYTES: {
    const ProtobufCBinaryData *bd = p;
    size_t show = bd->len;
    if (st == MCP_SHORT && show > 8) show = 8;
    if (strcmp(fd->name, "padding") == 0) {
      mcp_buf_printf(b, "<%zu bytes>", bd->len);
      break;
    }
    for (size_t i = 0; i < show; i++) mcp_buf_hex(b, bd->data[i], 2);
    if (show < bd->len) mcp_buf_puts(b, "...");
    if (!bd->len) mcp_buf_puts(b, "(empty)");
    break;
  }
  case PROTOBUF_C_TYPE_MESSAGE:
    format_message(b, *(ProtobufCMessage *const *)p, st, depth + 1);
    break;
  }
}

static size_t elem_size(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
    return 8;
  case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
  case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
  case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
  case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
  default: return 4;
  }
}

/* The short style prints "name=value" pairs, the tree one field per line
 * indented by |depth| (JSON is json_message()'s). */
static void format_message(mcp_buf *b, const ProtobufCMessage *m,
                           mcp_style st, int depth) {
  const ProtobufCMessageDescriptor *md = m->descriptor;
  int first = 1;
  for (unsigned i = 0; i < md->n_fields; i++) {
    const ProtobufCFieldDescriptor *fd = &md->fields[i];
    if (!present(m, fd, st == MCP_SHORT)) continue;
    if (st == MCP_SHORT && short_skip(fd->name)) continue;
    int rep = fd->label == PROTOBUF_C_LABEL_REPEATED;
    size_t n = rep ? *(const size_t *)at(m, fd->quantifier_offset) : 1;
    const char *base = rep ? *(const char *const *)at(m, fd->offset)
                           : (const char *)at(m, fd->offset);
    int msg = fd->type == PROTOBUF_C_TYPE_MESSAGE;
    if (st == MCP_SHORT) {
      if (rep && msg) {
        if (!first) mcp_buf_putc(b, ' ');
        mcp_buf_puts(b, fd->name);
        mcp_buf_putc(b, '=');
        mcp_buf_uint(b, n, 0, ' ');
      } else if (!msg) {
        if (!first) mcp_buf_putc(b, ' ');
        mcp_buf_puts(b, fd->name);
        mcp_buf_putc(b, '=');
        format_value(b, fd, base, st, depth);
      }
    } else {
      for (size_t j = 0; j < n; j++) {
        mcp_buf_printf(b, "%*s%s", depth * 2, "", fd->name);
        if (rep) mcp_buf_printf(b, "[%zu]", j);
        mcp_buf_printf(b, msg ? ":\n" : ": ");
        format_value(b, fd, base + j * elem_size(fd->type), st, depth);
        if (!msg) mcp_buf_printf(b, "\n");
      }
    }
    first = 0;
  }
}

/* ---- JSON, through jansson ---- */

json_t *mcp_json_check(json_t *v) {
  if (!v) mcp_oom();
  return v;
}

void mcp_json_set(json_t *o, const char *key, json_t *v) {
  if (json_object_set_new_nocheck(o, key, mcp_json_check(v)) < 0) mcp_oom();
}

json_t *mcp_json_string(const char *s, size_t n) {
  if (mc_codec_utf8_valid((const uint8_t *)s, n)) return mcp_json_check(json_stringn(s, n));
  /* Not UTF-8 (json_stringn() would refuse it): each byte of 0x80 and up
   * becomes the code point U+0080..U+00FF, as the \u00XX escapes written
   * before jansson did, so that the line is still written and still
   * shows every byte. */
  char *t = mcp_xrealloc(NULL, 2 * n);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t ch = (uint8_t)s[i];
    if (ch < 0x80) {
      t[k++] = (char)ch;
    } else {
      t[k++] = (char)(0xc0 | ch >> 6);
      t[k++] = (char)(0x80 | (ch & 0x3f));
    }
  }
  json_t *v = mcp_json_check(json_stringn(t, k));
  free(t);
  return v;
}

static int json_to_buf(const char *s, size_t n, void *b) {
  mcp_buf_put(b, s, n);
  return 0;
}

void mcp_buf_json(mcp_buf *b, json_t *v) {
  /* 15 significant digits: a relative time of up to 1e9 s with its 6
   * decimals comes out as written, without binary noise. */
  if (json_dump_callback(v, json_to_buf, b, JSON_COMPACT | JSON_REAL_PRECISION(15)) < 0)
    mcp_oom();
  json_decref(v);
}

static json_t *json_message(const ProtobufCMessage *m);

/* A real, or null for NaN and infinities, which JSON has not. */
static json_t *json_real_or_null(double v) {
  return mcp_json_check(isfinite(v) ? json_real(v) : json_null());
}

/* The JSON value of one scalar (or message) element at |p|. */
static json_t *json_value(const ProtobufCFieldDescriptor *fd, const void *p) {
  switch (fd->type) {
  case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
    return mcp_json_check(json_integer(*(const int32_t *)p));
  case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    return mcp_json_check(json_integer(*(const uint32_t *)p));
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
    return mcp_json_check(json_integer(*(const int64_t *)p));
  case PROTOBUF_C_TYPE_UINT64: {
    /* jansson's integers are signed: above INT64_MAX a real (readers
     * keep 53 bits of any number anyway). */
    uint64_t v = *(const uint64_t *)p;
    if (v <= INT64_MAX) return mcp_json_check(json_integer((json_int_t)v));
    return json_real_or_null((double)v);
  }
  case PROTOBUF_C_TYPE_FIXED64: {
    /* Ids and nonces: a string of 16 hex digits, since numbers over 2^53
     * do not survive most JSON readers. */
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, *(const uint64_t *)p);
    return mcp_json_check(json_stringn(hex, 16));
  }
  case PROTOBUF_C_TYPE_FLOAT: {
    /* Through the shortest decimal that gives the float back, so that
     * 0.1f is 0.1 and not 0.100000001490116. */
    char d[32];
    snprintf(d, sizeof d, "%.9g", (double)*(const float *)p);
    return json_real_or_null(strtod(d, NULL));
  }
  case PROTOBUF_C_TYPE_DOUBLE:
    return json_real_or_null(*(const double *)p);
  case PROTOBUF_C_TYPE_BOOL:
    return mcp_json_check(json_boolean(*(const protobuf_c_boolean *)p));
  case PROTOBUF_C_TYPE_ENUM: {
    int v = *(const int *)p;
    const ProtobufCEnumValue *ev =
        protobuf_c_enum_descriptor_get_value(fd->descriptor, v);
    return mcp_json_check(ev ? json_string(ev->name) : json_integer(v));
  }
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(const char *const *)p;
    return mcp_json_string(s, strlen(s));
  }
  case PROTOBUF_C_TYPE_BYTES: {
    /* Every byte in hex, padding too. */
    const ProtobufCBinaryData *bd = p;
    mcp_buf h = {0};
    for (size_t i = 0; i < bd->len; i++) mcp_buf_hex(&h, bd->data[i], 2);
    json_t *v = mcp_json_check(json_stringn(h.s ? h.s : "", h.len));
    mcp_buf_free(&h);
    return v;
  }
  case PROTOBUF_C_TYPE_MESSAGE: {
    const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
    return sub ? json_message(sub) : mcp_json_check(json_null());
  }
  }
  return mcp_json_check(json_null());
}

/* An object of the present fields of |m|, in descriptor order; repeated
 * fields as arrays. */
static json_t *json_message(const ProtobufCMessage *m) {
  const ProtobufCMessageDescriptor *md = m->descriptor;
  json_t *o = mcp_json_check(json_object());
  for (unsigned i = 0; i < md->n_fields; i++) {
    const ProtobufCFieldDescriptor *fd = &md->fields[i];
    if (!present(m, fd, 0)) continue;
    int rep = fd->label == PROTOBUF_C_LABEL_REPEATED;
    const char *base = rep ? *(const char *const *)at(m, fd->offset)
                           : (const char *)at(m, fd->offset);
    if (!rep) {
      mcp_json_set(o, fd->name, json_value(fd, base));
      continue;
    }
    size_t n = *(const size_t *)at(m, fd->quantifier_offset);
    json_t *a = mcp_json_check(json_array());
    for (size_t j = 0; j < n; j++)
      if (json_array_append_new(a, json_value(fd, base + j * elem_size(fd->type))) < 0)
        mcp_oom();
    mcp_json_set(o, fd->name, a);
  }
  return o;
}

/* "seq=3 ack=5[7-9] sid=1a2b3c4d". */
static void format_header(mcp_buf *b, const Mychat__Envelope *env) {
  mcp_buf_puts(b, "seq=");
  mcp_buf_uint(b, env->seq, 0, ' ');
  if (env->ack) {
    mcp_buf_puts(b, " ack=");
    mcp_buf_uint(b, env->ack->cumulative, 0, ' ');
    if (env->ack->n_ranges) {
      mcp_buf_putc(b, '[');
      for (size_t i = 0; i < env->ack->n_ranges; i++) {
        const Mychat__AckRange *r = env->ack->ranges[i];
        if (!r) continue;
        if (i) mcp_buf_putc(b, ',');
        mcp_buf_uint(b, r->first, 0, ' ');
        mcp_buf_putc(b, '-');
        mcp_buf_uint(b, r->last, 0, ' ');
      }
      mcp_buf_putc(b, ']');
    }
  }
  if (env->session_id) {
    mcp_buf_puts(b, " sid=");
    mcp_buf_hex(b, env->session_id >> 32, 8);
  }
}

/* The body message of |env|, or NULL. The body oneof members are the
 * Envelope fields numbered 10 and up. */
static const ProtobufCMessage *body_of(const Mychat__Envelope *env) {
  const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(
      &mychat__envelope__descriptor, (unsigned)env->body_case);
  if (!fd || env->body_case == MYCHAT__ENVELOPE__BODY__NOT_SET) return NULL;
  return *(ProtobufCMessage *const *)at(&env->base, fd->offset);
}

static const char *kind_name(mcp_kind k) {
  static const char *const n[] = {"ok", "invalid", "malformed", "non-mychat"};
  return n[k];
}

void mcp_format(mcp_buf *b, const mcp_ctx *c, const mcp_dgram *d,
                mcp_style st) {
  const mc_pcap_frame *f = d->f;
  uint64_t rel = f->ts_us >= c->first_ts ? f->ts_us - c->first_ts : 0;
  const char *why = d->err ? mc_strerror(d->err) : NULL;
  if (st == MCP_JSON) {
    json_t *o = mcp_json_check(json_object());
    mcp_json_set(o, "frame", json_integer((json_int_t)f->frame));
    mcp_json_set(o, "ts_us", json_integer((json_int_t)f->ts_us));
    mcp_json_set(o, "time", json_real((double)rel / 1e6));
    mcp_json_set(o, "src", json_string(f->src_text));
    mcp_json_set(o, "dst", json_string(f->dst_text));
    mcp_json_set(o, "dir", json_string(mcp_dir_name(d->dir)));
    mcp_json_set(o, "len", json_integer((json_int_t)f->len));
    mcp_json_set(o, "kind", json_string(kind_name(d->kind)));
    mcp_json_set(o, "body", json_string(d->body));
    if (d->user) mcp_json_set(o, "user", mcp_json_string(d->user, strlen(d->user)));
    if (why) mcp_json_set(o, "error", json_string(why));
    if (d->env) mcp_json_set(o, "envelope", json_message(&d->env->base));
    mcp_buf_json(b, o);
    return;
  }
  /* The line of every datagram: built by hand, since printf's parsing of
   * the format was most of dump's time. */
  mcp_buf_uint(b, f->frame, 4, ' ');
  mcp_buf_putc(b, ' ');
  mcp_buf_uint(b, rel / 1000000, 4, ' ');
  mcp_buf_putc(b, '.');
  mcp_buf_uint(b, rel % 1000000, 6, '0');
  mcp_buf_putc(b, ' ');
  mcp_buf_puts(b, f->src_text);
  mcp_buf_puts(b, " -> ");
  mcp_buf_puts(b, f->dst_text);
  mcp_buf_putc(b, ' ');
  mcp_buf_puts(b, mcp_dir_name(d->dir));
  mcp_buf_putc(b, ' ');
  mcp_buf_puts(b, d->body);
  if (!d->env) {
    mcp_buf_printf(b, " (%zu bytes: %s)", f->len, why);
    if (st == MCP_TREE) mcp_buf_printf(b, "\n");
    return;
  }
  if (st == MCP_SHORT) {
    mcp_buf_putc(b, ' ');
    format_header(b, d->env);
    const ProtobufCMessage *body = body_of(d->env);
    if (body) {
      size_t before = b->len;
      mcp_buf_putc(b, ' ');
      format_message(b, body, st, 0);
      if (b->len == before + 1) b->s[--b->len] = '\0';
    }
    if (d->kind == MCP_INVALID) mcp_buf_printf(b, " INVALID: %s", why);
    return;
  }
  mcp_buf_printf(b, "\n  user: %s\n  length: %zu\n  prefix: \"MYC\" version %u\n",
                 d->user ? d->user : "-", f->len, (unsigned)f->payload[3]);
  if (d->kind == MCP_INVALID) mcp_buf_printf(b, "  INVALID: %s\n", why);
  mcp_buf_printf(b, "  envelope:\n");
  format_message(b, &d->env->base, st, 2);
}

/* ---- filters ---- */

int mcp_filter_set(mcp_filter *flt, const char *prog, const char *opt,
                   const char *val) {
  if (strcmp(opt, "user") == 0) {
    flt->user = val;
  } else if (strcmp(opt, "session") == 0) {
    if (val[0] == '0' && (val[1] == 'x' || val[1] == 'X')) val += 2;
    size_t n = strlen(val);
    if (n == 0 || n > 16 || strspn(val, "0123456789abcdefABCDEF") != n) {
      fprintf(stderr, "%s: --session wants 1 to 16 hex digits, not '%s'\n", prog, val);
      return -1;
    }
    flt->session = val;
  } else if (strcmp(opt, "type") == 0) {
    flt->type = val;
  } else if (strcmp(opt, "endpoint") == 0) {
    if (mc_pcap_endpoint_parse(&flt->endpoint, val) < 0) {
      fprintf(stderr, "%s: --endpoint wants HOST:PORT or [HOST]:PORT, not '%s'\n",
              prog, val);
      return -1;
    }
    flt->have_endpoint = 1;
  } else {
    char *end;
    double t = strtod(val, &end);
    if (end == val || *end || t < 0) {
      fprintf(stderr, "%s: --%s wants seconds, not '%s'\n", prog, opt, val);
      return -1;
    }
    if (strcmp(opt, "from") == 0) flt->have_from = 1, flt->from = t;
    else flt->have_to = 1, flt->to = t;
  }
  return 0;
}

static int session_match(const char *want, uint64_t sid) {
  char hex[17];
  snprintf(hex, sizeof hex, "%016" PRIx64, sid);
  return sid && strncasecmp(hex, want, strlen(want)) == 0;
}

/* Times above 1e9 s are epoch seconds, below relative to the first frame. */
static double frame_time(const mcp_ctx *c, const mcp_dgram *d, double limit) {
  if (limit > 1e9) return (double)d->f->ts_us / 1e6;
  return ((double)d->f->ts_us - (double)c->first_ts) / 1e6;
}

int mcp_filter_match(const mcp_filter *flt, const mcp_ctx *c,
                     const mcp_dgram *d) {
  if (flt->have_from && frame_time(c, d, flt->from) < flt->from) return 0;
  if (flt->have_to && frame_time(c, d, flt->to) > flt->to) return 0;
  if (flt->type && strcmp(flt->type, d->body) != 0) return 0;
  if (flt->user && (!d->user || strcmp(flt->user, d->user) != 0)) return 0;
  if (flt->have_endpoint && !mc_pcap_endpoint_equal(&flt->endpoint, &d->f->src) &&
      !mc_pcap_endpoint_equal(&flt->endpoint, &d->f->dst))
    return 0;
  if (flt->session) {
    const Mychat__Envelope *env = d->env;
    if (!env) return 0;
    int hit = session_match(flt->session, env->session_id) ||
              (env->body_case == MYCHAT__ENVELOPE__BODY_WELCOME && env->welcome &&
               session_match(flt->session, env->welcome->session_id));
    if (!hit) return 0;
  }
  return 1;
}
