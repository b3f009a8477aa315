#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The series as users get it: patches/series (mainline) applies with git
# am to pristine $BASE and each patch is clean under checkpatch.pl
# --strict; every shell script is clean under ShellCheck; harness/apply is
# idempotent.  With BASE=6.12 or 6.1 the same for patches/$BASE/series:
# first the mainline commits the base needs, as stable cherry-picks, then
# the series.  No exported patch carries a placeholder identity.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

mapfile -t listed < <(series_patches)
mapfile -t present < <(ls "$PATCHES"/*.patch)
series=${PATCHES#"$TOP"/}/series
check "$series lists every patch in ${series%series}, in order" \
	test "${listed[*]}" = "${present[*]}"

# Cherry-picks first: once a patch of the series comes, no cherry-pick.
# shellcheck disable=SC2317 # run by check
picks_first()
{
	local p own=
	for p in "${listed[@]}"; do
		if grep -q '^commit [0-9a-f]\{40\} upstream\.$' "$p"; then
			[ -z "$own" ] || return 1
		else
			own=$p
		fi
	done
	[ -n "$own" ]
}
check "$series: the mainline cherry-picks, then the series" picks_first
# author PATCH: "Name <email>" of PATCH's From: (which git may fold).
author()
{
	git mailinfo /dev/null /dev/null < "$1" |
		sed -n 's/^Author: \(.*\)/\1/p; s/^Email: \(.*\)/<\1>/p' | paste -sd ' '
}
# shellcheck disable=SC2317 # run by check
placeholder_author()
{
	local p
	for p in "${listed[@]}"; do
		author "$p"
	done | grep -E '(@example\.(org|com)|@localhost|Kheaders Developers)'
}
check_fails "no placeholder identity in any patch's author" placeholder_author
# shellcheck disable=SC2016
check "no placeholder identity in From:, Signed-off-by: or MAINTAINERS" \
	bash -c '! grep -E "^(From: |Signed-off-by: |\+M:).*(@example\.(org|com)|@localhost|Kheaders Developers)" "$@"' \
	- "${listed[@]}"
own_from=$(grep -L '^commit [0-9a-f]\{40\} upstream\.$' "${listed[@]}" |
	while read -r p; do author "$p"; done | sort -u)
check "the series' patches have one author, who is the MAINTAINERS entry" \
	test "$(wc -l <<< "$own_from")" -eq 1 -a \
	"$(grep -h '^+M:' "${listed[@]}" | cut -f2-)" = "$own_from"

rm -f "$LOGS"/patches-git-am.log "$LOGS"/checkpatch-*.log
check "harness/patches --check-only succeeds" "$TOP/harness/patches" --check-only
check "git am applies the series to pristine $BASE, same tree as ${TREE#"$TOP"/}" \
	grep -q '^git am: ' "$LOGS/patches-git-am.log"
for p in "${listed[@]}"; do
	grep -q '^commit [0-9a-f]\{40\} upstream\.$' "$p" && continue
	check "checkpatch --strict: 0 errors, 0 warnings, 0 checks: ${p##*/}" \
		grep -q '^total: 0 errors, 0 warnings, 0 checks' "$LOGS/checkpatch-${p##*/}.log"
done

# The scripts the series' own patches touch; a stable base's cherry-picks
# are mainline's as they are (82a1978d0fdc edits scripts/package/mkdebian).
mapfile -t scripts < <(cd "$TREE" &&
	tgit "$TREE" log --invert-grep --grep='^commit [0-9a-f]\{40\} upstream\.$' \
		--name-only --format= base..HEAD | sort -u |
	while read -r f; do
		[ -f "$f" ] && head -n 1 "$f" | grep -q '^#!/bin/\(ba\)\?sh' && echo "$TREE/$f"
	done)
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
