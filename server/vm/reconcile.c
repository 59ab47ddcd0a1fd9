/* SPDX-License-Identifier: MIT */
/* At daemon start: adopt the VMM processes that outlived the previous daemon, clean up after
 * the ones that did not. Disks are never touched here. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/parse.h"
#include "banger/timefmt.h"
#include "guest/agentconn.h"
#include "host/fileio.h"
#include "host/proc.h"
#include "rest/daemon.h"
#include "vm/vm-internal.h"
#include "vmm/qemu/qemu.h"

#define ADOPT_AGENT_MS 10000

int bg_vm_entry_load_instance(struct bg_daemon *d, struct bg_vm_entry *e)
{
    struct bg_store_runtime rt = {0};
    int r = bg_store_runtime_get(d->store, e->name, &rt, NULL);

    if (r < 0)
        return r;
    const struct bg_vmm_driver *drv = bg_vmm_find(rt.vmm);
    if (!drv) {
        bg_store_runtime_done(&rt);
        return -ENOENT;
    }
    bg_vmm_instance_done(&e->vi);
    e->vi = (struct bg_vmm_instance){
        .pid = (pid_t)rt.pid,
        .start_time = rt.start_time,
        .agent_path = bg_steal_ptr(&rt.agent_path),
        .control_path = bg_steal_ptr(&rt.control_path),
        .console_path = bg_steal_ptr(&rt.console_path),
    };
    snprintf(e->vi.accel, sizeof(e->vi.accel), "%s", rt.accel);
    e->drv = drv;
    bg_store_runtime_done(&rt);
    return 0;
}

/* The daemon died between spawning the VMM and recording its pid: find it by its pidfile, and
 * believe the pidfile only if that process's command line names this run dir. */
static void find_unrecorded(struct bg_vm_entry *e, const char *run_dir)
{
    bg_autofree char *pidfile = bg_asprintf("%s/" BG_QEMU_PIDFILE, run_dir);
    char buf[4096], state;
    uint64_t pid, st;

    bg_file_tail_text(pidfile, buf, 32);
    buf[strcspn(buf, "\n")] = '\0';
    if (!buf[0] || bg_parse_u64(buf, 1, 1u << 22, &pid, NULL) < 0 ||
        bg_proc_stat((pid_t)pid, &state, &st, NULL) < 0)
        return;
    bg_autofree char *cmdpath = bg_asprintf("/proc/%llu/cmdline", (unsigned long long)pid);
    bg_autoclose int fd = open(cmdpath, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return;
    buf[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (!buf[i])
            buf[i] = ' ';
    if (!strstr(buf, run_dir))
        return;
    e->vi.pid = (pid_t)pid;
    e->vi.start_time = st;
}

static void forget(struct bg_daemon *d, struct bg_vm_entry *e, const char *run_dir)
{
    bg_vm_run_files_remove(run_dir);
    (void)bg_store_runtime_delete(d->store, e->name, NULL);
    e->drv = NULL;
    bg_vmm_instance_done(&e->vi);
}

static int adopt_agent(struct bg_daemon *d, struct bg_vm_entry *e, struct bg_error *err)
{
    int64_t deadline = bg_now_ms() + ADOPT_AGENT_MS;
    struct bg_agent_conn *conn = NULL;
    int fd = -1;
    int r;

    if ((r = e->drv->agent_connect(&e->vi, deadline, &fd, err)) < 0)
        return r;
    if ((r = bg_agent_conn_open(fd, deadline, &conn, err)) < 0)
        return r;
    bg_vm_entry_attach(d->runtime, e, conn);
    return 0;
}

/* One VM found active in the store. */
static void reconcile_one(struct bg_daemon *d, struct bg_vm *vm)
{
    struct bg_vm_entry *e = bg_vm_entry_lock(d->runtime, vm->spec.name);
    struct bg_vm_paths p;
    struct bg_error err;
    enum bg_vm_state was = vm->state;

    bg_vm_paths_init(d->cfg, vm->spec.name, &p);
    bool known = bg_vm_entry_load_instance(d, e) == 0;
    if (known && e->vi.pid == 0)
        find_unrecorded(e, p.run_dir);
    bool alive = known && bg_vmm_instance_alive(&e->vi);

    if (alive && was != BG_VM_STATE_STOPPING && adopt_agent(d, e, &err) == 0) {
        vm->state = BG_VM_STATE_RUNNING;
        bg_log_info("reconcile vm '%s': adopted pid %d (was %s)", vm->spec.name, (int)e->vi.pid,
                    bg_vm_state_name(was));
    } else if (alive && was == BG_VM_STATE_RUNNING) {
        /* keep it: the guest runs; the agent may come back (acquire says it is missing) */
        vm->state = BG_VM_STATE_RUNNING;
        bg_log_warn("reconcile vm '%s': pid %d runs but its agent did not answer: %s",
                    vm->spec.name, (int)e->vi.pid, err.msg);
    } else {
        if (alive)
            (void)e->drv->stop(&e->vi, 0, NULL);
        forget(d, e, p.run_dir);
        vm->state = was == BG_VM_STATE_STARTING ? BG_VM_STATE_FAILED : BG_VM_STATE_STOPPED;
        if (was == BG_VM_STATE_STARTING)
            snprintf(vm->error, sizeof(vm->error), "bangerd stopped while the VM was starting");
        bg_log_warn("reconcile vm '%s': %s; now %s", vm->spec.name,
                    alive ? "stopped its VMM" : "its VMM is gone", bg_vm_state_name(vm->state));
    }
    vm->updated_at = time(NULL);
    if (bg_store_vm_update(d->store, vm, NULL, &err) < 0)
        bg_log_error("reconcile vm '%s': %s", vm->spec.name, err.msg);
    bg_vm_paths_done(&p);
    bg_vm_entry_unlock(d->runtime, e);
}

int bg_vm_reconcile(struct bg_daemon *d, struct bg_error *err)
{
    struct bg_vm *vms = NULL;
    size_t n = 0;
    int r;

    if ((r = bg_store_vm_list(d->store, NULL, &vms, &n, err)) < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        enum bg_vm_state s = vms[i].state;
        if (s == BG_VM_STATE_STARTING || s == BG_VM_STATE_RUNNING || s == BG_VM_STATE_STOPPING)
            reconcile_one(d, &vms[i]);
    }
    free(vms);
    return 0;
}
