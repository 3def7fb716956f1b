/*
 * peer.c — peer protocol codec, key file and session (see peer.h and
 * docs/peer-protocol.md).
 *
 * Messages are described by one table indexed by type (name, payload bounds,
 * encoder, decoder); the frame code never switches on a type. Encoders and
 * decoders go through a bounded writer and reader that remember an overrun
 * instead of checking at each field, and are then checked once.
 *
 * The MAC context is made once per session (one EVP_MAC fetch, one key set) and
 * re-initialised for each frame with a NULL key, which keeps the key (OpenSSL 3
 * EVP_MAC_init(3)); test_peer checks it against one-shot HMAC() frame after frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "failover/peer/peer.h"

/* ---- bounded writer and reader ---- */

struct peer__wr {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool over;
};

struct peer__rd {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool under;
};

static void wr_bytes(struct peer__wr *w, const void *src, size_t n)
{
	if (w->over || n > w->cap - w->len) {
		w->over = true;
		return;
	}
	if (n)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void wr_be(struct peer__wr *w, uint64_t v, unsigned bytes)
{
	uint8_t b[8];

	for (unsigned i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	wr_bytes(w, b, bytes);
}

static const uint8_t *rd_bytes(struct peer__rd *r, size_t n)
{
	const uint8_t *at;

	if (r->under || n > r->len - r->off) {
		r->under = true;
		return NULL;
	}
	at = r->p + r->off;
	r->off += n;
	return at;
}

static uint64_t rd_be(struct peer__rd *r, unsigned bytes)
{
	const uint8_t *b = rd_bytes(r, bytes);
	uint64_t v = 0;

	for (unsigned i = 0; b && i < bytes; i++)
		v = (v << 8) | b[i];
	return v;
}

/* ---- per-type encoders and decoders ---- */

static void enc_hello(struct peer__wr *w, const struct peer_msg *m)
{
	wr_be(w, m->u.hello.version, 2);
	wr_be(w, m->u.hello.node_id, 4);
	wr_be(w, m->u.hello.nonce, 8);
	wr_be(w, m->u.hello.config_fp, 8);
}

static enum peer_status dec_hello(struct peer__rd *r, struct peer_msg *m)
{
	m->u.hello.version = (uint16_t)rd_be(r, 2);
	m->u.hello.node_id = (uint32_t)rd_be(r, 4);
	m->u.hello.nonce = rd_be(r, 8);
	m->u.hello.config_fp = rd_be(r, 8);
	return PEER_OK;
}

static void enc_heartbeat(struct peer__wr *w, const struct peer_msg *m)
{
	wr_be(w, m->u.heartbeat.state, 1);
	wr_be(w, m->u.heartbeat.health, 4);
	wr_be(w, m->u.heartbeat.mirror_pos, 8);
	wr_be(w, m->u.heartbeat.epoch, 8);
	wr_be(w, m->u.heartbeat.uptime_ms, 8);
}

static enum peer_status dec_heartbeat(struct peer__rd *r, struct peer_msg *m)
{
	m->u.heartbeat.state = (uint8_t)rd_be(r, 1);
	m->u.heartbeat.health = (uint32_t)rd_be(r, 4);
	m->u.heartbeat.mirror_pos = rd_be(r, 8);
	m->u.heartbeat.epoch = rd_be(r, 8);
	m->u.heartbeat.uptime_ms = rd_be(r, 8);
	return PEER_OK;
}

/* Detail text: printable bytes only (UTF-8 allowed), no NUL, no control characters. */
static bool detail_ok(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
	}
	return true;
}

/* FAULT, TAKEOVER_REQUEST and REFUSE share a layout: code u16, length u16, text. */
static void enc_notice(struct peer__wr *w, const struct peer_msg *m)
{
	const struct peer_notice *n = &m->u.fault;
	size_t dlen = strnlen(n->detail, sizeof(n->detail));

	if (dlen > PEER_DETAIL_MAX || !detail_ok((const uint8_t *)n->detail, dlen)) {
		w->over = true; /* checked by the caller first; belt and braces */
		return;
	}
	wr_be(w, n->code, 2);
	wr_be(w, dlen, 2);
	wr_bytes(w, n->detail, dlen);
}

static enum peer_status dec_notice(struct peer__rd *r, struct peer_msg *m)
{
	struct peer_notice *n = &m->u.fault;
	size_t dlen;
	const uint8_t *text;

	n->code = (uint16_t)rd_be(r, 2);
	dlen = (size_t)rd_be(r, 2);
	if (dlen > PEER_DETAIL_MAX)
		return PEER_EPAYLOAD;
	text = rd_bytes(r, dlen);
	if (!text || !detail_ok(text, dlen))
		return PEER_EPAYLOAD;
	memcpy(n->detail, text, dlen);
	n->detail[dlen] = '\0';
	return PEER_OK;
}

static void enc_empty(struct peer__wr *w, const struct peer_msg *m)
{
	(void)w;
	(void)m;
}

static enum peer_status dec_empty(struct peer__rd *r, struct peer_msg *m)
{
	(void)r;
	(void)m;
	return PEER_OK;
}

static void enc_released(struct peer__wr *w, const struct peer_msg *m)
{
	wr_be(w, m->u.released.mirror_pos, 8);
	wr_bytes(w, m->u.released.verifier, sizeof(m->u.released.verifier));
	wr_be(w, m->u.released.request, 8);
}

static enum peer_status dec_released(struct peer__rd *r, struct peer_msg *m)
{
	const uint8_t *v;

	m->u.released.mirror_pos = rd_be(r, 8);
	v = rd_bytes(r, sizeof(m->u.released.verifier));
	if (v)
		memcpy(m->u.released.verifier, v, sizeof(m->u.released.verifier));
	m->u.released.request = rd_be(r, 8);
	return PEER_OK;
}

static void enc_shutdown(struct peer__wr *w, const struct peer_msg *m)
{
	wr_be(w, m->u.shutdown.request, 8);
}

static enum peer_status dec_shutdown(struct peer__rd *r, struct peer_msg *m)
{
	m->u.shutdown.request = rd_be(r, 8);
	return PEER_OK;
}

/* STAY_DOWN{epoch} and MIRROR_ACK{position} are one u64 each. */
static void enc_stay_down(struct peer__wr *w, const struct peer_msg *m)
{
	wr_be(w, m->u.stay_down.epoch, 8);
}

static enum peer_status dec_stay_down(struct peer__rd *r, struct peer_msg *m)
{
	m->u.stay_down.epoch = rd_be(r, 8);
	return PEER_OK;
}

static void enc_mirror_ack(struct peer__wr *w, const struct peer_msg *m)
{
	wr_be(w, m->u.mirror_ack.position, 8);
}

static enum peer_status dec_mirror_ack(struct peer__rd *r, struct peer_msg *m)
{
	m->u.mirror_ack.position = rd_be(r, 8);
	return PEER_OK;
}

/* True when records[0..len) is exactly `count` length-prefixed records. */
static bool mirror_records_ok(const uint8_t *records, size_t len, uint32_t count)
{
	struct peer__rd r = {.p = records, .len = len};

	for (uint32_t i = 0; i < count; i++) {
		uint32_t n = (uint32_t)rd_be(&r, 4);

		if (!rd_bytes(&r, n))
			return false;
	}
	return !r.under && r.off == r.len;
}

static void enc_mirror(struct peer__wr *w, const struct peer_msg *m)
{
	wr_be(w, m->u.mirror.position, 8);
	wr_be(w, m->u.mirror.count, 4);
	wr_bytes(w, m->u.mirror.records, m->u.mirror.records_len);
}

static enum peer_status dec_mirror(struct peer__rd *r, struct peer_msg *m)
{
	struct peer_mirror *mi = &m->u.mirror;
	size_t rest;

	mi->position = rd_be(r, 8);
	mi->count = (uint32_t)rd_be(r, 4);
	if (r->under)
		return PEER_EPAYLOAD;
	rest = r->len - r->off;
	mi->records = rd_bytes(r, rest);
	mi->records_len = (uint32_t)rest;
	if (!mirror_records_ok(mi->records, rest, mi->count))
		return PEER_EPAYLOAD;
	return PEER_OK;
}

static void enc_clients(struct peer__wr *w, const struct peer_msg *m)
{
	wr_be(w, m->u.clients.count, 4);
	wr_bytes(w, m->u.clients.entries, (size_t)m->u.clients.count * PEER_CLIENT_LEN);
}

static enum peer_status dec_clients(struct peer__rd *r, struct peer_msg *m)
{
	struct peer_clients *c = &m->u.clients;

	c->count = (uint32_t)rd_be(r, 4);
	if (r->under || c->count > PEER_CLIENTS_MAX ||
	    r->len - r->off != (size_t)c->count * PEER_CLIENT_LEN)
		return PEER_EPAYLOAD;
	c->entries = rd_bytes(r, (size_t)c->count * PEER_CLIENT_LEN);
	for (uint32_t i = 0; i < c->count; i++)
		if (c->entries[i * PEER_CLIENT_LEN] != 4 && c->entries[i * PEER_CLIENT_LEN] != 6)
			return PEER_EPAYLOAD;
	return PEER_OK;
}

static void put_sockaddr(uint8_t *p, const struct sockaddr *sa)
{
	memset(p, 0, 18);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memcpy(p, &in->sin_addr, 4);
		memcpy(p + 16, &in->sin_port, 2);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		memcpy(p, &in6->sin6_addr, 16);
		memcpy(p + 16, &in6->sin6_port, 2);
	}
}

enum peer_status peer_clients_add(uint8_t *buf, size_t cap, uint32_t *count,
				  const struct sockaddr *server, const struct sockaddr *client)
{
	size_t off = (size_t)*count * PEER_CLIENT_LEN;

	if (server->sa_family != client->sa_family ||
	    (server->sa_family != AF_INET && server->sa_family != AF_INET6))
		return PEER_EINVAL;
	if (off + PEER_CLIENT_LEN > cap || *count >= PEER_CLIENTS_MAX)
		return PEER_ENOSPC;
	buf[off] = server->sa_family == AF_INET ? 4 : 6;
	put_sockaddr(buf + off + 1, server);
	put_sockaddr(buf + off + 19, client);
	(*count)++;
	return PEER_OK;
}

static void get_sockaddr(const uint8_t *p, uint8_t fam, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (fam == 4) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, p, 4);
		memcpy(&in->sin_port, p + 16, 2);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, p, 16);
		memcpy(&in6->sin6_port, p + 16, 2);
	}
}

void peer_clients_get(const struct peer_clients *c, uint32_t i, struct sockaddr_storage *server,
		      struct sockaddr_storage *client)
{
	const uint8_t *e = c->entries + (size_t)i * PEER_CLIENT_LEN;

	get_sockaddr(e + 1, e[0], server);
	get_sockaddr(e + 19, e[0], client);
}

struct peer__type {
	const char *name;
	uint32_t min_len; /* payload bounds, checked before the decoder runs */
	uint32_t max_len;
	void (*encode)(struct peer__wr *w, const struct peer_msg *m);
	enum peer_status (*decode)(struct peer__rd *r, struct peer_msg *m);
};

#define NOTICE_MIN 4
#define NOTICE_MAX (4 + PEER_DETAIL_MAX)

static const struct peer__type peer__types[PEER_TYPE_MAX + 1] = {
    [PEER_HELLO] = {"HELLO", PEER_HELLO_LEN, PEER_HELLO_LEN, enc_hello, dec_hello},
    [PEER_HEARTBEAT] = {"HEARTBEAT", 29, 29, enc_heartbeat, dec_heartbeat},
    [PEER_FAULT] = {"FAULT", NOTICE_MIN, NOTICE_MAX, enc_notice, dec_notice},
    [PEER_TAKEOVER_REQUEST] = {"TAKEOVER_REQUEST", NOTICE_MIN, NOTICE_MAX, enc_notice, dec_notice},
    [PEER_SHUTDOWN_REQUEST] = {"SHUTDOWN_REQUEST", 8, 8, enc_shutdown, dec_shutdown},
    [PEER_REFUSE] = {"REFUSE", NOTICE_MIN, NOTICE_MAX, enc_notice, dec_notice},
    [PEER_RELEASED] = {"RELEASED", 24, 24, enc_released, dec_released},
    [PEER_STAY_DOWN] = {"STAY_DOWN", 8, 8, enc_stay_down, dec_stay_down},
    [PEER_GIVEBACK] = {"GIVEBACK", 0, 0, enc_empty, dec_empty},
    [PEER_MIRROR] = {"MIRROR", PEER_MIRROR_HDR_LEN, PEER_MAX_PAYLOAD, enc_mirror, dec_mirror},
    [PEER_MIRROR_ACK] = {"MIRROR_ACK", 8, 8, enc_mirror_ack, dec_mirror_ack},
    [PEER_CLIENTS] = {"CLIENTS", 4, PEER_MAX_PAYLOAD, enc_clients, dec_clients},
};

static const struct peer__type *type_desc(unsigned type)
{
	if (type > PEER_TYPE_MAX || !peer__types[type].name)
		return NULL;
	return &peer__types[type];
}

const char *peer_type_name(unsigned type)
{
	const struct peer__type *t = type_desc(type);

	return t ? t->name : NULL;
}

const char *peer_strerror(enum peer_status st)
{
	switch (st) {
	case PEER_OK:
		return "ok";
	case PEER_NEED_MORE:
		return "incomplete";
	case PEER_EMAGIC:
		return "bad magic (stream out of sync)";
	case PEER_ETOOBIG:
		return "length over the limit";
	case PEER_EVERSION:
		return "unsupported protocol version";
	case PEER_EFLAGS:
		return "reserved flags set";
	case PEER_EMAC:
		return "bad MAC (forged, corrupted, or another key)";
	case PEER_ESENDER:
		return "unexpected sender node id";
	case PEER_ENONCE:
		return "wrong session nonce (old connection)";
	case PEER_EREPLAY:
		return "replayed or old sequence number";
	case PEER_EUNKNOWN:
		return "unknown message type";
	case PEER_EPAYLOAD:
		return "malformed payload";
	case PEER_ESTATE:
		return "not allowed in this handshake state";
	case PEER_EINVAL:
		return "invalid argument";
	case PEER_ENOSPC:
		return "buffer too small";
	case PEER_ENOMEM:
		return "out of memory";
	case PEER_ECRYPTO:
		return "crypto library or random source failed";
	case PEER_EIO:
		return "I/O error";
	case PEER_ECLOSED:
		return "connection closed";
	case PEER_ETIMEDOUT:
		return "timed out";
	}
	return "unknown status";
}

bool peer_status_fatal(enum peer_status st)
{
	return st == PEER_EMAGIC || st == PEER_ETOOBIG;
}

/* ---- messages ---- */

/* What the encoder cannot check through the writer: text and record layout. */
static enum peer_status msg_check(const struct peer_msg *m)
{
	if (m->type == PEER_FAULT || m->type == PEER_TAKEOVER_REQUEST || m->type == PEER_REFUSE) {
		const struct peer_notice *n = &m->u.fault;
		size_t dlen = strnlen(n->detail, sizeof(n->detail));

		if (dlen > PEER_DETAIL_MAX || !detail_ok((const uint8_t *)n->detail, dlen))
			return PEER_EINVAL;
	}
	if (m->type == PEER_MIRROR) {
		const struct peer_mirror *mi = &m->u.mirror;

		if (mi->records_len > PEER_MIRROR_MAX_BYTES)
			return PEER_ETOOBIG;
		if ((mi->records_len && !mi->records) ||
		    !mirror_records_ok(mi->records, mi->records_len, mi->count))
			return PEER_EINVAL;
	}
	if (m->type == PEER_CLIENTS && (m->u.clients.count > PEER_CLIENTS_MAX ||
					(m->u.clients.count && !m->u.clients.entries)))
		return PEER_EINVAL;
	return PEER_OK;
}

enum peer_status peer_msg_encode(const struct peer_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
	const struct peer__type *t = type_desc(m->type);
	struct peer__wr w = {.p = buf, .cap = cap};
	enum peer_status st;

	if (!t)
		return PEER_EINVAL;
	st = msg_check(m);
	if (st != PEER_OK)
		return st;
	t->encode(&w, m);
	if (w.over)
		return PEER_ENOSPC;
	*len = w.len;
	return PEER_OK;
}

enum peer_status peer_msg_decode(unsigned type, const uint8_t *p, size_t len, struct peer_msg *m)
{
	const struct peer__type *t = type_desc(type);
	struct peer__rd r = {.p = p, .len = len};
	enum peer_status st;

	if (!t)
		return PEER_EUNKNOWN;
	if (len < t->min_len || len > t->max_len)
		return PEER_EPAYLOAD;
	memset(m, 0, sizeof(*m));
	m->type = (enum peer_type)type;
	st = t->decode(&r, m);
	if (st == PEER_OK && (r.under || r.off != r.len))
		st = PEER_EPAYLOAD;
	return st;
}

enum peer_status peer_mirror_add(uint8_t *buf, size_t cap, uint32_t *used, uint32_t *count,
				 const void *rec, uint32_t rec_len)
{
	struct peer__wr w = {.p = buf, .cap = cap, .len = *used};

	if (w.cap > PEER_MIRROR_MAX_BYTES)
		w.cap = PEER_MIRROR_MAX_BYTES;
	if (w.len > w.cap || *count == UINT32_MAX)
		return PEER_EINVAL;
	if (rec_len > w.cap - w.len || 4 > w.cap - w.len - rec_len)
		return PEER_ENOSPC;
	wr_be(&w, rec_len, 4);
	wr_bytes(&w, rec, rec_len);
	*used = (uint32_t)w.len;
	(*count)++;
	return PEER_OK;
}

bool peer_mirror_next(const struct peer_mirror *m, uint32_t *off, const uint8_t **rec,
		      uint32_t *rec_len)
{
	struct peer__rd r = {.p = m->records, .len = m->records_len, .off = *off};
	uint32_t n;

	if (*off >= m->records_len)
		return false;
	n = (uint32_t)rd_be(&r, 4);
	*rec = rd_bytes(&r, n);
	if (!*rec)
		return false;
	*rec_len = n;
	*off = (uint32_t)r.off;
	return true;
}

/* ---- frames ---- */

enum peer_status peer_frame_scan(const uint8_t *buf, size_t avail, uint32_t max_payload,
				 struct peer_hdr *h)
{
	size_t magic = avail < 4 ? avail : 4;
	struct peer__rd r = {.p = buf, .len = avail, .off = 4};

	/* Checked on partial input too, so garbage is refused at its first byte. */
	if (memcmp(buf, PEER_MAGIC, magic) != 0)
		return PEER_EMAGIC;
	if (avail < 12)
		return PEER_NEED_MORE;
	if (max_payload > PEER_MAX_PAYLOAD)
		max_payload = PEER_MAX_PAYLOAD;
	h->version = (uint8_t)rd_be(&r, 1);
	h->type = (uint8_t)rd_be(&r, 1);
	h->flags = (uint16_t)rd_be(&r, 2);
	h->len = (uint32_t)rd_be(&r, 4);
	if (h->len > max_payload)
		return PEER_ETOOBIG;
	if (avail < peer_frame_size(h))
		return PEER_NEED_MORE;
	h->seq = rd_be(&r, 8);
	h->sender = (uint32_t)rd_be(&r, 4);
	h->nonce = rd_be(&r, 8);
	return PEER_OK;
}

static void hdr_put(struct peer__wr *w, const struct peer_hdr *h)
{
	wr_bytes(w, PEER_MAGIC, 4);
	wr_be(w, h->version, 1);
	wr_be(w, h->type, 1);
	wr_be(w, h->flags, 2);
	wr_be(w, h->len, 4);
	wr_be(w, h->seq, 8);
	wr_be(w, h->sender, 4);
	wr_be(w, h->nonce, 8);
}

/* ---- key ---- */

static int key_refuse(char *err, size_t errlen, int rc, const char *path, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "peer key file %s: %s", path, why);
	return rc;
}

/* The checks on the open file: type, owner, mode, size. */
static int key_check(const struct stat *st, const char *path, char *err, size_t errlen)
{
	char why[160];

	if (!S_ISREG(st->st_mode))
		return key_refuse(err, errlen, -EINVAL, path, "not a regular file");
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(why, sizeof(why), "owned by uid %u, not by root", (unsigned)st->st_uid);
		return key_refuse(err, errlen, -EPERM, path, why);
	}
	if (st->st_mode & 077) {
		snprintf(why, sizeof(why),
			 "mode %04o lets group or others at it; make it 0600 or 0400",
			 (unsigned)(st->st_mode & 07777));
		return key_refuse(err, errlen, -EPERM, path, why);
	}
	if (st->st_size < PEER_KEY_MIN || st->st_size > PEER_KEY_MAX) {
		snprintf(why, sizeof(why), "%lld bytes; a key is %d to %d bytes",
			 (long long)st->st_size, PEER_KEY_MIN, PEER_KEY_MAX);
		return key_refuse(err, errlen, -EINVAL, path, why);
	}
	return 0;
}

static int key_read(int fd, uint8_t *key, size_t want, const char *path, char *err, size_t errlen)
{
	size_t got = 0;
	uint8_t extra;

	while (got < want) {
		ssize_t n = read(fd, key + got, want - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return key_refuse(err, errlen, -errno, path, strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got != want || read(fd, &extra, 1) != 0)
		return key_refuse(err, errlen, -EAGAIN, path, "changed while being read");
	return 0;
}

int peer_key_load(const char *path, uint8_t key[PEER_KEY_MAX], size_t *len, char *err,
		  size_t errlen)
{
	struct stat st;
	int fd, rc;

	/* O_NONBLOCK: a FIFO put there must not hang the daemon before it is refused. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		return key_refuse(err, errlen, rc, path, strerror(-rc));
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		key_refuse(err, errlen, rc, path, strerror(-rc));
		goto out;
	}
	rc = key_check(&st, path, err, errlen);
	if (rc == 0)
		rc = key_read(fd, key, (size_t)st.st_size, path, err, errlen);
	if (rc == 0)
		*len = (size_t)st.st_size;
	else
		OPENSSL_cleanse(key, PEER_KEY_MAX);
out:
	close(fd);
	return rc;
}

/* ---- session ---- */

struct peer_session {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
	uint32_t self_id;
	uint32_t peer_id;
	uint64_t config_fp;
	uint64_t local_nonce; /* ours: partner frames must carry it */
	uint64_t send_seq;    /* last sequence number sent */
	uint64_t recv_seq;    /* last sequence number accepted */
	bool hello_sent;
	bool hello_rcvd;
	bool verified;
	struct peer_hello peer; /* the partner's HELLO */
};

struct peer_session *peer_session_new(const struct peer_params *p)
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	    OSSL_PARAM_construct_end(),
	};
	struct peer_session *s;

	if (!p->key || p->key_len < PEER_KEY_MIN || p->key_len > PEER_KEY_MAX || !p->self_id ||
	    p->peer_id == p->self_id) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->self_id = p->self_id;
	s->peer_id = p->peer_id;
	s->config_fp = p->config_fp;
	s->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	s->ctx = s->mac ? EVP_MAC_CTX_new(s->mac) : NULL;
	if (!s->ctx || !EVP_MAC_init(s->ctx, p->key, p->key_len, params)) {
		peer_session_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void peer_session_free(struct peer_session *s)
{
	if (!s)
		return;
	EVP_MAC_CTX_free(s->ctx); /* wipes the key schedule */
	EVP_MAC_free(s->mac);
	free(s);
}

enum peer_status peer_nonce_random(uint64_t *nonce)
{
	do {
		if (getrandom(nonce, sizeof(*nonce), 0) != (ssize_t)sizeof(*nonce))
			return PEER_ECRYPTO;
	} while (*nonce == 0);
	return PEER_OK;
}

enum peer_status peer_session_reset(struct peer_session *s, uint64_t nonce)
{
	if (nonce == 0)
		return PEER_EINVAL;
	s->local_nonce = nonce;
	s->send_seq = 0;
	s->recv_seq = 0;
	s->hello_sent = false;
	s->hello_rcvd = false;
	s->verified = false;
	memset(&s->peer, 0, sizeof(s->peer));
	return PEER_OK;
}

/* HMAC-SHA256 of data[0..n) into mac. */
static enum peer_status session_mac(struct peer_session *s, const uint8_t *data, size_t n,
				    uint8_t mac[PEER_MAC_LEN])
{
	size_t outl = 0;

	if (!EVP_MAC_init(s->ctx, NULL, 0, NULL) || !EVP_MAC_update(s->ctx, data, n) ||
	    !EVP_MAC_final(s->ctx, mac, &outl, PEER_MAC_LEN) || outl != PEER_MAC_LEN)
		return PEER_ECRYPTO;
	return PEER_OK;
}

/* Frames m with the given header nonce; the payload is encoded in place. */
static enum peer_status session_seal(struct peer_session *s, const struct peer_msg *m,
				     uint64_t nonce, uint8_t *out, size_t cap, size_t *len)
{
	struct peer_hdr h = {.version = PEER_VERSION, .type = (uint8_t)m->type};
	struct peer__wr w = {.p = out, .cap = cap};
	size_t plen;
	enum peer_status st;

	if (s->send_seq == UINT64_MAX)
		return PEER_ESTATE;
	if (cap < PEER_HDR_LEN + PEER_MAC_LEN)
		return PEER_ENOSPC;
	st = peer_msg_encode(m, out + PEER_HDR_LEN, cap - PEER_HDR_LEN - PEER_MAC_LEN, &plen);
	if (st != PEER_OK)
		return st;
	if (plen > PEER_MAX_PAYLOAD)
		return PEER_ETOOBIG;
	h.len = (uint32_t)plen;
	h.seq = s->send_seq + 1;
	h.sender = s->self_id;
	h.nonce = nonce;
	hdr_put(&w, &h);
	st = session_mac(s, out, PEER_HDR_LEN + plen, out + PEER_HDR_LEN + plen);
	if (st != PEER_OK)
		return st;
	s->send_seq = h.seq;
	*len = peer_frame_size(&h);
	return PEER_OK;
}

enum peer_status peer_session_seal_hello(struct peer_session *s, uint8_t *out, size_t cap,
					 size_t *len)
{
	struct peer_msg m = {.type = PEER_HELLO};
	enum peer_status st;

	if (s->hello_sent || s->local_nonce == 0)
		return PEER_ESTATE;
	m.u.hello.version = PEER_VERSION;
	m.u.hello.node_id = s->self_id;
	m.u.hello.nonce = s->local_nonce;
	m.u.hello.config_fp = s->config_fp;
	st = session_seal(s, &m, 0, out, cap, len);
	if (st == PEER_OK)
		s->hello_sent = true;
	return st;
}

enum peer_status peer_session_seal(struct peer_session *s, const struct peer_msg *m, uint8_t *out,
				   size_t cap, size_t *len)
{
	if (m->type == PEER_HELLO)
		return PEER_EINVAL;
	if (!s->hello_rcvd || !s->hello_sent)
		return PEER_ESTATE;
	return session_seal(s, m, s->peer.nonce, out, cap, len);
}

/* Version and MAC: is this frame, byte for byte, one our key made? */
static enum peer_status open_auth(struct peer_session *s, const uint8_t *frame,
				  const struct peer_hdr *h)
{
	uint8_t mac[PEER_MAC_LEN];
	enum peer_status st;

	if (h->version != PEER_VERSION)
		return PEER_EVERSION;
	st = session_mac(s, frame, PEER_HDR_LEN + h->len, mac);
	if (st != PEER_OK)
		return st;
	if (CRYPTO_memcmp(mac, frame + PEER_HDR_LEN + h->len, PEER_MAC_LEN) != 0)
		return PEER_EMAC;
	return PEER_OK;
}

/* Authentic: is it from the partner, for this connection, and new? */
static enum peer_status open_fresh(struct peer_session *s, const struct peer_hdr *h)
{
	if (h->flags != 0)
		return PEER_EFLAGS;
	if (h->sender == s->self_id || (s->peer_id && h->sender != s->peer_id))
		return PEER_ESENDER;
	if (h->type == PEER_HELLO) {
		/* Nobody knows our nonce before our HELLO arrives. */
		if (h->nonce != 0)
			return PEER_ENONCE;
	} else {
		if (!s->hello_rcvd)
			return PEER_ESTATE;
		if (h->nonce != s->local_nonce)
			return PEER_ENONCE;
	}
	if (h->seq <= s->recv_seq)
		return PEER_EREPLAY;
	if (h->type == PEER_HELLO && s->hello_rcvd)
		return PEER_ESTATE;
	s->recv_seq = h->seq;
	return PEER_OK;
}

/* The partner's HELLO, decoded: its own claims must agree with the header. */
static enum peer_status open_hello(struct peer_session *s, const struct peer_hdr *h,
				   const struct peer_hello *hello)
{
	if (hello->version != PEER_VERSION)
		return PEER_EVERSION;
	if (hello->node_id != h->sender)
		return PEER_ESENDER;
	if (hello->nonce == 0 || hello->nonce == s->local_nonce)
		return PEER_ENONCE;
	s->peer = *hello;
	s->hello_rcvd = true;
	return PEER_OK;
}

enum peer_status peer_session_open(struct peer_session *s, const uint8_t *frame, size_t len,
				   struct peer_msg *m)
{
	struct peer_hdr h;
	enum peer_status st;

	st = peer_frame_scan(frame, len, peer_session_max_payload(s), &h);
	if (st == PEER_OK && peer_frame_size(&h) != len)
		st = PEER_EINVAL;
	if (st == PEER_NEED_MORE)
		st = PEER_EINVAL;
	if (st == PEER_OK)
		st = open_auth(s, frame, &h);
	if (st == PEER_OK)
		st = open_fresh(s, &h);
	if (st != PEER_OK)
		return st;
	st = peer_msg_decode(h.type, frame + PEER_HDR_LEN, h.len, m);
	if (st != PEER_OK)
		return st;
	if (h.type == PEER_HELLO)
		return open_hello(s, &h, &m->u.hello);
	s->verified = true;
	return PEER_OK;
}

uint32_t peer_session_max_payload(const struct peer_session *s)
{
	return s->hello_rcvd ? PEER_MAX_PAYLOAD : PEER_MAX_PAYLOAD_PREAUTH;
}

bool peer_session_hello_done(const struct peer_session *s)
{
	return s->hello_rcvd;
}

bool peer_session_verified(const struct peer_session *s)
{
	return s->verified;
}

const struct peer_hello *peer_session_peer_hello(const struct peer_session *s)
{
	return &s->peer;
}
