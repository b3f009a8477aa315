#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/kheaders: the library and the kheaders command, against fake sysfs
# trees made from the real archive of an x86_64 build and from small
# archives made here with GNU tar, hostile ones included.  Runs as root,
# which it needs to chown to nobody and to make a device node, and runs
# some commands as nobody.
# Most helpers run only through check, which ShellCheck cannot see:
# shellcheck disable=SC2317
# shellcheck source=tests/lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

out=$BUILD/tools/kheaders
work=$BUILD/tmp/tools-kheaders
kh=$out/kheaders
log=$LOGS/tools-kheaders-build.log
start=$SECONDS

[ "$(id -u)" = 0 ] || die "$0 must run as root"
rm -rf "$work"
mkdir -p "$work"
chmod 0755 "$work"

# ---- build --------------------------------------------------------------

build()
{
	make -C "$TREE/tools/kheaders" O="$out" "$@" > "$log" 2>&1
}

# Compiler and linker warnings, except glibc's notes about the name
# lookup and dlopen code that libcrypto.a carries into a static binary.
no_warnings()
{
	! grep -i 'warning' "$log" | grep -v 'in statically linked applications'
}

only_sources()
{
	[ -z "$(find "$TREE/tools/kheaders" -type f \
		! -name '*.[ch]' ! -name Makefile ! -name README ! -name '*.8')" ]
}

check "make clean" build clean
check "make builds kheaders and libkheaders.a" build
check "the build has no warnings" no_warnings
check "the build writes only under O=" only_sources
check "kheaders and libkheaders.a are in O=" test -x "$kh" -a -f "$out/libkheaders.a"
cp "$log" "$log.dynamic"
check "make static builds kheaders-static" build static
check "the static build has no warnings but glibc's" no_warnings
check "kheaders-static is statically linked" \
	bash -c "file '$out/kheaders-static' | grep -q 'statically linked'"

dest=$work/dest
check "make install with PREFIX and DESTDIR" build install PREFIX=/usr/local DESTDIR="$dest"
check "install puts bin, lib, include and man8 files" test -x "$dest/usr/local/bin/kheaders" \
	-a -f "$dest/usr/local/lib/libkheaders.a" -a -f "$dest/usr/local/include/kheaders.h" \
	-a -f "$dest/usr/local/share/man/man8/kheaders.8"
check "the man page renders without warnings" \
	bash -c "man --warnings -l '$TREE/tools/kheaders/kheaders.8' 2>&1 >/dev/null | grep -c . | grep -qx 0"
check "the man page documents exit status 4" \
	bash -c "man -l '$TREE/tools/kheaders/kheaders.8' 2>/dev/null | grep -q 'Refused'"

# ---- fake sysfs trees ---------------------------------------------------

real=$OBJ/x86_64-y/kernel/kheaders_data.tar.xz
[ -f "$real" ] || real=$OBJ/x86_64-m/kernel/kheaders_data.tar.xz
for _ in $(seq 120); do
	[ -f "$real" ] && break
	echo "waiting for $real"
	sleep 10
done
check "a real archive exists ($real)" test -f "$real"

md5_of()
{
	md5sum < "$1" | cut -c1-32
}

# The build's LINUX_VERSION_CODE (396405 for 6.12.117), the one after it
# and its version: the fake sysfs trees and small archives carry it too.
vcode=$(tar -xJOf "$real" ./include/generated/uapi/linux/version.h |
	sed -n 's/^#define LINUX_VERSION_CODE \([0-9]*\)$/\1/p')
[ -n "$vcode" ] || die "no LINUX_VERSION_CODE in $real"
vnext=$((vcode + 1))
version=$((vcode >> 16)).$((vcode >> 8 & 255)).$((vcode & 255))

# sysfs DIR ARCHIVE [MD5]: a fake sysfs root serving ARCHIVE, built in.
sysfs()
{
	mkdir -p "$1/kernel/kheaders"
	cp "$2" "$1/kernel/kheaders.tar.xz"
	echo "$vcode" > "$1/kernel/kheaders/version_code"
	echo x86 > "$1/kernel/kheaders/arch"
	echo "${3:-$(md5_of "$2")}" > "$1/kernel/kheaders/md5"
}

# A small tree like the kernel's, for quick archives.
src=$work/src
mkdir -p "$src/include/generated/uapi/linux" "$src/include/linux" \
	"$src/arch/x86/include/asm"
echo "#define LINUX_VERSION_CODE $vcode" > "$src/include/generated/uapi/linux/version.h"
echo '#define CONFIG_X86 1' > "$src/include/generated/autoconf.h"
echo '#define IS_ENABLED(x) x' > "$src/include/linux/kconfig.h"
echo 'int a;' > "$src/include/linux/a.h"
echo 'int b;' > "$src/arch/x86/include/asm/b.h"

# archive NAME [TAR ARGS...]: $work/NAME.tar.xz of $src, names sorted so
# that harmless entries come first and get written before a bad one.
archive()
{
	local name=$1
	shift
	tar --format=gnu --sort=name -P -C "$src" -cf - "$@" |
		xz -T1 > "$work/$name.tar.xz"
}

real_sys=$work/sys-real
sysfs "$real_sys" "$real"
real_md5=$(md5_of "$real")
archive small ./include ./arch
small_sys=$work/sys-small
sysfs "$small_sys" "$work/small.tar.xz"
small_md5=$(md5_of "$work/small.tar.xz")

export KHEADERS_SYSFS=$real_sys
unset KHEADERS_CACHE_DIR XDG_CACHE_HOME

# run CMD...: stdout in $work/stdout, stderr in $work/stderr, status in $rc.
rc=0
run()
{
	"$@" > "$work/stdout" 2> "$work/stderr"
	rc=$?
}

# status CODE [REGEX]: the last run exited with CODE and, if given, its
# stderr matches REGEX (extended).
status()
{
	[ "$rc" = "$1" ] || { echo "exit $rc, expected $1: $(cat "$work/stderr")"; return 1; }
	[ -z "${2:-}" ] || grep -qE -- "$2" "$work/stderr" ||
		{ echo "stderr does not match /$2/: $(cat "$work/stderr")"; return 1; }
}

stdout_is()
{
	[ "$(cat "$work/stdout")" = "$1" ] || { echo "stdout: $(cat "$work/stdout")"; return 1; }
}

stdout_has()
{
	grep -qxF -- "$1" "$work/stdout" || { echo "stdout: $(cat "$work/stdout")"; return 1; }
}

# empty DIR: DIR exists and has nothing in it, no temporary directory either.
empty()
{
	if [ ! -d "$1" ] || [ -n "$(ls -A "$1")" ]; then
		ls -lA "$1"
		return 1
	fi
}

# ---- the commands on the real archive -----------------------------------

run "$kh" --help
check "--help exits 0 and lists exit status 64" stdout_has "  64 usage error"
run "$kh" frobnicate
check "an unknown command is a usage error (64)" status 64 "Usage: kheaders"
run "$kh" info extra
check "info with an argument is a usage error (64)" status 64

run "$kh" info
check "info exits 0" status 0
check "info shows version_code" stdout_has "version_code: $vcode ($version)"
check "info shows arch" stdout_has "arch: x86"
check "info shows md5" stdout_has "md5: $real_md5"
check "info shows the archive size" stdout_has "size: $(stat -c %s "$real")"
check "info shows built-in" stdout_has "module: no (built-in)"
mkdir -p "$real_sys/module/kheaders"
echo live > "$real_sys/module/kheaders/initstate"
run "$kh" info
check "info shows a module when initstate exists" stdout_has "module: yes"
rm -r "$real_sys/module"
run "$kh" --sysfs "$work/none" info
check "info without the archive exits 2 suggesting modprobe" \
	status 2 "does not exist.*$|modprobe kheaders"
run env KHEADERS_SYSFS="$work/none" "$kh" verify
check "KHEADERS_SYSFS is honoured (exit 2)" status 2 "$work/none/kernel/kheaders.tar.xz"

run "$kh" verify
check "verify exits 0 on the real archive" status 0
check "verify names the md5" stdout_is "$real_sys/kernel/kheaders.tar.xz: md5 $real_md5 matches"

cache=$work/cache
run "$kh" --cache-dir "$cache" extract
check "extract to the cache exits 0" status 0
check "extract prints <cache>/<md5>" stdout_is "$cache/$real_md5"
ref=$work/ref
mkdir "$ref"
tar -xJf "$real" -C "$ref"
check "the cache holds exactly the archive's files" \
	diff -r -x '.kheaders-*' "$ref" "$cache/$real_md5"
check "the cache records the md5" \
	test "$(cat "$cache/$real_md5/.kheaders-md5")" = "$real_md5"
check "the cache entry is private (0700)" test "$(stat -c %a "$cache/$real_md5")" = 700
check "no file in the cache is writable by others" \
	test -z "$(find "$cache/$real_md5" -perm /022)"
check "the cache base has no temporary directory" \
	test "$(ls -A "$cache")" = "$real_md5"
touch "$cache/$real_md5/marker"
run env KHEADERS_CACHE_DIR="$cache" "$kh" extract
check "a second extract (KHEADERS_CACHE_DIR) reuses the cache" \
	bash -c "[ $rc = 0 ] && [ -e '$cache/$real_md5/marker' ] && [ \"\$(cat '$work/stdout')\" = '$cache/$real_md5' ]"
rm "$cache/$real_md5/marker"

run "$kh" --cache-dir "$cache" check-version
check "check-version of the cache exits 0" status 0
run "$kh" check-version "$cache/$real_md5"
check "check-version DIR exits 0" status 0
check "check-version names the code" stdout_is "LINUX_VERSION_CODE $vcode matches the running kernel"
run "$kh" --cache-dir "$work/nocache" check-version
check "check-version without a cache entry fails naming it" \
	status 1 "$work/nocache/$real_md5 does not exist"

explicit=$work/explicit
run "$kh" extract "$explicit"
check "extract DIR exits 0 and prints DIR" stdout_is "$explicit"
check "extract DIR holds the archive's files" diff -r -x '.kheaders-*' "$ref" "$explicit"
mkdir "$work/empty"
run "$kh" extract "$work/empty/"
check "extract into an empty directory of ours works" \
	bash -c "[ $rc = 0 ] && [ -f '$work/empty/include/generated/uapi/linux/version.h' ]"
rm -rf "$work/empty" "$explicit"

echo "$vnext" > "$real_sys/kernel/kheaders/version_code"
run "$kh" check-version "$cache/$real_md5"
check "check-version: another version code exits 3 naming both" \
	status 3 "LINUX_VERSION_CODE $vcode but .*version_code\) is $vnext"
echo "$vcode" > "$real_sys/kernel/kheaders/version_code"

# ---- the static binary and the library ----------------------------------

run "$out/kheaders-static" --cache-dir "$work/cache-static" extract
check "kheaders-static extracts the real archive" stdout_is "$work/cache-static/$real_md5"
run "$out/kheaders-static" verify
check "kheaders-static verifies the real archive" status 0
run "$out/kheaders-static" check-version "$work/cache-static/$real_md5"
check "kheaders-static checks the version" status 0

cat > "$work/libtest.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <kheaders.h>

int main(void)
{
	struct kheaders *kh = kheaders_new(getenv("KHEADERS_SYSFS"));
	unsigned int code;

	if (!kh || kheaders_version_code(kh, &code) || kheaders_verify(kh))
		return 1;
	printf("%u\n", code);
	kheaders_free(kh);
	kh = kheaders_new("/nonexistent");
	if (kheaders_verify(kh) != -ENOENT)
		return 1;
	printf("%s\n", kheaders_errmsg(kh));
	kheaders_free(kh);
	return 0;
}
EOF
# shellcheck disable=SC2046 # pkg-config's output is a list of words
check "a C program builds against the installed header and library" \
	gcc -Wall -Wextra -o "$work/libtest" "$work/libtest.c" -I"$dest/usr/local/include" \
	"$dest/usr/local/lib/libkheaders.a" $(pkg-config --libs libarchive libcrypto)
check "the library gives the version code and verifies" \
	bash -c "'$work/libtest' | head -n 1 | grep -qx $vcode"
check "the library reports -ENOENT with a message" \
	bash -c "'$work/libtest' | grep -q '/nonexistent/kernel/kheaders.tar.xz does not exist'"

# ---- modprobe --load ----------------------------------------------------

mod_sys=$work/sys-mod
mkdir -p "$work/bin" "$mod_sys"
cat > "$work/bin/modprobe" <<EOF
#!/bin/sh
# A fake modprobe: the "module" makes the fake sysfs files appear.
echo "\$*" >> "$work/modprobe.log"
[ "\$FAKE_MODPROBE_FAIL" ] && exit 1
if [ "\$1" = -r ]; then
	rm -rf "$mod_sys/kernel" "$mod_sys/module"
else
	mkdir -p "$mod_sys/kernel/kheaders" "$mod_sys/module/kheaders"
	cp "$work/small.tar.xz" "$mod_sys/kernel/kheaders.tar.xz"
	echo "$vcode" > "$mod_sys/kernel/kheaders/version_code"
	echo x86 > "$mod_sys/kernel/kheaders/arch"
	echo $small_md5 > "$mod_sys/kernel/kheaders/md5"
	echo live > "$mod_sys/module/kheaders/initstate"
fi
EOF
chmod +x "$work/bin/modprobe"
export PATH="$work/bin:$PATH"
: > "$work/modprobe.log"
run "$kh" --sysfs "$mod_sys" info
check "without --load, no module: exit 2, modprobe not run" \
	bash -c "[ $rc = 2 ] && [ ! -s '$work/modprobe.log' ]"
run "$kh" --sysfs "$mod_sys" --load info
check "--load runs modprobe, info shows the module" stdout_has "module: yes"
check "--load never unloads: only \"modprobe kheaders\" was run" \
	test "$(tr '\n' ,  < "$work/modprobe.log")" = "kheaders,"
check "after --load the module stays loaded for other users" test -e "$mod_sys/kernel"
check "--help says --load never unloads" bash -c "'$kh' --help | grep -q 'never unloaded'"
check "the man page says --load never unloads" \
	bash -c "LC_ALL=C man -l '$TREE/tools/kheaders/kheaders.8' 2>/dev/null | tr -s ' \n' ' ' |
		grep -q 'never unloads the module'"
: > "$work/modprobe.log"
run "$kh" --sysfs "$mod_sys" --load verify
check "--load with the module loaded neither loads nor unloads" \
	bash -c "[ $rc = 0 ] && [ ! -s '$work/modprobe.log' ] && [ -e '$mod_sys/kernel' ]"
"$work/bin/modprobe" -r kheaders
run env FAKE_MODPROBE_FAIL=1 "$kh" --sysfs "$mod_sys" --load info
check "--load when modprobe fails: exit 2" status 2 "modprobe kheaders"

# ---- bad archives and attributes ----------------------------------------

export KHEADERS_SYSFS=$work/sys-bad
bad_cache=$work/cache-bad

# bad NAME ARCHIVE MD5 CODE REGEX [DIR]: serve ARCHIVE with MD5, extract
# it to the cache (or DIR); extract must exit CODE with stderr matching
# REGEX and leave nothing behind.
bad()
{
	local what=$1 file=$2 md5=$3 code=$4 re=$5 dir=${6:-}

	rm -rf "$KHEADERS_SYSFS" "$bad_cache"
	mkdir -p "$bad_cache"
	sysfs "$KHEADERS_SYSFS" "$file" "$md5"
	if [ -n "$dir" ]; then
		run "$kh" extract "$dir"
		check "$what: extract DIR refused (exit $code)" status "$code" "$re"
		check "$what: DIR not created, no temporary directory" \
			bash -c "[ ! -e '$dir' ] && [ -z \"\$(ls -A '$(dirname "$dir")' | grep kheaders-tmp)\" ]"
	else
		run "$kh" --cache-dir "$bad_cache" extract
		check "$what: extract refused (exit $code)" status "$code" "$re"
		check "$what: nothing left in the cache" empty "$bad_cache"
	fi
}

head -c $(($(stat -c %s "$real") / 2)) "$real" > "$work/truncated.tar.xz"
cp "$real" "$work/corrupt.tar.xz"
printf '\x55' | dd of="$work/corrupt.tar.xz" bs=1 seek=$(($(stat -c %s "$real") / 2)) \
	conv=notrunc status=none
zero=00000000000000000000000000000000

rm -rf "$KHEADERS_SYSFS"
sysfs "$KHEADERS_SYSFS" "$work/small.tar.xz" "$zero"
run "$kh" verify
check "verify: wrong md5 attribute exits 3 naming both values" \
	status 3 "has md5 $small_md5 but .*md5 says $zero"
bad "wrong md5 attribute" "$work/small.tar.xz" "$zero" 3 "md5 $small_md5 .* says $zero"
bad "malformed md5 attribute" "$work/small.tar.xz" "../../etc" 1 "is not 32 lowercase hex"
bad "truncated archive, its md5 in sysfs" "$work/truncated.tar.xz" "$real_md5" 3 "says $real_md5"
bad "truncated archive, matching md5" "$work/truncated.tar.xz" \
	"$(md5_of "$work/truncated.tar.xz")" 1 "cannot decode .*kheaders.tar.xz"
bad "corrupted archive, matching md5" "$work/corrupt.tar.xz" \
	"$(md5_of "$work/corrupt.tar.xz")" 1 "cannot decode .*kheaders.tar.xz"
bad "corrupted archive, explicit DIR" "$work/corrupt.tar.xz" \
	"$(md5_of "$work/corrupt.tar.xz")" 1 "cannot decode .*kheaders.tar.xz" "$work/out-corrupt"

tar --format=gnu -C "$src" -cf "$work/plain.tar" ./include
bad "uncompressed tar" "$work/plain.tar" "$(md5_of "$work/plain.tar")" 1 "not xz compressed"

# hostile NAME REGEX [TAR ARGS...]: an archive of $src with something bad.
hostile()
{
	local what=$1 re=$2
	shift 2
	archive hostile "$@"
	bad "$what" "$work/hostile.tar.xz" "$(md5_of "$work/hostile.tar.xz")" 4 "$re"
}

mv_entry()
{
	echo "--transform=s,^\\./include/linux/a\\.h\$,$1,"
}

hostile "../ in a name" "entry \./include/\.\./\.\./evil\.h refused: .*\"\.\.\"" \
	"$(mv_entry ./include/../../evil.h)" ./include
hostile "absolute name" "entry /tmp/kheaders-evil\.h refused: an absolute path" \
	"$(mv_entry /tmp/kheaders-evil.h)" ./include
check "../ and absolute entries were not written anywhere" \
	test ! -e /tmp/kheaders-evil.h -a ! -e "$work/evil.h" -a ! -e "$BUILD/tmp/evil.h"
ln -s ../../../../../../etc "$src/include/linux/esc"
hostile "symlink out of the tree" "entry \./include/linux/esc refused: a symbolic link" ./include
rm "$src/include/linux/esc"
mknod "$src/include/linux/null" c 1 3
hostile "device node" "entry \./include/linux/null refused: a character device" ./include
rm "$src/include/linux/null"
mkfifo "$src/include/linux/fifo"
hostile "fifo" "entry \./include/linux/fifo refused: a fifo" ./include
rm "$src/include/linux/fifo"
ln "$src/include/linux/a.h" "$src/include/linux/z.h"
hostile "hard link" "entry \./include/linux/z\.h refused: a hard link" ./include
rm "$src/include/linux/z.h"
echo 'all:' > "$src/Makefile"
hostile "file outside include/" "entry \./Makefile refused: outside include/" ./include ./Makefile
rm "$src/Makefile"
mkdir -p "$src/arch/arm64/include/asm"
echo 'int c;' > "$src/arch/arm64/include/asm/c.h"
hostile "another arch's headers" "entry \./arch/arm64/ refused: outside" ./include ./arch
rm -r "$src/arch/arm64"
echo 'x' > "$src/arch/x86/Kconfig"
hostile "arch/x86/ outside include/" "entry \./arch/x86/Kconfig refused" ./include ./arch
rm "$src/arch/x86/Kconfig"
archive hostile "$(mv_entry ./include/./linux/a.h)" ./include
bad "a ./ component" "$work/hostile.tar.xz" "$(md5_of "$work/hostile.tar.xz")" 4 \
	'has a "\." component'
archive hostile "$(mv_entry ./include/../../evil.h)" ./include
bad "../ in a name, explicit DIR" "$work/hostile.tar.xz" \
	"$(md5_of "$work/hostile.tar.xz")" 4 "refused" "$work/out-hostile"

# An archive without the headers tools need is refused; check-version of
# a tree without version.h names the file.
mv "$src/include/generated/uapi" "$work/uapi"
archive nover ./include ./arch
mv "$work/uapi" "$src/include/generated/uapi"
bad "archive without version.h" "$work/nover.tar.xz" "$(md5_of "$work/nover.tar.xz")" 4 \
	"has no include/generated/uapi/linux/version.h"
mkdir -p "$work/nover"
tar -xJf "$work/small.tar.xz" -C "$work/nover"
rm "$work/nover/include/generated/uapi/linux/version.h"
run "$kh" check-version "$work/nover"
check "check-version: missing version.h exits 1 naming it" \
	status 1 "$work/nover/include/generated/uapi/linux/version.h does not exist"

# ---- untrusted cache directories (as root) ------------------------------

export KHEADERS_SYSFS=$small_sys
md5=$small_md5

# plant DIR: a copy of good headers with a correct .kheaders-md5, as an
# attacker or an earlier run would leave it.
plant()
{
	mkdir -p "$1"
	tar -xJf "$work/small.tar.xz" -C "$1"
	echo "$md5" > "$1/.kheaders-md5"
	echo '#define HOSTILE 1' > "$1/include/linux/a.h"
}

# refused WHAT BASE REGEX: extract and check-version with cache base BASE
# are both refused with REGEX, and the planted entry is left untouched.
refused()
{
	local what=$1 base=$2 re=$3

	run "$kh" --cache-dir "$base" extract
	check "$what: extract refused (exit 4)" status 4 "$re"
	run "$kh" --cache-dir "$base" check-version
	check "$what: check-version refused (exit 4)" status 4 "$re"
}

c=$work/c-nobody
plant "$c/$md5"
chown -R nobody:nogroup "$c/$md5"
refused "cache entry owned by nobody" "$c" "$c/$md5 is owned by uid 65534, not by you"
check "the entry of nobody is left alone" grep -q HOSTILE "$c/$md5/include/linux/a.h"

c=$work/c-gw
plant "$c/$md5"
chmod 0770 "$c/$md5"
refused "group-writable cache entry" "$c" "$c/$md5 is writable by group or others \(mode 0770\)"

c=$work/c-ww
plant "$c/$md5"
chmod 0707 "$c/$md5"
refused "world-writable cache entry" "$c" "writable by group or others \(mode 0707\)"

c=$work/c-base
plant "$c/$md5"
chmod 0777 "$c"
refused "world-writable cache base" "$c" "$c is writable by group or others \(mode 0777\)"

c=$work/c-anc
mkdir -p "$c/a"
chmod 0775 "$c"
run "$kh" --cache-dir "$c/a/b/cache" extract
check "group-writable ancestor: refused (exit 4)" \
	status 4 "$c is writable by group or others \(mode 0775\)"
check "group-writable ancestor: nothing created below it" test ! -e "$c/a/b"

c=$work/c-anc-nobody
mkdir -p "$c/a"
chown nobody "$c"
run "$kh" --cache-dir "$c/a/cache" extract
check "ancestor owned by nobody: refused (exit 4)" status 4 "$c is owned by uid 65534, neither you nor root"

c=$work/c-sticky
mkdir -p "$c"
chmod 1777 "$c"
run "$kh" --cache-dir "$c/mine/cache" extract
check "a root-owned sticky ancestor (like /tmp) is accepted" stdout_is "$c/mine/cache/$md5"
check "created cache directories are private (0700)" test "$(stat -c %a "$c/mine")" = 700

c=$work/c-link
plant "$work/c-link-target"
mkdir -p "$c"
ln -s "$work/c-link-target" "$c/$md5"
refused "symlinked cache entry" "$c" "$c/$md5 is a symbolic link"
check "the symlinked entry is left alone" test -L "$c/$md5"

c=$work/c-base-link
mkdir -p "$work/c-nobody-base"
chown nobody "$work/c-nobody-base"
ln -s "$work/c-nobody-base" "$c"
run "$kh" --cache-dir "$c" extract
check "cache base symlinked to nobody's directory: refused (exit 4)" \
	status 4 "$work/c-nobody-base is owned by uid 65534, not by you"
check "nothing created in nobody's directory" empty "$work/c-nobody-base"

c=$work/c-nomd5
plant "$c/$md5"
rm "$c/$md5/.kheaders-md5"
refused "cache entry without .kheaders-md5" "$c" "has no readable \.kheaders-md5"

c=$work/c-othermd5
plant "$c/$md5"
echo "$zero" > "$c/$md5/.kheaders-md5"
refused "cache entry recording another md5" "$c" "does not record md5 $md5"

c=$work/c-file
mkdir -p "$c"
echo x > "$c/$md5"
refused "cache entry that is a file" "$c" "$c/$md5 is not a directory"

# ---- explicit DIR -------------------------------------------------------

mkdir "$work/full"
touch "$work/full/keep"
run "$kh" extract "$work/full"
check "extract into a non-empty DIR is refused" status 1 "$work/full is not empty"
check "the non-empty DIR is left alone" test "$(ls -A "$work/full")" = keep
mkdir "$work/theirs"
chown nobody "$work/theirs"
run "$kh" extract "$work/theirs"
check "extract into an empty DIR of nobody's is refused (exit 4)" \
	status 4 "$work/theirs is owned by uid 65534"
ln -s "$work/theirs" "$work/dirlink"
run "$kh" extract "$work/dirlink"
check "extract into a symlink is refused" status 1 "$work/dirlink exists and is not a directory"

# ---- as nobody ----------------------------------------------------------

home=$work/home-nobody
mkdir -p "$home"
chown nobody:nogroup "$home"
as_nobody()
{
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env -u KHEADERS_CACHE_DIR HOME="$home" "$@"
}

run as_nobody XDG_CACHE_HOME="$home/xdg" "$kh" extract
check "as nobody: extract goes to \$XDG_CACHE_HOME/kheaders/<md5>" \
	stdout_is "$home/xdg/kheaders/$md5"
check "as nobody: the cache belongs to nobody" \
	test "$(stat -c %U "$home/xdg/kheaders/$md5/include")" = nobody
run as_nobody XDG_CACHE_HOME="$home/xdg" "$kh" check-version
check "as nobody: check-version of the XDG cache" status 0
run as_nobody "$kh" extract
check "as nobody: without XDG_CACHE_HOME, ~/.cache/kheaders/<md5>" \
	stdout_is "$home/.cache/kheaders/$md5"
plant "$work/c-root/$md5"
chown nobody "$work/c-root"
run as_nobody "$kh" --cache-dir "$work/c-root" extract
check "as nobody: a cache entry made by root is refused (exit 4)" \
	status 4 "$work/c-root/$md5 is owned by uid 0, not by you \(uid 65534\)"
run as_nobody XDG_CACHE_HOME="$work/c-sticky" "$kh" extract
check "as nobody: a cache in a root-owned sticky directory works" \
	stdout_is "$work/c-sticky/kheaders/$md5"

# ---- 1: removal through a swapped temporary directory -------------------

# A directory others can write to (no sticky bit) or that is another
# user's: they could swap our temporary directory for their own tree or
# for a symlink, so nothing is made there.
pub=$work/pub
mkdir -p "$pub"
chmod 0777 "$pub"
run "$kh" extract "$pub/out"
check "extract DIR in a directory writable by others: refused (exit 4)" \
	status 4 "$pub is writable by group or others \(mode 0777\)"
check "... and nothing is created there" empty "$pub"
mkdir -p "$work/theirs-parent"
chown nobody "$work/theirs-parent"
run "$kh" extract "$work/theirs-parent/out"
check "extract DIR in a directory of another user: refused (exit 4)" \
	status 4 "$work/theirs-parent is owned by uid 65534"
mkdir -p "$work/mysticky"
chmod 1777 "$work/mysticky"
run "$kh" extract "$work/mysticky/out"
check "extract DIR in a sticky directory of ours works" stdout_is "$work/mysticky/out"

# swap_attack WHO CMD...: run CMD (a kheaders extract) under strace, which
# delays its rename and each getdents64 so that the cleanup after the
# failed rename is slow; meanwhile, as WHO, make the rename fail with a
# non-empty target and then swap the temporary directory for a symlink
# to $victim.  The victim must survive.
victim=$work/victim
swap_attack()
{
	local who=$1 dir=$2 target=$3
	shift 3
	rm -rf "$victim" "$work/strace.log"
	cp -a "$src" "$victim"
	strace -f -o "$work/strace.log" -e trace=rename,renameat,renameat2,getdents64 \
		-e inject=rename,renameat,renameat2:delay_enter=1000000 \
		-e inject=getdents64:delay_exit=1500000 "$@" > "$work/stdout" 2> "$work/stderr" &
	local pid=$! group=nogroup
	[ "$who" != root ] || group=root
	# shellcheck disable=SC2016 # expanded by the inner shell
	setpriv --reuid="$who" --regid="$group" --clear-groups bash -c '
		cd "$1" || exit
		for _ in $(seq 200); do
			t=$(ls -d .kheaders-tmp-* 2>/dev/null) && break
			sleep 0.05
		done
		[ -n "$t" ] || exit
		mkdir "$2" && touch "$2/x"
		for _ in $(seq 200); do
			grep -qE "rename(at2?)?\(.*= -1" "$3" && break
			sleep 0.05
		done
		sleep 0.5
		mv "$t" old && ln -s "$4" "$t"' - "$dir" "$target" "$work/strace.log" "$victim" \
		> /dev/null 2>&1
	wait "$pid"
	rc=$?
	diff -r "$src" "$victim"
}
if command -v strace > /dev/null; then
	chmod 0777 "$work"	# for nobody's strace.log reads
	rm -rf "${pub:?}"/* "$pub"/.k* 2>/dev/null
	check "swapped temporary directory in a public DIR's parent: nothing of root's removed" \
		swap_attack nobody "$pub" out "$kh" extract "$pub/out"
	chmod 0755 "$work"
	rm -rf "${pub:?}"/* "$pub"/.k* 2>/dev/null
	c=$work/c-swap
	mkdir -p "$c"
	check "swapped temporary directory in the cache: removal never follows it" \
		swap_attack root "$c" "$md5" "$kh" --cache-dir "$c" extract
	check "... and the failure is reported" status 4 "has no readable \.kheaders-md5"
fi

# ---- 2: durability and damaged cache entries ----------------------------

c=$work/c-damage
if command -v strace > /dev/null; then
	strace -f -o "$work/sync.log" -e trace=syncfs,fsync,rename,renameat,renameat2 \
		"$kh" --cache-dir "$c" extract > /dev/null 2>&1
	check "extract syncs the tree before the rename and the cache base after" \
		bash -c "grep -oE '^[0-9]+ +(syncfs|fsync|rename[a-z0-9]*)' '$work/sync.log' |
			awk '{print \$2}' | tr '\n' , | grep -qx 'syncfs,renameat,fsync,'"
fi
e=$c/$md5
run "$kh" --cache-dir "$c" extract
check "the cache entry has a manifest of every file" \
	test "$(wc -l < "$e/.kheaders-manifest")" = "$(find "$e" -type f ! -name '.kheaders-*' | wc -l)"
: > "$e/include/linux/a.h"
run "$kh" --cache-dir "$c" check-version
check "check-version of an emptied header in the cache: exit 1 naming it" \
	status 1 "$e/include/linux/a.h is not a file of 7 bytes as unpacked; $e is damaged"
run "$kh" --cache-dir "$c" extract
check "extract repairs an emptied header, saying so" \
	status 0 "warning: .*include/linux/a.h .*damaged; unpacked it again"
check "... and the header is back" test "$(cat "$e/include/linux/a.h")" = "int a;"
check "... and no temporary directory is left" test "$(ls -A "$c")" = "$md5"
rm "$e/include/linux/kconfig.h"
run "$kh" --cache-dir "$c" extract
check "extract repairs a deleted header" \
	bash -c "[ $rc = 0 ] && [ -f '$e/include/linux/kconfig.h' ] && grep -q 'does not exist' '$work/stderr'"
sed -i "s/$vcode/$vnext/" "$e/include/generated/uapi/linux/version.h"
run "$kh" --cache-dir "$c" check-version
check "check-version: version.h changed in place (same size) is noticed by its md5" \
	status 1 "version.h has md5 .*, not .* as unpacked"
run "$kh" --cache-dir "$c" extract
check "extract repairs it" bash -c "grep -q $vcode '$e/include/generated/uapi/linux/version.h'"
rm "$e/.kheaders-manifest"
run "$kh" --cache-dir "$c" extract
check "an entry without a manifest (older kheaders) is unpacked again" \
	bash -c "[ $rc = 0 ] && [ -f '$e/.kheaders-manifest' ]"
touch "$e/marker"
run "$kh" --cache-dir "$c" extract --force
check "extract --force unpacks a good entry again" \
	bash -c "[ $rc = 0 ] && [ ! -e '$e/marker' ] && [ ! -s '$work/stderr' ]"
run "$kh" -f --cache-dir "$c" extract
check "-f works too" status 0
mkdir "$work/exp-damage"
run "$kh" extract "$work/exp-damage/t"
: > "$work/exp-damage/t/include/linux/kconfig.h"
run "$kh" check-version "$work/exp-damage/t"
check "check-version DIR notices a damaged tree made by extract" status 1 "is damaged"

# ---- 3: temporary directories of killed runs ----------------------------

c=$work/c-stale
"$kh" --cache-dir "$c" extract > /dev/null
rm -r "${c:?}/$md5"
mkdir -p "$c/.kheaders-tmp-dead0001/include/linux" "$c/.kheaders-tmp-live0001" \
	"$c/.kheaders-tmp-nobody01" "$victim/keep"
touch "$c/.kheaders-tmp-dead0001/include/linux/a.h" "$victim/keep/file"
chown nobody "$c/.kheaders-tmp-nobody01"
ln -s "$victim/keep" "$c/.kheaders-tmp-link0001"
flock "$c/.kheaders-tmp-live0001" sleep 30 &
lock_pid=$!
sleep 0.5
run "$kh" --cache-dir "$c" extract
check "a stale temporary directory of ours is removed by the next extract" \
	test ! -e "$c/.kheaders-tmp-dead0001"
check "... but not one that is locked (in use)" test -d "$c/.kheaders-tmp-live0001"
check "... nor another user's" test -d "$c/.kheaders-tmp-nobody01"
check "... nor a symlink's target" test -f "$victim/keep/file"
kill "$lock_pid"
wait "$lock_pid" 2> /dev/null
rm -rf "${c:?}"
"$kh" --sysfs "$real_sys" --cache-dir "$c" extract > /dev/null 2>&1 &
kill_pid=$!
for _ in $(seq 100); do
	compgen -G "$c/.kheaders-tmp-*/include" > /dev/null && break
	sleep 0.05
done
kill -KILL "$kill_pid"
wait "$kill_pid" 2> /dev/null
check "SIGKILL during extract leaves its temporary directory" \
	compgen -G "$c/.kheaders-tmp-*" > /dev/null
"$kh" --cache-dir "$c" extract > /dev/null
check "... which the next extract removes" test -z "$(ls -d "$c"/.kheaders-tmp-* 2>/dev/null)"

# ---- 4: full file systems -----------------------------------------------

for fs in "nr_inodes=50" "nr_inodes=10000"; do
	mnt=$work/mnt-${fs%%=*}
	mkdir -p "$mnt"
	mount -t tmpfs -o "size=1m,$fs,mode=0755" none "$mnt" || continue
	run "$kh" --sysfs "$real_sys" extract "$mnt/out"
	check "extract on a full tmpfs ($fs): exit 1, no space left on device" \
		status 1 "No space left on device"
	check "... and nothing is left there" empty "$mnt"
	umount "$mnt"
done

# ---- 5..8: arguments, sysfs files, names, stdout ------------------------

run "$kh" check-version ''
check "check-version '' is a usage error (64)" status 64
run "$kh" extract ''
check "extract '' is a usage error (64)" status 64
run "$kh" --cache-dir '' extract
check "--cache-dir '' is a usage error (64)" status 64
run "$kh" --sysfs '' info
check "--sysfs '' is a usage error (64)" status 64

odd=$work/sys-odd
rm -rf "$odd"
sysfs "$odd" "$work/small.tar.xz"
rm "$odd/kernel/kheaders.tar.xz"
mkfifo "$odd/kernel/kheaders.tar.xz"
run timeout 10 "$kh" --sysfs "$odd" info
check "a fifo as the archive is refused, not waited on" status 1 "kheaders.tar.xz is not a regular file"
run timeout 10 "$kh" --sysfs "$odd" verify
check "verify of a fifo is refused" status 1 "not a regular file"
rm "$odd/kernel/kheaders.tar.xz"
ln -s /dev/zero "$odd/kernel/kheaders.tar.xz"
run timeout 10 "$kh" --sysfs "$odd" verify
check "/dev/zero as the archive is refused" status 1 "not a regular file"
rm "$odd/kernel/kheaders.tar.xz"
mkdir "$odd/kernel/kheaders.tar.xz"
run "$kh" --sysfs "$odd" info
check "a directory as the archive is refused" status 1 "not a regular file"
rmdir "$odd/kernel/kheaders.tar.xz"
cp "$work/small.tar.xz" "$odd/kernel/kheaders.tar.xz"
rm "$odd/kernel/kheaders/arch"
mkfifo "$odd/kernel/kheaders/arch"
run timeout 10 "$kh" --sysfs "$odd" info
check "a fifo as an attribute is refused" status 1 "arch is not a regular file"
rm "$odd/kernel/kheaders/arch" "$odd/kernel/kheaders/version_code"
run "$kh" --sysfs "$odd" verify
check "verify needs neither arch nor version_code" status 0
printf 'x86\0evil\n' > "$odd/kernel/kheaders/arch"
echo "$vcode" > "$odd/kernel/kheaders/version_code"
run "$kh" --sysfs "$odd" info
check "a NUL byte in an attribute is refused" status 1 "arch: contains a NUL byte"

export KHEADERS_SYSFS=$work/sys-bad
long=$(printf "%0200d/" $(seq 21) | tr 0 d)
archive hostile "$(mv_entry "./include/${long}a.h")" ./include ./arch
bad "name longer than PATH_MAX" "$work/hostile.tar.xz" "$(md5_of "$work/hostile.tar.xz")" 4 \
	"would not fit in PATH_MAX"
tar -cf "$work/empty.tar" -T /dev/null
bad "empty uncompressed tar" "$work/empty.tar" "$(md5_of "$work/empty.tar")" 1 "not xz compressed"
xz -T1 < "$work/empty.tar" > "$work/empty.tar.xz"
bad "empty xz tar" "$work/empty.tar.xz" "$(md5_of "$work/empty.tar.xz")" 4 \
	"has no include/generated/uapi/linux/version.h"
export KHEADERS_SYSFS=$small_sys
if [ -w /dev/full ]; then
	run bash -c "'$kh' info > /dev/full"
	check "kheaders info > /dev/full fails" status 1 "standard output: No space left on device"
fi

# ---- 9: limits ----------------------------------------------------------

export KHEADERS_SYSFS=$work/sys-bad
truncate -s 2G "$src/include/linux/zero.h"
archive hostile --sparse ./include ./arch
rm "$src/include/linux/zero.h"
bad "2 GiB in a tiny archive, default limit" "$work/hostile.tar.xz" \
	"$(md5_of "$work/hostile.tar.xz")" 4 "unpacks to more than 1073741824 bytes"
export KHEADERS_SYSFS=$small_sys
run "$kh" --max-bytes 20 extract "$work/lim1"
check "--max-bytes bounds the total size (exit 4)" status 4 "more than 20 bytes"
run "$kh" --max-entries 3 extract "$work/lim2"
check "--max-entries bounds the entries (exit 4)" status 4 "more than 3 entries"
check "... and nothing is left" test ! -e "$work/lim1" -a ! -e "$work/lim2"
run "$kh" --max-entries 0 extract "$work/lim3"
check "--max-entries 0 is a usage error" status 64
run "$kh" --max-bytes 1000 --max-entries 20 extract "$work/lim4"
check "an archive within the limits extracts" status 0

# ---- 10: threads --------------------------------------------------------

cat > "$work/threads.c" <<'EOF'
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <kheaders.h>

static volatile int running = 2;
static const char *cache;

static void *extract(void *dir)
{
	struct kheaders *kh = kheaders_new(getenv("KHEADERS_SYSFS"));
	int i, err = 0;

	kheaders_set_cache_dir(kh, cache);
	for (i = 0; i < 2 && !err; i++) {
		err = kheaders_extract(kh, i % 2 ? NULL : dir, NULL, 0);
		if (err)
			fprintf(stderr, "%s: %s\n", (char *)dir, kheaders_errmsg(kh));
		if (!err && i % 2 == 0) {
			char cmd[4200];

			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)dir);
			err = system(cmd);
		}
	}
	kheaders_free(kh);
	__sync_fetch_and_sub(&running, 1);
	return (void *)(long)err;
}

int main(int argc, char **argv)
{
	char before[4096], now[4096];
	pthread_t t[2];
	void *r1, *r2;
	long checks = 0;

	(void)argc;
	cache = argv[3];
	getcwd(before, sizeof(before));
	pthread_create(&t[0], NULL, extract, argv[1]);
	pthread_create(&t[1], NULL, extract, argv[2]);
	while (running) {
		if (!getcwd(now, sizeof(now)) || strcmp(now, before)) {
			printf("cwd changed to %s\n", now);
			return 1;
		}
		checks++;
	}
	pthread_join(t[0], &r1);
	pthread_join(t[1], &r2);
	printf("%ld checks\n", checks);
	return r1 || r2;
}
EOF
# shellcheck disable=SC2046 # pkg-config's output is a list of words
check "a threaded program builds against libkheaders.a" \
	gcc -Wall -pthread -o "$work/threads" "$work/threads.c" -I"$TREE/tools/kheaders" \
	"$out/libkheaders.a" $(pkg-config --libs libarchive libcrypto)
mkdir -p "$work/thr"
run bash -c "cd '$work/thr' && KHEADERS_SYSFS='$real_sys' \
	'$work/threads' '$work/thr/a' '$work/thr/b' '$work/thr/cache'"
check "two threads extract at once; the working directory never changes" status 0

# ---- exec ---------------------------------------------------------------

c=$work/c-exec
env_line="$c/$md5|$c/$md5|$c/$md5"
# shellcheck disable=SC2016 # expanded by the inner shell
run "$kh" --cache-dir "$c" exec -- sh -c \
	'echo "$BCC_KERNEL_SOURCE|$BPFTRACE_KERNEL_SOURCE|$BPFTRACE_KERNEL_BUILD"'
check "exec sets BCC_KERNEL_SOURCE, BPFTRACE_KERNEL_SOURCE and _BUILD to the tree" \
	stdout_is "$env_line"
check "... which is the verified cache entry" \
	test "$(cat "$c/$md5/.kheaders-md5")" = "$md5"
run "$kh" --cache-dir "$c" exec sh -c 'exit 7'
check "exec passes CMD's exit status through (without --)" status 7
# shellcheck disable=SC2016 # expanded by the inner shell
run "$kh" --cache-dir "$c" exec -- sh -c 'echo "$1"' sh --load -x
check "exec: what follows -- is CMD's, not ours" stdout_is "--load"
run "$kh" exec --cache-dir "$c" --force -- true
check "exec: options after exec, before --" status 0
run "$kh" --cache-dir "$c" exec -- "$work/no-such-command"
check "exec: CMD not found exits 127" status 127 "no-such-command: No such file"
run "$kh" --cache-dir "$c" exec -- "$work/threads.c"
check "exec: CMD not executable exits 126" status 126 "Permission denied"
run "$kh" --cache-dir "$c" exec
check "exec without CMD is a usage error" status 64
run "$kh" --cache-dir "$c" exec --
check "exec -- without CMD is a usage error" status 64
run "$kh" --sysfs "$work/sys-bad" --cache-dir "$c" exec -- touch "$work/ran"
check "exec does not run CMD when the headers are bad" \
	bash -c "[ $rc != 0 ] && [ ! -e '$work/ran' ]"

# ---- help, man page and README agree -----------------------------------

LC_ALL=C MANWIDTH=200 man -l "$TREE/tools/kheaders/kheaders.8" 2>/dev/null > "$work/man.txt"
for opt in $("$kh" --help | grep -oE -- '--[a-z-]+' | sort -u); do
	check "the man page documents $opt" grep -q -- "$opt" "$work/man.txt"
done
check "--help lists exec" bash -c "'$kh' --help | grep -q 'exec \[--\] CMD'"
check "the man page documents exec" grep -q 'BPFTRACE_KERNEL_BUILD' "$work/man.txt"
check "the man page shows exec with opensnoop-bpfcc and bpftrace" \
	bash -c "grep -q 'kheaders exec -- opensnoop-bpfcc' '$work/man.txt' &&
		grep -q 'kheaders exec -- bpftrace' '$work/man.txt'"
check "the README shows exec with opensnoop-bpfcc and bpftrace" \
	bash -c "grep -q 'kheaders exec -- opensnoop-bpfcc' '$TREE/tools/kheaders/README' &&
		grep -q 'kheaders exec -- bpftrace' '$TREE/tools/kheaders/README'"

echo "tools-kheaders: $((SECONDS - start)) s"
done_testing
