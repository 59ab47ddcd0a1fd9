/* SPDX-License-Identifier: MIT */
/* Tunnels to TCP ports inside a VM, client side: POST /v1/vms/{name}/tunnel upgraded to a raw
 * byte stream, and the relay between that stream and local fds. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "banger/error.h"
#include "upgrade.h"

/* What to open. Every pointer is borrowed for the call. */
struct bg_cli_tunnel_opts {
    const char *vm;             /* the VM's name */
    uint16_t port;              /* the guest port (on its 127.0.0.1) */
    const char *authorized_key; /* "TYPE BASE64" for root's authorized_keys first, or NULL */
    bool host_keys;             /* ask for the guest's ssh host keys */
};

/* Open the tunnel. Returns 0, *ret (free with bg_cli_upgrade_free) and, when asked, the
 * guest's ssh host keys in *ret_host_keys (NULL-terminated, each checked; free with
 * bg_strv_free; NULL when not asked). Fails like bg_cli_upgrade_open (the daemon's
 * refusal in err), or -EPROTO when the host keys are missing or malformed. */
int bg_cli_tunnel_open(const char *socket, const struct bg_cli_tunnel_opts *o,
                       struct bg_cli_upgrade **ret, char ***ret_host_keys, struct bg_error *err);

/* Relay between local fds and the tunnel u: what in_fd gives goes to the guest, its end as
 * a half-close (the guest reads end of stream); what the guest sends goes to out_fd, and the
 * guest's end shuts out_fd down for writing (a socket) or closes it. Returns once the guest's
 * side has ended and, when wait_input, in_fd's too, unless bangerd closes the tunnel first
 * (the guest closed its socket, the VM went away), or when either side failed. in_fd and
 * out_fd may be one socket. Returns 0, or <0 with err when a side failed. */
int bg_cli_tunnel_relay(struct bg_cli_upgrade *u, int in_fd, int out_fd, bool wait_input,
                        struct bg_error *err);
