/*
 * nfs3.h — NFS version 3 (RFC 1813), program 100003 version 3.
 */
#ifndef TWINFS_SERVER_NFS3_NFS3_H
#define TWINFS_SERVER_NFS3_NFS3_H

#include "server/nfs/dispatch.h"

extern const struct prog_desc nfs3_program;

#endif
