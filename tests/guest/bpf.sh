#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest: load the BPF programs the host compiled against the
# archive this kernel served, check what they read, and see a program
# compiled against another kernel's headers refused.
# shellcheck disable=SC1091
. /lib.sh

[ -e /files/kheaders.ko ] && insmod /files/kheaders.ko
echo "guest: /sys/kernel/kheaders/version_code is $(cat /sys/kernel/kheaders/version_code)"
for prog in task file; do
	check "bpf-loader $prog: loaded, attached, and read the right fields" \
		/files/bpf-loader $prog /files/$prog.bpf.o
done

/files/bpf-loader task /files/task-other.bpf.o 2> /tmp/refused
status=$?
cat /tmp/refused
# What this shows is the tool-side check a loader makes with the file; that
# the file is right is read.sh's check against the archive's version.h.
check "a loader refuses a program built for another version_code (exit 3)" \
	test "$status" -eq 3
check "... with a message naming both versions" \
	grep -q "running kernel: .*($(running_version_code))" /tmp/refused
check_kernel_log "BPF"
done_testing
