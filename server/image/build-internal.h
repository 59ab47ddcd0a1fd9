/* SPDX-License-Identifier: MIT */
/* Internals shared by the files of an image build: the job, running programs, file steps. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"
#include "banger/image.h"
#include "banger/macro.h"
#include "banger/operation.h"
#include "host/run.h"
#include "image/build.h"

/* One build job (build.c owns it). */
struct build {
    struct bg_daemon *d;
    struct bg_image img;
    struct bg_operation op;
    char *debs;                                   /* <cache_dir>/debs */
    char *tmp;                                    /* <cache_dir>/build-XXXXXX while it exists */
    char *root;                                   /* <tmp>/root: the unpacked packages */
    char *imgdir;                                 /* <state_dir>/images/<name> */
    char *kver;                                   /* kernel release, "6.1.0-56-cloud-amd64" */
    char *debs_kernel, *debs_busybox, *debs_meta; /* .deb paths */
    unsigned downloaded;                          /* packages fetched (not found in the cache) */
};

/* ---- build.c ---- */

/* Begin step "what" of b (printf format): the steps before it (done) are done. Records it in
 * the operation. */
void bg_imagebuild_step(struct build *b, unsigned done, const char *fmt, ...) BG_PRINTF(3, 4);

/* ---- run.c ---- */

/* Run argv with bg_run (the clean environment plus the proxy settings apt honours, stopped on
 * shutdown) in cwd (NULL: bangerd's) with stdout to out_fd, or captured into ret->out when
 * out_fd < 0, and require exit status 0. *ret is the caller's (bg_run_result_done) on success.
 * A failure names the program, its exit and apt's "E:" lines (else stderr's last line), then
 * hint (may be NULL); -ECANCELED on shutdown. */
int bg_imagebuild_run_ok(struct build *b, const char *const argv[], const char *cwd, int out_fd,
                         struct bg_run_result *ret, const char *hint, struct bg_error *err);

/* ---- debs.c ---- */

/* Download the meta, kernel and busybox packages into b->debs (reusing cached ones) and set
 * b->debs_*. Callers serialize downloads. */
int bg_imagebuild_download_all(struct build *b, struct bg_error *err);

/* ---- kmod.c ---- */

/* moddir/rel as a plain .ko file: itself, or decompressed into <tmp>/ko/NAME.ko (*ret is the
 * caller's). */
int bg_imagebuild_plain_module(struct build *b, const char *moddir, const char *rel, char **ret,
                               struct bg_error *err);

/* Load order of the modules banger needs: *ret_paths (NULL-terminated, *ret_n) relative to
 * moddir, the caller's. */
int bg_imagebuild_module_order(struct build *b, const char *moddir, char ***ret_paths,
                               size_t *ret_n, struct bg_error *err);

/* ---- files.c ---- */

/* A text file of at most BG_IMAGEBUILD_TEXT_MAX bytes with no NUL in it; *ret the caller's. */
int bg_imagebuild_read_text(const char *path, char **ret, struct bg_error *err);

/* Copy src to dst (created 0644, replaced) and fsync it. */
int bg_imagebuild_copy_file(const char *src, const char *dst, struct bg_error *err);
