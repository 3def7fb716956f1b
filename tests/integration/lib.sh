# shellcheck shell=bash
# lib.sh — helpers shared by the integration scripts (sourced, not run):
# free ports, starting twinfsd and waiting until it listens, checking it is
# still alive, stopping it by PID, and a cleanup trap that removes whatever a
# script made even when it fails half-way.
#
# Every daemon is started by the sourcing script itself, so it is our child:
# we stop it by PID and collect its exit status with `wait`. Nothing is ever
# signalled by name.

TW_NAME=${TW_NAME:-$(basename "$0" .sh)}
TW_DIRS=()   # removed by tw_cleanup
TW_PIDS=()   # killed by tw_cleanup if still running
TW_STATUS=0  # exit status of the daemon last stopped by tw_stop

tw_log() { echo "$TW_NAME: $*" >&2; }
tw_die() {
	tw_log "$*"
	exit 1
}

# The repository root, from this file's location (tests/integration/).
tw_repo_root() { (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd); }

# The shared tools folder: $TWINFS_SHARED, else ../shared beside the repository
# (CI puts a read-only copy there).
tw_shared_dir() {
	local d=${TWINFS_SHARED:-$(tw_repo_root)/../shared}
	[ -d "$d/tools" ] || return 1
	(cd "$d" && pwd)
}

# shellcheck disable=SC2317 # called from the EXIT trap
tw_cleanup() {
	local pid d
	for pid in "${TW_PIDS[@]}"; do
		if tw_alive "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	for d in "${TW_DIRS[@]}"; do
		# TWINFS_KEEP=1 keeps the logs and files of a run to look at.
		if [ -n "${TWINFS_KEEP:-}" ]; then echo "# kept $d" >&2; else rm -rf "$d"; fi
	done
}
trap tw_cleanup EXIT
# A signal must still run the EXIT trap (bash skips it on a fatal signal).
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# tw_mktemp NAME: a fresh directory in TW_TMP, removed at exit. No spaces in the
# path (the kernel-client test passes it on a kernel command line). Not meant
# for $(...): the subshell would forget to remove it.
tw_mktemp() {
	local base=${TMPDIR:-/tmp}
	case "$base" in *" "*) base=/tmp ;; esac
	TW_TMP=$(mktemp -d "$base/twinfs-$1.XXXXXX")
	TW_DIRS+=("$TW_TMP")
}

# Is PID running (and not a zombie waiting to be reaped)?
tw_alive() {
	local state
	[ -r "/proc/$1/stat" ] || return 1
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

tw_port_listening() { ss -Htln "sport = :$1" | grep -q .; }

# tw_pick_ports N: N distinct TCP ports in 20000..59999 that nobody listens on,
# into the array TW_PORTS. Random, so parallel tests rarely collide; a collision
# that still happens is caught as a bind failure and retried by tw_start_daemon.
tw_pick_ports() {
	local n=$1 p tries=0 q dup
	TW_PORTS=()
	while [ ${#TW_PORTS[@]} -lt "$n" ]; do
		tries=$((tries + 1))
		[ $tries -le 1000 ] || tw_die "no free TCP port found in 20000-59999"
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		dup=0
		for q in "${TW_PORTS[@]}"; do
			[ "$q" = "$p" ] && dup=1
		done
		[ $dup = 0 ] || continue
		tw_port_listening "$p" && continue
		TW_PORTS+=("$p")
	done
}

# tw_wait_listen PID TIMEOUT_S PORT...: poll every 0.1 s until every PORT has a
# listener. 0 = listening, 1 = PID exited first, 2 = timed out.
tw_wait_listen() {
	local pid=$1 limit=$(($2 * 10)) i p ok
	shift 2
	for ((i = 0; i < limit; i++)); do
		tw_alive "$pid" || return 1
		ok=1
		for p in "$@"; do
			tw_port_listening "$p" || ok=0
		done
		[ $ok = 1 ] && return 0
		sleep 0.1
	done
	return 2
}

# tw_spawn LOG CMD...: start CMD in the background, stdout+stderr appended to
# LOG, no stdin. Sets TW_PID.
tw_spawn() {
	local log=$1
	shift
	"$@" </dev/null >>"$log" 2>&1 &
	TW_PID=$!
	TW_PIDS+=("$TW_PID")
}

# tw_stop PID [GRACE_S]: SIGTERM, then SIGKILL after GRACE_S (10) seconds.
# Sets TW_STATUS to the exit status (128+signal if it had to be killed).
tw_stop() {
	local pid=$1 limit=$((${2:-10} * 10)) i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < limit; i++)); do
		tw_alive "$pid" || break
		sleep 0.1
	done
	if tw_alive "$pid"; then
		tw_log "PID $pid still running ${2:-10} s after SIGTERM; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	TW_STATUS=0
	wait "$pid" 2>/dev/null || TW_STATUS=$?
}

# tw_kill9 PID: SIGKILL and reap (a crash, as far as the daemon can tell).
tw_kill9() {
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# tw_start_daemon LOG BUILD_FN: pick two free ports into TW_NFS_PORT and
# TW_MOUNT_PORT, call BUILD_FN to fill the array TW_CMD (and write any config
# it needs), start it and wait up to 15 s until both ports listen. Retries with
# new ports when the daemon exits with status 2 (start failure, e.g. a port
# taken between our check and its bind). Sets TW_PID. Returns non-zero when it
# could not start; the log says why.
tw_start_daemon() {
	local log=$1 build=$2 attempt rc
	for attempt in 1 2 3 4 5; do
		tw_pick_ports 2
		TW_NFS_PORT=${TW_PORTS[0]}
		TW_MOUNT_PORT=${TW_PORTS[1]}
		TW_CMD=()
		"$build"
		echo "== attempt $attempt: ${TW_CMD[*]}" >>"$log"
		tw_spawn "$log" "${TW_CMD[@]}"
		rc=0
		tw_wait_listen "$TW_PID" 15 "$TW_NFS_PORT" "$TW_MOUNT_PORT" || rc=$?
		[ $rc = 0 ] && return 0
		if [ $rc = 2 ]; then
			tw_log "daemon (PID $TW_PID) not listening on $TW_NFS_PORT/$TW_MOUNT_PORT after 15 s"
			return 1
		fi
		TW_STATUS=0
		wait "$TW_PID" 2>/dev/null || TW_STATUS=$?
		if [ "$TW_STATUS" != 2 ]; then
			tw_log "daemon exited during start with status $TW_STATUS"
			return 1
		fi
		tw_log "daemon could not start (status 2) on ports $TW_NFS_PORT/$TW_MOUNT_PORT; retrying"
	done
	return 1
}

# tw_start_same LOG CMD...: start CMD on ports already chosen (a restart) and
# wait up to 15 s for TW_NFS_PORT and TW_MOUNT_PORT. No retry: the point is to
# come back on the same ports.
tw_start_same() {
	local log=$1 rc=0
	shift
	echo "== restart: $*" >>"$log"
	tw_spawn "$log" "$@"
	tw_wait_listen "$TW_PID" 15 "$TW_NFS_PORT" "$TW_MOUNT_PORT" || rc=$?
	case $rc in
	0) return 0 ;;
	1) tw_log "daemon exited during restart" ;;
	*) tw_log "daemon not listening on $TW_NFS_PORT/$TW_MOUNT_PORT 15 s after restart" ;;
	esac
	return 1
}

# tw_show_log FILE [LINES]: the end of a log, for a failure report.
tw_show_log() {
	local n=${2:-80}
	[ -s "$1" ] || {
		echo "---- $1: empty ----" >&2
		return 0
	}
	echo "---- last $n lines of $1 ----" >&2
	tail -n "$n" "$1" >&2
	echo "---- end of $1 ----" >&2
}

# tw_finish_daemon PID LOG: the daemon must still be alive after a test, and
# must exit 0 on SIGTERM. Returns 0 when both hold; prints the log otherwise.
tw_finish_daemon() {
	local pid=$1 log=$2
	if ! tw_alive "$pid"; then
		TW_STATUS=0
		wait "$pid" 2>/dev/null || TW_STATUS=$?
		tw_log "FAIL: twinfsd (PID $pid) died during the test (status $TW_STATUS)"
		tw_show_log "$log"
		return 1
	fi
	tw_stop "$pid" 10
	if [ "$TW_STATUS" != 0 ]; then
		tw_log "FAIL: twinfsd exited with status $TW_STATUS on SIGTERM (expected 0)"
		tw_show_log "$log"
		return 1
	fi
	return 0
}

# tw_kclient_prepare WORKDIR: the kernel-client tool (shared/tools/kclient) copied
# to a cache ($TWINFS_KCLIENT_CACHE, default /var/tmp/twinfs-kclient) because the
# shared copy may be read-only and the tool writes its boot files beside itself;
# out/ is rebuilt only when its sources changed. Holds a shared lock on the cache
# (fd 9) for the caller's qemu run. Sets TW_KC to the tool's folder.
tw_kclient_prepare() {
	local T=$1 shared src cache kc f dst
	shared=$(tw_shared_dir) || tw_die "shared tools not found: set TWINFS_SHARED or put shared/ beside the repository"
	src=$shared/tools/kclient
	[ -x "$src/run.sh" ] || tw_die "$src/run.sh missing"
	cache=${TWINFS_KCLIENT_CACHE:-/var/tmp/twinfs-kclient}
	kc=$cache/kclient

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
	TW_KC=$kc
}
