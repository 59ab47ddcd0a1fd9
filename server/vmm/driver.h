/* SPDX-License-Identifier: MIT */
/* The VMM driver seam: probe, start, agent connect, stop, describe; liveness and selection. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"

/* What one boot needs. Every string is borrowed for the call. */
struct bg_vmm_launch {
    const char *id;              /* the VM's name */
    const char *kernel, *initrd; /* kernel image; initrd (may be NULL) */
    const char *cmdline;         /* kernel command line */
    const char *rootfs;          /* read-only root disk (may be NULL) */
    const char *overlay;         /* writable per-VM disk */
    const char *workdisk;        /* work disk (may be NULL) */
    uint32_t vcpus, memory_mib;  /* size */
    const char *run_dir;         /* per-VM runtime dir, 0700 */
    bool nat;                    /* outbound network allowed */
    const char *tap;             /* host tap device for the guest's eth0 (may be NULL) */
};

/* A started VMM process. Strings are owned (bg_vmm_instance_done). */
struct bg_vmm_instance {
    pid_t pid;           /* the VMM process */
    uint64_t start_time; /* /proc/PID/stat field 22, guards pid reuse */
    char *agent_path;    /* agent channel socket */
    char *control_path;  /* QMP / Firecracker API socket */
    char *console_path;  /* console log file */
    char accel[16];      /* "kvm" | "tcg"; an addition to the brief, for describe() */
};

/* Whether a VMM can run here, and if not why. */
struct bg_vmm_probe {
    bool usable;
    char reason[256];
    char accel[16]; /* "kvm" | "tcg" */
    char version[64];
};

struct bg_vmm_driver {
    const char *name;
    /* Ask the agent to reboot, not power off, to stop the guest: Firecracker exits on guest
     * reboot (reboot=k) but keeps running after a guest poweroff on x86. */
    bool stop_by_reboot;
    /* Boots only an uncompressed ELF kernel: given the image's vmlinux when it has one. */
    bool elf_kernel_only;
    /* The BG_VMM_* bit an image's vmms must have for this driver to boot it. */
    unsigned image_vmm;
    /* Fill *ret; returns 0 (usability is in ret->usable) or a negative errno. */
    int (*probe)(struct bg_vmm_probe *ret);
    /* Start the VMM in its own session, detached from the daemon (it survives a daemon
     * crash). *ret is filled on success. */
    int (*start)(const struct bg_vmm_launch *l, struct bg_vmm_instance *ret, struct bg_error *err);
    /* Connect to the agent channel, retrying until deadline_ms (bg_now_ms clock). */
    int (*agent_connect)(const struct bg_vmm_instance *vi, int64_t deadline_ms, int *ret_fd,
                         struct bg_error *err);
    /* Wait up to timeout_ms for the process to exit on its own (the caller asked the guest to
     * power off), then force it: VMM quit command, SIGTERM, SIGKILL. Returns 0 once it is gone. */
    int (*stop)(struct bg_vmm_instance *vi, int timeout_ms, struct bg_error *err);
    /* {"pid","accel","agent_socket","control_socket","console"} (new reference). */
    json_t *(*describe)(const struct bg_vmm_instance *vi);
};

extern const struct bg_vmm_driver bg_vmm_qemu;
extern const struct bg_vmm_driver bg_vmm_firecracker;

/* Choose the driver for want ("auto" | "qemu" | "firecracker"); why (why_len bytes) says what
 * was found and why this one, e.g. "firecracker: not installed; qemu: /dev/kvm not usable (No
 * such file or directory), using TCG (slow)". -ENOENT when the wanted VMM is not usable here,
 * -ENOTSUP when it has no driver in this build, -EINVAL for an unknown name; err says why. */
int bg_vmm_select(const char *want, const struct bg_vmm_driver **ret, char *why, size_t why_len,
                  struct bg_error *err);

/* The driver called name, or NULL. */
const struct bg_vmm_driver *bg_vmm_find(const char *name);

/* Free the strings of vi and zero it; accepts a zeroed vi. */
void bg_vmm_instance_done(struct bg_vmm_instance *vi);
/* The VMM process of vi exists with the recorded start time and is not a zombie. */
bool bg_vmm_instance_alive(const struct bg_vmm_instance *vi);

/* 0 when /dev/kvm opens read-write and answers KVM_GET_API_VERSION, else -errno; -ENOTSUP
 * when the only KVM is kvm_pvm, which cannot boot ordinary kernels. */
int bg_vmm_kvm_check(void);
/* Why KVM is not usable, for a result k < 0 of bg_vmm_kvm_check(). */
const char *bg_vmm_kvm_why(int k);

/* bg_vmm_select, also handing back the chosen driver's probe (accel, version). */
int bg_vmm_select_probe(const char *want, const struct bg_vmm_driver **ret,
                        struct bg_vmm_probe *ret_probe, char *why, size_t why_len,
                        struct bg_error *err);
