#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the x86_64 kernels (=y, then =m) in qemu and run the guest checks:
# reads of the sysfs files; the module loaded, unloaded and raced; the
# KUnit suite; then BPF programs compiled on the host against the archive
# the guest served, loaded in the guest after a version check; and the
# kheaders tool, alone and (=y) running Debian's bpftrace and bcc.  The
# archive served is also what extract-ikheaders finds in the kernel image
# or module.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

bpf=$BUILD/bpf
mkdir -p "$bpf"
check "the static BPF loader builds" \
	gcc -static -O2 -Wall -Wextra -Werror -I "$TOP/tests/bpf" \
	"$TOP/tests/bpf/loader.c" -o "$bpf/bpf-loader" -lbpf -lelf -lz
echo 'kheaders BPF trigger file' > "$bpf/trigger.txt"
tools=$BUILD/tool
check "tool/ (kheaders) builds static" make -s -C "$TOP/tool" O="$tools" static
strip -o "$tools/kheaders-static.stripped" "$tools/kheaders-static"
cp "$tools/kheaders-static.stripped" "$bpf/kheaders-static"

# compile_against DIR: the test programs, compiled against headers in DIR.
compile_against()
{
	local dir=$1 prog

	for prog in task file; do
		check "$prog.bpf.c compiles against the headers in ${dir#"$BUILD"/}" \
			"$TOP/tests/bpf/compile" "$dir/headers" \
			"$TOP/tests/bpf/$prog.bpf.c" "$dir/$prog.bpf.o"
	done
}

for name in x86_64-y x86_64-m; do
	echo "=== $name"
	served=$BUILD/guest/$name-read/ttyS1.out
	rm -f "$served"
	check "$name: the guest's read checks pass" \
		"$TOP/harness/boot" "$name" "$TOP/tests/guest/read.sh"
	[ -s "$served" ] || { not_ok "$name: no archive came out of the guest"; continue; }
	check "$name: the archive served equals the one the build made" \
		cmp "$served" "$OBJ/$name/kernel/kheaders_data.tar.xz"
	image=$OBJ/$name/arch/x86/boot/bzImage
	[ "$name" = x86_64-y ] || image=$OBJ/$name/kernel/kheaders.ko
	check "$name: extract-ikheaders ${image#"$OBJ"/} gives the archive served" \
		cmp "$served" <("$TREE/scripts/extract-ikheaders" "$image")

	work=$bpf/$name
	rm -rf "$work"
	mkdir -p "$work/headers" "$work/other/headers"
	check "$name: the served archive unpacks with tar -xJ" \
		tar -xJf "$served" -C "$work/headers"
	compile_against "$work"

	# The same headers, but of another sublevel: a stale copy.
	cp -a "$work/headers/." "$work/other/headers"
	version_h=$work/other/headers/include/generated/uapi/linux/version.h
	code=$(sed -n 's/^#define LINUX_VERSION_CODE //p' "$version_h")
	sed -i "s/^#define LINUX_VERSION_CODE .*/#define LINUX_VERSION_CODE $((code - 1))/" "$version_h"
	compile_against "$work/other"
	cp "$work/other/task.bpf.o" "$work/task-other.bpf.o"

	check "$name: the guest loads and checks the BPF programs" \
		"$TOP/harness/boot" "$name" "$TOP/tests/guest/bpf.sh" \
		"$bpf/bpf-loader" "$bpf/trigger.txt" "$work"/*.bpf.o
	if [ "$name" = x86_64-m ]; then
		check "$name: the guest's module checks pass" \
			"$TOP/harness/boot" "$name" "$TOP/tests/guest/module.sh"
		check "$name: the kheaders tool works in the guest" \
			"$TOP/harness/boot" "$name" "$TOP/tests/guest/tools.sh" \
			"$bpf/kheaders-static"
	else
		# Debian's bpftrace and bcc, from the host's root, through
		# kheaders exec; clang under TCG takes minutes.
		check "$name: kheaders exec runs bpftrace and bcc in the guest" \
			env KH_BOOT_HOSTROOT=1 KH_BOOT_TIMEOUT=3000 \
			"$TOP/harness/boot" "$name" "$TOP/tests/guest/tracers.sh" \
			"$bpf/kheaders-static"
	fi
done

done_testing
