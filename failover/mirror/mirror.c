#include "failover/mirror/mirror.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "failover/peer/peer.h"
#include "server/log/log.h"
#include "util/clock.h"

struct mirror {
	pthread_mutex_t lock;
	pthread_cond_t queued_cv; /* records to send, or a wake-up */
	pthread_cond_t acked_cv;  /* the acknowledged position moved, or a detach */
	/* queued records, each u32 length (host order) + bytes, in position order;
	 * the first at q[head] has position sent + 1 */
	uint8_t *q;
	size_t head, tail;
	uint64_t pushed, sent, acked, catchup;
	uint64_t generation; /* bumped at every detach: a waiter of an older one gives up */
	uint64_t detaches;
	bool attached, have_catchup, woken;
	/* The transport (mirror_set_transport) and its one batch buffer: whoever
	 * sets `sending` takes and sends until the queue is empty, so frames leave
	 * in position order and a record pushed meanwhile is never left behind. */
	mirror_send_fn send;
	void *send_arg;
	uint8_t *sbuf;
	size_t scap;
	bool sending;
};

int mirror_create(struct mirror **out)
{
	struct mirror *m = calloc(1, sizeof(*m));
	if (!m || !(m->q = malloc(MIRROR_QUEUE_BYTES))) {
		free(m);
		return -ENOMEM;
	}
	/* Deadlines are on the monotonic clock: a wall-clock step must not end or
	 * stretch a wait. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->queued_cv, &ca);
	pthread_cond_init(&m->acked_cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = m;
	return 0;
}

void mirror_destroy(struct mirror *m)
{
	if (!m)
		return;
	pthread_cond_destroy(&m->acked_cv);
	pthread_cond_destroy(&m->queued_cv);
	pthread_mutex_destroy(&m->lock);
	free(m->sbuf);
	free(m->q);
	free(m);
}

/* Positions restart at every attach from where they are: a late ack of a detached
 * generation is ignored by the generation check in waiters and by acked <= pushed. */
void mirror_attach(struct mirror *m)
{
	pthread_mutex_lock(&m->lock);
	if (!m->attached) {
		m->attached = true;
		m->have_catchup = false;
		m->head = m->tail = 0;
		m->sent = m->acked = m->pushed;
	}
	pthread_mutex_unlock(&m->lock);
}

static void detach_locked(struct mirror *m, const char *why)
{
	if (!m->attached)
		return;
	m->attached = false;
	m->have_catchup = false;
	m->head = m->tail = 0;
	m->generation++;
	m->detaches++;
	pthread_cond_broadcast(&m->acked_cv);
	log_warn("mirror: standby detached (%s): replies are not mirrored until it catches up",
		 why);
}

void mirror_detach(struct mirror *m, const char *why)
{
	pthread_mutex_lock(&m->lock);
	detach_locked(m, why);
	pthread_mutex_unlock(&m->lock);
}

bool mirror_attached(struct mirror *m)
{
	pthread_mutex_lock(&m->lock);
	bool a = m->attached;
	pthread_mutex_unlock(&m->lock);
	return a;
}

void mirror_mark_catchup(struct mirror *m)
{
	pthread_mutex_lock(&m->lock);
	m->catchup = m->pushed;
	m->have_catchup = m->attached;
	pthread_mutex_unlock(&m->lock);
}

bool mirror_caught_up(struct mirror *m)
{
	pthread_mutex_lock(&m->lock);
	bool c = m->attached && m->have_catchup && m->acked >= m->catchup;
	pthread_mutex_unlock(&m->lock);
	return c;
}

static uint64_t push_locked(struct mirror *m, const uint8_t *rec, uint32_t len)
{
	if (!m->attached)
		return 0;
	if (m->head > 0 && MIRROR_QUEUE_BYTES - m->tail < len + 4) {
		memmove(m->q, m->q + m->head, m->tail - m->head);
		m->tail -= m->head;
		m->head = 0;
	}
	if (MIRROR_QUEUE_BYTES - m->tail < len + 4) {
		detach_locked(m, "send queue full");
		return 0;
	}
	memcpy(m->q + m->tail, &len, 4);
	memcpy(m->q + m->tail + 4, rec, len);
	m->tail += len + 4;
	return ++m->pushed;
}

uint64_t mirror_push(struct mirror *m, const uint8_t *rec, uint32_t len)
{
	pthread_mutex_lock(&m->lock);
	uint64_t pos = push_locked(m, rec, len);
	if (pos)
		pthread_cond_signal(&m->queued_cv);
	pthread_mutex_unlock(&m->lock);
	return pos;
}

void mirror_set_transport(struct mirror *m, mirror_send_fn send, void *arg, size_t cap)
{
	uint8_t *buf = malloc(cap);
	pthread_mutex_lock(&m->lock);
	free(m->sbuf);
	m->sbuf = buf;
	m->scap = buf ? cap : 0;
	m->send = buf ? send : NULL;
	m->send_arg = arg;
	pthread_mutex_unlock(&m->lock);
}

static uint32_t take_locked(struct mirror *m, uint8_t *buf, size_t cap, uint32_t *used,
			    uint64_t *last);

/* Under m->lock: sends what is queued, unless another thread already does (it
 * then takes what was queued meanwhile before it stops). */
static void drain_locked(struct mirror *m)
{
	/* One frame at a time on the wire: what is pushed while a frame waits for
	 * its acknowledgement goes together in the next one, which the
	 * acknowledgement sends (group commit: under load, a frame and an
	 * acknowledgement per round trip, not per record). */
	if (m->sending || !m->send || m->acked < m->sent)
		return;
	m->sending = true;
	for (;;) {
		uint32_t used;
		uint64_t last;
		uint32_t n = m->attached && m->acked == m->sent
				 ? take_locked(m, m->sbuf, m->scap, &used, &last)
				 : 0;
		if (!n)
			break;
		uint64_t gen = m->generation;
		pthread_mutex_unlock(&m->lock);
		bool ok = m->send(m->send_arg, m->sbuf, used, n, last);
		pthread_mutex_lock(&m->lock);
		if (!ok && m->generation == gen)
			detach_locked(m, "cannot send to the partner");
	}
	m->sending = false;
}

uint64_t mirror_push_send(struct mirror *m, const uint8_t *rec, uint32_t len)
{
	pthread_mutex_lock(&m->lock);
	uint64_t pos = push_locked(m, rec, len);
	if (pos && m->send)
		drain_locked(m);
	else if (pos)
		pthread_cond_signal(&m->queued_cv);
	pthread_mutex_unlock(&m->lock);
	return pos;
}

void mirror_send_queued(struct mirror *m, uint32_t wait_ms)
{
	pthread_mutex_lock(&m->lock);
	if (m->head == m->tail && !m->woken) {
		struct timespec dl = clock_deadline_ms(wait_ms);
		pthread_cond_timedwait(&m->queued_cv, &m->lock, &dl);
	}
	m->woken = false;
	drain_locked(m);
	pthread_mutex_unlock(&m->lock);
}

/* Waits under m->lock until acked >= pos: 0, -ENOTCONN or -ETIMEDOUT. */
static int wait_acked_locked(struct mirror *m, uint64_t pos, uint32_t timeout_ms)
{
	struct timespec dl = clock_deadline_ms(timeout_ms);
	uint64_t gen = m->generation;
	while (m->acked < pos) {
		if (!m->attached || m->generation != gen)
			return -ENOTCONN;
		if (pthread_cond_timedwait(&m->acked_cv, &m->lock, &dl) == ETIMEDOUT &&
		    m->acked < pos) {
			detach_locked(m, "acknowledgement timed out");
			return -ETIMEDOUT;
		}
	}
	return 0;
}

int mirror_wait(struct mirror *m, uint64_t pos, uint32_t timeout_ms)
{
	pthread_mutex_lock(&m->lock);
	int rc = wait_acked_locked(m, pos, timeout_ms);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int mirror_flush(struct mirror *m, uint32_t timeout_ms)
{
	pthread_mutex_lock(&m->lock);
	int rc = m->attached ? wait_acked_locked(m, m->pushed, timeout_ms) : -ENOTCONN;
	pthread_mutex_unlock(&m->lock);
	return rc;
}

uint32_t mirror_take(struct mirror *m, uint8_t *buf, size_t cap, uint32_t *used, uint64_t *last,
		     uint32_t wait_ms)
{
	pthread_mutex_lock(&m->lock);
	if (m->head == m->tail && !m->woken) {
		struct timespec dl = clock_deadline_ms(wait_ms);
		pthread_cond_timedwait(&m->queued_cv, &m->lock, &dl);
	}
	m->woken = false;
	uint32_t count = take_locked(m, buf, cap, used, last);
	pthread_mutex_unlock(&m->lock);
	return count;
}

static uint32_t take_locked(struct mirror *m, uint8_t *buf, size_t cap, uint32_t *used,
			    uint64_t *last)
{
	uint32_t count = 0;
	*used = 0;
	while (m->head < m->tail) {
		uint32_t len;
		memcpy(&len, m->q + m->head, 4);
		if (peer_mirror_add(buf, cap, used, &count, m->q + m->head + 4, len) != PEER_OK)
			break;
		m->head += len + 4;
		m->sent++;
	}
	if (m->head == m->tail)
		m->head = m->tail = 0;
	*last = m->sent;
	return count;
}

void mirror_acked(struct mirror *m, uint64_t pos)
{
	pthread_mutex_lock(&m->lock);
	if (m->attached && pos > m->acked && pos <= m->sent) {
		m->acked = pos;
		pthread_cond_broadcast(&m->acked_cv);
		if (m->head < m->tail)
			drain_locked(m);
	}
	pthread_mutex_unlock(&m->lock);
}

void mirror_wake(struct mirror *m)
{
	pthread_mutex_lock(&m->lock);
	m->woken = true;
	pthread_cond_broadcast(&m->queued_cv);
	pthread_mutex_unlock(&m->lock);
}

void mirror_get_stats(struct mirror *m, struct mirror_stats *s)
{
	pthread_mutex_lock(&m->lock);
	s->pushed = m->pushed;
	s->sent = m->sent;
	s->acked = m->acked;
	s->queued_bytes = m->tail - m->head;
	s->detaches = m->detaches;
	s->attached = m->attached;
	s->caught_up = m->attached && m->have_catchup && m->acked >= m->catchup;
	pthread_mutex_unlock(&m->lock);
}
