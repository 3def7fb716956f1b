#!/usr/bin/env bash
# test_nfs4_kclient.sh TWINFSD
#
# The Linux kernel client over NFSv4 (shared/tools/kclient, see test_kclient.sh
# for how the tool is found, cached and locked): the `basic` workload over
# vers=4.0, 4.1 and 4.2, then a default mount (no vers: the 4.2 → 4.1 → 4.0
# negotiation mount.nfs does, kclient_nfs4/default.sh) that must end on 4.2.
# One daemon serves all four runs (quick start: the export at its own path as
# pseudo path, so `mount server:DIR` works as over NFSv3). It must still be alive
# afterwards and exit 0 on SIGTERM.
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
tw_mktemp nfs4-kclient
T=$TW_TMP
chmod 0755 "$T"
tw_kclient_prepare "$T"
kc=$TW_KC

E=$T/export
mkdir -m 0755 "$E" "$T/state"
log=$T/twinfsd.log
# shellcheck disable=SC2317 # called by tw_start_daemon
build_cmd() {
	TW_CMD=("$twinfsd" --export "$E" --bind 127.0.0.1 --port "$TW_NFS_PORT"
		--mount-port "$TW_MOUNT_PORT" --state-dir "$T/state")
}
tw_start_daemon "$log" build_cmd || {
	tw_show_log "$log"
	exit 1
}
pid=$TW_PID

fails=0
# run NAME VERS WORKLOAD [KEY=VALUE...]
run() {
	local name=$1 vers=$2 work=$3 rc=0
	shift 3
	local console=$T/console-$name.log
	KCLIENT_OUT=$kc/out "$kc/run.sh" SERVER_PORT="$TW_NFS_PORT" VERS="$vers" WORKLOAD="$work" \
		EXPORT="$E" TIMEOUT=300 MB=4 QUIET=1 LOG="$console" "$@" || rc=$?
	grep -E 'KC-(STEP|MOUNT|RESULT|DEFAULT)' "$console" 2>/dev/null | sed 's/^/# /' || true
	if [ $rc = 0 ]; then
		echo "ok - Linux kernel client, $name"
	else
		echo "not ok - Linux kernel client, $name (run.sh exited $rc)"
		tw_show_log "$console" 40
		fails=$((fails + 1))
	fi
}

for v in 4.0 4.1 4.2; do
	run "vers=$v basic" "$v" basic
done
run "default mount (negotiated)" 4.2 script EXTRA_DIR="$here/kclient_nfs4" \
	SCRIPT=/extra/default.sh "SCRIPT_ARGS=10.0.2.2,$TW_NFS_PORT,$E"

if ! tw_finish_daemon "$pid" "$log"; then
	fails=$((fails + 1))
fi
[ $fails = 0 ] || tw_show_log "$log" 80
exit $((fails > 0))
