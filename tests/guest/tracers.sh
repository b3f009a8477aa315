#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest, booted with KH_BOOT_HOSTROOT=1: Debian's bpftrace and bcc,
# run from the host's userland (chroot /host) through "kheaders exec", as
# the README shows them, against a kernel without BTF: the kernel types
# they use come from the headers kheaders exec unpacked and verified.
# Each run is traced (strace, successful opens only) to show that the
# compilers read those headers from the kheaders cache and that neither
# tool unpacked /sys/kernel/kheaders.tar.xz itself (bpftrace 0.17 and bcc
# would, into /tmp/kheaders-*, were the variables not set).
# shellcheck disable=SC1091
. /lib.sh

kh=/mnt/kheaders-static		# /files in the guest's own root
# Under TCG clang takes minutes, not seconds.
limit=900

# in_root CMD...: CMD in the host's userland, with a clean environment.
in_root()
{
	chroot /host /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 PYTHONUNBUFFERED=1 "$@"
}

uptime_s()
{
	cut -d . -f 1 /proc/uptime
}

# no_tmp_kheaders: nothing unpacked the archive into /tmp.
no_tmp_kheaders()
{
	! ls -d /host/tmp/kheaders-* /host/var/tmp/kheaders-* 2> /dev/null
}

# opened LOG FILE: strace LOG shows FILE opened.
opened()
{
	grep -F "\"$2\"" "$1" | grep -q 'open'
}

for f in /host/usr/bin/bpftrace /host/usr/sbin/opensnoop-bpfcc \
	 /host/usr/bin/strace /host$kh; do
	[ -x "$f" ] || { not_ok "$f is missing (harness/setup; KH_BOOT_HOSTROOT=1)"; exit 1; }
done
check_fails "the kernel has no BTF (the tools need the headers)" \
	test -e /sys/kernel/btf/vmlinux
echo "guest: $(in_root bpftrace --version), bcc $(in_root python3 -c 'import bcc; print(bcc.__version__)')"

# bpftrace: the README's one-liner.  Its first do_nanosleep is the sleeper's,
# the only process here that sleeps.
start_sleeper
# No timeout(1) here: busybox's sleeps a second at a time, and would be the
# first to sleep.  KH_BOOT_TIMEOUT bounds the whole guest.
start=$(uptime_s)
# shellcheck disable=SC2154 # oneliner is set in /lib.sh
chroot /host /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	strace -f -z -qq -e trace=open,openat -o /tmp/bpftrace.strace \
	$kh exec -- bpftrace -e "$oneliner" \
	> /host/tmp/bpftrace.out 2>&1
status=$?
echo "guest: kheaders exec -- bpftrace ran $(($(uptime_s) - start)) s, exit status $status"
pid=$(cat /host/tmp/sleeper.pid)
kill "$pid"
cat /host/tmp/bpftrace.out
check "kheaders exec -- bpftrace -e '#include <linux/sched.h> ...' exits 0" \
	test "$status" -eq 0
check "... and prints task_struct->pid of the process that slept ($pid)" \
	grep -qx "$pid" /host/tmp/bpftrace.out

cache=$(in_root $kh extract)
md5=$(cat /sys/kernel/kheaders/md5)
check "the cache kheaders exec made is /var/cache/kheaders/$md5" \
	test "$cache" = "/var/cache/kheaders/$md5"
check "bpftrace's clang read linux/sched.h from that cache" \
	opened /host/tmp/bpftrace.strace "$cache/include/linux/sched.h"
check "... and kconfig.h" \
	opened /host/tmp/bpftrace.strace "$cache/include/linux/kconfig.h"
check "bpftrace unpacked nothing into /tmp" no_tmp_kheaders

# bpftrace takes its headers from BPFTRACE_KERNEL_SOURCE and nowhere else:
# pointed at an empty directory, the same one-liner fails.
mkdir -p /host/tmp/empty
start=$(uptime_s)
# shellcheck disable=SC2154 # oneliner is set in /lib.sh
timeout $limit chroot /host /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	BPFTRACE_KERNEL_SOURCE=/tmp/empty BPFTRACE_KERNEL_BUILD=/tmp/empty \
	bpftrace -e "$oneliner" \
	> /host/tmp/bpftrace-empty.out 2>&1
status=$?
echo "guest: bpftrace with empty headers ran $(($(uptime_s) - start)) s, exit status $status"
cat /host/tmp/bpftrace-empty.out
check "bpftrace with BPFTRACE_KERNEL_SOURCE at an empty directory fails" \
	test "$status" -ne 0
check "... for want of a header there" \
	grep -q "'/tmp/empty/include/.*' file not found" /host/tmp/bpftrace-empty.out
check "... and unpacked nothing into /tmp either" no_tmp_kheaders

# bcc: opensnoop reports the opens of a file by cat, whose pid each cat
# writes down.  -d 5: it ends at the first event 5 s after it started
# tracing; the loop opens the file until it has.
target=/tmp/opensnoop-target
: > /host$target
start=$(uptime_s)
timeout $limit chroot /host /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	PYTHONUNBUFFERED=1 \
	strace -f -z -qq -e trace=open,openat,chdir -o /tmp/opensnoop.strace \
	$kh exec -- /usr/sbin/opensnoop-bpfcc -n cat -d 5 \
	> /host/tmp/opensnoop.out 2>&1 &
bcc=$!
cat_until_exit $bcc /host/tmp/opensnoop.out $target
wait $bcc
status=$?
echo "guest: kheaders exec -- opensnoop-bpfcc ran $(($(uptime_s) - start)) s, exit status $status"
cat /host/tmp/opensnoop.out
pid=$(head -n 1 /host/tmp/cat.pids 2> /dev/null)
check "kheaders exec -- /usr/sbin/opensnoop-bpfcc -n cat -d 5 exits 0" \
	test "$status" -eq 0
check "... and reports cat ($pid) opening $target" \
	grep -Eq "^$pid +cat +[0-9]+ +0 +$target\$" /host/tmp/opensnoop.out
# bcc's clang works in the headers' directory, with relative paths.
grep -E 'chdir|linux/sched.h"' /host/tmp/opensnoop.strace
# shellcheck disable=SC2016 # expanded by the inner shell
check "bcc's clang read linux/sched.h from the cache" \
	sh -c 'grep -qF "chdir(\"$2\")" "$1" && grep -Eq "open.*\"(\./)?include/linux/sched.h\"" "$1"' \
	sh /host/tmp/opensnoop.strace "$cache"
check "bcc unpacked nothing into /tmp" no_tmp_kheaders
done_testing
