#include "mc_auth.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "mc_error.h"

int mc_auth_cost_parse(const char *s, mc_auth_cost *out) {
  static const char *const names[] = {"min", "interactive", "moderate"};
  for (int i = 0; i < 3; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = (mc_auth_cost)i;
      return 0;
    }
  return MC_ERR_INVAL;
}

static void cost_limits(mc_auth_cost cost, unsigned long long *ops,
                        size_t *mem) {
  switch (cost) {
  case MC_AUTH_COST_MIN:
    *ops = crypto_pwhash_OPSLIMIT_MIN;
    *mem = crypto_pwhash_MEMLIMIT_MIN;
    break;
  case MC_AUTH_COST_MODERATE:
    *ops = crypto_pwhash_OPSLIMIT_MODERATE;
    *mem = crypto_pwhash_MEMLIMIT_MODERATE;
    break;
  default:
    *ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    *mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    break;
  }
}

int mc_auth_hash(const char *password, mc_auth_cost cost,
                 char out[MC_PWHASH_MAX]) {
  unsigned long long ops;
  size_t mem;
  cost_limits(cost, &ops, &mem);
  /* sodium_init() is idempotent and thread-safe; it must run before any
   * other libsodium call, and the core has no init of its own to put it in. */
  if (sodium_init() < 0)
    return MC_ERR_NOMEM;
  if (crypto_pwhash_str(out, password, strlen(password), ops, mem) != 0)
    return MC_ERR_NOMEM;
  return 0;
}

void mc_auth_dummy_hash(mc_auth_cost cost, char out[MC_PWHASH_MAX]) {
  unsigned long long ops;
  size_t mem;
  cost_limits(cost, &ops, &mem);
  /* The format of crypto_pwhash_str (memory in KiB, one lane), with a
   * fixed salt ("somesaltsomesalt") and an all-zero 32-byte hash: no
   * password is known to hash to it, and verifying one costs what the
   * parameters say, as for a real account. */
  snprintf(out, MC_PWHASH_MAX,
           "$argon2id$v=19$m=%zu,t=%llu,p=1$c29tZXNhbHRzb21lc2FsdA$"
           "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
           mem / 1024, ops);
}

int mc_auth_verify(const char *hash, const char *password) {
  if (sodium_init() < 0)
    return MC_ERR_AUTH;
  if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
    return MC_ERR_AUTH;
  return 0;
}

void mc_auth_job_run(mc_auth_job *job) {
  if (job->kind == MC_AUTH_JOB_HASH)
    job->result = mc_auth_hash(job->password, job->cost, job->hash);
  else
    job->result = mc_auth_verify(job->hash, job->password);
  sodium_memzero(job->password, sizeof job->password);
}
