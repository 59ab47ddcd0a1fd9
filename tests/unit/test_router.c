/* SPDX-License-Identifier: MIT */
/* Unit tests for server/http/router.c: template matching, typed parameters, HEAD on GET
 * routes, the Allow list, and the check of a route table. */
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
#include "rest/handlers.h"

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
    {"GET", "/v1/vms", h_list, 0, NULL, 0},
    {"POST", "/v1/vms", h_other, BG_ROUTE_BODY, NULL, 0},
    {"GET", "/v1/vms/{name:vm}", h_other, 0, NULL, 0},
    {"PATCH", "/v1/vms/{name:vm}", h_other, BG_ROUTE_BODY, NULL, 0},
    {"POST", "/v1/vms/{name:vm}/start", h_other, 0, NULL, 0},
    {"GET", "/v1/images/{name:image}", h_other, 0, NULL, 0},
    {"DELETE", "/v1/images/{name:image}", h_other, 0, NULL, 0},
    {"GET", "/v1/system/version", h_other, 0, NULL, 0},
    {"GET", "/v1/execs/{id:exec}", h_other, 0, NULL, 0},
    {"GET", "/v1/operations/{id:operation}", h_other, 0, NULL, 0},
    {"GET", "/p/{a:vm}/{b:vm}/{c:vm}/{d:vm}", h_other, 0, NULL, 0},
    {"GET", "/s/2/3/4/5/6/7/8", h_other, 0, NULL, 0},
};

struct match {
    struct bg_route_match m;
    char *scratch;
};

static void match(struct match *t, const char *method, const char *path)
{
    free(t->scratch);
    t->scratch = malloc(strlen(path) + 1);
    assert_non_null(t->scratch);
    memset(&t->m, 0x5a, sizeof(t->m));
    bg_router_match(table, BG_ARRAY_SIZE(table), method, path, t->scratch, &t->m);
}

static int teardown(void **state)
{
    struct match *t = *state;
    free(t->scratch);
    free(t);
    return 0;
}

static int setup(void **state)
{
    *state = calloc(1, sizeof(struct match));
    return *state ? 0 : -1;
}

static void test_exact(void **state)
{
    struct match *t = *state;

    match(t, "GET", "/v1/vms");
    assert_int_equal(t->m.result, BG_ROUTE_MATCHED);
    assert_ptr_equal(t->m.route, &table[0]);
    assert_ptr_equal(t->m.route->handler, h_list);
    assert_null(t->m.params[0]);

    match(t, "POST", "/v1/vms");
    assert_ptr_equal(t->m.route, &table[1]);

    match(t, "GET", "/v1/system/version");
    assert_ptr_equal(t->m.route, &table[7]);
}

/* A table of paths whose parameters pass their type. */
static void test_good_params(void **state)
{
    struct match *t = *state;
    static const struct {
        const char *method, *path, *param;
        size_t route;
    } good[] = {
        {"PATCH", "/v1/vms/web-1", "web-1", 3},
        {"POST", "/v1/vms/web-1/start", "web-1", 4},
        {"GET", "/v1/vms/0", "0", 2},
        {"GET", "/v1/vms/a23456789012345678901234567890123456789012345678901234567890123",
         "a23456789012345678901234567890123456789012345678901234567890123", 2},
        {"GET", "/v1/images/base", "base", 5},
        {"DELETE", "/v1/images/x1", "x1", 6},
        {"GET", "/v1/execs/exec-0123456789abcdef", "exec-0123456789abcdef", 8},
        {"GET", "/v1/operations/op-0123456789abcdef", "op-0123456789abcdef", 9},
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(good); i++) {
        match(t, good[i].method, good[i].path);
        if (t->m.result != BG_ROUTE_MATCHED)
            fail_msg("%s %s: result %d, want a match (%s)", good[i].method, good[i].path,
                     t->m.result, t->m.why.msg);
        assert_ptr_equal(t->m.route, &table[good[i].route]);
        assert_string_equal(t->m.params[0], good[i].param);
        assert_null(t->m.params[1]);
    }

    /* parameters live in scratch, and the caller's path is left alone */
    const char *path = "/p/1/two/3/four";
    match(t, "GET", path);
    assert_ptr_equal(t->m.route, &table[10]);
    assert_string_equal(t->m.params[0], "1");
    assert_string_equal(t->m.params[1], "two");
    assert_string_equal(t->m.params[2], "3");
    assert_string_equal(t->m.params[3], "four");
    assert_true(t->m.params[0] >= t->scratch && t->m.params[0] < t->scratch + strlen(path) + 1);
    assert_string_equal(path, "/p/1/two/3/four");
}

/* A table of paths whose parameters fail their type: refused naming the parameter, with the
 * validator's reason. */
static void test_bad_params(void **state)
{
    struct match *t = *state;
    static const struct {
        const char *method, *path, *param, *fragment;
    } bad[] = {
        /* 64 bytes: the lifecycle would cut it, and its lock would wedge (the PATCH bug) */
        {"PATCH", "/v1/vms/a234567890123456789012345678901234567890123456789012345678901234",
         "name", "name is 64 characters long; the limit is 63"},
        {"GET", "/v1/vms/NotAName", "name", "not a valid VM name: name may contain only"},
        {"PATCH", "/v1/vms/-web", "name", "must start and end with a letter or digit"},
        {"POST", "/v1/vms/web_1/start", "name", "found '_' at 4"},
        {"GET", "/v1/vms/a b", "name", "found ' ' at 2"},
        {"GET", "/v1/images/Base", "name", "not a valid image name"},
        {"GET", "/v1/execs/not-an-id", "id", "not a valid exec id: 'not-an-id' is not 'exec-'"},
        {"GET", "/v1/execs/exec-0123456789ABCDEF", "id", "16 lowercase hex digits"},
        {"GET", "/v1/operations/bogus", "id", "not a valid operation id: 'bogus' is not 'op-'"},
        {"GET", "/v1/operations/op-0123", "id", "not a valid operation id"},
        {"GET", "/p/1/2/3/B", "d", "path parameter 'd' is not a valid VM name"},
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++) {
        match(t, bad[i].method, bad[i].path);
        if (t->m.result != BG_ROUTE_BAD_PARAM)
            fail_msg("%s %s: result %d, want a refused parameter", bad[i].method, bad[i].path,
                     t->m.result);
        assert_string_equal(t->m.param, bad[i].param);
        assert_int_equal(t->m.why.code, -EINVAL);
        if (!strstr(t->m.why.msg, bad[i].fragment))
            fail_msg("%s %s: '%s' lacks '%s'", bad[i].method, bad[i].path, t->m.why.msg,
                     bad[i].fragment);
        assert_non_null(strstr(t->m.why.msg, "path parameter '"));
    }
}

static void test_head(void **state)
{
    struct match *t = *state;

    /* HEAD is served by every GET route */
    match(t, "HEAD", "/v1/vms");
    assert_int_equal(t->m.result, BG_ROUTE_MATCHED);
    assert_ptr_equal(t->m.route, &table[0]);
    match(t, "HEAD", "/v1/vms/web1");
    assert_ptr_equal(t->m.route, &table[2]);
    assert_string_equal(t->m.params[0], "web1");
    /* and checks its parameters like GET */
    match(t, "HEAD", "/v1/vms/Web1");
    assert_int_equal(t->m.result, BG_ROUTE_BAD_PARAM);
    /* not by a route without GET */
    match(t, "HEAD", "/v1/vms/web1/start");
    assert_int_equal(t->m.result, BG_ROUTE_NO_METHOD);
    assert_string_equal(t->m.allow, "POST");

    assert_true(bg_route_serves_head(&table[0]));
    assert_false(bg_route_serves_head(&table[1]));
}

static void test_public_path(void **state)
{
    (void)state;
    char buf[64], tiny[8];

    assert_string_equal(bg_route_public_path(&table[0], buf, sizeof(buf)), "/v1/vms");
    assert_string_equal(bg_route_public_path(&table[4], buf, sizeof(buf)), "/v1/vms/{name}/start");
    assert_string_equal(bg_route_public_path(&table[10], buf, sizeof(buf)), "/p/{a}/{b}/{c}/{d}");
    assert_string_equal(bg_route_public_path(&table[4], tiny, sizeof(tiny)), "/v1/vms");
}

static void test_method_mismatch_allow(void **state)
{
    struct match *t = *state;

    match(t, "POST", "/v1/images/base");
    assert_int_equal(t->m.result, BG_ROUTE_NO_METHOD);
    assert_null(t->m.route);
    assert_string_equal(t->m.allow, "GET, HEAD, DELETE");

    match(t, "DELETE", "/v1/vms");
    assert_string_equal(t->m.allow, "GET, HEAD, POST");

    match(t, "GET", "/v1/vms/web1/start");
    assert_string_equal(t->m.allow, "POST");

    /* a method is not matched before its parameters are: a bad name on the wrong method is
     * still a 405 */
    match(t, "POST", "/v1/images/Base");
    assert_int_equal(t->m.result, BG_ROUTE_NO_METHOD);

    /* methods are case-sensitive */
    match(t, "get", "/v1/vms");
    assert_int_equal(t->m.result, BG_ROUTE_NO_METHOD);
    assert_string_equal(t->m.allow, "GET, HEAD, POST");
}

static void test_unknown_path(void **state)
{
    struct match *t = *state;
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
        /* malformed */
        "",
        "/",
        "v1/vms",
        "/v1/vms/",
        "/v1/vms/web1/",
        "//v1/vms",
        "/v1//vms",
        "/v1/vms//",
        "/v1/images//",
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(paths); i++) {
        match(t, "GET", paths[i]);
        if (t->m.result != BG_ROUTE_NO_PATH)
            fail_msg("'%s': result %d, want no route", paths[i], t->m.result);
        assert_null(t->m.route);
        assert_string_equal(t->m.allow, "");
    }
}

static void test_segment_limit(void **state)
{
    struct match *t = *state;

    /* exactly BG_ROUTE_SEGMENTS_MAX segments still match */
    match(t, "GET", "/s/2/3/4/5/6/7/8");
    assert_ptr_equal(t->m.route, &table[11]);

    /* one more is refused before any template is tried, however long the path */
    match(t, "GET", "/a/b/c/d/e/f/g/h/i");
    assert_int_equal(t->m.result, BG_ROUTE_NO_PATH);

    char longpath[4096];
    char *p = longpath;
    for (int i = 0; i < 1000; i++)
        p = stpcpy(p, "/x");
    match(t, "GET", longpath);
    assert_int_equal(t->m.result, BG_ROUTE_NO_PATH);
}

static void expect_bad_table(const struct bg_route *bad, size_t n, const char *fragment)
{
    struct bg_error err = {0};

    assert_int_equal(bg_router_check(bad, n, &err), -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    if (!strstr(err.msg, fragment))
        fail_msg("'%s' lacks '%s'", err.msg, fragment);
}

static void test_check_table(void **state)
{
    (void)state;
    struct bg_error err = {0};

    assert_int_equal(bg_router_check(table, BG_ARRAY_SIZE(table), &err), 0);

    static const struct bg_route untyped[] = {{"GET", "/v1/vms/{name}", h_other, 0, NULL, 0}};
    expect_bad_table(untyped, 1, "segment 3 is not {name:type}");
    static const struct bg_route unknown[] = {{"GET", "/v1/x/{id:uuid}", h_other, 0, NULL, 0}};
    expect_bad_table(unknown, 1, "a known type");
    static const struct bg_route unnamed[] = {{"GET", "/v1/x/{:vm}", h_other, 0, NULL, 0}};
    expect_bad_table(unnamed, 1, "segment 3");
    static const struct bg_route empty[] = {{"GET", "/v1//x", h_other, 0, NULL, 0}};
    expect_bad_table(empty, 1, "empty segment");
    static const struct bg_route both[] = {
        {"PUT", "/v1/x", h_other, BG_ROUTE_STREAM | BG_ROUTE_BODY, NULL, 0}};
    expect_bad_table(both, 1, "a streamed body is not a JSON body");
    static const struct bg_route relative[] = {{"GET", "v1/x", h_other, 0, NULL, 0}};
    expect_bad_table(relative, 1, "incomplete");
    static const struct bg_route head[] = {{"HEAD", "/v1/x", h_other, 0, NULL, 0}};
    expect_bad_table(head, 1, "HEAD is served by the GET route");
    static const struct bg_route many[] = {
        {"GET", "/{a:vm}/{b:vm}/{c:vm}/{d:vm}/{e:vm}", h_other, 0, NULL, 0}};
    expect_bad_table(many, 1, "more than 8 segments or 4 parameters");
    static const struct bg_route twice[] = {
        {"GET", "/v1/vms/{name:vm}", h_other, 0, NULL, 0},
        {"GET", "/v1/vms/{other:image}", h_other, 0, NULL, 0},
    };
    expect_bad_table(twice, 2, "the same as /v1/vms/{name:vm}");
}

/* The table bangerd serves passes the check, and every parameter in it is typed. */
static void test_served_table(void **state)
{
    (void)state;
    const struct bg_route *served;
    size_t n;
    struct bg_error err = {0};

    bg_rest_routes(&served, &n);
    assert_true(n > 0);
    if (bg_router_check(served, n, &err) < 0)
        fail_msg("%s", err.msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_good_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head, setup, teardown),
        cmocka_unit_test(test_public_path),
        cmocka_unit_test_setup_teardown(test_method_mismatch_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_limit, setup, teardown),
        cmocka_unit_test(test_check_table),
        cmocka_unit_test(test_served_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
