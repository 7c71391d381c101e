/*
 * mc_authpool.h: worker threads that run password jobs for the reference
 * server.
 *
 * Password hashing takes tens of milliseconds on purpose, so the server's
 * event loop never runs it: it takes jobs from mc_server_poll_auth(), hands
 * them to mc_authpool_submit(), and when the pool's eventfd
 * (mc_authpool_fd()) becomes readable takes the finished ones back with
 * mc_authpool_take() and gives them to mc_server_auth_done(). The pool
 * copies jobs in and out; passwords are wiped from its memory when a job is
 * taken back or the pool is freed.
 */
#ifndef MC_AUTHPOOL_H
#define MC_AUTHPOOL_H

#include <stddef.h>

#include "mc_auth.h"

typedef struct mc_authpool mc_authpool;

/* Starts |threads| (1 or more) workers. Returns the pool, or NULL with a
 * message in |err| (|errlen| bytes) when a thread, the eventfd or memory
 * could not be had. */
mc_authpool *mc_authpool_new(unsigned threads, char *err, size_t errlen);

/* Stops the workers (each finishes the job it is running), joins them and
 * frees the pool with every job still in it. NULL is allowed. */
void mc_authpool_del(mc_authpool *p);

/* The eventfd that becomes readable when finished jobs are waiting; the
 * owner of the event loop watches it for EPOLLIN. */
int mc_authpool_fd(const mc_authpool *p);

/* Queues a copy of |job| for a worker. Returns 0, or -1 when out of memory
 * (the job is then lost; the caller answers its client as it sees fit). */
int mc_authpool_submit(mc_authpool *p, const mc_auth_job *job);

/* Takes the next finished job into |job|. Returns 1, or 0 when none is
 * waiting (and then clears the eventfd's readiness). */
int mc_authpool_take(mc_authpool *p, mc_auth_job *job);

#endif
