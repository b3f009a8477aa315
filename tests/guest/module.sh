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

# Eight readers while the module goes away: each one gets the whole
# archive or an error, never a short archive with success.
# The unload comes at three points of the reads.
round=0
for delay in 0 0.3 1; do
	round=$((round + 1))
	rm -f /tmp/reader.*
	for i in 1 2 3 4 5 6 7 8; do
		(cat /sys/kernel/kheaders.tar.xz > /tmp/reader.$i.out 2> /dev/null
		 echo $? > /tmp/reader.$i.status) &
	done
	sleep "$delay"
	rmmod kheaders
	wait
	whole=0
	failed=0
	bad=0
	for i in 1 2 3 4 5 6 7 8; do
		if [ "$(cat /tmp/reader.$i.status)" -ne 0 ]; then
			failed=$((failed + 1))
		elif [ "$(md5_of /tmp/reader.$i.out)" = "$md5" ]; then
			whole=$((whole + 1))
		else
			bad=$((bad + 1))
		fi
	done
	check "round $round: 8 readers racing rmmod: $whole whole, $failed errors, $bad short" \
		test "$bad" -eq 0
	check "round $round: the files are gone" none_exists
	check "round $round: insmod again" insmod /files/kheaders.ko
done
check_kernel_log "racing readers"

check "modprobe kheaders_test (KUnit, with the modules it needs)" \
	modprobe kheaders_test
dmesg | grep -E '(not )?ok [0-9]+ [a-z_]+$|# kheaders: '
check "the KUnit suite kheaders passes" \
	sh -c "dmesg | grep -qE '(^|] )ok [0-9]+ kheaders$'"
check "no KUnit case of kheaders fails" \
	sh -c "! dmesg | grep -qE 'not ok [0-9]+ '"
check "rmmod kheaders_test kheaders" rmmod kheaders_test kheaders
check_kernel_log "KUnit"
done_testing
