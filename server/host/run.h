/* SPDX-License-Identifier: MIT */
/* The one way bangerd runs a host program: argv only (never a shell), a clean environment, its
 * own process group, stdin /dev/null, only fds 0-2, default signal dispositions and mask. Run to
 * the end with its output captured (bg_run), or started detached to outlive the daemon
 * (bg_run_detached). The one PATH search is bg_run_find_program. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "banger/error.h"

#define BG_RUN_ERR_MAX 4096          /* bytes of stderr kept: the tail, where errors end up */
#define BG_RUN_OUT_DEFAULT (1 << 20) /* bytes of stdout kept when the caller names no cap */
#define BG_RUN_POLL_MS 250 /* how often a running program's deadline and cancel are seen */

/* The environment a program gets unless the caller gives another: a fixed PATH and the C
 * locale. NULL-terminated, static. */
extern char *const bg_run_clean_env[];

/* How to run one program. Everything is borrowed for the call. */
struct bg_run_opts {
    const char *const *argv;      /* NULL-terminated; argv[0] is found with bg_run_find_program
                                   * unless it holds a '/'; it also names the program in messages */
    const char *cwd;              /* working directory; NULL: bangerd's */
    char *const *env;             /* the environment; NULL: bg_run_clean_env */
    int timeout_ms;               /* > 0: past it the group gets SIGKILL and bg_run -ETIMEDOUT */
    bool (*cancelled)(void *cls); /* NULL: never; true: the group gets SIGKILL, -ECANCELED */
    void *cls;                    /* for cancelled and on_output */
    void (*on_output)(void *cls, int stream, const char *buf,
                      size_t n); /* NULL: none; else
                                  * called with each chunk read from stdout (stream 1, when
                                  * out_fd < 0) or stderr (2), as it arrives */
    int out_fd;                  /* >= 0: stdout goes to this fd instead of being kept */
    size_t out_max;              /* bytes of stdout kept (0: BG_RUN_OUT_DEFAULT); the rest is
                                  * read and dropped, and out_truncated set */
};

/* What a program that ran to its end left behind. Release with bg_run_result_done. */
struct bg_run_result {
    int status;                   /* exit code 0..255, or 128 + the signal that killed it */
    char *out;                    /* stdout, NUL-terminated, owned ("" when out_fd took it) */
    size_t out_len;               /* bytes in out */
    bool out_truncated;           /* stdout was longer than out_max */
    char err[BG_RUN_ERR_MAX + 1]; /* the last BG_RUN_ERR_MAX bytes of stderr, NUL-terminated */
    size_t err_len;               /* bytes in err */
};

/* Run o->argv to its end. Returns 0 with *ret filled (whatever the exit status; the caller's to
 * release), or: -ENOENT and other -errno with err "cannot run NAME: reason" when it could not
 * start; -ETIMEDOUT / -ECANCELED when it was killed for the deadline or the cancel (*ret is then
 * empty); -errno for a failed pipe, poll or wait. */
int bg_run(const struct bg_run_opts *o, struct bg_run_result *ret, struct bg_error *err);

/* bg_run, and an exit status other than 0 is -EIO with err "NAME failed (exit N): LINE", LINE
 * being the last line of stderr (or of stdout when stderr was empty). */
int bg_run_ok(const struct bg_run_opts *o, struct bg_run_result *ret, struct bg_error *err);

/* The last non-empty line of r's stderr (else of its stdout) into buf (len bytes), "" when
 * there is none. Returns buf. */
const char *bg_run_last_line(const struct bg_run_result *r, char *buf, size_t len);

/* Free what r owns and zero it; accepts a zeroed r. */
void bg_run_result_done(struct bg_run_result *r);

/* The absolute path of program name (one without a '/') in $PATH, then in the usual sbin and bin
 * directories; a name with a '/' must itself be executable. *ret is the caller's. -ENOENT with
 * err saying where it looked. */
int bg_run_find_program(const char *name, char **ret, struct bg_error *err);

/* Start argv (argv[0] absolute) detached: in its own session, reparented away from the daemon
 * (double fork) so it outlives it and never needs reaping, stdin /dev/null, stdout and stderr
 * appended to log_path, the clean environment, default signal dispositions and mask, only fds
 * 0-2. Returns its pid once exec succeeded, or -errno of the failing step. */
int bg_run_detached(const char *const *argv, const char *log_path, pid_t *ret_pid,
                    struct bg_error *err);
