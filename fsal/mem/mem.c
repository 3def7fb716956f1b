/*
 * mem/mem.c — an in-memory FSAL backend, for tests of the protocol code.
 *
 * What it models: a POSIX filesystem that lives as long as its export. Nodes are
 * numbered by an inode number that is never reused (a freed node's slot stays NULL,
 * so an old key gives -ESTALE, never another object); the key is that number as 8
 * little-endian bytes. Permission checks follow POSIX mode bits against the cred:
 * owner bits for the owner, group bits for a member of the file's group, other bits
 * otherwise; uid 0 passes every check except X on a non-directory without any x bit.
 * READ and WRITE add knfsd's exceptions, as the vfs backend does: the owner may read
 * and write his own file, and execute permission allows reading.
 *
 * Directories: entries sit in an array ordered by a per-directory sequence number,
 * given when the entry is made and never reused. The sequence number is the readdir
 * cookie, so cookies stay valid while other entries come and go (a removed entry
 * leaves a hole, compacted once holes outnumber entries; cookies are numbers, not
 * positions). A renamed entry gets a new number, as it would a new d_off on disk.
 * Names are found through one hash table per export keyed by (directory, name).
 *
 * Locking: one rwlock per export. Lookups, getattr, read, readdir and the like take it
 * shared; anything that changes the tree takes it exclusive. The readdir callback
 * runs with the lock held shared; the lock prefers readers, so a callback may call
 * read-side ops of the same export, but must not call one that modifies it.
 *
 * Timestamps: mtime/ctime as POSIX says (the directory's on create/remove/rename, the
 * file's on write/truncate, ctime on every change). atime is never updated by reads
 * (as with noatime). The root is a directory, mode 0777, owned by 0:0.
 *
 * Options: "delay_ms=N" (0..60000) makes every modifying op (write, create, mkdir,
 * symlink, mknod, remove, rename, link, setattr) sleep N ms before taking the lock,
 * so tests can hold requests in flight. Any other option gives -EINVAL.
 *
 * Left out: sticky bit, ACLs, atime, sparse files (a file is one buffer, at most
 * MEM_MAX_FILE bytes, else -EFBIG).
 */
#include "fsal/fsal.h"
#include "fsal/fsal_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MEM_KEY_LEN	8
#define MEM_MAX_FILE	(1ull << 30)
#define MEM_BLOCK	4096ull
#define MEM_TOTAL_BYTES (64ull << 30)
#define MEM_TOTAL_FILES (1ull << 20)
#define MEM_DELAY_MAX	60000ul

struct mem_dirent;

struct mem_slot {
	uint64_t seq;
	struct mem_dirent *ent; /* NULL: removed, until the next compaction */
};

struct mem_node {
	uint64_t ino;
	enum fsal_type type;
	uint32_t mode; /* 07777 */
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint32_t rdev_major;
	uint32_t rdev_minor;
	struct timespec atime, mtime, ctime;
	uint64_t size;		 /* REG: bytes of data; LNK: length of target */
	unsigned char *data;	 /* REG */
	uint64_t cap;		 /* REG: bytes allocated for data */
	char *target;		 /* LNK */
	struct mem_node *parent; /* DIR: its ".." (the root's is itself) */
	struct mem_slot *slots;	 /* DIR: entries by increasing seq */
	size_t nslots, slotcap, nlive;
	uint64_t next_seq; /* DIR: from 1, so a cookie is never 0 */
};

struct mem_dirent {
	struct mem_dirent *hnext; /* hash chain */
	struct mem_node *dir;
	struct mem_node *node;
	uint64_t seq;
	uint64_t hash;
	size_t namelen;
	char name[];
};

struct fsal_export {
	pthread_rwlock_t lock;
	unsigned long delay_ms;
	uint64_t fsid;
	struct mem_node **nodes; /* by ino; NULL once freed, ino 0 unused */
	uint64_t next_ino;
	uint64_t nodecap;
	uint64_t live;	/* nodes, for statfs */
	uint64_t bytes; /* file data, for statfs */
	struct mem_dirent **buckets;
	size_t nbuckets; /* a power of two */
	size_t nents;
};

/* What a creating op makes. */
struct mem_mk {
	enum fsal_type type;
	uint32_t mode;
	uint32_t major, minor;
	const char *target; /* LNK */
	bool reuse;	    /* REG: an existing regular file is fine (UNCHECKED) */
};

/* --- small helpers --------------------------------------------------------------- */

static struct timespec mem__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

static void mem__touch(struct mem_node *n)
{
	n->mtime = mem__now();
	n->ctime = n->mtime;
}

static void mem__delay(const struct fsal_export *exp)
{
	struct timespec ts = {(time_t)(exp->delay_ms / 1000),
			      (long)(exp->delay_ms % 1000) * 1000000L};

	if (!exp->delay_ms)
		return;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		continue;
}

static uint64_t mem__hash(uint64_t ino, const char *name, size_t len)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 1099511628211ull;
	}
	h ^= ino;
	h *= 1099511628211ull;
	return h ^ (h >> 29);
}

static void mem__key(const struct mem_node *n, struct fsal_key *key)
{
	key->len = MEM_KEY_LEN;
	for (int i = 0; i < MEM_KEY_LEN; i++)
		key->data[i] = (unsigned char)(n->ino >> (8 * i));
}

static int mem__get(const struct fsal_export *exp, const struct fsal_key *key,
		    struct mem_node **out)
{
	uint64_t ino = 0;

	if (key->len != MEM_KEY_LEN)
		return -ESTALE;
	for (int i = MEM_KEY_LEN - 1; i >= 0; i--)
		ino = ino << 8 | key->data[i];
	if (ino >= exp->next_ino || !exp->nodes[ino])
		return -ESTALE;
	*out = exp->nodes[ino];
	return 0;
}

static int mem__get_dir(const struct fsal_export *exp, const struct fsal_key *key,
			struct mem_node **out)
{
	int rc = mem__get(exp, key, out);

	if (!rc && (*out)->type != FSAL_DIR)
		rc = -ENOTDIR;
	return rc;
}

/* Regular files only: -EISDIR for a directory, -EINVAL for the rest. */
static int mem__get_reg(const struct fsal_export *exp, const struct fsal_key *key,
			struct mem_node **out)
{
	int rc = mem__get(exp, key, out);

	if (!rc && (*out)->type == FSAL_DIR)
		rc = -EISDIR;
	else if (!rc && (*out)->type != FSAL_REG)
		rc = -EINVAL;
	return rc;
}

/* --- permissions ----------------------------------------------------------------- */

static bool mem__in_group(const struct fsal_cred *c, uint32_t gid)
{
	if (c->gid == gid)
		return true;
	for (uint32_t i = 0; i < c->ngroups && i < FSAL_MAX_GROUPS; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

static bool mem__owner(const struct mem_node *n, const struct fsal_cred *c)
{
	return c->uid == 0 || c->uid == n->uid;
}

/* POSIX mode bits: want is R_OK|W_OK|X_OK, which are the rwx bits' values. */
static int mem__may(const struct mem_node *n, const struct fsal_cred *c, int want)
{
	uint32_t bits;

	if (c->uid == 0) {
		if (!(want & X_OK) || n->type == FSAL_DIR || (n->mode & 0111))
			return 0;
		return -EACCES;
	}
	if (c->uid == n->uid)
		bits = n->mode >> 6;
	else if (mem__in_group(c, n->gid))
		bits = n->mode >> 3;
	else
		bits = n->mode;
	return ((int)(bits & 7) & want) == want ? 0 : -EACCES;
}

/* READ/WRITE as knfsd allows them: see the top. */
static int mem__may_io(const struct mem_node *n, const struct fsal_cred *c, int want)
{
	if (mem__owner(n, c))
		return 0;
	if (mem__may(n, c, want) == 0)
		return 0;
	if (want == R_OK)
		return mem__may(n, c, X_OK);
	return -EACCES;
}

/* A non-root writer or chown clears set-user-ID, and set-group-ID where it means
 * "group executable" (Linux's file_remove_privs). */
static void mem__kill_suid(struct mem_node *n)
{
	n->mode &= ~(uint32_t)S_ISUID;
	if (n->mode & S_IXGRP)
		n->mode &= ~(uint32_t)S_ISGID;
}

/* --- nodes ----------------------------------------------------------------------- */

static int mem__node_slot(struct fsal_export *exp)
{
	struct mem_node **p;
	uint64_t cap;

	if (exp->next_ino < exp->nodecap)
		return 0;
	cap = exp->nodecap * 2;
	p = realloc(exp->nodes, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + exp->nodecap, 0, (cap - exp->nodecap) * sizeof(*p));
	exp->nodes = p;
	exp->nodecap = cap;
	return 0;
}

/* A new node in dir (NULL: the root), owned by c, with set-group-ID directories
 * passing on their group as on Linux. */
static int mem__node_new(struct fsal_export *exp, const struct fsal_cred *c, struct mem_node *dir,
			 const struct mem_mk *mk, struct mem_node **out)
{
	bool sgid = dir && (dir->mode & S_ISGID);
	struct mem_node *n;

	if (mem__node_slot(exp) != 0 || !(n = calloc(1, sizeof(*n))))
		return -ENOMEM;
	n->ino = exp->next_ino++;
	n->type = mk->type;
	n->mode = mk->mode & 07777;
	n->uid = c->uid;
	n->gid = sgid ? dir->gid : c->gid;
	if (sgid && mk->type == FSAL_DIR)
		n->mode |= S_ISGID;
	n->nlink = mk->type == FSAL_DIR ? 2 : 1;
	n->rdev_major = mk->major;
	n->rdev_minor = mk->minor;
	n->atime = mem__now();
	n->mtime = n->atime;
	n->ctime = n->atime;
	n->parent = dir ? dir : n;
	n->next_seq = 1;
	exp->nodes[n->ino] = n;
	exp->live++;
	*out = n;
	return 0;
}

static void mem__node_free(struct fsal_export *exp, struct mem_node *n)
{
	exp->nodes[n->ino] = NULL;
	exp->live--;
	if (n->type == FSAL_REG)
		exp->bytes -= n->size;
	free(n->data);
	free(n->target);
	free(n->slots);
	free(n);
}

/* n lost its entry in dir: a directory (empty) goes, a file loses a link. */
static void mem__drop(struct fsal_export *exp, struct mem_node *dir, struct mem_node *n)
{
	if (n->type == FSAL_DIR) {
		dir->nlink--;
		mem__node_free(exp, n);
		return;
	}
	n->ctime = mem__now();
	if (--n->nlink == 0)
		mem__node_free(exp, n);
}

static int mem__resize(struct fsal_export *exp, struct mem_node *n, uint64_t size)
{
	if (size > MEM_MAX_FILE)
		return -EFBIG;
	if (size > n->cap) {
		uint64_t cap = n->cap * 2 > size ? n->cap * 2 : size;
		unsigned char *p;

		cap = cap > MEM_MAX_FILE ? MEM_MAX_FILE : cap;
		p = realloc(n->data, cap);
		if (!p)
			return -ENOMEM;
		n->data = p;
		n->cap = cap;
	}
	if (size > n->size)
		memset(n->data + n->size, 0, size - n->size);
	exp->bytes = exp->bytes - n->size + size;
	n->size = size;
	return 0;
}

/* --- directory entries ----------------------------------------------------------- */

static struct mem_dirent *mem__find(const struct fsal_export *exp, const struct mem_node *dir,
				    const char *name)
{
	size_t len = strlen(name);
	uint64_t h = mem__hash(dir->ino, name, len);
	struct mem_dirent *e = exp->buckets[h & (exp->nbuckets - 1)];

	for (; e; e = e->hnext)
		if (e->hash == h && e->dir == dir && e->namelen == len &&
		    memcmp(e->name, name, len) == 0)
			return e;
	return NULL;
}

/* Doubles the table; on ENOMEM keeps the old one (longer chains, still correct). */
static void mem__rehash(struct fsal_export *exp)
{
	size_t n = exp->nbuckets * 2;
	struct mem_dirent **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < exp->nbuckets; i++) {
		struct mem_dirent *e = exp->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(exp->buckets);
	exp->buckets = b;
	exp->nbuckets = n;
}

/* Everything an entry needs that can fail, done before the tree changes: the entry
 * and a free slot in dir. mem__link_ent then cannot fail. */
static struct mem_dirent *mem__ent_prepare(struct mem_node *dir, const char *name)
{
	size_t len = strlen(name);
	struct mem_dirent *e;

	if (dir->nslots == dir->slotcap) {
		size_t cap = dir->slotcap ? dir->slotcap * 2 : 16;
		struct mem_slot *s = realloc(dir->slots, cap * sizeof(*s));

		if (!s)
			return NULL;
		dir->slots = s;
		dir->slotcap = cap;
	}
	e = malloc(sizeof(*e) + len + 1);
	if (e) {
		memcpy(e->name, name, len + 1);
		e->namelen = len;
	}
	return e;
}

static void mem__link_ent(struct fsal_export *exp, struct mem_node *dir, struct mem_dirent *e,
			  struct mem_node *node)
{
	struct mem_dirent **b;

	e->dir = dir;
	e->node = node;
	e->seq = dir->next_seq++;
	e->hash = mem__hash(dir->ino, e->name, e->namelen);
	dir->slots[dir->nslots++] = (struct mem_slot){e->seq, e};
	dir->nlive++;
	b = &exp->buckets[e->hash & (exp->nbuckets - 1)];
	e->hnext = *b;
	*b = e;
	if (++exp->nents > exp->nbuckets)
		mem__rehash(exp);
}

/* Index of the first slot whose seq is above cookie. */
static size_t mem__slot_after(const struct mem_node *dir, uint64_t cookie)
{
	size_t lo = 0, hi = dir->nslots;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (dir->slots[mid].seq <= cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void mem__compact(struct mem_node *dir)
{
	size_t j = 0;

	for (size_t i = 0; i < dir->nslots; i++)
		if (dir->slots[i].ent)
			dir->slots[j++] = dir->slots[i];
	dir->nslots = j;
}

static void mem__unlink_ent(struct fsal_export *exp, struct mem_dirent *e)
{
	struct mem_node *dir = e->dir;
	struct mem_dirent **pp = &exp->buckets[e->hash & (exp->nbuckets - 1)];

	dir->slots[mem__slot_after(dir, e->seq - 1)].ent = NULL;
	dir->nlive--;
	if (dir->nslots > 32 && dir->nlive < dir->nslots / 2)
		mem__compact(dir);
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	exp->nents--;
	free(e);
}

/* --- export ---------------------------------------------------------------------- */

static int mem__parse_opt(const char *opt, size_t len, unsigned long *delay)
{
	static const char key[] = "delay_ms=";
	const size_t klen = sizeof(key) - 1;
	unsigned long v = 0;

	if (len <= klen || strncmp(opt, key, klen) != 0)
		return -EINVAL;
	for (size_t i = klen; i < len; i++) {
		if (opt[i] < '0' || opt[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(opt[i] - '0');
		if (v > MEM_DELAY_MAX)
			return -EINVAL;
	}
	*delay = v;
	return 0;
}

/* Comma-separated; an empty item (",," or a trailing ',') is an error too. */
static int mem__parse_options(const char *options, unsigned long *delay)
{
	const char *p = options;

	*delay = 0;
	if (!options || !options[0])
		return 0;
	for (;;) {
		const char *end = strchrnul(p, ',');
		int rc = mem__parse_opt(p, (size_t)(end - p), delay);

		if (rc)
			return rc;
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

static int mem__export_init(struct fsal_export *exp, const char *name)
{
	const struct mem_mk root = {.type = FSAL_DIR, .mode = 0777};
	const struct fsal_cred rootcred = {0};
	struct mem_node *n;

	exp->fsid = mem__hash(0, name, strlen(name));
	exp->nbuckets = 64;
	exp->buckets = calloc(exp->nbuckets, sizeof(*exp->buckets));
	exp->nodecap = 64;
	exp->nodes = calloc(exp->nodecap, sizeof(*exp->nodes));
	exp->next_ino = 1;
	if (!exp->buckets || !exp->nodes)
		return -ENOMEM;
	return mem__node_new(exp, &rootcred, NULL, &root, &n);
}

static void mem_export_close(struct fsal_export *exp)
{
	if (!exp)
		return;
	for (size_t i = 0; exp->buckets && i < exp->nbuckets; i++) {
		struct mem_dirent *e = exp->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			free(e);
		}
	}
	for (uint64_t i = 0; exp->nodes && i < exp->next_ino; i++)
		if (exp->nodes[i])
			mem__node_free(exp, exp->nodes[i]);
	pthread_rwlock_destroy(&exp->lock);
	free(exp->buckets);
	free(exp->nodes);
	free(exp);
}

static int mem_export_open(const char *name, const char *options, struct fsal_export **out)
{
	struct fsal_export *exp;
	pthread_rwlockattr_t attr;
	unsigned long delay;
	int rc = mem__parse_options(options, &delay);

	if (rc)
		return rc;
	exp = calloc(1, sizeof(*exp));
	if (!exp)
		return -ENOMEM;
	exp->delay_ms = delay;
	/* Reader-preferring, so a readdir callback may take the lock shared again. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_READER_NP);
	pthread_rwlock_init(&exp->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	rc = mem__export_init(exp, name ? name : "");
	if (rc) {
		mem_export_close(exp);
		return rc;
	}
	*out = exp;
	return 0;
}

static int mem_root(struct fsal_export *exp, struct fsal_key *out)
{
	out->len = MEM_KEY_LEN;
	memset(out->data, 0, MEM_KEY_LEN);
	out->data[0] = 1; /* the root is always ino 1 */
	(void)exp;
	return 0;
}

/* --- attributes ------------------------------------------------------------------ */

static void mem__attr(const struct fsal_export *exp, const struct mem_node *n, struct fsal_attr *a)
{
	a->type = n->type;
	a->mode = n->mode;
	a->nlink = n->nlink;
	a->uid = n->uid;
	a->gid = n->gid;
	a->size = n->type == FSAL_DIR ? MEM_BLOCK : n->size;
	a->used = (a->size + MEM_BLOCK - 1) / MEM_BLOCK * MEM_BLOCK;
	a->rdev_major = n->rdev_major;
	a->rdev_minor = n->rdev_minor;
	a->fsid = exp->fsid;
	a->fileid = n->ino;
	a->atime = n->atime;
	a->mtime = n->mtime;
	a->ctime = n->ctime;
}

static int mem_getattr(struct fsal_export *exp, const struct fsal_key *key, struct fsal_attr *out)
{
	struct mem_node *n;
	int rc;

	pthread_rwlock_rdlock(&exp->lock);
	rc = mem__get(exp, key, &n);
	if (!rc)
		mem__attr(exp, n, out);
	pthread_rwlock_unlock(&exp->lock);
	return rc;
}

static int mem__size_check(const struct mem_node *n, const struct fsal_cred *c, uint64_t size)
{
	if (n->type == FSAL_DIR)
		return -EISDIR;
	if (n->type != FSAL_REG)
		return -EINVAL;
	if (size > MEM_MAX_FILE)
		return -EFBIG;
	return mem__may_io(n, c, W_OK);
}

/* As Linux's utimensat: setting both times to now needs write permission, any other
 * change of times needs ownership. */
static int mem__times_check(const struct mem_node *n, const struct fsal_cred *c, uint32_t m)
{
	const uint32_t any =
	    FSAL_SET_ATIME | FSAL_SET_ATIME_NOW | FSAL_SET_MTIME | FSAL_SET_MTIME_NOW;

	if (!(m & any) || mem__owner(n, c))
		return 0;
	if ((m & FSAL_SET_ATIME_NOW) && (m & FSAL_SET_MTIME_NOW))
		return mem__may(n, c, W_OK);
	return -EPERM;
}

/* Every check before any change, so a refused SETATTR changes nothing. */
static int mem__setattr_check(const struct mem_node *n, const struct fsal_cred *c,
			      const struct fsal_setattr *sa)
{
	uint32_t m = sa->mask;
	int rc;

	if ((m & FSAL_SET_MODE) && n->type == FSAL_LNK)
		return -EOPNOTSUPP; /* as Linux: symlinks have no mode */
	if ((m & FSAL_SET_MODE) && !mem__owner(n, c))
		return -EPERM;
	if ((m & FSAL_SET_UID) && c->uid != 0 && (c->uid != n->uid || sa->uid != n->uid))
		return -EPERM;
	if ((m & FSAL_SET_GID) && c->uid != 0 && (c->uid != n->uid || !mem__in_group(c, sa->gid)))
		return -EPERM;
	if (m & FSAL_SET_SIZE) {
		rc = mem__size_check(n, c, sa->size);
		if (rc)
			return rc;
	}
	return mem__times_check(n, c, m);
}

static void mem__set_times(struct mem_node *n, const struct fsal_setattr *sa,
			   const struct timespec *now)
{
	if (sa->mask & FSAL_SET_ATIME_NOW)
		n->atime = *now;
	else if (sa->mask & FSAL_SET_ATIME)
		n->atime = sa->atime;
	if (sa->mask & FSAL_SET_MTIME_NOW)
		n->mtime = *now;
	else if (sa->mask & FSAL_SET_MTIME)
		n->mtime = sa->mtime;
}

/* Same order as vfs: size, owner, mode, times. Only the resize can fail. */
static int mem__setattr_apply(struct fsal_export *exp, struct mem_node *n,
			      const struct fsal_cred *c, const struct fsal_setattr *sa)
{
	struct timespec now = mem__now();
	int rc;

	if (sa->mask & FSAL_SET_SIZE) {
		rc = mem__resize(exp, n, sa->size);
		if (rc)
			return rc;
		n->mtime = now;
	}
	if (sa->mask & FSAL_SET_UID)
		n->uid = sa->uid;
	if (sa->mask & FSAL_SET_GID)
		n->gid = sa->gid;
	if ((sa->mask & (FSAL_SET_UID | FSAL_SET_GID)) && n->type != FSAL_DIR)
		mem__kill_suid(n);
	if (sa->mask & FSAL_SET_MODE) {
		n->mode = sa->mode & 07777;
		if (c->uid != 0 && !mem__in_group(c, n->gid))
			n->mode &= ~(uint32_t)S_ISGID;
	}
	mem__set_times(n, sa, &now);
	n->ctime = now;
	return 0;
}

static int mem_setattr(struct fsal_export *exp, const struct fsal_cred *cred,
		       const struct fsal_key *key, const struct fsal_setattr *sa)
{
	struct mem_node *n;
	int rc;

	mem__delay(exp);
	pthread_rwlock_wrlock(&exp->lock);
	rc = mem__get(exp, key, &n);
	if (!rc)
		rc = mem__setattr_check(n, cred, sa);
	if (!rc)
		rc = mem__setattr_apply(exp, n, cred, sa);
	pthread_rwlock_unlock(&exp->lock);
	return rc;
}

/* --- lookup and access ----------------------------------------------------------- */

static int mem__child(const struct fsal_export *exp, struct mem_node *dir, const char *name,
		      struct mem_node **out)
{
	struct mem_dirent *e;

	if (strcmp(name, ".") == 0) {
		*out = dir;
		return 0;
	}
	if (strcmp(name, "..") == 0) {
		*out = dir->parent; /* the root's parent is the root */
		return 0;
	}
	e = mem__find(exp, dir, name);
	if (!e)
		return -ENOENT;
	*out = e->node;
	return 0;
}

static int mem_lookup(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *dirkey, const char *name, struct fsal_key *out)
{
	struct mem_node *dir, *n;
	int rc = fsal__check_name(name, true);

	if (rc)
		return rc;
	pthread_rwlock_rdlock(&exp->lock);
	rc = mem__get_dir(exp, dirkey, &dir);
	if (!rc)
		rc = mem__may(dir, cred, X_OK);
	if (!rc)
		rc = mem__child(exp, dir, name, &n);
	if (!rc)
		mem__key(n, out);
	pthread_rwlock_unlock(&exp->lock);
	return rc;
}

/* The directory mem_readdir lends its callback (fsal.h). That readdir holds the export's
 * lock (shared) while the callback runs, so the node stays as it is meanwhile. */
struct fsal_dir {
	struct mem_node *node;
};

/* Takes no lock of its own: the readdir that lent dir holds it. */
static int mem_lookup_at(struct fsal_export *exp, const struct fsal_cred *cred,
			 const struct fsal_dir *dir, const char *name, struct fsal_key *out,
			 struct fsal_attr *attr)
{
	struct mem_node *n;
	int rc = fsal__check_name(name, true);

	if (!rc)
		rc = mem__may(dir->node, cred, X_OK);
	if (!rc)
		rc = mem__child(exp, dir->node, name, &n);
	if (!rc)
		mem__key(n, out);
	if (!rc && attr)
		mem__attr(exp, n, attr);
	return rc;
}

static int mem_access(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *key, int want)
{
	struct mem_node *n;
	int rc;

	if (want & ~(R_OK | W_OK | X_OK))
		return -EINVAL;
	pthread_rwlock_rdlock(&exp->lock);
	rc = mem__get(exp, key, &n);
	if (!rc)
		rc = mem__may(n, cred, want);
	pthread_rwlock_unlock(&exp->lock);
	return rc;
}

/* --- I/O ------------------------------------------------------------------------- */

static int mem_read(struct fsal_export *exp, const struct fsal_cred *cred,
		    const struct fsal_key *key, uint64_t off, void *buf, size_t len, size_t *nread,
		    bool *eof)
{
	struct mem_node *n;
	int rc;

	pthread_rwlock_rdlock(&exp->lock);
	rc = mem__get_reg(exp, key, &n);
	if (!rc)
		rc = mem__may_io(n, cred, R_OK);
	if (!rc) {
		uint64_t avail = off < n->size ? n->size - off : 0;

		*nread = avail < len ? (size_t)avail : len;
		if (*nread)
			memcpy(buf, n->data + off, *nread);
		*eof = off + *nread >= n->size;
	}
	pthread_rwlock_unlock(&exp->lock);
	return rc;
}

static int mem__write_locked(struct fsal_export *exp, struct mem_node *n, const struct fsal_cred *c,
			     uint64_t off, const void *buf, size_t len)
{
	int rc = mem__may_io(n, c, W_OK);

	if (rc || len == 0)
		return rc;
	if (off > MEM_MAX_FILE || len > MEM_MAX_FILE - off)
		return -EFBIG;
	if (off + len > n->size) {
		rc = mem__resize(exp, n, off + len);
		if (rc)
			return rc;
	}
	memcpy(n->data + off, buf, len);
	mem__touch(n);
	if (c->uid != 0)
		mem__kill_suid(n);
	return 0;
}

/* Memory is as stable as it gets: `how` changes nothing. */
static int mem_write(struct fsal_export *exp, const struct fsal_cred *cred,
		     const struct fsal_key *key, uint64_t off, const void *buf, size_t len,
		     enum fsal_stable how, size_t *written)
{
	struct mem_node *n;
	int rc;

	(void)how;
	*written = 0;
	mem__delay(exp);
	pthread_rwlock_wrlock(&exp->lock);
	rc = mem__get_reg(exp, key, &n);
	if (!rc)
		rc = mem__write_locked(exp, n, cred, off, buf, len);
	if (!rc)
		*written = len;
	pthread_rwlock_unlock(&exp->lock);
	return rc;
}

static int mem_commit(struct fsal_export *exp, const struct fsal_key *key, uint64_t off,
		      uint64_t len)
{
	struct mem_node *n;
	int rc;

	(void)off;
	(void)len;
	pthread_rwlock_rdlock(&exp->lock);
	rc = mem__get_reg(exp, key, &n);
	pthread_rwlock_unlock(&exp->lock);
	return rc;
}

/* --- creating entries ------------------------------------------------------------ */

static int mem__add_node(struct fsal_export *exp, const struct fsal_cred *c, struct mem_node *dir,
			 const char *name, const struct mem_mk *mk, struct mem_node **out)
{
	struct mem_dirent *e = mem__ent_prepare(dir, name);
	char *target = NULL;
	struct mem_node *n;

	if (!e || (mk->target && !(target = strdup(mk->target))))
		goto nomem;
	if (mem__node_new(exp, c, dir, mk, &n) != 0)
		goto nomem;
	if (target) {
		n->target = target;
		n->size = strlen(target);
	}
	mem__link_ent(exp, dir, e, n);
	if (n->type == FSAL_DIR)
		dir->nlink++;
	mem__touch(dir);
	*out = n;
	return 0;
nomem:
	free(target);
	free(e);
	return -ENOMEM;
}

/* Order of checks as Linux's may_create: search permission, then existence, then
 * write permission; so EEXIST wins over EACCES. */
static int mem__make_locked(struct fsal_export *exp, const struct fsal_cred *c,
			    struct mem_node *dir, const char *name, const struct mem_mk *mk,
			    struct mem_node **out)
{
	struct mem_dirent *e;
	int rc = mem__may(dir, c, X_OK);

	if (rc)
		return rc;
	e = mem__find(exp, dir, name);
	if (e && mk->reuse && e->node->type == FSAL_REG) {
		*out = e->node;
		return 0;
	}
	if (e)
		return -EEXIST;
	rc = mem__may(dir, c, W_OK);
	if (rc)
		return rc;
	return mem__add_node(exp, c, dir, name, mk, out);
}

static int mem__make(struct fsal_export *exp, const struct fsal_cred *cred,
		     const struct fsal_key *dirkey, const char *name, const struct mem_mk *mk,
		     struct fsal_key *out)
{
	struct mem_node *dir, *n;
	int rc = fsal__check_name(name, false);

	if (rc)
		return rc;
	mem__delay(exp);
	pthread_rwlock_wrlock(&exp->lock);
	rc = mem__get_dir(exp, dirkey, &dir);
	if (!rc)
		rc = mem__make_locked(exp, cred, dir, name, mk, &n);
	if (!rc)
		mem__key(n, out);
	pthread_rwlock_unlock(&exp->lock);
	return rc;
}

static int mem_create(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *dir, const char *name, uint32_t mode, bool exclusive,
		      struct fsal_key *out)
{
	const struct mem_mk mk = {.type = FSAL_REG, .mode = mode, .reuse = !exclusive};

	return mem__make(exp, cred, dir, name, &mk, out);
}

static int mem_mkdir(struct fsal_export *exp, const struct fsal_cred *cred,
		     const struct fsal_key *dir, const char *name, uint32_t mode,
		     struct fsal_key *out)
{
	const struct mem_mk mk = {.type = FSAL_DIR, .mode = mode};

	return mem__make(exp, cred, dir, name, &mk, out);
}

static int mem_symlink(struct fsal_export *exp, const struct fsal_cred *cred,
		       const struct fsal_key *dir, const char *name, const char *target,
		       struct fsal_key *out)
{
	const struct mem_mk mk = {.type = FSAL_LNK, .mode = 0777, .target = target};
	int rc = fsal__check_target(target);

	if (rc)
		return rc;
	return mem__make(exp, cred, dir, name, &mk, out);
}

static int mem_mknod(struct fsal_export *exp, const struct fsal_cred *cred,
		     const struct fsal_key *dir, const char *name, enum fsal_type type,
		     uint32_t mode, uint32_t maj, uint32_t min, struct fsal_key *out)
{
	struct mem_mk mk = {.type = type, .mode = mode};

	if (type != FSAL_BLK && type != FSAL_CHR && type != FSAL_SOCK && type != FSAL_FIFO)
		return -EINVAL;
	if (type == FSAL_BLK || type == FSAL_CHR) {
		if (cred->uid != 0)
			return -EPERM; /* CAP_MKNOD */
		mk.major = maj;
		mk.minor = min;
	}
	return mem__make(exp, cred, dir, name, &mk, out);
}

/* --- link, remove, rename -------------------------------------------------------- */

static int mem__link_locked(struct fsal_export *exp, const struct fsal_cred *c, struct mem_node *n,
			    struct mem_node *dir, const char *name)
{
	struct mem_dirent *e;
	int rc = mem__may(dir, c, X_OK);

	if (rc)
		return rc;
	if (n->type == FSAL_DIR)
		return -EPERM; /* as link(2) */
	if (mem__find(exp, dir, name))
		return -EEXIST;
	rc = mem__may(dir, c, W_OK);
	if (rc)
		return rc;
	e = mem__ent_prepare(dir, name);
	if (!e)
		return -ENOMEM;
	mem__link_ent(exp, dir, e, n);
	n->nlink++;
	n->ctime = mem__now();
	mem__touch(dir);
	return 0;
}

static int mem_link(struct fsal_export *exp, const struct fsal_cred *cred,
		    const struct fsal_key *key, const struct fsal_key *dirkey, const char *name)
{
	struct mem_node *n, *dir;
	int rc = fsal__check_name(name, false);

	if (rc)
		return rc;
	mem__delay(exp);
	pthread_rwlock_wrlock(&exp->lock);
	rc = mem__get(exp, key, &n);
	if (!rc)
		rc = mem__get_dir(exp, dirkey, &dir);
	if (!rc)
		rc = mem__link_locked(exp, cred, n, dir, name);
	pthread_rwlock_unlock(&exp->lock);
	return rc;
}

/* Order as Linux's may_delete: search, existence, write permission, then type. */
static int mem__remove_locked(struct fsal_export *exp, const struct fsal_cred *c,
			      struct mem_node *dir, const char *name, bool rmdir)
{
	struct mem_dirent *e;
	struct mem_node *n;
	int rc = mem__may(dir, c, X_OK);

	if (rc)
		return rc;
	e = mem__find(exp, dir, name);
	if (!e)
		return -ENOENT;
	rc = mem__may(dir, c, W_OK);
	if (rc)
		return rc;
	n = e->node;
	if (!rmdir && n->type == FSAL_DIR)
		return -EISDIR;
	if (rmdir && n->type != FSAL_DIR)
		return -ENOTDIR;
	if (rmdir && n->nlive)
		return -ENOTEMPTY;
	mem__unlink_ent(exp, e);
	mem__drop(exp, dir, n);
	mem__touch(dir);
	return 0;
}

static int mem_remove(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *dirkey, const char *name, bool rmdir)
{
	struct mem_node *dir;
	int rc = fsal__check_name(name, false);

	if (rc)
		return rc;
	mem__delay(exp);
	pthread_rwlock_wrlock(&exp->lock);
	rc = mem__get_dir(exp, dirkey, &dir);
	if (!rc)
		rc = mem__remove_locked(exp, cred, dir, name, rmdir);
	pthread_rwlock_unlock(&exp->lock);
	return rc;
}

/* rename(2)'s rules: a directory may replace only an empty directory and may not move
 * into its own subtree; a non-directory may not replace a directory. */
static int mem__rename_check(const struct mem_node *src, const struct mem_node *dst,
			     const struct mem_node *tdir)
{
	const struct mem_node *p = tdir;

	if (src->type != FSAL_DIR)
		return dst && dst->type == FSAL_DIR ? -EISDIR : 0;
	for (;;) {
		if (p == src)
			return -EINVAL;
		if (p->parent == p)
			break;
		p = p->parent;
	}
	if (dst && dst->type != FSAL_DIR)
		return -ENOTDIR;
	return dst && dst->nlive ? -ENOTEMPTY : 0;
}

/* The tree changes here; nothing can fail any more (ne is prepared). */
static void mem__move(struct fsal_export *exp, struct mem_dirent *src, struct mem_dirent *dst,
		      struct mem_node *tdir, struct mem_dirent *ne)
{
	struct mem_node *n = src->node, *fdir = src->dir;

	if (dst) {
		struct mem_node *old = dst->node;

		mem__unlink_ent(exp, dst);
		mem__drop(exp, tdir, old);
	}
	mem__unlink_ent(exp, src);
	mem__link_ent(exp, tdir, ne, n);
	if (n->type == FSAL_DIR && fdir != tdir) {
		fdir->nlink--;
		tdir->nlink++;
		n->parent = tdir;
	}
	n->ctime = mem__now();
	mem__touch(fdir);
	mem__touch(tdir);
}

static int mem__rename_locked(struct fsal_export *exp, const struct fsal_cred *c,
			      struct mem_node *fdir, const char *fname, struct mem_node *tdir,
			      const char *tname)
{
	struct mem_dirent *src, *dst, *ne;
	int rc = mem__may(fdir, c, W_OK | X_OK);

	if (!rc)
		rc = mem__may(tdir, c, W_OK | X_OK);
	if (rc)
		return rc;
	src = mem__find(exp, fdir, fname);
	if (!src)
		return -ENOENT;
	dst = mem__find(exp, tdir, tname);
	if (dst && dst->node == src->node)
		return 0; /* POSIX: links to the same file, nothing to do */
	rc = mem__rename_check(src->node, dst ? dst->node : NULL, tdir);
	if (rc)
		return rc;
	ne = mem__ent_prepare(tdir, tname);
	if (!ne)
		return -ENOMEM;
	mem__move(exp, src, dst, tdir, ne);
	return 0;
}

static int mem_rename(struct fsal_export *exp, const struct fsal_cred *cred,
		      const struct fsal_key *fromdir, const char *fromname,
		      const struct fsal_key *todir, const char *toname)
{
	struct mem_node *fdir, *tdir;
	int rc = fsal__check_name(fromname, false);

	if (!rc)
		rc = fsal__check_name(toname, false);
	if (rc)
		return rc;
	mem__delay(exp);
	pthread_rwlock_wrlock(&exp->lock);
	rc = mem__get_dir(exp, fromdir, &fdir);
	if (!rc)
		rc = mem__get_dir(exp, todir, &tdir);
	if (!rc)
		rc = mem__rename_locked(exp, cred, fdir, fromname, tdir, toname);
	pthread_rwlock_unlock(&exp->lock);
	return rc;
}

/* --- readlink, readdir, statfs --------------------------------------------------- */

static int mem_readlink(struct fsal_export *exp, const struct fsal_cred *cred,
			const struct fsal_key *key, char *buf, size_t size, size_t *len)
{
	struct mem_node *n;
	int rc;

	(void)cred;
	pthread_rwlock_rdlock(&exp->lock);
	rc = mem__get(exp, key, &n);
	if (!rc && n->type != FSAL_LNK)
		rc = -EINVAL;
	if (!rc && n->size >= size)
		rc = size ? -ENAMETOOLONG : -EINVAL;
	if (!rc) {
		memcpy(buf, n->target, n->size + 1);
		*len = n->size;
	}
	pthread_rwlock_unlock(&exp->lock);
	return rc;
}

static void mem__scan(const struct fsal_dir *dir, uint64_t cookie, fsal_readdir_cb cb, void *arg,
		      bool *eof)
{
	const struct mem_node *d = dir->node;

	for (size_t i = mem__slot_after(d, cookie); i < d->nslots; i++) {
		const struct mem_dirent *e = d->slots[i].ent;

		if (e && !cb(arg, dir, e->name, e->namelen, e->node->ino, e->seq))
			return;
	}
	*eof = true;
}

static int mem_readdir(struct fsal_export *exp, const struct fsal_cred *cred,
		       const struct fsal_key *dirkey, uint64_t cookie, fsal_readdir_cb cb,
		       void *arg, bool *eof)
{
	struct mem_node *dir;
	int rc;

	*eof = false;
	pthread_rwlock_rdlock(&exp->lock);
	rc = mem__get_dir(exp, dirkey, &dir);
	if (!rc)
		rc = mem__may(dir, cred, R_OK);
	if (!rc)
		mem__scan(&(const struct fsal_dir){.node = dir}, cookie, cb, arg, eof);
	pthread_rwlock_unlock(&exp->lock);
	return rc;
}

static int mem_statfs(struct fsal_export *exp, const struct fsal_key *key, struct fsal_statfs *out)
{
	struct mem_node *n;
	int rc;

	pthread_rwlock_rdlock(&exp->lock);
	rc = mem__get(exp, key, &n);
	if (!rc) {
		out->tbytes = MEM_TOTAL_BYTES;
		out->fbytes = exp->bytes < MEM_TOTAL_BYTES ? MEM_TOTAL_BYTES - exp->bytes : 0;
		out->abytes = out->fbytes;
		out->tfiles = MEM_TOTAL_FILES;
		out->ffiles = exp->live < MEM_TOTAL_FILES ? MEM_TOTAL_FILES - exp->live : 0;
		out->afiles = out->ffiles;
	}
	pthread_rwlock_unlock(&exp->lock);
	return rc;
}

const struct fsal_ops fsal_mem_ops = {
    .name = "mem",
    .export_open = mem_export_open,
    .export_close = mem_export_close,
    .root = mem_root,
    .getattr = mem_getattr,
    .setattr = mem_setattr,
    .lookup = mem_lookup,
    .lookup_at = mem_lookup_at,
    .access = mem_access,
    .read = mem_read,
    .write = mem_write,
    .commit = mem_commit,
    .create = mem_create,
    .mkdir = mem_mkdir,
    .symlink = mem_symlink,
    .mknod = mem_mknod,
    .link = mem_link,
    .remove = mem_remove,
    .rename = mem_rename,
    .readlink = mem_readlink,
    .readdir = mem_readdir,
    .statfs = mem_statfs,
};
