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
# shellcheck source=tests/lib.sh
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

# sysfs DIR ARCHIVE [MD5]: a fake sysfs root serving ARCHIVE, built in.
sysfs()
{
	mkdir -p "$1/kernel/kheaders"
	cp "$2" "$1/kernel/kheaders.tar.xz"
	echo 396405 > "$1/kernel/kheaders/version_code"
	echo x86 > "$1/kernel/kheaders/arch"
	echo "${3:-$(md5_of "$2")}" > "$1/kernel/kheaders/md5"
}

# A small tree like the kernel's, for quick archives.
src=$work/src
mkdir -p "$src/include/generated/uapi/linux" "$src/include/linux" \
	"$src/arch/x86/include/asm"
echo '#define LINUX_VERSION_CODE 396405' > "$src/include/generated/uapi/linux/version.h"
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
check "info shows version_code" stdout_has "version_code: 396405 (6.12.117)"
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
	diff -r -x .kheaders-md5 "$ref" "$cache/$real_md5"
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
check "check-version names the code" stdout_is "LINUX_VERSION_CODE 396405 matches the running kernel"
run "$kh" --cache-dir "$work/nocache" check-version
check "check-version without a cache entry fails naming it" \
	status 1 "$work/nocache/$real_md5 does not exist"

explicit=$work/explicit
run "$kh" extract "$explicit"
check "extract DIR exits 0 and prints DIR" stdout_is "$explicit"
check "extract DIR holds the archive's files" diff -r -x .kheaders-md5 "$ref" "$explicit"
mkdir "$work/empty"
run "$kh" extract "$work/empty/"
check "extract into an empty directory of ours works" \
	bash -c "[ $rc = 0 ] && [ -f '$work/empty/include/generated/uapi/linux/version.h' ]"
rm -rf "$work/empty" "$explicit"

echo 396406 > "$real_sys/kernel/kheaders/version_code"
run "$kh" check-version "$cache/$real_md5"
check "check-version: another version code exits 3 naming both" \
	status 3 "LINUX_VERSION_CODE 396405 but .*version_code\) is 396406"
echo 396405 > "$real_sys/kernel/kheaders/version_code"

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
	bash -c "'$work/libtest' | head -n 1 | grep -qx 396405"
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
	echo 396405 > "$mod_sys/kernel/kheaders/version_code"
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
check "--load unloads the module it loaded" \
	test "$(tr '\n' ,  < "$work/modprobe.log")" = "kheaders,-r kheaders,"
check "after --load the module is gone again" test ! -e "$mod_sys/kernel"
"$work/bin/modprobe" kheaders
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

# An archive without version.h unpacks, but check-version names the file.
mv "$src/include/generated" "$work/generated"
archive nover ./include ./arch
mv "$work/generated" "$src/include/generated"
rm -rf "$KHEADERS_SYSFS"
sysfs "$KHEADERS_SYSFS" "$work/nover.tar.xz"
run "$kh" extract "$work/nover"
check "an archive without version.h extracts" status 0
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

echo "tools-kheaders: $((SECONDS - start)) s"
done_testing
