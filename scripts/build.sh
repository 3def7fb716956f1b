#!/usr/bin/env bash
# build.sh — configure and build twinfs.
#
#   scripts/build.sh          RelWithDebInfo into build/
#   scripts/build.sh --asan   the same with AddressSanitizer + UBSan into build-asan/
#   scripts/build.sh --tsan   the same with ThreadSanitizer into build-tsan/
#
# Run from anywhere; the build directories are relative to the repository root.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

dir=build
opts=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
for arg in "$@"; do
	case "$arg" in
	--asan)
		dir=build-asan
		opts+=(-DTWINFS_SANITIZE=ON)
		;;
	--tsan)
		dir=build-tsan
		opts+=(-DTWINFS_TSAN=ON)
		;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d' >&2
		exit 0
		;;
	*)
		echo "build.sh: unknown argument '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

cmake -S . -B "$dir" "${opts[@]}"
# 2 jobs: the reference machine (and CI) has 2 cores.
cmake --build "$dir" -j2
