# shellcheck shell=bash
# pairlib.sh — the pair test bed, sourced by test_pair*.sh after lib.sh, with
# TWINFSD as $1 and PAIR_NAME set: three network namespaces made here (node A
# 192.0.2.11, node B 192.0.2.12, the client 192.0.2.2) on a bridge, the
# service address 192.0.2.100 (documentation range, never routed), one shared
# export directory, the same handle and peer keys on both nodes, and both
# daemons started (A preferred). Provides check, ctl, role, wait_roles, vip_on,
# only_on. Everything is stopped and removed at exit, whatever happens.
twinfsd=$(realpath "$1")
twinctl=$(dirname "$twinfsd")/../cli/twinctl
tw_mktemp "$PAIR_NAME"
dir=$TW_TMP
id=$$
nsa=twa-$id nsb=twb-$id nsc=twc-$id
VIP=192.0.2.100
# shellcheck disable=SC2317 # run from the EXIT trap
cleanup_pair() {
	local pid
	for pid in "${TW_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	sleep 0.3
	ip netns del "$nsa" 2>/dev/null || true
	ip netns del "$nsb" 2>/dev/null || true
	ip netns del "$nsc" 2>/dev/null || true
	ip netns del "$nss" 2>/dev/null || true
	tw_cleanup
}
trap cleanup_pair EXIT

# The network: a bridge in a namespace of its own (the "switch"), a veth from it
# to each node's and the client's namespace. Nothing of it is in the root
# namespace: a host that has an address in 192.0.2.0/24 itself (this one has
# 192.0.2.2) would otherwise answer ARP for it on the bridge and take the
# client's packets: a handover then looked like a 5 s stall, and as libnfs
# "POLLHUP" errors.
nss=tws-$id
br=twbr
ip netns add "$nss"
ip -n "$nss" link add "$br" type bridge
ip -n "$nss" link set "$br" up
n=0
for ns in "$nsa" "$nsb" "$nsc"; do
	n=$((n + 1))
	ip netns add "$ns"
	ip -n "$nss" link add "port$n" type veth peer name eth0 netns "$ns"
	ip -n "$nss" link set "port$n" master "$br" up
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth0 up
done
ip -n "$nsa" addr add 192.0.2.11/24 dev eth0
ip -n "$nsb" addr add 192.0.2.12/24 dev eth0
ip -n "$nsc" addr add 192.0.2.2/24 dev eth0
# The clients run as root, so libnfs binds reserved source ports, taking them in
# turn from an offset of the current time: a client started soon after another
# walks into ports whose connections to the same server are still in TIME_WAIT,
# and each connect() fails. Let the client namespace reuse them (as a kernel
# client reuses its port); tcp_tw_reuse is per namespace, and this one is ours.
ip netns exec "$nsc" sysctl -qw net.ipv4.tcp_tw_reuse=1

# Shared storage: one directory both nodes export; the same handle secret.
# probe-a and probe-b: each node's view of the storage its health probe writes
# to (one directory on real shared storage; two here, to fail one node's).
mkdir -p "$dir/share" "$dir/a" "$dir/b" "$dir/probe-a" "$dir/probe-b" "$dir/lease"
head -c 16 /dev/urandom >"$dir/a/handle.key"
cp "$dir/a/handle.key" "$dir/b/handle.key"
head -c 64 /dev/urandom >"$dir/peer.key"
chmod 600 "$dir/peer.key" "$dir/a/handle.key" "$dir/b/handle.key"
# PAIR_PEERLINK=1: the peer link gets a veth of its own between A and B
# (192.0.2.61 and .62, /32 routes), so a test can cut it and nothing else; and
# a second link for heartbeats (peer_address2: 192.0.2.71 and .72) on another.
PEER_NET=192.0.2
if [ "${PAIR_PEERLINK:-0}" = 1 ]; then
	ip link add "pla-$id" netns "$nsa" type veth peer name "plb-$id" netns "$nsb"
	ip -n "$nsa" addr add 192.0.2.61/32 dev "pla-$id"
	ip -n "$nsb" addr add 192.0.2.62/32 dev "plb-$id"
	ip -n "$nsa" link set "pla-$id" up
	ip -n "$nsb" link set "plb-$id" up
	ip -n "$nsa" route add 192.0.2.62/32 dev "pla-$id"
	ip -n "$nsb" route add 192.0.2.61/32 dev "plb-$id"
	ip link add "l2a-$id" netns "$nsa" type veth peer name "l2b-$id" netns "$nsb"
	ip -n "$nsa" addr add 192.0.2.71/32 dev "l2a-$id"
	ip -n "$nsb" addr add 192.0.2.72/32 dev "l2b-$id"
	ip -n "$nsa" link set "l2a-$id" up
	ip -n "$nsb" link set "l2b-$id" up
	ip -n "$nsa" route add 192.0.2.72/32 dev "l2a-$id"
	ip -n "$nsb" route add 192.0.2.71/32 dev "l2b-$id"
fi
# PAIR_FENCE=0: no fence command (the storage lease alone fences).
node_conf() { # node_conf ID SELF PEER PREFERRED FENCE (fence-FENCE.sh fences the partner)
	cat <<CONF
server {
	bind = 0.0.0.0
	nfs_port = 2049
	mount_port = 20048
	state_dir = $dir/$2
	rpcbind = false
}
export {
	id = 1
	path = $dir/share
	pseudo = /share
	clients = 192.0.2.0/24
	squash = no_root_squash
}
pair {
	node_id = $1
	listen_address = $PEER_NET.$3
	peer_address = $PEER_NET.$4
	peer_address2 = $( [ "${PAIR_PEERLINK:-0}" = 1 ] && echo "192.0.2.$(($4 + 10))" || echo '""')
	key_file = $dir/peer.key
	service_address = $VIP
	service_prefix = 24
	service_interface = eth0
	preferred = $5
	heartbeat_ms = 100
	dead_ms = 1000
	mirror = ${PAIR_MIRROR:-sync}
	lease_path = $dir/lease/twinfs.lease
	lease_ms = ${PAIR_LEASE_MS:-1000}
	probe_dir = $dir/probe-$2
	probe_interval_ms = 200
	probe_timeout_ms = 1000
	fence_command = $( [ "${PAIR_FENCE:-1}" = 1 ] && echo "$dir/fence-$6.sh" || echo '""')
	release_hook = $( [ "${PAIR_RELEASE_HOOK:-0}" = 1 ] && echo "$dir/release-$2.sh" || echo '""')
}
CONF
}
# The fence: stands in for a power switch by taking the service address off the
# other node's namespace (a process killed with -9 leaves it configured).
for n in a b; do
	other=$([ $n = a ] && echo "$nsb" || echo "$nsa")
	printf '#!/bin/sh\nip netns exec %s ip addr del %s/24 dev eth0 2>/dev/null; exit 0\n' \
		"$other" "$VIP" >"$dir/fence-$n.sh"
	chmod 755 "$dir/fence-$n.sh"
	# PAIR_RELEASE_HOOK=1: a release hook that takes 3 s once, when the file
	# slow-release-NODE exists (a release a test wants to be slow).
	printf '#!/bin/sh\nrm %s 2>/dev/null && sleep 3\nexit 0\n' "$dir/slow-release-$n" >"$dir/release-$n.sh"
	chmod 755 "$dir/release-$n.sh"
done
if [ "${PAIR_PEERLINK:-0}" = 1 ]; then
	node_conf 1 a 61 62 true a >"$dir/a.conf"
	node_conf 2 b 62 61 false b >"$dir/b.conf"
else
	node_conf 1 a 11 12 true a >"$dir/a.conf"
	node_conf 2 b 12 11 false b >"$dir/b.conf"
fi
# pair_start NODE: (re)starts node a's or b's daemon; pida and pidb follow it.
pair_start() {
	local ns=$nsa
	[ "$1" = b ] && ns=$nsb
	ip netns exec "$ns" "$twinfsd" --config "$dir/$1.conf" </dev/null >>"$dir/$1.log" 2>&1 &
	TW_PIDS+=($!)
	if [ "$1" = a ]; then pida=$!; else pidb=$!; fi
}
pair_start a
pair_start b

pass=0 fail=0
check() { if "${@:2}"; then echo "ok - $1"; pass=$((pass + 1)); else echo "not ok - $1"; fail=$((fail + 1)); fi; }
ctl() { "$twinctl" -s "$dir/$1/admin.sock" "${@:2}" >/dev/null; }
role() { "$twinctl" -s "$dir/$1/admin.sock" pair 2>/dev/null | sed -n 's/^role //p'; }
wait_roles() { # wait_roles ROLE_A ROLE_B: bounded, 20 s
	for _ in $(seq 200); do
		[ "$(role a)" = "$1" ] && [ "$(role b)" = "$2" ] && return 0
		sleep 0.1
	done
	echo "# roles: a=$(role a) b=$(role b), wanted $1/$2" >&2
	return 1
}
# load_ready FILE: pairload -R FILE's clients have all mounted (bounded, 15 s), so
# that a failover starts only once the load runs; then a moment of load.
load_ready() {
	for _ in $(seq 150); do
		[ -e "$1" ] && { sleep 0.5; return 0; }
		sleep 0.1
	done
	echo "# pairload's clients did not all mount within 15 s" >&2
}
vip_on() { local a; a=$(ip -n "$1" addr show dev eth0); [[ "$a" == *"inet $VIP/"* ]]; }
# pair_end [LOG...]: stops both nodes (each must exit 0 on SIGTERM), shows the
# given logs and the nodes' on a failure, prints the count; the test's status.
pair_end() {
	local n pid rc
	for n in a b; do
		if [ "$n" = a ]; then pid=$pida; else pid=$pidb; fi
		if tw_alive "$pid"; then
			kill -TERM "$pid"
			rc=0
			wait "$pid" || rc=$?
			check "node $n exits 0 on SIGTERM" test "$rc" = 0
		else
			check "node $n still running at the end" false
		fi
	done
	if [ "$fail" != 0 ]; then
		for n in "$@" "$dir/a.log" "$dir/b.log"; do tw_show_log "$n" 300; done
	fi
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
}
only_on() { vip_on "$1" && ! vip_on "$2" && return 0; ip -n "$1" -br addr >&2; ip -n "$2" -br addr >&2; return 1; }
