/*
 * vfs/vfs_int.h — what the files of the vfs backend lend each other: vfs.c opens
 * objects for xattr.c, xattr.c implements the extended attribute ops that vfs.c's
 * table lists. Internal to fsal/vfs.
 */
#ifndef TWINFS_FSAL_VFS_VFS_INT_H
#define TWINFS_FSAL_VFS_VFS_INT_H

#include "fsal/fsal.h"

/* vfs.c: the object of key as an O_PATH descriptor, opened as root, after which the
 * calling thread runs as cred; give it back with vfs__obj_put. */
int vfs__obj_open(struct fsal_export *exp, const struct fsal_cred *cred, const struct fsal_key *key,
		  int *fd);
void vfs__obj_put(int fd);

/* xattr.c: the fsal_ops of the same names (fsal.h) */
int vfs_getxattr(struct fsal_export *exp, const struct fsal_cred *cred, const struct fsal_key *key,
		 const char *name, void *buf, size_t size, size_t *len);
int vfs_setxattr(struct fsal_export *exp, const struct fsal_cred *cred, const struct fsal_key *key,
		 const char *name, const void *value, size_t len, enum fsal_xattr_how how);
int vfs_listxattr(struct fsal_export *exp, const struct fsal_cred *cred, const struct fsal_key *key,
		  fsal_xattr_cb cb, void *arg);
int vfs_removexattr(struct fsal_export *exp, const struct fsal_cred *cred,
		    const struct fsal_key *key, const char *name);

#endif
