/* SPDX-License-Identifier: MIT */
/* POST /v1/vms/{name}/exec (one-shot, or upgraded to a frame stream) and GET /v1/execs/{id}. */
#include <errno.h>
#include <string.h>

#include "banger/exec.h"
#include "banger/log.h"
#include "banger/utf8.h"
#include "exec/collect.h"
#include "exec/registry.h"
#include "exec/stream.h"
#include "rest/daemon.h"
#include "rest/errors.h"
#include "rest/handlers.h"
#include "vm/runtime.h"

/* Borrow the running VM's agent connection, or reply why not. */
static int acquire_vm(struct bg_http_request *req, struct bg_agent_conn **ret, int *ret_mhd)
{
    struct bg_error err;

    if (bg_vm_agent_acquire(bg_rest_daemon(req)->runtime, req->params[0], ret, &err) == 0)
        return 0;
    *ret_mhd = bg_rest_reply_error(req, &err, BG_REST_VM, BG_PROBLEM_INTERNAL, NULL);
    return -1;
}

/* The lease's release: the VM runtime takes its connection back. */
static void release_conn(void *cls, struct bg_agent_conn *conn)
{
    bg_vm_agent_release(cls, conn);
}

/* Decode the body; replies and returns <0 on a refusal. */
static int decode_request(struct bg_http_request *req, bool upgrade, struct bg_exec_request *ret,
                          int *ret_mhd)
{
    struct bg_field_error f;
    struct bg_error err;
    json_t *body;

    if (bg_http_body_object(req, &body, ret_mhd) < 0)
        return -1;
    int r = bg_exec_request_decode(body, ret, &f, &err);
    json_decref(body);
    if (r < 0) {
        *ret_mhd = bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
        return -1;
    }
    if (ret->attach_stdin && !upgrade) {
        bg_exec_request_done(ret);
        *ret_mhd = bg_http_reply_problem(
            req, BG_PROBLEM_INVALID_FIELD, "stdin",
            "field 'stdin': input needs the streaming mode (send 'Upgrade: %s' and "
            "'Connection: Upgrade'); 'banger vm exec -i' does that",
            BG_EXEC_UPGRADE_PROTOCOL);
        return -1;
    }
    return 0;
}

static json_t *output_json(const char *id, const struct bg_exec_output *o)
{
    json_t *j = json_pack("{s:s, s:o, s:o, s:b, s:b, s:s}", "id", id, "stdout",
                          bg_exec_text_lossy(o->out ? o->out : "", o->out_len), "stderr",
                          bg_exec_text_lossy(o->err ? o->err : "", o->err_len), "truncated",
                          o->truncated, "timed_out", o->timed_out, "encoding", "utf-8");

    /* json_object_set_new steals the new value's reference */
    (void)json_object_set_new(j, "exit_code",
                              o->signo > 0 ? json_null() : json_integer(o->exit_code));
    (void)json_object_set_new(j, "signal", o->signo > 0 ? json_integer(o->signo) : json_null());
    return j;
}

/* What a one-shot exec watches while its command runs. */
struct oneshot_watch {
    struct bg_http_request *req;
    const char *id;
    bool client_gone; /* logged once */
};

/* The one-shot's cancel callback: the client went away (its answer would go nowhere), or
 * bangerd shuts down. */
static bool oneshot_cancelled(void *cls)
{
    struct oneshot_watch *w = cls;

    if (bg_exec_registry_closed(bg_rest_daemon(w->req)->execs))
        return true;
    if (!w->client_gone && bg_http_client_gone(w->req)) {
        w->client_gone = true;
        bg_log_info("exec '%s' in vm '%s': the client went away; killing the command", w->id,
                    w->req->params[0]);
    }
    return w->client_gone;
}

/* Run to completion and answer the collected output. */
static int run_oneshot(struct bg_http_request *req, struct bg_agent_conn *conn, const char *id,
                       const struct bg_exec_request *er)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    struct oneshot_watch watch = {.req = req, .id = id};
    struct bg_agent_session *sess = NULL;
    struct bg_agent_exec_spec spec;
    struct bg_exec_output o = {0};
    struct bg_error err;
    int mhd;

    bg_exec_agent_spec(er, 24, 80, &spec);
    if (bg_agent_exec(conn, &spec, &sess, &err) < 0) {
        bg_exec_registry_finish(d->execs, id, -1, 0);
        return bg_rest_reply_error(req, &err, BG_REST_VM, BG_PROBLEM_EXEC_FAILED, NULL);
    }
    int r = bg_exec_collect(sess, er->timeout_s, oneshot_cancelled, &watch, &o, &err);
    bg_agent_session_free(sess);
    if (r < 0) {
        bg_exec_registry_finish(d->execs, id, -1, 0);
        (void)bg_error_prefix(&err, r, "exec '%s' in vm '%s'", id, req->params[0]);
        return bg_rest_reply_error(req, &err, BG_REST_VM, BG_PROBLEM_INTERNAL, NULL);
    }
    bg_exec_registry_finish(d->execs, id, o.signo > 0 ? -1 : o.exit_code, o.signo);
    mhd = bg_http_reply_json(req, MHD_HTTP_OK, output_json(id, &o));
    bg_exec_output_done(&o);
    return mhd;
}

int bg_handle_vms_exec(struct bg_http_request *req)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    bool upgrade = bg_http_wants_upgrade(req, BG_EXEC_UPGRADE_PROTOCOL);
    struct bg_exec_request er = {0};
    struct bg_agent_conn *conn = NULL;
    char id[BG_EXEC_ID_LEN + 1];
    struct bg_error err;
    int mhd;

    if (decode_request(req, upgrade, &er, &mhd) < 0)
        return mhd;
    if (acquire_vm(req, &conn, &mhd) < 0) {
        bg_exec_request_done(&er);
        return mhd;
    }
    if (bg_exec_registry_add(d->execs, req->params[0], er.argv, id, &err) < 0) {
        bg_vm_agent_release(d->runtime, conn);
        bg_exec_request_done(&er);
        return bg_rest_reply_error(req, &err, BG_REST_NONE, BG_PROBLEM_INTERNAL, NULL);
    }
    bg_log_debug("exec '%s' in vm '%s': %s%s", id, req->params[0], er.argv[0],
                 upgrade ? " (stream)" : "");
    if (upgrade) {
        struct bg_exec_conn_lease lease = {
            .conn = conn, .release = release_conn, .cls = d->runtime};
        struct bg_exec_stream *s = bg_exec_stream_new(d->execs, req->params[0], id, &lease, &er);
        return bg_http_reply_upgrade(req, BG_EXEC_UPGRADE_PROTOCOL, bg_exec_stream_run, s,
                                     bg_exec_stream_free);
    }
    mhd = run_oneshot(req, conn, id, &er);
    bg_vm_agent_release(d->runtime, conn);
    bg_exec_request_done(&er);
    return mhd;
}

int bg_handle_execs_get(struct bg_http_request *req)
{
    struct bg_error err;
    json_t *j;

    /* the router checked the id's form */
    if (bg_exec_registry_get(bg_rest_daemon(req)->execs, req->params[0], &j, &err) == 0)
        return bg_http_reply_json(req, MHD_HTTP_OK, j);
    return bg_rest_reply_error(req, &err, BG_REST_NONE, BG_PROBLEM_INTERNAL, NULL);
}
