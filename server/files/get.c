/* SPDX-License-Identifier: MIT */
/* The guest's tar -c, read as the client takes it: stdout is the archive, stderr its message. */
#include "files/get.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "banger/alloc.h"
#include "banger/problem.h"
#include "banger/timefmt.h"

#define END_MS 5000 /* after the archive's last byte, how long the tar may take to exit */

struct bg_files_get {
    struct bg_agent_session *sess;
    struct bg_files_opts opts;
    struct bg_files_msg msg; /* what the tar printed on stderr */
    uint64_t bytes;
    int failed;                 /* the first failure (< 0), repeated to every later call */
    struct bg_error failed_err; /* its message */
    bool done;                  /* the archive ended and the tar exited 0 */
};

int bg_files_get_check(struct bg_agent_conn *conn, const struct bg_files_path *path,
                       const struct bg_files_cancel *cancel, struct bg_error *err)
{
    /* the path is an argument, never shell text */
    const char *argv[] = {"sh", "-c", "test -e \"$1\" || test -L \"$1\"", "sh", path->path, NULL};
    struct bg_files_msg msg;
    int code = 0;
    int r = bg_files_guest_run(conn, argv, cancel, &code, &msg, err);

    if (r < 0)
        return r;
    if (code == 1)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_PATH_NOT_FOUND),
                            "no file or directory '%s' in the guest", path->path);
    if (code != 0)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_FILES_FAILED),
                            "cannot look for '%s' in the guest (exit %d): %s", path->path, code,
                            bg_files_msg_text(&msg));
    return 0;
}

int bg_files_get_begin(struct bg_agent_conn *conn, const struct bg_files_path *path,
                       const struct bg_files_opts *opts, struct bg_files_get **ret,
                       struct bg_error *err)
{
    const char *argv[] = {"tar", "-c", "-f", "-", "-C", path->parent, path->base, NULL};
    struct bg_agent_exec_spec spec = {.argv = argv, .cwd = "/"};
    struct bg_files_get *g;
    int r;

    if ((r = bg_files_get_check(conn, path, &opts->cancel, err)) < 0)
        return r;
    g = bg_calloc(1, sizeof(*g));
    g->opts = *opts;
    g->opts.stall_ms = opts->stall_ms > 0 ? opts->stall_ms : BG_FILES_STALL_MS;
    if ((r = bg_agent_exec(conn, &spec, &g->sess, err)) < 0) {
        free(g);
        return r;
    }
    *ret = g;
    return 0;
}

/* Remember the failure r (err's message) and kill the tar; returns r. */
static int fail(struct bg_files_get *g, int r, const struct bg_error *err)
{
    g->failed = r;
    g->failed_err = *err;
    (void)bg_agent_session_signal(g->sess, BG_FILES_SIGKILL, NULL);
    return r;
}

/* The output ended: the tar's exit says whether the archive is whole. */
static ssize_t end_of_output(struct bg_files_get *g, struct bg_error *err)
{
    int code = -1, sig = 0;
    int r = bg_agent_session_wait(g->sess, bg_now_ms() + END_MS, &code, &sig, err);

    if (r < 0)
        return fail(g, r, err);
    if (code != 0 || sig) {
        (void)bg_error_set(err, BG_ERR(BG_PROBLEM_FILES_FAILED),
                           "tar in the guest failed (%s %d): %s", sig ? "signal" : "exit",
                           sig ? sig : code, bg_files_msg_text(&g->msg));
        return fail(g, err->code, err);
    }
    g->done = true;
    return 0;
}

ssize_t bg_files_get_read(struct bg_files_get *g, void *buf, size_t len, struct bg_error *err)
{
    int64_t quiet_since = bg_now_ms();

    if (g->failed) {
        *err = g->failed_err;
        return g->failed;
    }
    while (!g->done) {
        int stream = 0;
        if (bg_files_cancelled(&g->opts.cancel)) {
            (void)bg_error_set(err, -ECANCELED, "cancelled: the guest's tar was killed");
            return fail(g, -ECANCELED, err);
        }
        ssize_t n =
            bg_agent_session_read(g->sess, &stream, buf, len, bg_now_ms() + BG_FILES_POLL_MS, err);
        if (n > 0 && stream == 2) {
            bg_files_msg_add(&g->msg, buf, (size_t)n);
            continue;
        }
        if (n > 0) {
            g->bytes += (uint64_t)n;
            return n;
        }
        if (n == 0)
            return end_of_output(g, err);
        if (n != -ETIMEDOUT)
            return fail(g, (int)n, err);
        if (bg_now_ms() - quiet_since >= g->opts.stall_ms) {
            (void)bg_error_set(err, -ETIMEDOUT,
                               "the guest sent nothing for %d ms: its tar was killed (is the VM "
                               "hung?)",
                               g->opts.stall_ms);
            return fail(g, -ETIMEDOUT, err);
        }
    }
    return 0;
}

uint64_t bg_files_get_bytes(const struct bg_files_get *g)
{
    return g->bytes;
}

void bg_files_get_free(struct bg_files_get *g)
{
    if (!g)
        return;
    bg_agent_session_free(g->sess);
    free(g);
}
