/* SPDX-License-Identifier: MIT */
/* Unit tests of the QEMU driver (golden argv, a real start in a run dir with a comma when QEMU
 * is installed), VMM selection from a driver list, the stop ladder and the process helpers. */
#include <errno.h>
#include <fcntl.h>
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
#include "banger/proc.h"
#include "banger/timefmt.h"
#include "host/fileio.h"
#include "host/run.h"
#include "testutil.h"
#include "vmm/driver.h"
#include "vmm/qemu/qemu.h"

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

/* A comma in the run dir: doubled wherever QEMU parses an option list (-chardev path=,
 * -drive file=), as it is in -pidfile, which takes a plain path; no "-serial file:". */
static void test_argv_comma_run_dir(void **state)
{
    (void)state;
    struct bg_vmm_launch l = sample;
    l.run_dir = "/run/banger,x/vms/web1";
    l.overlay = "/state,y/vms/web1/overlay.img";
    check_golden(&l, "kvm", "argv-comma.txt");
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

    assert_int_equal(bg_qemu_version_parse("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg)\n"
                                           "Copyright (c) 2003-2022",
                                           v, sizeof(v)),
                     0);
    assert_string_equal(v, "7.2.22");
    assert_int_equal(bg_qemu_version_parse("something else", v, sizeof(v)), -EBADMSG);
    assert_int_equal(bg_qemu_version_parse("QEMU emulator version x", v, sizeof(v)), -EBADMSG);
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

/* ---- selection from a driver list ---- */

/* Two stand-in drivers whose probes say what the test sets. */
static struct bg_vmm_probe probe_fast, probe_slow;
static int probe_fast_ret, probe_slow_ret;

static int fast_probe(const struct bg_vmm_settings *s, struct bg_vmm_probe *ret)
{
    (void)s;
    *ret = probe_fast;
    return probe_fast_ret;
}

static int slow_probe(const struct bg_vmm_settings *s, struct bg_vmm_probe *ret)
{
    (void)s;
    *ret = probe_slow;
    return probe_slow_ret;
}

static const struct bg_vmm_driver fast = {.name = "fast", .probe = fast_probe};
static const struct bg_vmm_driver slow = {.name = "slow", .probe = slow_probe};
static const struct bg_vmm_driver *const two[] = {&fast, &slow};

static void set_probe(struct bg_vmm_probe *p, bool usable, const char *reason)
{
    *p = (struct bg_vmm_probe){.usable = usable};
    snprintf(p->reason, sizeof(p->reason), "%s", reason);
    snprintf(p->accel, sizeof(p->accel), "kvm");
    snprintf(p->version, sizeof(p->version), "1.0");
}

static int select_two(const char *want, const struct bg_vmm_driver **d, struct bg_vmm_probe *p,
                      char *why, size_t len, struct bg_error *err)
{
    struct bg_vmm_settings s = {.accel = "auto"};

    return bg_vmm_select(want, two, 2, &s, d, p, why, len, err);
}

static void test_select_auto(void **state)
{
    (void)state;
    const struct bg_vmm_driver *d = NULL;
    struct bg_error err = {0};
    struct bg_vmm_probe p;
    char why[512];

    probe_fast_ret = probe_slow_ret = 0;
    /* the first usable one in the list's order, and why the ones before it were not */
    set_probe(&probe_fast, false, "not installed");
    set_probe(&probe_slow, true, "/dev/kvm not usable (No such file or directory), using TCG");
    assert_int_equal(select_two("auto", &d, &p, why, sizeof(why), &err), 0);
    assert_ptr_equal(d, &slow);
    assert_true(p.usable);
    assert_string_equal(why, "fast: not installed; slow: /dev/kvm not usable (No such file or "
                             "directory), using TCG");
    set_probe(&probe_fast, true, "version 1.16.1 (/usr/bin/fast)");
    assert_int_equal(select_two("auto", &d, &p, why, sizeof(why), &err), 0);
    assert_ptr_equal(d, &fast);
    assert_string_equal(why, "fast: version 1.16.1 (/usr/bin/fast)");
    /* none usable: every reason */
    set_probe(&probe_fast, false, "not installed");
    set_probe(&probe_slow, false, "slow-binary not installed");
    assert_err(select_two("auto", &d, &p, why, sizeof(why), &err), err, -ENOENT,
               "fast: not installed; slow: slow-binary not installed");
    /* a probe that fails outright */
    probe_fast_ret = -EIO;
    assert_err(select_two("auto", &d, &p, why, sizeof(why), &err), err, -EIO, "probe fast");
    probe_fast_ret = 0;
}

static void test_select_explicit(void **state)
{
    (void)state;
    const struct bg_vmm_driver *d = NULL;
    struct bg_error err = {0};
    struct bg_vmm_probe p;
    char why[512];

    probe_fast_ret = probe_slow_ret = 0;
    set_probe(&probe_fast, true, "version 1.16.1 (/usr/bin/fast)");
    set_probe(&probe_slow, true, "using KVM");
    assert_int_equal(select_two("slow", &d, &p, why, sizeof(why), &err), 0);
    assert_ptr_equal(d, &slow);
    assert_string_equal(why, "configured; slow: using KVM");
    set_probe(&probe_slow, false, "/dev/kvm not usable (Permission denied) and accel = kvm");
    assert_err(select_two("slow", &d, &p, why, sizeof(why), &err), err, -ENOENT,
               "vmm 'slow' is not usable: /dev/kvm not usable (Permission denied)");
    /* the names come from the list */
    assert_err(select_two("kvmtool", &d, &p, why, sizeof(why), &err), err, -EINVAL,
               "vmm 'kvmtool' is not one of auto, fast, slow");
    assert_ptr_equal(bg_vmm_find(two, 2, "slow"), &slow);
    assert_null(bg_vmm_find(two, 2, "qemu"));
}

/* The QEMU driver's own probe under its settings. */
static void test_qemu_probe(void **state)
{
    (void)state;
    struct bg_vmm_settings s = {.accel = "tcg"};
    struct bg_vmm_probe p;
    char *bin = NULL;
    struct bg_error err = {0};

    if (bg_run_find_program(BG_QEMU_BINARY, &bin, &err) < 0) {
        print_message("skip: needs " BG_QEMU_BINARY "\n");
        skip();
    }
    free(bin);
    assert_int_equal(bg_vmm_qemu.probe(&s, &p), 0);
    assert_true(p.usable);
    assert_string_equal(p.accel, "tcg");
    assert_string_equal(p.reason, "using TCG (accel = tcg)");
    s.accel = "kvm";
    assert_int_equal(bg_vmm_qemu.probe(&s, &p), 0);
    if (bg_vmm_kvm_check() < 0) {
        assert_false(p.usable);
        assert_non_null(strstr(p.reason, "and accel = kvm"));
    }
}

/* ---- the stop ladder ---- */

static int asked;
static bool ask_exit_no(const struct bg_vmm_instance *vi)
{
    (void)vi;
    asked++;
    return false;
}

static const struct bg_vmm_driver graceful = {
    .name = "graceful", .ask_exit = ask_exit_no, .ask_exit_name = "Quit", .ask_exit_wait_ms = 100};
static const struct bg_vmm_driver via_guest = {.name = "via-guest",
                                               .ask_exit = ask_exit_no,
                                               .ask_exit_name = "CAD",
                                               .ask_exit_wait_ms = 100,
                                               .ask_exit_needs_guest = true};

static struct bg_vmm_instance spawn_vmm(const char *const *argv)
{
    struct bg_vmm_instance vi = {0};
    struct bg_error err = {0};
    char *bin = NULL, log[256], state;

    snprintf(log, sizeof(log), "%s/vmm.log", bg_test_dir());
    assert_int_equal(bg_run_find_program(argv[0], &bin, &err), 0);
    const char *v[] = {bin, argv[1], argv[2], NULL};
    assert_int_equal(bg_run_detached(v, log, &vi.pid, &err), 0);
    assert_int_equal(bg_proc_stat(vi.pid, &state, &vi.start_time, &err), 0);
    free(bin);
    return vi;
}

/* pid ignores SIGTERM (its SigIgn mask in /proc/PID/status has bit 15). */
static bool ignores_term(pid_t pid)
{
    char path[64], text[4096];

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0)
        return false;
    text[n] = '\0';
    const char *line = strstr(text, "SigIgn:\t");
    return line && (strtoull(line + 8, NULL, 16) & (1ull << (SIGTERM - 1)));
}

static void test_stop_ladder(void **state)
{
    (void)state;
    struct bg_error err = {0};
    const char *sleeper[] = {"sleep", "60", NULL};

    /* forced (no wait for the guest): the driver's step, then SIGTERM */
    struct bg_vmm_instance vi = spawn_vmm(sleeper);
    asked = 0;
    assert_int_equal(bg_vmm_stop(&graceful, &vi, 0, &err), 0);
    assert_int_equal(asked, 1);
    assert_false(bg_vmm_instance_alive(&vi));
    /* a step through the guest is skipped when forced */
    vi = spawn_vmm(sleeper);
    asked = 0;
    assert_int_equal(bg_vmm_stop(&via_guest, &vi, 0, &err), 0);
    assert_int_equal(asked, 0);
    assert_false(bg_vmm_instance_alive(&vi));
    /* ... and taken after the wait otherwise */
    vi = spawn_vmm(sleeper);
    asked = 0;
    assert_int_equal(bg_vmm_stop(&via_guest, &vi, 50, &err), 0);
    assert_int_equal(asked, 1);
    assert_false(bg_vmm_instance_alive(&vi));
    /* SIGTERM ignored: SIGKILL */
    const char *stubborn[] = {"sh", "-c", "trap '' TERM; while :; do sleep 1; done", NULL};
    vi = spawn_vmm(stubborn);
    for (int i = 0; i < 500 && !ignores_term(vi.pid); i++) /* the trap is set after the exec */
        usleep(10000);
    assert_true(ignores_term(vi.pid));
    assert_int_equal(bg_vmm_stop(&graceful, &vi, 0, &err), 0);
    assert_false(bg_vmm_instance_alive(&vi));
    /* a pid whose start time is not the recorded one is never signalled */
    vi = spawn_vmm(sleeper);
    struct bg_vmm_instance other = vi;
    other.start_time++;
    asked = 0;
    assert_int_equal(bg_vmm_stop(&graceful, &other, 0, &err), 0);
    assert_int_equal(asked, 0);
    assert_true(bg_vmm_instance_alive(&vi));
    assert_int_equal(bg_vmm_stop(&graceful, &vi, 0, &err), 0);
    assert_false(bg_vmm_instance_alive(&vi));
}

/* ---- a real QEMU in a run dir with a comma ---- */

/* A multiboot kernel that halts: enough for QEMU to start and stay up. */
static char *write_stub_kernel(const char *path)
{
    const uint32_t magic = 0x1BADB002, flags = 0x00010000, base = 0x100000;
    uint32_t hdr[8] = {magic, flags, (uint32_t) - (magic + flags), base, base, 0, 0, base + 32};
    unsigned char img[64] = {0};

    memcpy(img, hdr, sizeof(hdr));
    img[32] = 0xfa; /* cli */
    img[33] = 0xf4; /* hlt */
    img[34] = 0xeb; /* jmp back to the hlt */
    img[35] = 0xfd;
    return bg_test_write_file(path, img, sizeof(img));
}

static void test_real_qemu_comma_run_dir(void **state)
{
    (void)state;
    struct bg_vmm_settings s = {.accel = "tcg"};
    struct bg_vmm_instance vi = {0};
    struct bg_error err = {0};
    char *bin = NULL;

    if (bg_run_find_program(BG_QEMU_BINARY, &bin, &err) < 0) {
        print_message("skip: needs " BG_QEMU_BINARY "\n");
        skip();
    }
    free(bin);
    char *run = bg_asprintf("%s/run,dir/vms/a,b", bg_test_dir());
    char *sibling = bg_asprintf("%s/run,dir/vms/a", bg_test_dir());
    char *state_dir = bg_asprintf("%s/state,dir", bg_test_dir());
    assert_int_equal(bg_mkdir_p(run, 0700, &err), 0);
    assert_int_equal(bg_mkdir_p(sibling, 0700, &err), 0);
    assert_int_equal(bg_mkdir_p(state_dir, 0700, &err), 0);
    char *kpath = bg_asprintf("%s/stub,kernel", bg_test_dir());
    char *kernel = write_stub_kernel(kpath);
    char *opath = bg_asprintf("%s/overlay.img", state_dir);
    char *overlay = bg_test_write_file(opath, "", 0);
    assert_int_equal(truncate(overlay, 1 << 20), 0);
    struct bg_vmm_launch l = {.id = "a-b",
                              .kernel = kernel,
                              .cmdline = "console=ttyS0",
                              .overlay = overlay,
                              .vcpus = 1,
                              .memory_mib = 64,
                              .run_dir = run};

    assert_int_equal(bg_vmm_qemu.start(&s, &l, &vi, &err), 0);
    /* every file where it was asked for, none under a doubled comma */
    char *files[] = {vi.agent_path, vi.control_path, vi.console_path,
                     bg_asprintf("%s/" BG_QEMU_PIDFILE, run)};
    for (size_t i = 0; i < BG_ARRAY_SIZE(files); i++)
        if (access(files[i], F_OK) < 0)
            fail_msg("%s is missing", files[i]);
    free(files[3]);
    char *doubled = bg_asprintf("%s/run,,dir", bg_test_dir());
    assert_int_equal(access(doubled, F_OK), -1);
    free(doubled);
    /* found again from its pidfile, by its exact run dir only, with its sockets */
    struct bg_vmm_instance found = {0};
    assert_int_equal(bg_vmm_qemu.find_unrecorded(run, &found), 0);
    assert_int_equal(found.pid, vi.pid);
    assert_int_equal(found.start_time, vi.start_time);
    assert_string_equal(found.agent_path, vi.agent_path);
    assert_string_equal(found.control_path, vi.control_path);
    assert_string_equal(found.console_path, vi.console_path);
    bg_vmm_instance_done(&found);
    char *stray = bg_asprintf("%s/" BG_QEMU_PIDFILE, sibling);
    char text[32];
    int n = snprintf(text, sizeof(text), "%d\n", (int)vi.pid);
    free(bg_test_write_file(stray, text, (size_t)n));
    free(stray);
    assert_int_equal(bg_vmm_qemu.find_unrecorded(sibling, &found), -ESRCH);
    assert_int_equal(found.pid, 0);
    /* the QMP socket answers: quit ends it without a signal */
    assert_true(bg_vmm_qemu.ask_exit(&vi));
    for (int i = 0; i < 500 && bg_vmm_instance_alive(&vi); i++)
        usleep(10000);
    assert_false(bg_vmm_instance_alive(&vi));
    assert_int_equal(bg_vmm_stop(&bg_vmm_qemu, &vi, 0, &err), 0);
    bg_vmm_instance_done(&vi);
    free(run);
    free(sibling);
    free(state_dir);
    free(kpath);
    free(kernel);
    free(opath);
    free(overlay);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argv_kvm),
        cmocka_unit_test(test_argv_tcg_nat_workdisk),
        cmocka_unit_test(test_argv_comma_run_dir),
        cmocka_unit_test(test_argv_refusals),
        cmocka_unit_test(test_version_parse),
        cmocka_unit_test(test_stat_parse),
        cmocka_unit_test(test_stat_parse_malformed),
        cmocka_unit_test(test_select_auto),
        cmocka_unit_test(test_select_explicit),
        cmocka_unit_test(test_qemu_probe),
        cmocka_unit_test(test_stop_ladder),
        cmocka_unit_test(test_real_qemu_comma_run_dir),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
