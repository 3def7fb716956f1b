/*
 * fh.c — NFSv4 file handles, names and status mapping shared by every operation.
 *
 * An export's object has the NFSv3 handle (export.h: versioned, MACed, node
 * independent). A pseudo-filesystem directory has a short handle of its own:
 *
 *     byte 0  0xfe (never an export handle's version byte)
 *     byte 1  'P'
 *     2..3    zero
 *     4..7    node index, big-endian
 *
 * It needs no MAC: it only names a read-only directory of the pseudo tree, and
 * an index out of range is STALE. The tree is the same after a restart with the
 * same configuration, so these handles are persistent too.
 */
#include <errno.h>
#include <string.h>

#include "server/nfs/errmap.h"
#include "server/nfs4/nfs4_int.h"
#include "server/nfs4/pseudo.h"
#include "server/server.h"

#define PSEUDO_FH_LEN 8

nfsstat4 nfs4_err(int rc, bool fh_ctx)
{
	return (nfsstat4)errmap_nfs4(rc, fh_ctx ? ERRCTX_FH : ERRCTX_NAME);
}

void nfs4_fh_set_pseudo(struct nfs4_fh *fh, uint32_t node)
{
	memset(fh, 0, sizeof(*fh));
	fh->kind = FH4_PSEUDO;
	fh->pnode = node;
	fh->acc = EXPORT_RO;
	fh->have_type = true;
	fh->type = FSAL_DIR;
}

void nfs4_fh_set_obj(struct nfs4_compound *c, struct nfs4_fh *fh, const struct fsobj *o)
{
	struct req_ctx *ctx = c->ctx;
	fh->kind = FH4_OBJ;
	fh->obj = *o;
	fh->have_type = false;
	fh->acc = export_client_access(o->exp, ctx->remote);
	export_squash(o->exp, ctx->flavor == RPC_AUTH_SYS, &ctx->cred, &fh->cred);
}

nfsstat4 nfs4_fh_from_wire(struct nfs4_compound *c, const nfs_fh4 *fh, struct nfs4_fh *out)
{
	const uint8_t *b = (const uint8_t *)fh->nfs_fh4_val;
	struct fsobj o;

	if (fh->nfs_fh4_len == PSEUDO_FH_LEN && b[0] == 0xfe && b[1] == 'P') {
		uint32_t node =
		    (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
		if (node >= nfs4_pseudo_count(c->n4->pseudo))
			return NFS4ERR_STALE;
		nfs4_fh_set_pseudo(out, node);
		return NFS4_OK;
	}
	int rc = export_fh_decode(c->ctx->srv->exports, b, fh->nfs_fh4_len, &o);
	if (rc == -EBADMSG)
		return NFS4ERR_BADHANDLE;
	if (rc < 0)
		return NFS4ERR_STALE;
	nfs4_fh_set_obj(c, out, &o);
	if (out->acc == EXPORT_DENIED)
		return NFS4ERR_ACCESS;
	return NFS4_OK;
}

nfsstat4 nfs4_fh_to_wire(struct nfs4_compound *c, const struct nfs4_fh *fh, nfs_fh4 *out)
{
	uint8_t *buf = nfs4_alloc(c, EXPORT_FH_MAX);
	if (!buf)
		return NFS4ERR_SERVERFAULT;
	if (fh->kind == FH4_PSEUDO) {
		memset(buf, 0, PSEUDO_FH_LEN);
		buf[0] = 0xfe;
		buf[1] = 'P';
		buf[4] = (uint8_t)(fh->pnode >> 24);
		buf[5] = (uint8_t)(fh->pnode >> 16);
		buf[6] = (uint8_t)(fh->pnode >> 8);
		buf[7] = (uint8_t)fh->pnode;
		out->nfs_fh4_len = PSEUDO_FH_LEN;
	} else {
		out->nfs_fh4_len = (u_int)export_fh_encode(c->ctx->srv->exports, &fh->obj, buf);
	}
	out->nfs_fh4_val = (char *)buf;
	return NFS4_OK;
}

nfsstat4 nfs4_fh_type(struct nfs4_compound *c, struct nfs4_fh *fh, enum fsal_type *type)
{
	(void)c;
	if (!fh->have_type) {
		struct fsal_attr a;
		int rc = fh->obj.ops->getattr(fh->obj.fs, &fh->obj.key, &a);
		if (rc < 0)
			return nfs4_err(rc, true);
		fh->type = a.type;
		fh->have_type = true;
	}
	*type = fh->type;
	return NFS4_OK;
}

nfsstat4 nfs4_cur_obj(struct nfs4_compound *c, nfsstat4 if_pseudo)
{
	if (c->cur.kind == FH4_NONE)
		return NFS4ERR_NOFILEHANDLE;
	return c->cur.kind == FH4_PSEUDO ? if_pseudo : NFS4_OK;
}

nfsstat4 nfs4_cur_reg(struct nfs4_compound *c)
{
	enum fsal_type t = FSAL_REG;
	nfsstat4 st = nfs4_cur_obj(c, NFS4ERR_ISDIR);
	if (st == NFS4_OK)
		st = nfs4_fh_type(c, &c->cur, &t);
	if (st != NFS4_OK)
		return st;
	if (t == FSAL_DIR)
		return NFS4ERR_ISDIR;
	if (t == FSAL_LNK)
		return c->minor ? NFS4ERR_SYMLINK : NFS4ERR_INVAL;
	return t == FSAL_REG ? NFS4_OK : NFS4ERR_INVAL;
}

nfsstat4 nfs4_name(struct nfs4_compound *c, const component4 *name, char **out)
{
	size_t len = name->utf8string_len;
	if (len == 0)
		return NFS4ERR_INVAL;
	if (len > FSAL_NAME_MAX)
		return NFS4ERR_NAMETOOLONG;
	if (memchr(name->utf8string_val, '/', len) || memchr(name->utf8string_val, 0, len))
		return NFS4ERR_BADCHAR;
	if ((len == 1 && name->utf8string_val[0] == '.') ||
	    (len == 2 && !memcmp(name->utf8string_val, "..", 2)))
		return NFS4ERR_BADNAME;
	char *s = nfs4_alloc(c, len + 1);
	if (!s)
		return NFS4ERR_SERVERFAULT;
	memcpy(s, name->utf8string_val, len);
	s[len] = 0;
	*out = s;
	return NFS4_OK;
}
