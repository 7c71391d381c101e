/*
 * mc_authpool.c: worker threads for password jobs (mc_authpool.h).
 *
 * Two singly linked FIFO queues under one mutex: |todo| (loop -> workers,
 * signalled by a condition variable) and |done| (workers -> loop, signalled
 * by writing the eventfd). Jobs are few and slow, so one lock is plenty.
 */
#include "mc_authpool.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct node {
  struct node *next;
  mc_auth_job job;
} node;

typedef struct {
  node *head, *tail;
} queue;

struct mc_authpool {
  pthread_mutex_t lock;
  pthread_cond_t wake;           /* todo got a job, or stop was set */
  queue todo, done;
  int stop;                      /* workers exit when set */
  int evfd;
  unsigned nthreads;             /* started, to be joined */
  pthread_t *threads;
};

static void q_push(queue *q, node *n) {
  n->next = NULL;
  if (q->tail)
    q->tail->next = n;
  else
    q->head = n;
  q->tail = n;
}

static node *q_pop(queue *q) {
  node *n = q->head;
  if (n) {
    q->head = n->next;
    if (q->head == NULL)
      q->tail = NULL;
  }
  return n;
}

/* Passwords must not linger in freed memory. */
static void node_free(node *n) {
  sodium_memzero(n, sizeof *n);
  free(n);
}

static void q_clear(queue *q) {
  node *n;
  while ((n = q_pop(q)) != NULL)
    node_free(n);
}

static void *worker(void *arg) {
  mc_authpool *p = arg;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (!p->stop && p->todo.head == NULL)
      pthread_cond_wait(&p->wake, &p->lock);
    if (p->stop)
      break;
    node *n = q_pop(&p->todo);
    pthread_mutex_unlock(&p->lock);
    mc_auth_job_run(&n->job);
    pthread_mutex_lock(&p->lock);
    q_push(&p->done, n);
    uint64_t one = 1;
    /* The counter cannot overflow with so few jobs; a failed write would
     * only delay the loop until its next wakeup. */
    ssize_t w = write(p->evfd, &one, sizeof one);
    (void)w;
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

mc_authpool *mc_authpool_new(unsigned threads, char *err, size_t errlen) {
  mc_authpool *p = calloc(1, sizeof *p);
  if (p == NULL || (p->threads = calloc(threads, sizeof *p->threads)) == NULL) {
    free(p);
    snprintf(err, errlen, "auth workers: out of memory");
    return NULL;
  }
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->wake, NULL);
  p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (p->evfd < 0) {
    snprintf(err, errlen, "eventfd: %s", strerror(errno));
    mc_authpool_del(p);
    return NULL;
  }
  for (unsigned i = 0; i < threads; i++) {
    int rv = pthread_create(&p->threads[i], NULL, worker, p);
    if (rv != 0) {
      snprintf(err, errlen, "pthread_create: %s", strerror(rv));
      mc_authpool_del(p);
      return NULL;
    }
    p->nthreads++;
  }
  return p;
}

void mc_authpool_del(mc_authpool *p) {
  if (p == NULL)
    return;
  pthread_mutex_lock(&p->lock);
  p->stop = 1;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  for (unsigned i = 0; i < p->nthreads; i++)
    pthread_join(p->threads[i], NULL);
  q_clear(&p->todo);
  q_clear(&p->done);
  if (p->evfd >= 0)
    close(p->evfd);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->lock);
  free(p->threads);
  free(p);
}

int mc_authpool_fd(const mc_authpool *p) { return p->evfd; }

int mc_authpool_submit(mc_authpool *p, const mc_auth_job *job) {
  node *n = malloc(sizeof *n);
  if (n == NULL)
    return -1;
  n->job = *job;
  pthread_mutex_lock(&p->lock);
  q_push(&p->todo, n);
  pthread_cond_signal(&p->wake);
  pthread_mutex_unlock(&p->lock);
  return 0;
}

int mc_authpool_take(mc_authpool *p, mc_auth_job *job) {
  pthread_mutex_lock(&p->lock);
  node *n = q_pop(&p->done);
  if (n == NULL) {
    /* Reading under the lock pairs with the workers' write under the lock:
     * no finished job can be left behind a cleared counter. */
    uint64_t count;
    ssize_t r = read(p->evfd, &count, sizeof count);
    (void)r; /* EAGAIN: it was clear already */
  }
  pthread_mutex_unlock(&p->lock);
  if (n == NULL)
    return 0;
  *job = n->job;
  node_free(n);
  return 1;
}
