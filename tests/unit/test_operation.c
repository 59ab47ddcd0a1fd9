/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/operation.c: id syntax, states and the wire form. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "banger/operation.h"

static void test_id_validate(void **state)
{
    (void)state;
    const char *good[] = {"op-0123456789abcdef", "op-0000000000000000", "op-ffffffffffffffff"};
    const char *bad[] = {
        "",
        "op-",
        "op-0123456789abcde",   /* 15 digits */
        "op-0123456789abcdef0", /* 17 digits */
        "op-0123456789ABCDEF",  /* uppercase */
        "op-0123456789abcdeg",  /* not hex */
        "OP-0123456789abcdef",
        "op_0123456789abcdef",
        "xx-0123456789abcdef",
        "0123456789abcdef",
        "op-0123456789abcd f",
        "op-0123456789abcde\n",
        "op-../../etc/passwd",
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (bg_operation_id_validate(good[i]) != 1)
            fail_msg("'%s' refused", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (bg_operation_id_validate(bad[i]) != 0)
            fail_msg("'%s' accepted", bad[i]);
}

static void test_state_names(void **state)
{
    (void)state;
    static const char *const names[BG_OPERATION_STATE_COUNT_] = {"running", "succeeded", "failed"};

    for (int i = 0; i < BG_OPERATION_STATE_COUNT_; i++) {
        enum bg_operation_state s = BG_OPERATION_STATE_COUNT_;
        assert_string_equal(bg_operation_state_name((enum bg_operation_state)i), names[i]);
        assert_int_equal(bg_operation_state_parse(names[i], &s), 0);
        assert_int_equal(s, i);
    }
    assert_string_equal(bg_operation_state_name(BG_OPERATION_STATE_COUNT_), "failed");

    const char *bad[] = {"", "Running", "success", "done", "succeeded "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum bg_operation_state s = BG_OPERATION_STATE_RUNNING;
        assert_int_equal(bg_operation_state_parse(bad[i], &s), -EINVAL);
        assert_int_equal(s, BG_OPERATION_STATE_RUNNING);
    }
}

static struct bg_operation sample_op(void)
{
    struct bg_operation op = {
        .id = "op-0123456789abcdef",
        .kind = "image_import",
        .target = "/v1/images/base",
        .state = BG_OPERATION_STATE_RUNNING,
        .done = 1024,
        .total = 4096,
        .unit = "bytes",
        .created_at = 1738324800, /* 2025-01-31T12:00:00Z */
        .updated_at = 1738324805,
    };
    return op;
}

static void test_to_json_running(void **state)
{
    (void)state;
    struct bg_operation op = sample_op();
    json_t *j = bg_operation_to_json(&op);

    assert_non_null(j);
    assert_int_equal(json_object_size(j), 9);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "op-0123456789abcdef");
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "image_import");
    assert_string_equal(json_string_value(json_object_get(j, "target")), "/v1/images/base");
    assert_string_equal(json_string_value(json_object_get(j, "state")), "running");
    json_t *progress = json_object_get(j, "progress");
    assert_true(json_is_object(progress));
    assert_int_equal(json_object_size(progress), 3);
    assert_int_equal(json_integer_value(json_object_get(progress, "done")), 1024);
    assert_int_equal(json_integer_value(json_object_get(progress, "total")), 4096);
    assert_string_equal(json_string_value(json_object_get(progress, "unit")), "bytes");
    assert_non_null(json_object_get(j, "error"));
    assert_true(json_is_null(json_object_get(j, "error")));
    assert_non_null(json_object_get(j, "result"));
    assert_true(json_is_null(json_object_get(j, "result")));
    assert_string_equal(json_string_value(json_object_get(j, "created_at")),
                        "2025-01-31T12:00:00Z");
    assert_string_equal(json_string_value(json_object_get(j, "updated_at")),
                        "2025-01-31T12:00:05Z");
    json_decref(j);
}

/* A step that counts something of its own shows step_done, step_total and step_unit; one that
 * counts nothing shows none of them. */
static void test_to_json_step_count(void **state)
{
    (void)state;
    struct bg_operation op = sample_op();
    snprintf(op.unit, sizeof(op.unit), "steps");
    snprintf(op.step, sizeof(op.step), "rootfs: download packages");
    op.step_done = 41200000;
    op.step_total = 91700000;
    snprintf(op.step_unit, sizeof(op.step_unit), "bytes");

    json_t *j = bg_operation_to_json(&op);
    json_t *progress = json_object_get(j, "progress");
    assert_int_equal(json_object_size(progress), 7);
    assert_string_equal(json_string_value(json_object_get(progress, "step")),
                        "rootfs: download packages");
    assert_int_equal(json_integer_value(json_object_get(progress, "step_done")), 41200000);
    assert_int_equal(json_integer_value(json_object_get(progress, "step_total")), 91700000);
    assert_string_equal(json_string_value(json_object_get(progress, "step_unit")), "bytes");
    json_decref(j);
    op.step_unit[0] = '\0';
    j = bg_operation_to_json(&op);
    assert_int_equal(json_object_size(json_object_get(j, "progress")), 4);
    json_decref(j);
}

static void test_to_json_keeps_references(void **state)
{
    (void)state;
    struct bg_operation op = sample_op();
    op.state = BG_OPERATION_STATE_SUCCEEDED;
    op.result = json_pack("{s:s}", "name", "base");

    json_t *j = bg_operation_to_json(&op);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "succeeded");
    assert_ptr_equal(json_object_get(j, "result"), op.result);
    /* the wire form took its own reference; op still owns one */
    assert_int_equal(op.result->refcount, 2);
    json_decref(j);
    assert_int_equal(op.result->refcount, 1);
    assert_string_equal(json_string_value(json_object_get(op.result, "name")), "base");
    bg_operation_done(&op);
    assert_null(op.result);
    assert_null(op.error);
    bg_operation_done(&op); /* idempotent */
}

static void test_to_json_failed(void **state)
{
    (void)state;
    struct bg_operation op = sample_op();
    op.state = BG_OPERATION_STATE_FAILED;
    op.total = 0; /* unknown */
    op.error = json_pack("{s:s, s:i}", "code", "internal", "status", 500);

    json_t *j = bg_operation_to_json(&op);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "failed");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "progress"), "total")),
                     0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "internal");
    assert_true(json_is_null(json_object_get(j, "result")));
    json_decref(j);
    bg_operation_done(&op);
    assert_null(op.error);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_validate),     cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_to_json_running), cmocka_unit_test(test_to_json_keeps_references),
        cmocka_unit_test(test_to_json_failed),  cmocka_unit_test(test_to_json_step_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
