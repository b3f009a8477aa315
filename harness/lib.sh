# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034
# Common settings and helpers for the harness scripts; sourced, not run.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${KH_BUILD:-$TOP/build}
# The kernel the series is on: BASE=7.3 (mainline, the default), or one of
# the stable bases that carry it as a backport, BASE=6.12 or BASE=6.1, from
# the environment or make's command line.  Each base has its own tarball,
# series and build directory: mainline uses build/ and patches/ themselves,
# the others build/$BASE/ and patches/$BASE/ (see README, "Bases").
MAINLINE=7.3
BASE=${BASE:-$MAINLINE}
PATCHES=$TOP/patches		# the series: "series" lists the patches in order
case $BASE in
"$MAINLINE") ;;
6.12 | 6.1) BUILD=$BUILD/$BASE PATCHES=$TOP/patches/$BASE ;;
*)
	echo >&2 "error: BASE=$BASE: the series is for BASE=$MAINLINE (mainline), 6.12 or 6.1"
	exit 1
	;;
esac
export BASE
# Debian 12 has the stable bases' linux-source; mainline's comes from
# Debian's backports of the next release (harness/setup fetches it).
if [ "$BASE" = "$MAINLINE" ]; then
	SRC_TARBALL=$BUILD/src/linux-source-$BASE.tar.xz
else
	SRC_TARBALL=/usr/src/linux-source-$BASE.tar.xz
fi
PRISTINE=$BUILD/pristine	# upstream $BASE as unpacked, never modified
TREE=$BUILD/linux		# pristine plus this repository's series
OBJ=$BUILD/obj			# one O= build directory per config
LOGS=$BUILD/logs
JOBS=$(nproc)

# The same user and host for every kernel build (see the kernel's
# Documentation/kbuild/reproducible-builds.rst), so that the archived
# include/generated/compile.h does not depend on who ran the build.
export KBUILD_BUILD_USER=kheaders KBUILD_BUILD_HOST=kheaders

mkdir -p "$LOGS"

# tgit TREE ARGS...: git on TREE, whose repository is kept beside it in
# TREE.git so that the kernel build (scripts/setlocalversion) does not see
# it.  Commits are made with the git identity of whoever runs the harness
# (git config user.name and user.email); where there is none (CI), git am
# records a placeholder committer, which "make patches" never exports.
tgit()
{
	local tree=$1 id=()
	shift
	git config user.email > /dev/null ||
		id=(-c user.name="kheaders harness" -c user.email=harness@localhost)
	git --git-dir="$tree.git" --work-tree="$tree" "${id[@]}" "$@"
}

# record_base TREE: make TREE.git with TREE, pristine, as commit "base".
# Debian's tarball has a .gitignore that ignores everything: add -f.
record_base()
{
	rm -rf "$1.git"
	git init -q --bare "$1.git"
	tgit "$1" -c core.looseCompression=0 add -f -A
	tgit "$1" commit -q -m "Linux $(make -s -C "$1" kernelversion) (Debian linux-source)"
	tgit "$1" tag base
}

# The patches of the series, in order.
series_patches()
{
	grep -v '^#' "$PATCHES/series" | grep . | sed "s|^|$PATCHES/|"
}

# What harness/apply records as applied: the md5 of the series.
series_hash()
{
	series_patches | xargs cat "$PATCHES/series" | md5sum | cut -c1-32
}

die()
{
	echo >&2 "error: $*"
	exit 1
}

# step NAME CMD...: run CMD with its output in $LOGS/NAME.log; say what is
# being done and how long it took, and on failure show where the log is.
step()
{
	local name=$1 log=$LOGS/$1.log start=$SECONDS
	shift
	printf '==> %-28s ' "$name"
	if "$@" > "$log" 2>&1; then
		printf 'ok (%ds)\n' $((SECONDS - start))
	else
		printf 'FAILED (%ds)\n' $((SECONDS - start))
		echo "---- last lines of $log ----"
		tail -n 25 "$log"
		echo "---- full log: $log ----"
		return 1
	fi
}
