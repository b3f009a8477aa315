#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest: the kheaders tool (tool/, built static) against the real
# sysfs files of the running kernel, which has the series' metadata.
# shellcheck disable=SC1091
. /lib.sh

kh=/files/kheaders-static
if [ -e /files/kheaders.ko ]; then
	$kh info > /tmp/out 2>&1
	status=$?
	cat /tmp/out
	check "kheaders info without the module exits 2" test "$status" -eq 2
	check "... and suggests modprobe kheaders" grep -q 'modprobe kheaders' /tmp/out
	check "insmod kheaders.ko" insmod /files/kheaders.ko
fi

$kh info > /tmp/info
status=$?
cat /tmp/info
check "kheaders info exits 0" test "$status" -eq 0
check "... and finds the series' metadata" grep -q '^layout: metadata' /tmp/info
check "... and shows version_code" \
	grep -q "$(cat /sys/kernel/kheaders/version_code)" /tmp/info
check "... and shows the md5" grep -q "$(cat /sys/kernel/kheaders/md5)" /tmp/info
check "kheaders verify" $kh verify
dir=$($kh extract /tmp/headers)
check "kheaders extract /tmp/headers prints the directory ($dir)" \
	test -f "$dir/include/generated/uapi/linux/version.h"
check "kheaders check-version on it" $kh check-version "$dir"
check "... whose mode is 0755 less the umask" \
	test "$(stat -c %a "$dir")" = "$(printf %o $((0755 & ~$(umask))))"
cached=$($kh --cache-dir /tmp/cache extract)
check "kheaders extract into a cache keyed by the md5 ($cached)" \
	contains "$cached" "$(cat /sys/kernel/kheaders/md5)"
check "kheaders check-version on the cache" $kh --cache-dir /tmp/cache check-version
check "a second extract reuses the cache" \
	test "$($kh --cache-dir /tmp/cache extract)" = "$cached"
: > "$cached/include/linux/kconfig.h"
check_fails "check-version notices an emptied header in the cache" \
	$kh --cache-dir /tmp/cache check-version
check "extract unpacks a damaged cache entry again" \
	test "$($kh --cache-dir /tmp/cache extract 2> /dev/null)" = "$cached"
check "... and the header is back" test -s "$cached/include/linux/kconfig.h"
# shellcheck disable=SC2016 # expanded by the inner shell
check "kheaders exec runs CMD with BCC_KERNEL_SOURCE set to the cache" \
	$kh --cache-dir /tmp/cache exec -- sh -c '[ "$BCC_KERNEL_SOURCE" = "$1" ]' sh "$cached"
sed -i 's/^#define LINUX_VERSION_CODE .*/#define LINUX_VERSION_CODE 1/' \
	"$dir/include/generated/uapi/linux/version.h"
check_fails "check-version refuses headers of another version" \
	$kh check-version "$dir"
done_testing
