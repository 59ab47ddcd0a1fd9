/* SPDX-License-Identifier: MIT */
/* Unit tests for server/workspace/request.c: the malformed-input table of the workspace
 * request decoder and the bodies it takes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "banger/utf8.h"
#include "workspace/request.h"

struct refusal {
    const char *body;
    enum bg_problem problem;
    const char *field;
    const char *fragment;
};

#define BAD BG_PROBLEM_INVALID_FIELD
#define LONG_REF                                                                                   \
    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr" \
    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr" \
    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr" /* 256 bytes */

static const struct refusal refusals[] = {
    {"{}", BG_PROBLEM_MISSING_FIELD, "path", "required"},
    {"{\"path\":\"rel/dir\"}", BAD, "path", "path"},
    {"{\"path\":7}", BAD, "path", "path"},
    {"{\"path\":\"/a\\u0000b\"}", BAD, "path", "path"},
    {"{\"path\":\"/r\",\"mode\":\"rsync\"}", BAD, "mode", "\"copy\""},
    {"{\"path\":\"/r\",\"mode\":null}", BAD, "mode", "\"clone\""},
    {"{\"path\":\"/r\",\"mode\":\"Clone\"}", BAD, "mode", "\"clone\""},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"from\":\"main\"}", BAD, "branch", "needed with 'from'"},
    {"{\"path\":\"/r\",\"from\":\"main\",\"branch\":\"x\"}", BAD, "from", "only with"},
    {"{\"path\":\"/r\",\"branch\":\"x\"}", BAD, "branch", "only with"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"-x\"}", BAD, "branch", "branch name"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"a..b\"}", BAD, "branch", "no '..'"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"HEAD\"}", BAD, "branch", "not HEAD"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"a//b\"}", BAD, "branch", "empty part"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"/a\"}", BAD, "branch", "empty part"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"a/\"}", BAD, "branch", "empty part"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"a/.b\"}", BAD, "branch",
     "starting with '.'"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"x.lock\"}", BAD, "branch", "'.lock'"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"a.lock/b\"}", BAD, "branch", "'.lock'"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"x.\"}", BAD, "branch", "not ending in '.'"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"a^\"}", BAD, "branch", "branch name"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"\"}", BAD, "branch", "branch name"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":[]}", BAD, "branch", "branch name"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"a\\u0000b\"}", BAD, "branch", "branch"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"caf\\u00e9\"}", BAD, "branch", "letters"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"" LONG_REF "\"}", BAD, "branch",
     "at most 255 bytes"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"from\":\"--upload-pack=x\",\"branch\":\"b\"}", BAD,
     "from", "commit or ref"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"from\":\"a..b\",\"branch\":\"b\"}", BAD, "from",
     "commit or ref"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"from\":\"a b\",\"branch\":\"b\"}", BAD, "from",
     "commit or ref"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"from\":\"main@{1}\",\"branch\":\"b\"}", BAD, "from",
     "commit or ref"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"from\":\"" LONG_REF "\",\"branch\":\"b\"}", BAD, "from",
     "at most 255 bytes"},
    {"{\"path\":\"/r\",\"extra\":1}", BG_PROBLEM_UNKNOWN_FIELD, "extra", "unknown field"},
};

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const struct refusal *t = &refusals[i];
        struct bg_workspace_request r;
        struct bg_field_error f = {0};
        struct bg_error err = {0};
        json_t *b = json_loads(t->body, JSON_ALLOW_NUL, NULL);
        if (!b)
            fail_msg("bad test body %s", t->body);
        int rc = bg_workspace_request_decode(b, &r, &f, &err);
        json_decref(b);
        if (rc != -EINVAL || err.code != rc || f.problem != t->problem ||
            strcmp(f.field, t->field) || !strstr(err.msg, t->fragment) ||
            !bg_utf8_valid(err.msg, strlen(err.msg)))
            fail_msg("%s: rc %d problem %d field '%s' msg '%s'", t->body, rc, (int)f.problem,
                     f.field, err.msg);
    }
}

struct accepted {
    const char *body;
    bool clone;
    const char *from, *branch;
};

static const struct accepted accepted[] = {
    {"{\"path\":\"/src/app\"}", false, NULL, NULL},
    {"{\"path\":\"/src/app\",\"mode\":\"copy\"}", false, NULL, NULL},
    {"{\"path\":\"/src/app\",\"mode\":\"clone\"}", true, NULL, NULL},
    {"{\"path\":\"/src/app\",\"mode\":\"clone\",\"branch\":\"fix/x\"}", true, NULL, "fix/x"},
    {"{\"path\":\"/src/app\",\"mode\":\"clone\",\"from\":\"v1.2^\",\"branch\":\"fix/x\"}", true,
     "v1.2^", "fix/x"},
    {"{\"path\":\"/src/app\",\"mode\":\"clone\",\"from\":\"HEAD~3\",\"branch\":\"a.b_c-d\"}", true,
     "HEAD~3", "a.b_c-d"},
    {"{\"path\":\"/src/app\",\"mode\":\"clone\",\"from\":\"@\",\"branch\":\"locked.x\"}", true, "@",
     "locked.x"},
};

static void test_accepted(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        const struct accepted *t = &accepted[i];
        struct bg_workspace_request r;
        struct bg_field_error f;
        struct bg_error err;
        json_t *b = json_loads(t->body, 0, NULL);

        assert_non_null(b);
        if (bg_workspace_request_decode(b, &r, &f, &err) != 0)
            fail_msg("%s: %s", t->body, err.msg);
        json_decref(b);
        assert_string_equal(r.path, "/src/app");
        assert_int_equal(r.clone, t->clone);
        if (t->from)
            assert_string_equal(r.from, t->from);
        else
            assert_null(r.from);
        if (t->branch)
            assert_string_equal(r.branch, t->branch);
        else
            assert_null(r.branch);
        bg_workspace_request_done(&r);
        assert_null(r.path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
