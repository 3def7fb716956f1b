#include "failover/pair/pair_int.h"

static int pair_resolve(const char *addr, uint16_t port, struct sockaddr_storage *ss,
			socklen_t *len);

uint64_t pair__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- transitions --------------------------------------------------------------- */

static void pair_log_transition(enum role_state from, enum role_event ev,
				const struct role_transition *t)
{
	if (t->next != from)
		log_info("pair: %s --%s--> %s", role_state_name(from), role_event_name(ev),
			 role_state_name(t->next));
	else if (t->refuse != ROLE_REFUSE_NONE)
		log_info("pair: %s: %s refused (%s)", role_state_name(from), role_event_name(ev),
			 role_refuse_name(t->refuse));
	else
		log_debug("pair: %s: %s", role_state_name(from), role_event_name(ev));
}

/* Applies an event under p->lock; epoch != 0 drops a result of an older episode. */
static struct role_transition pair_apply_locked(struct pair *p, enum role_event ev, uint64_t epoch)
{
	struct role_transition t = {.next = p->state};
	if (epoch && epoch != p->epoch)
		return t;
	t = role_next(p->state, ev);
	pair_log_transition(p->state, ev, &t);
	if (t.next != p->state) {
		p->state = t.next;
		p->epoch++;
		role_timer_enter(p->timer, t.next);
	}
	uint32_t work = t.actions & ~ROLE_ACT(ROLE_A_LOG);
	if (work && p->njobs < PAIR_MAX_JOBS) {
		p->jobs[p->njobs++] = (struct pair_job){work, t.next, p->epoch, t.refuse};
		pthread_cond_signal(&p->job_cv);
	} else if (work) {
		log_error("pair: action queue full, dropping %s's actions", role_event_name(ev));
	}
	return t;
}

struct role_transition pair__apply(struct pair *p, enum role_event ev, uint64_t epoch)
{
	pthread_mutex_lock(&p->lock);
	struct role_transition t = pair_apply_locked(p, ev, epoch);
	pthread_mutex_unlock(&p->lock);
	return t;
}

/* What an operator reads when a command is refused at once. */
static const char *pair_refuse_text(enum role_refuse r)
{
	switch (r) {
	case ROLE_REFUSE_CANNOT_BACK_UP:
		return "the standby cannot back this node up";
	case ROLE_REFUSE_CHECK_TIMEOUT:
		return "the can-backup check did not finish in time";
	case ROLE_REFUSE_NOT_SERVING:
		return "this node does not serve the exports (handover is run on the serving "
		       "node)";
	case ROLE_REFUSE_SERVING:
		return "this node already serves the exports";
	case ROLE_REFUSE_HELD_DOWN:
		return "this node is held down by its partner until a giveback";
	case ROLE_REFUSE_BUSY:
		return "a takeover or a release is already under way";
	case ROLE_REFUSE_STARTING:
		return "this node has not heard from its partner yet";
	default:
		return role_refuse_name(r);
	}
}

/* ---- messages -------------------------------------------------------------------- */

enum peer_status pair__send(struct pair *p, const struct peer_msg *m)
{
	pthread_mutex_lock(&p->link_lock);
	enum peer_status st = peer_link_state(p->link) >= PEER_LINK_HELLO_DONE
				  ? peer_link_send(p->link, m)
				  : PEER_ECLOSED;
	pthread_mutex_unlock(&p->link_lock);
	if (st != PEER_OK)
		log_debug("pair: send %s: %s", peer_type_name(m->type), peer_strerror(st));
	return st;
}

static void pair_send_notice(struct pair *p, enum peer_type type, uint16_t code, const char *text)
{
	struct peer_msg m = {.type = type};
	struct peer_notice *n = type == PEER_FAULT		? &m.u.fault
				: type == PEER_TAKEOVER_REQUEST ? &m.u.takeover
								: &m.u.refuse;
	n->code = code;
	size_t len = strnlen(text, PEER_DETAIL_MAX);
	memcpy(n->detail, text, len);
	n->detail[len] = '\0';
	pair__send(p, &m);
}

static void pair_send_heartbeat(struct pair *p)
{
	struct peer_msg m = {.type = PEER_HEARTBEAT};
	pthread_mutex_lock(&p->lock);
	m.u.heartbeat.state = (uint8_t)p->state;
	m.u.heartbeat.epoch = p->epoch;
	m.u.heartbeat.mirror_pos = p->mirror_stored;
	pthread_mutex_unlock(&p->lock);
	struct mirror_stats ms;
	mirror_get_stats(p->ops.mirror, &ms);
	if (ms.attached)
		m.u.heartbeat.mirror_pos = ms.pushed;
	/* bit 0: this node holds its partner down (the heartbeat-borne STAY_DOWN);
	 * bit 1: this node is the preferred one (for the start-up tie-break);
	 * bit 2: this node's mirror stream to the partner is caught up */
	m.u.heartbeat.health = (atomic_load(&p->stay_down_on) ? 1u : 0u) |
			       (p->cfg.preferred ? 2u : 0u) | (ms.caught_up ? 4u : 0u);
	pair__send(p, &m);
}

/* ---- actions ------------------------------------------------------------------- */

/* Runs `sh -c CMD` with TWINFS_EVENT set, bounded in time. 0 when it exits 0. */
static int pair_run_command(const char *cmd, const char *event)
{
	char envbuf[64];
	snprintf(envbuf, sizeof(envbuf), "TWINFS_EVENT=%s", event);
	/* A small fixed environment: setenv() is not thread-safe, and hooks should
	 * not depend on what the daemon was started with. */
	char *envp[] = {envbuf, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			NULL};
	char *argv[] = {"sh", "-c", (char *)cmd, NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, envp);
	if (rc != 0)
		return -rc;
	for (int waited = 0;; waited += 10) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
		if (r < 0 || waited >= PAIR_HOOK_TIMEOUT) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		usleep(10000);
	}
}

static int pair_hook(const char *cmd, const char *event)
{
	if (!cmd[0])
		return 0;
	int rc = pair_run_command(cmd, event);
	if (rc < 0)
		log_error("pair: %s hook '%s' failed: %s", event, cmd, strerror(-rc));
	else
		log_info("pair: %s hook '%s' done", event, cmd);
	return rc;
}

static int pair_address(struct pair *p, bool add)
{
	char err[256] = "";
	int rc = add ? vip_add(&p->vip, err, sizeof(err)) : vip_del(&p->vip, err, sizeof(err));
	if (rc == 0 && add)
		rc = vip_announce(&p->vip, 1);
	/* Two more announcements, in case one is lost, come from the loop: the
	 * claim goes on at once, as every client waits for its end (the tickle). */
	pthread_mutex_lock(&p->lock);
	p->announce_rounds = rc == 0 && add ? 2 : 0;
	p->next_announce_ms = pair__now_ms() + PAIR_ANNOUNCE_GAP_MS;
	pthread_mutex_unlock(&p->lock);
	if (rc < 0)
		log_error("pair: %s service address %s/%u on %s: %s %s",
			  add ? "adding" : "removing", p->vip.addr, p->vip.prefix, p->vip.iface,
			  strerror(-rc), err);
	else
		log_info("pair: service address %s %s", p->vip.addr, add ? "added" : "removed");
	return rc;
}

static int pair_check(struct pair *p)
{
	char why[PEER_DETAIL_MAX + 1] = "";
	int rc = 0;
	pthread_mutex_lock(&p->link_lock);
	bool up = peer_link_state(p->link) >= PEER_LINK_HELLO_DONE;
	pthread_mutex_unlock(&p->link_lock);
	if (!up)
		snprintf(why, sizeof(why), "peer link down"), rc = -ENOTCONN;
	else if (!p->peer_fp_ok)
		snprintf(why, sizeof(why), "exports differ from the partner's"), rc = -EINVAL;
	else if (pair__mirror_wait(p) < 0)
		snprintf(why, sizeof(why),
			 "mirror behind: this node lacks some of the partner's "
			 "saved replies"),
		    rc = -EAGAIN;
	else
		rc = p->ops.storage_check(p->ops.arg, why, sizeof(why));
	pthread_mutex_lock(&p->lock);
	snprintf(p->refuse_detail, sizeof(p->refuse_detail), "%s", rc ? why : "");
	pthread_mutex_unlock(&p->lock);
	if (rc)
		log_warn("pair: cannot back the partner up: %s", why);
	return rc;
}

static void pair_send_released(struct pair *p)
{
	struct peer_msg m = {.type = PEER_RELEASED};
	p->ops.get_verifier(p->ops.arg, m.u.released.verifier);
	pthread_mutex_lock(&p->lock);
	m.u.released.request = p->shutdown_rx;
	pthread_mutex_unlock(&p->lock);
	struct mirror_stats ms;
	mirror_get_stats(p->ops.mirror, &ms);
	m.u.released.mirror_pos = ms.acked;
	pair__send(p, &m);
}

static void pair_send_refuse(struct pair *p, enum role_refuse why)
{
	/* Longer than a detail may be: pair_send_notice() cuts it to PEER_DETAIL_MAX. */
	char detail[2 * PEER_DETAIL_MAX];
	pthread_mutex_lock(&p->lock);
	snprintf(detail, sizeof(detail), "%s%s%s", pair_refuse_text(why),
		 p->refuse_detail[0] ? ": " : "", p->refuse_detail);
	pthread_mutex_unlock(&p->lock);
	pair_send_notice(p, PEER_REFUSE, (uint16_t)why, detail);
}

/* A refusal for twinctl to report: it waits for the outcome of a command by
 * watching `refusals` (pair status) besides the roles. */
static void pair_refused_locked(struct pair *p, const char *who, const char *why)
{
	p->refusals++;
	snprintf(p->last_refusal, sizeof(p->last_refusal), "%s: %s", who, why);
}

/* Performs one action; a negative return fails the release or claim in progress. */
static int pair_do(struct pair *p, enum role_action a, const struct pair_job *job)
{
	switch (a) {
	case ROLE_A_START_FENCE:
		if (p->cfg.fence_command[0] && pair_hook(p->cfg.fence_command, "fence") < 0)
			return 0; /* not fenced: FENCING times out back to STANDBY */
		/* With a lease, the lease thread says PEER_FENCED once it has seen the
		 * partner's lease expire (or LEASE_FREE: released): woken now, as the
		 * lease has usually run out while the silence lasted. */
		if (!p->lease) {
			pair__apply(p, ROLE_EV_PEER_FENCED, job->epoch);
			return 0;
		}
		pthread_mutex_lock(&p->lock);
		p->lease_kick = true;
		pthread_cond_signal(&p->lease_cv);
		pthread_mutex_unlock(&p->lock);
		return 0;
	case ROLE_A_LEASE_ACQUIRE:
	case ROLE_A_LEASE_SEIZE:
		return pair__lease_take(p, a == ROLE_A_LEASE_SEIZE);
	case ROLE_A_LEASE_RELEASE:
	case ROLE_A_LEASE_ABANDON:
		pair__lease_drop(p, a == ROLE_A_LEASE_RELEASE);
		return 0;
	case ROLE_A_STOP_STAY_DOWN:
		atomic_store(&p->stay_down_on, false);
		return 0;
	case ROLE_A_STOP_ADMITTING:
		return 0; /* part of drain */
	case ROLE_A_DRAIN:
		if (p->ops.drain(p->ops.arg, p->cfg.drain_timeout_ms) == 0)
			pair__apply(p, ROLE_EV_DRAIN_DONE, job->epoch);
		return 0; /* a drain that timed out ends by the role timer */
	case ROLE_A_FLUSH_WRITES:
		return p->ops.flush(p->ops.arg);
	case ROLE_A_SYNC_MIRROR:
		pair__sync_mirror(p);
		pair__send_clients(p, true);
		return 0;
	case ROLE_A_CLOSE_CONNECTIONS:
		p->ops.set_serving(p->ops.arg, false);
		return 0;
	case ROLE_A_RELEASE_ADDRESS: {
		/* The address goes first, then the connections: a client whose
		 * connection closes must not reconnect to this node, which no longer
		 * serves, but find the address gone and retry until the partner has it. */
		int rc = pair_address(p, false);
		p->ops.close_clients(p->ops.arg);
		return rc;
	}
	case ROLE_A_RUN_RELEASE_HOOK:
		return pair_hook(p->cfg.release_hook, "release");
	case ROLE_A_RUN_CHECK: {
		int rc = pair_check(p);
		if (rc < 0) {
			pthread_mutex_lock(&p->lock);
			pair_refused_locked(p, "this node cannot back the partner up",
					    p->refuse_detail);
			pthread_mutex_unlock(&p->lock);
		}
		pair__apply(p, rc == 0 ? ROLE_EV_CHECK_PASSED : ROLE_EV_CHECK_FAILED, job->epoch);
		return 0;
	}
	case ROLE_A_RUN_ACQUIRE_HOOK:
		return pair_hook(p->cfg.acquire_hook, "acquire");
	case ROLE_A_LOAD_MIRROR:
		pair__load_mirror(p);
		return 0;
	case ROLE_A_BUMP_VERIFIER:
		p->ops.bump_verifier(p->ops.arg);
		return 0;
	case ROLE_A_START_SERVING: {
		/* The stream first: a call this node runs before the partner listens
		 * would be lost to it if this node then crashed. Its catch-up (the
		 * whole request table, ~20 ms for 16k replies) comes once the claim
		 * is done: the clients wait for the address, not for it. */
		pthread_mutex_lock(&p->link_lock);
		bool up = peer_link_state(p->link) >= PEER_LINK_HELLO_DONE;
		pthread_mutex_unlock(&p->link_lock);
		if (up && !mirror_attached(p->ops.mirror)) {
			mirror_attach(p->ops.mirror);
			p->catch_up_due = true;
		}
		p->ops.set_serving(p->ops.arg, true);
		return 0;
	}
	case ROLE_A_ADD_ADDRESS:
		return pair_address(p, true);
	case ROLE_A_TICKLE_CLIENTS:
		pair__tickle(p);
		pthread_mutex_lock(&p->lock);
		p->tickle_rounds = 2; /* more rounds from the loop, in case of a lost ARP */
		p->next_tickle_ms = pair__now_ms() + TICKLE_INTERVAL_MS;
		uint32_t n = p->nclients;
		pthread_mutex_unlock(&p->lock);
		log_info("pair: tickled the partner's %u client connections", n);
		return 0;
	case ROLE_A_START_STAY_DOWN:
		atomic_store(&p->stay_down_on, true);
		return 0;
	case ROLE_A_SEND_FAULT: {
		char detail[PEER_DETAIL_MAX + 1];
		pthread_mutex_lock(&p->lock);
		enum role_fault f = p->fault;
		snprintf(detail, sizeof(detail), "%s", p->fault_detail);
		pthread_mutex_unlock(&p->lock);
		pair_send_notice(p, PEER_FAULT, (uint16_t)f, detail);
	}
		return 0;
	case ROLE_A_SEND_TAKEOVER_REQUEST:
		pair_send_notice(p, PEER_TAKEOVER_REQUEST, 0, "take over");
		return 0;
	case ROLE_A_SEND_SHUTDOWN_REQUEST: {
		/* The episode's epoch names the request: only its RELEASED counts. */
		struct peer_msg m = {.type = PEER_SHUTDOWN_REQUEST};
		m.u.shutdown.request = job->epoch;
		pthread_mutex_lock(&p->lock);
		p->shutdown_sent = job->epoch;
		pthread_mutex_unlock(&p->lock);
		pair__send(p, &m);
		return 0;
	}
	case ROLE_A_SEND_REFUSE:
		pair_send_refuse(p, job->refuse);
		return 0;
	case ROLE_A_SEND_RELEASED:
		pair_send_released(p);
		return 0;
	case ROLE_A_SEND_GIVEBACK:
		pair__send(p, &(struct peer_msg){.type = PEER_GIVEBACK});
		return 0;
	default:
		/* LOG (done by pair__apply), STOP_FENCE (the lease thread only watches
		 * while FENCING): nothing to do. */
		return 0;
	}
}

static void pair_adopt_verifier(struct pair *p, const struct pair_job *job)
{
	/* A planned takeover keeps the verifier: everything was flushed, so clients
	 * need not resend (DESIGN.md). BUMP_VERIFIER, later in the job, overrides. */
	pthread_mutex_lock(&p->lock);
	bool have = p->have_peer_verf;
	uint8_t verf[8];
	memcpy(verf, p->peer_verf, 8);
	p->have_peer_verf = false;
	pthread_mutex_unlock(&p->lock);
	if (have && !(job->actions & ROLE_ACT(ROLE_A_BUMP_VERIFIER)))
		p->ops.set_verifier(p->ops.arg, verf);
}

static void pair_run_job(struct pair *p, const struct pair_job *job)
{
	bool releasing = job->next == ROLE_RELEASING;
	bool claiming = job->next == ROLE_TAKING_OVER || job->next == ROLE_TAKING_BACK;
	int rc = 0;

	if (claiming)
		pair_adopt_verifier(p, job);
	for (int a = 0; a < ROLE__NACTIONS && rc == 0; a++)
		if (job->actions & ROLE_ACT(a))
			rc = pair_do(p, (enum role_action)a, job);
	if (releasing)
		pair__apply(p, rc ? ROLE_EV_RELEASE_FAILED : ROLE_EV_RELEASE_DONE, job->epoch);
	if (claiming)
		pair__apply(p, rc ? ROLE_EV_CLAIM_FAILED : ROLE_EV_CLAIM_DONE, job->epoch);
	if (p->catch_up_due) {
		p->catch_up_due = false;
		if (rc == 0)
			pair__mirror_catch_up(p);
	}
}

static void *pair_executor(void *arg)
{
	struct pair *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->njobs && !p->stopping)
			pthread_cond_wait(&p->job_cv, &p->lock);
		if (p->stopping)
			break;
		struct pair_job job = p->jobs[0];
		memmove(p->jobs, p->jobs + 1, --p->njobs * sizeof(job));
		pthread_mutex_unlock(&p->lock);
		pair_run_job(p, &job);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- the loop: link, heartbeats, liveness, timers --------------------------------- */

static void pair_link_down(struct pair *p, const char *why)
{
	pthread_mutex_lock(&p->link_lock);
	bool was = peer_link_fd(p->link) >= 0;
	peer_link_close(p->link);
	pthread_mutex_unlock(&p->link_lock);
	if (was)
		log_warn("pair: peer link down: %s", why);
	mirror_detach(p->ops.mirror, "peer link down");
	p->backoff_ms = peer_backoff_next(p->backoff_ms);
	p->next_connect_ms = pair__now_ms() + p->backoff_ms;
}

static void pair_attach(struct pair *p, int fd)
{
	pthread_mutex_lock(&p->link_lock);
	peer_link_close(p->link);
	enum peer_status st = peer_link_attach(p->link, fd);
	pthread_mutex_unlock(&p->link_lock);
	if (st != PEER_OK)
		log_warn("pair: peer link: %s", peer_strerror(st));
	else
		p->backoff_ms = 0;
}

static void pair_rx_heartbeat(struct pair *p, const struct peer_heartbeat *hb)
{
	pthread_mutex_lock(&p->lock);
	p->peer_state = (enum role_state)hb->state;
	p->peer_holds_me = hb->health & 1;
	bool peer_preferred = hb->health & 2;
	p->peer_caught_up = hb->health & 4;
	p->peer_mirror_pos = hb->mirror_pos;
	enum role_event ev = role_heartbeat_event(p->peer_state, p->peer_holds_me);
	pair_apply_locked(p, ev, 0);
	/* The preferred node starts the service when its partner serves nothing and
	 * holds nobody down: the lease is free (role.h, LEASE_FREE). Two nodes both
	 * configured preferred: node 1 wins, so they never both claim. */
	bool mine = p->cfg.preferred && (!peer_preferred || p->cfg.node_id == 1);
	/* A lease left held (both nodes went down) or unreadable: once it has
	 * expired, its last holder (or, unreadable, the preferred node) restarts
	 * the service; before, nobody does. */
	if (p->lease && p->have_lease_view &&
	    (p->lease_view.state == LEASE_HELD || p->lease_view.state == LEASE_UNKNOWN)) {
		if (p->lease_view.state == LEASE_HELD)
			mine = p->lease_view.holder == p->cfg.node_id;
		mine = mine && p->lease_view.expired;
	}
	if (mine && p->state == ROLE_STANDBY && ev == ROLE_EV_HB_PEER_IDLE)
		pair_apply_locked(p, ROLE_EV_LEASE_FREE, 0);
	/* A partner held down (it lost its lease, or failed to release) or stopped
	 * serves nothing until a giveback and claims nothing: as after its FAULT,
	 * this node watches the lease and, as a standby, claims it once it is free
	 * or has expired (pair_lease.c), whichever node is preferred. Without this,
	 * a partner that failed to release for a giveback left neither serving. */
	bool peer_out = p->peer_state == ROLE_HELD_DOWN || p->peer_state == ROLE_DOWN;
	if (peer_out && !p->peer_holds_me && !p->partner_faulted && pair__waiting(p->state)) {
		p->partner_faulted = true;
		p->lease_kick = true;
		pthread_cond_signal(&p->lease_cv);
	}
	pthread_mutex_unlock(&p->lock);
}

static void pair_rx(struct pair *p, const struct peer_msg *m)
{
	static const enum role_event ev_of[PEER_TYPE_MAX + 1] = {
	    [PEER_FAULT] = ROLE_EV_RX_FAULT,
	    [PEER_TAKEOVER_REQUEST] = ROLE_EV_RX_TAKEOVER_REQUEST,
	    [PEER_SHUTDOWN_REQUEST] = ROLE_EV_RX_SHUTDOWN_REQUEST,
	    [PEER_REFUSE] = ROLE_EV_RX_REFUSE,
	    [PEER_RELEASED] = ROLE_EV_RX_RELEASED,
	    [PEER_STAY_DOWN] = ROLE_EV_RX_STAY_DOWN,
	    [PEER_GIVEBACK] = ROLE_EV_RX_GIVEBACK,
	};
	pthread_mutex_lock(&p->lock);
	p->last_rx_ms = pair__now_ms();
	p->silent_reported = false;
	p->peer_seen = true;
	pthread_mutex_unlock(&p->lock);
	switch (m->type) {
	case PEER_HELLO:
		p->peer_fp_ok = m->u.hello.config_fp == p->config_fp;
		if (!p->peer_fp_ok)
			log_error("pair: the partner's exports differ from ours: it cannot back us "
				  "up, nor we it");
		log_info("pair: peer link up (partner node %u)", m->u.hello.node_id);
		return;
	case PEER_HEARTBEAT:
		pair_rx_heartbeat(p, &m->u.heartbeat);
		return;
	case PEER_MIRROR:
		pair__rx_mirror(p, &m->u.mirror);
		return;
	case PEER_MIRROR_ACK:
		mirror_acked(p->ops.mirror, m->u.mirror_ack.position);
		return;
	case PEER_CLIENTS:
		pair__rx_clients(p, &m->u.clients);
		return;
	case PEER_FAULT:
		log_warn("pair: partner reports a fault: %s", m->u.fault.detail);
		pthread_mutex_lock(&p->lock);
		p->partner_faulted = true;
		pthread_mutex_unlock(&p->lock);
		break;
	case PEER_REFUSE:
		log_warn("pair: partner refused: %s", m->u.refuse.detail);
		pthread_mutex_lock(&p->lock);
		pair_refused_locked(p, "the partner refused", m->u.refuse.detail);
		pthread_mutex_unlock(&p->lock);
		break;
	case PEER_SHUTDOWN_REQUEST:
		pthread_mutex_lock(&p->lock);
		p->shutdown_rx = m->u.shutdown.request;
		pthread_mutex_unlock(&p->lock);
		break;
	case PEER_RELEASED: {
		/* A late answer to a request this node has given up must not start a
		 * claim (role.h): only the RELEASED naming the last request counts. */
		pthread_mutex_lock(&p->lock);
		uint64_t want = p->shutdown_sent;
		bool current = m->u.released.request == want;
		if (current) {
			memcpy(p->peer_verf, m->u.released.verifier, 8);
			p->have_peer_verf = true;
		}
		pthread_mutex_unlock(&p->lock);
		if (!current) {
			log_warn("pair: dropped a RELEASED answering an older shutdown request "
				 "(%" PRIu64 ", not %" PRIu64 ")",
				 m->u.released.request, want);
			return;
		}
		break;
	}
	default:
		break;
	}
	pair__apply(p, ev_of[m->type], 0);
}

static void pair_receive(struct pair *p)
{
	for (;;) {
		struct peer_msg m;
		pthread_mutex_lock(&p->link_lock);
		enum peer_status st = peer_link_recv(p->link, &m);
		bool down = peer_link_fd(p->link) < 0;
		pthread_mutex_unlock(&p->link_lock);
		if (st == PEER_NEED_MORE)
			return;
		if (st == PEER_OK) {
			pair_rx(p, &m);
			continue;
		}
		if (down) {
			pair_link_down(p, peer_strerror(st));
			return;
		}
		log_warn("pair: dropped a frame from the partner: %s", peer_strerror(st));
	}
}

static void pair_connect_step(struct pair *p, short revents)
{
	if (p->connect_fd >= 0 && revents) {
		int fd = p->connect_fd;
		p->connect_fd = -1;
		if (peer_connect_finish(fd) == PEER_OK) {
			pair_attach(p, fd);
			return;
		}
		close(fd);
		pair_link_down(p, "connect failed");
		return;
	}
	pthread_mutex_lock(&p->link_lock);
	bool have = peer_link_fd(p->link) >= 0;
	pthread_mutex_unlock(&p->link_lock);
	/* Node 1 connects, node 2 accepts: one connection, no crossing attempts. */
	if (have || p->connect_fd >= 0 || p->cfg.node_id != 1 ||
	    pair__now_ms() < p->next_connect_ms)
		return;
	int fd;
	/* From the listen address when it is a specific one: that is the address
	 * the partner knows this node by (its peer_address). */
	struct sockaddr_storage src;
	socklen_t srclen = 0;
	bool from = strcmp(p->cfg.listen_address, "0.0.0.0") != 0 &&
		    strcmp(p->cfg.listen_address, "::") != 0 &&
		    pair_resolve(p->cfg.listen_address, 0, &src, &srclen) == 0;
	enum peer_status st =
	    peer_connect_start_from(from ? (struct sockaddr *)&src : NULL, srclen,
				    (struct sockaddr *)&p->peer_sa, p->peer_salen, &fd);
	if (st == PEER_OK)
		pair_attach(p, fd);
	else if (st == PEER_NEED_MORE)
		p->connect_fd = fd;
	else
		pair_link_down(p, peer_strerror(st));
}

void pair__unmap(struct sockaddr_storage *sa)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
	if (sa->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		return;
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = in6->sin6_port};
	memcpy(&in.sin_addr, in6->sin6_addr.s6_addr + 12, 4);
	memset(sa, 0, sizeof(*sa));
	memcpy(sa, &in, sizeof(in));
}

bool pair__same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return !memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			       &((const struct sockaddr_in *)b)->sin_addr, 4);
	return a->ss_family == AF_INET6 &&
	       !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

bool pair__stopping(struct pair *p)
{
	pthread_mutex_lock(&p->lock);
	bool stop = p->stopping;
	pthread_mutex_unlock(&p->lock);
	return stop;
}

/* Does a connection come from one of the partner's configured addresses? */
static bool pair_from_partner(const struct pair *p, const struct sockaddr_storage *from)
{
	struct sockaddr_storage f = *from;
	pair__unmap(&f);
	return pair__same_ip(&f, &p->peer_sa) || pair__same_ip(&f, &p->peer_sa2);
}

/*
 * A connection from anywhere but the partner's addresses is refused at once. One
 * from the partner replaces the link only if there is none; an established link
 * is replaced only once the new connection's HELLO authenticated (the candidate),
 * so that an unauthenticated connection cannot cut the real one.
 */
static void pair_accept(struct pair *p)
{
	int fd;
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	char who[INET6_ADDRSTRLEN] = "?";
	if (peer_accept(p->listen_fd, &fd, &from, &fromlen) != PEER_OK)
		return;
	const void *a = from.ss_family == AF_INET
			    ? (const void *)&((struct sockaddr_in *)&from)->sin_addr
			    : (const void *)&((struct sockaddr_in6 *)&from)->sin6_addr;
	inet_ntop(from.ss_family, a, who, sizeof(who));
	if (!pair_from_partner(p, &from)) {
		log_warn("pair: refused a peer-link connection from %s: not the partner", who);
		close(fd);
		return;
	}
	pthread_mutex_lock(&p->link_lock);
	bool up = peer_link_state(p->link) >= PEER_LINK_HELLO_DONE;
	pthread_mutex_unlock(&p->link_lock);
	if (!up) {
		pair_attach(p, fd);
		return;
	}
	peer_link_close(p->cand);
	if (peer_link_attach(p->cand, fd) != PEER_OK)
		peer_link_close(p->cand);
}

/* Heartbeats on the second link say only "alive": the partner is taken for dead
 * when every link is silent (claim 3). Messages and state travel on the first. */
static void pair_receive_hb2(struct pair *p)
{
	uint8_t state;
	int n = hb_receive(p->hb2, &state);
	if (n <= 0)
		return;
	pthread_mutex_lock(&p->lock);
	p->last_rx_ms = pair__now_ms();
	p->silent_reported = false;
	p->hb2_rx += (uint64_t)n;
	pthread_mutex_unlock(&p->lock);
}

/* The candidate connection: its HELLO authenticated makes it the link; any
 * rejected frame (a forged HELLO, garbage) ends it, and the link stays. */
static void pair_receive_cand(struct pair *p)
{
	struct peer_msg m;
	enum peer_status st = peer_link_recv(p->cand, &m);
	if (st == PEER_NEED_MORE)
		return;
	if (st != PEER_OK || m.type != PEER_HELLO) {
		log_warn("pair: rejected a new peer-link connection: %s; the link stays",
			 st != PEER_OK ? peer_strerror(st) : "no HELLO first");
		peer_link_close(p->cand);
		return;
	}
	pthread_mutex_lock(&p->link_lock);
	struct peer_link *old = p->link;
	p->link = p->cand;
	p->cand = old;
	peer_link_close(p->cand);
	pthread_mutex_unlock(&p->link_lock);
	mirror_detach(p->ops.mirror, "the partner reconnected");
	log_info("pair: the partner reconnected: new peer link");
	pair_rx(p, &m);
}

static void pair_timers(struct pair *p)
{
	uint64_t now = pair__now_ms();
	if (now >= p->next_hb_ms) {
		pair_send_heartbeat(p);
		if (p->hb2) {
			pthread_mutex_lock(&p->lock);
			uint8_t st = (uint8_t)p->state;
			pthread_mutex_unlock(&p->lock);
			hb_send(p->hb2, st);
		}
		p->next_hb_ms = now + p->cfg.heartbeat_ms;
	}
	if (atomic_load(&p->stay_down_on) && now >= p->next_sd_ms) {
		pair__send(p, &(struct peer_msg){.type = PEER_STAY_DOWN});
		p->next_sd_ms = now + p->cfg.stay_down_ms;
	}
	pthread_mutex_lock(&p->lock);
	/* Silence is reported again every dead time: a fence that timed out (the
	 * partner's lease never expired) is tried again while the silence lasts. */
	if (now - p->last_rx_ms > p->cfg.dead_ms && now >= p->next_silent_ms) {
		if (!p->silent_reported)
			log_warn("pair: no word from the partner for %u ms", p->cfg.dead_ms);
		p->silent_reported = true;
		p->next_silent_ms = now + p->cfg.dead_ms;
		pair_apply_locked(p, ROLE_EV_PEER_SILENT, 0);
	}
	bool lease_late = p->lease_held && pair__boottime_ms() >= lease_valid_until(p->lease);
	if (role_timer_due(p->timer))
		pair_apply_locked(p, ROLE_EV_TIMEOUT, 0);
	/* a claim serves before it is done, a release streams its last records:
	 * those states keep the stream too */
	bool serving = p->state == ROLE_ACTIVE || p->state == ROLE_DRAINING ||
		       p->state == ROLE_RELEASING || p->state == ROLE_TAKING_OVER ||
		       p->state == ROLE_TAKING_BACK;
	bool attach = p->state == ROLE_ACTIVE && p->peer_seen && now >= p->next_attach_ms;
	pthread_mutex_unlock(&p->lock);
	pair__mirror_keep(p, serving, attach, now);
	if (lease_late) {
		/* The renewal hangs or fails: stop before the lease runs out, so the
		 * partner, which waits for it to expire, never finds two servers. */
		log_error("pair: the storage lease %s was not renewed in time: stopping before it "
			  "runs out",
			  p->cfg.lease_path);
		pair__lease_lost(p);
	}
	/* After the lease check: a node frozen just after a claim must not send
	 * that claim's last ARP announcements when it resumes; the partner holds
	 * the address by then, and they would turn the clients away from it. */
	pair__clients_timer(p, now);
}

/* The loop's wait: a tick, but no later than the moment the partner's silence
 * reaches the dead time, so a takeover starts at the dead time and not up to a
 * tick after it. */
static int pair_poll_ms(struct pair *p)
{
	uint64_t now = pair__now_ms();
	pthread_mutex_lock(&p->lock);
	uint64_t dead_at = p->last_rx_ms + p->cfg.dead_ms + 1;
	if (p->silent_reported && p->next_silent_ms > dead_at)
		dead_at = p->next_silent_ms;
	pthread_mutex_unlock(&p->lock);
	if (dead_at <= now)
		return 0;
	return dead_at - now < PAIR_LOOP_TICK_MS ? (int)(dead_at - now) : PAIR_LOOP_TICK_MS;
}

static void *pair_loop(void *arg)
{
	struct pair *p = arg;
	while (!pair__stopping(p)) {
		pair_connect_step(p, 0);
		pthread_mutex_lock(&p->link_lock);
		int lfd = peer_link_fd(p->link);
		pthread_mutex_unlock(&p->link_lock);
		struct pollfd fds[5] = {{.fd = p->listen_fd, .events = POLLIN},
					{.fd = p->connect_fd, .events = POLLOUT},
					{.fd = lfd, .events = POLLIN},
					{.fd = peer_link_fd(p->cand), .events = POLLIN},
					{.fd = p->hb2 ? hb_fd(p->hb2) : -1, .events = POLLIN}};
		if (poll(fds, 5, pair_poll_ms(p)) > 0) {
			if (fds[4].revents)
				pair_receive_hb2(p);
			if (fds[0].revents & POLLIN)
				pair_accept(p);
			if (fds[1].revents)
				pair_connect_step(p, fds[1].revents);
			if (fds[2].revents)
				pair_receive(p);
			if (fds[3].revents)
				pair_receive_cand(p);
		}
		pair_timers(p);
	}
	return NULL;
}

/* ---- set-up and operator commands ------------------------------------------------ */

static int pair_resolve(const char *addr, uint16_t port, struct sockaddr_storage *ss,
			socklen_t *len)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM}, *ai;
	char service[8];
	snprintf(service, sizeof(service), "%u", port);
	if (getaddrinfo(addr, service, &hints, &ai) != 0)
		return -EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* The second link: UDP on the peer port, every address (the second network's
 * included), to the partner's peer_address2. */
static int pair_hb2_open(struct pair *p, const uint8_t *key, size_t keylen)
{
	struct sockaddr_storage peer, any;
	socklen_t plen, alen;
	if (pair_resolve(p->cfg.peer_address2, p->cfg.peer_port, &peer, &plen) < 0 ||
	    pair_resolve(peer.ss_family == AF_INET6 ? "::" : "0.0.0.0", p->cfg.listen_port, &any,
			 &alen) < 0)
		return -EINVAL;
	struct hb_params hp = {.key = key,
			       .keylen = keylen,
			       .node_id = p->cfg.node_id,
			       .bind = (struct sockaddr *)&any,
			       .bindlen = alen,
			       .peer = (struct sockaddr *)&peer,
			       .peerlen = plen};
	int rc = hb_open(&hp, &p->hb2);
	if (rc < 0)
		log_error("pair: second heartbeat link to %s port %u: %s", p->cfg.peer_address2,
			  p->cfg.peer_port, strerror(-rc));
	return rc;
}

int pair_create(const struct config_pair *cfg, uint64_t config_fp, const struct pair_ops *ops,
		struct pair **out)
{
	uint8_t key[PEER_KEY_MAX];
	size_t keylen;
	char err[256];
	if (peer_key_load(cfg->key_file, key, &keylen, err, sizeof(err)) < 0) {
		log_error("pair: key file %s: %s", cfg->key_file, err);
		return -EACCES;
	}
	struct pair *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	p->ops = *ops;
	p->config_fp = config_fp;
	p->listen_fd = p->connect_fd = -1;
	struct peer_params pp = {key, keylen, cfg->node_id, 3 - cfg->node_id, config_fp};
	p->link = peer_link_new(&pp, 0);
	p->cand = peer_link_new(&pp, 0);
	struct role_timeouts lim;
	role_timeouts_default(&lim);
	lim.ms[ROLE_TIMER_DRAIN] = cfg->drain_timeout_ms;
	lim.ms[ROLE_TIMER_PEER_RELEASE] = cfg->release_timeout_ms;
	/* a check runs the health probe and may wait for the mirror to catch up */
	lim.ms[ROLE_TIMER_CHECK] = cfg->probe_timeout_ms + PAIR_CATCH_UP_WAIT_MS + 2000;
	p->timer = role_timer_new(NULL, NULL, &lim);
	snprintf(p->vip.iface, sizeof(p->vip.iface), "%s", cfg->service_interface);
	snprintf(p->vip.addr, sizeof(p->vip.addr), "%s", cfg->service_address);
	p->vip.prefix = cfg->service_prefix;
	socklen_t vlen;
	p->clients = calloc(PAIR_MAX_CLIENTS, sizeof(*p->clients));
	if (pair_resolve(cfg->service_address, 0, &p->vip_sa, &vlen) < 0)
		memset(&p->vip_sa, 0, sizeof(p->vip_sa));
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->link_lock, NULL);
	pthread_mutex_init(&p->lease_lock, NULL);
	pthread_cond_init(&p->job_cv, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->lease_cv, &ca);
	pthread_condattr_destroy(&ca);
	p->state = ROLE_STARTING;
	p->epoch = 1;
	int hrc = cfg->peer_address2[0] ? pair_hb2_open(p, key, keylen) : 0;
	memset(key, 0, sizeof(key));
	if (hrc < 0) {
		pair_stop(p);
		return hrc;
	}
	if (cfg->lease_path[0]) {
		struct lease_params lp = {
		    .path = cfg->lease_path, .node_id = cfg->node_id, .lease_ms = cfg->lease_ms};
		int rc = lease_open(&lp, &p->lease);
		if (rc < 0) {
			log_error("pair: storage lease %s: %s", cfg->lease_path, strerror(-rc));
			pair_stop(p);
			return rc;
		}
	}
	socklen_t l2;
	if (cfg->peer_address2[0])
		pair_resolve(cfg->peer_address2, cfg->peer_port, &p->peer_sa2, &l2);
	if (!p->link || !p->cand || !p->timer ||
	    pair_resolve(cfg->peer_address, cfg->peer_port, &p->peer_sa, &p->peer_salen) < 0) {
		log_error("pair: cannot set up the peer link to %s:%u", cfg->peer_address,
			  cfg->peer_port);
		pair_stop(p);
		return -EINVAL;
	}
	*out = p;
	return 0;
}

const char *pair_role_name(struct pair *p)
{
	pthread_mutex_lock(&p->lock);
	const char *n = role_state_name(p->state);
	pthread_mutex_unlock(&p->lock);
	return n;
}

static int pair_command(struct pair *p, enum role_event ev, char *msg)
{
	struct role_transition t = pair__apply(p, ev, 0);
	if (t.refuse != ROLE_REFUSE_NONE) {
		snprintf(msg, ADMIN_MAX_LINE, "refused: %s", pair_refuse_text(t.refuse));
		return -EPERM;
	}
	return 0;
}

static int cmd_handover(void *arg, int argc, char **argv, FILE *out, char *msg)
{
	(void)argc, (void)argv, (void)out;
	return pair_command(arg, ROLE_EV_OP_HANDOVER, msg);
}

static int cmd_takeover(void *arg, int argc, char **argv, FILE *out, char *msg)
{
	struct pair *p = arg;
	if (argc > 1 && !strcmp(argv[1], "--dry-run")) {
		/* The can-backup check alone (claims 10, 19): nothing changes. */
		if (pair_check(p) < 0) {
			pthread_mutex_lock(&p->lock);
			snprintf(msg, ADMIN_MAX_LINE, "cannot back the partner up: %.200s",
				 p->refuse_detail);
			pthread_mutex_unlock(&p->lock);
			return -EAGAIN;
		}
		fprintf(out,
			"can back the partner up: peer link up, same exports, storage answers\n");
		return 0;
	}
	if (argc > 1) {
		snprintf(msg, ADMIN_MAX_LINE, "unknown option '%s' (takeover [--dry-run])",
			 argv[1]);
		return -EINVAL;
	}
	pthread_mutex_lock(&p->lock);
	bool idle = p->state == ROLE_STANDBY && p->peer_seen && !p->peer_holds_me &&
		    role_heartbeat_event(p->peer_state, false) == ROLE_EV_HB_PEER_IDLE;
	pthread_mutex_unlock(&p->lock);
	/* Nobody serves: start the service here rather than ask for a release. */
	return pair_command(p, idle ? ROLE_EV_LEASE_FREE : ROLE_EV_OP_TAKEOVER, msg);
}

static int cmd_giveback(void *arg, int argc, char **argv, FILE *out, char *msg)
{
	(void)argc, (void)argv, (void)out;
	return pair_command(arg, ROLE_EV_OP_GIVEBACK, msg);
}

static int cmd_fault(void *arg, int argc, char **argv, FILE *out, char *msg)
{
	struct pair *p = arg;
	if (argc > 1 && !strcmp(argv[1], "lease")) {
		/* A test aid: renewals stop as if the lease's storage hung; the node
		 * then stops serving before its lease runs out (pair_lease.c). */
		atomic_store(&p->lease_stalled, true);
		fprintf(out, "lease renewals stopped until the lease is lost\n");
		return 0;
	}
	pthread_mutex_lock(&p->lock);
	p->fault = argc > 1 && !strcmp(argv[1], "storage") ? ROLE_FAULT_STORAGE
		   : argc > 1 && !strcmp(argv[1], "stuck") ? ROLE_FAULT_STUCK
							   : ROLE_FAULT_INJECTED;
	snprintf(p->fault_detail, sizeof(p->fault_detail), "%s: reported by the operator",
		 role_fault_name(p->fault));
	pthread_mutex_unlock(&p->lock);
	return pair_command(p, ROLE_EV_LOCAL_FAULT, msg);
}

void pair_report_fault(struct pair *p, enum role_fault f, const char *why)
{
	pthread_mutex_lock(&p->lock);
	bool serving = p->state == ROLE_ACTIVE;
	if (serving) {
		p->fault = f;
		snprintf(p->fault_detail, sizeof(p->fault_detail), "%s: %s", role_fault_name(f),
			 why);
		log_error("pair: %s fault: %s; asking the partner to take over", role_fault_name(f),
			  why);
		pair_apply_locked(p, ROLE_EV_LOCAL_FAULT, 0);
	}
	pthread_mutex_unlock(&p->lock);
}

void pair_status_kv(struct pair *p, struct admin_kv *kv)
{
	char addr[128];
	pthread_mutex_lock(&p->link_lock);
	const char *link = peer_link_state_name(peer_link_state(p->link));
	pthread_mutex_unlock(&p->link_lock);
	pthread_mutex_lock(&p->lock);
	admin_kv_str(kv, "role", role_state_name(p->state));
	admin_kv_u64(kv, "node", p->cfg.node_id);
	admin_kv_str(kv, "peer_link", link);
	admin_kv_str(kv, "peer_role", p->peer_seen ? role_state_name(p->peer_state) : "unknown");
	admin_kv_u64(kv, "heartbeat_age_ms", pair__now_ms() - p->last_rx_ms);
	admin_kv_str(kv, "holding_peer_down", atomic_load(&p->stay_down_on) ? "yes" : "no");
	admin_kv_str(kv, "held_down", p->peer_holds_me ? "yes" : "no");
	snprintf(addr, sizeof(addr), "%s/%u on %s", p->vip.addr, p->vip.prefix, p->vip.iface);
	admin_kv_str(kv, "service_address", addr);
	admin_kv_u64(kv, "partner_clients", p->nclients);
	if (p->hb2)
		admin_kv_u64(kv, "heartbeats_link2", p->hb2_rx);
	if (p->lease) {
		const struct lease_view *v = &p->lease_view;
		char l[160];
		if (p->lease_held)
			snprintf(l, sizeof(l),
				 "held by this node, epoch %" PRIu64 ", valid %" PRId64 " ms more",
				 p->lease_epoch_held,
				 (int64_t)lease_valid_until(p->lease) -
				     (int64_t)pair__boottime_ms());
		else if (p->have_lease_view)
			snprintf(l, sizeof(l),
				 "%s, node %u, epoch %" PRIu64 ", unchanged for %" PRIu64 " ms%s",
				 lease_state_name(v->state), v->holder, v->epoch, v->unchanged_ms,
				 v->expired ? " (expired)" : "");
		else
			snprintf(l, sizeof(l), "not read yet");
		admin_kv_str(kv, "lease", l);
	}
	admin_kv_u64(kv, "refusals", p->refusals);
	admin_kv_str(kv, "last_refusal", p->last_refusal[0] ? p->last_refusal : "none");
	uint64_t stored = p->mirror_stored, peer_pos = p->peer_mirror_pos;
	bool peer_serves = p->peer_seen && p->peer_state == ROLE_ACTIVE;
	bool peer_caught_up = p->peer_caught_up;
	pthread_mutex_unlock(&p->lock);
	pair__mirror_kv(p, kv, stored, peer_serves ? peer_pos : 0, peer_caught_up);
}

static int cmd_pair(void *arg, int argc, char **argv, FILE *out, char *msg)
{
	struct admin_kv kv;
	(void)msg;
	admin_kv_begin(&kv, out, admin_want_json(argc, argv));
	pair_status_kv(arg, &kv);
	admin_kv_end(&kv);
	return 0;
}

static void pair_admin(struct pair *p, struct admin *a)
{
	admin_add(a, &(struct admin_command){"handover", "handover",
					     "serving node: ask the partner to take over",
					     cmd_handover, p});
	admin_add(a,
		  &(struct admin_command){"takeover", "takeover [--dry-run]",
					  "standby: take the service over (--dry-run: only check "
					  "that this node could)",
					  cmd_takeover, p});
	admin_add(a, &(struct admin_command){"giveback", "giveback",
					     "hand the service back the careful way", cmd_giveback,
					     p});
	admin_add(a, &(struct admin_command){"fault", "fault [storage|stuck|injected|lease]",
					     "report a fault here (tests)", cmd_fault, p});
	admin_add(
	    a, &(struct admin_command){"pair", "pair", "role, partner and peer link", cmd_pair, p});
}

static void pair_stop_threads(struct pair *p, bool sender, bool loop)
{
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_signal(&p->job_cv);
	pthread_cond_signal(&p->lease_cv);
	pthread_mutex_unlock(&p->lock);
	mirror_wake(p->ops.mirror);
	if (loop)
		pthread_join(p->loop_thread, NULL);
	if (loop && p->lease)
		pthread_join(p->lease_thread, NULL);
	if (sender)
		pthread_join(p->mirror_thread, NULL);
	pthread_join(p->exec_thread, NULL);
}

int pair_start(struct pair *p, struct admin *admin)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (pair_resolve(p->cfg.listen_address, p->cfg.listen_port, &ss, &len) < 0 ||
	    peer_listen((struct sockaddr *)&ss, len, &p->listen_fd) != PEER_OK) {
		log_error("pair: cannot listen for the partner on %s port %u: %s",
			  p->cfg.listen_address, p->cfg.listen_port, strerror(errno));
		return -EADDRINUSE;
	}
	if (admin)
		pair_admin(p, admin);
	p->last_rx_ms = pair__now_ms();
	role_timer_enter(p->timer, p->state);
	/* A restarting node must hear its partner (and any STAY_DOWN) before it serves. */
	p->ops.set_serving(p->ops.arg, false);
	if (pthread_create(&p->exec_thread, NULL, pair_executor, p) != 0)
		return -EAGAIN;
	mirror_set_transport(p->ops.mirror, pair__mirror_transport, p, PEER_MIRROR_MAX_BYTES);
	if (pthread_create(&p->mirror_thread, NULL, pair__mirror_sender, p) != 0) {
		pair_stop_threads(p, false, false);
		return -EAGAIN;
	}
	if (p->lease && pthread_create(&p->lease_thread, NULL, pair__lease_loop, p) != 0) {
		pair_stop_threads(p, true, false);
		return -EAGAIN;
	}
	if (pthread_create(&p->loop_thread, NULL, pair_loop, p) != 0) {
		if (p->lease) {
			pthread_mutex_lock(&p->lock);
			p->stopping = true;
			pthread_mutex_unlock(&p->lock);
			pthread_join(p->lease_thread, NULL);
		}
		pair_stop_threads(p, true, false);
		return -EAGAIN;
	}
	p->started = true;
	log_info("pair: node %u, partner at %s port %u, service address %s", p->cfg.node_id,
		 p->cfg.peer_address, p->cfg.peer_port, p->cfg.service_address);
	return 0;
}

/* A node stopped while it holds the service must not leave the address behind:
 * the partner will claim it once this node has been silent for the dead time. */
static void pair_stop_serving(struct pair *p)
{
	switch (p->state) {
	case ROLE_ACTIVE:
	case ROLE_DRAINING:
	case ROLE_RELEASING:
	case ROLE_TAKING_OVER:
	case ROLE_TAKING_BACK:
		p->ops.set_serving(p->ops.arg, false);
		pair_address(p, false);
		log_warn("pair: stopped while serving: the partner takes over once it has not "
			 "heard from this node for %u ms (twinctl handover first avoids that)",
			 p->cfg.dead_ms);
		break;
	default:
		break;
	}
}

void pair_stop(struct pair *p)
{
	if (!p)
		return;
	if (p->started) {
		pair_stop_threads(p, true, true);
		pair_stop_serving(p);
		mirror_detach(p->ops.mirror, "stopping");
	}
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	if (p->connect_fd >= 0)
		close(p->connect_fd);
	peer_link_free(p->link);
	peer_link_free(p->cand);
	hb_close(p->hb2);
	free(p->clients);
	lease_close(p->lease);
	role_timer_free(p->timer);
	pthread_cond_destroy(&p->job_cv);
	pthread_cond_destroy(&p->lease_cv);
	pthread_mutex_destroy(&p->link_lock);
	pthread_mutex_destroy(&p->lease_lock);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
