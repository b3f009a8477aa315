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
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

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

ssize_t kh_read_full(struct kheaders *kh, int fd, void *buf, size_t size)
{
	size_t done = 0;
	ssize_t n;

	while (done < size) {
		n = read(fd, (char *)buf + done, size - done);
		if (n < 0 && errno == EINTR && !kh_cancelled(kh))
			continue;
		if (n < 0)
			return errno == EINTR ? -ECANCELED : -errno;
		if (!n)
			break;
		done += n;
	}
	return done;
}

int kh_flock(struct kheaders *kh, int fd, int op)
{
	/*
	 * Best effort: a kernel without CONFIG_FILE_LOCKING (ENOSYS) takes
	 * no lock; then kh_remove_stale() removes nothing, for it cannot
	 * tell an abandoned directory from one in use.
	 */
	while (flock(fd, op) && errno == EINTR)
		if (kh_cancelled(kh))
			return -ECANCELED;
	return 0;
}

void kheaders_set_cancel(struct kheaders *kh, const volatile sig_atomic_t *flag)
{
	kh->cancel = flag;
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

bool kh_has_metadata(struct kheaders *kh)
{
	char path[PATH_MAX];
	struct stat st;

	if (kh_sysfs_path(kh, path, sizeof(path), KH_ATTR_DIR))
		return false;
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

bool kheaders_metadata(struct kheaders *kh)
{
	return kh_has_metadata(kh);
}

int kh_uname_release(struct kheaders *kh, char *release, size_t size)
{
	struct utsname u;

	if (uname(&u))
		return kh_syserr(kh, errno, "uname");
	if (snprintf(release, size, "%s", u.release) >= (int)size)
		return kh_err(kh, EINVAL, "uname -r \"%s\" is too long", u.release);
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
	n = kh_read_full(kh, fd, buf, size);
	close(fd);
	if (n < 0)
		return kh_syserr(kh, -n, "%s", path);
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

int kh_kernel_md5(struct kheaders *kh, char md5[KHEADERS_MD5_LEN + 1])
{
	if (kh_has_metadata(kh))
		return kh_read_md5(kh, md5);
	return kheaders_archive_md5(kh, md5);
}

int kheaders_md5(struct kheaders *kh, char md5[KHEADERS_MD5_LEN + 1])
{
	return kh_kernel_md5(kh, md5);
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

/* Did the scan @s find the version code and the release? */
static int versions_found(struct kheaders *kh, const struct kh_scan *s)
{
	char path[PATH_MAX];

	kh_sysfs_path(kh, path, sizeof(path), KH_ARCHIVE);
	if (!s->has_version_code)
		return kh_err(kh, EINVAL, "%s has no %s with a \"#define LINUX_VERSION_CODE\" line",
			      path, KH_VERSION_H);
	if (!s->has_release)
		return kh_err(kh, EINVAL,
			      "%s has no %s with a \"#define UTS_RELEASE\" line; cannot tell whether it is the running kernel's",
			      path, KH_UTSRELEASE_H);
	return 0;
}

/* The archive's version code and release, for a kernel without metadata. */
static int scan_versions(struct kheaders *kh, struct kh_scan *s)
{
	int err = kh_scan_archive(kh, false, s);

	return err ? err : versions_found(kh, s);
}

int kheaders_version_code(struct kheaders *kh, unsigned int *code)
{
	struct kh_scan s;
	char buf[16];
	int err;

	if (!kh_has_metadata(kh)) {
		err = scan_versions(kh, &s);
		if (!err)
			*code = s.version_code;
		return err;
	}
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
	struct kh_scan s = { 0 };
	char path[PATH_MAX];
	int err;

	memset(info, 0, sizeof(*info));
	if (!kheaders_available(kh))
		return kh_err(kh, ENOENT, "%s/%s does not exist",
			      kh->sysfs, KH_ARCHIVE);
	info->metadata = kh_has_metadata(kh);
	if (info->metadata) {
		err = kheaders_version_code(kh, &info->version_code);
		if (!err)
			err = kh_read_arch(kh, info->arch, sizeof(info->arch));
		if (!err)
			err = kh_read_md5(kh, info->md5);
	} else {
		/* All of it: the arch is whatever arch/<arch>/ it holds. */
		err = kh_scan_archive(kh, true, &s);
		if (!err)
			err = versions_found(kh, &s);
		if (!err)
			err = kheaders_archive_md5(kh, info->md5);
		info->version_code = s.version_code;
		memcpy(info->arch, s.arch, sizeof(info->arch));
		memcpy(info->release, s.release, sizeof(info->release));
	}
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

int kh_md5_fd(struct kheaders *kh, int fd, char md5[KHEADERS_MD5_LEN + 1])
{
	unsigned char buf[65536];
	struct kh_md5 m;
	ssize_t n;

	kh_md5_init(&m);
	while ((n = kh_read_full(kh, fd, buf, sizeof(buf))) > 0)
		kh_md5_update(&m, buf, n);
	if (n < 0)
		return n;
	kh_md5_final(&m, md5);
	return 0;
}

int kheaders_archive_md5(struct kheaders *kh, char md5[KHEADERS_MD5_LEN + 1])
{
	char path[PATH_MAX];
	int fd, err;

	err = kh_open_archive(kh, path, &fd);
	if (err)
		return err;
	err = kh_md5_fd(kh, fd, md5);
	close(fd);
	if (err)
		return kh_syserr(kh, -err, "%s", path);
	return 0;
}

/*
 * Without metadata there is no md5 to compare with: decode all of the
 * archive (xz checks every block) and compare its UTS_RELEASE with the
 * running kernel's.
 */
static int verify_upstream(struct kheaders *kh)
{
	char release[65];
	struct kh_scan s;
	int err;

	err = kh_scan_archive(kh, true, &s);
	if (!err)
		err = versions_found(kh, &s);
	if (!err)
		err = kh_uname_release(kh, release, sizeof(release));
	if (err)
		return err;
	if (strcmp(s.release, release))
		return kh_err(kh, ESTALE,
			      "%s/%s has UTS_RELEASE \"%s\" but the running kernel is \"%s\" (uname -r)",
			      kh->sysfs, KH_ARCHIVE, s.release, release);
	return 0;
}

int kheaders_verify(struct kheaders *kh)
{
	char want[KHEADERS_MD5_LEN + 1], got[KHEADERS_MD5_LEN + 1];
	int err;

	if (!kheaders_available(kh))
		return kh_err(kh, ENOENT, "%s/%s does not exist",
			      kh->sysfs, KH_ARCHIVE);
	if (!kh_has_metadata(kh))
		return verify_upstream(kh);
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

int kh_parse_version_code(const char *text, unsigned int *code)
{
	static const char key[] = "#define LINUX_VERSION_CODE ";
	const char *line;
	char num[16];
	size_t n;

	for (line = text; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, key, sizeof(key) - 1))
			continue;
		line += sizeof(key) - 1;
		n = strcspn(line, "\n");
		if (n >= sizeof(num))
			return -EINVAL;
		memcpy(num, line, n);
		num[n] = '\0';
		return parse_uint(num, code);
	}
	return -EINVAL;
}

int kh_parse_release(const char *text, char *release, size_t size)
{
	static const char key[] = "#define UTS_RELEASE \"";
	const char *line, *end;
	size_t n, i;

	for (line = text; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, key, sizeof(key) - 1))
			continue;
		line += sizeof(key) - 1;
		end = strchr(line, '"');
		n = end ? (size_t)(end - line) : 0;
		if (!n || n >= size)
			return -EINVAL;
		for (i = 0; i < n; i++)
			if (!isgraph((unsigned char)line[i]))
				return -EINVAL;
		memcpy(release, line, n);
		release[n] = '\0';
		return 0;
	}
	return -EINVAL;
}

/* The text of the small file @rel of @dir in @text; -ENOENT if absent. */
static int read_small(struct kheaders *kh, const char *dir, const char *rel,
		      char *text, size_t size, char path[PATH_MAX])
{
	ssize_t n;
	int fd, err;

	err = kh_join(kh, path, dir, rel);
	if (err)
		return err;
	err = kh_open_regular(kh, AT_FDCWD, path, 0, &fd);
	if (err)
		return err;
	n = kh_read_full(kh, fd, text, size - 1);
	close(fd);
	if (n < 0)
		return kh_syserr(kh, -n, "%s", path);
	text[n] = '\0';
	return 0;
}

int kheaders_dir_version_code(struct kheaders *kh, const char *dir,
			      unsigned int *code)
{
	char path[PATH_MAX], text[KH_SMALL_FILE];
	int err;

	err = read_small(kh, dir, KH_VERSION_H, text, sizeof(text), path);
	if (err == -ENOENT)
		return kh_err(kh, ENOENT,
			      "%s does not exist; is %s an unpacked kheaders tree?",
			      path, dir);
	if (err)
		return err;
	if (kh_parse_version_code(text, code))
		return kh_err(kh, EINVAL, "%s has no valid \"#define LINUX_VERSION_CODE\" line",
			      path);
	return 0;
}

/* Is @dir's UTS_RELEASE, if it has utsrelease.h, the running kernel's? */
static int check_release(struct kheaders *kh, const char *dir)
{
	char path[PATH_MAX], text[KH_SMALL_FILE], got[65], want[65];
	int err;

	err = read_small(kh, dir, KH_UTSRELEASE_H, text, sizeof(text), path);
	if (err == -ENOENT)
		return 0;
	if (!err && kh_parse_release(text, got, sizeof(got)))
		err = kh_err(kh, EINVAL, "%s has no valid \"#define UTS_RELEASE\" line",
			     path);
	if (!err)
		err = kh_uname_release(kh, want, sizeof(want));
	if (!err && strcmp(got, want))
		err = kh_err(kh, ESTALE,
			     "%s has UTS_RELEASE \"%s\" but the running kernel is \"%s\" (uname -r)",
			     path, got, want);
	return err;
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
		err = kh_kernel_md5(kh, md5);
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
	if (got != want && kh_has_metadata(kh))
		return kh_err(kh, ESTALE,
			      "%s/%s has LINUX_VERSION_CODE %u but the running kernel's (%s/%s/version_code) is %u",
			      dir, KH_VERSION_H, got, kh->sysfs, KH_ATTR_DIR,
			      want);
	if (got != want)
		return kh_err(kh, ESTALE,
			      "%s/%s has LINUX_VERSION_CODE %u but the running kernel's (the version.h of %s/%s) is %u",
			      dir, KH_VERSION_H, got, kh->sysfs, KH_ARCHIVE,
			      want);
	return check_release(kh, dir);
}
