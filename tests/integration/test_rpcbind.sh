#!/usr/bin/env bash
# test_rpcbind.sh TWINFSD — twinfsd registers NFS v3 and MOUNT v3 with a local
# rpcbind when one runs, and unregisters them when it stops.
#
# rpcbind owns port 111 and /run/rpcbind.sock host-wide, so the test runs its own
# rpcbind inside a network namespace it creates (loopback only) and a private
# mount namespace with its own /run: nothing on the host is touched. The
# namespace is deleted at exit whatever happens.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

twinfsd=$(realpath "$1")
command -v rpcbind >/dev/null || tw_die "rpcbind is not installed (scripts/deps.sh installs it)"
command -v rpcinfo >/dev/null || tw_die "rpcinfo is not installed"

ns=twinfs-rpcb-$$
tw_mktemp rpcbind
dir=$TW_TMP
mkdir -p "$dir/export" "$dir/state"
ip netns add "$ns"
# shellcheck disable=SC2317 # run from the EXIT trap
cleanup_ns() {
	ip netns del "$ns" 2>/dev/null || true
	tw_cleanup
}
trap cleanup_ns EXIT
ip netns exec "$ns" ip link set lo up

# Everything below runs in the namespace; every process it starts it stops by PID.
inner=$(
	cat <<'INNER'
set -u
twinfsd=$1 dir=$2
mount -t tmpfs tmpfs /run && mkdir -p /run/rpcbind
rpcbind -f & rpid=$!
for i in $(seq 50); do rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break; sleep 0.1; done
"$twinfsd" --export "$dir/export" --port 12049 --mount-port 12048 --state-dir "$dir/state" \
	>"$dir/twinfsd.log" 2>&1 & tpid=$!
ok=0
for i in $(seq 100); do
	rpcinfo -p 127.0.0.1 >"$dir/before" 2>&1
	grep -q "100003 *3 *tcp *12049" "$dir/before" && grep -q "100005 *3 *tcp *12048" "$dir/before" && { ok=1; break; }
	sleep 0.1
done
kill -TERM "$tpid"; wait "$tpid"; trc=$?
rpcinfo -p 127.0.0.1 >"$dir/after" 2>&1
kill -TERM "$rpid"; wait "$rpid" 2>/dev/null
fail=0
if [ $ok = 1 ]; then echo "ok - registered NFS v3 (12049) and MOUNT v3 (12048)"; else echo "not ok - not registered:"; cat "$dir/before"; fail=1; fi
if grep -q "10000[35]" "$dir/after"; then echo "not ok - still registered after stop:"; cat "$dir/after"; fail=1; else echo "ok - unregistered at stop"; fi
if [ $trc = 0 ]; then echo "ok - exit status 0"; else echo "not ok - twinfsd exit status $trc"; fail=1; fi
[ $fail = 0 ] || cat "$dir/twinfsd.log"
exit $fail
INNER
)
rc=0
timeout 60 ip netns exec "$ns" unshare -m bash -c "$inner" inner "$twinfsd" "$dir" || rc=$?
if [ $rc = 0 ]; then echo "3 passed, 0 failed"; else echo "rpcbind test failed (status $rc)"; fi
exit $rc
