/*
 * vfs/cred.h — the calling thread's filesystem identity, for the vfs backend only.
 */
#ifndef TWINFS_FSAL_VFS_CRED_H
#define TWINFS_FSAL_VFS_CRED_H

#include "fsal/fsal.h"

/* fsuid 0: what open_by_handle_at needs (CAP_DAC_READ_SEARCH). fsgid and groups are
 * left as they are: with fsuid 0 they do not matter for the few calls made as root. */
int vfs_cred_root(void);

/* fsuid, fsgid and supplementary groups exactly as cred (0 or -EPERM/-EINVAL). */
int vfs_cred_set(const struct fsal_cred *cred);

/* Give the calling thread its own umask of 0 (see cred.c); once per thread. */
int vfs_cred_no_umask(void);

#endif
