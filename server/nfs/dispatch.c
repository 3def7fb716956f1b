#include "server/nfs/dispatch.h"

#include <stdlib.h>
#include <string.h>

#include "server/log/log.h"

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

void dispatch_request(struct server *srv, const struct prog_desc *const *progs, unsigned n,
		      struct rpc_req *req)
{
	_Alignas(16) unsigned char args[DISPATCH_MAX_STRUCT];
	_Alignas(16) unsigned char res[DISPATCH_MAX_STRUCT];
	struct arena arena;
	struct req_ctx ctx = {
	    .srv = srv, .rpc = req, .remote = rpc_req_remote(req), .arena = &arena};

	/* Authentication first: ntirpc needs the auth handle to send any reply. */
	if (!rpc_req_auth(req, &ctx.flavor, &ctx.cred))
		return;
	const struct proc_desc *d = dispatch_find(progs, n, req);
	if (!d)
		return;
	ctx.flags = d->flags;
	arena.used = 0;
	arena.chunks = NULL;
	memset(args, 0, d->argsize);
	memset(res, 0, d->ressize);
	if (!rpc_req_decode(req, d->decode, args)) {
		xdr_free(d->decode, args);
		rpc_req_err_garbage(req);
		return;
	}
	d->handler(&ctx, args, res);
	rpc_req_reply(req, d->encode, res);
	xdr_free(d->decode, args);
	arena_release(&arena);
}
