#!/usr/bin/env bash
# test_kclient.sh TWINFSD
#
# The real Linux NFS client against twinfsd: shared/tools/kclient boots Debian's
# kernel under qemu, mounts our export over NFSv3 (qemu's user network: the
# guest reaches the host's 127.0.0.1 as 10.0.2.2), runs the `basic` workload
# (mkdir, 4 MiB write + fsync, read-back checksum, rename, ls, remove) and passes
# only on "KC-RESULT: PASS". The daemon must still be alive afterwards and exit 0
# on SIGTERM.
#
# The kclient folder is found at $TWINFS_SHARED/tools/kclient, else at
# <repo>/../shared/tools/kclient. That copy may be read-only (CI), and the tool
# writes its boot files into out/ beside itself, so it is copied to a cache
# ($TWINFS_KCLIENT_CACHE, default /var/tmp/twinfs-kclient) and run from there;
# out/ is rebuilt only when the sources changed. A lock serialises concurrent
# runs on the same cache. If qemu or the kernel cannot be installed, this FAILS:
# a skipped kernel-client test would look like a passing one.
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
tw_mktemp kclient
T=$TW_TMP
chmod 0755 "$T"
tw_kclient_prepare "$T"
kc=$TW_KC

# The export's path goes on the guest's kernel command line: no spaces
# (tw_mktemp guarantees it).
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

console=$T/console.log
rc=0
KCLIENT_OUT=$kc/out "$kc/run.sh" SERVER_PORT="$TW_NFS_PORT" MOUNT_PORT="$TW_MOUNT_PORT" \
	VERS=3 WORKLOAD=basic EXPORT="$E" TIMEOUT=300 MB=4 QUIET=1 LOG="$console" || rc=$?
grep -E 'KC-(STEP|MOUNT|RESULT)' "$console" 2>/dev/null | sed 's/^/# /' || true

if [ $rc != 0 ]; then
	tw_log "FAIL: kernel client run.sh exited $rc"
	tw_show_log "$console" 60
	tw_show_log "$log" 80
fi
if ! tw_finish_daemon "$pid" "$log"; then
	rc=1
fi
if [ $rc = 0 ]; then
	echo "ok - Linux kernel NFSv3 client, basic workload"
else
	echo "not ok - Linux kernel NFSv3 client, basic workload"
fi
exit $rc
