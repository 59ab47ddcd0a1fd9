/* SPDX-License-Identifier: MIT */
/* /v1/operations: list, and get with ?wait=SECONDS for long polling. */
#include <errno.h>

#include "banger/parse.h"
#include "banger/timefmt.h"
#include "rest/daemon.h"
#include "rest/errors.h"
#include "rest/handlers.h"

#define OPERATIONS_LIST_MAX 100
#define WAIT_MAX_S 300

int bg_handle_operations_list(struct bg_http_request *req)
{
    struct bg_operation *ops;
    struct bg_error err;
    size_t n;

    if (bg_store_op_list(bg_rest_daemon(req)->store, OPERATIONS_LIST_MAX, &ops, &n, &err) < 0)
        return bg_http_reply_internal(req, &err);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, bg_operation_to_json(&ops[i]));
    bg_store_ops_free(ops, n);
    return bg_http_reply_json(req, MHD_HTTP_OK, json_pack("{s:o}", "operations", list));
}

/* Load the operation, waiting while it runs until the deadline; 0, or replies and <0. */
static int load_waiting(struct bg_http_request *req, int64_t deadline_ms, struct bg_operation *ret,
                        int *ret_mhd)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    struct bg_error err;

    for (;;) {
        /* Take the seq first: a change after it wakes the wait below. */
        int64_t seq = bg_events_latest(d->events);
        bool closed;
        if (bg_store_op_get(d->store, req->params[0], ret, &err) < 0) {
            *ret_mhd = bg_rest_reply_error(req, &err, BG_REST_OPERATION, BG_PROBLEM_INTERNAL, NULL);
            return -1;
        }
        if (ret->state != BG_OPERATION_STATE_RUNNING || bg_now_ms() >= deadline_ms)
            return 0;
        bg_operation_done(ret);
        (void)bg_events_wait(d->events, seq, deadline_ms, &closed);
        if (closed)
            deadline_ms = 0; /* shutting down: answer with what is there now */
    }
}

int bg_handle_operations_get(struct bg_http_request *req)
{
    const char *wait_arg = bg_http_query(req, "wait");
    struct bg_operation op;
    struct bg_error err;
    uint64_t wait_s = 0;
    int mhd;

    if (wait_arg && bg_parse_u64(wait_arg, 0, WAIT_MAX_S, &wait_s, &err) < 0)
        return bg_http_reply_problem(req, BG_PROBLEM_INVALID_QUERY, NULL,
                                     "wait must be a number of seconds in 0..%d: %s", WAIT_MAX_S,
                                     err.msg);
    if (load_waiting(req, bg_now_ms() + (int64_t)wait_s * 1000, &op, &mhd) < 0)
        return mhd;
    json_t *body = bg_operation_to_json(&op);
    bg_operation_done(&op);
    return bg_http_reply_json(req, MHD_HTTP_OK, body);
}
