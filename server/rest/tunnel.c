/* SPDX-License-Identifier: MIT */
/* POST /v1/vms/{name}/tunnel: upgraded to a raw byte stream to a TCP port inside the guest. */
#include <errno.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/tunnel.h"
#include "rest/daemon.h"
#include "rest/errors.h"
#include "rest/handlers.h"
#include "tunnel/tunnel.h"
#include "vm/runtime.h"

/* The lease's release: the VM runtime takes its connection back. */
static void release_conn(void *cls, struct bg_agent_conn *conn)
{
    bg_vm_agent_release(cls, conn);
}

/* Decode the body; replies and returns <0 on a refusal. */
static int decode_request(struct bg_http_request *req, struct bg_tunnel_request *ret, int *ret_mhd)
{
    struct bg_field_error f;
    struct bg_error err;
    json_t *body;

    if (!bg_http_wants_upgrade(req, BG_TUNNEL_UPGRADE_PROTOCOL)) {
        *ret_mhd = bg_http_reply_problem(req, BG_PROBLEM_UPGRADE_REQUIRED, NULL,
                                         "a tunnel is a byte stream: send 'Upgrade: %s' and "
                                         "'Connection: Upgrade'; 'banger vm tunnel' does that",
                                         BG_TUNNEL_UPGRADE_PROTOCOL);
        return -1;
    }
    if (bg_http_body_object(req, &body, ret_mhd) < 0)
        return -1;
    int r = bg_tunnel_request_decode(body, ret, &f, &err);
    json_decref(body);
    if (r < 0) {
        *ret_mhd = bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
        return -1;
    }
    return 0;
}

/* ssh needs the image's sshd, which the agent says it started (HELLO "sshd"). */
static int check_sshd(struct bg_http_request *req, struct bg_agent_conn *conn, int *ret_mhd)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    const char *name = req->params[0];
    struct bg_vm vm = {0};

    if (bg_agent_conn_has_sshd(conn))
        return 0;
    (void)bg_vm_get(d->runtime, name, &vm, NULL);
    *ret_mhd = bg_http_reply_problem(
        req, BG_PROBLEM_SSH_UNAVAILABLE, NULL,
        "vm '%s' has no ssh server: its image%s%s%s has no sshd (/usr/sbin/sshd), or it did not "
        "start ('banger vm console %s' says why); the minimal busybox image never has one: "
        "build the development image with 'banger image build --recipe dev' and make a VM of "
        "it, or use 'banger vm exec %s'",
        name, vm.spec.image[0] ? " '" : "", vm.spec.image, vm.spec.image[0] ? "'" : "", name, name);
    return -1;
}

/* The 101 answer's headers: the host keys, comma-separated, when asked. keys stay the
 * caller's; *ret_joined is what the list points into. */
static void host_keys_header(char *const *keys, bool asked, const char *headers[3],
                             char **ret_joined)
{
    size_t len = 1;

    *ret_joined = NULL;
    headers[0] = NULL;
    if (!asked)
        return;
    for (size_t i = 0; keys[i]; i++)
        len += strlen(keys[i]) + 2;
    char *joined = bg_calloc(1, len);
    for (size_t i = 0; keys[i]; i++) {
        if (i)
            strcat(joined, ", ");
        strcat(joined, keys[i]);
    }
    headers[0] = BG_TUNNEL_HOST_KEYS_HEADER;
    headers[1] = joined;
    headers[2] = NULL;
    *ret_joined = joined;
}

/* Open the guest connection and answer 101; the lease is the tunnel's from here on. */
static int open_tunnel(struct bg_http_request *req, struct bg_agent_conn *conn,
                       const struct bg_tunnel_request *tr)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    const char *name = req->params[0];
    struct bg_agent_connect_spec spec = {
        .port = tr->port,
        .authorized_key = tr->authorized_key[0] ? tr->authorized_key : NULL,
        .host_keys = tr->host_keys,
    };
    struct bg_tunnel_lease lease = {.conn = conn, .release = release_conn, .cls = d->runtime};
    struct bg_agent_session *sess = NULL;
    struct bg_tunnel *t = NULL;
    char **keys = NULL;
    struct bg_error err;
    int r = bg_agent_connect(conn, &spec, &sess, &keys, &err);

    if (r < 0) {
        bg_vm_agent_release(d->runtime, conn);
        (void)bg_error_prefix(&err, r, "vm '%s' port %u", name, tr->port);
        return bg_rest_reply_error(req, &err, BG_REST_VM, BG_PROBLEM_TUNNEL_FAILED, NULL);
    }
    if (bg_tunnel_new(d->tunnels, name, tr->port, sess, &lease, &t, &err) < 0) {
        bg_strv_free(keys);
        return bg_rest_reply_error(req, &err, BG_REST_VM, BG_PROBLEM_INTERNAL, NULL);
    }
    const char *headers[3];
    bg_autofree char *joined = NULL;
    host_keys_header(keys, tr->host_keys, headers, &joined);
    int mhd = bg_http_reply_upgrade_headers(req, BG_TUNNEL_UPGRADE_PROTOCOL, headers, bg_tunnel_run,
                                            t, bg_tunnel_free);
    bg_strv_free(keys);
    return mhd;
}

int bg_handle_vms_tunnel(struct bg_http_request *req)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    struct bg_tunnel_request tr;
    struct bg_agent_conn *conn = NULL;
    struct bg_error err;
    int mhd;

    if (decode_request(req, &tr, &mhd) < 0)
        return mhd;
    if (bg_vm_agent_acquire(d->runtime, req->params[0], &conn, &err) < 0)
        return bg_rest_reply_error(req, &err, BG_REST_VM, BG_PROBLEM_INTERNAL, NULL);
    if (bg_tunnel_request_is_ssh(&tr) && check_sshd(req, conn, &mhd) < 0) {
        bg_vm_agent_release(d->runtime, conn);
        return mhd;
    }
    bg_log_debug("tunnel to vm '%s' port %u%s", req->params[0], tr.port,
                 bg_tunnel_request_is_ssh(&tr) ? " (ssh)" : "");
    return open_tunnel(req, conn, &tr);
}
