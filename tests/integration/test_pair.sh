#!/usr/bin/env bash
# test_pair.sh TWINFSD — two twinfsd nodes sharing storage, and a client, each in
# a network namespace made here, on a bridge in 192.0.2.0/24 (documentation
# range). Node A (preferred) starts the service; an operator hands it over to B,
# B gives it back, B takes it over from the standby side; after every move the
# client (libnfs through the service address) reads what it wrote, and the
# service address is on exactly one node. Everything made is removed at exit.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PAIR_NAME=pair
# shellcheck source=tests/integration/pairlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/pairlib.sh"
URL="nfs://$VIP/share"
Q='?version=3&nfsport=2049&mountport=20048'
client() { ip netns exec "$nsc" timeout 60 "$@"; }
roundtrip() { # roundtrip NAME: write a file through the service address, read it back
	head -c 100000 /dev/urandom >"$dir/$1.src"
	client nfs-cp "$dir/$1.src" "$URL/$1$Q" >/dev/null &&
		client nfs-cp "$URL/$1$Q" "$dir/$1.back" >/dev/null &&
		cmp -s "$dir/$1.src" "$dir/$1.back"
}
readback() { rm -f "$dir/$1.again"; client nfs-cp "$URL/$1$Q" "$dir/$1.again" >/dev/null && cmp -s "$dir/$1.src" "$dir/$1.again"; }

check "A (preferred) serves, B stands by" wait_roles ACTIVE STANDBY
dry() { "$twinctl" -s "$dir/b/admin.sock" takeover --dry-run | grep "can back the partner up" >/dev/null; }
check "takeover --dry-run on B: it could back A up" dry
check "the dry run changed nothing" wait_roles ACTIVE STANDBY
# Polled: B learns A's new role from A's next heartbeat.
pair_json() {
	local j
	for _ in $(seq 40); do
		j=$("$twinctl" -s "$dir/b/admin.sock" status --json | tail -n 1)
		echo "$j" | python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(0 if d["role"] == "STANDBY" and d["peer_role"] == "ACTIVE" and d["serving"] == "no" else 1)' && return 0
		sleep 0.05
	done
	echo "# $j" >&2
	return 1
}
check "B's status --json: standby, partner active, not serving" pair_json
check "service address on A only" only_on "$nsa" "$nsb"
check "client writes and reads through the service address" roundtrip one
# B's storage fails its health probe (a file where its probe directory should
# be): B refuses to take over, and says why; A keeps serving (claims 10, 19).
break_probe() { rm -rf "$dir/probe-$1" && touch "$dir/probe-$1"; }
mend_probe() { rm -f "$dir/probe-$1" && mkdir "$dir/probe-$1"; }
says() { # says NODE PATTERN CMD...: the command fails and prints PATTERN
	local out rc=0
	out=$("$twinctl" -s "$dir/$1/admin.sock" "${@:3}" 2>&1) || rc=$?
	[ "$rc" != 0 ] && [[ "$out" == *$2* ]] && return 0
	echo "# twinctl ${*:3} on $1: exit $rc: $out" >&2
	return 1
}
break_probe b
check "takeover on B with failing storage is refused, with the reason" \
	says b "refused: this node cannot back the partner up: open of $dir/probe-b/probe-node2: Not a directory" takeover
check "handover on A is refused by B, with B's reason" says a "refused: the partner refused: " handover
check "A still serves, B stands by" wait_roles ACTIVE STANDBY
check "the client still writes and reads through A" roundtrip refused
mend_probe b
# Under load: a checking libnfs workload runs through a handover and a giveback.
pairload=${TWINFS_PAIRLOAD:-$(dirname "$twinfsd")/../tests/integration/pairload}
load_pid=
if [ -x "$pairload" ]; then
	ip netns exec "$nsc" "$pairload" -u "$URL$Q" -c 4 -t 60 -s "$dir/stop" -R "$dir/ready1" >"$dir/load.out" 2>"$dir/load.err" &
	load_pid=$!
	load_ready "$dir/ready1"
	check "handover under load is accepted" ctl a handover
	check "B serves under load" wait_roles HELD_DOWN ACTIVE
	sleep 2
	check "giveback under load is accepted" ctl b giveback
	check "A serves again under load" wait_roles ACTIVE STANDBY
	sleep 2
	touch "$dir/stop"
	load_ok() { wait "$load_pid"; }
	check "the load saw no error and lost nothing across handover and giveback" load_ok
	echo "# $(cat "$dir/load.out") (max_ms: the longest a request waited)"
	[ -s "$dir/load.err" ] && sed 's/^/# /' "$dir/load.err" | head -20
else
	check "pairload is built (TWINFS_PAIRLOAD)" false
fi

# A REMOVE that A executes but whose reply is lost on the way (a fault point),
# then a handover: the client's retransmission, same XID, reaches B, which
# answers from its mirror of A's request table: NFS3_OK, not NOENT (claim 16).
fhtool=${TWINFS_FHTOOL:-$(dirname "$twinfsd")/../tests/integration/fhtool}
fh() { ip netns exec "$nsc" timeout 30 "$fhtool" -H "$VIP" -p 2049 -m 20048 "$@"; }
XID=0x7e570001
lost_remove() {
	local root out rc=0
	roundtrip lost || return 1
	root=$(fh mnt /share) || return 1
	echo "$root" >"$dir/root.fh"
	ctl a inject drop-replies 1 || return 1
	out=$(fh -t 1500 remove "$root" lost $XID) || rc=$?
	[ "$rc" = 3 ] && [ ! -e "$dir/share/lost" ] && return 0
	echo "# REMOVE: exit $rc, $out; file $(ls "$dir/share/lost" 2>&1)" >&2
	return 1
}
check "A executes a REMOVE and its reply is lost" lost_remove
# A keeps objects it served open between calls. Its partner removes one while A
# does not serve: A must not hold it open then (its blocks would stay allocated
# on the shared storage), and serving again must answer its handle STALE, not
# read the removed file.
kept_by_a() {
	roundtrip gone || return 1
	fh lookup /share gone >"$dir/gone.fh" || return 1
	fh read "$(cat "$dir/gone.fh")" | cmp -s - "$dir/gone.src"
}
check "A reads a file by its handle" kept_by_a
check "handover from A is accepted" ctl a handover
# A released, then B's STAY_DOWN holds it down until a giveback (claims 2, 17).
check "B serves, A released and held down" wait_roles HELD_DOWN ACTIVE
replayed() { local out; out=$(fh remove "$(cat "$dir/root.fh")" "${3:-lost}" "$1" 2>&1); [ "$out" = "$2" ] || { echo "# REMOVE xid $1: $out, want $2" >&2; return 1; }; }
check "the retransmitted REMOVE gets NFS3_OK from B's mirror" replayed $XID "nfsstat3 0"
check "a new REMOVE of that name gets NOENT from B" replayed 0x7e570002 "nfsstat3 2"
check "B removes the file A read" replayed 0x7e570003 "nfsstat3 0" gone
holds_none() { ! ls -l "/proc/$pida/fd" 2>/dev/null | grep -F "$dir/share/gone" >&2; }
check "A, held down, holds nothing B removed open" holds_none
check "service address on B only" only_on "$nsb" "$nsa"
check "client reads the file written before, through B" readback one
check "client writes and reads through B" roundtrip two
refused() { ! ctl "$@" 2>/dev/null; }
check "a takeover on B, which serves, is refused" refused b takeover
check "a handover on A, which is held down, is refused" refused a handover
# A node that does not serve resets a call's connection at once, so that the
# client reconnects and resends it to the node that serves; a call left
# unanswered on a connection that stays would wait for the client's timeout.
resets_at_once() {
	local t0 err ms
	t0=$(date +%s%N)
	err=$(fh -H 192.0.2.11 -t 3000 getattr "$(cat "$dir/root.fh")" 2>&1 >/dev/null) && return 1
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$ms" -lt 1500 ] && return 0
	echo "# GETATTR to held-down A: $err after $ms ms" >&2
	return 1
}
check "held-down A resets a call's connection instead of leaving it unanswered" resets_at_once
check "giveback from B is accepted" ctl b giveback
check "A serves again, B stands by" wait_roles ACTIVE STANDBY
check "service address on A only again" only_on "$nsa" "$nsb"
check "client reads the first file through A" readback one
check "client reads the second file through A" readback two
stale() {
	local err bytes
	err=$(fh read "$(cat "$dir/gone.fh")" 2>&1 >"$dir/gone.read") && return 1
	bytes=$(stat -c %s "$dir/gone.read")
	[[ "$err" == *"nfsstat3 70"* ]] && [ "$bytes" = 0 ] && return 0
	echo "# READ: $err, after $bytes bytes of the removed file" >&2
	return 1
}
check "A, serving again, answers the removed file's handle STALE" stale
# Scenario 2: the operator takes over on B under load, then gives back.
if [ -x "$pairload" ]; then
	rm -f "$dir/stop"
	ip netns exec "$nsc" "$pairload" -u "$URL$Q" -c 4 -t 60 -s "$dir/stop" -i 200 -R "$dir/ready2" >"$dir/load2.out" 2>"$dir/load2.err" &
	load_pid=$!
	load_ready "$dir/ready2"
	check "takeover on B under load is accepted" ctl b takeover
	check "B serves under load after the takeover" wait_roles HELD_DOWN ACTIVE
	sleep 1
	check "giveback from B under load is accepted" ctl b giveback
	check "A serves again under load after the giveback" wait_roles ACTIVE STANDBY
	sleep 1
	touch "$dir/stop"
	check "the load saw no error and lost nothing across takeover and giveback" load_ok
	echo "# $(cat "$dir/load2.out") (operator takeover on B, then giveback)"
	[ -s "$dir/load2.err" ] && sed 's/^/# /' "$dir/load2.err" | head -20
fi
check "takeover from the standby (B) is accepted" ctl b takeover
check "B serves, A released and held down (operator on B)" wait_roles HELD_DOWN ACTIVE
check "client writes and reads through B after the takeover" roundtrip three

# A restarted node that was taken over stays down: it hears STAY_DOWN before it may
# serve (claims 2, 12, 17).
kill -TERM "$pida"
wait "$pida" || true
pair_start a
check "restarted A is held down while B serves" wait_roles HELD_DOWN ACTIVE
check "service address still on B only" only_on "$nsb" "$nsa"
check "client reads through B after A's restart" readback three

# A fault on the serving node: it reports FAULT(type) and asks the partner to take
# over, which drains and releases it the careful way (claims 8, 9, 14, 20).
check "giveback to the restarted A" ctl b giveback
check "A serves after the giveback" wait_roles ACTIVE STANDBY
# A's storage fails its health probe under load: A reports FAULT(storage) with
# the probe's sentence and B takes over; the client sees no error.
if [ -x "$pairload" ]; then
	rm -f "$dir/stop"
	ip netns exec "$nsc" "$pairload" -u "$URL$Q" -c 4 -t 60 -s "$dir/stop" -i 100 -R "$dir/ready3" >"$dir/load3.out" 2>"$dir/load3.err" &
	load_pid=$!
	load_ready "$dir/ready3"
fi
break_probe a
check "B takes over after A's storage probe fails" wait_roles HELD_DOWN ACTIVE
if [ -n "$load_pid" ]; then
	sleep 1
	touch "$dir/stop"
	check "the load saw no error and lost nothing across the fault takeover" load_ok
	echo "# $(cat "$dir/load3.out") (storage fault on A, B takes over)"
	[ -s "$dir/load3.err" ] && sed 's/^/# /' "$dir/load3.err" | head -20
fi
check "B logged A's fault and its reason" grep -qi "partner reports a fault: storage: open of .*probe-node1" "$dir/b.log"
mend_probe a
check "client writes and reads through B after the fault" roundtrip four
# Unplanned: the serving node is killed with -9. After the dead time its partner
# fences it (fence_command) and takes over without negotiation (claim 3), with a
# new write verifier.
check "giveback to A before the kill" ctl b giveback
check "A serves, B stands by, before the kill" wait_roles ACTIVE STANDBY
t0=$(date +%s%N)
kill -KILL "$pida"
wait "$pida" 2>/dev/null || true
b_active() {
	for _ in $(seq 200); do
		[ "$(role b)" = ACTIVE ] && return 0
		sleep 0.05
	done
	return 1
}
check "B takes over after A is killed" b_active
echo "# B serving $((($(date +%s%N) - t0) / 1000000)) ms after kill -9 of A (dead_ms 1000)"
check "service address on B only after the fence" only_on "$nsb" "$nsa"
check "B logged a new write verifier" grep -q "new write verifier" "$dir/b.log"
check "client reads through B after A was killed" readback three
check "client writes and reads through B after A was killed" roundtrip five
pair_start a
check "A restarted after the kill is held down" wait_roles HELD_DOWN ACTIVE

# The peer link rejects forged and replayed messages (scenario 7), against A's
# listener (A holds nothing now; node 1 connects out, so nothing but the tool
# competes for A's link while it runs). From the client's address: refused.
# From B's address with another key: the forged HELLO is rejected and A's link
# to B stays. With the key: the handshake passes, a replayed HEARTBEAT is
# dropped and the link kept; then A reconnects to B.
peertool=${TWINFS_PEERTOOL:-$(dirname "$twinfsd")/../tests/integration/peertool}
downs_before=$(grep -c "peer link down" "$dir/a.log" || true)
check "a peer-link connection from the client's address is refused" \
	ip netns exec "$nsc" "$peertool" forge 192.0.2.11 7049 2
check "A logged the refusal" grep -q "refused a peer-link connection from 192.0.2.2" "$dir/a.log"
check "a HELLO forged with another key is rejected" ip netns exec "$nsb" "$peertool" forge 192.0.2.11 7049 2
check "A logged the rejected HELLO" grep -q "rejected a new peer-link connection" "$dir/a.log"
check "A's link to B survived the forgeries" test "$(grep -c "peer link down" "$dir/a.log" || true)" = "$downs_before"
check "a replayed HEARTBEAT is dropped and the link kept" \
	ip netns exec "$nsb" "$peertool" replay "$dir/peer.key" 192.0.2.11 7049 2
check "A logged the replay" grep -q "dropped a frame from the partner: .*sequence" "$dir/a.log"
check "A and B are linked again, roles unchanged" wait_roles HELD_DOWN ACTIVE

pair_end
