#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The series as users get it: exported with git format-patch, applied with
# git am to pristine 6.12, clean under checkpatch.pl --strict; every
# shell script clean under ShellCheck; and harness/apply is idempotent.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

"$TOP/harness/patches"
check "git format-patch exports one patch per series entry" \
	test "$(find "$BUILD/patches" -name '*.patch' | wc -l)" = \
	"$(find "$TOP/series" -name message | wc -l)"
check "git am applies the series to pristine 6.12, same files as harness/apply" \
	grep -q '^git am: ' "$LOGS/patches-git-am.log"
for p in "$BUILD"/patches/*.patch; do
	check "checkpatch --strict: 0 errors, 0 warnings, 0 checks: ${p##*/}" \
		grep -q '^total: 0 errors, 0 warnings, 0 checks' "$p.checkpatch"
done

mapfile -t scripts < <(cd "$TOP" && grep -l '^#!/bin/\(ba\)\?sh' -r kernel scripts tools harness tests .ci 2> /dev/null)
for s in "${scripts[@]}"; do
	check "shellcheck: $s" shellcheck -x "$TOP/$s"
done

"$TOP/harness/apply" "$TREE" > /dev/null
out=$("$TOP/harness/apply" "$TREE")
check "applying twice changes nothing" grep -q '(0 files updated)' <<< "$out"

done_testing
