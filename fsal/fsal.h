/*
 * fsal.h — the File System Abstraction Layer: a small object-handle API.
 *
 * What it is for: the protocol code (NFSv3, MOUNT, later NFSv4) names objects by
 * an opaque, stable *key* and never by path. A backend turns keys into objects:
 *   - vfs: a directory tree on a local or shared filesystem, keyed by the kernel's
 *     own file handle (name_to_handle_at / open_by_handle_at). Keys are the same
 *     after a restart and on a partner node that mounts the same filesystem,
 *     because they hold nothing node-local (no fd, no pointer, no mount id).
 *   - mem: an in-memory tree for tests, keyed by an inode number.
 *
 * Invariants every backend keeps:
 *   - Every function returns 0 or a negative errno. No NFS status codes here: the
 *     protocol layer maps errno to nfsstat3/nfsstat4 in one place (server/nfs/errmap).
 *   - A key that does not name a live object gives -ESTALE (not -ENOENT).
 *   - LOOKUP of "." returns the directory itself; LOOKUP of ".." at the export root
 *     returns the root; nothing reaches an object outside the export. Symlinks are
 *     never followed by any operation (a symlink is an object like another).
 *   - Names are single components: a name containing '/' or a NUL, or empty, gives
 *     -EINVAL; longer than FSAL_NAME_MAX gives -ENAMETOOLONG.
 *   - Permission checks are done as the credential given (uid, gid, groups): vfs by
 *     switching the calling thread's fsuid/fsgid/groups, mem by checking mode bits.
 *     Squashing is the caller's job: the cred is already the effective one.
 *   - Functions are safe to call from many threads at once.
 *
 * Left out for now: ACLs, locks, quota, crossing into filesystems mounted
 * below an export (vfs: a LOOKUP of a mount point gives -EXDEV, because the covered
 * directory has no handle reachable from user space).
 */
#ifndef TWINFS_FSAL_FSAL_H
#define TWINFS_FSAL_FSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The longest key a backend may produce. An NFSv3 handle is at most 64 bytes, and
 * the protocol layer adds its own header and MAC around the key (server/export). */
#define FSAL_KEY_MAX	40
#define FSAL_NAME_MAX	255
#define FSAL_PATH_MAX	4096
#define FSAL_MAX_GROUPS 16
/* Extended attributes: the longest name the protocol layer passes on (a backend may
 * take fewer: -ENAMETOOLONG) and the largest value a backend holds (Linux's
 * XATTR_SIZE_MAX), which bounds what a caller must offer to read any value. */
#define FSAL_XATTR_NAME_MAX 255
#define FSAL_XATTR_SIZE_MAX 65536

struct fsal_key {
	uint32_t len;
	unsigned char data[FSAL_KEY_MAX];
};

/* Same numbering as NFSv3's ftype3, so the protocol layer can pass it through. */
enum fsal_type {
	FSAL_REG = 1,
	FSAL_DIR = 2,
	FSAL_BLK = 3,
	FSAL_CHR = 4,
	FSAL_LNK = 5,
	FSAL_SOCK = 6,
	FSAL_FIFO = 7,
};

struct fsal_attr {
	enum fsal_type type;
	uint32_t mode; /* permission bits only: 07777 */
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	uint64_t used; /* bytes allocated on disk */
	uint32_t rdev_major;
	uint32_t rdev_minor;
	uint64_t fsid;
	uint64_t fileid; /* inode number, unique within the export */
	struct timespec atime;
	struct timespec mtime;
	struct timespec ctime;
};

struct fsal_cred {
	uint32_t uid;
	uint32_t gid;
	uint32_t ngroups; /* <= FSAL_MAX_GROUPS */
	uint32_t groups[FSAL_MAX_GROUPS];
};

/* setattr mask bits */
enum {
	FSAL_SET_MODE = 1u << 0,
	FSAL_SET_UID = 1u << 1,
	FSAL_SET_GID = 1u << 2,
	FSAL_SET_SIZE = 1u << 3,
	FSAL_SET_ATIME = 1u << 4,     /* to sa->atime */
	FSAL_SET_ATIME_NOW = 1u << 5, /* to the server's current time */
	FSAL_SET_MTIME = 1u << 6,
	FSAL_SET_MTIME_NOW = 1u << 7,
};

struct fsal_setattr {
	uint32_t mask;
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	struct timespec atime;
	struct timespec mtime;
};

struct fsal_statfs {
	uint64_t tbytes; /* total */
	uint64_t fbytes; /* free */
	uint64_t abytes; /* available to the caller */
	uint64_t tfiles;
	uint64_t ffiles;
	uint64_t afiles;
};

enum fsal_stable {
	FSAL_UNSTABLE = 0,
	FSAL_DATA_SYNC = 1,
	FSAL_FILE_SYNC = 2,
};

/*
 * The directory a readdir call is listing, as that call holds it (vfs: its open
 * descriptor), lent to the callback with every entry and valid until the callback
 * returns. The callback passes it to lookup_at to look an entry up without opening
 * the directory again. Opaque: each backend defines it.
 */
struct fsal_dir;

/*
 * readdir callback: one entry of dir. `cookie` is the position *after* this entry:
 * passing it back to readdir resumes with the next entry. Cookies are stable across
 * calls and restarts (vfs: the filesystem's d_off; mem: a per-directory sequence),
 * never 0, and "." and ".." are not reported. Return true to continue, false to stop
 * (the entry that returned false is considered *not* consumed).
 */
typedef bool (*fsal_readdir_cb)(void *arg, const struct fsal_dir *dir, const char *name,
				size_t namelen, uint64_t fileid, uint64_t cookie);

/* setxattr: what an existing or a missing name means (RFC 8276 setxattr_option4). */
enum fsal_xattr_how {
	FSAL_XATTR_EITHER = 0,	/* create or replace */
	FSAL_XATTR_CREATE = 1,	/* -EEXIST when the name exists */
	FSAL_XATTR_REPLACE = 2, /* -ENODATA when it does not */
};

/* listxattr callback: one name, namelen bytes (not NUL-terminated, valid during the
 * call only). Return true for the next name, false to stop. */
typedef bool (*fsal_xattr_cb)(void *arg, const char *name, size_t namelen);

struct fsal_export; /* opaque, one per exported tree */

struct fsal_ops {
	const char *name;

	/* Open the tree at `path` (vfs: a directory; mem: any name). `options` is a
	 * backend-specific comma-separated string or NULL (mem: "delay_ms=N" makes
	 * every write/create/remove sleep N ms, for tests of in-flight requests). */
	int (*export_open)(const char *path, const char *options, struct fsal_export **out);
	void (*export_close)(struct fsal_export *exp);
	/* Optional: forget every object kept between calls (open descriptors, handles,
	 * listings in progress). The server calls it when it stops and when it starts
	 * serving: meanwhile the partner changes the tree, and a descriptor kept of a
	 * file it removed would take writes into a file nobody can reach (they must be
	 * ESTALE) and keep its blocks allocated. Safe while calls run: what a call
	 * holds is closed when it gives it back. */
	void (*drop_caches)(struct fsal_export *exp);

	int (*root)(struct fsal_export *exp, struct fsal_key *out);
	int (*getattr)(struct fsal_export *exp, const struct fsal_key *key, struct fsal_attr *out);
	int (*setattr)(struct fsal_export *exp, const struct fsal_cred *cred,
		       const struct fsal_key *key, const struct fsal_setattr *sa);
	int (*lookup)(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *dir, const char *name, struct fsal_key *out);
	/* lookup in the directory a readdir callback was lent (see struct fsal_dir), from
	 * that callback, as cred; with attr not NULL also the found object's attributes,
	 * in the same step (READDIRPLUS: nothing is opened per entry). */
	int (*lookup_at)(struct fsal_export *exp, const struct fsal_cred *cred,
			 const struct fsal_dir *dir, const char *name, struct fsal_key *out,
			 struct fsal_attr *attr);
	/* Checks the permission bits that `want` (R_OK|W_OK|X_OK) asks for, as cred. */
	int (*access)(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *key, int want);

	int (*read)(struct fsal_export *exp, const struct fsal_cred *cred,
		    const struct fsal_key *key, uint64_t off, void *buf, size_t len, size_t *nread,
		    bool *eof);
	/* Optional: read as `read` does, into the pipe pipe_wr (non-blocking, with
	 * room for len bytes) instead of a buffer, without copying the data (vfs:
	 * splice from the page cache). -EOPNOTSUPP when this object cannot: then the
	 * caller reads it with `read`. */
	int (*read_splice)(struct fsal_export *exp, const struct fsal_cred *cred,
			   const struct fsal_key *key, uint64_t off, size_t len, int pipe_wr,
			   size_t *nread, bool *eof);
	int (*write)(struct fsal_export *exp, const struct fsal_cred *cred,
		     const struct fsal_key *key, uint64_t off, const void *buf, size_t len,
		     enum fsal_stable how, size_t *written);
	int (*commit)(struct fsal_export *exp, const struct fsal_key *key, uint64_t off,
		      uint64_t len);

	/* exclusive: fail with -EEXIST if the name exists (O_EXCL); else open it. */
	int (*create)(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *dir, const char *name, uint32_t mode, bool exclusive,
		      struct fsal_key *out);
	int (*mkdir)(struct fsal_export *exp, const struct fsal_cred *cred,
		     const struct fsal_key *dir, const char *name, uint32_t mode,
		     struct fsal_key *out);
	int (*symlink)(struct fsal_export *exp, const struct fsal_cred *cred,
		       const struct fsal_key *dir, const char *name, const char *target,
		       struct fsal_key *out);
	/* type is FSAL_BLK, FSAL_CHR, FSAL_SOCK or FSAL_FIFO (else -EINVAL). */
	int (*mknod)(struct fsal_export *exp, const struct fsal_cred *cred,
		     const struct fsal_key *dir, const char *name, enum fsal_type type,
		     uint32_t mode, uint32_t major, uint32_t minor, struct fsal_key *out);
	int (*link)(struct fsal_export *exp, const struct fsal_cred *cred,
		    const struct fsal_key *key, const struct fsal_key *dir, const char *name);
	/* rmdir false: unlink a non-directory (a directory gives -EISDIR);
	 * rmdir true: remove an empty directory (a non-directory gives -ENOTDIR). */
	int (*remove)(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *dir, const char *name, bool rmdir);
	int (*rename)(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *fromdir, const char *fromname,
		      const struct fsal_key *todir, const char *toname);
	/* Writes at most size-1 bytes and a NUL; *len excludes the NUL. */
	int (*readlink)(struct fsal_export *exp, const struct fsal_cred *cred,
			const struct fsal_key *key, char *buf, size_t size, size_t *len);
	/* Entries after `cookie` (0 = from the start). *eof is true when the callback
	 * was never told to stop and no entries remain. -ENOTDIR on a non-directory. */
	int (*readdir)(struct fsal_export *exp, const struct fsal_cred *cred,
		       const struct fsal_key *dir, uint64_t cookie, fsal_readdir_cb cb, void *arg,
		       bool *eof);
	int (*statfs)(struct fsal_export *exp, const struct fsal_key *key, struct fsal_statfs *out);

	/* Optional (NULL: the protocol answers NOTSUPP), for NFSv4.2 (RFC 7862). */
	/* Reserves [off, off+len) (punch false) or makes it a hole (punch true). */
	int (*allocate)(struct fsal_export *exp, const struct fsal_cred *cred,
			const struct fsal_key *key, uint64_t off, uint64_t len, bool punch);
	/* The next data (data true) or hole at or after off: *where, and whether it
	 * is at the end of the file; -ENXIO when there is none. */
	int (*seek)(struct fsal_export *exp, const struct fsal_cred *cred,
		    const struct fsal_key *key, uint64_t off, bool data, uint64_t *where,
		    bool *eof);

	/* Optional, all four or none (NULL: NOTSUPP), for NFSv4.2 extended attributes
	 * (RFC 8276). Names are the protocol's, without a namespace: the backend
	 * decides where they live (vfs: "foo" is "user.foo"). An empty name is
	 * -EINVAL, one too long for the backend -ENAMETOOLONG, a missing xattr (also
	 * on an object that cannot have any, such as a symlink) -ENODATA. get and list
	 * need read permission, set and remove write permission, as cred. */
	/* The value into buf, *len bytes; -ERANGE when it is longer than size. */
	int (*getxattr)(struct fsal_export *exp, const struct fsal_cred *cred,
			const struct fsal_key *key, const char *name, void *buf, size_t size,
			size_t *len);
	/* -E2BIG: a value larger than the backend holds; -EPERM: an object that
	 * cannot have xattrs. */
	int (*setxattr)(struct fsal_export *exp, const struct fsal_cred *cred,
			const struct fsal_key *key, const char *name, const void *value, size_t len,
			enum fsal_xattr_how how);
	/* Every name, to cb, in an order that stays the same while no name comes or
	 * goes (the protocol pages by position); -E2BIG when the names are too many
	 * to read at once. */
	int (*listxattr)(struct fsal_export *exp, const struct fsal_cred *cred,
			 const struct fsal_key *key, fsal_xattr_cb cb, void *arg);
	int (*removexattr)(struct fsal_export *exp, const struct fsal_cred *cred,
			   const struct fsal_key *key, const char *name);
};

extern const struct fsal_ops fsal_vfs_ops;
extern const struct fsal_ops fsal_mem_ops;

/* Backend by name ("vfs", "mem"), or NULL. */
const struct fsal_ops *fsal_find(const char *name);

static inline bool fsal_key_eq(const struct fsal_key *a, const struct fsal_key *b)
{
	if (a->len != b->len)
		return false;
	for (uint32_t i = 0; i < a->len; i++)
		if (a->data[i] != b->data[i])
			return false;
	return true;
}

#endif
