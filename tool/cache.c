// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libkheaders: where the cache is, and whether a directory can be trusted.
 *
 * CVE-2024-2314 (bcc) and CVE-2024-2313 (bpftrace): both reused
 * /tmp/kheaders-<release> whoever had made it, so a local user could
 * plant headers that root then compiled into BPF programs.  Here a
 * directory is used only when nobody but the caller and root can have
 * written to it or to any directory above it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int kh_cache_base(struct kheaders *kh, char *buf, size_t size)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	if (kh->cache)
		n = snprintf(buf, size, "%s", kh->cache);
	else if (geteuid() == 0)
		n = snprintf(buf, size, "/var/cache/kheaders");
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, size, "%s/kheaders", xdg);	/* spec: absolute only */
	else if (home && home[0] == '/')
		n = snprintf(buf, size, "%s/.cache/kheaders", home);
	else
		return kh_err(kh, EINVAL,
			      "no cache directory: neither XDG_CACHE_HOME nor HOME is set to an absolute path (HOME=%s%s%s); set one or choose a cache directory",
			      home ? "\"" : "", home ? home : "(unset)",
			      home ? "\"" : "");
	if (n < 0 || (size_t)n >= size)
		return kh_err(kh, ENAMETOOLONG, "cache directory name too long");
	/* Trailing slashes would give "base//md5" and fool dirname(). */
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	return 0;
}

int kheaders_cache_path(struct kheaders *kh, char *buf, size_t size)
{
	char base[PATH_MAX], md5[KHEADERS_MD5_LEN + 1];
	int err, n;

	err = kh_kernel_md5(kh, md5);
	if (!err)
		err = kh_cache_base(kh, base, sizeof(base));
	if (err)
		return err;
	n = snprintf(buf, size, "%s/%s", base, md5);
	if (n < 0 || (size_t)n >= size)
		return kh_err(kh, ENAMETOOLONG, "%s/%s: path too long", base, md5);
	return 0;
}

/*
 * May @path, an ancestor of the directory we want to use, be trusted?
 * Whoever can write to an ancestor can rename our directory away and put
 * their own in its place, so it must be owned by us or root and be
 * writable by neither group nor others.  The one exception is a sticky
 * directory of root's (such as /tmp) or ours: others may add entries
 * there but cannot rename or remove ours, and what lies below must still
 * pass these checks.  Group-writable is refused even for our own
 * "user private group": we cannot tell who else is in a group.
 */
static int trusted_ancestor(struct kheaders *kh, const char *path,
			    const struct stat *st)
{
	if (st->st_uid != geteuid() && st->st_uid != 0)
		return kh_err(kh, EPERM,
			      "%s is owned by uid %u, neither you nor root; refusing to use a directory below it",
			      path, (unsigned int)st->st_uid);
	if ((st->st_mode & 0022) &&
	    !(st->st_mode & S_ISVTX))
		return kh_err(kh, EPERM,
			      "%s is writable by group or others (mode %04o); refusing to use a directory below it",
			      path, (unsigned int)(st->st_mode & 07777));
	return 0;
}

/* The directory itself must be ours and writable by nobody else. */
static int trusted_own(struct kheaders *kh, const char *path,
		       const struct stat *st)
{
	if (st->st_uid != geteuid())
		return kh_err(kh, EPERM,
			      "%s is owned by uid %u, not by you (uid %u); refusing to use or remove it",
			      path, (unsigned int)st->st_uid,
			      (unsigned int)geteuid());
	if (st->st_mode & 0022)
		return kh_err(kh, EPERM,
			      "%s is writable by group or others (mode %04o); refusing to use it",
			      path, (unsigned int)(st->st_mode & 07777));
	return 0;
}

static int lstat_dir(struct kheaders *kh, const char *path, struct stat *st)
{
	if (lstat(path, st))
		return kh_syserr(kh, errno, "%s", path);
	if (S_ISLNK(st->st_mode))
		return kh_err(kh, EPERM, "%s is a symbolic link; refusing to follow it",
			      path);
	if (!S_ISDIR(st->st_mode))
		return kh_err(kh, ENOTDIR, "%s is not a directory", path);
	return 0;
}

/*
 * Check @real, an absolute path without symlinks (from realpath()),
 * from "/" down; with @own, @real itself must be ours, else it is only
 * an ancestor of what we will create.  Symbolic links met here mean the
 * tree changed since realpath() and are refused, not followed.
 */
int kh_trusted_path(struct kheaders *kh, const char *real, bool own)
{
	char path[PATH_MAX];
	struct stat st;
	size_t i, len = strlen(real);
	int err;

	if (real[0] != '/' || len >= sizeof(path))
		return kh_err(kh, EINVAL, "%s: not an absolute path", real);
	memcpy(path, real, len + 1);
	if (len > 1) {
		err = lstat_dir(kh, "/", &st);
		if (!err)
			err = trusted_ancestor(kh, "/", &st);
		if (err)
			return err;
	}
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		err = lstat_dir(kh, path, &st);
		if (!err && (i < len || !own))
			err = trusted_ancestor(kh, path, &st);
		else if (!err)
			err = trusted_own(kh, path, &st);
		if (err)
			return err;
		if (i < len)
			path[i] = '/';
	}
	return 0;
}

/* Split @path into its directory, which is returned, and its last name. */
static const char *split_parent(char *path, char *parent, size_t size)
{
	char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(parent, size, ".");
	else if (slash == path)
		snprintf(parent, size, "/");
	else
		snprintf(parent, size, "%.*s", (int)(slash - path), path);
	return slash ? slash + 1 : path;
}

/*
 * mkdir -p with mode 0700, but create nothing inside a directory that
 * would then be refused: we don't leave litter in other users' places.
 */
static int make_dirs(struct kheaders *kh, const char *path)
{
	char copy[PATH_MAX], parent[PATH_MAX], real[PATH_MAX];
	struct stat st;
	int err;

	if (!stat(path, &st))
		return S_ISDIR(st.st_mode) ? 0 :
		       kh_err(kh, ENOTDIR, "%s is not a directory", path);
	if (errno != ENOENT)
		return kh_syserr(kh, errno, "%s", path);
	/* Creating where a dangling link points would go anywhere. */
	if (!lstat(path, &st) && S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(path, real, sizeof(real) - 1);

		real[n < 0 ? 0 : n] = '\0';
		return kh_err(kh, ENOENT,
			      "%s is a symbolic link to %s, which does not exist; refusing to create it",
			      path, real);
	}
	snprintf(copy, sizeof(copy), "%s", path);
	split_parent(copy, parent, sizeof(parent));
	err = make_dirs(kh, parent);
	if (err)
		return err;
	if (!realpath(parent, real))
		return kh_syserr(kh, errno, "%s", parent);
	err = kh_trusted_path(kh, real, false);
	if (err)
		return err;
	if (mkdir(path, 0700) && errno != EEXIST)
		return kh_syserr(kh, errno, "cannot create %s", path);
	return 0;
}

int kh_prepare_base(struct kheaders *kh, const char *base, char *real,
		    size_t size)
{
	char buf[PATH_MAX];
	size_t len;
	int err;

	err = make_dirs(kh, base);
	if (err)
		return err;
	/*
	 * From here on only the resolved name is used, so a symlink on
	 * the way that someone swaps later cannot redirect us.
	 */
	if (!realpath(base, buf))
		return kh_syserr(kh, errno, "%s", base);
	len = strlen(buf);
	if (len >= size)
		return kh_err(kh, ENAMETOOLONG, "%s: path too long", buf);
	memcpy(real, buf, len + 1);
	return kh_trusted_path(kh, real, true);
}

/* Is the md5 recorded in the directory open as @dfd the expected one? */
static int check_md5_file(struct kheaders *kh, int dfd, const char *path,
			  const char *md5)
{
	char buf[KHEADERS_MD5_LEN + 2];
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = openat(dfd, KHEADERS_MD5_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kh_err(kh, EPERM,
			      "%s has no readable %s, so it was not made (or not finished) by kheaders; refusing to use it",
			      path, KHEADERS_MD5_FILE);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
		err = kh_err(kh, EPERM, "%s/%s is not a regular file of yours; refusing to use %s",
			     path, KHEADERS_MD5_FILE, path);
	n = err ? 0 : kh_read_full(kh, fd, buf, sizeof(buf));
	close(fd);
	if (err)
		return err;
	if (n != KHEADERS_MD5_LEN + 1 || buf[KHEADERS_MD5_LEN] != '\n' ||
	    memcmp(buf, md5, KHEADERS_MD5_LEN))
		return kh_err(kh, EPERM,
			      "%s/%s does not record md5 %s of the running kernel's archive; refusing to use %s",
			      path, KHEADERS_MD5_FILE, md5, path);
	return 0;
}

static int check_entry(struct kheaders *kh, const char *path, const char *md5)
{
	char copy[PATH_MAX], parent[PATH_MAX], real[PATH_MAX];
	struct stat st, fst;
	int dfd, err;

	snprintf(copy, sizeof(copy), "%s", path);
	split_parent(copy, parent, sizeof(parent));
	if (!realpath(parent, real)) {
		if (errno == ENOENT)
			return kh_err(kh, ENOENT,
				      "%s does not exist; run \"kheaders extract\" first",
				      path);
		return kh_syserr(kh, errno, "%s", parent);
	}
	err = kh_trusted_path(kh, real, true);
	if (err)
		return err;
	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return kh_err(kh, ENOENT,
				      "%s does not exist; run \"kheaders extract\" first",
				      path);
		return kh_syserr(kh, errno, "%s", path);
	}
	if (S_ISLNK(st.st_mode))
		return kh_err(kh, EPERM,
			      "%s is a symbolic link, not a directory made by kheaders; refusing to use or remove it",
			      path);
	if (!S_ISDIR(st.st_mode))
		return kh_err(kh, EPERM, "%s is not a directory; refusing to use or remove it",
			      path);
	err = trusted_own(kh, path, &st);
	if (err)
		return err;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return kh_syserr(kh, errno, "%s", path);
	/* What we opened must be what we checked. */
	if (fstat(dfd, &fst) || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino)
		err = kh_err(kh, EPERM, "%s changed while it was checked", path);
	else
		err = check_md5_file(kh, dfd, path, md5);
	if (!err)
		err = kh_check_manifest(kh, dfd, path);
	close(dfd);
	return err;
}

/*
 * An entry that looks damaged or missing may be one that another run is
 * replacing (--force, or repairing it) right now: that run holds an
 * exclusive flock(2) on the cache base while it swaps the trees and
 * removes the old one.  So look again while holding a shared lock.
 */
int kh_check_entry(struct kheaders *kh, const char *path, const char *md5)
{
	char copy[PATH_MAX], parent[PATH_MAX];
	int err, pfd;

	err = check_entry(kh, path, md5);
	if (err != -EUCLEAN && err != -ENOENT)
		return err;
	snprintf(copy, sizeof(copy), "%s", path);
	split_parent(copy, parent, sizeof(parent));
	/* Only to lock it: the check itself trusts no name. */
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return err;
	if (!kh_flock(kh, pfd, LOCK_SH))
		err = check_entry(kh, path, md5);
	close(pfd);
	return err;
}

/* Does the file @rel in @dfd have @size bytes (and, with @md5, that md5)? */
static int check_file(struct kheaders *kh, int dfd, const char *dir,
		      const char *rel, unsigned long long size,
		      const char *md5)
{
	char got[KHEADERS_MD5_LEN + 1];
	struct stat st;
	int fd, err;

	if (fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno == ENOENT)
			return kh_err(kh, EUCLEAN, "%s/%s does not exist; %s is damaged",
				      dir, rel, dir);
		return kh_syserr(kh, errno, "%s/%s", dir, rel);
	}
	if (!S_ISREG(st.st_mode) || (unsigned long long)st.st_size != size)
		return kh_err(kh, EUCLEAN,
			      "%s/%s is not a file of %llu bytes as unpacked; %s is damaged",
			      dir, rel, size, dir);
	if (!md5)
		return 0;
	fd = openat(dfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kh_syserr(kh, errno, "%s/%s", dir, rel);
	err = kh_md5_fd(kh, fd, got);
	close(fd);
	if (err)
		return kh_syserr(kh, -err, "%s/%s", dir, rel);
	if (strcmp(got, md5))
		return kh_err(kh, EUCLEAN,
			      "%s/%s has md5 %s, not %s as unpacked; %s is damaged",
			      dir, rel, got, md5, dir);
	return 0;
}

/* Is @rel one of the key files?  Returns its index or -1. */
static int key_file(const char *rel)
{
	int i;

	for (i = 0; i < KH_KEY_FILES; i++)
		if (!strcmp(rel, kh_key_files[i]))
			return i;
	return -1;
}

/*
 * Check the tree open as @dfd against the manifest that extract wrote
 * last: lines of "<md5> <size> <name>".  Every file must exist with its
 * size; the key files, which tools read first, must also have their md5.
 * Hashing everything would cost as much as unpacking again.
 */
int kh_check_manifest(struct kheaders *kh, int dfd, const char *path)
{
	char *text = NULL, *line, *next, *end;
	unsigned long long size;
	unsigned int keys = 0;
	struct stat st;
	ssize_t n = 0;
	int fd, err, i;

	fd = openat(dfd, KH_MANIFEST, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return kh_err(kh, EUCLEAN, "%s: no %s: damaged, or made by an older kheaders",
			      path, KH_MANIFEST);
	if (fd < 0)
		return kh_syserr(kh, errno, "%s/%s", path, KH_MANIFEST);
	err = fstat(fd, &st) ? -errno : 0;
	if (!err && (!S_ISREG(st.st_mode) || st.st_size > 64 << 20))
		err = -EUCLEAN;
	if (!err)
		text = malloc(st.st_size + 1);
	if (!err && !text)
		err = -ENOMEM;
	if (!err)
		n = kh_read_full(kh, fd, text, st.st_size);
	if (!err && n < 0)
		err = n;
	else if (!err && n != st.st_size)
		err = -EUCLEAN;
	close(fd);
	if (err) {
		free(text);
		return kh_err(kh, -err, "%s/%s cannot be read; %s is damaged",
			      path, KH_MANIFEST, path);
	}
	text[n] = '\0';
	for (line = text; !err && *line; line = next) {
		next = strchr(line, '\n');
		if (!next)
			break;
		*next++ = '\0';
		if (strlen(line) < KHEADERS_MD5_LEN + 4 ||
		    line[KHEADERS_MD5_LEN] != ' ')
			break;
		size = strtoull(line + KHEADERS_MD5_LEN + 1, &end, 10);
		if (*end != ' ')
			break;
		line[KHEADERS_MD5_LEN] = '\0';
		i = key_file(end + 1);
		if (i >= 0)
			keys |= 1U << i;
		err = check_file(kh, dfd, path, end + 1, size,
				 i >= 0 ? line : NULL);
	}
	if (!err && (*line || keys != (1U << KH_KEY_FILES) - 1))
		err = kh_err(kh, EUCLEAN, "%s/%s is malformed; %s is damaged",
			     path, KH_MANIFEST, path);
	free(text);
	return err;
}

/*
 * Empty the directory open as @dfd: every name is removed relative to a
 * descriptor, never through a path, and symbolic links are removed, not
 * followed, so a name swapped meanwhile cannot redirect us.  Depth is
 * bounded by the archive checks (KH_MAX_DEPTH).
 */
int kh_empty_dir(int dfd)
{
	struct dirent *d;
	int fd, err = 0;
	DIR *dp;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dp = fd < 0 ? NULL : fdopendir(fd);
	if (!dp) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		return err;
	}
	while ((d = readdir(dp))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (!unlinkat(dfd, d->d_name, 0))
			continue;
		if (errno != EISDIR) {
			err = -errno;
			continue;
		}
		if (kh_remove_at(dfd, d->d_name))
			err = -errno;
	}
	closedir(dp);
	return err;
}

/* Remove the directory @name in @dfd and all it holds; sets errno. */
int kh_remove_at(int dfd, const char *name)
{
	int fd, err;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	err = kh_empty_dir(fd);
	close(fd);
	if (err) {
		errno = -err;
		return -1;
	}
	return unlinkat(dfd, name, AT_REMOVEDIR);
}

/*
 * Remove the temporary directories that killed runs left in the cache
 * base open as @dfd.  A live run holds an flock(2) on its own, taken
 * while it held one on the base, which our caller holds now; so what we
 * can lock is abandoned.  Only our own are touched, and none on a kernel
 * without file locking.
 */
void kh_remove_stale(int dfd)
{
	struct dirent *d;
	struct stat st;
	int fd;
	DIR *dp;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dp = fd < 0 ? NULL : fdopendir(fd);
	if (!dp) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((d = readdir(dp))) {
		if (strncmp(d->d_name, KH_TMP_PREFIX, strlen(KH_TMP_PREFIX)))
			continue;
		fd = openat(dfd, d->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!fstat(fd, &st) && st.st_uid == geteuid() &&
		    !flock(fd, LOCK_EX | LOCK_NB) && !kh_empty_dir(fd))
			unlinkat(dfd, d->d_name, AT_REMOVEDIR);
		close(fd);
	}
	closedir(dp);
}
