#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest of a kernel with upstream's kheaders only (pristine
# mainline, CONFIG_IKHEADERS=m, no /sys/kernel/kheaders/), booted with
# KH_BOOT_HOSTROOT=1: the kheaders tool from the host's userland loads the
# module itself ("--load", the host's modprobe on the guest's modules),
# finds the upstream layout, and runs Debian's bpftrace and bcc on the
# headers it verified against uname -r.
# shellcheck disable=SC1091
. /lib.sh

kh=/mnt/kheaders-static		# /files in the guest's own root

# The host's modprobe (kmod) looks for the guest's modules in
# /lib/modules/$(uname -r), which the host's root need not have and which
# is read-only here: give it the initramfs's modules through a root of
# its own on the guest's tmpfs, and a modprobe that uses that root first
# in PATH.
mkdir -p /host/run/modroot/lib/modules /host/run/bin
mount --bind /lib/modules /host/run/modroot/lib/modules
printf '#!/bin/sh\nexec /usr/sbin/modprobe -d /run/modroot "$@"\n' > /host/run/bin/modprobe
chmod +x /host/run/bin/modprobe

in_root()
{
	chroot /host /usr/bin/env -i PATH=/run/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 PYTHONUNBUFFERED=1 "$@"
}

check "no /sys/kernel/kheaders.tar.xz before the module is loaded" \
	test ! -e /sys/kernel/kheaders.tar.xz
in_root $kh info > /tmp/noload.out 2>&1
status=$?
cat /tmp/noload.out
check "kheaders info without the module exits 2" test "$status" -eq 2

in_root $kh --load info > /tmp/info 2>&1
status=$?
cat /tmp/info
check "kheaders --load info exits 0" test "$status" -eq 0
check "... having loaded kheaders.ko" test -e /sys/kernel/kheaders.tar.xz
check "... a kernel without /sys/kernel/kheaders/" test ! -e /sys/kernel/kheaders
check "... which info calls the upstream layout" grep -q '^layout: upstream' /tmp/info
check "... with the release uname -r gives, $(uname -r)" grep -q "$(uname -r)" /tmp/info
check "kheaders verify (archive against uname -r)" in_root $kh verify

# bpftrace: the sleeper is the only process here that sleeps.
start_sleeper
start=$(cut -d . -f 1 /proc/uptime)
# shellcheck disable=SC2154 # oneliner is set in /lib.sh
in_root $kh --load exec -- bpftrace -e "$oneliner" > /host/tmp/bpftrace.out 2>&1
status=$?
echo "guest: kheaders --load exec -- bpftrace ran $(($(cut -d . -f 1 /proc/uptime) - start)) s, exit status $status"
pid=$(cat /host/tmp/sleeper.pid)
kill "$pid"
cat /host/tmp/bpftrace.out
check "kheaders --load exec -- bpftrace exits 0" test "$status" -eq 0
check "... and prints task_struct->pid of the process that slept ($pid)" \
	grep -qx "$pid" /host/tmp/bpftrace.out

# bcc: opensnoop reports a cat opening a file (-d 5: it stops by itself).
target=/tmp/opensnoop-target
: > /host$target
timeout 900 chroot /host /usr/bin/env -i PATH=/run/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	PYTHONUNBUFFERED=1 $kh --load exec -- /usr/sbin/opensnoop-bpfcc -n cat -d 5 \
	> /host/tmp/opensnoop.out 2>&1 &
bcc=$!
cat_until_exit $bcc /host/tmp/opensnoop.out $target
wait $bcc
status=$?
cat /host/tmp/opensnoop.out
pid=$(head -n 1 /host/tmp/cat.pids 2> /dev/null)
check "kheaders --load exec -- opensnoop-bpfcc exits 0" test "$status" -eq 0
check "... and reports cat ($pid) opening $target" \
	grep -Eq "^$pid +cat +[0-9]+ +0 +$target\$" /host/tmp/opensnoop.out
done_testing
