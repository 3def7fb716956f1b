/*
 * test_xdr.c — the XDR routines rpcgen makes from server/xdr/{nfs3,mount3}_prot.x.
 *
 * What is checked:
 *   - every NFSv3 procedure's arguments and both arms of its result (RFC 1813 §3.3),
 *     and MOUNT v3's (Appendix I), survive encode -> decode with every field equal,
 *     and the decoded value re-encodes to the very same bytes;
 *   - the union arms: post_op_attr/pre_op_attr/post_op_fh3 present and absent, sattr3
 *     with every set_it combination, createhow3 UNCHECKED/GUARDED/EXCLUSIVE, mknoddata3
 *     device/pipe/void arms, directory lists of three entries;
 *   - hand-computed big-endian bytes for a few messages, so that a mistake in the .x
 *     (a field order, a fixed opaque written as variable, a missing discriminant)
 *     fails here even though encode and decode would agree with each other;
 *   - hostile input: every proper prefix of an encoded message is refused (run under
 *     ASan: refused without reading past the end), over-long handles and strings are
 *     refused, and a short message cannot make the decoder allocate what it claims.
 *
 * Decoding always reads from an exact-size heap copy, so that a read past the end of
 * the message shows under AddressSanitizer (kept alive a while: handles and WRITE
 * data point into it). The decoded value is released with
 * xdr_free(), so LeakSanitizer checks that path as well.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/xdr/mount3_prot.h"
#include "server/xdr/nfs3_prot.h"

int twinfs_register_tests(void);

#define BUF_MAX 16384
#define XP(f)	((xdrproc_t)(f))

/* ---- encode / decode helpers ---- */

static bool encode(xdrproc_t proc, void *obj, char *buf, u_int size, u_int *len)
{
	XDR x;

	xdrmem_ncreate(&x, buf, size, XDR_ENCODE);
	bool ok = proc(&x, obj);
	*len = XDR_GETPOS(&x);
	XDR_DESTROY(&x);
	return ok;
}

/* File handles and WRITE data decode in place (server/xdr/nfs3_inplace.c): they
 * point into the message, so the last few copies stay alive while values decoded
 * from them are compared. */
static void keep_input(char *copy)
{
	static char *live[8];
	static unsigned next;

	free(live[next]);
	live[next] = copy;
	next = (next + 1) % 8;
}

/* Decodes from an exact-size copy of buf; *used is how much was consumed. */
static bool decode(xdrproc_t proc, void *obj, const void *buf, u_int len, u_int *used)
{
	char *copy = malloc(len ? len : 1);
	XDR x;

	CU_ASSERT_FATAL(copy != NULL);
	memcpy(copy, buf, len);
	xdrmem_ncreate(&x, copy, len, XDR_DECODE);
	bool ok = proc(&x, obj);
	*used = XDR_GETPOS(&x);
	XDR_DESTROY(&x);
	keep_input(copy);
	return ok;
}

static void hexdump(const char *what, const void *p, u_int len)
{
	const unsigned char *b = p;

	fprintf(stderr, "\n%s (%u bytes):", what, len);
	for (u_int i = 0; i < len; i++)
		fprintf(stderr, "%s%02x", i % 4 ? "" : " ", b[i]);
	fprintf(stderr, "\n");
}

/*
 * Encodes `in`, decodes it into `out` (zeroed first, `size` bytes), checks that the
 * whole message was consumed and that `out` re-encodes to the same bytes. Returns the
 * encoded length. The caller compares fields and then xdr_free()s `out`.
 */
static u_int roundtrip(xdrproc_t proc, void *in, void *out, size_t size)
{
	static char b1[BUF_MAX], b2[BUF_MAX];
	u_int l1 = 0, l2 = 0, used = 0;

	memset(out, 0, size);
	CU_ASSERT_FATAL(encode(proc, in, b1, sizeof(b1), &l1));
	CU_ASSERT_EQUAL(l1 % 4, 0);
	if (!decode(proc, out, b1, l1, &used)) {
		hexdump("not decoded", b1, l1);
		xdr_free(proc, out); /* what was decoded before the failure */
		CU_FAIL_FATAL("decoding what was just encoded failed");
	}
	CU_ASSERT_EQUAL(used, l1);
	CU_ASSERT_FATAL(encode(proc, out, b2, sizeof(b2), &l2));
	CU_ASSERT_EQUAL(l2, l1);
	if (l1 != l2 || memcmp(b1, b2, l1) != 0) {
		hexdump("encoded", b1, l1);
		hexdump("re-encoded", b2, l2);
	}
	CU_ASSERT_EQUAL(memcmp(b1, b2, l1), 0);
	return l1;
}

/* Asserts the exact bytes of `obj`, then that decoding them gives a value that
 * encodes back to them. */
static void expect_bytes(xdrproc_t proc, void *obj, size_t size, const uint8_t *want, u_int wantlen)
{
	char buf[BUF_MAX];
	u_int len = 0, used = 0;
	void *back = calloc(1, size);

	CU_ASSERT_FATAL(back != NULL);
	CU_ASSERT(encode(proc, obj, buf, sizeof(buf), &len));
	if (len != wantlen || memcmp(buf, want, len) != 0) {
		hexdump("got", buf, len);
		hexdump("want", want, wantlen);
	}
	CU_ASSERT_EQUAL(len, wantlen);
	CU_ASSERT_EQUAL(memcmp(buf, want, wantlen < len ? wantlen : len), 0);
	CU_ASSERT(decode(proc, back, want, wantlen, &used));
	CU_ASSERT_EQUAL(used, wantlen);
	CU_ASSERT(encode(proc, back, buf, sizeof(buf), &len));
	CU_ASSERT_EQUAL(len, wantlen);
	CU_ASSERT_EQUAL(memcmp(buf, want, wantlen < len ? wantlen : len), 0);
	xdr_free(proc, back);
	free(back);
}

/* Every proper prefix of the encoding of `in` must be refused; the whole accepted. */
static void check_prefixes(xdrproc_t proc, void *in, size_t size)
{
	static char buf[BUF_MAX];
	u_int len = 0, used = 0;
	void *out = malloc(size);
	int accepted = 0;

	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_FATAL(encode(proc, in, buf, sizeof(buf), &len));
	CU_ASSERT(len > 0);
	for (u_int n = 0; n < len; n++) {
		memset(out, 0, size);
		if (decode(proc, out, buf, n, &used)) {
			fprintf(stderr, "\nprefix of %u of %u bytes accepted\n", n, len);
			accepted++;
		}
		xdr_free(proc, out);
	}
	CU_ASSERT_EQUAL(accepted, 0);
	memset(out, 0, size);
	CU_ASSERT(decode(proc, out, buf, len, &used));
	CU_ASSERT_EQUAL(used, len);
	xdr_free(proc, out);
	free(out);
}

/* Decodes raw bytes; true when accepted. The value is freed. */
static bool decode_raw(xdrproc_t proc, size_t size, const uint8_t *bytes, u_int len)
{
	void *out = calloc(1, size);
	u_int used;

	CU_ASSERT_FATAL(out != NULL);
	bool ok = decode(proc, out, bytes, len, &used);
	xdr_free(proc, out);
	free(out);
	return ok;
}

/* ---- values: fill with distinctive numbers, compare field by field ---- */

static nfs_fh3 mkfh(char *storage, u_int len, unsigned seed)
{
	nfs_fh3 fh;

	for (u_int i = 0; i < len; i++)
		storage[i] = (char)(seed + 7 * i + 1);
	fh.data.data_len = len;
	fh.data.data_val = len ? storage : NULL;
	return fh;
}

static void eq_fh(const nfs_fh3 *a, const nfs_fh3 *b)
{
	CU_ASSERT_EQUAL(a->data.data_len, b->data.data_len);
	if (a->data.data_len && a->data.data_len == b->data.data_len) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(b->data.data_val);
		CU_ASSERT_EQUAL(memcmp(a->data.data_val, b->data.data_val, a->data.data_len), 0);
	}
}

static void eq_str(const char *a, const char *b)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_STRING_EQUAL(a, b);
}

static void eq_time(const nfstime3 *a, const nfstime3 *b)
{
	CU_ASSERT_EQUAL(a->seconds, b->seconds);
	CU_ASSERT_EQUAL(a->nseconds, b->nseconds);
}

static void fill_fattr(fattr3 *a, unsigned s)
{
	a->type = (ftype3)(NF3REG + s % 7);
	a->mode = 0640 + s;
	a->nlink = 2 + s;
	a->uid = 1000 + s;
	a->gid = 2000 + s;
	a->size = 0x0102030405060708ULL + s;
	a->used = 0x1112131415161718ULL + s;
	a->rdev.specdata1 = 0x21222324 + s;
	a->rdev.specdata2 = 0x31323334 + s;
	a->fsid = 0x4142434445464748ULL + s;
	a->fileid = 0xf1f2f3f4f5f6f7f8ULL + s; /* the top bit set: unsigned on the wire */
	a->atime = (nfstime3){0x61626364 + s, 100000001 + s};
	a->mtime = (nfstime3){0x71727374 + s, 200000002 + s};
	a->ctime = (nfstime3){0x81828384 + s, 300000003 + s};
}

static void eq_fattr(const fattr3 *a, const fattr3 *b)
{
	CU_ASSERT_EQUAL(a->type, b->type);
	CU_ASSERT_EQUAL(a->mode, b->mode);
	CU_ASSERT_EQUAL(a->nlink, b->nlink);
	CU_ASSERT_EQUAL(a->uid, b->uid);
	CU_ASSERT_EQUAL(a->gid, b->gid);
	CU_ASSERT_EQUAL(a->size, b->size);
	CU_ASSERT_EQUAL(a->used, b->used);
	CU_ASSERT_EQUAL(a->rdev.specdata1, b->rdev.specdata1);
	CU_ASSERT_EQUAL(a->rdev.specdata2, b->rdev.specdata2);
	CU_ASSERT_EQUAL(a->fsid, b->fsid);
	CU_ASSERT_EQUAL(a->fileid, b->fileid);
	eq_time(&a->atime, &b->atime);
	eq_time(&a->mtime, &b->mtime);
	eq_time(&a->ctime, &b->ctime);
}

static post_op_attr mkpost(bool present, unsigned s)
{
	post_op_attr p;

	memset(&p, 0, sizeof(p));
	p.attributes_follow = present;
	if (present)
		fill_fattr(&p.post_op_attr_u.attributes, s);
	return p;
}

static void eq_post(const post_op_attr *a, const post_op_attr *b)
{
	CU_ASSERT_EQUAL(a->attributes_follow, b->attributes_follow);
	if (a->attributes_follow && b->attributes_follow)
		eq_fattr(&a->post_op_attr_u.attributes, &b->post_op_attr_u.attributes);
}

static pre_op_attr mkpre(bool present, unsigned s)
{
	pre_op_attr p;

	memset(&p, 0, sizeof(p));
	p.attributes_follow = present;
	if (present) {
		p.pre_op_attr_u.attributes.size = 0x8182838485868788ULL + s;
		p.pre_op_attr_u.attributes.mtime = (nfstime3){0x91929394 + s, 400000004 + s};
		p.pre_op_attr_u.attributes.ctime = (nfstime3){0xa1a2a3a4 + s, 500000005 + s};
	}
	return p;
}

static void eq_pre(const pre_op_attr *a, const pre_op_attr *b)
{
	CU_ASSERT_EQUAL(a->attributes_follow, b->attributes_follow);
	if (a->attributes_follow && b->attributes_follow) {
		CU_ASSERT_EQUAL(a->pre_op_attr_u.attributes.size, b->pre_op_attr_u.attributes.size);
		eq_time(&a->pre_op_attr_u.attributes.mtime, &b->pre_op_attr_u.attributes.mtime);
		eq_time(&a->pre_op_attr_u.attributes.ctime, &b->pre_op_attr_u.attributes.ctime);
	}
}

/* which: bit 0 before present, bit 1 after present */
static wcc_data mkwcc(unsigned which, unsigned s)
{
	wcc_data w;

	w.before = mkpre(which & 1, s);
	w.after = mkpost(which & 2, s + 1);
	return w;
}

static void eq_wcc(const wcc_data *a, const wcc_data *b)
{
	eq_pre(&a->before, &b->before);
	eq_post(&a->after, &b->after);
}

/* combo 0..143: bits 0..3 set mode/uid/gid/size; (combo >> 4) % 3 the atime how,
 * combo / 48 the mtime how. */
#define SATTR_COMBOS 144

static sattr3 mksattr(unsigned combo, unsigned s)
{
	sattr3 a;

	memset(&a, 0, sizeof(a));
	a.mode.set_it = combo & 1;
	if (a.mode.set_it)
		a.mode.set_mode3_u.mode = 04755 + s;
	a.uid.set_it = (combo >> 1) & 1;
	if (a.uid.set_it)
		a.uid.set_uid3_u.uid = 3000 + s;
	a.gid.set_it = (combo >> 2) & 1;
	if (a.gid.set_it)
		a.gid.set_gid3_u.gid = 4000 + s;
	a.size.set_it = (combo >> 3) & 1;
	if (a.size.set_it)
		a.size.set_size3_u.size = 0xb1b2b3b4b5b6b7b8ULL + s;
	a.atime.set_it = (time_how)((combo >> 4) % 3);
	if (a.atime.set_it == SET_TO_CLIENT_TIME)
		a.atime.set_atime_u.atime = (nfstime3){0xc1c2c3c4 + s, 600000006 + s};
	a.mtime.set_it = (time_how)(combo / 48);
	if (a.mtime.set_it == SET_TO_CLIENT_TIME)
		a.mtime.set_mtime_u.mtime = (nfstime3){0xd1d2d3d4 + s, 700000007 + s};
	return a;
}

static void eq_sattr(const sattr3 *a, const sattr3 *b)
{
	CU_ASSERT_EQUAL(a->mode.set_it, b->mode.set_it);
	if (a->mode.set_it)
		CU_ASSERT_EQUAL(a->mode.set_mode3_u.mode, b->mode.set_mode3_u.mode);
	CU_ASSERT_EQUAL(a->uid.set_it, b->uid.set_it);
	if (a->uid.set_it)
		CU_ASSERT_EQUAL(a->uid.set_uid3_u.uid, b->uid.set_uid3_u.uid);
	CU_ASSERT_EQUAL(a->gid.set_it, b->gid.set_it);
	if (a->gid.set_it)
		CU_ASSERT_EQUAL(a->gid.set_gid3_u.gid, b->gid.set_gid3_u.gid);
	CU_ASSERT_EQUAL(a->size.set_it, b->size.set_it);
	if (a->size.set_it)
		CU_ASSERT_EQUAL(a->size.set_size3_u.size, b->size.set_size3_u.size);
	CU_ASSERT_EQUAL(a->atime.set_it, b->atime.set_it);
	if (a->atime.set_it == SET_TO_CLIENT_TIME)
		eq_time(&a->atime.set_atime_u.atime, &b->atime.set_atime_u.atime);
	CU_ASSERT_EQUAL(a->mtime.set_it, b->mtime.set_it);
	if (a->mtime.set_it == SET_TO_CLIENT_TIME)
		eq_time(&a->mtime.set_mtime_u.mtime, &b->mtime.set_mtime_u.mtime);
}

static void eq_dirop(const diropargs3 *a, const diropargs3 *b)
{
	eq_fh(&a->dir, &b->dir);
	eq_str(a->name, b->name);
}

static post_op_fh3 mkpostfh(char *storage, u_int len, unsigned seed)
{
	post_op_fh3 p;

	memset(&p, 0, sizeof(p));
	p.handle_follows = storage != NULL;
	if (storage)
		p.post_op_fh3_u.handle = mkfh(storage, len, seed);
	return p;
}

static void eq_postfh(const post_op_fh3 *a, const post_op_fh3 *b)
{
	CU_ASSERT_EQUAL(a->handle_follows, b->handle_follows);
	if (a->handle_follows && b->handle_follows)
		eq_fh(&a->post_op_fh3_u.handle, &b->post_op_fh3_u.handle);
}

static void fill_verf(char *v, unsigned s)
{
	for (int i = 0; i < 8; i++)
		v[i] = (char)(0xe0 + s + i);
}

/* ---- NULL ---- */

static void test_null(void)
{
	char buf[16];
	u_int len = 99, used = 99;

	CU_ASSERT(encode(XP(xdr_void), NULL, buf, sizeof(buf), &len));
	CU_ASSERT_EQUAL(len, 0);
	CU_ASSERT(decode(XP(xdr_void), NULL, buf, 0, &used));
	CU_ASSERT_EQUAL(used, 0);
}

/* ---- GETATTR ---- */

static void test_getattr(void)
{
	char h[64];
	GETATTR3args a = {.object = mkfh(h, 64, 1)}, ad;
	GETATTR3res r, rd;

	CU_ASSERT_EQUAL(roundtrip(XP(xdr_GETATTR3args), &a, &ad, sizeof(ad)), 4 + 64);
	eq_fh(&a.object, &ad.object);
	xdr_free(XP(xdr_GETATTR3args), &ad);

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	fill_fattr(&r.GETATTR3res_u.resok.obj_attributes, 2);
	CU_ASSERT_EQUAL(roundtrip(XP(xdr_GETATTR3res), &r, &rd, sizeof(rd)), 4 + 84);
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_fattr(&r.GETATTR3res_u.resok.obj_attributes, &rd.GETATTR3res_u.resok.obj_attributes);
	xdr_free(XP(xdr_GETATTR3res), &rd);

	/* The error arm is void. */
	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_STALE;
	CU_ASSERT_EQUAL(roundtrip(XP(xdr_GETATTR3res), &r, &rd, sizeof(rd)), 4);
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_STALE);
	xdr_free(XP(xdr_GETATTR3res), &rd);
}

/* ---- SETATTR ---- */

/* Every set_it combination, with both guard arms. */
static void test_setattr_args(void)
{
	char h[20];
	SETATTR3args a, ad;

	for (unsigned c = 0; c < SATTR_COMBOS; c++) {
		memset(&a, 0, sizeof(a));
		a.object = mkfh(h, 20, c);
		a.new_attributes = mksattr(c, c);
		a.guard.check = c & 1;
		if (a.guard.check)
			a.guard.sattrguard3_u.obj_ctime = (nfstime3){0xe1e2e3e4 + c, 800000008};
		roundtrip(XP(xdr_SETATTR3args), &a, &ad, sizeof(ad));
		eq_fh(&a.object, &ad.object);
		eq_sattr(&a.new_attributes, &ad.new_attributes);
		CU_ASSERT_EQUAL(a.guard.check, ad.guard.check);
		if (a.guard.check)
			eq_time(&a.guard.sattrguard3_u.obj_ctime,
				&ad.guard.sattrguard3_u.obj_ctime);
		xdr_free(XP(xdr_SETATTR3args), &ad);
	}
}

static void test_setattr_res(void)
{
	SETATTR3res r, rd;

	for (unsigned which = 0; which < 4; which++) {
		memset(&r, 0, sizeof(r));
		r.status = NFS3_OK;
		r.SETATTR3res_u.resok.obj_wcc = mkwcc(which, 3);
		roundtrip(XP(xdr_SETATTR3res), &r, &rd, sizeof(rd));
		CU_ASSERT_EQUAL(rd.status, NFS3_OK);
		eq_wcc(&r.SETATTR3res_u.resok.obj_wcc, &rd.SETATTR3res_u.resok.obj_wcc);
		xdr_free(XP(xdr_SETATTR3res), &rd);

		memset(&r, 0, sizeof(r));
		r.status = NFS3ERR_NOT_SYNC;
		r.SETATTR3res_u.resfail.obj_wcc = mkwcc(which, 4);
		roundtrip(XP(xdr_SETATTR3res), &r, &rd, sizeof(rd));
		CU_ASSERT_EQUAL(rd.status, NFS3ERR_NOT_SYNC);
		eq_wcc(&r.SETATTR3res_u.resfail.obj_wcc, &rd.SETATTR3res_u.resfail.obj_wcc);
		xdr_free(XP(xdr_SETATTR3res), &rd);
	}
}

/* ---- LOOKUP ---- */

static void test_lookup(void)
{
	char h[32], h2[28];
	LOOKUP3args a, ad;
	LOOKUP3res r, rd;

	a.what.dir = mkfh(h, 32, 5);
	a.what.name = "lookup-me.txt";
	roundtrip(XP(xdr_LOOKUP3args), &a, &ad, sizeof(ad));
	eq_dirop(&a.what, &ad.what);
	xdr_free(XP(xdr_LOOKUP3args), &ad);

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	r.LOOKUP3res_u.resok.object = mkfh(h2, 28, 6);
	r.LOOKUP3res_u.resok.obj_attributes = mkpost(true, 7);
	r.LOOKUP3res_u.resok.dir_attributes = mkpost(false, 0);
	roundtrip(XP(xdr_LOOKUP3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_fh(&r.LOOKUP3res_u.resok.object, &rd.LOOKUP3res_u.resok.object);
	eq_post(&r.LOOKUP3res_u.resok.obj_attributes, &rd.LOOKUP3res_u.resok.obj_attributes);
	eq_post(&r.LOOKUP3res_u.resok.dir_attributes, &rd.LOOKUP3res_u.resok.dir_attributes);
	xdr_free(XP(xdr_LOOKUP3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_NOENT;
	r.LOOKUP3res_u.resfail.dir_attributes = mkpost(true, 8);
	roundtrip(XP(xdr_LOOKUP3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_NOENT);
	eq_post(&r.LOOKUP3res_u.resfail.dir_attributes, &rd.LOOKUP3res_u.resfail.dir_attributes);
	xdr_free(XP(xdr_LOOKUP3res), &rd);
}

/* ---- ACCESS ---- */

static void test_access(void)
{
	char h[8];
	ACCESS3args a = {.object = mkfh(h, 8, 9), .access = ACCESS3_READ | ACCESS3_EXECUTE}, ad;
	ACCESS3res r, rd;

	roundtrip(XP(xdr_ACCESS3args), &a, &ad, sizeof(ad));
	eq_fh(&a.object, &ad.object);
	CU_ASSERT_EQUAL(ad.access, 0x21);
	xdr_free(XP(xdr_ACCESS3args), &ad);

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	r.ACCESS3res_u.resok.obj_attributes = mkpost(true, 10);
	r.ACCESS3res_u.resok.access = ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_DELETE;
	roundtrip(XP(xdr_ACCESS3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_post(&r.ACCESS3res_u.resok.obj_attributes, &rd.ACCESS3res_u.resok.obj_attributes);
	CU_ASSERT_EQUAL(rd.ACCESS3res_u.resok.access, 0x16);
	xdr_free(XP(xdr_ACCESS3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_BADHANDLE;
	r.ACCESS3res_u.resfail.obj_attributes = mkpost(false, 0);
	CU_ASSERT_EQUAL(roundtrip(XP(xdr_ACCESS3res), &r, &rd, sizeof(rd)), 8);
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_BADHANDLE);
	CU_ASSERT_EQUAL(rd.ACCESS3res_u.resfail.obj_attributes.attributes_follow, 0);
	xdr_free(XP(xdr_ACCESS3res), &rd);
}

/* ---- READLINK ---- */

static void test_readlink(void)
{
	char h[12];
	READLINK3args a = {.symlink = mkfh(h, 12, 11)}, ad;
	READLINK3res r, rd;

	roundtrip(XP(xdr_READLINK3args), &a, &ad, sizeof(ad));
	eq_fh(&a.symlink, &ad.symlink);
	xdr_free(XP(xdr_READLINK3args), &ad);

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	r.READLINK3res_u.resok.symlink_attributes = mkpost(true, 12);
	r.READLINK3res_u.resok.data = "../target/of/the link";
	roundtrip(XP(xdr_READLINK3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_post(&r.READLINK3res_u.resok.symlink_attributes,
		&rd.READLINK3res_u.resok.symlink_attributes);
	eq_str(r.READLINK3res_u.resok.data, rd.READLINK3res_u.resok.data);
	xdr_free(XP(xdr_READLINK3res), &rd);
	CU_ASSERT_PTR_NULL(rd.READLINK3res_u.resok.data);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_INVAL;
	r.READLINK3res_u.resfail.symlink_attributes = mkpost(true, 13);
	roundtrip(XP(xdr_READLINK3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_INVAL);
	eq_post(&r.READLINK3res_u.resfail.symlink_attributes,
		&rd.READLINK3res_u.resfail.symlink_attributes);
	xdr_free(XP(xdr_READLINK3res), &rd);
}

/* ---- READ ---- */

static void test_read(void)
{
	char h[16], data[1001];
	READ3args a = {.file = mkfh(h, 16, 14), .offset = 0xfedcba9876543210ULL, .count = 65536};
	READ3args ad;
	READ3res r, rd;

	roundtrip(XP(xdr_READ3args), &a, &ad, sizeof(ad));
	eq_fh(&a.file, &ad.file);
	CU_ASSERT_EQUAL(ad.offset, 0xfedcba9876543210ULL);
	CU_ASSERT_EQUAL(ad.count, 65536);
	xdr_free(XP(xdr_READ3args), &ad);

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 13 + 5);
	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	r.READ3res_u.resok.file_attributes = mkpost(true, 15);
	r.READ3res_u.resok.count = sizeof(data);
	r.READ3res_u.resok.eof = TRUE;
	r.READ3res_u.resok.data.data_len = sizeof(data);
	r.READ3res_u.resok.data.data_val = data;
	/* 1001 bytes of data pad to 1004 */
	CU_ASSERT_EQUAL(roundtrip(XP(xdr_READ3res), &r, &rd, sizeof(rd)),
			4 + 88 + 4 + 4 + 4 + 1004);
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_post(&r.READ3res_u.resok.file_attributes, &rd.READ3res_u.resok.file_attributes);
	CU_ASSERT_EQUAL(rd.READ3res_u.resok.count, 1001);
	CU_ASSERT_EQUAL(rd.READ3res_u.resok.eof, TRUE);
	CU_ASSERT_EQUAL_FATAL(rd.READ3res_u.resok.data.data_len, 1001);
	CU_ASSERT_EQUAL(memcmp(rd.READ3res_u.resok.data.data_val, data, 1001), 0);
	xdr_free(XP(xdr_READ3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_IO;
	r.READ3res_u.resfail.file_attributes = mkpost(false, 0);
	roundtrip(XP(xdr_READ3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_IO);
	eq_post(&r.READ3res_u.resfail.file_attributes, &rd.READ3res_u.resfail.file_attributes);
	xdr_free(XP(xdr_READ3res), &rd);
}

/* ---- WRITE ---- */

static WRITE3args write_args(char *h, char *data, u_int len)
{
	WRITE3args a;

	for (u_int i = 0; i < len; i++)
		data[i] = (char)(0x30 + i);
	a.file = mkfh(h, 22, 16);
	a.offset = 0x0102030405060708ULL;
	a.count = len;
	a.stable = FILE_SYNC;
	a.data.data_len = len;
	a.data.data_val = data;
	return a;
}

static void test_write_args(void)
{
	char h[22], data[13];
	WRITE3args a = write_args(h, data, sizeof(data)), ad;

	/* fh 4+24, offset 8, count 4, stable 4, data 4+16 */
	CU_ASSERT_EQUAL(roundtrip(XP(xdr_WRITE3args), &a, &ad, sizeof(ad)), 64);
	eq_fh(&a.file, &ad.file);
	CU_ASSERT_EQUAL(ad.offset, 0x0102030405060708ULL);
	CU_ASSERT_EQUAL(ad.count, 13);
	CU_ASSERT_EQUAL(ad.stable, FILE_SYNC);
	CU_ASSERT_EQUAL_FATAL(ad.data.data_len, 13);
	CU_ASSERT_EQUAL(memcmp(ad.data.data_val, data, 13), 0);
	xdr_free(XP(xdr_WRITE3args), &ad);
	CU_ASSERT_PTR_NULL(ad.data.data_val);

	/* UNSTABLE with no data at all */
	a.stable = UNSTABLE;
	a.count = 0;
	a.data.data_len = 0;
	a.data.data_val = NULL;
	roundtrip(XP(xdr_WRITE3args), &a, &ad, sizeof(ad));
	CU_ASSERT_EQUAL(ad.stable, UNSTABLE);
	CU_ASSERT_EQUAL(ad.data.data_len, 0);
	xdr_free(XP(xdr_WRITE3args), &ad);
}

static void test_write_res(void)
{
	WRITE3res r, rd;

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	r.WRITE3res_u.resok.file_wcc = mkwcc(3, 17);
	r.WRITE3res_u.resok.count = 4096;
	r.WRITE3res_u.resok.committed = DATA_SYNC;
	fill_verf(r.WRITE3res_u.resok.verf, 1);
	roundtrip(XP(xdr_WRITE3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_wcc(&r.WRITE3res_u.resok.file_wcc, &rd.WRITE3res_u.resok.file_wcc);
	CU_ASSERT_EQUAL(rd.WRITE3res_u.resok.count, 4096);
	CU_ASSERT_EQUAL(rd.WRITE3res_u.resok.committed, DATA_SYNC);
	CU_ASSERT_EQUAL(memcmp(rd.WRITE3res_u.resok.verf, r.WRITE3res_u.resok.verf, 8), 0);
	xdr_free(XP(xdr_WRITE3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_NOSPC;
	r.WRITE3res_u.resfail.file_wcc = mkwcc(1, 18);
	roundtrip(XP(xdr_WRITE3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_NOSPC);
	eq_wcc(&r.WRITE3res_u.resfail.file_wcc, &rd.WRITE3res_u.resfail.file_wcc);
	xdr_free(XP(xdr_WRITE3res), &rd);
}

/* ---- CREATE, MKDIR, SYMLINK, MKNOD: arguments ---- */

static void test_create_args(void)
{
	static const createmode3 modes[] = {UNCHECKED, GUARDED, EXCLUSIVE};
	char h[40];
	CREATE3args a, ad;

	for (unsigned i = 0; i < 3; i++) {
		memset(&a, 0, sizeof(a));
		a.where.dir = mkfh(h, 40, 19 + i);
		a.where.name = "new-file";
		a.how.mode = modes[i];
		if (modes[i] == EXCLUSIVE)
			fill_verf(a.how.createhow3_u.verf, 2);
		else
			a.how.createhow3_u.obj_attributes = mksattr(1 + 6 * i, i);
		roundtrip(XP(xdr_CREATE3args), &a, &ad, sizeof(ad));
		eq_dirop(&a.where, &ad.where);
		CU_ASSERT_EQUAL(ad.how.mode, modes[i]);
		if (modes[i] == EXCLUSIVE) {
			CU_ASSERT_EQUAL(
			    memcmp(ad.how.createhow3_u.verf, a.how.createhow3_u.verf, 8), 0);
		} else {
			eq_sattr(&a.how.createhow3_u.obj_attributes,
				 &ad.how.createhow3_u.obj_attributes);
		}
		xdr_free(XP(xdr_CREATE3args), &ad);
	}
}

static void test_mkdir_args(void)
{
	char h[10];
	MKDIR3args a, ad;

	a.where.dir = mkfh(h, 10, 22);
	a.where.name = "a directory";
	a.attributes = mksattr(SATTR_COMBOS - 1, 23);
	roundtrip(XP(xdr_MKDIR3args), &a, &ad, sizeof(ad));
	eq_dirop(&a.where, &ad.where);
	eq_sattr(&a.attributes, &ad.attributes);
	xdr_free(XP(xdr_MKDIR3args), &ad);
}

static void test_symlink_args(void)
{
	char h[24];
	SYMLINK3args a, ad;

	a.where.dir = mkfh(h, 24, 24);
	a.where.name = "link";
	a.symlink.symlink_attributes = mksattr(5, 25);
	a.symlink.symlink_data = "/an/absolute/target";
	roundtrip(XP(xdr_SYMLINK3args), &a, &ad, sizeof(ad));
	eq_dirop(&a.where, &ad.where);
	eq_sattr(&a.symlink.symlink_attributes, &ad.symlink.symlink_attributes);
	eq_str(a.symlink.symlink_data, ad.symlink.symlink_data);
	xdr_free(XP(xdr_SYMLINK3args), &ad);
}

/* The device arm (CHR, BLK), the pipe arm (SOCK, FIFO) and the void arm (REG, DIR, LNK). */
static void test_mknod_args(void)
{
	static const ftype3 types[] = {NF3CHR, NF3BLK, NF3FIFO, NF3SOCK, NF3REG, NF3DIR, NF3LNK};
	char h[18];
	MKNOD3args a, ad;

	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		memset(&a, 0, sizeof(a));
		a.where.dir = mkfh(h, 18, 26 + i);
		a.where.name = "node";
		a.what.type = types[i];
		if (types[i] == NF3CHR || types[i] == NF3BLK) {
			a.what.mknoddata3_u.device.dev_attributes = mksattr(15 + i, i);
			a.what.mknoddata3_u.device.spec = (specdata3){8 + i, 0x12345 + i};
		} else if (types[i] == NF3FIFO || types[i] == NF3SOCK) {
			a.what.mknoddata3_u.pipe_attributes = mksattr(3 + 16 * i, i);
		}
		u_int len = roundtrip(XP(xdr_MKNOD3args), &a, &ad, sizeof(ad));
		eq_dirop(&a.where, &ad.where);
		CU_ASSERT_EQUAL(ad.what.type, types[i]);
		if (types[i] == NF3CHR || types[i] == NF3BLK) {
			const devicedata3 *x = &a.what.mknoddata3_u.device;
			const devicedata3 *y = &ad.what.mknoddata3_u.device;
			eq_sattr(&x->dev_attributes, &y->dev_attributes);
			CU_ASSERT_EQUAL(y->spec.specdata1, 8 + i);
			CU_ASSERT_EQUAL(y->spec.specdata2, 0x12345 + i);
		} else if (types[i] == NF3FIFO || types[i] == NF3SOCK) {
			eq_sattr(&a.what.mknoddata3_u.pipe_attributes,
				 &ad.what.mknoddata3_u.pipe_attributes);
		} else {
			/* fh 4+20, name 4+4, type 4: nothing follows the type */
			CU_ASSERT_EQUAL(len, 24 + 8 + 4);
		}
		xdr_free(XP(xdr_MKNOD3args), &ad);
	}
}

/* ---- CREATE, MKDIR, SYMLINK, MKNOD: results (all are CREATE3resok/resfail) ---- */

static void fill_create_ok(CREATE3resok *ok, char *h, unsigned s)
{
	ok->obj = mkpostfh(h, h ? 36 : 0, s);
	ok->obj_attributes = mkpost(s & 1, s);
	ok->dir_wcc = mkwcc(s % 4, s + 1);
}

static void eq_create_ok(const CREATE3resok *a, const CREATE3resok *b)
{
	eq_postfh(&a->obj, &b->obj);
	eq_post(&a->obj_attributes, &b->obj_attributes);
	eq_wcc(&a->dir_wcc, &b->dir_wcc);
}

static void test_create_res(void)
{
	char h[36];
	CREATE3res r, rd;

	for (unsigned s = 0; s < 4; s++) {
		memset(&r, 0, sizeof(r));
		r.status = NFS3_OK;
		fill_create_ok(&r.CREATE3res_u.resok, s < 2 ? h : NULL, 30 + s);
		roundtrip(XP(xdr_CREATE3res), &r, &rd, sizeof(rd));
		CU_ASSERT_EQUAL(rd.status, NFS3_OK);
		eq_create_ok(&r.CREATE3res_u.resok, &rd.CREATE3res_u.resok);
		xdr_free(XP(xdr_CREATE3res), &rd);
	}
	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_EXIST;
	r.CREATE3res_u.resfail.dir_wcc = mkwcc(3, 34);
	roundtrip(XP(xdr_CREATE3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_EXIST);
	eq_wcc(&r.CREATE3res_u.resfail.dir_wcc, &rd.CREATE3res_u.resfail.dir_wcc);
	xdr_free(XP(xdr_CREATE3res), &rd);
}

static void test_mkdir_res(void)
{
	char h[36];
	MKDIR3res r, rd;

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	fill_create_ok(&r.MKDIR3res_u.resok, h, 35);
	roundtrip(XP(xdr_MKDIR3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_create_ok(&r.MKDIR3res_u.resok, &rd.MKDIR3res_u.resok);
	xdr_free(XP(xdr_MKDIR3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_DQUOT;
	r.MKDIR3res_u.resfail.dir_wcc = mkwcc(2, 36);
	roundtrip(XP(xdr_MKDIR3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_DQUOT);
	eq_wcc(&r.MKDIR3res_u.resfail.dir_wcc, &rd.MKDIR3res_u.resfail.dir_wcc);
	xdr_free(XP(xdr_MKDIR3res), &rd);
}

static void test_symlink_res(void)
{
	char h[36];
	SYMLINK3res r, rd;

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	fill_create_ok(&r.SYMLINK3res_u.resok, h, 37);
	roundtrip(XP(xdr_SYMLINK3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_create_ok(&r.SYMLINK3res_u.resok, &rd.SYMLINK3res_u.resok);
	xdr_free(XP(xdr_SYMLINK3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_NAMETOOLONG;
	r.SYMLINK3res_u.resfail.dir_wcc = mkwcc(1, 38);
	roundtrip(XP(xdr_SYMLINK3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_NAMETOOLONG);
	eq_wcc(&r.SYMLINK3res_u.resfail.dir_wcc, &rd.SYMLINK3res_u.resfail.dir_wcc);
	xdr_free(XP(xdr_SYMLINK3res), &rd);
}

static void test_mknod_res(void)
{
	MKNOD3res r, rd;

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	fill_create_ok(&r.MKNOD3res_u.resok, NULL, 39);
	roundtrip(XP(xdr_MKNOD3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_create_ok(&r.MKNOD3res_u.resok, &rd.MKNOD3res_u.resok);
	xdr_free(XP(xdr_MKNOD3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_BADTYPE;
	r.MKNOD3res_u.resfail.dir_wcc = mkwcc(0, 40);
	roundtrip(XP(xdr_MKNOD3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_BADTYPE);
	eq_wcc(&r.MKNOD3res_u.resfail.dir_wcc, &rd.MKNOD3res_u.resfail.dir_wcc);
	xdr_free(XP(xdr_MKNOD3res), &rd);
}

/* ---- REMOVE, RMDIR ---- */

static void test_remove(void)
{
	char h[30];
	REMOVE3args a, ad;
	REMOVE3res r, rd;

	a.object.dir = mkfh(h, 30, 41);
	a.object.name = "doomed";
	roundtrip(XP(xdr_REMOVE3args), &a, &ad, sizeof(ad));
	eq_dirop(&a.object, &ad.object);
	xdr_free(XP(xdr_REMOVE3args), &ad);

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	r.REMOVE3res_u.resok.dir_wcc = mkwcc(3, 42);
	roundtrip(XP(xdr_REMOVE3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_wcc(&r.REMOVE3res_u.resok.dir_wcc, &rd.REMOVE3res_u.resok.dir_wcc);
	xdr_free(XP(xdr_REMOVE3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_ACCES;
	r.REMOVE3res_u.resfail.dir_wcc = mkwcc(2, 43);
	roundtrip(XP(xdr_REMOVE3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_ACCES);
	eq_wcc(&r.REMOVE3res_u.resfail.dir_wcc, &rd.REMOVE3res_u.resfail.dir_wcc);
	xdr_free(XP(xdr_REMOVE3res), &rd);
}

static void test_rmdir(void)
{
	char h[6];
	RMDIR3args a, ad;
	RMDIR3res r, rd;

	a.object.dir = mkfh(h, 6, 44);
	a.object.name = "empty-dir";
	roundtrip(XP(xdr_RMDIR3args), &a, &ad, sizeof(ad));
	eq_dirop(&a.object, &ad.object);
	xdr_free(XP(xdr_RMDIR3args), &ad);

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	r.RMDIR3res_u.resok.dir_wcc = mkwcc(1, 45);
	roundtrip(XP(xdr_RMDIR3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_wcc(&r.RMDIR3res_u.resok.dir_wcc, &rd.RMDIR3res_u.resok.dir_wcc);
	xdr_free(XP(xdr_RMDIR3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_NOTEMPTY;
	r.RMDIR3res_u.resfail.dir_wcc = mkwcc(3, 46);
	roundtrip(XP(xdr_RMDIR3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_NOTEMPTY);
	eq_wcc(&r.RMDIR3res_u.resfail.dir_wcc, &rd.RMDIR3res_u.resfail.dir_wcc);
	xdr_free(XP(xdr_RMDIR3res), &rd);
}

/* ---- RENAME ---- */

static void test_rename(void)
{
	char h1[14], h2[15];
	RENAME3args a, ad;
	RENAME3res r, rd;

	a.from.dir = mkfh(h1, 14, 47);
	a.from.name = "old name";
	a.to.dir = mkfh(h2, 15, 48);
	a.to.name = "new-name";
	roundtrip(XP(xdr_RENAME3args), &a, &ad, sizeof(ad));
	eq_dirop(&a.from, &ad.from);
	eq_dirop(&a.to, &ad.to);
	xdr_free(XP(xdr_RENAME3args), &ad);

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	r.RENAME3res_u.resok.fromdir_wcc = mkwcc(3, 49);
	r.RENAME3res_u.resok.todir_wcc = mkwcc(1, 50);
	roundtrip(XP(xdr_RENAME3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_wcc(&r.RENAME3res_u.resok.fromdir_wcc, &rd.RENAME3res_u.resok.fromdir_wcc);
	eq_wcc(&r.RENAME3res_u.resok.todir_wcc, &rd.RENAME3res_u.resok.todir_wcc);
	xdr_free(XP(xdr_RENAME3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_XDEV;
	r.RENAME3res_u.resfail.fromdir_wcc = mkwcc(2, 51);
	r.RENAME3res_u.resfail.todir_wcc = mkwcc(0, 52);
	roundtrip(XP(xdr_RENAME3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_XDEV);
	eq_wcc(&r.RENAME3res_u.resfail.fromdir_wcc, &rd.RENAME3res_u.resfail.fromdir_wcc);
	eq_wcc(&r.RENAME3res_u.resfail.todir_wcc, &rd.RENAME3res_u.resfail.todir_wcc);
	xdr_free(XP(xdr_RENAME3res), &rd);
}

/* ---- LINK ---- */

static void test_link(void)
{
	char h1[26], h2[27];
	LINK3args a, ad;
	LINK3res r, rd;

	a.file = mkfh(h1, 26, 53);
	a.link.dir = mkfh(h2, 27, 54);
	a.link.name = "hard link";
	roundtrip(XP(xdr_LINK3args), &a, &ad, sizeof(ad));
	eq_fh(&a.file, &ad.file);
	eq_dirop(&a.link, &ad.link);
	xdr_free(XP(xdr_LINK3args), &ad);

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	r.LINK3res_u.resok.file_attributes = mkpost(true, 55);
	r.LINK3res_u.resok.linkdir_wcc = mkwcc(3, 56);
	roundtrip(XP(xdr_LINK3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_post(&r.LINK3res_u.resok.file_attributes, &rd.LINK3res_u.resok.file_attributes);
	eq_wcc(&r.LINK3res_u.resok.linkdir_wcc, &rd.LINK3res_u.resok.linkdir_wcc);
	xdr_free(XP(xdr_LINK3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_MLINK;
	r.LINK3res_u.resfail.file_attributes = mkpost(false, 0);
	r.LINK3res_u.resfail.linkdir_wcc = mkwcc(1, 57);
	roundtrip(XP(xdr_LINK3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_MLINK);
	eq_post(&r.LINK3res_u.resfail.file_attributes, &rd.LINK3res_u.resfail.file_attributes);
	eq_wcc(&r.LINK3res_u.resfail.linkdir_wcc, &rd.LINK3res_u.resfail.linkdir_wcc);
	xdr_free(XP(xdr_LINK3res), &rd);
}

/* ---- READDIR ---- */

static const char *const entry_names[3] = {"alpha", "b", "a-much-longer-entry-name.tar.gz"};

static void test_readdir_args(void)
{
	char h[34];
	READDIR3args a, ad;

	a.dir = mkfh(h, 34, 58);
	a.cookie = 0x8000000000000001ULL;
	fill_verf(a.cookieverf, 3);
	a.count = 8192;
	roundtrip(XP(xdr_READDIR3args), &a, &ad, sizeof(ad));
	eq_fh(&a.dir, &ad.dir);
	CU_ASSERT_EQUAL(ad.cookie, 0x8000000000000001ULL);
	CU_ASSERT_EQUAL(memcmp(ad.cookieverf, a.cookieverf, 8), 0);
	CU_ASSERT_EQUAL(ad.count, 8192);
	xdr_free(XP(xdr_READDIR3args), &ad);
}

static void fill_readdir_ok(READDIR3res *r, entry3 e[3])
{
	memset(r, 0, sizeof(*r));
	r->status = NFS3_OK;
	r->READDIR3res_u.resok.dir_attributes = mkpost(true, 59);
	fill_verf(r->READDIR3res_u.resok.cookieverf, 4);
	for (int i = 0; i < 3; i++) {
		e[i].fileid = 0x7000000000000100ULL + i;
		e[i].name = (char *)entry_names[i];
		e[i].cookie = 0x0000000100000000ULL * (i + 1) + 7;
		e[i].nextentry = i < 2 ? &e[i + 1] : NULL;
	}
	r->READDIR3res_u.resok.reply.entries = &e[0];
	r->READDIR3res_u.resok.reply.eof = TRUE;
}

static void test_readdir_res(void)
{
	entry3 e[3];
	READDIR3res r, rd;

	fill_readdir_ok(&r, e);
	roundtrip(XP(xdr_READDIR3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_post(&r.READDIR3res_u.resok.dir_attributes, &rd.READDIR3res_u.resok.dir_attributes);
	CU_ASSERT_EQUAL(
	    memcmp(rd.READDIR3res_u.resok.cookieverf, r.READDIR3res_u.resok.cookieverf, 8), 0);
	CU_ASSERT_EQUAL(rd.READDIR3res_u.resok.reply.eof, TRUE);
	int n = 0;
	for (const entry3 *d = rd.READDIR3res_u.resok.reply.entries; d; d = d->nextentry, n++) {
		CU_ASSERT_FATAL(n < 3);
		CU_ASSERT_EQUAL(d->fileid, e[n].fileid);
		eq_str(e[n].name, d->name);
		CU_ASSERT_EQUAL(d->cookie, e[n].cookie);
	}
	CU_ASSERT_EQUAL(n, 3);
	xdr_free(XP(xdr_READDIR3res), &rd);

	/* An empty, unfinished list. */
	r.READDIR3res_u.resok.reply.entries = NULL;
	r.READDIR3res_u.resok.reply.eof = FALSE;
	roundtrip(XP(xdr_READDIR3res), &r, &rd, sizeof(rd));
	CU_ASSERT_PTR_NULL(rd.READDIR3res_u.resok.reply.entries);
	CU_ASSERT_EQUAL(rd.READDIR3res_u.resok.reply.eof, FALSE);
	xdr_free(XP(xdr_READDIR3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_BAD_COOKIE;
	r.READDIR3res_u.resfail.dir_attributes = mkpost(true, 60);
	roundtrip(XP(xdr_READDIR3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_BAD_COOKIE);
	eq_post(&r.READDIR3res_u.resfail.dir_attributes, &rd.READDIR3res_u.resfail.dir_attributes);
	xdr_free(XP(xdr_READDIR3res), &rd);
}

/* ---- READDIRPLUS ---- */

static void test_readdirplus_args(void)
{
	char h[48];
	READDIRPLUS3args a, ad;

	a.dir = mkfh(h, 48, 61);
	a.cookie = 0x1234;
	fill_verf(a.cookieverf, 5);
	a.dircount = 4096;
	a.maxcount = 32768;
	roundtrip(XP(xdr_READDIRPLUS3args), &a, &ad, sizeof(ad));
	eq_fh(&a.dir, &ad.dir);
	CU_ASSERT_EQUAL(ad.cookie, 0x1234);
	CU_ASSERT_EQUAL(memcmp(ad.cookieverf, a.cookieverf, 8), 0);
	CU_ASSERT_EQUAL(ad.dircount, 4096);
	CU_ASSERT_EQUAL(ad.maxcount, 32768);
	xdr_free(XP(xdr_READDIRPLUS3args), &ad);
}

/* Three entries: attrs and a 22-byte handle; a 64-byte handle without attrs;
 * attrs without a handle. */
static void fill_readdirplus_ok(READDIRPLUS3res *r, entryplus3 e[3], char h[2][64])
{
	memset(r, 0, sizeof(*r));
	r->status = NFS3_OK;
	r->READDIRPLUS3res_u.resok.dir_attributes = mkpost(true, 62);
	fill_verf(r->READDIRPLUS3res_u.resok.cookieverf, 6);
	for (int i = 0; i < 3; i++) {
		e[i].fileid = 0x6000000000000200ULL + i;
		e[i].name = (char *)entry_names[i];
		e[i].cookie = 1000 + i;
		e[i].name_attributes = mkpost(i != 1, 63 + i);
		e[i].name_handle = mkpostfh(i < 2 ? h[i] : NULL, i == 0 ? 22 : 64, 66 + i);
		e[i].nextentry = i < 2 ? &e[i + 1] : NULL;
	}
	r->READDIRPLUS3res_u.resok.reply.entries = &e[0];
	r->READDIRPLUS3res_u.resok.reply.eof = TRUE;
}

static void test_readdirplus_res(void)
{
	entryplus3 e[3];
	char h[2][64];
	READDIRPLUS3res r, rd;

	fill_readdirplus_ok(&r, e, h);
	roundtrip(XP(xdr_READDIRPLUS3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	const READDIRPLUS3resok *ok = &rd.READDIRPLUS3res_u.resok;
	eq_post(&r.READDIRPLUS3res_u.resok.dir_attributes, &ok->dir_attributes);
	CU_ASSERT_EQUAL(memcmp(ok->cookieverf, r.READDIRPLUS3res_u.resok.cookieverf, 8), 0);
	CU_ASSERT_EQUAL(ok->reply.eof, TRUE);
	int n = 0;
	for (const entryplus3 *d = ok->reply.entries; d; d = d->nextentry, n++) {
		CU_ASSERT_FATAL(n < 3);
		CU_ASSERT_EQUAL(d->fileid, e[n].fileid);
		eq_str(e[n].name, d->name);
		CU_ASSERT_EQUAL(d->cookie, e[n].cookie);
		eq_post(&e[n].name_attributes, &d->name_attributes);
		eq_postfh(&e[n].name_handle, &d->name_handle);
	}
	CU_ASSERT_EQUAL(n, 3);
	xdr_free(XP(xdr_READDIRPLUS3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_TOOSMALL;
	r.READDIRPLUS3res_u.resfail.dir_attributes = mkpost(false, 0);
	roundtrip(XP(xdr_READDIRPLUS3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_TOOSMALL);
	eq_post(&r.READDIRPLUS3res_u.resfail.dir_attributes,
		&rd.READDIRPLUS3res_u.resfail.dir_attributes);
	xdr_free(XP(xdr_READDIRPLUS3res), &rd);
}

/* ---- FSSTAT ---- */

static void test_fsstat(void)
{
	char h[4];
	FSSTAT3args a = {.fsroot = mkfh(h, 4, 70)}, ad;
	FSSTAT3res r, rd;

	roundtrip(XP(xdr_FSSTAT3args), &a, &ad, sizeof(ad));
	eq_fh(&a.fsroot, &ad.fsroot);
	xdr_free(XP(xdr_FSSTAT3args), &ad);

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	FSSTAT3resok *ok = &r.FSSTAT3res_u.resok;
	ok->obj_attributes = mkpost(true, 71);
	ok->tbytes = 0x0000100000000000ULL;
	ok->fbytes = 0x00000f0000000001ULL;
	ok->abytes = 0x00000e0000000002ULL;
	ok->tfiles = 0x0000000100000003ULL;
	ok->ffiles = 0x0000000000fffff4ULL;
	ok->afiles = 0x0000000000fffff5ULL;
	ok->invarsec = 0xfffffffe;
	roundtrip(XP(xdr_FSSTAT3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	const FSSTAT3resok *d = &rd.FSSTAT3res_u.resok;
	eq_post(&ok->obj_attributes, &d->obj_attributes);
	CU_ASSERT_EQUAL(d->tbytes, ok->tbytes);
	CU_ASSERT_EQUAL(d->fbytes, ok->fbytes);
	CU_ASSERT_EQUAL(d->abytes, ok->abytes);
	CU_ASSERT_EQUAL(d->tfiles, ok->tfiles);
	CU_ASSERT_EQUAL(d->ffiles, ok->ffiles);
	CU_ASSERT_EQUAL(d->afiles, ok->afiles);
	CU_ASSERT_EQUAL(d->invarsec, 0xfffffffe);
	xdr_free(XP(xdr_FSSTAT3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_SERVERFAULT;
	r.FSSTAT3res_u.resfail.obj_attributes = mkpost(true, 72);
	roundtrip(XP(xdr_FSSTAT3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_SERVERFAULT);
	eq_post(&r.FSSTAT3res_u.resfail.obj_attributes, &rd.FSSTAT3res_u.resfail.obj_attributes);
	xdr_free(XP(xdr_FSSTAT3res), &rd);
}

/* ---- FSINFO ---- */

static void test_fsinfo(void)
{
	char h[50];
	FSINFO3args a = {.fsroot = mkfh(h, 50, 73)}, ad;
	FSINFO3res r, rd;

	roundtrip(XP(xdr_FSINFO3args), &a, &ad, sizeof(ad));
	eq_fh(&a.fsroot, &ad.fsroot);
	xdr_free(XP(xdr_FSINFO3args), &ad);

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	FSINFO3resok *ok = &r.FSINFO3res_u.resok;
	*ok = (FSINFO3resok){.obj_attributes = mkpost(false, 0),
			     .rtmax = 1048576,
			     .rtpref = 65536,
			     .rtmult = 4096,
			     .wtmax = 1048575,
			     .wtpref = 65537,
			     .wtmult = 4097,
			     .dtpref = 8193,
			     .maxfilesize = 0x7fffffffffffffffULL,
			     .time_delta = {0, 1},
			     .properties =
				 FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME};
	roundtrip(XP(xdr_FSINFO3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	const FSINFO3resok *d = &rd.FSINFO3res_u.resok;
	eq_post(&ok->obj_attributes, &d->obj_attributes);
	CU_ASSERT_EQUAL(d->rtmax, 1048576);
	CU_ASSERT_EQUAL(d->rtpref, 65536);
	CU_ASSERT_EQUAL(d->rtmult, 4096);
	CU_ASSERT_EQUAL(d->wtmax, 1048575);
	CU_ASSERT_EQUAL(d->wtpref, 65537);
	CU_ASSERT_EQUAL(d->wtmult, 4097);
	CU_ASSERT_EQUAL(d->dtpref, 8193);
	CU_ASSERT_EQUAL(d->maxfilesize, 0x7fffffffffffffffULL);
	eq_time(&ok->time_delta, &d->time_delta);
	CU_ASSERT_EQUAL(d->properties, 0x1b);
	xdr_free(XP(xdr_FSINFO3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_STALE;
	r.FSINFO3res_u.resfail.obj_attributes = mkpost(true, 74);
	roundtrip(XP(xdr_FSINFO3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_STALE);
	eq_post(&r.FSINFO3res_u.resfail.obj_attributes, &rd.FSINFO3res_u.resfail.obj_attributes);
	xdr_free(XP(xdr_FSINFO3res), &rd);
}

/* ---- PATHCONF ---- */

static void test_pathconf(void)
{
	char h[2];
	PATHCONF3args a = {.object = mkfh(h, 2, 75)}, ad;
	PATHCONF3res r, rd;

	roundtrip(XP(xdr_PATHCONF3args), &a, &ad, sizeof(ad));
	eq_fh(&a.object, &ad.object);
	xdr_free(XP(xdr_PATHCONF3args), &ad);

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	PATHCONF3resok *ok = &r.PATHCONF3res_u.resok;
	*ok = (PATHCONF3resok){.obj_attributes = mkpost(true, 76),
			       .linkmax = 32000,
			       .name_max = 255,
			       .no_trunc = TRUE,
			       .chown_restricted = TRUE,
			       .case_insensitive = FALSE,
			       .case_preserving = TRUE};
	/* status 4, post_op_attr 4+84, linkmax 4, name_max 4, four bools 16 */
	CU_ASSERT_EQUAL(roundtrip(XP(xdr_PATHCONF3res), &r, &rd, sizeof(rd)), 4 + 88 + 8 + 16);
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	const PATHCONF3resok *d = &rd.PATHCONF3res_u.resok;
	eq_post(&ok->obj_attributes, &d->obj_attributes);
	CU_ASSERT_EQUAL(d->linkmax, 32000);
	CU_ASSERT_EQUAL(d->name_max, 255);
	CU_ASSERT_EQUAL(d->no_trunc, TRUE);
	CU_ASSERT_EQUAL(d->chown_restricted, TRUE);
	CU_ASSERT_EQUAL(d->case_insensitive, FALSE);
	CU_ASSERT_EQUAL(d->case_preserving, TRUE);
	xdr_free(XP(xdr_PATHCONF3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_PERM;
	r.PATHCONF3res_u.resfail.obj_attributes = mkpost(false, 0);
	roundtrip(XP(xdr_PATHCONF3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_PERM);
	eq_post(&r.PATHCONF3res_u.resfail.obj_attributes,
		&rd.PATHCONF3res_u.resfail.obj_attributes);
	xdr_free(XP(xdr_PATHCONF3res), &rd);
}

/* ---- COMMIT ---- */

static void test_commit(void)
{
	char h[44];
	COMMIT3args a = {.file = mkfh(h, 44, 77), .offset = 0xa000000000000000ULL, .count = 0}, ad;
	COMMIT3res r, rd;

	roundtrip(XP(xdr_COMMIT3args), &a, &ad, sizeof(ad));
	eq_fh(&a.file, &ad.file);
	CU_ASSERT_EQUAL(ad.offset, 0xa000000000000000ULL);
	CU_ASSERT_EQUAL(ad.count, 0);
	xdr_free(XP(xdr_COMMIT3args), &ad);

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	r.COMMIT3res_u.resok.file_wcc = mkwcc(3, 78);
	fill_verf(r.COMMIT3res_u.resok.verf, 7);
	roundtrip(XP(xdr_COMMIT3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3_OK);
	eq_wcc(&r.COMMIT3res_u.resok.file_wcc, &rd.COMMIT3res_u.resok.file_wcc);
	CU_ASSERT_EQUAL(memcmp(rd.COMMIT3res_u.resok.verf, r.COMMIT3res_u.resok.verf, 8), 0);
	xdr_free(XP(xdr_COMMIT3res), &rd);

	memset(&r, 0, sizeof(r));
	r.status = NFS3ERR_JUKEBOX;
	r.COMMIT3res_u.resfail.file_wcc = mkwcc(0, 79);
	roundtrip(XP(xdr_COMMIT3res), &r, &rd, sizeof(rd));
	CU_ASSERT_EQUAL(rd.status, NFS3ERR_JUKEBOX);
	eq_wcc(&r.COMMIT3res_u.resfail.file_wcc, &rd.COMMIT3res_u.resfail.file_wcc);
	xdr_free(XP(xdr_COMMIT3res), &rd);
}

/* ---- MOUNT v3 ---- */

static void test_mount_dirpath(void)
{
	/* MNT and UMNT both take a dirpath. */
	dirpath p = "/srv/export/seven", pd;

	roundtrip(XP(xdr_dirpath), &p, &pd, sizeof(pd));
	eq_str(p, pd);
	xdr_free(XP(xdr_dirpath), &pd);
	CU_ASSERT_PTR_NULL(pd);
}

static void test_mount_res(void)
{
	char h[22];
	int flavors[2] = {1 /* AUTH_UNIX */, 0 /* AUTH_NONE */};
	mountres3 r, rd;

	memset(&r, 0, sizeof(r));
	r.fhs_status = MNT3_OK;
	nfs_fh3 fh = mkfh(h, 22, 80);
	r.mountres3_u.mountinfo.fhandle.fhandle3_len = fh.data.data_len;
	r.mountres3_u.mountinfo.fhandle.fhandle3_val = fh.data.data_val;
	r.mountres3_u.mountinfo.auth_flavors.auth_flavors_len = 2;
	r.mountres3_u.mountinfo.auth_flavors.auth_flavors_val = flavors;
	CU_ASSERT_EQUAL(roundtrip(XP(xdr_mountres3), &r, &rd, sizeof(rd)), 4 + 4 + 24 + 4 + 8);
	CU_ASSERT_EQUAL(rd.fhs_status, MNT3_OK);
	const mountres3_ok *ok = &rd.mountres3_u.mountinfo;
	CU_ASSERT_EQUAL_FATAL(ok->fhandle.fhandle3_len, 22);
	CU_ASSERT_EQUAL(memcmp(ok->fhandle.fhandle3_val, h, 22), 0);
	CU_ASSERT_EQUAL_FATAL(ok->auth_flavors.auth_flavors_len, 2);
	CU_ASSERT_EQUAL(ok->auth_flavors.auth_flavors_val[0], 1);
	CU_ASSERT_EQUAL(ok->auth_flavors.auth_flavors_val[1], 0);
	xdr_free(XP(xdr_mountres3), &rd);

	/* The error arm is void. */
	memset(&r, 0, sizeof(r));
	r.fhs_status = MNT3ERR_ACCES;
	CU_ASSERT_EQUAL(roundtrip(XP(xdr_mountres3), &r, &rd, sizeof(rd)), 4);
	CU_ASSERT_EQUAL(rd.fhs_status, MNT3ERR_ACCES);
	xdr_free(XP(xdr_mountres3), &rd);
}

static void test_mount_list(void)
{
	struct mountbody b2 = {"10.0.0.2", "/srv/e9", NULL};
	struct mountbody b1 = {"client-a.example.org", "/srv/export/seven", &b2};
	mountlist ml = &b1, mld;

	roundtrip(XP(xdr_mountlist), &ml, &mld, sizeof(mld));
	CU_ASSERT_PTR_NOT_NULL_FATAL(mld);
	eq_str(b1.ml_hostname, mld->ml_hostname);
	eq_str(b1.ml_directory, mld->ml_directory);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mld->ml_next);
	eq_str(b2.ml_hostname, mld->ml_next->ml_hostname);
	eq_str(b2.ml_directory, mld->ml_next->ml_directory);
	CU_ASSERT_PTR_NULL(mld->ml_next->ml_next);
	xdr_free(XP(xdr_mountlist), &mld);
	CU_ASSERT_PTR_NULL(mld);

	/* An empty list is one FALSE. */
	ml = NULL;
	CU_ASSERT_EQUAL(roundtrip(XP(xdr_mountlist), &ml, &mld, sizeof(mld)), 4);
	CU_ASSERT_PTR_NULL(mld);
}

static void test_mount_exports(void)
{
	struct groupnode g2 = {"host.example.org", NULL};
	struct groupnode g1 = {"10.0.0.0/8", &g2};
	struct exportnode x2 = {"/srv/e9", NULL, NULL};
	struct exportnode x1 = {"/srv/e7", &g1, &x2};
	exports ex = &x1, exd;

	roundtrip(XP(xdr_exports), &ex, &exd, sizeof(exd));
	CU_ASSERT_PTR_NOT_NULL_FATAL(exd);
	eq_str("/srv/e7", exd->ex_dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(exd->ex_groups);
	eq_str("10.0.0.0/8", exd->ex_groups->gr_name);
	CU_ASSERT_PTR_NOT_NULL_FATAL(exd->ex_groups->gr_next);
	eq_str("host.example.org", exd->ex_groups->gr_next->gr_name);
	CU_ASSERT_PTR_NULL(exd->ex_groups->gr_next->gr_next);
	CU_ASSERT_PTR_NOT_NULL_FATAL(exd->ex_next);
	eq_str("/srv/e9", exd->ex_next->ex_dir);
	CU_ASSERT_PTR_NULL(exd->ex_next->ex_groups);
	CU_ASSERT_PTR_NULL(exd->ex_next->ex_next);
	xdr_free(XP(xdr_exports), &exd);
	CU_ASSERT_PTR_NULL(exd);
}

/* ---- exact bytes (RFC 4506: big-endian, 4-byte units, zero padding) ---- */

static void test_bytes_getattr_args(void)
{
	char h[4] = {(char)0xde, (char)0xad, (char)0xbe, (char)0xef};
	GETATTR3args a = {.object = {.data = {4, h}}};
	static const uint8_t want[] = {0, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef};

	expect_bytes(XP(xdr_GETATTR3args), &a, sizeof(a), want, sizeof(want));
}

static void test_bytes_lookup_args(void)
{
	char h[3] = {1, 2, 3};
	LOOKUP3args a = {.what = {.dir = {.data = {3, h}}, .name = "abcde"}};
	/* both the handle and the name are padded with zeros to a multiple of 4 */
	static const uint8_t want[] = {0, 0, 0,	  3,   1,   2,	 3,   0, 0, 0,
				       0, 5, 'a', 'b', 'c', 'd', 'e', 0, 0, 0};

	expect_bytes(XP(xdr_LOOKUP3args), &a, sizeof(a), want, sizeof(want));
}

static void test_bytes_getattr_res(void)
{
	GETATTR3res r;
	fattr3 *f = &r.GETATTR3res_u.resok.obj_attributes;
	static const uint8_t want[] = {
	    0,	  0,	0,    0,			    /* NFS3_OK */
	    0,	  0,	0,    2,			    /* NF3DIR */
	    0,	  0,	0x01, 0xed,			    /* mode 0755 */
	    0,	  0,	0,    3,			    /* nlink */
	    0,	  0,	0x03, 0xe8,			    /* uid 1000 */
	    0xff, 0xff, 0xff, 0xfe,			    /* gid */
	    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* size */
	    0,	  0,	0,    0,    0,	  0,	0x10, 0,    /* used */
	    0,	  0,	0,    8,    0,	  0,	0,    1,    /* rdev */
	    0x80, 0,	0,    0,    0,	  0,	0,    0x2a, /* fsid */
	    0,	  0,	0,    0x01, 0,	  0,	0,    0x02, /* fileid */
	    0x5f, 0x5e, 0x10, 0x00, 0x3b, 0x9a, 0xc9, 0xff, /* atime */
	    0,	  0,	0,    1,    0,	  0,	0,    2,    /* mtime */
	    0xff, 0xff, 0xff, 0xff, 0,	  0,	0,    0,    /* ctime */
	};

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	*f = (fattr3){.type = NF3DIR,
		      .mode = 0755,
		      .nlink = 3,
		      .uid = 1000,
		      .gid = 0xfffffffe,
		      .size = 0x0102030405060708ULL,
		      .used = 0x1000,
		      .rdev = {8, 1},
		      .fsid = 0x800000000000002aULL,
		      .fileid = 0x0000000100000002ULL,
		      .atime = {0x5f5e1000, 999999999},
		      .mtime = {1, 2},
		      .ctime = {0xffffffff, 0}};
	expect_bytes(XP(xdr_GETATTR3res), &r, sizeof(r), want, sizeof(want));
}

static void test_bytes_setattr_args(void)
{
	char h[1] = {0x01};
	SETATTR3args a;
	static const uint8_t want[] = {
	    0, 0, 0, 1,	   1,	 0,    0,    0,	   /* handle */
	    0, 0, 0, 1,	   0,	 0,    0x01, 0xed, /* mode set 0755 */
	    0, 0, 0, 0,				   /* uid not set */
	    0, 0, 0, 1,	   0,	 0,    0,    7,	   /* gid set 7 */
	    0, 0, 0, 0,				   /* size not set */
	    0, 0, 0, 1,				   /* atime SET_TO_SERVER_TIME */
	    0, 0, 0, 2,	   0x11, 0x22, 0x33, 0x44, /* mtime SET_TO_CLIENT_TIME */
	    0, 0, 0, 5,				   /* .nseconds */
	    0, 0, 0, 1,	   0,	 0,    0,    0x0a, /* guard check, ctime */
	    0, 0, 0, 0x0b,
	};

	memset(&a, 0, sizeof(a));
	a.object.data.data_len = 1;
	a.object.data.data_val = h;
	a.new_attributes.mode.set_it = TRUE;
	a.new_attributes.mode.set_mode3_u.mode = 0755;
	a.new_attributes.gid.set_it = TRUE;
	a.new_attributes.gid.set_gid3_u.gid = 7;
	a.new_attributes.atime.set_it = SET_TO_SERVER_TIME;
	a.new_attributes.mtime.set_it = SET_TO_CLIENT_TIME;
	a.new_attributes.mtime.set_mtime_u.mtime = (nfstime3){0x11223344, 5};
	a.guard.check = TRUE;
	a.guard.sattrguard3_u.obj_ctime = (nfstime3){10, 11};
	expect_bytes(XP(xdr_SETATTR3args), &a, sizeof(a), want, sizeof(want));
}

/* createverf3 is a fixed opaque[8]: no length word (RFC 1813 §3.3.8). */
static void test_bytes_create_exclusive(void)
{
	char h[2] = {(char)0xaa, (char)0xbb};
	CREATE3args a;
	static const uint8_t want[] = {
	    0,	  0,	0,    2,    0xaa, 0xbb, 0,    0,    /* handle */
	    0,	  0,	0,    1,    'f',  0,	0,    0,    /* name */
	    0,	  0,	0,    2,			    /* EXCLUSIVE */
	    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, /* verf */
	};

	memset(&a, 0, sizeof(a));
	a.where.dir.data.data_len = 2;
	a.where.dir.data.data_val = h;
	a.where.name = "f";
	a.how.mode = EXCLUSIVE;
	memcpy(a.how.createhow3_u.verf, "\x11\x12\x13\x14\x15\x16\x17\x18", 8);
	expect_bytes(XP(xdr_CREATE3args), &a, sizeof(a), want, sizeof(want));
}

static void test_bytes_mknod(void)
{
	char h[4] = {9, 9, 9, 9};
	MKNOD3args a;
	static const uint8_t chr[] = {
	    0, 0, 0, 4, 9, 9, 9, 9, 0, 0, 0, 1, 'c', 0, 0, 0, /* where */
	    0, 0, 0, 4,					      /* NF3CHR */
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,		      /* mode, uid, gid: not set */
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,		      /* size, atime, mtime: not set */
	    0, 0, 0, 5, 0, 0, 0, 3,			      /* specdata 5, 3 */
	};
	static const uint8_t reg[] = {
	    0, 0, 0, 4, 9, 9, 9, 9, 0, 0, 0, 1, 'c', 0, 0, 0, 0, 0, 0, 1, /* NF3REG */
	};

	memset(&a, 0, sizeof(a));
	a.where.dir.data.data_len = 4;
	a.where.dir.data.data_val = h;
	a.where.name = "c";
	a.what.type = NF3CHR;
	a.what.mknoddata3_u.device.spec = (specdata3){5, 3};
	expect_bytes(XP(xdr_MKNOD3args), &a, sizeof(a), chr, sizeof(chr));
	a.what.type = NF3REG;
	expect_bytes(XP(xdr_MKNOD3args), &a, sizeof(a), reg, sizeof(reg));
}

static void test_bytes_write_res(void)
{
	WRITE3res r;
	static const uint8_t want[] = {
	    0,	  0,	0,    0,			    /* NFS3_OK */
	    0,	  0,	0,    1,			    /* before follows */
	    0,	  0,	0,    0,    0,	  0,	0x20, 0,    /* size */
	    0,	  0,	0,    1,    0,	  0,	0,    2,    /* mtime */
	    0,	  0,	0,    3,    0,	  0,	0,    4,    /* ctime */
	    0,	  0,	0,    0,			    /* no after */
	    0,	  0,	0x10, 0,			    /* count */
	    0,	  0,	0,    2,			    /* FILE_SYNC */
	    0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, /* verf, fixed 8 */
	};

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	r.WRITE3res_u.resok.file_wcc.before.attributes_follow = TRUE;
	r.WRITE3res_u.resok.file_wcc.before.pre_op_attr_u.attributes =
	    (wcc_attr){0x2000, {1, 2}, {3, 4}};
	r.WRITE3res_u.resok.count = 4096;
	r.WRITE3res_u.resok.committed = FILE_SYNC;
	memcpy(r.WRITE3res_u.resok.verf, "\x21\x22\x23\x24\x25\x26\x27\x28", 8);
	expect_bytes(XP(xdr_WRITE3res), &r, sizeof(r), want, sizeof(want));
}

static void test_bytes_readdir_res(void)
{
	READDIR3res r;
	entry3 e = {.fileid = 0x0102030405060708ULL, .name = "xy", .cookie = 9, .nextentry = NULL};
	static const uint8_t want[] = {
	    0, 0, 0, 0,			/* NFS3_OK */
	    0, 0, 0, 0,			/* no dir attributes */
	    1, 2, 3, 4, 5,   6,	  7, 8, /* cookieverf */
	    0, 0, 0, 1,			/* an entry follows */
	    1, 2, 3, 4, 5,   6,	  7, 8, /* fileid */
	    0, 0, 0, 2, 'x', 'y', 0, 0, /* name */
	    0, 0, 0, 0, 0,   0,	  0, 9, /* cookie */
	    0, 0, 0, 0,			/* no more entries */
	    0, 0, 0, 1,			/* eof */
	};

	memset(&r, 0, sizeof(r));
	r.status = NFS3_OK;
	memcpy(r.READDIR3res_u.resok.cookieverf, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	r.READDIR3res_u.resok.reply.entries = &e;
	r.READDIR3res_u.resok.reply.eof = TRUE;
	expect_bytes(XP(xdr_READDIR3res), &r, sizeof(r), want, sizeof(want));
}

static void test_bytes_mountres(void)
{
	char h[5] = {1, 2, 3, 4, 5};
	int flavors[1] = {1};
	mountres3 r;
	static const uint8_t want[] = {
	    0, 0, 0, 0,				/* MNT3_OK */
	    0, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0, /* fhandle3 */
	    0, 0, 0, 1, 0, 0, 0, 1,		/* one flavor: AUTH_UNIX */
	};

	memset(&r, 0, sizeof(r));
	r.mountres3_u.mountinfo.fhandle.fhandle3_len = 5;
	r.mountres3_u.mountinfo.fhandle.fhandle3_val = h;
	r.mountres3_u.mountinfo.auth_flavors.auth_flavors_len = 1;
	r.mountres3_u.mountinfo.auth_flavors.auth_flavors_val = flavors;
	expect_bytes(XP(xdr_mountres3), &r, sizeof(r), want, sizeof(want));
}

/* ---- hostile input ---- */

static void test_prefixes_write_args(void)
{
	char h[22], data[13];
	WRITE3args a = write_args(h, data, sizeof(data));

	check_prefixes(XP(xdr_WRITE3args), &a, sizeof(a));
}

static void test_prefixes_readdirplus_res(void)
{
	entryplus3 e[3];
	char h[2][64];
	READDIRPLUS3res r;

	fill_readdirplus_ok(&r, e, h);
	check_prefixes(XP(xdr_READDIRPLUS3res), &r, sizeof(r));
}

static void test_prefixes_others(void)
{
	char h[36];
	entry3 e[3];
	READDIR3res rd;
	CREATE3args ca;
	CREATE3res cr;
	SETATTR3args sa;

	fill_readdir_ok(&rd, e);
	check_prefixes(XP(xdr_READDIR3res), &rd, sizeof(rd));
	memset(&ca, 0, sizeof(ca));
	ca.where.dir = mkfh(h, 30, 90);
	ca.where.name = "abc";
	ca.how.mode = GUARDED;
	ca.how.createhow3_u.obj_attributes = mksattr(SATTR_COMBOS - 1, 1);
	check_prefixes(XP(xdr_CREATE3args), &ca, sizeof(ca));
	memset(&cr, 0, sizeof(cr));
	fill_create_ok(&cr.CREATE3res_u.resok, h, 91);
	check_prefixes(XP(xdr_CREATE3res), &cr, sizeof(cr));
	memset(&sa, 0, sizeof(sa));
	sa.object = mkfh(h, 9, 92);
	sa.new_attributes = mksattr(SATTR_COMBOS - 1, 2);
	sa.guard.check = TRUE;
	check_prefixes(XP(xdr_SETATTR3args), &sa, sizeof(sa));
}

static void test_prefixes_mount(void)
{
	struct groupnode g2 = {"h2", NULL}, g1 = {"h1", &g2};
	struct exportnode x2 = {"/b", NULL, NULL}, x1 = {"/a", &g1, &x2};
	exports ex = &x1;
	struct mountbody b2 = {"c2", "/b", NULL}, b1 = {"c1", "/a", &b2};
	mountlist ml = &b1;

	check_prefixes(XP(xdr_exports), &ex, sizeof(ex));
	check_prefixes(XP(xdr_mountlist), &ml, sizeof(ml));
}

/* NFS3_FHSIZE is 64 (RFC 1813 §2.5): a 65-byte handle is refused both ways. */
static void test_fh_too_long(void)
{
	uint8_t msg[4 + 68];
	char h[65];
	char buf[256];
	u_int len;

	memset(msg, 0x41, sizeof(msg));
	memset(msg, 0, 3);
	msg[3] = 65;
	CU_ASSERT_FALSE(decode_raw(XP(xdr_GETATTR3args), sizeof(GETATTR3args), msg, sizeof(msg)));
	CU_ASSERT_FALSE(decode_raw(XP(xdr_nfs_fh3), sizeof(nfs_fh3), msg, sizeof(msg)));
	CU_ASSERT_FALSE(decode_raw(XP(xdr_fhandle3), sizeof(fhandle3), msg, sizeof(msg)));
	/* 64 is the largest that is accepted */
	msg[3] = 64;
	CU_ASSERT_TRUE(decode_raw(XP(xdr_GETATTR3args), sizeof(GETATTR3args), msg, 4 + 64));
	CU_ASSERT_TRUE(decode_raw(XP(xdr_fhandle3), sizeof(fhandle3), msg, 4 + 64));

	GETATTR3args a = {.object = mkfh(h, 65, 1)};
	CU_ASSERT_FALSE(encode(XP(xdr_GETATTR3args), &a, buf, sizeof(buf), &len));
}

static void test_string_length_huge(void)
{
	/* handle 01020304, then a name claiming 0xffffffff bytes */
	static const uint8_t lookup[] = {0,    0,    0,	  4,   1,   2,	 3,   4,   0xff, 0xff,
					 0xff, 0xff, 'a', 'b', 'c', 'd', 'e', 'f', 'g',	 'h'};
	static const uint8_t path[] = {0xff, 0xff, 0xff, 0xff, '/', 's', 'r', 'v'};
	static const uint8_t big[] = {0x7f, 0xff, 0xff, 0xff, '/', 's', 'r', 'v'};

	CU_ASSERT_FALSE(
	    decode_raw(XP(xdr_LOOKUP3args), sizeof(LOOKUP3args), lookup, sizeof(lookup)));
	CU_ASSERT_FALSE(decode_raw(XP(xdr_nfspath3), sizeof(nfspath3), path, sizeof(path)));
	CU_ASSERT_FALSE(decode_raw(XP(xdr_filename3), sizeof(filename3), path, sizeof(path)));
	CU_ASSERT_FALSE(decode_raw(XP(xdr_filename3), sizeof(filename3), big, sizeof(big)));
	CU_ASSERT_FALSE(decode_raw(XP(xdr_dirpath), sizeof(dirpath), path, sizeof(path)));
}

/* MNTPATHLEN is 1024 (RFC 1813 Appendix I). */
static void test_dirpath_bound(void)
{
	uint8_t *msg = calloc(1, 4 + 1028);

	CU_ASSERT_FATAL(msg != NULL);
	memset(msg + 4, '/', 1025);
	msg[2] = 0x04;
	msg[3] = 0x01; /* 1025 */
	CU_ASSERT_FALSE(decode_raw(XP(xdr_dirpath), sizeof(dirpath), msg, 4 + 1028));
	msg[3] = 0x00; /* 1024 */
	CU_ASSERT_TRUE(decode_raw(XP(xdr_dirpath), sizeof(dirpath), msg, 4 + 1024));
	free(msg);
}

/* RFC 1813 §3.3.8: createhow3 has no default arm, so a mode of 3 is refused. The
 * same message with EXCLUSIVE (2) is accepted: the refusal is for the mode. */
static void test_bad_discriminant(void)
{
	uint8_t create[] = {0, 0, 0, 0, 0, 0, 0, 1, 'f', 0, 0, 0,
			    0, 0, 0, 3, 1, 2, 3, 4, 5,	 6, 7, 8};

	CU_ASSERT_FALSE(
	    decode_raw(XP(xdr_CREATE3args), sizeof(CREATE3args), create, sizeof(create)));
	create[15] = 2;
	CU_ASSERT_TRUE(
	    decode_raw(XP(xdr_CREATE3args), sizeof(CREATE3args), create, sizeof(create)));
}

/*
 * A message cannot make the decoder allocate what it merely claims. A 20-byte WRITE
 * claiming 2 GiB of data, or a name claiming 2 GiB, must be refused without asking
 * for more than the largest record the server accepts (16 MiB, config.h max_record):
 * otherwise every such request costs a multi-GiB allocation, and libntirpc's
 * allocator asserts when one fails.
 */
static size_t alloc_max;

static void *counting_malloc(size_t size, const char *file, int line, const char *function)
{
	(void)file, (void)line, (void)function;
	if (size > alloc_max)
		alloc_max = size;
	/* Refuse the absurd: the decoder then fails on the short input, not on us. */
	return size > (64u << 20) ? NULL : malloc(size);
}

static void test_claimed_length_not_allocated(void)
{
	static const uint8_t wr[] = {0, 0, 0, 4, 1, 2, 3, 4, 0, 0,    0,    0,	  0,	0,   0,
				     0, 0, 0, 0, 8, 0, 0, 0, 2, 0x7f, 0xff, 0xff, 0xf0, 'd', 'a'};
	static const uint8_t lk[] = {0, 0, 0, 4, 1, 2, 3, 4, 0x7f, 0xff, 0xff, 0xf0, 'x'};
	static const uint8_t sl[] = {0, 0, 0, 4, 1, 2, 3, 4, 0, 0, 0,	 1,    'l',  0,	   0,
				     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	 0,    0,    0,	   0,
				     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xf0, '/'};
	tirpc_pkg_params saved, p;

	tirpc_control(TIRPC_GET_PARAMETERS, &saved);
	p = saved;
	p.malloc_ = counting_malloc;
	tirpc_control(TIRPC_PUT_PARAMETERS, &p);

	alloc_max = 0;
	CU_ASSERT_FALSE(decode_raw(XP(xdr_WRITE3args), sizeof(WRITE3args), wr, sizeof(wr)));
	if (alloc_max > (16u << 20))
		fprintf(stderr, "\nWRITE3args: decoder asked for %zu bytes\n", alloc_max);
	CU_ASSERT(alloc_max <= (16u << 20));

	alloc_max = 0;
	CU_ASSERT_FALSE(decode_raw(XP(xdr_LOOKUP3args), sizeof(LOOKUP3args), lk, sizeof(lk)));
	if (alloc_max > (16u << 20))
		fprintf(stderr, "\nLOOKUP3args: decoder asked for %zu bytes\n", alloc_max);
	CU_ASSERT(alloc_max <= (16u << 20));

	alloc_max = 0;
	CU_ASSERT_FALSE(decode_raw(XP(xdr_SYMLINK3args), sizeof(SYMLINK3args), sl, sizeof(sl)));
	if (alloc_max > (16u << 20))
		fprintf(stderr, "\nSYMLINK3args: decoder asked for %zu bytes\n", alloc_max);
	CU_ASSERT(alloc_max <= (16u << 20));

	tirpc_control(TIRPC_PUT_PARAMETERS, &saved);
}

/* ---- registration ---- */

struct test_def {
	const char *title;
	CU_TestFunc fn;
};

static const struct test_def nfs3_tests[] = {
    {"NULL", test_null},
    {"GETATTR", test_getattr},
    {"SETATTR args, every sattr3 combination", test_setattr_args},
    {"SETATTR res", test_setattr_res},
    {"LOOKUP", test_lookup},
    {"ACCESS", test_access},
    {"READLINK", test_readlink},
    {"READ", test_read},
    {"WRITE args", test_write_args},
    {"WRITE res", test_write_res},
    {"CREATE args, UNCHECKED/GUARDED/EXCLUSIVE", test_create_args},
    {"CREATE res", test_create_res},
    {"MKDIR args", test_mkdir_args},
    {"MKDIR res", test_mkdir_res},
    {"SYMLINK args", test_symlink_args},
    {"SYMLINK res", test_symlink_res},
    {"MKNOD args, every mknoddata3 arm", test_mknod_args},
    {"MKNOD res", test_mknod_res},
    {"REMOVE", test_remove},
    {"RMDIR", test_rmdir},
    {"RENAME", test_rename},
    {"LINK", test_link},
    {"READDIR args", test_readdir_args},
    {"READDIR res, 3 entries", test_readdir_res},
    {"READDIRPLUS args", test_readdirplus_args},
    {"READDIRPLUS res, 3 entries", test_readdirplus_res},
    {"FSSTAT", test_fsstat},
    {"FSINFO", test_fsinfo},
    {"PATHCONF", test_pathconf},
    {"COMMIT", test_commit},
};

static const struct test_def mount_tests[] = {
    {"MNT/UMNT dirpath", test_mount_dirpath},
    {"mountres3 ok and error", test_mount_res},
    {"DUMP mountlist, 2 entries", test_mount_list},
    {"EXPORT exports with groups", test_mount_exports},
};

static const struct test_def bytes_tests[] = {
    {"GETATTR3args", test_bytes_getattr_args},
    {"LOOKUP3args padding", test_bytes_lookup_args},
    {"GETATTR3res fattr3", test_bytes_getattr_res},
    {"SETATTR3args sattr3", test_bytes_setattr_args},
    {"CREATE3args EXCLUSIVE verf", test_bytes_create_exclusive},
    {"MKNOD3args CHR and REG", test_bytes_mknod},
    {"WRITE3res", test_bytes_write_res},
    {"READDIR3res entry list", test_bytes_readdir_res},
    {"mountres3", test_bytes_mountres},
};

static const struct test_def hostile_tests[] = {
    {"every prefix of WRITE3args", test_prefixes_write_args},
    {"every prefix of READDIRPLUS3res", test_prefixes_readdirplus_res},
    {"every prefix of other messages", test_prefixes_others},
    {"every prefix of MOUNT lists", test_prefixes_mount},
    {"handle of 65 bytes", test_fh_too_long},
    {"string length 0xffffffff", test_string_length_huge},
    {"dirpath of 1025 bytes", test_dirpath_bound},
    {"createhow3 mode 3", test_bad_discriminant},
    {"claimed lengths are not allocated", test_claimed_length_not_allocated},
};

static int add_suite(const char *title, const struct test_def *t, size_t n)
{
	CU_pSuite s = CU_add_suite(title, NULL, NULL);

	if (!s)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!CU_add_test(s, t[i].title, t[i].fn))
			return -1;
	return 0;
}

#define ADD_SUITE(title, t) add_suite((title), (t), sizeof(t) / sizeof((t)[0]))

int twinfs_register_tests(void)
{
	if (ADD_SUITE("nfs3 round trips", nfs3_tests) ||
	    ADD_SUITE("mount3 round trips", mount_tests) || ADD_SUITE("exact bytes", bytes_tests) ||
	    ADD_SUITE("hostile input", hostile_tests))
		return -1;
	return 0;
}
