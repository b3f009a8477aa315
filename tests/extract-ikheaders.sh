#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of scripts/extract-ikheaders on the harness's kernels: kheaders.ko
# of the CONFIG_IKHEADERS=m build, vmlinux and bzImage of the =y build,
# that vmlinux compressed by each compressor installed, alone and inside
# other bytes as in a boot image, and damaged copies of them.  Each build's
# kernel/kheaders_data.tar.xz is what must come out.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

script=$TREE/scripts/extract-ikheaders
work=$BUILD/test-extract
m=$OBJ/x86_64-m
y=$OBJ/x86_64-y
rm -rf "$work"
mkdir -p "$work"

# extract ARG...: run the script, stdout to $work/out, stderr to $work/err
# (shown as comments), exit status to $rc, seconds taken to $took.
rc=0
took=
extract()
{
	local start=$EPOCHREALTIME

	"$script" "$@" > "$work/out" 2> "$work/err"
	rc=$?
	took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
	sed 's/^/# /' "$work/err"
}

# shellcheck disable=SC2317 # called through check()
# gives FILE: the last run succeeded and wrote exactly the bytes of FILE.
gives()
{
	[ "$rc" -eq 0 ] && cmp -s "$work/out" "$1"
}

# shellcheck disable=SC2317 # called through check()
# fails_with STATUS: the last run exited with STATUS, said why on stderr
# and wrote nothing to stdout.
fails_with()
{
	[ "$rc" -eq "$1" ] && [ -s "$work/err" ] && [ ! -s "$work/out" ]
}

# shellcheck disable=SC2317 # called through prints_info_of()
# info_of BUILD: what --info must print for BUILD, from its version.h and
# its archive.
info_of()
{
	local code md5

	code=$(awk '$2 == "LINUX_VERSION_CODE" { print $3 }' \
		"$1/include/generated/uapi/linux/version.h")
	md5=$(md5sum < "$1/kernel/kheaders_data.tar.xz")
	echo "version_code=$code"
	echo "version=$((code >> 16)).$((code >> 8 & 255)).$((code & 255))"
	echo "arch=x86"
	echo "md5=${md5%% *}"
}

# shellcheck disable=SC2317 # called through check()
# prints_info_of BUILD: the last run succeeded and printed BUILD's info.
prints_info_of()
{
	[ "$rc" -eq 0 ] && [ "$(cat "$work/out")" = "$(info_of "$1")" ]
}

# archive_at FILE: the offset of the archive's "IKHD_MD5" record in FILE.
archive_at()
{
	LC_ALL=C grep -aobP 'IKHD_MD5[0-9a-f]{32}IKHD_ST\xfd7zXZ\x00' "$1" |
		cut -d : -f 1
}

# flip FILE OFFSET: invert the bits of the byte at OFFSET in FILE.
flip()
{
	local byte

	byte=$(od -An -tu1 -j "$2" -N 1 "$1")
	printf '%b' "\\0$(printf %o $((byte ^ 255)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# =m: the archive is in kheaders.ko only.
m_tar=$m/kernel/kheaders_data.tar.xz
ko=$m/kernel/kheaders.ko
if [ ! -f "$ko" ] || [ ! -f "$m_tar" ]; then
	not_ok "$ko or $m_tar missing (run harness/build x86_64-m)"
	done_testing
fi
extract "$ko"
check "=m kheaders.ko gives the build's archive (${took}s)" gives "$m_tar"
extract --info "$ko"
check "=m kheaders.ko --info: version_code, version, arch, md5" prints_info_of "$m"
extract "$m/vmlinux"
check "=m vmlinux has no archive: status 1 (${took}s)" fails_with 1
extract "$m/arch/x86/boot/bzImage"
check "=m bzImage has no archive: status 1 (${took}s)" fails_with 1
xz --check=crc32 --lzma2=dict=1MiB -c "$ko" > "$work/kheaders.ko.xz"
extract "$work/kheaders.ko.xz"
check "kheaders.ko.xz (module compression) gives the archive" gives "$m_tar"

# =y: the archive is in vmlinux and bzImage.
if [ -f "$y/vmlinux" ] && [ -f "$y/arch/x86/boot/bzImage" ] &&
   [ -f "$y/kernel/kheaders_data.tar.xz" ]; then
	y_tar=$y/kernel/kheaders_data.tar.xz
	extract "$y/vmlinux"
	check "=y vmlinux gives the build's archive (${took}s)" gives "$y_tar"
	extract --info "$y/vmlinux"
	check "=y vmlinux --info (${took}s)" prints_info_of "$y"
	extract "$y/arch/x86/boot/bzImage"
	check "=y bzImage gives the build's archive (${took}s)" gives "$y_tar"
	extract --info "$y/arch/x86/boot/bzImage"
	check "=y bzImage --info (${took}s)" prints_info_of "$y"
	payload=$y/vmlinux
	payload_tar=$y_tar
else
	not_ok "=y build missing: no $y/vmlinux, bzImage or archive (run harness/build x86_64-y)"
	payload=$ko
	payload_tar=$m_tar
fi

# The payload compressed as a boot image's would be, alone (Image.gz) and
# between bytes of a real bzImage.  Fast levels keep the test short.
name=${payload#"$OBJ"/}
head -c 16384 "$m/arch/x86/boot/bzImage" > "$work/head"
tail -c 4096 "$m/arch/x86/boot/bzImage" > "$work/tail"
for c in "gzip -1" "xz -0 --check=crc32" "lzma -0" "bzip2 -1" "lzop -1" \
	 "lz4 -l -1" "zstd -1"; do
	read -ra cmd <<< "$c"
	tool=${cmd[0]}
	if ! command -v "$tool" > /dev/null; then
		echo "# $tool not installed: its payloads are not tested"
		continue
	fi
	"${cmd[@]}" -c < "$payload" > "$work/payload.$tool"
	extract "$work/payload.$tool"
	check "$name by $tool gives the archive (${took}s)" gives "$payload_tar"
	cat "$work/head" "$work/payload.$tool" "$work/tail" > "$work/boot.$tool"
	extract "$work/boot.$tool"
	check "$name by $tool inside a boot image gives the archive (${took}s)" \
		gives "$payload_tar"
done

# Usage errors and missing files.
extract
check "no argument: status 2" fails_with 2
extract --bogus "$ko"
check "unknown option: status 2" fails_with 2
extract "$work/no-such-file"
check "missing file: status 3" fails_with 3

# Damaged copies of kheaders.ko: the archive starts 47 bytes after its
# "IKHD_MD5" record and is as long as the build's.
at=$(archive_at "$ko")
start=$((at + 47))
size=$(stat -c %s "$m_tar")
middle=$((start + size / 2))

head -c "$middle" "$ko" > "$work/truncated.ko"
extract "$work/truncated.ko"
check "kheaders.ko cut inside the archive: status 4" fails_with 4
head -c $((start + size + 1)) "$ko" > "$work/truncated-end.ko"
extract "$work/truncated-end.ko"
check "kheaders.ko cut inside the end marker: status 4" fails_with 4

cp "$ko" "$work/flipped.ko"
flip "$work/flipped.ko" "$middle"
extract "$work/flipped.ko"
check "a byte flipped inside the archive: md5 mismatch, status 5" fails_with 5

# The same byte flipped, and the md5 rewritten to match: only xz can tell.
cp "$work/flipped.ko" "$work/corrupt.ko"
tail -c +$((start + 1)) "$work/corrupt.ko" | head -c "$size" | md5sum |
	cut -c 1-32 | tr -d '\n' |
	dd of="$work/corrupt.ko" bs=1 seek=$((at + 8)) conv=notrunc status=none
extract "$work/corrupt.ko"
check "a byte flipped and the md5 to match: corrupt, status 4" fails_with 4

# Without the md5 record, the xz checks still apply.
cp "$ko" "$work/no-md5.ko"
printf XXXX | dd of="$work/no-md5.ko" bs=1 seek="$at" conv=notrunc status=none
extract "$work/no-md5.ko"
check "no md5 record: the archive, checked by xz alone" gives "$m_tar"
flip "$work/no-md5.ko" "$middle"
extract "$work/no-md5.ko"
check "no md5 record and a byte flipped: status 4" fails_with 4

if [ "$payload" = "$y/vmlinux" ]; then
	at=$(archive_at "$payload")
	head -c $((at + 47 + $(stat -c %s "$y_tar") / 2)) "$payload" > "$work/truncated-vmlinux"
	extract "$work/truncated-vmlinux"
	check "=y vmlinux cut inside the archive: status 4" fails_with 4
fi

# A compressed image whose decompressor is not in PATH.
for tool in zstd lz4 lzop bzip2 gzip; do
	[ -f "$work/boot.$tool" ] && break
done
mkdir -p "$work/bin"
IFS=: read -ra dirs <<< "$PATH"
for dir in "${dirs[@]}"; do
	for cmd in "$dir"/*; do
		base=${cmd##*/}
		[[ $base != *"$tool"* ]] && [ -x "$cmd" ] && [ ! -e "$work/bin/$base" ] &&
			ln -s "$cmd" "$work/bin/$base"
	done
done
PATH=$work/bin extract "$work/boot.$tool"
check "$tool payload without $tool in PATH: status 6" fails_with 6

done_testing
