#!/usr/bin/env bash
# failover.sh [RUNS] — the client-observed stall of a failover, NFSv3: a pair in
# network namespaces (tests/integration/pairlib.sh, storage lease on), 4 checking
# libnfs clients (tests/integration/pairload) running throughout, and RUNS (10)
# of each: handover (twinctl handover on the serving node), takeover (twinctl
# takeover on the standby) and kill -9 of the serving node (restarted and given
# back after each). The stall of an event is the longest any client request
# waited while it happened: operations over STALL_MS (default 20) are logged, so
# an event no request waited longer for counts as 0. Prints each event and p50/max per kind; exits
# non-zero if the load saw an error or lost a file. Needs root; removes what it
# made. Build first (scripts/build.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${1:-10}
source "$root/tests/integration/lib.sh"
PAIR_NAME=failover-bench
source "$root/tests/integration/pairlib.sh" "$root/build/server/twinfsd"
pairload=$root/build/tests/integration/pairload
[ -x "$pairload" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
URL="nfs://$VIP/share?version=3&nfsport=2049&mountport=20048"
ms() { echo $(($(date +%s%N) / 1000000)); }
mark() { echo "$(ms) $1" >>"$dir/marks"; }
settle() { wait_roles "$@" >/dev/null; sleep 1.5; } # clients reconnect before the next event

wait_roles ACTIVE STANDBY >/dev/null
: >"$dir/marks"
: >"$dir/stalls"
ip netns exec "$nsc" "$pairload" -u "$URL" -c 4 -t 600 -s "$dir/stop" -S "$dir/stalls" -T "${STALL_MS:-20}" \
	-R "$dir/ready" >"$dir/load.out" 2>"$dir/load.err" &
load_pid=$!
load_ready "$dir/ready"
sleep 1
for _ in $(seq "$RUNS"); do
	# handover: A serves, hands over to B; B gives back (not measured)
	mark handover
	ctl a handover
	settle HELD_DOWN ACTIVE
	mark giveback
	ctl b giveback
	settle ACTIVE STANDBY
	# takeover: the operator on the standby B; then back
	mark takeover
	ctl b takeover
	settle HELD_DOWN ACTIVE
	mark giveback
	ctl b giveback
	settle ACTIVE STANDBY
	# kill -9 of A; B takes over; A restarted, held down, given back
	mark kill
	kill -KILL "$pida"
	wait "$pida" 2>/dev/null || true
	for _ in $(seq 200); do [ "$(role b)" = ACTIVE ] && break; sleep 0.02; done
	pair_start a
	wait_roles HELD_DOWN ACTIVE >/dev/null
	sleep 1.5
	mark giveback
	ctl b giveback
	settle ACTIVE STANDBY
done
touch "$dir/stop"
rc=0
wait "$load_pid" || rc=$?
# An operation over 100 ms counts for the first event it spans, else for the
# last one before it began (as in tests/integration/soak_pair.sh).
awk 'NR == FNR { t[NR] = $1; k[NR] = $2; n = NR; next }
	{ s = $1 - $2; p = 0
	  for (i = 1; i <= n; i++) if (t[i] >= s && t[i] <= $1) { p = i; break }
	  if (!p) for (i = n; i >= 1; i--) if (t[i] < s) { p = i; break }
	  if (p && $2 > m[p]) m[p] = $2 }
	END { for (i = 1; i <= n; i++) print k[i], m[i] + 0 }' "$dir/marks" "$dir/stalls" >"$dir/events"
echo "# failover stall, NFSv3, 4 libnfs clients, $RUNS runs each ($(nproc) cores, $(date -u +%F)); 0 = no request waited over ${STALL_MS:-20} ms"
printf '# %-10s %8s %8s %8s\n' event p50_ms max_ms runs
for k in handover takeover kill giveback; do
	awk -v k="$k" '$1 == k { print $2 }' "$dir/events" | sort -n >"$dir/ev_$k"
	n=$(wc -l <"$dir/ev_$k")
	[ "$n" -gt 0 ] || continue
	p50=$(awk -v n="$n" 'NR == int((n + 1) / 2)' "$dir/ev_$k")
	printf '# %-10s %8s %8s %8s\n' "$k" "$p50" "$(tail -n 1 "$dir/ev_$k")" "$n"
done
echo "# $(cat "$dir/load.out")"
[ -s "$dir/load.err" ] && sed 's/^/# /' "$dir/load.err" | head -10
exit "$rc"
