/*
 * ops_client.c — the operations that establish and keep a client: 4.0's
 * SETCLIENTID(_CONFIRM) and RENEW, 4.1's EXCHANGE_ID, CREATE_SESSION, SEQUENCE,
 * DESTROY_SESSION, DESTROY_CLIENTID, BIND_CONN_TO_SESSION, RECLAIM_COMPLETE;
 * and the module's start and stop (the pseudo filesystem, the state, the
 * thread that expires leases).
 *
 * No back channel: CREATE_SESSION never grants CONN_BACK_CHAN, and 4.0
 * callbacks are never attempted, which is fine because no delegation is ever
 * granted (RFC 8881 §18.36.3 lets the server refuse the back channel).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "server/log/log.h"
#include "server/nfs4/nfs4_int.h"
#include "server/nfs4/pseudo.h"
#include "server/nfs4/recovery.h"
#include "server/nfs4/state.h"
#include "server/server.h"
#include "util/clock.h"

nfsstat4 nfs4_op_setclientid(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	SETCLIENTID4args *a = &arg->nfs_argop4_u.opsetclientid;
	SETCLIENTID4resok *ok = &res->nfs_resop4_u.opsetclientid.SETCLIENTID4res_u.resok4;
	if (a->client.id.id_len > NFS4_OPAQUE_LIMIT)
		return NFS4ERR_INVAL;
	/* CLID_INUSE's arm names the client in use: left empty (its callback
	 * address means nothing here), but the strings must exist to encode */
	static char none[] = "";
	res->nfs_resop4_u.opsetclientid.SETCLIENTID4res_u.client_using.na_r_netid = none;
	res->nfs_resop4_u.opsetclientid.SETCLIENTID4res_u.client_using.na_r_addr = none;
	return nfs4_setclientid(c->n4->state, a->client.verifier, a->client.id.id_val,
				a->client.id.id_len, c->ctx->cred.uid, &ok->clientid,
				ok->setclientid_confirm);
}

nfsstat4 nfs4_op_setclientid_confirm(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)res;
	SETCLIENTID_CONFIRM4args *a = &arg->nfs_argop4_u.opsetclientid_confirm;
	nfsstat4 st = nfs4_setclientid_confirm(c->n4->state, a->clientid, a->setclientid_confirm);
	return st == NFS4_OK ? nfs4_record_client(c, a->clientid) : st;
}

nfsstat4 nfs4_op_renew(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)res;
	return nfs4_renew(c->n4->state, arg->nfs_argop4_u.oprenew.clientid);
}

static const uint32_t exchgid_flags_ok =
    EXCHGID4_FLAG_SUPP_MOVED_REFER | EXCHGID4_FLAG_SUPP_MOVED_MIGR |
    EXCHGID4_FLAG_BIND_PRINC_STATEID | EXCHGID4_FLAG_USE_NON_PNFS | EXCHGID4_FLAG_USE_PNFS_MDS |
    EXCHGID4_FLAG_USE_PNFS_DS | EXCHGID4_FLAG_UPD_CONFIRMED_REC_A;

nfsstat4 nfs4_op_exchange_id(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	EXCHANGE_ID4args *a = &arg->nfs_argop4_u.opexchange_id;
	EXCHANGE_ID4resok *ok = &res->nfs_resop4_u.opexchange_id.EXCHANGE_ID4res_u.eir_resok4;
	const client_owner4 *co = &a->eia_clientowner;

	uint32_t ok_flags = exchgid_flags_ok | (c->minor >= 2 ? EXCHGID4_FLAG_SUPP_FENCE_OPS : 0);
	if (a->eia_flags & ~ok_flags) /* SUPP_FENCE_OPS is 4.2's (RFC 7862 §15.1) */
		return NFS4ERR_INVAL;
	if (co->co_ownerid.co_ownerid_len > NFS4_OPAQUE_LIMIT)
		return NFS4ERR_INVAL;
	if (a->eia_state_protect.spa_how != SP4_NONE)
		return NFS4ERR_NOTSUPP; /* state protection: AUTH_SYS only, none */
	nfsstat4 st =
	    nfs4_exchange_id(c->n4->state, co->co_verifier, co->co_ownerid.co_ownerid_val,
			     co->co_ownerid.co_ownerid_len, a->eia_flags, c->ctx->cred.uid,
			     &ok->eir_clientid, &ok->eir_sequenceid, &ok->eir_flags);
	if (st != NFS4_OK)
		return st;
	ok->eir_flags |= EXCHGID4_FLAG_USE_NON_PNFS;
	ok->eir_state_protect.spr_how = SP4_NONE;
	ok->eir_server_owner.so_minor_id = 0;
	ok->eir_server_owner.so_major_id.so_major_id_len = sizeof(c->n4->server_owner);
	ok->eir_server_owner.so_major_id.so_major_id_val = (char *)c->n4->server_owner;
	ok->eir_server_scope.eir_server_scope_len = sizeof(c->n4->server_owner);
	ok->eir_server_scope.eir_server_scope_val = (char *)c->n4->server_owner;
	ok->eir_server_impl_id.eir_server_impl_id_len = 0;
	return NFS4_OK;
}

static void chan_in(const channel_attrs4 *a, struct nfs4_chan *ch)
{
	ch->maxreq = a->ca_maxrequestsize;
	ch->maxresp = a->ca_maxresponsesize;
	ch->maxresp_cached = a->ca_maxresponsesize_cached;
	ch->maxops = a->ca_maxoperations;
	ch->maxreqs = a->ca_maxrequests;
}

static void chan_out(const struct nfs4_chan *ch, channel_attrs4 *a)
{
	memset(a, 0, sizeof(*a));
	a->ca_maxrequestsize = ch->maxreq;
	a->ca_maxresponsesize = ch->maxresp;
	a->ca_maxresponsesize_cached = ch->maxresp_cached;
	a->ca_maxoperations = ch->maxops;
	a->ca_maxrequests = ch->maxreqs;
}

nfsstat4 nfs4_op_create_session(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	CREATE_SESSION4args *a = &arg->nfs_argop4_u.opcreate_session;
	CREATE_SESSION4resok *ok =
	    &res->nfs_resop4_u.opcreate_session.CREATE_SESSION4res_u.csr_resok4;
	struct nfs4_chan want, got;

	const uint32_t flags_ok = CREATE_SESSION4_FLAG_PERSIST |
				  CREATE_SESSION4_FLAG_CONN_BACK_CHAN |
				  CREATE_SESSION4_FLAG_CONN_RDMA;
	const channel_attrs4 *back = &a->csa_back_chan_attrs;

	if (a->csa_flags & ~flags_ok)
		return NFS4ERR_INVAL;
	chan_in(&a->csa_fore_chan_attrs, &want);
	if (want.maxreqs == 0 || want.maxops == 0)
		return NFS4ERR_INVAL;
	/* room for at least a SEQUENCE and a small reply, both ways */
	if (want.maxreq < 256 || want.maxresp < 256 || back->ca_maxrequestsize < 256 ||
	    back->ca_maxresponsesize < 64)
		return NFS4ERR_TOOSMALL;
	nfsstat4 st = nfs4_create_session(c->n4->state, a->csa_clientid, a->csa_sequence,
					  c->ctx->cred.uid, &want, ok->csr_sessionid, &got);
	if (st == NFS4_OK)
		st = nfs4_record_client(c, a->csa_clientid);
	if (st != NFS4_OK)
		return st;
	ok->csr_sequence = a->csa_sequence;
	ok->csr_flags = 0; /* no persistent reply cache, no back channel */
	chan_out(&got, &ok->csr_fore_chan_attrs);
	ok->csr_back_chan_attrs = a->csa_back_chan_attrs;
	ok->csr_back_chan_attrs.ca_rdma_ird.ca_rdma_ird_len = 0;
	return NFS4_OK;
}

nfsstat4 nfs4_op_destroy_session(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)res;
	return nfs4_destroy_session(c->n4->state,
				    arg->nfs_argop4_u.opdestroy_session.dsa_sessionid);
}

nfsstat4 nfs4_op_destroy_clientid(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)res;
	return nfs4_destroy_clientid(c->n4->state,
				     arg->nfs_argop4_u.opdestroy_clientid.dca_clientid);
}

nfsstat4 nfs4_op_bind_conn_to_session(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	BIND_CONN_TO_SESSION4args *a = &arg->nfs_argop4_u.opbind_conn_to_session;
	BIND_CONN_TO_SESSION4resok *ok =
	    &res->nfs_resop4_u.opbind_conn_to_session.BIND_CONN_TO_SESSION4res_u.bctsr_resok4;
	nfsstat4 st = nfs4_session_exists(c->n4->state, a->bctsa_sessid);
	if (st != NFS4_OK)
		return st;
	memcpy(ok->bctsr_sessid, a->bctsa_sessid, NFS4_SESSIONID_SIZE);
	ok->bctsr_dir = CDFS4_FORE;
	ok->bctsr_use_conn_in_rdma_mode = FALSE;
	return NFS4_OK;
}

nfsstat4 nfs4_op_sequence(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	SEQUENCE4args *a = &arg->nfs_argop4_u.opsequence;
	SEQUENCE4resok *ok = &res->nfs_resop4_u.opsequence.SEQUENCE4res_u.sr_resok4;
	struct nfs4_seq_out info;

	nfsstat4 st = nfs4_seq_begin(c->n4->state, a->sa_sessionid, a->sa_sequenceid, a->sa_slotid,
				     a->sa_cachethis, &c->seq, &info);
	if (st != NFS4_OK)
		return st;
	/* RFC 8881 §2.10.6.4; a SEQUENCE that fails leaves the slot as it was
	 * (§18.46.3): the client sends its next call with the same sequence id */
	st = c->req_size > info.maxreq ? NFS4ERR_REQ_TOO_BIG
	     : c->nops > info.maxops   ? NFS4ERR_TOO_MANY_OPS
				       : NFS4_OK;
	if (st != NFS4_OK) {
		nfs4_seq_cancel(c->n4->state, c->seq);
		c->seq = NULL;
		return st;
	}
	c->clientid = info.clientid;
	c->max_resp = info.maxresp;
	c->max_resp_cached = info.maxresp_cached;
	memcpy(ok->sr_sessionid, a->sa_sessionid, NFS4_SESSIONID_SIZE);
	ok->sr_sequenceid = a->sa_sequenceid;
	ok->sr_slotid = a->sa_slotid;
	ok->sr_highest_slotid = info.highest_slot;
	ok->sr_target_highest_slotid = info.highest_slot;
	ok->sr_status_flags = info.status_flags;
	return NFS4_OK;
}

nfsstat4 nfs4_op_reclaim_complete(struct nfs4_compound *c, nfs_argop4 *arg, nfs_resop4 *res)
{
	(void)res;
	if (arg->nfs_argop4_u.opreclaim_complete.rca_one_fs)
		return c->cur.kind == FH4_NONE ? NFS4ERR_NOFILEHANDLE : NFS4_OK;
	nfsstat4 st = nfs4_reclaim_complete(c->n4->state, c->clientid);
	if (st == NFS4_OK) {
		unsigned char id[NFS4_OPAQUE_LIMIT];
		size_t len = nfs4_client_owner(c->n4->state, c->clientid, id, sizeof(id));
		if (len && len <= sizeof(id))
			nfs4_recovery_reclaimed(c->n4->recovery, id, len);
	}
	return st;
}

nfsstat4 nfs4_record_client(struct nfs4_compound *c, uint64_t clientid)
{
	unsigned char id[NFS4_OPAQUE_LIMIT];
	size_t len = nfs4_client_owner(c->n4->state, clientid, id, sizeof(id));
	if (!len || len > sizeof(id))
		return NFS4_OK;
	int rc = nfs4_recovery_add(c->n4->recovery, id, len);
	if (rc < 0) {
		/* a client we could not record could not reclaim after a crash */
		log_error("nfs4: cannot record a client in the state directory: %s", strerror(-rc));
		return NFS4ERR_SERVERFAULT;
	}
	return NFS4_OK;
}

nfsstat4 nfs4_record_export(struct nfs4_compound *c, uint64_t clientid, uint32_t export_id)
{
	unsigned char id[NFS4_OPAQUE_LIMIT];
	size_t len = nfs4_client_owner(c->n4->state, clientid, id, sizeof(id));
	if (!len || len > sizeof(id))
		return NFS4_OK;
	int rc = nfs4_recovery_add_export(c->n4->recovery, id, len, export_id);
	if (rc < 0) {
		/* state we could not record could not be reclaimed after a crash */
		log_error("nfs4: cannot record a client's export in the state directory: %s",
			  strerror(-rc));
		return NFS4ERR_SERVERFAULT;
	}
	return NFS4_OK;
}

bool nfs4_may_reclaim(struct nfs4_compound *c, uint64_t clientid)
{
	unsigned char id[NFS4_OPAQUE_LIMIT];
	size_t len = nfs4_client_owner(c->n4->state, clientid, id, sizeof(id));
	return len && len <= sizeof(id) && nfs4_recovery_may_reclaim(c->n4->recovery, id, len);
}

/* ---- start and stop ---- */

/* Expires leases a few times per lease period. */
static void *reaper_main(void *arg)
{
	struct nfs4_server *n = arg;
	struct nfs4_reaper *r = &n->reaper;
	uint32_t period = nfs4_state_lease(n->state) * 1000 / 4;
	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		struct timespec ts = clock_deadline_ms(period);
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
		if (r->stop)
			break;
		pthread_mutex_unlock(&r->lock);
		unsigned k = nfs4_state_reap(n->state);
		if (k)
			log_info("nfs4: %u client(s) expired, their state freed", k);
		unsigned gen = nfs4_state_generation(n->state);
		if (gen != r->gen) {
			r->gen = gen;
			int rc = nfs4_recovery_sync(n->recovery, n->state);
			if (rc < 0)
				log_warn("nfs4: client records not rewritten: %s", strerror(-rc));
		}
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static uint32_t lease_from_env(uint32_t lease_sec)
{
	const char *s = getenv("TWINFS_NFS4_LEASE");
	if (s && *s) {
		long v = strtol(s, NULL, 10);
		if (v >= 2 && v <= 3600)
			return (uint32_t)v;
	}
	return lease_sec ? lease_sec : 90;
}

/* Where the client records live: nfs4_recovery_dir; else in a pair with a lease
 * the lease file's directory, on the shared storage both nodes see; else
 * state_dir. */
static const char *recovery_dir(const struct twinfs_config *cfg, char *buf, size_t cap)
{
	const char *lease = cfg->pair.lease_path, *slash = strrchr(lease, '/');
	if (cfg->nfs4_recovery_dir[0])
		snprintf(buf, cap, "%s", cfg->nfs4_recovery_dir);
	else if (cfg->pair.enabled && lease[0] && slash)
		snprintf(buf, cap, "%.*s", slash == lease ? 1 : (int)(slash - lease), lease);
	else
		snprintf(buf, cap, "%s", cfg->state_dir);
	return buf;
}

static void grace_said(struct nfs4_server *n)
{
	unsigned k = nfs4_recovery_previous(n->recovery);
	if (k)
		log_info("nfs4: grace period of %u s for %u client(s) of the last run to reclaim",
			 nfs4_state_lease(n->state), k);
}

void nfs4_server_serving(struct nfs4_server *n, bool on)
{
	if (atomic_exchange(&n->serving, on) == on)
		return; /* not a change: the clients keep their state */
	if (!on) {
		nfs4_recovery_release(n->recovery);
		return;
	}
	unsigned k = nfs4_state_reset(n->state);
	if (k)
		log_info("nfs4: %u client(s) of an earlier period of service forgotten", k);
	int rc = nfs4_recovery_reload(n->recovery);
	if (rc < 0)
		log_error("nfs4: cannot read the client records: %s; no grace period",
			  strerror(-rc));
	grace_said(n);
}

int nfs4_server_create(struct server *srv, uint32_t lease_sec, struct nfs4_server **out)
{
	struct nfs4_server *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	struct nfs4_state_params sp = {.lease_sec = lease_from_env(lease_sec)};
	n->srv = srv;
	int rc = nfs4_pseudo_build(srv->exports, &n->pseudo);
	if (rc == 0)
		rc = nfs4_state_create(&sp, &n->state);
	char dir[CONFIG_PATH_MAX];
	if (rc == 0)
		rc = nfs4_recovery_open(recovery_dir(&srv->cfg, dir, sizeof(dir)), sp.lease_sec,
					NULL, NULL, &n->recovery);
	if (rc < 0)
		log_error("nfs4: cannot read the client records in %s: %s", dir, strerror(-rc));
	else if (srv->cfg.pair.enabled)
		nfs4_recovery_release(n->recovery); /* until this node serves */
	else
		grace_said(n);
	atomic_store(&n->serving, !srv->cfg.pair.enabled);
	if (rc < 0) {
		nfs4_server_destroy(n);
		return rc;
	}
	/* the same on both nodes of a pair: their clients see one server */
	memcpy(n->server_owner, "twinfs-server-v4", sizeof(n->server_owner));
	struct nfs4_reaper *r = &n->reaper;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	r->started = pthread_create(&r->thread, NULL, reaper_main, n) == 0;
	if (!r->started) {
		nfs4_server_destroy(n);
		return -EAGAIN;
	}
	*out = n;
	return 0;
}

void nfs4_server_destroy(struct nfs4_server *n)
{
	if (!n)
		return;
	struct nfs4_reaper *r = &n->reaper;
	if (r->started) {
		pthread_mutex_lock(&r->lock);
		r->stop = true;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->lock);
	}
	nfs4_state_destroy(n->state);
	nfs4_recovery_close(n->recovery);
	nfs4_pseudo_free(n->pseudo);
	free(n);
}
