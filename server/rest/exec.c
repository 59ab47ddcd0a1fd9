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
#include "rest/handlers.h"
#include "vm/runtime.h"

/* Borrow the running VM's agent connection, or reply why not. */
static int acquire_vm(struct bg_http_request *req, struct bg_agent_conn **ret, int *ret_mhd)
{
    struct bg_error err;
    const char *name = req->params[0];

    if (bg_vm_agent_acquire(bg_rest_daemon(req)->runtime, name, ret, &err) == 0)
        return 0;
    if (err.code == BG_ERR(BG_PROBLEM_VM_NOT_FOUND))
        *ret_mhd = bg_http_reply_problem(req, BG_PROBLEM_VM_NOT_FOUND, NULL,
                                         "no VM named '%s'; 'banger vm ls' lists them", name);
    else if (err.code == BG_ERR(BG_PROBLEM_VM_NOT_RUNNING))
        *ret_mhd = bg_http_reply_problem(req, BG_PROBLEM_VM_NOT_RUNNING, NULL,
                                         "vm '%s' is not running (%s); start it with "
                                         "'banger vm start %s'",
                                         name, err.msg, name);
    else
        *ret_mhd = bg_http_reply_internal(req, &err);
    return -1;
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

static int reply_registry_error(struct bg_http_request *req, const struct bg_error *err)
{
    if (err->code == -ESHUTDOWN)
        return bg_http_reply_problem(req, BG_PROBLEM_SHUTTING_DOWN, NULL,
                                     "bangerd is shutting down; retry once it is back");
    return bg_http_reply_problem(req, BG_PROBLEM_TOO_MANY_EXECS, NULL, "%s", err->msg);
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

/* Run to completion and answer the collected output. */
static int run_oneshot(struct bg_http_request *req, struct bg_agent_conn *conn, const char *id,
                       const struct bg_exec_request *er)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    struct bg_agent_session *sess = NULL;
    struct bg_agent_exec_spec spec;
    struct bg_exec_output o = {0};
    struct bg_error err;
    int mhd;

    bg_exec_agent_spec(er, 24, 80, &spec);
    if (bg_agent_exec(conn, &spec, &sess, &err) < 0) {
        bg_exec_registry_finish(d->execs, id, -1, 0);
        if (err.code == -ECONNRESET)
            return bg_http_reply_problem(req, BG_PROBLEM_VM_NOT_RUNNING, NULL,
                                         "vm '%s' stopped: %s", req->params[0], err.msg);
        return bg_http_reply_problem(req, BG_PROBLEM_EXEC_FAILED, NULL, "%s", err.msg);
    }
    int r = bg_exec_collect(sess, er->timeout_s, d->execs, &o, &err);
    bg_agent_session_free(sess);
    if (r < 0) {
        bg_exec_registry_finish(d->execs, id, -1, 0);
        if (err.code == -ECONNRESET)
            return bg_http_reply_problem(req, BG_PROBLEM_VM_NOT_RUNNING, NULL,
                                         "vm '%s' stopped while the command ran", req->params[0]);
        return bg_http_reply_internal(req, &err);
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
        return reply_registry_error(req, &err);
    }
    bg_log_debug("exec '%s' in vm '%s': %s%s", id, req->params[0], er.argv[0],
                 upgrade ? " (stream)" : "");
    if (upgrade) {
        struct bg_exec_stream *s = bg_exec_stream_new(d, req->params[0], id, conn, &er);
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

    if (!bg_exec_id_valid(req->params[0]) ||
        bg_exec_registry_get(bg_rest_daemon(req)->execs, req->params[0], &j, &err) < 0)
        return bg_http_reply_problem(req, BG_PROBLEM_EXEC_NOT_FOUND, NULL,
                                     "no exec '%s'; ended commands are kept %d minutes",
                                     BG_QUOTE(req->params[0]), BG_EXEC_REGISTRY_KEEP_S / 60);
    return bg_http_reply_json(req, MHD_HTTP_OK, j);
}
