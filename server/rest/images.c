/* SPDX-License-Identifier: MIT */
/* /v1/images: list, get, import and build (202 + operation), delete. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
                                 .cache_dir = d->cfg->cache_dir,
                                 .dev_packages = d->cfg->image_dev_packages};
}

/* A failure to start an image job: a taken name is about the request's "name", a bad
 * package list about "packages". */
static int reply_start_error(struct bg_http_request *req, const struct bg_error *err)
{
    const char *field = err->code == BG_ERR(BG_PROBLEM_IMAGE_EXISTS)    ? "name"
                        : err->code == BG_ERR(BG_PROBLEM_INVALID_FIELD) ? "packages"
                                                                        : NULL;

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

/* A decoded build body; the package names are the body's (valid while it lives). */
struct build_body {
    struct bg_imagebuild_request req;
    const char *names[BG_RECIPE_PACKAGES_MAX];
};

/* "packages": an array of package names, for recipe dev only. */
static int build_packages(const json_t *body, struct build_body *b, struct bg_field_error *f,
                          struct bg_error *err)
{
    json_t *list = json_object_get(body, "packages"), *v;
    struct bg_error e;
    size_t i;

    if (!list)
        return 0;
    if (b->req.recipe != BG_RECIPE_DEV) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "packages");
        return bg_error_set(err, -EINVAL, "packages is for recipe dev (recipe %s installs none)",
                            bg_recipe_name(b->req.recipe));
    }
    if (!json_is_array(list) || json_array_size(list) > BG_RECIPE_PACKAGES_MAX) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "packages");
        return bg_error_set(err, -EINVAL, "packages must be an array of at most %d package names",
                            BG_RECIPE_PACKAGES_MAX);
    }
    json_array_foreach (list, i, v) {
        const char *name = json_string_value(v);
        if (!name || strlen(name) != json_string_length(v) || bg_package_validate(name, &e) < 0) {
            bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "packages");
            return bg_error_set(err, -EINVAL, "packages[%zu]: %s", i,
                                name ? e.msg : "not a string");
        }
        b->names[i] = name;
    }
    b->req.packages = b->names;
    b->req.n_packages = json_array_size(list);
    return 0;
}

/* {"name": NAME, "recipe": "dev"|"minimal", "packages": [...]}, each optional (name
 * BG_IMAGEBUILD_DEFAULT_NAME, recipe BG_RECIPE_DEFAULT), nothing else. */
static int build_decode(const json_t *body, struct build_body *b, struct bg_field_error *f,
                        struct bg_error *err)
{
    static const char *const allowed[] = {"name", "recipe", "packages", NULL};
    json_t *recipe = json_object_get(body, "recipe");
    int r = bg_json_check_members(body, allowed, f, err);

    memset(b, 0, sizeof(*b));
    snprintf(b->req.name, sizeof(b->req.name), "%s", BG_IMAGEBUILD_DEFAULT_NAME);
    b->req.recipe = BG_RECIPE_DEFAULT;
    if (r >= 0)
        r = bg_json_get_name(body, "name", false, b->req.name, f, err);
    if (r >= 0 && recipe && bg_recipe_parse(json_string_value(recipe), &b->req.recipe, err) < 0)
        r = bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "recipe");
    if (r >= 0)
        r = build_packages(body, b, f, err);
    return r < 0 ? r : 0;
}

int bg_handle_images_build(struct bg_http_request *req)
{
    struct bg_image_ctx ctx = image_ctx(req);
    struct build_body b;
    struct bg_operation op;
    struct bg_field_error f;
    struct bg_error err;
    json_t *body;
    int mhd, r;

    if (bg_http_body_object(req, &body, &mhd) < 0)
        return mhd;
    if (build_decode(body, &b, &f, &err) < 0) {
        json_decref(body);
        return bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
    }
    r = bg_imagebuild_check(&b.req, &err);
    if (r >= 0)
        r = bg_imagebuild_start(&ctx, &b.req, &op, &err);
    json_decref(body);
    if (r < 0)
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
