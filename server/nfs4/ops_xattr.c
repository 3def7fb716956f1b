/*
 * ops_xattr.c — NFSv4.2 extended attributes (RFC 8276 §8.4): GETXATTR, SETXATTR,
 * LISTXATTRS, REMOVEXATTR, and what ACCESS and the xattr_support attribute say
 * about them.
 *
 * The FSAL's optional xattr ops do the work (fsal.h: all four or none) on the names
 * as the client sends them; the FSAL decides where they live (vfs: "foo" is Linux's
 * "user.foo"). An export whose FSAL has none, and the pseudo filesystem, answer
 * NOTSUPP and show xattr_support false (RFC 8276 §8.4.1.3). SETXATTR and REMOVEXATTR
 * are MOD in the operation table (ROFS on a read-only export) and return the
 * change_info4 of the object around the call (not atomic: the two GETATTRs are
 * separate from the change).
 *
 * Sizes: a GETXATTR value must fit the reply's budget, else REP_TOO_BIG
 * (RFC 8881 §2.10.6.4). LISTXATTRS fills at most lxa_maxcount bytes of
 * LISTXATTRS4resok, its XDR overhead included (RFC 8276 §8.4.3.3), within the
 * budget, and at most NFS4_SMALL_ARRAY_MAX names (the XDR's bound on the array);
 * TOOSMALL when not even the first name fits.
 *
 * LISTXATTRS cookies are positions in the FSAL's list of names: 0 is the first,
 * a reply's lxr_cookie the position after its last name, as knfsd's. A cookie past
 * the end of the list is BAD_COOKIE. Positions shift when names come or go between
 * two pages (a name may then be missed or seen twice), as with knfsd; the list of
 * one object is short, and clients read it in one call when they can.
 */
#include <errno.h>
#include <string.h>

#include "server/nfs4/nfs4_int.h"
#include "server/server.h"

/* What the other results of the COMPOUND may take beside this one's data (as READ). */
#define XATTR_REPLY_SLACK 512
/* LISTXATTRS4resok without names: cookie, array length, eof. */
#define LISTXATTRS_OVERHEAD (8 + 4 + 4)

bool nfs4_xattr_support(const struct nfs4_fh *fh)
{
	const struct fsal_ops *ops = fh->kind == FH4_OBJ ? fh->obj.ops : NULL;
	return ops && ops->getxattr && ops->setxattr && ops->listxattr && ops->removexattr;
}

/* Only regular files and directories, as knfsd: Linux allows user.* nowhere else. */
uint32_t nfs4_xattr_access(const struct nfs4_compound *c, enum fsal_type t)
{
	if (c->minor < 2 || !nfs4_xattr_support(&c->cur) || (t != FSAL_REG && t != FSAL_DIR))
		return 0;
	return ACCESS4_XAREAD | ACCESS4_XAWRITE | ACCESS4_XALIST;
}

static uint32_t reply_room(const struct nfs4_compound *c)
{
	return c->max_resp > XATTR_REPLY_SLACK ? c->max_resp - XATTR_REPLY_SLACK : 0;
}

/* An xattr name, NUL-terminated in the arena: empty INVAL, too long NAMETOOLONG, a
 * NUL (which no C name can carry) BADCHAR. */
static nfsstat4 xattr_name(struct nfs4_compound *c, const xattrkey4 *k, char **out)
{
	size_t len = k->utf8string_len;
	if (len == 0)
		return NFS4ERR_INVAL;
	if (len > FSAL_XATTR_NAME_MAX)
		return NFS4ERR_NAMETOOLONG;
	if (memchr(k->utf8string_val, 0, len))
		return NFS4ERR_BADCHAR;
	char *s = nfs4_alloc(c, len + 1);
	if (!s)
		return NFS4ERR_SERVERFAULT;
	memcpy(s, k->utf8string_val, len);
	*out = s;
	return NFS4_OK;
}

/* The current object, when its FSAL has xattrs, and the op's name. */
static nfsstat4 xattr_begin(struct nfs4_compound *c, const xattrkey4 *k, char **name)
{
	if (!nfs4_xattr_support(&c->cur))
		return NFS4ERR_NOTSUPP;
	return k ? xattr_name(c, k, name) : NFS4_OK;
}

nfsstat4 nfs4_op_getxattr(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	xattrvalue4 *v = &res->nfs_resop4_u.opgetxattr.GETXATTR4res_u.gxr_value;
	const struct fsobj *o = &c->cur.obj;
	char *name;
	size_t len = 0;

	nfsstat4 st = xattr_begin(c, &arg->nfs_argop4_u.opgetxattr.gxa_name, &name);
	if (st != NFS4_OK)
		return st;
	uint32_t size = reply_room(c);
	if (size > FSAL_XATTR_SIZE_MAX)
		size = FSAL_XATTR_SIZE_MAX;
	char *buf = arena_alloc_raw(c->ctx->arena, size ? size : 1);
	if (!buf)
		return NFS4ERR_SERVERFAULT;
	int rc = o->ops->getxattr(o->fs, &c->cur.cred, &o->key, name, buf, size, &len);
	if (rc == -ERANGE)
		return NFS4ERR_REP_TOO_BIG; /* the value is longer than the reply may be */
	if (rc < 0)
		return nfs4_err(rc, true);
	v->xattrvalue4_len = (u_int)len;
	v->xattrvalue4_val = buf;
	return NFS4_OK;
}

/* SETXATTR, REMOVEXATTR: the FSAL's change (rc), with the object's change_info4. */
static nfsstat4 xattr_changed(struct nfs4_compound *c, const struct fsal_attr *before, int rc,
			      change_info4 *ci)
{
	const struct fsobj *o = &c->cur.obj;
	struct fsal_attr after;

	if (rc < 0)
		return nfs4_err(rc, true);
	if (o->ops->getattr(o->fs, &o->key, &after) < 0)
		after = *before;
	nfs4_cinfo(ci, before, &after);
	return NFS4_OK;
}

nfsstat4 nfs4_op_setxattr(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	SETXATTR4args *a = &arg->nfs_argop4_u.opsetxattr;
	const struct fsobj *o = &c->cur.obj;
	struct fsal_attr before;
	char *name;

	nfsstat4 st = xattr_begin(c, &a->sxa_key, &name);
	if (st != NFS4_OK)
		return st;
	if ((unsigned)a->sxa_option > SETXATTR4_REPLACE)
		return NFS4ERR_INVAL;
	int rc = o->ops->getattr(o->fs, &o->key, &before);
	if (rc < 0)
		return nfs4_err(rc, true);
	/* setxattr_option4 and fsal_xattr_how share their numbers */
	rc = o->ops->setxattr(o->fs, &c->cur.cred, &o->key, name, a->sxa_value.xattrvalue4_val,
			      a->sxa_value.xattrvalue4_len, (enum fsal_xattr_how)a->sxa_option);
	return xattr_changed(c, &before, rc, &res->nfs_resop4_u.opsetxattr.SETXATTR4res_u.sxr_info);
}

nfsstat4 nfs4_op_removexattr(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	const struct fsobj *o = &c->cur.obj;
	struct fsal_attr before;
	char *name;

	nfsstat4 st = xattr_begin(c, &arg->nfs_argop4_u.opremovexattr.rxa_name, &name);
	if (st != NFS4_OK)
		return st;
	int rc = o->ops->getattr(o->fs, &o->key, &before);
	if (rc < 0)
		return nfs4_err(rc, true);
	rc = o->ops->removexattr(o->fs, &c->cur.cred, &o->key, name);
	return xattr_changed(c, &before, rc,
			     &res->nfs_resop4_u.opremovexattr.REMOVEXATTR4res_u.rxr_info);
}

/* ---- LISTXATTRS ---- */

struct lx4 {
	struct nfs4_compound *c;
	uint64_t skip;	 /* names before the cookie's position */
	uint64_t seen;	 /* names the FSAL handed over */
	uint32_t budget; /* bytes left for names */
	xattrkey4 *names;
	u_int n;
	bool more; /* a name was left out: not eof */
	nfsstat4 err;
};

static bool lx_add(void *arg, const char *name, size_t len)
{
	struct lx4 *l = arg;
	if (l->seen++ < l->skip)
		return true;
	uint32_t cost = 4 + ((uint32_t)len + 3u) / 4u * 4u;
	if (cost > l->budget || l->n == NFS4_SMALL_ARRAY_MAX) {
		l->more = true;
		return false;
	}
	char *s = nfs4_alloc(l->c, len ? len : 1);
	if (!s) {
		l->err = NFS4ERR_SERVERFAULT;
		return false;
	}
	memcpy(s, name, len);
	l->names[l->n].utf8string_len = (u_int)len;
	l->names[l->n].utf8string_val = s;
	l->n++;
	l->budget -= cost;
	return true;
}

/* RFC 8276 §8.4.3.3: lxa_maxcount counts the whole LISTXATTRS4resok. */
static nfsstat4 lx_budget(struct nfs4_compound *c, uint32_t maxcount, uint32_t *budget)
{
	uint32_t room = reply_room(c);
	if (maxcount > room)
		maxcount = room;
	if (maxcount < LISTXATTRS_OVERHEAD)
		return NFS4ERR_TOOSMALL;
	*budget = maxcount - LISTXATTRS_OVERHEAD;
	return NFS4_OK;
}

nfsstat4 nfs4_op_listxattrs(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	LISTXATTRS4args *a = &arg->nfs_argop4_u.oplistxattrs;
	LISTXATTRS4resok *ok = &res->nfs_resop4_u.oplistxattrs.LISTXATTRS4res_u.lxr_value;
	const struct fsobj *o = &c->cur.obj;
	struct lx4 l = {.c = c, .skip = a->lxa_cookie};

	nfsstat4 st = xattr_begin(c, NULL, NULL);
	if (st == NFS4_OK)
		st = lx_budget(c, a->lxa_maxcount, &l.budget);
	if (st != NFS4_OK)
		return st;
	l.names = nfs4_alloc(c, NFS4_SMALL_ARRAY_MAX * sizeof(*l.names));
	if (!l.names)
		return NFS4ERR_SERVERFAULT;
	int rc = o->ops->listxattr(o->fs, &c->cur.cred, &o->key, lx_add, &l);
	if (rc < 0)
		return nfs4_err(rc, true);
	if (l.err != NFS4_OK)
		return l.err;
	if (!l.more && l.seen < l.skip)
		return NFS4ERR_BAD_COOKIE;
	if (l.more && l.n == 0)
		return NFS4ERR_TOOSMALL;
	ok->lxr_cookie = l.skip + l.n;
	ok->lxr_names.lxr_names_len = l.n;
	ok->lxr_names.lxr_names_val = l.names;
	ok->lxr_eof = !l.more;
	return NFS4_OK;
}
