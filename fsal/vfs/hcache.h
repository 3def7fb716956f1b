/*
 * vfs/hcache.h — the keys (file handles) of objects, by inode number and birth time.
 *
 * Why: READDIRPLUS needs every entry's handle and attributes. Taking the handle with
 * name_to_handle_at was a second path walk per entry beside the stat, and 37 % of the
 * server's CPU in a 10,000-entry listing. A handle never changes while its inode
 * lives (a rename keeps it), so it is kept here and a listing costs one statx per
 * entry; the attributes still come from that statx, only the handle is reused.
 *
 * Incarnations: ext4 gives a freed inode number to the next file at once, and birth
 * times are coarse (a clock tick): measured on ext4, 95 % of create/unlink cycles got
 * the same number with the same birth time. So (ino, birth) alone does not tell two
 * objects apart. What does: hcache_put refuses an object born less than
 * HCACHE_MIN_AGE_NS before `now`, where `now` was read before the object was seen.
 * Another object with that number can only be born after the first one was seen (two
 * live inodes never share a number), hence at least HCACHE_MIN_AGE_NS minus a tick
 * after the first one's birth: a different birth time. The rule holds unless the
 * wall clock is stepped back by more than that margin meanwhile.
 *
 * Bounded (capacity entries, no descriptors held), sharded by inode number, a mutex
 * per shard held for one probe of an open-addressed table: a listing looks up
 * thousands of entries in no useful order, so a lookup touches one slot, not a bucket
 * and a chained entry (measured: two cache misses made the chained table 8 % of a
 * listing's CPU). A full shard replaces an entry only when it was unused for
 * HCACHE_IDLE_NS: a listing larger than the cache then keeps hitting on the part
 * that fits, where LRU would miss on every entry of every pass. Entries of removed
 * objects are harmless (their birth time never matches again) and age out.
 */
#ifndef TWINFS_FSAL_VFS_HCACHE_H
#define TWINFS_FSAL_VFS_HCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "fsal/fsal.h"

#define HCACHE_MIN_AGE_NS (1000 * 1000 * 1000LL)
#define HCACHE_IDLE_NS	  (10 * 1000 * 1000 * 1000LL)

/* A birth time, as statx's stx_btime; times in ns since the epoch (CLOCK_REALTIME). */
struct hcache_birth {
	int64_t sec;
	uint32_t nsec;
};

struct hcache;

struct hcache *hcache_new(unsigned capacity);
void hcache_free(struct hcache *c);

/* The key of the object ino born at birth, if cached (true); now marks it used. */
bool hcache_get(struct hcache *c, uint64_t ino, struct hcache_birth birth, int64_t now,
		struct fsal_key *key);
/* Keeps key for (ino, birth), if the object is old enough (see top) and there is room.
 * now: the clock read before the object was seen. */
void hcache_put(struct hcache *c, uint64_t ino, struct hcache_birth birth, int64_t now,
		const struct fsal_key *key);
/* Starts loading the slot where ino would be, without locking: a listing knows an
 * entry's inode number (d_ino) a statx before it asks hcache_get, time enough to
 * hide the cache miss that was most of hcache_get's cost. */
void hcache_prefetch(struct hcache *c, uint64_t ino);
/* Would hcache_put keep an object born at birth, seen after now? (See top.) */
bool hcache_old_enough(struct hcache_birth birth, int64_t now);
/* Forgets every entry and gives back the memory they took. */
void hcache_clear(struct hcache *c);
/* Entries held now (for tests). */
unsigned hcache_count(struct hcache *c);

#endif
