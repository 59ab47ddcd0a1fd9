/* SPDX-License-Identifier: MIT */
/* The VM state machine: create, start, stop, destroy. Transitions are serialized per VM and
 * recorded in the store before their side effects, so reconcile can always finish or undo
 * them. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/timefmt.h"
#include "guest/agentconn.h"
#include "host/fileio.h"
#include "store/store.h"
#include "vm/vm-internal.h"

#define AGENT_DEADLINE_KVM_MS 30000
#define AGENT_DEADLINE_TCG_MS 120000
#define POWEROFF_GRACE_FORCE_MS 0
#define CANCEL_POLL_MS 250

static bool is_active(enum bg_vm_state s)
{
    return s == BG_VM_STATE_STARTING || s == BG_VM_STATE_RUNNING || s == BG_VM_STATE_STOPPING;
}

int bg_vm_record_state(struct bg_vm_runtime *rt, struct bg_vm *vm, enum bg_vm_state state,
                       const char *error, struct bg_error *err)
{
    vm->state = state;
    if (error)
        snprintf(vm->error, sizeof(vm->error), "%s", error);
    vm->updated_at = time(NULL);
    return bg_store_vm_update(rt->store, vm, NULL, err);
}

int bg_vm_create(struct bg_vm_runtime *rt, const struct bg_vm *vm, const char **ret_field,
                 struct bg_error *err)
{
    int r;

    if (ret_field)
        *ret_field = "image";
    if ((r = bg_vm_image_usable(rt, vm->spec.image, err)) < 0)
        return r;
    r = bg_store_vm_insert(rt->store, vm, NULL, err);
    /* the image can go between the check and the insert */
    if (r == -ENOENT)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_IMAGE_NOT_FOUND), "no image named '%s'",
                            vm->spec.image);
    if (ret_field)
        *ret_field = r == -EEXIST ? "name" : NULL;
    if (r == -EEXIST)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_VM_EXISTS), "a VM named '%s' already exists",
                            vm->spec.name);
    return r;
}

/* One start attempt's state, so failure can undo exactly what was done. */
struct start_ctx {
    struct bg_vm_runtime *rt;
    struct bg_vm_entry *e;
    struct bg_vm vm;
    struct bg_image img;
    struct bg_vm_paths paths;
    struct bg_vmm_instance vi;
    const struct bg_vmm_driver *drv;
    char *initrd;
    bool spawned;
    const struct bg_vm_cancel *cancel; /* NULL: none */
};

static void start_ctx_done(struct start_ctx *c)
{
    bg_image_done(&c->img);
    bg_vm_paths_done(&c->paths);
    bg_vmm_instance_done(&c->vi);
    free(c->initrd);
}

/* The refusals, before anything is recorded. */
static int load_for_start(struct start_ctx *c, const char *name, struct bg_error *err)
{
    struct bg_vm_runtime *rt = c->rt;
    int r;

    if ((r = bg_vm_get(rt, name, &c->vm, err)) < 0)
        return r;
    if (c->vm.state == BG_VM_STATE_RUNNING)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_VM_RUNNING), "vm '%s' is already running", name);
    if (is_active(c->vm.state))
        return bg_error_set(err, BG_ERR(BG_PROBLEM_VM_RUNNING), "vm '%s' is %s", name,
                            bg_vm_state_name(c->vm.state));
    if ((r = bg_vm_image_load(rt, c->vm.spec.image, &c->img, err)) < 0)
        return r;
    if (!rt->vmm)
        return bg_error_set(err, -ENXIO, "no usable VMM: %s", rt->reason);
    c->drv = rt->vmm;
    bg_vm_paths_init(rt, name, &c->paths);
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
    bg_vm_run_files_remove(c->rt, c->paths.run_dir);
    if ((r = bg_vm_disk_ensure(c->paths.overlay, c->vm.spec.disk_mib, err)) < 0)
        return bg_error_prefix(err, r, "overlay disk");
    return bg_vm_initrd_prepare(c->rt->cache_dir, &c->img, &c->initrd, err);
}

static int record_runtime(struct start_ctx *c, struct bg_error *err)
{
    struct bg_store_runtime row = {
        .pid = c->vi.pid,
        .start_time = c->vi.start_time,
        .run_dir = c->paths.run_dir,
        .agent_path = c->vi.agent_path,
        .control_path = c->vi.control_path,
        .console_path = c->vi.console_path ? c->vi.console_path : c->paths.console,
    };

    snprintf(row.vm, sizeof(row.vm), "%s", c->vm.spec.name);
    snprintf(row.vmm, sizeof(row.vmm), "%s", c->drv->name);
    snprintf(row.accel, sizeof(row.accel), "%s", c->vi.accel[0] ? c->vi.accel : "tcg");
    return bg_store_runtime_put(c->rt->store, &row, err);
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

    /* recorded before the spawn (pid 0): a crash right after it still finds the run dir,
     * where the driver's find_unrecorded looks for the process */
    if ((r = record_runtime(c, err)) < 0)
        return r;
    if ((r = c->drv->start(&c->rt->settings, &l, &c->vi, err)) < 0)
        return r;
    c->spawned = true;
    return record_runtime(c, err);
}

/* A watcher of a start's cancel while the agent's HELLO is awaited on a socket: once the
 * cancel says stop it shuts the socket down (its own duplicate of it, so the number is never
 * one already reused), which ends the wait at once. */
struct hello_watch {
    const struct bg_vm_cancel *cancel;
    int fd;            /* a dup of the agent socket, owned */
    int stop_pipe[2];  /* written to end the watch */
    atomic_bool fired; /* the cancel said stop */
    pthread_t thread;
};

static void *hello_watch_main(void *arg)
{
    struct hello_watch *w = arg;
    struct pollfd p = {.fd = w->stop_pipe[0], .events = POLLIN};

    for (;;) {
        int n = poll(&p, 1, CANCEL_POLL_MS);
        if (n > 0 || (n < 0 && errno != EINTR))
            return NULL; /* the start is past its wait */
        if (w->cancel->fn(w->cancel->cls)) {
            atomic_store(&w->fired, true);
            (void)shutdown(w->fd, SHUT_RDWR);
            return NULL;
        }
    }
}

/* Start watching fd for c's cancel; false (no watch) without a cancel or when it cannot. */
static bool hello_watch_start(struct start_ctx *c, int fd, struct hello_watch *w)
{
    *w = (struct hello_watch){.cancel = c->cancel, .fd = -1, .stop_pipe = {-1, -1}};
    if (!c->cancel || !c->cancel->fn)
        return false;
    if ((w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
        return false;
    if (pipe2(w->stop_pipe, O_CLOEXEC) < 0 ||
        pthread_create(&w->thread, NULL, hello_watch_main, w) != 0) {
        (void)close(w->fd);
        if (w->stop_pipe[0] >= 0) {
            (void)close(w->stop_pipe[0]);
            (void)close(w->stop_pipe[1]);
        }
        return false;
    }
    return true;
}

/* End the watch; returns whether the cancel fired. */
static bool hello_watch_stop(struct hello_watch *w)
{
    (void)!write(w->stop_pipe[1], "x", 1);
    (void)pthread_join(w->thread, NULL);
    (void)close(w->stop_pipe[0]);
    (void)close(w->stop_pipe[1]);
    (void)close(w->fd);
    return atomic_load(&w->fired);
}

static int connect_agent(struct start_ctx *c, struct bg_error *err)
{
    bool kvm = !strcmp(c->vi.accel, "kvm");
    int64_t deadline = bg_now_ms() + (kvm ? AGENT_DEADLINE_KVM_MS : AGENT_DEADLINE_TCG_MS);
    struct bg_agent_conn *conn = NULL;
    int fd = -1;
    int r;

    struct hello_watch w;

    if ((r = c->drv->agent_connect(&c->vi, deadline, &fd, err)) < 0)
        return r;
    bool watched = hello_watch_start(c, fd, &w);
    r = bg_agent_conn_open(fd, deadline, &conn, err);
    if (watched && hello_watch_stop(&w)) {
        bg_agent_conn_free(conn); /* NULL unless the HELLO won the race */
        return bg_error_set(err, -ECANCELED, "its client went away during the boot");
    }
    if (r < 0)
        return bg_error_prefix(err, r,
                               bg_vmm_instance_alive(&c->vi) ? "agent did not answer"
                                                             : "the VMM exited during boot");
    bg_vm_entry_attach(c->rt, c->e, conn);
    return 0;
}

/* Undo a failed start: kill the VMM, drop runtime files, record failed with the VMM's log and
 * the console. err keeps the reason; the code becomes vm_start_failed. */
static int start_fail(struct start_ctx *c, struct bg_error *err)
{
    char msg[BG_VM_ERROR_MAX];
    struct bg_error e2;

    if (c->spawned)
        (void)bg_vmm_stop(c->drv, &c->vi, POWEROFF_GRACE_FORCE_MS, NULL);
    bg_vm_entry_forget(c->rt, c->e);
    bg_vm_failure_text(c->drv, &c->paths, err->msg, msg, sizeof(msg));
    if (bg_vm_record_state(c->rt, &c->vm, BG_VM_STATE_FAILED, msg, &e2) < 0)
        bg_log_error("start vm '%s': record failure: %s", c->vm.spec.name, e2.msg);
    bg_log_warn("start vm '%s': %s", c->vm.spec.name, err->msg);
    err->code = BG_ERR(BG_PROBLEM_VM_START_FAILED);
    return err->code;
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
    if ((r = bg_vm_record_state(c->rt, &c->vm, BG_VM_STATE_STARTING, "", err)) < 0)
        return r;
    if (prepare_files(c, err) < 0)
        return start_fail(c, err);
    t->disks_ms = bg_now_ms() - t0;
    int64_t t1 = bg_now_ms();
    if (launch(c, err) < 0)
        return start_fail(c, err);
    t->vmm_start_ms = bg_now_ms() - t1;
    if (connect_agent(c, err) < 0)
        return start_fail(c, err);
    t->boot_ms = bg_now_ms() - t1;
    c->e->drv = c->drv;
    c->e->vi = c->vi;
    memset(&c->vi, 0, sizeof(c->vi)); /* the entry owns the instance now */
    return bg_vm_record_state(c->rt, &c->vm, BG_VM_STATE_RUNNING, "", err);
}

int bg_vm_start(struct bg_vm_runtime *rt, const char *name, struct bg_vm_timings *ret_timings,
                struct bg_error *err)
{
    return bg_vm_start_cancellable(rt, name, NULL, ret_timings, err);
}

int bg_vm_start_cancellable(struct bg_vm_runtime *rt, const char *name,
                            const struct bg_vm_cancel *cancel, struct bg_vm_timings *ret_timings,
                            struct bg_error *err)
{
    struct start_ctx c = {.rt = rt, .cancel = cancel};
    struct bg_vm_timings t = {0};
    struct bg_error local;

    if (!err) /* a failed start's reason is recorded: it needs a message */
        err = &local;
    c.e = bg_vm_lock(rt, name);
    int r = start_locked(&c, name, &t, err);
    bg_vm_unlock(rt, c.e);
    start_ctx_done(&c);
    if (r == 0) {
        bg_log_info("start vm '%s': running (disks %lld ms, vmm %lld ms, agent ready %lld ms)",
                    name, (long long)t.disks_ms, (long long)t.vmm_start_ms, (long long)t.boot_ms);
        if (ret_timings)
            *ret_timings = t;
    }
    return r;
}

/* Stop what e runs: agent POWEROFF, then the stop ladder. Leaves e idle. */
static int stop_instance(struct bg_vm_runtime *rt, struct bg_vm_entry *e, int timeout_ms,
                         struct bg_error *err)
{
    struct bg_vm_conn_ref *ref;
    struct bg_error e2;
    int r = 0;

    if (!e->drv)
        (void)bg_vm_entry_load_instance(rt, e);
    bg_vm_entry_detach(rt, e, &ref);
    if (ref && timeout_ms > 0 &&
        bg_agent_conn_poweroff(ref->conn, e->drv && e->drv->stop_by_reboot, &e2) < 0)
        bg_log_info("stop vm '%s': agent poweroff: %s; forcing", e->name, e2.msg);
    if (e->drv)
        r = bg_vmm_stop(e->drv, &e->vi, ref ? timeout_ms : 0, err);
    bg_vm_conn_unref(rt, ref);
    return r;
}

static int stop_locked(struct bg_vm_runtime *rt, struct bg_vm_entry *e, struct bg_vm *vm,
                       int timeout_ms, struct bg_error *err)
{
    struct bg_vm_paths p;
    int r;

    if ((r = bg_vm_record_state(rt, vm, BG_VM_STATE_STOPPING, NULL, err)) < 0)
        return r;
    if ((r = stop_instance(rt, e, timeout_ms, err)) < 0) {
        (void)bg_vm_record_state(rt, vm, BG_VM_STATE_FAILED, err->msg, NULL);
        return r;
    }
    bg_vm_entry_forget(rt, e);
    /* a last trim: the watcher may not have seen the final burst of output */
    bg_vm_paths_init(rt, vm->spec.name, &p);
    (void)bg_vm_console_trim(p.console, rt->console_max_bytes);
    bg_vm_paths_done(&p);
    return bg_vm_record_state(rt, vm, BG_VM_STATE_STOPPED, NULL, err);
}

int bg_vm_stop(struct bg_vm_runtime *rt, const char *name, int timeout_ms, struct bg_error *err)
{
    struct bg_vm_entry *e = bg_vm_lock(rt, name);
    struct bg_vm vm;
    int64_t t0 = bg_now_ms();
    int r = bg_vm_get(rt, name, &vm, err);

    if (r == 0 && is_active(vm.state))
        r = stop_locked(rt, e, &vm, timeout_ms, err);
    bg_vm_unlock(rt, e);
    if (r == 0)
        bg_log_info("stop vm '%s': stopped in %lld ms", name, (long long)(bg_now_ms() - t0));
    return r;
}

int bg_vm_destroy_locked(struct bg_vm_runtime *rt, struct bg_vm_entry *e, struct bg_vm *vm,
                         bool force, struct bg_error *err)
{
    const char *name = vm->spec.name;
    struct bg_vm_paths p = {0};
    int r = 0;

    if (is_active(vm->state) && !force)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_VM_RUNNING),
                            "vm '%s' is %s; stop it first or delete it with force ('banger vm rm "
                            "--force %s')",
                            name, bg_vm_state_name(vm->state), name);
    /* forced: the disks go too, so a clean guest shutdown buys nothing */
    if (is_active(vm->state))
        r = stop_locked(rt, e, vm, 0, err);
    if (r == 0) {
        bg_vm_paths_init(rt, name, &p);
        if ((r = bg_rm_tree(p.run_dir, err)) == 0)
            r = bg_rm_tree(p.state_dir, err);
    }
    if (r == 0)
        r = bg_store_vm_delete(rt->store, name, NULL, err);
    if (r == 0)
        bg_vm_holds_void(rt, name);
    bg_vm_paths_done(&p);
    return r;
}

int bg_vm_destroy(struct bg_vm_runtime *rt, const char *name, bool force, struct bg_error *err)
{
    struct bg_vm_entry *e = bg_vm_lock(rt, name);
    struct bg_vm vm;
    int r = bg_vm_get(rt, name, &vm, err);

    if (r == 0)
        r = bg_vm_destroy_locked(rt, e, &vm, force, err);
    bg_vm_unlock(rt, e);
    return r;
}
