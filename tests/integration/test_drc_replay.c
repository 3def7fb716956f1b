/*
 * test_drc_replay.c — the duplicate request cache, seen from a client of twinfsd.
 *
 * A client that loses a reply sends the same call again, with the same XID, often
 * on a new connection. For a non-idempotent procedure the server must answer the
 * retransmission with the reply it already sent, byte for byte, without running
 * the call again: a re-run REMOVE would answer NOENT for a file it did remove
 * (RFC 1813 §4.4 and §3.3.12; the classic DRC, Juszczak 1989). Idempotent
 * procedures are simply run again.
 *
 * Cases, each on fresh connections built by hand (rawrpc.h, no RPC library, so the
 * retransmission is exactly the same bytes):
 *   - REMOVE, RENAME, CREATE GUARDED, MKDIR, LINK: the first call succeeds; the same
 *     call on a new connection, then again on the first one, gets a byte-identical
 *     NFS3_OK reply, and the directory (checked locally, in D/rw) does not change;
 *   - the same XID with other arguments is another call (the argument checksum),
 *     also when they differ only after their first 256 bytes;
 *   - GETATTR with the same XID runs again: it sees a size changed in between; and
 *     sent again the moment its reply arrives, it is answered again (a finished
 *     call must not linger as "in progress");
 *   - a flood of 50,000 distinct-XID REMOVEs of a missing name (each one a cached
 *     reply) leaves the daemon's RSS below 150 MB, and a reply cached before the
 *     flood has been evicted (the count bound) so its call runs again;
 *   - in flight: on the slow export (mem backend, every change delayed 1 s), a
 *     CREATE and its retransmission 200 ms later on a second connection get one
 *     reply between them (the copy is dropped), the file exists, and a third copy
 *     after the reply gets the saved reply.
 *
 * Environment (run_with_server.sh): TWINFS_PORT, TWINFS_MOUNT_PORT, TWINFS_DIR (the
 * rw export is D/rw), TWINFS_PID (for RSS), TWINFS_SLOW_PATH (MOUNT path of the slow
 * export). Output: "ok - name" / "not ok - name: why", then "N passed, N failed";
 * exit 1 if any case failed. Bounded: every socket has a receive timeout and an
 * alarm ends the run after TOTAL_LIMIT_S.
 */
#include "tests/integration/rawrpc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOTAL_LIMIT_S	 85
#define CALL_CAP	 2048
#define REPLY_CAP	 (64u << 10)
#define FLOOD_CALLS	 50000u
#define FLOOD_WINDOW	 64u
#define RSS_LIMIT_KB	 (150ul * 1024)
#define SLOW_DUP_MS	 200  /* the retransmission follows the call after this */
#define SLOW_WINDOW_MS	 3000 /* all replies to the in-flight pair arrive within this */
#define SNAP_MAX	 16
#define BACK_TO_BACK	 2000 /* GETATTRs sent twice in a row */
#define NFSPROC3_GETATTR 1
#define NFSPROC3_CREATE	 8
#define NFSPROC3_MKDIR	 9
#define NFSPROC3_REMOVE	 12
#define NFSPROC3_RENAME	 14
#define NFSPROC3_LINK	 15
#define CREATE_GUARDED	 1
#define NFS3ERR_EXIST	 17

struct ctx {
	uint16_t port, mport;
	char rw[PATH_MAX]; /* D/rw: the rw export, seen locally */
	const char *slow;  /* MOUNT path of the slow export, or NULL */
	long pid;	   /* the daemon, for its RSS; 0 = unknown */
	struct rr_fh root; /* of D/rw */
	uint32_t xid;	   /* next XID for our own calls */
	uint32_t conn_xid; /* next XID range for rawrpc helper connections */
	unsigned passed, failed;
};

/* One call, record mark included, ready to be sent (again and again). */
struct call {
	uint8_t data[CALL_CAP];
	size_t len;
	uint32_t xid;
};

/* One reply record (without its mark). */
struct reply {
	uint8_t data[REPLY_CAP];
	size_t len;
};

/* What a directory looks like locally: its entries and its own times. */
struct dir_snap {
	unsigned n;
	struct stat self;
	struct {
		char name[64];
		struct stat st;
	} e[SNAP_MAX];
};

static void on_alarm(int sig)
{
	static const char msg[] = "not ok - whole run: still going after 85 s, stopped\n";

	(void)sig;
	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static unsigned long rss_kb(long pid)
{
	char path[64], line[256];
	unsigned long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Which sanitizer runtime the daemon has mapped ("libasan", "libtsan"), or NULL.
 * ASan's quarantine (256 MB of freed memory by default) counts in the RSS, so it
 * needs ASAN_OPTIONS=quarantine_size_mb=16; TSan's shadow multiplies memory, so
 * under TSan only the growth during the flood is held to the limit. */
static const char *sanitizer_of(long pid)
{
	static const char *const names[] = {"libasan", "libtsan"};
	char path[64], line[512];
	const char *found = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	while (!found && fgets(line, sizeof(line), f))
		for (unsigned i = 0; i < 2 && !found; i++)
			found = strstr(line, names[i]) ? names[i] : NULL;
	fclose(f);
	return found;
}

/* A connection whose rawrpc helpers use an XID range of their own, so that calls on
 * different connections never share an XID by accident. */
static int conn_open(struct ctx *t, struct rr_conn *c, uint16_t port)
{
	c->fd = -1;
	c->xid = t->conn_xid;
	t->conn_xid += 100000;
	return rr_open(c, port);
}

/* ---- building calls, reading replies ---------------------------------------- */

static int call_build(struct call *c, uint32_t xid, uint32_t proc, const struct rr_buf *args)
{
	struct rr_buf b;

	rr_buf_init(&b, c->data, sizeof(c->data));
	rr_put_u32(&b, 0); /* the record mark, below */
	rr_put_call(&b, xid, RR_NFS_PROG, RR_NFS_VERS, proc);
	rr_put_raw(&b, args->data, args->len);
	if (b.overflow || args->overflow)
		return -EMSGSIZE;
	uint32_t mark = htonl(RR_LAST_FRAG | (uint32_t)(b.len - 4));
	memcpy(c->data, &mark, 4);
	c->len = b.len;
	c->xid = xid;
	return 0;
}

/* nfsstat3 of a reply to c, or -1 (with why) if it is not an accepted reply to it. */
static int reply_status(const struct call *c, const struct reply *r, char *why, size_t n)
{
	struct rr_reply h;

	if (rr_parse_reply(r->data, r->len, &h))
		return rr_fail(why, n, "malformed reply (%zu bytes)", r->len);
	if (h.xid != c->xid)
		return rr_fail(why, n, "reply XID %#x, call XID %#x", h.xid, c->xid);
	if (h.reply_stat != RR_MSG_ACCEPTED || h.stat != RR_SUCCESS)
		return rr_fail(why, n, "reply not accepted/SUCCESS (%u/%s)", h.reply_stat,
			       rr_accept_name(h.stat));
	uint32_t st = rr_get_u32(&h.body);
	if (h.body.error)
		return rr_fail(why, n, "reply without a status");
	return (int)st;
}

static int exchange(int fd, const struct call *c, struct reply *r, char *why, size_t n)
{
	int err = rr_send_all(fd, c->data, c->len);

	if (!err)
		err = rr_recv_record(fd, r->data, sizeof(r->data), &r->len);
	if (err)
		return rr_fail(why, n, "XID %#x: %s", c->xid, strerror(-err));
	return reply_status(c, r, why, n);
}

/* sattr3 (RFC 1813 §2.5) setting only the mode. */
static void put_sattr_mode(struct rr_buf *b, uint32_t mode)
{
	rr_put_u32(b, 1);
	rr_put_u32(b, mode);
	for (int i = 0; i < 5; i++) /* uid, gid, size, atime, mtime: not set */
		rr_put_u32(b, 0);
}

static void put_diropargs(struct rr_buf *b, const struct rr_fh *dir, const char *name)
{
	rr_put_fh(b, dir);
	rr_put_string(b, name);
}

/* ---- the local view ---------------------------------------------------------- */

static int snap_cmp(const void *a, const void *b)
{
	return strcmp(a, b); /* name is the first member */
}

static int snap_dir(const char *path, struct dir_snap *s)
{
	DIR *d = opendir(path);
	struct dirent *de;

	memset(s, 0, sizeof(*s));
	if (!d || stat(path, &s->self) < 0) {
		if (d)
			closedir(d);
		return -1;
	}
	while ((de = readdir(d)) && s->n < SNAP_MAX) {
		size_t len = strlen(de->d_name);
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    len >= sizeof(s->e[0].name))
			continue;
		memcpy(s->e[s->n].name, de->d_name, len + 1);
		if (fstatat(dirfd(d), de->d_name, &s->e[s->n].st, AT_SYMLINK_NOFOLLOW) == 0)
			s->n++;
	}
	closedir(d);
	qsort(s->e, s->n, sizeof(s->e[0]), snap_cmp);
	return 0;
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_mode == b->st_mode && a->st_nlink == b->st_nlink &&
	       a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int snap_same(const struct dir_snap *a, const struct dir_snap *b, char *why, size_t n)
{
	if (!same_stat(&a->self, &b->self))
		return rr_fail(why, n, "the directory itself changed (mtime/ctime/nlink)");
	if (a->n != b->n)
		return rr_fail(why, n, "%u entries, then %u", a->n, b->n);
	for (unsigned i = 0; i < a->n; i++) {
		if (strcmp(a->e[i].name, b->e[i].name))
			return rr_fail(why, n, "entry %s became %s", a->e[i].name, b->e[i].name);
		if (!same_stat(&a->e[i].st, &b->e[i].st))
			return rr_fail(why, n, "%s changed", a->e[i].name);
	}
	return 0;
}

/* dir/name into out: 0, or -1 when it does not fit. */
static int join(char *out, size_t len, const char *dir, const char *name)
{
	int k = snprintf(out, len, "%s/%s", dir, name);

	return k < 0 || (size_t)k >= len ? -1 : 0;
}

static int make_file(const char *dir, const char *name, off_t size)
{
	char path[PATH_MAX];
	int fd;

	if (join(path, sizeof(path), dir, name))
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	int rc = ftruncate(fd, size);
	close(fd);
	return rc;
}

static bool exists(const char *dir, const char *name, struct stat *st)
{
	char path[PATH_MAX];
	struct stat tmp;

	return join(path, sizeof(path), dir, name) == 0 && lstat(path, st ? st : &tmp) == 0;
}

/* A fresh directory D/rw/<name> for one case: its local path and its handle. */
static int case_dir(struct ctx *t, const char *name, char *path, size_t len, struct rr_fh *fh,
		    char *why, size_t n)
{
	struct rr_conn c;
	int st;

	if (join(path, len, t->rw, name))
		return rr_fail(why, n, "path too long");
	if (mkdir(path, 0755) < 0)
		return rr_fail(why, n, "mkdir %s: %s", path, strerror(errno));
	if (conn_open(t, &c, t->port))
		return rr_fail(why, n, "cannot connect");
	st = rr_lookup(&c, &t->root, name, fh);
	rr_close(&c);
	if (st != RR_NFS3_OK)
		return rr_fail(why, n, "LOOKUP %s: %d", name, st);
	return 0;
}

static int lookup_fh(struct ctx *t, const struct rr_fh *dir, const char *name, struct rr_fh *fh)
{
	struct rr_conn c;
	int st;

	if (conn_open(t, &c, t->port))
		return -ECONNREFUSED;
	st = rr_lookup(&c, dir, name, fh);
	rr_close(&c);
	return st;
}

/* ---- replay of a non-idempotent call ----------------------------------------- */

/* Sends c on connection A (NFS3_OK), then the same bytes on a new connection B and
 * once more on A: both must get A's first reply byte for byte, and the directory
 * `dir` must be as the first call left it. */
static int replay_check(struct ctx *t, const struct call *c, const char *dir, char *why, size_t n)
{
	struct reply first, again;
	struct rr_conn a, b;
	struct dir_snap s1, s2;
	int st, rc = -1;

	if (conn_open(t, &a, t->port))
		return rr_fail(why, n, "cannot connect");
	st = exchange(a.fd, c, &first, why, n);
	if (st != RR_NFS3_OK) {
		if (st > 0)
			rr_fail(why, n, "first call: status %d, want NFS3_OK", st);
		goto out_a;
	}
	snap_dir(dir, &s1);
	if (conn_open(t, &b, t->port)) {
		rr_fail(why, n, "cannot connect a second time");
		goto out_a;
	}
	for (int i = 0; i < 2; i++) {
		const char *where = i == 0 ? "on a new connection" : "on the first connection";
		st = exchange(i == 0 ? b.fd : a.fd, c, &again, why, n);
		if (st < 0)
			goto out_b;
		if (again.len != first.len || memcmp(again.data, first.data, first.len)) {
			rr_fail(why, n,
				"retransmission %s: status %d, reply of %zu bytes differs from "
				"the first (%zu bytes)",
				where, st, again.len, first.len);
			goto out_b;
		}
	}
	snap_dir(dir, &s2);
	rc = snap_same(&s1, &s2, why, n);
out_b:
	rr_close(&b);
out_a:
	rr_close(&a);
	return rc;
}

static int case_remove(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[512];
	struct rr_buf args;
	struct rr_fh dir;
	struct call c;
	char path[PATH_MAX];

	if (case_dir(t, "drc-remove", path, sizeof(path), &dir, why, n) ||
	    make_file(path, "victim", 100) || make_file(path, "bystander", 1))
		return rr_fail(why, n, "setup failed");
	rr_buf_init(&args, mem, sizeof(mem));
	put_diropargs(&args, &dir, "victim");
	call_build(&c, t->xid++, NFSPROC3_REMOVE, &args);
	if (replay_check(t, &c, path, why, n))
		return -1;
	if (exists(path, "victim", NULL) || !exists(path, "bystander", NULL))
		return rr_fail(why, n, "victim still there, or bystander gone");
	return 0;
}

static int case_rename(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[512];
	struct rr_buf args;
	struct rr_fh dir;
	struct call c;
	char path[PATH_MAX];
	struct stat before, after;

	if (case_dir(t, "drc-rename", path, sizeof(path), &dir, why, n) ||
	    make_file(path, "from", 7) || !exists(path, "from", &before))
		return rr_fail(why, n, "setup failed");
	rr_buf_init(&args, mem, sizeof(mem));
	put_diropargs(&args, &dir, "from");
	put_diropargs(&args, &dir, "to");
	call_build(&c, t->xid++, NFSPROC3_RENAME, &args);
	if (replay_check(t, &c, path, why, n))
		return -1;
	if (exists(path, "from", NULL) || !exists(path, "to", &after) ||
	    after.st_ino != before.st_ino)
		return rr_fail(why, n, "from/to not as one rename leaves them");
	return 0;
}

static int case_create(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[512];
	struct rr_buf args;
	struct rr_fh dir;
	struct call c;
	char path[PATH_MAX];
	struct stat st;

	if (case_dir(t, "drc-create", path, sizeof(path), &dir, why, n))
		return -1;
	rr_buf_init(&args, mem, sizeof(mem));
	put_diropargs(&args, &dir, "new");
	rr_put_u32(&args, CREATE_GUARDED); /* createhow3 */
	put_sattr_mode(&args, 0640);
	call_build(&c, t->xid++, NFSPROC3_CREATE, &args);
	if (replay_check(t, &c, path, why, n))
		return -1;
	if (!exists(path, "new", &st) || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0640)
		return rr_fail(why, n, "new is not a 0640 regular file");
	return 0;
}

static int case_mkdir(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[512];
	struct rr_buf args;
	struct rr_fh dir;
	struct call c;
	char path[PATH_MAX];
	struct stat st;

	if (case_dir(t, "drc-mkdir", path, sizeof(path), &dir, why, n))
		return -1;
	rr_buf_init(&args, mem, sizeof(mem));
	put_diropargs(&args, &dir, "sub");
	put_sattr_mode(&args, 0750);
	call_build(&c, t->xid++, NFSPROC3_MKDIR, &args);
	if (replay_check(t, &c, path, why, n))
		return -1;
	if (!exists(path, "sub", &st) || !S_ISDIR(st.st_mode))
		return rr_fail(why, n, "sub is not a directory");
	return 0;
}

static int case_link(struct ctx *t, char *why, size_t n)
{
	uint8_t mem[512];
	struct rr_buf args;
	struct rr_fh dir, file;
	struct call c;
	char path[PATH_MAX];
	struct stat orig, alias;

	if (case_dir(t, "drc-link", path, sizeof(path), &dir, why, n) ||
	    make_file(path, "orig", 3) || lookup_fh(t, &dir, "orig", &file) != RR_NFS3_OK)
		return rr_fail(why, n, "setup failed");
	rr_buf_init(&args, mem, sizeof(mem));
	rr_put_fh(&args, &file);
	put_diropargs(&args, &dir, "alias");
	call_build(&c, t->xid++, NFSPROC3_LINK, &args);
	if (replay_check(t, &c, path, why, n))
		return -1;
	if (!exists(path, "orig", &orig) || !exists(path, "alias", &alias) ||
	    orig.st_ino != alias.st_ino || orig.st_nlink != 2)
		return rr_fail(why, n, "alias is not a second link to orig");
	return 0;
}

/* The same XID with other arguments is another call: it runs. The names a and b
 * differ in their last byte, which lies `pad` bytes into the name. */
static int same_xid_other_args(struct ctx *t, const char *sub, size_t pad, char *why, size_t n)
{
	struct reply r;
	uint8_t mem[1024];
	struct rr_buf args;
	struct rr_fh dir;
	struct call c;
	char path[PATH_MAX], a[256], b[256];
	uint32_t xid = t->xid++;

	memset(a, 'x', pad);
	memcpy(a + pad, "-a", 3);
	memcpy(b, a, pad + 3);
	b[pad + 1] = 'b';
	if (case_dir(t, sub, path, sizeof(path), &dir, why, n) || make_file(path, a, 1) ||
	    make_file(path, b, 1))
		return rr_fail(why, n, "setup failed");
	for (int i = 0; i < 2; i++) {
		struct rr_conn k;
		rr_buf_init(&args, mem, sizeof(mem));
		put_diropargs(&args, &dir, i == 0 ? a : b);
		call_build(&c, xid, NFSPROC3_REMOVE, &args);
		if (conn_open(t, &k, t->port))
			return rr_fail(why, n, "cannot connect");
		int st = exchange(k.fd, &c, &r, why, n);
		rr_close(&k);
		if (st != RR_NFS3_OK)
			return st < 0 ? -1 : rr_fail(why, n, "REMOVE %d: status %d", i, st);
	}
	if (exists(path, a, NULL) || exists(path, b, NULL))
		return rr_fail(why, n, "the second REMOVE (same XID, other name) did not run");
	return 0;
}

static int case_same_xid_other_args(struct ctx *t, char *why, size_t n)
{
	return same_xid_other_args(t, "drc-xid", 0, why, n);
}

/* The same, with names that differ only after their 250th byte: a checksum of the
 * first 256 bytes of the arguments does not see the difference. */
static int case_same_xid_args_differ_late(struct ctx *t, char *why, size_t n)
{
	return same_xid_other_args(t, "drc-xid-late", 250, why, n);
}

/* fattr3.size of a GETATTR reply (RFC 1813 §2.5: five words, then size). */
static int getattr_size(const struct call *c, const struct reply *r, uint64_t *size, char *why,
			size_t n)
{
	struct rr_reply h;

	if (reply_status(c, r, why, n) != RR_NFS3_OK)
		return -1;
	rr_parse_reply(r->data, r->len, &h);
	rr_get_u32(&h.body); /* status */
	for (int i = 0; i < 5; i++)
		rr_get_u32(&h.body);
	*size = rr_get_u64(&h.body);
	return h.body.error ? rr_fail(why, n, "short GETATTR reply") : 0;
}

/* GETATTR is idempotent: the same XID runs again and sees what changed. */
static int case_getattr_reruns(struct ctx *t, char *why, size_t n)
{
	struct reply r1, r2;
	uint8_t mem[256];
	struct rr_buf args;
	struct rr_fh dir, file;
	struct rr_conn a, b;
	struct call c;
	char path[PATH_MAX];
	uint64_t s1 = 0, s2 = 0;

	if (case_dir(t, "drc-getattr", path, sizeof(path), &dir, why, n) ||
	    make_file(path, "g", 10) || lookup_fh(t, &dir, "g", &file) != RR_NFS3_OK)
		return rr_fail(why, n, "setup failed");
	rr_buf_init(&args, mem, sizeof(mem));
	rr_put_fh(&args, &file);
	call_build(&c, t->xid++, NFSPROC3_GETATTR, &args);
	if (conn_open(t, &a, t->port))
		return rr_fail(why, n, "cannot connect");
	int rc = exchange(a.fd, &c, &r1, why, n) < 0 ? -1 : getattr_size(&c, &r1, &s1, why, n);
	rr_close(&a);
	if (rc || make_file(path, "g", 1234) || conn_open(t, &b, t->port))
		return rc ? -1 : rr_fail(why, n, "truncate or connect failed");
	rc = exchange(b.fd, &c, &r2, why, n) < 0 ? -1 : getattr_size(&c, &r2, &s2, why, n);
	rr_close(&b);
	if (rc)
		return -1;
	if (s1 != 10 || s2 != 1234)
		return rr_fail(why, n, "sizes %llu then %llu, want 10 then 1234 (replayed?)",
			       (unsigned long long)s1, (unsigned long long)s2);
	return 0;
}

/* An idempotent call sent again the moment its reply arrives is answered again:
 * once its reply is out, a call is no longer "in progress" (were it still in the
 * table, the copy would be dropped and its client left waiting for ever). */
static int case_getattr_back_to_back(struct ctx *t, char *why, size_t n)
{
	struct reply r;
	uint8_t mem[256];
	struct rr_buf args;
	struct rr_conn k;
	struct call c;
	int rc = 0;

	if (conn_open(t, &k, t->port))
		return rr_fail(why, n, "cannot connect");
	rr_buf_init(&args, mem, sizeof(mem));
	rr_put_fh(&args, &t->root);
	for (unsigned i = 0; i < BACK_TO_BACK && rc == 0; i++) {
		call_build(&c, t->xid++, NFSPROC3_GETATTR, &args);
		for (int copy = 0; copy < 2 && rc == 0; copy++) {
			int st = exchange(k.fd, &c, &r, why, n);
			if (st != RR_NFS3_OK)
				rc = st < 0 ? -1 : rr_fail(why, n, "GETATTR status %d", st);
		}
	}
	rr_close(&k);
	return rc;
}

/* ---- the flood --------------------------------------------------------------- */

/* Receives one reply of the flood: 0 (NOENT, as it must be) or -1. */
static int flood_recv(int fd, struct reply *r, char *why, size_t n)
{
	struct rr_reply h;
	int err = rr_recv_record(fd, r->data, sizeof(r->data), &r->len);

	if (err)
		return rr_fail(why, n, "receive: %s", strerror(-err));
	if (rr_parse_reply(r->data, r->len, &h) || h.reply_stat != RR_MSG_ACCEPTED ||
	    h.stat != RR_SUCCESS)
		return rr_fail(why, n, "a reply that is not accepted/SUCCESS");
	uint32_t st = rr_get_u32(&h.body);
	if (st != RR_NFS3ERR_NOENT)
		return rr_fail(why, n, "status %u, want NOENT", st);
	return 0;
}

/* FLOOD_CALLS REMOVEs of a missing name, each with its own XID, at most
 * FLOOD_WINDOW outstanding. *max_kb gets the daemon's largest RSS seen. */
static int flood(struct ctx *t, const struct rr_fh *dir, unsigned long *max_kb, char *why, size_t n)
{
	struct reply r;
	uint8_t mem[512];
	struct rr_buf args;
	struct rr_conn k;
	struct call c;
	unsigned sent = 0, got = 0;

	rr_buf_init(&args, mem, sizeof(mem));
	put_diropargs(&args, dir, "no-such-file");
	if (conn_open(t, &k, t->port))
		return rr_fail(why, n, "cannot connect");
	while (got < FLOOD_CALLS) {
		if (sent < FLOOD_CALLS && sent - got < FLOOD_WINDOW) {
			call_build(&c, t->xid++, NFSPROC3_REMOVE, &args);
			if (rr_send_all(k.fd, c.data, c.len))
				break;
			sent++;
			continue;
		}
		if (flood_recv(k.fd, &r, why, n))
			break;
		if (++got % 5000 == 0 && t->pid > 0) {
			unsigned long kb = rss_kb(t->pid);
			*max_kb = kb > *max_kb ? kb : *max_kb;
		}
	}
	rr_close(&k);
	if (got < FLOOD_CALLS && !why[0])
		rr_fail(why, n, "send failed after %u calls", sent);
	return got == FLOOD_CALLS ? 0 : -1;
}

static int case_flood(struct ctx *t, char *why, size_t n)
{
	struct reply r;
	uint8_t mem[512];
	struct rr_buf args;
	struct rr_fh dir;
	struct rr_conn k;
	struct call evictee;
	char path[PATH_MAX];
	unsigned long before = t->pid > 0 ? rss_kb(t->pid) : 0, max_kb = before;

	if (case_dir(t, "drc-flood", path, sizeof(path), &dir, why, n) ||
	    make_file(path, "evictee", 1))
		return rr_fail(why, n, "setup failed");
	/* A reply cached before the flood: replayed now, evicted after it. */
	rr_buf_init(&args, mem, sizeof(mem));
	put_diropargs(&args, &dir, "evictee");
	call_build(&evictee, t->xid++, NFSPROC3_REMOVE, &args);
	if (replay_check(t, &evictee, path, why, n))
		return -1;
	if (flood(t, &dir, &max_kb, why, n))
		return -1;
	unsigned long after = t->pid > 0 ? rss_kb(t->pid) : 0;
	const char *san = t->pid > 0 ? sanitizer_of(t->pid) : NULL;
	bool tsan = san && !strcmp(san, "libtsan");
	max_kb = max_kb > after ? max_kb : after;
	printf("# flood of %u REMOVEs: daemon RSS %lu kB before, %lu kB max, %lu kB after%s\n",
	       FLOOD_CALLS, before, max_kb, after,
	       san ? (tsan ? " (TSan: growth checked)" : " (ASan)") : "");
	if (t->pid > 0 && (tsan ? max_kb - before : max_kb) > RSS_LIMIT_KB)
		return rr_fail(why, n, "daemon RSS reached %lu kB (limit %lu kB)%s", max_kb,
			       RSS_LIMIT_KB,
			       san && !tsan ? "; the daemon runs under ASan: is "
					      "ASAN_OPTIONS=quarantine_size_mb=16 set?"
					    : "");
	if (conn_open(t, &k, t->port))
		return rr_fail(why, n, "cannot connect");
	int st = exchange(k.fd, &evictee, &r, why, n);
	rr_close(&k);
	if (st < 0)
		return -1;
	if (st != RR_NFS3ERR_NOENT)
		return rr_fail(why, n,
			       "the pre-flood REMOVE got status %d, want NOENT: its reply "
			       "should have been evicted by the count bound",
			       st);
	return 0;
}

/* ---- in flight ----------------------------------------------------------------- */

/* Waits until deadline for replies on fds[0..1]; counts them, keeps the first. */
static int collect_replies(const int fds[2], uint64_t deadline, struct reply *first,
			   unsigned *count, char *why, size_t n)
{
	struct reply scratch;
	struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};

	for (uint64_t now = now_ms(); now < deadline; now = now_ms()) {
		int k = poll(p, 2, (int)(deadline - now));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return rr_fail(why, n, "poll: %s", strerror(errno));
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			struct reply *r = *count == 0 ? first : &scratch;
			int err = rr_recv_record(fds[i], r->data, sizeof(r->data), &r->len);
			if (err)
				return rr_fail(why, n, "connection %d: %s", i, strerror(-err));
			(*count)++;
		}
	}
	return 0;
}

/* Sends c on a connection, and again SLOW_DUP_MS later on a second one; counts the
 * replies on both until SLOW_WINDOW_MS after the first send. */
static int send_pair(struct ctx *t, const struct call *c, struct reply *first, unsigned *count,
		     char *why, size_t n)
{
	struct rr_conn a, b;
	int rc;

	if (conn_open(t, &a, t->port))
		return rr_fail(why, n, "cannot connect");
	if (conn_open(t, &b, t->port)) {
		rr_close(&a);
		return rr_fail(why, n, "cannot connect a second time");
	}
	uint64_t start = now_ms();
	rc = rr_send_all(a.fd, c->data, c->len);
	sleep_ms(SLOW_DUP_MS);
	if (!rc)
		rc = rr_send_all(b.fd, c->data, c->len);
	int fds[2] = {a.fd, b.fd};
	if (rc)
		rc = rr_fail(why, n, "send: %s", strerror(-rc));
	else
		rc = collect_replies(fds, start + SLOW_WINDOW_MS, first, count, why, n);
	rr_close(&a);
	rr_close(&b);
	return rc;
}

/* CREATE GUARDED of `name` in the slow export's root (MNT into *root). */
static int slow_create(struct ctx *t, const char *name, struct rr_fh *root, struct call *c)
{
	uint8_t mem[512];
	struct rr_buf args;
	struct rr_conn m;
	int st;

	if (conn_open(t, &m, t->mport))
		return -1;
	st = rr_mnt(&m, t->slow, root);
	rr_close(&m);
	if (st != 0)
		return -1;
	rr_buf_init(&args, mem, sizeof(mem));
	put_diropargs(&args, root, name);
	rr_put_u32(&args, CREATE_GUARDED);
	put_sattr_mode(&args, 0644);
	return call_build(c, t->xid++, NFSPROC3_CREATE, &args);
}

static int case_in_flight(struct ctx *t, char *why, size_t n)
{
	struct reply first, third;
	char name[64];
	struct rr_fh root, fh;
	struct rr_conn k;
	struct call c;
	unsigned count = 0;

	if (!t->slow)
		return rr_fail(why, n, "TWINFS_SLOW_PATH is not set (run_with_server.sh)");
	snprintf(name, sizeof(name), "inflight-%ld", (long)getpid());
	if (slow_create(t, name, &root, &c))
		return rr_fail(why, n, "MNT %s failed", t->slow);
	if (send_pair(t, &c, &first, &count, why, n))
		return -1;
	if (count != 1)
		return rr_fail(why, n, "%u replies to a call and its retransmission, want 1",
			       count);
	int st = reply_status(&c, &first, why, n);
	if (st != RR_NFS3_OK)
		return st < 0 ? -1 : rr_fail(why, n, "CREATE status %d", st);
	if (conn_open(t, &k, t->port))
		return rr_fail(why, n, "cannot connect");
	st = rr_lookup(&k, &root, name, &fh);
	if (st == RR_NFS3_OK)
		st = exchange(k.fd, &c, &third, why, n) < 0 ? -1 : RR_NFS3_OK;
	else
		rr_fail(why, n, "LOOKUP of the created file: %d", st);
	rr_close(&k);
	if (st != RR_NFS3_OK)
		return -1;
	if (third.len != first.len || memcmp(third.data, first.data, first.len))
		return rr_fail(why, n, "a third copy after the reply got another reply");
	return 0;
}

/* ---- main -------------------------------------------------------------------- */

static void run(struct ctx *t, const char *name, int (*fn)(struct ctx *, char *, size_t))
{
	char why[512] = "";

	if (fn(t, why, sizeof(why)) == 0) {
		printf("ok - %s\n", name);
		t->passed++;
	} else {
		printf("not ok - %s: %s\n", name, why[0] ? why : "failed");
		t->failed++;
	}
	fflush(stdout);
}

static int setup(struct ctx *t)
{
	const char *port = getenv("TWINFS_PORT"), *mport = getenv("TWINFS_MOUNT_PORT");
	const char *dir = getenv("TWINFS_DIR"), *pid = getenv("TWINFS_PID");
	struct rr_conn m;

	if (!port || !mport || !dir) {
		fprintf(stderr, "TWINFS_PORT, TWINFS_MOUNT_PORT and TWINFS_DIR must be set\n");
		return -1;
	}
	t->port = (uint16_t)atoi(port);
	t->mport = (uint16_t)atoi(mport);
	t->pid = pid ? atol(pid) : 0;
	t->slow = getenv("TWINFS_SLOW_PATH");
	snprintf(t->rw, sizeof(t->rw), "%s/rw", dir);
	t->xid = 0x80000000u ^ ((uint32_t)getpid() << 12);
	t->conn_xid = 0x10000000u ^ ((uint32_t)getpid() << 8);
	if (conn_open(t, &m, t->mport) || rr_mnt(&m, t->rw, &t->root) != 0) {
		fprintf(stderr, "MNT %s failed\n", t->rw);
		rr_close(&m);
		return -1;
	}
	rr_close(&m);
	return 0;
}

int main(void)
{
	struct ctx t = {0};

	signal(SIGALRM, on_alarm);
	alarm(TOTAL_LIMIT_S);
	if (setup(&t))
		return 1;
	run(&t, "REMOVE retransmitted: saved reply, file system unchanged", case_remove);
	run(&t, "RENAME retransmitted: saved reply, file system unchanged", case_rename);
	run(&t, "CREATE GUARDED retransmitted: saved reply, file system unchanged", case_create);
	run(&t, "MKDIR retransmitted: saved reply, file system unchanged", case_mkdir);
	run(&t, "LINK retransmitted: saved reply, file system unchanged", case_link);
	run(&t, "same XID, other arguments: a new call", case_same_xid_other_args);
	run(&t, "same XID, arguments differing after byte 256: a new call",
	    case_same_xid_args_differ_late);
	run(&t, "GETATTR with the same XID runs again", case_getattr_reruns);
	run(&t, "GETATTR sent again as its reply arrives is answered", case_getattr_back_to_back);
	run(&t, "retransmission while executing: one execution, one reply", case_in_flight);
	run(&t, "flood of distinct XIDs: RSS bounded, old replies evicted", case_flood);
	printf("%u passed, %u failed\n", t.passed, t.failed);
	return t.failed ? 1 : 0;
}
