/* SPDX-License-Identifier: MIT */
/* POST /v1/vms/{name}/workspace: put a host git repository at /root/repo in a running VM. */
#include <errno.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "rest/daemon.h"
#include "rest/errors.h"
#include "rest/handlers.h"
#include "vm/runtime.h"
#include "workspace/push.h"
#include "workspace/request.h"

/* Borrow the running VM's agent connection, or reply why not. */
static int acquire(struct bg_http_request *req, struct bg_agent_conn **ret, int *ret_mhd)
{
    struct bg_error err;

    if (bg_vm_agent_acquire(bg_rest_daemon(req)->runtime, req->params[0], ret, &err) == 0)
        return 0;
    *ret_mhd = bg_rest_reply_error(req, &err, BG_REST_VM, BG_PROBLEM_INTERNAL, NULL);
    return -1;
}

/* The push's cancel: the client that asked for it went away, or bangerd is stopping. */
static bool push_cancelled(void *cls)
{
    struct bg_http_request *req = cls;

    return bg_http_client_gone(req) || bg_events_closed(bg_rest_daemon(req)->events);
}

int bg_handle_vms_workspace(struct bg_http_request *req)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    struct bg_workspace_push_opts opts = {
        .state_dir = d->cfg->state_dir,
        .cancel = {.fn = push_cancelled, .cls = req},
    };
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
    r = bg_workspace_push(conn, &wr, &opts, &res, &f, &err);
    bg_vm_agent_release(d->runtime, conn);
    bg_workspace_request_done(&wr);
    if (r == -ECONNRESET)
        (void)bg_error_prefix(&err, r, "vm '%s' stopped during the transfer", req->params[0]);
    if (r < 0)
        return bg_rest_reply_error(req, &err, BG_REST_NONE, BG_PROBLEM_WORKSPACE_FAILED,
                                   f.field[0] ? f.field : NULL);
    bg_log_info("workspace vm '%s': %llu files, %llu bytes in %lld ms", req->params[0],
                (unsigned long long)res.files, (unsigned long long)res.bytes, (long long)res.ms);
    return bg_http_reply_json(req, MHD_HTTP_OK,
                              json_pack("{s:I, s:I, s:I}", "files", (json_int_t)res.files, "bytes",
                                        (json_int_t)res.bytes, "ms", (json_int_t)res.ms));
}
