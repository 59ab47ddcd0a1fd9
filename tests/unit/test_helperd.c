/* SPDX-License-Identifier: MIT */
/* Unit tests for bangerd-root: the checks of helper/validate.c from tables, the ruleset of
 * helper/nat.c against golden files. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "banger/proc.h"
#include "nat.h"
#include "validate.h"

static char runtime_dir[] = "/run/banger";

static struct bg_install install(void)
{
    struct bg_install in = {.owner_uid = 1000,
                            .owner_gid = 1000,
                            .subnet = 0x0a4d0000,
                            .prefix = 24,
                            .dns_port = 42069,
                            .runtime_dir = runtime_dir};
    snprintf(in.bridge, sizeof(in.bridge), "bgbr0");
    return in;
}

static void t_signals(void **state)
{
    static const struct {
        const char *name;
        int sig;
    } good[] = {{"TERM", SIGTERM}, {"sigkill", SIGKILL}, {"SIGINT", SIGINT},   {"hup", SIGHUP},
                {"Quit", SIGQUIT}, {"USR1", SIGUSR1},    {"SigUsr2", SIGUSR2}, {"ABRT", SIGABRT}};
    static const char *const bad[] = {"9",     "15",         "STOP", "SIGSTOP", "CONT",
                                      "RTMIN", "SIGRTMIN+1", "34",   "",        "SIG",
                                      "TERM ", "SIGSEGV",    "CHLD", "-9"};
    struct bg_error err;
    int sig;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(bg_hv_signal(good[i].name, &sig, &err), 0);
        assert_int_equal(sig, good[i].sig);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(bg_hv_signal(bad[i], &sig, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "is not allowed"));
    }
}

static void t_pid_range(void **state)
{
    struct bg_error err;

    (void)state;
    assert_int_equal(bg_hv_pid_range(0, 500, &err), -EPERM);
    assert_non_null(strstr(err.msg, "never signalled"));
    assert_int_equal(bg_hv_pid_range(1, 500, &err), -EPERM);
    assert_int_equal(bg_hv_pid_range(500, 500, &err), -EPERM);
    assert_int_equal(bg_hv_pid_range(-3, 500, &err), -EPERM);
    assert_int_equal(bg_hv_pid_range(1 << 23, 500, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "limit"));
    assert_int_equal(bg_hv_pid_range(2, 500, &err), 0);
}

/* words separated by '|' into a NUL-separated argv */
static size_t argv_of(const char *words, char *buf)
{
    size_t n = strlen(words);
    memcpy(buf, words, n + 1);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '|')
            buf[i] = '\0';
    return n + 1;
}

static void t_vmm_argv(void **state)
{
    static const char *const yes[] = {
        "firecracker|--api-sock|/run/banger/vms/web1/api.sock|--id|web1",
        "firecracker|--api-sock=/run/banger/vms/web1/api.sock",
        "firecracker|-a|/run/banger/vms/a/api.sock",
        "qemu|-qmp|unix:/run/banger/vms/db/qmp.sock,server,nowait",
        "qemu|-chardev|socket,id=qmp,path=/run/banger/vms/db/qmp.sock,server=on,wait=off",
        "qemu|-pidfile|/run/banger/vms/db/qemu.pid",
    };
    static const char *const no[] = {
        "sleep|100",
        "x|--api-sock|/tmp/vms/web1/api.sock",
        "x|--api-sock|/run/banger/vms/Web1/api.sock",
        "x|--api-sock|/run/banger/vms/../api.sock",
        "x|--api-sock|/run/banger/vms/a/b/api.sock",
        "x|--api-sock|/run/banger/vms/a/api.sockx",
        "x|/run/banger/vms/a/api.sock",
        "x|--api-sock /run/banger/vms/a/api.sock",
        "x|--api-sock=/run/banger/vms/a/qmp.sock",
        "x|-qmp|tcp:/run/banger/vms/a/qmp.sock",
        "x|-chardev|socket,id=agent,path=/run/banger/vms/a/qmp.sock",
        "x|-pidfile|/run/banger/vms/a/qemu.pidx",
        "x|-a",
    };
    char buf[512];

    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(bg_hv_vmm_argv("/run/banger", buf, argv_of(yes[i], buf)));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(bg_hv_vmm_argv("/run/banger", buf, argv_of(no[i], buf)));
    /* a last word cut off by the cap is no word */
    size_t n = argv_of(yes[1], buf);
    assert_false(bg_hv_vmm_argv("/run/banger", buf, n - 1));
}

static void t_vmm_pid(void **state)
{
    struct bg_install in = install();
    struct bg_error err;
    uint64_t st;
    char s;
    int fd = -1;

    (void)state;
    assert_int_equal(bg_proc_stat(getpid(), &s, &st, &err), 0);
    /* this test process is no VMM, whatever its cgroup, unless recorded */
    assert_int_equal(bg_hv_vmm_pid(&in, getpid(), st, 1, "/", NULL, 0, &fd, &err), -EPERM);
    assert_non_null(strstr(err.msg, "not a VMM banger launched"));
    struct bg_hv_launched rec = {getpid(), st};
    assert_int_equal(bg_hv_vmm_pid(&in, getpid(), st, 1, "/", &rec, 1, &fd, &err), 0);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(bg_hv_vmm_pid(&in, getpid(), st + 1, 1, "/", &rec, 1, &fd, &err), -ESRCH);
    assert_int_equal(bg_hv_vmm_pid(&in, getpid(), st, getpid(), "/", &rec, 1, &fd, &err), -EPERM);
}

static void t_guest_address(void **state)
{
    static const struct {
        const char *text;
        const char *fragment;
    } bad[] = {{"10.77.0.0", "network, broadcast or bridge"},
               {"10.77.0.1", "network, broadcast or bridge"},
               {"10.77.0.255", "network, broadcast or bridge"},
               {"10.77.1.2", "outside the subnet"},
               {"10.77.0.2/24", "not an IPv4 address"},
               {"10.77.0.02", "not an IPv4 address"},
               {"10.77.0", "not an IPv4 address"},
               {"10.77.0.256", "not an IPv4 address"},
               {" 10.77.0.2", "not an IPv4 address"},
               {"", "not an IPv4 address"}};
    struct bg_install in = install();
    struct bg_error err;
    uint32_t a;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(bg_hv_guest_address(&in, bad[i].text, &a, &err), -EINVAL);
        assert_non_null(strstr(err.msg, bad[i].fragment));
    }
    assert_int_equal(bg_hv_guest_address(&in, "10.77.0.254", &a, &err), 0);
    assert_int_equal(a, 0x0a4d00fe);
}

static void t_names_and_files(void **state)
{
    static const char *const bad_files[] = {"", ".", "..", "a/b", "vmlinux;rm", "a b", "\xc3\xa9"};
    struct bg_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
        assert_int_equal(bg_hv_file_name("kernel", bad_files[i], &err), -EINVAL);
        assert_non_null(strstr(err.msg, "is not a file name"));
    }
    assert_int_equal(bg_hv_file_name("kernel", "vmlinux-6.1.0", &err), 0);
    assert_true(bg_hv_is_tap_name("bgt0123456789ab"));
    assert_false(bg_hv_is_tap_name("bgt0123456789aB"));
    assert_false(bg_hv_is_tap_name("bgt0123456789a"));
    assert_false(bg_hv_is_tap_name("eth0"));
    assert_int_equal(bg_hv_vm("-web", &err), -EINVAL);
    assert_non_null(strstr(err.msg, "vm"));
}

static void t_binary(void **state)
{
    char dir[] = "/tmp/bg-hv-XXXXXX";
    struct bg_error err;

    (void)state;
    assert_non_null(mkdtemp(dir));
    bg_autofree char *f = bg_asprintf("%s/vmm", dir);
    bg_autofree char *l = bg_asprintf("%s/link", dir);
    FILE *fp = fopen(f, "w");
    fclose(fp);
    assert_int_equal(symlink(f, l), 0);
    assert_int_equal(bg_hv_binary(l, &err), -EPERM);
    assert_non_null(strstr(err.msg, "symlink"));
    assert_int_equal(bg_hv_binary(dir, &err), -EPERM);
    assert_non_null(strstr(err.msg, "not a regular file"));
    assert_int_equal(chmod(f, 0775), 0);
    if (getuid() == 0) {
        assert_int_equal(bg_hv_binary(f, &err), -EPERM);
        assert_non_null(strstr(err.msg, "writable by group or others"));
        assert_int_equal(chmod(f, 0755), 0);
        assert_int_equal(bg_hv_binary(f, &err), 0);
        assert_int_equal(chown(f, 1, 1), 0);
        assert_int_equal(bg_hv_binary(f, &err), -EPERM);
        assert_non_null(strstr(err.msg, "not owned by root"));
    } else {
        assert_int_equal(bg_hv_binary(f, &err), -EPERM);
        assert_non_null(strstr(err.msg, "not owned by root"));
    }
    assert_int_equal(bg_hv_binary("/nonexistent/vmm", &err), -ENOENT);
    unlink(l);
    unlink(f);
    rmdir(dir);
}

static void golden(const char *name, const char *got)
{
    bg_autofree char *path = bg_asprintf("%s/helper/%s", getenv("BANGER_TEST_DATA"), name);
    FILE *f = fopen(path, "r");
    char want[8192];

    assert_non_null(f);
    size_t n = fread(want, 1, sizeof(want) - 1, f);
    fclose(f);
    want[n] = '\0';
    assert_string_equal(got, want);
}

static void t_nat_render(void **state)
{
    struct bg_install in = install();
    struct bg_helper_guest g[] = {
        {"web1", "10.77.0.9", true}, {"db", "10.77.0.3", false}, {"api", "10.77.0.2", true}};

    (void)state;
    bg_autofree char *empty = bg_nat_render(&in, NULL, 0);
    golden("nat-empty.nft", empty);
    bg_autofree char *three = bg_nat_render(&in, g, 3);
    golden("nat-three.nft", three);
    assert_string_equal(bg_nat_render_delete(), "table inet banger\ndelete table inet banger\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_signals),       cmocka_unit_test(t_pid_range),
        cmocka_unit_test(t_vmm_argv),      cmocka_unit_test(t_vmm_pid),
        cmocka_unit_test(t_guest_address), cmocka_unit_test(t_names_and_files),
        cmocka_unit_test(t_binary),        cmocka_unit_test(t_nat_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
