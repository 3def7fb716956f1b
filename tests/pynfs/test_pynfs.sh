#!/usr/bin/env bash
# test_pynfs.sh TWINFSD SUITE     (SUITE: 4.0 or 4.1)
#
# pynfs, the NFSv4 conformance suite (shared/tools/pynfs), against a twinfsd of
# our own: quick start on free loopback ports, a fresh export, a 15 s lease (the
# suites sleep for multiples of it). Fails when
#   - a test fails that is not in known-failures-SUITE.txt (a regression: it
#     passed before), or
#   - the suite did not run to its end, or the daemon died or did not stop
#     cleanly on SIGTERM.
# A known failure that passes now is reported (remove it from the list) but does
# not fail the run. Each line of the list is "CODE  reason".
#
# pynfs is unpacked and built outside the repository by shared/tools/pynfs/get.sh
# (needs python3-ply, python3-gssapi, python3-setuptools: scripts/deps.sh).
# TWINFS_KEEP=1 keeps the logs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/../integration/lib.sh"

[ $# -eq 2 ] || {
	echo "usage: $0 TWINFSD 4.0|4.1" >&2
	exit 2
}
twinfsd=$1 suite=$2
case "$suite" in 4.0 | 4.1) ;; *) tw_die "suite must be 4.0 or 4.1" ;; esac
known=$here/known-failures-$suite.txt
[ -r "$known" ] || tw_die "$known missing"
shared=$(tw_shared_dir) || tw_die "shared tools not found: set TWINFS_SHARED or put shared/ beside the repository"
runner=$shared/tools/pynfs/run.sh
[ -x "$runner" ] || tw_die "$runner missing"

tw_mktemp "pynfs$suite"
T=$TW_TMP
E=$T/export
mkdir -m 0755 "$E" "$T/state"
log=$T/twinfsd.log
# shellcheck disable=SC2317 # called by tw_start_daemon
build_cmd() {
	TW_CMD=(env TWINFS_NFS4_LEASE=15 "$twinfsd" --export "$E" --bind 127.0.0.1
		--port "$TW_NFS_PORT" --mount-port "$TW_MOUNT_PORT" --state-dir "$T/state")
}
tw_start_daemon "$log" build_cmd || {
	tw_show_log "$log"
	exit 1
}
pid=$TW_PID

# pynfs builds into a directory of its own (get.sh), once per machine.
export PYNFS_DIR=${PYNFS_DIR:-$("$shared/tools/pynfs/get.sh" "${TMPDIR:-/tmp}/twinfs-pynfs")}
rc=0
PYNFS_SUITES=$suite PYNFS_NODELAY=1 PYNFS_TIMEOUT=${PYNFS_TIMEOUT:-1200} \
	"$runner" "127.0.0.1:$TW_NFS_PORT$E" "$T/out" || rc=$?
out=$T/out/nfs$suite.log
fails=0
if [ $rc != 0 ]; then
	tw_log "FAIL: the $suite suite did not run to its end (run.sh exited $rc)"
	fails=1
fi

# "CODE   module.testName   : FAILURE"
failed=$(awk '$NF == "FAILURE" && $(NF-1) == ":" {print $1}' "$out" | sort -u)
listed=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$known" | awk '{print $1}' | sort -u)
new=$(comm -23 <(echo "$failed") <(echo "$listed") | sed '/^$/d')
fixed=$(comm -13 <(echo "$failed") <(echo "$listed") | sed '/^$/d')
# (pynfs prints each result twice: as it runs and in its final list)
passed=$(awk '$NF == "PASS" && $(NF-1) == ":" {print $1}' "$out" | sort -u | wc -l)
echo "# nfs$suite: $passed passed, $(echo "$failed" | sed '/^$/d' | wc -l) failed" \
	"($(echo "$listed" | sed "/^$/d" | wc -l) known failures listed)"
if [ -n "$new" ]; then
	fails=1
	for code in $new; do
		echo "not ok - $code fails and is not a known failure:"
		grep -E "^$code .*: FAILURE" -A4 "$out" | tail -n +2 | sed 's/^/#   /'
	done
fi
for code in $fixed; do
	echo "# $code passes now (or did not run): remove it from $(basename "$known")"
done

if ! tw_finish_daemon "$pid" "$log"; then
	fails=1
fi
[ $fails = 0 ] && echo "ok - pynfs nfs$suite: no failure beyond the known ones"
exit $fails
