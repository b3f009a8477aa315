#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of kernel/gen_kheaders.sh run the way Kbuild runs it: from the
# object tree, with srctree, building_out_of_srctree, SRCARCH and XZ set.
# Small synthetic trees cover the rules; the x86_64-m build's real headers
# cover reproducibility.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

script=$TOP/kernel/gen_kheaders.sh
work=$BUILD/tmp/gen-kheaders
rm -rf "$work"
mkdir -p "$work"

# gen OBJTREE [VAR=VALUE...]: run the script as Kbuild does for OBJTREE,
# whose source tree is OBJTREE/../src.  Output goes to OBJTREE/gen.out.
gen()
{
	local obj=$1
	shift
	(cd "$obj" && env srctree=../src building_out_of_srctree=1 \
		SRCARCH=x86 XZ=xz "$@" \
		bash "$script" kernel/kheaders_data.tar.xz > gen.out 2>&1)
}

# A small source and object tree with the kinds of files the script meets.
make_tree()
{
	local t=$1

	mkdir -p "$t"/src/include/linux "$t"/src/include/generated \
		"$t"/src/arch/x86/include/asm "$t"/obj/include/generated "$t"/obj/kernel \
		"$t"/obj/arch/x86/include/generated/asm
	printf '/* SPDX-License-Identifier: GPL-2.0 */\n/* a comment */\nint a; /* x */\n#define S "/* kept */"\n' \
		> "$t"/src/include/linux/a.h
	echo 'int arch_b;' > "$t"/src/arch/x86/include/asm/b.h
	echo 'stale' > "$t"/src/include/generated/dup.h
	echo 'int fresh;' > "$t"/obj/include/generated/dup.h
	echo '#define UTS_VERSION "#1 today"' > "$t"/obj/include/generated/utsversion.h
	echo 'int gen;' > "$t"/obj/arch/x86/include/generated/asm/g.h
	echo 'lock' > "$t"/src/include/linux/.#a.h
	echo 'nfs' > "$t"/src/include/linux/.nfs000123.h
	echo 'emacs' > "$t"/src/include/linux/#a.h
	echo 'not a header' > "$t"/src/include/linux/a.c
}

archive_of()
{
	echo "$1/obj/kernel/kheaders_data.tar.xz"
}

# shellcheck disable=SC2317 # called through check()
regenerated()
{
	grep -q 'GEN' "$1/obj/gen.out"
}

member()
{
	tar -xJOf "$(archive_of "$1")" "./$2" 2> /dev/null
}

t=$work/basic
make_tree "$t"
check "first run creates the archive" gen "$t/obj"
check "the archive is a valid tar.xz" tar -tJf "$(archive_of "$t")"
check "md5 file holds the archive's md5 (32 hex, no newline)" \
	test "$(cat "$t/obj/kernel/kheaders_data.md5")" = \
	"$(md5sum < "$(archive_of "$t")" | cut -c1-32)" -a \
	"$(stat -c %s "$t/obj/kernel/kheaders_data.md5")" = 32
list=$(tar -tJf "$(archive_of "$t")" | sort | tr '\n' ' ')
check "entries are exactly the headers under ./include and ./arch/x86/include" \
	test "$list" = "./arch/x86/include/ ./arch/x86/include/asm/ ./arch/x86/include/asm/b.h ./arch/x86/include/generated/ ./arch/x86/include/generated/asm/ ./arch/x86/include/generated/asm/g.h ./include/ ./include/generated/ ./include/generated/dup.h ./include/linux/ ./include/linux/a.h "
check "the object tree's header wins over a stale source copy" \
	test "$(member "$t" include/generated/dup.h)" = "int fresh;"
owners=$(tar -tvJf "$(archive_of "$t")" | awk '{ print $1, $2 }' | sort -u | tr '\n' ' ')
check "owner 0/0, files 0644, directories 0755" \
	test "$owners" = "-rw-r--r-- 0/0 drwxr-xr-x 0/0 "
check "mtime is the epoch without KBUILD_BUILD_TIMESTAMP" \
	test "$(tar -tvJf "$(archive_of "$t")" --full-time | awk '{ print $4 }' | sort -u)" = 1970-01-01
a_h=$(member "$t" include/linux/a.h)
check "SPDX comment kept" grep -q 'SPDX-License-Identifier' <<< "$a_h"
check "other comments removed" test "$(grep -c 'comment\|x \*/' <<< "$a_h")" = 0
check "/* inside a string kept" grep -q '"/\* kept \*/"' <<< "$a_h"

gen "$t/obj"
check_fails "second run with nothing changed does not regenerate" regenerated "$t"

before=$(stat -c %Y "$t/src/include/linux/a.h")
gen "$t/obj"
sed -i 's/int a;/int z;/' "$t/src/include/linux/a.h"
touch -d "@$before" "$t/src/include/linux/a.h"
gen "$t/obj"
check "same-size edit with the same mtime regenerates" regenerated "$t"
check "... and the archive has the new content" grep -q 'int z;' <<< "$(member "$t" include/linux/a.h)"

touch "$t/src/include/linux/a.h"
gen "$t/obj"
check_fails "a touched header (mtime only) does not regenerate" regenerated "$t"

# Headers last changed more than two seconds before a build: the next
# build trusts their recorded status and reads no content, so the
# status must catch a same-size, same-mtime edit.
sleep 3
gen "$t/obj"
check "a build long after the last change records the headers' status" \
	test "$(cut -d ' ' -f 3 "$t/obj/kernel/.kheaders_data.stamp")" != -
# In place, as an editor may write: same inode, size and mtime (to the
# nanosecond); only the ctime tells.
touch -r "$t/src/include/linux/a.h" "$work/a.h.mtime"
a_h=$(sed 's/int z;/int y;/' "$t/src/include/linux/a.h")
echo "$a_h" > "$t/src/include/linux/a.h"
touch -r "$work/a.h.mtime" "$t/src/include/linux/a.h"
gen "$t/obj"
check "... a same-size in-place edit with the same mtime still regenerates" regenerated "$t"
check "... with the new content" grep -q 'int y;' <<< "$(member "$t" include/linux/a.h)"

echo 'int c;' > "$t/src/include/linux/c.h"
gen "$t/obj"
check "a new header regenerates" regenerated "$t"
rm "$t/src/include/linux/c.h"
gen "$t/obj"
check "a removed header regenerates" regenerated "$t"
check_fails "... and is gone from the archive" member "$t" include/linux/c.h

echo 'int other;' > "$t/obj/include/generated/utsversion.h"
gen "$t/obj"
check_fails "utsversion.h changes do not regenerate" regenerated "$t"

gen "$t/obj" KBUILD_BUILD_TIMESTAMP='2024-01-02 03:04:05 UTC'
check "KBUILD_BUILD_TIMESTAMP change regenerates" regenerated "$t"
check "... and sets the entries' mtime" \
	test "$(tar -tvJf "$(archive_of "$t")" --full-time | awk '{ print $4 }' | sort -u)" = 2024-01-02

printf 'x' | dd of="$(archive_of "$t")" bs=1 seek=100 conv=notrunc 2> /dev/null
gen "$t/obj" KBUILD_BUILD_TIMESTAMP='2024-01-02 03:04:05 UTC'
check "a corrupted archive is regenerated" regenerated "$t"
check "... and is whole again" xz -t "$(archive_of "$t")"

rm "$t/obj/kernel/kheaders_data.md5"
gen "$t/obj" KBUILD_BUILD_TIMESTAMP='2024-01-02 03:04:05 UTC'
check "a deleted md5 file is written again" \
	test "$(cat "$t/obj/kernel/kheaders_data.md5")" = \
	"$(md5sum < "$(archive_of "$t")" | cut -c1-32)"

cp "$script" "$work/gen_copy.sh"
echo '# changed' >> "$work/gen_copy.sh"
script=$work/gen_copy.sh
gen "$t/obj"
check "a changed script regenerates" regenerated "$t"
script=$TOP/kernel/gen_kheaders.sh

# Missing or failing tools: a clear error and no outputs left behind.
mkdir -p "$work/noxz"
for tool in bash perl tar md5sum find sort xargs cut cat cmp mktemp mv rm \
	    mkdir nproc grep dirname env date head tr; do
	ln -sf "$(command -v "$tool")" "$work/noxz/$tool"
done
echo 'int more;' > "$t/src/include/linux/d.h"
check_fails "build without xz fails" gen "$t/obj" PATH="$work/noxz"
check "... naming xz" grep -q "'xz' not found" "$t/obj/gen.out"
check "... leaving no archive, md5 or stamp" \
	test ! -e "$(archive_of "$t")" -a ! -e "$t/obj/kernel/kheaders_data.md5" \
	-a ! -e "$t/obj/kernel/.kheaders_data.stamp"
check "... nor temporary files" \
	test -z "$(find "$t/obj/kernel" -name '.kheaders_data.tmp.*')"

printf '#!/bin/sh\nhead -c 1000\nexit 1\n' > "$work/badxz"
chmod +x "$work/badxz"
check_fails "xz failing half-way fails the build" gen "$t/obj" XZ="$work/badxz"
check "... leaving no archive" test ! -e "$(archive_of "$t")"
check "the next good build regenerates" gen "$t/obj"
check "... a whole archive" xz -t "$(archive_of "$t")"

# Reproducibility on the real headers: the build's own archive, and two
# more from copies of its object tree in other directories, at other
# times, with other umasks and users, all have the same bytes.
real=$OBJ/x86_64-m
if [ -f "$real/kernel/kheaders_data.tar.xz" ]; then
	want=$(cat "$real/kernel/kheaders_data.md5")
	for n in 1 2; do
		copy=$work/real$n/deeper$n/obj
		mkdir -p "$copy/kernel" "$copy/arch/x86"
		cp -a "$real/include" "$copy/"
		cp -a "$real/arch/x86/include" "$copy/arch/x86/"
		ln -sfn "$TREE" "$(dirname "$copy")/src"
	done
	find "$work/real2" -name '*.h' -exec touch -d '2001-02-03' {} +
	chown -R nobody "$work/real2"
	(umask 077 && gen "$work/real1/deeper1/obj")
	(umask 002 && TZ=Asia/Tokyo setpriv --reuid=nobody --regid=nogroup \
		--clear-groups bash -c "$(declare -f gen); script=$script; gen $work/real2/deeper2/obj")
	check "real headers: umask 077 as root gives the build's archive" \
		test "$(cat "$work/real1/deeper1/obj/kernel/kheaders_data.md5")" = "$want"
	check "real headers: other dir, mtimes, TZ, umask and user give the same archive" \
		test "$(cat "$work/real2/deeper2/obj/kernel/kheaders_data.md5")" = "$want"
else
	not_ok "reproducibility: $real/kernel/kheaders_data.tar.xz missing (run harness/build x86_64-m)"
fi

done_testing
