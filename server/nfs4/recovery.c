/*
 * recovery.c — client records and grace (recovery.h).
 *
 * The file holds a line per client, "ID" in hex, and a line "ID EXPORT" for each
 * export (its config id) where the client opened a file, or "ID *" when it did so
 * on more exports than a record lists: the exports a grace period must cover. A
 * line is appended and fdatasynced when a client is confirmed or first opens on
 * an export (rare next to I/O); the lease thread rewrites the whole file after
 * clients expired (temporary file, fsync, rename, fsync of the directory), so
 * that a crash never leaves a half-written list. Records of the previous instance
 * live in memory for the grace period only.
 *
 * A pair keeps the file on the shared storage (nfs4_recovery_dir, by default the
 * lease's directory): the node that takes over reads it, and a node that stops
 * serving stops writing it (nfs4_recovery_release), so that only the serving
 * node ever writes.
 *
 * Left out: an index by owner (the lists are walked; a server with thousands of
 * NFSv4 clients would want one).
 */
#include "server/nfs4/recovery.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"

#define REC_ID_MAX    1024 /* NFS4_OPAQUE_LIMIT */
#define REC_FILE      "nfs4_clients"
#define REC_EXPORTS   16 /* exports one record lists; past that, "all" */
#define REC_GRACE_MAX 64 /* exports a grace period lists; past that, all */

struct rec {
	struct rec *next;
	bool reclaimed;
	bool all; /* state on more exports than listed: every export */
	uint8_t nexp;
	uint32_t exp[REC_EXPORTS];
	size_t len;
	unsigned char id[];
};

struct nfs4_recovery {
	pthread_mutex_t lock;
	char path[CONFIG_PATH_MAX + 32];
	char tmp[CONFIG_PATH_MAX + 32];
	char dir[CONFIG_PATH_MAX];
	nfs4_clock_fn clock;
	void *clock_arg;
	uint32_t lease_sec;
	_Atomic uint64_t grace_end; /* ms; 0: no grace */
	struct rec *previous;	    /* the last instance's clients */
	unsigned nprevious, nreclaimed;
	struct rec *current; /* what the file holds */
	bool active;	     /* this node serves: the file is its to write */
	int fd;		     /* the file, for appends; -1 when not active */
	/* the exports in grace: where the previous instance's clients had state */
	bool grace_all;
	unsigned ngrace;
	uint32_t grace_exp[REC_GRACE_MAX];
};

static uint64_t rec_now(const struct nfs4_recovery *r)
{
	if (r->clock)
		return r->clock(r->clock_arg);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct rec *rec_find(struct rec *l, const void *id, size_t len)
{
	for (; l; l = l->next)
		if (l->len == len && !memcmp(l->id, id, len))
			return l;
	return NULL;
}

static struct rec *rec_push(struct rec **l, const void *id, size_t len)
{
	struct rec *x = calloc(1, sizeof(*x) + len);
	if (!x)
		return NULL;
	x->len = len;
	memcpy(x->id, id, len);
	x->next = *l;
	*l = x;
	return x;
}

static void rec_free(struct rec *l)
{
	while (l) {
		struct rec *n = l->next;
		free(l);
		l = n;
	}
}

/* Notes that x has state on export e; true when that is news. */
static bool rec_note(struct rec *x, uint32_t e)
{
	if (x->all)
		return false;
	for (unsigned i = 0; i < x->nexp; i++)
		if (x->exp[i] == e)
			return false;
	if (x->nexp < REC_EXPORTS)
		x->exp[x->nexp++] = e;
	else
		x->all = true;
	return true;
}

static void rec_copy_exports(struct rec *to, const struct rec *from)
{
	to->all = from->all;
	to->nexp = from->nexp;
	memcpy(to->exp, from->exp, sizeof(to->exp));
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A line: the id in hex, then optionally " EXPORT" or " *" (*exp: UINT32_MAX
 * for none, REC_ALL for all). A malformed line is skipped. */
#define REC_ALL (UINT32_MAX - 1)
static int rec_parse(const char *line, unsigned char *id, size_t *len, uint32_t *exp)
{
	size_t n = strcspn(line, " \n");
	if (n == 0 || n % 2 || n / 2 > REC_ID_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(line[2 * i]), lo = hexval(line[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		id[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	*exp = UINT32_MAX;
	if (line[n] != ' ')
		return 0;
	if (line[n + 1] == '*') {
		*exp = REC_ALL;
		return 0;
	}
	char *end;
	unsigned long v = strtoul(line + n + 1, &end, 10);
	if (end == line + n + 1 || (*end && *end != '\n') || v >= REC_ALL)
		return -EINVAL;
	*exp = (uint32_t)v;
	return 0;
}

/* The previous instance's client of this line, its export noted. */
static int rec_load_line(struct nfs4_recovery *r, const unsigned char *id, size_t len, uint32_t exp)
{
	struct rec *p = rec_find(r->previous, id, len), *c = rec_find(r->current, id, len);
	if (!p) {
		if (!(p = rec_push(&r->previous, id, len)) || !(c = rec_push(&r->current, id, len)))
			return -ENOMEM;
		r->nprevious++;
	}
	if (exp == REC_ALL)
		p->all = c->all = true;
	else if (exp != UINT32_MAX)
		rec_note(p, exp), rec_note(c, exp);
	return 0;
}

/* The exports in grace: every one a previous client had state on. */
static void rec_grace_exports(struct nfs4_recovery *r)
{
	for (const struct rec *x = r->previous; x && !r->grace_all; x = x->next) {
		r->grace_all = x->all;
		for (unsigned i = 0; i < x->nexp && !r->grace_all; i++) {
			unsigned k = 0;
			while (k < r->ngrace && r->grace_exp[k] != x->exp[i])
				k++;
			if (k == r->ngrace && r->ngrace == REC_GRACE_MAX)
				r->grace_all = true;
			else if (k == r->ngrace)
				r->grace_exp[r->ngrace++] = x->exp[i];
		}
	}
}

static int rec_load(struct nfs4_recovery *r)
{
	FILE *f = fopen(r->path, "r");
	char line[2 * REC_ID_MAX + 16];
	unsigned char id[REC_ID_MAX];
	size_t len;
	uint32_t exp;
	int rc = 0;
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (rc == 0 && fgets(line, sizeof(line), f))
		if (rec_parse(line, id, &len, &exp) == 0)
			rc = rec_load_line(r, id, len, exp);
	fclose(f);
	rec_grace_exports(r);
	return rc;
}

#define REC_LINE_MAX (2 * REC_ID_MAX + 16)

/* "ID" with " EXPORT" or " *" when exp says so (UINT32_MAX: none); its length. */
static size_t rec_format(char buf[REC_LINE_MAX], const struct rec *x, uint32_t exp)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	for (size_t i = 0; i < x->len; i++) {
		buf[n++] = hex[x->id[i] >> 4];
		buf[n++] = hex[x->id[i] & 15];
	}
	int k = exp == REC_ALL	    ? snprintf(buf + n, REC_LINE_MAX - n, " *\n")
		: exp == UINT32_MAX ? snprintf(buf + n, REC_LINE_MAX - n, "\n")
				    : snprintf(buf + n, REC_LINE_MAX - n, " %u\n", (unsigned)exp);
	return n + (size_t)k;
}

static int rec_write_one(FILE *f, const struct rec *x, uint32_t exp)
{
	char line[REC_LINE_MAX];
	size_t n = rec_format(line, x, exp);
	return fwrite(line, 1, n, f) == n ? 0 : -EIO;
}

static int rec_write_line(FILE *f, const struct rec *x)
{
	if (x->all)
		return rec_write_one(f, x, REC_ALL);
	int rc = rec_write_one(f, x, UINT32_MAX);
	for (unsigned i = 0; rc == 0 && i < x->nexp; i++)
		rc = rec_write_one(f, x, x->exp[i]);
	return rc;
}

/* One line appended and on disk before the caller answers. Through the
 * descriptor opened as root by reload or rewrite: a worker thread may carry the
 * last NFS caller's filesystem identity (fsal/vfs/cred.c), which may not open
 * the state directory. */
static int rec_append(struct nfs4_recovery *r, const struct rec *x, uint32_t exp)
{
	char line[REC_LINE_MAX];
	size_t n = rec_format(line, x, exp);
	if (r->fd < 0)
		return -EBADF;
	if (write(r->fd, line, n) != (ssize_t)n)
		return errno ? -errno : -EIO;
	return fdatasync(r->fd) < 0 ? -errno : 0;
}

/* (Re)opens the append descriptor of the file as it is now named. */
static int rec_open_append(struct nfs4_recovery *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = open(r->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	return r->fd < 0 ? -errno : 0;
}

/* The whole list, atomically: temporary file, fsync, rename, fsync the directory. */
static int rec_rewrite(struct nfs4_recovery *r)
{
	FILE *f = fopen(r->tmp, "w");
	int rc = f ? 0 : -errno;
	for (const struct rec *x = r->current; rc == 0 && x; x = x->next)
		rc = rec_write_line(f, x);
	if (f) {
		if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) < 0))
			rc = -errno;
		if (fclose(f) != 0 && rc == 0)
			rc = -errno;
	}
	if (rc == 0 && rename(r->tmp, r->path) < 0)
		rc = -errno;
	if (rc == 0)
		rc = rec_open_append(r); /* the old one names the replaced file */
	int dfd = rc == 0 ? open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return rc;
}

/* Forgets every record held in memory (the lock held, or no other thread). */
static void rec_forget(struct nfs4_recovery *r)
{
	rec_free(r->previous);
	rec_free(r->current);
	r->previous = r->current = NULL;
	r->nprevious = r->nreclaimed = 0;
	r->grace_all = false;
	r->ngrace = 0;
	atomic_store(&r->grace_end, 0);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

int nfs4_recovery_open(const char *dir, uint32_t lease_sec, nfs4_clock_fn clock, void *clock_arg,
		       struct nfs4_recovery **out)
{
	struct nfs4_recovery *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->clock = clock;
	r->clock_arg = clock_arg;
	r->lease_sec = lease_sec;
	r->fd = -1;
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	snprintf(r->path, sizeof(r->path), "%s/%s", dir, REC_FILE);
	snprintf(r->tmp, sizeof(r->tmp), "%s/%s.tmp", dir, REC_FILE);
	int rc = nfs4_recovery_reload(r);
	if (rc < 0) {
		nfs4_recovery_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

int nfs4_recovery_reload(struct nfs4_recovery *r)
{
	pthread_mutex_lock(&r->lock);
	rec_forget(r);
	int rc = rec_load(r);
	if (rc == 0)
		rc = rec_open_append(r);
	if (rc == 0 && r->nprevious)
		atomic_store(&r->grace_end, rec_now(r) + (uint64_t)r->lease_sec * 1000);
	r->active = rc == 0;
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void nfs4_recovery_release(struct nfs4_recovery *r)
{
	pthread_mutex_lock(&r->lock);
	rec_forget(r);
	r->active = false;
	pthread_mutex_unlock(&r->lock);
}

void nfs4_recovery_close(struct nfs4_recovery *r)
{
	if (!r)
		return;
	rec_forget(r);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

bool nfs4_grace(struct nfs4_recovery *r)
{
	uint64_t end = atomic_load_explicit(&r->grace_end, memory_order_relaxed);
	if (!end)
		return false;
	if (rec_now(r) < end)
		return true;
	atomic_store(&r->grace_end, 0);
	return false;
}

bool nfs4_grace_on(struct nfs4_recovery *r, uint32_t export_id)
{
	if (!nfs4_grace(r))
		return false;
	pthread_mutex_lock(&r->lock);
	bool on = r->grace_all;
	for (unsigned i = 0; i < r->ngrace && !on; i++)
		on = r->grace_exp[i] == export_id;
	pthread_mutex_unlock(&r->lock);
	return on;
}

unsigned nfs4_recovery_previous(const struct nfs4_recovery *r)
{
	return r->nprevious;
}

bool nfs4_recovery_may_reclaim(struct nfs4_recovery *r, const void *id, size_t len)
{
	if (!nfs4_grace(r))
		return false;
	pthread_mutex_lock(&r->lock);
	bool known = rec_find(r->previous, id, len) != NULL;
	pthread_mutex_unlock(&r->lock);
	return known;
}

void nfs4_recovery_reclaimed(struct nfs4_recovery *r, const void *id, size_t len)
{
	pthread_mutex_lock(&r->lock);
	struct rec *x = rec_find(r->previous, id, len);
	if (x && !x->reclaimed) {
		x->reclaimed = true;
		if (++r->nreclaimed == r->nprevious)
			atomic_store(&r->grace_end, 0); /* everybody is back: no need to wait */
	}
	pthread_mutex_unlock(&r->lock);
}

int nfs4_recovery_add(struct nfs4_recovery *r, const void *id, size_t len)
{
	int rc = 0;
	if (len > REC_ID_MAX)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	if (r->active && !rec_find(r->current, id, len)) {
		struct rec *x = rec_push(&r->current, id, len);
		rc = x ? rec_append(r, x, UINT32_MAX) : -ENOMEM;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int nfs4_recovery_add_export(struct nfs4_recovery *r, const void *id, size_t len,
			     uint32_t export_id)
{
	int rc = 0;
	if (len > REC_ID_MAX || export_id >= REC_ALL)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	struct rec *x = rec_find(r->current, id, len);
	if (!x && r->active)
		x = rec_push(&r->current, id, len);
	if (r->active && !x)
		rc = -ENOMEM;
	else if (r->active && rec_note(x, export_id))
		rc = rec_append(r, x, x->all ? REC_ALL : export_id);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

static void rec_collect(void *arg, const void *id, size_t len)
{
	struct rec **l = arg;
	if (!rec_find(*l, id, len))
		(void)rec_push(l, id, len);
}

/* Each record of `now` gets the exports its counterpart in `from` lists. */
static void rec_keep_exports(struct rec *now, const struct rec *from)
{
	for (struct rec *x = now; x; x = x->next) {
		const struct rec *o = rec_find((struct rec *)from, x->id, x->len);
		if (o)
			rec_copy_exports(x, o);
	}
}

int nfs4_recovery_sync(struct nfs4_recovery *r, struct nfs4_state *st)
{
	struct rec *now = NULL;
	nfs4_state_owners(st, rec_collect, &now);
	pthread_mutex_lock(&r->lock);
	if (!r->active) {
		/* released: the partner serves and owns the file now */
		pthread_mutex_unlock(&r->lock);
		rec_free(now);
		return 0;
	}
	rec_keep_exports(now, r->current);
	/* during grace, the previous instance's clients that have not come back
	 * keep their records: a later restart must still let them reclaim */
	for (const struct rec *x = r->previous; x && nfs4_grace(r); x = x->next) {
		if (rec_find(now, x->id, x->len))
			continue;
		struct rec *y = rec_push(&now, x->id, x->len);
		if (y)
			rec_copy_exports(y, x);
	}
	rec_free(r->current);
	r->current = now;
	int rc = rec_rewrite(r);
	pthread_mutex_unlock(&r->lock);
	return rc;
}
