/* SPDX-License-Identifier: MIT */
/* Unit tests for server/exec/registry.c: ids, the resource JSON, expiry with an injected
 * clock, the bound on entries, and shutdown. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec/registry.h"

static int64_t fake_now = 1700000000;

static int64_t fake_clock(void)
{
    return fake_now;
}

static char make_[] = "make", test_[] = "test";
static char *const argv[] = {make_, test_, NULL};

static void test_add_get_finish(void **state)
{
    (void)state;
    struct bg_exec_registry *r = bg_exec_registry_new(fake_clock);
    char id[BG_EXEC_ID_LEN + 1];
    struct bg_error err;
    json_t *j;

    assert_int_equal(bg_exec_registry_add(r, "web1", argv, id, &err), 0);
    assert_true(bg_exec_id_valid(id));
    assert_int_equal(bg_exec_registry_get(r, id, &j, &err), 0);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "running");
    assert_string_equal(json_string_value(json_object_get(j, "vm")), "web1");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "cmd"), 1)), "test");
    assert_true(json_is_null(json_object_get(j, "exit_code")));
    assert_true(json_is_null(json_object_get(j, "ended_at")));
    assert_string_equal(json_string_value(json_object_get(j, "started_at")),
                        "2023-11-14T22:13:20Z");
    json_decref(j);

    fake_now += 5;
    bg_exec_registry_finish(r, id, 3, 0);
    assert_int_equal(bg_exec_registry_get(r, id, &j, &err), 0);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "exited");
    assert_int_equal(json_integer_value(json_object_get(j, "exit_code")), 3);
    assert_true(json_is_null(json_object_get(j, "signal")));
    assert_string_equal(json_string_value(json_object_get(j, "ended_at")), "2023-11-14T22:13:25Z");
    json_decref(j);
    bg_exec_registry_free(r);
}

static void test_signal_outcome(void **state)
{
    (void)state;
    struct bg_exec_registry *r = bg_exec_registry_new(fake_clock);
    char id[BG_EXEC_ID_LEN + 1];
    json_t *j;

    assert_int_equal(bg_exec_registry_add(r, "web1", argv, id, NULL), 0);
    bg_exec_registry_finish(r, id, -1, 9);
    bg_exec_registry_finish(r, id, 0, 0); /* a second finish changes nothing */
    assert_int_equal(bg_exec_registry_get(r, id, &j, NULL), 0);
    assert_true(json_is_null(json_object_get(j, "exit_code")));
    assert_int_equal(json_integer_value(json_object_get(j, "signal")), 9);
    json_decref(j);
    bg_exec_registry_free(r);
}

static void test_expiry(void **state)
{
    (void)state;
    struct bg_exec_registry *r = bg_exec_registry_new(fake_clock);
    char done[BG_EXEC_ID_LEN + 1], running[BG_EXEC_ID_LEN + 1];
    struct bg_error err;
    json_t *j;

    assert_int_equal(bg_exec_registry_add(r, "a", argv, done, NULL), 0);
    assert_int_equal(bg_exec_registry_add(r, "a", argv, running, NULL), 0);
    bg_exec_registry_finish(r, done, 0, 0);
    fake_now += BG_EXEC_REGISTRY_KEEP_S - 1;
    assert_int_equal(bg_exec_registry_get(r, done, &j, NULL), 0);
    json_decref(j);
    fake_now += 1;
    assert_int_equal(bg_exec_registry_get(r, done, &j, &err), BG_ERR(BG_PROBLEM_EXEC_NOT_FOUND));
    assert_int_equal(err.code, BG_ERR(BG_PROBLEM_EXEC_NOT_FOUND));
    assert_non_null(strstr(err.msg, "10 minutes"));
    /* running ones never expire */
    fake_now += 100000;
    assert_int_equal(bg_exec_registry_get(r, running, &j, NULL), 0);
    json_decref(j);
    bg_exec_registry_free(r);
}

static void test_bound(void **state)
{
    (void)state;
    struct bg_exec_registry *r = bg_exec_registry_new(fake_clock);
    char first[BG_EXEC_ID_LEN + 1], id[BG_EXEC_ID_LEN + 1];
    struct bg_error err;
    json_t *j;

    assert_int_equal(bg_exec_registry_add(r, "a", argv, first, NULL), 0);
    bg_exec_registry_finish(r, first, 0, 0);
    for (int i = 1; i < BG_EXEC_REGISTRY_MAX; i++)
        assert_int_equal(bg_exec_registry_add(r, "a", argv, id, NULL), 0);
    /* full: the oldest ended entry makes room */
    assert_int_equal(bg_exec_registry_add(r, "a", argv, id, NULL), 0);
    assert_int_equal(bg_exec_registry_get(r, first, &j, NULL), BG_ERR(BG_PROBLEM_EXEC_NOT_FOUND));
    /* full of running commands: refused */
    assert_int_equal(bg_exec_registry_add(r, "a", argv, id, &err),
                     BG_ERR(BG_PROBLEM_TOO_MANY_EXECS));
    assert_non_null(strstr(err.msg, "running already"));
    bg_exec_registry_free(r);
}

static void test_close(void **state)
{
    (void)state;
    struct bg_exec_registry *r = bg_exec_registry_new(NULL);
    char id[BG_EXEC_ID_LEN + 1];
    struct bg_error err;
    int sv[2];
    char c;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(bg_exec_registry_add(r, "a", argv, id, NULL), 0);
    bg_exec_registry_set_fd(r, id, sv[0]);
    assert_false(bg_exec_registry_closed(r));
    bg_exec_registry_close(r);
    assert_true(bg_exec_registry_closed(r));
    /* the stream's socket was shut down: its reader sees end of stream at once */
    assert_int_equal(read(sv[0], &c, 1), 0);
    assert_int_equal(bg_exec_registry_add(r, "a", argv, id, &err), -ESHUTDOWN);
    assert_non_null(strstr(err.msg, "shutting down"));
    close(sv[0]);
    close(sv[1]);
    bg_exec_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_get_finish), cmocka_unit_test(test_signal_outcome),
        cmocka_unit_test(test_expiry),         cmocka_unit_test(test_bound),
        cmocka_unit_test(test_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
