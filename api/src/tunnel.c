/* SPDX-License-Identifier: MIT */
/* Tunnel request codec: strict decoding of POST /v1/vms/{name}/tunnel bodies. */
#include "banger/tunnel.h"

#include <errno.h>
#include <string.h>

#include "banger/jsonutil.h"

static int decode_key(const json_t *body, struct bg_tunnel_request *r, struct bg_field_error *f,
                      struct bg_error *err)
{
    json_t *v = json_object_get(body, "authorized_key");
    struct bg_error kerr;

    if (!v)
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
        json_string_length(v) > BG_SSHKEY_MAX) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "authorized_key");
        return bg_error_set(err, -EINVAL,
                            "field 'authorized_key': must be a string of at most %d bytes",
                            BG_SSHKEY_MAX);
    }
    if (bg_sshkey_validate(json_string_value(v), json_string_length(v), &kerr) < 0) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "authorized_key");
        return bg_error_set(err, -EINVAL, "field 'authorized_key': %s", kerr.msg);
    }
    memcpy(r->authorized_key, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int bg_tunnel_request_decode(const json_t *body, struct bg_tunnel_request *ret,
                             struct bg_field_error *f, struct bg_error *err)
{
    static const char *const allowed[] = {"port", "authorized_key", "host_keys", NULL};
    struct bg_tunnel_request r = {0};
    uint64_t port = 0;
    int rc;

    if ((rc = bg_json_check_members(body, allowed, f, err)) < 0 ||
        (rc = bg_json_get_uint(body, "port", true, 1, UINT16_MAX, &port, f, err)) < 0 ||
        (rc = decode_key(body, &r, f, err)) < 0 ||
        (rc = bg_json_get_bool(body, "host_keys", false, &r.host_keys, f, err)) < 0)
        return rc;
    r.port = (uint16_t)port;
    *ret = r;
    return 0;
}

bool bg_tunnel_request_is_ssh(const struct bg_tunnel_request *r)
{
    return r->authorized_key[0] || r->host_keys;
}
