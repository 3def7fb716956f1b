#!/usr/bin/env bash
# test_tickle.sh TICKLETOOL — tickle ACKs (failover/tickle) reset a client's TCP
# connection to the old node at once after the service address moved.
#
# Three network namespaces made here (node A, node B, the client) on a bridge,
# addresses in 192.0.2.0/24 and 2001:db8::/64 (documentation ranges, never
# routed). A listens on the service address (IPv4 and IPv6) and the client
# opens five idle connections to it, each in a blocking recv. Then A's link
# goes down (A frozen: its sockets stay, silent) and the address moves to B,
# which already listens (as twinfsd does, DESIGN.md "The pair"), with a
# gratuitous ARP. Checked: with no tickle every connection is still open 1 s
# later; a tickle from B resets its connection within 1 s (IPv4, IPv4-mapped,
# IPv6) and no other; without CAP_NET_RAW the tool fails cleanly. Everything
# is removed at exit, whatever happens.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tickletool=$(realpath "$1")
viptool=$(dirname "$tickletool")/viptool
[ -x "$viptool" ] || tw_die "viptool missing beside $tickletool"
tw_mktemp tickle
dir=$TW_TMP
id=$$
nsa=tka-$id nsb=tkb-$id nsc=tkc-$id
br=tkbr$((id % 100000))
VIP=192.0.2.101 VIP6=2001:db8::101 CLI=192.0.2.33 CLI6=2001:db8::33
# shellcheck disable=SC2317 # run from the EXIT trap
cleanup_tickle() {
	local pid n
	for pid in "${TW_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	# The veths go explicitly: A's orphaned sockets (FIN pending on a down
	# link) keep its namespace, and so its veth, alive for minutes after
	# `ip netns del`.
	for n in 1 2 3; do ip link del "tk$n-$id" 2>/dev/null || true; done
	ip netns del "$nsa" 2>/dev/null || true
	ip netns del "$nsb" 2>/dev/null || true
	ip netns del "$nsc" 2>/dev/null || true
	ip link del "$br" 2>/dev/null || true
	tw_cleanup
}
trap cleanup_tickle EXIT

ip link add "$br" type bridge
ip link set "$br" up
n=0
for ns in "$nsa" "$nsb" "$nsc"; do
	n=$((n + 1))
	ip netns add "$ns"
	ip link add "tk$n-$id" type veth peer name eth0 netns "$ns"
	ip link set "tk$n-$id" master "$br" up
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth0 up
done
ip -n "$nsa" addr add 192.0.2.31/24 dev eth0
ip -n "$nsb" addr add 192.0.2.32/24 dev eth0
ip -n "$nsc" addr add $CLI/24 dev eth0
ip -n "$nsa" addr add 2001:db8::31/64 dev eth0 nodad
ip -n "$nsb" addr add 2001:db8::32/64 dev eth0 nodad
ip -n "$nsc" addr add $CLI6/64 dev eth0 nodad
ip -n "$nsa" addr add $VIP/24 dev eth0
ip -n "$nsa" addr add $VIP6/64 dev eth0 nodad

# The server: listens on each ADDR (port 2049), accepts, and never reads or
# writes, like an NFS server between requests.
cat >"$dir/server.py" <<'PY'
import socket, sys, selectors
sel = selectors.DefaultSelector()
for a in sys.argv[1:]:
    s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
    if a == "::":
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a, 2049))
    s.listen(16)
    sel.register(s, selectors.EVENT_READ)
print("listening", flush=True)
held = []
while True:
    for key, _ in sel.select():
        held.append(key.fileobj.accept()[0])
PY
# The client: one connection per ADDR, each in a blocking recv in its own
# thread. Prints "conn I PORT" when connected, "conn I reset TIME" (wall clock)
# on ECONNRESET, "conn I eof"/"conn I error ..." otherwise.
cat >"$dir/client.py" <<'PY'
import socket, sys, threading, time
def wait(i, s):
    try:
        data = s.recv(1)
        print(f"conn {i} eof" if not data else f"conn {i} data", flush=True)
    except ConnectionResetError:
        print(f"conn {i} reset {time.time():.6f}", flush=True)
    except OSError as e:
        print(f"conn {i} error {e}", flush=True)
socks = []
for i, a in enumerate(sys.argv[1:]):
    s = socket.create_connection((a, 2049), timeout=5)
    s.settimeout(None)
    socks.append(s)
    print(f"conn {i} {s.getsockname()[1]}", flush=True)
for i, s in enumerate(socks):
    threading.Thread(target=wait, args=(i, s), daemon=True).start()
threading.Event().wait()
PY

# wait_line FILE PATTERN SECONDS: bounded poll for a line in a log.
wait_line() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -q "$2" "$1" && return 0
		sleep 0.05
	done
	echo "# no '$2' in $1 after $3 s:" >&2
	cat "$1" >&2
	return 1
}
ip netns exec "$nsa" python3 "$dir/server.py" $VIP $VIP6 </dev/null >"$dir/a.log" 2>&1 &
TW_PIDS+=($!)
# B listens before the address arrives, on the wildcard (dual-stack).
ip netns exec "$nsb" python3 "$dir/server.py" :: </dev/null >"$dir/b.log" 2>&1 &
TW_PIDS+=($!)
wait_line "$dir/a.log" listening 10
wait_line "$dir/b.log" listening 10
# conn 0-2: IPv4 (0 stays untickled), conn 3-4: IPv6 (3 stays untickled).
ip netns exec "$nsc" python3 "$dir/client.py" $VIP $VIP $VIP $VIP6 $VIP6 </dev/null >"$dir/c.log" 2>&1 &
TW_PIDS+=($!)
wait_line "$dir/c.log" "^conn 4 [0-9]" 10
port() { sed -n "s/^conn $1 \([0-9]*\)$/\1/p" "$dir/c.log"; }
# state I: open (no word from the client's recv yet), or what ended it.
state() {
	local l
	l=$(grep "^conn $1 [a-z]" "$dir/c.log" || true)
	[ -n "$l" ] && echo "$l" | cut -d' ' -f3 || echo open
}

pass=0 fail=0
check() { # check NAME CMD...
	if "${@:2}"; then echo "ok - $1"; pass=$((pass + 1)); else echo "not ok - $1"; fail=$((fail + 1)); fi
}
all_open() {
	local i
	for i in "$@"; do
		[ "$(state "$i")" = open ] || {
			echo "# conn $i: $(state "$i")" >&2
			return 1
		}
	done
}
est=$(ip netns exec "$nsc" ss -Htn state established "( dport = :2049 )" | wc -l)
check "five connections established to A" [ "$est" = 5 ]

# The move: A freezes (link down, its sockets stay), the address comes up on B
# with a gratuitous ARP. IPv6 has no unsolicited neighbour advertisement in
# failover/vip yet: removing the client's entry stands in for it.
ip -n "$nsa" link set eth0 down
check "vip add on B" ip netns exec "$nsb" "$viptool" add eth0 $VIP 24
ip -n "$nsb" addr add $VIP6/64 dev eth0 nodad
check "gratuitous ARP from B" ip netns exec "$nsb" "$viptool" announce eth0 $VIP 24
ip -n "$nsc" neigh del $VIP6 dev eth0 2>/dev/null || true
# Control: nothing but a tickle resets these connections. The wait is the
# observation window itself, not a poll.
sleep 1
check "no tickle: every connection still open 1 s after the move" all_open 0 1 2 3 4

# tickle_case NAME CONN SERVER_ADDR CLIENT_ADDR: the tickle resets CONN within 1 s.
tickle_case() {
	local name=$1 i=$2 t0 out t1 dt
	t0=$(date +%s.%N)
	out=$(ip netns exec "$nsb" "$tickletool" -c 3 "$3" 2049 "$4" "$(port "$i")" 2>&1) || {
		echo "# tickletool: $out" >&2
		return 1
	}
	[ "$out" = "tickled 1" ] || {
		echo "# tickletool said: $out" >&2
		return 1
	}
	wait_line "$dir/c.log" "^conn $i [a-z]" 3 || return 1
	[ "$(state "$i")" = reset ] || {
		echo "# conn $i ended with: $(state "$i") (wanted reset)" >&2
		return 1
	}
	t1=$(sed -n "s/^conn $i reset //p" "$dir/c.log")
	dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	echo "# $name: reset $dt s after the tickle started"
	awk -v d="$dt" 'BEGIN { exit !(d >= 0 && d <= 1.0) }'
}
check "tickle (IPv4) resets conn 1 within 1 s" tickle_case ipv4 1 $VIP $CLI
check "tickle (IPv4-mapped) resets conn 2 within 1 s" tickle_case mapped 2 ::ffff:$VIP ::ffff:$CLI
check "tickle (IPv6) resets conn 4 within 1 s" tickle_case ipv6 4 $VIP6 $CLI6
check "untickled connections still open" all_open 0 3
no_raw() {
	local out
	out=$(ip netns exec "$nsb" setpriv --inh-caps=-net_raw --bounding-set=-net_raw \
		"$tickletool" $VIP 2049 $CLI "$(port 0)" 2>&1) && return 1
	[[ "$out" == *"Operation not permitted"* ]] || {
		echo "# without CAP_NET_RAW: $out" >&2
		return 1
	}
}
check "without CAP_NET_RAW: fails with EPERM, sends nothing" no_raw
check "... and conn 0 is still open" all_open 0
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
