/* SPDX-License-Identifier: MIT */
/* Unit tests of server/vm/: disks, initrd, command line, runtime rows, reconcile, the
 * watcher, the console cap, refusals of create/start/stop/destroy with their codes, the
 * lifecycle lock and the agent borrow rules. No VMM is booted here (see
 * tests/integration/test_vm_lifecycle.sh); processes stand in for VMMs where one is needed. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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
#include "banger/proc.h"
#include "host/fileio.h"
#include "host/run.h"
#include "store/store.h"
#include "testutil.h"
#include "vm/runtime.h"
#include "vm/vm-internal.h"
#include "vm/watch.h"
#include "vmm/firecracker/firecracker.h"
#include "vmm/qemu/qemu.h"

#define CONSOLE_MAX (64 * 1024)

static const struct bg_vmm_driver *const drivers[] = {&bg_vmm_firecracker, &bg_vmm_qemu};

/* A VM runtime with a real store in a temporary directory, and no HTTP. */
struct fixture {
    char dir[64];
    char *kernel, *initrd, *agent, *db;
    char *state_dir, *runtime_dir, *cache_dir;
    struct bg_store *store;
    struct bg_vm_runtime *rt;
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
    assert_int_equal(bg_store_image_insert(f->store, &img, NULL, &err), 0);
}

static void add_vm_as(struct fixture *f, const char *name, enum bg_vm_state state, bool auto_remove)
{
    struct bg_vm vm = {.state = state, .created_at = 1, .updated_at = 1};
    struct bg_error err = {0};

    snprintf(vm.spec.name, sizeof(vm.spec.name), "%s", name);
    snprintf(vm.spec.image, sizeof(vm.spec.image), "base");
    vm.spec.vcpus = 1;
    vm.spec.memory_mib = 256;
    vm.spec.disk_mib = 512;
    vm.spec.auto_remove = auto_remove;
    assert_int_equal(bg_store_vm_insert(f->store, &vm, NULL, &err), 0);
}

static void add_vm(struct fixture *f, const char *name, enum bg_vm_state state)
{
    add_vm_as(f, name, state, false);
}

static enum bg_vm_state vm_state(struct fixture *f, const char *name, struct bg_vm *ret)
{
    struct bg_error err = {0};
    struct bg_vm vm;

    assert_int_equal(bg_store_vm_get(f->store, name, &vm, &err), 0);
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
    f->state_dir = bg_asprintf("%s/state", f->dir);
    f->runtime_dir = bg_asprintf("%s/run", f->dir);
    f->cache_dir = bg_asprintf("%s/cache", f->dir);
    f->db = bg_asprintf("%s/state.db", f->dir);
    if (bg_store_open(f->db, BG_STORE_READ_WRITE, &f->store, &err) < 0)
        return -1;
    struct bg_vm_runtime_config c = {
        .store = f->store,
        .runtime_dir = f->runtime_dir,
        .state_dir = f->state_dir,
        .cache_dir = f->cache_dir,
        .vmm = "qemu",
        .drivers = drivers,
        .n_drivers = BG_ARRAY_SIZE(drivers),
        .vmm_settings = {.accel = "tcg", .firecracker_kvm_check = true},
        .console_max_bytes = CONSOLE_MAX,
    };
    f->rt = bg_vm_runtime_new(&c);
    add_image(f, "base", BG_IMAGE_STATE_READY);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    bg_vm_runtime_free(f->rt);
    bg_store_close(f->store);
    (void)bg_rm_tree(f->dir, NULL);
    free(f->kernel);
    free(f->initrd);
    free(f->agent);
    free(f->db);
    free(f->state_dir);
    free(f->runtime_dir);
    free(f->cache_dir);
    free(f);
    return 0;
}

/* ---- disks ---- */

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The ext4 superblock at 1024: its magic, and the filesystem's size in bytes. */
static uint16_t ext4_magic(const char *path)
{
    unsigned char sb[2];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, sb, 2, 1024 + 56), 2);
    close(fd);
    return (uint16_t)(sb[0] | sb[1] << 8);
}

static uint64_t ext4_bytes(const char *path)
{
    unsigned char sb[1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, sb, sizeof(sb), 1024), sizeof(sb));
    close(fd);
    uint64_t blocks = le32(sb + 4) | (uint64_t)le32(sb + 0x150) << 32;
    return blocks * (1024u << le32(sb + 24));
}

static void assert_fsck_clean(const char *path)
{
    struct bg_error err = {0};
    const char *fsck[] = {"e2fsck", "-n", "-f", path, NULL};
    struct bg_run_opts o = {.argv = fsck, .out_fd = -1, .timeout_ms = 60000};
    struct bg_run_result res;

    assert_int_equal(bg_run_ok(&o, &res, &err), 0);
    bg_run_result_done(&res);
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
    assert_int_equal(ext4_bytes(path), 600ull << 20);
    assert_fsck_clean(path);

    snprintf(path, sizeof(path), "%s", f->dir);
    assert_err(bg_vm_disk_ensure(path, 512, &err), err, -EINVAL, "not a regular file");
}

/* A growth cut short after the file grew (the daemon died before resize2fs): the next start
 * finishes it, though the file already has the size asked for. */
static void test_disk_grow_finished_later(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    char path[160], marker[200];

    snprintf(path, sizeof(path), "%s/overlay.img", f->dir);
    snprintf(marker, sizeof(marker), "%s" BG_VM_DISK_GROW_MARKER, path);
    assert_int_equal(bg_vm_disk_ensure(path, 512, &err), 0);
    /* what disk_grow leaves when it stops after its truncate */
    free(write_file(marker, 3));
    assert_int_equal(truncate(path, 600ll << 20), 0);
    assert_int_equal(ext4_bytes(path), 512ull << 20);

    assert_int_equal(bg_vm_disk_ensure(path, 600, &err), 0);
    assert_int_equal(ext4_bytes(path), 600ull << 20);
    assert_int_equal(access(marker, F_OK), -1);
    assert_fsck_clean(path);
    /* done: a later start leaves it alone */
    assert_int_equal(bg_vm_disk_ensure(path, 600, &err), 0);
    assert_int_equal(ext4_bytes(path), 600ull << 20);
}

/* ---- boot files ---- */

static void test_cmdline(void **state)
{
    (void)state;
    struct bg_vm vm = {0};

    snprintf(vm.spec.name, sizeof(vm.spec.name), "web1");
    char *a = bg_vm_cmdline(&vm, true, true);
    assert_string_equal(a, "console=ttyS0 panic=-1 banger.root=/dev/vda banger.overlay=/dev/vdb "
                           "banger.work=/dev/vdc banger.hostname=web1");
    char *b = bg_vm_cmdline(&vm, false, false);
    assert_string_equal(b, "console=ttyS0 panic=-1 banger.overlay=/dev/vda banger.hostname=web1");
    /* the network is the driver's: QEMU's user-network addresses are not every VMM's */
    assert_null(strstr(a, "banger.ip"));
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
    assert_int_equal(bg_vm_initrd_prepare(f->cache_dir, &img, &path, &err), 0);
    assert_non_null(strstr(path, "/cache/initrd/"));
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 1024 + 3000);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_int_equal(pread(fd, head, 6, 1024), 6); /* image initrd padded to 1024 */
    close(fd);
    assert_string_equal(head, "070701");
    /* cached: the same file, not rebuilt */
    assert_int_equal(bg_vm_initrd_prepare(f->cache_dir, &img, &again, &err), 0);
    assert_string_equal(path, again);
    free(again);
    /* a new agent gives a new file */
    free(write_file(f->agent, 3001));
    assert_int_equal(bg_vm_initrd_prepare(f->cache_dir, &img, &again, &err), 0);
    assert_string_not_equal(path, again);
    free(again);
    free(path);

    setenv("BANGER_AGENT", "/nonexistent/banger-agent", 1);
    assert_err(bg_vm_initrd_prepare(f->cache_dir, &img, &path, &err), err, -ENOENT, "BANGER_AGENT");
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
    assert_err(bg_store_runtime_put(f->store, &rt, &err), err, -ENOENT, "not found");
    add_vm(f, "web1", BG_VM_STATE_RUNNING);
    snprintf(rt.vm, sizeof(rt.vm), "web1");
    assert_int_equal(bg_store_runtime_put(f->store, &rt, &err), 0);
    rt.pid = 43;
    assert_int_equal(bg_store_runtime_put(f->store, &rt, &err), 0); /* replaces */
    assert_int_equal(bg_store_runtime_get(f->store, "web1", &got, &err), 0);
    assert_int_equal(got.pid, 43);
    assert_int_equal(got.start_time, 7);
    assert_string_equal(got.agent_path, "/r/a");
    assert_string_equal(got.accel, "tcg");
    bg_store_runtime_done(&got);
    assert_int_equal(bg_store_runtime_delete(f->store, "web1", &err), 0);
    assert_err(bg_store_runtime_get(f->store, "web1", &got, &err), err, -ENOENT,
               "no runtime record");
    /* the row goes with its VM */
    assert_int_equal(bg_store_runtime_put(f->store, &rt, &err), 0);
    assert_int_equal(bg_store_vm_delete(f->store, "web1", NULL, &err), 0);
    assert_int_equal(bg_store_runtime_get(f->store, "web1", &got, &err), -ENOENT);
}

/* ---- processes that stand in for VMMs ---- */

/* A detached process running argv (argv[0] found in PATH), in its own session. */
static pid_t spawn(struct fixture *f, const char *const *argv, uint64_t *ret_start)
{
    struct bg_error err = {0};
    char log[160], state;
    char *bin = NULL;
    const char *v[8];
    pid_t pid;
    size_t n = 0;

    snprintf(log, sizeof(log), "%s/spawn.log", f->dir);
    assert_int_equal(bg_run_find_program(argv[0], &bin, &err), 0);
    v[n++] = bin;
    for (size_t i = 1; argv[i] && n < 7; i++)
        v[n++] = argv[i];
    v[n] = NULL;
    assert_int_equal(bg_run_detached(v, log, &pid, &err), 0);
    assert_int_equal(bg_proc_stat(pid, &state, ret_start, &err), 0);
    free(bin);
    return pid;
}

static pid_t spawn_sleeper(struct fixture *f, uint64_t *ret_start)
{
    const char *argv[] = {"sleep", "60", NULL};
    return spawn(f, argv, ret_start);
}

/* A process whose argv holds "-pidfile PIDFILE" as QEMU's does: a shell that waits for its
 * sleep. Its whole session goes with kill_session. */
static pid_t spawn_with_pidfile(struct fixture *f, const char *pidfile, uint64_t *ret_start)
{
    const char *argv[] = {"sh", "-c", "sleep 60; :", "sh", "-pidfile", pidfile, NULL};
    return spawn(f, argv, ret_start);
}

static bool gone(pid_t pid)
{
    char s;
    uint64_t st;

    return bg_proc_stat(pid, &s, &st, NULL) < 0 || s == 'Z';
}

static bool wait_gone(pid_t pid)
{
    for (int i = 0; i < 500; i++) {
        if (gone(pid))
            return true;
        usleep(10000);
    }
    return false;
}

static void kill_session(pid_t pid)
{
    pid_t group = getpgid(pid);

    /* bg_run_detached forks twice: pid is in the group of its exited parent, not a leader */
    if (group > 0)
        (void)kill(-group, SIGKILL);
    assert_true(wait_gone(pid));
}

static void put_runtime(struct fixture *f, const char *name, pid_t pid, uint64_t start)
{
    struct bg_vm_paths p;
    struct bg_error err = {0};
    char sock[200];
    struct bg_store_runtime rt = {.pid = pid, .start_time = start};

    bg_vm_paths_init(f->rt, name, &p);
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
    assert_int_equal(bg_store_runtime_put(f->store, &rt, &err), 0);
    free(rt.agent_path);
    free(rt.control_path);
    bg_vm_paths_done(&p);
}

/* The row launch() writes before the spawn: no pid, no paths. */
static void put_runtime_unspawned(struct fixture *f, const char *name)
{
    struct bg_vm_paths p;
    struct bg_error err = {0};
    struct bg_store_runtime rt = {0};

    bg_vm_paths_init(f->rt, name, &p);
    assert_int_equal(bg_mkdir_p(p.run_dir, 0700, &err), 0);
    snprintf(rt.vm, sizeof(rt.vm), "%s", name);
    snprintf(rt.vmm, sizeof(rt.vmm), "qemu");
    snprintf(rt.accel, sizeof(rt.accel), "tcg");
    rt.run_dir = p.run_dir;
    rt.console_path = p.console;
    assert_int_equal(bg_store_runtime_put(f->store, &rt, &err), 0);
    bg_vm_paths_done(&p);
}

static void write_pidfile(struct fixture *f, const char *name, pid_t pid)
{
    char path[200], text[32];

    snprintf(path, sizeof(path), "%s/vms/%s/" BG_QEMU_PIDFILE, f->runtime_dir, name);
    int n = snprintf(text, sizeof(text), "%d\n", (int)pid);
    free(bg_test_write_file(path, text, (size_t)n));
}

/* ---- reconcile ---- */

static void test_reconcile(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_store_runtime rt;
    struct bg_vm vm;
    char path[200];
    uint64_t start;

    /* dead: its process exited; stopped, runtime files gone, console kept */
    add_vm(f, "dead", BG_VM_STATE_RUNNING);
    pid_t dead = spawn_sleeper(f, &start);
    kill(dead, SIGKILL);
    assert_true(wait_gone(dead));
    put_runtime(f, "dead", dead, start);
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

    assert_int_equal(bg_vm_reconcile(f->rt, &err), 0);

    assert_int_equal(vm_state(f, "dead", NULL), BG_VM_STATE_STOPPED);
    assert_int_equal(bg_store_runtime_get(f->store, "dead", &rt, &err), -ENOENT);
    snprintf(path, sizeof(path), "%s/vms/dead/qmp.sock", f->runtime_dir);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof(path), "%s/vms/dead/console.log", f->runtime_dir);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(vm_state(f, "reused", NULL), BG_VM_STATE_STOPPED);
    assert_int_equal(vm_state(f, "halfway", NULL), BG_VM_STATE_STOPPED);
    assert_true(wait_gone(live));
    assert_int_equal(vm_state(f, "early", &vm), BG_VM_STATE_FAILED);
    assert_non_null(strstr(vm.error, "bangerd stopped while the VM was starting"));
    assert_int_equal(vm_state(f, "idle", NULL), BG_VM_STATE_STOPPED);
}

static bool vm_exists(struct fixture *f, const char *name)
{
    struct bg_error err = {0};
    struct bg_vm vm;

    return bg_store_vm_get(f->store, name, &vm, &err) == 0;
}

/* A disk in VM name's state dir, for the deletion to remove. */
static char *put_disk(struct fixture *f, const char *name)
{
    struct bg_error err = {0};
    struct bg_vm_paths p;

    bg_vm_paths_init(f->rt, name, &p);
    assert_int_equal(bg_mkdir_p(p.state_dir, 0700, &err), 0);
    free(bg_test_write_file(p.overlay, "disk", 4));
    char *overlay = bg_strdup(p.overlay);
    bg_vm_paths_done(&p);
    return overlay;
}

/* A previous daemon's auto-remove VMs lost their clients with it: reconcile deletes them,
 * running or not, VMM and disks; the other VMs stay. */
static void test_reconcile_auto_remove(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    uint64_t start;

    add_vm_as(f, "run-live", BG_VM_STATE_RUNNING, true);
    pid_t live = spawn_sleeper(f, &start);
    put_runtime(f, "run-live", live, start);
    bg_autofree char *disk = put_disk(f, "run-live");
    add_vm_as(f, "run-idle", BG_VM_STATE_STOPPED, true);
    add_vm(f, "kept", BG_VM_STATE_STOPPED);

    assert_int_equal(bg_vm_reconcile(f->rt, &err), 0);

    assert_false(vm_exists(f, "run-live"));
    assert_true(wait_gone(live));
    assert_int_equal(access(disk, F_OK), -1);
    assert_false(vm_exists(f, "run-idle"));
    assert_true(vm_exists(f, "kept"));
}

/* A hold's release deletes its VM, disks and all; a hold whose VM was deleted meanwhile and
 * made again under the same name (another VM) leaves the new one alone. */
static void test_hold_release(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};

    add_vm_as(f, "run-a", BG_VM_STATE_STOPPED, true);
    bg_autofree char *disk = put_disk(f, "run-a");
    struct bg_vm_hold *h = bg_vm_hold_new(f->rt, "run-a");
    assert_true(vm_exists(f, "run-a"));
    bg_vm_hold_release(h);
    assert_false(vm_exists(f, "run-a"));
    assert_int_equal(access(disk, F_OK), -1);

    add_vm_as(f, "run-b", BG_VM_STATE_STOPPED, true);
    h = bg_vm_hold_new(f->rt, "run-b");
    assert_int_equal(bg_vm_destroy(f->rt, "run-b", true, &err), 0);
    add_vm(f, "run-b", BG_VM_STATE_STOPPED);
    bg_vm_hold_release(h);
    assert_true(vm_exists(f, "run-b"));

    /* a hold of a VM that is gone for good is released quietly */
    add_vm_as(f, "run-c", BG_VM_STATE_STOPPED, true);
    h = bg_vm_hold_new(f->rt, "run-c");
    assert_int_equal(bg_vm_destroy(f->rt, "run-c", true, &err), 0);
    bg_vm_hold_release(h);
    assert_false(vm_exists(f, "run-c"));
}

/* The daemon died between spawn and recording the pid: the driver finds the VMM from its
 * pidfile, but only one started for exactly this run dir: the VMM of VM "ab" is not VM "a"'s,
 * though ".../vms/a" is a prefix of its pidfile's path. */
static void test_reconcile_unrecorded(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    char pidfile[200];
    uint64_t start;

    /* "b": stopping, pid not recorded, its pidfile names its VMM: found and stopped */
    add_vm(f, "b", BG_VM_STATE_STOPPING);
    put_runtime_unspawned(f, "b");
    snprintf(pidfile, sizeof(pidfile), "%s/vms/b/" BG_QEMU_PIDFILE, f->runtime_dir);
    pid_t b = spawn_with_pidfile(f, pidfile, &start);
    pid_t b_group = getpgid(b); /* its sleep outlives the shell the ladder stops */
    write_pidfile(f, "b", b);
    /* "a": the same, but the pid in its pidfile is the VMM of "ab" */
    add_vm(f, "a", BG_VM_STATE_STOPPING);
    add_vm(f, "ab", BG_VM_STATE_STOPPED);
    put_runtime_unspawned(f, "a");
    snprintf(pidfile, sizeof(pidfile), "%s/vms/ab/" BG_QEMU_PIDFILE, f->runtime_dir);
    pid_t ab = spawn_with_pidfile(f, pidfile, &start);
    write_pidfile(f, "a", ab);

    assert_int_equal(bg_vm_reconcile(f->rt, &err), 0);

    assert_int_equal(vm_state(f, "b", NULL), BG_VM_STATE_STOPPED);
    assert_true(wait_gone(b));
    assert_int_equal(vm_state(f, "a", NULL), BG_VM_STATE_STOPPED);
    assert_false(gone(ab)); /* not a's: left alone */
    kill_session(ab);
    (void)kill(-b_group, SIGKILL);
}

/* ---- the watcher ---- */

/* A VM recorded running whose "VMM" is process pid, known to the runtime as if it had
 * started it. */
static void fake_running(struct fixture *f, const char *name, pid_t pid, uint64_t start)
{
    add_vm(f, name, BG_VM_STATE_RUNNING);
    put_runtime(f, name, pid, start);
    struct bg_vm_entry *e = bg_vm_lock(f->rt, name);
    assert_int_equal(bg_vm_entry_load_instance(f->rt, e), 0);
    bg_vm_unlock(f->rt, e);
}

/* A VMM that exits unasked: failed, the reason naming its pid, with the console's tail. */
static void test_watch_vmm_exits(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_vm_watch *w = NULL;
    struct bg_store_runtime row;
    char want[64], console[200];
    struct bg_vm vm;
    uint64_t start;

    pid_t pid = spawn_sleeper(f, &start);
    fake_running(f, "web1", pid, start);
    snprintf(console, sizeof(console), "%s/vms/web1/" BG_VMM_CONSOLE, f->runtime_dir);
    free(bg_test_write_file(console, "Kernel panic - not syncing\n", 27));
    bg_vm_watch_pass(f->rt);
    assert_int_equal(vm_state(f, "web1", NULL), BG_VM_STATE_RUNNING); /* alive: left as is */

    assert_int_equal(bg_vm_watch_start(f->rt, &w, &err), 0);
    kill(pid, SIGKILL);
    assert_true(wait_gone(pid));
    for (int i = 0; i < 500 && vm_state(f, "web1", NULL) == BG_VM_STATE_RUNNING; i++)
        usleep(10000);
    bg_vm_watch_stop(w);
    assert_int_equal(vm_state(f, "web1", &vm), BG_VM_STATE_FAILED);
    snprintf(want, sizeof(want), "its VMM (qemu, pid %d) exited while the VM was running",
             (int)pid);
    if (!strstr(vm.error, want) || !strstr(vm.error, "console tail:\nKernel panic"))
        fail_msg("error '%s'", vm.error);
    assert_int_equal(bg_store_runtime_get(f->store, "web1", &row, &err), -ENOENT);
    assert_null(f->rt->entries); /* nothing of it is left in the table */
}

/* ---- the console cap ---- */

static void write_all(int fd, char c, size_t len)
{
    char buf[4096];

    memset(buf, c, sizeof(buf));
    for (size_t done = 0; done < len;) {
        size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
        done += n;
    }
}

/* A running VM's console is trimmed to the cap by the watcher, while its writer (O_APPEND,
 * as Firecracker's stdout) goes on; the API still gets the newest bytes, never the hole. */
static void test_console_cap(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    char console[200], *text = NULL;
    size_t len = 0;
    struct stat st;
    uint64_t start;

    pid_t pid = spawn_sleeper(f, &start);
    fake_running(f, "web1", pid, start);
    snprintf(console, sizeof(console), "%s/vms/web1/" BG_VMM_CONSOLE, f->runtime_dir);
    int fd = open(console, O_WRONLY | O_APPEND | O_TRUNC | O_CLOEXEC);
    assert_true(fd >= 0);
    write_all(fd, 'a', 4 * CONSOLE_MAX);
    write_all(fd, 'b', CONSOLE_MAX / 2);
    bg_vm_watch_pass(f->rt);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, 4 * CONSOLE_MAX + CONSOLE_MAX / 2); /* a hole, not a cut */
    if ((uint64_t)st.st_blocks * 512 > CONSOLE_MAX + 8192)
        fail_msg("%lld bytes allocated after the trim", (long long)st.st_blocks * 512);
    /* the writer goes on at the end */
    write_all(fd, 'c', 10);
    close(fd);

    assert_int_equal(bg_vm_console_tail(f->rt, "web1", 16, &text, &len, &err), 0);
    assert_int_equal(len, 16);
    assert_memory_equal(text, "bbbbbbcccccccccc", 16);
    free(text);
    /* more than is kept: what is kept, from its first byte, no zeros of the hole */
    assert_int_equal(bg_vm_console_tail(f->rt, "web1", 3 * CONSOLE_MAX, &text, &len, &err), 0);
    assert_true(len >= CONSOLE_MAX && len < 3 * CONSOLE_MAX);
    assert_null(memchr(text, '\0', len));
    assert_int_equal(text[len - 1], 'c');
    free(text);
    kill(pid, SIGKILL);
    assert_true(wait_gone(pid));
}

/* ---- lifecycle refusals ---- */

static void add_vm_on(struct fixture *f, const char *name, const char *image)
{
    struct bg_vm vm = {.state = BG_VM_STATE_CREATED, .created_at = 1, .updated_at = 1};
    struct bg_error err = {0};

    snprintf(vm.spec.name, sizeof(vm.spec.name), "%s", name);
    snprintf(vm.spec.image, sizeof(vm.spec.image), "%s", image);
    vm.spec.vcpus = 1;
    vm.spec.memory_mib = 256;
    vm.spec.disk_mib = 512;
    assert_int_equal(bg_store_vm_insert(f->store, &vm, NULL, &err), 0);
}

static void test_create_refusals(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_vm vm = {.state = BG_VM_STATE_CREATED, .created_at = 1, .updated_at = 1};
    const char *field = NULL;

    snprintf(vm.spec.name, sizeof(vm.spec.name), "web1");
    snprintf(vm.spec.image, sizeof(vm.spec.image), "base");
    vm.spec.vcpus = 1;
    vm.spec.memory_mib = 256;
    vm.spec.disk_mib = 512;
    assert_int_equal(bg_vm_create(f->rt, &vm, &field, &err), 0);
    assert_err(bg_vm_create(f->rt, &vm, &field, &err), err, BG_ERR(BG_PROBLEM_VM_EXISTS),
               "a VM named 'web1' already exists");
    assert_string_equal(field, "name");

    snprintf(vm.spec.name, sizeof(vm.spec.name), "web2");
    snprintf(vm.spec.image, sizeof(vm.spec.image), "nosuch");
    assert_err(bg_vm_create(f->rt, &vm, &field, &err), err, BG_ERR(BG_PROBLEM_IMAGE_NOT_FOUND),
               "no image named 'nosuch'; 'banger image ls' lists them");
    assert_string_equal(field, "image");
    add_image(f, "slow", BG_IMAGE_STATE_IMPORTING);
    snprintf(vm.spec.image, sizeof(vm.spec.image), "slow");
    assert_err(bg_vm_create(f->rt, &vm, &field, &err), err, BG_ERR(BG_PROBLEM_IMAGE_NOT_READY),
               "image 'slow' is still importing");
    /* an image only Firecracker boots, under QEMU */
    struct bg_image img = {.state = BG_IMAGE_STATE_READY, .vmms = BG_VMM_FIRECRACKER};
    snprintf(img.name, sizeof(img.name), "fconly");
    snprintf(img.arch, sizeof(img.arch), "x86_64");
    img.files[BG_IMAGE_KERNEL].path = f->kernel;
    img.source = (char *)"import";
    assert_int_equal(bg_store_image_insert(f->store, &img, NULL, &err), 0);
    snprintf(vm.spec.image, sizeof(vm.spec.image), "fconly");
    assert_err(bg_vm_create(f->rt, &vm, &field, &err), err, BG_ERR(BG_PROBLEM_IMAGE_UNSUPPORTED),
               "image 'fconly' cannot boot under qemu");
    assert_string_equal(field, "image");
    assert_err(bg_vm_image_usable(f->rt, "fconly", &err), err, BG_ERR(BG_PROBLEM_IMAGE_UNSUPPORTED),
               "cannot boot under qemu");
    assert_int_equal(bg_vm_image_usable(f->rt, "base", &err), 0);
}

static void test_start_refusals(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_vm vm;

    assert_err(bg_vm_start(f->rt, "nope", NULL, &err), err, BG_ERR(BG_PROBLEM_VM_NOT_FOUND),
               "no VM named 'nope'");
    add_vm(f, "web1", BG_VM_STATE_RUNNING);
    assert_err(bg_vm_start(f->rt, "web1", NULL, &err), err, BG_ERR(BG_PROBLEM_VM_RUNNING),
               "already running");
    add_vm(f, "web2", BG_VM_STATE_STOPPING);
    assert_err(bg_vm_start(f->rt, "web2", NULL, &err), err, BG_ERR(BG_PROBLEM_VM_RUNNING),
               "is stopping");

    add_image(f, "slow", BG_IMAGE_STATE_IMPORTING);
    add_vm_on(f, "web3", "slow");
    assert_err(bg_vm_start(f->rt, "web3", NULL, &err), err, BG_ERR(BG_PROBLEM_IMAGE_NOT_READY),
               "image 'slow' is still importing");
    assert_int_equal(vm_state(f, "web3", NULL), BG_VM_STATE_CREATED);

    /* no usable VMM: refused before anything is recorded */
    add_vm(f, "web4", BG_VM_STATE_CREATED);
    const struct bg_vmm_driver *saved = f->rt->vmm;
    f->rt->vmm = NULL;
    assert_err(bg_vm_start(f->rt, "web4", NULL, &err), err, -ENXIO, "no usable VMM");
    f->rt->vmm = saved;
    assert_int_equal(vm_state(f, "web4", NULL), BG_VM_STATE_CREATED);

    /* a failure after the transition: vm_start_failed, recorded as failed with the reason */
    setenv("BANGER_AGENT", "/nonexistent/banger-agent", 1);
    int r = bg_vm_start(f->rt, "web4", NULL, &err);
    setenv("BANGER_AGENT", f->agent, 1);
    assert_err(r, err, BG_ERR(BG_PROBLEM_VM_START_FAILED), "BANGER_AGENT");
    assert_int_equal(vm_state(f, "web4", &vm), BG_VM_STATE_FAILED);
    assert_non_null(strstr(vm.error, "BANGER_AGENT"));
    assert_string_equal(vm.vmm, "qemu");
    assert_true(vm.started_at > 0);
    /* the overlay was made before the failure and is kept */
    char path[200];
    snprintf(path, sizeof(path), "%s/vms/web4/overlay.img", f->state_dir);
    assert_int_equal(access(path, F_OK), 0);
}

static void test_stop_destroy_acquire(void **state)
{
    struct fixture *f = *state;
    struct bg_agent_conn *c = NULL;
    struct bg_error err = {0};
    char path[200];

    add_vm(f, "web1", BG_VM_STATE_STOPPED);
    assert_err(bg_vm_agent_acquire(f->rt, "web1", &c, &err), err, BG_ERR(BG_PROBLEM_VM_NOT_RUNNING),
               "vm 'web1' is stopped, not running");
    assert_err(bg_vm_agent_acquire(f->rt, "nope", &c, &err), err, BG_ERR(BG_PROBLEM_VM_NOT_FOUND),
               "no VM named 'nope'");
    assert_int_equal(bg_vm_stop(f->rt, "web1", 1000, &err), 0); /* not running: as it is */
    assert_int_equal(vm_state(f, "web1", NULL), BG_VM_STATE_STOPPED);
    assert_err(bg_vm_stop(f->rt, "nope", 1000, &err), err, BG_ERR(BG_PROBLEM_VM_NOT_FOUND),
               "no VM named 'nope'");

    add_vm(f, "web2", BG_VM_STATE_RUNNING);
    assert_err(bg_vm_agent_acquire(f->rt, "web2", &c, &err), err, BG_ERR(BG_PROBLEM_VM_NOT_RUNNING),
               "agent is not connected");
    assert_err(bg_vm_destroy(f->rt, "web2", false, &err), err, BG_ERR(BG_PROBLEM_VM_RUNNING),
               "stop it first or delete it with force ('banger vm rm --force web2')");

    /* destroy leaves nothing: record, disks, run dir */
    struct bg_vm_paths p;
    bg_vm_paths_init(f->rt, "web1", &p);
    assert_int_equal(bg_mkdir_p(p.run_dir, 0700, &err), 0);
    assert_int_equal(bg_mkdir_p(p.state_dir, 0700, &err), 0);
    assert_int_equal(bg_vm_disk_ensure(p.overlay, 512, &err), 0);
    free(write_file(p.console, 5));
    assert_int_equal(bg_vm_destroy(f->rt, "web1", false, &err), 0);
    assert_int_equal(access(p.run_dir, F_OK), -1);
    assert_int_equal(access(p.state_dir, F_OK), -1);
    assert_err(bg_vm_get(f->rt, "web1", &(struct bg_vm){0}, &err), err,
               BG_ERR(BG_PROBLEM_VM_NOT_FOUND), "no VM named 'web1'");
    bg_vm_paths_done(&p);
    assert_err(bg_vm_destroy(f->rt, "web1", true, &err), err, BG_ERR(BG_PROBLEM_VM_NOT_FOUND),
               "no VM named 'web1'");

    /* forced: a running VM whose VMM is gone is stopped, then deleted */
    assert_int_equal(bg_vm_destroy(f->rt, "web2", true, &err), 0);
    snprintf(path, sizeof(path), "%s/vms/web2", f->runtime_dir);
    assert_int_equal(access(path, F_OK), -1);
}

/* ---- the lifecycle lock ---- */

struct locker {
    struct bg_vm_runtime *rt;
    const char *name;
    pthread_mutex_t m;
    pthread_cond_t c;
    bool locked;
};

static void *lock_and_unlock(void *arg)
{
    struct locker *l = arg;
    struct bg_vm_entry *e = bg_vm_lock(l->rt, l->name);

    bg_vm_unlock(l->rt, e);
    pthread_mutex_lock(&l->m);
    l->locked = true;
    pthread_cond_signal(&l->c);
    pthread_mutex_unlock(&l->m);
    return NULL;
}

/* A name longer than any VM's (PATCH /v1/vms/<64 bytes>): its lock is released, so the next
 * lock of the same name does not wait forever. */
static void test_lock_long_name(void **state)
{
    struct fixture *f = *state;
    struct locker l = {.rt = f->rt};
    struct bg_error err = {0};
    char name[BG_NAME_MAX + 2];
    struct timespec until;
    struct bg_vm vm;
    pthread_t t;

    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    l.name = name;
    struct bg_vm_entry *e = bg_vm_lock(f->rt, name);
    assert_err(bg_vm_get(f->rt, name, &vm, &err), err, BG_ERR(BG_PROBLEM_VM_NOT_FOUND),
               "no VM named");
    bg_vm_unlock(f->rt, e);
    assert_null(f->rt->entries); /* released and freed */

    pthread_mutex_init(&l.m, NULL);
    pthread_cond_init(&l.c, NULL);
    assert_int_equal(pthread_create(&t, NULL, lock_and_unlock, &l), 0);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&l.m);
    while (!l.locked && pthread_cond_timedwait(&l.c, &l.m, &until) == 0)
        ;
    bool locked = l.locked;
    pthread_mutex_unlock(&l.m);
    if (!locked)
        fail_msg("a second lock of a %zu-byte name waited 10 s", strlen(name));
    pthread_join(t, NULL);
    pthread_cond_destroy(&l.c);
    pthread_mutex_destroy(&l.m);
    /* the lifecycle's own locks of such a name: refused as not found, nothing left held */
    assert_err(bg_vm_stop(f->rt, name, 0, &err), err, BG_ERR(BG_PROBLEM_VM_NOT_FOUND),
               "no VM named");
    assert_err(bg_vm_start(f->rt, name, NULL, &err), err, BG_ERR(BG_PROBLEM_VM_NOT_FOUND),
               "no VM named");
    assert_null(f->rt->entries);
}

static void test_console_tail(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_vm_paths p;
    size_t len = 99;
    char *text = NULL;

    add_vm(f, "web1", BG_VM_STATE_CREATED);
    assert_int_equal(bg_vm_console_tail(f->rt, "web1", 100, &text, &len, &err), 0);
    assert_int_equal(len, 0); /* never booted */
    free(text);
    bg_vm_paths_init(f->rt, "web1", &p);
    assert_int_equal(bg_mkdir_p(p.run_dir, 0700, &err), 0);
    free(write_file(p.console, 52));
    assert_int_equal(bg_vm_console_tail(f->rt, "web1", 4, &text, &len, &err), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(text, "wxyz", 4);
    free(text);
    assert_int_equal(bg_vm_console_tail(f->rt, "web1", 1000, &text, &len, &err), 0);
    assert_int_equal(len, 52);
    free(text);
    bg_vm_paths_done(&p);
    assert_err(bg_vm_console_tail(f->rt, "nope", 10, &text, &len, &err), err,
               BG_ERR(BG_PROBLEM_VM_NOT_FOUND), "no VM named 'nope'");
}

static void test_vmm_json(void **state)
{
    struct fixture *f = *state;
    json_t *j = bg_vm_runtime_vmm_json(f->rt);

    assert_non_null(json_object_get(j, "reason"));
    if (f->rt->vmm) {
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
        cmocka_unit_test_setup_teardown(test_disk_grow_finished_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmdline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_initrd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runtime_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_unrecorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_auto_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_vmm_exits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_destroy_acquire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_long_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmm_json, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
