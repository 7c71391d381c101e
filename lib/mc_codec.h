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

#include "mc_mem.h"
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

/* Defaults (PROTOCOL.md section 3): the server's keepalive and timeout,
 * which a Welcome carries (a client falls back on them if it carries 0),
 * and the client's handshake retransmission and give-up (MC-33). */
#define MC_KEEPALIVE_MS_DEFAULT 5000
#define MC_SESSION_TIMEOUT_MS_DEFAULT 30000
#define MC_HANDSHAKE_RTO_MS_DEFAULT 500
#define MC_HANDSHAKE_RTO_MS_MAX 2000
#define MC_CONNECT_TIMEOUT_MS_DEFAULT 15000

/* What a body is, for the direction and reliability rules. */
typedef enum {
  MC_BODY_NONE = 0,     /* ack-only envelope */
  MC_BODY_HANDSHAKE,    /* Register, Login: client, seq 0, session 0 */
  MC_BODY_REQUEST,      /* client requests: reliable (seq > 0) */
  MC_BODY_CLIENT_UNREL, /* Ping: client, seq 0 */
  MC_BODY_PUSH,         /* server replies and pushes: reliable */
  MC_BODY_SERVER_UNREL  /* Welcome, Pong, Error: server, seq 0 */
} mc_body_class;

/* Returns the class of body case |c|; MC_BODY_NONE for NOT_SET and for any
 * value that is not a body case. */
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

/* Writes the MC_PREFIX_LEN bytes every datagram starts with ("MYC" and the
 * version) to |out|. */
void mc_codec_write_prefix(uint8_t *out);

/* Checks the prefix of a datagram only. Returns 0, or one of:
 * MC_ERR_TRUNCATED, MC_ERR_TOO_BIG, MC_ERR_BAD_MAGIC, MC_ERR_BAD_VERSION. */
int mc_codec_check_prefix(const uint8_t *dgram, size_t len);

/* Decodes and validates datagram |dgram| of |len| bytes. On success stores a
 * new envelope in |*out|, owned by the caller, to be released with
 * mc_codec_free(); on failure stores NULL. Besides mc_codec_validate()'s
 * checks it rejects a string field with a NUL byte inside (MC_ERR_BAD_FIELD):
 * protobuf-c hands strings out NUL-terminated, so the receiver would see
 * them cut short; a string field that is not valid UTF-8 (MC_ERR_BAD_UTF8,
 * malformed: MC-21); and field number 0 (MC_ERR_DECODE), which protobuf-c
 * accepts in some spellings but could not read back once re-encoded.
 * Unknown fields inside known messages are ignored, so messages may grow new
 * fields. Returns 0, or one of: MC_ERR_INVAL (|out| is NULL),
 * MC_ERR_TRUNCATED, MC_ERR_TOO_BIG, MC_ERR_BAD_MAGIC, MC_ERR_BAD_VERSION,
 * MC_ERR_DECODE (not protobuf), MC_ERR_NOMEM, or a validation error of
 * mc_codec_validate(). */
int mc_codec_decode(const uint8_t *dgram, size_t len, Mychat__Envelope **out);

/* The first half of mc_codec_decode(): the checks of PROTOCOL.md section
 * 4.1 only (prefix, protobuf, NUL bytes in strings, field numbers, token
 * length, Ack ranges, unknown body, seq > 0 without a body), leaving the
 * body class and body fields to mc_codec_check_class() and
 * mc_codec_validate_body(). A server uses it so that a request with a bad
 * field can still be acknowledged and answered in its session (MC-27).
 * Returns 0 (|*out| owned by the caller), or the errors of
 * mc_codec_decode() other than the class and body-field ones. */
int mc_codec_unpack(const uint8_t *dgram, size_t len, Mychat__Envelope **out);

/* The prefix's magic and version and the protobuf parse, none of the
 * other checks (not even the size limit): for a program that must read
 * whatever a peer sent, however wrong (the conformance replayer comparing a
 * capture). Returns 0 (|*out| owned by the caller, released with
 * mc_codec_free()), or MC_ERR_INVAL (|out| NULL), MC_ERR_TRUNCATED,
 * MC_ERR_BAD_MAGIC, MC_ERR_BAD_VERSION, MC_ERR_DECODE, MC_ERR_NOMEM. */
int mc_codec_parse(const uint8_t *dgram, size_t len, Mychat__Envelope **out);

/* What mc_codec_peek() reads from a datagram without decoding it. */
typedef struct {
  uint64_t session_id;          /* header; 0 when absent */
  size_t token_off, token_len;  /* the header token's bytes: dgram +
                                   token_off, token_len of them (0: none) */
  uint32_t seq;
  Mychat__Envelope__BodyCase body; /* the body's field number (an unknown
                                      one too); NOT_SET when none */
  uint64_t client_nonce;        /* of a Register, Login, Welcome or Error */
  uint64_t welcome_session_id;  /* of a Welcome */
} mc_peek;

/* Reads the header fields, the body kind and the handshake nonce of
 * datagram |dgram| by walking its wire form, without allocating: for
 * routing a datagram to its session or client (a load generator, the
 * simulator over UDP) before whoever owns it decodes it. It validates
 * nothing beyond the wire form: the receiver must still decode the datagram
 * (mc_codec_decode), and on a well-formed datagram the two agree. Returns 0,
 * or a prefix error of mc_codec_check_prefix(), or MC_ERR_DECODE (|*pk| is
 * then all zero). */
int mc_codec_peek(const uint8_t *dgram, size_t len, mc_peek *pk);

/* Returns 0 when |env|'s seq suits its body's class (reliable bodies have
 * seq > 0, others seq 0), else MC_ERR_BAD_FIELD. */
int mc_codec_check_class(const Mychat__Envelope *env);

/* Validates the fields of |env|'s body (PROTOCOL.md section 4.2), the last
 * part of mc_codec_validate(). Returns 0, MC_ERR_INVAL for NULL, or the
 * body errors listed for mc_codec_validate(). */
int mc_codec_validate_body(const Mychat__Envelope *env);

/* Validates an already-unpacked envelope (the checks mc_codec_decode makes
 * after parsing): token length, Ack ranges, seq against the body's class,
 * and every field of the body (PROTOCOL.md, "Validation on decode").
 * Returns 0, or one of:
 *   MC_ERR_INVAL          |env| is NULL;
 *   MC_ERR_NO_BODY        a non-zero seq with no body, or an unknown body (an
 *                         unknown Envelope field numbered 10 or more: header
 *                         fields are numbered below 10, bodies from 10 up);
 *   MC_ERR_BAD_FIELD      token not 0 or MC_TOKEN_LEN bytes; more than
 *                         MC_ACK_RANGES_MAX ranges, or ranges not ascending,
 *                         disjoint and above the cumulative ack; seq > 0 with
 *                         a body that is not reliable (MC_BODY_REQUEST,
 *                         MC_BODY_PUSH) or seq 0 with one that is; an enum
 *                         value outside the schema; Welcome token not
 *                         MC_TOKEN_LEN bytes; over MC_LIST_PAGE_MAX entries;
 *   MC_ERR_MISSING_FIELD  an empty text, SendMessage
 *                         without a target or with client_msg_id 0, Welcome
 *                         with session_id 0, Error with code ERROR_NONE, a
 *                         NULL body or list entry or ack range;
 *   MC_ERR_BAD_NAME       a name that breaks mc_codec_name_valid(), an
 *                         empty required one included (MC-13);
 *   MC_ERR_BAD_PASSWORD   a password outside MC_PASSWORD_MIN..MAX bytes;
 *   MC_ERR_TEXT_TOO_LONG  text over MC_TEXT_MAX, Error/Result text over
 *                         MC_ERROR_TEXT_MAX bytes;
 *   MC_ERR_BAD_UTF8       message text that is not valid UTF-8 (only in an
 *                         envelope built by hand: decoding refuses any
 *                         string that is not UTF-8 first).
 * Error and Result texts are only length-checked: senders cut them to fit. */
int mc_codec_validate(const Mychat__Envelope *env);

/* Releases an envelope from mc_codec_decode(). NULL is allowed. */
void mc_codec_free(Mychat__Envelope *env);

/* Internal to the core: mc_codec_unpack(), mc_codec_decode() and
 * mc_codec_free() with the allocator |mem| (NULL: libc). An envelope goes
 * back to the allocator it came from. */
int mc__codec_unpack(const mc_mem *mem, const uint8_t *dgram, size_t len,
                     Mychat__Envelope **out);
int mc__codec_decode(const mc_mem *mem, const uint8_t *dgram, size_t len,
                     Mychat__Envelope **out);
void mc__codec_free(const mc_mem *mem, Mychat__Envelope *env);

/* Serializes only the body of |env| (the header fields are ignored) into
 * |buf| of |cap| bytes; stores the length in |*len|. It does not validate.
 * Returns 0, or one of: MC_ERR_NO_BODY (|env| NULL, no body, or a NULL body
 * pointer), MC_ERR_BUFFER_TOO_SMALL. */
int mc_codec_encode_body(const Mychat__Envelope *env, uint8_t *buf, size_t cap,
                         size_t *len);

/* Sets the padding of Register or Login |env| to the fewest zero bytes that
 * make its datagram (|env|'s header fields and body, as mc_codec_encode()
 * builds it) at least MC_HANDSHAKE_MIN bytes long (MC-47); the padding then
 * points to a static buffer of zeros. Returns 0, or MC_ERR_INVAL (not a
 * Register or Login), or an error of mc_codec_encode_body() or
 * mc_codec_encode(). */
int mc_codec_pad_handshake(Mychat__Envelope *env);

/* Builds a datagram: prefix, then the header fields of |hdr| (session_id,
 * token, seq, ack; its body is ignored), then |body| (|body_len| bytes from
 * mc_codec_encode_body(), or none), into |out| of |cap| bytes; stores the
 * length in |*out_len|. It does not validate. Returns 0, or one of:
 * MC_ERR_INVAL (|hdr| NULL, or |body| NULL with a length), MC_ERR_TOO_BIG
 * when the result would exceed MC_DATAGRAM_MAX or |cap|. */
int mc_codec_encode(const Mychat__Envelope *hdr, const uint8_t *body,
                    size_t body_len, uint8_t *out, size_t cap, size_t *out_len);

#endif
