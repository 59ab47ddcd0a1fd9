/* SPDX-License-Identifier: MIT */
/* Unit tests for banger's command-line parser: what it accepts, and every refusal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "args.h"

#define ARGV_MAX 16

/* Parse the NULL-terminated argument list v (without argv[0]). */
static int parse(const char *const *v, struct bg_cli_args *a, struct bg_error *err)
{
    const char *argv[ARGV_MAX + 1] = {"banger"};
    int argc = 1;

    for (; v[argc - 1]; argc++) {
        assert_true(argc < ARGV_MAX);
        argv[argc] = v[argc - 1];
    }
    return bg_cli_args_parse(argc, (char *const *)argv, a, err);
}

#define PARSE(a, err, ...) parse((const char *const[]){__VA_ARGS__, NULL}, a, err)

static void test_vm_create_all_flags(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(PARSE(&a, &err, "--socket", "/tmp/s.sock", "vm", "create", "web1", "--image",
                           "base", "--vcpus=4", "--memory", "2048", "--disk", "10240", "--nat"),
                     0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_VM_CREATE);
    assert_string_equal(a.socket, "/tmp/s.sock");
    assert_string_equal(a.where, "vm create");
    assert_string_equal(a.name, "web1");
    assert_string_equal(a.image, "base");
    assert_int_equal(a.vcpus, 4);
    assert_int_equal(a.memory_mib, 2048);
    assert_int_equal(a.disk_mib, 10240);
    assert_true(a.given & BG_CLI_FLAG_NAT);
    assert_false(a.given & BG_CLI_FLAG_NO_NAT);
    assert_false(a.json);
}

static void test_flags_may_precede_name_and_json_may_follow(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(PARSE(&a, &err, "vm", "set", "--no-nat", "web1", "--json"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_VM_SET);
    assert_string_equal(a.name, "web1");
    assert_true(a.given & BG_CLI_FLAG_NO_NAT);
    assert_true(a.json);
}

static void test_double_dash_ends_flags(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(PARSE(&a, &err, "vm", "rm", "--", "web1"), 0);
    assert_string_equal(a.name, "web1");
}

static void test_image_import_and_events(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(PARSE(&a, &err, "image", "import", "base", "--kernel", "vmlinuz", "--rootfs",
                           "/r.ext4", "--initrd=i.img", "--vmlinux", "vmlinux", "--no-wait"),
                     0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_IMAGE_IMPORT);
    assert_string_equal(a.kernel, "vmlinuz");
    assert_string_equal(a.rootfs, "/r.ext4");
    assert_string_equal(a.initrd, "i.img");
    assert_string_equal(a.vmlinux, "vmlinux");
    assert_true(a.given & BG_CLI_FLAG_NO_WAIT);

    assert_int_equal(PARSE(&a, &err, "events", "--since", "0"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_EVENTS);
    assert_true(a.given & BG_CLI_FLAG_SINCE);
    assert_int_equal(a.since, 0);

    assert_int_equal(PARSE(&a, &err, "vm", "ls", "--state", "running"), 0);
    assert_string_equal(a.state, "running");
}

/* image build: recipe and packages; vm create without --image (the daemon's default). */
static void test_image_build_and_default_image(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(
        PARSE(&a, &err, "image", "build", "dev2", "--recipe", "dev", "--packages", "vim,strace jq"),
        0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_IMAGE_BUILD);
    assert_string_equal(a.name, "dev2");
    assert_string_equal(a.recipe, "dev");
    assert_string_equal(a.packages, "vim,strace jq");
    assert_int_equal(PARSE(&a, &err, "image", "build", "--recipe=minimal"), 0);
    assert_null(a.name);
    assert_string_equal(a.recipe, "minimal");
    assert_null(a.packages);
    assert_int_equal(PARSE(&a, &err, "vm", "create", "web1"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_VM_CREATE);
    assert_null(a.image);
}

static void test_lifecycle_commands(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(PARSE(&a, &err, "vm", "start", "web1"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_VM_START);
    assert_int_equal(PARSE(&a, &err, "vm", "stop", "web1", "--timeout", "300"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_VM_STOP);
    assert_int_equal(a.timeout_s, 300);
    assert_int_equal(PARSE(&a, &err, "vm", "stop", "web1", "--timeout", "0"), -ERANGE);
    assert_non_null(strstr(err.msg, "flag '--timeout': 0 is outside 1..300"));
    assert_int_equal(PARSE(&a, &err, "vm", "console", "web1", "--tail=4096"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_VM_CONSOLE);
    assert_int_equal(a.tail, 4096);
    assert_int_equal(PARSE(&a, &err, "vm", "console", "web1", "--tail", "1048577"), -ERANGE);
    assert_int_equal(PARSE(&a, &err, "vm", "rm", "web1", "--force"), 0);
    assert_true(a.given & BG_CLI_FLAG_FORCE);
    assert_int_equal(PARSE(&a, &err, "vm", "create", "web1", "--image", "b", "--start"), 0);
    assert_true(a.given & BG_CLI_FLAG_START);
    assert_int_equal(PARSE(&a, &err, "vm", "start", "web1", "--force"), -EINVAL);
    assert_non_null(strstr(err.msg, "unknown flag '--force' for 'banger vm start'"));
}

static void test_help_forms(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(PARSE(&a, &err, "--help"), 0);
    assert_true(a.help);
    assert_null(a.cmd);
    assert_null(a.group);

    assert_int_equal(PARSE(&a, &err, "vm", "--help"), 0);
    assert_true(a.help);
    assert_null(a.cmd);
    assert_string_equal(a.group, "vm");

    /* a command's help needs none of its required arguments */
    assert_int_equal(PARSE(&a, &err, "vm", "create", "-h"), 0);
    assert_true(a.help);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_VM_CREATE);

    assert_int_equal(PARSE(&a, &err, "help", "image", "import"), 0);
    assert_true(a.help);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_IMAGE_IMPORT);

    assert_int_equal(PARSE(&a, &err, "help"), 0);
    assert_true(a.help);
    assert_null(a.cmd);

    assert_int_equal(PARSE(&a, &err, "help", "--help"), 0);
    assert_true(a.help);
    assert_null(a.cmd);

    assert_int_equal(PARSE(&a, &err, "--version"), 0);
    assert_true(a.version);
}

static void test_no_arguments_is_a_usage_error(void **state)
{
    (void)state;
    const char *argv[] = {"banger", NULL};
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(bg_cli_args_parse(1, (char *const *)argv, &a, &err), -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    assert_non_null(strstr(err.msg, "no command given"));
    assert_string_equal(a.where, "");
}

/* One refusal: the arguments, the command the hint names, a fragment of the message, and the
 * code (0 for -EINVAL; numbers out of bounds give -ERANGE). */
struct refusal {
    const char *argv[ARGV_MAX];
    const char *where;
    const char *fragment;
    int code;
};

static const struct refusal refusals[] = {
    {{"--bogus", "vm", "ls"}, "", "unknown option '--bogus'", 0},
    {{"--json=yes", "vm", "ls"}, "", "unknown option '--json=yes'", 0},
    {{"--socket"}, "", "flag '--socket' needs a value (PATH)", 0},
    {{"--socket=", "vm", "ls"}, "", "non-empty PATH", 0},
    {{"frobnicate"}, "", "unknown command 'frobnicate'", 0},
    {{"help", "nope"}, "", "unknown command 'nope'", 0},
    {{"vm"}, "vm", "'banger vm' needs a subcommand", 0},
    {{"vm", "frob", "web1"}, "vm", "unknown command 'vm frob'", 0},
    {{"vm", "create", "web1", "--image", "base", "--frob"},
     "vm create",
     "unknown flag '--frob' for 'banger vm create'",
     0},
    {{"vm", "ls", "--nat"}, "vm ls", "unknown flag '--nat' for 'banger vm ls'", 0},
    {{"vm", "create", "web1", "--no-nat", "--image", "b"},
     "vm create",
     "unknown flag '--no-nat'",
     0},
    {{"vm", "create", "web1", "--image"}, "vm create", "flag '--image' needs a value (IMG)", 0},
    {{"vm", "create", "web1", "--image", "b", "--vcpus"},
     "vm create",
     "flag '--vcpus' needs a value (N)",
     0},
    {{"vm", "create", "web1", "--image", "b", "--vcpus", "two"},
     "vm create",
     "flag '--vcpus': 'two' is not a decimal number",
     0},
    {{"vm", "create", "web1", "--image", "b", "--vcpus", "33"},
     "vm create",
     "flag '--vcpus': 33 is outside 1..32",
     -ERANGE},
    {{"vm", "create", "web1", "--image", "b", "--vcpus", "-1"},
     "vm create",
     "flag '--vcpus': '-1' is not a decimal number",
     0},
    {{"vm", "create", "web1", "--image", "b", "--memory", "64"},
     "vm create",
     "flag '--memory': 64 is outside 128..65536",
     -ERANGE},
    {{"vm", "create", "web1", "--image", "b", "--disk", "0512"},
     "vm create",
     "flag '--disk': '0512' has a leading zero",
     0},
    {{"vm", "set", "web1", "--disk", "99999999999999999999999"}, "vm set", "is too large", -ERANGE},
    {{"events", "--since", "x"}, "events", "flag '--since': 'x' is not a decimal number", 0},
    {{"vm", "create", "Web1", "--image", "b"},
     "vm create",
     "invalid name 'Web1': name may contain only a-z, 0-9 and '-'",
     0},
    {{"vm", "show", "-web"}, "vm show", "unknown flag '-web'", 0},
    {{"vm", "show", "--", "-web"}, "vm show", "must start and end with a letter or digit", 0},
    {{"image", "rm", "a_b"}, "image rm", "invalid name 'a_b'", 0},
    {{"vm", "create", "web1", "--image", "Base"},
     "vm create",
     "flag '--image': name may contain",
     0},
    {{"vm", "create", "--image", "b"}, "vm create", "'banger vm create' needs a NAME", 0},
    {{"vm", "show"}, "vm show", "needs a NAME", 0},
    {{"image", "build", "--recipe", "big"},
     "image build",
     "flag '--recipe': 'big' is not one of dev, minimal",
     0},
    {{"image", "build", "--packages", "vim,Emacs"},
     "image build",
     "flag '--packages': package name may contain only a-z",
     0},
    {{"image", "build", "--packages", ", ,"}, "image build", "flag '--packages': no package", 0},
    {{"image", "import", "x", "--kernel", "k", "--recipe", "dev"},
     "image import",
     "unknown flag '--recipe'",
     0},
    {{"image", "import", "base"}, "image import", "needs --kernel PATH", 0},
    {{"image", "import", "base", "--kernel", ""}, "image import", "needs a non-empty PATH", 0},
    {{"vm", "show", "web1", "web2"}, "vm show", "unexpected argument 'web2'", 0},
    {{"vm", "ls", "web1"}, "vm ls", "unexpected argument 'web1'", 0},
    {{"vm", "set", "web1", "--vcpus", "2", "--vcpus", "3"},
     "vm set",
     "flag '--vcpus' given twice",
     0},
    {{"vm", "set", "web1", "--nat=yes"}, "vm set", "flag '--nat' takes no value", 0},
    {{"vm", "set", "web1", "--nat", "--no-nat"}, "vm set", "contradict", 0},
    {{"vm", "set", "web1"}, "vm set", "needs at least one change", 0},
    {{"vm", "ls", "--state", "paused"}, "vm ls", "'paused' is not a VM state", 0},
};

static void test_every_refusal(void **state)
{
    (void)state;

    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const struct refusal *t = &refusals[i];
        struct bg_cli_args a;
        struct bg_error err = {0};
        int code = t->code ? t->code : -EINVAL;
        int r = parse(t->argv, &a, &err);

        if (r != code || err.code != code || !strstr(err.msg, t->fragment) ||
            strcmp(a.where, t->where))
            fail_msg("refusal %zu (%s ...): r=%d where='%s' msg='%s'", i, t->argv[0], r, a.where,
                     err.msg);
        assert_null(a.cmd); /* nothing but the hint survives a refusal */
    }
}

static void test_socket_resolution_order(void **state)
{
    (void)state;
    struct bg_cli_args a = {0};
    char *s;

    assert_int_equal(unsetenv("BANGER_SOCKET"), 0);
    assert_int_equal(unsetenv("BANGER_SYSTEM"), 0);
    assert_int_equal(setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1), 0);
    s = bg_cli_args_socket(&a);
    assert_string_equal(s, "/run/user/1000/banger/bangerd.sock");
    free(s);

    assert_int_equal(unsetenv("XDG_RUNTIME_DIR"), 0);
    s = bg_cli_args_socket(&a);
    assert_non_null(strstr(s, "/banger/bangerd.sock"));
    assert_int_equal(strncmp(s, "/run/user/", 10), 0);
    free(s);

    assert_int_equal(setenv("BANGER_SYSTEM", "1", 1), 0);
    s = bg_cli_args_socket(&a);
    assert_string_equal(s, BG_CLI_SYSTEM_SOCKET);
    free(s);

    assert_int_equal(setenv("BANGER_SOCKET", "/env.sock", 1), 0);
    s = bg_cli_args_socket(&a);
    assert_string_equal(s, "/env.sock");
    free(s);

    a.system = true;
    s = bg_cli_args_socket(&a);
    assert_string_equal(s, BG_CLI_SYSTEM_SOCKET);
    free(s);

    a.socket = "/flag.sock";
    s = bg_cli_args_socket(&a);
    assert_string_equal(s, "/flag.sock");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vm_create_all_flags),
        cmocka_unit_test(test_flags_may_precede_name_and_json_may_follow),
        cmocka_unit_test(test_double_dash_ends_flags),
        cmocka_unit_test(test_image_import_and_events),
        cmocka_unit_test(test_image_build_and_default_image),
        cmocka_unit_test(test_lifecycle_commands),
        cmocka_unit_test(test_help_forms),
        cmocka_unit_test(test_no_arguments_is_a_usage_error),
        cmocka_unit_test(test_every_refusal),
        cmocka_unit_test(test_socket_resolution_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
