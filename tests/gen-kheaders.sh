#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The archive's build step: the comment stripper alone on made-up headers;
# gen_kheaders.sh alone, as Kbuild runs it, for what the archive holds and
# its reproducibility; then real Kbuild on an object tree of its own (the
# x86_64-m configuration, "make prepare" and kernel/kheaders.o only) for
# when the archive is regenerated, failures, and a symlink farm of the
# source tree.
# shellcheck disable=SC2317 # functions are called through check()
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
unset KBUILD_BUILD_TIMESTAMP
export TZ=UTC

strip=$TREE/scripts/kheaders-strip-comments.pl
script=$TREE/kernel/gen_kheaders.sh
work=$BUILD/tmp/gen-kheaders
rm -rf "$work"
mkdir -p "$work"

# --- The comment stripper ---------------------------------------------
# It does in one process what gen_kheaders.sh did with one "perl -pi" per
# header: the copies must be the same bytes (checked on every header of
# the build below); here, what it does with names, links and errors.
mkdir -p "$work/strip/in/sub" "$work/strip/out" "$work/strip/out2"
printf '/* SPDX-License-Identifier: GPL-2.0 */\n/* a\n * comment */\nint a; /* b */\n' \
	> "$work/strip/in/sub/a.h"
echo 'int stale;' > "$work/strip/in/b.h"
echo 'int fresh;' > "$work/strip/b.h"
ln -s sub/a.h "$work/strip/in/link.h"
# As in the build: srctree's headers by their full name, then the objtree's
# relative to the current directory.
(cd "$work/strip" && printf '%s\n' "$work/strip/in/sub/a.h" "$work/strip/in/link.h" \
	"$work/strip/in/b.h" b.h | perl "$strip" "$work/strip/in/" "$work/strip/out")
check "strip: SPDX comment kept, the others removed" \
	test "$(cat "$work/strip/out/sub/a.h")" = "$(printf '/* SPDX-License-Identifier: GPL-2.0 */\n\nint a; ')"
check "strip: a symlinked header becomes a regular file with its target's text" \
	test -f "$work/strip/out/link.h" -a ! -L "$work/strip/out/link.h" -a \
	"$(cat "$work/strip/out/link.h")" = "$(cat "$work/strip/out/sub/a.h")"
check "strip: of two headers of the same name, the later one wins" \
	test "$(cat "$work/strip/out/b.h")" = 'int fresh;'
check_fails "strip: a header that cannot be read fails" \
	perl "$strip" / "$work/strip/out2" <<< "$work/strip/in/missing.h" 2> "$work/strip/err"
check "... naming it" grep -q "in/missing.h: No such file" "$work/strip/err"

# --- Kbuild on an object tree of its own --------------------------------
obj=$OBJ/gen-test
mkdir -p "$obj"
cp "$OBJ/x86_64-m/.config" "$obj/.config" ||
	die "$OBJ/x86_64-m/.config missing: run harness/build x86_64-m first"
archive=$obj/kernel/kheaders_data.tar.xz
dummy=$TREE/include/linux/kheaders-test-dummy.h
link=$TREE/include/linux/kheaders-test-link.h
trap 'rm -f "$dummy" "$link"' EXIT

# kbuild [MAKE ARGS...]: build kernel/kheaders.o in $obj, output in
# $work/kbuild.out.
kbuild()
{
	make -C "$TREE" O="$obj" -j"$JOBS" V=0 "$@" kernel/kheaders.o \
		> "$work/kbuild.out" 2>&1
}

regenerated()
{
	grep -q 'GEN .*kheaders_data.tar.xz' "$work/kbuild.out"
}

member()
{
	tar -xJOf "$archive" "./$1" 2> /dev/null
}

# in_archive PATTERN: whether a name in the archive matches PATTERN; fails
# if the archive cannot be listed.
in_archive()
{
	tar -tJf "$archive" > "$work/list" || return 2
	grep -q "$1" "$work/list"
}

# built_and NAME: a successful kbuild whose output does or does not show
# the archive regenerated, as NAME is "regenerated" or "kept".
built_and()
{
	local what=$1
	shift
	kbuild "$@" || { cat "$work/kbuild.out"; return 1; }
	case $what in
	regenerated) regenerated ;;
	kept) regenerated && return 1 || return 0 ;;
	esac
}

start=$SECONDS
make -C "$TREE" O="$obj" olddefconfig > "$work/config.out" 2>&1
# Left by an earlier run, the archive may be up to date: start without.
rm -f "$archive" "${archive%.tar.xz}.md5"
check "first build (prepare, kheaders.o) succeeds" kbuild
echo "first build: $((SECONDS - start)) s"
check "... generating the archive and its md5" regenerated
check "... md5 file is the archive's md5 (32 hex, no newline)" \
	test "$(cat "$obj/kernel/kheaders_data.md5")" = \
	"$(md5sum < "$archive" | cut -c1-32)" -a \
	"$(wc -c < "$obj/kernel/kheaders_data.md5")" -eq 32
check "no-op build succeeds and does not regenerate" built_and kept

# The archive holds the same bytes that mainline's copy (tar) and
# substitution (one "perl -pi" per header) give, for every header.
same_as_mainline()
{
	local ref=$work/ref got=$work/got
	rm -rf "$ref" "$got"
	mkdir -p "$ref" "$got"
	tar -xJf "$archive" -C "$got" &&
	(cd "$obj" && sed "s:^$TREE/::" kernel/kheaders-srclist |
		tar -c -h -f - -C "$TREE" -T - | tar -xf - -C "$ref" &&
		tar -c -h -f - -T kernel/kheaders-objlist | tar -xf - -C "$ref") &&
	find "$ref" -type f -print0 |
		xargs -0 perl -0777 -pi -e 's/\/\*((?!SPDX).)*?\*\///smg' &&
	diff -r "$ref" "$got"
}
check "every header in the archive is what mainline's copy and substitution give" \
	same_as_mainline

entry=$(tar -tvJf "$archive" ./include/dt-bindings/input/linux-event-codes.h)
check "a symlinked header is archived as a regular file" test "${entry:0:1}" = -
target=$(member include/uapi/linux/input-event-codes.h)
check "... holding its target's content" test -n "$target" -a \
	"$(member include/dt-bindings/input/linux-event-codes.h)" = "$target"
check_fails "utsversion.h is not archived" in_archive utsversion.h
owners=$(tar -tvJf "$archive" | awk '{ print $1, $2 }' | sort -u | tr '\n' ' ')
check "owner 0/0, files 0644, directories 0755" \
	test "$owners" = "-rw-r--r-- 0/0 drwxr-xr-x 0/0 "
check "entries are dated at the epoch without KBUILD_BUILD_TIMESTAMP" \
	test "$(tar -tvJf "$archive" --full-time | awk '{ print $4 }' | sort -u)" = 1970-01-01

echo 'int kheaders_dummy;' > "$dummy"
check "a new header regenerates" built_and regenerated
check "... and is in the archive" test "$(member include/linux/kheaders-test-dummy.h)" = 'int kheaders_dummy;'
# An edit of the same size within the second the archive was written.
echo 'int kheaders_dumm2;' > "$dummy"
touch -d "@$(stat -c %Y "$archive").999999999" "$dummy"
check "an edit of the same size, dated in the archive's second" \
	test "$(stat -c %Y "$dummy")" = "$(stat -c %Y "$archive")" -a \
	"$(stat -c %s "$dummy")" = 20
check "... regenerates" built_and regenerated
check "... with the new content" test "$(member include/linux/kheaders-test-dummy.h)" = 'int kheaders_dumm2;'
check "... then a no-op build does not" built_and kept

echo 'int old_target;' > "$work/old.h"
echo 'int new_target;' > "$work/new.h"
touch -d 2001-01-01 "$work/old.h"
ln -s "$work/new.h" "$link"
check "a new symlinked header regenerates" built_and regenerated
ln -sfn "$work/old.h" "$link"
check "a symlink re-pointed at an older file regenerates" built_and regenerated
check "... with the new target's content" test "$(member include/linux/kheaders-test-link.h)" = 'int old_target;'

rm "$dummy" "$link"
check "removed headers regenerate" built_and regenerated
check_fails "... and are gone from the archive" in_archive kheaders-test

touch "$obj/include/generated/utsversion.h"
check "a newer utsversion.h does not regenerate" built_and kept

check "a new KBUILD_BUILD_TIMESTAMP regenerates" \
	built_and regenerated KBUILD_BUILD_TIMESTAMP='2024-01-02 03:04:05 UTC'
check "... and dates the entries" \
	test "$(tar -tvJf "$archive" --full-time | awk '{ print $4 }' | sort -u)" = 2024-01-02
check "going back to none regenerates" built_and regenerated

"$TREE/scripts/config" --file "$obj/.config" --set-str LOCALVERSION -khtest
check "a config change that changes generated headers regenerates" built_and regenerated
check "... with the new utsrelease.h" grep -q -- '-khtest' <(member include/generated/utsrelease.h)
check "... and the new autoconf.h" grep -q -- '-khtest' <(member include/generated/autoconf.h)
"$TREE/scripts/config" --file "$obj/.config" --set-str LOCALVERSION ""
check "... and back" built_and regenerated

# A change that rewrites autoconf.h alone: the generated headers other
# than autoconf.h stay as they were, byte for byte.
generated_sums()
{
	(cd "$obj" && find include/generated arch/x86/include/generated -name '*.h' \
		! -name autoconf.h ! -name utsversion.h -exec md5sum {} + | sort)
}
shift=$(sed -n 's/^CONFIG_LOG_BUF_SHIFT=//p' "$obj/.config")
generated_sums > "$work/generated.before"
"$TREE/scripts/config" --file "$obj/.config" --set-val LOG_BUF_SHIFT $((shift + 1))
check "a config change that rewrites autoconf.h alone (LOG_BUF_SHIFT $shift to $((shift + 1))) regenerates" \
	built_and regenerated
check "... and it changed autoconf.h alone" \
	cmp "$work/generated.before" <(generated_sums)
check "... the archive has the new autoconf.h" \
	grep -qx "#define CONFIG_LOG_BUF_SHIFT $((shift + 1))" <(member include/generated/autoconf.h)
"$TREE/scripts/config" --file "$obj/.config" --set-val LOG_BUF_SHIFT "$shift"
check "... and back" built_and regenerated
check "... and then a no-op build does not" built_and kept

touch "$script"
check "a newer gen_kheaders.sh regenerates" built_and regenerated

# Failures: loud, and no archive left that a later build would trust.
printf '#!/bin/sh\nhead -c 1000\nexit 1\n' > "$work/badxz"
chmod +x "$work/badxz"
echo 'int kheaders_dummy;' > "$dummy"
check_fails "xz failing half-way fails the build" kbuild XZ="$work/badxz"
check "... tar says why" grep -q "Child returned" "$work/kbuild.out"
check "... leaving no archive" test ! -e "$archive"
check_fails "a missing tar fails the build" kbuild TAR=/nonexistent/tar
check "... naming it" grep -q '/nonexistent/tar' "$work/kbuild.out"
check "... leaving no archive" test ! -e "$archive"
check "the next good build regenerates" kbuild
check "... a whole archive" xz -t "$archive"
rm "$dummy"
check "... and without the extra header too" built_and regenerated
want=$(cat "$obj/kernel/kheaders_data.md5")
[ -n "$want" ] || not_ok "no md5 of the build's archive"

# --- Reproducibility: gen_kheaders.sh alone on the same lists -----------
# From copies of the object tree's generated headers in other directories,
# at other times, with other umasks, TZ and users: the same bytes.
for n in 1 2; do
	copy=$work/real$n/deeper$n
	mkdir -p "$copy/kernel" "$copy/arch/x86"
	cp -a "$obj/include" "$copy/"
	cp -a "$obj/arch/x86/include" "$copy/arch/x86/"
	cp "$obj/kernel/kheaders-srclist" "$obj/kernel/kheaders-objlist" "$copy/kernel/"
done
find "$work/real2" -name '*.h' -exec touch -d '2001-02-03' {} +
chown -R nobody "$work/real2"
gen_alone()
{
	(cd "$1" && env srctree="$TREE" SRCARCH=x86 XZ="${XZ:-xz}" PERL=perl TAR=tar sh "$script" \
		kernel/kheaders_data.tar.xz kernel/kheaders-srclist \
		kernel/kheaders-objlist "")
}
(umask 077 && gen_alone "$work/real1/deeper1")
# shellcheck disable=SC2016 # expanded by the inner bash
(umask 002 && TZ=Asia/Tokyo setpriv --reuid=nobody --regid=nogroup \
	--clear-groups bash -c "$(declare -f gen_alone)"'; TREE=$1 script=$2 gen_alone "$3"' \
	_ "$TREE" "$script" "$work/real2/deeper2")
check "same headers, umask 077: the build's archive" \
	test "$(md5sum < "$work/real1/deeper1/kernel/kheaders_data.tar.xz" | cut -c1-32)" = "$want"
check "same headers, other dir, mtimes, TZ, umask and user: the build's archive" \
	test "$(md5sum < "$work/real2/deeper2/kernel/kheaders_data.tar.xz" | cut -c1-32)" = "$want"

# xz runs as many threads as scripts/jobserver-exec gives it (PARALLELISM),
# one without a jobserver; the bytes must depend on the block size alone.
# xzlog records the options of the last xz run (the compressor).
# shellcheck disable=SC2016 # for the wrapper
printf '#!/bin/sh\necho "$*" > "$0.args"\nexec xz "$@"\n' > "$work/xzlog"
chmod +x "$work/xzlog"
# xzlog_run CMD...: gen_alone in real1 through CMD (env's syntax).
xzlog_run()
{
	rm -f "$work/xzlog.args" "$work/real1/deeper1/kernel/kheaders_data.tar.xz"
	# shellcheck disable=SC2016 # expanded by the inner bash
	(umask 077 && env -u PARALLELISM XZ="$work/xzlog" \
		"$@" bash -c "$(declare -f gen_alone)"'; TREE=$1 script=$2 gen_alone "$3"' \
		_ "$TREE" "$script" "$work/real1/deeper1")
}
xzlog_run
check "same headers without a jobserver: the build's archive" \
	test "$(md5sum < "$work/real1/deeper1/kernel/kheaders_data.tar.xz" | cut -c1-32)" = "$want"
check "... from one xz thread" grep -q -- '--threads=+1 --block-size=20MiB' "$work/xzlog.args"
xzlog_run PARALLELISM=7
check "same headers in seven xz threads: the build's archive" \
	test "$(md5sum < "$work/real1/deeper1/kernel/kheaders_data.tar.xz" | cut -c1-32)" = "$want"
check "... which were seven" grep -q -- '--threads=+7 --block-size=20MiB' "$work/xzlog.args"
# Through Kbuild: make -j2 with nothing else to do lends xz both job
# slots, make -j1 one.
echo 'int kheaders_dummy;' > "$dummy"
rm -f "$work/xzlog.args"
check "make -j2 regenerates through the jobserver" \
	built_and regenerated XZ="$work/xzlog" -j2
check "... in two xz threads" grep -q -- '--threads=+2 ' "$work/xzlog.args"
rm "$dummy"
check "make -j1 regenerates" built_and regenerated XZ="$work/xzlog" -j1
check "... in one xz thread" grep -q -- '--threads=+1 ' "$work/xzlog.args"
check "... and the same archive as before" test "$(md5sum < "$archive" | cut -c1-32)" = "$want"
# An XZ= that is not xz and takes none of its threading options.
# shellcheck disable=SC2016 # for the wrapper
printf '#!/bin/sh\nfor a; do case $a in --*) echo "$0: unknown option $a" >&2; exit 1;; esac; done\nexec xz "$@"\n' \
	> "$work/plainxz"
chmod +x "$work/plainxz"
echo 'int kheaders_dummy;' > "$dummy"
check "an XZ= that takes no xz threading option still works" \
	built_and regenerated XZ="$work/plainxz"
check "... giving a whole archive" xz -t "$archive"
rm "$dummy"
check "... and back" built_and regenerated
# xz --robot -lvv: a "block" line per block, its uncompressed size in
# field 8, its check in 10, "cu" in 13 when the block header has both
# sizes, as only the multi-threaded encoder writes them.  Two blocks or
# more, so that one thread and seven differ in what runs at once.
tarsize=$(xz -dc "$archive" | wc -c)
blocks=$(((tarsize + 20971519) / 20971520))
check "... in $blocks blocks of 20 MiB (for $tarsize bytes), multi-threaded" \
	sh -c "xz --robot -lvv '$archive' | awk -F '\t' -v want=$blocks '
		\$1 == \"block\" {
			if (n++ && size != 20971520) bad = 1
			size = \$8
			if (\$13 != \"cu\") bad = 1
		}
		END { exit !(n == want && n >= 2 && !bad) }'"

cp "$obj/kernel/kheaders-srclist" "$work/real1/deeper1/kernel/kheaders-srclist"
echo "$TREE/include/linux/kheaders-missing.h" >> "$work/real1/deeper1/kernel/kheaders-srclist"
rm -f "$work/real1/deeper1/kernel/kheaders_data.tar.xz"
check_fails "a header that cannot be read fails the script" \
	gen_alone "$work/real1/deeper1" 2> "$work/missing.err"
check "... naming it" grep -q 'include/linux/kheaders-missing.h: No such file' "$work/missing.err"
check "... leaving no archive" test ! -e "$work/real1/deeper1/kernel/kheaders_data.tar.xz"

# --- A symlink farm of the source tree (as Bazel and Android's build make)
farm=$BUILD/tmp/linux-farm
farmobj=$OBJ/gen-test-farm
rm -rf "$farm"
cp -as "$TREE" "$farm"
# Kbuild takes srctree from the real path of the top Makefile: a copy of it
# makes the farm the source tree, every other file a symlink.
cp --remove-destination "$TREE/Makefile" "$farm/Makefile"
mkdir -p "$farmobj"
cp "$obj/.config" "$farmobj/.config"
start=$SECONDS
check "an O= build from a symlink farm of the tree succeeds" \
	sh -c "make -C '$farm' O='$farmobj' olddefconfig && make -C '$farm' O='$farmobj' -j$JOBS kernel/kheaders.o" \
	> "$work/farm.out" 2>&1
echo "symlink farm build: $((SECONDS - start)) s"
check "... with the farm as its source tree" \
	grep -q "^$farm/include/linux/kconfig.h\$" "$farmobj/kernel/kheaders-srclist"
check "... and gives the same archive, byte for byte" \
	cmp "$archive" "$farmobj/kernel/kheaders_data.tar.xz"
rm -rf "$farm"

done_testing
