/* SPDX-License-Identifier: MIT */
/* The VM state machine: start, stop, destroy. Transitions are serialized per VM and recorded
 * in the store before their side effects, so reconcile can always finish or undo them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/timefmt.h"
#include "guest/agentconn.h"
#include "host/fileio.h"
#include "rest/daemon.h"
#include "vm/vm-internal.h"

#define AGENT_DEADLINE_KVM_MS 30000
#define AGENT_DEADLINE_TCG_MS 120000
#define CONSOLE_TAIL_IN_ERROR 700
#define VMM_LOG_TAIL_IN_ERROR 300
#define POWEROFF_GRACE_FORCE_MS 0

static bool is_active(enum bg_vm_state s)
{
    return s == BG_VM_STATE_STARTING || s == BG_VM_STATE_RUNNING || s == BG_VM_STATE_STOPPING;
}

/* Record state (and error, "" to clear) before anything else happens. */
static int set_state(struct bg_daemon *d, struct bg_vm *vm, enum bg_vm_state state,
                     const char *error, struct bg_error *err)
{
    vm->state = state;
    if (error)
        snprintf(vm->error, sizeof(vm->error), "%s", error);
    vm->updated_at = time(NULL);
    return bg_store_vm_update(d->store, vm, NULL, err);
}

/* One start attempt's state, so failure can undo exactly what was done. */
struct start_ctx {
    struct bg_daemon *d;
    struct bg_vm_entry *e;
    struct bg_vm vm;
    struct bg_image img;
    struct bg_vm_paths paths;
    struct bg_vmm_instance vi;
    const struct bg_vmm_driver *drv;
    char *initrd;
    bool spawned;
};

static void start_ctx_done(struct start_ctx *c)
{
    bg_image_done(&c->img);
    bg_vm_paths_done(&c->paths);
    bg_vmm_instance_done(&c->vi);
    free(c->initrd);
}

static int load_for_start(struct start_ctx *c, const char *name, struct bg_error *err)
{
    struct bg_daemon *d = c->d;
    int r;

    if ((r = bg_store_vm_get(d->store, name, &c->vm, err)) < 0)
        return r;
    if (c->vm.state == BG_VM_STATE_RUNNING)
        return bg_error_set(err, -EALREADY, "vm '%s' is already running", name);
    if (is_active(c->vm.state))
        return bg_error_set(err, -EBUSY, "vm '%s' is %s", name, bg_vm_state_name(c->vm.state));
    if ((r = bg_store_image_get(d->store, c->vm.spec.image, &c->img, err)) < 0)
        return r;
    if (c->img.state != BG_IMAGE_STATE_READY)
        return bg_error_set(err, -ENOMEDIUM, "image '%s' of vm '%s' is %s, not ready", c->img.name,
                            name, bg_image_state_name(c->img.state));
    if (!d->runtime->vmm)
        return bg_error_set(err, -ENXIO, "no usable VMM: %s", d->runtime->reason);
    if ((r = bg_vm_image_check(d->runtime, &c->img, err)) < 0)
        return r;
    c->drv = d->runtime->vmm;
    bg_vm_paths_init(d->cfg, name, &c->paths);
    return 0;
}

/* Run dir, disks and initrd. */
static int prepare_files(struct start_ctx *c, struct bg_error *err)
{
    int r;

    if ((r = bg_mkdir_p(c->paths.run_dir, 0700, err)) < 0 ||
        (r = bg_mkdir_p(c->paths.state_dir, 0700, err)) < 0)
        return r;
    (void)chmod(c->paths.run_dir, 0700);
    bg_vm_run_files_remove(c->paths.run_dir);
    if ((r = bg_vm_disk_ensure(c->paths.overlay, c->vm.spec.disk_mib, err)) < 0)
        return bg_error_prefix(err, r, "overlay disk");
    return bg_vm_initrd_prepare(c->d->cfg, &c->img, &c->initrd, err);
}

static int record_runtime(struct start_ctx *c, struct bg_error *err)
{
    struct bg_store_runtime rt = {
        .pid = c->vi.pid,
        .start_time = c->vi.start_time,
        .run_dir = c->paths.run_dir,
        .agent_path = c->vi.agent_path,
        .control_path = c->vi.control_path,
        .console_path = c->vi.console_path ? c->vi.console_path : c->paths.console,
    };

    snprintf(rt.vm, sizeof(rt.vm), "%s", c->vm.spec.name);
    snprintf(rt.vmm, sizeof(rt.vmm), "%s", c->drv->name);
    snprintf(rt.accel, sizeof(rt.accel), "%s", c->vi.accel[0] ? c->vi.accel : "tcg");
    return bg_store_runtime_put(c->d->store, &rt, err);
}

/* The image's kernel for this driver: its vmlinux for one that boots only ELF kernels. */
static const char *kernel_for(const struct bg_image *img, const struct bg_vmm_driver *drv)
{
    const char *vmlinux = img->files[BG_IMAGE_VMLINUX].path;

    return drv->elf_kernel_only && vmlinux ? vmlinux : img->files[BG_IMAGE_KERNEL].path;
}

static int launch(struct start_ctx *c, struct bg_error *err)
{
    const char *rootfs = c->img.files[BG_IMAGE_ROOTFS].path;
    bool work = access(c->paths.workdisk, F_OK) == 0;
    bg_autofree char *cmdline = bg_vm_cmdline(&c->vm, rootfs != NULL, work);
    struct bg_vmm_launch l = {
        .id = c->vm.spec.name,
        .kernel = kernel_for(&c->img, c->drv),
        .initrd = c->initrd,
        .cmdline = cmdline,
        .rootfs = rootfs,
        .overlay = c->paths.overlay,
        .workdisk = work ? c->paths.workdisk : NULL,
        .vcpus = c->vm.spec.vcpus,
        .memory_mib = c->vm.spec.memory_mib,
        .run_dir = c->paths.run_dir,
        .nat = c->vm.spec.nat,
    };
    int r;

    /* recorded before the spawn (pid 0): a crash right after it still finds the run dir */
    if ((r = record_runtime(c, err)) < 0)
        return r;
    if ((r = c->drv->start(&l, &c->vi, err)) < 0)
        return r;
    c->spawned = true;
    return record_runtime(c, err);
}

static int connect_agent(struct start_ctx *c, struct bg_error *err)
{
    bool kvm = !strcmp(c->vi.accel, "kvm");
    int64_t deadline = bg_now_ms() + (kvm ? AGENT_DEADLINE_KVM_MS : AGENT_DEADLINE_TCG_MS);
    struct bg_agent_conn *conn = NULL;
    int fd = -1;
    int r;

    if ((r = c->drv->agent_connect(&c->vi, deadline, &fd, err)) < 0)
        return r;
    if ((r = bg_agent_conn_open(fd, deadline, &conn, err)) < 0)
        return bg_error_prefix(err, r,
                               bg_vmm_instance_alive(&c->vi) ? "agent did not answer"
                                                             : "the VMM exited during boot");
    bg_vm_entry_attach(c->d->runtime, c->e, conn);
    return 0;
}

/* Undo a failed start: kill the VMM, drop runtime files, record failed with the console. */
static void start_fail(struct start_ctx *c, struct bg_error *err)
{
    char tail[CONSOLE_TAIL_IN_ERROR + 1];
    char msg[BG_VM_ERROR_MAX];
    struct bg_vm_conn_ref *ref;
    struct bg_error e2;

    bg_vm_entry_detach(c->d->runtime, c->e, &ref);
    bg_vm_conn_unref(c->d->runtime, ref);
    if (c->spawned)
        (void)c->drv->stop(&c->vi, POWEROFF_GRACE_FORCE_MS, NULL);
    c->e->drv = NULL;
    if (c->paths.run_dir)
        bg_vm_run_files_remove(c->paths.run_dir);
    (void)bg_store_runtime_delete(c->d->store, c->vm.spec.name, NULL);
    /* the VMM's own complaints (bad kernel, locked disk) first: they are short and decisive */
    bg_autofree char *log = bg_asprintf("%s/%s.log", c->paths.run_dir, c->drv->name);
    size_t n = (size_t)snprintf(msg, sizeof(msg), "%s", err->msg);
    bg_file_tail_text(log, tail, VMM_LOG_TAIL_IN_ERROR + 1);
    if (tail[0] && n < sizeof(msg))
        n += (size_t)snprintf(msg + n, sizeof(msg) - n, "\n%s log tail:\n%s", c->drv->name, tail);
    bg_file_tail_text(c->paths.console, tail, sizeof(tail));
    if (tail[0] && n < sizeof(msg))
        snprintf(msg + n, sizeof(msg) - n, "\nconsole tail:\n%s", tail);
    if (set_state(c->d, &c->vm, BG_VM_STATE_FAILED, msg, &e2) < 0)
        bg_log_error("start vm '%s': record failure: %s", c->vm.spec.name, e2.msg);
    bg_log_warn("start vm '%s': %s", c->vm.spec.name, err->msg);
}

static int start_locked(struct start_ctx *c, const char *name, struct bg_vm_timings *t,
                        struct bg_error *err)
{
    int64_t t0 = bg_now_ms();
    int r;

    if ((r = load_for_start(c, name, err)) < 0)
        return r;
    snprintf(c->vm.vmm, sizeof(c->vm.vmm), "%s", c->drv->name);
    c->vm.started_at = time(NULL);
    if ((r = set_state(c->d, &c->vm, BG_VM_STATE_STARTING, "", err)) < 0)
        return r;
    if ((r = prepare_files(c, err)) < 0)
        goto fail;
    t->disks_ms = bg_now_ms() - t0;
    int64_t t1 = bg_now_ms();
    if ((r = launch(c, err)) < 0)
        goto fail;
    t->vmm_start_ms = bg_now_ms() - t1;
    if ((r = connect_agent(c, err)) < 0)
        goto fail;
    t->boot_ms = bg_now_ms() - t1;
    c->e->drv = c->drv;
    c->e->vi = c->vi;
    memset(&c->vi, 0, sizeof(c->vi)); /* the entry owns the instance now */
    if ((r = set_state(c->d, &c->vm, BG_VM_STATE_RUNNING, "", err)) < 0)
        return r;
    return 0;
fail:
    start_fail(c, err);
    return r;
}

int bg_vm_start(struct bg_daemon *d, const char *name, struct bg_vm_timings *ret_timings,
                struct bg_error *err)
{
    struct start_ctx c = {.d = d};
    struct bg_vm_timings t = {0};

    c.e = bg_vm_entry_lock(d->runtime, name);
    int r = start_locked(&c, name, &t, err);
    bg_vm_entry_unlock(d->runtime, c.e);
    start_ctx_done(&c);
    if (r == 0) {
        bg_log_info("start vm '%s': running (disks %lld ms, vmm %lld ms, agent ready %lld ms)",
                    name, (long long)t.disks_ms, (long long)t.vmm_start_ms, (long long)t.boot_ms);
        if (ret_timings)
            *ret_timings = t;
    }
    return r;
}

/* Stop what e runs: agent POWEROFF, then the driver's wait-and-force. Leaves e idle. */
static int stop_instance(struct bg_daemon *d, struct bg_vm_entry *e, int timeout_ms,
                         struct bg_error *err)
{
    struct bg_vm_conn_ref *ref;
    struct bg_error e2;
    int r = 0;

    if (!e->drv)
        (void)bg_vm_entry_load_instance(d, e);
    bg_vm_entry_detach(d->runtime, e, &ref);
    if (ref && timeout_ms > 0 &&
        bg_agent_conn_poweroff(ref->conn, e->drv && e->drv->stop_by_reboot, &e2) < 0)
        bg_log_info("stop vm '%s': agent poweroff: %s; forcing", e->name, e2.msg);
    if (e->drv)
        r = e->drv->stop(&e->vi, ref ? timeout_ms : 0, err);
    bg_vm_conn_unref(d->runtime, ref);
    if (r < 0)
        return r;
    e->drv = NULL;
    bg_vmm_instance_done(&e->vi);
    return 0;
}

static int stop_locked(struct bg_daemon *d, struct bg_vm_entry *e, struct bg_vm *vm, int timeout_ms,
                       struct bg_error *err)
{
    struct bg_vm_paths p;
    int r;

    if ((r = set_state(d, vm, BG_VM_STATE_STOPPING, NULL, err)) < 0)
        return r;
    if ((r = stop_instance(d, e, timeout_ms, err)) < 0) {
        (void)set_state(d, vm, BG_VM_STATE_FAILED, err->msg, NULL);
        return r;
    }
    bg_vm_paths_init(d->cfg, vm->spec.name, &p);
    bg_vm_run_files_remove(p.run_dir);
    bg_vm_paths_done(&p);
    (void)bg_store_runtime_delete(d->store, vm->spec.name, NULL);
    return set_state(d, vm, BG_VM_STATE_STOPPED, NULL, err);
}

int bg_vm_stop(struct bg_daemon *d, const char *name, int timeout_ms, struct bg_error *err)
{
    struct bg_vm_entry *e = bg_vm_entry_lock(d->runtime, name);
    struct bg_vm vm;
    int64_t t0 = bg_now_ms();
    int r = bg_store_vm_get(d->store, name, &vm, err);

    if (r == 0 && is_active(vm.state))
        r = stop_locked(d, e, &vm, timeout_ms, err);
    bg_vm_entry_unlock(d->runtime, e);
    if (r == 0)
        bg_log_info("stop vm '%s': stopped in %lld ms", name, (long long)(bg_now_ms() - t0));
    return r;
}

int bg_vm_destroy(struct bg_daemon *d, const char *name, bool force, struct bg_error *err)
{
    struct bg_vm_entry *e = bg_vm_entry_lock(d->runtime, name);
    struct bg_vm_paths p = {0};
    struct bg_vm vm;
    int r = bg_store_vm_get(d->store, name, &vm, err);

    if (r == 0 && is_active(vm.state) && !force)
        r = bg_error_set(err, -EBUSY, "vm '%s' is %s; stop it first or delete with force", name,
                         bg_vm_state_name(vm.state));
    /* forced: the disks go too, so a clean guest shutdown buys nothing */
    if (r == 0 && is_active(vm.state))
        r = stop_locked(d, e, &vm, 0, err);
    if (r == 0) {
        bg_vm_paths_init(d->cfg, name, &p);
        if ((r = bg_rm_tree(p.run_dir, err)) == 0)
            r = bg_rm_tree(p.state_dir, err);
    }
    if (r == 0)
        r = bg_store_vm_delete(d->store, name, NULL, err);
    bg_vm_paths_done(&p);
    bg_vm_entry_unlock(d->runtime, e);
    return r;
}

int bg_vm_console_tail(struct bg_daemon *d, const char *name, size_t max_bytes, char **ret,
                       size_t *ret_len, struct bg_error *err)
{
    struct bg_vm_paths p;
    struct bg_vm vm;
    struct stat st;
    int r;

    if ((r = bg_store_vm_get(d->store, name, &vm, err)) < 0)
        return r;
    bg_vm_paths_init(d->cfg, name, &p);
    bg_autoclose int fd = open(p.console, O_RDONLY | O_CLOEXEC);
    bg_vm_paths_done(&p);
    *ret = bg_malloc(max_bytes + 1);
    *ret_len = 0;
    if (fd < 0 || fstat(fd, &st) < 0)
        return 0;
    off_t from = st.st_size > (off_t)max_bytes ? st.st_size - (off_t)max_bytes : 0;
    ssize_t n = pread(fd, *ret, max_bytes, from);
    *ret_len = n > 0 ? (size_t)n : 0;
    return 0;
}
