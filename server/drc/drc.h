/*
 * drc.h — the outstanding-request table.
 *
 * Every call the server accepts gets an entry here from arrival until its reply
 * is sent, and a non-idempotent call keeps it after, with the reply's bytes. The
 * table is three things at once (DESIGN.md "Request table"):
 *   - the duplicate request cache: a retransmission of a call still EXECUTING is
 *     dropped (the original's reply answers it); a retransmission of a REPLIED
 *     non-idempotent call gets the saved reply, byte for byte, without running it
 *     again, so a retransmitted REMOVE does not fail with NOENT;
 *   - the list of what is in flight, which a takeover drains;
 *   - the request-status compilation mirrored to the partner (claim 16).
 *
 * Key: client IP address (not the port: a client retransmits on a new connection
 * after a reconnect, and may not get its old port back), XID, program, version,
 * procedure, and a checksum of the arguments, so a reused XID with other
 * arguments is a new call.
 *
 * Concurrency: a liburcu lock-free hash table (cds_lfht, urcu-bp flavour, which
 * needs no registration of libntirpc's threads). No lock on the request path;
 * state changes are atomic. REPLIED entries sit in a fixed ring in completion
 * order, which makes eviction oldest-first and bounds the count without a list
 * lock; bytes and age are bounded by evicting from the ring's old end.
 *
 * Left out: UDP-specific keys, per-client quotas.
 */
#ifndef TWINFS_SERVER_DRC_DRC_H
#define TWINFS_SERVER_DRC_DRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct drc;
struct drc_entry;

struct drc_key {
	/* AF_INET or AF_INET6 (IPv4-mapped IPv6 is stored as AF_INET); or
	 * DRC_FAMILY_SLOT: an NFSv4.1 session slot's reply (RFC 8881 §2.10.6), addr =
	 * the session id, xid = the slot, cksum = the sequence id */
	uint8_t family;
	uint8_t addr[16];
	uint32_t xid;
	uint32_t prog;
	uint32_t vers;
	uint32_t proc;
	uint64_t cksum; /* of the call's arguments */
};

#define DRC_FAMILY_SLOT 0xf1

enum drc_state {
	DRC_RECEIVED = 0,
	DRC_EXECUTING = 1,
	DRC_REPLIED = 2,
};

/* Time in milliseconds from an injectable clock, so tests need not sleep. */
typedef uint64_t (*drc_clock_fn)(void *arg);

struct drc_params {
	size_t max_entries;	 /* REPLIED entries kept; default 16384 */
	size_t max_reply_bytes;	 /* saved reply bytes kept; default 64 MiB */
	uint32_t max_age_ms;	 /* REPLIED entries older than this go; default 120 s */
	uint32_t max_reply_size; /* a larger reply is not saved; default 4 KiB */
	drc_clock_fn clock;	 /* NULL: CLOCK_MONOTONIC */
	void *clock_arg;
};

#define DRC_DEFAULT_ENTRIES	   16384
#define DRC_DEFAULT_REPLY_BYTES	   (64u << 20)
#define DRC_DEFAULT_AGE_MS	   120000
#define DRC_DEFAULT_MAX_REPLY_SIZE 4096

struct drc_stats {
	uint64_t entries;   /* in the table now, all states */
	uint64_t executing; /* RECEIVED or EXECUTING now */
	uint64_t hits;	    /* replays answered from a saved reply */
	uint64_t drops;	    /* retransmissions dropped while in progress */
	uint64_t refused;   /* new calls not admitted (draining) */
	uint64_t evictions; /* REPLIED entries removed for count, bytes or age */
	uint64_t bytes;	    /* saved reply bytes now */
};

/* Zero fields of p take the defaults. 0 or -ENOMEM. */
int drc_create(const struct drc_params *p, struct drc **out);
/* Only when no thread uses the table any more. */
void drc_destroy(struct drc *d);

void drc_key_set_addr(struct drc_key *k, const struct sockaddr *sa);

enum drc_verdict {
	DRC_NEW,	 /* run it: *entry is EXECUTING; finish with drc_finish/abort */
	DRC_IN_PROGRESS, /* the same call is running: drop this copy */
	DRC_REPLAY,	 /* answered before: send the reply copied into buf */
	DRC_NOT_ADMITTED /* draining: do not run it (the partner will) */
};

/*
 * Looks the call up and, if it is new, inserts it as EXECUTING. For DRC_REPLAY the
 * saved reply is copied into buf (at most buflen; *len gets its length). A REPLIED
 * entry without a saved reply (idempotent, or too large) is not a replay: the call
 * runs again.
 */
enum drc_verdict drc_begin(struct drc *d, const struct drc_key *k, struct drc_entry **entry,
			   void *buf, size_t buflen, size_t *len);

/* The call ran and its reply is going out. With reply != NULL (non-idempotent) the
 * bytes are saved and the entry becomes REPLIED; with NULL the entry is removed. */
void drc_finish(struct drc *d, struct drc_entry *e, const void *reply, size_t len);
/* The call will not be answered (dropped): forget it. */
void drc_abort(struct drc *d, struct drc_entry *e);

/* Failover primitives. */
void drc_set_admitting(struct drc *d, bool admit);
bool drc_admitting(const struct drc *d);
/* Waits until nothing is RECEIVED or EXECUTING, at most timeout_ms.
 * 0, or -ETIMEDOUT with the number still running in *left. */
int drc_wait_idle(struct drc *d, uint32_t timeout_ms, uint64_t *left);

/* A copy of one entry, as the snapshot iterator and the mirror see it. */
struct drc_record {
	struct drc_key key;
	enum drc_state state;
	uint64_t received_ms;
	uint64_t replied_ms;
	uint32_t reply_len;
	const uint8_t *reply; /* valid during the callback / until the buffer is reused */
};

/* Calls cb for every entry present for the whole iteration (entries added or
 * removed meanwhile may or may not be seen). cb must not call into the table.
 * Returns the number of entries visited; stops early when cb returns false. */
typedef bool (*drc_record_fn)(void *arg, const struct drc_record *r);
size_t drc_snapshot(struct drc *d, drc_record_fn cb, void *arg);
/* The REPLIED entries with a saved reply, oldest first (the order the ring
 * evicts them in). A partner being caught up gets them in this order, so that
 * its own bound evicts the oldest too, never the newest. */
size_t drc_replied_in_order(struct drc *d, drc_record_fn cb, void *arg);

/* How long the oldest call still RECEIVED or EXECUTING has been running, in ms of
 * the table's clock; 0 when none. For the stuck-request fault detector
 * (failover/probe): lock-free, one pass over the table when anything runs. */
uint64_t drc_oldest_executing_ms(struct drc *d);

/*
 * The mirror record: a versioned, bounded, checksummed serialisation.
 *   magic "TDR1" | version u8 | state u8 | family u8 | pad u8 | addr[16] | xid,prog,
 *   vers,proc u32 | cksum u64 | received_ms, replied_ms u64 | reply_len u32 | reply |
 *   siphash of everything before, u64
 * All integers big-endian. DRC_RECORD_MAX bounds the whole record.
 */
#define DRC_RECORD_HEADER 80
#define DRC_RECORD_MAX	  (DRC_RECORD_HEADER + DRC_DEFAULT_MAX_REPLY_SIZE + 8)

/* Bytes written, or -ENOSPC when buf is too small / the reply too large. */
int drc_record_encode(const struct drc_record *r, uint8_t *buf, size_t buflen);
/* 0, or -EBADMSG for a truncated, corrupted or unknown record. r->reply points
 * into buf. *used gets the record's length. */
int drc_record_decode(const uint8_t *buf, size_t len, struct drc_record *r, size_t *used);
/* Puts a REPLIED record with its reply in the table, whether admitting or not: a
 * mirrored entry (a standby, so that the partner's clients get their replays
 * here after a takeover), or a reply a protocol keeps under a key of its own (a
 * 4.1 slot). 0, -EEXIST, -EINVAL or -ENOMEM. */
int drc_load(struct drc *d, const struct drc_record *r);
/* A REPLIED entry's saved reply, copied into buf (at most buflen); false when
 * there is none (never saved, evicted or aged out). Inserts nothing. */
bool drc_lookup(struct drc *d, const struct drc_key *k, void *buf, size_t buflen, size_t *len);

/*
 * Intents: the partner's non-idempotent calls in flight. The serving node
 * mirrors each such call before it runs it (claim 16), and its reply after; a
 * standby keeps the calls whose reply has not come. After an unplanned
 * takeover a client's retransmission of one of them finds it here: the failed
 * node may have executed it, so an error that says "already done" (NOENT for a
 * REMOVE, EXIST for a CREATE) is that call's own effect, not a failure.
 * Bounded (4096, oldest out) and aged out with the table's max_age_ms.
 */
void drc_intent_add(struct drc *d, const struct drc_key *k);
void drc_intent_done(struct drc *d, const struct drc_key *k);
/* True (once) when k is one of the partner's calls in flight. */
bool drc_intent_take(struct drc *d, const struct drc_key *k);
/* Each intent as an EXECUTING record without a reply (a catch-up passes them
 * on: a node handing the service back must hand these on too). cb must not
 * call into the table. */
size_t drc_intents_each(struct drc *d, drc_record_fn cb, void *arg);

void drc_get_stats(struct drc *d, struct drc_stats *s);

#endif
