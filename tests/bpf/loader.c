// SPDX-License-Identifier: GPL-2.0
/*
 * bpf-loader: load a test BPF program compiled against the headers the
 * running kernel served, the way a tool would: check that the headers are
 * those of the running kernel first, then load with bpf(2), attach to the
 * program's kprobe, trigger it and check what it recorded.
 *
 * Usage: bpf-loader task|file OBJECT
 *
 * The version the program was compiled against is its "version" section
 * (LINUX_VERSION_CODE of the headers); the running kernel's is
 * /sys/kernel/kheaders/version_code.  Exit status: 0 when the program ran
 * and recorded the expected values, 1 when it recorded anything else,
 * 2 on a usage or load error, 3 when the versions differ.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "kheaders_bpf.h"

#define VERSION_CODE_FILE	"/sys/kernel/kheaders/version_code"
/* Opened and read by the loader once the probe is attached. */
#define TRIGGER_FILE		"/files/trigger.txt"

static int fail(int status, const char *fmt, const char *arg)
{
	fprintf(stderr, "bpf-loader: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return status;
}

static int running_version_code(unsigned int *code)
{
	FILE *f = fopen(VERSION_CODE_FILE, "r");
	int n;

	if (!f)
		return -errno;
	n = fscanf(f, "%u", code);
	fclose(f);
	return n == 1 ? 0 : -EINVAL;
}

static void print_version(const char *what, unsigned int code)
{
	fprintf(stderr, "  %s: %u.%u.%u (%u)\n", what, code >> 16,
		(code >> 8) & 0xff, code & 0xff, code);
}

/* The "version check before bpf(2) load" of a tool using kheaders. */
static int check_version(struct bpf_object *obj, const char *path)
{
	unsigned int built = bpf_object__kversion(obj), running;

	if (running_version_code(&running))
		return fail(2, "cannot read %s: is kheaders loaded?",
			    VERSION_CODE_FILE);
	if (built == running)
		return 0;
	fprintf(stderr, "bpf-loader: %s was compiled against the headers of another kernel; refusing to load it\n",
		path);
	print_version("headers", built);
	print_version("running kernel", running);
	return 3;
}

static int lookup_self(struct bpf_object *obj, void *value, size_t size)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "seen");
	__u32 key = getpid();

	if (!map)
		return -ENOENT;
	return bpf_map__lookup_elem(map, &key, sizeof(key), value, size, 0);
}

static int expect(int ok, const char *what)
{
	printf("%s - bpf: %s\n", ok ? "ok" : "not ok", what);
	return ok;
}

static int check_task(struct bpf_object *obj)
{
	struct task_seen s;
	int fd = open(TRIGGER_FILE, O_RDONLY);
	int good = 1;

	if (fd < 0)
		return fail(2, "cannot open %s", TRIGGER_FILE);
	close(fd);
	if (!expect(!lookup_self(obj, &s, sizeof(s)),
		    "task.bpf.c recorded the loader's open()"))
		return 1;
	printf("bpf: task_struct tgid=%u ppid=%u comm=%.16s; filename %s\n",
	       s.tgid, s.ppid, s.comm, s.name);
	good &= expect(s.tgid == (__u32)getpid(), "task->tgid is getpid()");
	good &= expect(s.ppid == (__u32)getppid(),
		       "task->real_parent->tgid is getppid()");
	good &= expect(!strcmp(s.comm, "bpf-loader"), "task->comm is bpf-loader");
	good &= expect(!strcmp(s.name, TRIGGER_FILE),
		       "filename->name is the opened path");
	return good ? 0 : 1;
}

static int check_file(struct bpf_object *obj)
{
	struct file_seen s;
	struct stat st;
	char buf[16];
	int fd = open(TRIGGER_FILE, O_RDONLY);
	int good = 1;

	if (fd < 0 || fstat(fd, &st) || lseek(fd, 3, SEEK_SET) != 3)
		return fail(2, "cannot open, stat or seek %s", TRIGGER_FILE);
	if (read(fd, buf, sizeof(buf)) < 0)
		return fail(2, "cannot read %s", TRIGGER_FILE);
	close(fd);
	if (!expect(!lookup_self(obj, &s, sizeof(s)),
		    "file.bpf.c recorded the loader's read()"))
		return 1;
	printf("bpf: inode i_ino=%llu i_size=%lld; file f_pos=%lld\n",
	       (unsigned long long)s.ino, (long long)s.size, (long long)s.pos);
	good &= expect(s.ino == st.st_ino, "file->f_inode->i_ino is st_ino");
	good &= expect(s.size == st.st_size, "file->f_inode->i_size is st_size");
	good &= expect(s.pos == 3, "file->f_pos is the lseek() offset");
	return good ? 0 : 1;
}

/* Is @fn a function of the running kernel (in /proc/kallsyms)? */
static int kernel_has(const char *fn)
{
	char line[512], *name;
	FILE *f = fopen("/proc/kallsyms", "r");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\t\n")] = '\0';
		name = strrchr(line, ' ');
		found = name && !strcmp(name + 1, fn);
	}
	fclose(f);
	return found;
}

/*
 * task.bpf.c probes the function that opens a struct filename: mainline
 * renamed do_filp_open() to do_file_open(), which LTS kernels lack.
 */
static struct bpf_link *attach(struct bpf_program *prog)
{
	if (strcmp(bpf_program__section_name(prog), "kprobe/do_filp_open") ||
	    !kernel_has("do_file_open"))
		return bpf_program__attach(prog);
	return bpf_program__attach_kprobe(prog, false, "do_file_open");
}

int main(int argc, char **argv)
{
	int (*run)(struct bpf_object *obj);
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct bpf_link *link;
	int status;

	if (argc != 3)
		return fail(2, "usage: %s task|file OBJECT", argv[0]);
	if (!strcmp(argv[1], "task"))
		run = check_task;
	else if (!strcmp(argv[1], "file"))
		run = check_file;
	else
		return fail(2, "unknown program kind %s", argv[1]);

	obj = bpf_object__open_file(argv[2], NULL);
	if (!obj)
		return fail(2, "cannot open %s", argv[2]);
	status = check_version(obj, argv[2]);
	if (status)
		goto out;
	/* libbpf passes the version section to bpf(2) as kern_version. */
	if (bpf_object__load(obj)) {
		status = fail(2, "cannot load %s", argv[2]);
		goto out;
	}
	prog = bpf_object__next_program(obj, NULL);
	link = prog ? attach(prog) : NULL;
	if (!link) {
		status = fail(2, "cannot attach the program of %s", argv[2]);
		goto out;
	}
	status = run(obj);
	bpf_link__destroy(link);
out:
	bpf_object__close(obj);
	return status;
}
