/* SPDX-License-Identifier: MIT */
/* banger vm exec: run a command in a running VM over the upgraded exec stream. */
#pragma once

#include <signal.h>
#include <stdbool.h>

#include "args.h"
#include "banger/error.h"
#include "stream.h"

/* One command to run in VM vm. Strings borrowed. */
struct bg_cli_exec {
    const char *vm;
    char *const *argv; /* the command */
    int argc;
    const char *const *env; /* "K=V" */
    size_t n_env;
    const char *cwd; /* NULL: the agent's default */
    bool attach_stdin, tty;
    enum bg_cli_stream_on_signal on_signal;
    volatile sig_atomic_t *interrupted; /* ABORT mode: the signal that ended the stream */
};

/* Run x to its end with the local stdin/stdout/stderr. Returns 0 with *ret_status the
 * command's exit code (128+N when killed by signal N), or a negative errno with err set. */
int bg_cli_exec_run(const char *socket, const struct bg_cli_exec *x, int *ret_status,
                    struct bg_error *err);

/* `banger vm exec`: returns the command's status (>= 0) for the process exit code, or a
 * negative errno with err set. */
int bg_cli_exec_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err);
