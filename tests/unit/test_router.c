/* SPDX-License-Identifier: MIT */
/* Unit tests for server/http/router.c: template matching, parameters and the Allow list. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banger/macro.h"
#include "http/router.h"

/* Handlers are never called here; distinct addresses tell the routes apart. */
static int h_list(struct bg_http_request *req)
{
    (void)req;
    return 1;
}

static int h_other(struct bg_http_request *req)
{
    (void)req;
    return 2;
}

static const struct bg_route table[] = {
    {"GET", "/v1/vms", h_list, 0, NULL},
    {"POST", "/v1/vms", h_other, BG_ROUTE_BODY, NULL},
    {"GET", "/v1/vms/{name}", h_other, 0, NULL},
    {"PATCH", "/v1/vms/{name}", h_other, BG_ROUTE_BODY, NULL},
    {"POST", "/v1/vms/{name}/start", h_other, 0, NULL},
    {"GET", "/v1/images/{name}", h_other, 0, NULL},
    {"DELETE", "/v1/images/{name}", h_other, 0, NULL},
    {"GET", "/v1/system/version", h_other, 0, NULL},
    {"GET", "/p/{a}/{b}/{c}/{d}", h_other, 0, NULL},
    {"GET", "/s/2/3/4/5/6/7/8", h_other, 0, NULL},
    {"GET", "/too/{a}/{b}/{c}/{d}/{e}", h_other, 0, NULL},
};

struct match {
    const struct bg_route *route;
    const char *params[BG_ROUTE_PARAMS_MAX];
    char allow[64];
    char *scratch;
};

static void match(struct match *m, const char *method, const char *path)
{
    free(m->scratch);
    memset(m, 0, sizeof(*m));
    strcpy(m->allow, "untouched");
    m->scratch = malloc(strlen(path) + 1);
    assert_non_null(m->scratch);
    m->route = bg_router_match(table, BG_ARRAY_SIZE(table), method, path, m->scratch, m->params,
                               m->allow, sizeof(m->allow));
}

static int teardown(void **state)
{
    struct match *m = *state;
    free(m->scratch);
    free(m);
    return 0;
}

static int setup(void **state)
{
    *state = calloc(1, sizeof(struct match));
    return *state ? 0 : -1;
}

static void test_exact(void **state)
{
    struct match *m = *state;

    match(m, "GET", "/v1/vms");
    assert_ptr_equal(m->route, &table[0]);
    assert_ptr_equal(m->route->handler, h_list);
    assert_null(m->params[0]);

    match(m, "POST", "/v1/vms");
    assert_ptr_equal(m->route, &table[1]);

    match(m, "GET", "/v1/system/version");
    assert_ptr_equal(m->route, &table[7]);
}

static void test_params(void **state)
{
    struct match *m = *state;
    const char *path = "/v1/vms/web-1";

    match(m, "PATCH", path);
    assert_ptr_equal(m->route, &table[3]);
    assert_string_equal(m->params[0], "web-1");
    assert_null(m->params[1]);
    /* parameters live in scratch, and the caller's path is left alone */
    assert_true(m->params[0] >= m->scratch && m->params[0] < m->scratch + strlen(path) + 1);
    assert_string_equal(path, "/v1/vms/web-1");

    match(m, "POST", "/v1/vms/web-1/start");
    assert_ptr_equal(m->route, &table[4]);
    assert_string_equal(m->params[0], "web-1");

    /* a parameter takes any non-empty segment; validating it is the handler's job */
    match(m, "GET", "/v1/images/NOT_A_NAME%20x");
    assert_ptr_equal(m->route, &table[5]);
    assert_string_equal(m->params[0], "NOT_A_NAME%20x");

    match(m, "GET", "/p/1/two/3/four");
    assert_ptr_equal(m->route, &table[8]);
    assert_string_equal(m->params[0], "1");
    assert_string_equal(m->params[1], "two");
    assert_string_equal(m->params[2], "3");
    assert_string_equal(m->params[3], "four");
}

static void test_method_mismatch_allow(void **state)
{
    struct match *m = *state;

    match(m, "POST", "/v1/images/base");
    assert_null(m->route);
    assert_string_equal(m->allow, "GET, DELETE");

    match(m, "DELETE", "/v1/vms");
    assert_null(m->route);
    assert_string_equal(m->allow, "GET, POST");

    match(m, "GET", "/v1/vms/web1/start");
    assert_null(m->route);
    assert_string_equal(m->allow, "POST");

    /* methods are case-sensitive */
    match(m, "get", "/v1/vms");
    assert_null(m->route);
    assert_string_equal(m->allow, "GET, POST");
}

static void test_allow_truncated(void **state)
{
    (void)state;
    char scratch[32];
    const char *params[BG_ROUTE_PARAMS_MAX];
    char allow[8];

    /* "GET, DELETE" does not fit in 8 bytes: what fits is kept, and it stays terminated */
    memset(allow, 'x', sizeof(allow));
    assert_null(bg_router_match(table, BG_ARRAY_SIZE(table), "POST", "/v1/images/base", scratch,
                                params, allow, sizeof(allow)));
    assert_string_equal(allow, "GET");

    char tiny[1] = {'x'};
    assert_null(bg_router_match(table, BG_ARRAY_SIZE(table), "POST", "/v1/images/base", scratch,
                                params, tiny, sizeof(tiny)));
    assert_int_equal(tiny[0], '\0');
}

static void test_unknown_path(void **state)
{
    struct match *m = *state;
    const char *paths[] = {
        "/v1/vm",
        "/v1/vmsx",
        "/v1/vms/web1/stop",
        "/v2/vms",
        "/v1/images",
        "/v1/vms/a/b",
        "/v1",
        "/v1/system/version/x",
        "/p/1/2/3",
        "/V1/vms",
        "/s/2/3/4/5/6/7",
        "/s/2/3/4/5/6/7/8/9",
    };

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        match(m, "GET", paths[i]);
        if (m->route)
            fail_msg("'%s' matched '%s'", paths[i], m->route->path);
        if (m->allow[0])
            fail_msg("'%s': allow '%s', want empty", paths[i], m->allow);
    }
}

static void test_malformed_paths(void **state)
{
    struct match *m = *state;
    const char *paths[] = {
        "",              /* empty */
        "/",             /* root: one empty segment */
        "v1/vms",        /* relative */
        "/v1/vms/",      /* trailing slash */
        "/v1/vms/web1/", /* trailing slash after a parameter */
        "//v1/vms",      /* empty first segment */
        "/v1//vms",      /* empty middle segment */
        "/v1/vms//",     /* empty parameter */
        "/v1/images//",
    };

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        match(m, "GET", paths[i]);
        if (m->route)
            fail_msg("'%s' matched '%s'", paths[i], m->route->path);
        if (m->allow[0])
            fail_msg("'%s': allow '%s', want empty", paths[i], m->allow);
    }
}

static void test_segment_limit(void **state)
{
    struct match *m = *state;

    /* exactly BG_ROUTE_SEGMENTS_MAX segments still match */
    match(m, "GET", "/s/2/3/4/5/6/7/8");
    assert_ptr_equal(m->route, &table[9]);

    /* one more is refused before any template is tried, however long the path */
    match(m, "GET", "/a/b/c/d/e/f/g/h/i");
    assert_null(m->route);
    assert_string_equal(m->allow, "");

    char longpath[4096];
    char *p = longpath;
    for (int i = 0; i < 1000; i++)
        p = stpcpy(p, "/x");
    match(m, "GET", longpath);
    assert_null(m->route);
    assert_string_equal(m->allow, "");
}

static void test_param_limit(void **state)
{
    struct match *m = *state;

    /* a template with more parameters than params[] holds never matches (no overflow) */
    match(m, "GET", "/too/1/2/3/4/5");
    assert_null(m->route);
    assert_string_equal(m->allow, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_method_mismatch_allow, setup, teardown),
        cmocka_unit_test(test_allow_truncated),
        cmocka_unit_test_setup_teardown(test_unknown_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_param_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
