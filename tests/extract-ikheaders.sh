#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of scripts/extract-ikheaders on the harness's kernels: kheaders.ko
# of the CONFIG_IKHEADERS=m build, vmlinux and bzImage of the =y build,
# that vmlinux compressed by each compressor the kernel supports, alone
# and inside other bytes as in a boot image, and damaged copies of them.
# Each build's kernel/kheaders_data.tar.xz is what must come out.
#
# The builds are only read (KH_BUILD may point at another tree's); the
# scratch files are in this tree's build/tmp.  Every run of the script has
# a grep in PATH that refuses options other than POSIX ones and -a -b -o,
# which extract-ikconfig needs too, and a TMPDIR that must be empty after.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

script=$TREE/scripts/extract-ikheaders
work=$TOP/build/tmp/extract-ikheaders
m=$OBJ/x86_64-m
y=$OBJ/x86_64-y
if mountpoint -q "$work/full" 2> /dev/null; then
	umount "$work/full"
fi
rm -rf "$work"
mkdir -p "$work/tmp" "$work/posix-grep"
export TMPDIR=$work/tmp

cat > "$work/posix-grep/grep" << EOF
#!/bin/sh
for arg; do
	case \$arg in
	-*[!abcEeFfilnoqsvx]*)
		echo "grep \$arg" >> "$work/grep-misuse"
		exit 2
	esac
done
exec $(command -v grep) "\$@"
EOF
chmod +x "$work/posix-grep/grep"

# extract ARG...: run the script, stdout to $work/out, stderr to $work/err
# (shown as comments), exit status to $rc, seconds taken to $took.
rc=0
took=
extract()
{
	local start=$EPOCHREALTIME

	PATH=$work/posix-grep:$PATH "$script" "$@" > "$work/out" 2> "$work/err"
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
# fails_with STATUS REGEX: the last run exited with STATUS, wrote nothing
# to stdout and said why on stderr, in words that REGEX matches.
fails_with()
{
	[ "$rc" -eq "$1" ] && [ ! -s "$work/out" ] && grep -q -- "$2" "$work/err"
}

# archive_at FILE: the offset of the archive's "<md5>IKHD_ST" in FILE.
archive_at()
{
	LC_ALL=C grep -abo '[0-9a-f]\{32\}IKHD_ST' "$1" | cut -d : -f 1
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
if [ -f "$ko" ] && [ -f "$m_tar" ]; then
	extract "$ko"
	check "=m kheaders.ko gives the build's archive (${took}s)" gives "$m_tar"
	extract "$m/vmlinux"
	check "=m vmlinux has no archive: status 1 (${took}s)" \
		fails_with 1 "no kheaders archive found"
	extract "$m/arch/x86/boot/bzImage"
	check "=m bzImage has no archive: status 1 (${took}s)" \
		fails_with 1 "no kheaders archive found"
	xz --check=crc32 --lzma2=dict=1MiB -c "$ko" > "$work/kheaders.ko.xz"
	extract "$work/kheaders.ko.xz"
	check "kheaders.ko.xz (module compression) gives the archive" gives "$m_tar"
else
	not_ok "$ko or $m_tar missing (run harness/build x86_64-m)"
fi

# =y: the archive is in vmlinux and bzImage.
y_tar=$y/kernel/kheaders_data.tar.xz
if [ -f "$y/vmlinux" ] && [ -f "$y/arch/x86/boot/bzImage" ] && [ -f "$y_tar" ]; then
	extract "$y/vmlinux"
	check "=y vmlinux gives the build's archive (${took}s)" gives "$y_tar"
	extract "$y/arch/x86/boot/bzImage"
	check "=y bzImage gives the build's archive (${took}s)" gives "$y_tar"
	payload=$y/vmlinux
	payload_tar=$y_tar
	boot=$y/arch/x86/boot/bzImage
else
	not_ok "=y build missing: no $y/vmlinux, bzImage or archive (run harness/build x86_64-y)"
	payload=$ko
	payload_tar=$m_tar
	boot=$m/arch/x86/boot/bzImage
fi
if [ ! -f "$payload" ]; then
	not_ok "no build to test on"
	done_testing
fi

# The payload compressed as a boot image's would be, alone (Image.gz) and
# between bytes of a real bzImage.  Fast levels keep the test short; the
# kernel's lzma -9 has a 64 MiB dictionary, which its magic number shows.
name=${payload#"$OBJ"/}
head -c 16384 "$boot" > "$work/head"
tail -c 4096 "$boot" > "$work/tail"
for c in "gzip -1" "xz -0 --check=crc32" "lzma --lzma1=preset=0,dict=64MiB" \
	 "bzip2 -1" "lzop -1" "lz4 -l -1" "zstd -1"; do
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

# Usage errors and unreadable images: said on stderr, status 2.
extract
check "no argument: usage on stderr, status 2" fails_with 2 "^Usage: "
extract "$payload" "$payload"
check "two arguments: usage on stderr, status 2" fails_with 2 "^Usage: "
extract --info "$payload"
check "--info (dropped) is a usage error, status 2" fails_with 2 "^Usage: "
extract "$work/no-such-file"
check "missing file: status 2" fails_with 2 "no such file"
extract "$work"
check "a directory: status 2" fails_with 2 "not a regular file"

# A file named "-" is a file, not stdin (which is empty here).
mkdir -p "$work/dash"
ln -s "$payload" "$work/dash/-"
cd "$work/dash" || exit
extract - < /dev/null
cd "$TOP" || exit
check "a file named - is read as a file, not stdin" gives "$payload_tar"

# Damaged copies: of kheaders.ko if there is one, else of vmlinux.  The
# archive starts 39 bytes after its md5, which "IKHD_ST" follows.
if [ -f "$ko" ]; then
	subject=$ko
	subject_tar=$m_tar
else
	subject=$payload
	subject_tar=$payload_tar
fi
at=$(archive_at "$subject")
start=$((at + 39))
size=$(stat -c %s "$subject_tar")
middle=$((start + size / 2))
name=${subject##*/}

head -c "$middle" "$subject" > "$work/truncated"
extract "$work/truncated"
check "$name cut inside the archive: truncated, status 3 (${took}s)" \
	fails_with 3 "truncated"
head -c $((start + size + 1)) "$subject" > "$work/truncated-end"
extract "$work/truncated-end"
check "$name cut inside the end marker: truncated, status 3" fails_with 3 "truncated"

cp "$subject" "$work/flipped"
flip "$work/flipped" "$middle"
extract "$work/flipped"
check "a byte flipped inside the archive: md5 mismatch, status 3" \
	fails_with 3 "md5 mismatch"

# The same byte flipped, and the md5 rewritten to match: only xz can tell.
cp "$work/flipped" "$work/corrupt"
tail -c +$((start + 1)) "$work/corrupt" | head -c "$size" | md5sum |
	cut -c 1-32 | tr -d '\n' |
	dd of="$work/corrupt" bs=1 seek="$at" conv=notrunc status=none
extract "$work/corrupt"
check "a byte flipped and the md5 to match: xz -t fails, status 3" \
	fails_with 3 "truncated or corrupt (xz -t fails)"

# Without its md5 record, an archive is not taken.
cp "$subject" "$work/no-md5"
printf XXXX | dd of="$work/no-md5" bs=1 seek="$at" conv=notrunc status=none
extract "$work/no-md5"
check "no md5 record: no archive, status 1" fails_with 1 "no kheaders archive found"

# Write errors: a full TMPDIR, for the archive and for a decompressed
# payload, and a full stdout.  Each is named, none is an "md5 mismatch".
mkdir -p "$work/full"
if mount -t tmpfs -o size=64k none "$work/full"; then
	TMPDIR=$work/full extract "$subject"
	check "full TMPDIR, writing the archive: write error, status 4" \
		fails_with 4 "full: cannot write the archive to a temporary file"
	TMPDIR=$work/full extract "$work/boot.bzip2"
	check "full TMPDIR, decompressing: write error, status 4" \
		fails_with 4 "full: cannot write decompressed data to a temporary file"
	check "full TMPDIR: the temporary files are removed" \
		test -z "$(ls -A "$work/full")"
	umount "$work/full"
else
	not_ok "cannot mount a tmpfs on $work/full: the full TMPDIR is not tested"
fi
PATH=$work/posix-grep:$PATH "$script" "$subject" > /dev/full 2> "$work/err"
rc=$?
sed 's/^/# /' "$work/err"
: > "$work/out"
check "stdout full: write error, status 4" fails_with 4 "cannot write to stdout"

# path_without WORD: a directory of links to the commands in PATH but
# those whose name has WORD in it.
path_without()
{
	local dir cmd base bin=$work/without-$1

	mkdir -p "$bin"
	IFS=: read -ra dirs <<< "$PATH"
	for dir in "${dirs[@]}"; do
		for cmd in "$dir"/*; do
			base=${cmd##*/}
			[[ $base != *"$1"* ]] && [ -x "$cmd" ] && [ ! -e "$bin/$base" ] &&
				ln -s "$cmd" "$bin/$base"
		done
	done
	echo "$bin"
}

# A compressed image whose decompressor is not in PATH: named as such.
# Where the compressor left the start of the archive as it was, the
# script finds it without its end: damaged, status 3; else status 1.
for tool in zstd lz4 lzop bzip2 gzip; do
	[ -f "$work/boot.$tool" ] && break
done
want=1
if LC_ALL=C grep -qa '[0-9a-f]\{32\}IKHD_ST' "$work/boot.$tool"; then
	want=3
fi
PATH=$(path_without "$tool") extract "$work/boot.$tool"
check "$tool payload without $tool in PATH: status $want, $tool named" \
	fails_with "$want" "not installed:.*$tool"
PATH=$(path_without xz) extract "$payload"
check "xz not in PATH: status 2, xz named" fails_with 2 "xz is not installed"

# An interrupted run removes its temporary files too.
mkdir "$work/tmp-term"
TMPDIR=$work/tmp-term PATH=$work/posix-grep:$PATH "$script" "$boot" > /dev/null 2>&1 &
sleep 0.3
kill -TERM $!
wait $!
rc=$?
echo "# status $rc"
check "killed by SIGTERM: status 143, temporary files removed" \
	test "$rc" -eq 143 -a -z "$(ls -A "$work/tmp-term")"

check "no run left a temporary file in TMPDIR" test -z "$(ls -A "$TMPDIR")"
check "no run used a grep option beyond POSIX and -abo" test ! -e "$work/grep-misuse"

done_testing
