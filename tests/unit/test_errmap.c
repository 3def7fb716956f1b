/*
 * test_errmap.c — errno to NFS status (server/nfs/errmap).
 *
 * The expected numbers are written out by hand from RFC 1813 §2.6 (nfsstat3), not
 * taken from a header, so a wrong row in the table makes a test fail. Beyond the
 * table rows, every errno the C library knows must map to some status that RFC 1813
 * defines: a client receiving a number outside the enum fails the whole reply.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>

#include "server/nfs/errmap.h"

int twinfs_register_tests(void);

/* ---- expected values, RFC 1813 §2.6 ---- */

struct expect_row {
	int err;
	uint32_t nfs3;
	const char *what;
};

static const struct expect_row expect_rows[] = {
    {EPERM, 1, "EPERM -> NFS3ERR_PERM"},
    {ENOENT, 2, "ENOENT -> NFS3ERR_NOENT"},
    {EIO, 5, "EIO -> NFS3ERR_IO"},
    {ENXIO, 6, "ENXIO -> NFS3ERR_NXIO"},
    {EACCES, 13, "EACCES -> NFS3ERR_ACCES"},
    {EEXIST, 17, "EEXIST -> NFS3ERR_EXIST"},
    {EXDEV, 18, "EXDEV -> NFS3ERR_XDEV"},
    {ENODEV, 19, "ENODEV -> NFS3ERR_NODEV"},
    {ENOTDIR, 20, "ENOTDIR -> NFS3ERR_NOTDIR"},
    {EISDIR, 21, "EISDIR -> NFS3ERR_ISDIR"},
    {EINVAL, 22, "EINVAL -> NFS3ERR_INVAL"},
    {EFBIG, 27, "EFBIG -> NFS3ERR_FBIG"},
    {ENOSPC, 28, "ENOSPC -> NFS3ERR_NOSPC"},
    {EROFS, 30, "EROFS -> NFS3ERR_ROFS"},
    {EMLINK, 31, "EMLINK -> NFS3ERR_MLINK"},
    {ENAMETOOLONG, 63, "ENAMETOOLONG -> NFS3ERR_NAMETOOLONG"},
    {ENOTEMPTY, 66, "ENOTEMPTY -> NFS3ERR_NOTEMPTY"},
    {EDQUOT, 69, "EDQUOT -> NFS3ERR_DQUOT"},
    {ESTALE, 70, "ESTALE -> NFS3ERR_STALE"},
    {EREMOTE, 71, "EREMOTE -> NFS3ERR_REMOTE"},
    {EBADF, 70, "EBADF -> NFS3ERR_STALE"},
    {EOPNOTSUPP, 10004, "EOPNOTSUPP -> NFS3ERR_NOTSUPP"},
    {EAGAIN, 10008, "EAGAIN -> NFS3ERR_JUKEBOX"},
    {ELOOP, 20, "ELOOP -> NFS3ERR_NOTDIR"},
    {EOVERFLOW, 22, "EOVERFLOW -> NFS3ERR_INVAL"},
    {EMSGSIZE, 22, "EMSGSIZE -> NFS3ERR_INVAL"},
    {ENOMEM, 10006, "ENOMEM -> NFS3ERR_SERVERFAULT"},
    {EFAULT, 10006, "EFAULT -> NFS3ERR_SERVERFAULT"},
    {ETXTBSY, 10008, "ETXTBSY -> NFS3ERR_JUKEBOX"},
    {EBUSY, 10008, "EBUSY -> NFS3ERR_JUKEBOX"},
    {ERANGE, 27, "ERANGE -> NFS3ERR_FBIG"},
};

#define NROWS (sizeof(expect_rows) / sizeof(expect_rows[0]))

/* Every status RFC 1813 §2.6 defines. */
static const uint32_t nfsstat3_valid[] = {
    0,	1,  2,	5,  6,	13, 17,	   18,	  19,	 20,	21,    22,    27,    28,    30,
    31, 63, 66, 69, 70, 71, 10001, 10002, 10003, 10004, 10005, 10006, 10007, 10008,
};

static int is_nfsstat3(uint32_t v)
{
	for (size_t i = 0; i < sizeof(nfsstat3_valid) / sizeof(nfsstat3_valid[0]); i++)
		if (nfsstat3_valid[i] == v)
			return 1;
	return 0;
}

/* CU_ASSERT shows only the expression; name the row when it fails. */
static void check_map(int err, enum err_ctx ctx, uint32_t want, const char *what)
{
	uint32_t got = errmap_nfs3(err, ctx);

	if (got != want)
		fprintf(stderr, "\n%s (errno %d, ctx %d): got %u, want %u\n", what, err, ctx, got,
			want);
	CU_ASSERT_EQUAL(got, want);
}

/* ---- tests ---- */

static void test_table_rows(void)
{
	for (size_t i = 0; i < NROWS; i++) {
		const struct expect_row *r = &expect_rows[i];
		/* ENOENT is context-dependent; the name context gives the table value. */
		check_map(-r->err, ERRCTX_NAME, r->nfs3, r->what);
		if (r->err != ENOENT)
			check_map(-r->err, ERRCTX_FH, r->nfs3, r->what);
	}
}

static void test_brief_examples(void)
{
	/* The values most often seen on the wire, spelled out once more. */
	CU_ASSERT_EQUAL(errmap_nfs3(-ENOENT, ERRCTX_NAME), 2);
	CU_ASSERT_EQUAL(errmap_nfs3(-EACCES, ERRCTX_NAME), 13);
	CU_ASSERT_EQUAL(errmap_nfs3(-EEXIST, ERRCTX_NAME), 17);
	CU_ASSERT_EQUAL(errmap_nfs3(-ENOTDIR, ERRCTX_NAME), 20);
	CU_ASSERT_EQUAL(errmap_nfs3(-EISDIR, ERRCTX_NAME), 21);
	CU_ASSERT_EQUAL(errmap_nfs3(-ENOTEMPTY, ERRCTX_NAME), 66);
	CU_ASSERT_EQUAL(errmap_nfs3(-ENAMETOOLONG, ERRCTX_NAME), 63);
	CU_ASSERT_EQUAL(errmap_nfs3(-EROFS, ERRCTX_NAME), 30);
	CU_ASSERT_EQUAL(errmap_nfs3(-ESTALE, ERRCTX_FH), 70);
	CU_ASSERT_EQUAL(errmap_nfs3(-ENOSPC, ERRCTX_NAME), 28);
	CU_ASSERT_EQUAL(errmap_nfs3(-EDQUOT, ERRCTX_NAME), 69);
	CU_ASSERT_EQUAL(errmap_nfs3(-EFBIG, ERRCTX_NAME), 27);
	CU_ASSERT_EQUAL(errmap_nfs3(-EXDEV, ERRCTX_NAME), 18);
	CU_ASSERT_EQUAL(errmap_nfs3(-EMLINK, ERRCTX_NAME), 31);
	CU_ASSERT_EQUAL(errmap_nfs3(-EOPNOTSUPP, ERRCTX_NAME), 10004);
	CU_ASSERT_EQUAL(errmap_nfs3(-EAGAIN, ERRCTX_NAME), 10008);
}

/* NFSv4 has codes NFSv3 lacks; NFSv3 gets the nearest one it has. */
static void test_nfs4_only(void)
{
	CU_ASSERT_EQUAL(errmap_nfs4(-ENODATA, ERRCTX_FH), 10095); /* NOXATTR, RFC 8276 */
	CU_ASSERT_EQUAL(errmap_nfs4(-E2BIG, ERRCTX_FH), 10096);	  /* XATTR2BIG */
	CU_ASSERT_EQUAL(errmap_nfs3(-ENODATA, ERRCTX_FH), 5);	  /* IO */
	CU_ASSERT_EQUAL(errmap_nfs3(-E2BIG, ERRCTX_FH), 27);	  /* FBIG */
	CU_ASSERT_EQUAL(errmap_nfs4(-ENOENT, ERRCTX_NAME), 2);
	CU_ASSERT_EQUAL(errmap_nfs4(-ESTALE, ERRCTX_FH), 70);
}

static void test_enoent_context(void)
{
	/* RFC 1813 §2.6: a handle whose object is gone is STALE; a missing name is NOENT. */
	CU_ASSERT_EQUAL(errmap_nfs3(-ENOENT, ERRCTX_FH), 70);
	CU_ASSERT_EQUAL(errmap_nfs3(-ENOENT, ERRCTX_NAME), 2);
	CU_ASSERT_EQUAL(errmap_nfs3(ENOENT, ERRCTX_FH), 70);
	CU_ASSERT_EQUAL(errmap_nfs3(ENOENT, ERRCTX_NAME), 2);
	/* Only ENOENT depends on the context. */
	CU_ASSERT_EQUAL(errmap_nfs3(-EACCES, ERRCTX_FH), 13);
	CU_ASSERT_EQUAL(errmap_nfs3(-ENOTDIR, ERRCTX_FH), 20);
}

static void test_zero_is_ok(void)
{
	CU_ASSERT_EQUAL(errmap_nfs3(0, ERRCTX_NAME), 0);
	CU_ASSERT_EQUAL(errmap_nfs3(0, ERRCTX_FH), 0);
	CU_ASSERT_EQUAL(errmap_nfs4(0, ERRCTX_NAME), 0);
	CU_ASSERT_EQUAL(errmap_nfs4(0, ERRCTX_FH), 0);
}

static void test_sign_does_not_matter(void)
{
	for (int e = 1; e < 200; e++) {
		CU_ASSERT_EQUAL(errmap_nfs3(-e, ERRCTX_NAME), errmap_nfs3(e, ERRCTX_NAME));
		CU_ASSERT_EQUAL(errmap_nfs3(-e, ERRCTX_FH), errmap_nfs3(e, ERRCTX_FH));
		CU_ASSERT_EQUAL(errmap_nfs4(-e, ERRCTX_NAME), errmap_nfs4(e, ERRCTX_NAME));
	}
}

static void test_unknown_is_io(void)
{
	CU_ASSERT_EQUAL(errmap_nfs3(-EPROTO, ERRCTX_NAME), 5);
	CU_ASSERT_EQUAL(errmap_nfs3(-EPROTO, ERRCTX_FH), 5);
	CU_ASSERT_EQUAL(errmap_nfs3(EPROTO, ERRCTX_NAME), 5);
	CU_ASSERT_EQUAL(errmap_nfs3(-ECONNRESET, ERRCTX_NAME), 5);
	CU_ASSERT_EQUAL(errmap_nfs3(-ENOTSOCK, ERRCTX_NAME), 5);
	/* Not an errno at all. */
	CU_ASSERT_EQUAL(errmap_nfs3(-100000, ERRCTX_NAME), 5);
	CU_ASSERT_EQUAL(errmap_nfs4(-EPROTO, ERRCTX_NAME), 5);
}

/* Whatever errno a backend returns, the client gets a status RFC 1813 defines, and
 * never NFS3_OK for a failure. */
static void test_every_errno_is_valid(void)
{
	for (int e = 1; e < 256; e++) {
		uint32_t a = errmap_nfs3(-e, ERRCTX_NAME), b = errmap_nfs3(-e, ERRCTX_FH);

		if (!is_nfsstat3(a) || !is_nfsstat3(b) || a == 0 || b == 0)
			fprintf(stderr, "\nerrno %d maps to %u / %u\n", e, a, b);
		CU_ASSERT(is_nfsstat3(a) && a != 0);
		CU_ASSERT(is_nfsstat3(b) && b != 0);
	}
}

static void test_nfs4_basics(void)
{
	/* RFC 7530 §13.1: same numbers as v3 for the POSIX-derived codes. */
	CU_ASSERT_EQUAL(errmap_nfs4(-ENOENT, ERRCTX_NAME), 2);
	CU_ASSERT_EQUAL(errmap_nfs4(-ENOENT, ERRCTX_FH), 70);
	CU_ASSERT_EQUAL(errmap_nfs4(-EACCES, ERRCTX_NAME), 13);
	CU_ASSERT_EQUAL(errmap_nfs4(-ESTALE, ERRCTX_FH), 70);
	CU_ASSERT_EQUAL(errmap_nfs4(-EAGAIN, ERRCTX_NAME), 10008); /* NFS4ERR_DELAY */
	CU_ASSERT_EQUAL(errmap_nfs4(-ELOOP, ERRCTX_NAME), 10029);  /* NFS4ERR_SYMLINK */
	CU_ASSERT_EQUAL(errmap_nfs4(-EOPNOTSUPP, ERRCTX_NAME), 10004);
}

int twinfs_register_tests(void)
{
	CU_pSuite s = CU_add_suite("errmap", NULL, NULL);

	if (!s)
		return -1;
	if (!CU_add_test(s, "table rows (RFC 1813 2.6)", test_table_rows) ||
	    !CU_add_test(s, "common statuses", test_brief_examples) ||
	    !CU_add_test(s, "ENOENT by context", test_enoent_context) ||
	    !CU_add_test(s, "NFSv4-only statuses (xattrs)", test_nfs4_only) ||
	    !CU_add_test(s, "0 is NFS3_OK", test_zero_is_ok) ||
	    !CU_add_test(s, "negative and positive errno", test_sign_does_not_matter) ||
	    !CU_add_test(s, "unknown errno is IO", test_unknown_is_io) ||
	    !CU_add_test(s, "every errno gives a defined status", test_every_errno_is_valid) ||
	    !CU_add_test(s, "nfs4 basics", test_nfs4_basics))
		return -1;
	return 0;
}
