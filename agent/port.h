/* SPDX-License-Identifier: MIT */
/* The guest end of the agent channel on QEMU: the virtio-serial port named banger.agent. */
#pragma once

#include <stdint.h>

#include "banger/error.h"
#include "serve.h"

#define BG_PORT_NAME "banger.agent"

/* Find the port (/dev/virtio-ports/banger.agent, or the /dev/vport*p* whose
 * /sys/class/virtio-ports/<dev>/name says banger.agent) and open it, retrying until
 * deadline_ms (bg_now_ms clock) while the device is not there yet. *ret_fd is O_CLOEXEC and
 * non-blocking. Returns 0, or -ENOENT (or the open error) with err at the deadline. */
int bg_port_open(int64_t deadline_ms, int *ret_fd, struct bg_error *err);

/* Return once the host side of the port is connected and has sent bytes. While it is not
 * (poll reports POLLHUP, reads return 0), reap children through s every few milliseconds. */
void bg_port_wait_host(int fd, struct bg_serve *s);
