/*
 * errmap.h — errno to NFS status, in one place.
 *
 * The FSAL and everything below it speak negative errno. Each protocol version
 * projects errno onto its own status codes here, at the edge, with the context the
 * errno arose in: ENOENT while resolving a file handle means the object is gone
 * (STALE), while looking up a name it means the name is absent (NOENT)
 * (RFC 1813 §2.6; knfsd's nfserrno() and nfsd3_map_status() do the same).
 */
#ifndef TWINFS_SERVER_NFS_ERRMAP_H
#define TWINFS_SERVER_NFS_ERRMAP_H

#include <stdint.h>

enum err_ctx {
	ERRCTX_NAME = 0, /* the error came from a name inside a directory */
	ERRCTX_FH = 1,	 /* the error came from resolving a handle */
};

/* err is a negative (or positive) errno; 0 gives NFS3_OK (0). */
uint32_t errmap_nfs3(int err, enum err_ctx ctx);
uint32_t errmap_nfs4(int err, enum err_ctx ctx);

#endif
