/* SPDX-License-Identifier: MIT */
/* banger vm forward NAME [ADDR:]HOST_PORT:GUEST_PORT: a host port to a port inside a VM,
 * through a tunnel per connection, until interrupted. */
#pragma once

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "args.h"
#include "banger/error.h"

/* A parsed forward: where to listen on the host and the guest port. */
struct bg_cli_forward_spec {
    struct sockaddr_storage addr; /* the host address and port (IPv4 or IPv6) */
    socklen_t addr_len;
    char host[64];       /* the address as given ("127.0.0.1", "[::1]") for messages */
    uint16_t host_port;  /* 1..65535 */
    uint16_t guest_port; /* 1..65535 */
};

/* Parse "[ADDR:]HOST_PORT:GUEST_PORT": ADDR an IPv4 address, an IPv6 one in brackets, or
 * "localhost" (127.0.0.1), the default; ports 1..65535. -EINVAL with err naming what is
 * wrong. */
int bg_cli_forward_parse(const char *spec, struct bg_cli_forward_spec *ret, struct bg_error *err);

/* Run the command; returns 0 once interrupted (SIGINT, SIGTERM), or <0 with err: the VM is
 * not running, or the host port cannot be had ("taken" when another program listens). */
int bg_cli_forward_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err);
