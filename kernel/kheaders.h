/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What kernel/kheaders.c shares with its KUnit suite.
 */
#ifndef _KERNEL_KHEADERS_H
#define _KERNEL_KHEADERS_H

#include <linux/sysfs.h>

/* Length of the archive's md5 in hex digits; it is not NUL terminated. */
#define KHEADERS_MD5_LEN	32

/* Defined in assembly by kheaders.c */
extern const char kheaders_md5[KHEADERS_MD5_LEN];
extern const char kheaders_data[];
extern const char kheaders_data_end[];

/* The embedded archive: [start, end) and its md5, taken at build time. */
struct kheaders_archive {
	const char *md5;
	const char *start;
	const char *end;
};

#if IS_ENABLED(CONFIG_KUNIT)
extern const struct kheaders_archive kheaders_archive;
extern struct bin_attribute kheaders_attr;
extern const struct attribute_group kheaders_group;
#endif

#endif /* _KERNEL_KHEADERS_H */
