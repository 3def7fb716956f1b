/*
 * link.h — one peer connection: a TCP socket, the session on it, and the buffers.
 *
 * The daemon's peer thread owns the link and drives it with poll(): it waits for
 * POLLIN on peer_link_fd() and calls peer_link_recv() until PEER_NEED_MORE; it
 * sends with peer_link_send(), which writes the whole frame or gives up after the
 * link's I/O timeout. No threads and no timers inside: heartbeat timing, the
 * handshake deadline and reconnecting (peer_backoff_next()) are the caller's.
 *
 * Life of a connection:
 *   peer_connect() or peer_accept() gives a connected fd;
 *   peer_link_attach() takes it, draws a fresh nonce and sends this side's HELLO
 *     (state HELLO_SENT);
 *   the partner's HELLO is received (HELLO_DONE: we may send), then its first
 *     other frame (UP: it has seen our nonce, so it is live, not a replay);
 *   any error that loses the stream closes the fd (state DOWN): the caller then
 *     reconnects after peer_backoff_next() ms.
 *
 * What closes the connection (peer_link_state() becomes DOWN) and what does not:
 *   - closes: PEER_EMAGIC, PEER_ETOOBIG (framing lost), PEER_ECLOSED, PEER_EIO,
 *     PEER_ETIMEDOUT and PEER_ECRYPTO, and every rejection before the partner's
 *     HELLO is accepted (a handshake that failed: wrong key, version, sender);
 *   - keeps it: any other rejected frame once the handshake is done (PEER_EMAC,
 *     PEER_EREPLAY, PEER_EUNKNOWN, ...): the frame was skipped whole, and the next
 *     call returns the next frame. The caller logs the status and
 *     peer_link_last_hdr() (unauthenticated: a sanitised sample) and carries on.
 *
 * Memory: two buffers of PEER_MAX_FRAME each, allocated with the link; nothing
 * is allocated per frame. A link is used by one thread at a time.
 */
#ifndef TWINFS_FAILOVER_PEER_LINK_H
#define TWINFS_FAILOVER_PEER_LINK_H

#include <stdint.h>
#include <sys/socket.h>

#include "failover/peer/peer.h"

#define PEER_IO_TIMEOUT_MS  1000 /* default send timeout */
#define PEER_BACKOFF_MIN_MS 100
#define PEER_BACKOFF_MAX_MS 2000

struct peer_link;

enum peer_link_state {
	PEER_LINK_DOWN = 0,	  /* no connection */
	PEER_LINK_HELLO_SENT = 1, /* our HELLO sent, the partner's not yet accepted */
	PEER_LINK_HELLO_DONE = 2, /* the partner's HELLO accepted: we may send */
	PEER_LINK_UP = 3,	  /* a frame carrying our nonce arrived: the partner is live */
};

struct peer_link_stats {
	uint64_t connects;   /* attaches */
	uint64_t frames_in;  /* accepted */
	uint64_t frames_out; /* sent whole */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t rejected; /* frames refused (any status < 0 from a complete frame) */
};

/*
 * peer_link_new - a link with no connection. p as for peer_session_new() (the key
 * is copied into the MAC context); io_timeout_ms bounds each send (0: default).
 * NULL with errno on failure.
 */
struct peer_link *peer_link_new(const struct peer_params *p, int io_timeout_ms);
void peer_link_free(struct peer_link *l);

/*
 * peer_link_attach - takes a connected stream socket (the link owns it from now
 * on, even on failure: it is closed then), makes it non-blocking, resets the
 * session with a fresh nonce and sends this side's HELLO. Any connection the
 * link had is closed first. PEER_OK, PEER_ECRYPTO, or a send error.
 */
enum peer_status peer_link_attach(struct peer_link *l, int fd);

/* Closes the connection, if any; state DOWN. The link can be attached again. */
void peer_link_close(struct peer_link *l);

/* The socket to poll for POLLIN, or -1 when DOWN. */
int peer_link_fd(const struct peer_link *l);
enum peer_link_state peer_link_state(const struct peer_link *l);
const char *peer_link_state_name(enum peer_link_state st);

/*
 * peer_link_send - seals m and writes the whole frame, waiting for the socket at
 * most the I/O timeout. Encoding errors (PEER_EINVAL, PEER_ETOOBIG) and
 * PEER_ESTATE (before the partner's HELLO) send nothing and keep the link; I/O
 * errors (PEER_EIO, PEER_ETIMEDOUT) close it, since part of a frame may be out.
 */
enum peer_status peer_link_send(struct peer_link *l, const struct peer_msg *m);

/*
 * peer_link_recv - reads what the socket has and returns the next frame:
 *   PEER_OK          *m is an accepted message (a HELLO too: compare its
 *                    config_fp). MIRROR records point into the link's buffer
 *                    and stay valid until the next peer_link_recv() or close.
 *   PEER_NEED_MORE   nothing complete: poll for POLLIN again.
 *   other            a frame was rejected, or the connection failed; see the
 *                    top of this file for which statuses closed it.
 */
enum peer_status peer_link_recv(struct peer_link *l, struct peer_msg *m);

/* A copy of the last frame peer_link_send() wrote (tests: replaying it must be
 * rejected); its length, or 0 when none or larger than cap. */
size_t peer_link_last_sent(const struct peer_link *l, uint8_t *buf, size_t cap);
/* errno of the last PEER_EIO (0 if none). */
int peer_link_errno(const struct peer_link *l);
/* The header of the last frame scanned, as claimed by its sender (it may be a
 * rejected, unauthenticated one): for logging. */
const struct peer_hdr *peer_link_last_hdr(const struct peer_link *l);
/* The partner's HELLO on this connection (zeros before it). */
const struct peer_hello *peer_link_peer_hello(const struct peer_link *l);
void peer_link_get_stats(const struct peer_link *l, struct peer_link_stats *out);

/* ---- sockets ---- */

/* A listening TCP socket (non-blocking, SO_REUSEADDR) on sa. PEER_EIO + errno. */
enum peer_status peer_listen(const struct sockaddr *sa, socklen_t salen, int *fd);

/*
 * peer_accept - one pending connection on a listening socket: PEER_OK and *fd,
 * PEER_NEED_MORE when none is pending, PEER_EIO + errno. from may be NULL.
 */
enum peer_status peer_accept(int lfd, int *fd, struct sockaddr_storage *from, socklen_t *fromlen);

/*
 * peer_connect_start - a non-blocking connect to sa: PEER_OK (connected at once),
 * PEER_NEED_MORE (in progress: poll *fd for POLLOUT, then peer_connect_finish()),
 * or PEER_EIO + errno (no fd is left open).
 */
enum peer_status peer_connect_start(const struct sockaddr *sa, socklen_t salen, int *fd);
/* The same from a given local address (port 0): the partner accepts the peer
 * link only from the address it has configured for this node. */
enum peer_status peer_connect_start_from(const struct sockaddr *src, socklen_t srclen,
					 const struct sockaddr *sa, socklen_t salen, int *fd);
/* The outcome of a connect in progress: PEER_OK or PEER_EIO + errno (the caller
 * closes the fd on error). */
enum peer_status peer_connect_finish(int fd);

/* Both, waiting at most timeout_ms: PEER_OK, PEER_ETIMEDOUT or PEER_EIO + errno. */
enum peer_status peer_connect(const struct sockaddr *sa, socklen_t salen, int timeout_ms, int *fd);

/*
 * peer_backoff_next - the delay before the next connect attempt, from the last
 * one: 0 (first failure) gives PEER_BACKOFF_MIN_MS, then it doubles up to
 * PEER_BACKOFF_MAX_MS. Start again from 0 once the link is UP.
 */
unsigned peer_backoff_next(unsigned prev_ms);

#endif
