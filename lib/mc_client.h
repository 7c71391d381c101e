/*
 * mc_client.h: the client side of MyChat, sans-I/O.
 *
 * The application (the mychat CLI, the simulator's virtual clients, tests)
 * owns the socket and the clock. It calls:
 *
 *   mc_client_connect()      start a handshake (register or log in)
 *   mc_client_send_text() .. queue requests once connected
 *   mc_client_recv()         a datagram arrived
 *   mc_client_poll_tx()      take the next datagram to send (loop until 0)
 *   mc_client_expiry()       when to call mc_client_handle_expiry()
 *   mc_client_poll_event()   what happened (loop until 0)
 *
 * The drive contract (as ngtcp2 states its own). Whenever something may have
 * changed what the client has to do at |now| (a connect or request, a
 * datagram in, the clock reaching mc_client_expiry()), the host runs, all
 * at the same |now|:
 *
 *   1. mc_client_handle_expiry(c, now) if mc_client_expiry(c) <= now
 *      (calling it when nothing is due is harmless);
 *   2. mc_client_poll_tx(c, now, ...) until it returns 0, sending each
 *      datagram; poll_tx itself sends what the timers owe (handshake
 *      retransmissions, reliable retransmissions, Pings, delayed acks);
 *   3. mc_client_poll_event(c, ...) until it returns 0; a request made in
 *      answer to an event means starting again at 1;
 *   4. waits for a datagram or until mc_client_expiry(c).
 *
 * After steps 1 and 2 mc_client_expiry(c) is later than |now| (or
 * MC_TSTAMP_NEVER): a host never has to clamp it to avoid spinning. Steps
 * taken late only delay timers; nothing is lost.
 *
 * The client retransmits the handshake until answered or connect_timeout_ms
 * passes, keeps the session alive with Pings, drops duplicate messages by
 * message id, and keeps every message it sent until the server confirmed it
 * ("sent"): if the session is lost first, mc_client_connect() on the same
 * client sends those messages again in the new session (the server's
 * client_msg_id check keeps them from being stored twice).
 */
#ifndef MC_CLIENT_H
#define MC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "mc_arq.h"
#include "mc_codec.h"
#include "mc_time.h"

typedef struct {
  uint32_t connect_timeout_ms;  /* give up a handshake after (15000) */
  uint32_t handshake_rto_ms;    /* first handshake retransmission (500) */
  int presence;                 /* ask for Presence pushes (1) */
  mc_arq_config arq;
} mc_client_config;

typedef struct {
  void *user_data;
  /* Fills |buf| with |len| random bytes (nonces, client_msg_ids). Required. */
  void (*random)(void *user_data, uint8_t *buf, size_t len);
  /* What the client allocates with (mc_mem.h); NULL: libc. It must outlive
   * the client. */
  const mc_mem *mem;
} mc_client_callbacks;

typedef enum {
  MC_CLIENT_IDLE,
  MC_CLIENT_HANDSHAKE,
  MC_CLIENT_ESTABLISHED,
  MC_CLIENT_CLOSED
} mc_client_state;

typedef enum {
  MC_CEV_CONNECTED,       /* name, time_ms (server time) */
  MC_CEV_CONNECT_FAILED,  /* code (mc_wire_code; MC_WIRE_OK = no answer in time), text */
  MC_CEV_CLOSED,          /* code: why (mc_wire_code, MC_WIRE_OK = logout); lib_error:
                             MC_ERR_GAVE_UP when the server stopped acking,
                             MC_ERR_STATE when it went silent */
  MC_CEV_RESULT,          /* request, request_kind, code, text */
  MC_CEV_LIST,            /* request, list_kind, entries, more */
  MC_CEV_SENT,            /* request, client_msg_id, message_id, time_ms */
  MC_CEV_MESSAGE,         /* message_id, name (from), group ("" = direct),
                             text, time_ms, missed */
  MC_CEV_DELIVERED,       /* message_id, name (recipient), time_ms */
  MC_CEV_PRESENCE,        /* name, online */
  MC_CEV_BACKLOG_DONE     /* count */
} mc_client_event_type;

typedef struct {
  char name[MC_NAME_MAX + 1];
  int online;
} mc_client_list_entry;

typedef struct {
  mc_client_event_type type;
  mc_wire_code code;            /* MC_WIRE_OK = success */
  int lib_error;                /* MC_CEV_CLOSED: library reason, or 0 */
  uint32_t request;             /* the request id the reply answers */
  mc_body_kind request_kind;    /* the request's body: MC_KIND_SEND, ... */
  uint64_t message_id, client_msg_id, time_ms;
  char name[MC_NAME_MAX + 1];
  char group[MC_NAME_MAX + 1];
  char text[MC_TEXT_MAX + 1];   /* message text, or an error's text */
  int online, missed, more;
  uint32_t count;
  mc_list_kind list_kind;
  size_t n_entries;
  mc_client_list_entry entries[MC_LIST_PAGE_MAX];
} mc_client_event;

typedef struct mc_client mc_client;

void mc_client_config_default(mc_client_config *cfg);

/* Creates a client. |cfg| may be NULL for defaults; |cb| is copied. Returns
 * NULL when out of memory or cb->random is missing. */
mc_client *mc_client_new(const mc_client_config *cfg,
                         const mc_client_callbacks *cb);

/* Frees |c| (wiping the password it kept). NULL is allowed. */
void mc_client_del(mc_client *c);

/* Starts a handshake at |now|: Register (|create| = 1) or Login. The name
 * and password are copied; they are kept for later reconnects. Allowed in
 * IDLE and CLOSED. Returns 0, or one of: MC_ERR_BAD_NAME,
 * MC_ERR_BAD_PASSWORD, MC_ERR_STATE. */
int mc_client_connect(mc_client *c, const char *name, const char *password,
                      int create, mc_tstamp now);

/* Starts a handshake with the name and password of the last connect, as a
 * Login. Returns 0, or MC_ERR_STATE (no earlier connect, or not closed). */
int mc_client_reconnect(mc_client *c, mc_tstamp now);

/* Sends |text| to user |to_user| or (|to_user| NULL) group |to_group|.
 * Stores the request id in |*request| and the message's client id in
 * |*client_msg_id| (either may be NULL). Returns 0, or one of:
 * MC_ERR_STATE (not established), MC_ERR_BAD_NAME, MC_ERR_BAD_UTF8,
 * MC_ERR_TEXT_TOO_LONG, MC_ERR_QUEUE_FULL, MC_ERR_NOMEM. */
int mc_client_send_text(mc_client *c, const char *to_user,
                        const char *to_group, const char *text, mc_tstamp now,
                        uint32_t *request, uint64_t *client_msg_id);

/* Group requests: |kind| is MC_KIND_CREATE_GROUP, MC_KIND_JOIN_GROUP or
 * MC_KIND_LEAVE_GROUP. Returns 0, or MC_ERR_STATE, MC_ERR_BAD_NAME,
 * MC_ERR_INVAL, MC_ERR_QUEUE_FULL. */
int mc_client_group(mc_client *c, mc_body_kind kind,
                    const char *group, mc_tstamp now, uint32_t *request);

/* Asks for one page of a list; |after| is "" or the last name of the page
 * before. Returns 0, or MC_ERR_STATE, MC_ERR_BAD_NAME, MC_ERR_QUEUE_FULL. */
int mc_client_list(mc_client *c, mc_list_kind kind, const char *after,
                   mc_tstamp now, uint32_t *request);

/* Logs out: the session closes when the server confirms (MC_CEV_CLOSED with
 * code 0). Returns 0 or MC_ERR_STATE. */
int mc_client_logout(mc_client *c, mc_tstamp now);

/* Drops the session without telling the server (the "network went away"
 * case, for simulations): state becomes CLOSED, no event. */
void mc_client_abandon(mc_client *c);

/* Takes a datagram from the server. Returns 0, or the reason it was
 * ignored (a codec error, MC_ERR_AUTH for another session's datagram, or
 * MC_ERR_NOMEM: nothing was taken, as if the datagram had been lost, and
 * the server will send it again). */
int mc_client_recv(mc_client *c, const uint8_t *dgram, size_t len,
                   mc_tstamp now);

/* Takes the next datagram to send at |now| into |buf| of |cap| bytes.
 * Returns 1 with |*len| set, 0 when nothing more is to be sent at |now|, or
 * MC_ERR_BUFFER_TOO_SMALL when |cap| < MC_DATAGRAM_MAX (nothing taken). */
int mc_client_poll_tx(mc_client *c, mc_tstamp now, uint8_t *buf, size_t cap,
                      size_t *len);

/* The next time the client has work (see the drive contract above), or
 * MC_TSTAMP_NEVER: 0 or a time at or before now when something is to be
 * sent already. */
mc_tstamp mc_client_expiry(const mc_client *c);

/* Runs timers due at |now|: handshake retransmission and give-up,
 * keepalive, server silence. */
void mc_client_handle_expiry(mc_client *c, mc_tstamp now);

/* Takes the next event into |ev|. Returns 1, or 0 when none is waiting. */
int mc_client_poll_event(mc_client *c, mc_client_event *ev);

mc_client_state mc_client_get_state(const mc_client *c);

/* The reliability layer of the current session (statistics, tests). */
const mc_arq *mc_client_get_arq(const mc_client *c);

/* Messages sent but not yet confirmed by the server. */
size_t mc_client_unconfirmed(const mc_client *c);

#endif
