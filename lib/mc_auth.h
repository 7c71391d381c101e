/*
 * mc_auth.h: password hashing (libsodium crypto_pwhash_str, Argon2id).
 *
 * Hashing is deliberately slow, so the server core never calls these from
 * its datagram handler: it hands the host an mc_auth_job (mc_server.h), the
 * host runs mc_auth_job_run() where it likes (the reference server: on a
 * worker thread) and gives the job back. These functions are pure
 * computation; libsodium draws the salt from the system RNG, which is the
 * one randomness source of the core that does not come through a callback.
 */
#ifndef MC_AUTH_H
#define MC_AUTH_H

#include <stdint.h>

#include "mc_codec.h"

#define MC_PWHASH_MAX 128 /* crypto_pwhash_STRBYTES, NUL included */

/* How expensive a hash is: MIN for tests and simulations, INTERACTIVE (the
 * default of a real server), MODERATE for servers that can afford it. */
typedef enum {
  MC_AUTH_COST_MIN = 0,
  MC_AUTH_COST_INTERACTIVE = 1,
  MC_AUTH_COST_MODERATE = 2
} mc_auth_cost;

/* Parses "min", "interactive" or "moderate". Returns 0 or MC_ERR_INVAL. */
int mc_auth_cost_parse(const char *s, mc_auth_cost *out);

/* Hashes |password| into |out| (MC_PWHASH_MAX bytes, NUL-terminated).
 * Returns 0, or MC_ERR_NOMEM (libsodium could not allocate the memory the
 * cost asks for). */
int mc_auth_hash(const char *password, mc_auth_cost cost,
                 char out[MC_PWHASH_MAX]);

/* Writes into |out| a hash in crypto_pwhash_str's format, with the
 * parameters of |cost|, that no password is known to match: a Login for an
 * unknown name is verified against it, so that it costs the same hashing
 * work as one for a known name (PROTOCOL.md MC-135). */
void mc_auth_dummy_hash(mc_auth_cost cost, char out[MC_PWHASH_MAX]);

/* Returns 0 when |password| matches |hash|, else MC_ERR_AUTH (also for a
 * malformed hash). */
int mc_auth_verify(const char *hash, const char *password);

typedef enum { MC_AUTH_JOB_HASH, MC_AUTH_JOB_VERIFY } mc_auth_job_kind;

/* One unit of password work, made by the server core. */
typedef struct {
  uint64_t id;                       /* the core's; hand it back unchanged */
  mc_auth_job_kind kind;
  mc_auth_cost cost;                 /* HASH: the server's setting */
  char password[MC_PASSWORD_MAX + 1];
  char hash[MC_PWHASH_MAX];          /* VERIFY: in; HASH: out */
  int result;                        /* out: 0, MC_ERR_AUTH or MC_ERR_NOMEM */
} mc_auth_job;

/* Runs |job|: fills job->result (and job->hash for HASH) and wipes the
 * password from the job. */
void mc_auth_job_run(mc_auth_job *job);

#endif
