/*
 * recovery.c — client records and grace (recovery.h).
 *
 * The file holds one line per client: its owner id in hex. Adding a client
 * appends a line and fdatasyncs (a confirmation is rare next to I/O); removing
 * rewrites the file (temporary file, fsync, rename, fsync of the directory), done
 * by the lease thread after clients expired, so that a crash never leaves a
 * half-written list. Records of the previous instance live in memory for the
 * grace period only.
 *
 * Left out: the records of a pair are per node (state_dir); for a takeover the
 * partner needs them too (shared storage or the mirror), see docs/nfs4.md.
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

#define REC_ID_MAX 1024 /* NFS4_OPAQUE_LIMIT */
#define REC_FILE   "nfs4_clients"

struct rec {
	struct rec *next;
	bool reclaimed;
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
	_Atomic uint64_t grace_end; /* ms; 0: no grace */
	struct rec *previous;	    /* the last instance's clients */
	unsigned nprevious, nreclaimed;
	struct rec *current; /* what the file holds */
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

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One line of hex: the id; a malformed line is skipped (and said so). */
static int rec_parse(const char *line, unsigned char *id, size_t *len)
{
	size_t n = strcspn(line, "\n");
	if (n == 0 || n % 2 || n / 2 > REC_ID_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(line[2 * i]), lo = hexval(line[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		id[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return 0;
}

static int rec_load(struct nfs4_recovery *r)
{
	FILE *f = fopen(r->path, "r");
	char line[2 * REC_ID_MAX + 4];
	unsigned char id[REC_ID_MAX];
	size_t len;
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		if (rec_parse(line, id, &len) < 0 || rec_find(r->previous, id, len))
			continue;
		if (!rec_push(&r->previous, id, len) || !rec_push(&r->current, id, len)) {
			fclose(f);
			return -ENOMEM;
		}
		r->nprevious++;
	}
	fclose(f);
	return 0;
}

static int rec_write_line(FILE *f, const struct rec *x)
{
	for (size_t i = 0; i < x->len; i++)
		if (fprintf(f, "%02x", x->id[i]) < 0)
			return -EIO;
	return fputc('\n', f) == EOF ? -EIO : 0;
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
	int dfd = rc == 0 ? open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return rc;
}

int nfs4_recovery_open(const char *state_dir, uint32_t lease_sec, nfs4_clock_fn clock,
		       void *clock_arg, struct nfs4_recovery **out)
{
	struct nfs4_recovery *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->clock = clock;
	r->clock_arg = clock_arg;
	snprintf(r->dir, sizeof(r->dir), "%s", state_dir);
	snprintf(r->path, sizeof(r->path), "%s/%s", state_dir, REC_FILE);
	snprintf(r->tmp, sizeof(r->tmp), "%s/%s.tmp", state_dir, REC_FILE);
	int rc = rec_load(r);
	if (rc < 0) {
		nfs4_recovery_close(r);
		return rc;
	}
	if (r->nprevious)
		atomic_store(&r->grace_end, rec_now(r) + (uint64_t)lease_sec * 1000);
	*out = r;
	return 0;
}

void nfs4_recovery_close(struct nfs4_recovery *r)
{
	if (!r)
		return;
	rec_free(r->previous);
	rec_free(r->current);
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
	if (!rec_find(r->current, id, len)) {
		struct rec *x = rec_push(&r->current, id, len);
		FILE *f = x ? fopen(r->path, "a") : NULL;
		rc = !x ? -ENOMEM : !f ? -errno : rec_write_line(f, x);
		if (f) {
			if (rc == 0 && (fflush(f) != 0 || fdatasync(fileno(f)) < 0))
				rc = -errno;
			fclose(f);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

static void rec_collect(void *arg, const void *id, size_t len)
{
	struct rec **l = arg;
	if (!rec_find(*l, id, len))
		(void)rec_push(l, id, len);
}

int nfs4_recovery_sync(struct nfs4_recovery *r, struct nfs4_state *st)
{
	struct rec *now = NULL;
	nfs4_state_owners(st, rec_collect, &now);
	pthread_mutex_lock(&r->lock);
	/* during grace, the previous instance's clients that have not come back
	 * keep their records: a later restart must still let them reclaim */
	for (const struct rec *x = r->previous; x && nfs4_grace(r); x = x->next)
		rec_collect(&now, x->id, x->len);
	rec_free(r->current);
	r->current = now;
	int rc = rec_rewrite(r);
	pthread_mutex_unlock(&r->lock);
	return rc;
}
