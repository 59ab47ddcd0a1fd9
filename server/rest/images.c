/* SPDX-License-Identifier: MIT */
/* /v1/images: list, get, import and build (202 + operation), delete. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "banger/jsonutil.h"
#include "image/build.h"
#include "image/import.h"
#include "rest/daemon.h"
#include "rest/handlers.h"

int bg_handle_images_list(struct bg_http_request *req)
{
    struct bg_image *imgs;
    struct bg_error err;
    size_t n;

    if (bg_store_image_list(bg_rest_daemon(req)->store, &imgs, &n, &err) < 0)
        return bg_http_reply_internal(req, &err);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, bg_image_to_json(&imgs[i]));
    bg_store_images_free(imgs, n);
    return bg_http_reply_json(req, MHD_HTTP_OK, json_pack("{s:o}", "images", list));
}

static int reply_image_error(struct bg_http_request *req, const struct bg_error *err)
{
    if (err->code == -ENOENT)
        return bg_http_reply_problem(req, BG_PROBLEM_IMAGE_NOT_FOUND, NULL,
                                     "no image named '%s'; 'banger image ls' lists them",
                                     req->params[0]);
    return bg_http_reply_internal(req, err);
}

int bg_handle_images_get(struct bg_http_request *req)
{
    struct bg_image img = {0};
    struct bg_error err;

    if (bg_store_image_get(bg_rest_daemon(req)->store, req->params[0], &img, &err) < 0)
        return reply_image_error(req, &err);
    json_t *body = bg_image_to_json(&img);
    bg_image_done(&img);
    return bg_http_reply_json(req, MHD_HTTP_OK, body);
}

int bg_handle_images_create(struct bg_http_request *req)
{
    struct bg_image_import imp;
    struct bg_image img;
    struct bg_operation op;
    struct bg_field_error f;
    struct bg_error err;
    json_t *body;
    int mhd, r;

    if (bg_http_body_object(req, &body, &mhd) < 0)
        return mhd;
    r = bg_image_import_decode(body, &imp, &f, &err);
    json_decref(body);
    if (r < 0)
        return bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
    r = bg_import_check(&imp, &img, &f, &err);
    bg_image_import_done(&imp);
    if (r < 0)
        return bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
    r = bg_import_start(bg_rest_daemon(req), &img, &op, &err);
    if (r < 0) {
        mhd = err.code == -EEXIST
                  ? bg_http_reply_problem(req, BG_PROBLEM_IMAGE_EXISTS, "name",
                                          "an image named '%s' already exists", img.name)
                  : bg_http_reply_internal(req, &err);
        bg_image_done(&img);
        return mhd;
    }
    bg_image_done(&img);
    char location[64];
    snprintf(location, sizeof(location), "/v1/operations/%s", op.id);
    return bg_http_reply_json_located(req, MHD_HTTP_ACCEPTED, bg_operation_to_json(&op), location);
}

/* {"name": NAME} with name optional (BG_IMAGEBUILD_DEFAULT_NAME), nothing else. */
static int build_decode(const json_t *body, char name[BG_NAME_MAX + 1], struct bg_field_error *f,
                        struct bg_error *err)
{
    static const char *const allowed[] = {"name", NULL};
    int r = bg_json_check_members(body, allowed, f, err);

    snprintf(name, BG_NAME_MAX + 1, "%s", BG_IMAGEBUILD_DEFAULT_NAME);
    if (r >= 0)
        r = bg_json_get_name(body, "name", false, name, f, err);
    return r < 0 ? r : 0;
}

int bg_handle_images_build(struct bg_http_request *req)
{
    char name[BG_NAME_MAX + 1], location[64];
    struct bg_operation op;
    struct bg_field_error f;
    struct bg_error err;
    json_t *body;
    int mhd, r;

    if (bg_http_body_object(req, &body, &mhd) < 0)
        return mhd;
    r = build_decode(body, name, &f, &err);
    json_decref(body);
    if (r < 0)
        return bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
    if (bg_imagebuild_start(bg_rest_daemon(req), name, &op, &err) < 0) {
        if (err.code == -EEXIST)
            return bg_http_reply_problem(req, BG_PROBLEM_IMAGE_EXISTS, "name",
                                         "an image named '%s' already exists; remove it first "
                                         "or build under another name",
                                         name);
        return bg_http_reply_internal(req, &err);
    }
    snprintf(location, sizeof(location), "/v1/operations/%s", op.id);
    return bg_http_reply_json_located(req, MHD_HTTP_ACCEPTED, bg_operation_to_json(&op), location);
}

int bg_handle_images_delete(struct bg_http_request *req)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    struct bg_image img = {0};
    struct bg_error err;

    if (bg_store_image_get(d->store, req->params[0], &img, &err) < 0)
        return reply_image_error(req, &err);
    enum bg_image_state state = img.state;
    bool built = img.source && !strcmp(img.source, BG_IMAGE_SOURCE_BUILD);
    bg_image_done(&img);
    if (state == BG_IMAGE_STATE_IMPORTING)
        return bg_http_reply_problem(req, BG_PROBLEM_IMAGE_NOT_READY, NULL,
                                     "image '%s' is still importing; remove it once its "
                                     "operation has finished",
                                     req->params[0]);
    if (bg_store_image_delete(d->store, req->params[0], NULL, &err) < 0) {
        if (err.code == -EBUSY)
            return bg_http_reply_problem(req, BG_PROBLEM_IMAGE_IN_USE, NULL,
                                         "%s; remove those VMs first", err.msg);
        return reply_image_error(req, &err);
    }
    if (built) /* bangerd made those files; imported ones stay the user's */
        bg_imagebuild_remove_files(d, req->params[0]);
    return bg_http_reply_empty(req, MHD_HTTP_NO_CONTENT);
}
