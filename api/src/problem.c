/* SPDX-License-Identifier: MIT */
/* Table of problem codes, statuses and titles. */
#include "banger/problem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/utf8.h"

static const struct {
    const char *code;
    int status;
    const char *title;
} problems[BG_PROBLEM_COUNT_] = {
    [BG_PROBLEM_NOT_FOUND] = {"not_found", 404, "No such route"},
    [BG_PROBLEM_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405, "Method not allowed"},
    [BG_PROBLEM_PAYLOAD_TOO_LARGE] = {"payload_too_large", 413, "Request body too large"},
    [BG_PROBLEM_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415,
                                           "Request body must be JSON"},
    [BG_PROBLEM_INVALID_JSON] = {"invalid_json", 400, "Malformed JSON"},
    [BG_PROBLEM_UNKNOWN_FIELD] = {"unknown_field", 400, "Unknown field"},
    [BG_PROBLEM_MISSING_FIELD] = {"missing_field", 400, "Missing field"},
    [BG_PROBLEM_INVALID_FIELD] = {"invalid_field", 400, "Invalid field"},
    [BG_PROBLEM_INVALID_NAME] = {"invalid_name", 400, "Invalid name"},
    [BG_PROBLEM_FIELD_IMMUTABLE] = {"field_immutable", 400, "Field cannot be changed"},
    [BG_PROBLEM_INVALID_QUERY] = {"invalid_query", 400, "Invalid query parameter"},
    [BG_PROBLEM_VM_NOT_FOUND] = {"vm_not_found", 404, "No such VM"},
    [BG_PROBLEM_IMAGE_NOT_FOUND] = {"image_not_found", 404, "No such image"},
    [BG_PROBLEM_OPERATION_NOT_FOUND] = {"operation_not_found", 404, "No such operation"},
    [BG_PROBLEM_VM_EXISTS] = {"vm_exists", 409, "VM already exists"},
    [BG_PROBLEM_IMAGE_EXISTS] = {"image_exists", 409, "Image already exists"},
    [BG_PROBLEM_IMAGE_IN_USE] = {"image_in_use", 409, "Image in use"},
    [BG_PROBLEM_IMAGE_NOT_READY] = {"image_not_ready", 409, "Image not ready"},
    [BG_PROBLEM_EVENTS_GONE] = {"events_gone", 410, "Events no longer kept"},
    [BG_PROBLEM_SHUTTING_DOWN] = {"shutting_down", 503, "Daemon shutting down"},
    [BG_PROBLEM_INTERNAL] = {"internal", 500, "Internal error"},
    [BG_PROBLEM_VM_NOT_RUNNING] = {"vm_not_running", 409, "VM not running"},
    [BG_PROBLEM_EXEC_NOT_FOUND] = {"exec_not_found", 404, "No such exec"},
    [BG_PROBLEM_EXEC_FAILED] = {"exec_failed", 422, "Command could not be started"},
    [BG_PROBLEM_TOO_MANY_EXECS] = {"too_many_execs", 429, "Too many commands running"},
    [BG_PROBLEM_WORKSPACE_FAILED] = {"workspace_failed", 500, "Workspace transfer failed"},
    [BG_PROBLEM_VM_RUNNING] = {"vm_running", 409, "VM is running"},
    [BG_PROBLEM_VM_START_FAILED] = {"vm_start_failed", 500, "VM failed to start"},
    [BG_PROBLEM_IMAGE_UNSUPPORTED] = {"image_unsupported", 409, "Image not bootable by this VMM"},
    [BG_PROBLEM_INVALID_PATH] = {"invalid_path", 400, "Invalid path"},
    [BG_PROBLEM_INVALID_HEADER] = {"invalid_header", 400, "Invalid header"},
    [BG_PROBLEM_UNEXPECTED_BODY] = {"unexpected_body", 400, "Request body not allowed"},
    [BG_PROBLEM_URI_TOO_LONG] = {"uri_too_long", 414, "Request target too long"},
    [BG_PROBLEM_TOO_MANY_CONNECTIONS] = {"too_many_connections", 503, "Too many connections"},
    [BG_PROBLEM_PATH_NOT_FOUND] = {"path_not_found", 404, "No such path in the guest"},
    [BG_PROBLEM_FILES_FAILED] = {"files_failed", 500, "File transfer failed"},
    [BG_PROBLEM_UPGRADE_REQUIRED] = {"upgrade_required", 426, "This route only streams"},
    [BG_PROBLEM_TUNNEL_FAILED] = {"tunnel_failed", 502, "The guest refused the connection"},
    [BG_PROBLEM_SSH_UNAVAILABLE] = {"ssh_unavailable", 409, "No ssh server in the VM"},
    [BG_PROBLEM_IMAGE_BUILD_UNAVAILABLE] = {"image_build_unavailable", 409,
                                            "This host lacks what the recipe needs"},
    [BG_PROBLEM_UNAUTHORIZED] = {"unauthorized", 401, "Authentication required"},
    [BG_PROBLEM_CLIENT_CERTIFICATE_REQUIRED] = {"client_certificate_required", 401,
                                                "Pinned client certificate required"},
    [BG_PROBLEM_INSUFFICIENT_SCOPE] = {"insufficient_scope", 403, "Token lacks the scope"},
    [BG_PROBLEM_LOCAL_ONLY] = {"local_only", 403, "Only on the unix socket"},
    [BG_PROBLEM_TOO_MANY_AUTH_FAILURES] = {"too_many_auth_failures", 429,
                                           "Too many failed authentications"},
    [BG_PROBLEM_TOKEN_NOT_FOUND] = {"token_not_found", 404, "No such token"},
    [BG_PROBLEM_TOKEN_EXISTS] = {"token_exists", 409, "Token name taken"},
};

const char *bg_problem_code(enum bg_problem p)
{
    return p < BG_PROBLEM_COUNT_ ? problems[p].code : "internal";
}

int bg_problem_status(enum bg_problem p)
{
    return p < BG_PROBLEM_COUNT_ ? problems[p].status : 500;
}

const char *bg_problem_title(enum bg_problem p)
{
    return p < BG_PROBLEM_COUNT_ ? problems[p].title : "Internal error";
}

int bg_field_error_set(struct bg_field_error *f, enum bg_problem p, const char *field)
{
    if (f) {
        f->problem = p;
        (void)bg_utf8_format(f->field, sizeof(f->field), "%s", field ? field : "");
    }
    return -EINVAL;
}

/* text as a JSON string whatever its bytes: invalid UTF-8 becomes U+FFFD. */
static json_t *text_json(const char *text)
{
    size_t n;
    char *s = bg_utf8_lossy(text ? text : "", text ? strlen(text) : 0, &n);
    json_t *j = json_stringn_nocheck(s, n);

    free(s);
    return j;
}

json_t *bg_problem_to_json(enum bg_problem p, const char *detail, const char *instance)
{
    char type[96];
    json_t *j = json_object();

    snprintf(type, sizeof(type), "urn:banger:problem:%s", bg_problem_code(p));
    /* set_new steals each value; every string is valid UTF-8 by construction */
    (void)json_object_set_new_nocheck(j, "type", json_string_nocheck(type));
    (void)json_object_set_new_nocheck(j, "title", json_string_nocheck(bg_problem_title(p)));
    (void)json_object_set_new_nocheck(j, "status", json_integer(bg_problem_status(p)));
    (void)json_object_set_new_nocheck(j, "detail", text_json(detail));
    (void)json_object_set_new_nocheck(j, "code", json_string_nocheck(bg_problem_code(p)));
    (void)json_object_set_new_nocheck(j, "instance", text_json(instance));
    return j;
}
