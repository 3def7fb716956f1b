#!/usr/bin/env bash
# pair_mirror.sh [ROUNDS] — what the mirror stream costs: a pair in network
# namespaces (tests/integration/pairlib.sh), 8 libnfs clients through the service
# address, create+remove (non-idempotent: every reply is mirrored) and getattr,
# with `mirror = sync`, `mirror = strict`, `mirror = async` and no partner at all
# (`alone`: the standby stopped, nothing mirrored), alternating each round. Prints
# the nfsload lines, the medians and the cost of sync and strict against alone
# (the issue's target: <= 10 %).
# The shared storage is a tmpfs the script mounts (MIRROR_FS=disk: under TMPDIR
# instead): on a disk filesystem create+remove speed drifts with how many files
# were removed lately (ext4 without a journal scans recently freed inodes), which
# buries the mirror's cost in round-to-round noise.
# Needs root (namespaces, mount); removes what it made.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${1:-3}
secs=${SECS:-5}
shared=${TWINFS_SHARED:-$root/../shared}
[ -x "$root/build/server/twinfsd" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
work=$(mktemp -d /tmp/twinfs-mirrorbench.XXXXXX)
trap 'umount "$work/fs" 2>/dev/null; rm -rf "$work"' EXIT
if [ "${MIRROR_FS:-tmpfs}" = tmpfs ]; then
	mkdir "$work/fs"
	mount -t tmpfs -o size=2g,mode=1777 twinfs-mirrorbench "$work/fs"
	export TMPDIR=$work/fs
fi
cp -r "$shared/tools/nfsload" "$work/nfsload"
make -s -C "$work/nfsload" >/dev/null

one() { # one MODE: a fresh pair, one nfsload run, in a subshell (pairlib's trap cleans up)
	local mirror=$1
	[ "$1" = alone ] && mirror=sync
	PAIR_MIRROR=$mirror ALONE=$([ "$1" = alone ] && echo 1 || echo 0) bash -c '
		set -euo pipefail
		source "$0/tests/integration/lib.sh"
		PAIR_NAME=mirrorbench
		source "$0/tests/integration/pairlib.sh" "$0/build/server/twinfsd"
		wait_roles ACTIVE STANDBY >/dev/null
		if [ "$ALONE" = 1 ]; then
			kill "$pidb" && wait "$pidb" 2>/dev/null || true
			sleep 1 # A sees the link go and detaches the stream
		fi
		sleep 1 # the stream attaches and catches up
		ip netns exec "$nsc" "$1" -u "nfs://$VIP/share?version=3&nfsport=2049&mountport=20048" \
			-c 8 -t "$2" -w create,getattr' "$root" "$work/nfsload/nfsload" "$secs" |
		sed "s/^nfsload /mirror=$1 /"
}

for _ in $(seq "$rounds"); do
	one sync
	one strict
	one async
	one alone
done | tee "$work/all"
echo "# medians (ops/s):"
for mode in sync strict async alone; do
	for w in create getattr; do
		grep "^mirror=$mode workload=$w " "$work/all" | sed 's/.* ops_s=\([0-9.]*\).*/\1/' |
			sort -n | awk -v m="$mode" -v w="$w" '{a[NR]=$1} END {printf "#   %-6s %-8s %8.0f\n", m, w, a[int((NR+1)/2)]}'
	done
done
med() { grep "^mirror=$1 workload=create " "$work/all" | sed 's/.* ops_s=\([0-9.]*\).*/\1/' |
	sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for mode in sync strict async; do
	awk -v m="$mode" -v s="$(med "$mode")" -v a="$(med alone)" 'BEGIN {
		if (a > 0) printf "# create+remove: %s costs %.1f %% against no partner\n", m, (1 - s / a) * 100 }'
done
