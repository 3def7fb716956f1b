/*
 * rpc.c — rpc.h as a lean transport: ONC RPC over TCP on one epoll set shared by
 * the worker threads, with libntirpc kept for what it does well (XDR, rpcbind).
 *
 * Why not libntirpc's svc_vc: its request path hands every record from an event
 * thread to a pool thread and back (measured: a third of a GETATTR's server time in
 * futex wake-ups and context switches), allocates per call, and never bounds a
 * record's size (ntirpc-guide §5.8). Here the thread that sees a connection become
 * readable reads it, cuts the complete records out, re-arms the connection and
 * serves them itself, so a call costs epoll_wait + read + epoll_ctl + send and no
 * hand-off. Knfsd's svc_recv works the same way (the thread that receives serves).
 *
 * Concurrency: connections are EPOLLONESHOT, so one thread at a time reads a
 * connection (the "read token", held from the event to the re-arm); the re-arm
 * comes before the records are served, so the next calls on that connection can be
 * read and run by other threads meanwhile, and replies go out in any order (RPC
 * matches them by XID). Records that arrived in one read are served one after
 * another by the thread that read them. Replies are written under a per-connection
 * lock, whole, from a per-thread buffer.
 *
 * Lifetime: a connection has one reference for being registered (dropped when it
 * fails or ends) and one per thread serving its calls; the descriptor is closed
 * with the last one, so a reply never goes to a recycled descriptor.
 *
 * Record marking (RFC 5531 §11): fragments are joined in the connection's buffer
 * in place (each later fragment's header is cut out), and the whole record is
 * bounded by max_record: a record announcing more closes the connection.
 */
#include "server/rpc/rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <rpc/rpc.h>
#include <rpc/rpcb_clnt.h>
#include <rpc/svc.h>
#include <netconfig.h>

#include "server/export/siphash.h"
#include "server/log/log.h"

#define RPC_MAX_LISTEN 2
#define RPC_MAX_REGS   8
/* RFC 5531 §8.2: opaque_auth bodies are at most 400 bytes. */
#define AUTH_BODY_MAX	  400
#define AUTH_SYS_NAME_MAX 255
#define AUTH_SYS_GIDS_MAX 16
/* A connection's first buffer; it grows to the record in progress. */
#define CONN_BUF_INITIAL (32 * 1024)
/* Below this much room a read first makes more, so small calls take one read. */
#define READ_ROOM_MIN 4096
/* Complete records at least this large change buffers with the connection instead
 * of being copied out (WRITE data). */
#define SWAP_MIN	  (64 * 1024)
#define REPLY_BUF_INITIAL (64 * 1024)
/* A reply bigger than this is a bug somewhere; it is answered SYSTEM_ERR. */
#define REPLY_MAX (16u * 1024 * 1024)
/* A client that takes no reply bytes for this long loses its connection. */
#define SEND_STALL_MS 30000
/* READs smaller than this are copied: two splices and a pipe's bookkeeping cost
 * more than copying a few pages (4 KiB random READs: 28 µs of server CPU with
 * splice, 22 with the copy; bench/compare) */
#define SPLICE_MIN    (32 * 1024)
#define MAX_FRAGMENTS 4096

enum ep_kind { EP_LISTENER, EP_CONN, EP_STOP };

struct ep_item {
	/* Bumped (release) by the thread that registers or re-arms the item, read
	 * (acquire) first by the thread epoll hands it to next: what the first did
	 * to the item then happens-before the second's use in the C model too, not
	 * only through the kernel's epoll (which ThreadSanitizer cannot see). */
	atomic_uint token;
	enum ep_kind kind;
};

static void ep_release(struct ep_item *it)
{
	atomic_fetch_add_explicit(&it->token, 1, memory_order_release);
}

struct listener {
	struct ep_item ep;
	int fd;
	unsigned index;
};

struct conn {
	struct ep_item ep;
	int fd;
	struct rpc_server *srv;
	atomic_uint refs;
	struct sockaddr_storage peer;
	/* input, touched only by the thread holding the read token */
	uint8_t *buf;
	size_t cap, len;
	size_t off;	       /* where the record in progress starts (its length word) */
	size_t cur;	       /* the next fragment header to parse */
	size_t reclen;	       /* bytes of the record in progress joined so far */
	unsigned nfrag;	       /* fragments in it */
	pthread_mutex_t wlock; /* one reply at a time */
	bool listed;	       /* in srv->conns (under conn_lock) */
	struct conn *prev, *next;
};

struct worker {
	struct rpc_server *srv;
	pthread_t thread;
	uint8_t *in; /* the records being served */
	size_t in_cap;
	uint8_t *out; /* the reply being built */
	size_t out_cap;
	/* READ data on its way from the page cache to a socket (rpc_req_pipe); when a
	 * call left bytes in it, it is closed after the call, not drained */
	int pipe[2];
	size_t pipe_cap;
	size_t pipe_refused; /* the smallest size F_SETPIPE_SZ refused */
	bool pipe_dirty;
};

struct rpc_server {
	struct rpc_params params;
	int epfd;
	struct ep_item stop_item;
	int stop_fd;
	atomic_bool stopping;
	struct listener listeners[RPC_MAX_LISTEN];
	uint16_t ports[RPC_MAX_LISTEN];
	unsigned nlisten;
	struct worker *workers;
	unsigned nworkers;
	/* Client connections, for closing or listing them all when the service
	 * moves. Touched at connect and disconnect only, never per call. */
	pthread_mutex_t conn_lock;
	struct conn *conns;
	size_t nconns;
	atomic_uint_fast64_t records_refused;
	atomic_uint_fast64_t conns_refused;
	struct rpc_registration regs[RPC_MAX_REGS];
	unsigned nregs;
};

struct rpc_req {
	struct conn *c;
	struct worker *w;
	uint32_t xid, prog, vers, proc;
	uint32_t cred_flavor, cred_len;
	const uint8_t *cred;
	const uint8_t *args;
	size_t args_len;
};

/* ---- big-endian words ---- */

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A bounds-checked reader over one record. */
struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static uint32_t rd32(struct rd *r)
{
	if (r->end - r->p < 4) {
		r->bad = true;
		return 0;
	}
	uint32_t v = get32(r->p);
	r->p += 4;
	return v;
}

/* An opaque of at most max bytes (XDR-padded); NULL and bad if longer or cut. */
static const uint8_t *rdopaque(struct rd *r, uint32_t max, uint32_t *len)
{
	*len = rd32(r);
	size_t padded = ((size_t)*len + 3) & ~(size_t)3;
	if (r->bad || *len > max || (size_t)(r->end - r->p) < padded) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *body = r->p;
	r->p += padded;
	return body;
}

/* ---- connections ---- */

static void conn_put(struct conn *c)
{
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	close(c->fd);
	pthread_mutex_destroy(&c->wlock);
	free(c->buf);
	free(c);
}

static void conn_unlist(struct rpc_server *s, struct conn *c)
{
	pthread_mutex_lock(&s->conn_lock);
	if (c->listed) {
		if (c->prev)
			c->prev->next = c->next;
		else
			s->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		c->listed = false;
		s->nconns--;
	}
	pthread_mutex_unlock(&s->conn_lock);
}

/* Ends a connection; called by the holder of its read token. */
static void conn_end(struct conn *c)
{
	epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	/* Replies still being built meet a socket that refuses them. */
	shutdown(c->fd, SHUT_RDWR);
	conn_unlist(c->srv, c);
	conn_put(c);
}

/* Gives the read token back. The connection may be handed to another thread,
 * and ended there, before epoll_ctl returns here: a reference held across the
 * call keeps its descriptor open until then. */
static void conn_rearm(struct conn *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	ep_release(&c->ep);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = c};
	if (epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		log_warn("rpc: cannot re-arm a connection: %s", strerror(errno));
	conn_put(c);
}

static bool buf_reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap : CONN_BUF_INITIAL;
	while (n < need)
		n *= 2;
	uint8_t *b = realloc(*buf, n);
	if (!b)
		return false;
	*buf = b;
	*cap = n;
	return true;
}

enum parse { PARSE_MORE, PARSE_TOO_BIG };

/*
 * Joins the fragments received so far. Complete records end up packed at the
 * buffer's start as [length word][body], up to c->off; the record in progress
 * follows. Returns what the next read needs.
 */
static enum parse conn_parse(struct conn *c)
{
	uint32_t max = c->srv->params.max_record;

	while (c->len - c->cur >= 4) {
		uint32_t hdr = get32(c->buf + c->cur);
		uint32_t flen = hdr & 0x7fffffffu;
		bool last = hdr >> 31;
		if ((uint64_t)c->reclen + flen > max || c->nfrag >= MAX_FRAGMENTS) {
			atomic_fetch_add(&c->srv->records_refused, 1);
			return PARSE_TOO_BIG;
		}
		/* An incomplete fragment: the buffer grows as its bytes arrive (by
		 * doubling, in conn_readable), not to what the mark announces, so
		 * announcing large records costs a client's connections nothing. */
		if (c->len - c->cur - 4 < flen)
			return PARSE_MORE;
		c->nfrag++;
		if (c->cur != c->off) {
			/* a later fragment: cut its header out, joining it to the record */
			memmove(c->buf + c->cur, c->buf + c->cur + 4, c->len - c->cur - 4);
			c->len -= 4;
			c->cur += flen;
		} else
			c->cur += 4 + flen;
		c->reclen += flen;
		if (last) {
			put32(c->buf + c->off, (uint32_t)c->reclen);
			c->off = c->cur;
			c->reclen = 0;
			c->nfrag = 0;
		}
	}
	return PARSE_MORE;
}

static void serve_record(struct worker *w, struct conn *c, const uint8_t *rec, size_t len);

/* The connection is readable: read, cut out complete records, re-arm, serve. */
static void conn_readable(struct worker *w, struct conn *c)
{
	for (;;) {
		if (c->cap - c->len < READ_ROOM_MIN &&
		    !buf_reserve(&c->buf, &c->cap, c->len + READ_ROOM_MIN)) {
			log_warn("rpc: out of memory reading a call; closing its connection");
			conn_end(c);
			return;
		}
		size_t room = c->cap - c->len;
		ssize_t n = read(c->fd, c->buf + c->len, room);
		if (n > 0) {
			c->len += (size_t)n;
			if ((size_t)n < room)
				break;
			enum parse p = conn_parse(c);
			if (p != PARSE_MORE) {
				if (p == PARSE_TOO_BIG)
					log_warn(
					    "rpc: a record over %u bytes; closing its connection",
					    c->srv->params.max_record);
				conn_end(c);
				return;
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		conn_end(c); /* end of input, or a reset */
		return;
	}
	enum parse p = conn_parse(c);
	if (p != PARSE_MORE) {
		if (p == PARSE_TOO_BIG)
			log_warn("rpc: a record over %u bytes; closing its connection",
				 c->srv->params.max_record);
		conn_end(c);
		return;
	}
	size_t done = c->off;
	if (done == 0) {
		conn_rearm(c);
		return;
	}
	size_t rest = c->len - done;
	if (done >= SWAP_MIN || !buf_reserve(&w->in, &w->in_cap, done)) {
		/* Large records (WRITE data) are not copied: the connection takes the
		 * worker's buffer and keeps only the partial record that follows. */
		uint8_t *mine = c->buf;
		size_t mine_cap = c->cap;
		c->buf = w->in;
		c->cap = w->in_cap;
		w->in = mine;
		w->in_cap = mine_cap;
		if (rest && !buf_reserve(&c->buf, &c->cap, rest)) {
			conn_end(c);
			return;
		}
		if (rest)
			memcpy(c->buf, w->in + done, rest);
	} else {
		memcpy(w->in, c->buf, done);
		memmove(c->buf, c->buf + done, rest);
	}
	c->len = rest;
	c->cur -= done;
	c->off = 0;
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	conn_rearm(c);
	for (size_t pos = 0; pos + 4 <= done;) {
		uint32_t rlen = get32(w->in + pos);
		serve_record(w, c, w->in + pos + 4, rlen);
		pos += 4 + (size_t)rlen;
	}
	conn_put(c);
}

static void conn_accept(struct rpc_server *s, struct listener *l)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("rpc: accept: %s", strerror(errno));
			break;
		}
		struct conn *c = calloc(1, sizeof(*c));
		pthread_mutex_lock(&s->conn_lock);
		bool room = s->nconns < s->params.max_connections;
		if (c && room) {
			c->listed = true;
			c->next = s->conns;
			if (s->conns)
				s->conns->prev = c;
			s->conns = c;
			s->nconns++;
		}
		pthread_mutex_unlock(&s->conn_lock);
		if (!c || !room) {
			if (atomic_fetch_add(&s->conns_refused, 1) % 1000 == 0)
				log_warn("rpc: refusing a connection: %s",
					 c ? "max_connections reached" : "out of memory");
			free(c);
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->ep.kind = EP_CONN;
		c->fd = fd;
		c->srv = s;
		c->peer = ss;
		atomic_init(&c->refs, 1);
		pthread_mutex_init(&c->wlock, NULL);
		ep_release(&c->ep);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
					 .data.ptr = c};
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_warn("rpc: epoll_ctl: %s", strerror(errno));
			conn_unlist(s, c);
			conn_put(c);
		}
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = l};
	ep_release(&l->ep);
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, l->fd, &ev);
}

/* ---- replies ---- */

/* After a send that failed with errno: wait for room (true), or give the
 * connection up. */
static bool conn_send_wait(struct conn *c)
{
	if (errno == EINTR)
		return true;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
		if (poll(&pfd, 1, SEND_STALL_MS) > 0)
			return true;
		log_warn("rpc: a client took no reply for %d s; dropping its connection",
			 SEND_STALL_MS / 1000);
	}
	shutdown(c->fd, SHUT_RDWR); /* its reader ends the connection */
	return false;
}

/* Writes the whole of iov, waiting while the socket is full (a slow reader); a
 * client that takes nothing for SEND_STALL_MS loses the connection. Under
 * c->wlock; flags: MSG_MORE when more of the record follows. */
static bool conn_send_locked(struct conn *c, struct iovec *iov, int n, int flags)
{
	while (n > 0) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t sent = sendmsg(c->fd, &mh, MSG_NOSIGNAL | flags);
		if (sent < 0) {
			if (conn_send_wait(c))
				continue;
			return false;
		}
		while (n > 0 && (size_t)sent >= iov->iov_len) {
			sent -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + sent;
			iov->iov_len -= (size_t)sent;
		}
	}
	return true;
}

static void conn_send(struct conn *c, struct iovec *iov, int n)
{
	pthread_mutex_lock(&c->wlock);
	conn_send_locked(c, iov, n, 0);
	pthread_mutex_unlock(&c->wlock);
}

/* Record mark + accepted-reply header (verifier AUTH_NONE); 28 bytes. */
static size_t put_accepted(uint8_t *p, uint32_t xid, uint32_t stat)
{
	put32(p + 4, xid);
	put32(p + 8, REPLY);
	put32(p + 12, MSG_ACCEPTED);
	put32(p + 16, 0); /* AUTH_NONE */
	put32(p + 20, 0);
	put32(p + 24, stat);
	return 28;
}

static void send_small(struct rpc_req *r, const uint8_t *p, size_t len)
{
	uint8_t buf[64];
	memcpy(buf, p, len);
	put32(buf, 0x80000000u | (uint32_t)(len - 4));
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	conn_send(r->c, &iov, 1);
}

static void reply_accepted(struct rpc_req *r, uint32_t stat, const uint32_t *extra, unsigned n)
{
	uint8_t b[64];
	size_t len = put_accepted(b, r->xid, stat);
	for (unsigned i = 0; i < n; i++, len += 4)
		put32(b + len, extra[i]);
	send_small(r, b, len);
}

static void reply_denied(struct rpc_req *r, uint32_t why, const uint32_t *extra, unsigned n)
{
	uint8_t b[64];
	put32(b + 4, r->xid);
	put32(b + 8, REPLY);
	put32(b + 12, MSG_DENIED);
	put32(b + 16, why);
	size_t len = 20;
	for (unsigned i = 0; i < n; i++, len += 4)
		put32(b + len, extra[i]);
	send_small(r, b, len);
}

static void reply_auth_error(struct rpc_req *r, uint32_t auth_stat)
{
	reply_denied(r, AUTH_ERROR, &auth_stat, 1);
}

/* ---- the call ---- */

static void serve_record(struct worker *w, struct conn *c, const uint8_t *rec, size_t len)
{
	struct rd rd = {.p = rec, .end = rec + len};
	struct rpc_req r = {.c = c, .w = w};

	r.xid = rd32(&rd);
	uint32_t mtype = rd32(&rd);
	if (rd.bad || mtype != 0)
		return; /* no XID, or a REPLY: nothing to answer */
	uint32_t rpcvers = rd32(&rd);
	r.prog = rd32(&rd);
	r.vers = rd32(&rd);
	r.proc = rd32(&rd);
	if (rd.bad)
		return;
	if (rpcvers != 2) {
		const uint32_t v[2] = {2, 2};
		reply_denied(&r, RPC_MISMATCH, v, 2);
		return;
	}
	r.cred_flavor = rd32(&rd);
	r.cred = rdopaque(&rd, AUTH_BODY_MAX, &r.cred_len);
	if (rd.bad) {
		reply_auth_error(&r, AUTH_BADCRED);
		return;
	}
	uint32_t vlen;
	rd32(&rd); /* the verifier: AUTH_NONE and AUTH_SYS calls carry none we check */
	rdopaque(&rd, AUTH_BODY_MAX, &vlen);
	if (rd.bad) {
		reply_auth_error(&r, AUTH_BADVERF);
		return;
	}
	r.args = rd.p;
	r.args_len = (size_t)(rd.end - rd.p);
	c->srv->params.dispatch(c->srv->params.dispatch_arg, &r);
}

static void worker_pipe_close(struct worker *w)
{
	if (w->pipe[0] >= 0) {
		close(w->pipe[0]);
		close(w->pipe[1]);
	}
	w->pipe[0] = w->pipe[1] = -1;
	w->pipe_cap = 0;
	w->pipe_refused = SIZE_MAX;
	w->pipe_dirty = false;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct rpc_server *s = w->srv;

	while (!atomic_load_explicit(&s->stopping, memory_order_relaxed)) {
		struct epoll_event ev;
		int n = epoll_wait(s->epfd, &ev, 1, -1);
		if (n <= 0)
			continue;
		struct ep_item *it = ev.data.ptr;
		atomic_load_explicit(&it->token, memory_order_acquire);
		switch (it->kind) {
		case EP_CONN:
			conn_readable(w, (struct conn *)it);
			if (w->pipe_dirty)
				worker_pipe_close(w);
			break;
		case EP_LISTENER:
			conn_accept(s, (struct listener *)it);
			break;
		case EP_STOP:
			break;
		}
	}
	return NULL;
}

/* ---- the server ---- */

static int rpc_socket(const char *bind_addr, uint16_t port, uint16_t *bound)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai;
	char service[8];
	snprintf(service, sizeof(service), "%u", port);
	int rc = getaddrinfo(bind_addr, service, &hints, &ai);
	if (rc != 0) {
		log_error("bad bind address '%s': %s", bind_addr, gai_strerror(rc));
		return -EINVAL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* Binding the service address before it is configured on this node is
		 * what lets a standby listen ahead of a takeover (DESIGN.md). */
		setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		rc = -errno;
		log_error("cannot listen on %s port %u: %s", bind_addr, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return rc;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						: ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

int rpc_server_start(const struct rpc_params *p, struct rpc_server **out)
{
	if (p->nlisten == 0 || p->nlisten > RPC_MAX_LISTEN || p->threads == 0)
		return -EINVAL;
	struct rpc_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->params = *p;
	pthread_mutex_init(&s->conn_lock, NULL);
	s->stop_item.kind = EP_STOP;
	s->stop_fd = -1;
	for (unsigned i = 0; i < RPC_MAX_LISTEN; i++)
		s->listeners[i].fd = -1;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->epfd < 0 || s->stop_fd < 0) {
		int rc = -errno;
		rpc_server_stop(s);
		return rc;
	}
	struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &s->stop_item};
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->stop_fd, &sev);
	for (unsigned i = 0; i < p->nlisten; i++) {
		struct listener *l = &s->listeners[i];
		int fd = rpc_socket(p->listen[i].bind, p->listen[i].port, &s->ports[i]);
		if (fd < 0) {
			rpc_server_stop(s);
			return fd;
		}
		l->ep.kind = EP_LISTENER;
		l->fd = fd;
		l->index = i;
		s->nlisten++;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = l};
		epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
	s->workers = calloc(p->threads, sizeof(*s->workers));
	if (!s->workers) {
		rpc_server_stop(s);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < p->threads; i++) {
		s->workers[i].srv = s;
		s->workers[i].pipe[0] = s->workers[i].pipe[1] = -1;
		s->workers[i].pipe_refused = SIZE_MAX;
		int rc = pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]);
		if (rc != 0) {
			rpc_server_stop(s);
			return -rc;
		}
		s->nworkers++;
	}
	*out = s;
	return 0;
}

/* Abortive, and shutdown() only: the connection's reader sees the end of input
 * and ends it; with a zero linger that close() resets the connection. */
static void conn_abort(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	shutdown(fd, SHUT_RD);
}

void rpc_server_close_clients(struct rpc_server *s)
{
	size_t n = 0;
	pthread_mutex_lock(&s->conn_lock);
	/* Abortive (conn_abort): a graceful close would leave an orphan in FIN-WAIT-1 (the service
	 * address, removed just before, gives its FIN no route), and a Linux client
	 * that reconnects from the same port after a giveback would meet that
	 * orphan's old sequence numbers and stall for minutes instead of getting a
	 * reset. */
	for (struct conn *c = s->conns; c; c = c->next, n++)
		conn_abort(c->fd);
	pthread_mutex_unlock(&s->conn_lock);
	log_info("closed %zu client connection%s", n, n == 1 ? "" : "s");
}

size_t rpc_server_list_clients(struct rpc_server *s, rpc_conn_fn cb, void *arg)
{
	size_t n = 0;
	pthread_mutex_lock(&s->conn_lock);
	for (struct conn *c = s->conns; c; c = c->next) {
		struct sockaddr_storage local;
		socklen_t ll = sizeof(local);
		if (getsockname(c->fd, (struct sockaddr *)&local, &ll) < 0)
			continue;
		n++;
		if (!cb(arg, &local, &c->peer))
			break;
	}
	pthread_mutex_unlock(&s->conn_lock);
	return n;
}

uint16_t rpc_server_port(const struct rpc_server *s, unsigned listen_index)
{
	return listen_index < s->nlisten ? s->ports[listen_index] : 0;
}

uint64_t rpc_server_records_refused(const struct rpc_server *s)
{
	return atomic_load(&s->records_refused);
}

/* rpcbind is optional: ask it only when something accepts on 127.0.0.1:111, so a
 * host without one does not wait for RPC timeouts at start-up. */
static bool rpcbind_running(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(111)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool up = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return up;
}

/* libntirpc's client calls (rpcb_set) receive their replies through its event
 * channels, which exist only after svc_init; its server side stays unused. */
static struct svc_req *rpcb_alloc_cb(SVCXPRT *xprt, XDR *xdrs)
{
	/* the replies to its client calls come through here too */
	struct svc_req *r = calloc(1, sizeof(*r));
	if (!r)
		abort(); /* ntirpc calls this without a NULL check */
	SVC_REF(xprt, SVC_REF_FLAG_NONE);
	r->rq_xprt = xprt;
	r->rq_xdrs = xdrs;
	r->rq_refcnt = 1;
	return r;
}

static void rpcb_free_cb(struct svc_req *req, enum xprt_stat stat)
{
	(void)stat;
	SVC_RELEASE(req->rq_xprt, SVC_RELEASE_FLAG_NONE);
	free(req);
}

static bool rpcb_client_init(void)
{
	static bool done;
	svc_init_params sp;

	if (done)
		return true;
	memset(&sp, 0, sizeof(sp));
	sp.alloc_cb = rpcb_alloc_cb;
	sp.free_cb = rpcb_free_cb;
	sp.flags = SVC_INIT_EPOLL | SVC_INIT_NOREG_XPRTS;
	sp.max_events = 16;
	sp.channels = 1;
	sp.ioq_thrd_min = 1;
	sp.ioq_thrd_max = 2;
	done = svc_init(&sp);
	return done;
}

void rpc_server_register(struct rpc_server *s, const struct rpc_registration *regs, unsigned n)
{
	if (!rpcbind_running()) {
		log_info("no rpcbind on 127.0.0.1:111: not registering (clients must name ports)");
		return;
	}
	if (!rpcb_client_init()) {
		log_warn("rpcbind: cannot start libntirpc's client side; not registering");
		return;
	}
	for (unsigned i = 0; i < n && s->nregs < RPC_MAX_REGS; i++) {
		const struct listener *l = &s->listeners[regs[i].listen_index];
		if (regs[i].listen_index >= s->nlisten)
			continue;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) < 0)
			continue;
		struct netconfig *nc = getnetconfigent(ss.ss_family == AF_INET6 ? "tcp6" : "tcp");
		if (!nc) {
			log_warn("rpcbind: no 'tcp' entry in /etc/netconfig; not registering");
			return;
		}
		struct netbuf addr = {.maxlen = sl, .len = sl, .buf = &ss};
		rpcb_unset(regs[i].prog, regs[i].vers, nc);
		if (!rpcb_set(regs[i].prog, regs[i].vers, nc, &addr))
			log_warn("rpcbind: cannot register program %u version %u", regs[i].prog,
				 regs[i].vers);
		else
			s->regs[s->nregs++] = regs[i];
		freenetconfigent(nc);
	}
	log_info("registered %u programs with rpcbind", s->nregs);
}

void rpc_server_stop(struct rpc_server *s)
{
	for (unsigned i = 0; i < s->nregs; i++)
		rpcb_unset(s->regs[i].prog, s->regs[i].vers, NULL);
	atomic_store(&s->stopping, true);
	if (s->stop_fd >= 0) {
		uint64_t one = 1;
		if (write(s->stop_fd, &one, sizeof(one)) < 0)
			log_warn("rpc: cannot wake the workers: %s", strerror(errno));
	}
	for (unsigned i = 0; i < s->nworkers; i++) {
		pthread_join(s->workers[i].thread, NULL);
		free(s->workers[i].in);
		free(s->workers[i].out);
		worker_pipe_close(&s->workers[i]);
	}
	free(s->workers);
	for (unsigned i = 0; i < RPC_MAX_LISTEN; i++)
		if (s->listeners[i].fd >= 0)
			close(s->listeners[i].fd);
	/* No thread serves any more: every connection holds its registration only. */
	while (s->conns) {
		struct conn *c = s->conns;
		conn_unlist(s, c);
		conn_put(c);
	}
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->epfd >= 0)
		close(s->epfd);
	pthread_mutex_destroy(&s->conn_lock);
	free(s);
}

/* ---- rpc_req ---- */

uint32_t rpc_req_xid(const struct rpc_req *r)
{
	return r->xid;
}

uint32_t rpc_req_prog(const struct rpc_req *r)
{
	return r->prog;
}

uint32_t rpc_req_vers(const struct rpc_req *r)
{
	return r->vers;
}

uint32_t rpc_req_proc(const struct rpc_req *r)
{
	return r->proc;
}

const struct sockaddr *rpc_req_remote(const struct rpc_req *r)
{
	return (const struct sockaddr *)&r->c->peer;
}

/* AUTH_SYS (RFC 5531 appendix A): stamp, machine name, uid, gid, gids<16>. */
static bool authsys_decode(const struct rpc_req *r, struct fsal_cred *cred)
{
	struct rd rd = {.p = r->cred, .end = r->cred + r->cred_len};
	uint32_t namelen;

	rd32(&rd);
	rdopaque(&rd, AUTH_SYS_NAME_MAX, &namelen);
	cred->uid = rd32(&rd);
	cred->gid = rd32(&rd);
	uint32_t n = rd32(&rd);
	if (rd.bad || n > AUTH_SYS_GIDS_MAX)
		return false;
	cred->ngroups = n < FSAL_MAX_GROUPS ? n : FSAL_MAX_GROUPS;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t g = rd32(&rd);
		if (i < cred->ngroups)
			cred->groups[i] = g;
	}
	return !rd.bad;
}

bool rpc_req_auth(struct rpc_req *r, enum rpc_flavor *flavor, struct fsal_cred *cred)
{
	switch (r->cred_flavor) {
	case AUTH_NONE:
		*flavor = RPC_AUTH_NONE;
		memset(cred, 0, sizeof(*cred));
		return true;
	case AUTH_SYS:
		*flavor = RPC_AUTH_SYS;
		if (authsys_decode(r, cred))
			return true;
		reply_auth_error(r, AUTH_BADCRED);
		return false;
	default:
		/* RPCSEC_GSS and the rest: not offered (knfsd answers the same). */
		reply_auth_error(r, AUTH_BADCRED);
		return false;
	}
}

bool rpc_req_decode(struct rpc_req *r, xdrproc_t proc, void *args)
{
	XDR xdrs;
	xdrmem_ncreate(&xdrs, (char *)r->args, (u_int)r->args_len, XDR_DECODE);
	bool ok = proc(&xdrs, args);
	XDR_DESTROY(&xdrs);
	return ok;
}

/* Encodes header and results into the worker's buffer; its length, 0 on failure
 * (then SYSTEM_ERR has been sent). */
static size_t reply_encode(struct rpc_req *r, xdrproc_t proc, void *res)
{
	struct worker *w = r->w;

	if (!w->out && !buf_reserve(&w->out, &w->out_cap, REPLY_BUF_INITIAL)) {
		rpc_req_err_system(r);
		return 0;
	}
	for (;;) {
		size_t hdr = put_accepted(w->out, r->xid, SUCCESS);
		XDR xdrs;
		xdrmem_ncreate(&xdrs, (char *)w->out + hdr, (u_int)(w->out_cap - hdr), XDR_ENCODE);
		bool ok = proc(&xdrs, res);
		size_t len = hdr + XDR_GETPOS(&xdrs);
		XDR_DESTROY(&xdrs);
		if (ok)
			return len;
		/* Too small for this reply: grow and encode again. */
		if (w->out_cap >= REPLY_MAX || !buf_reserve(&w->out, &w->out_cap, w->out_cap * 4)) {
			log_warn("rpc: cannot encode a reply to procedure %u of program %u",
				 r->proc, r->prog);
			rpc_req_err_system(r);
			return 0;
		}
	}
}

void rpc_req_reply(struct rpc_req *r, xdrproc_t proc, void *res)
{
	size_t len = reply_encode(r, proc, res);
	if (!len)
		return;
	put32(r->w->out, 0x80000000u | (uint32_t)(len - 4));
	struct iovec iov = {.iov_base = r->w->out, .iov_len = len};
	conn_send(r->c, &iov, 1);
}

void rpc_req_reply_tail(struct rpc_req *r, xdrproc_t proc, void *res, const void *tail,
			size_t tail_len)
{
	static const uint8_t zero[4];
	size_t len = reply_encode(r, proc, res);
	size_t pad = (4 - (tail_len & 3)) & 3;
	if (!len)
		return;
	put32(r->w->out + len - 4, (uint32_t)tail_len); /* the empty opaque's length word */
	put32(r->w->out, 0x80000000u | (uint32_t)(len - 4 + tail_len + pad));
	struct iovec iov[3] = {{.iov_base = r->w->out, .iov_len = len},
			       {.iov_base = (void *)tail, .iov_len = tail_len},
			       {.iov_base = (void *)zero, .iov_len = pad}};
	conn_send(r->c, iov, pad ? 3 : 2);
}

static bool pipe_empty(int fd)
{
	int n = 0;
	return ioctl(fd, FIONREAD, &n) == 0 && n == 0;
}

int rpc_req_pipe(struct rpc_req *r, size_t len)
{
	struct worker *w = r->w;
	if (len < SPLICE_MIN)
		return -1;
	size_t need = len + (size_t)sysconf(_SC_PAGESIZE); /* for an unaligned range */
	if (w->pipe_dirty)
		worker_pipe_close(w);
	if (w->pipe[0] < 0 && pipe2(w->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		w->pipe[0] = w->pipe[1] = -1;
		return -1;
	}
	/* Past /proc/sys/fs/pipe-max-size (1 MiB by default) only with
	 * CAP_SYS_RESOURCE: then len, and an unaligned range of that length comes
	 * out one page short (a short READ; the client asks for the rest). */
	if (w->pipe_cap < need && need < w->pipe_refused) {
		int got = fcntl(w->pipe[1], F_SETPIPE_SZ, (int)need);
		if (got >= 0)
			w->pipe_cap = (size_t)got;
		else
			w->pipe_refused = need;
	}
	if (w->pipe_cap < len) {
		int got = fcntl(w->pipe[1], F_SETPIPE_SZ, (int)len);
		if (got < 0)
			return -1; /* READ copies instead */
		w->pipe_cap = (size_t)got;
	}
	w->pipe_dirty = true;
	return w->pipe[1];
}

void rpc_req_reply_piped(struct rpc_req *r, xdrproc_t proc, void *res, size_t tail_len)
{
	static const uint8_t zero[4];
	struct worker *w = r->w;
	struct conn *c = r->c;
	size_t len = reply_encode(r, proc, res);
	size_t pad = (4 - (tail_len & 3)) & 3;
	if (!len)
		return;
	put32(w->out + len - 4, (uint32_t)tail_len);
	put32(w->out, 0x80000000u | (uint32_t)(len - 4 + tail_len + pad));
	struct iovec head = {.iov_base = w->out, .iov_len = len};
	struct iovec tail = {.iov_base = (void *)zero, .iov_len = pad};
	size_t left = tail_len;
	pthread_mutex_lock(&c->wlock);
	bool ok = conn_send_locked(c, &head, 1, tail_len ? MSG_MORE : 0);
	while (ok && left) {
		unsigned more = pad ? SPLICE_F_MORE : 0;
		ssize_t n = splice(w->pipe[0], NULL, c->fd, NULL, left,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK | more);
		if (n > 0)
			left -= (size_t)n;
		else if (n == 0 || (errno == EAGAIN && pipe_empty(w->pipe[0]))) {
			shutdown(c->fd, SHUT_RDWR); /* it held less than the reply says */
			ok = false;
		} else
			ok = conn_send_wait(c);
	}
	if (ok && pad)
		conn_send_locked(c, &tail, 1, 0);
	pthread_mutex_unlock(&c->wlock);
	if (!left)
		w->pipe_dirty = false;
}

void rpc_req_reply_raw(struct rpc_req *r, const void *bytes, size_t len)
{
	uint8_t hdr[28];
	put_accepted(hdr, r->xid, SUCCESS);
	put32(hdr, 0x80000000u | (uint32_t)(sizeof(hdr) - 4 + len));
	struct iovec iov[2] = {{.iov_base = hdr, .iov_len = sizeof(hdr)},
			       {.iov_base = (void *)bytes, .iov_len = len}};
	conn_send(r->c, iov, 2);
}

void rpc_req_drop(struct rpc_req *r)
{
	(void)r;
}

void rpc_req_drop_reset(struct rpc_req *r)
{
	conn_abort(r->c->fd);
}

uint64_t rpc_req_cksum(const struct rpc_req *r)
{
	/* The first KiB of the arguments and their length: every argument but WRITE
	 * data, whose handle, offset and count come first. */
	static const uint8_t key[16] = "twinfs-rpc-args!";
	size_t n = r->args_len < 1024 ? r->args_len : 1024;
	return siphash24(key, r->args, n) ^ (uint64_t)r->args_len;
}

void rpc_req_err_noprog(struct rpc_req *r)
{
	reply_accepted(r, PROG_UNAVAIL, NULL, 0);
}

void rpc_req_err_progvers(struct rpc_req *r, uint32_t low, uint32_t high)
{
	const uint32_t v[2] = {low, high};
	reply_accepted(r, PROG_MISMATCH, v, 2);
}

void rpc_req_err_noproc(struct rpc_req *r)
{
	reply_accepted(r, PROC_UNAVAIL, NULL, 0);
}

void rpc_req_err_garbage(struct rpc_req *r)
{
	reply_accepted(r, GARBAGE_ARGS, NULL, 0);
}

void rpc_req_err_system(struct rpc_req *r)
{
	reply_accepted(r, SYSTEM_ERR, NULL, 0);
}
