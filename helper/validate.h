/* SPDX-License-Identifier: MIT */
/* Every check bangerd-root makes on what it is sent, in one place: the helper trusts nothing
 * from bangerd. Each check is a pure function of its inputs (the pid checks read /proc), so
 * the unit tests drive them from tables. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"
#include "banger/helperproto.h"
#include "banger/install.h"

/* Every operation's request, checked as a whole before anything is done: the VM name, the
 * VMM kind and its image files, the signal, the pid range, each guest's address (in the
 * subnet, not its network, broadcast or bridge address, no address twice) and each name of
 * a list. The pid's identity is bg_hv_vmm_pid's. -EINVAL (or -EPERM for a pid that is never
 * signalled) with err naming the member. */
int bg_hv_request(const struct bg_install *in, const struct bg_helper_request *r,
                  struct bg_error *err);

/* A VM name (bg_name_validate). */
int bg_hv_vm(const char *vm, struct bg_error *err);

/* The signal allowlist: TERM, KILL, INT, HUP, QUIT, USR1, USR2, ABRT, in any case, with or
 * without "SIG". Numbers, STOP, CONT, real-time and every other signal are refused (-EINVAL).
 * *ret_sig is the signal's number. */
int bg_hv_signal(const char *name, int *ret_sig, struct bg_error *err);

/* A pid that may be looked at: not 0, not 1, not the helper's own (self), at most the
 * kernel's limit. -EPERM otherwise. */
int bg_hv_pid_range(int64_t pid, pid_t self, struct bg_error *err);

/* A leased guest address (dotted IPv4) inside the install's subnet and not its network,
 * broadcast or bridge (first host) address. *ret is it in host order. */
int bg_hv_guest_address(const struct bg_install *in, const char *text, uint32_t *ret,
                        struct bg_error *err);

/* A file name inside an image's directory: 1..255 bytes of [A-Za-z0-9._-], not "." or "..". */
int bg_hv_file_name(const char *what, const char *name, struct bg_error *err);

/* The VMM binary from install.toml: lstat'ed (a symlink is refused), a regular file owned by
 * root, not writable by group or others. -EPERM with the reason, -errno when it cannot be
 * looked at. */
int bg_hv_binary(const char *path, struct bg_error *err);

/* A link name that banger's taps have: BG_HELPER_TAP_PREFIX and 12 lowercase hex digits. */
bool bg_hv_is_tap_name(const char *name);

/* argv (NUL-separated, len bytes: /proc/PID/cmdline) is a VMM banger started in runtime_dir:
 * it holds, as exact words, Firecracker's "--api-sock PATH", "--api-sock=PATH" or "-a PATH",
 * QEMU's "-qmp unix:PATH[,...]" or "-chardev socket,id=qmp,path=PATH,...", or "-pidfile
 * PATH", with PATH <runtime_dir>/vms/<a VM name>/<the driver's file>. */
bool bg_hv_vmm_argv(const char *runtime_dir, const char *argv, size_t len);

/* The process pid (with start_time) may be signalled: a VMM banger launched. One of: it is in
 * launched (n entries of pid and start time the helper recorded), its cgroup is the helper's
 * own (self_cgroup, when that is not the root "/"), or its command line passes
 * bg_hv_vmm_argv. *ret_pidfd is a pidfd of it opened before the checks and checked against
 * start_time, so the process checked is the one signalled. -EPERM when it is not banger's,
 * -ESRCH when it is gone. */
struct bg_hv_launched {
    pid_t pid;
    uint64_t start_time;
};
int bg_hv_vmm_pid(const struct bg_install *in, pid_t pid, uint64_t start_time, pid_t self,
                  const char *self_cgroup, const struct bg_hv_launched *launched, size_t n,
                  int *ret_pidfd, struct bg_error *err);
