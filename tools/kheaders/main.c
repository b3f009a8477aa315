// SPDX-License-Identifier: GPL-2.0-only
/*
 * kheaders: get, verify and safely unpack the running kernel's headers.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kheaders.h"

/* Exit codes; keep in sync with print_usage() and kheaders.8. */
enum {
	EXIT_ERROR	= 1,	/* any other failure */
	EXIT_ABSENT	= 2,	/* the kernel does not serve its headers */
	EXIT_MISMATCH	= 3,	/* md5 or LINUX_VERSION_CODE differs */
	EXIT_REFUSED	= 4,	/* unsafe directory or archive entry */
	EXIT_USAGE	= 64,	/* bad command line */
};

static const char *sysfs_root = "/sys";

static void print_usage(FILE *f)
{
	fprintf(f,
		"Usage: kheaders [OPTIONS] COMMAND [DIR]\n"
		"\n"
		"Commands:\n"
		"  info                 show version code, arch, md5, size and module state\n"
		"  verify               check the archive against its md5 attribute\n"
		"  extract [DIR]        unpack to DIR or to the cache; print the directory\n"
		"  check-version [DIR]  check DIR's (or the cache's) version.h against the kernel\n"
		"\n"
		"Options:\n"
		"  -s, --sysfs DIR      sysfs root to read instead of /sys ($KHEADERS_SYSFS)\n"
		"  -c, --cache-dir DIR  cache base instead of the default ($KHEADERS_CACHE_DIR);\n"
		"                       default /var/cache/kheaders for root, else\n"
		"                       $XDG_CACHE_HOME/kheaders or ~/.cache/kheaders\n"
		"  -l, --load           run \"modprobe kheaders\" if needed, and\n"
		"                       \"modprobe -r kheaders\" afterwards if it was loaded\n"
		"  -h, --help           show this help\n"
		"\n"
		"Exit status:\n"
		"  0  success\n"
		"  1  other error\n"
		"  2  the kernel does not serve its headers (try \"modprobe kheaders\")\n"
		"  3  mismatch: archive md5 (verify) or LINUX_VERSION_CODE (check-version)\n"
		"  4  refused: untrusted directory or unsafe archive entry\n"
		"  64 usage error\n");
}

static int exit_code(int err)
{
	switch (-err) {
	case 0:
		return 0;
	case EBADMSG:
	case ESTALE:
		return EXIT_MISMATCH;
	case EPERM:
		return EXIT_REFUSED;
	default:
		return EXIT_ERROR;
	}
}

static int fail(struct kheaders *kh, const char *cmd, int err)
{
	fprintf(stderr, "kheaders: %s: %s\n", cmd, kheaders_errmsg(kh));
	return exit_code(err);
}

/* Run modprobe from PATH with its output on stderr; true on success. */
static bool run_modprobe(bool remove)
{
	static char *const load[] = { "modprobe", "kheaders", NULL };
	static char *const unload[] = { "modprobe", "-r", "kheaders", NULL };
	char *const *argv = remove ? unload : load;
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return false;
	if (!pid) {
		/* Keep stdout for our own result, e.g. extract's directory. */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "kheaders: modprobe: %s\n", strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int cmd_info(struct kheaders *kh)
{
	struct kheaders_info info;
	unsigned int v;
	int err;

	err = kheaders_get_info(kh, &info);
	if (err)
		return fail(kh, "info", err);
	v = info.version_code;
	printf("version_code: %u (%u.%u.%u)\n", v, v >> 16, (v >> 8) & 0xff,
	       v & 0xff);
	printf("arch: %s\n", info.arch);
	printf("md5: %s\n", info.md5);
	printf("size: %llu\n", info.size);
	printf("module: %s\n", info.module ? "yes" : "no (built-in)");
	return 0;
}

static int cmd_verify(struct kheaders *kh)
{
	struct kheaders_info info;
	int err;

	err = kheaders_verify(kh);
	if (!err)
		err = kheaders_get_info(kh, &info);
	if (err)
		return fail(kh, "verify", err);
	printf("%s/kernel/kheaders.tar.xz: md5 %s matches\n", sysfs_root,
	       info.md5);
	return 0;
}

static int cmd_extract(struct kheaders *kh, const char *dir)
{
	char out[PATH_MAX];
	int err;

	err = kheaders_extract(kh, dir, out, sizeof(out));
	if (err)
		return fail(kh, "extract", err);
	printf("%s\n", out);
	return 0;
}

static int cmd_check_version(struct kheaders *kh, const char *dir)
{
	unsigned int code;
	int err;

	err = kheaders_check_version(kh, dir);
	if (!err)
		err = kheaders_version_code(kh, &code);
	if (err)
		return fail(kh, "check-version", err);
	printf("LINUX_VERSION_CODE %u matches the running kernel\n", code);
	return 0;
}

static int run(struct kheaders *kh, const char *cmd, const char *dir)
{
	if (!strcmp(cmd, "info"))
		return cmd_info(kh);
	if (!strcmp(cmd, "verify"))
		return cmd_verify(kh);
	if (!strcmp(cmd, "extract"))
		return cmd_extract(kh, dir);
	return cmd_check_version(kh, dir);
}

/* Is @cmd known, and does it take @nargs arguments? */
static bool valid_command(const char *cmd, int nargs)
{
	if (!strcmp(cmd, "info") || !strcmp(cmd, "verify"))
		return nargs == 0;
	if (!strcmp(cmd, "extract") || !strcmp(cmd, "check-version"))
		return nargs <= 1;
	return false;
}

static int absent(void)
{
	fprintf(stderr,
		"kheaders: the running kernel does not serve its headers: %s/kernel/kheaders.tar.xz does not exist\n"
		"kheaders: it needs CONFIG_IKHEADERS; if that is a module, load it with \"modprobe kheaders\" (or use --load)\n",
		sysfs_root);
	return EXIT_ABSENT;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sysfs",	required_argument, NULL, 's' },
		{ "cache-dir",	required_argument, NULL, 'c' },
		{ "load",	no_argument,	   NULL, 'l' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ }
	};
	const char *cache = getenv("KHEADERS_CACHE_DIR"), *cmd, *dir;
	bool load = false, loaded = false;
	struct kheaders *kh;
	int opt, ret;

	if (getenv("KHEADERS_SYSFS") && *getenv("KHEADERS_SYSFS"))
		sysfs_root = getenv("KHEADERS_SYSFS");
	while ((opt = getopt_long(argc, argv, "s:c:lh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sysfs_root = optarg;
			break;
		case 'c':
			cache = optarg;
			break;
		case 'l':
			load = true;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			print_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc || !valid_command(argv[optind], argc - optind - 1)) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	dir = argv[optind + 1];
	kh = kheaders_new(sysfs_root);
	if (!kh || kheaders_set_cache_dir(kh, cache && *cache ? cache : NULL)) {
		fprintf(stderr, "kheaders: out of memory\n");
		return EXIT_ERROR;
	}
	if (!kheaders_available(kh) && load)
		loaded = run_modprobe(false);
	if (kheaders_available(kh))
		ret = run(kh, cmd, dir);
	else
		ret = absent();
	/* Leave the module as we found it. */
	if (loaded && !run_modprobe(true))
		fprintf(stderr, "kheaders: warning: \"modprobe -r kheaders\" failed\n");
	kheaders_free(kh);
	return ret;
}
