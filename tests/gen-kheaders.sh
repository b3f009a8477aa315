#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The archive's build step: the comment stripper alone on made-up headers;
# gen_kheaders.sh alone, as Kbuild runs it, for what the archive holds and
# its reproducibility; then real Kbuild on an object tree of its own (the
# x86_64-m configuration, "make prepare" and kernel/kheaders.o only) for
# when the archive is regenerated, failures, and a symlink farm of the
# source tree.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

strip=$TREE/scripts/kheaders-strip-comments.pl
script=$TREE/kernel/gen_kheaders.sh
work=$BUILD/tmp/gen-kheaders
rm -rf "$work"
mkdir -p "$work"

# --- The comment stripper ---------------------------------------------
mkdir -p "$work/strip/in"
cat > "$work/strip/in/a.h" << 'H'
/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A block comment.
 */
#define S "/* not a comment */" /* trailing */
#define C '"' /* after a quote character */
int a; // a C++ comment with /* inside
int/* between */b;
int c;	/* tab before */
/* two */ /* on a line */
int d;
H
ln -s a.h "$work/strip/in/link.h"
printf '%s\n' "$work/strip/in/a.h" "$work/strip/in/link.h" |
	perl "$strip" "$work/strip/in/" "$work/strip/out"
out=$(cat "$work/strip/out/a.h")
expected='/* SPDX-License-Identifier: GPL-2.0 */
#define S "/* not a comment */"
#define C '"'"'"'"'"'
int a; // a C++ comment with /* inside
int b;
int c;
int d;'
check "strip: SPDX kept, strings, characters and // kept, lines of comments dropped" \
	test "$out" = "$expected"
[ "$out" = "$expected" ] || diff <(echo "$expected") <(echo "$out")
check "strip: a symlinked header becomes a regular file with its target's text" \
	test -f "$work/strip/out/link.h" -a ! -L "$work/strip/out/link.h" -a \
	"$(cat "$work/strip/out/link.h")" = "$out"
check_fails "strip: an unreadable header fails" \
	perl "$strip" / "$work/strip/out2" <<< "$work/strip/in/missing.h"

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
	make -C "$TREE" O="$obj" -j"$JOBS" "$@" kernel/kheaders.o \
		> "$work/kbuild.out" 2>&1
}

# shellcheck disable=SC2317 # called through check()
regenerated()
{
	grep -q 'GEN .*kheaders_data.tar.xz' "$work/kbuild.out"
}

member()
{
	tar -xJOf "$archive" "./$1" 2> /dev/null
}

start=$SECONDS
make -C "$TREE" O="$obj" olddefconfig > "$work/config.out" 2>&1
check "first build (prepare, kheaders.o) succeeds" kbuild
echo "first build: $((SECONDS - start)) s"
check "... generating the archive and its md5" regenerated
check "... md5 file is the archive's md5 (32 hex, no newline)" \
	test "$(cat "$obj/kernel/kheaders_data.md5")" = \
	"$(md5sum < "$archive" | cut -c1-32)"
kbuild
check_fails "no-op build does not regenerate" regenerated

entry=$(tar -tvJf "$archive" ./include/dt-bindings/input/linux-event-codes.h)
check "a symlinked header is archived as a regular file" test "${entry:0:1}" = -
check "... holding its target's content" test "$(member include/dt-bindings/input/linux-event-codes.h)" = \
	"$(member include/uapi/linux/input-event-codes.h)"
check "utsversion.h is not archived" \
	test -z "$(tar -tJf "$archive" | grep utsversion.h)"
owners=$(tar -tvJf "$archive" | awk '{ print $1, $2 }' | sort -u | tr '\n' ' ')
check "owner 0/0, files 0644, directories 0755" \
	test "$owners" = "-rw-r--r-- 0/0 drwxr-xr-x 0/0 "
check "entries are dated at the epoch without KBUILD_BUILD_TIMESTAMP" \
	test "$(tar -tvJf "$archive" --full-time | awk '{ print $4 }' | sort -u)" = 1970-01-01

echo 'int kheaders_dummy;' > "$dummy"
kbuild
check "a new header regenerates" regenerated
check "... and is in the archive" test "$(member include/linux/kheaders-test-dummy.h)" = 'int kheaders_dummy;'
kbuild
check_fails "... then a no-op build does not" regenerated
echo 'int kheaders_dumm2;' > "$dummy"
kbuild
check "a same-size edit right after the build regenerates" regenerated
check "... with the new content" test "$(member include/linux/kheaders-test-dummy.h)" = 'int kheaders_dumm2;'

echo 'int old_target;' > "$work/old.h"
echo 'int new_target;' > "$work/new.h"
touch -d 2001-01-01 "$work/old.h"
ln -s "$work/new.h" "$link"
kbuild
check "a new symlinked header regenerates" regenerated
ln -sfn "$work/old.h" "$link"
kbuild
check "a symlink re-pointed at an older file regenerates" regenerated
check "... with the new target's content" test "$(member include/linux/kheaders-test-link.h)" = 'int old_target;'

rm "$dummy" "$link"
kbuild
check "removed headers regenerate" regenerated
check "... and are gone from the archive" \
	test -z "$(tar -tJf "$archive" | grep kheaders-test)"

touch "$obj/include/generated/utsversion.h"
kbuild
check_fails "a newer utsversion.h does not regenerate" regenerated

kbuild KBUILD_BUILD_TIMESTAMP='2024-01-02 03:04:05 UTC'
check "a new KBUILD_BUILD_TIMESTAMP regenerates" regenerated
check "... and dates the entries" \
	test "$(tar -tvJf "$archive" --full-time | awk '{ print $4 }' | sort -u)" = 2024-01-02
kbuild
check "going back to none regenerates" regenerated

"$TREE/scripts/config" --file "$obj/.config" --set-str LOCALVERSION -khtest
kbuild
check "a config change that changes generated headers regenerates" regenerated
check "... with the new utsrelease.h and autoconf.h" \
	grep -q -- '-khtest' <(member include/generated/utsrelease.h) <(member include/generated/autoconf.h)
"$TREE/scripts/config" --file "$obj/.config" --set-str LOCALVERSION ""
kbuild

touch "$script"
kbuild
check "a newer gen_kheaders.sh regenerates" regenerated

# Failures: loud, and no archive left that a later build would trust.
printf '#!/bin/sh\nhead -c 1000\nexit 1\n' > "$work/badxz"
chmod +x "$work/badxz"
echo 'int kheaders_dummy;' > "$dummy"
check_fails "xz failing half-way fails the build" kbuild XZ="$work/badxz"
check "... leaving no archive" test ! -e "$archive"
check_fails "a missing tar fails the build" kbuild TAR=/nonexistent/tar
check "... naming it" grep -q '/nonexistent/tar' "$work/kbuild.out"
check "... leaving no archive" test ! -e "$archive"
check "... nor a temporary directory" test ! -e "$obj/kernel/.tmp_dir"
check "the next good build regenerates" kbuild
check "... a whole archive" xz -t "$archive"
rm "$dummy"
kbuild
want=$(cat "$obj/kernel/kheaders_data.md5")

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
	(cd "$1" && env srctree="$TREE" SRCARCH=x86 XZ=xz PERL=perl sh "$script" \
		kernel/kheaders_data.tar.xz kernel/kheaders-srclist \
		kernel/kheaders-objlist "")
}
(umask 077 && gen_alone "$work/real1/deeper1")
(umask 002 && TZ=Asia/Tokyo setpriv --reuid=nobody --regid=nogroup \
	--clear-groups bash -c "$(declare -f gen_alone); TREE=$TREE script=$script; gen_alone $work/real2/deeper2")
check "same headers, umask 077: the build's archive" \
	test "$(md5sum < "$work/real1/deeper1/kernel/kheaders_data.tar.xz" | cut -c1-32)" = "$want"
check "same headers, other dir, mtimes, TZ, umask and user: the build's archive" \
	test "$(md5sum < "$work/real2/deeper2/kernel/kheaders_data.tar.xz" | cut -c1-32)" = "$want"

grep -v 'include/linux/kconfig\.h$' "$obj/kernel/kheaders-srclist" > "$work/real1/deeper1/kernel/kheaders-srclist"
check_fails "without include/linux/kconfig.h the script fails" \
	gen_alone "$work/real1/deeper1" 2> "$work/nokconfig.err"
check "... naming it" grep -q 'include/linux/kconfig.h is not among' "$work/nokconfig.err"

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
