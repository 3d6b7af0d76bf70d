#!/bin/sh
#
# tests/ci_valgrind.sh — the C unit tests (every tests/unit_* program
# `make check` built) again, each under
#	valgrind --leak-check=full --error-exitcode=99
# A TAP test script, run by `make check` after it built the unit tests.
#
# Output: every test case of each unit test ("valgrind: UNIT: ..."), then
# one line per unit test saying that valgrind found no error and no leak
# (definitely, indirectly or possibly lost; still-reachable memory at exit
# is not a leak), with its figures as comments.  Suppressions, if any
# are ever needed for library internals, go in tests/valgrind.supp with
# the reason next to each.
#
# Environment:
#	VALGRIND	the valgrind program (default: valgrind in PATH)

if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail

srcdir=${FASTCRM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
vg=${VALGRIND:-valgrind}
units=$(for u in tests/unit_*; do
	case $u in *.*) continue ;; esac
	[ -f "$u" ] && [ -x "$u" ] && echo "$u"
done)

. "$srcdir/tests/ci_lib.sh"
ci_skip_nested
ci_need "$vg"
ci_workdir valgrind
trap 'rm -rf "$work"' EXIT

supp=()
[ -f "$srcdir/tests/valgrind.supp" ] &&
    supp=(--suppressions="$srcdir/tests/valgrind.supp")

if [ -z "$units" ]; then
	echo "Bail out! no unit test programs in $(pwd)/tests"
	exit 1
fi
n=0
for u in $units; do
	name=$(basename "$u")
	vlog=$work/$name.valgrind
	out=$work/$name.tap
	t0=$(date +%s)
	"$vg" -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
	    --errors-for-leak-kinds=definite,indirect,possible \
	    --error-exitcode=99 --track-origins=yes --num-callers=30 \
	    "${supp[@]}" --log-file="$vlog" "./$u" >"$out" 2>&1
	rc=$?
	t1=$(date +%s)
	cases=0
	while IFS= read -r line; do
		[[ $line =~ ^(not\ )?ok\ *[0-9]*\ *-?\ *(.*)$ ]] || continue
		n=$((n + 1))
		cases=$((cases + 1))
		if [ -n "${BASH_REMATCH[1]}" ]; then
			echo "not ok $n - valgrind: $name: ${BASH_REMATCH[2]}"
		else
			echo "ok $n - valgrind: $name: ${BASH_REMATCH[2]}"
		fi
	done <"$out"
	n=$((n + 1))
	# -q: the log holds errors and leaks only.
	if [ "$rc" -eq 0 ] && [ ! -s "$vlog" ]; then
		echo "ok $n - valgrind: $name: no memory error, no leak" \
		    "($cases test cases, $((t1 - t0)) s)"
	else
		echo "not ok $n - valgrind: $name: exit status $rc (99: valgrind" \
		    "found errors or leaks)" \
		    "($((t1 - t0)) s); valgrind says:"
		head -n 80 "$vlog" | sed 's/^/#   | /'
		grep -v '^ok ' "$out" | tail -n 20 | sed 's/^/#   > /'
	fi
done
echo "1..$n"
exit 0
