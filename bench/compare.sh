#!/usr/bin/env bash
# compare.sh [ROUNDS] [CLIENTS] — twinfsd and NFS-Ganesha side by side with bench/twload
# (NFSv3, or NFSv4.0 with VERS=4; loopback; defaults 3 rounds and 8 clients; bench/compare is the same script).
# CLIENTS may be a comma list (1,8,64), also given as the CLIENTS environment variable;
# each count is a series of its own. Every workload runs on both servers in turn, twinfs
# then Ganesha, then the local filesystem doing the same operations as plain syscalls
# (twload -u file://, the physical reference), ROUNDS times, so machine noise hits all
# alike. Prints one Markdown table per client count with medians over the rounds:
# throughput (local, twinfs, Ganesha), the twinfs/Ganesha ratio, p50 and p99 latency,
# server CPU seconds per 1000 operations (utime+stime of the server during the timed
# part, see twload -p), the load generator's own CPU per 1000 operations (it shares
# the cores with the server: what it spends is not the server's to use), then each
# server's peak RSS (VmHWM) during that series.
#
# Environment: VERS (3, default, or 4: NFSv4.0 through libnfs), WORKLOADS (a
# space-separated subset; default all for v3, "getattr lookup create" for v4, as
# libnfs cannot send v4 WRITEs above 3.5 KiB), SECS (twload -t, default 10), MIB
# (twload -s, default 256),
# BENCH_FS (disk, default: the exports under /tmp; tmpfs: on a tmpfs the script mounts,
# which takes the disk filesystem's own cost out of the metadata figures: on this
# machine's ext4, which has no journal, every create scans the inodes freed in the
# last 30 s, so create+remove slows down the longer a run goes; needs root),
# TWINFSD (default build/server/twinfsd), TWLOAD (default build/bench/twload, else
# build-bench/bench/twload), KEEP_RAW=1 prints every twload line too.
# Ganesha comes from ../shared/tools/ganesha (scripts/deps.sh --bench installs it); if
# ganesha.nfsd is missing, twinfsd runs alone. Both servers get their own temp export,
# are stopped by PID, and the work directory is removed at the end.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${1:-3}
clients_arg=${2:-${CLIENTS:-8}}
IFS=, read -r -a client_counts <<<"$clients_arg"
for n in "${client_counts[@]}"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: bad client count '$n'" >&2; exit 2; }
done
secs=${SECS:-10}
mib=${MIB:-256}
shared=${TWINFS_SHARED:-$root/../shared}
vers=${VERS:-3}
case "$vers" in 3) deflt="getattr lookup create readdirplus write read randread" ;;
4) deflt="getattr lookup create" ;;
*) echo "compare.sh: VERS must be 3 or 4" >&2; exit 2 ;;
esac
read -r -a workloads <<<"${WORKLOADS:-$deflt}"

twinfsd=${TWINFSD:-$root/build/server/twinfsd}
twload=${TWLOAD:-}
if [ -z "$twload" ]; then
	for t in "$root/build/bench/twload" "$root/build-bench/bench/twload"; do
		[ -x "$t" ] && twload=$t && break
	done
fi
[ -x "$twinfsd" ] || { echo "compare.sh: no twinfsd at $twinfsd (scripts/build.sh)" >&2; exit 2; }
[ -x "${twload:-}" ] || { echo "compare.sh: no twload built (needs libnfs-dev)" >&2; exit 2; }
have_ganesha=1
if ! command -v ganesha.nfsd >/dev/null || [ ! -x "$shared/tools/ganesha/start.sh" ]; then
	echo "compare.sh: NFS-Ganesha is not installed (scripts/deps.sh --bench); twinfsd alone" >&2
	have_ganesha=0
fi

work=$(mktemp -d /tmp/twinfs-compare.XXXXXX)
data=$work
tpid=
gstarted=0
cleanup() {
	if [ -n "$tpid" ]; then
		kill "$tpid" 2>/dev/null || true
		wait "$tpid" 2>/dev/null || true
	fi
	if [ "$gstarted" = 1 ]; then
		GANESHA_WORKDIR=$work/gw "$shared/tools/ganesha/stop.sh" >/dev/null 2>&1 || true
	fi
	if [ "$data" != "$work" ]; then umount "$data" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A TCP port nobody listens on (other servers may run on this host).
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 20000))
		if ! ss -Hltn "sport = :$p" | grep -q . && ! ss -Hltn "sport = :$((p + 1))" | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Bounded wait until something listens on port $1.
wait_listen() {
	for _ in $(seq 100); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	echo "compare.sh: nothing listens on port $1" >&2
	return 1
}

hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Each series reports its own peak: writing 5 to clear_refs resets VmHWM (Linux >= 4.0).
hwm_reset() { echo 5 2>/dev/null >"/proc/$1/clear_refs" || true; }

case "${BENCH_FS:-disk}" in
disk) ;;
tmpfs)
	mkdir "$work/fs"
	mount -t tmpfs -o size=4g twinfs-compare "$work/fs"
	data=$work/fs
	;;
*) echo "compare.sh: BENCH_FS must be disk or tmpfs" >&2; exit 2 ;;
esac

tport=$(free_port)
mkdir -p "$data/tw" "$work/state"
"$twinfsd" --export "$data/tw" --port "$tport" --mount-port "$((tport + 1))" \
	--state-dir "$work/state" --log-level warn 2>"$work/twinfsd.log" &
tpid=$!
wait_listen "$tport"
mnt() { if [ "$vers" = 3 ]; then echo "&mountport=$1"; fi; } # v4 has no MOUNT protocol
turl="nfs://127.0.0.1$data/tw?version=$vers&nfsport=$tport$(mnt $((tport + 1)))"

if [ "$have_ganesha" = 1 ]; then
	gport=$(free_port)
	mkdir -p "$data/g"
	gpid=$(GANESHA_WORKDIR=$work/gw "$shared/tools/ganesha/start.sh" -p "$gport" \
		-m "$((gport + 1))" -l "$((gport + 2))" -q "$((gport + 3))" -e "$data/g" -F)
	gstarted=1
	wait_listen "$gport"
	gurl="nfs://127.0.0.1/export?version=$vers&nfsport=$gport$(mnt $((gport + 1)))"
fi

mkdir -p "$data/local"
lurl="file://$data/local"

# run LABEL PID URL WORKLOAD CLIENTS: one twload run, its line prefixed with the label;
# PID empty for the local run (no server to charge).
failed=0
run() {
	local line
	line=$("$twload" -u "$3" -c "$5" -t "$secs" -s "$mib" -w "$4" ${2:+-p "$2"} \
		2>>"$work/twload.err") || failed=1
	line=$(grep '^twload ' <<<"$line" || true)
	[ -n "$line" ] || { echo "compare.sh: $1 $4: twload printed nothing" >&2; return 0; }
	if [ "${KEEP_RAW:-0}" = 1 ]; then
		echo "$1 $line" >&2
	fi
	echo "server=$1 $line" >>"$work/results"
}

cmd="bench/$(basename "$0") $rounds $clients_arg (VERS=$vers SECS=$secs MIB=$mib BENCH_FS=${BENCH_FS:-disk}${WORKLOADS:+ WORKLOADS=\"$WORKLOADS\"})"
: >"$work/hwm"
for n in "${client_counts[@]}"; do
	hwm_reset "$tpid"
	[ "$have_ganesha" = 1 ] && hwm_reset "$gpid"
	for r in $(seq "$rounds"); do
		for w in "${workloads[@]}"; do
			echo "$n clients, round $r/$rounds: $w" >&2
			run twinfs "$tpid" "$turl" "$w" "$n"
			if [ "$have_ganesha" = 1 ]; then
				run ganesha "$gpid" "$gurl" "$w" "$n"
			fi
			run local "" "$lurl" "$w" "$n"
		done
	done
	ghwm=0
	[ "$have_ganesha" = 1 ] && ghwm=$(hwm_kib "$gpid")
	echo "$n $(hwm_kib "$tpid") $ghwm" >>"$work/hwm"
done

echo "# twinfsd vs NFS-Ganesha (NFSv$vers, loopback, twload, exports on ${BENCH_FS:-disk}), local filesystem as reference"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), command: \`$cmd\`"
python3 - "$work/results" "$work/hwm" "${workloads[@]}" <<'PY'
import collections, statistics, sys

path, hwm_path, workloads = sys.argv[1], sys.argv[2], sys.argv[3:]
runs = collections.defaultdict(list)
for line in open(path):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    runs[(kv["server"], kv["clients"], kv["workload"])].append(kv)

def med(server, n, w, fn):
    v = [fn(kv) for kv in runs.get((server, n, w), [])]
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None

def cpu_per_k(kv, field="srv_cpu_s"):
    ops = float(kv["ops"])
    return float(kv[field]) * 1000.0 / ops if ops and field in kv else None

def cli_per_k(kv):
    return cpu_per_k(kv, "cli_cpu_s")

def fmt(x, nd=0):
    return "–" if x is None else f"{x:.{nd}f}"

def errors(server, n, w):
    return sum(int(kv["errors"]) for kv in runs.get((server, n, w), []))

def tput(x, data):
    nd = 1 if data or (x is not None and x < 100) else 0
    return f"{fmt(x, nd)} {'MB/s' if data else 'ops/s'}"

for hwm_line in open(hwm_path):
    n, thwm, ghwm = hwm_line.split()
    thwm, ghwm = int(thwm), int(ghwm)
    print()
    print(f"## {n} client{'s' if n != '1' else ''}")
    print()
    print("| workload | local | twinfs | Ganesha | twinfs/Ganesha "
          "| p50 µs twinfs / Ganesha | p99 µs twinfs / Ganesha "
          "| CPU s per 1k ops twinfs / Ganesha | load generator's CPU s per 1k ops "
          "(against twinfs / Ganesha) | errors twinfs / Ganesha / local |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for w in workloads:
        data = w in ("write", "read")
        key = "mb_s" if data else "ops_s"
        l, t, g = (med(s, n, w, lambda kv: float(kv[key])) for s in ("local", "twinfs", "ganesha"))
        ratio = t / g if t is not None and g else None
        p50 = [med(s, n, w, lambda kv: float(kv["p50_us"])) for s in ("twinfs", "ganesha")]
        p99 = [med(s, n, w, lambda kv: float(kv["p99_us"])) for s in ("twinfs", "ganesha")]
        tc = med("twinfs", n, w, cpu_per_k)
        gc = med("ganesha", n, w, cpu_per_k)
        tl = med("twinfs", n, w, cli_per_k)
        gl = med("ganesha", n, w, cli_per_k)
        print(f"| {w} | {tput(l, data)} | {tput(t, data)} | {tput(g, data)} | {fmt(ratio, 2)} "
              f"| {fmt(p50[0])} / {fmt(p50[1])} | {fmt(p99[0])} / {fmt(p99[1])} "
              f"| {fmt(tc, 3)} / {fmt(gc, 3)} | {fmt(tl, 3)} / {fmt(gl, 3)} "
              f"| {errors('twinfs', n, w)} / {errors('ganesha', n, w)} / {errors('local', n, w)} |")
    print()
    print(f"Peak RSS (VmHWM) in this series: twinfsd {thwm / 1024:.0f} MiB, "
          f"Ganesha {ghwm / 1024:.0f} MiB" if ghwm else
          f"Peak RSS (VmHWM) in this series: twinfsd {thwm / 1024:.0f} MiB (Ganesha not run)")
PY
if [ "$failed" = 1 ]; then
	echo >&2
	echo "compare.sh: some twload runs reported errors or failed; stderr:" >&2
	tail -n 20 "$work/twload.err" >&2
	exit 1
fi
