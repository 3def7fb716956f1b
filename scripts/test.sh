#!/usr/bin/env bash
# test.sh — README command 2, and what CI runs (.ci/run): install what is missing,
# build, run every test, check the formatting.
#
#   scripts/test.sh           deps; normal build + ctest; ASan+UBSan build + ctest;
#                             clang-format check
#   scripts/test.sh --quick   deps; normal build + `ctest -L quick`; clang-format check
#
# The last line printed is always "N passed, N failed": tests counted over every
# ctest run, plus the format check as one, plus one failure for each build that
# failed (its tests could not run). Exit status non-zero on any failure.
#
# The integration tests start their own daemons on free ports, so ctest runs two
# at a time (2 cores). The kernel-client test needs ../shared beside the
# repository (or TWINFS_SHARED) and writes only to /var/tmp/twinfs-kclient.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

quick=0
for arg in "$@"; do
	case "$arg" in
	--quick) quick=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//;$d'
		exit 0
		;;
	*)
		echo "test.sh: unknown argument '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

passed=0
failed=0
logs=$(mktemp -d "${TMPDIR:-/tmp}/twinfs-test.XXXXXX")
trap 'rm -rf "$logs"' EXIT

summary() {
	echo
	echo "$passed passed, $failed failed"
}

banner() { printf '\n=== %s ===\n' "$*"; }

# Adds a ctest run's counts from its summary line:
#   "95% tests passed, 1 tests failed out of 20"
count_ctest() {
	local log=$1 rc=$2 line total fails
	line=$(grep -E '[0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
	if [ -n "$line" ]; then
		fails=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
		total=$(sed -E 's/.* tests? failed out of ([0-9]+).*/\1/' <<<"$line")
		passed=$((passed + total - fails))
		failed=$((failed + fails))
	elif [ "$rc" != 0 ]; then
		# ctest itself failed before running anything we can count.
		failed=$((failed + 1))
	fi
}

# suite NAME BUILD_DIR BUILD_ARGS... -- CTEST_ARGS...
suite() {
	local name=$1 dir=$2 rc=0
	shift 2
	local bargs=() cargs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		bargs+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	cargs=("$@")

	banner "build ($name)"
	if ! bash scripts/build.sh "${bargs[@]}"; then
		echo "test.sh: $name build FAILED" >&2
		failed=$((failed + 1))
		return 0
	fi
	banner "ctest ($name)"
	# pipefail: rc is ctest's status (tee does not fail).
	ctest --test-dir "$dir" --output-on-failure -j2 "${cargs[@]}" 2>&1 |
		tee "$logs/ctest-$name.log" || rc=$?
	count_ctest "$logs/ctest-$name.log" "$rc"
	[ "$rc" = 0 ] || echo "test.sh: ctest ($name) FAILED" >&2
}

# The project's own C sources: tracked or new-but-not-ignored files, so build
# directories (ignored: /build*/) and their generated sources never count.
# Without git (a tarball), everything outside CMake build trees.
project_sources() {
	if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$root" ls-files -co --exclude-standard -- '*.c' '*.h'
	else
		find . -type d \( -name .git -o -exec test -e '{}/CMakeCache.txt' \; \) -prune -o \
			-type f \( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||'
	fi
}

format_check() {
	local f bad=()
	banner "clang-format check"
	while IFS= read -r f; do
		[ -f "$f" ] || continue
		if ! clang-format --style=file "$f" | cmp -s - "$f"; then
			bad+=("$f")
		fi
	done < <(project_sources | LC_ALL=C sort)
	if [ ${#bad[@]} -eq 0 ]; then
		echo "clang-format: all files formatted"
		passed=$((passed + 1))
	else
		echo "clang-format: these files differ from clang-format's output" \
			"(fix: clang-format -i FILE):"
		printf '    %s\n' "${bad[@]}"
		failed=$((failed + 1))
	fi
}

banner "dependencies"
if ! bash scripts/deps.sh; then
	echo "test.sh: installing dependencies FAILED" >&2
	failed=$((failed + 1))
	summary
	exit 1
fi

# Sanitizer reports must fail the test that triggered them, with a stack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Leaks the project has decided to accept (say, inside a library) are listed in
# tests/lsan.supp when that file exists; everything else fails the test.
if [ -f "$root/tests/lsan.supp" ] && [ -z "${LSAN_OPTIONS:-}" ]; then
	export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
fi

if [ $quick = 1 ]; then
	suite normal build -- -L quick
else
	suite normal build --
	suite asan build-asan --asan --
	# The lock-free and threaded modules' stress tests under ThreadSanitizer, and
	# the daemon itself (transport, descriptor cache) under real clients.
	# liburcu is not built for TSan: tests/tsan.supp names its libraries.
	TSAN_OPTIONS="suppressions=$root/tests/tsan.supp:halt_on_error=1:second_deadlock_stack=1" \
		suite tsan build-tsan --tsan -- \
		-R 'unit\.test_(drc|peer|role|mirror|probe|lease|nfs4_state)$|integration\.(nfs3|badinput|nfscp)$'
fi
format_check

summary
[ $failed = 0 ]
