/*
 * mc_codec.c: datagram prefix, protobuf-c (un)packing and the validation of
 * every field a decoded envelope carries (mc_codec.h and mc_codec_pb.h
 * have the contract).
 */
#include "mc_codec_pb.h"

#include <stdlib.h>
#include <string.h>

#include "mc_error.h"

/* Field numbers below this one are Envelope header fields; bodies (the oneof)
 * use this number and up, so an unknown Envelope field from here up is a body
 * this version of the protocol does not know. */
#define MC__FIRST_BODY_FIELD 10

/* mc_codec.h restates the schema's numbers so that it needs no generated
 * header; these keep the two from drifting apart. */
#define MC__X(name, num)                                                      \
  _Static_assert((int)MC_KIND_##name == (int)MYCHAT__ENVELOPE__BODY_##name &&  \
                     num == MC_KIND_##name,                                   \
                 "mc_body_kind " #name " differs from mychat.proto");
MC_BODY_KIND_MAP(MC__X)
#undef MC__X
#define MC__X(name, num)                                                      \
  _Static_assert((int)MC_WIRE_##name == (int)MYCHAT__ERROR_CODE__##name,      \
                 "mc_wire_code " #name " differs from mychat.proto");
MC_WIRE_CODE_MAP(MC__X)
#undef MC__X
_Static_assert((int)MC_WIRE_OK == (int)MYCHAT__ERROR_CODE__ERROR_NONE &&
                   (int)MC_LIST_GROUPS == (int)MYCHAT__LIST_KIND__LIST_GROUPS &&
                   (int)MC_LIST_USERS == (int)MYCHAT__LIST_KIND__LIST_USERS &&
                   (int)MC_LIST_MY_GROUPS == (int)MYCHAT__LIST_KIND__LIST_MY_GROUPS &&
                   (int)MC_KIND_NONE == (int)MYCHAT__ENVELOPE__BODY__NOT_SET,
               "mc_codec.h enums differ from mychat.proto");

const char *mc_codec_code_name(int code) {
  switch (code) {
  case MC_WIRE_OK:
    return "OK";
#define MC__X(name, num)                                                      \
  case MC_WIRE_##name:                                                        \
    return #name;
    MC_WIRE_CODE_MAP(MC__X)
#undef MC__X
  default:
    return "UNKNOWN";
  }
}

mc_body_class mc_codec_body_class(int c) {
  switch (c) {
  case MYCHAT__ENVELOPE__BODY_REGISTER:
  case MYCHAT__ENVELOPE__BODY_LOGIN:
    return MC_BODY_HANDSHAKE;
  case MYCHAT__ENVELOPE__BODY_LOGOUT:
  case MYCHAT__ENVELOPE__BODY_LIST:
  case MYCHAT__ENVELOPE__BODY_CREATE_GROUP:
  case MYCHAT__ENVELOPE__BODY_JOIN_GROUP:
  case MYCHAT__ENVELOPE__BODY_LEAVE_GROUP:
  case MYCHAT__ENVELOPE__BODY_SEND:
    return MC_BODY_REQUEST;
  case MYCHAT__ENVELOPE__BODY_PING:
    return MC_BODY_CLIENT_UNREL;
  case MYCHAT__ENVELOPE__BODY_RESULT:
  case MYCHAT__ENVELOPE__BODY_LIST_REPLY:
  case MYCHAT__ENVELOPE__BODY_SENT:
  case MYCHAT__ENVELOPE__BODY_DELIVER:
  case MYCHAT__ENVELOPE__BODY_RECEIPT:
  case MYCHAT__ENVELOPE__BODY_PRESENCE:
  case MYCHAT__ENVELOPE__BODY_BACKLOG_DONE:
    return MC_BODY_PUSH;
  case MYCHAT__ENVELOPE__BODY_WELCOME:
  case MYCHAT__ENVELOPE__BODY_PONG:
  case MYCHAT__ENVELOPE__BODY_ERROR:
    return MC_BODY_SERVER_UNREL;
  case MYCHAT__ENVELOPE__BODY__NOT_SET:
  default:
    return MC_BODY_NONE;
  }
}

const char *mc_codec_body_name(int c) {
  if (c == MYCHAT__ENVELOPE__BODY__NOT_SET)
    return "none";
  /* The generated descriptor already holds the proto field names; only the
   * oneof members are bodies (the header fields are not). */
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
      &mychat__envelope__descriptor, (unsigned)c);
  if (f == NULL || !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
    return "unknown";
  return f->name;
}

static int is_name_char(char ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
         (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
}

int mc_codec_name_valid(const char *s) {
  if (s == NULL)
    return 0;
  size_t n = strnlen(s, MC_NAME_MAX + 1);
  if (n == 0 || n > MC_NAME_MAX)
    return 0;
  /* The first character may not be punctuation, so names cannot look like
   * paths ("..") or options ("-x"). */
  if (!is_name_char(s[0]) || s[0] == '_' || s[0] == '.' || s[0] == '-')
    return 0;
  for (size_t i = 1; i < n; i++)
    if (!is_name_char(s[i]))
      return 0;
  return 1;
}

/* Well-formed UTF-8 sequences of two to four bytes, by lead byte: the number
 * of continuation bytes and the allowed range of the first of them (the
 * others are always 80..BF). The narrowed ranges are what exclude overlongs
 * (C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points
 * above U+10FFFF (F4 90.., F5..FF). Unicode 15, section 3.9, table 3-7. */
static const struct {
  uint8_t lead_min, lead_max, need, lo, hi;
} utf8_seqs[] = {
    {0xC2, 0xDF, 1, 0x80, 0xBF}, {0xE0, 0xE0, 2, 0xA0, 0xBF},
    {0xE1, 0xEC, 2, 0x80, 0xBF}, {0xED, 0xED, 2, 0x80, 0x9F},
    {0xEE, 0xEF, 2, 0x80, 0xBF}, {0xF0, 0xF0, 3, 0x90, 0xBF},
    {0xF1, 0xF3, 3, 0x80, 0xBF}, {0xF4, 0xF4, 3, 0x80, 0x8F},
};

int mc_codec_utf8_valid(const uint8_t *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t row = 0, rows = sizeof utf8_seqs / sizeof utf8_seqs[0];
    while (row < rows &&
           (c < utf8_seqs[row].lead_min || c > utf8_seqs[row].lead_max))
      row++;
    if (row == rows)
      return 0;
    size_t need = utf8_seqs[row].need;
    if (len - i - 1 < need)
      return 0;
    if (s[i + 1] < utf8_seqs[row].lo || s[i + 1] > utf8_seqs[row].hi)
      return 0;
    for (size_t k = 2; k <= need; k++)
      if (s[i + k] < 0x80 || s[i + k] > 0xBF)
        return 0;
    i += need + 1;
  }
  return 1;
}

/* The prefix's magic and version, not the size limit. */
static int check_magic(const uint8_t *dgram, size_t len) {
  if (dgram == NULL || len < MC_PREFIX_LEN)
    return MC_ERR_TRUNCATED;
  if (dgram[0] != MC_MAGIC0 || dgram[1] != MC_MAGIC1 || dgram[2] != MC_MAGIC2)
    return MC_ERR_BAD_MAGIC;
  if (dgram[3] != MC_PROTOCOL_VERSION)
    return MC_ERR_BAD_VERSION;
  return 0;
}

void mc_codec_write_prefix(uint8_t *out) {
  out[0] = MC_MAGIC0;
  out[1] = MC_MAGIC1;
  out[2] = MC_MAGIC2;
  out[3] = MC_PROTOCOL_VERSION;
}

int mc_codec_check_prefix(const uint8_t *dgram, size_t len) {
  if (dgram != NULL && len > MC_DATAGRAM_MAX)
    return MC_ERR_TOO_BIG;
  return check_magic(dgram, len);
}

/* A name field: |required| names may not be empty. proto3 cannot tell an
 * empty string from an absent one, and an empty name is one that breaks
 * the name rules (MC-13), not a missing field. */
static int check_name(const char *s, int required) {
  if (s == NULL || s[0] == '\0')
    return required ? MC_ERR_BAD_NAME : 0;
  return mc_codec_name_valid(s) ? 0 : MC_ERR_BAD_NAME;
}

/* Chat message text: 1 to MC_TEXT_MAX bytes of valid UTF-8. A decoded
 * envelope never fails the UTF-8 check here (check_wire() refused it as
 * malformed, MC-21); one built by hand, as a client does, may. */
static int check_text(const char *s) {
  size_t n = s ? strnlen(s, MC_TEXT_MAX + 1) : 0;
  if (n == 0)
    return MC_ERR_MISSING_FIELD;
  if (n > MC_TEXT_MAX)
    return MC_ERR_TEXT_TOO_LONG;
  return mc_codec_utf8_valid((const uint8_t *)s, n) ? 0 : MC_ERR_BAD_UTF8;
}

/* Error.text and Result.text: optional, short. A sender cuts them to fit
 * (anti-amplification) at a UTF-8 boundary; their UTF-8 is checked with
 * every string's in check_wire(), so only the length is enforced here. */
static int check_short_text(const char *s) {
  if (s != NULL && strnlen(s, MC_ERROR_TEXT_MAX + 1) > MC_ERROR_TEXT_MAX)
    return MC_ERR_TEXT_TOO_LONG;
  return 0;
}

static int check_password(const char *s) {
  size_t n = s ? strnlen(s, MC_PASSWORD_MAX + 1) : 0;
  return (n < MC_PASSWORD_MIN || n > MC_PASSWORD_MAX) ? MC_ERR_BAD_PASSWORD : 0;
}

/* proto3 enums are open: protobuf-c stores any number it reads, so a value
 * outside the schema must be rejected here. */
static int check_enum(const ProtobufCEnumDescriptor *d, int value) {
  return protobuf_c_enum_descriptor_get_value(d, value) ? 0 : MC_ERR_BAD_FIELD;
}

static int check_ack(const Mychat__Ack *ack) {
  if (ack->n_ranges > MC_ACK_RANGES_MAX)
    return MC_ERR_BAD_FIELD;
  /* Ranges lie above the cumulative ack and above each other, so a receiver
   * can walk them once without sorting or merging. */
  uint32_t floor = ack->cumulative;
  for (size_t i = 0; i < ack->n_ranges; i++) {
    const Mychat__AckRange *r = ack->ranges[i];
    if (r == NULL)
      return MC_ERR_MISSING_FIELD;
    if (r->first <= floor || r->first > r->last)
      return MC_ERR_BAD_FIELD;
    floor = r->last;
  }
  return 0;
}

/* A zero nonce is refused first, as a missing field (MC-18): the client could
 * not tell the answer to one handshake from the answer to another. */
static int check_handshake(const Mychat__Handshake *hs) {
  if (hs->client_nonce == 0)
    return MC_ERR_MISSING_FIELD;
  int rc = check_name(hs->name, 1);
  return rc ? rc : check_password(hs->password);
}

static int check_send(const Mychat__SendMessage *m) {
  if (m->client_msg_id == 0)
    return MC_ERR_MISSING_FIELD;
  int rc;
  switch (m->to_case) {
  case MYCHAT__SEND_MESSAGE__TO_USER:
    rc = check_name(m->user, 1);
    break;
  case MYCHAT__SEND_MESSAGE__TO_GROUP:
    rc = check_name(m->group, 1);
    break;
  default:
    rc = MC_ERR_MISSING_FIELD;
    break;
  }
  return rc ? rc : check_text(m->text);
}

static int check_welcome(const Mychat__Welcome *w) {
  /* Session 0 means "no session" in every envelope header. */
  if (w->session_id == 0)
    return MC_ERR_MISSING_FIELD;
  if (w->token.len != MC_TOKEN_LEN)
    return MC_ERR_BAD_FIELD;
  return check_name(w->name, 1);
}

static int check_list_reply(const Mychat__ListReply *r) {
  int rc = check_enum(&mychat__list_kind__descriptor, (int)r->kind);
  if (rc)
    return rc;
  if (r->n_entries > MC_LIST_PAGE_MAX)
    return MC_ERR_BAD_FIELD;
  for (size_t i = 0; i < r->n_entries; i++) {
    if (r->entries[i] == NULL)
      return MC_ERR_MISSING_FIELD;
    if ((rc = check_name(r->entries[i]->name, 1)))
      return rc;
  }
  return 0;
}

static int check_deliver(const Mychat__Deliver *d) {
  int rc = check_name(d->from, 1);
  if (!rc)
    rc = check_name(d->group, 0);
  return rc ? rc : check_text(d->text);
}

static int check_result(const Mychat__Result *r) {
  int rc = check_enum(&mychat__error_code__descriptor, (int)r->code);
  return rc ? rc : check_short_text(r->text);
}

static int check_error(const Mychat__Error *e) {
  /* ERROR_NONE is never sent: an Error must say what went wrong. */
  if (e->code == MYCHAT__ERROR_CODE__ERROR_NONE)
    return MC_ERR_MISSING_FIELD;
  int rc = check_enum(&mychat__error_code__descriptor, (int)e->code);
  return rc ? rc : check_short_text(e->text);
}

/* Validates the body's own fields. */
static int check_body(const Mychat__Envelope *env) {
  /* protobuf-c never leaves the pointer of the set case NULL, but envelopes
   * built by hand may. Every member of the body union is a message pointer
   * in the same storage, so reading any member tests the one that is set. */
  if (env->ping == NULL)
    return MC_ERR_MISSING_FIELD;
  switch (env->body_case) {
  case MYCHAT__ENVELOPE__BODY_REGISTER:
    return check_handshake(env->register_);
  case MYCHAT__ENVELOPE__BODY_LOGIN:
    return check_handshake(env->login);
  case MYCHAT__ENVELOPE__BODY_LIST: {
    int rc = check_enum(&mychat__list_kind__descriptor, (int)env->list->kind);
    return rc ? rc : check_name(env->list->after, 0);
  }
  case MYCHAT__ENVELOPE__BODY_CREATE_GROUP:
    return check_name(env->create_group->name, 1);
  case MYCHAT__ENVELOPE__BODY_JOIN_GROUP:
    return check_name(env->join_group->name, 1);
  case MYCHAT__ENVELOPE__BODY_LEAVE_GROUP:
    return check_name(env->leave_group->name, 1);
  case MYCHAT__ENVELOPE__BODY_SEND:
    return check_send(env->send);
  case MYCHAT__ENVELOPE__BODY_WELCOME:
    return check_welcome(env->welcome);
  case MYCHAT__ENVELOPE__BODY_RESULT:
    return check_result(env->result);
  case MYCHAT__ENVELOPE__BODY_LIST_REPLY:
    return check_list_reply(env->list_reply);
  case MYCHAT__ENVELOPE__BODY_DELIVER:
    return check_deliver(env->deliver);
  case MYCHAT__ENVELOPE__BODY_RECEIPT:
    return check_name(env->receipt->to, 1);
  case MYCHAT__ENVELOPE__BODY_PRESENCE:
    return check_name(env->presence->name, 1);
  case MYCHAT__ENVELOPE__BODY_ERROR:
    return check_error(env->error);
  default:
    /* Logout, Ping, Sent, BacklogDone and Pong carry nothing that can be
     * out of range. */
    return 0;
  }
}

/* Returns 1 if the envelope carries a field number from the body range that
 * this version does not know. */
static int has_unknown_body(const Mychat__Envelope *env) {
  for (unsigned i = 0; i < env->base.n_unknown_fields; i++)
    if (env->base.unknown_fields[i].tag >= MC__FIRST_BODY_FIELD)
      return 1;
  return 0;
}

/* The checks of PROTOCOL.md section 4.1 that need the unpacked envelope. */
static int check_header(const Mychat__Envelope *env) {
  if (env->token.len != 0 && env->token.len != MC_TOKEN_LEN)
    return MC_ERR_BAD_FIELD;
  int rc;
  if (env->ack && (rc = check_ack(env->ack)))
    return rc;
  /* An unknown body is malformed rather than ignored: if it was reliable the
   * receiver could neither deliver nor acknowledge it. Unknown fields inside
   * known messages are ignored, so messages may grow. */
  if (has_unknown_body(env))
    return MC_ERR_NO_BODY;
  if (env->body_case == MYCHAT__ENVELOPE__BODY__NOT_SET && env->seq > 0)
    return MC_ERR_NO_BODY;
  return 0;
}

int mc_codec_check_class(const Mychat__Envelope *env) {
  mc_body_class cls = mc_codec_body_class(env->body_case);
  if (cls == MC_BODY_NONE)
    return 0;
  int reliable = cls == MC_BODY_REQUEST || cls == MC_BODY_PUSH;
  return reliable == (env->seq > 0) ? 0 : MC_ERR_BAD_FIELD;
}

int mc_codec_validate_body(const Mychat__Envelope *env) {
  if (env == NULL)
    return MC_ERR_INVAL;
  if (env->body_case == MYCHAT__ENVELOPE__BODY__NOT_SET)
    return 0;
  return check_body(env);
}

int mc_codec_validate(const Mychat__Envelope *env) {
  if (env == NULL)
    return MC_ERR_INVAL;
  int rc = check_header(env);
  if (!rc)
    rc = mc_codec_check_class(env);
  return rc ? rc : mc_codec_validate_body(env);
}

/* Reads a base-128 varint at |*p| (before |end|) into |*v| and advances |*p|.
 * Returns 0, or -1 if the bytes run out or the varint is over 10 bytes. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t x = 0;
  for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    x |= (uint64_t)(b & 0x7F) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

/* Field numbers are 1 to 2^29 - 1 in protobuf. */
#define MC__FIELD_NUMBER_MAX 536870911u

/* One field of a message in wire form. */
typedef struct {
  uint32_t number;
  int type;            /* PROTOBUF_C_WIRE_TYPE_* */
  uint64_t value;      /* a varint or fixed value; the length of bytes */
  const uint8_t *data; /* the bytes of a length-prefixed field */
} pb_field;

/* Reads the field at |*p| (before |end|) into |*f| and advances |*p|.
 * Returns 1, 0 at the end, or MC_ERR_DECODE (bad tag, field number out of
 * range, unknown wire type, or the bytes run out). */
static int wire_next(const uint8_t **p, const uint8_t *end, pb_field *f) {
  uint64_t tag;
  if (*p == end)
    return 0;
  if (read_varint(p, end, &tag) || tag >> 3 == 0 ||
      tag >> 3 > MC__FIELD_NUMBER_MAX)
    return MC_ERR_DECODE;
  f->number = (uint32_t)(tag >> 3);
  f->type = (int)(tag & 7);
  f->data = NULL;
  size_t fixed = 0;
  switch (f->type) {
  case PROTOBUF_C_WIRE_TYPE_VARINT:
    return read_varint(p, end, &f->value) ? MC_ERR_DECODE : 1;
  case PROTOBUF_C_WIRE_TYPE_64BIT:
    fixed = 8;
    break;
  case PROTOBUF_C_WIRE_TYPE_32BIT:
    fixed = 4;
    break;
  case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
    if (read_varint(p, end, &f->value) || f->value > (uint64_t)(end - *p))
      return MC_ERR_DECODE;
    f->data = *p;
    *p += f->value;
    return 1;
  default:
    return MC_ERR_DECODE;
  }
  if ((size_t)(end - *p) < fixed)
    return MC_ERR_DECODE;
  f->value = 0;
  for (size_t i = fixed; i > 0; i--) /* little endian */
    f->value = f->value << 8 | (*p)[i - 1];
  *p += fixed;
  return 1;
}

/*
 * Checks the wire form of message type |d| for what protobuf-c accepts but
 * should not, recursing into known submessages (the schema has no recursive
 * messages, so the depth is bounded):
 * - A string field with a NUL byte inside. protobuf-c hands strings out
 *   NUL-terminated, so the application would see it cut short: "alice\0x"
 *   would look like "alice", a text would silently lose its tail.
 * - A string field that is not valid UTF-8. proto3 requires UTF-8 in
 *   strings and most proto3 libraries refuse such a message while parsing;
 *   protobuf-c does not check, so this does (MC-21).
 * - A field number out of range. protobuf-c keeps field 0 as an unknown
 *   field when its tag is written in two bytes (80 00) and then packs it in
 *   one byte (00), which it refuses to parse: such an envelope would not
 *   survive being re-encoded (found by fuzz/fuzz_decode.c).
 * A known field with another wire type needs no check here: protobuf-c
 * refuses it while unpacking (MC-8).
 * Returns 0, MC_ERR_BAD_FIELD (a NUL), MC_ERR_BAD_UTF8, or MC_ERR_DECODE.
 */
static int check_wire(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                      const uint8_t *end) {
  pb_field f;
  int rc;
  while ((rc = wire_next(&p, end, &f)) == 1) {
    if (f.type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
      continue;
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field(d, f.number);
    if (fd && fd->type == PROTOBUF_C_TYPE_STRING && memchr(f.data, 0, f.value))
      return MC_ERR_BAD_FIELD;
    if (fd && fd->type == PROTOBUF_C_TYPE_STRING &&
        !mc_codec_utf8_valid(f.data, (size_t)f.value))
      return MC_ERR_BAD_UTF8;
    if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE &&
        (rc = check_wire(fd->descriptor, f.data, f.data + f.value)) != 0)
      return rc;
  }
  return rc;
}

/* protobuf-c's allocator over an mc_mem. protobuf-c reports every unpack
 * failure the same way; |oom| remembers whether one was an allocation
 * failure, so decode can tell MC_ERR_NOMEM from MC_ERR_DECODE. */
typedef struct {
  const mc_mem *mem;
  int oom;
} pb_mem;

static void *pb_alloc(void *data, size_t size) {
  pb_mem *m = data;
  void *p = mc__malloc(m->mem, size);
  if (p == NULL)
    m->oom = 1;
  return p;
}

static void pb_free(void *data, void *p) { mc__free(((pb_mem *)data)->mem, p); }

/* The client_nonce of a Handshake, Welcome or Error body (field 3, fixed64,
 * in all three), and a Welcome's session_id (field 1). */
static int peek_body(const uint8_t *p, const uint8_t *end, mc_peek *pk) {
  pb_field f;
  int rc;
  while ((rc = wire_next(&p, end, &f)) == 1) {
    if (f.type != PROTOBUF_C_WIRE_TYPE_64BIT)
      continue;
    if (f.number == 3)
      pk->client_nonce = f.value;
    else if (f.number == 1 && pk->body == MC_KIND_WELCOME)
      pk->welcome_session_id = f.value;
  }
  return rc;
}

int mc_codec_peek(const uint8_t *dgram, size_t len, mc_peek *pk) {
  memset(pk, 0, sizeof *pk);
  int rc = mc_codec_check_prefix(dgram, len);
  if (rc)
    return rc;
  const uint8_t *p = dgram + MC_PREFIX_LEN, *end = dgram + len;
  pb_field f;
  while ((rc = wire_next(&p, end, &f)) == 1) {
    /* Header fields are numbered below 10 (PROTOCOL.md 2.2), bodies from
     * 10 up; the last of each wins, as in protobuf. */
    if (f.number == 1 && f.type == PROTOBUF_C_WIRE_TYPE_64BIT) {
      pk->session_id = f.value;
    } else if (f.number == 2 && f.data != NULL) {
      pk->token_off = (size_t)(f.data - dgram);
      pk->token_len = (size_t)f.value;
    } else if (f.number == 3 && f.type == PROTOBUF_C_WIRE_TYPE_VARINT) {
      pk->seq = (uint32_t)f.value;
    } else if (f.number >= 10 && f.data != NULL) {
      pk->body = (mc_body_kind)f.number;
      pk->client_nonce = pk->welcome_session_id = 0;
      if (f.number == MYCHAT__ENVELOPE__BODY_REGISTER ||
          f.number == MYCHAT__ENVELOPE__BODY_LOGIN ||
          f.number == MYCHAT__ENVELOPE__BODY_WELCOME ||
          f.number == MYCHAT__ENVELOPE__BODY_ERROR)
        rc = peek_body(f.data, f.data + f.value, pk);
      if (rc < 0)
        break;
    }
  }
  if (rc < 0)
    memset(pk, 0, sizeof *pk);
  return rc;
}

static int parse(const mc_mem *mem, const uint8_t *dgram, size_t len,
                 Mychat__Envelope **out) {
  if (out == NULL)
    return MC_ERR_INVAL;
  *out = NULL;
  int rc = check_magic(dgram, len);
  if (rc)
    return rc;
  pb_mem m = {mem, 0};
  ProtobufCAllocator alloc = {pb_alloc, pb_free, &m};
  *out = mychat__envelope__unpack(&alloc, len - MC_PREFIX_LEN,
                                  dgram + MC_PREFIX_LEN);
  if (*out == NULL)
    return m.oom ? MC_ERR_NOMEM : MC_ERR_DECODE;
  return 0;
}

int mc_codec_parse(const uint8_t *dgram, size_t len, Mychat__Envelope **out) {
  return parse(NULL, dgram, len, out);
}

int mc__codec_unpack(const mc_mem *mem, const uint8_t *dgram, size_t len,
                     Mychat__Envelope **out) {
  if (out == NULL)
    return MC_ERR_INVAL;
  *out = NULL;
  int rc = mc_codec_check_prefix(dgram, len);
  if (rc == 0)
    rc = parse(mem, dgram, len, out);
  if (rc)
    return rc;
  rc = check_wire(&mychat__envelope__descriptor, dgram + MC_PREFIX_LEN,
                  dgram + len);
  if (!rc)
    rc = check_header(*out);
  if (rc) {
    mc__codec_free(mem, *out);
    *out = NULL;
  }
  return rc;
}

int mc_codec_unpack(const uint8_t *dgram, size_t len, Mychat__Envelope **out) {
  return mc__codec_unpack(NULL, dgram, len, out);
}

int mc__codec_decode(const mc_mem *mem, const uint8_t *dgram, size_t len,
                     Mychat__Envelope **out) {
  int rc = mc__codec_unpack(mem, dgram, len, out);
  if (rc)
    return rc;
  rc = mc_codec_check_class(*out);
  if (!rc)
    rc = mc_codec_validate_body(*out);
  if (rc) {
    mc__codec_free(mem, *out);
    *out = NULL;
  }
  return rc;
}

int mc_codec_decode(const uint8_t *dgram, size_t len, Mychat__Envelope **out) {
  return mc__codec_decode(NULL, dgram, len, out);
}

void mc__codec_free(const mc_mem *mem, Mychat__Envelope *env) {
  pb_mem m = {mem, 0};
  ProtobufCAllocator alloc = {pb_alloc, pb_free, &m};
  if (env)
    mychat__envelope__free_unpacked(env, &alloc);
}

void mc_codec_free(Mychat__Envelope *env) { mc__codec_free(NULL, env); }

int mc_codec_encode_body(const Mychat__Envelope *env, uint8_t *buf, size_t cap,
                         size_t *len) {
  if (env == NULL || mc_codec_body_class(env->body_case) == MC_BODY_NONE ||
      env->ping == NULL)
    return MC_ERR_NO_BODY;
  /* A copy with only the body set. Every member of the body union is a
   * pointer to a message, so copying one member copies whichever is set. */
  Mychat__Envelope body = MYCHAT__ENVELOPE__INIT;
  body.body_case = env->body_case;
  body.ping = env->ping;
  size_t n = mychat__envelope__get_packed_size(&body);
  if (n > cap)
    return MC_ERR_BUFFER_TOO_SMALL;
  *len = mychat__envelope__pack(&body, buf);
  return 0;
}

int mc_codec_encode(const Mychat__Envelope *hdr, const uint8_t *body,
                    size_t body_len, uint8_t *out, size_t cap,
                    size_t *out_len) {
  if (hdr == NULL || (body == NULL && body_len > 0))
    return MC_ERR_INVAL;
  Mychat__Envelope h = MYCHAT__ENVELOPE__INIT;
  h.session_id = hdr->session_id;
  h.token = hdr->token;
  h.seq = hdr->seq;
  h.ack = hdr->ack;
  size_t hlen = mychat__envelope__get_packed_size(&h);
  size_t total = MC_PREFIX_LEN + hlen + body_len;
  if (body_len > MC_DATAGRAM_MAX || total > MC_DATAGRAM_MAX || total > cap)
    return MC_ERR_TOO_BIG;
  mc_codec_write_prefix(out);
  mychat__envelope__pack(&h, out + MC_PREFIX_LEN);
  if (body_len > 0)
    memcpy(out + MC_PREFIX_LEN + hlen, body, body_len);
  *out_len = total;
  return 0;
}

/* The length of |env|'s datagram, or an encoding error. */
static int encoded_len(const Mychat__Envelope *env, size_t *len) {
  uint8_t body[MC_DATAGRAM_MAX], dgram[MC_DATAGRAM_MAX];
  size_t blen;
  int rc = mc_codec_encode_body(env, body, sizeof body, &blen);
  if (rc == 0)
    rc = mc_codec_encode(env, body, blen, dgram, sizeof dgram, len);
  return rc;
}

int mc_codec_pad_handshake(Mychat__Envelope *env) {
  static const uint8_t zeros[MC_HANDSHAKE_MIN];
  Mychat__Handshake *hs =
      env == NULL                                            ? NULL
      : env->body_case == MYCHAT__ENVELOPE__BODY_REGISTER ? env->register_
      : env->body_case == MYCHAT__ENVELOPE__BODY_LOGIN    ? env->login
                                                             : NULL;
  if (hs == NULL)
    return MC_ERR_INVAL;
  hs->padding.data = (uint8_t *)zeros; /* protobuf-c's type; never written */
  hs->padding.len = 0;
  size_t len;
  int rc = encoded_len(env, &len);
  if (rc || len >= MC_HANDSHAKE_MIN)
    return rc;
  /* n bytes of padding add at most n + 4 (the field's tag, a two-byte
   * length, a byte more for the handshake's own length), so the fewest
   * that reach the minimum are no fewer than this; the length grows with
   * n, so counting up from here finds them. */
  size_t n = MC_HANDSHAKE_MIN - len > 4 ? MC_HANDSHAKE_MIN - len - 4 : 1;
  for (; n <= sizeof zeros; n++) {
    hs->padding.len = n;
    rc = encoded_len(env, &len);
    if (rc || len >= MC_HANDSHAKE_MIN)
      return rc;
  }
  return MC_ERR_TOO_BIG; /* unreachable: MC_HANDSHAKE_MIN zeros suffice */
}

int mc_codec_encode_ping(uint64_t time_us, uint8_t *out, size_t cap,
                         size_t *len) {
  Mychat__Ping ping = MYCHAT__PING__INIT;
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  ping.time_us = time_us;
  env.body_case = MYCHAT__ENVELOPE__BODY_PING;
  env.ping = &ping;
  uint8_t body[16]; /* tag and a varint of at most 10 bytes */
  size_t blen;
  int rc = mc_codec_encode_body(&env, body, sizeof body, &blen);
  return rc ? rc : mc_codec_encode(&env, body, blen, out, cap, len);
}
