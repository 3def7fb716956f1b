/*
 * vfs/xattr.c — extended attributes (RFC 8276) for the vfs backend.
 *
 * Namespace: the protocol's xattr "foo" is Linux's "user.foo", as knfsd maps it, and
 * only user.* names are listed (without their prefix). The other namespaces mean
 * something to the server's kernel and are not the client's to read or change:
 * security.* (SELinux labels, file capabilities), trusted.*, system.* (POSIX ACLs).
 *
 * Reaching the object: the cached O_PATH descriptor of its key (vfs.c), named by its
 * /proc/self/fd/N link. The f*xattr(2) calls refuse O_PATH descriptors (EBADF), and
 * opening the object for real would open device nodes and FIFOs (side effects on the
 * server) and cannot open a symlink at all. The /proc link is a magic link: it is
 * resolved to the descriptor's own object and not followed any further, so a
 * symlink's own attributes are reached, never its target's. Linux allows user.* only
 * on regular files and directories: a symlink (or a device node) has none (get:
 * ENODATA) and takes none (set and remove: EPERM), which the caller gets as is.
 *
 * Permissions are the kernel's, as the caller: the syscalls run after the thread
 * switched to the caller's identity (vfs__obj_open). Linux lets anyone who can reach
 * a file list its xattr names; we ask for read permission first, as knfsd does
 * (fh_verify with NFSD_MAY_READ before LISTXATTRS).
 *
 * Errors as fsal.h has them: a value or name list larger than Linux hands out at
 * once gives E2BIG from the kernel; a value larger than a filesystem takes gives
 * ERANGE, passed on as -E2BIG, since for getxattr ERANGE means "larger than the
 * buffer" and the two must stay apart.
 *
 * Left out: the other namespaces; a filesystem without xattrs answers EOPNOTSUPP.
 */
#include "fsal/vfs/vfs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define VFS_XATTR_PREFIX     "user."
#define VFS_XATTR_PREFIX_LEN 5
#define VFS_XATTR_NAME_MAX   255   /* Linux's XATTR_NAME_MAX, the prefix included */
#define VFS_XATTR_LIST_MAX   65536 /* Linux's XATTR_LIST_MAX: one listxattr's most */
#define VFS_XATTR_PROC_MAX   32

/* An object reached for an xattr call, and the Linux name of the xattr. */
struct vfs_xobj {
	int fd;
	char path[VFS_XATTR_PROC_MAX];
	char name[VFS_XATTR_NAME_MAX + 1];
};

/* "user." + name into o->name: -EINVAL when empty, -ENAMETOOLONG past Linux's limit. */
static int vfs__xattr_name(const char *name, struct vfs_xobj *o)
{
	size_t len = strlen(name);

	if (len == 0)
		return -EINVAL;
	if (len > VFS_XATTR_NAME_MAX - VFS_XATTR_PREFIX_LEN)
		return -ENAMETOOLONG;
	memcpy(o->name, VFS_XATTR_PREFIX, VFS_XATTR_PREFIX_LEN);
	memcpy(o->name + VFS_XATTR_PREFIX_LEN, name, len + 1);
	return 0;
}

/* The object of key, opened as root; the thread then runs as cred. A link count of 0
 * (removed behind our back, still cached) is a stale handle, as in vfs.c. */
static int vfs__xattr_open(struct fsal_export *exp, const struct fsal_cred *cred,
			   const struct fsal_key *key, struct vfs_xobj *o)
{
	struct stat st;
	int rc = vfs__obj_open(exp, cred, key, &o->fd);

	if (rc)
		return rc;
	if (fstat(o->fd, &st) < 0)
		rc = -errno;
	else if (st.st_nlink == 0)
		rc = -ESTALE;
	if (rc) {
		vfs__obj_put(o->fd);
		return rc;
	}
	snprintf(o->path, sizeof(o->path), "/proc/self/fd/%d", o->fd);
	return 0;
}

/* The named attribute's object, opened as the caller: name checked first. */
static int vfs__xattr_named(struct fsal_export *exp, const struct fsal_cred *cred,
			    const struct fsal_key *key, const char *name, struct vfs_xobj *o)
{
	int rc = vfs__xattr_name(name, o);

	return rc ? rc : vfs__xattr_open(exp, cred, key, o);
}

int vfs_getxattr(struct fsal_export *exp, const struct fsal_cred *cred, const struct fsal_key *key,
		 const char *name, void *buf, size_t size, size_t *len)
{
	struct vfs_xobj o;
	int rc = vfs__xattr_named(exp, cred, key, name, &o);

	if (rc)
		return rc;
	/* A size of 0 would ask for the value's length instead of the value. */
	ssize_t n = getxattr(o.path, o.name, size ? buf : NULL, size);
	if (n < 0)
		rc = -errno;
	else if (size == 0 && n > 0)
		rc = -ERANGE;
	else
		*len = (size_t)n;
	vfs__obj_put(o.fd);
	return rc;
}

int vfs_setxattr(struct fsal_export *exp, const struct fsal_cred *cred, const struct fsal_key *key,
		 const char *name, const void *value, size_t len, enum fsal_xattr_how how)
{
	struct vfs_xobj o;
	int flags;
	int rc;

	switch (how) {
	case FSAL_XATTR_EITHER:
		flags = 0;
		break;
	case FSAL_XATTR_CREATE:
		flags = XATTR_CREATE;
		break;
	case FSAL_XATTR_REPLACE:
		flags = XATTR_REPLACE;
		break;
	default:
		return -EINVAL;
	}
	rc = vfs__xattr_named(exp, cred, key, name, &o);
	if (rc)
		return rc;
	if (setxattr(o.path, o.name, value, len, flags) < 0)
		rc = errno == ERANGE ? -E2BIG : -errno; /* see top */
	vfs__obj_put(o.fd);
	return rc;
}

/* Hands the user.* names of a listxattr(2) list to cb, without their prefix. */
static void vfs__xattr_each(const char *list, size_t len, fsal_xattr_cb cb, void *arg)
{
	size_t pos = 0;

	while (pos < len) {
		const char *nm = list + pos;
		size_t n = strnlen(nm, len - pos);

		pos += n + 1;
		if (n <= VFS_XATTR_PREFIX_LEN || memcmp(nm, VFS_XATTR_PREFIX, VFS_XATTR_PREFIX_LEN))
			continue;
		if (!cb(arg, nm + VFS_XATTR_PREFIX_LEN, n - VFS_XATTR_PREFIX_LEN))
			return;
	}
}

/* The whole list in one call into a buffer of Linux's maximum: no size probe, no
 * race with a list that grows between probe and read. cb runs after the object was
 * given back, so it may call into the backend. */
int vfs_listxattr(struct fsal_export *exp, const struct fsal_cred *cred, const struct fsal_key *key,
		  fsal_xattr_cb cb, void *arg)
{
	struct vfs_xobj o;
	ssize_t n = 0;
	char *list = malloc(VFS_XATTR_LIST_MAX);
	int rc = list ? vfs__xattr_open(exp, cred, key, &o) : -ENOMEM;

	if (rc) {
		free(list);
		return rc;
	}
	if (faccessat(o.fd, "", R_OK, AT_EMPTY_PATH | AT_EACCESS) < 0)
		rc = -errno;
	else if ((n = listxattr(o.path, list, VFS_XATTR_LIST_MAX)) < 0)
		rc = errno == ERANGE ? -E2BIG : -errno;
	vfs__obj_put(o.fd);
	if (!rc)
		vfs__xattr_each(list, (size_t)n, cb, arg);
	free(list);
	return rc;
}

int vfs_removexattr(struct fsal_export *exp, const struct fsal_cred *cred,
		    const struct fsal_key *key, const char *name)
{
	struct vfs_xobj o;
	int rc = vfs__xattr_named(exp, cred, key, name, &o);

	if (rc)
		return rc;
	if (removexattr(o.path, o.name) < 0)
		rc = -errno;
	vfs__obj_put(o.fd);
	return rc;
}
