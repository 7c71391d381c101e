/*
 * mcp_anon.c: `mychat-pcap anonymize`. Each MyChat datagram is decoded,
 * its personal fields replaced, and re-encoded with lib/mc_codec, so the
 * output decodes like the input did.
 *
 * Replacements are consistent within a run: user names become user-N and
 * group names grp-N in order of first appearance (the default group
 * "MyChat" is no one's and is kept); passwords, texts (message, Result and
 * Error texts, which quote names) become filler of the same byte length
 * derived from a keyed hash of the original, so equal inputs give equal
 * outputs; tokens, nonces and client_msg_ids become keyed hashes. The key is
 * random unless --key is given (then runs repeat exactly). Unknown fields,
 * which could carry anything, are dropped; padding is zeroed.
 */
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_cmd.h"

#define PROG "mychat-pcap"
#define DEFAULT_GROUP "MyChat"

typedef struct {
  uint8_t key[crypto_generichash_KEYBYTES];
  mcp_table names[2];           /* [0] users, [1] groups: name -> number */
  uint32_t next[2];
} anon;

enum { USER = 0, GROUP = 1 };

static void keyed_hash(const anon *a, char tag, const void *in, size_t len,
                       uint8_t *out, size_t outlen) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, a->key, sizeof a->key, outlen);
  crypto_generichash_update(&st, (const uint8_t *)&tag, 1);
  crypto_generichash_update(&st, in, len);
  crypto_generichash_final(&st, out, outlen);
}

/* A non-zero 64-bit replacement for an id or nonce (0 stays 0). */
static uint64_t anon_u64(const anon *a, uint64_t v) {
  if (!v) return 0;
  uint64_t h;
  keyed_hash(a, 'n', &v, sizeof v, (uint8_t *)&h, sizeof h);
  return h ? h : 1;
}

static void anon_bytes(const anon *a, ProtobufCBinaryData *b) {
  uint8_t h[64];
  size_t n = b->len < sizeof h ? b->len : sizeof h;
  if (!n) return;
  keyed_hash(a, 't', b->data, b->len, h, n < 16 ? 16 : n);
  memcpy(b->data, h, n);
  if (b->len > n) memset(b->data + n, 0, b->len - n);
}

/* Overwrites |s| in place with letters and spaces from a keyed hash of it:
 * same length, valid UTF-8 (ASCII), and the same for the same input. */
static void anon_text(const anon *a, char *s, char tag) {
  size_t n = strlen(s);
  if (!n) return;
  uint64_t x;
  keyed_hash(a, tag, s, n, (uint8_t *)&x, sizeof x);
  static const char letters[] = "abcdefghijklmnopqrstuvwxyz     ";
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    s[i] = letters[x % (sizeof letters - 1)];
  }
  /* Keep the ends printable, not blank. */
  if (s[0] == ' ') s[0] = 'x';
  if (s[n - 1] == ' ') s[n - 1] = 'x';
}

/* Replaces name |*s| (user or group, by |kind|) with its pseudonym. */
static void anon_name(anon *a, char **s, int kind) {
  if (!*s || !(*s)[0]) return;
  if (kind == GROUP && strcmp(*s, DEFAULT_GROUP) == 0) return;
  uint8_t k[MCP_KEY_LEN] = {0};
  strncpy((char *)k, *s, MCP_KEY_LEN - 1);
  uint32_t *v = mcp_table_get(&a->names[kind], k, 1);
  if (*v == UINT32_MAX) *v = ++a->next[kind];
  char buf[24];
  snprintf(buf, sizeof buf, "%s-%" PRIu32, kind == USER ? "user" : "grp", *v);
  char *n = strdup(buf);
  if (!n) mcp_oom();
  free(*s);
  *s = n;
}

/* Drops the unknown fields of |m| and of every message inside it. */
static void drop_unknown(ProtobufCMessage *m) {
  if (!m) return;
  for (unsigned i = 0; i < m->n_unknown_fields; i++) free(m->unknown_fields[i].data);
  free(m->unknown_fields);
  m->unknown_fields = NULL;
  m->n_unknown_fields = 0;
  const ProtobufCMessageDescriptor *md = m->descriptor;
  for (unsigned i = 0; i < md->n_fields; i++) {
    const ProtobufCFieldDescriptor *fd = &md->fields[i];
    if (fd->type != PROTOBUF_C_TYPE_MESSAGE) continue;
    char *p = (char *)m + fd->offset;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(size_t *)((char *)m + fd->quantifier_offset);
      ProtobufCMessage **v = *(ProtobufCMessage ***)p;
      for (size_t j = 0; j < n; j++) drop_unknown(v[j]);
    } else if (!(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
               *(uint32_t *)((char *)m + fd->quantifier_offset) == fd->id) {
      drop_unknown(*(ProtobufCMessage **)p);
    }
  }
}

static void zero(ProtobufCBinaryData *b) {
  if (b->len) memset(b->data, 0, b->len);
}

static void anon_handshake(anon *a, Mychat__Handshake *h) {
  anon_name(a, &h->name, USER);
  anon_text(a, h->password, 'p');
  h->client_nonce = anon_u64(a, h->client_nonce);
  zero(&h->padding);
}

static void anon_envelope(anon *a, Mychat__Envelope *e) {
  drop_unknown(&e->base);
  anon_bytes(a, &e->token);
  switch (e->body_case) {
  case MYCHAT__ENVELOPE__BODY_REGISTER: anon_handshake(a, e->register_); break;
  case MYCHAT__ENVELOPE__BODY_LOGIN: anon_handshake(a, e->login); break;
  case MYCHAT__ENVELOPE__BODY_LIST:
    anon_name(a, &e->list->after,
              e->list->kind == MYCHAT__LIST_KIND__LIST_USERS ? USER : GROUP);
    break;
  case MYCHAT__ENVELOPE__BODY_CREATE_GROUP: anon_name(a, &e->create_group->name, GROUP); break;
  case MYCHAT__ENVELOPE__BODY_JOIN_GROUP: anon_name(a, &e->join_group->name, GROUP); break;
  case MYCHAT__ENVELOPE__BODY_LEAVE_GROUP: anon_name(a, &e->leave_group->name, GROUP); break;
  case MYCHAT__ENVELOPE__BODY_SEND:
    e->send->client_msg_id = anon_u64(a, e->send->client_msg_id);
    if (e->send->to_case == MYCHAT__SEND_MESSAGE__TO_USER) anon_name(a, &e->send->user, USER);
    if (e->send->to_case == MYCHAT__SEND_MESSAGE__TO_GROUP) anon_name(a, &e->send->group, GROUP);
    anon_text(a, e->send->text, 'm');
    break;
  case MYCHAT__ENVELOPE__BODY_WELCOME:
    anon_bytes(a, &e->welcome->token);
    e->welcome->client_nonce = anon_u64(a, e->welcome->client_nonce);
    anon_name(a, &e->welcome->name, USER);
    break;
  case MYCHAT__ENVELOPE__BODY_RESULT: anon_text(a, e->result->text, 'e'); break;
  case MYCHAT__ENVELOPE__BODY_LIST_REPLY:
    for (size_t i = 0; i < e->list_reply->n_entries; i++)
      if (e->list_reply->entries[i])
        anon_name(a, &e->list_reply->entries[i]->name,
                  e->list_reply->kind == MYCHAT__LIST_KIND__LIST_USERS ? USER : GROUP);
    break;
  case MYCHAT__ENVELOPE__BODY_SENT:
    e->sent->client_msg_id = anon_u64(a, e->sent->client_msg_id);
    break;
  case MYCHAT__ENVELOPE__BODY_DELIVER:
    anon_name(a, &e->deliver->from, USER);
    anon_name(a, &e->deliver->group, GROUP);
    anon_text(a, e->deliver->text, 'm');
    break;
  case MYCHAT__ENVELOPE__BODY_RECEIPT: anon_name(a, &e->receipt->to, USER); break;
  case MYCHAT__ENVELOPE__BODY_PRESENCE: anon_name(a, &e->presence->name, USER); break;
  case MYCHAT__ENVELOPE__BODY_ERROR:
    anon_text(a, e->error->text, 'e');
    e->error->client_nonce = anon_u64(a, e->error->client_nonce);
    break;
  default:
    break;
  }
}

static const char anon_help[] =
    "Usage: " PROG " anonymize [--key SECRET] [--port P] IN OUT\n"
    "Writes IN's MyChat datagrams to OUT (pcap, raw IP) with user names\n"
    "replaced by user-N and group names by grp-N (the default group 'MyChat'\n"
    "is kept: it is no one's), passwords and texts (messages, Result and\n"
    "Error texts) by same-length filler, tokens, nonces and client_msg_ids by\n"
    "keyed hashes; the same input always maps to the same output in one run.\n"
    "Every datagram is re-encoded, so the output decodes. Datagrams that are\n"
    "not MyChat or do not parse are dropped and counted.\n"
    "      --key SECRET  hash key (default: random, so runs differ)\n"
    "  -h, --help        this help\n";

int mcp_cmd_anonymize(int argc, char **argv) {
  static const struct option lo[] = {{"key", required_argument, 0, OPT_KEY},
                                     {"port", required_argument, 0, OPT_PORT},
                                     {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  const char *secret = NULL;
  unsigned port = 8000;
  int opt;
  while ((opt = mcp_getopt(argc, argv, "h", lo)) != -1) {
    if (opt == 'h') return fputs(anon_help, stdout), 0;
    if (opt == OPT_KEY) secret = optarg;
    else if (opt != OPT_PORT || mcp_parse_port(optarg, &port) < 0)
      return mcp_usage_error("anonymize");
  }
  if (optind != argc - 2) {
    fprintf(stderr, PROG " anonymize: expected IN and OUT\n");
    return mcp_usage_error("anonymize");
  }
  if (sodium_init() < 0) {
    fprintf(stderr, PROG ": libsodium failed to initialise\n");
    return 1;
  }
  mc_pcap_reader *r;
  mc_pcap_writer *w;
  if (mcp_open_io(&r, &w, argv[optind], argv[optind + 1]) < 0) return 1;
  anon *a = calloc(1, sizeof *a);
  if (!a) mcp_oom();
  if (secret) crypto_generichash(a->key, sizeof a->key, (const uint8_t *)secret,
                                 strlen(secret), NULL, 0);
  else randombytes_buf(a->key, sizeof a->key);
  mcp_ctx c;
  mcp_ctx_init(&c, port);
  mc_pcap_frame f;
  int rc;
  uint64_t kept = 0, foreign = 0, broken = 0, big = 0;
  uint8_t body[MC_DATAGRAM_MAX * 2], out[MC_DATAGRAM_MAX];
  while ((rc = mc_pcap_next(r, &f)) > 0) {
    if (rc != MC_PCAP_DATAGRAM) continue;
    mcp_dgram d;
    mcp_decode(&c, &f, &d);
    if (!d.env) {
      if (d.kind == MCP_FOREIGN) foreign++;
      else broken++;
      continue;
    }
    anon_envelope(a, d.env);
    size_t blen = 0, olen;
    int erc = d.env->body_case == MYCHAT__ENVELOPE__BODY__NOT_SET
                  ? 0 : mc_codec_encode_body(d.env, body, sizeof body, &blen);
    if (!erc) erc = mc_codec_encode(d.env, blen ? body : NULL, blen, out, sizeof out, &olen);
    if (erc) big++;
    else if (mc_pcap_write_udp(w, f.ts_us, &f.src, &f.dst, out, olen) == 0) kept++;
    mc_codec_free(d.env);
  }
  mcp_ctx_free(&c);
  fprintf(stderr, PROG " anonymize: wrote %" PRIu64 " datagrams; dropped %" PRIu64
          " not MyChat, %" PRIu64 " malformed, %" PRIu64 " too big once renamed\n",
          kept, foreign, broken, big);
  int status = mcp_close_io(r, w, rc, argv[optind], argv[optind + 1]);
  for (int i = 0; i < 2; i++) mcp_table_free(&a->names[i]);
  sodium_memzero(a->key, sizeof a->key);
  free(a);
  return status;
}
