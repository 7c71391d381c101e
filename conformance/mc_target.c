/*
 * mc_target.c: the server under test (see mc_target.h).
 */
#include "mc_target.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mc_codec_pb.h"
#include "mc_error.h"
#include "mc_rng.h"
#include "mc_udp.h"

int mc_target_probe(const struct sockaddr *sa, socklen_t salen,
                    int timeout_ms, char *err, size_t errlen) {
  char where[MC_UDP_ADDRSTRLEN];
  mc_udp_format(sa, salen, where, sizeof where);
  int fd = mc_udp_connect(sa, salen, err, errlen);
  if (fd < 0)
    return -1;
  mc_rng rng;
  mc_rng_seed(&rng, mc_udp_now_us() ^ ((uint64_t)getpid() << 32));
  uint8_t tok[MC_TOKEN_LEN];
  mc_rng_bytes(&rng, tok, sizeof tok);
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__Ping ping = MYCHAT__PING__INIT;
  env.session_id = mc_rng_next(&rng) | 1;
  env.token.data = tok;
  env.token.len = sizeof tok;
  /* A 10-byte time_us makes room for the Error: MC-60 allows no answer
   * larger than the datagram. */
  ping.time_us = 0xFFFF000000000000ULL | mc_rng_next(&rng);
  env.body_case = MYCHAT__ENVELOPE__BODY_PING;
  env.ping = &ping;
  uint8_t b[64], d[MC_DATAGRAM_MAX];
  size_t bl, dl;
  if (mc_codec_encode_body(&env, b, sizeof b, &bl) < 0 ||
      mc_codec_encode(&env, b, bl, d, sizeof d, &dl) < 0) {
    snprintf(err, errlen, "cannot encode the probe");
    close(fd);
    return -1;
  }
  uint64_t start = mc_udp_now_us(), deadline = start + (uint64_t)timeout_ms * 1000,
           next = start;
  int refused = 0, rv = -1;
  while (mc_udp_now_us() < deadline) {
    if (mc_udp_now_us() >= next) {
      if (send(fd, d, dl, 0) < 0 && errno == ECONNREFUSED)
        refused = 1;
      next += 250000;
    }
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    poll(&pf, 1, 50);
    uint8_t in[65536];
    ssize_t n = recv(fd, in, sizeof in, MSG_DONTWAIT);
    if (n < 0) {
      refused |= errno == ECONNREFUSED;
      continue;
    }
    Mychat__Envelope *a;
    int drv = mc_codec_decode(in, (size_t)n, &a);
    if (drv < 0) {
      snprintf(err, errlen, "%s answered the probe (a Ping of an unknown "
               "session) with %zd bytes that do not decode (%s)", where, n,
               mc_errname(drv));
      rv = 1;
    } else if (a->body_case != MYCHAT__ENVELOPE__BODY_ERROR ||
               a->error->code != MYCHAT__ERROR_CODE__UNKNOWN_SESSION) {
      snprintf(err, errlen, "%s answered the probe (a Ping of an unknown "
               "session) with %s, not Error UNKNOWN_SESSION (MC-58)", where,
               mc_codec_body_name(a->body_case));
      rv = 1;
    } else {
      rv = 0;
    }
    mc_codec_free(a);
    break;
  }
  if (rv < 0)
    snprintf(err, errlen, "%s: no answer to the probe (a Ping of an unknown "
             "session, which must get Error UNKNOWN_SESSION) within %d ms%s",
             where, timeout_ms,
             refused ? ": the port refused it, nothing listens there" : "");
  close(fd);
  return rv;
}

/* ---- settings ---- */

/* A login burst at which a case tests no login limit (the standard
 * cases' 1000, MC_CAP_STD_FLAGS). */
#define RATE_PLENTY 1000

/* Each setting, the reference server's flag for it, and the reference's
 * default (PROTOCOL.md section 3; the sessions cap is the reference's own
 * choice; the registrations per hour are 0, "derived from the login
 * burst"). */
static const struct {
  const char *name, *flag;
  long ref_default;
} settings[MC_SET_N] = {
    [MC_SET_KEEPALIVE_MS] = {"keepalive_ms", "--keepalive-ms", 5000},
    [MC_SET_SESSION_TIMEOUT_MS] = {"session_timeout_ms", "--timeout-ms",
                                   30000},
    [MC_SET_RATE_BURST] = {"rate_burst", "--rate-burst", 5},
    [MC_SET_RATE_REFILL_MS] = {"rate_refill_ms", "--rate-refill-ms", 2000},
    [MC_SET_QUEUE_MAX] = {"queue_max", "--queue-max", 1024},
    [MC_SET_MAX_RETRIES] = {"max_retries", "--max-retries", 12},
    [MC_SET_MAX_SESSIONS] = {"max_sessions", "--max-sessions", 100000},
    /* 0: 4 and 20 times rate_burst (MC-137). */
    [MC_SET_REG_PER_HOUR] = {"reg_per_hour", "--reg-per-hour", 0},
    [MC_SET_REG_PER_HOUR_PREFIX] = {"reg_per_hour_prefix",
                                    "--reg-per-hour-prefix", 0},
    /* The quotas (MC-150, MC-151). */
    [MC_SET_MSG_BURST] = {"msg_burst", "--msg-burst", 50},
    [MC_SET_MSG_REFILL_MS] = {"msg_refill_ms", "--msg-refill-ms", 100},
    [MC_SET_QUOTA_BYTES] = {"quota_bytes", "--quota-bytes", 104857600},
};

static int setting_by(const char *s, size_t n, int by_flag) {
  for (int k = 0; k < MC_SET_N; k++) {
    const char *v = by_flag ? settings[k].flag : settings[k].name;
    if (strlen(v) == n && strncmp(v, s, n) == 0)
      return k;
  }
  return -1;
}

int mc_target_needs(mc_target_settings *need, const char *flags, char *err,
                    size_t errlen) {
  memset(need, 0, sizeof *need);
  char buf[512];
  snprintf(buf, sizeof buf, "%s", flags);
  char *save = NULL;
  for (char *f = strtok_r(buf, " \t", &save); f != NULL;
       f = strtok_r(NULL, " \t", &save)) {
    int k = setting_by(f, strlen(f), 1);
    char *v = strtok_r(NULL, " \t", &save), *end = NULL;
    long n = v ? strtol(v, &end, 10) : 0;
    if (k < 0 || v == NULL || *end != '\0') {
      snprintf(err, errlen, "server flag %s%s%s maps to no setting", f,
               v ? " " : "", v ? v : "");
      return -1;
    }
    need->value[k] = n;
    need->set[k] = 1;
  }
  /* Welcome tells the client its keepalive and timeout (MC-45), so every
   * case sees them: a flag left out meant the reference's default. The
   * other settings show only where a case drives them to their limit. */
  for (int k = MC_SET_KEEPALIVE_MS; k <= MC_SET_SESSION_TIMEOUT_MS; k++)
    if (!need->set[k]) {
      need->value[k] = settings[k].ref_default;
      need->set[k] = 1;
    }
  /* A burst this large tests no login limit: the case only must not run
   * out of tokens, so a server at least as generous serves it. */
  if (need->set[MC_SET_RATE_BURST] &&
      need->value[MC_SET_RATE_BURST] >= RATE_PLENTY)
    need->floor[MC_SET_RATE_BURST] = need->floor[MC_SET_RATE_REFILL_MS] = 1;
  return 0;
}

/* Whether |have| meets need |k|: equal, or as generous for a floor. */
static int meets_one(const mc_target_settings *need, int k, long have) {
  if (!need->floor[k])
    return have == need->value[k];
  return k == MC_SET_RATE_REFILL_MS ? have <= need->value[k]
                                    : have >= need->value[k];
}

void mc_target_settings_text(const mc_target_settings *s, char *b,
                             size_t cap) {
  size_t k = 0;
  b[0] = '\0';
  for (int i = 0; i < MC_SET_N; i++)
    if (s->set[i] && k < cap)
      k += (size_t)snprintf(b + k, cap - k, "%s%s=%ld", k ? " " : "",
                            settings[i].name, s->value[i]);
}

int mc_target_from_flags(mc_target_impl *im, const char *server,
                         const char *flags, char *err, size_t errlen) {
  memset(im, 0, sizeof *im);
  snprintf(im->name, sizeof im->name, "server at %s", server);
  snprintf(im->server, sizeof im->server, "%s", server);
  im->claims_all = 1;
  for (int k = 0; k < MC_SET_N; k++) {
    im->settings.value[k] = settings[k].ref_default;
    im->settings.set[k] = 1;
  }
  mc_target_settings f;
  if (mc_target_needs(&f, flags, err, errlen) < 0)
    return -1;
  for (int k = 0; k < MC_SET_N; k++)
    if (f.set[k])
      im->settings.value[k] = f.value[k];
  return 0;
}

int mc_target_meets(const mc_target_impl *im, const mc_target_settings *need,
                    mc_target_settings *run, char *why, size_t whylen) {
  *run = im->settings;
  size_t k = 0;
  why[0] = '\0';
  for (int i = 0; i < MC_SET_N; i++) {
    if (!need->set[i] ||
        (im->settings.set[i] && meets_one(need, i, im->settings.value[i])))
      continue;
    if (im->settable[i] && im->start[0] != '\0') {
      run->value[i] = need->value[i];
      run->set[i] = 1;
      continue;
    }
    if (k + 1 >= whylen)
      continue;
    const char *op = !need->floor[i]                 ? "="
                     : i == MC_SET_RATE_REFILL_MS ? "<="
                                                  : ">=";
    if (!im->settings.set[i])
      k += (size_t)snprintf(why + k, whylen - k, "%sneeds %s%s%ld, not "
                            "declared", k ? "; " : "", settings[i].name, op,
                            need->value[i]);
    else
      k += (size_t)snprintf(why + k, whylen - k, "%sneeds %s%s%ld, runs "
                            "with %ld", k ? "; " : "", settings[i].name, op,
                            need->value[i], im->settings.value[i]);
  }
  if (k > 0 && k + 1 < whylen)
    snprintf(why + k, whylen - k, " (%s)",
             im->start[0] ? "its start command cannot set it"
                          : "no start command to change it");
  return k == 0;
}

int mc_target_claims(const mc_target_impl *im, int id) {
  if (im->claims_all)
    return 1;
  for (int i = 0; i < im->n_claims; i++)
    if (im->claims[i] == id)
      return 1;
  return 0;
}

/* ---- the statement file ---- */

static char *trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    s[--n] = '\0';
  return s;
}

/* Checks the placeholders of the start command: {host}, {port}, {dir} and
 * one per declared setting; notes which settings it sets. */
static int scan_start(mc_target_impl *im, char *err, size_t errlen) {
  for (const char *p = strchr(im->start, '{'); p != NULL;
       p = strchr(p + 1, '{')) {
    const char *q = strchr(p, '}');
    if (q == NULL) {
      snprintf(err, errlen, "start: unclosed {");
      return -1;
    }
    size_t n = (size_t)(q - p - 1);
    if ((n == 4 && strncmp(p + 1, "host", 4) == 0) ||
        (n == 4 && strncmp(p + 1, "port", 4) == 0) ||
        (n == 3 && strncmp(p + 1, "dir", 3) == 0))
      continue;
    int k = setting_by(p + 1, n, 0);
    if (k < 0 || !im->settings.set[k]) {
      snprintf(err, errlen, "start: {%.*s} is %s", (int)n, p + 1,
               k < 0 ? "not a placeholder (host, port, dir or a setting)"
                     : "a setting the statement gives no value");
      return -1;
    }
    im->settable[k] = 1;
  }
  if (strstr(im->start, "{port}") == NULL) {
    snprintf(err, errlen, "start: no {port}");
    return -1;
  }
  return 0;
}

static int impl_line(mc_target_impl *im, char *key, char *v, char *err,
                     size_t errlen) {
  int k = setting_by(key, strlen(key), 0);
  if (k >= 0) {
    char *end;
    im->settings.value[k] = strtol(v, &end, 10);
    im->settings.set[k] = 1;
    if (*v == '\0' || *end != '\0') {
      snprintf(err, errlen, "%s: '%s' is not a number", key, v);
      return -1;
    }
  } else if (strcmp(key, "name") == 0) {
    snprintf(im->name, sizeof im->name, "%s", v);
  } else if (strcmp(key, "version") == 0) {
    snprintf(im->version, sizeof im->version, "%s", v);
  } else if (strcmp(key, "server") == 0) {
    snprintf(im->server, sizeof im->server, "%s", v);
  } else if (strcmp(key, "host") == 0) {
    snprintf(im->host, sizeof im->host, "%s", v);
  } else if (strcmp(key, "start") == 0) {
    if (strlen(v) >= sizeof im->start) {
      snprintf(err, errlen, "start: longer than %zu bytes", sizeof im->start);
      return -1;
    }
    snprintf(im->start, sizeof im->start, "%s", v);
  } else if (strcmp(key, "claims") == 0) {
    char *save = NULL;
    for (char *t = strtok_r(v, " \t,", &save); t != NULL;
         t = strtok_r(NULL, " \t,", &save)) {
      int id;
      if (sscanf(t, "MC-%d", &id) != 1 || im->n_claims == MC_TARGET_CLAIMS_MAX) {
        snprintf(err, errlen, "claims: '%s' is not MC-n", t);
        return -1;
      }
      im->claims[im->n_claims++] = id;
    }
  } else {
    snprintf(err, errlen, "unknown key '%s'", key);
    return -1;
  }
  return 0;
}

int mc_target_load(mc_target_impl *im, const char *path, char *err,
                   size_t errlen) {
  memset(im, 0, sizeof *im);
  snprintf(im->host, sizeof im->host, "127.0.0.1");
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  char line[2048], msg[256];
  int lineno = 0, rv = 0;
  while (rv == 0 && fgets(line, sizeof line, f) != NULL) {
    lineno++;
    char *l = trim(line);
    if (*l == '#' || *l == '\0')
      continue;
    char *eq = strchr(l, '=');
    if (eq == NULL) {
      snprintf(msg, sizeof msg, "not KEY = VALUE");
      rv = -1;
    } else {
      *eq = '\0';
      rv = impl_line(im, trim(l), trim(eq + 1), msg, sizeof msg);
    }
  }
  fclose(f);
  if (rv == 0 && im->start[0] != '\0') {
    lineno = 0;
    rv = scan_start(im, msg, sizeof msg);
  }
  if (rv == 0 && im->start[0] == '\0' && im->server[0] == '\0') {
    snprintf(msg, sizeof msg, "neither start nor server: nothing to test");
    rv = -1;
  }
  if (rv < 0) {
    if (lineno > 0)
      snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
    else
      snprintf(err, errlen, "%s: %s", path, msg);
    return -1;
  }
  if (im->name[0] == '\0')
    snprintf(im->name, sizeof im->name, "%s", path);
  return 0;
}

/* ---- starting and stopping ---- */

/* A free UDP port on |host|: bound, read back, released. */
static int free_port(const char *host, char *err, size_t errlen) {
  struct sockaddr_storage sa;
  socklen_t len;
  if (mc_udp_resolve(host, 0, &sa, &len, err, errlen) < 0)
    return -1;
  int fd = mc_udp_bind((const struct sockaddr *)&sa, len, err, errlen);
  if (fd < 0)
    return -1;
  int port = -1;
  if (mc_udp_local(fd, &sa, &len, err, errlen) == 0)
    port = sa.ss_family == AF_INET6
               ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
               : ntohs(((struct sockaddr_in *)&sa)->sin_port);
  close(fd);
  return port;
}

static int expand(const mc_target_impl *im, const mc_target_settings *run,
                  int port, const char *dir, char *out, size_t cap) {
  size_t k = 0;
  for (const char *p = im->start; *p && k + 1 < cap;) {
    const char *q = *p == '{' ? strchr(p, '}') : NULL;
    if (q == NULL) {
      out[k++] = *p++;
      continue;
    }
    size_t n = (size_t)(q - p - 1);
    int s = setting_by(p + 1, n, 0);
    int w;
    if (strncmp(p, "{host}", 6) == 0)
      w = snprintf(out + k, cap - k, "%s", im->host);
    else if (strncmp(p, "{port}", 6) == 0)
      w = snprintf(out + k, cap - k, "%d", port);
    else if (strncmp(p, "{dir}", 5) == 0)
      w = snprintf(out + k, cap - k, "%s", dir);
    else
      w = snprintf(out + k, cap - k, "%ld", s >= 0 ? run->value[s] : 0L);
    k += (size_t)w;
    p = q + 1;
  }
  if (k + 1 >= cap)
    return -1;
  out[k] = '\0';
  return 0;
}

/* The last lines of the server's output, for a start that failed. */
static void tail_output(const mc_target_proc *p, char *b, size_t cap) {
  char path[300];
  snprintf(path, sizeof path, "%s/server.out", p->dir);
  FILE *f = fopen(path, "r");
  b[0] = '\0';
  if (f == NULL)
    return;
  char all[4096];
  size_t n = fread(all, 1, sizeof all - 1, f);
  fclose(f);
  all[n] = '\0';
  size_t from = n >= cap ? n - (cap - 1) : 0;
  memcpy(b, all + from, n - from + 1);
}

/* One attempt of mc_target_start(): -2 when the server exited at once. */
static int start_once(const mc_target_impl *im, const mc_target_settings *run,
                      int ready_ms, mc_target_proc *p, char *err,
                      size_t errlen) {
  memset(p, 0, sizeof *p);
  const char *tmp = getenv("TMPDIR");
  snprintf(p->dir, sizeof p->dir, "%s/mychat-conform.XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp(p->dir) == NULL) {
    snprintf(err, errlen, "mkdtemp(%s): %s", p->dir, strerror(errno));
    p->dir[0] = '\0';
    return -1;
  }
  int port = free_port(im->host, err, errlen);
  char cmd[2048];
  if (port < 0 ||
      expand(im, run, port, p->dir, cmd, sizeof cmd) < 0) {
    if (port >= 0)
      snprintf(err, errlen, "start command too long");
    mc_target_stop(p);
    return -1;
  }
  snprintf(p->addr, sizeof p->addr, "%s%s%s:%d",
           strchr(im->host, ':') ? "[" : "", im->host,
           strchr(im->host, ':') ? "]" : "", port);
  if (mc_udp_parse(p->addr, &p->sa, &p->salen, err, errlen) < 0) {
    mc_target_stop(p);
    return -1;
  }
  char out[300];
  snprintf(out, sizeof out, "%s/server.out", p->dir);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    mc_target_stop(p);
    return -1;
  }
  if (pid == 0) {
    /* Its own process group, so that stopping it stops what the command
     * started too. */
    setpgid(0, 0);
    int in = open("/dev/null", O_RDONLY);
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in >= 0)
      dup2(in, 0);
    if (o >= 0) {
      dup2(o, 1);
      dup2(o, 2);
    }
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  setpgid(pid, pid);
  p->pid = pid;
  uint64_t deadline = mc_udp_now_us() + (uint64_t)ready_ms * 1000;
  char perr[256];
  while (mc_udp_now_us() < deadline) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      p->pid = 0;
      char t[420];
      tail_output(p, t, sizeof t);
      snprintf(err, errlen, "the server exited at once (%s %d): %s\n  %s",
               WIFEXITED(st) ? "status" : "signal",
               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), cmd, t);
      mc_target_stop(p);
     return -2;
    }
    if (mc_target_probe((const struct sockaddr *)&p->sa, p->salen, 300, perr,
                        sizeof perr) >= 0)
      return 0;
  }
  char t[420];
  tail_output(p, t, sizeof t);
  snprintf(err, errlen, "the server did not answer within %d ms: %s\n  %s",
           ready_ms, cmd, t);
  mc_target_stop(p);
  return -1;
}

int mc_target_start(const mc_target_impl *im, const mc_target_settings *run,
                    int ready_ms, mc_target_proc *p, char *err,
                    size_t errlen) {
  /* The free port was released before the server bound it: another
   * program may have taken it meanwhile, so a server that exits at once
   * gets two more ports. */
  int rv = -2;
  for (int attempt = 0; attempt < 3 && rv == -2; attempt++)
    rv = start_once(im, run, ready_ms, p, err, errlen);
  return rv < 0 ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

void mc_target_stop(mc_target_proc *p) {
  if (p->pid > 0) {
    kill(-p->pid, SIGTERM);
    uint64_t until = mc_udp_now_us() + 3000000;
    int st, reaped = 0;
    while (!(reaped = waitpid(p->pid, &st, WNOHANG) == p->pid) &&
           mc_udp_now_us() < until)
      usleep(20000);
    if (!reaped) {
      kill(-p->pid, SIGKILL);
      waitpid(p->pid, &st, 0);
    }
    p->pid = 0;
  }
  if (p->dir[0] != '\0')
    nftw(p->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
  p->dir[0] = '\0';
}
