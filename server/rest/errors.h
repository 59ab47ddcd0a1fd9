/* SPDX-License-Identifier: MIT */
/* The one table from failure codes to API problems, for every handler. */
#pragma once

#include "banger/error.h"
#include "banger/problem.h"
#include "http/http.h"

/* What a failure is about, for the codes whose problem depends on it: -ENOENT from the store's
 * lookup of a VM is vm_not_found, of an image image_not_found. */
enum bg_rest_subject {
    BG_REST_NONE,      /* no lookup: -ENOENT is just a failure */
    BG_REST_VM,        /* the VM named in the path or body */
    BG_REST_IMAGE,     /* the image named in the path or body */
    BG_REST_OPERATION, /* the operation in the path */
    BG_REST_TOKEN,     /* the token in the path or body */
};

/* The problem err stands for: a BG_ERR() code is its own problem; an errno is looked up in
 * the table (with subject for -ENOENT, -EEXIST and -EBUSY); anything else is fallback.
 * Never fails. */
enum bg_problem bg_rest_problem(const struct bg_error *err, enum bg_rest_subject subject,
                                enum bg_problem fallback);

/* Reply with bg_rest_problem(err, subject, fallback) and err's message as its detail; field
 * (may be NULL) names the request field the failure is about. A 5xx is logged once here. */
int bg_rest_reply_error(struct bg_http_request *req, const struct bg_error *err,
                        enum bg_rest_subject subject, enum bg_problem fallback, const char *field);
