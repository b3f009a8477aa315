#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest, for "make": show what a user of the running kernel sees.
# shellcheck disable=SC1091
. /lib.sh

show()
{
	echo "# $*"
	"$@"
}

[ -e /files/kheaders.ko ] && show insmod /files/kheaders.ko
show uname -r
show ls -l /sys/kernel/kheaders.tar.xz /sys/kernel/kheaders/
for f in /sys/kernel/kheaders/*; do
	echo "# cat $f"
	cat "$f"
done
echo "# md5sum /sys/kernel/kheaders.tar.xz"
md5sum /sys/kernel/kheaders.tar.xz
mkdir /tmp/headers
show tar -xJf /sys/kernel/kheaders.tar.xz -C /tmp/headers
echo "# tar -tJf /sys/kernel/kheaders.tar.xz | head"
tar -tJf /sys/kernel/kheaders.tar.xz | head
echo "# grep LINUX_VERSION_CODE /tmp/headers/include/generated/uapi/linux/version.h"
grep LINUX_VERSION_CODE /tmp/headers/include/generated/uapi/linux/version.h
echo

check "the archive's md5 equals /sys/kernel/kheaders/md5" test \
	"$(md5_of /sys/kernel/kheaders.tar.xz)" = "$(cat /sys/kernel/kheaders/md5)"
check "version_code is LINUX_VERSION_CODE of $(uname -r)" test \
	"$(cat /sys/kernel/kheaders/version_code)" = "$(running_version_code)"
check "the headers unpacked: $(find /tmp/headers -name '*.h' | wc -l) files" \
	test -f /tmp/headers/include/linux/kconfig.h
done_testing
