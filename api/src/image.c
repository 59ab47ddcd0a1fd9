/* SPDX-License-Identifier: MIT */
/* Image resource codec. */
#include "banger/image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banger/jsonutil.h"
#include "banger/timefmt.h"

static const char *const state_names[BG_IMAGE_STATE_COUNT_] = {
    [BG_IMAGE_STATE_IMPORTING] = "importing",
    [BG_IMAGE_STATE_READY] = "ready",
    [BG_IMAGE_STATE_FAILED] = "failed",
};

static const char *const file_keys[BG_IMAGE_FILE_COUNT_] = {
    [BG_IMAGE_KERNEL] = "kernel",
    [BG_IMAGE_ROOTFS] = "rootfs",
    [BG_IMAGE_INITRD] = "initrd",
    [BG_IMAGE_VMLINUX] = "vmlinux",
};

const char *bg_image_state_name(enum bg_image_state s)
{
    return s < BG_IMAGE_STATE_COUNT_ ? state_names[s] : "failed";
}

int bg_image_state_parse(const char *s, enum bg_image_state *ret)
{
    for (int i = 0; i < BG_IMAGE_STATE_COUNT_; i++)
        if (!strcmp(s, state_names[i])) {
            *ret = (enum bg_image_state)i;
            return 0;
        }
    return -EINVAL;
}

const char *bg_image_file_key(enum bg_image_file_kind k)
{
    return k < BG_IMAGE_FILE_COUNT_ ? file_keys[k] : "kernel";
}

int bg_image_import_decode(const json_t *body, struct bg_image_import *ret,
                           struct bg_field_error *f, struct bg_error *err)
{
    static const char *const allowed[] = {"name", "kernel", "rootfs", "initrd", "vmlinux", NULL};
    struct bg_image_import req = {0};
    int r;

    if ((r = bg_json_check_members(body, allowed, f, err)) < 0)
        return r;
    if ((r = bg_json_get_name(body, "name", true, req.name, f, err)) < 0)
        return r;
    for (int k = 0; k < BG_IMAGE_FILE_COUNT_; k++) {
        r = bg_json_get_path(body, file_keys[k], k == BG_IMAGE_KERNEL, &req.paths[k], f, err);
        if (r < 0) {
            bg_image_import_done(&req);
            return r;
        }
    }
    *ret = req;
    return 0;
}

void bg_image_import_done(struct bg_image_import *req)
{
    for (int k = 0; k < BG_IMAGE_FILE_COUNT_; k++) {
        free(req->paths[k]);
        req->paths[k] = NULL;
    }
}

void bg_image_done(struct bg_image *img)
{
    for (int k = 0; k < BG_IMAGE_FILE_COUNT_; k++) {
        free(img->files[k].path);
        img->files[k].path = NULL;
    }
    free(img->source);
    free(img->error);
    free(img->recipe);
    free(img->packages);
    img->source = img->error = img->recipe = img->packages = NULL;
}

static json_t *file_to_json(const struct bg_image_file *file)
{
    if (!file->path)
        return json_null();
    return json_pack("{s:s, s:I, s:o}", "path", file->path, "size_bytes",
                     (json_int_t)file->size_bytes, "sha256",
                     file->sha256[0] ? json_string(file->sha256) : json_null());
}

/* {"name": "dev", "packages": [...]} of a built image, null for an imported one. */
static json_t *recipe_to_json(const struct bg_image *img)
{
    json_t *pkgs = json_array();

    if (!img->recipe) {
        json_decref(pkgs);
        return json_null();
    }
    for (const char *p = img->packages ? img->packages : ""; *p;) {
        size_t n = strcspn(p, " ");
        if (n)
            json_array_append_new(pkgs, json_stringn(p, n));
        p += n + (p[n] == ' ');
    }
    return json_pack("{s:s, s:o}", "name", img->recipe, "packages", pkgs);
}

json_t *bg_image_to_json(const struct bg_image *img)
{
    char created[BG_TIME_STR_MAX];
    json_t *vmms = json_array(), *unproven = json_array();

    if (img->vmms & BG_VMM_FIRECRACKER)
        json_array_append_new(vmms, json_string("firecracker"));
    if (img->vmms & BG_VMM_QEMU)
        json_array_append_new(vmms, json_string("qemu"));
    /* The vmlinux that image build extracts from Debian's bzImage boots in QEMU through its
     * PVH entry, but has not been booted by a real Firecracker (docs/images.md). */
    if ((img->vmms & BG_VMM_FIRECRACKER) && img->source &&
        !strcmp(img->source, BG_IMAGE_SOURCE_BUILD))
        json_array_append_new(unproven, json_string("firecracker"));
    /* "o" steals each new reference into the object. */
    return json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:s}", "name", img->name,
        "state", bg_image_state_name(img->state), "arch", img->arch, "vmms", vmms, "vmms_unproven",
        unproven, "kernel", file_to_json(&img->files[BG_IMAGE_KERNEL]), "rootfs",
        file_to_json(&img->files[BG_IMAGE_ROOTFS]), "initrd",
        file_to_json(&img->files[BG_IMAGE_INITRD]), "vmlinux",
        file_to_json(&img->files[BG_IMAGE_VMLINUX]), "source", img->source ? img->source : "import",
        "recipe", recipe_to_json(img), "error", img->error ? json_string(img->error) : json_null(),
        "created_at", bg_time_format(img->created_at, created));
}
