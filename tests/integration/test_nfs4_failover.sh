#!/usr/bin/env bash
# test_nfs4_failover.sh TWINFSD
#
# NFSv4 state across a crash, with the Linux kernel client (shared/tools/kclient
# failover.sh): the guest writes a numbered record and fsyncs it every 100 ms on
# a hard vers=4.0, then vers=4.1 mount; twinfsd is killed with SIGKILL 8 s into
# the loop and restarted on the same ports and state directory 3 s later. The
# client must reclaim its open in the grace period (records in
# STATE_DIR/nfs4_clients) and carry on: PASS means no I/O error and every
# acknowledged record read back. A reclaimed 4.0 OPEN that asked for an
# OPEN_CONFIRM failed this (EBADF in the guest) before it was fixed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

[ $# -ge 1 ] || {
	echo "usage: $0 TWINFSD" >&2
	exit 2
}
twinfsd=$1
[ -x "$twinfsd" ] || tw_die "twinfsd not executable: $twinfsd"
tw_mktemp nfs4-failover
T=$TW_TMP
chmod 0755 "$T"
tw_kclient_prepare "$T"
kc=$TW_KC
E=$T/export
mkdir -m 0755 "$E" "$T/state"
log=$T/twinfsd.log

# failover.sh runs these as plain commands: they must not need a shell.
cat >"$T/start.sh" <<EOS
#!/usr/bin/env bash
# (re)start on the same ports and state directory; wait until it listens
TWINFS_NFS4_LEASE=10 "$twinfsd" --export "$E" --bind 127.0.0.1 --port \$1 --mount-port \$2 \\
	--state-dir "$T/state" </dev/null >>"$log" 2>&1 &
echo \$! >"$T/pid"
for i in \$(seq 150); do
	ss -Htln "sport = :\$1" | grep -q . && exit 0
	sleep 0.1
done
exit 1
EOS
cat >"$T/kill.sh" <<EOS
#!/usr/bin/env bash
kill -KILL "\$(cat "$T/pid")"
EOS
chmod +x "$T/start.sh" "$T/kill.sh"

stop_daemon() {
	local pid
	pid=$(cat "$T/pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 100); do
		tw_alive "$pid" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	return 1
}
trap 'stop_daemon; tw_cleanup' EXIT

tw_pick_ports 2
port=${TW_PORTS[0]} mport=${TW_PORTS[1]}
fails=0
for v in 4.0 4.1; do
	"$T/start.sh" "$port" "$mport" || tw_die "twinfsd did not start (log: $log)"
	console=$T/console-$v.log
	set +e
	KCLIENT_OUT=$kc/out "$kc/failover.sh" VERS="$v" SERVER_PORT="$port" EXPORT="$E" \
		SECS=30 KILL_AFTER=8 DOWN=3 TIMEOUT=300 QUIET=1 LOG="$console" \
		KILL_CMD="$T/kill.sh" START_CMD="$T/start.sh $port $mport" 2>&1 |
		sed 's/^/# /'
	rc=${PIPESTATUS[0]}
	set -e
	if [ "$rc" = 0 ]; then
		echo "ok - vers=$v: kill -9 and restart under a write loop, reclaimed, nothing lost"
	else
		echo "not ok - vers=$v: the guest saw errors or lost data (failover.sh exited $rc)"
		tw_show_log "$console" 30
		fails=$((fails + 1))
	fi
	if ! stop_daemon; then
		echo "not ok - vers=$v: twinfsd did not stop on SIGTERM"
		fails=$((fails + 1))
	fi
done
[ $fails = 0 ] || tw_show_log "$log" 60
exit $((fails > 0))
