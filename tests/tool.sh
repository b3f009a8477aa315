#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kheaders tool (tool/), a project of its own: its build with no
# kernel tree, its install, its own tests (tool/tests/run.sh: fake sysfs
# trees of both layouts, hostile archives, the nine defects of issue 23),
# the static binary the guests run (tests/boot.sh), and its Debian
# package: built with dpkg-buildpackage, checked with lintian, installed
# with dpkg -i, run against fake sysfs trees and removed.  Runs as root.
# Most helpers run only through check, which ShellCheck cannot see:
# shellcheck disable=SC2317
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

out=$BUILD/tool
work=$BUILD/tmp/tool
log=$LOGS/tool-build.log
start=$SECONDS

[ "$(id -u)" = 0 ] || die "$0 must run as root"
rm -rf "$work"
mkdir -p "$work"

# ---- build and install --------------------------------------------------

build()
{
	make -C "$TOP/tool" O="$out" "$@" > "$log" 2>&1
}

# Compiler and linker warnings, except glibc's notes about the name
# lookup code that a static binary carries.
no_warnings()
{
	! grep -i 'warning' "$log" | grep -v 'in statically linked applications'
}

# Nothing but sources in tool/: the build writes under O= only.
only_sources()
{
	! git -C "$TOP" status --porcelain --untracked-files=all --ignored tool |
		grep -E '^(\?\?|!!)'
}

check "make clean" build clean
check "make builds kheaders (no kernel tree needed)" build
check "the build has no warnings" no_warnings
check "the build writes only under O=" only_sources
check "kheaders needs no libcrypto (md5 is its own)" \
	bash -c "! ldd '$out/kheaders' | grep -q libcrypto"
check "make static builds kheaders-static" build static
check "the static build has no warnings but glibc's" no_warnings
check "kheaders-static is statically linked" \
	bash -c "file '$out/kheaders-static' | grep -q 'statically linked'"
dest=$work/dest
check "make install with PREFIX=/usr and DESTDIR" build install PREFIX=/usr DESTDIR="$dest"
check "install puts the command and its manual page, nothing else" \
	test "$(cd "$dest" && find . ! -type d | sort | xargs)" = \
	"./usr/bin/kheaders ./usr/share/man/man8/kheaders.8"
check "install without PREFIX goes to /usr/local" build install DESTDIR="$dest/default"
check "... /usr/local/bin/kheaders" test -x "$dest/default/usr/local/bin/kheaders"

# ---- the project's own tests ---------------------------------------------

# Its lines are this test's: "ok - ..." and "not ok - ...".
"$TOP/tool/tests/run.sh" "$out" | sed -u 's/^\(\(not \)\?ok - \)/\1tool: /'

# ---- a real archive, if a kernel build made one ---------------------------

# sysfs DIR ARCHIVE: a fake sysfs root with the series' metadata.
sysfs()
{
	mkdir -p "$1/kernel/kheaders"
	cp "$2" "$1/kernel/kheaders.tar.xz"
	tar -xJOf "$2" ./include/generated/uapi/linux/version.h |
		sed -n 's/^#define LINUX_VERSION_CODE //p' > "$1/kernel/kheaders/version_code"
	echo x86 > "$1/kernel/kheaders/arch"
	md5sum < "$2" | cut -c1-32 > "$1/kernel/kheaders/md5"
}

# A copy, tested first: a kernel build may be writing it right now.
real=$OBJ/x86_64-y/kernel/kheaders_data.tar.xz
if [ -f "$real" ] && cp "$real" "$work/real.tar.xz" && xz -t "$work/real.tar.xz"; then
	real=$work/real.tar.xz
	sysfs "$work/sys-real" "$real"
	mkdir -p "$work/ref"
	tar -xJf "$real" -C "$work/ref"
	check "the kernel build's archive extracts, the same files as tar -x" \
		bash -c "'$out/kheaders' --sysfs '$work/sys-real' extract '$work/real' > /dev/null &&
			diff -r -x '.kheaders-*' '$work/ref' '$work/real'"
	# The same archive as an upstream kernel would serve it: info reads
	# the version, release and architecture from it.
	mkdir -p "$work/sys-real-up/kernel"
	cp "$real" "$work/sys-real-up/kernel/kheaders.tar.xz"
	code=$(cat "$work/sys-real/kernel/kheaders/version_code")
	rel=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' \
		"$work/ref/include/generated/utsrelease.h")
	"$out/kheaders" --sysfs "$work/sys-real-up" info > "$work/info-real-up"
	cat "$work/info-real-up"
	check "upstream layout, the build's archive: info reads version_code $code" \
		grep -q "^version_code: $code " "$work/info-real-up"
	check "... release $rel and arch x86" \
		bash -c "grep -qx 'release: $rel' '$work/info-real-up' &&
			grep -qx 'arch: x86' '$work/info-real-up'"
	if [ "$rel" != "$(uname -r)" ]; then
		check "... and refuses to extract it on this host, which runs $(uname -r) (exit 3)" \
			bash -c "'$out/kheaders' --sysfs '$work/sys-real-up' extract '$work/real-up' 2>&1 |
				grep -q 'UTS_RELEASE \"$rel\" but the running kernel is';
				[ \${PIPESTATUS[0]} = 3 ] && [ ! -e '$work/real-up' ]"
	fi
else
	echo "# no complete $real (no kernel build yet): the small archives only"
fi

# ---- the Debian package --------------------------------------------------

missing=()
for pkg in debhelper dpkg-dev lintian libarchive-dev pkg-config; do
	dpkg-query -W -f='${Status}' "$pkg" 2> /dev/null |
		grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" > "$LOGS/tool-apt.log" 2>&1
fi
arch=$(dpkg --print-architecture)
deb=$out/deb/kheaders_1.0_$arch.deb
check "make deb builds $(basename "$deb") with dpkg-buildpackage -b -us -uc" build deb
check "... and it exists" test -f "$deb"
lintian --fail-on error -I "$out/deb/kheaders_1.0_${arch}.changes" \
	> "$LOGS/tool-lintian.log" 2>&1
lintian_rc=$?
sed 's/^/# lintian: /' "$LOGS/tool-lintian.log"
check "lintian passes without errors" test "$lintian_rc" = 0
check "... nor warnings" bash -c "! grep -q '^W: ' '$LOGS/tool-lintian.log'"

# A package of this name already installed is put back afterwards.
before=$(dpkg-query -W -f='${Status}' kheaders 2> /dev/null)
if [ "$before" = "install ok installed" ]; then
	echo "# a kheaders package is installed already; it is left alone"
else
	cleanup() { dpkg -r kheaders > /dev/null 2>&1 || true; }
	trap cleanup EXIT
	check "dpkg -i installs the package" dpkg -i "$deb"
	check "/usr/bin/kheaders is the package's" \
		bash -c "dpkg -S /usr/bin/kheaders | grep -q '^kheaders:'"
	check "... and so is its manual page" test -f /usr/share/man/man8/kheaders.8.gz

	# A small archive: the headers tools read first, of this host's release.
	src=$work/src
	mkdir -p "$src/include/generated/uapi/linux" "$src/include/linux" \
		"$src/arch/x86/include/asm"
	echo "#define LINUX_VERSION_CODE 396405" > "$src/include/generated/uapi/linux/version.h"
	echo "#define UTS_RELEASE \"$(uname -r)\"" > "$src/include/generated/utsrelease.h"
	echo '#define CONFIG_X86 1' > "$src/include/generated/autoconf.h"
	echo '#define IS_ENABLED(x) x' > "$src/include/linux/kconfig.h"
	echo 'int b;' > "$src/arch/x86/include/asm/b.h"
	tar --format=gnu --sort=name -C "$src" -cf - ./include ./arch | xz -T1 > "$work/small.tar.xz"
	md5=$(md5sum < "$work/small.tar.xz" | cut -c1-32)
	sysfs "$work/sys-meta" "$work/small.tar.xz"
	mkdir -p "$work/sys-up/kernel"
	cp "$work/small.tar.xz" "$work/sys-up/kernel/kheaders.tar.xz"
	for layout in meta up; do
		sys=$work/sys-$layout
		check "installed kheaders: info ($layout)" \
			bash -c "/usr/bin/kheaders --sysfs '$sys' info | grep -qx 'md5: $md5'"
		check "installed kheaders: verify ($layout)" /usr/bin/kheaders --sysfs "$sys" verify
		check "installed kheaders: extract to the cache ($layout)" \
			test "$(/usr/bin/kheaders --sysfs "$sys" --cache-dir "$work/cache-$layout" extract)" = \
			"$work/cache-$layout/$md5"
		check "installed kheaders: check-version ($layout)" \
			/usr/bin/kheaders --sysfs "$sys" --cache-dir "$work/cache-$layout" check-version
		# shellcheck disable=SC2016 # expanded by the inner shell
		check "installed kheaders: exec sets BCC_KERNEL_SOURCE ($layout)" \
			/usr/bin/kheaders --sysfs "$sys" --cache-dir "$work/cache-$layout" exec -- \
			sh -c 'test "$BCC_KERNEL_SOURCE" = "$1"' sh "$work/cache-$layout/$md5"
	done
	check "installed kheaders: the manual page renders" \
		bash -c "man kheaders 2> /dev/null | grep -q 'safely unpack'"
	check "dpkg -r removes it" bash -c "dpkg -r kheaders > /dev/null && [ ! -e /usr/bin/kheaders ]"
	trap - EXIT
fi

echo "tool: $((SECONDS - start)) s"
done_testing
