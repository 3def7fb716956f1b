/*
 * drc_bench.c — what the outstanding-request table (server/drc/drc.h) costs a request.
 *
 * Two threads, each running N calls through a fresh table with the default bounds:
 *   idempotent  drc_begin (new) + drc_finish(NULL): insert, state change, delete
 *   replied     drc_begin (new) + drc_finish(128-byte reply): insert, save, ring;
 *               once the ring is full (16384) every finish also evicts the oldest
 * Every call has its own key (the two threads are two clients), so nothing is a
 * replay: this is the price every request pays, not the price of a hit.
 *
 * Output, one machine-readable line per mode (median of RUNS runs):
 *   drc_bench mode=idempotent threads=2 n=N ns_per_req=X mreq_s=Y
 * ns_per_req is wall time per call on one thread (elapsed / N, both threads busy);
 * mreq_s is what both threads together get through, in millions of calls per second.
 *
 * N is calibrated so that one run takes about TARGET_MS (or given: drc_bench N), and
 * bounded, so the whole program stays well under 30 s.
 */
#include "server/drc/drc.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THREADS	   2
#define RUNS	   5
#define REPLY_LEN  128
#define TARGET_MS  400
#define CALIBRATE  20000u
#define MIN_CALLS  50000u
#define MAX_CALLS  4000000u
#define MAX_PER_NS 1000000000ull /* a run longer than 1 s is cut to that */

enum mode {
	MODE_IDEMPOTENT,
	MODE_REPLIED,
};

static const char *const mode_name[] = {
    [MODE_IDEMPOTENT] = "idempotent",
    [MODE_REPLIED] = "replied",
};

struct run {
	struct drc *d;
	enum mode mode;
	uint32_t calls;
	pthread_barrier_t go;
	unsigned failures; /* calls that were not DRC_NEW (a broken table) */
	pthread_mutex_t lock;
};

struct worker {
	struct run *r;
	unsigned id;
	pthread_t th;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	uint8_t reply[REPLY_LEN], buf[DRC_DEFAULT_MAX_REPLY_SIZE];
	struct drc_key k;
	unsigned bad = 0;

	memset(&k, 0, sizeof(k));
	memset(reply, 0x5a, sizeof(reply));
	sin.sin_addr.s_addr = htonl(0x0a000001u + w->id); /* 10.0.0.1 + id */
	drc_key_set_addr(&k, (const struct sockaddr *)&sin);
	k.prog = 100003;
	k.vers = 3;
	k.proc = 12;
	pthread_barrier_wait(&r->go);
	for (uint32_t i = 0; i < r->calls; i++) {
		struct drc_entry *e = NULL;
		size_t len;

		k.xid = i;
		k.cksum = (uint64_t)i * 0x9e3779b97f4a7c15ull;
		if (drc_begin(r->d, &k, &e, buf, sizeof(buf), &len) != DRC_NEW || !e) {
			bad++;
			continue;
		}
		if (r->mode == MODE_REPLIED)
			drc_finish(r->d, e, reply, sizeof(reply));
		else
			drc_finish(r->d, e, NULL, 0);
	}
	pthread_mutex_lock(&r->lock);
	r->failures += bad;
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* One run on a fresh table: wall time in ns, or 0 on failure. */
static uint64_t run_once(enum mode mode, uint32_t calls)
{
	struct run r = {.mode = mode, .calls = calls};
	struct worker w[THREADS];
	uint64_t start, ns;

	if (drc_create(NULL, &r.d) != 0)
		return 0;
	pthread_mutex_init(&r.lock, NULL);
	pthread_barrier_init(&r.go, NULL, THREADS + 1);
	for (unsigned i = 0; i < THREADS; i++) {
		w[i].r = &r;
		w[i].id = i;
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0) {
			/* The started ones wait at the barrier for ever: give up. */
			fprintf(stderr, "drc_bench: cannot start threads\n");
			exit(1);
		}
	}
	pthread_barrier_wait(&r.go);
	start = now_ns();
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(w[i].th, NULL);
	ns = now_ns() - start;
	if (r.failures) {
		fprintf(stderr, "drc_bench: %u calls were not new\n", r.failures);
		ns = 0;
	}
	pthread_barrier_destroy(&r.go);
	pthread_mutex_destroy(&r.lock);
	drc_destroy(r.d);
	return ns;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Calls per thread for a run of about TARGET_MS. */
static uint32_t calibrate(enum mode mode)
{
	uint64_t ns = run_once(mode, CALIBRATE);
	uint64_t per = ns / CALIBRATE;
	uint64_t calls;

	if (per == 0)
		per = 1;
	calls = (uint64_t)TARGET_MS * 1000000ull / per;
	if (calls < MIN_CALLS)
		calls = MIN_CALLS;
	if (calls > MAX_CALLS)
		calls = MAX_CALLS;
	/* Never more than ~1 s per run, whatever the calibration said. */
	if (calls * per > MAX_PER_NS)
		calls = MAX_PER_NS / per;
	return (uint32_t)calls;
}

static int bench(enum mode mode, uint32_t calls)
{
	uint64_t ns[RUNS];

	if (calls == 0)
		calls = calibrate(mode);
	for (unsigned i = 0; i < RUNS; i++) {
		ns[i] = run_once(mode, calls);
		if (ns[i] == 0)
			return -1;
	}
	qsort(ns, RUNS, sizeof(ns[0]), cmp_u64);
	uint64_t med = ns[RUNS / 2];
	printf("drc_bench mode=%s threads=%d n=%" PRIu32 " ns_per_req=%.1f mreq_s=%.2f\n",
	       mode_name[mode], THREADS, calls, (double)med / calls,
	       (double)calls * THREADS / ((double)med / 1e3));
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	uint32_t calls = 0;

	if (argc > 2 || (argc == 2 && (sscanf(argv[1], "%" SCNu32, &calls) != 1 || calls == 0 ||
				       calls > MAX_CALLS))) {
		fprintf(stderr, "usage: %s [calls per thread, 1..%u]\n", argv[0], MAX_CALLS);
		return 2;
	}
	if (bench(MODE_IDEMPOTENT, calls) || bench(MODE_REPLIED, calls))
		return 1;
	return 0;
}
