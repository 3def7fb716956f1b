/*
 * twload.c — the project's NFSv3 load generator (libnfs >= 4.0, synchronous API).
 *
 * What it is for: measure twinfsd (and, with the same client, NFS-Ganesha) per
 * operation kind, with every client busy at once, and print one machine-readable line
 * per workload (bench/compare.sh parses it):
 *
 *   twload workload=W clients=N ops=N secs=S ops_s=X mb_s=Y p50_us=A p99_us=B
 *          p999_us=C errors=E cli_cpu_s=U [srv_cpu_s=T]
 *
 * (one line). mb_s is 10^6 bytes per second (like dd), 0 for metadata workloads.
 * srv_cpu_s is only printed with -p PID: the utime+stime that process spent during the
 * timed part of the workload (read from /proc/PID/stat), so setup work such as
 * filling the readdirplus directory is not charged to the workload. cli_cpu_s is
 * this process's own utime+stime over the same span: on one machine the load
 * generator and the server share the cores, so what the client spends per call is
 * taken from the server.
 *
 * Workloads (-w, comma list, default all, run in this order):
 *   getattr      GETATTR of an open per-client file
 *   lookup       stat of one of 32 per-client files by path (libnfs: LOOKUPs + GETATTR)
 *   create       CREATE + REMOVE of a fresh name (one op = the pair)
 *   readdirplus  full listing (READDIRPLUS, libnfs dir cache off) of a 10,000-entry
 *                directory, made once before the first listing, removed at the end;
 *                one op = one full listing
 *   write        sequential WRITEs of -b bytes (default 1 MiB) into one file per client,
 *                -s MiB in total split over the clients, then COMMIT (in secs, not in
 *                the latency samples); runs until its bytes are done
 *   read         sequential READs of those files; whole passes, repeated until -t
 *                seconds have gone by (at least one pass), so short runs are not noise
 *   randread     4 KiB READs at random 4 KiB-aligned offsets in those files, -t seconds
 * read and randread write the files first (untimed) when 'write' is not selected.
 *
 * Threads and contexts: one nfs_context per client. The contexts are created one after
 * another in the main thread (libnfs 4.0 salts its XIDs from a static counter that
 * concurrent nfs_init_context() calls race on, which gives two clients the same XIDs);
 * each client thread then mounts and works on its own context only. A workload starts
 * one thread per client; a barrier lines them up so they all begin together.
 *
 * Bounds: time workloads stop at -t seconds; data workloads are cut by a watchdog at
 * max(3 x -t, 120) s (an unfinished client counts one error). Every RPC has a 10 s
 * timeout and no reconnect, so a hung server cannot hold a thread for long; if a thread
 * still has not returned WATCHDOG_GRACE_S after the cut, the process reports and exits
 * without cleanup. Latency samples: the first SAMPLE_CAP per client and workload.
 *
 * Local mode (-u file:///ABS/DIR): the same workloads, clients and threads on a local
 * directory with plain syscalls, as the physical reference for the servers' figures:
 * getattr fstat, lookup stat by path, create open(O_CREAT)+close+unlink, readdirplus
 * opendir/readdir + fstatat of every entry (READDIRPLUS returns the attributes), write
 * pwrite + fsync at the end (COMMIT), read and randread pread. The page cache serves the
 * reads, as it does behind a server; no libnfs context is made.
 *
 * Only NFSv3 is meant (libnfs 4.0 cannot send v4 WRITEs above ~3.5 KiB).
 * Everything lives in /twload.<host>.<pid> under the mount (or the local directory); it
 * is removed at the end, also after a failed setup. Exit 0 ok, 1 some operations failed,
 * 2 setup failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#define MAX_CLIENTS	    256
#define PATH_LEN	    512
#define DIR_LEN		    192 /* scratch and client dirs: room for a name below PATH_LEN */
#define SCRATCH_LEN	    128
#define LOOKUP_FILES	    32
#define RDP_ENTRIES	    10000
#define RAND_IO		    4096
#define MIB		    (1024ull * 1024ull)
#define SAMPLE_CAP	    (1u << 20) /* per client and workload */
#define RPC_TIMEOUT_MS	    10000
#define SETUP_BUDGET_S	    300.0 /* mount, fill and cleanup phases */
#define DATA_WATCHDOG_MIN   120.0
#define WATCHDOG_GRACE_S    15.0
#define MAX_ERRS_PER_CLIENT 100 /* a client stops a workload after this many */

enum wl { WL_GETATTR, WL_LOOKUP, WL_CREATE, WL_READDIRPLUS, WL_WRITE, WL_READ, WL_RANDREAD, WL_N };

/* What one op returned: done (no op was made), or 0 / -errno. */
#define OP_DONE 1

struct client;
struct run;

/* How a workload ends: at -t seconds, when its bytes are done, or at the first pass
 * boundary after -t seconds. The last two are cut by the data watchdog. */
enum bound { BOUND_TIME, BOUND_BYTES, BOUND_PASSES };

struct workload {
	const char *name;
	int (*op)(struct client *c);	 /* one operation: 0, -errno or OP_DONE */
	int (*finish)(struct client *c); /* timed, not sampled (COMMIT); may be NULL */
	int (*reset)(struct client *c);	 /* untimed, before the start barrier; may be NULL */
	enum bound bound;
};

struct opts {
	const char *url;
	const char *local_dir; /* set by a file:// URL: local mode */
	int clients;
	double secs;
	uint64_t total_bytes;
	uint64_t iosize;
	unsigned wl_mask;
	int srv_pid;
};

/* An open file of either back end: a libnfs handle, or a local fd. */
struct file {
	struct nfsfh *fh;
	int fd;
	int open;
};

struct client {
	struct run *run;
	int id;
	pthread_t th;
	atomic_int returned;
	struct nfs_context *nfs; /* NULL in local mode */
	struct file attr_f;
	struct file data_f;
	char dir[DIR_LEN];
	char *buf;
	uint64_t data_bytes; /* this client's file size */
	uint64_t pos;
	uint64_t seq;
	uint64_t rng;
	uint64_t *lat; /* ns */
	size_t nlat;
	uint64_t ops, bytes, errors;
	uint64_t t_end;
	int failed; /* setup phase result */
	int mounted;
};

struct run {
	struct opts o;
	const struct workload *wl;
	struct client *c;
	int inited; /* clients fully initialised; cleanup needs all of them */
	struct nfs_url *url;
	char scratch[SCRATCH_LEN];
	char rdp_dir[DIR_LEN];
	int rdp_made;
	int data_ready;
	pthread_barrier_t start;
	atomic_int stop;
	uint64_t t_start, deadline;
	int (*body)(struct client *c);
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* ---- the two back ends: libnfs calls, or the same thing as local syscalls ---- */

/* Local calls return -errno like libnfs's synchronous calls, so callers treat both alike. */
static int neg_errno(int rc)
{
	return rc < 0 ? -errno : rc;
}

static int is_local(const struct client *c)
{
	return c->run->o.local_dir != NULL;
}

static const char *fs_error(struct client *c, int rc)
{
	return is_local(c) ? strerror(-rc) : nfs_get_error(c->nfs);
}

static int fs_mkdir(struct client *c, const char *path)
{
	return is_local(c) ? neg_errno(mkdir(path, 0755)) : nfs_mkdir(c->nfs, path);
}

static int fs_rmdir(struct client *c, const char *path)
{
	return is_local(c) ? neg_errno(rmdir(path)) : nfs_rmdir(c->nfs, path);
}

static int fs_unlink(struct client *c, const char *path)
{
	return is_local(c) ? neg_errno(unlink(path)) : nfs_unlink(c->nfs, path);
}

/* Creates @path and opens it with @flags (O_RDONLY, O_RDWR), like nfs_create(). */
static int fs_create(struct client *c, const char *path, int flags, struct file *f)
{
	if (is_local(c)) {
		f->fd = open(path, flags | O_CREAT, 0644);
		if (f->fd < 0)
			return -errno;
	} else {
		int rc = nfs_create(c->nfs, path, flags, 0644, &f->fh);

		if (rc < 0)
			return rc;
	}
	f->open = 1;
	return 0;
}

static void fs_close(struct client *c, struct file *f)
{
	if (!f->open)
		return;
	if (is_local(c))
		close(f->fd);
	else
		nfs_close(c->nfs, f->fh);
	f->open = 0;
}

static int fs_pwrite(struct client *c, struct file *f, uint64_t off, uint64_t len)
{
	if (is_local(c))
		return neg_errno((int)pwrite(f->fd, c->buf, len, (off_t)off));
	return nfs_pwrite(c->nfs, f->fh, off, len, c->buf);
}

static int fs_pread(struct client *c, struct file *f, uint64_t off, uint64_t len)
{
	if (is_local(c))
		return neg_errno((int)pread(f->fd, c->buf, len, (off_t)off));
	return nfs_pread(c->nfs, f->fh, off, len, c->buf);
}

/* ---- operations ---- */

static int op_getattr(struct client *c)
{
	struct nfs_stat_64 st;
	struct stat lst;

	if (is_local(c))
		return neg_errno(fstat(c->attr_f.fd, &lst));
	return nfs_fstat64(c->nfs, c->attr_f.fh, &st);
}

static int op_lookup(struct client *c)
{
	char path[PATH_LEN];
	struct nfs_stat_64 st;

	struct stat lst;

	snprintf(path, sizeof(path), "%s/l%02u", c->dir, (unsigned)(c->seq++ % LOOKUP_FILES));
	if (is_local(c))
		return neg_errno(stat(path, &lst));
	return nfs_stat64(c->nfs, path, &st);
}

static int op_create(struct client *c)
{
	char path[PATH_LEN];
	struct file f;
	int rc;

	snprintf(path, sizeof(path), "%s/n%" PRIu64, c->dir, c->seq++);
	rc = fs_create(c, path, O_RDONLY, &f); /* nfs_creat(): CREATE, no SETATTR */
	if (rc < 0)
		return rc;
	fs_close(c, &f);
	return fs_unlink(c, path);
}

/* What READDIRPLUS gives a client: every name with its attributes. */
static int local_readdirplus(struct client *c)
{
	struct dirent *e;
	struct stat st;
	unsigned n = 0;
	int rc = 0;
	DIR *d;

	d = opendir(c->run->rdp_dir);
	if (!d)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = -errno;
			break;
		}
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	if (rc < 0)
		return rc;
	return n == RDP_ENTRIES ? 0 : -EIO;
}

static int op_readdirplus(struct client *c)
{
	struct nfsdir *d;
	struct nfsdirent *e;
	unsigned n = 0;
	int rc;

	if (is_local(c))
		return local_readdirplus(c);
	rc = nfs_opendir(c->nfs, c->run->rdp_dir, &d);
	if (rc < 0)
		return rc;
	while ((e = nfs_readdir(c->nfs, d)) != NULL)
		if (e->name[0] != '.')
			n++;
	nfs_closedir(c->nfs, d);
	return n == RDP_ENTRIES ? 0 : -EIO;
}

/* The next sequential -b sized piece of the client's file, written or read. */
static int seq_io(struct client *c, bool write)
{
	uint64_t len = c->run->o.iosize;
	int rc;

	if (len > c->data_bytes - c->pos)
		len = c->data_bytes - c->pos;
	rc = write ? fs_pwrite(c, &c->data_f, c->pos, len) : fs_pread(c, &c->data_f, c->pos, len);
	if (rc < 0)
		return rc;
	if ((uint64_t)rc != len)
		return -EIO;
	c->pos += len;
	c->bytes += len;
	return 0;
}

static int op_write(struct client *c)
{
	if (c->pos >= c->data_bytes)
		return OP_DONE;
	return seq_io(c, true);
}

static int op_commit(struct client *c)
{
	if (is_local(c))
		return neg_errno(fsync(c->data_f.fd));
	return nfs_fsync(c->nfs, c->data_f.fh);
}

/* Whole passes over the client's file until -t seconds have gone by. */
static int op_read(struct client *c)
{
	if (c->pos >= c->data_bytes) {
		if (now_ns() >= c->run->deadline)
			return OP_DONE;
		c->pos = 0;
	}
	return seq_io(c, false);
}

static int op_randread(struct client *c)
{
	uint64_t blocks = c->data_bytes / RAND_IO;
	uint64_t off = (xorshift(&c->rng) % blocks) * RAND_IO;
	int rc;

	rc = fs_pread(c, &c->data_f, off, RAND_IO);
	if (rc < 0)
		return rc;
	if (rc != RAND_IO)
		return -EIO;
	c->bytes += RAND_IO;
	return 0;
}

static int reset_pos(struct client *c)
{
	c->pos = 0;
	return 0;
}

static const struct workload workloads[WL_N] = {
    [WL_GETATTR] = {.name = "getattr", .op = op_getattr},
    [WL_LOOKUP] = {.name = "lookup", .op = op_lookup},
    [WL_CREATE] = {.name = "create", .op = op_create},
    [WL_READDIRPLUS] = {.name = "readdirplus", .op = op_readdirplus},
    [WL_WRITE] = {.name = "write",
		  .op = op_write,
		  .finish = op_commit,
		  .reset = reset_pos,
		  .bound = BOUND_BYTES},
    [WL_READ] = {.name = "read", .op = op_read, .reset = reset_pos, .bound = BOUND_PASSES},
    [WL_RANDREAD] = {.name = "randread", .op = op_randread},
};

/* ---- running N client threads ---- */

static void record(struct client *c, uint64_t ns)
{
	if (c->nlat < SAMPLE_CAP)
		c->lat[c->nlat++] = ns;
}

static int body_workload(struct client *c)
{
	struct run *r = c->run;
	const struct workload *w = r->wl;
	int rc = 0;

	while (!atomic_load(&r->stop) && c->errors < MAX_ERRS_PER_CLIENT) {
		uint64_t t0 = now_ns();

		if (w->bound == BOUND_TIME && t0 >= r->deadline)
			break;
		rc = w->op(c);
		if (rc == OP_DONE)
			break;
		record(c, now_ns() - t0);
		c->ops++;
		if (rc < 0)
			c->errors++;
	}
	if (w->bound != BOUND_TIME && rc != OP_DONE)
		c->errors++; /* cut by the watchdog or by errors */
	else if (w->finish && w->finish(c) < 0)
		c->errors++;
	c->t_end = now_ns();
	return 0;
}

static void *client_main(void *arg)
{
	struct client *c = arg;

	pthread_barrier_wait(&c->run->start);
	c->failed = c->run->body(c) != 0;
	atomic_store(&c->returned, 1);
	return NULL;
}

/* Waits for every client until @limit (monotonic ns); 0 when all returned. */
static int join_until(struct run *r, uint64_t limit)
{
	for (;;) {
		int all = 1;

		for (int i = 0; i < r->o.clients; i++)
			all &= atomic_load(&r->c[i].returned);
		if (all)
			return 0;
		if (now_ns() >= limit)
			return -1;
		usleep(2000);
	}
}

/*
 * Runs @body on every client at once. @secs is the time workloads' length, @budget the
 * watchdog; after it the clients are told to stop, and a client that still does not
 * return within the grace ends the process.
 */
static int run_clients(struct run *r, int (*body)(struct client *), double secs, double budget)
{
	int failed = 0;

	r->body = body;
	atomic_store(&r->stop, 0);
	pthread_barrier_init(&r->start, NULL, (unsigned)r->o.clients + 1);
	for (int i = 0; i < r->o.clients; i++) {
		atomic_store(&r->c[i].returned, 0);
		if (pthread_create(&r->c[i].th, NULL, client_main, &r->c[i]) != 0) {
			fprintf(stderr, "twload: pthread_create failed\n");
			exit(2); /* the barrier would never open */
		}
	}
	r->t_start = now_ns();
	r->deadline = r->t_start + (uint64_t)(secs * 1e9);
	pthread_barrier_wait(&r->start);
	if (join_until(r, r->t_start + (uint64_t)(budget * 1e9)) != 0) {
		atomic_store(&r->stop, 1);
		if (join_until(r, now_ns() + (uint64_t)(WATCHDOG_GRACE_S * 1e9)) != 0) {
			fprintf(stderr, "twload: clients hung past the watchdog, exiting\n");
			_exit(1);
		}
	}
	for (int i = 0; i < r->o.clients; i++) {
		pthread_join(r->c[i].th, NULL);
		failed |= r->c[i].failed;
	}
	pthread_barrier_destroy(&r->start);
	return failed ? -1 : 0;
}

/* ---- setup and cleanup phases (one client thread each) ---- */

static int body_mount(struct client *c)
{
	struct nfs_url *u = c->run->url;
	int rc;

	if (is_local(c)) {
		c->mounted = 1;
		return 0;
	}
	rc = nfs_mount(c->nfs, u->server, u->path);
	if (rc < 0) {
		fprintf(stderr, "twload: client %d: mount %s:%s: %s\n", c->id, u->server, u->path,
			nfs_get_error(c->nfs));
		return -1;
	}
	c->mounted = 1;
	return 0;
}

static int make_file(struct client *c, const char *path)
{
	struct file f;
	int rc;

	rc = fs_create(c, path, O_RDONLY, &f);
	if (rc < 0) {
		fprintf(stderr, "twload: create %s: %s\n", path, fs_error(c, rc));
		return -1;
	}
	fs_close(c, &f);
	return 0;
}

/* The client's directory with the getattr file (kept open) and the lookup files. */
static int body_prepare(struct client *c)
{
	char path[PATH_LEN];
	int rc;

	rc = fs_mkdir(c, c->dir);
	if (rc < 0) {
		fprintf(stderr, "twload: mkdir %s: %s\n", c->dir, fs_error(c, rc));
		return -1;
	}
	for (int i = 0; i < LOOKUP_FILES; i++) {
		snprintf(path, sizeof(path), "%s/l%02d", c->dir, i);
		if (make_file(c, path) < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/attr", c->dir);
	rc = fs_create(c, path, O_RDWR, &c->attr_f);
	if (rc < 0) {
		fprintf(stderr, "twload: create %s: %s\n", path, fs_error(c, rc));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/data", c->dir);
	rc = fs_create(c, path, O_RDWR, &c->data_f);
	if (rc < 0) {
		fprintf(stderr, "twload: create %s: %s\n", path, fs_error(c, rc));
		return -1;
	}
	return 0;
}

/* This client's share of the readdirplus directory: entries id, id+N, id+2N, ... */
static int body_rdp_fill(struct client *c)
{
	char path[PATH_LEN];

	for (int i = c->id; i < RDP_ENTRIES; i += c->run->o.clients) {
		snprintf(path, sizeof(path), "%s/e%05d", c->run->rdp_dir, i);
		if (make_file(c, path) < 0)
			return -1;
	}
	return 0;
}

static int body_rdp_clean(struct client *c)
{
	char path[PATH_LEN];

	if (!c->mounted)
		return 0;
	for (int i = c->id; i < RDP_ENTRIES; i += c->run->o.clients) {
		snprintf(path, sizeof(path), "%s/e%05d", c->run->rdp_dir, i);
		fs_unlink(c, path);
	}
	return 0;
}

static int body_cleanup(struct client *c)
{
	char path[PATH_LEN];

	if (!c->mounted)
		return 0;
	fs_close(c, &c->attr_f);
	fs_close(c, &c->data_f);
	for (int i = 0; i < LOOKUP_FILES; i++) {
		snprintf(path, sizeof(path), "%s/l%02d", c->dir, i);
		fs_unlink(c, path);
	}
	snprintf(path, sizeof(path), "%s/attr", c->dir);
	fs_unlink(c, path);
	snprintf(path, sizeof(path), "%s/data", c->dir);
	fs_unlink(c, path);
	fs_rmdir(c, c->dir);
	return 0;
}

static int body_umount(struct client *c)
{
	if (c->mounted && !is_local(c))
		nfs_umount(c->nfs);
	return 0;
}

/* ---- results ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0.0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

/* utime+stime of @pid in seconds, or -1. */
static double proc_cpu_s(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1.0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may hold spaces */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1.0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

struct totals {
	uint64_t ops, bytes, errors, t_end;
	size_t nlat;
	uint64_t *lat;
};

static int sum_clients(struct run *r, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < r->o.clients; i++)
		t->nlat += r->c[i].nlat;
	t->lat = malloc((t->nlat ? t->nlat : 1) * sizeof(*t->lat));
	if (!t->lat)
		return -1;
	t->nlat = 0;
	for (int i = 0; i < r->o.clients; i++) {
		struct client *c = &r->c[i];

		t->ops += c->ops;
		t->bytes += c->bytes;
		t->errors += c->errors;
		if (c->t_end > t->t_end)
			t->t_end = c->t_end;
		memcpy(t->lat + t->nlat, c->lat, c->nlat * sizeof(*c->lat));
		t->nlat += c->nlat;
	}
	qsort(t->lat, t->nlat, sizeof(*t->lat), cmp_u64);
	return 0;
}

/* utime+stime of this process in seconds. */
static double self_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0.0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static uint64_t report(struct run *r, double cpu_s, double cli_cpu_s)
{
	struct totals t;
	double secs;

	if (sum_clients(r, &t) < 0)
		return 1;
	secs = t.t_end > r->t_start ? (double)(t.t_end - r->t_start) / 1e9 : 1e-9;
	printf("twload workload=%s clients=%d ops=%" PRIu64 " secs=%.3f ops_s=%.1f mb_s=%.2f "
	       "p50_us=%.1f p99_us=%.1f p999_us=%.1f errors=%" PRIu64 " cli_cpu_s=%.2f",
	       r->wl->name, r->o.clients, t.ops, secs, (double)t.ops / secs,
	       (double)t.bytes / 1e6 / secs, pct_us(t.lat, t.nlat, 0.50),
	       pct_us(t.lat, t.nlat, 0.99), pct_us(t.lat, t.nlat, 0.999), t.errors, cli_cpu_s);
	if (r->o.srv_pid > 0)
		printf(" srv_cpu_s=%.2f", cpu_s);
	printf("\n");
	fflush(stdout);
	free(t.lat);
	return t.errors;
}

/* ---- one workload ---- */

static void reset_clients(struct run *r)
{
	for (int i = 0; i < r->o.clients; i++) {
		struct client *c = &r->c[i];

		c->ops = c->bytes = c->errors = 0;
		c->nlat = 0;
		c->t_end = 0;
		if (r->wl->reset)
			r->wl->reset(c);
	}
}

/* Untimed preparation a workload needs: the big directory, or the data files. */
static int prepare_for(struct run *r, enum wl w)
{
	if (w == WL_READDIRPLUS && !r->rdp_made) {
		int rc = fs_mkdir(&r->c[0], r->rdp_dir);

		if (rc < 0) {
			fprintf(stderr, "twload: mkdir %s: %s\n", r->rdp_dir,
				fs_error(&r->c[0], rc));
			return -1;
		}
		r->rdp_made = 1;
		return run_clients(r, body_rdp_fill, 0, SETUP_BUDGET_S);
	}
	if ((w == WL_READ || w == WL_RANDREAD) && !r->data_ready) {
		r->wl = &workloads[WL_WRITE];
		reset_clients(r);
		if (run_clients(r, body_workload, 0, SETUP_BUDGET_S) < 0)
			return -1;
		for (int i = 0; i < r->o.clients; i++)
			if (r->c[i].errors)
				return -1;
		r->data_ready = 1;
	}
	return 0;
}

static uint64_t run_workload(struct run *r, enum wl w)
{
	double budget = r->o.secs + WATCHDOG_GRACE_S, cpu0 = 0, cpu1 = 0, self0, self1;
	uint64_t errors;

	if (prepare_for(r, w) < 0) {
		fprintf(stderr, "twload: setup for %s failed\n", workloads[w].name);
		return UINT64_MAX;
	}
	r->wl = &workloads[w];
	if (r->wl->bound != BOUND_TIME)
		budget = 3.0 * r->o.secs > DATA_WATCHDOG_MIN ? 3.0 * r->o.secs : DATA_WATCHDOG_MIN;
	reset_clients(r);
	if (r->o.srv_pid > 0)
		cpu0 = proc_cpu_s(r->o.srv_pid);
	self0 = self_cpu_s();
	run_clients(r, body_workload, r->o.secs, budget);
	self1 = self_cpu_s();
	if (r->o.srv_pid > 0)
		cpu1 = proc_cpu_s(r->o.srv_pid);
	errors = report(r, cpu1 - cpu0, self1 - self0);
	if (w == WL_WRITE)
		r->data_ready = errors == 0;
	return errors;
}

/* ---- options and lifetime ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: twload -u URL [-c CLIENTS] [-t SECS] [-w WORKLOADS] [-s MIB] [-b IOSIZE]"
		   " [-p SERVER_PID]\n"
		   "  -u  e.g. 'nfs://127.0.0.1/export?version=3&nfsport=2049&mountport=20048',\n"
		   "      or file:///ABS/DIR: the same operations as local syscalls in DIR\n"
		   "  -c  clients, one connection and thread each (8)\n"
		   "  -t  seconds per workload (10); data workloads: watchdog max(3 x t, 120)\n"
		   "  -w  comma list of getattr,lookup,create,readdirplus,write,read,randread"
		   " (all)\n"
		   "  -s  MiB written in total, split over the clients (256)\n"
		   "  -b  sequential I/O size in bytes (1048576; clamped to the server's max)\n"
		   "  -p  add srv_cpu_s= (CPU seconds of that local process per workload)\n");
}

static int parse_workloads(const char *list, unsigned *mask)
{
	char *copy = strdup(list), *save = NULL, *tok;
	int rc = 0;

	*mask = 0;
	for (tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
		int w;

		for (w = 0; w < WL_N && strcmp(tok, workloads[w].name) != 0; w++)
			;
		if (w == WL_N) {
			fprintf(stderr, "twload: unknown workload '%s'\n", tok);
			rc = -1;
		}
		*mask |= 1u << w;
	}
	free(copy);
	return rc;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	int ch;

	*o = (struct opts){.clients = 8,
			   .secs = 10,
			   .total_bytes = 256 * MIB,
			   .iosize = MIB,
			   .wl_mask = (1u << WL_N) - 1};
	while ((ch = getopt(argc, argv, "u:c:t:w:s:b:p:h")) != -1) {
		switch (ch) {
		case 'u':
			o->url = optarg;
			break;
		case 'c':
			o->clients = atoi(optarg);
			break;
		case 't':
			o->secs = atof(optarg);
			break;
		case 'w':
			if (parse_workloads(optarg, &o->wl_mask) < 0)
				return -1;
			break;
		case 's':
			o->total_bytes = strtoull(optarg, NULL, 10) * MIB;
			break;
		case 'b':
			o->iosize = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			o->srv_pid = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (!o->url || o->clients < 1 || o->clients > MAX_CLIENTS || o->secs <= 0 ||
	    o->iosize < RAND_IO || o->total_bytes < (uint64_t)o->clients * RAND_IO ||
	    optind != argc)
		return -1;
	if (strncmp(o->url, "file://", 7) == 0) {
		o->local_dir = o->url + 7;
		if (o->local_dir[0] != '/') {
			fprintf(stderr, "twload: file:// needs an absolute directory\n");
			return -1;
		}
	}
	return 0;
}

/*
 * Each client holds a socket (or two local fds, plus one while it creates or lists), so
 * 256 clients can pass the usual soft limit of 1024; the hard limit is ours to take.
 */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Contexts one after another in this thread: see the header (XID salt). */

/* libnfs names every context of a process as one NFSv4 client (from the pid and
 * the time): the clients would share one client id and one open-owner, and the
 * server would see one client confirming itself over and over. */
static void client_identity(struct nfs_context *nfs, unsigned i)
{
	char name[96], verf[8];
	uint64_t v = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 24) ^ ((uint64_t)i << 56);
	snprintf(name, sizeof(name), "twload.%d.%u.%ld", (int)getpid(), i, (long)time(NULL));
	nfs4_set_client_name(nfs, name);
	for (int k = 0; k < 8; k++, v >>= 8)
		verf[k] = (char)(v & 0xff);
	nfs4_set_verifier(nfs, verf);
}

static int init_clients(struct run *r)
{
	char host[64] = "host";

	const char *base = r->o.local_dir ? r->o.local_dir : "";
	int n;

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	n = snprintf(r->scratch, sizeof(r->scratch), "%s/twload.%s.%d", base, host, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(r->scratch)) {
		fprintf(stderr, "twload: directory name too long: %s\n", base);
		return -1;
	}
	snprintf(r->rdp_dir, sizeof(r->rdp_dir), "%s/rdp", r->scratch);
	r->c = calloc((size_t)r->o.clients, sizeof(*r->c));
	if (!r->c)
		return -1;
	for (int i = 0; i < r->o.clients; i++) {
		struct client *c = &r->c[i];

		c->run = r;
		c->id = i;
		c->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)(i + 1) * 0xbf58476d1ce4e5b9ull);
		snprintf(c->dir, sizeof(c->dir), "%s/c%03d", r->scratch, i);
		c->lat = malloc(SAMPLE_CAP * sizeof(*c->lat));
		if (!c->lat)
			return -1;
		if (r->o.local_dir) {
			r->inited++;
			continue;
		}
		c->nfs = nfs_init_context();
		if (!c->nfs)
			return -1;
		client_identity(c->nfs, i);
		nfs_set_timeout(c->nfs, RPC_TIMEOUT_MS);
		nfs_set_autoreconnect(c->nfs, 0);
		nfs_set_dircache(c->nfs, 0); /* every listing goes to the server */
		if (i == 0) {
			r->url = nfs_parse_url_dir(c->nfs, r->o.url);
			if (!r->url) {
				fprintf(stderr, "twload: bad URL %s: %s\n", r->o.url,
					nfs_get_error(c->nfs));
				return -1;
			}
		} else {
			/* applies the URL's ?version=&nfsport=&mountport= to this context */
			struct nfs_url *u = nfs_parse_url_dir(c->nfs, r->o.url);

			if (!u)
				return -1;
			nfs_destroy_url(u);
		}
		r->inited++;
	}
	return 0;
}

/* Clamps the I/O size to the server's limits and gives each client its share. */
static int size_io(struct run *r)
{
	uint64_t wmax = 0, rmax = 0;
	uint64_t share;

	if (r->c[0].nfs) {
		wmax = nfs_get_writemax(r->c[0].nfs);
		rmax = nfs_get_readmax(r->c[0].nfs);
	}
	if (wmax && r->o.iosize > wmax)
		r->o.iosize = wmax;
	if (rmax && r->o.iosize > rmax)
		r->o.iosize = rmax;
	share = r->o.total_bytes / (uint64_t)r->o.clients / RAND_IO * RAND_IO;
	for (int i = 0; i < r->o.clients; i++) {
		r->c[i].data_bytes = share;
		r->c[i].buf = malloc(r->o.iosize);
		if (!r->c[i].buf)
			return -1;
		memset(r->c[i].buf, 0x5a, r->o.iosize);
	}
	return 0;
}

static int setup(struct run *r)
{
	int rc;

	raise_nofile();
	if (init_clients(r) < 0 || run_clients(r, body_mount, 0, SETUP_BUDGET_S) < 0 ||
	    size_io(r) < 0)
		return -1;
	rc = fs_mkdir(&r->c[0], r->scratch);
	if (rc < 0) {
		fprintf(stderr, "twload: mkdir %s: %s\n", r->scratch, fs_error(&r->c[0], rc));
		return -1;
	}
	return run_clients(r, body_prepare, 0, SETUP_BUDGET_S);
}

static void cleanup(struct run *r)
{
	if (!r->c || r->inited < r->o.clients)
		return; /* setup stopped before the mounts: nothing made yet */
	if (r->rdp_made) {
		run_clients(r, body_rdp_clean, 0, SETUP_BUDGET_S);
		fs_rmdir(&r->c[0], r->rdp_dir);
	}
	run_clients(r, body_cleanup, 0, SETUP_BUDGET_S);
	if (r->c[0].mounted)
		fs_rmdir(&r->c[0], r->scratch);
	run_clients(r, body_umount, 0, SETUP_BUDGET_S);
}

static void free_run(struct run *r)
{
	if (r->url)
		nfs_destroy_url(r->url);
	for (int i = 0; r->c && i < r->o.clients; i++) {
		if (r->c[i].nfs)
			nfs_destroy_context(r->c[i].nfs);
		free(r->c[i].lat);
		free(r->c[i].buf);
	}
	free(r->c);
}

int main(int argc, char **argv)
{
	struct run r = {0};
	int status = 0;

	if (parse_opts(argc, argv, &r.o) < 0) {
		usage(stderr);
		return 2;
	}
	if (setup(&r) < 0) {
		fprintf(stderr, "twload: setup failed\n");
		status = 2;
		goto out;
	}
	for (int w = 0; w < WL_N && status != 2; w++) {
		uint64_t errors;

		if (!(r.o.wl_mask & (1u << w)))
			continue;
		errors = run_workload(&r, (enum wl)w);
		if (errors == UINT64_MAX)
			status = 2;
		else if (errors)
			status = 1;
	}
out:
	cleanup(&r);
	free_run(&r);
	return status;
}
