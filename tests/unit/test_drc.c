/*
 * test_drc.c — unit tests of the outstanding-request table (server/drc/drc.h).
 *
 * What is checked, against the header's contract only:
 *   - the duplicate request cache: a saved reply is replayed byte for byte, an
 *     idempotent call (finished without a reply) runs again, a call still running
 *     is reported in progress; every key field but the port tells calls apart, and
 *     an IPv4-mapped IPv6 address is the IPv4 address;
 *   - the bounds: count, saved bytes, reply size, age (with an injected clock, so
 *     nothing sleeps except the drain tests, which must cross real time);
 *   - the failover primitives: admission, wait_idle, snapshot, the mirror record
 *     (round trip, every truncation and every single-byte corruption refused),
 *     drc_load on a second table, and the drain sequence (stop admitting, wait
 *     until idle, snapshot: nothing may still be executing) against a busy worker;
 *   - the counters, exactly, over a scripted sequence;
 *   - a stress run of 8 threads mixing every operation under tight bounds, meant to
 *     be run under ASan+UBSan and TSan, checking invariants during and after.
 */
#include "server/drc/drc.h"

#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int twinfs_register_tests(void);

#define T0	  1000000u    /* fake time at the start of every test, ms */
#define IP_A	  0xc0000207u /* 192.0.2.7 */
#define IP_B	  0xc0000208u /* 192.0.2.8 */
#define NFS_PROG  100003u
#define MNT_PROG  100005u
#define PROC_RMV  12u
#define REPLY_BUF 8192

/* ---- helpers --------------------------------------------------------------- */

struct fake_clock {
	_Atomic uint64_t now;
};

static uint64_t fake_now(void *arg)
{
	return atomic_load(&((struct fake_clock *)arg)->now);
}

static void clock_set(struct fake_clock *c, uint64_t ms)
{
	atomic_store(&c->now, ms);
}

/* A table with the given bounds (zeros: defaults) on a fake clock at T0 (or the
 * real clock when clk is NULL). */
static struct drc *new_table(struct drc_params p, struct fake_clock *clk)
{
	struct drc *d = NULL;

	if (clk) {
		clock_set(clk, T0);
		p.clock = fake_now;
		p.clock_arg = clk;
	}
	if (drc_create(&p, &d) != 0)
		return NULL;
	return d;
}

static struct drc_key key4(uint32_t ip, uint16_t port, uint32_t xid)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct drc_key k;

	memset(&k, 0, sizeof(k));
	sin.sin_addr.s_addr = htonl(ip);
	drc_key_set_addr(&k, (const struct sockaddr *)&sin);
	k.xid = xid;
	k.prog = NFS_PROG;
	k.vers = 3;
	k.proc = PROC_RMV;
	k.cksum = 0x5eed0000c0ffee00ull ^ xid;
	return k;
}

static struct drc_key key6(const char *addr, uint16_t port, uint32_t xid)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct drc_key k = key4(0, 0, xid);

	inet_pton(AF_INET6, addr, &s6.sin6_addr);
	drc_key_set_addr(&k, (const struct sockaddr *)&s6);
	return k;
}

/* The reply bytes a test saves for `seed`: any change in them shows. */
static void fill_reply(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}

static bool reply_ok(const uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (uint8_t)(seed * 131u + i * 7u + (i >> 8)))
			return false;
	return true;
}

/* An assertion reported at the caller's line. */
static void check(bool cond, int line, const char *what)
{
	CU_assertImplementation(cond ? CU_TRUE : CU_FALSE, (unsigned)line, what, __FILE__, "",
				CU_FALSE);
}

/* Runs k as a new call and finishes it with a reply of len bytes from seed. */
static void save(struct drc *d, const struct drc_key *k, size_t len, uint32_t seed, int line)
{
	uint8_t buf[REPLY_BUF], reply[REPLY_BUF];
	struct drc_entry *e = NULL;
	size_t n = 0;
	enum drc_verdict v = drc_begin(d, k, &e, buf, sizeof(buf), &n);

	check(v == DRC_NEW && e != NULL, line, "drc_begin gives DRC_NEW with an entry");
	if (v != DRC_NEW || !e)
		return;
	fill_reply(reply, len, seed);
	drc_finish(d, e, reply, len);
}

/* k must be replayed with exactly the bytes saved from seed. */
static void expect_replay(struct drc *d, const struct drc_key *k, size_t len, uint32_t seed,
			  int line)
{
	uint8_t buf[REPLY_BUF];
	struct drc_entry *e = NULL;
	size_t n = 0;
	enum drc_verdict v = drc_begin(d, k, &e, buf, sizeof(buf), &n);

	check(v == DRC_REPLAY, line, "drc_begin gives DRC_REPLAY");
	check(e == NULL, line, "no entry with DRC_REPLAY");
	if (v == DRC_NEW && e)
		drc_finish(d, e, NULL, 0);
	if (v != DRC_REPLAY)
		return;
	check(n == len, line, "the replayed reply has the saved length");
	check(n == len && reply_ok(buf, n, seed), line, "the replayed reply has the saved bytes");
}

/* k must be a new call; it is then finished without a reply (idempotent). */
static void expect_new(struct drc *d, const struct drc_key *k, int line)
{
	uint8_t buf[REPLY_BUF];
	struct drc_entry *e = NULL;
	size_t n = 0;
	enum drc_verdict v = drc_begin(d, k, &e, buf, sizeof(buf), &n);

	check(v == DRC_NEW, line, "drc_begin gives DRC_NEW");
	check(v != DRC_NEW || e != NULL, line, "DRC_NEW comes with an entry");
	if (v == DRC_NEW && e)
		drc_finish(d, e, NULL, 0);
}

static struct drc_entry *begin_new(struct drc *d, const struct drc_key *k, int line)
{
	uint8_t buf[REPLY_BUF];
	struct drc_entry *e = NULL;
	size_t n = 0;
	enum drc_verdict v = drc_begin(d, k, &e, buf, sizeof(buf), &n);

	check(v == DRC_NEW && e != NULL, line, "drc_begin gives DRC_NEW with an entry");
	return v == DRC_NEW ? e : NULL;
}

static enum drc_verdict verdict(struct drc *d, const struct drc_key *k)
{
	uint8_t buf[REPLY_BUF];
	struct drc_entry *e = NULL;
	size_t n = 0;
	enum drc_verdict v = drc_begin(d, k, &e, buf, sizeof(buf), &n);

	if (v == DRC_NEW && e)
		drc_finish(d, e, NULL, 0);
	return v;
}

#define SAVE(d, k, len, seed)	       save(d, k, len, seed, __LINE__)
#define EXPECT_REPLAY(d, k, len, seed) expect_replay(d, k, len, seed, __LINE__)
#define EXPECT_NEW(d, k)	       expect_new(d, k, __LINE__)
#define BEGIN_NEW(d, k)		       begin_new(d, k, __LINE__)

static bool key_eq(const struct drc_key *a, const struct drc_key *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, 16) == 0 && a->xid == b->xid &&
	       a->prog == b->prog && a->vers == b->vers && a->proc == b->proc &&
	       a->cksum == b->cksum;
}

static struct drc_stats stats(struct drc *d)
{
	struct drc_stats s;

	memset(&s, 0xa5, sizeof(s));
	drc_get_stats(d, &s);
	return s;
}

static uint64_t elapsed_ms(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (uint64_t)((b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000);
}

/* ---- the duplicate request cache ------------------------------------------- */

static void test_replay_identical(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){0}, &clk);
	struct drc_key k = key4(IP_A, 700, 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	SAVE(d, &k, 100, 7);
	EXPECT_REPLAY(d, &k, 100, 7);
	EXPECT_REPLAY(d, &k, 100, 7);
	CU_ASSERT_EQUAL(stats(d).hits, 2);
	CU_ASSERT_EQUAL(stats(d).entries, 1);
	CU_ASSERT_EQUAL(stats(d).bytes, 100);
	/* A zero-length saved reply is still a reply. */
	struct drc_key z = key4(IP_A, 700, 2);
	SAVE(d, &z, 0, 0);
	EXPECT_REPLAY(d, &z, 0, 0);
	drc_destroy(d);
}

static void test_idempotent_not_cached(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){0}, &clk);
	struct drc_key k = key4(IP_A, 700, 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	EXPECT_NEW(d, &k);
	CU_ASSERT_EQUAL(stats(d).entries, 0);
	EXPECT_NEW(d, &k);
	CU_ASSERT_EQUAL(stats(d).entries, 0);
	CU_ASSERT_EQUAL(stats(d).executing, 0);
	CU_ASSERT_EQUAL(stats(d).bytes, 0);
	CU_ASSERT_EQUAL(stats(d).hits, 0);
	drc_destroy(d);
}

static void test_in_progress(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){0}, &clk);
	struct drc_key k = key4(IP_A, 700, 1);
	uint8_t buf[REPLY_BUF], reply[64];
	struct drc_entry *e2 = (struct drc_entry *)1;
	size_t n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	struct drc_entry *e = BEGIN_NEW(d, &k);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(stats(d).executing, 1);
	CU_ASSERT_EQUAL(drc_begin(d, &k, &e2, buf, sizeof(buf), &n), DRC_IN_PROGRESS);
	CU_ASSERT_PTR_NULL(e2);
	CU_ASSERT_EQUAL(verdict(d, &k), DRC_IN_PROGRESS);
	CU_ASSERT_EQUAL(stats(d).drops, 2);
	fill_reply(reply, sizeof(reply), 3);
	drc_finish(d, e, reply, sizeof(reply));
	EXPECT_REPLAY(d, &k, sizeof(reply), 3);

	/* An aborted call leaves nothing behind. */
	struct drc_key a = key4(IP_A, 700, 2);
	e = BEGIN_NEW(d, &a);
	CU_ASSERT_EQUAL(verdict(d, &a), DRC_IN_PROGRESS);
	drc_abort(d, e);
	EXPECT_NEW(d, &a);
	CU_ASSERT_EQUAL(stats(d).executing, 0);
	CU_ASSERT_EQUAL(stats(d).entries, 1);
	drc_destroy(d);
}

/* Every key field but the port makes another call. */
static void test_key_fields(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){0}, &clk);
	struct drc_key k = key4(IP_A, 700, 42), v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	SAVE(d, &k, 80, 42);
	v = k;
	v.xid++;
	EXPECT_NEW(d, &v);
	v = k;
	v.cksum ^= 1;
	EXPECT_NEW(d, &v);
	v = k;
	v.proc = 14;
	EXPECT_NEW(d, &v);
	v = k;
	v.prog = MNT_PROG;
	EXPECT_NEW(d, &v);
	v = k;
	v.vers = 4;
	EXPECT_NEW(d, &v);
	v = key4(IP_B, 700, 42);
	EXPECT_NEW(d, &v);
	v = key6("2001:db8::c000:207", 700, 42);
	EXPECT_NEW(d, &v);
	v = key4(IP_A, 9999, 42); /* another port: the same call */
	EXPECT_REPLAY(d, &v, 80, 42);
	EXPECT_REPLAY(d, &k, 80, 42);
	CU_ASSERT_EQUAL(stats(d).entries, 1);
	drc_destroy(d);
}

static void test_addr_mapped(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){0}, &clk);
	struct drc_key m = key6("::ffff:192.0.2.7", 1023, 9);
	struct drc_key k = key4(IP_A, 2049, 9);
	static const uint8_t want[16] = {192, 0, 2, 7};

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(m.family, AF_INET);
	CU_ASSERT_EQUAL(k.family, AF_INET);
	CU_ASSERT(memcmp(m.addr, want, 16) == 0);
	CU_ASSERT(memcmp(k.addr, want, 16) == 0);
	SAVE(d, &m, 60, 9);
	EXPECT_REPLAY(d, &k, 60, 9);

	/* Not mapped: IPv4-compatible (::a.b.c.d) is another, IPv6, address. */
	struct drc_key c = key6("::192.0.2.7", 1023, 9);
	CU_ASSERT_EQUAL(c.family, AF_INET6);
	EXPECT_NEW(d, &c);

	/* A plain IPv6 address, another port: the same call. */
	struct drc_key s = key6("2001:db8::7", 1, 10), t = key6("2001:db8::7", 2, 10);
	CU_ASSERT_EQUAL(s.family, AF_INET6);
	SAVE(d, &s, 10, 10);
	EXPECT_REPLAY(d, &t, 10, 10);
	drc_destroy(d);
}

/* ---- bounds ----------------------------------------------------------------- */

static void test_evict_count(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){.max_entries = 8}, &clk);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	for (uint32_t x = 1; x <= 9; x++) {
		struct drc_key k = key4(IP_A, 700, x);
		SAVE(d, &k, 50, x);
		atomic_fetch_add(&clk.now, 1);
	}
	CU_ASSERT_EQUAL(stats(d).entries, 8);
	CU_ASSERT_EQUAL(stats(d).evictions, 1);
	CU_ASSERT_EQUAL(stats(d).bytes, 8 * 50);
	for (uint32_t x = 9; x >= 2; x--) {
		struct drc_key k = key4(IP_A, 700, x);
		EXPECT_REPLAY(d, &k, 50, x);
	}
	struct drc_key first = key4(IP_A, 700, 1);
	EXPECT_NEW(d, &first);
	/* One more: now the second is the oldest and goes. */
	struct drc_key k10 = key4(IP_A, 700, 10), k2 = key4(IP_A, 700, 2);
	SAVE(d, &k10, 50, 10);
	EXPECT_NEW(d, &k2);
	for (uint32_t x = 3; x <= 10; x++) {
		struct drc_key k = key4(IP_A, 700, x);
		EXPECT_REPLAY(d, &k, 50, x);
	}
	CU_ASSERT_EQUAL(stats(d).entries, 8);
	CU_ASSERT_EQUAL(stats(d).evictions, 2);
	drc_destroy(d);
}

static void test_evict_bytes(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){.max_reply_bytes = 1000}, &clk);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	for (uint32_t x = 1; x <= 4; x++) {
		struct drc_key k = key4(IP_A, 700, x);
		SAVE(d, &k, 300, x);
		CU_ASSERT(stats(d).bytes <= 1000);
	}
	CU_ASSERT_EQUAL(stats(d).bytes, 900);
	CU_ASSERT_EQUAL(stats(d).evictions, 1);
	struct drc_key k1 = key4(IP_A, 700, 1);
	EXPECT_NEW(d, &k1);
	for (uint32_t x = 2; x <= 4; x++) {
		struct drc_key k = key4(IP_A, 700, x);
		EXPECT_REPLAY(d, &k, 300, x);
	}
	/* A reply of the whole budget pushes out everything older. */
	struct drc_key k5 = key4(IP_A, 700, 5);
	SAVE(d, &k5, 1000, 5);
	CU_ASSERT_EQUAL(stats(d).bytes, 1000);
	CU_ASSERT_EQUAL(stats(d).entries, 1);
	CU_ASSERT_EQUAL(stats(d).evictions, 4);
	EXPECT_REPLAY(d, &k5, 1000, 5);
	for (uint32_t x = 2; x <= 4; x++) {
		struct drc_key k = key4(IP_A, 700, x);
		EXPECT_NEW(d, &k);
	}
	drc_destroy(d);
}

static void test_expire_age(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){.max_age_ms = 1000}, &clk);
	struct drc_key k1 = key4(IP_A, 700, 1), k2 = key4(IP_A, 700, 2);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	SAVE(d, &k1, 40, 1);
	clock_set(&clk, T0 + 500);
	SAVE(d, &k2, 40, 2);
	clock_set(&clk, T0 + 1000); /* exactly max_age old: not older than it */
	EXPECT_REPLAY(d, &k1, 40, 1);
	clock_set(&clk, T0 + 1001);
	EXPECT_NEW(d, &k1);
	EXPECT_REPLAY(d, &k2, 40, 2);
	CU_ASSERT_EQUAL(stats(d).evictions, 1);
	clock_set(&clk, T0 + 1501);
	EXPECT_NEW(d, &k2);
	CU_ASSERT_EQUAL(stats(d).evictions, 2);
	CU_ASSERT_EQUAL(stats(d).entries, 0);
	CU_ASSERT_EQUAL(stats(d).bytes, 0);
	drc_destroy(d);
}

/* Many entries expire at once: even the newest of them is gone at the next
 * drc_begin (an expired reply must not be replayed). */
static void test_expire_burst(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){.max_age_ms = 1000}, &clk);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	for (uint32_t x = 1; x <= 40; x++) {
		struct drc_key k = key4(IP_A, 700, x);
		SAVE(d, &k, 40, x);
	}
	CU_ASSERT_EQUAL(stats(d).entries, 40);
	clock_set(&clk, T0 + 1001);
	struct drc_key last = key4(IP_A, 700, 40);
	CU_ASSERT_EQUAL(verdict(d, &last), DRC_NEW);
	drc_destroy(d);
}

static void test_reply_too_large(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){.max_reply_size = 64}, &clk);
	struct drc_key big = key4(IP_A, 700, 1), fits = key4(IP_A, 700, 2);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	SAVE(d, &big, 65, 1);
	CU_ASSERT_EQUAL(stats(d).bytes, 0);
	EXPECT_NEW(d, &big);
	CU_ASSERT_EQUAL(stats(d).entries, 0);
	SAVE(d, &fits, 64, 2);
	EXPECT_REPLAY(d, &fits, 64, 2);
	CU_ASSERT_EQUAL(stats(d).bytes, 64);
	drc_destroy(d);

	/* The default limit: 4 KiB saved, one byte more not. */
	d = new_table((struct drc_params){0}, &clk);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	SAVE(d, &fits, DRC_DEFAULT_MAX_REPLY_SIZE, 2);
	EXPECT_REPLAY(d, &fits, DRC_DEFAULT_MAX_REPLY_SIZE, 2);
	SAVE(d, &big, DRC_DEFAULT_MAX_REPLY_SIZE + 1, 1);
	EXPECT_NEW(d, &big);
	CU_ASSERT_EQUAL(stats(d).bytes, DRC_DEFAULT_MAX_REPLY_SIZE);
	drc_destroy(d);
}

/* ---- failover primitives ---------------------------------------------------- */

static void test_admitting(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){0}, &clk);
	struct drc_key saved = key4(IP_A, 700, 1), fresh = key4(IP_A, 700, 2);
	struct drc_key run = key4(IP_A, 700, 3);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_TRUE(drc_admitting(d));
	SAVE(d, &saved, 30, 1);
	struct drc_entry *e = BEGIN_NEW(d, &run);
	drc_set_admitting(d, false);
	CU_ASSERT_FALSE(drc_admitting(d));
	CU_ASSERT_EQUAL(verdict(d, &fresh), DRC_NOT_ADMITTED);
	CU_ASSERT_EQUAL(verdict(d, &fresh), DRC_NOT_ADMITTED);
	EXPECT_REPLAY(d, &saved, 30, 1);
	/* A retransmission of a call still running is not a new call: dropped. */
	CU_ASSERT_EQUAL(verdict(d, &run), DRC_IN_PROGRESS);
	CU_ASSERT_EQUAL(stats(d).refused, 2);
	CU_ASSERT_EQUAL(stats(d).entries, 2);
	drc_finish(d, e, NULL, 0);
	drc_set_admitting(d, true);
	CU_ASSERT_TRUE(drc_admitting(d));
	EXPECT_NEW(d, &fresh);
	CU_ASSERT_EQUAL(stats(d).refused, 2);
	drc_destroy(d);
}

struct finisher {
	struct drc *d;
	struct drc_entry *e[3];
	unsigned delay_ms;
};

static void *finish_later(void *arg)
{
	struct finisher *f = arg;
	struct timespec ts = {f->delay_ms / 1000, (long)(f->delay_ms % 1000) * 1000000L};
	static const uint8_t reply[8] = "replied";

	nanosleep(&ts, NULL); /* the drain must really wait for this */
	drc_finish(f->d, f->e[0], reply, sizeof(reply));
	drc_finish(f->d, f->e[1], NULL, 0);
	drc_abort(f->d, f->e[2]);
	return NULL;
}

static void test_wait_idle(void)
{
	struct drc *d = new_table((struct drc_params){0}, NULL);
	struct finisher f = {.d = d, .delay_ms = 1100};
	struct timespec start;
	uint64_t left = 99;
	pthread_t th;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	clock_gettime(CLOCK_MONOTONIC, &start);
	CU_ASSERT_EQUAL(drc_wait_idle(d, 1000, &left), 0);
	CU_ASSERT(elapsed_ms(&start) < 500);
	for (uint32_t i = 0; i < 3; i++) {
		struct drc_key k = key4(IP_A, 700, i + 1);
		f.e[i] = BEGIN_NEW(d, &k);
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	CU_ASSERT_EQUAL(drc_wait_idle(d, 50, &left), -ETIMEDOUT);
	CU_ASSERT_EQUAL(left, 3);
	CU_ASSERT(elapsed_ms(&start) >= 50);
	/* Long enough to cross a second boundary: the timeout is real time. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	CU_ASSERT_EQUAL(drc_wait_idle(d, 1500, &left), -ETIMEDOUT);
	CU_ASSERT_EQUAL(left, 3);
	CU_ASSERT(elapsed_ms(&start) >= 1500);
	CU_ASSERT_FATAL(pthread_create(&th, NULL, finish_later, &f) == 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	CU_ASSERT_EQUAL(drc_wait_idle(d, 10000, &left), 0);
	uint64_t waited = elapsed_ms(&start);
	CU_ASSERT(waited >= 1000 && waited < 5000);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(stats(d).executing, 0);
	CU_ASSERT_EQUAL(stats(d).entries, 1);
	drc_destroy(d);
}

struct seen {
	unsigned n;
	unsigned stop_after; /* 0: never stop */
	struct {
		struct drc_record r;
		uint8_t reply[512];
	} rec[16];
};

static bool collect(void *arg, const struct drc_record *r)
{
	struct seen *s = arg;

	if (s->n < 16) {
		s->rec[s->n].r = *r;
		s->rec[s->n].r.reply = NULL;
		if (r->reply && r->reply_len <= sizeof(s->rec[0].reply))
			memcpy(s->rec[s->n].reply, r->reply, r->reply_len);
	}
	s->n++;
	return s->stop_after == 0 || s->n < s->stop_after;
}

/* Five REPLIED entries, xid x begun at T0 + 10x and finished 5 ms later, with
 * x * 20 reply bytes; two EXECUTING (6, 7) begun at T0 + 100. */
static void snapshot_setup(struct drc *d, struct fake_clock *clk, struct drc_entry **run)
{
	uint8_t buf[REPLY_BUF], reply[512];
	struct drc_entry *e = NULL;
	size_t n;

	for (uint32_t x = 1; x <= 5; x++) {
		struct drc_key k = key4(IP_A, 700, x);
		clock_set(clk, T0 + 10 * x);
		if (drc_begin(d, &k, &e, buf, sizeof(buf), &n) != DRC_NEW)
			continue;
		clock_set(clk, T0 + 10 * x + 5);
		fill_reply(reply, 20 * x, x);
		drc_finish(d, e, reply, 20 * x);
	}
	clock_set(clk, T0 + 100);
	for (uint32_t x = 6; x <= 7; x++) {
		struct drc_key k = key4(IP_A, 700, x);
		run[x - 6] = BEGIN_NEW(d, &k);
	}
}

static void test_snapshot(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){0}, &clk);
	struct drc_entry *run[2];
	struct seen s = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	snapshot_setup(d, &clk, run);
	CU_ASSERT_EQUAL(drc_snapshot(d, collect, &s), 7);
	CU_ASSERT_EQUAL_FATAL(s.n, 7);
	unsigned mask = 0;
	for (unsigned i = 0; i < s.n; i++) {
		const struct drc_record *r = &s.rec[i].r;
		uint32_t x = r->key.xid;
		struct drc_key want = key4(IP_A, 700, x);

		CU_ASSERT_FATAL(x >= 1 && x <= 7);
		mask |= 1u << x;
		CU_ASSERT(key_eq(&r->key, &want));
		if (x <= 5) {
			CU_ASSERT_EQUAL(r->state, DRC_REPLIED);
			CU_ASSERT_EQUAL(r->received_ms, T0 + 10 * x);
			CU_ASSERT_EQUAL(r->replied_ms, T0 + 10 * x + 5);
			CU_ASSERT_EQUAL(r->reply_len, 20 * x);
			CU_ASSERT(reply_ok(s.rec[i].reply, r->reply_len, x));
		} else {
			CU_ASSERT_EQUAL(r->state, DRC_EXECUTING);
			CU_ASSERT_EQUAL(r->received_ms, T0 + 100);
			CU_ASSERT_EQUAL(r->reply_len, 0);
		}
	}
	CU_ASSERT_EQUAL(mask, 0xfe);
	struct seen one = {.stop_after = 1};
	CU_ASSERT_EQUAL(drc_snapshot(d, collect, &one), 1);
	CU_ASSERT_EQUAL(one.n, 1);
	drc_finish(d, run[0], NULL, 0);
	drc_finish(d, run[1], NULL, 0);
	struct seen after = {0};
	CU_ASSERT_EQUAL(drc_snapshot(d, collect, &after), 5);
	drc_destroy(d);
}

/* The stuck-request detector's view: the age of the oldest call still running,
 * by the table's clock; REPLIED entries and finished calls do not count. */
static void test_oldest_executing(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){0}, &clk);
	struct drc_key a = key4(IP_A, 700, 1), b = key4(IP_B, 700, 2), r = key4(IP_A, 700, 3);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(drc_oldest_executing_ms(d), 0);
	SAVE(d, &r, 10, 3); /* REPLIED at T0: never "executing" */
	clock_set(&clk, T0 + 100);
	CU_ASSERT_EQUAL(drc_oldest_executing_ms(d), 0);
	struct drc_entry *ea = BEGIN_NEW(d, &a);
	clock_set(&clk, T0 + 250);
	struct drc_entry *eb = BEGIN_NEW(d, &b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ea);
	CU_ASSERT_PTR_NOT_NULL_FATAL(eb);
	clock_set(&clk, T0 + 31100);
	CU_ASSERT_EQUAL(drc_oldest_executing_ms(d), 31000);
	drc_finish(d, ea, "ok", 2); /* the oldest is answered: the next one counts */
	CU_ASSERT_EQUAL(drc_oldest_executing_ms(d), 30850);
	drc_abort(d, eb);
	CU_ASSERT_EQUAL(drc_oldest_executing_ms(d), 0);
	CU_ASSERT_EQUAL(stats(d).entries, 2);
	drc_destroy(d);
}

/* The partner's calls in flight: taken once, cleared by their reply's record,
 * aged out with the table, and bounded (the oldest of a probe run goes). */
static void test_intents(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){.max_age_ms = 1000}, &clk);
	struct drc_key a = key4(IP_A, 800, 1), b = key4(IP_B, 800, 2), c = key4(IP_A, 801, 3);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_FALSE(drc_intent_take(d, &a)); /* none known */
	drc_intent_add(d, &a);
	drc_intent_add(d, &b);
	drc_intent_add(d, &c);
	CU_ASSERT_TRUE(drc_intent_take(d, &a));
	CU_ASSERT_FALSE(drc_intent_take(d, &a)); /* once */
	/* its reply arrived: the call is done, not in flight */
	uint8_t reply[] = "reply";
	struct drc_record r = {.key = b, .state = DRC_REPLIED, .reply_len = 5, .reply = reply};
	CU_ASSERT_EQUAL(drc_load(d, &r), 0);
	CU_ASSERT_FALSE(drc_intent_take(d, &b));
	/* aged out */
	clock_set(&clk, T0 + 1001);
	CU_ASSERT_FALSE(drc_intent_take(d, &c));
	/* 10000 intents in a 4096-slot table: the newest is always found */
	for (uint32_t i = 0; i < 10000; i++) {
		struct drc_key k = key4(IP_B, 10000 + i, i);
		drc_intent_add(d, &k);
		if (i % 997 == 0)
			CU_ASSERT_TRUE(drc_intent_take(d, &k));
	}
	struct drc_key last = key4(IP_B, 19999, 9999);
	CU_ASSERT_TRUE(drc_intent_take(d, &last));
	drc_destroy(d);
}

/* ---- the mirror record ------------------------------------------------------ */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A REPLIED record for an IPv6 client with 64-bit times and reply_len bytes. */
static struct drc_record sample_record(uint8_t *reply, uint32_t reply_len)
{
	struct drc_record r;

	memset(&r, 0, sizeof(r));
	r.key = key6("2001:db8::1", 1, 0xdeadbeef);
	r.key.proc = 14;
	r.key.cksum = 0x0123456789abcdefull;
	r.state = DRC_REPLIED;
	r.received_ms = 0x1122334455667788ull;
	r.replied_ms = 0x1122334455667799ull;
	fill_reply(reply, reply_len, 77);
	r.reply_len = reply_len;
	r.reply = reply;
	return r;
}

static void check_same_record(const struct drc_record *a, const struct drc_record *b, int line)
{
	check(a->key.family == b->key.family, line, "family");
	check(memcmp(a->key.addr, b->key.addr, 16) == 0, line, "addr");
	check(a->key.xid == b->key.xid && a->key.prog == b->key.prog, line, "xid, prog");
	check(a->key.vers == b->key.vers && a->key.proc == b->key.proc, line, "vers, proc");
	check(a->key.cksum == b->key.cksum, line, "cksum");
	check(a->state == b->state, line, "state");
	check(a->received_ms == b->received_ms, line, "received_ms");
	check(a->replied_ms == b->replied_ms, line, "replied_ms");
	check(a->reply_len == b->reply_len, line, "reply_len");
	check(a->reply_len == b->reply_len &&
		  (a->reply_len == 0 || memcmp(a->reply, b->reply, a->reply_len) == 0),
	      line, "reply bytes");
}

static void test_record_roundtrip(void)
{
	uint8_t reply[300], buf[2 * DRC_RECORD_MAX];
	struct drc_record r = sample_record(reply, sizeof(reply)), out;
	size_t used = 0;

	int n = drc_record_encode(&r, buf, sizeof(buf));
	CU_ASSERT_EQUAL_FATAL(n, DRC_RECORD_HEADER + 300 + 8);
	CU_ASSERT(memcmp(buf, "TDR1", 4) == 0);
	CU_ASSERT_EQUAL(buf[5], DRC_REPLIED);
	CU_ASSERT_EQUAL(buf[6], AF_INET6);
	CU_ASSERT_EQUAL(be32(buf + 24), 0xdeadbeef); /* big-endian, after the address */
	CU_ASSERT_EQUAL(be32(buf + 64), 300);
	CU_ASSERT(memcmp(buf + DRC_RECORD_HEADER, reply, 300) == 0);
	CU_ASSERT_EQUAL(drc_record_decode(buf, (size_t)n, &out, &used), 0);
	CU_ASSERT_EQUAL(used, (size_t)n);
	check_same_record(&r, &out, __LINE__);
	CU_ASSERT(out.reply == buf + DRC_RECORD_HEADER);

	/* A second record (EXECUTING, IPv4, no reply) right behind the first. */
	struct drc_record e = {.key = key4(IP_B, 5, 17), .state = DRC_EXECUTING, .received_ms = T0};
	int m = drc_record_encode(&e, buf + n, sizeof(buf) - (size_t)n);
	CU_ASSERT_EQUAL_FATAL(m, DRC_RECORD_HEADER + 8);
	CU_ASSERT_EQUAL(drc_record_decode(buf, (size_t)(n + m), &out, &used), 0);
	CU_ASSERT_EQUAL(used, (size_t)n);
	CU_ASSERT_EQUAL(drc_record_decode(buf + used, (size_t)m, &out, &used), 0);
	CU_ASSERT_EQUAL(used, (size_t)m);
	check_same_record(&e, &out, __LINE__);
	/* The largest reply the format carries. */
	uint8_t big[DRC_DEFAULT_MAX_REPLY_SIZE];
	struct drc_record b = sample_record(big, sizeof(big));
	CU_ASSERT_EQUAL(drc_record_encode(&b, buf, DRC_RECORD_MAX), DRC_RECORD_MAX);
	CU_ASSERT_EQUAL(drc_record_decode(buf, DRC_RECORD_MAX, &out, &used), 0);
	check_same_record(&b, &out, __LINE__);
}

/* Every proper prefix is refused, read from an exactly-sized heap copy so that
 * ASan catches a read past it. */
static void test_record_truncated(void)
{
	uint8_t reply[120], buf[DRC_RECORD_MAX];
	struct drc_record r = sample_record(reply, sizeof(reply)), out;
	size_t used;
	unsigned wrong = 0;

	int n = drc_record_encode(&r, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > 0);
	for (int len = 0; len < n; len++) {
		uint8_t *copy = malloc(len ? (size_t)len : 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
		memcpy(copy, buf, (size_t)len);
		if (drc_record_decode(copy, (size_t)len, &out, &used) != -EBADMSG)
			wrong++;
		free(copy);
	}
	CU_ASSERT_EQUAL(wrong, 0);
}

static void test_record_corrupt(void)
{
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	uint8_t reply[120], buf[DRC_RECORD_MAX];
	struct drc_record r = sample_record(reply, sizeof(reply)), out;
	size_t used;
	unsigned wrong = 0;

	int n = drc_record_encode(&r, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > 0);
	uint8_t *copy = malloc((size_t)n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	for (int i = 0; i < n; i++) {
		for (unsigned m = 0; m < sizeof(masks); m++) {
			memcpy(copy, buf, (size_t)n);
			copy[i] ^= masks[m];
			if (drc_record_decode(copy, (size_t)n, &out, &used) != -EBADMSG)
				wrong++;
		}
	}
	/* Untouched, it still decodes: the loop above tested corruption, not luck. */
	memcpy(copy, buf, (size_t)n);
	CU_ASSERT_EQUAL(drc_record_decode(copy, (size_t)n, &out, &used), 0);
	free(copy);
	CU_ASSERT_EQUAL(wrong, 0);
}

static void test_record_nospace(void)
{
	uint8_t reply[DRC_DEFAULT_MAX_REPLY_SIZE + 1], big[DRC_RECORD_MAX + 64];
	struct drc_record r = sample_record(reply, 200);
	size_t need = DRC_RECORD_HEADER + 200 + 8;

	/* Exactly-sized heap buffers: a write past them is an ASan error. */
	for (size_t len = 0; len < need; len += (len < 80 ? 1 : 29)) {
		uint8_t *buf = malloc(len ? len : 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
		CU_ASSERT_EQUAL(drc_record_encode(&r, buf, len), -ENOSPC);
		free(buf);
	}
	uint8_t *buf = malloc(need - 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	CU_ASSERT_EQUAL(drc_record_encode(&r, buf, need - 1), -ENOSPC);
	free(buf);
	buf = malloc(need);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	CU_ASSERT_EQUAL(drc_record_encode(&r, buf, need), (int)need);
	free(buf);
	/* A reply larger than the format allows, whatever the buffer. */
	r = sample_record(reply, sizeof(reply));
	CU_ASSERT_EQUAL(drc_record_encode(&r, big, sizeof(big)), -ENOSPC);
}

/* Table A's entries travel as records (snapshot → encode → decode) to table B,
 * which then answers A's clients' retransmissions: the takeover path. */
struct stream {
	uint8_t buf[4 * DRC_RECORD_MAX];
	size_t len;
	int errors;
};

static bool encode_into(void *arg, const struct drc_record *r)
{
	struct stream *s = arg;
	int n = drc_record_encode(r, s->buf + s->len, sizeof(s->buf) - s->len);

	if (n < 0)
		s->errors++;
	else
		s->len += (size_t)n;
	return true;
}

static void load_stream(struct drc *b, const struct stream *s, int *loaded, int *refused)
{
	struct drc_record r;
	size_t pos = 0, used = 0;

	while (pos < s->len && drc_record_decode(s->buf + pos, s->len - pos, &r, &used) == 0) {
		int rc = drc_load(b, &r);
		if (rc == 0)
			(*loaded)++;
		else if (rc == -EINVAL && r.state != DRC_REPLIED)
			(*refused)++;
		pos += used;
	}
	CU_ASSERT_EQUAL(pos, s->len);
}

static void test_load_takeover(void)
{
	struct fake_clock ca, cb;
	struct drc *a = new_table((struct drc_params){0}, &ca);
	struct drc *b = new_table((struct drc_params){0}, &cb);
	struct drc_key k = key4(IP_A, 700, 5), x = key4(IP_A, 700, 6);
	struct stream *s = calloc(1, sizeof(*s));
	int loaded = 0, refused = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	SAVE(a, &k, 200, 5);
	struct drc_entry *run = BEGIN_NEW(a, &x);
	CU_ASSERT_EQUAL(drc_snapshot(a, encode_into, s), 2);
	CU_ASSERT_EQUAL(s->errors, 0);
	load_stream(b, s, &loaded, &refused);
	CU_ASSERT_EQUAL(loaded, 1);
	CU_ASSERT_EQUAL(refused, 1); /* an EXECUTING record is not loaded */
	CU_ASSERT_EQUAL(stats(b).entries, 1);
	CU_ASSERT_EQUAL(stats(b).bytes, 200);
	CU_ASSERT_EQUAL(stats(b).executing, 0);
	EXPECT_REPLAY(b, &k, 200, 5);
	EXPECT_NEW(b, &x); /* what was running on A runs again on B */
	/* Loading the same record twice. */
	struct drc_record r;
	size_t pos = 0, used = 0;
	int again = 0;
	while (pos < s->len && drc_record_decode(s->buf + pos, s->len - pos, &r, &used) == 0) {
		if (r.state == DRC_REPLIED && drc_load(b, &r) == -EEXIST)
			again++;
		pos += used;
	}
	CU_ASSERT_EQUAL(again, 1);
	EXPECT_REPLAY(b, &k, 200, 5);
	CU_ASSERT_EQUAL(stats(b).entries, 1);
	drc_finish(a, run, NULL, 0);
	free(s);
	drc_destroy(a);
	drc_destroy(b);
}

/* An NFSv4.1 slot's reply (RFC 8881 §2.10.6) is kept under a key of session, slot
 * and sequence id, even while the table refuses new calls, goes to the partner in
 * a record like any other, and is found there after a takeover. */
static void test_slot_reply(void)
{
	struct fake_clock ca, cb;
	struct drc *a = new_table((struct drc_params){0}, &ca);
	struct drc *b = new_table((struct drc_params){0}, &cb);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	struct drc_key k = {.family = DRC_FAMILY_SLOT,
			    .xid = 3,
			    .prog = NFS_PROG,
			    .vers = 4,
			    .proc = 1,
			    .cksum = 41};
	memcpy(k.addr, "session-id-16byt", 16);
	struct drc_key next = k;
	next.cksum = 42;
	uint8_t reply[100], buf[REPLY_BUF], rec[DRC_RECORD_MAX];
	size_t len = 0;
	memset(reply, 0x5a, sizeof(reply));

	CU_ASSERT_FALSE(drc_lookup(a, &k, buf, sizeof(buf), &len));
	drc_set_admitting(a, false); /* a draining node still finishes its calls */
	struct drc_record r = {.key = k, .state = DRC_REPLIED, .reply_len = 100, .reply = reply};
	CU_ASSERT_EQUAL(drc_load(a, &r), 0);
	CU_ASSERT_TRUE(drc_lookup(a, &k, buf, sizeof(buf), &len));
	CU_ASSERT_EQUAL(len, 100);
	CU_ASSERT_EQUAL(memcmp(buf, reply, 100), 0);
	CU_ASSERT_FALSE(drc_lookup(a, &next, buf, sizeof(buf), &len));
	CU_ASSERT_EQUAL(stats(a).executing, 0);

	int n = drc_record_encode(&r, rec, sizeof(rec));
	struct drc_record out;
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL_FATAL(drc_record_decode(rec, (size_t)n, &out, NULL), 0);
	check_same_record(&r, &out, __LINE__);
	CU_ASSERT_EQUAL(drc_load(b, &out), 0);
	len = 0;
	CU_ASSERT_TRUE(drc_lookup(b, &k, buf, sizeof(buf), &len));
	CU_ASSERT_EQUAL(len, 100);
	/* aged out: no longer a replay */
	clock_set(&cb, T0 + DRC_DEFAULT_AGE_MS + 1);
	CU_ASSERT_FALSE(drc_lookup(b, &k, buf, sizeof(buf), &len));
	drc_destroy(a);
	drc_destroy(b);
}

/* ---- counters --------------------------------------------------------------- */

struct expect_stats {
	uint64_t entries, executing, hits, drops, refused, evictions, bytes;
};

static void check_stats(struct drc *d, struct expect_stats w, int line)
{
	struct drc_stats s = stats(d);

	check(s.entries == w.entries, line, "stats.entries");
	check(s.executing == w.executing, line, "stats.executing");
	check(s.hits == w.hits, line, "stats.hits");
	check(s.drops == w.drops, line, "stats.drops");
	check(s.refused == w.refused, line, "stats.refused");
	check(s.evictions == w.evictions, line, "stats.evictions");
	check(s.bytes == w.bytes, line, "stats.bytes");
}

#define CHECK_STATS(d, ...) check_stats(d, (struct expect_stats){__VA_ARGS__}, __LINE__)

static void test_stats_script(void)
{
	struct fake_clock clk;
	struct drc *d = new_table((struct drc_params){.max_entries = 2}, &clk);
	struct drc_key ka = key4(IP_A, 1, 1), kb = key4(IP_A, 1, 2), kc = key4(IP_A, 1, 3);
	struct drc_key kd = key4(IP_A, 1, 4), ke = key4(IP_A, 1, 5), kf = key4(IP_A, 1, 6);
	uint8_t reply[64];

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CHECK_STATS(d, 0);
	struct drc_entry *e = BEGIN_NEW(d, &ka);
	CHECK_STATS(d, .entries = 1, .executing = 1);
	CU_ASSERT_EQUAL(verdict(d, &ka), DRC_IN_PROGRESS);
	CHECK_STATS(d, .entries = 1, .executing = 1, .drops = 1);
	fill_reply(reply, 10, 1);
	drc_finish(d, e, reply, 10);
	CHECK_STATS(d, .entries = 1, .drops = 1, .bytes = 10);
	EXPECT_REPLAY(d, &ka, 10, 1);
	CHECK_STATS(d, .entries = 1, .hits = 1, .drops = 1, .bytes = 10);
	EXPECT_NEW(d, &kb);
	CHECK_STATS(d, .entries = 1, .hits = 1, .drops = 1, .bytes = 10);
	SAVE(d, &kc, 20, 3);
	CHECK_STATS(d, .entries = 2, .hits = 1, .drops = 1, .bytes = 30);
	SAVE(d, &kd, 30, 4); /* the third REPLIED entry: ka goes */
	CHECK_STATS(d, .entries = 2, .hits = 1, .drops = 1, .evictions = 1, .bytes = 50);
	drc_set_admitting(d, false);
	CU_ASSERT_EQUAL(verdict(d, &ke), DRC_NOT_ADMITTED);
	drc_set_admitting(d, true);
	CHECK_STATS(d, .entries = 2, .hits = 1, .drops = 1, .refused = 1, .evictions = 1,
		    .bytes = 50);
	e = BEGIN_NEW(d, &kf);
	CHECK_STATS(d, .entries = 3, .executing = 1, .hits = 1, .drops = 1, .refused = 1,
		    .evictions = 1, .bytes = 50);
	drc_abort(d, e);
	EXPECT_REPLAY(d, &kd, 30, 4);
	EXPECT_REPLAY(d, &kc, 20, 3);
	CHECK_STATS(d, .entries = 2, .hits = 3, .drops = 1, .refused = 1, .evictions = 1,
		    .bytes = 50);
	drc_destroy(d);
}

/* ---- drain, then snapshot ---------------------------------------------------- */

/* The takeover sequence: stop admitting, wait until idle, snapshot. Once
 * drc_wait_idle has returned 0, nothing may be seen EXECUTING any more: a call that
 * finished with a reply must be seen REPLIED (with its reply, or the mirror would
 * lose it), and an aborted one gone. A worker keeps calls coming meanwhile. */
#define DRAIN_ROUNDS 2000

struct drain {
	struct drc *d;
	_Atomic bool stop;
	_Atomic unsigned calls;
};

static void *drain_worker(void *arg)
{
	struct drain *w = arg;
	uint8_t reply[DRC_DEFAULT_MAX_REPLY_SIZE], buf[REPLY_BUF];

	fill_reply(reply, sizeof(reply), 1);
	for (uint32_t x = 0; !atomic_load(&w->stop); x++) {
		struct drc_key k = key4(IP_A, 1, x);
		struct drc_entry *e = NULL;
		size_t n;
		if (drc_begin(w->d, &k, &e, buf, sizeof(buf), &n) != DRC_NEW || !e)
			continue;
		atomic_fetch_add(&w->calls, 1);
		if (x % 4 == 0)
			drc_abort(w->d, e);
		else
			drc_finish(w->d, e, reply, sizeof(reply));
	}
	return NULL;
}

/* Until the worker has started one more call (bounded: 1 s). */
static void wait_for_call(struct drain *w)
{
	unsigned before = atomic_load(&w->calls);
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (atomic_load(&w->calls) == before && elapsed_ms(&start) < 1000)
		sched_yield();
}

static bool count_running(void *arg, const struct drc_record *r)
{
	if (r->state != DRC_REPLIED)
		(*(unsigned *)arg)++;
	return true;
}

static void test_drain_then_snapshot(void)
{
	struct fake_clock clk;
	struct drain w = {.d = new_table((struct drc_params){.max_entries = 32}, &clk)};
	unsigned timeouts = 0, seen_running = 0;
	pthread_t th;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w.d);
	CU_ASSERT_FATAL(pthread_create(&th, NULL, drain_worker, &w) == 0);
	for (unsigned i = 0; i < DRAIN_ROUNDS; i++) {
		uint64_t left;
		wait_for_call(&w);
		drc_set_admitting(w.d, false);
		if (drc_wait_idle(w.d, 2000, &left) != 0)
			timeouts++;
		else
			drc_snapshot(w.d, count_running, &seen_running);
		drc_set_admitting(w.d, true);
	}
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(timeouts, 0);
	CU_ASSERT_EQUAL(seen_running, 0);
	CU_ASSERT(atomic_load(&w.calls) >= DRAIN_ROUNDS);
	drc_destroy(w.d);
}

/* ---- concurrency stress ----------------------------------------------------- */

#define ST_THREADS   8
#define ST_OPS	     20000
#define ST_KEYS	     512
#define ST_ENTRIES   64
#define ST_BYTES     8192
#define ST_REPLY_MAX 256
#define ST_AGE_MS    50

struct stress {
	struct drc *d;
	struct fake_clock clk;
	pthread_barrier_t go;
	_Atomic unsigned bad_replay, bad_verdict, bad_bound, bad_snapshot;
	_Atomic unsigned news, replays, in_progress, snapshots;
};

struct stress_thread {
	struct stress *s;
	uint64_t rng;
	pthread_t th;
};

static uint32_t st_rand(struct stress_thread *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return (uint32_t)(t->rng >> 16);
}

/* Every thread uses the same key space, so calls collide across threads as
 * retransmissions do. Some replies are larger than the table saves. */
static size_t st_len(uint32_t xid)
{
	return 1 + (xid * 37u) % 300u;
}

static bool st_check_record(void *arg, const struct drc_record *r)
{
	struct stress *s = arg;
	uint8_t buf[DRC_RECORD_MAX];
	struct drc_record back;
	size_t used;
	bool ok = r->key.prog == NFS_PROG && r->key.xid < ST_KEYS;

	if (r->state == DRC_REPLIED)
		ok = ok && r->reply_len == st_len(r->key.xid) && r->reply_len <= ST_REPLY_MAX &&
		     reply_ok(r->reply, r->reply_len, r->key.xid);
	else
		ok = ok && (r->state == DRC_EXECUTING || r->state == DRC_RECEIVED);
	int n = drc_record_encode(r, buf, sizeof(buf));
	ok = ok && n > 0 && drc_record_decode(buf, (size_t)n, &back, &used) == 0 &&
	     back.reply_len == r->reply_len && back.key.xid == r->key.xid;
	if (!ok)
		atomic_fetch_add(&s->bad_snapshot, 1);
	return true;
}

static void st_check_bounds(struct stress *s)
{
	struct drc_stats st = stats(s->d);

	if (st.entries > ST_ENTRIES + ST_THREADS || st.executing > ST_THREADS ||
	    st.bytes > ST_BYTES + ST_THREADS * ST_REPLY_MAX)
		atomic_fetch_add(&s->bad_bound, 1);
	drc_snapshot(s->d, st_check_record, s);
	atomic_fetch_add(&s->snapshots, 1);
}

/* What the thread does with a call it now runs. */
static void st_run(struct stress_thread *t, const struct drc_key *k, struct drc_entry *e)
{
	struct stress *s = t->s;
	uint8_t reply[300], buf[REPLY_BUF];
	size_t n = st_len(k->xid);
	unsigned act = st_rand(t) % 8;

	fill_reply(reply, n, k->xid);
	if (act == 6 || act == 7) {
		/* Our own retransmission, while we hold the call: always dropped. */
		struct drc_entry *dup = NULL;
		size_t len;
		if (drc_begin(s->d, k, &dup, buf, sizeof(buf), &len) != DRC_IN_PROGRESS || dup)
			atomic_fetch_add(&s->bad_verdict, 1);
		if (act == 7)
			atomic_fetch_add(&s->clk.now, 1);
	}
	if (act == 4)
		drc_finish(s->d, e, NULL, 0);
	else if (act == 5)
		drc_abort(s->d, e);
	else
		drc_finish(s->d, e, reply, n);
}

static void st_one(struct stress_thread *t)
{
	struct stress *s = t->s;
	uint8_t buf[REPLY_BUF];
	struct drc_entry *e = NULL;
	size_t len = 0;
	struct drc_key k = key4(IP_A, 800, st_rand(t) % ST_KEYS);

	switch (drc_begin(s->d, &k, &e, buf, sizeof(buf), &len)) {
	case DRC_NEW:
		atomic_fetch_add(&s->news, 1);
		if (e)
			st_run(t, &k, e);
		break;
	case DRC_REPLAY:
		atomic_fetch_add(&s->replays, 1);
		if (len != st_len(k.xid) || len > ST_REPLY_MAX || !reply_ok(buf, len, k.xid))
			atomic_fetch_add(&s->bad_replay, 1);
		break;
	case DRC_IN_PROGRESS:
		atomic_fetch_add(&s->in_progress, 1);
		break;
	default:
		atomic_fetch_add(&s->bad_verdict, 1);
	}
}

static void *st_main(void *arg)
{
	struct stress_thread *t = arg;

	pthread_barrier_wait(&t->s->go);
	for (unsigned i = 0; i < ST_OPS; i++) {
		st_one(t);
		if (i % 97 == 0) /* time passes: entries expire */
			atomic_fetch_add(&t->s->clk.now, 1 + st_rand(t) % 3);
		if (i % 1999 == 0)
			st_check_bounds(t->s);
	}
	return NULL;
}

struct totals {
	size_t n;
	uint64_t bytes;
	unsigned not_replied;
};

static bool st_total(void *arg, const struct drc_record *r)
{
	struct totals *t = arg;

	t->n++;
	t->bytes += r->reply_len;
	if (r->state != DRC_REPLIED)
		t->not_replied++;
	return true;
}

/* After the threads: quiescent invariants, then everything expires. */
static void st_final_checks(struct stress *s)
{
	struct drc_stats st = stats(s->d);
	struct totals tot = {0};

	CU_ASSERT_EQUAL(st.executing, 0);
	CU_ASSERT(st.entries <= ST_ENTRIES + ST_THREADS);
	CU_ASSERT(st.bytes <= ST_BYTES);
	CU_ASSERT(st.evictions > 0);
	CU_ASSERT(st.hits > 0);
	CU_ASSERT(st.drops > 0);
	CU_ASSERT_EQUAL(st.hits, atomic_load(&s->replays));
	CU_ASSERT_EQUAL(drc_snapshot(s->d, st_total, &tot), st.entries);
	CU_ASSERT_EQUAL(tot.n, st.entries);
	CU_ASSERT_EQUAL(tot.bytes, st.bytes);
	CU_ASSERT_EQUAL(tot.not_replied, 0);
	atomic_fetch_add(&s->clk.now, 100 * ST_AGE_MS);
	for (uint32_t i = 0; i < ST_ENTRIES && stats(s->d).entries > 0; i++) {
		struct drc_key k = key4(IP_B, 1, i);
		EXPECT_NEW(s->d, &k);
	}
	CU_ASSERT_EQUAL(stats(s->d).entries, 0);
	CU_ASSERT_EQUAL(stats(s->d).bytes, 0);
}

static void test_stress(void)
{
	struct stress *s = calloc(1, sizeof(*s));
	struct stress_thread t[ST_THREADS];
	struct drc_params p = {.max_entries = ST_ENTRIES,
			       .max_reply_bytes = ST_BYTES,
			       .max_reply_size = ST_REPLY_MAX,
			       .max_age_ms = ST_AGE_MS};

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	s->d = new_table(p, &s->clk);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->d);
	pthread_barrier_init(&s->go, NULL, ST_THREADS);
	for (unsigned i = 0; i < ST_THREADS; i++) {
		t[i].s = s;
		t[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
		CU_ASSERT_FATAL(pthread_create(&t[i].th, NULL, st_main, &t[i]) == 0);
	}
	for (unsigned i = 0; i < ST_THREADS; i++)
		pthread_join(t[i].th, NULL);
	pthread_barrier_destroy(&s->go);
	CU_ASSERT_EQUAL(atomic_load(&s->bad_replay), 0);
	CU_ASSERT_EQUAL(atomic_load(&s->bad_verdict), 0);
	CU_ASSERT_EQUAL(atomic_load(&s->bad_bound), 0);
	CU_ASSERT_EQUAL(atomic_load(&s->bad_snapshot), 0);
	CU_ASSERT(atomic_load(&s->snapshots) >= ST_THREADS);
	CU_ASSERT(atomic_load(&s->news) > 0 && atomic_load(&s->in_progress) > 0);
	st_final_checks(s);
	drc_destroy(s->d);
	free(s);
}

/* ---- registration ----------------------------------------------------------- */

int twinfs_register_tests(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
	    {"saved reply replayed byte for byte", test_replay_identical},
	    {"idempotent call is not cached", test_idempotent_not_cached},
	    {"retransmission while executing is in progress", test_in_progress},
	    {"every key field but the port matters", test_key_fields},
	    {"IPv4-mapped IPv6 is the IPv4 address", test_addr_mapped},
	    {"eviction at max_entries, oldest first", test_evict_count},
	    {"eviction at max_reply_bytes", test_evict_bytes},
	    {"expiry by age (fake clock)", test_expire_age},
	    {"a burst of expired entries is gone at once", test_expire_burst},
	    {"a reply above max_reply_size is not saved", test_reply_too_large},
	    {"not admitting: new refused, replays still answered", test_admitting},
	    {"wait_idle: 0, -ETIMEDOUT with left, real time", test_wait_idle},
	    {"snapshot sees every entry as it is", test_snapshot},
	    {"oldest executing call's age (fake clock)", test_oldest_executing},
	    {"the partner's calls in flight (intents)", test_intents},
	    {"record encode/decode round trip", test_record_roundtrip},
	    {"every truncated record is refused", test_record_truncated},
	    {"every single-byte corruption is refused", test_record_corrupt},
	    {"encode into a small buffer: -ENOSPC", test_record_nospace},
	    {"drc_load: the partner's replies replayed here", test_load_takeover},
	    {"an NFSv4.1 slot's reply: kept, mirrored, aged", test_slot_reply},
	    {"counters over a scripted sequence", test_stats_script},
	    {"drain, wait_idle, snapshot: nothing still executing", test_drain_then_snapshot},
	    {"8 threads x 20000 mixed operations", test_stress},
	};
	CU_pSuite suite = CU_add_suite("drc", NULL, NULL);

	if (!suite)
		return -1;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(suite, tests[i].name, tests[i].fn))
			return -1;
	return 0;
}
