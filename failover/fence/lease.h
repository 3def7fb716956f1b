/*
 * lease.h — the storage lease ("mailbox") that fences the pair (DESIGN.md "The pair",
 * unplanned takeover): with the peer link cut but the storage shared, at most one
 * node believes it holds the service lease at any moment, so at most one serves.
 *
 * The mailbox is a file on the shared storage (config `lease_path`) with one slot per
 * node: node n writes only slot n (a 4 KiB block at offset (n - 1) * 4096) and reads
 * both. A slot holds a 64-byte record (little-endian): magic "TWLS", version, node id,
 * state (HELD or RELEASED), epoch, a counter bumped by every write of a holding, the
 * writer's lease_ms, and an FNV-1a 64 checksum. A slot of zeros (or beyond the end of
 * the file) is absent; anything else that does not parse (torn, garbage, short file)
 * is unknown: held by someone we cannot name.
 *
 * Why a slot per node and not one record: with one record, the holder's renewal and
 * the partner's takeover can both read "unchanged" and then overwrite each other, so
 * a renewal that started just before the takeover survives it unseen (two holders
 * for up to a lease). With a slot each, nothing is overwritten, and every take and
 * renewal is write-then-read: write my slot, fsync, read the partner's slot. Of two
 * such operations that overlap, at least one reads the other's write (the later
 * read follows both writes), and a node that sees its partner's slot changed backs
 * off. Slots are whole 4 KiB blocks so that neither node's page (or O_DIRECT sector)
 * ever carries the other's slot.
 *
 * What the lease is: the slot with the highest epoch decides. A HELD record whose
 * epoch is below the partner's record is superseded (its holder lost when the
 * partner took over). The lease is FREE when no slot is unknown and every HELD
 * record is superseded (all released, or never written); it is HELD by the node of
 * the one HELD record that is not superseded; otherwise (an unknown slot, or two
 * HELD records of one epoch after a race) it is UNKNOWN. A take writes epoch = the
 * highest epoch this node ever read + 1, so epochs increase across holders as long
 * as the records are readable.
 *
 * Time: only monotonic clocks, each node its own (no wall clock is ever compared
 * between nodes). The default clock is CLOCK_BOOTTIME: monotonic, and unlike
 * CLOCK_MONOTONIC it keeps running while the machine is suspended, so a holder that
 * resumes from a suspend sees its lease as lapsed. L = lease_ms, margin m = L / 5.
 *   - The holder: a take or renewal that started (read its clock) at s is valid until
 *     s + L - m, and only once its post-read showed the partner's slot unchanged
 *     since the take (lease.c lists the steps in order). A renewal that starts
 *     after the deadline, or finds the partner's slot changed, loses the lease
 *     (-ESTALE): a node frozen for longer than its lease never serves again on
 *     resume without a new take.
 *   - An observer: records the time at which it FIRST read the current contents of
 *     the mailbox (its clock read after the read). The lease has expired when the
 *     contents have not changed for max(L, the holder's lease_ms) since then.
 *     Released or absent: free at once.
 *
 * Safety argument (why one holder at a time). Say N seizes, having read the same
 * contents from f to its pre-read r (r - f >= L), and its post-read p still shows the
 * holder H's slot unchanged. Take any write W of H, started at s_W:
 *   - W landed before f: s_W < f, so H's validity ends at s_W + L - m, before f + L
 *     <= r, while N's validity starts after p > r. The margin m absorbs clock-rate
 *     differences (up to ~10% here; real clocks differ by ppm) and the time between
 *     the request path's last validity check and its reply.
 *   - W landed between f and p: impossible, N read no change.
 *   - W landed after p: then H's post-read follows N's write, sees its slot changed,
 *     and W gives no validity.
 * An acquire is the same with "free" for "expired": a RELEASED record is written
 * after its writer stopped, and a HELD record is superseded only by a higher epoch,
 * which only a later take can have written, after the older holder's validity
 * ended. Every other write (a release, a withdrawal after a failed take, a late
 * write of a frozen node) is made while its writer does not believe it holds: it can
 * make the partner lose, never add a holder. A withdrawal puts back bytes an
 * observer may have seen before; it undoes a take that gave no validity, so counting
 * from the earlier sight stays sound. Failures cost availability, not exclusivity.
 *
 * What it does not do: decide when to seize (the role table does, after the peer
 * link went silent, LEASE_SEIZE); run a fence command; protect against two nodes
 * configured with the same node id (config checks that) or storage that lies about
 * fsync. Shared storage without coherent page caches (a raw shared block device,
 * NFS with attribute caching) needs `direct` (O_DIRECT) so reads reach the storage.
 *
 * Threads: every function but lease_valid_until() and lease_valid() is called from
 * one thread (the pair loop). lease_valid_until() is an atomic load, for any thread;
 * lease_valid() also calls the clock (the default clock is thread-safe).
 *
 * Errors are negative errno values. Renew every L / 4: three attempts fit in the
 * validity, and a failed one (I/O error) keeps the deadline of the last success.
 */
#ifndef TWINFS_FAILOVER_FENCE_LEASE_H
#define TWINFS_FAILOVER_FENCE_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#define LEASE_DEFAULT_MS 3000u
#define LEASE_MIN_MS	 10u
#define LEASE_MAX_MS	 3600000u
#define LEASE_MARGIN_DIV 5u /* the holder gives up lease_ms / 5 early */
#define LEASE_SLOT_SIZE	 4096u
#define LEASE_FILE_SIZE	 (2u * LEASE_SLOT_SIZE)

/* Milliseconds from a monotonic clock (as role_clock_fn). */
typedef uint64_t (*lease_clock_fn)(void *arg);

struct lease_params {
	const char *path;     /* the mailbox; created (0600) when absent */
	unsigned node_id;     /* 1 or 2: this node's slot */
	uint32_t lease_ms;    /* L; 0: LEASE_DEFAULT_MS */
	lease_clock_fn clock; /* NULL: CLOCK_BOOTTIME */
	void *clock_arg;
	bool direct; /* O_DIRECT: for storage whose caches are not coherent */
};

enum lease_state {
	LEASE_ABSENT,	/* never written: free */
	LEASE_HELD,	/* a holder renews it (or did, until it expires) */
	LEASE_RELEASED, /* its last holder released it cleanly: free */
	LEASE_UNKNOWN,	/* unreadable slot, or two claims of one epoch: not free */
};

struct lease_view {
	enum lease_state state;
	unsigned holder;       /* HELD: its node; RELEASED: the last holder; else 0 */
	uint64_t epoch;	       /* highest epoch on record, 0: none */
	uint64_t counter;      /* of the record that decides (HELD, RELEASED) */
	bool free;	       /* ABSENT or RELEASED: lease_acquire may take it */
	bool expired;	       /* free, or unchanged for >= the lease: lease_seize may */
	bool mine;	       /* this object holds it, and the mailbox agrees */
	uint64_t unchanged_ms; /* since this node first read the current contents */
};

struct lease;

/* Opens (creating) the mailbox; takes nothing. -EINVAL for bad params, -ENOMEM, or
 * the errno of open() (EACCES, ENOENT for a missing directory, EINVAL when O_DIRECT
 * is not supported). */
int lease_open(const struct lease_params *p, struct lease **out);
/* Closes the file; writes nothing (a held lease expires unless released first). */
void lease_close(struct lease *l);

/* Reads the mailbox and updates the change tracking that lease_seize relies on. */
int lease_observe(struct lease *l, struct lease_view *v);

/* Takes the lease if it is free (LEASE_ACQUIRE). 0; -EBUSY when not free, or when
 * the partner wrote its slot meanwhile (a race: the take is withdrawn); -ETIMEDOUT
 * when the take took longer than its own validity; -errno on I/O. Already held:
 * as lease_renew. */
int lease_acquire(struct lease *l);
/* Takes it if free or expired by this node's observation (LEASE_SEIZE): -EBUSY
 * while the holder's record still changes or has been unchanged for less than the
 * lease; otherwise as lease_acquire. */
int lease_seize(struct lease *l);
/*
 * The holder's renewal. 0 with *valid_until (may be NULL) the new deadline; -ESTALE
 * when the lease is lost (not held, lapsed before the renewal started, the partner
 * wrote its slot, or the renewal finished after its own deadline): stop serving now,
 * nothing is held any more; another negative errno on I/O: still held, the deadline
 * of the last success stands.
 */
int lease_renew(struct lease *l, uint64_t *valid_until);
/* Marks it RELEASED (LEASE_RELEASE), after the caller stopped serving: the partner
 * may acquire at once. Stops holding first, whatever happens next. 0 (also when not
 * held), -ESTALE when it was lost already (nothing written), -errno on I/O (the
 * lease then expires). */
int lease_release(struct lease *l);
/* Stops holding without writing (LEASE_ABANDON): the lease expires. */
void lease_abandon(struct lease *l);

/* The holder's deadline on the lease's clock (0: not held). Serve only while the
 * clock reads less. Atomic: any thread. */
uint64_t lease_valid_until(const struct lease *l);
/* clock < lease_valid_until(). */
bool lease_valid(const struct lease *l);
/* The held epoch (0: not held), e.g. for a new write verifier after a seize. */
uint64_t lease_epoch(const struct lease *l);

const char *lease_state_name(enum lease_state s);

#endif
