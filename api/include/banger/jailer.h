/* SPDX-License-Identifier: MIT */
/* The launch spec for running Firecracker under `jailer`: its argv and the jail's file layout.
 *
 * Shared because two programs need it: the root helper creates the layout and execs the argv in
 * system mode (helper/vmm.c), the daemon knows the names inside the jail for its boot requests.
 * This module only computes them, as a pure function of its inputs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "banger/error.h"
#include "banger/macro.h"

#define BG_JAIL_ID_MAX 64      /* jailer --id: [A-Za-z0-9-]{1,64} */
#define BG_JAIL_CGROUPS_MAX 8  /* --cgroup file=value entries */
#define BG_JAIL_CGROUP_MAX 128 /* bytes of one file=value entry */
#define BG_JAIL_FILES_MAX 5    /* kernel, initrd, rootfs, overlay, work disk */
#define BG_JAIL_ARGV_MAX (20 + 2 * BG_JAIL_CGROUPS_MAX)
/* Firecracker's API socket, as seen inside the jail (jailer's own default). */
#define BG_JAIL_API_SOCK "/run/firecracker.socket"

/* The host files of one boot. Every string is borrowed for the call. */
struct bg_jail_disks {
    const char *kernel;   /* kernel image (required) */
    const char *initrd;   /* initrd, or NULL */
    const char *rootfs;   /* read-only root disk, or NULL */
    const char *overlay;  /* writable per-VM disk (required) */
    const char *workdisk; /* work disk, or NULL */
};

/* Who and where the jail is. Strings are borrowed for the call. */
struct bg_jail_params {
    const char *jailer;         /* the jailer binary: absolute path, or NULL for "jailer" */
    const char *id;             /* --id: [A-Za-z0-9-], 1..BG_JAIL_ID_MAX characters */
    uid_t uid;                  /* --uid Firecracker drops to; never 0 */
    gid_t gid;                  /* --gid; never 0 */
    const char *chroot_base;    /* --chroot-base-dir: absolute, normalised, not "/" */
    const char *exec_file;      /* --exec-file: absolute path of the firecracker binary */
    unsigned cgroup_version;    /* 1 or 2 (jailer's default is 1; --cgroup-version only for 2) */
    const char *const *cgroups; /* NULL-terminated "file=value" limits, e.g. "cpu.max=50000
                                 * 100000"; NULL or empty for none */
    const char *netns;          /* --netns: absolute path of a netns file, or NULL */
};

/* How a host file enters the jail. */
enum bg_jail_link {
    /* A hard link only. Writable disks: a copy would take the guest's writes away from the
     * host path, so the helper must refuse when the jail is on another filesystem. */
    BG_JAIL_LINK_HARD,
    /* A hard link, or a copy when the jail is on another filesystem (EXDEV). */
    BG_JAIL_LINK_HARD_OR_COPY,
};

/* One file to put in the jail before launch. Strings are owned by the spec. */
struct bg_jail_file {
    char *host_path;        /* the file on the host (from the launch spec) */
    char *path;             /* where it goes on the host: <root>/<jail_path> */
    char *jail_path;        /* the name inside the jail, relative to its root: the boot requests
                             * (boot-source, drives) must use this */
    mode_t mode;            /* 0444 read-only (kernel, initrd, rootfs), 0600 writable */
    bool chown;             /* chown to uid:gid (writable files); read-only ones stay as they
                             * are: a hard link shares the inode, and these are shared between
                             * VMs, so their owner and mode apply to the host file too */
    enum bg_jail_link link; /* hard link, or hard link or copy */
};

/* Everything the helper needs to launch. Release with bg_jail_spec_done(). */
struct bg_jail_spec {
    char **argv;    /* NULL-terminated, owned: jailer ... -- <firecracker args> */
    char *root;     /* the jail root: <chroot_base>/<basename(exec_file)>/<id>/root */
    char *api_sock; /* the API socket on the host: <root>/run/firecracker.socket */
    char *pid_file; /* where jailer writes Firecracker's pid: <root>/<basename(exec_file)>.pid */
    struct bg_jail_file files[BG_JAIL_FILES_MAX]; /* kernel, initrd, rootfs, overlay, work disk,
                                                   * in that order, absent ones skipped */
    size_t n_files;
};

/* Build the jailer argv and jail layout for the files of d (kernel and overlay required) under jail
 * parameters p. Everything after "--" in argv goes to Firecracker; jailer itself adds --id and the
 * start-time arguments. *ret is the caller's on success (bg_jail_spec_done). Returns 0, or -EINVAL
 * with a message that names the bad input: id, uid/gid 0, a path not absolute or not normalised,
 * chroot base
 * "/", cgroup version, a cgroup entry not "file=value", too many cgroup entries. */
BG_PUBLIC int bg_jail_spec_build(const struct bg_jail_disks *d, const struct bg_jail_params *p,
                                 struct bg_jail_spec *ret, struct bg_error *err);

/* Free what *s owns and zero it; accepts a zeroed spec. */
BG_PUBLIC void bg_jail_spec_done(struct bg_jail_spec *s);
