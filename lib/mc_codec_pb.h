/*
 * mc_codec_pb.h: the envelope-level codec, in protobuf-c's generated types
 * (mychat.pb-c.h, under build/gen): decode, validate and encode whole
 * envelopes. For the core and for the in-tree programs that build or read
 * envelopes field by field (conformance, tools, fuzzers, tests); it is not
 * installed: a program outside the tree uses mc_client, mc_server and
 * mc_codec.h, which need no generated header.
 */
#ifndef MC_CODEC_PB_H
#define MC_CODEC_PB_H

#include "mc_codec.h"
#include "mc_mem.h"
#include "mychat.pb-c.h"

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
