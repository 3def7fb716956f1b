#include "server/nfs/errmap.h"

#include <errno.h>
#include <stdlib.h>

/* Numeric values from RFC 1813 §2.6 (nfsstat3) and RFC 7530 §13 (nfsstat4). */
struct errmap_row {
	int err;
	uint32_t nfs3;
	uint32_t nfs4;
};

static const struct errmap_row errmap_rows[] = {
    {EPERM, 1, 1},
    {ENOENT, 2, 2},
    {EIO, 5, 5},
    {ENXIO, 6, 6},
    {EACCES, 13, 13},
    {EEXIST, 17, 17},
    {EXDEV, 18, 18},
    {ENODEV, 19, 5},
    {ENOTDIR, 20, 20},
    {EISDIR, 21, 21},
    {EINVAL, 22, 22},
    {EFBIG, 27, 27},
    {ENOSPC, 28, 28},
    {EROFS, 30, 30},
    {EMLINK, 31, 31},
    {ENAMETOOLONG, 63, 63},
    {ENOTEMPTY, 66, 66},
    {EDQUOT, 69, 69},
    {ESTALE, 70, 70},
    {EREMOTE, 71, 10019},
    {EBADF, 70, 70},
    {EOPNOTSUPP, 10004, 10004},
    /* The filesystem is busy (a lease, a migration): the client retries later. */
    {EAGAIN, 10008, 10008},
    /* A symlink where a directory was expected: the name exists but is no dir. */
    {ELOOP, 20, 10029},
    {EOVERFLOW, 22, 22},
    {EMSGSIZE, 22, 22},
    {ENOMEM, 10006, 10006},
    {EFAULT, 10006, 10006},
    {ETXTBSY, 10008, 10008},
    {EBUSY, 10008, 10008},
    {ERANGE, 27, 27},
    /* Extended attributes (RFC 8276 §6; only NFSv4.2 has them, NFSv3 never sees
     * these): no such xattr, a value or name list too large. */
    {ENODATA, 5, 10095},
    {E2BIG, 27, 10096},
};

static const struct errmap_row *errmap_find(int err)
{
	for (size_t i = 0; i < sizeof(errmap_rows) / sizeof(errmap_rows[0]); i++)
		if (errmap_rows[i].err == err)
			return &errmap_rows[i];
	return NULL;
}

uint32_t errmap_nfs3(int err, enum err_ctx ctx)
{
	err = abs(err);
	if (err == 0)
		return 0;
	if (ctx == ERRCTX_FH && err == ENOENT)
		return 70; /* NFS3ERR_STALE: the handle's object is gone */
	const struct errmap_row *row = errmap_find(err);
	return row ? row->nfs3 : 5; /* NFS3ERR_IO, as knfsd does for the unknown */
}

uint32_t errmap_nfs4(int err, enum err_ctx ctx)
{
	err = abs(err);
	if (err == 0)
		return 0;
	if (ctx == ERRCTX_FH && err == ENOENT)
		return 70; /* NFS4ERR_STALE */
	const struct errmap_row *row = errmap_find(err);
	return row ? row->nfs4 : 5;
}
