# tests/ci_lib.sh — sourced by the tests/ci_*.sh TAP scripts.

# Exits with a TAP skip inside the suite that tests/ci_sanitize.sh runs
# (it must not run the CI scripts again).
ci_skip_nested() {
	if [ -n "${FASTCRM_CI_NESTED:-}" ]; then
		echo "1..0 # SKIP inside a nested CI run"
		exit 0
	fi
}

# Exits with a TAP skip when program $1 is missing.
ci_need() {
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "1..0 # SKIP $1 is not installed (conf/install-deps)"
		exit 0
	fi
}

# Sets $work to a new temporary directory named fastcrm-$1.XXXXXX, or
# bails out.
ci_workdir() {
	work=$(mktemp -d "${TMPDIR:-/tmp}/fastcrm-$1.XXXXXX") || {
		echo "Bail out! cannot create a temporary directory"
		exit 1
	}
}
