#!/usr/bin/env bash
# test_vip.sh VIPTOOL — the service address moves: added on node A, announced by a
# gratuitous ARP that node B's neighbour table picks up, removed again.
# Two network namespaces made here, joined by a veth pair, addresses in
# 192.0.2.0/24 (documentation range); both are deleted at exit.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
viptool=$(realpath "$1")
a=twinfs-vipa-$$ b=twinfs-vipb-$$
# shellcheck disable=SC2317 # run from the EXIT trap
cleanup_ns() {
	ip netns del "$a" 2>/dev/null || true
	ip netns del "$b" 2>/dev/null || true
	tw_cleanup
}
trap cleanup_ns EXIT
ip netns add "$a"
ip netns add "$b"
ip link add vipa type veth peer name vipb
ip link set vipa netns "$a"
ip link set vipb netns "$b"
ip -n "$a" addr add 192.0.2.1/24 dev vipa
ip -n "$b" addr add 192.0.2.2/24 dev vipb
ip -n "$a" link set vipa up
ip -n "$b" link set vipb up
ip -n "$a" link set lo up
# B learns neighbours from unsolicited ARP, as a client's switch/router would.
ip netns exec "$b" sysctl -qw net.ipv4.conf.vipb.arp_accept=1

pass=0 fail=0
check() { # check NAME CMD...
	if "${@:2}"; then echo "ok - $1"; pass=$((pass + 1)); else echo "not ok - $1"; fail=$((fail + 1)); fi
}
mac_a=$(ip -n "$a" -o link show vipa | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
check "not present before add" bash -c "! ip netns exec $a $viptool present vipa 192.0.2.100 24"
check "add" ip netns exec "$a" "$viptool" add vipa 192.0.2.100 24
check "present after add" ip netns exec "$a" "$viptool" present vipa 192.0.2.100 24
check "add again is a no-op" ip netns exec "$a" "$viptool" add vipa 192.0.2.100 24
check "announce" ip netns exec "$a" "$viptool" announce vipa 192.0.2.100 24
learnt() {
	for _ in $(seq 30); do
		ip -n "$b" neigh show 192.0.2.100 | grep -qi "$mac_a" && return 0
		sleep 0.1
	done
	ip -n "$b" neigh show >&2
	return 1
}
check "the partner's neighbour learnt the address at A's MAC ($mac_a)" learnt
check "del" ip netns exec "$a" "$viptool" del vipa 192.0.2.100 24
check "not present after del" bash -c "! ip netns exec $a $viptool present vipa 192.0.2.100 24"
check "del again is a no-op" ip netns exec "$a" "$viptool" del vipa 192.0.2.100 24
check "bad interface gives an error" bash -c "! ip netns exec $a $viptool add nosuch0 192.0.2.101 24 2>/dev/null"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
