/*
 * vfs/dirstream.h — directory listings that continue where the last call stopped.
 *
 * Why: a READDIR(PLUS) call returns a page of entries and the next call names the
 * last one's cookie. Opening the directory again and seeking there makes ext4
 * rebuild its hash-order listing from that position on every call (measured:
 * ext4fs_dirhash and ext4_htree_store_dirent topped a 10,000-entry listing's
 * profile), so a full listing cost grew with the square of its length. Here the
 * open descriptor and the entries already read but not yet returned are kept,
 * keyed by directory and cookie, and the next page starts from them.
 *
 * Entries kept for a while may miss a change made meanwhile, as with any readdir
 * buffer (POSIX leaves it open); a stream unused for DIRSTREAM_MAX_AGE_MS is not
 * resumed.
 */
#ifndef TWINFS_FSAL_VFS_DIRSTREAM_H
#define TWINFS_FSAL_VFS_DIRSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsal/fsal.h"

struct dirstream_cache;

struct dirstream {
	struct fsal_key key; /* the directory */
	uint64_t cookie;     /* the position: the last entry returned (0: start) */
	int fd;
	char *buf; /* getdents64 output not yet returned: buf[pos..len) */
	size_t len, pos;
	uint64_t stamp_ms;
};

struct dirstream_cache *dirstream_cache_new(unsigned slots);
void dirstream_cache_free(struct dirstream_cache *c);

/* A kept stream of dir at cookie, now the caller's; NULL if none. */
struct dirstream *dirstream_take(struct dirstream_cache *c, const struct fsal_key *dir,
				 uint64_t cookie);
/* A new stream over fd (the caller's open directory, positioned at cookie). */
struct dirstream *dirstream_new(const struct fsal_key *dir, uint64_t cookie, int fd,
				size_t bufsize);
/* Keeps s for the next call (or closes it when the cache is full of newer ones). */
void dirstream_keep(struct dirstream_cache *c, struct dirstream *s);
/* Closes s. */
void dirstream_close(struct dirstream *s);
/* Closes every kept stream (one taken by a call is its own). */
void dirstream_cache_clear(struct dirstream_cache *c);

#endif
