/* SPDX-License-Identifier: MIT */
/* Tunnels: after "101 Switching Protocols" the client socket carries raw bytes to and from a
 * TCP port inside the guest, through an agent TCP channel, with the channel's credit flow
 * control end to end and half-closes passed on in both directions. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "banger/error.h"
#include "guest/agentconn.h"

/* The tunnels running in bangerd, so a shutdown can end them. */
struct bg_tunnels;
/* One tunnel: an open TCP channel waiting for its client's upgrade, then the proxy. */
struct bg_tunnel;

/* A VM's agent connection on loan, and how to give it back. */
struct bg_tunnel_lease {
    struct bg_agent_conn *conn; /* borrowed from the VM runtime */
    /* gives conn back (called once, when the tunnel ends); cls is the handler's */
    void (*release)(void *cls, struct bg_agent_conn *conn);
    void *cls;
};

/* A new, empty registry. Never fails. */
struct bg_tunnels *bg_tunnels_new(void);
/* Free the registry (every tunnel must have ended). Accepts NULL. */
void bg_tunnels_free(struct bg_tunnels *reg);
/* Shutdown: refuse new tunnels and end the running ones (their client sockets are shut
 * down, their guest connections closed). */
void bg_tunnels_close(struct bg_tunnels *reg);

/* A tunnel of VM vm's port over sess (an open TCP channel from bg_agent_connect, taken: the
 * tunnel frees it even on failure) on the connection of lease (copied; released when the
 * tunnel ends, also when it never runs or on failure), in reg (borrowed: it must outlive the
 * tunnel). Returns 0 and *ret, or -ESHUTDOWN after bg_tunnels_close. */
int bg_tunnel_new(struct bg_tunnels *reg, const char *vm, uint16_t port,
                  struct bg_agent_session *sess, const struct bg_tunnel_lease *lease,
                  struct bg_tunnel **ret, struct bg_error *err);

/* The bg_http_upgrade_fn: proxy between the client socket fd and the guest until both
 * directions have ended (the client's end of input is passed on as a half-close, and so is
 * the guest's), or either side goes away (the other is then closed), then free the tunnel. */
void bg_tunnel_run(void *tunnel, int fd, const char *extra, size_t extra_len);

/* Free a tunnel that never ran (the client left before the upgrade): its guest connection is
 * closed. */
void bg_tunnel_free(void *tunnel);
