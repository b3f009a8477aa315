# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Sourced by the test scripts in tests/.  Each test prints one line per
# check, "ok - WHAT" or "not ok - WHAT", which harness/check counts.
# shellcheck source=harness/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/lib.sh"
set +e

failures=0

ok()
{
	echo "ok - $*"
}

not_ok()
{
	echo "not ok - $*"
	failures=$((failures + 1))
}

# check WHAT CMD...: one check that passes when CMD succeeds.
check()
{
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# check_fails WHAT CMD...: one check that passes when CMD fails.
check_fails()
{
	local what=$1
	shift
	if "$@"; then not_ok "$what"; else ok "$what"; fi
}

# At the end of a test script: its exit status tells whether all passed.
done_testing()
{
	exit $((failures > 0))
}
