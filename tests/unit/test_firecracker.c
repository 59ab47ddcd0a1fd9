/* SPDX-License-Identifier: MIT */
/* Unit tests of the Firecracker driver's pure parts (argv, boot sequence, kernel check), and of
 * its probe, start, pidfile recovery and stop and the fcapi client against the Firecracker test
 * double (tests/fakes/firecracker). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "host/fileio.h"
#include "host/unixsock.h"
#include "testutil.h"
#include "vmm/driver.h"
#include "vmm/firecracker/fcapi.h"
#include "vmm/firecracker/firecracker.h"

static const struct bg_vmm_launch sample = {
    .id = "web1",
    .kernel = "/images/base/vmlinux",
    .initrd = "/cache/initrd/abc-def.img",
    .cmdline = "console=ttyS0 quiet banger.root=/dev/vda banger.overlay=/dev/vdb",
    .rootfs = "/images/base/rootfs.ext4",
    .overlay = "/state/vms/web1/overlay.img",
    .workdisk = "/state/vms/web1/work.img",
    .vcpus = 2,
    .memory_mib = 1024,
    .run_dir = "/run/banger/vms/web1",
    .nat = false,
};

/* ---- argv ---- */

static void test_argv(void **state)
{
    static const char *const want[] = {
        "/usr/bin/firecracker",
        "--api-sock",
        "/run/banger/vms/web1/api.sock",
        "--id",
        "web1",
        "--log-path",
        "/run/banger/vms/web1/firecracker.log",
    };
    char **argv = bg_firecracker_argv("/usr/bin/firecracker", "web1", "/run/banger/vms/web1");
    size_t n = 0;

    (void)state;
    for (; argv[n]; n++) {
        assert_true(n < sizeof(want) / sizeof(want[0]));
        assert_string_equal(argv[n], want[n]);
        /* Firecracker's parser refuses "--name=value": every flag and value is its own entry */
        if (!strncmp(argv[n], "--", 2))
            assert_null(strchr(argv[n], '='));
    }
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    bg_strv_free(argv);
}

static void test_argv_id_allowed_by_firecracker(void **state)
{
    /* banger's VM ids ([a-z0-9][a-z0-9-]*) fit Firecracker's --id rule (alnum and '-', 1-64) */
    char id[64];
    char **argv;

    (void)state;
    memset(id, 'a', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    id[1] = '-';
    argv = bg_firecracker_argv("firecracker", id, "/r");
    assert_string_equal(argv[3], "--id");
    assert_string_equal(argv[4], id);
    assert_int_equal(strspn(argv[4], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-"),
                     strlen(id));
    assert_int_equal(strlen(argv[4]), 63);
    bg_strv_free(argv);
}

/* ---- the boot sequence ---- */

static const char *req_path(json_t *reqs, size_t i)
{
    return json_string_value(json_object_get(json_array_get(reqs, i), "path"));
}

static json_t *req_body(json_t *reqs, size_t i)
{
    return json_object_get(json_array_get(reqs, i), "body");
}

static void assert_body(json_t *reqs, size_t i, const char *path, const char *json)
{
    json_error_t je;
    json_t *want = json_loads(json, 0, &je);

    if (!want)
        fail_msg("bad expected JSON %s: %s", json, je.text);
    assert_string_equal(req_path(reqs, i), path);
    if (!json_equal(req_body(reqs, i), want)) {
        char *got = json_dumps(req_body(reqs, i), JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("%s: body %s, want %s", path, got, json);
    }
    json_decref(want);
}

static void test_boot_requests(void **state)
{
    json_t *reqs = bg_firecracker_boot_requests(&sample);

    (void)state;
    assert_int_equal(json_array_size(reqs), 7);
    assert_body(reqs, 0, "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":1024}");
    assert_body(reqs, 1, "/boot-source",
                "{\"kernel_image_path\":\"/images/base/vmlinux\","
                "\"initrd_path\":\"/cache/initrd/abc-def.img\","
                "\"boot_args\":\"console=ttyS0 quiet banger.root=/dev/vda "
                "banger.overlay=/dev/vdb banger.agent=vsock reboot=k panic=1\"}");
    /* the rootfs is shared between VMs: read-only; banger's initramfs mounts it, not the kernel */
    assert_body(reqs, 2, "/drives/rootfs",
                "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/images/base/rootfs.ext4\","
                "\"is_root_device\":false,\"is_read_only\":true}");
    assert_body(reqs, 3, "/drives/overlay",
                "{\"drive_id\":\"overlay\",\"path_on_host\":\"/state/vms/web1/overlay.img\","
                "\"is_root_device\":false,\"is_read_only\":false}");
    assert_body(reqs, 4, "/drives/work",
                "{\"drive_id\":\"work\",\"path_on_host\":\"/state/vms/web1/work.img\","
                "\"is_root_device\":false,\"is_read_only\":false}");
    assert_body(reqs, 5, "/vsock",
                "{\"guest_cid\":3,\"uds_path\":\"/run/banger/vms/web1/v.sock\"}");
    assert_body(reqs, 6, "/actions", "{\"action_type\":\"InstanceStart\"}");
    json_decref(reqs);
}

static void test_boot_requests_minimal_with_tap(void **state)
{
    struct bg_vmm_launch l = sample;
    json_t *reqs;

    (void)state;
    l.rootfs = NULL;
    l.workdisk = NULL;
    l.initrd = NULL;
    l.tap = "bgtap3";
    reqs = bg_firecracker_boot_requests(&l);
    assert_int_equal(json_array_size(reqs), 6);
    assert_string_equal(req_path(reqs, 0), "/machine-config");
    assert_null(json_object_get(req_body(reqs, 1), "initrd_path"));
    assert_string_equal(req_path(reqs, 2), "/drives/overlay");
    assert_string_equal(req_path(reqs, 3), "/vsock");
    assert_body(reqs, 4, "/network-interfaces/eth0",
                "{\"iface_id\":\"eth0\",\"host_dev_name\":\"bgtap3\"}");
    /* InstanceStart is last: every resource is pre-boot only */
    assert_string_equal(req_path(reqs, 5), "/actions");
    json_decref(reqs);
}

/* Drive and interface ids: [A-Za-z0-9_] only (no '-'), the same in the path and the body. */
static void test_boot_request_ids(void **state)
{
    struct bg_vmm_launch l = sample;
    l.tap = "bgtap1";
    json_t *reqs = bg_firecracker_boot_requests(&l);
    size_t i;
    json_t *r;

    (void)state;
    json_array_foreach (reqs, i, r) {
        const char *path = req_path(reqs, i);
        const char *field = NULL, *id = NULL;

        if (!strncmp(path, "/drives/", 8)) {
            field = "drive_id";
            id = path + 8;
        } else if (!strncmp(path, "/network-interfaces/", 20)) {
            field = "iface_id";
            id = path + 20;
        }
        if (!field)
            continue;
        assert_true(*id != '\0');
        assert_int_equal(strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789_"),
                         strlen(id));
        assert_string_equal(json_string_value(json_object_get(req_body(reqs, i), field)), id);
    }
    json_decref(reqs);
}

/* ---- kernel format check ---- */

/* name inside the group's temporary directory, written with data. */
static char *write_file(const char *name, const void *data, size_t len)
{
    bg_autofree char *path = bg_asprintf("%s/%s", bg_test_dir(), name);
    return bg_test_write_file(path, data, len);
}

static void test_kernel_check(void **state)
{
    static const char elf[] = "\177ELF\002\001\001\000";
    /* a bzImage has the "HdrS" setup header at 0x202, after a boot sector */
    char bz[0x210] = {0};
    struct bg_error err = {0};

    (void)state;
    memcpy(bz + 0x202, "HdrS", 4);
    bz[0x1fe] = 0x55;
    bz[0x1ff] = (char)0xaa;
    char *ok = write_file("vmlinux", elf, sizeof(elf));
    char *bad = write_file("vmlinuz", bz, sizeof(bz));
    char *tiny = write_file("tiny", "EL", 2);

    assert_int_equal(bg_firecracker_kernel_check(ok, &err), 0);
    assert_int_equal(err.code, 0);
    assert_err(bg_firecracker_kernel_check(bad, &err), err, -ENOEXEC,
               "is not an uncompressed ELF vmlinux");
    assert_non_null(strstr(err.msg, "docs/images.md"));
    assert_err(bg_firecracker_kernel_check(tiny, &err), err, -ENOEXEC, "tiny");
    free(ok);
    free(bad);
    free(tiny);
}

/* ---- the fcapi client against the test double ---- */

static pid_t fake_pid;
static char fake_sock[PATH_MAX];

/* The double: $BANGER_FAKE_FIRECRACKER, else ../fakes/fake-firecracker next to this binary in
 * the build tree. NULL when neither exists. */
static char *fake_path(void)
{
    const char *env = getenv("BANGER_FAKE_FIRECRACKER");
    char self[PATH_MAX];
    ssize_t n;

    if (env && *env)
        return access(env, X_OK) == 0 ? bg_strdup(env) : NULL;
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return NULL;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    char *p = bg_asprintf("%s/../fakes/fake-firecracker", self);
    if (access(p, X_OK) == 0)
        return p;
    free(p);
    return NULL;
}

/* Start the double on <test dir>/api.sock; skip the test when it is not built. */
static int fake_start(void **state)
{
    char *bin = fake_path();
    char *log = bg_asprintf("%s/fc.log", bg_test_dir());

    (void)state;
    snprintf(fake_sock, sizeof(fake_sock), "%s/api.sock", bg_test_dir());
    unlink(fake_sock);
    fake_pid = -1;
    if (!bin) {
        free(log);
        return 0;
    }
    fake_pid = fork();
    if (fake_pid == 0) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        (void)dup2(null, 0);
        (void)dup2(null, 1);
        execl(bin, bin, "--api-sock", fake_sock, "--id", "unit-1", "--log-path", log, (char *)NULL);
        _exit(127);
    }
    free(bin);
    free(log);
    /* readiness: a connection is accepted. The socket file appears at bind(), before listen():
     * a client that only waits for the file can still be refused (ECONNREFUSED). Bounded
     * poll; abort if the double exits. */
    for (int i = 0; i < 500; i++) {
        int fd = -1, status;
        if (bg_unix_connect(fake_sock, &fd) == 0) {
            close(fd);
            return 0;
        }
        if (waitpid(fake_pid, &status, WNOHANG) == fake_pid) {
            fake_pid = -1;
            return -1;
        }
        usleep(10000);
    }
    return -1;
}

static int fake_stop(void **state)
{
    (void)state;
    if (fake_pid > 0) {
        kill(fake_pid, SIGKILL);
        (void)waitpid(fake_pid, NULL, 0);
    }
    fake_pid = -1;
    unlink(fake_sock);
    return 0;
}

#define NEED_FAKE()                                                                                \
    do {                                                                                           \
        if (fake_pid <= 0) {                                                                       \
            print_message("skip: needs the Firecracker test double (build fake-firecracker or "    \
                          "set BANGER_FAKE_FIRECRACKER)\n");                                       \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static void test_fcapi_fault_message(void **state)
{
    struct bg_fcapi *api;
    struct bg_error err = {0};
    json_t *body = json_pack("{s:i, s:i, s:i}", "vcpu_count", 2, "mem_size_mib", 256, "foo", 1);

    (void)state;
    NEED_FAKE();
    api = bg_fcapi_new(fake_sock, 2000);
    /* the 400's fault_message is surfaced, not swallowed */
    assert_err(bg_fcapi_put(api, "/machine-config", body, &err), err, -EINVAL,
               "PUT /machine-config: HTTP 400: An error occurred when deserializing the json "
               "body of a request: unknown field `foo`");
    json_decref(body);
    bg_fcapi_free(api);
}

static void test_fcapi_get_and_204(void **state)
{
    struct bg_fcapi *api;
    struct bg_error err = {0};
    json_t *got = NULL;
    json_t *body = json_pack("{s:i, s:i}", "vcpu_count", 2, "mem_size_mib", 256);

    (void)state;
    NEED_FAKE();
    api = bg_fcapi_new(fake_sock, 2000);
    /* 200 with a status line that has no reason phrase */
    assert_int_equal(bg_fcapi_call(api, "GET", "/", NULL, &got, &err), 0);
    assert_string_equal(json_string_value(json_object_get(got, "id")), "unit-1");
    assert_string_equal(json_string_value(json_object_get(got, "state")), "Not started");
    json_decref(got);
    /* 204 without a body: the output is set to NULL, whatever it held */
    json_t *sentinel = json_object();
    got = sentinel;
    assert_int_equal(bg_fcapi_call(api, "PUT", "/machine-config", body, &got, &err), 0);
    assert_null(got);
    json_decref(sentinel);
    assert_int_equal(err.code, 0);
    json_decref(body);
    bg_fcapi_free(api);
}

/* The whole boot sequence the driver sends is accepted by the double. */
static void test_fcapi_boot_sequence_accepted(void **state)
{
    struct bg_vmm_launch l = sample;
    struct bg_fcapi *api;
    struct bg_error err = {0};
    json_t *reqs, *r, *got = NULL;
    size_t i;

    (void)state;
    NEED_FAKE();
    char *k = write_file("vmlinux", "\177ELF", 4), *ini = write_file("initrd.img", "x", 1);
    char *rf = write_file("rootfs.ext4", "x", 1), *ov = write_file("overlay.img", "x", 1);
    char *wk = write_file("work.img", "x", 1);
    l.kernel = k;
    l.initrd = ini;
    l.rootfs = rf;
    l.overlay = ov;
    l.workdisk = wk;
    l.run_dir = bg_test_dir();
    api = bg_fcapi_new(fake_sock, 2000);
    reqs = bg_firecracker_boot_requests(&l);
    json_array_foreach (reqs, i, r) {
        int rc = bg_fcapi_put(api, req_path(reqs, i), req_body(reqs, i), &err);
        if (rc < 0)
            fail_msg("%s: %s", req_path(reqs, i), err.msg);
    }
    assert_int_equal(bg_fcapi_call(api, "GET", "/", NULL, &got, &err), 0);
    assert_string_equal(json_string_value(json_object_get(got, "state")), "Running");
    json_decref(got);
    /* a second InstanceStart is refused, with Firecracker's words */
    assert_err(bg_fcapi_put(api, "/actions", req_body(reqs, json_array_size(reqs) - 1), &err), err,
               -EINVAL, "not supported after starting the microVM");
    json_decref(reqs);
    bg_fcapi_free(api);
    free(k);
    free(ini);
    free(rf);
    free(ov);
    free(wk);
}

/* The probe under each setting: firecracker_kvm_check = false is how a double (or a
 * Firecracker that reaches a KVM bangerd may not open) is chosen on a host without /dev/kvm. */
static void test_probe_settings(void **state)
{
    (void)state;
    bg_autofree char *bin = fake_path();
    struct bg_vmm_settings s = {.firecracker_path = bin, .firecracker_kvm_check = false};
    struct bg_vmm_probe p;

    if (!bin) {
        print_message("skip: needs the Firecracker test double\n");
        skip();
    }
    assert_int_equal(bg_vmm_firecracker.probe(&s, &p), 0);
    assert_true(p.usable);
    assert_string_equal(p.version, "1.16.1");
    bg_autofree char *want = bg_asprintf(
        "version 1.16.1 (%s); /dev/kvm not checked (firecracker_kvm_check = false)", bin);
    assert_string_equal(p.reason, want);
    s.firecracker_kvm_check = true;
    assert_int_equal(bg_vmm_firecracker.probe(&s, &p), 0);
    if (bg_vmm_kvm_check() < 0) {
        assert_false(p.usable);
        assert_non_null(strstr(p.reason, "/dev/kvm not usable ("));
    } else {
        assert_true(p.usable);
    }
    s.firecracker_path = "/nonexistent/firecracker";
    assert_int_equal(bg_vmm_firecracker.probe(&s, &p), 0);
    assert_false(p.usable);
    assert_non_null(strstr(p.reason, "firecracker_path /nonexistent/firecracker"));
}

/* Start through the driver (the double as firecracker_path), find the process again from the
 * pidfile the driver wrote, by its exact run dir only, and stop it with the ladder. */
static void test_driver_start_find_stop(void **state)
{
    (void)state;
    bg_autofree char *bin = fake_path();
    struct bg_vmm_settings s = {.firecracker_path = bin};
    struct bg_vmm_instance vi = {0};
    struct bg_vmm_launch l = sample;
    struct bg_vmm_instance found = {0};
    struct bg_error err = {0};

    if (!bin) {
        print_message("skip: needs the Firecracker test double\n");
        skip();
    }
    bg_autofree char *run = bg_asprintf("%s/vms/w1", bg_test_dir());
    bg_autofree char *sibling = bg_asprintf("%s/vms/w", bg_test_dir());
    assert_int_equal(bg_mkdir_p(run, 0700, &err), 0);
    assert_int_equal(bg_mkdir_p(sibling, 0700, &err), 0);
    bg_autofree char *k = write_file("vmlinux-drv", "\177ELF", 4);
    bg_autofree char *ov = write_file("overlay-drv.img", "x", 1);
    l.kernel = k;
    l.initrd = NULL;
    l.rootfs = NULL;
    l.workdisk = NULL;
    l.overlay = ov;
    l.run_dir = run;
    assert_int_equal(bg_vmm_firecracker.start(&s, &l, &vi, &err), 0);
    assert_true(bg_vmm_instance_alive(&vi));
    assert_int_equal(bg_vmm_firecracker.find_unrecorded(run, &found), 0);
    assert_int_equal(found.pid, vi.pid);
    assert_int_equal(found.start_time, vi.start_time);
    assert_string_equal(found.control_path, vi.control_path);
    assert_string_equal(found.agent_path, vi.agent_path);
    bg_vmm_instance_done(&found);
    /* ".../vms/w" is a prefix of this VMM's run dir, not its run dir */
    bg_autofree char *stray = bg_asprintf("%s/" BG_FC_PIDFILE, sibling);
    char text[32];
    int n = snprintf(text, sizeof(text), "%d\n", (int)vi.pid);
    free(bg_test_write_file(stray, text, (size_t)n));
    assert_int_equal(bg_vmm_firecracker.find_unrecorded(sibling, &found), -ESRCH);
    /* forced: SendCtrlAltDel needs the guest and is skipped; SIGTERM ends it */
    assert_int_equal(bg_vmm_stop(&bg_vmm_firecracker, &vi, 0, &err), 0);
    assert_false(bg_vmm_instance_alive(&vi));
    assert_int_equal(bg_vmm_firecracker.find_unrecorded(run, &found), -ESRCH);
    bg_vmm_instance_done(&vi);
}

static void test_fcapi_nothing_listening(void **state)
{
    char *sock = bg_asprintf("%s/absent.sock", bg_test_dir());
    struct bg_fcapi *api = bg_fcapi_new(sock, 500);
    struct bg_error err = {0};

    (void)state;
    assert_err(bg_fcapi_call(api, "GET", "/", NULL, NULL, &err), err, -ECONNREFUSED, "GET / on ");
    bg_fcapi_free(api);
    free(sock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argv),
        cmocka_unit_test(test_argv_id_allowed_by_firecracker),
        cmocka_unit_test(test_boot_requests),
        cmocka_unit_test(test_boot_requests_minimal_with_tap),
        cmocka_unit_test(test_boot_request_ids),
        cmocka_unit_test(test_kernel_check),
        cmocka_unit_test_setup_teardown(test_fcapi_fault_message, fake_start, fake_stop),
        cmocka_unit_test_setup_teardown(test_fcapi_get_and_204, fake_start, fake_stop),
        cmocka_unit_test_setup_teardown(test_fcapi_boot_sequence_accepted, fake_start, fake_stop),
        cmocka_unit_test(test_fcapi_nothing_listening),
        cmocka_unit_test(test_probe_settings),
        cmocka_unit_test(test_driver_start_find_stop),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
