#!/usr/bin/env bash
#
# Builds the libFuzzer targets tests/fuzz_*.c against the application
# sources (all of app/ but main.c) and runs each for FUZZ_TIME seconds on a
# copy of its seed corpus tests/corpus/<name>/.  Prints one line per target
# and exits non-zero when any target crashed, timed out or ran out of memory;
# the reproducer's path is in that line.
#
#	tests/fuzz.sh [TARGET...]	TARGET: fuzz_json, json or tests/fuzz_json.c
#
# Environment:
#	FUZZ_TIME	seconds per target (default 60); 0 builds only
#	FUZZ_BUILD	build and work directory (default /tmp/fastcrm-fuzz)
#	FUZZ_SAVE=1	merge inputs that add coverage into tests/corpus/<name>/
#	FUZZ_ARGS	extra libFuzzer flags, e.g. "-max_len=8192"
#	FUZZ_TMP	where targets keep scratch files such as fuzz_auth's
#			LMDB store (default /dev/shm when writable: a commit
#			per refused login is slow on a disk)
#	CC		the compiler (default clang)

set -u -o pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD:-/tmp/fastcrm-fuzz}
time=${FUZZ_TIME:-60}
cc=${CC:-clang}
cflags=(-g -O1 -std=c11 -D_GNU_SOURCE -I"$top/include")
san=address,undefined
nosan=(-fno-sanitize-recover=all)

die() {
	echo "fuzz.sh: $*" >&2
	exit 2
}

case $time in
''|*[!0-9]*) die "FUZZ_TIME must be a number of seconds" ;;
esac

pkgs=(fcgi lmdb yajl yaml-0.1 libcrypto libcurl libsystemd)
dep_cflags=$(pkg-config --cflags "${pkgs[@]}") || die "pkg-config ${pkgs[*]}"
dep_libs=$(pkg-config --libs "${pkgs[@]}") || die "pkg-config ${pkgs[*]}"
# shellcheck disable=SC2206
dep_cflags=($dep_cflags)
# shellcheck disable=SC2206
dep_libs=($dep_libs -lcrypt -lcsv)

# The targets: every tests/fuzz_*.c, or the ones named.
targets=()
if [ $# -eq 0 ]; then
	for f in "$top"/tests/fuzz_*.c; do
		[ -e "$f" ] && targets+=("$(basename "$f" .c)")
	done
else
	for t in "$@"; do
		t=$(basename "$t" .c)
		case $t in fuzz_*) ;; *) t=fuzz_$t ;; esac
		[ -f "$top/tests/$t.c" ] || die "no such target: tests/$t.c"
		targets+=("$t")
	done
fi
[ ${#targets[@]} -gt 0 ] || die "no targets in $top/tests"

mkdir -p "$build/obj" "$build/bin" || die "cannot create $build"

# The generated page: the tree's copy when it is current, else our own.
page=$top/app/ui/page.c
if [ ! -f "$page" ] || [ "$page" -ot "$top/app/ui/index.html" ] ||
    [ "$page" -ot "$top/app/ui/embed.awk" ]; then
	page=$build/page.c
	awk -f "$top/app/ui/embed.awk" "$top/app/ui/index.html" >"$page" ||
	    die "cannot generate $page"
fi

# The application objects, built once with fuzzer instrumentation but
# without libFuzzer's main(); rebuilt when the source or a header changes.
srcs=()
for f in "$top"/app/*.c "$top"/app/*/*.c; do
	[ "$f" = "$top/app/main.c" ] && continue
	[ "$f" = "$top/app/ui/page.c" ] && continue
	srcs+=("$f")
done
srcs+=("$page")

# shellcheck disable=SC2012
newest_hdr=$(ls -t "$top"/include/fastcrm/*.h "$top"/app/*/*.h | head -n 1)
objs=()
for f in "${srcs[@]}"; do
	rel=${f#"$top"/}
	rel=${rel#"$build"/}
	o=$build/obj/$(echo "${rel%.c}" | tr / _).o
	objs+=("$o")
	if [ -f "$o" ] && [ "$o" -nt "$f" ] && [ "$o" -nt "$newest_hdr" ]; then
		continue
	fi
	echo "CC  $rel" >&2
	"$cc" "${cflags[@]}" -fsanitize=fuzzer-no-link,$san "${nosan[@]}" \
	    "${dep_cflags[@]}" -c "$f" -o "$o" || die "cannot compile $rel"
done

for t in "${targets[@]}"; do
	echo "LD  tests/$t.c" >&2
	"$cc" "${cflags[@]}" -fsanitize=fuzzer,$san "${nosan[@]}" \
	    "${dep_cflags[@]}" "$top/tests/$t.c" "${objs[@]}" "${dep_libs[@]}" \
	    -o "$build/bin/$t" || die "cannot build $t"
done

[ "$time" -eq 0 ] && exit 0

# Runs one target; prints its line and returns 1 when it failed.
run() {
	local t=$1 name=${1#fuzz_} seeds work art log tmp execs status art_path
	seeds=$top/tests/corpus/$name
	work=$build/corpus/$name
	art=$build/artifacts/$name
	log=$build/$t.log
	rm -rf "$work"
	mkdir -p "$work" "$art" || die "cannot create $work"
	tmp=$(mktemp -d "$tmpbase/fastcrm-fuzz-$name.XXXXXX") ||
	    die "cannot create a directory in $tmpbase"
	if [ -d "$seeds" ]; then
		cp -R "$seeds"/. "$work"/ || die "cannot copy $seeds"
	fi
	# A target that needs scratch files (fuzz_auth's store) makes them
	# under TMPDIR: a fresh directory per run, removed even after a crash.
	# shellcheck disable=SC2086
	TMPDIR=$tmp "$build/bin/$t" -max_total_time="$time" -timeout=10 \
	    -print_final_stats=1 -artifact_prefix="$art/" ${FUZZ_ARGS:-} \
	    "$work" >"$log" 2>&1
	status=$?
	rm -rf "$tmp"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	execs=${execs:-?}
	art_path=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" |
	    grep -v '/slow-unit-' | tail -n 1)
	if [ "$status" -ne 0 ] || [ -n "$art_path" ]; then
		echo "$t: $execs execs, 1 crash: ${art_path:-exit status $status} (log: $log)"
		grep -m 1 -E 'ERROR: |runtime error:|ALARM:|deadly signal' \
		    "$log" | sed 's/^/    /'
		return 1
	fi
	echo "$t: $execs execs, 0 crashes"
	if [ "${FUZZ_SAVE:-0}" = 1 ]; then
		mkdir -p "$seeds"
		tmp=$(mktemp -d "$tmpbase/fastcrm-fuzz-$name.XXXXXX") ||
		    die "cannot create a directory in $tmpbase"
		TMPDIR=$tmp "$build/bin/$t" -merge=1 "$seeds" "$work" \
		    >>"$log" 2>&1 || echo "$t: merge into $seeds failed" >&2
		rm -rf "$tmp"
	fi
	return 0
}

if [ -n "${FUZZ_TMP:-}" ]; then
	tmpbase=$FUZZ_TMP
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
	tmpbase=/dev/shm
else
	tmpbase=$build/tmp
fi
mkdir -p "$tmpbase" || die "cannot create $tmpbase"

failed=0
for t in "${targets[@]}"; do
	run "$t" || failed=1
done
exit $failed
