/*
 * nfs3_inplace.c — two NFSv3 XDR routines that leave bytes where the call has
 * them instead of copying them out (they replace rpcgen's, renamed *_rpcgen at
 * generation time, server/CMakeLists.txt).
 *
 * Why: rpcgen's xdr_bytes allocates and copies. Every NFSv3 call carries a file
 * handle (a malloc and a free per call), and a WRITE carries up to 1 MiB of data
 * (copied once more before it reaches pwrite). The transport keeps a call's bytes
 * for as long as the call runs (server/rpc/rpc.h), so pointing into them is safe
 * there. Decoding needs a contiguous stream (xdrmem, as rpc_req_decode uses);
 * bytes that are not all there are a decoding error, never a partial copy, and
 * XDR_FREE releases nothing of what was decoded in place.
 */
#include "server/xdr/nfs3_prot.h"

#include <stdint.h>

/* An opaque<max> decoded in place: its length, then a pointer to its bytes. */
static bool xdr_opaque_inplace(XDR *xdrs, char **val, u_int *len, u_int max)
{
	uint32_t n;

	if (!xdr_u_int32_t(xdrs, &n) || n > max)
		return false;
	size_t padded = ((size_t)n + 3) & ~(size_t)3;
	if (xdr_tail_inline(xdrs) < padded)
		return false;
	*val = (char *)xdrs->x_data;
	*len = n;
	xdrs->x_data += padded;
	return true;
}

bool xdr_nfs_fh3_rpcgen(XDR *xdrs, nfs_fh3 *objp);
bool xdr_WRITE3args_rpcgen(XDR *xdrs, WRITE3args *objp);

bool xdr_nfs_fh3(XDR *xdrs, nfs_fh3 *objp)
{
	switch (xdrs->x_op) {
	case XDR_DECODE:
		return xdr_opaque_inplace(xdrs, &objp->data.data_val, &objp->data.data_len,
					  NFS3_FHSIZE);
	case XDR_FREE:
		objp->data.data_val = NULL; /* the call's bytes, not ours to free */
		return true;
	default:
		return xdr_nfs_fh3_rpcgen(xdrs, objp);
	}
}

bool xdr_WRITE3args(XDR *xdrs, WRITE3args *objp)
{
	if (xdrs->x_op == XDR_FREE) {
		objp->file.data.data_val = NULL;
		objp->data.data_val = NULL;
		return true;
	}
	if (xdrs->x_op != XDR_DECODE)
		return xdr_WRITE3args_rpcgen(xdrs, objp);
	return xdr_nfs_fh3(xdrs, &objp->file) && xdr_offset3(xdrs, &objp->offset) &&
	       xdr_count3(xdrs, &objp->count) && xdr_stable_how(xdrs, &objp->stable) &&
	       xdr_opaque_inplace(xdrs, &objp->data.data_val, &objp->data.data_len, NFS3_MAXDATA);
}
