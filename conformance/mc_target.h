/*
 * mc_target.h: the server under test, as mychat-conform reaches it: the
 * probe that tells "nothing there" from "a MyChat server" before any case
 * runs.
 */
#ifndef MC_TARGET_H
#define MC_TARGET_H

#include <stddef.h>
#include <sys/socket.h>

/* Sends a Ping of a session that cannot exist (random session_id and
 * token) to |sa| every 250 ms until an answer arrives or |timeout_ms|
 * passes; PROTOCOL.md MC-58 makes a server answer it with Error
 * UNKNOWN_SESSION. Returns 0 when that Error came back, 1 when something
 * else answered, -1 when nothing answered (or the port refused); |err|
 * (|errlen| bytes) then says what happened. */
int mc_target_probe(const struct sockaddr *sa, socklen_t salen,
                    int timeout_ms, char *err, size_t errlen);

#endif
