/* SPDX-License-Identifier: MIT */
/* The image resource: a kernel, an optional rootfs, initrd and Firecracker vmlinux, and what is
 * known of them. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/problem.h"
#include "banger/validate.h"

enum bg_image_state {
    BG_IMAGE_STATE_IMPORTING,
    BG_IMAGE_STATE_READY,
    BG_IMAGE_STATE_FAILED,
    BG_IMAGE_STATE_COUNT_,
};

enum bg_image_file_kind {
    BG_IMAGE_KERNEL,
    BG_IMAGE_ROOTFS,
    BG_IMAGE_INITRD,
    BG_IMAGE_VMLINUX, /* an ELF kernel for Firecracker beside a bzImage kernel */
    BG_IMAGE_FILE_COUNT_,
};

/* Which VMMs can boot an image (bit set). */
#define BG_VMM_QEMU 0x1u
#define BG_VMM_FIRECRACKER 0x2u

#define BG_SHA256_HEX_LEN 64

#define BG_IMAGE_SOURCE_BUILD "build:debian" /* `source` of an image made by image build */

struct bg_image_file {
    char *path;                         /* absolute path, owned; NULL when absent */
    uint64_t size_bytes;                /* size when registered */
    char sha256[BG_SHA256_HEX_LEN + 1]; /* lowercase hex, "" until hashed */
};

/* An image record as stored and served. Release with bg_image_done(). */
struct bg_image {
    char name[BG_NAME_MAX + 1];                       /* DNS label, unique */
    enum bg_image_state state;                        /* importing until hashed */
    char arch[16];                                    /* "x86_64" */
    unsigned vmms;                                    /* BG_VMM_* bits */
    struct bg_image_file files[BG_IMAGE_FILE_COUNT_]; /* indexed by enum bg_image_file_kind */
    char *source;                                     /* "import", owned */
    char *recipe;       /* the recipe of image build ("minimal", "dev"), owned; NULL otherwise */
    char *packages;     /* the packages that recipe asked for, space-separated, owned; NULL */
    char *error;        /* why it failed, owned; NULL otherwise */
    int64_t created_at; /* seconds since the epoch */
};

/* A validated POST /v1/images body. Release with bg_image_import_done(). */
struct bg_image_import {
    char name[BG_NAME_MAX + 1];
    char *paths[BG_IMAGE_FILE_COUNT_]; /* owned; kernel required, others may be NULL */
};

/* "importing"/"ready"/"failed" and back; parse returns 0 or -EINVAL. */
BG_PUBLIC const char *bg_image_state_name(enum bg_image_state s);
BG_PUBLIC int bg_image_state_parse(const char *s, enum bg_image_state *ret);
/* "kernel", "rootfs", "initrd", "vmlinux". */
BG_PUBLIC const char *bg_image_file_key(enum bg_image_file_kind k);

/* Decode and syntactically validate an import request (paths absolute and normalised).
 * Whether the files exist is the daemon's check. Returns 0 or -EINVAL with f, err set. */
BG_PUBLIC int bg_image_import_decode(const json_t *body, struct bg_image_import *ret,
                                     struct bg_field_error *f, struct bg_error *err);
BG_PUBLIC void bg_image_import_done(struct bg_image_import *req);

BG_PUBLIC void bg_image_done(struct bg_image *img);
/* The wire form of img (new reference). */
BG_PUBLIC json_t *bg_image_to_json(const struct bg_image *img);
