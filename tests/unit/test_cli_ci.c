/* SPDX-License-Identifier: MIT */
/* Unit tests for banger ci gitlab's pure parts: the VM name from the runner's variables, the
 * exit codes it gives, sub-stage names and the command line, each with malformed input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "args.h"
#include "banger/utf8.h"
#include "cmd_ci.h"

static void test_vm_name_ok(void **state)
{
    (void)state;
    static const struct {
        const char *job, *runner, *project, *want;
    } cases[] = {
        {"42", NULL, NULL, "ci-42"},
        {"42", "", "", "ci-42"},
        {"42", "7", NULL, "ci-42-r7"},
        {"42", NULL, "3", "ci-42-p3"},
        {"9876543210", "123456", "0", "ci-9876543210-r123456-p0"},
        {"0", "0", "0", "ci-0-r0-p0"},
        /* the most a u64 job ID and runner ID take: 3+20+2+20 = 45 */
        {"18446744073709551615", "18446744073709551615", NULL,
         "ci-18446744073709551615-r18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[BG_NAME_MAX + 1];
        struct bg_error err = {0};
        assert_int_equal(
            bg_cli_ci_vm_name(cases[i].job, cases[i].runner, cases[i].project, buf, &err), 0);
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(bg_name_validate(buf, &err), 0);
    }
}

static void test_vm_name_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *job, *runner, *project;
        int code;
        const char *fragment;
    } cases[] = {
        {NULL, "7", "3", -EINVAL, "CUSTOM_ENV_CI_JOB_ID is not set"},
        {"", NULL, NULL, -EINVAL, "CUSTOM_ENV_CI_JOB_ID is not set"},
        {"-1", NULL, NULL, -EINVAL, "CUSTOM_ENV_CI_JOB_ID '-1'"},
        {"4 2", NULL, NULL, -EINVAL, "CUSTOM_ENV_CI_JOB_ID '4 2'"},
        {"42x", NULL, NULL, -EINVAL, "CUSTOM_ENV_CI_JOB_ID"},
        {"0x10", NULL, NULL, -EINVAL, "CUSTOM_ENV_CI_JOB_ID"},
        {"../etc", NULL, NULL, -EINVAL, "CUSTOM_ENV_CI_JOB_ID"},
        {"18446744073709551616", NULL, NULL, -EINVAL, "CUSTOM_ENV_CI_JOB_ID"},
        {"42", "runner", NULL, -EINVAL, "CUSTOM_ENV_CI_RUNNER_ID 'runner'"},
        {"42", "7", "p", -EINVAL, "CUSTOM_ENV_CI_CONCURRENT_PROJECT_ID 'p'"},
        {"42", "7", "\xff", -EINVAL, "CUSTOM_ENV_CI_CONCURRENT_PROJECT_ID"},
        /* three u64s at their largest: 3+20+2+20+2+20 = 67 > 63 */
        {"18446744073709551615", "18446744073709551615", "18446744073709551615", -ENAMETOOLONG,
         "longer than 63"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[BG_NAME_MAX + 1] = "untouched";
        struct bg_error err = {0};
        assert_int_equal(
            bg_cli_ci_vm_name(cases[i].job, cases[i].runner, cases[i].project, buf, &err),
            cases[i].code);
        assert_non_null(strstr(err.msg, cases[i].fragment));
        assert_true(bg_utf8_valid(err.msg, strlen(err.msg)));
        assert_string_equal(buf, "untouched");
    }
}

static void test_exit_code(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        int rc, want;
    } cases[] = {
        {NULL, 0, 5},       {"", 0, 5},         {"1", 0, 1},         {"255", 0, 255},
        {"42", 0, 42},      {"0", -EINVAL, 5},  {"256", -EINVAL, 5}, {"-1", -EINVAL, 5},
        {"1x", -EINVAL, 5}, {" 1", -EINVAL, 5}, {"one", -EINVAL, 5},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bg_error err = {0};
        int code = -1;
        assert_int_equal(
            bg_cli_ci_exit_code("BUILD_FAILURE_EXIT_CODE", cases[i].value, 5, &code, &err),
            cases[i].rc);
        assert_int_equal(code, cases[i].want);
        if (cases[i].rc < 0)
            assert_non_null(strstr(err.msg, "BUILD_FAILURE_EXIT_CODE"));
    }
}

static void test_substage(void **state)
{
    (void)state;
    static const char *const ok[] = {"prepare_script",
                                     "get_sources",
                                     "step_script",
                                     "step_release",
                                     "after_script",
                                     "cleanup_file_variables",
                                     "upload_artifacts_on_failure",
                                     "step-A1"};
    static const struct {
        const char *name, *fragment;
    } bad[] = {
        {"", "1..64 characters"},
        {"../x", "only hold letters"},
        {"step script", "only hold letters"},
        {"a/b", "only hold letters"},
        {"st\xc3\xa9p", "only hold letters"},
        {"x\n", "only hold letters"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1..64"},
    };
    struct bg_error err = {0};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_int_equal(bg_cli_ci_substage_validate(ok[i], &err), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(bg_cli_ci_substage_validate(bad[i].name, &err), -EINVAL);
        assert_non_null(strstr(err.msg, bad[i].fragment));
        assert_true(bg_utf8_valid(err.msg, strlen(err.msg)));
    }
}

#define ARGV_MAX 16

static int parse(const char *const *v, struct bg_cli_args *a, struct bg_error *err)
{
    const char *argv[ARGV_MAX + 1] = {"banger"};
    int argc = 1;

    for (; v[argc - 1]; argc++) {
        assert_true(argc < ARGV_MAX);
        argv[argc] = v[argc - 1];
    }
    argv[argc] = NULL;
    return bg_cli_args_parse(argc, (char *const *)argv, a, err);
}

#define PARSE(a, err, ...) parse((const char *const[]){__VA_ARGS__, NULL}, a, err)

static void test_args_ok(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(
        PARSE(&a, &err, "--socket", "/s", "ci", "gitlab", "run", "/tmp/s", "step_script"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_CI_GITLAB);
    assert_string_equal(a.socket, "/s");
    assert_string_equal(a.ci_stage, "run");
    assert_string_equal(a.ci_script, "/tmp/s");
    assert_string_equal(a.ci_substage, "step_script");

    /* prepare_args can carry the runner's defaults */
    assert_int_equal(PARSE(&a, &err, "ci", "gitlab", "prepare", "--image", "dev", "--vcpus", "4"),
                     0);
    assert_string_equal(a.ci_stage, "prepare");
    assert_string_equal(a.image, "dev");
    assert_int_equal(a.vcpus, 4);
    assert_null(a.ci_script);

    assert_int_equal(PARSE(&a, &err, "ci", "gitlab", "config"), 0);
    assert_int_equal(PARSE(&a, &err, "ci", "gitlab", "cleanup"), 0);
}

static void test_args_refused(void **state)
{
    (void)state;
    static const struct {
        const char *argv[8];
        const char *fragment;
    } cases[] = {
        {{"ci", "gitlab"}, "needs a stage"},
        {{"ci", "gitlab", "build"}, "'build' is not a stage"},
        {{"ci", "gitlab", "run"}, "needs SCRIPT and STAGE"},
        {{"ci", "gitlab", "run", "/tmp/s"}, "needs SCRIPT and STAGE"},
        {{"ci", "gitlab", "run", "/tmp/s", "../x"}, "only hold letters"},
        {{"ci", "gitlab", "run", "/tmp/s", "step_script", "more"}, "unexpected argument 'more'"},
        {{"ci", "gitlab", "config", "extra"}, "unexpected argument 'extra'"},
        {{"ci", "gitlab", "cleanup", "--image", "x"}, "only go with 'prepare'"},
        {{"ci", "gitlab", "run", "/s", "step_script", "--nat"}, "only go with 'prepare'"},
        {{"ci", "gitlab", "prepare", "--image", "Bad_Name"}, "--image"},
        {{"ci", "gitlab", "prepare", "--env", "A=1"}, "unknown flag '--env'"},
        {{"ci", "github"}, "unknown command 'ci github'"},
        {{"ci"}, "needs a subcommand"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bg_cli_args a;
        struct bg_error err = {0};
        assert_int_equal(parse(cases[i].argv, &a, &err), -EINVAL);
        if (!strstr(err.msg, cases[i].fragment))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].fragment);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vm_name_ok), cmocka_unit_test(test_vm_name_malformed),
        cmocka_unit_test(test_exit_code),  cmocka_unit_test(test_substage),
        cmocka_unit_test(test_args_ok),    cmocka_unit_test(test_args_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
