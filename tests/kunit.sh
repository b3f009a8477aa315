#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The KUnit suite kernel/kheaders_test.c under kunit.py (UML,
# CONFIG_IKHEADERS=y): every case passes.  Then the same kernel with one
# byte of its embedded archive flipped, after the md5 was taken: the md5
# case must fail, and only it (the others compare what sysfs serves with
# the embedded bytes, or look at the markers and the xz stream's ends).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

kunit_dir=$OBJ/kunit
# The cases of the suite, in order, and those that hash the archive.
cases=(kheaders_markers kheaders_size kheaders_read_start kheaders_read_middle
	kheaders_read_end kheaders_read_past_end kheaders_version_code
	kheaders_arch kheaders_md5)
corrupt_fails=(kheaders_md5)
mapfile -t suite_cases < <(sed -n 's/^\tKUNIT_CASE(\(.*\)),$/\1/p' "$TREE/kernel/kheaders_test.c")

# kunit.py makes its build directory, not the directories above it.
mkdir -p "$OBJ"
start=$SECONDS
(cd "$TREE" && python3 tools/testing/kunit/kunit.py run \
	--kunitconfig="$TOP/configs/kunit.config" --build_dir="$kunit_dir" \
	--jobs="$JOBS" --timeout=600) > "$LOGS/kunit-run.log" 2>&1
status=$?
echo "kunit.py run: exit $status, $((SECONDS - start)) s, log $LOGS/kunit-run.log"
grep -E '\[(PASSED|FAILED|SKIPPED|CRASHED)\]|Testing complete' "$LOGS/kunit-run.log"
check "kunit.py run exits 0" test "$status" -eq 0
check "the suite has the cases this script checks" \
	test "${suite_cases[*]}" = "${cases[*]}"
for c in "${cases[@]}"; do
	check "kunit: $c" grep -q "\[PASSED\] $c\$" "$LOGS/kunit-run.log"
done

# The negative run: flip a byte in the middle of the archive in a copy of
# the UML kernel and run it directly, as kunit.py does.
bad=$OBJ/kunit-corrupt
rm -rf "$bad"
mkdir -p "$bad"
cp "$kunit_dir/linux" "$bad/linux"
read -r offset end < <(perl -0777 -ne '
	my ($s, $e) = (index($_, "IKHD_ST\xfd7zXZ\x00"), rindex($_, "YZIKHD_ED"));
	print "$s $e\n" if $s >= 0 && $e > $s' "$bad/linux")
check "the UML kernel holds IKHD_ST, an xz stream and IKHD_ED" \
	test -n "$offset" -a -n "$end"
echo "archive at [$((offset + 7)), $((end + 2))) of $kunit_dir/linux"
flip=$(((offset + 7 + end) / 2))
perl -e 'open(my $f, "+<", $ARGV[0]) or die; seek($f, $ARGV[1], 0);
	read($f, my $b, 1); seek($f, $ARGV[1], 0); print $f chr(ord($b) ^ 0x55)' \
	"$bad/linux" "$flip"
check "one byte of the copy's archive is flipped" \
	test "$(cmp -l "$kunit_dir/linux" "$bad/linux" | wc -l)" -eq 1

start=$SECONDS
timeout 600 "$bad/linux" mem=1G console=tty kunit_shutdown=halt \
	kunit.filter_glob=kheaders < /dev/null > "$bad/ktap.log" 2>&1
echo "corrupted kernel: $((SECONDS - start)) s, log $bad/ktap.log"
python3 "$TREE/tools/testing/kunit/kunit.py" parse "$bad/ktap.log" |
	grep -E '\[(PASSED|FAILED|SKIPPED|CRASHED)\]'

result_of()
{
	sed -nE "s/^ +(not ok|ok) [0-9]+ $1\$/\1/p" "$bad/ktap.log"
}

for c in "${cases[@]}"; do
	want=ok
	[[ " ${corrupt_fails[*]} " == *" $c "* ]] && want="not ok"
	check "corrupted archive: $c gives '$want'" test "$(result_of "$c")" = "$want"
done

done_testing
