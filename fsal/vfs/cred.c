/*
 * vfs/cred.c — run the calling thread as an NFS caller for filesystem access.
 *
 * Why per thread: the kernel checks permissions against the task's fsuid, fsgid and
 * supplementary groups, and these are per-thread kernel state. The raw syscalls
 * change only the calling thread; glibc's setgroups()/setfsuid() wrappers would
 * broadcast to every thread of the process (nptl's setxid), which is wrong for a
 * server whose threads serve different users at the same time.
 *
 * Why a thread-local: the identity the thread currently has is mirrored in
 * `vfs_cred__cur` so consecutive requests from the same user skip the syscalls. It is
 * the only process-wide-looking state in the backend, and it cannot live in a context
 * struct because what it mirrors belongs to the thread, not to an export. Invariant:
 * nothing but this file changes fsuid/fsgid/groups on a thread that uses it; a thread
 * that did would desynchronise the mirror and could run requests as the wrong user.
 *
 * Dropping to a user is verified (setfsuid/setfsgid report no errors, so the id is
 * read back): failing to drop would run the request as root.
 *
 * Side effects left on the thread, on purpose: after a vfs call the thread keeps the
 * last caller's identity (restoring root after every request would double the
 * syscalls), and a thread that created a file has its own fs_struct with umask 0.
 */
#include "fsal/vfs/cred.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* 32-bit ABIs keep the 16-bit-id syscalls under the plain names. */
#ifdef SYS_setfsuid32
#define VFS_SYS_SETFSUID  SYS_setfsuid32
#define VFS_SYS_SETFSGID  SYS_setfsgid32
#define VFS_SYS_SETGROUPS SYS_setgroups32
#else
#define VFS_SYS_SETFSUID  SYS_setfsuid
#define VFS_SYS_SETFSGID  SYS_setfsgid
#define VFS_SYS_SETGROUPS SYS_setgroups
#endif

#define VFS_CRED_UNKNOWN UINT32_MAX

struct vfs_cred__ident {
	bool ready;	    /* fsuid and fsgid below were read from the kernel */
	bool umask_cleared; /* this thread has a private fs_struct with umask 0 */
	uint32_t fsuid;
	uint32_t fsgid;
	uint32_t ngroups; /* VFS_CRED_UNKNOWN until we set the groups once */
	gid_t groups[FSAL_MAX_GROUPS];
};

static _Thread_local struct vfs_cred__ident vfs_cred__cur;

static struct vfs_cred__ident *vfs_cred__self(void)
{
	struct vfs_cred__ident *cur = &vfs_cred__cur;

	if (!cur->ready) {
		/* An invalid id (-1) changes nothing and returns the current one. */
		cur->fsuid = (uint32_t)syscall(VFS_SYS_SETFSUID, -1);
		cur->fsgid = (uint32_t)syscall(VFS_SYS_SETFSGID, -1);
		cur->ngroups = VFS_CRED_UNKNOWN;
		cur->ready = true;
	}
	return cur;
}

static int vfs_cred__fsuid(struct vfs_cred__ident *cur, uint32_t uid)
{
	if (cur->fsuid == uid)
		return 0;
	syscall(VFS_SYS_SETFSUID, uid);
	cur->fsuid = (uint32_t)syscall(VFS_SYS_SETFSUID, -1);
	return cur->fsuid == uid ? 0 : -EPERM;
}

static int vfs_cred__fsgid(struct vfs_cred__ident *cur, uint32_t gid)
{
	if (cur->fsgid == gid)
		return 0;
	syscall(VFS_SYS_SETFSGID, gid);
	cur->fsgid = (uint32_t)syscall(VFS_SYS_SETFSGID, -1);
	return cur->fsgid == gid ? 0 : -EPERM;
}

static bool vfs_cred__same_groups(const struct vfs_cred__ident *cur, const struct fsal_cred *cred)
{
	if (cur->ngroups != cred->ngroups)
		return false;
	for (uint32_t i = 0; i < cred->ngroups; i++)
		if (cur->groups[i] != cred->groups[i])
			return false;
	return true;
}

static int vfs_cred__groups(struct vfs_cred__ident *cur, const struct fsal_cred *cred)
{
	gid_t list[FSAL_MAX_GROUPS];

	if (vfs_cred__same_groups(cur, cred))
		return 0;
	for (uint32_t i = 0; i < cred->ngroups; i++)
		list[i] = cred->groups[i];
	if (syscall(VFS_SYS_SETGROUPS, (size_t)cred->ngroups, list) < 0) {
		cur->ngroups = VFS_CRED_UNKNOWN;
		return -errno;
	}
	memcpy(cur->groups, list, cred->ngroups * sizeof(list[0]));
	cur->ngroups = cred->ngroups;
	return 0;
}

int vfs_cred_root(void)
{
	return vfs_cred__fsuid(vfs_cred__self(), 0);
}

int vfs_cred_set(const struct fsal_cred *cred)
{
	struct vfs_cred__ident *cur = vfs_cred__self();
	int rc;

	if (cred->ngroups > FSAL_MAX_GROUPS)
		return -EINVAL;
	/* Groups and gid first: CAP_SETGID survives a non-zero fsuid, but keeping the
	 * order fixed means a failure never leaves a user id with root's groups. */
	rc = vfs_cred__groups(cur, cred);
	if (!rc)
		rc = vfs_cred__fsgid(cur, cred->gid);
	if (!rc)
		rc = vfs_cred__fsuid(cur, cred->uid);
	return rc;
}

/*
 * The mode a client sends is final: the client applied its own umask already (RFC
 * 1813 §3.3.8 CREATE, "mode" in sattr3), so the daemon's umask must not strip more
 * bits. umask lives in fs_struct, which threads share, so the thread first takes a
 * private copy (CLONE_FS; its cwd becomes private too) and only then clears umask.
 */
int vfs_cred_no_umask(void)
{
	struct vfs_cred__ident *cur = vfs_cred__self();

	if (cur->umask_cleared)
		return 0;
	if (unshare(CLONE_FS) < 0)
		return -errno;
	umask(0);
	cur->umask_cleared = true;
	return 0;
}
