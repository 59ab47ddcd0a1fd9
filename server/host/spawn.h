/* SPDX-License-Identifier: MIT */
/* Running a host program to its end: argv only (never a shell), its output read through pipes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "banger/error.h"

#define BG_SPAWN_POLL_MS 250 /* how often a running program checks cancelled() */

/* Takes one chunk the program wrote to stdout or stderr. A negative return (with err set) stops
 * the run: the pipes are closed, the program is waited for, and that return is the result. */
typedef int (*bg_spawn_sink_fn)(void *userdata, const char *buf, size_t len, struct bg_error *err);

/* How to run one program. Everything is borrowed for the call. */
struct bg_spawn_opts {
    const char *const *argv; /* NULL-terminated; argv[0] also names it in messages */
    const char *file;        /* the executable; NULL: argv[0] searched in bangerd's PATH */
    const char *cwd;         /* working directory; NULL: bangerd's */
    char *const *env;        /* the environment; NULL: bangerd's own */
    bool own_pgroup;         /* start a process group, so cancelling stops what it started */
    bool (*cancelled)(void *userdata); /* NULL: never; true: cancel_signal to the program */
    int cancel_signal;                 /* sent (to the group) on cancel; 0: SIGTERM */
    int out_fd;                        /* stdout goes to this fd; -1: to on_out */
    bg_spawn_sink_fn on_out;           /* stdout chunks when out_fd is -1 */
    bg_spawn_sink_fn on_err;           /* stderr chunks */
    void *userdata;                    /* passed to cancelled, on_out and on_err */
};

/* Run o->argv to its end with stdin /dev/null, an empty signal mask, default signal
 * dispositions and only fds 0-2 open. Returns 0 with *ret_status (as from waitpid) once it
 * ended, whatever its status; -errno with err "cannot run NAME: reason" when it could not
 * start, a sink's error, or -errno for a failed pipe, poll or wait. */
int bg_spawn_run(const struct bg_spawn_opts *o, int *ret_status, struct bg_error *err);
