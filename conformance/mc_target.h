/*
 * mc_target.h: the server under test, as mychat-conform reaches it.
 *
 * An implementation statement (`--impl FILE`, conformance/README.md) says
 * what the implementation is, the local settings it runs with
 * (PROTOCOL.md section 3: keepalive, timeout, rate limits, queue size,
 * sessions cap), the optional behaviours (MAY requirements) it claims,
 * and how to start it with given settings. A case says what it needs
 * through the reference server's flags it was recorded with (its
 * `server:` line); mc_target turns those into settings, decides whether
 * the implementation can meet them, and starts and stops a server for
 * each set of settings. The probe tells "nothing there" from "a MyChat
 * server" before any case runs.
 */
#ifndef MC_TARGET_H
#define MC_TARGET_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The local settings a case can need, by index. */
enum {
  MC_SET_KEEPALIVE_MS,
  MC_SET_SESSION_TIMEOUT_MS,
  MC_SET_RATE_BURST,
  MC_SET_RATE_REFILL_MS,
  MC_SET_QUEUE_MAX,
  MC_SET_MAX_RETRIES,
  MC_SET_MAX_SESSIONS,
  MC_SET_REG_PER_HOUR,
  MC_SET_REG_PER_HOUR_PREFIX,
  MC_SET_MSG_BURST,
  MC_SET_MSG_REFILL_MS,
  MC_SET_QUOTA_BYTES,
  MC_SET_N
};

/* Settings, each either given (|set|) or not. In a case's needs a
 * |floor| setting is met by any value as generous: a login burst at least
 * |value|, a refill interval at most |value|. */
typedef struct {
  long value[MC_SET_N];
  int set[MC_SET_N];
  int floor[MC_SET_N];
} mc_target_settings;

#define MC_TARGET_CLAIMS_MAX 64

typedef struct {
  char name[128];
  char version[64];
  char server[128];             /* HOST:PORT of a running server, or "" */
  char host[64];                /* where started servers listen */
  char start[1024];             /* the start command template, or "" */
  mc_target_settings settings;  /* declared: what it runs with */
  int settable[MC_SET_N];       /* the start command sets it */
  int claims_all;               /* no statement: every MAY assumed */
  int n_claims;
  int claims[MC_TARGET_CLAIMS_MAX]; /* MC-n of optional behaviours */
} mc_target_impl;

/* A server mc_target_start() started. */
typedef struct {
  pid_t pid;                    /* its process group too */
  char dir[256];                /* {dir}: its files, removed at stop */
  char addr[80];                /* "127.0.0.1:PORT" */
  struct sockaddr_storage sa;
  socklen_t salen;
} mc_target_proc;

/* Reads the statement at |path| into |im|. Returns 0, or -1 with a
 * message (file:line) in |err|. */
int mc_target_load(mc_target_impl *im, const char *path, char *err,
                   size_t errlen);

/* The statement of a server started by hand with the reference server's
 * flags |flags| (the settings they give over the reference's defaults),
 * reached at |server|: what mychat-conform assumes without --impl.
 * Returns 0, or -1 with the flag no setting maps in |err|. */
int mc_target_from_flags(mc_target_impl *im, const char *server,
                         const char *flags, char *err, size_t errlen);

/* Turns a case's `server:` flags (the reference's) into the settings it
 * needs. Returns 0, or -1 with the flag no setting maps in |err|. */
int mc_target_needs(mc_target_settings *need, const char *flags, char *err,
                    size_t errlen);

/* Whether |im| can meet |need|: 1, with the settings to start it with in
 * |run| (the declared ones, overridden by the needs the start command
 * can set); 0 with the reason in |why|. */
int mc_target_meets(const mc_target_impl *im, const mc_target_settings *need,
                    mc_target_settings *run, char *why, size_t whylen);

/* 1 when |im| claims the optional requirement MC-|id|. */
int mc_target_claims(const mc_target_impl *im, int id);

/* "keepalive_ms=500 rate_burst=1000" for the given settings of |s|. */
void mc_target_settings_text(const mc_target_settings *s, char *b,
                             size_t cap);

/* Starts |im| with |run| on a free port of its host and waits until it
 * answers the probe (at most |ready_ms|). Returns 0, or -1 with a message
 * (and the end of its output) in |err|. */
int mc_target_start(const mc_target_impl *im, const mc_target_settings *run,
                    int ready_ms, mc_target_proc *p, char *err,
                    size_t errlen);

/* SIGTERM to the server's process group, SIGKILL after 3 s; removes its
 * directory. */
void mc_target_stop(mc_target_proc *p);

/* Sends a Ping of a session that cannot exist (random session_id and
 * token) to |sa| every 250 ms until an answer arrives or |timeout_ms|
 * passes; PROTOCOL.md MC-58 makes a server answer it with Error
 * UNKNOWN_SESSION. Returns 0 when that Error came back, 1 when something
 * else answered, -1 when nothing answered (or the port refused); |err|
 * (|errlen| bytes) then says what happened. */
int mc_target_probe(const struct sockaddr *sa, socklen_t salen,
                    int timeout_ms, char *err, size_t errlen);

#endif
