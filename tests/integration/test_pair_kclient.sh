#!/usr/bin/env bash
# test_pair_kclient.sh TWINFSD — the pair issue's scenario 8: the real Linux
# kernel NFS client (shared/tools/kclient: Debian's kernel under qemu) writes
# through the service address while the service moves: a handover from A to B,
# then a giveback to A, then a kill -9 of A (the storage lease fences it; B takes
# over unplanned, issue 5's test 5). Its `writeloop` workload appends a numbered 64-byte
# record and fsyncs it every 100 ms over a hard NFSv3 mount; it must see 0 errors
# and read every acknowledged record back. KC_VERS=4.1 runs the same over NFSv4.1
# (integration.pair_kclient_v41): each move looks like a server reboot to the
# client (a new epoch), which reclaims its open in a grace period read from the
# client records on the shared storage (the lease's directory); the writes must
# go on without an error just the same. The worst write+fsync the guest saw
# (its max_lat_ms) is printed, with each stall next to the host's handover and
# giveback times.
#
# Network: pairlib.sh's bed (nodes A and B, the client namespace, a bridge in a
# "switch" namespace of its own). run.sh NET=tap makes its tap in that switch
# namespace, plugs it into the bridge and runs qemu there: the guest is a host of
# its own, 192.0.2.3 (192.0.2.2 is the client namespace's), mounting
# 192.0.2.100:/share, and sees the nodes' ARP and resets as a real client would.
#
# The Linux client reconnects from the same source port. A releasing node that
# removes the address and then shutdown()s its connections leaves each one as an
# orphan in FIN-WAIT-1 (its FIN has no route any more) for minutes; when the
# address comes back to that node (the giveback), the client's segments meet
# that orphan: duplicate ACKs both ways, no RST, writes stall for ~100 s.
#
# Exit 77 when the kernel client cannot run here (no /dev/net/tun, or qemu or the
# kernel image cannot be installed: tw_kclient_prepare fails). Note that ctest
# counts 77 as a failure unless the test has SKIP_RETURN_CODE 77.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$here/lib.sh"
[ $# -ge 1 ] || { echo "usage: $0 TWINFSD" >&2; exit 2; }

SECS=${KC_SECS:-30}      # the guest's write loop, seconds
VERS=${KC_VERS:-3}       # NFS version of the guest's mount: 3, 4.0, 4.1 or 4.2
RESUME=${KC_RESUME:-20}  # a move must not stall the writes longer than this, s
GUEST=192.0.2.3
skip() { echo "# SKIP: $*"; exit 77; }
[ -c /dev/net/tun ] || skip "no /dev/net/tun for qemu's tap"
command -v ip >/dev/null || skip "no ip(8)"

# The boot files (built or checked in a subshell first, so that a machine without
# qemu or a kernel skips instead of failing), then the shared lock for our run.
tw_mktemp pair_kclient-prep
prep=$TW_TMP
(tw_kclient_prepare "$prep") || skip "kernel client unavailable (qemu, kernel image or busybox; see above)"
tw_kclient_prepare "$prep"
kc=$TW_KC

PAIR_NAME=pair_kclient${VERS//./}
# shellcheck source=tests/integration/pairlib.sh
source "$here/pairlib.sh"

# The guest (run.sh, its console pipe, and `timeout` with qemu, which timeout
# puts in a process group of its own) runs in a session of its own (setsid):
# stop_guest signals every process of that session, by PID, before pairlib
# removes the namespaces. (A qemu left running would also hold the kclient
# cache's lock and stall the next run for its whole TIMEOUT.)
run_pid=
in_session() { ps -o pid=,stat= -s "$1" 2>/dev/null | awk '$2 !~ /^Z/ { printf "%s ", $1 }'; }
stop_guest() {
	local sig pids i
	[ -n "$run_pid" ] || return 0
	for sig in TERM KILL; do
		pids=$(in_session "$run_pid")
		[ -n "${pids// /}" ] || break
		# shellcheck disable=SC2086 # a list of PIDs
		kill -"$sig" $pids 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			[ -n "$(in_session "$run_pid" | tr -d ' ')" ] || break
			sleep 0.1
		done
	done
	wait "$run_pid" 2>/dev/null || true
	run_pid=
}
# shellcheck disable=SC2317 # run from the EXIT trap
cleanup_kclient() {
	stop_guest
	cleanup_pair
}
trap cleanup_kclient EXIT

now() { printf '%s' "${EPOCHREALTIME:0:14}"; } # epoch seconds, ms
t0=$(now)
since() { awk -v a="$1" -v b="$t0" 'BEGIN { printf "%.1f", a - b }'; }
console=$dir/console.log
: >"$console"

check "A (preferred) serves, B stands by" wait_roles ACTIVE STANDBY
check "service address on A only" only_on "$nsa" "$nsb"

setsid env KCLIENT_OUT="$kc/out" "$kc/run.sh" NET=tap NETNS="$nss" TAP_BRIDGE="$br" \
	GUEST_ADDR="$GUEST/24" SERVER_ADDR="$VIP" SERVER_PORT=2049 MOUNT_PORT=20048 \
	VERS="$VERS" EXPORT=/share WORKLOAD=writeloop SECS="$SECS" IVAL_MS=100 STALL_MS=1000 \
	TIMEOUT=$((SECS + 90)) QUIET=1 LOG="$console" </dev/null >"$dir/run.out" 2>&1 &
run_pid=$!

# Progress, as the server's disk sees it: records in the guest's loop file.
records() {
	local f
	f=$(find "$dir/share" -name loop.dat 2>/dev/null | head -n 1)
	[ -n "$f" ] || { echo 0; return; }
	echo $(($(stat -c %s "$f") / 64))
}
# wait_records N LIMIT_S: until the file holds N records; fails if the guest
# finished or LIMIT_S passed first.
wait_records() {
	local want=$1 end=$((SECONDS + $2))
	while [ "$(records)" -lt "$want" ]; do
		if ! tw_alive "$run_pid" || [ $SECONDS -ge $end ]; then
			echo "# $(records) records, wanted $want (guest running: $(tw_alive "$run_pid" && echo yes || echo no))" >&2
			return 1
		fi
		sleep 0.1
	done
}
started() {
	local end=$((SECONDS + 90))
	until grep -q KC-LOOP-START "$console"; do
		tw_alive "$run_pid" && [ $SECONDS -lt $end ] || return 1
		sleep 0.2
	done
}
check "the guest booted, mounted $VIP:/share and started its write loop" started
t_loop=$(now)
check "the loop writes through A (30 records)" wait_records 30 30

n_before=$(records)
t_handover=$(now)
check "handover from A is accepted while the guest writes" ctl a handover
check "B serves, A released and held down" wait_roles HELD_DOWN ACTIVE
t_b=$(now)
check "service address on B only" only_on "$nsb" "$nsa"
t_b_ok="none within ${RESUME} s"
f0=$fail
check "the guest's writes go on through B (30 more records)" wait_records $((n_before + 30)) "$RESUME"
[ "$fail" != "$f0" ] || t_b_ok=$(since "$(now)")

n_before=$(records)
t_giveback=$(now)
check "giveback from B is accepted while the guest writes" ctl b giveback
check "A serves again, B stands by" wait_roles ACTIVE STANDBY
t_a=$(now)
check "service address on A only again" only_on "$nsa" "$nsb"
t_a_ok="none within ${RESUME} s"
f0=$fail
check "the guest's writes go on through A (30 more records)" wait_records $((n_before + 30)) "$RESUME"
[ "$fail" != "$f0" ] || t_a_ok=$(since "$(now)")

# The loop ends on its own after SECS (run.sh has its own TIMEOUT as well); after
# a failed check above the guest may hang on a stall: a little grace, then stop it.
# kill -9 of the serving node A (unplanned, issue 5): B fences it, sees its lease
# expire, takes over with a new write verifier; the guest resends what it had
# not committed and goes on.
n_before=$(records)
t_kill=$(now)
kill -KILL "$pida"
wait "$pida" 2>/dev/null || true
b_active() { for _ in $(seq 100); do [ "$(role b)" = ACTIVE ] && return 0; sleep 0.05; done; return 1; }
check "B takes over after kill -9 of A while the guest writes" b_active
t_k=$(now)
t_k_ok="none within ${RESUME} s"
f0=$fail
check "the guest's writes go on through B after the kill (30 more records)" wait_records $((n_before + 30)) "$RESUME"
[ "$fail" != "$f0" ] || t_k_ok=$(since "$(now)")
pair_start a
check "A restarted after the kill is held down" wait_roles HELD_DOWN ACTIVE

guest_done() {
	local end=$((SECONDS + SECS + 30)) rc=0
	[ "$fail" = 0 ] || end=$((SECONDS + 5))
	while tw_alive "$run_pid" && [ $SECONDS -lt $end ]; do sleep 0.2; done
	if tw_alive "$run_pid"; then
		echo "# the guest still runs after its time: stopped" >&2
		stop_guest
		return 1
	fi
	wait "$run_pid" || rc=$?
	run_pid=
	[ $rc = 0 ] || { echo "# run.sh exited $rc: $(tail -n 1 "$dir/run.out")" >&2; return 1; }
}
check "the guest finished with KC-RESULT: PASS" guest_done
summary=$(grep -o 'KC-LOOP-SUMMARY.*' "$console" | tail -n 1 || true)
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$summary"; }
no_errors() { [ -n "$summary" ] && [ "$(field errors)" = 0 ] && [ "$(field readback_bad)" = 0 ] && [ "$(field result)" = PASS ]; }
check "the write loop saw 0 errors and read back every acknowledged record" no_errors
no_err_lines() { ! grep -E 'KC-LOOP-(ERR|BAD)' "$console" >&2; }
check "no KC-LOOP-ERR or KC-LOOP-BAD line" no_err_lines

# What the guest saw, on the host's clock (seconds since the pair was up).
echo "# host: loop started $(since "$t_loop"), handover $(since "$t_handover") -> B serving $(since "$t_b") -> guest's writes through B by $t_b_ok; giveback $(since "$t_giveback") -> A serving $(since "$t_a") -> writes through A by $t_a_ok; kill -9 of A $(since "$t_kill") -> B serving $(since "$t_k") -> writes through B by $t_k_ok"
# A stall line is printed when the write+fsync ends: its host time minus lat_ms
# is when it began (the guest's own clock may drift under emulation).
awk -v t0="$t0" '/KC-LOOP-STALL/ { for (i = 1; i <= NF; i++) if ($i ~ /^lat_ms=/) lat = substr($i, 8) / 1000
	printf "# guest stall: %s from %.1f to %.1f: %.1f s\n", $4, $1 - lat - t0, $1 - t0, lat }' "$console"
grep 'nfs: server' "$console" | sed 's/^[0-9.]* +[0-9.]* /# guest kernel: /' || true
echo "# ${summary:-no KC-LOOP-SUMMARY line} (max_lat_ms: the worst write+fsync the guest saw)"
grep -o 'run.sh: qemu start.*' "$dir/run.out" | sed 's/^/# /' || true

echo "# total $(since "$(now)") s after the pair was up"
pair_end "$console"
