/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What kernel/kheaders.c shares with its KUnit suite.
 */
#ifndef _KERNEL_KHEADERS_H
#define _KERNEL_KHEADERS_H

#include <linux/sysfs.h>

/* Length of the md5 of the archive, in hex digits; it has no NUL. */
#define KHEADERS_MD5_LEN	32

extern const char kheaders_md5[KHEADERS_MD5_LEN];
extern const char kheaders_data[];
extern const char kheaders_data_end[];

#if IS_ENABLED(CONFIG_KUNIT)
extern struct bin_attribute kheaders_attr;
extern const struct attribute_group kheaders_group;
#endif

#endif /* _KERNEL_KHEADERS_H */
