/*
 * test_lease.c — unit tests of the storage lease (failover/fence/lease.h).
 *
 * Two lease objects (node 1, node 2) on one mailbox file in a temporary directory,
 * each with its own fake clock, so nothing sleeps. A fake clock can run a hook at
 * its n-th reading: the lease reads its clock at the start of an operation and after
 * each read of the mailbox, so a hook placed there runs the partner's operation
 * between this node's read and its write: the races the design is about.
 *
 * What is checked:
 *   - open: bad parameters, unusable paths, nothing written;
 *   - acquire when free; the partner can neither acquire nor seize while the holder
 *     renews; seize exactly lease_ms after the observer first saw the last renewal,
 *     not 1 ms before; a holder that renews after a seize, or after its deadline,
 *     loses (-ESTALE); release lets the partner acquire at once; epochs increase
 *     across handovers; the partner's longer lease is honoured;
 *   - unreadable mailboxes: garbage, a torn record, a short file count as held by an
 *     unknown node until expired by observation; an empty file is free;
 *   - I/O errors are clean (the deadline stands); slow takes and renewals give
 *     nothing;
 *   - races: both acquire at once, a renewal against a seize, in both orders;
 *   - a seeded random simulation: two node threads run one at a time by a scheduler
 *     that advances a global time, freezes nodes (SIGSTOP) at any clock reading,
 *     including in the middle of an operation, and gives the clocks different rates;
 *     after every step at most one node believes it holds a valid lease, and the
 *     epochs of successful takes increase.
 */
#include "failover/fence/lease.h"

#include <CUnit/CUnit.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int twinfs_register_tests(void);

#define L     1000u			 /* lease_ms in these tests */
#define VALID (L - L / LEASE_MARGIN_DIV) /* the holder's validity from its start */

static char g_dir[64];
static unsigned g_files;

/* ---- fixture --------------------------------------------------------------------------- */

static int suite_init(void)
{
	strcpy(g_dir, "/tmp/twinfs-lease-XXXXXX");
	return mkdtemp(g_dir) ? 0 : -1;
}

static int suite_clean(void)
{
	DIR *d = opendir(g_dir);
	struct dirent *e;
	char p[512];

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", g_dir, e->d_name);
		if (unlink(p) < 0)
			rmdir(p);
	}
	closedir(d);
	return rmdir(g_dir);
}

static void new_path(char *buf, size_t len)
{
	snprintf(buf, len, "%s/lease-%u", g_dir, ++g_files);
}

struct fclock {
	uint64_t ms;
	unsigned calls;
	unsigned hook_at; /* run hook at this reading (1-based), once */
	void (*hook)(void *arg);
	void *hook_arg;
};

static uint64_t fclock_read(void *arg)
{
	struct fclock *c = arg;
	uint64_t v = c->ms; /* read first: the hook runs "after the reading" */

	if (c->hook && ++c->calls == c->hook_at) {
		void (*h)(void *) = c->hook;

		c->hook = NULL;
		h(c->hook_arg);
	}
	return v;
}

/* Runs hook at the k-th clock reading from now (1: the next one). */
static void arm(struct fclock *c, unsigned k, void (*hook)(void *), void *arg)
{
	c->calls = 0;
	c->hook_at = k;
	c->hook = hook;
	c->hook_arg = arg;
}

struct duo {
	char path[128];
	struct fclock c[2];
	struct lease *l[2];
};

static int duo_open_ms(struct duo *d, uint32_t ms0, uint32_t ms1)
{
	uint32_t ms[2] = {ms0, ms1};

	memset(d, 0, sizeof(*d));
	new_path(d->path, sizeof(d->path));
	for (unsigned i = 0; i < 2; i++) {
		struct lease_params p = {
		    .path = d->path,
		    .node_id = i + 1,
		    .lease_ms = ms[i],
		    .clock = fclock_read,
		    .clock_arg = &d->c[i],
		};
		d->c[i].ms = 1000000u * (i + 1); /* unrelated origins */
		if (lease_open(&p, &d->l[i]) != 0)
			return -1;
	}
	return 0;
}

static int duo_open(struct duo *d)
{
	return duo_open_ms(d, L, L);
}

static void duo_close(struct duo *d)
{
	lease_close(d->l[0]);
	lease_close(d->l[1]);
}

static void advance(struct duo *d, uint64_t ms)
{
	d->c[0].ms += ms;
	d->c[1].ms += ms;
}

static struct lease_view view(struct duo *d, unsigned i)
{
	struct lease_view v;

	memset(&v, 0xa5, sizeof(v));
	CU_ASSERT_EQUAL(lease_observe(d->l[i], &v), 0);
	return v;
}

static bool holds(struct duo *d, unsigned i)
{
	return d->c[i].ms < lease_valid_until(d->l[i]);
}

static void write_at(const char *path, off_t off, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pwrite(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* ---- open ------------------------------------------------------------------------------ */

static int open_one(const char *path, unsigned node, uint32_t ms)
{
	struct lease_params p = {.path = path, .node_id = node, .lease_ms = ms};
	struct lease *l = (struct lease *)&p; /* must be reset to NULL on failure */
	int rc = lease_open(&p, &l);

	if (rc == 0)
		lease_close(l);
	else
		CU_ASSERT_PTR_NULL(l);
	return rc;
}

static void test_open_params(void)
{
	char path[128];
	struct lease *l;
	struct stat st;

	new_path(path, sizeof(path));
	CU_ASSERT_EQUAL(lease_open(NULL, &l), -EINVAL);
	CU_ASSERT_EQUAL(open_one("", 1, L), -EINVAL);
	CU_ASSERT_EQUAL(open_one(path, 0, L), -EINVAL);
	CU_ASSERT_EQUAL(open_one(path, 3, L), -EINVAL);
	CU_ASSERT_EQUAL(open_one(path, 1, LEASE_MIN_MS - 1), -EINVAL);
	CU_ASSERT_EQUAL(open_one(path, 1, LEASE_MAX_MS + 1), -EINVAL);
	CU_ASSERT_EQUAL(file_size(path), -1);	  /* nothing created on bad params */
	CU_ASSERT_EQUAL(open_one(path, 1, 0), 0); /* 0: the default lease */
	CU_ASSERT_EQUAL(open_one(path, 2, LEASE_MIN_MS), 0);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, 0); /* opening takes nothing */
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
}

static void test_open_unusable_path(void)
{
	char path[192], fifo[128];

	CU_ASSERT_EQUAL(open_one("/nonexistent-twinfs/dir/lease", 1, L), -ENOENT);
	CU_ASSERT_EQUAL(open_one(g_dir, 1, L), -EISDIR);
	new_path(path, sizeof(path));
	CU_ASSERT_EQUAL(open_one(path, 1, L), 0);
	strcat(path, "/below-a-file");
	CU_ASSERT_EQUAL(open_one(path, 1, L), -ENOTDIR);
	new_path(fifo, sizeof(fifo));
	CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
	CU_ASSERT_EQUAL(open_one(fifo, 1, L), -EINVAL); /* not a file or a disk */
	if (geteuid() != 0) {				/* root writes anything */
		new_path(path, sizeof(path));
		CU_ASSERT_EQUAL(open_one(path, 1, L), 0);
		CU_ASSERT_EQUAL(chmod(path, 0400), 0);
		CU_ASSERT_EQUAL(open_one(path, 1, L), -EACCES);
	}
}

/* ---- taking and keeping ---------------------------------------------------------------- */

static void test_acquire_when_free(void)
{
	struct duo d;
	struct lease_view v;
	uint64_t start;

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	v = view(&d, 1);
	CU_ASSERT_EQUAL(v.state, LEASE_ABSENT);
	CU_ASSERT(v.free && v.expired && !v.mine);
	CU_ASSERT_EQUAL(lease_valid_until(d.l[0]), 0);
	CU_ASSERT_EQUAL(lease_epoch(d.l[0]), 0);
	start = d.c[0].ms;
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), 0);
	CU_ASSERT_EQUAL(lease_valid_until(d.l[0]), start + VALID);
	CU_ASSERT_EQUAL(lease_epoch(d.l[0]), 1);
	CU_ASSERT(lease_valid(d.l[0]));
	CU_ASSERT_EQUAL(file_size(d.path), LEASE_SLOT_SIZE);
	v = view(&d, 0);
	CU_ASSERT(v.mine);
	v = view(&d, 1);
	CU_ASSERT_EQUAL(v.state, LEASE_HELD);
	CU_ASSERT_EQUAL(v.holder, 1);
	CU_ASSERT_EQUAL(v.epoch, 1);
	CU_ASSERT_EQUAL(v.counter, 1);
	CU_ASSERT(!v.free && !v.expired && !v.mine);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), 0); /* again: a renewal */
	CU_ASSERT_EQUAL(lease_epoch(d.l[0]), 1);
	CU_ASSERT_EQUAL(view(&d, 1).counter, 2);
	duo_close(&d);
}

static void test_partner_waits_while_renewed(void)
{
	struct duo d;
	uint64_t until = 0;

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), 0);
	for (unsigned i = 0; i < 40; i++) { /* 10 leases long */
		advance(&d, L / 4);
		CU_ASSERT_EQUAL(lease_renew(d.l[0], &until), 0);
		CU_ASSERT_EQUAL(until, d.c[0].ms + VALID);
		CU_ASSERT_EQUAL(lease_acquire(d.l[1]), -EBUSY);
		CU_ASSERT_EQUAL(lease_seize(d.l[1]), -EBUSY);
		CU_ASSERT(!view(&d, 1).expired);
		CU_ASSERT(holds(&d, 0) && !holds(&d, 1));
	}
	CU_ASSERT_EQUAL(view(&d, 1).counter, 41);
	duo_close(&d);
}

/*
 * The holder renews at t, the observer first reads that renewal at t + 10 and may
 * seize at t + 10 + L, not 1 ms before; the holder gave up at t + VALID.
 */
static void test_seize_after_expiry(void)
{
	struct duo d;
	struct lease_view v;
	uint64_t t, seen;

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), 0);
	advance(&d, L / 4);
	t = d.c[0].ms;
	CU_ASSERT_EQUAL(lease_renew(d.l[0], NULL), 0);
	advance(&d, 10);
	seen = d.c[1].ms;
	v = view(&d, 1);
	CU_ASSERT_EQUAL(v.unchanged_ms, 0);
	d.c[1].ms = seen + L - 1;
	d.c[0].ms = t + 10 + L - 1;
	v = view(&d, 1);
	CU_ASSERT(!v.expired);
	CU_ASSERT_EQUAL(v.unchanged_ms, L - 1);
	CU_ASSERT_EQUAL(lease_seize(d.l[1]), -EBUSY);
	CU_ASSERT_EQUAL(lease_acquire(d.l[1]), -EBUSY);
	CU_ASSERT(!holds(&d, 0)); /* gave up long before */
	CU_ASSERT_EQUAL(lease_valid_until(d.l[0]), t + VALID);
	advance(&d, 1);
	CU_ASSERT(view(&d, 1).expired);
	CU_ASSERT_EQUAL(lease_seize(d.l[1]), 0);
	CU_ASSERT_EQUAL(lease_epoch(d.l[1]), 2);
	CU_ASSERT_EQUAL(lease_valid_until(d.l[1]), seen + L + VALID);
	/* Frozen past its deadline: the holder loses without a look at the mailbox. */
	CU_ASSERT_EQUAL(lease_renew(d.l[0], NULL), -ESTALE);
	CU_ASSERT_EQUAL(lease_valid_until(d.l[0]), 0);
	CU_ASSERT_EQUAL(lease_epoch(d.l[0]), 0);
	CU_ASSERT_EQUAL(lease_renew(d.l[0], NULL), -ESTALE);
	v = view(&d, 0);
	CU_ASSERT_EQUAL(v.holder, 2);
	CU_ASSERT_EQUAL(v.epoch, 2);
	CU_ASSERT(!v.mine);
	CU_ASSERT(view(&d, 1).mine);
	duo_close(&d);
}

/* A holder whose clock says it is still valid (a partner with a fast clock seized):
 * the renewal reads the partner's take and loses. */
static void test_renew_after_seize_is_stale(void)
{
	struct duo d;

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), 0);
	view(&d, 1);
	d.c[1].ms += L;
	CU_ASSERT_EQUAL(lease_seize(d.l[1]), 0);
	d.c[0].ms += 100;
	CU_ASSERT(holds(&d, 0)); /* by its own clock: the test cheats on clock rates */
	CU_ASSERT_EQUAL(lease_renew(d.l[0], NULL), -ESTALE);
	CU_ASSERT_EQUAL(lease_valid_until(d.l[0]), 0);
	CU_ASSERT_EQUAL(lease_release(d.l[0]), 0);     /* not held: nothing to do */
	CU_ASSERT_EQUAL(lease_renew(d.l[1], NULL), 0); /* the new holder is unharmed */
	duo_close(&d);
}

/* Missed its deadline, nobody else took the lease: still lost. Serving stopped at the
 * deadline, and only a new take (here, after expiry) may restart it. */
static void test_lapsed_is_lost(void)
{
	struct duo d;

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), 0);
	advance(&d, VALID - 1);
	CU_ASSERT(lease_valid(d.l[0]));
	advance(&d, 1);
	CU_ASSERT(!lease_valid(d.l[0]));
	CU_ASSERT(view(&d, 0).mine); /* the mailbox still names it */
	CU_ASSERT_EQUAL(lease_renew(d.l[0], NULL), -ESTALE);
	CU_ASSERT_EQUAL(lease_valid_until(d.l[0]), 0);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), -EBUSY); /* its own HELD record */
	advance(&d, L - VALID);
	CU_ASSERT_EQUAL(lease_seize(d.l[0]), 0);
	CU_ASSERT_EQUAL(lease_epoch(d.l[0]), 2);
	duo_close(&d);
}

static void test_release_hands_over_at_once(void)
{
	struct duo d;
	struct lease_view v;

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	CU_ASSERT_EQUAL(lease_release(d.l[0]), 0); /* nothing held: no-op */
	CU_ASSERT_EQUAL(view(&d, 1).state, LEASE_ABSENT);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), 0);
	CU_ASSERT_EQUAL(lease_release(d.l[0]), 0);
	CU_ASSERT_EQUAL(lease_valid_until(d.l[0]), 0);
	CU_ASSERT_EQUAL(lease_renew(d.l[0], NULL), -ESTALE);
	v = view(&d, 1);
	CU_ASSERT_EQUAL(v.state, LEASE_RELEASED);
	CU_ASSERT_EQUAL(v.holder, 1);
	CU_ASSERT(v.free && v.expired);
	CU_ASSERT_EQUAL(lease_acquire(d.l[1]), 0); /* no waiting */
	CU_ASSERT_EQUAL(lease_epoch(d.l[1]), 2);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), -EBUSY);
	CU_ASSERT_EQUAL(view(&d, 0).holder, 2);
	duo_close(&d);
}

/* The partner's record says a longer lease: it is waited for. */
static void test_partner_longer_lease(void)
{
	struct duo d;

	CU_ASSERT_EQUAL_FATAL(duo_open_ms(&d, L, 2 * L), 0);
	CU_ASSERT_EQUAL(lease_acquire(d.l[1]), 0);
	CU_ASSERT_EQUAL(lease_valid_until(d.l[1]), d.c[1].ms + 2 * L - 2 * L / 5);
	view(&d, 0);
	advance(&d, 2 * L - 1);
	CU_ASSERT_EQUAL(lease_seize(d.l[0]), -EBUSY);
	advance(&d, 1);
	CU_ASSERT_EQUAL(lease_seize(d.l[0]), 0);
	duo_close(&d);
}

/* Handovers of every kind; the epoch grows by one at each, and a stale HELD record
 * below the partner's RELEASED one does not keep the lease. */
static void test_epochs_increase(void)
{
	struct duo d;
	uint64_t last = 0;

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	for (unsigned i = 0; i < 12; i++) {
		unsigned a = i % 2, b = 1 - a;

		CU_ASSERT_EQUAL(lease_acquire(d.l[a]), 0);
		CU_ASSERT_EQUAL(lease_epoch(d.l[a]), last + 1);
		last = lease_epoch(d.l[a]);
		CU_ASSERT_EQUAL(view(&d, b).epoch, last);
		if (i % 3 == 0) { /* the holder dies: seized after expiry */
			lease_abandon(d.l[a]);
			advance(&d, L);
			CU_ASSERT_EQUAL(lease_seize(d.l[b]), 0);
			CU_ASSERT_EQUAL(lease_epoch(d.l[b]), ++last);
			CU_ASSERT_EQUAL(lease_release(d.l[b]), 0);
		} else {
			CU_ASSERT_EQUAL(lease_release(d.l[a]), 0);
		}
		CU_ASSERT(view(&d, a).free);
	}
	duo_close(&d);
}

/* ---- unreadable mailboxes -------------------------------------------------------------- */

static void garbage(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
}

/* Unknown contents: not free; seizable after L of unchanged observation. */
static void check_unknown_until_expired(struct duo *d, unsigned i)
{
	struct lease_view v = view(d, i);

	CU_ASSERT_EQUAL(v.state, LEASE_UNKNOWN);
	CU_ASSERT(!v.free && !v.expired);
	CU_ASSERT_EQUAL(lease_acquire(d->l[i]), -EBUSY);
	advance(d, L - 1);
	CU_ASSERT_EQUAL(lease_seize(d->l[i]), -EBUSY);
	advance(d, 1);
	CU_ASSERT(view(d, i).expired);
	CU_ASSERT_EQUAL(lease_seize(d->l[i]), 0);
	CU_ASSERT(view(d, 1 - i).state == LEASE_HELD || view(d, 1 - i).state == LEASE_UNKNOWN);
}

static void test_garbage_record(void)
{
	struct duo d;
	uint8_t junk[LEASE_FILE_SIZE];

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	garbage(junk, 64, 1);
	write_at(d.path, 0, junk, 64); /* slot 1 */
	check_unknown_until_expired(&d, 1);
	duo_close(&d);

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	garbage(junk, sizeof(junk), 2);
	write_at(d.path, 0, junk, sizeof(junk)); /* both slots */
	check_unknown_until_expired(&d, 0);
	CU_ASSERT_EQUAL(lease_renew(d.l[0], NULL), 0);
	duo_close(&d);
}

/* A record with one bit flipped (a torn write): unknown, even to its writer. */
static void test_torn_record(void)
{
	struct duo d;
	uint8_t byte;
	int fd;

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), 0);
	fd = open(d.path, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pread(fd, &byte, 1, 17), 1); /* in the counter */
	byte ^= 0x10;
	CU_ASSERT_EQUAL(pwrite(fd, &byte, 1, 17), 1);
	close(fd);
	CU_ASSERT_EQUAL(view(&d, 0).state, LEASE_UNKNOWN);
	CU_ASSERT_EQUAL(lease_renew(d.l[0], NULL), -ESTALE); /* someone wrote my slot */
	check_unknown_until_expired(&d, 1);
	duo_close(&d);
}

static void test_short_file(void)
{
	struct duo d;
	uint8_t junk[16];

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	CU_ASSERT_EQUAL(file_size(d.path), 0);
	CU_ASSERT(view(&d, 1).free); /* empty: never held */
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), 0);
	lease_abandon(d.l[0]);
	CU_ASSERT_EQUAL(truncate(d.path, 40), 0); /* a record cut short */
	check_unknown_until_expired(&d, 1);
	duo_close(&d);

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	garbage(junk, sizeof(junk), 3);
	write_at(d.path, 0, junk, sizeof(junk)); /* 16 bytes of something */
	check_unknown_until_expired(&d, 1);
	duo_close(&d);

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	CU_ASSERT_EQUAL(lease_acquire(d.l[1]), 0);
	CU_ASSERT_EQUAL(truncate(d.path, LEASE_SLOT_SIZE + 40), 0); /* slot 2 cut */
	check_unknown_until_expired(&d, 0);
	duo_close(&d);
}

/* ---- errors and slowness --------------------------------------------------------------- */

/* Node 2's slot starts at 4096: a file size limit of 4096 makes its writes fail. */
static void with_write_limit(bool on)
{
	static struct rlimit saved;
	static void (*saved_sig)(int);
	struct rlimit lim;

	if (on) {
		getrlimit(RLIMIT_FSIZE, &saved);
		saved_sig = signal(SIGXFSZ, SIG_IGN);
		lim = saved;
		lim.rlim_cur = LEASE_SLOT_SIZE;
		CU_ASSERT_EQUAL(setrlimit(RLIMIT_FSIZE, &lim), 0);
	} else {
		CU_ASSERT_EQUAL(setrlimit(RLIMIT_FSIZE, &saved), 0);
		signal(SIGXFSZ, saved_sig);
	}
}

static void test_write_error(void)
{
	struct duo d;
	uint64_t until, u2 = 7;

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	with_write_limit(true);
	CU_ASSERT_EQUAL(lease_acquire(d.l[1]), -EFBIG);
	with_write_limit(false);
	CU_ASSERT_EQUAL(lease_valid_until(d.l[1]), 0);
	CU_ASSERT_EQUAL(lease_acquire(d.l[1]), 0);
	until = lease_valid_until(d.l[1]);
	advance(&d, L / 4);
	with_write_limit(true);
	CU_ASSERT_EQUAL(lease_renew(d.l[1], &u2), -EFBIG);
	with_write_limit(false);
	CU_ASSERT_EQUAL(u2, 7);
	CU_ASSERT_EQUAL(lease_valid_until(d.l[1]), until); /* still held, same deadline */
	advance(&d, L / 4);
	CU_ASSERT_EQUAL(lease_renew(d.l[1], &u2), 0);
	CU_ASSERT_EQUAL(u2, d.c[1].ms + VALID);
	with_write_limit(true);
	CU_ASSERT_EQUAL(lease_release(d.l[1]), -EFBIG);
	with_write_limit(false);
	CU_ASSERT_EQUAL(lease_valid_until(d.l[1]), 0); /* stopped anyway: it expires */
	CU_ASSERT(!view(&d, 0).free);
	duo_close(&d);
}

static void slow_io(void *arg)
{
	((struct fclock *)arg)->ms += VALID;
}

static void half_lease(void *arg)
{
	((struct fclock *)arg)->ms += L / 2;
}

static void test_slow_take_and_renewal(void)
{
	struct duo d;
	uint64_t start, until;

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	arm(&d.c[0], 2, slow_io, &d.c[0]); /* frozen between its read and its write */
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), -ETIMEDOUT);
	CU_ASSERT_EQUAL(lease_valid_until(d.l[0]), 0);
	CU_ASSERT_EQUAL(view(&d, 1).state, LEASE_ABSENT); /* withdrawn */
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), 0);
	start = d.c[0].ms;
	arm(&d.c[0], 3, half_lease, &d.c[0]); /* frozen between its write and its check */
	CU_ASSERT_EQUAL(lease_renew(d.l[0], &until), 0);
	CU_ASSERT_EQUAL(until, start + VALID); /* counted from the start, not the end */
	arm(&d.c[0], 1, slow_io, &d.c[0]);     /* frozen right after reading its clock */
	CU_ASSERT_EQUAL(lease_renew(d.l[0], NULL), -ESTALE);
	CU_ASSERT_EQUAL(lease_valid_until(d.l[0]), 0);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), -EBUSY); /* its own HELD: not free */
	duo_close(&d);
}

static void test_default_clock(void)
{
	char path[128];
	struct lease_params p = {.path = path, .node_id = 1, .lease_ms = L};
	struct lease *l;
	struct timespec a, b;
	uint64_t until;

	new_path(path, sizeof(path));
	CU_ASSERT_EQUAL_FATAL(lease_open(&p, &l), 0);
	clock_gettime(CLOCK_BOOTTIME, &a);
	CU_ASSERT_EQUAL(lease_acquire(l), 0);
	clock_gettime(CLOCK_BOOTTIME, &b);
	until = lease_valid_until(l);
	CU_ASSERT(until >= (uint64_t)a.tv_sec * 1000 + (uint64_t)a.tv_nsec / 1000000 + VALID);
	CU_ASSERT(until <= (uint64_t)b.tv_sec * 1000 + (uint64_t)b.tv_nsec / 1000000 + VALID);
	CU_ASSERT(lease_valid(l));
	CU_ASSERT_EQUAL(lease_release(l), 0);
	CU_ASSERT(!lease_valid(l));
	lease_close(l);
}

static void test_direct_io(void)
{
	char path[128];
	struct lease_params p = {.path = path, .node_id = 2, .lease_ms = L, .direct = true};
	struct lease *l;
	struct lease_view v;
	int rc;

	new_path(path, sizeof(path));
	rc = lease_open(&p, &l);
	if (rc == -EINVAL) { /* the file system has no O_DIRECT */
		fprintf(stderr, "(O_DIRECT not supported here) ");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(lease_acquire(l), 0);
	CU_ASSERT_EQUAL(lease_renew(l, NULL), 0);
	CU_ASSERT_EQUAL(lease_observe(l, &v), 0);
	CU_ASSERT(v.mine && v.holder == 2 && v.counter == 2);
	CU_ASSERT_EQUAL(lease_release(l), 0);
	CU_ASSERT_EQUAL(file_size(path), LEASE_FILE_SIZE);
	lease_close(l);
}

static void test_names(void)
{
	CU_ASSERT_STRING_EQUAL(lease_state_name(LEASE_ABSENT), "ABSENT");
	CU_ASSERT_STRING_EQUAL(lease_state_name(LEASE_HELD), "HELD");
	CU_ASSERT_STRING_EQUAL(lease_state_name(LEASE_RELEASED), "RELEASED");
	CU_ASSERT_STRING_EQUAL(lease_state_name(LEASE_UNKNOWN), "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(lease_state_name((enum lease_state)42), "?");
}

/* ---- races, placed by clock hooks ------------------------------------------------------ */

struct nested {
	struct duo *d;
	unsigned node;
	int (*op)(struct lease *l);
	int rc;
};

static void run_nested(void *arg)
{
	struct nested *n = arg;

	n->rc = n->op(n->d->l[n->node]);
}

static int renew_op(struct lease *l)
{
	return lease_renew(l, NULL);
}

/* Both find the lease free; node 2 takes it between node 1's read and write. Node 1
 * sees node 2's write and withdraws; node 2 keeps it. */
static void test_race_both_acquire(void)
{
	struct duo d;
	struct nested n = {.d = &d, .node = 1, .op = lease_acquire, .rc = 1};

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	arm(&d.c[0], 2, run_nested, &n);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), -EBUSY);
	CU_ASSERT_EQUAL(n.rc, 0);
	CU_ASSERT(!holds(&d, 0) && holds(&d, 1));
	CU_ASSERT_EQUAL(view(&d, 0).state, LEASE_HELD); /* node 1's slot is absent again */
	CU_ASSERT_EQUAL(lease_renew(d.l[1], NULL), 0);	/* the withdrawal spared it */
	duo_close(&d);

	/* Node 2 tries between node 1's write and node 1's check: it finds the lease
	 * held and writes nothing; node 1 keeps it. */
	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	n.rc = 1;
	arm(&d.c[0], 3, run_nested, &n);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), 0);
	CU_ASSERT_EQUAL(n.rc, -EBUSY);
	CU_ASSERT(holds(&d, 0) && !holds(&d, 1));
	CU_ASSERT_EQUAL(lease_renew(d.l[0], NULL), 0);
	duo_close(&d);
}

static void pause_then_renew(void *arg)
{
	struct duo *d = arg;

	advance(d, 300);
	CU_ASSERT_EQUAL(lease_renew(d->l[0], NULL), 0);
}

/* The observer is frozen right after a read: a renewal made meanwhile is first seen by
 * the next read, and counted from then, not from the frozen read. */
static void test_observer_frozen_after_read(void)
{
	struct duo d;
	uint64_t frozen_read;

	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), 0);
	view(&d, 1);
	advance(&d, 400);
	frozen_read = d.c[1].ms;
	arm(&d.c[1], 1, pause_then_renew, &d); /* renewed 300 ms after the read */
	view(&d, 1);
	advance(&d, frozen_read + L - d.c[1].ms); /* L after the frozen read */
	CU_ASSERT(holds(&d, 0));
	CU_ASSERT_EQUAL(lease_seize(d.l[1]), -EBUSY);
	advance(&d, L);
	CU_ASSERT_EQUAL(lease_seize(d.l[1]), 0);
	duo_close(&d);
}

/* The holder, frozen for a lease between its read and its write, wakes up while the
 * partner seizes: whichever writes second learns of the other. */
static void test_race_renew_vs_seize(void)
{
	struct duo d;
	struct nested seize = {.d = &d, .node = 1, .op = lease_seize, .rc = 1};
	struct nested renew = {.d = &d, .node = 0, .op = renew_op, .rc = 1};

	/* The seize lands between the renewal's read and its write: renewal loses. */
	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), 0);
	view(&d, 1);
	d.c[1].ms += L; /* the partner's clock runs fast: the test cheats here too */
	arm(&d.c[0], 2, run_nested, &seize);
	CU_ASSERT_EQUAL(lease_renew(d.l[0], NULL), -ESTALE);
	CU_ASSERT_EQUAL(seize.rc, 0);
	CU_ASSERT(!holds(&d, 0) && holds(&d, 1));
	duo_close(&d);

	/* The renewal lands between the seize's read and its write: the seize backs off
	 * and withdraws, the holder keeps its lease. */
	CU_ASSERT_EQUAL_FATAL(duo_open(&d), 0);
	CU_ASSERT_EQUAL(lease_acquire(d.l[0]), 0);
	view(&d, 1);
	d.c[1].ms += L;
	arm(&d.c[1], 2, run_nested, &renew);
	CU_ASSERT_EQUAL(lease_seize(d.l[1]), -EBUSY);
	CU_ASSERT_EQUAL(renew.rc, 0);
	CU_ASSERT(holds(&d, 0) && !holds(&d, 1));
	CU_ASSERT_EQUAL(lease_renew(d.l[0], NULL), 0);
	CU_ASSERT_EQUAL(lease_seize(d.l[1]), -EBUSY); /* it changed again */
	duo_close(&d);
}

/* ---- the random simulation ------------------------------------------------------------- */

/*
 * Each node is a thread; a baton (turn) lets exactly one thread run at a time, so a
 * run is a function of its seed. A node gives the baton back at every clock reading
 * (after taking the value: frozen right after reading its clock) and after every
 * action. The scheduler advances the global time, freezes a node for up to 2.5
 * leases with some probability (wherever it stopped, also mid-operation) and checks
 * after every step that at most one node's clock is below its lease_valid_until().
 */
#define SIM_STEPS  10000
#define SIM_RUNS   8
#define SIM_EPOCHS 4096

struct sim;

struct sim_node {
	struct sim *sim;
	unsigned idx;
	struct lease *l;
	pthread_t th;
	int64_t rate_ppm; /* clock rate: 1 + rate_ppm / 1e6 */
	uint64_t origin;
	uint64_t next_renew;
	uint64_t next_try;
	uint32_t rng;
	bool in_op; /* stopped at a clock reading inside an operation */
};

struct sim_stats {
	unsigned acquired, seized, renewed, stale, busy, lapsed, released, timedout, errors;
};

struct sim {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int turn; /* -1: the scheduler; 0, 1: that node */
	bool stop;
	bool started; /* clocks yield only once the threads run */
	uint64_t t_us;
	uint64_t frozen_until[2];
	uint32_t rng;
	struct sim_node n[2];
	struct sim_stats st;
	uint64_t last_epoch;
	uint8_t epoch_used[SIM_EPOCHS];
	unsigned overlaps, epoch_errors;
	uint64_t first_overlap_us;
};

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static uint64_t node_time(const struct sim_node *n)
{
	int64_t us = (int64_t)n->sim->t_us;

	return n->origin + (uint64_t)(us * (1000000 + n->rate_ppm) / 1000000 / 1000);
}

static void sim_yield(struct sim_node *n)
{
	struct sim *s = n->sim;

	pthread_mutex_lock(&s->mu);
	if (!s->stop) {
		s->turn = -1;
		pthread_cond_broadcast(&s->cv);
	}
	while (s->turn != (int)n->idx)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

static uint64_t sim_clock(void *arg)
{
	struct sim_node *n = arg;
	uint64_t v = node_time(n);

	if (n->sim->started) {
		n->in_op = true; /* frozen here: in the middle of an operation */
		sim_yield(n);
		n->in_op = false;
	}
	return v;
}

/* Every L / 4, or (one in two) late: up to the deadline and past it. */
static uint64_t renew_delay(struct sim_node *n)
{
	uint32_t r = rnd(&n->rng);

	return r % 2 ? L / 4 : L / 8 + r % L;
}

/*
 * A successful take: its epoch must be new, and above every epoch taken before,
 * unless this node was frozen since and its lease lapsed (a later take then came
 * in between, legitimately).
 */
static void sim_took(struct sim_node *n, int rc, unsigned *count)
{
	struct sim *s = n->sim;
	uint64_t e = lease_epoch(n->l);

	if (rc == 0) {
		(*count)++;
		if (e >= SIM_EPOCHS || s->epoch_used[e]++ ||
		    (node_time(n) < lease_valid_until(n->l) && e <= s->last_epoch))
			s->epoch_errors++;
		if (e > s->last_epoch)
			s->last_epoch = e;
		n->next_renew = node_time(n) + renew_delay(n);
	} else if (rc == -EBUSY) {
		s->st.busy++;
	} else if (rc == -ETIMEDOUT) {
		s->st.timedout++;
	} else {
		s->st.errors++;
	}
}

static void sim_standby(struct sim_node *n, uint64_t t)
{
	struct lease_view v;

	if (t < n->next_try)
		return;
	n->next_try = t + 5 + rnd(&n->rng) % 60;
	if (lease_observe(n->l, &v) != 0) {
		n->sim->st.errors++;
		return;
	}
	if (v.free)
		sim_took(n, lease_acquire(n->l), &n->sim->st.acquired);
	else if (v.expired)
		sim_took(n, lease_seize(n->l), &n->sim->st.seized);
}

static void sim_holder(struct sim_node *n, uint64_t t)
{
	struct sim_stats *st = &n->sim->st;
	uint32_t r = rnd(&n->rng) % 1000;
	int rc;

	if (t >= lease_valid_until(n->l)) { /* the pair loop: LEASE_LOST */
		lease_abandon(n->l);
		st->lapsed++;
	} else if (r < 3) { /* planned handover */
		st->released += lease_release(n->l) == 0;
		n->next_try = t + L;
	} else if (r < 5) { /* stops renewing (crash) */
		lease_abandon(n->l);
		n->next_try = t + 2 * L;
	} else if (t >= n->next_renew) {
		rc = lease_renew(n->l, NULL);
		if (rc == 0) {
			st->renewed++;
			n->next_renew = t + renew_delay(n);
		} else if (rc == -ESTALE) {
			st->stale++;
			n->next_try = t + L / 2;
		} else {
			st->errors++;
		}
	}
}

static void *sim_node_main(void *arg)
{
	struct sim_node *n = arg;
	struct sim *s = n->sim;

	pthread_mutex_lock(&s->mu);
	while (s->turn != (int)n->idx)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	while (!s->stop) {
		uint64_t t = node_time(n);

		if (lease_valid_until(n->l))
			sim_holder(n, t);
		else
			sim_standby(n, t);
		sim_yield(n);
	}
	return NULL;
}

static void sim_check(struct sim *s)
{
	unsigned valid = 0;

	for (unsigned i = 0; i < 2; i++)
		valid += node_time(&s->n[i]) < lease_valid_until(s->n[i].l);
	if (valid > 1 && s->overlaps++ == 0)
		s->first_overlap_us = s->t_us;
}

/* How long a node stays frozen: about a lease (the interesting part), or up to 2.5. */
static uint64_t freeze_us(struct sim *s)
{
	uint32_t r = rnd(&s->rng);

	switch (r % 3) {
	case 0:
		return r % (L * 500);
	case 1:
		return L * 500 + r % (L * 600);
	default:
		return r % (L * 2500);
	}
}

/* Advances time, maybe freezes a node (for up to 1.2 leases, or up to 2.5; more
 * often in the middle of an operation), and picks who runs next. */
static int sim_pick(struct sim *s)
{
	uint32_t r = rnd(&s->rng) % 100;
	int who;

	if (r < 70)
		s->t_us += rnd(&s->rng) % 10000;
	else if (r < 95)
		s->t_us += rnd(&s->rng) % 100000;
	who = (int)(rnd(&s->rng) % 2);
	if (s->frozen_until[who] <= s->t_us && rnd(&s->rng) % (s->n[who].in_op ? 5 : 80) == 0)
		s->frozen_until[who] = s->t_us + freeze_us(s);
	if (s->frozen_until[who] > s->t_us)
		who = 1 - who;
	if (s->frozen_until[who] > s->t_us) { /* both frozen: wait for the first */
		who = s->frozen_until[0] <= s->frozen_until[1] ? 0 : 1;
		s->t_us = s->frozen_until[who];
	}
	return who;
}

static void sim_run_steps(struct sim *s, unsigned steps)
{
	pthread_mutex_lock(&s->mu);
	for (unsigned k = 0; k < steps; k++) {
		while (s->turn != -1)
			pthread_cond_wait(&s->cv, &s->mu);
		sim_check(s);
		s->turn = sim_pick(s);
		sim_check(s);
		pthread_cond_broadcast(&s->cv);
	}
	while (s->turn != -1)
		pthread_cond_wait(&s->cv, &s->mu);
	s->stop = true;
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < 2; i++) { /* each finishes its action alone */
		pthread_mutex_lock(&s->mu);
		s->turn = (int)i;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->n[i].th, NULL);
	}
}

static int sim_open(struct sim *s, uint32_t seed)
{
	char path[128];

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->rng = seed;
	s->turn = -1;
	new_path(path, sizeof(path));
	for (unsigned i = 0; i < 2; i++) {
		struct sim_node *n = &s->n[i];
		struct lease_params p = {path, i + 1, L, sim_clock, n, false};

		n->sim = s;
		n->idx = i;
		n->rng = seed * 2654435761u + i + 1;
		n->origin = 5000000u * (i + 1);
		/* up to 5% apart: the margin (20%) covers up to ~10% */
		n->rate_ppm = i ? (int64_t)(rnd(&s->rng) % 100001) - 50000 : 0;
		if (lease_open(&p, &n->l) != 0)
			return -1;
	}
	s->started = true;
	for (unsigned i = 0; i < 2; i++)
		pthread_create(&s->n[i].th, NULL, sim_node_main, &s->n[i]);
	return 0;
}

static void sim_close(struct sim *s)
{
	lease_close(s->n[0].l);
	lease_close(s->n[1].l);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
}

static void test_sim_random(void)
{
	struct sim_stats total = {0};
	unsigned overlaps = 0, epoch_errors = 0;
	static struct sim s;

	for (uint32_t run = 0; run < SIM_RUNS; run++) {
		CU_ASSERT_EQUAL_FATAL(sim_open(&s, 0x5eed0 + run), 0);
		sim_run_steps(&s, SIM_STEPS);
		if (s.overlaps)
			fprintf(stderr, "\nrun %u: two holders at t=%llu us\n", run,
				(unsigned long long)s.first_overlap_us);
		overlaps += s.overlaps;
		epoch_errors += s.epoch_errors;
		total.acquired += s.st.acquired;
		total.seized += s.st.seized;
		total.renewed += s.st.renewed;
		total.stale += s.st.stale;
		total.busy += s.st.busy;
		total.lapsed += s.st.lapsed;
		total.released += s.st.released;
		total.timedout += s.st.timedout;
		total.errors += s.st.errors;
		sim_close(&s);
	}
	fprintf(stderr,
		"\n  %u runs: acquired %u, seized %u, renewed %u, lost %u, lapsed %u, released "
		"%u, busy %u, too slow %u ",
		SIM_RUNS, total.acquired, total.seized, total.renewed, total.stale, total.lapsed,
		total.released, total.busy, total.timedout);
	CU_ASSERT_EQUAL(overlaps, 0);
	CU_ASSERT_EQUAL(epoch_errors, 0);
	CU_ASSERT_EQUAL(total.errors, 0);
	/* The runs reached every path that matters. */
	CU_ASSERT(total.acquired >= 20);
	CU_ASSERT(total.seized >= 20);
	CU_ASSERT(total.stale >= 5);
	CU_ASSERT(total.lapsed >= 5);
	CU_ASSERT(total.busy >= 5);
}

/* ---- registration ---------------------------------------------------------------------- */

int twinfs_register_tests(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
	    {"open: bad parameters, nothing written", test_open_params},
	    {"open: unusable paths are clean errors", test_open_unusable_path},
	    {"acquire when free", test_acquire_when_free},
	    {"the partner waits while the holder renews", test_partner_waits_while_renewed},
	    {"seize after lease_ms of no change, not 1 ms before", test_seize_after_expiry},
	    {"a renewal after a seize is stale", test_renew_after_seize_is_stale},
	    {"a lapsed lease is lost, even untouched", test_lapsed_is_lost},
	    {"release lets the partner acquire at once", test_release_hands_over_at_once},
	    {"the partner's longer lease is waited for", test_partner_longer_lease},
	    {"epochs increase across handovers", test_epochs_increase},
	    {"garbage: not free until expired by observation", test_garbage_record},
	    {"torn record: unknown, its writer loses", test_torn_record},
	    {"short files", test_short_file},
	    {"write errors are clean, the deadline stands", test_write_error},
	    {"slow takes and renewals give nothing", test_slow_take_and_renewal},
	    {"default clock", test_default_clock},
	    {"O_DIRECT", test_direct_io},
	    {"state names", test_names},
	    {"race: both acquire at once", test_race_both_acquire},
	    {"race: a renewal against a seize", test_race_renew_vs_seize},
	    {"race: an observer frozen after its read", test_observer_frozen_after_read},
	    {"simulation: never two holders (seeded, frozen nodes, clock drift)", test_sim_random},
	};
	CU_pSuite suite = CU_add_suite("lease", suite_init, suite_clean);

	if (!suite)
		return -1;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(suite, tests[i].name, tests[i].fn))
			return -1;
	return 0;
}
