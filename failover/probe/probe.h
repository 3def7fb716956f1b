/*
 * probe.h — fault detection on a pair node (DESIGN.md "The pair": FAULT(type)).
 *
 * Two detectors, run together in one round:
 *   - storage: a stat of every export root, and (with a probe_dir) a small write,
 *     fsync and read-back of <probe_dir>/probe-node<N> on the shared storage;
 *   - stuck requests: the oldest request still RECEIVED or EXECUTING in the request
 *     table (drc_oldest_executing_ms) against the stuck_request_ms limit.
 * A periodic thread runs a round every interval_ms and reports each failing
 * detector through on_fault; the pair turns that into FAULT(type) and a takeover
 * request (claims 8, 9, 14, 20). The can-backup check runs one round itself
 * (probe_run_once) before a standby agrees to take over (claims 10, 19).
 *
 * Timeouts: shared storage behind NFS can hang a stat or an fsync forever, in D
 * state, where no signal or cancellation reaches. So each storage call runs in a
 * worker thread of its own and the round waits for all of them on a condition
 * variable until one common deadline (timeout_ms): a round never takes longer. A
 * worker that has not answered by then is abandoned (detached, never cancelled)
 * and counted; while it hangs, later rounds do not start a second one for the same
 * target but report it "still hung since N ms". Workers own what they use (a
 * refcounted job holding the path, the I/O functions and a refcounted mutex and
 * condition variable), so probe_stop and probe_destroy neither wait for a hung
 * worker nor free memory it will touch when it returns.
 *
 * Locking: one mutex (shared with the workers) guards the round state; rounds are
 * serialised, and a probe_run_once that arrives during a round waits for that round
 * and returns its result. Callbacks run without the lock held.
 *
 * Left out: per-export fault types, and checking that the probe file's contents
 * reached the disk (the read-back may come from the page cache).
 */
#ifndef TWINFS_FAILOVER_PROBE_PROBE_H
#define TWINFS_FAILOVER_PROBE_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "failover/role/role.h"

struct probe;

#define PROBE_DEFAULT_INTERVAL_MS 1000
#define PROBE_DEFAULT_TIMEOUT_MS  2000
#define PROBE_DEFAULT_STUCK_MS	  30000

/*
 * The storage calls, replaceable for tests (a call that blocks on a semaphore is a
 * hung storage). Each returns 0, or -errno with a sentence in msg. They run in
 * worker threads that may outlive the probe, so `arg` must outlive every call.
 */
struct probe_io {
	/* the export root must answer a stat and be a directory */
	int (*stat_root)(void *arg, const char *path, char *msg, size_t len);
	/* path (created or truncated) gets data, is fsync'd, read back and compared */
	int (*write_read)(void *arg, const char *path, const void *data, size_t n, char *msg,
			  size_t len);
	/* optional: a worker is done with everything the probe gave it and exits
	 * (tests wait for abandoned workers with it) */
	void (*finished)(void *arg);
	void *arg;
};

struct probe_params {
	const char *const *roots; /* export root paths to stat (copied) */
	unsigned nroots;
	const char *dir;			    /* probe_dir; NULL or "" = no write probe */
	unsigned node_id;			    /* names the probe file: probe-node<N> */
	uint32_t interval_ms, timeout_ms, stuck_ms; /* 0 = the defaults above */
	/* age of the oldest request still executing, ms (0 = none), e.g.
	 * drc_oldest_executing_ms; NULL = no stuck check */
	uint64_t (*oldest_executing_ms)(void *arg);
	void *arg;
	/* from the probe thread, for each failing detector of each failing round (the
	 * caller de-duplicates); `why` is a sentence */
	void (*on_fault)(void *arg, enum role_fault f, const char *why);
	void *fault_arg;
	const struct probe_io *io; /* NULL = the real calls (copied) */
};

struct probe_stats {
	uint64_t rounds;    /* rounds completed */
	uint64_t failures;  /* of which failed */
	uint64_t abandoned; /* workers given up on at a deadline */
	unsigned hung;	    /* of which still have not returned */
};

/* 0, -EINVAL (no params, a root or the probe file path too long) or -ENOMEM. */
int probe_create(const struct probe_params *p, struct probe **out);

/*
 * One round, synchronously, bounded by timeout_ms: storage and stuck check. 0, or
 * -errno with a sentence in why: "stat of /srv/x timed out after 2000 ms", "open of
 * /srv/p/probe-node2: Not a directory", "a request has been executing for 31000 ms
 * (limit 30000 ms)" (-EBUSY). -ECANCELED after probe_stop.
 */
int probe_run_once(struct probe *p, char *why, size_t len);

/* Starts the periodic thread: a round every interval_ms. 0 or -errno. */
int probe_start(struct probe *p);
/* Stops it; returns promptly even while a storage call hangs (the round waiting
 * for it gives up). Rounds in other threads end with -ECANCELED until the next
 * probe_start. */
void probe_stop(struct probe *p);
/* After probe_stop (or without probe_start). Does not wait for hung workers. */
void probe_destroy(struct probe *p);

/* The last round's result, for status output: true when it passed (or none ran
 * yet); otherwise its sentence in why. */
bool probe_last_ok(struct probe *p, char *why, size_t len);
void probe_get_stats(struct probe *p, struct probe_stats *s);

#endif
