/*
 * ops_open.c — OPEN and the operations on open and lock state (RFC 7530 §9,
 * §16.16-16.20, RFC 8881 §18.16): the filesystem part here (lookup, create
 * with each createmode, truncate, permission), the state part in state.c.
 *
 * EXCLUSIVE4 and EXCLUSIVE4_1 keep the client's verifier in the new file's
 * atime and mtime seconds, as NFSv3 does (nfs3.c), so a retransmitted create
 * finds its own file. No delegations are ever granted (OPEN_DELEGATE_NONE).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "server/nfs4/nfs4_int.h"
#include "server/nfs4/recovery.h"
#include "server/nfs4/state.h"
#include "server/server.h"

#define SHARE_ACCESS_MASK 0xffu

static void fileid_of(const struct fsobj *o, struct nfs4_fileid *id)
{
	id->exp = export_config(o->exp)->id;
	id->key = o->key;
}

/* 4.1 names the client by its session, not by the owner's clientid. */
static uint64_t owner_clientid(const struct nfs4_compound *c, clientid4 given)
{
	return c->minor ? c->clientid : given;
}

static void verf_times(const char *verf, struct fsal_setattr *sa)
{
	uint32_t hi, lo;
	memcpy(&hi, verf, 4);
	memcpy(&lo, verf + 4, 4);
	sa->mask |= FSAL_SET_ATIME | FSAL_SET_MTIME;
	sa->atime.tv_sec = hi & 0x7fffffff;
	sa->atime.tv_nsec = 0;
	sa->mtime.tv_sec = lo & 0x7fffffff;
	sa->mtime.tv_nsec = 0;
}

struct open_ctx {
	struct nfs4_compound *c;
	uint64_t clientid;
	OPEN4args *a;
	const char *name;
	struct fsobj dir, obj;
	struct nfs4_sattr s;
	bool created;
	bool truncate;
};

/* EXCLUSIVE4(_1): our own file from an earlier try, or EXIST. */
static nfsstat4 open_excl_existing(struct open_ctx *o, const char *verf)
{
	struct fsal_attr a;
	struct fsal_setattr sa = {0};
	verf_times(verf, &sa);
	if (o->obj.ops->getattr(o->obj.fs, &o->obj.key, &a) < 0)
		return NFS4ERR_EXIST;
	bool same = a.type == FSAL_REG && a.atime.tv_sec == sa.atime.tv_sec &&
		    a.mtime.tv_sec == sa.mtime.tv_sec;
	return same ? NFS4_OK : NFS4ERR_EXIST;
}

static nfsstat4 open_create(struct open_ctx *o)
{
	const createhow4 *how = &o->a->openhow.openflag4_u.how;
	const struct fsal_cred *cr = &o->c->cur.cred;
	const char *verf = NULL;
	const fattr4 *attrs = NULL;
	nfsstat4 st = NFS4_OK;

	switch (how->mode) {
	case UNCHECKED4:
	case GUARDED4:
		attrs = &how->createhow4_u.createattrs;
		break;
	case EXCLUSIVE4:
		verf = how->createhow4_u.createverf;
		break;
	case EXCLUSIVE4_1:
		if (!o->c->minor)
			return NFS4ERR_INVAL;
		verf = how->createhow4_u.ch_createboth.cva_verf;
		attrs = &how->createhow4_u.ch_createboth.cva_attrs;
		break;
	default:
		return NFS4ERR_INVAL;
	}
	if (attrs)
		st = nfs4_attr_decode_set(o->c, attrs, &o->s);
	if (st != NFS4_OK)
		return st;
	if (verf && (o->s.sa.mask &
		     (FSAL_SET_ATIME | FSAL_SET_MTIME | FSAL_SET_ATIME_NOW | FSAL_SET_MTIME_NOW)))
		return NFS4ERR_INVAL; /* the verifier lives there */
	int rc = o->dir.ops->lookup(o->dir.fs, cr, &o->dir.key, o->name, &o->obj.key);
	if (rc == 0) {
		if (how->mode == GUARDED4)
			return NFS4ERR_EXIST;
		if (verf)
			return open_excl_existing(o, verf);
		o->truncate = (o->s.sa.mask & FSAL_SET_SIZE) && o->s.sa.size == 0;
		return NFS4_OK;
	}
	if (rc != -ENOENT)
		return nfs4_err(rc, false);
	uint32_t mode = (o->s.sa.mask & FSAL_SET_MODE) ? o->s.sa.mode : (verf ? 0600 : 0644);
	rc = o->dir.ops->create(o->dir.fs, cr, &o->dir.key, o->name, mode, how->mode != UNCHECKED4,
				&o->obj.key);
	if (rc < 0)
		return nfs4_err(rc, false);
	o->created = true;
	o->s.sa.mask &= ~(uint32_t)FSAL_SET_MODE;
	if (verf)
		verf_times(verf, &o->s.sa);
	if (o->s.sa.mask)
		rc = o->obj.ops->setattr(o->obj.fs, cr, &o->obj.key, &o->s.sa);
	return rc < 0 ? nfs4_err(rc, true) : NFS4_OK;
}

/* The opened object must be a regular file the caller may read/write. */
static nfsstat4 open_check_obj(struct open_ctx *o, uint32_t access)
{
	struct fsal_attr a;
	int rc = o->obj.ops->getattr(o->obj.fs, &o->obj.key, &a);
	if (rc < 0)
		return nfs4_err(rc, true);
	if (a.type == FSAL_DIR)
		return NFS4ERR_ISDIR;
	if (a.type == FSAL_LNK || (a.type != FSAL_REG && !o->c->minor))
		return NFS4ERR_SYMLINK; /* 4.0 has nothing better (RFC 7530 §16.16.6) */
	if (a.type != FSAL_REG)
		return NFS4ERR_WRONG_TYPE;
	if (o->created)
		return NFS4_OK;
	const struct fsal_cred *cr = &o->c->cur.cred;
	if ((access & OPEN4_SHARE_ACCESS_READ) &&
	    o->obj.ops->access(o->obj.fs, cr, &o->obj.key, R_OK) < 0 && a.uid != cr->uid)
		return NFS4ERR_ACCESS;
	if ((access & OPEN4_SHARE_ACCESS_WRITE) &&
	    o->obj.ops->access(o->obj.fs, cr, &o->obj.key, W_OK) < 0)
		return NFS4ERR_ACCESS;
	if ((access & OPEN4_SHARE_ACCESS_WRITE) && o->c->cur.acc != EXPORT_RW)
		return NFS4ERR_ROFS;
	return NFS4_OK;
}

/* The filesystem part of OPEN: find or create the file in the current dir. */
static nfsstat4 open_fs(struct open_ctx *o, uint32_t access)
{
	struct nfs4_compound *c = o->c;
	const open_claim4 *claim = &o->a->claim;
	nfsstat4 st;

	/* grace holds only on the exports whose clients may come back (recovery.h) */
	uint32_t exp = c->cur.kind == FH4_OBJ ? export_config(c->cur.obj.exp)->id : UINT32_MAX;
	bool grace = nfs4_grace_on(c->n4->recovery, exp);
	if (claim->claim == CLAIM_PREVIOUS) {
		/* a reclaim after a restart: the current FH is the file (RFC 7530
		 * §16.16.5), only in grace, only for a client of the last run */
		if (!grace)
			return NFS4ERR_NO_GRACE;
		if (!nfs4_may_reclaim(c, o->clientid))
			return NFS4ERR_RECLAIM_BAD;
		if (c->cur.kind != FH4_OBJ)
			return NFS4ERR_ISDIR;
		o->obj = c->cur.obj;
		return open_check_obj(o, access);
	}
	if (grace)
		return NFS4ERR_GRACE; /* no new state while others reclaim theirs */
	if (claim->claim == CLAIM_FH) {
		if (!c->minor)
			return NFS4ERR_INVAL;
		if (c->cur.kind != FH4_OBJ)
			return NFS4ERR_ISDIR;
		o->obj = c->cur.obj;
		return open_check_obj(o, access);
	}
	if (claim->claim != CLAIM_NULL)
		return NFS4ERR_NOTSUPP; /* the delegation claims: none are granted */
	if (c->cur.kind == FH4_PSEUDO)
		return o->a->openhow.opentype == OPEN4_CREATE ? NFS4ERR_ROFS : NFS4ERR_NOENT;
	enum fsal_type t = FSAL_REG;
	st = nfs4_fh_type(c, &c->cur, &t);
	if (st == NFS4_OK && t != FSAL_DIR)
		st = t == FSAL_LNK ? NFS4ERR_SYMLINK : NFS4ERR_NOTDIR;
	char *name;
	if (st == NFS4_OK)
		st = nfs4_name(c, &claim->open_claim4_u.file, &name);
	if (st == NFS4ERR_BADNAME)
		st = NFS4ERR_NOENT;
	if (st != NFS4_OK)
		return st;
	o->name = name;
	o->dir = c->cur.obj;
	export_obj_sibling(&o->dir, &o->obj);
	if (o->a->openhow.opentype == OPEN4_CREATE) {
		if (c->cur.acc != EXPORT_RW)
			return NFS4ERR_ROFS;
		st = open_create(o);
	} else {
		int rc =
		    o->dir.ops->lookup(o->dir.fs, &c->cur.cred, &o->dir.key, name, &o->obj.key);
		st = rc < 0 ? nfs4_err(rc, false) : NFS4_OK;
	}
	return st == NFS4_OK ? open_check_obj(o, access) : st;
}

static nfsstat4 open_args_ok(struct nfs4_compound *c, const OPEN4args *a)
{
	uint32_t access = a->share_access & SHARE_ACCESS_MASK;
	if (access < 1 || access > 3 || a->share_deny > 3)
		return NFS4ERR_INVAL;
	if (!c->minor && (a->share_access & ~SHARE_ACCESS_MASK))
		return NFS4ERR_INVAL;
	if (a->owner.owner.owner_len > NFS4_OPAQUE_LIMIT)
		return NFS4ERR_INVAL;
	return NFS4_OK;
}

/* A retransmitted 4.0 OPEN: the first one's reply, and its file as current FH. */
static nfsstat4 open_replay(struct nfs4_compound *c, const struct nfs4_owner_ref *ow,
			    OPEN4resok *ok)
{
	uint8_t fh[NFS4_FHSIZE];
	uint32_t fhlen = 0;
	bool confirm = false;
	nfsstat4 st = nfs4_open_replay(c->n4->state, ow, &ok->stateid, &confirm, fh, &fhlen);
	if (st != NFS4_OK)
		return st;
	nfs_fh4 wire = {fhlen, (char *)fh};
	st = nfs4_fh_from_wire(c, &wire, &c->cur);
	if (st != NFS4_OK)
		return st;
	memset(&ok->cinfo, 0, sizeof(ok->cinfo));
	ok->rflags = OPEN4_RESULT_LOCKTYPE_POSIX | (confirm ? OPEN4_RESULT_CONFIRM : 0);
	ok->attrset.bitmap4_len = 0;
	ok->delegation.delegation_type = OPEN_DELEGATE_NONE;
	return NFS4_OK;
}

/* The filesystem part, then the share check and the truncation it allows. */
static nfsstat4 open_file(struct open_ctx *o, const struct nfs4_owner_ref *ow, uint32_t access,
			  struct nfs4_fileid *fid)
{
	struct nfs4_compound *c = o->c;
	nfsstat4 st = open_fs(o, access);
	if (st == NFS4_OK) {
		fileid_of(&o->obj, fid);
		st = nfs4_share_check(c->n4->state, ow, fid, access, o->a->share_deny);
	}
	if (st == NFS4_OK && o->truncate) {
		struct fsal_setattr sa = {.mask = FSAL_SET_SIZE, .size = 0};
		int rc = o->obj.ops->setattr(o->obj.fs, &c->cur.cred, &o->obj.key, &sa);
		st = rc < 0 ? nfs4_err(rc, true) : NFS4_OK;
	}
	return st;
}

/* What a created file got set (RFC 7530 §16.16.4: EXCLUSIVE4 used the times). */
static nfsstat4 open_attrset(struct open_ctx *o, OPEN4resok *ok)
{
	uint32_t *words = nfs4_alloc(o->c, sizeof(o->s.setwords));
	if (!words)
		return NFS4ERR_SERVERFAULT;
	memcpy(words, o->s.setwords, sizeof(o->s.setwords));
	ok->attrset.bitmap4_val = words;
	ok->attrset.bitmap4_len = o->created ? o->s.set.bitmap4_len : 0;
	if (o->created && o->a->openhow.openflag4_u.how.mode >= EXCLUSIVE4) {
		nfs4_bitmap_set(words, FATTR4_TIME_ACCESS);
		nfs4_bitmap_set(words, FATTR4_TIME_MODIFY);
		ok->attrset.bitmap4_len = 2;
	}
	return NFS4_OK;
}

/* Never a delegation; 4.1 says why when the client wished for one (§18.16.3). */
static void open_no_delegation(struct nfs4_compound *c, const OPEN4args *a, OPEN4resok *ok)
{
	uint32_t want = a->share_access & OPEN4_SHARE_ACCESS_WANT_DELEG_MASK;
	ok->delegation.delegation_type = OPEN_DELEGATE_NONE;
	if (c->minor && want) {
		ok->delegation.delegation_type = OPEN_DELEGATE_NONE_EXT;
		ok->delegation.open_delegation4_u.od_whynone.ond_why =
		    want == OPEN4_SHARE_ACCESS_WANT_NO_DELEG ? WND4_NOT_WANTED
							     : WND4_NOT_SUPP_FTYPE;
	}
}

nfsstat4 nfs4_op_open(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	OPEN4args *a = &arg->nfs_argop4_u.opopen;
	OPEN4resok *ok = &res->nfs_resop4_u.opopen.OPEN4res_u.resok4;
	struct open_ctx o = {.c = c, .a = a, .clientid = owner_clientid(c, a->owner.clientid)};
	struct fsal_attr before = {0}, after;
	struct nfs4_fileid fid = {0};
	bool confirm = false;
	uint8_t fh[EXPORT_FH_MAX];
	uint32_t access = a->share_access & SHARE_ACCESS_MASK, fhlen = 0;

	nfsstat4 st = open_args_ok(c, a);
	if (st == NFS4_OK && c->minor && a->claim.claim != CLAIM_PREVIOUS)
		st = nfs4_reclaim_done(c->n4->state, c->clientid);
	struct nfs4_owner_ref ow = {.clientid = o.clientid,
				    .owner = a->owner.owner.owner_val,
				    .len = a->owner.owner.owner_len,
				    .seqid = a->seqid,
				    .minor = c->minor,
				    .reclaim = a->claim.claim == CLAIM_PREVIOUS};
	if (st == NFS4_OK)
		st = nfs4_open_begin(c->n4->state, &ow);
	if (st == NFS4_REPLAY)
		return open_replay(c, &ow, ok);
	if (st != NFS4_OK)
		return st;
	bool have_before = c->cur.kind == FH4_OBJ &&
			   c->cur.obj.ops->getattr(c->cur.obj.fs, &c->cur.obj.key, &before) == 0;
	st = open_file(&o, &ow, access, &fid);
	if (st == NFS4_OK)
		st = nfs4_record_export(c, o.clientid, fid.exp);
	if (st == NFS4_OK)
		fhlen = (uint32_t)export_fh_encode(c->ctx->srv->exports, &o.obj, fh);
	st = nfs4_open_finish(c->n4->state, &ow, &fid, access, a->share_deny, st, fh, fhlen,
			      &ok->stateid, &confirm);
	if (st == NFS4_OK)
		st = open_attrset(&o, ok);
	if (st != NFS4_OK)
		return st;
	if (!have_before || c->cur.obj.ops->getattr(c->cur.obj.fs, &c->cur.obj.key, &after) < 0)
		after = before;
	nfs4_cinfo(&ok->cinfo, &before, &after);
	ok->rflags = OPEN4_RESULT_LOCKTYPE_POSIX | (confirm ? OPEN4_RESULT_CONFIRM : 0);
	open_no_delegation(c, a, ok);
	nfs4_fh_set_obj(c, &c->cur, &o.obj);
	c->have_cur_stateid = true;
	c->cur_stateid = ok->stateid;
	return NFS4_OK;
}

/* RFC 8881 §16.2.3.1.2: stateid (seqid 1, other 0) means the current stateid. */
nfsstat4 nfs4_resolve_sid(struct nfs4_compound *c, stateid4 *sid)
{
	static const char zero[NFS4_OTHER_SIZE];
	if (c->minor && sid->seqid == 1 && !memcmp(sid->other, zero, NFS4_OTHER_SIZE)) {
		if (!c->have_cur_stateid)
			return NFS4ERR_BAD_STATEID;
		*sid = c->cur_stateid;
	}
	return NFS4_OK;
}

/* The current FH as a file of open state; a file removed since it was opened
 * (STALE) still has its state, which CLOSE, LOCKU... must be able to release. */
static nfsstat4 cur_file(struct nfs4_compound *c, struct nfs4_fileid *fid)
{
	nfsstat4 st = nfs4_cur_reg(c);
	if (st == NFS4ERR_STALE && c->cur.kind == FH4_OBJ)
		st = NFS4_OK;
	if (st == NFS4_OK)
		fileid_of(&c->cur.obj, fid);
	return st;
}

static void set_cur_sid(struct nfs4_compound *c, const stateid4 *sid)
{
	c->have_cur_stateid = true;
	c->cur_stateid = *sid;
}

nfsstat4 nfs4_op_open_confirm(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	OPEN_CONFIRM4args *a = &arg->nfs_argop4_u.opopen_confirm;
	stateid4 *out = &res->nfs_resop4_u.opopen_confirm.OPEN_CONFIRM4res_u.resok4.open_stateid;
	struct nfs4_fileid fid;
	nfsstat4 st = cur_file(c, &fid);
	if (st != NFS4_OK)
		return st;
	*out = a->open_stateid;
	return nfs4_open_confirm(c->n4->state, &fid, out, a->seqid);
}

nfsstat4 nfs4_op_open_downgrade(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	OPEN_DOWNGRADE4args *a = &arg->nfs_argop4_u.opopen_downgrade;
	stateid4 *out =
	    &res->nfs_resop4_u.opopen_downgrade.OPEN_DOWNGRADE4res_u.resok4.open_stateid;
	struct nfs4_fileid fid;
	nfsstat4 st = cur_file(c, &fid);
	uint32_t access = a->share_access & SHARE_ACCESS_MASK;
	if (st == NFS4_OK && (access < 1 || access > 3 || a->share_deny > 3))
		st = NFS4ERR_INVAL;
	*out = a->open_stateid;
	if (st == NFS4_OK)
		st = nfs4_resolve_sid(c, out);
	if (st == NFS4_OK)
		st = nfs4_open_downgrade(c->n4->state, &fid, out, a->seqid, c->minor, access,
					 a->share_deny);
	if (st == NFS4_OK)
		set_cur_sid(c, out);
	return st;
}

nfsstat4 nfs4_op_close(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	CLOSE4args *a = &arg->nfs_argop4_u.opclose;
	stateid4 *out = &res->nfs_resop4_u.opclose.CLOSE4res_u.open_stateid;
	struct nfs4_fileid fid;
	nfsstat4 st = cur_file(c, &fid);
	*out = a->open_stateid;
	if (st == NFS4_OK)
		st = nfs4_resolve_sid(c, out);
	if (st == NFS4_OK)
		st = nfs4_close(c->n4->state, &fid, out, a->seqid, c->minor);
	return st;
}

static nfsstat4 lock_type_ok(nfs_lock_type4 t)
{
	return t >= READ_LT && t <= WRITEW_LT ? NFS4_OK : NFS4ERR_INVAL;
}

static void lock_denied_out(struct nfs4_compound *c, const struct nfs4_lock_denied *d,
			    LOCK4denied *out, void *buf)
{
	(void)c;
	out->offset = d->off;
	out->length = d->len;
	out->locktype = (nfs_lock_type4)d->type;
	out->owner.clientid = d->clientid;
	out->owner.owner.owner_len = (u_int)d->ownerlen;
	out->owner.owner.owner_val = buf;
}

nfsstat4 nfs4_op_lock(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	LOCK4args *a = &arg->nfs_argop4_u.oplock;
	LOCK4res *r = &res->nfs_resop4_u.oplock;
	struct nfs4_lock_req q = {.type = a->locktype,
				  .off = a->offset,
				  .len = a->length,
				  .minor = c->minor,
				  .new_owner = a->locker.new_lock_owner};
	struct nfs4_lock_denied d;
	struct nfs4_fileid fid;

	nfsstat4 st = lock_type_ok(a->locktype);
	if (st == NFS4_OK)
		st = cur_file(c, &fid);
	/* reclaims only in grace, new locks only out of it (RFC 7530 §9.6.2) */
	if (st == NFS4_OK && a->reclaim != nfs4_grace_on(c->n4->recovery, fid.exp))
		st = a->reclaim ? NFS4ERR_NO_GRACE : NFS4ERR_GRACE;
	if (st == NFS4_OK && c->minor)
		st = nfs4_reclaim_done(c->n4->state, c->clientid);
	if (st != NFS4_OK)
		return st;
	if (q.new_owner) {
		open_to_lock_owner4 *n = &a->locker.locker4_u.open_owner;
		q.open_sid = n->open_stateid;
		q.open_seqid = n->open_seqid;
		q.lock_owner =
		    (struct nfs4_owner_ref){.clientid = owner_clientid(c, n->lock_owner.clientid),
					    .owner = n->lock_owner.owner.owner_val,
					    .len = n->lock_owner.owner.owner_len,
					    .seqid = n->lock_seqid,
					    .minor = c->minor};
		st = nfs4_resolve_sid(c, &q.open_sid);
	} else {
		q.lock_sid = a->locker.locker4_u.lock_owner.lock_stateid;
		q.lock_seqid = a->locker.locker4_u.lock_owner.lock_seqid;
		st = nfs4_resolve_sid(c, &q.lock_sid);
	}
	void *buf = nfs4_alloc(c, NFS4_OPAQUE_LIMIT);
	if (st == NFS4_OK && !buf)
		st = NFS4ERR_SERVERFAULT;
	if (st == NFS4_OK)
		st = nfs4_lock(c->n4->state, &fid, &q, &r->LOCK4res_u.resok4.lock_stateid, &d, buf,
			       NFS4_OPAQUE_LIMIT);
	if (st == NFS4ERR_DENIED)
		lock_denied_out(c, &d, &r->LOCK4res_u.denied, buf);
	if (st == NFS4_OK)
		set_cur_sid(c, &r->LOCK4res_u.resok4.lock_stateid);
	return st;
}

nfsstat4 nfs4_op_lockt(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	LOCKT4args *a = &arg->nfs_argop4_u.oplockt;
	struct nfs4_lock_denied d;
	struct nfs4_fileid fid;
	struct nfs4_owner_ref ow = {.clientid = owner_clientid(c, a->owner.clientid),
				    .owner = a->owner.owner.owner_val,
				    .len = a->owner.owner.owner_len,
				    .minor = c->minor};
	nfsstat4 st = lock_type_ok(a->locktype);
	if (st == NFS4_OK)
		st = cur_file(c, &fid);
	if (st != NFS4_OK)
		return st;
	void *buf = nfs4_alloc(c, NFS4_OPAQUE_LIMIT);
	if (!buf)
		return NFS4ERR_SERVERFAULT;
	st = nfs4_lockt(c->n4->state, &fid, a->locktype, a->offset, a->length, &ow, &d, buf,
			NFS4_OPAQUE_LIMIT);
	if (st == NFS4ERR_DENIED)
		lock_denied_out(c, &d, &res->nfs_resop4_u.oplockt.LOCKT4res_u.denied, buf);
	return st;
}

nfsstat4 nfs4_op_locku(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	LOCKU4args *a = &arg->nfs_argop4_u.oplocku;
	stateid4 *out = &res->nfs_resop4_u.oplocku.LOCKU4res_u.lock_stateid;
	struct nfs4_fileid fid;
	nfsstat4 st = lock_type_ok(a->locktype);
	if (st == NFS4_OK)
		st = cur_file(c, &fid);
	*out = a->lock_stateid;
	if (st == NFS4_OK)
		st = nfs4_resolve_sid(c, out);
	if (st == NFS4_OK)
		st = nfs4_locku(c->n4->state, &fid, out, a->seqid, c->minor, a->offset, a->length);
	if (st == NFS4_OK)
		set_cur_sid(c, out);
	return st;
}

nfsstat4 nfs4_op_release_lockowner(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)res;
	lock_owner4 *lo = &arg->nfs_argop4_u.oprelease_lockowner.lock_owner;
	struct nfs4_owner_ref ow = {
	    .clientid = lo->clientid, .owner = lo->owner.owner_val, .len = lo->owner.owner_len};
	return nfs4_release_lockowner(c->n4->state, &ow);
}

nfsstat4 nfs4_op_delegreturn(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)res;
	return nfs4_delegreturn(c->n4->state, &arg->nfs_argop4_u.opdelegreturn.deleg_stateid);
}

nfsstat4 nfs4_op_test_stateid(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	TEST_STATEID4args *a = &arg->nfs_argop4_u.optest_stateid;
	TEST_STATEID4resok *ok = &res->nfs_resop4_u.optest_stateid.TEST_STATEID4res_u.tsr_resok4;
	u_int n = a->ts_stateids.ts_stateids_len;
	nfsstat4 *codes = nfs4_alloc(c, (n ? n : 1) * sizeof(*codes));
	if (!codes)
		return NFS4ERR_SERVERFAULT;
	for (u_int i = 0; i < n; i++)
		codes[i] = nfs4_test_stateid(c->n4->state, c->clientid,
					     &a->ts_stateids.ts_stateids_val[i]);
	ok->tsr_status_codes.tsr_status_codes_len = n;
	ok->tsr_status_codes.tsr_status_codes_val = codes;
	return NFS4_OK;
}

nfsstat4 nfs4_op_free_stateid(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)res;
	stateid4 sid = arg->nfs_argop4_u.opfree_stateid.fsa_stateid;
	nfsstat4 st = nfs4_resolve_sid(c, &sid);
	return st == NFS4_OK ? nfs4_free_stateid(c->n4->state, c->clientid, &sid) : st;
}
