#!/bin/sh
#
# tests/ci_sanitize.sh — the whole test suite (unit and end-to-end) again,
# against a build with AddressSanitizer and UndefinedBehaviorSanitizer.
# A TAP test script, run by `make check`.
#
# The tracked sources (git ls-files, or `make distdir` outside a git
# checkout) are copied to a temporary directory, configured with
#	CC=clang CFLAGS="-fsanitize=address,undefined
#	    -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
# and built; its `make check` runs every unit and end-to-end test with
# CI_TESTS= (so this script and the other CI scripts are not run again).
# Only fastcrm's programs are instrumented: nginx, python3 and Chromium
# are the system's.
#
# Every fastcrm process — unit tests, CLI commands, the master and each
# worker it forks — writes a sanitizer report, if it has one, to its own
# file REPORTS/asan.PID or REPORTS/ubsan.PID (log_path), not to stderr:
# a worker's stderr is the master's log, which the harness deletes with
# its temporary directory.  The run passes only if that directory is
# empty afterwards.  UBSan stops the process at the first finding
# (-fno-sanitize-recover) and ASan at the first error.  LeakSanitizer is
# on (detect_leaks=1) for every process: it runs at exit() for unit tests,
# CLI commands and the master; a worker ends with _exit() (a forked child
# must not run the parent's atexit handlers), so in a sanitizer build
# app/worker.c runs the leak check itself before _exit(), after freeing
# its arena and store: memory a request leaked is reported when the
# harness stops the stack.  Workers killed with SIGKILL are not checked.
#
# Output: one TAP line per test case of the inner run ("asan: TEST: ..."),
# one per inner test script that ended in an error, and one for the
# sanitizer reports.  The inner `make check` output goes to a file, shown
# (prefixed, so no summary line is counted twice) only on failure.
#
# Environment:
#	SANITIZE_CC	the compiler (default clang, else gcc)
#	SANITIZE_JOBS	make -j for the build and the inner check (default 2)
#	KEEP_TMP	keep the temporary directory (its path is printed)

if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail

srcdir=${FASTCRM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=$(pwd)
jobs=${SANITIZE_JOBS:-2}

. "$srcdir/tests/ci_lib.sh"
ci_skip_nested
cc=${SANITIZE_CC:-}
if [ -z "$cc" ]; then
	if command -v clang >/dev/null 2>&1; then cc=clang; else cc=gcc; fi
fi

ci_workdir sanitize
cleanup() {
	if [ -n "${KEEP_TMP:-}" ]; then
		echo "# kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
src=$work/src
reports=$work/reports
mkdir -p "$src" "$reports" || exit 1
buildlog=$work/build.log
checklog=$work/check.log

# The jobserver of the outer make is not ours to use.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

# Prints the last lines of a file as TAP comments, and bails out.
bail() {
	echo "# $1 (last 40 lines of $2):"
	tail -n 40 "$2" | sed 's/^/#   | /'
	echo "Bail out! $1"
	exit 1
}

start=$(date +%s)
if git -C "$srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Tracked and new (not ignored) files, as they are in the tree.
	(cd "$srcdir" && git ls-files -z -c -o --exclude-standard |
	    tar --null --ignore-failed-read -T - -cf -) 2>>"$buildlog" |
	    tar -C "$src" -xf - 2>>"$buildlog" ||
	    bail "cannot copy the sources" "$buildlog"
else
	make -C "$builddir" distdir distdir="$src" >>"$buildlog" 2>&1 ||
	    bail "make distdir failed" "$buildlog"
fi

san="-fsanitize=address,undefined -fno-sanitize-recover=all"
san="$san -fno-omit-frame-pointer"
(cd "$src" && ./autogen.sh && ./configure CC="$cc" CFLAGS="$san -g -O1" \
    LDFLAGS="$san" && make -j"$jobs") >>"$buildlog" 2>&1 ||
    bail "the sanitizer build failed" "$buildlog"
built=$(date +%s)
echo "# $cc build with $san: $((built - start)) s"

export FASTCRM_CI_NESTED=1
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
(cd "$src" && make -j"$jobs" check CI_TESTS=) >"$checklog" 2>&1
rc=$?
done_=$(date +%s)
echo "# inner make check: exit status $rc, $((done_ - built)) s"

n=0
failed=0
# One line per inner test case, in the order make ran the scripts.
for trs in $(cd "$src" && find tests -name '*.trs' | sort); do
	t=${trs%.trs}
	log=$src/$t.log
	name=$t
	for ext in .py .sh; do
		[ -f "$src/$t$ext" ] && name=$t$ext
	done
	while IFS= read -r line; do
		case $line in
		"ok "*|"not ok "*) ;;
		*) continue ;;
		esac
		# "ok 12 - text # SKIP why" -> "ok N - asan: NAME: text # SKIP why"
		[[ $line =~ ^(not\ )?ok\ *[0-9]*\ *-?\ *(.*)$ ]] || continue
		n=$((n + 1))
		res="ok"
		if [ -n "${BASH_REMATCH[1]}" ]; then
			res="not ok"
			failed=$((failed + 1))
		fi
		echo "$res $n - asan: $name: ${BASH_REMATCH[2]}"
	done <"$log"
	if grep -q '^:test-result: ERROR' "$src/$trs"; then
		n=$((n + 1))
		failed=$((failed + 1))
		echo "not ok $n - asan: $name ended in an error (exit status," \
		    "crash or missing plan)"
		echo "# last lines of $name's log:"
		tail -n 25 "$log" | sed 's/^/#   | /'
	fi
done

if [ "$n" -eq 0 ]; then
	bail "the inner make check ran no test" "$checklog"
fi

# The sanitizer reports.
files=$(find "$reports" -type f | sort)
count=0
[ -n "$files" ] && count=$(printf '%s\n' "$files" | wc -l)
n=$((n + 1))
if [ "$count" -eq 0 ]; then
	echo "ok $n - no AddressSanitizer, UndefinedBehaviorSanitizer or" \
	    "LeakSanitizer report from any fastcrm process"
else
	failed=$((failed + 1))
	echo "not ok $n - $count sanitizer reports from fastcrm processes"
	for f in $files; do
		echo "# --- $(basename "$f") ---"
		head -n 40 "$f" | sed 's/^/#   | /'
	done
fi
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	n=$((n + 1))
	echo "not ok $n - the inner make check exited with status $rc"
	tail -n 40 "$checklog" | sed 's/^/#   | /'
fi
echo "1..$n"
echo "# $((n - 1)) inner test cases and the report check; $failed failed;" \
    "$(($(date +%s) - start)) s in all"
exit 0
