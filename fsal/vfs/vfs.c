/*
 * vfs/vfs.c — the FSAL backend for a directory tree on a local (or shared) filesystem.
 *
 * Keys are the kernel's own file handles: 4 bytes of handle_type (little endian, so a
 * partner node of another byte order would read it the same) followed by the f_handle
 * bytes of name_to_handle_at(2). They hold no fd, pointer or mount id, so they survive
 * a restart and are valid on another node that mounts the same filesystem. A handle
 * longer than FSAL_KEY_MAX gives -EOVERFLOW when that object is looked up or created.
 *
 * Operations open their objects from keys with open_by_handle_at(2); the O_PATH
 * descriptors are kept in a bounded cache (fdcache.h) and lent out, descriptors for
 * I/O and directory reading are opened and closed per call. Opening by handle needs
 * CAP_DAC_READ_SEARCH, which the kernel drops while fsuid != 0, hence the rhythm of
 * each call: become root (vfs_cred_root), open the keys, become the caller
 * (vfs_cred_set), do the syscall that the kernel permission-checks, close.
 *
 * Permission checks are the kernel's, made as the caller, except where the syscall
 * works on an fd that root opened (read, write, truncate). There we ask faccessat2 as
 * the caller and add knfsd's two exceptions (nfsd_permission): the owner may always
 * read and write his own file (a file created 0444 stays writable through the
 * client's open fd), and a file that may be executed may be read (clients read the
 * binaries they run).
 *
 * Containment: LOOKUP ".." of the export root is the root (keys compared), and a
 * lookup never leaves the export's mount. A name whose object lies on another mount
 * (a filesystem mounted below the export, a bind mount) gives -EXDEV: its handle would
 * be decoded on the export's filesystem and name a different object. The covered
 * directory is not reachable by handle from user space, so -EXDEV is the safe answer.
 *
 * Symlinks are never followed: lookups use name_to_handle_at without
 * AT_SYMLINK_FOLLOW, objects are opened by handle (never by path), and a regular file
 * is reopened for I/O only after fstat said it is one (/proc/self/fd/N then names the
 * inode itself, never a path). That reopen also keeps us from opening device nodes
 * and FIFOs, which would have side effects on the server.
 *
 * Needs: root (CAP_DAC_READ_SEARCH, CAP_SETUID, CAP_SETGID), /proc mounted.
 * Left out: cached I/O descriptors, ACL-aware owner override, crossing mounts.
 */
#include "fsal/fsal.h"
#include "fsal/fsal_int.h"
#include "fsal/vfs/cred.h"
#include "fsal/vfs/dirstream.h"
#include "fsal/vfs/fdcache.h"
#include "fsal/vfs/hcache.h"
#include "fsal/vfs/vfs_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define VFS_HTYPE_LEN	4
#define VFS_FH_MAX	(FSAL_KEY_MAX - VFS_HTYPE_LEN)
#define VFS_DIRBUF	(32 * 1024)
#define VFS_PROC_FD_MAX 32
/* Listings kept between pages, per export (dirstream.h). */
#define VFS_DIRSTREAMS 64
/* Handles kept by inode, per export (hcache.h): 4 MiB of slots, touched as used. */
#define VFS_HCACHE (32 * 1024)
/* What an entry of a listing needs: attributes, birth time and mount (hcache.h). */
#define VFS_STATX_MASK (STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID)
/* No real d_off is -1 (lseek refuses negative positions): the cookie we report for an
 * entry whose d_off is 0, meaning "nothing after this". */
#define VFS_COOKIE_END UINT64_MAX

struct fsal_export {
	int mount_fd;  /* O_RDONLY: open_by_handle_at refuses O_PATH fds */
	int mount_id;  /* node-local: compared in memory, never put in a key */
	uint64_t fsid; /* f_fsid of the export's filesystem (ext4: from its UUID) */
	struct fsal_key root;
	struct fdcache *fdc;	      /* O_PATH descriptors by key */
	struct dirstream_cache *dirs; /* listings in progress */
	struct hcache *hc;	      /* keys by inode number and birth time */
};

/* A struct file_handle with room for the longest handle a key can carry. */
union vfs_fh {
	struct file_handle fh;
	unsigned char buf[sizeof(struct file_handle) + VFS_FH_MAX];
};

/* --- keys and handles ------------------------------------------------------------ */

static int vfs__key_to_fh(const struct fsal_key *key, union vfs_fh *h)
{
	const unsigned char *d = key->data;

	if (key->len <= VFS_HTYPE_LEN || key->len > FSAL_KEY_MAX)
		return -ESTALE;
	h->fh.handle_type = (int)((uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
				  (uint32_t)d[3] << 24);
	h->fh.handle_bytes = key->len - VFS_HTYPE_LEN;
	memcpy(h->fh.f_handle, d + VFS_HTYPE_LEN, h->fh.handle_bytes);
	return 0;
}

static void vfs__fh_to_key(const union vfs_fh *h, struct fsal_key *key)
{
	uint32_t t = (uint32_t)h->fh.handle_type;

	key->data[0] = t & 0xff;
	key->data[1] = (t >> 8) & 0xff;
	key->data[2] = (t >> 16) & 0xff;
	key->data[3] = (t >> 24) & 0xff;
	memcpy(key->data + VFS_HTYPE_LEN, h->fh.f_handle, h->fh.handle_bytes);
	key->len = VFS_HTYPE_LEN + h->fh.handle_bytes;
}

/* The key of dirfd/name (name "" with AT_EMPTY_PATH: dirfd itself), and its mount. */
static int vfs__handle(int dirfd, const char *name, int flags, struct fsal_key *key, int *mnt)
{
	union vfs_fh h;

	h.fh.handle_bytes = VFS_FH_MAX;
	/* No AT_SYMLINK_FOLLOW: a symlink's own handle. Without it the kernel does not
	 * trigger an automount on the last component either. */
	if (name_to_handle_at(dirfd, name, &h.fh, mnt, flags) < 0)
		return -errno; /* EOVERFLOW: the handle does not fit a key */
	vfs__fh_to_key(&h, key);
	return 0;
}

/* The key of dirfd/name, refused when the object is on another mount (see top). */
static int vfs__name_key(const struct fsal_export *exp, int dirfd, const char *name,
			 struct fsal_key *key)
{
	int mnt;
	int rc = vfs__handle(dirfd, name, 0, key, &mnt);

	if (!rc && mnt != exp->mount_id)
		rc = -EXDEV;
	return rc;
}

/*
 * open_by_handle_at fails with ENOMEM, not ESTALE, while the handle's inode number is
 * being given to a new file by a create still in progress: the kernel's inode lookup
 * (iget_locked) finds that new inode marked I_CREATING and returns nothing, which ext4
 * reports as ENOMEM, and fs/fhandle.c passes ENOMEM on where it turns every other
 * failure into ESTALE. ext4 hands a freed number to the next new file at once, so the
 * handle of an object just removed meets this whenever anything else creates files on
 * that filesystem (measured: 0.5-1.7 % of such opens beside one process creating
 * files; a parallel test run made GETATTR of a removed file fail). The create ends
 * within microseconds, so the open is tried again, a yield first, then sleeps doubling
 * from VFS_RETRY_NS (25 ms in all). An ENOMEM that outlasts that becomes -EAGAIN: the
 * client asks again later (JUKEBOX, as knfsd answers ENOMEM from its own handle
 * decoding), and a live object is never called stale.
 */
#define VFS_OPEN_TRIES 12
#define VFS_RETRY_NS   (50 * 1000L)

static void vfs__open_backoff(unsigned attempt)
{
	if (attempt < 3) {
		sched_yield();
		return;
	}
	const struct timespec ts = {0, VFS_RETRY_NS << (attempt - 3)};
	nanosleep(&ts, NULL);
}

/* Opens the object of `key` (the caller is root). Whatever says "no such object"
 * becomes -ESTALE. */
static int vfs__open_handle(const struct fsal_export *exp, const struct fsal_key *key, int flags,
			    int *fd)
{
	union vfs_fh h;
	int rc = vfs__key_to_fh(key, &h);

	if (rc)
		return rc;
	for (unsigned attempt = 0; attempt < VFS_OPEN_TRIES; attempt++) {
		if (attempt)
			vfs__open_backoff(attempt);
		*fd = open_by_handle_at(exp->mount_fd, &h.fh, flags | O_CLOEXEC);
		if (*fd >= 0)
			return 0;
		if (errno != ENOMEM)
			break;
	}
	if (errno == ENOMEM)
		return -EAGAIN;
	if (errno == ENOENT || errno == EBADF || errno == EINVAL)
		return -ESTALE;
	return -errno;
}

static int vfs__open_path_cb(void *arg, const struct fsal_key *key, int *fd)
{
	return vfs__open_handle(arg, key, O_PATH, fd);
}

/* A forged or damaged handle is not even looked up. */
static bool vfs__key_ok(const struct fsal_key *key)
{
	return key->len > VFS_HTYPE_LEN && key->len <= FSAL_KEY_MAX;
}

/* Opens the object of `key` as root. An O_PATH descriptor comes from the export's
 * cache and goes back with vfs__put; any other is the caller's to close. */
static int vfs__open_key(const struct fsal_export *exp, const struct fsal_key *key, int flags,
			 int *fd)
{
	int rc = vfs_cred_root();

	if (rc)
		return rc;
	if (!vfs__key_ok(key))
		return -ESTALE;
	if (flags == O_PATH)
		return fdcache_get(exp->fdc, key, vfs__open_path_cb, (void *)exp, fd);
	return vfs__open_handle(exp, key, flags, fd);
}

/* Gives back an O_PATH descriptor from vfs__open_key. */
static void vfs__put(int fd)
{
	fdcache_put(fd);
}

static int vfs__open_path_root_cb(void *arg, const struct fsal_key *key, int *fd)
{
	int rc = vfs_cred_root();

	return rc ? rc : vfs__open_handle(arg, key, O_PATH, fd);
}

/* The O_PATH descriptor of `key`, then the caller's identity: the state every
 * namespace operation starts from. Root only to open one not kept: a kept one needs
 * no privilege, so a user's READDIRPLUS does not switch identity twice per entry. */
static int vfs__open_as(const struct fsal_export *exp, const struct fsal_cred *cred,
			const struct fsal_key *key, int *fd)
{
	int rc;

	if (!vfs__key_ok(key))
		return -ESTALE;
	rc = fdcache_get(exp->fdc, key, vfs__open_path_root_cb, (void *)exp, fd);
	if (rc)
		return rc;
	rc = vfs_cred_set(cred);
	if (rc)
		vfs__put(*fd);
	return rc;
}

static void vfs__proc_path(int fd, char *buf)
{
	snprintf(buf, VFS_PROC_FD_MAX, "/proc/self/fd/%d", fd);
}

/* A regular file open for I/O: fd, from the descriptor cache's pfd. */
struct vfs_io {
	int fd;
	int pfd;
	bool own; /* fd is this call's (else the cache keeps it with pfd) */
};

static int vfs__reopen_ro(int pfd, int *fd)
{
	char path[VFS_PROC_FD_MAX];

	vfs__proc_path(pfd, path);
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	return *fd < 0 ? -errno : 0;
}

/* Opens the regular file of `key` as root with `flags` (O_RDONLY/O_WRONLY); -EISDIR for
 * a directory, -EINVAL for anything else that is not a regular file. A read-only
 * descriptor is kept with the cached O_PATH one (READs reopen nothing); a writable
 * one is opened per call, as a kept one would make exec of the file fail (ETXTBSY)
 * and hold write leases. */
static int vfs__open_reg(const struct fsal_export *exp, const struct fsal_key *key, int flags,
			 struct vfs_io *io, struct stat *st)
{
	char path[VFS_PROC_FD_MAX];
	int rc = vfs__open_key(exp, key, O_PATH, &io->pfd);

	if (rc)
		return rc;
	if (fstat(io->pfd, st) < 0)
		rc = -errno;
	else if (S_ISDIR(st->st_mode))
		rc = -EISDIR;
	else if (!S_ISREG(st->st_mode))
		rc = -EINVAL;
	else if (st->st_nlink == 0)
		rc = -ESTALE; /* removed behind the server's back, as in vfs_getattr */
	if (rc == -ESTALE) {
		vfs__put(io->pfd);
		fdcache_forget(exp->fdc, key);
		return rc;
	}
	if (!rc && flags == O_RDONLY && fdcache_aux(io->pfd, vfs__reopen_ro, &io->fd) == 0) {
		io->own = false;
		return 0;
	}
	if (!rc) {
		vfs__proc_path(io->pfd, path);
		io->fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
		rc = io->fd < 0 ? -errno : 0;
		io->own = true;
	}
	if (rc)
		vfs__put(io->pfd);
	return rc;
}

static void vfs__io_done(struct vfs_io *io)
{
	if (io->own)
		close(io->fd);
	vfs__put(io->pfd);
}

/* May cred read (want R_OK) or write (W_OK) the file root opened as fd? See top. */
static int vfs__may_io(int fd, const struct fsal_cred *cred, const struct stat *st, int want)
{
	int rc;

	if (cred->uid == 0 || cred->uid == st->st_uid)
		return 0;
	rc = vfs_cred_set(cred);
	if (rc)
		return rc;
	if (faccessat(fd, "", want, AT_EMPTY_PATH | AT_EACCESS) == 0)
		return 0;
	if (errno == EACCES && want == R_OK &&
	    faccessat(fd, "", X_OK, AT_EMPTY_PATH | AT_EACCESS) == 0)
		return 0;
	return -errno;
}

/* The regular file of key open for writing, as cred, who may write it: what
 * truncating, writing and allocating share (see vfs__may_io). */
static int vfs__open_write(const struct fsal_export *exp, const struct fsal_cred *cred,
			   const struct fsal_key *key, struct vfs_io *io)
{
	struct stat st;
	int rc = vfs__open_reg(exp, key, O_WRONLY, io, &st);

	if (rc)
		return rc;
	rc = vfs__may_io(io->fd, cred, &st, W_OK);
	if (!rc)
		rc = vfs_cred_set(cred);
	if (rc)
		vfs__io_done(io);
	return rc;
}

/* --- export ---------------------------------------------------------------------- */

/* A quarter of the descriptors this process may open (twinfsd raises its limit to
 * the hard one), at most 16384: the rest is for connections and I/O. */
static unsigned vfs__fdcache_capacity(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur / 4 > 16384)
		return 16384;
	return (unsigned)(rl.rlim_cur / 4);
}

static int vfs__export_init(struct fsal_export *exp, const char *path)
{
	struct statfs sfs;
	int fd;
	int rc;

	exp->mount_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (exp->mount_fd < 0)
		return -errno;
	exp->fdc = fdcache_new(vfs__fdcache_capacity());
	exp->dirs = dirstream_cache_new(VFS_DIRSTREAMS);
	exp->hc = hcache_new(VFS_HCACHE);
	if (!exp->fdc || !exp->dirs || !exp->hc)
		return -ENOMEM;
	rc = vfs__handle(exp->mount_fd, "", AT_EMPTY_PATH, &exp->root, &exp->mount_id);
	if (rc)
		return rc;
	if (fstatfs(exp->mount_fd, &sfs) < 0)
		return -errno;
	exp->fsid =
	    (uint64_t)(uint32_t)sfs.f_fsid.__val[0] | (uint64_t)(uint32_t)sfs.f_fsid.__val[1] << 32;
	/* Fail now, not on the first request, when handles cannot be opened: without
	 * CAP_DAC_READ_SEARCH (not root) open_by_handle_at gives EPERM. */
	rc = vfs__open_key(exp, &exp->root, O_PATH, &fd);
	if (rc == -EACCES)
		rc = -EPERM;
	if (!rc)
		vfs__put(fd);
	return rc;
}

static int vfs_export_open(const char *path, const char *options, struct fsal_export **out)
{
	struct fsal_export *exp;
	int rc;

	if (!path || (options && options[0] != '\0'))
		return -EINVAL; /* vfs has no options */
	exp = calloc(1, sizeof(*exp));
	if (!exp)
		return -ENOMEM;
	rc = vfs__export_init(exp, path);
	if (rc) {
		if (exp->mount_fd >= 0)
			close(exp->mount_fd);
		fdcache_free(exp->fdc);
		dirstream_cache_free(exp->dirs);
		hcache_free(exp->hc);
		free(exp);
		return rc;
	}
	*out = exp;
	return 0;
}

static void vfs_export_close(struct fsal_export *exp)
{
	const struct fsal_cred root = {0};

	if (!exp)
		return;
	fdcache_free(exp->fdc);
	dirstream_cache_free(exp->dirs);
	hcache_free(exp->hc);
	close(exp->mount_fd);
	free(exp);
	/* Leave the closing thread as root, as most threads started. */
	vfs_cred_set(&root);
}

static void vfs_drop_caches(struct fsal_export *exp)
{
	fdcache_forget_all(exp->fdc);
	dirstream_cache_clear(exp->dirs);
	hcache_clear(exp->hc);
}

static int vfs_root(struct fsal_export *exp, struct fsal_key *out)
{
	*out = exp->root;
	return 0;
}

/* --- attributes ------------------------------------------------------------------ */

static enum fsal_type vfs__type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return FSAL_DIR;
	case S_IFBLK:
		return FSAL_BLK;
	case S_IFCHR:
		return FSAL_CHR;
	case S_IFLNK:
		return FSAL_LNK;
	case S_IFSOCK:
		return FSAL_SOCK;
	case S_IFIFO:
		return FSAL_FIFO;
	default:
		return FSAL_REG;
	}
}

static void vfs__attr(const struct fsal_export *exp, const struct stat *st, struct fsal_attr *a)
{
	a->type = vfs__type(st->st_mode);
	a->mode = st->st_mode & 07777;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->size = (uint64_t)st->st_size;
	a->used = (uint64_t)st->st_blocks * 512;
	a->rdev_major = major(st->st_rdev);
	a->rdev_minor = minor(st->st_rdev);
	a->fsid = exp->fsid;
	a->fileid = st->st_ino;
	a->atime = st->st_atim;
	a->mtime = st->st_mtim;
	a->ctime = st->st_ctim;
}

static void vfs__attr_statx(const struct fsal_export *exp, const struct statx *sx,
			    struct fsal_attr *a)
{
	a->type = vfs__type(sx->stx_mode);
	a->mode = sx->stx_mode & 07777;
	a->nlink = sx->stx_nlink;
	a->uid = sx->stx_uid;
	a->gid = sx->stx_gid;
	a->size = sx->stx_size;
	a->used = sx->stx_blocks * 512;
	a->rdev_major = sx->stx_rdev_major;
	a->rdev_minor = sx->stx_rdev_minor;
	a->fsid = exp->fsid;
	a->fileid = sx->stx_ino;
	a->atime = (struct timespec){sx->stx_atime.tv_sec, sx->stx_atime.tv_nsec};
	a->mtime = (struct timespec){sx->stx_mtime.tv_sec, sx->stx_mtime.tv_nsec};
	a->ctime = (struct timespec){sx->stx_ctime.tv_sec, sx->stx_ctime.tv_nsec};
}

static int vfs_getattr(struct fsal_export *exp, const struct fsal_key *key, struct fsal_attr *out)
{
	struct stat st;
	int fd;
	int rc = vfs__open_key(exp, key, O_PATH, &fd);

	if (rc)
		return rc;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (st.st_nlink == 0)
		rc = -ESTALE; /* removed by someone else; its cached descriptor goes */
	else
		vfs__attr(exp, &st, out);
	vfs__put(fd);
	if (rc == -ESTALE)
		fdcache_forget(exp->fdc, key);
	return rc;
}

/* Size: needs a writable fd, which only a regular file gets (opened as root), then
 * truncated as the caller so the kernel clears set-id bits as it would for him. */
static int vfs__set_size(const struct fsal_export *exp, const struct fsal_cred *cred,
			 const struct fsal_key *key, uint64_t size)
{
	struct vfs_io io;
	int rc;

	if (size > INT64_MAX)
		return -EFBIG;
	rc = vfs__open_write(exp, cred, key, &io);
	if (rc)
		return rc;
	if (ftruncate(io.fd, (off_t)size) < 0)
		rc = -errno;
	vfs__io_done(&io);
	return rc;
}

static int vfs__set_owner(int fd, const struct fsal_setattr *sa)
{
	uid_t uid = (sa->mask & FSAL_SET_UID) ? sa->uid : (uid_t)-1;
	gid_t gid = (sa->mask & FSAL_SET_GID) ? sa->gid : (gid_t)-1;

	if (!(sa->mask & (FSAL_SET_UID | FSAL_SET_GID)))
		return 0;
	if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* chmod through the fd's /proc link: fchmod refuses O_PATH fds, and the kernel gives
 * EOPNOTSUPP itself for a symlink (Linux has no symlink modes). */
static int vfs__set_mode(int fd, const struct fsal_setattr *sa)
{
	char path[VFS_PROC_FD_MAX];

	if (!(sa->mask & FSAL_SET_MODE))
		return 0;
	vfs__proc_path(fd, path);
	if (chmod(path, sa->mode & 07777) < 0)
		return -errno;
	return 0;
}

static struct timespec vfs__when(uint32_t mask, uint32_t now, uint32_t set,
				 const struct timespec *ts)
{
	if (mask & now)
		return (struct timespec){.tv_nsec = UTIME_NOW};
	if (mask & set)
		return *ts;
	return (struct timespec){.tv_nsec = UTIME_OMIT};
}

static int vfs__set_times(int fd, const struct fsal_setattr *sa)
{
	struct timespec ts[2];
	const uint32_t all =
	    FSAL_SET_ATIME | FSAL_SET_ATIME_NOW | FSAL_SET_MTIME | FSAL_SET_MTIME_NOW;

	if (!(sa->mask & all))
		return 0;
	ts[0] = vfs__when(sa->mask, FSAL_SET_ATIME_NOW, FSAL_SET_ATIME, &sa->atime);
	ts[1] = vfs__when(sa->mask, FSAL_SET_MTIME_NOW, FSAL_SET_MTIME, &sa->mtime);
	if (utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* Order: size, owner, mode, times. Mode after owner because chown clears set-id
 * bits; times last so an explicit mtime survives the truncate. Not atomic: an error
 * part-way leaves the earlier changes made, as knfsd's separate size step does. */
static int vfs_setattr(struct fsal_export *exp, const struct fsal_cred *cred,
		       const struct fsal_key *key, const struct fsal_setattr *sa)
{
	int fd;
	int rc = 0;

	if (sa->mask & FSAL_SET_SIZE)
		rc = vfs__set_size(exp, cred, key, sa->size);
	if (rc || !(sa->mask & ~FSAL_SET_SIZE))
		return rc;
	rc = vfs__open_as(exp, cred, key, &fd);
	if (rc)
		return rc;
	rc = vfs__set_owner(fd, sa);
	if (!rc)
		rc = vfs__set_mode(fd, sa);
	if (!rc)
		rc = vfs__set_times(fd, sa);
	vfs__put(fd);
	return rc;
}

/* --- lookup and access ----------------------------------------------------------- */

/* The clock for hcache.h. The coarse one is never ahead of the exact one, which is
 * all the rule needs, and costs a few nanoseconds a listing entry. */
static int64_t vfs__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct hcache_birth vfs__birth(const struct statx *sx)
{
	return (struct hcache_birth){sx->stx_btime.tv_sec, sx->stx_btime.tv_nsec};
}

/* May the handle of what sx describes be kept (hcache.h)? */
static bool vfs__keepable(const struct fsal_export *exp, const struct statx *sx, int64_t now)
{
	const unsigned need = STATX_BTIME | STATX_MNT_ID;

	return (sx->stx_mask & need) == need && sx->stx_mnt_id == (uint64_t)exp->mount_id &&
	       hcache_old_enough(vfs__birth(sx), now);
}

/* Key and statx of dirfd/name, both from one descriptor of the object: they describe
 * the same inode even if the name is replaced meanwhile, so the pair may be cached.
 * O_PATH opens nothing on the object and, without LOOKUP_OPEN, triggers no automount. */
static int vfs__name_key_exact(const struct fsal_export *exp, int dirfd, const char *name,
			       struct fsal_key *key, struct statx *sx)
{
	int mnt;
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int rc = fd < 0 ? -errno : vfs__handle(fd, "", AT_EMPTY_PATH, key, &mnt);

	if (!rc && mnt != exp->mount_id)
		rc = -EXDEV;
	if (!rc && statx(fd, "", AT_EMPTY_PATH, VFS_STATX_MASK, sx) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Key and attributes of dirfd/name: one statx, and the key from the handle cache when
 * it knows this incarnation of the inode (hcache.h); else the name's handle. The clock
 * is read before the object is seen, as hcache_put needs. */
static int vfs__name_key_attr(struct fsal_export *exp, int dirfd, const char *name,
			      struct fsal_key *key, struct fsal_attr *attr)
{
	struct statx sx;
	int64_t now = vfs__now_ns();
	int rc;

	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, VFS_STATX_MASK, &sx) < 0)
		return -errno;
	bool keep = vfs__keepable(exp, &sx, now);
	if (keep && hcache_get(exp->hc, sx.stx_ino, vfs__birth(&sx), now, key)) {
		vfs__attr_statx(exp, &sx, attr);
		return 0;
	}
	if (keep)
		rc = vfs__name_key_exact(exp, dirfd, name, key, &sx);
	else
		rc = vfs__name_key(exp, dirfd, name, key); /* young, or on another mount */
	/* sx is now the opened object's: the name may have been replaced meanwhile */
	if (!rc && keep && vfs__keepable(exp, &sx, now))
		hcache_put(exp->hc, sx.stx_ino, vfs__birth(&sx), now, key);
	if (!rc)
		vfs__attr_statx(exp, &sx, attr);
	return rc;
}

/*
 * The directory vfs_readdir lends its callback (fsal.h): the listing's own descriptor.
 * READDIRPLUS looks every entry up from that callback (lookup_at); taking the directory
 * from the descriptor cache for each one instead was two lock round trips on one cache
 * line shared by every thread serving that listing: 8 % of a 10,000-entry listing's CPU
 * (the lookup, the locks and the futex waits).
 */
struct fsal_dir {
	const struct fsal_key *key;
	int fd;
};

/* The key of fd/name (fd: the directory dir, the caller's identity set) and, when attr
 * is not NULL, the object's attributes: from the name, not from the object opened by
 * its handle, so nothing is opened or cached per entry of a large listing. */
static int vfs__lookup_fd(struct fsal_export *exp, const struct fsal_key *dir, int fd,
			  const char *name, struct fsal_key *out, struct fsal_attr *attr)
{
	/* ".." of the root is the root; still looked up as "." for the X check. */
	if (strcmp(name, "..") == 0 && fsal_key_eq(dir, &exp->root))
		name = ".";
	if (attr)
		return vfs__name_key_attr(exp, fd, name, out, attr);
	return vfs__name_key(exp, fd, name, out);
}

static int vfs_lookup(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *dir, const char *name, struct fsal_key *out)
{
	int fd;
	int rc = fsal__check_name(name, true);

	if (!rc)
		rc = vfs__open_as(exp, cred, dir, &fd);
	if (rc)
		return rc;
	rc = vfs__lookup_fd(exp, dir, fd, name, out, NULL);
	vfs__put(fd);
	return rc;
}

/* The directory is readdir's, open for the length of the callback: nothing to open or
 * give back. */
static int vfs_lookup_at(struct fsal_export *exp, const struct fsal_cred *cred,
			 const struct fsal_dir *dir, const char *name, struct fsal_key *out,
			 struct fsal_attr *attr)
{
	int rc = fsal__check_name(name, true);

	if (!rc)
		rc = vfs_cred_set(cred);
	if (!rc)
		rc = vfs__lookup_fd(exp, dir->key, dir->fd, name, out, attr);
	return rc;
}

static int vfs_access(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *key, int want)
{
	int fd;
	int rc;

	if (want & ~(R_OK | W_OK | X_OK))
		return -EINVAL;
	rc = vfs__open_as(exp, cred, key, &fd);
	if (rc)
		return rc;
	/* faccessat2: AT_EACCESS checks fsuid/fsgid (not the real ids), AT_EMPTY_PATH the
	 * O_PATH fd itself; both accepted since Linux 5.8, glibc 2.33. */
	if (faccessat(fd, "", want, AT_EMPTY_PATH | AT_EACCESS) < 0)
		rc = -errno;
	vfs__put(fd);
	return rc;
}

/* --- I/O ------------------------------------------------------------------------- */

static int vfs__pread(int fd, uint64_t off, void *buf, size_t len, size_t *nread)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*nread = done;
	return 0;
}

/* eof from the size seen before the read, re-checked only in the one ambiguous case
 * (a full read reaching that size: the file may have grown meanwhile). */
static bool vfs__eof(int fd, uint64_t off, size_t len, size_t nread, const struct stat *before)
{
	struct stat st;

	if (nread < len)
		return true;
	if (off + nread < (uint64_t)before->st_size)
		return false;
	if (fstat(fd, &st) < 0)
		return true;
	return off + nread >= (uint64_t)st.st_size;
}

/* The pages of [off, off + len) spliced into pipe_wr (see vfs_read_splice). */
static int vfs__splice(int fd, uint64_t off, size_t len, int pipe_wr, size_t *nread, bool *at_end)
{
	size_t done = 0;

	while (done < len) {
		loff_t at = (loff_t)(off + done);
		ssize_t n =
		    splice(fd, &at, pipe_wr, NULL, len - done, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			done += (size_t)n;
		} else if (n == 0) {
			*at_end = true;
			break;
		} else if (errno != EINTR) {
			/* nothing yet (a filesystem without splice, a full pipe): READ
			 * copies instead; some: a short read, the client asks for the rest */
			if (!done)
				return errno == EIO || errno == EACCES ? -errno : -EOPNOTSUPP;
			break;
		}
	}
	*nread = done;
	return 0;
}

/* READ into buf, or with buf NULL into the pipe pipe_wr. */
static int vfs__read(struct fsal_export *exp, const struct fsal_cred *cred,
		     const struct fsal_key *key, uint64_t off, size_t len, void *buf, int pipe_wr,
		     size_t *nread, bool *eof)
{
	struct stat st;
	struct vfs_io io;
	bool at_end = false;
	int rc;

	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EINVAL;
	rc = vfs__open_reg(exp, key, O_RDONLY, &io, &st);
	if (rc)
		return rc;
	rc = vfs__may_io(io.fd, cred, &st, R_OK);
	if (!rc)
		rc = buf ? vfs__pread(io.fd, off, buf, len, nread)
			 : vfs__splice(io.fd, off, len, pipe_wr, nread, &at_end);
	/* a short splice (a full pipe) is no end of file unless the file said so */
	if (!rc)
		*eof = at_end || ((buf || *nread == len) && vfs__eof(io.fd, off, len, *nread, &st));
	vfs__io_done(&io);
	return rc;
}

static int vfs_read(struct fsal_export *exp, const struct fsal_cred *cred,
		    const struct fsal_key *key, uint64_t off, void *buf, size_t len, size_t *nread,
		    bool *eof)
{
	return vfs__read(exp, cred, key, off, len, buf, -1, nread, eof);
}

/* READ without a copy: splice moves references to the page cache's pages into the
 * pipe, and the transport splices them on into the socket (rpc_req_reply_piped),
 * as knfsd's splice read does; a 1 MiB READ was two 1 MiB copies in this process. */
static int vfs_read_splice(struct fsal_export *exp, const struct fsal_cred *cred,
			   const struct fsal_key *key, uint64_t off, size_t len, int pipe_wr,
			   size_t *nread, bool *eof)
{
	return vfs__read(exp, cred, key, off, len, NULL, pipe_wr, nread, eof);
}

static int vfs__pwrite(int fd, uint64_t off, const void *buf, size_t len, enum fsal_stable how,
		       size_t *written)
{
	int flags = how == FSAL_FILE_SYNC ? RWF_SYNC : how == FSAL_DATA_SYNC ? RWF_DSYNC : 0;
	size_t done = 0;

	while (done < len) {
		struct iovec iov = {(char *)buf + done, len - done};
		ssize_t n = pwritev2(fd, &iov, 1, (off_t)(off + done), flags);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && done == 0)
			return -errno;
		if (n < 0)
			break; /* report what was written; the error comes back next time */
		done += (size_t)n;
	}
	*written = done;
	return 0;
}

/* The write itself runs as the caller: the kernel then clears set-id bits as POSIX
 * wants for a non-privileged writer. */
static int vfs_write(struct fsal_export *exp, const struct fsal_cred *cred,
		     const struct fsal_key *key, uint64_t off, const void *buf, size_t len,
		     enum fsal_stable how, size_t *written)
{
	struct vfs_io io;
	int rc;

	*written = 0;
	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EFBIG;
	rc = vfs__open_write(exp, cred, key, &io);
	if (rc)
		return rc;
	rc = vfs__pwrite(io.fd, off, buf, len, how, written);
	vfs__io_done(&io);
	return rc;
}

/* fsync, as knfsd's COMMIT does: sync_file_range would not flush the metadata (size,
 * block map) needed to read the data back after a crash. The range is not used: the
 * kernel's range-limited fsync is not reachable from user space. */
static int vfs_commit(struct fsal_export *exp, const struct fsal_key *key, uint64_t off,
		      uint64_t len)
{
	struct stat st;
	struct vfs_io io;
	int rc;

	(void)off;
	(void)len;
	rc = vfs__open_reg(exp, key, O_RDONLY, &io, &st);
	if (rc)
		return rc;
	if (fsync(io.fd) < 0)
		rc = -errno;
	vfs__io_done(&io);
	return rc;
}

/* --- creating entries ------------------------------------------------------------ */

struct vfs_mk {
	mode_t fmt; /* S_IFREG, S_IFDIR, S_IFLNK, or a special file's */
	uint32_t mode;
	dev_t rdev;
	const char *target; /* S_IFLNK */
	bool reuse;	    /* S_IFREG: an existing regular file is fine (UNCHECKED) */
};

static int vfs__mk_node(int dfd, const char *name, const struct vfs_mk *mk)
{
	int rc;
	struct stat st;

	if (mk->fmt == S_IFDIR)
		rc = mkdirat(dfd, name, mk->mode & 07777);
	else if (mk->fmt == S_IFLNK)
		rc = symlinkat(mk->target, dfd, name);
	else /* S_IFREG too: mknodat creates without opening, and never follows a link */
		rc = mknodat(dfd, name, mk->fmt | (mk->mode & 07777), mk->rdev);
	if (rc == 0)
		return 0;
	rc = -errno;
	if (rc == -EEXIST && mk->reuse && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode))
		rc = 0;
	return rc;
}

/* Every creating op: in dir as cred, make dir/name, return its key. */
static int vfs__make(struct fsal_export *exp, const struct fsal_cred *cred,
		     const struct fsal_key *dir, const char *name, const struct vfs_mk *mk,
		     struct fsal_key *out)
{
	int dfd;
	int rc = fsal__check_name(name, false);

	if (rc)
		return rc;
	rc = vfs__open_as(exp, cred, dir, &dfd);
	if (rc)
		return rc;
	rc = vfs_cred_no_umask();
	if (!rc)
		rc = vfs__mk_node(dfd, name, mk);
	if (!rc)
		rc = vfs__name_key(exp, dfd, name, out);
	vfs__put(dfd);
	return rc;
}

static int vfs_create(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *dir, const char *name, uint32_t mode, bool exclusive,
		      struct fsal_key *out)
{
	const struct vfs_mk mk = {.fmt = S_IFREG, .mode = mode, .reuse = !exclusive};

	return vfs__make(exp, cred, dir, name, &mk, out);
}

static int vfs_mkdir(struct fsal_export *exp, const struct fsal_cred *cred,
		     const struct fsal_key *dir, const char *name, uint32_t mode,
		     struct fsal_key *out)
{
	const struct vfs_mk mk = {.fmt = S_IFDIR, .mode = mode};

	return vfs__make(exp, cred, dir, name, &mk, out);
}

static int vfs_symlink(struct fsal_export *exp, const struct fsal_cred *cred,
		       const struct fsal_key *dir, const char *name, const char *target,
		       struct fsal_key *out)
{
	const struct vfs_mk mk = {.fmt = S_IFLNK, .target = target};
	int rc = fsal__check_target(target);

	if (rc)
		return rc;
	return vfs__make(exp, cred, dir, name, &mk, out);
}

static int vfs_mknod(struct fsal_export *exp, const struct fsal_cred *cred,
		     const struct fsal_key *dir, const char *name, enum fsal_type type,
		     uint32_t mode, uint32_t maj, uint32_t min, struct fsal_key *out)
{
	struct vfs_mk mk = {.mode = mode};

	switch (type) {
	case FSAL_BLK:
		mk.fmt = S_IFBLK;
		mk.rdev = makedev(maj, min);
		break;
	case FSAL_CHR:
		mk.fmt = S_IFCHR;
		mk.rdev = makedev(maj, min);
		break;
	case FSAL_SOCK:
		mk.fmt = S_IFSOCK;
		break;
	case FSAL_FIFO:
		mk.fmt = S_IFIFO;
		break;
	default:
		return -EINVAL;
	}
	return vfs__make(exp, cred, dir, name, &mk, out);
}

/* --- link, remove, rename -------------------------------------------------------- */

/* linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH, which the caller lacks; the
 * fd's /proc link with AT_SYMLINK_FOLLOW is the unprivileged equivalent (linkat(2)). */
static int vfs_link(struct fsal_export *exp, const struct fsal_cred *cred,
		    const struct fsal_key *key, const struct fsal_key *dir, const char *name)
{
	char path[VFS_PROC_FD_MAX];
	int fd, dfd;
	int rc = fsal__check_name(name, false);

	if (!rc)
		rc = vfs__open_key(exp, key, O_PATH, &fd);
	if (rc)
		return rc;
	rc = vfs__open_as(exp, cred, dir, &dfd);
	if (rc) {
		vfs__put(fd);
		return rc;
	}
	vfs__proc_path(fd, path);
	if (linkat(AT_FDCWD, path, dfd, name, AT_SYMLINK_FOLLOW) < 0)
		rc = -errno;
	vfs__put(dfd);
	vfs__put(fd);
	return rc;
}

static int vfs_remove(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *dir, const char *name, bool rmdir)
{
	int dfd;
	int rc = fsal__check_name(name, false);

	if (!rc)
		rc = vfs__open_as(exp, cred, dir, &dfd);
	if (rc)
		return rc;
	/* The victim's key first, so that its cached descriptor does not keep its
	 * blocks allocated after the name is gone. */
	int mnt;
	struct fsal_key victim;
	bool known = vfs__handle(dfd, name, 0, &victim, &mnt) == 0;
	/* Linux gives EISDIR for unlink of a directory, ENOTDIR for rmdir of a file. */
	if (unlinkat(dfd, name, rmdir ? AT_REMOVEDIR : 0) < 0)
		rc = -errno;
	vfs__put(dfd);
	if (!rc && known)
		fdcache_forget(exp->fdc, &victim);
	return rc;
}

static int vfs_rename(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *fromdir, const char *fromname,
		      const struct fsal_key *todir, const char *toname)
{
	int ffd, tfd;
	int rc = fsal__check_name(fromname, false);

	if (!rc)
		rc = fsal__check_name(toname, false);
	if (!rc)
		rc = vfs__open_key(exp, fromdir, O_PATH, &ffd);
	if (rc)
		return rc;
	tfd = ffd;
	if (!fsal_key_eq(fromdir, todir))
		rc = vfs__open_key(exp, todir, O_PATH, &tfd);
	/* A target that the rename replaces is gone afterwards (see vfs_remove). */
	int mnt;
	struct fsal_key victim;
	bool known = !rc && vfs__handle(tfd, toname, 0, &victim, &mnt) == 0;
	if (!rc)
		rc = vfs_cred_set(cred);
	if (!rc && renameat(ffd, fromname, tfd, toname) < 0)
		rc = -errno;
	if (!rc && known)
		fdcache_forget(exp->fdc, &victim);
	if (tfd != ffd && tfd >= 0)
		vfs__put(tfd);
	vfs__put(ffd);
	return rc;
}

/* --- readlink, readdir, statfs --------------------------------------------------- */

static int vfs_readlink(struct fsal_export *exp, const struct fsal_cred *cred,
			const struct fsal_key *key, char *buf, size_t size, size_t *len)
{
	ssize_t n;
	int fd;
	int rc;

	(void)cred; /* a symlink's content is readable by anyone who holds its handle */
	if (size == 0)
		return -EINVAL;
	rc = vfs__open_key(exp, key, O_PATH, &fd);
	if (rc)
		return rc;
	n = readlinkat(fd, "", buf, size);
	if (n < 0)
		rc = errno == ENOENT ? -EINVAL : -errno; /* ENOENT: fd is no symlink */
	else if ((size_t)n >= size)
		rc = -ENAMETOOLONG; /* no room for the NUL: the target may be cut */
	else
		buf[n] = '\0';
	if (!rc)
		*len = (size_t)n;
	vfs__put(fd);
	return rc;
}

/* READDIRPLUS looks each entry up (lookup_at) as readdir hands it over: start
 * loading the handle cache's slot of the entry after d while d's statx runs. */
static void vfs__prefetch_next(struct fsal_export *exp, const struct dirstream *ds,
			       const struct dirent64 *d)
{
	size_t next = ds->pos + d->d_reclen;

	if (next < ds->len)
		hcache_prefetch(exp->hc, ((const struct dirent64 *)(ds->buf + next))->d_ino);
}

/* Hands the stream's buffered entries to cb, refilling it with getdents64, until
 * cb says stop (the entry it refused stays buffered) or the directory ends. */
static int vfs__dir_scan(struct fsal_export *exp, struct dirstream *ds, fsal_readdir_cb cb,
			 void *arg, bool *eof)
{
	const struct fsal_dir dir = {.key = &ds->key, .fd = ds->fd};

	for (;;) {
		while (ds->pos < ds->len) {
			const struct dirent64 *d = (const struct dirent64 *)(ds->buf + ds->pos);
			const char *nm = d->d_name;
			uint64_t cookie = d->d_off ? (uint64_t)d->d_off : VFS_COOKIE_END;

			vfs__prefetch_next(exp, ds, d);
			if (!(nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0'))) &&
			    !cb(arg, &dir, nm, strlen(nm), d->d_ino, cookie))
				return 0;
			ds->pos += d->d_reclen;
			ds->cookie = cookie;
		}
		ssize_t n = getdents64(ds->fd, ds->buf, VFS_DIRBUF);
		if (n <= 0) {
			*eof = n == 0;
			return n < 0 ? -errno : 0;
		}
		ds->len = (size_t)n;
		ds->pos = 0;
	}
}

/* Cookies are the filesystem's d_off (ext4: a hash of the name), which a fresh fd
 * accepts through lseek: that is what makes them survive across calls and restarts.
 * The next page of a listing usually continues a kept stream (dirstream.h). */
static int vfs_readdir(struct fsal_export *exp, const struct fsal_cred *cred,
		       const struct fsal_key *dir, uint64_t cookie, fsal_readdir_cb cb, void *arg,
		       bool *eof)
{
	int fd;
	int rc;

	*eof = false;
	struct dirstream *ds = cookie ? dirstream_take(exp->dirs, dir, cookie) : NULL;
	if (ds)
		fd = ds->fd;
	else {
		rc = vfs__open_key(exp, dir, O_RDONLY | O_DIRECTORY, &fd);
		if (rc == -ELOOP)
			rc = -ENOTDIR; /* a symlink */
		if (rc)
			return rc;
	}
	rc = 0;
	if (cred->uid != 0) {
		rc = vfs_cred_set(cred);
		if (!rc && faccessat(fd, "", R_OK, AT_EMPTY_PATH | AT_EACCESS) < 0)
			rc = -errno;
	}
	if (!rc && cookie == VFS_COOKIE_END)
		*eof = true;
	else if (!rc && !ds && cookie && lseek(fd, (off_t)cookie, SEEK_SET) < 0)
		rc = -errno; /* EINVAL: a cookie this directory never gave */
	else if (!rc && !ds) {
		ds = dirstream_new(dir, cookie, fd, VFS_DIRBUF);
		rc = ds ? 0 : -ENOMEM;
	}
	if (!rc && ds)
		rc = vfs__dir_scan(exp, ds, cb, arg, eof);
	if (!ds)
		close(fd);
	else if (rc || *eof)
		dirstream_close(ds);
	else
		dirstream_keep(exp->dirs, ds);
	return rc;
}

static int vfs_statfs(struct fsal_export *exp, const struct fsal_key *key, struct fsal_statfs *out)
{
	struct statfs s;
	int fd;
	int rc = vfs__open_key(exp, key, O_PATH, &fd);

	if (rc)
		return rc;
	if (fstatfs(fd, &s) < 0) {
		rc = -errno;
	} else {
		out->tbytes = (uint64_t)s.f_blocks * (uint64_t)s.f_frsize;
		out->fbytes = (uint64_t)s.f_bfree * (uint64_t)s.f_frsize;
		out->abytes = (uint64_t)s.f_bavail * (uint64_t)s.f_frsize;
		out->tfiles = s.f_files;
		out->ffiles = s.f_ffree;
		out->afiles = s.f_ffree; /* Linux has no per-user inode reserve */
	}
	vfs__put(fd);
	return rc;
}

/* --- NFSv4.2 space and sparse files (RFC 7862 §15.1, §15.4, §15.11) -------------- */

static int vfs_allocate(struct fsal_export *exp, const struct fsal_cred *cred,
			const struct fsal_key *key, uint64_t off, uint64_t len, bool punch)
{
	struct vfs_io io;
	int rc;

	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EFBIG;
	rc = vfs__open_write(exp, cred, key, &io);
	if (rc)
		return rc;
	int mode = punch ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : 0;
	if (fallocate(io.fd, mode, (off_t)off, (off_t)len) < 0)
		rc = -errno;
	vfs__io_done(&io);
	return rc;
}

static int vfs_seek(struct fsal_export *exp, const struct fsal_cred *cred,
		    const struct fsal_key *key, uint64_t off, bool data, uint64_t *where, bool *eof)
{
	struct stat st;
	struct vfs_io io;
	int rc;

	if (off > INT64_MAX)
		return -ENXIO;
	rc = vfs__open_reg(exp, key, O_RDONLY, &io, &st);
	if (rc)
		return rc;
	rc = vfs__may_io(io.fd, cred, &st, R_OK);
	if (!rc) {
		off_t r = lseek(io.fd, (off_t)off, data ? SEEK_DATA : SEEK_HOLE);
		if (r < 0) {
			rc = -errno;
		} else {
			*where = (uint64_t)r;
			*eof = r >= st.st_size;
		}
	}
	vfs__io_done(&io);
	return rc;
}

/* --- for xattr.c (vfs_int.h) ------------------------------------------------------ */

int vfs__obj_open(struct fsal_export *exp, const struct fsal_cred *cred, const struct fsal_key *key,
		  int *fd)
{
	return vfs__open_as(exp, cred, key, fd);
}

void vfs__obj_put(int fd)
{
	vfs__put(fd);
}

const struct fsal_ops fsal_vfs_ops = {
    .name = "vfs",
    .export_open = vfs_export_open,
    .export_close = vfs_export_close,
    .drop_caches = vfs_drop_caches,
    .read_splice = vfs_read_splice,
    .root = vfs_root,
    .getattr = vfs_getattr,
    .setattr = vfs_setattr,
    .lookup = vfs_lookup,
    .lookup_at = vfs_lookup_at,
    .access = vfs_access,
    .read = vfs_read,
    .write = vfs_write,
    .commit = vfs_commit,
    .create = vfs_create,
    .mkdir = vfs_mkdir,
    .symlink = vfs_symlink,
    .mknod = vfs_mknod,
    .link = vfs_link,
    .remove = vfs_remove,
    .rename = vfs_rename,
    .readlink = vfs_readlink,
    .readdir = vfs_readdir,
    .statfs = vfs_statfs,
    .allocate = vfs_allocate,
    .seek = vfs_seek,
    .getxattr = vfs_getxattr,
    .setxattr = vfs_setxattr,
    .listxattr = vfs_listxattr,
    .removexattr = vfs_removexattr,
};
