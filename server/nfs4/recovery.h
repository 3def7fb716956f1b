/*
 * recovery.h — NFSv4 client records on stable storage and the grace period
 * (RFC 7530 §9.6.2, RFC 8881 §8.4.2).
 *
 * Every confirmed client's owner id is written to DIR/nfs4_clients before its
 * confirmation is answered, and each export it opens a file on before that OPEN
 * is answered. A server that starts (or takes over) and finds records there
 * opens a grace period on the exports they name: those clients may reclaim
 * their opens and locks (CLAIM_PREVIOUS, LOCK reclaim), nobody may take new ones
 * there (GRACE); other exports serve new opens at once. It ends after one lease,
 * or as soon as every recorded client said RECLAIM_COMPLETE (4.1; a recorded 4.0
 * client cannot say it, so it keeps grace to its end).
 *
 * DIR: a node's state_dir, or in a pair a directory on the shared storage
 * (nfs4_recovery_dir), which only the serving node writes.
 *
 * Thread-safe: one mutex, taken by the operations above only (never on READ,
 * WRITE or GETATTR); nfs4_grace() is a lock-free read.
 */
#ifndef TWINFS_SERVER_NFS4_RECOVERY_H
#define TWINFS_SERVER_NFS4_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/nfs4/state.h"

struct nfs4_recovery;

/* Reads the records (a missing file is none) and starts grace if there are any.
 * 0 or a negative errno. clock NULL: CLOCK_MONOTONIC. */
int nfs4_recovery_open(const char *dir, uint32_t lease_sec, nfs4_clock_fn clock, void *clock_arg,
		       struct nfs4_recovery **out);
void nfs4_recovery_close(struct nfs4_recovery *r);
/* Taking over: forgets what is in memory, reads the file again (the partner's
 * clients), starts grace if it names any, and writes the file from now on. */
int nfs4_recovery_reload(struct nfs4_recovery *r);
/* No longer serving: forgets the records and never writes the file again until
 * the next reload (the partner owns it now). */
void nfs4_recovery_release(struct nfs4_recovery *r);

/* Is any grace period on? */
bool nfs4_grace(struct nfs4_recovery *r);
/* Is this export (its config id) in grace? */
bool nfs4_grace_on(struct nfs4_recovery *r, uint32_t export_id);
/* How many clients of the previous instance may reclaim (for the log). */
unsigned nfs4_recovery_previous(const struct nfs4_recovery *r);
/* Was this owner recorded by the previous instance, and is grace still on? */
bool nfs4_recovery_may_reclaim(struct nfs4_recovery *r, const void *id, size_t len);
/* RECLAIM_COMPLETE from this owner; grace ends when every recorded one did. */
void nfs4_recovery_reclaimed(struct nfs4_recovery *r, const void *id, size_t len);
/* Records a confirmed client durably (once). 0 or a negative errno. */
int nfs4_recovery_add(struct nfs4_recovery *r, const void *id, size_t len);
/* Records durably (once) that the client has state on this export. */
int nfs4_recovery_add_export(struct nfs4_recovery *r, const void *id, size_t len,
			     uint32_t export_id);
/* Rewrites the records as exactly the clients the state holds now. */
int nfs4_recovery_sync(struct nfs4_recovery *r, struct nfs4_state *st);

#endif
