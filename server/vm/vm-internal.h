/* SPDX-License-Identifier: MIT */
/* Internals shared by server/vm/: the running-VM table, paths, disks, initrd, console, and the
 * steps the lifecycle, the watcher and reconcile share. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/image.h"
#include "banger/validate.h"
#include "banger/vm.h"
#include "vm/runtime.h"
#include "vmm/driver.h"

/* One agent connection and who holds it: the VM's entry while attached, plus each borrower. */
struct bg_vm_conn_ref {
    struct bg_agent_conn *conn;
    unsigned refs;
    struct bg_vm_conn_ref *next;
};

/* A VM the daemon is doing something with, or that runs. Fields other than name, lock and
 * users are guarded by lock (the lifecycle's per-VM mutex), conn also by the table lock. */
struct bg_vm_entry {
    char *name;                      /* owned, as given (never cut: any name finds its entry) */
    pthread_mutex_t lock;            /* serializes this VM's transitions */
    unsigned users;                  /* holders of the entry, under the table lock */
    const struct bg_vmm_driver *drv; /* driver of the running VMM, or NULL */
    struct bg_vmm_instance vi;       /* valid while drv is set */
    struct bg_vm_conn_ref *conn;     /* agent connection while attached, or NULL */
    struct bg_vm_entry *next;
};

/* An auto-remove VM's tie to its holder (bg_vm_hold_new): live until the VM is deleted. */
struct bg_vm_hold {
    struct bg_vm_runtime *rt;
    char *name;              /* owned */
    bool live;               /* under the table lock: the VM it was taken for still exists */
    struct bg_vm_hold *next; /* in rt->holds */
};

struct bg_vm_runtime {
    pthread_mutex_t lock; /* guards entries, conns, holds and each entry's users and conn */
    struct bg_vm_entry *entries;
    struct bg_vm_conn_ref *conns;
    struct bg_vm_hold *holds;
    struct bg_store *store;
    char *runtime_dir, *state_dir, *cache_dir; /* owned */
    const struct bg_vmm_driver *const *drivers;
    size_t n_drivers;
    char *accel, *firecracker_path;  /* owned: the strings of settings */
    struct bg_vmm_settings settings; /* given to the drivers */
    uint64_t console_max_bytes;
    const struct bg_vmm_driver *vmm; /* selected driver, NULL when none is usable */
    struct bg_vmm_probe probe;       /* its probe */
    char reason[512];                /* why this driver, or why none */
};

/* Attach conn (taken) as e's agent connection. */
void bg_vm_entry_attach(struct bg_vm_runtime *rt, struct bg_vm_entry *e, struct bg_agent_conn *c);
/* Detach e's connection; *ret holds the entry's reference (drop it with bg_vm_conn_unref), or
 * NULL when none was attached. */
void bg_vm_entry_detach(struct bg_vm_runtime *rt, struct bg_vm_entry *e,
                        struct bg_vm_conn_ref **ret);
void bg_vm_conn_unref(struct bg_vm_runtime *rt, struct bg_vm_conn_ref *ref);

/* Fill e->drv and e->vi from the store's runtime row of e's VM. -ENOENT when there is no row
 * or it names a driver that is not in rt's list. */
int bg_vm_entry_load_instance(struct bg_vm_runtime *rt, struct bg_vm_entry *e);

/* e's VMM is gone (or never ran): drop its agent connection and instance, its runtime files
 * and its runtime row. e's lock is held. */
void bg_vm_entry_forget(struct bg_vm_runtime *rt, struct bg_vm_entry *e);

/* Delete every auto-remove VM recorded (reconcile's last step). Per-VM failures are logged;
 * -errno only when the store fails. */
int bg_vm_reconcile_auto_remove(struct bg_vm_runtime *rt, struct bg_error *err);

/* VM name is deleted: the holds taken for it are void (a VM made later under the name is
 * another one). */
void bg_vm_holds_void(struct bg_vm_runtime *rt, const char *name);

/* Delete VM name (its record read into vm) with its disks, run dir and record, e being its
 * lock, held; a VM that runs is stopped first when force, else BG_ERR(VM_RUNNING). */
int bg_vm_destroy_locked(struct bg_vm_runtime *rt, struct bg_vm_entry *e, struct bg_vm *vm,
                         bool force, struct bg_error *err);

/* Record vm->state = state (and vm->error = error when error is not NULL, "" to clear) before
 * anything else happens. */
int bg_vm_record_state(struct bg_vm_runtime *rt, struct bg_vm *vm, enum bg_vm_state state,
                       const char *error, struct bg_error *err);

/* The image called name for a VM to boot, into *ret (bg_image_done): the refusals of
 * bg_vm_image_usable. */
int bg_vm_image_load(struct bg_vm_runtime *rt, const char *name, struct bg_image *ret,
                     struct bg_error *err);

/* Where VM name's files are. Strings are owned (bg_vm_paths_done). */
struct bg_vm_paths {
    char *run_dir;   /* <runtime_dir>/vms/<name>: sockets, console, pidfile */
    char *state_dir; /* <state_dir>/vms/<name>: disks */
    char *overlay;   /* <state_dir>/vms/<name>/overlay.img */
    char *workdisk;  /* <state_dir>/vms/<name>/work.img (used when it exists) */
    char *console;   /* <run_dir>/BG_VMM_CONSOLE */
};
void bg_vm_paths_init(const struct bg_vm_runtime *rt, const char *name, struct bg_vm_paths *ret);
void bg_vm_paths_done(struct bg_vm_paths *p);

/* Remove the files a stopped VMM of any of rt's drivers leaves in run_dir, keeping the
 * console and the VMM logs. */
void bg_vm_run_files_remove(const struct bg_vm_runtime *rt, const char *run_dir);

/* The marker next to a disk whose growth has begun (its content: the target size in MiB);
 * it goes once the filesystem is grown too. */
#define BG_VM_DISK_GROW_MARKER ".grow"

/* Make sure the overlay at path is an ext4 image of mib MiB: created sparse and formatted
 * when absent, grown (file and filesystem) when smaller. Never shrinks, never reformats. A
 * growth that stopped half way (BG_VM_DISK_GROW_MARKER left) is finished first. */
int bg_vm_disk_ensure(const char *path, uint64_t mib, struct bg_error *err);

/* The initrd to boot img with: the image's initrd (if any) then banger's agent archive,
 * cached under <cache_dir>/initrd by both contents. *ret_path is owned by the caller. */
int bg_vm_initrd_prepare(const char *cache_dir, const struct bg_image *img, char **ret_path,
                         struct bg_error *err);

/* The driver-neutral kernel command line for vm (new string): console, disks, hostname. */
char *bg_vm_cmdline(const struct bg_vm *vm, bool rootfs, bool workdisk);

/* Keep at most about max_bytes of the console log at path: when more is allocated, the head
 * (all but the last max_bytes, in whole blocks) is punched out, so writers that keep their
 * file offset or append go on unaffected and the file stays as long, with a hole before the
 * tail. 0, or -errno (-EOPNOTSUPP where the filesystem cannot punch holes). */
int bg_vm_console_trim(const char *path, uint64_t max_bytes);

/* "reason", then the tail of the VMM's log (drv->log_name in run_dir) and of the console,
 * into buf (len bytes): a failed VM's error. */
void bg_vm_failure_text(const struct bg_vmm_driver *drv, const struct bg_vm_paths *p,
                        const char *reason, char *buf, size_t len);
