/*
 * test_heartbeat.c — the second link's UDP heartbeats (failover/heartbeat).
 *
 * Heartbeats go between hb objects on loopback ephemeral ports. Datagrams a correct
 * sender would never make are built by forge(), an independent implementation of
 * the layout with OpenSSL's one-shot HMAC(), so the tests also pin the wire format
 * heartbeat.h describes. Real datagrams are captured by pointing a sender at a
 * plain UDP socket (the "sink") and replayed from it with sendto.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "failover/heartbeat/heartbeat.h"

int twinfs_register_tests(void);

#define WAIT_MS 2000

static const uint8_t key_a[40] = "0123456789abcdef0123456789abcdef-key-A!";
static const uint8_t key_b[40] = "0123456789abcdef0123456789abcdef-key-B!";

/* ---- helpers ---- */

static socklen_t loopback(int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*s4);
}

/* An hb on a loopback ephemeral port, no partner address yet; NULL if it fails. */
static struct hb *open_hb_family(uint32_t node, const uint8_t *key, int family)
{
	struct sockaddr_storage ss;
	struct hb_params p = {.key = key, .keylen = 40, .node_id = node};
	struct hb *h = NULL;

	p.bindlen = loopback(family, &ss);
	p.bind = (struct sockaddr *)&ss;
	if (hb_open(&p, &h) != 0)
		return NULL;
	return h;
}

static struct hb *open_hb(uint32_t node, const uint8_t *key)
{
	struct hb *h = open_hb_family(node, key, AF_INET);

	CU_ASSERT_FATAL(h != NULL);
	return h;
}

/* from sends to to. */
static void aim(struct hb *from, const struct hb *to)
{
	struct sockaddr_storage ss;
	socklen_t len;

	CU_ASSERT_FATAL(hb_local_addr(to, &ss, &len) == 0);
	CU_ASSERT_FATAL(hb_set_peer(from, (struct sockaddr *)&ss, len) == 0);
}

static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

/* Bounded wait for at least one accepted heartbeat; returns hb_receive's last count. */
static int recv_wait(struct hb *h, uint8_t *state)
{
	int n = 0;

	for (int i = 0; i < 20 && n == 0; i++) {
		if (!readable(hb_fd(h), WAIT_MS / 20))
			continue;
		n = hb_receive(h, state);
	}
	return n;
}

/* Reads everything queued, for tests that expect drops. */
static int drain(struct hb *h)
{
	uint8_t st;
	int total = 0, n;

	while (readable(hb_fd(h), 50) && (n = hb_receive(h, &st)) > 0)
		total += n;
	return total;
}

struct sink {
	int fd;
	struct sockaddr_storage addr;
	socklen_t len;
};

static void sink_open(struct sink *k)
{
	k->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(k->fd >= 0);
	k->len = loopback(AF_INET, &k->addr);
	CU_ASSERT_FATAL(bind(k->fd, (struct sockaddr *)&k->addr, k->len) == 0);
	k->len = sizeof(k->addr);
	CU_ASSERT_FATAL(getsockname(k->fd, (struct sockaddr *)&k->addr, &k->len) == 0);
}

/* One datagram sent by h, captured at the sink. */
static void capture(struct hb *h, struct sink *k, uint8_t state, uint8_t out[HB_LEN])
{
	CU_ASSERT_FATAL(hb_set_peer(h, (struct sockaddr *)&k->addr, k->len) == 0);
	CU_ASSERT_FATAL(hb_send(h, state) == 0);
	CU_ASSERT_FATAL(readable(k->fd, WAIT_MS));
	CU_ASSERT_FATAL(recv(k->fd, out, HB_LEN + 1, MSG_TRUNC) == HB_LEN);
}

/* Sends raw bytes from the sink to h. */
static void inject(struct sink *k, const struct hb *h, const void *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	CU_ASSERT_FATAL(hb_local_addr(h, &ss, &sl) == 0);
	CU_ASSERT_FATAL(sendto(k->fd, buf, len, 0, (struct sockaddr *)&ss, sl) == (ssize_t)len);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The layout of heartbeat.h, independently: magic ver sender state pad nonce ctr mac. */
static void forge(const uint8_t *key, uint8_t sender, uint8_t state, uint8_t pad, uint64_t nonce,
		  uint64_t counter, uint8_t out[HB_LEN])
{
	unsigned int maclen = 0;

	memcpy(out, "TWHB", 4);
	out[4] = 1;
	out[5] = sender;
	out[6] = state;
	out[7] = pad;
	put64(out + 8, nonce);
	put64(out + 16, counter);
	CU_ASSERT_FATAL(HMAC(EVP_sha256(), key, 40, out, 24, out + 24, &maclen) != NULL);
	CU_ASSERT_FATAL(maclen == 32);
}

/* hb_input of a forged datagram from node 2 with key_a. */
static int feed(struct hb *h, uint64_t nonce, uint64_t counter)
{
	uint8_t d[HB_LEN], st = 0;

	forge(key_a, 2, 0x10, 0, nonce, counter, d);
	return hb_input(h, d, sizeof(d), &st);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- tests ---- */

static void test_open_rejects(void)
{
	struct sockaddr_storage b4, b6;
	struct hb_params p = {.key = key_a, .keylen = 40, .node_id = 1};
	struct hb *h = (struct hb *)&p;

	p.bindlen = loopback(AF_INET, &b4);
	p.bind = (struct sockaddr *)&b4;
	p.node_id = 0;
	CU_ASSERT(hb_open(&p, &h) == -EINVAL && h == NULL);
	p.node_id = 3;
	CU_ASSERT(hb_open(&p, &h) == -EINVAL);
	p.node_id = 1;
	p.keylen = 16;
	CU_ASSERT(hb_open(&p, &h) == -EINVAL);
	p.keylen = 40;
	p.bindlen = 4;
	CU_ASSERT(hb_open(&p, &h) == -EINVAL);
	p.bindlen = sizeof(struct sockaddr_in);
	p.peerlen = loopback(AF_INET6, &b6);
	p.peer = (struct sockaddr *)&b6;
	CU_ASSERT(hb_open(&p, &h) == -EINVAL); /* family mismatch */

	p.peer = NULL;
	CU_ASSERT_FATAL(hb_open(&p, &h) == 0);
	CU_ASSERT(fcntl(hb_fd(h), F_GETFD) & FD_CLOEXEC);
	CU_ASSERT(fcntl(hb_fd(h), F_GETFL) & O_NONBLOCK);
	CU_ASSERT(hb_send(h, 1) == -EDESTADDRREQ);
	CU_ASSERT(hb_set_peer(h, (struct sockaddr *)&b6, sizeof(struct sockaddr_in6)) == -EINVAL);
	hb_close(h);
	hb_close(NULL);
}

static void test_wire_layout(void)
{
	struct hb *a = open_hb(1, key_a);
	struct sink k;
	uint8_t d[HB_LEN], f[HB_LEN];
	uint64_t nonce;

	sink_open(&k);
	capture(a, &k, 0x42, d);
	CU_ASSERT(memcmp(d, "TWHB", 4) == 0 && d[4] == 1 && d[5] == 1 && d[6] == 0x42);
	CU_ASSERT(d[7] == 0);
	nonce = get64(d + 8);
	CU_ASSERT(nonce != 0);
	CU_ASSERT(get64(d + 16) == 1);
	forge(key_a, 1, 0x42, 0, nonce, 1, f);
	CU_ASSERT(memcmp(d, f, HB_LEN) == 0);

	capture(a, &k, 7, d);
	CU_ASSERT(get64(d + 8) == nonce && get64(d + 16) == 2 && d[6] == 7);
	close(k.fd);
	hb_close(a);
}

static void test_exchange(void)
{
	struct hb *a = open_hb(1, key_a), *b = open_hb(2, key_a);
	struct hb_stats s;
	uint8_t st = 0;

	aim(a, b);
	aim(b, a);
	CU_ASSERT(hb_send(a, 0x11) == 0);
	CU_ASSERT(recv_wait(b, &st) == 1 && st == 0x11);
	CU_ASSERT(hb_send(b, 0x22) == 0);
	CU_ASSERT(recv_wait(a, &st) == 1 && st == 0x22);
	CU_ASSERT(hb_send(a, 0x33) == 0 && hb_send(a, 0x44) == 0);
	CU_ASSERT(readable(hb_fd(b), WAIT_MS));
	CU_ASSERT(hb_receive(b, &st) == 2 && st == 0x44); /* the last one's state */
	hb_get_stats(a, &s);
	CU_ASSERT(s.sent == 3 && s.received == 1);
	hb_get_stats(b, &s);
	CU_ASSERT(s.sent == 1 && s.received == 3);
	CU_ASSERT(s.bad_mac == 0 && s.replays == 0 && s.malformed == 0 && s.wrong_node == 0);
	hb_close(a);
	hb_close(b);
}

static void test_empty_receive(void)
{
	struct hb *a = open_hb(1, key_a);
	uint8_t st = 0x5a;

	CU_ASSERT(hb_receive(a, &st) == 0); /* returns at once: non-blocking */
	CU_ASSERT(st == 0x5a);
	hb_close(a);
}

static void test_wrong_key(void)
{
	struct hb *a = open_hb(1, key_a), *c = open_hb(2, key_b);
	struct hb_stats s;

	aim(c, a);
	CU_ASSERT(hb_send(c, 1) == 0);
	CU_ASSERT(drain(a) == 0);
	hb_get_stats(a, &s);
	CU_ASSERT(s.bad_mac == 1 && s.received == 0);
	hb_close(a);
	hb_close(c);
}

static void test_replay(void)
{
	struct hb *a = open_hb(1, key_a), *b = open_hb(2, key_a);
	struct sink k;
	struct hb_stats s;
	uint8_t d[HB_LEN], st = 0;

	sink_open(&k);
	capture(b, &k, 9, d);
	inject(&k, a, d, sizeof(d));
	inject(&k, a, d, sizeof(d));
	CU_ASSERT(readable(hb_fd(a), WAIT_MS));
	CU_ASSERT(hb_receive(a, &st) == 1 && st == 9);
	inject(&k, a, d, sizeof(d));
	CU_ASSERT(drain(a) == 0);
	hb_get_stats(a, &s);
	CU_ASSERT(s.received == 1 && s.replays == 2);

	/* an older counter of the same boot after a newer one */
	uint8_t d2[HB_LEN];

	capture(b, &k, 10, d2);
	inject(&k, a, d2, sizeof(d2));
	CU_ASSERT(recv_wait(a, &st) == 1 && st == 10);
	inject(&k, a, d, sizeof(d));
	CU_ASSERT(drain(a) == 0);
	hb_get_stats(a, &s);
	CU_ASSERT(s.received == 2 && s.replays == 3);
	close(k.fd);
	hb_close(a);
	hb_close(b);
}

static void test_own_node(void)
{
	struct hb *a = open_hb(1, key_a);
	struct sink k;
	struct hb_stats s;
	uint8_t d[HB_LEN];

	aim(a, a); /* our own datagram reflected back */
	CU_ASSERT(hb_send(a, 1) == 0);
	CU_ASSERT(drain(a) == 0);
	hb_get_stats(a, &s);
	CU_ASSERT(s.wrong_node == 1);

	sink_open(&k);
	forge(key_a, 1, 0, 0, 77, 1, d); /* claims to be node 1, like us */
	inject(&k, a, d, sizeof(d));
	forge(key_a, 7, 0, 0, 77, 1, d); /* no such node */
	inject(&k, a, d, sizeof(d));
	CU_ASSERT(drain(a) == 0);
	hb_get_stats(a, &s);
	CU_ASSERT(s.wrong_node == 3 && s.received == 0);
	close(k.fd);
	hb_close(a);
}

static void test_malformed(void)
{
	struct hb *a = open_hb(1, key_a), *b = open_hb(2, key_a);
	struct sink k;
	struct hb_stats s;
	uint8_t d[HB_LEN], big[HB_LEN + 100] = {0}, bad[HB_LEN];
	uint8_t st = 0;

	sink_open(&k);
	capture(b, &k, 3, d);
	memcpy(big, d, sizeof(d));
	inject(&k, a, d, 0);
	inject(&k, a, d, HB_LEN - 1);
	inject(&k, a, big, HB_LEN + 1);
	inject(&k, a, big, sizeof(big));
	memcpy(bad, d, sizeof(d));
	bad[0] = 'X';
	inject(&k, a, bad, sizeof(bad));
	memcpy(bad, d, sizeof(d));
	bad[4] = 2; /* version */
	inject(&k, a, bad, sizeof(bad));
	forge(key_a, 2, 3, 1, 55, 1, bad); /* authentic, pad not zero */
	inject(&k, a, bad, sizeof(bad));
	CU_ASSERT(drain(a) == 0);
	hb_get_stats(a, &s);
	CU_ASSERT(s.malformed == 7 && s.received == 0 && s.bad_mac == 0);

	inject(&k, a, d, sizeof(d)); /* the intact one still passes */
	CU_ASSERT(recv_wait(a, &st) == 1 && st == 3);
	close(k.fd);
	hb_close(a);
	hb_close(b);
}

static void test_restart(void)
{
	struct hb *a = open_hb(1, key_a), *b = open_hb(2, key_a);
	struct hb_stats s;
	uint8_t st = 0;

	aim(b, a);
	for (int i = 0; i < 5; i++) {
		CU_ASSERT(hb_send(b, 1) == 0);
		CU_ASSERT(recv_wait(a, &st) == 1);
	}
	hb_close(b);
	b = open_hb(2, key_a); /* new boot: new nonce, counter from 1 */
	aim(b, a);
	CU_ASSERT(hb_send(b, 2) == 0);
	CU_ASSERT(recv_wait(a, &st) == 1 && st == 2);
	hb_get_stats(a, &s);
	CU_ASSERT(s.received == 6 && s.replays == 0);
	hb_close(a);
	hb_close(b);
}

/* The freshness rules 1-4 of heartbeat.h, one by one. */
static void test_freshness_rules(void)
{
	struct hb *a = open_hb(1, key_a);
	struct hb_stats s;

	CU_ASSERT(feed(a, 0xa1, 5000) == 1); /* rule 1: first one, any counter */
	CU_ASSERT(feed(a, 0xa1, 5000) == 0); /* rule 2 */
	CU_ASSERT(feed(a, 0xa1, 4999) == 0);
	CU_ASSERT(feed(a, 0xa1, 5001) == 1);
	CU_ASSERT(feed(a, 0xa2, 10) == 1);   /* rule 3: a fresh boot */
	CU_ASSERT(feed(a, 0xa1, 5002) == 0); /* old boot, large counter */
	CU_ASSERT(feed(a, 0xa1, 5003) == 0);
	CU_ASSERT(feed(a, 0xa1, 5004) == 1); /* rule 4: the third of a run */
	/* the trade-off: an earlier boot's fresh datagrams pass (rule 3) */
	CU_ASSERT(feed(a, 0xa2, 11) == 1);
	hb_get_stats(a, &s);
	CU_ASSERT(s.received == 5 && s.replays == 4);

	/* a run is broken by an accepted datagram and by a non-increasing counter */
	CU_ASSERT(feed(a, 0xa3, 2000) == 0);
	CU_ASSERT(feed(a, 0xa3, 2001) == 0);
	CU_ASSERT(feed(a, 0xa2, 12) == 1);
	CU_ASSERT(feed(a, 0xa3, 2002) == 0);
	CU_ASSERT(feed(a, 0xa3, 2003) == 0);
	CU_ASSERT(feed(a, 0xa3, 2003) == 0);
	CU_ASSERT(feed(a, 0xa3, 2004) == 0);
	CU_ASSERT(feed(a, 0xa3, 2005) == 1);
	CU_ASSERT(feed(a, 0xa1, 5006) == 0);

	/* the fresh-boot bound */
	CU_ASSERT(feed(a, 0xa4, HB_FRESH_COUNT - 1) == 1);
	CU_ASSERT(feed(a, 0xa5, HB_FRESH_COUNT) == 0);
	hb_close(a);
}

/* One hb_receive reads at most HB_RECV_BUDGET datagrams. */
static void test_budget(void)
{
	struct hb *a = open_hb(1, key_a), *b = open_hb(2, key_a);
	uint8_t st = 0;
	int n = HB_RECV_BUDGET + 36;

	aim(b, a);
	for (int i = 0; i < n; i++)
		CU_ASSERT(hb_send(b, (uint8_t)i) == 0);
	CU_ASSERT(readable(hb_fd(a), WAIT_MS));
	CU_ASSERT(hb_receive(a, &st) == HB_RECV_BUDGET);
	CU_ASSERT(hb_receive(a, &st) == 36 && st == (uint8_t)(n - 1));
	CU_ASSERT(hb_receive(a, &st) == 0);
	hb_close(a);
	hb_close(b);
}

static void test_ipv6(void)
{
	struct hb *a = open_hb_family(1, key_a, AF_INET6);
	struct hb *b = open_hb_family(2, key_a, AF_INET6);
	uint8_t st = 0;

	if (!a || !b) {
		printf("(no IPv6 loopback here: skipped) ");
		hb_close(a);
		hb_close(b);
		return;
	}
	aim(a, b);
	aim(b, a);
	CU_ASSERT(hb_send(a, 0x61) == 0);
	CU_ASSERT(recv_wait(b, &st) == 1 && st == 0x61);
	CU_ASSERT(hb_send(b, 0x62) == 0);
	CU_ASSERT(recv_wait(a, &st) == 1 && st == 0x62);
	hb_close(a);
	hb_close(b);
}

/* Random bytes, random lengths, and real datagrams with bytes flipped: none passes. */
static void test_fuzz(void)
{
	struct hb *a = open_hb(1, key_a), *b = open_hb(2, key_a);
	struct sink k;
	struct hb_stats s;
	uint8_t real[HB_LEN], d[HB_LEN + 8], st = 0;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int accepted = 0;

	sink_open(&k);
	capture(b, &k, 1, real);
	for (int i = 0; i < 10000; i++) {
		uint64_t r = xorshift(&seed);
		size_t len = (r & 3) ? HB_LEN : (size_t)(r >> 8) % sizeof(d);

		for (size_t j = 0; j < sizeof(d); j++)
			d[j] = (uint8_t)xorshift(&seed);
		if ((r & 3) == 1) /* past the cheap checks */
			memcpy(d, "TWHB\1\2", 6);
		if ((r & 3) >= 2) { /* a real one, 1 to 3 bytes changed */
			memcpy(d, real, HB_LEN);
			for (int f = 0; f < 1 + (int)((r >> 4) % 3); f++)
				d[xorshift(&seed) % HB_LEN] ^= (uint8_t)(1 + (r >> 16) % 255);
			if (memcmp(d, real, HB_LEN) == 0) /* two flips undid each other */
				d[r % HB_LEN] ^= 0x80;
		}
		accepted += hb_input(a, d, len, &st);
	}
	CU_ASSERT(accepted == 0);
	hb_get_stats(a, &s);
	CU_ASSERT(s.received == 0);
	CU_ASSERT(s.malformed + s.bad_mac + s.wrong_node + s.replays == 10000);

	/* and some through the socket, in batches the receive buffer holds */
	for (int batch = 0; batch < 10; batch++) {
		for (int i = 0; i < 50; i++) {
			uint64_t r = xorshift(&seed);

			for (size_t j = 0; j < sizeof(d); j++)
				d[j] = (uint8_t)xorshift(&seed);
			inject(&k, a, d, (r & 1) ? HB_LEN : (size_t)(r >> 8) % sizeof(d));
		}
		CU_ASSERT(drain(a) == 0);
	}
	hb_get_stats(a, &s);
	CU_ASSERT(s.received == 0 && s.malformed + s.bad_mac + s.wrong_node + s.replays == 10500);
	inject(&k, a, real, sizeof(real)); /* still listening */
	CU_ASSERT(recv_wait(a, &st) == 1 && st == 1);
	close(k.fd);
	hb_close(a);
	hb_close(b);
}

/* ---- registration ---- */

struct test_def {
	const char *name;
	CU_TestFunc fn;
};

static int add_suite(const char *name, const struct test_def *tests, size_t n)
{
	CU_pSuite s = CU_add_suite(name, NULL, NULL);

	if (!s)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			return -1;
	}
	return 0;
}

int twinfs_register_tests(void)
{
	static const struct test_def tests[] = {
	    {"open rejects bad parameters", test_open_rejects},
	    {"wire layout", test_wire_layout},
	    {"exchange carries the state byte", test_exchange},
	    {"empty receive returns 0", test_empty_receive},
	    {"wrong key", test_wrong_key},
	    {"replay", test_replay},
	    {"own node id and reflection", test_own_node},
	    {"malformed datagrams", test_malformed},
	    {"restarted sender", test_restart},
	    {"freshness rules", test_freshness_rules},
	    {"receive budget", test_budget},
	    {"IPv6", test_ipv6},
	    {"fuzz: 10000 random datagrams", test_fuzz},
	};

	return add_suite("heartbeat", tests, sizeof(tests) / sizeof(tests[0]));
}
