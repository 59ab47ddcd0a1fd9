/* SPDX-License-Identifier: MIT */
/* banger doctor: what is wrong with this host, one check at a time. Every check is a function
 * of an environment: a root directory that every path it reads is taken under ("/" for the
 * daemon, a temporary tree in tests), a runner for the programs whose versions it asks, and
 * the daemon's configuration. Nothing else of the host is touched, so tests reach every
 * outcome. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/config.h"

#define BG_DOCTOR_FC_TESTED "1.16.1" /* the Firecracker the test double follows */
#define BG_DOCTOR_NAME_MAX 32
#define BG_DOCTOR_TEXT_MAX 512
#define BG_DOCTOR_CHECKS_MAX 32
#define BG_DOCTOR_RUN_TIMEOUT_MS 5000 /* for each `--version` */

enum bg_doctor_status {
    BG_DOCTOR_PASS,
    BG_DOCTOR_WARN,
    BG_DOCTOR_FAIL,
};

/* One row. fix is "" unless status is FAIL (where it is never empty) or a WARN has one. */
struct bg_doctor_check {
    char name[BG_DOCTOR_NAME_MAX];
    enum bg_doctor_status status;
    char detail[BG_DOCTOR_TEXT_MAX];
    char fix[BG_DOCTOR_TEXT_MAX];
};

struct bg_doctor_report {
    struct bg_doctor_check check[BG_DOCTOR_CHECKS_MAX];
    size_t n;
};

/* Run argv to its end: 0.. its exit status with its output (stdout, else stderr) in *ret_out
 * (the caller frees), or -ENOENT when the program is not installed, another -errno when it
 * could not run. */
typedef int (*bg_doctor_run_fn)(void *cls, const char *const *argv, char **ret_out);

/* Whether image name is ready: 1 ready, 0 present but not ready (state in buf), -ENOENT. */
typedef int (*bg_doctor_image_fn)(void *cls, const char *name, char *state, size_t len);

struct bg_doctor_env {
    const char *root;            /* every path read is under it; "/" on a real host */
    bg_doctor_run_fn run;        /* NULL: bg_doctor_run_host */
    void *run_cls;               /* for run */
    bg_doctor_image_fn image;    /* NULL: the default image is not looked up */
    void *image_cls;             /* for image */
    const struct bg_config *cfg; /* mode, paths, VM defaults and their sources */
    const char *db_path;         /* the store's file */
    const char *helper_socket;   /* system mode: the root helper's socket; NULL otherwise */
    const char *firecracker;     /* the install's Firecracker; NULL: firecracker_path, else
                                  * "firecracker" in PATH */
    const char *jailer;          /* the install's jailer; NULL: "jailer" in PATH */
    const char *bridge;          /* the install's bridge, for fixes; NULL: none known */
    uid_t owner;                 /* system mode: who must own both sockets (the daemon's uid) */
    uid_t vmm_owner;             /* system mode: who must own the VMM binaries (0: root) */
    uint64_t disk_warn_bytes;    /* free space under state_dir below this: WARN */
    uint64_t disk_fail_bytes;    /* below this: FAIL */
};

#define BG_DOCTOR_DISK_WARN_BYTES (10ull << 30)
#define BG_DOCTOR_DISK_FAIL_BYTES (1ull << 30)

/* The runner of the daemon: bg_run with BG_DOCTOR_RUN_TIMEOUT_MS. */
int bg_doctor_run_host(void *cls, const char *const *argv, char **ret_out);

/* Run every check into *ret. */
void bg_doctor_run(const struct bg_doctor_env *env, struct bg_doctor_report *ret);

/* "PASS", "WARN", "FAIL". */
const char *bg_doctor_status_name(enum bg_doctor_status s);

/* {"checks":[{name,status,detail[,fix]}...],"summary":{pass,warn,fail}}. New reference. */
json_t *bg_doctor_to_json(const struct bg_doctor_report *r);
