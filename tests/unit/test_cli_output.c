/* SPDX-License-Identifier: MIT */
/* Unit tests for the CLI's shared formatting helpers and event-line rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd_events.h"
#include "output.h"

static void test_sizes(void **state)
{
    (void)state;
    char buf[BG_CLI_TEXT_MAX];

    assert_string_equal(bg_cli_output_size(0, buf), "0 B");
    assert_string_equal(bg_cli_output_size(1023, buf), "1023 B");
    assert_string_equal(bg_cli_output_size(1024, buf), "1.0 KiB");
    assert_string_equal(bg_cli_output_size(279235379, buf), "266.3 MiB");
    assert_string_equal(bg_cli_output_size(3ull << 30, buf), "3.0 GiB");
    assert_string_equal(bg_cli_output_size(5ull << 50, buf), "5120.0 TiB");
}

static void test_ages(void **state)
{
    (void)state;
    char buf[BG_CLI_TEXT_MAX];
    time_t t0 = 1700000000; /* 2023-11-14T22:13:20Z */

    assert_string_equal(bg_cli_output_age("2023-11-14T22:13:20Z", t0 + 2, buf), "just now");
    assert_string_equal(bg_cli_output_age("2023-11-14T22:13:20Z", t0 + 42, buf), "42s ago");
    assert_string_equal(bg_cli_output_age("2023-11-14T22:13:20Z", t0 + 300, buf), "5m ago");
    assert_string_equal(bg_cli_output_age("2023-11-14T22:13:20Z", t0 + 7200, buf), "2h ago");
    assert_string_equal(bg_cli_output_age("2023-11-14T22:13:20.5Z", t0 + 86400 * 3, buf), "3d ago");
    assert_string_equal(bg_cli_output_age("yesterday", t0, buf), "yesterday");
    assert_string_equal(bg_cli_output_age("2023-11-14T22:13:20+01:00", t0, buf),
                        "2023-11-14T22:13:20+01:00");
    assert_string_equal(bg_cli_output_age(NULL, t0, buf), "-");
}

static void test_json_accessors(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:s, s:i, s:i, s:b, s:n}", "name", "web1", "vcpus", 2, "neg", -4, "nat",
                          1, "err");

    assert_non_null(o);
    assert_string_equal(bg_cli_json_str(o, "name"), "web1");
    assert_string_equal(bg_cli_json_str(o, "vcpus"), "-");
    assert_string_equal(bg_cli_json_str(o, "err"), "-");
    assert_string_equal(bg_cli_json_str(NULL, "name"), "-");
    assert_int_equal(bg_cli_json_u64(o, "vcpus"), 2);
    assert_int_equal(bg_cli_json_u64(o, "neg"), 0);
    assert_int_equal(bg_cli_json_u64(o, "missing"), 0);
    assert_string_equal(bg_cli_json_onoff(o, "nat"), "on");
    assert_string_equal(bg_cli_json_onoff(o, "missing"), "off");
    json_decref(o);
}

static void test_event_lines(void **state)
{
    (void)state;
    const char *ev = "{\"seq\":12,\"time\":\"2024-01-02T03:04:05Z\",\"type\":\"vm.created\","
                     "\"subject\":\"/v1/vms/web1\",\"data\":{}}";
    char *s = bg_cli_events_format(ev, strlen(ev));

    assert_string_equal(s, "12      2024-01-02T03:04:05Z  vm.created         /v1/vms/web1");
    free(s);
    s = bg_cli_events_format("not json", 8);
    assert_string_equal(s, "not json");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_ages),
        cmocka_unit_test(test_json_accessors),
        cmocka_unit_test(test_event_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
