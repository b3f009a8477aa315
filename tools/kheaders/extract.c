// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libkheaders: unpack the archive into a private temporary directory,
 * checking every entry before it is written, then rename it into place.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "internal.h"

/*
 * Our own checks below refuse all of this before libarchive sees it;
 * the flags are a second line of defence.  Deliberately absent: OWNER
 * (root must not chown to uids from the archive), PERM (no modes from
 * the archive), ACL, XATTR and FFLAGS.
 */
#define KH_EXTRACT_FLAGS (ARCHIVE_EXTRACT_SECURE_NODOTDOT |		\
			  ARCHIVE_EXTRACT_SECURE_SYMLINKS |		\
			  ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |	\
			  ARCHIVE_EXTRACT_TIME)

/* The archive as libarchive reads it, hashed on the way. */
struct source {
	int fd;
	EVP_MD_CTX *md;
	char buf[65536];
};

static la_ssize_t source_read(struct archive *a, void *data,
			      const void **buf)
{
	struct source *src = data;
	ssize_t n;

	do
		n = read(src->fd, src->buf, sizeof(src->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read: %s", strerror(errno));
		return -1;
	}
	EVP_DigestUpdate(src->md, src->buf, n);
	*buf = src->buf;
	return n;
}

/* Hash what libarchive left unread after the end of the tar data. */
static int source_finish(struct source *src, char md5[KHEADERS_MD5_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	ssize_t n;

	while ((n = read(src->fd, src->buf, sizeof(src->buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		EVP_DigestUpdate(src->md, src->buf, n);
	}
	EVP_DigestFinal_ex(src->md, md, NULL);
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
 * directories leading there.  Returns 0 to write the entry, 1 to skip
 * it (the top directory, which is our temporary directory), or -EPERM.
 * *@relp is set to the name without its leading "./".
 */
static int check_entry(struct kheaders *kh, struct archive_entry *e,
		       const char *arch, const char **relp)
{
	const char *name = archive_entry_pathname(e), *rel, *why;
	mode_t type = archive_entry_filetype(e);
	char archdir[64], archinc[80];
	size_t len;

	*relp = NULL;
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
	rel = strncmp(name, "./", 2) ? name : name + 2;
	len = strlen(rel);
	/* GNU tar ends directory names with '/'. */
	if (len && rel[len - 1] == '/' && type == AE_IFDIR)
		len--;
	*relp = rel;
	if (!len && type == AE_IFDIR)
		return 1;
	why = bad_name(rel, len);
	if (why)
		return kh_err(kh, EPERM, "archive entry %s refused: it has %s",
			      name, why);
	snprintf(archdir, sizeof(archdir), "arch/%s", arch);
	snprintf(archinc, sizeof(archinc), "arch/%s/include", arch);
	if (under(rel, len, "include") || under(rel, len, archinc))
		return 0;
	if (type == AE_IFDIR && ((len == 4 && !strncmp(rel, "arch", 4)) ||
				 (len == strlen(archdir) &&
				  !strncmp(rel, archdir, len))))
		return 0;
	return kh_err(kh, EPERM,
		      "archive entry %s refused: outside include/ and arch/%s/include/",
		      name, arch);
}

/* Write one checked entry, named @rel, with its data from @path. */
static int write_entry(struct kheaders *kh, struct archive *a,
		       struct archive *w, struct archive_entry *e,
		       const char *path, const char *rel)
{
	char name[PATH_MAX];
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r;

	/* @rel points into @e, which set_pathname() rewrites. */
	snprintf(name, sizeof(name), "%s", rel);
	archive_entry_set_pathname(e, name);
	/* Modes from the archive are not trusted: nothing writable by
	 * others, nothing setuid, whatever it says.
	 */
	archive_entry_set_perm(e, archive_entry_filetype(e) == AE_IFDIR ?
			       0755 : 0644);
	if (archive_write_header(w, e) != ARCHIVE_OK)
		return kh_err(kh, EPERM, "cannot write %s: %s", name,
			      archive_error_string(w));
	while ((r = archive_read_data_block(a, &buf, &size, &offset)) == ARCHIVE_OK) {
		if (archive_write_data_block(w, buf, size, offset) != ARCHIVE_OK)
			return kh_err(kh, EIO, "cannot write %s: %s", name,
				      archive_error_string(w));
	}
	if (r != ARCHIVE_EOF)
		return kh_err(kh, EIO, "cannot decode %s at %s: %s", path,
			      name, archive_error_string(a));
	if (archive_write_finish_entry(w) != ARCHIVE_OK)
		return kh_err(kh, EIO, "cannot finish %s: %s", name,
			      archive_error_string(w));
	return 0;
}

/* Read, check and write every entry; @path names the archive for messages. */
static int unpack_entries(struct kheaders *kh, struct archive *a,
			  struct archive *w, const char *path,
			  const char *arch)
{
	struct archive_entry *e;
	const char *rel;
	bool first = true;
	int r, err;

	for (;;) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			return 0;
		/* Warnings too: the kernel's archive never causes one. */
		if (r != ARCHIVE_OK)
			return kh_err(kh, EIO, "cannot decode %s: %s", path,
				      archive_error_string(a));
		if (first && archive_filter_code(a, 0) != ARCHIVE_FILTER_XZ)
			return kh_err(kh, EIO, "%s: not xz compressed", path);
		first = false;
		err = check_entry(kh, e, arch, &rel);
		if (err == 1)
			continue;
		if (!err)
			err = write_entry(kh, a, w, e, path, rel);
		if (err)
			return err;
	}
}

static int write_md5_file(struct kheaders *kh, int dfd, const char *dir,
			  const char *md5)
{
	char line[KHEADERS_MD5_LEN + 2];
	int fd, ok;

	snprintf(line, sizeof(line), "%s\n", md5);
	fd = openat(dfd, KHEADERS_MD5_FILE,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return kh_err(kh, errno, "%s/%s: %s", dir, KHEADERS_MD5_FILE,
			      strerror(errno));
	ok = write(fd, line, KHEADERS_MD5_LEN + 1) == KHEADERS_MD5_LEN + 1;
	if (close(fd) || !ok)
		return kh_err(kh, EIO, "%s/%s: write failed", dir,
			      KHEADERS_MD5_FILE);
	return 0;
}

/*
 * Unpack into @tmp with @tmp as working directory: libarchive's
 * SECURE_NOABSOLUTEPATHS refuses absolute names, so ours are relative.
 */
static int unpack_in(struct kheaders *kh, struct source *src,
		     const char *path, const char *tmp, int dfd,
		     const char *arch, const char *md5)
{
	char got[KHEADERS_MD5_LEN + 1];
	struct archive *a, *w;
	int err;

	a = archive_read_new();
	w = archive_write_disk_new();
	if (!a || !w) {
		err = kh_err(kh, ENOMEM, "out of memory");
		goto out;
	}
	archive_read_support_filter_xz(a);
	archive_read_support_format_tar(a);
	archive_write_disk_set_options(w, KH_EXTRACT_FLAGS);
	if (archive_read_open(a, src, NULL, source_read, NULL) != ARCHIVE_OK) {
		err = kh_err(kh, EIO, "%s: %s", path, archive_error_string(a));
		goto out;
	}
	err = unpack_entries(kh, a, w, path, arch);
	if (!err && archive_write_close(w) != ARCHIVE_OK)
		err = kh_err(kh, EIO, "%s: %s", tmp, archive_error_string(w));
	if (!err && source_finish(src, got))
		err = kh_err(kh, EIO, "%s: read error", path);
	if (!err && strcmp(got, md5))
		err = kh_err(kh, EBADMSG, "%s changed while it was unpacked: md5 %s, expected %s",
			     path, got, md5);
	if (!err)
		err = write_md5_file(kh, dfd, tmp, md5);
out:
	archive_write_free(w);
	archive_read_free(a);
	return err;
}

/* Unpack the archive into the empty directory @tmp. */
static int unpack(struct kheaders *kh, const char *tmp, const char *arch,
		  const char *md5)
{
	struct source src = { .fd = -1 };
	char path[PATH_MAX];
	int cwd = -1, dfd = -1, err;

	err = kh_sysfs_path(kh, path, sizeof(path), KH_ARCHIVE);
	if (err)
		return err;
	src.md = EVP_MD_CTX_new();
	if (!src.md || !EVP_DigestInit_ex(src.md, EVP_md5(), NULL)) {
		err = kh_err(kh, ENOTSUP, "md5 is not available from libcrypto");
		goto out;
	}
	src.fd = open(path, O_RDONLY | O_CLOEXEC);
	/* O_PATH: the caller's directory need not be readable. */
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (src.fd < 0 || cwd < 0 || dfd < 0) {
		err = kh_err(kh, errno, "%s: %s", src.fd < 0 ? path :
			     cwd < 0 ? "." : tmp, strerror(errno));
		goto out;
	}
	if (fchdir(dfd)) {
		err = kh_err(kh, errno, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	err = unpack_in(kh, &src, path, tmp, dfd, arch, md5);
	if (fchdir(cwd) && !err)
		err = kh_err(kh, errno, "cannot return to the working directory: %s",
			     strerror(errno));
out:
	if (dfd >= 0)
		close(dfd);
	if (cwd >= 0)
		close(cwd);
	if (src.fd >= 0)
		close(src.fd);
	EVP_MD_CTX_free(src.md);
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
 * resolved directory that will hold it and @target to its resolved name.
 */
static int prepare_dir(struct kheaders *kh, const char *dir, char *parent,
		       char *target)
{
	char copy[PATH_MAX];
	const char *name, *up;
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
	name = slash ? slash + 1 : copy;
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
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
		return kh_err(kh, errno, "%s: %s", dir, strerror(errno));
	}
	up = !slash ? "." : slash == copy ? "/" : (*slash = '\0', copy);
	if (!realpath(up, parent))
		return kh_err(kh, errno, "%s: %s", up, strerror(errno));
	return kh_join(kh, target, strcmp(parent, "/") ? parent : "", name);
}

/*
 * The cache: returns 1 with @target set when a trustworthy entry for
 * @md5 already exists, 0 when it must be made, or an error.
 */
static int prepare_cache(struct kheaders *kh, const char *md5, char *parent,
			 char *target)
{
	char base[PATH_MAX];
	int err;

	err = kh_cache_base(kh, base, sizeof(base));
	if (!err)
		err = kh_prepare_base(kh, base, parent, PATH_MAX);
	if (err)
		return err;
	err = kh_join(kh, target, parent, md5);
	if (!err)
		err = kh_check_entry(kh, target, md5);
	if (err == -ENOENT)
		return 0;
	return err ? err : 1;
}

/* Unpack into a fresh temporary directory in @parent, then rename it. */
static int unpack_and_rename(struct kheaders *kh, const char *parent,
			     const char *target, const char *arch,
			     const char *md5, bool cache)
{
	char tmp[PATH_MAX];
	int err;

	err = kh_join(kh, tmp, parent, ".kheaders-tmp-XXXXXX");
	if (err)
		return err;
	if (!mkdtemp(tmp))	/* mode 0700: private until complete */
		return kh_err(kh, errno, "cannot create a temporary directory in %s: %s",
			      parent, strerror(errno));
	err = unpack(kh, tmp, arch, md5);
	if (!err && rename(tmp, target)) {
		err = errno;
		/* Another kheaders of ours may just have made the same. */
		if (cache && (err == EEXIST || err == ENOTEMPTY))
			err = kh_check_entry(kh, target, md5);
		else
			err = kh_err(kh, err, "cannot rename %s to %s: %s", tmp,
				     target, strerror(err));
		if (!err) {
			kh_remove_tree(tmp);
			return 0;
		}
	}
	if (err && kh_remove_tree(tmp)) {
		size_t n = strlen(kh->err);

		snprintf(kh->err + n, sizeof(kh->err) - n,
			 " (and %s could not be removed: %s)", tmp,
			 strerror(errno));
	}
	return err;
}

int kheaders_extract(struct kheaders *kh, const char *dir, char *out,
		     size_t size)
{
	char md5[KHEADERS_MD5_LEN + 1], arch[32];
	char parent[PATH_MAX], target[PATH_MAX];
	int err;

	/* Verify first: nothing is created for a bad archive. */
	err = kheaders_verify(kh);
	if (!err)
		err = kh_read_md5(kh, md5);
	if (!err)
		err = kh_read_arch(kh, arch, sizeof(arch));
	if (!err)
		err = dir ? prepare_dir(kh, dir, parent, target) :
			    prepare_cache(kh, md5, parent, target);
	if (!err)
		err = unpack_and_rename(kh, parent, target, arch, md5, !dir);
	else if (err == 1)
		err = 0;	/* reuse the cache */
	if (err)
		return err;
	if (out && snprintf(out, size, "%s", target) >= (int)size)
		return kh_err(kh, ENAMETOOLONG, "%s: path too long", target);
	return 0;
}
