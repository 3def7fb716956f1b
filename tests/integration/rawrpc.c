/*
 * rawrpc.c — hand-built ONC RPC over TCP for the integration tests; see rawrpc.h.
 *
 * Record marking (RFC 5531 §11): each fragment is preceded by a 4-byte big-endian
 * word, the top bit marking the last fragment of a record and the low 31 bits its
 * length. Replies are reassembled into the caller's buffer and refused beyond it,
 * so a misbehaving server cannot make the test allocate or overrun anything.
 */
#include "tests/integration/rawrpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define RR_MACHINE_NAME "twinfs-test"

void rr_buf_init(struct rr_buf *b, void *mem, size_t cap)
{
	b->data = mem;
	b->len = 0;
	b->cap = cap;
	b->overflow = false;
}

void rr_put_raw(struct rr_buf *b, const void *p, size_t n)
{
	if (b->overflow || n > b->cap - b->len) {
		b->overflow = true;
		return;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void rr_put_u32(struct rr_buf *b, uint32_t v)
{
	uint32_t be = htonl(v);

	rr_put_raw(b, &be, sizeof(be));
}

void rr_put_u64(struct rr_buf *b, uint64_t v)
{
	rr_put_u32(b, (uint32_t)(v >> 32));
	rr_put_u32(b, (uint32_t)v);
}

void rr_put_opaque(struct rr_buf *b, const void *p, uint32_t n)
{
	static const uint8_t zeros[4];

	rr_put_u32(b, n);
	rr_put_raw(b, p, n);
	rr_put_raw(b, zeros, (4 - n % 4) % 4);
}

void rr_put_string(struct rr_buf *b, const char *s)
{
	rr_put_opaque(b, s, (uint32_t)strlen(s));
}

void rr_put_fh(struct rr_buf *b, const struct rr_fh *fh)
{
	rr_put_opaque(b, fh->data, fh->len);
}

/* RFC 5531 §9 call_body, with an AUTH_SYS credential (§A: authsys_parms) for root
 * and an AUTH_NONE verifier. */
void rr_put_call(struct rr_buf *b, uint32_t xid, uint32_t prog, uint32_t vers, uint32_t proc)
{
	uint8_t credmem[128];
	struct rr_buf cred;

	rr_buf_init(&cred, credmem, sizeof(credmem));
	rr_put_u32(&cred, 0); /* stamp */
	rr_put_string(&cred, RR_MACHINE_NAME);
	rr_put_u32(&cred, 0); /* uid */
	rr_put_u32(&cred, 0); /* gid */
	rr_put_u32(&cred, 0); /* no supplementary groups */

	rr_put_u32(b, xid);
	rr_put_u32(b, RR_MSG_CALL);
	rr_put_u32(b, 2); /* rpcvers */
	rr_put_u32(b, prog);
	rr_put_u32(b, vers);
	rr_put_u32(b, proc);
	rr_put_u32(b, RR_AUTH_SYS);
	rr_put_opaque(b, cred.data, (uint32_t)cred.len);
	rr_put_u32(b, RR_AUTH_NONE);
	rr_put_u32(b, 0);
}

void rr_cursor_init(struct rr_cursor *c, const void *data, size_t len)
{
	c->data = data;
	c->len = len;
	c->pos = 0;
	c->error = false;
}

uint32_t rr_get_u32(struct rr_cursor *c)
{
	uint32_t be;

	if (c->error || c->len - c->pos < 4) {
		c->error = true;
		return 0;
	}
	memcpy(&be, c->data + c->pos, 4);
	c->pos += 4;
	return ntohl(be);
}

uint64_t rr_get_u64(struct rr_cursor *c)
{
	uint64_t hi = rr_get_u32(c);

	return (hi << 32) | rr_get_u32(c);
}

void rr_skip(struct rr_cursor *c, size_t n)
{
	size_t padded = n + (4 - n % 4) % 4;

	if (c->error || padded < n || c->len - c->pos < padded) {
		c->error = true;
		return;
	}
	c->pos += padded;
}

int rr_get_opaque(struct rr_cursor *c, void *out, uint32_t max, uint32_t *n)
{
	uint32_t len = rr_get_u32(c);

	if (c->error || len > max || c->len - c->pos < len) {
		c->error = true;
		return -EBADMSG;
	}
	memcpy(out, c->data + c->pos, len);
	rr_skip(c, len);
	*n = len;
	return c->error ? -EBADMSG : 0;
}

int rr_set_timeout(int fd, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

int rr_open(struct rr_conn *c, uint16_t port)
{
	return rr_open_addr(c, "127.0.0.1", port);
}

int rr_open_addr(struct rr_conn *c, const char *ipv4, uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1;
	int fd, err;

	c->fd = -1;
	if (inet_pton(AF_INET, ipv4, &sin.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The send timeout also bounds connect(2) on Linux. */
	err = rr_set_timeout(fd, RR_TIMEOUT_MS);
	if (!err && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		err = -errno;
	if (!err && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	c->fd = fd;
	if (c->xid == 0)
		c->xid = ((uint32_t)getpid() << 16) ^ 0x5a5a0001u;
	return 0;
}

void rr_close(struct rr_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int rr_send_all(int fd, const void *p, size_t n)
{
	const uint8_t *q = p;

	while (n > 0) {
		ssize_t k = send(fd, q, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		q += k;
		n -= (size_t)k;
	}
	return 0;
}

int rr_send_record(int fd, const void *p, size_t n)
{
	uint32_t mark = htonl(RR_LAST_FRAG | (uint32_t)n);
	int err;

	if (n > 0x7fffffffu)
		return -EMSGSIZE;
	err = rr_send_all(fd, &mark, sizeof(mark));
	return err ? err : rr_send_all(fd, p, n);
}

/* Exactly n bytes, or the reason why not. */
static int recv_exact(int fd, void *p, size_t n)
{
	uint8_t *q = p;

	while (n > 0) {
		ssize_t k = recv(fd, q, n, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -ETIMEDOUT;
		if (k < 0 && errno == EPIPE)
			return -ECONNRESET;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ECONNRESET;
		q += k;
		n -= (size_t)k;
	}
	return 0;
}

int rr_recv_record(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	size_t have = 0;
	uint32_t mark;
	int err;

	for (;;) {
		size_t frag;

		err = recv_exact(fd, &mark, sizeof(mark));
		if (err)
			return err;
		mark = ntohl(mark);
		frag = mark & ~RR_LAST_FRAG;
		if (frag > cap - have)
			return -EMSGSIZE;
		err = recv_exact(fd, buf + have, frag);
		if (err)
			return err;
		have += frag;
		if (mark & RR_LAST_FRAG)
			break;
	}
	*len = have;
	return 0;
}

/* After reply_stat: the accepted_reply or rejected_reply arms (RFC 5531 §9). */
static void parse_reply_arms(struct rr_cursor *c, struct rr_reply *r)
{
	if (r->reply_stat == RR_MSG_ACCEPTED) {
		rr_get_u32(c);		   /* verifier flavor */
		rr_skip(c, rr_get_u32(c)); /* verifier body */
		r->stat = rr_get_u32(c);
		if (r->stat == RR_PROG_MISMATCH) {
			r->low = rr_get_u32(c);
			r->high = rr_get_u32(c);
		}
		return;
	}
	r->stat = rr_get_u32(c);
	if (r->stat == RR_RPC_MISMATCH) {
		r->low = rr_get_u32(c);
		r->high = rr_get_u32(c);
	} else if (r->stat == RR_AUTH_ERROR) {
		r->auth_stat = rr_get_u32(c);
	} else {
		c->error = true;
	}
}

int rr_parse_reply(const uint8_t *rec, size_t len, struct rr_reply *r)
{
	struct rr_cursor c;

	memset(r, 0, sizeof(*r));
	rr_cursor_init(&c, rec, len);
	r->xid = rr_get_u32(&c);
	if (rr_get_u32(&c) != RR_MSG_REPLY)
		return -EBADMSG;
	r->reply_stat = rr_get_u32(&c);
	if (r->reply_stat != RR_MSG_ACCEPTED && r->reply_stat != RR_MSG_DENIED)
		return -EBADMSG;
	parse_reply_arms(&c, r);
	if (c.error)
		return -EBADMSG;
	rr_cursor_init(&r->body, rec + c.pos, len - c.pos);
	return 0;
}

int rr_call(struct rr_conn *c, uint32_t prog, uint32_t vers, uint32_t proc, const void *args,
	    size_t alen, uint8_t *buf, size_t cap, struct rr_reply *r)
{
	uint8_t hdrmem[256];
	struct rr_buf hdr;
	uint32_t xid = c->xid++;
	uint32_t mark;
	size_t len;
	int err;

	rr_buf_init(&hdr, hdrmem, sizeof(hdrmem));
	rr_put_call(&hdr, xid, prog, vers, proc);
	if (hdr.overflow || alen > 0x7fffffffu - hdr.len)
		return -EMSGSIZE;
	mark = htonl(RR_LAST_FRAG | (uint32_t)(hdr.len + alen));
	err = rr_send_all(c->fd, &mark, sizeof(mark));
	if (!err)
		err = rr_send_all(c->fd, hdr.data, hdr.len);
	if (!err)
		err = rr_send_all(c->fd, args, alen);
	if (err)
		return err;
	/* A server answers calls in any order; we only ever have one outstanding. */
	err = rr_recv_record(c->fd, buf, cap, &len);
	if (err)
		return err;
	if (rr_parse_reply(buf, len, r))
		return -EBADMSG;
	return r->xid == xid ? 0 : -EBADMSG;
}

/* rr_call, then: accepted with SUCCESS, or -EPROTO. */
static int call_ok(struct rr_conn *c, uint32_t prog, uint32_t vers, uint32_t proc,
		   const struct rr_buf *args, uint8_t *buf, size_t cap, struct rr_reply *r)
{
	int err;

	if (args->overflow)
		return -EMSGSIZE;
	err = rr_call(c, prog, vers, proc, args->data, args->len, buf, cap, r);
	if (err)
		return err;
	if (r->reply_stat != RR_MSG_ACCEPTED || r->stat != RR_SUCCESS)
		return -EPROTO;
	return 0;
}

int rr_null(struct rr_conn *c, uint32_t prog, uint32_t vers)
{
	uint8_t buf[512];
	struct rr_buf args;
	struct rr_reply r;

	rr_buf_init(&args, NULL, 0);
	return call_ok(c, prog, vers, 0, &args, buf, sizeof(buf), &r);
}

/* MOUNTPROC3_MNT (RFC 1813 §5.2.1): mountres3 = fhs_status, then fhandle3 and the
 * auth flavors when it is MNT3_OK. */
int rr_mnt(struct rr_conn *c, const char *path, struct rr_fh *fh)
{
	uint8_t argmem[2048], buf[4096];
	struct rr_buf args;
	struct rr_reply r;
	uint32_t status;
	int err;

	rr_buf_init(&args, argmem, sizeof(argmem));
	rr_put_string(&args, path);
	err = call_ok(c, RR_MOUNT_PROG, RR_MOUNT_VERS, 1, &args, buf, sizeof(buf), &r);
	if (err)
		return err;
	status = rr_get_u32(&r.body);
	if (r.body.error)
		return -EBADMSG;
	if (status != 0)
		return (int)status;
	if (rr_get_opaque(&r.body, fh->data, RR_FHSIZE3, &fh->len))
		return -EBADMSG;
	return 0;
}

/* fattr3 (RFC 1813 §2.5), 84 bytes. */
static void get_fattr(struct rr_cursor *c, struct rr_fattr *a)
{
	struct rr_fattr tmp;

	if (!a)
		a = &tmp;
	a->type = rr_get_u32(c);
	a->mode = rr_get_u32(c);
	rr_get_u32(c); /* nlink */
	a->uid = rr_get_u32(c);
	a->gid = rr_get_u32(c);
	a->size = rr_get_u64(c);
	rr_get_u64(c); /* used */
	rr_get_u64(c); /* rdev */
	rr_get_u64(c); /* fsid */
	a->fileid = rr_get_u64(c);
	rr_skip(c, 3 * 8); /* atime, mtime, ctime */
}

/* post_op_attr: a bool, then fattr3 if true. */
static void skip_post_op_attr(struct rr_cursor *c)
{
	if (rr_get_u32(c))
		get_fattr(c, NULL);
}

int rr_getattr(struct rr_conn *c, const struct rr_fh *fh, struct rr_fattr *a)
{
	uint8_t argmem[128], buf[1024];
	struct rr_buf args;
	struct rr_reply r;
	uint32_t status;
	int err;

	rr_buf_init(&args, argmem, sizeof(argmem));
	rr_put_fh(&args, fh);
	err = call_ok(c, RR_NFS_PROG, RR_NFS_VERS, 1, &args, buf, sizeof(buf), &r);
	if (err)
		return err;
	status = rr_get_u32(&r.body);
	if (status == RR_NFS3_OK)
		get_fattr(&r.body, a);
	return r.body.error ? -EBADMSG : (int)status;
}

int rr_lookup(struct rr_conn *c, const struct rr_fh *dir, const char *name, struct rr_fh *out)
{
	uint8_t argmem[2048], buf[1024];
	struct rr_buf args;
	struct rr_reply r;
	uint32_t status;
	int err;

	rr_buf_init(&args, argmem, sizeof(argmem));
	rr_put_fh(&args, dir);
	rr_put_string(&args, name);
	err = call_ok(c, RR_NFS_PROG, RR_NFS_VERS, 3, &args, buf, sizeof(buf), &r);
	if (err)
		return err;
	status = rr_get_u32(&r.body);
	if (status == RR_NFS3_OK && rr_get_opaque(&r.body, out->data, RR_FHSIZE3, &out->len))
		return -EBADMSG;
	return r.body.error ? -EBADMSG : (int)status;
}

int rr_read(struct rr_conn *c, const struct rr_fh *fh, uint64_t offset, uint32_t count,
	    uint8_t *out, uint32_t *n, bool *eof)
{
	static const uint32_t max = 64 * 1024;
	uint8_t argmem[128], buf[96 * 1024];
	struct rr_buf args;
	struct rr_reply r;
	uint32_t status;
	int err;

	if (count > max)
		count = max;
	rr_buf_init(&args, argmem, sizeof(argmem));
	rr_put_fh(&args, fh);
	rr_put_u64(&args, offset);
	rr_put_u32(&args, count);
	err = call_ok(c, RR_NFS_PROG, RR_NFS_VERS, 6, &args, buf, sizeof(buf), &r);
	if (err)
		return err;
	status = rr_get_u32(&r.body);
	skip_post_op_attr(&r.body);
	if (status != RR_NFS3_OK)
		return r.body.error ? -EBADMSG : (int)status;
	rr_get_u32(&r.body); /* count; the opaque's own length is what counts */
	*eof = rr_get_u32(&r.body) != 0;
	if (rr_get_opaque(&r.body, out, count, n))
		return -EBADMSG;
	return 0;
}

void rr_fh_to_hex(const struct rr_fh *fh, char *out)
{
	for (uint32_t i = 0; i < fh->len && i < RR_FHSIZE3; i++)
		snprintf(out + 2 * i, 3, "%02x", fh->data[i]);
	out[2 * (fh->len < RR_FHSIZE3 ? fh->len : RR_FHSIZE3)] = '\0';
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int rr_fh_from_hex(const char *hex, struct rr_fh *fh)
{
	size_t n = strlen(hex);

	if (n % 2 || n / 2 > RR_FHSIZE3)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		fh->data[i] = (uint8_t)(hi << 4 | lo);
	}
	fh->len = (uint32_t)(n / 2);
	return 0;
}

const char *rr_accept_name(uint32_t stat)
{
	static const char *const names[] = {
	    [RR_SUCCESS] = "SUCCESS",
	    [RR_PROG_UNAVAIL] = "PROG_UNAVAIL",
	    [RR_PROG_MISMATCH] = "PROG_MISMATCH",
	    [RR_PROC_UNAVAIL] = "PROC_UNAVAIL",
	    [RR_GARBAGE_ARGS] = "GARBAGE_ARGS",
	    [RR_SYSTEM_ERR] = "SYSTEM_ERR",
	};

	return stat < sizeof(names) / sizeof(names[0]) ? names[stat] : "?";
}

int rr_fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return -1;
}
