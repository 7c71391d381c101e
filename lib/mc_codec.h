/*
 * mc_codec.h: what a program needs of MyChat's wire format, in the
 * library's own types: the datagram prefix, the limits and defaults, the
 * body kinds, list kinds and wire error codes of mychat.proto (same values,
 * checked against the generated code in mc_codec.c), and mc_codec_peek(),
 * which reads a datagram's routing fields without a protobuf decoder. It
 * needs no generated header; the envelope-level codec that does is
 * mc_codec_pb.h, the core's and the in-tree tools' (not installed).
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

/* The body kinds: the Envelope body field numbers of mychat.proto. */
#define MC_BODY_KIND_MAP(X)                                                   \
  X(REGISTER, 10) X(LOGIN, 11) X(LOGOUT, 12) X(LIST, 13)                     \
  X(CREATE_GROUP, 14) X(JOIN_GROUP, 15) X(LEAVE_GROUP, 16) X(SEND, 17)       \
  X(PING, 18) X(WELCOME, 30) X(RESULT, 31) X(LIST_REPLY, 32) X(SENT, 33)     \
  X(DELIVER, 34) X(RECEIPT, 35) X(PRESENCE, 36) X(BACKLOG_DONE, 37)         \
  X(PONG, 38) X(ERROR, 39)

typedef enum {
  MC_KIND_NONE = 0, /* no body (an ack-only envelope) */
#define MC__X(name, num) MC_KIND_##name = num,
  MC_BODY_KIND_MAP(MC__X)
#undef MC__X
} mc_body_kind;

/* The wire error codes (mychat.proto ErrorCode); MC_WIRE_OK is its
 * ERROR_NONE, "success" in a Result. */
#define MC_WIRE_CODE_MAP(X)                                                   \
  X(MALFORMED, 1) X(UNKNOWN_SESSION, 2) X(AUTH_FAILED, 3) X(NAME_TAKEN, 4)   \
  X(BAD_NAME, 5) X(BAD_PASSWORD, 6) X(RATE_LIMITED, 7) X(NO_SUCH_USER, 8)    \
  X(NO_SUCH_GROUP, 9) X(GROUP_EXISTS, 10) X(NOT_MEMBER, 11)                  \
  X(ALREADY_MEMBER, 12) X(TOO_MANY_GROUPS, 13) X(TEXT_TOO_LONG, 14)          \
  X(BAD_UTF8, 15) X(SERVER_BUSY, 16) X(INTERNAL, 17) X(SHUTTING_DOWN, 18)    \
  X(SESSION_REPLACED, 19) X(BAD_REQUEST, 20) X(QUOTA_EXCEEDED, 21)

typedef enum {
  MC_WIRE_OK = 0,
#define MC__X(name, num) MC_WIRE_##name = num,
  MC_WIRE_CODE_MAP(MC__X)
#undef MC__X
} mc_wire_code;

/* The lists a client may ask for (mychat.proto ListKind). */
typedef enum {
  MC_LIST_GROUPS = 0,   /* every group on the server */
  MC_LIST_USERS = 1,    /* every user, with online status */
  MC_LIST_MY_GROUPS = 2 /* the groups this user belongs to */
} mc_list_kind;

/* Returns the schema's name of wire code |code| ("AUTH_FAILED", ...), "OK"
 * for MC_WIRE_OK, or "UNKNOWN". Static string. */
const char *mc_codec_code_name(int code);

/* What a body is, for the direction and reliability rules. */
typedef enum {
  MC_BODY_NONE = 0,     /* ack-only envelope */
  MC_BODY_HANDSHAKE,    /* Register, Login: client, seq 0, session 0 */
  MC_BODY_REQUEST,      /* client requests: reliable (seq > 0) */
  MC_BODY_CLIENT_UNREL, /* Ping: client, seq 0 */
  MC_BODY_PUSH,         /* server replies and pushes: reliable */
  MC_BODY_SERVER_UNREL  /* Welcome, Pong, Error: server, seq 0 */
} mc_body_class;

/* Returns the class of body kind |c| (an mc_body_kind or a generated
 * body case); MC_BODY_NONE for NOT_SET and for any
 * value that is not a body case. */
mc_body_class mc_codec_body_class(int c);

/* Returns the proto field name of body case |c| ("send", "deliver", ...),
 * or "none" / "unknown". Static string. */
const char *mc_codec_body_name(int c);

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

/* Builds a Ping outside any session (session 0, no token, seq 0) carrying
 * |time_us| into |out| of |cap| bytes, storing its length in |*len|: the
 * liveness probe a server answers with Error UNKNOWN_SESSION (MC-58).
 * Returns 0, or MC_ERR_TOO_BIG when |cap| is too small. */
int mc_codec_encode_ping(uint64_t time_us, uint8_t *out, size_t cap,
                         size_t *len);

/* What mc_codec_peek() reads from a datagram without decoding it. */
typedef struct {
  uint64_t session_id;          /* header; 0 when absent */
  size_t token_off, token_len;  /* the header token's bytes: dgram +
                                   token_off, token_len of them (0: none) */
  uint32_t seq;
  mc_body_kind body;            /* the body's field number (an unknown one
                                   too); MC_KIND_NONE when none */
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

#endif
