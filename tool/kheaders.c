// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libkheaders: the handle, the sysfs metadata, hashing and version codes.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "internal.h"

int kh_err(struct kheaders *kh, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(kh->err, sizeof(kh->err), fmt, ap);
	va_end(ap);
	return -errnum;
}

int kh_syserr(struct kheaders *kh, int errnum, const char *fmt, ...)
{
	char buf[128];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(kh->err, sizeof(kh->err), fmt, ap);
	va_end(ap);
	n = strlen(kh->err);
	/* The GNU strerror_r(), which may not use @buf. */
	snprintf(kh->err + n, sizeof(kh->err) - n, ": %s",
		 strerror_r(errnum, buf, sizeof(buf)));
	return -errnum;
}

int kh_open_regular(struct kheaders *kh, int dfd, const char *path,
		    int flags, int *fd)
{
	struct stat st;

	/* O_NONBLOCK: opening a fifo must not wait for a writer. */
	*fd = openat(dfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
		     flags);
	if (*fd < 0)
		return kh_syserr(kh, errno, "%s", path);
	if (fstat(*fd, &st) || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return kh_err(kh, EINVAL, "%s is not a regular file", path);
	}
	return 0;
}

void kheaders_set_force(struct kheaders *kh, bool force)
{
	kh->force = force;
}

void kheaders_set_limits(struct kheaders *kh, unsigned long long max_bytes,
			 unsigned long max_entries)
{
	kh->max_bytes = max_bytes ? max_bytes : KHEADERS_MAX_BYTES;
	kh->max_entries = max_entries ? max_entries : KHEADERS_MAX_ENTRIES;
}

struct kheaders *kheaders_new(const char *sysfs)
{
	struct kheaders *kh;
	size_t len;

	kh = calloc(1, sizeof(*kh));
	if (!kh)
		return NULL;
	kh->sysfs = strdup(sysfs && *sysfs ? sysfs : "/sys");
	if (!kh->sysfs) {
		free(kh);
		return NULL;
	}
	kheaders_set_limits(kh, 0, 0);
	/* "/sys/" and "/sys" must give the same paths in messages. */
	len = strlen(kh->sysfs);
	while (len > 1 && kh->sysfs[len - 1] == '/')
		kh->sysfs[--len] = '\0';
	return kh;
}

void kheaders_free(struct kheaders *kh)
{
	if (!kh)
		return;
	free(kh->sysfs);
	free(kh->cache);
	free(kh);
}

const char *kheaders_errmsg(const struct kheaders *kh)
{
	return kh->err;
}

int kheaders_set_cache_dir(struct kheaders *kh, const char *dir)
{
	char *copy = NULL;

	if (dir && !*dir)
		return kh_err(kh, EINVAL, "empty cache directory name");
	if (dir) {
		copy = strdup(dir);
		if (!copy)
			return kh_err(kh, ENOMEM, "out of memory");
	}
	free(kh->cache);
	kh->cache = copy;
	return 0;
}

int kh_sysfs_path(struct kheaders *kh, char *buf, size_t size,
		  const char *rel)
{
	int n = snprintf(buf, size, "%s/%s", kh->sysfs, rel);

	if (n < 0 || (size_t)n >= size)
		return kh_err(kh, ENAMETOOLONG, "%s/%s: path too long",
			      kh->sysfs, rel);
	return 0;
}

int kh_join(struct kheaders *kh, char *buf, const char *dir, const char *name)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= PATH_MAX)
		return kh_err(kh, ENAMETOOLONG, "%s/%s: path too long", dir, name);
	return 0;
}

bool kheaders_available(struct kheaders *kh)
{
	char path[PATH_MAX];

	if (kh_sysfs_path(kh, path, sizeof(path), KH_ARCHIVE))
		return false;
	return access(path, F_OK) == 0;
}

/*
 * Read a one-line sysfs attribute into @buf without its newline.  The
 * attributes are tiny; anything longer than @size is malformed rather
 * than something to be read in pieces.
 */
static int read_attr(struct kheaders *kh, const char *name, char *buf,
		     size_t size)
{
	char rel[64], path[PATH_MAX];
	ssize_t n;
	int fd, err;

	snprintf(rel, sizeof(rel), "%s/%s", KH_ATTR_DIR, name);
	err = kh_sysfs_path(kh, path, sizeof(path), rel);
	if (err)
		return err;
	err = kh_open_regular(kh, AT_FDCWD, path, 0, &fd);
	if (err)
		return err;
	n = read(fd, buf, size);
	err = errno;
	close(fd);
	if (n < 0)
		return kh_syserr(kh, err, "%s", path);
	if (n == 0 || (size_t)n == size || buf[n - 1] != '\n')
		return kh_err(kh, EINVAL, "%s: not a single line", path);
	if (memchr(buf, '\0', n))
		return kh_err(kh, EINVAL, "%s: contains a NUL byte", path);
	buf[n - 1] = '\0';
	return 0;
}

int kh_read_md5(struct kheaders *kh, char md5[KHEADERS_MD5_LEN + 1])
{
	char buf[KHEADERS_MD5_LEN + 2];
	int err, i;

	err = read_attr(kh, "md5", buf, sizeof(buf));
	if (err)
		return err;
	/* It names the cache directory, so it must be exactly this. */
	for (i = 0; buf[i]; i++)
		if (!isdigit((unsigned char)buf[i]) && !(buf[i] >= 'a' && buf[i] <= 'f'))
			break;
	if (i != KHEADERS_MD5_LEN || buf[i])
		return kh_err(kh, EINVAL,
			      "%s/%s/md5: \"%s\" is not 32 lowercase hex digits",
			      kh->sysfs, KH_ATTR_DIR, buf);
	memcpy(md5, buf, KHEADERS_MD5_LEN + 1);
	return 0;
}

int kheaders_md5(struct kheaders *kh, char md5[KHEADERS_MD5_LEN + 1])
{
	return kh_read_md5(kh, md5);
}

int kh_read_arch(struct kheaders *kh, char *arch, size_t size)
{
	char buf[34];
	int err, i;

	err = read_attr(kh, "arch", buf, sizeof(buf));
	if (err)
		return err;
	/* It becomes a path component of allowed archive entries. */
	for (i = 0; buf[i]; i++)
		if (!islower((unsigned char)buf[i]) &&
		    !isdigit((unsigned char)buf[i]) && buf[i] != '_')
			break;
	if (!i || buf[i] || (size_t)i >= size)
		return kh_err(kh, EINVAL, "%s/%s/arch: \"%s\" is not an architecture name",
			      kh->sysfs, KH_ATTR_DIR, buf);
	memcpy(arch, buf, i + 1);
	return 0;
}

/* Parse a decimal unsigned int that fills all of @s. */
static int parse_uint(const char *s, unsigned int *val)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 0xffffffffUL)
		return -EINVAL;
	*val = v;
	return 0;
}

int kheaders_version_code(struct kheaders *kh, unsigned int *code)
{
	char buf[16];
	int err;

	err = read_attr(kh, "version_code", buf, sizeof(buf));
	if (err)
		return err;
	if (parse_uint(buf, code))
		return kh_err(kh, EINVAL, "%s/%s/version_code: \"%s\" is not a number",
			      kh->sysfs, KH_ATTR_DIR, buf);
	return 0;
}

int kh_open_archive(struct kheaders *kh, char path[PATH_MAX], int *fd)
{
	int err;

	err = kh_sysfs_path(kh, path, PATH_MAX, KH_ARCHIVE);
	if (!err)
		err = kh_open_regular(kh, AT_FDCWD, path, 0, fd);
	return err;
}

/* Size of the archive; sysfs gives it in st_size, else count the bytes. */
static int archive_size(struct kheaders *kh, unsigned long long *size)
{
	char path[PATH_MAX], buf[65536];
	struct stat st;
	ssize_t n;
	int fd, err;

	err = kh_open_archive(kh, path, &fd);
	if (err)
		return err;
	err = fstat(fd, &st) ? errno : 0;
	*size = st.st_size;
	while (!err && !st.st_size && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno != EINTR)
			err = errno;
		else if (n > 0)
			*size += n;
	}
	close(fd);
	if (err)
		return kh_syserr(kh, err, "%s", path);
	return 0;
}

int kheaders_get_info(struct kheaders *kh, struct kheaders_info *info)
{
	char path[PATH_MAX];
	int err;

	memset(info, 0, sizeof(*info));
	if (!kheaders_available(kh))
		return kh_err(kh, ENOENT, "%s/%s does not exist",
			      kh->sysfs, KH_ARCHIVE);
	err = kheaders_version_code(kh, &info->version_code);
	if (!err)
		err = kh_read_arch(kh, info->arch, sizeof(info->arch));
	if (!err)
		err = kh_read_md5(kh, info->md5);
	if (!err)
		err = archive_size(kh, &info->size);
	if (!err)
		err = kh_sysfs_path(kh, path, sizeof(path), KH_INITSTATE);
	if (err)
		return err;
	/* Only a loadable module has an initstate; built-in code has not. */
	info->module = access(path, F_OK) == 0;
	return 0;
}

void kh_hex(char out[KHEADERS_MD5_LEN + 1], const unsigned char *md)
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < KHEADERS_MD5_LEN / 2; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 0xf];
	}
	out[KHEADERS_MD5_LEN] = '\0';
}

int kh_md5_fd(int fd, char md5[KHEADERS_MD5_LEN + 1])
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx;
	ssize_t n;
	int err = 0;

	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return -ENOTSUP;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		EVP_DigestUpdate(ctx, buf, n);
	}
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	if (!err)
		kh_hex(md5, md);
	return err;
}

int kheaders_archive_md5(struct kheaders *kh, char md5[KHEADERS_MD5_LEN + 1])
{
	char path[PATH_MAX];
	int fd, err;

	err = kh_open_archive(kh, path, &fd);
	if (err)
		return err;
	err = kh_md5_fd(fd, md5);
	close(fd);
	if (err == -ENOTSUP)
		return kh_err(kh, ENOTSUP, "md5 is not available from libcrypto");
	if (err)
		return kh_syserr(kh, -err, "%s", path);
	return 0;
}

int kheaders_verify(struct kheaders *kh)
{
	char want[KHEADERS_MD5_LEN + 1], got[KHEADERS_MD5_LEN + 1];
	int err;

	if (!kheaders_available(kh))
		return kh_err(kh, ENOENT, "%s/%s does not exist",
			      kh->sysfs, KH_ARCHIVE);
	err = kh_read_md5(kh, want);
	if (!err)
		err = kheaders_archive_md5(kh, got);
	if (err)
		return err;
	if (strcmp(want, got))
		return kh_err(kh, EBADMSG,
			      "%s/%s has md5 %s but %s/%s/md5 says %s",
			      kh->sysfs, KH_ARCHIVE, got, kh->sysfs,
			      KH_ATTR_DIR, want);
	return 0;
}

/* Find "#define LINUX_VERSION_CODE <n>" in the text of version.h. */
static int find_version_code(char *text, unsigned int *code)
{
	static const char key[] = "#define LINUX_VERSION_CODE ";
	char *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, key, sizeof(key) - 1))
			continue;
		return parse_uint(line + sizeof(key) - 1, code);
	}
	return -EINVAL;
}

int kheaders_dir_version_code(struct kheaders *kh, const char *dir,
			      unsigned int *code)
{
	char path[PATH_MAX], text[16384];
	ssize_t n;
	int fd, err;

	err = kh_join(kh, path, dir, KH_VERSION_H);
	if (err)
		return err;
	err = kh_open_regular(kh, AT_FDCWD, path, 0, &fd);
	if (err == -ENOENT)
		return kh_err(kh, ENOENT,
			      "%s does not exist; is %s an unpacked kheaders tree?",
			      path, dir);
	if (err)
		return err;
	n = read(fd, text, sizeof(text) - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return kh_syserr(kh, err, "%s", path);
	text[n] = '\0';
	if (find_version_code(text, code))
		return kh_err(kh, EINVAL, "%s has no valid \"#define LINUX_VERSION_CODE\" line",
			      path);
	return 0;
}

/* Check @dir against its manifest, if it has one. */
static int check_dir(struct kheaders *kh, const char *dir)
{
	int dfd, err = 0;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return kh_syserr(kh, errno, "%s", dir);
	if (!faccessat(dfd, KH_MANIFEST, F_OK, AT_SYMLINK_NOFOLLOW))
		err = kh_check_manifest(kh, dfd, dir);
	close(dfd);
	return err;
}

int kheaders_check_version(struct kheaders *kh, const char *dir)
{
	char cache[PATH_MAX], md5[KHEADERS_MD5_LEN + 1];
	unsigned int want, got;
	int err;

	err = kheaders_version_code(kh, &want);
	if (err)
		return err;
	if (!dir) {
		/* Judge the cache as extract would before trusting it. */
		err = kh_read_md5(kh, md5);
		if (!err)
			err = kheaders_cache_path(kh, cache, sizeof(cache));
		if (!err)
			err = kh_check_entry(kh, cache, md5);
		if (err)
			return err;
		dir = cache;
	} else {
		err = check_dir(kh, dir);
		if (err)
			return err;
	}
	err = kheaders_dir_version_code(kh, dir, &got);
	if (err)
		return err;
	if (got != want)
		return kh_err(kh, ESTALE,
			      "%s/%s has LINUX_VERSION_CODE %u but the running kernel's (%s/%s/version_code) is %u",
			      dir, KH_VERSION_H, got, kh->sysfs, KH_ATTR_DIR,
			      want);
	return 0;
}
