/* SPDX-License-Identifier: MIT */
/* How bangerd-root runs a program: argv only (never a shell), a fixed clean environment, fds
 * 0-2 only, default signal mask and dispositions. Run to its end with input on stdin (nft -f
 * -), or started detached as a VMM, dropping to the owner's uid where that is asked. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "banger/error.h"

#define BG_SPAWN_ERR_MAX 2048 /* bytes of a program's stderr kept */

/* Run argv (argv[0] absolute) with input (len bytes) on its stdin, its stderr kept, killed
 * after timeout_ms. 0 when it exited 0; -EIO with err "NAME failed (exit N): STDERR" when it
 * did not; -ETIMEDOUT; -errno when it could not start. */
int bg_spawn_run(const char *const *argv, const char *input, size_t len, int timeout_ms,
                 struct bg_error *err);

/* A detached launch. Strings borrowed for the call. */
struct bg_spawn_detached {
    const char *const *argv; /* argv[0] absolute */
    int log_fd;              /* stdout and stderr go here (the caller opened it), or -1: */
    const char *log_path;    /* appended to this file, opened after the uid drop with
                              * O_NOFOLLOW (never through a symlink, never as root) */
    bool drop;               /* run as uid:gid with no supplementary groups and no new
                              * privileges; false only for the jailer, which drops itself */
    uid_t uid;
    gid_t gid;
};

/* Start s->argv in its own session, reparented away from the helper (double fork: never a
 * zombie of the helper, survives its restart). Returns its pid once exec succeeded, or the
 * -errno of the failing step with err naming it. */
int bg_spawn_detached(const struct bg_spawn_detached *s, pid_t *ret_pid, struct bg_error *err);
