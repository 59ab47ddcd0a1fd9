/* SPDX-License-Identifier: MIT */
/* Running VMs in the daemon: the lifecycle (create, start, stop, destroy, reconcile), the
 * per-VM serialization of transitions, and borrowing a running VM's agent connection.
 *
 * Domain refusals are BG_ERR() codes (banger/error.h), each its API problem: vm_not_found,
 * vm_exists, vm_running (running or in a transition), vm_not_running, image_not_found,
 * image_not_ready, image_unsupported, vm_start_failed. Anything else is a -errno. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/vm.h"
#include "vmm/driver.h"

struct bg_agent_conn;
struct bg_image;
struct bg_store;

/* The running-VM table, the VMM choice and the handles the lifecycle works with. */
struct bg_vm_runtime;
/* One VM's lifecycle lock, held (bg_vm_lock). */
struct bg_vm_entry;

/* What a runtime is made of. Everything is borrowed for bg_vm_runtime_new only (strings and
 * settings are copied) except store and drivers, which must outlive the runtime. */
struct bg_vm_runtime_config {
    struct bg_store *store;  /* VM and image records, runtime rows */
    const char *runtime_dir; /* <runtime_dir>/vms/<name>: sockets, console, pidfile */
    const char *state_dir;   /* <state_dir>/vms/<name>: disks */
    const char *cache_dir;   /* <cache_dir>/initrd: the initrds VMs boot with */
    const char *vmm;         /* "auto" or a driver's name */
    const struct bg_vmm_driver *const *drivers; /* every driver, in order of preference for
                                                 * "auto"; a runtime row names one of them */
    size_t n_drivers;
    struct bg_vmm_settings vmm_settings; /* given to the drivers' probe and start */
    uint64_t console_max_bytes;          /* console log kept per VM (the watcher trims it) */
};

/* How long the steps of one start took, reported in the start response as "timings". */
struct bg_vm_timings {
    int64_t disks_ms;     /* overlay and initrd ready */
    int64_t vmm_start_ms; /* VMM process up, sockets created */
    int64_t boot_ms;      /* from VMM start to the agent's HELLO */
};

/* The running-VM table and the VMM chosen from c->drivers for c->vmm (once; when none is
 * usable the daemon still serves records and every start fails with the reason). Never
 * fails. */
struct bg_vm_runtime *bg_vm_runtime_new(const struct bg_vm_runtime_config *c);
/* Drop every agent connection and the table. VMM processes are left running: the next
 * daemon adopts them (reconcile). Stop the watcher (vm/watch.h) first. Accepts NULL. */
void bg_vm_runtime_free(struct bg_vm_runtime *rt);

/* The VMM choice for GET /v1/system/info: {"selected","accel","reason","version"} (selected,
 * accel and version are null when no VMM is usable). New reference. */
json_t *bg_vm_runtime_vmm_json(const struct bg_vm_runtime *rt);

/* The record of VM name into *ret. BG_ERR(VM_NOT_FOUND) when there is none. */
int bg_vm_get(struct bg_vm_runtime *rt, const char *name, struct bg_vm *ret, struct bg_error *err);

/* Whether a new VM may name image: it exists (else BG_ERR(IMAGE_NOT_FOUND)), is ready (else
 * BG_ERR(IMAGE_NOT_READY), saying whether it is importing or failed) and the selected VMM
 * boots it (else BG_ERR(IMAGE_UNSUPPORTED), saying what to do; no usable VMM: starting says
 * why). Each message names the image. */
int bg_vm_image_usable(struct bg_vm_runtime *rt, const char *image, struct bg_error *err);

/* Record the new VM vm (its spec decoded, state created) after checking its image
 * (bg_vm_image_usable). BG_ERR(VM_EXISTS) for a name in use, the image codes above; *ret_field
 * (may be NULL) names the spec field a refusal is about: "name", "image", or NULL. */
int bg_vm_create(struct bg_vm_runtime *rt, const struct bg_vm *vm, const char **ret_field,
                 struct bg_error *err);

/* At daemon start, before serving: every VM recorded as starting, running or stopping is
 * adopted when its VMM process still runs (the agent is reconnected; state running), else
 * marked stopped (or failed when it was starting) and its runtime files removed. Disks are
 * kept, except those of auto-remove VMs: their holder went with the previous daemon, so they
 * are deleted whole (VMM, disks, record). Per-VM problems are logged, not returned; -errno only
 * when the store fails. */
int bg_vm_reconcile(struct bg_vm_runtime *rt, struct bg_error *err);

/* Borrow the agent connection of running VM name into *ret. BG_ERR(VM_NOT_FOUND): no such VM;
 * BG_ERR(VM_NOT_RUNNING): not running, or running without its agent (err says which). Give it
 * back exactly once with bg_vm_agent_release. Safe against a concurrent stop: the connection
 * stays valid until the last release; calls on it then fail with -ECONNRESET. */
int bg_vm_agent_acquire(struct bg_vm_runtime *rt, const char *name, struct bg_agent_conn **ret,
                        struct bg_error *err);
/* Give back c (from bg_vm_agent_acquire); accepts NULL. */
void bg_vm_agent_release(struct bg_vm_runtime *rt, struct bg_agent_conn *c);

/* Boot VM name: created/stopped/failed -> starting -> running. Refusals, before anything is
 * recorded: BG_ERR(VM_NOT_FOUND); BG_ERR(VM_RUNNING) when it is running or in a transition;
 * BG_ERR(IMAGE_NOT_READY), BG_ERR(IMAGE_UNSUPPORTED) for its image; -ENXIO when no VMM is
 * usable. Once starting, any failure is BG_ERR(VM_START_FAILED): the VM is then failed and its
 * record's error holds the reason, the VMM's log tail and the console's tail (err only the
 * reason). ret_timings may be NULL. Blocks until the agent answers (up to 30 s with KVM,
 * 120 s under TCG). */
int bg_vm_start(struct bg_vm_runtime *rt, const char *name, struct bg_vm_timings *ret_timings,
                struct bg_error *err);

/* Tells a start to give up: fn(cls) is true once nobody waits for the VM (the client of an
 * auto-remove VM went away). Called from another thread, often: it must not block. */
struct bg_vm_cancel {
    bool (*fn)(void *cls);
    void *cls;
};

/* bg_vm_start, with cancel (may be NULL) polled every 250 ms while the guest boots: once it
 * says stop, the wait for the agent ends and the start fails as any failed start does
 * (BG_ERR(VM_START_FAILED), the VMM killed, the VM failed), err saying the client left. */
int bg_vm_start_cancellable(struct bg_vm_runtime *rt, const char *name,
                            const struct bg_vm_cancel *cancel, struct bg_vm_timings *ret_timings,
                            struct bg_error *err);

/* Stop VM name: ask the guest to power off through the agent, wait up to timeout_ms, then
 * force the VMM (the stop ladder). The overlay is kept; state ends stopped. A VM that is not
 * running is left as it is (0). BG_ERR(VM_NOT_FOUND) no such VM. */
int bg_vm_stop(struct bg_vm_runtime *rt, const char *name, int timeout_ms, struct bg_error *err);

/* Delete VM name with its disks, run dir and record. A running (or starting, stopping) VM is
 * stopped first when force, else BG_ERR(VM_RUNNING). BG_ERR(VM_NOT_FOUND) no such VM. */
int bg_vm_destroy(struct bg_vm_runtime *rt, const char *name, bool force, struct bg_error *err);

/* An auto-remove VM's tie to what keeps it (the HTTP connection that made it). */
struct bg_vm_hold;

/* Tie VM name, just created with auto_remove, to a holder: bg_vm_hold_release is called once
 * the holder goes away. Never fails. */
struct bg_vm_hold *bg_vm_hold_new(struct bg_vm_runtime *rt, const char *name);
/* The holder went away: force-delete the VM (kill its VMM, remove its disks and record) unless
 * it was deleted since the hold was taken (a VM made later under the same name is another VM
 * and stays). Waits for a start in progress. Frees h; safe from any thread. Failures are
 * logged. */
void bg_vm_hold_release(struct bg_vm_hold *h);

/* Serialize a change to VM name's record with its lifecycle (e.g. PATCH): lock, then the
 * caller reads, checks and writes the record, then unlocks the handle lock returned. Any
 * name works (also one that no VM has). Never fails. */
struct bg_vm_entry *bg_vm_lock(struct bg_vm_runtime *rt, const char *name);
/* Release a lock taken with bg_vm_lock; e is not used after. */
void bg_vm_unlock(struct bg_vm_runtime *rt, struct bg_vm_entry *e);

/* The console log of VM name (the current or last boot, capped at console_max_bytes while
 * it runs): its last max_bytes bytes into a new buffer *ret (*ret_len bytes, not NUL
 * terminated). BG_ERR(VM_NOT_FOUND) no such VM; a VM that never booted gives an empty log. */
int bg_vm_console_tail(struct bg_vm_runtime *rt, const char *name, size_t max_bytes, char **ret,
                       size_t *ret_len, struct bg_error *err);
