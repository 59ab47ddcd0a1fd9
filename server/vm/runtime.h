/* SPDX-License-Identifier: MIT */
/* Running VMs in the daemon: the lifecycle (start, stop, destroy, reconcile), the per-VM
 * serialization of transitions, and borrowing a running VM's agent connection. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "banger/error.h"

struct bg_daemon;
struct bg_config;
struct bg_agent_conn;
struct bg_vm_runtime;
struct bg_image;

/* How long the steps of one start took, reported in the start response as "timings". */
struct bg_vm_timings {
    int64_t disks_ms;     /* overlay and initrd ready */
    int64_t vmm_start_ms; /* VMM process up, sockets created */
    int64_t boot_ms;      /* from VMM start to the agent's HELLO */
};

/* The running-VM table and the chosen VMM (selected once from cfg->vmm; when none is usable
 * the daemon still serves records and every start fails with the reason). Never fails. */
struct bg_vm_runtime *bg_vm_runtime_new(const struct bg_config *cfg);
/* Drop every agent connection and the table. VMM processes are left running: the next
 * daemon adopts them (reconcile). Accepts NULL. */
void bg_vm_runtime_free(struct bg_vm_runtime *rt);

/* The VMM choice for GET /v1/system/info: {"selected","accel","reason","version"} (selected,
 * accel and version are null when no VMM is usable). New reference. */
json_t *bg_vm_runtime_vmm_json(const struct bg_vm_runtime *rt);

/* 0 when the selected VMM can boot img (or when none is usable: starting says why);
 * -EMEDIUMTYPE with err saying what to do when img's vmms lack it. */
int bg_vm_image_check(const struct bg_vm_runtime *rt, const struct bg_image *img,
                      struct bg_error *err);

/* At daemon start, before serving: every VM recorded as starting, running or stopping is
 * adopted when its VMM process still runs (the agent is reconnected; state running), else
 * marked stopped (or failed when it was starting) and its runtime files removed. Disks are
 * kept. Per-VM problems are logged, not returned; -errno only when the store fails. */
int bg_vm_reconcile(struct bg_daemon *d, struct bg_error *err);

/* Start the thread that notices VMM processes ending on their own (guest poweroff, crash) and
 * records their VMs as stopped, checking twice a second. bg_vm_runtime_free stops it. */
int bg_vm_watch_start(struct bg_daemon *d, struct bg_error *err);

/* Borrow the agent connection of a running VM. -ENOENT: no such VM; -EAGAIN: not running
 * (err says the state). Release exactly once. Safe against a concurrent stop: the connection
 * stays valid until the last release; calls on it then fail with -ECONNRESET. */
int bg_vm_agent_acquire(struct bg_daemon *d, const char *name, struct bg_agent_conn **ret,
                        struct bg_error *err);
void bg_vm_agent_release(struct bg_daemon *d, struct bg_agent_conn *c);

/* Boot VM name: created/stopped/failed -> starting -> running, or failed with the reason and
 * the console's tail in the record's error (and in err). Returns 0; -ENOENT no such VM;
 * -EALREADY already running; -EBUSY starting or stopping; -ENOMEDIUM its image is not ready;
 * -ENXIO no usable VMM; any other -errno: the start failed (the VM is now failed).
 * ret_timings may be NULL. Blocks until the agent answers (up to 30 s with KVM, 120 s TCG). */
int bg_vm_start(struct bg_daemon *d, const char *name, struct bg_vm_timings *ret_timings,
                struct bg_error *err);

/* Stop VM name: ask the guest to power off through the agent, wait up to timeout_ms, then
 * force the VMM (quit, SIGTERM, SIGKILL). The overlay is kept; state ends stopped. A VM that
 * is not running is left as it is (0). -ENOENT no such VM. */
int bg_vm_stop(struct bg_daemon *d, const char *name, int timeout_ms, struct bg_error *err);

/* Delete VM name with its disks, run dir and record. A running (or starting, stopping) VM is
 * stopped first when force, else -EBUSY. -ENOENT no such VM. */
int bg_vm_destroy(struct bg_daemon *d, const char *name, bool force, struct bg_error *err);

/* Serialize a change to VM name's record with its lifecycle (e.g. PATCH): lock, then the
 * caller reads, checks and writes the record, then unlock. */
void bg_vm_lock(struct bg_daemon *d, const char *name);
void bg_vm_unlock(struct bg_daemon *d, const char *name);

/* The console log of VM name (the current or last boot): its last max_bytes bytes into a new
 * buffer *ret (*ret_len bytes, not NUL terminated). -ENOENT no such VM; a VM that never
 * booted gives an empty log. */
int bg_vm_console_tail(struct bg_daemon *d, const char *name, size_t max_bytes, char **ret,
                       size_t *ret_len, struct bg_error *err);
