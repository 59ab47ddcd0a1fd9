/* SPDX-License-Identifier: MIT */
/* Archive pieces -> the guest's tar -x, watched by a thread that drains its output (counting
 * the members it lists) and enforces the deadlines and the cancel. */
#include "files/put.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/problem.h"
#include "banger/timefmt.h"

#define KILL_GRACE_MS 5000 /* after SIGKILL, how long the guest may take to end its output */

/* Why the tar was killed; the first reason wins. */
enum stop {
    STOP_NONE,
    STOP_CANCELLED, /* the cancel */
    STOP_STALLED,   /* a write waited stall_ms */
    STOP_LATE,      /* no end finish_ms after the input's */
    STOP_ABANDONED, /* freed before its end */
};

struct bg_files_put {
    struct bg_agent_session *sess;
    struct bg_files_opts opts;
    pthread_t drain;
    bool draining;                    /* the drain thread runs (join it) */
    bool finished;                    /* bg_files_put_finish ran */
    atomic_int_least64_t write_since; /* bg_now_ms when the pending write began, 0: none */
    atomic_int_least64_t finish_by;   /* 0 until the input ended, then the end's deadline */
    atomic_int stop;                  /* enum stop */
    uint64_t bytes;
    uint64_t lines;          /* '\n' in the tar's stdout: the members it listed (drain's) */
    struct bg_files_msg msg; /* what it printed on stderr (drain's) */
    int read_err;            /* how the drain ended: 0 at the end of output, else -errno */
};

static void stop_tar(struct bg_files_put *p, enum stop why)
{
    int none = STOP_NONE;

    if (atomic_compare_exchange_strong(&p->stop, &none, (int)why))
        (void)bg_agent_session_signal(p->sess, BG_FILES_SIGKILL, NULL);
}

/* What ought to stop the tar now, STOP_NONE when nothing. */
static enum stop watch(struct bg_files_put *p)
{
    int64_t now = bg_now_ms();
    int64_t since = atomic_load(&p->write_since);
    int64_t by = atomic_load(&p->finish_by);

    if (bg_files_cancelled(&p->opts.cancel))
        return STOP_CANCELLED;
    if (since && now - since >= p->opts.stall_ms)
        return STOP_STALLED;
    if (by && now >= by)
        return STOP_LATE;
    return STOP_NONE;
}

static void take_output(struct bg_files_put *p, int stream, const char *buf, size_t n)
{
    if (stream == 2) {
        bg_files_msg_add(&p->msg, buf, n);
        return;
    }
    for (const char *c = buf; (c = memchr(c, '\n', n - (size_t)(c - buf))); c++)
        p->lines++;
}

static void *drain_main(void *arg)
{
    struct bg_files_put *p = arg;
    int64_t killed_at = 0;
    struct bg_error err;
    char buf[8192];

    for (;;) {
        int stream = 0;
        ssize_t n = bg_agent_session_read(p->sess, &stream, buf, sizeof(buf),
                                          bg_now_ms() + BG_FILES_POLL_MS, &err);
        if (n > 0) {
            take_output(p, stream, buf, (size_t)n);
            continue;
        }
        if (n != -ETIMEDOUT) {
            p->read_err = (int)n;
            return NULL;
        }
        if (atomic_load(&p->stop) != STOP_NONE && !killed_at)
            killed_at = bg_now_ms();
        enum stop why = killed_at ? STOP_NONE : watch(p);
        if (why != STOP_NONE) {
            stop_tar(p, why);
            killed_at = bg_now_ms();
        } else if (killed_at && bg_now_ms() - killed_at >= KILL_GRACE_MS) {
            p->read_err = -ETIMEDOUT; /* not even SIGKILL got an answer */
            return NULL;
        }
    }
}

/* mkdir -p dir in the guest. */
static int make_dir(struct bg_agent_conn *conn, const char *dir, const struct bg_files_opts *o,
                    struct bg_error *err)
{
    const char *argv[] = {"mkdir", "-p", dir, NULL};
    struct bg_files_msg msg;
    int code = 0;
    int r = bg_files_guest_run(conn, argv, &o->cancel, &code, &msg, err);

    if (r < 0)
        return r;
    if (code != 0)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_FILES_FAILED),
                            "cannot make the directory in the guest: %s", bg_files_msg_text(&msg));
    return 0;
}

int bg_files_put_begin(struct bg_agent_conn *conn, const char *dir,
                       const struct bg_files_opts *opts, struct bg_files_put **ret,
                       struct bg_error *err)
{
    const char *argv[] = {"tar", "-x", "-o", "-v", "-C", dir, "-f", "-", NULL};
    struct bg_agent_exec_spec spec = {.argv = argv, .cwd = "/", .stdin = true};
    struct bg_files_put *p;
    int r;

    if ((r = make_dir(conn, dir, opts, err)) < 0)
        return r;
    p = bg_calloc(1, sizeof(*p));
    p->opts = *opts;
    p->opts.stall_ms = opts->stall_ms > 0 ? opts->stall_ms : BG_FILES_STALL_MS;
    p->opts.finish_ms = opts->finish_ms > 0 ? opts->finish_ms : BG_FILES_FINISH_MS;
    if ((r = bg_agent_exec(conn, &spec, &p->sess, err)) < 0) {
        free(p);
        return r;
    }
    if ((r = pthread_create(&p->drain, NULL, drain_main, p)) != 0) {
        bg_files_put_free(p);
        return bg_error_set(err, -r, "cannot start a thread: %s", strerror(r));
    }
    p->draining = true;
    *ret = p;
    return 0;
}

int bg_files_put_write(struct bg_files_put *p, const void *buf, size_t len, struct bg_error *err)
{
    int r;

    if (bg_files_cancelled(&p->opts.cancel)) {
        stop_tar(p, STOP_CANCELLED);
        return bg_error_set(err, -ECANCELED, "cancelled: the guest's tar was killed");
    }
    if (atomic_load(&p->stop) != STOP_NONE)
        return bg_error_set(err, -EPIPE, "the guest's tar was stopped");
    atomic_store(&p->write_since, bg_now_ms());
    r = bg_agent_session_write(p->sess, buf, len, err);
    atomic_store(&p->write_since, 0);
    if (r == 0)
        p->bytes += len;
    return r;
}

/* The message of a tar the watchdog killed. */
static int stop_error(const struct bg_files_put *p, enum stop why, struct bg_error *err)
{
    switch (why) {
    case STOP_CANCELLED:
        return bg_error_set(err, -ECANCELED,
                            "the transfer was cancelled and the guest's tar was killed");
    case STOP_STALLED:
        return bg_error_set(err, -ETIMEDOUT,
                            "the guest took no data for %d ms: its tar was killed (is the VM hung "
                            "or its disk full?)",
                            p->opts.stall_ms);
    default:
        return bg_error_set(err, -ETIMEDOUT,
                            "tar in the guest did not finish within %d ms of its input's end: it "
                            "was killed",
                            p->opts.finish_ms);
    }
}

/* Join the drain thread once the tar's output ended. */
static void join_drain(struct bg_files_put *p)
{
    if (p->draining) {
        (void)pthread_join(p->drain, NULL);
        p->draining = false;
    }
}

int bg_files_put_finish(struct bg_files_put *p, struct bg_files_result *ret, struct bg_error *err)
{
    struct bg_error e2;
    int code = -1, sig = 0;

    p->finished = true;
    /* -EPIPE: the tar already ended; its exit says why */
    int r = bg_agent_session_close_stdin(p->sess, &e2);
    atomic_store(&p->finish_by, bg_now_ms() + p->opts.finish_ms);
    join_drain(p);
    enum stop why = (enum stop)atomic_load(&p->stop);
    int w = bg_agent_session_wait(p->sess, bg_now_ms() + KILL_GRACE_MS, &code, &sig, &e2);
    if (why != STOP_NONE)
        return stop_error(p, why, err);
    if (w < 0 || (r < 0 && r != -EPIPE))
        return bg_error_set(err, w < 0 ? w : r, "%s", e2.msg);
    if (p->read_err < 0)
        return bg_error_set(err, p->read_err, "tar in the guest: its output ended badly");
    if (code != 0 || sig)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_FILES_FAILED),
                            "tar in the guest failed (%s %d): %s", sig ? "signal" : "exit",
                            sig ? sig : code, bg_files_msg_text(&p->msg));
    *ret = (struct bg_files_result){.files = p->lines, .bytes = p->bytes};
    return 0;
}

void bg_files_put_free(struct bg_files_put *p)
{
    if (!p)
        return;
    if (!p->finished)
        stop_tar(p, STOP_ABANDONED);
    join_drain(p);
    bg_agent_session_free(p->sess);
    free(p);
}
