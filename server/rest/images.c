/* SPDX-License-Identifier: MIT */
/* /v1/images: list, get, import and build (202 + operation), delete. */
#include <stdio.h>

#include "banger/jsonutil.h"
#include "image/build.h"
#include "image/import.h"
#include "image/remove.h"
#include "rest/daemon.h"
#include "rest/errors.h"
#include "rest/handlers.h"

/* The handles image jobs get of the daemon. */
static struct bg_image_ctx image_ctx(const struct bg_http_request *req)
{
    const struct bg_daemon *d = bg_rest_daemon(req);

    return (struct bg_image_ctx){.store = d->store,
                                 .jobs = d->jobs,
                                 .state_dir = d->cfg->state_dir,
                                 .cache_dir = d->cfg->cache_dir};
}

/* A failure to start an image job: a taken name is about the request's "name". */
static int reply_start_error(struct bg_http_request *req, const struct bg_error *err)
{
    const char *field = err->code == BG_ERR(BG_PROBLEM_IMAGE_EXISTS) ? "name" : NULL;

    return bg_rest_reply_error(req, err, BG_REST_IMAGE, BG_PROBLEM_INTERNAL, field);
}

static int reply_operation(struct bg_http_request *req, const struct bg_operation *op)
{
    char location[64];

    snprintf(location, sizeof(location), "/v1/operations/%s", op->id);
    return bg_http_reply_json_located(req, MHD_HTTP_ACCEPTED, bg_operation_to_json(op), location);
}

int bg_handle_images_list(struct bg_http_request *req)
{
    struct bg_image *imgs;
    struct bg_error err;
    size_t n;

    if (bg_store_image_list(bg_rest_daemon(req)->store, &imgs, &n, &err) < 0)
        return bg_rest_reply_error(req, &err, BG_REST_NONE, BG_PROBLEM_INTERNAL, NULL);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, bg_image_to_json(&imgs[i]));
    bg_store_images_free(imgs, n);
    return bg_http_reply_json(req, MHD_HTTP_OK, json_pack("{s:o}", "images", list));
}

int bg_handle_images_get(struct bg_http_request *req)
{
    struct bg_image img = {0};
    struct bg_error err;

    if (bg_store_image_get(bg_rest_daemon(req)->store, req->params[0], &img, &err) < 0)
        return bg_rest_reply_error(req, &err, BG_REST_IMAGE, BG_PROBLEM_INTERNAL, NULL);
    json_t *body = bg_image_to_json(&img);
    bg_image_done(&img);
    return bg_http_reply_json(req, MHD_HTTP_OK, body);
}

int bg_handle_images_create(struct bg_http_request *req)
{
    struct bg_image_ctx ctx = image_ctx(req);
    struct bg_image_import request;
    struct bg_import imp;
    struct bg_operation op;
    struct bg_field_error f;
    struct bg_error err;
    json_t *body;
    int mhd, r;

    if (bg_http_body_object(req, &body, &mhd) < 0)
        return mhd;
    r = bg_image_import_decode(body, &request, &f, &err);
    json_decref(body);
    if (r < 0)
        return bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
    r = bg_import_check(&request, &imp, &f, &err);
    bg_image_import_done(&request);
    if (r < 0)
        return bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
    r = bg_import_start(&ctx, &imp, &op, &err);
    bg_import_done(&imp);
    if (r < 0)
        return reply_start_error(req, &err);
    return reply_operation(req, &op);
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
    struct bg_image_ctx ctx = image_ctx(req);
    char name[BG_NAME_MAX + 1];
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
    if (bg_imagebuild_start(&ctx, name, &op, &err) < 0)
        return reply_start_error(req, &err);
    return reply_operation(req, &op);
}

int bg_handle_images_delete(struct bg_http_request *req)
{
    struct bg_image_ctx ctx = image_ctx(req);
    struct bg_error err;

    if (bg_image_remove(&ctx, req->params[0], &err) < 0)
        return bg_rest_reply_error(req, &err, BG_REST_IMAGE, BG_PROBLEM_INTERNAL, NULL);
    return bg_http_reply_empty(req, MHD_HTTP_NO_CONTENT);
}
