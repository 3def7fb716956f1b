/*
 * nfs3.c — the NFSv3 procedures (RFC 1813), one function each, and their table.
 *
 * Each handler resolves its handles (nfs3_fh: BADHANDLE, STALE, ACCES for a client
 * the export does not list, ROFS for a modifying procedure on a read-only export,
 * and the squashed credential), calls the FSAL, and fills the result. It never
 * sees XDR (rpcgen's routines do that in the dispatcher) and never invents status
 * codes: errno goes through errmap_nfs3() with the context it arose in.
 *
 * Results live in the request's arena (dispatch.h) until the reply is encoded.
 * Weak cache consistency data (pre/post attributes) is best effort, as the RFC
 * allows: a failed getattr just omits it.
 *
 * Left out for now: UDP, NLM locking.
 * READDIR does not return "." and ".." (the RFC does not require them; Linux
 * clients synthesise them), and the cookie verifier is always zero, as in knfsd:
 * cookies are filesystem offsets that stay valid while the directory changes.
 */
#include "server/nfs3/nfs3.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "server/log/log.h"
#include "server/nfs/errmap.h"
#include "server/server.h"
#include "server/xdr/nfs3_prot.h"

#define NFS3_PROGRAM 100003
#define NFS3_VERSION 3

/* ---- handles, names, attributes ---------------------------------------- */

static nfsstat3 nfs3_fh(struct req_ctx *ctx, const nfs_fh3 *fh, struct fsobj *obj,
			struct fsal_cred *cred)
{
	int rc = export_fh_decode(ctx->srv->exports, (const uint8_t *)fh->data.data_val,
				  fh->data.data_len, obj);
	if (rc == -EBADMSG)
		return NFS3ERR_BADHANDLE;
	if (rc < 0)
		return NFS3ERR_STALE;
	enum export_access acc = export_client_access(obj->exp, ctx->remote);
	if (acc == EXPORT_DENIED)
		return NFS3ERR_ACCES;
	if (acc == EXPORT_RO && (ctx->flags & PROC_MODIFIES))
		return NFS3ERR_ROFS;
	export_squash(obj->exp, ctx->flavor == RPC_AUTH_SYS, &ctx->cred, cred);
	return NFS3_OK;
}

/* Resolves a handle and reads its attributes: most procedures start so. */
static nfsstat3 nfs3_fh_attr(struct req_ctx *ctx, const nfs_fh3 *fh, struct fsobj *o,
			     struct fsal_cred *cred, struct fsal_attr *a)
{
	nfsstat3 st = nfs3_fh(ctx, fh, o, cred);
	if (st != NFS3_OK)
		return st;
	return errmap_nfs3(o->ops->getattr(o->fs, &o->key, a), ERRCTX_FH);
}

/* Both handles of a two-directory procedure must be in one export (RFC 1813 §3.3.14). */
static nfsstat3 nfs3_fh_pair(struct req_ctx *ctx, const nfs_fh3 *a, const nfs_fh3 *b,
			     struct fsobj *oa, struct fsobj *ob, struct fsal_cred *cred)
{
	struct fsal_cred unused;
	nfsstat3 st = nfs3_fh(ctx, a, oa, cred);
	if (st == NFS3_OK)
		st = nfs3_fh(ctx, b, ob, &unused);
	if (st == NFS3_OK && oa->exp != ob->exp)
		st = NFS3ERR_XDEV;
	return st;
}

/* A name that will be created (or removed): one component, not "." or "..". */
static nfsstat3 nfs3_name(const char *name, nfsstat3 if_dot)
{
	if (!name || !name[0])
		return NFS3ERR_ACCES;
	size_t len = strlen(name);
	if (len > FSAL_NAME_MAX)
		return NFS3ERR_NAMETOOLONG;
	if (strchr(name, '/'))
		return NFS3ERR_ACCES;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return if_dot;
	return NFS3_OK;
}

static void nfs3_time(nfstime3 *t, const struct timespec *ts)
{
	t->seconds = (uint32)ts->tv_sec;
	t->nseconds = (uint32)ts->tv_nsec;
}

static void nfs3_fattr(fattr3 *f, const struct fsal_attr *a)
{
	f->type = (ftype3)a->type;
	f->mode = a->mode;
	f->nlink = a->nlink;
	f->uid = a->uid;
	f->gid = a->gid;
	f->size = a->size;
	f->used = a->used;
	f->rdev.specdata1 = a->rdev_major;
	f->rdev.specdata2 = a->rdev_minor;
	f->fsid = a->fsid;
	f->fileid = a->fileid;
	nfs3_time(&f->atime, &a->atime);
	nfs3_time(&f->mtime, &a->mtime);
	nfs3_time(&f->ctime, &a->ctime);
}

static void nfs3_post_attr(const struct fsal_attr *a, post_op_attr *p)
{
	p->attributes_follow = TRUE;
	nfs3_fattr(&p->post_op_attr_u.attributes, a);
}

static void nfs3_post_op(const struct fsobj *o, post_op_attr *p)
{
	struct fsal_attr a;
	p->attributes_follow = o->ops->getattr(o->fs, &o->key, &a) == 0;
	if (p->attributes_follow)
		nfs3_fattr(&p->post_op_attr_u.attributes, &a);
}

static void nfs3_pre_attr(const struct fsal_attr *a, pre_op_attr *p)
{
	p->attributes_follow = TRUE;
	p->pre_op_attr_u.attributes.size = a->size;
	nfs3_time(&p->pre_op_attr_u.attributes.mtime, &a->mtime);
	nfs3_time(&p->pre_op_attr_u.attributes.ctime, &a->ctime);
}

static void nfs3_pre_op(const struct fsobj *o, pre_op_attr *p)
{
	struct fsal_attr a;
	p->attributes_follow = FALSE;
	if (o->ops->getattr(o->fs, &o->key, &a) == 0)
		nfs3_pre_attr(&a, p);
}

static bool nfs3_fh_out(struct req_ctx *ctx, const struct fsobj *o, nfs_fh3 *fh)
{
	uint8_t *buf = arena_alloc(ctx->arena, EXPORT_FH_MAX);
	if (!buf)
		return false;
	fh->data.data_len = (u_int)export_fh_encode(ctx->srv->exports, o, buf);
	fh->data.data_val = (char *)buf;
	return true;
}

static void nfs3_sattr(const sattr3 *s, struct fsal_setattr *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (s->mode.set_it) {
		sa->mask |= FSAL_SET_MODE;
		sa->mode = s->mode.set_mode3_u.mode & 07777;
	}
	if (s->uid.set_it) {
		sa->mask |= FSAL_SET_UID;
		sa->uid = s->uid.set_uid3_u.uid;
	}
	if (s->gid.set_it) {
		sa->mask |= FSAL_SET_GID;
		sa->gid = s->gid.set_gid3_u.gid;
	}
	if (s->size.set_it) {
		sa->mask |= FSAL_SET_SIZE;
		sa->size = s->size.set_size3_u.size;
	}
	if (s->atime.set_it == SET_TO_SERVER_TIME)
		sa->mask |= FSAL_SET_ATIME_NOW;
	if (s->atime.set_it == SET_TO_CLIENT_TIME) {
		sa->mask |= FSAL_SET_ATIME;
		sa->atime.tv_sec = s->atime.set_atime_u.atime.seconds;
		sa->atime.tv_nsec = s->atime.set_atime_u.atime.nseconds;
	}
	if (s->mtime.set_it == SET_TO_SERVER_TIME)
		sa->mask |= FSAL_SET_MTIME_NOW;
	if (s->mtime.set_it == SET_TO_CLIENT_TIME) {
		sa->mask |= FSAL_SET_MTIME;
		sa->mtime.tv_sec = s->mtime.set_mtime_u.mtime.seconds;
		sa->mtime.tv_nsec = s->mtime.set_mtime_u.mtime.nseconds;
	}
}

/* ---- procedures ---------------------------------------------------------- */

static void nfs3_null(struct req_ctx *ctx, void *args, void *res)
{
	(void)ctx;
	(void)args;
	(void)res;
}

static void nfs3_getattr(struct req_ctx *ctx, void *argp, void *resp)
{
	GETATTR3args *args = argp;
	GETATTR3res *res = resp;
	struct fsobj o;
	struct fsal_cred cred;
	struct fsal_attr a;

	res->status = nfs3_fh_attr(ctx, &args->object, &o, &cred, &a);
	if (res->status == NFS3_OK)
		nfs3_fattr(&res->GETATTR3res_u.resok.obj_attributes, &a);
}

static bool nfs3_ctime_eq(const struct fsal_attr *a, const nfstime3 *t)
{
	return (uint32)a->ctime.tv_sec == t->seconds && (uint32)a->ctime.tv_nsec == t->nseconds;
}

static void nfs3_setattr(struct req_ctx *ctx, void *argp, void *resp)
{
	SETATTR3args *args = argp;
	SETATTR3res *res = resp;
	wcc_data *wcc = &res->SETATTR3res_u.resok.obj_wcc; /* same place in resfail */
	struct fsobj o;
	struct fsal_cred cred;
	struct fsal_attr a;
	struct fsal_setattr sa;

	res->status = nfs3_fh_attr(ctx, &args->object, &o, &cred, &a);
	if (res->status != NFS3_OK)
		return;
	nfs3_pre_attr(&a, &wcc->before);
	if (args->guard.check && !nfs3_ctime_eq(&a, &args->guard.sattrguard3_u.obj_ctime)) {
		res->status = NFS3ERR_NOT_SYNC; /* RFC 1813 §3.3.2: the guard failed */
		nfs3_post_op(&o, &wcc->after);
		return;
	}
	nfs3_sattr(&args->new_attributes, &sa);
	int rc = sa.mask ? o.ops->setattr(o.fs, &cred, &o.key, &sa) : 0;
	res->status = errmap_nfs3(rc, ERRCTX_FH);
	nfs3_post_op(&o, &wcc->after);
}

static void nfs3_lookup(struct req_ctx *ctx, void *argp, void *resp)
{
	LOOKUP3args *args = argp;
	LOOKUP3res *res = resp;
	struct fsobj dir, obj;
	struct fsal_cred cred;

	res->status = nfs3_fh(ctx, &args->what.dir, &dir, &cred);
	if (res->status != NFS3_OK)
		return;
	const char *name = args->what.name;
	if (!name || !name[0] || strlen(name) > FSAL_NAME_MAX) {
		res->status = name && name[0] ? NFS3ERR_NAMETOOLONG : NFS3ERR_NOENT;
		nfs3_post_op(&dir, &res->LOOKUP3res_u.resfail.dir_attributes);
		return;
	}
	export_obj_sibling(&dir, &obj);
	int rc = dir.ops->lookup(dir.fs, &cred, &dir.key, name, &obj.key);
	res->status = errmap_nfs3(rc, ERRCTX_NAME);
	if (rc < 0) {
		nfs3_post_op(&dir, &res->LOOKUP3res_u.resfail.dir_attributes);
		return;
	}
	LOOKUP3resok *ok = &res->LOOKUP3res_u.resok;
	if (!nfs3_fh_out(ctx, &obj, &ok->object)) {
		res->status = NFS3ERR_SERVERFAULT;
		return;
	}
	nfs3_post_op(&obj, &ok->obj_attributes);
	nfs3_post_op(&dir, &ok->dir_attributes);
}

/* RFC 1813 §3.3.4: what the caller may do, from three permission probes. */
static uint32 nfs3_access_bits(const struct fsobj *o, const struct fsal_cred *cred,
			       const struct fsal_attr *a, uint32 want, bool ro)
{
	bool r = o->ops->access(o->fs, cred, &o->key, R_OK) == 0;
	bool w = !ro && o->ops->access(o->fs, cred, &o->key, W_OK) == 0;
	bool x = o->ops->access(o->fs, cred, &o->key, X_OK) == 0;
	bool dir = a->type == FSAL_DIR;
	uint32 got = 0;

	got |= r ? ACCESS3_READ : 0;
	got |= w ? ACCESS3_MODIFY | ACCESS3_EXTEND : 0;
	got |= (dir && w) ? ACCESS3_DELETE : 0;
	got |= (dir && x) ? ACCESS3_LOOKUP : 0;
	got |= (!dir && x) ? ACCESS3_EXECUTE : 0;
	return got & want;
}

static void nfs3_access(struct req_ctx *ctx, void *argp, void *resp)
{
	ACCESS3args *args = argp;
	ACCESS3res *res = resp;
	struct fsobj o;
	struct fsal_cred cred;
	struct fsal_attr a;

	res->status = nfs3_fh_attr(ctx, &args->object, &o, &cred, &a);
	if (res->status != NFS3_OK)
		return;
	bool ro = export_client_access(o.exp, ctx->remote) == EXPORT_RO;
	res->ACCESS3res_u.resok.access = nfs3_access_bits(&o, &cred, &a, args->access, ro);
	nfs3_post_attr(&a, &res->ACCESS3res_u.resok.obj_attributes);
}

static void nfs3_readlink(struct req_ctx *ctx, void *argp, void *resp)
{
	READLINK3args *args = argp;
	READLINK3res *res = resp;
	struct fsobj o;
	struct fsal_cred cred;
	size_t len;

	res->status = nfs3_fh(ctx, &args->symlink, &o, &cred);
	if (res->status != NFS3_OK)
		return;
	char *buf = arena_alloc_raw(ctx->arena, FSAL_PATH_MAX + 1);
	if (!buf) {
		res->status = NFS3ERR_SERVERFAULT;
		return;
	}
	int rc = o.ops->readlink(o.fs, &cred, &o.key, buf, FSAL_PATH_MAX + 1, &len);
	res->status = errmap_nfs3(rc, ERRCTX_FH);
	nfs3_post_op(&o, &res->READLINK3res_u.resok.symlink_attributes);
	if (rc == 0)
		res->READLINK3res_u.resok.data = buf;
}

static void nfs3_read(struct req_ctx *ctx, void *argp, void *resp)
{
	READ3args *args = argp;
	READ3res *res = resp;
	READ3resok *ok = &res->READ3res_u.resok;
	struct fsobj o;
	struct fsal_cred cred;
	size_t n = 0;
	bool eof = false;

	res->status = nfs3_fh(ctx, &args->file, &o, &cred);
	if (res->status != NFS3_OK)
		return;
	uint32_t count = args->count < ctx->srv->cfg.max_io ? args->count : ctx->srv->cfg.max_io;
	int rc = -EOPNOTSUPP;
	int pipe_wr = o.ops->read_splice && count ? rpc_req_pipe(ctx->rpc, count) : -1;
	if (pipe_wr >= 0)
		rc =
		    o.ops->read_splice(o.fs, &cred, &o.key, args->offset, count, pipe_wr, &n, &eof);
	char *buf = NULL;
	if (rc == -EOPNOTSUPP) {
		buf = arena_alloc_raw(ctx->arena, count ? count : 1);
		if (!buf) {
			res->status = NFS3ERR_SERVERFAULT;
			return;
		}
		rc = o.ops->read(o.fs, &cred, &o.key, args->offset, buf, count, &n, &eof);
	}
	res->status = errmap_nfs3(rc, ERRCTX_FH);
	nfs3_post_op(&o, &ok->file_attributes);
	if (rc < 0)
		return;
	ok->count = (count3)n;
	ok->eof = eof;
	/* the data goes out from the pipe or from buf itself (dispatch.h, tail) */
	ok->data.data_len = 0;
	ctx->tail = buf;
	ctx->tail_piped = !buf;
	ctx->tail_len = n;
}

static void nfs3_write(struct req_ctx *ctx, void *argp, void *resp)
{
	WRITE3args *args = argp;
	WRITE3res *res = resp;
	WRITE3resok *ok = &res->WRITE3res_u.resok;
	struct fsobj o;
	struct fsal_cred cred;
	size_t n = 0;

	res->status = nfs3_fh(ctx, &args->file, &o, &cred);
	if (res->status != NFS3_OK)
		return;
	/* RFC 1813 §3.3.7: count is the data's length; a shorter body is garbage. */
	if (args->count > args->data.data_len || args->count > ctx->srv->cfg.max_io) {
		res->status = NFS3ERR_INVAL;
		return;
	}
	nfs3_pre_op(&o, &ok->file_wcc.before);
	int rc = o.ops->write(o.fs, &cred, &o.key, args->offset, args->data.data_val, args->count,
			      (enum fsal_stable)args->stable, &n);
	res->status = errmap_nfs3(rc, ERRCTX_FH);
	nfs3_post_op(&o, &ok->file_wcc.after);
	if (rc < 0)
		return;
	ok->count = (count3)n;
	ok->committed = args->stable;
	memcpy(ok->verf, ctx->srv->write_verf, NFS3_WRITEVERFSIZE);
}

/*
 * After an unplanned takeover, a client's retransmission of a call that the
 * failed partner had in flight (ctx->maybe_done, drc.h "intents") may already
 * have been executed there: the error that execution causes now (NOENT for a
 * REMOVE or a RENAME's source, EXIST for a LINK) is the call's own effect, and
 * the client gets the success it would have had (DESIGN.md, "What a client
 * sees"). Other errors stand.
 */
static int nfs3_redone(const struct req_ctx *ctx, int rc, int done)
{
	return ctx->maybe_done && rc == done ? 0 : rc;
}

/* The same for the CREATE family: the object the first execution made. */
static int nfs3_made(const struct req_ctx *ctx, int rc, const struct fsobj *dir,
		     const struct fsal_cred *cred, const char *name, struct fsobj *obj)
{
	if (!ctx->maybe_done || rc != -EEXIST)
		return rc;
	return dir->ops->lookup(dir->fs, cred, &dir->key, name, &obj->key) < 0 ? rc : 0;
}

/* Fills a CREATE-family success: handle, attributes, directory wcc. */
static void nfs3_created(struct req_ctx *ctx, const struct fsobj *obj, const struct fsobj *dir,
			 CREATE3resok *ok)
{
	ok->obj.handle_follows = nfs3_fh_out(ctx, obj, &ok->obj.post_op_fh3_u.handle);
	nfs3_post_op(obj, &ok->obj_attributes);
	nfs3_post_op(dir, &ok->dir_wcc.after);
}

/* Applies what the client asked besides the mode (which creation already set). */
static int nfs3_apply_sattr(const struct fsobj *o, const struct fsal_cred *cred, const sattr3 *s)
{
	struct fsal_setattr sa;
	nfs3_sattr(s, &sa);
	sa.mask &= ~(uint32_t)FSAL_SET_MODE;
	return sa.mask ? o->ops->setattr(o->fs, cred, &o->key, &sa) : 0;
}

/*
 * EXCLUSIVE create (RFC 1813 §3.3.8): the verifier is kept in the file's atime and
 * mtime seconds, as knfsd does, so a retransmitted create finds the file it made
 * and succeeds, while another client's create of the same name gets EXIST.
 */
static void nfs3_verf_times(const char *verf, struct fsal_setattr *sa)
{
	uint32_t hi, lo;
	memcpy(&hi, verf, 4);
	memcpy(&lo, verf + 4, 4);
	memset(sa, 0, sizeof(*sa));
	sa->mask = FSAL_SET_ATIME | FSAL_SET_MTIME;
	sa->atime.tv_sec = hi & 0x7fffffff;
	sa->mtime.tv_sec = lo & 0x7fffffff;
}

static int nfs3_create_exclusive(const struct fsobj *dir, const struct fsal_cred *cred,
				 const char *name, const char *verf, struct fsobj *obj)
{
	struct fsal_setattr sa;
	struct fsal_attr a;

	nfs3_verf_times(verf, &sa);
	int rc = dir->ops->create(dir->fs, cred, &dir->key, name, 0600, true, &obj->key);
	if (rc == 0)
		return obj->ops->setattr(obj->fs, cred, &obj->key, &sa);
	if (rc != -EEXIST)
		return rc;
	if (dir->ops->lookup(dir->fs, cred, &dir->key, name, &obj->key) < 0 ||
	    obj->ops->getattr(obj->fs, &obj->key, &a) < 0)
		return -EEXIST;
	bool same = a.type == FSAL_REG && a.atime.tv_sec == sa.atime.tv_sec &&
		    a.mtime.tv_sec == sa.mtime.tv_sec;
	return same ? 0 : -EEXIST;
}

static int nfs3_create_obj(const CREATE3args *args, const struct fsobj *dir,
			   const struct fsal_cred *cred, struct fsobj *obj)
{
	const char *name = args->where.name;
	if (args->how.mode == EXCLUSIVE)
		return nfs3_create_exclusive(dir, cred, name, args->how.createhow3_u.verf, obj);
	const sattr3 *s = &args->how.createhow3_u.obj_attributes;
	uint32_t mode = s->mode.set_it ? (s->mode.set_mode3_u.mode & 07777) : 0644;
	int rc = dir->ops->create(dir->fs, cred, &dir->key, name, mode, args->how.mode == GUARDED,
				  &obj->key);
	return rc < 0 ? rc : nfs3_apply_sattr(obj, cred, s);
}

static void nfs3_create(struct req_ctx *ctx, void *argp, void *resp)
{
	CREATE3args *args = argp;
	CREATE3res *res = resp;
	struct fsobj dir, obj;
	struct fsal_cred cred;

	res->status = nfs3_fh(ctx, &args->where.dir, &dir, &cred);
	if (res->status != NFS3_OK)
		return;
	nfs3_pre_op(&dir, &res->CREATE3res_u.resok.dir_wcc.before);
	res->status = nfs3_name(args->where.name, NFS3ERR_EXIST);
	if (res->status == NFS3_OK) {
		export_obj_sibling(&dir, &obj);
		int rc = nfs3_create_obj(args, &dir, &cred, &obj);
		rc = nfs3_made(ctx, rc, &dir, &cred, args->where.name, &obj);
		res->status = errmap_nfs3(rc, ERRCTX_NAME);
	}
	if (res->status == NFS3_OK)
		nfs3_created(ctx, &obj, &dir, &res->CREATE3res_u.resok);
	else
		nfs3_post_op(&dir, &res->CREATE3res_u.resfail.dir_wcc.after);
}

/* The shared tail of MKDIR, SYMLINK and MKNOD: their results are CREATE3res-shaped. */
typedef int (*nfs3_make_fn)(const struct fsobj *dir, const struct fsal_cred *cred, const void *args,
			    struct fsobj *obj);

static void nfs3_make(struct req_ctx *ctx, const diropargs3 *where, const void *args,
		      nfs3_make_fn make, CREATE3res *res)
{
	struct fsobj dir, obj;
	struct fsal_cred cred;

	res->status = nfs3_fh(ctx, &where->dir, &dir, &cred);
	if (res->status != NFS3_OK)
		return;
	nfs3_pre_op(&dir, &res->CREATE3res_u.resok.dir_wcc.before);
	res->status = nfs3_name(where->name, NFS3ERR_EXIST);
	if (res->status == NFS3_OK) {
		export_obj_sibling(&dir, &obj);
		int rc =
		    nfs3_made(ctx, make(&dir, &cred, args, &obj), &dir, &cred, where->name, &obj);
		res->status = errmap_nfs3(rc, ERRCTX_NAME);
	}
	if (res->status == NFS3_OK)
		nfs3_created(ctx, &obj, &dir, &res->CREATE3res_u.resok);
	else
		nfs3_post_op(&dir, &res->CREATE3res_u.resfail.dir_wcc.after);
}

static int nfs3_make_dir(const struct fsobj *dir, const struct fsal_cred *cred, const void *a,
			 struct fsobj *obj)
{
	const MKDIR3args *args = a;
	const sattr3 *s = &args->attributes;
	uint32_t mode = s->mode.set_it ? (s->mode.set_mode3_u.mode & 07777) : 0755;
	int rc = dir->ops->mkdir(dir->fs, cred, &dir->key, args->where.name, mode, &obj->key);
	return rc < 0 ? rc : nfs3_apply_sattr(obj, cred, s);
}

static void nfs3_mkdir(struct req_ctx *ctx, void *argp, void *resp)
{
	MKDIR3args *args = argp;
	nfs3_make(ctx, &args->where, args, nfs3_make_dir, resp);
}

static int nfs3_make_symlink(const struct fsobj *dir, const struct fsal_cred *cred, const void *a,
			     struct fsobj *obj)
{
	const SYMLINK3args *args = a;
	const char *target = args->symlink.symlink_data;
	if (!target || !target[0])
		return -EINVAL;
	if (strlen(target) >= FSAL_PATH_MAX)
		return -ENAMETOOLONG;
	return dir->ops->symlink(dir->fs, cred, &dir->key, args->where.name, target, &obj->key);
}

static void nfs3_symlink(struct req_ctx *ctx, void *argp, void *resp)
{
	SYMLINK3args *args = argp;
	nfs3_make(ctx, &args->where, args, nfs3_make_symlink, resp);
}

static int nfs3_make_node(const struct fsobj *dir, const struct fsal_cred *cred, const void *a,
			  struct fsobj *obj)
{
	const MKNOD3args *args = a;
	const mknoddata3 *w = &args->what;
	const sattr3 *s;
	uint32_t major = 0, minor = 0;

	switch (w->type) {
	case NF3CHR:
	case NF3BLK:
		s = &w->mknoddata3_u.device.dev_attributes;
		major = w->mknoddata3_u.device.spec.specdata1;
		minor = w->mknoddata3_u.device.spec.specdata2;
		break;
	case NF3SOCK:
	case NF3FIFO:
		s = &w->mknoddata3_u.pipe_attributes;
		break;
	default:
		return -EINVAL; /* nfs3_mknod answers BADTYPE before we get here */
	}
	uint32_t mode = s->mode.set_it ? (s->mode.set_mode3_u.mode & 07777) : 0644;
	int rc = dir->ops->mknod(dir->fs, cred, &dir->key, args->where.name,
				 (enum fsal_type)w->type, mode, major, minor, &obj->key);
	return rc < 0 ? rc : nfs3_apply_sattr(obj, cred, s);
}

static void nfs3_mknod(struct req_ctx *ctx, void *argp, void *resp)
{
	MKNOD3args *args = argp;
	CREATE3res *res = resp;
	if (args->what.type != NF3CHR && args->what.type != NF3BLK && args->what.type != NF3SOCK &&
	    args->what.type != NF3FIFO) {
		struct fsobj dir;
		struct fsal_cred cred;
		res->status = nfs3_fh(ctx, &args->where.dir, &dir, &cred);
		if (res->status == NFS3_OK)
			res->status = NFS3ERR_BADTYPE; /* RFC 1813 §3.3.11 */
		return;
	}
	nfs3_make(ctx, &args->where, args, nfs3_make_node, res);
}

static void nfs3_remove_common(struct req_ctx *ctx, const diropargs3 *what, bool rmdir,
			       REMOVE3res *res)
{
	struct fsobj dir;
	struct fsal_cred cred;
	wcc_data *wcc = &res->REMOVE3res_u.resok.dir_wcc; /* same in resfail */

	res->status = nfs3_fh(ctx, &what->dir, &dir, &cred);
	if (res->status != NFS3_OK)
		return;
	nfs3_pre_op(&dir, &wcc->before);
	res->status = nfs3_name(what->name, rmdir ? NFS3ERR_INVAL : NFS3ERR_ACCES);
	if (res->status == NFS3_OK)
		res->status = errmap_nfs3(
		    nfs3_redone(ctx, dir.ops->remove(dir.fs, &cred, &dir.key, what->name, rmdir),
				-ENOENT),
		    ERRCTX_NAME);
	nfs3_post_op(&dir, &wcc->after);
}

static void nfs3_remove(struct req_ctx *ctx, void *argp, void *resp)
{
	REMOVE3args *args = argp;
	nfs3_remove_common(ctx, &args->object, false, resp);
}

static void nfs3_rmdir(struct req_ctx *ctx, void *argp, void *resp)
{
	RMDIR3args *args = argp;
	nfs3_remove_common(ctx, &args->object, true, resp);
}

static void nfs3_rename(struct req_ctx *ctx, void *argp, void *resp)
{
	RENAME3args *args = argp;
	RENAME3res *res = resp;
	RENAME3wcc *wcc = &res->RENAME3res_u.resok;
	struct fsobj from, to;
	struct fsal_cred cred;

	res->status = nfs3_fh_pair(ctx, &args->from.dir, &args->to.dir, &from, &to, &cred);
	if (res->status != NFS3_OK)
		return;
	nfs3_pre_op(&from, &wcc->fromdir_wcc.before);
	nfs3_pre_op(&to, &wcc->todir_wcc.before);
	res->status = nfs3_name(args->from.name, NFS3ERR_INVAL);
	if (res->status == NFS3_OK)
		res->status = nfs3_name(args->to.name, NFS3ERR_INVAL);
	if (res->status == NFS3_OK) {
		int rc = from.ops->rename(from.fs, &cred, &from.key, args->from.name, &to.key,
					  args->to.name);
		res->status = errmap_nfs3(nfs3_redone(ctx, rc, -ENOENT), ERRCTX_NAME);
	}
	nfs3_post_op(&from, &wcc->fromdir_wcc.after);
	nfs3_post_op(&to, &wcc->todir_wcc.after);
}

static void nfs3_link(struct req_ctx *ctx, void *argp, void *resp)
{
	LINK3args *args = argp;
	LINK3res *res = resp;
	LINK3wcc *wcc = &res->LINK3res_u.resok;
	struct fsobj file, dir;
	struct fsal_cred cred;

	res->status = nfs3_fh_pair(ctx, &args->file, &args->link.dir, &file, &dir, &cred);
	if (res->status != NFS3_OK)
		return;
	nfs3_pre_op(&dir, &wcc->linkdir_wcc.before);
	res->status = nfs3_name(args->link.name, NFS3ERR_EXIST);
	if (res->status == NFS3_OK) {
		int rc = file.ops->link(file.fs, &cred, &file.key, &dir.key, args->link.name);
		res->status = errmap_nfs3(nfs3_redone(ctx, rc, -EEXIST), ERRCTX_NAME);
	}
	nfs3_post_op(&file, &wcc->file_attributes);
	nfs3_post_op(&dir, &wcc->linkdir_wcc.after);
}

/* ---- READDIR / READDIRPLUS ------------------------------------------------- */

/* XDR sizes (RFC 1813 §3.3.16-17): what an entry and the fixed reply parts cost. */
#define XDR_PAD(n)	  (((n) + 3u) & ~3u)
#define RD_ENTRY_COST(n)  (4u + 8u + 4u + XDR_PAD(n) + 8u)
#define RD_FATTR_COST	  (4u + 84u)
#define RD_REPLY_OVERHEAD (4u + RD_FATTR_COST + 8u + 4u + 4u)

struct rd_entry {
	struct rd_entry *next;
	uint64_t fileid;
	uint64_t cookie;
	char *name;
	size_t namelen;
};

struct rd_state {
	struct req_ctx *ctx;
	uint32_t budget;    /* bytes the reply may still use */
	uint32_t dirbudget; /* READDIRPLUS: dircount left */
	struct rd_entry *head, **tail;
	unsigned count;
	bool nomem;
};

static bool rd_collect(void *arg, const struct fsal_dir *dir, const char *name, size_t namelen,
		       uint64_t fileid, uint64_t cookie)
{
	struct rd_state *st = arg;
	uint32_t cost = RD_ENTRY_COST((uint32_t)namelen);

	(void)dir;
	if (cost > st->budget)
		return false;
	struct rd_entry *e = arena_alloc(st->ctx->arena, sizeof(*e) + namelen + 1);
	if (!e) {
		st->nomem = true;
		return false;
	}
	e->name = (char *)(e + 1);
	memcpy(e->name, name, namelen);
	e->namelen = namelen;
	e->fileid = fileid;
	e->cookie = cookie;
	*st->tail = e;
	st->tail = &e->next;
	st->budget -= cost;
	st->count++;
	return true;
}

/* Reads entries into st through cb; returns an nfsstat3. */
static nfsstat3 rd_fill(const struct fsobj *dir, const struct fsal_cred *cred, uint64_t cookie,
			fsal_readdir_cb cb, struct rd_state *st, bool *eof)
{
	int rc = dir->ops->readdir(dir->fs, cred, &dir->key, cookie, cb, st, eof);
	if (rc < 0)
		return errmap_nfs3(rc, ERRCTX_FH);
	if (st->nomem)
		return NFS3ERR_SERVERFAULT;
	if (st->count == 0 && !*eof)
		return NFS3ERR_TOOSMALL; /* not even one entry fits in count */
	return NFS3_OK;
}

static void nfs3_readdir(struct req_ctx *ctx, void *argp, void *resp)
{
	READDIR3args *args = argp;
	READDIR3res *res = resp;
	READDIR3resok *ok = &res->READDIR3res_u.resok;
	struct fsobj dir;
	struct fsal_cred cred;
	bool eof = false;

	res->status = nfs3_fh(ctx, &args->dir, &dir, &cred);
	if (res->status != NFS3_OK)
		return;
	uint32_t count = args->count < ctx->srv->cfg.max_io ? args->count : ctx->srv->cfg.max_io;
	struct rd_state st = {.ctx = ctx};
	st.budget = count > RD_REPLY_OVERHEAD ? count - RD_REPLY_OVERHEAD : 0;
	st.tail = &st.head;
	res->status = rd_fill(&dir, &cred, args->cookie, rd_collect, &st, &eof);
	nfs3_post_op(&dir, &ok->dir_attributes); /* same place in resfail */
	if (res->status != NFS3_OK)
		return;
	entry3 **link = &ok->reply.entries;
	for (struct rd_entry *e = st.head; e; e = e->next) {
		entry3 *x = arena_alloc(ctx->arena, sizeof(*x));
		if (!x) {
			res->status = NFS3ERR_SERVERFAULT;
			return;
		}
		x->fileid = e->fileid;
		x->name = e->name;
		x->cookie = e->cookie;
		*link = x;
		link = &x->nextentry;
	}
	ok->reply.eof = eof;
}

/* READDIRPLUS looks each entry up as readdir hands it over, so that its reply size
 * is known exactly (handles differ in length) before it is taken, and the name's
 * handle and attributes are no older than the directory attributes sent with them. */
struct rdp_state {
	struct rd_state rd; /* first: readdir's callback argument */
	const struct fsobj *dir;
	const struct fsal_cred *cred;
	entryplus3 **tail;
	char *pool; /* rdp_alloc's current piece of the arena */
	size_t pool_left;
};

/* An entry with room for its handle and name. */
struct rdp_ent {
	entryplus3 x;
	uint8_t fh[EXPORT_FH_MAX];
	char name[];
};

/* Past its inline part the arena mallocs every allocation, which was two per entry of
 * a page; entries are carved from pieces of RDP_PIECE bytes instead. */
#define RDP_PIECE 4096

static struct rdp_ent *rdp_alloc(struct rdp_state *st, size_t namelen)
{
	size_t n = (sizeof(struct rdp_ent) + namelen + 1 + 15) & ~(size_t)15;

	if (n > st->pool_left) {
		size_t piece = n > RDP_PIECE ? n : RDP_PIECE;
		st->pool = arena_alloc_raw(st->rd.ctx->arena, piece);
		st->pool_left = st->pool ? piece : 0;
		if (!st->pool)
			return NULL;
	}
	struct rdp_ent *e = (struct rdp_ent *)st->pool;
	st->pool += n;
	st->pool_left -= n;
	memset(&e->x, 0, sizeof(e->x));
	return e;
}

/* Handle and attributes of e's name, looked up in the directory readdir lent (at); an
 * entry removed since readdir saw it is still listed, without them. */
static void rdp_lookup(struct rdp_state *st, const struct fsal_dir *at, struct rdp_ent *e)
{
	const struct fsobj *dir = st->dir;
	entryplus3 *x = &e->x;
	struct fsobj obj;
	struct fsal_attr a;

	export_obj_sibling(dir, &obj);
	if (dir->ops->lookup_at(dir->fs, st->cred, at, x->name, &obj.key, &a) < 0)
		return;
	/* a name replaced between the handle and the stat: no attributes */
	x->name_attributes.attributes_follow = a.fileid == x->fileid;
	if (x->name_attributes.attributes_follow)
		nfs3_fattr(&x->name_attributes.post_op_attr_u.attributes, &a);
	nfs_fh3 *fh = &x->name_handle.post_op_fh3_u.handle;
	fh->data.data_len = (u_int)export_fh_encode(st->rd.ctx->srv->exports, &obj, e->fh);
	fh->data.data_val = (char *)e->fh;
	x->name_handle.handle_follows = TRUE;
}

/* What x adds to the reply beyond its entry3 part (RFC 1813 §3.3.17). */
static uint32_t rdp_plus_cost(const entryplus3 *x)
{
	uint32_t cost = 4u + 4u;

	if (x->name_attributes.attributes_follow)
		cost += RD_FATTR_COST - 4u;
	if (x->name_handle.handle_follows)
		cost += 4u + XDR_PAD(x->name_handle.post_op_fh3_u.handle.data.data_len);
	return cost;
}

static bool rdp_collect(void *arg, const struct fsal_dir *dir, const char *name, size_t namelen,
			uint64_t fileid, uint64_t cookie)
{
	struct rdp_state *st = arg;
	uint32_t dcost = RD_ENTRY_COST((uint32_t)namelen);

	if (dcost + 8u > st->rd.budget || dcost > st->rd.dirbudget)
		return false; /* does not fit even without handle and attributes */
	struct rdp_ent *e = rdp_alloc(st, namelen);
	if (!e) {
		st->rd.nomem = true;
		return false;
	}
	entryplus3 *x = &e->x;
	x->name = e->name;
	memcpy(x->name, name, namelen);
	x->name[namelen] = '\0';
	x->fileid = fileid;
	x->cookie = cookie;
	rdp_lookup(st, dir, e);
	uint32_t cost = dcost + rdp_plus_cost(x);
	if (cost > st->rd.budget)
		return false;
	*st->tail = x;
	st->tail = &x->nextentry;
	st->rd.budget -= cost;
	st->rd.dirbudget -= dcost;
	st->rd.count++;
	return true;
}

/* The directory's attributes are read before its entries: a change in between shows
 * as a newer mtime later, so the client never keeps entries older than them. */
static void nfs3_readdirplus(struct req_ctx *ctx, void *argp, void *resp)
{
	READDIRPLUS3args *args = argp;
	READDIRPLUS3res *res = resp;
	READDIRPLUS3resok *ok = &res->READDIRPLUS3res_u.resok;
	struct fsobj dir;
	struct fsal_cred cred;
	bool eof = false;

	res->status = nfs3_fh(ctx, &args->dir, &dir, &cred);
	if (res->status != NFS3_OK)
		return;
	uint32_t max =
	    args->maxcount < ctx->srv->cfg.max_io ? args->maxcount : ctx->srv->cfg.max_io;
	struct rdp_state st = {.rd.ctx = ctx, .dir = &dir, .cred = &cred};
	st.rd.budget = max > RD_REPLY_OVERHEAD ? max - RD_REPLY_OVERHEAD : 0;
	st.rd.dirbudget = args->dircount ? args->dircount : UINT32_MAX;
	st.tail = &ok->reply.entries;
	nfs3_post_op(&dir, &ok->dir_attributes); /* same place in resfail */
	res->status = rd_fill(&dir, &cred, args->cookie, rdp_collect, &st.rd, &eof);
	if (res->status != NFS3_OK)
		return;
	*st.tail = NULL;
	ok->reply.eof = eof;
}

/* ---- READDIRPLUS reply encoding ------------------------------------------ */

/* rpcgen's xdr_READDIRPLUS3res recurses through xdr_pointer and makes some thirty
 * calls through the XDR stream per entry (6 % of a listing's CPU). Each entry is
 * written here in one piece of the stream instead; the bytes are the same (RFC 1813
 * §3.3.17). Anything but encoding an NFS3_OK reply is left to rpcgen's routine. */
static uint8_t *rdp_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static uint8_t *rdp_put64(uint8_t *p, uint64_t v)
{
	return rdp_put32(rdp_put32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

static uint8_t *rdp_put_opaque(uint8_t *p, const void *data, uint32_t len)
{
	uint32_t padded = XDR_PAD(len);

	p = rdp_put32(p, len);
	memcpy(p, data, len);
	memset(p + len, 0, padded - len);
	return p + padded;
}

static uint8_t *rdp_put_time(uint8_t *p, const nfstime3 *t)
{
	return rdp_put32(rdp_put32(p, t->seconds), t->nseconds);
}

static uint8_t *rdp_put_fattr(uint8_t *p, const fattr3 *f)
{
	p = rdp_put32(p, (uint32_t)f->type);
	p = rdp_put32(p, f->mode);
	p = rdp_put32(p, f->nlink);
	p = rdp_put32(p, f->uid);
	p = rdp_put32(p, f->gid);
	p = rdp_put64(p, f->size);
	p = rdp_put64(p, f->used);
	p = rdp_put32(p, f->rdev.specdata1);
	p = rdp_put32(p, f->rdev.specdata2);
	p = rdp_put64(p, f->fsid);
	p = rdp_put64(p, f->fileid);
	p = rdp_put_time(p, &f->atime);
	p = rdp_put_time(p, &f->mtime);
	return rdp_put_time(p, &f->ctime);
}

/* One entry, preceded by its "value follows" word; false when the stream is full. */
static bool rdp_xdr_entry(XDR *xdrs, const entryplus3 *e)
{
	const post_op_attr *a = &e->name_attributes;
	const post_op_fh3 *h = &e->name_handle;
	const nfs_fh3 *fh = &h->post_op_fh3_u.handle;
	size_t namelen = strlen(e->name);

	if (namelen > FSAL_NAME_MAX || (h->handle_follows && fh->data.data_len > NFS3_FHSIZE))
		return false;
	size_t n = RD_ENTRY_COST(namelen) + 4 + (a->attributes_follow ? 84 : 0) + 4 +
		   (h->handle_follows ? 4 + XDR_PAD(fh->data.data_len) : 0);
	uint8_t *p = (uint8_t *)xdr_inline_encode(xdrs, n);
	if (!p)
		return false;
	p = rdp_put32(p, TRUE);
	p = rdp_put64(p, e->fileid);
	p = rdp_put_opaque(p, e->name, (uint32_t)namelen);
	p = rdp_put64(p, e->cookie);
	p = rdp_put32(p, a->attributes_follow ? TRUE : FALSE);
	if (a->attributes_follow)
		p = rdp_put_fattr(p, &a->post_op_attr_u.attributes);
	p = rdp_put32(p, h->handle_follows ? TRUE : FALSE);
	if (h->handle_follows)
		rdp_put_opaque(p, fh->data.data_val, fh->data.data_len);
	return true;
}

static bool nfs3_xdr_readdirplus_res(XDR *xdrs, READDIRPLUS3res *res)
{
	READDIRPLUS3resok *ok = &res->READDIRPLUS3res_u.resok;
	bool_t no_more = FALSE;

	if (xdrs->x_op != XDR_ENCODE || res->status != NFS3_OK)
		return xdr_READDIRPLUS3res(xdrs, res);
	if (!xdr_nfsstat3(xdrs, &res->status) || !xdr_post_op_attr(xdrs, &ok->dir_attributes) ||
	    !xdr_cookieverf3(xdrs, ok->cookieverf))
		return false;
	for (const entryplus3 *e = ok->reply.entries; e; e = e->nextentry)
		if (!rdp_xdr_entry(xdrs, e))
			return false;
	return xdr_bool(xdrs, &no_more) && xdr_bool(xdrs, &ok->reply.eof);
}

/* ---- filesystem information ------------------------------------------------ */

static void nfs3_fsstat(struct req_ctx *ctx, void *argp, void *resp)
{
	FSSTAT3args *args = argp;
	FSSTAT3res *res = resp;
	FSSTAT3resok *ok = &res->FSSTAT3res_u.resok;
	struct fsobj o;
	struct fsal_cred cred;
	struct fsal_statfs sf;

	res->status = nfs3_fh(ctx, &args->fsroot, &o, &cred);
	if (res->status != NFS3_OK)
		return;
	int rc = o.ops->statfs(o.fs, &o.key, &sf);
	res->status = errmap_nfs3(rc, ERRCTX_FH);
	nfs3_post_op(&o, &ok->obj_attributes);
	if (rc < 0)
		return;
	ok->tbytes = sf.tbytes;
	ok->fbytes = sf.fbytes;
	ok->abytes = sf.abytes;
	ok->tfiles = sf.tfiles;
	ok->ffiles = sf.ffiles;
	ok->afiles = sf.afiles;
	ok->invarsec = 0;
}

static void nfs3_fsinfo(struct req_ctx *ctx, void *argp, void *resp)
{
	FSINFO3args *args = argp;
	FSINFO3res *res = resp;
	FSINFO3resok *ok = &res->FSINFO3res_u.resok;
	struct fsobj o;
	struct fsal_cred cred;
	uint32_t io = ctx->srv->cfg.max_io;

	res->status = nfs3_fh(ctx, &args->fsroot, &o, &cred);
	if (res->status != NFS3_OK)
		return;
	nfs3_post_op(&o, &ok->obj_attributes);
	ok->rtmax = io;
	ok->rtpref = io;
	ok->rtmult = 4096;
	ok->wtmax = io;
	ok->wtpref = io;
	ok->wtmult = 4096;
	ok->dtpref = io < 65536 ? io : 65536;
	ok->maxfilesize = INT64_MAX;
	ok->time_delta.seconds = 0;
	ok->time_delta.nseconds = 1;
	ok->properties = FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME;
}

static void nfs3_pathconf(struct req_ctx *ctx, void *argp, void *resp)
{
	PATHCONF3args *args = argp;
	PATHCONF3res *res = resp;
	PATHCONF3resok *ok = &res->PATHCONF3res_u.resok;
	struct fsobj o;
	struct fsal_cred cred;

	res->status = nfs3_fh(ctx, &args->object, &o, &cred);
	if (res->status != NFS3_OK)
		return;
	nfs3_post_op(&o, &ok->obj_attributes);
	ok->linkmax = 32000;
	ok->name_max = FSAL_NAME_MAX;
	ok->no_trunc = TRUE;
	ok->chown_restricted = TRUE;
	ok->case_insensitive = FALSE;
	ok->case_preserving = TRUE;
}

static void nfs3_commit(struct req_ctx *ctx, void *argp, void *resp)
{
	COMMIT3args *args = argp;
	COMMIT3res *res = resp;
	COMMIT3resok *ok = &res->COMMIT3res_u.resok;
	struct fsobj o;
	struct fsal_cred cred;

	res->status = nfs3_fh(ctx, &args->file, &o, &cred);
	if (res->status != NFS3_OK)
		return;
	nfs3_pre_op(&o, &ok->file_wcc.before);
	int rc = o.ops->commit(o.fs, &o.key, args->offset, args->count);
	res->status = errmap_nfs3(rc, ERRCTX_FH);
	nfs3_post_op(&o, &ok->file_wcc.after);
	if (rc == 0)
		memcpy(ok->verf, ctx->srv->write_verf, NFS3_WRITEVERFSIZE);
}

/* ---- the table ------------------------------------------------------------ */

#define NFS3_PROC(num, fn, argt, rest, fl) NFS3_PROC_ENC(num, fn, argt, rest, xdr_##rest, fl)
#define NFS3_PROC_ENC(num, fn, argt, rest, enc, fl)                                                \
	[num] = {.name = #num,                                                                     \
		 .decode = (xdrproc_t)xdr_##argt,                                                  \
		 .encode = (xdrproc_t)(enc),                                                       \
		 .argsize = sizeof(argt),                                                          \
		 .ressize = sizeof(rest),                                                          \
		 .handler = fn,                                                                    \
		 .flags = (fl)}

#define NI  PROC_NONIDEMPOTENT
#define MOD PROC_MODIFIES

/* Procedure numbers from RFC 1813 §3. */
enum {
	NFSPROC3_NULL = 0,
	NFSPROC3_GETATTR = 1,
	NFSPROC3_SETATTR = 2,
	NFSPROC3_LOOKUP = 3,
	NFSPROC3_ACCESS = 4,
	NFSPROC3_READLINK = 5,
	NFSPROC3_READ = 6,
	NFSPROC3_WRITE = 7,
	NFSPROC3_CREATE = 8,
	NFSPROC3_MKDIR = 9,
	NFSPROC3_SYMLINK = 10,
	NFSPROC3_MKNOD = 11,
	NFSPROC3_REMOVE = 12,
	NFSPROC3_RMDIR = 13,
	NFSPROC3_RENAME = 14,
	NFSPROC3_LINK = 15,
	NFSPROC3_READDIR = 16,
	NFSPROC3_READDIRPLUS = 17,
	NFSPROC3_FSSTAT = 18,
	NFSPROC3_FSINFO = 19,
	NFSPROC3_PATHCONF = 20,
	NFSPROC3_COMMIT = 21,
	NFSPROC3_COUNT
};

typedef char nfs3_void;
static bool xdr_nfs3_void(XDR *x, nfs3_void *v)
{
	(void)x;
	(void)v;
	return true;
}

static const struct proc_desc nfs3_procs[NFSPROC3_COUNT] = {
    NFS3_PROC(NFSPROC3_NULL, nfs3_null, nfs3_void, nfs3_void, PROC_STANDBY_OK),
    NFS3_PROC(NFSPROC3_GETATTR, nfs3_getattr, GETATTR3args, GETATTR3res, 0),
    NFS3_PROC(NFSPROC3_SETATTR, nfs3_setattr, SETATTR3args, SETATTR3res, NI | MOD),
    NFS3_PROC(NFSPROC3_LOOKUP, nfs3_lookup, LOOKUP3args, LOOKUP3res, 0),
    NFS3_PROC(NFSPROC3_ACCESS, nfs3_access, ACCESS3args, ACCESS3res, 0),
    NFS3_PROC(NFSPROC3_READLINK, nfs3_readlink, READLINK3args, READLINK3res, 0),
    NFS3_PROC(NFSPROC3_READ, nfs3_read, READ3args, READ3res, 0),
    NFS3_PROC(NFSPROC3_WRITE, nfs3_write, WRITE3args, WRITE3res, NI | MOD),
    NFS3_PROC(NFSPROC3_CREATE, nfs3_create, CREATE3args, CREATE3res, NI | MOD),
    NFS3_PROC(NFSPROC3_MKDIR, nfs3_mkdir, MKDIR3args, MKDIR3res, NI | MOD),
    NFS3_PROC(NFSPROC3_SYMLINK, nfs3_symlink, SYMLINK3args, SYMLINK3res, NI | MOD),
    NFS3_PROC(NFSPROC3_MKNOD, nfs3_mknod, MKNOD3args, MKNOD3res, NI | MOD),
    NFS3_PROC(NFSPROC3_REMOVE, nfs3_remove, REMOVE3args, REMOVE3res, NI | MOD),
    NFS3_PROC(NFSPROC3_RMDIR, nfs3_rmdir, RMDIR3args, RMDIR3res, NI | MOD),
    NFS3_PROC(NFSPROC3_RENAME, nfs3_rename, RENAME3args, RENAME3res, NI | MOD),
    NFS3_PROC(NFSPROC3_LINK, nfs3_link, LINK3args, LINK3res, NI | MOD),
    NFS3_PROC(NFSPROC3_READDIR, nfs3_readdir, READDIR3args, READDIR3res, 0),
    NFS3_PROC_ENC(NFSPROC3_READDIRPLUS, nfs3_readdirplus, READDIRPLUS3args, READDIRPLUS3res,
		  nfs3_xdr_readdirplus_res, 0),
    NFS3_PROC(NFSPROC3_FSSTAT, nfs3_fsstat, FSSTAT3args, FSSTAT3res, 0),
    NFS3_PROC(NFSPROC3_FSINFO, nfs3_fsinfo, FSINFO3args, FSINFO3res, 0),
    NFS3_PROC(NFSPROC3_PATHCONF, nfs3_pathconf, PATHCONF3args, PATHCONF3res, 0),
    NFS3_PROC(NFSPROC3_COMMIT, nfs3_commit, COMMIT3args, COMMIT3res, NI),
};

const struct prog_desc nfs3_program = {
    .prog = NFS3_PROGRAM,
    .vers = NFS3_VERSION,
    .procs = nfs3_procs,
    .nprocs = NFSPROC3_COUNT,
};
