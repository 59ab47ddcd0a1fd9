/* SPDX-License-Identifier: MIT */
/* Unit tests for the command-line parsing of vm exec, vm run and vm workspace. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "args.h"

#define ARGV_MAX 24

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

static void test_exec_full(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(PARSE(&a, &err, "vm", "exec", "web1", "-i", "-t", "--env", "A=1",
                           "--env=B=x=y", "--cwd", "/root/repo", "--", "sh", "-c", "echo --env"),
                     0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_VM_EXEC);
    assert_string_equal(a.name, "web1");
    assert_true(a.given & BG_CLI_FLAG_INTERACTIVE);
    assert_true(a.given & BG_CLI_FLAG_TTY);
    assert_int_equal(a.n_env, 2);
    assert_string_equal(a.env[0], "A=1");
    assert_string_equal(a.env[1], "B=x=y");
    assert_string_equal(a.cwd, "/root/repo");
    assert_int_equal(a.n_command, 3);
    assert_string_equal(a.command[0], "sh");
    assert_string_equal(a.command[2], "echo --env");
}

static void test_exec_command_without_dashes(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    /* the first word after NAME starts the command; its flags are the command's */
    assert_int_equal(PARSE(&a, &err, "vm", "exec", "-it", "web1", "ls", "-l", "--json"), 0);
    assert_true(a.given & BG_CLI_FLAG_INTERACTIVE);
    assert_true(a.given & BG_CLI_FLAG_TTY);
    assert_int_equal(a.n_command, 3);
    assert_string_equal(a.command[1], "-l");
    assert_string_equal(a.command[2], "--json");
    assert_false(a.json);
}

static void test_run_forms(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(PARSE(&a, &err, "vm", "run", "--rm", "--timings", "--image", "base", "--name",
                           "ci-1", "--vcpus", "4", "--memory", "2048", "./repo", "--", "make",
                           "test"),
                     0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_VM_RUN);
    assert_true(a.given & BG_CLI_FLAG_RM);
    assert_true(a.given & BG_CLI_FLAG_TIMINGS);
    assert_string_equal(a.name, "ci-1");
    assert_string_equal(a.repo, "./repo");
    assert_int_equal(a.vcpus, 4);
    assert_int_equal(a.n_command, 2);
    assert_string_equal(a.command[1], "test");

    assert_int_equal(PARSE(&a, &err, "vm", "run", "--rm", "--", "echo", "ok"), 0);
    assert_null(a.repo);
    assert_null(a.name);
    assert_int_equal(a.n_command, 2);

    assert_int_equal(PARSE(&a, &err, "vm", "run"), 0);
    assert_int_equal(a.n_command, 0);

    /* vm create's flags */
    assert_int_equal(
        PARSE(&a, &err, "vm", "run", "--rm", "--nat", "--disk", "1024", "--start", "--", "true"),
        0);
    assert_true(a.given & BG_CLI_FLAG_NAT);
    assert_int_equal(a.disk_mib, 1024);
}

/* A user never wonders which verb takes which flag: vm run takes every flag vm create does. */
static void test_run_takes_every_create_flag(void **state)
{
    (void)state;
    unsigned create = bg_cli_args_flags_of(BG_CLI_CMD_VM_CREATE);
    unsigned run = bg_cli_args_flags_of(BG_CLI_CMD_VM_RUN);

    assert_int_not_equal(create, 0);
    if (create & ~run)
        fail_msg("vm run lacks flags of vm create: bits 0x%x", create & ~run);
}

static void test_cp_forms(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(PARSE(&a, &err, "vm", "cp", "./out", "web1:/root/in"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_VM_CP);
    assert_string_equal(a.src, "./out");
    assert_string_equal(a.dst, "web1:/root/in");
    assert_int_equal(PARSE(&a, &err, "vm", "cp", "web1:/etc", "-", "--json"), 0);
    assert_string_equal(a.dst, "-");
    assert_true(a.json);
    assert_int_equal(PARSE(&a, &err, "vm", "cp", "--", "-dash", "web1:/x"), 0);
    assert_string_equal(a.src, "-dash");
}

static void test_workspace_forms(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(PARSE(&a, &err, "vm", "workspace", "web1", "/src/app", "--mode", "clone",
                           "--from", "v1", "--branch", "fix"),
                     0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_VM_WORKSPACE);
    assert_string_equal(a.repo, "/src/app");
    assert_string_equal(a.mode, "clone");
    assert_string_equal(a.from, "v1");
    assert_string_equal(a.branch, "fix");
}

struct refusal {
    const char *argv[ARGV_MAX];
    const char *fragment;
};

static const struct refusal refusals[] = {
    {{"vm", "exec", "web1"}, "needs a command"},
    {{"vm", "exec", "web1", "--"}, "needs a command"},
    {{"vm", "exec", "--", "ls"}, "needs a NAME"},
    {{"vm", "exec", "web1", "--env", "NOEQUALS", "--", "ls"}, "NAME=VALUE"},
    {{"vm", "exec", "web1", "--env", "=x", "--", "ls"}, "NAME=VALUE"},
    {{"vm", "exec", "web1", "--cwd", "rel", "--", "ls"}, "absolute"},
    {{"vm", "exec", "web1", "--rm", "--", "ls"}, "unknown flag '--rm'"},
    {{"vm", "run", "./repo", "make"}, "after '--'"},
    {{"vm", "run", "--name", "Bad_Name"}, "--name"},
    {{"vm", "run", "--mode", "clone"}, "needs a REPO"},
    {{"vm", "run", "--mode", "zip", "./r"}, "copy or clone"},
    {{"vm", "workspace", "web1"}, "needs a REPO"},
    {{"vm", "workspace", "web1", "/r", "--mode", "clone", "--from", "x"}, "--branch"},
    {{"vm", "workspace", "web1", "/r", "--branch", "x"}, "--mode clone"},
    {{"vm", "workspace", "web1", "/r", "extra"}, "unexpected argument"},
    {{"vm", "cp"}, "needs SRC and DST"},
    {{"vm", "cp", "./a"}, "needs SRC and DST"},
    {{"vm", "cp", "./a", "web1:/b", "c"}, "unexpected argument 'c'"},
    {{"vm", "cp", "--rm", "./a", "web1:/b"}, "unknown flag '--rm'"},
};

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        struct bg_cli_args a;
        struct bg_error err = {0};
        int r = parse(refusals[i].argv, &a, &err);
        if (r != -EINVAL || !strstr(err.msg, refusals[i].fragment))
            fail_msg("refusal %zu: r=%d msg='%s' want '%s'", i, r, err.msg, refusals[i].fragment);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_full),
        cmocka_unit_test(test_exec_command_without_dashes),
        cmocka_unit_test(test_run_forms),
        cmocka_unit_test(test_workspace_forms),
        cmocka_unit_test(test_run_takes_every_create_flag),
        cmocka_unit_test(test_cp_forms),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
