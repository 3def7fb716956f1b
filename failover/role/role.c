/*
 * role.c — the role table (see role.h for the contract, docs/failover.md for the
 * diagram and the sequences).
 *
 * Invariants the table keeps (tests/unit/test_role.c checks each one by walking the
 * table, then again with two simulated nodes):
 *   - ACTIVE is entered only on CLAIM_DONE; a claim (TAKING_OVER, TAKING_BACK)
 *     starts only on RELEASED after our SHUTDOWN_REQUEST, or on a fencing verdict
 *     (PEER_FENCED: lease expired, LEASE_FREE: lease released cleanly).
 *   - SHUTDOWN_REQUEST is sent only on CHECK_PASSED.
 *   - RELEASED is sent only on RELEASE_DONE, or again from RELEASED: never by a
 *     node that may hold unflushed writes (a lost lease or a failed release ends
 *     in HELD_DOWN, which answers REFUSE; the partner then seizes the expired lease
 *     and bumps the verifier).
 *   - HELD_DOWN is left only by a GIVEBACK (received, or from the operator) or an
 *     operator stop; STAY_DOWN puts every state that holds nothing there.
 *   - Every transition out of a state that admits requests stops admitting; out
 *     of one that holds the address releases it; out of one that holds the lease
 *     releases or abandons it.
 *
 * Cells not written are "ignore". A cell stores next + 1 so that the zero cell of a
 * designated initialiser means "stay".
 */
#include "failover/role/role.h"

#include <stdlib.h>
#include <time.h>

struct cell {
	uint8_t to;  /* next state + 1; 0: stay */
	uint8_t why; /* enum role_refuse */
	uint32_t act;
};

#define A(x) ROLE_ACT(ROLE_A_##x)
#define GO(s, acts)                                                                                \
	{                                                                                          \
		.to = ROLE_##s + 1, .act = (acts)                                                  \
	}
#define GO_R(s, acts, r)                                                                           \
	{                                                                                          \
		.to = ROLE_##s + 1, .act = (acts), .why = ROLE_REFUSE_##r                          \
	}
#define STAY(acts)                                                                                 \
	{                                                                                          \
		.to = 0, .act = (acts)                                                             \
	}
#define REFUSE(r)                                                                                  \
	{                                                                                          \
		.to = 0, .act = LOG | A(SEND_REFUSE), .why = ROLE_REFUSE_##r                       \
	}
#define DENY(r)                                                                                    \
	{                                                                                          \
		.to = 0, .act = LOG, .why = ROLE_REFUSE_##r                                        \
	} /* operator command */

#define LOG   A(LOG)
#define CHECK (LOG | A(RUN_CHECK))
#define FENCE (LOG | A(START_FENCE))

/* Claim steps, after the lease is ours: listen first, then the address, then tickle. */
#define CLAIM_STEPS                                                                                \
	(A(RUN_ACQUIRE_HOOK) | A(LOAD_MIRROR) | A(START_SERVING) | A(ADD_ADDRESS) |                \
	 A(TICKLE_CLIENTS))
/* Planned: the partner flushed and released the lease; the verifier stays. */
#define CLAIM_CLEAN (LOG | A(LEASE_ACQUIRE) | CLAIM_STEPS)
/* Unplanned (claim 3): the lease expired; writes may be lost, so a new verifier. */
#define CLAIM_SEIZE (LOG | A(LEASE_SEIZE) | A(BUMP_VERIFIER) | CLAIM_STEPS)

/* Shut down for the partner (claim 1): complete what is executing first. */
#define DRAIN_START (LOG | A(STOP_STAY_DOWN) | A(STOP_ADMITTING) | A(DRAIN))
#define RELEASE_STEPS                                                                              \
	(LOG | A(FLUSH_WRITES) | A(SYNC_MIRROR) | A(CLOSE_CONNECTIONS) | A(RELEASE_ADDRESS) |      \
	 A(RUN_RELEASE_HOOK) | A(LEASE_RELEASE))
/* Lease lost: stop at once, before it runs out; let it expire; say why. */
#define EMERGENCY                                                                                  \
	(LOG | A(STOP_STAY_DOWN) | A(STOP_ADMITTING) | A(CLOSE_CONNECTIONS) | A(RELEASE_ADDRESS) | \
	 A(RUN_RELEASE_HOOK) | A(LEASE_ABANDON) | A(SEND_FAULT))
/* A claim that failed: undo what was done of it (each step is idempotent). */
#define UNDO                                                                                       \
	(LOG | A(STOP_ADMITTING) | A(FLUSH_WRITES) | A(CLOSE_CONNECTIONS) | A(RELEASE_ADDRESS) |   \
	 A(RUN_RELEASE_HOOK) | A(LEASE_RELEASE))
#define UNDO_LOST                                                                                  \
	(LOG | A(STOP_ADMITTING) | A(CLOSE_CONNECTIONS) | A(RELEASE_ADDRESS) |                     \
	 A(RUN_RELEASE_HOOK) | A(LEASE_ABANDON))

/* Operator commands refused while a takeover or release is under way. */
#define BUSY_OPS                                                                                   \
	[ROLE_EV_OP_HANDOVER] = DENY(BUSY), [ROLE_EV_OP_TAKEOVER] = DENY(BUSY),                    \
	[ROLE_EV_OP_GIVEBACK] = DENY(BUSY), [ROLE_EV_OP_STOP] = DENY(BUSY)

/* The standby side of a takeover (claims 1, 3, 4, 10, 19). The partner asked us to
 * shut down while we are about to take over ourselves: refuse, one of us waits. */
#define WAITING_COMMON                                                                             \
	BUSY_OPS, [ROLE_EV_PEER_SILENT] = GO(FENCING, FENCE),                                      \
		  [ROLE_EV_PEER_FENCED] = GO(TAKING_OVER, CLAIM_SEIZE),                            \
		  [ROLE_EV_RX_STAY_DOWN] = GO(HELD_DOWN, LOG),                                     \
		  [ROLE_EV_RX_SHUTDOWN_REQUEST] = REFUSE(BUSY)

#define CHECK_COMMON                                                                               \
	WAITING_COMMON,                                                                            \
	    [ROLE_EV_CHECK_FAILED] = GO_R(STANDBY, LOG | A(SEND_REFUSE), CANNOT_BACK_UP),          \
	    [ROLE_EV_TIMEOUT] = GO_R(STANDBY, LOG | A(SEND_REFUSE), CHECK_TIMEOUT),                \
	    [ROLE_EV_RX_RELEASED] = STAY(LOG), [ROLE_EV_RX_REFUSE] = STAY(LOG)

/* A FAULT from the partner asked to release means it stopped (it lost its lease):
 * no RELEASED will come. As a standby, the lease decides who claims (pair.c). */
#define WAIT_COMMON                                                                                \
	WAITING_COMMON, [ROLE_EV_RX_REFUSE] = GO(STANDBY, LOG),                                    \
			[ROLE_EV_TIMEOUT] = GO(STANDBY, LOG),                                      \
			[ROLE_EV_RX_FAULT] = GO(STANDBY, LOG)

/* A claim in progress. STAY_DOWN now means the partner serves: give up. */
#define CLAIMING_COMMON                                                                            \
	BUSY_OPS,                                                                                  \
	    [ROLE_EV_CLAIM_FAILED] = GO(STANDBY, UNDO), [ROLE_EV_TIMEOUT] = GO(STANDBY, UNDO),     \
	    [ROLE_EV_LEASE_LOST] = GO(STANDBY, UNDO_LOST),                                         \
	    [ROLE_EV_RX_STAY_DOWN] = GO(HELD_DOWN, UNDO),                                          \
	    [ROLE_EV_RX_SHUTDOWN_REQUEST] = REFUSE(BUSY), [ROLE_EV_HB_PEER_ACTIVE] = STAY(LOG)

/* Holding nothing and not held: the ways to start serving without negotiation. */
#define IDLE_COMMON                                                                                \
	[ROLE_EV_OP_STOP] = GO(DOWN, LOG), [ROLE_EV_LOCAL_FAULT] = STAY(LOG),                      \
	[ROLE_EV_PEER_SILENT] = GO(FENCING, FENCE),                                                \
	[ROLE_EV_PEER_FENCED] = GO(TAKING_OVER, CLAIM_SEIZE),                                      \
	[ROLE_EV_LEASE_FREE] = GO(TAKING_BACK, CLAIM_CLEAN),                                       \
	[ROLE_EV_RX_STAY_DOWN] = GO(HELD_DOWN, LOG), [ROLE_EV_RX_FAULT] = STAY(LOG),               \
	[ROLE_EV_RX_SHUTDOWN_REQUEST] = REFUSE(NOT_SERVING),                                       \
	[ROLE_EV_RX_GIVEBACK] = GO(TAKEBACK_CHECK, CHECK), [ROLE_EV_RX_REFUSE] = STAY(LOG),        \
	[ROLE_EV_RX_RELEASED] = STAY(LOG)

static const struct cell table[ROLE__NSTATES][ROLE__NEVENTS] =
    {
	[ROLE_STARTING] =
	    {
		IDLE_COMMON,
		[ROLE_EV_OP_HANDOVER] = DENY(STARTING),
		[ROLE_EV_OP_TAKEOVER] = DENY(STARTING),
		[ROLE_EV_OP_GIVEBACK] = DENY(STARTING),
		[ROLE_EV_HB_PEER_IDLE] = GO(STANDBY, LOG),
		[ROLE_EV_HB_PEER_BUSY] = GO(STANDBY, LOG),
		[ROLE_EV_HB_PEER_ACTIVE] = GO(STANDBY, LOG),
		[ROLE_EV_RX_TAKEOVER_REQUEST] = REFUSE(STARTING),
	    },
	[ROLE_STANDBY] =
	    {
		IDLE_COMMON,
		[ROLE_EV_OP_HANDOVER] = DENY(NOT_SERVING),
		[ROLE_EV_OP_TAKEOVER] = GO(CHECKING, CHECK),
		[ROLE_EV_OP_GIVEBACK] = STAY(LOG | A(SEND_GIVEBACK)),
		[ROLE_EV_RX_TAKEOVER_REQUEST] = GO(CHECKING, CHECK),
	    },
	[ROLE_CHECKING] =
	    {
		CHECK_COMMON,
		[ROLE_EV_CHECK_PASSED] = GO(WAIT_RELEASE, LOG | A(SEND_SHUTDOWN_REQUEST)),
	    },
	[ROLE_WAIT_RELEASE] =
	    {
		WAIT_COMMON,
		[ROLE_EV_RX_RELEASED] = GO(TAKING_OVER, CLAIM_CLEAN),
	    },
	[ROLE_TAKEBACK_CHECK] =
	    {
		CHECK_COMMON,
		[ROLE_EV_CHECK_PASSED] = GO(TAKEBACK_WAIT, LOG | A(SEND_SHUTDOWN_REQUEST)),
	    },
	[ROLE_TAKEBACK_WAIT] =
	    {
		WAIT_COMMON,
		[ROLE_EV_RX_RELEASED] = GO(TAKING_BACK, CLAIM_CLEAN),
	    },
	[ROLE_FENCING] =
	    {
		[ROLE_EV_OP_HANDOVER] = DENY(NOT_SERVING),
		[ROLE_EV_OP_TAKEOVER] = DENY(BUSY),
		[ROLE_EV_OP_GIVEBACK] = DENY(BUSY),
		[ROLE_EV_OP_STOP] = GO(DOWN, LOG | A(STOP_FENCE)),
		[ROLE_EV_PEER_FENCED] = GO(TAKING_OVER, A(STOP_FENCE) | CLAIM_SEIZE),
		[ROLE_EV_LEASE_FREE] = GO(TAKING_OVER, A(STOP_FENCE) | CLAIM_CLEAN),
		[ROLE_EV_HB_PEER_IDLE] = GO(STANDBY, LOG | A(STOP_FENCE)),
		[ROLE_EV_HB_PEER_BUSY] = GO(STANDBY, LOG | A(STOP_FENCE)),
		[ROLE_EV_HB_PEER_ACTIVE] = GO(STANDBY, LOG | A(STOP_FENCE)),
		[ROLE_EV_RX_STAY_DOWN] = GO(HELD_DOWN, LOG | A(STOP_FENCE)),
		[ROLE_EV_RX_SHUTDOWN_REQUEST] = REFUSE(NOT_SERVING),
		[ROLE_EV_TIMEOUT] = GO(STANDBY, LOG | A(STOP_FENCE)),
	    },
	[ROLE_TAKING_OVER] =
	    {
		CLAIMING_COMMON,
		[ROLE_EV_CLAIM_DONE] = GO(ACTIVE, LOG | A(START_STAY_DOWN)),
	    },
	[ROLE_TAKING_BACK] =
	    {
		CLAIMING_COMMON,
		[ROLE_EV_CLAIM_DONE] = GO(ACTIVE, LOG),
	    },
	[ROLE_ACTIVE] =
	    {
		[ROLE_EV_OP_HANDOVER] = STAY(LOG | A(SEND_TAKEOVER_REQUEST)),
		[ROLE_EV_OP_TAKEOVER] = DENY(SERVING),
		[ROLE_EV_OP_GIVEBACK] = STAY(LOG | A(STOP_STAY_DOWN) | A(SEND_GIVEBACK)),
		[ROLE_EV_OP_STOP] = DENY(SERVING),
		[ROLE_EV_LOCAL_FAULT] = STAY(LOG | A(SEND_FAULT) | A(SEND_TAKEOVER_REQUEST)),
		[ROLE_EV_LEASE_LOST] = GO(HELD_DOWN, EMERGENCY),
		[ROLE_EV_PEER_SILENT] = STAY(LOG),
		[ROLE_EV_HB_PEER_ACTIVE] = STAY(LOG),
		[ROLE_EV_RX_STAY_DOWN] = STAY(LOG),
		[ROLE_EV_RX_FAULT] = STAY(LOG),
		[ROLE_EV_RX_TAKEOVER_REQUEST] = STAY(LOG),
		[ROLE_EV_RX_SHUTDOWN_REQUEST] = GO(DRAINING, DRAIN_START),
		[ROLE_EV_RX_REFUSE] = STAY(LOG),
		[ROLE_EV_RX_RELEASED] = STAY(LOG),
		[ROLE_EV_RX_GIVEBACK] = STAY(LOG | A(STOP_STAY_DOWN) | A(SEND_GIVEBACK)),
	    },
	[ROLE_DRAINING] =
	    {
		BUSY_OPS,
		[ROLE_EV_LOCAL_FAULT] = STAY(LOG),
		[ROLE_EV_LEASE_LOST] = GO(HELD_DOWN, EMERGENCY),
		[ROLE_EV_DRAIN_DONE] = GO(RELEASING, RELEASE_STEPS),
		[ROLE_EV_TIMEOUT] = GO(RELEASING, RELEASE_STEPS),
	    },
	[ROLE_RELEASING] =
	    {
		BUSY_OPS,
		[ROLE_EV_LEASE_LOST] = GO(HELD_DOWN, EMERGENCY),
		[ROLE_EV_RELEASE_DONE] = GO(RELEASED, LOG | A(SEND_RELEASED)),
		[ROLE_EV_RELEASE_FAILED] = GO(HELD_DOWN, LOG | A(LEASE_ABANDON)),
		[ROLE_EV_TIMEOUT] = GO(HELD_DOWN, LOG | A(LEASE_ABANDON)),
	    },
	[ROLE_RELEASED] =
	    {
		[ROLE_EV_OP_HANDOVER] = DENY(NOT_SERVING),
		[ROLE_EV_OP_TAKEOVER] = DENY(HELD_DOWN),
		[ROLE_EV_OP_GIVEBACK] = DENY(BUSY), /* the partner is claiming: wait for it */
		[ROLE_EV_OP_STOP] = GO(DOWN, LOG),
		[ROLE_EV_PEER_SILENT] = GO(FENCING, FENCE),
		[ROLE_EV_HB_PEER_IDLE] = GO(STANDBY, LOG),
		[ROLE_EV_HB_PEER_ACTIVE] = GO(STANDBY, LOG),
		[ROLE_EV_RX_STAY_DOWN] = GO(HELD_DOWN, LOG),
		[ROLE_EV_RX_TAKEOVER_REQUEST] = REFUSE(HELD_DOWN),
		[ROLE_EV_RX_SHUTDOWN_REQUEST] = STAY(LOG | A(SEND_RELEASED)),
		[ROLE_EV_RX_GIVEBACK] = GO(TAKEBACK_CHECK, CHECK),
	    },
	[ROLE_HELD_DOWN] =
	    {
		[ROLE_EV_OP_HANDOVER] = DENY(NOT_SERVING),
		[ROLE_EV_OP_TAKEOVER] = DENY(HELD_DOWN),
		[ROLE_EV_OP_GIVEBACK] = GO(STANDBY, LOG | A(SEND_GIVEBACK)),
		[ROLE_EV_OP_STOP] = GO(DOWN, LOG),
		[ROLE_EV_PEER_SILENT] = STAY(LOG),
		[ROLE_EV_RX_TAKEOVER_REQUEST] = REFUSE(HELD_DOWN),
		[ROLE_EV_RX_SHUTDOWN_REQUEST] = REFUSE(HELD_DOWN),
		[ROLE_EV_RX_GIVEBACK] = GO(TAKEBACK_CHECK, CHECK),
	    },
	[ROLE_DOWN] = {{0}},
};

struct role_transition role_next(enum role_state state, enum role_event event)
{
	struct role_transition t = {.next = state, .actions = 0, .refuse = ROLE_REFUSE_NONE};
	const struct cell *c;

	if ((unsigned)state >= ROLE__NSTATES || (unsigned)event >= ROLE__NEVENTS)
		return t;
	c = &table[state][event];
	if (c->to)
		t.next = (enum role_state)(c->to - 1);
	t.actions = c->act;
	t.refuse = (enum role_refuse)c->why;
	return t;
}

enum role_event role_heartbeat_event(enum role_state peer_state, bool peer_holds_me)
{
	if (peer_holds_me)
		return ROLE_EV_RX_STAY_DOWN;
	switch (peer_state) {
	case ROLE_ACTIVE:
		return ROLE_EV_HB_PEER_ACTIVE;
	case ROLE_STARTING:
	case ROLE_STANDBY:
	case ROLE_RELEASED:
	case ROLE_HELD_DOWN:
	case ROLE_DOWN:
		return ROLE_EV_HB_PEER_IDLE;
	default:
		return ROLE_EV_HB_PEER_BUSY;
	}
}

/* ---- names ---- */

#define NAME(prefix, x) [prefix##x] = #x

static const char *const state_names[ROLE__NSTATES] = {
    NAME(ROLE_, STARTING),     NAME(ROLE_, STANDBY),	    NAME(ROLE_, CHECKING),
    NAME(ROLE_, WAIT_RELEASE), NAME(ROLE_, TAKEBACK_CHECK), NAME(ROLE_, TAKEBACK_WAIT),
    NAME(ROLE_, FENCING),      NAME(ROLE_, TAKING_OVER),    NAME(ROLE_, TAKING_BACK),
    NAME(ROLE_, ACTIVE),       NAME(ROLE_, DRAINING),	    NAME(ROLE_, RELEASING),
    NAME(ROLE_, RELEASED),     NAME(ROLE_, HELD_DOWN),	    NAME(ROLE_, DOWN),
};

static const char *const event_names[ROLE__NEVENTS] = {
    NAME(ROLE_EV_, OP_HANDOVER),
    NAME(ROLE_EV_, OP_TAKEOVER),
    NAME(ROLE_EV_, OP_GIVEBACK),
    NAME(ROLE_EV_, OP_STOP),
    NAME(ROLE_EV_, LOCAL_FAULT),
    NAME(ROLE_EV_, LEASE_LOST),
    NAME(ROLE_EV_, PEER_SILENT),
    NAME(ROLE_EV_, PEER_FENCED),
    NAME(ROLE_EV_, LEASE_FREE),
    NAME(ROLE_EV_, HB_PEER_IDLE),
    NAME(ROLE_EV_, HB_PEER_BUSY),
    NAME(ROLE_EV_, HB_PEER_ACTIVE),
    NAME(ROLE_EV_, RX_STAY_DOWN),
    NAME(ROLE_EV_, RX_FAULT),
    NAME(ROLE_EV_, RX_TAKEOVER_REQUEST),
    NAME(ROLE_EV_, RX_SHUTDOWN_REQUEST),
    NAME(ROLE_EV_, RX_REFUSE),
    NAME(ROLE_EV_, RX_RELEASED),
    NAME(ROLE_EV_, RX_GIVEBACK),
    NAME(ROLE_EV_, CHECK_PASSED),
    NAME(ROLE_EV_, CHECK_FAILED),
    NAME(ROLE_EV_, DRAIN_DONE),
    NAME(ROLE_EV_, RELEASE_DONE),
    NAME(ROLE_EV_, RELEASE_FAILED),
    NAME(ROLE_EV_, CLAIM_DONE),
    NAME(ROLE_EV_, CLAIM_FAILED),
    NAME(ROLE_EV_, TIMEOUT),
};

static const char *const action_names[ROLE__NACTIONS] = {
    NAME(ROLE_A_, LOG),
    NAME(ROLE_A_, STOP_FENCE),
    NAME(ROLE_A_, START_FENCE),
    NAME(ROLE_A_, STOP_STAY_DOWN),
    NAME(ROLE_A_, STOP_ADMITTING),
    NAME(ROLE_A_, DRAIN),
    NAME(ROLE_A_, FLUSH_WRITES),
    NAME(ROLE_A_, SYNC_MIRROR),
    NAME(ROLE_A_, CLOSE_CONNECTIONS),
    NAME(ROLE_A_, RELEASE_ADDRESS),
    NAME(ROLE_A_, RUN_RELEASE_HOOK),
    NAME(ROLE_A_, LEASE_RELEASE),
    NAME(ROLE_A_, LEASE_ABANDON),
    NAME(ROLE_A_, RUN_CHECK),
    NAME(ROLE_A_, LEASE_ACQUIRE),
    NAME(ROLE_A_, LEASE_SEIZE),
    NAME(ROLE_A_, RUN_ACQUIRE_HOOK),
    NAME(ROLE_A_, LOAD_MIRROR),
    NAME(ROLE_A_, BUMP_VERIFIER),
    NAME(ROLE_A_, START_SERVING),
    NAME(ROLE_A_, ADD_ADDRESS),
    NAME(ROLE_A_, TICKLE_CLIENTS),
    NAME(ROLE_A_, START_STAY_DOWN),
    NAME(ROLE_A_, SEND_FAULT),
    NAME(ROLE_A_, SEND_TAKEOVER_REQUEST),
    NAME(ROLE_A_, SEND_SHUTDOWN_REQUEST),
    NAME(ROLE_A_, SEND_REFUSE),
    NAME(ROLE_A_, SEND_RELEASED),
    NAME(ROLE_A_, SEND_GIVEBACK),
};

static const char *const refuse_names[ROLE__NREFUSE] = {
    NAME(ROLE_REFUSE_, NONE),	       NAME(ROLE_REFUSE_, CANNOT_BACK_UP),
    NAME(ROLE_REFUSE_, CHECK_TIMEOUT), NAME(ROLE_REFUSE_, NOT_SERVING),
    NAME(ROLE_REFUSE_, SERVING),       NAME(ROLE_REFUSE_, HELD_DOWN),
    NAME(ROLE_REFUSE_, BUSY),	       NAME(ROLE_REFUSE_, STARTING),
};

static const char *const fault_names[] = {
    NAME(ROLE_FAULT_, STORAGE),
    NAME(ROLE_FAULT_, STUCK),
    NAME(ROLE_FAULT_, LEASE),
    NAME(ROLE_FAULT_, INJECTED),
};

static const char *name_of(const char *const *names, size_t n, unsigned i)
{
	return i < n && names[i] ? names[i] : "?";
}

#define NAME_OF(arr, i) name_of(arr, sizeof(arr) / sizeof(arr[0]), (unsigned)(i))

const char *role_state_name(enum role_state s)
{
	return NAME_OF(state_names, s);
}

const char *role_event_name(enum role_event e)
{
	return NAME_OF(event_names, e);
}

const char *role_action_name(enum role_action a)
{
	return NAME_OF(action_names, a);
}

const char *role_refuse_name(enum role_refuse r)
{
	return NAME_OF(refuse_names, r);
}

const char *role_fault_name(enum role_fault f)
{
	return NAME_OF(fault_names, f);
}

/* ---- printing for docs/failover.md ---- */

/* "S --> T: EV1, EV2" for every state change, events in enum order. */
static void print_edge(FILE *out, enum role_state s, enum role_state t)
{
	const char *sep = "";

	for (int e = 0; e < ROLE__NEVENTS; e++) {
		if (table[s][e].to != t + 1)
			continue;
		if (!*sep)
			fprintf(out, "    %s --> %s: ", role_state_name(s), role_state_name(t));
		fprintf(out, "%s%s", sep, role_event_name((enum role_event)e));
		sep = ", ";
	}
	if (*sep)
		fputc('\n', out);
}

void role_print_diagram(FILE *out)
{
	fprintf(out, "```mermaid\nstateDiagram-v2\n    [*] --> %s\n",
		role_state_name(ROLE_STARTING));
	for (int s = 0; s < ROLE__NSTATES; s++)
		for (int t = 0; t < ROLE__NSTATES; t++)
			if (s != t)
				print_edge(out, (enum role_state)s, (enum role_state)t);
	fprintf(out, "    %s --> [*]\n```\n", role_state_name(ROLE_DOWN));
}

static void print_actions(FILE *out, uint32_t act)
{
	const char *sep = "";

	for (int a = 0; a < ROLE__NACTIONS; a++) {
		if (!(act & ROLE_ACT(a)))
			continue;
		fprintf(out, "%s%s", sep, role_action_name((enum role_action)a));
		sep = ", ";
	}
	if (!*sep)
		fputc('-', out);
}

void role_print_table(FILE *out)
{
	fprintf(out, "| state | event | next | actions, in order | refuse |\n");
	fprintf(out, "| --- | --- | --- | --- | --- |\n");
	for (int s = 0; s < ROLE__NSTATES; s++) {
		for (int e = 0; e < ROLE__NEVENTS; e++) {
			const struct cell *c = &table[s][e];

			if (!c->to && !c->act && !c->why)
				continue;
			fprintf(out, "| %s | %s | %s | ", role_state_name((enum role_state)s),
				role_event_name((enum role_event)e),
				c->to ? role_state_name((enum role_state)(c->to - 1)) : "=");
			print_actions(out, c->act);
			fprintf(out, " | %s |\n", c->why ? role_refuse_name(c->why) : "");
		}
	}
}

/* ---- role_timer ---- */

struct role_timer {
	role_clock_fn clock;
	void *clock_arg;
	struct role_timeouts limits;
	enum role_state state; /* ROLE__NSTATES before the first role_timer_enter() */
	bool armed;
	uint64_t deadline;
};

static const enum role_timer_kind state_timers[ROLE__NSTATES] = {
    [ROLE_CHECKING] = ROLE_TIMER_CHECK,
    [ROLE_TAKEBACK_CHECK] = ROLE_TIMER_CHECK,
    [ROLE_WAIT_RELEASE] = ROLE_TIMER_PEER_RELEASE,
    [ROLE_TAKEBACK_WAIT] = ROLE_TIMER_PEER_RELEASE,
    [ROLE_DRAINING] = ROLE_TIMER_DRAIN,
    [ROLE_RELEASING] = ROLE_TIMER_RELEASE,
    [ROLE_TAKING_OVER] = ROLE_TIMER_CLAIM,
    [ROLE_TAKING_BACK] = ROLE_TIMER_CLAIM,
    [ROLE_FENCING] = ROLE_TIMER_FENCE,
};

enum role_timer_kind role_state_timer(enum role_state s)
{
	return (unsigned)s < ROLE__NSTATES ? state_timers[s] : ROLE_TIMER_NONE;
}

void role_timeouts_default(struct role_timeouts *t)
{
	*t = (struct role_timeouts){
	    .ms = {
		[ROLE_TIMER_CHECK] = 5000,
		[ROLE_TIMER_PEER_RELEASE] = 75000, /* drain + release + margin */
		[ROLE_TIMER_DRAIN] = 30000,
		[ROLE_TIMER_RELEASE] = 30000,
		[ROLE_TIMER_CLAIM] = 30000,
		[ROLE_TIMER_FENCE] = 60000,
	    }};
}

static uint64_t monotonic_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct role_timer *role_timer_new(role_clock_fn clock, void *clock_arg,
				  const struct role_timeouts *limits)
{
	struct role_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->clock = clock ? clock : monotonic_ms;
	t->clock_arg = clock_arg;
	if (limits)
		t->limits = *limits;
	else
		role_timeouts_default(&t->limits);
	t->state = ROLE__NSTATES;
	return t;
}

void role_timer_free(struct role_timer *t)
{
	free(t);
}

void role_timer_enter(struct role_timer *t, enum role_state s)
{
	enum role_timer_kind k;

	if (s == t->state)
		return;
	t->state = s;
	k = role_state_timer(s);
	t->armed = k != ROLE_TIMER_NONE && t->limits.ms[k] > 0;
	if (t->armed)
		t->deadline = t->clock(t->clock_arg) + t->limits.ms[k];
}

bool role_timer_due(struct role_timer *t)
{
	if (!t->armed || t->clock(t->clock_arg) < t->deadline)
		return false;
	t->armed = false;
	return true;
}

int64_t role_timer_remaining_ms(const struct role_timer *t)
{
	uint64_t now;

	if (!t->armed)
		return -1;
	now = t->clock(t->clock_arg);
	return now >= t->deadline ? 0 : (int64_t)(t->deadline - now);
}
