/*
 * test_nfs4_compound.c — COMPOUND's bounded decoder (server/nfs4/compound.c).
 *
 * What is checked: more operations than NFS4_MAX_OPS (even 10^6 announced in a
 * short record) decode without reading or allocating past the first and give
 * NFS4ERR_RESOURCE (4.0) / NFS4ERR_TOO_MANY_OPS (4.1); a tag past NFS4_MAX_TAG is
 * skipped and refused the same way while one at the limit is kept; an unknown
 * operation number ends the decoding as OP_ILLEGAL; a minor version above 2 is
 * MINOR_VERS_MISMATCH; every truncation is refused and released cleanly.
 */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#include "server/nfs4/compound.h"
#include "server/nfs4/nfs4_int.h"

int twinfs_register_tests(void);

struct msg {
	uint8_t b[65536];
	size_t len;
};

static void put32(struct msg *m, uint32_t v)
{
	m->b[m->len++] = (uint8_t)(v >> 24);
	m->b[m->len++] = (uint8_t)(v >> 16);
	m->b[m->len++] = (uint8_t)(v >> 8);
	m->b[m->len++] = (uint8_t)v;
}

static void put_tag(struct msg *m, uint32_t len)
{
	put32(m, len);
	memset(m->b + m->len, 't', len);
	m->len += (len + 3) & ~3u;
}

/* Decodes from an exact-size heap copy (ASan sees any read past the end). */
static bool decode(const struct msg *m, size_t len, struct nfs4_args *a)
{
	uint8_t *copy = malloc(len ? len : 1);
	XDR x;
	CU_ASSERT_FATAL(copy != NULL);
	memcpy(copy, m->b, len);
	memset(a, 0, sizeof(*a));
	xdrmem_ncreate(&x, (char *)copy, (u_int)len, XDR_DECODE);
	bool ok = xdr_nfs4_args(&x, a);
	XDR_DESTROY(&x);
	free(copy);
	return ok;
}

static void release(struct nfs4_args *a)
{
	xdr_free((xdrproc_t)xdr_nfs4_args, a);
}

static void header(struct msg *m, uint32_t taglen, uint32_t minor, uint32_t nops)
{
	m->len = 0;
	put_tag(m, taglen);
	put32(m, minor);
	put32(m, nops);
}

static void test_ok(void)
{
	struct msg m;
	struct nfs4_args a;
	header(&m, 4, 0, 2);
	put32(&m, OP_PUTROOTFH);
	put32(&m, OP_GETFH);
	CU_ASSERT_TRUE(decode(&m, m.len, &a));
	CU_ASSERT_EQUAL(a.nops, 2);
	CU_ASSERT_EQUAL(a.tag.utf8string_len, 4);
	CU_ASSERT_EQUAL(nfs4_header_check(&a), NFS4_OK);
	release(&a);
}

static void test_too_many(void)
{
	struct msg m;
	struct nfs4_args a;
	for (uint32_t minor = 0; minor <= 1; minor++) {
		header(&m, 0, minor, NFS4_MAX_OPS + 1);
		for (int i = 0; i < NFS4_MAX_OPS + 1; i++)
			put32(&m, OP_PUTROOTFH);
		CU_ASSERT_TRUE(decode(&m, m.len, &a));
		CU_ASSERT_TRUE(a.too_many);
		CU_ASSERT_EQUAL(a.nops, 1);
		CU_ASSERT_EQUAL(nfs4_header_check(&a),
				minor ? NFS4ERR_TOO_MANY_OPS : NFS4ERR_RESOURCE);
		release(&a);
	}
	/* a million announced, two present: nothing read or allocated past the first */
	header(&m, 0, 0, 1000000);
	put32(&m, OP_PUTROOTFH);
	put32(&m, OP_GETFH);
	CU_ASSERT_TRUE(decode(&m, m.len, &a));
	CU_ASSERT_TRUE(a.too_many);
	CU_ASSERT_EQUAL(a.nops, 1);
	release(&a);
	/* exactly the limit is fine */
	header(&m, 0, 1, NFS4_MAX_OPS);
	for (int i = 0; i < NFS4_MAX_OPS; i++)
		put32(&m, OP_PUTROOTFH);
	CU_ASSERT_TRUE(decode(&m, m.len, &a));
	CU_ASSERT_FALSE(a.too_many);
	CU_ASSERT_EQUAL(a.nops, NFS4_MAX_OPS);
	CU_ASSERT_EQUAL(nfs4_header_check(&a), NFS4_OK);
	release(&a);
}

static void test_tag(void)
{
	struct msg m;
	struct nfs4_args a;
	header(&m, NFS4_MAX_TAG, 0, 1);
	put32(&m, OP_PUTROOTFH);
	CU_ASSERT_TRUE(decode(&m, m.len, &a));
	CU_ASSERT_FALSE(a.tag_too_long);
	CU_ASSERT_EQUAL(a.tag.utf8string_len, NFS4_MAX_TAG);
	release(&a);

	header(&m, 40000, 1, 1);
	put32(&m, OP_PUTROOTFH);
	CU_ASSERT_TRUE(decode(&m, m.len, &a));
	CU_ASSERT_TRUE(a.tag_too_long);
	CU_ASSERT_PTR_NULL(a.tag.utf8string_val);
	CU_ASSERT_NOT_EQUAL(nfs4_header_check(&a), NFS4_OK);
	release(&a);

	/* a tag longer than the record */
	m.len = 0;
	put32(&m, 0x7fffffff);
	CU_ASSERT_FALSE(decode(&m, m.len, &a));
	release(&a);
}

static void test_illegal(void)
{
	struct msg m;
	struct nfs4_args a;
	header(&m, 0, 1, 3);
	put32(&m, OP_PUTROOTFH);
	put32(&m, 9999);
	put32(&m, OP_GETFH);
	CU_ASSERT_TRUE(decode(&m, m.len, &a));
	CU_ASSERT_EQUAL(a.nops, 2);
	CU_ASSERT_EQUAL(a.ops[1].argop, OP_ILLEGAL);
	release(&a);
}

static void test_minor(void)
{
	struct msg m;
	struct nfs4_args a;
	header(&m, 0, 3, 1);
	put32(&m, OP_PUTROOTFH);
	CU_ASSERT_TRUE(decode(&m, m.len, &a));
	CU_ASSERT_EQUAL(nfs4_header_check(&a), NFS4ERR_MINOR_VERS_MISMATCH);
	release(&a);
}

/* Every proper prefix of a COMPOUND with arguments is refused and freed. */
static void test_truncated(void)
{
	struct msg m;
	struct nfs4_args a;
	header(&m, 3, 0, 3);
	put32(&m, OP_PUTROOTFH);
	put32(&m, OP_LOOKUP);
	put_tag(&m, 5); /* the component */
	put32(&m, OP_GETATTR);
	put32(&m, 2);
	put32(&m, 0x0010011a);
	put32(&m, 0x00b0a23a);
	CU_ASSERT_TRUE(decode(&m, m.len, &a));
	CU_ASSERT_EQUAL(a.nops, 3);
	release(&a);
	for (size_t len = 0; len < m.len; len++) {
		CU_ASSERT_FALSE(decode(&m, len, &a));
		release(&a);
	}
}

int twinfs_register_tests(void)
{
	CU_pSuite s = CU_add_suite("nfs4_compound", NULL, NULL);
	if (!s)
		return -1;
	CU_add_test(s, "a plain COMPOUND", test_ok);
	CU_add_test(s, "too many operations", test_too_many);
	CU_add_test(s, "tag limit", test_tag);
	CU_add_test(s, "unknown operation", test_illegal);
	CU_add_test(s, "minor version", test_minor);
	CU_add_test(s, "truncated", test_truncated);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
