// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libkheaders: unpack the archive into a private temporary directory,
 * checking every entry before it is written, then rename it into place.
 *
 * Only directories and regular files are ever written, so we write them
 * ourselves, relative to directory file descriptors and with O_NOFOLLOW,
 * instead of through libarchive's archive_write_disk: that needs the
 * working directory (a process-wide thing) to refuse absolute names, and
 * hides the errno of a full disk.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "internal.h"

/* No kernel header is more than 10 directories deep. */
#define KH_MAX_DEPTH	32

const char *const kh_key_files[KH_KEY_FILES] = {
	KH_VERSION_H,
	"include/linux/kconfig.h",
	"include/generated/autoconf.h",
};

/* One extraction: the archive as libarchive reads it, hashed on the way. */
struct unpack {
	struct kheaders *kh;
	int fd;			/* the archive */
	int dfd;		/* the temporary directory */
	const char *path;	/* the archive, for messages */
	const char *target;	/* what the tree will be, for messages */
	const char *arch;
	EVP_MD_CTX *md;		/* of the archive */
	EVP_MD_CTX *file_md;	/* of the file being written */
	unsigned long long bytes;
	unsigned long entries;
	unsigned int keys;	/* bit i: kh_key_files[i] seen */
	char *manifest;
	size_t len, size;
	char buf[65536];
};

static la_ssize_t source_read(struct archive *a, void *data,
			      const void **buf)
{
	struct unpack *u = data;
	ssize_t n;

	do
		n = read(u->fd, u->buf, sizeof(u->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read error");
		return -1;
	}
	EVP_DigestUpdate(u->md, u->buf, n);
	*buf = u->buf;
	return n;
}

/* Hash what libarchive left unread after the end of the tar data. */
static int source_finish(struct unpack *u, char md5[KHEADERS_MD5_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	ssize_t n;

	while ((n = read(u->fd, u->buf, sizeof(u->buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		EVP_DigestUpdate(u->md, u->buf, n);
	}
	EVP_DigestFinal_ex(u->md, md, NULL);
	kh_hex(md5, md);
	return 0;
}

static const char *type_name(mode_t type)
{
	switch (type) {
	case AE_IFLNK:	return "a symbolic link";
	case AE_IFCHR:	return "a character device";
	case AE_IFBLK:	return "a block device";
	case AE_IFIFO:	return "a fifo";
	case AE_IFSOCK:	return "a socket";
	default:	return "of an unknown type";
	}
}

/*
 * Is every component of @rel (without its "./") a plain name?  Empty,
 * "." and ".." components are refused, and so are control characters,
 * which no kernel header has and which would garble our messages.
 */
static const char *bad_name(const char *rel, size_t len)
{
	size_t i, start = 0;
	int depth = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && rel[i] != '/') {
			if ((unsigned char)rel[i] < 0x20 || rel[i] == 0x7f)
				return "a control character";
			continue;
		}
		if (i == start)
			return "an empty path component";
		if (i - start == 1 && rel[start] == '.')
			return "a \".\" component";
		if (i - start == 2 && !strncmp(rel + start, "..", 2))
			return "a \"..\" component";
		if (++depth > KH_MAX_DEPTH)
			return "too many components";
		start = i + 1;
	}
	return NULL;
}

/* Does @rel (length @len) equal @dir or lie below it? */
static int under(const char *rel, size_t len, const char *dir)
{
	size_t n = strlen(dir);

	return len >= n && !strncmp(rel, dir, n) &&
	       (len == n || rel[n] == '/');
}

/*
 * Only what the kernel puts in the archive is allowed: directories and
 * regular files under include/ and arch/<arch>/include/, and the
 * directories leading there, within the limits.  Returns 0 to write the
 * entry, 1 to skip it (the top directory, which is our temporary
 * directory), or -EPERM.  @rel is set to the name without "./" and '/'.
 */
static int check_entry(struct unpack *u, struct archive_entry *e,
		       char rel[PATH_MAX])
{
	const char *name = archive_entry_pathname(e), *why;
	struct kheaders *kh = u->kh;
	mode_t type = archive_entry_filetype(e);
	char archdir[64], archinc[80];
	size_t len;

	if (!name || !*name)
		return kh_err(kh, EPERM, "archive entry without a name refused");
	if (archive_entry_hardlink(e))
		return kh_err(kh, EPERM, "archive entry %s refused: a hard link to %s",
			      name, archive_entry_hardlink(e));
	if (archive_entry_symlink(e) || (type != AE_IFDIR && type != AE_IFREG))
		return kh_err(kh, EPERM, "archive entry %s refused: %s",
			      name, type_name(type));
	if (name[0] == '/')
		return kh_err(kh, EPERM, "archive entry %s refused: an absolute path",
			      name);
	if (!strncmp(name, "./", 2))
		name += 2;
	len = strlen(name);
	/* GNU tar ends directory names with '/'. */
	if (len && name[len - 1] == '/' && type == AE_IFDIR)
		len--;
	if (!len && type == AE_IFDIR)
		return 1;
	/* The tree's users open <target>/<rel>, which must fit PATH_MAX. */
	if (len + strlen(u->target) + 1 >= PATH_MAX)
		return kh_err(kh, EPERM,
			      "archive entry %.64s... refused: its name (%zu bytes) would not fit in PATH_MAX below %s",
			      name, len, u->target);
	memcpy(rel, name, len);
	rel[len] = '\0';
	why = bad_name(rel, len);
	if (why)
		return kh_err(kh, EPERM, "archive entry %s refused: it has %s",
			      archive_entry_pathname(e), why);
	if (++u->entries > u->kh->max_entries)
		return kh_err(kh, EPERM,
			      "archive entry %s refused: the archive has more than %lu entries (the limit)",
			      rel, kh->max_entries);
	if (type == AE_IFREG) {
		u->bytes += archive_entry_size(e);
		if (archive_entry_size(e) < 0 || u->bytes > kh->max_bytes)
			return kh_err(kh, EPERM,
				      "archive entry %s refused: the archive unpacks to more than %llu bytes (the limit)",
				      rel, kh->max_bytes);
	}
	snprintf(archdir, sizeof(archdir), "arch/%s", u->arch);
	snprintf(archinc, sizeof(archinc), "arch/%s/include", u->arch);
	if (under(rel, len, "include") || under(rel, len, archinc))
		return 0;
	if (type == AE_IFDIR && (!strcmp(rel, "arch") || !strcmp(rel, archdir)))
		return 0;
	return kh_err(kh, EPERM,
		      "archive entry %s refused: outside include/ and arch/%s/include/",
		      archive_entry_pathname(e), u->arch);
}

/*
 * Open the directory that holds @rel, creating the directories on the
 * way; @rel is cut at its last '/', and *@name set to its last name.
 */
static int open_parent(struct unpack *u, char *rel, const char **name)
{
	char *p = rel, *slash;
	int fd = u->dfd, sub;

	while ((slash = strchr(p, '/'))) {
		*slash = '\0';
		if (mkdirat(fd, p, 0755) && errno != EEXIST)
			sub = -1;
		else
			sub = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				     O_CLOEXEC);
		*slash = '/';
		if (fd != u->dfd)
			close(fd);
		if (sub < 0)
			return kh_syserr(u->kh, errno, "%s: cannot create %.*s",
					 u->target, (int)(slash - rel), rel);
		fd = sub;
		p = slash + 1;
	}
	*name = p;
	return fd;
}

static int add_manifest(struct unpack *u, const char *rel,
			unsigned long long size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t need = strlen(rel) + KHEADERS_MD5_LEN + 24;
	char *p;

	if (u->len + need > u->size) {
		u->size = 2 * u->size + need;
		p = realloc(u->manifest, u->size);
		if (!p)
			return kh_err(u->kh, ENOMEM, "out of memory");
		u->manifest = p;
	}
	EVP_DigestFinal_ex(u->file_md, md, NULL);
	kh_hex(u->manifest + u->len, md);
	u->len += KHEADERS_MD5_LEN;
	u->len += sprintf(u->manifest + u->len, " %llu %s\n", size, rel);
	return 0;
}

/* Write the data of the regular file @e to @fd, at the offsets given. */
static int write_data(struct unpack *u, struct archive *a,
		      struct archive_entry *e, int fd, const char *rel)
{
	unsigned long long size = archive_entry_size(e);
	const char *buf;
	size_t len;
	la_int64_t offset;
	ssize_t n;
	int r;

	EVP_DigestInit_ex(u->file_md, EVP_md5(), NULL);
	while ((r = archive_read_data_block(a, (const void **)&buf, &len,
					    &offset)) == ARCHIVE_OK) {
		if (offset < 0 || offset + len > size)
			return kh_err(u->kh, EIO, "cannot decode %s at %s: data beyond its size",
				      u->path, rel);
		/* Sparse files: the holes are zeros too. */
		if (len)
			EVP_DigestUpdate(u->file_md, buf, len);
		while (len) {
			n = pwrite(fd, buf, len, offset);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return kh_syserr(u->kh, errno, "%s: cannot write %s",
						 u->target, rel);
			buf += n;
			len -= n;
			offset += n;
		}
	}
	if (r != ARCHIVE_EOF)
		return kh_err(u->kh, EIO, "cannot decode %s at %s: %s", u->path,
			      rel, archive_error_string(a));
	if (ftruncate(fd, size))
		return kh_syserr(u->kh, errno, "%s: cannot write %s", u->target,
				 rel);
	return add_manifest(u, rel, size);
}

/* Create the checked entry @e, named @rel, with its data. */
static int write_entry(struct unpack *u, struct archive *a,
		       struct archive_entry *e, char *rel)
{
	struct timespec times[2] = {
		{ .tv_nsec = UTIME_OMIT },
		{ archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
	};
	const char *name = NULL;
	int i, pfd, fd, err = 0;

	pfd = open_parent(u, rel, &name);
	if (pfd < 0)
		return pfd;
	if (archive_entry_filetype(e) == AE_IFDIR) {
		/* Modes from the archive are not trusted. */
		if (mkdirat(pfd, name, 0755) && errno != EEXIST)
			err = kh_syserr(u->kh, errno, "%s: cannot create %s",
					u->target, rel);
		goto out;
	}
	fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
	if (fd < 0 && errno == EEXIST) {
		err = kh_err(u->kh, EPERM, "archive entry %s refused: it is there twice",
			     rel);
		goto out;
	}
	if (fd < 0) {
		err = kh_syserr(u->kh, errno, "%s: cannot create %s", u->target,
				rel);
		goto out;
	}
	err = write_data(u, a, e, fd, rel);
	futimens(fd, times);
	if (close(fd) && !err)
		err = kh_syserr(u->kh, errno, "%s: cannot write %s", u->target,
				rel);
	for (i = 0; i < KH_KEY_FILES; i++)
		if (!strcmp(rel, kh_key_files[i]))
			u->keys |= 1U << i;
out:
	if (pfd != u->dfd)
		close(pfd);
	return err;
}

/* Read, check and write every entry. */
static int unpack_entries(struct unpack *u, struct archive *a)
{
	struct archive_entry *e;
	char rel[PATH_MAX];
	int i, r, err;

	for (;;) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		/* Warnings too: the kernel's archive never causes one. */
		if (r != ARCHIVE_OK)
			return kh_err(u->kh, EIO, "cannot decode %s: %s", u->path,
				      archive_error_string(a));
		err = check_entry(u, e, rel);
		if (err == 1)
			continue;
		if (!err)
			err = write_entry(u, a, e, rel);
		if (err)
			return err;
	}
	for (i = 0; i < KH_KEY_FILES; i++)
		if (!(u->keys & (1U << i)))
			return kh_err(u->kh, EPERM,
				      "%s refused: it has no %s, so it holds no kernel headers that tools can use",
				      u->path, kh_key_files[i]);
	return 0;
}

/* Create @name in the temporary directory with @len bytes of @text. */
static int write_file(struct unpack *u, const char *name, const char *text,
		      size_t len)
{
	ssize_t n = -1;
	int fd;

	fd = openat(u->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
	while (fd >= 0 && len) {
		n = write(fd, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		text += n;
		len -= n;
	}
	if (fd < 0 || (n < 0 && len) || close(fd))
		return kh_syserr(u->kh, errno, "%s: cannot write %s", u->target,
				 name);
	return 0;
}

/*
 * Unpack, check that the archive did not change meanwhile, then write
 * the manifest and last the md5 file, which marks the tree complete.
 */
static int unpack(struct unpack *u, const char *md5)
{
	struct kheaders *kh = u->kh;
	char got[KHEADERS_MD5_LEN + 1], line[KHEADERS_MD5_LEN + 2];
	struct archive *a;
	int err;

	a = archive_read_new();
	if (!a)
		return kh_err(kh, ENOMEM, "out of memory");
	archive_read_support_filter_xz(a);
	archive_read_support_format_tar(a);
	if (archive_read_open(a, u, NULL, source_read, NULL) != ARCHIVE_OK)
		err = kh_err(kh, EIO, "%s: %s", u->path, archive_error_string(a));
	else if (archive_filter_code(a, 0) != ARCHIVE_FILTER_XZ)
		err = kh_err(kh, EIO, "%s: not xz compressed", u->path);
	else
		err = unpack_entries(u, a);
	archive_read_free(a);
	if (!err && source_finish(u, got))
		err = kh_syserr(kh, errno, "%s", u->path);
	if (!err && strcmp(got, md5))
		err = kh_err(kh, EBADMSG, "%s changed while it was unpacked: md5 %s, expected %s",
			     u->path, got, md5);
	if (!err)
		err = write_file(u, KH_MANIFEST, u->manifest, u->len);
	snprintf(line, sizeof(line), "%s\n", md5);
	if (!err)
		err = write_file(u, KHEADERS_MD5_FILE, line, sizeof(line) - 1);
	/* One syncfs() instead of an fsync() for each of 7000 files. */
	if (!err && syncfs(u->dfd))
		err = kh_syserr(kh, errno, "%s: cannot sync", u->target);
	return err;
}

/* Is @path a directory with nothing in it? */
static bool empty_dir(const char *path)
{
	struct dirent *d;
	int n = 0;
	DIR *dp;

	dp = opendir(path);
	if (!dp)
		return false;
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			n++;
	closedir(dp);
	return !n;
}

/*
 * An explicit target: it must not exist, or be an empty directory of
 * ours, which rename(2) then atomically replaces.  Sets @parent to the
 * resolved directory that will hold it, which must be trusted as the
 * directories above the cache are, and @name to its last name.
 */
static int prepare_dir(struct kheaders *kh, const char *dir, char *parent,
		       char *name)
{
	char copy[PATH_MAX];
	const char *up, *last;
	struct stat st;
	char *slash;
	size_t len = strlen(dir);

	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (!len || len >= sizeof(copy))
		return kh_err(kh, EINVAL, "invalid directory name \"%s\"", dir);
	memcpy(copy, dir, len);
	copy[len] = '\0';
	slash = strrchr(copy, '/');
	last = slash ? slash + 1 : copy;
	if (!*last || !strcmp(last, ".") || !strcmp(last, ".."))
		return kh_err(kh, EINVAL, "%s: give the name of a new directory", dir);
	if (!lstat(copy, &st)) {
		if (!S_ISDIR(st.st_mode))
			return kh_err(kh, EEXIST,
				      "%s exists and is not a directory; refusing to use it",
				      dir);
		if (st.st_uid != geteuid())
			return kh_err(kh, EPERM,
				      "%s is owned by uid %u, not by you; refusing to use it",
				      dir, (unsigned int)st.st_uid);
		if (!empty_dir(copy))
			return kh_err(kh, ENOTEMPTY, "%s is not empty; refusing to unpack into it",
				      dir);
	} else if (errno != ENOENT) {
		return kh_syserr(kh, errno, "%s", dir);
	}
	snprintf(name, PATH_MAX, "%s", last);
	up = !slash ? "." : slash == copy ? "/" : (*slash = '\0', copy);
	if (!realpath(up, parent))
		return kh_syserr(kh, errno, "%s", up);
	/* Else another user could swap our temporary directory. */
	return kh_trusted_path(kh, parent, false);
}

/*
 * The cache: returns 1 when a trustworthy entry for @md5 already exists,
 * 0 when it must be made, 2 when it must be replaced, or an error.
 */
static int prepare_cache(struct kheaders *kh, const char *md5, char *parent,
			 char *target)
{
	char base[PATH_MAX];
	int err;

	err = kh_cache_base(kh, base, sizeof(base));
	if (!err)
		err = kh_prepare_base(kh, base, parent, PATH_MAX);
	if (!err)
		err = kh_join(kh, target, parent, md5);
	if (!err)
		err = kh_check_entry(kh, target, md5);
	if (err == -ENOENT)
		return 0;
	if (err == -EUCLEAN || (!err && kh->force))
		return 2;
	return err ? err : 1;
}

/* Make and lock a fresh temporary directory in @pfd. */
static int make_tmp(struct kheaders *kh, int pfd, const char *parent,
		    char name[32])
{
	unsigned int r;
	int fd, i;

	for (i = 0; i < 100; i++) {
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			break;
		snprintf(name, 32, "%s%08x", KH_TMP_PREFIX, r);
		/* mode 0700: private until complete */
		if (!mkdirat(pfd, name, 0700))
			break;
		if (errno != EEXIST)
			return kh_syserr(kh, errno, "cannot create a temporary directory in %s",
					 parent);
	}
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		i = errno;
		unlinkat(pfd, name, AT_REMOVEDIR);
		return kh_syserr(kh, i, "%s/%s", parent, name);
	}
	/*
	 * Best effort: a kernel without CONFIG_FILE_LOCKING takes no lock,
	 * and kh_remove_stale() then removes nothing.
	 */
	flock(fd, LOCK_EX);
	return fd;
}

/* Remove our temporary directory, open as @dfd, named @tmp in @pfd. */
static int remove_tmp(int pfd, int dfd, const char *tmp)
{
	return dfd < 0 || kh_empty_dir(dfd) || unlinkat(pfd, tmp, AT_REMOVEDIR);
}

/*
 * Unpack into a fresh temporary directory in @parent, then rename it to
 * @name there, or with @replace exchange it with the tree there.
 */
static int unpack_and_rename(struct unpack *u, const char *parent,
			     const char *name, const char *md5, bool cache,
			     bool replace)
{
	struct kheaders *kh = u->kh;
	bool remove;
	char tmp[32];
	int pfd, err;

	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return kh_syserr(kh, errno, "%s", parent);
	/* Our lock on the base covers making and locking our directory. */
	if (cache) {
		flock(pfd, LOCK_EX);
		kh_remove_stale(pfd);
	}
	u->dfd = make_tmp(kh, pfd, parent, tmp);
	if (cache)
		flock(pfd, LOCK_UN);
	if (u->dfd < 0) {
		close(pfd);
		return u->dfd;
	}
	err = unpack(u, md5);
	remove = err || replace;
	if (!err && replace) {
		/* The old tree gets our temporary name, then goes. */
		flock(pfd, LOCK_EX);
		if (renameat2(pfd, tmp, pfd, name, RENAME_EXCHANGE))
			err = kh_syserr(kh, errno, "cannot replace %s", u->target);
		close(u->dfd);
		u->dfd = openat(pfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				O_CLOEXEC);
		remove_tmp(pfd, u->dfd, tmp);
		flock(pfd, LOCK_UN);
		remove = false;
	} else if (!err && renameat(pfd, tmp, pfd, name)) {
		err = errno;
		remove = true;
		/* Another kheaders of ours may just have made the same. */
		if (cache && (err == EEXIST || err == ENOTEMPTY))
			err = kh_check_entry(kh, u->target, md5);
		else
			err = kh_syserr(kh, err, "cannot rename %s/%s to %s",
					parent, tmp, u->target);
	}
	if (!err && fsync(pfd))
		err = kh_syserr(kh, errno, "%s: cannot sync", parent);
	if (remove && remove_tmp(pfd, u->dfd, tmp) && err) {
		size_t n = strlen(kh->err);

		snprintf(kh->err + n, sizeof(kh->err) - n,
			 " (and %s/%s could not be removed)", parent, tmp);
	}
	if (u->dfd >= 0)
		close(u->dfd);
	close(pfd);
	return err;
}

int kheaders_extract(struct kheaders *kh, const char *dir, char *out,
		     size_t size)
{
	char md5[KHEADERS_MD5_LEN + 1], arch[32], path[PATH_MAX];
	char parent[PATH_MAX], target[PATH_MAX], name[PATH_MAX];
	char damage[sizeof(kh->err)] = "";
	struct unpack u = { .kh = kh, .fd = -1, .dfd = -1, .arch = arch,
			    .path = path, .target = target };
	int err, how;

	kh->err[0] = '\0';
	/* Verify first: nothing is created for a bad archive. */
	err = kheaders_verify(kh);
	if (!err)
		err = kh_read_md5(kh, md5);
	if (!err)
		err = kh_read_arch(kh, arch, sizeof(arch));
	if (err)
		return err;
	if (dir) {
		how = prepare_dir(kh, dir, parent, name);
		if (!how)
			how = kh_join(kh, target,
				      strcmp(parent, "/") ? parent : "", name);
	} else {
		how = prepare_cache(kh, md5, parent, target);
		snprintf(name, sizeof(name), "%s", md5);
	}
	if (how < 0)
		return how;
	if (how == 1)
		goto done;
	/* A damaged cache entry: say what was wrong once it is replaced. */
	if (how == 2 && kh->err[0])
		snprintf(damage, sizeof(damage), "%.4000s; unpacked it again",
			 kh->err);
	err = kh_open_archive(kh, path, &u.fd);
	if (!err) {
		u.md = EVP_MD_CTX_new();
		u.file_md = EVP_MD_CTX_new();
		if (!u.md || !u.file_md ||
		    !EVP_DigestInit_ex(u.md, EVP_md5(), NULL))
			err = kh_err(kh, ENOTSUP, "md5 is not available from libcrypto");
	}
	if (!err)
		err = unpack_and_rename(&u, parent, name, md5, !dir, how == 2);
	if (u.fd >= 0)
		close(u.fd);
	EVP_MD_CTX_free(u.md);
	EVP_MD_CTX_free(u.file_md);
	free(u.manifest);
	if (err)
		return err;
done:
	memcpy(kh->err, damage, sizeof(damage));
	if (out && snprintf(out, size, "%s", target) >= (int)size)
		return kh_err(kh, ENAMETOOLONG, "%s: path too long", target);
	return 0;
}
