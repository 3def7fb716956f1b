#!/usr/bin/env bash
# test_nfscp.sh TWINFSD
#
# Bulk data through a real third-party client (libnfs's nfs-cp, NFSv3): a 256 MiB
# random file is copied in and out again, and must come back byte-identical, and
# be byte-identical in the exported directory itself; nfs-ls must list it with
# its size. Large enough to cross many WRITE/READ/COMMIT calls and offsets past
# 2^28, small enough for a 2-core CI machine. Bounded: 600 s for the whole run.
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
for tool in nfs-cp nfs-ls; do
	command -v $tool >/dev/null || tw_die "$tool missing (apt-get install libnfs-utils)"
done

MB=${TWINFS_NFSCP_MB:-256}
deadline=$((SECONDS + 600))
# Seconds left of the 600 s budget, at least 1 (so timeout(1) gets a valid value).
left() {
	local n=$((deadline - SECONDS))
	[ $n -gt 0 ] && echo $n || echo 1
}

tw_mktemp nfscp
T=$TW_TMP
chmod 0755 "$T"
E=$T/export
mkdir -m 0755 "$E" "$T/state" "$T/local"
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
q="version=3&nfsport=$TW_NFS_PORT&mountport=$TW_MOUNT_PORT"

passed=0
failed=0
step() {
	local name=$1 t0=$SECONDS
	shift
	if "$@"; then
		echo "ok - $name ($((SECONDS - t0)) s)"
		passed=$((passed + 1))
	else
		echo "not ok - $name"
		failed=$((failed + 1))
	fi
}

head -c "$((MB << 20))" /dev/urandom >"$T/local/orig"

copy_in() { timeout "$(left)" nfs-cp "$T/local/orig" "nfs://127.0.0.1$E/big.bin?$q"; }
same_in_export() { cmp "$T/local/orig" "$E/big.bin"; }
copy_out() { timeout "$(left)" nfs-cp "nfs://127.0.0.1$E/big.bin?$q" "$T/local/back"; }
same_back() { cmp "$T/local/orig" "$T/local/back"; }
listed() {
	local out
	out=$(timeout "$(left)" nfs-ls "nfs://127.0.0.1$E?$q") || return 1
	if ! grep -qE "[[:space:]]$((MB << 20))[[:space:]].*big\.bin$" <<<"$out"; then
		echo "# nfs-ls printed:"
		printf '#   %s\n' "${out//$'\n'/$'\n'#   }"
		return 1
	fi
}

step "nfs-cp ${MB} MiB in" copy_in
step "file in the export is byte-identical" same_in_export
step "nfs-cp ${MB} MiB out" copy_out
step "copy read back is byte-identical" same_back
step "nfs-ls lists it with its size" listed
[ $SECONDS -lt $deadline ] || {
	echo "not ok - finished within 600 s"
	failed=$((failed + 1))
}
step "daemon alive, exit 0 on SIGTERM" tw_finish_daemon "$pid" "$log"

echo "$passed passed, $failed failed"
[ $failed = 0 ] || tw_show_log "$log" 40
[ $failed = 0 ]
