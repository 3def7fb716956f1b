/*
 * Included before rpcgen's output and everything that uses it: libntirpc provides
 * the XDR primitives inline (xdr_inline.h) and names the 64-bit ones longlong.
 */
#ifndef TWINFS_SERVER_XDR_COMPAT_H
#define TWINFS_SERVER_XDR_COMPAT_H
#include <rpc/rpc.h>
#include <rpc/xdr_inline.h>
#define xdr_quad_t   xdr_longlong_t
#define xdr_u_quad_t xdr_u_longlong_t
#endif
