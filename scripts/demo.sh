#!/usr/bin/env bash
# demo.sh — README command 1: install what is missing, build, and serve a demo
# export over NFSv3 on loopback, in the foreground (Ctrl-C stops it).
#
#   scripts/demo.sh          one node on loopback
#   scripts/demo.sh --pair   a failover pair: nodes A and B and a client, each in a
#                            network namespace made here (192.0.2.0/24, service
#                            address 192.0.2.100), sharing one export directory
#                            and a storage lease; it prints how to mount from the
#                            client namespace and how to move the service.
#
# Environment:
#   TWINFS_DEMO_DIR   directory to export (default /srv/twinfs; gets a hello.txt)
#   PORT              NFS port (default 2049)
#   MPORT             MOUNT port (default 20048)
#   BIND              listen address (default 127.0.0.1)
#   TWINFS_STATE_DIR  state directory (default /var/lib/twinfs)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
pair=0

case "${1:-}" in
-h | --help)
	sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d'
	exit 0
	;;
"") ;;
--pair) pair=1 ;;
*)
	echo "demo.sh: no arguments expected (settings come from the environment; --help)" >&2
	exit 2
	;;
esac

dir=${TWINFS_DEMO_DIR:-/srv/twinfs}
port=${PORT:-2049}
mport=${MPORT:-20048}
bind=${BIND:-127.0.0.1}
state=${TWINFS_STATE_DIR:-/var/lib/twinfs}

bash scripts/deps.sh
# Quiet unless it fails: the build log is only interesting then.
buildlog=$(mktemp)
if ! bash scripts/build.sh >"$buildlog" 2>&1; then
	cat "$buildlog" >&2
	rm -f "$buildlog"
	echo "demo.sh: build failed" >&2
	exit 1
fi
rm -f "$buildlog"
twinfsd=$root/build/server/twinfsd
[ -x "$twinfsd" ] || {
	echo "demo.sh: $twinfsd was not built" >&2
	exit 1
}

if [ "$pair" = 1 ]; then
	# The test bed of the pair tests, kept running until Ctrl-C; its EXIT trap
	# stops the daemons and removes the namespaces.
	set -- "$twinfsd"
	# shellcheck source=tests/integration/lib.sh
	source "$root/tests/integration/lib.sh"
	PAIR_NAME=demo
	# shellcheck source=tests/integration/pairlib.sh
	source "$root/tests/integration/pairlib.sh"
	wait_roles ACTIVE STANDBY >/dev/null || {
		echo "demo.sh: the pair did not come up; logs: $dir/a.log $dir/b.log" >&2
		exit 1
	}
	echo "Hello from a twinfs pair." >"$dir/share/hello.txt"
	twinctl=$(realpath "$twinctl")
	cat <<MSG
twinfs pair demo: node A ($nsa, 192.0.2.11) serves $dir/share as /share on the
service address $VIP; node B ($nsb, 192.0.2.12) stands by. Logs: $dir/a.log, $dir/b.log

From the client namespace ($nsc, 192.0.2.2):
    ip netns exec $nsc nfs-cat 'nfs://$VIP/share/hello.txt?version=3&nfsport=2049&mountport=20048'
    ip netns exec $nsc mount -t nfs -o vers=3,nolock $VIP:/share /mnt   # kernel client

Operate the pair:
    $twinctl -s $dir/a/admin.sock pair          # roles, lease, mirror
    $twinctl -s $dir/a/admin.sock handover      # A hands the service to B
    $twinctl -s $dir/b/admin.sock giveback      # and B gives it back
    kill -9 $pida                                 # B takes over once A's lease expired

Ctrl-C stops both nodes and removes the namespaces.
MSG
	trap 'exit 0' INT TERM
	while sleep 1; do :; done
fi

# Check the ports before starting, so that the message names the port and who
# holds it instead of a bind error in the daemon's log.
busy=0
for p in "$port" "$mport"; do
	if ss -Htln "sport = :$p" | grep -q .; then
		echo "demo.sh: TCP port $p is already in use:" >&2
		ss -Htlnp "sport = :$p" >&2 || true
		busy=1
	fi
done
if [ $busy = 1 ]; then
	echo "demo.sh: stop that server, or choose other ports, e.g." \
		"PORT=12049 MPORT=12048 $0" >&2
	exit 1
fi

mkdir -p "$dir" "$state"
dir=$(cd "$dir" && pwd)
[ -e "$dir/hello.txt" ] || echo "Hello from twinfs." >"$dir/hello.txt"

cat <<EOF
twinfs demo: serving $dir over NFSv3 on $bind (NFS port $port, MOUNT port $mport).

Mount it with the kernel client (on a machine that has one):
    mount -t nfs -o vers=3,proto=tcp,port=$port,mountport=$mport,nolock $bind:$dir /mnt

or list it with libnfs (no mount needed):
    nfs-ls 'nfs://$bind$dir?version=3&nfsport=$port&mountport=$mport'
    nfs-cat 'nfs://$bind$dir/hello.txt?version=3&nfsport=$port&mountport=$mport'

Ctrl-C stops the server.

EOF

# exec: the daemon gets Ctrl-C (SIGINT) itself and exits cleanly.
exec "$twinfsd" --export "$dir" --bind "$bind" --port "$port" --mount-port "$mport" \
	--state-dir "$state"
