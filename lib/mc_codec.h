/*
 * mc_codec.h: MyChat datagrams <-> protobuf-c envelopes, with validation.
 *
 * A datagram is MC_PREFIX_LEN bytes ("MYC" + version) followed by one
 * serialized mychat.Envelope. Decoding checks the prefix and size before
 * protobuf parsing (junk is rejected cheaply), then validates every field the
 * body carries against the limits below (PROTOCOL.md section 4, MC-8 .. MC-30), so code
 * that receives a decoded envelope may trust names, text and lengths.
 *
 * Reliable bodies are kept by the ARQ layer as "body bytes": the serialized
 * form of an Envelope that has only its body set. Protobuf lets serialized
 * fields be concatenated, so a datagram is built as prefix + header fields
 * (session, token, seq, ack) + body bytes; a retransmission re-encodes only
 * the header with a fresh ack.
 */
#ifndef MC_CODEC_H
#define MC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "mychat.pb-c.h"

#define MC_MAGIC0 'M'
#define MC_MAGIC1 'Y'
#define MC_MAGIC2 'C'
#define MC_PROTOCOL_VERSION 1
#define MC_PREFIX_LEN 4

/* Limits (PROTOCOL.md, section "Limits"). */
#define MC_DATAGRAM_MAX 1200     /* whole datagram, prefix included */
#define MC_NAME_MAX 32           /* user and group names, bytes */
#define MC_PASSWORD_MIN 4        /* bytes */
#define MC_PASSWORD_MAX 128      /* bytes */
#define MC_TEXT_MAX 800          /* message text, bytes of UTF-8 */
#define MC_ERROR_TEXT_MAX 120    /* Error.text and Result.text, bytes */
#define MC_TOKEN_LEN 16          /* session token, bytes */
#define MC_ACK_RANGES_MAX 8      /* selective ranges in one Ack */
#define MC_HANDSHAKE_MIN 256     /* Register/Login datagrams are padded to this */
#define MC_LIST_PAGE_MAX 20      /* entries in one ListReply */
#define MC_GROUPS_PER_USER_MAX 32

/* What a body is, for the direction and reliability rules. */
typedef enum {
  MC_BODY_NONE = 0,     /* ack-only envelope */
  MC_BODY_HANDSHAKE,    /* Register, Login: client, seq 0, session 0 */
  MC_BODY_REQUEST,      /* client requests: reliable (seq > 0) */
  MC_BODY_CLIENT_UNREL, /* Ping: client, seq 0 */
  MC_BODY_PUSH,         /* server replies and pushes: reliable */
  MC_BODY_SERVER_UNREL  /* Welcome, Pong, Error: server, seq 0 */
} mc_body_class;

/* Returns the class of body case |c|. */
mc_body_class mc_codec_body_class(Mychat__Envelope__BodyCase c);

/* Returns the proto field name of body case |c| ("send", "deliver", ...),
 * or "none" / "unknown". Static string. */
const char *mc_codec_body_name(Mychat__Envelope__BodyCase c);

/* Returns 1 if |s| (NUL-terminated) is a valid user/group name: 1 to
 * MC_NAME_MAX bytes of [A-Za-z0-9_.-], starting with a letter or digit. */
int mc_codec_name_valid(const char *s);

/* Returns 1 if the |len| bytes at |s| are valid UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF). */
int mc_codec_utf8_valid(const uint8_t *s, size_t len);

/* Checks the prefix of a datagram only. Returns 0, or one of:
 * MC_ERR_TRUNCATED, MC_ERR_TOO_BIG, MC_ERR_BAD_MAGIC, MC_ERR_BAD_VERSION. */
int mc_codec_check_prefix(const uint8_t *dgram, size_t len);

/* Decodes and validates datagram |dgram| of |len| bytes. On success stores a
 * new envelope in |*out|, owned by the caller, to be released with
 * mc_codec_free(). Returns 0, or one of: MC_ERR_TRUNCATED, MC_ERR_TOO_BIG,
 * MC_ERR_BAD_MAGIC, MC_ERR_BAD_VERSION, MC_ERR_DECODE, MC_ERR_NO_BODY (a
 * non-zero seq with no body), MC_ERR_MISSING_FIELD, MC_ERR_BAD_FIELD,
 * MC_ERR_BAD_UTF8, MC_ERR_TEXT_TOO_LONG, MC_ERR_BAD_NAME,
 * MC_ERR_BAD_PASSWORD, MC_ERR_NOMEM. */
int mc_codec_decode(const uint8_t *dgram, size_t len, Mychat__Envelope **out);

/* Validates an already-unpacked envelope (the checks mc_codec_decode makes
 * after parsing). Returns 0 or one of the validation errors above. */
int mc_codec_validate(const Mychat__Envelope *env);

/* Releases an envelope from mc_codec_decode(). NULL is allowed. */
void mc_codec_free(Mychat__Envelope *env);

/* Serializes only the body of |env| (the header fields are ignored) into
 * |buf| of |cap| bytes; stores the length in |*len|. Returns 0, or one of:
 * MC_ERR_NO_BODY, MC_ERR_BUFFER_TOO_SMALL. */
int mc_codec_encode_body(const Mychat__Envelope *env, uint8_t *buf, size_t cap,
                         size_t *len);

/* Builds a datagram: prefix, then the header fields of |hdr| (session_id,
 * token, seq, ack; its body is ignored), then |body| (|body_len| bytes from
 * mc_codec_encode_body(), or none). Returns 0, or MC_ERR_TOO_BIG when the
 * result would exceed MC_DATAGRAM_MAX or |cap|. */
int mc_codec_encode(const Mychat__Envelope *hdr, const uint8_t *body,
                    size_t body_len, uint8_t *out, size_t cap, size_t *out_len);

#endif
