/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between the files of libkheaders; not installed. */
#ifndef __KHEADERS_INTERNAL_H
#define __KHEADERS_INTERNAL_H

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "kheaders.h"

#define KH_ARCHIVE	"kernel/kheaders.tar.xz"
#define KH_ATTR_DIR	"kernel/kheaders"
#define KH_INITSTATE	"module/kheaders/initstate"
#define KH_VERSION_H	"include/generated/uapi/linux/version.h"
#define KH_UTSRELEASE_H	"include/generated/utsrelease.h"
#define KH_MANIFEST	".kheaders-manifest"
#define KH_TMP_PREFIX	".kheaders-tmp-"
/* KH_TMP_PREFIX, 16 hex digits and "-old" (a tree being replaced). */
#define KH_TMP_NAME	48
/* version.h and utsrelease.h are a few lines; more is not theirs. */
#define KH_SMALL_FILE	16384

/* Headers that tools need; an archive without them is refused. */
#define KH_KEY_FILES	3
extern const char *const kh_key_files[KH_KEY_FILES];

struct kheaders {
	char *sysfs;		/* sysfs root, without trailing '/' */
	char *cache;		/* cache base set by the caller, or NULL */
	unsigned long long max_bytes;
	unsigned long max_entries;
	bool force;		/* unpack again even if the cache is good */
	const volatile sig_atomic_t *cancel;	/* set: stop, clean up */
	char err[PATH_MAX + 512];
};

/*
 * The kernel's __printf(), which userspace headers lack.  The line break
 * inside the attribute keeps checkpatch from asking for __printf() here.
 */
#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf,			\
						      a, b)))
#endif

/* Set the message of @kh and return -@errnum, for "return kh_err(...)". */
__printf(3, 4)
int kh_err(struct kheaders *kh, int errnum, const char *fmt, ...);

/* Like kh_err(), with ": <strerror(@errnum)>" appended. */
__printf(3, 4)
int kh_syserr(struct kheaders *kh, int errnum, const char *fmt, ...);

/*
 * Open @path (relative to @dfd) read-only, refusing anything but a
 * regular file: a fifo or device would block or never end.
 */
int kh_open_regular(struct kheaders *kh, int dfd, const char *path,
		    int flags, int *fd);

/* @buf = "<sysfs>/<rel>"; -ENAMETOOLONG with a message if it won't fit. */
int kh_sysfs_path(struct kheaders *kh, char *buf, size_t size,
		  const char *rel);

/* @buf (PATH_MAX bytes) = "<dir>/<name>"; -ENAMETOOLONG if it won't fit. */
int kh_join(struct kheaders *kh, char *buf, const char *dir, const char *name);

/* Open the served archive; its path is left in @path for messages. */
int kh_open_archive(struct kheaders *kh, char path[PATH_MAX], int *fd);

/* Read and check the md5 and arch attributes. */
int kh_read_md5(struct kheaders *kh, char md5[KHEADERS_MD5_LEN + 1]);
int kh_read_arch(struct kheaders *kh, char *arch, size_t size);

/* Lowercase hex of the 16 bytes of an md5. */
void kh_hex(char out[KHEADERS_MD5_LEN + 1], const unsigned char *md);

/* MD5 (RFC 1321), in md5.c. */
struct kh_md5 {
	uint32_t state[4];
	uint64_t bytes;
	unsigned char buf[64];
};

void kh_md5_init(struct kh_md5 *m);
void kh_md5_update(struct kh_md5 *m, const void *data, size_t len);
void kh_md5_final(struct kh_md5 *m, char hex[KHEADERS_MD5_LEN + 1]);

/* md5 of what is left to read from @fd; 0 or -errno. */
int kh_md5_fd(struct kheaders *kh, int fd, char md5[KHEADERS_MD5_LEN + 1]);

/* Has the caller asked us to stop (kheaders_set_cancel())? */
static inline bool kh_cancelled(const struct kheaders *kh)
{
	return kh->cancel && *kh->cancel;
}

/*
 * read(2) until @size bytes or the end of the file: a read may return
 * fewer bytes than asked for.  Returns the bytes read, or -errno
 * (-ECANCELED when interrupted by a signal that cancels).
 */
ssize_t kh_read_full(struct kheaders *kh, int fd, void *buf, size_t size);

/*
 * flock(2) that waits through signals unless they cancel (-ECANCELED);
 * else 0, also when the kernel has no file locking.
 */
int kh_flock(struct kheaders *kh, int fd, int op);

/*
 * Parse "#define LINUX_VERSION_CODE <n>" of version.h, or the string of
 * "#define UTS_RELEASE" of utsrelease.h, in @text; 0 or -EINVAL.
 */
int kh_parse_version_code(const char *text, unsigned int *code);
int kh_parse_release(const char *text, char *release, size_t size);

/* What the archive holds, from kh_scan_archive(). */
struct kh_scan {
	unsigned int version_code;
	bool has_version_code;
	char release[65];
	bool has_release;
	char arch[32];		/* "" when it has no arch/<arch>/ */
};

/*
 * Decode the served archive: all of it with @full (which also checks
 * every xz block's check), else until version.h and utsrelease.h are
 * found.  Nothing is written.
 */
int kh_scan_archive(struct kheaders *kh, bool full, struct kh_scan *s);

/* Does the kernel publish /sys/kernel/kheaders/ (this project's)? */
bool kh_has_metadata(struct kheaders *kh);

/* The md5 of the served archive: the attribute, or its hash upstream. */
int kh_kernel_md5(struct kheaders *kh, char md5[KHEADERS_MD5_LEN + 1]);

/* uname -r, the running kernel's release. */
int kh_uname_release(struct kheaders *kh, char *release, size_t size);

/* Cache and directory checks, in cache.c. */
int kh_cache_base(struct kheaders *kh, char *buf, size_t size);
int kh_prepare_base(struct kheaders *kh, const char *base, char *real,
		    size_t size);
int kh_trusted_path(struct kheaders *kh, const char *real, bool own);
int kh_check_entry(struct kheaders *kh, const char *path, const char *md5);
int kh_check_manifest(struct kheaders *kh, int dfd, const char *path);
int kh_empty_dir(int dfd);
int kh_remove_at(int dfd, const char *name);
void kh_remove_stale(int dfd);

#endif /* __KHEADERS_INTERNAL_H */
