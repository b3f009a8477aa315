// SPDX-License-Identifier: GPL-2.0-only
/*
 * fdleak SYSFS CACHE DIR: kheaders_extract() into DIR, which is expected
 * to fail (the test injects ENOSPC); exit 0 if no file descriptor was
 * left open by it, else print the count before and after and exit 1.
 * Writes nothing before the extraction, so that the first write(2) the
 * test fails is the library's.
 */
#include <dirent.h>
#include <stdio.h>

#include "kheaders.h"

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	struct kheaders *kh;
	int before, after, err;

	if (argc != 4)
		return 2;
	before = count_fds();
	kh = kheaders_new(argv[1]);
	if (!kh || kheaders_set_cache_dir(kh, argv[2]))
		return 2;
	err = kheaders_extract(kh, argv[3], NULL, 0);
	after = count_fds();
	printf("extract: %d (%s); descriptors before %d, after %d\n", err,
	       kheaders_errmsg(kh), before, after);
	kheaders_free(kh);
	return err && after == before ? 0 : 1;
}
