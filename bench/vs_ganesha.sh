#!/usr/bin/env bash
# vs_ganesha.sh [ROUNDS] — twinfsd and NFS-Ganesha side by side, NFSv3, 8 libnfs
# clients, on loopback, alternating A B A B so machine noise hits both alike.
# Prints every run and, at the end, the medians and the twinfs/Ganesha ratio.
#
# Load generator and Ganesha launcher: ../shared/tools/nfsload and tools/ganesha
# (scripts/deps.sh --bench installs Ganesha). Stops both servers by PID and
# removes its work directory at the end.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${1:-3}
shared=${TWINFS_SHARED:-$root/../shared}
twinfsd=$root/build/server/twinfsd
[ -x "$twinfsd" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
bash "$root/scripts/deps.sh" --bench
work=$(mktemp -d /tmp/twinfs-vsg.XXXXXX)
tpid=
cleanup() {
	[ -n "$tpid" ] && kill "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null
	GANESHA_WORKDIR=$work/gw "$shared/tools/ganesha/stop.sh" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
cp -r "$shared/tools/nfsload" "$work/nfsload"
make -s -C "$work/nfsload" >/dev/null
mkdir -p "$work/tw" "$work/state"
"$twinfsd" --export "$work/tw" --port 32149 --mount-port 32148 --state-dir "$work/state" \
	--log-level warn 2>"$work/twinfsd.log" &
tpid=$!
gpid=$(GANESHA_WORKDIR=$work/gw "$shared/tools/ganesha/start.sh" -p 32249 -m 32248 -F)
sleep 1
for _ in $(seq "$rounds"); do
	python3 "$work/nfsload/bench.py" --runs 1 --server-pid "$tpid" --label twinfs-v3 \
		--out "$work/res.jsonl" "nfs://127.0.0.1$work/tw?version=3&nfsport=32149&mountport=32148" \
		-- -c 8 -t 10 -s 256
	python3 "$work/nfsload/bench.py" --runs 1 --server-pid "$gpid" --label ganesha-v3 \
		--out "$work/res.jsonl" "nfs://127.0.0.1/export?version=3&nfsport=32249&mountport=32248" \
		-- -c 8 -t 10 -s 256
done
python3 - "$work/res.jsonl" <<'PY'
import collections, json, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    d[(r["label"], r["workload"])].append(r)
print("| workload | twinfs | Ganesha | ratio | p99 µs twinfs / Ganesha |")
print("| --- | --- | --- | --- | --- |")
for w in ("getattr", "lookup", "create", "write", "read"):
    key = "mb_s" if w in ("write", "read") else "ops_s"
    t = statistics.median(float(r[key]) for r in d[("twinfs-v3", w)])
    g = statistics.median(float(r[key]) for r in d[("ganesha-v3", w)])
    tp = statistics.median(float(r["p99_us"]) for r in d[("twinfs-v3", w)])
    gp = statistics.median(float(r["p99_us"]) for r in d[("ganesha-v3", w)])
    unit = "MB/s" if key == "mb_s" else "ops/s"
    print(f"| {w} | {t:.0f} {unit} | {g:.0f} {unit} | {t / g:.2f} | {tp:.0f} / {gp:.0f} |")
PY
