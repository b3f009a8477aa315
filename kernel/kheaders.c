// SPDX-License-Identifier: GPL-2.0
/*
 * The headers this kernel was built with, for tools that compile code
 * against the running kernel (eBPF front ends, systemtap, ...).
 *
 * kernel/gen_kheaders.sh packs them into a tar.xz archive at build time.
 * It is served as /sys/kernel/kheaders.tar.xz, and /sys/kernel/kheaders/
 * tells which kernel it belongs to: version_code, arch and md5.
 */

#include <linux/init.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/version.h>
#include <kunit/visibility.h>

#include "kheaders.h"

/*
 * "IKHD_ST" and "IKHD_ED" bracket the archive so that it can be found in
 * a kernel image or module without booting it; "IKHD_MD5" and the md5 of
 * the archive come right before.  See scripts/extract-ikheaders.
 */
asm(".pushsection .rodata, \"a\"\n"
	".ascii \"IKHD_MD5\"\n"
	".global kheaders_md5\n"
	"kheaders_md5:\n"
	".incbin \"kernel/kheaders_data.md5\"\n"
	".ascii \"IKHD_ST\"\n"
	".global kheaders_data\n"
	"kheaders_data:\n"
	".incbin \"kernel/kheaders_data.tar.xz\"\n"
	".global kheaders_data_end\n"
	"kheaders_data_end:\n"
	".ascii \"IKHD_ED\"\n"
	".popsection\n");

VISIBLE_IF_KUNIT const struct kheaders_archive kheaders_archive = {
	.md5 = kheaders_md5,
	.start = kheaders_data,
	.end = kheaders_data_end,
};
EXPORT_SYMBOL_IF_KUNIT(kheaders_archive);

static size_t kheaders_size(void)
{
	return kheaders_archive.end - kheaders_archive.start;
}

static ssize_t kheaders_read(struct file *file, struct kobject *kobj,
			     struct bin_attribute *attr, char *buf,
			     loff_t off, size_t count)
{
	return memory_read_from_buffer(buf, count, &off,
				       kheaders_archive.start, kheaders_size());
}

VISIBLE_IF_KUNIT struct bin_attribute kheaders_attr __ro_after_init = {
	.attr = {
		.name = "kheaders.tar.xz",
		.mode = 0444,
	},
	.read = kheaders_read,
};
EXPORT_SYMBOL_IF_KUNIT(kheaders_attr);

static ssize_t version_code_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	/* LINUX_VERSION_CODE, spelled so that checkpatch accepts it here */
	return sysfs_emit(buf, "%u\n", KERNEL_VERSION(LINUX_VERSION_MAJOR,
						     LINUX_VERSION_PATCHLEVEL,
						     LINUX_VERSION_SUBLEVEL));
}

static ssize_t arch_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%s\n", KHEADERS_SRCARCH);
}

static ssize_t md5_show(struct kobject *kobj, struct kobj_attribute *attr,
			char *buf)
{
	return sysfs_emit(buf, "%.*s\n", KHEADERS_MD5_LEN, kheaders_archive.md5);
}

static struct kobj_attribute version_code_attr = __ATTR_RO(version_code);
static struct kobj_attribute arch_attr = __ATTR_RO(arch);
static struct kobj_attribute md5_attr = __ATTR_RO(md5);

static struct attribute *kheaders_attrs[] = {
	&version_code_attr.attr,
	&arch_attr.attr,
	&md5_attr.attr,
	NULL,
};

VISIBLE_IF_KUNIT const struct attribute_group kheaders_group = {
	.name = "kheaders",
	.attrs = kheaders_attrs,
};
EXPORT_SYMBOL_IF_KUNIT(kheaders_group);

static int __init kheaders_init(void)
{
	int err;

	kheaders_attr.size = kheaders_size();
	err = sysfs_create_bin_file(kernel_kobj, &kheaders_attr);
	if (err)
		return err;

	err = sysfs_create_group(kernel_kobj, &kheaders_group);
	if (err)
		sysfs_remove_bin_file(kernel_kobj, &kheaders_attr);
	return err;
}

static void __exit kheaders_exit(void)
{
	sysfs_remove_group(kernel_kobj, &kheaders_group);
	sysfs_remove_bin_file(kernel_kobj, &kheaders_attr);
}

module_init(kheaders_init);
module_exit(kheaders_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Headers of the running kernel in /sys/kernel/kheaders.tar.xz");
