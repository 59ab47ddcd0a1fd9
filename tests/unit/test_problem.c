/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/problem.c: the table of stable problem codes. */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "banger/problem.h"

/* [a-z][a-z0-9]*(_[a-z0-9]+)* */
static bool is_snake_case(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z'))
        return false;
    for (const char *p = s; *p; p++) {
        bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
        if (!alnum && !(*p == '_' && p[1] && p[1] != '_'))
            return false;
    }
    return true;
}

static void test_every_code_complete(void **state)
{
    (void)state;
    for (int p = 0; p < BG_PROBLEM_COUNT_; p++) {
        const char *code = bg_problem_code((enum bg_problem)p);
        const char *title = bg_problem_title((enum bg_problem)p);
        int status = bg_problem_status((enum bg_problem)p);

        if (!code || !*code)
            fail_msg("problem %d has no code", p);
        if (!is_snake_case(code))
            fail_msg("problem %d code '%s' is not snake_case", p, code);
        if (!title || !*title)
            fail_msg("problem '%s' has no title", code);
        if (!isupper((unsigned char)title[0]) || title[strlen(title) - 1] == '.')
            fail_msg("problem '%s' title '%s' is not a short capitalised phrase", code, title);
        if (status < 400 || status > 599)
            fail_msg("problem '%s' has status %d", code, status);
    }
}

static void test_codes_unique(void **state)
{
    (void)state;
    for (int a = 0; a < BG_PROBLEM_COUNT_; a++)
        for (int b = a + 1; b < BG_PROBLEM_COUNT_; b++)
            if (!strcmp(bg_problem_code((enum bg_problem)a), bg_problem_code((enum bg_problem)b)))
                fail_msg("problems %d and %d share code '%s'", a, b,
                         bg_problem_code((enum bg_problem)a));
}

static void test_known_mappings(void **state)
{
    (void)state;
    static const struct {
        enum bg_problem p;
        const char *code;
        int status;
    } want[] = {
        {BG_PROBLEM_NOT_FOUND, "not_found", 404},
        {BG_PROBLEM_METHOD_NOT_ALLOWED, "method_not_allowed", 405},
        {BG_PROBLEM_PAYLOAD_TOO_LARGE, "payload_too_large", 413},
        {BG_PROBLEM_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415},
        {BG_PROBLEM_INVALID_JSON, "invalid_json", 400},
        {BG_PROBLEM_UNKNOWN_FIELD, "unknown_field", 400},
        {BG_PROBLEM_MISSING_FIELD, "missing_field", 400},
        {BG_PROBLEM_INVALID_FIELD, "invalid_field", 400},
        {BG_PROBLEM_INVALID_NAME, "invalid_name", 400},
        {BG_PROBLEM_FIELD_IMMUTABLE, "field_immutable", 400},
        {BG_PROBLEM_INVALID_QUERY, "invalid_query", 400},
        {BG_PROBLEM_VM_NOT_FOUND, "vm_not_found", 404},
        {BG_PROBLEM_IMAGE_NOT_FOUND, "image_not_found", 404},
        {BG_PROBLEM_OPERATION_NOT_FOUND, "operation_not_found", 404},
        {BG_PROBLEM_VM_EXISTS, "vm_exists", 409},
        {BG_PROBLEM_IMAGE_EXISTS, "image_exists", 409},
        {BG_PROBLEM_IMAGE_IN_USE, "image_in_use", 409},
        {BG_PROBLEM_IMAGE_NOT_READY, "image_not_ready", 409},
        {BG_PROBLEM_IMAGE_UNSUPPORTED, "image_unsupported", 409},
        {BG_PROBLEM_EVENTS_GONE, "events_gone", 410},
        {BG_PROBLEM_SHUTTING_DOWN, "shutting_down", 503},
        {BG_PROBLEM_INTERNAL, "internal", 500},
        {BG_PROBLEM_VM_NOT_RUNNING, "vm_not_running", 409},
        {BG_PROBLEM_EXEC_NOT_FOUND, "exec_not_found", 404},
        {BG_PROBLEM_EXEC_FAILED, "exec_failed", 422},
        {BG_PROBLEM_TOO_MANY_EXECS, "too_many_execs", 429},
        {BG_PROBLEM_WORKSPACE_FAILED, "workspace_failed", 500},
        {BG_PROBLEM_VM_RUNNING, "vm_running", 409},
        {BG_PROBLEM_VM_START_FAILED, "vm_start_failed", 500},
        {BG_PROBLEM_INVALID_PATH, "invalid_path", 400},
        {BG_PROBLEM_INVALID_HEADER, "invalid_header", 400},
        {BG_PROBLEM_UNEXPECTED_BODY, "unexpected_body", 400},
        {BG_PROBLEM_URI_TOO_LONG, "uri_too_long", 414},
        {BG_PROBLEM_TOO_MANY_CONNECTIONS, "too_many_connections", 503},
        {BG_PROBLEM_PATH_NOT_FOUND, "path_not_found", 404},
        {BG_PROBLEM_FILES_FAILED, "files_failed", 500},
        {BG_PROBLEM_UPGRADE_REQUIRED, "upgrade_required", 426},
        {BG_PROBLEM_TUNNEL_FAILED, "tunnel_failed", 502},
        {BG_PROBLEM_SSH_UNAVAILABLE, "ssh_unavailable", 409},
        {BG_PROBLEM_IMAGE_BUILD_UNAVAILABLE, "image_build_unavailable", 409},
        {BG_PROBLEM_UNAUTHORIZED, "unauthorized", 401},
        {BG_PROBLEM_CLIENT_CERTIFICATE_REQUIRED, "client_certificate_required", 401},
        {BG_PROBLEM_INSUFFICIENT_SCOPE, "insufficient_scope", 403},
        {BG_PROBLEM_LOCAL_ONLY, "local_only", 403},
        {BG_PROBLEM_TOO_MANY_AUTH_FAILURES, "too_many_auth_failures", 429},
        {BG_PROBLEM_TOKEN_NOT_FOUND, "token_not_found", 404},
        {BG_PROBLEM_TOKEN_EXISTS, "token_exists", 409},
    };

    /* every enum value is listed here, so a new code needs a decision on its status */
    assert_int_equal(sizeof(want) / sizeof(want[0]), BG_PROBLEM_COUNT_);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_string_equal(bg_problem_code(want[i].p), want[i].code);
        assert_int_equal(bg_problem_status(want[i].p), want[i].status);
    }
}

static void test_out_of_range(void **state)
{
    (void)state;
    assert_string_equal(bg_problem_code(BG_PROBLEM_COUNT_), "internal");
    assert_int_equal(bg_problem_status(BG_PROBLEM_COUNT_), 500);
    assert_string_equal(bg_problem_title(BG_PROBLEM_COUNT_), "Internal error");
}

static void test_field_error_set(void **state)
{
    (void)state;
    struct bg_field_error f = {0};
    char longname[BG_FIELD_NAME_MAX * 2];

    assert_int_equal(bg_field_error_set(&f, BG_PROBLEM_MISSING_FIELD, "image"), -EINVAL);
    assert_int_equal(f.problem, BG_PROBLEM_MISSING_FIELD);
    assert_string_equal(f.field, "image");

    assert_int_equal(bg_field_error_set(&f, BG_PROBLEM_INVALID_JSON, NULL), -EINVAL);
    assert_int_equal(f.problem, BG_PROBLEM_INVALID_JSON);
    assert_string_equal(f.field, "");

    memset(longname, 'f', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(bg_field_error_set(&f, BG_PROBLEM_UNKNOWN_FIELD, longname), -EINVAL);
    assert_int_equal(strlen(f.field), BG_FIELD_NAME_MAX - 1);

    assert_int_equal(bg_field_error_set(NULL, BG_PROBLEM_UNKNOWN_FIELD, "x"), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_complete), cmocka_unit_test(test_codes_unique),
        cmocka_unit_test(test_known_mappings),      cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_field_error_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
