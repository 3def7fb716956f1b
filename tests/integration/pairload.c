/*
 * pairload — a continuous, checking NFSv3 workload for failover tests (libnfs).
 *
 *   pairload -u URL [-c CLIENTS] [-t SECONDS] [-s STOPFILE] [-i FIRST_ID]
 *
 * -R FILE is created once every client has mounted (or given up): a test waits
 * for it before it starts a failover, so that the set-up is not what fails.
 * -i numbers the clients from FIRST_ID, so that runs one after the other on one
 * export use names of their own. -S FILE appends a line "END_MS LATENCY_MS"
 * (CLOCK_REALTIME at the end of the operation) for every operation that took
 * longer than 100 ms (-T MS), so a test can tell which failover caused which
 * stall.
 *
 * Each client (its own libnfs context and TCP connection, automatic reconnect on)
 * loops: create a file with content derived from (client, n), write it, fsync,
 * close; rename it; read it back and compare; remove the one from two rounds ago.
 * Every result is checked. At the end every file that should exist is read back
 * and compared, and none that was removed may remain. It prints one line:
 *
 *   pairload ops=N errors=N lost=N max_ms=N p99_ms=N
 *
 * max_ms is the longest any single operation waited: the stall a client saw
 * across a handover. Exit 0 only with no error and nothing lost. Bounded: it stops
 * after -t seconds (or when STOPFILE appears), and every RPC has a timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#define FILE_SIZE   8192
#define MAX_CLIENTS 16
#define MAX_SAMPLES (1 << 20)

struct opts {
	const char *url;
	const char *stopfile;
	const char *readyfile; /* -R */
	int clients;
	int secs;
	int first_id;
};

struct client {
	const struct opts *o;
	int id;
	uint64_t ops, errors, lost;
	uint64_t max_us;
	uint32_t *lat_ms; /* per-op latency samples, for p99 */
	size_t nlat;
	uint64_t next; /* files 0..next-1 were attempted */
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void content(int id, uint64_t n, char *buf)
{
	uint64_t x = ((uint64_t)id << 40) ^ (n * 0x9e3779b97f4a7c15ULL) ^ 0x5bd1e995;
	for (size_t i = 0; i < FILE_SIZE; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (char)x;
	}
}

static atomic_int settled;	       /* clients mounted or given up (-R) */
static FILE *stall_log;		       /* -S FILE */
static uint64_t stall_min_us = 100000; /* -T MS */

static void note(struct client *c, uint64_t start)
{
	uint64_t us = now_us() - start;
	if (stall_log && us > stall_min_us) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		fprintf(stall_log, "%llu %llu\n",
			(unsigned long long)ts.tv_sec * 1000 +
			    (unsigned long long)ts.tv_nsec / 1000000,
			(unsigned long long)(us / 1000));
		fflush(stall_log);
	}
	if (us > c->max_us)
		c->max_us = us;
	if (c->nlat < MAX_SAMPLES / MAX_CLIENTS)
		c->lat_ms[c->nlat++] = (uint32_t)(us / 1000);
	c->ops++;
}

static int fail(struct client *c, const char *what, struct nfs_context *nfs)
{
	fprintf(stderr, "pairload: client %d: %s: %s\n", c->id, what, nfs_get_error(nfs));
	c->errors++;
	return -1;
}

static int write_file(struct client *c, struct nfs_context *nfs, const char *path, uint64_t n)
{
	char buf[FILE_SIZE];
	struct nfsfh *fh;
	uint64_t t = now_us();
	content(c->id, n, buf);
	if (nfs_open2(nfs, path, O_CREAT | O_WRONLY | O_TRUNC, 0644, &fh) != 0)
		return fail(c, "create", nfs);
	note(c, t);
	t = now_us();
	int rc = nfs_pwrite(nfs, fh, 0, FILE_SIZE, buf);
	if (rc != FILE_SIZE) {
		nfs_close(nfs, fh);
		return fail(c, "write", nfs);
	}
	note(c, t);
	t = now_us();
	if (nfs_fsync(nfs, fh) != 0) {
		nfs_close(nfs, fh);
		return fail(c, "fsync", nfs);
	}
	note(c, t);
	nfs_close(nfs, fh);
	return 0;
}

/* 0 equal, 1 differs or missing (lost), -1 error */
static int check_file(struct client *c, struct nfs_context *nfs, const char *path, uint64_t n)
{
	char want[FILE_SIZE], got[FILE_SIZE];
	struct nfsfh *fh;
	uint64_t t = now_us();
	content(c->id, n, want);
	if (nfs_open(nfs, path, O_RDONLY, &fh) != 0)
		return 1;
	int rc = nfs_pread(nfs, fh, 0, FILE_SIZE, got);
	nfs_close(nfs, fh);
	note(c, t);
	if (rc != FILE_SIZE || memcmp(want, got, FILE_SIZE) != 0)
		return 1;
	return 0;
}

static void name(char *out, size_t len, int id, uint64_t n, bool renamed)
{
	snprintf(out, len, "/pl-%d-%" PRIu64 "%s", id, n, renamed ? ".r" : "");
}

static void one_round(struct client *c, struct nfs_context *nfs, uint64_t n)
{
	char a[64], b[64];
	name(a, sizeof(a), c->id, n, false);
	name(b, sizeof(b), c->id, n, true);
	if (write_file(c, nfs, a, n) < 0)
		return;
	uint64_t t = now_us();
	if (nfs_rename(nfs, a, b) != 0) {
		fail(c, "rename", nfs);
		return;
	}
	note(c, t);
	if (check_file(c, nfs, b, n) != 0) {
		fprintf(stderr, "pairload: client %d: %s reads back wrong\n", c->id, b);
		c->errors++;
	}
	if (n >= 2) {
		name(a, sizeof(a), c->id, n - 2, true);
		t = now_us();
		if (nfs_unlink(nfs, a) != 0)
			fail(c, "remove", nfs);
		else
			note(c, t);
	}
}

static bool should_stop(const struct opts *o, uint64_t end)
{
	return now_us() >= end || (o->stopfile && access(o->stopfile, F_OK) == 0);
}

/* The last two files must be there with their content; the rest removed. */
static void verify(struct client *c, struct nfs_context *nfs)
{
	char p[64];
	for (uint64_t n = 0; n < c->next; n++) {
		name(p, sizeof(p), c->id, n, true);
		bool kept = n + 2 >= c->next;
		struct nfs_stat_64 st;
		bool exists = nfs_stat64(nfs, p, &st) == 0;
		if (kept && check_file(c, nfs, p, n) != 0) {
			fprintf(stderr, "pairload: client %d: %s lost\n", c->id, p);
			c->lost++;
		}
		if (!kept && exists) {
			fprintf(stderr, "pairload: client %d: %s should be gone\n", c->id, p);
			c->lost++;
		}
	}
}

#define MOUNT_TRIES 25

static void mount_settled(const struct opts *o)
{
	if (atomic_fetch_add(&settled, 1) + 1 == o->clients && o->readyfile) {
		FILE *f = fopen(o->readyfile, "w");
		if (f)
			fclose(f);
	}
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct nfs_context *nfs = NULL;
	struct nfs_url *u = NULL;
	/* The initial mount is set-up, not the failover under test: tries for 5 s.
	 * As root libnfs binds a reserved source port, and one still in TIME_WAIT
	 * from an earlier client in the same namespace fails its connect. */
	for (int tries = 0; tries < MOUNT_TRIES; tries++) {
		if (u)
			nfs_destroy_url(u);
		if (nfs)
			nfs_destroy_context(nfs);
		nfs = nfs_init_context();
		u = nfs ? nfs_parse_url_dir(nfs, c->o->url) : NULL;
		if (u && nfs_mount(nfs, u->server, u->path) == 0)
			break;
		fprintf(stderr, "pairload: client %d: mount (try %d): %s\n", c->id, tries + 1,
			nfs ? nfs_get_error(nfs) : "no memory");
		usleep(200000);
		if (tries == MOUNT_TRIES - 1) {
			c->errors++;
			mount_settled(c->o);
			goto out;
		}
	}
	mount_settled(c->o);
	nfs_set_timeout(nfs, 20000);
	nfs_set_autoreconnect(nfs, -1); /* reconnect and resend, as a hard mount does */
	uint64_t end = now_us() + (uint64_t)c->o->secs * 1000000;
	for (c->next = 0; !should_stop(c->o, end); c->next++)
		one_round(c, nfs, c->next);
	verify(c, nfs);
	nfs_umount(nfs);
out:
	if (u)
		nfs_destroy_url(u);
	if (nfs)
		nfs_destroy_context(nfs);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct opts o = {.clients = 4, .secs = 10};
	int opt;
	while ((opt = getopt(argc, argv, "u:c:t:s:i:S:T:R:")) != -1) {
		if (opt == 'u')
			o.url = optarg;
		else if (opt == 'c')
			o.clients = atoi(optarg);
		else if (opt == 't')
			o.secs = atoi(optarg);
		else if (opt == 's')
			o.stopfile = optarg;
		else if (opt == 'i')
			o.first_id = atoi(optarg);
		else if (opt == 'R')
			o.readyfile = optarg;
		else if (opt == 'T')
			stall_min_us = (uint64_t)strtoul(optarg, NULL, 10) * 1000;
		else if (opt == 'S') {
			if (!(stall_log = fopen(optarg, "a")))
				return 2;
		} else
			return 2;
	}
	if (!o.url || o.clients < 1 || o.clients > MAX_CLIENTS || o.secs < 1 || o.secs > 600) {
		fprintf(stderr, "usage: pairload -u URL [-c 1..16] [-t 1..600] [-s STOPFILE] "
				"[-i FIRST_ID] [-S STALLFILE] [-T STALL_MS] [-R READYFILE]\n");
		return 2;
	}
	struct client cl[MAX_CLIENTS] = {0};
	pthread_t th[MAX_CLIENTS];
	uint32_t *lat = calloc(MAX_SAMPLES, sizeof(*lat));
	for (int i = 0; i < o.clients; i++) {
		cl[i] = (struct client){
		    .o = &o, .id = o.first_id + i, .lat_ms = lat + i * (MAX_SAMPLES / MAX_CLIENTS)};
		pthread_create(&th[i], NULL, client_main, &cl[i]);
	}
	uint64_t ops = 0, errors = 0, lost = 0, max_us = 0;
	size_t n = 0;
	for (int i = 0; i < o.clients; i++) {
		pthread_join(th[i], NULL);
		ops += cl[i].ops, errors += cl[i].errors, lost += cl[i].lost;
		max_us = cl[i].max_us > max_us ? cl[i].max_us : max_us;
		memmove(lat + n, cl[i].lat_ms, cl[i].nlat * sizeof(*lat));
		n += cl[i].nlat;
	}
	qsort(lat, n, sizeof(*lat), cmp_u32);
	printf("pairload ops=%" PRIu64 " errors=%" PRIu64 " lost=%" PRIu64
	       " max_ms=%.1f p99_ms=%u\n",
	       ops, errors, lost, max_us / 1000.0, n ? lat[n * 99 / 100] : 0);
	free(lat);
	return errors || lost || ops == 0 ? 1 : 0;
}
