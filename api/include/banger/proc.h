/* SPDX-License-Identifier: MIT */
/* Process identity: a pid names our process only with the start time recorded for it, and
 * every wait and signal goes through a pidfd opened and then checked against that time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"
#include "banger/macro.h"

#define BG_PROC_CMDLINE_MAX (128 * 1024) /* bytes of /proc/PID/cmdline looked at */
#define BG_PROC_PID_MAX (1u << 22)       /* the kernel's PID_MAX_LIMIT */
#define BG_PROC_CGROUP_MAX 512           /* bytes of a cgroup v2 path kept */

/* Parse the text of /proc/PID/stat: the state letter (field 3) and the start time (field 22,
 * clock ticks after boot). The command name (field 2) may hold spaces and parentheses; the
 * last ')' ends it. Returns 0 or -EBADMSG. */
BG_PUBLIC int bg_proc_stat_parse(const char *text, char *ret_state, uint64_t *ret_start_time,
                                 struct bg_error *err);

/* State letter and start time of pid from /proc. -ESRCH when there is no such process. */
BG_PUBLIC int bg_proc_stat(pid_t pid, char *ret_state, uint64_t *ret_start_time,
                           struct bg_error *err);

/* A pidfd (O_CLOEXEC) for pid, verified to be the process started at start_time and not yet
 * exited: opening first and checking after means a reused pid is never signalled.
 * -ESRCH when that process is gone (or the pid now names another one). */
BG_PUBLIC int bg_proc_pidfd_open(pid_t pid, uint64_t start_time, int *ret_fd, struct bg_error *err);

/* Wait up to timeout_ms for the process behind pidfd to exit. Returns 1 exited, 0 not yet. */
BG_PUBLIC int bg_proc_pidfd_wait(int pidfd, int timeout_ms);

/* Send sig through pidfd. -ESRCH when it has already exited. */
BG_PUBLIC int bg_proc_pidfd_signal(int pidfd, int sig, struct bg_error *err);

/* /proc/PID/cmdline: at most BG_PROC_CMDLINE_MAX bytes of NUL-separated words, *ret_len bytes
 * in *ret (owned). -errno when it cannot be read (-ENOENT: no such process). */
BG_PUBLIC int bg_proc_cmdline_read(pid_t pid, char **ret, size_t *ret_len);

/* argv (NUL-separated words, len bytes) holds the word flag immediately followed by the word
 * value, whole words only (a run dir ".../vms/a" never matches ".../vms/ab"); a last word cut
 * off by the length cap is no word. */
BG_PUBLIC bool bg_proc_argv_has(const char *argv, size_t len, const char *flag, const char *value);

/* argv holds the single word "<flag>=<value>" (for --api-sock=PATH). */
BG_PUBLIC bool bg_proc_argv_has_joined(const char *argv, size_t len, const char *flag,
                                       const char *value);

/* The cgroup v2 path of pid (the "0::" line of /proc/PID/cgroup, e.g.
 * "/system.slice/bangerd-root.service") into buf (len bytes). -ESRCH when there is no such
 * process, -ENOENT when it has no cgroup v2 line, -ENAMETOOLONG when it does not fit. */
BG_PUBLIC int bg_proc_cgroup(pid_t pid, char *buf, size_t len);
