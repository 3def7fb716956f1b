/*
 * compound.h — COMPOUND's bounded decoding, apart from its execution, so that the
 * limits are tested on their own (tests/unit/test_nfs4_compound.c).
 */
#ifndef TWINFS_SERVER_NFS4_COMPOUND_H
#define TWINFS_SERVER_NFS4_COMPOUND_H

#include <stdbool.h>
#include <stdint.h>

#include "server/xdr/nfs4_prot.h"

#define NFS4_MAX_MINOR 2

/* COMPOUND4args as decoded here (compound.c explains the limits). */
struct nfs4_args {
	utf8str_cs tag;
	uint32_t minor;
	uint32_t nops;	   /* decoded */
	nfs_argop4 *ops;   /* allocated by the decoder, released by XDR_FREE */
	bool too_many;	   /* more than NFS4_MAX_OPS were announced */
	bool tag_too_long; /* the tag was skipped */
	uint32_t size;	   /* bytes the arguments took in the record */
};

/* XDR_DECODE and XDR_FREE only. */
bool xdr_nfs4_args(XDR *xdrs, struct nfs4_args *a);
/* NFS4_OK when the operations may run, else the COMPOUND's status. */
nfsstat4 nfs4_header_check(const struct nfs4_args *a);

#endif
