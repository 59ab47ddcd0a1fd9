/* SPDX-License-Identifier: MIT */
/* POST /v1/vms/{name}/workspace: put a host git repository at /root/repo in a running VM. */
#include <errno.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "rest/daemon.h"
#include "rest/handlers.h"
#include "vm/runtime.h"
#include "workspace/workspace.h"

static int reply_push_error(struct bg_http_request *req, const struct bg_error *err)
{
    switch (err->code) {
    case -ENOTDIR:
        return bg_http_reply_problem(req, BG_PROBLEM_INVALID_FIELD, "path", "%s", err->msg);
    case -EINVAL:
        return bg_http_reply_problem(req, BG_PROBLEM_INVALID_FIELD, "from", "%s", err->msg);
    case -ECONNRESET:
        return bg_http_reply_problem(req, BG_PROBLEM_VM_NOT_RUNNING, NULL,
                                     "vm '%s' stopped during the transfer", req->params[0]);
    default:
        bg_log_warn("workspace vm '%s': %s", req->params[0], err->msg);
        return bg_http_reply_problem(req, BG_PROBLEM_WORKSPACE_FAILED, NULL, "%s", err->msg);
    }
}

static int acquire(struct bg_http_request *req, struct bg_agent_conn **ret, int *ret_mhd)
{
    struct bg_error err;

    if (bg_vm_agent_acquire(bg_rest_daemon(req)->runtime, req->params[0], ret, &err) == 0)
        return 0;
    if (err.code == BG_ERR(BG_PROBLEM_VM_NOT_FOUND))
        *ret_mhd =
            bg_http_reply_problem(req, BG_PROBLEM_VM_NOT_FOUND, NULL,
                                  "no VM named '%s'; 'banger vm ls' lists them", req->params[0]);
    else if (err.code == BG_ERR(BG_PROBLEM_VM_NOT_RUNNING))
        *ret_mhd = bg_http_reply_problem(req, BG_PROBLEM_VM_NOT_RUNNING, NULL,
                                         "vm '%s' is not running (%s); start it with "
                                         "'banger vm start %s'",
                                         req->params[0], err.msg, req->params[0]);
    else
        *ret_mhd = bg_http_reply_internal(req, &err);
    return -1;
}

int bg_handle_vms_workspace(struct bg_http_request *req)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    struct bg_workspace_request wr;
    struct bg_workspace_result res;
    struct bg_agent_conn *conn;
    struct bg_field_error f;
    struct bg_error err;
    json_t *body;
    int mhd;

    if (bg_http_body_object(req, &body, &mhd) < 0)
        return mhd;
    int r = bg_workspace_request_decode(body, &wr, &f, &err);
    json_decref(body);
    if (r < 0)
        return bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
    if (acquire(req, &conn, &mhd) < 0) {
        bg_workspace_request_done(&wr);
        return mhd;
    }
    bg_autofree char *tmp = bg_asprintf("%s/tmp", d->cfg->state_dir);
    r = bg_workspace_push(conn, &wr, tmp, &res, &err);
    bg_vm_agent_release(d->runtime, conn);
    bg_workspace_request_done(&wr);
    if (r < 0)
        return reply_push_error(req, &err);
    bg_log_info("workspace vm '%s': %llu files, %llu bytes in %lld ms", req->params[0],
                (unsigned long long)res.files, (unsigned long long)res.bytes, (long long)res.ms);
    return bg_http_reply_json(req, MHD_HTTP_OK,
                              json_pack("{s:I, s:I, s:I}", "files", (json_int_t)res.files, "bytes",
                                        (json_int_t)res.bytes, "ms", (json_int_t)res.ms));
}
