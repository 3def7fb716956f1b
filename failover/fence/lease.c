/*
 * lease.c — the storage lease; lease.h says what it guarantees and why.
 *
 * Order of every take and renewal, which the safety argument depends on:
 *   1. start = clock()                    (the validity counts from here: early is safe)
 *   2. read both slots, then clock()      (an observer's "first seen": late is safe)
 *   3. write my slot, fdatasync, clock()  (already too late: give up, skip step 4)
 *   4. read both slots, then clock()      (the partner's slot must be unchanged)
 *   5. valid until start + L - m, if step 4 ended before that
 */
#include "failover/fence/lease.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REC_SIZE     64u
#define REC_SUM_AT   56u	 /* the checksum covers bytes 0..55 */
#define REC_MAGIC    0x534c5754u /* "TWLS" in little-endian order */
#define REC_VERSION  1u
#define REC_HELD     1u
#define REC_RELEASED 2u

struct rec {
	unsigned node;	/* 1 or 2: must match the slot */
	unsigned state; /* REC_HELD, REC_RELEASED */
	uint64_t epoch; /* >= 1 */
	uint64_t counter;
	uint32_t lease_ms; /* the writer's lease */
};

enum slot_kind { SLOT_ABSENT, SLOT_VALID, SLOT_UNKNOWN };

struct slot {
	enum slot_kind kind;
	struct rec r; /* SLOT_VALID */
};

/* One read of the mailbox. */
struct snap {
	uint8_t raw[2][REC_SIZE];
	struct slot s[2];
	uint64_t at; /* this node's clock, read after the read */
};

struct lease {
	int fd;
	unsigned me; /* my slot: node_id - 1 */
	uint32_t lease_ms;
	uint32_t margin_ms;
	lease_clock_fn clock;
	void *clock_arg;
	uint8_t *io; /* LEASE_FILE_SIZE bytes, aligned for O_DIRECT */
	/* change tracking, by every read */
	bool seen_any;
	uint8_t seen[2][REC_SIZE];
	uint64_t seen_at; /* when the current contents were first read */
	uint64_t max_epoch;
	/* holding */
	bool held;
	uint64_t epoch;
	uint64_t counter;	      /* of my last write attempt */
	uint8_t other_base[REC_SIZE]; /* the partner's slot when I took the lease */
	_Atomic uint64_t valid_until; /* 0: not held */
};

/* ---- the record ---------------------------------------------------------------------- */

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void rec_encode(const struct rec *r, uint8_t out[REC_SIZE])
{
	memset(out, 0, REC_SIZE);
	put_le(out, REC_MAGIC, 4);
	put_le(out + 4, REC_VERSION, 2);
	out[6] = (uint8_t)r->node;
	out[7] = (uint8_t)r->state;
	put_le(out + 8, r->epoch, 8);
	put_le(out + 16, r->counter, 8);
	put_le(out + 24, r->lease_ms, 4);
	put_le(out + REC_SUM_AT, fnv1a64(out, REC_SUM_AT), 8);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Slot idx (0, 1) as read: absent (zeros), valid, or unknown (anything else). */
static void slot_parse(const uint8_t raw[REC_SIZE], unsigned idx, struct slot *s)
{
	struct rec *r = &s->r;

	memset(s, 0, sizeof(*s));
	if (all_zero(raw, REC_SIZE))
		return;
	s->kind = SLOT_UNKNOWN;
	if (get_le(raw, 4) != REC_MAGIC || get_le(raw + 4, 2) != REC_VERSION ||
	    get_le(raw + REC_SUM_AT, 8) != fnv1a64(raw, REC_SUM_AT))
		return;
	r->node = raw[6];
	r->state = raw[7];
	r->epoch = get_le(raw + 8, 8);
	r->counter = get_le(raw + 16, 8);
	r->lease_ms = (uint32_t)get_le(raw + 24, 4);
	if (r->node != idx + 1 || (r->state != REC_HELD && r->state != REC_RELEASED) ||
	    r->epoch == 0 || r->lease_ms == 0)
		return;
	s->kind = SLOT_VALID;
}

/* ---- time and I/O -------------------------------------------------------------------- */

static uint64_t boottime_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now(const struct lease *l)
{
	return l->clock(l->clock_arg);
}

static uint64_t valid_ms(const struct lease *l)
{
	return l->lease_ms - l->margin_ms;
}

/* Change tracking: the observer's clock when it first read these contents. */
static void track(struct lease *l, const struct snap *sn)
{
	for (unsigned i = 0; i < 2; i++)
		if (sn->s[i].kind == SLOT_VALID && sn->s[i].r.epoch > l->max_epoch)
			l->max_epoch = sn->s[i].r.epoch;
	if (l->seen_any && memcmp(l->seen, sn->raw, sizeof(l->seen)) == 0)
		return;
	memcpy(l->seen, sn->raw, sizeof(l->seen));
	l->seen_at = sn->at;
	l->seen_any = true;
}

/* Reads both slots; bytes past the end of the file read as zeros (absent). */
static int mailbox_read(struct lease *l, struct snap *sn)
{
	ssize_t n;

	do
		n = pread(l->fd, l->io, LEASE_FILE_SIZE, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	memset(l->io + n, 0, LEASE_FILE_SIZE - (size_t)n);
	sn->at = now(l);
	for (unsigned i = 0; i < 2; i++) {
		memcpy(sn->raw[i], l->io + i * LEASE_SLOT_SIZE, REC_SIZE);
		slot_parse(sn->raw[i], i, &sn->s[i]);
	}
	track(l, sn);
	return 0;
}

/* Writes my slot (the record, then zeros to the end of the block) and syncs it. */
static int slot_write(struct lease *l, const uint8_t rec[REC_SIZE])
{
	ssize_t n;

	memset(l->io, 0, LEASE_SLOT_SIZE);
	memcpy(l->io, rec, REC_SIZE);
	do
		n = pwrite(l->fd, l->io, LEASE_SLOT_SIZE, (off_t)l->me * LEASE_SLOT_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != LEASE_SLOT_SIZE)
		return -EIO;
	return fdatasync(l->fd) < 0 ? -errno : 0;
}

/* ---- what a read says ---------------------------------------------------------------- */

/* HELD and not superseded by a higher epoch in the other slot. */
static bool is_claim(const struct snap *sn, unsigned i)
{
	const struct slot *s = &sn->s[i], *o = &sn->s[1 - i];

	if (s->kind != SLOT_VALID || s->r.state != REC_HELD)
		return false;
	return !(o->kind == SLOT_VALID && o->r.epoch > s->r.epoch);
}

static void set_decider(struct lease_view *v, const struct slot *s, enum lease_state st)
{
	v->state = st;
	v->holder = s->r.node;
	v->counter = s->r.counter;
}

static void summarize(const struct snap *sn, struct lease_view *v)
{
	const struct slot *s = sn->s;
	bool c0 = is_claim(sn, 0), c1 = is_claim(sn, 1);

	memset(v, 0, sizeof(*v));
	for (unsigned i = 0; i < 2; i++)
		if (s[i].kind == SLOT_VALID && s[i].r.epoch > v->epoch)
			v->epoch = s[i].r.epoch;
	if (c0 != c1)
		set_decider(v, &s[c0 ? 0 : 1], LEASE_HELD);
	else if (c0 || s[0].kind == SLOT_UNKNOWN || s[1].kind == SLOT_UNKNOWN)
		v->state = LEASE_UNKNOWN;
	else if (s[0].kind == SLOT_VALID &&
		 (s[1].kind != SLOT_VALID || s[0].r.epoch > s[1].r.epoch))
		set_decider(v, &s[0], LEASE_RELEASED);
	else if (s[1].kind == SLOT_VALID)
		set_decider(v, &s[1], LEASE_RELEASED);
	else
		v->state = LEASE_ABSENT;
	v->free = v->state == LEASE_ABSENT || v->state == LEASE_RELEASED;
}

/* The longest lease on record: a partner configured longer is waited for longer. */
static uint64_t expiry_ms(const struct lease *l, const struct snap *sn)
{
	uint64_t ms = l->lease_ms;

	for (unsigned i = 0; i < 2; i++)
		if (sn->s[i].kind == SLOT_VALID && sn->s[i].r.lease_ms > ms)
			ms = sn->s[i].r.lease_ms;
	return ms;
}

/* My slot holds a HELD record of my epoch with a counter I wrote: after a failed
 * write, the old or the new one; exact: the last one. */
static bool own_slot_ok(const struct lease *l, const struct snap *sn, bool exact)
{
	const struct slot *s = &sn->s[l->me];

	if (s->kind != SLOT_VALID || s->r.state != REC_HELD || s->r.epoch != l->epoch)
		return false;
	return exact ? s->r.counter == l->counter : s->r.counter <= l->counter;
}

/* Is the mailbox as I left it? My slot is mine, and the partner's slot is byte for
 * byte what it was when I took the lease. */
static bool ours(const struct lease *l, const struct snap *sn, bool exact)
{
	return own_slot_ok(l, sn, exact) &&
	       memcmp(sn->raw[1 - l->me], l->other_base, REC_SIZE) == 0;
}

static void describe(const struct lease *l, const struct snap *sn, struct lease_view *v)
{
	summarize(sn, v);
	v->unchanged_ms = sn->at > l->seen_at ? sn->at - l->seen_at : 0;
	v->expired = v->free || v->unchanged_ms >= expiry_ms(l, sn);
	v->mine = l->held && ours(l, sn, false);
}

/* ---- taking, renewing, letting go ---------------------------------------------------- */

static int lose(struct lease *l)
{
	l->held = false;
	atomic_store(&l->valid_until, 0);
	return -ESTALE;
}

static int write_own(struct lease *l, unsigned state)
{
	uint8_t rec[REC_SIZE];
	struct rec r = {
	    .node = l->me + 1,
	    .state = state,
	    .epoch = l->epoch,
	    .counter = ++l->counter,
	    .lease_ms = l->lease_ms,
	};

	rec_encode(&r, rec);
	return slot_write(l, rec);
}

/* A failed take puts my slot back as it was, so that a partner that took the lease
 * meanwhile does not lose it for my attempt. Best effort: if this write is lost, the
 * partner loses its lease at its next renewal, which is safe. */
static void withdraw(struct lease *l, const uint8_t old[REC_SIZE])
{
	(void)slot_write(l, old);
}

static int take(struct lease *l, uint64_t start, const struct snap *pre)
{
	unsigned other = 1 - l->me;
	struct snap post;
	int rc;

	l->epoch = l->max_epoch + 1;
	l->counter = 0;
	rc = write_own(l, REC_HELD);
	if (rc < 0)
		return rc; /* my HELD may be on disk: it expires */
	if (now(l) >= start + valid_ms(l)) {
		withdraw(l, pre->raw[l->me]);
		return -ETIMEDOUT;
	}
	rc = mailbox_read(l, &post);
	if (rc < 0)
		return rc;
	if (!own_slot_ok(l, &post, true))
		return -EBUSY; /* someone else writes my slot: leave it alone */
	if (memcmp(post.raw[other], pre->raw[other], REC_SIZE) != 0) {
		withdraw(l, pre->raw[l->me]);
		return -EBUSY;
	}
	if (post.at >= start + valid_ms(l)) {
		withdraw(l, pre->raw[l->me]);
		return -ETIMEDOUT;
	}
	memcpy(l->other_base, post.raw[other], REC_SIZE);
	l->held = true;
	atomic_store(&l->valid_until, start + valid_ms(l));
	return 0;
}

static int take_if(struct lease *l, bool seize)
{
	struct lease_view v;
	struct snap pre;
	uint64_t start;
	int rc;

	if (l->held)
		return lease_renew(l, NULL);
	start = now(l);
	rc = mailbox_read(l, &pre);
	if (rc < 0)
		return rc;
	describe(l, &pre, &v);
	if (!v.free && !(seize && v.expired))
		return -EBUSY;
	return take(l, start, &pre);
}

int lease_acquire(struct lease *l)
{
	return take_if(l, false);
}

int lease_seize(struct lease *l)
{
	return take_if(l, true);
}

int lease_renew(struct lease *l, uint64_t *valid_until)
{
	struct snap sn;
	uint64_t start;
	int rc;

	if (!l->held)
		return -ESTALE;
	start = now(l);
	if (start >= atomic_load(&l->valid_until))
		return lose(l); /* lapsed: only a new take may bring it back */
	rc = mailbox_read(l, &sn);
	if (rc < 0)
		return rc;
	if (!ours(l, &sn, false))
		return lose(l);
	rc = write_own(l, REC_HELD);
	if (rc < 0)
		return rc;
	if (now(l) >= start + valid_ms(l))
		return lose(l);
	rc = mailbox_read(l, &sn);
	if (rc < 0)
		return rc;
	if (!ours(l, &sn, true) || sn.at >= start + valid_ms(l))
		return lose(l);
	atomic_store(&l->valid_until, start + valid_ms(l));
	if (valid_until)
		*valid_until = start + valid_ms(l);
	return 0;
}

int lease_release(struct lease *l)
{
	struct snap sn;
	int rc;

	if (!l->held)
		return 0;
	l->held = false;
	atomic_store(&l->valid_until, 0);
	rc = mailbox_read(l, &sn);
	if (rc < 0)
		return rc;
	if (!ours(l, &sn, false))
		return -ESTALE; /* lost already: writing would only hurt the new holder */
	return write_own(l, REC_RELEASED);
}

void lease_abandon(struct lease *l)
{
	l->held = false;
	atomic_store(&l->valid_until, 0);
}

int lease_observe(struct lease *l, struct lease_view *v)
{
	struct snap sn;
	int rc = mailbox_read(l, &sn);

	if (rc < 0)
		return rc;
	describe(l, &sn, v);
	return 0;
}

uint64_t lease_valid_until(const struct lease *l)
{
	return atomic_load(&l->valid_until);
}

bool lease_valid(const struct lease *l)
{
	return now(l) < lease_valid_until(l);
}

uint64_t lease_epoch(const struct lease *l)
{
	return l->held ? l->epoch : 0;
}

const char *lease_state_name(enum lease_state s)
{
	static const char *const names[] = {
	    [LEASE_ABSENT] = "ABSENT",
	    [LEASE_HELD] = "HELD",
	    [LEASE_RELEASED] = "RELEASED",
	    [LEASE_UNKNOWN] = "UNKNOWN",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* ---- open, close --------------------------------------------------------------------- */

static int check_params(const struct lease_params *p)
{
	uint32_t ms;

	if (!p || !p->path || !p->path[0] || (p->node_id != 1 && p->node_id != 2))
		return -EINVAL;
	ms = p->lease_ms ? p->lease_ms : LEASE_DEFAULT_MS;
	return ms < LEASE_MIN_MS || ms > LEASE_MAX_MS ? -EINVAL : 0;
}

/* A regular file or a block device, readable. */
static int open_file(struct lease *l, const struct lease_params *p)
{
	int flags = O_RDWR | O_CREAT | O_CLOEXEC | (p->direct ? O_DIRECT : 0);
	struct snap sn;
	struct stat st;

	l->fd = open(p->path, flags, 0600);
	if (l->fd < 0)
		return -errno;
	if (fstat(l->fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL;
	return mailbox_read(l, &sn);
}

int lease_open(const struct lease_params *p, struct lease **out)
{
	struct lease *l;
	void *io;
	int rc;

	*out = NULL;
	rc = check_params(p);
	if (rc < 0)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l || posix_memalign(&io, LEASE_SLOT_SIZE, LEASE_FILE_SIZE) != 0) {
		free(l);
		return -ENOMEM;
	}
	l->io = io;
	l->me = p->node_id - 1;
	l->lease_ms = p->lease_ms ? p->lease_ms : LEASE_DEFAULT_MS;
	l->margin_ms = l->lease_ms / LEASE_MARGIN_DIV;
	l->clock = p->clock ? p->clock : boottime_ms;
	l->clock_arg = p->clock_arg;
	atomic_init(&l->valid_until, 0);
	rc = open_file(l, p);
	if (rc < 0) {
		lease_close(l);
		return rc;
	}
	*out = l;
	return 0;
}

void lease_close(struct lease *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l->io);
	free(l);
}
