#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest, with CONFIG_IKHEADERS=m: load, unload and load again;
# readers racing with the unload; then the KUnit suite as a module.
# shellcheck disable=SC1091
. /lib.sh

files="/sys/kernel/kheaders.tar.xz /sys/kernel/kheaders/version_code
       /sys/kernel/kheaders/arch /sys/kernel/kheaders/md5"

all_exist()
{
	for f in $files; do
		test -e "$f" || return 1
	done
}

none_exists()
{
	for f in $files /sys/kernel/kheaders; do
		test ! -e "$f" || return 1
	done
}

check "the files are absent before insmod" none_exists
check "insmod kheaders.ko" insmod /files/kheaders.ko
check "the files are present after insmod" all_exist
md5=$(cat /sys/kernel/kheaders/md5)
check "the archive read matches md5" \
	test "$(md5_of /sys/kernel/kheaders.tar.xz)" = "$md5"

# A reader in the middle of the archive when the module goes away: its
# next read fails with ENODEV and gives no byte, rather than the rest of
# an archive that is gone or a short archive with success.
exec 3< /sys/kernel/kheaders.tar.xz
dd bs=4096 count=1 <&3 > /tmp/first 2> /dev/null
check "a reader has read the first 4096 bytes" \
	test "$(wc -c < /tmp/first)" -eq 4096
check "rmmod kheaders while that reader is at offset 4096" rmmod kheaders
check "the files are gone after rmmod" none_exists
dd bs=4096 <&3 > /tmp/rest 2> /tmp/rest.err
status=$?
cat /tmp/rest.err
check "... the reader's next read fails" test "$status" -ne 0
check "... with ENODEV" grep -q 'No such device' /tmp/rest.err
check "... and gives no byte" test "$(wc -c < /tmp/rest)" -eq 0
exec 3<&-
check "insmod kheaders.ko again" insmod /files/kheaders.ko
check "the files are back" all_exist
check "the archive read after reloading matches md5" \
	test "$(md5_of /sys/kernel/kheaders.tar.xz)" = "$md5"

# Eight readers inside the archive when the module goes away: each reads
# 16 bytes at a time, so all of them are still reading when rmmod runs
# (each has written something by then).  Each one must end with the whole
# archive or with ENODEV, never with success and a short archive.
rm -f /tmp/reader.*
for i in 1 2 3 4 5 6 7 8; do
	(dd if=/sys/kernel/kheaders.tar.xz of=/tmp/reader.$i.out bs=16 \
		2> /tmp/reader.$i.err
	 echo $? > /tmp/reader.$i.status) &
done
started=0
for _ in $(seq 200); do
	started=0
	for i in 1 2 3 4 5 6 7 8; do
		[ -s /tmp/reader.$i.out ] && started=$((started + 1))
	done
	[ "$started" -eq 8 ] && break
	sleep 0.05
done
check "8 readers have started reading" test "$started" -eq 8
check "rmmod kheaders while they read" rmmod kheaders
wait
whole=0
cut=0
bad=0
for i in 1 2 3 4 5 6 7 8; do
	if [ "$(cat /tmp/reader.$i.status)" -eq 0 ] &&
	   [ "$(md5_of /tmp/reader.$i.out)" = "$md5" ]; then
		whole=$((whole + 1))
	elif [ "$(cat /tmp/reader.$i.status)" -ne 0 ] &&
	     grep -q 'No such device' /tmp/reader.$i.err; then
		cut=$((cut + 1))
	else
		bad=$((bad + 1))
		cat /tmp/reader.$i.err
	fi
done
check "readers racing rmmod: $whole whole, $cut cut short by ENODEV, $bad else" \
	test "$bad" -eq 0
check "... and at least one was inside the archive when it went away" \
	test "$cut" -gt 0
check "the files are gone" none_exists
check "insmod again" insmod /files/kheaders.ko
check_kernel_log "racing readers"

check "modprobe kheaders_test (KUnit, with the modules it needs)" \
	modprobe kheaders_test
dmesg > /tmp/dmesg
grep -E '(not )?ok [0-9]+ [a-z_]+$|# kheaders: ' /tmp/dmesg
check "the KUnit suite kheaders passes" \
	grep -qE '(^|] )ok [0-9]+ kheaders$' /tmp/dmesg
check "no KUnit case of kheaders fails" \
	sh -c "[ -s /tmp/dmesg ] && ! grep -qE 'not ok [0-9]+ ' /tmp/dmesg"
check "rmmod kheaders_test kheaders" rmmod kheaders_test kheaders
check_kernel_log "KUnit"
done_testing
