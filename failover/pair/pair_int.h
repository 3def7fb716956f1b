/*
 * pair_int.h — what the files of failover/pair share: struct pair and the
 * functions one file calls in another (pair__ names). Not for other modules:
 * they see failover/pair/pair.h.
 *
 *   pair.c         transitions, messages, actions, the loop and the peer link,
 *                  set-up and operator commands;
 *   pair_lease.c   the storage lease: its thread, take, drop, loss;
 *   pair_mirror.c  the mirror stream, the client list and the tickle.
 */
#ifndef TWINFS_FAILOVER_PAIR_PAIR_INT_H
#define TWINFS_FAILOVER_PAIR_PAIR_INT_H

#include "failover/pair/pair.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "failover/fence/lease.h"
#include "failover/heartbeat/heartbeat.h"
#include "failover/mirror/mirror.h"
#include "failover/peer/link.h"
#include "failover/peer/peer.h"
#include "failover/role/role.h"
#include "failover/tickle/tickle.h"
#include "failover/vip/vip.h"
#include "server/admin/admin.h"
#include "server/log/log.h"

#define PAIR_LOOP_TICK_MS 50
/* Between the ARP announcements of a claimed service address. */
#define PAIR_ANNOUNCE_GAP_MS 100
#define PAIR_MAX_JOBS	     32
#define PAIR_HOOK_TIMEOUT    60000
/* how long a can-backup check waits for the partner's mirror stream to catch up */
#define PAIR_CATCH_UP_WAIT_MS 5000
/* the serving node's client list goes to the partner this often (and at release) */
#define PAIR_CLIENTS_MS	 1000
#define PAIR_MAX_CLIENTS 4096

struct pair_job {
	uint32_t actions;
	enum role_state next;
	uint64_t epoch;
	enum role_refuse refuse;
};

struct pair {
	struct config_pair cfg;
	struct pair_ops ops;
	uint64_t config_fp;
	struct vip vip;

	/* the peer link: used by the loop (receive, heartbeats) and the executor
	 * (messages of transitions), one at a time */
	pthread_mutex_t link_lock;
	struct peer_link *link;
	struct peer_link *cand; /* a new connection from the partner, until its HELLO (loop only) */
	struct hb *hb2;		/* heartbeats on the second link (peer_address2), or NULL */
	uint64_t hb2_rx;	/* heartbeats received there */
	int listen_fd, connect_fd;
	unsigned backoff_ms;
	uint64_t next_connect_ms;
	struct sockaddr_storage peer_sa, peer_sa2;
	socklen_t peer_salen;

	/* the role, and what we know of the partner: under lock */
	pthread_mutex_t lock;
	enum role_state state;
	uint64_t epoch; /* bumped at every change of state */
	struct role_timer *timer;
	enum role_fault fault;
	char fault_detail[PEER_DETAIL_MAX + 1]; /* "storage: <the probe's sentence>" */
	char refuse_detail[PEER_DETAIL_MAX + 1];
	uint64_t last_rx_ms;
	bool silent_reported;
	uint64_t next_silent_ms;
	/* the storage lease (NULL without lease_path): its own thread renews it
	 * (holder) or watches it (otherwise); storage I/O may hang, the loop not */
	struct lease *lease;
	bool lease_held;
	struct lease_view lease_view;
	bool have_lease_view;
	/* The partner reported a fault (FAULT), or says it is held down or stopped:
	 * it may have stopped for good (a lost lease), so a standby watches the
	 * lease's expiry, as when fencing, and claims it once free or expired. Kept
	 * while this node waits on the standby side (pair__waiting). */
	bool partner_faulted;
	atomic_bool lease_stalled; /* twinctl fault lease (tests) */
	pthread_t lease_thread;
	/* one lease call at a time (the lease object is single-threaded); held
	 * across storage I/O, so never taken by the loop thread */
	pthread_mutex_t lease_lock;
	/* wakes the lease thread between its rounds (under lock): a fence that
	 * starts reads the lease at once instead of up to a quarter lease later */
	pthread_cond_t lease_cv;
	bool lease_kick;
	uint64_t lease_epoch_held;
	bool peer_seen, peer_holds_me, peer_fp_ok;
	enum role_state peer_state;
	/* the SHUTDOWN_REQUEST this node sent last (a RELEASED must name it) and
	 * the one it received last (its RELEASED names that) */
	uint64_t shutdown_sent, shutdown_rx;
	/* refusals seen here (own check, partner's REFUSE), for twinctl's wait */
	uint64_t refusals;
	char last_refusal[2 * PEER_DETAIL_MAX];
	uint8_t peer_verf[8];
	bool have_peer_verf;
	/* the mirror: what this node stored of the partner's stream (standby), and
	 * what the partner says of it */
	uint64_t mirror_stored, mirror_loaded, peer_mirror_pos;
	bool peer_caught_up;
	uint64_t next_attach_ms;

	/* the partner's client connections to the service address (CLIENTS), for
	 * the tickle after a claim; and what this node sent last of its own */
	struct tickle_conn *clients;
	uint32_t nclients;
	uint64_t clients_sum, next_clients_ms;
	unsigned tickle_rounds; /* still to send, one every TICKLE_INTERVAL_MS */
	uint64_t next_tickle_ms;
	/* ARP announcements of the service address still to send after the
	 * first, one every PAIR_ANNOUNCE_GAP_MS (pair__clients_timer) */
	unsigned announce_rounds;
	uint64_t next_announce_ms;
	struct sockaddr_storage vip_sa;

	_Atomic bool stay_down_on;
	uint64_t next_hb_ms, next_sd_ms;

	/* the executor's queue */
	pthread_cond_t job_cv;
	struct pair_job jobs[PAIR_MAX_JOBS];
	unsigned njobs;
	bool stopping;
	pthread_t loop_thread, exec_thread, mirror_thread;
	/* a claim attached the stream and owes the standby its catch-up (executor
	 * thread only) */
	bool catch_up_due;
	bool started;
};

/* pair.c */
uint64_t pair__now_ms(void);
struct role_transition pair__apply(struct pair *p, enum role_event ev, uint64_t epoch);
enum peer_status pair__send(struct pair *p, const struct peer_msg *m);

/* An IPv4-mapped IPv6 address becomes the IPv4 one (the port kept). */
void pair__unmap(struct sockaddr_storage *sa);
/* The same IP address, ports aside (both already unmapped). */
bool pair__same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* pair_stop() has begun: the threads end their loops. */
bool pair__stopping(struct pair *p);

/* pair_lease.c */
uint64_t pair__boottime_ms(void);
void pair__lease_drop(struct pair *p, bool release);
void *pair__lease_loop(void *arg);
void pair__lease_lost(struct pair *p);
int pair__lease_take(struct pair *p, bool seize);

/* pair_mirror.c */
void pair__clients_timer(struct pair *p, uint64_t now);
void pair__load_mirror(struct pair *p);
void pair__mirror_attach(struct pair *p);
void pair__mirror_catch_up(struct pair *p);
void pair__mirror_keep(struct pair *p, bool serving, bool attach, uint64_t now);
void pair__mirror_kv(struct pair *p, struct admin_kv *kv, uint64_t stored, uint64_t peer_pos,
		     bool peer_caught_up);
void *pair__mirror_sender(void *arg);
bool pair__mirror_transport(void *arg, const uint8_t *buf, uint32_t used, uint32_t count,
			    uint64_t last);
int pair__mirror_wait(struct pair *p);
void pair__rx_clients(struct pair *p, const struct peer_clients *pc);
void pair__rx_mirror(struct pair *p, const struct peer_mirror *m);
void pair__send_clients(struct pair *p, bool force);
void pair__sync_mirror(struct pair *p);
void pair__tickle(struct pair *p);

/* This node neither serves nor claims nor is held down: a standby, or on the
 * way to claiming from one (a FAULT answering its request makes it one). */
static inline bool pair__waiting(enum role_state s)
{
	return s == ROLE_STANDBY || s == ROLE_FENCING || s == ROLE_CHECKING ||
	       s == ROLE_WAIT_RELEASE || s == ROLE_TAKEBACK_CHECK || s == ROLE_TAKEBACK_WAIT;
}

#endif
