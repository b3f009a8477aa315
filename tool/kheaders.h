/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libkheaders: get the running kernel's headers from CONFIG_IKHEADERS.
 *
 * The internal library of the kheaders command; it is not installed,
 * and this header is its documentation (see README for why).
 *
 * Every kernel since 5.2 with CONFIG_IKHEADERS serves its headers as an
 * xz tar archive in /sys/kernel/kheaders.tar.xz.  A kernel with this
 * project's series also publishes LINUX_VERSION_CODE, the source
 * architecture and the md5 of the archive in /sys/kernel/kheaders/
 * ("metadata").  Without it ("upstream") the library hashes the archive
 * itself and reads the version and architecture from what it holds
 * (include/generated/uapi/linux/version.h, utsrelease.h, arch/<arch>/),
 * comparing its UTS_RELEASE with uname -r.  It verifies the archive and
 * unpacks it, refusing anything but plain directories and files under
 * include/ and arch/<arch>/include/, into a directory that nobody but
 * the caller (and root) can have tampered with.  The md5 is an identity
 * of the content, not a security claim.
 *
 * Conventions: every call that can fail returns 0 on success or a
 * negative errno.  A human readable reason, naming the files and values
 * involved, is then available from kheaders_errmsg().  The errno values
 * with a fixed meaning are:
 *
 *   -ENOENT   the kernel does not serve its headers (no archive), or a
 *             file that must exist does not (the message names it)
 *   -EBADMSG  the archive does not match the md5 the kernel gives for it
 *   -ESTALE   unpacked headers are for a different LINUX_VERSION_CODE
 *   -EPERM    refused: a directory that others could have written to or
 *             that is not the caller's, or an unsafe archive entry
 *   -EIO      the archive cannot be decoded (truncated, corrupted)
 *   -EINVAL   a malformed sysfs attribute or argument, or a sysfs file
 *             that is not a regular file
 *   -EUCLEAN  an unpacked tree is damaged: a file is missing or has
 *             another size or content than when it was unpacked
 *   -ENOSPC, -EDQUOT  the file system is full
 *   -ECANCELED  stopped by kheaders_set_cancel()'s flag; nothing is left
 *
 * Calls on distinct handles may run concurrently in different threads;
 * a single handle must not be used by two threads at once.  Nothing
 * changes process-wide state such as the working directory.
 */
#ifndef __KHEADERS_H
#define __KHEADERS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Length of an md5 in lowercase hex, without the terminating NUL. */
#define KHEADERS_MD5_LEN	32

/* Name of the file, inside an unpacked tree, that records its md5. */
#define KHEADERS_MD5_FILE	".kheaders-md5"

/*
 * Default bounds on what an archive may unpack to; a kernel's headers
 * are about 35 MB in 7000 files.
 */
#define KHEADERS_MAX_BYTES	(1024ULL * 1024 * 1024)
#define KHEADERS_MAX_ENTRIES	100000UL

struct kheaders;

struct kheaders_info {
	unsigned int version_code;	/* LINUX_VERSION_CODE, e.g. 396405 */
	char arch[32];			/* source architecture, e.g. "x86" */
	char md5[KHEADERS_MD5_LEN + 1];	/* the attribute, or computed */
	unsigned long long size;	/* bytes in the archive */
	bool module;			/* served by the kheaders module */
	bool metadata;			/* /sys/kernel/kheaders/ exists */
	char release[65];		/* UTS_RELEASE, without metadata only */
};

/*
 * kheaders_new - create a handle
 * @sysfs: root of sysfs to read, or NULL for "/sys".  Tests point this
 *         at a fake tree holding kernel/kheaders.tar.xz,
 *         kernel/kheaders/{version_code,arch,md5} and, to look like a
 *         module, module/kheaders/initstate.
 *
 * The library reads no environment variable for this; the kheaders
 * command does (KHEADERS_SYSFS).  Returns NULL when out of memory.
 */
struct kheaders *kheaders_new(const char *sysfs);

/* kheaders_free - release a handle; NULL is allowed. */
void kheaders_free(struct kheaders *kh);

/*
 * kheaders_errmsg - why the last failing call on @kh failed
 *
 * The text stays valid until the next call on @kh.  It is "" when no
 * call has failed yet.
 */
const char *kheaders_errmsg(const struct kheaders *kh);

/*
 * kheaders_set_cache_dir - choose the base of the cache
 * @dir: directory under which kheaders_extract() keeps one tree per md5,
 *       or NULL for the default: /var/cache/kheaders for root, else
 *       $XDG_CACHE_HOME/kheaders, else $HOME/.cache/kheaders.
 *
 * Returns 0, -EINVAL for an empty @dir, or -ENOMEM.
 */
int kheaders_set_cache_dir(struct kheaders *kh, const char *dir);

/*
 * kheaders_set_force - unpack again even when the cache entry is good
 *
 * With @force, kheaders_extract() replaces a cache entry it would have
 * reused.  An entry found damaged is always replaced.
 */
void kheaders_set_force(struct kheaders *kh, bool force);

/*
 * kheaders_set_limits - bound what kheaders_extract() writes
 * @max_bytes: total size of the files, or 0 for KHEADERS_MAX_BYTES
 * @max_entries: number of files and directories, or 0 for
 *               KHEADERS_MAX_ENTRIES
 *
 * An archive that exceeds either is refused with -EPERM.
 */
void kheaders_set_limits(struct kheaders *kh, unsigned long long max_bytes,
			 unsigned long max_entries);

/*
 * kheaders_set_cancel - stop kheaders_extract() when *@flag becomes set
 * @flag: e.g. set by a SIGINT handler installed without SA_RESTART, or
 *        NULL
 *
 * The flag is looked at between reads of the archive and between its
 * entries; the call then removes its temporary tree and fails with
 * -ECANCELED.  The library installs no signal handler itself.
 */
void kheaders_set_cancel(struct kheaders *kh, const volatile sig_atomic_t *flag);

/*
 * kheaders_metadata - does the kernel publish /sys/kernel/kheaders/?
 *
 * False for a kernel with upstream's kheaders only, whose version and
 * md5 the library then takes from the archive itself.
 */
bool kheaders_metadata(struct kheaders *kh);

/*
 * kheaders_available - does the kernel serve its headers?
 *
 * True when the archive exists under the sysfs root.  When it does not,
 * the feature is either not built or built as a module that is not
 * loaded ("modprobe kheaders").
 */
bool kheaders_available(struct kheaders *kh);

/*
 * kheaders_get_info - read the metadata
 * @info: filled in on success
 *
 * Reads the three attributes, the size of the archive and whether the
 * kheaders module serves it.  Without metadata, decodes the archive for
 * its version code, release and architecture, and hashes it.
 */
int kheaders_get_info(struct kheaders *kh, struct kheaders_info *info);

/*
 * kheaders_version_code - LINUX_VERSION_CODE of the running kernel
 * @code: set on success
 *
 * The attribute; without metadata, the archive's version.h.
 */
int kheaders_version_code(struct kheaders *kh, unsigned int *code);

/*
 * kheaders_md5 - the md5 attribute
 * @md5: set to the md5 the kernel gives for its archive, lowercase hex;
 *       without metadata, to the md5 of the archive's bytes
 */
int kheaders_md5(struct kheaders *kh, char md5[KHEADERS_MD5_LEN + 1]);

/*
 * kheaders_archive_md5 - hash the archive the kernel serves
 * @md5: set to the md5 of the archive's bytes, in lowercase hex
 */
int kheaders_archive_md5(struct kheaders *kh, char md5[KHEADERS_MD5_LEN + 1]);

/*
 * kheaders_verify - compare the archive with the md5 attribute
 *
 * Needs only the archive and the md5 attribute.
 * Returns 0 when they match and -EBADMSG, with both values in the
 * message, when they do not.  Without metadata: decodes all of the
 * archive (-EIO if it cannot be) and returns -ESTALE when its
 * UTS_RELEASE is not uname -r, -EINVAL when it has none.
 */
int kheaders_verify(struct kheaders *kh);

/*
 * kheaders_cache_path - where the running kernel's headers are cached
 * @buf: set to <cache base>/<md5>, whether or not that exists yet
 * @size: size of @buf; PATH_MAX is always enough
 *
 * Returns -ENAMETOOLONG if @buf is too small.
 */
int kheaders_cache_path(struct kheaders *kh, char *buf, size_t size);

/*
 * kheaders_extract - unpack the headers
 * @dir: directory to create, or NULL for the cache
 * @out: set to the absolute path of the unpacked tree (use it as
 *       BCC_KERNEL_SOURCE); may be NULL
 * @size: size of @out; PATH_MAX is always enough
 *
 * The archive is verified against the md5 attribute first (without
 * metadata: hashed, and its UTS_RELEASE compared with uname -r once it
 * is unpacked, before anything is renamed into place), and hashed
 * again while it is unpacked so that a change in between is noticed.
 * It must be xz compressed, hold include/generated/uapi/linux/version.h,
 * include/linux/kconfig.h and include/generated/autoconf.h, and stay
 * within the limits of kheaders_set_limits().  It is unpacked into a
 * private (0700) temporary directory next to the target, locked with
 * flock(2) meanwhile; the files are written relative to directory file
 * descriptors, without following symbolic links.  The tree gets a
 * KHEADERS_MD5_FILE and a manifest of every file with its size and md5,
 * is synced (syncfs(2)) and only then renamed into place, and the
 * directory holding it is synced.  On any failure the temporary
 * directory is removed through the descriptor it was made with, so
 * nothing half-written remains and nothing else is removed.  Temporary
 * directories of the caller that were left in the cache by a killed
 * process (they are no longer locked) are removed first, also when the
 * entry is then reused.  A tree with an explicit @dir gets mode 0755
 * before the umask; the cache's stay 0700.
 *
 * With @dir NULL, an existing cache entry is reused (not unpacked
 * again) only when it is a directory owned by the caller, writable by
 * no one else, reached through directories that no one but the caller
 * and root can write to, and recording the same md5; otherwise -EPERM,
 * and it is left alone.  A trusted entry whose files no longer match its
 * manifest (every file present with its size; the key headers above
 * also with their md5) is unpacked again and replaced, atomically with
 * renameat2(RENAME_EXCHANGE), else (NFS, CIFS) by renaming the old tree
 * aside first; 0 is then returned and kheaders_errmsg() says what was
 * damaged.  After any
 * other success it is "".
 *
 * With an explicit @dir, it must not exist or be an empty directory
 * owned by the caller, and the directory that holds it is subject to the
 * same checks as the directories above the cache.
 */
int kheaders_extract(struct kheaders *kh, const char *dir, char *out,
		     size_t size);

/*
 * kheaders_dir_version_code - LINUX_VERSION_CODE of an unpacked tree
 * @dir: the tree, as returned by kheaders_extract()
 * @code: set from @dir/include/generated/uapi/linux/version.h
 *
 * Returns -ENOENT, naming the file, when version.h is missing and
 * -EINVAL when it has no LINUX_VERSION_CODE.
 */
int kheaders_dir_version_code(struct kheaders *kh, const char *dir,
			      unsigned int *code);

/*
 * kheaders_check_version - do unpacked headers match the running kernel?
 * @dir: the tree, or NULL for the cache entry of the running kernel
 *       (which must pass the same ownership checks as for reuse)
 *
 * A tree with a manifest (one made by kheaders_extract()) must also
 * match it, else -EUCLEAN; one that another run is replacing meanwhile
 * is looked at again once that is done.  Returns 0 when @dir's
 * LINUX_VERSION_CODE equals the kernel's (the attribute, else the
 * archive's) and its UTS_RELEASE, if it has utsrelease.h, is uname -r;
 * -ESTALE, with both values in the message, when not.
 */
int kheaders_check_version(struct kheaders *kh, const char *dir);

#ifdef __cplusplus
}
#endif

#endif /* __KHEADERS_H */
