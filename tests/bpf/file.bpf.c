// SPDX-License-Identifier: GPL-2.0
/*
 * At vfs_read(), record fields of the struct file being read and of its
 * struct inode, for the loader to compare with fstat() and lseek().
 */
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
	__type(value, struct file_seen);
} seen SEC(".maps");

SEC("kprobe/vfs_read")
int BPF_KPROBE(on_vfs_read, struct file *file)
{
	__u32 key = bpf_get_current_pid_tgid() >> 32;
	struct file_seen s = {};
	struct inode *inode;

	bpf_probe_read_kernel(&inode, sizeof(inode), &file->f_inode);
	bpf_probe_read_kernel(&s.ino, sizeof(s.ino), &inode->i_ino);
	bpf_probe_read_kernel(&s.size, sizeof(s.size), &inode->i_size);
	bpf_probe_read_kernel(&s.pos, sizeof(s.pos), &file->f_pos);
	bpf_map_update_elem(&seen, &key, &s, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
__u32 _version SEC("version") = LINUX_VERSION_CODE;
