/*
 * server.h — the one context that owns a running node: its configuration, export
 * table, transport and protocol state. Passed explicitly to everything (no
 * globals); protocol modules under server/ read it, only main.c builds it.
 */
#ifndef TWINFS_SERVER_SERVER_H
#define TWINFS_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "server/export/export.h"
#include "server/nfs/dispatch.h"
#include "server/rpc/rpc.h"

struct mount_table;
struct drc;
struct admin;
struct pair;
struct mirror;
struct probe;
struct drc_record;
struct nfs4_server;

struct server {
	struct twinfs_config cfg;
	struct export_table *exports;
	struct rpc_server *rpc;
	struct mount_table *mounts;
	struct drc *drc; /* the request table; NULL when `drc = false` */
	struct admin *admin;
	struct pair *pair; /* NULL for a single node */
	/* NFSv3 write verifier (RFC 1813 §3.3.7): changes when unstable data may have
	 * been lost, i.e. at every start of this node. */
	uint8_t write_verf[8];
	/* false while a pair node stands by or after it released the service */
	_Atomic bool serving;
	/* With a storage lease: the lease's end (CLOCK_BOOTTIME ms, 0: no limit).
	 * Past it this node answers nothing, not even a reply already computed: a
	 * node that was frozen may find its partner serving (failover/fence). */
	_Atomic uint64_t answer_until;
	/* twinctl inject drop-replies N: saved replies still to lose (tests) */
	atomic_int drop_replies;
	/* twinctl inject crash-after-execute: SIGKILL after the next non-idempotent
	 * call ran, before its reply is mirrored (tests) */
	atomic_bool crash_after_execute;
	/* A pair node's stream of saved replies to its standby (NULL alone), and
	 * what the request path calls with each non-idempotent call before it runs
	 * (EXECUTING) and with its saved reply before that goes out (REPLIED): it
	 * mirrors them, and in sync mode waits until the standby holds them. */
	struct mirror *mirror;
	struct probe *probe; /* a pair node's health probe (failover/probe) */
	void (*mirror_record)(struct server *srv, const struct drc_record *r);
	struct nfs4_server *nfs4; /* NFSv4 state and pseudo filesystem (server/nfs4) */
	/* The exports' caches, dropped beside a release (main.c, ops_set_serving) */
	pthread_mutex_t drop_lock;
	pthread_t drop_thread;
	bool dropping;
	const struct prog_desc *const *progs;
	unsigned nprogs;
};

#endif
