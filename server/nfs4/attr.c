/*
 * attr.c — NFSv4 attributes (RFC 7530 §5, RFC 8881 §5): which are supported,
 * encoding them for GETATTR/READDIR/VERIFY, decoding the settable ones.
 *
 * Values are written straight into an XDR buffer in the arena (a fattr4's
 * attr_vals), in bit order, by one small function per attribute; nothing here
 * builds rpcgen's fattr4_* structures. Owners are numeric ids on the wire
 * ("1000"); on input a numeric id, a name or name@domain is accepted (names
 * through getpwnam_r/getgrnam_r).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/nfs4/nfs4_int.h"
#include "server/nfs4/pseudo.h"
#include "server/nfs4/state.h"
#include "server/server.h"

#define ATTR_BUF_MAX	  2048
#define PSEUDO_FSID_MAJOR 0x7477ull /* "tw": the pseudo filesystem's fsid */

/* ---- a bounded big-endian writer ---- */
struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

static void w32(struct wbuf *w, uint32_t v)
{
	if (w->len + 4 > w->cap) {
		w->overflow = true;
		return;
	}
	uint8_t *p = w->p + w->len;
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	w->len += 4;
}

static void w64(struct wbuf *w, uint64_t v)
{
	w32(w, (uint32_t)(v >> 32));
	w32(w, (uint32_t)v);
}

static void wopaque(struct wbuf *w, const void *d, size_t n)
{
	size_t pad = (4 - (n & 3)) & 3;
	w32(w, (uint32_t)n);
	if (w->len + n + pad > w->cap) {
		w->overflow = true;
		return;
	}
	memcpy(w->p + w->len, d, n);
	memset(w->p + w->len + n, 0, pad);
	w->len += n + pad;
}

static void wtime(struct wbuf *w, const struct timespec *ts)
{
	w64(w, (uint64_t)(int64_t)ts->tv_sec);
	w32(w, (uint32_t)ts->tv_nsec);
}

/* ---- bitmaps ---- */
bool nfs4_bitmap_isset(const bitmap4 *b, unsigned bit)
{
	return bit / 32 < b->bitmap4_len && (b->bitmap4_val[bit / 32] >> (bit % 32)) & 1;
}

void nfs4_bitmap_set(uint32_t *words, unsigned bit)
{
	words[bit / 32] |= 1u << (bit % 32);
}

uint64_t nfs4_change(const struct fsal_attr *a)
{
	return (uint64_t)a->ctime.tv_sec * 1000000000ull + (uint64_t)a->ctime.tv_nsec;
}

void nfs4_cinfo(change_info4 *ci, const struct fsal_attr *before, const struct fsal_attr *after)
{
	ci->atomic = FALSE;
	ci->before = nfs4_change(before);
	ci->after = nfs4_change(after);
}

/* ---- the attributes ---- */

enum { A_RO = 1, A_WO = 2, A_RW = 3, A_V41 = 4, A_V42 = 8 };

struct attr_ctx {
	struct nfs4_compound *c;
	const struct nfs4_attr_src *src;
	const struct fsal_attr *a;
	struct fsal_statfs sf;
	bool have_sf;
	nfsstat4 err;
};

typedef void (*attr_enc_fn)(struct attr_ctx *x, struct wbuf *w);

struct attr_desc {
	attr_enc_fn enc;
	unsigned flags;
};

static void supported_words(uint32_t minor, uint32_t words[3]);

static void enc_supported(struct attr_ctx *x, struct wbuf *w)
{
	uint32_t words[3] = {0};
	supported_words(x->c->minor, words);
	uint32_t n = words[2] ? 3 : 2;
	w32(w, n);
	for (uint32_t i = 0; i < n; i++)
		w32(w, words[i]);
}

static void enc_type(struct attr_ctx *x, struct wbuf *w)
{
	w32(w, x->a ? (uint32_t)x->a->type : NF4DIR);
}

static void enc_zero32(struct attr_ctx *x, struct wbuf *w)
{
	(void)x;
	w32(w, 0); /* FH4_PERSISTENT, aclsupport none, FALSE */
}

static void enc_true(struct attr_ctx *x, struct wbuf *w)
{
	(void)x;
	w32(w, 1);
}

static void enc_change(struct attr_ctx *x, struct wbuf *w)
{
	w64(w, x->a ? nfs4_change(x->a) : 1);
}

static void enc_size(struct attr_ctx *x, struct wbuf *w)
{
	w64(w, x->a ? x->a->size : 4096);
}

static void enc_fsid(struct attr_ctx *x, struct wbuf *w)
{
	const struct nfs4_fh *fh = x->src->fh;
	if (fh->kind == FH4_OBJ) {
		w64(w, export_config(fh->obj.exp)->id);
		w64(w, 0);
	} else {
		w64(w, PSEUDO_FSID_MAJOR);
		w64(w, 0);
	}
}

static void enc_lease(struct attr_ctx *x, struct wbuf *w)
{
	w32(w, nfs4_state_lease(x->c->n4->state));
}

static void enc_rdattr_error(struct attr_ctx *x, struct wbuf *w)
{
	w32(w, x->src->rdattr_error);
}

static void enc_filehandle(struct attr_ctx *x, struct wbuf *w)
{
	nfs_fh4 fh;
	if (x->src->wirefh)
		fh = *x->src->wirefh;
	else if (nfs4_fh_to_wire(x->c, x->src->fh, &fh) != NFS4_OK) {
		x->err = NFS4ERR_SERVERFAULT;
		return;
	}
	wopaque(w, fh.nfs_fh4_val, fh.nfs_fh4_len);
}

static uint64_t pseudo_fileid(const struct nfs4_fh *fh)
{
	return (uint64_t)fh->pnode + 1;
}

static void enc_fileid(struct attr_ctx *x, struct wbuf *w)
{
	w64(w, x->a ? x->a->fileid : pseudo_fileid(x->src->fh));
}

static bool attr_statfs(struct attr_ctx *x)
{
	if (!x->have_sf) {
		memset(&x->sf, 0, sizeof(x->sf));
		const struct fsobj *o = &x->src->fh->obj;
		if (x->src->fh->kind == FH4_OBJ && o->ops->statfs(o->fs, &o->key, &x->sf) < 0) {
			x->err = NFS4ERR_IO;
			return false;
		}
		x->have_sf = true;
	}
	return true;
}

#define ENC_STATFS(fn, field)                                                                      \
	static void fn(struct attr_ctx *x, struct wbuf *w)                                         \
	{                                                                                          \
		if (attr_statfs(x))                                                                \
			w64(w, x->sf.field);                                                       \
	}
ENC_STATFS(enc_files_avail, afiles)
ENC_STATFS(enc_files_free, ffiles)
ENC_STATFS(enc_files_total, tfiles)
ENC_STATFS(enc_space_avail, abytes)
ENC_STATFS(enc_space_free, fbytes)
ENC_STATFS(enc_space_total, tbytes)

static void enc_maxfilesize(struct attr_ctx *x, struct wbuf *w)
{
	(void)x;
	w64(w, INT64_MAX);
}

static void enc_maxlink(struct attr_ctx *x, struct wbuf *w)
{
	(void)x;
	w32(w, 32000);
}

static void enc_maxname(struct attr_ctx *x, struct wbuf *w)
{
	(void)x;
	w32(w, FSAL_NAME_MAX);
}

static void enc_maxio(struct attr_ctx *x, struct wbuf *w)
{
	w64(w, x->c->ctx->srv->cfg.max_io);
}

static void enc_mode(struct attr_ctx *x, struct wbuf *w)
{
	w32(w, x->a ? x->a->mode : 0555);
}

static void enc_numlinks(struct attr_ctx *x, struct wbuf *w)
{
	w32(w, x->a ? x->a->nlink : 2);
}

static void enc_id(struct wbuf *w, uint32_t id)
{
	char s[16];
	int n = snprintf(s, sizeof(s), "%u", id);
	wopaque(w, s, (size_t)n);
}

static void enc_owner(struct attr_ctx *x, struct wbuf *w)
{
	enc_id(w, x->a ? x->a->uid : 0);
}

static void enc_group(struct attr_ctx *x, struct wbuf *w)
{
	enc_id(w, x->a ? x->a->gid : 0);
}

static void enc_rawdev(struct attr_ctx *x, struct wbuf *w)
{
	w32(w, x->a ? x->a->rdev_major : 0);
	w32(w, x->a ? x->a->rdev_minor : 0);
}

static void enc_space_used(struct attr_ctx *x, struct wbuf *w)
{
	w64(w, x->a ? x->a->used : 4096);
}

static const struct timespec *attr_time(struct attr_ctx *x, int which)
{
	static const struct timespec epoch = {0, 0};
	if (!x->a)
		return &epoch;
	return which == 0 ? &x->a->atime : which == 1 ? &x->a->mtime : &x->a->ctime;
}

static void enc_atime(struct attr_ctx *x, struct wbuf *w)
{
	wtime(w, attr_time(x, 0));
}

static void enc_mtime(struct attr_ctx *x, struct wbuf *w)
{
	wtime(w, attr_time(x, 1));
}

static void enc_ctime(struct attr_ctx *x, struct wbuf *w)
{
	wtime(w, attr_time(x, 2));
}

static void enc_time_delta(struct attr_ctx *x, struct wbuf *w)
{
	(void)x;
	w64(w, 0);
	w32(w, 1);
}

static void enc_mounted_on(struct attr_ctx *x, struct wbuf *w)
{
	enc_fileid(x, w);
}

static void enc_exclcreat(struct attr_ctx *x, struct wbuf *w)
{
	(void)x;
	/* attributes EXCLUSIVE4_1 may set with the verifier (RFC 8881 §5.8.1.14) */
	uint32_t words[3] = {0};
	nfs4_bitmap_set(words, FATTR4_SIZE);
	nfs4_bitmap_set(words, FATTR4_MODE);
	nfs4_bitmap_set(words, FATTR4_OWNER);
	nfs4_bitmap_set(words, FATTR4_OWNER_GROUP);
	w32(w, 2);
	for (int i = 0; i < 2; i++)
		w32(w, words[i]);
}

/* RFC 8276 §8: whether this object's filesystem has xattrs (false in the pseudo fs) */
static void enc_xattr_support(struct attr_ctx *x, struct wbuf *w)
{
	w32(w, nfs4_xattr_support(x->src->fh));
}

#define RO(fn)                                                                                     \
	{                                                                                          \
		fn, A_RO                                                                           \
	}
static const struct attr_desc attr_table[] = {
    [FATTR4_SUPPORTED_ATTRS] = RO(enc_supported),
    [FATTR4_TYPE] = RO(enc_type),
    [FATTR4_FH_EXPIRE_TYPE] = RO(enc_zero32),
    [FATTR4_CHANGE] = RO(enc_change),
    [FATTR4_SIZE] = {enc_size, A_RW},
    [FATTR4_LINK_SUPPORT] = RO(enc_true),
    [FATTR4_SYMLINK_SUPPORT] = RO(enc_true),
    [FATTR4_NAMED_ATTR] = RO(enc_zero32),
    [FATTR4_FSID] = RO(enc_fsid),
    [FATTR4_UNIQUE_HANDLES] = RO(enc_true),
    [FATTR4_LEASE_TIME] = RO(enc_lease),
    [FATTR4_RDATTR_ERROR] = RO(enc_rdattr_error),
    [FATTR4_ACLSUPPORT] = RO(enc_zero32),
    [FATTR4_CANSETTIME] = RO(enc_true),
    [FATTR4_CASE_INSENSITIVE] = RO(enc_zero32),
    [FATTR4_CASE_PRESERVING] = RO(enc_true),
    [FATTR4_CHOWN_RESTRICTED] = RO(enc_true),
    [FATTR4_FILEHANDLE] = RO(enc_filehandle),
    [FATTR4_FILEID] = RO(enc_fileid),
    [FATTR4_FILES_AVAIL] = RO(enc_files_avail),
    [FATTR4_FILES_FREE] = RO(enc_files_free),
    [FATTR4_FILES_TOTAL] = RO(enc_files_total),
    [FATTR4_HOMOGENEOUS] = RO(enc_true),
    [FATTR4_MAXFILESIZE] = RO(enc_maxfilesize),
    [FATTR4_MAXLINK] = RO(enc_maxlink),
    [FATTR4_MAXNAME] = RO(enc_maxname),
    [FATTR4_MAXREAD] = RO(enc_maxio),
    [FATTR4_MAXWRITE] = RO(enc_maxio),
    [FATTR4_MODE] = {enc_mode, A_RW},
    [FATTR4_NO_TRUNC] = RO(enc_true),
    [FATTR4_NUMLINKS] = RO(enc_numlinks),
    [FATTR4_OWNER] = {enc_owner, A_RW},
    [FATTR4_OWNER_GROUP] = {enc_group, A_RW},
    [FATTR4_RAWDEV] = RO(enc_rawdev),
    [FATTR4_SPACE_AVAIL] = RO(enc_space_avail),
    [FATTR4_SPACE_FREE] = RO(enc_space_free),
    [FATTR4_SPACE_TOTAL] = RO(enc_space_total),
    [FATTR4_SPACE_USED] = RO(enc_space_used),
    [FATTR4_TIME_ACCESS] = RO(enc_atime),
    [FATTR4_TIME_ACCESS_SET] = {NULL, A_WO},
    [FATTR4_TIME_DELTA] = RO(enc_time_delta),
    [FATTR4_TIME_METADATA] = RO(enc_ctime),
    [FATTR4_TIME_MODIFY] = RO(enc_mtime),
    [FATTR4_TIME_MODIFY_SET] = {NULL, A_WO},
    [FATTR4_MOUNTED_ON_FILEID] = RO(enc_mounted_on),
    [FATTR4_SUPPATTR_EXCLCREAT] = {enc_exclcreat, A_RO | A_V41},
    [FATTR4_XATTR_SUPPORT] = {enc_xattr_support, A_RO | A_V42},
};

#define ATTR_COUNT (sizeof(attr_table) / sizeof(attr_table[0]))

static bool attr_supported(unsigned bit, uint32_t minor)
{
	if (bit >= ATTR_COUNT || !attr_table[bit].flags)
		return false;
	if ((attr_table[bit].flags & A_V41) && minor < 1)
		return false;
	return !(attr_table[bit].flags & A_V42) || minor >= 2;
}

static void supported_words(uint32_t minor, uint32_t words[3])
{
	for (unsigned b = 0; b < ATTR_COUNT; b++)
		if (attr_supported(b, minor))
			nfs4_bitmap_set(words, b);
}

nfsstat4 nfs4_attr_encode(struct nfs4_compound *c, const bitmap4 *req,
			  const struct nfs4_attr_src *src, fattr4 *out)
{
	struct attr_ctx x = {.c = c, .src = src, .a = src->a};
	struct wbuf w = {.p = nfs4_alloc(c, ATTR_BUF_MAX), .cap = ATTR_BUF_MAX};
	uint32_t *words = nfs4_alloc(c, 3 * sizeof(uint32_t));

	if (!w.p || !words)
		return NFS4ERR_SERVERFAULT;
	unsigned nbits = req->bitmap4_len * 32;
	for (unsigned b = 0; b < nbits && x.err == NFS4_OK; b++) {
		if (!nfs4_bitmap_isset(req, b) || !attr_supported(b, c->minor) ||
		    !attr_table[b].enc)
			continue;
		attr_table[b].enc(&x, &w);
		nfs4_bitmap_set(words, b);
	}
	if (x.err != NFS4_OK)
		return x.err;
	if (w.overflow)
		return NFS4ERR_RESOURCE;
	unsigned n = words[2] ? 3 : words[1] ? 2 : words[0] ? 1 : 0;
	out->attrmask.bitmap4_len = n;
	out->attrmask.bitmap4_val = words;
	out->attr_vals.attrlist4_len = (u_int)w.len;
	out->attr_vals.attrlist4_val = (char *)w.p;
	return NFS4_OK;
}

/* GETATTR, READDIR: asking for a write-only attribute is INVAL (RFC 7530 §16.7.5). */
nfsstat4 nfs4_attr_check_get(const bitmap4 *req)
{
	for (unsigned b = 0; b < req->bitmap4_len * 32 && b < ATTR_COUNT; b++)
		if (nfs4_bitmap_isset(req, b) && attr_table[b].flags == A_WO)
			return NFS4ERR_INVAL;
	return NFS4_OK;
}

nfsstat4 nfs4_attr_get(struct nfs4_compound *c, const struct nfs4_fh *fh, const bitmap4 *req,
		       fattr4 *out)
{
	struct fsal_attr a;
	struct nfs4_attr_src src = {.fh = fh};
	if (fh->kind == FH4_OBJ) {
		int rc = fh->obj.ops->getattr(fh->obj.fs, &fh->obj.key, &a);
		if (rc < 0)
			return nfs4_err(rc, true);
		src.a = &a;
	}
	return nfs4_attr_encode(c, req, &src, out);
}

/* ---- decoding what a client sets ---- */

static nfsstat4 dec_owner(const utf8string *s, bool group, uint32_t *id)
{
	char name[256], buf[4096];
	if (s->utf8string_len == 0)
		return NFS4ERR_INVAL;
	if (s->utf8string_len >= sizeof(name))
		return NFS4ERR_BADOWNER;
	memcpy(name, s->utf8string_val, s->utf8string_len);
	name[s->utf8string_len] = 0;
	char *end;
	unsigned long v = strtoul(name, &end, 10);
	if (!*end && name[0] >= '0' && name[0] <= '9' && v <= UINT32_MAX) {
		*id = (uint32_t)v;
		return NFS4_OK;
	}
	char *at = strchr(name, '@');
	if (at)
		*at = 0;
	if (group) {
		struct group g, *gp = NULL;
		if (getgrnam_r(name, &g, buf, sizeof(buf), &gp) == 0 && gp) {
			*id = gp->gr_gid;
			return NFS4_OK;
		}
	} else {
		struct passwd p, *pp = NULL;
		if (getpwnam_r(name, &p, buf, sizeof(buf), &pp) == 0 && pp) {
			*id = pp->pw_uid;
			return NFS4_OK;
		}
	}
	return NFS4ERR_BADOWNER;
}

static nfsstat4 dec_settime(XDR *x, bool access, struct fsal_setattr *sa)
{
	settime4 t;
	memset(&t, 0, sizeof(t));
	if (!xdr_settime4(x, &t))
		return NFS4ERR_BADXDR;
	if (t.set_it == SET_TO_SERVER_TIME4) {
		sa->mask |= access ? FSAL_SET_ATIME_NOW : FSAL_SET_MTIME_NOW;
		return NFS4_OK;
	}
	if (t.settime4_u.time.nseconds >= 1000000000u)
		return NFS4ERR_INVAL;
	struct timespec ts = {(time_t)t.settime4_u.time.seconds, (long)t.settime4_u.time.nseconds};
	sa->mask |= access ? FSAL_SET_ATIME : FSAL_SET_MTIME;
	*(access ? &sa->atime : &sa->mtime) = ts;
	return NFS4_OK;
}

static nfsstat4 dec_one(XDR *x, unsigned bit, struct fsal_setattr *sa)
{
	utf8string s = {0, NULL};
	nfsstat4 st = NFS4_OK;
	switch (bit) {
	case FATTR4_SIZE:
		sa->mask |= FSAL_SET_SIZE;
		return xdr_uint64_t(x, &sa->size) ? NFS4_OK : NFS4ERR_BADXDR;
	case FATTR4_MODE:
		sa->mask |= FSAL_SET_MODE;
		if (!xdr_uint32_t(x, &sa->mode))
			return NFS4ERR_BADXDR;
		sa->mode &= 07777;
		return NFS4_OK;
	case FATTR4_OWNER:
	case FATTR4_OWNER_GROUP:
		if (!xdr_utf8string(x, &s))
			return NFS4ERR_BADXDR;
		st = dec_owner(&s, bit == FATTR4_OWNER_GROUP,
			       bit == FATTR4_OWNER ? &sa->uid : &sa->gid);
		sa->mask |= bit == FATTR4_OWNER ? FSAL_SET_UID : FSAL_SET_GID;
		xdr_free((xdrproc_t)xdr_utf8string, &s);
		return st;
	case FATTR4_TIME_ACCESS_SET:
	case FATTR4_TIME_MODIFY_SET:
		return dec_settime(x, bit == FATTR4_TIME_ACCESS_SET, sa);
	default:
		return NFS4ERR_ATTRNOTSUPP;
	}
}

/* Checks a request bitmap for SETATTR: unsupported → ATTRNOTSUPP, read-only → INVAL. */
static nfsstat4 check_settable(const bitmap4 *b, uint32_t minor)
{
	nfsstat4 st = NFS4_OK;
	for (unsigned bit = 0; bit < b->bitmap4_len * 32; bit++) {
		if (!nfs4_bitmap_isset(b, bit))
			continue;
		if (!attr_supported(bit, minor))
			return NFS4ERR_ATTRNOTSUPP;
		if (!(attr_table[bit].flags & A_WO))
			st = NFS4ERR_INVAL;
	}
	return st;
}

nfsstat4 nfs4_attr_decode_set(struct nfs4_compound *c, const fattr4 *in, struct nfs4_sattr *out)
{
	XDR x;
	memset(out, 0, sizeof(*out));
	out->set.bitmap4_val = out->setwords;
	nfsstat4 st = check_settable(&in->attrmask, c->minor);
	if (st != NFS4_OK)
		return st;
	xdrmem_ncreate(&x, in->attr_vals.attrlist4_val, in->attr_vals.attrlist4_len, XDR_DECODE);
	for (unsigned bit = 0; bit < in->attrmask.bitmap4_len * 32 && st == NFS4_OK; bit++) {
		if (!nfs4_bitmap_isset(&in->attrmask, bit))
			continue;
		st = dec_one(&x, bit, &out->sa);
		if (st == NFS4_OK)
			nfs4_bitmap_set(out->setwords, bit);
	}
	if (st == NFS4_OK && XDR_GETPOS(&x) != in->attr_vals.attrlist4_len)
		st = NFS4ERR_BADXDR;
	XDR_DESTROY(&x);
	out->set.bitmap4_len = out->setwords[1] ? 2 : out->setwords[0] ? 1 : 0;
	return st;
}

nfsstat4 nfs4_attr_compare(struct nfs4_compound *c, const fattr4 *in, bool *same)
{
	fattr4 mine;
	const bitmap4 *b = &in->attrmask;
	for (unsigned bit = 0; bit < b->bitmap4_len * 32; bit++) {
		if (!nfs4_bitmap_isset(b, bit))
			continue;
		if (!attr_supported(bit, c->minor))
			return NFS4ERR_ATTRNOTSUPP;
		if (!attr_table[bit].enc || bit == FATTR4_RDATTR_ERROR)
			return NFS4ERR_INVAL;
	}
	nfsstat4 st = nfs4_attr_get(c, &c->cur, b, &mine);
	if (st != NFS4_OK)
		return st;
	*same = mine.attr_vals.attrlist4_len == in->attr_vals.attrlist4_len &&
		!memcmp(mine.attr_vals.attrlist4_val, in->attr_vals.attrlist4_val,
			mine.attr_vals.attrlist4_len);
	return NFS4_OK;
}
