/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/jailer.c: golden argv, jail layout, and each refusal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "banger/jailer.h"

static const char *const limits[] = {"cpu.max=50000 100000", "memory.max=1073741824", NULL};

static struct bg_jail_disks launch(void)
{
    struct bg_jail_disks l = {
        .kernel = "/var/lib/banger/images/default/vmlinux",
        .initrd = "/var/lib/banger/images/default/initrd.img",
        .rootfs = "/var/lib/banger/images/default/rootfs.ext4",
        .overlay = "/var/lib/banger/vms/web1/overlay.ext4",
        .workdisk = "/var/lib/banger/vms/web1/work.ext4",
    };
    return l;
}

static struct bg_jail_params params(void)
{
    struct bg_jail_params p = {
        .jailer = "/usr/bin/jailer",
        .id = "web1-3f2a",
        .uid = 10001,
        .gid = 10001,
        .chroot_base = "/srv/jailer",
        .exec_file = "/usr/bin/firecracker",
        .cgroup_version = 2,
        .cgroups = limits,
        .netns = "/var/run/netns/bg-web1",
    };
    return p;
}

static void assert_argv(char **argv, const char *const *want)
{
    size_t i = 0;

    for (; want[i]; i++) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], want[i]);
    }
    assert_null(argv[i]);
}

static void test_argv_golden(void **state)
{
    static const char *const want[] = {"/usr/bin/jailer",
                                       "--id",
                                       "web1-3f2a",
                                       "--exec-file",
                                       "/usr/bin/firecracker",
                                       "--uid",
                                       "10001",
                                       "--gid",
                                       "10001",
                                       "--chroot-base-dir",
                                       "/srv/jailer",
                                       "--cgroup-version",
                                       "2",
                                       "--cgroup",
                                       "cpu.max=50000 100000",
                                       "--cgroup",
                                       "memory.max=1073741824",
                                       "--netns",
                                       "/var/run/netns/bg-web1",
                                       "--",
                                       "--api-sock",
                                       "/run/firecracker.socket",
                                       NULL};
    struct bg_jail_disks l = launch();
    struct bg_jail_params p = params();
    struct bg_jail_spec s;
    struct bg_error err;
    (void)state;

    assert_int_equal(bg_jail_spec_build(&l, &p, &s, &err), 0);
    assert_argv(s.argv, want);
    assert_string_equal(s.root, "/srv/jailer/firecracker/web1-3f2a/root");
    assert_string_equal(s.api_sock,
                        "/srv/jailer/firecracker/web1-3f2a/root/run/firecracker.socket");
    assert_string_equal(s.pid_file, "/srv/jailer/firecracker/web1-3f2a/root/firecracker.pid");
    bg_jail_spec_done(&s);
    assert_null(s.argv);
}

/* Cgroup v1, no limits, no netns, default jailer, trailing '/' on the base. */
static void test_argv_minimal(void **state)
{
    static const char *const want[] = {"jailer",
                                       "--id",
                                       "a",
                                       "--exec-file",
                                       "/opt/fc/firecracker-v1.16.1",
                                       "--uid",
                                       "1",
                                       "--gid",
                                       "2",
                                       "--chroot-base-dir",
                                       "/srv/j/",
                                       "--",
                                       "--api-sock",
                                       "/run/firecracker.socket",
                                       NULL};
    struct bg_jail_disks l = launch();
    struct bg_jail_params p = {.id = "a",
                               .uid = 1,
                               .gid = 2,
                               .chroot_base = "/srv/j/",
                               .exec_file = "/opt/fc/firecracker-v1.16.1",
                               .cgroup_version = 1};
    struct bg_jail_spec s;
    (void)state;

    assert_int_equal(bg_jail_spec_build(&l, &p, &s, NULL), 0);
    assert_argv(s.argv, want);
    assert_string_equal(s.root, "/srv/j/firecracker-v1.16.1/a/root");
    assert_string_equal(s.pid_file, "/srv/j/firecracker-v1.16.1/a/root/firecracker-v1.16.1.pid");
    bg_jail_spec_done(&s);
}

static void assert_file(const struct bg_jail_file *f, const char *host, const char *name,
                        bool writable)
{
    char want[256];

    snprintf(want, sizeof(want), "/srv/jailer/firecracker/web1-3f2a/root/%s", name);
    assert_string_equal(f->host_path, host);
    assert_string_equal(f->jail_path, name);
    assert_string_equal(f->path, want);
    assert_int_equal(f->mode, writable ? 0600 : 0444);
    assert_int_equal(f->chown, writable);
    assert_int_equal(f->link, writable ? BG_JAIL_LINK_HARD : BG_JAIL_LINK_HARD_OR_COPY);
}

static void test_layout_all(void **state)
{
    struct bg_jail_disks l = launch();
    struct bg_jail_params p = params();
    struct bg_jail_spec s;
    (void)state;

    assert_int_equal(bg_jail_spec_build(&l, &p, &s, NULL), 0);
    assert_int_equal(s.n_files, 5);
    assert_file(&s.files[0], l.kernel, "vmlinux", false);
    assert_file(&s.files[1], l.initrd, "initrd", false);
    assert_file(&s.files[2], l.rootfs, "rootfs", false);
    assert_file(&s.files[3], l.overlay, "overlay", true);
    assert_file(&s.files[4], l.workdisk, "work", true);
    bg_jail_spec_done(&s);
}

static void test_layout_optional_absent(void **state)
{
    struct bg_jail_disks l = launch();
    struct bg_jail_params p = params();
    struct bg_jail_spec s;
    (void)state;

    l.initrd = l.rootfs = l.workdisk = NULL;
    assert_int_equal(bg_jail_spec_build(&l, &p, &s, NULL), 0);
    assert_int_equal(s.n_files, 2);
    assert_file(&s.files[0], l.kernel, "vmlinux", false);
    assert_file(&s.files[1], l.overlay, "overlay", true);
    bg_jail_spec_done(&s);
}

/* One refusal: which field is changed, how, and what the error says. */
struct refusal {
    const char *what;
    void (*change)(struct bg_jail_disks *l, struct bg_jail_params *p);
    const char *fragment;
};

static char long_id[BG_JAIL_ID_MAX + 2];
static const char *const bad_cg_form[] = {"cpumax", NULL};
static const char *const bad_cg_file[] = {"cpu.MAX=1", NULL};
static const char *const bad_cg_value[] = {"cpu.max=1;reboot", NULL};
static const char *const too_many_cg[] = {"a.b=1", "a.b=1", "a.b=1", "a.b=1", "a.b=1",
                                          "a.b=1", "a.b=1", "a.b=1", "a.b=1", NULL};

static void c_id_empty(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->id = "";
}
static void c_id_long(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    memset(long_id, 'a', BG_JAIL_ID_MAX + 1);
    p->id = long_id;
}
static void c_id_char(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->id = "web_1";
}
static void c_id_slash(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->id = "../x";
}
static void c_uid0(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->uid = 0;
}
static void c_gid0(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->gid = 0;
}
static void c_base_root(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->chroot_base = "/";
}
static void c_base_rel(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->chroot_base = "srv/jailer";
}
static void c_base_dotdot(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->chroot_base = "/srv/../etc";
}
static void c_exec_rel(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->exec_file = "firecracker";
}
static void c_exec_dir(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->exec_file = "/usr/bin/";
}
static void c_jailer_rel(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->jailer = "bin/jailer";
}
static void c_netns_rel(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->netns = "netns/x";
}
static void c_cgver(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->cgroup_version = 3;
}
static void c_cg_form(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->cgroups = bad_cg_form;
}
static void c_cg_file(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->cgroups = bad_cg_file;
}
static void c_cg_value(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->cgroups = bad_cg_value;
}
static void c_cg_many(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)l;
    p->cgroups = too_many_cg;
}
static void c_no_kernel(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)p;
    l->kernel = NULL;
}
static void c_no_overlay(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)p;
    l->overlay = NULL;
}
static void c_kernel_rel(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)p;
    l->kernel = "vmlinux";
}
static void c_work_rel(struct bg_jail_disks *l, struct bg_jail_params *p)
{
    (void)p;
    l->workdisk = "/vms/./work.ext4";
}

static const struct refusal refusals[] = {
    {"empty id", c_id_empty, "jail id must be 1 to 64 characters"},
    {"long id", c_id_long, "jail id must be 1 to 64 characters"},
    {"id with '_'", c_id_char, "may hold only letters, digits and '-'"},
    {"id with '/'", c_id_slash, "may hold only letters, digits and '-'"},
    {"uid 0", c_uid0, "uid and gid must not be 0"},
    {"gid 0", c_gid0, "uid and gid must not be 0"},
    {"base /", c_base_root, "chroot base dir must not be '/'"},
    {"base relative", c_base_rel, "chroot base dir: path 'srv/jailer' is not absolute"},
    {"base ..", c_base_dotdot, "chroot base dir: path '/srv/../etc' is not normalised"},
    {"exec relative", c_exec_rel, "exec file: path 'firecracker' is not absolute"},
    {"exec dir", c_exec_dir, "exec file '/usr/bin/' names a directory"},
    {"jailer relative", c_jailer_rel, "jailer binary: path 'bin/jailer' is not absolute"},
    {"netns relative", c_netns_rel, "netns: path 'netns/x' is not absolute"},
    {"cgroup version", c_cgver, "cgroup version must be 1 or 2, not 3"},
    {"cgroup form", c_cg_form, "cgroup entry 'cpumax' is not file=value"},
    {"cgroup file", c_cg_file, "cgroup entry 'cpu.MAX=1': bad file name"},
    {"cgroup value", c_cg_value, "cgroup entry 'cpu.max=1;reboot': bad value"},
    {"cgroup count", c_cg_many, "more than 8 cgroup entries"},
    {"no kernel", c_no_kernel, "launch has no kernel"},
    {"no overlay", c_no_overlay, "launch has no overlay disk"},
    {"kernel relative", c_kernel_rel, "kernel: path 'vmlinux' is not absolute"},
    {"work disk .", c_work_rel, "work disk: path '/vms/./work.ext4' is not normalised"},
};

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        struct bg_jail_disks l = launch();
        struct bg_jail_params p = params();
        struct bg_jail_spec s = {0};
        struct bg_error err = {0};

        refusals[i].change(&l, &p);
        int r = bg_jail_spec_build(&l, &p, &s, &err);
        if (r != -EINVAL || !strstr(err.msg, refusals[i].fragment))
            fail_msg("%s: got %d '%s', want -EINVAL '%s'", refusals[i].what, r, err.msg,
                     refusals[i].fragment);
        assert_int_equal(err.code, -EINVAL);
        assert_null(s.argv); /* outputs untouched on failure */
        /* A NULL err gives the same code. */
        assert_int_equal(bg_jail_spec_build(&l, &p, &s, NULL), -EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argv_golden), cmocka_unit_test(test_argv_minimal),
        cmocka_unit_test(test_layout_all),  cmocka_unit_test(test_layout_optional_absent),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
