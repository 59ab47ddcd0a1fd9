/* SPDX-License-Identifier: MIT */
/* Internals shared by server/vm/: the running-VM table, paths, disks, initrd, cleanup. */
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

struct bg_config;
struct bg_daemon;

/* One agent connection and who holds it: the VM's entry while attached, plus each borrower. */
struct bg_vm_conn_ref {
    struct bg_agent_conn *conn;
    unsigned refs;
    struct bg_vm_conn_ref *next;
};

/* A VM the daemon is doing something with, or that runs. Fields other than name, lock and
 * users are guarded by lock (the lifecycle's per-VM mutex), conn also by the table lock. */
struct bg_vm_entry {
    char name[BG_NAME_MAX + 1];
    pthread_mutex_t lock;            /* serializes this VM's transitions */
    unsigned users;                  /* holders of the entry, under the table lock */
    const struct bg_vmm_driver *drv; /* driver of the running VMM, or NULL */
    struct bg_vmm_instance vi;       /* valid while drv is set */
    struct bg_vm_conn_ref *conn;     /* agent connection while attached, or NULL */
    struct bg_vm_entry *next;
};

struct bg_vm_runtime {
    pthread_mutex_t lock; /* guards entries, conns and each entry's users and conn */
    struct bg_vm_entry *entries;
    struct bg_vm_conn_ref *conns;
    const struct bg_config *cfg;
    const struct bg_vmm_driver *vmm; /* selected driver, NULL when none is usable */
    struct bg_vmm_probe probe;       /* its probe */
    char reason[512];                /* why this driver, or why none */
    pthread_mutex_t watch_lock;      /* guards watch_stop */
    pthread_cond_t watch_cond;       /* wakes the watcher to stop (CLOCK_MONOTONIC) */
    pthread_t watch_thread;          /* valid while watching */
    bool watch_stop, watching;
};

/* Stop and join the watcher thread (bg_vm_watch_start); accepts a runtime without one. */
void bg_vm_watch_stop(struct bg_vm_runtime *rt);

/* Find or make the entry of name, locked (its lifecycle mutex held) for the caller. */
struct bg_vm_entry *bg_vm_entry_lock(struct bg_vm_runtime *rt, const char *name);
/* Unlock and give the entry back; an idle entry (no VMM, no connection) is freed. */
void bg_vm_entry_unlock(struct bg_vm_runtime *rt, struct bg_vm_entry *e);
/* Attach conn (taken) as e's agent connection. */
void bg_vm_entry_attach(struct bg_vm_runtime *rt, struct bg_vm_entry *e, struct bg_agent_conn *c);
/* Detach e's connection; *ret holds the entry's reference (drop it with bg_vm_conn_unref), or
 * NULL when none was attached. */
void bg_vm_entry_detach(struct bg_vm_runtime *rt, struct bg_vm_entry *e,
                        struct bg_vm_conn_ref **ret);
void bg_vm_conn_unref(struct bg_vm_runtime *rt, struct bg_vm_conn_ref *ref);

/* Fill e->drv and e->vi from the store's runtime row of e's VM. -ENOENT when there is no row
 * or it names an unknown driver. */
int bg_vm_entry_load_instance(struct bg_daemon *d, struct bg_vm_entry *e);

/* Where VM name's files are. Strings are owned (bg_vm_paths_done). */
struct bg_vm_paths {
    char *run_dir;   /* <runtime_dir>/vms/<name>: sockets, console, pidfile */
    char *state_dir; /* <state_dir>/vms/<name>: disks */
    char *overlay;   /* <state_dir>/vms/<name>/overlay.img */
    char *workdisk;  /* <state_dir>/vms/<name>/work.img (used when it exists) */
    char *console;   /* <run_dir>/console.log */
};
void bg_vm_paths_init(const struct bg_config *cfg, const char *name, struct bg_vm_paths *ret);
void bg_vm_paths_done(struct bg_vm_paths *p);

/* Remove the runtime files of a stopped VMM in run_dir, keeping its console and qemu logs. */
void bg_vm_run_files_remove(const char *run_dir);

/* Make sure the overlay at path is an ext4 image of mib MiB: created sparse and formatted
 * when absent, grown (file and filesystem) when smaller. Never shrinks, never reformats. */
int bg_vm_disk_ensure(const char *path, uint64_t mib, struct bg_error *err);

/* The initrd to boot img with: the image's initrd (if any) then banger's agent archive,
 * cached under the cache dir by both contents. *ret_path is owned by the caller. */
int bg_vm_initrd_prepare(const struct bg_config *cfg, const struct bg_image *img, char **ret_path,
                         struct bg_error *err);

/* The kernel command line for vm (new string). */
char *bg_vm_cmdline(const struct bg_vm *vm, bool rootfs, bool workdisk);
