/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/tunnel.c: the POST /v1/vms/{name}/tunnel body. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "banger/tunnel.h"

#define KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBYxC0YO5+XzMXWqzjbc20S3LfygbZDupu18tFW6duk"

static int decode(const char *text, struct bg_tunnel_request *r, struct bg_field_error *f,
                  struct bg_error *err)
{
    json_t *body = json_loads(text, JSON_ALLOW_NUL, NULL);
    assert_non_null(body);
    int rc = bg_tunnel_request_decode(body, r, f, err);
    json_decref(body);
    return rc;
}

static void test_good(void **state)
{
    (void)state;
    struct bg_tunnel_request r;
    struct bg_field_error f;
    struct bg_error err;

    assert_int_equal(decode("{\"port\":8080}", &r, &f, &err), 0);
    assert_int_equal(r.port, 8080);
    assert_string_equal(r.authorized_key, "");
    assert_false(r.host_keys);
    assert_false(bg_tunnel_request_is_ssh(&r));
    assert_int_equal(
        decode("{\"port\":22,\"authorized_key\":\"" KEY "\",\"host_keys\":true}", &r, &f, &err), 0);
    assert_int_equal(r.port, 22);
    assert_string_equal(r.authorized_key, KEY);
    assert_true(r.host_keys);
    assert_true(bg_tunnel_request_is_ssh(&r));
    assert_int_equal(decode("{\"port\":1,\"host_keys\":true}", &r, &f, &err), 0);
    assert_true(bg_tunnel_request_is_ssh(&r));
}

static void test_malformed(void **state)
{
    (void)state;
    const struct {
        const char *body;
        enum bg_problem problem;
        const char *field;
        const char *fragment;
    } bad[] = {
        {"{}", BG_PROBLEM_MISSING_FIELD, "port", "'port'"},
        {"{\"port\":0}", BG_PROBLEM_INVALID_FIELD, "port", "outside 1..65535"},
        {"{\"port\":65536}", BG_PROBLEM_INVALID_FIELD, "port", "outside 1..65535"},
        {"{\"port\":-1}", BG_PROBLEM_INVALID_FIELD, "port", "outside 1..65535"},
        {"{\"port\":\"22\"}", BG_PROBLEM_INVALID_FIELD, "port", "must be an integer"},
        {"{\"port\":22.5}", BG_PROBLEM_INVALID_FIELD, "port", "must be an integer"},
        {"{\"port\":22,\"addr\":\"10.0.0.2\"}", BG_PROBLEM_UNKNOWN_FIELD, "addr", "addr"},
        {"{\"port\":22,\"host_keys\":\"yes\"}", BG_PROBLEM_INVALID_FIELD, "host_keys",
         "true or false"},
        {"{\"port\":22,\"authorized_key\":1}", BG_PROBLEM_INVALID_FIELD, "authorized_key",
         "must be a string"},
        {"{\"port\":22,\"authorized_key\":\"a\\u0000b\"}", BG_PROBLEM_INVALID_FIELD,
         "authorized_key", "must be a string"},
        {"{\"port\":22,\"authorized_key\":\"ssh-dss AAAA\"}", BG_PROBLEM_INVALID_FIELD,
         "authorized_key", "unknown key type"},
        {"{\"port\":22,\"authorized_key\":\"" KEY " me@laptop\"}", BG_PROBLEM_INVALID_FIELD,
         "authorized_key", "not base64"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bg_tunnel_request r;
        struct bg_field_error f = {0};
        struct bg_error err = {0};
        int rc = decode(bad[i].body, &r, &f, &err);
        if (rc != -EINVAL || err.code != -EINVAL || f.problem != bad[i].problem ||
            strcmp(f.field, bad[i].field) || !strstr(err.msg, bad[i].fragment))
            fail_msg("case %zu (%s): %d %s '%s': '%s'", i, bad[i].body, rc,
                     bg_problem_code(f.problem), f.field, err.msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
