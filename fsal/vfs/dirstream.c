/*
 * vfs/dirstream.c — see dirstream.h. A few slots under one mutex: listings are far
 * rarer than other calls and each holds the lock for a scan of the slots only.
 */
#include "fsal/vfs/dirstream.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define DIRSTREAM_MAX_AGE_MS 10000

struct dirstream_cache {
	pthread_mutex_t lock;
	unsigned n;
	struct dirstream *slot[];
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct dirstream_cache *dirstream_cache_new(unsigned slots)
{
	struct dirstream_cache *c = calloc(1, sizeof(*c) + slots * sizeof(c->slot[0]));
	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->n = slots;
	return c;
}

void dirstream_cache_free(struct dirstream_cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->n; i++)
		if (c->slot[i])
			dirstream_close(c->slot[i]);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void dirstream_cache_clear(struct dirstream_cache *c)
{
	for (unsigned i = 0; i < c->n; i++) {
		pthread_mutex_lock(&c->lock);
		struct dirstream *s = c->slot[i];
		c->slot[i] = NULL;
		pthread_mutex_unlock(&c->lock);
		if (s)
			dirstream_close(s);
	}
}

struct dirstream *dirstream_new(const struct fsal_key *dir, uint64_t cookie, int fd, size_t bufsize)
{
	struct dirstream *s = malloc(sizeof(*s));
	char *buf = malloc(bufsize);
	if (!s || !buf) {
		free(s);
		free(buf);
		return NULL;
	}
	*s = (struct dirstream){.key = *dir, .cookie = cookie, .fd = fd, .buf = buf};
	return s;
}

void dirstream_close(struct dirstream *s)
{
	close(s->fd);
	free(s->buf);
	free(s);
}

struct dirstream *dirstream_take(struct dirstream_cache *c, const struct fsal_key *dir,
				 uint64_t cookie)
{
	struct dirstream *found = NULL, *old[8];
	unsigned nold = 0;
	uint64_t now = now_ms();

	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->n; i++) {
		struct dirstream *s = c->slot[i];
		if (!s)
			continue;
		if (now - s->stamp_ms > DIRSTREAM_MAX_AGE_MS && nold < 8) {
			old[nold++] = s;
			c->slot[i] = NULL;
		} else if (!found && s->cookie == cookie && fsal_key_eq(&s->key, dir)) {
			found = s;
			c->slot[i] = NULL;
		}
	}
	pthread_mutex_unlock(&c->lock);
	for (unsigned i = 0; i < nold; i++)
		dirstream_close(old[i]);
	return found;
}

void dirstream_keep(struct dirstream_cache *c, struct dirstream *s)
{
	struct dirstream *victim = NULL;
	unsigned oldest = 0;

	s->stamp_ms = now_ms();
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->n; i++) {
		if (!c->slot[i]) {
			c->slot[i] = s;
			s = NULL;
			break;
		}
		if (c->slot[i]->stamp_ms < c->slot[oldest]->stamp_ms)
			oldest = i;
	}
	if (s && c->n) {
		victim = c->slot[oldest];
		c->slot[oldest] = s;
		s = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (victim)
		dirstream_close(victim);
	if (s)
		dirstream_close(s);
}
