/*
 * rpc.c — rpc.h on libntirpc 4.3.
 *
 * Model (ntirpc-guide §2): svc_init() starts a worker pool and epoll event
 * channels; each listener is a rendezvous transport on a channel; every complete
 * record is decoded and handed to process_cb on a pool thread, with the channel
 * re-armed first, so pipelined calls on one connection run concurrently. The
 * struct svc_req is ours (alloc_cb/free_cb) and wraps struct rpc_req.
 *
 * Traps handled here (guide §6): alloc/free callbacks and max_events are
 * mandatory; svc_auth_authenticate must run before any reply or the reply has no
 * body; a transport reference is taken per request and dropped in free_cb; errors
 * are silent unless debug flags are set, so ntirpc's warnings go to our log.
 */
#include "server/rpc/rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <rpc/rpc.h>
#include <rpc/svc.h>
#include <rpc/svc_auth.h>
#include <rpc/svc_rqst.h>
#include <rpc/auth_unix.h>
#include <rpc/rpcb_clnt.h>
#include <netconfig.h>

#include "server/log/log.h"
#include "server/rpc/recguard.h"

#define RPC_MAX_LISTEN 2

struct rpc_server {
	struct rpc_params params;
	/* Client connections, for closing them all when the service moves. Touched
	 * at connect and disconnect only, never per request. */
	pthread_mutex_t conn_lock;
	SVCXPRT **conns;
	size_t nconns;
	SVCXPRT *listeners[RPC_MAX_LISTEN];
	uint16_t ports[RPC_MAX_LISTEN];
	unsigned nlisten;
	struct rpc_registration regs[8];
	unsigned nregs;
};

struct rpc_req {
	struct svc_req svc;
	struct rpc_server *srv;
	enum xprt_stat stat;
};

static inline struct rpc_req *req_of(struct svc_req *svc)
{
	return (struct rpc_req *)((char *)svc - offsetof(struct rpc_req, svc));
}

static struct svc_req *rpc_alloc_cb(SVCXPRT *xprt, XDR *xdrs)
{
	struct rpc_req *r = calloc(1, sizeof(*r));
	if (!r)
		abort(); /* ntirpc calls this without a NULL check */
	SVC_REF(xprt, SVC_REF_FLAG_NONE);
	r->svc.rq_xprt = xprt;
	r->svc.rq_xdrs = xdrs;
	r->svc.rq_refcnt = 1;
	r->srv = xprt->xp_u2;
	return &r->svc;
}

static void rpc_free_cb(struct svc_req *svc, enum xprt_stat stat)
{
	(void)stat;
	SVC_RELEASE(svc->rq_xprt, SVC_RELEASE_FLAG_NONE);
	free(req_of(svc));
}

static enum xprt_stat rpc_process_cb(struct svc_req *svc)
{
	struct rpc_req *r = req_of(svc);

	if (!r->srv) {
		r->srv = svc->rq_xprt->xp_u2;
		if (!r->srv)
			return svcerr_systemerr(svc);
	}
	r->stat = XPRT_IDLE;
	r->srv->params.dispatch(r->srv->params.dispatch_arg, r);
	return r->stat;
}

static enum xprt_stat rpc_rendezvous_cb(SVCXPRT *xprt)
{
	struct rpc_server *s = xprt->xp_parent->xp_u2;
	xprt->xp_dispatch.process_cb = rpc_process_cb;
	xprt->xp_u2 = s;
	recguard_reset(xprt->xp_fd);
	pthread_mutex_lock(&s->conn_lock);
	if (s->nconns < s->params.max_connections) {
		s->conns[s->nconns++] = xprt;
		xprt->xp_u1 = s; /* marks it as listed, for rpc_conn_gone */
	}
	pthread_mutex_unlock(&s->conn_lock);
	return SVC_STAT(xprt->xp_parent);
}

/* libntirpc's only disconnect notification for TCP (ntirpc-guide §4.2). */
static enum xprt_stat rpc_conn_gone(SVCXPRT *xprt)
{
	struct rpc_server *s = xprt->xp_u1;
	if (!s)
		return XPRT_DESTROYED;
	pthread_mutex_lock(&s->conn_lock);
	for (size_t i = 0; i < s->nconns; i++)
		if (s->conns[i] == xprt) {
			s->conns[i] = s->conns[--s->nconns];
			break;
		}
	pthread_mutex_unlock(&s->conn_lock);
	xprt->xp_u1 = NULL;
	return XPRT_DESTROYED;
}

static void rpc_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void rpc_warnx(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_warn("ntirpc: %s", line);
}

static void rpc_pkg_init(void)
{
	tirpc_pkg_params pp;
	tirpc_control(TIRPC_GET_PARAMETERS, &pp);
	pp.debug_flags = TIRPC_DEBUG_FLAG_ERROR;
	pp.warnx_ = rpc_warnx;
	tirpc_control(TIRPC_PUT_PARAMETERS, &pp);
}

static bool rpc_svc_init(const struct rpc_params *p)
{
	svc_init_params sp;
	memset(&sp, 0, sizeof(sp));
	sp.alloc_cb = rpc_alloc_cb;
	sp.free_cb = rpc_free_cb;
	sp.flags = SVC_INIT_EPOLL | SVC_INIT_NOREG_XPRTS;
	sp.max_events = 512;
	sp.channels = 2;
	sp.ioq_thrd_min = 2;
	/* Operations block their worker (synchronous FSAL), so the pool is the
	 * concurrency limit; the channels' epoll loops need a thread each on top. */
	sp.ioq_thrd_max = p->threads + sp.channels + 2;
	sp.max_connections = p->max_connections;
	sp.idle_timeout = 0;
	return svc_init(&sp);
}

static int rpc_socket(const char *bind_addr, uint16_t port, uint16_t *bound)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai;
	char service[8];
	snprintf(service, sizeof(service), "%u", port);
	int rc = getaddrinfo(bind_addr, service, &hints, &ai);
	if (rc != 0) {
		log_error("bad bind address '%s': %s", bind_addr, gai_strerror(rc));
		return -EINVAL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* Binding the service address before it is configured on this node is
		 * what lets a standby listen ahead of a takeover (DESIGN.md). */
		setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		rc = -errno;
		log_error("cannot listen on %s port %u: %s", bind_addr, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return rc;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						: ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static int rpc_listen_one(struct rpc_server *s, unsigned i, uint32_t chan)
{
	const struct rpc_listen *l = &s->params.listen[i];
	int fd = rpc_socket(l->bind, l->port, &s->ports[i]);
	if (fd < 0)
		return fd;
	SVCXPRT *x = svc_vc_ncreatef(fd, 0, 0, SVC_CREATE_FLAG_CLOSE | SVC_CREATE_FLAG_LISTEN);
	if (!x) {
		close(fd);
		return -ENOMEM;
	}
	x->xp_dispatch.rendezvous_cb = rpc_rendezvous_cb;
	x->xp_u2 = s;
	/* Global for all TCP transports; set before the first accept. */
	SVC_CONTROL(x, SVCSET_XP_FREE_USER_DATA, rpc_conn_gone);
	if (svc_rqst_evchan_reg(chan, x, SVC_RQST_FLAG_XPRT_UREG) != 0) {
		SVC_DESTROY(x);
		return -EIO;
	}
	s->listeners[i] = x;
	return 0;
}

int rpc_server_start(const struct rpc_params *p, struct rpc_server **out)
{
	if (p->nlisten == 0 || p->nlisten > RPC_MAX_LISTEN)
		return -EINVAL;
	struct rpc_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->params = *p;
	pthread_mutex_init(&s->conn_lock, NULL);
	s->conns = calloc(p->max_connections, sizeof(*s->conns));
	if (!s->conns) {
		free(s);
		return -ENOMEM;
	}
	recguard_set_limit(p->max_record);
	rpc_pkg_init();
	if (!rpc_svc_init(p)) {
		free(s->conns);
		free(s);
		return -EIO;
	}
	uint32_t chan;
	if (svc_rqst_new_evchan(&chan, NULL, SVC_RQST_FLAG_NONE) != 0) {
		free(s->conns);
		free(s);
		return -EIO;
	}
	for (unsigned i = 0; i < p->nlisten; i++) {
		int rc = rpc_listen_one(s, i, chan);
		if (rc < 0) {
			rpc_server_stop(s);
			return rc;
		}
		s->nlisten++;
	}
	*out = s;
	return 0;
}

void rpc_server_close_clients(struct rpc_server *s)
{
	pthread_mutex_lock(&s->conn_lock);
	/* Abortive, and shutdown() only: libntirpc sees the end of input on its next
	 * event and closes the transport itself (rpc_conn_gone drops it from the
	 * list); with a zero linger that close() discards the socket at once. A
	 * graceful close would leave an orphan in FIN-WAIT-1 (the service address,
	 * removed just before, gives its FIN no route), and a Linux client that
	 * reconnects from the same port after a giveback would meet that orphan's
	 * old sequence numbers and stall for minutes instead of getting a reset. */
	for (size_t i = 0; i < s->nconns; i++) {
		int fd = s->conns[i]->xp_fd;
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		shutdown(fd, SHUT_RD);
	}
	log_info("closed %zu client connection%s", s->nconns, s->nconns == 1 ? "" : "s");
	pthread_mutex_unlock(&s->conn_lock);
}

size_t rpc_server_list_clients(struct rpc_server *s, rpc_conn_fn cb, void *arg)
{
	size_t n = 0;
	pthread_mutex_lock(&s->conn_lock);
	for (size_t i = 0; i < s->nconns; i++) {
		struct sockaddr_storage local, peer;
		socklen_t ll = sizeof(local), pl = sizeof(peer);
		int fd = s->conns[i]->xp_fd;
		if (getsockname(fd, (struct sockaddr *)&local, &ll) < 0 ||
		    getpeername(fd, (struct sockaddr *)&peer, &pl) < 0)
			continue;
		n++;
		if (!cb(arg, &local, &peer))
			break;
	}
	pthread_mutex_unlock(&s->conn_lock);
	return n;
}

uint16_t rpc_server_port(const struct rpc_server *s, unsigned listen_index)
{
	return listen_index < s->nlisten ? s->ports[listen_index] : 0;
}

/* rpcbind is optional: ask it only when something accepts on 127.0.0.1:111, so a
 * host without one does not wait for RPC timeouts at start-up. */
static bool rpcbind_running(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(111)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool up = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return up;
}

static void rpc_unused_dispatch(struct svc_req *req)
{
	(void)req; /* requests reach rpc_process_cb; rpcbind only needs the port */
}

void rpc_server_register(struct rpc_server *s, const struct rpc_registration *regs, unsigned n)
{
	if (!rpcbind_running()) {
		log_info("no rpcbind on 127.0.0.1:111: not registering (clients must name ports)");
		return;
	}
	struct netconfig *nc = getnetconfigent("tcp");
	if (!nc) {
		log_warn("rpcbind: no 'tcp' entry in /etc/netconfig; not registering");
		return;
	}
	for (unsigned i = 0; i < n && s->nregs < 8; i++) {
		if (regs[i].listen_index >= s->nlisten)
			continue;
		svc_unreg(regs[i].prog, regs[i].vers);
		if (!svc_reg(s->listeners[regs[i].listen_index], regs[i].prog, regs[i].vers,
			     rpc_unused_dispatch, nc)) {
			log_warn("rpcbind: cannot register program %u version %u", regs[i].prog,
				 regs[i].vers);
			continue;
		}
		s->regs[s->nregs++] = regs[i];
	}
	freenetconfigent(nc);
	log_info("registered %u programs with rpcbind", s->nregs);
}

void rpc_server_stop(struct rpc_server *s)
{
	for (unsigned i = 0; i < s->nregs; i++)
		svc_unreg(s->regs[i].prog, s->regs[i].vers);
	for (unsigned i = 0; i < RPC_MAX_LISTEN; i++)
		if (s->listeners[i])
			SVC_DESTROY(s->listeners[i]);
	/* Connections destroyed from here on must not touch the list. */
	pthread_mutex_lock(&s->conn_lock);
	for (size_t i = 0; i < s->nconns; i++)
		s->conns[i]->xp_u1 = NULL;
	s->nconns = 0;
	pthread_mutex_unlock(&s->conn_lock);
	svc_shutdown(SVC_SHUTDOWN_FLAG_NONE);
	free(s->conns);
	free(s);
}

uint32_t rpc_req_xid(const struct rpc_req *r)
{
	return r->svc.rq_msg.rm_xid;
}

uint32_t rpc_req_prog(const struct rpc_req *r)
{
	return r->svc.rq_msg.cb_prog;
}

uint32_t rpc_req_vers(const struct rpc_req *r)
{
	return r->svc.rq_msg.cb_vers;
}

uint32_t rpc_req_proc(const struct rpc_req *r)
{
	return r->svc.rq_msg.cb_proc;
}

const struct sockaddr *rpc_req_remote(const struct rpc_req *r)
{
	return (const struct sockaddr *)svc_getrpccaller(r->svc.rq_xprt);
}

static void cred_from_authsys(const struct authunix_parms *aup, struct fsal_cred *cred)
{
	cred->uid = aup->aup_uid;
	cred->gid = aup->aup_gid;
	cred->ngroups = aup->aup_len < FSAL_MAX_GROUPS ? aup->aup_len : FSAL_MAX_GROUPS;
	for (uint32_t i = 0; i < cred->ngroups; i++)
		cred->groups[i] = aup->aup_gids[i];
}

bool rpc_req_auth(struct rpc_req *r, enum rpc_flavor *flavor, struct fsal_cred *cred)
{
	bool no_dispatch = false;
	enum auth_stat as = svc_auth_authenticate(&r->svc, &no_dispatch);

	if (as != AUTH_OK) {
		r->stat = svcerr_auth(&r->svc, as);
		return false;
	}
	if (no_dispatch) /* an RPCSEC_GSS control message, answered by ntirpc */
		return false;
	switch (r->svc.rq_msg.cb_cred.oa_flavor) {
	case AUTH_NONE:
		*flavor = RPC_AUTH_NONE;
		memset(cred, 0, sizeof(*cred));
		return true;
	case AUTH_SYS:
		*flavor = RPC_AUTH_SYS;
		cred_from_authsys((const struct authunix_parms *)r->svc.rq_msg.rq_cred_body, cred);
		return true;
	default:
		r->stat = svcerr_auth(&r->svc, AUTH_TOOWEAK);
		return false;
	}
}

bool rpc_req_decode(struct rpc_req *r, xdrproc_t proc, void *args)
{
	r->svc.rq_msg.rm_xdr.proc = proc;
	r->svc.rq_msg.rm_xdr.where = args;
	return SVCAUTH_CHECKSUM(&r->svc);
}

void rpc_req_reply(struct rpc_req *r, xdrproc_t proc, void *res)
{
	r->svc.rq_msg.RPCM_ack.ar_results.proc = proc;
	r->svc.rq_msg.RPCM_ack.ar_results.where = res;
	r->stat = svc_sendreply(&r->svc);
}

struct raw_reply {
	const void *bytes;
	size_t len;
};

static bool xdr_raw_reply(XDR *xdrs, void *arg)
{
	const struct raw_reply *raw = arg;
	return XDR_PUTBYTES(xdrs, (const char *)raw->bytes, (u_int)raw->len);
}

void rpc_req_reply_raw(struct rpc_req *r, const void *bytes, size_t len)
{
	struct raw_reply raw = {bytes, len};
	rpc_req_reply(r, xdr_raw_reply, &raw);
}

void rpc_req_drop(struct rpc_req *r)
{
	r->stat = XPRT_IDLE;
}

uint64_t rpc_req_cksum(const struct rpc_req *r)
{
	/* libntirpc hashes the start of the argument bytes while decoding them
	 * (svc_vc_checksum: CityHash64 of up to 256 bytes), as Ganesha's DRC uses. */
	return r->svc.rq_cksum;
}

void rpc_req_err_noprog(struct rpc_req *r)
{
	r->stat = svcerr_noprog(&r->svc);
}

void rpc_req_err_progvers(struct rpc_req *r, uint32_t low, uint32_t high)
{
	r->stat = svcerr_progvers(&r->svc, low, high);
}

void rpc_req_err_noproc(struct rpc_req *r)
{
	r->stat = svcerr_noproc(&r->svc);
}

void rpc_req_err_garbage(struct rpc_req *r)
{
	r->stat = svcerr_decode(&r->svc);
}

void rpc_req_err_system(struct rpc_req *r)
{
	r->stat = svcerr_systemerr(&r->svc);
}
