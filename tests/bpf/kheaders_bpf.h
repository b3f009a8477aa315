/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the test BPF programs record, shared with the loader that reads it
 * back from their map, keyed by the tgid of the task that hit the probe.
 */
#ifndef _KHEADERS_BPF_H
#define _KHEADERS_BPF_H

#include <linux/types.h>

#define SEEN_NAME_LEN	64

/* task.bpf.c, at do_filp_open() or do_file_open(): struct task_struct, struct filename */
struct task_seen {
	__u32 tgid;
	__u32 ppid;
	char comm[16];
	char name[SEEN_NAME_LEN];
};

/* file.bpf.c, at vfs_read(): struct file, struct inode */
struct file_seen {
	__u64 ino;
	__s64 size;
	__s64 pos;
};

#endif /* _KHEADERS_BPF_H */
