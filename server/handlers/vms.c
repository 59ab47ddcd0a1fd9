/* SPDX-License-Identifier: MIT */
/* /v1/vms: VM records (create, list, get, patch, delete). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "handlers.h"

static int reply_vm(struct bg_http_request *req, unsigned status, const struct bg_vm *vm)
{
    if (status == MHD_HTTP_CREATED) {
        char location[96];
        snprintf(location, sizeof(location), "/v1/vms/%s", vm->spec.name);
        return bg_http_reply_json_located(req, status, bg_vm_to_json(vm), location);
    }
    return bg_http_reply_json(req, status, bg_vm_to_json(vm));
}

/* Reply for a failed store lookup of the VM in the path. */
static int reply_vm_error(struct bg_http_request *req, const struct bg_error *err)
{
    if (err->code == -ENOENT)
        return bg_http_reply_problem(req, BG_PROBLEM_VM_NOT_FOUND, NULL,
                                     "no VM named '%s'; 'banger vm ls' lists them",
                                     req->params[0]);
    return bg_http_reply_internal(req, err);
}

int bg_handle_vms_list(struct bg_http_request *req)
{
    struct bg_daemon *d = req->daemon;
    const char *state_arg = bg_http_query(req, "state");
    enum bg_vm_state state;
    char etag[32];

    if (state_arg && bg_vm_state_parse(state_arg, &state) < 0)
        return bg_http_reply_problem(req, BG_PROBLEM_INVALID_QUERY, NULL,
                                     "state must be one of created, starting, running, "
                                     "stopping, stopped, failed (got '%.32s')",
                                     state_arg);
    /* Read the seq before the store, so the tag never claims newer data than the body. */
    int64_t seq = bg_events_latest(d->events);
    snprintf(etag, sizeof(etag), "\"%" PRId64 "\"", seq);
    const char *inm = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "If-None-Match");
    if (inm && !strcmp(inm, etag)) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        (void)MHD_add_response_header(resp, "ETag", etag);
        return bg_http_reply_response(req, MHD_HTTP_NOT_MODIFIED, resp);
    }

    struct bg_blob *body;
    struct bg_error err;
    if (bg_vmlist_get(d->vmlist, d->store, seq, state_arg ? &state : NULL, &body, &err) < 0)
        return bg_http_reply_internal(req, &err);
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
        body->len, body->data, bg_blob_unref, body);
    (void)MHD_add_response_header(resp, "Content-Type", "application/json");
    (void)MHD_add_response_header(resp, "ETag", etag);
    return bg_http_reply_response(req, MHD_HTTP_OK, resp);
}

int bg_handle_vms_get(struct bg_http_request *req)
{
    struct bg_vm vm;
    struct bg_error err;

    if (bg_store_vm_get(req->daemon->store, req->params[0], &vm, &err) < 0)
        return reply_vm_error(req, &err);
    return reply_vm(req, MHD_HTTP_OK, &vm);
}

/* The image a new VM names must exist and be ready. Returns 0 or replies and returns <0. */
static int check_image(struct bg_http_request *req, const char *name, int *ret_mhd)
{
    struct bg_image img = {0};
    struct bg_error err;

    if (bg_store_image_get(req->daemon->store, name, &img, &err) < 0) {
        *ret_mhd = err.code == -ENOENT
                       ? bg_http_reply_problem(req, BG_PROBLEM_IMAGE_NOT_FOUND, "image",
                                               "no image named '%s'; 'banger image ls' lists "
                                               "them, 'banger image import' adds one",
                                               name)
                       : bg_http_reply_internal(req, &err);
        return -1;
    }
    enum bg_image_state state = img.state;
    bg_image_done(&img);
    if (state == BG_IMAGE_STATE_READY)
        return 0;
    *ret_mhd = bg_http_reply_problem(
        req, BG_PROBLEM_IMAGE_NOT_READY, "image",
        state == BG_IMAGE_STATE_IMPORTING
            ? "image '%s' is still importing; wait for its operation to finish"
            : "image '%s' failed to import; remove it and import it again",
        name);
    return -1;
}

static void vm_defaults(const struct bg_config *cfg, struct bg_vm_defaults *def)
{
    def->vcpus = (uint32_t)cfg->vm_default_vcpus;
    def->memory_mib = (uint32_t)cfg->vm_default_memory_mib;
    def->disk_mib = cfg->vm_default_disk_mib;
}

int bg_handle_vms_create(struct bg_http_request *req)
{
    struct bg_daemon *d = req->daemon;
    struct bg_vm_defaults def;
    struct bg_field_error f;
    struct bg_error err;
    struct bg_vm vm = {.state = BG_VM_STATE_CREATED};
    json_t *body;
    int mhd;

    if (bg_http_body_object(req, &body, &mhd) < 0)
        return mhd;
    vm_defaults(d->cfg, &def);
    int r = bg_vm_spec_decode(body, &def, &vm.spec, &f, &err);
    json_decref(body);
    if (r < 0)
        return bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
    if (check_image(req, vm.spec.image, &mhd) < 0)
        return mhd;

    vm.created_at = vm.updated_at = time(NULL);
    if (bg_store_vm_insert(d->store, &vm, NULL, &err) < 0) {
        if (err.code == -EEXIST)
            return bg_http_reply_problem(req, BG_PROBLEM_VM_EXISTS, "name",
                                         "a VM named '%s' already exists", vm.spec.name);
        if (err.code == -ENOENT)
            return bg_http_reply_problem(req, BG_PROBLEM_IMAGE_NOT_FOUND, "image",
                                         "no image named '%s'", vm.spec.image);
        return bg_http_reply_internal(req, &err);
    }
    return reply_vm(req, MHD_HTTP_CREATED, &vm);
}

int bg_handle_vms_patch(struct bg_http_request *req)
{
    struct bg_daemon *d = req->daemon;
    struct bg_vm_patch patch;
    struct bg_field_error f;
    struct bg_error err;
    struct bg_vm vm;
    json_t *body;
    int mhd;

    if (bg_store_vm_get(d->store, req->params[0], &vm, &err) < 0)
        return reply_vm_error(req, &err);
    if (bg_http_body_object(req, &body, &mhd) < 0)
        return mhd;
    int r = bg_vm_patch_decode(body, &patch, &f, &err);
    json_decref(body);
    if (r < 0 || bg_vm_patch_apply(&patch, &vm, &f, &err) < 0)
        return bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
    vm.updated_at = time(NULL);
    if (bg_store_vm_update(d->store, &vm, NULL, &err) < 0)
        return reply_vm_error(req, &err);
    return reply_vm(req, MHD_HTTP_OK, &vm);
}

int bg_handle_vms_delete(struct bg_http_request *req)
{
    struct bg_error err;

    if (bg_store_vm_delete(req->daemon->store, req->params[0], NULL, &err) < 0)
        return reply_vm_error(req, &err);
    return bg_http_reply_empty(req, MHD_HTTP_NO_CONTENT);
}
