/* SPDX-License-Identifier: MIT */
/* The agent's listening sockets: the guest's vsock port, which Firecracker's hybrid vsock
 * reaches, and a unix socket path (tests, the Firecracker double). */
#pragma once

#include <stdint.h>

#include "banger/agentproto.h"
#include "banger/error.h"

/* How the host reaches the agent: the kernel command line's banger.agent= word. */
enum bg_agent_channel {
    BG_AGENT_CHANNEL_PORT,  /* absent or "port": the virtio-serial port (QEMU) */
    BG_AGENT_CHANNEL_VSOCK, /* "vsock": listen on BG_AGENT_VSOCK_PORT (Firecracker) */
};

/* The channel the last banger.agent= word of cmdline asks for. Returns 0, or -EINVAL with err
 * for another value (*ret untouched). */
int bg_agent_channel_parse(const char *cmdline, enum bg_agent_channel *ret, struct bg_error *err);

/* Listen on vsock port on any local CID, retrying until deadline_ms (bg_now_ms clock) while
 * the vsock transport is not registered yet. *ret_fd is O_CLOEXEC. Returns 0 or <0 with err. */
int bg_listener_vsock(uint32_t port, int64_t deadline_ms, int *ret_fd, struct bg_error *err);

/* Listen on the unix socket path, replacing a stale socket there (any other file is left
 * alone). *ret_fd is O_CLOEXEC. Returns 0 or <0 with err. */
int bg_listener_unix(const char *path, int *ret_fd, struct bg_error *err);
