/* SPDX-License-Identifier: MIT */
/* The QEMU microvm driver (bg_vmm_qemu), and its internals that unit tests reach. */
#pragma once

#include <stddef.h>

#include "banger/error.h"
#include "vmm/driver.h"

/* File names inside a VM's run dir (the console is BG_VMM_CONSOLE). */
#define BG_QEMU_AGENT_SOCK "agent.sock"
#define BG_QEMU_QMP_SOCK "qmp.sock"
#define BG_QEMU_PIDFILE "qemu.pid"
#define BG_QEMU_LOG "qemu.log"
#define BG_QEMU_BINARY "qemu-system-x86_64"

/* The guest's addresses on QEMU's user network (slirp): 10.0.2.15/24, gateway 10.0.2.2, DNS
 * 10.0.2.3. Added to every QEMU guest's command line. */
#define BG_QEMU_NET_ARGS                                                                           \
    "banger.net=user banger.ip=10.0.2.15/24 banger.gw=10.0.2.2 banger.dns=10.0.2.3"

/* The driver. Its settings: accel ("auto", "kvm", "tcg"). */
extern const struct bg_vmm_driver bg_vmm_qemu;

#ifdef BANGER_TESTING
/* The argv (NULL-terminated, owned: bg_strv_free) that boots l with binary and accel
 * ("kvm" | "tcg"). Pure: no file is touched. Every path QEMU parses as an option list
 * (-chardev, -drive values) has its commas doubled; the others (-kernel, -initrd, -pidfile)
 * are given as they are. -EINVAL when l lacks a required member or -ENAMETOOLONG when a socket
 * path in run_dir does not fit a sockaddr_un. */
int bg_qemu_argv_build(const char *binary, const char *accel, const struct bg_vmm_launch *l,
                       char ***ret, struct bg_error *err);
/* "7.2.22" from the first line of `qemu-system-x86_64 --version`, into buf (len bytes). */
int bg_qemu_version_parse(const char *text, char *buf, size_t len);
#endif
