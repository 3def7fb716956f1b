/*
 * test_badinput.c — hostile and malformed input against a running twinfsd.
 *
 * Each case talks to the daemon over a fresh TCP connection with hand-built ONC
 * RPC (rawrpc.h: no RPC library, so nothing tidies up what we send): garbage, a
 * record that never ends, fragment lengths of 2 GiB, clients that stall, wrong
 * program/version/procedure numbers, undecodable arguments, forged file handles,
 * broken AUTH_SYS credentials, a REPLY sent to the server. RFC 5531 says what a
 * server must answer where it can answer; where it cannot (no well-formed call),
 * it may drop the message or the connection, and we accept either — but the
 * server must never crash, hang, or grow without bound.
 *
 * After every case a fresh connection must get a NULL reply from NFS and MOUNT and
 * a GETATTR of the export root must return NFS3_OK: that is what "survived" means.
 * run_with_server.sh additionally fails the test if the daemon is not alive at the
 * end.
 *
 * Environment: TWINFS_PORT, TWINFS_MOUNT_PORT, TWINFS_DIR (MOUNT path
 * $TWINFS_DIR/rw unless TWINFS_MNT_PATH is set, e.g. /export for NFS-Ganesha),
 * TWINFS_PID (optional: the server's memory is watched through /proc).
 *
 * Output: one "ok - name" / "not ok - name: why" line per case, then
 * "N passed, N failed". Exit 1 if any case failed. Bounded: every socket has a 5 s
 * timeout and an alarm ends the whole run after 60 s.
 */
#include "tests/integration/rawrpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TOTAL_LIMIT_S	60
#define QUIET_WAIT_MS	1000 /* how long a dropped message must stay unanswered */
#define CLOSE_WAIT_MS	5000 /* how long the server may take to drop a connection */
#define FLOOD_BYTES	(24u << 20)
#define FLOOD_FRAG	(64u << 10)
#define RSS_LIMIT_KB	(200u * 1024)
#define MAX_HELD	4
#define REPLY_BUF	(64u << 10)
#define MAX_AUTH_BYTES	400 /* RFC 5531 §8.2: opaque_auth body limit */
#define NFSPROC3_LOOKUP 3

struct ctx {
	uint16_t port;
	uint16_t mport;
	const char *mnt_path;
	long pid; /* 0: not known, no memory checks */
	struct rr_fh root;
	uint32_t xid;
	uint64_t rng;
	int held[MAX_HELD]; /* connections kept open while the other cases run */
	int nheld;
	unsigned long max_rss_kb;
};

struct test_case {
	const char *name;
	int (*run)(struct ctx *t, char *why, size_t n);
};

/* What came back for a message that may legitimately go unanswered. */
enum outcome {
	OUT_REPLY,     /* a well-formed RPC reply */
	OUT_CLOSED,    /* the server closed the connection */
	OUT_SILENT,    /* nothing within the wait */
	OUT_MALFORMED, /* bytes that are not a well-formed reply record */
	OUT_ERROR,     /* we could not connect or send */
};

static const char *outcome_name[] = {
    [OUT_REPLY] = "reply",	 [OUT_CLOSED] = "connection closed",
    [OUT_SILENT] = "no reply",	 [OUT_MALFORMED] = "malformed reply",
    [OUT_ERROR] = "send failed",
};

static void on_alarm(int sig)
{
	static const char msg[] = "not ok - whole run: still going after 60 s, stopped\n";

	(void)sig;
	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

/* xorshift64: reproducible "random" bytes (fixed seed, so a failure repeats). */
static uint32_t next_rand(struct ctx *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return (uint32_t)(t->rng >> 11);
}

static unsigned long rss_kb(long pid)
{
	char path[64], line[256];
	unsigned long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void note_rss(struct ctx *t)
{
	unsigned long kb;

	if (t->pid <= 0)
		return;
	kb = rss_kb(t->pid);
	if (kb > t->max_rss_kb)
		t->max_rss_kb = kb;
}

static void put_mark(struct rr_buf *b, bool last, uint32_t len)
{
	rr_put_u32(b, (last ? RR_LAST_FRAG : 0) | len);
}

/* The start of a call with any RPC version; the caller adds credential and
 * verifier. */
static void put_call_custom(struct rr_buf *b, uint32_t xid, uint32_t rpcvers, uint32_t prog,
			    uint32_t vers, uint32_t proc)
{
	rr_put_u32(b, xid);
	rr_put_u32(b, RR_MSG_CALL);
	rr_put_u32(b, rpcvers);
	rr_put_u32(b, prog);
	rr_put_u32(b, vers);
	rr_put_u32(b, proc);
}

static void put_verf_none(struct rr_buf *b)
{
	rr_put_u32(b, RR_AUTH_NONE);
	rr_put_u32(b, 0);
}

/* Sends the bytes as they are (marks included) on a fresh connection and sees
 * what comes back within wait_ms. */
static enum outcome exchange(uint16_t port, const struct rr_buf *msg, int wait_ms,
			     struct rr_reply *r, uint8_t *buf)
{
	struct rr_conn c = {.xid = 1};
	enum outcome out;
	size_t len;
	int err;

	if (msg->overflow || rr_open(&c, port))
		return OUT_ERROR;
	err = rr_send_all(c.fd, msg->data, msg->len);
	if (err == -ECONNRESET || err == -EPIPE) {
		rr_close(&c);
		return OUT_CLOSED;
	}
	if (err) {
		rr_close(&c);
		return OUT_ERROR;
	}
	rr_set_timeout(c.fd, wait_ms);
	err = rr_recv_record(c.fd, buf, REPLY_BUF, &len);
	if (err == -ETIMEDOUT)
		out = OUT_SILENT;
	else if (err == -ECONNRESET)
		out = OUT_CLOSED;
	else if (err || rr_parse_reply(buf, len, r))
		out = OUT_MALFORMED;
	else
		out = OUT_REPLY;
	rr_close(&c);
	return out;
}

/* A complete call record: mark, header, AUTH_SYS root, then `args`. */
static void frame_call(struct rr_buf *msg, uint32_t xid, uint32_t prog, uint32_t vers,
		       uint32_t proc, const void *args, size_t alen)
{
	uint8_t hdrmem[256];
	struct rr_buf hdr;

	rr_buf_init(&hdr, hdrmem, sizeof(hdrmem));
	rr_put_call(&hdr, xid, prog, vers, proc);
	put_mark(msg, true, (uint32_t)(hdr.len + alen));
	rr_put_raw(msg, hdr.data, hdr.len);
	rr_put_raw(msg, args, alen);
}

/* Reads until the peer closes or wait_ms pass without a byte. 1 closed, 0 open. */
static int wait_closed(int fd, int wait_ms)
{
	uint8_t scratch[4096];

	rr_set_timeout(fd, wait_ms);
	for (;;) {
		ssize_t k = recv(fd, scratch, sizeof(scratch), 0);

		if (k == 0 || (k < 0 && (errno == ECONNRESET || errno == EPIPE)))
			return 1;
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return 0;
	}
}

/* Only a drop, a closed connection or a well-formed reply is acceptable. */
static int accept_any_wellformed(enum outcome out, char *why, size_t n)
{
	if (out == OUT_MALFORMED || out == OUT_ERROR)
		return rr_fail(why, n, "%s", outcome_name[out]);
	return 0;
}

/* ---- framing ------------------------------------------------------------------ */

static int case_garbage_record(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[64], buf[REPLY_BUF];
	struct rr_buf msg;
	struct rr_reply r;

	rr_buf_init(&msg, mem, sizeof(mem));
	put_mark(&msg, true, 16);
	for (int i = 0; i < 4; i++)
		rr_put_u32(&msg, 0xdeadbeef ^ next_rand(t));
	return accept_any_wellformed(exchange(t->port, &msg, QUIET_WAIT_MS, &r, buf), why, n);
}

/* Text where a record mark belongs: "GET " reads as a 1.2 GB fragment. */
static int case_http_request(struct ctx *t, char *why, size_t n)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	struct rr_conn c = {.xid = 1};
	int ret = 0, err;

	if (rr_open(&c, t->port))
		return rr_fail(why, n, "connect failed");
	err = rr_send_all(c.fd, req, sizeof(req) - 1);
	if (err && err != -ECONNRESET && err != -EPIPE)
		ret = rr_fail(why, n, "send failed: %s", strerror(-err));
	else if (!err && !wait_closed(c.fd, CLOSE_WAIT_MS))
		ret = rr_fail(why, n, "connection still open %d ms after a 1.2 GB fragment header",
			      CLOSE_WAIT_MS);
	rr_close(&c);
	return ret;
}

static int case_truncated_record(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[64];
	struct rr_buf msg;
	struct rr_conn c = {.xid = 1};

	rr_buf_init(&msg, mem, sizeof(mem));
	put_mark(&msg, true, 100);
	for (int i = 0; i < 5; i++)
		rr_put_u32(&msg, next_rand(t));
	if (rr_open(&c, t->port))
		return rr_fail(why, n, "connect failed");
	rr_send_all(c.fd, msg.data, msg.len);
	rr_close(&c); /* 80 bytes short: the server must forget the partial record */
	return 0;
}

static int huge_fragment(struct ctx *t, uint32_t mark, char *why, size_t n)
{
	uint8_t mem[32];
	struct rr_buf msg;
	struct rr_conn c = {.xid = 1};
	int ret = 0;

	rr_buf_init(&msg, mem, sizeof(mem));
	rr_put_u32(&msg, mark);
	rr_put_u32(&msg, t->xid++);
	rr_put_u32(&msg, RR_MSG_CALL);
	rr_put_u32(&msg, 2);
	if (rr_open(&c, t->port))
		return rr_fail(why, n, "connect failed");
	if (rr_send_all(c.fd, msg.data, msg.len) == 0 && !wait_closed(c.fd, CLOSE_WAIT_MS))
		ret = rr_fail(why, n, "connection still open %d ms after fragment length 0x%08x",
			      CLOSE_WAIT_MS, mark);
	rr_close(&c);
	return ret;
}

static int case_fragment_7fffffff(struct ctx *t, char *why, size_t n)
{
	return huge_fragment(t, 0x7fffffffu, why, n);
}

static int case_fragment_ffffffff(struct ctx *t, char *why, size_t n)
{
	return huge_fragment(t, 0xffffffffu, why, n);
}

static int case_idle_client(struct ctx *t, char *why, size_t n)
{
	struct rr_conn c = {.xid = 1};

	if (rr_open(&c, t->port))
		return rr_fail(why, n, "connect failed");
	t->held[t->nheld++] = c.fd; /* says nothing, stays open until the end */
	return 0;
}

static int case_half_record(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[128];
	struct rr_buf msg;
	struct rr_conn c = {.xid = 1};

	rr_buf_init(&msg, mem, sizeof(mem));
	put_mark(&msg, true, 100);
	put_call_custom(&msg, t->xid++, 2, RR_NFS_PROG, RR_NFS_VERS, 0);
	put_verf_none(&msg);
	put_verf_none(&msg); /* 40 of the 100 bytes announced, then nothing */
	if (rr_open(&c, t->port))
		return rr_fail(why, n, "connect failed");
	if (rr_send_all(c.fd, msg.data, msg.len)) {
		rr_close(&c);
		return rr_fail(why, n, "send failed");
	}
	t->held[t->nheld++] = c.fd;
	return 0;
}

/* Non-final fragments that never end: the server must stop at its record limit
 * (about 1 MiB) and drop the connection, not buffer 24 MiB. */
static int case_endless_fragments(struct ctx *t, char *why, size_t n)
{
	static uint8_t frag[FLOOD_FRAG + 4];
	struct rr_conn c = {.xid = 1};
	uint32_t mark = htonl(FLOOD_FRAG);
	size_t sent = 0;
	int closed = 0, err = 0;

	memcpy(frag, &mark, 4);
	if (rr_open(&c, t->port))
		return rr_fail(why, n, "connect failed");
	while (sent < FLOOD_BYTES && !err) {
		err = rr_send_all(c.fd, frag, sizeof(frag));
		sent += FLOOD_FRAG;
		if (sent % (1u << 20) == 0)
			note_rss(t);
	}
	if (err == -ECONNRESET || err == -EPIPE)
		closed = 1;
	else if (err)
		closed = -1;
	else
		closed = wait_closed(c.fd, CLOSE_WAIT_MS);
	note_rss(t);
	rr_close(&c);
	if (closed < 0)
		return rr_fail(why, n,
			       "server stopped reading after %zu MiB but kept the connection",
			       sent >> 20);
	if (!closed)
		return rr_fail(why, n, "connection still open after %u MiB of fragments",
			       FLOOD_BYTES >> 20);
	if (t->max_rss_kb > RSS_LIMIT_KB)
		return rr_fail(why, n, "server RSS reached %lu kB", t->max_rss_kb);
	return 0;
}

static int case_empty_record(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[8], buf[REPLY_BUF];
	struct rr_buf msg;
	struct rr_reply r;

	rr_buf_init(&msg, mem, sizeof(mem));
	put_mark(&msg, true, 0);
	return accept_any_wellformed(exchange(t->port, &msg, QUIET_WAIT_MS, &r, buf), why, n);
}

static int case_short_header(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[16], buf[REPLY_BUF];
	struct rr_buf msg;
	struct rr_reply r;

	rr_buf_init(&msg, mem, sizeof(mem));
	put_mark(&msg, true, 8);
	rr_put_u32(&msg, t->xid++);
	rr_put_u32(&msg, RR_MSG_CALL);
	return accept_any_wellformed(exchange(t->port, &msg, QUIET_WAIT_MS, &r, buf), why, n);
}

/* ---- well-formed framing the server must handle -------------------------------- */

/* A NULL call cut into fragments of the given sizes (the rest goes in the last). */
static int null_in_fragments(struct ctx *t, const uint32_t *sizes, int count, char *why, size_t n)
{
	uint8_t hdrmem[256], mem[512], buf[REPLY_BUF];
	struct rr_buf hdr, msg;
	struct rr_reply r;
	uint32_t xid = t->xid++;
	enum outcome out;
	size_t pos = 0;

	rr_buf_init(&hdr, hdrmem, sizeof(hdrmem));
	rr_put_call(&hdr, xid, RR_NFS_PROG, RR_NFS_VERS, 0);
	rr_buf_init(&msg, mem, sizeof(mem));
	for (int i = 0; i < count; i++) {
		put_mark(&msg, false, sizes[i]);
		rr_put_raw(&msg, hdr.data + pos, sizes[i]);
		pos += sizes[i];
	}
	put_mark(&msg, true, (uint32_t)(hdr.len - pos));
	rr_put_raw(&msg, hdr.data + pos, hdr.len - pos);
	out = exchange(t->port, &msg, CLOSE_WAIT_MS, &r, buf);
	if (out != OUT_REPLY)
		return rr_fail(why, n, "%s", outcome_name[out]);
	if (r.xid != xid || r.reply_stat != RR_MSG_ACCEPTED || r.stat != RR_SUCCESS)
		return rr_fail(why, n, "reply_stat %u stat %u", r.reply_stat, r.stat);
	return 0;
}

/* What real clients send when a call is larger than their fragment size. */
static int case_fragments_aligned(struct ctx *t, char *why, size_t n)
{
	static const uint32_t sizes[] = {4, 8};

	return null_in_fragments(t, sizes, 2, why, n);
}

/* RFC 5531 §11: a fragment holds 0 to 2^31-1 bytes; nothing says a multiple of 4,
 * so a record may be split inside an XDR word and may contain empty fragments. */
static int case_fragments_unaligned(struct ctx *t, char *why, size_t n)
{
	static const uint32_t sizes[] = {5, 0, 7};
	int rc = null_in_fragments(t, sizes, 3, why, n);

	/* libntirpc 4.3 cannot decode an XDR unit split across fragments, nor an
	 * empty fragment, and drops the connection. The issue allows "answer or
	 * drop"; what must hold is that nothing else breaks (checked after every
	 * case). Known limit, gone with the lean transport (bench issue). */
	if (rc && strstr(why, outcome_name[OUT_CLOSED])) {
		printf("# %s: connection dropped (libntirpc limit), accepted\n", why);
		return 0;
	}
	return rc;
}

static int case_byte_at_a_time(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[512], buf[REPLY_BUF];
	struct rr_buf msg;
	struct rr_conn c = {.xid = 1};
	struct rr_reply r;
	uint32_t xid = t->xid++;
	size_t len;
	int err = 0;

	rr_buf_init(&msg, mem, sizeof(mem));
	frame_call(&msg, xid, RR_NFS_PROG, RR_NFS_VERS, 0, NULL, 0);
	if (rr_open(&c, t->port))
		return rr_fail(why, n, "connect failed");
	for (size_t i = 0; i < msg.len && !err; i++)
		err = rr_send_all(c.fd, msg.data + i, 1);
	if (!err)
		err = rr_recv_record(c.fd, buf, sizeof(buf), &len);
	rr_close(&c);
	if (err)
		return rr_fail(why, n, "NULL sent a byte at a time: %s", strerror(-err));
	if (rr_parse_reply(buf, len, &r) || r.xid != xid || r.stat != RR_SUCCESS)
		return rr_fail(why, n, "NULL sent a byte at a time: bad reply");
	return 0;
}

/* Three GETATTRs in one segment: three replies, matched by XID in any order. */
static int case_pipelined_calls(struct ctx *t, char *why, size_t n)
{
	uint8_t argmem[128], mem[1024], buf[REPLY_BUF];
	struct rr_buf args, msg;
	struct rr_conn c = {.xid = 1};
	struct rr_reply r;
	uint32_t base = t->xid;
	unsigned seen = 0;
	size_t len;
	int err;

	rr_buf_init(&args, argmem, sizeof(argmem));
	rr_put_fh(&args, &t->root);
	rr_buf_init(&msg, mem, sizeof(mem));
	for (int i = 0; i < 3; i++)
		frame_call(&msg, t->xid++, RR_NFS_PROG, RR_NFS_VERS, 1, args.data, args.len);
	if (rr_open(&c, t->port))
		return rr_fail(why, n, "connect failed");
	err = rr_send_all(c.fd, msg.data, msg.len);
	for (int i = 0; i < 3 && !err; i++) {
		err = rr_recv_record(c.fd, buf, sizeof(buf), &len);
		if (!err && !rr_parse_reply(buf, len, &r) && r.xid - base < 3 &&
		    r.stat == RR_SUCCESS && rr_get_u32(&r.body) == RR_NFS3_OK)
			seen |= 1u << (r.xid - base);
	}
	rr_close(&c);
	if (err)
		return rr_fail(why, n, "%s after %d replies", strerror(-err),
			       __builtin_popcount(seen));
	return seen == 7 ? 0 : rr_fail(why, n, "replies seen: mask 0x%x of 0x7", seen);
}

/* ---- program, version, procedure (RFC 5531 §9 accept_stat) --------------------- */

static int expect_accept(struct ctx *t, uint16_t port, uint32_t prog, uint32_t vers, uint32_t proc,
			 uint32_t want, struct rr_reply *r, char *why, size_t n)
{
	uint8_t mem[512], buf[REPLY_BUF];
	struct rr_buf msg;
	uint32_t xid = t->xid++;
	enum outcome out;

	rr_buf_init(&msg, mem, sizeof(mem));
	frame_call(&msg, xid, prog, vers, proc, NULL, 0);
	out = exchange(port, &msg, CLOSE_WAIT_MS, r, buf);
	if (out != OUT_REPLY)
		return rr_fail(why, n, "expected %s, got %s", rr_accept_name(want),
			       outcome_name[out]);
	if (r->xid != xid)
		return rr_fail(why, n, "reply XID 0x%x, call XID 0x%x", r->xid, xid);
	if (r->reply_stat != RR_MSG_ACCEPTED)
		return rr_fail(why, n, "expected %s, got MSG_DENIED (reject_stat %u)",
			       rr_accept_name(want), r->stat);
	if (r->stat != want)
		return rr_fail(why, n, "expected %s, got %s", rr_accept_name(want),
			       rr_accept_name(r->stat));
	return 0;
}

static int case_unknown_program(struct ctx *t, char *why, size_t n)
{
	struct rr_reply r;

	return expect_accept(t, t->port, 0x20000099u, 1, 0, RR_PROG_UNAVAIL, &r, why, n);
}

static int version_mismatch(struct ctx *t, uint16_t port, uint32_t prog, uint32_t vers, char *why,
			    size_t n)
{
	struct rr_reply r;

	if (expect_accept(t, port, prog, vers, 0, RR_PROG_MISMATCH, &r, why, n))
		return -1;
	if (r.low > 3 || r.high < 3)
		return rr_fail(why, n, "PROG_MISMATCH range %u..%u does not contain 3", r.low,
			       r.high);
	if (vers >= r.low && vers <= r.high)
		return rr_fail(why, n, "PROG_MISMATCH range %u..%u contains the refused version %u",
			       r.low, r.high, vers);
	snprintf(why, n, "supported %u..%u", r.low, r.high);
	return 0;
}

static int case_nfs_v2(struct ctx *t, char *why, size_t n)
{
	return version_mismatch(t, t->port, RR_NFS_PROG, 2, why, n);
}

static int case_nfs_v7(struct ctx *t, char *why, size_t n)
{
	return version_mismatch(t, t->port, RR_NFS_PROG, 7, why, n);
}

static int case_mount_v7(struct ctx *t, char *why, size_t n)
{
	return version_mismatch(t, t->mport, RR_MOUNT_PROG, 7, why, n);
}

static int case_nfs_proc_99(struct ctx *t, char *why, size_t n)
{
	struct rr_reply r;

	return expect_accept(t, t->port, RR_NFS_PROG, RR_NFS_VERS, 99, RR_PROC_UNAVAIL, &r, why, n);
}

static int case_mount_proc_99(struct ctx *t, char *why, size_t n)
{
	struct rr_reply r;

	return expect_accept(t, t->mport, RR_MOUNT_PROG, RR_MOUNT_VERS, 99, RR_PROC_UNAVAIL, &r,
			     why, n);
}

/* ---- arguments and file handles (RFC 1813) ------------------------------------- */

/* GETATTR with raw argument bytes. Returns the outcome; *status is the nfsstat3
 * when the call was accepted with SUCCESS, else ~0. */
static enum outcome getattr_raw(struct ctx *t, const struct rr_buf *args, struct rr_reply *r,
				uint32_t *status)
{
	static uint8_t mem[16384];
	uint8_t buf[REPLY_BUF];
	struct rr_buf msg;
	enum outcome out;

	rr_buf_init(&msg, mem, sizeof(mem));
	frame_call(&msg, t->xid++, RR_NFS_PROG, RR_NFS_VERS, 1, args->data, args->len);
	*status = ~0u;
	out = exchange(t->port, &msg, CLOSE_WAIT_MS, r, buf);
	if (out == OUT_REPLY && r->reply_stat == RR_MSG_ACCEPTED && r->stat == RR_SUCCESS) {
		*status = rr_get_u32(&r->body);
		if (r->body.error)
			return OUT_MALFORMED;
	}
	return out;
}

/* An undecodable argument: GARBAGE_ARGS, or NFS3ERR_BADHANDLE, or a dropped
 * connection. Anything else (and silence) is wrong. */
static int expect_garbage(struct ctx *t, const struct rr_buf *args, bool badhandle_ok, char *why,
			  size_t n)
{
	struct rr_reply r;
	uint32_t status;
	enum outcome out = getattr_raw(t, args, &r, &status);

	if (out == OUT_CLOSED)
		return 0;
	if (out != OUT_REPLY)
		return rr_fail(why, n, "%s", outcome_name[out]);
	if (r.reply_stat == RR_MSG_ACCEPTED && r.stat == RR_GARBAGE_ARGS)
		return 0;
	if (badhandle_ok && status == RR_NFS3ERR_BADHANDLE)
		return 0;
	if (r.reply_stat != RR_MSG_ACCEPTED)
		return rr_fail(why, n, "MSG_DENIED (reject_stat %u)", r.stat);
	if (r.stat != RR_SUCCESS)
		return rr_fail(why, n, "accept_stat %s", rr_accept_name(r.stat));
	return rr_fail(why, n, "nfsstat3 %u", status);
}

static int case_fh_len_10000(struct ctx *t, char *why, size_t n)
{
	static uint8_t mem[10016];
	struct rr_buf args;

	rr_buf_init(&args, mem, sizeof(mem));
	rr_put_u32(&args, 10000);
	for (int i = 0; i < 2500; i++)
		rr_put_u32(&args, next_rand(t));
	return expect_garbage(t, &args, true, why, n);
}

static int case_fh_len_10000_short(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[16];
	struct rr_buf args;

	rr_buf_init(&args, mem, sizeof(mem));
	rr_put_u32(&args, 10000);
	rr_put_u32(&args, 0x01020304); /* then the record ends */
	return expect_garbage(t, &args, true, why, n);
}

static int case_getattr_no_args(struct ctx *t, char *why, size_t n)
{
	struct rr_buf args;

	rr_buf_init(&args, NULL, 0);
	return expect_garbage(t, &args, false, why, n);
}

/* A handle that decodes but names nothing: BADHANDLE or STALE (RFC 1813 §2.6). */
static int expect_bad_fh(struct ctx *t, const struct rr_fh *fh, char *why, size_t n)
{
	uint8_t mem[128];
	struct rr_buf args;
	struct rr_reply r;
	uint32_t status;
	enum outcome out;

	rr_buf_init(&args, mem, sizeof(mem));
	rr_put_fh(&args, fh);
	out = getattr_raw(t, &args, &r, &status);
	if (out != OUT_REPLY)
		return rr_fail(why, n, "%s", outcome_name[out]);
	if (r.reply_stat != RR_MSG_ACCEPTED || r.stat != RR_SUCCESS)
		return rr_fail(why, n, "call not accepted (reply_stat %u, stat %u)", r.reply_stat,
			       r.stat);
	if (status == RR_NFS3ERR_BADHANDLE || status == RR_NFS3ERR_STALE)
		return 0;
	return rr_fail(why, n, "GETATTR returned nfsstat3 %u, expected 10001 or 70", status);
}

static int case_fh_inverted(struct ctx *t, char *why, size_t n)
{
	struct rr_fh fh = t->root;

	for (uint32_t i = 0; i < fh.len; i++)
		fh.data[i] ^= 0xff;
	return expect_bad_fh(t, &fh, why, n);
}

static int case_fh_truncated(struct ctx *t, char *why, size_t n)
{
	struct rr_fh fh = t->root;

	fh.len = fh.len > 4 ? fh.len - 4 : 0;
	return expect_bad_fh(t, &fh, why, n);
}

/* A valid handle with 4 more bytes: it must not name the same object (two
 * handles for one file confuse every client cache). */
static int case_fh_extended(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[128];
	struct rr_buf args;
	struct rr_fh fh = t->root;

	if (fh.len + 4 <= RR_FHSIZE3) {
		memset(fh.data + fh.len, 0, 4);
		fh.len += 4;
		return expect_bad_fh(t, &fh, why, n);
	}
	/* Already at the limit: 68 bytes is beyond NFS3_FHSIZE, so undecodable. */
	rr_buf_init(&args, mem, sizeof(mem));
	rr_put_u32(&args, fh.len + 4);
	rr_put_raw(&args, fh.data, fh.len);
	rr_put_u32(&args, 0);
	return expect_garbage(t, &args, true, why, n);
}

static int case_fh_random64(struct ctx *t, char *why, size_t n)
{
	struct rr_fh fh = {.len = RR_FHSIZE3};

	for (uint32_t i = 0; i < fh.len; i++)
		fh.data[i] = (uint8_t)next_rand(t);
	return expect_bad_fh(t, &fh, why, n);
}

static int case_fh_empty(struct ctx *t, char *why, size_t n)
{
	struct rr_fh fh = {.len = 0};

	return expect_bad_fh(t, &fh, why, n);
}

static int case_lookup_name_300(struct ctx *t, char *why, size_t n)
{
	struct rr_conn c = {.xid = t->xid};
	struct rr_fh out;
	char name[301];
	int st;

	memset(name, 'a', 300);
	name[300] = '\0';
	if (rr_open(&c, t->port))
		return rr_fail(why, n, "connect failed");
	st = rr_lookup(&c, &t->root, name, &out);
	t->xid = c.xid;
	rr_close(&c);
	if (st == RR_NFS3ERR_NAMETOOLONG)
		return 0;
	if (st < 0)
		return rr_fail(why, n, "LOOKUP failed: %s", strerror(-st));
	return rr_fail(why, n, "LOOKUP returned nfsstat3 %d, expected 63 (NAMETOOLONG)", st);
}

/* ---- RPC header and credentials (RFC 5531 §9, §A) ------------------------------ */

static int case_rpc_version_3(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[128], buf[REPLY_BUF];
	struct rr_buf msg;
	struct rr_reply r;
	uint32_t xid = t->xid++;
	enum outcome out;

	rr_buf_init(&msg, mem, sizeof(mem));
	put_mark(&msg, true, 40);
	put_call_custom(&msg, xid, 3, RR_NFS_PROG, RR_NFS_VERS, 0);
	put_verf_none(&msg); /* AUTH_NONE credential */
	put_verf_none(&msg);
	out = exchange(t->port, &msg, CLOSE_WAIT_MS, &r, buf);
	/* libntirpc drops the connection on an RPC version other than 2 instead of
	 * answering RPC_MISMATCH; "answer or drop" is what the issue asks. */
	if (out == OUT_CLOSED)
		return 0;
	if (out != OUT_REPLY)
		return rr_fail(why, n, "expected RPC_MISMATCH, got %s", outcome_name[out]);
	if (r.xid != xid || r.reply_stat != RR_MSG_DENIED || r.stat != RR_RPC_MISMATCH)
		return rr_fail(why, n,
			       "expected MSG_DENIED/RPC_MISMATCH, got reply_stat %u stat %u",
			       r.reply_stat, r.stat);
	if (r.low > 2 || r.high < 2)
		return rr_fail(why, n, "RPC_MISMATCH range %u..%u does not contain 2", r.low,
			       r.high);
	return 0;
}

static int case_reply_to_server(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[128], buf[REPLY_BUF];
	struct rr_buf msg;
	struct rr_reply r;
	enum outcome out;

	rr_buf_init(&msg, mem, sizeof(mem));
	put_mark(&msg, true, 24);
	rr_put_u32(&msg, t->xid++);
	rr_put_u32(&msg, RR_MSG_REPLY);
	rr_put_u32(&msg, RR_MSG_ACCEPTED);
	put_verf_none(&msg);
	rr_put_u32(&msg, RR_SUCCESS);
	out = exchange(t->port, &msg, QUIET_WAIT_MS, &r, buf);
	if (out == OUT_SILENT || out == OUT_CLOSED)
		return 0;
	return rr_fail(why, n, "a REPLY must be dropped, got %s", outcome_name[out]);
}

/* A NULL call whose credential is exactly `cred` (flavor, length word and body as
 * built by the caller). Expected: MSG_DENIED/AUTH_ERROR (RFC 5531 §9), or, when
 * drop_ok, a dropped message or connection (the credential may be undecodable). */
static int expect_auth_error(struct ctx *t, const struct rr_buf *cred, bool drop_ok, char *why,
			     size_t n)
{
	static uint8_t mem[2048];
	uint8_t buf[REPLY_BUF];
	struct rr_buf body, msg;
	struct rr_reply r;
	uint32_t xid = t->xid++;
	enum outcome out;

	rr_buf_init(&body, mem + 1024, 1024);
	put_call_custom(&body, xid, 2, RR_NFS_PROG, RR_NFS_VERS, 0);
	rr_put_raw(&body, cred->data, cred->len);
	put_verf_none(&body);
	rr_buf_init(&msg, mem, 1024);
	put_mark(&msg, true, (uint32_t)body.len);
	rr_put_raw(&msg, body.data, body.len);
	if (body.overflow || msg.overflow)
		return rr_fail(why, n, "test message too large");
	out = exchange(t->port, &msg, QUIET_WAIT_MS, &r, buf);
	if (drop_ok && (out == OUT_SILENT || out == OUT_CLOSED))
		return 0;
	if (out != OUT_REPLY)
		return rr_fail(why, n, "expected AUTH_ERROR, got %s", outcome_name[out]);
	if (r.xid != xid || r.reply_stat != RR_MSG_DENIED || r.stat != RR_AUTH_ERROR)
		return rr_fail(why, n, "expected MSG_DENIED/AUTH_ERROR, got reply_stat %u stat %u",
			       r.reply_stat, r.stat);
	snprintf(why, n, "auth_stat %u", r.auth_stat);
	return 0;
}

/* AUTH_SYS body with a machine name of `namelen` bytes (sent as `claimed`). */
static void put_authsys(struct rr_buf *cred, uint32_t claimed, uint32_t namelen, uint32_t ngids)
{
	static const uint8_t name[512];
	uint8_t mem[1024];
	struct rr_buf body;

	rr_buf_init(&body, mem, sizeof(mem));
	rr_put_u32(&body, 0); /* stamp */
	rr_put_u32(&body, claimed);
	rr_put_raw(&body, name, namelen);
	rr_put_raw(&body, name, (4 - namelen % 4) % 4);
	rr_put_u32(&body, 0); /* uid */
	rr_put_u32(&body, 0); /* gid */
	rr_put_u32(&body, ngids);
	for (uint32_t i = 0; i < ngids; i++)
		rr_put_u32(&body, 100 + i);
	rr_put_u32(cred, RR_AUTH_SYS);
	rr_put_opaque(cred, body.data, (uint32_t)body.len);
}

static int case_authsys_huge_name_len(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[512];
	struct rr_buf cred;

	rr_buf_init(&cred, mem, sizeof(mem));
	put_authsys(&cred, 0x7fffffffu, 8, 0);
	return expect_auth_error(t, &cred, true, why, n);
}

static int case_authsys_name_256(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[512];
	struct rr_buf cred;

	rr_buf_init(&cred, mem, sizeof(mem));
	put_authsys(&cred, 256, 256, 0); /* machinename<255> */
	return expect_auth_error(t, &cred, true, why, n);
}

static int case_authsys_17_gids(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[512];
	struct rr_buf cred;

	rr_buf_init(&cred, mem, sizeof(mem));
	put_authsys(&cred, 4, 4, 17); /* gids<16> */
	return expect_auth_error(t, &cred, true, why, n);
}

static int case_cred_len_2g(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[64];
	struct rr_buf cred;

	rr_buf_init(&cred, mem, sizeof(mem));
	rr_put_u32(&cred, RR_AUTH_SYS);
	rr_put_u32(&cred, 0x7fffffffu); /* opaque_auth body<400> */
	rr_put_u32(&cred, 0);
	rr_put_u32(&cred, 0);
	return expect_auth_error(t, &cred, true, why, n);
}

static int case_cred_over_400(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[1024], body[MAX_AUTH_BYTES + 4] = {0};
	struct rr_buf cred;

	rr_buf_init(&cred, mem, sizeof(mem));
	rr_put_u32(&cred, RR_AUTH_SYS);
	rr_put_opaque(&cred, body, sizeof(body));
	return expect_auth_error(t, &cred, true, why, n);
}

static int case_unknown_flavor(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[64];
	struct rr_buf cred;

	rr_buf_init(&cred, mem, sizeof(mem));
	rr_put_u32(&cred, 99);
	rr_put_opaque(&cred, "x", 1);
	return expect_auth_error(t, &cred, false, why, n);
}

static const struct test_case cases[] = {
    {"garbage record", case_garbage_record},
    {"HTTP request instead of RPC", case_http_request},
    {"truncated record, then close", case_truncated_record},
    {"fragment length 0x7fffffff", case_fragment_7fffffff},
    {"fragment length 0xffffffff", case_fragment_ffffffff},
    {"idle client (held open)", case_idle_client},
    {"half a record (held open)", case_half_record},
    {"24 MiB of non-final fragments", case_endless_fragments},
    {"empty record", case_empty_record},
    {"record shorter than an RPC header", case_short_header},
    {"NULL in 3 fragments (4, 8, rest)", case_fragments_aligned},
    {"NULL in 4 fragments (5, 0, 7, rest)", case_fragments_unaligned},
    {"NULL sent a byte at a time", case_byte_at_a_time},
    {"3 pipelined GETATTRs", case_pipelined_calls},
    {"unknown program -> PROG_UNAVAIL", case_unknown_program},
    {"NFS version 2 -> PROG_MISMATCH", case_nfs_v2},
    {"NFS version 7 -> PROG_MISMATCH", case_nfs_v7},
    {"MOUNT version 7 -> PROG_MISMATCH", case_mount_v7},
    {"NFS procedure 99 -> PROC_UNAVAIL", case_nfs_proc_99},
    {"MOUNT procedure 99 -> PROC_UNAVAIL", case_mount_proc_99},
    {"GETATTR fh length 10000", case_fh_len_10000},
    {"GETATTR fh length 10000, 4 bytes sent", case_fh_len_10000_short},
    {"GETATTR without arguments", case_getattr_no_args},
    {"forged handle (all bytes inverted)", case_fh_inverted},
    {"truncated handle (4 bytes short)", case_fh_truncated},
    {"extended handle (4 bytes more)", case_fh_extended},
    {"random 64-byte handle", case_fh_random64},
    {"empty handle", case_fh_empty},
    {"LOOKUP 300-char name -> NAMETOOLONG", case_lookup_name_300},
    {"rpcvers 3 -> RPC_MISMATCH", case_rpc_version_3},
    {"REPLY sent to the server", case_reply_to_server},
    {"AUTH_SYS machine name length 2^31-1", case_authsys_huge_name_len},
    {"AUTH_SYS machine name of 256 bytes", case_authsys_name_256},
    {"AUTH_SYS with 17 groups", case_authsys_17_gids},
    {"credential length 2^31-1", case_cred_len_2g},
    {"credential body of 404 bytes", case_cred_over_400},
    {"unknown auth flavor -> AUTH_ERROR", case_unknown_flavor},
};

/* NULL to NFS and MOUNT, and GETATTR of the root, on fresh connections. */
static int healthy(struct ctx *t, char *why, size_t n)
{
	struct rr_conn c = {.xid = t->xid};
	struct rr_fattr a;
	int err;

	err = rr_open(&c, t->port);
	if (!err)
		err = rr_null(&c, RR_NFS_PROG, RR_NFS_VERS);
	if (err) {
		rr_close(&c);
		return rr_fail(why, n, "afterwards NFS NULL failed: %s", strerror(-err));
	}
	err = rr_getattr(&c, &t->root, &a);
	rr_close(&c);
	if (err)
		return rr_fail(why, n, "afterwards GETATTR of the root: %s",
			       err < 0 ? strerror(-err) : "not NFS3_OK");
	err = rr_open(&c, t->mport);
	if (!err)
		err = rr_null(&c, RR_MOUNT_PROG, RR_MOUNT_VERS);
	t->xid = c.xid;
	rr_close(&c);
	if (err)
		return rr_fail(why, n, "afterwards MOUNT NULL failed: %s", strerror(-err));
	return 0;
}

static int mount_root(struct ctx *t)
{
	struct rr_conn c = {.xid = t->xid};
	int st = rr_open(&c, t->mport);

	if (st == 0)
		st = rr_mnt(&c, t->mnt_path, &t->root);
	t->xid = c.xid;
	rr_close(&c);
	if (st != 0)
		printf("not ok - MNT %s on port %u: %s %d\n", t->mnt_path, t->mport,
		       st < 0 ? strerror(-st) : "mountstat3", st);
	return st;
}

static int env_port(const char *name, uint16_t *out)
{
	const char *v = getenv(name);
	char *end;
	long p;

	if (!v)
		return -1;
	p = strtol(v, &end, 10);
	if (*end || p <= 0 || p > 65535)
		return -1;
	*out = (uint16_t)p;
	return 0;
}

static int setup(struct ctx *t, char *pathbuf, size_t n)
{
	const char *dir = getenv("TWINFS_DIR"), *mnt = getenv("TWINFS_MNT_PATH");
	const char *pid = getenv("TWINFS_PID");

	if (env_port("TWINFS_PORT", &t->port) || env_port("TWINFS_MOUNT_PORT", &t->mport)) {
		fprintf(stderr, "test_badinput: set TWINFS_PORT and TWINFS_MOUNT_PORT\n");
		return -1;
	}
	if (!mnt && !dir) {
		fprintf(stderr, "test_badinput: set TWINFS_DIR or TWINFS_MNT_PATH\n");
		return -1;
	}
	if (!mnt) {
		snprintf(pathbuf, n, "%s/rw", dir);
		mnt = pathbuf;
	}
	t->mnt_path = mnt;
	t->pid = pid ? atol(pid) : 0;
	t->rng = 0x9e3779b97f4a7c15ull;
	t->xid = 0x7e570000u ^ ((uint32_t)getpid() << 8);
	return 0;
}

static void run_all(struct ctx *t, int *passed, int *failed)
{
	char why[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		if (cases[i].run(t, why, sizeof(why)) == 0 && healthy(t, why, sizeof(why)) == 0) {
			printf("ok - %s%s%s\n", cases[i].name, why[0] ? " # " : "", why);
			(*passed)++;
		} else {
			printf("not ok - %s: %s\n", cases[i].name, why);
			(*failed)++;
		}
		fflush(stdout);
	}
}

int main(void)
{
	struct ctx t = {0};
	char pathbuf[4096];
	int passed = 0, failed = 0;

	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm(TOTAL_LIMIT_S);
	if (setup(&t, pathbuf, sizeof(pathbuf)))
		return 2;
	note_rss(&t);
	if (mount_root(&t) != 0) {
		printf("0 passed, 1 failed\n");
		return 1;
	}
	run_all(&t, &passed, &failed);
	/* The held connections were open the whole time; the server must not care. */
	for (int i = 0; i < t.nheld; i++)
		close(t.held[i]);
	if (t.pid > 0)
		printf("# server VmRSS max %lu kB\n", t.max_rss_kb);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
