#!/usr/bin/env bash
# test_restart.sh TWINFSD [FHTOOL]
#
# File handles must outlive the server process (DESIGN: handles carry the export
# id and the object key only, through name_to_handle_at): a kernel client keeps
# handles in its cache and presents them again after a server restart without a
# new MNT. So: write a file through libnfs, take its handle and the export root's
# handle (fhtool: MNT + LOOKUP), stop the daemon with SIGTERM, start it again on
# the same ports and state dir, and use the OLD handles: GETATTR and READ must
# work and return the same content. The same after a SIGKILL (a crash). A new
# LOOKUP must also return byte-identical handles.
#
# FHTOOL defaults to $TWINFS_FHTOOL (set by CMake, see rawrpc.cmake).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

[ $# -ge 1 ] || {
	echo "usage: $0 TWINFSD [FHTOOL]" >&2
	exit 2
}
twinfsd=$1
fhtool=${2:-${TWINFS_FHTOOL:-}}
[ -x "$twinfsd" ] || tw_die "twinfsd not executable: $twinfsd"
if [ -z "$fhtool" ] || [ ! -x "$fhtool" ]; then
	tw_die "fhtool not found: pass it as the 2nd argument or in TWINFS_FHTOOL"
fi
command -v nfs-cp >/dev/null || tw_die "nfs-cp missing (apt-get install libnfs-utils)"

tw_mktemp restart
T=$TW_TMP
chmod 0755 "$T"
E=$T/export
S=$T/state
log=$T/twinfsd.log
mkdir -m 0755 "$E" "$S"
# Larger than one 64 KiB READ, and not a multiple of it, so the read-back takes
# several calls and ends with a short one.
head -c 300001 /dev/urandom >"$T/orig"

# shellcheck disable=SC2317 # called by tw_start_daemon
build_cmd() {
	TW_CMD=("$twinfsd" --export "$E" --bind 127.0.0.1 --port "$TW_NFS_PORT"
		--mount-port "$TW_MOUNT_PORT" --state-dir "$S")
}

passed=0
failed=0
check() {
	local name=$1
	shift
	if "$@"; then
		echo "ok - $name"
		passed=$((passed + 1))
	else
		echo "not ok - $name"
		failed=$((failed + 1))
	fi
}

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ] || tw_show_log "$log"
	[ "$failed" = 0 ]
}

tw_start_daemon "$log" build_cmd || {
	tw_show_log "$log"
	exit 1
}
pid=$TW_PID
export TWINFS_PORT=$TW_NFS_PORT TWINFS_MOUNT_PORT=$TW_MOUNT_PORT
url="nfs://127.0.0.1$E/f?version=3&nfsport=$TW_NFS_PORT&mountport=$TW_MOUNT_PORT"

write_file() { timeout 120 nfs-cp "$T/orig" "$url" >/dev/null && cmp -s "$T/orig" "$E/f"; }
check "nfs-cp writes the file" write_file

root_fh=$(timeout 30 "$fhtool" mnt "$E") || root_fh=
file_fh=$(timeout 30 "$fhtool" lookup "$E" f) || file_fh=
check "MNT + LOOKUP give handles" test -n "$root_fh" -a -n "$file_fh"
if [ -z "$root_fh" ] || [ -z "$file_fh" ]; then
	tw_finish_daemon "$pid" "$log" || true
	failed=$((failed + 1))
	finish
	exit 1
fi
echo "# root handle $root_fh"
echo "# file handle $file_fh"

getattr_ok() {
	local out
	out=$(timeout 30 "$fhtool" getattr "$1") || return 1
	[ -z "${2:-}" ] || [[ "$out" == *" size=$2 "* ]] || {
		echo "# getattr: $out (expected size=$2)"
		return 1
	}
}
read_same() {
	rm -f "$T/back"
	timeout 60 "$fhtool" read "$file_fh" >"$T/back" && cmp "$T/orig" "$T/back"
}
same_handle() {
	local now
	now=$(timeout 30 "$fhtool" lookup "$E" f) || return 1
	[ "$now" = "$file_fh" ] || {
		echo "# LOOKUP now gives $now"
		return 1
	}
}

check_handles() {
	check "$1: GETATTR with the old file handle" getattr_ok "$file_fh" 300001
	check "$1: READ with the old file handle, same content" read_same
	check "$1: GETATTR with the old root handle" getattr_ok "$root_fh"
	check "$1: a new LOOKUP gives the same handle" same_handle
}

check_handles "before restart"

# Restart on the same ports and state dir, once cleanly and once after a crash.
for how in SIGTERM SIGKILL; do
	if [ $how = SIGTERM ]; then
		tw_stop "$pid" 10
		check "exit status 0 on SIGTERM (was $TW_STATUS)" test "$TW_STATUS" = 0
	else
		tw_kill9 "$pid"
	fi
	if ! tw_start_same "$log" "${TW_CMD[@]}"; then
		check "restart after $how" false
		finish
		exit 1
	fi
	pid=$TW_PID
	check_handles "after $how restart"
done

check "daemon alive at the end, exit 0 on SIGTERM" tw_finish_daemon "$pid" "$log"
finish
