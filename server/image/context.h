/* SPDX-License-Identifier: MIT */
/* What image jobs get of the daemon: the store, the jobs tracker and two directories. */
#pragma once

struct bg_store;
struct bg_jobs;

/* The handles an image job works with; the caller (rest/, main.c) builds it from the daemon.
 * A job keeps a copy of the struct, not of what it points to: everything here is borrowed and
 * must outlive every job (bg_jobs_cancel_wait on jobs before the store and the configuration
 * go). */
struct bg_image_ctx {
    struct bg_store *store;   /* images and operations */
    struct bg_jobs *jobs;     /* runs the jobs; its cancel flag stops them at the next step */
    const char *state_dir;    /* built images are written to <state_dir>/images/<name>/ */
    const char *cache_dir;    /* the package cache <cache_dir>/debs and builds' scratch dirs */
    const char *dev_packages; /* image_dev_packages: what every dev image adds (may be NULL) */
};
