/*
 * mc_record_cases.h: the conformance scenarios, included by mc_record.c
 * (they use its static helpers). One function per case; the table at the
 * end gives each its name, server flags, description and the MC-n it
 * checks. Endpoint numbers in "retransmit:" lines are the order in which
 * the scenario opens endpoints, from 0.
 */

#define G_CREATE MYCHAT__ENVELOPE__BODY_CREATE_GROUP
#define G_JOIN MYCHAT__ENVELOPE__BODY_JOIN_GROUP
#define G_LEAVE MYCHAT__ENVELOPE__BODY_LEAVE_GROUP

/* Registers alice and bob (the second endpoint), bob not acking on his
 * own; returns alice's endpoint and stores bob's in |*b|. */
static int alice_and_mute_bob(rec *r, int *b) {
  int a = hs(r, 1, N(r, "alice"), 0);
  *b = hs(r, 1, N(r, "bob"), 0);
  r->ep[*b].autoack = 0;
  return a;
}

/* CreateGroup of this case's group |role| from |ep| with a seq of the
 * script's choosing (out of order, beyond the window), then a settle. */
static void create_at(rec *r, int ep, const char *role, uint32_t seq) {
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__CreateGroup g = MYCHAT__CREATE_GROUP__INIT;
  g.name = (char *)N(r, role);
  env.body_case = G_CREATE;
  env.create_group = &g;
  send_env(r, ep, &env, seq);
  settle(r);
}

/* Registers |owner|, who creates the group g, and |member|, who joins it
 * (each asking for Presence or not); returns the owner's endpoint and
 * stores the member's in |*m|. */
static int group_pair(rec *r, const char *owner, int owner_presence,
                      const char *member, int member_presence, int *m) {
  int o = hs(r, 1, N(r, owner), owner_presence);
  req_group(r, o, G_CREATE, N(r, "g"));
  *m = hs(r, 1, N(r, member), member_presence);
  req_group(r, *m, G_JOIN, N(r, "g"));
  return o;
}

/* |n| messages from |ep| to bob back to back, then a settle. */
static void burst_to_bob(rec *r, int ep, int n, const char *text) {
  for (int i = 0; i < n; i++)
    say(r, ep, N(r, "bob"), NULL, text, 0);
  settle(r);
}

static void sc_hs_register(rec *r) { hs(r, 1, N(r, "alice"), 0); }

static void sc_hs_register_taken(rec *r) {
  hs(r, 1, N(r, "alice"), 0);
  hs(r, 1, N(r, "alice"), 0);
}

static void sc_hs_login(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  logout(r, a);
  int b = hs(r, 0, N(r, "alice"), 0);
  req_list(r, b, MYCHAT__LIST_KIND__LIST_MY_GROUPS, "");
}

static void sc_hs_login_fail(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  logout(r, a);
  hs_opt o = {.reg = 0, .name = N(r, "alice"), .pw = "wrong-pw"};
  hs_send(r, ep_new(r), &o);
  o.name = N(r, "nobody");
  hs_send(r, ep_new(r), &o);
}

static void sc_hs_bad_fields(rec *r) {
  int e = ep_new(r);
  char longpw[MC_PASSWORD_MAX + 2];
  memset(longpw, 'p', sizeof longpw - 1);
  longpw[sizeof longpw - 1] = '\0';
  const char *long_name = "abcdefghijklmnopqrstuvwxyz0123456"; /* 33 */
  hs_opt o = {.reg = 1, .name = N(r, "alice"), .pw = "abc"};
  hs_send(r, e, &o);                /* BAD_PASSWORD: 3 bytes */
  o.pw = longpw;
  hs_send(r, e, &o);                /* BAD_PASSWORD: 129 bytes */
  o.pw = "secret-pw";
  o.name = "_alice";
  hs_send(r, e, &o);                /* BAD_NAME: leading _ */
  o.name = long_name;
  hs_send(r, e, &o);                /* BAD_NAME: 33 bytes */
  o.name = "al ice";
  hs_send(r, e, &o);                /* BAD_NAME: a space */
  o.name = "";
  hs_send(r, e, &o);                /* BAD_NAME: empty */
  o.name = N(r, "alice");
  o.zero_nonce = 1;
  hs_send(r, e, &o);                /* MALFORMED: nonce 0 */
  o.zero_nonce = 0;
  o.reg = 0;
  o.pw = "abc";
  hs_send(r, e, &o);                /* Login: BAD_PASSWORD */
}

static void sc_hs_header(rec *r) {
  int e = ep_new(r);
  hs_opt o = {.reg = 1, .name = N(r, "alice"), .pw = "secret-pw",
              .sid = 77};
  hs_send(r, e, &o);                /* session header: BAD_REQUEST */
  o.sid = 0;
  o.seq = 1;
  hs_send(r, e, &o);                /* seq: BAD_REQUEST */
  o.name = "_bad";
  hs_send(r, e, &o);                /* seq and bad name: header first */
  o.seq = 0;
  o.unpadded = 1;
  hs_send(r, e, &o);                /* short and bad name: dropped */
  o.name = N(r, "alice");
  hs_send(r, e, &o);                /* short: dropped */
  o.unpadded = 0;
  hs_send(r, e, &o);                /* padded: Welcome */
}

static void sc_hs_retransmit(rec *r) {
  int e = ep_new(r);
  uint8_t d[MC_DATAGRAM_MAX];
  uint64_t nonce;
  hs_opt o = {.reg = 1, .name = N(r, "alice"), .pw = "secret-pw"};
  size_t len = hs_build(r, &o, d, &nonce);
  raw(r, e, d, len);
  settle(r);
  raw(r, e, d, len);                /* the same Register: the same Welcome */
  settle(r);
  int f = ep_new(r);
  raw(r, f, d, len);                /* from elsewhere: still the same */
  settle(r);
  req_list(r, e, MYCHAT__LIST_KIND__LIST_MY_GROUPS, "");
}

/* Values exactly at the handshake limits, each with the one just past it
 * where that is not in hs-bad-fields already. */
static void sc_hs_limits(rec *r) {
  int e = ep_new(r);
  hs_opt o = {.reg = 1, .name = N(r, "alice"), .pw = "secret-pw",
              .size = MC_HANDSHAKE_MIN - 1};
  hs_send(r, e, &o);                /* 255 bytes: dropped */
  o.size = MC_HANDSHAKE_MIN;
  hs_send(r, e, &o);                /* 256 bytes: Welcome */
  o.size = 0;
  /* Names of 32 and 33 bytes: the tag and case number take 9. */
  o.name = N(r, "abcdefghijklmnopqrstuvw");
  hs_send(r, ep_new(r), &o);        /* 32 bytes: Welcome */
  o.name = N(r, "abcdefghijklmnopqrstuvwx");
  hs_send(r, ep_new(r), &o);        /* 33 bytes: BAD_NAME */
  char pw[MC_PASSWORD_MAX + 1];
  memset(pw, 'p', MC_PASSWORD_MAX);
  pw[MC_PASSWORD_MAX] = '\0';
  o.name = N(r, "bob");
  o.pw = pw;
  hs_send(r, ep_new(r), &o);        /* 128-byte password: Welcome */
  o.name = N(r, "carol");
  o.pw = "four";
  hs_send(r, ep_new(r), &o);        /* 4-byte password: Welcome */
}

static void sc_hs_busy(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  hs(r, 1, N(r, "bob"), 0);         /* SERVER_BUSY: one session at most */
  logout(r, a);                     /* room again for hs-busy-pending */
}

/* Handshake |oa| from |a| and |ob| from |b| back to back (each with a
 * fresh nonce), then a settle: the second arrives while the first one's
 * auth job is pending. */
static void hs_at_once(rec *r, int a, const hs_opt *oa, int b,
                       const hs_opt *ob) {
  uint8_t da[MC_DATAGRAM_MAX], db[MC_DATAGRAM_MAX];
  uint64_t nonce;
  size_t la = hs_build(r, oa, da, &nonce);
  size_t lb = hs_build(r, ob, db, &nonce);
  raw(r, a, da, la);
  raw(r, b, db, lb);
  settle(r);
}

/* Two Registers at once against a cap of one session: when the second
 * arrives the first one's auth job is pending (or its session live), and
 * pending jobs count (MC-42), so the second gets SERVER_BUSY. Logout
 * leaves room for the next round and the next case. A fast password hash
 * may end the first job before the second datagram is read, and then a
 * server that counts only live sessions answers the same: several
 * rounds make it likely that one of them finds the job pending. */
#define BUSY_PENDING_ROUNDS 4
static void sc_hs_busy_pending(rec *r) {
  for (int i = 0; i < BUSY_PENDING_ROUNDS; i++) {
    char ra[24], rb[24];
    snprintf(ra, sizeof ra, "alice%d", i);
    snprintf(rb, sizeof rb, "bob%d", i);
    int a = ep_new(r), b = ep_new(r);
    hs_opt o = {.reg = 1, .name = N(r, ra), .pw = "secret-pw"};
    hs_opt p = o;
    p.name = N(r, rb);
    hs_at_once(r, a, &o, b, &p);
    logout(r, a);
    /* The logged-out session lingers until its Result is acked (MC-66);
     * whether it still counts against the cap then is not the case's
     * business, so the next round waits for our ack to arrive. */
    wait_ms(r, 100, 0, 100);
  }
}

static void sc_hs_rate(rec *r) {
  hs(r, 1, N(r, "alice"), 0);       /* defaults in the Welcome */
  hs_opt o = {.reg = 0, .name = N(r, "alice"), .pw = "wrong-pw"};
  int e = ep_new(r);
  for (int i = 0; i < 5; i++)       /* 4 x AUTH_FAILED, then RATE_LIMITED */
    hs_send(r, e, &o);
}

static void sc_sess_unknown(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  endpoint *e = &r->ep[a];
  uint8_t good[MC_TOKEN_LEN];
  memcpy(good, e->tok, sizeof good);
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__ListRequest l = MYCHAT__LIST_REQUEST__INIT;
  /* A cursor makes the datagram big enough for the Error (MC-60). */
  l.after = (char *)N(r, "cursor-name");
  env.body_case = MYCHAT__ENVELOPE__BODY_LIST;
  env.list = &l;
  e->tok[0] ^= 0x5a;                /* wrong token */
  send_env(r, a, &env, 1);
  settle(r);
  memcpy(e->tok, good, sizeof good);
  e->tok[MC_TOKEN_LEN - 1] ^= 0x01; /* wrong only in its last bit */
  send_env(r, a, &env, 1);
  settle(r);
  memcpy(e->tok, good, sizeof good);
  uint64_t sid = e->sid;
  e->sid = 0x1122334455667788ULL;   /* no such session */
  send_env(r, a, &env, 1);
  settle(r);
  e->in_session = 0;                /* no session header at all */
  send_env(r, a, &env, 1);
  settle(r);
  e->in_session = 1;
  e->sid = sid;
  req(r, a, &env);                  /* the right one: served */
}

/* A new endpoint that takes over the session of |from|, as a NAT
 * rebinding makes a client's datagrams come from a new port. */
static int ep_moved(rec *r, int from) {
  int e = ep_new(r);
  int fd = r->ep[e].fd;
  r->ep[e] = r->ep[from];
  r->ep[e].fd = fd;
  return e;
}

/* The session follows its client to a new address on any datagram that
 * brings something new (MC-56, MC-143): a request, then a Ping, then an
 * ack-only datagram that acknowledges more. At each new address the server
 * sends at most three times what it received there until the address is
 * validated by an ack of a push sent there (MC-142): after the Ping bob's
 * message waits for two more Pings from there. */
static void sc_sess_migrate(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  req_group(r, a, G_CREATE, N(r, "g"));
  int b = ep_moved(r, a);
  req_list(r, b, MYCHAT__LIST_KIND__LIST_MY_GROUPS, "");
  int c = hs(r, 1, N(r, "bob"), 0);
  req_group(r, c, G_JOIN, N(r, "g"));
  say(r, c, NULL, N(r, "g"), "to the new address", 1);
  int d = ep_moved(r, b);
  ping(r, d, 0);
  say(r, c, NULL, N(r, "g"), "followed a ping", 1);
  ping(r, d, 0);
  ping(r, d, 0);
  r->ep[d].autoack = 0;
  say(r, c, NULL, N(r, "g"), "acked from elsewhere", 1);
  int e = ep_moved(r, d);
  r->ep[e].autoack = 1;
  for (int k = 0; k < 3; k++)
    send_env(r, e, NULL, 0);
  settle(r);
  say(r, c, NULL, N(r, "g"), "followed an ack", 1);
}

static void sc_sess_logout(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  req_list(r, b, MYCHAT__LIST_KIND__LIST_USERS, N(r, ""));
  logout(r, a);
  req_list(r, b, MYCHAT__LIST_KIND__LIST_USERS, N(r, ""));
}

static void sc_sess_replaced(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 1);
  int b = hs(r, 1, N(r, "bob"), 1);
  req_group(r, a, G_CREATE, N(r, "g"));
  req_group(r, b, G_JOIN, N(r, "g"));
  hs(r, 0, N(r, "alice"), 1);       /* replaces a: no Presence to bob */
}

static void sc_sess_bad_request(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  ping(r, a, r->ep[a].seq_next++);  /* Ping with a seq: Result BAD_REQUEST */
  Mychat__Envelope env;
  Mychat__SendMessage m;
  msg_env(&env, &m, 5, N(r, "alice"), NULL, "unreliable");
  send_env(r, a, &env, 0);          /* request with seq 0: Error */
  settle(r);
  Mychat__Envelope res = MYCHAT__ENVELOPE__INIT;
  Mychat__Result rs = MYCHAT__RESULT__INIT;
  rs.text = (char *)"";
  res.body_case = MYCHAT__ENVELOPE__BODY_RESULT;
  res.result = &rs;
  send_env(r, a, &res, 0);          /* server body, seq 0: Error */
  settle(r);
  req(r, a, &res);                  /* server body, seq > 0: Result */
}

static void sc_ka_ping(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  ping(r, a, 0);                    /* Pong, no ack yet */
  req_group(r, a, G_CREATE, N(r, "g"));
  ping(r, a, 0);                    /* Pong with the ack */
}

static void sc_ka_timeout(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 1);
  int b = hs(r, 1, N(r, "bob"), 1);
  req_group(r, a, G_CREATE, N(r, "g"));
  req_group(r, b, G_JOIN, N(r, "g"));
  wait_ms(r, 2600, 1u << b, 300);   /* alice silent past the 2 s timeout */
  ping(r, a, 0);                    /* her session is gone */
}

static void sc_sess_presence(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 1);
  req_group(r, a, G_CREATE, N(r, "g"));
  int b = hs(r, 1, N(r, "bob"), 1);
  int c = hs(r, 1, N(r, "carol"), 1); /* no shared group: no Presence */
  int d = hs(r, 1, N(r, "dave"), 0);  /* presence off */
  req_group(r, b, G_JOIN, N(r, "g"));
  req_group(r, d, G_JOIN, N(r, "g"));
  logout(r, b);                     /* alice hears it; dave does not ask */
  hs(r, 0, N(r, "bob"), 1);         /* alice hears it */
  (void)c;
}

static void sc_grp_requests(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  req_group(r, a, G_CREATE, N(r, "g"));
  req_group(r, a, G_CREATE, N(r, "g"));     /* GROUP_EXISTS */
  req_group(r, a, G_CREATE, "_bad");        /* BAD_NAME */
  req_group(r, b, G_JOIN, N(r, "g"));
  req_group(r, b, G_JOIN, N(r, "g"));       /* ALREADY_MEMBER */
  req_group(r, b, G_JOIN, N(r, "nosuch"));  /* NO_SUCH_GROUP */
  req_list(r, b, MYCHAT__LIST_KIND__LIST_MY_GROUPS, "");
  req_group(r, b, G_LEAVE, N(r, "g"));
  req_group(r, b, G_LEAVE, N(r, "g"));      /* NOT_MEMBER */
  req_group(r, b, G_LEAVE, N(r, "nosuch")); /* NO_SUCH_GROUP */
  req_group(r, b, G_JOIN, "MyChat");        /* the default group exists */
  req_group(r, b, G_LEAVE, "MyChat");
  req_list(r, b, MYCHAT__LIST_KIND__LIST_MY_GROUPS, "");
}

static void sc_grp_message(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  int c = hs(r, 1, N(r, "carol"), 0);
  int d = hs(r, 1, N(r, "dave"), 0);
  req_group(r, a, G_CREATE, N(r, "g"));
  req_group(r, b, G_JOIN, N(r, "g"));
  req_group(r, c, G_JOIN, N(r, "g"));
  say(r, a, NULL, N(r, "g"), "hello group", 1);
  say(r, d, NULL, N(r, "g"), "not a member", 1);   /* NOT_MEMBER */
  say(r, a, NULL, N(r, "nosuch"), "nowhere", 1);   /* NO_SUCH_GROUP */
  req_group(r, c, G_LEAVE, N(r, "g"));
  say(r, b, NULL, N(r, "g"), "after carol left", 1);
}

static void sc_grp_too_many(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  req_group(r, b, G_CREATE, N(r, "x"));
  for (int i = 0; i <= MC_GROUPS_PER_USER_MAX; i++) {
    char g[16];
    snprintf(g, sizeof g, "g%02d", i);
    req_group(r, a, G_CREATE, N(r, g));        /* the 33rd: TOO_MANY */
  }
  req_group(r, a, G_JOIN, N(r, "x"));          /* TOO_MANY_GROUPS */
  /* At the cap the earlier checks still come first (MC-102, MC-103). */
  req_group(r, a, G_JOIN, N(r, "g00"));        /* ALREADY_MEMBER */
  req_group(r, a, G_CREATE, N(r, "x"));        /* GROUP_EXISTS */
  req_group(r, a, G_JOIN, N(r, "nosuch"));     /* NO_SUCH_GROUP */
  req_group(r, a, G_LEAVE, N(r, "g00"));       /* OK: 31 groups */
  req_group(r, a, G_JOIN, N(r, "x"));          /* OK: 32 again */
}

static void sc_list_paging(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  logout(r, b);
  for (int i = 0; i < 22; i++) {
    char g[16];
    snprintf(g, sizeof g, "g%02d", i);
    req_group(r, a, G_CREATE, N(r, g));
  }
  req_list(r, a, MYCHAT__LIST_KIND__LIST_GROUPS, N(r, ""));
  req_list(r, a, MYCHAT__LIST_KIND__LIST_GROUPS, N(r, "g19"));
  req_list(r, a, MYCHAT__LIST_KIND__LIST_MY_GROUPS, "");
  req_list(r, a, MYCHAT__LIST_KIND__LIST_MY_GROUPS, N(r, "g19"));
  /* Exactly a page's worth after g01: 20 entries, more false. */
  req_list(r, a, MYCHAT__LIST_KIND__LIST_MY_GROUPS, N(r, "g01"));
  req_list(r, a, MYCHAT__LIST_KIND__LIST_USERS, N(r, ""));
  req_list(r, a, MYCHAT__LIST_KIND__LIST_USERS, "_bad");  /* BAD_NAME */
  req_list(r, a, 7, "");                                  /* MALFORMED */
}

static void sc_msg_direct(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  say(r, a, N(r, "bob"), NULL, "hello bob", 1);
  say(r, b, N(r, "alice"), NULL, "hi alice \xc3\xa9\xe2\x82\xac", 1);
  say(r, a, N(r, "alice"), NULL, "note to self", 1);
  say(r, a, N(r, "nosuch"), NULL, "nobody", 1);   /* NO_SUCH_USER */
}

static void sc_msg_offline(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  logout(r, b);
  int c = hs(r, 1, N(r, "carol"), 0);
  req_group(r, a, G_CREATE, N(r, "g"));
  say(r, a, N(r, "bob"), NULL, "first", 1);
  say(r, c, N(r, "bob"), NULL, "from carol", 1);
  say(r, a, N(r, "bob"), NULL, "second", 1);
  hs(r, 0, N(r, "bob"), 0);         /* 3 missed, BacklogDone 3, receipts */
}

static void sc_msg_redeliver(rec *r) {
  int b, a = alice_and_mute_bob(r, &b);
  say(r, a, N(r, "bob"), NULL, "ack me", 1);
  int c = hs(r, 0, N(r, "bob"), 0); /* replaces b: the Deliver again */
  (void)c;
}

static void sc_msg_sack(rec *r) {
  int b, a = alice_and_mute_bob(r, &b);
  burst_to_bob(r, a, 2, "one or two");
  sack(r, b, 1, 3, 3);              /* selective: not delivered */
  sack(r, b, 3, 0, 0);              /* cumulative: both delivered */
}

static void sc_msg_resend(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  Mychat__Envelope env;
  Mychat__SendMessage m;
  msg_env(&env, &m, 0x5eed, N(r, "bob"), NULL, "once");
  req(r, a, &env);
  m.text = (char *)"twice?";        /* same client_msg_id, new seq */
  req(r, a, &env);
  /* A group message resent after its sender left the group: the
   * duplicate check comes before NOT_MEMBER, and bob gets no second
   * Deliver (MC-107). */
  req_group(r, a, G_CREATE, N(r, "g"));
  req_group(r, b, G_JOIN, N(r, "g"));
  msg_env(&env, &m, 0x6eed, NULL, N(r, "g"), "to the group");
  req(r, a, &env);
  req_group(r, a, G_LEAVE, N(r, "g"));
  req(r, a, &env);                  /* the same Sent, not NOT_MEMBER */
  msg_env(&env, &m, 0x7eed, NULL, N(r, "g"), "new one");
  req(r, a, &env);                  /* a new message: NOT_MEMBER */
}

static void sc_msg_invalid(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  const char *to = N(r, "alice");
  char big[MC_TEXT_MAX + 2];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  Mychat__Envelope env;
  Mychat__SendMessage m;
  msg_env(&env, &m, 11, NULL, NULL, "no target");
  req(r, a, &env);                  /* MALFORMED */
  msg_env(&env, &m, 0, to, NULL, "zero id");
  req(r, a, &env);                  /* MALFORMED */
  msg_env(&env, &m, 12, to, NULL, "");
  req(r, a, &env);                  /* MALFORMED */
  msg_env(&env, &m, 13, to, NULL, big);
  req(r, a, &env);                  /* TEXT_TOO_LONG */
  msg_env(&env, &m, 14, "", NULL, "");
  req(r, a, &env);                  /* BAD_NAME (empty) before MALFORMED */
  msg_env(&env, &m, 30, "bad name", NULL, "x");
  req(r, a, &env);                  /* BAD_NAME */
  big[MC_TEXT_MAX] = '\0';          /* exactly 800 bytes: accepted */
  msg_env(&env, &m, 32, to, NULL, big);
  req(r, a, &env);
  msg_env(&env, &m, 31, to, NULL, "fine after all that");
  req(r, a, &env);
}

static void sc_val_prefix(rec *r) {
  int e = ep_new(r);
  static const uint8_t shorty[] = {'M', 'Y', 'C'};
  static const uint8_t magic[] = {'M', 'Y', 'D', 1, 0x18, 1};
  static const uint8_t version[] = {'M', 'Y', 'C', 2, 0x18, 1};
  static uint8_t big[MC_DATAGRAM_MAX + 1];
  memcpy(big, "MYC\x01", 4);
  raw(r, e, shorty, sizeof shorty);
  raw(r, e, magic, sizeof magic);
  raw(r, e, version, sizeof version);
  raw(r, e, big, sizeof big);
  raw(r, e, (const uint8_t *)"", 0);
  settle(r);
  hs(r, 1, N(r, "alice"), 0);       /* still serving */
}

static void sc_val_malformed(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int e = ep_new(r);
  /* Each tail follows a 4-byte prefix (and a header where noted). */
  static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff};
  static const uint8_t tiny[] = {0xff};   /* no room even for an Error */
  static const uint8_t unknown_body[] = {0xca, 0x01, 0x00}; /* field 25 */
  static const uint8_t field0[] = {0x00, 0x01};
  static const uint8_t token5[] = {0x12, 0x05, 1, 2, 3, 4, 5};
  static const uint8_t nine_ranges[] = {
      0x22, 0x36, 0x12, 0x04, 0x08, 0x02, 0x10, 0x02, 0x12, 0x04, 0x08, 0x04,
      0x10, 0x04, 0x12, 0x04, 0x08, 0x06, 0x10, 0x06, 0x12, 0x04, 0x08, 0x08,
      0x10, 0x08, 0x12, 0x04, 0x08, 0x0a, 0x10, 0x0a, 0x12, 0x04, 0x08, 0x0c,
      0x10, 0x0c, 0x12, 0x04, 0x08, 0x0e, 0x10, 0x0e, 0x12, 0x04, 0x08, 0x10,
      0x10, 0x10, 0x12, 0x04, 0x08, 0x12, 0x10, 0x12};
  static const uint8_t inverted[] = {0x22, 0x06, 0x12, 0x04, 0x08, 0x05,
                                     0x10, 0x03};
  static const uint8_t pad[40] = {0};
  raw_tail(r, e, 0, 0, junk, sizeof junk);
  raw_tail(r, e, 0, 0, tiny, sizeof tiny);
  uint8_t ub[64];
  memcpy(ub, unknown_body, sizeof unknown_body);
  memset(ub + sizeof unknown_body, 0, sizeof ub - sizeof unknown_body);
  /* An unknown body with some bytes to answer in: field 25, 40 zero bytes
   * as a length-delimited value. */
  ub[0] = 0xca;
  ub[1] = 0x01;
  ub[2] = 40;
  raw_tail(r, e, 0, 0, ub, 43);
  uint8_t f0[64];
  memcpy(f0, field0, sizeof field0);
  memcpy(f0 + sizeof field0, pad, sizeof pad);
  raw_tail(r, e, 0, 0, f0, sizeof field0 + 20);
  uint8_t t5[64];
  memcpy(t5, token5, sizeof token5);
  /* ping body after it so the datagram has room for the answer */
  static const uint8_t ping_body[] = {0x92, 0x01, 0x02, 0x08, 0x01};
  memcpy(t5 + sizeof token5, ping_body, sizeof ping_body);
  memcpy(t5 + sizeof token5 + sizeof ping_body, pad, 30);
  /* 30 zero bytes would not parse as fields; use a padding-free tail. */
  raw_tail(r, e, 0, 0, t5, sizeof token5 + sizeof ping_body);
  raw_tail(r, a, 1, 3, NULL, 0);    /* seq 3, no body */
  uint8_t nr[128];
  memcpy(nr, nine_ranges, sizeof nine_ranges);
  memcpy(nr + sizeof nine_ranges, ping_body, sizeof ping_body);
  raw_tail(r, a, 1, 0, nr, sizeof nine_ranges + sizeof ping_body);
  uint8_t inv[64];
  memcpy(inv, inverted, sizeof inverted);
  memcpy(inv + sizeof inverted, ping_body, sizeof ping_body);
  raw_tail(r, a, 1, 0, inv, sizeof inverted + sizeof ping_body);
  /* A zero byte inside a string, in a session (MALFORMED, not a Result). */
  static const uint8_t nul_text[] = {0x8a, 0x01, 0x12, 0x09, 1, 0, 0, 0,
                                     0,    0,    0,    0,    0x12, 0x01, 'x',
                                     0x22, 0x04, 'a',  0,    'b', 'c'};
  raw_tail(r, a, 1, 1, nul_text, sizeof nul_text);
  /* Text that is not UTF-8, in a session: not a Result BAD_UTF8, an
   * Error MALFORMED, like any string a proto3 library refuses (MC-21):
   * send { user "x", text ... }, one probe per kind of bad sequence. */
  static const char *const bad_utf8[] = {
      "\xc0\x80",         /* overlong NUL */
      "\xe0\x80\xaf",     /* overlong '/' */
      "\xed\xa0\x80",     /* surrogate U+D800 */
      "\xf4\x90\x80\x80", /* above U+10FFFF */
      "ab\xe2\x82",       /* truncated */
      "\x80stray",        /* stray continuation */
  };
  for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
    uint8_t u[64];
    size_t tl = strlen(bad_utf8[i]), k = 0;
    static const uint8_t head[] = {0x8a, 0x01, 0, 0x09, 1, 0, 0, 0,
                                   0,    0,    0, 0,    0x12, 0x01, 'x'};
    memcpy(u, head, sizeof head);
    k = sizeof head;
    u[k++] = 0x22;
    u[k++] = (uint8_t)tl;
    memcpy(u + k, bad_utf8[i], tl);
    k += tl;
    u[2] = (uint8_t)(k - 3);
    u[4] = (uint8_t)(1 + i);         /* client_msg_id */
    raw_tail(r, a, 1, 1, u, k);
  }
  /* A name that is not UTF-8: malformed too, not BAD_NAME. */
  static const uint8_t bad_name[] = {0x72, 0x03, 0x0a, 0x01, 0xff};
  raw_tail(r, a, 1, 1, bad_name, sizeof bad_name);
  /* A known field with another wire type: a Ping whose time_us (1) is a
   * fixed64 (MC-8). */
  static const uint8_t wire_type[] = {0x92, 0x01, 0x09, 0x09, 1, 2, 3,
                                      4,    5,    6,    7,    8};
  raw_tail(r, a, 1, 0, wire_type, sizeof wire_type);
  /* An unknown header field (5) is ignored: the Ping gets its Pong. */
  static const uint8_t hdr5[] = {0x28, 0x07, 0x92, 0x01, 0x02, 0x08, 0x09};
  raw_tail(r, a, 1, 0, hdr5, sizeof hdr5);
  req_group(r, a, G_CREATE, N(r, "g"));      /* still serving */
}

static void sc_arq_reorder(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  create_at(r, a, "g2", 2);         /* seq 2 first: buffered, SACKed */
  create_at(r, a, "g1", 1);         /* then 1: both handled, in order */
  create_at(r, a, "g40", 40);       /* beyond the window: dropped */
  create_at(r, a, "g3", 3);
  req_list(r, a, MYCHAT__LIST_KIND__LIST_MY_GROUPS, "");
}

static void sc_arq_dup(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  say(r, a, N(r, "bob"), NULL, "only once", 1);
  size_t first = r->n_pkts;
  /* The same datagram again (a retransmission whose ack was lost): it is
   * acked, not acted on. Find it in the capture: the client's datagram
   * with the send. */
  for (size_t i = 0; i < first; i++) {
    mc_cap_pkt *p = &r->pkts[i];
    if (p->from_client && p->ep == a && p->len > 40) {
      uint8_t d[MC_DATAGRAM_MAX];
      size_t len = p->len;
      memcpy(d, p->data, len);
      Mychat__Envelope *env;
      if (mc_codec_decode(d, len, &env) == 0) {
        int is_send = env->body_case == MYCHAT__ENVELOPE__BODY_SEND;
        mc_codec_free(env);
        if (is_send) {
          raw(r, a, d, len);
          settle(r);
          break;
        }
      }
    }
  }
  req_list(r, b, MYCHAT__LIST_KIND__LIST_MY_GROUPS, "");
}

static void sc_arq_retransmit(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = ep_new(r);
  r->ep[b].autoack = 0;             /* no ack at all: no RTT sample */
  hs_opt o = {.reg = 1, .name = N(r, "bob"), .pw = "secret-pw"};
  hs_send(r, b, &o);
  say(r, a, N(r, "bob"), NULL, "resent until acked", 1);
  wait_ms(r, 1600, 1u << a, 300);   /* 0.5 s, then 1 s later */
  sack(r, b, 2, 0, 0);
}

/* Bob acks his first Deliver at once (an RTT sample: the RTO is 200 ms
 * on loopback), then none of the next three but the two above the first:
 * two higher seqs SACKed are not the three of a fast retransmission
 * (MC-81), so seq 3 is resent at the RTO, then after its double. */
static void sc_arq_rto(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  say(r, a, N(r, "bob"), NULL, "acked at once", 1); /* an RTT sample */
  r->ep[b].autoack = 0;
  burst_to_bob(r, a, 3, "not acked");
  sack(r, b, 2, 4, 5);              /* two above seq 3: no fast resend */
  wait_ms(r, 900, 0, 300);          /* 200 ms RTO, then doubled */
  sack(r, b, 5, 0, 0);
}

/* The fast retransmission comes at once, well before the 200 ms RTO, and
 * only once per timed transmission: three more pushes sent after it and
 * SACKed resend nothing, and the next transmission is the RTO's, counted
 * from the fast one with the backoff unchanged (MC-79, MC-81). The new
 * SACK comes about 120 ms after the fast retransmission here, and at once
 * in a replay: well before that RTO. */
static void sc_arq_fast(rec *r) {
  int b, a = alice_and_mute_bob(r, &b);
  burst_to_bob(r, a, 4, "fast");
  sack(r, b, 1, 3, 5);              /* 3 higher seqs SACKed: resend 2 */
  burst_to_bob(r, a, 3, "after");   /* seqs 6..8, sent after that */
  sack(r, b, 1, 3, 8);              /* not again */
  wait_ms(r, 300, 0, 300);          /* the RTO's, 200 ms after the fast one */
  sack(r, b, 8, 0, 0);
}

static void sc_arq_window(rec *r) {
  int b, a = alice_and_mute_bob(r, &b);
  burst_to_bob(r, a, 34, "w");
  send_env(r, b, NULL, 0);          /* acks seqs 1..32: then 33..35 */
  settle(r);
  send_env(r, b, NULL, 0);
  settle(r);
}

static void sc_arq_bad_ack(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__CreateGroup g = MYCHAT__CREATE_GROUP__INIT;
  env.body_case = G_CREATE;
  env.create_group = &g;
  g.name = (char *)N(r, "g");
  /* Acks seq 7 the server never sent; the request stands. */
  r->ep[a].cum = 7;
  send_env(r, a, &env, r->ep[a].seq_next++);
  r->ep[a].cum = 0;
  settle(r);
  req_list(r, a, MYCHAT__LIST_KIND__LIST_MY_GROUPS, "");
}

/* Alice joins bob's group and never acks her Result. Her ack of
 * BacklogDone gave the server an RTT sample, so the RTO is 200 ms: with
 * max_retries 5 the Result, seq 2, is resent at 0.2, 0.6, 1.4, 3.0 and
 * 6.2 s, and the server gives up when it falls due again, at the 4 s cap
 * (MC-79), 10.2 s after the first transmission (without the cap, 12.6 s);
 * bob hears she is offline. (The default 12 would take 38 s for nothing
 * more the case could see.) The Pings at 11 s find alice's session gone
 * and bob's alive; bob acks the Presence only in his, so the replayer
 * keeps the 11 s wait and not an ack the capture dates early. */
static void sc_arq_giveup(rec *r) {
  int b = hs(r, 1, N(r, "bob"), 1);
  req_group(r, b, G_CREATE, N(r, "g"));
  int a = hs(r, 1, N(r, "alice"), 0);
  r->ep[a].deaf = 1;
  req_group(r, a, G_JOIN, N(r, "g"));
  r->ep[b].autoack = 0;
  wait_ms(r, 11000, 0, 11000);
  ping(r, a, 0);                    /* given up: UNKNOWN_SESSION */
  ping(r, b, 0);
}

#define GIVEUP_RETRIES 5
#define GIVEUP_FLAGS "--rate-burst 1000 --keepalive-ms 5000 --timeout-ms 30000 " \
  "--max-retries " STR(GIVEUP_RETRIES)
/* GIVEUP_RETRIES gaps: an RTO of 200 ms doubled per timeout (MC-78,
 * MC-79, MC-80), then the give-up. */
#define GIVEUP_GAPS "150-380 300-650 700-1100 1500-2000 3100-3700 last"

#define ARQ_WINDOW 32                /* MC-73 */
#define QUEUE_MAX 4

/* A window's worth of requests |env| from |ep| back to back, then a
 * settle: with |ep| deaf, their replies fill the server's send window. */
static void fill_window(rec *r, int ep, Mychat__Envelope *env) {
  for (int i = 0; i < ARQ_WINDOW; i++)
    send_env(r, ep, env, r->ep[ep].seq_next++);
  settle(r);
}
#define STR_(x) #x
#define STR(x) STR_(x)
#define QUEUE_FLAGS MC_CAP_STD_FLAGS " --queue-max " STR(QUEUE_MAX)

/* Alice stops acking, then asks 37 times: 32 replies in flight and
 * QUEUE_MAX queued fill her send queue, and the reply to the 37th ends
 * her session as if the server gave up (MC-132); bob hears she is
 * offline. */
static void sc_arq_queue_full(rec *r) {
  int a;
  group_pair(r, "bob", 1, "alice", 0, &a);
  r->ep[a].deaf = 1;
  Mychat__Envelope env;
  Mychat__ListRequest l;
  list_env(&env, &l, MYCHAT__LIST_KIND__LIST_MY_GROUPS, "");
  /* The window's worth first, so that the replies are sent before the
   * queue fills, whatever batches the server reads requests in. */
  fill_window(r, a, &env);
  for (int i = 0; i < QUEUE_MAX + 1; i++)
    send_env(r, a, &env, r->ep[a].seq_next++);
  settle(r);
  ping(r, a, 0);                    /* ended: UNKNOWN_SESSION */
}

#define RATE_BURST 5
#define RATE_REFILL_MS 2000
#define RATE_FLAGS "--rate-burst " STR(RATE_BURST) " --rate-refill-ms " \
  STR(RATE_REFILL_MS)
#define BUSY_FLAGS "--rate-burst 1000 --max-sessions 1"
#define REG_FLAGS RATE_FLAGS " --reg-per-hour 2 --reg-per-hour-prefix 3"

/* A rejected attempt takes no token (MC-52): logins from one address for
 * five names empty that address's bucket; a sixth from there, for alice,
 * is RATE_LIMITED, and alice's bucket stays full: five logins for her
 * from five other addresses all get AUTH_FAILED. Hosts 10..15, this
 * case's own. */
static void sc_hs_rate_reject(rec *r) {
  int e = ep_new_at(r, 10);
  hs_opt o = {.reg = 0, .pw = "wrong-pw"};
  for (int i = 0; i < RATE_BURST; i++) {
    char role[16];
    snprintf(role, sizeof role, "n%d", i);
    o.name = N(r, role);
    hs_send(r, e, &o);                      /* AUTH_FAILED: no such user */
  }
  o.name = N(r, "alice");
  hs_send(r, e, &o);                        /* RATE_LIMITED: the address */
  for (int h = 11; h < 11 + RATE_BURST; h++)
    hs_send(r, ep_new_at(r, h), &o);        /* AUTH_FAILED, all five */
}

/* The per-pair bucket and its backoff (MC-51, MC-52). Wrong Logins for a
 * name from six other addresses all get AUTH_FAILED, and its owner still
 * logs in (a bucket per name would refuse the sixth guess and the owner,
 * issue 12's targeted lockout). From one address, a burst of wrong Logins
 * for the name, then RATE_LIMITED; 2.2 s later the address has a token back
 * but the pair does not, its refill being backed off to 64 s: the same name
 * is still refused there, another name is answered. The hosts are this
 * case's own (hs-rate uses host 0, hs-rate-retransmit host 9), so the cases
 * of one run share no address bucket. */
static void sc_hs_rate_name(rec *r) {
  hs_opt o = {.reg = 1, .name = N(r, "alice"), .pw = "secret-pw"};
  hs_send(r, ep_new_at(r, 1), &o);          /* Welcome */
  o.reg = 0;
  o.pw = "wrong-pw";
  for (int h = 2; h <= RATE_BURST + 2; h++) /* 6 x AUTH_FAILED */
    hs_send(r, ep_new_at(r, h), &o);
  o.pw = "secret-pw";
  hs_send(r, ep_new_at(r, 1), &o);          /* the owner: Welcome */
  o.pw = "wrong-pw";
  int e = ep_new_at(r, 8);
  for (int i = 0; i <= RATE_BURST; i++)     /* 5 x AUTH_FAILED, RATE_LIMITED */
    hs_send(r, e, &o);
  wait_ms(r, RATE_REFILL_MS + 200, 0, RATE_REFILL_MS + 200);
  hs_send(r, e, &o);                        /* the pair: RATE_LIMITED */
  o.name = N(r, "bob");
  hs_send(r, e, &o);                        /* the address: AUTH_FAILED */
}

/* A Register sent six times takes one token, not six (MC-51): the
 * retransmissions get the same Welcome (MC-40), and four wrong Logins
 * from the same address still get AUTH_FAILED before the sixth attempt
 * that counts is RATE_LIMITED. */
static void sc_hs_rate_retransmit(rec *r) {
  int e = ep_new_at(r, 9);
  uint8_t d[MC_DATAGRAM_MAX];
  uint64_t nonce;
  hs_opt o = {.reg = 1, .name = N(r, "alice"), .pw = "secret-pw"};
  size_t len = hs_build(r, &o, d, &nonce);
  for (int i = 0; i < 6; i++) {
    raw(r, e, d, len);
    settle(r);
  }
  o.reg = 0;
  o.pw = "wrong-pw";
  for (int i = 1; i <= RATE_BURST; i++)     /* 4 x AUTH_FAILED, RATE_LIMITED */
    hs_send(r, e, &o);
}

/* The receive window's edge (MC-91): with nothing taken yet, seq 32 is
 * the last inside [1, 33) and is buffered (selectively acked); seq 33 is
 * dropped. Seqs 1..31 follow (ListRequests, answered empty, in order),
 * then 32 is handled; nothing answered the dropped seq 33 (no Result
 * for g33 before this point). Seq 33 comes again, the same CreateGroup,
 * now inside the window and served; a ListRequest at 34 shows both. */
static void sc_arq_rwindow(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  create_at(r, a, "g32", ARQ_WINDOW);
  create_at(r, a, "g33", ARQ_WINDOW + 1);
  Mychat__Envelope le;
  Mychat__ListRequest l;
  list_env(&le, &l, MYCHAT__LIST_KIND__LIST_MY_GROUPS, "");
  for (uint32_t seq = 1; seq < ARQ_WINDOW; seq++)
    send_env(r, a, &le, seq);
  settle(r);
  /* The same datagram, not another body: on an impaired link the
   * replayer resends the dropped seq 33 until it is acked, and a copy
   * arriving once the window has moved is rightly served; whichever copy
   * is, the answer is this Result. */
  create_at(r, a, "g33", ARQ_WINDOW + 1);
  send_env(r, a, &le, ARQ_WINDOW + 2);
  settle(r);
}

/* Acks at the edge of what was sent (MC-83, MC-86). Bob's Deliver, seq 2,
 * is the last seq the server sent him: an ack of cumulative 3, exactly
 * the first seq not sent, is ignored as a whole, so seq 2 is resent at
 * its RTO (200 ms) and alice gets no Receipt. Then bob misuses seq 0 for
 * a SendMessage (Error BAD_REQUEST), and the ack of seq 2 it carries
 * counts: the message is delivered, alice gets her Receipt. */
static void sc_arq_ack_edge(rec *r) {
  int b, a = alice_and_mute_bob(r, &b);
  say(r, a, N(r, "bob"), NULL, "ack me right", 1);
  sack(r, b, 3, 0, 0);              /* seq 3 never sent: ignored */
  wait_ms(r, 400, 0, 400);          /* seq 2 resent once */
  Mychat__Envelope env;
  Mychat__SendMessage m;
  msg_env(&env, &m, 9, N(r, "alice"), NULL, "seq 0");
  send_env(r, b, &env, 0);          /* Error BAD_REQUEST; its ack counts */
  settle(r);
}

/* A new ack resets the backoff (MC-80). Bob logs in to two missed
 * messages and acks nothing: his backlog (Deliver 1 and 2, BacklogDone 3)
 * goes out at one instant, so every timeout finds all three, at 0.5 s
 * (the initial RTO, no RTT sample) and 1 s later (backoff 1). His ack of
 * seq 1 alone resets the backoff: seq 2 is next resent 0.5 s after its
 * last transmission, not 2 s. (Pushes sent at different instants would
 * fall due in different timeouts, each adding to the backoff.) */
static void sc_arq_backoff(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  logout(r, b);
  say(r, a, N(r, "bob"), NULL, "one", 1);
  say(r, a, N(r, "bob"), NULL, "two", 1);
  int c = ep_new(r);
  r->ep[c].autoack = 0;
  hs_opt o = {.reg = 0, .name = N(r, "bob"), .pw = "secret-pw"};
  hs_send(r, c, &o);
  wait_ms(r, 1700, 0, 1700);        /* resent at 0.5 s and 1.5 s */
  sack(r, c, 1, 0, 0);              /* resets the backoff */
  wait_ms(r, 600, 0, 600);          /* seq 2 again at 2 s, not 3.5 s */
  sack(r, c, 3, 0, 0);
}

/* Every kind of push comes again in the next session until acked
 * (MC-127): bob never acks carol's group message, alice never acks the
 * Receipt of her message to carol; each logs in again and gets it. */
static void sc_msg_redeliver_push(rec *r) {
  int c, b = group_pair(r, "bob", 0, "carol", 0, &c);
  r->ep[b].autoack = 0;
  say(r, c, NULL, N(r, "g"), "to the group", 1);
  int a = hs(r, 1, N(r, "alice"), 0);
  r->ep[a].autoack = 0;
  say(r, a, N(r, "carol"), NULL, "receipt please", 1);
  hs(r, 0, N(r, "bob"), 0);         /* the group Deliver again, missed */
  hs(r, 0, N(r, "alice"), 0);       /* the Receipt again */
}

/* No request of a session is carried out after its Logout (MC-66):
 * alice's CreateGroup, seq 2, arrives first and is buffered; her Logout,
 * seq 1, then ends the session, and the CreateGroup taken with it is not
 * carried out (no reply): bob can create the group. */
static void sc_sess_logout_after(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  create_at(r, a, "g", 2);
  logout(r, a);
  req_group(r, b, G_CREATE, N(r, "g"));   /* OK: alice's never happened */
}

/* Ack timing (MC-87..MC-90) where nothing else carries the ack, three
 * samples of each rule. Alice stops acking after 32 ListRequests, so
 * their 32 replies fill the server's send window and the reply to any
 * later request waits: a lone request is acked within max_ack_delay
 * (20 ms), by an ack-only datagram, and of two sent together the second
 * at once (each sample waits for the ack of the one before, and all come
 * before the replies' retransmissions at the 200 ms RTO, which would
 * carry a late ack). Bob, whose pushes are all acked, sends a request
 * again (a duplicate) and requests above a gap: each is acked at once.
 * His samples are 120 ms apart, so that the ack of one cannot pass for
 * the ack of the one before. */
static void sc_arq_ack_timing(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  r->ep[a].deaf = 1;
  Mychat__Envelope env;
  Mychat__ListRequest l;
  list_env(&env, &l, MYCHAT__LIST_KIND__LIST_MY_GROUPS, "");
  fill_window(r, a, &env);
  for (int i = 0; i < 3; i++)       /* 33, 34, 35: within 20 ms */
    req(r, a, &env);
  for (int i = 0; i < 3; i++) {     /* 37, 39, 41: at once */
    send_env(r, a, &env, r->ep[a].seq_next++);
    send_env(r, a, &env, r->ep[a].seq_next++);
    settle(r);
  }
  int b = hs(r, 1, N(r, "bob"), 0);
  req(r, b, &env);
  for (int i = 0; i < 3; i++) {     /* seq 1 again: at once */
    wait_ms(r, 120, 0, 120);
    send_env(r, b, &env, 1);
    settle(r);
  }
  for (uint32_t seq = 3; seq <= 7; seq += 2) { /* above gaps: at once */
    wait_ms(r, 120, 0, 120);
    send_env(r, b, &env, seq);
    settle(r);
  }
}

/* Registrations per hour (MC-137), on hosts of this case's own (20..22,
 * all in 127.0.0.0/24): two from one address, then its third is
 * RATE_LIMITED; one from a second address is the prefix's third and last;
 * a fourth from a third address is RATE_LIMITED by the prefix. A Login
 * is not a registration: the first account still logs in from there. */
static void sc_hs_reg_hourly(rec *r) {
  hs_opt o = {.reg = 1, .pw = "secret-pw"};
  int a = ep_new_at(r, 20);
  const char *names[] = {"r1", "r2", "r3"};
  for (int i = 0; i < 3; i++) {             /* Welcome, Welcome, RATE_LIMITED */
    o.name = N(r, names[i]);
    hs_send(r, a, &o);
  }
  o.name = N(r, "r4");
  hs_send(r, ep_new_at(r, 21), &o);         /* Welcome: the prefix's third */
  int c = ep_new_at(r, 22);
  o.name = N(r, "r5");
  hs_send(r, c, &o);                        /* RATE_LIMITED: the prefix */
  o.reg = 0;
  o.name = N(r, "r1");
  hs_send(r, c, &o);                        /* Welcome: a Login */
}

/* 22 users of this case: the first page of users holds 20 of them with
 * more set (MC-100: a 21st exists), and the page after u19 starts after
 * it, not at it (MC-99). */
static void sc_list_users(rec *r) {
  int a = ep_new(r);                /* one endpoint: 22 are too many */
  hs_opt o = {.reg = 1, .pw = "secret-pw"};
  for (int i = 0; i < 22; i++) {
    char u[16];
    snprintf(u, sizeof u, "u%02d", i);
    o.name = N(r, u);
    hs_send(r, a, &o);              /* a stays in the last session */
  }
  req_list(r, a, MYCHAT__LIST_KIND__LIST_USERS, N(r, ""));
  req_list(r, a, MYCHAT__LIST_KIND__LIST_USERS, N(r, "u19"));
}

/* 17 messages to an offline bob, one more than a store batch of the
 * reference: all 17 come in his next session, oldest first, then
 * BacklogDone 17 (MC-115, MC-117). */
static void sc_msg_backlog_long(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  logout(r, b);
  burst_to_bob(r, a, 17, "while you were out");
  hs(r, 0, N(r, "bob"), 0);
}

/* Group backlogs hold neither the member's own messages nor those from
 * before it joined (MC-116): carol joins after "early" and logs out, and
 * her next session has only "late" missed; alice's has nothing. */
static void sc_grp_backlog(rec *r) {
  int b, a = group_pair(r, "alice", 0, "bob", 0, &b);
  say(r, a, NULL, N(r, "g"), "early", 1);
  int c = hs(r, 1, N(r, "carol"), 0);
  req_group(r, c, G_JOIN, N(r, "g"));
  logout(r, c);                     /* no later Deliver moves her cursor */
  say(r, a, NULL, N(r, "g"), "late", 1);
  logout(r, a);
  hs(r, 0, N(r, "alice"), 0);       /* BacklogDone 0: not her own */
  hs(r, 0, N(r, "carol"), 0);       /* "late" missed, not "early" */
  (void)b;
}

/* A Receipt acked in one session is not pushed again in the next
 * (MC-127). */
static void sc_msg_receipt_once(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  hs(r, 1, N(r, "bob"), 0);
  say(r, a, N(r, "bob"), NULL, "receipt once", 1);
  ping(r, a, 0);                    /* carries the ack of the Receipt */
  logout(r, a);
  int c = hs(r, 0, N(r, "alice"), 0);
  req_list(r, c, MYCHAT__LIST_KIND__LIST_MY_GROUPS, "");
}

/* Alice and bob share two groups: bob's logout and login each give her
 * one Presence, not one per group (MC-124). */
static void sc_sess_presence_two(rec *r) {
  int b, a = group_pair(r, "alice", 1, "bob", 1, &b);
  req_group(r, a, G_CREATE, N(r, "h"));
  req_group(r, b, G_JOIN, N(r, "h"));
  logout(r, b);
  int c = hs(r, 0, N(r, "bob"), 1);
  req_list(r, a, MYCHAT__LIST_KIND__LIST_MY_GROUPS, "");
  (void)c;
}

/* ---- limits and pending auth jobs (issue 11): hs-pending, hs-busy-rate,
 * hs-rate-refill ---- */

/* A copy of a handshake whose auth job is pending is dropped (MC-41): a
 * Register sent twice at once gets one Welcome, not a second job's
 * NAME_TAKEN. Two Logins for one name with two nonces at once are two
 * attempts: both answered (AUTH_FAILED, a wrong password), the second
 * not dropped for the first one's pending job. With the cheap hash of a
 * test server a job may end before the second datagram is read, which
 * the spec allows (the copy then gets the same Welcome, MC-40), so each
 * comes four times, for four names: one of them finds the job pending. */
#define PENDING_TRIES 4
static void sc_hs_pending(rec *r) {
  int b = ep_new(r), c = ep_new(r);
  for (int i = 0; i < PENDING_TRIES; i++) {
    char role[16];
    snprintf(role, sizeof role, "a%d", i);
    int a = ep_new(r);
    uint8_t d[MC_DATAGRAM_MAX];
    uint64_t nonce;
    hs_opt o = {.reg = 1, .name = N(r, role), .pw = "secret-pw"};
    size_t len = hs_build(r, &o, d, &nonce);
    raw(r, a, d, len);
    raw(r, a, d, len);              /* its job pending: dropped */
    settle(r);
    o.reg = 0;
    o.pw = "wrong-pw";
    hs_at_once(r, b, &o, c, &o);
  }
}

#define BUSY_RATE_FLAGS RATE_FLAGS " --max-sessions 1"

/* The rate limit comes before the sessions cap (MC-35, steps 6 and 7):
 * with the cap reached, Logins from another address get SERVER_BUSY
 * while its bucket lasts, each taking a token (MC-51), and then
 * RATE_LIMITED. Hosts 30 and 31, this case's own. */
static void sc_hs_busy_rate(rec *r) {
  hs_opt o = {.reg = 1, .name = N(r, "alice"), .pw = "secret-pw"};
  hs_send(r, ep_new_at(r, 30), &o);         /* Welcome: the cap reached */
  o.reg = 0;
  o.name = N(r, "bob");
  int e = ep_new_at(r, 31);
  for (int i = 0; i <= RATE_BURST; i++)     /* 5 x SERVER_BUSY, RATE_LIMITED */
    hs_send(r, e, &o);
}

/* The refill interval (MC-51): after a burst from one address (Logins
 * for five unknown names) and RATE_LIMITED, 0.5 s later still
 * RATE_LIMITED (a token per 2 s, not sooner); 2.2 s after the burst one
 * token is back, and only one: answered, then RATE_LIMITED again. Host
 * 32, this case's own. */
static void sc_hs_rate_refill(rec *r) {
  int e = ep_new_at(r, 32);
  hs_opt o = {.reg = 0, .pw = "wrong-pw"};
  const char *names[] = {"n0", "n1", "n2", "n3", "n4", "n5"};
  for (int i = 0; i <= RATE_BURST; i++) {   /* 5 x AUTH_FAILED, RATE_LIMITED */
    o.name = N(r, names[i]);
    hs_send(r, e, &o);
  }
  wait_ms(r, 500, 0, 500);
  hs_send(r, e, &o);                        /* RATE_LIMITED */
  wait_ms(r, RATE_REFILL_MS - 300, 0, RATE_REFILL_MS - 300);
  hs_send(r, e, &o);                        /* AUTH_FAILED: one token */
  hs_send(r, e, &o);                        /* RATE_LIMITED: only one */
}

/* list-users registers its 22 users from one endpoint, and a client
 * keeps only its latest session alive: with the standard 2 s timeout the
 * earlier 21 went offline (online false in the list) once impairment
 * slowed the replay past 2 s. With a 30 s timeout they stay online
 * through any replay. */
#define LIST_USERS_FLAGS "--rate-burst 1000 --keepalive-ms 5000 --timeout-ms 30000"

/* issue 12 item 4: the quotas. A burst of 5 and a refill of 1 s leave
 * room for a loaded machine either side of each edge. */
#define MSG_BURST 5
#define MSG_REFILL_MS 1000
#define MSG_RATE_FLAGS MC_CAP_STD_FLAGS " --msg-burst " STR(MSG_BURST) \
  " --msg-refill-ms " STR(MSG_REFILL_MS)
#define QUOTA_BYTES 1000
#define QUOTA_FLAGS MC_CAP_STD_FLAGS " --quota-bytes " STR(QUOTA_BYTES)

/* Alice sends the burst back to back (all Sent), one more (QUOTA_EXCEEDED,
 * not delivered), the first again (its Sent: a resend is confirmed even
 * with the bucket empty, MC-107), and from a new session that replaces
 * hers one more (QUOTA_EXCEEDED: logging in again refills nothing). 1.2 s
 * later the refused one again, same client_msg_id: one token is back, it
 * is stored now; the next at once is refused again. */
static void sc_msg_rate(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  const char *bob = N(r, "bob");
  uint64_t first = say(r, a, bob, NULL, "burst 1", 0);
  for (int i = 1; i < MSG_BURST; i++)
    say(r, a, bob, NULL, "burst", 0);
  uint64_t over = say(r, a, bob, NULL, "one over", 0); /* QUOTA_EXCEEDED */
  settle(r);
  Mychat__Envelope env;
  Mychat__SendMessage m;
  msg_env(&env, &m, first, bob, NULL, "burst 1");
  req(r, a, &env);                  /* the first Sent again */
  a = hs(r, 0, N(r, "alice"), 0);   /* replaces her session */
  say(r, a, bob, NULL, "new session", 1); /* QUOTA_EXCEEDED */
  wait_ms(r, MSG_REFILL_MS + 200, 1u << a | 1u << b, 400);
  msg_env(&env, &m, over, bob, NULL, "one over");
  send_env(r, a, &env, r->ep[a].seq_next++); /* Sent: stored now */
  say(r, a, bob, NULL, "too soon", 1); /* QUOTA_EXCEEDED: only one back */
}

/* Alice's texts add up to the quota of 1000 bytes: 800 + 199 (Sent), then
 * a 2-byte character (one over: QUOTA_EXCEEDED), then 1 byte (exactly at
 * the quota: Sent), then 1 more (refused). After a Logout and a Login the
 * count is still there (it is the store's, MC-151), a resend of a stored
 * message is still confirmed (MC-107), and bob, who has no quota used,
 * can still write. */
static void sc_msg_quota_bytes(rec *r) {
  static char t800[MC_TEXT_MAX + 1], t199[200];
  memset(t800, 'x', MC_TEXT_MAX);
  memset(t199, 'y', sizeof t199 - 1);
  int a = hs(r, 1, N(r, "alice"), 0);
  int b = hs(r, 1, N(r, "bob"), 0);
  const char *bob = N(r, "bob");
  uint64_t first = say(r, a, bob, NULL, t800, 1);
  say(r, a, bob, NULL, t199, 1);    /* 999 bytes stored */
  say(r, a, bob, NULL, "\xc3\xa9", 1); /* 1001: QUOTA_EXCEEDED */
  say(r, a, bob, NULL, "z", 1);     /* exactly 1000: Sent */
  say(r, a, bob, NULL, "!", 1);     /* 1001: QUOTA_EXCEEDED */
  logout(r, a);
  a = hs(r, 0, N(r, "alice"), 0);
  say(r, a, bob, NULL, "!", 1);     /* still QUOTA_EXCEEDED */
  Mychat__Envelope env;
  Mychat__SendMessage m;
  msg_env(&env, &m, first, bob, NULL, t800);
  req(r, a, &env);                  /* the first Sent again */
  say(r, b, N(r, "alice"), NULL, "bob has room", 1);
}

/* issue 12, amplification: hs-validate, sess-migrate-budget */

/* Nothing is pushed to a new session before a datagram carrying its token
 * comes back (MC-141): bob's Login from a client that never answers its
 * Welcome gets the Welcome and nothing else, though three messages wait
 * for him; his next Login, whose client answers at once, gets them. */
static void sc_hs_validate(rec *r) {
  int b = hs(r, 1, N(r, "bob"), 0);
  logout(r, b);
  int a = hs(r, 1, N(r, "alice"), 0);
  for (int k = 0; k < 3; k++)
    say(r, a, N(r, "bob"), NULL, "waiting for bob", 1);
  int q = ep_new(r);
  r->ep[q].quiet = 1;
  hs_opt o = {.name = N(r, "bob"), .pw = "secret-pw"};
  hs_send(r, q, &o);
  wait_ms(r, 700, 0, 700);          /* nothing more, nothing resent */
  hs(r, 0, N(r, "bob"), 0);         /* SESSION_REPLACED to q; the backlog */
}

/* Long enough that its Deliver does not fit in what is left of three
 * times alice's Ping from a new address once its Pong is sent, short
 * enough that it would fit in four times (MC-142). */
#define BUDGET_TEXT "waits for a proven address"

/* A session that moves is held at its new address to three times what it
 * received from there until that address is validated (MC-142): alice's
 * Ping from m moves her session (the Pong goes there), but bob's message
 * waits; her Ping from a, validated before, moves it back at once and the
 * Deliver comes there. A copy of her first request (a seq already taken)
 * from m does not move the session (MC-143): the next Deliver comes to a
 * too. */
static void sc_sess_migrate_budget(rec *r) {
  int a = hs(r, 1, N(r, "alice"), 0);
  req_group(r, a, G_CREATE, N(r, "g"));
  int b = hs(r, 1, N(r, "bob"), 0);
  req_group(r, b, G_JOIN, N(r, "g"));
  int m = ep_moved(r, a);
  ping(r, m, 0);
  say(r, b, NULL, N(r, "g"), BUDGET_TEXT, 1);
  ping(r, a, 0);
  Mychat__Envelope env = MYCHAT__ENVELOPE__INIT;
  Mychat__CreateGroup g = MYCHAT__CREATE_GROUP__INIT;
  g.name = (char *)N(r, "g");
  env.body_case = G_CREATE;
  env.create_group = &g;
  send_env(r, m, &env, 1);
  settle(r);
  say(r, b, NULL, N(r, "g"), "after the copy", 1);
}

static const scenario scenarios[] = {
    {"hs-register", NULL, "Register creates an account: Welcome with every field",
     "MC-1 MC-2 MC-4 MC-5 MC-6 MC-7 MC-35 MC-43 MC-45 MC-60 MC-61", NULL,
     sc_hs_register},
    {"hs-register-taken", NULL, "Register of an existing name: Error NAME_TAKEN echoing the nonce",
     "MC-26 MC-39 MC-43 MC-129", NULL, sc_hs_register_taken},
    {"hs-login", NULL, "Logout, then Login in a new session",
     "MC-35 MC-45 MC-66 MC-70 MC-94 MC-95", NULL, sc_hs_login},
    {"hs-login-fail", NULL, "Login with a wrong password and with an unknown name: AUTH_FAILED both",
     "MC-39 MC-44 MC-26", NULL, sc_hs_login_fail},
    {"hs-bad-fields", NULL, "Register/Login field checks: BAD_PASSWORD (3 and 129 bytes, Login too), BAD_NAME (leading _, 33 bytes, a space, empty), MALFORMED (nonce 0)",
     "MC-13 MC-15 MC-18 MC-38 MC-39 MC-26 MC-60", NULL, sc_hs_bad_fields},
    {"hs-header", NULL, "Handshake with a session header or seq: BAD_REQUEST; under 256 bytes: dropped; steps in order",
     "MC-24 MC-35 MC-36 MC-37 MC-39", NULL, sc_hs_header},
    {"hs-retransmit", NULL, "A retransmitted Register gets the same Welcome, even from another address",
     "MC-40 MC-45 MC-57", NULL, sc_hs_retransmit},
    {"hs-busy", BUSY_FLAGS, "Sessions cap reached: Error SERVER_BUSY; after Logout there is room again",
     "MC-42 MC-39 MC-66", NULL, sc_hs_busy},
    {"hs-rate", RATE_FLAGS, "Login rate limit: burst 5 per address, then RATE_LIMITED; default keepalive and timeout",
     "MC-47 MC-51 MC-52 MC-44", "impair: loss c2s; dup s2c\nimpair-why: a handshake the server gets twice (a duplicate, or a resend after its answer was lost or late) is a new attempt and takes a token the case counts",
     sc_hs_rate},
    {"sess-unknown", NULL, "Wrong token (first byte, last bit), unknown session id, no session: Error UNKNOWN_SESSION echoing the header",
     "MC-53 MC-58 MC-60 MC-61 MC-26 MC-24", NULL, sc_sess_unknown},
    {"sess-migrate", NULL, "The session follows its client to a new address on a request, a Ping, an ack-only that acks more; within 3x there until validated",
     "MC-53 MC-56 MC-57 MC-119 MC-142 MC-143", NULL, sc_sess_migrate},
    {"sess-logout", NULL, "Logout: Result OK, the user is offline at once",
     "MC-66 MC-101 MC-99", NULL, sc_sess_logout},
    {"sess-replaced", NULL, "A second login replaces the session: SESSION_REPLACED, no Presence",
     "MC-67 MC-125 MC-4", NULL, sc_sess_replaced},
    {"sess-bad-request", NULL, "Ping with a seq: Result BAD_REQUEST; request or server body with seq 0: Error BAD_REQUEST",
     "MC-28 MC-29 MC-94", NULL, sc_sess_bad_request},
    {"sess-presence", NULL, "Presence goes to sessions that asked for it and share a group",
     "MC-124 MC-125 MC-66", NULL, sc_sess_presence},
    {"ka-ping", NULL, "Ping gets a Pong echoing time_us, with the session header and ack",
     "MC-63 MC-85 MC-90", NULL, sc_ka_ping},
    {"ka-timeout", NULL, "A silent session ends after session_timeout_ms, offline Presence, then UNKNOWN_SESSION",
     "MC-64 MC-124 MC-125 MC-58 MC-47", "timeout: 0 1900-3000 1 3\nnote: the offline Presence comes 2 s after alice's last datagram, not at twice that; on an impaired link, after the last datagram of hers that reached the server, and from when the server first sent the Presence", sc_ka_timeout},
    {"grp-requests", NULL, "CreateGroup, JoinGroup, LeaveGroup and their failures; the default group",
     "MC-102 MC-103 MC-104 MC-106 MC-95 MC-96 MC-97 MC-27 MC-13 MC-99", NULL,
     sc_grp_requests},
    {"grp-message", NULL, "Group messages reach every other member, and stop after leaving",
     "MC-105 MC-108 MC-109 MC-116 MC-118 MC-119 MC-113 MC-55", NULL, sc_grp_message},
    {"grp-too-many", NULL, "32 groups per user: TOO_MANY_GROUPS for create and join, after ALREADY_MEMBER, GROUP_EXISTS and NO_SUCH_GROUP",
     "MC-102 MC-103 MC-104 MC-97", NULL, sc_grp_too_many},
    {"list-paging", NULL, "Lists: pages of 20 sorted by name, more (false for exactly 20 left), online, bad after, bad kind",
     "MC-99 MC-100 MC-101 MC-14 MC-17 MC-27", NULL, sc_list_paging},
    {"msg-direct", NULL, "Direct messages: Sent, Deliver, Receipt; to oneself; to nobody",
     "MC-55 MC-108 MC-109 MC-111 MC-113 MC-114 MC-118 MC-119 MC-120 MC-121 MC-87 MC-88",
     NULL, sc_msg_direct},
    {"msg-offline", NULL, "Messages to an offline user: missed Delivers in id order, BacklogDone, one Receipt each",
     "MC-115 MC-117 MC-120 MC-121 MC-122 MC-123", NULL, sc_msg_offline},
    {"msg-redeliver", NULL, "A Deliver never acked is pushed again in the next session",
     "MC-127 MC-115 MC-122 MC-123 MC-67", NULL, sc_msg_redeliver},
    {"msg-sack", NULL, "A selective ack does not deliver; the cumulative ack does",
     "MC-114 MC-120 MC-121 MC-86", NULL, sc_msg_sack},
    {"msg-resend", NULL, "SendMessage again with the same client_msg_id: the same Sent, stored once; also after leaving the group",
     "MC-107 MC-108 MC-109 MC-94 MC-105", NULL, sc_msg_resend},
    {"msg-invalid", NULL, "SendMessage field checks: MALFORMED, TEXT_TOO_LONG, BAD_NAME (an empty one before the empty text); 800 bytes accepted",
     "MC-19 MC-20 MC-13 MC-22 MC-24 MC-27 MC-97", NULL, sc_msg_invalid},
    {"val-prefix", NULL, "Short, wrong magic, wrong version, oversize, empty: dropped silently",
     "MC-3 MC-30", NULL, sc_val_prefix},
    {"val-malformed", NULL, "Envelope failures (strings not UTF-8, another wire type included): Error MALFORMED, no larger than the datagram, nothing acted on",
     "MC-8 MC-9 MC-10 MC-11 MC-12 MC-16 MC-21 MC-25 MC-26 MC-60 MC-61 MC-30 MC-63", NULL,
     sc_val_malformed},
    {"arq-reorder", NULL, "Out-of-order requests are buffered and handled in seq order; beyond the window dropped",
     "MC-84 MC-89 MC-90 MC-91 MC-93 MC-96", NULL, sc_arq_reorder},
    {"arq-dup", NULL, "A duplicate request is acked, not acted on again",
     "MC-86 MC-89 MC-92 MC-93", NULL, sc_arq_dup},
    {"arq-retransmit", NULL, "An unacked push is resent with the same seq and body: 500 ms, then backed off",
     "MC-70 MC-71 MC-74 MC-79 MC-80", "retransmit: 1 1 400-750\nretransmit: 1 2 400-1400\nnote: seq 1 (BacklogDone) times out at the initial RTO; seq 2 (the Deliver) goes with it or, sent later, after the backoff that timeout added",
     sc_arq_retransmit},
    {"arq-rto", NULL, "After an RTT sample on loopback the RTO is 200 ms, doubled per timeout; two higher seqs SACKed are no fast retransmission",
     "MC-78 MC-79 MC-80 MC-81", "retransmit: 1 3 150-380 300-650", sc_arq_rto},
    {"arq-fast", NULL, "Three higher seqs SACKed: fast retransmission well before the RTO, once",
     "MC-81 MC-84 MC-79", "retransmit: 1 2 0-120 150-380\nnote: seq 2 is resent at once on the SACK of 3..5 (the RTO is 200 ms), not again on a SACK of three more sent after it, then at the RTO counted from the fast retransmission", sc_arq_fast},
    {"arq-window", NULL, "At most 32 pushes in flight",
     "MC-73 MC-91", NULL, sc_arq_window},
    {"arq-giveup", GIVEUP_FLAGS, "A push never acked is resent max_retries times (5 here); when it falls due again the server ends the session, sending nothing",
     "MC-82 MC-78 MC-79 MC-80 MC-125 MC-58", "retransmit: 1 2 " GIVEUP_GAPS "\ntimeout: 1 9900-11500 0 3 MC-82 impaired 9900-25000\nnote: on an impaired link a lost datagram can leave the server without its RTT sample (an RTO of 500 ms, MC-74) or give it a late one, so only the 4 s cap (MC-79) bounds the six intervals; needs a server whose max_retries is " STR(GIVEUP_RETRIES) " (--max-retries " STR(GIVEUP_RETRIES) " for the reference) and whose session timeout exceeds 11 s",
     sc_arq_giveup},
    {"arq-queue-full", QUEUE_FLAGS, "A full send queue (window 32 plus queue_max 4) ends the session as if the server gave up",
     "MC-132 MC-73 MC-125 MC-58", "note: needs a server whose queue_max is 4 (--queue-max 4 for the reference)",
     sc_arq_queue_full},
    {"arq-bad-ack", NULL, "An ack of a seq never sent is ignored, the request in the datagram is served",
     "MC-83 MC-86", NULL, sc_arq_bad_ack},
    /* Later cases go at the end: a case's number (in its names) and its
     * random stream come from its place here, and the captures of the
     * cases above keep theirs. */
    {"hs-limits", NULL, "Handshake of 255 bytes dropped, of 256 answered; names of 32 and 33 bytes; passwords of 128 and 4 bytes",
     "MC-36 MC-13 MC-15 MC-43", NULL, sc_hs_limits},
    {"hs-rate-name", RATE_FLAGS, "Login rate limit per name and address: six other addresses guess, the owner still logs in; a burst from one address, then its pair backs off while the address refills",
     "MC-51 MC-52 MC-44", "impair: loss c2s; dup s2c\nimpair-why: a handshake the server gets twice (a duplicate, or a resend after its answer was lost or late) is a new attempt and takes a token the case counts\nnote: every client on its own address (127.0.0.2 .. 127.0.0.9)",
     sc_hs_rate_name},
    {"hs-rate-retransmit", RATE_FLAGS, "A Register retransmitted five times takes one rate-limit token: four wrong Logins later still AUTH_FAILED, then RATE_LIMITED",
     "MC-51 MC-52 MC-40", "impair: loss c2s; dup s2c\nimpair-why: a handshake the server gets twice (a duplicate, or a resend after its answer was lost or late) is a new attempt and takes a token the case counts\nnote: the client is on 127.0.0.10",
     sc_hs_rate_retransmit},
    {"hs-rate-reject", RATE_FLAGS, "A handshake refused by one rate-limit bucket takes no token from the other",
     "MC-52 MC-51 MC-44", "impair: loss c2s; dup s2c\nimpair-why: a handshake the server gets twice (a duplicate, or a resend after its answer was lost or late) is a new attempt and takes a token the case counts\nnote: clients on 127.0.0.11 .. 127.0.0.16",
     sc_hs_rate_reject},
    {"hs-busy-pending", BUSY_FLAGS, "Sessions cap 1, two Registers at once: the pending auth job counts, the second gets SERVER_BUSY",
     "MC-42 MC-35 MC-66", "impair: dup,delay c2s; all s2c\nimpair-why: the two Registers of a round must reach the server in their order: a lost or reordered first one would come after the second",
     sc_hs_busy_pending},
    {"msg-redeliver-push", NULL, "A group Deliver and a Receipt never acked are pushed again in the next session",
     "MC-127 MC-120 MC-116 MC-122 MC-123 MC-67", NULL, sc_msg_redeliver_push},
    {"sess-logout-after", NULL, "A request buffered behind a Logout is not carried out",
     "MC-66 MC-93 MC-96 MC-102", NULL, sc_sess_logout_after},
    {"arq-ack-timing", NULL, "Acks where no reply can carry them (send window full): within 20 ms, at once after two arrivals, a duplicate, a gap",
     "MC-87 MC-88 MC-89 MC-90 MC-73 MC-84", "ack: 0 30 33 34 35\nack: 0 12 37 39 41\nack: 1 12 1/2 1/3 1/4\nack: 1 12 3 5 7\nnote: 20 ms of max_ack_delay plus slack for a loaded machine; \"at once\" is 12 ms, well before the delayed ack's 20 ms; the soonest of three counts, so one slow answer of a loaded machine does not fail",
     sc_arq_ack_timing},
    {"arq-rwindow", NULL, "Client seq 32 with nothing taken is buffered; seq 33 is dropped, never acted on",
     "MC-91 MC-93 MC-89 MC-84", NULL, sc_arq_rwindow},
    {"arq-ack-edge", NULL, "An ack of exactly the first unsent seq is ignored (the push is resent); an ack on a misused seq-0 datagram counts",
     "MC-83 MC-86 MC-29 MC-114 MC-120", "retransmit: 1 2 150-450\nnote: seq 2 (the Deliver) is resent at the 200 ms RTO because the ack of seq 3 is ignored",
     sc_arq_ack_edge},
    {"arq-backoff", NULL, "An ack of one push resets the backoff: the next retransmission of another comes one RTO later, not four",
     "MC-80 MC-79 MC-74", "retransmit: 2 2 400-750 850-1300 350-800\nnote: seq 2 is resent at 0.5 s, 1 s later (backoff 1), then 0.5 s later because the ack of seq 1 reset the backoff, not 2 s",
     sc_arq_backoff},
    {"hs-reg-hourly", REG_FLAGS, "Registrations per address (2) and per /24 (3) per hour: beyond either, RATE_LIMITED; a Login from there still works",
     "MC-137 MC-52 MC-39", "impair: loss c2s; dup s2c\nimpair-why: a Register the server gets twice (a duplicate, or a resend after its answer was lost or late) is a new attempt and takes one of the registrations the case counts\nnote: clients on 127.0.0.21 .. 127.0.0.23",
     sc_hs_reg_hourly},
    {"list-users", LIST_USERS_FLAGS, "Users list: 22 users, the first page 20 with more, the page after a name starts after it",
     "MC-99 MC-100 MC-101", "note: the Registers share one endpoint (the recorder has 16), which keeps only the last session alive; the 30 s timeout keeps the 21 others online", sc_list_users},
    {"msg-backlog-long", NULL, "17 missed direct messages: all of them in the next session, oldest first, then BacklogDone 17",
     "MC-115 MC-117 MC-122 MC-123", NULL, sc_msg_backlog_long},
    {"grp-backlog", NULL, "A group backlog holds neither the member's own messages nor those from before it joined",
     "MC-116 MC-115 MC-123", NULL, sc_grp_backlog},
    {"msg-receipt-once", NULL, "A Receipt acked in one session is not pushed again in the next",
     "MC-127 MC-121 MC-123", NULL, sc_msg_receipt_once},
    {"sess-presence-two", NULL, "A user sharing two groups gets one Presence per change, not one per group",
     "MC-124 MC-125", NULL, sc_sess_presence_two},
    /* issue 11, limits: hs-pending, hs-busy-rate, hs-rate-refill */
    {"hs-pending", NULL, "A copy of a handshake whose auth job is pending is dropped (one Welcome); two nonces for one name at once are two attempts, both answered (four names)",
     "MC-41 MC-40 MC-35 MC-44", NULL, sc_hs_pending},
    {"hs-busy-rate", BUSY_RATE_FLAGS, "Sessions cap 1 reached, burst 5: SERVER_BUSY takes a rate-limit token (the rate limit comes first), the sixth attempt is RATE_LIMITED",
     "MC-35 MC-52 MC-42 MC-51", "impair: loss c2s; dup s2c\nimpair-why: a handshake the server gets twice (a duplicate, or a resend after its answer was lost or late) is a new attempt and takes a token the case counts\nnote: clients on 127.0.0.31 .. 127.0.0.32",
     sc_hs_busy_rate},
    {"hs-rate-refill", RATE_FLAGS, "Login rate limit refill: RATE_LIMITED 0.5 s after a burst, one token (and only one) back after 2.2 s",
     "MC-51 MC-52", "impair: loss c2s; dup s2c\nimpair-why: a handshake the server gets twice (a duplicate, or a resend after its answer was lost or late) is a new attempt and takes a token the case counts\nnote: the client is on 127.0.0.33",
     sc_hs_rate_refill},
    /* issue 12 item 4: quotas */
    {"msg-rate", MSG_RATE_FLAGS, "Messages per session: a burst of 5 Sent, the sixth QUOTA_EXCEEDED (a resend still Sent, a new login no refill), one back 1.2 s later, not two",
     "MC-150 MC-107 MC-109 MC-67", "impair: dup both\nimpair-why: the last request must come 1.2 s after the burst, one token later, not two: a loss either way (our resend, our wait for the server's) or a delay slows the replay and lets another token in\nnote: needs a server whose msg_burst is 5 and msg_refill_ms 1000 (--msg-burst 5 --msg-refill-ms 1000 for the reference)",
     sc_msg_rate},
    {"msg-quota-bytes", QUOTA_FLAGS, "Stored bytes per user: exactly 1000 bytes of text accepted, one byte over QUOTA_EXCEEDED, also after a new login; a resend still Sent",
     "MC-151 MC-107 MC-109 MC-66", "note: needs a server whose quota_bytes is 1000 (--quota-bytes 1000 for the reference)",
     sc_msg_quota_bytes},
    /* issue 12, amplification */
    {"hs-validate", NULL, "No push to a new session before a datagram with its token comes back: a Login never answered gets its Welcome only",
     "MC-141 MC-140 MC-123 MC-67", "note: the quiet endpoint never answers its Welcome; a server that pushes the backlog there fails with an unexpected push", sc_hs_validate},
    {"sess-migrate-budget", NULL, "A moved session gets at most 3x what its new address sent until validated; back at a validated address at once; a copy of an old request does not move it",
     "MC-142 MC-143 MC-56 MC-140", "impair: none\nimpair-why: the case counts the bytes the new address sent (the 3x budget, MC-142): any more datagram of ours from there (a resend, a duplicate, the keepalive an impaired link needs) adds to the budget and lets the held Deliver out\nnote: the held Deliver is larger than three times the Ping from the new address less the Pong, and smaller than four times", sc_sess_migrate_budget},
};
