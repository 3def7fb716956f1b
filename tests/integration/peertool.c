/*
 * peertool.c — a stand-in partner for the pair test's scenario 7 ("the peer
 * link rejects a forged and a replayed message"), against a real daemon:
 *
 *     peertool forge HOST PORT SELF_ID
 *         connects and sends a HELLO sealed with a random key: exit 0 when the
 *         daemon closes the connection (it rejected the HELLO), 1 otherwise;
 *     peertool replay KEYFILE HOST PORT SELF_ID
 *         connects with the pair's key, completes the handshake, sends one
 *         HEARTBEAT frame, then the very same bytes again (a replay): exit 0 when
 *         the connection then still carries the daemon's heartbeats (the replay
 *         was dropped, the link kept), 1 otherwise.
 *
 * SELF_ID is the node id to claim (the daemon's partner's). Bounded: every wait
 * has a timeout. Uses the project's peer-link code (failover/peer) to build frames.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "failover/peer/link.h"
#include "failover/peer/peer.h"

static int dial(const char *host, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST}, *ai;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	int fd;
	enum peer_status st = peer_connect(ai->ai_addr, ai->ai_addrlen, 3000, &fd);
	freeaddrinfo(ai);
	return st == PEER_OK ? fd : -1;
}

/* Waits up to ms for the peer to close fd (EOF or reset): true if it did. */
static bool closed_within(int fd, int ms)
{
	char buf[4096];
	for (int waited = 0; waited < ms; waited += 100) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
	return false;
}

static int forge(const char *host, const char *port, uint32_t self)
{
	uint8_t key[32], frame[256];
	size_t len;
	if (getrandom(key, sizeof(key), 0) != sizeof(key))
		return 2;
	struct peer_params pp = {key, sizeof(key), self, 3 - self, 0};
	struct peer_session *s = peer_session_new(&pp);
	int fd = dial(host, port);
	uint64_t nonce;
	if (!s || fd < 0 || getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce) ||
	    peer_session_reset(s, nonce | 1) != PEER_OK ||
	    peer_session_seal_hello(s, frame, sizeof(frame), &len) != PEER_OK) {
		fprintf(stderr, "peertool: cannot connect to %s:%s\n", host, port);
		return 2;
	}
	/* Refused at once (not the partner's address), the send itself may fail:
	 * that is a closed connection too. */
	ssize_t w = send(fd, frame, len, MSG_NOSIGNAL);
	int rc = w < 0 || closed_within(fd, 3000) ? 0 : 1;
	printf("forged HELLO: %s\n", rc ? "connection kept (BAD)" : "connection closed");
	close(fd);
	peer_session_free(s);
	return rc;
}

/* Receives frames for up to ms: true once a HEARTBEAT arrived. */
static bool heartbeat_within(struct peer_link *l, int ms)
{
	for (int waited = 0; waited < ms; waited += 50) {
		struct pollfd p = {.fd = peer_link_fd(l), .events = POLLIN};
		if (p.fd < 0)
			return false;
		if (poll(&p, 1, 50) <= 0)
			continue;
		struct peer_msg m;
		enum peer_status st;
		while ((st = peer_link_recv(l, &m)) == PEER_OK)
			if (m.type == PEER_HEARTBEAT)
				return true;
		if (st != PEER_NEED_MORE)
			return false;
	}
	return false;
}

static int replay(const char *keyfile, const char *host, const char *port, uint32_t self)
{
	uint8_t key[PEER_KEY_MAX];
	size_t keylen;
	char err[256];
	if (peer_key_load(keyfile, key, &keylen, err, sizeof(err)) < 0) {
		fprintf(stderr, "peertool: %s: %s\n", keyfile, err);
		return 2;
	}
	/* The link does the handshake and seals the heartbeat; its exact bytes are
	 * then written again, as an attacker on the wire would. */
	struct peer_params pp = {key, keylen, self, 3 - self, 0};
	struct peer_link *l = peer_link_new(&pp, 0);
	int fd = dial(host, port);
	if (!l || fd < 0 || peer_link_attach(l, fd) != PEER_OK) {
		fprintf(stderr, "peertool: cannot connect to %s:%s\n", host, port);
		return 2;
	}
	if (!heartbeat_within(l, 3000) || peer_link_state(l) < PEER_LINK_HELLO_DONE) {
		fprintf(stderr, "peertool: no handshake with %s:%s\n", host, port);
		return 1;
	}
	/* One heartbeat through the link, then its exact bytes again on the socket. */
	struct peer_msg hb = {.type = PEER_HEARTBEAT};
	hb.u.heartbeat.state = 1; /* STANDBY */
	if (peer_link_send(l, &hb) != PEER_OK)
		return 1;
	int rc = 1;
	uint8_t again[512];
	size_t n = peer_link_last_sent(l, again, sizeof(again));
	if (n && send(peer_link_fd(l), again, n, MSG_NOSIGNAL) == (ssize_t)n)
		rc = heartbeat_within(l, 1500) && heartbeat_within(l, 1500) ? 0 : 1;
	printf("replayed HEARTBEAT: %s\n", rc ? "link lost (BAD)" : "dropped, link kept");
	peer_link_free(l);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "forge"))
		return forge(argv[2], argv[3], (uint32_t)atoi(argv[4]));
	if (argc == 6 && !strcmp(argv[1], "replay"))
		return replay(argv[2], argv[3], argv[4], (uint32_t)atoi(argv[5]));
	fprintf(stderr, "usage: peertool forge HOST PORT SELF_ID\n"
			"       peertool replay KEYFILE HOST PORT SELF_ID\n");
	return 2;
}
