#!/usr/bin/env bash
# drc_onoff.sh [ROUNDS] — twinfsd's throughput with the request table (duplicate
# request cache) on and off, NFSv3, 8 libnfs clients, alternating on/off each
# round so machine noise hits both alike. Prints one line per run and the medians.
#
# Uses ../shared/tools/nfsload (built into a temp dir) as the load generator and
# the twinfsd from build/. Loopback only; stops by itself; removes what it made.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${1:-3}
secs=${SECS:-5}
twinfsd=$root/build/server/twinfsd
shared=${TWINFS_SHARED:-$root/../shared}
[ -x "$twinfsd" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
work=$(mktemp -d /tmp/twinfs-drcbench.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
cp -r "$shared/tools/nfsload" "$work/nfsload"
make -s -C "$work/nfsload" >/dev/null

run() { # run on|off
	local drc=$1 port=$((30000 + RANDOM % 20000))
	rm -rf "$work/export" "$work/state" && mkdir -p "$work/export" "$work/state"
	cat >"$work/twinfs.conf" <<CONF
server {
	bind = 127.0.0.1
	nfs_port = $port
	mount_port = $((port + 1))
	state_dir = $work/state
	rpcbind = false
	log_level = warn
	drc = $drc
}
export {
	id = 1
	path = $work/export
	clients = 127.0.0.1
	squash = no_root_squash
}
CONF
	"$twinfsd" --config "$work/twinfs.conf" 2>>"$work/twinfsd.log" &
	pid=$!
	for _ in $(seq 100); do ss -Htln "sport = :$port" | grep -q . && break; sleep 0.05; done
	"$work/nfsload/nfsload" -u "nfs://127.0.0.1$work/export?version=3&nfsport=$port&mountport=$((port + 1))" \
		-c 8 -t "$secs" -w getattr,create | sed "s/^nfsload /drc=$drc /"
	kill "$pid"
	wait "$pid" || true
	pid=
}

for r in $(seq "$rounds"); do
	run on
	run off
done | tee "$work/results"
python3 - "$work/results" <<'PY'
import re, statistics, sys, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"drc=(\w+) workload=(\w+).*ops_s=([\d.]+)", line)
    if m:
        d[(m.group(2), m.group(1))].append(float(m.group(3)))
for w in ("getattr", "create"):
    on, off = statistics.median(d[(w, "on")]), statistics.median(d[(w, "off")])
    print(f"drc_onoff workload={w} on_ops_s={on:.0f} off_ops_s={off:.0f} on/off={on / off:.3f}")
PY
