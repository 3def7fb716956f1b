/*
 * vfs/hcache.c — see hcache.h.
 *
 * Each shard is a table of slots with linear probing, at most half full, mapped at
 * once but touched only as slots are used. A slot is one cache line (birth time packed
 * in 64 bits, use time in seconds), so a lookup usually costs one miss. Removal shifts
 * the following slots back (no tombstones), so a probe always ends at the first empty
 * slot. A full shard looks for a victim with a clock hand that passes at most HC_SCAN
 * slots.
 */
#include "fsal/vfs/hcache.h"

#include <assert.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HC_SHARDS    64
#define HC_SCAN	     16
#define HC_NS	     1000000000LL
#define HC_NSEC_BITS 30 /* nanoseconds < 2^30 */
#define HC_SEC_MAX   (1LL << 33)
#define HC_HUGE	     ((size_t)2 << 20) /* a huge page */

struct hc_slot {
	alignas(64) uint64_t ino;
	uint64_t birth; /* sec << HC_NSEC_BITS | nsec */
	uint32_t used;	/* when last found or put, in seconds */
	bool full;
	uint8_t klen;
	unsigned char key[FSAL_KEY_MAX];
};
static_assert(sizeof(struct hc_slot) == 64, "a slot is one cache line");

struct hc_shard {
	alignas(64) pthread_mutex_t lock; /* a cache line of its own: shards do not share */
	unsigned n, cap, mask, hand;
	struct hc_slot *slots;
};

struct hcache {
	struct hc_shard shards[HC_SHARDS];
	void *map; /* the shards' tables, one after the other (hc_slots_map) */
	size_t map_len;
};

static uint64_t hc_hash(uint64_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 31);
}

static unsigned hc_home(const struct hc_shard *s, uint64_t h)
{
	return (unsigned)(h / HC_SHARDS) & s->mask;
}

static unsigned hc_nslots(unsigned cap)
{
	unsigned nslots = 16;

	while (nslots < 2 * cap)
		nslots *= 2;
	return nslots;
}

/* All shards' slots in one block of zeroed pages, memory only once touched (an export
 * never listed costs none), in huge pages where the kernel gives them: a listing's
 * lookups land anywhere in the block, and with 4 KiB pages nearly each one came with
 * a TLB miss (4 % of a listing's CPU; the prefetch alone only moved that cost). */
static struct hc_slot *hc_slots_map(struct hcache *c, size_t bytes)
{
	c->map_len = bytes + HC_HUGE;
	c->map = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		return NULL;
	}
	uintptr_t at = ((uintptr_t)c->map + HC_HUGE - 1) & ~(uintptr_t)(HC_HUGE - 1);
	madvise((void *)at, bytes, MADV_HUGEPAGE); /* a hint: else 4 KiB pages */
	return (struct hc_slot *)at;
}

struct hcache *hcache_new(unsigned capacity)
{
	struct hcache *c = aligned_alloc(alignof(struct hcache), sizeof(struct hcache));
	unsigned cap = (capacity + HC_SHARDS - 1) / HC_SHARDS;
	unsigned nslots = hc_nslots(cap);

	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	struct hc_slot *slots = hc_slots_map(c, (size_t)HC_SHARDS * nslots * sizeof(*slots));
	if (!slots) {
		free(c);
		return NULL;
	}
	for (unsigned i = 0; i < HC_SHARDS; i++) {
		struct hc_shard *s = &c->shards[i];
		pthread_mutex_init(&s->lock, NULL);
		s->cap = cap;
		s->mask = nslots - 1;
		s->slots = slots + (size_t)i * nslots;
	}
	return c;
}

void hcache_free(struct hcache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < HC_SHARDS; i++)
		pthread_mutex_destroy(&c->shards[i].lock);
	munmap(c->map, c->map_len);
	free(c);
}

/* The slot of ino, or the empty slot where it would go (then *found is false). */
static unsigned hc_probe(const struct hc_shard *s, uint64_t h, uint64_t ino, bool *found)
{
	unsigned i = hc_home(s, h);

	while (s->slots[i].full && s->slots[i].ino != ino)
		i = (i + 1) & s->mask;
	*found = s->slots[i].full;
	return i;
}

/* Is k cyclically in (i, j]? */
static bool hc_between(unsigned i, unsigned k, unsigned j)
{
	return i <= j ? i < k && k <= j : i < k || k <= j;
}

/* Empties slot i and moves back the slots after it that would no longer be found. */
static void hc_remove(struct hc_shard *s, unsigned i)
{
	unsigned j = i;

	s->slots[i].full = false;
	s->n--;
	for (;;) {
		j = (j + 1) & s->mask;
		if (!s->slots[j].full)
			return;
		if (hc_between(i, hc_home(s, hc_hash(s->slots[j].ino)), j))
			continue;
		s->slots[i] = s->slots[j];
		s->slots[j].full = false;
		i = j;
	}
}

static uint64_t hc_birth(struct hcache_birth b)
{
	return (uint64_t)b.sec << HC_NSEC_BITS | b.nsec;
}

static uint32_t hc_secs(int64_t now)
{
	return (uint32_t)(now / HC_NS);
}

bool hcache_get(struct hcache *c, uint64_t ino, struct hcache_birth birth, int64_t now,
		struct fsal_key *key)
{
	uint64_t h = hc_hash(ino);
	struct hc_shard *s = &c->shards[h % HC_SHARDS];
	bool found, hit = false;

	pthread_mutex_lock(&s->lock);
	unsigned i = hc_probe(s, h, ino, &found);
	if (found && s->slots[i].birth == hc_birth(birth)) {
		key->len = s->slots[i].klen;
		memcpy(key->data, s->slots[i].key, s->slots[i].klen);
		s->slots[i].used = hc_secs(now);
		hit = true;
	} else if (found) {
		hc_remove(s, i); /* that object is gone: its number was given again */
	}
	pthread_mutex_unlock(&s->lock);
	return hit;
}

void hcache_prefetch(struct hcache *c, uint64_t ino)
{
	uint64_t h = hc_hash(ino);
	const struct hc_shard *s = &c->shards[h % HC_SHARDS];

	__builtin_prefetch(&s->slots[hc_home(s, h)]);
}

bool hcache_old_enough(struct hcache_birth birth, int64_t now)
{
	if (birth.sec < 0 || birth.sec >= HC_SEC_MAX || birth.sec > now / HC_NS ||
	    birth.nsec >= HC_NS)
		return false;
	return now - (birth.sec * HC_NS + birth.nsec) >= HCACHE_MIN_AGE_NS;
}

/* Makes room in a full shard: frees the first slot unused for HCACHE_IDLE_NS that
 * the clock hand meets within HC_SCAN full slots. */
static bool hc_evict(struct hc_shard *s, int64_t now)
{
	for (unsigned seen = 0; seen < HC_SCAN;) {
		unsigned i = s->hand;
		s->hand = (s->hand + 1) & s->mask;
		if (!s->slots[i].full)
			continue;
		if ((int32_t)(hc_secs(now) - s->slots[i].used) >= HCACHE_IDLE_NS / HC_NS) {
			hc_remove(s, i);
			return true;
		}
		seen++;
	}
	return false;
}

void hcache_put(struct hcache *c, uint64_t ino, struct hcache_birth birth, int64_t now,
		const struct fsal_key *key)
{
	uint64_t h = hc_hash(ino);
	struct hc_shard *s = &c->shards[h % HC_SHARDS];
	bool found;

	if (!hcache_old_enough(birth, now) || s->cap == 0 || key->len > FSAL_KEY_MAX)
		return;
	pthread_mutex_lock(&s->lock);
	unsigned i = hc_probe(s, h, ino, &found);
	if (!found && s->n >= s->cap && hc_evict(s, now))
		i = hc_probe(s, h, ino, &found); /* the removal may have moved slots */
	if (found || s->n < s->cap) {
		s->n += !found;
		struct hc_slot *e = &s->slots[i];
		e->ino = ino;
		e->birth = hc_birth(birth);
		e->used = hc_secs(now);
		e->full = true;
		e->klen = (uint8_t)key->len;
		memcpy(e->key, key->data, key->len);
	}
	pthread_mutex_unlock(&s->lock);
}

/* Every shard locked at once (in order; nobody else holds two), then the pages
 * dropped: they read as zeroes, empty slots, and cost no memory until used again. */
void hcache_clear(struct hcache *c)
{
	for (unsigned i = 0; i < HC_SHARDS; i++)
		pthread_mutex_lock(&c->shards[i].lock);
	size_t bytes = (size_t)HC_SHARDS * (c->shards[0].mask + 1) * sizeof(struct hc_slot);
	if (madvise(c->shards[0].slots, bytes, MADV_DONTNEED) < 0)
		memset(c->shards[0].slots, 0, bytes);
	for (unsigned i = 0; i < HC_SHARDS; i++) {
		c->shards[i].n = 0;
		c->shards[i].hand = 0;
	}
	for (unsigned i = HC_SHARDS; i-- > 0;)
		pthread_mutex_unlock(&c->shards[i].lock);
}

unsigned hcache_count(struct hcache *c)
{
	unsigned n = 0;

	for (unsigned i = 0; i < HC_SHARDS; i++) {
		pthread_mutex_lock(&c->shards[i].lock);
		n += c->shards[i].n;
		pthread_mutex_unlock(&c->shards[i].lock);
	}
	return n;
}
