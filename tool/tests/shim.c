// SPDX-License-Identifier: GPL-2.0-only
/*
 * LD_PRELOAD shim for the tests: with SHIM_READ=N, read(2) returns at
 * most N bytes at a time (short reads are what a signal, FUSE or NFS may
 * give); with SHIM_GETRANDOM=fail, getrandom(2) fails with ENOSYS (an old
 * kernel, a seccomp filter), and with SHIM_GETRANDOM=const it returns the
 * same bytes every time, so that every name tried collides.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

ssize_t read(int fd, void *buf, size_t count)
{
	const char *cap = getenv("SHIM_READ");

	if (cap && (size_t)atoi(cap) < count && atoi(cap) > 0)
		count = atoi(cap);
	return syscall(SYS_read, fd, buf, count);
}

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
	const char *how = getenv("SHIM_GETRANDOM");

	if (how && !strcmp(how, "fail")) {
		errno = ENOSYS;
		return -1;
	}
	if (how && !strcmp(how, "const")) {
		memset(buf, 0x41, len);
		return len;
	}
	return syscall(SYS_getrandom, buf, len, flags);
}
