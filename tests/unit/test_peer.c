/*
 * test_peer.c — the peer protocol (failover/peer): messages, frames, sessions,
 * the key file, and links over socketpairs and loopback TCP.
 *
 * Frames that a correct sender would never make (forged types, flags, versions,
 * lengths) are built here by forge(), an independent implementation of the frame
 * layout with OpenSSL's one-shot HMAC(), so the tests also pin the wire format
 * that docs/peer-protocol.md describes. The "fake peer" is a bare session on the
 * raw end of a socketpair, so the test controls every byte a link receives.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "failover/peer/link.h"
#include "failover/peer/peer.h"

int twinfs_register_tests(void);

#define ID_A	  1
#define ID_B	  2
#define NONCE_A	  0x1111111111111111ull
#define NONCE_B	  0x2222222222222222ull
#define FP	  0xf00dfeedull
#define FRAME_MAX PEER_MAX_FRAME

static const uint8_t key_a[40] = "0123456789abcdef0123456789abcdef-key-A!";
static const uint8_t key_b[40] = "0123456789abcdef0123456789abcdef-key-B!";

/* ---- helpers ---- */

static struct peer_params params(uint32_t self, uint32_t peer, const uint8_t *key)
{
	struct peer_params p = {
	    .key = key, .key_len = 40, .self_id = self, .peer_id = peer, .config_fp = FP};

	return p;
}

static struct peer_session *session(uint32_t self, uint32_t peer, const uint8_t *key,
				    uint64_t nonce)
{
	struct peer_params p = params(self, peer, key);
	struct peer_session *s = peer_session_new(&p);

	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_FATAL(peer_session_reset(s, nonce) == PEER_OK);
	return s;
}

/* Both HELLOs, each opened by the other side. */
static void handshake(struct peer_session *a, struct peer_session *b)
{
	static uint8_t f[256];
	struct peer_msg m;
	size_t n;

	CU_ASSERT_FATAL(peer_session_seal_hello(a, f, sizeof(f), &n) == PEER_OK);
	CU_ASSERT_FATAL(peer_session_open(b, f, n, &m) == PEER_OK);
	CU_ASSERT_FATAL(peer_session_seal_hello(b, f, sizeof(f), &n) == PEER_OK);
	CU_ASSERT_FATAL(peer_session_open(a, f, n, &m) == PEER_OK);
}

static void put_be(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v = (v << 8) | p[i];
	return v;
}

struct forge_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint64_t seq;
	uint32_t sender;
	uint64_t nonce;
};

/* A frame laid out by hand and MACed with one-shot HMAC(): the format, independently. */
static size_t forge(uint8_t *out, const uint8_t *key, const struct forge_hdr *h,
		    const uint8_t *payload, uint32_t plen)
{
	unsigned maclen = 0;

	memcpy(out, "TWPL", 4);
	out[4] = h->version;
	out[5] = h->type;
	put_be(out + 6, h->flags, 2);
	put_be(out + 8, plen, 4);
	put_be(out + 12, h->seq, 8);
	put_be(out + 20, h->sender, 4);
	put_be(out + 24, h->nonce, 8);
	if (plen)
		memcpy(out + 32, payload, plen);
	HMAC(EVP_sha256(), key, 40, out, 32 + plen, out + 32 + plen, &maclen);
	CU_ASSERT(maclen == 32);
	return 32 + (size_t)plen + 32;
}

/* A valid frame from A to B (B's nonce) with these fields. */
static size_t forge_ab(uint8_t *out, uint8_t type, uint64_t seq, const uint8_t *payload,
		       uint32_t plen)
{
	struct forge_hdr h = {PEER_VERSION, type, 0, seq, ID_A, NONCE_B};

	return forge(out, key_a, &h, payload, plen);
}

#define MAX_RESULTS 64

struct results {
	int n;
	enum peer_status st[MAX_RESULTS];
	struct peer_msg m[MAX_RESULTS];
	size_t consumed;
};

/* The link's loop over an in-memory stream: scan, open, until NEED_MORE or lost. */
static void stream_parse(struct peer_session *s, const uint8_t *buf, size_t len, struct results *r)
{
	memset(r, 0, sizeof(*r));
	while (r->n < MAX_RESULTS) {
		struct peer_hdr h;
		enum peer_status st = peer_frame_scan(buf + r->consumed, len - r->consumed,
						      peer_session_max_payload(s), &h);

		if (st == PEER_NEED_MORE)
			return;
		if (st != PEER_OK) {
			r->st[r->n++] = st;
			return;
		}
		r->st[r->n] =
		    peer_session_open(s, buf + r->consumed, peer_frame_size(&h), &r->m[r->n]);
		r->n++;
		r->consumed += peer_frame_size(&h);
	}
}

static void sample_notice(struct peer_notice *n, uint16_t code, const char *text)
{
	n->code = code;
	snprintf(n->detail, sizeof(n->detail), "%s", text);
}

static uint8_t sample_records[64];
static uint32_t sample_records_len;

/* A message of each type, with every field non-zero and distinct. */
static void sample_msg(unsigned type, struct peer_msg *m)
{
	uint32_t count = 0;

	memset(m, 0, sizeof(*m));
	m->type = (enum peer_type)type;
	switch (type) {
	case PEER_HELLO:
		m->u.hello = (struct peer_hello){PEER_VERSION, 7, 0x0102030405060708ull, FP};
		break;
	case PEER_HEARTBEAT:
		m->u.heartbeat = (struct peer_heartbeat){3, 0xa5a5a5a5u, 1ull << 40, 77, 123456789};
		break;
	case PEER_FAULT:
		sample_notice(&m->u.fault, 2, "storage probe: fsync timed out on /srv/é");
		break;
	case PEER_TAKEOVER_REQUEST:
		sample_notice(&m->u.takeover, 1, "operator handover");
		break;
	case PEER_REFUSE:
		sample_notice(&m->u.refuse, 0xffff, "");
		break;
	case PEER_RELEASED:
		m->u.released.mirror_pos = 0xdeadbeefcafeull;
		memcpy(m->u.released.verifier, "VERIFY!!", 8);
		m->u.released.request = 0x1122334455667788ull;
		break;
	case PEER_SHUTDOWN_REQUEST:
		m->u.shutdown.request = 0x1122334455667788ull;
		break;
	case PEER_STAY_DOWN:
		m->u.stay_down.epoch = 0x8000000000000001ull;
		break;
	case PEER_MIRROR:
		sample_records_len = 0;
		peer_mirror_add(sample_records, sizeof(sample_records), &sample_records_len, &count,
				"first", 5);
		peer_mirror_add(sample_records, sizeof(sample_records), &sample_records_len, &count,
				"", 0);
		peer_mirror_add(sample_records, sizeof(sample_records), &sample_records_len, &count,
				"third record", 12);
		m->u.mirror = (struct peer_mirror){41, count, sample_records_len, sample_records};
		break;
	case PEER_MIRROR_ACK:
		m->u.mirror_ack.position = 44;
		break;
	case PEER_CLIENTS: {
		static uint8_t entries[2 * PEER_CLIENT_LEN];
		struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(2049)};
		struct sockaddr_in c4 = {.sin_family = AF_INET, .sin_port = htons(812)};
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(2049)};
		struct sockaddr_in6 c6 = {.sin6_family = AF_INET6, .sin6_port = htons(50000)};
		inet_pton(AF_INET, "192.0.2.100", &s4.sin_addr);
		inet_pton(AF_INET, "192.0.2.2", &c4.sin_addr);
		inet_pton(AF_INET6, "2001:db8::100", &s6.sin6_addr);
		inet_pton(AF_INET6, "2001:db8::2", &c6.sin6_addr);
		count = 0;
		peer_clients_add(entries, sizeof(entries), &count, (struct sockaddr *)&s4,
				 (struct sockaddr *)&c4);
		peer_clients_add(entries, sizeof(entries), &count, (struct sockaddr *)&s6,
				 (struct sockaddr *)&c6);
		m->u.clients = (struct peer_clients){count, entries};
		break;
	}
	default:
		break;
	}
}

static void assert_msg_equal(const struct peer_msg *a, const struct peer_msg *b)
{
	CU_ASSERT_EQUAL_FATAL(a->type, b->type);
	switch (a->type) {
	case PEER_HELLO:
		CU_ASSERT(a->u.hello.version == b->u.hello.version);
		CU_ASSERT(a->u.hello.node_id == b->u.hello.node_id);
		CU_ASSERT(a->u.hello.nonce == b->u.hello.nonce);
		CU_ASSERT(a->u.hello.config_fp == b->u.hello.config_fp);
		break;
	case PEER_HEARTBEAT:
		CU_ASSERT(a->u.heartbeat.state == b->u.heartbeat.state);
		CU_ASSERT(a->u.heartbeat.health == b->u.heartbeat.health);
		CU_ASSERT(a->u.heartbeat.mirror_pos == b->u.heartbeat.mirror_pos);
		CU_ASSERT(a->u.heartbeat.epoch == b->u.heartbeat.epoch);
		CU_ASSERT(a->u.heartbeat.uptime_ms == b->u.heartbeat.uptime_ms);
		break;
	case PEER_FAULT:
	case PEER_TAKEOVER_REQUEST:
	case PEER_REFUSE:
		CU_ASSERT(a->u.fault.code == b->u.fault.code);
		CU_ASSERT_STRING_EQUAL(a->u.fault.detail, b->u.fault.detail);
		break;
	case PEER_RELEASED:
		CU_ASSERT(a->u.released.mirror_pos == b->u.released.mirror_pos);
		CU_ASSERT(memcmp(a->u.released.verifier, b->u.released.verifier, 8) == 0);
		CU_ASSERT(a->u.released.request == b->u.released.request);
		break;
	case PEER_STAY_DOWN:
		CU_ASSERT(a->u.stay_down.epoch == b->u.stay_down.epoch);
		break;
	case PEER_MIRROR:
		CU_ASSERT(a->u.mirror.position == b->u.mirror.position);
		CU_ASSERT(a->u.mirror.count == b->u.mirror.count);
		CU_ASSERT_FATAL(a->u.mirror.records_len == b->u.mirror.records_len);
		CU_ASSERT(
		    a->u.mirror.records_len == 0 ||
		    memcmp(a->u.mirror.records, b->u.mirror.records, a->u.mirror.records_len) == 0);
		break;
	case PEER_MIRROR_ACK:
		CU_ASSERT(a->u.mirror_ack.position == b->u.mirror_ack.position);
		break;
	case PEER_CLIENTS:
		CU_ASSERT_FATAL(a->u.clients.count == b->u.clients.count);
		CU_ASSERT(memcmp(a->u.clients.entries, b->u.clients.entries,
				 a->u.clients.count * PEER_CLIENT_LEN) == 0);
		break;
	case PEER_SHUTDOWN_REQUEST:
		CU_ASSERT(a->u.shutdown.request == b->u.shutdown.request);
		break;
	case PEER_GIVEBACK:
		break;
	}
}

/* ---- messages ---- */

static void test_msg_roundtrip_all(void)
{
	for (unsigned t = PEER_HELLO; t <= PEER_TYPE_MAX; t++) {
		uint8_t buf[512], again[512];
		struct peer_msg m, out, out2;
		size_t n = 0, n2 = 0;

		sample_msg(t, &m);
		CU_ASSERT_FATAL(peer_msg_encode(&m, buf, sizeof(buf), &n) == PEER_OK);
		CU_ASSERT_FATAL(peer_msg_decode(t, buf, n, &out) == PEER_OK);
		assert_msg_equal(&m, &out);
		/* Canonical: what decodes re-encodes to the same bytes. */
		CU_ASSERT_FATAL(peer_msg_encode(&out, again, sizeof(again), &n2) == PEER_OK);
		CU_ASSERT(n == n2 && memcmp(buf, again, n) == 0);
		CU_ASSERT(peer_msg_decode(t, again, n2, &out2) == PEER_OK);
		CU_ASSERT_PTR_NOT_NULL(peer_type_name(t));
	}
}

/* CLIENTS entries come back as the addresses they were made from; a bad family
 * or a length that is not whole entries is refused. */
static void test_clients_entries(void)
{
	struct peer_msg m, out;
	struct sockaddr_storage srv, cli;
	uint8_t buf[512];
	size_t n = 0;

	sample_msg(PEER_CLIENTS, &m);
	CU_ASSERT_FATAL(peer_msg_encode(&m, buf, sizeof(buf), &n) == PEER_OK);
	CU_ASSERT_FATAL(peer_msg_decode(PEER_CLIENTS, buf, n, &out) == PEER_OK);
	peer_clients_get(&out.u.clients, 0, &srv, &cli);
	CU_ASSERT(srv.ss_family == AF_INET && cli.ss_family == AF_INET);
	CU_ASSERT(ntohs(((struct sockaddr_in *)&srv)->sin_port) == 2049);
	CU_ASSERT(ntohs(((struct sockaddr_in *)&cli)->sin_port) == 812);
	char text[64];
	inet_ntop(AF_INET, &((struct sockaddr_in *)&cli)->sin_addr, text, sizeof(text));
	CU_ASSERT_STRING_EQUAL(text, "192.0.2.2");
	peer_clients_get(&out.u.clients, 1, &srv, &cli);
	CU_ASSERT(srv.ss_family == AF_INET6);
	inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&srv)->sin6_addr, text, sizeof(text));
	CU_ASSERT_STRING_EQUAL(text, "2001:db8::100");
	buf[4] = 5; /* family of the first entry */
	CU_ASSERT(peer_msg_decode(PEER_CLIENTS, buf, n, &out) == PEER_EPAYLOAD);
	buf[4] = 4;
	CU_ASSERT(peer_msg_decode(PEER_CLIENTS, buf, n - 1, &out) == PEER_EPAYLOAD);
	buf[3] = 3; /* count says 3, two entries follow */
	CU_ASSERT(peer_msg_decode(PEER_CLIENTS, buf, n, &out) == PEER_EPAYLOAD);
}

/* Expected payload sizes pin the layouts of docs/peer-protocol.md. */
static void test_msg_sizes(void)
{
	static const size_t size[PEER_TYPE_MAX + 1] = {
	    [PEER_HELLO] = 22,		 [PEER_HEARTBEAT] = 29,
	    [PEER_FAULT] = 4 + 41,	 [PEER_TAKEOVER_REQUEST] = 4 + 17,
	    [PEER_SHUTDOWN_REQUEST] = 8, [PEER_REFUSE] = 4,
	    [PEER_RELEASED] = 24,	 [PEER_STAY_DOWN] = 8,
	    [PEER_GIVEBACK] = 0,	 [PEER_MIRROR] = 12 + 4 + 5 + 4 + 4 + 12,
	    [PEER_MIRROR_ACK] = 8,	 [PEER_CLIENTS] = 4 + 2 * PEER_CLIENT_LEN,
	};

	for (unsigned t = PEER_HELLO; t <= PEER_TYPE_MAX; t++) {
		uint8_t buf[512];
		struct peer_msg m;
		size_t n = 0;

		sample_msg(t, &m);
		CU_ASSERT(peer_msg_encode(&m, buf, sizeof(buf), &n) == PEER_OK);
		if (n != size[t])
			fprintf(stderr, "\n%s: %zu bytes, expected %zu\n", peer_type_name(t), n,
				size[t]);
		CU_ASSERT(n == size[t]);
	}
}

/* A HEARTBEAT payload laid out by hand decodes to the right fields. */
static void test_msg_heartbeat_wire(void)
{
	uint8_t p[29];
	struct peer_msg m;

	p[0] = 4;
	put_be(p + 1, 0x01020304, 4);
	put_be(p + 5, 0x1112131415161718ull, 8);
	put_be(p + 13, 9, 8);
	put_be(p + 21, 1000, 8);
	CU_ASSERT_FATAL(peer_msg_decode(PEER_HEARTBEAT, p, sizeof(p), &m) == PEER_OK);
	CU_ASSERT(m.u.heartbeat.state == 4);
	CU_ASSERT(m.u.heartbeat.health == 0x01020304);
	CU_ASSERT(m.u.heartbeat.mirror_pos == 0x1112131415161718ull);
	CU_ASSERT(m.u.heartbeat.epoch == 9);
	CU_ASSERT(m.u.heartbeat.uptime_ms == 1000);
}

static void test_msg_decode_rejects(void)
{
	uint8_t buf[600];
	struct peer_msg m;
	size_t n = 0;

	/* Every type: one byte short and one byte long are malformed. */
	for (unsigned t = PEER_HELLO; t <= PEER_TYPE_MAX; t++) {
		sample_msg(t, &m);
		CU_ASSERT_FATAL(peer_msg_encode(&m, buf, sizeof(buf), &n) == PEER_OK);
		buf[n] = 0;
		CU_ASSERT(peer_msg_decode(t, buf, n + 1, &m) == PEER_EPAYLOAD);
		if (n > 0)
			CU_ASSERT(peer_msg_decode(t, buf, n - 1, &m) == PEER_EPAYLOAD);
	}
	CU_ASSERT(peer_msg_decode(0, buf, 0, &m) == PEER_EUNKNOWN);
	CU_ASSERT(peer_msg_decode(PEER_TYPE_MAX + 1, buf, 0, &m) == PEER_EUNKNOWN);
	CU_ASSERT(peer_msg_decode(255, buf, 0, &m) == PEER_EUNKNOWN);
	CU_ASSERT_PTR_NULL(peer_type_name(0));
	CU_ASSERT_PTR_NULL(peer_type_name(200));

	/* Notice: detail over the limit, a NUL, a control character. */
	put_be(buf, 1, 2);
	put_be(buf + 2, PEER_DETAIL_MAX + 1, 2);
	memset(buf + 4, 'x', PEER_DETAIL_MAX + 1);
	CU_ASSERT(peer_msg_decode(PEER_FAULT, buf, 4 + PEER_DETAIL_MAX + 1, &m) == PEER_EPAYLOAD);
	put_be(buf + 2, PEER_DETAIL_MAX, 2);
	CU_ASSERT(peer_msg_decode(PEER_FAULT, buf, 4 + PEER_DETAIL_MAX, &m) == PEER_OK);
	CU_ASSERT(strlen(m.u.fault.detail) == PEER_DETAIL_MAX);
	put_be(buf + 2, 3, 2);
	memcpy(buf + 4, "a\0b", 3);
	CU_ASSERT(peer_msg_decode(PEER_REFUSE, buf, 7, &m) == PEER_EPAYLOAD);
	memcpy(buf + 4, "a\nb", 3);
	CU_ASSERT(peer_msg_decode(PEER_REFUSE, buf, 7, &m) == PEER_EPAYLOAD);
	put_be(buf + 2, 4, 2); /* says 4, has 3 */
	CU_ASSERT(peer_msg_decode(PEER_REFUSE, buf, 7, &m) == PEER_EPAYLOAD);

	/* Mirror: count larger than the records, a record overrunning, trailing bytes. */
	put_be(buf, 5, 8);
	put_be(buf + 8, 2, 4);
	put_be(buf + 12, 3, 4);
	memcpy(buf + 16, "abc", 3);
	CU_ASSERT(peer_msg_decode(PEER_MIRROR, buf, 19, &m) == PEER_EPAYLOAD);
	put_be(buf + 8, 1, 4);
	CU_ASSERT(peer_msg_decode(PEER_MIRROR, buf, 19, &m) == PEER_OK);
	CU_ASSERT(peer_msg_decode(PEER_MIRROR, buf, 18, &m) == PEER_EPAYLOAD);
	put_be(buf + 12, 0xffffffffu, 4);
	CU_ASSERT(peer_msg_decode(PEER_MIRROR, buf, 19, &m) == PEER_EPAYLOAD);
	put_be(buf + 12, 2, 4);
	CU_ASSERT(peer_msg_decode(PEER_MIRROR, buf, 19, &m) == PEER_EPAYLOAD);
	put_be(buf + 8, 0, 4);
	CU_ASSERT(peer_msg_decode(PEER_MIRROR, buf, 12, &m) == PEER_OK);
	CU_ASSERT(m.u.mirror.count == 0 && m.u.mirror.records_len == 0);
}

static void test_msg_encode_rejects(void)
{
	uint8_t buf[600];
	struct peer_msg m;
	size_t n = 0;

	memset(&m, 0, sizeof(m));
	m.type = PEER_FAULT;
	memset(m.u.fault.detail, 'x', sizeof(m.u.fault.detail)); /* no NUL: 257 bytes */
	CU_ASSERT(peer_msg_encode(&m, buf, sizeof(buf), &n) == PEER_EINVAL);
	m.u.fault.detail[PEER_DETAIL_MAX] = '\0';
	CU_ASSERT(peer_msg_encode(&m, buf, sizeof(buf), &n) == PEER_OK);
	CU_ASSERT(n == 4 + PEER_DETAIL_MAX);
	CU_ASSERT(peer_msg_encode(&m, buf, n - 1, &n) == PEER_ENOSPC);
	m.u.fault.detail[3] = '\t';
	CU_ASSERT(peer_msg_encode(&m, buf, sizeof(buf), &n) == PEER_EINVAL);

	sample_msg(PEER_MIRROR, &m);
	m.u.mirror.count++;
	CU_ASSERT(peer_msg_encode(&m, buf, sizeof(buf), &n) == PEER_EINVAL);
	m.u.mirror.count--;
	m.u.mirror.records_len--;
	CU_ASSERT(peer_msg_encode(&m, buf, sizeof(buf), &n) == PEER_EINVAL);
	m.u.mirror.records_len = PEER_MIRROR_MAX_BYTES + 1;
	CU_ASSERT(peer_msg_encode(&m, buf, sizeof(buf), &n) == PEER_ETOOBIG);

	memset(&m, 0, sizeof(m));
	m.type = (enum peer_type)0;
	CU_ASSERT(peer_msg_encode(&m, buf, sizeof(buf), &n) == PEER_EINVAL);
	m.type = (enum peer_type)(PEER_TYPE_MAX + 1);
	CU_ASSERT(peer_msg_encode(&m, buf, sizeof(buf), &n) == PEER_EINVAL);
}

static void test_mirror_builder(void)
{
	uint8_t buf[100];
	uint32_t used = 0, count = 0, off = 0, len = 0, i = 0;
	const uint8_t *rec;
	struct peer_msg m = {.type = PEER_MIRROR};
	char want[16];

	/* 10-byte records (4 + 6) until the 100-byte buffer is full. */
	while (peer_mirror_add(buf, sizeof(buf), &used, &count, "rec-00", 6) == PEER_OK) {
		buf[used - 1] = (uint8_t)('0' + count % 10);
		CU_ASSERT_FATAL(count <= 10);
	}
	CU_ASSERT(count == 10 && used == 100);
	CU_ASSERT(peer_mirror_add(buf, sizeof(buf), &used, &count, "", 0) == PEER_ENOSPC);
	m.u.mirror = (struct peer_mirror){0, count, used, buf};
	while (peer_mirror_next(&m.u.mirror, &off, &rec, &len)) {
		i++;
		snprintf(want, sizeof(want), "rec-0%u", i % 10);
		CU_ASSERT(len == 6 && memcmp(rec, want, 6) == 0);
	}
	CU_ASSERT(i == 10);
}

static void test_strerror(void)
{
	for (int st = PEER_ETIMEDOUT; st <= PEER_NEED_MORE; st++) {
		const char *s = peer_strerror((enum peer_status)st);

		CU_ASSERT(s != NULL && strcmp(s, "unknown status") != 0);
		for (int o = PEER_ETIMEDOUT; o < st; o++)
			CU_ASSERT(strcmp(s, peer_strerror((enum peer_status)o)) != 0);
		CU_ASSERT(peer_status_fatal((enum peer_status)st) ==
			  (st == PEER_EMAGIC || st == PEER_ETOOBIG));
	}
}

/* ---- frames and sessions ---- */

static void test_frame_layout(void)
{
	struct peer_session *a = session(ID_A, ID_B, key_a, NONCE_A);
	struct peer_session *b = session(ID_B, ID_A, key_a, NONCE_B);
	uint8_t f[256];
	struct peer_msg m;
	size_t n;

	CU_ASSERT_FATAL(peer_session_seal_hello(a, f, sizeof(f), &n) == PEER_OK);
	CU_ASSERT(n == 32 + PEER_HELLO_LEN + 32);
	CU_ASSERT(memcmp(f, "TWPL", 4) == 0 && f[4] == 1 && f[5] == PEER_HELLO);
	CU_ASSERT(get_be(f + 6, 2) == 0 && get_be(f + 8, 4) == PEER_HELLO_LEN);
	CU_ASSERT(get_be(f + 12, 8) == 1 && get_be(f + 20, 4) == ID_A && get_be(f + 24, 8) == 0);
	CU_ASSERT(get_be(f + 32, 2) == PEER_VERSION && get_be(f + 34, 4) == ID_A);
	CU_ASSERT(get_be(f + 38, 8) == NONCE_A && get_be(f + 46, 8) == FP);
	CU_ASSERT_FATAL(peer_session_open(b, f, n, &m) == PEER_OK);
	CU_ASSERT(m.type == PEER_HELLO && m.u.hello.nonce == NONCE_A && m.u.hello.config_fp == FP);
	CU_ASSERT(peer_session_peer_hello(b)->node_id == ID_A);
	CU_ASSERT(peer_session_hello_done(b) && !peer_session_verified(b));

	CU_ASSERT_FATAL(peer_session_seal_hello(b, f, sizeof(f), &n) == PEER_OK);
	CU_ASSERT_FATAL(peer_session_open(a, f, n, &m) == PEER_OK);
	sample_msg(PEER_STAY_DOWN, &m);
	CU_ASSERT_FATAL(peer_session_seal(a, &m, f, sizeof(f), &n) == PEER_OK);
	CU_ASSERT(n == 32 + 8 + 32 && f[5] == PEER_STAY_DOWN);
	CU_ASSERT(get_be(f + 12, 8) == 2 && get_be(f + 24, 8) == NONCE_B); /* receiver's nonce */
	CU_ASSERT(get_be(f + 32, 8) == m.u.stay_down.epoch);
	CU_ASSERT(peer_session_open(b, f, n, &m) == PEER_OK);
	CU_ASSERT(peer_session_verified(b));
	peer_session_free(a);
	peer_session_free(b);
}

/* The reused MAC context gives HMAC-SHA256 frame after frame (and after opens). */
static void test_mac_matches_oneshot(void)
{
	struct peer_session *a = session(ID_A, ID_B, key_a, NONCE_A);
	struct peer_session *b = session(ID_B, ID_A, key_a, NONCE_B);
	uint8_t f[512], mac[32];
	unsigned maclen;
	struct peer_msg m;
	size_t n;

	handshake(a, b);
	for (unsigned t = PEER_HEARTBEAT; t <= PEER_TYPE_MAX; t++) {
		sample_msg(t, &m);
		CU_ASSERT_FATAL(peer_session_seal(a, &m, f, sizeof(f), &n) == PEER_OK);
		HMAC(EVP_sha256(), key_a, sizeof(key_a), f, n - 32, mac, &maclen);
		CU_ASSERT(maclen == 32 && memcmp(mac, f + n - 32, 32) == 0);
		CU_ASSERT(peer_session_open(b, f, n, &m) == PEER_OK);
	}
	peer_session_free(a);
	peer_session_free(b);
}

static void test_session_roundtrip_all(void)
{
	struct peer_session *a = session(ID_A, ID_B, key_a, NONCE_A);
	struct peer_session *b = session(ID_B, ID_A, key_a, NONCE_B);
	uint8_t f[512];
	struct peer_msg m, out;
	size_t n;

	handshake(a, b);
	for (unsigned t = PEER_HEARTBEAT; t <= PEER_TYPE_MAX; t++) {
		sample_msg(t, &m);
		CU_ASSERT_FATAL(peer_session_seal(b, &m, f, sizeof(f), &n) == PEER_OK);
		CU_ASSERT_FATAL(peer_session_open(a, f, n, &out) == PEER_OK);
		assert_msg_equal(&m, &out);
	}
	sample_msg(PEER_HELLO, &m);
	CU_ASSERT(peer_session_seal(a, &m, f, sizeof(f), &n) == PEER_EINVAL);
	CU_ASSERT(peer_session_seal_hello(a, f, sizeof(f), &n) == PEER_ESTATE);
	sample_msg(PEER_HEARTBEAT, &m);
	CU_ASSERT(peer_session_seal(a, &m, f, 63, &n) == PEER_ENOSPC);
	CU_ASSERT(peer_session_open(b, f, 10, &out) == PEER_EINVAL);
	peer_session_free(a);
	peer_session_free(b);
}

/* Flips of every byte, three ways each: nothing is accepted, the original still is. */
static void flip_every_byte(const struct peer_msg *m)
{
	struct peer_session *a = session(ID_A, ID_B, key_a, NONCE_A);
	struct peer_session *b = session(ID_B, ID_A, key_a, NONCE_B);
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	uint8_t f[512], g[512];
	struct results r;
	size_t n;

	handshake(a, b);
	CU_ASSERT_FATAL(peer_session_seal(a, m, f, sizeof(f), &n) == PEER_OK);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < sizeof(masks); k++) {
			memcpy(g, f, n);
			g[i] ^= masks[k];
			stream_parse(b, g, n, &r);
			for (int j = 0; j < r.n; j++)
				CU_ASSERT(r.st[j] != PEER_OK);
			/* 8..11, the length: a shorter frame fails its MAC, a longer one
			 * waits for more, a huge one is refused. */
			if (i < 4) {
				CU_ASSERT(r.n == 1 && r.st[0] == PEER_EMAGIC);
			} else if (i == 4) {
				CU_ASSERT(r.n == 1 && r.st[0] == PEER_EVERSION);
			} else if (i < 8 || i >= 12) {
				CU_ASSERT(r.n == 1 && r.st[0] == PEER_EMAC);
			}
		}
	}
	stream_parse(b, f, n, &r);
	CU_ASSERT(r.n == 1 && r.st[0] == PEER_OK);
	peer_session_free(a);
	peer_session_free(b);
}

static void test_flip_every_byte(void)
{
	struct peer_msg m;

	sample_msg(PEER_HEARTBEAT, &m);
	flip_every_byte(&m);
	sample_msg(PEER_FAULT, &m);
	flip_every_byte(&m);
	sample_msg(PEER_MIRROR, &m);
	flip_every_byte(&m);
}

static void test_wrong_key(void)
{
	struct peer_session *a = session(ID_A, ID_B, key_a, NONCE_A);
	struct peer_session *b = session(ID_B, ID_A, key_b, NONCE_B);
	uint8_t f[256];
	struct peer_msg m;
	size_t n;

	CU_ASSERT_FATAL(peer_session_seal_hello(a, f, sizeof(f), &n) == PEER_OK);
	CU_ASSERT(peer_session_open(b, f, n, &m) == PEER_EMAC);
	CU_ASSERT(!peer_session_hello_done(b));
	peer_session_free(a);
	peer_session_free(b);
}

static void test_replay(void)
{
	struct peer_session *a = session(ID_A, ID_B, key_a, NONCE_A);
	struct peer_session *b = session(ID_B, ID_A, key_a, NONCE_B);
	uint8_t f1[256], f2[256];
	struct peer_msg m;
	size_t n1, n2;

	handshake(a, b);
	sample_msg(PEER_STAY_DOWN, &m);
	CU_ASSERT_FATAL(peer_session_seal(a, &m, f1, sizeof(f1), &n1) == PEER_OK);
	CU_ASSERT_FATAL(peer_session_seal(a, &m, f2, sizeof(f2), &n2) == PEER_OK);
	CU_ASSERT(peer_session_open(b, f1, n1, &m) == PEER_OK);
	CU_ASSERT(peer_session_open(b, f1, n1, &m) == PEER_EREPLAY);
	CU_ASSERT(peer_session_open(b, f2, n2, &m) == PEER_OK);
	CU_ASSERT(peer_session_open(b, f1, n1, &m) == PEER_EREPLAY);
	CU_ASSERT(peer_session_open(b, f2, n2, &m) == PEER_EREPLAY);
	peer_session_free(a);
	peer_session_free(b);
}

/* A frame recorded on an old connection names the old nonce. */
static void test_old_session(void)
{
	struct peer_session *a = session(ID_A, ID_B, key_a, NONCE_A);
	struct peer_session *b = session(ID_B, ID_A, key_a, NONCE_B);
	uint8_t old[256], old_hello[256], f[256];
	struct peer_msg m;
	size_t nold, nhello, n;

	CU_ASSERT_FATAL(peer_session_seal_hello(a, old_hello, sizeof(old_hello), &nhello) ==
			PEER_OK);
	CU_ASSERT_FATAL(peer_session_open(b, old_hello, nhello, &m) == PEER_OK);
	CU_ASSERT_FATAL(peer_session_seal_hello(b, f, sizeof(f), &n) == PEER_OK);
	CU_ASSERT_FATAL(peer_session_open(a, f, n, &m) == PEER_OK);
	for (int i = 0; i < 5; i++) { /* so the old frame's sequence is ahead */
		sample_msg(PEER_HEARTBEAT, &m);
		CU_ASSERT_FATAL(peer_session_seal(a, &m, old, sizeof(old), &nold) == PEER_OK);
	}
	/* A new connection. */
	CU_ASSERT_FATAL(peer_session_reset(a, NONCE_A + 1) == PEER_OK);
	CU_ASSERT_FATAL(peer_session_reset(b, NONCE_B + 1) == PEER_OK);
	handshake(a, b);
	CU_ASSERT(peer_session_open(b, old, nold, &m) == PEER_ENONCE);
	CU_ASSERT(peer_session_open(b, old_hello, nhello, &m) == PEER_EREPLAY);
	sample_msg(PEER_HEARTBEAT, &m);
	CU_ASSERT_FATAL(peer_session_seal(a, &m, f, sizeof(f), &n) == PEER_OK);
	CU_ASSERT(peer_session_open(b, f, n, &m) == PEER_OK);
	/* An old HELLO replayed first on a new connection is accepted, but then
	 * nothing from the old connection is. */
	CU_ASSERT_FATAL(peer_session_reset(b, NONCE_B + 2) == PEER_OK);
	CU_ASSERT(peer_session_open(b, old_hello, nhello, &m) == PEER_OK);
	CU_ASSERT(peer_session_open(b, old, nold, &m) == PEER_ENONCE);
	CU_ASSERT(!peer_session_verified(b));
	CU_ASSERT(peer_session_reset(b, 0) == PEER_EINVAL);
	peer_session_free(a);
	peer_session_free(b);
}

static void test_handshake_rules(void)
{
	struct peer_session *a = session(ID_A, ID_B, key_a, NONCE_A);
	struct peer_session *b = session(ID_B, ID_A, key_a, NONCE_B);
	struct forge_hdr h = {PEER_VERSION, PEER_HELLO, 0, 1, ID_A, 0};
	uint8_t f[256], p[PEER_HELLO_LEN];
	struct peer_msg m;
	size_t n;

	sample_msg(PEER_HEARTBEAT, &m);
	CU_ASSERT(peer_session_seal(a, &m, f, sizeof(f), &n) == PEER_ESTATE);
	/* A valid-looking heartbeat before the HELLO. */
	n = forge_ab(f, PEER_HEARTBEAT, 1, (const uint8_t *)"0123456789012345678901234567", 29);
	CU_ASSERT(peer_session_open(b, f, n, &m) == PEER_ESTATE);
	/* HELLO with a header nonce, a mismatched node id, another version, nonce 0. */
	put_be(p, PEER_VERSION, 2);
	put_be(p + 2, ID_A, 4);
	put_be(p + 6, NONCE_A, 8);
	put_be(p + 14, FP, 8);
	h.nonce = 5;
	CU_ASSERT(peer_session_open(b, f, forge(f, key_a, &h, p, sizeof(p)), &m) == PEER_ENONCE);
	h.nonce = 0;
	h.seq++;
	put_be(p + 2, 9, 4);
	CU_ASSERT(peer_session_open(b, f, forge(f, key_a, &h, p, sizeof(p)), &m) == PEER_ESENDER);
	h.seq++;
	put_be(p + 2, ID_A, 4);
	put_be(p, 2, 2);
	CU_ASSERT(peer_session_open(b, f, forge(f, key_a, &h, p, sizeof(p)), &m) == PEER_EVERSION);
	h.seq++;
	put_be(p, PEER_VERSION, 2);
	put_be(p + 6, 0, 8);
	CU_ASSERT(peer_session_open(b, f, forge(f, key_a, &h, p, sizeof(p)), &m) == PEER_ENONCE);
	h.seq++;
	put_be(p + 6, NONCE_B, 8); /* B's own nonce: a reflection in disguise */
	CU_ASSERT(peer_session_open(b, f, forge(f, key_a, &h, p, sizeof(p)), &m) == PEER_ENONCE);
	/* Header version 2, flags, a third node, B itself (a reflection). */
	h.seq++;
	put_be(p + 6, NONCE_A, 8);
	h.version = 2;
	CU_ASSERT(peer_session_open(b, f, forge(f, key_a, &h, p, sizeof(p)), &m) == PEER_EVERSION);
	h.version = PEER_VERSION;
	h.flags = 0x8000;
	CU_ASSERT(peer_session_open(b, f, forge(f, key_a, &h, p, sizeof(p)), &m) == PEER_EFLAGS);
	h.flags = 0;
	h.sender = 3;
	CU_ASSERT(peer_session_open(b, f, forge(f, key_a, &h, p, sizeof(p)), &m) == PEER_ESENDER);
	CU_ASSERT_FATAL(peer_session_seal_hello(b, f, sizeof(f), &n) == PEER_OK);
	CU_ASSERT(peer_session_open(b, f, n, &m) == PEER_ESENDER);
	CU_ASSERT(!peer_session_hello_done(b));
	/* The good one, then a second HELLO with a higher sequence. */
	h.sender = ID_A;
	CU_ASSERT(peer_session_open(b, f, forge(f, key_a, &h, p, sizeof(p)), &m) == PEER_OK);
	CU_ASSERT(peer_session_hello_done(b));
	h.seq += 10;
	put_be(p + 6, NONCE_A + 7, 8);
	CU_ASSERT(peer_session_open(b, f, forge(f, key_a, &h, p, sizeof(p)), &m) == PEER_ESTATE);
	CU_ASSERT(peer_session_peer_hello(b)->nonce == NONCE_A);
	peer_session_free(a);
	peer_session_free(b);
}

/* Any node id is accepted when the partner's is not configured, except our own. */
static void test_any_peer_id(void)
{
	struct peer_session *a = session(9, 0, key_a, NONCE_A);
	struct peer_session *b = session(ID_B, 0, key_a, NONCE_B);
	struct peer_params bad = params(ID_A, ID_A, key_a);

	uint8_t f[256];
	struct peer_msg m;
	size_t n;

	handshake(a, b);
	CU_ASSERT(peer_session_peer_hello(b)->node_id == 9);
	/* Reflections are still refused: our own frames name us as the sender. */
	CU_ASSERT_FATAL(peer_session_reset(b, NONCE_B) == PEER_OK);
	CU_ASSERT_FATAL(peer_session_seal_hello(b, f, sizeof(f), &n) == PEER_OK);
	CU_ASSERT(peer_session_open(b, f, n, &m) == PEER_ESENDER);
	CU_ASSERT_PTR_NULL(peer_session_new(&bad));
	bad = params(0, ID_B, key_a);
	CU_ASSERT_PTR_NULL(peer_session_new(&bad));
	bad = params(ID_A, ID_B, key_a);
	bad.key_len = PEER_KEY_MIN - 1;
	CU_ASSERT_PTR_NULL(peer_session_new(&bad));
	peer_session_free(a);
	peer_session_free(b);
}

static void test_unknown_type(void)
{
	struct peer_session *a = session(ID_A, ID_B, key_a, NONCE_A);
	struct peer_session *b = session(ID_B, ID_A, key_a, NONCE_B);
	uint8_t stream[1024], p[8] = {0};
	struct peer_msg m;
	struct results r;
	size_t n = 0;

	handshake(a, b);
	n += forge_ab(stream + n, 200, 2, (const uint8_t *)"whatever", 8);
	n += forge_ab(stream + n, 0, 3, NULL, 0);
	n += forge_ab(stream + n, PEER_MIRROR_ACK, 4, p, 8);
	n += forge_ab(stream + n, PEER_MIRROR_ACK, 5, p, 7); /* authentic, malformed */
	n += forge_ab(stream + n, PEER_GIVEBACK, 6, NULL, 0);
	n += forge_ab(stream + n, 200, 2, (const uint8_t *)"whatever", 8); /* replayed */
	stream_parse(b, stream, n, &r);
	CU_ASSERT_FATAL(r.n == 6);
	CU_ASSERT(r.st[0] == PEER_EUNKNOWN);
	CU_ASSERT(r.st[1] == PEER_EUNKNOWN);
	CU_ASSERT(r.st[2] == PEER_OK && r.m[2].type == PEER_MIRROR_ACK);
	CU_ASSERT(r.st[3] == PEER_EPAYLOAD);
	CU_ASSERT(r.st[4] == PEER_OK && r.m[4].type == PEER_GIVEBACK);
	CU_ASSERT(r.st[5] == PEER_EREPLAY);
	CU_ASSERT(r.consumed == n);
	(void)m;
	peer_session_free(a);
	peer_session_free(b);
}

static void test_absurd_length(void)
{
	struct peer_session *a = session(ID_A, ID_B, key_a, NONCE_A);
	struct peer_session *b = session(ID_B, ID_A, key_a, NONCE_B);
	uint8_t f[128];
	struct results r;
	struct peer_hdr h;

	memset(f, 0, sizeof(f));
	memcpy(f, "TWPL", 4);
	f[4] = 1;
	f[5] = PEER_HEARTBEAT;
	put_be(f + 8, 0xffffffffu, 4);
	stream_parse(b, f, sizeof(f), &r);
	CU_ASSERT(r.n == 1 && r.st[0] == PEER_ETOOBIG && peer_status_fatal(r.st[0]));
	/* Before the HELLO the limit is the small one... */
	put_be(f + 8, PEER_MAX_PAYLOAD_PREAUTH + 1, 4);
	stream_parse(b, f, sizeof(f), &r);
	CU_ASSERT(r.n == 1 && r.st[0] == PEER_ETOOBIG);
	put_be(f + 8, PEER_MAX_PAYLOAD_PREAUTH, 4);
	stream_parse(b, f, sizeof(f), &r);
	CU_ASSERT(r.n == 0); /* waits for the rest */
	/* ...after it, the large one. */
	handshake(a, b);
	put_be(f + 8, PEER_MAX_PAYLOAD, 4);
	stream_parse(b, f, sizeof(f), &r);
	CU_ASSERT(r.n == 0);
	put_be(f + 8, PEER_MAX_PAYLOAD + 1, 4);
	stream_parse(b, f, sizeof(f), &r);
	CU_ASSERT(r.n == 1 && r.st[0] == PEER_ETOOBIG);
	/* Bad magic is seen at its first byte. */
	CU_ASSERT(peer_frame_scan((const uint8_t *)"X", 1, PEER_MAX_PAYLOAD, &h) == PEER_EMAGIC);
	CU_ASSERT(peer_frame_scan((const uint8_t *)"TWP", 3, PEER_MAX_PAYLOAD, &h) ==
		  PEER_NEED_MORE);
	CU_ASSERT(peer_frame_scan((const uint8_t *)"TWPX", 4, PEER_MAX_PAYLOAD, &h) == PEER_EMAGIC);
	CU_ASSERT(peer_frame_scan(f, 0, PEER_MAX_PAYLOAD, &h) == PEER_NEED_MORE);
	peer_session_free(a);
	peer_session_free(b);
}

/* Fed one byte more at a time, the parser finds the same frames at the same points. */
static void test_partial_input(void)
{
	struct peer_session *a = session(ID_A, ID_B, key_a, NONCE_A);
	struct peer_session *b = session(ID_B, ID_A, key_a, NONCE_B);
	uint8_t stream[2048];
	size_t n = 0, ends[16], nframes = 0, off = 0, found = 0;
	struct peer_msg m, out;

	CU_ASSERT_FATAL(peer_session_seal_hello(b, stream, sizeof(stream), &n) == PEER_OK);
	CU_ASSERT_FATAL(peer_session_open(a, stream, n, &m) == PEER_OK);
	n = 0;
	CU_ASSERT_FATAL(peer_session_seal_hello(a, stream, sizeof(stream), &n) == PEER_OK);
	ends[nframes++] = n;
	for (unsigned t = PEER_HEARTBEAT; t <= PEER_TYPE_MAX; t++) {
		size_t k;

		sample_msg(t, &m);
		CU_ASSERT_FATAL(peer_session_seal(a, &m, stream + n, sizeof(stream) - n, &k) ==
				PEER_OK);
		n += k;
		ends[nframes++] = n;
	}
	for (size_t avail = 0; avail <= n; avail++) {
		struct peer_hdr h;
		enum peer_status st =
		    peer_frame_scan(stream + off, avail - off, peer_session_max_payload(b), &h);

		if (st == PEER_NEED_MORE)
			continue;
		CU_ASSERT_FATAL(st == PEER_OK);
		CU_ASSERT(off + peer_frame_size(&h) == avail && avail == ends[found]);
		CU_ASSERT(peer_session_open(b, stream + off, peer_frame_size(&h), &out) == PEER_OK);
		CU_ASSERT(out.type == (found == 0 ? PEER_HELLO : PEER_HEARTBEAT + found - 1));
		off = avail;
		found++;
	}
	CU_ASSERT(found == nframes && off == n);
	peer_session_free(a);
	peer_session_free(b);
}

/* One MIRROR whose payload is exactly PEER_MAX_PAYLOAD. */
static uint8_t *big_records(uint32_t *len, uint32_t *count)
{
	uint8_t *rec = malloc(PEER_MIRROR_MAX_BYTES);
	uint8_t *buf = malloc(PEER_MIRROR_MAX_BYTES);
	uint32_t rlen = PEER_MIRROR_MAX_BYTES - 4;

	CU_ASSERT_FATAL(rec && buf);
	for (uint32_t i = 0; i < rlen; i++)
		rec[i] = (uint8_t)(i * 7 + 3);
	*len = 0;
	*count = 0;
	CU_ASSERT_FATAL(peer_mirror_add(buf, PEER_MIRROR_MAX_BYTES, len, count, rec, rlen) ==
			PEER_OK);
	CU_ASSERT(*len == PEER_MIRROR_MAX_BYTES);
	free(rec);
	return buf;
}

static void test_payload_limit(void)
{
	struct peer_session *a = session(ID_A, ID_B, key_a, NONCE_A);
	struct peer_session *b = session(ID_B, ID_A, key_a, NONCE_B);
	uint8_t *f = malloc(FRAME_MAX + 1);
	struct peer_msg m = {.type = PEER_MIRROR}, out;
	uint32_t len, count;
	uint8_t *recs = big_records(&len, &count);
	size_t n;

	CU_ASSERT_FATAL(f != NULL);
	handshake(a, b);
	m.u.mirror = (struct peer_mirror){100, count, len, recs};
	CU_ASSERT_FATAL(peer_session_seal(a, &m, f, FRAME_MAX, &n) == PEER_OK);
	CU_ASSERT(n == FRAME_MAX);
	CU_ASSERT(get_be(f + 8, 4) == PEER_MAX_PAYLOAD);
	CU_ASSERT_FATAL(peer_session_open(b, f, n, &out) == PEER_OK);
	assert_msg_equal(&m, &out);
	/* One byte more: the encoder refuses, and so does the parser. */
	m.u.mirror.records_len++;
	CU_ASSERT(peer_session_seal(a, &m, f, FRAME_MAX + 1, &n) == PEER_ETOOBIG);
	put_be(f + 8, PEER_MAX_PAYLOAD + 1, 4);
	CU_ASSERT(peer_session_open(b, f, FRAME_MAX + 1, &out) == PEER_ETOOBIG);
	free(recs);
	free(f);
	peer_session_free(a);
	peer_session_free(b);
}

/* ---- key file ---- */

static char keydir[64];

static int key_suite_init(void)
{
	snprintf(keydir, sizeof(keydir), "/tmp/test_peer.XXXXXX");
	return mkdtemp(keydir) ? 0 : -1;
}

static int key_suite_clean(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", keydir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *write_key(const char *name, size_t len, mode_t mode)
{
	static char path[128];
	uint8_t buf[2048];
	int fd;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 13);
	snprintf(path, sizeof(path), "%s/%s", keydir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, buf, len) == (ssize_t)len);
	close(fd);
	CU_ASSERT_FATAL(chmod(path, mode) == 0);
	return path;
}

/* Loads path; expects rc and, when refused, `why` in the message. */
static void expect_key(const char *path, int rc, const char *why, size_t want_len)
{
	uint8_t key[PEER_KEY_MAX];
	char err[256] = "";
	size_t len = 0;
	int got = peer_key_load(path, key, &len, err, sizeof(err));

	if (got != rc || (why && !strstr(err, why)))
		fprintf(stderr, "\n%s: rc %d (expected %d), message \"%s\"\n", path, got, rc, err);
	CU_ASSERT(got == rc);
	if (why)
		CU_ASSERT(strstr(err, why) != NULL && strstr(err, path) != NULL);
	if (rc == 0) {
		CU_ASSERT(len == want_len);
		for (size_t i = 0; i < len && i < PEER_KEY_MAX; i++)
			CU_ASSERT_FATAL(key[i] == (uint8_t)(i * 13));
	}
}

static void test_key_file(void)
{
	char link[160], fifo[160];

	expect_key(write_key("ok", 32, 0600), 0, NULL, 32);
	expect_key(write_key("ro", 64, 0400), 0, NULL, 64);
	expect_key(write_key("max", PEER_KEY_MAX, 0600), 0, NULL, PEER_KEY_MAX);
	expect_key(write_key("world", 32, 0644), -EPERM, "mode 0644", 0);
	expect_key(write_key("group", 32, 0640), -EPERM, "mode 0640", 0);
	expect_key(write_key("gw", 32, 0620), -EPERM, "group or others", 0);
	expect_key(write_key("short", 31, 0600), -EINVAL, "31 bytes", 0);
	expect_key(write_key("empty", 0, 0600), -EINVAL, "0 bytes", 0);
	expect_key(write_key("long", PEER_KEY_MAX + 1, 0600), -EINVAL, "1025 bytes", 0);
	expect_key(keydir, -EINVAL, "not a regular file", 0);
	snprintf(fifo, sizeof(fifo), "%s/fifo", keydir);
	CU_ASSERT_FATAL(mkfifo(fifo, 0600) == 0);
	expect_key(fifo, -EINVAL, "not a regular file", 0); /* and does not hang */
	snprintf(link, sizeof(link), "%s/nosuch", keydir);
	expect_key(link, -ENOENT, "No such file", 0);
	/* A symlink is followed; the checks apply to the file it names. */
	snprintf(link, sizeof(link), "%s/link", keydir);
	CU_ASSERT_FATAL(symlink(write_key("target", 48, 0600), link) == 0);
	expect_key(link, 0, NULL, 48);
	if (geteuid() == 0) {
		const char *p = write_key("other", 32, 0600);

		CU_ASSERT_FATAL(chown(p, 4321, 4321) == 0);
		expect_key(p, -EPERM, "owned by uid 4321", 0);
	}
}

/* ---- links ---- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* peer_link_recv() until something other than NEED_MORE, at most 2 s. */
static enum peer_status recv_wait(struct peer_link *l, struct peer_msg *m)
{
	uint64_t deadline = mono_ms() + 2000;
	enum peer_status st;

	while ((st = peer_link_recv(l, m)) == PEER_NEED_MORE && mono_ms() < deadline) {
		struct pollfd p = {.fd = peer_link_fd(l), .events = POLLIN};

		poll(&p, 1, 50);
	}
	return st;
}

static struct peer_link *link_new(uint32_t self, uint32_t peer, const uint8_t *key, int tmo)
{
	struct peer_params p = params(self, peer, key);
	struct peer_link *l = peer_link_new(&p, tmo);

	CU_ASSERT_FATAL(l != NULL);
	return l;
}

/* Two links joined by a socketpair, handshake done both ways (UP). */
static void link_pair(struct peer_link **a, struct peer_link **b)
{
	int sv[2];
	struct peer_msg m;

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	*a = link_new(ID_A, ID_B, key_a, 0);
	*b = link_new(ID_B, ID_A, key_a, 0);
	CU_ASSERT_FATAL(peer_link_attach(*a, sv[0]) == PEER_OK);
	CU_ASSERT_FATAL(peer_link_attach(*b, sv[1]) == PEER_OK);
	CU_ASSERT(peer_link_state(*a) == PEER_LINK_HELLO_SENT);
	CU_ASSERT_FATAL(recv_wait(*a, &m) == PEER_OK && m.type == PEER_HELLO);
	CU_ASSERT_FATAL(recv_wait(*b, &m) == PEER_OK && m.type == PEER_HELLO);
	CU_ASSERT(peer_link_state(*a) == PEER_LINK_HELLO_DONE);
	sample_msg(PEER_HEARTBEAT, &m);
	CU_ASSERT_FATAL(peer_link_send(*a, &m) == PEER_OK);
	CU_ASSERT_FATAL(peer_link_send(*b, &m) == PEER_OK);
	CU_ASSERT_FATAL(recv_wait(*a, &m) == PEER_OK && m.type == PEER_HEARTBEAT);
	CU_ASSERT_FATAL(recv_wait(*b, &m) == PEER_OK && m.type == PEER_HEARTBEAT);
	CU_ASSERT(peer_link_state(*a) == PEER_LINK_UP && peer_link_state(*b) == PEER_LINK_UP);
}

static void test_link_handshake_and_types(void)
{
	struct peer_link *a, *b;
	struct peer_link_stats st;
	struct peer_msg m, out;

	link_pair(&a, &b);
	CU_ASSERT(peer_link_peer_hello(a)->node_id == ID_B);
	CU_ASSERT(peer_link_peer_hello(b)->config_fp == FP);
	for (unsigned t = PEER_HEARTBEAT; t <= PEER_TYPE_MAX; t++) {
		sample_msg(t, &m);
		CU_ASSERT_FATAL(peer_link_send(a, &m) == PEER_OK);
	}
	for (unsigned t = PEER_HEARTBEAT; t <= PEER_TYPE_MAX; t++) {
		sample_msg(t, &m);
		CU_ASSERT_FATAL(recv_wait(b, &out) == PEER_OK);
		assert_msg_equal(&m, &out);
	}
	CU_ASSERT(peer_link_recv(b, &out) == PEER_NEED_MORE);
	peer_link_get_stats(b, &st);
	CU_ASSERT(st.connects == 1 && st.frames_out == 2 && st.rejected == 0);
	CU_ASSERT(st.frames_in == 2 + PEER_TYPE_MAX - 1);
	CU_ASSERT(strcmp(peer_link_state_name(peer_link_state(b)), "up") == 0);
	peer_link_free(a);
	peer_link_free(b);
}

/* The test plays the partner of a link with a bare session on the raw socket end. */
struct fake {
	struct peer_link *l;
	struct peer_session *s;
	int fd;
	uint8_t *f;
};

static void read_exact(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		CU_ASSERT_FATAL(poll(&p, 1, 2000) == 1);
		r = read(fd, buf + got, n - got);
		CU_ASSERT_FATAL(r > 0);
		got += (size_t)r;
	}
}

/* One frame the link sent, opened by the fake's session. */
static enum peer_status fake_read(struct fake *fk, struct peer_msg *m)
{
	uint8_t *f = fk->f;

	read_exact(fk->fd, f, 12);
	read_exact(fk->fd, f + 12, 20 + get_be(f + 8, 4) + 32);
	return peer_session_open(fk->s, f, 64 + get_be(f + 8, 4), m);
}

/* Writes n bytes, `chunk` at a time, calling peer_link_recv() after each; returns
 * the status after the last byte, and checks every earlier one said NEED_MORE. */
static enum peer_status fake_write(struct fake *fk, const uint8_t *buf, size_t n, size_t chunk,
				   struct peer_msg *m)
{
	enum peer_status st = PEER_NEED_MORE;
	size_t off = 0;

	while (off < n) {
		size_t k = n - off < chunk ? n - off : chunk;
		ssize_t w = write(fk->fd, buf + off, k);

		CU_ASSERT_FATAL(w > 0);
		off += (size_t)w;
		st = peer_link_recv(fk->l, m);
		if (off < n && st != PEER_NEED_MORE) {
			fprintf(stderr, "\nat %zu of %zu: %s\n", off, n, peer_strerror(st));
			CU_FAIL("frame completed early");
			return st;
		}
	}
	return st;
}

static void fake_open(struct fake *fk, int tmo)
{
	int sv[2];
	struct peer_msg m;
	size_t n;

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fk->l = link_new(ID_B, ID_A, key_a, tmo);
	fk->s = session(ID_A, ID_B, key_a, NONCE_A);
	fk->fd = sv[0];
	fk->f = malloc(FRAME_MAX);
	CU_ASSERT_FATAL(fk->f != NULL);
	CU_ASSERT_FATAL(peer_link_attach(fk->l, sv[1]) == PEER_OK);
	CU_ASSERT_FATAL(fake_read(fk, &m) == PEER_OK && m.type == PEER_HELLO);
	CU_ASSERT_FATAL(peer_session_seal_hello(fk->s, fk->f, FRAME_MAX, &n) == PEER_OK);
	CU_ASSERT_FATAL(fake_write(fk, fk->f, n, 1, &m) == PEER_OK && m.type == PEER_HELLO);
	CU_ASSERT(peer_link_state(fk->l) == PEER_LINK_HELLO_DONE);
}

static void fake_close(struct fake *fk)
{
	peer_link_free(fk->l);
	peer_session_free(fk->s);
	close(fk->fd);
	free(fk->f);
}

/* A sealed frame of the sample message of type t, from the fake. */
static size_t fake_seal(struct fake *fk, unsigned t)
{
	struct peer_msg m;
	size_t n;

	sample_msg(t, &m);
	CU_ASSERT_FATAL(peer_session_seal(fk->s, &m, fk->f, FRAME_MAX, &n) == PEER_OK);
	return n;
}

static void test_link_byte_by_byte(void)
{
	struct fake fk;
	struct peer_msg m, out;

	fake_open(&fk, 0);
	for (unsigned t = PEER_HEARTBEAT; t <= PEER_TYPE_MAX; t++) {
		size_t n = fake_seal(&fk, t);

		sample_msg(t, &m);
		CU_ASSERT_FATAL(fake_write(&fk, fk.f, n, 1, &out) == PEER_OK);
		assert_msg_equal(&m, &out);
	}
	CU_ASSERT(peer_link_state(fk.l) == PEER_LINK_UP);
	fake_close(&fk);
}

/* Every type, written in chunks that cut frames anywhere, read after each chunk. */
static void test_link_chunks(void)
{
	static const size_t chunks[] = {2, 7, 13, 50, 333, 4096};

	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct fake fk;
		uint8_t stream[2048];
		size_t n = 0, off = 0;
		unsigned want = PEER_HEARTBEAT;
		struct peer_msg m, out;

		fake_open(&fk, 0);
		for (unsigned t = PEER_HEARTBEAT; t <= PEER_TYPE_MAX; t++) {
			size_t k = fake_seal(&fk, t);

			CU_ASSERT_FATAL(n + k <= sizeof(stream));
			memcpy(stream + n, fk.f, k);
			n += k;
		}
		while (off < n) {
			size_t k = n - off < chunks[c] ? n - off : chunks[c];
			enum peer_status st;

			CU_ASSERT_FATAL(write(fk.fd, stream + off, k) == (ssize_t)k);
			off += k;
			while ((st = peer_link_recv(fk.l, &out)) == PEER_OK) {
				sample_msg(want++, &m);
				assert_msg_equal(&m, &out);
			}
			CU_ASSERT_FATAL(st == PEER_NEED_MORE);
		}
		CU_ASSERT(want == PEER_TYPE_MAX + 1);
		fake_close(&fk);
	}
}

/* Bad MAC, replay and unknown type are dropped; the link carries on. */
static void test_link_survives_rejects(void)
{
	struct fake fk;
	struct peer_msg m;
	uint8_t *copy = malloc(FRAME_MAX);
	size_t n;

	CU_ASSERT_FATAL(copy != NULL);
	fake_open(&fk, 0);
	n = fake_seal(&fk, PEER_HEARTBEAT);
	memcpy(copy, fk.f, n);
	copy[n - 1] ^= 1;
	CU_ASSERT(fake_write(&fk, copy, n, n, &m) == PEER_EMAC);
	CU_ASSERT(peer_link_last_hdr(fk.l)->type == PEER_HEARTBEAT);
	CU_ASSERT(fake_write(&fk, fk.f, n, n, &m) == PEER_OK && m.type == PEER_HEARTBEAT);
	CU_ASSERT(fake_write(&fk, fk.f, n, n, &m) == PEER_EREPLAY);
	/* Unknown type 77 with the link's nonce and the next sequence, then a good one;
	 * written together, so the link finds both in one read. */
	{
		struct forge_hdr h = {
		    PEER_VERSION, 77, 0, 3, ID_A, peer_session_peer_hello(fk.s)->nonce};
		size_t k = forge(copy, key_a, &h, (const uint8_t *)"??", 2);
		struct peer_msg m2;

		h.seq = 4;
		k += forge(copy + k, key_a, &h, NULL, 0);
		n = fake_seal(&fk, PEER_GIVEBACK); /* sequence 3, taken by type 77 */
		memcpy(copy + k, fk.f, n);
		k += n;
		(void)fake_seal(&fk, PEER_GIVEBACK); /* 4: never sent */
		n = fake_seal(&fk, PEER_STAY_DOWN);  /* 5 */
		memcpy(copy + k, fk.f, n);
		k += n;
		CU_ASSERT_FATAL(write(fk.fd, copy, k) == (ssize_t)k);
		CU_ASSERT(recv_wait(fk.l, &m) == PEER_EUNKNOWN);
		CU_ASSERT(recv_wait(fk.l, &m) == PEER_EUNKNOWN);
		CU_ASSERT(recv_wait(fk.l, &m) == PEER_EREPLAY);
		sample_msg(PEER_STAY_DOWN, &m2);
		CU_ASSERT(recv_wait(fk.l, &m) == PEER_OK);
		assert_msg_equal(&m2, &m);
		CU_ASSERT(peer_link_recv(fk.l, &m) == PEER_NEED_MORE);
	}
	CU_ASSERT(peer_link_state(fk.l) == PEER_LINK_UP && peer_link_fd(fk.l) >= 0);
	free(copy);
	fake_close(&fk);
}

/* The framing lost: absurd length or bad magic close the connection. */
static void test_link_framing_lost(void)
{
	static const char *garbage[] = {"TWPL\x01\x02\x00\x00\xff\xff\xff\xff", "GET / HTTP/1.0"};
	static const enum peer_status want[] = {PEER_ETOOBIG, PEER_EMAGIC};

	for (int i = 0; i < 2; i++) {
		struct fake fk;
		struct peer_msg m;
		size_t len = i == 0 ? 12 : strlen(garbage[i]);

		fake_open(&fk, 0);
		CU_ASSERT_FATAL(write(fk.fd, garbage[i], len) == (ssize_t)len);
		CU_ASSERT(recv_wait(fk.l, &m) == want[i]);
		CU_ASSERT(peer_link_state(fk.l) == PEER_LINK_DOWN && peer_link_fd(fk.l) == -1);
		CU_ASSERT(peer_link_recv(fk.l, &m) == PEER_ECLOSED);
		sample_msg(PEER_HEARTBEAT, &m);
		CU_ASSERT(peer_link_send(fk.l, &m) == PEER_ECLOSED);
		fake_close(&fk);
	}
}

static void test_link_wrong_key(void)
{
	int sv[2];
	struct peer_link *a = link_new(ID_A, ID_B, key_a, 0);
	struct peer_link *b = link_new(ID_B, ID_A, key_b, 0);
	struct peer_msg m;

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CU_ASSERT_FATAL(peer_link_attach(a, sv[0]) == PEER_OK);
	CU_ASSERT_FATAL(peer_link_attach(b, sv[1]) == PEER_OK);
	CU_ASSERT(recv_wait(b, &m) == PEER_EMAC);
	CU_ASSERT(peer_link_state(b) == PEER_LINK_DOWN); /* a failed handshake */
	CU_ASSERT(recv_wait(a, &m) == PEER_EMAC);
	CU_ASSERT(peer_link_state(a) == PEER_LINK_DOWN);
	peer_link_free(a);
	peer_link_free(b);
}

static void test_link_eof_and_state(void)
{
	struct fake fk;
	struct peer_msg m;
	int sv[2];

	fake_open(&fk, 0);
	close(fk.fd);
	fk.fd = -1;
	CU_ASSERT(recv_wait(fk.l, &m) == PEER_ECLOSED);
	CU_ASSERT(peer_link_state(fk.l) == PEER_LINK_DOWN);
	/* Re-attached, it may not send before the partner's HELLO. */
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fk.fd = sv[0];
	CU_ASSERT_FATAL(peer_link_attach(fk.l, sv[1]) == PEER_OK);
	sample_msg(PEER_HEARTBEAT, &m);
	CU_ASSERT(peer_link_send(fk.l, &m) == PEER_ESTATE);
	CU_ASSERT(peer_link_state(fk.l) == PEER_LINK_HELLO_SENT);
	fake_close(&fk);
}

struct sender {
	struct peer_link *l;
	const struct peer_msg *m;
	enum peer_status st;
};

static void *send_thread(void *arg)
{
	struct sender *s = arg;

	s->st = peer_link_send(s->l, s->m);
	return NULL;
}

/* A MIRROR at exactly the limit crosses a link; one byte over is refused. */
static void test_link_limit(void)
{
	struct peer_link *a, *b;
	struct peer_msg m = {.type = PEER_MIRROR}, out;
	uint32_t len, count;
	uint8_t *recs = big_records(&len, &count);
	struct sender snd;
	pthread_t th;
	struct fake fk;
	uint8_t hdr[32];

	link_pair(&a, &b);
	m.u.mirror = (struct peer_mirror){7, count, len, recs};
	snd = (struct sender){a, &m, PEER_EIO};
	CU_ASSERT_FATAL(pthread_create(&th, NULL, send_thread, &snd) == 0);
	CU_ASSERT(recv_wait(b, &out) == PEER_OK);
	pthread_join(th, NULL);
	CU_ASSERT(snd.st == PEER_OK);
	assert_msg_equal(&m, &out);
	m.u.mirror.records_len++;
	CU_ASSERT(peer_link_send(a, &m) == PEER_ETOOBIG);
	CU_ASSERT(peer_link_state(a) == PEER_LINK_UP);
	peer_link_free(a);
	peer_link_free(b);

	/* Received: a header announcing one byte over the limit, refused as soon as
	 * the length field is complete. */
	fake_open(&fk, 0);
	memcpy(hdr, "TWPL\x01\x0a\x00\x00", 8);
	put_be(hdr + 8, PEER_MAX_PAYLOAD + 1, 4);
	memset(hdr + 12, 0, 20);
	CU_ASSERT(fake_write(&fk, hdr, 12, 1, &out) == PEER_ETOOBIG);
	CU_ASSERT(peer_link_state(fk.l) == PEER_LINK_DOWN);
	fake_close(&fk);
	free(recs);
}

/* A partner that does not read: the send gives up at the timeout, and closes. */
static void test_link_send_timeout(void)
{
	struct fake fk;
	struct peer_msg m = {.type = PEER_MIRROR};
	uint32_t len, count;
	uint8_t *recs = big_records(&len, &count);
	uint64_t t0;
	enum peer_status st;

	fake_open(&fk, 100);
	m.u.mirror = (struct peer_mirror){7, count, len, recs};
	t0 = mono_ms();
	st = peer_link_send(fk.l, &m); /* 1 MiB: more than the socket buffers hold */
	CU_ASSERT(st == PEER_ETIMEDOUT);
	CU_ASSERT(mono_ms() - t0 >= 90 && mono_ms() - t0 < 1500);
	CU_ASSERT(peer_link_state(fk.l) == PEER_LINK_DOWN);
	free(recs);
	fake_close(&fk);
}

/* Over loopback TCP: listen, connect, accept, handshake. */
static void test_tcp(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sin);
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	struct peer_link *a = link_new(ID_A, ID_B, key_a, 0);
	struct peer_link *b = link_new(ID_B, ID_A, key_a, 0);
	struct pollfd p;
	struct peer_msg m;
	int lfd, cfd, afd;

	CU_ASSERT_FATAL(peer_listen((struct sockaddr *)&sin, sizeof(sin), &lfd) == PEER_OK);
	CU_ASSERT_FATAL(getsockname(lfd, (struct sockaddr *)&sin, &slen) == 0);
	CU_ASSERT(peer_accept(lfd, &afd, NULL, NULL) == PEER_NEED_MORE);
	CU_ASSERT_FATAL(peer_connect((struct sockaddr *)&sin, slen, 1000, &cfd) == PEER_OK);
	p = (struct pollfd){.fd = lfd, .events = POLLIN};
	CU_ASSERT_FATAL(poll(&p, 1, 2000) == 1);
	CU_ASSERT_FATAL(peer_accept(lfd, &afd, &from, &flen) == PEER_OK);
	CU_ASSERT(from.ss_family == AF_INET && flen == sizeof(struct sockaddr_in));
	CU_ASSERT_FATAL(peer_link_attach(a, cfd) == PEER_OK);
	CU_ASSERT_FATAL(peer_link_attach(b, afd) == PEER_OK);
	CU_ASSERT(recv_wait(a, &m) == PEER_OK && m.type == PEER_HELLO);
	CU_ASSERT(recv_wait(b, &m) == PEER_OK && m.type == PEER_HELLO);
	sample_msg(PEER_HEARTBEAT, &m);
	CU_ASSERT(peer_link_send(a, &m) == PEER_OK);
	CU_ASSERT(recv_wait(b, &m) == PEER_OK && peer_link_state(b) == PEER_LINK_UP);
	peer_link_free(a);
	peer_link_free(b);
	/* Nobody listens any more: refused, with errno saying so. */
	close(lfd);
	errno = 0;
	CU_ASSERT(peer_connect((struct sockaddr *)&sin, slen, 1000, &cfd) == PEER_EIO);
	CU_ASSERT(errno == ECONNREFUSED);
}

static void test_backoff(void)
{
	static const unsigned want[] = {100, 200, 400, 800, 1600, 2000, 2000};
	unsigned ms = 0;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ms = peer_backoff_next(ms);
		CU_ASSERT(ms == want[i]);
	}
	CU_ASSERT(peer_backoff_next(1999) == 2000 && peer_backoff_next(5000) == 2000);
}

/* ---- registration ---- */

struct test_def {
	const char *name;
	CU_TestFunc fn;
};

static int add_suite(const char *name, CU_InitializeFunc init, CU_CleanupFunc clean,
		     const struct test_def *tests, size_t n)
{
	CU_pSuite s = CU_add_suite(name, init, clean);

	if (!s)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			return -1;
	}
	return 0;
}

#define ADD_SUITE(name, init, clean, tests)                                                        \
	add_suite(name, init, clean, tests, sizeof(tests) / sizeof(tests[0]))

int twinfs_register_tests(void)
{
	static const struct test_def msgs[] = {
	    {"round trip of every type", test_msg_roundtrip_all},
	    {"payload sizes", test_msg_sizes},
	    {"CLIENTS entries", test_clients_entries},
	    {"heartbeat wire layout", test_msg_heartbeat_wire},
	    {"decode rejects", test_msg_decode_rejects},
	    {"encode rejects", test_msg_encode_rejects},
	    {"mirror builder and iterator", test_mirror_builder},
	    {"status strings", test_strerror},
	};
	static const struct test_def frames[] = {
	    {"frame layout", test_frame_layout},
	    {"MAC equals one-shot HMAC", test_mac_matches_oneshot},
	    {"session round trip", test_session_roundtrip_all},
	    {"every byte flipped", test_flip_every_byte},
	    {"wrong key", test_wrong_key},
	    {"replay", test_replay},
	    {"old session", test_old_session},
	    {"handshake rules", test_handshake_rules},
	    {"partner id not configured", test_any_peer_id},
	    {"unknown type", test_unknown_type},
	    {"absurd length", test_absurd_length},
	    {"partial input", test_partial_input},
	    {"payload limit", test_payload_limit},
	};
	static const struct test_def keys[] = {
	    {"key file checks", test_key_file},
	};
	static const struct test_def links[] = {
	    {"handshake and every type", test_link_handshake_and_types},
	    {"byte by byte", test_link_byte_by_byte},
	    {"frames cut anywhere", test_link_chunks},
	    {"rejects keep the link", test_link_survives_rejects},
	    {"framing lost closes", test_link_framing_lost},
	    {"wrong key", test_link_wrong_key},
	    {"EOF and send before HELLO", test_link_eof_and_state},
	    {"payload limit", test_link_limit},
	    {"send timeout", test_link_send_timeout},
	    {"loopback TCP", test_tcp},
	    {"backoff", test_backoff},
	};

	if (ADD_SUITE("peer messages", NULL, NULL, msgs) ||
	    ADD_SUITE("peer frames", NULL, NULL, frames) ||
	    ADD_SUITE("peer key", key_suite_init, key_suite_clean, keys) ||
	    ADD_SUITE("peer link", NULL, NULL, links))
		return -1;
	return 0;
}
