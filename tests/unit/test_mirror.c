/*
 * test_mirror.c — the mirror stream (failover/mirror): positions, batches,
 * acknowledgements, sync waits, and what detaches it. A sender thread stands in
 * for the peer link; no sockets.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "failover/mirror/mirror.h"
#include "failover/peer/peer.h"

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_detached_pushes_nothing(void)
{
	struct mirror *m;
	CU_ASSERT_FATAL(mirror_create(&m) == 0);
	CU_ASSERT_EQUAL(mirror_push(m, (const uint8_t *)"x", 1), 0);
	CU_ASSERT_EQUAL(mirror_wait(m, 1, 10), -ENOTCONN);
	CU_ASSERT_EQUAL(mirror_flush(m, 10), -ENOTCONN);
	CU_ASSERT_FALSE(mirror_caught_up(m));
	mirror_destroy(m);
}

/* Records come out in order, in one batch, with the last position. */
static void test_batch_and_ack(void)
{
	struct mirror *m;
	uint8_t buf[4096];
	uint32_t used, off = 0, len;
	uint64_t last;
	const uint8_t *rec;
	CU_ASSERT_FATAL(mirror_create(&m) == 0);
	mirror_attach(m);
	CU_ASSERT_EQUAL(mirror_push(m, (const uint8_t *)"one", 3), 1);
	CU_ASSERT_EQUAL(mirror_push(m, (const uint8_t *)"two!", 4), 2);
	mirror_mark_catchup(m);
	CU_ASSERT_FALSE(mirror_caught_up(m));
	uint32_t n = mirror_take(m, buf, sizeof(buf), &used, &last, 10);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(last, 2);
	struct peer_mirror pm = {last, n, used, buf};
	CU_ASSERT(peer_mirror_next(&pm, &off, &rec, &len) && len == 3 && !memcmp(rec, "one", 3));
	CU_ASSERT(peer_mirror_next(&pm, &off, &rec, &len) && len == 4 && !memcmp(rec, "two!", 4));
	CU_ASSERT_FALSE(peer_mirror_next(&pm, &off, &rec, &len));
	/* An ack beyond what was sent is ignored; the right one ends the wait. */
	mirror_acked(m, 99);
	CU_ASSERT_EQUAL(mirror_wait(m, 2, 10), -ETIMEDOUT);
	CU_ASSERT_FALSE(mirror_attached(m)); /* a timed-out wait detaches */
	mirror_attach(m);
	uint64_t p = mirror_push(m, (const uint8_t *)"three", 5);
	CU_ASSERT_EQUAL(p, 3);
	mirror_mark_catchup(m);
	CU_ASSERT_EQUAL(mirror_take(m, buf, sizeof(buf), &used, &last, 10), 1);
	mirror_acked(m, last);
	CU_ASSERT_EQUAL(mirror_wait(m, p, 10), 0);
	CU_ASSERT_TRUE(mirror_caught_up(m));
	struct mirror_stats st;
	mirror_get_stats(m, &st);
	CU_ASSERT(st.pushed == 3 && st.acked == 3 && st.detaches == 1 && st.queued_bytes == 0);
	mirror_destroy(m);
}

/* A batch stops at the frame's capacity; the rest waits for the next one. */
static void test_batch_capacity(void)
{
	struct mirror *m;
	static uint8_t rec[3000], buf[8192];
	uint32_t used;
	uint64_t last;
	CU_ASSERT_FATAL(mirror_create(&m) == 0);
	mirror_attach(m);
	for (int i = 0; i < 5; i++)
		CU_ASSERT(mirror_push(m, rec, sizeof(rec)) != 0);
	CU_ASSERT_EQUAL(mirror_take(m, buf, sizeof(buf), &used, &last, 10), 2);
	CU_ASSERT_EQUAL(last, 2);
	CU_ASSERT_EQUAL(mirror_take(m, buf, sizeof(buf), &used, &last, 10), 2);
	CU_ASSERT_EQUAL(mirror_take(m, buf, sizeof(buf), &used, &last, 10), 1);
	CU_ASSERT_EQUAL(last, 5);
	CU_ASSERT_EQUAL(mirror_take(m, buf, sizeof(buf), &used, &last, 10), 0);
	mirror_destroy(m);
}

/* A full queue detaches (the standby fell behind) rather than block or grow. */
static void test_queue_full_detaches(void)
{
	struct mirror *m;
	static uint8_t rec[4096];
	CU_ASSERT_FATAL(mirror_create(&m) == 0);
	mirror_attach(m);
	unsigned pushed = 0;
	while (mirror_push(m, rec, sizeof(rec)))
		pushed++;
	CU_ASSERT_EQUAL(pushed, MIRROR_QUEUE_BYTES / (sizeof(rec) + 4));
	CU_ASSERT_FALSE(mirror_attached(m));
	mirror_destroy(m);
}

struct standby {
	struct mirror *m;
	atomic_bool stop;
	atomic_uint batches;
};

/* Plays sender + standby: takes batches and acknowledges them a little later. */
static void *standby_thread(void *arg)
{
	struct standby *s = arg;
	static uint8_t buf[PEER_MIRROR_MAX_BYTES];
	while (!atomic_load(&s->stop)) {
		uint32_t used;
		uint64_t last;
		if (mirror_take(s->m, buf, sizeof(buf), &used, &last, 20)) {
			usleep(2000);
			mirror_acked(s->m, last);
			atomic_fetch_add(&s->batches, 1);
		}
	}
	return NULL;
}

struct writer {
	struct mirror *m;
	int fails;
};

static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	for (int i = 0; i < 200; i++) {
		uint64_t p = mirror_push(w->m, (const uint8_t *)"rec", 3);
		if (!p || mirror_wait(w->m, p, 5000) != 0)
			w->fails++;
	}
	return NULL;
}

/* Sync writers on 4 threads: every wait ends acknowledged, and records travel
 * in fewer batches than records (group commit). */
static void test_sync_writers_batch(void)
{
	struct standby s = {0};
	struct writer w[4];
	pthread_t st, wt[4];
	CU_ASSERT_FATAL(mirror_create(&s.m) == 0);
	mirror_attach(s.m);
	pthread_create(&st, NULL, standby_thread, &s);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct writer){s.m, 0};
		pthread_create(&wt[i], NULL, writer_thread, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(wt[i], NULL);
		CU_ASSERT_EQUAL(w[i].fails, 0);
	}
	CU_ASSERT_EQUAL(mirror_flush(s.m, 5000), 0);
	atomic_store(&s.stop, true);
	mirror_wake(s.m);
	pthread_join(st, NULL);
	CU_ASSERT(atomic_load(&s.batches) < 800);
	mirror_destroy(s.m);
}

/* A transport in the test: checks that batches come one at a time and in
 * position order; a standby thread acknowledges what it sent. */
struct wire {
	struct mirror *m;
	atomic_int in_send, overlaps, batches;
	atomic_uint_fast64_t sent, gaps;
	atomic_bool fail, stop;
};

static bool wire_send(void *arg, const uint8_t *buf, uint32_t used, uint32_t count, uint64_t last)
{
	struct wire *w = arg;
	(void)buf, (void)used;
	if (atomic_fetch_add(&w->in_send, 1) != 0)
		atomic_fetch_add(&w->overlaps, 1);
	if (last != atomic_load(&w->sent) + count)
		atomic_fetch_add(&w->gaps, 1);
	atomic_store(&w->sent, last);
	atomic_fetch_add(&w->batches, 1);
	usleep(500);
	atomic_fetch_sub(&w->in_send, 1);
	return !atomic_load(&w->fail);
}

static void *wire_standby(void *arg)
{
	struct wire *w = arg;
	while (!atomic_load(&w->stop)) {
		usleep(1000);
		mirror_acked(w->m, atomic_load(&w->sent));
	}
	return NULL;
}

static void *push_send_thread(void *arg)
{
	struct writer *wr = arg;
	for (int i = 0; i < 200; i++) {
		uint64_t p = mirror_push_send(wr->m, (const uint8_t *)"rec", 3);
		if (!p || mirror_wait(wr->m, p, 5000) != 0)
			wr->fails++;
	}
	return NULL;
}

/* Sync writers that send their records themselves (no sender thread): every
 * wait ends acknowledged, batches leave one at a time in position order, and
 * records pushed during a send travel together. A transport that fails
 * detaches the stream. */
static void test_writers_send_themselves(void)
{
	struct wire w = {0};
	struct writer wr[4];
	pthread_t st, wt[4];
	CU_ASSERT_FATAL(mirror_create(&w.m) == 0);
	mirror_set_transport(w.m, wire_send, &w, 4096);
	mirror_attach(w.m);
	pthread_create(&st, NULL, wire_standby, &w);
	for (int i = 0; i < 4; i++) {
		wr[i] = (struct writer){w.m, 0};
		pthread_create(&wt[i], NULL, push_send_thread, &wr[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(wt[i], NULL);
		CU_ASSERT_EQUAL(wr[i].fails, 0);
	}
	CU_ASSERT_EQUAL(mirror_flush(w.m, 5000), 0);
	CU_ASSERT_EQUAL(atomic_load(&w.sent), 800);
	CU_ASSERT_EQUAL(atomic_load(&w.overlaps), 0);
	CU_ASSERT_EQUAL(atomic_load(&w.gaps), 0);
	CU_ASSERT(atomic_load(&w.batches) < 800);
	atomic_store(&w.fail, true);
	CU_ASSERT_NOT_EQUAL(mirror_push_send(w.m, (const uint8_t *)"x", 1), 0);
	CU_ASSERT_FALSE(mirror_attached(w.m));
	atomic_store(&w.stop, true);
	pthread_join(st, NULL);
	mirror_destroy(w.m);
}

struct waiter {
	struct mirror *m;
	uint64_t pos;
	int rc;
};

static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;
	w->rc = mirror_wait(w->m, w->pos, 10000);
	return NULL;
}

/* A lost link ends a sync wait at once (the reply goes unmirrored). */
static void test_detach_wakes_waiter(void)
{
	struct waiter w;
	pthread_t t;
	CU_ASSERT_FATAL(mirror_create(&w.m) == 0);
	mirror_attach(w.m);
	w.pos = mirror_push(w.m, (const uint8_t *)"r", 1);
	pthread_create(&t, NULL, waiter_thread, &w);
	usleep(20000);
	uint64_t t0 = ms_now();
	mirror_detach(w.m, "test");
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(w.rc, -ENOTCONN);
	CU_ASSERT(ms_now() - t0 < 1000);
	mirror_destroy(w.m);
}

/* mirror_wake ends a sender's wait for records (shutdown). */
static void test_wake_ends_take(void)
{
	struct mirror *m;
	uint8_t buf[64];
	uint32_t used;
	uint64_t last;
	CU_ASSERT_FATAL(mirror_create(&m) == 0);
	mirror_wake(m);
	uint64_t t0 = ms_now();
	CU_ASSERT_EQUAL(mirror_take(m, buf, sizeof(buf), &used, &last, 5000), 0);
	CU_ASSERT(ms_now() - t0 < 1000);
	mirror_destroy(m);
}

int twinfs_register_tests(void);
int twinfs_register_tests(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
	    {"detached: nothing queued, waits end", test_detached_pushes_nothing},
	    {"batch, positions, acks, catch-up", test_batch_and_ack},
	    {"a batch fits its frame", test_batch_capacity},
	    {"a full queue detaches", test_queue_full_detaches},
	    {"sync writers share batches", test_sync_writers_batch},
	    {"sync writers send themselves, in order", test_writers_send_themselves},
	    {"a detach wakes a sync waiter", test_detach_wakes_waiter},
	    {"wake ends a sender's wait", test_wake_ends_take},
	};
	CU_pSuite suite = CU_add_suite("mirror", NULL, NULL);
	if (!suite)
		return -1;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(suite, tests[i].name, tests[i].fn))
			return -1;
	return 0;
}
