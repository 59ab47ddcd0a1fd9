/* SPDX-License-Identifier: MIT */
/* One-shot exec: run a started agent session to its end, keeping a capped copy of stdout and
 * stderr while draining the rest, so the command never blocks on a full pipe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/exec.h"
#include "guest/agentconn.h"

/* Seconds a killed command gets to close its output before the session is abandoned
 * (a daemonised grandchild may hold the pipes open forever). */
#define BG_EXEC_KILL_GRACE_MS 5000

/* How a command ended and what it printed. */
struct bg_exec_output {
    char *out, *err; /* owned; at most BG_EXEC_OUTPUT_MAX bytes each */
    size_t out_len, err_len;
    bool truncated; /* more output came than was kept */
    bool timed_out; /* killed because timeout_s passed */
    bool cancelled; /* killed because the cancel callback asked (client gone, shutdown) */
    int exit_code;  /* -1 when killed by a signal or unknown */
    int signo;      /* 0 when not killed by a signal */
};

/* Asked between reads, at least twice a second: true when the command should end now (its client
 * went away, bangerd shuts down). cls is the caller's. */
typedef bool (*bg_exec_cancel_fn)(void *cls);

/* The agent's exec spec for req; every pointer borrows from req. */
void bg_exec_agent_spec(const struct bg_exec_request *req, uint16_t rows, uint16_t cols,
                        struct bg_agent_exec_spec *ret);

/* Read s to its end and wait for its exit. timeout_s 0: no limit; past it the process group
 * gets SIGKILL, and so it does once cancelled(cls) (cancelled may be NULL) returns true.
 * Returns 0 with *ret filled (caller frees with bg_exec_output_done), or a negative errno
 * (-ECONNRESET: the VM went away) with err set. */
int bg_exec_collect(struct bg_agent_session *s, uint32_t timeout_s, bg_exec_cancel_fn cancelled,
                    void *cls, struct bg_exec_output *ret, struct bg_error *err);
void bg_exec_output_done(struct bg_exec_output *o);
