/*
 * test_nfs4_badinput.c — hostile COMPOUNDs against a running twinfsd (NFSv4).
 *
 * Hand-built ONC RPC (rawrpc.h), so nothing tidies up what is sent: a COMPOUND
 * announcing 10^6 operations, one just over the limit, a 64 KiB tag, an unknown
 * operation, 4.1 operations outside a session, a minor version nobody knows, a
 * truncated argument list, the largest and a too large attribute bitmap. Each gets
 * the nfsstat4 RFC 7530/8881 and docs/nfs4.md name, or GARBAGE_ARGS where the
 * arguments do not decode, and after each a fresh connection must still get NULL
 * and PUTROOTFH+GETFH answered. run_with_server.sh fails the test if the daemon
 * died or does not stop cleanly.
 *
 * Environment: TWINFS_PORT. Output: "ok - name" / "not ok - name: why" per case,
 * then "N passed, N failed".
 */
#include "tests/integration/rawrpc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NFS4_VERS     4
#define PROC_COMPOUND 1
#define OP_GETATTR    9
#define OP_GETFH      10
#define OP_PUTROOTFH  24
#define OP_SEQUENCE   53
#define OP_ILLEGAL    10044
#define MAX_OPS	      128 /* server/nfs4/nfs4_int.h NFS4_MAX_OPS */
#define BUF	      (256u << 10)

enum {
	NFS4_OK = 0,
	NFS4ERR_RESOURCE = 10018,
	NFS4ERR_MINOR_VERS_MISMATCH = 10021,
	NFS4ERR_OP_ILLEGAL = 10044,
	NFS4ERR_TOO_MANY_OPS = 10070,
	NFS4ERR_OP_NOT_IN_SESSION = 10071,
};

static uint16_t port;
static uint8_t args[BUF], reply[BUF];

struct compound_reply {
	uint32_t status, taglen, nres;
	uint32_t resop[4], opstatus[4];
};

/* Header: tag of taglen bytes, minor version, nops announced. */
static void header(struct rr_buf *b, uint32_t taglen, uint32_t minor, uint32_t nops)
{
	static uint8_t tag[70000];
	memset(tag, 't', sizeof(tag));
	rr_buf_init(b, args, sizeof(args));
	rr_put_opaque(b, tag, taglen);
	rr_put_u32(b, minor);
	rr_put_u32(b, nops);
}

/* Sends a COMPOUND; 0 and *accept set when a reply came, else -errno. The
 * results are parsed as far as PUTROOTFH, GETFH and ILLEGAL go. */
static int compound(const struct rr_buf *b, uint32_t *accept, struct compound_reply *cr)
{
	struct rr_conn c;
	struct rr_reply r;
	int rc = rr_open(&c, port);
	if (rc < 0)
		return rc;
	rc = rr_call(&c, RR_NFS_PROG, NFS4_VERS, PROC_COMPOUND, b->data, b->len, reply,
		     sizeof(reply), &r);
	rr_close(&c);
	if (rc < 0)
		return rc;
	*accept = r.reply_stat == RR_MSG_ACCEPTED ? r.stat : 1000 + r.stat;
	if (*accept != RR_SUCCESS)
		return 0;
	memset(cr, 0, sizeof(*cr));
	cr->status = rr_get_u32(&r.body);
	cr->taglen = rr_get_u32(&r.body);
	rr_skip(&r.body, cr->taglen);
	cr->nres = rr_get_u32(&r.body);
	for (uint32_t i = 0; i < cr->nres && i < 4; i++) {
		cr->resop[i] = rr_get_u32(&r.body);
		cr->opstatus[i] = rr_get_u32(&r.body);
		if (cr->resop[i] == OP_GETFH && cr->opstatus[i] == NFS4_OK)
			rr_skip(&r.body, rr_get_u32(&r.body));
		else if (cr->resop[i] != OP_PUTROOTFH && cr->resop[i] != OP_ILLEGAL)
			break;
	}
	return r.body.error ? -EBADMSG : 0;
}

/* The server still serves: NULL, and PUTROOTFH + GETFH in 4.0. */
static int healthy(char *why, size_t n)
{
	struct rr_conn c;
	struct rr_buf b;
	struct compound_reply cr;
	uint32_t acc;
	if (rr_open(&c, port) < 0 || rr_null(&c, RR_NFS_PROG, NFS4_VERS) != 0) {
		rr_close(&c);
		return rr_fail(why, n, "NULL unanswered afterwards");
	}
	rr_close(&c);
	header(&b, 0, 0, 2);
	rr_put_u32(&b, OP_PUTROOTFH);
	rr_put_u32(&b, OP_GETFH);
	if (compound(&b, &acc, &cr) < 0 || acc || cr.status || cr.nres != 2)
		return rr_fail(why, n, "PUTROOTFH+GETFH failed afterwards");
	return 0;
}

/* Expect an accepted call with this COMPOUND status and number of results. */
static int expect(const struct rr_buf *b, uint32_t status, uint32_t nres, char *why, size_t n,
		  struct compound_reply *cr)
{
	uint32_t acc;
	int rc = compound(b, &acc, cr);
	if (rc < 0)
		return rr_fail(why, n, "no reply (%d)", rc);
	if (acc)
		return rr_fail(why, n, "not accepted: %u", acc);
	if (cr->status != status || cr->nres != nres)
		return rr_fail(why, n, "status %u with %u results, expected %u with %u", cr->status,
			       cr->nres, status, nres);
	return healthy(why, n);
}

static int case_plain(char *why, size_t n)
{
	struct rr_buf b;
	struct compound_reply cr;
	header(&b, 5, 0, 2);
	rr_put_u32(&b, OP_PUTROOTFH);
	rr_put_u32(&b, OP_GETFH);
	if (expect(&b, NFS4_OK, 2, why, n, &cr))
		return -1;
	return cr.taglen == 5 ? 0 : rr_fail(why, n, "tag not echoed (%u bytes)", cr.taglen);
}

static int many_ops(uint32_t minor, uint32_t announced, uint32_t sent, uint32_t status, char *why,
		    size_t n)
{
	struct rr_buf b;
	struct compound_reply cr;
	header(&b, 0, minor, announced);
	for (uint32_t i = 0; i < sent; i++)
		rr_put_u32(&b, OP_PUTROOTFH);
	return expect(&b, status, 0, why, n, &cr);
}

static int case_million_ops_40(char *why, size_t n)
{
	return many_ops(0, 1000000, 1000, NFS4ERR_RESOURCE, why, n);
}

static int case_limit_plus_one_41(char *why, size_t n)
{
	return many_ops(1, MAX_OPS + 1, MAX_OPS + 1, NFS4ERR_TOO_MANY_OPS, why, n);
}

static int case_limit_40(char *why, size_t n)
{
	struct rr_buf b;
	struct compound_reply cr;
	header(&b, 0, 0, MAX_OPS);
	for (uint32_t i = 0; i < MAX_OPS; i++)
		rr_put_u32(&b, OP_PUTROOTFH);
	return expect(&b, NFS4_OK, MAX_OPS, why, n, &cr);
}

static int case_huge_tag(char *why, size_t n)
{
	struct rr_buf b;
	struct compound_reply cr;
	header(&b, 65536, 0, 1);
	rr_put_u32(&b, OP_PUTROOTFH);
	if (expect(&b, NFS4ERR_RESOURCE, 0, why, n, &cr))
		return -1;
	return cr.taglen == 0 ? 0 : rr_fail(why, n, "a %u-byte tag came back", cr.taglen);
}

static int case_unknown_op(char *why, size_t n)
{
	struct rr_buf b;
	struct compound_reply cr;
	header(&b, 0, 0, 3);
	rr_put_u32(&b, OP_PUTROOTFH);
	rr_put_u32(&b, 9999);
	rr_put_u32(&b, OP_GETFH);
	if (expect(&b, NFS4ERR_OP_ILLEGAL, 2, why, n, &cr))
		return -1;
	return cr.resop[1] == OP_ILLEGAL ? 0 : rr_fail(why, n, "result op %u", cr.resop[1]);
}

static int case_out_of_session(char *why, size_t n)
{
	struct rr_buf b;
	struct compound_reply cr;
	header(&b, 0, 1, 2);
	rr_put_u32(&b, OP_PUTROOTFH);
	rr_put_u32(&b, OP_GETFH);
	return expect(&b, NFS4ERR_OP_NOT_IN_SESSION, 1, why, n, &cr);
}

static int case_minor(char *why, size_t n)
{
	struct rr_buf b;
	struct compound_reply cr;
	header(&b, 0, 7, 1);
	rr_put_u32(&b, OP_PUTROOTFH);
	return expect(&b, NFS4ERR_MINOR_VERS_MISMATCH, 0, why, n, &cr);
}

static int expect_garbage(const struct rr_buf *b, char *why, size_t n)
{
	struct compound_reply cr;
	uint32_t acc;
	int rc = compound(b, &acc, &cr);
	if (rc < 0)
		return rr_fail(why, n, "no reply (%d)", rc);
	if (acc != RR_GARBAGE_ARGS)
		return rr_fail(why, n, "accept_stat %u, expected GARBAGE_ARGS", acc);
	return healthy(why, n);
}

static int case_truncated(char *why, size_t n)
{
	struct rr_buf b;
	header(&b, 0, 0, 3);
	rr_put_u32(&b, OP_PUTROOTFH);
	return expect_garbage(&b, why, n);
}

static int bitmap_getattr(uint32_t words, struct rr_buf *b)
{
	header(b, 0, 0, 2);
	rr_put_u32(b, OP_PUTROOTFH);
	rr_put_u32(b, OP_GETATTR);
	rr_put_u32(b, words);
	for (uint32_t i = 0; i < words; i++)
		rr_put_u32(b, i ? 0 : 0x2); /* type, and nothing we know of further on */
	return 0;
}

static int case_bitmaps(char *why, size_t n)
{
	struct rr_buf b;
	struct compound_reply cr;
	bitmap_getattr(64, &b);
	if (expect(&b, NFS4_OK, 2, why, n, &cr))
		return -1;
	bitmap_getattr(100000, &b);
	return expect_garbage(&b, why, n);
}

static const struct {
	const char *name;
	int (*run)(char *why, size_t n);
} cases[] = {
    {"plain COMPOUND, tag echoed", case_plain},
    {"10^6 operations announced (4.0): RESOURCE", case_million_ops_40},
    {"limit + 1 operations (4.1): TOO_MANY_OPS", case_limit_plus_one_41},
    {"exactly the limit (4.0): OK", case_limit_40},
    {"64 KiB tag: RESOURCE, no tag back", case_huge_tag},
    {"unknown operation: OP_ILLEGAL", case_unknown_op},
    {"4.1 without SEQUENCE: OP_NOT_IN_SESSION", case_out_of_session},
    {"minor version 7: MINOR_VERS_MISMATCH", case_minor},
    {"fewer operations than announced: GARBAGE_ARGS", case_truncated},
    {"64-word bitmap OK, 100000 words GARBAGE_ARGS", case_bitmaps},
};

int main(void)
{
	const char *p = getenv("TWINFS_PORT");
	int passed = 0, failed = 0;
	char why[256];

	signal(SIGPIPE, SIG_IGN);
	alarm(60);
	if (!p)
		return 2;
	port = (uint16_t)atoi(p);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = 0;
		if (cases[i].run(why, sizeof(why)) == 0) {
			printf("ok - %s\n", cases[i].name);
			passed++;
		} else {
			printf("not ok - %s: %s\n", cases[i].name, why);
			failed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
