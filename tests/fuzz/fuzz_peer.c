/*
 * fuzz_peer.c — libFuzzer target for the peer protocol parser (failover/peer).
 *
 * The input is used four ways, so the fuzzer reaches past the MAC, which random
 * bytes never pass:
 *   1. as a byte stream, through the frame parser and a session whose handshake
 *      is done (the link's receive loop: scan, open, until NEED_MORE or lost), and
 *      through a fresh session (the small pre-authentication limit);
 *   2. as a payload of type data[0], straight to the message decoder; whatever
 *      decodes must re-encode to the same bytes (the encoding is canonical);
 *   3. the same payload sealed into a frame with the right key and opened again:
 *      the whole check path with a valid MAC;
 *   4. as header fields and a payload, framed and MACed here with the key
 *      (one-shot HMAC()), so the checks after the MAC (flags, sender, nonce,
 *      sequence, handshake state, HELLO contents) see arbitrary values;
 *   5. as bytes arriving on a link, written to a socketpair in chunks whose sizes
 *      come from the input, to exercise the link's incremental buffer.
 * The contract: no crash, no access outside the buffers, every status one of the
 * enum's, and a MIRROR's records exactly inside its frame.
 *
 * Build (not part of the default build):
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *         tests/fuzz/fuzz_peer.c failover/peer/peer.c failover/peer/link.c \
 *         -lcrypto -o fuzz_peer
 *   ./fuzz_peer -max_len=4096 -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "failover/peer/link.h"
#include "failover/peer/peer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fuzz_key[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz";

struct fuzz_state {
	struct peer_session *a; /* sends, node 1 */
	struct peer_session *b; /* receives, node 2 */
	struct peer_link *l;	/* node 2, attached afresh for each input */
	uint8_t *frame;		/* PEER_MAX_FRAME */
};

static void check_status(enum peer_status st)
{
	if (st < PEER_ETIMEDOUT || st > PEER_NEED_MORE)
		abort();
}

static struct peer_session *new_session(uint32_t self, uint32_t peer)
{
	struct peer_params p = {.key = fuzz_key,
				.key_len = sizeof(fuzz_key),
				.self_id = self,
				.peer_id = peer,
				.config_fp = 42};
	struct peer_session *s = peer_session_new(&p);

	if (!s)
		abort();
	return s;
}

static struct fuzz_state *state(void)
{
	static struct fuzz_state st;
	struct peer_params p = {
	    .key = fuzz_key, .key_len = sizeof(fuzz_key), .self_id = 2, .peer_id = 1};

	if (!st.a) {
		st.a = new_session(1, 2);
		st.b = new_session(2, 1);
		st.frame = malloc(PEER_MAX_FRAME);
		st.l = peer_link_new(&p, 100);
		if (!st.frame || !st.l)
			abort();
	}
	return &st;
}

/* Fixed nonces and a fresh handshake for each input: runs are reproducible. */
static void handshake(struct fuzz_state *st)
{
	struct peer_msg m;
	size_t n;

	if (peer_session_reset(st->a, 0x1111) != PEER_OK ||
	    peer_session_reset(st->b, 0x2222) != PEER_OK ||
	    peer_session_seal_hello(st->a, st->frame, PEER_MAX_FRAME, &n) != PEER_OK ||
	    peer_session_open(st->b, st->frame, n, &m) != PEER_OK ||
	    peer_session_seal_hello(st->b, st->frame, PEER_MAX_FRAME, &n) != PEER_OK ||
	    peer_session_open(st->a, st->frame, n, &m) != PEER_OK)
		abort();
}

static void check_msg(const struct peer_msg *m, const uint8_t *lo, const uint8_t *hi)
{
	uint32_t off = 0, len, n = 0;
	const uint8_t *rec;

	if (m->type != PEER_MIRROR)
		return;
	if (m->u.mirror.records_len &&
	    (m->u.mirror.records < lo || m->u.mirror.records + m->u.mirror.records_len > hi))
		abort();
	while (peer_mirror_next(&m->u.mirror, &off, &rec, &len)) {
		if (rec < lo || rec + len > hi)
			abort();
		n++;
	}
	if (n != m->u.mirror.count || off != m->u.mirror.records_len)
		abort();
}

/* 1. The receive loop over the input as a stream. */
static void as_stream(struct peer_session *s, const uint8_t *data, size_t size)
{
	size_t off = 0;

	for (;;) {
		struct peer_hdr h;
		struct peer_msg m;
		enum peer_status st =
		    peer_frame_scan(data + off, size - off, peer_session_max_payload(s), &h);

		check_status(st);
		if (st != PEER_OK)
			return;
		if (peer_frame_size(&h) > size - off)
			abort();
		st = peer_session_open(s, data + off, peer_frame_size(&h), &m);
		check_status(st);
		if (st == PEER_OK)
			check_msg(&m, data + off, data + off + peer_frame_size(&h));
		off += peer_frame_size(&h);
	}
}

/* 2. The decoder, and canonical re-encoding. */
static void as_payload(struct fuzz_state *st, unsigned type, const uint8_t *p, size_t len)
{
	struct peer_msg m;
	size_t n;
	enum peer_status s = peer_msg_decode(type, p, len, &m);

	check_status(s);
	if (s != PEER_OK)
		return;
	check_msg(&m, p, p + len);
	s = peer_msg_encode(&m, st->frame, PEER_MAX_FRAME, &n);
	if (s != PEER_OK || n != len || memcmp(st->frame, p, len) != 0)
		abort();
}

/* 3. The payload in an authentic frame, through the whole open path. */
static void as_sealed(struct fuzz_state *st, unsigned type, const uint8_t *p, size_t len)
{
	struct peer_msg m, out;
	size_t n;
	enum peer_status s;

	if (type == PEER_HELLO || peer_msg_decode(type, p, len, &m) != PEER_OK)
		return;
	handshake(st);
	s = peer_session_seal(st->a, &m, st->frame, PEER_MAX_FRAME, &n);
	if (s != PEER_OK)
		abort();
	s = peer_session_open(st->b, st->frame, n, &out);
	if (s != PEER_OK || out.type != m.type)
		abort();
	check_msg(&out, st->frame, st->frame + n);
	if (peer_session_open(st->b, st->frame, n, &out) != PEER_EREPLAY)
		abort();
}

static uint64_t be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/*
 * 4. A frame with a valid MAC and fields from the input: version, type, flags,
 * sequence, a sender among 0..3, a nonce among 0, the receiver's, the
 * receiver's + 1 and the input's, then the payload. Opened by a session in the
 * handshake state the input picks.
 */
static void as_forged(struct fuzz_state *st, const uint8_t *data, size_t size)
{
	static const uint64_t nonces[] = {0, 0x2222, 0x2223};
	uint8_t *f = st->frame;
	size_t plen = size - 24;
	unsigned maclen = 0;
	struct peer_msg m;
	uint64_t nonce = data[23] < 3 ? nonces[data[23]] : be(data + 12, 8);
	enum peer_status s;

	if (plen > PEER_MAX_PAYLOAD)
		return;
	memcpy(f, PEER_MAGIC, 4);
	f[4] = data[0] & 0x80 ? data[0] : PEER_VERSION;
	memcpy(f + 5, data + 1, 3); /* type, flags */
	f[8] = (uint8_t)(plen >> 24);
	f[9] = (uint8_t)(plen >> 16);
	f[10] = (uint8_t)(plen >> 8);
	f[11] = (uint8_t)plen;
	memcpy(f + 12, data + 4, 8); /* sequence */
	memset(f + 20, 0, 3);
	f[23] = data[20] & 3; /* sender */
	for (unsigned i = 0; i < 8; i++)
		f[24 + i] = (uint8_t)(nonce >> (56 - 8 * i));
	memcpy(f + 32, data + 24, plen);
	if (!HMAC(EVP_sha256(), fuzz_key, sizeof(fuzz_key), f, 32 + plen, f + 32 + plen, &maclen))
		abort();
	if (data[21] & 1) {
		handshake(st);
	} else if (peer_session_reset(st->b, 0x2222) != PEER_OK) {
		abort();
	}
	s = peer_session_open(st->b, f, 64 + plen, &m);
	check_status(s);
	if (s == PEER_OK)
		check_msg(&m, f, f + 64 + plen);
	if (s == PEER_OK && peer_session_open(st->b, f, 64 + plen, &m) != PEER_EREPLAY)
		abort();
}

/* 5. Bytes arriving on a link in chunks. */
static void as_link(struct peer_link *l, const uint8_t *data, size_t size)
{
	struct peer_msg m;
	uint8_t sink[256];
	size_t off = 0, chunk = size ? (size_t)data[0] % 64 + 1 : 1;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	if (peer_link_attach(l, sv[1]) != PEER_OK)
		abort();
	if (read(sv[0], sink, sizeof(sink)) <= 0) /* the link's HELLO */
		abort();
	while (off < size && peer_link_fd(l) >= 0) {
		size_t k = size - off < chunk ? size - off : chunk;
		enum peer_status st;

		if (write(sv[0], data + off, k) != (ssize_t)k)
			abort();
		off += k;
		while ((st = peer_link_recv(l, &m)) != PEER_NEED_MORE && peer_link_fd(l) >= 0)
			check_status(st);
		check_status(st);
	}
	close(sv[0]);
	peer_link_close(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_state *st = state();

	handshake(st);
	as_stream(st->b, data, size);
	if (peer_session_reset(st->b, 0x3333) != PEER_OK)
		abort();
	as_stream(st->b, data, size);
	if (size > 0) {
		as_payload(st, data[0], data + 1, size - 1);
		as_sealed(st, data[0] % (PEER_TYPE_MAX + 1), data + 1, size - 1);
	}
	if (size >= 24)
		as_forged(st, data, size);
	as_link(st->l, data, size);
	return 0;
}
