#!/usr/bin/env bash
# test_pairload_reconnect.sh PAIRLOAD CONNFAULT — run by run_with_server.sh.
#
# pairload's clients must ride out a reconnect that the server resets just as it
# completes (connfault.c makes that happen every ~CONNFAULT_EVERY replies): no
# crash, no error, nothing lost. With libnfs 4.0's synchronous calls, as pairload
# had them, such a call returned "nfs_service failed" and its late reply wrote into
# a dead stack frame: pairload crashed within seconds (pairload.c, call_wait).
set -euo pipefail

if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -f "$2" ]; then
	echo "usage: $0 PAIRLOAD CONNFAULT_SO (under run_with_server.sh)" >&2
	exit 2
fi
: "${TWINFS_DIR:?run me under run_with_server.sh}"
out=$(mktemp -d "${TMPDIR:-/tmp}/pairload-reconnect.XXXXXX")
trap 'rm -rf "$out"' EXIT
url="nfs://127.0.0.1$TWINFS_DIR/rw?version=3&nfsport=$TWINFS_PORT&mountport=$TWINFS_MOUNT_PORT"
rc=0
# An ASan build checks that its runtime is loaded first; connfault is preloaded.
LD_PRELOAD=$2 CONNFAULT_EVERY=${CONNFAULT_EVERY:-50} \
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:detect_stack_use_after_return=1 \
	"$1" -u "$url" -c 4 -t "${PAIRLOAD_SECS:-10}" >"$out/out" 2>"$out/err" || rc=$?
cat "$out/out"
sed 's/^/# /' "$out/err" | head -40
resets=$(sed -n 's/^connfault: \([0-9]*\) resets$/\1/p' "$out/err")
if [ "$rc" != 0 ]; then
	echo "not ok - pairload exited $rc under connfault"
	exit 1
fi
if [ "${resets:-0}" -lt 1 ]; then
	echo "not ok - connfault injected no reset (is it preloaded?)"
	exit 1
fi
echo "ok - pairload: no crash, error or loss across $resets reset reconnects"
