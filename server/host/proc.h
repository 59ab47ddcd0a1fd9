/* SPDX-License-Identifier: MIT */
/* Processes for the VMM drivers and disk tools: spawn (attached or detached), pid identity by
 * start time, pidfd waits and signals, PATH lookup. Never a shell: argv arrays only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"

/* Parse the text of /proc/PID/stat: the state letter (field 3) and the start time (field 22,
 * clock ticks after boot). The command name (field 2) may hold spaces and parentheses; the
 * last ')' ends it. Returns 0 or -EBADMSG. */
int bg_proc_stat_parse(const char *text, char *ret_state, uint64_t *ret_start_time,
                       struct bg_error *err);

/* State letter and start time of pid from /proc. -ESRCH when there is no such process. */
int bg_proc_stat(pid_t pid, char *ret_state, uint64_t *ret_start_time, struct bg_error *err);

/* A pidfd (O_CLOEXEC) for pid, verified to be the process started at start_time and not yet
 * exited: opening first and checking after means a reused pid is never signalled.
 * -ESRCH when that process is gone (or the pid now names another one). */
int bg_proc_pidfd_open(pid_t pid, uint64_t start_time, int *ret_fd, struct bg_error *err);

/* Wait up to timeout_ms for the process behind pidfd to exit. Returns 1 exited, 0 not yet. */
int bg_proc_pidfd_wait(int pidfd, int timeout_ms);

/* Send sig through pidfd. -ESRCH when it has already exited. */
int bg_proc_pidfd_signal(int pidfd, int sig, struct bg_error *err);

/* The absolute path of program name in $PATH (or the usual sbin/bin directories), or -ENOENT.
 * *ret is owned by the caller. */
int bg_proc_find_program(const char *name, char **ret, struct bg_error *err);

/* Run argv (argv[0] an absolute path or found in PATH) to completion through bg_spawn_run, in
 * its own process group, with stdin /dev/null and a minimal environment, capturing up to
 * out_len - 1 bytes of stdout and stderr as they arrive into out (NUL terminated; out may be
 * NULL). The group is killed (SIGKILL) after timeout_ms: -ETIMEDOUT. Returns the exit status
 * (>= 0; a signal gives 128 + signo) or a negative errno when it could not be run. */
int bg_proc_run(const char *const *argv, int timeout_ms, char *out, size_t out_len,
                struct bg_error *err);

/* Start argv (argv[0] absolute) detached: in its own session, reparented away from the daemon
 * (double fork) so it outlives it and never needs reaping, stdin /dev/null, stdout and stderr
 * appended to log_path, default signal dispositions and mask, only fds 0-2 open, a minimal
 * environment. Returns its pid once exec succeeded, or -errno of the failing step. */
int bg_proc_spawn_detached(const char *const *argv, const char *log_path, pid_t *ret_pid,
                           struct bg_error *err);
