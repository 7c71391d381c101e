#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mc_error.h"
#include "mc_netem.h"
#include "mc_tests.h"

/* Large enough that 5 sigma of a rate estimate is a few tenths of a
 * percent, small enough that the whole suite runs well under a second. */
#define SAMPLE 200000

static mc_netem make(const mc_netem_config *cfg, uint64_t seed) {
  mc_netem n;
  CU_ASSERT_FATAL(mc_netem_init(&n, cfg, seed) == 0);
  return n;
}

/* Offers SAMPLE datagrams of 100 bytes at time 0 and counts the verdicts
 * with |copies| copies. */
static unsigned count_verdicts(mc_netem *n, int copies) {
  unsigned k = 0;
  for (int i = 0; i < SAMPLE; i++) {
    mc_netem_verdict v;
    mc_netem_decide(n, 100, 0, &v);
    CU_ASSERT_FATAL(v.copies >= 0 && v.copies <= 2);
    k += v.copies == copies;
  }
  return k;
}

static void test_mc_netem_bernoulli_loss(void) {
  const double ps[] = {0.1, 0.3};
  for (size_t k = 0; k < 2; k++) {
    mc_netem_config cfg = {.loss = ps[k]};
    mc_netem n = make(&cfg, 1 + k);
    unsigned lost = count_verdicts(&n, 0);
    CU_ASSERT_EQUAL(n.stats.dropped_loss, lost);
    CU_ASSERT_EQUAL(count_verdicts(&n, 2), 0);
    /* sigma = sqrt(p(1-p)/n): 6.7e-4 at p=0.1, 1.02e-3 at p=0.3, so 0.005
     * is at least 4.9 sigma. */
    CU_ASSERT(fabs((double)lost / SAMPLE - ps[k]) < 0.005);
    CU_ASSERT_EQUAL(n.stats.offered, 2 * SAMPLE);
    CU_ASSERT_EQUAL(n.stats.delivered, 2 * SAMPLE - n.stats.dropped_loss);
  }
}

static void test_mc_netem_gilbert_elliott(void) {
  /* 1-h = 1, 1-k = 0: every Bad datagram is lost, every Good one kept. */
  mc_netem_config cfg = {
      .loss = 0.9, .ge = 1, .ge_p = 0.05, .ge_r = 0.25, .ge_1h = 1.0};
  mc_netem n = make(&cfg, 3);
  unsigned lost = 0, bursts = 0;
  int prev_lost = 0;
  for (int i = 0; i < SAMPLE; i++) {
    mc_netem_verdict v;
    mc_netem_decide(&n, 100, 0, &v);
    int l = v.copies == 0;
    CU_ASSERT_FATAL(l == n.ge_bad);
    lost += l;
    bursts += l && !prev_lost;
    prev_lost = l;
  }
  /* Stationary loss p/(p+r) = 0.1667. Successive datagrams are correlated
   * (lambda = 1-p-r = 0.7), which inflates the variance by
   * (1+lambda)/(1-lambda) = 5.67: sigma = 2.0e-3, so 0.01 is 5 sigma.
   * |loss| = 0.9 is ignored with ge set, or this would be far off. */
  double expect = 0.05 / 0.30;
  CU_ASSERT(fabs((double)lost / SAMPLE - expect) < 0.01);
  /* Burst lengths are geometric with mean 1/r = 4 and sd
   * sqrt(1-r)/r = 3.46; about n*(1-loss)*p = 8300 bursts give the mean a
   * sigma of 0.038, so 0.2 is over 5 sigma. */
  CU_ASSERT_FATAL(bursts > 0);
  CU_ASSERT(fabs((double)lost / bursts - 4.0) < 0.2);
}

static void test_mc_netem_gilbert_elliott_partial(void) {
  /* 1-h and 1-k below 1: in Good a few losses, in Bad only some. With
   * p = r = 0.5 the chain is in Bad half the time, so the loss is
   * 0.5 * 0.02 + 0.5 * 0.6 = 0.31; here lambda = 0 (no correlation),
   * sigma = 1.03e-3, and 0.006 is about 5.8 sigma. */
  mc_netem_config cfg = {
      .ge = 1, .ge_p = 0.5, .ge_r = 0.5, .ge_1h = 0.6, .ge_1k = 0.02};
  mc_netem n = make(&cfg, 4);
  unsigned lost_good = 0, lost_bad = 0, in_bad = 0;
  for (int i = 0; i < SAMPLE; i++) {
    mc_netem_verdict v;
    mc_netem_decide(&n, 100, 0, &v);
    in_bad += (unsigned)n.ge_bad;
    if (v.copies == 0)
      *(n.ge_bad ? &lost_bad : &lost_good) += 1;
  }
  CU_ASSERT(fabs((double)(lost_good + lost_bad) / SAMPLE - 0.31) < 0.006);
  /* Per state, with about 100,000 datagrams each: sigma 3e-4 for
   * 1-k = 0.02 and 1.55e-3 for 1-h = 0.6; tolerances are 5+ sigma. */
  CU_ASSERT_FATAL(in_bad > 0 && in_bad < SAMPLE);
  CU_ASSERT(fabs((double)lost_good / (SAMPLE - in_bad) - 0.02) < 0.0016);
  CU_ASSERT(fabs((double)lost_bad / in_bad - 0.6) < 0.008);
}

static void test_mc_netem_duplicate(void) {
  mc_netem_config cfg = {.duplicate = 0.2,
                         .delay = 10 * MC_MSEC,
                         .jitter = 5 * MC_MSEC};
  mc_netem n = make(&cfg, 5);
  unsigned dup = count_verdicts(&n, 2);
  CU_ASSERT_EQUAL(count_verdicts(&n, 0), 0);
  /* sigma = sqrt(0.16/n) = 8.9e-4; 0.005 is 5.6 sigma. */
  CU_ASSERT(fabs((double)dup / SAMPLE - 0.2) < 0.005);
  CU_ASSERT_EQUAL(n.stats.delivered, 2 * SAMPLE + n.stats.duplicated);
  /* Each copy has its own delay draw: over 1000 duplicates (10,001
   * possible delays) the two times differ nearly always. */
  unsigned differ = 0;
  for (unsigned seen = 0; seen < 1000;) {
    mc_netem_verdict v;
    mc_netem_decide(&n, 100, 0, &v);
    if (v.copies == 2) {
      seen++;
      differ += v.at[0] != v.at[1];
      CU_ASSERT_FATAL(v.at[1] >= 5 * MC_MSEC && v.at[1] <= 15 * MC_MSEC);
    }
  }
  CU_ASSERT(differ > 950);
}

/* Fills a datagram with bytes that depend on its number. */
static void fill(uint8_t *buf, size_t len, uint64_t k) {
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(k * 131 + i * 7);
}

static void test_mc_netem_corrupt(void) {
  mc_netem_config cfg = {.corrupt = 0.2};
  mc_netem_link l;
  CU_ASSERT_FATAL(mc_netem_link_init(&l, &cfg, 6) == 0);
  enum { N = 20000, LEN = 64 };
  unsigned corrupted = 0, bit_hist[LEN * 8] = {0};
  for (uint64_t k = 0; k < N; k++) {
    uint8_t sent[LEN], got[LEN];
    fill(sent, LEN, k);
    CU_ASSERT_FATAL(mc_netem_link_send(&l, sent, LEN, k, 0) == 1);
    uint64_t ctx = 0;
    CU_ASSERT_FATAL(mc_netem_link_recv(&l, 0, got, sizeof got, &ctx) == LEN);
    CU_ASSERT_FATAL(ctx == k);
    int diff_bits = 0, where = -1;
    for (int b = 0; b < LEN * 8; b++)
      if ((sent[b / 8] ^ got[b / 8]) & (1 << (b % 8))) {
        diff_bits++;
        where = b;
      }
    /* A corrupted copy differs in exactly one bit, never more. */
    CU_ASSERT_FATAL(diff_bits <= 1);
    if (diff_bits == 1) {
      corrupted++;
      bit_hist[where]++;
    }
  }
  /* sigma = sqrt(0.16/20000) = 2.8e-3; 0.015 is 5.3 sigma. */
  CU_ASSERT(fabs((double)corrupted / N - 0.2) < 0.015);
  CU_ASSERT_EQUAL(l.model.stats.corrupted, corrupted);
  /* Bits are chosen over the whole datagram: both halves get hits (each
   * expects about 2000). */
  unsigned low = 0;
  for (int b = 0; b < LEN * 4; b++)
    low += bit_hist[b];
  CU_ASSERT(low > 1700 && corrupted - low > 1700);
  mc_netem_link_free(&l);
}

static void test_mc_netem_reorder(void) {
  mc_netem_config cfg = {.reorder = 0.25, .delay = 10 * MC_MSEC};
  mc_netem n = make(&cfg, 7);
  unsigned reordered = 0;
  for (int i = 0; i < SAMPLE; i++) {
    mc_netem_verdict v;
    mc_tstamp now = (mc_tstamp)i * MC_MSEC;
    mc_netem_decide(&n, 100, now, &v);
    CU_ASSERT_FATAL(v.copies == 1);
    CU_ASSERT_FATAL(v.at[0] == now || v.at[0] == now + 10 * MC_MSEC);
    reordered += v.at[0] == now;
  }
  /* sigma = sqrt(0.1875/n) = 9.7e-4; 0.005 is 5.2 sigma. */
  CU_ASSERT(fabs((double)reordered / SAMPLE - 0.25) < 0.005);
  CU_ASSERT_EQUAL(n.stats.reordered, reordered);
}

static void test_mc_netem_reorder_overtakes(void) {
  /* One datagram per ms, 10 ms delay: a reordered one arrives before the
   * (up to 9) earlier ones still in flight. */
  mc_netem_config cfg = {.reorder = 0.25, .delay = 10 * MC_MSEC};
  mc_netem_link l;
  CU_ASSERT_FATAL(mc_netem_link_init(&l, &cfg, 8) == 0);
  enum { N = 2000 };
  uint64_t next_expected = 0, overtakers = 0, received = 0;
  static unsigned char got[N];
  memset(got, 0, sizeof got);
  for (uint64_t t = 0; t < N + 20; t++) {
    if (t < N) {
      uint8_t d[8];
      fill(d, sizeof d, t);
      CU_ASSERT_FATAL(mc_netem_link_send(&l, d, sizeof d, t, t * MC_MSEC) ==
                      1);
    }
    uint8_t buf[8];
    uint64_t ctx;
    while (mc_netem_link_recv(&l, t * MC_MSEC, buf, sizeof buf, &ctx) > 0) {
      CU_ASSERT_FATAL(ctx < N && !got[ctx]);
      got[ctx] = 1;
      received++;
      /* It overtook if an earlier datagram has not arrived yet. */
      overtakers += ctx > next_expected;
      while (next_expected < N && got[next_expected])
        next_expected++;
    }
  }
  CU_ASSERT_EQUAL(received, N);
  /* A reordered datagram fails to overtake only if the 9 before it were all
   * reordered too (0.25^9); so nearly every reordered one overtakes. About
   * 500 are reordered (sigma 19); 400 is over 5 sigma below. */
  CU_ASSERT(overtakers > 400);
  CU_ASSERT(overtakers <= l.model.stats.reordered);
  mc_netem_link_free(&l);
}

static void check_delay_bounds(mc_tstamp delay, mc_tstamp jitter,
                               uint64_t seed) {
  mc_netem_config cfg = {.delay = delay, .jitter = jitter};
  mc_netem n = make(&cfg, seed);
  mc_tstamp lo = MC_TSTAMP_NEVER, hi = 0;
  double sum = 0;
  for (int i = 0; i < SAMPLE; i++) {
    mc_netem_verdict v;
    mc_tstamp now = 1000 * MC_SEC + (mc_tstamp)i * 100;
    mc_netem_decide(&n, 100, now, &v);
    CU_ASSERT_FATAL(v.copies == 1);
    CU_ASSERT_FATAL(v.at[0] >= now);
    CU_ASSERT_FATAL(v.at[0] + jitter >= now + delay);
    CU_ASSERT_FATAL(v.at[0] <= now + delay + jitter);
    mc_tstamp d = v.at[0] - now;
    lo = d < lo ? d : lo;
    hi = d > hi ? d : hi;
    sum += (double)d;
  }
  /* The whole range is used: each end's 100 us band holds at least 101 of
   * at most 40,001 values, so 200,000 draws all miss it with probability
   * below e^-500 (the band of the clamped end is far wider still). */
  mc_tstamp lowest = delay > jitter ? delay - jitter : 0;
  CU_ASSERT(lo >= lowest && lo <= lowest + 100);
  CU_ASSERT(hi <= delay + jitter && hi + 100 >= delay + jitter);
  if (jitter <= delay) {
    /* The mean of a uniform on [-j, j] has sigma j/sqrt(3n) = 25.8 us for
     * j = 20 ms; 150 us is 5.8 sigma. */
    CU_ASSERT(fabs(sum / SAMPLE - (double)delay) < 150);
  }
}

static void test_mc_netem_delay_jitter(void) {
  check_delay_bounds(50 * MC_MSEC, 20 * MC_MSEC, 9);
  /* jitter > delay: deliveries that would be before now are clamped. */
  check_delay_bounds(5 * MC_MSEC, 20 * MC_MSEC, 10);
  /* No jitter at all: exactly the delay. */
  check_delay_bounds(7 * MC_MSEC, 0, 11);
}

static void test_mc_netem_rate_exact(void) {
  /* 1200 bytes at 3.5 Mbit/s take 2742.857 us, not a whole number: 1000
   * back to back leave at exactly i * 19200/7 us rounded up, with no
   * rounding drift, never more than one per 2742.857 us. */
  mc_netem_config cfg = {.rate_bps = 3500000, .delay = 5 * MC_MSEC};
  mc_netem n = make(&cfg, 12);
  mc_tstamp prev = 0;
  for (uint64_t i = 1; i <= 1000; i++) {
    mc_netem_verdict v;
    mc_netem_decide(&n, 1200, 0, &v);
    CU_ASSERT_FATAL(v.copies == 1);
    /* Leave time is rounded up to a microsecond, then the delay. */
    mc_tstamp leave = (i * 19200 + 6) / 7;
    CU_ASSERT_FATAL(v.at[0] == leave + 5 * MC_MSEC);
    CU_ASSERT_FATAL(i == 1 || v.at[0] - prev == 2742 || v.at[0] - prev == 2743);
    prev = v.at[0];
  }
  CU_ASSERT_EQUAL(prev, 2742858 + 5 * MC_MSEC);
  CU_ASSERT_EQUAL(n.stats.dropped_queue, 0);
  /* An idle line starts over at now. */
  mc_netem_verdict v;
  mc_netem_decide(&n, 1200, 10 * MC_SEC, &v);
  CU_ASSERT_EQUAL(v.at[0], 10 * MC_SEC + 2743 + 5 * MC_MSEC);
  /* The line is free at 10 s + 2742.857 us, so a datagram offered at
   * 10 s + 2742 us still waits for that fraction: it leaves at
   * 10 s + 5485.714 us, rounded up. */
  mc_netem_decide(&n, 1200, 10 * MC_SEC + 2742, &v);
  CU_ASSERT_EQUAL(v.at[0], 10 * MC_SEC + 5486 + 5 * MC_MSEC);
}

static void test_mc_netem_queue_limit(void) {
  /* 1250 bytes at 1 Mbit/s take 10 ms. 20 offered at once with a queue of
   * 5: one on the line and 5 waiting are kept, 14 dropped. */
  mc_netem_config cfg = {.rate_bps = 1000000, .queue_limit = 5};
  mc_netem n = make(&cfg, 13);
  int kept = 0;
  for (int i = 0; i < 20; i++) {
    mc_netem_verdict v;
    mc_netem_decide(&n, 1250, 0, &v);
    if (v.copies == 1) {
      kept++;
      CU_ASSERT_EQUAL(v.at[0], (mc_tstamp)kept * 10 * MC_MSEC);
    }
  }
  CU_ASSERT_EQUAL(kept, 6);
  CU_ASSERT_EQUAL(n.stats.dropped_queue, 14);
  /* 25 ms later two and a half have left: the backlog is 35 ms, under 5
   * transmissions (50 ms), so one more fits; then it is 45 ms, still
   * under 50 ms, so another; then 55 ms is over. */
  int more = 0;
  for (int i = 0; i < 5; i++) {
    mc_netem_verdict v;
    mc_netem_decide(&n, 1250, 25 * MC_MSEC, &v);
    more += v.copies;
  }
  CU_ASSERT_EQUAL(more, 2);
  /* A smaller datagram has a smaller allowance (5 x 1 ms), so it is
   * dropped, while without a limit nothing ever is. */
  mc_netem_verdict v;
  mc_netem_decide(&n, 125, 25 * MC_MSEC, &v);
  CU_ASSERT_EQUAL(v.copies, 0);
  cfg.queue_limit = 0;
  n = make(&cfg, 13);
  for (int i = 0; i < 1000; i++) {
    mc_netem_decide(&n, 1250, 0, &v);
    CU_ASSERT_FATAL(v.copies == 1);
  }
  CU_ASSERT_EQUAL(v.at[0], 10 * MC_SEC);
}

static void test_mc_netem_rate_throughput(void) {
  /* Offered load 1.5x a 2 Mbit/s line for 20 s of virtual time with random
   * sizes and gaps; the queue limit drops the excess and the line runs
   * at rate_bps. */
  mc_netem_config cfg = {.rate_bps = 2000000, .queue_limit = 20};
  mc_netem n = make(&cfg, 14);
  mc_rng r;
  mc_rng_seed(&r, 15);
  uint64_t bits = 0, offered_bits = 0;
  mc_tstamp now = 0, last = 0;
  /* Mean size 650 bytes = 5200 bits; at 3 Mbit/s offered that is one per
   * 1.733 ms. */
  while (now < 20 * MC_SEC) {
    size_t len = 100 + (size_t)mc_rng_below(&r, 1101);
    mc_netem_verdict v;
    mc_netem_decide(&n, len, now, &v);
    offered_bits += len * 8;
    if (v.copies == 1) {
      bits += len * 8;
      /* With no delay, at is when the last bit left. */
      CU_ASSERT_FATAL(v.at[0] > last);
      last = v.at[0];
    }
    now += 1 + mc_rng_below(&r, 3466);
  }
  CU_ASSERT_FATAL(n.stats.dropped_queue > 0);
  double rate = (double)bits * 1e6 / (double)last;
  /* The line is never idle once the queue fills (after a few ms), so the
   * measured rate is rate_bps up to the idle start-up; 1% is ample. */
  CU_ASSERT(fabs(rate - 2e6) / 2e6 < 0.01);
  /* At 1.5x load a third of the offered bits cannot fit. The offered load
   * itself varies: about 11,500 datagrams of sd 318 bytes give the offered
   * bits a relative sd under 0.6%, which moves this fraction by under
   * 0.004; 0.02 is 5 of those. (Counted in datagrams the fraction is
   * higher, since the queue limit is in transmissions at each datagram's
   * own size and small ones hit it first.) */
  double dropped = 1.0 - (double)bits / (double)offered_bits;
  CU_ASSERT(fabs(dropped - 1.0 / 3.0) < 0.02);
}

static int by_time(const void *a, const void *b) {
  const mc_netem_pkt *x = a, *y = b;
  if (x->at != y->at)
    return x->at < y->at ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

static void test_mc_netem_link_order(void) {
  /* A link delivers exactly what an identically seeded model decides, in
   * (time, offer) order. */
  mc_netem_config cfg = {.loss = 0.1,
                         .delay = 20 * MC_MSEC,
                         .jitter = 15 * MC_MSEC,
                         .reorder = 0.1,
                         .duplicate = 0.1,
                         .rate_bps = 5000000,
                         .queue_limit = 8};
  mc_netem_link l;
  mc_netem n = make(&cfg, 16);
  CU_ASSERT_FATAL(mc_netem_link_init(&l, &cfg, 16) == 0);
  enum { N = 5000 };
  static mc_netem_pkt expect[2 * N];
  size_t ne = 0;
  uint64_t order = 0;
  /* Offered at 2.9 Mbit/s on average, so the queue rarely overflows. */
  for (uint64_t i = 0; i < N; i++) {
    mc_tstamp now = i * 1500;
    size_t len = 50 + i % 1000;
    uint8_t d[1100];
    fill(d, len, i);
    mc_netem_verdict v;
    mc_netem_decide(&n, len, now, &v);
    CU_ASSERT_FATAL(mc_netem_link_send(&l, d, len, i, now) == v.copies);
    for (int c = 0; c < v.copies; c++)
      expect[ne++] = (mc_netem_pkt){.at = v.at[c], .order = order++, .ctx = i};
  }
  qsort(expect, ne, sizeof expect[0], by_time);
  /* Drain by stepping the clock to each expiry. */
  size_t got = 0;
  mc_tstamp prev = 0;
  for (mc_tstamp t; (t = mc_netem_link_expiry(&l)) != MC_TSTAMP_NEVER;) {
    CU_ASSERT_FATAL(t >= prev);
    prev = t;
    uint8_t buf[1100];
    uint64_t ctx;
    /* Nothing is handed out before it is due. */
    CU_ASSERT_FATAL(mc_netem_link_recv(&l, t - 1, buf, sizeof buf, &ctx) == 0);
    int len = mc_netem_link_recv(&l, t, buf, sizeof buf, &ctx);
    CU_ASSERT_FATAL(len > 0 && got < ne);
    CU_ASSERT_FATAL(expect[got].at == t && expect[got].ctx == ctx);
    CU_ASSERT_FATAL((size_t)len == 50 + ctx % 1000);
    got++;
  }
  CU_ASSERT_EQUAL(got, ne);
  /* About 10% lost, 10% duplicated: roughly N copies, and certainly more
   * than 80% of N. */
  CU_ASSERT(ne > N * 8 / 10);
  CU_ASSERT(l.model.stats.dropped_loss > 0 && l.model.stats.duplicated > 0);
  mc_netem_link_free(&l);
}

static void test_mc_netem_link_edges(void) {
  mc_netem_config cfg = {0};
  mc_netem_link l;
  CU_ASSERT_FATAL(mc_netem_link_init(&l, &cfg, 17) == 0);
  CU_ASSERT_EQUAL(mc_netem_link_expiry(&l), MC_TSTAMP_NEVER);
  uint8_t d[32] = {1, 2, 3}, buf[32];
  uint64_t ctx = 0;
  CU_ASSERT_EQUAL(mc_netem_link_send(&l, d, 0, 1, 5), MC_ERR_INVAL);
  CU_ASSERT_EQUAL(mc_netem_link_send(&l, NULL, 4, 1, 5), MC_ERR_INVAL);
  /* Ties come out in offer order. */
  for (uint64_t i = 0; i < 40; i++)
    CU_ASSERT_EQUAL(mc_netem_link_send(&l, d, 1 + i % 32, i, 5), 1);
  CU_ASSERT_EQUAL(mc_netem_link_expiry(&l), 5);
  CU_ASSERT_EQUAL(mc_netem_link_recv(&l, 4, buf, sizeof buf, &ctx), 0);
  /* Too small a buffer leaves the datagram queued. */
  CU_ASSERT_EQUAL(mc_netem_link_recv(&l, 5, buf, 0, &ctx), MC_ERR_BUFFER_TOO_SMALL);
  for (uint64_t i = 0; i < 20; i++) {
    CU_ASSERT_EQUAL(mc_netem_link_recv(&l, 5, buf, sizeof buf, &ctx),
                    (int)(1 + i % 32));
    CU_ASSERT_EQUAL(ctx, i);
  }
  /* Freeing with datagrams queued releases them (ASan checks), and the
   * link is empty afterwards. */
  mc_netem_link_free(&l);
  CU_ASSERT_EQUAL(mc_netem_link_expiry(&l), MC_TSTAMP_NEVER);
  mc_netem_link_free(&l);
}

/* Runs 10,000 decisions and says whether two seeds gave the same ones. */
static int same_verdicts(uint64_t s1, uint64_t s2) {
  mc_netem_config cfg = {.loss = 0.2,
                         .delay = 10 * MC_MSEC,
                         .jitter = 5 * MC_MSEC,
                         .reorder = 0.1,
                         .duplicate = 0.1,
                         .corrupt = 0.1};
  mc_netem a = make(&cfg, s1), b = make(&cfg, s2);
  int same = 1;
  for (int i = 0; i < 10000; i++) {
    mc_netem_verdict va, vb;
    mc_netem_decide(&a, 200, (mc_tstamp)i * 100, &va);
    mc_netem_decide(&b, 200, (mc_tstamp)i * 100, &vb);
    same &= va.copies == vb.copies;
    for (int c = 0; c < 2; c++)
      same &= va.at[c] == vb.at[c] && va.corrupt_bit[c] == vb.corrupt_bit[c];
  }
  return same;
}

static void test_mc_netem_repeatable(void) {
  CU_ASSERT(same_verdicts(99, 99));
  CU_ASSERT(!same_verdicts(99, 100));
  CU_ASSERT(!same_verdicts(0, 1));
}

static void test_mc_netem_config_check(void) {
  mc_netem_config good = {.loss = 1.0,
                          .ge = 1,
                          .ge_p = 0.0,
                          .ge_r = 1.0,
                          .ge_1h = 0.5,
                          .ge_1k = 0.5,
                          .delay = MC_NETEM_MAX_DELAY,
                          .jitter = MC_NETEM_MAX_DELAY,
                          .rate_bps = MC_NETEM_MAX_RATE,
                          .queue_limit = UINT32_MAX};
  CU_ASSERT_EQUAL(mc_netem_config_check(&good), 0);
  CU_ASSERT_EQUAL(mc_netem_config_check(NULL), MC_ERR_INVAL);
  double *probs[] = {&good.loss,  &good.ge_p,    &good.ge_r,
                     &good.ge_1h, &good.ge_1k,   &good.reorder,
                     &good.duplicate, &good.corrupt};
  const double bad[] = {-0.01, 1.01, NAN, INFINITY, -INFINITY};
  for (size_t i = 0; i < sizeof probs / sizeof probs[0]; i++) {
    double keep = *probs[i];
    for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
      *probs[i] = bad[j];
      CU_ASSERT_EQUAL(mc_netem_config_check(&good), MC_ERR_INVAL);
    }
    *probs[i] = keep;
  }
  mc_netem_config c = good;
  c.ge = 2;
  CU_ASSERT_EQUAL(mc_netem_config_check(&c), MC_ERR_INVAL);
  c = good;
  c.delay++;
  CU_ASSERT_EQUAL(mc_netem_config_check(&c), MC_ERR_INVAL);
  c = good;
  c.jitter++;
  CU_ASSERT_EQUAL(mc_netem_config_check(&c), MC_ERR_INVAL);
  c = good;
  c.rate_bps++;
  CU_ASSERT_EQUAL(mc_netem_config_check(&c), MC_ERR_INVAL);
  /* init and link_init refuse a bad config too. */
  c.rate_bps = 0;
  c.loss = 2;
  mc_netem n;
  mc_netem_link l;
  CU_ASSERT_EQUAL(mc_netem_init(&n, &c, 1), MC_ERR_INVAL);
  CU_ASSERT_EQUAL(mc_netem_link_init(&l, &c, 1), MC_ERR_INVAL);
}

static void test_mc_netem_extremes(void) {
  /* loss = 1 drops all, probability 1 always fires, and the largest delay
   * and jitter at a late clock neither overflow nor go before now. */
  mc_netem_config cfg = {.loss = 1.0};
  mc_netem n = make(&cfg, 18);
  mc_netem_verdict v;
  for (int i = 0; i < 1000; i++) {
    mc_netem_decide(&n, 10, 0, &v);
    CU_ASSERT_FATAL(v.copies == 0 && v.corrupt_bit[0] == -1);
  }
  cfg = (mc_netem_config){.duplicate = 1.0,
                          .corrupt = 1.0,
                          .delay = MC_NETEM_MAX_DELAY,
                          .jitter = MC_NETEM_MAX_DELAY,
                          .rate_bps = 1};
  n = make(&cfg, 19);
  mc_tstamp now = 1ULL << 62;
  for (int i = 0; i < 1000; i++) {
    mc_netem_decide(&n, 1, now, &v);
    CU_ASSERT_FATAL(v.copies == 2);
    for (int c = 0; c < 2; c++) {
      CU_ASSERT_FATAL(v.at[c] >= now);
      CU_ASSERT_FATAL(v.corrupt_bit[c] >= 0 && v.corrupt_bit[c] < 8);
    }
  }
  /* 2000 one-byte copies at 1 bit/s keep the line busy for 16,000 s. */
  CU_ASSERT_EQUAL(n.busy_until, now + 16000 * MC_SEC);
  /* An empty datagram cannot be corrupted. */
  mc_netem_decide(&n, 0, now, &v);
  CU_ASSERT_EQUAL(v.corrupt_bit[0], -1);
  CU_ASSERT_EQUAL(v.corrupt_bit[1], -1);
}

/* A link changed mid-run keeps its random stream and stats and takes the
 * new settings from the next datagram on; a bad config changes nothing. */
static void test_mc_netem_reconfigure(void) {
  mc_netem_config clean = {0}, lossy = {.loss = 1.0};
  mc_netem n = make(&clean, 4);
  CU_ASSERT_EQUAL(count_verdicts(&n, 1), SAMPLE);
  mc_netem_config bad = {.loss = 2.0};
  CU_ASSERT_EQUAL(mc_netem_reconfigure(&n, &bad), MC_ERR_INVAL);
  CU_ASSERT_EQUAL(n.cfg.loss, 0.0);
  CU_ASSERT_EQUAL(mc_netem_reconfigure(&n, &lossy), 0);
  CU_ASSERT_EQUAL(count_verdicts(&n, 0), SAMPLE);
  CU_ASSERT_EQUAL(n.stats.offered, 2 * SAMPLE);
  CU_ASSERT_EQUAL(n.stats.dropped_loss, SAMPLE);
}

static CU_TestInfo tests[] = {
    {"bernoulli_loss", test_mc_netem_bernoulli_loss},
    {"gilbert_elliott", test_mc_netem_gilbert_elliott},
    {"gilbert_elliott_partial", test_mc_netem_gilbert_elliott_partial},
    {"duplicate", test_mc_netem_duplicate},
    {"corrupt", test_mc_netem_corrupt},
    {"reorder", test_mc_netem_reorder},
    {"reorder_overtakes", test_mc_netem_reorder_overtakes},
    {"delay_jitter", test_mc_netem_delay_jitter},
    {"rate_exact", test_mc_netem_rate_exact},
    {"queue_limit", test_mc_netem_queue_limit},
    {"rate_throughput", test_mc_netem_rate_throughput},
    {"link_order", test_mc_netem_link_order},
    {"link_edges", test_mc_netem_link_edges},
    {"repeatable", test_mc_netem_repeatable},
    {"config_check", test_mc_netem_config_check},
    {"extremes", test_mc_netem_extremes},
    {"reconfigure", test_mc_netem_reconfigure},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mc_netem_suite = {.pName = "netem", .pTests = tests};
