/* SPDX-License-Identifier: MIT */
/* Workspace push: git work tree -> tar stream -> the guest's tar -x, watched by a thread that
 * drains the guest's output and enforces the deadlines and the cancel. */
#include "workspace/push.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"
#include "workspace/tar.h"

#define MSG_MAX 400        /* bytes of what the guest's tar printed, for messages */
#define KILL_GRACE_MS 5000 /* after SIGKILL, how long the guest may take to end its output */
#define SIGKILL_NUMBER 9   /* as the guest numbers it */

/* Why the guest's tar was killed; the first reason wins. */
enum stop {
    STOP_NONE,
    STOP_CANCELLED, /* opts->cancel */
    STOP_STALLED,   /* a write waited stall_ms for credit */
    STOP_LATE,      /* no end within finish_ms of EOF */
    STOP_FAILED,    /* the host side failed: the archive is incomplete */
};

/* The guest's tar and its watchdog. The drain thread reads its output (so a chatty tar never
 * stalls on a full pipe while the host waits for stdin credit) and every POLL_MS checks the
 * cancel and the deadlines; killing the tar is what unblocks a write waiting for credit. */
struct guest_tar {
    struct bg_agent_session *sess;
    const struct bg_workspace_cancel *cancel;
    int stall_ms, finish_ms;
    atomic_int_least64_t write_since; /* bg_now_ms when the pending write began, 0: none */
    atomic_int_least64_t finish_by;   /* 0 until stdin is done, then the end's deadline */
    atomic_int stop;                  /* enum stop */
    char msg[MSG_MAX];                /* start of what tar printed (drain thread's) */
    size_t msg_len;
    int read_err; /* how the drain ended: 0 at the end of output, else a negative errno */
};

static bool cancelled(const struct bg_workspace_cancel *c)
{
    return c && c->fn && c->fn(c->cls);
}

/* Kill the guest's tar for why, unless it already was. Safe from either thread. */
static void stop_guest(struct guest_tar *g, enum stop why)
{
    int none = STOP_NONE;

    if (atomic_compare_exchange_strong(&g->stop, &none, (int)why))
        (void)bg_agent_session_signal(g->sess, SIGKILL_NUMBER, NULL);
}

/* What ought to stop the guest now, STOP_NONE when nothing. */
static enum stop watch(struct guest_tar *g)
{
    int64_t now = bg_now_ms();
    int64_t since = atomic_load(&g->write_since);
    int64_t by = atomic_load(&g->finish_by);

    if (atomic_load(&g->stop) != STOP_NONE)
        return (enum stop)atomic_load(&g->stop);
    if (cancelled(g->cancel))
        return STOP_CANCELLED;
    if (since && now - since >= g->stall_ms)
        return STOP_STALLED;
    if (by && now >= by)
        return STOP_LATE;
    return STOP_NONE;
}

static void keep_msg(struct guest_tar *g, const char *buf, size_t n)
{
    size_t room = sizeof(g->msg) - 1 - g->msg_len;
    size_t k = n < room ? n : room;

    memcpy(g->msg + g->msg_len, buf, k);
    g->msg_len += k;
    g->msg[g->msg_len] = '\0';
}

static void *drain_main(void *arg)
{
    struct guest_tar *g = arg;
    int64_t killed_at = 0;
    struct bg_error err;
    char buf[8192];

    for (;;) {
        int stream = 2;
        ssize_t n = bg_agent_session_read(g->sess, &stream, buf, sizeof(buf),
                                          bg_now_ms() + BG_WORKSPACE_POLL_MS, &err);
        if (n > 0) {
            keep_msg(g, buf, (size_t)n);
            continue;
        }
        if (n != -ETIMEDOUT) {
            g->read_err = (int)n;
            return NULL;
        }
        enum stop why = killed_at ? STOP_NONE : watch(g);
        if (why != STOP_NONE) {
            stop_guest(g, why);
            killed_at = bg_now_ms();
        } else if (killed_at && bg_now_ms() - killed_at >= KILL_GRACE_MS) {
            g->read_err = -ETIMEDOUT; /* not even SIGKILL got an answer */
            return NULL;
        }
    }
}

/* The sink: one chunk of the archive into the guest tar's stdin. */
static int sink_agent(void *cls, const void *buf, size_t len, struct bg_error *err)
{
    struct guest_tar *g = cls;
    int r;

    if (cancelled(g->cancel)) {
        stop_guest(g, STOP_CANCELLED);
        return bg_error_set(err, -ECANCELED, "cancelled");
    }
    if (atomic_load(&g->stop) != STOP_NONE)
        return bg_error_set(err, -EPIPE, "the guest's tar was stopped");
    atomic_store(&g->write_since, bg_now_ms());
    r = bg_agent_session_write(g->sess, buf, len, err);
    atomic_store(&g->write_since, 0);
    return r;
}

/* The message of a transfer the watchdog stopped. */
static int stop_error(const struct guest_tar *g, enum stop why, const char *name,
                      struct bg_error *err)
{
    switch (why) {
    case STOP_CANCELLED:
        return bg_error_set(err, -ECANCELED,
                            "the client went away: the transfer stopped and the guest's tar "
                            "was killed");
    case STOP_STALLED:
        return bg_error_set(err, -ETIMEDOUT,
                            "the guest took no data for %d ms: its tar was killed (is the VM "
                            "hung or its disk full?)",
                            g->stall_ms);
    default:
        return bg_error_set(err, -ETIMEDOUT,
                            "%s in the guest did not finish within %d ms of its input's end: it "
                            "was killed",
                            name, g->finish_ms);
    }
}

/* What tar printed, on one line for a message. */
static const char *guest_said(struct guest_tar *g)
{
    for (size_t i = 0; i < g->msg_len; i++)
        if (g->msg[i] == '\n' || g->msg[i] == '\r')
            g->msg[i] = ' ';
    while (g->msg_len > 0 && g->msg[g->msg_len - 1] == ' ')
        g->msg[--g->msg_len] = '\0';
    return g->msg_len ? g->msg : "no message";
}

/* Start the drain thread on g->sess. */
static int drain_start(struct guest_tar *g, pthread_t *ret, struct bg_error *err)
{
    int r = pthread_create(ret, NULL, drain_main, g);

    return r ? bg_error_set(err, -r, "cannot start a thread: %s", strerror(r)) : 0;
}

/* After the input ended (or failed): let the drain see the end, then wait for the EXIT. */
static int guest_end(struct guest_tar *g, pthread_t drain, const char *name, struct bg_error *err)
{
    int code = -1, sig = 0;
    enum stop why;
    int w;

    atomic_store(&g->finish_by, bg_now_ms() + g->finish_ms);
    (void)pthread_join(drain, NULL);
    why = (enum stop)atomic_load(&g->stop);
    w = bg_agent_session_wait(g->sess, bg_now_ms() + KILL_GRACE_MS, &code, &sig,
                              why == STOP_NONE ? err : NULL);
    if (why != STOP_NONE)
        return why == STOP_FAILED ? -EIO : stop_error(g, why, name, err);
    if (w < 0)
        return w;
    if (g->read_err < 0)
        return bg_error_set(err, g->read_err, "%s in the guest: its output ended badly", name);
    if (code != 0 || sig)
        return bg_error_set(err, -EIO, "%s in the guest failed (%s%d): %s", name,
                            sig ? "signal " : "exit ", sig ? sig : code, guest_said(g));
    return 0;
}

/* Run a short guest command without input (mkdir) under the same watchdog. */
static int guest_run(struct bg_agent_conn *conn, const char *const *argv,
                     const struct bg_workspace_cancel *cancel, struct bg_error *err)
{
    struct bg_agent_exec_spec spec = {.argv = argv, .cwd = "/"};
    struct guest_tar g = {.cancel = cancel,
                          .stall_ms = BG_WORKSPACE_STALL_MS,
                          .finish_ms = BG_WORKSPACE_GUEST_CMD_MS};
    pthread_t drain;
    int r = bg_agent_exec(conn, &spec, &g.sess, err);

    if (r < 0)
        return r;
    if ((r = drain_start(&g, &drain, err)) == 0)
        r = guest_end(&g, drain, argv[0], err);
    bg_agent_session_free(g.sess);
    return r;
}

/* Write the archive (of the clone dir, or of top's tracked files) into g. */
static int feed(struct guest_tar *g, const char *top, const char *clone_dir,
                struct bg_workspace_result *res, struct bg_error *err)
{
    struct bg_workspace_sink sink = {.write = sink_agent, .cls = g};
    bg_auto(bg_workspace_tar_freep) struct bg_workspace_tar *t = NULL;
    int r;

    if ((r = bg_workspace_tar_new(&sink, &t, err)) < 0)
        return r;
    r = clone_dir ? bg_workspace_tar_tree(t, clone_dir, err)
                  : bg_workspace_tar_tracked(t, top, g->cancel, err);
    if (r >= 0)
        r = bg_workspace_tar_finish(t, err);
    res->files = bg_workspace_tar_entries(t);
    res->bytes = bg_workspace_tar_bytes(t);
    return r;
}

/* tar -x in the guest, fed with the archive while the drain thread watches. */
static int push_archive(struct bg_agent_conn *conn, const struct bg_workspace_push_opts *o,
                        const char *guest_dir, const char *top, const char *clone_dir,
                        struct bg_workspace_result *res, struct bg_error *err)
{
    const char *tar_argv[] = {"tar", "-x", "-C", guest_dir, "-f", "-", NULL};
    struct bg_agent_exec_spec spec = {.argv = tar_argv, .cwd = "/", .stdin = true};
    struct guest_tar g = {
        .cancel = &o->cancel,
        .stall_ms = o->stall_ms > 0 ? o->stall_ms : BG_WORKSPACE_STALL_MS,
        .finish_ms = o->finish_ms > 0 ? o->finish_ms : BG_WORKSPACE_FINISH_MS,
    };
    pthread_t drain;
    int r = bg_agent_exec(conn, &spec, &g.sess, err);

    if (r < 0)
        return r;
    if ((r = drain_start(&g, &drain, err)) < 0) {
        bg_agent_session_free(g.sess);
        return r;
    }
    r = feed(&g, top, clone_dir, res, err);
    if (r >= 0)
        r = bg_agent_session_close_stdin(g.sess, err);
    /* -EPIPE: the tar ended on its own (its exit says why) or the watchdog killed it (its
     * reason says why); any other failure leaves an archive cut short: kill the tar.
     * -ECANCELED: git saw the cancel first. */
    if (r < 0 && r != -EPIPE)
        stop_guest(&g, r == -ECANCELED ? STOP_CANCELLED : STOP_FAILED);
    bool host_failed = atomic_load(&g.stop) == STOP_FAILED;
    int w = guest_end(&g, drain, "tar", host_failed ? NULL : err);
    bg_agent_session_free(g.sess);
    return host_failed || w == 0 ? r : w;
}

/* A refusal of the request is about field. */
static int refused(int r, const char *field, struct bg_field_error *f)
{
    if (r == BG_ERR(BG_PROBLEM_INVALID_FIELD))
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, field);
    return r;
}

/* A git step failed: as refused, and a cancel that killed git says why. */
static int git_failed(int r, const char *field, struct bg_field_error *f, struct bg_error *err)
{
    if (r == -ECANCELED)
        (void)bg_error_prefix(err, r, "the client went away");
    return refused(r, field, f);
}

int bg_workspace_push(struct bg_agent_conn *conn, const struct bg_workspace_request *req,
                      const struct bg_workspace_push_opts *opts, struct bg_workspace_result *ret,
                      struct bg_field_error *f, struct bg_error *err)
{
    const char *guest_dir = opts->guest_dir ? opts->guest_dir : BG_WORKSPACE_GUEST_DIR;
    const char *mkdir_argv[] = {"mkdir", "-p", guest_dir, NULL};
    struct bg_workspace_result res = {0};
    int64_t t0 = bg_now_ms();
    bg_autofree char *top = NULL;
    bg_autofree char *clone_dir = NULL;
    bg_autofree char *tmp = bg_asprintf("%s/" BG_WORKSPACE_TMP, opts->state_dir);
    int r;

    if (f)
        *f = (struct bg_field_error){0};
    if ((r = bg_workspace_toplevel(req->path, &opts->cancel, &top, err)) < 0)
        return git_failed(r, "path", f, err);
    if (req->clone && (r = bg_workspace_clone(top, req->from, req->branch, tmp, &opts->cancel,
                                              &clone_dir, err)) < 0)
        return git_failed(r, "from", f, err);
    r = guest_run(conn, mkdir_argv, &opts->cancel, err);
    if (r >= 0)
        r = push_archive(conn, opts, guest_dir, top, clone_dir, &res, err);
    if (clone_dir)
        (void)bg_workspace_clone_remove(clone_dir);
    if (r < 0)
        return refused(r, "path", f);
    res.ms = bg_now_ms() - t0;
    *ret = res;
    return 0;
}
