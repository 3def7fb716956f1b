/*
 * test_nfs4_state.c — NFSv4 state tables (server/nfs4/state.c) on an injected
 * clock: lease renewal and expiry freeing a client's opens and locks, share
 * reservations, byte-range lock conflicts, stateids of another file or client,
 * the 4.0 owner seqid, and the 4.1 slot table (replay, misorder, bad slot).
 */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "server/nfs4/recovery.h"
#include "server/nfs4/state.h"

int twinfs_register_tests(void);

static uint64_t fake_ms;
static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_ms;
}

static struct nfs4_state *mk(void)
{
	struct nfs4_state_params p = {.lease_sec = 10, .clock = fake_clock};
	struct nfs4_state *st = NULL;
	fake_ms = 1000000;
	CU_ASSERT_FATAL(nfs4_state_create(&p, &st) == 0);
	return st;
}

/* A confirmed 4.0 client named `name`. */
static uint64_t client40(struct nfs4_state *st, const char *name)
{
	uint64_t id;
	char confirm[8];
	CU_ASSERT_EQUAL(nfs4_setclientid(st, "verifier", name, strlen(name), 0, &id, confirm),
			NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_setclientid_confirm(st, id, confirm), NFS4_OK);
	return id;
}

static struct nfs4_fileid file(unsigned char k)
{
	struct nfs4_fileid f = {.exp = 1, .key = {.len = 1, .data = {k}}};
	return f;
}

/* A confirmed open (4.0: OPEN + OPEN_CONFIRM). */
static nfsstat4 open40(struct nfs4_state *st, uint64_t cl, const char *owner, uint32_t *seqid,
		       const struct nfs4_fileid *f, uint32_t access, uint32_t deny, stateid4 *sid)
{
	struct nfs4_owner_ref o = {cl, owner, strlen(owner), ++*seqid, 0, false};
	bool confirm = false;
	nfsstat4 s = nfs4_open_begin(st, &o);
	if (s == NFS4_OK)
		s = nfs4_open_finish(st, &o, f, access, deny, NFS4_OK, "fh", 2, sid, &confirm);
	if (s == NFS4_OK && confirm)
		s = nfs4_open_confirm(st, f, sid, ++*seqid);
	return s;
}

static void test_lease_expiry(void)
{
	struct nfs4_state *st = mk();
	uint64_t a = client40(st, "a"), b = client40(st, "b");
	struct nfs4_fileid f = file(1);
	stateid4 sid;
	uint32_t seq = 0;
	CU_ASSERT_EQUAL(
	    open40(st, a, "oa", &seq, &f, OPEN4_SHARE_ACCESS_BOTH, OPEN4_SHARE_DENY_WRITE, &sid),
	    NFS4_OK);
	fake_ms += 6000;
	CU_ASSERT_EQUAL(nfs4_renew(st, a), NFS4_OK);
	fake_ms += 6000; /* b: 12 s silent, a: renewed 6 s ago */
	CU_ASSERT_EQUAL(nfs4_state_reap(st), 1);
	CU_ASSERT_EQUAL(nfs4_renew(st, b), NFS4ERR_EXPIRED);
	CU_ASSERT_EQUAL(nfs4_renew(st, a), NFS4_OK);
	/* a's open still denies writers */
	uint64_t c = client40(st, "c");
	stateid4 sc;
	uint32_t seqc = 0;
	CU_ASSERT_EQUAL(open40(st, c, "oc", &seqc, &f, OPEN4_SHARE_ACCESS_WRITE, 0, &sc),
			NFS4ERR_SHARE_DENIED);
	fake_ms += 11000;
	CU_ASSERT_EQUAL(nfs4_renew(st, c), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_state_reap(st), 1); /* a expired: its open is gone */
	CU_ASSERT_EQUAL(open40(st, c, "oc", &seqc, &f, OPEN4_SHARE_ACCESS_WRITE, 0, &sc), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_stateid_check(st, &sid, &f, OPEN4_SHARE_ACCESS_READ, 0, 1, 0, 0),
			NFS4ERR_EXPIRED);
	CU_ASSERT_EQUAL(nfs4_state_clients(st), 1);
	nfs4_state_destroy(st);
}

/* A client is told EXPIRED, not STALE_CLIENTID, however many others expired
 * with it: pynfs RENEW3 met the latter after CID5's 1024 clients. */
static void test_many_expired(void)
{
	struct nfs4_state *st = mk();
	enum { N = 1500 };
	uint64_t first = client40(st, "c0"), last = first;
	char name[16];
	for (int i = 1; i < N; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		last = client40(st, name);
	}
	struct nfs4_fileid f = file(1);
	stateid4 sid;
	uint32_t seq = 0;
	CU_ASSERT_EQUAL(open40(st, last, "o", &seq, &f, OPEN4_SHARE_ACCESS_BOTH, 0, &sid), NFS4_OK);
	fake_ms += 11000;
	CU_ASSERT_EQUAL(nfs4_state_reap(st), N);
	CU_ASSERT_EQUAL(nfs4_renew(st, last), NFS4ERR_EXPIRED);
	CU_ASSERT_EQUAL(nfs4_renew(st, first), NFS4ERR_EXPIRED);
	CU_ASSERT_EQUAL(nfs4_stateid_check(st, &sid, &f, OPEN4_SHARE_ACCESS_READ, 0, 1, 0, 0),
			NFS4ERR_EXPIRED);
	/* never issued, or of another instance: STALE */
	CU_ASSERT_EQUAL(nfs4_renew(st, last + 1), NFS4ERR_STALE_CLIENTID);
	CU_ASSERT_EQUAL(nfs4_renew(st, 0), NFS4ERR_STALE_CLIENTID);
	CU_ASSERT_EQUAL(nfs4_renew(st, last ^ (1ULL << 40)), NFS4ERR_STALE_CLIENTID);
	/* a new client of the same name is live again */
	uint64_t again = client40(st, "c0");
	CU_ASSERT_EQUAL(nfs4_renew(st, again), NFS4_OK);
	nfs4_state_destroy(st);
}

static void test_stateids(void)
{
	struct nfs4_state *st = mk();
	uint64_t a = client40(st, "a");
	struct nfs4_fileid f = file(1), g = file(2);
	stateid4 sid, old;
	uint32_t seq = 0;
	CU_ASSERT_EQUAL(open40(st, a, "oa", &seq, &f, OPEN4_SHARE_ACCESS_READ, 0, &sid), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_stateid_check(st, &sid, &f, OPEN4_SHARE_ACCESS_READ, 0, 1, 0, 0),
			NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_stateid_check(st, &sid, &g, OPEN4_SHARE_ACCESS_READ, 0, 1, 0, 0),
			NFS4ERR_BAD_STATEID);
	CU_ASSERT_EQUAL(nfs4_stateid_check(st, &sid, &f, OPEN4_SHARE_ACCESS_WRITE, 0, 1, 0, 0),
			NFS4ERR_OPENMODE);
	/* a write-only open may READ: a client writing part of a page reads the rest */
	stateid4 w;
	uint32_t wseq = 0;
	CU_ASSERT_EQUAL(open40(st, a, "ow", &wseq, &g, OPEN4_SHARE_ACCESS_WRITE, 0, &w), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_stateid_check(st, &w, &g, OPEN4_SHARE_ACCESS_READ, 0, 1, 0, 0),
			NFS4_OK);
	old = sid;
	/* an upgrade bumps the seqid: the old one is OLD */
	CU_ASSERT_EQUAL(open40(st, a, "oa", &seq, &f, OPEN4_SHARE_ACCESS_BOTH, 0, &sid), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_stateid_check(st, &old, &f, OPEN4_SHARE_ACCESS_READ, 0, 1, 0, 0),
			NFS4ERR_OLD_STATEID);
	/* a reclaim (CLAIM_PREVIOUS) needs no OPEN_CONFIRM: Linux sends none usable */
	struct nfs4_owner_ref rc = {a, "reclaimer", 9, 7, 0, true};
	struct nfs4_fileid h = file(9);
	stateid4 rs;
	bool confirm = true;
	CU_ASSERT_EQUAL(nfs4_open_begin(st, &rc), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_open_finish(st, &rc, &h, OPEN4_SHARE_ACCESS_READ, 0, NFS4_OK, "fh", 2,
					 &rs, &confirm),
			NFS4_OK);
	CU_ASSERT_FALSE(confirm);
	CU_ASSERT_EQUAL(nfs4_stateid_check(st, &rs, &h, OPEN4_SHARE_ACCESS_READ, 0, 1, 0, 0),
			NFS4_OK);
	/* a forged counter is BAD, another instance's epoch STALE */
	stateid4 forged = sid;
	forged.other[8] ^= 0x55;
	CU_ASSERT_EQUAL(nfs4_stateid_check(st, &forged, &f, OPEN4_SHARE_ACCESS_READ, 0, 1, 0, 0),
			NFS4ERR_BAD_STATEID);
	forged = sid;
	forged.other[0] ^= 0x55;
	CU_ASSERT_EQUAL(nfs4_stateid_check(st, &forged, &f, OPEN4_SHARE_ACCESS_READ, 0, 1, 0, 0),
			NFS4ERR_STALE_STATEID);
	/* a seqid out of order is BAD_SEQID, and does not advance */
	CU_ASSERT_EQUAL(nfs4_close(st, &f, &sid, seq + 5, 0), NFS4ERR_BAD_SEQID);
	stateid4 before = sid;
	CU_ASSERT_EQUAL(nfs4_close(st, &f, &sid, ++seq, 0), NFS4_OK);
	/* a retransmitted CLOSE gets the same reply (RFC 7530 §9.1.9) */
	stateid4 again = before;
	CU_ASSERT_EQUAL(nfs4_close(st, &f, &again, seq, 0), NFS4_OK);
	CU_ASSERT_EQUAL(memcmp(&again, &sid, sizeof(sid)), 0);
	/* while the closed stateid is good for nothing else */
	CU_ASSERT_EQUAL(nfs4_stateid_check(st, &before, &f, OPEN4_SHARE_ACCESS_READ, 0, 1, 0, 0),
			NFS4ERR_BAD_STATEID);
	CU_ASSERT_EQUAL(nfs4_close(st, &f, &again, seq + 1, 0), NFS4ERR_BAD_STATEID);
	nfs4_state_destroy(st);
}

static void test_locks(void)
{
	struct nfs4_state *st = mk();
	uint64_t a = client40(st, "a"), b = client40(st, "b");
	struct nfs4_fileid f = file(1);
	stateid4 sa, sb, la;
	uint32_t qa = 0, qb = 0;
	uint8_t buf[64];
	struct nfs4_lock_denied d;
	CU_ASSERT_EQUAL(open40(st, a, "oa", &qa, &f, OPEN4_SHARE_ACCESS_BOTH, 0, &sa), NFS4_OK);
	CU_ASSERT_EQUAL(open40(st, b, "ob", &qb, &f, OPEN4_SHARE_ACCESS_BOTH, 0, &sb), NFS4_OK);
	struct nfs4_lock_req r = {.type = WRITE_LT, .off = 0, .len = 10, .new_owner = true};
	r.open_sid = sa;
	r.open_seqid = ++qa;
	r.lock_owner = (struct nfs4_owner_ref){a, "la", 2, 0, 0, false};
	CU_ASSERT_EQUAL(nfs4_lock(st, &f, &r, &la, &d, buf, sizeof(buf)), NFS4_OK);
	struct nfs4_owner_ref lb = {b, "lb", 2, 0, 0, false};
	CU_ASSERT_EQUAL(nfs4_lockt(st, &f, READ_LT, 5, 1, &lb, &d, buf, sizeof(buf)),
			NFS4ERR_DENIED);
	CU_ASSERT_EQUAL(d.off, 0);
	CU_ASSERT_EQUAL(d.len, 10);
	CU_ASSERT_EQUAL(d.clientid, a);
	CU_ASSERT_EQUAL(nfs4_lockt(st, &f, WRITE_LT, 10, UINT64_MAX, &lb, &d, buf, sizeof(buf)),
			NFS4_OK);
	/* b's write into a's range is refused, its read elsewhere allowed */
	CU_ASSERT_EQUAL(nfs4_stateid_check(st, &sb, &f, OPEN4_SHARE_ACCESS_WRITE, 8, 4, 0, 0),
			NFS4ERR_LOCKED);
	CU_ASSERT_EQUAL(nfs4_stateid_check(st, &sb, &f, OPEN4_SHARE_ACCESS_READ, 10, 4, 0, 0),
			NFS4_OK);
	/* unlock the middle: [0,4] and [6,9] stay */
	CU_ASSERT_EQUAL(nfs4_locku(st, &f, &la, 1, 0, 5, 1), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_lockt(st, &f, WRITE_LT, 5, 1, &lb, &d, buf, sizeof(buf)), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_lockt(st, &f, WRITE_LT, 9, 1, &lb, &d, buf, sizeof(buf)),
			NFS4ERR_DENIED);
	CU_ASSERT_EQUAL(nfs4_locku(st, &f, &la, 2, 0, 0, UINT64_MAX), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_lockt(st, &f, WRITE_LT, 0, 100, &lb, &d, buf, sizeof(buf)), NFS4_OK);
	/* a zero length or an overflowing range is INVAL */
	CU_ASSERT_EQUAL(nfs4_lockt(st, &f, WRITE_LT, 0, 0, &lb, &d, buf, sizeof(buf)),
			NFS4ERR_INVAL);
	CU_ASSERT_EQUAL(nfs4_lockt(st, &f, WRITE_LT, UINT64_MAX - 1, 5, &lb, &d, buf, sizeof(buf)),
			NFS4ERR_INVAL);
	/* CLOSE releases the locks its open still holds (RFC 8881 §18.2.4 allows
	 * it; knfsd does the same) */
	stateid4 lc;
	r.open_seqid = ++qa;
	r.lock_owner = (struct nfs4_owner_ref){a, "lc", 2, 0, 0, false};
	CU_ASSERT_EQUAL(nfs4_lock(st, &f, &r, &lc, &d, buf, sizeof(buf)), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_lockt(st, &f, READ_LT, 5, 1, &lb, &d, buf, sizeof(buf)),
			NFS4ERR_DENIED);
	CU_ASSERT_EQUAL(nfs4_close(st, &f, &sa, ++qa, 0), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_lockt(st, &f, READ_LT, 5, 1, &lb, &d, buf, sizeof(buf)), NFS4_OK);
	nfs4_state_destroy(st);
}

static uint64_t client41(struct nfs4_state *st, const char *name, char sid[16])
{
	uint64_t id;
	uint32_t seq, flags;
	struct nfs4_chan want = {65536, 65536, 4096, 16, 8}, got;
	CU_ASSERT_EQUAL(
	    nfs4_exchange_id(st, "verifier", name, strlen(name), 0, 0, &id, &seq, &flags), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_create_session(st, id, seq, 0, &want, sid, &got), NFS4_OK);
	CU_ASSERT_EQUAL(got.maxreqs, 8);
	/* CREATE_SESSION retransmitted: the same session */
	char again[16];
	CU_ASSERT_EQUAL(nfs4_create_session(st, id, seq, 0, &want, again, &got), NFS4_OK);
	CU_ASSERT_EQUAL(memcmp(again, sid, 16), 0);
	CU_ASSERT_EQUAL(nfs4_create_session(st, id, seq + 5, 0, &want, again, &got),
			NFS4ERR_SEQ_MISORDERED);
	return id;
}

static void test_slots(void)
{
	struct nfs4_state *st = mk();
	char sid[16];
	struct nfs4_seq *s;
	struct nfs4_seq_out info;
	uint64_t id = client41(st, "a41", sid);

	CU_ASSERT_EQUAL(nfs4_seq_begin(st, sid, 1, 0, true, &s, &info), NFS4_OK);
	CU_ASSERT_EQUAL(info.clientid, id);
	CU_ASSERT_FALSE(nfs4_seq_replay(s));
	CU_ASSERT_TRUE(nfs4_seq_wants_cache(s));
	/* the same slot while it runs: DELAY */
	struct nfs4_seq *s2;
	CU_ASSERT_EQUAL(nfs4_seq_begin(st, sid, 1, 0, true, &s2, &info), NFS4ERR_DELAY);
	nfs4_seq_end(st, s, true);
	/* a retransmission is answered with the saved reply (from the request
	 * table), and does not count as the slot's next call */
	CU_ASSERT_EQUAL(nfs4_seq_begin(st, sid, 1, 0, true, &s, &info), NFS4_OK);
	CU_ASSERT_TRUE(nfs4_seq_replay(s));
	CU_ASSERT_FALSE(nfs4_seq_wants_cache(s));
	nfs4_seq_end(st, s, false);
	CU_ASSERT_EQUAL(nfs4_seq_begin(st, sid, 1, 0, true, &s, &info), NFS4_OK);
	CU_ASSERT_TRUE(nfs4_seq_replay(s));
	nfs4_seq_end(st, s, false);
	CU_ASSERT_EQUAL(nfs4_seq_begin(st, sid, 3, 0, false, &s, &info), NFS4ERR_SEQ_MISORDERED);
	/* a SEQUENCE that fails after the claim (too big) leaves the slot as it was:
	 * the next call comes with the same sequence id, and is new */
	CU_ASSERT_EQUAL(nfs4_seq_begin(st, sid, 2, 0, true, &s, &info), NFS4_OK);
	nfs4_seq_cancel(st, s);
	CU_ASSERT_EQUAL(nfs4_seq_begin(st, sid, 2, 0, true, &s, &info), NFS4_OK);
	CU_ASSERT_FALSE(nfs4_seq_replay(s));
	nfs4_seq_cancel(st, s);
	CU_ASSERT_EQUAL(nfs4_seq_begin(st, sid, 1, 0, true, &s, &info), NFS4_OK);
	CU_ASSERT_TRUE(nfs4_seq_replay(s)); /* seqid 1's reply is still the slot's */
	nfs4_seq_end(st, s, false);
	CU_ASSERT_EQUAL(nfs4_seq_begin(st, sid, 1, 8, false, &s, &info), NFS4ERR_BADSLOT);
	/* uncached: a retransmission is RETRY_UNCACHED_REP */
	CU_ASSERT_EQUAL(nfs4_seq_begin(st, sid, 1, 1, false, &s, &info), NFS4_OK);
	nfs4_seq_end(st, s, false);
	CU_ASSERT_EQUAL(nfs4_seq_begin(st, sid, 1, 1, false, &s, &info),
			NFS4ERR_RETRY_UNCACHED_REP);
	/* a stateid of another client is BAD_STATEID for this one */
	char sid_b[16];
	uint64_t b = client41(st, "b41", sid_b);
	struct nfs4_fileid f = file(3);
	struct nfs4_owner_ref o = {b, "ob", 2, 0, 1, false};
	stateid4 sb;
	bool confirm;
	CU_ASSERT_EQUAL(nfs4_open_begin(st, &o), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_open_finish(st, &o, &f, OPEN4_SHARE_ACCESS_READ, 0, NFS4_OK, "fh", 2,
					 &sb, &confirm),
			NFS4_OK);
	CU_ASSERT_FALSE(confirm);
	CU_ASSERT_EQUAL(nfs4_test_stateid(st, b, &sb), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_test_stateid(st, id, &sb), NFS4ERR_BAD_STATEID);
	CU_ASSERT_EQUAL(nfs4_free_stateid(st, id, &sb), NFS4ERR_BAD_STATEID);
	/* DESTROY_CLIENTID refuses a client with sessions */
	CU_ASSERT_EQUAL(nfs4_destroy_clientid(st, b), NFS4ERR_CLIENTID_BUSY);
	CU_ASSERT_EQUAL(nfs4_destroy_session(st, sid_b), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_destroy_session(st, sid_b), NFS4ERR_BADSESSION);
	/* the session's lease: expiry frees the client and its session */
	fake_ms += 20000;
	CU_ASSERT_EQUAL(nfs4_state_reap(st), 2);
	CU_ASSERT_EQUAL(nfs4_seq_begin(st, sid, 2, 0, false, &s, &info), NFS4ERR_BADSESSION);
	nfs4_state_destroy(st);
}

/* Client records and grace (recovery.c): a restart finds its clients again. */
static void test_recovery(void)
{
	char dir[] = "/tmp/twinfs-rec.XXXXXX", path[64];
	struct nfs4_recovery *r;
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	fake_ms = 1000;
	CU_ASSERT_EQUAL_FATAL(nfs4_recovery_open(dir, 10, fake_clock, NULL, &r), 0);
	CU_ASSERT_FALSE(nfs4_grace(r)); /* nobody to wait for */
	CU_ASSERT_EQUAL(nfs4_recovery_add(r, "a", 1), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_add(r, "bb", 2), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_add(r, "a", 1), 0);
	nfs4_recovery_close(r);

	/* a restart: grace for a and bb, which ends when both said RECLAIM_COMPLETE */
	CU_ASSERT_EQUAL_FATAL(nfs4_recovery_open(dir, 10, fake_clock, NULL, &r), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_previous(r), 2);
	CU_ASSERT_TRUE(nfs4_grace(r));
	CU_ASSERT_TRUE(nfs4_recovery_may_reclaim(r, "a", 1));
	CU_ASSERT_FALSE(nfs4_recovery_may_reclaim(r, "c", 1));
	nfs4_recovery_reclaimed(r, "a", 1);
	nfs4_recovery_reclaimed(r, "a", 1);
	CU_ASSERT_TRUE(nfs4_grace(r));
	nfs4_recovery_reclaimed(r, "bb", 2);
	CU_ASSERT_FALSE(nfs4_grace(r));
	CU_ASSERT_FALSE(nfs4_recovery_may_reclaim(r, "a", 1));
	nfs4_recovery_close(r);

	/* without them, grace ends after one lease */
	CU_ASSERT_EQUAL_FATAL(nfs4_recovery_open(dir, 10, fake_clock, NULL, &r), 0);
	fake_ms += 9999;
	CU_ASSERT_TRUE(nfs4_grace(r));
	fake_ms += 2;
	CU_ASSERT_FALSE(nfs4_grace(r));

	/* the records follow the state: only the client it holds now stays */
	struct nfs4_state_params p = {.lease_sec = 10, .clock = fake_clock};
	struct nfs4_state *st = NULL;
	CU_ASSERT_FATAL(nfs4_state_create(&p, &st) == 0);
	client40(st, "z");
	CU_ASSERT_EQUAL(nfs4_recovery_sync(r, st), 0);
	nfs4_state_destroy(st);
	nfs4_recovery_close(r);
	CU_ASSERT_EQUAL_FATAL(nfs4_recovery_open(dir, 10, fake_clock, NULL, &r), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_previous(r), 1);
	CU_ASSERT_TRUE(nfs4_recovery_may_reclaim(r, "z", 1));
	nfs4_recovery_close(r);
	snprintf(path, sizeof(path), "%s/nfs4_clients", dir);
	unlink(path);
	rmdir(dir);
}

/* Grace holds only on the exports where the last run's clients had state; the
 * records keep those exports across a rewrite; a released node writes nothing. */
static void test_recovery_exports(void)
{
	char dir[] = "/tmp/twinfs-rec.XXXXXX", path[64];
	struct nfs4_recovery *r;
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	fake_ms = 1000;
	CU_ASSERT_EQUAL_FATAL(nfs4_recovery_open(dir, 10, fake_clock, NULL, &r), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_add(r, "a", 1), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_add_export(r, "a", 1, 7), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_add_export(r, "a", 1, 7), 0);
	/* a worker thread may still carry the last NFS caller's filesystem identity
	 * (fsal/vfs/cred.c), which may not open the state directory (0700) */
	long was = syscall(SYS_setfsuid, 65534);
	CU_ASSERT_EQUAL(nfs4_recovery_add(r, "b", 1), 0); /* confirmed, never opened */
	syscall(SYS_setfsuid, was);
	nfs4_recovery_close(r);

	CU_ASSERT_EQUAL_FATAL(nfs4_recovery_open(dir, 10, fake_clock, NULL, &r), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_previous(r), 2);
	CU_ASSERT_TRUE(nfs4_grace_on(r, 7));
	CU_ASSERT_FALSE(nfs4_grace_on(r, 8)); /* new opens there at once */
	CU_ASSERT_TRUE(nfs4_recovery_may_reclaim(r, "b", 1));

	/* a rewrite keeps each client's exports: z (in the state) opened on 3; a and
	 * b have not come back but grace is on, so they stay */
	struct nfs4_state_params p = {.lease_sec = 10, .clock = fake_clock};
	struct nfs4_state *st = NULL;
	CU_ASSERT_FATAL(nfs4_state_create(&p, &st) == 0);
	client40(st, "z");
	CU_ASSERT_EQUAL(nfs4_recovery_add(r, "z", 1), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_add_export(r, "z", 1, 3), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_sync(r, st), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_reload(r), 0); /* a takeover reads it again */
	CU_ASSERT_EQUAL(nfs4_recovery_previous(r), 3);
	CU_ASSERT_TRUE(nfs4_grace_on(r, 3));
	CU_ASSERT_TRUE(nfs4_grace_on(r, 7));
	CU_ASSERT_FALSE(nfs4_grace_on(r, 8));

	/* a client on more exports than a record lists puts every export in grace */
	for (uint32_t e = 100; e < 120; e++)
		CU_ASSERT_EQUAL(nfs4_recovery_add_export(r, "m", 1, e), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_reload(r), 0);
	CU_ASSERT_TRUE(nfs4_grace_on(r, 8));

	/* released (the partner serves): nothing is written, no grace here */
	nfs4_recovery_release(r);
	CU_ASSERT_FALSE(nfs4_grace(r));
	CU_ASSERT_EQUAL(nfs4_recovery_add(r, "q", 1), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_add_export(r, "q", 1, 9), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_sync(r, st), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_reload(r), 0);
	CU_ASSERT_EQUAL(nfs4_recovery_previous(r), 4); /* a, b, z, m; no q */
	CU_ASSERT_FALSE(nfs4_recovery_may_reclaim(r, "q", 1));
	nfs4_state_destroy(st);
	nfs4_recovery_close(r);
	snprintf(path, sizeof(path), "%s/nfs4_clients", dir);
	unlink(path);
	rmdir(dir);
}

/* A node that takes over forgets an earlier period's clients: their ids are
 * stale (a new epoch), as after a reboot. */
static void test_state_reset(void)
{
	struct nfs4_state_params p = {.lease_sec = 10, .clock = fake_clock};
	struct nfs4_state *st = NULL;
	CU_ASSERT_FATAL(nfs4_state_create(&p, &st) == 0);
	uint64_t a = client40(st, "a");
	CU_ASSERT_EQUAL(nfs4_renew(st, a), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_state_reset(st), 1);
	CU_ASSERT_EQUAL(nfs4_renew(st, a), NFS4ERR_STALE_CLIENTID);
	uint64_t b = client40(st, "a");
	CU_ASSERT_NOT_EQUAL(b >> 32, a >> 32);
	CU_ASSERT_EQUAL(nfs4_renew(st, b), NFS4_OK);
	nfs4_state_destroy(st);
}

/* ---- concurrency (run under TSan too: build-tsan/tests/test_nfs4_state) ---- */

#define STRESS_THREADS 4
#define STRESS_ROUNDS  2000

struct stress {
	struct nfs4_state *st;
	char sid[16];
	stateid4 open_sid;
	struct nfs4_fileid f;
	uint64_t clientid;
	atomic_int errors;
};

/* Each thread drives its own slot of one session and checks a shared stateid,
 * the hot path that takes the state lock for reading only. */
static void *stress_io(void *arg)
{
	struct stress *x = arg;
	static atomic_int next_slot;
	uint32_t slot = (uint32_t)atomic_fetch_add(&next_slot, 1) % STRESS_THREADS;
	for (uint32_t seq = 1; seq <= STRESS_ROUNDS; seq++) {
		struct nfs4_seq *s;
		struct nfs4_seq_out info;
		if (nfs4_seq_begin(x->st, x->sid, seq, slot, seq % 2, &s, &info) != NFS4_OK) {
			atomic_fetch_add(&x->errors, 1);
			continue;
		}
		if (nfs4_stateid_check(x->st, &x->open_sid, &x->f, OPEN4_SHARE_ACCESS_READ, 0, 4096,
				       1, x->clientid) != NFS4_OK)
			atomic_fetch_add(&x->errors, 1);
		nfs4_seq_end(x->st, s, seq % 2);
	}
	return NULL;
}

/* Meanwhile another client opens, locks and closes other files, and leases are
 * reaped: what takes the lock for writing. */
static void *stress_state(void *arg)
{
	struct stress *x = arg;
	uint64_t b = client40(x->st, "stress-b");
	uint32_t seq = 0;
	for (int i = 0; i < STRESS_ROUNDS / 4; i++) {
		struct nfs4_fileid g = file((unsigned char)(100 + i % 50));
		stateid4 sid;
		if (open40(x->st, b, "ob", &seq, &g, OPEN4_SHARE_ACCESS_BOTH, 0, &sid) != NFS4_OK ||
		    nfs4_close(x->st, &g, &sid, ++seq, 0) != NFS4_OK)
			atomic_fetch_add(&x->errors, 1);
		nfs4_state_reap(x->st);
	}
	return NULL;
}

static void test_concurrency(void)
{
	struct stress x = {.st = mk(), .f = file(1)};
	struct nfs4_owner_ref o = {0, "o41", 3, 0, 1, false};
	bool confirm;
	pthread_t t[STRESS_THREADS + 1];
	uint64_t id;
	uint32_t seq, flags;
	struct nfs4_chan want = {65536, 65536, 4096, 16, STRESS_THREADS}, got;

	CU_ASSERT_EQUAL_FATAL(nfs4_exchange_id(x.st, "verifier", "c41", 3, 0, 0, &id, &seq, &flags),
			      NFS4_OK);
	CU_ASSERT_EQUAL_FATAL(nfs4_create_session(x.st, id, seq, 0, &want, x.sid, &got), NFS4_OK);
	x.clientid = o.clientid = id;
	CU_ASSERT_EQUAL(nfs4_open_begin(x.st, &o), NFS4_OK);
	CU_ASSERT_EQUAL(nfs4_open_finish(x.st, &o, &x.f, OPEN4_SHARE_ACCESS_READ, 0, NFS4_OK, "fh",
					 2, &x.open_sid, &confirm),
			NFS4_OK);
	for (int i = 0; i < STRESS_THREADS; i++)
		pthread_create(&t[i], NULL, stress_io, &x);
	pthread_create(&t[STRESS_THREADS], NULL, stress_state, &x);
	for (int i = 0; i <= STRESS_THREADS; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(atomic_load(&x.errors), 0);
	nfs4_state_destroy(x.st);
}

int twinfs_register_tests(void)
{
	CU_pSuite s = CU_add_suite("nfs4_state", NULL, NULL);
	if (!s)
		return -1;
	CU_add_test(s, "lease expiry frees state", test_lease_expiry);
	CU_add_test(s, "a client expired among many is told so", test_many_expired);
	CU_add_test(s, "stateids", test_stateids);
	CU_add_test(s, "byte-range locks", test_locks);
	CU_add_test(s, "4.1 slots and clients", test_slots);
	CU_add_test(s, "client records and grace", test_recovery);
	CU_add_test(s, "grace per export; records kept, released", test_recovery_exports);
	CU_add_test(s, "a takeover forgets an earlier period's clients", test_state_reset);
	CU_add_test(s, "concurrent slots, I/O checks and opens", test_concurrency);
	return CU_get_error() == CUE_SUCCESS ? 0 : -1;
}
