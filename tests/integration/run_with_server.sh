#!/usr/bin/env bash
# run_with_server.sh TWINFSD TEST_BINARY [ARGS...]
#
# Runs one integration test against a twinfsd of its own: a fresh directory D
# with five exports (rw, ro, root-squashed, one limited to 127.0.0.1/32, and a
# slow in-memory one), free ports, its own state dir. The test gets, in its environment:
#   TWINFS_PORT, TWINFS_MOUNT_PORT  where the daemon listens (127.0.0.1)
#   TWINFS_DIR                      D: exports are D/rw D/ro D/squash D/limited
#   TWINFS_PID                      the daemon's PID (to watch its memory)
#   TWINFS_CONFIG                   D/twinfs.conf
#   TWINFS_RO_CONTENT               the exact content of D/ro/readme.txt
#   TWINFS_SLOW_PATH                MOUNT path of a fifth export: mem backend,
#                                   every change delayed 1 s (requests in flight)
#
# The test passes only if it exits 0 AND the daemon is still alive afterwards
# AND the daemon then exits 0 on SIGTERM: a server that crashed or hung under
# a test fails it even when the client side looked fine. The daemon's log is
# printed on failure. TWINFS_TEST_TIMEOUT (600 s) bounds the test itself.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

if [ $# -lt 2 ]; then
	echo "usage: $0 TWINFSD TEST_BINARY [ARGS...]" >&2
	exit 2
fi
twinfsd=$1
shift
[ -x "$twinfsd" ] || tw_die "twinfsd not executable: $twinfsd"
TW_NAME="run_with_server($(basename "$1"))"

tw_mktemp it
D=$TW_TMP
# The squashed export is reached as uid 65534: every directory above it must be
# searchable (mktemp made D 0700).
chmod 0755 "$D"
mkdir -m 0755 "$D/rw" "$D/ro" "$D/squash" "$D/limited" "$D/state"
ro_content="twinfs read-only export: known content"
printf '%s\n' "$ro_content" >"$D/ro/readme.txt"
chmod 0644 "$D/ro/readme.txt"
# Root-owned, 0755: a squashed root must not be able to create files here.
if [ "$(id -u)" = 0 ]; then
	chown 0:0 "$D/squash"
else
	tw_log "warning: not root, $D/squash is owned by uid $(id -u)"
fi
log=$D/twinfsd.log
conf=$D/twinfs.conf

# shellcheck disable=SC2317 # called by tw_start_daemon
write_config() {
	cat >"$conf" <<EOF
# Written by run_with_server.sh for one test run.
server {
    bind = 127.0.0.1
    nfs_port = $TW_NFS_PORT
    mount_port = $TW_MOUNT_PORT
    state_dir = $D/state
    rpcbind = false
}
export {
    id = 1
    path = $D/rw
    clients = 127.0.0.0/8
    squash = no_root_squash
}
export {
    id = 2
    path = $D/ro
    clients = 127.0.0.0/8
    access = ro
    squash = no_root_squash
}
# root_squash by default, anonuid/anongid 65534
export {
    id = 3
    path = $D/squash
    clients = 127.0.0.0/8
}
export {
    id = 4
    path = $D/limited
    clients = 127.0.0.1/32
    squash = no_root_squash
}
# In memory, every change delayed 1 s, so a test can hold a request in flight
# (test_drc_replay). The mem backend does not use the path: it is only a name.
export {
    id = 5
    path = $D/slow
    fsal = mem
    fsal_options = "delay_ms=1000"
    clients = 127.0.0.0/8
    squash = no_root_squash
}
EOF
	TW_CMD=("$twinfsd" --config "$conf")
}

if ! tw_start_daemon "$log" write_config; then
	tw_show_log "$log"
	exit 1
fi
pid=$TW_PID

export TWINFS_PORT=$TW_NFS_PORT TWINFS_MOUNT_PORT=$TW_MOUNT_PORT TWINFS_DIR=$D
export TWINFS_PID=$pid TWINFS_CONFIG=$conf TWINFS_RO_CONTENT=$ro_content
export TWINFS_SLOW_PATH=$D/slow

rc=0
timeout -k 10 "${TWINFS_TEST_TIMEOUT:-600}" "$@" || rc=$?
[ $rc = 124 ] && tw_log "FAIL: test timed out after ${TWINFS_TEST_TIMEOUT:-600} s"
[ $rc = 0 ] || tw_log "FAIL: test exited with status $rc"

if ! tw_finish_daemon "$pid" "$log"; then
	[ $rc = 0 ] && rc=1
elif [ $rc != 0 ]; then
	tw_show_log "$log"
fi
exit $rc
