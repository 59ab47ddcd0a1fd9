/* SPDX-License-Identifier: MIT */
/* The stable problem codes of the v1 API (RFC 9457 problem+json "code" member). */
#pragma once

#include <jansson.h>

#include "banger/macro.h"

enum bg_problem {
    BG_PROBLEM_NOT_FOUND,
    BG_PROBLEM_METHOD_NOT_ALLOWED,
    BG_PROBLEM_PAYLOAD_TOO_LARGE,
    BG_PROBLEM_UNSUPPORTED_MEDIA_TYPE,
    BG_PROBLEM_INVALID_JSON,
    BG_PROBLEM_UNKNOWN_FIELD,
    BG_PROBLEM_MISSING_FIELD,
    BG_PROBLEM_INVALID_FIELD,
    BG_PROBLEM_INVALID_NAME,
    BG_PROBLEM_FIELD_IMMUTABLE,
    BG_PROBLEM_INVALID_QUERY,
    BG_PROBLEM_VM_NOT_FOUND,
    BG_PROBLEM_IMAGE_NOT_FOUND,
    BG_PROBLEM_OPERATION_NOT_FOUND,
    BG_PROBLEM_VM_EXISTS,
    BG_PROBLEM_IMAGE_EXISTS,
    BG_PROBLEM_IMAGE_IN_USE,
    BG_PROBLEM_IMAGE_NOT_READY,
    BG_PROBLEM_EVENTS_GONE,
    BG_PROBLEM_SHUTTING_DOWN,
    BG_PROBLEM_INTERNAL,
    BG_PROBLEM_VM_NOT_RUNNING,
    BG_PROBLEM_EXEC_NOT_FOUND,
    BG_PROBLEM_EXEC_FAILED,
    BG_PROBLEM_TOO_MANY_EXECS,
    BG_PROBLEM_WORKSPACE_FAILED,
    BG_PROBLEM_VM_RUNNING,
    BG_PROBLEM_VM_START_FAILED,
    BG_PROBLEM_IMAGE_UNSUPPORTED,
    BG_PROBLEM_INVALID_PATH,
    BG_PROBLEM_INVALID_HEADER,
    BG_PROBLEM_UNEXPECTED_BODY,
    BG_PROBLEM_URI_TOO_LONG,
    BG_PROBLEM_TOO_MANY_CONNECTIONS,
    BG_PROBLEM_PATH_NOT_FOUND,
    BG_PROBLEM_FILES_FAILED,
    BG_PROBLEM_UPGRADE_REQUIRED,
    BG_PROBLEM_TUNNEL_FAILED,
    BG_PROBLEM_SSH_UNAVAILABLE,
    BG_PROBLEM_IMAGE_BUILD_UNAVAILABLE,
    BG_PROBLEM_UNAUTHORIZED,
    BG_PROBLEM_CLIENT_CERTIFICATE_REQUIRED,
    BG_PROBLEM_INSUFFICIENT_SCOPE,
    BG_PROBLEM_LOCAL_ONLY,
    BG_PROBLEM_TOO_MANY_AUTH_FAILURES,
    BG_PROBLEM_TOKEN_NOT_FOUND,
    BG_PROBLEM_TOKEN_EXISTS,
    BG_PROBLEM_COUNT_,
};

#define BG_FIELD_NAME_MAX 64

/* Which field of a request body a decode failure is about. */
struct bg_field_error {
    enum bg_problem problem;       /* UNKNOWN_FIELD, MISSING_FIELD, INVALID_FIELD, ... */
    char field[BG_FIELD_NAME_MAX]; /* JSON member name, "" when about the whole body */
};

/* The code string ("vm_not_found"), HTTP status and short title of p. */
BG_PUBLIC const char *bg_problem_code(enum bg_problem p);
BG_PUBLIC int bg_problem_status(enum bg_problem p);
BG_PUBLIC const char *bg_problem_title(enum bg_problem p);
/* The RFC 9457 object for p (new reference, never NULL): type, title, status, detail, code,
 * instance. detail and instance may hold any bytes (NULL is ""): what is not UTF-8 becomes
 * U+FFFD, so the object always encodes. */
BG_PUBLIC json_t *bg_problem_to_json(enum bg_problem p, const char *detail, const char *instance);
/* Set f to problem p about field (may be NULL). Returns -EINVAL for use in returns. */
BG_PUBLIC int bg_field_error_set(struct bg_field_error *f, enum bg_problem p, const char *field);
