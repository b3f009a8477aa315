#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest: read the headers like tools do and check every sysfs file.
# Then write the archive to /dev/ttyS1 for the host to compile against.
# shellcheck disable=SC1091
. /lib.sh

if [ -e /files/kheaders.ko ]; then
	check_fails "no /sys/kernel/kheaders.tar.xz before the module is loaded" test -e /sys/kernel/kheaders.tar.xz
	check "insmod kheaders.ko" insmod /files/kheaders.ko
fi

check "/sys/kernel/kheaders.tar.xz is a regular file, mode 0444" \
	test "$(stat -c '%F %a' /sys/kernel/kheaders.tar.xz)" = "regular file 444"
for f in version_code arch md5; do
	check "/sys/kernel/kheaders/$f is a regular file, mode 0444" \
		test "$(stat -c '%F %a' /sys/kernel/kheaders/$f)" = "regular file 444"
	check "/sys/kernel/kheaders/$f is one line" test "$(wc -l < /sys/kernel/kheaders/$f)" -eq 1
done
if [ -f /files/release ]; then
	# Released as Debian does (harness/build): uname -r does not give the
	# version, version_code does.
	check "uname -r is the release the kernel was built as, $(cat /files/release)" \
		test "$(uname -r)" = "$(cat /files/release)"
	check "version_code is the build's $(running_version_code), not $(release_version_code) as $(uname -r) suggests" \
		test "$(cat /sys/kernel/kheaders/version_code)" = "$(running_version_code)" \
		-a "$(running_version_code)" != "$(release_version_code)"
else
	check "version_code is LINUX_VERSION_CODE of $(cat /files/kernelversion)" \
		test "$(cat /sys/kernel/kheaders/version_code)" = "$(running_version_code)"
fi
case $(uname -m) in
x86_64 | i?86) arch=x86 ;;
aarch64) arch=arm64 ;;
*) arch=$(uname -m) ;;
esac
check "arch is $arch" test "$(cat /sys/kernel/kheaders/arch)" = "$arch"
check "md5 is 32 lowercase hex digits" grep -qx '[0-9a-f]\{32\}' "/sys/kernel/kheaders/md5"

cat /sys/kernel/kheaders.tar.xz > /tmp/archive
size=$(stat -c %s /sys/kernel/kheaders.tar.xz)
md5=$(cat "/sys/kernel/kheaders/md5")
check "cat reads as many bytes as stat says ($size)" \
	test "$(stat -c %s /tmp/archive)" -eq "$size"
check "the md5 of what cat reads equals /sys/kernel/kheaders/md5" \
	test "$(md5_of /tmp/archive)" = "$md5"
for bs in 1 7 512 4096 65536 1048576 8388608; do
	[ "$bs" -eq 1 ] && count="count=65536" || count=
	# shellcheck disable=SC2086
	dd if=/sys/kernel/kheaders.tar.xz of=/tmp/dd bs=$bs $count 2> /dev/null
	if [ -n "$count" ]; then
		check "reads of 1 byte give the same first 64 KiB" \
			cmp -n 65536 /tmp/dd /tmp/archive
	else
		check "reads of $bs bytes give the same bytes" cmp /tmp/dd /tmp/archive
	fi
done
mid=$((size / 2000))
check "a read from the middle gives the bytes there" sh -c \
	"dd if=/sys/kernel/kheaders.tar.xz bs=1000 skip=$mid count=3 2> /dev/null |
	 cmp -n 3000 - /tmp/archive 0 ${mid}000"
check "a read straddling the end gives the last 10 bytes" sh -c \
	"tail -c 10 /sys/kernel/kheaders.tar.xz > /tmp/tail &&
	 test \$(wc -c < /tmp/tail) -eq 10 &&
	 cmp /tmp/tail /tmp/archive 0 $((size - 10))"
# read_from OFFSET: read(2) at OFFSET succeeds; its bytes in /tmp/from.
read_from()
{
	dd if=/sys/kernel/kheaders.tar.xz of=/tmp/from bs=1 skip="$1" 2> /dev/null
}
check "a read at the end succeeds" read_from "$size"
check "... with 0 bytes" test "$(wc -c < /tmp/from)" -eq 0
check "a read past the end succeeds" read_from $((size + 4096))
check "... with 0 bytes" test "$(wc -c < /tmp/from)" -eq 0

check_fails "opening /sys/kernel/kheaders.tar.xz for writing fails" sh -c ": >> /sys/kernel/kheaders.tar.xz"
err=$(sh -c "echo x > /sys/kernel/kheaders.tar.xz" 2>&1)
check "... with a permission error ($err)" \
	contains "$err" "Permission denied"
check_fails "writing /sys/kernel/kheaders/md5 fails" sh -c "echo x > /sys/kernel/kheaders/md5"
check "the archive is unchanged after the write attempts" \
	test "$(md5_of /sys/kernel/kheaders.tar.xz)" = "$md5"

mkdir /tmp/h
check "the archive unpacks with tar -xJ" tar -xJf /sys/kernel/kheaders.tar.xz -C /tmp/h
check "it holds include/generated/uapi/linux/version.h" \
	test -f /tmp/h/include/generated/uapi/linux/version.h
check "its LINUX_VERSION_CODE is the running kernel's" \
	grep -qx "#define LINUX_VERSION_CODE $(running_version_code)" \
	/tmp/h/include/generated/uapi/linux/version.h
check "it holds arch/$arch/include/asm/ptrace.h" \
	test -f "/tmp/h/arch/$arch/include/asm/ptrace.h"

# Built in (=y), the KUnit suite ran at boot.
if [ ! -e /files/kheaders.ko ]; then
	dmesg | grep -E '# kheaders: |not ok'
	check "the built-in KUnit suite kheaders passed at boot" \
		sh -c "dmesg | grep -qE '(^|] )ok [0-9]+ kheaders$'"
fi

# The archive, for the host: harness/boot saves what goes to ttyS1.
[ -e /dev/ttyS1 ] && cat /sys/kernel/kheaders.tar.xz > /dev/ttyS1
check_kernel_log "reads"
done_testing
