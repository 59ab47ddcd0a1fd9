/* SPDX-License-Identifier: MIT */
/* GET /v1/system/version, /v1/system/info and /v1/system/doctor. */
#include <stdlib.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/fingerprint.h"
#include "banger/timefmt.h"
#include "doctor/doctor.h"
#include "rest/daemon.h"
#include "rest/handlers.h"

/* Features a client can test for instead of comparing version numbers: every one that ships
 * (openapi.yaml, SystemVersion.features, names them). */
static const char *const features[] = {
    "images",          "images.import", "images.build", "vms",
    "vms.patch",       "vms.lifecycle", "vms.console",  "vms.exec",
    "vms.exec.stream", "vms.workspace", "execs",        "operations",
    "operations.wait", "events",        "events.since", "vms.files",
    "vms.auto_remove", "vms.tunnel",    "tokens",       "tls",
};

int bg_handle_system_version(struct bg_http_request *req)
{
    json_t *list = json_array();
    for (size_t i = 0; i < BG_ARRAY_SIZE(features); i++)
        json_array_append_new(list, json_string(features[i]));
    return bg_http_reply_json(req, MHD_HTTP_OK,
                              json_pack("{s:s, s:s, s:o}", "api_version", "v1", "version",
                                        BANGER_VERSION, "features", list));
}

/* The TCP listener, for clients to pin its certificate; null without one. */
static json_t *tls_json(const struct bg_daemon *d)
{
    char hex[BG_FINGERPRINT_HEX_MAX];

    if (!d->tcp_address[0])
        return json_null();
    return json_pack("{s:s, s:s, s:s, s:b, s:b}", "address", d->tcp_address, "fingerprint",
                     bg_fingerprint_format(d->tls.fingerprint, hex), "certificate",
                     d->tls.cert_path, "generated", d->tls.generated, "client_certificates",
                     d->cfg->tls_client_fingerprints != NULL);
}

int bg_handle_system_info(struct bg_http_request *req)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    const struct bg_config *cfg = d->cfg;
    struct bg_error err;
    int64_t vms, images;
    char started[BG_TIME_STR_MAX];

    if (bg_store_vm_count(d->store, &vms, &err) < 0 ||
        bg_store_image_count(d->store, &images, &err) < 0)
        return bg_http_reply_internal(req, &err);
    json_t *info = json_pack(
        "{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:{s:I, s:I}}", "version", BANGER_VERSION,
        "mode", bg_config_mode_name(cfg->mode), "pid", (json_int_t)getpid(), "started_at",
        bg_time_format(d->started_at, started), "socket", cfg->socket, "state_dir", cfg->state_dir,
        "runtime_dir", cfg->runtime_dir, "database", d->db_path, "config", bg_config_to_json(cfg),
        "counts", "vms", (json_int_t)vms, "images", (json_int_t)images);
    /* set_new steals the new object */
    json_object_set_new(info, "vmm", bg_vm_runtime_vmm_json(d->runtime));
    json_object_set_new(info, "tls", tls_json(d));
    return bg_http_reply_json(req, MHD_HTTP_OK, info);
}

/* The default image for doctor: 1 ready, 0 not (its state in buf), -ENOENT. */
static int doctor_image(void *cls, const char *name, char *buf, size_t len)
{
    struct bg_image img = {0};
    struct bg_error err;
    int r = bg_store_image_get(cls, name, &img, &err);

    if (r < 0)
        return r;
    snprintf(buf, len, "%s", bg_image_state_name(img.state));
    r = img.state == BG_IMAGE_STATE_READY;
    bg_image_done(&img);
    return r;
}

int bg_handle_system_doctor(struct bg_http_request *req)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    const struct bg_install *in = &d->install;
    bool sys = d->cfg->mode == BG_CONFIG_MODE_SYSTEM;
    struct bg_doctor_env env = {
        .root = d->cfg->doctor_root ? d->cfg->doctor_root : "/",
        .image = doctor_image,
        .image_cls = d->store,
        .cfg = d->cfg,
        .db_path = d->db_path,
        .helper_socket = sys ? in->helper_socket : NULL,
        .firecracker = sys ? in->firecracker : NULL,
        .jailer = sys ? in->jailer : NULL,
        .bridge = sys && in->bridge[0] ? in->bridge : NULL,
        .owner = getuid(),
        .vmm_owner = 0,
        .disk_warn_bytes = BG_DOCTOR_DISK_WARN_BYTES,
        .disk_fail_bytes = BG_DOCTOR_DISK_FAIL_BYTES,
    };
    struct bg_doctor_report *r = bg_malloc(sizeof(*r));

    bg_doctor_run(&env, r);
    json_t *j = bg_doctor_to_json(r);
    free(r);
    return bg_http_reply_json(req, MHD_HTTP_OK, j);
}
