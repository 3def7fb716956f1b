/*
 * test_fsal.c — the FSAL contract (fsal/fsal.h), one behavioural suite run against both
 * backends, plus what only one backend can show (vfs: keys that survive a restart,
 * 100,000-entry readdir, mount points, extended attributes; mem: options and delays).
 *
 * Each test works in a fresh directory of the export (fresh()), so tests do not see
 * each other's files. The vfs export is a mkdtemp directory under $TMPDIR (default
 * /tmp), removed at the end. Tests run as root, as the vfs backend requires.
 *
 * The fixtures are file-scope statics: CUnit test functions take no argument, so the
 * suite's export has nowhere else to live.
 */
#include "fsal/fsal.h"

#include <CUnit/CUnit.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

int twinfs_register_tests(void);

struct fx {
	const struct fsal_ops *ops;
	struct fsal_export *exp;
	struct fsal_key root;
	char path[256]; /* vfs: the exported directory */
	unsigned n;	/* fresh directories made so far */
};

static struct fx fx_vfs;
static struct fx fx_mem;

static const struct fsal_cred ROOT = {0};
static const struct fsal_cred USER = {.uid = 1000, .gid = 1000};

/* --- helpers --------------------------------------------------------------------- */

/* A new empty directory, mode 0777, owned by root; its name in name (if not NULL). */
static void fresh(struct fx *f, struct fsal_key *dir, char *name)
{
	char buf[32];
	const struct fsal_setattr sa = {.mask = FSAL_SET_MODE, .mode = 0777};

	snprintf(buf, sizeof(buf), "t%u", ++f->n);
	CU_ASSERT_EQUAL_FATAL(f->ops->mkdir(f->exp, &ROOT, &f->root, buf, 0777, dir), 0);
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &ROOT, dir, &sa), 0);
	if (name)
		strcpy(name, buf);
}

static void mkfile(struct fx *f, const struct fsal_key *dir, const char *name, uint32_t mode,
		   struct fsal_key *out)
{
	CU_ASSERT_EQUAL_FATAL(f->ops->create(f->exp, &ROOT, dir, name, mode, false, out), 0);
}

static void mkdir_(struct fx *f, const struct fsal_key *dir, const char *name, uint32_t mode,
		   struct fsal_key *out)
{
	CU_ASSERT_EQUAL_FATAL(f->ops->mkdir(f->exp, &ROOT, dir, name, mode, out), 0);
}

static struct fsal_attr attr(struct fx *f, const struct fsal_key *key)
{
	struct fsal_attr a;

	memset(&a, 0, sizeof(a));
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, key, &a), 0);
	return a;
}

static void put(struct fx *f, const struct fsal_key *key, uint64_t off, const char *s)
{
	size_t n = 0;

	CU_ASSERT_EQUAL(f->ops->write(f->exp, &ROOT, key, off, s, strlen(s), FSAL_UNSTABLE, &n), 0);
	CU_ASSERT_EQUAL(n, strlen(s));
}

/* Reads len bytes at off and compares them with want. */
static void expect(struct fx *f, const struct fsal_key *key, uint64_t off, const char *want)
{
	char buf[256] = {0};
	size_t len = strlen(want), n = 0;
	bool eof;

	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, key, off, buf, len, &n, &eof), 0);
	CU_ASSERT_EQUAL(n, len);
	CU_ASSERT_EQUAL(memcmp(buf, want, len), 0);
}

static int setmode(struct fx *f, const struct fsal_cred *c, const struct fsal_key *k, uint32_t m)
{
	const struct fsal_setattr sa = {.mask = FSAL_SET_MODE, .mode = m};

	return f->ops->setattr(f->exp, c, k, &sa);
}

static int lookup(struct fx *f, const struct fsal_key *dir, const char *name, struct fsal_key *out)
{
	return f->ops->lookup(f->exp, &ROOT, dir, name, out);
}

static int set_old_mtime(struct fx *f, const struct fsal_key *k)
{
	const struct fsal_setattr sa = {
	    .mask = FSAL_SET_MTIME | FSAL_SET_ATIME, .atime = {1000, 0}, .mtime = {1000, 0}};

	return f->ops->setattr(f->exp, &ROOT, k, &sa);
}

/* --- readdir collector ----------------------------------------------------------- */

/* Accepts `limit` entries per call; counts names "f<index>" in seen[]. */
struct rd {
	unsigned limit;
	unsigned got;
	uint64_t last;
	unsigned *seen;
	unsigned nseen;
	unsigned bad; /* zero cookie, wrong length, unknown name */
};

static bool rd_cb(void *arg, const struct fsal_dir *dir, const char *name, size_t len,
		  uint64_t fileid, uint64_t cookie)
{
	struct rd *r = arg;
	char *end;
	unsigned long i;

	(void)dir;
	(void)fileid;
	if (r->got == r->limit)
		return false;
	i = name[0] == 'f' ? strtoul(name + 1, &end, 10) : ULONG_MAX;
	if (cookie == 0 || len != strlen(name) || i >= r->nseen)
		r->bad++;
	else
		r->seen[i]++;
	r->last = cookie;
	r->got++;
	return true;
}

/* lookup_at of `name` as READDIRPLUS makes it: from readdir's callback, in the
 * directory that callback was lent, on dir's first entry (-ENODATA: dir is empty).
 * The listing goes on to its end, so no stream of it is kept open. */
struct at {
	struct fx *f;
	const struct fsal_cred *cred;
	const char *name;
	struct fsal_key *key;
	struct fsal_attr *attr;
	int rc;
	bool done;
};

static bool at_cb(void *arg, const struct fsal_dir *dir, const char *name, size_t len,
		  uint64_t fileid, uint64_t cookie)
{
	struct at *a = arg;

	(void)name;
	(void)len;
	(void)fileid;
	(void)cookie;
	if (!a->done)
		a->rc = a->f->ops->lookup_at(a->f->exp, a->cred, dir, a->name, a->key, a->attr);
	a->done = true;
	return true;
}

static int lookup_at(struct fx *f, const struct fsal_cred *cred, const struct fsal_key *dir,
		     const char *name, struct fsal_key *key, struct fsal_attr *attr)
{
	struct at a = {
	    .f = f, .cred = cred, .name = name, .key = key, .attr = attr, .rc = -ENODATA};
	bool eof;
	int rc = f->ops->readdir(f->exp, cred, dir, 0, at_cb, &a, &eof);

	return rc ? rc : a.rc;
}

static void mkfiles(struct fx *f, const struct fsal_key *dir, unsigned n)
{
	char name[32];
	struct fsal_key k;

	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		if (f->ops->create(f->exp, &ROOT, dir, name, 0644, true, &k) != 0) {
			CU_FAIL("create");
			return;
		}
	}
}

/* Pages through dir `per` entries a call, each call resuming from the last cookie;
 * every one of the n names must come exactly once. */
static void readdir_paged(struct fx *f, const struct fsal_key *dir, unsigned n, unsigned per)
{
	struct rd r = {.nseen = n, .seen = calloc(n, sizeof(unsigned))};
	uint64_t cookie = 0;
	bool eof = false;
	unsigned calls = 0, once = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r.seen);
	while (!eof && calls++ < n / per + 3) {
		r.got = 0;
		r.limit = per;
		CU_ASSERT_EQUAL_FATAL(f->ops->readdir(f->exp, &ROOT, dir, cookie, rd_cb, &r, &eof),
				      0);
		CU_ASSERT(eof || r.got == per);
		if (r.got)
			cookie = r.last;
	}
	CU_ASSERT(eof);
	for (unsigned i = 0; i < n; i++)
		once += r.seen[i] == 1;
	CU_ASSERT_EQUAL(once, n);
	CU_ASSERT_EQUAL(r.bad, 0);
	free(r.seen);
}

/* --- the shared suite ------------------------------------------------------------ */

static void t_root_dots(struct fx *f)
{
	struct fsal_key k, d, sub;
	struct fsal_attr a = attr(f, &f->root), b;

	CU_ASSERT_EQUAL(a.type, FSAL_DIR);
	CU_ASSERT_EQUAL(lookup(f, &f->root, "..", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &f->root));
	CU_ASSERT_EQUAL(f->ops->lookup(f->exp, &USER, &f->root, "..", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &f->root));
	CU_ASSERT_EQUAL(lookup(f, &f->root, ".", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &f->root));
	fresh(f, &d, NULL);
	mkdir_(f, &d, "sub", 0755, &sub);
	CU_ASSERT_EQUAL(lookup(f, &d, ".", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &d));
	CU_ASSERT_EQUAL(lookup(f, &sub, "..", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &d));
	CU_ASSERT_EQUAL(lookup(f, &k, "..", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &f->root));
	CU_ASSERT_EQUAL(lookup(f, &k, "..", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &f->root));
	b = attr(f, &sub);
	CU_ASSERT_EQUAL(a.fsid, b.fsid);
	CU_ASSERT_NOT_EQUAL(a.fileid, b.fileid);
}

static void t_lookup_errors(struct fx *f)
{
	struct fsal_key d, k, file;

	fresh(f, &d, NULL);
	CU_ASSERT_EQUAL(lookup(f, &d, "missing", &k), -ENOENT);
	mkfile(f, &d, "file", 0644, &file);
	CU_ASSERT_EQUAL(lookup(f, &d, "file", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &file));
	CU_ASSERT_EQUAL(lookup(f, &file, "x", &k), -ENOTDIR);
	CU_ASSERT_EQUAL(lookup(f, &file, ".", &k), -ENOTDIR);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &ROOT, &file, "x", 0644, false, &k), -ENOTDIR);
	CU_ASSERT_EQUAL(f->ops->mkdir(f->exp, &ROOT, &file, "x", 0755, &k), -ENOTDIR);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "missing", false), -ENOENT);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "missing", true), -ENOENT);
}

/* lookup_at, from readdir's callback: lookup's key, getattr's attributes, "." and "..",
 * names checked, and the caller's search permission on the directory. */
static void t_lookup_at(struct fx *f)
{
	struct fsal_key d, file, sub, k;
	struct fsal_attr a;

	fresh(f, &d, NULL);
	mkfile(f, &d, "file", 0640, &file);
	mkdir_(f, &d, "sub", 0755, &sub);
	put(f, &file, 0, "abc");
	CU_ASSERT_EQUAL(lookup_at(f, &ROOT, &d, "file", &k, &a), 0);
	CU_ASSERT(fsal_key_eq(&k, &file));
	CU_ASSERT_EQUAL(a.fileid, attr(f, &file).fileid);
	CU_ASSERT_EQUAL(a.type, FSAL_REG);
	CU_ASSERT_EQUAL(a.mode, 0640);
	CU_ASSERT_EQUAL(a.size, 3);
	CU_ASSERT_EQUAL(lookup_at(f, &ROOT, &d, "sub", &k, NULL), 0);
	CU_ASSERT(fsal_key_eq(&k, &sub));
	CU_ASSERT_EQUAL(lookup_at(f, &ROOT, &d, ".", &k, &a), 0);
	CU_ASSERT(fsal_key_eq(&k, &d));
	CU_ASSERT_EQUAL(a.type, FSAL_DIR);
	CU_ASSERT_EQUAL(lookup_at(f, &ROOT, &f->root, "..", &k, NULL), 0);
	CU_ASSERT(fsal_key_eq(&k, &f->root));
	CU_ASSERT_EQUAL(lookup_at(f, &ROOT, &d, "missing", &k, &a), -ENOENT);
	CU_ASSERT_EQUAL(lookup_at(f, &ROOT, &d, "a/b", &k, &a), -EINVAL);
	/* readable but not searchable by USER (other r--) */
	CU_ASSERT_EQUAL(setmode(f, &ROOT, &d, 0774), 0);
	CU_ASSERT_EQUAL(lookup_at(f, &USER, &d, "file", &k, &a), -EACCES);
	CU_ASSERT_EQUAL(setmode(f, &ROOT, &d, 0777), 0);
	CU_ASSERT_EQUAL(lookup_at(f, &USER, &d, "file", &k, &a), 0);
	CU_ASSERT(fsal_key_eq(&k, &file));
}

static void t_names(struct fx *f)
{
	struct fsal_key d, k;
	char longname[FSAL_NAME_MAX + 2];

	fresh(f, &d, NULL);
	CU_ASSERT_EQUAL(lookup(f, &d, "", &k), -EINVAL);
	CU_ASSERT_EQUAL(lookup(f, &d, "a/b", &k), -EINVAL);
	CU_ASSERT_EQUAL(lookup(f, &d, "/", &k), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &ROOT, &d, "a/b", 0644, false, &k), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &ROOT, &d, ".", 0644, false, &k), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->mkdir(f->exp, &ROOT, &d, "..", 0755, &k), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, ".", true), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "..", true), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->symlink(f->exp, &ROOT, &d, "l", "", &k), -ENOENT);
	memset(longname, 'a', sizeof(longname));
	longname[FSAL_NAME_MAX + 1] = '\0';
	CU_ASSERT_EQUAL(lookup(f, &d, longname, &k), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &ROOT, &d, longname, 0644, false, &k),
			-ENAMETOOLONG);
	CU_ASSERT_EQUAL(f->ops->mkdir(f->exp, &ROOT, &d, longname, 0755, &k), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "x", &d, longname), -ENAMETOOLONG);
	longname[FSAL_NAME_MAX] = '\0'; /* 255: the longest allowed */
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &ROOT, &d, longname, 0644, false, &k), 0);
	CU_ASSERT_EQUAL(lookup(f, &d, longname, &k), 0);
}

static void t_create(struct fx *f)
{
	struct fsal_key d, k1, k2, sub;
	struct fsal_attr a;

	fresh(f, &d, NULL);
	CU_ASSERT_EQUAL(set_old_mtime(f, &d), 0);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &ROOT, &d, "f", 0666, false, &k1), 0);
	a = attr(f, &k1);
	CU_ASSERT_EQUAL(a.type, FSAL_REG);
	CU_ASSERT_EQUAL(a.mode, 0666); /* exactly: no server umask */
	CU_ASSERT_EQUAL(a.uid, 0);
	CU_ASSERT_EQUAL(a.size, 0);
	CU_ASSERT_EQUAL(a.nlink, 1);
	CU_ASSERT(attr(f, &d).mtime.tv_sec > 1000);
	CU_ASSERT(attr(f, &d).ctime.tv_sec > 1000);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &ROOT, &d, "f", 0600, false, &k2), 0);
	CU_ASSERT(fsal_key_eq(&k1, &k2));
	CU_ASSERT_EQUAL(attr(f, &k1).mode, 0666); /* an existing file keeps its mode */
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &ROOT, &d, "f", 0644, true, &k2), -EEXIST);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &ROOT, &d, "g", 0640, true, &k2), 0);
	CU_ASSERT_EQUAL(attr(f, &k2).mode, 0640);
	CU_ASSERT_FALSE(fsal_key_eq(&k1, &k2));
	mkdir_(f, &d, "sub", 0755, &sub);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &ROOT, &d, "sub", 0644, false, &k2), -EEXIST);
	CU_ASSERT_EQUAL(attr(f, &k1).fileid, attr(f, &k1).fileid);
	CU_ASSERT_NOT_EQUAL(attr(f, &k1).fileid, attr(f, &sub).fileid);
}

static void t_mkdir_mknod(struct fx *f)
{
	struct fsal_key d, k, p, c;
	struct fsal_attr a;
	char buf[4];
	size_t n;
	bool eof;
	uint32_t nl;

	fresh(f, &d, NULL);
	nl = attr(f, &d).nlink;
	CU_ASSERT_EQUAL(f->ops->mkdir(f->exp, &ROOT, &d, "dir", 0750, &k), 0);
	a = attr(f, &k);
	CU_ASSERT_EQUAL(a.type, FSAL_DIR);
	CU_ASSERT_EQUAL(a.mode, 0750);
	CU_ASSERT_EQUAL(a.nlink, 2);
	CU_ASSERT_EQUAL(attr(f, &d).nlink, nl + 1);
	CU_ASSERT_EQUAL(f->ops->mkdir(f->exp, &ROOT, &d, "dir", 0750, &k), -EEXIST);
	CU_ASSERT_EQUAL(f->ops->mknod(f->exp, &ROOT, &d, "p", FSAL_FIFO, 0600, 0, 0, &p), 0);
	CU_ASSERT_EQUAL(attr(f, &p).type, FSAL_FIFO);
	CU_ASSERT_EQUAL(attr(f, &p).mode, 0600);
	CU_ASSERT_EQUAL(f->ops->mknod(f->exp, &ROOT, &d, "c", FSAL_CHR, 0600, 1, 3, &c), 0);
	a = attr(f, &c);
	CU_ASSERT_EQUAL(a.type, FSAL_CHR);
	CU_ASSERT_EQUAL(a.rdev_major, 1);
	CU_ASSERT_EQUAL(a.rdev_minor, 3);
	CU_ASSERT_EQUAL(f->ops->mknod(f->exp, &ROOT, &d, "b", FSAL_BLK, 0600, 7, 1, &k), 0);
	CU_ASSERT_EQUAL(attr(f, &k).type, FSAL_BLK);
	CU_ASSERT_EQUAL(f->ops->mknod(f->exp, &ROOT, &d, "s", FSAL_SOCK, 0600, 0, 0, &k), 0);
	CU_ASSERT_EQUAL(attr(f, &k).type, FSAL_SOCK);
	CU_ASSERT_EQUAL(f->ops->mknod(f->exp, &ROOT, &d, "r", FSAL_REG, 0600, 0, 0, &k), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->mknod(f->exp, &ROOT, &d, "r", FSAL_DIR, 0600, 0, 0, &k), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->mknod(f->exp, &ROOT, &d, "r", FSAL_LNK, 0600, 0, 0, &k), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->mknod(f->exp, &USER, &d, "u", FSAL_CHR, 0600, 1, 3, &k), -EPERM);
	/* Never opened: reading a device or a FIFO would act on the server. */
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &c, 0, buf, sizeof(buf), &n, &eof), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &p, 0, buf, sizeof(buf), &n, &eof), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->write(f->exp, &ROOT, &p, 0, "x", 1, FSAL_UNSTABLE, &n), -EINVAL);
}

static void t_remove(struct fx *f)
{
	struct fsal_key d, file, sub, k;
	uint32_t nl;

	fresh(f, &d, NULL);
	mkfile(f, &d, "file", 0644, &file);
	mkdir_(f, &d, "sub", 0755, &sub);
	mkfile(f, &sub, "inner", 0644, &k);
	nl = attr(f, &d).nlink;
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "sub", false), -EISDIR);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "file", true), -ENOTDIR);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "sub", true), -ENOTEMPTY);
	CU_ASSERT_EQUAL(set_old_mtime(f, &d), 0);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "file", false), 0);
	CU_ASSERT(attr(f, &d).mtime.tv_sec > 1000);
	CU_ASSERT_EQUAL(lookup(f, &d, "file", &k), -ENOENT);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &sub, "inner", false), 0);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "sub", true), 0);
	CU_ASSERT_EQUAL(attr(f, &d).nlink, nl - 1);
	CU_ASSERT_EQUAL(lookup(f, &d, "sub", &k), -ENOENT);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "file", false), -ENOENT);
}

static void t_rename(struct fx *f)
{
	struct fsal_key d, d2, a, b, dir, k;

	fresh(f, &d, NULL);
	mkdir_(f, &d, "d2", 0755, &d2);
	mkfile(f, &d, "a", 0644, &a);
	mkfile(f, &d, "b", 0644, &b);
	mkdir_(f, &d, "dir", 0755, &dir);
	put(f, &a, 0, "AAA");
	put(f, &b, 0, "B");
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "a", &d, "b"), 0);
	CU_ASSERT_EQUAL(lookup(f, &d, "a", &k), -ENOENT);
	CU_ASSERT_EQUAL(lookup(f, &d, "b", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &a));
	expect(f, &k, 0, "AAA");
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &b, &(struct fsal_attr){0}), -ESTALE);
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "missing", &d, "x"), -ENOENT);
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "b", &d, "dir"), -EISDIR);
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "dir", &d, "b"), -ENOTDIR);
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "b", &d, "b"), 0);
	CU_ASSERT_EQUAL(f->ops->link(f->exp, &ROOT, &a, &d, "hard"), 0);
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "b", &d, "hard"), 0);
	CU_ASSERT_EQUAL(lookup(f, &d, "b", &k), 0); /* POSIX: same file, nothing done */
	CU_ASSERT_EQUAL(lookup(f, &d, "hard", &k), 0);
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "b", &d2, "moved"), 0);
	CU_ASSERT_EQUAL(lookup(f, &d2, "moved", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &a));
	CU_ASSERT_EQUAL(attr(f, &a).nlink, 2);
}

static void t_rename_dirs(struct fx *f)
{
	struct fsal_key d, A, B, C, E, sub, k;
	uint32_t dn, en;

	fresh(f, &d, NULL);
	mkdir_(f, &d, "A", 0755, &A);
	mkdir_(f, &d, "B", 0755, &B);
	mkdir_(f, &d, "C", 0755, &C);
	mkdir_(f, &d, "E", 0755, &E);
	mkfile(f, &A, "a", 0644, &k);
	mkfile(f, &B, "b", 0644, &k);
	k.len = 0;
	int rc = f->ops->rename(f->exp, &ROOT, &d, "A", &d, "B");
	CU_ASSERT(rc == -ENOTEMPTY || rc == -EEXIST);
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "A", &d, "C"), 0);
	CU_ASSERT_EQUAL(lookup(f, &d, "C", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &A));
	CU_ASSERT_EQUAL(lookup(f, &d, "A", &k), -ENOENT);
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &C, &(struct fsal_attr){0}), -ESTALE);
	mkdir_(f, &A, "sub", 0755, &sub);
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "C", &sub, "x"), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "C", &A, "x"), -EINVAL);
	dn = attr(f, &d).nlink;
	en = attr(f, &E).nlink;
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "C", &E, "moved"), 0);
	CU_ASSERT_EQUAL(lookup(f, &A, "..", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &E));
	CU_ASSERT_EQUAL(attr(f, &d).nlink, dn - 1);
	CU_ASSERT_EQUAL(attr(f, &E).nlink, en + 1);
	CU_ASSERT_EQUAL(lookup(f, &A, "a", &k), 0);
}

static void t_symlink(struct fx *f)
{
	struct fsal_key d, l1, l2, file, k;
	struct fsal_attr a;
	char buf[64];
	size_t n;

	fresh(f, &d, NULL);
	mkfile(f, &d, "file", 0644, &file);
	CU_ASSERT_EQUAL(f->ops->symlink(f->exp, &ROOT, &d, "l1", "/", &l1), 0);
	CU_ASSERT_EQUAL(f->ops->symlink(f->exp, &ROOT, &d, "l2", "../../etc", &l2), 0);
	CU_ASSERT_EQUAL(lookup(f, &d, "l1", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &l1));
	a = attr(f, &k);
	CU_ASSERT_EQUAL(a.type, FSAL_LNK);
	CU_ASSERT_EQUAL(a.size, 1);
	CU_ASSERT_EQUAL(lookup(f, &d, "l2", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &l2));
	CU_ASSERT_EQUAL(attr(f, &k).type, FSAL_LNK);
	CU_ASSERT_EQUAL(f->ops->readlink(f->exp, &ROOT, &l1, buf, sizeof(buf), &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_STRING_EQUAL(buf, "/");
	CU_ASSERT_EQUAL(f->ops->readlink(f->exp, &ROOT, &l2, buf, sizeof(buf), &n), 0);
	CU_ASSERT_EQUAL(n, 9);
	CU_ASSERT_STRING_EQUAL(buf, "../../etc");
	CU_ASSERT_EQUAL(f->ops->readlink(f->exp, &ROOT, &l2, buf, 9, &n), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(f->ops->readlink(f->exp, &ROOT, &file, buf, sizeof(buf), &n), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->readlink(f->exp, &ROOT, &d, buf, sizeof(buf), &n), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "l1", false), 0);
	CU_ASSERT_EQUAL(lookup(f, &d, "l1", &k), -ENOENT);
	CU_ASSERT_EQUAL(attr(f, &file).nlink, 1);
}

/* No op follows a symlink, whichever way it is reached. */
static void t_symlink_nofollow(struct fx *f)
{
	const struct fsal_setattr owner = {.mask = FSAL_SET_UID, .uid = 1000};
	struct fsal_key d, l1, l2, l3, file, k;
	char buf[8];
	size_t n;
	bool eof;

	fresh(f, &d, NULL);
	mkfile(f, &d, "file", 0644, &file);
	CU_ASSERT_EQUAL(f->ops->symlink(f->exp, &ROOT, &d, "l1", "/", &l1), 0);
	CU_ASSERT_EQUAL(f->ops->symlink(f->exp, &ROOT, &d, "l2", "../../etc", &l2), 0);
	CU_ASSERT_EQUAL(f->ops->symlink(f->exp, &ROOT, &d, "l3", "file", &l3), 0);
	CU_ASSERT_EQUAL(lookup(f, &l1, "etc", &k), -ENOTDIR);
	CU_ASSERT_EQUAL(lookup(f, &l2, "passwd", &k), -ENOTDIR);
	CU_ASSERT_EQUAL(f->ops->readdir(f->exp, &ROOT, &l1, 0, rd_cb, &(struct rd){0}, &eof),
			-ENOTDIR);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &l3, 0, buf, 4, &n, &eof), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->write(f->exp, &ROOT, &l3, 0, "x", 1, FSAL_UNSTABLE, &n), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &ROOT, &d, "l1", 0644, false, &k), -EEXIST);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &ROOT, &d, "l3", 0644, false, &k), -EEXIST);
	CU_ASSERT_EQUAL(f->ops->mkdir(f->exp, &ROOT, &d, "l1", 0755, &k), -EEXIST);
	CU_ASSERT_EQUAL(set_old_mtime(f, &l3), 0);
	CU_ASSERT_EQUAL(attr(f, &l3).mtime.tv_sec, 1000);
	CU_ASSERT(attr(f, &file).mtime.tv_sec > 1000);
	CU_ASSERT_EQUAL(setmode(f, &ROOT, &l3, 0600), -EOPNOTSUPP);
	CU_ASSERT_EQUAL(attr(f, &file).mode, 0644);
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &ROOT, &l3, &owner), 0);
	CU_ASSERT_EQUAL(attr(f, &l3).uid, 1000);
	CU_ASSERT_EQUAL(attr(f, &file).uid, 0);
}

static void t_link(struct fx *f)
{
	struct fsal_key d, sub, file, k;

	fresh(f, &d, NULL);
	mkdir_(f, &d, "sub", 0755, &sub);
	mkfile(f, &d, "file", 0644, &file);
	put(f, &file, 0, "linked");
	CU_ASSERT_EQUAL(attr(f, &file).nlink, 1);
	CU_ASSERT_EQUAL(f->ops->link(f->exp, &ROOT, &file, &sub, "other"), 0);
	CU_ASSERT_EQUAL(attr(f, &file).nlink, 2);
	CU_ASSERT_EQUAL(lookup(f, &sub, "other", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &file));
	CU_ASSERT_EQUAL(attr(f, &k).fileid, attr(f, &file).fileid);
	CU_ASSERT_EQUAL(f->ops->link(f->exp, &ROOT, &file, &sub, "other"), -EEXIST);
	CU_ASSERT_EQUAL(f->ops->link(f->exp, &ROOT, &sub, &d, "dirlink"), -EPERM);
	CU_ASSERT_EQUAL(f->ops->link(f->exp, &ROOT, &file, &file, "x"), -ENOTDIR);
	CU_ASSERT_EQUAL(f->ops->link(f->exp, &ROOT, &file, &d, "a/b"), -EINVAL);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "file", false), 0);
	CU_ASSERT_EQUAL(attr(f, &k).nlink, 1);
	expect(f, &k, 0, "linked");
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &sub, "other", false), 0);
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &k, &(struct fsal_attr){0}), -ESTALE);
}

static void t_setattr_size(struct fx *f)
{
	struct fsal_key d, file;
	struct fsal_setattr sa = {.mask = FSAL_SET_SIZE, .size = 5};
	char buf[64];
	size_t n;
	bool eof;

	fresh(f, &d, NULL);
	mkfile(f, &d, "file", 0644, &file);
	put(f, &file, 0, "hello world");
	CU_ASSERT_EQUAL(attr(f, &file).size, 11);
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &ROOT, &file, &sa), 0);
	CU_ASSERT_EQUAL(attr(f, &file).size, 5);
	expect(f, &file, 0, "hello");
	sa.size = 10000;
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &ROOT, &file, &sa), 0);
	CU_ASSERT_EQUAL(attr(f, &file).size, 10000);
	memset(buf, 'x', sizeof(buf));
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &file, 5, buf, 4, &n, &eof), 0);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_EQUAL(memcmp(buf, "\0\0\0\0", 4), 0);
	CU_ASSERT_FALSE(eof);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &file, 9990, buf, 64, &n, &eof), 0);
	CU_ASSERT_EQUAL(n, 10);
	CU_ASSERT(eof);
	sa.size = 0;
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &ROOT, &file, &sa), 0);
	CU_ASSERT_EQUAL(attr(f, &file).size, 0);
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &ROOT, &d, &sa), -EISDIR);
}

static void t_setattr_mode_owner(struct fx *f)
{
	struct fsal_key d, file;
	struct fsal_setattr sa = {.mask = FSAL_SET_UID | FSAL_SET_GID, .uid = 1000, .gid = 1000};
	struct fsal_attr a;

	fresh(f, &d, NULL);
	mkfile(f, &d, "file", 0644, &file);
	CU_ASSERT_EQUAL(setmode(f, &ROOT, &file, 0604), 0);
	CU_ASSERT_EQUAL(attr(f, &file).mode, 0604);
	CU_ASSERT_EQUAL(setmode(f, &ROOT, &file, 04755), 0);
	CU_ASSERT_EQUAL(attr(f, &file).mode, 04755);
	CU_ASSERT_EQUAL(setmode(f, &USER, &file, 0600), -EPERM);
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &USER, &file, &sa), -EPERM);
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &ROOT, &file, &sa), 0);
	a = attr(f, &file);
	CU_ASSERT_EQUAL(a.uid, 1000);
	CU_ASSERT_EQUAL(a.gid, 1000);
	CU_ASSERT_EQUAL(a.mode & 04000, 0); /* chown clears set-user-ID */
	CU_ASSERT_EQUAL(setmode(f, &USER, &file, 0640), 0);
	CU_ASSERT_EQUAL(attr(f, &file).mode, 0640);
	sa.mask = FSAL_SET_UID;
	sa.uid = 0;
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &USER, &file, &sa), -EPERM);
	sa.mask = FSAL_SET_GID;
	sa.gid = 0; /* USER is not in group 0 */
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &USER, &file, &sa), -EPERM);
	CU_ASSERT_EQUAL(setmode(f, &ROOT, &d, 0711), 0);
	CU_ASSERT_EQUAL(attr(f, &d).mode, 0711);
}

static void t_setattr_times(struct fx *f)
{
	struct fsal_key d, file;
	struct fsal_setattr sa = {.mask = FSAL_SET_ATIME | FSAL_SET_MTIME,
				  .atime = {1234567, 890},
				  .mtime = {2345678, 123000}};
	struct fsal_attr a;
	time_t before;

	fresh(f, &d, NULL);
	mkfile(f, &d, "file", 0666, &file);
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &ROOT, &file, &sa), 0);
	a = attr(f, &file);
	CU_ASSERT_EQUAL(a.atime.tv_sec, 1234567);
	CU_ASSERT_EQUAL(a.atime.tv_nsec, 890);
	CU_ASSERT_EQUAL(a.mtime.tv_sec, 2345678);
	CU_ASSERT_EQUAL(a.mtime.tv_nsec, 123000);
	sa.mask = FSAL_SET_MTIME_NOW;
	before = time(NULL);
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &ROOT, &file, &sa), 0);
	a = attr(f, &file);
	CU_ASSERT(a.mtime.tv_sec >= before - 1 && a.mtime.tv_sec <= time(NULL) + 1);
	CU_ASSERT_EQUAL(a.atime.tv_sec, 1234567); /* untouched */
	CU_ASSERT(a.ctime.tv_sec >= before - 1);
	/* Not the owner: "now" needs write permission (0666 gives it), a set time does not
	 * come with it. */
	sa.mask = FSAL_SET_ATIME_NOW | FSAL_SET_MTIME_NOW;
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &USER, &file, &sa), 0);
	CU_ASSERT(attr(f, &file).atime.tv_sec >= before - 1);
	sa.mask = FSAL_SET_MTIME;
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &USER, &file, &sa), -EPERM);
	CU_ASSERT_EQUAL(setmode(f, &ROOT, &file, 0644), 0);
	sa.mask = FSAL_SET_ATIME_NOW | FSAL_SET_MTIME_NOW;
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &USER, &file, &sa), -EACCES);
}

static void t_io(struct fx *f)
{
	static const enum fsal_stable how[] = {FSAL_UNSTABLE, FSAL_DATA_SYNC, FSAL_FILE_SYNC};
	struct fsal_key d, file;
	char buf[32];
	size_t n;
	bool eof;

	fresh(f, &d, NULL);
	mkfile(f, &d, "file", 0644, &file);
	for (unsigned i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), "data-%u", i);
		n = 0;
		CU_ASSERT_EQUAL(f->ops->write(f->exp, &ROOT, &file, i * 100, buf, 6, how[i], &n),
				0);
		CU_ASSERT_EQUAL(n, 6);
		CU_ASSERT_EQUAL(f->ops->commit(f->exp, &file, i * 100, 6), 0);
		expect(f, &file, i * 100, buf);
	}
	CU_ASSERT_EQUAL(f->ops->commit(f->exp, &file, 0, 0), 0);
	CU_ASSERT_EQUAL(attr(f, &file).size, 206);
	put(f, &file, 1 << 20, "far");
	CU_ASSERT_EQUAL(attr(f, &file).size, (1 << 20) + 3);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &file, 500, buf, 4, &n, &eof), 0);
	CU_ASSERT_EQUAL(memcmp(buf, "\0\0\0\0", 4), 0);
	CU_ASSERT_EQUAL(f->ops->write(f->exp, &ROOT, &file, 0, "", 0, FSAL_FILE_SYNC, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &d, 0, buf, 4, &n, &eof), -EISDIR);
	CU_ASSERT_EQUAL(f->ops->write(f->exp, &ROOT, &d, 0, "x", 1, FSAL_UNSTABLE, &n), -EISDIR);
	CU_ASSERT_EQUAL(f->ops->commit(f->exp, &d, 0, 0), -EISDIR);
}

static void t_eof(struct fx *f)
{
	struct fsal_key d, file, empty;
	char buf[128];
	size_t n;
	bool eof;

	fresh(f, &d, NULL);
	mkfile(f, &d, "file", 0644, &file);
	mkfile(f, &d, "empty", 0644, &empty);
	put(f, &file, 0, "0123456789");
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &file, 0, buf, 4, &n, &eof), 0);
	CU_ASSERT(n == 4 && !eof);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &file, 6, buf, 4, &n, &eof), 0);
	CU_ASSERT(n == 4 && eof);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &file, 0, buf, 10, &n, &eof), 0);
	CU_ASSERT(n == 10 && eof);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &file, 8, buf, 100, &n, &eof), 0);
	CU_ASSERT(n == 2 && eof);
	CU_ASSERT_EQUAL(memcmp(buf, "89", 2), 0);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &file, 10, buf, 5, &n, &eof), 0);
	CU_ASSERT(n == 0 && eof);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &file, 50, buf, 5, &n, &eof), 0);
	CU_ASSERT(n == 0 && eof);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &empty, 0, buf, 5, &n, &eof), 0);
	CU_ASSERT(n == 0 && eof);
}

static void t_statfs(struct fx *f)
{
	struct fsal_statfs s;
	struct fsal_key d, k;

	fresh(f, &d, NULL);
	mkfile(f, &d, "file", 0644, &k);
	CU_ASSERT_EQUAL(f->ops->statfs(f->exp, &f->root, &s), 0);
	CU_ASSERT(s.tbytes > 0);
	CU_ASSERT(s.fbytes <= s.tbytes);
	CU_ASSERT(s.abytes <= s.fbytes);
	CU_ASSERT(s.tfiles > 0);
	CU_ASSERT(s.ffiles <= s.tfiles);
	CU_ASSERT(s.afiles <= s.ffiles);
	CU_ASSERT_EQUAL(f->ops->statfs(f->exp, &k, &s), 0);
	CU_ASSERT(s.tbytes > 0);
}

static void t_perm_create(struct fx *f)
{
	const struct fsal_cred member = {.uid = 1000, .gid = 1000, .ngroups = 1, .groups = {100}};
	const struct fsal_setattr grp = {
	    .mask = FSAL_SET_GID | FSAL_SET_MODE, .gid = 100, .mode = 0775};
	struct fsal_key d, locked, priv, k;
	struct fsal_attr a;

	fresh(f, &d, NULL);
	mkdir_(f, &d, "locked", 0755, &locked);
	mkdir_(f, &d, "priv", 0700, &priv);
	mkfile(f, &locked, "rootfile", 0644, &k);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &USER, &locked, "x", 0644, false, &k), -EACCES);
	CU_ASSERT_EQUAL(f->ops->mkdir(f->exp, &USER, &locked, "x", 0755, &k), -EACCES);
	CU_ASSERT_EQUAL(f->ops->symlink(f->exp, &USER, &locked, "x", "t", &k), -EACCES);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &USER, &locked, "rootfile", false), -EACCES);
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &USER, &locked, "rootfile", &d, "x"), -EACCES);
	CU_ASSERT_EQUAL(f->ops->lookup(f->exp, &USER, &priv, "x", &k), -EACCES);
	CU_ASSERT_EQUAL(f->ops->access(f->exp, &USER, &locked, W_OK), -EACCES);
	CU_ASSERT_EQUAL(f->ops->access(f->exp, &USER, &locked, R_OK | X_OK), 0);
	CU_ASSERT_EQUAL(f->ops->access(f->exp, &ROOT, &locked, W_OK), 0);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &USER, &d, "mine", 0640, false, &k), 0);
	a = attr(f, &k);
	CU_ASSERT_EQUAL(a.uid, 1000);
	CU_ASSERT_EQUAL(a.gid, 1000);
	CU_ASSERT_EQUAL(a.mode, 0640);
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &ROOT, &locked, &grp), 0);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &USER, &locked, "x", 0644, false, &k), -EACCES);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &member, &locked, "x", 0644, false, &k), 0);
	CU_ASSERT_EQUAL(attr(f, &k).uid, 1000);
}

static void t_perm_io(struct fx *f)
{
	struct fsal_key d, secret, pub, mine, exe, priv, sid;
	char buf[16];
	size_t n;
	bool eof;

	fresh(f, &d, NULL);
	mkfile(f, &d, "secret", 0600, &secret);
	mkfile(f, &d, "pub", 0644, &pub);
	mkfile(f, &d, "exe", 0711, &exe);
	mkdir_(f, &d, "priv", 0700, &priv);
	put(f, &secret, 0, "s");
	put(f, &pub, 0, "p");
	put(f, &exe, 0, "e");
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &USER, &secret, 0, buf, 1, &n, &eof), -EACCES);
	CU_ASSERT_EQUAL(f->ops->access(f->exp, &USER, &secret, R_OK), -EACCES);
	CU_ASSERT_EQUAL(f->ops->write(f->exp, &USER, &secret, 0, "x", 1, 0, &n), -EACCES);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &USER, &pub, 0, buf, 1, &n, &eof), 0);
	CU_ASSERT_EQUAL(f->ops->write(f->exp, &USER, &pub, 0, "x", 1, 0, &n), -EACCES);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &USER, &exe, 0, buf, 1, &n, &eof), 0);
	CU_ASSERT_EQUAL(f->ops->access(f->exp, &ROOT, &pub, X_OK), -EACCES);
	CU_ASSERT_EQUAL(f->ops->access(f->exp, &ROOT, &exe, X_OK), 0);
	CU_ASSERT_EQUAL(f->ops->access(f->exp, &ROOT, &priv, X_OK), 0);
	CU_ASSERT_EQUAL(f->ops->readdir(f->exp, &USER, &priv, 0, rd_cb, &(struct rd){0}, &eof),
			-EACCES);
	/* The owner writes his read-only file (created 0444 through an open fd). */
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &USER, &d, "mine", 0444, true, &mine), 0);
	CU_ASSERT_EQUAL(f->ops->write(f->exp, &USER, &mine, 0, "ok", 2, 0, &n), 0);
	CU_ASSERT_EQUAL(f->ops->access(f->exp, &USER, &mine, W_OK), -EACCES);
	/* A write by a non-root user clears set-id bits: it really ran as that user. */
	mkfile(f, &d, "sid", 0644, &sid);
	CU_ASSERT_EQUAL(setmode(f, &ROOT, &sid, 06777), 0);
	CU_ASSERT_EQUAL(f->ops->write(f->exp, &USER, &sid, 0, "x", 1, 0, &n), 0);
	CU_ASSERT_EQUAL(attr(f, &sid).mode, 0777);
	CU_ASSERT_EQUAL(setmode(f, &USER, &mine, 04755), 0);
	CU_ASSERT_EQUAL(f->ops->write(f->exp, &USER, &mine, 0, "x", 1, 0, &n), 0);
	CU_ASSERT_EQUAL(attr(f, &mine).mode, 0755); /* the owner's write too */
}

static void t_stale(struct fx *f)
{
	struct fsal_key d, file, sub, k, bad;
	struct fsal_attr a;
	struct fsal_statfs s;
	const struct fsal_setattr sa = {.mask = FSAL_SET_MODE, .mode = 0600};
	char buf[4];
	size_t n;
	bool eof;

	fresh(f, &d, NULL);
	mkfile(f, &d, "file", 0644, &file);
	mkdir_(f, &d, "sub", 0755, &sub);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "file", false), 0);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "sub", true), 0);
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &file, &a), -ESTALE);
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &ROOT, &file, &sa), -ESTALE);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &file, 0, buf, 1, &n, &eof), -ESTALE);
	CU_ASSERT_EQUAL(f->ops->write(f->exp, &ROOT, &file, 0, "x", 1, 0, &n), -ESTALE);
	CU_ASSERT_EQUAL(f->ops->access(f->exp, &ROOT, &file, R_OK), -ESTALE);
	CU_ASSERT_EQUAL(f->ops->commit(f->exp, &file, 0, 0), -ESTALE);
	CU_ASSERT_EQUAL(f->ops->lookup(f->exp, &ROOT, &sub, "x", &k), -ESTALE);
	CU_ASSERT_EQUAL(f->ops->create(f->exp, &ROOT, &sub, "x", 0644, false, &k), -ESTALE);
	CU_ASSERT_EQUAL(f->ops->readdir(f->exp, &ROOT, &sub, 0, rd_cb, &(struct rd){0}, &eof),
			-ESTALE);
	CU_ASSERT_EQUAL(f->ops->statfs(f->exp, &sub, &s), -ESTALE);
	CU_ASSERT_EQUAL(f->ops->link(f->exp, &ROOT, &file, &d, "x"), -ESTALE);
	bad = f->root;
	bad.len = 0;
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &bad, &a), -ESTALE);
	bad.len = 3;
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &bad, &a), -ESTALE);
	bad.len = 200;
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &bad, &a), -ESTALE);
	bad = f->root;
	memset(bad.data + 4, 0xff, bad.len - 4); /* an inode number far past the last */
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &bad, &a), -ESTALE);
}

static void t_readdir_small(struct fx *f)
{
	struct fsal_key d, file;
	unsigned seen[3] = {0};
	struct rd r = {.limit = 100, .seen = seen, .nseen = 3};
	bool eof = false;

	fresh(f, &d, NULL);
	CU_ASSERT_EQUAL(f->ops->readdir(f->exp, &ROOT, &d, 0, rd_cb, &r, &eof), 0);
	CU_ASSERT(eof);
	CU_ASSERT_EQUAL(r.got, 0);
	mkfiles(f, &d, 3);
	CU_ASSERT_EQUAL(f->ops->readdir(f->exp, &ROOT, &d, 0, rd_cb, &r, &eof), 0);
	CU_ASSERT(eof);
	CU_ASSERT_EQUAL(r.got, 3);
	CU_ASSERT(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
	CU_ASSERT_EQUAL(r.bad, 0);
	/* Stopped by the callback: not eof, and the refused entry is not consumed. */
	r.got = 0;
	r.limit = 1;
	CU_ASSERT_EQUAL(f->ops->readdir(f->exp, &ROOT, &d, 0, rd_cb, &r, &eof), 0);
	CU_ASSERT_FALSE(eof);
	CU_ASSERT_EQUAL(r.got, 1);
	r.got = 0;
	r.limit = 100;
	CU_ASSERT_EQUAL(f->ops->readdir(f->exp, &ROOT, &d, r.last, rd_cb, &r, &eof), 0);
	CU_ASSERT(eof);
	CU_ASSERT_EQUAL(r.got, 2);
	CU_ASSERT(seen[0] == 2 && seen[1] == 2 && seen[2] == 2);
	mkfile(f, &d, "file", 0644, &file);
	CU_ASSERT_EQUAL(f->ops->readdir(f->exp, &ROOT, &file, 0, rd_cb, &r, &eof), -ENOTDIR);
}

static void t_readdir_2000(struct fx *f)
{
	struct fsal_key d;

	fresh(f, &d, NULL);
	mkfiles(f, &d, 2000);
	readdir_paged(f, &d, 2000, 100);
	readdir_paged(f, &d, 2000, 1);
}

/* Threads with different creds on one export: the per-thread identity must never
 * leak from one request to the next. */
struct thr {
	struct fx *f;
	struct fsal_key open, locked;
	unsigned id;
	unsigned wrong;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	struct fx *f = t->f;
	const struct fsal_cred *c;
	struct fsal_key k;
	char name[32];
	int rc;

	for (unsigned i = 0; i < 200; i++) {
		c = (i + t->id) % 2 ? &USER : &ROOT;
		snprintf(name, sizeof(name), "t%u-%u", t->id, i);
		rc = f->ops->create(f->exp, c, &t->locked, name, 0644, true, &k);
		t->wrong += rc != (c == &USER ? -EACCES : 0);
		rc = f->ops->create(f->exp, c, &t->open, name, 0644, true, &k);
		t->wrong += rc != 0;
		if (rc == 0) {
			struct fsal_attr a;

			f->ops->getattr(f->exp, &k, &a);
			t->wrong += a.uid != c->uid;
		}
	}
	return NULL;
}

static void t_threads(struct fx *f)
{
	struct thr t[4];
	pthread_t tid[4];
	struct fsal_key d, open, locked;

	fresh(f, &d, NULL);
	mkdir_(f, &d, "open", 0777, &open);
	CU_ASSERT_EQUAL(setmode(f, &ROOT, &open, 0777), 0);
	mkdir_(f, &d, "locked", 0755, &locked);
	for (unsigned i = 0; i < 4; i++) {
		t[i] = (struct thr){.f = f, .open = open, .locked = locked, .id = i};
		CU_ASSERT_EQUAL_FATAL(pthread_create(&tid[i], NULL, thr_main, &t[i]), 0);
	}
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		CU_ASSERT_EQUAL(t[i].wrong, 0);
	}
}

#define FSAL_SHARED_TESTS(X)                                                                       \
	X(root_dots)                                                                               \
	X(lookup_errors)                                                                           \
	X(lookup_at)                                                                               \
	X(names)                                                                                   \
	X(create)                                                                                  \
	X(mkdir_mknod)                                                                             \
	X(remove)                                                                                  \
	X(rename)                                                                                  \
	X(rename_dirs)                                                                             \
	X(symlink)                                                                                 \
	X(symlink_nofollow)                                                                        \
	X(link)                                                                                    \
	X(setattr_size)                                                                            \
	X(setattr_mode_owner)                                                                      \
	X(setattr_times)                                                                           \
	X(io)                                                                                      \
	X(eof)                                                                                     \
	X(statfs)                                                                                  \
	X(perm_create)                                                                             \
	X(perm_io)                                                                                 \
	X(stale)                                                                                   \
	X(readdir_small)                                                                           \
	X(readdir_2000)                                                                            \
	X(threads)

#define WRAP(t)                                                                                    \
	static void vfs_##t(void)                                                                  \
	{                                                                                          \
		t_##t(&fx_vfs);                                                                    \
	}                                                                                          \
	static void mem_##t(void)                                                                  \
	{                                                                                          \
		t_##t(&fx_mem);                                                                    \
	}
FSAL_SHARED_TESTS(WRAP)

/* --- vfs only -------------------------------------------------------------------- */

/* vfs leaves the thread with the last caller's fsuid; a root call resets it before the
 * test itself touches files. */
static void as_root(struct fx *f)
{
	CU_ASSERT_EQUAL(f->ops->access(f->exp, &ROOT, &f->root, 0), 0);
}

/* A restart (close, open the same path) keeps every key, byte for byte. */
static void vfs_restart(void)
{
	struct fx *f = &fx_vfs;
	struct fsal_key d, file, root2, k;
	struct fsal_export *e2;
	uint64_t fileid;
	char name[32];

	fresh(f, &d, name);
	mkfile(f, &d, "file", 0644, &file);
	put(f, &file, 0, "survives");
	fileid = attr(f, &file).fileid;
	CU_ASSERT_EQUAL_FATAL(fsal_vfs_ops.export_open(f->path, NULL, &e2), 0);
	CU_ASSERT_EQUAL(fsal_vfs_ops.root(e2, &root2), 0);
	CU_ASSERT(fsal_key_eq(&root2, &f->root));
	CU_ASSERT_EQUAL(fsal_vfs_ops.lookup(e2, &ROOT, &root2, name, &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &d));
	CU_ASSERT_EQUAL(fsal_vfs_ops.lookup(e2, &ROOT, &k, "file", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &file));
	fsal_vfs_ops.export_close(e2);
	fsal_vfs_ops.export_close(f->exp);
	f->exp = NULL;
	CU_ASSERT_EQUAL_FATAL(fsal_vfs_ops.export_open(f->path, NULL, &f->exp), 0);
	CU_ASSERT_EQUAL(attr(f, &file).fileid, fileid);
	expect(f, &file, 0, "survives");
}

/* How many of this process's descriptors name a removed file. */
static unsigned deleted_fds(void)
{
	char link[64], target[PATH_MAX];
	unsigned n = 0;

	for (int fd = 0; fd < 4096; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		n += strstr(target, " (deleted)") != NULL;
	}
	return n;
}

/* The backend keeps objects open between calls (vfs/fdcache.h); a removed file
 * must not stay open (its blocks would stay allocated), whether it went through
 * REMOVE, through a RENAME over it, or behind the server's back (then its handle
 * is stale, as without the cache, for GETATTR, READ and WRITE). */
static void vfs_removed_is_released(void)
{
	struct fx *f = &fx_vfs;
	struct fsal_key d, a, b, c;
	char name[32], path[512];

	fresh(f, &d, name);
	unsigned before = deleted_fds();
	mkfile(f, &d, "a", 0644, &a);
	mkfile(f, &d, "b", 0644, &b);
	mkfile(f, &d, "c", 0644, &c);
	put(f, &a, 0, "a");
	put(f, &b, 0, "b");
	put(f, &c, 0, "c");
	expect(f, &a, 0, "a"); /* READ keeps a read-only descriptor as well */
	expect(f, &b, 0, "b");
	expect(f, &c, 0, "c");
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "a", false), 0);
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "b", &d, "c"), 0);
	CU_ASSERT_EQUAL(deleted_fds(), before);
	struct fsal_attr at;
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &a, &at), -ESTALE);
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &c, &at), -ESTALE);
	expect(f, &b, 0, "b"); /* renamed, not removed */

	snprintf(path, sizeof(path), "%s/%s/c", f->path, name);
	CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &b, &at), -ESTALE);
	CU_ASSERT_EQUAL(deleted_fds(), before);

	/* READ and WRITE of a file removed behind the back: stale, not its bytes */
	struct fsal_key e;
	char buf[8];
	size_t n = 0;
	bool eof;
	mkfile(f, &d, "e", 0644, &e);
	put(f, &e, 0, "e");
	expect(f, &e, 0, "e");
	snprintf(path, sizeof(path), "%s/%s/e", f->path, name);
	CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
	CU_ASSERT_EQUAL(f->ops->read(f->exp, &ROOT, &e, 0, buf, 1, &n, &eof), -ESTALE);
	CU_ASSERT_EQUAL(f->ops->write(f->exp, &ROOT, &e, 0, "x", 1, FSAL_UNSTABLE, &n), -ESTALE);
	CU_ASSERT_EQUAL(deleted_fds(), before);
}

/* What a partner does while this node does not serve: it removes a file this node
 * kept open. Until drop_caches (which the server calls when it starts or stops
 * serving) the removed file stays open here, its blocks allocated, and a WRITE by
 * its handle would land in it; after, the handle is stale and nothing removed is
 * held open. A
 * descriptor lent to a call when the caches are dropped stays usable until given
 * back (fdcache_forget_all). */
#include "fsal/vfs/fdcache.h"

static int fdc_open_dup(void *arg, const struct fsal_key *key, int *fd)
{
	(void)key;
	*fd = dup(*(const int *)arg);
	return *fd < 0 ? -errno : 0;
}

static void vfs_drop_caches(void)
{
	struct fx *f = &fx_vfs;
	struct fsal_key d, a, b;
	char name[32], path[512];

	fresh(f, &d, name);
	unsigned before = deleted_fds();
	mkfile(f, &d, "a", 0644, &a);
	mkfile(f, &d, "b", 0644, &b);
	put(f, &a, 0, "a");
	expect(f, &a, 0, "a");
	put(f, &b, 0, "b");
	snprintf(path, sizeof(path), "%s/%s/a", f->path, name);
	CU_ASSERT_EQUAL_FATAL(unlink(path), 0); /* the partner removes it */
	CU_ASSERT(deleted_fds() > before);	/* still kept open: what the drop is for */
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->ops->drop_caches);
	f->ops->drop_caches(f->exp);
	CU_ASSERT_EQUAL(deleted_fds(), before);
	size_t n = 0;
	CU_ASSERT_EQUAL(f->ops->write(f->exp, &ROOT, &a, 0, "x", 1, FSAL_UNSTABLE, &n), -ESTALE);
	expect(f, &b, 0, "b"); /* the rest opens again */
	struct fsal_attr at;
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &d, &at), 0);

	/* lent while dropped: open until given back, then closed */
	struct fdcache *c = fdcache_new(64);
	struct fsal_key k = {.len = 1, .data = {7}};
	int src = open(f->path, O_PATH | O_CLOEXEC), fd = -1, again = -1;
	CU_ASSERT_FATAL(src >= 0 && c);
	CU_ASSERT_EQUAL(fdcache_get(c, &k, fdc_open_dup, &src, &fd), 0);
	fdcache_put(fd);
	CU_ASSERT_EQUAL(fdcache_get(c, &k, fdc_open_dup, &src, &again), 0);
	CU_ASSERT_EQUAL(again, fd); /* kept */
	fdcache_forget_all(c);
	CU_ASSERT_EQUAL(fdcache_count(c), 0);
	CU_ASSERT(fcntl(fd, F_GETFD) >= 0); /* still lent */
	fdcache_put(fd);
	CU_ASSERT(fcntl(fd, F_GETFD) < 0 && errno == EBADF);
	fdcache_free(c);
	close(src);
}

/* The names are hard links to two files (ext4 allows 65000 links a file): a directory
 * entry costs far less than an inode, and readdir only sees entries. */
static void vfs_readdir_100k(void)
{
	struct fx *f = &fx_vfs;
	struct fsal_key d, k[2];
	char name[32];

	fresh(f, &d, NULL);
	mkfile(f, &d, "f0", 0644, &k[0]);
	mkfile(f, &d, "f1", 0644, &k[1]);
	for (unsigned i = 2; i < 100000; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		if (f->ops->link(f->exp, &ROOT, &k[i % 2], &d, name) != 0) {
			CU_FAIL_FATAL("link");
		}
	}
	readdir_paged(f, &d, 100000, 100);
}

/*
 * open_by_handle_at as the backend in this binary sees it: the next obh_enomem calls
 * fail with ENOMEM, as the kernel's do while a create is giving the handle's inode
 * number to a new file (vfs.c, vfs__open_handle). Defined here, it takes the place of
 * libc's for the backend linked into this binary; the real one is the next in line.
 */
static atomic_uint obh_enomem;
static int (*obh_real)(int, struct file_handle *, int);
static pthread_once_t obh_once = PTHREAD_ONCE_INIT;

static void obh_find_real(void)
{
	obh_real = (int (*)(int, struct file_handle *, int))dlsym(RTLD_NEXT, "open_by_handle_at");
}

int open_by_handle_at(int mount_fd, struct file_handle *fh, int flags)
{
	if (atomic_load(&obh_enomem) > 0) {
		atomic_fetch_sub(&obh_enomem, 1);
		errno = ENOMEM;
		return -1;
	}
	pthread_once(&obh_once, obh_find_real);
	return obh_real(mount_fd, fh, flags);
}

/* While a create reuses a removed object's inode number, that object's handle is still
 * stale and a live object's still opens; an ENOMEM that lasts is "try again later",
 * never stale. (A parallel run once made GETATTR and SETATTR of a removed file give
 * ENOMEM.) Nothing here was opened by handle before, so every call opens. */
static void vfs_open_enomem(void)
{
	struct fx *f = &fx_vfs;
	struct fsal_key d, gone, live, other;
	struct fsal_attr a;
	const struct fsal_setattr sa = {.mask = FSAL_SET_MODE, .mode = 0600};

	fresh(f, &d, NULL);
	mkfile(f, &d, "gone", 0644, &gone);
	mkfile(f, &d, "live", 0644, &live);
	mkfile(f, &d, "other", 0644, &other);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "gone", false), 0);
	atomic_store(&obh_enomem, 2);
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &gone, &a), -ESTALE);
	atomic_store(&obh_enomem, 2);
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &ROOT, &gone, &sa), -ESTALE);
	atomic_store(&obh_enomem, 2);
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &ROOT, &live, &sa), 0);
	atomic_store(&obh_enomem, 1000);
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &other, &a), -EAGAIN);
	atomic_store(&obh_enomem, 0);
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &other, &a), 0);
}

/* A filesystem mounted below the export is not entered (see vfs.c). Needs mount(2),
 * so it passes vacuously where the test may not mount. */
static void vfs_mountpoint(void)
{
	struct fx *f = &fx_vfs;
	struct fsal_key d, mnt, k;
	char name[32], path[512];

	fresh(f, &d, name);
	mkdir_(f, &d, "mnt", 0755, &mnt);
	as_root(f);
	snprintf(path, sizeof(path), "%s/%s/mnt", f->path, name);
	if (mount("twinfs-test", path, "tmpfs", 0, "size=1m") != 0) {
		fprintf(stderr, "(mount: %s, skipped) ", strerror(errno));
		return;
	}
	CU_ASSERT_EQUAL(lookup(f, &d, "mnt", &k), -EXDEV);
	CU_ASSERT_EQUAL(umount2(path, MNT_DETACH), 0);
	CU_ASSERT_EQUAL(lookup(f, &d, "mnt", &k), 0);
	CU_ASSERT(fsal_key_eq(&k, &mnt));
}

static void vfs_export_errors(void)
{
	struct fsal_export *e;
	char path[300];

	as_root(&fx_vfs);
	CU_ASSERT_EQUAL(fsal_vfs_ops.export_open("/nonexistent/twinfs", NULL, &e), -ENOENT);
	CU_ASSERT_EQUAL(fsal_vfs_ops.export_open(fx_vfs.path, "opt=1", &e), -EINVAL);
	snprintf(path, sizeof(path), "%s/afile", fx_vfs.path);
	fclose(fopen(path, "w"));
	CU_ASSERT_EQUAL(fsal_vfs_ops.export_open(path, NULL, &e), -ENOTDIR);
	CU_ASSERT_EQUAL(fsal_vfs_ops.export_open(fx_vfs.path, "", &e), 0);
	fsal_vfs_ops.export_close(e);
}

/* --- vfs: extended attributes ----------------------------------------------------- */

/* The value of name, compared with want (NULL: expect the error err). */
static void xget(struct fx *f, const struct fsal_cred *c, const struct fsal_key *k,
		 const char *name, const char *want, int err)
{
	char buf[64] = {0};
	size_t len = 0;
	int rc = f->ops->getxattr(f->exp, c, k, name, buf, sizeof(buf), &len);

	CU_ASSERT_EQUAL(rc, want ? 0 : err);
	if (want && rc == 0) {
		CU_ASSERT_EQUAL(len, strlen(want));
		CU_ASSERT_EQUAL(memcmp(buf, want, strlen(want)), 0);
	}
}

static int xset(struct fx *f, const struct fsal_cred *c, const struct fsal_key *k, const char *name,
		const char *value, enum fsal_xattr_how how)
{
	return f->ops->setxattr(f->exp, c, k, name, value, strlen(value), how);
}

/* A file in a fresh directory, its path in path; false when the filesystem under
 * $TMPDIR has no user xattrs (then the test passes vacuously). */
static bool xattr_file(struct fx *f, struct fsal_key *d, struct fsal_key *file, char *path)
{
	char name[32];
	size_t len;

	fresh(f, d, name);
	mkfile(f, d, "f", 0644, file);
	snprintf(path, 512, "%s/%s/f", f->path, name);
	if (f->ops->getxattr(f->exp, &ROOT, file, "x", NULL, 0, &len) == -EOPNOTSUPP) {
		fprintf(stderr, "(no user xattrs here, skipped) ");
		return false;
	}
	return true;
}

/* Create, replace, either; the errors of each; a value that does not fit; remove. */
static void vfs_xattr_values(void)
{
	struct fx *f = &fx_vfs;
	struct fsal_key d, k;
	char path[512], name[FSAL_XATTR_NAME_MAX + 1];

	if (!xattr_file(f, &d, &k, path))
		return;
	xget(f, &ROOT, &k, "a", NULL, -ENODATA);
	CU_ASSERT_EQUAL(xset(f, &ROOT, &k, "a", "one", FSAL_XATTR_CREATE), 0);
	xget(f, &ROOT, &k, "a", "one", 0);
	CU_ASSERT_EQUAL(xset(f, &ROOT, &k, "a", "two", FSAL_XATTR_CREATE), -EEXIST);
	CU_ASSERT_EQUAL(xset(f, &ROOT, &k, "b", "two", FSAL_XATTR_REPLACE), -ENODATA);
	CU_ASSERT_EQUAL(xset(f, &ROOT, &k, "a", "three", FSAL_XATTR_REPLACE), 0);
	CU_ASSERT_EQUAL(xset(f, &ROOT, &k, "b", "", FSAL_XATTR_EITHER), 0);
	xget(f, &ROOT, &k, "a", "three", 0);
	xget(f, &ROOT, &k, "b", "", 0);
	char small[8];
	size_t len;
	CU_ASSERT_EQUAL(f->ops->getxattr(f->exp, &ROOT, &k, "a", small, 4, &len), -ERANGE);
	as_root(f);
	CU_ASSERT_EQUAL(getxattr(path, "user.a", small, sizeof(small)), 5); /* on disk */
	CU_ASSERT_EQUAL(f->ops->removexattr(f->exp, &ROOT, &k, "a"), 0);
	xget(f, &ROOT, &k, "a", NULL, -ENODATA);
	CU_ASSERT_EQUAL(f->ops->removexattr(f->exp, &ROOT, &k, "a"), -ENODATA);
	CU_ASSERT_EQUAL(xset(f, &ROOT, &k, "", "v", FSAL_XATTR_EITHER), -EINVAL);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0'; /* with "user." past Linux's 255 */
	CU_ASSERT_EQUAL(xset(f, &ROOT, &k, name, "v", FSAL_XATTR_EITHER), -ENAMETOOLONG);
	name[250] = '\0';
	CU_ASSERT_EQUAL(xset(f, &ROOT, &k, name, "v", FSAL_XATTR_EITHER), 0);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "f", false), 0);
	xget(f, &ROOT, &k, "b", NULL, -ESTALE);
}

struct xlist {
	char names[8][16];
	unsigned n, limit;
};

static bool xlist_cb(void *arg, const char *name, size_t len)
{
	struct xlist *l = arg;

	if (l->n == l->limit)
		return false;
	if (l->n < 8 && len < 16)
		memcpy(l->names[l->n], name, len);
	l->n++;
	return true;
}

static bool xlist_has(const struct xlist *l, const char *name)
{
	for (unsigned i = 0; i < l->n && i < 8; i++)
		if (!strcmp(l->names[i], name))
			return true;
	return false;
}

/* Only user.* names are listed, without their prefix; the callback can stop it. */
static void vfs_xattr_list(void)
{
	struct fx *f = &fx_vfs;
	struct fsal_key d, k;
	char path[512];
	struct xlist l = {.limit = 8};

	if (!xattr_file(f, &d, &k, path))
		return;
	CU_ASSERT_EQUAL(f->ops->listxattr(f->exp, &ROOT, &k, xlist_cb, &l), 0);
	CU_ASSERT_EQUAL(l.n, 0);
	CU_ASSERT_EQUAL(xset(f, &ROOT, &k, "a", "1", FSAL_XATTR_CREATE), 0);
	CU_ASSERT_EQUAL(xset(f, &ROOT, &k, "b", "2", FSAL_XATTR_CREATE), 0);
	as_root(f);
	CU_ASSERT_EQUAL(setxattr(path, "trusted.hidden", "3", 1, 0), 0);
	memset(&l, 0, sizeof(l));
	l.limit = 8;
	CU_ASSERT_EQUAL(f->ops->listxattr(f->exp, &ROOT, &k, xlist_cb, &l), 0);
	CU_ASSERT_EQUAL(l.n, 2);
	CU_ASSERT(xlist_has(&l, "a"));
	CU_ASSERT(xlist_has(&l, "b"));
	memset(&l, 0, sizeof(l));
	l.limit = 1;
	CU_ASSERT_EQUAL(f->ops->listxattr(f->exp, &ROOT, &k, xlist_cb, &l), 0);
	CU_ASSERT_EQUAL(l.n, 1);
}

/* As the caller: reading needs read permission, writing write permission; a symlink
 * has no user xattrs and takes none (Linux), and its target's are not reached. */
static void vfs_xattr_perm(void)
{
	struct fx *f = &fx_vfs;
	struct fsal_key d, k, lnk;
	char path[512];
	struct xlist l = {.limit = 8};

	if (!xattr_file(f, &d, &k, path))
		return;
	CU_ASSERT_EQUAL(xset(f, &ROOT, &k, "a", "1", FSAL_XATTR_CREATE), 0);
	xget(f, &USER, &k, "a", "1", 0);
	CU_ASSERT_EQUAL(xset(f, &USER, &k, "a", "2", FSAL_XATTR_EITHER), -EACCES);
	CU_ASSERT_EQUAL(f->ops->removexattr(f->exp, &USER, &k, "a"), -EACCES);
	CU_ASSERT_EQUAL(setmode(f, &ROOT, &k, 0600), 0);
	xget(f, &USER, &k, "a", NULL, -EACCES);
	CU_ASSERT_EQUAL(f->ops->listxattr(f->exp, &USER, &k, xlist_cb, &l), -EACCES);
	CU_ASSERT_EQUAL(f->ops->symlink(f->exp, &ROOT, &d, "l", "f", &lnk), 0);
	xget(f, &ROOT, &lnk, "a", NULL, -ENODATA);
	CU_ASSERT_EQUAL(xset(f, &ROOT, &lnk, "a", "2", FSAL_XATTR_EITHER), -EPERM);
	CU_ASSERT_EQUAL(f->ops->removexattr(f->exp, &ROOT, &lnk, "a"), -EPERM);
	CU_ASSERT_EQUAL(f->ops->listxattr(f->exp, &ROOT, &lnk, xlist_cb, &l), 0);
	CU_ASSERT_EQUAL(l.n, 0);
	CU_ASSERT_EQUAL(xset(f, &ROOT, &d, "dir", "ok", FSAL_XATTR_CREATE), 0);
	xget(f, &USER, &d, "dir", "ok", 0);
	xget(f, &ROOT, &k, "a", "1", 0);
}

/* --- mem only -------------------------------------------------------------------- */

static void mem_options(void)
{
	static const char *const bad[] = {
	    "delay_ms=",   "delay_ms=x",  "bogus=1",  "delay_ms=1,x=2",
	    "delay_ms=1,", ",delay_ms=1", "delay_ms", "delay_ms=99999999999999999999"};
	struct fsal_export *e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(fsal_mem_ops.export_open("m", bad[i], &e), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(fsal_mem_ops.export_open("m", "delay_ms=0", &e), 0);
	fsal_mem_ops.export_close(e);
	CU_ASSERT_EQUAL_FATAL(fsal_mem_ops.export_open("m", "", &e), 0);
	fsal_mem_ops.export_close(e);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void mem_delay(void)
{
	struct fsal_export *e;
	struct fsal_key root, k;
	size_t n;
	double t0;

	CU_ASSERT_EQUAL_FATAL(fsal_mem_ops.export_open("m", "delay_ms=40", &e), 0);
	fsal_mem_ops.root(e, &root);
	t0 = now_ms();
	CU_ASSERT_EQUAL(fsal_mem_ops.create(e, &ROOT, &root, "f", 0644, false, &k), 0);
	CU_ASSERT(now_ms() - t0 >= 40);
	t0 = now_ms();
	CU_ASSERT_EQUAL(fsal_mem_ops.write(e, &ROOT, &k, 0, "x", 1, FSAL_UNSTABLE, &n), 0);
	CU_ASSERT(now_ms() - t0 >= 40);
	t0 = now_ms();
	CU_ASSERT_EQUAL(fsal_mem_ops.remove(e, &ROOT, &root, "f", false), 0);
	CU_ASSERT(now_ms() - t0 >= 40);
	fsal_mem_ops.export_close(e);
}

static void test_find(void)
{
	CU_ASSERT_PTR_EQUAL(fsal_find("vfs"), &fsal_vfs_ops);
	CU_ASSERT_PTR_EQUAL(fsal_find("mem"), &fsal_mem_ops);
	CU_ASSERT_PTR_NULL(fsal_find("nfs"));
	CU_ASSERT_PTR_NULL(fsal_find(NULL));
}

/* --- suites ---------------------------------------------------------------------- */

static int suite_open(struct fx *f, const struct fsal_ops *ops, const char *path)
{
	f->ops = ops;
	f->n = 0;
	if (ops->export_open(path, NULL, &f->exp) != 0)
		return -1;
	return ops->root(f->exp, &f->root);
}

static int vfs_init(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(fx_vfs.path, sizeof(fx_vfs.path), "%s/twinfs-fsal-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(fx_vfs.path))
		return -1;
	/* Like mem's root, and so uid 1000 can reach what the tests give it. */
	if (chmod(fx_vfs.path, 0777) == 0 && suite_open(&fx_vfs, &fsal_vfs_ops, fx_vfs.path) == 0)
		return 0;
	rmdir(fx_vfs.path);
	return -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int vfs_cleanup(void)
{
	if (fx_vfs.exp)
		fsal_vfs_ops.export_close(fx_vfs.exp); /* leaves this thread as root */
	fx_vfs.exp = NULL;
	/* FTW_MOUNT: whatever happens, never remove files of another filesystem. */
	return nftw(fx_vfs.path, rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static int mem_init(void)
{
	return suite_open(&fx_mem, &fsal_mem_ops, "test");
}

static int mem_cleanup(void)
{
	fsal_mem_ops.export_close(fx_mem.exp);
	fx_mem.exp = NULL;
	return 0;
}

#define VFS_ENTRY(t) {#t, vfs_##t},
#define MEM_ENTRY(t) {#t, mem_##t},

static CU_TestInfo vfs_tests[] = {
    FSAL_SHARED_TESTS(VFS_ENTRY){"restart", vfs_restart},
    {"readdir_100k", vfs_readdir_100k},
    {"removed_is_released", vfs_removed_is_released},
    {"drop_caches", vfs_drop_caches},
    {"open_enomem", vfs_open_enomem},
    {"mountpoint", vfs_mountpoint},
    {"export_errors", vfs_export_errors},
    {"xattr_values", vfs_xattr_values},
    {"xattr_list", vfs_xattr_list},
    {"xattr_perm", vfs_xattr_perm},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo mem_tests[] = {
    FSAL_SHARED_TESTS(MEM_ENTRY){"options", mem_options},
    {"delay", mem_delay},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo misc_tests[] = {
    {"find", test_find},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"fsal", NULL, NULL, NULL, NULL, misc_tests},
    {"fsal_mem", mem_init, mem_cleanup, NULL, NULL, mem_tests},
    {"fsal_vfs", vfs_init, vfs_cleanup, NULL, NULL, vfs_tests},
    CU_SUITE_INFO_NULL,
};

static int hcache_register(void);

int twinfs_register_tests(void)
{
	if (hcache_register() != 0)
		return -1;
	return CU_register_suites(suites) == CUE_SUCCESS ? 0 : -1;
}

/* --- vfs: handles kept for READDIRPLUS (vfs/hcache.h) ------------------------------ */

/*
 * lookup_at keeps an object's handle by inode number and birth time once the object
 * is HCACHE_MIN_AGE_NS old. These tests make the cases that could hand out a wrong
 * handle: a name removed and created again (ext4 reuses the inode number, and within
 * a clock tick the birth time too), through the server and behind its back, a rename,
 * and attributes changed after the handle was kept. Own export, own directory.
 */
#include "fsal/vfs/hcache.h"

static struct fx fx_hc;

#define HC_SEC 1000000000LL

/* The time, as hcache wants it. */
static int64_t hc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * HC_SEC + ts.tv_nsec;
}

/* Waits (bounded) until what was made at `made` is old enough for the cache. */
static void hc_wait_old(int64_t made)
{
	const struct timespec step = {0, 20 * 1000 * 1000};

	for (int i = 0; i < 200 && hc_now() < made + HCACHE_MIN_AGE_NS + HC_SEC / 10; i++)
		nanosleep(&step, NULL);
	CU_ASSERT(hc_now() >= made + HCACHE_MIN_AGE_NS);
}

static struct fsal_key hc_key(uint8_t tag)
{
	struct fsal_key k = {.len = 12};

	memset(k.data, tag, k.len);
	return k;
}

/* The cache alone, with a made-up clock: young objects are never kept. */
static void hc_unit_age(void)
{
	struct hcache *c = hcache_new(1024);
	const int64_t t = 1000 * HC_SEC;
	const struct hcache_birth young = {999, 500000000}, old = {990, 7};
	struct fsal_key k1 = hc_key(1), k2 = hc_key(2), out;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	hcache_put(c, 10, young, t, &k1);
	CU_ASSERT_FALSE(hcache_get(c, 10, young, t, &out));
	hcache_put(c, 10, (struct hcache_birth){1001, 0}, t, &k1); /* born in the future */
	CU_ASSERT_EQUAL(hcache_count(c), 0);
	hcache_put(c, 11, old, t, &k2);
	CU_ASSERT_TRUE(hcache_get(c, 11, old, t, &out));
	CU_ASSERT(fsal_key_eq(&out, &k2));
	/* the same number born at another time is another object: a miss, and the old
	 * entry goes */
	CU_ASSERT_FALSE(hcache_get(c, 11, (struct hcache_birth){990, 8}, t, &out));
	CU_ASSERT_FALSE(hcache_get(c, 11, old, t, &out));
	CU_ASSERT_EQUAL(hcache_count(c), 0);
	hcache_put(c, 11, old, t, &k2);
	hcache_put(c, 12, old, t, &k1);
	CU_ASSERT_EQUAL(hcache_count(c), 2);
	hcache_clear(c); /* a node that starts or stops serving */
	CU_ASSERT_EQUAL(hcache_count(c), 0);
	CU_ASSERT_FALSE(hcache_get(c, 11, old, t, &out));
	hcache_put(c, 12, old, t, &k1);
	CU_ASSERT_TRUE(hcache_get(c, 12, old, t, &out));
	hcache_free(c);
}

/* A full cache keeps what is in use and replaces only what was idle. */
static void hc_unit_full(void)
{
	struct hcache *c = hcache_new(64); /* one entry a shard */
	const struct hcache_birth b = {1, 0};
	int64_t t = 1000 * HC_SEC;
	struct fsal_key k = hc_key(3), out;
	unsigned kept = 0, now_kept = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (uint64_t ino = 1; ino <= 2000; ino++)
		hcache_put(c, ino, b, t, &k);
	CU_ASSERT(hcache_count(c) <= 64);
	for (uint64_t ino = 1; ino <= 2000; ino++)
		kept += hcache_get(c, ino, b, t + HC_SEC, &out);
	CU_ASSERT_EQUAL(kept, hcache_count(c));
	for (uint64_t ino = 2001; ino <= 4000; ino++)
		hcache_put(c, ino, b, t + 2 * HC_SEC, &k); /* all in use: refused */
	for (uint64_t ino = 1; ino <= 2000; ino++)
		now_kept += hcache_get(c, ino, b, t + 2 * HC_SEC, &out);
	CU_ASSERT_EQUAL(now_kept, kept);
	t += 2 * HC_SEC + HCACHE_IDLE_NS;
	for (uint64_t ino = 2001; ino <= 4000; ino++)
		hcache_put(c, ino, b, t, &k);
	now_kept = 0;
	for (uint64_t ino = 2001; ino <= 4000; ino++)
		now_kept += hcache_get(c, ino, b, t, &out);
	CU_ASSERT(now_kept > 0);
	CU_ASSERT(hcache_count(c) <= 64);
	hcache_free(c);
}

static int hc_lookup_at(struct fx *f, const struct fsal_key *dir, const char *name,
			struct fsal_key *key, struct fsal_attr *a)
{
	memset(a, 0, sizeof(*a));
	return lookup_at(f, &ROOT, dir, name, key, a);
}

/* lookup_at of dir/name gives want, twice in a row (the second from the cache);
 * its fileid in *a. Opens nothing by handle: a kept descriptor would keep the inode
 * number from being reused. */
static void hc_expect(struct fx *f, const struct fsal_key *dir, const char *name,
		      const struct fsal_key *want, struct fsal_attr *a)
{
	struct fsal_key k;

	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL_FATAL(hc_lookup_at(f, dir, name, &k, a), 0);
		CU_ASSERT(fsal_key_eq(&k, want));
	}
}

/* The same, and the key opens the object lookup_at described. */
static void hc_expect_key(struct fx *f, const struct fsal_key *dir, const char *name,
			  const struct fsal_key *want)
{
	struct fsal_attr a, b;

	hc_expect(f, dir, name, want, &a);
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, want, &b), 0);
	CU_ASSERT_EQUAL(a.fileid, b.fileid);
}

static void hc_path(const struct fx *f, const char *dir, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s/%s", f->path, dir, name);
}

/* Removed and created again through the server: the new object's handle. */
static void hc_recreate(void)
{
	struct fx *f = &fx_hc;
	struct fsal_key d, old, now;
	struct fsal_attr a;
	int64_t made = hc_now();

	fresh(f, &d, NULL);
	mkfile(f, &d, "a", 0644, &old);
	hc_wait_old(made);
	hc_expect_key(f, &d, "a", &old); /* kept now */
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "a", false), 0);
	mkfile(f, &d, "a", 0644, &now);
	CU_ASSERT_FALSE(fsal_key_eq(&old, &now));
	hc_expect_key(f, &d, "a", &now);
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &old, &a), -ESTALE);
	/* and once the new one is old enough to be kept itself */
	hc_wait_old(hc_now());
	hc_expect_key(f, &d, "a", &now);
}

/* Removed and created again behind the server's back: ext4 gives the new file the
 * freed inode number, and the kept handle (the old generation) would be stale. */
static void hc_recreate_behind(void)
{
	struct fx *f = &fx_hc;
	struct fsal_key d, old, now;
	struct fsal_attr a, b;
	char name[32], path[512];
	int64_t made = hc_now();

	fresh(f, &d, name);
	mkfile(f, &d, "b", 0644, &old);
	hc_wait_old(made);
	hc_expect(f, &d, "b", &old, &a);
	hc_path(f, name, "b", path, sizeof(path));
	CU_ASSERT_EQUAL(unlink(path), 0);
	CU_ASSERT_EQUAL(mknod(path, S_IFREG | 0644, 0), 0);
	CU_ASSERT_EQUAL_FATAL(lookup(f, &d, "b", &now), 0);
	CU_ASSERT_FALSE(fsal_key_eq(&old, &now));
	hc_expect_key(f, &d, "b", &now);
	CU_ASSERT_EQUAL(hc_lookup_at(f, &d, "b", &now, &b), 0);
	if (a.fileid != b.fileid)
		fprintf(stderr, "(inode number not reused) ");
	CU_ASSERT_EQUAL(f->ops->getattr(f->exp, &old, &b), -ESTALE);
}

/* The same within one clock tick, many times: same number, same birth time. */
static void hc_recreate_young(void)
{
	struct fx *f = &fx_hc;
	struct fsal_key d, k, got;
	struct fsal_attr a;
	char name[32], path[512];
	unsigned wrong = 0, reused = 0;
	uint64_t last = 0;

	fresh(f, &d, name);
	hc_path(f, name, "y", path, sizeof(path));
	for (int i = 0; i < 200; i++) {
		CU_ASSERT_EQUAL_FATAL(mknod(path, S_IFREG | 0644, 0), 0);
		CU_ASSERT_EQUAL_FATAL(lookup(f, &d, "y", &k), 0);
		CU_ASSERT_EQUAL_FATAL(hc_lookup_at(f, &d, "y", &got, &a), 0);
		wrong += !fsal_key_eq(&k, &got);
		reused += a.fileid == last;
		last = a.fileid;
		CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
	}
	CU_ASSERT_EQUAL(wrong, 0);
	if (!reused)
		fprintf(stderr, "(inode numbers not reused) ");
}

/* A rename keeps the handle; the old name is gone. */
static void hc_rename(void)
{
	struct fx *f = &fx_hc;
	struct fsal_key d, d2, c, k;
	struct fsal_attr a;
	int64_t made = hc_now();

	fresh(f, &d, NULL);
	fresh(f, &d2, NULL);
	mkfile(f, &d, "c", 0644, &c);
	hc_wait_old(made);
	hc_expect_key(f, &d, "c", &c);
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "c", &d, "c2"), 0);
	hc_expect_key(f, &d, "c2", &c);
	CU_ASSERT_EQUAL(hc_lookup_at(f, &d, "c", &k, &a), -ENOENT);
	CU_ASSERT_EQUAL(f->ops->rename(f->exp, &ROOT, &d, "c2", &d2, "c3"), 0);
	hc_expect_key(f, &d2, "c3", &c);
}

/* Attributes are the object's current ones, also when its handle is kept. */
static void hc_fresh_attrs(void)
{
	struct fx *f = &fx_hc;
	struct fsal_key d, w, k;
	struct fsal_attr a;
	int64_t made = hc_now();

	fresh(f, &d, NULL);
	mkfile(f, &d, "w", 0644, &w);
	hc_wait_old(made);
	hc_expect_key(f, &d, "w", &w);
	put(f, &w, 0, "hello");
	CU_ASSERT_EQUAL(hc_lookup_at(f, &d, "w", &k, &a), 0);
	CU_ASSERT_EQUAL(a.size, 5);
	const struct fsal_setattr sa = {.mask = FSAL_SET_SIZE | FSAL_SET_UID, .size = 2, .uid = 7};
	CU_ASSERT_EQUAL(f->ops->setattr(f->exp, &ROOT, &w, &sa), 0);
	CU_ASSERT_EQUAL(setmode(f, &ROOT, &w, 0600), 0);
	CU_ASSERT_EQUAL(set_old_mtime(f, &w), 0);
	CU_ASSERT_EQUAL(hc_lookup_at(f, &d, "w", &k, &a), 0);
	CU_ASSERT(fsal_key_eq(&k, &w));
	CU_ASSERT_EQUAL(a.size, 2);
	CU_ASSERT_EQUAL(a.mode, 0600);
	CU_ASSERT_EQUAL(a.uid, 7);
	CU_ASSERT_EQUAL(a.mtime.tv_sec, 1000);
	CU_ASSERT_EQUAL(a.nlink, 1);
	CU_ASSERT_EQUAL(f->ops->link(f->exp, &ROOT, &w, &d, "w2"), 0);
	CU_ASSERT_EQUAL(hc_lookup_at(f, &d, "w", &k, &a), 0);
	CU_ASSERT_EQUAL(a.nlink, 2);
	hc_expect_key(f, &d, "w2", &w);
}

/* A directory, a symlink and a mount point below the export, as lookup sees them. */
static void hc_kinds(void)
{
	struct fx *f = &fx_hc;
	struct fsal_key d, sub, ln, k;
	struct fsal_attr a;
	char name[32], path[512];
	int64_t made = hc_now();

	fresh(f, &d, name);
	mkdir_(f, &d, "sub", 0755, &sub);
	CU_ASSERT_EQUAL_FATAL(f->ops->symlink(f->exp, &ROOT, &d, "ln", "sub", &ln), 0);
	hc_wait_old(made);
	hc_expect_key(f, &d, "sub", &sub);
	hc_expect_key(f, &d, "ln", &ln);
	CU_ASSERT_EQUAL(hc_lookup_at(f, &d, "ln", &k, &a), 0);
	CU_ASSERT_EQUAL(a.type, FSAL_LNK);
	hc_path(f, name, "sub", path, sizeof(path));
	if (mount("twinfs-test", path, "tmpfs", 0, "size=1m") != 0)
		return;
	CU_ASSERT_EQUAL(hc_lookup_at(f, &d, "sub", &k, &a), -EXDEV);
	CU_ASSERT_EQUAL(umount2(path, MNT_DETACH), 0);
	hc_expect_key(f, &d, "sub", &sub);
}

/* A lookup in a directory that is gone fails without closing anybody's descriptor
 * (lookup takes the directory from the descriptor cache and gives back only what it
 * took; lookup_at uses readdir's and gives back nothing). */
static void hc_stale_dir(void)
{
	struct fx *f = &fx_hc;
	struct fsal_key d, sub, k, bad = {.len = 3};
	struct fsal_attr a;
	char name[32];
	int p[2];

	fresh(f, &d, name);
	mkfile(f, &d, "keep", 0644, &k); /* lookup_at needs an entry to look up from */
	mkdir_(f, &d, "sub", 0755, &sub);
	mkfile(f, &sub, "x", 0644, &k);
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &sub, "x", false), 0);
	CU_ASSERT_EQUAL(f->ops->remove(f->exp, &ROOT, &d, "sub", true), 0);
	for (int i = 0; i < 50; i++) {
		CU_ASSERT_EQUAL(hc_lookup_at(f, &d, "nothing", &k, &a), -ENOENT);
		CU_ASSERT_EQUAL(hc_lookup_at(f, &sub, "x", &k, &a), -ESTALE);
		CU_ASSERT_EQUAL(hc_lookup_at(f, &bad, "x", &k, &a), -ESTALE);
		CU_ASSERT_EQUAL(lookup(f, &sub, "x", &k), -ESTALE);
	}
	CU_ASSERT(fcntl(p[0], F_GETFD) >= 0 && fcntl(p[1], F_GETFD) >= 0);
	CU_ASSERT_EQUAL(hc_lookup_at(f, &f->root, name, &k, &a), 0);
	CU_ASSERT(fsal_key_eq(&k, &d));
	close(p[0]);
	close(p[1]);
}

static int hc_init(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(fx_hc.path, sizeof(fx_hc.path), "%s/twinfs-hcache-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(fx_hc.path))
		return -1;
	if (chmod(fx_hc.path, 0777) == 0 && suite_open(&fx_hc, &fsal_vfs_ops, fx_hc.path) == 0)
		return 0;
	rmdir(fx_hc.path);
	return -1;
}

static int hc_cleanup(void)
{
	if (fx_hc.exp)
		fsal_vfs_ops.export_close(fx_hc.exp);
	fx_hc.exp = NULL;
	return nftw(fx_hc.path, rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static CU_TestInfo hcache_tests[] = {
    {"unit_age", hc_unit_age},
    {"unit_full", hc_unit_full},
    {"recreate", hc_recreate},
    {"recreate_behind", hc_recreate_behind},
    {"recreate_young", hc_recreate_young},
    {"rename", hc_rename},
    {"fresh_attrs", hc_fresh_attrs},
    {"kinds", hc_kinds},
    {"stale_dir", hc_stale_dir},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo hcache_suites[] = {
    {"fsal_vfs_hcache", hc_init, hc_cleanup, NULL, NULL, hcache_tests},
    CU_SUITE_INFO_NULL,
};

static int hcache_register(void)
{
	return CU_register_suites(hcache_suites) == CUE_SUCCESS ? 0 : -1;
}
