/*
 * pair.h — the failover loop of one node: the peer link, heartbeats, the role
 * table (failover/role) and the actions it asks for (DESIGN.md "The pair").
 *
 * Four threads, all owned here:
 *   - the loop: peer link (listen, connect with back-off, receive; a second
 *     heartbeat link), heartbeats, the dead-time watch, periodic STAY_DOWN,
 *     role timeouts and operator commands; it turns all of them into role
 *     events and applies role_next();
 *   - the executor: performs a transition's actions in order (drain, flush, close
 *     connections, move the address, hooks, lease, mirror, tickle, messages) and
 *     reports the slow ones' results back as events, tagged with the state
 *     episode they belong to so a late result cannot act on a later state;
 *   - the mirror sender: batches of the request table's records to the standby
 *     (pair_mirror.c);
 *   - the lease thread: renews the storage lease or watches it (pair_lease.c);
 *     storage I/O may hang, so nothing else waits for it.
 *
 * The server is reached only through struct pair_ops, so this module knows
 * nothing of RPC or NFS. Without lease_path an unplanned takeover happens once
 * the partner has been silent for the dead time and the fence command (if any)
 * succeeded: a cut peer link with both nodes alive can then give two servers.
 */
#ifndef TWINFS_FAILOVER_PAIR_PAIR_H
#define TWINFS_FAILOVER_PAIR_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "failover/role/role.h"

struct pair;
struct admin;
struct mirror;
struct tickle_conn;

struct pair_ops {
	void *arg;
	/* serve requests or drop them (a standby drops all but NULL) */
	void (*set_serving)(void *arg, bool on);
	/* the storage lease's end (CLOCK_BOOTTIME ms; 0: no lease): past it the
	 * server answers nothing */
	void (*set_answer_until)(void *arg, uint64_t until_ms);
	/* stop admitting new requests and wait for those executing; 0 or -ETIMEDOUT */
	int (*drain)(void *arg, uint32_t timeout_ms);
	/* commit every unstable write of every export to stable storage */
	int (*flush)(void *arg);
	void (*close_clients)(void *arg);
	/* a new NFSv3 write verifier: unflushed writes may be lost (unplanned) */
	void (*bump_verifier)(void *arg);
	/* the write verifier to hand over (planned) and to adopt */
	void (*get_verifier)(void *arg, uint8_t verf[8]);
	void (*set_verifier)(void *arg, const uint8_t verf[8]);
	/* can this node serve the exports? 0, or -errno with a reason */
	int (*storage_check)(void *arg, char *why, size_t len);
	/* the request table's saved replies, all pushed to the mirror stream (a
	 * catch-up after the stream attached); the count */
	uint32_t (*mirror_catch_up)(void *arg);
	/* one record received from the partner, into the request table */
	int (*mirror_load)(void *arg, const uint8_t *rec, size_t len);
	/* this node's client connections (server side, client side), at most max */
	size_t (*client_conns)(void *arg, struct tickle_conn *out, size_t max);
	/* the stream the request path pushes saved replies to (failover/mirror) */
	struct mirror *mirror;
};

/* 0, or -errno after logging why (key file, addresses). */
int pair_create(const struct config_pair *cfg, uint64_t config_fp, const struct pair_ops *ops,
		struct pair **out);
/* Adds handover, takeover, giveback, fault and pair commands to admin (before
 * admin_start) and starts the threads. */
int pair_start(struct pair *p, struct admin *admin);
void pair_stop(struct pair *p);
/* A fault this node found itself (a failed storage probe, a stuck request):
 * while serving, it says FAULT(f) to the partner and asks it to take over. Safe
 * from any thread; repeated reports of one fault are logged once. */
void pair_report_fault(struct pair *p, enum role_fault f, const char *why);
/* For status output: the role's name, and the pair's fields. */
const char *pair_role_name(struct pair *p);
struct admin_kv;
void pair_status_kv(struct pair *p, struct admin_kv *kv);

#endif
