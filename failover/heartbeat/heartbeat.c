/*
 * heartbeat.c — authenticated UDP heartbeats (see heartbeat.h for the datagram,
 * the checks and the freshness rules).
 *
 * The MAC context is made once per hb (one EVP_MAC fetch, one key set) and
 * re-initialised per datagram with a NULL key, as failover/peer does.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "failover/heartbeat/heartbeat.h"
#include "failover/peer/peer.h"

struct hb {
	int fd;
	int family;
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
	uint8_t self;
	uint8_t partner;
	uint64_t nonce;	  /* ours, for this boot */
	uint64_t counter; /* last counter sent */
	struct sockaddr_storage peer;
	socklen_t peerlen; /* 0: no partner address yet */

	/* Freshness: the last datagram accepted, and a rule-4 candidate. */
	bool have_last;
	uint64_t last_nonce;
	uint64_t last_counter;
	uint64_t cand_nonce;
	uint64_t cand_counter;
	unsigned cand_run; /* 0: no candidate */

	struct hb_stats st;
};

/* ---- helpers ---- */

static void hb__put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t hb__get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* An IPv4 or IPv6 address of a plausible size. */
static bool hb__addr_ok(const struct sockaddr *sa, socklen_t len)
{
	if (!sa || len > sizeof(struct sockaddr_storage))
		return false;
	if (sa->sa_family == AF_INET)
		return len >= sizeof(struct sockaddr_in);
	if (sa->sa_family == AF_INET6)
		return len >= sizeof(struct sockaddr_in6);
	return false;
}

/* HMAC-SHA256 of the body into mac. */
static int hb__mac(struct hb *h, const uint8_t *body, uint8_t mac[HB_MAC_LEN])
{
	size_t outl = 0;

	if (!EVP_MAC_init(h->ctx, NULL, 0, NULL) || !EVP_MAC_update(h->ctx, body, HB_BODY_LEN) ||
	    !EVP_MAC_final(h->ctx, mac, &outl, HB_MAC_LEN) || outl != HB_MAC_LEN)
		return -EIO;
	return 0;
}

static int hb__mac_init(struct hb *h, const uint8_t *key, size_t keylen)
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	    OSSL_PARAM_construct_end(),
	};

	h->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	h->ctx = h->mac ? EVP_MAC_CTX_new(h->mac) : NULL;
	if (!h->ctx || !EVP_MAC_init(h->ctx, key, keylen, params))
		return -ENOMEM;
	return 0;
}

static int hb__nonce(uint64_t *nonce)
{
	do {
		if (getrandom(nonce, sizeof(*nonce), 0) != (ssize_t)sizeof(*nonce))
			return errno ? -errno : -EIO;
	} while (*nonce == 0);
	return 0;
}

static int hb__socket(struct hb *h, const struct sockaddr *bind_addr, socklen_t len)
{
	h->family = bind_addr->sa_family;
	h->fd = socket(h->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->fd < 0)
		return -errno;
	if (bind(h->fd, bind_addr, len) < 0)
		return -errno;
	return 0;
}

/* ---- life cycle ---- */

int hb_open(const struct hb_params *p, struct hb **out)
{
	struct hb *h;
	int rc;

	*out = NULL;
	if (!p || !p->key || p->keylen < PEER_KEY_MIN || p->keylen > PEER_KEY_MAX ||
	    (p->node_id != 1 && p->node_id != 2) || !hb__addr_ok(p->bind, p->bindlen))
		return -EINVAL;
	if (p->peer &&
	    (!hb__addr_ok(p->peer, p->peerlen) || p->peer->sa_family != p->bind->sa_family))
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fd = -1;
	h->self = (uint8_t)p->node_id;
	h->partner = (uint8_t)(3 - p->node_id);
	if (p->peer) {
		memcpy(&h->peer, p->peer, p->peerlen);
		h->peerlen = p->peerlen;
	}
	rc = hb__mac_init(h, p->key, p->keylen);
	if (!rc)
		rc = hb__nonce(&h->nonce);
	if (!rc)
		rc = hb__socket(h, p->bind, p->bindlen);
	if (rc) {
		hb_close(h);
		return rc;
	}
	*out = h;
	return 0;
}

void hb_close(struct hb *h)
{
	if (!h)
		return;
	if (h->fd >= 0)
		close(h->fd);
	EVP_MAC_CTX_free(h->ctx); /* wipes the key schedule */
	EVP_MAC_free(h->mac);
	free(h);
}

int hb_fd(const struct hb *h)
{
	return h->fd;
}

int hb_local_addr(const struct hb *h, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	if (getsockname(h->fd, (struct sockaddr *)ss, len) < 0)
		return -errno;
	return 0;
}

int hb_set_peer(struct hb *h, const struct sockaddr *peer, socklen_t peerlen)
{
	if (!hb__addr_ok(peer, peerlen) || peer->sa_family != h->family)
		return -EINVAL;
	memcpy(&h->peer, peer, peerlen);
	h->peerlen = peerlen;
	return 0;
}

void hb_get_stats(const struct hb *h, struct hb_stats *s)
{
	*s = h->st;
}

/* ---- send ---- */

int hb_send(struct hb *h, uint8_t state)
{
	uint8_t d[HB_LEN] = {0};
	int rc;

	if (!h->peerlen)
		return -EDESTADDRREQ;
	if (h->counter == UINT64_MAX)
		return -EOVERFLOW;
	h->counter++;
	memcpy(d, HB_MAGIC, 4);
	d[4] = HB_VERSION;
	d[5] = h->self;
	d[6] = state;
	hb__put64(d + 8, h->nonce);
	hb__put64(d + 16, h->counter);
	rc = hb__mac(h, d, d + HB_BODY_LEN);
	if (rc)
		return rc;
	if (sendto(h->fd, d, sizeof(d), 0, (struct sockaddr *)&h->peer, h->peerlen) < 0)
		return -errno;
	h->st.sent++;
	return 0;
}

/* ---- receive ---- */

/* The freshness rules of heartbeat.h, numbered as there. */
static bool hb__fresh(struct hb *h, uint64_t nonce, uint64_t counter)
{
	bool adopt = false;

	if (!h->have_last || (nonce != h->last_nonce && counter < HB_FRESH_COUNT)) {
		adopt = true; /* rules 1 and 3 */
	} else if (nonce == h->last_nonce) {
		adopt = counter > h->last_counter; /* rule 2 */
	} else {
		/* rule 4: a run of one new nonce, counters strictly increasing */
		if (h->cand_run && nonce == h->cand_nonce && counter > h->cand_counter)
			h->cand_run++;
		else
			h->cand_run = 1;
		h->cand_nonce = nonce;
		h->cand_counter = counter;
		adopt = h->cand_run >= HB_ADOPT_RUN;
	}
	if (!adopt)
		return false;
	h->have_last = true;
	h->last_nonce = nonce;
	h->last_counter = counter;
	h->cand_run = 0;
	return true;
}

int hb_input(struct hb *h, const uint8_t *buf, size_t len, uint8_t *state)
{
	uint8_t mac[HB_MAC_LEN];

	if (len != HB_LEN || memcmp(buf, HB_MAGIC, 4) != 0 || buf[4] != HB_VERSION) {
		h->st.malformed++;
		return 0;
	}
	if (hb__mac(h, buf, mac) != 0 || CRYPTO_memcmp(mac, buf + HB_BODY_LEN, HB_MAC_LEN)) {
		h->st.bad_mac++;
		return 0;
	}
	if (buf[5] != h->partner) {
		h->st.wrong_node++;
		return 0;
	}
	if (buf[7] != 0) {
		h->st.malformed++; /* authentic, but a field this version does not know */
		return 0;
	}
	if (!hb__fresh(h, hb__get64(buf + 8), hb__get64(buf + 16))) {
		h->st.replays++;
		return 0;
	}
	h->st.received++;
	*state = buf[6];
	return 1;
}

int hb_receive(struct hb *h, uint8_t *state)
{
	uint8_t buf[HB_LEN + 1]; /* one more: an oversized datagram shows */
	int accepted = 0;

	for (int i = 0; i < HB_RECV_BUDGET; i++) {
		ssize_t n = recv(h->fd, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0)
			return accepted ? accepted : -errno;
		/* MSG_TRUNC returns the real length; never pass more than was read */
		accepted +=
		    hb_input(h, buf, (size_t)n > sizeof(buf) ? sizeof(buf) : (size_t)n, state);
	}
	return accepted;
}
