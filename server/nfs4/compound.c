/*
 * compound.c — NFSv4 COMPOUND (RFC 7530 §15.2, RFC 8881 §16.2): the bounded
 * decoder, the operation table and the loop.
 *
 * Decoding: rpcgen's COMPOUND4args would take any number of operations and any
 * tag, so this file decodes the header itself: a tag up to NFS4_MAX_TAG (a longer
 * one is skipped, not stored), at most NFS4_MAX_OPS operations (the rest of the
 * record is not even read), and each operation's arguments by its own rpcgen
 * routine from the table. An operation number nobody knows ends the decoding
 * there: that operation answers NFS4ERR_OP_ILLEGAL and the COMPOUND stops
 * (RFC 7530 §15.2.4). Limits that fail are answered, never dropped:
 * NFS4ERR_RESOURCE (4.0) or NFS4ERR_TOO_MANY_OPS (4.1) for too many operations,
 * the same for a tag past the limit, NFS4ERR_MINOR_VERS_MISMATCH for a minor
 * version above 2.
 *
 * The loop: one function per operation; what differs between operations
 * (needs a current FH, modifies, may stand outside a session, 4.0 only, lowest
 * minor version) is a flag in the table. Each XXX4res starts with its status,
 * so the loop writes every status in one place. Results live in the request's
 * arena; nothing here mallocs per operation.
 *
 * The request table (server/drc) holds every reply that a retransmission must
 * get again, and mirrors it to the partner:
 *   - 4.1: a slot's reply (when the client asked, sa_cachethis) under a key of
 *     session, slot and sequence id (RFC 8881 §2.10.6); the slot itself keeps
 *     only its sequence id and whether a reply was saved;
 *   - 4.0: COMPOUND is not flagged non-idempotent, but one that runs an
 *     OP4_NONIDEMPOTENT operation (CREATE, LINK, REMOVE, RENAME) becomes so
 *     before that operation runs, and its reply is saved by XID as for NFSv3.
 *     OPEN, LOCK and the other seqid operations also have their owner's reply
 *     (RFC 7530 §9.1.9), which answers a retransmission on a new XID.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/drc/drc.h"
#include "server/log/log.h"
#include "server/nfs4/compound.h"
#include "server/nfs4/nfs4_int.h"
#include "server/nfs4/pseudo.h"
#include "server/nfs4/state.h"
#include "server/server.h"

#define NFS4_PROGRAM 100003
#define NFS4_VERSION 4

/* ---- arguments and results as the dispatcher sees them ------------------- */

struct nfs4_res {
	COMPOUND4res r;
	const uint8_t *raw; /* a session slot's saved reply, sent as is */
	size_t rawlen;
};

struct nfs4_opdesc {
	const char *name;
	nfs4_op_fn fn; /* NULL: NFS4ERR_NOTSUPP */
	xdrproc_t dec; /* NULL: no arguments */
	unsigned flags;
	uint8_t minminor;
};

#define FH   OP4_NEED_FH
#define MOD  OP4_MODIFIES
#define NS   OP4_NO_SESSION
#define V40  OP4_ONLY_V40
#define SOLE OP4_SOLE
#define NI   OP4_NONIDEMPOTENT

#define OPA(op, fn, args, fl, mm) [OP_##op] = {#op, fn, (xdrproc_t)xdr_##args, (fl), (mm)}
#define OPV(op, fn, fl, mm)	  [OP_##op] = {#op, fn, NULL, (fl), (mm)}

static const struct nfs4_opdesc nfs4_ops[OP_REMOVEXATTR + 1] = {
    OPA(ACCESS, nfs4_op_access, ACCESS4args, FH, 0),
    OPA(CLOSE, nfs4_op_close, CLOSE4args, FH, 0),
    OPA(COMMIT, nfs4_op_commit, COMMIT4args, FH, 0),
    OPA(CREATE, nfs4_op_create, CREATE4args, FH | MOD | NI, 0),
    OPA(DELEGPURGE, NULL, DELEGPURGE4args, 0, 0),
    OPA(DELEGRETURN, nfs4_op_delegreturn, DELEGRETURN4args, FH, 0),
    OPA(GETATTR, nfs4_op_getattr, GETATTR4args, FH, 0),
    OPV(GETFH, nfs4_op_getfh, FH, 0),
    OPA(LINK, nfs4_op_link, LINK4args, FH | MOD | NI, 0),
    OPA(LOCK, nfs4_op_lock, LOCK4args, FH, 0),
    OPA(LOCKT, nfs4_op_lockt, LOCKT4args, FH, 0),
    OPA(LOCKU, nfs4_op_locku, LOCKU4args, FH, 0),
    OPA(LOOKUP, nfs4_op_lookup, LOOKUP4args, FH, 0),
    OPV(LOOKUPP, nfs4_op_lookupp, FH, 0),
    OPA(NVERIFY, nfs4_op_nverify, NVERIFY4args, FH, 0),
    OPA(OPEN, nfs4_op_open, OPEN4args, FH, 0),
    OPA(OPENATTR, NULL, OPENATTR4args, FH, 0),
    OPA(OPEN_CONFIRM, nfs4_op_open_confirm, OPEN_CONFIRM4args, FH | V40, 0),
    OPA(OPEN_DOWNGRADE, nfs4_op_open_downgrade, OPEN_DOWNGRADE4args, FH, 0),
    OPA(PUTFH, nfs4_op_putfh, PUTFH4args, 0, 0),
    OPV(PUTPUBFH, nfs4_op_putpubfh, 0, 0),
    OPV(PUTROOTFH, nfs4_op_putrootfh, 0, 0),
    OPA(READ, nfs4_op_read, READ4args, FH, 0),
    OPA(READDIR, nfs4_op_readdir, READDIR4args, FH, 0),
    OPV(READLINK, nfs4_op_readlink, FH, 0),
    OPA(REMOVE, nfs4_op_remove, REMOVE4args, FH | MOD | NI, 0),
    OPA(RENAME, nfs4_op_rename, RENAME4args, FH | MOD | NI, 0),
    OPA(RENEW, nfs4_op_renew, RENEW4args, V40, 0),
    OPV(RESTOREFH, nfs4_op_restorefh, 0, 0),
    OPV(SAVEFH, nfs4_op_savefh, FH, 0),
    OPA(SECINFO, nfs4_op_secinfo, SECINFO4args, FH, 0),
    OPA(SETATTR, nfs4_op_setattr, SETATTR4args, FH | MOD, 0),
    OPA(SETCLIENTID, nfs4_op_setclientid, SETCLIENTID4args, V40, 0),
    OPA(SETCLIENTID_CONFIRM, nfs4_op_setclientid_confirm, SETCLIENTID_CONFIRM4args, V40, 0),
    OPA(VERIFY, nfs4_op_verify, VERIFY4args, FH, 0),
    OPA(WRITE, nfs4_op_write, WRITE4args, FH | MOD, 0),
    OPA(RELEASE_LOCKOWNER, nfs4_op_release_lockowner, RELEASE_LOCKOWNER4args, V40, 0),
    OPA(BACKCHANNEL_CTL, NULL, BACKCHANNEL_CTL4args, 0, 1),
    OPA(BIND_CONN_TO_SESSION, nfs4_op_bind_conn_to_session, BIND_CONN_TO_SESSION4args, NS, 1),
    OPA(EXCHANGE_ID, nfs4_op_exchange_id, EXCHANGE_ID4args, NS | SOLE, 1),
    OPA(CREATE_SESSION, nfs4_op_create_session, CREATE_SESSION4args, NS | SOLE, 1),
    OPA(DESTROY_SESSION, nfs4_op_destroy_session, DESTROY_SESSION4args, NS, 1),
    OPA(FREE_STATEID, nfs4_op_free_stateid, FREE_STATEID4args, 0, 1),
    OPA(GET_DIR_DELEGATION, NULL, GET_DIR_DELEGATION4args, FH, 1),
    OPA(GETDEVICEINFO, NULL, GETDEVICEINFO4args, 0, 1),
    OPA(GETDEVICELIST, NULL, GETDEVICELIST4args, FH, 1),
    OPA(LAYOUTCOMMIT, NULL, LAYOUTCOMMIT4args, FH, 1),
    OPA(LAYOUTGET, NULL, LAYOUTGET4args, FH, 1),
    OPA(LAYOUTRETURN, NULL, LAYOUTRETURN4args, FH, 1),
    OPA(SECINFO_NO_NAME, nfs4_op_secinfo_no_name, SECINFO_NO_NAME4args, FH, 1),
    OPA(SEQUENCE, nfs4_op_sequence, SEQUENCE4args, OP4_SEQUENCE, 1),
    OPA(SET_SSV, NULL, SET_SSV4args, 0, 1),
    OPA(TEST_STATEID, nfs4_op_test_stateid, TEST_STATEID4args, 0, 1),
    OPA(WANT_DELEGATION, NULL, WANT_DELEGATION4args, FH, 1),
    OPA(DESTROY_CLIENTID, nfs4_op_destroy_clientid, DESTROY_CLIENTID4args, NS | SOLE, 1),
    OPA(RECLAIM_COMPLETE, nfs4_op_reclaim_complete, RECLAIM_COMPLETE4args, 0, 1),
    OPA(ALLOCATE, nfs4_op_allocate, ALLOCATE4args, FH | MOD, 2),
    OPA(COPY, NULL, COPY4args, FH, 2),
    OPA(COPY_NOTIFY, NULL, COPY_NOTIFY4args, FH, 2),
    OPA(DEALLOCATE, nfs4_op_deallocate, DEALLOCATE4args, FH | MOD, 2),
    OPA(IO_ADVISE, NULL, IO_ADVISE4args, FH, 2),
    OPA(LAYOUTERROR, NULL, LAYOUTERROR4args, FH, 2),
    OPA(LAYOUTSTATS, NULL, LAYOUTSTATS4args, FH, 2),
    OPA(OFFLOAD_CANCEL, NULL, OFFLOAD_CANCEL4args, FH, 2),
    OPA(OFFLOAD_STATUS, NULL, OFFLOAD_STATUS4args, FH, 2),
    OPA(READ_PLUS, NULL, READ_PLUS4args, FH, 2),
    OPA(SEEK, nfs4_op_seek, SEEK4args, FH, 2),
    OPA(WRITE_SAME, NULL, WRITE_SAME4args, FH, 2),
    OPA(CLONE, NULL, CLONE4args, FH, 2),
    OPA(GETXATTR, nfs4_op_getxattr, GETXATTR4args, FH, 2),
    OPA(SETXATTR, nfs4_op_setxattr, SETXATTR4args, FH | MOD, 2),
    OPA(LISTXATTRS, nfs4_op_listxattrs, LISTXATTRS4args, FH, 2),
    OPA(REMOVEXATTR, nfs4_op_removexattr, REMOVEXATTR4args, FH | MOD, 2),
};

static const struct nfs4_opdesc *nfs4_opdesc(uint32_t op)
{
	if (op >= sizeof(nfs4_ops) / sizeof(nfs4_ops[0]) || !nfs4_ops[op].name)
		return NULL;
	return &nfs4_ops[op];
}

/* ---- the bounded decoder ----------------------------------------------- */

/* Reads and drops n bytes (and their padding) without storing them. */
static bool nfs4_skip(XDR *xdrs, uint32_t n)
{
	char buf[512];
	uint64_t left = ((uint64_t)n + 3) & ~(uint64_t)3;
	while (left) {
		u_int k = left < sizeof(buf) ? (u_int)left : sizeof(buf);
		if (!XDR_GETBYTES(xdrs, buf, k))
			return false;
		left -= k;
	}
	return true;
}

static bool nfs4_decode_tag(XDR *xdrs, struct nfs4_args *a)
{
	uint32_t len = 0;
	if (!xdr_uint32_t(xdrs, &len))
		return false;
	if (len > NFS4_MAX_TAG) {
		a->tag_too_long = true;
		return nfs4_skip(xdrs, len);
	}
	if (!len)
		return true;
	a->tag.utf8string_val = mem_alloc(len);
	a->tag.utf8string_len = len;
	return xdr_opaque(xdrs, a->tag.utf8string_val, len);
}

/* One operation: its number, then its arguments by the table's routine. */
static bool nfs4_decode_op(XDR *xdrs, nfs_argop4 *op, bool *illegal)
{
	uint32_t num = 0;
	if (!xdr_uint32_t(xdrs, &num))
		return false;
	const struct nfs4_opdesc *d = nfs4_opdesc(num);
	if (!d) {
		op->argop = OP_ILLEGAL;
		*illegal = true;
		return true;
	}
	op->argop = (nfs_opnum4)num;
	return !d->dec || d->dec(xdrs, &op->nfs_argop4_u);
}

static bool nfs4_decode(XDR *xdrs, struct nfs4_args *a)
{
	uint32_t n = 0;
	bool illegal = false;

	if (!nfs4_decode_tag(xdrs, a) || !xdr_uint32_t(xdrs, &a->minor) || !xdr_uint32_t(xdrs, &n))
		return false;
	if (a->minor > NFS4_MAX_MINOR)
		return true; /* answered MINOR_VERS_MISMATCH without reading on */
	if (n > NFS4_MAX_OPS) {
		a->too_many = true;
		n = 1; /* only the first (SEQUENCE, for its slot) */
	}
	if (!n)
		return true;
	a->ops = mem_zalloc(n * sizeof(*a->ops));
	for (uint32_t i = 0; i < n && !illegal; i++) {
		a->nops = i + 1;
		if (!nfs4_decode_op(xdrs, &a->ops[i], &illegal))
			return false;
	}
	return true;
}

static void nfs4_free_args(XDR *xdrs, struct nfs4_args *a)
{
	for (uint32_t i = 0; i < a->nops; i++)
		if (a->ops[i].argop != OP_ILLEGAL)
			xdr_nfs_argop4(xdrs, &a->ops[i]);
	if (a->ops)
		mem_free(a->ops, 0);
	if (a->tag.utf8string_val)
		mem_free(a->tag.utf8string_val, 0);
	memset(a, 0, sizeof(*a));
}

bool xdr_nfs4_args(XDR *xdrs, struct nfs4_args *a)
{
	switch (xdrs->x_op) {
	case XDR_DECODE: {
		u_int start = XDR_GETPOS(xdrs);
		bool ok = nfs4_decode(xdrs, a);
		u_int end = XDR_GETPOS(xdrs);
		a->size = end > start ? end - start : 0; /* 0: not known */
		return ok;
	}
	case XDR_FREE:
		nfs4_free_args(xdrs, a);
		return true;
	default:
		/* the dispatcher's argument checksum of non-idempotent calls only */
		return false;
	}
}

static bool xdr_nfs4_res(XDR *xdrs, struct nfs4_res *r)
{
	if (xdrs->x_op != XDR_ENCODE)
		return true; /* results live in the arena */
	if (r->raw)
		return XDR_PUTBYTES(xdrs, (const char *)r->raw, (u_int)r->rawlen);
	return xdr_COMPOUND4res(xdrs, &r->r);
}

/* ---- the loop ------------------------------------------------------------ */

void *nfs4_alloc(struct nfs4_compound *c, size_t n)
{
	return arena_alloc(c->ctx->arena, n);
}

/* Session rules of 4.1 (RFC 8881 §2.6.3.1.1.1, §18.46.3). */
static nfsstat4 nfs4_session_check(struct nfs4_compound *c, const struct nfs4_opdesc *d)
{
	if (c->minor == 0)
		return NFS4_OK;
	if (c->opidx == 0) {
		if (d->flags & OP4_SEQUENCE)
			return NFS4_OK;
		if (!(d->flags & OP4_NO_SESSION))
			return NFS4ERR_OP_NOT_IN_SESSION;
		return c->nops > 1 && (d->flags & OP4_SOLE) ? NFS4ERR_NOT_ONLY_OP : NFS4_OK;
	}
	if (d->flags & OP4_SEQUENCE)
		return NFS4ERR_SEQUENCE_POS;
	if (!c->seq && !(d->flags & OP4_NO_SESSION))
		return NFS4ERR_OP_NOT_IN_SESSION;
	return NFS4_OK;
}

static nfsstat4 nfs4_run_op(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	const struct nfs4_opdesc *d = nfs4_opdesc(arg->argop);

	if (!d || d->minminor > c->minor)
		return NFS4ERR_OP_ILLEGAL;
	nfsstat4 st = nfs4_session_check(c, d);
	if (st != NFS4_OK)
		return st;
	if ((d->flags & OP4_ONLY_V40) && c->minor > 0)
		return NFS4ERR_NOTSUPP;
	if (!d->fn)
		return NFS4ERR_NOTSUPP;
	if ((d->flags & OP4_NEED_FH) && c->cur.kind == FH4_NONE)
		return NFS4ERR_NOFILEHANDLE;
	if ((d->flags & OP4_MODIFIES) && c->cur.kind != FH4_NONE && c->cur.acc != EXPORT_RW)
		return NFS4ERR_ROFS;
	if ((d->flags & OP4_NONIDEMPOTENT) && c->minor == 0)
		dispatch_nonidempotent(c->ctx);
	return d->fn(c, arg, res);
}

static void nfs4_status_into(nfs_resop4 *res, nfsstat4 st)
{
	/* every XXX4res begins with its nfsstat4 (RFC 7530 §16, RFC 8881 §18) */
	memcpy(&res->nfs_resop4_u, &st, sizeof(st));
}

/* The header's limits; NFS4_OK when the operations may run. */
nfsstat4 nfs4_header_check(const struct nfs4_args *a)
{
	if (a->minor > NFS4_MAX_MINOR)
		return NFS4ERR_MINOR_VERS_MISMATCH;
	if (a->too_many || a->tag_too_long)
		return a->minor ? NFS4ERR_TOO_MANY_OPS : NFS4ERR_RESOURCE;
	return NFS4_OK;
}

static void nfs4_loop(struct nfs4_compound *c, struct nfs4_args *a, COMPOUND4res *r)
{
	r->resarray.resarray_val = nfs4_alloc(c, a->nops * sizeof(nfs_resop4));
	if (!r->resarray.resarray_val) {
		r->status = NFS4ERR_RESOURCE;
		return;
	}
	for (c->opidx = 0; c->opidx < a->nops; c->opidx++) {
		nfs_argop4 *arg = &a->ops[c->opidx];
		nfs_resop4 *res = &r->resarray.resarray_val[c->opidx];
		res->resop = arg->argop;
		nfsstat4 st = nfs4_run_op(c, arg, res);
		if (st == NFS4ERR_OP_ILLEGAL)
			res->resop = OP_ILLEGAL;
		if (st != NFS4_OK)
			log_debug(
			    "nfs4.%u op %u of %u (%s): status %u", c->minor, c->opidx + 1, a->nops,
			    nfs4_opdesc(arg->argop) ? nfs4_opdesc(arg->argop)->name : "?", st);
		nfs4_status_into(res, st);
		r->resarray.resarray_len = c->opidx + 1;
		r->status = st;
		if (st != NFS4_OK || nfs4_seq_replay(c->seq))
			break;
	}
}

/*
 * RFC 8881 §2.10.6.4, §15.1.1.3: a reply larger than the session allows is cut at
 * the operation that overflows, which then answers REP_TOO_BIG (or
 * REP_TOO_BIG_TO_CACHE when the client asked for a saved reply and the slot's
 * limit is what overflows). READ and READDIR already fit their data to the
 * budget, so only small budgets need the trial encoding here.
 */
#define NFS4_FIT_CHECK_MAX 65536u

static void nfs4_reply_fit(struct nfs4_compound *c, COMPOUND4res *r)
{
	uint32_t limit = c->max_resp;
	nfsstat4 err = NFS4ERR_REP_TOO_BIG;
	if (nfs4_seq_wants_cache(c->seq) && c->max_resp_cached < limit) {
		limit = c->max_resp_cached;
		err = NFS4ERR_REP_TOO_BIG_TO_CACHE;
	}
	if (limit >= NFS4_FIT_CHECK_MAX)
		return;
	char *buf = arena_alloc_raw(c->ctx->arena, limit + 4);
	if (!buf)
		return;
	XDR x;
	u_int n = r->resarray.resarray_len;
	xdrmem_ncreate(&x, buf, limit, XDR_ENCODE);
	bool ok = xdr_nfsstat4(&x, &r->status) && xdr_utf8str_cs(&x, &r->tag) && xdr_u_int(&x, &n);
	for (u_int i = 0; i < r->resarray.resarray_len; i++) {
		if (ok && xdr_nfs_resop4(&x, &r->resarray.resarray_val[i]))
			continue;
		nfs4_status_into(&r->resarray.resarray_val[i], err);
		r->resarray.resarray_len = i + 1;
		r->status = err;
		break;
	}
	XDR_DESTROY(&x);
}

static void nfs4_null(struct req_ctx *ctx, void *args, void *res)
{
	(void)ctx;
	(void)args;
	(void)res;
}

/* The request table's key of the slot and sequence id that SEQUENCE claimed. */
static void nfs4_slot_key(const struct nfs4_args *a, struct drc_key *k)
{
	const SEQUENCE4args *s = &a->ops[0].nfs_argop4_u.opsequence;
	memset(k, 0, sizeof(*k));
	k->family = DRC_FAMILY_SLOT;
	memcpy(k->addr, s->sa_sessionid, NFS4_SESSIONID_SIZE);
	k->xid = s->sa_slotid;
	k->prog = NFS4_PROGRAM;
	k->vers = NFS4_VERSION;
	k->proc = 1; /* COMPOUND */
	k->cksum = s->sa_sequenceid;
}

/* A 4.1 reply is saved for its slot (when the client asked, sa_cachethis) before
 * it goes out, so a retransmission on the same slot and sequence gets it; it is
 * then sent as saved rather than encoded twice. True when saved. */
static bool nfs4_slot_save(struct nfs4_compound *c, const struct nfs4_args *a, struct nfs4_res *res)
{
	u_int max =
	    c->max_resp_cached < NFS4_MAX_RESP_CACHED ? c->max_resp_cached : NFS4_MAX_RESP_CACHED;
	uint8_t *buf;
	if (!nfs4_seq_wants_cache(c->seq) || !max || !(buf = arena_alloc_raw(c->ctx->arena, max)))
		return false;
	XDR xdrs;
	size_t len = 0;
	xdrmem_ncreate(&xdrs, (char *)buf, max, XDR_ENCODE);
	if (xdr_COMPOUND4res(&xdrs, &res->r))
		len = XDR_GETPOS(&xdrs);
	XDR_DESTROY(&xdrs);
	struct drc_key k;
	nfs4_slot_key(a, &k);
	if (!len || !dispatch_keep_reply(c->ctx, &k, buf, len))
		return false;
	res->raw = buf;
	res->rawlen = len;
	return true;
}

/* A retransmission on a slot: its saved reply, or RETRY_UNCACHED_REP when the
 * table no longer has it (evicted by count, bytes or age). */
static void nfs4_slot_replay(struct nfs4_compound *c, const struct nfs4_args *a,
			     struct nfs4_res *res)
{
	struct drc_key k;
	size_t len = 0;
	uint8_t *buf = arena_alloc_raw(c->ctx->arena, NFS4_MAX_RESP_CACHED);
	nfs4_slot_key(a, &k);
	if (buf && dispatch_kept_reply(c->ctx, &k, buf, NFS4_MAX_RESP_CACHED, &len)) {
		res->raw = buf;
		res->rawlen = len;
		return;
	}
	res->r.status = NFS4ERR_RETRY_UNCACHED_REP;
	res->r.resarray.resarray_len = 1;
	nfs4_status_into(&res->r.resarray.resarray_val[0], NFS4ERR_RETRY_UNCACHED_REP);
}

/* A READ that ends a successful reply sends its data from the buffer it was read
 * into, after the rest (dispatch.h, tail), as NFSv3's READ does. Not when the
 * reply is saved whole (a slot's, a non-idempotent call's). */
bool nfs4_read_may_splice(const struct nfs4_compound *c)
{
	if (c->too_many || c->opidx + 1 != c->nops || (c->ctx->flags & PROC_NONIDEMPOTENT))
		return false;
	return !c->seq || (!nfs4_seq_wants_cache(c->seq) && c->max_resp >= NFS4_FIT_CHECK_MAX);
}

static void nfs4_read_tail(struct nfs4_compound *c, struct nfs4_res *res)
{
	COMPOUND4res *r = &res->r;
	if (c->ctx->tail_piped)
		return; /* nfs4_op_read spliced it */
	u_int n = r->resarray.resarray_len;
	if (res->raw || r->status != NFS4_OK || !n || (c->ctx->flags & PROC_NONIDEMPOTENT))
		return;
	nfs_resop4 *last = &r->resarray.resarray_val[n - 1];
	if (last->resop != OP_READ)
		return;
	READ4resok *ok = &last->nfs_resop4_u.opread.READ4res_u.resok4;
	if (!ok->data.data_len)
		return;
	c->ctx->tail = ok->data.data_val;
	c->ctx->tail_len = ok->data.data_len;
	ok->data.data_len = 0;
}

static void nfs4_compound(struct req_ctx *ctx, void *argp, void *resp)
{
	struct nfs4_args *a = argp;
	struct nfs4_res *res = resp;
	struct nfs4_compound c = {.ctx = ctx,
				  .n4 = ctx->srv->nfs4,
				  .minor = a->minor,
				  .nops = a->nops,
				  .req_size = a->size,
				  .max_resp = NFS4_MAX_RESP_SIZE,
				  .too_many = a->too_many};

	if (!a->tag_too_long)
		res->r.tag = a->tag; /* echoed (RFC 7530 §15.2.3) */
	res->r.status = nfs4_header_check(a);
	const struct nfs4_opdesc *first = a->nops ? nfs4_opdesc(a->ops[0].argop) : NULL;
	bool seq_first = first && (first->flags & OP4_SEQUENCE);
	if (res->r.status == NFS4_OK || (a->too_many && a->minor && seq_first)) {
		/* 4.1 with too many operations still runs SEQUENCE, then stops */
		c.nops = a->nops;
		nfs4_loop(&c, a, &res->r);
		if (a->too_many && res->r.status == NFS4_OK) {
			res->r.status = NFS4ERR_TOO_MANY_OPS;
			nfs4_status_into(&res->r.resarray.resarray_val[0], NFS4ERR_TOO_MANY_OPS);
			if (c.seq) /* SEQUENCE failed: its slot as it was (RFC 8881 §18.46.3) */
				nfs4_seq_cancel(c.n4->state, c.seq);
			c.seq = NULL;
		}
	}
	if (c.seq) {
		bool saved = false;
		if (nfs4_seq_replay(c.seq)) {
			nfs4_slot_replay(&c, a, res);
		} else {
			nfs4_reply_fit(&c, &res->r);
			saved = nfs4_slot_save(&c, a, res);
		}
		nfs4_seq_end(c.n4->state, c.seq, saved);
	}
	nfs4_read_tail(&c, res);
}

#define NFS4_PROC(num, fn, argt, rest, fl)                                                         \
	[num] = {.name = #num,                                                                     \
		 .decode = (xdrproc_t)xdr_##argt,                                                  \
		 .encode = (xdrproc_t)xdr_##rest,                                                  \
		 .argsize = sizeof(struct argt),                                                   \
		 .ressize = sizeof(struct rest),                                                   \
		 .handler = fn,                                                                    \
		 .flags = (fl)}

struct nfs4_void {
	char unused;
};

static bool xdr_nfs4_void(XDR *x, struct nfs4_void *v)
{
	(void)x;
	(void)v;
	return true;
}

enum { NFSPROC4_NULL_ = 0, NFSPROC4_COMPOUND_ = 1, NFSPROC4_COUNT_ };

static const struct proc_desc nfs4_procs[NFSPROC4_COUNT_] = {
    NFS4_PROC(NFSPROC4_NULL_, nfs4_null, nfs4_void, nfs4_void, PROC_STANDBY_OK),
    NFS4_PROC(NFSPROC4_COMPOUND_, nfs4_compound, nfs4_args, nfs4_res, 0),
};

const struct prog_desc nfs4_program = {
    .prog = NFS4_PROGRAM,
    .vers = NFS4_VERSION,
    .procs = nfs4_procs,
    .nprocs = NFSPROC4_COUNT_,
};
