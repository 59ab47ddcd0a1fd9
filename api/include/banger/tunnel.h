/* SPDX-License-Identifier: MIT */
/* The tunnel request: strict decoding of POST /v1/vms/{name}/tunnel bodies, which open a raw
 * byte stream to a TCP port inside the guest. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/problem.h"
#include "banger/sshkey.h"

#define BG_TUNNEL_UPGRADE_PROTOCOL "banger-tunnel/1"
/* The 101 answer's header with the guest's ssh host keys ("TYPE BASE64", comma-separated),
 * when the request asked for them. */
#define BG_TUNNEL_HOST_KEYS_HEADER "Banger-Ssh-Host-Keys"

/* A validated tunnel request. */
struct bg_tunnel_request {
    uint16_t port;                          /* 1..65535, on the guest's 127.0.0.1 */
    char authorized_key[BG_SSHKEY_MAX + 1]; /* "TYPE BASE64" for root's authorized_keys
                                             * before connecting, "" for none */
    bool host_keys;                         /* answer with the guest's ssh host keys */
};

/* Decode body strictly: {"port":N} required (1..65535), "authorized_key" (an OpenSSH public
 * key "TYPE BASE64", no comment; bg_sshkey_validate) and "host_keys" (boolean) optional.
 * Unknown members, wrong types and values out of range are refused with -EINVAL, f naming
 * the problem and field, err saying what is wrong. On success *ret is filled. */
BG_PUBLIC int bg_tunnel_request_decode(const json_t *body, struct bg_tunnel_request *ret,
                                       struct bg_field_error *f, struct bg_error *err);

/* True when r asks for ssh: an authorized key or the host keys. */
BG_PUBLIC bool bg_tunnel_request_is_ssh(const struct bg_tunnel_request *r);
