/* SPDX-License-Identifier: MIT */
/* One image build as its steps see it: the job's state, its progress, and the programs it
 * runs (used by build.c, debs.c and kmod.c). */
#pragma once

#include <stdarg.h>

#include "banger/error.h"
#include "banger/image.h"
#include "banger/macro.h"
#include "banger/operation.h"
#include "host/run.h"
#include "image/context.h"
#include "image/recipe.h"

struct bg_imagebuild_rootfs; /* rootfs.c's state while it runs mmdebstrap */

/* One build job (build.c makes and frees it). */
struct bg_imagebuild {
    struct bg_image_ctx ctx;                      /* copied at start */
    enum bg_recipe recipe;                        /* what it makes */
    struct bg_pkglist packages;                   /* dev: the rootfs's packages, normalised */
    struct bg_imagebuild_rootfs *rootfs;          /* dev: set while the rootfs is made */
    struct bg_image img;                          /* the image being built */
    struct bg_operation op;                       /* its operation */
    char *debs;                                   /* <cache_dir>/debs: the package cache */
    char *tmp;                                    /* <cache_dir>/build-XXXXXX while it exists */
    char *root;                                   /* <tmp>/root: the unpacked packages */
    char *imgdir;                                 /* <state_dir>/images/<name> */
    char *kver;                                   /* kernel release, "6.1.0-56-cloud-amd64" */
    char *debs_kernel, *debs_busybox, *debs_meta; /* .deb paths in the cache */
    unsigned downloaded;                          /* packages fetched (not found in the cache) */
};

/* Begin step "what" of b (printf format): the steps before it (done) are done. Records it in
 * the operation, with no count of its own. */
void bg_imagebuild_step(struct bg_imagebuild *b, unsigned done, const char *fmt, ...)
    BG_PRINTF(3, 4);

/* The current step's own count: done of total (0: unknown) in unit ("bytes", "packages"), and
 * its text (printf format, NULL: unchanged). Records it in the operation. */
void bg_imagebuild_step_count(struct bg_imagebuild *b, uint64_t done, uint64_t total,
                              const char *unit, const char *fmt, ...) BG_PRINTF(5, 6);

/* What bg_imagebuild_run runs, beyond bg_imagebuild_run_ok's arguments. */
struct bg_imagebuild_cmd {
    const char *const *argv; /* as bg_run */
    const char *cwd;         /* NULL: bangerd's */
    int out_fd;              /* >= 0: stdout goes there; else it is kept */
    const char *const *env;  /* "NAME=value" entries added to the environment; may be NULL */
    void (*on_output)(void *build, int stream, const char *buf, size_t n); /* may be NULL */
    const char *hint; /* added to a failure's message; may be NULL */
};

/* bg_imagebuild_run_ok with the options of c. */
int bg_imagebuild_run(struct bg_imagebuild *b, const struct bg_imagebuild_cmd *c,
                      struct bg_run_result *ret, struct bg_error *err);

/* Run argv with bg_run (the clean environment plus the proxy settings apt honours, stopped on
 * shutdown) in cwd (NULL: bangerd's) with stdout to out_fd, or captured into ret->out when
 * out_fd < 0, and require exit status 0. *ret is the caller's (bg_run_result_done) on success.
 * A failure names the program, its exit and apt's "E:" lines (else stderr's last line), then
 * hint (may be NULL); -ECANCELED on shutdown. */
int bg_imagebuild_run_ok(struct bg_imagebuild *b, const char *const argv[], const char *cwd,
                         int out_fd, struct bg_run_result *ret, const char *hint,
                         struct bg_error *err);
