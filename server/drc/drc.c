/*
 * drc.c — the outstanding-request table (see drc.h for what it is for).
 *
 * Invariants:
 *   - An entry is in the hash table from drc_begin until it is removed: by
 *     drc_finish without a reply, drc_abort, or eviction of a REPLIED entry.
 *     Removal is cds_lfht_del (only one remover succeeds) then call_rcu(free).
 *   - Only REPLIED entries with a saved reply are in the ring. The ring slot
 *     holds the entry; whoever takes it out of the slot (atomic exchange) owns its
 *     removal, so an entry is evicted once.
 *   - The saved reply is written before the state becomes REPLIED (release) and
 *     read only after observing REPLIED (acquire), under the RCU read lock.
 *
 * Locking: none on the request path. Readers and writers run under
 * urcu_bp_read_lock(); never call into libntirpc inside it (ntirpc-guide §4.3).
 */
#include "server/drc/drc.h"

#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-bp.h>
#include <urcu/rculfhash.h>

#include "server/export/siphash.h"

/*
 * ThreadSanitizer cannot see liburcu 0.13's synchronisation (inline assembly): tell
 * it about the three orderings the table relies on. An entry's fields are written
 * before it is published in the hash (release) and read after it is found there
 * (acquire); a grace period orders every reader's accesses before the free.
 */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
static char drc__grace;
#define drc__publish(e)	   __tsan_release(e)
#define drc__observe(e)	   __tsan_acquire(e)
#define drc__read_unlock() (__tsan_release(&drc__grace), urcu_bp_read_unlock())
#define drc__grace_over()  __tsan_acquire(&drc__grace)
#else
#define drc__publish(e)	   ((void)(e))
#define drc__observe(e)	   ((void)(e))
#define drc__read_unlock() urcu_bp_read_unlock()
#define drc__grace_over()  ((void)0)
#endif

struct drc_entry {
	struct cds_lfht_node node;
	struct rcu_head rcu;
	struct drc_key key;
	uint64_t hash;
	_Atomic int state;
	uint64_t received_ms;
	uint64_t replied_ms;
	uint32_t reply_len;
	uint8_t *reply;
};

/* The partner's calls in flight (drc.h, intents): open addressing, each key
 * probing DRC_INTENT_PROBE slots from its hash; a full run overwrites its
 * oldest. A mutex: they change at the rate of non-idempotent calls on the
 * partner, and are looked up only while any are known. */
#define DRC_INTENTS	 4096
#define DRC_INTENT_PROBE 16
struct drc_intent {
	struct drc_key key;
	uint64_t at; /* 0: free */
};

struct drc {
	struct drc_params p;
	pthread_mutex_t intent_lock;
	struct drc_intent *intents;
	_Atomic unsigned nintents;
	struct cds_lfht *ht;
	_Atomic(struct drc_entry *) *ring;
	_Atomic uint64_t head; /* next slot to fill */
	_Atomic uint64_t tail; /* oldest slot that may be filled */
	_Atomic bool admitting;
	_Atomic uint64_t entries, executing, hits, drops, refused, evictions, bytes;
};

static const uint8_t drc_hash_key[16] = "twinfs-drc-key-1";

static uint64_t drc_now(const struct drc *d)
{
	if (d->p.clock)
		return d->p.clock(d->p.clock_arg);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void drc_defaults(struct drc_params *p)
{
	if (!p->max_entries)
		p->max_entries = DRC_DEFAULT_ENTRIES;
	if (!p->max_reply_bytes)
		p->max_reply_bytes = DRC_DEFAULT_REPLY_BYTES;
	if (!p->max_age_ms)
		p->max_age_ms = DRC_DEFAULT_AGE_MS;
	if (!p->max_reply_size || p->max_reply_size > DRC_DEFAULT_MAX_REPLY_SIZE)
		p->max_reply_size = DRC_DEFAULT_MAX_REPLY_SIZE;
}

int drc_create(const struct drc_params *p, struct drc **out)
{
	struct drc *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (p)
		d->p = *p;
	drc_defaults(&d->p);
	d->ring = calloc(d->p.max_entries, sizeof(*d->ring));
	d->intents = calloc(DRC_INTENTS, sizeof(*d->intents));
	pthread_mutex_init(&d->intent_lock, NULL);
	d->ht = cds_lfht_new_flavor(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
				    &urcu_bp_flavor, NULL);
	if (!d->ring || !d->ht || !d->intents) {
		if (d->ht)
			cds_lfht_destroy(d->ht, NULL);
		free(d->ring);
		free(d->intents);
		free(d);
		return -ENOMEM;
	}
	atomic_store(&d->admitting, true);
	*out = d;
	return 0;
}

static void drc_entry_free(struct drc_entry *e)
{
	free(e->reply);
	free(e);
}

static void drc_entry_free_rcu(struct rcu_head *head)
{
	drc__grace_over();
	drc_entry_free(caa_container_of(head, struct drc_entry, rcu));
}

void drc_destroy(struct drc *d)
{
	struct cds_lfht_iter it;
	struct drc_entry *e;

	if (!d)
		return;
	urcu_bp_read_lock();
	cds_lfht_for_each_entry(d->ht, &it, e, node) if (cds_lfht_del(d->ht, &e->node) == 0)
	    urcu_bp_call_rcu(&e->rcu, drc_entry_free_rcu);
	drc__read_unlock();
	urcu_bp_barrier(); /* every pending free has run */
	cds_lfht_destroy(d->ht, NULL);
	free(d->ring);
	pthread_mutex_destroy(&d->intent_lock);
	free(d->intents);
	free(d);
}

void drc_key_set_addr(struct drc_key *k, const struct sockaddr *sa)
{
	memset(k->addr, 0, sizeof(k->addr));
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			k->family = AF_INET;
			memcpy(k->addr, &a->s6_addr[12], 4);
			return;
		}
		k->family = AF_INET6;
		memcpy(k->addr, a, 16);
		return;
	}
	k->family = AF_INET;
	memcpy(k->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
}

static uint64_t drc_key_hash(const struct drc_key *k)
{
	uint8_t buf[16 + 4 * 4 + 8 + 1];
	size_t n = 0;
	buf[n++] = k->family;
	memcpy(buf + n, k->addr, 16), n += 16;
	memcpy(buf + n, &k->xid, 4), n += 4;
	memcpy(buf + n, &k->prog, 4), n += 4;
	memcpy(buf + n, &k->vers, 4), n += 4;
	memcpy(buf + n, &k->proc, 4), n += 4;
	memcpy(buf + n, &k->cksum, 8), n += 8;
	return siphash24(drc_hash_key, buf, n);
}

static bool drc_key_eq(const struct drc_key *a, const struct drc_key *b)
{
	return a->xid == b->xid && a->proc == b->proc && a->prog == b->prog && a->vers == b->vers &&
	       a->cksum == b->cksum && a->family == b->family && memcmp(a->addr, b->addr, 16) == 0;
}

static int drc_match(struct cds_lfht_node *node, const void *key)
{
	struct drc_entry *e = caa_container_of(node, struct drc_entry, node);

	drc__observe(e);
	return drc_key_eq(&e->key, key);
}

/* Removes e from the table if it is still there; true if this call removed it. */
static bool drc_remove(struct drc *d, struct drc_entry *e)
{
	if (cds_lfht_del(d->ht, &e->node) != 0)
		return false;
	atomic_fetch_sub(&d->entries, 1);
	if (atomic_load(&e->state) == DRC_REPLIED)
		atomic_fetch_sub(&d->bytes, e->reply_len);
	urcu_bp_call_rcu(&e->rcu, drc_entry_free_rcu);
	return true;
}

/* Takes the oldest ring slot out and evicts its entry. false if the ring is empty. */
static bool drc_evict_oldest(struct drc *d)
{
	uint64_t t = atomic_load(&d->tail);
	while (t < atomic_load(&d->head)) {
		if (!atomic_compare_exchange_weak(&d->tail, &t, t + 1))
			continue;
		struct drc_entry *e = atomic_exchange(&d->ring[t % d->p.max_entries], NULL);
		if (e && drc_remove(d, e))
			atomic_fetch_add(&d->evictions, 1);
		return true;
	}
	return false;
}

/* The oldest REPLIED entry, if its slot still holds one (for age checks). */
static struct drc_entry *drc_oldest(struct drc *d)
{
	uint64_t t = atomic_load(&d->tail);
	if (t >= atomic_load(&d->head))
		return NULL;
	return atomic_load(&d->ring[t % d->p.max_entries]);
}

/* Expiry by age and by bytes, a bounded amount of work per call. Runs under the
 * read lock: it looks at entries another thread may be evicting. */
static void drc_expire(struct drc *d, uint64_t now)
{
	for (int i = 0; i < 8; i++) {
		struct drc_entry *e = drc_oldest(d);
		/* replied_ms may be a moment after `now` (another thread's entry): no
		 * unsigned wrap into "very old". */
		bool old = e && e->replied_ms < now && now - e->replied_ms > d->p.max_age_ms;
		bool over = atomic_load(&d->bytes) > d->p.max_reply_bytes;
		if (!old && !over)
			return;
		if (!drc_evict_oldest(d))
			return;
	}
}

/* Puts a REPLIED entry into the ring, evicting what held its slot before. */
static void drc_ring_push(struct drc *d, struct drc_entry *e)
{
	uint64_t h = atomic_fetch_add(&d->head, 1);
	/* Keep the tail within one lap of the head so old slots are reclaimed. */
	while (h - atomic_load(&d->tail) >= d->p.max_entries)
		if (!drc_evict_oldest(d))
			break;
	struct drc_entry *prev = atomic_exchange(&d->ring[h % d->p.max_entries], e);
	if (prev && drc_remove(d, prev))
		atomic_fetch_add(&d->evictions, 1);
}

static enum drc_verdict drc_existing(struct drc *d, struct drc_entry *e, uint64_t now, void *buf,
				     size_t buflen, size_t *len)
{
	if (atomic_load_explicit(&e->state, memory_order_acquire) != DRC_REPLIED) {
		atomic_fetch_add(&d->drops, 1);
		return DRC_IN_PROGRESS;
	}
	/* Expired but not evicted yet (eviction is bounded per call): never replay
	 * it. The call runs again, untracked; the ring removes the old entry. */
	if (e->replied_ms < now && now - e->replied_ms > d->p.max_age_ms)
		return DRC_NEW;
	if (!e->reply || e->reply_len > buflen)
		return DRC_NEW; /* nothing saved: the caller runs it again */
	memcpy(buf, e->reply, e->reply_len);
	*len = e->reply_len;
	atomic_fetch_add(&d->hits, 1);
	return DRC_REPLAY;
}

static struct drc_entry *drc_entry_new(const struct drc_key *k, uint64_t hash, uint64_t now)
{
	struct drc_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	cds_lfht_node_init(&e->node);
	e->key = *k;
	e->hash = hash;
	e->received_ms = now;
	atomic_store(&e->state, DRC_EXECUTING);
	return e;
}

enum drc_verdict drc_begin(struct drc *d, const struct drc_key *k, struct drc_entry **entry,
			   void *buf, size_t buflen, size_t *len)
{
	uint64_t hash = drc_key_hash(k), now = drc_now(d); /* one clock read per call */
	struct cds_lfht_iter it;
	enum drc_verdict v;

	*entry = NULL;
	urcu_bp_read_lock();
	drc_expire(d, now);
	cds_lfht_lookup(d->ht, hash, drc_match, k, &it);
	struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
	if (node) {
		/* DRC_NEW here means a saved reply larger than buf: run it untracked
		 * rather than disturb an entry the ring owns. */
		v = drc_existing(d, caa_container_of(node, struct drc_entry, node), now, buf,
				 buflen, len);
		drc__read_unlock();
		return v;
	}
	/* Count the call as executing before looking at `admitting`: a drain clears
	 * `admitting` before it reads the count, so either it sees this call or this
	 * call sees the drain (both sequentially consistent). */
	atomic_fetch_add(&d->executing, 1);
	if (!atomic_load(&d->admitting)) {
		drc__read_unlock();
		atomic_fetch_sub(&d->executing, 1);
		atomic_fetch_add(&d->refused, 1);
		return DRC_NOT_ADMITTED;
	}
	struct drc_entry *e = drc_entry_new(k, hash, now);
	if (!e) {
		drc__read_unlock();
		atomic_fetch_sub(&d->executing, 1);
		return DRC_NEW; /* untracked; still served */
	}
	drc__publish(e);
	node = cds_lfht_add_unique(d->ht, hash, drc_match, k, &e->node);
	if (node != &e->node) {
		/* Another thread inserted the same call a moment ago. */
		v = drc_existing(d, caa_container_of(node, struct drc_entry, node), now, buf,
				 buflen, len);
		drc__read_unlock();
		atomic_fetch_sub(&d->executing, 1);
		free(e);
		return v == DRC_NEW ? DRC_IN_PROGRESS : v;
	}
	atomic_fetch_add(&d->entries, 1);
	drc__read_unlock();
	*entry = e;
	return DRC_NEW;
}

void drc_finish(struct drc *d, struct drc_entry *e, const void *reply, size_t len)
{
	if (!e)
		return;
	/* The executing count drops only once the entry has left EXECUTING, so a
	 * drain that saw zero finds no running entry in its snapshot. */
	urcu_bp_read_lock();
	if (!reply || len > d->p.max_reply_size || !(e->reply = malloc(len ? len : 1))) {
		drc_remove(d, e);
		drc__read_unlock();
		atomic_fetch_sub(&d->executing, 1);
		return;
	}
	memcpy(e->reply, reply, len);
	e->reply_len = (uint32_t)len;
	uint64_t now = drc_now(d);
	e->replied_ms = now;
	atomic_fetch_add(&d->bytes, len);
	atomic_store_explicit(&e->state, DRC_REPLIED, memory_order_release);
	atomic_fetch_sub(&d->executing, 1);
	drc_ring_push(d, e);
	drc_expire(d, now);
	drc__read_unlock();
}

void drc_abort(struct drc *d, struct drc_entry *e)
{
	if (!e)
		return;
	urcu_bp_read_lock();
	drc_remove(d, e);
	drc__read_unlock();
	atomic_fetch_sub(&d->executing, 1);
}

void drc_set_admitting(struct drc *d, bool admit)
{
	atomic_store(&d->admitting, admit);
}

bool drc_admitting(const struct drc *d)
{
	return atomic_load(&((struct drc *)d)->admitting);
}

int drc_wait_idle(struct drc *d, uint32_t timeout_ms, uint64_t *left)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		uint64_t n = atomic_load(&d->executing);
		if (left)
			*left = n;
		if (n == 0)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t ms = (int64_t)(now.tv_sec - start.tv_sec) * 1000 +
			     (now.tv_nsec - start.tv_nsec) / 1000000;
		if (ms >= (int64_t)timeout_ms)
			return -ETIMEDOUT;
		usleep(1000); /* a drain is rare and short: polling keeps the hot path lock-free */
	}
}

size_t drc_snapshot(struct drc *d, drc_record_fn cb, void *arg)
{
	struct cds_lfht_iter it;
	struct drc_entry *e;
	size_t n = 0;

	urcu_bp_read_lock();
	cds_lfht_for_each_entry(d->ht, &it, e, node)
	{
		drc__observe(e);
		struct drc_record r = {.key = e->key, .received_ms = e->received_ms};
		r.state = (enum drc_state)atomic_load_explicit(&e->state, memory_order_acquire);
		if (r.state == DRC_REPLIED) {
			r.replied_ms = e->replied_ms;
			r.reply_len = e->reply_len;
			r.reply = e->reply;
		}
		n++;
		if (!cb(arg, &r))
			break;
	}
	drc__read_unlock();
	return n;
}

size_t drc_replied_in_order(struct drc *d, drc_record_fn cb, void *arg)
{
	size_t n = 0;

	urcu_bp_read_lock();
	uint64_t head = atomic_load(&d->head);
	for (uint64_t t = atomic_load(&d->tail); t < head; t++) {
		struct drc_entry *e = atomic_load(&d->ring[t % d->p.max_entries]);
		if (!e || atomic_load_explicit(&e->state, memory_order_acquire) != DRC_REPLIED)
			continue;
		drc__observe(e);
		struct drc_record r = {.key = e->key,
				       .state = DRC_REPLIED,
				       .received_ms = e->received_ms,
				       .replied_ms = e->replied_ms,
				       .reply_len = e->reply_len,
				       .reply = e->reply};
		n++;
		if (!cb(arg, &r))
			break;
	}
	drc__read_unlock();
	return n;
}

uint64_t drc_oldest_executing_ms(struct drc *d)
{
	struct cds_lfht_iter it;
	struct drc_entry *e;
	uint64_t oldest = UINT64_MAX;

	if (atomic_load(&d->executing) == 0)
		return 0; /* the common case: nothing to walk */
	uint64_t now = drc_now(d);
	urcu_bp_read_lock();
	cds_lfht_for_each_entry(d->ht, &it, e, node)
	{
		drc__observe(e);
		if (atomic_load_explicit(&e->state, memory_order_acquire) != DRC_REPLIED &&
		    e->received_ms < oldest)
			oldest = e->received_ms;
	}
	drc__read_unlock();
	/* received_ms may be a moment after `now` (another thread's new entry). */
	return oldest == UINT64_MAX || oldest >= now ? 0 : now - oldest;
}

/* ---- the mirror record ---------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, (uint32_t)v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

#define DRC_MAGIC   "TDR1"
#define DRC_VERSION 1

int drc_record_encode(const struct drc_record *r, uint8_t *buf, size_t buflen)
{
	size_t total = DRC_RECORD_HEADER + r->reply_len + 8;
	if (r->reply_len > DRC_DEFAULT_MAX_REPLY_SIZE || total > buflen)
		return -ENOSPC;
	memset(buf, 0, DRC_RECORD_HEADER);
	memcpy(buf, DRC_MAGIC, 4);
	buf[4] = DRC_VERSION;
	buf[5] = (uint8_t)r->state;
	buf[6] = r->key.family;
	memcpy(buf + 8, r->key.addr, 16);
	put32(buf + 24, r->key.xid);
	put32(buf + 28, r->key.prog);
	put32(buf + 32, r->key.vers);
	put32(buf + 36, r->key.proc);
	put64(buf + 40, r->key.cksum);
	put64(buf + 48, r->received_ms);
	put64(buf + 56, r->replied_ms);
	put32(buf + 64, r->reply_len);
	if (r->reply_len)
		memcpy(buf + DRC_RECORD_HEADER, r->reply, r->reply_len);
	put64(buf + DRC_RECORD_HEADER + r->reply_len,
	      siphash24(drc_hash_key, buf, DRC_RECORD_HEADER + r->reply_len));
	return (int)total;
}

int drc_record_decode(const uint8_t *buf, size_t len, struct drc_record *r, size_t *used)
{
	if (len < DRC_RECORD_HEADER + 8 || memcmp(buf, DRC_MAGIC, 4) != 0 ||
	    buf[4] != DRC_VERSION || buf[5] > DRC_REPLIED ||
	    (buf[6] != AF_INET && buf[6] != AF_INET6 && buf[6] != DRC_FAMILY_SLOT))
		return -EBADMSG;
	uint32_t rlen = get32(buf + 64);
	if (rlen > DRC_DEFAULT_MAX_REPLY_SIZE || len < DRC_RECORD_HEADER + (size_t)rlen + 8)
		return -EBADMSG;
	if (get64(buf + DRC_RECORD_HEADER + rlen) !=
	    siphash24(drc_hash_key, buf, DRC_RECORD_HEADER + rlen))
		return -EBADMSG;
	memset(r, 0, sizeof(*r));
	r->state = (enum drc_state)buf[5];
	r->key.family = buf[6];
	memcpy(r->key.addr, buf + 8, 16);
	r->key.xid = get32(buf + 24);
	r->key.prog = get32(buf + 28);
	r->key.vers = get32(buf + 32);
	r->key.proc = get32(buf + 36);
	r->key.cksum = get64(buf + 40);
	r->received_ms = get64(buf + 48);
	r->replied_ms = get64(buf + 56);
	r->reply_len = rlen;
	r->reply = rlen ? buf + DRC_RECORD_HEADER : NULL;
	if (used)
		*used = DRC_RECORD_HEADER + rlen + 8;
	return 0;
}

int drc_load(struct drc *d, const struct drc_record *r)
{
	if (r->state != DRC_REPLIED || !r->reply || r->reply_len > d->p.max_reply_size)
		return -EINVAL;
	drc_intent_done(d, &r->key);
	uint64_t hash = drc_key_hash(&r->key);
	uint64_t now = drc_now(d);
	struct drc_entry *e = drc_entry_new(&r->key, hash, now);
	if (!e || !(e->reply = malloc(r->reply_len))) {
		free(e);
		return -ENOMEM;
	}
	memcpy(e->reply, r->reply, r->reply_len);
	e->reply_len = r->reply_len;
	/* Ages restart here: the partner's clock is not ours. */
	e->replied_ms = now;
	atomic_store(&e->state, DRC_REPLIED);
	urcu_bp_read_lock();
	drc__publish(e);
	if (cds_lfht_add_unique(d->ht, hash, drc_match, &e->key, &e->node) != &e->node) {
		drc__read_unlock();
		drc_entry_free(e);
		return -EEXIST;
	}
	atomic_fetch_add(&d->entries, 1);
	atomic_fetch_add(&d->bytes, e->reply_len);
	drc_ring_push(d, e);
	drc__read_unlock();
	return 0;
}

bool drc_lookup(struct drc *d, const struct drc_key *k, void *buf, size_t buflen, size_t *len)
{
	uint64_t hash = drc_key_hash(k), now = drc_now(d);
	struct cds_lfht_iter it;

	urcu_bp_read_lock();
	cds_lfht_lookup(d->ht, hash, drc_match, k, &it);
	struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
	bool hit = node && drc_existing(d, caa_container_of(node, struct drc_entry, node), now, buf,
					buflen, len) == DRC_REPLAY;
	drc__read_unlock();
	return hit;
}

/* The slot holding k, or (when absent and `free_slot`) the slot to use for
 * it: a free or aged-out one, else the oldest of the probe run. */
static struct drc_intent *drc_intent_slot(struct drc *d, const struct drc_key *k, uint64_t now,
					  bool free_slot)
{
	uint64_t h = drc_key_hash(k);
	struct drc_intent *spare = NULL;
	bool spare_live = true;
	for (unsigned i = 0; i < DRC_INTENT_PROBE; i++) {
		struct drc_intent *s = &d->intents[(h + i) % DRC_INTENTS];
		bool live = s->at && now - s->at <= d->p.max_age_ms;
		if (live && drc_key_eq(&s->key, k))
			return s;
		if (!live && spare_live)
			spare = s, spare_live = false;
		else if (live && spare_live && (!spare || s->at < spare->at))
			spare = s;
	}
	return free_slot ? spare : NULL;
}

/* nintents counts filled slots (aged-out ones until reused): a hint that lets
 * the request path skip the lock while there are none. */
void drc_intent_add(struct drc *d, const struct drc_key *k)
{
	uint64_t now = drc_now(d);
	pthread_mutex_lock(&d->intent_lock);
	struct drc_intent *s = drc_intent_slot(d, k, now, true);
	if (!s->at)
		atomic_fetch_add(&d->nintents, 1);
	s->key = *k;
	s->at = now ? now : 1;
	pthread_mutex_unlock(&d->intent_lock);
}

static bool drc_intent_remove(struct drc *d, const struct drc_key *k)
{
	if (!atomic_load_explicit(&d->nintents, memory_order_relaxed))
		return false;
	pthread_mutex_lock(&d->intent_lock);
	struct drc_intent *s = drc_intent_slot(d, k, drc_now(d), false);
	if (s) {
		s->at = 0;
		atomic_fetch_sub(&d->nintents, 1);
	}
	pthread_mutex_unlock(&d->intent_lock);
	return s != NULL;
}

void drc_intent_done(struct drc *d, const struct drc_key *k)
{
	drc_intent_remove(d, k);
}

bool drc_intent_take(struct drc *d, const struct drc_key *k)
{
	return drc_intent_remove(d, k);
}

size_t drc_intents_each(struct drc *d, drc_record_fn cb, void *arg)
{
	size_t n = 0;
	uint64_t now = drc_now(d);
	pthread_mutex_lock(&d->intent_lock);
	for (unsigned i = 0; i < DRC_INTENTS; i++) {
		const struct drc_intent *s = &d->intents[i];
		if (!s->at || now - s->at > d->p.max_age_ms)
			continue;
		struct drc_record r = {.key = s->key, .state = DRC_EXECUTING, .received_ms = s->at};
		n++;
		if (!cb(arg, &r))
			break;
	}
	pthread_mutex_unlock(&d->intent_lock);
	return n;
}

void drc_get_stats(struct drc *d, struct drc_stats *s)
{
	s->entries = atomic_load(&d->entries);
	s->executing = atomic_load(&d->executing);
	s->hits = atomic_load(&d->hits);
	s->drops = atomic_load(&d->drops);
	s->refused = atomic_load(&d->refused);
	s->evictions = atomic_load(&d->evictions);
	s->bytes = atomic_load(&d->bytes);
}
