/*
 * vfs/fdcache.h — open O_PATH descriptors by key, kept between calls.
 *
 * Why: opening an object by handle (open_by_handle_at) and closing it again was two
 * of a GETATTR's seven syscalls and most of a READDIRPLUS's; Ganesha and knfsd keep
 * such objects open too. A cached descriptor is lent out with a reference and closed
 * only when it is both evicted (least recently used first, or forgotten) and given
 * back, so a caller never sees its descriptor closed or reused under it.
 *
 * Staleness: a descriptor keeps naming its inode after the last name is gone (and
 * keeps its blocks allocated). Callers forget the objects they remove, and treat a
 * link count of 0 as a stale handle (vfs.c); the cache is bounded, so what others
 * removed is released once it ages out, and a node of a pair forgets all of it when
 * it stops or starts serving (fsal.h, drop_caches), as its partner changes the tree.
 */
#ifndef TWINFS_FSAL_VFS_FDCACHE_H
#define TWINFS_FSAL_VFS_FDCACHE_H

#include "fsal/fsal.h"

struct fdcache;

/* capacity 0 makes a cache that keeps nothing (every descriptor is closed on put). */
struct fdcache *fdcache_new(unsigned capacity);
/* Closes every descriptor; none may be lent out any more. */
void fdcache_free(struct fdcache *c);

/* Opens a descriptor for key (0 or a negative errno, *fd set on success). */
typedef int (*fdcache_open_fn)(void *arg, const struct fsal_key *key, int *fd);

/* The cached descriptor of key, or a new one from open_fn, lent to the caller:
 * give it back with fdcache_put. */
int fdcache_get(struct fdcache *c, const struct fsal_key *key, fdcache_open_fn open_fn, void *arg,
		int *fd);
/* Gives back a descriptor from fdcache_get (any descriptor not cached is closed). */
void fdcache_put(int fd);
/* A second descriptor of the object that fd (lent by fdcache_get) names, opened
 * once by open_aux and kept with it (vfs.c: a read-only descriptor for READ): valid
 * while fd is lent, never closed by the caller. -ENOENT when fd is not cached. */
int fdcache_aux(int fd, int (*open_aux)(int fd, int *aux), int *aux);
/* The object of key is gone (removed, or found stale): drop its descriptor. */
void fdcache_forget(struct fdcache *c, const struct fsal_key *key);
/* Drops every descriptor (those lent out are closed when given back). */
void fdcache_forget_all(struct fdcache *c);
/* Descriptors held now (for tests and status). */
unsigned fdcache_count(struct fdcache *c);

#endif
