/* SPDX-License-Identifier: MIT */
/* Unit tests for server/http/encode.c: a body that encodes, and the fixed 500 problem for one
 * that does not (which used to abort the daemon). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banger/utf8.h"
#include "http/encode.h"

/* t holds the 500 internal problem about instance. */
static void expect_fallback(const struct bg_http_text *t, const char *instance)
{
    json_error_t jerr;

    assert_true(t->fallback);
    assert_int_equal(strlen(t->text), t->len);
    json_t *j = json_loadb(t->text, t->len, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "code")), "internal");
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 500);
    assert_string_equal(json_string_value(json_object_get(j, "detail")),
                        "bangerd could not encode its answer");
    assert_string_equal(json_string_value(json_object_get(j, "instance")), instance);
    json_decref(j);
}

static void test_encodes(void **state)
{
    (void)state;
    struct bg_http_text t;

    bg_http_encode(json_pack("{s:s,s:i}", "name", "caf\xc3\xa9", "n", 3), "/v1/x", &t);
    assert_false(t.fallback);
    assert_string_equal(t.text, "{\"name\":\"caf\xc3\xa9\",\"n\":3}");
    assert_int_equal(t.len, strlen(t.text));
    bg_http_text_done(&t);
    assert_null(t.text);
}

static void test_invalid_utf8_falls_back(void **state)
{
    (void)state;
    struct bg_http_text t;
    json_t *body = json_object();

    /* what a handler might build from guest output without checking it */
    json_object_set_new_nocheck(body, "stdout", json_stringn_nocheck("a\xff\xfe", 3));
    bg_http_encode(body, "/v1/vms/web1/exec", &t);
    expect_fallback(&t, "/v1/vms/web1/exec");
    bg_http_text_done(&t);

    /* a key that is not UTF-8 */
    body = json_object();
    json_object_set_new_nocheck(body, "k\xc3", json_true());
    bg_http_encode(body, "/v1/x", &t);
    expect_fallback(&t, "/v1/x");
    bg_http_text_done(&t);
}

static void test_null_body_and_bad_instance(void **state)
{
    (void)state;
    struct bg_http_text t;

    bg_http_encode(NULL, NULL, &t);
    expect_fallback(&t, "");
    bg_http_text_done(&t);

    /* the instance may hold any bytes: they become U+FFFD, and the problem still encodes */
    bg_http_encode(NULL, "/v1/\xff", &t);
    expect_fallback(&t, "/v1/" BG_UTF8_REPLACEMENT);
    assert_true(bg_utf8_valid(t.text, t.len));
    bg_http_text_done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encodes),
        cmocka_unit_test(test_invalid_utf8_falls_back),
        cmocka_unit_test(test_null_body_and_bad_instance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
