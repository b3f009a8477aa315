#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The series as users get it: patches/ applies with git am to pristine
# 6.12 and each patch is clean under checkpatch.pl --strict; every shell
# script is clean under ShellCheck; harness/apply is idempotent.  With
# BASE=6.1 the same for patches/6.1/series, which also lists 6.12 patches
# (../NAME): those must exist and the 6.1 ones must be those stored.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

mapfile -t listed < <(series_patches)
mapfile -t own < <(printf '%s\n' "${listed[@]}" | grep -v '/\.\./')
mapfile -t present < <(ls "$PATCHES"/*.patch)
series=${PATCHES#"$TOP"/}/series
check "$series lists every patch in ${series%series}, in order" \
	test "${own[*]}" = "${present[*]}"
check "every patch $series lists exists" ls "${listed[@]}"

rm -f "$LOGS"/patches-git-am.log "$LOGS"/checkpatch-*.log
check "harness/patches --check-only succeeds" "$TOP/harness/patches" --check-only
check "git am applies the series to pristine $BASE, same tree as ${TREE#"$TOP"/}" \
	grep -q '^git am: ' "$LOGS/patches-git-am.log"
for p in "${listed[@]}"; do
	check "checkpatch --strict: 0 errors, 0 warnings, 0 checks: ${p##*/}" \
		grep -q '^total: 0 errors, 0 warnings, 0 checks' "$LOGS/checkpatch-${p##*/}.log"
done

mapfile -t scripts < <(cd "$TREE" && tgit "$TREE" diff --name-only base HEAD |
	while read -r f; do head -n 1 "$f" | grep -q '^#!/bin/\(ba\)\?sh' && echo "$TREE/$f"; done)
mapfile -t -O "${#scripts[@]}" scripts < <(cd "$TOP" &&
	{ grep -l '^#!/bin/\(ba\)\?sh' -r harness tests .ci
	  echo harness/lib.sh; echo tests/lib.sh; echo tests/guest/lib.sh; } |
	sed "s|^|$TOP/|")
for s in "${scripts[@]}"; do
	check "shellcheck: ${s#"$BUILD/"}" shellcheck -x "$s"
done
check "the series' perl is clean under perl -cw" \
	perl -cw "$TREE/scripts/kheaders-strip-comments.pl"

check "harness/apply succeeds" "$TOP/harness/apply"
mkdir -p "$BUILD/tmp"
touch "$BUILD/tmp/apply.mark"
head=$(tgit "$TREE" rev-parse HEAD)
out=$("$TOP/harness/apply")
check "applying twice changes nothing: same commit, no file written" \
	test "$head" = "$(tgit "$TREE" rev-parse HEAD)" -a \
	-z "$(find "$TREE" -newer "$BUILD/tmp/apply.mark" -type f -print -quit)"
check "... and says so" grep -q 'already applied' <<< "$out"

done_testing
