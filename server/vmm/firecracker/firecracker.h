/* SPDX-License-Identifier: MIT */
/* The Firecracker driver (bg_vmm_firecracker), and its internals that unit tests reach. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "banger/error.h"
#include "vmm/driver.h"
#include "vmm/firecracker/fcversion.h"

/* File names inside a VM's run dir. */
#define BG_FC_API_SOCK "api.sock"
#define BG_FC_VSOCK "v.sock"
#define BG_FC_LOG "firecracker.log"     /* --log-path; the console (its stdout) is BG_VMM_CONSOLE */
#define BG_FC_PIDFILE "firecracker.pid" /* written by the driver right after the spawn */
#define BG_FC_GUEST_CID 3
/* The agent listens on vsock (agent/listener.h); a guest reboot ends Firecracker (x86). */
#define BG_FC_BOOT_ARGS_EXTRA "banger.agent=vsock reboot=k panic=1"

/* The driver. Its settings: firecracker_path, firecracker_kvm_check. */
extern const struct bg_vmm_driver bg_vmm_firecracker;

/* Run `<path> --version` (path NULL: "firecracker" found in PATH) and parse it. *ret_bin
 * (owned) is the binary's absolute path. -ENOENT when it is not installed; -EBADMSG when its
 * output is not a version. */
int bg_firecracker_version(const char *path, char **ret_bin, struct bg_fc_version *ret,
                           struct bg_error *err);

/* 0 when path starts with the ELF magic (or cannot be read: Firecracker then refuses it with
 * its own fault_message); -ENOEXEC with a message that says what to do
 * otherwise (Firecracker 1.16 on x86_64 loads only an uncompressed ELF vmlinux). */
int bg_firecracker_kernel_check(const char *path, struct bg_error *err);

#ifdef BANGER_TESTING
/* The argv (NULL-terminated, owned: bg_strv_free) of a launch. */
char **bg_firecracker_argv(const char *binary, const char *id, const char *run_dir);
/* The JSON bodies of the boot sequence, in order: each element {"path":..., "body":...}.
 * /network-interfaces/eth0 only when l->tap is set. New reference. */
json_t *bg_firecracker_boot_requests(const struct bg_vmm_launch *l);
#endif
