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
shared=$(tw_shared_dir) || tw_die "shared tools not found: set TWINFS_SHARED or put shared/ beside the repository"
src=$shared/tools/kclient
[ -x "$src/run.sh" ] || tw_die "$src/run.sh missing"
cache=${TWINFS_KCLIENT_CACHE:-/var/tmp/twinfs-kclient}
kc=$cache/kclient
tw_mktemp kclient
T=$TW_TMP
chmod 0755 "$T"

mkdir -p "$kc"
exec 9>"$cache/.lock"
# Exclusive while we copy and build; shared while qemu reads out/.
flock -w 900 9 || tw_die "could not lock $cache/.lock within 900 s"

# Copy the tool's files (not its out/), keeping their mtimes: run.sh rebuilds
# out/ when a source is newer than it, so an unchanged copy must look unchanged.
for f in "$src"/*; do
	[ -f "$f" ] || continue
	dst=$kc/$(basename "$f")
	if ! cmp -s "$f" "$dst" 2>/dev/null; then
		rm -f "$dst"
		cp -p "$f" "$dst"
	fi
done

# Same freshness rule as run.sh, so that the build's output and time are ours to
# report, not hidden inside the qemu run's timeout.
fresh() {
	local img
	[ -r "$kc/out/vmlinuz" ] && [ -r "$kc/out/initrd-name" ] || return 1
	img=$kc/out/$(cat "$kc/out/initrd-name")
	[ -r "$img" ] || return 1
	for f in init kcmount.c kcwriteloop.c build-initramfs.sh; do
		[ "$kc/$f" -nt "$img" ] && return 1
	done
	return 0
}
if ! fresh; then
	tw_log "building the kclient boot files in $kc/out"
	if ! KCLIENT_OUT=$kc/out timeout 900 "$kc/build-initramfs.sh" >"$T/build.log" 2>&1; then
		tw_show_log "$T/build.log" 40
		tw_die "FAIL: build-initramfs.sh failed (qemu, kernel or busybox not installable?)"
	fi
fi
command -v qemu-system-x86_64 >/dev/null || tw_die "FAIL: qemu-system-x86_64 missing"
flock -s 9

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
