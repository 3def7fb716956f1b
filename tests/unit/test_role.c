/*
 * test_role.c — unit tests of the role table (failover/role/role.h).
 *
 * What is checked:
 *   - the table as data: total (no undefined cell), ACTIVE only on CLAIM_DONE, a
 *     claim only after RELEASED or a fencing verdict, SHUTDOWN_REQUEST only after a
 *     passed check, RELEASED only after the full release, the verifier bumped
 *     exactly when an expired lease is seized, STAY_DOWN holding every idle state
 *     until a GIVEBACK, no dead end but DOWN, nothing left held (requests, address,
 *     lease) when a state that holds it is left, a timeout out of every timed state;
 *   - role_timer on a fake clock;
 *   - docs/failover.md contains the diagram and the table the code prints;
 *   - two role machines in a simulated world (message queues, a shared lease, an
 *     address, crashes, a cut link, a frozen process): the scripted sequences of
 *     docs/failover.md, then a few thousand seeded random runs that check the
 *     safety invariants after every step and that the pair settles on exactly one
 *     ACTIVE node afterwards.
 */
#include "failover/role/role.h"

#include <CUnit/CUnit.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int twinfs_register_tests(void);

#define ACT(x) ROLE_ACT(ROLE_A_##x)

static struct role_transition cell(int s, int e)
{
	return role_next((enum role_state)s, (enum role_event)e);
}

static bool is_claiming(int s)
{
	return s == ROLE_TAKING_OVER || s == ROLE_TAKING_BACK;
}

static bool is_op(int e)
{
	return e == ROLE_EV_OP_HANDOVER || e == ROLE_EV_OP_TAKEOVER || e == ROLE_EV_OP_GIVEBACK ||
	       e == ROLE_EV_OP_STOP;
}

static bool is_giveback(int e)
{
	return e == ROLE_EV_OP_GIVEBACK || e == ROLE_EV_RX_GIVEBACK;
}

#define FAIL_CELL(s, e, what)                                                                      \
	do {                                                                                       \
		fprintf(stderr, "\n(%s, %s): %s\n", role_state_name(s), role_event_name(e), what); \
		CU_FAIL(what);                                                                     \
	} while (0)

/* ---- names ---------------------------------------------------------------------------- */

typedef const char *(*name_fn)(int);

static const char *state_n(int i)
{
	return role_state_name((enum role_state)i);
}
static const char *event_n(int i)
{
	return role_event_name((enum role_event)i);
}
static const char *action_n(int i)
{
	return role_action_name((enum role_action)i);
}
static const char *refuse_n(int i)
{
	return role_refuse_name((enum role_refuse)i);
}

static void check_names(name_fn fn, int n)
{
	for (int i = 0; i < n; i++) {
		CU_ASSERT_STRING_NOT_EQUAL(fn(i), "?");
		for (int j = 0; j < i; j++)
			CU_ASSERT_STRING_NOT_EQUAL(fn(i), fn(j));
	}
	CU_ASSERT_STRING_EQUAL(fn(n), "?");
	CU_ASSERT_STRING_EQUAL(fn(-1), "?");
}

static void test_names(void)
{
	check_names(state_n, ROLE__NSTATES);
	check_names(event_n, ROLE__NEVENTS);
	check_names(action_n, ROLE__NACTIONS);
	check_names(refuse_n, ROLE__NREFUSE);
	CU_ASSERT_STRING_EQUAL(role_state_name(ROLE_WAIT_RELEASE), "WAIT_RELEASE");
	CU_ASSERT_STRING_EQUAL(role_event_name(ROLE_EV_RX_RELEASED), "RX_RELEASED");
	CU_ASSERT_STRING_EQUAL(role_action_name(ROLE_A_SEND_RELEASED), "SEND_RELEASED");
	CU_ASSERT_STRING_EQUAL(role_fault_name(ROLE_FAULT_STORAGE), "STORAGE");
	CU_ASSERT_STRING_EQUAL(role_fault_name((enum role_fault)99), "?");
	CU_ASSERT(ROLE__NACTIONS <= 32);
}

/* ---- the table as data ----------------------------------------------------------------- */

/* Every cell is defined: a state in range; a refusal reason exactly where one is
 * sent or an operator command is refused; out-of-range input ignored. */
static void test_total(void)
{
	for (int s = 0; s < ROLE__NSTATES; s++) {
		for (int e = 0; e < ROLE__NEVENTS; e++) {
			struct role_transition t = cell(s, e);
			bool sends = t.actions & ACT(SEND_REFUSE);

			CU_ASSERT((unsigned)t.next < ROLE__NSTATES);
			CU_ASSERT(t.actions < ROLE_ACT(ROLE__NACTIONS));
			CU_ASSERT((unsigned)t.refuse < ROLE__NREFUSE);
			if (sends != (t.refuse != ROLE_REFUSE_NONE) &&
			    !(is_op(e) && (int)t.next == s && t.actions == ACT(LOG)))
				FAIL_CELL(s, e, "refuse reason without REFUSE or refused command");
		}
	}
	struct role_transition t = role_next(ROLE__NSTATES, ROLE_EV_TIMEOUT);
	CU_ASSERT_EQUAL(t.next, ROLE__NSTATES);
	CU_ASSERT_EQUAL(t.actions, 0);
	t = role_next(ROLE_ACTIVE, ROLE__NEVENTS);
	CU_ASSERT_EQUAL(t.next, ROLE_ACTIVE);
	CU_ASSERT_EQUAL(t.actions, 0);
	t = role_next(ROLE_ACTIVE, (enum role_event) - 1);
	CU_ASSERT_EQUAL(t.next, ROLE_ACTIVE);
	for (int e = 0; e < ROLE__NEVENTS; e++) {
		CU_ASSERT_EQUAL(cell(ROLE_DOWN, e).next, ROLE_DOWN);
		CU_ASSERT_EQUAL(cell(ROLE_DOWN, e).actions, 0);
	}
}

static void test_active_only_by_claim(void)
{
	for (int s = 0; s < ROLE__NSTATES; s++)
		for (int e = 0; e < ROLE__NEVENTS; e++)
			if (s != ROLE_ACTIVE && cell(s, e).next == ROLE_ACTIVE &&
			    !(is_claiming(s) && e == ROLE_EV_CLAIM_DONE))
				FAIL_CELL(s, e, "enters ACTIVE without CLAIM_DONE");
	CU_ASSERT_EQUAL(cell(ROLE_TAKING_OVER, ROLE_EV_CLAIM_DONE).next, ROLE_ACTIVE);
	CU_ASSERT_EQUAL(cell(ROLE_TAKING_BACK, ROLE_EV_CLAIM_DONE).next, ROLE_ACTIVE);
}

/* A claim starts on RELEASED (after our SHUTDOWN_REQUEST) or on a fencing verdict,
 * takes the lease before anything else, and does every claim step. */
static void check_claim_cell(int s, int e, uint32_t a)
{
	const uint32_t steps = ACT(RUN_ACQUIRE_HOOK) | ACT(LOAD_MIRROR) | ACT(START_SERVING) |
			       ACT(ADD_ADDRESS) | ACT(TICKLE_CLIENTS);
	bool planned =
	    e == ROLE_EV_RX_RELEASED && (s == ROLE_WAIT_RELEASE || s == ROLE_TAKEBACK_WAIT);

	if (!planned && e != ROLE_EV_PEER_FENCED && e != ROLE_EV_LEASE_FREE)
		FAIL_CELL(s, e, "claims without RELEASED or fencing");
	if ((a & steps) != steps)
		FAIL_CELL(s, e, "claim misses a step");
	if (!(a & (ACT(LEASE_ACQUIRE) | ACT(LEASE_SEIZE))))
		FAIL_CELL(s, e, "claim without the lease");
	if (e == ROLE_EV_PEER_FENCED && !(a & ACT(LEASE_SEIZE)))
		FAIL_CELL(s, e, "expired lease not seized");
	if (e != ROLE_EV_PEER_FENCED && !(a & ACT(LEASE_ACQUIRE)))
		FAIL_CELL(s, e, "clean claim seizes");
}

static void test_claim_only_after_release_or_fence(void)
{
	int claims = 0;

	for (int s = 0; s < ROLE__NSTATES; s++) {
		for (int e = 0; e < ROLE__NEVENTS; e++) {
			struct role_transition t = cell(s, e);

			if (!is_claiming(t.next) || is_claiming(s))
				continue;
			check_claim_cell(s, e, t.actions);
			claims++;
		}
	}
	CU_ASSERT(claims >= 8);
}

static void test_shutdown_request_only_after_check(void)
{
	for (int s = 0; s < ROLE__NSTATES; s++)
		for (int e = 0; e < ROLE__NEVENTS; e++)
			if ((cell(s, e).actions & ACT(SEND_SHUTDOWN_REQUEST)) &&
			    e != ROLE_EV_CHECK_PASSED)
				FAIL_CELL(s, e, "SHUTDOWN_REQUEST without a passed check");
	CU_ASSERT(cell(ROLE_CHECKING, ROLE_EV_CHECK_PASSED).actions & ACT(SEND_SHUTDOWN_REQUEST));
	CU_ASSERT_FALSE(cell(ROLE_CHECKING, ROLE_EV_CHECK_FAILED).actions &
			ACT(SEND_SHUTDOWN_REQUEST));
	CU_ASSERT(cell(ROLE_CHECKING, ROLE_EV_CHECK_FAILED).actions & ACT(SEND_REFUSE));
}

/* RELEASED is said on RELEASE_DONE (entering RELEASED) or again from RELEASED; the
 * only way into RELEASED is through RELEASING, which the drain leads to. */
static void test_released_only_after_release(void)
{
	for (int s = 0; s < ROLE__NSTATES; s++) {
		for (int e = 0; e < ROLE__NEVENTS; e++) {
			struct role_transition t = cell(s, e);
			bool done = s == ROLE_RELEASING && e == ROLE_EV_RELEASE_DONE;

			if ((t.actions & ACT(SEND_RELEASED)) && !done && s != ROLE_RELEASED)
				FAIL_CELL(s, e, "RELEASED without the release");
			if (t.next == ROLE_RELEASED && s != ROLE_RELEASED && !done)
				FAIL_CELL(s, e, "enters RELEASED without RELEASE_DONE");
			if (t.next == ROLE_RELEASING && s != ROLE_RELEASING && s != ROLE_DRAINING)
				FAIL_CELL(s, e, "releases without draining");
		}
	}
	/* The steps, in the order the caller performs them (bit order). */
	static const enum role_action order[] = {
	    ROLE_A_STOP_ADMITTING,    ROLE_A_DRAIN,
	    ROLE_A_FLUSH_WRITES,      ROLE_A_SYNC_MIRROR,
	    ROLE_A_CLOSE_CONNECTIONS, ROLE_A_RELEASE_ADDRESS,
	    ROLE_A_RUN_RELEASE_HOOK,  ROLE_A_LEASE_RELEASE,
	    ROLE_A_SEND_RELEASED,
	};
	for (size_t i = 1; i < sizeof(order) / sizeof(order[0]); i++)
		CU_ASSERT(order[i - 1] < order[i]);
	CU_ASSERT_EQUAL(cell(ROLE_ACTIVE, ROLE_EV_RX_SHUTDOWN_REQUEST).next, ROLE_DRAINING);
	CU_ASSERT(cell(ROLE_ACTIVE, ROLE_EV_RX_SHUTDOWN_REQUEST).actions & ACT(DRAIN));
	uint32_t rel = cell(ROLE_DRAINING, ROLE_EV_DRAIN_DONE).actions;
	CU_ASSERT_EQUAL(rel & (ACT(FLUSH_WRITES) | ACT(SYNC_MIRROR) | ACT(CLOSE_CONNECTIONS) |
			       ACT(RELEASE_ADDRESS) | ACT(RUN_RELEASE_HOOK) | ACT(LEASE_RELEASE)),
			ACT(FLUSH_WRITES) | ACT(SYNC_MIRROR) | ACT(CLOSE_CONNECTIONS) |
			    ACT(RELEASE_ADDRESS) | ACT(RUN_RELEASE_HOOK) | ACT(LEASE_RELEASE));
	CU_ASSERT_EQUAL(cell(ROLE_DRAINING, ROLE_EV_TIMEOUT).actions, rel);
	/* A failed release never says RELEASED: the lease expires instead. */
	CU_ASSERT_EQUAL(cell(ROLE_RELEASING, ROLE_EV_RELEASE_FAILED).next, ROLE_HELD_DOWN);
	CU_ASSERT(cell(ROLE_RELEASING, ROLE_EV_RELEASE_FAILED).actions & ACT(LEASE_ABANDON));
}

static void test_claim_step_order(void)
{
	static const enum role_action order[] = {
	    ROLE_A_LEASE_ACQUIRE,  ROLE_A_RUN_ACQUIRE_HOOK, ROLE_A_LOAD_MIRROR,
	    ROLE_A_BUMP_VERIFIER,  ROLE_A_START_SERVING,    ROLE_A_ADD_ADDRESS,
	    ROLE_A_TICKLE_CLIENTS,
	};
	for (size_t i = 1; i < sizeof(order) / sizeof(order[0]); i++)
		CU_ASSERT(order[i - 1] < order[i]);
	CU_ASSERT(ROLE_A_LEASE_SEIZE < ROLE_A_RUN_ACQUIRE_HOOK);
	/* Fencing stops before the claim; stopping the old role precedes messages. */
	CU_ASSERT(ROLE_A_STOP_FENCE < ROLE_A_LEASE_SEIZE);
	CU_ASSERT(ROLE_A_LEASE_ABANDON < ROLE_A_SEND_FAULT);
	CU_ASSERT(ROLE_A_SEND_FAULT < ROLE_A_SEND_TAKEOVER_REQUEST);
}

static void test_verifier(void)
{
	for (int s = 0; s < ROLE__NSTATES; s++) {
		for (int e = 0; e < ROLE__NEVENTS; e++) {
			uint32_t a = cell(s, e).actions;
			bool seize = a & ACT(LEASE_SEIZE), bump = a & ACT(BUMP_VERIFIER);

			if (seize != bump)
				FAIL_CELL(s, e, "verifier bump must go with seizing the lease");
		}
	}
	CU_ASSERT_FALSE(cell(ROLE_WAIT_RELEASE, ROLE_EV_RX_RELEASED).actions & ACT(BUMP_VERIFIER));
	CU_ASSERT(cell(ROLE_FENCING, ROLE_EV_PEER_FENCED).actions & ACT(BUMP_VERIFIER));
}

static void test_refuse_keeps_active(void)
{
	struct role_transition t = cell(ROLE_ACTIVE, ROLE_EV_RX_REFUSE);

	CU_ASSERT_EQUAL(t.next, ROLE_ACTIVE);
	CU_ASSERT_EQUAL(t.actions, ACT(LOG));
	/* A fault only asks (claims 8, 9, 14, 20): the node serves until told to stop. */
	t = cell(ROLE_ACTIVE, ROLE_EV_LOCAL_FAULT);
	CU_ASSERT_EQUAL(t.next, ROLE_ACTIVE);
	CU_ASSERT_EQUAL(t.actions, ACT(LOG) | ACT(SEND_FAULT) | ACT(SEND_TAKEOVER_REQUEST));
	t = cell(ROLE_ACTIVE, ROLE_EV_OP_HANDOVER);
	CU_ASSERT_EQUAL(t.next, ROLE_ACTIVE);
	CU_ASSERT_EQUAL(t.actions, ACT(LOG) | ACT(SEND_TAKEOVER_REQUEST));
}

/* Breadth-first: can `to` be reached from `from`, optionally without GIVEBACK edges? */
static bool reachable(int from, int to, bool no_giveback)
{
	bool seen[ROLE__NSTATES] = {false};
	int queue[ROLE__NSTATES], head = 0, tail = 0;

	seen[from] = true;
	queue[tail++] = from;
	while (head < tail) {
		int s = queue[head++];

		if (s == to)
			return true;
		for (int e = 0; e < ROLE__NEVENTS; e++) {
			int n = cell(s, e).next;

			if (seen[n] || (no_giveback && is_giveback(e)))
				continue;
			seen[n] = true;
			queue[tail++] = n;
		}
	}
	return false;
}

static void test_no_dead_ends(void)
{
	for (int s = 0; s < ROLE__NSTATES; s++) {
		CU_ASSERT(reachable(ROLE_STARTING, s, false));
		if (s != ROLE_DOWN && !reachable(s, ROLE_STANDBY, false) &&
		    !reachable(s, ROLE_ACTIVE, false))
			FAIL_CELL(s, 0, "dead end");
		for (int e = 0; e < ROLE__NEVENTS; e++)
			if (s != ROLE_DOWN && cell(s, e).next == ROLE_DOWN && e != ROLE_EV_OP_STOP)
				FAIL_CELL(s, e, "DOWN other than by the operator");
	}
	CU_ASSERT_FALSE(reachable(ROLE_DOWN, ROLE_STANDBY, false));
}

/* Claims 2, 12, 17: a node told to stay down never serves until a giveback. */
static void test_stay_down(void)
{
	for (int s = 0; s < ROLE__NSTATES; s++) {
		struct role_transition t = cell(s, ROLE_EV_RX_STAY_DOWN);
		bool keeps =
		    s == ROLE_ACTIVE || s == ROLE_DRAINING || s == ROLE_RELEASING || s == ROLE_DOWN;

		if (!keeps && t.next != ROLE_HELD_DOWN)
			FAIL_CELL(s, ROLE_EV_RX_STAY_DOWN, "STAY_DOWN does not hold it down");
	}
	CU_ASSERT_FALSE(reachable(ROLE_HELD_DOWN, ROLE_ACTIVE, true));
	CU_ASSERT_FALSE(reachable(ROLE_HELD_DOWN, ROLE_TAKING_OVER, true));
	CU_ASSERT_FALSE(reachable(ROLE_HELD_DOWN, ROLE_TAKING_BACK, true));
	CU_ASSERT(reachable(ROLE_HELD_DOWN, ROLE_ACTIVE, false));
	for (int e = 0; e < ROLE__NEVENTS; e++) {
		int n = cell(ROLE_HELD_DOWN, e).next;

		if (n != ROLE_HELD_DOWN && !is_giveback(e) && e != ROLE_EV_OP_STOP)
			FAIL_CELL(ROLE_HELD_DOWN, e, "leaves HELD_DOWN without a giveback");
	}
	/* A restarted node that learns it is held down. */
	CU_ASSERT_EQUAL(cell(ROLE_STARTING, ROLE_EV_RX_STAY_DOWN).next, ROLE_HELD_DOWN);
	CU_ASSERT_EQUAL(cell(ROLE_HELD_DOWN, ROLE_EV_OP_TAKEOVER).refuse, ROLE_REFUSE_HELD_DOWN);
	CU_ASSERT_EQUAL(cell(ROLE_HELD_DOWN, ROLE_EV_PEER_FENCED).next, ROLE_HELD_DOWN);
	CU_ASSERT_EQUAL(cell(ROLE_HELD_DOWN, ROLE_EV_LEASE_FREE).next, ROLE_HELD_DOWN);
	/* a FAULT instead of RELEASED: stand by at once, the lease decides (pair.c) */
	CU_ASSERT_EQUAL(cell(ROLE_TAKEBACK_WAIT, ROLE_EV_RX_FAULT).next, ROLE_STANDBY);
	CU_ASSERT_EQUAL(cell(ROLE_WAIT_RELEASE, ROLE_EV_RX_FAULT).next, ROLE_STANDBY);
}

/* Leaving a state that holds something (admission, address, lease) for one that
 * does not lets go of it in the same transition. */
static void check_lets_go(int s, int e, struct role_transition t)
{
	bool admits_s = is_claiming(s) || s == ROLE_ACTIVE;
	bool admits_n = is_claiming(t.next) || t.next == ROLE_ACTIVE;
	bool holds_s = admits_s || s == ROLE_DRAINING;
	bool holds_n = admits_n || t.next == ROLE_DRAINING;

	if (t.next == (enum role_state)s)
		return;
	if (admits_s && !admits_n && !(t.actions & ACT(STOP_ADMITTING)))
		FAIL_CELL(s, e, "still admitting");
	if (holds_s && !holds_n && !(t.actions & ACT(RELEASE_ADDRESS)))
		FAIL_CELL(s, e, "keeps the address");
	if (holds_s && !holds_n && !(t.actions & (ACT(LEASE_RELEASE) | ACT(LEASE_ABANDON))))
		FAIL_CELL(s, e, "keeps the lease");
	if (s == ROLE_FENCING && !(t.actions & ACT(STOP_FENCE)))
		FAIL_CELL(s, e, "fence helper left running");
	if (s == ROLE_ACTIVE && t.next != ROLE_DRAINING && !(t.actions & ACT(STOP_STAY_DOWN)))
		FAIL_CELL(s, e, "still sends STAY_DOWN");
}

static void test_lets_go(void)
{
	for (int s = 0; s < ROLE__NSTATES; s++)
		for (int e = 0; e < ROLE__NEVENTS; e++)
			check_lets_go(s, e, cell(s, e));
	/* The lost lease (issue 5): stop at once, no drain. */
	struct role_transition t = cell(ROLE_ACTIVE, ROLE_EV_LEASE_LOST);
	CU_ASSERT_EQUAL(t.next, ROLE_HELD_DOWN);
	CU_ASSERT(t.actions & ACT(STOP_ADMITTING));
	CU_ASSERT_FALSE(t.actions & ACT(DRAIN));
	CU_ASSERT_FALSE(t.actions & ACT(SEND_RELEASED));
}

static void test_timeouts_in_table(void)
{
	for (int s = 0; s < ROLE__NSTATES; s++) {
		struct role_transition t = cell(s, ROLE_EV_TIMEOUT);
		bool timed = role_state_timer((enum role_state)s) != ROLE_TIMER_NONE;

		if (timed && t.next == (enum role_state)s)
			FAIL_CELL(s, ROLE_EV_TIMEOUT, "timed state not left on TIMEOUT");
		if (!timed && (t.next != (enum role_state)s || t.actions))
			FAIL_CELL(s, ROLE_EV_TIMEOUT, "TIMEOUT in an untimed state");
	}
	CU_ASSERT_EQUAL(role_state_timer(ROLE__NSTATES), ROLE_TIMER_NONE);
}

static void test_heartbeat_event(void)
{
	CU_ASSERT_EQUAL(role_heartbeat_event(ROLE_ACTIVE, true), ROLE_EV_RX_STAY_DOWN);
	CU_ASSERT_EQUAL(role_heartbeat_event(ROLE_ACTIVE, false), ROLE_EV_HB_PEER_ACTIVE);
	CU_ASSERT_EQUAL(role_heartbeat_event(ROLE_STANDBY, false), ROLE_EV_HB_PEER_IDLE);
	CU_ASSERT_EQUAL(role_heartbeat_event(ROLE_HELD_DOWN, false), ROLE_EV_HB_PEER_IDLE);
	CU_ASSERT_EQUAL(role_heartbeat_event(ROLE_DRAINING, false), ROLE_EV_HB_PEER_BUSY);
	CU_ASSERT_EQUAL(role_heartbeat_event(ROLE_TAKING_OVER, false), ROLE_EV_HB_PEER_BUSY);
	CU_ASSERT_EQUAL(role_heartbeat_event(ROLE__NSTATES, false), ROLE_EV_HB_PEER_BUSY);
}

/* ---- role_timer on a fake clock --------------------------------------------------------- */

static uint64_t fake_now(void *arg)
{
	return *(uint64_t *)arg;
}

static struct role_timer *fake_timer(uint64_t *now)
{
	struct role_timeouts lim = {.ms = {[ROLE_TIMER_CHECK] = 100,
					   [ROLE_TIMER_PEER_RELEASE] = 500,
					   [ROLE_TIMER_DRAIN] = 0,
					   [ROLE_TIMER_CLAIM] = 300}};

	return role_timer_new(fake_now, now, &lim);
}

static void test_timer(void)
{
	uint64_t now = 1000;
	struct role_timer *t = fake_timer(&now);

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(role_timer_remaining_ms(t), -1);
	role_timer_enter(t, ROLE_STANDBY);
	CU_ASSERT_FALSE(role_timer_due(t));
	role_timer_enter(t, ROLE_CHECKING);
	CU_ASSERT_EQUAL(role_timer_remaining_ms(t), 100);
	now = 1060;
	role_timer_enter(t, ROLE_CHECKING); /* same state: the deadline stays */
	CU_ASSERT_EQUAL(role_timer_remaining_ms(t), 40);
	now = 1099;
	CU_ASSERT_FALSE(role_timer_due(t));
	now = 1100;
	CU_ASSERT_EQUAL(role_timer_remaining_ms(t), 0);
	CU_ASSERT_TRUE(role_timer_due(t));
	CU_ASSERT_FALSE(role_timer_due(t)); /* once */
	CU_ASSERT_EQUAL(role_timer_remaining_ms(t), -1);
	role_timer_enter(t, ROLE_WAIT_RELEASE); /* a new state re-arms */
	CU_ASSERT_EQUAL(role_timer_remaining_ms(t), 500);
	now = 1400;
	role_timer_enter(t, ROLE_TAKING_OVER);
	now = 1699;
	CU_ASSERT_FALSE(role_timer_due(t));
	role_timer_enter(t, ROLE_ACTIVE); /* left in time: disarmed */
	now = 99999;
	CU_ASSERT_FALSE(role_timer_due(t));
	role_timer_enter(t, ROLE_DRAINING); /* limit 0: no timeout */
	CU_ASSERT_EQUAL(role_timer_remaining_ms(t), -1);
	CU_ASSERT_FALSE(role_timer_due(t));
	role_timer_free(t);
}

/* The timer drives the table: a check that never answers refuses on its own. */
static void test_timer_drives_table(void)
{
	uint64_t now = 0;
	struct role_timer *t = fake_timer(&now);
	enum role_state s = ROLE_STANDBY;
	struct role_transition tr = role_next(s, ROLE_EV_RX_TAKEOVER_REQUEST);

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	s = tr.next;
	role_timer_enter(t, s);
	CU_ASSERT_EQUAL(s, ROLE_CHECKING);
	for (now = 0; now < 1000 && !role_timer_due(t); now += 10)
		;
	CU_ASSERT_EQUAL(now, 100);
	tr = role_next(s, ROLE_EV_TIMEOUT);
	CU_ASSERT_EQUAL(tr.next, ROLE_STANDBY);
	CU_ASSERT(tr.actions & ACT(SEND_REFUSE));
	CU_ASSERT_EQUAL(tr.refuse, ROLE_REFUSE_CHECK_TIMEOUT);
	role_timer_free(t);
}

static void test_timer_defaults(void)
{
	struct role_timeouts d;
	struct role_timer *t = role_timer_new(NULL, NULL, NULL);
	int64_t left;

	role_timeouts_default(&d);
	CU_ASSERT(d.ms[ROLE_TIMER_PEER_RELEASE] >
		  d.ms[ROLE_TIMER_DRAIN] + d.ms[ROLE_TIMER_RELEASE]);
	for (int k = 1; k < ROLE__NTIMERS; k++)
		CU_ASSERT(d.ms[k] > 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	role_timer_enter(t, ROLE_CHECKING); /* the real monotonic clock */
	left = role_timer_remaining_ms(t);
	CU_ASSERT(left > 0 && left <= d.ms[ROLE_TIMER_CHECK]);
	CU_ASSERT_FALSE(role_timer_due(t));
	role_timer_free(t);
}

/* ---- docs/failover.md ------------------------------------------------------------------ */

static void src_path(char *buf, size_t n, const char *rel)
{
	const char *env = getenv("TWINFS_SRC_DIR");
	const char *me = __FILE__, *tail = "tests/unit/test_role.c";
	size_t len = strlen(me), tlen = strlen(tail);

#ifdef TWINFS_SOURCE_DIR
	if (!env || !env[0])
		env = TWINFS_SOURCE_DIR;
#endif
	if (env && env[0])
		snprintf(buf, n, "%s/%s", env, rel);
	else if (len > tlen && strcmp(me + len - tlen, tail) == 0)
		snprintf(buf, n, "%.*s%s", (int)(len - tlen), me, rel);
	else
		snprintf(buf, n, "%s", rel); /* compiled from the source root: run from there */
}

static char *read_whole(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0;
	FILE *m;
	int c;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &n);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(m);
	fclose(f);
	return buf;
}

static char *printed(void (*print)(FILE *))
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	print(f);
	fclose(f);
	return out;
}

static void check_doc_contains(const char *doc, void (*print)(FILE *), const char *what)
{
	char *text = printed(print);

	if (!strstr(doc, text))
		fprintf(stderr, "\ndocs/failover.md does not contain the output of %s():\n%s", what,
			text);
	CU_ASSERT_PTR_NOT_NULL(strstr(doc, text));
	free(text);
}

static void test_docs_match_table(void)
{
	char path[1024];
	char *doc;

	src_path(path, sizeof(path), "docs/failover.md");
	doc = read_whole(path);
	if (!doc)
		fprintf(stderr, "\ncannot read %s\n", path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	check_doc_contains(doc, role_print_diagram, "role_print_diagram");
	check_doc_contains(doc, role_print_table, "role_print_table");
	free(doc);
}

static void test_printed_shape(void)
{
	char *d = printed(role_print_diagram), *t = printed(role_print_table);

	CU_ASSERT_PTR_NOT_NULL(strstr(d, "stateDiagram-v2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "    TAKING_OVER --> ACTIVE: CLAIM_DONE\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "    ACTIVE --> DRAINING: RX_SHUTDOWN_REQUEST\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "| RELEASING | RELEASE_DONE | RELEASED | LOG, "
					 "SEND_RELEASED |  |\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "| ACTIVE | RX_REFUSE | = | LOG |  |\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "| HELD_DOWN | OP_TAKEOVER | = | LOG | HELD_DOWN |\n"));
	free(d);
	free(t);
}

/* ---- the simulator: two role machines in a fake world ---------------------------------- */

#define QCAP	  512
#define TRACE_MAX 2048
#define TOK_EV	  100 /* a trace token: an action, or TOK_EV + an event */
#define HB_CAP	  48  /* heartbeats are not queued past this (a bounded buffer) */

enum lease_st { LEASE_FREE, LEASE_HELD, LEASE_EXPIRING, LEASE_EXPIRED };

struct item {
	int ev;
	unsigned gen; /* result: the episode that started it; message: its tag */
};

struct queue {
	struct item q[QCAP];
	unsigned head, len;
};

struct node {
	enum role_state state;
	bool alive, frozen;
	bool serving, addr, holding, held, served;
	int progress; /* release steps done in order since the last START_SERVING */
	unsigned gen; /* state episode: results of an older one are dropped */
	bool check_ok, fail_claim, fail_release;
	unsigned answer_tag; /* the last SHUTDOWN_REQUEST received: RELEASED names it */
	struct queue local;  /* results of actions, for this node */
	int trace[TRACE_MAX];
	int ntrace;
};

struct sim {
	struct node n[2];
	struct queue link[2]; /* link[i]: messages on their way to node i */
	bool link_up;
	int lease_owner;
	enum lease_st lease;
	unsigned verifier, conflicts, operator_givebacks, stale;
	char bad[160]; /* the first invariant violated */
	bool visited[ROLE__NSTATES][ROLE__NEVENTS];
	struct {
		int node, ev, from, to;
	} log[32];
	unsigned nlog;
};

static bool q_push(struct queue *q, int ev, unsigned gen)
{
	if (q->len == QCAP)
		return false;
	q->q[(q->head + q->len++) % QCAP] = (struct item){ev, gen};
	return true;
}

static bool q_pop(struct queue *q, struct item *it)
{
	if (!q->len)
		return false;
	*it = q->q[q->head];
	q->head = (q->head + 1) % QCAP;
	q->len--;
	return true;
}

__attribute__((format(printf, 2, 3))) static void violate(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (s->bad[0])
		return;
	va_start(ap, fmt);
	vsnprintf(s->bad, sizeof(s->bad), fmt, ap);
	va_end(ap);
}

static bool live(const struct node *n)
{
	return n->alive && !n->frozen;
}

static void trace(struct node *n, int tok)
{
	if (n->ntrace < TRACE_MAX)
		n->trace[n->ntrace++] = tok;
}

static void send_tagged(struct sim *s, int from, enum role_event ev, unsigned tag)
{
	int to = 1 - from;

	if (!s->link_up || !s->n[to].alive)
		return;
	if (!q_push(&s->link[to], ev, tag))
		violate(s, "message queue to node %d overflows (a message storm)", to);
}

static void send(struct sim *s, int from, enum role_event ev)
{
	send_tagged(s, from, ev, 0);
}

static void push_result(struct sim *s, int i, enum role_event ev)
{
	if (!q_push(&s->n[i].local, ev, s->n[i].gen))
		violate(s, "result queue of node %d overflows", i);
}

static const enum role_event sends[ROLE__NACTIONS] = {
    [ROLE_A_SEND_FAULT] = ROLE_EV_RX_FAULT,
    [ROLE_A_SEND_TAKEOVER_REQUEST] = ROLE_EV_RX_TAKEOVER_REQUEST,
    [ROLE_A_SEND_SHUTDOWN_REQUEST] = ROLE_EV_RX_SHUTDOWN_REQUEST,
    [ROLE_A_SEND_REFUSE] = ROLE_EV_RX_REFUSE,
    [ROLE_A_SEND_RELEASED] = ROLE_EV_RX_RELEASED,
    [ROLE_A_SEND_GIVEBACK] = ROLE_EV_RX_GIVEBACK,
    [ROLE_A_START_STAY_DOWN] = ROLE_EV_RX_STAY_DOWN,
};

static const enum role_action release_seq[] = {
    ROLE_A_STOP_ADMITTING,    ROLE_A_DRAIN,	      ROLE_A_FLUSH_WRITES,
    ROLE_A_CLOSE_CONNECTIONS, ROLE_A_RELEASE_ADDRESS, ROLE_A_RUN_RELEASE_HOOK,
};
#define RELEASE_STEPS ((int)(sizeof(release_seq) / sizeof(release_seq[0])))

/* The lease on the shared storage. false: the claim fails here. */
static bool take_lease(struct sim *s, int i, bool seize)
{
	bool mine = s->lease_owner == i && s->lease == LEASE_HELD;
	bool ok = mine || s->lease == LEASE_FREE || (seize && s->lease == LEASE_EXPIRED);

	if (!ok) {
		if (s->lease == LEASE_HELD || s->lease == LEASE_EXPIRING)
			s->conflicts++;
		return false;
	}
	s->lease_owner = i;
	s->lease = LEASE_HELD;
	return true;
}

static void let_go_lease(struct sim *s, int i, enum lease_st to)
{
	if (s->lease_owner == i && s->lease == LEASE_HELD)
		s->lease = to;
}

static void release_step(struct node *n, enum role_action a)
{
	if (n->progress < RELEASE_STEPS && release_seq[n->progress] == a)
		n->progress++;
}

static void start_serving(struct sim *s, int i)
{
	struct node *n = &s->n[i];

	n->serving = n->served = true;
	n->progress = 0;
	if (s->lease_owner != i || s->lease != LEASE_HELD)
		violate(s, "node %d starts serving without the lease", i);
}

/* The messages: what the partner will receive, with the checks on when they go. */
static void perform_send(struct sim *s, int i, enum role_action a, enum role_event ev)
{
	struct node *n = &s->n[i];

	switch (a) {
	case ROLE_A_START_STAY_DOWN:
		n->holding = true;
		send(s, i, sends[a]);
		break;
	case ROLE_A_SEND_SHUTDOWN_REQUEST:
		if (ev != ROLE_EV_CHECK_PASSED)
			violate(s, "node %d asks for shutdown without a passed check", i);
		send_tagged(s, i, sends[a], n->gen); /* the WAIT episode it starts */
		break;
	case ROLE_A_SEND_RELEASED:
		if (n->serving || n->addr || (n->served && n->progress < RELEASE_STEPS))
			violate(s, "node %d says RELEASED before releasing", i);
		send_tagged(s, i, sends[a], n->answer_tag);
		break;
	default:
		send(s, i, sends[a]);
		break;
	}
}

/* The local effects. false: the step failed, skip the rest of the group. */
static bool perform_local(struct sim *s, int i, enum role_action a)
{
	struct node *n = &s->n[i];

	switch (a) {
	case ROLE_A_STOP_STAY_DOWN:
		n->holding = false;
		break;
	case ROLE_A_STOP_ADMITTING:
		n->serving = false;
		break;
	case ROLE_A_DRAIN:
		push_result(s, i, ROLE_EV_DRAIN_DONE);
		break;
	case ROLE_A_RELEASE_ADDRESS:
		n->addr = false;
		break;
	case ROLE_A_RUN_RELEASE_HOOK:
		return !(n->fail_release && n->state == ROLE_RELEASING);
	case ROLE_A_LEASE_RELEASE:
	case ROLE_A_LEASE_ABANDON:
		let_go_lease(s, i, a == ROLE_A_LEASE_RELEASE ? LEASE_FREE : LEASE_EXPIRING);
		break;
	case ROLE_A_RUN_CHECK:
		push_result(s, i, n->check_ok ? ROLE_EV_CHECK_PASSED : ROLE_EV_CHECK_FAILED);
		break;
	case ROLE_A_LEASE_ACQUIRE:
	case ROLE_A_LEASE_SEIZE:
		return take_lease(s, i, a == ROLE_A_LEASE_SEIZE);
	case ROLE_A_RUN_ACQUIRE_HOOK:
		return !n->fail_claim;
	case ROLE_A_BUMP_VERIFIER:
		s->verifier++;
		break;
	case ROLE_A_START_SERVING:
		start_serving(s, i);
		break;
	case ROLE_A_ADD_ADDRESS:
		n->addr = true;
		break;
	default: /* logging, fencing, flush, mirror, close, tickle: nothing to model */
		break;
	}
	return true;
}

/* The caller's side of one action. false: it failed, skip the rest of the group. */
static bool perform(struct sim *s, int i, enum role_action a, enum role_event ev)
{
	trace(&s->n[i], a);
	release_step(&s->n[i], a);
	if (!sends[a])
		return perform_local(s, i, a);
	perform_send(s, i, a, ev);
	return true;
}

static void check(struct sim *s)
{
	struct node *a = &s->n[0], *b = &s->n[1];

	if (live(a) && live(b) && a->state == ROLE_ACTIVE && b->state == ROLE_ACTIVE)
		violate(s, "two ACTIVE nodes");
	if (live(a) && live(b) && a->serving && b->serving)
		violate(s, "two serving nodes");
	if (live(a) && live(b) && a->addr && b->addr)
		violate(s, "the address on both nodes");
	for (int i = 0; i < 2; i++) {
		struct node *n = &s->n[i];

		if (live(n) && n->serving && (s->lease_owner != i || s->lease != LEASE_HELD))
			violate(s, "node %d serves without a valid lease", i);
		if (live(n) && n->held && (n->state == ROLE_ACTIVE || is_claiming(n->state)))
			violate(s, "node %d serves though told to stay down", i);
	}
}

static void note(struct sim *s, int i, enum role_event ev, enum role_state to)
{
	struct node *n = &s->n[i];

	if (ev == ROLE_EV_RX_STAY_DOWN && n->state != ROLE_ACTIVE)
		n->held = true;
	if (is_giveback(ev))
		n->held = false;
	trace(n, TOK_EV + ev);
	if ((unsigned)ev < ROLE__NEVENTS)
		s->visited[n->state][ev] = true;
	s->log[s->nlog % 32].node = i;
	s->log[s->nlog % 32].ev = ev;
	s->log[s->nlog % 32].from = n->state;
	s->log[s->nlog % 32].to = to;
	s->nlog++;
}

/* Entering RELEASING or a claim starts a group; its result comes back later. */
static void group_result(struct sim *s, int i, enum role_state prev, bool ok)
{
	enum role_state now = s->n[i].state;

	if (now == prev)
		return;
	if (now == ROLE_RELEASING)
		push_result(s, i, ok ? ROLE_EV_RELEASE_DONE : ROLE_EV_RELEASE_FAILED);
	if (is_claiming(now))
		push_result(s, i, ok ? ROLE_EV_CLAIM_DONE : ROLE_EV_CLAIM_FAILED);
}

static void feed(struct sim *s, int i, enum role_event ev)
{
	struct node *n = &s->n[i];
	enum role_state prev = n->state;
	struct role_transition t;
	bool ok = true;

	if (!live(n))
		return;
	t = role_next(prev, ev);
	note(s, i, ev, t.next);
	n->state = t.next;
	if (t.next != prev)
		n->gen++;
	for (int a = 0; a < ROLE__NACTIONS && ok; a++)
		if (t.actions & ROLE_ACT(a))
			ok = perform(s, i, (enum role_action)a, ev);
	group_result(s, i, prev, ok);
	check(s);
}

/* ---- the world's moves ---- */

static bool deliver_msg(struct sim *s, int i)
{
	struct item it;

	if (!live(&s->n[i]) || !q_pop(&s->link[i], &it))
		return false;
	if (it.ev == ROLE_EV_RX_SHUTDOWN_REQUEST)
		s->n[i].answer_tag = it.gen;
	if (it.ev == ROLE_EV_RX_RELEASED && it.gen != s->n[i].gen)
		s->stale++; /* answers an abandoned request: the caller drops it */
	else
		feed(s, i, (enum role_event)it.ev);
	return true;
}

static bool deliver_local(struct sim *s, int i)
{
	struct item it;

	if (!live(&s->n[i]) || !q_pop(&s->n[i].local, &it))
		return false;
	if (it.gen == s->n[i].gen)
		feed(s, i, (enum role_event)it.ev);
	return true;
}

static void heartbeat(struct sim *s, int i)
{
	struct node *n = &s->n[i];

	if (live(n) && s->link_up && s->n[1 - i].alive && s->link[1 - i].len < HB_CAP)
		send(s, i, role_heartbeat_event(n->state, n->holding));
}

static void stay_down_tick(struct sim *s, int i)
{
	if (live(&s->n[i]) && s->n[i].holding)
		send(s, i, ROLE_EV_RX_STAY_DOWN);
}

static void timeout(struct sim *s, int i)
{
	if (role_state_timer(s->n[i].state) != ROLE_TIMER_NONE)
		feed(s, i, ROLE_EV_TIMEOUT);
}

/* The fence helper's verdicts, read from the lease. */
static void fence_tick(struct sim *s, int i)
{
	if (s->lease == LEASE_EXPIRED)
		feed(s, i, ROLE_EV_PEER_FENCED);
	else if (s->lease == LEASE_FREE)
		feed(s, i, ROLE_EV_LEASE_FREE);
}

static void peer_silent(struct sim *s, int i)
{
	struct node *p = &s->n[1 - i];

	if (!s->link_up || !live(p))
		feed(s, i, ROLE_EV_PEER_SILENT);
}

/* Time passes: a lease nobody renews expires. */
static void expire(struct sim *s)
{
	if (s->lease == LEASE_EXPIRING)
		s->lease = LEASE_EXPIRED;
}

/* Renewal fails: the node hears it before the lease runs out. */
static void lease_lost(struct sim *s, int i)
{
	if (!live(&s->n[i]) || s->lease_owner != i || s->lease != LEASE_HELD)
		return;
	s->lease = LEASE_EXPIRING;
	feed(s, i, ROLE_EV_LEASE_LOST);
}

static void crash(struct sim *s, int i)
{
	struct node *n = &s->n[i];

	if (!n->alive)
		return;
	n->alive = n->frozen = false;
	n->serving = n->addr = n->holding = false;
	let_go_lease(s, i, LEASE_EXPIRING);
	s->link[i].len = 0;
	n->local.len = 0;
}

static void restart(struct sim *s, int i)
{
	struct node *n = &s->n[i];

	if (n->alive && n->state != ROLE_DOWN)
		return;
	crash(s, i);
	n->alive = true;
	n->state = ROLE_STARTING;
	n->gen++;
	n->held = n->served = false;
	n->progress = 0;
}

static void freeze(struct sim *s, int i)
{
	if (!live(&s->n[i]))
		return;
	s->n[i].frozen = true;
	let_go_lease(s, i, LEASE_EXPIRING); /* it no longer renews */
}

/* SIGCONT: the fence helper looks at the lease before anything else runs. */
static void thaw(struct sim *s, int i)
{
	if (!s->n[i].alive || !s->n[i].frozen)
		return;
	s->n[i].frozen = false;
	if (s->lease_owner != i || s->lease != LEASE_HELD)
		feed(s, i, ROLE_EV_LEASE_LOST);
}

static void cut(struct sim *s)
{
	s->link_up = false;
	s->link[0].len = s->link[1].len = 0;
}

/* Everything queued, both nodes in turn, until nothing moves. */
static void drain_all(struct sim *s)
{
	for (int n = 0; n < 20000; n++) {
		bool moved = false;

		for (int i = 0; i < 2; i++) {
			moved |= deliver_local(s, i);
			moved |= deliver_msg(s, i);
		}
		if (!moved)
			return;
	}
	violate(s, "events never stop (a message loop)");
}

/* Queues, then a heartbeat exchange, then the queues again. */
static void run(struct sim *s)
{
	drain_all(s);
	heartbeat(s, 0);
	heartbeat(s, 1);
	stay_down_tick(s, 0);
	stay_down_tick(s, 1);
	drain_all(s);
}

static struct sim *sim_new(void)
{
	struct sim *s = calloc(1, sizeof(*s));

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	s->link_up = true;
	s->lease_owner = -1;
	s->lease = LEASE_FREE;
	for (int i = 0; i < 2; i++) {
		s->n[i].alive = true;
		s->n[i].check_ok = true;
		s->n[i].state = ROLE_STARTING;
	}
	return s;
}

/* Cold start: both nodes come up, A sees the free lease first. */
static struct sim *sim_boot(void)
{
	struct sim *s = sim_new();

	run(s);
	fence_tick(s, 0);
	fence_tick(s, 1);
	run(s);
	return s;
}

/* ---- trace helpers ---- */

static bool in_trace_order(const struct node *n, const int *toks, int ntoks)
{
	int k = 0;

	for (int j = 0; j < n->ntrace && k < ntoks; j++)
		if (n->trace[j] == toks[k])
			k++;
	return k == ntoks;
}

static int trace_count(const struct node *n, int tok)
{
	int c = 0;

	for (int j = 0; j < n->ntrace; j++)
		c += n->trace[j] == tok;
	return c;
}

static void dump(const struct sim *s)
{
	static const char *const lease[] = {"free", "held", "expiring", "expired"};

	fprintf(stderr, "\nviolation: %s\nlease %s by %d, link %s; last steps:\n", s->bad,
		lease[s->lease], s->lease_owner, s->link_up ? "up" : "cut");
	for (unsigned k = s->nlog > 32 ? s->nlog - 32 : 0; k < s->nlog; k++)
		fprintf(stderr, "  node %d: %s --%s--> %s\n", s->log[k % 32].node,
			role_state_name(s->log[k % 32].from), role_event_name(s->log[k % 32].ev),
			role_state_name(s->log[k % 32].to));
}

static void expect_ok(struct sim *s)
{
	if (s->bad[0])
		dump(s);
	CU_ASSERT_STRING_EQUAL(s->bad, "");
}

static void expect_pair(struct sim *s, enum role_state a, enum role_state b)
{
	if (s->n[0].state != a || s->n[1].state != b)
		fprintf(stderr, "\nexpected %s/%s, got %s/%s\n", role_state_name(a),
			role_state_name(b), role_state_name(s->n[0].state),
			role_state_name(s->n[1].state));
	CU_ASSERT_EQUAL(s->n[0].state, a);
	CU_ASSERT_EQUAL(s->n[1].state, b);
	expect_ok(s);
}

#define EV(x) (TOK_EV + ROLE_EV_##x)
#define AC(x) (ROLE_A_##x)
#define IN_ORDER(n, ...)                                                                           \
	in_trace_order(n, (const int[]){__VA_ARGS__},                                              \
		       (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)))

static void clear_traces(struct sim *s)
{
	s->n[0].ntrace = s->n[1].ntrace = 0;
}

/* ---- scripted sequences (docs/failover.md) ---- */

static void test_sim_cold_start(void)
{
	struct sim *s = sim_boot();

	expect_pair(s, ROLE_ACTIVE, ROLE_STANDBY);
	CU_ASSERT(IN_ORDER(&s->n[0], EV(HB_PEER_IDLE), EV(LEASE_FREE), AC(LEASE_ACQUIRE),
			   AC(START_SERVING), AC(ADD_ADDRESS), EV(CLAIM_DONE)));
	CU_ASSERT_FALSE(s->n[0].holding); /* nobody failed: nobody held down */
	CU_ASSERT_EQUAL(s->verifier, 0);
	free(s);
}

/* The first node's release and the second node's claim, as claim 1 orders them. */
static void expect_planned_trace(struct sim *s, int first)
{
	struct node *f = &s->n[first], *g = &s->n[1 - first];

	CU_ASSERT(IN_ORDER(f, EV(RX_SHUTDOWN_REQUEST), AC(STOP_ADMITTING), AC(DRAIN),
			   EV(DRAIN_DONE), AC(FLUSH_WRITES), AC(SYNC_MIRROR), AC(CLOSE_CONNECTIONS),
			   AC(RELEASE_ADDRESS), AC(RUN_RELEASE_HOOK), AC(LEASE_RELEASE),
			   EV(RELEASE_DONE), AC(SEND_RELEASED)));
	CU_ASSERT(IN_ORDER(g, AC(RUN_CHECK), EV(CHECK_PASSED), AC(SEND_SHUTDOWN_REQUEST),
			   EV(RX_RELEASED), AC(LEASE_ACQUIRE), AC(RUN_ACQUIRE_HOOK),
			   AC(LOAD_MIRROR), AC(START_SERVING), AC(ADD_ADDRESS), AC(TICKLE_CLIENTS),
			   EV(CLAIM_DONE)));
	CU_ASSERT_EQUAL(trace_count(g, AC(BUMP_VERIFIER)), 0);
}

static void test_sim_handover(void)
{
	struct sim *s = sim_boot();

	clear_traces(s);
	feed(s, 0, ROLE_EV_OP_HANDOVER);
	run(s);
	expect_pair(s, ROLE_HELD_DOWN, ROLE_ACTIVE);
	CU_ASSERT(IN_ORDER(&s->n[0], EV(OP_HANDOVER), AC(SEND_TAKEOVER_REQUEST)));
	CU_ASSERT(IN_ORDER(&s->n[1], EV(RX_TAKEOVER_REQUEST), AC(RUN_CHECK)));
	expect_planned_trace(s, 0);
	CU_ASSERT(s->n[1].holding); /* claim 2 */
	CU_ASSERT(IN_ORDER(&s->n[0], AC(SEND_RELEASED), EV(RX_STAY_DOWN)));
	free(s);
}

static void test_sim_operator_takeover(void)
{
	struct sim *s = sim_boot();

	clear_traces(s);
	feed(s, 1, ROLE_EV_OP_TAKEOVER); /* claim 4: asked on the standby */
	run(s);
	expect_pair(s, ROLE_HELD_DOWN, ROLE_ACTIVE);
	CU_ASSERT_EQUAL(trace_count(&s->n[0], AC(SEND_TAKEOVER_REQUEST)), 0);
	expect_planned_trace(s, 0);
	/* and the held node refuses to take over itself */
	feed(s, 0, ROLE_EV_OP_TAKEOVER);
	run(s);
	expect_pair(s, ROLE_HELD_DOWN, ROLE_ACTIVE);
	free(s);
}

static void test_sim_fault(void)
{
	struct sim *s = sim_boot();

	clear_traces(s);
	feed(s, 0, ROLE_EV_LOCAL_FAULT);	     /* claims 8, 9, 11, 14, 19, 20, 21 */
	CU_ASSERT_EQUAL(s->n[0].state, ROLE_ACTIVE); /* still serving while asking */
	run(s);
	expect_pair(s, ROLE_HELD_DOWN, ROLE_ACTIVE);
	CU_ASSERT(IN_ORDER(&s->n[0], EV(LOCAL_FAULT), AC(SEND_FAULT), AC(SEND_TAKEOVER_REQUEST),
			   EV(RX_SHUTDOWN_REQUEST), AC(DRAIN)));
	CU_ASSERT(IN_ORDER(&s->n[1], EV(RX_FAULT), EV(RX_TAKEOVER_REQUEST), AC(RUN_CHECK)));
	expect_planned_trace(s, 0);
	free(s);
}

static void test_sim_refusal(void)
{
	struct sim *s = sim_boot();

	clear_traces(s);
	s->n[1].check_ok = false; /* standby unhealthy: storage probe fails */
	feed(s, 0, ROLE_EV_LOCAL_FAULT);
	run(s);
	feed(s, 0, ROLE_EV_OP_HANDOVER);
	run(s);
	feed(s, 1, ROLE_EV_OP_TAKEOVER);
	run(s);
	expect_pair(s, ROLE_ACTIVE, ROLE_STANDBY);
	CU_ASSERT_EQUAL(trace_count(&s->n[1], AC(SEND_REFUSE)), 3);
	CU_ASSERT_EQUAL(trace_count(&s->n[0], EV(RX_REFUSE)), 3);
	CU_ASSERT_EQUAL(trace_count(&s->n[1], AC(SEND_SHUTDOWN_REQUEST)), 0);
	CU_ASSERT_EQUAL(trace_count(&s->n[0], AC(STOP_ADMITTING)), 0);
	CU_ASSERT(s->n[0].serving);
	free(s);
}

/* A dies: B hears nothing, fences, and claims only once the lease has expired. */
static struct sim *sim_after_death(void)
{
	struct sim *s = sim_boot();

	clear_traces(s);
	crash(s, 0);
	peer_silent(s, 1);
	CU_ASSERT_EQUAL(s->n[1].state, ROLE_FENCING);
	fence_tick(s, 1); /* lease still running out: no verdict */
	run(s);
	CU_ASSERT_EQUAL(s->n[1].state, ROLE_FENCING);
	CU_ASSERT_FALSE(s->n[1].serving);
	expire(s);
	fence_tick(s, 1);
	run(s);
	return s;
}

static void test_sim_peer_death(void)
{
	struct sim *s = sim_after_death();

	CU_ASSERT_EQUAL(s->n[1].state, ROLE_ACTIVE);
	expect_ok(s);
	CU_ASSERT(IN_ORDER(&s->n[1], EV(PEER_SILENT), AC(START_FENCE), EV(PEER_FENCED),
			   AC(STOP_FENCE), AC(LEASE_SEIZE), AC(LOAD_MIRROR), AC(BUMP_VERIFIER),
			   AC(START_SERVING), AC(ADD_ADDRESS), AC(TICKLE_CLIENTS), EV(CLAIM_DONE),
			   AC(START_STAY_DOWN)));
	CU_ASSERT_EQUAL(trace_count(&s->n[1], AC(SEND_SHUTDOWN_REQUEST)), 0); /* claim 3 */
	CU_ASSERT_EQUAL(s->verifier, 1);
	free(s);
}

static void test_sim_restart_stays_down(void)
{
	struct sim *s = sim_after_death();

	restart(s, 0);
	run(s);
	expect_pair(s, ROLE_HELD_DOWN, ROLE_ACTIVE);
	/* nothing it hears or is told makes it serve */
	fence_tick(s, 0);
	feed(s, 0, ROLE_EV_OP_TAKEOVER);
	feed(s, 0, ROLE_EV_PEER_SILENT);
	feed(s, 0, ROLE_EV_RX_TAKEOVER_REQUEST);
	feed(s, 1, ROLE_EV_OP_HANDOVER);
	run(s);
	expect_pair(s, ROLE_HELD_DOWN, ROLE_ACTIVE);
	CU_ASSERT(s->n[0].held);
	free(s);
}

static void expect_giveback(struct sim *s, int giver)
{
	unsigned v = s->verifier;

	clear_traces(s);
	feed(s, giver, ROLE_EV_OP_GIVEBACK);
	run(s);
	run(s);
	expect_pair(s, ROLE_ACTIVE, ROLE_STANDBY);
	CU_ASSERT_FALSE(s->n[0].holding);
	CU_ASSERT_FALSE(s->n[0].held);
	CU_ASSERT_FALSE(s->n[1].holding);
	CU_ASSERT_EQUAL(s->verifier, v); /* planned: everything was flushed */
	expect_planned_trace(s, 1);
	CU_ASSERT(IN_ORDER(&s->n[0], EV(RX_GIVEBACK), AC(RUN_CHECK), EV(CLAIM_DONE)));
}

static void test_sim_giveback(void)
{
	for (int giver = 0; giver < 2; giver++) {
		struct sim *s = sim_after_death();

		restart(s, 0);
		run(s);
		expect_giveback(s, giver == 0 ? 1 : 0);
		/* the pair is back to normal: B is a standby again, and backs A up */
		feed(s, 0, ROLE_EV_LOCAL_FAULT);
		run(s);
		expect_pair(s, ROLE_HELD_DOWN, ROLE_ACTIVE);
		free(s);
	}
}

/* Peer link cut, storage shared: exactly one serves at every moment. */
static void test_sim_cut_link(void)
{
	struct sim *s = sim_boot();

	cut(s);
	peer_silent(s, 0);
	peer_silent(s, 1);
	fence_tick(s, 1);
	CU_ASSERT_EQUAL(s->n[1].state, ROLE_FENCING);
	timeout(s, 1); /* A keeps renewing its lease: B gives up fencing */
	expect_pair(s, ROLE_ACTIVE, ROLE_STANDBY);
	lease_lost(s, 0); /* now A's storage fails too: A stops at once */
	CU_ASSERT_EQUAL(s->n[0].state, ROLE_HELD_DOWN);
	CU_ASSERT_FALSE(s->n[0].serving);
	CU_ASSERT_FALSE(s->n[0].addr);
	fence_tick(s, 1); /* not expired yet */
	CU_ASSERT_EQUAL(s->n[1].state, ROLE_STANDBY);
	expire(s);
	fence_tick(s, 1);
	run(s);
	expect_pair(s, ROLE_HELD_DOWN, ROLE_ACTIVE);
	CU_ASSERT_EQUAL(s->verifier, 1);
	s->link_up = true;
	run(s);
	expect_pair(s, ROLE_HELD_DOWN, ROLE_ACTIVE);
	free(s);
}

/* SIGSTOP longer than the lease, then SIGCONT: it never serves again on its own. */
static void test_sim_frozen(void)
{
	struct sim *s = sim_boot();

	freeze(s, 0);
	peer_silent(s, 1);
	expire(s);
	fence_tick(s, 1);
	run(s);
	CU_ASSERT_EQUAL(s->n[1].state, ROLE_ACTIVE);
	thaw(s, 0);
	CU_ASSERT_EQUAL(s->n[0].state, ROLE_HELD_DOWN);
	CU_ASSERT_FALSE(s->n[0].serving);
	run(s);
	expect_pair(s, ROLE_HELD_DOWN, ROLE_ACTIVE);
	free(s);
}

/* The release hook fails: A never says RELEASED; B waits, then seizes the lease. */
static void test_sim_release_fails(void)
{
	struct sim *s = sim_boot();

	s->n[0].fail_release = true;
	feed(s, 0, ROLE_EV_OP_HANDOVER);
	run(s);
	expect_pair(s, ROLE_HELD_DOWN, ROLE_WAIT_RELEASE);
	CU_ASSERT_EQUAL(trace_count(&s->n[0], AC(SEND_RELEASED)), 0);
	fence_tick(s, 1); /* abandoned, not yet expired */
	CU_ASSERT_EQUAL(s->n[1].state, ROLE_WAIT_RELEASE);
	expire(s);
	fence_tick(s, 1);
	run(s);
	expect_pair(s, ROLE_HELD_DOWN, ROLE_ACTIVE);
	CU_ASSERT_EQUAL(s->verifier, 1); /* writes may not have been flushed */
	free(s);
}

/* The acquire hook fails on B after A released: A takes its service back. */
static void test_sim_claim_fails(void)
{
	struct sim *s = sim_boot();

	s->n[1].fail_claim = true;
	feed(s, 0, ROLE_EV_OP_HANDOVER);
	run(s);
	CU_ASSERT_EQUAL(s->n[1].state, ROLE_STANDBY);
	CU_ASSERT_FALSE(s->n[1].serving);
	run(s);
	fence_tick(s, 0);
	run(s);
	expect_pair(s, ROLE_ACTIVE, ROLE_STANDBY);
	CU_ASSERT_EQUAL(s->verifier, 0);
	free(s);
}

/* B dies after A released but before it claimed: A, released and not yet held
 * down, fences and takes its own (cleanly released) service back at once. */
static void test_sim_taker_dies(void)
{
	struct sim *s = sim_boot();

	feed(s, 0, ROLE_EV_OP_HANDOVER);
	deliver_msg(s, 1);				 /* TAKEOVER_REQUEST */
	deliver_local(s, 1);				 /* CHECK_PASSED: SHUTDOWN_REQUEST */
	while (deliver_msg(s, 0) || deliver_local(s, 0)) /* A drains and releases */
		;
	CU_ASSERT_EQUAL(s->n[0].state, ROLE_RELEASED);
	crash(s, 1); /* before RELEASED reached it */
	clear_traces(s);
	peer_silent(s, 0);
	fence_tick(s, 0);
	run(s);
	CU_ASSERT_EQUAL(s->n[0].state, ROLE_ACTIVE);
	CU_ASSERT(
	    IN_ORDER(&s->n[0], EV(PEER_SILENT), EV(LEASE_FREE), AC(LEASE_ACQUIRE), EV(CLAIM_DONE)));
	CU_ASSERT_EQUAL(trace_count(&s->n[0], EV(TIMEOUT)), 0);
	CU_ASSERT_EQUAL(s->verifier, 0); /* released cleanly: nothing was lost */
	expect_ok(s);
	free(s);
}

/* ---- random runs ---- */

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void random_op(struct sim *s, int i, uint32_t *r)
{
	static const enum role_event ops[] = {ROLE_EV_OP_HANDOVER, ROLE_EV_OP_TAKEOVER,
					      ROLE_EV_OP_GIVEBACK, ROLE_EV_OP_HANDOVER,
					      ROLE_EV_OP_TAKEOVER, ROLE_EV_OP_STOP};

	feed(s, i, ops[rnd(r) % (rnd(r) % 8 ? 5 : 6)]);
}

static void random_health(struct sim *s, int i, uint32_t *r, bool chaos)
{
	unsigned k = rnd(r) % 8;

	s->n[i].check_ok = k != 0;
	s->n[i].fail_claim = chaos && k == 1;
	s->n[i].fail_release = chaos && k == 2;
}

static void chaos_step(struct sim *s, int i, unsigned k)
{
	switch (k) {
	case 0:
		crash(s, i);
		break;
	case 1:
		restart(s, i);
		break;
	case 2:
		if (s->link_up)
			cut(s);
		else
			s->link_up = true;
		break;
	case 3:
		lease_lost(s, i);
		break;
	case 4:
		freeze(s, i);
		break;
	default:
		thaw(s, i);
		break;
	}
}

static void random_step(struct sim *s, uint32_t *r, bool chaos)
{
	int i = (int)(rnd(r) % 2);
	unsigned k = rnd(r) % 100;

	if (k < 30)
		deliver_msg(s, i);
	else if (k < 45)
		deliver_local(s, i);
	else if (k < 55)
		heartbeat(s, i);
	else if (k < 58)
		stay_down_tick(s, i);
	else if (k < 62)
		timeout(s, i);
	else if (k < 66)
		fence_tick(s, i);
	else if (k < 68)
		expire(s);
	else if (k < 70)
		peer_silent(s, i);
	else if (k < 75)
		random_op(s, i, r);
	else if (k < 78)
		feed(s, i, ROLE_EV_LOCAL_FAULT);
	else if (k < 81)
		random_health(s, i, r, chaos);
	else if (chaos && k < 93)
		chaos_step(s, i, (k - 81) / 2);
	else
		deliver_msg(s, 1 - i);
}

/* Faults stop; the pair must settle with one node serving, the operator giving back
 * only when both are held down or stopped. */
static void heal(struct sim *s)
{
	for (int i = 0; i < 2; i++) {
		thaw(s, i);
		restart(s, i);
		s->n[i].check_ok = true;
		s->n[i].fail_claim = s->n[i].fail_release = false;
	}
	s->link_up = true;
}

static bool settled(const struct sim *s)
{
	for (int i = 0; i < 2; i++) {
		enum role_state o = s->n[1 - i].state;

		if (s->n[i].state == ROLE_ACTIVE && (o == ROLE_STANDBY || o == ROLE_HELD_DOWN))
			return true;
	}
	return false;
}

static void settle_round(struct sim *s, int round)
{
	run(s);
	expire(s);
	fence_tick(s, round % 2);
	fence_tick(s, 1 - round % 2);
	run(s);
	if (settled(s))
		return;
	for (int i = 0; i < 2; i++) {
		timeout(s, i);
		peer_silent(s, i);
	}
	run(s);
	if (round < 6 || settled(s))
		return;
	for (int i = 0; i < 2; i++) {
		if (s->n[i].state == ROLE_HELD_DOWN && s->n[1 - i].state != ROLE_ACTIVE) {
			s->operator_givebacks++;
			feed(s, i, ROLE_EV_OP_GIVEBACK);
		}
	}
}

static bool settle(struct sim *s)
{
	heal(s);
	for (int round = 0; round < 30; round++) {
		run(s);
		if (settled(s)) {
			run(s); /* and it stays so once everything queued is in */
			if (settled(s))
				return true;
		}
		settle_round(s, round);
	}
	return false;
}

/* Defined cells (not "ignore") the runs went through, in per cent. */
static int coverage(bool seen[ROLE__NSTATES][ROLE__NEVENTS], bool print)
{
	int defined = 0, hit = 0;

	for (int st = 0; st < ROLE__NSTATES; st++) {
		for (int e = 0; e < ROLE__NEVENTS; e++) {
			struct role_transition t = cell(st, e);

			if (t.next == (enum role_state)st && !t.actions)
				continue;
			defined++;
			hit += seen[st][e];
			if (print && !seen[st][e])
				fprintf(stderr, " (%s, %s)", role_state_name(st),
					role_event_name(e));
		}
	}
	return defined ? hit * 100 / defined : 0;
}

static bool one_run(uint32_t seed, bool chaos, bool seen[ROLE__NSTATES][ROLE__NEVENTS],
		    unsigned *conflicts, unsigned *givebacks)
{
	uint32_t r = seed;
	struct sim *s = sim_boot();
	bool ok;

	for (int step = 0; step < 600 && !s->bad[0]; step++)
		random_step(s, &r, chaos);
	if (!s->bad[0] && !settle(s))
		violate(s, "never settles: %s/%s", role_state_name(s->n[0].state),
			role_state_name(s->n[1].state));
	ok = !s->bad[0];
	if (!ok) {
		fprintf(stderr, "\n%s run, seed %u:", chaos ? "chaos" : "calm", seed);
		dump(s);
	}
	for (int st = 0; st < ROLE__NSTATES; st++)
		for (int e = 0; e < ROLE__NEVENTS; e++)
			seen[st][e] |= s->visited[st][e];
	*conflicts += s->conflicts;
	*givebacks += s->operator_givebacks;
	free(s);
	return ok;
}

static void random_runs(int runs, bool chaos, uint32_t seed0, int min_coverage)
{
	bool seen[ROLE__NSTATES][ROLE__NEVENTS] = {{false}};
	unsigned conflicts = 0, givebacks = 0, fails = 0;
	int cov;

	for (int run_no = 0; run_no < runs && fails < 3; run_no++)
		if (!one_run(seed0 + (uint32_t)run_no * 2654435761u, chaos, seen, &conflicts,
			     &givebacks))
			fails++;
	CU_ASSERT_EQUAL(fails, 0);
	cov = coverage(seen, false);
	fprintf(stderr, "[%d%% of the table's cells, %u lease races, %u operator givebacks] ", cov,
		conflicts, givebacks);
	if (cov < min_coverage) {
		fprintf(stderr, "\nnot visited:");
		coverage(seen, true);
	}
	CU_ASSERT(cov >= min_coverage);
	if (!chaos) { /* without crashes, cuts or lost leases: no claim races another */
		CU_ASSERT_EQUAL(conflicts, 0);
		CU_ASSERT_EQUAL(givebacks, 0);
	}
}

static void test_sim_random_calm(void)
{
	random_runs(1500, false, 12345u, 60);
}

static void test_sim_random_chaos(void)
{
	random_runs(3000, true, 777u, 90);
}

/* ---- registration ---------------------------------------------------------------------- */

int twinfs_register_tests(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
	    {"names", test_names},
	    {"table is total, refusals have reasons", test_total},
	    {"ACTIVE only on CLAIM_DONE", test_active_only_by_claim},
	    {"claim only after RELEASED or fencing", test_claim_only_after_release_or_fence},
	    {"SHUTDOWN_REQUEST only after a passed check", test_shutdown_request_only_after_check},
	    {"RELEASED only after drain, flush, close, address, hook",
	     test_released_only_after_release},
	    {"claim steps in order", test_claim_step_order},
	    {"verifier bumped exactly when the lease is seized", test_verifier},
	    {"REFUSE leaves the serving node ACTIVE", test_refuse_keeps_active},
	    {"no dead end but DOWN, by the operator", test_no_dead_ends},
	    {"STAY_DOWN holds until GIVEBACK", test_stay_down},
	    {"leaving a state lets go of what it held", test_lets_go},
	    {"a timeout out of every timed state", test_timeouts_in_table},
	    {"heartbeat classification", test_heartbeat_event},
	    {"timer on a fake clock", test_timer},
	    {"timer drives the table", test_timer_drives_table},
	    {"timer defaults and the real clock", test_timer_defaults},
	    {"printed diagram and table", test_printed_shape},
	    {"docs/failover.md matches the table", test_docs_match_table},
	    {"sim: cold start", test_sim_cold_start},
	    {"sim: handover (claims 1, 2)", test_sim_handover},
	    {"sim: operator takeover on the standby (claim 4)", test_sim_operator_takeover},
	    {"sim: fault-triggered takeover (claims 8-21)", test_sim_fault},
	    {"sim: refusal keeps the first node serving", test_sim_refusal},
	    {"sim: peer death, fencing, takeover (claim 3)", test_sim_peer_death},
	    {"sim: restarted node stays down", test_sim_restart_stays_down},
	    {"sim: giveback from either side (claim 13)", test_sim_giveback},
	    {"sim: cut peer link, shared storage", test_sim_cut_link},
	    {"sim: frozen node does not serve on resume", test_sim_frozen},
	    {"sim: failed release never says RELEASED", test_sim_release_fails},
	    {"sim: failed claim, the first node takes back", test_sim_claim_fails},
	    {"sim: the taker dies before claiming", test_sim_taker_dies},
	    {"sim: 1500 random runs without crashes", test_sim_random_calm},
	    {"sim: 3000 random runs with crashes, cuts, lost leases", test_sim_random_chaos},
	};
	CU_pSuite suite = CU_add_suite("role", NULL, NULL);

	if (!suite)
		return -1;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(suite, tests[i].name, tests[i].fn))
			return -1;
	return 0;
}
