/* SPDX-License-Identifier: MIT */
/* The client side of the upgraded exec stream: the Upgrade request over the daemon's unix
 * socket (libcurl CONNECT_ONLY), then agent frames on channel 1 between the local terminal
 * or pipes and the remote command. */
#pragma once

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>

#include "banger/error.h"

struct bg_cli_stream;

/* What to do when SIGINT/SIGTERM/SIGHUP arrive during the stream. */
enum bg_cli_stream_on_signal {
    BG_CLI_STREAM_FORWARD, /* send them to the remote command (vm exec) */
    BG_CLI_STREAM_ABORT,   /* end the stream at once (vm run --rm tears the VM down) */
};

struct bg_cli_stream_opts {
    bool attach_stdin; /* send in_fd as the command's stdin, EOF as an EOF frame */
    bool tty;          /* in_fd is a terminal: raw mode, window size, SIGWINCH */
    int in_fd, out_fd, err_fd;
    enum bg_cli_stream_on_signal on_signal;
    volatile sig_atomic_t *interrupted; /* set to the signal number in ABORT mode; may be NULL */
};

/* POST path with body (borrowed) and "Upgrade: banger-exec/1" to the daemon at socket.
 * On 101 returns 0 and the stream. Otherwise fails like bg_cli_http_call (the problem's
 * detail in err, -ENOENT for 404, -EEXIST for 409, ...). */
int bg_cli_stream_open(const char *socket, const char *path, json_t *body,
                       struct bg_cli_stream **ret, struct bg_error *err);

/* Proxy until the command's EXIT frame: *ret_status is its exit code, or 128+N when killed
 * by signal N (as a shell reports it). The terminal, if made raw, is restored on every path.
 * Fails with err set when the daemon sends ERROR (-EIO), the connection breaks (-ECONNRESET;
 * err names the exec id for GET /v1/execs/ID), or, in ABORT mode, a signal came (-EINTR). */
int bg_cli_stream_run(struct bg_cli_stream *s, const struct bg_cli_stream_opts *o, int *ret_status,
                      struct bg_error *err);

/* Close the connection (the daemon then kills a command still running). Accepts NULL. */
void bg_cli_stream_free(struct bg_cli_stream *s);
