/* SPDX-License-Identifier: MIT */
/* /v1/vms: VM records (create, list, get, patch, delete) and their lifecycle (start, stop,
 * console). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "banger/jsonutil.h"
#include "banger/parse.h"
#include "banger/utf8.h"
#include "http/etag.h"
#include "rest/daemon.h"
#include "rest/errors.h"
#include "rest/handlers.h"
#include "vm/runtime.h"

#define STOP_TIMEOUT_DEFAULT_S 30
#define STOP_TIMEOUT_MAX_S 300
#define CONSOLE_TAIL_DEFAULT 65536
#define CONSOLE_TAIL_MAX (1u << 20)

static int reply_vm(struct bg_http_request *req, unsigned status, const struct bg_vm *vm)
{
    if (status == MHD_HTTP_CREATED) {
        char location[96];
        snprintf(location, sizeof(location), "/v1/vms/%s", vm->spec.name);
        return bg_http_reply_json_located(req, status, bg_vm_to_json(vm), location);
    }
    return bg_http_reply_json(req, status, bg_vm_to_json(vm));
}

/* Reply for a failure about the VM in the path (or named in the body). */
static int reply_error(struct bg_http_request *req, const struct bg_error *err)
{
    return bg_rest_reply_error(req, err, BG_REST_VM, BG_PROBLEM_INTERNAL, NULL);
}

int bg_handle_vms_list(struct bg_http_request *req)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    const char *state_arg = bg_http_query(req, "state");
    enum bg_vm_state state;
    char etag[32];

    if (state_arg && bg_vm_state_parse(state_arg, &state) < 0)
        return bg_http_reply_problem(req, BG_PROBLEM_INVALID_QUERY, NULL,
                                     "state must be one of created, starting, running, "
                                     "stopping, stopped, failed (got '%s')",
                                     BG_QUOTE(state_arg));
    /* Read the seq before the store, so the tag never claims newer data than the body. */
    int64_t seq = bg_events_latest(d->events);
    snprintf(etag, sizeof(etag), "\"%" PRId64 "\"", seq);
    const char *inm = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "If-None-Match");
    if (inm && bg_http_etag_match(inm, etag)) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        (void)MHD_add_response_header(resp, "ETag", etag);
        return bg_http_reply_response(req, MHD_HTTP_NOT_MODIFIED, resp);
    }

    struct bg_blob *body;
    struct bg_error err;
    if (bg_vmlist_get(d->vmlist, d->store, seq, state_arg ? &state : NULL, &body, &err) < 0)
        return reply_error(req, &err);
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

    if (bg_vm_get(bg_rest_daemon(req)->runtime, req->params[0], &vm, &err) < 0)
        return reply_error(req, &err);
    return reply_vm(req, MHD_HTTP_OK, &vm);
}

static bool vm_is_active(enum bg_vm_state s)
{
    return s == BG_VM_STATE_STARTING || s == BG_VM_STATE_RUNNING || s == BG_VM_STATE_STOPPING;
}

/* Reply for a failed bg_vm_start of VM name. */
static int reply_start_error(struct bg_http_request *req, const char *name,
                             const struct bg_error *err)
{
    struct bg_error e2;
    struct bg_vm vm;

    /* a start that failed once under way recorded the whole story, the console's tail with
     * it, in the VM's error; err holds only its first line */
    if (err->code == BG_ERR(BG_PROBLEM_VM_START_FAILED) &&
        bg_vm_get(bg_rest_daemon(req)->runtime, name, &vm, &e2) == 0 && vm.error[0])
        return bg_http_reply_problem(req, BG_PROBLEM_VM_START_FAILED, NULL, "%s", vm.error);
    return bg_rest_reply_error(req, err, BG_REST_VM, BG_PROBLEM_VM_START_FAILED, NULL);
}

static bool client_gone(void *cls)
{
    return bg_http_client_gone(cls);
}

/* Boot VM name and reply with it and the timings. The boot of an auto-remove VM stops when its
 * client goes away: the VM is deleted then anyway. */
static int start_and_reply(struct bg_http_request *req, const char *name, unsigned status)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    struct bg_vm_cancel cancel = {.fn = client_gone, .cls = req};
    struct bg_vm_timings t;
    struct bg_error err;
    struct bg_vm vm;
    char location[96];

    bool auto_remove = bg_vm_get(d->runtime, name, &vm, &err) == 0 && vm.spec.auto_remove;
    if (bg_vm_start_cancellable(d->runtime, name, auto_remove ? &cancel : NULL, &t, &err) < 0)
        return reply_start_error(req, name, &err);
    if (bg_vm_get(d->runtime, name, &vm, &err) < 0)
        return reply_error(req, &err);
    json_t *j = bg_vm_to_json(&vm);
    json_object_set_new(j, "timings",
                        json_pack("{s:I, s:I, s:I}", "disks_ms", (json_int_t)t.disks_ms,
                                  "vmm_start_ms", (json_int_t)t.vmm_start_ms, "boot_ms",
                                  (json_int_t)t.boot_ms));
    if (status != MHD_HTTP_CREATED)
        return bg_http_reply_json(req, status, j);
    snprintf(location, sizeof(location), "/v1/vms/%s", vm.spec.name);
    return bg_http_reply_json_located(req, status, j, location);
}

static void release_hold(void *cls)
{
    bg_vm_hold_release(cls);
}

/* Tie the auto-remove VM name to the connection req came on: it is deleted when that closes.
 * Returns 0, or -1 with the refusal replied (the VM then deleted at once). */
static int hold_for_connection(struct bg_http_request *req, const char *name, int *ret_mhd)
{
    struct bg_vm_hold *hold = bg_vm_hold_new(bg_rest_daemon(req)->runtime, name);

    if (bg_http_on_close(req, release_hold, hold) == 0)
        return 0;
    bg_vm_hold_release(hold);
    *ret_mhd = bg_http_reply_problem(req, BG_PROBLEM_INVALID_FIELD, "auto_remove",
                                     "one connection holds at most %d auto-remove VMs; open "
                                     "another connection for this one",
                                     BG_HTTP_CLOSE_HOOKS_MAX);
    return -1;
}

static void vm_defaults(const struct bg_config *cfg, struct bg_vm_defaults *def)
{
    def->image = cfg->vm_default_image;
    def->vcpus = (uint32_t)cfg->vm_default_vcpus;
    def->memory_mib = (uint32_t)cfg->vm_default_memory_mib;
    def->disk_mib = cfg->vm_default_disk_mib;
}

int bg_handle_vms_create(struct bg_http_request *req)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    struct bg_vm_defaults def;
    struct bg_field_error f;
    struct bg_error err;
    struct bg_vm vm = {.state = BG_VM_STATE_CREATED};
    bool start = false;
    const char *field;
    json_t *body;
    int mhd;

    if (bg_http_body_object(req, &body, &mhd) < 0)
        return mhd;
    vm_defaults(d->cfg, &def);
    bool default_image = !json_object_get(body, "image");
    /* "start" asks for a boot right after the record exists; it is not part of the VM */
    int r = bg_json_get_bool(body, "start", false, &start, &f, &err);
    if (r >= 0) {
        (void)json_object_del(body, "start");
        r = bg_vm_spec_decode(body, &def, &vm.spec, &f, &err);
    }
    json_decref(body);
    if (r < 0)
        return bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
    vm.created_at = vm.updated_at = time(NULL);
    if (bg_vm_create(d->runtime, &vm, &field, &err) < 0) {
        /* the default image that is not there yet: say which command makes it */
        if (default_image && err.code == BG_ERR(BG_PROBLEM_IMAGE_NOT_FOUND))
            return bg_http_reply_problem(
                req, BG_PROBLEM_IMAGE_NOT_FOUND, "image",
                "no image '%s' (the default image, vm_default_image): make it with 'banger image "
                "build%s%s' (a Debian 12 development image), or name another with --image",
                vm.spec.image, strcmp(vm.spec.image, "default") ? " " : "",
                strcmp(vm.spec.image, "default") ? vm.spec.image : "");
        return bg_rest_reply_error(req, &err, BG_REST_VM, BG_PROBLEM_INTERNAL, field);
    }
    if (vm.spec.auto_remove && hold_for_connection(req, vm.spec.name, &mhd) < 0)
        return mhd;
    if (start)
        return start_and_reply(req, vm.spec.name, MHD_HTTP_CREATED);
    return reply_vm(req, MHD_HTTP_CREATED, &vm);
}

int bg_handle_vms_patch(struct bg_http_request *req)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    struct bg_vm_patch patch;
    struct bg_vm_entry *lock;
    struct bg_field_error f;
    struct bg_error err;
    struct bg_vm vm;
    json_t *body;
    int mhd;

    if (bg_http_body_object(req, &body, &mhd) < 0)
        return mhd;
    int r = bg_vm_patch_decode(body, &patch, &f, &err);
    json_decref(body);
    if (r < 0)
        return bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
    /* under the VM's lifecycle lock, so a start cannot slip between the check and the write */
    lock = bg_vm_lock(d->runtime, req->params[0]);
    r = bg_vm_get(d->runtime, req->params[0], &vm, &err);
    if (r < 0)
        mhd = reply_error(req, &err);
    else if (vm_is_active(vm.state))
        mhd = bg_http_reply_problem(req, BG_PROBLEM_VM_RUNNING, NULL,
                                    "vm '%s' is %s; stop it first (changes apply at the next "
                                    "start)",
                                    vm.spec.name, bg_vm_state_name(vm.state));
    else if (bg_vm_patch_apply(&patch, &vm, &f, &err) < 0)
        mhd = bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
    else if ((vm.updated_at = time(NULL)), bg_store_vm_update(d->store, &vm, NULL, &err) < 0)
        mhd = reply_error(req, &err);
    else
        mhd = reply_vm(req, MHD_HTTP_OK, &vm);
    bg_vm_unlock(d->runtime, lock);
    return mhd;
}

int bg_handle_vms_delete(struct bg_http_request *req)
{
    const char *force_arg = bg_http_query(req, "force");
    struct bg_error err;
    bool force = false;

    if (force_arg && strcmp(force_arg, "true") && strcmp(force_arg, "false"))
        return bg_http_reply_problem(req, BG_PROBLEM_INVALID_QUERY, NULL,
                                     "force must be true or false (got '%s')", BG_QUOTE(force_arg));
    force = force_arg && !strcmp(force_arg, "true");
    if (bg_vm_destroy(bg_rest_daemon(req)->runtime, req->params[0], force, &err) < 0)
        return reply_error(req, &err);
    return bg_http_reply_empty(req, MHD_HTTP_NO_CONTENT);
}

int bg_handle_vms_start(struct bg_http_request *req)
{
    return start_and_reply(req, req->params[0], MHD_HTTP_OK);
}

/* ?NAME=N within [min, max], default def; replies 400 and returns <0 when malformed. */
static int query_u64(struct bg_http_request *req, const char *name, uint64_t min, uint64_t max,
                     uint64_t def, uint64_t *ret, int *ret_mhd)
{
    const char *arg = bg_http_query(req, name);
    struct bg_error err;

    *ret = def;
    if (!arg || bg_parse_u64(arg, min, max, ret, &err) == 0)
        return 0;
    *ret_mhd =
        bg_http_reply_problem(req, BG_PROBLEM_INVALID_QUERY, NULL,
                              "%s must be an integer from %" PRIu64 " to %" PRIu64 " (got '%s')",
                              name, min, max, BG_QUOTE(arg));
    return -1;
}

int bg_handle_vms_stop(struct bg_http_request *req)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    struct bg_error err;
    struct bg_vm vm;
    uint64_t timeout_s;
    int mhd;

    if (query_u64(req, "timeout", 1, STOP_TIMEOUT_MAX_S, STOP_TIMEOUT_DEFAULT_S, &timeout_s, &mhd) <
        0)
        return mhd;
    if (bg_vm_stop(d->runtime, req->params[0], (int)timeout_s * 1000, &err) < 0 ||
        bg_vm_get(d->runtime, req->params[0], &vm, &err) < 0)
        return reply_error(req, &err);
    return reply_vm(req, MHD_HTTP_OK, &vm);
}

int bg_handle_vms_console(struct bg_http_request *req)
{
    struct bg_error err;
    uint64_t tail;
    size_t len;
    char *text;
    int mhd;

    if (query_u64(req, "tail", 1, CONSOLE_TAIL_MAX, CONSOLE_TAIL_DEFAULT, &tail, &mhd) < 0)
        return mhd;
    if (bg_vm_console_tail(bg_rest_daemon(req)->runtime, req->params[0], (size_t)tail, &text, &len,
                           &err) < 0)
        return reply_error(req, &err);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback_cls(len, text, free, text);
    (void)MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    return bg_http_reply_response(req, MHD_HTTP_OK, resp);
}
