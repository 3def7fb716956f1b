/*
 * ops_fs.c — the NFSv4 operations on files and directories: file handles,
 * LOOKUP through the pseudo filesystem into exports, attributes, READ/WRITE,
 * the namespace operations, READDIR, SECINFO, and 4.2's SEEK/ALLOCATE/DEALLOCATE.
 *
 * Each one works on the COMPOUND's current (and saved) file handle, calls the
 * FSAL with the credential squashed for the handle's export, and maps errno
 * through nfs4_err() (server/nfs/errmap). Stateids of READ, WRITE and SETATTR are
 * checked by state.c before any I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "server/nfs4/nfs4_int.h"
#include "server/nfs4/pseudo.h"
#include "server/nfs4/state.h"
#include "server/server.h"

#define COOKIE_BASE 3 /* cookies 1 and 2 are reserved (RFC 7530 §16.24.4) */

static void fileid_of(const struct nfs4_fh *fh, struct nfs4_fileid *id)
{
	id->exp = export_config(fh->obj.exp)->id;
	id->key = fh->obj.key;
}

static nfsstat4 cur_attr(struct nfs4_compound *c, struct fsal_attr *a)
{
	const struct fsobj *o = &c->cur.obj;
	return nfs4_err(o->ops->getattr(o->fs, &o->key, a), true);
}

/* The current FH must be a directory of an export (NOTDIR, SYMLINK otherwise). */
static nfsstat4 cur_dir(struct nfs4_compound *c, nfsstat4 if_pseudo)
{
	enum fsal_type t = FSAL_REG;
	nfsstat4 st = nfs4_cur_obj(c, if_pseudo);
	if (st == NFS4_OK)
		st = nfs4_fh_type(c, &c->cur, &t);
	if (st != NFS4_OK)
		return st;
	if (t == FSAL_LNK)
		return NFS4ERR_SYMLINK;
	return t == FSAL_DIR ? NFS4_OK : NFS4ERR_NOTDIR;
}

/* Enters a pseudo node: the export mounted there, or the node itself. */
static nfsstat4 pseudo_enter(struct nfs4_compound *c, uint32_t node, struct nfs4_fh *fh)
{
	const struct export *e = nfs4_pseudo_export(c->n4->pseudo, node);
	struct fsobj root;
	if (!e) {
		nfs4_fh_set_pseudo(fh, node);
		return NFS4_OK;
	}
	int rc = export_root(e, &root);
	if (rc < 0)
		return nfs4_err(rc, true);
	nfs4_fh_set_obj(c, fh, &root);
	return fh->acc == EXPORT_DENIED ? NFS4ERR_ACCESS : NFS4_OK;
}

nfsstat4 nfs4_op_putrootfh(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)arg;
	(void)res;
	c->have_cur_stateid = false;
	return pseudo_enter(c, PSEUDO_ROOT, &c->cur);
}

nfsstat4 nfs4_op_putpubfh(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	return nfs4_op_putrootfh(c, arg, res); /* the public FH is the root */
}

nfsstat4 nfs4_op_putfh(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)res;
	c->have_cur_stateid = false;
	nfsstat4 st = nfs4_fh_from_wire(c, &arg->nfs_argop4_u.opputfh.object, &c->cur);
	if (st != NFS4_OK)
		c->cur.kind = FH4_NONE;
	return st;
}

nfsstat4 nfs4_op_getfh(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)arg;
	return nfs4_fh_to_wire(c, &c->cur, &res->nfs_resop4_u.opgetfh.GETFH4res_u.resok4.object);
}

nfsstat4 nfs4_op_savefh(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)arg;
	(void)res;
	c->saved = c->cur;
	c->have_saved_stateid = c->have_cur_stateid;
	c->saved_stateid = c->cur_stateid;
	return NFS4_OK;
}

nfsstat4 nfs4_op_restorefh(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)arg;
	(void)res;
	if (c->saved.kind == FH4_NONE)
		return NFS4ERR_RESTOREFH;
	c->cur = c->saved;
	c->have_cur_stateid = c->have_saved_stateid;
	c->cur_stateid = c->saved_stateid;
	return NFS4_OK;
}

static nfsstat4 lookup_obj(struct nfs4_compound *c, const char *name, struct nfs4_fh *out)
{
	struct fsobj obj;
	nfsstat4 st = cur_dir(c, NFS4_OK);
	if (st != NFS4_OK)
		return st;
	export_obj_sibling(&c->cur.obj, &obj);
	int rc = obj.ops->lookup(obj.fs, &c->cur.cred, &c->cur.obj.key, name, &obj.key);
	if (rc < 0)
		return nfs4_err(rc, false);
	nfs4_fh_set_obj(c, out, &obj);
	return NFS4_OK;
}

/* A name in the current directory, pseudo or export, into *out (LOOKUP, SECINFO). */
static nfsstat4 lookup_name(struct nfs4_compound *c, const component4 *name, struct nfs4_fh *out)
{
	char *s;
	nfsstat4 st = nfs4_name(c, name, &s);
	if (st == NFS4ERR_BADNAME)
		st = NFS4ERR_NOENT;
	if (st != NFS4_OK)
		return st;
	if (c->cur.kind == FH4_PSEUDO) {
		uint32_t child;
		if (nfs4_pseudo_lookup(c->n4->pseudo, c->cur.pnode, s, strlen(s), &child) < 0)
			return NFS4ERR_NOENT;
		return pseudo_enter(c, child, out);
	}
	return lookup_obj(c, s, out);
}

nfsstat4 nfs4_op_lookup(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)res;
	struct nfs4_fh fh;
	nfsstat4 st = lookup_name(c, &arg->nfs_argop4_u.oplookup.objname, &fh);
	if (st == NFS4_OK)
		c->cur = fh;
	return st;
}

nfsstat4 nfs4_op_lookupp(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)arg;
	(void)res;
	struct fsobj root;
	uint32_t node;
	if (c->cur.kind == FH4_PSEUDO) {
		if (c->cur.pnode == PSEUDO_ROOT)
			return NFS4ERR_NOENT;
		return pseudo_enter(c, nfs4_pseudo_parent(c->n4->pseudo, c->cur.pnode), &c->cur);
	}
	nfsstat4 st = cur_dir(c, NFS4_OK);
	if (st != NFS4_OK)
		return st;
	if (export_root(c->cur.obj.exp, &root) == 0 && fsal_key_eq(&root.key, &c->cur.obj.key)) {
		/* up out of the export, into the pseudo filesystem */
		if (!nfs4_pseudo_node_of(c->n4->pseudo, c->cur.obj.exp, &node) ||
		    node == PSEUDO_ROOT)
			return NFS4ERR_NOENT;
		nfs4_fh_set_pseudo(&c->cur, nfs4_pseudo_parent(c->n4->pseudo, node));
		return NFS4_OK;
	}
	return lookup_obj(c, "..", &c->cur);
}

nfsstat4 nfs4_op_getattr(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	nfsstat4 st = nfs4_attr_check_get(&arg->nfs_argop4_u.opgetattr.attr_request);
	if (st != NFS4_OK)
		return st;
	return nfs4_attr_get(c, &c->cur, &arg->nfs_argop4_u.opgetattr.attr_request,
			     &res->nfs_resop4_u.opgetattr.GETATTR4res_u.resok4.obj_attributes);
}

static nfsstat4 verify_common(struct nfs4_compound *c, const fattr4 *in, bool want_same)
{
	bool same = false;
	nfsstat4 st = nfs4_attr_compare(c, in, &same);
	if (st != NFS4_OK)
		return st;
	if (same == want_same)
		return NFS4_OK;
	return want_same ? NFS4ERR_NOT_SAME : NFS4ERR_SAME;
}

nfsstat4 nfs4_op_verify(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)res;
	return verify_common(c, &arg->nfs_argop4_u.opverify.obj_attributes, true);
}

nfsstat4 nfs4_op_nverify(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)res;
	return verify_common(c, &arg->nfs_argop4_u.opnverify.obj_attributes, false);
}

/* RFC 7530 §16.1: what the caller may do, from three permission probes. */
nfsstat4 nfs4_op_access(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	uint32_t want = arg->nfs_argop4_u.opaccess.access;
	ACCESS4resok *ok = &res->nfs_resop4_u.opaccess.ACCESS4res_u.resok4;
	const uint32_t all = ACCESS4_READ | ACCESS4_LOOKUP | ACCESS4_MODIFY | ACCESS4_EXTEND |
			     ACCESS4_DELETE | ACCESS4_EXECUTE;
	enum fsal_type t = FSAL_REG;

	const uint32_t dir_bits = all & ~(uint32_t)ACCESS4_EXECUTE;
	const uint32_t file_bits = all & ~(uint32_t)(ACCESS4_LOOKUP | ACCESS4_DELETE);
	/* 4.2 clients that see xattr_support ask for these too (RFC 8276) */
	const uint32_t xa = c->minor >= 2 ? ACCESS4_XAREAD | ACCESS4_XAWRITE | ACCESS4_XALIST : 0;

	if (want & ~(all | xa))
		return NFS4ERR_INVAL;
	if (c->cur.kind == FH4_PSEUDO) {
		ok->supported = want & dir_bits;
		ok->access = want & (ACCESS4_READ | ACCESS4_LOOKUP);
		return NFS4_OK;
	}
	nfsstat4 st = nfs4_fh_type(c, &c->cur, &t);
	if (st != NFS4_OK)
		return st;
	/* RFC 7530 §16.1.4: only the bits that mean something for this type */
	ok->supported = want & ((t == FSAL_DIR ? dir_bits : file_bits) | nfs4_xattr_access(c, t));
	const struct fsobj *o = &c->cur.obj;
	const struct fsal_cred *cr = &c->cur.cred;
	bool r = o->ops->access(o->fs, cr, &o->key, R_OK) == 0;
	bool w = c->cur.acc == EXPORT_RW && o->ops->access(o->fs, cr, &o->key, W_OK) == 0;
	bool x = o->ops->access(o->fs, cr, &o->key, X_OK) == 0;
	bool dir = t == FSAL_DIR;
	uint32_t got = (r ? ACCESS4_READ : 0) | (w ? ACCESS4_MODIFY | ACCESS4_EXTEND : 0) |
		       ((dir && w) ? ACCESS4_DELETE : 0) | ((dir && x) ? ACCESS4_LOOKUP : 0) |
		       ((!dir && x) ? ACCESS4_EXECUTE : 0) |
		       (r ? ACCESS4_XAREAD | ACCESS4_XALIST : 0) | (w ? ACCESS4_XAWRITE : 0);
	ok->access = got & ok->supported;
	return NFS4_OK;
}

nfsstat4 nfs4_op_readlink(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)arg;
	enum fsal_type t = FSAL_REG;
	size_t len;
	nfsstat4 st = nfs4_cur_obj(c, NFS4ERR_INVAL);
	if (st == NFS4_OK)
		st = nfs4_fh_type(c, &c->cur, &t);
	if (st != NFS4_OK)
		return st;
	if (t != FSAL_LNK)
		return NFS4ERR_INVAL; /* RFC 7530 §16.25.5, a directory too */
	char *buf = nfs4_alloc(c, FSAL_PATH_MAX + 1);
	if (!buf)
		return NFS4ERR_SERVERFAULT;
	const struct fsobj *o = &c->cur.obj;
	int rc = o->ops->readlink(o->fs, &c->cur.cred, &o->key, buf, FSAL_PATH_MAX + 1, &len);
	if (rc < 0)
		return nfs4_err(rc, true);
	linktext4 *l = &res->nfs_resop4_u.opreadlink.READLINK4res_u.resok4.link;
	l->linktext4_len = (u_int)len;
	l->linktext4_val = buf;
	return NFS4_OK;
}

/* ---- I/O ---- */

static uint32_t io_clamp(struct nfs4_compound *c, uint32_t count)
{
	uint32_t max = c->ctx->srv->cfg.max_io;
	if (c->max_resp > 512 && max > c->max_resp - 512)
		max = c->max_resp - 512;
	return count < max ? count : max;
}

nfsstat4 nfs4_op_read(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	READ4args *a = &arg->nfs_argop4_u.opread;
	READ4resok *ok = &res->nfs_resop4_u.opread.READ4res_u.resok4;
	struct nfs4_fileid fid;
	size_t n = 0;
	bool eof = false;

	nfsstat4 st = nfs4_cur_reg(c);
	if (st != NFS4_OK)
		return st;
	uint32_t count = io_clamp(c, a->count);
	st = nfs4_resolve_sid(c, &a->stateid);
	if (st != NFS4_OK)
		return st;
	fileid_of(&c->cur, &fid);
	st = nfs4_stateid_check(c->n4->state, &a->stateid, &fid, OPEN4_SHARE_ACCESS_READ, a->offset,
				count, c->minor, c->clientid);
	if (st != NFS4_OK)
		return st;
	if (a->offset > INT64_MAX) {
		ok->eof = TRUE; /* past any file the FSAL can hold */
		return NFS4_OK;
	}
	if (count > INT64_MAX - a->offset)
		count = (uint32_t)(INT64_MAX - a->offset); /* up to the largest offset */
	const struct fsobj *o = &c->cur.obj;
	int pipe_wr = o->ops->read_splice && count && nfs4_read_may_splice(c)
			  ? rpc_req_pipe(c->ctx->rpc, count)
			  : -1;
	if (pipe_wr >= 0) {
		/* the data goes from the page cache to the socket (nfs3_read) */
		int rc = o->ops->read_splice(o->fs, &c->cur.cred, &o->key, a->offset, count,
					     pipe_wr, &n, &eof);
		if (rc != -EOPNOTSUPP) {
			if (rc < 0)
				return nfs4_err(rc, true);
			ok->eof = eof;
			ok->data.data_len = 0;
			c->ctx->tail_piped = true;
			c->ctx->tail_len = n;
			return NFS4_OK;
		}
	}
	char *buf = arena_alloc_raw(c->ctx->arena, count ? count : 1);
	if (!buf)
		return NFS4ERR_SERVERFAULT;
	int rc = o->ops->read(o->fs, &c->cur.cred, &o->key, a->offset, buf, count, &n, &eof);
	if (rc < 0)
		return nfs4_err(rc, true);
	ok->eof = eof;
	ok->data.data_len = (u_int)n;
	ok->data.data_val = buf;
	return NFS4_OK;
}

nfsstat4 nfs4_op_write(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	WRITE4args *a = &arg->nfs_argop4_u.opwrite;
	WRITE4resok *ok = &res->nfs_resop4_u.opwrite.WRITE4res_u.resok4;
	struct nfs4_fileid fid;
	size_t n = 0;

	nfsstat4 st = nfs4_cur_reg(c);
	if (st != NFS4_OK)
		return st;
	if (a->data.data_len > c->ctx->srv->cfg.max_io)
		return NFS4ERR_INVAL;
	if (a->offset + a->data.data_len < a->offset)
		return NFS4ERR_FBIG;
	st = nfs4_resolve_sid(c, &a->stateid);
	if (st != NFS4_OK)
		return st;
	fileid_of(&c->cur, &fid);
	st = nfs4_stateid_check(c->n4->state, &a->stateid, &fid, OPEN4_SHARE_ACCESS_WRITE,
				a->offset, a->data.data_len, c->minor, c->clientid);
	if (st != NFS4_OK)
		return st;
	const struct fsobj *o = &c->cur.obj;
	int rc = o->ops->write(o->fs, &c->cur.cred, &o->key, a->offset, a->data.data_val,
			       a->data.data_len, (enum fsal_stable)a->stable, &n);
	if (rc < 0)
		return nfs4_err(rc, true);
	ok->count = (count4)n;
	ok->committed = a->stable;
	memcpy(ok->writeverf, c->ctx->srv->write_verf, NFS4_VERIFIER_SIZE);
	return NFS4_OK;
}

nfsstat4 nfs4_op_commit(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	COMMIT4args *a = &arg->nfs_argop4_u.opcommit;
	nfsstat4 st = nfs4_cur_reg(c);
	if (st != NFS4_OK)
		return st;
	if (a->count && a->offset + a->count < a->offset)
		return NFS4ERR_INVAL;
	const struct fsobj *o = &c->cur.obj;
	int rc = o->ops->commit(o->fs, &o->key, a->offset, a->count);
	if (rc < 0)
		return nfs4_err(rc, true);
	memcpy(res->nfs_resop4_u.opcommit.COMMIT4res_u.resok4.writeverf, c->ctx->srv->write_verf,
	       NFS4_VERIFIER_SIZE);
	return NFS4_OK;
}

/* ---- SETATTR ---- */

nfsstat4 nfs4_op_setattr(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	SETATTR4args *a = &arg->nfs_argop4_u.opsetattr;
	SETATTR4res *r = &res->nfs_resop4_u.opsetattr;
	struct nfs4_sattr s;
	struct nfs4_fileid fid;

	nfsstat4 st = nfs4_cur_obj(c, NFS4ERR_ROFS);
	if (st == NFS4_OK)
		st = nfs4_attr_decode_set(c, &a->obj_attributes, &s);
	if (st != NFS4_OK)
		return st;
	if (s.sa.mask & FSAL_SET_SIZE) {
		st = nfs4_cur_reg(c);
		if (st != NFS4_OK)
			return st == NFS4ERR_ISDIR ? NFS4ERR_ISDIR : NFS4ERR_INVAL;
		st = nfs4_resolve_sid(c, &a->stateid);
		if (st != NFS4_OK)
			return st;
		fileid_of(&c->cur, &fid);
		st = nfs4_stateid_check(c->n4->state, &a->stateid, &fid, OPEN4_SHARE_ACCESS_WRITE,
					s.sa.size, UINT64_MAX, c->minor, c->clientid);
		if (st != NFS4_OK)
			return st;
	}
	enum fsal_type t = FSAL_REG;
	if ((s.sa.mask & FSAL_SET_MODE) && nfs4_fh_type(c, &c->cur, &t) == NFS4_OK && t == FSAL_LNK)
		s.sa.mask &= ~(uint32_t)FSAL_SET_MODE; /* a symlink has no mode to set (knfsd) */
	const struct fsobj *o = &c->cur.obj;
	int rc = s.sa.mask ? o->ops->setattr(o->fs, &c->cur.cred, &o->key, &s.sa) : 0;
	if (rc < 0)
		return nfs4_err(rc, true);
	uint32_t *words = nfs4_alloc(c, sizeof(s.setwords));
	if (!words)
		return NFS4ERR_SERVERFAULT;
	memcpy(words, s.setwords, sizeof(s.setwords));
	r->attrsset.bitmap4_len = s.set.bitmap4_len;
	r->attrsset.bitmap4_val = words;
	return NFS4_OK;
}

/* ---- namespace ---- */

static nfsstat4 make_obj(struct nfs4_compound *c, const CREATE4args *a, const char *name,
			 uint32_t mode, struct fsobj *obj)
{
	const struct fsobj *d = &c->cur.obj;
	const struct fsal_cred *cr = &c->cur.cred;
	const createtype4 *t = &a->objtype;
	int rc;
	export_obj_sibling(d, obj);
	switch (t->type) {
	case NF4DIR:
		rc = d->ops->mkdir(d->fs, cr, &d->key, name, mode, &obj->key);
		break;
	case NF4LNK: {
		size_t len = t->createtype4_u.linkdata.linktext4_len;
		char *target = nfs4_alloc(c, len + 1);
		if (!target)
			return NFS4ERR_SERVERFAULT;
		if (!len)
			return NFS4ERR_INVAL;
		memcpy(target, t->createtype4_u.linkdata.linktext4_val, len);
		rc = d->ops->symlink(d->fs, cr, &d->key, name, target, &obj->key);
		break;
	}
	case NF4BLK:
	case NF4CHR:
		rc = d->ops->mknod(d->fs, cr, &d->key, name, (enum fsal_type)t->type, mode,
				   t->createtype4_u.devdata.specdata1,
				   t->createtype4_u.devdata.specdata2, &obj->key);
		break;
	case NF4SOCK:
	case NF4FIFO:
		rc = d->ops->mknod(d->fs, cr, &d->key, name, (enum fsal_type)t->type, mode, 0, 0,
				   &obj->key);
		break;
	default:
		return NFS4ERR_BADTYPE;
	}
	return rc < 0 ? nfs4_err(rc, false) : NFS4_OK;
}

nfsstat4 nfs4_op_create(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	CREATE4args *a = &arg->nfs_argop4_u.opcreate;
	CREATE4resok *ok = &res->nfs_resop4_u.opcreate.CREATE4res_u.resok4;
	struct fsal_attr before, after;
	struct nfs4_sattr s;
	struct fsobj obj;
	char *name;

	nfsstat4 st = cur_dir(c, NFS4ERR_ROFS);
	if (st == NFS4_OK && a->objtype.type == NF4REG)
		st = NFS4ERR_BADTYPE;
	if (st == NFS4_OK)
		st = nfs4_name(c, &a->objname, &name);
	if (st == NFS4_OK)
		st = nfs4_attr_decode_set(c, &a->createattrs, &s);
	if (st == NFS4_OK)
		st = cur_attr(c, &before);
	if (st != NFS4_OK)
		return st;
	uint32_t mode = (s.sa.mask & FSAL_SET_MODE) ? s.sa.mode
			: a->objtype.type == NF4DIR ? 0755
						    : 0644;
	st = make_obj(c, a, name, mode, &obj);
	if (st != NFS4_OK)
		return st;
	s.sa.mask &= ~(uint32_t)FSAL_SET_MODE;
	if (s.sa.mask && a->objtype.type != NF4LNK)
		(void)obj.ops->setattr(obj.fs, &c->cur.cred, &obj.key, &s.sa);
	if (cur_attr(c, &after) != NFS4_OK)
		after = before;
	nfs4_cinfo(&ok->cinfo, &before, &after);
	uint32_t *words = nfs4_alloc(c, sizeof(s.setwords));
	if (!words)
		return NFS4ERR_SERVERFAULT;
	memcpy(words, s.setwords, sizeof(s.setwords));
	ok->attrset.bitmap4_len = s.set.bitmap4_len;
	ok->attrset.bitmap4_val = words;
	nfs4_fh_set_obj(c, &c->cur, &obj);
	return NFS4_OK;
}

nfsstat4 nfs4_op_remove(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	REMOVE4resok *ok = &res->nfs_resop4_u.opremove.REMOVE4res_u.resok4;
	struct fsal_attr before, after, ta;
	struct fsobj target;
	char *name;

	nfsstat4 st = cur_dir(c, NFS4ERR_ROFS);
	if (st == NFS4_OK)
		st = nfs4_name(c, &arg->nfs_argop4_u.opremove.target, &name);
	if (st == NFS4_OK)
		st = cur_attr(c, &before);
	if (st != NFS4_OK)
		return st;
	const struct fsobj *d = &c->cur.obj;
	export_obj_sibling(d, &target);
	int rc = d->ops->lookup(d->fs, &c->cur.cred, &d->key, name, &target.key);
	if (rc == 0)
		rc = target.ops->getattr(target.fs, &target.key, &ta);
	if (rc == 0)
		rc = d->ops->remove(d->fs, &c->cur.cred, &d->key, name, ta.type == FSAL_DIR);
	if (rc < 0)
		return nfs4_err(rc, false);
	if (cur_attr(c, &after) != NFS4_OK)
		after = before;
	nfs4_cinfo(&ok->cinfo, &before, &after);
	return NFS4_OK;
}

/* RENAME and LINK: the saved FH and the current one must be in one export. */
static nfsstat4 two_dirs(struct nfs4_compound *c, bool saved_is_dir)
{
	if (c->saved.kind == FH4_NONE)
		return NFS4ERR_NOFILEHANDLE;
	if (c->saved.kind == FH4_PSEUDO || c->cur.kind == FH4_PSEUDO)
		return c->saved.kind == c->cur.kind ? NFS4ERR_ROFS : NFS4ERR_XDEV;
	if (c->saved.obj.exp != c->cur.obj.exp)
		return NFS4ERR_XDEV;
	enum fsal_type t = FSAL_REG;
	nfsstat4 st = nfs4_fh_type(c, &c->saved, &t);
	if (st == NFS4_OK && saved_is_dir && t != FSAL_DIR)
		st = NFS4ERR_NOTDIR;
	if (st == NFS4_OK && !saved_is_dir && t == FSAL_DIR)
		st = NFS4ERR_ISDIR;
	return st;
}

nfsstat4 nfs4_op_rename(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	RENAME4args *a = &arg->nfs_argop4_u.oprename;
	RENAME4resok *ok = &res->nfs_resop4_u.oprename.RENAME4res_u.resok4;
	struct fsal_attr sb, sa, tb, ta;
	char *from, *to;

	nfsstat4 st = two_dirs(c, true);
	if (st == NFS4_OK)
		st = cur_dir(c, NFS4ERR_ROFS);
	if (st == NFS4_OK)
		st = nfs4_name(c, &a->oldname, &from);
	if (st == NFS4_OK)
		st = nfs4_name(c, &a->newname, &to);
	if (st == NFS4_OK)
		st = cur_attr(c, &tb);
	if (st != NFS4_OK)
		return st;
	const struct fsobj *sd = &c->saved.obj, *td = &c->cur.obj;
	if (sd->ops->getattr(sd->fs, &sd->key, &sb) < 0)
		return NFS4ERR_STALE;
	int rc = sd->ops->rename(sd->fs, &c->cur.cred, &sd->key, from, &td->key, to);
	if (rc < 0)
		return nfs4_err(rc, false);
	if (sd->ops->getattr(sd->fs, &sd->key, &sa) < 0)
		sa = sb;
	if (cur_attr(c, &ta) != NFS4_OK)
		ta = tb;
	nfs4_cinfo(&ok->source_cinfo, &sb, &sa);
	nfs4_cinfo(&ok->target_cinfo, &tb, &ta);
	return NFS4_OK;
}

nfsstat4 nfs4_op_link(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	LINK4resok *ok = &res->nfs_resop4_u.oplink.LINK4res_u.resok4;
	struct fsal_attr before, after;
	char *name;

	nfsstat4 st = two_dirs(c, false);
	if (st == NFS4_OK)
		st = cur_dir(c, NFS4ERR_ROFS);
	if (st == NFS4_OK)
		st = nfs4_name(c, &arg->nfs_argop4_u.oplink.newname, &name);
	if (st == NFS4_OK)
		st = cur_attr(c, &before);
	if (st != NFS4_OK)
		return st;
	const struct fsobj *f = &c->saved.obj, *d = &c->cur.obj;
	int rc = f->ops->link(f->fs, &c->cur.cred, &f->key, &d->key, name);
	if (rc < 0)
		return nfs4_err(rc, false);
	if (cur_attr(c, &after) != NFS4_OK)
		after = before;
	nfs4_cinfo(&ok->cinfo, &before, &after);
	return NFS4_OK;
}

/* ---- SECINFO ---- */

static nfsstat4 secinfo_fill(struct nfs4_compound *c, SECINFO4resok *ok)
{
	secinfo4 *v = nfs4_alloc(c, 2 * sizeof(*v));
	if (!v)
		return NFS4ERR_SERVERFAULT;
	v[0].flavor = 1; /* AUTH_SYS */
	v[1].flavor = 0; /* AUTH_NONE: squashed to the anonymous id */
	ok->SECINFO4resok_len = 2;
	ok->SECINFO4resok_val = v;
	/* RFC 8881 §2.6.3.1.1.8: SECINFO consumes the current FH */
	if (c->minor)
		c->cur.kind = FH4_NONE;
	return NFS4_OK;
}

nfsstat4 nfs4_op_secinfo(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	struct nfs4_fh fh;
	nfsstat4 st = lookup_name(c, &arg->nfs_argop4_u.opsecinfo.name, &fh);
	if (st != NFS4_OK)
		return st;
	return secinfo_fill(c, &res->nfs_resop4_u.opsecinfo.SECINFO4res_u.resok4);
}

nfsstat4 nfs4_op_secinfo_no_name(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	secinfo_style4 style = arg->nfs_argop4_u.opsecinfo_no_name;
	if (style != SECINFO_STYLE4_CURRENT_FH && style != SECINFO_STYLE4_PARENT)
		return NFS4ERR_INVAL;
	if (style == SECINFO_STYLE4_PARENT) {
		nfsstat4 st = nfs4_op_lookupp(c, arg, res);
		if (st != NFS4_OK)
			return st;
	}
	return secinfo_fill(c, &res->nfs_resop4_u.opsecinfo_no_name.SECINFO4res_u.resok4);
}

/* ---- READDIR ---- */

struct rd4 {
	struct nfs4_compound *c;
	const bitmap4 *req;
	uint32_t budget;
	entry4 *head, **tail;
	unsigned count;
	nfsstat4 err;
	bool stopped;
};

/* An entry's attributes; an error is the entry's rdattr_error when asked for. */
static nfsstat4 rd_attrs(struct rd4 *r, struct nfs4_fh *fh, bool ok, nfsstat4 why, fattr4 *out)
{
	struct fsal_attr a;
	struct nfs4_attr_src src = {.fh = fh};
	int rc = ok && fh->kind == FH4_OBJ ? fh->obj.ops->getattr(fh->obj.fs, &fh->obj.key, &a) : 0;
	if (rc < 0) {
		ok = false;
		why = nfs4_err(rc, true);
	}
	if (!ok) {
		if (!nfs4_bitmap_isset(r->req, FATTR4_RDATTR_ERROR))
			return why;
		uint32_t w = 1u << FATTR4_RDATTR_ERROR;
		bitmap4 only = {1, &w};
		src.rdattr_error = why;
		return nfs4_attr_encode(r->c, &only, &src, out);
	}
	src.a = fh->kind == FH4_OBJ ? &a : NULL;
	return nfs4_attr_encode(r->c, r->req, &src, out);
}

static bool rd_add(struct rd4 *r, const char *name, size_t namelen, uint64_t cookie,
		   struct nfs4_fh *fh, bool ok, nfsstat4 why)
{
	entry4 *e = nfs4_alloc(r->c, sizeof(*e) + namelen + 1);
	if (!e) {
		r->err = NFS4ERR_SERVERFAULT;
		return false;
	}
	char *s = (char *)(e + 1);
	memcpy(s, name, namelen);
	nfsstat4 st = rd_attrs(r, fh, ok, why, &e->attrs);
	if (st != NFS4_OK) {
		r->err = st;
		return false;
	}
	uint32_t cost = 8 + 4 + ((uint32_t)namelen + 3u) / 4u * 4u + 4 +
			e->attrs.attrmask.bitmap4_len * 4 + 4 + e->attrs.attr_vals.attrlist4_len +
			4;
	if (cost > r->budget) {
		r->stopped = true;
		return false;
	}
	r->budget -= cost;
	e->cookie = cookie;
	e->name.utf8string_len = (u_int)namelen;
	e->name.utf8string_val = s;
	*r->tail = e;
	r->tail = &e->nextentry;
	r->count++;
	return true;
}

static bool rd_entry_cb(void *arg, const struct fsal_dir *at, const char *name, size_t namelen,
			uint64_t fileid, uint64_t cookie)
{
	struct rd4 *r = arg;
	struct nfs4_fh fh;
	struct fsobj obj;
	char nm[FSAL_NAME_MAX + 1];
	(void)fileid;
	if (namelen > FSAL_NAME_MAX)
		return true;
	memcpy(nm, name, namelen);
	nm[namelen] = 0;
	struct nfs4_fh *dir = &r->c->cur;
	export_obj_sibling(&dir->obj, &obj);
	int rc = obj.ops->lookup_at(obj.fs, &dir->cred, at, nm, &obj.key, NULL);
	fh = *dir;
	if (rc == 0)
		nfs4_fh_set_obj(r->c, &fh, &obj);
	return rd_add(r, name, namelen, cookie + COOKIE_BASE, &fh, rc == 0, nfs4_err(rc, false));
}

static void rd_pseudo(struct rd4 *r, uint64_t cookie, bool *eof)
{
	uint32_t dir = r->c->cur.pnode, child;
	uint32_t after = cookie ? (uint32_t)(cookie - COOKIE_BASE) : UINT32_MAX;
	*eof = false;
	while (nfs4_pseudo_next_child(r->c->n4->pseudo, dir, after, &child)) {
		struct nfs4_fh fh;
		nfsstat4 st = pseudo_enter(r->c, child, &fh);
		const char *name = nfs4_pseudo_name(r->c->n4->pseudo, child);
		if (!rd_add(r, name, strlen(name), (uint64_t)child + COOKIE_BASE, &fh,
			    st == NFS4_OK, st))
			return;
		after = child;
	}
	*eof = true;
}

static nfsstat4 rd_check(struct nfs4_compound *c, const READDIR4args *a)
{
	if (a->cookie == 1 || a->cookie == 2)
		return NFS4ERR_BAD_COOKIE;
	if (nfs4_attr_check_get(&a->attr_request) != NFS4_OK)
		return NFS4ERR_INVAL;
	if (c->cur.kind == FH4_PSEUDO)
		return NFS4_OK;
	return cur_dir(c, NFS4_OK);
}

nfsstat4 nfs4_op_readdir(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	READDIR4args *a = &arg->nfs_argop4_u.opreaddir;
	READDIR4resok *ok = &res->nfs_resop4_u.opreaddir.READDIR4res_u.resok4;
	bool eof = false;
	nfsstat4 st = rd_check(c, a);
	if (st != NFS4_OK)
		return st;
	uint32_t max = io_clamp(c, a->maxcount);
	const uint32_t overhead = 8 + 4 + 4; /* cookieverf, no-more-entries, eof */
	if (max < overhead)
		return NFS4ERR_TOOSMALL;
	struct rd4 r = {.c = c, .req = &a->attr_request, .budget = max - overhead};
	r.tail = &ok->reply.entries;
	if (c->cur.kind == FH4_PSEUDO) {
		rd_pseudo(&r, a->cookie, &eof);
	} else {
		const struct fsobj *d = &c->cur.obj;
		uint64_t cookie = a->cookie ? a->cookie - COOKIE_BASE : 0;
		int rc =
		    d->ops->readdir(d->fs, &c->cur.cred, &d->key, cookie, rd_entry_cb, &r, &eof);
		if (rc < 0)
			return nfs4_err(rc, true);
	}
	if (r.err != NFS4_OK)
		return r.err;
	if (r.count == 0 && !eof)
		return NFS4ERR_TOOSMALL;
	ok->reply.eof = eof && !r.stopped;
	memset(ok->cookieverf, 0, NFS4_VERIFIER_SIZE);
	return NFS4_OK;
}

/* ---- 4.2 ---- */

static nfsstat4 space_op(struct nfs4_compound *c, stateid4 *sid, uint64_t off, uint64_t len,
			 bool punch)
{
	struct nfs4_fileid fid;
	nfsstat4 st = nfs4_cur_reg(c);
	if (st != NFS4_OK)
		return st;
	if (len == 0 || off + len < off)
		return NFS4ERR_INVAL;
	st = nfs4_resolve_sid(c, sid);
	if (st != NFS4_OK)
		return st;
	fileid_of(&c->cur, &fid);
	st = nfs4_stateid_check(c->n4->state, sid, &fid, OPEN4_SHARE_ACCESS_WRITE, off, len,
				c->minor, c->clientid);
	if (st != NFS4_OK)
		return st;
	const struct fsobj *o = &c->cur.obj;
	if (!o->ops->allocate)
		return NFS4ERR_NOTSUPP;
	return nfs4_err(o->ops->allocate(o->fs, &c->cur.cred, &o->key, off, len, punch), true);
}

nfsstat4 nfs4_op_allocate(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)res;
	ALLOCATE4args *a = &arg->nfs_argop4_u.opallocate;
	return space_op(c, &a->aa_stateid, a->aa_offset, a->aa_length, false);
}

nfsstat4 nfs4_op_deallocate(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)res;
	DEALLOCATE4args *a = &arg->nfs_argop4_u.opdeallocate;
	return space_op(c, &a->da_stateid, a->da_offset, a->da_length, true);
}

nfsstat4 nfs4_op_seek(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	SEEK4args *a = &arg->nfs_argop4_u.opseek;
	seek_res4 *ok = &res->nfs_resop4_u.opseek.SEEK4res_u.resok4;
	struct nfs4_fileid fid;
	uint64_t where;
	bool eof;

	nfsstat4 st = nfs4_cur_reg(c);
	if (st != NFS4_OK)
		return st;
	if (a->sa_what != NFS4_CONTENT_DATA && a->sa_what != NFS4_CONTENT_HOLE)
		return NFS4ERR_UNION_NOTSUPP;
	fileid_of(&c->cur, &fid);
	st = nfs4_resolve_sid(c, &a->sa_stateid);
	if (st != NFS4_OK)
		return st;
	st = nfs4_stateid_check(c->n4->state, &a->sa_stateid, &fid, OPEN4_SHARE_ACCESS_READ,
				a->sa_offset, 0, c->minor, c->clientid);
	if (st != NFS4_OK)
		return st;
	const struct fsobj *o = &c->cur.obj;
	if (!o->ops->seek)
		return NFS4ERR_NOTSUPP;
	int rc = o->ops->seek(o->fs, &c->cur.cred, &o->key, a->sa_offset,
			      a->sa_what == NFS4_CONTENT_DATA, &where, &eof);
	if (rc == -ENXIO)
		return NFS4ERR_NXIO;
	if (rc < 0)
		return nfs4_err(rc, true);
	ok->sr_eof = eof;
	ok->sr_offset = where;
	return NFS4_OK;
}
