#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the compressed archive of kernel headers for CONFIG_IKHEADERS.
#
# Usage: gen_kheaders.sh <archive.tar.xz>
#
# Archives every *.h under include/ and arch/$SRCARCH/include/ of the source
# tree and, for O= builds, of the object tree (generated headers included),
# with /* */ comments removed except SPDX lines.  Next to the archive it
# writes <archive>.md5 (32 hex digits, no newline) for kheaders.c to embed,
# and a stamp that lets a later build with the same inputs skip all work.
#
# The archive is reproducible: the same headers give the same bytes whatever
# the build directory, time, umask or user.  It is created under a temporary
# name and renamed into place only when complete; on any failure the outputs
# are removed so that no later build can take them as up to date.

set -eu -o pipefail

tarfile=$1
srctree=${srctree:-.}
md5file=${tarfile%.tar.xz}.md5
stamp=${tarfile%/*}/.kheaders_data.stamp
xz_cmd=${XZ:-xz}
header_dirs=(include "arch/$SRCARCH/include")

die()
{
	echo >&2 "gen_kheaders.sh: error: $*"
	exit 1
}

# Print "ctime mtime size inode path" for each header of the tree at $1
# (relative to the current directory), NUL separated.  utsversion.h
# changes on every link and is not needed; dot-files are NFS/AFS
# silly-renames and editor lock files.
list_headers()
{
	local root=$1 dirs=() d

	for d in "${header_dirs[@]}"; do
		[ -d "$root/$d" ] && dirs+=("$root/$d")
	done
	[ ${#dirs[@]} -gt 0 ] || return 0
	find "${dirs[@]}" -path "$root/include/generated/utsversion.h" -prune -o \
		-type f -name '*.h' ! -name '.*' ! -name '#*' \
		-printf '%C@ %T@ %s %i %p\0'
}

# The object tree comes last: perl below lets its headers override stale
# copies of the same path in the source tree.
all_headers()
{
	if [ -n "${building_out_of_srctree:-}" ]; then
		list_headers "$srctree"
	fi
	list_headers .
}

# The script and the settings it uses, which determine the archive along
# with the headers.
settings()
{
	md5sum < "${BASH_SOURCE[0]}"
	echo "$SRCARCH ${KBUILD_BUILD_TIMESTAMP:-} $xz_cmd"
}

# What the headers are: their paths and contents.
inputs_hash()
{
	{
		settings
		LC_ALL=C sort -z "$1" | xargs -0r md5sum
	} | md5sum | cut -d ' ' -f 1
}

# A cheap stand-in for inputs_hash: the headers' paths and status.  Any
# write to a file changes its ctime, which cannot be set from user space.
signature()
{
	{
		settings
		cat "$1"
	} | md5sum | cut -d ' ' -f 1
}

# The signature can be trusted later only if no header changed in the
# last two seconds before the listing: a write right after it could keep
# a coarse-grained ctime.  Like git's "racily clean" index entries, such
# a listing is never trusted and the next build compares contents.
trusted_signature()
{
	local newest

	newest=$(cut -z -d ' ' -f 1 "$1" | sort -zrn | head -zn 1 | tr -d '\0')
	if [ "${newest%.*}" -lt $(($2 - 2)) ]; then
		signature "$1"
	else
		echo -
	fi
}

# The archive and its md5 file are the ones the stamp recorded.
archive_intact()
{
	[ -f "$tarfile" ] && [ -f "$md5file" ] &&
	[ "$(cat "$md5file")" = "$stamp_md5" ] &&
	[ "$(md5sum < "$tarfile" | cut -d ' ' -f 1)" = "$stamp_md5" ]
}

write_stamp()
{
	echo "$inputs $1 $(trusted_signature "$tmpdir/status" "$listed_at")" \
		> "$tmpdir/stamp"
	mv -f "$tmpdir/stamp" "$stamp"
}

check_tools()
{
	local tool

	for tool in perl tar "${xz_cmd%% *}" md5sum; do
		command -v "$tool" > /dev/null ||
			die "'$tool' not found; it is needed to build CONFIG_IKHEADERS"
	done
	tar --version 2> /dev/null | grep -q 'GNU tar' ||
		die "GNU tar is needed to build CONFIG_IKHEADERS"
}

# Copy the headers listed in $1 to directory $2 without their comments.
# One perl program does all files, forked over the available CPUs.
strip_headers()
{
	perl -e '
use strict;
use warnings;

my ($list, $dest, $srctree, $jobs) = @ARGV;
my %src;

open(my $fh, "<", $list) or die "$list: $!\n";
{
	local $/ = "\0";
	while (my $path = <$fh>) {
		chomp $path;
		(my $rel = $path) =~ s{^(?:\Q$srctree\E|\.)/}{};
		$src{$rel} = $path;
	}
}
close($fh);

# Drop each /* */ comment that does not mention SPDX.  Strings, character
# constants and // comments are matched first so that a "/*" inside them
# does not start a comment.  A comment alone on its line goes away with the
# line; one between two tokens becomes a space.  Only the end of the output
# is ever looked at, to stay linear in the size of the header.
sub last_char {
	return length($_[0]) ? substr($_[0], -1) : "";
}

my $token = qr{(
	"(?:\\.|[^"\\\n])*"			# string
	| \x27(?:\\.|[^\x27\\\n])*\x27	# character constant
	| //[^\n]*				# C++ comment
	| /\*.*?\*/				# C comment
)}sx;

sub strip {
	my @parts = split($token, $_[0], -1);
	my $out = "";

	for (my $i = 0; $i < @parts; $i++) {
		my $part = $parts[$i];

		if ($i % 2 == 0 || $part !~ m{^/\*} || $part =~ /SPDX/) {
			$out .= $part;
			next;
		}
		my $line = substr($out, rindex($out, "\n") + 1);
		my $next = \$parts[$i + 1];
		if ($$next =~ /^[ \t]*(?:\n|\z)/) {
			chop($out) while last_char($out) =~ /^[ \t]\z/;
			$$next =~ s/^[ \t]*\n// if $line =~ /^[ \t]*\z/;
		} elsif (last_char($out) =~ /^\S\z/ && $$next =~ /^\S/) {
			$out .= " ";
		}
	}
	return $out;
}

my %made;
sub make_parents {
	my ($rel) = @_;
	my @parts = split(m{/}, $rel);
	my $dir = $dest;

	pop(@parts);
	for my $part (@parts) {
		$dir .= "/$part";
		next if $made{$dir}++;
		mkdir($dir) or $!{EEXIST} or die "$dir: $!\n";
	}
}

# Worker $job of $jobs takes every $jobs-th header.
my @rels = sort keys %src;
my ($job, @pids) = (0);
for my $n (1 .. $jobs - 1) {
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		($job, @pids) = ($n);
		last;
	}
	push(@pids, $pid);
}

for (my $i = $job; $i < @rels; $i += $jobs) {
	my $rel = $rels[$i];
	open(my $in, "<", $src{$rel}) or die "$src{$rel}: $!\n";
	my $text = do { local $/; <$in> };
	close($in);
	make_parents($rel);
	open(my $out, ">", "$dest/$rel") or die "$dest/$rel: $!\n";
	print $out strip($text) or die "$dest/$rel: $!\n";
	close($out) or die "$dest/$rel: $!\n";
}

my $status = 0;
for my $pid (@pids) {
	waitpid($pid, 0);
	$status = 1 if $? != 0;
}
exit($status);
' "$1" "$2" "$srctree" "$(nproc 2> /dev/null || echo 1)"
}

# Create the tar with a fixed order, owner, modes and mtime so that the
# same headers always give the same bytes.  Single-threaded xz is both the
# smallest and independent of the number of CPUs; lib/xz checks CRC32.
make_archive()
{
	local dir=$1 members=() d

	for d in "${header_dirs[@]}"; do
		[ -d "$dir/$d" ] && members+=("./$d")
	done
	tar --create --format=gnu --sort=name --numeric-owner --owner=0 \
		--group=0 --mode=u=rw,go=r,a+X \
		--mtime="${KBUILD_BUILD_TIMESTAMP:-@0}" \
		-C "$dir" "${members[@]}" |
		$xz_cmd --threads=1 --check=crc32 -6
}

tmpdir=
cleanup()
{
	local status=$?

	[ -z "$tmpdir" ] || rm -rf "$tmpdir"
	if [ $status -ne 0 ]; then
		rm -f "$tarfile" "$md5file" "$stamp"
		echo >&2 "gen_kheaders.sh: error: failed to create $tarfile"
	fi
}
trap cleanup EXIT

tmpdir=$(mktemp -d "${tarfile%/*}/.kheaders_data.tmp.XXXXXX")
listed_at=$(date +%s)
all_headers > "$tmpdir/status"
[ -s "$tmpdir/status" ] || die "no headers found under ${header_dirs[*]}"
stamp_inputs='' stamp_md5='' stamp_signature=''
[ ! -f "$stamp" ] ||
	read -r stamp_inputs stamp_md5 stamp_signature < "$stamp" || true

# Nothing changed since the last build: the usual case, made fast.
if [ "$(signature "$tmpdir/status")" = "$stamp_signature" ] && archive_intact; then
	exit 0
fi
cut -z -d ' ' -f 5- "$tmpdir/status" > "$tmpdir/list"
inputs=$(inputs_hash "$tmpdir/list")
if [ "$inputs" = "$stamp_inputs" ] && archive_intact; then
	write_stamp "$stamp_md5"
	exit 0
fi

echo "  GEN     $tarfile"
check_tools
rm -f "$stamp"
mkdir "$tmpdir/root"
strip_headers "$tmpdir/list" "$tmpdir/root" ||
	die "stripping comments from the headers failed"
make_archive "$tmpdir/root" > "$tmpdir/archive" ||
	die "'tar | $xz_cmd' failed"
[ -s "$tmpdir/archive" ] || die "'tar | $xz_cmd' produced no output"

md5=$(md5sum < "$tmpdir/archive" | cut -d ' ' -f 1)
# Keep an identical archive as it is: kheaders.o need not be rebuilt.
if ! cmp -s "$tmpdir/archive" "$tarfile" ||
   [ "$(cat "$md5file" 2> /dev/null)" != "$md5" ]; then
	printf '%s' "$md5" > "$tmpdir/md5"
	mv -f "$tmpdir/md5" "$md5file"
	mv -f "$tmpdir/archive" "$tarfile"
fi
write_stamp "$md5"
