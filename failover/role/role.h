/*
 * role.h — a node's role in the pair: a pure table (state, event) → (next state,
 * actions). DESIGN.md "The pair" maps it to the claims; docs/failover.md draws it
 * (the diagram and the table there are printed by role_print_diagram() and
 * role_print_table(), and a unit test fails when they differ).
 *
 * The table performs nothing. The caller (the daemon's failover loop) turns what
 * happens into events — an operator command, a message from the partner, the
 * verdict of the liveness or fencing helpers, the result of an action it performed,
 * a timeout — calls role_next(), stores the next state, and performs the returned
 * actions in bit order (lowest bit first: the order of enum role_action is the order
 * of execution, so "drain, flush, close, release the address, run the hook, then say
 * RELEASED" is a property of the enum, not of each caller).
 *
 * Contract with the caller:
 *   - Actions that take time report back with an event: RUN_CHECK → CHECK_PASSED or
 *     CHECK_FAILED; DRAIN → DRAIN_DONE; the group of release steps of a transition
 *     into RELEASING → RELEASE_DONE, or RELEASE_FAILED at the first step that fails
 *     (the rest are skipped); the group of claim steps of a transition into
 *     TAKING_OVER or TAKING_BACK → CLAIM_DONE, or CLAIM_FAILED at the first failure.
 *   - A result or timeout belongs to the state episode that started it: when the
 *     state has changed since, the caller drops it (role_timer does this for
 *     timeouts). Left-over results are also ignored by the table, but a result from
 *     an older visit to the same state would be taken for the current one.
 *   - Every action is idempotent (removing an absent address, stopping what is not
 *     running, releasing a lease this node does not hold: no-ops).
 *   - The lease (DESIGN.md, fencing): LEASE_ACQUIRE takes the service lease only
 *     if its last holder released it cleanly (or nobody ever held it); LEASE_SEIZE
 *     also takes an expired one, and always comes with BUMP_VERIFIER, because an
 *     expired lease means unflushed writes may be lost. LEASE_RELEASE marks it
 *     released (after a flush); LEASE_ABANDON stops renewing it and lets it expire.
 *   - Messages from the partner are delivered in the order it sent them (the peer
 *     link's sequence numbers, across both links). A HEARTBEAT carries the sender's
 *     state and whether it holds this node down; role_heartbeat_event() classifies
 *     it, and a heartbeat from a partner that holds this node down is a STAY_DOWN.
 *   - RELEASED names the SHUTDOWN_REQUEST it answers (the sequence number of the
 *     last one received), and the caller drops a RELEASED that does not answer the
 *     request sent on entering the current WAIT_RELEASE or TAKEBACK_WAIT: a late
 *     answer to an abandoned request must not start a claim.
 *
 * Time never enters the table: role_timer (below) turns "this state has lasted too
 * long" into ROLE_EV_TIMEOUT from an injected clock, so tests do not sleep.
 */
#ifndef TWINFS_FAILOVER_ROLE_ROLE_H
#define TWINFS_FAILOVER_ROLE_ROLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* docs/failover.md "States" says what each one means. */
enum role_state {
	ROLE_STARTING,	     /* just started: nothing known about the partner */
	ROLE_STANDBY,	     /* backs the partner up; serves nothing */
	ROLE_CHECKING,	     /* can-backup check before asking the partner to shut down */
	ROLE_WAIT_RELEASE,   /* SHUTDOWN_REQUEST sent, waiting for RELEASED */
	ROLE_TAKEBACK_CHECK, /* as CHECKING, for a giveback: no STAY_DOWN afterwards */
	ROLE_TAKEBACK_WAIT,  /* as WAIT_RELEASE, for a giveback */
	ROLE_FENCING,	     /* partner silent: fence it, wait for its lease to expire */
	ROLE_TAKING_OVER,    /* claiming; the partner stays down afterwards (STAY_DOWN) */
	ROLE_TAKING_BACK,    /* claiming; the partner stays a standby */
	ROLE_ACTIVE,	     /* serves the exports on the service address */
	ROLE_DRAINING,	     /* admits nothing new, completes what is executing */
	ROLE_RELEASING,	     /* flush, close, drop the address, release hook, lease */
	ROLE_RELEASED,	     /* released cleanly; the partner is taking over */
	ROLE_HELD_DOWN,	     /* must not serve until a GIVEBACK (STAY_DOWN, lost lease) */
	ROLE_DOWN,	     /* stopped by the operator; inert */
	ROLE__NSTATES
};

enum role_event {
	/* operator, through twinctl */
	ROLE_EV_OP_HANDOVER, /* on the serving node: "partner, take over" (claim 1) */
	ROLE_EV_OP_TAKEOVER, /* on the standby: "I take over" (claim 4) */
	ROLE_EV_OP_GIVEBACK, /* either node: move the service back (claim 13) */
	ROLE_EV_OP_STOP,     /* take this node out of the pair */
	/* this node's own monitors */
	ROLE_EV_LOCAL_FAULT, /* fault detector fired (storage probe, stuck request, ...) */
	ROLE_EV_LEASE_LOST,  /* own lease could not be renewed: stop before it runs out */
	/* liveness and fencing helpers */
	ROLE_EV_PEER_SILENT, /* no heartbeat on any link for the dead time */
	ROLE_EV_PEER_FENCED, /* the service lease has expired (after the fence command) */
	ROLE_EV_LEASE_FREE,  /* the service lease is released cleanly or never held */
	/* from the partner */
	ROLE_EV_HB_PEER_IDLE,	/* heartbeat: partner holds nothing, claims nothing */
	ROLE_EV_HB_PEER_BUSY,	/* heartbeat: partner checking, claiming or releasing */
	ROLE_EV_HB_PEER_ACTIVE, /* heartbeat: partner serves, does not hold us down */
	ROLE_EV_RX_STAY_DOWN,	/* STAY_DOWN, or a heartbeat saying it holds us down */
	ROLE_EV_RX_FAULT,
	ROLE_EV_RX_TAKEOVER_REQUEST,
	ROLE_EV_RX_SHUTDOWN_REQUEST,
	ROLE_EV_RX_REFUSE,
	ROLE_EV_RX_RELEASED,
	ROLE_EV_RX_GIVEBACK,
	/* results of actions the caller performed */
	ROLE_EV_CHECK_PASSED,
	ROLE_EV_CHECK_FAILED,
	ROLE_EV_DRAIN_DONE,
	ROLE_EV_RELEASE_DONE,
	ROLE_EV_RELEASE_FAILED,
	ROLE_EV_CLAIM_DONE,
	ROLE_EV_CLAIM_FAILED,
	/* role_timer: the current state has lasted its limit */
	ROLE_EV_TIMEOUT,
	ROLE__NEVENTS
};

/* Actions, in the order the caller performs them when several are returned. */
enum role_action {
	ROLE_A_LOG,		  /* log state, event and next state (first, before effects) */
	ROLE_A_STOP_FENCE,	  /* stop the fence helper's attempt */
	ROLE_A_START_FENCE,	  /* run the fence command, watch the partner's lease */
	ROLE_A_STOP_STAY_DOWN,	  /* stop sending periodic STAY_DOWN */
	ROLE_A_STOP_ADMITTING,	  /* refuse new requests (replays still answered) */
	ROLE_A_DRAIN,		  /* complete every EXECUTING request → DRAIN_DONE */
	ROLE_A_FLUSH_WRITES,	  /* commit unstable writes to stable storage */
	ROLE_A_SYNC_MIRROR,	  /* send the last mirror records, wait for the ack */
	ROLE_A_CLOSE_CONNECTIONS, /* close every client connection */
	ROLE_A_RELEASE_ADDRESS,	  /* remove the service address */
	ROLE_A_RUN_RELEASE_HOOK,  /* the configured release command */
	ROLE_A_LEASE_RELEASE,	  /* mark the lease released (clean) */
	ROLE_A_LEASE_ABANDON,	  /* stop renewing; it expires */
	ROLE_A_RUN_CHECK,	  /* can-backup check → CHECK_PASSED / CHECK_FAILED */
	ROLE_A_LEASE_ACQUIRE,	  /* take a cleanly released lease, or fail */
	ROLE_A_LEASE_SEIZE,	  /* take a released or expired lease, or fail */
	ROLE_A_RUN_ACQUIRE_HOOK,  /* the configured acquire command */
	ROLE_A_LOAD_MIRROR,	  /* mirrored records into the request table */
	ROLE_A_BUMP_VERIFIER,	  /* new NFSv3 write verifier (unplanned only) */
	ROLE_A_START_SERVING,	  /* admit requests */
	ROLE_A_ADD_ADDRESS,	  /* add the service address, gratuitous ARP */
	ROLE_A_TICKLE_CLIENTS,	  /* tickle ACK to every client connection in the mirror */
	ROLE_A_START_STAY_DOWN,	  /* send STAY_DOWN now and every interval */
	ROLE_A_SEND_FAULT,	  /* FAULT(type): the type of the local fault */
	ROLE_A_SEND_TAKEOVER_REQUEST,
	ROLE_A_SEND_SHUTDOWN_REQUEST,
	ROLE_A_SEND_REFUSE, /* REFUSE(reason): transition.refuse, or the check's reason */
	ROLE_A_SEND_RELEASED,
	ROLE_A_SEND_GIVEBACK,
	ROLE__NACTIONS
};

#define ROLE_ACT(a) (UINT32_C(1) << (a))

/* Why a REFUSE is sent, or why an operator command was refused. */
enum role_refuse {
	ROLE_REFUSE_NONE,
	ROLE_REFUSE_CANNOT_BACK_UP, /* can-backup check failed; its own reason says why */
	ROLE_REFUSE_CHECK_TIMEOUT,  /* the can-backup check did not finish in time */
	ROLE_REFUSE_NOT_SERVING,    /* this node does not serve */
	ROLE_REFUSE_SERVING,	    /* this node serves: hand over first */
	ROLE_REFUSE_HELD_DOWN,	    /* this node must stay down until a giveback */
	ROLE_REFUSE_BUSY,	    /* a takeover or release is under way */
	ROLE_REFUSE_STARTING,	    /* this node does not know its partner yet */
	ROLE__NREFUSE
};

/* The type carried by FAULT(type). */
enum role_fault {
	ROLE_FAULT_STORAGE, /* storage probe failed or timed out */
	ROLE_FAULT_STUCK,   /* a request EXECUTING longer than the limit */
	ROLE_FAULT_LEASE,   /* own lease could not be renewed */
	ROLE_FAULT_INJECTED /* twinctl fault, for tests */
};

struct role_transition {
	enum role_state next;
	uint32_t actions;	 /* ROLE_ACT() bits */
	enum role_refuse refuse; /* with SEND_REFUSE, or for a refused operator command */
};

/* The table. Total: a pair not in the table (and an out-of-range state or event)
 * is "ignore": next == state, no action. */
struct role_transition role_next(enum role_state state, enum role_event event);

/* The event for a heartbeat from a partner in peer_state; peer_holds_me: it sends us
 * STAY_DOWN. */
enum role_event role_heartbeat_event(enum role_state peer_state, bool peer_holds_me);

/* Names for logs and twinctl ("ACTIVE", "RX_RELEASED", "SEND_RELEASED", ...);
 * "?" when out of range. */
const char *role_state_name(enum role_state s);
const char *role_event_name(enum role_event e);
const char *role_action_name(enum role_action a);
const char *role_refuse_name(enum role_refuse r);
const char *role_fault_name(enum role_fault f);

/* The Mermaid stateDiagram-v2 block and the Markdown transition table that
 * docs/failover.md embeds. */
void role_print_diagram(FILE *out);
void role_print_table(FILE *out);

/* ---- role_timer: state timeouts from an injected clock ---- */

enum role_timer_kind {
	ROLE_TIMER_NONE,
	ROLE_TIMER_CHECK,	 /* CHECKING, TAKEBACK_CHECK */
	ROLE_TIMER_PEER_RELEASE, /* WAIT_RELEASE, TAKEBACK_WAIT: > drain + release */
	ROLE_TIMER_DRAIN,	 /* DRAINING: then release anyway */
	ROLE_TIMER_RELEASE,	 /* RELEASING */
	ROLE_TIMER_CLAIM,	 /* TAKING_OVER, TAKING_BACK */
	ROLE_TIMER_FENCE,	 /* FENCING */
	ROLE__NTIMERS
};

struct role_timeouts {
	uint32_t ms[ROLE__NTIMERS]; /* 0: no limit */
};

/* Milliseconds from an injectable clock (as drc_clock_fn). */
typedef uint64_t (*role_clock_fn)(void *arg);

struct role_timer;

enum role_timer_kind role_state_timer(enum role_state s);
void role_timeouts_default(struct role_timeouts *t);

/* NULL clock: CLOCK_MONOTONIC. NULL on allocation failure. */
struct role_timer *role_timer_new(role_clock_fn clock, void *clock_arg,
				  const struct role_timeouts *limits);
void role_timer_free(struct role_timer *t);
/* Call with the state after every transition. A change of state (re)arms the
 * state's limit, or disarms; staying in the same state keeps the deadline. */
void role_timer_enter(struct role_timer *t, enum role_state s);
/* True once when the armed deadline has passed: feed ROLE_EV_TIMEOUT. */
bool role_timer_due(struct role_timer *t);
/* Milliseconds until the deadline (0: due), or -1 when nothing is armed. */
int64_t role_timer_remaining_ms(const struct role_timer *t);

#endif
