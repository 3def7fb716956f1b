#!/usr/bin/env bash
# soak_pair.sh TWINFSD [CYCLES] — the unplanned-failover soak (issue: 100
# consecutive kill -9 / restart / giveback cycles under load). Outside the
# default suite: run it with `ctest -R soak` after configuring with
# -DTWINFS_SOAK=ON, or directly (as root):
#     tests/integration/soak_pair.sh build/server/twinfsd 100
# Each cycle kills the serving node with -9 while the checking libnfs load runs,
# waits for the partner to serve, restarts the killed node (held down), gives the
# service back and waits for it to serve again. The load runs through all cycles
# and checks every result and, at the end, every file. Prints the distribution
# of the takeover times (kill -9 -> partner ACTIVE) and of the client's stalls
# (pairload's per-cycle worst request), and exits non-zero on any error.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CYCLES=${2:-${TWINFS_SOAK_CYCLES:-100}}
PAIR_NAME=soak
# shellcheck source=tests/integration/pairlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/pairlib.sh"
URL="nfs://$VIP/share"
Q='?version=3&nfsport=2049&mountport=20048'
pairload=${TWINFS_PAIRLOAD:-$(dirname "$twinfsd")/../tests/integration/pairload}
active() { for _ in $(seq 200); do [ "$(role "$1")" = ACTIVE ] && return 0; sleep 0.02; done; return 1; }
pct() { sort -n "$1" | awk -v p="$2" '{a[NR]=$1} END {i=int((NR*p+99)/100); if (i<1) i=1; printf "%d", a[i]}'; }

check "A serves, B stands by" wait_roles ACTIVE STANDBY
# Long enough for every cycle; the stop file ends it.
ip netns exec "$nsc" "$pairload" -u "$URL$Q" -c 4 -t 600 -s "$dir/stop" -S "$dir/stalls" -R "$dir/ready" >"$dir/load.out" 2>"$dir/load.err" &
load_pid=$!
load_ready "$dir/ready"
: >"$dir/takeover_ms"
: >"$dir/stalls"
: >"$dir/marks" # "MS kill|giveback": where each phase starts (CLOCK_REALTIME)
mark() { echo "$(($(date +%s%N) / 1000000)) $1" >>"$dir/marks"; }
bad=0
for c in $(seq "$CYCLES"); do
	# the serving node alternates: A serves at each cycle's start (giveback)
	t0=$(date +%s%N)
	mark kill
	kill -KILL "$pida"
	wait "$pida" 2>/dev/null || true
	if ! active b; then echo "# cycle $c: B did not take over" >&2; bad=$((bad + 1)); break; fi
	echo $((($(date +%s%N) - t0) / 1000000)) >>"$dir/takeover_ms"
	pair_start a
	if ! wait_roles HELD_DOWN ACTIVE >/dev/null 2>&1; then echo "# cycle $c: A not held down" >&2; bad=$((bad + 1)); break; fi
	mark giveback
	if ! "$twinctl" -s "$dir/b/admin.sock" giveback >/dev/null; then echo "# cycle $c: giveback failed" >&2; bad=$((bad + 1)); break; fi
	if ! wait_roles ACTIVE STANDBY >/dev/null 2>&1; then echo "# cycle $c: A not back" >&2; bad=$((bad + 1)); break; fi
	sleep 1.5 # the clients reconnect and make progress before the next kill
	[ $((c % 10)) = 0 ] && echo "# $c cycles done"
done
touch "$dir/stop"
load_rc=0
wait "$load_pid" || load_rc=$?
n=$(wc -l <"$dir/takeover_ms")
echo "# cycles: $n of $CYCLES"
echo "# takeover (kill -9 -> partner ACTIVE), ms: p50 $(pct "$dir/takeover_ms" 50) p99 $(pct "$dir/takeover_ms" 99) max $(pct "$dir/takeover_ms" 100)"
# The client's worst stall per phase: an operation over 100 ms counts for the
# first mark (kill or giveback) it spans, else for the last one before it began.
awk 'NR == FNR { t[NR] = $1; k[NR] = $2; n = NR; next }
	{ s = $1 - $2; p = 0
	  for (i = 1; i <= n; i++) if (t[i] >= s && t[i] <= $1) { p = i; break }
	  if (!p) for (i = n; i >= 1; i--) if (t[i] < s) { p = i; break }
	  if (p && $2 > m[p]) m[p] = $2 }
	END { for (i = 1; i <= n; i++) print k[i], m[i] + 0 }' "$dir/marks" "$dir/stalls" >"$dir/phase_stall"
for ph in kill giveback; do
	awk -v p="$ph" '$1 == p { print $2 }' "$dir/phase_stall" >"$dir/stall_$ph"
	echo "# client stall after $ph, ms: p50 $(pct "$dir/stall_$ph" 50) p99 $(pct "$dir/stall_$ph" 99) max $(pct "$dir/stall_$ph" 100) ($(wc -l <"$dir/stall_$ph") cycles)"
done
echo "# $(cat "$dir/load.out") (the whole soak: max_ms is the worst single request)"
[ -s "$dir/load.err" ] && sed 's/^/# /' "$dir/load.err" | head -20
check "every cycle completed" test "$bad" = 0 -a "$n" = "$CYCLES"
check "the load saw no error and lost nothing over the soak" test "$load_rc" = 0
if [ "$fail" != 0 ]; then tw_show_log "$dir/a.log" 40; tw_show_log "$dir/b.log" 40; fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
