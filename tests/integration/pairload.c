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
 *
 * Every call is made with libnfs's asynchronous API and waited for by call_wait()
 * below, not by libnfs's synchronous wrappers: see there why. A call that ends in
 * its timeout (20 s) is an error, and the client goes on with a new context,
 * mounted again (see client_main).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
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
	struct nfs_context *nfs;
	bool stale; /* a call ended in its timeout: see client_main */
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

/*
 * Why not nfs_open2(), nfs_pread() and the rest: libnfs 4.0's synchronous wrappers
 * (wait_for_nfs_reply() in lib/libnfs-sync.c) keep their completion record on their own
 * stack and stop waiting as soon as nfs_service() returns -1. rpc_service()
 * (lib/socket.c) returns -1 when a reconnect's connect() looked complete to poll()
 * (POLLOUT, no POLLERR or POLLHUP) but getsockopt(SO_ERROR) then reports an error: the
 * server reset the new connection in between, as a node that gives up the service
 * address does. By then libnfs has already put the call back on its queue and started
 * the next connect, so the wrapper returns -EIO ("nfs_service failed") with the call
 * still queued and its callback aimed at the wrapper's dead frame. The reply comes on
 * the next connection, during a later call, and its callback writes there: it marked a
 * later nfs_open2() finished with status 0 and no handle (nfs_pwrite() on that then
 * crashed), or copies a READ's 8 KiB over whatever stack is there now.
 *
 * call_wait() keeps serving the context until the call's own callback has run,
 * whatever nfs_service() returns: every RPC has a timeout (nfs_set_timeout), so the
 * callback always comes, with the reply, an error or the timeout. A context only
 * ever has one call in flight, and its RPCs go one after another: so never more
 * than one PDU queued, which libnfs 4.0 also needs, as its rpc_timeout_scan()
 * leaves a queue's tail pointing at a PDU it freed unless that PDU was alone.
 * CALL_LIMIT_US is a backstop past any TCP connect (127 s) and RPC timeout.
 */
#define RPC_TIMEOUT_MS 20000
#define CALL_LIMIT_US  (300ULL * 1000000)

enum call_out { OUT_NONE, OUT_FH, OUT_BYTES, OUT_STAT };

struct call {
	bool done;
	int status;
	enum call_out kind;
	void *out;  /* OUT_FH: struct nfsfh **; OUT_BYTES: len bytes; OUT_STAT */
	size_t len; /* OUT_BYTES */
};

static void call_cb(int status, struct nfs_context *nfs, void *data, void *arg)
{
	struct call *c = arg;
	(void)nfs;
	c->status = status;
	c->done = true;
	if (status < 0 || !data)
		return;
	if (c->kind == OUT_FH)
		*(struct nfsfh **)c->out = data;
	else if (c->kind == OUT_BYTES)
		memcpy(c->out, data, (size_t)status < c->len ? (size_t)status : c->len);
	else if (c->kind == OUT_STAT)
		memcpy(c->out, data, sizeof(struct nfs_stat_64));
}

/* queued: what the _async function returned; not 0, no callback will come. */
static int call_wait(struct client *cl, struct call *c, int queued)
{
	struct nfs_context *nfs = cl->nfs;
	if (queued != 0)
		return -1;
	uint64_t limit = now_us() + CALL_LIMIT_US;
	while (!c->done) {
		struct pollfd p = {.fd = nfs_get_fd(nfs), .events = nfs_which_events(nfs)};
		int n = poll(&p, 1, 100);
		/* -1 does not end the call (see above); but a context that cannot
		 * reconnect (while mounting) fails every poll until the timeout. */
		if (nfs_service(nfs, n < 0 ? 0 : p.revents) < 0)
			usleep(1000);
		if (now_us() > limit) {
			fprintf(stderr,
				"pairload: a call outlived its RPC timeout: libnfs lost it\n");
			abort();
		}
	}
	if (c->status == -EINTR) /* "Command timed out" */
		cl->stale = true;
	return c->status;
}

static int pl_open(struct client *cl, const char *path, int flags, struct nfsfh **fh)
{
	struct call c = {.kind = OUT_FH, .out = fh};
	*fh = NULL;
	return call_wait(cl, &c, nfs_open2_async(cl->nfs, path, flags, 0644, call_cb, &c));
}

static int pl_pread(struct client *cl, struct nfsfh *fh, size_t len, char *buf)
{
	struct call c = {.kind = OUT_BYTES, .out = buf, .len = len};
	return call_wait(cl, &c, nfs_pread_async(cl->nfs, fh, 0, len, call_cb, &c));
}

static int pl_pwrite(struct client *cl, struct nfsfh *fh, size_t len, const char *buf)
{
	struct call c = {0};
	return call_wait(cl, &c, nfs_pwrite_async(cl->nfs, fh, 0, len, buf, call_cb, &c));
}

static int pl_fsync(struct client *cl, struct nfsfh *fh)
{
	struct call c = {0};
	return call_wait(cl, &c, nfs_fsync_async(cl->nfs, fh, call_cb, &c));
}

/* The handle is freed whatever the result (after the COMMIT of a dirty one). */
static int pl_close(struct client *cl, struct nfsfh *fh)
{
	struct call c = {0};
	return call_wait(cl, &c, nfs_close_async(cl->nfs, fh, call_cb, &c));
}

static int pl_rename(struct client *cl, const char *from, const char *to)
{
	struct call c = {0};
	return call_wait(cl, &c, nfs_rename_async(cl->nfs, from, to, call_cb, &c));
}

static int pl_unlink(struct client *cl, const char *path)
{
	struct call c = {0};
	return call_wait(cl, &c, nfs_unlink_async(cl->nfs, path, call_cb, &c));
}

static int pl_stat(struct client *cl, const char *path, struct nfs_stat_64 *st)
{
	struct call c = {.kind = OUT_STAT, .out = st};
	return call_wait(cl, &c, nfs_stat64_async(cl->nfs, path, call_cb, &c));
}

static int pl_mount(struct client *cl, const char *server, const char *path)
{
	struct call c = {0};
	return call_wait(cl, &c, nfs_mount_async(cl->nfs, server, path, call_cb, &c));
}

static int pl_umount(struct client *cl)
{
	struct call c = {0};
	return call_wait(cl, &c, nfs_umount_async(cl->nfs, call_cb, &c));
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

static int fail(struct client *c, const char *what)
{
	fprintf(stderr, "pairload: client %d: %s: %s\n", c->id, what, nfs_get_error(c->nfs));
	c->errors++;
	return -1;
}

static int write_file(struct client *c, const char *path, uint64_t n)
{
	char buf[FILE_SIZE];
	struct nfsfh *fh;
	uint64_t t = now_us();
	content(c->id, n, buf);
	if (pl_open(c, path, O_CREAT | O_WRONLY | O_TRUNC, &fh) != 0)
		return fail(c, "create");
	note(c, t);
	t = now_us();
	int rc = pl_pwrite(c, fh, FILE_SIZE, buf);
	if (rc != FILE_SIZE) {
		fail(c, "write");
		pl_close(c, fh);
		return -1;
	}
	note(c, t);
	t = now_us();
	if (pl_fsync(c, fh) != 0) {
		fail(c, "fsync");
		pl_close(c, fh);
		return -1;
	}
	note(c, t);
	pl_close(c, fh);
	return 0;
}

/* 0 equal, 1 differs or missing (lost), -1 error */
static int check_file(struct client *c, const char *path, uint64_t n)
{
	char want[FILE_SIZE], got[FILE_SIZE];
	struct nfsfh *fh;
	uint64_t t = now_us();
	content(c->id, n, want);
	if (pl_open(c, path, O_RDONLY, &fh) != 0)
		return 1;
	int rc = pl_pread(c, fh, FILE_SIZE, got);
	pl_close(c, fh);
	note(c, t);
	if (rc != FILE_SIZE || memcmp(want, got, FILE_SIZE) != 0)
		return 1;
	return 0;
}

static void name(char *out, size_t len, int id, uint64_t n, bool renamed)
{
	snprintf(out, len, "/pl-%d-%" PRIu64 "%s", id, n, renamed ? ".r" : "");
}

static void one_round(struct client *c, uint64_t n)
{
	char a[64], b[64];
	name(a, sizeof(a), c->id, n, false);
	name(b, sizeof(b), c->id, n, true);
	if (write_file(c, a, n) < 0)
		return;
	uint64_t t = now_us();
	if (pl_rename(c, a, b) != 0) {
		fail(c, "rename");
		return;
	}
	note(c, t);
	if (check_file(c, b, n) != 0) {
		fprintf(stderr, "pairload: client %d: %s reads back wrong\n", c->id, b);
		c->errors++;
	}
	if (n >= 2) {
		name(a, sizeof(a), c->id, n - 2, true);
		t = now_us();
		if (pl_unlink(c, a) != 0)
			fail(c, "remove");
		else
			note(c, t);
	}
}

static bool should_stop(const struct opts *o, uint64_t end)
{
	return now_us() >= end || (o->stopfile && access(o->stopfile, F_OK) == 0);
}

#define MOUNT_TRIES	25  /* the first mount: 5 s */
#define REMOUNT_TRIES	300 /* a new context: a minute at least, longer than a failover */
#define VERIFY_REMOUNTS 3

static void mount_settled(const struct opts *o)
{
	if (atomic_fetch_add(&settled, 1) + 1 == o->clients && o->readyfile) {
		FILE *f = fopen(o->readyfile, "w");
		if (f)
			fclose(f);
	}
}

/* A fresh context in c->nfs (the old one destroyed), mounted; 0, or -1 after
 * max_tries. The initial mount is set-up, not the failover under test: it tries
 * for 5 s. As root libnfs binds a reserved source port, and one still in
 * TIME_WAIT from an earlier client in the same namespace fails its connect. */
static int client_mount(struct client *c, int max_tries)
{
	for (int tries = 1; tries <= max_tries; tries++) {
		if (c->nfs)
			nfs_destroy_context(c->nfs);
		c->stale = false;
		c->nfs = nfs_init_context();
		if (!c->nfs)
			return -1;
		nfs_set_timeout(c->nfs, RPC_TIMEOUT_MS);
		nfs_set_autoreconnect(c->nfs, -1); /* reconnect and resend, as a hard mount does */
		struct nfs_url *u = nfs_parse_url_dir(c->nfs, c->o->url);
		int rc = u ? pl_mount(c, u->server, u->path) : -1;
		if (u)
			nfs_destroy_url(u);
		if (rc == 0)
			return 0;
		fprintf(stderr, "pairload: client %d: mount (try %d): %s\n", c->id, tries,
			nfs_get_error(c->nfs));
		usleep(200000);
	}
	return -1;
}

/* 0 as it should be; 1 lost (one of the last two, missing or not as written); 2
 * removed but still there. The last two files must be there with their content. */
static int verify_one(struct client *c, uint64_t n, const char *p)
{
	struct nfs_stat_64 st;
	if (n + 2 >= c->next)
		return check_file(c, p, n) != 0;
	return pl_stat(c, p, &st) == 0 ? 2 : 0;
}

/* Every file this client made, as it should be. A file whose check timed out is
 * checked again on a new context (see client_main), a few times at most: -1
 * when that was not enough, and the rest is not known. */
static int verify(struct client *c)
{
	char p[64];
	int remounts = 0;
	for (uint64_t n = 0; n < c->next;) {
		name(p, sizeof(p), c->id, n, true);
		int r = verify_one(c, n, p);
		if (c->stale) {
			if (remounts++ == VERIFY_REMOUNTS || client_mount(c, REMOUNT_TRIES) != 0)
				return -1;
			continue;
		}
		if (r == 1)
			fprintf(stderr, "pairload: client %d: %s lost\n", c->id, p);
		else if (r == 2)
			fprintf(stderr, "pairload: client %d: %s should be gone\n", c->id, p);
		c->lost += r != 0;
		n++;
	}
	return 0;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	int rc = client_mount(c, MOUNT_TRIES);
	mount_settled(c->o);
	uint64_t end = now_us() + (uint64_t)c->o->secs * 1000000;
	for (c->next = 0; rc == 0 && !should_stop(c->o, end); c->next++) {
		one_round(c, c->next);
		/* After a timeout, a new context. libnfs 4.0 keeps a half-read reply
		 * across a reconnect (rpc_reconnect_requeue() resets neither inpos nor
		 * inbuf; upstream 5.0 does, "Reset state on reconnect"): a connection
		 * cut in the middle of a reply leaves every later reply misframed, and
		 * each call on that context ends in its timeout, for good. */
		if (c->stale)
			rc = client_mount(c, REMOUNT_TRIES);
	}
	if (rc == 0)
		rc = verify(c);
	if (rc == 0)
		pl_umount(c);
	else
		c->errors++;
	if (c->nfs)
		nfs_destroy_context(c->nfs);
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
