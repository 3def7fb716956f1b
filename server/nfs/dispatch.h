/*
 * dispatch.h — one generic request loop for every program (knfsd's svc_process →
 * pc_decode → pc_func → pc_encode): find the program, version and procedure in
 * the tables, authenticate, decode, run the handler, encode, free.
 *
 * Every policy that depends on the procedure is a flag in its table entry, never an
 * `if (proc == X)` elsewhere (STYLE.md).
 */
#ifndef TWINFS_SERVER_NFS_DISPATCH_H
#define TWINFS_SERVER_NFS_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsal/fsal.h"
#include "server/rpc/rpc.h"

struct server;
struct drc;
struct drc_entry;
struct drc_key;

/* Per-procedure policy flags. */
enum {
	PROC_NONIDEMPOTENT = 1u << 0, /* a replay must get the saved reply (DRC) */
	PROC_MODIFIES = 1u << 1,      /* refused with ROFS on a read-only export */
	PROC_STANDBY_OK = 1u << 2,    /* answered even while this node does not serve (NULL) */
};

/* Result memory: a handler's replies point into this, and all of it is released
 * after the reply is encoded, so results are never freed piecemeal. Small requests
 * never touch malloc (the inline part lives on the worker's stack). */
#define ARENA_INLINE 8192

struct arena_chunk {
	struct arena_chunk *next;
	_Alignas(16) unsigned char data[];
};

struct arena {
	size_t used;
	struct arena_chunk *chunks;
	_Alignas(16) unsigned char inline_buf[ARENA_INLINE];
};

/* Zeroed memory that lives until the reply is sent; NULL only when out of memory. */
void *arena_alloc(struct arena *a, size_t n);
/* The same, not zeroed: for buffers the caller fills (READ data). */
void *arena_alloc_raw(struct arena *a, size_t n);
void arena_release(struct arena *a);

/* What a handler knows about the call it serves. */
struct req_ctx {
	struct server *srv;
	struct rpc_req *rpc;
	const struct sockaddr *remote;
	enum rpc_flavor flavor;
	struct fsal_cred cred; /* as sent (AUTH_SYS); squashed per export by the handler */
	unsigned flags;	       /* the procedure's PROC_* flags */
	struct arena *arena;   /* where results live */
	/* a retransmission of a call the failed partner had in flight: it may have
	 * executed it (drc.h, intents), so "already done" errors mean success */
	bool maybe_done;
	/* bytes that follow the encoded result, whose last field the handler left an
	 * empty opaque (READ data: sent from where they are, rpc_req_reply_tail);
	 * idempotent procedures only, as a saved reply must be one piece */
	const void *tail;
	bool tail_piped; /* instead, in the call's pipe (rpc_req_pipe, _reply_piped) */
	size_t tail_len;
	/* the call's entry in the request table (NULL: not tracked) */
	struct drc *drc;
	struct drc_entry *ent;
	const struct drc_key *key;
};

/* The call turns out to be non-idempotent once decoded (a 4.0 COMPOUND with a
 * CREATE): from here on it is treated as if its table entry said so, before it
 * changes anything. Its intent goes to the partner now, and its reply is saved
 * and mirrored, so a retransmission gets that reply rather than running it again. */
void dispatch_nonidempotent(struct req_ctx *ctx);

/* A reply a protocol keeps under a key of its own (a 4.1 session slot, RFC 8881
 * §2.10.6): saved in the request table and mirrored to the partner like every
 * saved reply. False when it is not kept (no table, too large). */
bool dispatch_keep_reply(struct req_ctx *ctx, const struct drc_key *key, const uint8_t *reply,
			 size_t len);
/* Such a kept reply, copied into buf; false when there is none. */
bool dispatch_kept_reply(struct req_ctx *ctx, const struct drc_key *key, void *buf, size_t buflen,
			 size_t *len);

typedef void (*proc_handler_fn)(struct req_ctx *ctx, void *args, void *res);

struct proc_desc {
	const char *name;
	xdrproc_t decode;
	xdrproc_t encode;
	size_t argsize;
	size_t ressize;
	proc_handler_fn handler;
	unsigned flags;
};

struct prog_desc {
	uint32_t prog;
	uint32_t vers;
	const struct proc_desc *procs;
	unsigned nprocs;
};

/* The largest argument or result structure any table may declare. */
#define DISPATCH_MAX_STRUCT 512

/* Checks the tables (sizes within DISPATCH_MAX_STRUCT, handlers present). */
bool dispatch_tables_ok(const struct prog_desc *const *progs, unsigned n);

/* The generic loop; progs/n come from the server, drc may be NULL (cache off).
 * serving: false on a standby or a node that released the service; then only
 * PROC_STANDBY_OK procedures are answered, and any other call resets its
 * connection unanswered, so that the client reconnects and resends it until it
 * reaches the node that serves. */
/* False once a pair node's storage lease has run out (server.h, answer_until). */
bool dispatch_may_answer(struct server *srv);

void dispatch_request(struct server *srv, struct drc *drc, const struct prog_desc *const *progs,
		      unsigned n, bool serving, struct rpc_req *req);

#endif
