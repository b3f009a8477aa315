# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Sourced by the guest scripts in tests/guest/, run by busybox sh inside the
# guest that harness/boot starts.  Same "ok - WHAT" / "not ok - WHAT" lines
# as tests/lib.sh, which the host counts from the console.

failures=0

ok()
{
	echo "ok - $*"
}

not_ok()
{
	echo "not ok - $*"
	failures=$((failures + 1))
}

# check WHAT CMD...: one check that passes when CMD succeeds.
check()
{
	what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# check_fails WHAT CMD...: one check that passes when CMD fails.
check_fails()
{
	what=$1
	shift
	if "$@"; then not_ok "$what"; else ok "$what"; fi
}

# version_code VERSION: the LINUX_VERSION_CODE of a version such as 7.3.4
# or 6.1.0-56-amd64: the sublevel is capped at 255, as KERNEL_VERSION() does.
version_code()
{
	echo "$1" | sed 's/[^0-9.].*//' | {
		IFS=. read -r major minor sub
		[ "${sub:-0}" -gt 255 ] && sub=255
		echo $((major * 65536 + minor * 256 + ${sub:-0}))
	}
}

# The LINUX_VERSION_CODE of the running kernel, from the version in its
# Makefile (harness/boot puts "make kernelversion" in /files/kernelversion),
# not from any file the build generated.
running_version_code()
{
	version_code "$(cat /files/kernelversion)"
}

# The LINUX_VERSION_CODE that uname -r suggests.
release_version_code()
{
	version_code "$(uname -r)"
}

# contains STRING PART: whether STRING holds PART.
contains()
{
	case $1 in
	*"$2"*) return 0 ;;
	esac
	return 1
}

md5_of()
{
	md5sum "$@" | cut -d ' ' -f 1
}

# The kernel log has no warning, oops or sanitizer report.
check_kernel_log()
{
	dmesg > /tmp/dmesg
	check "kernel log: no WARNING, BUG, Oops or sanitizer report ($1)" \
		sh -c '[ -s /tmp/dmesg ] && ! grep -E "WARNING:|BUG:|Oops|KASAN|UBSAN|Call Trace" /tmp/dmesg'
}

# What follows is for the guests with the host's userland (tracers.sh,
# upstream.sh), which define in_root CMD...: CMD in that userland.

# The README's bpftrace one-liner.
# shellcheck disable=SC2034 # used by the scripts that source this file
oneliner='#include <linux/sched.h>
    kprobe:do_nanosleep { printf("%d\n", ((struct task_struct *)curtask)->pid); exit(); }'

# start_sleeper: in the background, a process that sleeps (do_nanosleep)
# every 0.2 s, its pid in /host/tmp/sleeper.pid.
start_sleeper()
{
	in_root python3 -c '
import os, time
open("/tmp/sleeper.pid", "w").write("%d\n" % os.getpid())
while True:
    time.sleep(0.2)
' &
}

# cat_until_exit PID OUT FILE: once the opensnoop-bpfcc of PID has printed
# its header to OUT (it is tracing then), open FILE with cat once a second,
# each cat's pid appended to /host/tmp/cat.pids, until PID exits (or 60
# cats later).
cat_until_exit()
{
	t0=$(cut -d . -f 1 /proc/uptime)
	while kill -0 "$1" 2> /dev/null && ! grep -qs 'PATH$' "$2"; do
		sleep 1
	done
	echo "guest: opensnoop-bpfcc started tracing after $(($(cut -d . -f 1 /proc/uptime) - t0)) s"
	i=0
	while kill -0 "$1" 2> /dev/null && [ $i -lt 60 ]; do
		# shellcheck disable=SC2016 # expanded by the inner shell
		in_root sh -c 'echo $$ >> /tmp/cat.pids; exec cat "$1"' sh "$3"
		sleep 1
		i=$((i + 1))
	done
}

# Done: the exit status tells whether all checks passed.
done_testing()
{
	exit $((failures > 0))
}
