# SPDX-License-Identifier: GPL-2.0
#
# make              the demo: build an x86_64 kernel with the series, boot it
#                   in qemu and show /sys/kernel/kheaders*
# make check        every test; ends with "N passed, N failed"
# make patches      export the series from build/linux to patches/ and check it
# make bench        our archive generation against mainline's -> BENCHMARKS.md
# make check-matrix the configurations and architectures too slow for CI
# make install      install tool/ (kheaders) under PREFIX (default /usr/local)
#
# The base is mainline (7.3, Debian's linux-source-7.3 from trixie-backports).
# BASE=6.12 or BASE=6.1 (environment or "make BASE=6.1 ...") does the same
# for the backport to that LTS kernel: Debian 12's linux-source-$BASE,
# patches/$BASE/series, everything under build/$BASE/.

PREFIX ?= /usr/local
H := harness

.PHONY: demo check patches bench check-matrix install tree clean

demo: tree
	$(H)/build x86_64-y
	$(H)/boot x86_64-y tests/guest/demo.sh

tree:
	$(H)/setup
	$(H)/tree

check: tree
	$(H)/build x86_64-y
	$(H)/build x86_64-m
	$(H)/check

patches: tree
	$(H)/patches

bench: tree
	$(H)/bench

check-matrix: tree
	$(H)/matrix

install:
	$(MAKE) -C tool O=$(CURDIR)/build/tool
	$(MAKE) -C tool O=$(CURDIR)/build/tool PREFIX=$(PREFIX) install

clean:
	rm -rf build
