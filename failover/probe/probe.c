/*
 * probe.c — storage probe and stuck-request detector (see probe.h for what it is
 * for).
 *
 * Invariants:
 *   - A job is shared by the worker thread and the probe: two references at the
 *     start. The worker drops its own after it has published its result; the
 *     probe drops its own when it has collected the result, or at probe_destroy
 *     for a job still hung. The last one frees it. A job holds a reference to the
 *     probe's sync (mutex and condition variable), so the worker can always lock
 *     and signal it, whatever became of the probe.
 *   - A target has at most one job it has not collected: t->job. A round starts a
 *     new one only when t->job is NULL or done, so a hung call never piles up.
 *   - Only one round at a time (in_round); every round ends by the common
 *     deadline or at probe_stop, whichever comes first.
 *
 * Locking: sync->lock guards everything the rounds, the workers and the readers
 * share (the `under lock` fields). Callbacks run without it.
 */
#include "failover/probe/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROBE_WHY_MAX  1280 /* a sentence with a path of up to CONFIG_PATH_MAX */
#define PROBE_DATA_MAX 64   /* the probe file's content */

struct probe_sync {
	pthread_mutex_t lock;
	pthread_cond_t cv; /* a job done, a round over, or stop */
	atomic_uint refs;  /* the probe and every job */
};

struct probe_job {
	struct probe_sync *sync;
	atomic_uint refs; /* the worker, and the probe until it lets go */
	struct probe_io io;
	bool write;
	size_t dlen;
	char data[PROBE_DATA_MAX];
	uint64_t started_ms;
	/* under sync->lock; rc and msg are final once done is set */
	bool done;
	int rc;
	char msg[PROBE_WHY_MAX];
	char path[];
};

struct probe_target {
	char *path;
	bool write; /* the probe file, else an export root */
	/* under sync->lock */
	struct probe_job *job; /* started and not collected: running or hung */
	bool fresh;	       /* job was started by the current round */
	int start_rc;	       /* the current round could not start a worker */
};

struct probe_result {
	int storage_rc, stuck_rc;
	char storage_why[PROBE_WHY_MAX], stuck_why[PROBE_WHY_MAX];
};

struct probe {
	struct probe_params p; /* roots, dir and io are not used after create */
	struct probe_io io;
	struct probe_sync *sync;
	struct probe_target *t;
	unsigned nt;
	pthread_t thread;
	bool running; /* by probe_start/probe_stop's caller only */
	/* under sync->lock */
	bool stopping, in_round, have_last;
	uint64_t counter, rounds, failures, abandoned;
	struct probe_result last;
};

/* ---- time ------------------------------------------------------------------ */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits on the sync's condition variable until deadline_ms (monotonic). */
static void sync_wait_until(struct probe_sync *s, uint64_t deadline_ms)
{
	struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000),
			      .tv_nsec = (long)(deadline_ms % 1000) * 1000000};
	pthread_cond_timedwait(&s->cv, &s->lock, &ts);
}

/* ---- the real storage calls ----------------------------------------------- */

static int io_fail(char *msg, size_t len, const char *step, const char *path, int err)
{
	snprintf(msg, len, "%s of %s: %s", step, path, strerror(err));
	return -err;
}

static int real_stat_root(void *arg, const char *path, char *msg, size_t len)
{
	struct stat st;
	(void)arg;
	if (stat(path, &st) < 0)
		return io_fail(msg, len, "stat", path, errno);
	if (!S_ISDIR(st.st_mode)) {
		snprintf(msg, len, "export root %s is not a directory", path);
		return -ENOTDIR;
	}
	return 0;
}

/* Reads n bytes back from the start and compares them with data. */
static int read_back(int fd, const char *path, const void *data, size_t n, char *msg, size_t len)
{
	char back[PROBE_DATA_MAX];
	ssize_t got = n <= sizeof(back) ? pread(fd, back, n, 0) : -1;
	if (got < 0)
		return io_fail(msg, len, "read back", path, n <= sizeof(back) ? errno : EINVAL);
	if ((size_t)got != n || memcmp(back, data, n) != 0) {
		snprintf(msg, len, "read back of %s: not what was written", path);
		return -EIO;
	}
	return 0;
}

static int real_write_read(void *arg, const char *path, const void *data, size_t n, char *msg,
			   size_t len)
{
	(void)arg;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return io_fail(msg, len, "open", path, errno);
	ssize_t w = pwrite(fd, data, n, 0);
	int rc = 0;
	if (w < 0 || (size_t)w != n)
		rc = io_fail(msg, len, "write", path, w < 0 ? errno : EIO);
	else if (fsync(fd) < 0)
		rc = io_fail(msg, len, "fsync", path, errno);
	else
		rc = read_back(fd, path, data, n, msg, len);
	/* On NFS, close reports write errors too. */
	if (close(fd) < 0 && rc == 0)
		rc = io_fail(msg, len, "close", path, errno);
	return rc;
}

static const struct probe_io real_io = {
    .stat_root = real_stat_root,
    .write_read = real_write_read,
};

/* ---- shared objects -------------------------------------------------------- */

static struct probe_sync *sync_new(void)
{
	struct probe_sync *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	/* Deadlines are on the monotonic clock: a wall-clock step must not end or
	 * stretch a wait. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&s->refs, 1);
	return s;
}

static void sync_put(struct probe_sync *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void job_put(struct probe_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	sync_put(j->sync);
	free(j);
}

static const char *job_verb(bool write)
{
	return write ? "write probe" : "stat";
}

/* The worker: one storage call, then the result under the lock. It may never get
 * past the call (a hung storage); nothing waits for it. */
static void *probe_worker(void *arg)
{
	struct probe_job *j = arg;
	struct probe_io io = j->io;
	char msg[PROBE_WHY_MAX] = "";
	int rc = j->write ? io.write_read(io.arg, j->path, j->data, j->dlen, msg, sizeof(msg))
			  : io.stat_root(io.arg, j->path, msg, sizeof(msg));

	pthread_mutex_lock(&j->sync->lock);
	j->rc = rc;
	if (rc < 0 && !msg[0])
		snprintf(msg, sizeof(msg), "%s of %s: %s", job_verb(j->write), j->path,
			 strerror(-rc));
	memcpy(j->msg, msg, sizeof(msg));
	j->done = true;
	pthread_cond_broadcast(&j->sync->cv);
	pthread_mutex_unlock(&j->sync->lock);
	job_put(j);
	if (io.finished)
		io.finished(io.arg);
	return NULL;
}

/* Under the lock: a job for target t, its worker started (detached). 0 or -errno. */
static int job_start(struct probe *p, struct probe_target *t, uint64_t seq, uint64_t now)
{
	size_t plen = strlen(t->path) + 1;
	struct probe_job *j = calloc(1, sizeof(*j) + plen);
	if (!j)
		return -ENOMEM;
	memcpy(j->path, t->path, plen);
	j->io = p->io;
	j->write = t->write;
	j->started_ms = now;
	int n = snprintf(j->data, sizeof(j->data), "twinfs probe node %u round %llu\n",
			 p->p.node_id, (unsigned long long)seq);
	j->dlen = n > 0 && (size_t)n < sizeof(j->data) ? (size_t)n : sizeof(j->data) - 1;
	j->sync = p->sync;
	atomic_init(&j->refs, 2);
	atomic_fetch_add(&p->sync->refs, 1);

	pthread_attr_t a;
	pthread_t th;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&th, &a, probe_worker, j);
	pthread_attr_destroy(&a);
	if (rc != 0) {
		atomic_store(&j->refs, 1);
		job_put(j);
		return -rc;
	}
	t->job = j;
	return 0;
}

/* ---- a round --------------------------------------------------------------- */

/* Under the lock: a worker for every target that has none still hanging. */
static void round_start_jobs(struct probe *p, uint64_t seq, uint64_t now)
{
	for (unsigned i = 0; i < p->nt; i++) {
		struct probe_target *t = &p->t[i];
		t->fresh = false;
		t->start_rc = 0;
		if (t->job && t->job->done) {
			/* A call abandoned before has come back at last: start afresh. */
			job_put(t->job);
			t->job = NULL;
		}
		if (t->job)
			continue; /* still hung: reported, not repeated */
		t->start_rc = job_start(p, t, seq, now);
		t->fresh = t->start_rc == 0;
	}
}

static bool round_pending(const struct probe *p)
{
	for (unsigned i = 0; i < p->nt; i++)
		if (p->t[i].fresh && !p->t[i].job->done)
			return true;
	return false;
}

/* Under the lock: target t's result this round; 0 or -errno with a sentence. */
static int target_result(struct probe *p, struct probe_target *t, uint64_t now, char *why,
			 size_t len)
{
	const char *verb = job_verb(t->write);
	int rc;

	if (t->start_rc) {
		snprintf(why, len, "%s of %s: no worker thread: %s", verb, t->path,
			 strerror(-t->start_rc));
		return t->start_rc;
	}
	if (!t->fresh) {
		snprintf(why, len, "%s of %s still hung since %llu ms", verb, t->path,
			 (unsigned long long)(now - t->job->started_ms));
		return -ETIMEDOUT;
	}
	t->fresh = false;
	if (!t->job->done) {
		/* Abandoned: it stays in t->job until it returns. */
		p->abandoned++;
		snprintf(why, len, "%s of %s timed out after %u ms", verb, t->path,
			 p->p.timeout_ms);
		return -ETIMEDOUT;
	}
	rc = t->job->rc;
	snprintf(why, len, "%s", rc < 0 ? t->job->msg : "");
	job_put(t->job);
	t->job = NULL;
	return rc;
}

static void result_cancelled(struct probe_result *r)
{
	memset(r, 0, sizeof(*r));
	r->storage_rc = -ECANCELED;
	snprintf(r->storage_why, sizeof(r->storage_why), "the probe is stopping");
}

/* Under the lock: every target's result into r; the first failure says why. */
static void round_collect(struct probe *p, struct probe_result *r)
{
	uint64_t now = now_ms();
	char why[PROBE_WHY_MAX];
	unsigned failed = 0;

	r->storage_rc = 0;
	r->storage_why[0] = '\0';
	for (unsigned i = 0; i < p->nt; i++) {
		int rc = target_result(p, &p->t[i], now, why, sizeof(why));
		if (rc == 0)
			continue;
		if (failed++ == 0) {
			r->storage_rc = rc;
			snprintf(r->storage_why, sizeof(r->storage_why), "%s", why);
		}
	}
	if (failed > 1) {
		size_t n = strlen(r->storage_why);
		snprintf(r->storage_why + n, sizeof(r->storage_why) - n, " (and %u more)",
			 failed - 1);
	}
	if (p->stopping) /* cut short: says nothing about the storage */
		result_cancelled(r);
}

/* The stuck check, outside the lock (the callback may take the request table's). */
static void round_stuck(struct probe *p, struct probe_result *r)
{
	r->stuck_rc = 0;
	r->stuck_why[0] = '\0';
	if (!p->p.oldest_executing_ms)
		return;
	uint64_t age = p->p.oldest_executing_ms(p->p.arg);
	if (age <= p->p.stuck_ms)
		return;
	r->stuck_rc = -EBUSY;
	snprintf(r->stuck_why, sizeof(r->stuck_why),
		 "a request has been executing for %llu ms (limit %u ms)", (unsigned long long)age,
		 p->p.stuck_ms);
}

/* Under the lock: another thread's round is under way; its result. */
static void round_join(struct probe *p, struct probe_result *r)
{
	uint64_t seen = p->rounds;
	while (p->rounds == seen && !p->stopping)
		pthread_cond_wait(&p->sync->cv, &p->sync->lock);
	if (p->rounds == seen)
		result_cancelled(r);
	else
		*r = p->last;
}

/* One round into r: start the storage calls, wait for them until the deadline (or
 * stop), collect, check for stuck requests, publish. */
static void probe_round(struct probe *p, struct probe_result *r)
{
	struct probe_sync *s = p->sync;
	pthread_mutex_lock(&s->lock);
	if (p->stopping || p->in_round) {
		if (p->stopping)
			result_cancelled(r);
		else
			round_join(p, r);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	p->in_round = true;
	uint64_t now = now_ms(), deadline = now + p->p.timeout_ms;
	round_start_jobs(p, ++p->counter, now);
	while (round_pending(p) && !p->stopping && now_ms() < deadline)
		sync_wait_until(s, deadline);
	round_collect(p, r);
	pthread_mutex_unlock(&s->lock);

	bool cancelled = r->storage_rc == -ECANCELED;
	if (!cancelled)
		round_stuck(p, r);

	pthread_mutex_lock(&s->lock);
	if (!cancelled) {
		p->last = *r;
		p->have_last = true;
		p->rounds++;
		p->failures += r->storage_rc || r->stuck_rc;
	}
	p->in_round = false;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->lock);
}

/* ---- the periodic thread --------------------------------------------------- */

static void probe_report(struct probe *p, const struct probe_result *r)
{
	if (!p->p.on_fault || r->storage_rc == -ECANCELED)
		return;
	if (r->storage_rc)
		p->p.on_fault(p->p.fault_arg, ROLE_FAULT_STORAGE, r->storage_why);
	if (r->stuck_rc)
		p->p.on_fault(p->p.fault_arg, ROLE_FAULT_STUCK, r->stuck_why);
}

static void *probe_thread(void *arg)
{
	struct probe *p = arg;
	struct probe_result *r = malloc(sizeof(*r));
	bool stop = r == NULL;

	while (!stop) {
		uint64_t next = now_ms() + p->p.interval_ms;
		probe_round(p, r);
		probe_report(p, r);
		pthread_mutex_lock(&p->sync->lock);
		while (!p->stopping && now_ms() < next)
			sync_wait_until(p->sync, next);
		stop = p->stopping;
		pthread_mutex_unlock(&p->sync->lock);
	}
	free(r);
	return NULL;
}

/* ---- the API --------------------------------------------------------------- */

static int target_set(struct probe_target *t, const char *path, bool write)
{
	if (strlen(path) >= PATH_MAX)
		return -EINVAL;
	t->path = strdup(path);
	t->write = write;
	return t->path ? 0 : -ENOMEM;
}

/* The targets: every export root, then the probe file. */
static int probe_targets(struct probe *p, const struct probe_params *pp)
{
	bool dir = pp->dir && pp->dir[0];
	p->t = calloc(pp->nroots + 1, sizeof(*p->t));
	if (!p->t)
		return -ENOMEM;
	for (unsigned i = 0; i < pp->nroots; i++) {
		int rc = pp->roots[i] ? target_set(&p->t[p->nt++], pp->roots[i], false) : -EINVAL;
		if (rc < 0)
			return rc;
	}
	if (!dir)
		return 0;
	size_t n = strlen(pp->dir);
	char file[PATH_MAX];
	/* One slash between the directory and the file name, whatever the config. */
	while (n > 1 && pp->dir[n - 1] == '/')
		n--;
	int len = snprintf(file, sizeof(file), "%.*s%sprobe-node%u", (int)n, pp->dir,
			   pp->dir[n - 1] == '/' ? "" : "/", pp->node_id);
	if (len < 0 || (size_t)len >= sizeof(file))
		return -EINVAL;
	return target_set(&p->t[p->nt++], file, true);
}

int probe_create(const struct probe_params *pp, struct probe **out)
{
	if (!pp || !out || (pp->nroots && !pp->roots))
		return -EINVAL;
	struct probe *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->p = *pp;
	p->p.roots = NULL, p->p.dir = NULL, p->p.io = NULL;
	p->p.interval_ms = pp->interval_ms ? pp->interval_ms : PROBE_DEFAULT_INTERVAL_MS;
	p->p.timeout_ms = pp->timeout_ms ? pp->timeout_ms : PROBE_DEFAULT_TIMEOUT_MS;
	p->p.stuck_ms = pp->stuck_ms ? pp->stuck_ms : PROBE_DEFAULT_STUCK_MS;
	p->io = pp->io ? *pp->io : real_io;
	if (!p->io.stat_root)
		p->io.stat_root = real_stat_root;
	if (!p->io.write_read)
		p->io.write_read = real_write_read;
	p->sync = sync_new();
	int rc = p->sync ? probe_targets(p, pp) : -ENOMEM;
	if (rc < 0) {
		probe_destroy(p);
		return rc;
	}
	*out = p;
	return 0;
}

int probe_run_once(struct probe *p, char *why, size_t len)
{
	struct probe_result *r = malloc(sizeof(*r));
	if (!r) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	probe_round(p, r);
	int rc = r->storage_rc ? r->storage_rc : r->stuck_rc;
	if (r->storage_rc && r->stuck_rc)
		snprintf(why, len, "%s; %s", r->storage_why, r->stuck_why);
	else
		snprintf(why, len, "%s", r->storage_rc ? r->storage_why : r->stuck_why);
	free(r);
	return rc;
}

int probe_start(struct probe *p)
{
	if (p->running)
		return -EALREADY;
	/* Set before the thread exists (and under the lock its rounds read the
	 * neighbouring flags under): no write of it while the thread runs. */
	pthread_mutex_lock(&p->sync->lock);
	p->stopping = false;
	p->running = true;
	pthread_mutex_unlock(&p->sync->lock);
	int rc = pthread_create(&p->thread, NULL, probe_thread, p);
	if (rc != 0) {
		p->running = false;
		return -rc;
	}
	return 0;
}

void probe_stop(struct probe *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->sync->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->sync->cv);
	pthread_mutex_unlock(&p->sync->lock);
	if (p->running)
		pthread_join(p->thread, NULL);
	p->running = false;
}

void probe_destroy(struct probe *p)
{
	if (!p)
		return;
	for (unsigned i = 0; p->t && i < p->nt; i++) {
		if (p->t[i].job)
			job_put(p->t[i].job); /* a hung worker keeps its own reference */
		free(p->t[i].path);
	}
	free(p->t);
	if (p->sync)
		sync_put(p->sync);
	free(p);
}

bool probe_last_ok(struct probe *p, char *why, size_t len)
{
	pthread_mutex_lock(&p->sync->lock);
	const struct probe_result *r = &p->last;
	bool ok = !p->have_last || (!r->storage_rc && !r->stuck_rc);
	if (len)
		snprintf(why, len, "%s", ok ? "" : r->storage_rc ? r->storage_why : r->stuck_why);
	pthread_mutex_unlock(&p->sync->lock);
	return ok;
}

void probe_get_stats(struct probe *p, struct probe_stats *s)
{
	pthread_mutex_lock(&p->sync->lock);
	s->rounds = p->rounds;
	s->failures = p->failures;
	s->abandoned = p->abandoned;
	s->hung = 0;
	for (unsigned i = 0; i < p->nt; i++)
		s->hung += p->t[i].job && !p->t[i].job->done;
	pthread_mutex_unlock(&p->sync->lock);
}
