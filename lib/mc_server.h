/*
 * mc_server.h: the server side of MyChat, sans-I/O.
 *
 * An mc_server holds every session of one server in memory and calls an
 * mc_store for everything durable. The host (reference/mychat-server, the
 * simulator, the tests) owns the socket and the clock:
 *
 *   mc_server_recv()         a datagram arrived from |from| at |now|
 *   mc_server_poll_tx()      take the next datagram to send (loop until 0)
 *   mc_server_expiry()       when to call mc_server_handle_expiry() next
 *   mc_server_poll_auth()    take a password job; run it with
 *   mc_server_auth_done()    mc_auth_job_run() anywhere, then hand it back
 *
 * The drive contract is the client's (mc_client.h): after anything that
 * may have changed what the server has to do at |now| (a datagram in, a
 * password job done, the clock reaching mc_server_expiry()), the host runs
 * at that same |now| mc_server_handle_expiry() if mc_server_expiry() <= now,
 * then mc_server_poll_tx() until it returns 0, and hands out password jobs
 * (mc_server_poll_auth()); then it waits for a datagram, a finished job or
 * mc_server_expiry(). After handle_expiry and poll_tx, mc_server_expiry() is
 * later than |now| (or MC_TSTAMP_NEVER).
 *
 * Ordering rule for durability (PROTOCOL.md, "Durability"): every "sent"
 * confirmation is queued when the store returns from msg_add. A host that
 * batches store writes in a transaction must commit it before it takes
 * datagrams out with mc_server_poll_tx(), so no confirmation leaves before
 * its message is durable.
 *
 * Addresses are opaque bytes to the core (the host puts a sockaddr in); they
 * are compared and copied, never interpreted. Sessions are found by id, not
 * by address.
 */
#ifndef MC_SERVER_H
#define MC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "mc_arq.h"
#include "mc_auth.h"
#include "mc_store.h"
#include "mc_time.h"

#define MC_ADDR_MAX 28
#define MC_RATE_KEY_LEN 16 /* crypto_shorthash_KEYBYTES */
#define MC_SERVER_LOG_BURST 40     /* request-log lines of one session at */
#define MC_SERVER_LOG_REFILL_MS 50 /* once, then 20 a second (MC-153) */

/* A peer address. The first |host_len| bytes name the host (the IP
 * address): login rate limits are per host, whatever the port. */
typedef struct {
  uint8_t len;
  uint8_t host_len;
  uint8_t bytes[MC_ADDR_MAX];
} mc_addr;

typedef struct {
  uint32_t max_sessions;         /* live sessions plus pending password
                                    jobs; beyond: SERVER_BUSY (100000) */
  uint32_t keepalive_ms;         /* told to clients (default 5000: a live client is heard
                                    six times per timeout even when idle) */
  uint32_t session_timeout_ms;   /* silence that ends a session (30000) */
  uint32_t rate_burst;           /* login attempts per address and per
                                    name-and-address pair (5) */
  uint32_t rate_refill_ms;       /* one attempt back every (2000); each
                                    failed Login doubles it for its pair */
  /* Keys the hash that places rate-limit buckets (SipHash-2-4), so that no
   * one who does not know it can aim two keys at one place (MC-134). The
   * host draws it at random at every start; the core calls no RNG.
   * Default: all zero, which only tests and simulations may keep. */
  uint8_t rate_key[MC_RATE_KEY_LEN];
  /* Password work (MC-136): pending jobs of one address prefix (/24,
   * /56) at most (32), of all prefixes at most (256, Registers only half
   * of it, so Logins always find room). */
  uint32_t auth_per_prefix;
  uint32_t auth_queue_max;
  /* Registrations per hour per address and per prefix (MC-137); 0: 4 and
   * 20 times rate_burst (20 and 100 by default), so that a server set up
   * for many logins from one address allows as many sign-ups. */
  uint32_t reg_per_hour;
  uint32_t reg_per_hour_prefix;
  /* Messages (MC-150): SendMessages a session may send at once (50), and
   * one more every msg_refill_ms (100: 10 a second sustained). A session
   * that replaces another of its user goes on with that one's bucket. */
  uint32_t msg_burst;
  uint32_t msg_refill_ms;
  /* Bytes of text stored per user, ever (MC-151; 100 MiB). */
  uint64_t quota_bytes;
  uint32_t push_window;          /* Delivers/Receipts in flight (32) */
  mc_auth_cost auth_cost;        /* password hash cost (INTERACTIVE) */
  int64_t wall_offset_ms;        /* server time = now/1000 + this */
  mc_arq_config arq;
} mc_server_config;

/* One line of the request log. */
typedef struct {
  mc_tstamp now;
  const mc_addr *peer;
  const char *user;              /* "" before login */
  uint64_t session_id;
  const char *type;              /* body name: "login", "send", ... */
  mc_wire_code code;             /* MC_WIRE_OK = success */
  const char *detail;            /* short text, "" if none */
  uint32_t dropped;              /* lines of this session not logged just
                                    before this one (MC-153) */
} mc_server_log;

typedef struct {
  void *user_data;
  /* Fills |buf| with |len| unpredictable bytes (session ids and tokens).
   * Required. */
  void (*random)(void *user_data, uint8_t *buf, size_t len);
  /* Called once per request handled or refused, except that a session
   * gets MC_SERVER_LOG_BURST lines at once and then one every
   * MC_SERVER_LOG_REFILL_MS (MC-153): the rest are counted in the next
   * line's |dropped|, and the session's last line ("end") always comes.
   * May be NULL. */
  void (*log)(void *user_data, const mc_server_log *rec);
  /* What the server allocates with (mc_mem.h); NULL: libc. It must outlive
   * the server. */
  const mc_mem *mem;
} mc_server_callbacks;

typedef struct {
  uint64_t rx_datagrams, rx_bytes, rx_malformed, rx_bad_session, rx_dropped;
  uint64_t tx_datagrams, tx_bytes;
  uint64_t logins, login_failures, registrations;
  uint64_t sessions_ended, sessions_timed_out, sessions_gave_up;
  uint64_t messages_stored, delivers_sent, delivers_acked, receipts_acked;
  uint64_t retransmissions;
  uint64_t migrations;           /* sessions moved to a new address */
  uint64_t tx_held;              /* times a session had something due that
                                    its address's budget held back */
  uint64_t quota_refused;        /* SendMessages answered QUOTA_EXCEEDED */
  uint64_t log_dropped;          /* session log lines left out (MC-153) */
  uint32_t sessions;             /* current */
  uint32_t auth_jobs;            /* current pending */
} mc_server_stats;

typedef struct mc_server mc_server;

/* Fills |cfg| with the defaults above. */
void mc_server_config_default(mc_server_config *cfg);

/* Creates a server on |store| (borrowed: it must outlive the server).
 * |cfg| may be NULL for defaults; |cb| is copied. Returns the server, or
 * NULL when out of memory or |cb->random| is missing. */
mc_server *mc_server_new(const mc_server_config *cfg, const mc_store *store,
                         const mc_server_callbacks *cb);

/* Frees the server and every session (the store is left alone). */
void mc_server_del(mc_server *srv);

/* Takes datagram |dgram| of |len| bytes from |from| at |now|. Answers,
 * pushes and acks are queued for mc_server_poll_tx(). Returns 0 when the
 * datagram was taken, or the reason it was refused (a codec error, or
 * MC_ERR_AUTH for an unknown session or wrong token); a refused datagram
 * changes no session. Never fails for lack of input validity alone. */
int mc_server_recv(mc_server *srv, const mc_addr *from, const uint8_t *dgram,
                   size_t len, mc_tstamp now);

/* Takes the next datagram to send at |now| into |buf| of |cap| bytes and
 * its destination into |to|. Returns 1 with |*len| set, 0 when nothing more
 * is to be sent at |now|, or MC_ERR_BUFFER_TOO_SMALL when |cap| <
 * MC_DATAGRAM_MAX (nothing taken). */
int mc_server_poll_tx(mc_server *srv, mc_tstamp now, mc_addr *to,
                      uint8_t *buf, size_t cap, size_t *len);

/* The next time the server has work (see the drive contract above), or
 * MC_TSTAMP_NEVER: 0 while datagrams wait for poll_tx. */
mc_tstamp mc_server_expiry(mc_server *srv);

/* Runs the timers due at |now|: retransmissions, delayed acks, session
 * timeouts and give-ups. */
void mc_server_handle_expiry(mc_server *srv, mc_tstamp now);

/* Takes the next password job, copying it into |job|. Returns 1, or 0 when
 * none is waiting. The core picks it (MC-136): Logins before Registers, and
 * the prefixes with the fewest jobs queued ahead first, so a host should
 * take a job only when a worker is free to start it. */
int mc_server_poll_auth(mc_server *srv, mc_auth_job *job);

/* Hands back a job run by mc_auth_job_run(). Returns 0, or MC_ERR_NOT_FOUND
 * for an unknown job id. */
int mc_server_auth_done(mc_server *srv, const mc_auth_job *job, mc_tstamp now);

/* Tells every session the server is going away (Error SHUTTING_DOWN, queued
 * for mc_server_poll_tx) and ends them all. */
void mc_server_shutdown(mc_server *srv, mc_tstamp now);

const mc_server_stats *mc_server_get_stats(const mc_server *srv);

/* The wire ErrorCode for library error |err| where the answer does not
 * depend on context (PROTOCOL.md MC-130): the decode and validation errors
 * map to MALFORMED or to the code of the same name, STATE to BAD_REQUEST,
 * AUTH to AUTH_FAILED, anything else to INTERNAL. */
mc_wire_code mc_server_wire_code(int err);

/* Fills |a| with |len| opaque bytes (at most MC_ADDR_MAX), all of them
 * naming the host. */
void mc_addr_set(mc_addr *a, const void *bytes, size_t len);

/* Fills |a| with an IP address of |ip_len| bytes (4 or 16) and a port: the
 * IP names the host. */
void mc_addr_set_ip(mc_addr *a, const void *ip, size_t ip_len, uint16_t port);

#endif
