/*
 * pair_mirror.c — the pair's side of the mirror stream (failover/mirror): attach
 * and catch-up, the sender thread, what the standby does with a batch, the
 * release's last records; and the client list that the node taking over tickles.
 */
#include "failover/pair/pair_int.h"

/* Re-sends what the request table holds on an attached stream, so a standby
 * that joined late (or fell behind) has every saved reply. */
void pair__mirror_catch_up(struct pair *p)
{
	uint32_t n = p->ops.mirror_catch_up(p->ops.arg);
	mirror_mark_catchup(p->ops.mirror);
	log_info("pair: mirror stream attached, catching the partner up with %u saved replies", n);
}

/* Attaches the stream and catches the standby up. */
void pair__mirror_attach(struct pair *p)
{
	mirror_attach(p->ops.mirror);
	pair__mirror_catch_up(p);
}

/* The release's last records: every reply sent so far is on the partner before
 * it is told RELEASED. A stream that cannot finish does not stop the release:
 * the partner asked for it, and without a link it would take over anyway. */
void pair__sync_mirror(struct pair *p)
{
	if (!mirror_caught_up(p->ops.mirror)) {
		mirror_detach(p->ops.mirror, "re-sending everything for the release");
		pair__mirror_attach(p);
	}
	int rc = mirror_flush(p->ops.mirror, p->cfg.mirror_timeout_ms + 1000);
	struct mirror_stats ms;
	mirror_get_stats(p->ops.mirror, &ms);
	if (rc < 0)
		log_error("pair: the mirror did not catch up before the release (%s): the "
			  "partner may run retransmitted calls again",
			  strerror(-rc));
	else
		log_info("pair: mirror flushed at position %" PRIu64, ms.acked);
}

void pair__load_mirror(struct pair *p)
{
	/* The records went into the request table as they arrived: nothing is left
	 * to load, only to report. */
	pthread_mutex_lock(&p->lock);
	uint64_t n = p->mirror_loaded, pos = p->mirror_stored;
	pthread_mutex_unlock(&p->lock);
	log_info("pair: the request table holds %" PRIu64
		 " saved replies from the partner (stream position %" PRIu64 ")",
		 n, pos);
}

/* The partner serves and says its stream to this node is not caught up. */
static bool pair_mirror_behind(struct pair *p)
{
	pthread_mutex_lock(&p->lock);
	bool behind = p->peer_seen && p->peer_state == ROLE_ACTIVE && !p->peer_caught_up;
	pthread_mutex_unlock(&p->lock);
	return behind;
}

/* A partner that has just started serving (a restart, a giveback) catches this
 * node up first: a check waits for that a little rather than refuse at once. */
int pair__mirror_wait(struct pair *p)
{
	uint64_t until = pair__now_ms() + PAIR_CATCH_UP_WAIT_MS;
	while (pair_mirror_behind(p)) {
		if (pair__now_ms() >= until)
			return -EAGAIN;
		usleep(20000);
	}
	return 0;
}

/* Is sa (a local address of a client connection) the service address? An
 * IPv4-mapped IPv6 address counts as the IPv4 one. */
static bool pair_is_vip(const struct pair *p, struct sockaddr_storage *sa)
{
	pair__unmap(sa);
	return pair__same_ip(sa, &p->vip_sa);
}

static uint64_t pair_sum(const uint8_t *b, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a: only to notice a change */
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h ^ n;
}

/* This node's client connections to the service address, for the partner's
 * tickle after a takeover; sent when they changed (or when force). */
void pair__send_clients(struct pair *p, bool force)
{
	struct tickle_conn *c = malloc(PAIR_MAX_CLIENTS * sizeof(*c));
	uint8_t *buf = malloc((size_t)PAIR_MAX_CLIENTS * PEER_CLIENT_LEN);
	size_t n = c && buf ? p->ops.client_conns(p->ops.arg, c, PAIR_MAX_CLIENTS) : 0;
	uint32_t count = 0;
	for (size_t i = 0; i < n; i++)
		if (pair_is_vip(p, &c[i].server))
			peer_clients_add(buf, (size_t)PAIR_MAX_CLIENTS * PEER_CLIENT_LEN, &count,
					 (struct sockaddr *)&c[i].server,
					 (struct sockaddr *)&c[i].client);
	uint64_t sum = buf ? pair_sum(buf, (size_t)count * PEER_CLIENT_LEN) : 0;
	pthread_mutex_lock(&p->lock);
	bool send = buf && (force || sum != p->clients_sum);
	pthread_mutex_unlock(&p->lock);
	struct peer_msg m = {.type = PEER_CLIENTS};
	m.u.clients = (struct peer_clients){count, buf};
	if (send && pair__send(p, &m) == PEER_OK) {
		pthread_mutex_lock(&p->lock);
		p->clients_sum = sum;
		pthread_mutex_unlock(&p->lock);
	}
	free(buf);
	free(c);
}

void pair__rx_clients(struct pair *p, const struct peer_clients *pc)
{
	pthread_mutex_lock(&p->lock);
	p->nclients = 0;
	for (uint32_t i = 0; i < pc->count && i < PAIR_MAX_CLIENTS && p->clients; i++) {
		peer_clients_get(pc, i, &p->clients[i].server, &p->clients[i].client);
		p->nclients++;
	}
	pthread_mutex_unlock(&p->lock);
}

/* One round of tickles to the partner's clients (DESIGN.md): each client's TCP
 * answers the bare ACK, gets an RST from this node, and reconnects at once. */
void pair__tickle(struct pair *p)
{
	pthread_mutex_lock(&p->lock);
	uint32_t n = p->nclients;
	struct tickle_conn *c = n ? malloc(n * sizeof(*c)) : NULL;
	if (c)
		memcpy(c, p->clients, n * sizeof(*c));
	pthread_mutex_unlock(&p->lock);
	if (!c)
		return;
	int rc = tickle_send(c, n, 1);
	if (rc < 0)
		log_warn("pair: tickle of %u client connections: %s", n, strerror(-rc));
	else
		log_debug("pair: tickled %d client connections", rc);
	free(c);
}

/* A batch of the partner's stream: the acknowledgement its sync calls wait
 * for, then into the request table. Acknowledging first takes the loading out
 * of the partner's wait and is safe: this thread loads the batch before it
 * reads the next message or raises any event, and a takeover starts from one. */
void pair__rx_mirror(struct pair *p, const struct peer_mirror *m)
{
	struct peer_msg ack = {.type = PEER_MIRROR_ACK};
	ack.u.mirror_ack.position = m->position;
	pair__send(p, &ack);
	uint32_t off = 0, len, loaded = 0;
	const uint8_t *rec;
	while (peer_mirror_next(m, &off, &rec, &len))
		loaded += p->ops.mirror_load(p->ops.arg, rec, len) == 0;
	pthread_mutex_lock(&p->lock);
	p->mirror_stored = m->position;
	p->mirror_loaded += loaded;
	pthread_mutex_unlock(&p->lock);
}

/* The stream runs while this node serves and the partner listens; one that fell
 * behind is attached again (with a catch-up) at most every two seconds. */
void pair__mirror_keep(struct pair *p, bool serving, bool attach, uint64_t now)
{
	if (!serving) {
		if (mirror_attached(p->ops.mirror))
			mirror_detach(p->ops.mirror, "this node no longer serves");
		return;
	}
	pthread_mutex_lock(&p->link_lock);
	bool up = peer_link_state(p->link) >= PEER_LINK_HELLO_DONE;
	pthread_mutex_unlock(&p->link_lock);
	if (!attach || !up || mirror_attached(p->ops.mirror))
		return;
	p->next_attach_ms = now + 2000;
	pair__mirror_attach(p);
}

/* Serving: the client list to the partner every PAIR_CLIENTS_MS when it changed.
 * Just claimed: the remaining ARP announcements and tickle rounds, then the list
 * is spent. */
void pair__clients_timer(struct pair *p, uint64_t now)
{
	pthread_mutex_lock(&p->lock);
	bool serving = p->state == ROLE_ACTIVE;
	bool send = serving && now >= p->next_clients_ms;
	if (send)
		p->next_clients_ms = now + PAIR_CLIENTS_MS;
	bool tickle = p->tickle_rounds && now >= p->next_tickle_ms;
	if (tickle) {
		p->next_tickle_ms = now + TICKLE_INTERVAL_MS;
		if (--p->tickle_rounds == 0)
			p->nclients = 0;
	}
	bool announce = p->announce_rounds && now >= p->next_announce_ms;
	if (announce) {
		p->next_announce_ms = now + PAIR_ANNOUNCE_GAP_MS;
		p->announce_rounds--;
	}
	pthread_mutex_unlock(&p->lock);
	if (announce && vip_announce(&p->vip, 1) < 0)
		log_warn("pair: ARP announcement of the service address failed");
	if (tickle)
		pair__tickle(p);
	if (send)
		pair__send_clients(p, false);
}

/* The mirror's transport: one MIRROR frame per batch. */
bool pair__mirror_transport(void *arg, const uint8_t *buf, uint32_t used, uint32_t count,
			    uint64_t last)
{
	struct peer_msg m = {.type = PEER_MIRROR};
	m.u.mirror = (struct peer_mirror){last, count, used, (uint8_t *)buf};
	return pair__send(arg, &m) == PEER_OK;
}

/* The sender: what is queued but not sent by a request thread (catch-up,
 * async mode). */
void *pair__mirror_sender(void *arg)
{
	struct pair *p = arg;
	while (!pair__stopping(p))
		mirror_send_queued(p->ops.mirror, PAIR_LOOP_TICK_MS);
	return NULL;
}

/* The mirror as this node sees it: sending (serving) or receiving (standby).
 * lag = records not yet acknowledged by (or not yet received from) the other. */
void pair__mirror_kv(struct pair *p, struct admin_kv *kv, uint64_t stored, uint64_t peer_pos,
		     bool peer_caught_up)
{
	struct mirror_stats ms;
	mirror_get_stats(p->ops.mirror, &ms);
	admin_kv_str(kv, "mirror_mode",
		     p->cfg.mirror == MIRROR_SYNC    ? "sync"
		     : p->cfg.mirror == MIRROR_ASYNC ? "async"
						     : "strict");
	if (ms.attached) {
		admin_kv_str(kv, "mirror",
			     ms.caught_up ? "sending, standby caught up"
					  : "sending, standby catching up");
		admin_kv_u64(kv, "mirror_position", ms.pushed);
		admin_kv_u64(kv, "mirror_lag", ms.pushed - ms.acked);
	} else if (peer_pos) {
		admin_kv_str(kv, "mirror",
			     peer_caught_up ? "receiving, caught up" : "receiving, behind");
		admin_kv_u64(kv, "mirror_position", stored);
		admin_kv_u64(kv, "mirror_lag", peer_pos > stored ? peer_pos - stored : 0);
	} else {
		admin_kv_str(kv, "mirror", "idle");
		admin_kv_u64(kv, "mirror_position", stored);
		admin_kv_u64(kv, "mirror_lag", 0);
	}
	admin_kv_u64(kv, "mirror_detaches", ms.detaches);
}
