/*
 * link.c — a peer connection over a non-blocking stream socket (see link.h).
 *
 * Receive buffer: rx[0..rx_len) holds bytes read, rx[rx_off..) the ones not yet
 * consumed. A frame returned to the caller stays in place (its MIRROR records are
 * pointed at) until the next call drops it. The buffer is compacted only before a
 * read, and a read happens only when no whole frame is buffered, so a burst of
 * small frames costs one move per read, not one per frame. A frame is at most
 * PEER_MAX_FRAME, the buffer's size, so after compaction it always fits.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "failover/peer/link.h"

struct peer_link {
	struct peer_session *s;
	int fd;
	enum peer_link_state state;
	int io_timeout_ms;
	int last_errno;
	uint8_t *rx;
	size_t rx_off;	   /* start of the bytes not yet consumed */
	size_t rx_len;	   /* end of the bytes read */
	size_t rx_pending; /* size of the frame returned last, dropped on the next call */
	uint8_t *tx;
	size_t tx_len; /* the last frame sent (peer_link_last_sent) */
	struct peer_hdr last_hdr;
	struct peer_link_stats stats;
};

struct peer_link *peer_link_new(const struct peer_params *p, int io_timeout_ms)
{
	struct peer_link *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->fd = -1;
	l->io_timeout_ms = io_timeout_ms > 0 ? io_timeout_ms : PEER_IO_TIMEOUT_MS;
	l->s = peer_session_new(p);
	l->rx = malloc(PEER_MAX_FRAME);
	l->tx = malloc(PEER_MAX_FRAME);
	if (!l->s || !l->rx || !l->tx) {
		int e = l->s ? ENOMEM : errno;

		peer_link_free(l);
		errno = e;
		return NULL;
	}
	return l;
}

void peer_link_free(struct peer_link *l)
{
	if (!l)
		return;
	peer_link_close(l);
	peer_session_free(l->s);
	free(l->rx);
	free(l->tx);
	free(l);
}

void peer_link_close(struct peer_link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	l->state = PEER_LINK_DOWN;
	l->rx_off = 0;
	l->rx_len = 0;
	l->rx_pending = 0;
}

/* Closes the connection and passes st on. */
static enum peer_status link_fail(struct peer_link *l, enum peer_status st)
{
	peer_link_close(l);
	return st;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for `events` or the deadline passes. */
static enum peer_status wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	for (;;) {
		uint64_t now = now_ms();
		int n;

		if (now >= deadline)
			return PEER_ETIMEDOUT;
		n = poll(&pfd, 1, (int)(deadline - now));
		if (n > 0)
			return PEER_OK;
		if (n < 0 && errno != EINTR)
			return PEER_EIO;
	}
}

/* Writes buf[0..len) whole, within the I/O timeout. */
static enum peer_status link_write(struct peer_link *l, const uint8_t *buf, size_t len)
{
	uint64_t deadline = now_ms() + (uint64_t)l->io_timeout_ms;
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(l->fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		enum peer_status st;

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			l->last_errno = errno;
			return PEER_EIO;
		}
		st = wait_fd(l->fd, POLLOUT, deadline);
		if (st == PEER_EIO)
			l->last_errno = errno;
		if (st != PEER_OK)
			return st;
	}
	l->stats.bytes_out += len;
	return PEER_OK;
}

enum peer_status peer_link_attach(struct peer_link *l, int fd)
{
	static const int one = 1;
	uint64_t nonce;
	size_t len;
	enum peer_status st;
	int fl;

	peer_link_close(l);
	l->fd = fd;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		l->last_errno = errno;
		return link_fail(l, PEER_EIO);
	}
	/* Heartbeats are small and late ones look like a dead partner: no Nagle.
	 * Fails harmlessly on a socketpair (tests). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	l->stats.connects++;
	st = peer_nonce_random(&nonce);
	if (st == PEER_OK)
		st = peer_session_reset(l->s, nonce);
	if (st == PEER_OK)
		st = peer_session_seal_hello(l->s, l->tx, PEER_MAX_FRAME, &len);
	if (st == PEER_OK)
		st = link_write(l, l->tx, len);
	if (st != PEER_OK)
		return link_fail(l, st);
	l->stats.frames_out++;
	l->state = PEER_LINK_HELLO_SENT;
	return PEER_OK;
}

size_t peer_link_last_sent(const struct peer_link *l, uint8_t *buf, size_t cap)
{
	if (!l->tx_len || l->tx_len > cap)
		return 0;
	memcpy(buf, l->tx, l->tx_len);
	return l->tx_len;
}

int peer_link_fd(const struct peer_link *l)
{
	return l->fd;
}

enum peer_link_state peer_link_state(const struct peer_link *l)
{
	return l->state;
}

const char *peer_link_state_name(enum peer_link_state st)
{
	switch (st) {
	case PEER_LINK_DOWN:
		return "down";
	case PEER_LINK_HELLO_SENT:
		return "hello-sent";
	case PEER_LINK_HELLO_DONE:
		return "hello-done";
	case PEER_LINK_UP:
		return "up";
	}
	return "?";
}

enum peer_status peer_link_send(struct peer_link *l, const struct peer_msg *m)
{
	size_t len;
	enum peer_status st;

	if (l->fd < 0)
		return PEER_ECLOSED;
	st = peer_session_seal(l->s, m, l->tx, PEER_MAX_FRAME, &len);
	if (st != PEER_OK)
		return st;
	l->tx_len = len;
	st = link_write(l, l->tx, len);
	if (st != PEER_OK)
		return link_fail(l, st);
	l->stats.frames_out++;
	return PEER_OK;
}

/* Reads once into the free end of rx, compacting first. PEER_OK: bytes arrived. */
static enum peer_status link_fill(struct peer_link *l)
{
	ssize_t n;

	if (l->rx_off > 0) {
		memmove(l->rx, l->rx + l->rx_off, l->rx_len - l->rx_off);
		l->rx_len -= l->rx_off;
		l->rx_off = 0;
	}
	if (l->rx_len >= PEER_MAX_FRAME)
		return PEER_ETOOBIG; /* cannot happen: a frame fits the buffer */
	do {
		n = read(l->fd, l->rx + l->rx_len, PEER_MAX_FRAME - l->rx_len);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return PEER_NEED_MORE;
	if (n < 0) {
		l->last_errno = errno;
		return PEER_EIO;
	}
	if (n == 0)
		return PEER_ECLOSED;
	l->rx_len += (size_t)n;
	l->stats.bytes_in += (size_t)n;
	return PEER_OK;
}

/* Opens the whole frame at rx_off; it is consumed whatever the verdict. */
static enum peer_status link_deliver(struct peer_link *l, struct peer_msg *m)
{
	size_t size = peer_frame_size(&l->last_hdr);
	enum peer_status st;

	st = peer_session_open(l->s, l->rx + l->rx_off, size, m);
	l->rx_pending = size;
	if (st != PEER_OK) {
		l->stats.rejected++;
		/* Before the partner's HELLO nothing else can be accepted: start over. */
		if (l->state == PEER_LINK_HELLO_SENT || st == PEER_ECRYPTO)
			return link_fail(l, st);
		return st;
	}
	l->stats.frames_in++;
	if (m->type == PEER_HELLO)
		l->state = PEER_LINK_HELLO_DONE;
	else
		l->state = PEER_LINK_UP;
	return PEER_OK;
}

enum peer_status peer_link_recv(struct peer_link *l, struct peer_msg *m)
{
	enum peer_status st;

	if (l->fd < 0)
		return PEER_ECLOSED;
	l->rx_off += l->rx_pending;
	l->rx_pending = 0;
	for (;;) {
		st = peer_frame_scan(l->rx + l->rx_off, l->rx_len - l->rx_off,
				     peer_session_max_payload(l->s), &l->last_hdr);
		if (st == PEER_OK)
			return link_deliver(l, m);
		if (st != PEER_NEED_MORE)
			return link_fail(l, st);
		st = link_fill(l);
		if (st == PEER_NEED_MORE)
			return st;
		if (st != PEER_OK)
			return link_fail(l, st);
	}
}

int peer_link_errno(const struct peer_link *l)
{
	return l->last_errno;
}

const struct peer_hdr *peer_link_last_hdr(const struct peer_link *l)
{
	return &l->last_hdr;
}

const struct peer_hello *peer_link_peer_hello(const struct peer_link *l)
{
	return peer_session_peer_hello(l->s);
}

void peer_link_get_stats(const struct peer_link *l, struct peer_link_stats *out)
{
	*out = l->stats;
}

/* ---- sockets ---- */

enum peer_status peer_listen(const struct sockaddr *sa, socklen_t salen, int *fd)
{
	static const int one = 1;
	int s = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int e;

	if (s < 0)
		return PEER_EIO;
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
	    bind(s, sa, salen) == 0 && listen(s, 4) == 0) {
		*fd = s;
		return PEER_OK;
	}
	e = errno;
	close(s);
	errno = e;
	return PEER_EIO;
}

enum peer_status peer_accept(int lfd, int *fd, struct sockaddr_storage *from, socklen_t *fromlen)
{
	socklen_t len = sizeof(*from);
	int s;

	do {
		s = accept4(lfd, (struct sockaddr *)from, from ? &len : NULL,
			    SOCK_NONBLOCK | SOCK_CLOEXEC);
	} while (s < 0 && errno == EINTR);
	if (s < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? PEER_NEED_MORE : PEER_EIO;
	if (from && fromlen)
		*fromlen = len;
	*fd = s;
	return PEER_OK;
}

enum peer_status peer_connect_start(const struct sockaddr *sa, socklen_t salen, int *fd)
{
	return peer_connect_start_from(NULL, 0, sa, salen, fd);
}

enum peer_status peer_connect_start_from(const struct sockaddr *src, socklen_t srclen,
					 const struct sockaddr *sa, socklen_t salen, int *fd)
{
	int s = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int e;

	if (s < 0)
		return PEER_EIO;
	if (src && bind(s, src, srclen) != 0) {
		e = errno;
		close(s);
		errno = e;
		return PEER_EIO;
	}
	if (connect(s, sa, salen) == 0) {
		*fd = s;
		return PEER_OK;
	}
	if (errno == EINPROGRESS) {
		*fd = s;
		return PEER_NEED_MORE;
	}
	e = errno;
	close(s);
	errno = e;
	return PEER_EIO;
}

enum peer_status peer_connect_finish(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return PEER_EIO;
	if (err == EINPROGRESS || err == EALREADY)
		return PEER_NEED_MORE;
	if (err != 0) {
		errno = err;
		return PEER_EIO;
	}
	return PEER_OK;
}

enum peer_status peer_connect(const struct sockaddr *sa, socklen_t salen, int timeout_ms, int *fd)
{
	uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	enum peer_status st;
	int s, e;

	st = peer_connect_start(sa, salen, &s);
	if (st == PEER_OK)
		*fd = s;
	if (st != PEER_NEED_MORE)
		return st;
	st = wait_fd(s, POLLOUT, deadline);
	if (st == PEER_OK)
		st = peer_connect_finish(s);
	if (st == PEER_NEED_MORE)
		st = PEER_ETIMEDOUT;
	if (st == PEER_OK) {
		*fd = s;
		return st;
	}
	e = errno;
	close(s);
	errno = e;
	return st;
}

unsigned peer_backoff_next(unsigned prev_ms)
{
	if (prev_ms < PEER_BACKOFF_MIN_MS)
		return PEER_BACKOFF_MIN_MS;
	if (prev_ms >= PEER_BACKOFF_MAX_MS / 2)
		return PEER_BACKOFF_MAX_MS;
	return prev_ms * 2;
}
