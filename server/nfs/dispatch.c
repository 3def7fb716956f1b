#include "server/nfs/dispatch.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "server/drc/drc.h"
#include "server/log/log.h"
#include "server/server.h"

void *arena_alloc_raw(struct arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (n <= ARENA_INLINE - a->used) {
		void *p = a->inline_buf + a->used;
		a->used += n;
		return p;
	}
	struct arena_chunk *c = malloc(sizeof(*c) + n);
	if (!c)
		return NULL;
	c->next = a->chunks;
	a->chunks = c;
	return c->data;
}

void *arena_alloc(struct arena *a, size_t n)
{
	void *p = arena_alloc_raw(a, n);
	if (p)
		memset(p, 0, n);
	return p;
}

void arena_release(struct arena *a)
{
	while (a->chunks) {
		struct arena_chunk *c = a->chunks;
		a->chunks = c->next;
		free(c);
	}
	a->used = 0;
}

bool dispatch_tables_ok(const struct prog_desc *const *progs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		for (unsigned p = 0; p < progs[i]->nprocs; p++) {
			const struct proc_desc *d = &progs[i]->procs[p];
			if (!d->handler)
				continue;
			if (d->argsize > DISPATCH_MAX_STRUCT || d->ressize > DISPATCH_MAX_STRUCT ||
			    !d->decode || !d->encode) {
				log_error("dispatch table %u/%u: %s is malformed", progs[i]->prog,
					  progs[i]->vers, d->name);
				return false;
			}
		}
	}
	return true;
}

/* Finds the procedure, or answers PROG_UNAVAIL / PROG_MISMATCH / PROC_UNAVAIL. */
static const struct proc_desc *dispatch_find(const struct prog_desc *const *progs, unsigned n,
					     struct rpc_req *req)
{
	uint32_t prog = rpc_req_prog(req), vers = rpc_req_vers(req), low = UINT32_MAX, high = 0;

	for (unsigned i = 0; i < n; i++) {
		if (progs[i]->prog != prog)
			continue;
		if (progs[i]->vers == vers) {
			uint32_t proc = rpc_req_proc(req);
			if (proc < progs[i]->nprocs && progs[i]->procs[proc].handler)
				return &progs[i]->procs[proc];
			rpc_req_err_noproc(req);
			return NULL;
		}
		low = progs[i]->vers < low ? progs[i]->vers : low;
		high = progs[i]->vers > high ? progs[i]->vers : high;
	}
	if (high == 0)
		rpc_req_err_noprog(req);
	else
		rpc_req_err_progvers(req, low, high);
	return NULL;
}

/* Encodes res into buf; 0 if it does not fit (then it is sent, but not saved). */
static size_t dispatch_encode(xdrproc_t encode, void *res, uint8_t *buf, size_t len)
{
	XDR xdrs;
	xdrmem_ncreate(&xdrs, (char *)buf, (u_int)len, XDR_ENCODE);
	bool ok = encode(&xdrs, res);
	size_t n = ok ? XDR_GETPOS(&xdrs) : 0;
	XDR_DESTROY(&xdrs);
	return n;
}

/* A pair node mirrors a non-idempotent call to its standby (server.h,
 * mirror_record): before it runs (EXECUTING, no reply), so that after a crash
 * the partner knows it may have been executed, and its saved reply before that
 * goes out (REPLIED), so that the partner can answer its retransmission. */
static void dispatch_mirror(struct server *srv, const struct drc_key *key, enum drc_state state,
			    const uint8_t *reply, size_t len)
{
	if (!srv->mirror_record)
		return;
	struct drc_record r = {
	    .key = *key, .state = state, .reply_len = (uint32_t)len, .reply = reply};
	srv->mirror_record(srv, &r);
}

void dispatch_nonidempotent(struct req_ctx *ctx)
{
	if (ctx->flags & PROC_NONIDEMPOTENT)
		return;
	ctx->flags |= PROC_NONIDEMPOTENT;
	if (!ctx->ent)
		return;
	ctx->maybe_done = drc_intent_take(ctx->drc, ctx->key);
	dispatch_mirror(ctx->srv, ctx->key, DRC_EXECUTING, NULL, 0);
}

bool dispatch_keep_reply(struct req_ctx *ctx, const struct drc_key *key, const uint8_t *reply,
			 size_t len)
{
	struct drc_record r = {
	    .key = *key, .state = DRC_REPLIED, .reply_len = (uint32_t)len, .reply = reply};
	if (!ctx->drc || drc_load(ctx->drc, &r) < 0)
		return false;
	dispatch_mirror(ctx->srv, key, DRC_REPLIED, reply, len);
	return true;
}

bool dispatch_kept_reply(struct req_ctx *ctx, const struct drc_key *key, void *buf, size_t buflen,
			 size_t *len)
{
	return ctx->drc && drc_lookup(ctx->drc, key, buf, buflen, len);
}

bool dispatch_may_answer(struct server *srv)
{
	uint64_t until = atomic_load_explicit(&srv->answer_until, memory_order_relaxed);
	if (!until)
		return true;
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 < until;
}

/* The fault point of `twinctl inject drop-replies N`. */
static bool dispatch_lose_reply(struct server *srv)
{
	int left = atomic_load_explicit(&srv->drop_replies, memory_order_relaxed);
	while (left > 0 && !atomic_compare_exchange_weak(&srv->drop_replies, &left, left - 1))
		;
	if (left > 0)
		log_warn("dropped a reply after executing it (twinctl inject drop-replies)");
	return left > 0;
}

/* Runs the handler and replies; a non-idempotent reply is saved in the table first,
 * so a retransmission that arrives once the client has it finds it there. */
static void dispatch_run(struct req_ctx *ctx, const struct proc_desc *d, void *args, void *res,
			 uint8_t *buf, size_t buflen)
{
	struct drc *drc = ctx->drc;
	struct drc_entry *ent = ctx->ent;

	d->handler(ctx, args, res);
	bool nonidem = ctx->flags & PROC_NONIDEMPOTENT;
	if (nonidem && atomic_load(&ctx->srv->crash_after_execute)) {
		/* twinctl inject crash-after-execute: die between the execution and the
		 * mirroring of its reply, the window the intents cover (tests). */
		log_warn("crashing after executing %s (twinctl inject crash-after-execute)",
			 d->name);
		raise(SIGKILL);
	}
	if (!nonidem || !ent) {
		/* Forget an idempotent call before its reply goes out: a retransmission
		 * that arrives once the reply is on its way must run again, not be
		 * dropped as "in progress" with no reply left to answer it. */
		drc_finish(drc, ent, NULL, 0);
		if (!dispatch_may_answer(ctx->srv))
			rpc_req_drop(ctx->rpc);
		else if (ctx->tail_piped)
			rpc_req_reply_piped(ctx->rpc, d->encode, res, ctx->tail_len);
		else if (ctx->tail)
			rpc_req_reply_tail(ctx->rpc, d->encode, res, ctx->tail, ctx->tail_len);
		else
			rpc_req_reply(ctx->rpc, d->encode, res);
		return;
	}
	size_t n = dispatch_encode(d->encode, res, buf, buflen);
	drc_finish(drc, ent, n ? buf : NULL, n);
	if (n) {
		dispatch_mirror(ctx->srv, ctx->key, DRC_REPLIED, buf, n);
		/* The lease may have run out while this call executed (a frozen node):
		 * the partner serves now, and its mirror answers the retransmission. */
		if (dispatch_lose_reply(ctx->srv) || !dispatch_may_answer(ctx->srv)) {
			rpc_req_drop(ctx->rpc);
			return;
		}
		rpc_req_reply_raw(ctx->rpc, buf, n);
	} else
		rpc_req_reply(ctx->rpc, d->encode, res);
}

/* Asks the request table what to do with a decoded call; true = run it. */
static bool dispatch_admit(struct drc *drc, const struct proc_desc *d, struct rpc_req *req,
			   struct drc_entry **ent, struct drc_key *key, uint8_t *buf, size_t buflen)
{
	size_t len = 0;

	*ent = NULL;
	if (!drc)
		return true;
	*key = (struct drc_key){.xid = rpc_req_xid(req),
				.prog = rpc_req_prog(req),
				.vers = rpc_req_vers(req),
				.proc = rpc_req_proc(req),
				.cksum = rpc_req_cksum(req)};
	drc_key_set_addr(key, rpc_req_remote(req));
	switch (drc_begin(drc, key, ent, buf, buflen, &len)) {
	case DRC_NEW:
		return true;
	case DRC_REPLAY:
		log_debug("xid %08x %s: replayed from the request table", key->xid, d->name);
		rpc_req_reply_raw(req, buf, len);
		return false;
	case DRC_IN_PROGRESS:
		/* An idempotent call runs again: the copy may come on a new connection
		 * (the original's reply then goes to a dead one), or from another
		 * client behind the same address whose XIDs happen to match (libnfs
		 * seeds its XIDs per process). Only a non-idempotent one waits for
		 * the original's reply (RFC 1813 §4.1) and is dropped. */
		if (!(d->flags & PROC_NONIDEMPOTENT))
			return true;
		rpc_req_drop(req);
		return false;
	case DRC_NOT_ADMITTED:
	default:
		/* Draining for a takeover: no new work starts here. The client times out
		 * and retransmits to the partner, which then holds the service. */
		rpc_req_drop(req);
		return false;
	}
}

void dispatch_request(struct server *srv, struct drc *drc, const struct prog_desc *const *progs,
		      unsigned n, bool serving, struct rpc_req *req)
{
	_Alignas(16) unsigned char args[DISPATCH_MAX_STRUCT];
	_Alignas(16) unsigned char res[DISPATCH_MAX_STRUCT];
	uint8_t saved[DRC_DEFAULT_MAX_REPLY_SIZE];
	struct arena arena;
	struct req_ctx ctx = {
	    .srv = srv, .rpc = req, .remote = rpc_req_remote(req), .arena = &arena};
	struct drc_entry *ent;
	struct drc_key key;

	if (!rpc_req_auth(req, &ctx.flavor, &ctx.cred))
		return;
	const struct proc_desc *d = dispatch_find(progs, n, req);
	if (!d)
		return;
	if (!serving && !(d->flags & PROC_STANDBY_OK)) {
		/* Not dropped on a connection that stays: one accepted just after a
		 * release closed the others would hold its call until the client's
		 * timeout, even once this node serves again. */
		rpc_req_drop_reset(req);
		return;
	}
	ctx.flags = d->flags & ~PROC_NONIDEMPOTENT; /* dispatch_nonidempotent sets it */
	arena.used = 0;
	arena.chunks = NULL;
	memset(args, 0, d->argsize);
	memset(res, 0, d->ressize);
	if (!rpc_req_decode(req, d->decode, args))
		rpc_req_err_garbage(req);
	else if (dispatch_admit(drc, d, req, &ent, &key, saved, sizeof(saved))) {
		ctx.drc = drc;
		ctx.ent = ent;
		ctx.key = &key;
		if (d->flags & PROC_NONIDEMPOTENT)
			dispatch_nonidempotent(&ctx);
		dispatch_run(&ctx, d, args, res, saved, sizeof(saved));
	}
	xdr_free(d->decode, args);
	arena_release(&arena);
}
