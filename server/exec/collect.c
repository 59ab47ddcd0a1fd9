/* SPDX-License-Identifier: MIT */
/* One-shot exec: capped collection of a session's output, timeout and exit status. */
#include "exec/collect.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"

#define READ_CHUNK (64 * 1024)
#define POLL_MS 500 /* how often a blocked read looks at the timeout and the cancel callback */

void bg_exec_agent_spec(const struct bg_exec_request *req, uint16_t rows, uint16_t cols,
                        struct bg_agent_exec_spec *ret)
{
    *ret = (struct bg_agent_exec_spec){
        .argv = (const char *const *)req->argv,
        .env = req->envc ? (const char *const *)req->env : NULL,
        .cwd = req->cwd,
        .tty = req->tty,
        .stdin = req->attach_stdin,
        .rows = rows,
        .cols = cols,
    };
}

void bg_exec_output_done(struct bg_exec_output *o)
{
    free(o->out);
    free(o->err);
    *o = (struct bg_exec_output){0};
}

static void keep(char **buf, size_t *len, const char *data, size_t n, bool *truncated)
{
    size_t room = BG_EXEC_OUTPUT_MAX - *len;

    if (n > room) {
        *truncated = true;
        n = room;
    }
    if (n == 0)
        return;
    *buf = bg_realloc(*buf, *len + n + 1);
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* Kill the command once (timeout or shutdown) and start the grace period. */
static void kill_once(struct bg_agent_session *s, int64_t *kill_deadline)
{
    if (*kill_deadline)
        return;
    (void)bg_agent_session_signal(s, SIGKILL, NULL);
    *kill_deadline = bg_now_ms() + BG_EXEC_KILL_GRACE_MS;
}

/* Drain stdout/stderr until both end. Returns 0, 1 when abandoned after a kill, or <0. */
static int drain(struct bg_agent_session *s, int64_t deadline, bg_exec_cancel_fn cancelled,
                 void *cls, struct bg_exec_output *o, int64_t *kill_deadline, struct bg_error *err)
{
    bg_autofree char *buf = bg_malloc(READ_CHUNK);

    for (;;) {
        int64_t now = bg_now_ms();
        if (deadline && now >= deadline && !*kill_deadline) {
            o->timed_out = true;
            kill_once(s, kill_deadline);
        }
        if (!*kill_deadline && cancelled && cancelled(cls)) {
            o->cancelled = true;
            kill_once(s, kill_deadline);
        }
        if (*kill_deadline && now >= *kill_deadline)
            return 1;
        int stream = 1;
        ssize_t n = bg_agent_session_read(s, &stream, buf, READ_CHUNK, now + POLL_MS, err);
        if (n == -ETIMEDOUT)
            continue;
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0;
        if (stream == 2)
            keep(&o->err, &o->err_len, buf, (size_t)n, &o->truncated);
        else
            keep(&o->out, &o->out_len, buf, (size_t)n, &o->truncated);
    }
}

int bg_exec_collect(struct bg_agent_session *s, uint32_t timeout_s, bg_exec_cancel_fn cancelled,
                    void *cls, struct bg_exec_output *ret, struct bg_error *err)
{
    struct bg_exec_output o = {.exit_code = -1};
    int64_t deadline = timeout_s ? bg_now_ms() + (int64_t)timeout_s * 1000 : 0;
    int64_t kill_deadline = 0;
    int r = drain(s, deadline, cancelled, cls, &o, &kill_deadline, err);

    if (r < 0) {
        bg_exec_output_done(&o);
        return r;
    }
    /* Both streams ended: the exit status follows at once, unless output was abandoned. */
    int64_t wait_deadline = bg_now_ms() + (r == 1 ? 100 : BG_EXEC_KILL_GRACE_MS);
    if (deadline && !o.timed_out && deadline > wait_deadline)
        wait_deadline = deadline;
    r = bg_agent_session_wait(s, wait_deadline, &o.exit_code, &o.signo, err);
    if (r == -ETIMEDOUT) {
        kill_once(s, &kill_deadline);
        o.timed_out = o.timed_out || deadline;
        r = bg_agent_session_wait(s, bg_now_ms() + BG_EXEC_KILL_GRACE_MS, &o.exit_code, &o.signo,
                                  err);
    }
    if (r < 0) {
        bg_exec_output_done(&o);
        return r;
    }
    *ret = o;
    return 0;
}
