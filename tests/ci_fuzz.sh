#!/bin/sh
#
# tests/ci_fuzz.sh — every libFuzzer target (tests/fuzz_*.c) for a short,
# bounded time, through tests/fuzz.sh.  A TAP test script, run by
# `make check`: one line per target with the executions it reached; a
# crash, timeout or out-of-memory is a failure, with the reproducer's
# path and the first line of the report as comments.  The corpus a run
# grows is thrown away: the seeds in tests/corpus/ stay as they are.
#
# Environment:
#	CI_FUZZ_TIME	seconds per target (default 20)
#	CC		the compiler for fuzz.sh (default clang)

if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail

srcdir=${FASTCRM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
time=${CI_FUZZ_TIME:-20}

. "$srcdir/tests/ci_lib.sh"
ci_skip_nested
ci_need "${CC:-clang}"
ci_workdir cifuzz
trap 'rm -rf "$work"' EXIT

targets=()
for f in "$srcdir"/tests/fuzz_*.c; do
	[ -e "$f" ] && targets+=("$(basename "$f" .c)")
done
[ ${#targets[@]} -gt 0 ] || { echo "Bail out! no tests/fuzz_*.c"; exit 1; }

t0=$(date +%s)
if ! FUZZ_BUILD=$work FUZZ_TIME=0 FUZZ_SAVE=0 \
    bash "$srcdir/tests/fuzz.sh" >"$work/build.log" 2>&1; then
	echo "# building the fuzz targets failed (last 30 lines):"
	tail -n 30 "$work/build.log" | sed 's/^/#   | /'
	echo "Bail out! cannot build the fuzz targets"
	exit 1
fi
t1=$(date +%s)
echo "# built ${#targets[@]} targets in $((t1 - t0)) s; $time s each"

n=0
total=0
for t in "${targets[@]}"; do
	n=$((n + 1))
	line=$(FUZZ_BUILD=$work FUZZ_TIME=$time FUZZ_SAVE=0 \
	    bash "$srcdir/tests/fuzz.sh" "$t" 2>"$work/$t.err")
	rc=$?
	first=$(printf '%s\n' "$line" | head -n 1)
	execs=$(printf '%s\n' "$first" | sed -n 's/^[^:]*: \([0-9][0-9]*\) execs.*/\1/p')
	if [ "$rc" -eq 0 ] && [ -n "$execs" ] && [ "$execs" -gt 0 ]; then
		total=$((total + execs))
		echo "ok $n - $t: $execs executions in $time s, no crash"
	else
		echo "not ok $n - $t: ${first:-no result} (exit status $rc)"
		printf '%s\n' "$line" | tail -n +2 | sed 's/^/#   | /'
		tail -n 5 "$work/$t.err" | sed 's/^/#   ! /'
		# The log names the reproducer; keep it next to the build.
		if [ -f "$work/$t.log" ]; then
			grep -m 3 -E 'ERROR:|runtime error:|Test unit written' \
			    "$work/$t.log" | sed 's/^/#   | /'
			grep -A 1 -m 1 '^Base64:' "$work/$t.log" |
			    sed 's/^/#   | /'
		fi
	fi
done
echo "1..$n"
echo "# $total executions in all, $(($(date +%s) - t0)) s"
exit 0
