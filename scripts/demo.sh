#!/usr/bin/env bash
# demo.sh — README command 1: install what is missing, build, and serve a demo
# export over NFSv3 on loopback, in the foreground (Ctrl-C stops it).
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

case "${1:-}" in
-h | --help)
	sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d'
	exit 0
	;;
"") ;;
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
