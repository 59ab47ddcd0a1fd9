/* SPDX-License-Identifier: MIT */
/* Process identity: a pid names our process only with the start time recorded for it, and
 * every wait and signal goes through a pidfd opened and then checked against that time. */
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
