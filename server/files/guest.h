/* SPDX-License-Identifier: MIT */
/* What the file transfers share: their options (deadlines, the cancel), a short guest command
 * run to its end under a deadline, and what a guest command printed, kept for messages. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "guest/agentconn.h"

#define BG_FILES_STALL_MS (60 * 1000)     /* the guest takes no data, or sends none, this long */
#define BG_FILES_FINISH_MS (60 * 1000)    /* its tar ends this long after its input did */
#define BG_FILES_GUEST_CMD_MS (30 * 1000) /* a short guest command (mkdir, test) */
#define BG_FILES_POLL_MS 250              /* how often deadlines and the cancel are seen */
#define BG_FILES_MSG_MAX 400              /* bytes kept of what a guest command printed */
#define BG_FILES_SIGKILL 9                /* as the guest numbers it */

/* Tells a transfer to stop: fn(cls) is true once nobody waits for it (the client went away,
 * bangerd stops). Called from any thread, often: it must not block. */
struct bg_files_cancel {
    bool (*fn)(void *cls); /* NULL: never */
    void *cls;
};

/* How a transfer runs; copied by the calls that take it. */
struct bg_files_opts {
    struct bg_files_cancel cancel;
    int stall_ms;  /* 0: BG_FILES_STALL_MS */
    int finish_ms; /* 0: BG_FILES_FINISH_MS */
};

/* The start of what a guest command printed, on one line. */
struct bg_files_msg {
    char text[BG_FILES_MSG_MAX];
    size_t len;
};

/* True when c says stop. */
bool bg_files_cancelled(const struct bg_files_cancel *c);

/* Keep what fits of len bytes of output in m. */
void bg_files_msg_add(struct bg_files_msg *m, const char *buf, size_t len);
/* m's text with line breaks as spaces and no trailing blanks, or "no message". */
const char *bg_files_msg_text(struct bg_files_msg *m);

/* Run argv (no stdin) in the guest of conn to its end, within BG_FILES_GUEST_CMD_MS, with
 * the cancel polled: *ret_code is its exit code (-1 when a signal ended it) and *ret_msg what
 * it printed (both streams). Returns 0; -ETIMEDOUT or -ECANCELED (it was killed); the
 * errors of bg_agent_exec; -ECONNRESET when the VM went away. */
int bg_files_guest_run(struct bg_agent_conn *conn, const char *const *argv,
                       const struct bg_files_cancel *cancel, int *ret_code,
                       struct bg_files_msg *ret_msg, struct bg_error *err);
