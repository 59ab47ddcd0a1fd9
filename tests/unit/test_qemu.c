/* SPDX-License-Identifier: MIT */
/* Unit tests of the QEMU driver's pure parts, VMM selection and the process helpers. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"
#include "host/proc.h"
#include "testutil.h"
#include "vmm/driver.h"
#include "vmm/qemu/qemu.h"
#include "vmm/select.h"

static const struct bg_vmm_launch sample = {
    .id = "web1",
    .kernel = "/images/base/vmlinuz",
    .initrd = "/cache/initrd/abc-def.img",
    .cmdline = "console=ttyS0 panic=-1 quiet banger.root=/dev/vda banger.overlay=/dev/vdb",
    .rootfs = "/images/base/rootfs,v2.ext4",
    .overlay = "/state/vms/web1/overlay.img",
    .workdisk = NULL,
    .vcpus = 2,
    .memory_mib = 1024,
    .run_dir = "/run/banger/vms/web1",
    .nat = false,
};

/* argv joined one per line, as in the golden files. */
static char *join(char **argv)
{
    size_t n = 1;
    for (char **p = argv; *p; p++)
        n += strlen(*p) + 1;
    char *s = bg_calloc(1, n), *o = s;
    for (char **p = argv; *p; p++)
        o += sprintf(o, "%s\n", *p);
    return s;
}

static char *read_golden(const char *name)
{
    const char *dir = getenv("BANGER_TEST_DATA");
    char path[512], *buf = bg_calloc(1, 65536);

    if (!dir)
        return NULL;
    snprintf(path, sizeof(path), "%s/qemu/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void check_golden(const struct bg_vmm_launch *l, const char *accel, const char *golden)
{
    struct bg_error err = {0};
    char **argv = NULL;
    char *want = read_golden(golden);

    if (!want)
        skip(); /* needs BANGER_TEST_DATA, set by ctest */
    assert_int_equal(bg_qemu_argv_build("qemu-system-x86_64", accel, l, &argv, &err), 0);
    char *got = join(argv);
    if (strcmp(got, want))
        fail_msg("argv differs from %s:\n%s", golden, got);
    free(got);
    free(want);
    bg_strv_free(argv);
}

static void test_argv_kvm(void **state)
{
    (void)state;
    check_golden(&sample, "kvm", "argv-kvm.txt");
}

static void test_argv_tcg_nat_workdisk(void **state)
{
    (void)state;
    struct bg_vmm_launch l = sample;
    l.rootfs = NULL;
    l.initrd = NULL;
    l.workdisk = "/state/vms/web1/work.img";
    l.nat = true;
    l.vcpus = 1;
    l.memory_mib = 256;
    check_golden(&l, "tcg", "argv-tcg.txt");
}

static void test_argv_refusals(void **state)
{
    (void)state;
    struct bg_error err = {0};
    struct bg_vmm_launch l = sample;
    char **argv = NULL;
    char longdir[200];

    l.kernel = NULL;
    assert_err(bg_qemu_argv_build("q", "kvm", &l, &argv, &err), err, -EINVAL, "lacks a kernel");
    l = sample;
    memset(longdir, 'a', sizeof(longdir) - 1);
    longdir[0] = '/';
    longdir[sizeof(longdir) - 1] = '\0';
    l.run_dir = longdir;
    assert_err(bg_qemu_argv_build("q", "kvm", &l, &argv, &err), err, -ENAMETOOLONG,
               "too long for a unix socket");
    assert_null(argv);
}

static void test_version_parse(void **state)
{
    (void)state;
    char v[64];
    bool ok = false;

    assert_int_equal(bg_qemu_version_parse("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg)\n"
                                           "Copyright (c) 2003-2022",
                                           v, sizeof(v)),
                     0);
    assert_string_equal(v, "7.2.22");
    assert_int_equal(bg_qemu_version_parse("something else", v, sizeof(v)), -EBADMSG);
    assert_int_equal(bg_qemu_version_parse("QEMU emulator version x", v, sizeof(v)), -EBADMSG);

    assert_int_equal(bg_vmm_fc_version_parse("Firecracker v1.16.0\n\n", v, sizeof(v), &ok), 0);
    assert_string_equal(v, "1.16.0");
    assert_true(ok);
    assert_int_equal(bg_vmm_fc_version_parse("Firecracker v1.4.1\n", v, sizeof(v), &ok), 0);
    assert_false(ok);
    assert_int_equal(bg_vmm_fc_version_parse("Firecracker v2.0.0\n", v, sizeof(v), &ok), 0);
    assert_false(ok);
    assert_int_equal(bg_vmm_fc_version_parse("firecracker 1.16", v, sizeof(v), &ok), -EBADMSG);
    assert_int_equal(bg_vmm_fc_version_parse("Firecracker v12", v, sizeof(v), &ok), -EBADMSG);
}

/* ---- /proc/PID/stat ---- */

static void test_stat_parse(void **state)
{
    (void)state;
    struct bg_error err = {0};
    uint64_t st = 0;
    char s = 0;
    /* a command name with spaces and parentheses: only the last ')' ends it */
    const char *text = "4242 (qemu (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 10 20 0 0 20 0 "
                       "3 0 987654321 123456789 1000 18446744073709551615\n";

    assert_int_equal(bg_proc_stat_parse(text, &s, &st, &err), 0);
    assert_int_equal(s, 'S');
    assert_int_equal(st, 987654321ULL);
    assert_int_equal(bg_proc_stat_parse("12 (zombie) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 "
                                        "18 77",
                                        &s, &st, &err),
                     0);
    assert_int_equal(s, 'Z');
    assert_int_equal(st, 77);
}

static void test_stat_parse_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *text, *fragment;
    } cases[] = {
        {"", "no command name"},
        {"12 noparen S 1", "no command name"},
        {"12 (x)", "no command name"},
        {"12 (x) S 1 2 3", "only"},
        {"12 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 abc", "not a number"},
        {"12 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 99999999999999999999999",
         "not a number"},
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        struct bg_error err = {0};
        uint64_t st;
        char s;
        assert_err(bg_proc_stat_parse(cases[i].text, &s, &st, &err), err, -EBADMSG,
                   cases[i].fragment);
    }
}

/* ---- selection ---- */

static struct bg_vmm_facts facts(const char *fc_problem, int kvm, bool qemu)
{
    struct bg_vmm_facts f = {.fc_problem = fc_problem, .fc_version = "1.16.0", .kvm = kvm};

    f.qemu.usable = qemu;
    snprintf(f.qemu.accel, sizeof(f.qemu.accel), "%s", kvm ? "tcg" : "kvm");
    if (!qemu)
        snprintf(f.qemu.reason, sizeof(f.qemu.reason), "qemu-system-x86_64 not installed");
    else if (kvm)
        snprintf(f.qemu.reason, sizeof(f.qemu.reason), "/dev/kvm not usable (%s), using TCG (slow)",
                 strerror(-kvm));
    else
        snprintf(f.qemu.reason, sizeof(f.qemu.reason), "using KVM");
    return f;
}

static void test_select_auto(void **state)
{
    (void)state;
    const struct bg_vmm_driver *d = NULL;
    struct bg_error err = {0};
    char why[512];
    struct bg_vmm_facts f = facts("not installed", -ENOENT, true);

    assert_int_equal(bg_vmm_decide("auto", &f, &d, why, sizeof(why), &err), 0);
    assert_ptr_equal(d, &bg_vmm_qemu);
    assert_string_equal(why, "firecracker: not installed; qemu: /dev/kvm not usable (No such "
                             "file or directory), using TCG (slow)");

    f = facts("not installed", 0, true);
    assert_int_equal(bg_vmm_decide("auto", &f, &d, why, sizeof(why), &err), 0);
    assert_string_equal(why, "firecracker: not installed; qemu: using KVM");

    /* Firecracker passes its checks and KVM is usable: Firecracker */
    f = facts(NULL, 0, true);
    assert_int_equal(bg_vmm_decide("auto", &f, &d, why, sizeof(why), &err), 0);
    assert_ptr_equal(d, &bg_vmm_firecracker);
    assert_string_equal(why, "firecracker 1.16.0");

    /* Firecracker found, no KVM: QEMU with TCG */
    f = facts(NULL, -ENOENT, true);
    assert_int_equal(bg_vmm_decide("auto", &f, &d, why, sizeof(why), &err), 0);
    assert_ptr_equal(d, &bg_vmm_qemu);
    assert_non_null(strstr(why, "firecracker: /dev/kvm not usable; "));

    f = facts("not installed", -ENOENT, false);
    assert_err(bg_vmm_decide("auto", &f, &d, why, sizeof(why), &err), err, -ENOENT,
               "qemu: qemu-system-x86_64 not installed");
}

static void test_select_explicit(void **state)
{
    (void)state;
    const struct bg_vmm_driver *d = NULL;
    struct bg_error err = {0};
    char why[512];
    struct bg_vmm_facts f = facts(NULL, 0, true);

    assert_int_equal(bg_vmm_decide("qemu", &f, &d, why, sizeof(why), &err), 0);
    assert_string_equal(why, "configured; qemu: using KVM");
    assert_int_equal(bg_vmm_decide("firecracker", &f, &d, why, sizeof(why), &err), 0);
    assert_ptr_equal(d, &bg_vmm_firecracker);
    f = facts("not installed", 0, true);
    assert_err(bg_vmm_decide("firecracker", &f, &d, why, sizeof(why), &err), err, -ENOENT,
               "firecracker not installed");
    f = facts(NULL, -EACCES, true);
    assert_err(bg_vmm_decide("firecracker", &f, &d, why, sizeof(why), &err), err, -ENOENT,
               "/dev/kvm not usable (Permission denied)");
    /* a binary whose --version says it needs no KVM (the test double) */
    f.fc_no_kvm = true;
    assert_int_equal(bg_vmm_decide("firecracker", &f, &d, why, sizeof(why), &err), 0);
    assert_string_equal(why, "firecracker 1.16.0 (test double, no KVM)");
    f = facts(NULL, 0, false);
    assert_err(bg_vmm_decide("qemu", &f, &d, why, sizeof(why), &err), err, -ENOENT,
               "qemu-system-x86_64 not installed");
    assert_err(bg_vmm_decide("kvmtool", &f, &d, why, sizeof(why), &err), err, -EINVAL,
               "not one of auto, qemu, firecracker");
    assert_ptr_equal(bg_vmm_find("qemu"), &bg_vmm_qemu);
    assert_ptr_equal(bg_vmm_find("firecracker"), &bg_vmm_firecracker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argv_kvm),      cmocka_unit_test(test_argv_tcg_nat_workdisk),
        cmocka_unit_test(test_argv_refusals), cmocka_unit_test(test_version_parse),
        cmocka_unit_test(test_stat_parse),    cmocka_unit_test(test_stat_parse_malformed),
        cmocka_unit_test(test_select_auto),   cmocka_unit_test(test_select_explicit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
