#!/usr/bin/env bash
# deps.sh — install the Debian packages twinfs needs to build and test, and only
# those that are missing. Idempotent and quiet: when everything is there it asks
# dpkg and exits without touching apt (CI runs it on every job).
#
#   scripts/deps.sh           build + test dependencies (incl. the kernel-client test)
#   scripts/deps.sh --bench   also NFS-Ganesha, the competitor the benchmarks compare with
#
# Works without a terminal (CI=true, no stdin): apt runs non-interactively.
set -euo pipefail

# Build: compiler, cmake, the libraries the daemon links, rpcgen (rpcsvc-proto),
# clang-format for the style check.
build_pkgs=(build-essential cmake pkg-config clang-format libntirpc-dev liburcu-dev
	libcunit1-dev libssl-dev rpcsvc-proto)
# Tests: libnfs as a third-party client, ss (iproute2) for free ports, python3,
# rpcbind (+ rpcinfo) for the registration test, run in a private namespace.
# pynfs (the NFSv4 conformance suites, shared/tools/pynfs) runs on Debian's python3
# with ply, gssapi and setuptools.
test_pkgs=(libnfs-dev libnfs-utils iproute2 python3 rpcbind python3-ply python3-gssapi
	python3-setuptools)
# The kernel-client test (shared/tools/kclient/build-initramfs.sh checks for
# exactly these: it boots Debian's kernel under qemu with a busybox initramfs
# and links its helpers statically, hence gcc + libc6-dev).
kclient_pkgs=(qemu-system-x86 linux-image-amd64 busybox-static cpio kmod xz-utils gcc libc6-dev)
# Benchmarks only: never needed to build or test twinfs.
bench_pkgs=(nfs-ganesha nfs-ganesha-vfs)

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d' >&2
	exit 2
}

want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${kclient_pkgs[@]}")
for arg in "$@"; do
	case "$arg" in
	--bench) want+=("${bench_pkgs[@]}") ;;
	-h | --help) usage ;;
	*)
		echo "deps.sh: unknown argument '$arg'" >&2
		usage
		;;
	esac
done

# dpkg's status is "want flag state"; only the state "installed" counts (not
# half-installed, config-files, or a package that was never seen).
installed() {
	local status
	status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
	[[ "$status" == *" installed" ]]
}

missing=()
for pkg in "${want[@]}"; do
	installed "$pkg" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" != 0 ]; then
	# Never prompt: CI has no terminal. Passwordless sudo or nothing.
	if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		echo "deps.sh: missing packages (run as root to install): ${missing[*]}" >&2
		exit 1
	fi
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# The lock timeout lets a concurrent apt (another job, unattended-upgrades)
# finish instead of failing at once.
apt_opts=(-qq -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0)
# Only update the lists when we must install something; a stale list can name
# versions the mirror no longer has, so update first rather than after a failure.
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update </dev/null >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y \
	--no-install-recommends "${missing[@]}" </dev/null >&2

still=()
for pkg in "${missing[@]}"; do
	installed "$pkg" || still+=("$pkg")
done
if [ ${#still[@]} -gt 0 ]; then
	echo "deps.sh: still missing after apt-get: ${still[*]}" >&2
	exit 1
fi
