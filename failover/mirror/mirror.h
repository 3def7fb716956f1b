/*
 * mirror.h — the serving node's stream of request-table records to its standby
 * (claim 16, DESIGN.md "The pair": MIRROR).
 *
 * What goes in: the saved reply of every non-idempotent call (CREATE, REMOVE,
 * RENAME...), as a request-table record (drc_record_encode). After a takeover the
 * partner answers a client's retransmission of such a call from its copy, so a
 * retransmitted REMOVE that the old node had executed gets NFS3_OK, not NOENT.
 * Idempotent calls are not mirrored: they are simply run again.
 *
 * Positions: every record pushed gets the next position (1, 2, ...). The sender
 * thread takes queued records in batches (one MIRROR frame each, carrying the
 * last position in it); the standby stores them and acknowledges the position.
 *
 * Sync mode: the request thread sends its record itself (no hand-off to the
 * sender thread) and waits for the acknowledgement before its reply goes out,
 * so a client never holds a reply the standby lacks. Batching keeps throughput:
 * while one thread sends, records pushed meanwhile queue up and it sends them
 * too, together (group commit).
 *
 * Attached or not: records are queued only while a standby is attached. The pair
 * attaches the stream when the peer link is up and the partner stands by, then
 * re-sends everything the request table holds (a catch-up; the standby ignores
 * records it has). The standby is caught up once that catch-up is acknowledged.
 * A wait that times out, a full queue or a lost link detach the stream: replies
 * then go unmirrored (the mirror is "behind", twinctl status says so and the
 * standby refuses a planned takeover) until the pair attaches it again.
 *
 * Locking: one mutex and two condition variables; pushes are short copies.
 */
#ifndef TWINFS_FAILOVER_MIRROR_MIRROR_H
#define TWINFS_FAILOVER_MIRROR_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mirror;

#define MIRROR_QUEUE_BYTES (8u << 20) /* records waiting to be sent, at most */

/* 0 or -ENOMEM. */
int mirror_create(struct mirror **out);
void mirror_destroy(struct mirror *m);

/* Attaches the stream (a standby listens): later pushes are queued. Returns the
 * position the catch-up must reach: the caller pushes its snapshot, then calls
 * mirror_mark_catchup(). Detaching drops what is queued and wakes every waiter. */
void mirror_attach(struct mirror *m);
void mirror_detach(struct mirror *m, const char *why);
bool mirror_attached(struct mirror *m);
/* Everything pushed so far is the catch-up: caught up once it is acknowledged. */
void mirror_mark_catchup(struct mirror *m);
bool mirror_caught_up(struct mirror *m);

/* Queues one record; its position, or 0 when detached or the queue is full (the
 * stream then detaches). */
uint64_t mirror_push(struct mirror *m, const uint8_t *rec, uint32_t len);
/*
 * The transport: sends one batch (peer_mirror_add's format: count records, used
 * bytes, the last one at position last); false when it cannot (the stream then
 * detaches). Called outside the lock, by one thread at a time, in position
 * order. Set once before the stream is used; cap is the largest batch.
 */
typedef bool (*mirror_send_fn)(void *arg, const uint8_t *buf, uint32_t used, uint32_t count,
			       uint64_t last);
void mirror_set_transport(struct mirror *m, mirror_send_fn send, void *arg, size_t cap);
/* As mirror_push, and the pushing thread sends the queue itself at once, unless
 * another thread is sending (which then sends this record too): a sync call's
 * record leaves without waking the sender thread. */
uint64_t mirror_push_send(struct mirror *m, const uint8_t *rec, uint32_t len);
/* The sender thread's round: waits up to wait_ms for queued records (or
 * mirror_wake), then sends them through the transport. */
void mirror_send_queued(struct mirror *m, uint32_t wait_ms);
/* Waits until pos is acknowledged: 0; -ENOTCONN when detached meanwhile;
 * -ETIMEDOUT after timeout_ms (the stream detaches: the standby is behind). */
int mirror_wait(struct mirror *m, uint64_t pos, uint32_t timeout_ms);
/* Waits until everything pushed is acknowledged (a release's last records). */
int mirror_flush(struct mirror *m, uint32_t timeout_ms);

/*
 * Without a transport (tests): takes queued records, at most cap bytes, in the length-prefixed
 * format of peer_mirror_add; waits up to wait_ms for the first. Returns the
 * number of records (0: none), with *used bytes and *last the position of the
 * last one.
 */
uint32_t mirror_take(struct mirror *m, uint8_t *buf, size_t cap, uint32_t *used, uint64_t *last,
		     uint32_t wait_ms);
/* The standby stored every record up to pos. */
void mirror_acked(struct mirror *m, uint64_t pos);
/* Ends waits in mirror_take (shutting down). */
void mirror_wake(struct mirror *m);

struct mirror_stats {
	uint64_t pushed; /* position of the last record pushed */
	uint64_t sent;	 /* ... taken by the sender */
	uint64_t acked;	 /* ... acknowledged by the standby */
	uint64_t queued_bytes;
	uint64_t detaches; /* times the stream fell behind or lost its standby */
	bool attached, caught_up;
};
void mirror_get_stats(struct mirror *m, struct mirror_stats *s);

#endif
