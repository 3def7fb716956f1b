/*
 * test_probe.c — unit tests of the fault detectors (failover/probe/probe.h).
 *
 * What is checked:
 *   - the real storage calls on a temporary directory: a passing round writes the
 *     probe file with its round counter; a probe_dir that is missing or a regular
 *     file, a probe file that is a directory, an export root that is missing or
 *     not a directory each fail with a sentence naming the path and the error
 *     (tests run as root, so permissions cannot be used to make a failure);
 *   - injected storage calls: an error passes through with its sentence; a call
 *     that blocks on a semaphore (a hung NFS-backed storage) makes the round
 *     return -ETIMEDOUT by the deadline, is abandoned once and reported "still
 *     hung" afterwards without a second call, and the probe recovers once it
 *     returns; probe_stop and probe_destroy return at once while it hangs, and
 *     the worker finishing afterwards touches nothing freed (run under ASan);
 *   - the periodic thread: on_fault for every failing round, STORAGE or STUCK by
 *     the oldest_executing_ms callback against stuck_ms; a probe_run_once during
 *     a periodic round shares it;
 *   - stop and start again, and bad parameters.
 * Every wait is bounded; intervals and timeouts are tens to hundreds of ms.
 */
#include "failover/probe/probe.h"

#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int twinfs_register_tests(void);

#define WHY_LEN	 2048
#define SLACK	 1000 /* ms a deadline may be overrun by on a loaded, sanitised run */
#define PATIENCE 5000 /* ms any bounded wait gives a condition */

/* ---- helpers --------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Polls cond(arg) every 2 ms for at most PATIENCE ms. */
static bool wait_for(bool (*cond)(void *), void *arg)
{
	uint64_t until = now_ms() + PATIENCE;
	struct timespec nap = {0, 2000000};
	while (!cond(arg)) {
		if (now_ms() >= until)
			return false;
		nanosleep(&nap, NULL);
	}
	return true;
}

static bool sem_wait_bounded(sem_t *s)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += PATIENCE / 1000;
	while (sem_timedwait(s, &ts) < 0)
		if (errno != EINTR)
			return false;
	return true;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

struct tmp {
	char dir[64];
	char path[PATH_MAX]; /* scratch, from tmp_path() */
};

static void tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/twinfs-probe-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(t->dir));
}

static const char *tmp_path(struct tmp *t, const char *name)
{
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	return t->path;
}

static void tmp_remove(struct tmp *t)
{
	CU_ASSERT_EQUAL(nftw(t->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}

static void make_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(content, f);
	fclose(f);
}

static bool contains(const char *s, const char *part)
{
	if (!strstr(s, part))
		fprintf(stderr, "\n'%s' lacks '%s'\n", s, part);
	return strstr(s, part) != NULL;
}

/* What on_fault was told. */
struct faults {
	pthread_mutex_t lock;
	unsigned n[ROLE_FAULT_INJECTED + 1];
	char why[WHY_LEN];
};

static void on_fault(void *arg, enum role_fault f, const char *why)
{
	struct faults *fl = arg;
	pthread_mutex_lock(&fl->lock);
	fl->n[f]++;
	snprintf(fl->why, sizeof(fl->why), "%s", why);
	pthread_mutex_unlock(&fl->lock);
}

static unsigned faults_n(struct faults *fl, enum role_fault f)
{
	pthread_mutex_lock(&fl->lock);
	unsigned n = fl->n[f];
	pthread_mutex_unlock(&fl->lock);
	return n;
}

static bool two_storage_faults(void *arg)
{
	return faults_n(arg, ROLE_FAULT_STORAGE) >= 2;
}

static bool a_stuck_fault(void *arg)
{
	return faults_n(arg, ROLE_FAULT_STUCK) >= 1;
}

/* Injected storage: calls on block_path wait for `release`; write_read returns
 * write_rc. Every call is counted on entry and every worker when it is done. */
struct fake {
	const char *block_path;
	sem_t entered, release;
	atomic_uint calls, blocked, finished;
	int write_rc;
	bool write_msg;
};

static void fake_init(struct fake *f, const char *block_path)
{
	memset(f, 0, sizeof(*f));
	f->block_path = block_path;
	sem_init(&f->entered, 0, 0);
	sem_init(&f->release, 0, 0);
}

static void fake_maybe_block(struct fake *f, const char *path)
{
	atomic_fetch_add(&f->calls, 1);
	if (!f->block_path || strcmp(path, f->block_path) != 0)
		return;
	atomic_fetch_add(&f->blocked, 1);
	sem_post(&f->entered);
	sem_wait(&f->release);
}

static int fake_stat(void *arg, const char *path, char *msg, size_t len)
{
	(void)msg, (void)len;
	fake_maybe_block(arg, path);
	return 0;
}

static int fake_write_read(void *arg, const char *path, const void *data, size_t n, char *msg,
			   size_t len)
{
	struct fake *f = arg;
	(void)data, (void)n;
	fake_maybe_block(f, path);
	if (f->write_rc && f->write_msg)
		snprintf(msg, len, "write to %s: %s", path, strerror(-f->write_rc));
	return f->write_rc;
}

static void fake_finished(void *arg)
{
	struct fake *f = arg;
	atomic_fetch_add(&f->finished, 1);
}

static bool fake_all_finished(void *arg)
{
	struct fake *f = arg;
	return atomic_load(&f->finished) == atomic_load(&f->calls);
}

/* Releases every blocked call, waits until every worker is done, then frees. */
static void fake_end(struct fake *f)
{
	for (unsigned i = 0; i < atomic_load(&f->blocked); i++)
		sem_post(&f->release);
	CU_ASSERT(wait_for(fake_all_finished, f));
	sem_destroy(&f->entered);
	sem_destroy(&f->release);
}

static struct probe_io fake_io(struct fake *f)
{
	return (struct probe_io){fake_stat, fake_write_read, fake_finished, f};
}

static struct probe *new_probe(const struct probe_params *pp)
{
	struct probe *p = NULL;
	CU_ASSERT_EQUAL(probe_create(pp, &p), 0);
	return p;
}

/* ---- the real storage calls ------------------------------------------------- */

static void test_pass_on_tmp(void)
{
	struct tmp t;
	char why[WHY_LEN], buf[128] = "";
	tmp_make(&t);
	const char *roots[] = {t.dir};
	struct probe_params pp = {.roots = roots, .nroots = 1, .dir = t.dir, .node_id = 2};
	struct probe *p = new_probe(&pp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);

	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), 0);
	CU_ASSERT_STRING_EQUAL(why, "");
	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), 0);
	FILE *f = fopen(tmp_path(&t, "probe-node2"), "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL(fgets(buf, sizeof(buf), f));
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, "twinfs probe node 2 round 2\n");
	CU_ASSERT(probe_last_ok(p, why, sizeof(why)));
	struct probe_stats s;
	probe_get_stats(p, &s);
	CU_ASSERT(s.rounds == 2 && s.failures == 0 && s.abandoned == 0 && s.hung == 0);
	probe_destroy(p);

	/* A trailing slash names the same file; no probe_dir writes nothing. */
	CU_ASSERT_EQUAL(unlink(tmp_path(&t, "probe-node2")), 0);
	snprintf(buf, sizeof(buf), "%s//", t.dir);
	pp.dir = buf;
	p = new_probe(&pp);
	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(access(tmp_path(&t, "probe-node2"), F_OK), 0);
	probe_destroy(p);
	CU_ASSERT_EQUAL(unlink(tmp_path(&t, "probe-node2")), 0);
	pp.dir = "";
	p = new_probe(&pp);
	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), 0);
	CU_ASSERT_NOT_EQUAL(access(tmp_path(&t, "probe-node2"), F_OK), 0);
	probe_destroy(p);
	tmp_remove(&t);
}

/* One round with probe_dir = dir (and no export root): rc and its sentence. */
static int once_dir(const char *dir, char *why)
{
	struct probe_params pp = {.dir = dir, .node_id = 1, .timeout_ms = 2000};
	struct probe *p = new_probe(&pp);
	int rc = p ? probe_run_once(p, why, WHY_LEN) : -1;
	char last[WHY_LEN];
	if (p)
		CU_ASSERT_EQUAL(probe_last_ok(p, last, sizeof(last)), rc == 0);
	if (p && rc)
		CU_ASSERT_STRING_EQUAL(last, why);
	probe_destroy(p);
	return rc;
}

static void test_probe_dir_broken(void)
{
	struct tmp t;
	char why[WHY_LEN], want[PATH_MAX + 64];
	tmp_make(&t);

	make_file(tmp_path(&t, "file"), "x");
	CU_ASSERT_EQUAL(once_dir(t.path, why), -ENOTDIR);
	snprintf(want, sizeof(want), "open of %s/file/probe-node1: Not a directory", t.dir);
	CU_ASSERT_STRING_EQUAL(why, want);

	CU_ASSERT_EQUAL(once_dir(tmp_path(&t, "missing"), why), -ENOENT);
	snprintf(want, sizeof(want), "open of %s/missing/probe-node1: No such file", t.dir);
	CU_ASSERT(contains(why, want));

	CU_ASSERT_EQUAL(mkdir(tmp_path(&t, "probe-node1"), 0755), 0);
	CU_ASSERT_EQUAL(once_dir(t.dir, why), -EISDIR);
	CU_ASSERT(contains(why, "probe-node1: Is a directory"));
	tmp_remove(&t);
}

static void test_root_broken(void)
{
	struct tmp t;
	char why[WHY_LEN], missing[PATH_MAX], file[PATH_MAX];
	tmp_make(&t);
	snprintf(missing, sizeof(missing), "%s", tmp_path(&t, "missing"));
	snprintf(file, sizeof(file), "%s", tmp_path(&t, "file"));
	make_file(file, "x");
	const char *roots[] = {t.dir, missing, file};
	struct probe_params pp = {.roots = roots, .nroots = 2};
	struct probe *p = new_probe(&pp);

	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), -ENOENT);
	CU_ASSERT(contains(why, "stat of "));
	CU_ASSERT(contains(why, "/missing: No such file or directory"));
	probe_destroy(p);

	roots[1] = file;
	p = new_probe(&pp);
	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), -ENOTDIR);
	CU_ASSERT(contains(why, "/file is not a directory"));
	probe_destroy(p);

	/* Two failing roots: the first says why, the count says the rest. */
	roots[1] = missing, roots[2] = file;
	pp.nroots = 3;
	p = new_probe(&pp);
	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), -ENOENT);
	CU_ASSERT(contains(why, "/missing: No such file or directory (and 1 more)"));
	struct probe_stats s;
	probe_get_stats(p, &s);
	CU_ASSERT(s.rounds == 1 && s.failures == 1);
	probe_destroy(p);
	tmp_remove(&t);
}

/* ---- injected storage -------------------------------------------------------- */

static void test_injected_error(void)
{
	struct fake f;
	char why[WHY_LEN];
	fake_init(&f, NULL);
	f.write_rc = -EROFS;
	f.write_msg = true;
	struct probe_io io = fake_io(&f);
	const char *roots[] = {"/srv/a"};
	struct probe_params pp = {
	    .roots = roots, .nroots = 1, .dir = "/srv/p", .node_id = 2, .io = &io};
	struct probe *p = new_probe(&pp);

	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), -EROFS);
	CU_ASSERT_STRING_EQUAL(why, "write to /srv/p/probe-node2: Read-only file system");
	f.write_msg = false; /* no sentence from the call: the probe makes one */
	f.write_rc = -EIO;
	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), -EIO);
	CU_ASSERT_STRING_EQUAL(why, "write probe of /srv/p/probe-node2: Input/output error");
	f.write_rc = 0;
	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(atomic_load(&f.calls), 6);
	probe_destroy(p);
	fake_end(&f);
}

static void test_hung_stat(void)
{
	struct fake f;
	char why[WHY_LEN];
	struct probe_stats s;
	fake_init(&f, "/srv/hung");
	struct probe_io io = fake_io(&f);
	const char *roots[] = {"/srv/ok", "/srv/hung"};
	struct probe_params pp = {.roots = roots, .nroots = 2, .timeout_ms = 200, .io = &io};
	struct probe *p = new_probe(&pp);

	uint64_t t0 = now_ms();
	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), -ETIMEDOUT);
	uint64_t took = now_ms() - t0;
	CU_ASSERT(took >= 195 && took <= 200 + SLACK);
	CU_ASSERT_STRING_EQUAL(why, "stat of /srv/hung timed out after 200 ms");
	probe_get_stats(p, &s);
	CU_ASSERT(s.abandoned == 1 && s.hung == 1);

	/* Still hung: reported at once, no second call. */
	t0 = now_ms();
	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), -ETIMEDOUT);
	CU_ASSERT(now_ms() - t0 < 200);
	CU_ASSERT(contains(why, "stat of /srv/hung still hung since "));
	CU_ASSERT_EQUAL(atomic_load(&f.blocked), 1);
	probe_get_stats(p, &s);
	CU_ASSERT(s.abandoned == 1 && s.hung == 1 && s.rounds == 2 && s.failures == 2);

	/* It comes back: the next round calls again and passes. */
	sem_post(&f.release);
	f.block_path = NULL;
	CU_ASSERT(wait_for(fake_all_finished, &f));
	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), 0);
	CU_ASSERT(probe_last_ok(p, why, sizeof(why)));
	probe_get_stats(p, &s);
	CU_ASSERT(s.abandoned == 1 && s.hung == 0);
	CU_ASSERT_EQUAL(atomic_load(&f.calls), 5);
	probe_destroy(p);
	CU_ASSERT(wait_for(fake_all_finished, &f));
	sem_destroy(&f.entered);
	sem_destroy(&f.release);
}

/* The periodic thread is inside a round whose deadline is far off, waiting for a
 * hung write: stop and destroy return at once; the worker returns later and
 * touches nothing of the probe's (ASan would see it). */
static void test_stop_while_hung(void)
{
	struct fake f;
	fake_init(&f, "/srv/p/probe-node1");
	struct probe_io io = fake_io(&f);
	struct probe_params pp = {
	    .dir = "/srv/p", .node_id = 1, .interval_ms = 20, .timeout_ms = 10000, .io = &io};
	struct probe *p = new_probe(&pp);

	CU_ASSERT_EQUAL_FATAL(probe_start(p), 0);
	CU_ASSERT_FATAL(sem_wait_bounded(&f.entered));
	uint64_t t0 = now_ms();
	probe_stop(p);
	probe_destroy(p);
	CU_ASSERT(now_ms() - t0 < 500);
	fake_end(&f);
	CU_ASSERT_EQUAL(atomic_load(&f.blocked), 1);
}

/* A run_once during a periodic round waits for that round and takes its result,
 * rather than start a second call on the hung target. */
static void test_run_once_joins_round(void)
{
	struct fake f;
	char why[WHY_LEN];
	fake_init(&f, "/srv/hung");
	struct probe_io io = fake_io(&f);
	const char *roots[] = {"/srv/hung"};
	struct probe_params pp = {
	    .roots = roots, .nroots = 1, .interval_ms = 20, .timeout_ms = 300, .io = &io};
	struct probe *p = new_probe(&pp);

	CU_ASSERT_EQUAL_FATAL(probe_start(p), 0);
	CU_ASSERT_FATAL(sem_wait_bounded(&f.entered));
	uint64_t t0 = now_ms();
	int rc = probe_run_once(p, why, sizeof(why));
	CU_ASSERT(now_ms() - t0 <= 300 + SLACK);
	CU_ASSERT_EQUAL(rc, -ETIMEDOUT);
	CU_ASSERT(contains(why, "stat of /srv/hung "));
	CU_ASSERT_EQUAL(atomic_load(&f.blocked), 1);
	probe_stop(p);
	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), -ECANCELED);
	probe_destroy(p);
	fake_end(&f);
}

/* ---- the periodic thread ------------------------------------------------------ */

static void test_periodic_storage_fault(void)
{
	struct faults fl = {.lock = PTHREAD_MUTEX_INITIALIZER};
	char why[WHY_LEN];
	const char *roots[] = {"/nonexistent/twinfs-probe-root"};
	struct probe_params pp = {.roots = roots,
				  .nroots = 1,
				  .interval_ms = 20,
				  .timeout_ms = 500,
				  .on_fault = on_fault,
				  .fault_arg = &fl};
	struct probe *p = new_probe(&pp);

	CU_ASSERT_EQUAL_FATAL(probe_start(p), 0);
	CU_ASSERT(wait_for(two_storage_faults, &fl));
	probe_stop(p);
	CU_ASSERT_STRING_EQUAL(fl.why, "stat of /nonexistent/twinfs-probe-root: No such file or "
				       "directory");
	CU_ASSERT_EQUAL(faults_n(&fl, ROLE_FAULT_STUCK), 0);
	CU_ASSERT_FALSE(probe_last_ok(p, why, sizeof(why)));
	CU_ASSERT_STRING_EQUAL(why, fl.why);

	/* Stopped: a round is cancelled. Started again: rounds run again. */
	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), -ECANCELED);
	CU_ASSERT_EQUAL_FATAL(probe_start(p), 0);
	CU_ASSERT_EQUAL(probe_start(p), -EALREADY);
	CU_ASSERT_EQUAL(probe_run_once(p, why, sizeof(why)), -ENOENT);
	probe_stop(p);
	probe_destroy(p);
}

struct stuck {
	_Atomic uint64_t age;
	struct probe *p;
};

static uint64_t stuck_age(void *arg)
{
	return atomic_load(&((struct stuck *)arg)->age);
}

static bool three_rounds(void *arg)
{
	struct probe_stats s;
	probe_get_stats(((struct stuck *)arg)->p, &s);
	return s.rounds >= 3;
}

static void test_periodic_stuck(void)
{
	struct faults fl = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct stuck st = {.age = 500};
	char why[WHY_LEN];
	struct probe_params pp = {.interval_ms = 20,
				  .stuck_ms = 1000,
				  .oldest_executing_ms = stuck_age,
				  .arg = &st,
				  .on_fault = on_fault,
				  .fault_arg = &fl};
	st.p = new_probe(&pp);

	CU_ASSERT_EQUAL(probe_run_once(st.p, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL_FATAL(probe_start(st.p), 0);
	CU_ASSERT(wait_for(three_rounds, &st));
	CU_ASSERT_EQUAL(faults_n(&fl, ROLE_FAULT_STUCK), 0);
	atomic_store(&st.age, 1500);
	CU_ASSERT(wait_for(a_stuck_fault, &fl));
	probe_stop(st.p);
	CU_ASSERT_STRING_EQUAL(fl.why, "a request has been executing for 1500 ms (limit 1000 ms)");
	CU_ASSERT_EQUAL(faults_n(&fl, ROLE_FAULT_STORAGE), 0);
	probe_destroy(st.p);

	/* The synchronous check sees it too. */
	st.p = new_probe(&pp);
	CU_ASSERT_EQUAL(probe_run_once(st.p, why, sizeof(why)), -EBUSY);
	CU_ASSERT_STRING_EQUAL(why, fl.why);
	probe_destroy(st.p);
}

static void test_bad_params(void)
{
	struct probe *p = NULL;
	struct probe_params pp = {.nroots = 1};
	CU_ASSERT_EQUAL(probe_create(NULL, &p), -EINVAL);
	CU_ASSERT_EQUAL(probe_create(&pp, &p), -EINVAL);
	const char *roots[] = {NULL};
	pp.roots = roots;
	CU_ASSERT_EQUAL(probe_create(&pp, &p), -EINVAL);
	CU_ASSERT_PTR_NULL(p);
	probe_stop(NULL);
	probe_destroy(NULL);
}

/* ---- registration ------------------------------------------------------------ */

int twinfs_register_tests(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
	    {"a temporary directory passes; the file holds the round", test_pass_on_tmp},
	    {"probe_dir missing, a file, probe file a directory", test_probe_dir_broken},
	    {"export root missing or not a directory", test_root_broken},
	    {"an injected storage error passes through", test_injected_error},
	    {"a hung stat: timeout, abandoned once, still hung, recovers", test_hung_stat},
	    {"stop and destroy return while a write hangs", test_stop_while_hung},
	    {"run_once during a periodic round shares it", test_run_once_joins_round},
	    {"periodic: a storage fault every failing round", test_periodic_storage_fault},
	    {"periodic: a request stuck EXECUTING", test_periodic_stuck},
	    {"bad parameters", test_bad_params},
	};
	CU_pSuite suite = CU_add_suite("probe", NULL, NULL);

	if (!suite)
		return -1;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(suite, tests[i].name, tests[i].fn))
			return -1;
	return 0;
}
