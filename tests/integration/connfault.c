/*
 * connfault — an LD_PRELOAD fault injector for libnfs clients (test_pairload_reconnect.sh).
 *
 * It plays the server that resets a client's new connection in the moment
 * between the client's poll() seeing the connect complete and its
 * getsockopt(SO_ERROR): a node giving up the service address does that to a
 * client that reconnects just then (rpc_server_close_clients, rpc_req_drop_reset).
 * That moment is microseconds wide; here it is made to happen:
 *
 *   - about one recv() of a 4-byte RPC record marker in CONNFAULT_EVERY (100)
 *     reports end of stream instead, as if the server had closed the connection.
 *     Only record markers: between two replies, so that the client's reader is
 *     not left holding half a reply (libnfs 4.0 keeps that across a reconnect);
 *   - the next getsockopt(SO_ERROR) in that thread that finds no error reports
 *     ECONNRESET: that of its reconnect, once poll() said POLLOUT.
 *
 * libnfs 4.0's synchronous calls return early on that (see pairload.c, call_wait)
 * and their reply later writes into a stack frame that is gone. At exit it
 * prints "connfault: N resets" to stderr, so a test can tell it did something.
 * Per thread: pairload runs one libnfs context per thread.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>

static __thread int armed;
static __thread unsigned int seed;
static atomic_uint resets;

static int every(void)
{
	const char *e = getenv("CONNFAULT_EVERY");
	int n = e ? atoi(e) : 100;
	return n > 0 ? n : 100;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	static ssize_t (*real)(int, void *, size_t, int);
	if (!real)
		real = (ssize_t(*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
	if (!seed)
		seed = (unsigned int)(uintptr_t)&seed | 1;
	if (!armed && len == 4 && rand_r(&seed) % every() == 0) {
		armed = 1;
		return 0;
	}
	return real(fd, buf, len, flags);
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	static int (*real)(int, int, int, void *, socklen_t *);
	if (!real)
		real = (int (*)(int, int, int, void *, socklen_t *))dlsym(RTLD_NEXT, "getsockopt");
	int rc = real(fd, level, name, val, len);
	if (rc == 0 && armed && level == SOL_SOCKET && name == SO_ERROR && *(int *)val == 0) {
		armed = 0;
		*(int *)val = ECONNRESET;
		atomic_fetch_add(&resets, 1);
	}
	return rc;
}

__attribute__((destructor)) static void report(void)
{
	fprintf(stderr, "connfault: %u resets\n", atomic_load(&resets));
}
