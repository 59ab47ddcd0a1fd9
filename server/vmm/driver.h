/* SPDX-License-Identifier: MIT */
/* The VMM driver seam: what a driver is (probe, start, agent connect, the graceful step of the
 * stop ladder, finding an unrecorded VMM, describe, its file names), choosing one from the
 * list the daemon gives, the one stop ladder, liveness and the KVM check. Drivers know their
 * own files and options; nothing here knows a driver by name. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"

/* The guest's serial console log in a VM's run dir: every driver writes it there, so the
 * driver-neutral code reads and caps it without asking which driver ran the VM. */
#define BG_VMM_CONSOLE "console.log"

/* The daemon's settings for its drivers, given to probe and start. Strings are borrowed for
 * the call. */
struct bg_vmm_settings {
    const char *accel;            /* QEMU: "auto" (KVM when usable, else TCG), "kvm", "tcg" */
    const char *firecracker_path; /* the firecracker binary (absolute); NULL: found in PATH */
    bool firecracker_kvm_check;   /* check /dev/kvm before choosing Firecracker; false where
                                   * Firecracker reaches a KVM bangerd itself may not open */
};

/* What one boot needs. Every string is borrowed for the call. */
struct bg_vmm_launch {
    const char *id;              /* the VM's name */
    const char *kernel, *initrd; /* kernel image; initrd (may be NULL) */
    const char *cmdline;         /* kernel command line, driver-neutral: each driver adds its
                                  * own words (network, agent channel, timers) */
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
    char reason[256]; /* what was found, without the driver's name: "using KVM", "not
                       * installed", "version 1.16.1 (/usr/bin/firecracker)" */
    char accel[16];   /* "kvm" | "tcg" */
    char version[64];
};

struct bg_vmm_driver {
    const char *name;
    /* The BG_VMM_* bit an image's vmms must have for this driver to boot it. */
    unsigned image_vmm;
    /* Ask the agent to reboot, not power off, to stop the guest: Firecracker exits on guest
     * reboot (reboot=k) but keeps running after a guest poweroff on x86. */
    bool stop_by_reboot;
    /* Boots only an uncompressed ELF kernel: given the image's vmlinux when it has one. */
    bool elf_kernel_only;
    /* The VMM's own log in the run dir ("qemu.log"): kept after a stop, its tail goes into a
     * failed start's error. */
    const char *log_name;
    /* NULL-terminated names of the files a VMM of this driver leaves in its run dir (sockets,
     * pidfile), removed once it is gone; the console and the log are not among them. */
    const char *const *run_files;
    /* Fill *ret; returns 0 (usability is in ret->usable) or a negative errno. */
    int (*probe)(const struct bg_vmm_settings *s, struct bg_vmm_probe *ret);
    /* Start the VMM in its own session, detached from the daemon (it survives a daemon
     * crash), its serial console going to <run_dir>/BG_VMM_CONSOLE. *ret is filled on
     * success; on failure nothing of it runs. */
    int (*start)(const struct bg_vmm_settings *s, const struct bg_vmm_launch *l,
                 struct bg_vmm_instance *ret, struct bg_error *err);
    /* Connect to the agent channel, retrying until deadline_ms (bg_now_ms clock). */
    int (*agent_connect)(const struct bg_vmm_instance *vi, int64_t deadline_ms, int *ret_fd,
                         struct bg_error *err);
    /* The daemon died after start spawned the VMM of run_dir but before it recorded the pid:
     * vi holds what was recorded (pid 0, paths maybe NULL). Find that process from what the
     * driver left in run_dir: 0 with vi's pid and start time set and each of its NULL paths
     * filled, or -ESRCH (vi untouched). */
    int (*find_unrecorded)(const char *run_dir, struct bg_vmm_instance *vi);
    /* The driver's graceful step of the stop ladder (bg_vmm_stop): ask the VMM to end ("QMP
     * quit", Firecracker's "SendCtrlAltDel"). False when it could not be asked. */
    bool (*ask_exit)(const struct bg_vmm_instance *vi);
    const char *ask_exit_name; /* for the log: "QMP quit" */
    int ask_exit_wait_ms;      /* how long the ladder waits after asking */
    bool ask_exit_needs_guest; /* the step goes through the guest, so a forced stop skips it */
    /* {"pid","accel","agent_socket","control_socket","console"} (new reference). */
    json_t *(*describe)(const struct bg_vmm_instance *vi);
};

/* Choose from drivers (n of them, in order of preference for "auto") the one for want:
 * "auto" takes the first usable one, a driver's name that driver. The chosen driver's probe
 * goes into *ret_probe (may be NULL) and why (why_len bytes) says what was found and why this
 * one, e.g. "firecracker: not installed; qemu: /dev/kvm not usable (No such file or
 * directory), using TCG (slow)" or "configured; qemu: using KVM". -ENOENT when the wanted
 * VMM (or, for auto, every VMM) is not usable here, -EINVAL for a name that is neither auto
 * nor a driver's, -errno when a probe fails; err says why. */
int bg_vmm_select(const char *want, const struct bg_vmm_driver *const *drivers, size_t n,
                  const struct bg_vmm_settings *s, const struct bg_vmm_driver **ret,
                  struct bg_vmm_probe *ret_probe, char *why, size_t why_len, struct bg_error *err);

/* The driver of drivers (n of them) called name, or NULL. */
const struct bg_vmm_driver *bg_vmm_find(const struct bg_vmm_driver *const *drivers, size_t n,
                                        const char *name);

/* Free the strings of vi and zero it; accepts a zeroed vi. */
void bg_vmm_instance_done(struct bg_vmm_instance *vi);
/* The VMM process of vi exists with the recorded start time and is not a zombie. */
bool bg_vmm_instance_alive(const struct bg_vmm_instance *vi);

/* The one stop ladder, every step through a pidfd checked against vi's start time: wait up to
 * timeout_ms for the VMM to exit on its own (the caller asked the guest to power off), then
 * drv's graceful step (skipped when timeout_ms is 0 and it needs the guest), SIGTERM, SIGKILL,
 * each followed by a bounded wait. 0 once the process is gone (or was already: a pid that now
 * names another process is never signalled); -ETIMEDOUT when it survived SIGKILL. */
int bg_vmm_stop(const struct bg_vmm_driver *drv, const struct bg_vmm_instance *vi, int timeout_ms,
                struct bg_error *err);

/* The process that pidfile names, if its argv holds the word flag followed by the word value
 * exactly (whole words: a run dir ".../vms/a" never matches ".../vms/ab"), with its start
 * time read before and after the argv so a pid reused meanwhile is not taken. 0 with
 * *ret_pid and *ret_start_time, or -ESRCH. For drivers' find_unrecorded. */
int bg_vmm_pidfile_find(const char *pidfile, const char *flag, const char *value, pid_t *ret_pid,
                        uint64_t *ret_start_time);

/* 0 when /dev/kvm opens read-write and answers KVM_GET_API_VERSION, else -errno; -ENOTSUP
 * when the only KVM is kvm_pvm, which cannot boot ordinary kernels. */
int bg_vmm_kvm_check(void);
/* Why KVM is not usable, for a result k < 0 of bg_vmm_kvm_check(). */
const char *bg_vmm_kvm_why(int k);
