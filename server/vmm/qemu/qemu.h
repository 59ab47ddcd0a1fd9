/* SPDX-License-Identifier: MIT */
/* The QEMU microvm driver's internals that unit tests reach; the driver itself is bg_vmm_qemu. */
#pragma once

#include <stddef.h>

#include "banger/error.h"
#include "vmm/driver.h"

/* File names inside a VM's run dir. */
#define BG_QEMU_AGENT_SOCK "agent.sock"
#define BG_QEMU_QMP_SOCK "qmp.sock"
#define BG_QEMU_CONSOLE "console.log"
#define BG_QEMU_PIDFILE "qemu.pid"
#define BG_QEMU_LOG "qemu.log"
#define BG_QEMU_BINARY "qemu-system-x86_64"

/* Which accelerator QEMU uses: "auto" (KVM when /dev/kvm is usable, else TCG; the default),
 * "kvm" (refuse to run without it) or "tcg". Set once at daemon start, before any probe. */
void bg_qemu_set_accel(const char *accel);

#ifdef BANGER_TESTING
/* The argv (NULL-terminated, owned: bg_strv_free) that boots l with binary and accel
 * ("kvm" | "tcg"). Pure: no file is touched. -EINVAL when l lacks a required member or
 * -ENAMETOOLONG when a socket path in run_dir does not fit a sockaddr_un. */
int bg_qemu_argv_build(const char *binary, const char *accel, const struct bg_vmm_launch *l,
                       char ***ret, struct bg_error *err);
/* "7.2.22" from the first line of `qemu-system-x86_64 --version`, into buf (len bytes). */
int bg_qemu_version_parse(const char *text, char *buf, size_t len);
#endif
