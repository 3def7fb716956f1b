/*
 * state.h — NFSv4 server state: clients (4.0 SETCLIENTID, 4.1 EXCHANGE_ID),
 * sessions and their slot tables, open and lock owners, share reservations,
 * byte-range locks and the stateids that name them (RFC 7530 §9, §16;
 * RFC 8881 §2.10, §8, §9, §18).
 *
 * Every function returns an nfsstat4 (the state rules are NFSv4's own; no errno
 * is involved). Time comes from an injectable clock, so lease expiry is tested
 * without sleeping (tests/unit/test_nfs4_state.c).
 */
#ifndef TWINFS_SERVER_NFS4_STATE_H
#define TWINFS_SERVER_NFS4_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsal/fsal.h"
#include "server/xdr/nfs4_prot.h"

struct nfs4_state;
struct nfs4_seq;

/* Never on the wire: a 4.0 seqid operation is a retransmission of the owner's
 * last one, whose saved reply is returned instead (RFC 7530 §9.1.9). */
#define NFS4_REPLAY ((nfsstat4)0x7ffffff0)

/* Milliseconds on a clock that never goes back. */
typedef uint64_t (*nfs4_clock_fn)(void *arg);

struct nfs4_state_params {
	uint32_t lease_sec;
	nfs4_clock_fn clock; /* NULL: CLOCK_MONOTONIC */
	void *clock_arg;
};

int nfs4_state_create(const struct nfs4_state_params *p, struct nfs4_state **out);
void nfs4_state_destroy(struct nfs4_state *st);
uint32_t nfs4_state_lease(const struct nfs4_state *st);
/* Frees every client whose lease ran out, with all its state; returns how many. */
unsigned nfs4_state_reap(struct nfs4_state *st);
/* Taking over the service: every client of an earlier period of service goes,
 * and a new epoch makes their client ids and stateids stale, as after a reboot,
 * so that clients reclaim. Returns how many went. */
unsigned nfs4_state_reset(struct nfs4_state *st);
unsigned nfs4_state_clients(struct nfs4_state *st);
/* Changes whenever a confirmed client comes or goes (for the records on disk). */
unsigned nfs4_state_generation(struct nfs4_state *st);
/* Calls cb with each confirmed client's owner id, under the read lock. */
void nfs4_state_owners(struct nfs4_state *st, void (*cb)(void *arg, const void *id, size_t len),
		       void *arg);
/* The owner id of a client: its length (0: unknown), copied up to cap bytes. */
size_t nfs4_client_owner(struct nfs4_state *st, uint64_t clientid, void *buf, size_t cap);

/* The identity of a file for share reservations and locks. */
struct nfs4_fileid {
	uint32_t exp;
	struct fsal_key key;
};

/* ---- clients, 4.0 ---- */
/* principal: the caller's AUTH_SYS uid; another principal's live client with
 * the same id gets CLID_INUSE. */
nfsstat4 nfs4_setclientid(struct nfs4_state *st, const char verf[8], const void *id, size_t idlen,
			  uint32_t principal, uint64_t *clientid, char confirm[8]);
nfsstat4 nfs4_setclientid_confirm(struct nfs4_state *st, uint64_t clientid, const char confirm[8]);
nfsstat4 nfs4_renew(struct nfs4_state *st, uint64_t clientid);

/* ---- clients and sessions, 4.1 ---- */
struct nfs4_chan {
	uint32_t maxreq, maxresp, maxresp_cached, maxops, maxreqs;
};

nfsstat4 nfs4_exchange_id(struct nfs4_state *st, const char verf[8], const void *id, size_t idlen,
			  uint32_t flags, uint32_t principal, uint64_t *clientid, uint32_t *seq,
			  uint32_t *rflags);
nfsstat4 nfs4_create_session(struct nfs4_state *st, uint64_t clientid, uint32_t seq,
			     uint32_t principal, const struct nfs4_chan *want, char sessionid[16],
			     struct nfs4_chan *got);
nfsstat4 nfs4_destroy_session(struct nfs4_state *st, const char sessionid[16]);
nfsstat4 nfs4_destroy_clientid(struct nfs4_state *st, uint64_t clientid);
nfsstat4 nfs4_session_exists(struct nfs4_state *st, const char sessionid[16]);
nfsstat4 nfs4_reclaim_complete(struct nfs4_state *st, uint64_t clientid);
/* 4.1: GRACE until the client sent RECLAIM_COMPLETE (RFC 8881 §18.51.3: before
 * it, no non-reclaim OPEN or LOCK). */
nfsstat4 nfs4_reclaim_done(struct nfs4_state *st, uint64_t clientid);

struct nfs4_seq_out {
	uint64_t clientid;
	uint32_t highest_slot; /* of the table */
	uint32_t maxreq;
	uint32_t maxresp;
	uint32_t maxresp_cached;
	uint32_t maxops;
	uint32_t status_flags;
};
/* What a slot's saved reply may hold (ca_maxresponsesize_cached): the reply lives
 * in the request table (server/drc, DRC_DEFAULT_MAX_REPLY_SIZE), not here. */
#define NFS4_MAX_RESP_CACHED 4096u

/* SEQUENCE: claims the slot. A retransmission (same seqid) of a call whose reply
 * was saved gives a struct nfs4_seq for which nfs4_seq_replay() is true; of one
 * whose reply was not, RETRY_UNCACHED_REP. */
nfsstat4 nfs4_seq_begin(struct nfs4_state *st, const char sessionid[16], uint32_t seqid,
			uint32_t slot, bool cachethis, struct nfs4_seq **out,
			struct nfs4_seq_out *info);
/* A retransmission: the caller answers with the saved reply. */
bool nfs4_seq_replay(const struct nfs4_seq *s);
bool nfs4_seq_wants_cache(const struct nfs4_seq *s);
/* Releases the slot; `saved`: this call's reply was saved (for a retransmission). */
void nfs4_seq_end(struct nfs4_state *st, struct nfs4_seq *s, bool saved);
/* SEQUENCE failed after claiming the slot (the call is too big): RFC 8881
 * §18.46.3, the slot's state must not change. Releases it as it was. */
void nfs4_seq_cancel(struct nfs4_state *st, struct nfs4_seq *s);

/* ---- opens ---- */
struct nfs4_owner_ref {
	uint64_t clientid;
	const void *owner;
	size_t len;
	uint32_t seqid; /* 4.0 only */
	uint32_t minor;
	bool reclaim; /* OPEN CLAIM_PREVIOUS: confirmed at once, as knfsd (Linux sends
		       * no usable OPEN_CONFIRM after a reclaim) */
};

/* Before OPEN touches the filesystem: the client is known and the owner's
 * seqid is the next one (4.0). */
nfsstat4 nfs4_open_begin(struct nfs4_state *st, const struct nfs4_owner_ref *o);
/* After: records (or upgrades) the open, checking share reservations; status is
 * what the filesystem part gave (4.0 advances the owner's seqid either way). */
nfsstat4 nfs4_open_finish(struct nfs4_state *st, const struct nfs4_owner_ref *o,
			  const struct nfs4_fileid *f, uint32_t access, uint32_t deny,
			  nfsstat4 fs_status, const void *fh, uint32_t fhlen, stateid4 *sid,
			  bool *confirm);
/* After nfs4_open_begin said NFS4_REPLAY: the first OPEN's reply and file handle. */
nfsstat4 nfs4_open_replay(struct nfs4_state *st, const struct nfs4_owner_ref *o, stateid4 *sid,
			  bool *confirm, uint8_t fh[NFS4_FHSIZE], uint32_t *fhlen);
/* Would an open with this access/deny conflict? (before creating or truncating) */
nfsstat4 nfs4_share_check(struct nfs4_state *st, const struct nfs4_owner_ref *o,
			  const struct nfs4_fileid *f, uint32_t access, uint32_t deny);
nfsstat4 nfs4_open_confirm(struct nfs4_state *st, const struct nfs4_fileid *f, stateid4 *sid,
			   uint32_t seqid);
nfsstat4 nfs4_open_downgrade(struct nfs4_state *st, const struct nfs4_fileid *f, stateid4 *sid,
			     uint32_t seqid, uint32_t minor, uint32_t access, uint32_t deny);
nfsstat4 nfs4_close(struct nfs4_state *st, const struct nfs4_fileid *f, stateid4 *sid,
		    uint32_t seqid, uint32_t minor);

/* READ/WRITE/SETATTR(size)/ALLOCATE: may this stateid do that to this range?
 * want: OPEN4_SHARE_ACCESS_READ or _WRITE. */
/* clientid: a 4.1 session's client, whose stateids only it may use; 0 in 4.0 */
nfsstat4 nfs4_stateid_check(struct nfs4_state *st, const stateid4 *sid, const struct nfs4_fileid *f,
			    uint32_t want, uint64_t off, uint64_t len, uint32_t minor,
			    uint64_t clientid);

/* ---- locks ---- */
struct nfs4_lock_req {
	uint32_t type; /* nfs_lock_type4 */
	uint64_t off, len;
	uint32_t minor;
	bool new_owner;
	/* new_owner: the open stateid, the open owner's seqid, the lock owner */
	stateid4 open_sid;
	uint32_t open_seqid;
	struct nfs4_owner_ref lock_owner;
	/* !new_owner: the lock stateid and the lock owner's seqid */
	stateid4 lock_sid;
	uint32_t lock_seqid;
};

struct nfs4_lock_denied {
	uint64_t off, len;
	uint32_t type;
	uint64_t clientid;
	const void *owner; /* valid until the next call that changes state */
	size_t ownerlen;
};

nfsstat4 nfs4_lock(struct nfs4_state *st, const struct nfs4_fileid *f,
		   const struct nfs4_lock_req *r, stateid4 *out, struct nfs4_lock_denied *d,
		   void *owner_buf, size_t owner_buf_len);
nfsstat4 nfs4_lockt(struct nfs4_state *st, const struct nfs4_fileid *f, uint32_t type, uint64_t off,
		    uint64_t len, const struct nfs4_owner_ref *o, struct nfs4_lock_denied *d,
		    void *owner_buf, size_t owner_buf_len);
nfsstat4 nfs4_locku(struct nfs4_state *st, const struct nfs4_fileid *f, stateid4 *sid,
		    uint32_t seqid, uint32_t minor, uint64_t off, uint64_t len);
nfsstat4 nfs4_release_lockowner(struct nfs4_state *st, const struct nfs4_owner_ref *o);

/* ---- 4.1 stateid operations ---- */
nfsstat4 nfs4_test_stateid(struct nfs4_state *st, uint64_t clientid, const stateid4 *sid);
nfsstat4 nfs4_free_stateid(struct nfs4_state *st, uint64_t clientid, const stateid4 *sid);
/* Delegations are never given, so DELEGRETURN knows none. */
nfsstat4 nfs4_delegreturn(struct nfs4_state *st, const stateid4 *sid);

#endif
