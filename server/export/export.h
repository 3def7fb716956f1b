/*
 * export.h — the export table: which trees are served, to whom, as whom, and the
 * file handles that name objects in them.
 *
 * A file handle is self-describing and node-independent (DESIGN.md "FSAL"):
 *
 *     byte 0      format version (1)
 *     byte 1      key length K (<= FSAL_KEY_MAX)
 *     bytes 2..5  export id, big-endian
 *     K bytes     the backend's key
 *     8 bytes     SipHash-2-4 MAC over bytes 0..5+K under the handle secret
 *
 * The MAC makes handles unforgeable: a client cannot craft a key that reaches an
 * object outside the exports it was given (vfs keys are kernel file handles, valid
 * anywhere on the filesystem). The secret lives in the state directory and is the
 * same on both nodes of a pair, so a handle stays valid across restarts and
 * takeovers. A malformed handle or a wrong MAC gives BADHANDLE; a well-formed handle
 * of an export that is no longer served gives STALE.
 *
 * Thread-safety: the table is immutable after export_table_open().
 */
#ifndef TWINFS_SERVER_EXPORT_EXPORT_H
#define TWINFS_SERVER_EXPORT_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "fsal/fsal.h"

#define EXPORT_FH_MAX	  64
#define EXPORT_SECRET_LEN 16

struct export;
struct export_table;

/* An object resolved from a handle: its export, backend and key. */
struct fsobj {
	const struct export *exp;
	const struct fsal_ops *ops;
	struct fsal_export *fs;
	struct fsal_key key;
};

enum export_access {
	EXPORT_DENIED = 0,
	EXPORT_RO,
	EXPORT_RW,
};

/* Opens every export's backend. Returns 0, or a negative errno after logging which
 * export failed and why. */
int export_table_open(const struct twinfs_config *cfg, const uint8_t secret[EXPORT_SECRET_LEN],
		      struct export_table **out);
void export_table_close(struct export_table *t);
/* Every export's backend forgets what it keeps between calls (fsal.h, drop_caches):
 * when this node stops or starts serving, as its partner changes the trees. */
void export_table_drop_caches(struct export_table *t);

/* Loads the handle secret from DIR/handle.key, creating it (0600, random) if it
 * does not exist. 0 or negative errno. */
int export_load_secret(const char *state_dir, uint8_t secret[EXPORT_SECRET_LEN]);

unsigned export_count(const struct export_table *t);
const struct export *export_at(const struct export_table *t, unsigned i);
/* The export whose path or pseudo path is exactly `path` (trailing '/' ignored). */
const struct export *export_by_path(const struct export_table *t, const char *path);
const struct config_export *export_config(const struct export *e);

/* May this client (address and source port) use the export, and how? */
enum export_access export_client_access(const struct export *e, const struct sockaddr *sa);

/* The effective credential after squashing (root_squash, all_squash, AUTH_NONE). */
void export_squash(const struct export *e, bool auth_sys, const struct fsal_cred *in,
		   struct fsal_cred *out);

int export_root(const struct export *e, struct fsobj *out);
/* Returns the handle length (> 0), written into out[EXPORT_FH_MAX]. */
size_t export_fh_encode(const struct export_table *t, const struct fsobj *obj, uint8_t *out);
/* 0, -EBADMSG (malformed or forged: BADHANDLE) or -ESTALE (unknown export). */
int export_fh_decode(const struct export_table *t, const uint8_t *fh, size_t len,
		     struct fsobj *out);
/* A new object in the same export as `like`. */
static inline void export_obj_sibling(const struct fsobj *like, struct fsobj *out)
{
	out->exp = like->exp;
	out->ops = like->ops;
	out->fs = like->fs;
}

#endif
