#!/usr/bin/env bash
# test_twinctl.sh TWINFSD — the admin socket and twinctl: status and stats answer,
# an unknown command is an error (exit 1), a daemon that is not there is exit 2,
# and bad input on the socket (binary, overlong, silent) gets an error or a close
# while the daemon keeps answering.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
twinfsd=$(realpath "$1")
twinctl=$(dirname "$twinfsd")/../cli/twinctl
[ -x "$twinctl" ] || tw_die "twinctl not built next to twinfsd ($twinctl)"
tw_mktemp twinctl
dir=$TW_TMP
mkdir -p "$dir/export" "$dir/state"
build() { TW_CMD=("$twinfsd" --export "$dir/export" --port "$TW_NFS_PORT" --mount-port "$TW_MOUNT_PORT" --state-dir "$dir/state"); }
tw_start_daemon "$dir/twinfsd.log" build || { tw_show_log "$dir/twinfsd.log"; exit 1; }
export TWINFS_ADMIN_SOCKET=$dir/state/admin.sock
pass=0 fail=0
check() { if "${@:2}"; then echo "ok - $1"; pass=$((pass + 1)); else echo "not ok - $1"; fail=$((fail + 1)); fi; }
status_ok() { "$twinctl" status | grep "^nfs_port $TW_NFS_PORT\$" >/dev/null; }
check "status names the NFS port" status_ok
json_ok() { "$twinctl" status --json | tail -n 1 | python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(0 if d["role"] == "single" and d["nfs_port"] > 0 else 1)'; }
check "status --json is a JSON object with the role and port" json_ok
check "stats shows the request table" bash -c "'$twinctl' stats | grep '^drc on' >/dev/null"
check "socket is root-only (0600 or stricter)" bash -c "[ \$(stat -c %a '$TWINFS_ADMIN_SOCKET') = 700 ] || [ \$(stat -c %a '$TWINFS_ADMIN_SOCKET') = 600 ]"
unknown() { local rc=0; "$twinctl" frobnicate >/dev/null 2>&1 || rc=$?; [ $rc = 1 ]; }
check "unknown command exits 1" unknown
absent() { local rc=0; TWINFS_ADMIN_SOCKET=$dir/nosuch.sock "$twinctl" status >/dev/null 2>&1 || rc=$?; [ $rc = 2 ]; }
check "no daemon exits 2" absent
raw() { python3 - "$TWINFS_ADMIN_SOCKET" "$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
kind = sys.argv[2]
if kind == "binary": s.sendall(b"\x00\xff\x01status\n")
elif kind == "long": s.sendall(b"a" * 5000 + b"\n")
elif kind == "words": s.sendall(b" ".join([b"w"] * 20) + b"\n")
elif kind == "silent": time.sleep(0.1)
try:
    d = s.recv(4096)
except socket.timeout:
    sys.exit(1)
sys.exit(0 if (d == b"" or d.startswith(b"error")) else 1)
PY
}
for k in binary long words silent; do check "bad input ($k) gets an error or a close" raw "$k"; done
check "still answers after bad input" status_ok
if tw_finish_daemon "$TW_PID" "$dir/twinfsd.log"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
