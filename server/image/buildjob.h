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

/* One build job (build.c makes and frees it). */
struct bg_imagebuild {
    struct bg_image_ctx ctx;                      /* copied at start */
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
 * the operation. */
void bg_imagebuild_step(struct bg_imagebuild *b, unsigned done, const char *fmt, ...)
    BG_PRINTF(3, 4);

/* Run argv with bg_run (the clean environment plus the proxy settings apt honours, stopped on
 * shutdown) in cwd (NULL: bangerd's) with stdout to out_fd, or captured into ret->out when
 * out_fd < 0, and require exit status 0. *ret is the caller's (bg_run_result_done) on success.
 * A failure names the program, its exit and apt's "E:" lines (else stderr's last line), then
 * hint (may be NULL); -ECANCELED on shutdown. */
int bg_imagebuild_run_ok(struct bg_imagebuild *b, const char *const argv[], const char *cwd,
                         int out_fd, struct bg_run_result *ret, const char *hint,
                         struct bg_error *err);
