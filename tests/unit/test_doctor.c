/* SPDX-License-Identifier: MIT */
/* banger doctor's checks over fake roots (temporary trees) and a fake program runner: every
 * outcome of every check, the install-hint table, and kvm_pvm. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "banger/alloc.h"
#include "doctor/doctor.h"
#include "doctor/osrelease.h"
#include "host/fileio.h"
#include "store/store.h"
#include "testutil.h"

/* ---- the fake host ---- */

/* What each program answers: rc < 0 is how it failed to run (-ENOENT: not installed). */
struct answer {
    int rc;
    const char *out;
};

struct fake {
    struct answer fc, jailer, qemu, nft, ruleset, systemctl;
    int image; /* what the image callback answers */
};

static int fake_run(void *cls, const char *const *argv, char **ret_out)
{
    const struct fake *f = cls;
    const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    const struct answer *a = !strcmp(base, "firecracker") ? &f->fc
                             : !strcmp(base, "jailer")    ? &f->jailer
                             : !strcmp(base, "systemctl") ? &f->systemctl
                             : !strcmp(base, "nft")
                                 ? (!strcmp(argv[1], "-j") ? &f->ruleset : &f->nft)
                                 : &f->qemu;
    if (a->rc < 0)
        return a->rc;
    *ret_out = bg_strdup(a->out ? a->out : "");
    return a->rc;
}

static int fake_image(void *cls, const char *name, char *state, size_t len)
{
    const struct fake *f = cls;
    (void)name;
    snprintf(state, len, "importing");
    return f->image;
}

static const struct fake healthy = {
    .fc = {0, "Firecracker v1.16.1\n\n"},
    .jailer = {0, "Jailer v1.16.1\n"},
    .qemu = {0, "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)\nCopyright\n"},
    .nft = {0, "nftables v1.0.6 (Lester Gooch #5)\n"},
    .ruleset = {0, "{\"nftables\": [{\"metainfo\": {\"version\": \"1.0.6\"}}]}"},
    .image = 1,
};

/* One test's world: a fresh root, a configuration and an environment over them. */
struct world {
    char root[512];
    char state_dir[600];
    struct bg_config cfg;
    struct bg_doctor_env env;
    struct fake fake;
    struct bg_doctor_report report;
};

static char source_default[] = "default";

static void mkdirs(const char *path)
{
    struct bg_error err;
    assert_int_equal(bg_mkdir_p(path, 0755, &err), 0);
}

/* root + path written with text, its directories made. */
static void put(struct world *w, const char *path, const char *text)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s%s", w->root, path);
    char *dir = bg_strdup(p);
    *strrchr(dir, '/') = '\0';
    mkdirs(dir);
    free(dir);
    free(bg_test_write_file(p, text, strlen(text)));
}

/* root + path a symlink to target. */
static void link_to(struct world *w, const char *path, const char *target)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s%s", w->root, path);
    char *dir = bg_strdup(p);
    *strrchr(dir, '/') = '\0';
    mkdirs(dir);
    free(dir);
    assert_int_equal(symlink(target, p), 0);
}

static const char *path_in(const struct world *w, const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", w->root, path);
    return buf;
}

static struct world *world_new(void)
{
    static unsigned n;
    struct world *w = bg_calloc(1, sizeof(*w));

    snprintf(w->root, sizeof(w->root), "%s/root%u", bg_test_dir(), n++);
    mkdirs(w->root);
    snprintf(w->state_dir, sizeof(w->state_dir), "/var/lib/banger");
    w->cfg.mode = BG_CONFIG_MODE_USER;
    w->cfg.state_dir = w->state_dir;
    w->cfg.socket = (char *)"/run/banger/bangerd.sock";
    snprintf(w->cfg.vmm, sizeof(w->cfg.vmm), "auto");
    snprintf(w->cfg.accel, sizeof(w->cfg.accel), "auto");
    snprintf(w->cfg.vm_default_image, sizeof(w->cfg.vm_default_image), "default");
    w->cfg.vm_default_vcpus = 2;
    w->cfg.vm_default_memory_mib = 1024;
    w->cfg.vm_default_disk_mib = 8192;
    for (int k = 0; k < BG_CONFIG_KEY_COUNT; k++)
        w->cfg.source[k] = source_default;
    w->fake = healthy;
    w->env = (struct bg_doctor_env){
        .root = w->root,
        .run = fake_run,
        .run_cls = &w->fake,
        .image = fake_image,
        .image_cls = &w->fake,
        .cfg = &w->cfg,
        .db_path = "/var/lib/banger/state.db",
        .owner = getuid(),
        .vmm_owner = getuid(),
    };
    mkdirs(path_in(w, w->state_dir, (char[1024]){0}, 1024));
    /* a healthy host: the devices are /dev/null (a character device everyone opens) */
    link_to(w, "/dev/kvm", "/dev/null");
    link_to(w, "/dev/net/tun", "/dev/null");
    link_to(w, "/dev/vhost-vsock", "/dev/null");
    put(w, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    put(w, "/proc/sys/net/ipv4/ip_forward", "1\n");
    put(w, "/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    return w;
}

/* Run every check, and hold the report to the rule that every FAIL says what to do. */
static const struct bg_doctor_report *run(struct world *w)
{
    bg_doctor_run(&w->env, &w->report);
    for (size_t i = 0; i < w->report.n; i++) {
        const struct bg_doctor_check *k = &w->report.check[i];
        if (k->status == BG_DOCTOR_FAIL && !k->fix[0])
            fail_msg("FAIL %s has no fix", k->name);
        assert_true(k->detail[0] != '\0');
    }
    return &w->report;
}

static const struct bg_doctor_check *find(const struct bg_doctor_report *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->check[i].name, name))
            return &r->check[i];
    fail_msg("no check %s", name);
    return NULL;
}

static bool has(const struct bg_doctor_report *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->check[i].name, name))
            return true;
    return false;
}

/* Check name of w's report has status and detail containing fragment. */
static const struct bg_doctor_check *expect(struct world *w, const char *name,
                                            enum bg_doctor_status status, const char *fragment)
{
    const struct bg_doctor_check *k = find(run(w), name);
    if (k->status != status)
        fail_msg("%s is %s, not %s: %s", name, bg_doctor_status_name(k->status),
                 bg_doctor_status_name(status), k->detail);
    if (!strstr(k->detail, fragment))
        fail_msg("%s detail '%s' lacks '%s'", name, k->detail, fragment);
    return k;
}

static void expect_fix(const struct bg_doctor_check *k, const char *fragment)
{
    if (!strstr(k->fix, fragment))
        fail_msg("%s fix '%s' lacks '%s'", k->name, k->fix, fragment);
}

/* ---- os-release and the install hints ---- */

static void test_os_release_table(void **state)
{
    static const struct {
        const char *text; /* NULL: no os-release */
        enum bg_os_family family;
        const char *fc_hint; /* a fragment of the firecracker hint */
    } cases[] = {
        {"ID=debian\n", BG_OS_FAMILY_DEBIAN, "firecracker-v1.16.1-x86_64.tgz"},
        {"NAME=\"Pop!_OS\"\nID=pop\nID_LIKE=\"ubuntu debian\"\n", BG_OS_FAMILY_DEBIAN,
         "/usr/local/bin/firecracker"},
        {"ID=ubuntu\nID_LIKE=debian\n", BG_OS_FAMILY_DEBIAN, "v1.16.1"},
        {"ID=arch\n", BG_OS_FAMILY_ARCH, "sudo pacman -S firecracker"},
        {"ID=manjaro\nID_LIKE=arch\n", BG_OS_FAMILY_ARCH, "sudo pacman -S firecracker"},
        {"ID=nixos\n", BG_OS_FAMILY_NIXOS, "nix profile install nixpkgs#firecracker"},
        {"ID=fedora\nVERSION_ID=40\n", BG_OS_FAMILY_OTHER,
         "see https://github.com/firecracker-microvm/firecracker/releases"},
        {NULL, BG_OS_FAMILY_OTHER,
         "see https://github.com/firecracker-microvm/firecracker/releases"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bg_os_release os;
        struct world *w = world_new();
        char p[1024];

        assert_int_equal(bg_os_release_parse(cases[i].text, &os), 0);
        assert_int_equal(bg_os_release_family(&os), cases[i].family);
        /* and through doctor, from the root's /etc/os-release */
        unlink(path_in(w, "/etc/os-release", p, sizeof(p)));
        if (cases[i].text)
            put(w, "/etc/os-release", cases[i].text);
        w->fake.fc.rc = -ENOENT;
        const struct bg_doctor_check *k =
            expect(w, "firecracker", BG_DOCTOR_FAIL, "firecracker is not installed");
        expect_fix(k, cases[i].fc_hint);
        if (cases[i].family == BG_OS_FAMILY_OTHER)
            assert_null(strstr(k->fix, "sudo"));
        free(w);
    }
    assert_string_equal(bg_os_install_hint(BG_OS_FAMILY_DEBIAN, BG_OS_PROGRAM_QEMU),
                        "sudo apt-get install qemu-system-x86");
    assert_string_equal(bg_os_install_hint(BG_OS_FAMILY_OTHER, BG_OS_PROGRAM_QEMU),
                        "see https://www.qemu.org/download/#linux");
}

static void test_os_release_malformed(void **state)
{
    static const struct {
        const char *text, *id, *id_like;
    } cases[] = {
        {"ID=\"debian\n", "", ""},                        /* unterminated quote */
        {"ID='arch\n", "", ""},                           /* unterminated single quote */
        {"ID\nID_LIKE\n=debian\n", "", ""},               /* no value, no key */
        {"# ID=debian\n\n", "", ""},                      /* a comment */
        {"ID=\"\"\n", "", ""},                            /* empty */
        {"ID=Debian\r\n", "debian", ""},                  /* CRLF, uppercase */
        {"  ID = x\n", "", ""},                           /* "ID " is not ID */
        {"ID=\"de\\\"b;$(rm)\x1b[2J\"\n", "debrm2j", ""}, /* escapes, shell and terminal bytes */
        {"ID=a\nID=b\n", "b", ""},                        /* the last wins */
        {"ID_LIKE=\"ubuntu  debian\"\n", "", "ubuntu  debian"},
        {"IDX=debian\nID_LIKEX=arch\n", "", ""},
        {"ID=\xff\xfe\n", "", ""},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bg_os_release os;
        assert_int_equal(bg_os_release_parse(cases[i].text, &os), 0);
        assert_string_equal(os.id, cases[i].id);
        assert_string_equal(os.id_like, cases[i].id_like);
    }
    /* a value longer than its field is dropped, not cut into another id */
    char long_id[BG_OS_ID_MAX + 16];
    memset(long_id, 'a', sizeof(long_id));
    memcpy(long_id, "ID=", 3);
    long_id[sizeof(long_id) - 1] = '\0';
    struct bg_os_release os;
    assert_int_equal(bg_os_release_parse(long_id, &os), 0);
    assert_string_equal(os.id, "");
    /* ID_LIKE's words are tried in order, past empty ones */
    assert_int_equal(bg_os_release_parse("ID=x\nID_LIKE=\"  foo arch debian\"", &os), 0);
    assert_int_equal(bg_os_release_family(&os), BG_OS_FAMILY_ARCH);
}

/* ---- programs ---- */

static void test_firecracker(void **state)
{
    (void)state;
    struct world *w = world_new();
    const struct bg_doctor_check *k;

    expect(w, "firecracker", BG_DOCTOR_PASS, "Firecracker 1.16.1");
    w->fake.fc.out = "Firecracker v1.10.0\n";
    w->fake.jailer.out = "Jailer v1.10.0\n";
    expect(w, "firecracker", BG_DOCTOR_PASS, "Firecracker 1.10.0");
    w->fake.fc.out = "Firecracker v1.17.0\n";
    k = expect(w, "firecracker", BG_DOCTOR_WARN, "newer than 1.16.1");
    expect_fix(k, "install 1.16.1");
    w->fake.fc.out = "Firecracker v2.0.0-dev\n";
    expect(w, "firecracker", BG_DOCTOR_WARN, "2.0.0-dev is newer");
    w->fake.fc.out = "Firecracker v1.5.0\n";
    k = expect(w, "firecracker", BG_DOCTOR_FAIL, "older than 1.10.0");
    expect_fix(k, "firecracker-v1.16.1-x86_64.tgz");
    assert_false(has(&w->report, "jailer")); /* no jailer verdict without a usable Firecracker */
    w->fake.fc.out = "firecracker, a VMM\n";
    k = expect(w, "firecracker", BG_DOCTOR_FAIL, "not a version");
    expect_fix(k, "reinstall it");
    w->fake.fc = (struct answer){3, "error: bad CPU\n"};
    expect(w, "firecracker", BG_DOCTOR_FAIL, "exits 3: error: bad CPU");
    w->fake.fc = (struct answer){-EACCES, NULL};
    expect(w, "firecracker", BG_DOCTOR_FAIL, "Permission denied");
    w->fake.fc = (struct answer){-ENOENT, NULL};
    expect(w, "firecracker", BG_DOCTOR_FAIL, "not installed");
    snprintf(w->cfg.vmm, sizeof(w->cfg.vmm), "qemu");
    k = expect(w, "firecracker", BG_DOCTOR_WARN, "not installed");
    expect_fix(k, "firecracker-v1.16.1-x86_64.tgz");
    /* the configured path is what runs */
    w->fake.fc = healthy.fc;
    w->cfg.firecracker_path = (char *)"/opt/fc/firecracker";
    expect(w, "firecracker", BG_DOCTOR_PASS, "1.16.1");
    free(w);
}

static void test_jailer(void **state)
{
    (void)state;
    struct world *w = world_new();
    const struct bg_doctor_check *k;

    expect(w, "jailer", BG_DOCTOR_PASS, "jailer 1.16.1, the same release");
    w->fake.jailer.out = "Jailer v1.15.0\n";
    k = expect(w, "jailer", BG_DOCTOR_FAIL, "jailer 1.15.0 does not match Firecracker 1.16.1");
    expect_fix(k, "jailer-v1.16.1-x86_64");
    w->fake.jailer.out = "Jailer v1.16.1-dev\n";
    expect(w, "jailer", BG_DOCTOR_FAIL, "1.16.1-dev does not match");
    w->fake.jailer = (struct answer){-ENOENT, NULL};
    k = expect(w, "jailer", BG_DOCTOR_WARN, "jailer is not installed");
    expect_fix(k, "jailer");
    free(w);
}

static void test_qemu(void **state)
{
    (void)state;
    struct world *w = world_new();
    const struct bg_doctor_check *k;

    expect(w, "qemu", BG_DOCTOR_PASS, "QEMU 7.2.22");
    w->fake.qemu.out = "qemu, maybe\n";
    expect(w, "qemu", BG_DOCTOR_FAIL, "not a version");
    w->fake.qemu = (struct answer){1, "qemu-system-x86_64: cannot load\n"};
    expect(w, "qemu", BG_DOCTOR_FAIL, "exits 1: qemu-system-x86_64: cannot load");
    w->fake.qemu = (struct answer){-ENOENT, NULL};
    k = expect(w, "qemu", BG_DOCTOR_FAIL, "not installed");
    expect_fix(k, "sudo apt-get install qemu-system-x86");
    put(w, "/etc/os-release", "ID=nixos\n");
    k = expect(w, "qemu", BG_DOCTOR_FAIL, "not installed");
    expect_fix(k, "nixpkgs#qemu");
    snprintf(w->cfg.vmm, sizeof(w->cfg.vmm), "firecracker");
    expect(w, "qemu", BG_DOCTOR_WARN, "not installed");
    free(w);
}

/* ---- devices and kernel ---- */

static void test_kvm(void **state)
{
    (void)state;
    struct world *w = world_new();
    const struct bg_doctor_check *k;
    char p[1024];

    expect(w, "kvm", BG_DOCTOR_PASS, "hardware KVM");
    /* kvm_pvm alone: /dev/kvm opens, and doctor says it boots only PVM guests */
    put(w, "/sys/module/kvm_pvm/refcnt", "0\n");
    k = expect(w, "kvm", BG_DOCTOR_WARN, "it is kvm_pvm, which boots only PVM guest kernels");
    assert_non_null(strstr(k->detail, "falls back to TCG"));
    expect_fix(k, "kvm_intel or kvm_amd");
    snprintf(w->cfg.vmm, sizeof(w->cfg.vmm), "firecracker");
    expect(w, "kvm", BG_DOCTOR_FAIL, "kvm_pvm");
    snprintf(w->cfg.vmm, sizeof(w->cfg.vmm), "auto");
    snprintf(w->cfg.accel, sizeof(w->cfg.accel), "kvm");
    expect(w, "kvm", BG_DOCTOR_FAIL, "kvm_pvm");
    /* next to a hardware module it is fine */
    put(w, "/sys/module/kvm_amd/refcnt", "1\n");
    expect(w, "kvm", BG_DOCTOR_PASS, "hardware KVM");
    /* no /dev/kvm */
    unlink(path_in(w, "/dev/kvm", p, sizeof(p)));
    k = expect(w, "kvm", BG_DOCTOR_FAIL, "/dev/kvm does not open: No such file or directory");
    expect_fix(k, "modprobe kvm_intel");
    snprintf(w->cfg.accel, sizeof(w->cfg.accel), "auto");
    expect(w, "kvm", BG_DOCTOR_WARN, "falls back to TCG");
    if (geteuid() != 0) { /* root opens a mode-0 file: this outcome needs another user */
        put(w, "/dev/kvm", "");
        assert_int_equal(chmod(path_in(w, "/dev/kvm", p, sizeof(p)), 0), 0);
        k = expect(w, "kvm", BG_DOCTOR_WARN, "Permission denied");
        expect_fix(k, "kvm group");
    }
    free(w);
}

static void test_tun_and_vsock(void **state)
{
    (void)state;
    struct world *w = world_new();
    const struct bg_doctor_check *k;
    char p[1024];

    expect(w, "tun", BG_DOCTOR_PASS, "/dev/net/tun: character device, mode 0666");
    expect(w, "vhost_vsock", BG_DOCTOR_PASS, "character device");
    unlink(path_in(w, "/dev/net/tun", p, sizeof(p)));
    k = expect(w, "tun", BG_DOCTOR_FAIL, "/dev/net/tun is missing");
    expect_fix(k, "sudo modprobe tun");
    put(w, "/dev/net/tun", "not a device");
    expect(w, "tun", BG_DOCTOR_FAIL, "not a character device");
    unlink(path_in(w, "/dev/vhost-vsock", p, sizeof(p)));
    k = expect(w, "vhost_vsock", BG_DOCTOR_FAIL, "/dev/vhost-vsock is missing");
    expect_fix(k, "modprobe vhost_vsock");
    snprintf(w->cfg.vmm, sizeof(w->cfg.vmm), "firecracker"); /* its vsock is a unix socket */
    expect(w, "vhost_vsock", BG_DOCTOR_WARN, "missing");
    free(w);
}

static void test_cgroup(void **state)
{
    (void)state;
    struct world *w = world_new();
    const struct bg_doctor_check *k;
    char p[1024];

    expect(w, "cgroup", BG_DOCTOR_PASS, "cgroup v2 with cpuset cpu io memory");
    put(w, "/sys/fs/cgroup/cgroup.controllers", "cpuset io memoryx\n");
    k = expect(w, "cgroup", BG_DOCTOR_WARN, "cpu memory pids not delegated (have: cpuset io");
    expect_fix(k, "Delegate=cpu memory pids");
    unlink(path_in(w, "/sys/fs/cgroup/cgroup.controllers", p, sizeof(p)));
    expect(w, "cgroup", BG_DOCTOR_WARN, "no cgroup v2");
    free(w);
}

static void test_network(void **state)
{
    (void)state;
    struct world *w = world_new();
    const struct bg_doctor_check *k;
    char p[1024];

    expect(w, "nft", BG_DOCTOR_PASS, "nftables v1.0.6");
    expect(w, "ip_forward", BG_DOCTOR_PASS, "= 1");
    expect(w, "forward_policy", BG_DOCTOR_PASS, "no forward chain drops");
    w->fake.nft = (struct answer){-ENOENT, NULL};
    k = expect(w, "nft", BG_DOCTOR_WARN, "nft is not installed");
    expect_fix(k, "nftables");
    w->cfg.mode = BG_CONFIG_MODE_SYSTEM;
    expect(w, "nft", BG_DOCTOR_FAIL, "not installed");
    w->fake.nft = (struct answer){1, ""};
    expect(w, "nft", BG_DOCTOR_FAIL, "nft does not run");
    put(w, "/proc/sys/net/ipv4/ip_forward", "0\n");
    k = expect(w, "ip_forward", BG_DOCTOR_FAIL, "net.ipv4.ip_forward is off");
    expect_fix(k, "net.ipv4.ip_forward=1");
    w->cfg.mode = BG_CONFIG_MODE_USER;
    expect(w, "ip_forward", BG_DOCTOR_WARN, "off");
    unlink(path_in(w, "/proc/sys/net/ipv4/ip_forward", p, sizeof(p)));
    expect(w, "ip_forward", BG_DOCTOR_WARN, "unreadable");

    /* Docker's FORWARD chain, as `nft -j list ruleset` shows it */
    w->fake.ruleset.out =
        "{\"nftables\": [{\"metainfo\": {\"json_schema_version\": 1}},"
        "{\"table\": {\"family\": \"ip\", \"name\": \"filter\", \"handle\": 1}},"
        "{\"chain\": {\"family\": \"ip\", \"table\": \"filter\", \"name\": \"INPUT\","
        " \"handle\": 1, \"type\": \"filter\", \"hook\": \"input\", \"prio\": 0,"
        " \"policy\": \"drop\"}},"
        "{\"chain\": {\"family\": \"ip\", \"table\": \"filter\", \"name\": \"FORWARD\","
        " \"handle\": 2, \"type\": \"filter\", \"hook\": \"forward\", \"prio\": 0,"
        " \"policy\": \"drop\"}}]}";
    k = expect(w, "forward_policy", BG_DOCTOR_FAIL, "chain ip filter FORWARD drops");
    expect_fix(k, "sudo nft insert rule ip filter FORWARD iifname BRIDGE accept");
    w->env.bridge = "bgbr0";
    k = expect(w, "forward_policy", BG_DOCTOR_FAIL, "Docker and ufw");
    expect_fix(k, "oifname bgbr0 ct state established,related accept");
    assert_null(strstr(k->fix, "BRIDGE"));
    /* an accepting forward chain, and a ruleset doctor may not read */
    w->fake.ruleset.out = "{\"nftables\": [{\"chain\": {\"family\": \"inet\", \"table\": \"t\","
                          " \"name\": \"fw\", \"hook\": \"forward\", \"policy\": \"accept\"}}]}";
    expect(w, "forward_policy", BG_DOCTOR_PASS, "no forward chain drops");
    w->fake.ruleset = (struct answer){1, "Error: Operation not permitted"};
    k = expect(w, "forward_policy", BG_DOCTOR_WARN, "cannot read the nftables ruleset: Error");
    expect_fix(k, "needs root");
    w->fake.ruleset = (struct answer){0, "{not json"};
    expect(w, "forward_policy", BG_DOCTOR_WARN, "cannot read");
    free(w);
}

/* ---- state ---- */

static void test_disk(void **state)
{
    (void)state;
    struct world *w = world_new();
    const struct bg_doctor_check *k;

    expect(w, "disk", BG_DOCTOR_PASS, "GiB free under /var/lib/banger");
    w->env.disk_warn_bytes = UINT64_MAX;
    k = expect(w, "disk", BG_DOCTOR_WARN, "room for few images");
    expect_fix(k, "state_dir");
    w->env.disk_fail_bytes = UINT64_MAX;
    expect(w, "disk", BG_DOCTOR_FAIL, "too little for an image");
    /* a state_dir not made yet: the filesystem it will be on */
    w->env.disk_warn_bytes = w->env.disk_fail_bytes = 0;
    snprintf(w->state_dir, sizeof(w->state_dir), "/var/lib/banger/not/yet");
    expect(w, "disk", BG_DOCTOR_PASS, "free under /var/lib/banger/not/yet");
    free(w);
}

static void test_store(void **state)
{
    (void)state;
    struct world *w = world_new();
    const struct bg_doctor_check *k;
    struct bg_store *s = NULL;
    struct bg_error err;
    char p[1024];
    sqlite3 *db;

    expect(w, "store", BG_DOCTOR_PASS, "will be created on first start");
    path_in(w, w->env.db_path, p, sizeof(p));
    assert_int_equal(bg_store_open(p, BG_STORE_READ_WRITE, &s, &err), 0);
    bg_store_close(s);
    expect(w, "store", BG_DOCTOR_PASS, "schema 7");
    /* a newer banger's database */
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    k = expect(w, "store", BG_DOCTOR_FAIL, "newer than this bangerd");
    expect_fix(k, "run the bangerd that wrote it");
    /* not a database at all */
    unlink(p);
    put(w, w->env.db_path, "this is not sqlite, just some bytes that are long enough......\n");
    k = expect(w, "store", BG_DOCTOR_FAIL, "state.db");
    expect_fix(k, "move it away");
    if (geteuid() != 0) {
        unlink(p);
        assert_int_equal(bg_store_open(p, BG_STORE_READ_WRITE, &s, &err), 0);
        bg_store_close(s);
        assert_int_equal(chmod(p, 0), 0);
        expect(w, "store", BG_DOCTOR_FAIL, "state.db");
    }
    free(w);
}

static void test_default_image(void **state)
{
    (void)state;
    struct world *w = world_new();
    const struct bg_doctor_check *k;

    expect(w, "default_image", BG_DOCTOR_PASS, "image default (vm_default_image) is ready");
    w->fake.image = 0;
    expect(w, "default_image", BG_DOCTOR_WARN, "is importing");
    w->fake.image = -ENOENT;
    snprintf(w->cfg.vm_default_image, sizeof(w->cfg.vm_default_image), "dev");
    k = expect(w, "default_image", BG_DOCTOR_WARN, "no image dev");
    expect_fix(k, "banger image build dev");
    w->env.image = NULL;
    assert_false(has(run(w), "default_image"));
    free(w);
}

static void test_vm_defaults(void **state)
{
    (void)state;
    struct world *w = world_new();
    char env_src[] = "env:BANGERD_VM_DEFAULT_VCPUS", file_src[] = "file:/etc/banger/bangerd.toml:3";

    w->cfg.vm_default_vcpus = 4;
    w->cfg.source[BG_CONFIG_KEY_VM_DEFAULT_VCPUS] = env_src;
    w->cfg.source[BG_CONFIG_KEY_VM_DEFAULT_MEMORY_MIB] = file_src;
    w->cfg.config_file = (char *)"/etc/banger/bangerd.toml";
    w->cfg.config_file_loaded = true;
    const struct bg_doctor_check *k =
        expect(w, "vm_defaults", BG_DOCTOR_PASS, "4 vCPUs (env:BANGERD_VM_DEFAULT_VCPUS)");
    assert_non_null(strstr(k->detail, "1024 MiB memory (file:/etc/banger/bangerd.toml:3)"));
    assert_non_null(strstr(k->detail, "8192 MiB disk (default)"));
    assert_non_null(strstr(k->detail, "config file /etc/banger/bangerd.toml"));
    assert_null(strstr(k->detail, "absent"));
    w->cfg.config_file_loaded = false;
    expect(w, "vm_defaults", BG_DOCTOR_PASS, "(absent)");
    free(w);
}

/* ---- the system install ---- */

static int sock_at(struct world *w, const char *path, mode_t mode)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    char p[1024];
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    put(w, path, "");
    path_in(w, path, p, sizeof(p));
    unlink(p);
    assert_true(strlen(p) < sizeof(a.sun_path));
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", p);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(chmod(p, mode), 0);
    return fd;
}

static const char unit_hardened[] = "[Service]\nNoNewPrivileges=yes\nProtectSystem=strict\n"
                                    "ProtectHome=yes\nRestrictSUIDSGID=yes\nLockPersonality=yes\n"
                                    "CapabilityBoundingSet=CAP_NET_ADMIN\nDevicePolicy=closed\n"
                                    "RestrictAddressFamilies=AF_UNIX AF_NETLINK\n";

static void test_user_mode(void **state)
{
    (void)state;
    struct world *w = world_new();
    const struct bg_doctor_check *k =
        expect(w, "privileges", BG_DOCTOR_WARN, "see docs/privileges.md");
    expect_fix(k, "banger system install");
    /* one WARN and nothing of the system install's checks */
    assert_false(has(&w->report, "socket"));
    assert_false(has(&w->report, "bangerd.service"));
    assert_false(has(&w->report, "vmm_binaries"));
    assert_false(has(&w->report, "services"));
    free(w);
}

static void test_system_mode(void **state)
{
    (void)state;
    struct world *w = world_new();
    const struct bg_doctor_check *k;
    char p[1024];

    w->cfg.mode = BG_CONFIG_MODE_SYSTEM;
    w->env.helper_socket = "/run/banger/helper.sock";
    int s1 = sock_at(w, "/run/banger/bangerd.sock", 0600);
    int s2 = sock_at(w, "/run/banger/helper.sock", 0600);
    put(w, "/usr/lib/systemd/system/bangerd-root.service", unit_hardened);
    put(w, "/etc/systemd/system/bangerd.service", unit_hardened);
    put(w, "/etc/systemd/system/bangerd.service", "[Service]\nUser=alice\nNoNewPrivileges=yes\n");
    char daemon_unit[sizeof(unit_hardened) + 32];
    snprintf(daemon_unit, sizeof(daemon_unit), "%sUser=alice\n", unit_hardened);
    put(w, "/etc/systemd/system/bangerd.service", daemon_unit);
    put(w, "/usr/local/bin/firecracker", "#!/bin/true\n");
    assert_int_equal(chmod(path_in(w, "/usr/local/bin/firecracker", p, sizeof(p)), 0755), 0);
    put(w, "/usr/bin/qemu-system-x86_64", "#!/bin/true\n");
    assert_int_equal(chmod(path_in(w, "/usr/bin/qemu-system-x86_64", p, sizeof(p)), 0755), 0);

    assert_false(has(run(w), "privileges"));
    expect(w, "services", BG_DOCTOR_PASS, "bangerd-root.service and bangerd.service are active");
    w->fake.systemctl = (struct answer){3, ""};
    k = expect(w, "services", BG_DOCTOR_FAIL, "not active: bangerd-root.service bangerd.service");
    expect_fix(k, "sudo systemctl enable --now bangerd-root.service bangerd.service");
    w->fake.systemctl = (struct answer){-ENOENT, NULL};
    expect(w, "services", BG_DOCTOR_WARN, "no systemctl");
    expect(w, "socket", BG_DOCTOR_PASS, "/run/banger/bangerd.sock: mode 0600");
    expect(w, "helper_socket", BG_DOCTOR_PASS, "/run/banger/helper.sock: mode 0600");
    expect(w, "bangerd-root.service", BG_DOCTOR_PASS,
           "/usr/lib/systemd/system/bangerd-root.service carries");
    expect(w, "bangerd.service", BG_DOCTOR_PASS, "/etc/systemd/system/bangerd.service carries");
    expect(w, "vmm_binaries", BG_DOCTOR_PASS,
           "/usr/local/bin/firecracker, /usr/bin/qemu-system-x86_64");

    /* a socket others may use, or owned by someone else */
    assert_int_equal(chmod(path_in(w, "/run/banger/bangerd.sock", p, sizeof(p)), 0666), 0);
    k = expect(w, "socket", BG_DOCTOR_FAIL, "mode 0666");
    expect_fix(k, "banger system install");
    w->env.owner = getuid() + 1;
    expect(w, "helper_socket", BG_DOCTOR_FAIL, "not 0600 and");
    w->env.owner = getuid();
    close(s1);
    unlink(p);
    k = expect(w, "socket", BG_DOCTOR_FAIL, "is not a socket");
    expect_fix(k, "systemctl start");

    /* units: the daemon's without User=, the helper's without two directives, then none */
    put(w, "/etc/systemd/system/bangerd.service", unit_hardened);
    k = expect(w, "bangerd.service", BG_DOCTOR_FAIL, "lacks User=");
    expect_fix(k, "banger system install");
    put(w, "/usr/lib/systemd/system/bangerd-root.service",
        "[Service]\nNoNewPrivileges=yes\nProtectSystem=full\nProtectHome=yes\n");
    expect(w, "bangerd-root.service", BG_DOCTOR_FAIL,
           "lacks ProtectSystem=strict RestrictSUIDSGID=yes LockPersonality=yes");
    unlink(path_in(w, "/usr/lib/systemd/system/bangerd-root.service", p, sizeof(p)));
    expect(w, "bangerd-root.service", BG_DOCTOR_FAIL, "no bangerd-root.service in");

    /* VMM binaries: group-writable, not root's, a symlink, not a regular file */
    assert_int_equal(chmod(path_in(w, "/usr/local/bin/firecracker", p, sizeof(p)), 0775), 0);
    k = expect(w, "vmm_binaries", BG_DOCTOR_FAIL,
               "/usr/local/bin/firecracker is writable by group or others");
    expect_fix(k, "install -o root");
    assert_int_equal(chmod(p, 0755), 0);
    w->env.vmm_owner = getuid() + 1;
    expect(w, "vmm_binaries", BG_DOCTOR_FAIL, "/usr/local/bin/firecracker is not owned by root");
    w->env.vmm_owner = getuid();
    link_to(w, "/usr/local/bin/jailer", "/tmp/jailer");
    expect(w, "vmm_binaries", BG_DOCTOR_FAIL, "/usr/local/bin/jailer is a symlink");
    unlink(path_in(w, "/usr/local/bin/jailer", p, sizeof(p)));
    mkdirs(p);
    expect(w, "vmm_binaries", BG_DOCTOR_FAIL, "/usr/local/bin/jailer is not a regular file");
    close(s2);
    free(w);
}

static void test_json(void **state)
{
    (void)state;
    struct world *w = world_new();
    w->fake.fc = (struct answer){-ENOENT, NULL};
    const struct bg_doctor_report *r = run(w);
    json_t *j = bg_doctor_to_json(r);
    json_t *checks = json_object_get(j, "checks");
    json_t *summary = json_object_get(j, "summary");
    json_int_t pass = 0, warn = 0, fail = 0;
    size_t i;
    json_t *c;

    assert_int_equal(json_array_size(checks), r->n);
    json_array_foreach (checks, i, c) {
        const char *s = json_string_value(json_object_get(c, "status"));
        assert_string_equal(json_string_value(json_object_get(c, "name")), r->check[i].name);
        pass += !strcmp(s, "PASS");
        warn += !strcmp(s, "WARN");
        fail += !strcmp(s, "FAIL");
        assert_int_equal(json_object_get(c, "fix") != NULL, r->check[i].fix[0] != '\0');
    }
    assert_int_equal(json_integer_value(json_object_get(summary, "pass")), pass);
    assert_int_equal(json_integer_value(json_object_get(summary, "warn")), warn);
    assert_int_equal(json_integer_value(json_object_get(summary, "fail")), fail);
    assert_int_equal(fail, 1); /* the missing firecracker: the fake host is otherwise sound */
    json_decref(j);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_os_release_table),
        cmocka_unit_test(test_os_release_malformed),
        cmocka_unit_test(test_firecracker),
        cmocka_unit_test(test_jailer),
        cmocka_unit_test(test_qemu),
        cmocka_unit_test(test_kvm),
        cmocka_unit_test(test_tun_and_vsock),
        cmocka_unit_test(test_cgroup),
        cmocka_unit_test(test_network),
        cmocka_unit_test(test_disk),
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_default_image),
        cmocka_unit_test(test_vm_defaults),
        cmocka_unit_test(test_user_mode),
        cmocka_unit_test(test_system_mode),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
