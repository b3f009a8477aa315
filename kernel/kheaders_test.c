// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the headers archive embedded by kernel/kheaders.c.
 *
 * They check the archive as this kernel carries it: its markers, that it
 * is a whole xz stream (decoded with lib/xz, a window at a time), that the
 * tar inside has the layout tools unpack and the headers they need, that
 * its md5 is the one advertised, and that the sysfs files read right.
 */

#include <crypto/hash.h>
#include <crypto/md5.h>
#include <kunit/test.h>
#include <linux/kernel.h>
#include <linux/kobject.h>
#include <linux/kstrtox.h>
#include <linux/module.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <linux/xz.h>

#include "kheaders.h"

#define TAR_BLOCK		512
/* Decompressed bytes are handled this much at a time. */
#define UNXZ_WINDOW		SZ_64K
/* Largest xz dictionary accepted: that of "xz -9". */
#define UNXZ_DICT_MAX		SZ_64M
/* Largest header kept whole to look into. */
#define SAMPLE_MAX		SZ_1M

#define VERSION_H	"./include/generated/uapi/linux/version.h"

static const char * const required_files[] = {
	"./include/linux/kconfig.h",
	"./include/generated/autoconf.h",
	VERSION_H,
};

/* Headers whose whole text is checked for comments left behind. */
static const char * const sampled_files[] = {
	"./include/linux/kconfig.h",
	"./include/linux/types.h",
	"./include/linux/sched.h",
	"./include/uapi/linux/bpf.h",
	VERSION_H,
};

static unsigned int kernel_version_code(void)
{
	return KERNEL_VERSION(LINUX_VERSION_MAJOR, LINUX_VERSION_PATCHLEVEL,
			      LINUX_VERSION_SUBLEVEL);
}

static size_t archive_size(void)
{
	return kheaders_archive.end - kheaders_archive.start;
}

/* Show the attribute NAME of /sys/kernel/kheaders/ into a page. */
static char *show_attr(struct kunit *test, const char *name)
{
	struct attribute **attr;
	struct kobj_attribute *kattr;
	char *buf;

	for (attr = kheaders_group.attrs; *attr; attr++)
		if (!strcmp((*attr)->name, name))
			break;
	KUNIT_ASSERT_NOT_NULL_MSG(test, *attr, "no attribute %s", name);

	/* sysfs_emit() wants a page-aligned buffer, as sysfs gives it. */
	buf = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	kattr = container_of(*attr, struct kobj_attribute, attr);
	KUNIT_ASSERT_GT(test, kattr->show(kernel_kobj, kattr, buf), 0);
	return buf;
}

/* Read through the same path as read(2) on /sys/kernel/kheaders.tar.xz. */
static ssize_t read_archive(char *buf, loff_t off, size_t count)
{
	return kheaders_attr.read(NULL, kernel_kobj, &kheaders_attr,
				  buf, off, count);
}

/*
 * Decompress the archive a window at a time, handing each run of whole
 * tar blocks to CONSUME.  Returns the lib/xz result of the last step:
 * XZ_STREAM_END when the stream was whole and valid.
 */
static enum xz_ret unxz_archive(struct kunit *test,
				void (*consume)(void *ctx, const u8 *p,
						size_t len),
				void *ctx, size_t *total)
{
	struct xz_dec *dec;
	struct xz_buf b = {
		.in = kheaders_archive.start,
		.in_size = archive_size(),
		.out_size = UNXZ_WINDOW,
	};
	enum xz_ret ret;
	size_t whole;
	u8 *out;

	out = kunit_kmalloc(test, UNXZ_WINDOW, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, out);
	dec = xz_dec_init(XZ_DYNALLOC, UNXZ_DICT_MAX);
	KUNIT_ASSERT_NOT_NULL(test, dec);

	*total = 0;
	b.out = out;
	do {
		ret = xz_dec_run(dec, &b);
		whole = round_down(b.out_pos, TAR_BLOCK);
		if (ret == XZ_STREAM_END)
			whole = b.out_pos;
		if (consume)
			consume(ctx, out, whole);
		*total += whole;
		memmove(out, out + whole, b.out_pos - whole);
		b.out_pos -= whole;
	} while (ret == XZ_OK);

	xz_dec_end(dec);
	return ret;
}

static void markers_bracket_archive(struct kunit *test)
{
	const char *start = kheaders_archive.start;
	const char *end = kheaders_archive.end;

	KUNIT_EXPECT_MEMEQ(test, start - 7, "IKHD_ST", 7);
	KUNIT_EXPECT_MEMEQ(test, end, "IKHD_ED", 7);
	KUNIT_EXPECT_MEMEQ(test, kheaders_archive.md5 - 8, "IKHD_MD5", 8);
	KUNIT_EXPECT_PTR_EQ(test, kheaders_archive.md5 + KHEADERS_MD5_LEN,
			    start - 7);
}

static void size_matches_sysfs(struct kunit *test)
{
	KUNIT_EXPECT_GT(test, archive_size(), 0);
	KUNIT_EXPECT_EQ(test, kheaders_attr.size, archive_size());
}

static void archive_is_xz_stream(struct kunit *test)
{
	static const u8 header_magic[] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };
	const char *end = kheaders_archive.end;
	enum xz_ret ret;
	size_t total;

	KUNIT_ASSERT_GE(test, archive_size(), 32);
	KUNIT_EXPECT_MEMEQ(test, kheaders_archive.start, header_magic,
			   sizeof(header_magic));
	KUNIT_EXPECT_MEMEQ(test, end - 2, "YZ", 2);

	ret = unxz_archive(test, NULL, NULL, &total);
	KUNIT_EXPECT_EQ_MSG(test, ret, XZ_STREAM_END,
			    "lib/xz stopped after %zu bytes", total);
	KUNIT_EXPECT_GT(test, total, archive_size());
}

struct tar_walk {
	struct kunit *test;
	char arch_prefix[64];
	char name[PATH_MAX];
	size_t name_len;
	bool long_name;		/* the data of this entry is the next name */
	u64 data_left;
	char *sample;		/* the content of the current sampled file */
	size_t sample_len;
	unsigned int entries;
	unsigned int zero_blocks;
	bool found[ARRAY_SIZE(required_files)];
	unsigned long version_code;
};

static bool has_suffix(const char *s, const char *suffix)
{
	size_t len = strlen(s), n = strlen(suffix);

	return len >= n && !strcmp(s + len - n, suffix);
}

static bool under(const char *name, const char *dir)
{
	return !strncmp(name, dir, strlen(dir));
}

static void check_no_comment(struct tar_walk *w)
{
	const char *p = w->sample, *end;

	while ((p = strstr(p, "/*"))) {
		end = strstr(p, "*/");
		KUNIT_ASSERT_NOT_NULL_MSG(w->test, end, "%s: open comment",
					  w->name);
		KUNIT_EXPECT_NOT_NULL_MSG(w->test,
					  strnstr(p, "SPDX-License-Identifier",
						  end - p),
					  "%s: comment left: %.40s", w->name, p);
		p = end + 2;
	}
}

static void check_version_h(struct tar_walk *w)
{
	static const char define[] = "#define LINUX_VERSION_CODE ";
	char *p = strstr(w->sample, define);

	KUNIT_ASSERT_NOT_NULL(w->test, p);
	p += strlen(define);
	p[strcspn(p, "\n")] = '\0';
	KUNIT_EXPECT_EQ(w->test, kstrtoul(p, 10, &w->version_code), 0);
}

static void end_entry(struct tar_walk *w)
{
	if (!w->sample)
		return;
	w->sample[w->sample_len] = '\0';
	check_no_comment(w);
	if (!strcmp(w->name, VERSION_H))
		check_version_h(w);
	kvfree(w->sample);
	w->sample = NULL;
}

static void check_entry(struct tar_walk *w, char type)
{
	const char *base = strrchr(w->name, '/');
	int i;

	w->entries++;
	KUNIT_EXPECT_TRUE_MSG(w->test, type == '0' || type == '5',
			      "%s: type %c", w->name, type);
	KUNIT_EXPECT_TRUE_MSG(w->test, under(w->name, "./include/") ||
			      under(w->name, w->arch_prefix),
			      "%s: outside the header directories", w->name);
	KUNIT_EXPECT_FALSE_MSG(w->test, has_suffix(w->name, ".c") ||
			       has_suffix(w->name, ".o") ||
			       (base && base[1] == '.'),
			       "%s: not a header", w->name);

	for (i = 0; i < ARRAY_SIZE(required_files); i++)
		if (!strcmp(w->name, required_files[i]))
			w->found[i] = true;
	for (i = 0; i < ARRAY_SIZE(sampled_files); i++) {
		if (strcmp(w->name, sampled_files[i]))
			continue;
		KUNIT_ASSERT_LT(w->test, w->data_left, SAMPLE_MAX);
		w->sample = kvmalloc(w->data_left + 1, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(w->test, w->sample);
		w->sample_len = 0;
	}
}

static u64 tar_size(struct kunit *test, const u8 *hdr)
{
	char field[13] = {};
	u64 size;

	memcpy(field, hdr + 124, 12);
	field[strcspn(field, " ")] = '\0';
	KUNIT_ASSERT_EQ_MSG(test, kstrtou64(field, 8, &size), 0,
			    "bad tar size field %.12s", field);
	return size;
}

static void tar_header(struct tar_walk *w, const u8 *hdr)
{
	char type = hdr[156];

	if (!memchr_inv(hdr, 0, TAR_BLOCK)) {
		w->zero_blocks++;
		return;
	}
	KUNIT_ASSERT_EQ_MSG(w->test, w->zero_blocks, 0,
			    "entry after the end-of-archive blocks");

	w->data_left = tar_size(w->test, hdr);
	if (type == 'L') {	/* GNU long name: the name is the data */
		KUNIT_ASSERT_LT(w->test, w->data_left, sizeof(w->name));
		w->long_name = true;
		w->name_len = 0;
		return;
	}
	if (!w->long_name)
		strscpy(w->name, (const char *)hdr, 101);
	w->long_name = false;
	check_entry(w, type);
	if (!w->data_left)
		end_entry(w);
}

static void tar_data(struct tar_walk *w, const u8 *block)
{
	size_t n = min_t(u64, w->data_left, TAR_BLOCK);

	if (w->long_name) {
		memcpy(w->name + w->name_len, block, n);
		w->name_len += n;
		w->name[w->name_len] = '\0';
	} else if (w->sample) {
		memcpy(w->sample + w->sample_len, block, n);
		w->sample_len += n;
	}
	w->data_left -= n;
	if (!w->data_left && !w->long_name)
		end_entry(w);
}

static void tar_consume(void *ctx, const u8 *p, size_t len)
{
	struct tar_walk *w = ctx;
	size_t off;

	for (off = 0; off + TAR_BLOCK <= len; off += TAR_BLOCK) {
		if (w->data_left)
			tar_data(w, p + off);
		else
			tar_header(w, p + off);
	}
	KUNIT_EXPECT_EQ_MSG(w->test, off, len, "tar is not whole blocks");
}

static void tar_layout_and_content(struct kunit *test)
{
	struct tar_walk *w;
	enum xz_ret ret;
	size_t total;
	int i;

	w = kunit_kzalloc(test, sizeof(*w), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, w);
	w->test = test;
	snprintf(w->arch_prefix, sizeof(w->arch_prefix), "./arch/%s/include/",
		 KHEADERS_SRCARCH);

	ret = unxz_archive(test, tar_consume, w, &total);
	kvfree(w->sample);
	KUNIT_ASSERT_EQ(test, ret, XZ_STREAM_END);

	KUNIT_EXPECT_GE(test, w->zero_blocks, 2);
	KUNIT_EXPECT_GT(test, w->entries, 100);
	for (i = 0; i < ARRAY_SIZE(required_files); i++)
		KUNIT_EXPECT_TRUE_MSG(test, w->found[i], "%s is missing",
				      required_files[i]);
	KUNIT_EXPECT_EQ(test, w->version_code, kernel_version_code());
}

static void md5_matches_archive(struct kunit *test)
{
	struct crypto_shash *md5;
	u8 digest[MD5_DIGEST_SIZE];
	char hex[KHEADERS_MD5_LEN + 1] = {};
	int err;

	md5 = crypto_alloc_shash("md5", 0, 0);
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(md5), "no md5: %ld",
			       PTR_ERR(md5));
	err = crypto_shash_tfm_digest(md5, kheaders_archive.start,
				      archive_size(), digest);
	crypto_free_shash(md5);
	KUNIT_ASSERT_EQ(test, err, 0);

	bin2hex(hex, digest, sizeof(digest));
	KUNIT_EXPECT_MEMEQ(test, kheaders_archive.md5, hex, KHEADERS_MD5_LEN);
	KUNIT_EXPECT_STREQ(test, strim(show_attr(test, "md5")), hex);
}

static void md5_attr_format(struct kunit *test)
{
	char *text = show_attr(test, "md5");

	KUNIT_EXPECT_EQ(test, strlen(text), KHEADERS_MD5_LEN + 1);
	KUNIT_EXPECT_EQ(test, strspn(text, "0123456789abcdef"),
			KHEADERS_MD5_LEN);
	KUNIT_EXPECT_EQ(test, text[KHEADERS_MD5_LEN], '\n');
}

static void version_code_attr(struct kunit *test)
{
	char expected[16];

	snprintf(expected, sizeof(expected), "%u\n", kernel_version_code());
	KUNIT_EXPECT_STREQ(test, show_attr(test, "version_code"), expected);
}

static void arch_attr(struct kunit *test)
{
	KUNIT_EXPECT_STREQ(test, show_attr(test, "arch"),
			   KHEADERS_SRCARCH "\n");
}

static void read_whole_in_chunks(struct kunit *test)
{
	static const size_t chunks[] = { 1, 511, 4096, 65536, 1 << 20 };
	size_t size = archive_size();
	char *buf;
	ssize_t n;
	loff_t off;
	int i;

	buf = kvmalloc(size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (i = 0; i < ARRAY_SIZE(chunks); i++) {
		memset(buf, 0, size);
		off = 0;
		while ((n = read_archive(buf + off, off,
					 min(chunks[i], size - off))) > 0)
			off += n;
		KUNIT_EXPECT_EQ(test, n, 0);
		KUNIT_EXPECT_EQ(test, off, size);
		KUNIT_EXPECT_TRUE_MSG(test,
				      !memcmp(buf, kheaders_archive.start, size),
				      "chunks of %zu differ", chunks[i]);
	}
	kvfree(buf);
}

static void read_at_offsets(struct kunit *test)
{
	const char *data = kheaders_archive.start;
	size_t size = archive_size();
	char buf[64];

	KUNIT_EXPECT_EQ(test, read_archive(buf, 0, 16), 16);
	KUNIT_EXPECT_MEMEQ(test, buf, data, 16);

	KUNIT_EXPECT_EQ(test, read_archive(buf, size / 2, 16), 16);
	KUNIT_EXPECT_MEMEQ(test, buf, data + size / 2, 16);

	KUNIT_EXPECT_EQ(test, read_archive(buf, size - 1, 1), 1);
	KUNIT_EXPECT_EQ(test, buf[0], data[size - 1]);
}

static void read_straddling_end(struct kunit *test)
{
	const char *data = kheaders_archive.start;
	size_t size = archive_size();
	char buf[64];

	memset(buf, 0, sizeof(buf));
	KUNIT_EXPECT_EQ(test, read_archive(buf, size - 10, sizeof(buf)), 10);
	KUNIT_EXPECT_MEMEQ(test, buf, data + size - 10, 10);
	/* Nothing after the archive, such as the end marker, is read. */
	KUNIT_EXPECT_FALSE(test, memchr_inv(buf + 10, 0, sizeof(buf) - 10));
}

static void read_at_and_past_end(struct kunit *test)
{
	size_t size = archive_size();
	char buf[16];

	KUNIT_EXPECT_EQ(test, read_archive(buf, size, sizeof(buf)), 0);
	KUNIT_EXPECT_EQ(test, read_archive(buf, size + 1, sizeof(buf)), 0);
	KUNIT_EXPECT_EQ(test, read_archive(buf, LLONG_MAX, sizeof(buf)), 0);
	KUNIT_EXPECT_EQ(test, read_archive(buf, 0, 0), 0);
}

static void read_negative_offset(struct kunit *test)
{
	char buf[16];

	KUNIT_EXPECT_EQ(test, read_archive(buf, -1, sizeof(buf)), -EINVAL);
}

static struct kunit_case kheaders_test_cases[] = {
	KUNIT_CASE(markers_bracket_archive),
	KUNIT_CASE(size_matches_sysfs),
	KUNIT_CASE(archive_is_xz_stream),
	KUNIT_CASE(tar_layout_and_content),
	KUNIT_CASE(md5_matches_archive),
	KUNIT_CASE(md5_attr_format),
	KUNIT_CASE(version_code_attr),
	KUNIT_CASE(arch_attr),
	KUNIT_CASE(read_whole_in_chunks),
	KUNIT_CASE(read_at_offsets),
	KUNIT_CASE(read_straddling_end),
	KUNIT_CASE(read_at_and_past_end),
	KUNIT_CASE(read_negative_offset),
	{}
};

static struct kunit_suite kheaders_test_suite = {
	.name = "kheaders",
	.test_cases = kheaders_test_cases,
};

kunit_test_suite(kheaders_test_suite);

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
MODULE_DESCRIPTION("KUnit tests for the in-kernel headers archive");
MODULE_LICENSE("GPL");
