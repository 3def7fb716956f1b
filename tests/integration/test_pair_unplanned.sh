#!/usr/bin/env bash
# test_pair_unplanned.sh TWINFSD — unplanned failover without split brain (claim
# 3; DESIGN.md "Unplanned"): the pair test bed (pairlib.sh: three namespaces,
# shared storage, the storage lease) with a peer link of its own, and
#   1. kill -9 of the serving node under the checking libnfs load: 0 errors,
#      nothing lost, the stall printed;
#   2. the peer link cut: the second link's heartbeats keep the partner alive;
#      both links cut while both nodes keep the storage: sampled every
#      100 ms from the client, never do both nodes answer on their own
#      addresses; the lease holder keeps serving, the other waits;
#   3a. the serving node's lease renewals stall while it stays up: it stops
#      serving and its partner claims the expired lease;
#   3. the serving node SIGSTOPped for 3 x the lease, then SIGCONT: its partner
#      took over, and it answers nothing after it resumes;
#   3b. the serving node loses its lease while it releases for a giveback: its
#      partner claims the expired lease at once;
#   4. both nodes killed and restarted: the lease's last holder serves again.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PAIR_NAME=unplanned
PAIR_PEERLINK=1
PAIR_RELEASE_HOOK=1
# shellcheck source=tests/integration/pairlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/pairlib.sh"
URL="nfs://$VIP/share"
Q='?version=3&nfsport=2049&mountport=20048'
LEASE_MS=1000
pairload=${TWINFS_PAIRLOAD:-$(dirname "$twinfsd")/../tests/integration/pairload}
fhtool=${TWINFS_FHTOOL:-$(dirname "$twinfsd")/../tests/integration/fhtool}
fh() { ip netns exec "$nsc" timeout 30 "$fhtool" -p 2049 -m 20048 "$@"; }
load_start() { # load_start FIRST_ID: returns once every client has mounted
	rm -f "$dir/stop" "$dir/ready"
	ip netns exec "$nsc" "$pairload" -u "$URL$Q" -c 4 -t 120 -s "$dir/stop" -i "$1" \
		-R "$dir/ready" >"$dir/load.out" 2>"$dir/load.err" &
	load_pid=$!
	load_ready "$dir/ready"
}
load_ok() { touch "$dir/stop"; wait "$load_pid"; }
answers() { fh -H "$1" -t 300 getattr "$root" >/dev/null 2>&1; } # a GETATTR on that address

check "A serves, B stands by" wait_roles ACTIVE STANDBY
root=$(fh -H "$VIP" mnt /share)
check "the client mounts through the service address" test -n "$root"

# 1. kill -9 under load.
load_start 0
sleep 2
t0=$(date +%s%N)
kill -KILL "$pida"
wait "$pida" 2>/dev/null || true
b_active() { for _ in $(seq 100); do [ "$(role b)" = ACTIVE ] && return 0; sleep 0.05; done; return 1; }
check "B takes over after kill -9 of A" b_active
echo "# B serving $((($(date +%s%N) - t0) / 1000000)) ms after kill -9 of A (dead_ms 1000, lease_ms $LEASE_MS)"
check "B seized the expired lease" grep -q "storage lease seized" "$dir/b.log"
sleep 2
check "the load saw no error and lost nothing across kill -9" load_ok
echo "# $(cat "$dir/load.out") (kill -9 of the serving node)"
[ -s "$dir/load.err" ] && sed 's/^/# /' "$dir/load.err" | head -20
pair_start a
check "A restarted after the kill is held down" wait_roles HELD_DOWN ACTIVE
check "giveback to A" ctl b giveback
check "A serves again" wait_roles ACTIVE STANDBY

# 1b. A dies right after executing a REMOVE, before its reply is mirrored; the
# client retransmits to B after the takeover. B knew the call was in flight on A
# (its intent was mirrored before it ran), so the NOENT its re-execution meets
# is the call's own effect: NFS3_OK. A new REMOVE of the name is still NOENT.
roundtrip_file() { head -c 1000 /dev/urandom >"$dir/$1.src"; ip netns exec "$nsc" timeout 60 nfs-cp "$dir/$1.src" "$URL/$1$Q" >/dev/null; }
check "the client writes a file through A" roundtrip_file doomed
check "A is told to die after its next non-idempotent call" ctl a inject crash-after-execute
out=$(fh -H "$VIP" -t 1500 remove "$root" doomed 0x7e57d1e0 2>&1) && rc=0 || rc=$?
died() { [ "$rc" != 0 ] && [[ "$out" != nfsstat3* ]] && [ ! -e "$dir/share/doomed" ] && ! tw_alive "$pida"; }
check "A ran the REMOVE and died without answering" died
wait "$pida" 2>/dev/null || true
check "B takes over from the crashed A" b_active
replayed() { local o; o=$(fh -H "$VIP" remove "$root" doomed "$1" 2>&1); [ "$o" = "$2" ] || { echo "# REMOVE xid $1: $o, want $2" >&2; return 1; }; }
check "the retransmitted REMOVE gets NFS3_OK from B" replayed 0x7e57d1e0 "nfsstat3 0"
check "a new REMOVE of that name gets NOENT from B" replayed 0x7e57d1e1 "nfsstat3 2"
pair_start a
check "A restarted after the crash is held down" wait_roles HELD_DOWN ACTIVE
check "giveback to A after the crash" ctl b giveback
check "A serves again after the crash" wait_roles ACTIVE STANDBY

# 2a. The peer link cut, the second link up: its heartbeats keep the partner
# alive, nothing moves.
silent_before=$(grep -c "no word from the partner" "$dir/b.log" || true)
ip -n "$nsa" link set "pla-$id" down
sleep 2
check "with the peer link cut, the second link's heartbeats keep B a standby" wait_roles ACTIVE STANDBY
check "B did not take A for dead" test "$(grep -c "no word from the partner" "$dir/b.log" || true)" = "$silent_before"
check "B counts heartbeats on the second link" sh -c "'$twinctl' -s '$dir/b/admin.sock' pair | grep -q '^heartbeats_link2 [1-9]'"

# 2. Both links cut, storage shared: the lease keeps one server.
ip -n "$nsa" link set "l2a-$id" down
both=0 a_ok=0 b_ok=0 samples=0
for _ in $(seq 40); do # 40 x ~100 ms + the probes: more than 3 x the lease
	ra=0 rb=0
	answers 192.0.2.11 && ra=1
	answers 192.0.2.12 && rb=1
	samples=$((samples + 1)) a_ok=$((a_ok + ra)) b_ok=$((b_ok + rb))
	[ $ra = 1 ] && [ $rb = 1 ] && both=$((both + 1))
	sleep 0.1
done
echo "# link cut: $samples samples, A answered $a_ok, B answered $b_ok, both $both"
check "with the peer link cut, never both nodes answer" test "$both" = 0
check "with the peer link cut, the lease holder A keeps serving" test "$a_ok" = "$samples"
check "B logged that it waits for A's lease" grep -q "no word from the partner" "$dir/b.log"
# (a link that went down lost its /32 routes: put them back)
ip -n "$nsa" link set "pla-$id" up
ip -n "$nsa" link set "l2a-$id" up
ip -n "$nsa" route replace 192.0.2.62/32 dev "pla-$id"
ip -n "$nsb" route replace 192.0.2.61/32 dev "plb-$id"
ip -n "$nsa" route replace 192.0.2.72/32 dev "l2a-$id"
ip -n "$nsb" route replace 192.0.2.71/32 dev "l2b-$id"
check "the links back: A serves, B stands by" wait_roles ACTIVE STANDBY

# 3a. A cannot renew its lease (its storage hangs) but stays up and talks on the
# peer link: it stops serving before the lease runs out, and B claims the
# expired lease (nothing else would move the service).
check "A's lease renewals stop (twinctl fault lease)" ctl a fault lease
check "B takes over after A lost its lease" wait_roles HELD_DOWN ACTIVE
check "A said why it stopped" grep -q "not renewed in time" "$dir/a.log"
check "B serves the client after A lost its lease" answers "$VIP"
check "giveback to A after its lease loss" ctl b giveback
check "A serves again after its lease loss" wait_roles ACTIVE STANDBY

# 3. A frozen (SIGSTOP) for 3 x the lease: B takes over; A, resumed, answers nothing.
kill -STOP "$pida"
check "B takes over from the frozen A" b_active
sleep $((3 * LEASE_MS / 1000))
kill -CONT "$pida"
never_a() { for _ in $(seq 20); do answers 192.0.2.11 && return 1; sleep 0.1; done; return 0; }
check "A, resumed, answers nothing" never_a
check "A stands down after it resumed" wait_roles HELD_DOWN ACTIVE
check "A logged that it lost the lease" grep -Eq "not renewed in time|partner holds the storage lease" "$dir/a.log"
check "B serves the client" answers "$VIP"

# 3b. B loses its lease while it releases for a giveback to A (its release hook
# takes 3 s; its renewals stall meanwhile): it stops and says FAULT, not RELEASED.
# A, waiting for RELEASED, claims the expired lease; before, it waited out its
# release timeout (30 s) and then stood by, and neither node served.
touch "$dir/slow-release-b"
"$twinctl" -s "$dir/b/admin.sock" giveback >/dev/null 2>&1 &
gb_pid=$!
releasing() { for _ in $(seq 50); do [ "$(role b)" = RELEASING ] && return 0; sleep 0.1; done; return 1; }
check "B releases for the giveback (its release hook is slow)" releasing
check "B's lease renewals stop while it releases" ctl b fault lease
check "A claims the service when B loses its lease while releasing" wait_roles ACTIVE HELD_DOWN
wait "$gb_pid" 2>/dev/null || true
check "B said why it stopped" grep -q "not renewed in time" "$dir/b.log"
check "A serves the client after B's lease loss" answers "$VIP"
check "giveback from A to B" ctl a giveback
check "B serves again, A stands by" wait_roles STANDBY ACTIVE

# 4. Both nodes killed while B holds the lease, both restarted: B, the lease's
# last holder, takes the service back once the lease has expired; A, although
# preferred, does not (its lease would be taken from under a live B otherwise).
kill -KILL "$pida" "$pidb"
wait "$pida" "$pidb" 2>/dev/null || true
ip netns exec "$nsb" ip addr del "$VIP/24" dev eth0 2>/dev/null || true
pair_start a
pair_start b
check "after both restart, B (the lease's last holder) serves, A stands by" wait_roles STANDBY ACTIVE
check "B serves the client after the double restart" answers "$VIP"

pair_end
