/*
 * pair_lease.c — the pair's use of the storage lease (failover/fence): a thread
 * of its own renews it (holder) or watches it (otherwise), because storage I/O
 * may hang and the failover loop must not; the claim takes it, a release drops
 * it, and a holder that cannot renew in time stops serving first.
 */
#include "failover/pair/pair_int.h"
#include "util/clock.h"

uint64_t pair__boottime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Claiming: take the lease, cleanly released (acquire) or seen expired
 * (seize). Failing fails the claim: somebody else holds it. */
int pair__lease_take(struct pair *p, bool seize)
{
	if (!p->lease)
		return 0;
	pthread_mutex_lock(&p->lease_lock);
	int rc = seize ? lease_seize(p->lease) : lease_acquire(p->lease);
	/* A clean start over a lease left held (by this node before a crash, or
	 * unreadable): it is taken once seen expired, as after an unplanned stop. */
	struct lease_view v;
	if (rc == -EBUSY && !seize && lease_observe(p->lease, &v) == 0 && v.expired) {
		rc = lease_seize(p->lease);
		if (rc == 0)
			log_warn("pair: the storage lease was left held (node %u, epoch %" PRIu64
				 "): seized it after it expired",
				 v.holder, v.epoch);
	}
	uint64_t epoch = lease_epoch(p->lease);
	pthread_mutex_unlock(&p->lease_lock);
	if (rc < 0) {
		log_error("pair: cannot %s the storage lease %s: %s", seize ? "seize" : "acquire",
			  p->cfg.lease_path, strerror(-rc));
		return rc;
	}
	p->ops.set_answer_until(p->ops.arg, lease_valid_until(p->lease));
	pthread_mutex_lock(&p->lock);
	p->lease_held = true;
	p->lease_epoch_held = epoch;
	pthread_mutex_unlock(&p->lock);
	log_info("pair: storage lease %s, epoch %" PRIu64, seize ? "seized" : "acquired", epoch);
	return 0;
}

/* Release (clean: the partner may acquire at once) or abandon (let it expire).
 * Abandoning is also done when the loop already gave the lease up (lost). */
void pair__lease_drop(struct pair *p, bool release)
{
	if (!p->lease)
		return;
	pthread_mutex_lock(&p->lock);
	bool held = p->lease_held;
	p->lease_held = false;
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_lock(&p->lease_lock);
	int rc = release && held ? lease_release(p->lease) : 0;
	if (!release || !held)
		lease_abandon(p->lease);
	pthread_mutex_unlock(&p->lease_lock);
	if (rc < 0)
		log_error("pair: releasing the storage lease: %s (the partner waits for it to "
			  "expire)",
			  strerror(-rc));
}

/* One pass of the lease thread: the holder renews; a node that lost its lease
 * (the partner's epoch on record) stops at once. Others watch the record, and
 * while fencing report its expiry. Returns how long to wait for the next pass
 * (at most period). */
static uint32_t pair_lease_step(struct pair *p, uint32_t period)
{
	pthread_mutex_lock(&p->lock);
	bool held = p->lease_held;
	uint64_t epoch = p->epoch;
	if (!pair__waiting(p->state))
		p->partner_faulted = false;
	/* A partner that stopped after losing its lease stays up and answers on
	 * the peer link, so nothing else would move the service: the standby
	 * takes an expired lease as when fencing (the holder stops answering
	 * before its lease ends, so an expired one is safe to take). */
	bool fencing = p->state == ROLE_FENCING || (p->state == ROLE_STANDBY && p->partner_faulted);
	pthread_mutex_unlock(&p->lock);
	if (held && atomic_load(&p->lease_stalled))
		return period;
	if (held) {
		uint64_t until = 0;
		pthread_mutex_lock(&p->lease_lock);
		int rc = lease_renew(p->lease, &until);
		pthread_mutex_unlock(&p->lease_lock);
		if (rc == 0) {
			p->ops.set_answer_until(p->ops.arg, until);
		} else if (rc == -ESTALE) {
			log_error("pair: the partner holds the storage lease now: stopping");
			pair__lease_lost(p);
		} else {
			log_warn("pair: storage lease not renewed: %s", strerror(-rc));
		}
		return period;
	}
	struct lease_view v;
	pthread_mutex_lock(&p->lease_lock);
	int rc = lease_observe(p->lease, &v);
	pthread_mutex_unlock(&p->lease_lock);
	if (rc < 0)
		return period;
	pthread_mutex_lock(&p->lock);
	p->lease_view = v;
	p->have_lease_view = true;
	pthread_mutex_unlock(&p->lock);
	if (fencing && v.expired)
		pair__apply(p, v.free ? ROLE_EV_LEASE_FREE : ROLE_EV_PEER_FENCED, epoch);
	/* A watcher reads more often than the holder writes, so it sees the last
	 * renewal soon after it was made; while fencing it looks again just when
	 * the lease runs out, not up to a round later. */
	uint32_t watch = p->cfg.lease_ms / 10 > 20 ? p->cfg.lease_ms / 10 : 20;
	if (fencing && !v.expired && v.unchanged_ms < p->cfg.lease_ms &&
	    p->cfg.lease_ms - v.unchanged_ms < watch)
		watch = (uint32_t)(p->cfg.lease_ms - v.unchanged_ms) + 1;
	return watch < period ? watch : period;
}

/* Stops serving before the lease runs out (issue: a node that cannot renew
 * stops first), or at once when the partner took it. */
void pair__lease_lost(struct pair *p)
{
	pthread_mutex_lock(&p->lock);
	bool held = p->lease_held;
	p->lease_held = false;
	/* The claim's remaining ARP announcements and tickles are not this node's
	 * to send any more. */
	p->announce_rounds = 0;
	p->tickle_rounds = 0;
	atomic_store(&p->lease_stalled, false);
	if (held) {
		p->fault = ROLE_FAULT_LEASE;
		snprintf(p->fault_detail, sizeof(p->fault_detail),
			 "%s: stopped serving and let the lease expire", role_fault_name(p->fault));
	}
	pthread_mutex_unlock(&p->lock);
	if (!held)
		return;
	/* Not lease_abandon() here: the loop thread must not wait for the lease
	 * thread, which may be stuck in storage I/O; nothing is renewed any more
	 * since lease_held is false. */
	p->ops.set_serving(p->ops.arg, false);
	pair__apply(p, ROLE_EV_LEASE_LOST, 0);
}

void *pair__lease_loop(void *arg)
{
	struct pair *p = arg;
	uint32_t period = p->cfg.lease_ms / 4 > 20 ? p->cfg.lease_ms / 4 : 20;
	while (!pair__stopping(p)) {
		uint32_t wait = pair_lease_step(p, period);
		struct timespec dl = clock_deadline_ms(wait);
		pthread_mutex_lock(&p->lock);
		while (!p->stopping && !p->lease_kick &&
		       pthread_cond_timedwait(&p->lease_cv, &p->lock, &dl) != ETIMEDOUT)
			;
		p->lease_kick = false;
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}
