#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The backport to 6.12 LTS, as far as CI's hour allows: patches/6.12/series
# (mainline's kheaders commits as stable cherry-picks, then the series)
# applies with git am to pristine 6.12, each patch clean under checkpatch
# --strict (harness/patches --check-only); the x86_64 =y kernel built from
# it boots and passes the guest's read checks, built-in KUnit suite
# included.  Everything else on 6.12 (and 6.1) is "make check-matrix".
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

base=${KH_BACKPORT_BASE:-6.12}
# shellcheck disable=SC2317 # run by check
stable()
{
	BASE=$base "$@"
}

start=$SECONDS
check "BASE=$base harness/setup" stable "$TOP/harness/setup"
check "BASE=$base harness/tree: patches/$base/series applies" stable "$TOP/harness/tree"
check "BASE=$base harness/patches --check-only: git am and checkpatch --strict" \
	stable "$TOP/harness/patches" --check-only
check "BASE=$base harness/build x86_64-y" stable "$TOP/harness/build" x86_64-y
check "BASE=$base x86_64-y boots and passes the read checks" \
	stable "$TOP/harness/boot" x86_64-y "$TOP/tests/guest/read.sh"
echo "backport $base: $((SECONDS - start)) s"
done_testing
