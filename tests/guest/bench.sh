#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest, for harness/bench: how long reading the whole archive and
# unpacking it take, five times each after one warm-up.  Times come from
# /proc/uptime (10 ms).
# shellcheck disable=SC1091
. /lib.sh

now()
{
	cut -d ' ' -f 1 /proc/uptime
}

[ -e /files/kheaders.ko ] && insmod /files/kheaders.ko
for i in 0 1 2 3 4 5; do
	start=$(now)
	cat /sys/kernel/kheaders.tar.xz > /dev/null
	read_done=$(now)
	rm -rf /tmp/h
	mkdir /tmp/h
	tar -xJf /sys/kernel/kheaders.tar.xz -C /tmp/h
	unpack_done=$(now)
	[ "$i" -eq 0 ] && continue
	echo "bench: read $start $read_done"
	echo "bench: unpack $read_done $unpack_done"
done
check "the archive unpacked" test -f /tmp/h/include/linux/kconfig.h
done_testing
