#include "server/rpc/recguard.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "server/log/log.h"

#define RECGUARD_FDS 65536

struct recguard_fd {
	uint32_t total; /* bytes announced so far for the record in progress */
	bool last_seen; /* the previous fragment ended a record */
};

typedef ssize_t (*recv_fn)(int, void *, size_t, int);

static struct {
	_Atomic uint32_t limit; /* 0 = off */
	_Atomic uint64_t refused;
	struct recguard_fd fds[RECGUARD_FDS];
} guard;

void recguard_set_limit(uint32_t max_record)
{
	atomic_store(&guard.limit, max_record);
}

void recguard_reset(int fd)
{
	if (fd >= 0 && fd < RECGUARD_FDS)
		guard.fds[fd] = (struct recguard_fd){0, true};
}

uint64_t recguard_refused(void)
{
	return atomic_load(&guard.refused);
}

static recv_fn real_recv(void)
{
	static _Atomic(recv_fn) fn;
	recv_fn f = atomic_load(&fn);
	if (!f) {
		f = (recv_fn)dlsym(RTLD_NEXT, "recv");
		atomic_store(&fn, f);
	}
	return f;
}

/* A record mark was read on fd: true if the record is still within the limit. */
static bool recguard_mark(int fd, uint32_t mark_be, uint32_t limit)
{
	struct recguard_fd *g = &guard.fds[fd];
	uint32_t mark = ntohl(mark_be);
	uint64_t total = g->last_seen ? 0 : g->total;

	total += mark & 0x7fffffffu;
	g->last_seen = (mark & 0x80000000u) != 0;
	g->total = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
	return total <= limit;
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	ssize_t r = real_recv()(fd, buf, n, flags);
	uint32_t limit = atomic_load(&guard.limit);

	if (r != 4 || n != 4 || !(flags & MSG_WAITALL) || !limit || fd < 0 || fd >= RECGUARD_FDS)
		return r;
	uint32_t mark;
	memcpy(&mark, buf, 4);
	if (recguard_mark(fd, mark, limit))
		return r;
	atomic_fetch_add(&guard.refused, 1);
	log_warn("closing connection fd %d: RPC record larger than max_record (%u bytes)", fd,
		 limit);
	errno = EMSGSIZE;
	return -1;
}
