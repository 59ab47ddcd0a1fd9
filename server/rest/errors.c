/* SPDX-License-Identifier: MIT */
/* The one table from failure codes to API problems. */
#include "rest/errors.h"

#include <errno.h>

#include "banger/log.h"

static const struct {
    int code;
    enum bg_rest_subject subject; /* BG_REST_NONE: whatever the subject */
    enum bg_problem problem;
} table[] = {
    {-ENOENT, BG_REST_VM, BG_PROBLEM_VM_NOT_FOUND},
    {-ENOENT, BG_REST_IMAGE, BG_PROBLEM_IMAGE_NOT_FOUND},
    {-ENOENT, BG_REST_OPERATION, BG_PROBLEM_OPERATION_NOT_FOUND},
    {-EEXIST, BG_REST_VM, BG_PROBLEM_VM_EXISTS},
    {-EEXIST, BG_REST_IMAGE, BG_PROBLEM_IMAGE_EXISTS},
    {-EBUSY, BG_REST_IMAGE, BG_PROBLEM_IMAGE_IN_USE},
    {-ENOENT, BG_REST_TOKEN, BG_PROBLEM_TOKEN_NOT_FOUND},
    {-EEXIST, BG_REST_TOKEN, BG_PROBLEM_TOKEN_EXISTS},
    {-EINVAL, BG_REST_NONE, BG_PROBLEM_INVALID_FIELD},
    {-ESHUTDOWN, BG_REST_NONE, BG_PROBLEM_SHUTTING_DOWN},
    {-ECANCELED, BG_REST_NONE, BG_PROBLEM_SHUTTING_DOWN},
    /* the VM went away under the request */
    {-ECONNRESET, BG_REST_NONE, BG_PROBLEM_VM_NOT_RUNNING},
};

enum bg_problem bg_rest_problem(const struct bg_error *err, enum bg_rest_subject subject,
                                enum bg_problem fallback)
{
    enum bg_problem p;

    if (bg_error_is_problem(err->code, &p))
        return p;
    for (size_t i = 0; i < BG_ARRAY_SIZE(table); i++)
        if (table[i].code == err->code &&
            (table[i].subject == BG_REST_NONE || table[i].subject == subject))
            return table[i].problem;
    return fallback;
}

int bg_rest_reply_error(struct bg_http_request *req, const struct bg_error *err,
                        enum bg_rest_subject subject, enum bg_problem fallback, const char *field)
{
    enum bg_problem p = bg_rest_problem(err, subject, fallback);

    /* a request cancelled because its client left has no one to tell: not a server error */
    if (bg_http_client_gone(req))
        bg_log_info("%s %s: the client went away: %s", req->method, req->path, err->msg);
    else if (bg_problem_status(p) >= 500)
        bg_log_error("%s %s: %s", req->method, req->path, err->msg);
    return bg_http_reply_problem(req, p, field, "%s", err->msg);
}
