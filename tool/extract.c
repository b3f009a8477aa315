// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libkheaders: unpack the archive into a private temporary directory,
 * checking every entry before it is written, then rename it into place.
 *
 * Only directories and regular files are ever written, so we write them
 * ourselves, relative to directory file descriptors and with O_NOFOLLOW,
 * instead of through libarchive's archive_write_disk: that needs the
 * working directory (a process-wide thing) to refuse absolute names, and
 * hides the errno of a full disk.  A symbolic link in the archive (the
 * kernel's has a few, e.g. include/dt-bindings/input/linux-event-codes.h)
 * becomes a copy of the header it names, once all are written; no link
 * is ever made, so nothing in the tree can point out of it.
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
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "internal.h"

/* No kernel header is more than 10 directories deep. */
#define KH_MAX_DEPTH	32
/* Links followed to reach a header, as the kernel's MAXSYMLINKS. */
#define KH_MAX_HOPS	40

const char *const kh_key_files[KH_KEY_FILES] = {
	KH_VERSION_H,
	"include/linux/kconfig.h",
	"include/generated/autoconf.h",
};

/* The archive as libarchive reads it, hashed on the way. */
struct source {
	struct kheaders *kh;
	int fd;
	const char *path;	/* for messages */
	struct kh_md5 md;
	char buf[65536];
};

/* A symbolic link of the archive, to become a copy of its header. */
struct link {
	char *rel;	/* its name */
	char *to;	/* what it names, resolved against rel's directory */
	time_t mtime;
	long mtime_nsec;
};

/* One extraction. */
struct unpack {
	struct kheaders *kh;
	struct source src;
	int dfd;		/* the temporary directory */
	const char *target;	/* what the tree will be, for messages */
	char arch[32];		/* "" upstream until arch/<arch>/ is met */
	bool upstream;		/* no metadata: the arch comes from the archive */
	struct kh_md5 file_md;	/* of the file being written */
	unsigned long long bytes;
	unsigned long entries;
	unsigned int keys;	/* bit i: kh_key_files[i] seen */
	char release[KH_SMALL_FILE];	/* the text of utsrelease.h */
	size_t release_len;
	bool has_release;
	char *manifest;
	size_t len, size;
	struct link *links;
	size_t nlinks, links_size;
};

static la_ssize_t source_read(struct archive *a, void *data,
			      const void **buf)
{
	struct source *src = data;
	ssize_t n;

	n = kh_read_full(src->kh, src->fd, src->buf, sizeof(src->buf));
	if (n < 0) {
		archive_set_error(a, -n, "%s", n == -ECANCELED ?
				  "interrupted" : "read error");
		return -1;
	}
	kh_md5_update(&src->md, src->buf, n);
	*buf = src->buf;
	return n;
}

/* Open the archive for reading with libarchive, hashing it. */
static struct archive *source_open(struct source *src, int *err)
{
	struct kheaders *kh = src->kh;
	struct archive *a;

	kh_md5_init(&src->md);
	a = archive_read_new();
	if (!a) {
		*err = kh_err(kh, ENOMEM, "out of memory");
		return NULL;
	}
	archive_read_support_filter_xz(a);
	archive_read_support_format_tar(a);
	if (archive_read_open(a, src, NULL, source_read, NULL) != ARCHIVE_OK)
		*err = kh_err(kh, EIO, "%s: %s", src->path, archive_error_string(a));
	else if (archive_filter_code(a, 0) != ARCHIVE_FILTER_XZ)
		*err = kh_err(kh, EIO, "%s: not xz compressed", src->path);
	else
		return a;
	archive_read_free(a);
	return NULL;
}

/* Hash what libarchive left unread after the end of the tar data. */
static int source_finish(struct source *src, char md5[KHEADERS_MD5_LEN + 1])
{
	ssize_t n;

	while ((n = kh_read_full(src->kh, src->fd, src->buf, sizeof(src->buf))) > 0)
		kh_md5_update(&src->md, src->buf, n);
	if (n < 0)
		return n;
	kh_md5_final(&src->md, md5);
	return 0;
}

/* Did reading stop because the caller cancelled? */
static int decode_error(struct source *src, struct archive *a, const char *rel)
{
	if (kh_cancelled(src->kh))
		return kh_err(src->kh, ECANCELED, "interrupted");
	if (rel)
		return kh_err(src->kh, EIO, "cannot decode %s at %s: %s",
			      src->path, rel, archive_error_string(a));
	return kh_err(src->kh, EIO, "cannot decode %s: %s", src->path,
		      archive_error_string(a));
}

/* The entry's name without "./" and a trailing '/'. */
static const char *entry_name(struct archive_entry *e, size_t *len)
{
	const char *name = archive_entry_pathname(e);

	if (!name)
		name = "";
	if (!strncmp(name, "./", 2))
		name += 2;
	*len = strlen(name);
	while (*len && name[*len - 1] == '/')
		(*len)--;
	return name;
}

/* Is @s (of @len bytes) a plain architecture name, as arch/<arch>/ has? */
static bool arch_name(const char *s, size_t len)
{
	size_t i;

	if (!len || len >= 32)
		return false;
	for (i = 0; i < len; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= '0' && s[i] <= '9') &&
		    s[i] != '_')
			return false;
	return true;
}

/*
 * Without metadata, the archive tells its architecture: the one
 * directory below arch/.  Headers of two are refused.  @rel (of @len
 * bytes) is an entry's name; sets @arch at the first arch/<arch>.
 */
static int learn_arch(struct kheaders *kh, const char *rel, size_t len,
		      char arch[32])
{
	const char *name = rel + 5, *slash;
	size_t n;

	if (len <= 5 || strncmp(rel, "arch/", 5))
		return 0;
	slash = memchr(name, '/', len - 5);
	n = slash ? (size_t)(slash - name) : len - 5;
	if (!arch_name(name, n))
		return 0;	/* refused later as outside include/ */
	if (!*arch) {
		memcpy(arch, name, n);
		arch[n] = '\0';
	} else if (strlen(arch) != n || strncmp(arch, name, n)) {
		return kh_err(kh, EPERM,
			      "archive entry %.*s refused: the archive has headers of two architectures, %s and %.*s",
			      (int)len, rel, arch, (int)n, name);
	}
	return 0;
}

/* Read the data of the current entry, at most @size - 1 bytes, as text. */
static int read_text(struct source *src, struct archive *a, const char *rel,
		     char *text, size_t size, size_t *len)
{
	la_ssize_t n;

	*len = 0;
	while ((n = archive_read_data(a, text + *len, size - 1 - *len)) > 0) {
		*len += n;
		if (*len == size - 1)
			break;
	}
	if (n < 0)
		return decode_error(src, a, rel);
	text[*len] = '\0';
	return 0;
}

int kh_scan_archive(struct kheaders *kh, bool full, struct kh_scan *s)
{
	char path[PATH_MAX], text[KH_SMALL_FILE];
	struct source *src;
	struct archive_entry *e;
	struct archive *a;
	const char *name;
	size_t len, n;
	int err = 0, r;

	memset(s, 0, sizeof(*s));
	src = calloc(1, sizeof(*src));
	if (!src)
		return kh_err(kh, ENOMEM, "out of memory");
	src->kh = kh;
	src->path = path;
	err = kh_open_archive(kh, path, &src->fd);
	if (err) {
		free(src);
		return err;
	}
	a = source_open(src, &err);
	while (a && !err) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK) {
			err = decode_error(src, a, NULL);
			break;
		}
		name = entry_name(e, &len);
		err = learn_arch(kh, name, len, s->arch);
		if (err || archive_entry_filetype(e) != AE_IFREG)
			continue;
		if (len == strlen(KH_VERSION_H) && !strncmp(name, KH_VERSION_H, len)) {
			err = read_text(src, a, KH_VERSION_H, text, sizeof(text), &n);
			s->has_version_code = !err &&
				!kh_parse_version_code(text, &s->version_code);
		} else if (len == strlen(KH_UTSRELEASE_H) &&
			   !strncmp(name, KH_UTSRELEASE_H, len)) {
			err = read_text(src, a, KH_UTSRELEASE_H, text, sizeof(text), &n);
			s->has_release = !err &&
				!kh_parse_release(text, s->release, sizeof(s->release));
		}
		if (!full && s->has_version_code && s->has_release)
			break;
	}
	archive_read_free(a);
	close(src->fd);
	free(src);
	return err;
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

/* Is @rel (length @len) in include/ or arch/<arch>/include/? */
static bool in_headers(const struct unpack *u, const char *rel, size_t len)
{
	char archinc[80];

	snprintf(archinc, sizeof(archinc), "arch/%s/include", u->arch);
	return under(rel, len, "include") ||
	       (*u->arch && under(rel, len, archinc));
}

/*
 * Only what the kernel puts in the archive is allowed: directories,
 * regular files and symbolic links under include/ and
 * arch/<arch>/include/, and the directories leading there, within the
 * limits.  Returns 0 to write the
 * entry, 1 to skip it (the top directory, which is our temporary
 * directory), or -EPERM.  @rel is set to the name without "./" and '/'.
 */
static int check_entry(struct unpack *u, struct archive_entry *e,
		       char rel[PATH_MAX])
{
	const char *name = archive_entry_pathname(e), *why;
	struct kheaders *kh = u->kh;
	mode_t type = archive_entry_filetype(e);
	char archdir[64];
	size_t len;

	if (!name || !*name)
		return kh_err(kh, EPERM, "archive entry without a name refused");
	if (archive_entry_hardlink(e))
		return kh_err(kh, EPERM, "archive entry %s refused: a hard link to %s",
			      name, archive_entry_hardlink(e));
	if (type != AE_IFDIR && type != AE_IFREG && type != AE_IFLNK)
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
	if (u->upstream) {
		int err = learn_arch(kh, rel, len, u->arch);

		if (err)
			return err;
	}
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
	if (in_headers(u, rel, len))
		return 0;
	if (type == AE_IFDIR && (!strcmp(rel, "arch") ||
				 (*u->arch && !strcmp(rel, archdir))))
		return 0;
	return kh_err(kh, EPERM,
		      "archive entry %s refused: outside include/ and arch/%s/include/",
		      archive_entry_pathname(e), *u->arch ? u->arch : "<arch>");
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
	size_t need = strlen(rel) + KHEADERS_MD5_LEN + 24;
	char *p;

	if (u->len + need > u->size) {
		u->size = 2 * u->size + need;
		p = realloc(u->manifest, u->size);
		if (!p)
			return kh_err(u->kh, ENOMEM, "out of memory");
		u->manifest = p;
	}
	kh_md5_final(&u->file_md, u->manifest + u->len);
	u->len += KHEADERS_MD5_LEN;
	u->len += sprintf(u->manifest + u->len, " %llu %s\n", size, rel);
	return 0;
}

/* Write all of @buf to @fd: 0, or the errno of the failure. */
static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Keep utsrelease.h's text, to compare with the running kernel's release. */
static void keep_release(struct unpack *u, const char *rel, const char *buf,
			 size_t len, unsigned long long offset)
{
	size_t n;

	if (strcmp(rel, KH_UTSRELEASE_H) || offset >= sizeof(u->release) - 1)
		return;
	n = len < sizeof(u->release) - 1 - offset ? len :
	    sizeof(u->release) - 1 - offset;
	memcpy(u->release + offset, buf, n);
	u->release_len = offset + n;
	u->has_release = true;
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

	kh_md5_init(&u->file_md);
	while ((r = archive_read_data_block(a, (const void **)&buf, &len,
					    &offset)) == ARCHIVE_OK) {
		if (offset < 0 || offset + len > size)
			return kh_err(u->kh, EIO, "cannot decode %s at %s: data beyond its size",
				      u->src.path, rel);
		/* Sparse files: the holes are zeros too. */
		if (len)
			kh_md5_update(&u->file_md, buf, len);
		keep_release(u, rel, buf, len, offset);
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
		return decode_error(&u->src, a, rel);
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

/*
 * Resolve the target @to of the link @rel against @rel's directory,
 * lexically, into @out: the name of an entry of the archive, or NULL
 * and @why when it cannot be one.
 */
static const char *resolve_link(const char *rel, const char *to, char *out,
				size_t size, const char **why)
{
	const char *slash = strrchr(rel, '/'), *p, *end;
	size_t len = slash ? (size_t)(slash - rel) : 0, n;

	if (!*to) {
		*why = "an empty target";
		return NULL;
	}
	if (*to == '/') {
		*why = "an absolute target";
		return NULL;
	}
	if (len >= size)
		goto long_name;
	memcpy(out, rel, len);
	for (p = to; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, '/');
		n = end - p;
		if (!n || (n == 1 && *p == '.'))
			continue;
		if (n == 2 && !strncmp(p, "..", 2)) {
			if (!len) {
				*why = "a target outside the archive";
				return NULL;
			}
			while (len && out[len - 1] != '/')
				len--;
			if (len)
				len--;
			continue;
		}
		if (len + !!len + n >= size)
			goto long_name;
		if (len)
			out[len++] = '/';
		memcpy(out + len, p, n);
		len += n;
	}
	out[len] = '\0';
	*why = len ? bad_name(out, len) : "the archive's top directory as target";
	return *why ? NULL : out;
long_name:
	*why = "a target name longer than PATH_MAX";
	return NULL;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int cmp_link(const void *a, const void *b)
{
	return strcmp(((const struct link *)a)->rel,
		      ((const struct link *)b)->rel);
}

/* Note the checked link @e, named @rel, for link_copies(). */
static int add_link(struct unpack *u, struct archive_entry *e,
		    const char *rel)
{
	const char *to = archive_entry_symlink(e), *why;
	char resolved[PATH_MAX];
	struct link *l;

	if (!to)
		to = "";
	if (!resolve_link(rel, to, resolved, sizeof(resolved), &why))
		/* Control characters would garble the message. */
		return kh_err(u->kh, EPERM,
			      "archive entry %s refused: a symbolic link with %s (%s)",
			      rel, why, printable(to) ? to : "not shown");
	if (u->nlinks == u->links_size) {
		size_t n = 2 * u->links_size + 8;

		l = realloc(u->links, n * sizeof(*l));
		if (!l)
			return kh_err(u->kh, ENOMEM, "out of memory");
		u->links = l;
		u->links_size = n;
	}
	l = &u->links[u->nlinks];
	l->rel = strdup(rel);
	l->to = strdup(resolved);
	l->mtime = archive_entry_mtime(e);
	l->mtime_nsec = archive_entry_mtime_nsec(e);
	if (!l->rel || !l->to) {
		free(l->rel);
		free(l->to);
		return kh_err(u->kh, ENOMEM, "out of memory");
	}
	u->nlinks++;
	return 0;
}

static void free_links(struct unpack *u)
{
	size_t i;

	for (i = 0; i < u->nlinks; i++) {
		free(u->links[i].rel);
		free(u->links[i].to);
	}
	free(u->links);
}

/* Write @l as a copy of the regular file it leads to, through links. */
static int copy_link(struct unpack *u, const struct link *l)
{
	struct timespec times[2] = {
		{ .tv_nsec = UTIME_OMIT }, { l->mtime, l->mtime_nsec },
	};
	struct link key, *next;
	char rel[PATH_MAX], buf[65536];
	const char *to = l->to, *name;
	int hops, in, pfd, fd = -1, err = 0;
	off_t size = 0;
	struct stat st;
	ssize_t n = 0;

	for (hops = 0; ; hops++) {
		key.rel = (char *)to;
		next = bsearch(&key, u->links, u->nlinks, sizeof(key), cmp_link);
		if (!next)
			break;
		if (hops == KH_MAX_HOPS)
			return kh_err(u->kh, EPERM,
				      "archive entry %s refused: a symbolic link through more than %d links (a loop?)",
				      l->rel, KH_MAX_HOPS);
		to = next->to;
	}
	/* Only what the archive may hold: the arch is known by now. */
	if (!in_headers(u, to, strlen(to)))
		return kh_err(u->kh, EPERM,
			      "archive entry %s refused: a symbolic link to %s, outside include/ and arch/%s/include/",
			      l->rel, to, *u->arch ? u->arch : "<arch>");
	/* Our tree has only directories and regular files: no link to follow. */
	in = openat(u->dfd, to, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0 && errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
		return kh_syserr(u->kh, errno, "%s: cannot open %s", u->target, to);
	if (in >= 0 && fstat(in, &st)) {
		err = kh_syserr(u->kh, errno, "%s: cannot open %s", u->target, to);
		goto out;
	}
	if (in < 0 || !S_ISREG(st.st_mode)) {
		err = kh_err(u->kh, EPERM,
			     "archive entry %s refused: a symbolic link to %s, %s",
			     l->rel, to, in < 0 ? "which the archive does not hold" :
			     "which is not a regular file");
		goto out;
	}
	u->bytes += st.st_size;
	if (u->bytes > u->kh->max_bytes) {
		err = kh_err(u->kh, EPERM,
			     "archive entry %s refused: the archive unpacks to more than %llu bytes (the limit)",
			     l->rel, u->kh->max_bytes);
		goto out;
	}
	snprintf(rel, sizeof(rel), "%s", l->rel);
	pfd = open_parent(u, rel, &name);
	if (pfd < 0) {
		err = pfd;
		goto out;
	}
	fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
	if (fd < 0)
		err = errno == EEXIST ?
		      kh_err(u->kh, EPERM, "archive entry %s refused: it is there twice",
			     l->rel) :
		      kh_syserr(u->kh, errno, "%s: cannot create %s", u->target,
				l->rel);
	if (pfd != u->dfd)
		close(pfd);
	kh_md5_init(&u->file_md);
	while (!err && (n = kh_read_full(u->kh, in, buf, sizeof(buf))) > 0) {
		kh_md5_update(&u->file_md, buf, n);
		keep_release(u, l->rel, buf, n, size);
		err = write_all(fd, buf, n);
		if (err)
			err = kh_syserr(u->kh, err, "%s: cannot write %s",
					u->target, l->rel);
		size += n;
	}
	if (!err && n < 0)
		err = n == -ECANCELED ? kh_err(u->kh, ECANCELED, "interrupted") :
		      kh_syserr(u->kh, -n, "%s: cannot read %s", u->target, to);
	if (!err)
		err = add_manifest(u, l->rel, size);
	if (fd >= 0) {
		futimens(fd, times);
		if (close(fd) && !err)
			err = kh_syserr(u->kh, errno, "%s: cannot write %s",
					u->target, l->rel);
	}
out:
	if (in >= 0)
		close(in);
	return err;
}

/* Write every link as a copy, now that what they name is written. */
static int link_copies(struct unpack *u)
{
	size_t i;
	int k, err;

	qsort(u->links, u->nlinks, sizeof(*u->links), cmp_link);
	for (i = 0; i < u->nlinks; i++) {
		if (kh_cancelled(u->kh))
			return kh_err(u->kh, ECANCELED, "interrupted");
		err = copy_link(u, &u->links[i]);
		if (err)
			return err;
		for (k = 0; k < KH_KEY_FILES; k++)
			if (!strcmp(u->links[i].rel, kh_key_files[k]))
				u->keys |= 1U << k;
	}
	return 0;
}

/* Read, check and write every entry. */
static int unpack_entries(struct unpack *u, struct archive *a)
{
	struct archive_entry *e;
	char rel[PATH_MAX];
	int i, r, err;

	for (;;) {
		if (kh_cancelled(u->kh))
			return kh_err(u->kh, ECANCELED, "interrupted");
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		/* Warnings too: the kernel's archive never causes one. */
		if (r != ARCHIVE_OK)
			return decode_error(&u->src, a, NULL);
		err = check_entry(u, e, rel);
		if (err == 1)
			continue;
		if (!err && archive_entry_filetype(e) == AE_IFLNK)
			err = add_link(u, e, rel);
		else if (!err)
			err = write_entry(u, a, e, rel);
		if (err)
			return err;
	}
	err = link_copies(u);
	if (err)
		return err;
	for (i = 0; i < KH_KEY_FILES; i++)
		if (!(u->keys & (1U << i)))
			return kh_err(u->kh, EPERM,
				      "%s refused: it has no %s, so it holds no kernel headers that tools can use",
				      u->src.path, kh_key_files[i]);
	return 0;
}

/* Create @name in the temporary directory with @len bytes of @text. */
static int write_file(struct unpack *u, const char *name, const char *text,
		      size_t len)
{
	int fd, err;

	fd = openat(u->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
	if (fd < 0)
		return kh_syserr(u->kh, errno, "%s: cannot write %s", u->target,
				 name);
	err = write_all(fd, text, len);
	/* Closed whatever happened: a leaked descriptor keeps the space. */
	if (close(fd) && !err)
		err = errno;
	if (err)
		return kh_syserr(u->kh, err, "%s: cannot write %s", u->target,
				 name);
	return 0;
}

/*
 * Without metadata, what says that the archive is the running kernel's
 * is its UTS_RELEASE, which must be uname -r.
 */
static int check_unpacked_release(struct unpack *u)
{
	struct kheaders *kh = u->kh;
	char got[65], want[65];
	int err;

	u->release[u->release_len] = '\0';
	if (!u->has_release || kh_parse_release(u->release, got, sizeof(got)))
		return kh_err(kh, EINVAL,
			      "%s has no %s with a \"#define UTS_RELEASE\" line; cannot tell whether it is the running kernel's",
			      u->src.path, KH_UTSRELEASE_H);
	err = kh_uname_release(kh, want, sizeof(want));
	if (!err && strcmp(got, want))
		err = kh_err(kh, ESTALE,
			     "%s/%s has UTS_RELEASE \"%s\" but the running kernel is \"%s\" (uname -r)",
			     kh->sysfs, KH_ARCHIVE, got, want);
	return err;
}

/*
 * Unpack, check that the archive did not change meanwhile, then write
 * the manifest and last the md5 file, which marks the tree complete.
 */
static int unpack(struct unpack *u, const char *md5, bool cache)
{
	struct kheaders *kh = u->kh;
	char got[KHEADERS_MD5_LEN + 1], line[KHEADERS_MD5_LEN + 2];
	struct archive *a;
	struct stat st;
	int err = 0;

	a = source_open(&u->src, &err);
	if (a)
		err = unpack_entries(u, a);
	archive_read_free(a);
	if (!err && u->upstream)
		err = check_unpacked_release(u);
	if (!err) {
		err = source_finish(&u->src, got);
		if (err == -ECANCELED)
			err = kh_err(kh, ECANCELED, "interrupted");
		else if (err)
			err = kh_syserr(kh, -err, "%s", u->src.path);
	}
	if (!err && strcmp(got, md5))
		err = kh_err(kh, EBADMSG, "%s changed while it was unpacked: md5 %s, expected %s",
			     u->src.path, got, md5);
	if (!err)
		err = write_file(u, KH_MANIFEST, u->manifest, u->len);
	snprintf(line, sizeof(line), "%s\n", md5);
	if (!err)
		err = write_file(u, KHEADERS_MD5_FILE, line, sizeof(line) - 1);
	/*
	 * A tree of the caller's own, unlike the cache, is for everyone:
	 * 0755 before the umask, as the directories in it were made.
	 */
	if (!err && !cache &&
	    (fstatat(u->dfd, "include", &st, AT_SYMLINK_NOFOLLOW) ||
	     fchmod(u->dfd, st.st_mode & 0777)))
		err = kh_syserr(kh, errno, "%s: cannot set its mode", u->target);
	/* One syncfs() instead of an fsync() for each of 7000 files. */
	if (!err && syncfs(u->dfd))
		err = kh_syserr(kh, errno, "%s: cannot sync", u->target);
	if (!err && kh_cancelled(kh))
		err = kh_err(kh, ECANCELED, "interrupted");
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
 * Remove what killed runs left in the cache base @parent, under our lock
 * on it: also when the entry is then reused, else the temporary tree of
 * a killed --force run would stay for good.
 */
static int remove_stale(struct kheaders *kh, const char *parent)
{
	int pfd, err;

	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return kh_syserr(kh, errno, "%s", parent);
	err = kh_flock(kh, pfd, LOCK_EX);
	if (!err)
		kh_remove_stale(pfd);
	close(pfd);
	return err == -ECANCELED ? kh_err(kh, ECANCELED, "interrupted") : 0;
}

/*
 * The cache: returns 1 when a trustworthy entry for @md5 already exists,
 * 0 when it must be made, 2 when it must be replaced, or an error.  Only
 * an entry that does not exist is made: any other failure (no HOME, a
 * dangling link) is the caller's.
 */
static int prepare_cache(struct kheaders *kh, const char *md5, char *parent,
			 char *target)
{
	char base[PATH_MAX];
	struct stat st;
	int err;

	err = kh_cache_base(kh, base, sizeof(base));
	if (!err)
		err = kh_prepare_base(kh, base, parent, PATH_MAX);
	if (!err)
		err = kh_join(kh, target, parent, md5);
	if (!err)
		err = remove_stale(kh, parent);
	if (err)
		return err;
	if (lstat(target, &st) && errno == ENOENT)
		return 0;
	err = kh_check_entry(kh, target, md5);
	if (err == -ENOENT)
		return 0;
	if (err == -EUCLEAN || (!err && kh->force))
		return 2;
	return err ? err : 1;
}

/* A name for a temporary directory: random, else as unique as we can. */
static void tmp_name(char name[KH_TMP_NAME])
{
	static unsigned long counter;
	unsigned long long r;
	struct timespec ts;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r)) {
		/*
		 * No getrandom() (old kernel, seccomp): the name need not
		 * be secret, only new; mkdirat() tells if it is not.
		 */
		clock_gettime(CLOCK_REALTIME, &ts);
		r = (unsigned long long)ts.tv_nsec ^
		    (unsigned long long)ts.tv_sec << 30 ^
		    (unsigned long long)getpid() << 44 ^
		    __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) *
		    0x9e3779b97f4a7c15ULL;
	}
	snprintf(name, KH_TMP_NAME, "%s%016llx", KH_TMP_PREFIX, r);
}

/* Make and lock a fresh temporary directory in @pfd. */
static int make_tmp(struct kheaders *kh, int pfd, const char *parent,
		    char name[KH_TMP_NAME])
{
	int fd, i, err;

	for (i = 0; ; i++) {
		/* Someone else's name is never used, whoever made it. */
		if (i == 100)
			return kh_err(kh, EEXIST,
				      "cannot create a temporary directory in %s: the 100 names tried all exist",
				      parent);
		tmp_name(name);
		/* mode 0700: private until complete */
		if (!mkdirat(pfd, name, 0700))
			break;
		if (errno != EEXIST)
			return kh_syserr(kh, errno, "cannot create a temporary directory in %s",
					 parent);
	}
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		unlinkat(pfd, name, AT_REMOVEDIR);
		return kh_syserr(kh, err, "%s/%s", parent, name);
	}
	/*
	 * Best effort: a kernel without CONFIG_FILE_LOCKING takes no lock,
	 * and kh_remove_stale() then removes nothing.
	 */
	flock(fd, LOCK_EX);
	return fd;
}

/*
 * Replace the tree @name in @pfd with our complete one, @tmp, under our
 * exclusive lock on @pfd (readers that find the entry damaged meanwhile
 * look again under a shared lock), and remove the old tree.
 * renameat2(RENAME_EXCHANGE) does it in one step; where the file system
 * lacks it (NFS and CIFS say EINVAL), the old tree is renamed aside
 * first, to a name that kh_remove_stale() removes should we be killed
 * here, and put back if ours cannot take its place.
 */
static int replace_tree(struct unpack *u, int pfd, const char *tmp,
			const char *name)
{
	struct kheaders *kh = u->kh;
	char aside[KH_TMP_NAME + 8];
	int err;

	err = kh_flock(kh, pfd, LOCK_EX);
	if (err)
		return kh_err(kh, -err, "interrupted");
	if (!renameat2(pfd, tmp, pfd, name, RENAME_EXCHANGE)) {
		/* The old tree has our temporary name now. */
		kh_remove_at(pfd, tmp);
		goto out;
	}
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
		err = kh_syserr(kh, errno, "cannot replace %s", u->target);
		goto out;
	}
	snprintf(aside, sizeof(aside), "%s-old", tmp);
	if (renameat(pfd, name, pfd, aside)) {
		err = kh_syserr(kh, errno, "cannot replace %s: cannot rename it aside",
				u->target);
		goto out;
	}
	if (renameat(pfd, tmp, pfd, name)) {
		err = kh_syserr(kh, errno, "cannot replace %s", u->target);
		renameat(pfd, aside, pfd, name);
		goto out;
	}
	kh_remove_at(pfd, aside);
out:
	flock(pfd, LOCK_UN);
	return err;
}

/*
 * Unpack into a fresh temporary directory in @parent, then rename it to
 * @name there, or with @replace put it in place of the tree there.
 */
static int unpack_and_rename(struct unpack *u, const char *parent,
			     const char *name, const char *md5, bool cache,
			     bool replace)
{
	struct kheaders *kh = u->kh;
	char tmp[KH_TMP_NAME];
	bool remove;
	int pfd, err;

	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return kh_syserr(kh, errno, "%s", parent);
	/* Our lock on the base covers making and locking our directory. */
	err = cache ? kh_flock(kh, pfd, LOCK_EX) : 0;
	if (err) {
		close(pfd);
		return kh_err(kh, -err, "interrupted");
	}
	u->dfd = make_tmp(kh, pfd, parent, tmp);
	if (cache)
		flock(pfd, LOCK_UN);
	if (u->dfd < 0) {
		close(pfd);
		return u->dfd;
	}
	err = unpack(u, md5, cache);
	remove = err;
	if (!err && replace) {
		err = replace_tree(u, pfd, tmp, name);
		/* On failure our tree is still at @tmp. */
		remove = err;
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
	/* Through the descriptor we made it with: never a swapped name. */
	if (remove && (kh_empty_dir(u->dfd) || unlinkat(pfd, tmp, AT_REMOVEDIR)) &&
	    err) {
		size_t n = strlen(kh->err);

		snprintf(kh->err + n, sizeof(kh->err) - n,
			 " (and %s/%s could not be removed)", parent, tmp);
	}
	close(u->dfd);
	u->dfd = -1;
	close(pfd);
	return err;
}

int kheaders_extract(struct kheaders *kh, const char *dir, char *out,
		     size_t size)
{
	char md5[KHEADERS_MD5_LEN + 1], path[PATH_MAX];
	char parent[PATH_MAX], target[PATH_MAX], name[PATH_MAX];
	char damage[sizeof(kh->err)] = "";
	struct unpack *u;
	int err, how;

	kh->err[0] = '\0';
	u = calloc(1, sizeof(*u));
	if (!u)
		return kh_err(kh, ENOMEM, "out of memory");
	u->kh = kh;
	u->src.kh = kh;
	u->src.fd = -1;
	u->src.path = path;
	u->dfd = -1;
	u->target = target;
	/*
	 * Verify first: nothing is created for a bad archive.  Without
	 * metadata there is nothing to verify against until it is
	 * unpacked; its md5 is then the hash of what is served, and the
	 * temporary tree goes if it is not the running kernel's.
	 */
	u->upstream = !kh_has_metadata(kh);
	if (u->upstream) {
		err = kheaders_archive_md5(kh, md5);
	} else {
		err = kheaders_verify(kh);
		if (!err)
			err = kh_read_md5(kh, md5);
		if (!err)
			err = kh_read_arch(kh, u->arch, sizeof(u->arch));
	}
	if (err)
		goto out;
	if (dir) {
		how = prepare_dir(kh, dir, parent, name);
		if (!how)
			how = kh_join(kh, target,
				      strcmp(parent, "/") ? parent : "", name);
	} else {
		how = prepare_cache(kh, md5, parent, target);
		snprintf(name, sizeof(name), "%s", md5);
	}
	err = how < 0 ? how : 0;
	if (how < 0 || how == 1)
		goto out;
	/* A damaged cache entry: say what was wrong once it is replaced. */
	if (how == 2 && kh->err[0])
		snprintf(damage, sizeof(damage), "%.4000s; unpacked it again",
			 kh->err);
	err = kh_open_archive(kh, path, &u->src.fd);
	if (!err)
		err = unpack_and_rename(u, parent, name, md5, !dir, how == 2);
out:
	if (u->src.fd >= 0)
		close(u->src.fd);
	free(u->manifest);
	free_links(u);
	free(u);
	if (err)
		return err;
	memcpy(kh->err, damage, sizeof(damage));
	if (out && snprintf(out, size, "%s", target) >= (int)size)
		return kh_err(kh, ENAMETOOLONG, "%s: path too long", target);
	return 0;
}
