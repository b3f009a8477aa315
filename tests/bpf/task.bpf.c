// SPDX-License-Identifier: GPL-2.0
/*
 * At do_filp_open() (do_file_open() on mainline; the loader picks the
 * one the kernel has), record fields of struct task_struct and struct
 * filename for the opening task.  The field offsets come from the headers
 * the kernel served: wrong headers give wrong values, which the loader
 * checks against what it knows of itself.
 */
#include <linux/sched.h>
#include <linux/fs.h>
#include <linux/version.h>
#include <uapi/linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kheaders_bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct task_seen);
} seen SEC(".maps");

SEC("kprobe/do_filp_open")
int BPF_KPROBE(on_do_filp_open, int dfd, struct filename *pathname)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 key = bpf_get_current_pid_tgid() >> 32;
	struct task_struct *parent;
	struct task_seen s = {};
	const char *name;

	bpf_probe_read_kernel(&s.tgid, sizeof(s.tgid), &task->tgid);
	bpf_probe_read_kernel(&parent, sizeof(parent), &task->real_parent);
	bpf_probe_read_kernel(&s.ppid, sizeof(s.ppid), &parent->tgid);
	bpf_probe_read_kernel_str(s.comm, sizeof(s.comm), task->comm);
	bpf_probe_read_kernel(&name, sizeof(name), &pathname->name);
	bpf_probe_read_kernel_str(s.name, sizeof(s.name), name);
	bpf_map_update_elem(&seen, &key, &s, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
__u32 _version SEC("version") = LINUX_VERSION_CODE;
