/* SPDX-License-Identifier: MIT */
/* Unit tests of server/vm/: disks, initrd, command line, runtime rows, reconcile, refusals of
 * start/stop/destroy, and the agent borrow rules. No VMM is booted here (see
 * tests/integration/test_vm_lifecycle.sh); processes stand in for VMMs where one is needed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "core/config.h"
#include "host/fileio.h"
#include "host/proc.h"
#include "host/run.h"
#include "rest/daemon.h"
#include "testutil.h"
#include "vm/runtime.h"
#include "vm/vm-internal.h"

/* A daemon with a real store in a temporary directory, and no HTTP. */
struct fixture {
    char dir[64];
    char *kernel, *initrd, *agent, *db;
    struct bg_config cfg;
    struct bg_daemon d;
};

static char *write_file(const char *path, size_t len)
{
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    for (size_t i = 0; i < len; i++)
        fputc('a' + (int)(i % 26), f);
    fclose(f);
    return bg_strdup(path);
}

static void add_image(struct fixture *f, const char *name, enum bg_image_state state)
{
    struct bg_image img = {.state = state, .vmms = BG_VMM_QEMU, .created_at = 1};
    struct bg_error err = {0};

    snprintf(img.name, sizeof(img.name), "%s", name);
    snprintf(img.arch, sizeof(img.arch), "x86_64");
    img.files[BG_IMAGE_KERNEL].path = f->kernel;
    img.files[BG_IMAGE_INITRD].path = f->initrd;
    img.source = (char *)"import";
    assert_int_equal(bg_store_image_insert(f->d.store, &img, NULL, &err), 0);
}

static void add_vm(struct fixture *f, const char *name, enum bg_vm_state state)
{
    struct bg_vm vm = {.state = state, .created_at = 1, .updated_at = 1};
    struct bg_error err = {0};

    snprintf(vm.spec.name, sizeof(vm.spec.name), "%s", name);
    snprintf(vm.spec.image, sizeof(vm.spec.image), "base");
    vm.spec.vcpus = 1;
    vm.spec.memory_mib = 256;
    vm.spec.disk_mib = 512;
    assert_int_equal(bg_store_vm_insert(f->d.store, &vm, NULL, &err), 0);
}

static enum bg_vm_state vm_state(struct fixture *f, const char *name, struct bg_vm *ret)
{
    struct bg_error err = {0};
    struct bg_vm vm;

    assert_int_equal(bg_store_vm_get(f->d.store, name, &vm, &err), 0);
    if (ret)
        *ret = vm;
    return vm.state;
}

static int setup(void **state)
{
    struct fixture *f = bg_calloc(1, sizeof(*f));
    struct bg_error err = {0};
    char path[160];

    snprintf(f->dir, sizeof(f->dir), "/tmp/banger-test-lifecycle-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(path, sizeof(path), "%s/vmlinuz", f->dir);
    f->kernel = write_file(path, 100);
    snprintf(path, sizeof(path), "%s/initrd.img", f->dir);
    f->initrd = write_file(path, 1001); /* not a multiple of 4: the agent archive is aligned */
    snprintf(path, sizeof(path), "%s/banger-agent", f->dir);
    f->agent = write_file(path, 3000);
    setenv("BANGER_AGENT", f->agent, 1);
    setenv("BANGERD_ACCEL", "tcg", 1);
    f->cfg.state_dir = bg_asprintf("%s/state", f->dir);
    f->cfg.runtime_dir = bg_asprintf("%s/run", f->dir);
    f->cfg.cache_dir = bg_asprintf("%s/cache", f->dir);
    snprintf(f->cfg.vmm, sizeof(f->cfg.vmm), "qemu");
    snprintf(f->cfg.accel, sizeof(f->cfg.accel), "tcg");
    f->db = bg_asprintf("%s/state.db", f->dir);
    f->d.cfg = &f->cfg;
    if (bg_store_open(f->db, BG_STORE_READ_WRITE, &f->d.store, &err) < 0)
        return -1;
    f->d.runtime = bg_vm_runtime_new(&f->cfg);
    add_image(f, "base", BG_IMAGE_STATE_READY);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    bg_vm_runtime_free(f->d.runtime);
    bg_store_close(f->d.store);
    (void)bg_rm_tree(f->dir, NULL);
    free(f->kernel);
    free(f->initrd);
    free(f->agent);
    free(f->db);
    free(f->cfg.state_dir);
    free(f->cfg.runtime_dir);
    free(f->cfg.cache_dir);
    free(f);
    return 0;
}

/* ---- disks ---- */

static uint16_t ext4_magic(const char *path)
{
    unsigned char sb[2];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, sb, 2, 1024 + 56), 2);
    close(fd);
    return (uint16_t)(sb[0] | sb[1] << 8);
}

static void test_disk_create_keep_grow(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct stat st, st2;
    char path[160];

    snprintf(path, sizeof(path), "%s/overlay.img", f->dir);
    assert_int_equal(bg_vm_disk_ensure(path, 512, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 512ll << 20);
    assert_true(st.st_blocks * 512 < st.st_size / 4); /* sparse */
    assert_int_equal(ext4_magic(path), 0xef53);

    /* the same size again: untouched (never reformatted) */
    assert_int_equal(bg_vm_disk_ensure(path, 512, &err), 0);
    assert_int_equal(stat(path, &st2), 0);
    assert_int_equal(st2.st_ino, st.st_ino);
    assert_int_equal(st2.st_mtim.tv_nsec, st.st_mtim.tv_nsec);
    /* smaller: never shrinks */
    assert_int_equal(bg_vm_disk_ensure(path, 256, &err), 0);
    assert_int_equal(stat(path, &st2), 0);
    assert_int_equal(st2.st_size, 512ll << 20);
    /* larger: file and filesystem grow */
    assert_int_equal(bg_vm_disk_ensure(path, 600, &err), 0);
    assert_int_equal(stat(path, &st2), 0);
    assert_int_equal(st2.st_size, 600ll << 20);
    assert_int_equal(st2.st_ino, st.st_ino);
    const char *fsck[] = {"e2fsck", "-n", "-f", path, NULL};
    struct bg_run_opts o = {.argv = fsck, .out_fd = -1, .timeout_ms = 60000};
    struct bg_run_result res;
    assert_int_equal(bg_run_ok(&o, &res, &err), 0);
    bg_run_result_done(&res);

    snprintf(path, sizeof(path), "%s", f->dir);
    assert_err(bg_vm_disk_ensure(path, 512, &err), err, -EINVAL, "not a regular file");
}

/* ---- boot files ---- */

static void test_cmdline(void **state)
{
    (void)state;
    struct bg_vm vm = {0};

    snprintf(vm.spec.name, sizeof(vm.spec.name), "web1");
    char *a = bg_vm_cmdline(&vm, true, true);
    assert_non_null(strstr(a, "console=ttyS0 panic=-1 banger.root=/dev/vda "
                              "banger.overlay=/dev/vdb banger.work=/dev/vdc"));
    assert_non_null(strstr(a, "banger.hostname=web1"));
    char *b = bg_vm_cmdline(&vm, false, false);
    assert_non_null(strstr(b, "panic=-1 banger.overlay=/dev/vda banger.net=user"));
    assert_null(strstr(b, "banger.root"));
    assert_null(strstr(b, "banger.work"));
    free(a);
    free(b);
}

static void test_initrd(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_image img = {0};
    char *path = NULL, *again = NULL, head[8] = {0};
    struct stat st;

    img.files[BG_IMAGE_INITRD].path = f->initrd;
    assert_int_equal(bg_vm_initrd_prepare(&f->cfg, &img, &path, &err), 0);
    assert_non_null(strstr(path, "/cache/initrd/"));
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 1024 + 3000);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_int_equal(pread(fd, head, 6, 1024), 6); /* image initrd padded to 1024 */
    close(fd);
    assert_string_equal(head, "070701");
    /* cached: the same file, not rebuilt */
    assert_int_equal(bg_vm_initrd_prepare(&f->cfg, &img, &again, &err), 0);
    assert_string_equal(path, again);
    free(again);
    /* a new agent gives a new file */
    free(write_file(f->agent, 3001));
    assert_int_equal(bg_vm_initrd_prepare(&f->cfg, &img, &again, &err), 0);
    assert_string_not_equal(path, again);
    free(again);
    free(path);

    setenv("BANGER_AGENT", "/nonexistent/banger-agent", 1);
    assert_err(bg_vm_initrd_prepare(&f->cfg, &img, &path, &err), err, -ENOENT, "BANGER_AGENT");
    setenv("BANGER_AGENT", f->agent, 1);
}

/* ---- runtime rows ---- */

static void test_runtime_rows(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_store_runtime rt = {.pid = 42,
                                  .start_time = 7,
                                  .run_dir = (char *)"/r",
                                  .agent_path = (char *)"/r/a",
                                  .control_path = (char *)"/r/q",
                                  .console_path = (char *)"/r/c"};
    struct bg_store_runtime got = {0};

    snprintf(rt.vm, sizeof(rt.vm), "ghost");
    snprintf(rt.vmm, sizeof(rt.vmm), "qemu");
    snprintf(rt.accel, sizeof(rt.accel), "tcg");
    assert_err(bg_store_runtime_put(f->d.store, &rt, &err), err, -ENOENT, "not found");
    add_vm(f, "web1", BG_VM_STATE_RUNNING);
    snprintf(rt.vm, sizeof(rt.vm), "web1");
    assert_int_equal(bg_store_runtime_put(f->d.store, &rt, &err), 0);
    rt.pid = 43;
    assert_int_equal(bg_store_runtime_put(f->d.store, &rt, &err), 0); /* replaces */
    assert_int_equal(bg_store_runtime_get(f->d.store, "web1", &got, &err), 0);
    assert_int_equal(got.pid, 43);
    assert_int_equal(got.start_time, 7);
    assert_string_equal(got.agent_path, "/r/a");
    assert_string_equal(got.accel, "tcg");
    bg_store_runtime_done(&got);
    assert_int_equal(bg_store_runtime_delete(f->d.store, "web1", &err), 0);
    assert_err(bg_store_runtime_get(f->d.store, "web1", &got, &err), err, -ENOENT,
               "no runtime record");
    /* the row goes with its VM */
    assert_int_equal(bg_store_runtime_put(f->d.store, &rt, &err), 0);
    assert_int_equal(bg_store_vm_delete(f->d.store, "web1", NULL, &err), 0);
    assert_int_equal(bg_store_runtime_get(f->d.store, "web1", &got, &err), -ENOENT);
}

/* ---- reconcile ---- */

static pid_t spawn_sleeper(struct fixture *f, uint64_t *ret_start)
{
    struct bg_error err = {0};
    char log[160], state;
    char *bin = NULL;
    pid_t pid;

    snprintf(log, sizeof(log), "%s/sleep.log", f->dir);
    assert_int_equal(bg_run_find_program("sleep", &bin, &err), 0);
    const char *argv[] = {bin, "60", NULL};
    assert_int_equal(bg_run_detached(argv, log, &pid, &err), 0);
    assert_int_equal(bg_proc_stat(pid, &state, ret_start, &err), 0);
    free(bin);
    return pid;
}

static void put_runtime(struct fixture *f, const char *name, pid_t pid, uint64_t start)
{
    struct bg_vm_paths p;
    struct bg_error err = {0};
    char sock[200];
    struct bg_store_runtime rt = {.pid = pid, .start_time = start};

    bg_vm_paths_init(&f->cfg, name, &p);
    assert_int_equal(bg_mkdir_p(p.run_dir, 0700, &err), 0);
    snprintf(sock, sizeof(sock), "%s/qmp.sock", p.run_dir);
    free(write_file(sock, 1));
    free(write_file(p.console, 10));
    snprintf(rt.vm, sizeof(rt.vm), "%s", name);
    snprintf(rt.vmm, sizeof(rt.vmm), "qemu");
    snprintf(rt.accel, sizeof(rt.accel), "tcg");
    rt.run_dir = p.run_dir;
    rt.agent_path = bg_asprintf("%s/agent.sock", p.run_dir);
    rt.control_path = bg_asprintf("%s/qmp.sock", p.run_dir);
    rt.console_path = p.console;
    assert_int_equal(bg_store_runtime_put(f->d.store, &rt, &err), 0);
    free(rt.agent_path);
    free(rt.control_path);
    bg_vm_paths_done(&p);
}

static void test_reconcile(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_store_runtime rt;
    struct bg_vm vm;
    char path[200], s;
    uint64_t start, st;

    /* dead: its process exited; stopped, runtime files gone, console kept */
    add_vm(f, "dead", BG_VM_STATE_RUNNING);
    pid_t gone = spawn_sleeper(f, &start);
    kill(gone, SIGKILL);
    for (int i = 0; i < 200 && bg_proc_stat(gone, &s, &st, NULL) == 0 && s != 'Z'; i++)
        usleep(10000);
    put_runtime(f, "dead", gone, start);
    /* reused: the pid is alive (ours) but started at another time: never touched */
    add_vm(f, "reused", BG_VM_STATE_RUNNING);
    put_runtime(f, "reused", getpid(), 12345);
    /* stopping: the process lives; reconcile finishes the stop */
    add_vm(f, "halfway", BG_VM_STATE_STOPPING);
    pid_t live = spawn_sleeper(f, &start);
    put_runtime(f, "halfway", live, start);
    /* starting with no pid recorded and no pidfile: failed */
    add_vm(f, "early", BG_VM_STATE_STARTING);
    put_runtime(f, "early", 0, 0);
    add_vm(f, "idle", BG_VM_STATE_STOPPED);

    assert_int_equal(bg_vm_reconcile(&f->d, &err), 0);

    assert_int_equal(vm_state(f, "dead", NULL), BG_VM_STATE_STOPPED);
    assert_int_equal(bg_store_runtime_get(f->d.store, "dead", &rt, &err), -ENOENT);
    snprintf(path, sizeof(path), "%s/vms/dead/qmp.sock", f->cfg.runtime_dir);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof(path), "%s/vms/dead/console.log", f->cfg.runtime_dir);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(vm_state(f, "reused", NULL), BG_VM_STATE_STOPPED);
    assert_int_equal(vm_state(f, "halfway", NULL), BG_VM_STATE_STOPPED);
    int exited = 0;
    for (int i = 0; i < 500 && !exited; i++) {
        exited = bg_proc_stat(live, &s, &st, NULL) < 0 || s == 'Z';
        usleep(10000);
    }
    assert_true(exited);
    assert_int_equal(vm_state(f, "early", &vm), BG_VM_STATE_FAILED);
    assert_non_null(strstr(vm.error, "bangerd stopped while the VM was starting"));
    assert_int_equal(vm_state(f, "idle", NULL), BG_VM_STATE_STOPPED);
}

/* ---- lifecycle refusals ---- */

static void test_start_refusals(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_vm vm;

    assert_err(bg_vm_start(&f->d, "nope", NULL, &err), err, -ENOENT, "not found");
    add_vm(f, "web1", BG_VM_STATE_RUNNING);
    assert_err(bg_vm_start(&f->d, "web1", NULL, &err), err, -EALREADY, "already running");
    add_vm(f, "web2", BG_VM_STATE_STOPPING);
    assert_err(bg_vm_start(&f->d, "web2", NULL, &err), err, -EBUSY, "is stopping");

    add_image(f, "slow", BG_IMAGE_STATE_IMPORTING);
    struct bg_vm v3 = {.state = BG_VM_STATE_CREATED, .created_at = 1, .updated_at = 1};
    snprintf(v3.spec.name, sizeof(v3.spec.name), "web3");
    snprintf(v3.spec.image, sizeof(v3.spec.image), "slow");
    v3.spec.vcpus = 1;
    v3.spec.memory_mib = 256;
    v3.spec.disk_mib = 512;
    assert_int_equal(bg_store_vm_insert(f->d.store, &v3, NULL, &err), 0);
    assert_err(bg_vm_start(&f->d, "web3", NULL, &err), err, -ENOMEDIUM, "not ready");
    assert_int_equal(vm_state(f, "web3", NULL), BG_VM_STATE_CREATED);

    /* no usable VMM: refused before anything is recorded */
    add_vm(f, "web4", BG_VM_STATE_CREATED);
    const struct bg_vmm_driver *saved = f->d.runtime->vmm;
    f->d.runtime->vmm = NULL;
    assert_err(bg_vm_start(&f->d, "web4", NULL, &err), err, -ENXIO, "no usable VMM");
    f->d.runtime->vmm = saved;
    assert_int_equal(vm_state(f, "web4", NULL), BG_VM_STATE_CREATED);

    /* a failure after the transition: recorded as failed, with the reason */
    setenv("BANGER_AGENT", "/nonexistent/banger-agent", 1);
    int r = bg_vm_start(&f->d, "web4", NULL, &err);
    setenv("BANGER_AGENT", f->agent, 1);
    assert_int_equal(r, -ENOENT);
    assert_int_equal(vm_state(f, "web4", &vm), BG_VM_STATE_FAILED);
    assert_non_null(strstr(vm.error, "BANGER_AGENT"));
    assert_string_equal(vm.vmm, "qemu");
    assert_true(vm.started_at > 0);
    /* the overlay was made before the failure and is kept */
    char path[200];
    snprintf(path, sizeof(path), "%s/vms/web4/overlay.img", f->cfg.state_dir);
    assert_int_equal(access(path, F_OK), 0);
}

static void test_stop_destroy_acquire(void **state)
{
    struct fixture *f = *state;
    struct bg_agent_conn *c = NULL;
    struct bg_error err = {0};
    char path[200];

    add_vm(f, "web1", BG_VM_STATE_STOPPED);
    assert_err(bg_vm_agent_acquire(&f->d, "web1", &c, &err), err, -EAGAIN, "is stopped");
    assert_err(bg_vm_agent_acquire(&f->d, "nope", &c, &err), err, -ENOENT, "not found");
    assert_int_equal(bg_vm_stop(&f->d, "web1", 1000, &err), 0); /* not running: as it is */
    assert_int_equal(vm_state(f, "web1", NULL), BG_VM_STATE_STOPPED);
    assert_err(bg_vm_stop(&f->d, "nope", 1000, &err), err, -ENOENT, "not found");

    add_vm(f, "web2", BG_VM_STATE_RUNNING);
    assert_err(bg_vm_agent_acquire(&f->d, "web2", &c, &err), err, -EAGAIN,
               "agent is not connected");
    assert_err(bg_vm_destroy(&f->d, "web2", false, &err), err, -EBUSY, "stop it first");

    /* destroy leaves nothing: record, disks, run dir */
    struct bg_vm_paths p;
    bg_vm_paths_init(&f->cfg, "web1", &p);
    assert_int_equal(bg_mkdir_p(p.run_dir, 0700, &err), 0);
    assert_int_equal(bg_mkdir_p(p.state_dir, 0700, &err), 0);
    assert_int_equal(bg_vm_disk_ensure(p.overlay, 512, &err), 0);
    free(write_file(p.console, 5));
    assert_int_equal(bg_vm_destroy(&f->d, "web1", false, &err), 0);
    assert_int_equal(access(p.run_dir, F_OK), -1);
    assert_int_equal(access(p.state_dir, F_OK), -1);
    assert_err(bg_store_vm_get(f->d.store, "web1", &(struct bg_vm){0}, &err), err, -ENOENT,
               "not found");
    bg_vm_paths_done(&p);
    assert_err(bg_vm_destroy(&f->d, "web1", true, &err), err, -ENOENT, "not found");

    /* forced: a running VM whose VMM is gone is stopped, then deleted */
    assert_int_equal(bg_vm_destroy(&f->d, "web2", true, &err), 0);
    snprintf(path, sizeof(path), "%s/vms/web2", f->cfg.runtime_dir);
    assert_int_equal(access(path, F_OK), -1);
}

static void test_console_tail(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_vm_paths p;
    size_t len = 99;
    char *text = NULL;

    add_vm(f, "web1", BG_VM_STATE_CREATED);
    assert_int_equal(bg_vm_console_tail(&f->d, "web1", 100, &text, &len, &err), 0);
    assert_int_equal(len, 0); /* never booted */
    free(text);
    bg_vm_paths_init(&f->cfg, "web1", &p);
    assert_int_equal(bg_mkdir_p(p.run_dir, 0700, &err), 0);
    free(write_file(p.console, 52));
    assert_int_equal(bg_vm_console_tail(&f->d, "web1", 4, &text, &len, &err), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(text, "wxyz", 4);
    free(text);
    assert_int_equal(bg_vm_console_tail(&f->d, "web1", 1000, &text, &len, &err), 0);
    assert_int_equal(len, 52);
    free(text);
    bg_vm_paths_done(&p);
    assert_err(bg_vm_console_tail(&f->d, "nope", 10, &text, &len, &err), err, -ENOENT, "not found");
}

static void test_vmm_json(void **state)
{
    struct fixture *f = *state;
    json_t *j = bg_vm_runtime_vmm_json(f->d.runtime);

    assert_non_null(json_object_get(j, "reason"));
    if (f->d.runtime->vmm) {
        assert_string_equal(json_string_value(json_object_get(j, "selected")), "qemu");
        assert_string_equal(json_string_value(json_object_get(j, "accel")), "tcg");
        assert_string_equal(json_string_value(json_object_get(j, "reason")),
                            "configured; qemu: using TCG (accel = tcg)");
    } else {
        assert_true(json_is_null(json_object_get(j, "selected")));
    }
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disk_create_keep_grow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmdline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_initrd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runtime_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_destroy_acquire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmm_json, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
