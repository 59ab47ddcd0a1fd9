/* SPDX-License-Identifier: MIT */
/* Whole writes: any blocking fd, and agent frames on a blocking socket (header plus payload with
 * the codec of agentproto.h), shared by the CLI, the root helper and bangerd. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "banger/macro.h"

/* write(2) all len bytes of buf to the blocking fd (a file, pipe or terminal), EINTR retried.
 * Returns 0 or -errno. */
BG_PUBLIC int bg_write_all(int fd, const void *buf, size_t len);

/* Send all len bytes of buf on the blocking socket fd: MSG_NOSIGNAL (a closed peer is an
 * error, never SIGPIPE), EINTR retried. Returns 0 or -errno (errno is left set). */
BG_PUBLIC int bg_agentio_send_all(int fd, const void *buf, size_t len);

/* Send one frame on fd: the encoded header {type, flags, channel, len}, then len bytes of
 * payload (borrowed; may be NULL when len is 0). The caller serializes writers and keeps
 * len <= BG_AGENT_PAYLOAD_MAX. Returns 0 or the errors of bg_agentio_send_all. */
BG_PUBLIC int bg_agentio_send_frame(int fd, uint8_t type, uint8_t flags, uint32_t channel,
                                    const void *payload, size_t len);
