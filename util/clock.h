/*
 * util/clock.h — a monotonic deadline for pthread_cond_timedwait.
 *
 * Why: the condition variables that wait with a timeout (the lease thread, the
 * mirror, the NFSv4 reaper) run on CLOCK_MONOTONIC (pthread_condattr_setclock), so
 * a wall-clock step neither ends their waits early nor stretches them.
 */
#ifndef TWINFS_UTIL_CLOCK_H
#define TWINFS_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC now + ms. */
static inline struct timespec clock_deadline_ms(uint32_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

#endif
