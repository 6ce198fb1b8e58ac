#!/usr/bin/env bats
# Replays the fuzzing seed corpus and the regression inputs
# (tests/fuzz/corpus/, tests/fuzz/regressions/) through every harness, built
# as plain programs in the build under test (tests/fuzz/standalone.c): a bug
# once found by the fuzzer stays fixed in the normal, the sanitizer and the
# valgrind runs, without clang. See tests/fuzz/README.md.

load helpers/common

setup() {
	XU_ROOT=$(cd "$XU_TESTS_DIR/.." && pwd)
	# the build whose tools are under test: build/ or build-san/
	XU_FUZZ_SAN=0
	case $XU_BIN in */build-san/bin) XU_FUZZ_SAN=1 ;; esac
}

teardown() {
	xu_common_teardown
}

@test "fuzz: every seed and regression input passes every harness (properties, no crash, no leak)" {
	local h dir out bad=""
	run make -s -C "$XU_ROOT" SANITIZE="$XU_FUZZ_SAN" fuzz-drivers
	[ "$status" = 0 ] || fail "cannot build the harnesses: $output"
	dir=$XU_BIN/../fuzz
	local -a wrap=()
	if [ "${XU_VALGRIND:-0}" = 1 ]; then
		wrap=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
			--suppressions="$XU_TESTS_DIR/valgrind.supp")
	fi
	for h in "$XU_TESTS_DIR"/fuzz/fuzz_*.c; do
		h=$(basename "$h" .c)
		local -a inputs=("$XU_TESTS_DIR/fuzz/corpus/$h")
		[ -d "$XU_TESTS_DIR/fuzz/regressions/$h" ] && inputs+=("$XU_TESTS_DIR/fuzz/regressions/$h")
		out=$BATS_TEST_TMPDIR/$h.out
		if ! "${wrap[@]}" "$dir/$h" "${inputs[@]}" >"$out" 2>&1; then
			bad="$bad $h"
			sed "s/^/# $h: /" "$out" | head -n 30
		else
			printf '# %s\n' "$(tail -n 1 "$out")"
		fi
	done
	[ -z "$bad" ] || fail "failed:$bad"
}

@test "fuzz: every harness has a seed corpus" {
	local h
	for h in "$XU_TESTS_DIR"/fuzz/fuzz_*.c; do
		h=$(basename "$h" .c)
		[ -n "$(ls -A "$XU_TESTS_DIR/fuzz/corpus/$h" 2>/dev/null)" ] || fail "$h has no seed corpus in tests/fuzz/corpus/$h"
	done
}
