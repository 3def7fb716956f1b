/*
 * state.c — NFSv4 clients, sessions, owners, opens and locks.
 *
 * What it is for: the rules of RFC 7530 §9/§16 and RFC 8881 §2.10/§8/§9 about
 * who holds what, in one place, away from XDR and the filesystem.
 *
 * Layout: clients in a list; each client owns its owners and sessions; files
 * (by export id + FSAL key) hold the open and lock states on them; every state
 * is also in a hash by its stateid's counter. A stateid's `other` is
 *     bytes 0..3   this server instance's epoch: another one is STALE_STATEID
 *                  (pynfs' staleid tests and knfsd put a boot time there too)
 *     bytes 4..7   the low half of its client's id, so that a stateid of a client
 *                  whose lease expired is told apart (EXPIRED) from a forged one
 *     bytes 8..11  a counter, unique among live states
 *
 * Locking: one reader-writer lock over the tables. What changes state (OPEN,
 * LOCK, CLOSE, clients, sessions, the reaper) takes it for writing; the hot
 * path takes it for reading only, so READs, WRITEs and SEQUENCEs run in
 * parallel: the stateid check of READ/WRITE/SETATTR, and SEQUENCE, which finds
 * its session in a hash and claims the slot under the session's own mutex.
 * Lease renewal is an atomic store. (A per-file lock for OPEN/LOCK would be the
 * next step if they ever contend.)
 *
 * Left out: delegations (never granted), the 4.0 replay cache of an owner's
 * last reply (a retransmitted OPEN or LOCK gets BAD_SEQID), state protection
 * (SP4_NONE only), stable storage of clients and grace (no reclaim: NO_GRACE).
 */
#include "server/nfs4/state.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define SID_BUCKETS	 4096
#define SESS_BUCKETS	 1024
#define EXPIRED_WINDOW	 (1u << 20) /* the last clientids issued, a bit each */
#define SID_OPEN	 1
#define SID_LOCK	 2
#define SID_CLOSED	 3   /* a CLOSEd open kept for its owner's CLOSE replay */
#define REPLAY_OWNER_MAX 128 /* bytes of a DENIED's owner kept for a LOCK replay */

struct range {
	struct range *next;
	uint64_t start, end; /* [start, end], end inclusive */
	uint32_t type;	     /* READ_LT / WRITE_LT (the W variants are stored plain) */
};

struct client;

struct owner {
	struct owner *next;
	struct client *cl;
	bool is_lock;
	bool confirmed; /* 4.0 open owner: after OPEN_CONFIRM */
	bool has_seqid;
	uint32_t seqid; /* the last one used */
	/* 4.0: the last seqid operation's reply, for a retransmission of it
	 * (RFC 7530 §9.1.9): a replayed OPEN, CLOSE, LOCK... gets it again */
	struct {
		bool have, confirm;
		uint32_t op;
		nfsstat4 status;
		stateid4 sid;
		uint32_t fhlen;
		uint8_t fh[NFS4_FHSIZE];
		struct nfs4_lock_denied d;
		uint8_t downer[REPLAY_OWNER_MAX];
	} last;
	struct stid *closed; /* its last CLOSEd open, for a CLOSE replay */
	size_t len;
	unsigned char id[];
};

struct file;

struct stid {
	struct stid *hnext; /* hash chain */
	struct stid *fnext; /* the file's states */
	uint64_t counter;
	uint32_t seqid;
	int type;
	struct client *cl;
	struct owner *ow;
	struct file *file;
	/* open */
	uint32_t access, deny;
	uint32_t access_bmap, deny_bmap; /* every mode ever asked, for OPEN_DOWNGRADE */
	bool confirmed;
	/* lock */
	struct stid *open;
	struct range *ranges;
};

struct file {
	struct file *next;
	struct nfs4_fileid id;
	struct stid *states;
};

struct nfs4_seq {
	struct session *ss;
	uint32_t seqid;
	bool busy, replaying, cachethis, cached;
};

struct session {
	struct session *next;  /* the client's sessions */
	struct session *hnext; /* the hash by sessionid */
	pthread_mutex_t lock;  /* the slots and busy (with the table lock held to read) */
	struct client *cl;
	char sid[16];
	struct nfs4_chan chan;
	unsigned busy;
	uint32_t nslots;
	struct nfs4_seq slots[];
};

struct client {
	struct client *next;
	uint64_t clientid;
	char verf[8];
	char confirm[8];
	uint32_t principal; /* AUTH_SYS uid of SETCLIENTID */
	bool confirmed;
	bool v41;
	bool reclaim_done;
	_Atomic uint64_t renewed; /* ms; renewed under the read lock too */
	struct owner *owners;
	struct session *sessions;
	/* CREATE_SESSION's sequence and the last result (RFC 8881 §18.36.4) */
	uint32_t cs_seq;
	bool cs_have;
	char cs_sid[16];
	struct nfs4_chan cs_chan;
	size_t idlen;
	unsigned char id[];
};

struct nfs4_state {
	pthread_rwlock_t lock;
	uint32_t lease_sec;
	nfs4_clock_fn clock;
	void *clock_arg;
	uint32_t epoch;
	uint64_t next_clientid;
	uint64_t next_counter;
	uint64_t next_session;
	struct client *clients;
	struct file *files;
	struct stid *sids[SID_BUCKETS];
	struct session *sess[SESS_BUCKETS];
	_Atomic unsigned generation; /* confirmed clients came or went */
	/* Whether a clientid's lease ran out, for the last EXPIRED_WINDOW ids
	 * issued (128 KiB): exact, however many clients expire together. */
	uint8_t expired[EXPIRED_WINDOW / 8];
};

static uint64_t state_now(struct nfs4_state *st)
{
	if (st->clock)
		return st->clock(st->clock_arg);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void state_new_epoch(struct nfs4_state *st)
{
	uint32_t old = st->epoch;
	while (st->epoch == old) {
		if (getrandom(&st->epoch, sizeof(st->epoch), 0) != sizeof(st->epoch))
			st->epoch = old + (uint32_t)time(NULL);
		st->epoch |= 1; /* never 0: the special stateids have an all-zero `other` */
	}
	/* clientids carry the epoch too: a client of an earlier instance is stale */
	st->next_clientid = (uint64_t)st->epoch << 32 | 1;
}

int nfs4_state_create(const struct nfs4_state_params *p, struct nfs4_state **out)
{
	struct nfs4_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	pthread_rwlock_init(&st->lock, NULL);
	st->lease_sec = p->lease_sec ? p->lease_sec : 90;
	st->clock = p->clock;
	st->clock_arg = p->clock_arg;
	state_new_epoch(st);
	st->next_counter = 1;
	*out = st;
	return 0;
}

uint32_t nfs4_state_lease(const struct nfs4_state *st)
{
	return st->lease_sec;
}

/* ---- stateids ---------------------------------------------------------- */

static uint64_t client_id_of(const struct client *c);

static void sid_to_wire(const struct nfs4_state *st, const struct stid *s, stateid4 *out)
{
	uint32_t low = (uint32_t)client_id_of(s->cl), counter = (uint32_t)s->counter;
	out->seqid = s->seqid;
	memcpy(out->other, &st->epoch, 4);
	memcpy(out->other + 4, &low, 4);
	memcpy(out->other + 8, &counter, 4);
}

/* The bit of a clientid this instance issued within the window, or -1. */
static long expired_bit(const struct nfs4_state *st, uint64_t clientid)
{
	if (clientid >> 32 != st->epoch || clientid >= st->next_clientid ||
	    st->next_clientid - clientid > EXPIRED_WINDOW)
		return -1;
	return (long)(clientid % EXPIRED_WINDOW);
}

static void expired_set(struct nfs4_state *st, uint64_t clientid, bool on)
{
	long b = expired_bit(st, clientid);
	if (b < 0)
		return;
	if (on)
		st->expired[b / 8] |= (uint8_t)(1u << (b % 8));
	else
		st->expired[b / 8] &= (uint8_t) ~(1u << (b % 8));
}

static bool expired_has(const struct nfs4_state *st, uint64_t clientid)
{
	long b = expired_bit(st, clientid);
	return b >= 0 && st->expired[b / 8] & (1u << (b % 8));
}

static bool sid_is_special(const stateid4 *sid, uint8_t fill)
{
	for (int i = 0; i < NFS4_OTHER_SIZE; i++)
		if ((uint8_t)sid->other[i] != fill)
			return false;
	return true;
}

/* The state a stateid names: OK, or BAD/STALE/OLD_STATEID. seqid 0 in 4.1 means
 * "the current one" (RFC 8881 §8.2.2). */
static nfsstat4 sid_find(struct nfs4_state *st, const stateid4 *sid, uint32_t minor,
			 struct stid **out)
{
	uint32_t epoch, low, counter;
	if (sid_is_special(sid, 0) || sid_is_special(sid, 0xff))
		return NFS4ERR_BAD_STATEID; /* where a real one is needed */
	memcpy(&epoch, sid->other, 4);
	memcpy(&low, sid->other + 4, 4);
	memcpy(&counter, sid->other + 8, 4);
	if (epoch != st->epoch)
		return NFS4ERR_STALE_STATEID; /* an earlier instance's (RFC 7530 §9.1.4.3) */
	struct stid *s = st->sids[counter % SID_BUCKETS];
	while (s && s->counter != counter)
		s = s->hnext;
	if (!s || (uint32_t)s->cl->clientid != low) {
		uint64_t clientid = (uint64_t)st->epoch << 32 | low;
		return expired_has(st, clientid) ? NFS4ERR_EXPIRED : NFS4ERR_BAD_STATEID;
	}
	*out = s;
	if (s->type == SID_CLOSED)
		return NFS4ERR_BAD_STATEID; /* kept for a CLOSE replay only */
	if (minor && sid->seqid == 0)
		return NFS4_OK;
	if (sid->seqid < s->seqid)
		return NFS4ERR_OLD_STATEID;
	if (sid->seqid > s->seqid)
		return NFS4ERR_BAD_STATEID;
	return NFS4_OK;
}

static struct file *file_get(struct nfs4_state *st, const struct nfs4_fileid *id, bool create)
{
	struct file *f;
	for (f = st->files; f; f = f->next)
		if (f->id.exp == id->exp && fsal_key_eq(&f->id.key, &id->key))
			return f;
	if (!create || !(f = calloc(1, sizeof(*f))))
		return NULL;
	f->id = *id;
	f->next = st->files;
	st->files = f;
	return f;
}

static void file_put(struct nfs4_state *st, struct file *f)
{
	if (f->states)
		return;
	for (struct file **l = &st->files; *l; l = &(*l)->next)
		if (*l == f) {
			*l = f->next;
			free(f);
			return;
		}
}

static bool sid_in_use(const struct nfs4_state *st, uint64_t counter)
{
	for (const struct stid *s = st->sids[counter % SID_BUCKETS]; s; s = s->hnext)
		if (s->counter == counter)
			return true;
	return false;
}

static struct stid *sid_new(struct nfs4_state *st, int type, struct owner *ow, struct file *f)
{
	struct stid *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->type = type;
	s->ow = ow;
	s->cl = ow->cl;
	s->file = f;
	s->seqid = 1;
	/* 32 bits in the stateid: after a wrap, skip the counters still in use */
	do
		s->counter = (uint32_t)st->next_counter++;
	while (!s->counter || sid_in_use(st, s->counter));
	s->hnext = st->sids[s->counter % SID_BUCKETS];
	st->sids[s->counter % SID_BUCKETS] = s;
	s->fnext = f->states;
	f->states = s;
	return s;
}

static void ranges_free(struct range *r)
{
	while (r) {
		struct range *n = r->next;
		free(r);
		r = n;
	}
}

static void sid_free(struct nfs4_state *st, struct stid *s)
{
	struct stid **l;
	for (l = &st->sids[s->counter % SID_BUCKETS]; *l && *l != s; l = &(*l)->hnext)
		;
	if (*l)
		*l = s->hnext;
	struct file *f = s->file;
	for (l = f ? &f->states : NULL; l && *l && *l != s; l = &(*l)->fnext)
		;
	if (l && *l)
		*l = s->fnext;
	ranges_free(s->ranges);
	free(s);
	if (f)
		file_put(st, f);
}

/* ---- clients ------------------------------------------------------------ */

static uint64_t client_id_of(const struct client *c)
{
	return c->clientid;
}

/* The confirmed record of a clientid first: during a 4.0 callback update an
 * unconfirmed record shares it. */
static struct client *client_by_id(struct nfs4_state *st, uint64_t clientid)
{
	struct client *any = NULL;
	for (struct client *c = st->clients; c; c = c->next)
		if (c->clientid == clientid) {
			if (c->confirmed)
				return c;
			any = c;
		}
	return any;
}

static struct client *client_by_owner(struct nfs4_state *st, const void *id, size_t len,
				      bool confirmed)
{
	for (struct client *c = st->clients; c; c = c->next)
		if (c->confirmed == confirmed && c->idlen == len && !memcmp(c->id, id, len))
			return c;
	return NULL;
}

static struct client *client_new(struct nfs4_state *st, const char verf[8], const void *id,
				 size_t len)
{
	struct client *c = calloc(1, sizeof(*c) + len);
	if (!c)
		return NULL;
	c->clientid = st->next_clientid++;
	expired_set(st, c->clientid, false); /* the bit of an id a window ago */
	memcpy(c->verf, verf, 8);
	memcpy(c->id, id, len);
	c->idlen = len;
	c->renewed = state_now(st);
	if (getrandom(c->confirm, sizeof(c->confirm), 0) != sizeof(c->confirm))
		memcpy(c->confirm, &c->renewed, sizeof(c->confirm));
	c->next = st->clients;
	st->clients = c;
	return c;
}

static unsigned sess_bucket(const char sid[16])
{
	uint64_t n;
	memcpy(&n, sid + 8, 8);
	return (unsigned)(n % SESS_BUCKETS);
}

static void session_unhash(struct nfs4_state *st, struct session *ss)
{
	for (struct session **l = &st->sess[sess_bucket(ss->sid)]; *l; l = &(*l)->hnext)
		if (*l == ss) {
			*l = ss->hnext;
			return;
		}
}

static void session_free(struct session *ss)
{
	pthread_mutex_destroy(&ss->lock);
	free(ss);
}

/* Everything a client holds goes; so does the client. */
static void client_free(struct nfs4_state *st, struct client *c)
{
	if (c->confirmed)
		atomic_fetch_add(&st->generation, 1);
	for (struct file *f = st->files, *fn; f; f = fn) {
		fn = f->next;
		for (struct stid *s = f->states, *sn; s; s = sn) {
			sn = s->fnext;
			if (s->cl == c)
				sid_free(st, s); /* may free f once empty */
		}
	}
	while (c->owners) {
		struct owner *o = c->owners;
		c->owners = o->next;
		if (o->closed)
			sid_free(st, o->closed);
		free(o);
	}
	while (c->sessions) {
		struct session *ss = c->sessions;
		c->sessions = ss->next;
		session_unhash(st, ss);
		session_free(ss);
	}
	for (struct client **l = &st->clients; *l; l = &(*l)->next)
		if (*l == c) {
			*l = c->next;
			break;
		}
	free(c);
}

static bool client_busy(const struct client *c)
{
	for (const struct session *ss = c->sessions; ss; ss = ss->next)
		if (ss->busy)
			return true;
	return false;
}

unsigned nfs4_state_reap(struct nfs4_state *st)
{
	unsigned n = 0;
	pthread_rwlock_wrlock(&st->lock);
	uint64_t now = state_now(st), lease = (uint64_t)st->lease_sec * 1000;
	for (struct client *c = st->clients, *next; c; c = next) {
		next = c->next;
		if (now - c->renewed > lease && !client_busy(c)) {
			expired_set(st, c->clientid, true);
			client_free(st, c);
			n++;
		}
	}
	pthread_rwlock_unlock(&st->lock);
	return n;
}

unsigned nfs4_state_reset(struct nfs4_state *st)
{
	unsigned n = 0;
	pthread_rwlock_wrlock(&st->lock);
	for (struct client *c = st->clients, *next; c; c = next) {
		next = c->next;
		if (!client_busy(c)) { /* a standby runs no call; never in use here */
			client_free(st, c);
			n++;
		}
	}
	state_new_epoch(st);
	pthread_rwlock_unlock(&st->lock);
	return n;
}

unsigned nfs4_state_generation(struct nfs4_state *st)
{
	return atomic_load(&st->generation);
}

void nfs4_state_owners(struct nfs4_state *st, void (*cb)(void *arg, const void *id, size_t len),
		       void *arg)
{
	pthread_rwlock_rdlock(&st->lock);
	for (const struct client *c = st->clients; c; c = c->next)
		if (c->confirmed)
			cb(arg, c->id, c->idlen);
	pthread_rwlock_unlock(&st->lock);
}

size_t nfs4_client_owner(struct nfs4_state *st, uint64_t clientid, void *buf, size_t cap)
{
	pthread_rwlock_rdlock(&st->lock);
	const struct client *c = client_by_id(st, clientid);
	size_t len = c ? c->idlen : 0;
	if (c)
		memcpy(buf, c->id, len < cap ? len : cap);
	pthread_rwlock_unlock(&st->lock);
	return len;
}

unsigned nfs4_state_clients(struct nfs4_state *st)
{
	unsigned n = 0;
	pthread_rwlock_wrlock(&st->lock);
	for (struct client *c = st->clients; c; c = c->next)
		n++;
	pthread_rwlock_unlock(&st->lock);
	return n;
}

void nfs4_state_destroy(struct nfs4_state *st)
{
	if (!st)
		return;
	while (st->clients)
		client_free(st, st->clients);
	pthread_rwlock_destroy(&st->lock);
	free(st);
}

/* A clientid of another server instance is STALE, an unknown one of ours too
 * (RFC 7530 §16.33.5: the client then starts over with SETCLIENTID). */
static nfsstat4 client_live(struct nfs4_state *st, uint64_t clientid, struct client **out)
{
	struct client *c = client_by_id(st, clientid);
	if (!c || !c->confirmed)
		return expired_has(st, clientid) ? NFS4ERR_EXPIRED : NFS4ERR_STALE_CLIENTID;
	c->renewed = state_now(st);
	*out = c;
	return NFS4_OK;
}

static bool client_has_state(const struct client *c)
{
	return c->sessions || c->owners;
}

static struct client *client_unconfirmed_by_id(struct nfs4_state *st, uint64_t clientid)
{
	for (struct client *c = st->clients; c; c = c->next)
		if (!c->confirmed && c->clientid == clientid)
			return c;
	return NULL;
}

/* RFC 7530 §16.33.5, simplified to the cases clients meet: a known, confirmed
 * owner with the same verifier is a callback update (same clientid); anything
 * else (a new owner, a rebooted client) gets a new unconfirmed record, replacing
 * an earlier unconfirmed one of the same owner. */
nfsstat4 nfs4_setclientid(struct nfs4_state *st, const char verf[8], const void *id, size_t idlen,
			  uint32_t principal, uint64_t *clientid, char confirm[8])
{
	nfsstat4 status = NFS4_OK;
	pthread_rwlock_wrlock(&st->lock);
	struct client *conf = client_by_owner(st, id, idlen, true);
	uint64_t lease = (uint64_t)st->lease_sec * 1000;
	if (conf && conf->principal != principal && client_has_state(conf) &&
	    state_now(st) - conf->renewed <= lease) {
		/* another principal's live client (RFC 7530 §16.33.5, case 1) */
		pthread_rwlock_unlock(&st->lock);
		return NFS4ERR_CLID_INUSE;
	}
	struct client *old = client_by_owner(st, id, idlen, false);
	if (old)
		client_free(st, old);
	struct client *c = client_new(st, verf, id, idlen);
	if (c)
		c->principal = principal;
	if (!c) {
		status = NFS4ERR_RESOURCE;
	} else {
		if (conf && !memcmp(conf->verf, verf, 8))
			c->clientid = conf->clientid; /* a callback update */
		*clientid = c->clientid;
		memcpy(confirm, c->confirm, 8);
	}
	pthread_rwlock_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_setclientid_confirm(struct nfs4_state *st, uint64_t clientid, const char confirm[8])
{
	nfsstat4 status = NFS4_OK;
	pthread_rwlock_wrlock(&st->lock);
	struct client *u = client_unconfirmed_by_id(st, clientid);
	struct client *conf = client_by_id(st, clientid);
	if (conf && !conf->confirmed)
		conf = NULL;
	if (u && !memcmp(u->confirm, confirm, 8)) {
		struct client *prev = client_by_owner(st, u->id, u->idlen, true);
		if (prev && prev->clientid == u->clientid) {
			/* callback update: keep the confirmed record and its state */
			prev->renewed = state_now(st);
			memcpy(prev->confirm, u->confirm, 8);
			client_free(st, u);
		} else {
			if (prev) { /* the client rebooted: its old state goes */
				expired_set(st, prev->clientid, true);
				client_free(st, prev);
			}
			u->confirmed = true;
			atomic_fetch_add(&st->generation, 1);
			u->renewed = state_now(st);
		}
	} else if (conf && !memcmp(conf->confirm, confirm, 8)) {
		conf->renewed = state_now(st); /* a retransmission */
	} else if (u || conf) {
		status = NFS4ERR_CLID_INUSE;
	} else {
		status = NFS4ERR_STALE_CLIENTID;
	}
	pthread_rwlock_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_renew(struct nfs4_state *st, uint64_t clientid)
{
	struct client *c;
	pthread_rwlock_wrlock(&st->lock);
	nfsstat4 status = client_live(st, clientid, &c);
	if (status == NFS4_OK && c->v41)
		status = NFS4ERR_STALE_CLIENTID;
	pthread_rwlock_unlock(&st->lock);
	return status;
}

/* ---- 4.1 clients and sessions ------------------------------------------ */

/* RFC 8881 §18.35.5, the common cases: the same owner and verifier get their
 * record back (confirmed or not); a new verifier (a reboot) or a new owner gets
 * a new unconfirmed record, which CREATE_SESSION confirms. */

static struct client *client_new41(struct nfs4_state *st, const char verf[8], const void *id,
				   size_t idlen, uint32_t principal)
{
	struct client *c = client_new(st, verf, id, idlen);
	if (c) {
		c->v41 = true;
		c->principal = principal;
	}
	return c;
}

/* EXCHANGE_ID with EXCHGID4_FLAG_UPD_CONFIRMED_REC_A (RFC 8881 §18.35.5 cases 6-8). */
static nfsstat4 exchange_update(struct client *conf, const char verf[8], uint32_t principal)
{
	if (!conf)
		return NFS4ERR_NOENT;
	if (memcmp(conf->verf, verf, 8))
		return NFS4ERR_NOT_SAME;
	return conf->principal == principal ? NFS4_OK : NFS4ERR_PERM;
}

/* RFC 8881 §18.35.5, without update: the same owner, verifier and principal get
 * their confirmed record back (case 2); another principal's record in use is
 * CLID_INUSE (case 3); otherwise a new unconfirmed record with a new clientid
 * replaces any unconfirmed one (case 4), and a confirmed one without state
 * (cases 3 and 5: a rebooted client); one with state goes when the new record
 * is confirmed by CREATE_SESSION. */
static nfsstat4 exchange_new(struct nfs4_state *st, const char verf[8], const void *id,
			     size_t idlen, uint32_t principal, struct client **out)
{
	struct client *conf = client_by_owner(st, id, idlen, true);
	struct client *unconf = client_by_owner(st, id, idlen, false);
	uint64_t lease = (uint64_t)st->lease_sec * 1000;
	if (conf && !memcmp(conf->verf, verf, 8) && conf->principal == principal) {
		*out = conf;
		return NFS4_OK;
	}
	if (conf && conf->principal != principal && client_has_state(conf) &&
	    state_now(st) - conf->renewed <= lease)
		return NFS4ERR_CLID_INUSE;
	if (unconf)
		client_free(st, unconf);
	if (conf && !client_has_state(conf))
		client_free(st, conf);
	*out = client_new41(st, verf, id, idlen, principal);
	return *out ? NFS4_OK : NFS4ERR_RESOURCE;
}

nfsstat4 nfs4_exchange_id(struct nfs4_state *st, const char verf[8], const void *id, size_t idlen,
			  uint32_t flags, uint32_t principal, uint64_t *clientid, uint32_t *seq,
			  uint32_t *rflags)
{
	struct client *c = NULL;
	nfsstat4 status;
	pthread_rwlock_wrlock(&st->lock);
	if (flags & EXCHGID4_FLAG_UPD_CONFIRMED_REC_A) {
		c = client_by_owner(st, id, idlen, true);
		status = exchange_update(c, verf, principal);
	} else {
		status = exchange_new(st, verf, id, idlen, principal, &c);
	}
	if (status == NFS4_OK) {
		*clientid = c->clientid;
		*seq = c->cs_seq + 1;
		*rflags = c->confirmed ? EXCHGID4_FLAG_CONFIRMED_R : 0;
		c->renewed = state_now(st);
	}
	pthread_rwlock_unlock(&st->lock);
	return status;
}

static uint32_t clamp(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void chan_negotiate(const struct nfs4_chan *w, struct nfs4_chan *g)
{
	g->maxreq = clamp(w->maxreq, 256, 1049600 + 8192);
	g->maxresp = clamp(w->maxresp, 256, 1049600 + 8192);
	g->maxresp_cached = clamp(w->maxresp_cached, 0, NFS4_MAX_RESP_CACHED);
	g->maxops = clamp(w->maxops, 1, 128);
	g->maxreqs = clamp(w->maxreqs, 1, 64);
}

static struct session *session_new(struct nfs4_state *st, struct client *c,
				   const struct nfs4_chan *chan)
{
	struct session *ss = calloc(1, sizeof(*ss) + chan->maxreqs * sizeof(struct nfs4_seq));
	if (!ss)
		return NULL;
	ss->cl = c;
	ss->chan = *chan;
	ss->nslots = chan->maxreqs;
	for (uint32_t i = 0; i < ss->nslots; i++)
		ss->slots[i].ss = ss;
	uint64_t n = ++st->next_session;
	memcpy(ss->sid, &c->clientid, 8);
	memcpy(ss->sid + 8, &n, 8);
	ss->next = c->sessions;
	c->sessions = ss;
	pthread_mutex_init(&ss->lock, NULL);
	unsigned b = sess_bucket(ss->sid);
	ss->hnext = st->sess[b];
	st->sess[b] = ss;
	return ss;
}

nfsstat4 nfs4_create_session(struct nfs4_state *st, uint64_t clientid, uint32_t seq,
			     uint32_t principal, const struct nfs4_chan *want, char sessionid[16],
			     struct nfs4_chan *got)
{
	nfsstat4 status = NFS4_OK;
	pthread_rwlock_wrlock(&st->lock);
	struct client *c = client_by_id(st, clientid);
	if (!c || !c->v41) {
		status = NFS4ERR_STALE_CLIENTID;
	} else if (!c->confirmed && c->principal != principal) {
		status = NFS4ERR_CLID_INUSE; /* RFC 8881 §18.36.4: until confirmed */
	} else if (seq == c->cs_seq && c->cs_have) {
		memcpy(sessionid, c->cs_sid, 16); /* a retransmission */
		*got = c->cs_chan;
	} else if (seq != c->cs_seq + 1) {
		status = NFS4ERR_SEQ_MISORDERED;
	} else {
		chan_negotiate(want, got);
		struct session *ss = session_new(st, c, got);
		if (!ss) {
			status = NFS4ERR_RESOURCE;
		} else {
			if (!c->confirmed) {
				struct client *prev = client_by_owner(st, c->id, c->idlen, true);
				if (prev)
					client_free(st, prev);
				c->confirmed = true;
				atomic_fetch_add(&st->generation, 1);
			}
			c->cs_seq = seq;
			c->cs_have = true;
			memcpy(c->cs_sid, ss->sid, 16);
			c->cs_chan = *got;
			memcpy(sessionid, ss->sid, 16);
			c->renewed = state_now(st);
		}
	}
	pthread_rwlock_unlock(&st->lock);
	return status;
}

static struct session *session_find(struct nfs4_state *st, const char sid[16])
{
	for (struct session *ss = st->sess[sess_bucket(sid)]; ss; ss = ss->hnext)
		if (!memcmp(ss->sid, sid, 16))
			return ss;
	return NULL;
}

nfsstat4 nfs4_session_exists(struct nfs4_state *st, const char sessionid[16])
{
	pthread_rwlock_rdlock(&st->lock);
	nfsstat4 status = session_find(st, sessionid) ? NFS4_OK : NFS4ERR_BADSESSION;
	pthread_rwlock_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_destroy_session(struct nfs4_state *st, const char sessionid[16])
{
	nfsstat4 status = NFS4_OK;
	pthread_rwlock_wrlock(&st->lock);
	struct session *ss = session_find(st, sessionid);
	if (!ss) {
		status = NFS4ERR_BADSESSION;
	} else if (ss->busy > 1) {
		status = NFS4ERR_DELAY; /* other calls run on it */
	} else {
		/* a COMPOUND of this very session may still hold a slot: it is
		 * released by nfs4_seq_end, which then frees the session */
		for (struct session **l = &ss->cl->sessions; *l; l = &(*l)->next)
			if (*l == ss) {
				*l = ss->next;
				break;
			}
		session_unhash(st, ss);
		ss->cl = NULL;
		if (!ss->busy)
			session_free(ss);
	}
	pthread_rwlock_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_destroy_clientid(struct nfs4_state *st, uint64_t clientid)
{
	nfsstat4 status = NFS4_OK;
	pthread_rwlock_wrlock(&st->lock);
	struct client *c = client_by_id(st, clientid);
	if (!c)
		status = NFS4ERR_STALE_CLIENTID;
	else if (client_has_state(c))
		status = NFS4ERR_CLIENTID_BUSY;
	else
		client_free(st, c);
	pthread_rwlock_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_reclaim_complete(struct nfs4_state *st, uint64_t clientid)
{
	nfsstat4 status = NFS4_OK;
	pthread_rwlock_wrlock(&st->lock);
	struct client *c = client_by_id(st, clientid);
	if (!c)
		status = NFS4ERR_STALE_CLIENTID;
	else if (c->reclaim_done)
		status = NFS4ERR_COMPLETE_ALREADY;
	else
		c->reclaim_done = true;
	pthread_rwlock_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_reclaim_done(struct nfs4_state *st, uint64_t clientid)
{
	pthread_rwlock_rdlock(&st->lock);
	struct client *c = client_by_id(st, clientid);
	nfsstat4 status = !c ? NFS4ERR_STALE_CLIENTID : c->reclaim_done ? NFS4_OK : NFS4ERR_GRACE;
	pthread_rwlock_unlock(&st->lock);
	return status;
}

/* RFC 8881 §2.10.6.1: the slot's next seqid runs; the same one is a
 * retransmission (its saved reply, if any); anything else is misordered. */
static nfsstat4 slot_claim(struct nfs4_seq *sl, uint32_t seqid, bool cachethis)
{
	if (seqid == sl->seqid && sl->seqid) {
		if (sl->busy)
			return NFS4ERR_DELAY;
		if (!sl->cached)
			return NFS4ERR_RETRY_UNCACHED_REP;
		sl->replaying = true;
	} else if (seqid == sl->seqid + 1) {
		sl->replaying = false;
		sl->seqid = seqid;
		sl->cachethis = cachethis;
	} else {
		return NFS4ERR_SEQ_MISORDERED;
	}
	sl->busy = true;
	return NFS4_OK;
}

nfsstat4 nfs4_seq_begin(struct nfs4_state *st, const char sessionid[16], uint32_t seqid,
			uint32_t slot, bool cachethis, struct nfs4_seq **out,
			struct nfs4_seq_out *info)
{
	nfsstat4 status;
	pthread_rwlock_rdlock(&st->lock);
	struct session *ss = session_find(st, sessionid);
	if (!ss) {
		status = NFS4ERR_BADSESSION;
	} else if (slot >= ss->nslots) {
		status = NFS4ERR_BADSLOT;
	} else {
		pthread_mutex_lock(&ss->lock);
		status = slot_claim(&ss->slots[slot], seqid, cachethis);
		if (status == NFS4_OK)
			ss->busy++;
		pthread_mutex_unlock(&ss->lock);
	}
	if (status == NFS4_OK) {
		ss->cl->renewed = state_now(st);
		*out = &ss->slots[slot];
		info->clientid = ss->cl->clientid;
		info->highest_slot = ss->nslots - 1;
		info->maxreq = ss->chan.maxreq;
		info->maxresp = ss->chan.maxresp;
		info->maxops = ss->chan.maxops;
		info->maxresp_cached = ss->chan.maxresp_cached;
		info->status_flags = 0;
	}
	pthread_rwlock_unlock(&st->lock);
	return status;
}

bool nfs4_seq_replay(const struct nfs4_seq *s)
{
	return s && s->replaying;
}

bool nfs4_seq_wants_cache(const struct nfs4_seq *s)
{
	return s && !s->replaying && s->cachethis;
}

/* Releases the slot: ran (its reply saved or not), or cancelled (as if the
 * SEQUENCE never came: its sequence id back to the last one that ran). */
static void seq_release(struct nfs4_state *st, struct nfs4_seq *s, bool cancel, bool saved)
{
	struct session *ss = s->ss;
	pthread_rwlock_rdlock(&st->lock);
	pthread_mutex_lock(&ss->lock);
	if (!s->replaying && cancel)
		s->seqid--;
	else if (!s->replaying)
		s->cached = saved;
	s->busy = false;
	s->replaying = false;
	/* destroyed while this slot was in use: the last one out frees it */
	bool gone = --ss->busy == 0 && !ss->cl;
	pthread_mutex_unlock(&ss->lock);
	pthread_rwlock_unlock(&st->lock);
	if (gone)
		session_free(ss);
}

void nfs4_seq_end(struct nfs4_state *st, struct nfs4_seq *s, bool saved)
{
	seq_release(st, s, false, saved);
}

void nfs4_seq_cancel(struct nfs4_state *st, struct nfs4_seq *s)
{
	seq_release(st, s, true, false);
}

/* ---- owners ----------------------------------------------------------- */

static struct owner *owner_find(struct client *c, const void *id, size_t len, bool is_lock)
{
	for (struct owner *o = c->owners; o; o = o->next)
		if (o->is_lock == is_lock && o->len == len && !memcmp(o->id, id, len))
			return o;
	return NULL;
}

static struct owner *owner_get(struct client *c, const struct nfs4_owner_ref *r, bool is_lock)
{
	struct owner *o = owner_find(c, r->owner, r->len, is_lock);
	if (o)
		return o;
	o = calloc(1, sizeof(*o) + r->len);
	if (!o)
		return NULL;
	o->cl = c;
	o->is_lock = is_lock;
	o->len = r->len;
	memcpy(o->id, r->owner, r->len);
	o->next = c->owners;
	c->owners = o;
	return o;
}

static void owner_free(struct nfs4_state *st, struct client *c, struct owner *o)
{
	if (o->closed)
		sid_free(st, o->closed);
	for (struct owner **l = &c->owners; *l; l = &(*l)->next)
		if (*l == o) {
			*l = o->next;
			free(o);
			return;
		}
}

/* 4.0 owner seqids (RFC 7530 §9.1.7): the next one runs. A new owner takes any. */
static nfsstat4 owner_seqid_check(const struct owner *o, uint32_t seqid, uint32_t minor,
				  uint32_t op)
{
	if (minor || !o || !o->has_seqid || seqid == o->seqid + 1)
		return NFS4_OK;
	/* the last one again, for the same operation: a retransmission */
	if (seqid == o->seqid && o->last.have && o->last.op == op)
		return NFS4_REPLAY;
	return NFS4ERR_BAD_SEQID;
}

/* The seqid advances after every operation but those that could not even tell
 * which owner sent it (RFC 7530 §9.1.7). */
static void owner_seqid_bump(struct owner *o, uint32_t seqid, nfsstat4 status)
{
	if (!o)
		return;
	switch (status) {
	case NFS4ERR_STALE_CLIENTID:
	case NFS4ERR_STALE_STATEID:
	case NFS4ERR_BAD_STATEID:
	case NFS4ERR_BAD_SEQID:
	case NFS4ERR_BADXDR:
	case NFS4ERR_RESOURCE:
	case NFS4ERR_NOFILEHANDLE:
	case NFS4ERR_MOVED:
		return;
	default:
		o->seqid = seqid;
		o->has_seqid = true;
	}
}

/* After a seqid operation of a 4.0 owner: the seqid advances (unless the owner
 * could not be told) and the reply is kept for a retransmission. */
static void owner_done(struct nfs4_state *st, struct owner *o, uint32_t seqid, uint32_t op,
		       nfsstat4 status, const stateid4 *sid)
{
	bool had = o && o->has_seqid;
	uint32_t before = o ? o->seqid : 0;
	owner_seqid_bump(o, seqid, status);
	if (!o || (had && o->seqid == before && seqid != before))
		return; /* not advanced: nothing to replay */
	o->last.have = true;
	o->last.op = op;
	o->last.status = status;
	if (sid)
		o->last.sid = *sid;
	if (o->closed && op != OP_CLOSE) {
		sid_free(st, o->closed);
		o->closed = NULL;
	}
}

/* ---- opens ------------------------------------------------------------ */

nfsstat4 nfs4_open_begin(struct nfs4_state *st, const struct nfs4_owner_ref *r)
{
	struct client *c;
	pthread_rwlock_wrlock(&st->lock);
	nfsstat4 status = client_live(st, r->clientid, &c);
	if (status == NFS4_OK) {
		struct owner *o = owner_find(c, r->owner, r->len, false);
		bool replay = o && o->has_seqid && r->seqid == o->seqid;
		if (o && !o->confirmed && !r->minor && !replay) {
			/* an unconfirmed owner starts over (RFC 7530 §16.18.5) */
			for (struct file *f = st->files, *fn; f; f = fn) {
				fn = f->next;
				for (struct stid *s = f->states, *sn; s; s = sn) {
					sn = s->fnext;
					if (s->ow == o)
						sid_free(st, s);
				}
			}
			owner_free(st, c, o);
			o = NULL;
		}
		status = owner_seqid_check(o, r->seqid, r->minor, OP_OPEN);
	}
	pthread_rwlock_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_open_replay(struct nfs4_state *st, const struct nfs4_owner_ref *r, stateid4 *sid,
			  bool *confirm, uint8_t fh[NFS4_FHSIZE], uint32_t *fhlen)
{
	nfsstat4 status = NFS4ERR_BAD_SEQID;
	pthread_rwlock_rdlock(&st->lock);
	struct client *c = client_by_id(st, r->clientid);
	struct owner *o = c ? owner_find(c, r->owner, r->len, false) : NULL;
	if (o && o->last.have && o->last.op == OP_OPEN) {
		status = o->last.status;
		*sid = o->last.sid;
		*confirm = o->last.confirm;
		*fhlen = o->last.fhlen;
		memcpy(fh, o->last.fh, o->last.fhlen);
	}
	pthread_rwlock_unlock(&st->lock);
	return status;
}

static bool share_conflicts(const struct file *f, const struct owner *me, uint32_t access,
			    uint32_t deny)
{
	for (const struct stid *s = f->states; s; s = s->fnext) {
		/* the owner's own opens count too, as in knfsd: a file it opened
		 * with DENY_WRITE is not opened for writing by it either */
		(void)me;
		if (s->type != SID_OPEN)
			continue;
		if ((s->deny & access) || (s->access & deny))
			return true;
	}
	return false;
}

nfsstat4 nfs4_share_check(struct nfs4_state *st, const struct nfs4_owner_ref *r,
			  const struct nfs4_fileid *fid, uint32_t access, uint32_t deny)
{
	nfsstat4 status = NFS4_OK;
	pthread_rwlock_wrlock(&st->lock);
	struct client *c = client_by_id(st, r->clientid);
	struct file *f = file_get(st, fid, false);
	struct owner *o = c ? owner_find(c, r->owner, r->len, false) : NULL;
	if (f && share_conflicts(f, o, access, deny))
		status = NFS4ERR_SHARE_DENIED;
	pthread_rwlock_unlock(&st->lock);
	return status;
}

static struct stid *open_of(struct file *f, struct owner *o)
{
	for (struct stid *s = f->states; s; s = s->fnext)
		if (s->type == SID_OPEN && s->ow == o)
			return s;
	return NULL;
}

static nfsstat4 open_record(struct nfs4_state *st, struct client *c, struct owner *o,
			    const struct nfs4_fileid *fid, uint32_t access, uint32_t deny,
			    stateid4 *sid)
{
	struct file *f = file_get(st, fid, true);
	if (!f)
		return NFS4ERR_RESOURCE;
	if (share_conflicts(f, o, access, deny)) {
		file_put(st, f);
		return NFS4ERR_SHARE_DENIED;
	}
	struct stid *s = open_of(f, o);
	if (s) {
		s->seqid++; /* an upgrade (RFC 7530 §9.11) */
	} else if (!(s = sid_new(st, SID_OPEN, o, f))) {
		file_put(st, f);
		return NFS4ERR_RESOURCE;
	}
	(void)c;
	s->access |= access;
	s->deny |= deny;
	s->access_bmap |= 1u << access;
	s->deny_bmap |= 1u << deny;
	s->confirmed = o->confirmed;
	sid_to_wire(st, s, sid);
	return NFS4_OK;
}

nfsstat4 nfs4_open_finish(struct nfs4_state *st, const struct nfs4_owner_ref *r,
			  const struct nfs4_fileid *fid, uint32_t access, uint32_t deny,
			  nfsstat4 fs_status, const void *fh, uint32_t fhlen, stateid4 *sid,
			  bool *confirm)
{
	struct client *c;
	pthread_rwlock_wrlock(&st->lock);
	nfsstat4 status = client_live(st, r->clientid, &c);
	struct owner *o = status == NFS4_OK ? owner_get(c, r, false) : NULL;
	if (status == NFS4_OK && !o)
		status = NFS4ERR_RESOURCE;
	if (status == NFS4_OK)
		status = fs_status;
	if (status == NFS4_OK) {
		if (r->minor || r->reclaim)
			o->confirmed = true;
		status = open_record(st, c, o, fid, access, deny, sid);
		*confirm = !o->confirmed;
	}
	if (o && !r->minor) {
		owner_done(st, o, r->seqid, OP_OPEN, status, sid);
		o->last.confirm = *confirm;
		o->last.fhlen = fhlen <= NFS4_FHSIZE ? fhlen : 0;
		memcpy(o->last.fh, fh, o->last.fhlen);
	}
	pthread_rwlock_unlock(&st->lock);
	return status;
}

/* Finds an open stateid on this file for a seqid-carrying operation. */
/* An open stateid on this file for a seqid-carrying operation; a CLOSEd one
 * only when asked (a CLOSE replay). */
static nfsstat4 open_sid_any(struct nfs4_state *st, const struct nfs4_fileid *fid,
			     const stateid4 *sid, uint32_t minor, bool closed, struct stid **out)
{
	struct stid *s = NULL;
	nfsstat4 status = sid_find(st, sid, minor, &s);
	if (s && s->type == SID_CLOSED && closed) {
		*out = s;
		return NFS4ERR_BAD_STATEID; /* unless the owner's seqid says replay */
	}
	if (status != NFS4_OK && status != NFS4ERR_OLD_STATEID)
		return status;
	if (s->type != SID_OPEN)
		return NFS4ERR_BAD_STATEID;
	if (s->file->id.exp != fid->exp || !fsal_key_eq(&s->file->id.key, &fid->key))
		return NFS4ERR_BAD_STATEID;
	*out = s;
	return status;
}

static nfsstat4 open_sid(struct nfs4_state *st, const struct nfs4_fileid *fid, const stateid4 *sid,
			 uint32_t minor, struct stid **out)
{
	return open_sid_any(st, fid, sid, minor, false, out);
}

/* A retransmission gets what the first one got. */
static nfsstat4 owner_replay(const struct owner *o, stateid4 *sid)
{
	*sid = o->last.sid;
	return o->last.status;
}

nfsstat4 nfs4_open_confirm(struct nfs4_state *st, const struct nfs4_fileid *fid, stateid4 *sid,
			   uint32_t seqid)
{
	struct stid *s = NULL;
	pthread_rwlock_wrlock(&st->lock);
	nfsstat4 status = open_sid(st, fid, sid, 0, &s);
	if (status == NFS4_OK || status == NFS4ERR_OLD_STATEID) {
		nfsstat4 sq = owner_seqid_check(s->ow, seqid, 0, OP_OPEN_CONFIRM);
		if (sq == NFS4_REPLAY) {
			status = owner_replay(s->ow, sid);
			goto out;
		}
		if (sq != NFS4_OK)
			status = sq;
		else if (status == NFS4_OK && s->ow->confirmed)
			status = NFS4ERR_BAD_STATEID;
		if (status == NFS4_OK) {
			s->ow->confirmed = true;
			s->confirmed = true;
			s->seqid++;
			sid_to_wire(st, s, sid);
		}
		owner_done(st, s->ow, seqid, OP_OPEN_CONFIRM, status, sid);
	}
out:
	pthread_rwlock_unlock(&st->lock);
	return status;
}

/* Common start of CLOSE and OPEN_DOWNGRADE: the stateid, the owner's seqid.
 * NFS4_REPLAY with *out set: answer with the owner's saved reply. */
static nfsstat4 open_seq_op(struct nfs4_state *st, const struct nfs4_fileid *fid,
			    const stateid4 *sid, uint32_t seqid, uint32_t minor, uint32_t op,
			    struct stid **out)
{
	struct stid *s = NULL;
	nfsstat4 status = open_sid_any(st, fid, sid, minor, op == OP_CLOSE, &s);
	if (s) {
		nfsstat4 sq = owner_seqid_check(s->ow, seqid, minor, op);
		if (sq == NFS4_REPLAY) {
			*out = s;
			return sq;
		}
		if (sq != NFS4_OK)
			status = sq;
		else if (status == NFS4_OK && !s->confirmed)
			status = NFS4ERR_BAD_STATEID;
		if (status == NFS4_OK)
			s->cl->renewed = state_now(st);
	}
	*out = s;
	return status;
}

nfsstat4 nfs4_open_downgrade(struct nfs4_state *st, const struct nfs4_fileid *fid, stateid4 *sid,
			     uint32_t seqid, uint32_t minor, uint32_t access, uint32_t deny)
{
	struct stid *s;
	pthread_rwlock_wrlock(&st->lock);
	nfsstat4 status = open_seq_op(st, fid, sid, seqid, minor, OP_OPEN_DOWNGRADE, &s);
	if (status == NFS4_REPLAY) {
		status = owner_replay(s->ow, sid);
		goto out;
	}
	if (status == NFS4_OK) {
		/* only to modes asked before (RFC 7530 §16.19.4) */
		if ((access & ~s->access) || (deny & ~s->deny) ||
		    !(s->access_bmap & (1u << access)) || !(s->deny_bmap & (1u << deny)))
			status = NFS4ERR_INVAL;
	}
	if (status == NFS4_OK) {
		s->access = access;
		s->deny = deny;
		s->access_bmap = 1u << access;
		s->deny_bmap = 1u << deny;
		s->seqid++;
		sid_to_wire(st, s, sid);
	}
	if (s && !minor)
		owner_done(st, s->ow, seqid, OP_OPEN_DOWNGRADE, status, sid);
out:
	pthread_rwlock_unlock(&st->lock);
	return status;
}

/* A closed open leaves its file; 4.0 keeps it (in the hash only) until its
 * owner's next seqid operation, so that a retransmitted CLOSE finds it. */
static void open_closed(struct nfs4_state *st, struct stid *s, uint32_t minor)
{
	for (struct stid *l = s->file->states, *ln; l; l = ln) {
		ln = l->fnext;
		if (l->type == SID_LOCK && l->open == s)
			sid_free(st, l); /* its lock states (without locks) go */
	}
	if (minor) {
		sid_free(st, s);
		return;
	}
	struct file *f = s->file;
	for (struct stid **l = &f->states; *l; l = &(*l)->fnext)
		if (*l == s) {
			*l = s->fnext;
			break;
		}
	s->file = NULL;
	s->type = SID_CLOSED;
	file_put(st, f);
	if (s->ow->closed)
		sid_free(st, s->ow->closed);
	s->ow->closed = s;
}

nfsstat4 nfs4_close(struct nfs4_state *st, const struct nfs4_fileid *fid, stateid4 *sid,
		    uint32_t seqid, uint32_t minor)
{
	struct stid *s;
	pthread_rwlock_wrlock(&st->lock);
	nfsstat4 status = open_seq_op(st, fid, sid, seqid, minor, OP_CLOSE, &s);
	if (status == NFS4_REPLAY) {
		status = owner_replay(s->ow, sid);
		goto out;
	}
	/* Locks still held go with the open (open_closed): RFC 8881 §18.2.4 allows
	 * it, knfsd does it, and a client that closes has no use for them. */
	if (status == NFS4_OK) {
		s->seqid++;
		sid_to_wire(st, s, sid);
		if (minor) { /* RFC 8881 §18.2.4: the invalid special stateid */
			memset(sid, 0, sizeof(*sid));
			sid->seqid = UINT32_MAX;
		}
	}
	if (s && !minor)
		owner_done(st, s->ow, seqid, OP_CLOSE, status, sid);
	if (status == NFS4_OK)
		open_closed(st, s, minor);
out:
	pthread_rwlock_unlock(&st->lock);
	return status;
}

/* ---- locks ------------------------------------------------------------ */

static uint64_t lock_end(uint64_t off, uint64_t len)
{
	return len == UINT64_MAX || off + len - 1 < off ? UINT64_MAX : off + len - 1;
}

static bool lock_is_write(uint32_t type)
{
	return type == WRITE_LT || type == WRITEW_LT;
}

/* The first lock of another owner that conflicts with [start, end] of `type`. */
static const struct range *lock_conflict(const struct file *f, const struct owner *me,
					 const struct client *mine, uint32_t type, uint64_t start,
					 uint64_t end, const struct stid **holder)
{
	for (const struct stid *s = f->states; s; s = s->fnext) {
		if (s->type != SID_LOCK || s->ow == me || (mine && s->cl == mine))
			continue;
		for (const struct range *r = s->ranges; r; r = r->next)
			if (r->start <= end && start <= r->end &&
			    (lock_is_write(type) || lock_is_write(r->type))) {
				*holder = s;
				return r;
			}
	}
	return NULL;
}

static void lock_denied(const struct range *r, const struct stid *s, struct nfs4_lock_denied *d,
			void *buf, size_t buflen)
{
	d->off = r->start;
	d->len = r->end == UINT64_MAX ? UINT64_MAX : r->end - r->start + 1;
	d->type = r->type;
	d->clientid = s->cl->clientid;
	d->ownerlen = s->ow->len < buflen ? s->ow->len : buflen;
	memcpy(buf, s->ow->id, d->ownerlen);
	d->owner = buf;
}

/* Removes [start, end] from a lock state's ranges, splitting where needed. */
static bool ranges_cut(struct stid *s, uint64_t start, uint64_t end)
{
	for (struct range **l = &s->ranges; *l;) {
		struct range *r = *l;
		if (r->end < start || r->start > end) {
			l = &r->next;
			continue;
		}
		if (r->start < start && r->end > end) {
			struct range *tail = malloc(sizeof(*tail));
			if (!tail)
				return false;
			*tail = *r;
			tail->start = end + 1;
			r->end = start - 1;
			r->next = tail;
			return true;
		}
		if (r->start < start) {
			r->end = start - 1;
			l = &r->next;
		} else if (r->end > end) {
			r->start = end + 1;
			l = &r->next;
		} else {
			*l = r->next;
			free(r);
		}
	}
	return true;
}

static nfsstat4 ranges_add(struct stid *s, uint32_t type, uint64_t start, uint64_t end)
{
	struct range *r = malloc(sizeof(*r));
	if (!r || !ranges_cut(s, start, end)) {
		free(r);
		return NFS4ERR_RESOURCE;
	}
	r->start = start;
	r->end = end;
	r->type = lock_is_write(type) ? WRITE_LT : READ_LT;
	for (struct range **l = &s->ranges; *l;) {
		struct range *o = *l;
		bool touch = o->start <= (r->end == UINT64_MAX ? r->end : r->end + 1) &&
			     r->start <= (o->end == UINT64_MAX ? o->end : o->end + 1);
		if (o->type != r->type || !touch) {
			l = &o->next;
			continue;
		}
		r->start = o->start < r->start ? o->start : r->start;
		r->end = o->end > r->end ? o->end : r->end;
		*l = o->next;
		free(o);
	}
	r->next = s->ranges;
	s->ranges = r;
	return NFS4_OK;
}

static nfsstat4 lock_range_ok(uint64_t off, uint64_t len)
{
	if (len == 0)
		return NFS4ERR_INVAL;
	if (len != UINT64_MAX && off + len < off)
		return NFS4ERR_INVAL;
	return NFS4_OK;
}

/* LOCK with a new lock owner: from an open stateid and its owner's seqid.
 * *so: the owner whose seqid this LOCK used (its reply is kept there). */
static nfsstat4 lock_state_new(struct nfs4_state *st, const struct nfs4_fileid *fid,
			       const struct nfs4_lock_req *r, struct stid **out, struct owner **so)
{
	struct stid *open = NULL;
	nfsstat4 status = open_sid(st, fid, &r->open_sid, r->minor, &open);
	if (!open)
		return status;
	*so = open->ow;
	nfsstat4 sq = owner_seqid_check(open->ow, r->open_seqid, r->minor, OP_LOCK);
	if (sq != NFS4_OK)
		return sq; /* BAD_SEQID or a replay */
	if (status == NFS4_OK && !open->confirmed)
		status = NFS4ERR_BAD_STATEID;
	if (status == NFS4_OK && r->lock_owner.clientid != open->cl->clientid)
		status = NFS4ERR_BAD_STATEID;
	if (status != NFS4_OK)
		return status;
	struct owner *lo = owner_find(open->cl, r->lock_owner.owner, r->lock_owner.len, true);
	struct stid *s = NULL;
	for (struct stid *x = lo ? open->file->states : NULL; x && !s; x = x->fnext)
		if (x->type == SID_LOCK && x->ow == lo)
			s = x;
	if (s) {
		/* the lock owner has a state on this file already: reuse it (as
		 * knfsd does); its own seqid must be the next one */
		status = owner_seqid_check(lo, r->lock_owner.seqid, r->minor, OP_LOCK);
		if (status == NFS4_REPLAY)
			status = NFS4ERR_BAD_SEQID;
	} else if (!lo && !(lo = owner_get(open->cl, &r->lock_owner, true))) {
		status = NFS4ERR_RESOURCE;
	} else if (!(s = sid_new(st, SID_LOCK, lo, open->file))) {
		status = NFS4ERR_RESOURCE;
	} else {
		s->open = open;
		s->seqid = 0; /* the first LOCK makes it 1 */
	}
	if (status == NFS4_OK) {
		*out = s;
		if (!r->minor)
			owner_seqid_bump(lo, r->lock_owner.seqid, status);
	}
	return status;
}

static nfsstat4 lock_state_old(struct nfs4_state *st, const struct nfs4_fileid *fid,
			       const stateid4 *sid, uint32_t seqid, uint32_t minor, uint32_t op,
			       struct stid **out, struct owner **so)
{
	struct stid *s = NULL;
	nfsstat4 status = sid_find(st, sid, minor, &s);
	if (status != NFS4_OK && status != NFS4ERR_OLD_STATEID)
		return status;
	if (s->type != SID_LOCK || s->file->id.exp != fid->exp ||
	    !fsal_key_eq(&s->file->id.key, &fid->key))
		return NFS4ERR_BAD_STATEID;
	*so = s->ow;
	nfsstat4 sq = owner_seqid_check(s->ow, seqid, minor, op);
	if (sq != NFS4_OK)
		return sq;
	*out = s;
	return status;
}

/* Keeps a LOCK's reply (a DENIED with its holder) for a retransmission. */
static void lock_done(struct nfs4_state *st, struct owner *so, uint32_t seqid, nfsstat4 status,
		      const stateid4 *sid, const struct nfs4_lock_denied *d)
{
	owner_done(st, so, seqid, OP_LOCK, status, sid);
	if (status == NFS4ERR_DENIED && so->last.have && so->last.op == OP_LOCK) {
		so->last.d = *d;
		so->last.d.ownerlen =
		    d->ownerlen < REPLAY_OWNER_MAX ? d->ownerlen : REPLAY_OWNER_MAX;
		memcpy(so->last.downer, d->owner, so->last.d.ownerlen);
	}
}

static nfsstat4 lock_replay(const struct owner *so, stateid4 *out, struct nfs4_lock_denied *d,
			    void *owner_buf, size_t owner_buf_len)
{
	nfsstat4 status = owner_replay(so, out);
	if (status == NFS4ERR_DENIED) {
		*d = so->last.d;
		d->ownerlen = d->ownerlen < owner_buf_len ? d->ownerlen : owner_buf_len;
		memcpy(owner_buf, so->last.downer, d->ownerlen);
		d->owner = owner_buf;
	}
	return status;
}

static nfsstat4 lock_apply(struct nfs4_state *st, struct stid *s, const struct nfs4_lock_req *r,
			   struct nfs4_lock_denied *d, void *owner_buf, size_t owner_buf_len)
{
	uint64_t end = lock_end(r->off, r->len);
	const struct stid *holder;
	const struct range *c = lock_conflict(s->file, s->ow, NULL, r->type, r->off, end, &holder);
	s->cl->renewed = state_now(st);
	if (c) {
		lock_denied(c, holder, d, owner_buf, owner_buf_len);
		return NFS4ERR_DENIED;
	}
	bool write = r->type == WRITE_LT || r->type == WRITEW_LT;
	if (!(s->open->access & (write ? OPEN4_SHARE_ACCESS_WRITE : OPEN4_SHARE_ACCESS_READ)))
		return NFS4ERR_OPENMODE;
	return ranges_add(s, r->type, r->off, end);
}

nfsstat4 nfs4_lock(struct nfs4_state *st, const struct nfs4_fileid *fid,
		   const struct nfs4_lock_req *r, stateid4 *out, struct nfs4_lock_denied *d,
		   void *owner_buf, size_t owner_buf_len)
{
	struct stid *s = NULL;
	struct owner *so = NULL;
	uint32_t seqid = r->new_owner ? r->open_seqid : r->lock_seqid;
	nfsstat4 status = lock_range_ok(r->off, r->len);
	if (status != NFS4_OK)
		return status;
	pthread_rwlock_wrlock(&st->lock);
	if (r->new_owner)
		status = lock_state_new(st, fid, r, &s, &so);
	else
		status = lock_state_old(st, fid, &r->lock_sid, seqid, r->minor, OP_LOCK, &s, &so);
	if (status == NFS4_REPLAY) {
		status = lock_replay(so, out, d, owner_buf, owner_buf_len);
		goto out;
	}
	if (status == NFS4_OK)
		status = lock_apply(st, s, r, d, owner_buf, owner_buf_len);
	if (status == NFS4_OK) {
		s->seqid++;
		sid_to_wire(st, s, out);
	}
	if (so && !r->minor)
		lock_done(st, so, seqid, status, out, d);
	if (status != NFS4_OK && s && r->new_owner && !s->ranges && s->seqid == 0)
		sid_free(st, s); /* a lock state that never held a lock */
out:
	pthread_rwlock_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_lockt(struct nfs4_state *st, const struct nfs4_fileid *fid, uint32_t type,
		    uint64_t off, uint64_t len, const struct nfs4_owner_ref *o,
		    struct nfs4_lock_denied *d, void *owner_buf, size_t owner_buf_len)
{
	struct client *c;
	nfsstat4 status = lock_range_ok(off, len);
	if (status != NFS4_OK)
		return status;
	pthread_rwlock_wrlock(&st->lock);
	status = client_live(st, o->clientid, &c);
	if (status == NFS4_OK) {
		struct owner *me = owner_find(c, o->owner, o->len, true);
		struct file *f = file_get(st, fid, false);
		const struct stid *holder;
		const struct range *r =
		    f ? lock_conflict(f, me, NULL, type, off, lock_end(off, len), &holder) : NULL;
		if (r) {
			lock_denied(r, holder, d, owner_buf, owner_buf_len);
			status = NFS4ERR_DENIED;
		}
	}
	pthread_rwlock_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_locku(struct nfs4_state *st, const struct nfs4_fileid *fid, stateid4 *sid,
		    uint32_t seqid, uint32_t minor, uint64_t off, uint64_t len)
{
	struct stid *s = NULL;
	struct owner *so = NULL;
	nfsstat4 status = lock_range_ok(off, len);
	if (status != NFS4_OK)
		return status;
	pthread_rwlock_wrlock(&st->lock);
	status = lock_state_old(st, fid, sid, seqid, minor, OP_LOCKU, &s, &so);
	if (status == NFS4_REPLAY) {
		status = owner_replay(so, sid);
		goto out;
	}
	if (status == NFS4_OK && !ranges_cut(s, off, lock_end(off, len)))
		status = NFS4ERR_RESOURCE;
	if (status == NFS4_OK) {
		s->seqid++;
		sid_to_wire(st, s, sid);
	}
	if (so && !minor)
		owner_done(st, so, seqid, OP_LOCKU, status, sid);
out:
	pthread_rwlock_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_release_lockowner(struct nfs4_state *st, const struct nfs4_owner_ref *r)
{
	struct client *c;
	pthread_rwlock_wrlock(&st->lock);
	nfsstat4 status = client_live(st, r->clientid, &c);
	struct owner *o = status == NFS4_OK ? owner_find(c, r->owner, r->len, true) : NULL;
	for (struct file *f = st->files; o && f && status == NFS4_OK; f = f->next)
		for (struct stid *s = f->states; s; s = s->fnext)
			if (s->ow == o && s->ranges)
				status = NFS4ERR_LOCKS_HELD;
	if (o && status == NFS4_OK) {
		for (struct file *f = st->files, *fn; f; f = fn) {
			fn = f->next;
			for (struct stid *s = f->states, *sn; s; s = sn) {
				sn = s->fnext;
				if (s->ow == o)
					sid_free(st, s);
			}
		}
		owner_free(st, c, o);
	}
	pthread_rwlock_unlock(&st->lock);
	return status;
}

/* ---- I/O checks -------------------------------------------------------- */

/* An anonymous READ/WRITE (special stateid) meets others' deny modes and locks. */
static nfsstat4 io_conflicts(struct nfs4_state *st, const struct nfs4_fileid *fid,
			     const struct owner *me, uint32_t want, uint64_t off, uint64_t len,
			     bool check_share)
{
	struct file *f = file_get(st, fid, false);
	if (!f)
		return NFS4_OK;
	if (check_share)
		for (const struct stid *s = f->states; s; s = s->fnext)
			if (s->type == SID_OPEN && (s->deny & want))
				return NFS4ERR_LOCKED;
	const struct stid *holder;
	uint32_t type = want & OPEN4_SHARE_ACCESS_WRITE ? WRITE_LT : READ_LT;
	/* a client's own locks do not stop its I/O, whichever stateid it uses */
	if (len &&
	    lock_conflict(f, NULL, me ? me->cl : NULL, type, off, lock_end(off, len), &holder))
		return NFS4ERR_LOCKED;
	return NFS4_OK;
}

/* A write-only open may READ (RFC 7530 §8.1.4 allows it, knfsd does it): a client
 * writing a partial page reads the rest of it under the same open. */
static bool open_permits(uint32_t access, uint32_t want)
{
	if (want == OPEN4_SHARE_ACCESS_READ)
		return access & (OPEN4_SHARE_ACCESS_READ | OPEN4_SHARE_ACCESS_WRITE);
	return access & want;
}

nfsstat4 nfs4_stateid_check(struct nfs4_state *st, const stateid4 *sid,
			    const struct nfs4_fileid *fid, uint32_t want, uint64_t off,
			    uint64_t len, uint32_t minor, uint64_t clientid)
{
	struct stid *s = NULL;
	nfsstat4 status;
	bool zero = sid_is_special(sid, 0), ones = sid_is_special(sid, 0xff);

	pthread_rwlock_rdlock(&st->lock);
	if ((zero && sid->seqid == 0) || (ones && sid->seqid == UINT32_MAX)) {
		bool bypass = ones && want == OPEN4_SHARE_ACCESS_READ;
		status = bypass ? NFS4_OK : io_conflicts(st, fid, NULL, want, off, len, true);
	} else if (zero || ones) {
		status = NFS4ERR_BAD_STATEID;
	} else {
		status = sid_find(st, sid, minor, &s);
		if (status == NFS4_OK && clientid && s->cl->clientid != clientid)
			status = NFS4ERR_BAD_STATEID; /* another client's (4.1 session) */
		if (status == NFS4_OK &&
		    (s->file->id.exp != fid->exp || !fsal_key_eq(&s->file->id.key, &fid->key)))
			status = NFS4ERR_BAD_STATEID;
		struct stid *open = s && s->type == SID_LOCK ? s->open : s;
		if (status == NFS4_OK && !open->confirmed)
			status = NFS4ERR_BAD_STATEID;
		if (status == NFS4_OK && !open_permits(open->access, want))
			status = NFS4ERR_OPENMODE;
		if (status == NFS4_OK) {
			s->cl->renewed = state_now(st);
			status = io_conflicts(st, fid, s->ow, want, off, len, false);
		}
	}
	pthread_rwlock_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_test_stateid(struct nfs4_state *st, uint64_t clientid, const stateid4 *sid)
{
	struct stid *s = NULL;
	pthread_rwlock_rdlock(&st->lock);
	nfsstat4 status = sid_find(st, sid, 1, &s);
	if (status == NFS4_OK && s->cl->clientid != clientid)
		status = NFS4ERR_BAD_STATEID;
	pthread_rwlock_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_free_stateid(struct nfs4_state *st, uint64_t clientid, const stateid4 *sid)
{
	struct stid *s = NULL;
	pthread_rwlock_wrlock(&st->lock);
	nfsstat4 status = sid_find(st, sid, 1, &s);
	if (status == NFS4_OK && s->cl->clientid != clientid)
		status = NFS4ERR_BAD_STATEID;
	if (status == NFS4_OK && (s->type == SID_OPEN || s->ranges))
		status = NFS4ERR_LOCKS_HELD;
	if (status == NFS4_OK)
		sid_free(st, s);
	pthread_rwlock_unlock(&st->lock);
	return status;
}

nfsstat4 nfs4_delegreturn(struct nfs4_state *st, const stateid4 *sid)
{
	struct stid *s = NULL;
	pthread_rwlock_wrlock(&st->lock);
	nfsstat4 status = sid_find(st, sid, 0, &s);
	pthread_rwlock_unlock(&st->lock);
	if (status == NFS4ERR_STALE_STATEID)
		return status;
	return NFS4ERR_BAD_STATEID; /* no delegation is ever granted */
}
