// SPDX-License-Identifier: GPL-2.0-only
/*
 * kheaders: get, verify and safely unpack the running kernel's headers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

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

/* The signal that asked us to stop, for kheaders_set_cancel(). */
static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	caught = sig;
}

/*
 * SIGINT, SIGTERM and SIGHUP stop an extraction, which then removes its
 * temporary tree, and we die of the signal afterwards.  No SA_RESTART: a
 * wait (for a lock) returns so that the flag is seen.  A signal ignored
 * when we were started (nohup, a background job) stays ignored.
 */
static void catch_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = on_signal }, old;
	size_t i;

	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!sigaction(sigs[i], NULL, &old) && old.sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
}

/* Die of the signal we caught, if any, as if we had not caught it. */
static void die_if_caught(void)
{
	int sig = caught;

	if (!sig)
		return;
	fflush(stdout);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void print_usage(FILE *f)
{
	fprintf(f,
		"Usage: kheaders [OPTIONS] COMMAND [DIR]\n"
		"       kheaders [OPTIONS] exec [--] CMD [ARG...]\n"
		"\n"
		"Commands:\n"
		"  info                 show the layout (metadata or upstream), version code,\n"
		"                       arch, md5, size and module state\n"
		"  verify               check the archive against its md5 attribute, or\n"
		"                       (upstream) decode it and check it is uname -r's\n"
		"  extract [DIR]        unpack to DIR or to the cache; print the directory\n"
		"  check-version [DIR]  check DIR's (or the cache's) version.h and utsrelease.h\n"
		"                       against the running kernel\n"
		"  exec [--] CMD [ARG...]\n"
		"                       unpack to the cache if needed, set BCC_KERNEL_SOURCE,\n"
		"                       BPFTRACE_KERNEL_SOURCE and BPFTRACE_KERNEL_BUILD to\n"
		"                       the verified tree and run CMD (exit status: CMD's)\n"
		"\n"
		"Options (before or after the command; for exec, before CMD):\n"
		"  -s, --sysfs DIR      sysfs root to read instead of /sys ($KHEADERS_SYSFS)\n"
		"  -c, --cache-dir DIR  cache base instead of the default ($KHEADERS_CACHE_DIR);\n"
		"                       default /var/cache/kheaders for root, else\n"
		"                       $XDG_CACHE_HOME/kheaders or ~/.cache/kheaders\n"
		"  -f, --force          unpack again even if the cache entry is good\n"
		"  -l, --load           run \"modprobe kheaders\" (needs CAP_SYS_MODULE) if the\n"
		"                       archive is missing; the module is left loaded (never\n"
		"                       unloaded: another user may be reading it)\n"
		"      --max-bytes N    refuse an archive that unpacks to more than N bytes\n"
		"                       (default 1073741824)\n"
		"      --max-entries N  refuse an archive of more than N entries (default 100000)\n"
		"  -h, --help           show this help\n"
		"\n"
		"Exit status:\n"
		"  0  success\n"
		"  1  other error, e.g. a damaged tree or no space left on device\n"
		"  2  the kernel does not serve its headers (try \"modprobe kheaders\"),\n"
		"     also when --load cannot load the module\n"
		"  3  mismatch: archive md5 or UTS_RELEASE (verify, extract) or\n"
		"     LINUX_VERSION_CODE or UTS_RELEASE (check-version)\n"
		"  4  refused: untrusted directory or unsafe archive\n"
		"  64 usage error\n"
		"  exec: CMD's status, or 126 if CMD cannot be run, 127 if it is not found\n");
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

/* Does this process have CAP_SYS_MODULE?  If we cannot tell, say yes. */
static bool can_load_modules(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data))
		return true;
	return data[CAP_SYS_MODULE / 32].effective & (1U << (CAP_SYS_MODULE % 32));
}

/*
 * Run "modprobe kheaders" from PATH with its output on stderr, saying
 * why when it cannot be done.  The module is never unloaded: another
 * kheaders (or anything else) may be reading it, and nothing tells us
 * when the last user is done.
 */
static void load_module(void)
{
	static char *const argv[] = { "modprobe", "kheaders", NULL };
	int pipefd[2], status, err = 0;
	pid_t pid;

	if (!can_load_modules()) {
		fprintf(stderr,
			"kheaders: --load: loading a module needs CAP_SYS_MODULE, which this process does not have (not root, or in a container without it); ask the host's administrator to run \"modprobe kheaders\"\n");
		return;
	}
	fflush(stdout);
	/* The child tells us through the pipe why it could not exec. */
	if (pipe2(pipefd, O_CLOEXEC)) {
		fprintf(stderr, "kheaders: --load: %m\n");
		return;
	}
	pid = fork();
	if (!pid) {
		/* Keep stdout for our own result, e.g. extract's directory. */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execvp(argv[0], argv);
		err = errno;
		if (write(pipefd[1], &err, sizeof(err)) < 0)
			_exit(126);
		_exit(127);
	}
	close(pipefd[1]);
	if (pid < 0) {
		fprintf(stderr, "kheaders: --load: cannot run modprobe: %m\n");
		close(pipefd[0]);
		return;
	}
	if (read(pipefd[0], &err, sizeof(err)) != sizeof(err))
		err = 0;
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (err)
		fprintf(stderr, "kheaders: --load: cannot run modprobe (searched in PATH): %s\n",
			strerror(err));
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		fprintf(stderr, "kheaders: --load: \"modprobe kheaders\" failed (exit status %d)\n",
			WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
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
	if (info.metadata)
		printf("layout: metadata (%s/kernel/kheaders/: version_code, arch and md5 from the kernel)\n",
		       sysfs_root);
	else
		printf("layout: upstream (only %s/kernel/kheaders.tar.xz: version, release and arch read from the archive, md5 computed)\n",
		       sysfs_root);
	printf("version_code: %u (%u.%u.%u)\n", v, v >> 16, (v >> 8) & 0xff,
	       v & 0xff);
	if (!info.metadata)
		printf("release: %s\n", info.release);
	printf("arch: %s\n", info.arch);
	printf("md5: %s\n", info.md5);
	printf("size: %llu\n", info.size);
	printf("module: %s\n", info.module ? "yes" : "no (built-in)");
	return 0;
}

static int cmd_verify(struct kheaders *kh)
{
	char md5[KHEADERS_MD5_LEN + 1];
	int err;

	err = kheaders_verify(kh);
	if (!err)
		err = kheaders_md5(kh, md5);
	if (err)
		return fail(kh, "verify", err);
	if (kheaders_metadata(kh))
		printf("%s/kernel/kheaders.tar.xz: md5 %s matches\n", sysfs_root, md5);
	else
		printf("%s/kernel/kheaders.tar.xz: md5 %s; decodes completely and is the running kernel's (no md5 attribute to compare with)\n",
		       sysfs_root, md5);
	return 0;
}

/* Unpack (or reuse) and warn about a damaged cache entry replaced. */
static int extract(struct kheaders *kh, const char *cmd, const char *dir,
		   char out[PATH_MAX])
{
	int err;

	err = kheaders_extract(kh, dir, out, PATH_MAX);
	die_if_caught();
	if (err)
		return fail(kh, cmd, err);
	if (*kheaders_errmsg(kh))
		fprintf(stderr, "kheaders: warning: %s\n", kheaders_errmsg(kh));
	return 0;
}

static int cmd_extract(struct kheaders *kh, const char *dir)
{
	char out[PATH_MAX];
	int ret;

	ret = extract(kh, "extract", dir, out);
	if (!ret)
		printf("%s\n", out);
	return ret;
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

/* Run @argv with the verified headers in its environment. */
static int cmd_exec(struct kheaders *kh, char **argv)
{
	static const char *const vars[] = {
		"BCC_KERNEL_SOURCE", "BPFTRACE_KERNEL_SOURCE",
		"BPFTRACE_KERNEL_BUILD", NULL
	};
	const char *const *var;
	char dir[PATH_MAX];
	int ret;

	ret = extract(kh, "exec", NULL, dir);
	if (ret)
		return ret;
	for (var = vars; *var; var++)
		if (setenv(*var, dir, 1)) {
			fprintf(stderr, "kheaders: exec: %m\n");
			return EXIT_ERROR;
		}
	if (fflush(stdout))
		return EXIT_ERROR;
	execvp(argv[0], argv);
	/* As the shell: 127 when not found, 126 when it cannot be run. */
	ret = errno == ENOENT ? 127 : 126;
	fprintf(stderr, "kheaders: exec: %s: %m\n", argv[0]);
	return ret;
}

static int absent(void)
{
	fprintf(stderr,
		"kheaders: the running kernel does not serve its headers: %s/kernel/kheaders.tar.xz does not exist\n"
		"kheaders: it needs CONFIG_IKHEADERS; if that is a module, load it with \"modprobe kheaders\" (or use --load)\n",
		sysfs_root);
	return EXIT_ABSENT;
}

enum { OPT_MAX_BYTES = 256, OPT_MAX_ENTRIES };

struct options {
	const char *cache;
	bool load, force;
	unsigned long long max_bytes, max_entries;
};

/* A positive decimal number for @opt; false if @s is not one. */
static bool parse_number(const char *s, unsigned long long *val)
{
	char *end;

	errno = 0;
	*val = strtoull(s, &end, 10);
	return *s >= '0' && *s <= '9' && !*end && !errno && *val;
}

/*
 * Parse the options in @argv (argv[0] is skipped); with @posix, stop at
 * the first operand.  Returns the index of the first operand, -1 for a
 * usage error, or -2 after --help.
 */
static int parse_options(int argc, char **argv, bool posix,
			 struct options *o)
{
	static const struct option opts[] = {
		{ "sysfs",	 required_argument, NULL, 's' },
		{ "cache-dir",	 required_argument, NULL, 'c' },
		{ "force",	 no_argument,	    NULL, 'f' },
		{ "load",	 no_argument,	    NULL, 'l' },
		{ "max-bytes",	 required_argument, NULL, OPT_MAX_BYTES },
		{ "max-entries", required_argument, NULL, OPT_MAX_ENTRIES },
		{ "help",	 no_argument,	    NULL, 'h' },
		{ }
	};
	int opt;

	optind = 0;	/* start over, at argv[1] */
	while ((opt = getopt_long(argc, argv, posix ? "+s:c:flh" : "s:c:flh",
				  opts, NULL)) != -1) {
		/* An empty name would silently mean "/" or the default. */
		if (optarg && !*optarg) {
			fprintf(stderr, "kheaders: empty argument to option\n");
			return -1;
		}
		switch (opt) {
		case 's':
			sysfs_root = optarg;
			break;
		case 'c':
			o->cache = optarg;
			break;
		case 'f':
			o->force = true;
			break;
		case 'l':
			o->load = true;
			break;
		case OPT_MAX_BYTES:
		case OPT_MAX_ENTRIES:
			if (!parse_number(optarg, opt == OPT_MAX_BYTES ?
					  &o->max_bytes : &o->max_entries) ||
			    (opt == OPT_MAX_ENTRIES &&
			     o->max_entries > (unsigned long)-1)) {
				fprintf(stderr, "kheaders: %s: not a positive number\n",
					optarg);
				return -1;
			}
			break;
		case 'h':
			return -2;
		default:
			return -1;
		}
	}
	return optind;
}

/* Is @cmd known, and are @args (@nargs of them) right for it? */
static bool valid_command(const char *cmd, char **args, int nargs)
{
	if (!strcmp(cmd, "info") || !strcmp(cmd, "verify"))
		return nargs == 0;
	if (!strcmp(cmd, "extract") || !strcmp(cmd, "check-version"))
		return nargs == 0 || (nargs == 1 && *args[0]);
	return !strcmp(cmd, "exec") && nargs > 0;
}

static int run(struct kheaders *kh, const char *cmd, char **args)
{
	if (!strcmp(cmd, "info"))
		return cmd_info(kh);
	if (!strcmp(cmd, "verify"))
		return cmd_verify(kh);
	if (!strcmp(cmd, "extract"))
		return cmd_extract(kh, args[0]);
	if (!strcmp(cmd, "exec"))
		return cmd_exec(kh, args);
	return cmd_check_version(kh, args[0]);
}

int main(int argc, char **argv)
{
	struct options o = { .cache = getenv("KHEADERS_CACHE_DIR") };
	struct kheaders *kh;
	char *cmd, **args;
	int i, n, ret;

	if (getenv("KHEADERS_SYSFS") && *getenv("KHEADERS_SYSFS"))
		sysfs_root = getenv("KHEADERS_SYSFS");
	/* Options up to the command, then those after it. */
	i = parse_options(argc, argv, true, &o);
	if (i >= 0 && i < argc) {
		cmd = argv[i];
		/* getopt skips argv[0]: let the command take its place. */
		argv[i] = argv[0];
		n = parse_options(argc - i, argv + i, !strcmp(cmd, "exec"), &o);
		argv[i] = cmd;
		i = n < 0 ? n : i + n;
	} else if (i >= 0) {
		i = -1;
	}
	if (i == -2) {
		print_usage(stdout);
		return fflush(stdout) ? EXIT_ERROR : 0;
	}
	if (i < 0 || !valid_command(cmd, argv + i, argc - i)) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	args = argv + i;
	kh = kheaders_new(sysfs_root);
	if (!kh || kheaders_set_cache_dir(kh, o.cache && *o.cache ?
					  o.cache : NULL)) {
		fprintf(stderr, "kheaders: out of memory\n");
		return EXIT_ERROR;
	}
	kheaders_set_force(kh, o.force);
	kheaders_set_limits(kh, o.max_bytes, o.max_entries);
	catch_signals();
	kheaders_set_cancel(kh, &caught);
	if (!kheaders_available(kh) && o.load)
		load_module();
	ret = kheaders_available(kh) ? run(kh, cmd, args) : absent();
	kheaders_free(kh);
	die_if_caught();
	/* A full disk or a closed pipe must not look like success. */
	if (fflush(stdout) || ferror(stdout) || fclose(stdout)) {
		fprintf(stderr, "kheaders: standard output: %m\n");
		return ret ? ret : EXIT_ERROR;
	}
	return ret;
}
