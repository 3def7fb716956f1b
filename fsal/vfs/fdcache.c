/*
 * vfs/fdcache.c — see fdcache.h.
 *
 * Shards, each a mutex, a chained hash and an LRU list, so that threads working on
 * different objects rarely meet; the critical sections are a few pointer moves and
 * never a syscall, except closing an evicted descriptor nobody holds.
 *
 * fdcache_put gets only the descriptor, so a process-wide table maps descriptor
 * numbers to their entries. A slot is set while its descriptor is open and owned by
 * the cache, and cleared before that descriptor is closed, so a number the kernel
 * hands out again is never mistaken for a cached one.
 */
#include "fsal/vfs/fdcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define FDC_SHARDS  64
#define FDC_BUCKETS 256 /* per shard */
/* Descriptor numbers past this are never cached (8 MiB of slots, touched lazily). */
#define FDC_MAX_SLOTS (1u << 20)

struct fdc_shard;

struct fdc_ent {
	struct fdc_ent *hnext;
	struct fdc_ent *prev, *next; /* LRU, most recent first */
	struct fdc_shard *shard;
	uint64_t hash;
	unsigned refs;
	bool dead; /* forgotten while lent: closed by the last put */
	int fd;
	int aux; /* a second descriptor of the object (fdcache_aux), or -1 */
	struct fsal_key key;
};

struct fdc_shard {
	pthread_mutex_t lock;
	unsigned n, cap;
	struct fdc_ent lru; /* sentinel */
	struct fdc_ent *buckets[FDC_BUCKETS];
};

struct fdcache {
	struct fdc_shard shards[FDC_SHARDS];
};

static _Atomic(struct fdc_ent *) *fdc_slots;
static unsigned fdc_nslots;
static pthread_once_t fdc_once = PTHREAD_ONCE_INIT;

static void fdc_slots_init(void)
{
	struct rlimit rl;
	rlim_t n = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		n = rl.rlim_cur;
	else if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		n = FDC_MAX_SLOTS;
	if (n > FDC_MAX_SLOTS)
		n = FDC_MAX_SLOTS;
	fdc_slots = calloc(n, sizeof(*fdc_slots));
	fdc_nslots = fdc_slots ? (unsigned)n : 0;
}

static uint64_t fdc_hash(const struct fsal_key *key)
{
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned n = key->len < FSAL_KEY_MAX ? key->len : FSAL_KEY_MAX;
	for (unsigned i = 0; i < n; i++)
		h = (h ^ key->data[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

struct fdcache *fdcache_new(unsigned capacity)
{
	pthread_once(&fdc_once, fdc_slots_init);
	struct fdcache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	for (unsigned i = 0; i < FDC_SHARDS; i++) {
		struct fdc_shard *s = &c->shards[i];
		pthread_mutex_init(&s->lock, NULL);
		s->cap = (capacity + FDC_SHARDS - 1) / FDC_SHARDS;
		s->lru.prev = s->lru.next = &s->lru;
	}
	return c;
}

static void lru_unlink(struct fdc_ent *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = e;
}

static void lru_front(struct fdc_shard *s, struct fdc_ent *e)
{
	e->next = s->lru.next;
	e->prev = &s->lru;
	s->lru.next->prev = e;
	s->lru.next = e;
}

static void hash_unlink(struct fdc_shard *s, struct fdc_ent *e)
{
	struct fdc_ent **pp = &s->buckets[e->hash % FDC_BUCKETS];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	s->n--;
}

/* Unhooks e from its shard (under the lock); returns it when it is to be closed
 * now (fdc_close, after the unlock), NULL when it is lent out (then the last put
 * closes it). */
static struct fdc_ent *fdc_drop(struct fdc_shard *s, struct fdc_ent *e)
{
	hash_unlink(s, e);
	lru_unlink(e);
	if (e->refs) {
		e->dead = true;
		return NULL;
	}
	atomic_store(&fdc_slots[e->fd], NULL);
	return e;
}

static void fdc_close(struct fdc_ent *e)
{
	if (!e)
		return;
	if (e->aux >= 0)
		close(e->aux);
	close(e->fd);
	free(e);
}

static struct fdc_ent *fdc_find(struct fdc_shard *s, const struct fsal_key *key, uint64_t h)
{
	for (struct fdc_ent *e = s->buckets[h % FDC_BUCKETS]; e; e = e->hnext)
		if (e->hash == h && fsal_key_eq(&e->key, key))
			return e;
	return NULL;
}

int fdcache_get(struct fdcache *c, const struct fsal_key *key, fdcache_open_fn open_fn, void *arg,
		int *fd)
{
	uint64_t h = fdc_hash(key);
	struct fdc_shard *s = &c->shards[h % FDC_SHARDS];

	pthread_mutex_lock(&s->lock);
	struct fdc_ent *e = fdc_find(s, key, h);
	if (e) {
		e->refs++;
		if (s->lru.next != e) { /* a listing's directory is taken once per entry */
			lru_unlink(e);
			lru_front(s, e);
		}
		*fd = e->fd;
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	pthread_mutex_unlock(&s->lock);

	int rc = open_fn(arg, key, fd);
	if (rc || s->cap == 0 || (unsigned)*fd >= fdc_nslots)
		return rc; /* not cached: fdcache_put closes it */
	struct fdc_ent *ne = malloc(sizeof(*ne));
	if (!ne)
		return 0;
	struct fdc_ent *victim = NULL;
	pthread_mutex_lock(&s->lock);
	e = fdc_find(s, key, h);
	if (e) {
		/* another thread opened it meanwhile: use that one */
		e->refs++;
		pthread_mutex_unlock(&s->lock);
		free(ne);
		close(*fd);
		*fd = e->fd;
		return 0;
	}
	if (s->n >= s->cap) {
		for (struct fdc_ent *v = s->lru.prev; v != &s->lru; v = v->prev)
			if (!v->refs) {
				victim = fdc_drop(s, v);
				break;
			}
	}
	if (s->n >= s->cap) {
		pthread_mutex_unlock(&s->lock); /* all lent out: this one is not kept */
		free(ne);
		fdc_close(victim);
		return 0;
	}
	*ne = (struct fdc_ent){.shard = s, .hash = h, .refs = 1, .fd = *fd, .aux = -1, .key = *key};
	ne->hnext = s->buckets[h % FDC_BUCKETS];
	s->buckets[h % FDC_BUCKETS] = ne;
	s->n++;
	lru_front(s, ne);
	atomic_store(&fdc_slots[*fd], ne);
	pthread_mutex_unlock(&s->lock);
	fdc_close(victim);
	return 0;
}

void fdcache_put(int fd)
{
	struct fdc_ent *e =
	    fd >= 0 && (unsigned)fd < fdc_nslots ? atomic_load(&fdc_slots[fd]) : NULL;
	if (!e) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct fdc_shard *s = e->shard;
	bool close_it = false;
	pthread_mutex_lock(&s->lock);
	if (--e->refs == 0 && e->dead) {
		atomic_store(&fdc_slots[fd], NULL);
		close_it = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (close_it)
		fdc_close(e);
}

int fdcache_aux(int fd, int (*open_aux)(int fd, int *aux), int *aux)
{
	struct fdc_ent *e =
	    fd >= 0 && (unsigned)fd < fdc_nslots ? atomic_load(&fdc_slots[fd]) : NULL;
	if (!e)
		return -ENOENT;
	struct fdc_shard *s = e->shard;
	pthread_mutex_lock(&s->lock);
	*aux = e->aux;
	pthread_mutex_unlock(&s->lock);
	if (*aux >= 0)
		return 0;
	int mine;
	int rc = open_aux(fd, &mine);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->lock);
	if (e->aux < 0)
		e->aux = mine;
	else
		*aux = e->aux; /* another thread was first */
	pthread_mutex_unlock(&s->lock);
	if (*aux >= 0)
		close(mine);
	else
		*aux = mine;
	return 0;
}

void fdcache_forget(struct fdcache *c, const struct fsal_key *key)
{
	uint64_t h = fdc_hash(key);
	struct fdc_shard *s = &c->shards[h % FDC_SHARDS];
	struct fdc_ent *gone = NULL;
	pthread_mutex_lock(&s->lock);
	struct fdc_ent *e = fdc_find(s, key, h);
	if (e)
		gone = fdc_drop(s, e);
	pthread_mutex_unlock(&s->lock);
	fdc_close(gone);
}

void fdcache_forget_all(struct fdcache *c)
{
	for (unsigned i = 0; i < FDC_SHARDS; i++) {
		struct fdc_shard *s = &c->shards[i];
		struct fdc_ent *gone = NULL;
		pthread_mutex_lock(&s->lock);
		while (s->lru.next != &s->lru) {
			struct fdc_ent *e = fdc_drop(s, s->lru.next);
			if (e) { /* closed after the unlock, chained through the unused hnext */
				e->hnext = gone;
				gone = e;
			}
		}
		pthread_mutex_unlock(&s->lock);
		while (gone) {
			struct fdc_ent *next = gone->hnext;
			fdc_close(gone);
			gone = next;
		}
	}
}

unsigned fdcache_count(struct fdcache *c)
{
	unsigned n = 0;
	for (unsigned i = 0; i < FDC_SHARDS; i++) {
		pthread_mutex_lock(&c->shards[i].lock);
		n += c->shards[i].n;
		pthread_mutex_unlock(&c->shards[i].lock);
	}
	return n;
}

void fdcache_free(struct fdcache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < FDC_SHARDS; i++) {
		struct fdc_shard *s = &c->shards[i];
		while (s->lru.next != &s->lru) {
			struct fdc_ent *e = s->lru.next;
			e->refs = 0;
			fdc_close(fdc_drop(s, e));
		}
		pthread_mutex_destroy(&s->lock);
	}
	free(c);
}
