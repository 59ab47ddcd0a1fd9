/* SPDX-License-Identifier: MIT */
/* /etc/banger/install.toml: what a system install decided, read by both bangerd (whether it is
 * in system mode, where its helper is) and bangerd-root (whom it serves, what it may touch).
 * Same format and strictness as bangerd's config (banger/kvfile.h): every refusal names
 * file:line and the key. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"
#include "banger/macro.h"

#define BG_INSTALL_FILE "/etc/banger/install.toml"
#define BG_INSTALL_IFNAME_MAX 15 /* IFNAMSIZ less the terminator */

/* Parsed install.toml. Strings are owned (bg_install_done). Every path is absolute and
 * normalised. */
struct bg_install {
    char *path;      /* the file read */
    uid_t owner_uid; /* owner_uid (required): the only uid the helper serves; not 0 */
    gid_t owner_gid; /* owner_gid: default owner_uid */
    char bridge[BG_INSTALL_IFNAME_MAX + 1]; /* bridge: default "bgbr0"; [a-z0-9-], starts "bg" */
    uint32_t subnet;        /* subnet: network address, host order (default 10.77.0.0/24) */
    unsigned prefix;        /* subnet's prefix length, 16..29 */
    uint16_t dns_port;      /* dns_port: where guests reach banger's DNS on the bridge
                             * address (default 42069) */
    char *helper_socket;    /* helper_socket: default /run/banger/helper.sock */
    char *helper_state_dir; /* helper_state_dir: the helper's own records, root's alone
                             * (default /var/lib/banger-helper) */
    char *runtime_dir;      /* runtime_dir: default /run/banger; VMM sockets live in
                             * <runtime_dir>/vms/<name>/ */
    char *state_dir;        /* state_dir: default /var/lib/banger; disks live there */
    char *firecracker;      /* firecracker: the only VMM binary the helper launches; NULL
                             * when not set (launch refused) */
    char *jailer;           /* jailer: when set, Firecracker runs under this jailer */
    char *jail_dir;         /* jail_dir: the jailer's --chroot-base-dir (default
                             * /srv/banger-jail) */
};

/* Read path into *ret. -ENOENT when it does not exist (no system install); -EINVAL, -ERANGE,
 * -E2BIG with err "PATH:LINE: key 'k': why" for a bad line, unknown or repeated key, a value
 * of the wrong type or range, a subnet that is not private, a missing owner_uid. On failure
 * *ret is zeroed (bg_install_done is still safe). */
BG_PUBLIC int bg_install_load(const char *path, struct bg_install *ret, struct bg_error *err);

/* Free what i owns and zero it; accepts a zeroed one. */
BG_PUBLIC void bg_install_done(struct bg_install *i);

/* "10.77.0.0/24" style text of an address (host order) and prefix into buf (>= 19 bytes). */
BG_PUBLIC void bg_install_cidr(uint32_t addr, unsigned prefix, char *buf, size_t len);

/* Parse dotted-quad IPv4 text (no prefix, no leading zeros) into *ret (host order). -EINVAL. */
BG_PUBLIC int bg_ipv4_parse(const char *s, uint32_t *ret, struct bg_error *err);
