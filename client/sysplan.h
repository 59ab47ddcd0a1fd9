/* SPDX-License-Identifier: MIT */
/* What `banger system install` puts on a host, computed without touching it: every directory
 * and file (target path, mode, owner, content) and every command, so that the executor
 * (cmd_sysinstall.c) applies, prints or reverses exactly this list. No I/O here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "banger/error.h"

#define BG_SYSPLAN_ARGV_MAX 8

enum bg_sysplan_kind {
    BG_SYSPLAN_DIR,
    BG_SYSPLAN_FILE,
};

/* What uninstall does with an entry. */
enum bg_sysplan_keep {
    BG_SYSPLAN_REMOVE,      /* a file, or a directory removed when empty */
    BG_SYSPLAN_REMOVE_TREE, /* the runtime directory: whatever the services left goes too */
    BG_SYSPLAN_PURGE,       /* user data: kept unless --purge, which removes the tree */
};

enum bg_sysplan_resolver {
    BG_SYSPLAN_RESOLVER_NONE,
    BG_SYSPLAN_RESOLVER_RESOLVED,       /* systemd-resolved: resolved.conf.d drop-in */
    BG_SYSPLAN_RESOLVER_DNSMASQ,        /* dnsmasq: dnsmasq.d drop-in */
    BG_SYSPLAN_RESOLVER_NETWORKMANAGER, /* NetworkManager's dnsmasq plugin: its dnsmasq.d */
};

struct bg_sysplan_entry {
    enum bg_sysplan_kind kind;
    enum bg_sysplan_keep keep;
    char *path; /* absolute, on the target host (without --root) */
    mode_t mode;
    uid_t uid;
    gid_t gid;
    char *content; /* BG_SYSPLAN_FILE */
};

struct bg_sysplan_cmd {
    char *argv[BG_SYSPLAN_ARGV_MAX + 1]; /* NULL-terminated */
};

struct bg_sysplan_opts {
    const char *owner; /* the owner's user name (for messages and the unit's User=) */
    uid_t uid;         /* not 0 */
    gid_t gid;
    const char *prefix;      /* absolute: <prefix>/bin/bangerd, <prefix>/sbin/bangerd-root */
    const char *firecracker; /* the VMM binary for install.toml, or NULL (none) */
    enum bg_sysplan_resolver resolver;
};

struct bg_sysplan {
    struct bg_sysplan_entry *entries; /* in creation order; uninstall walks it backwards */
    size_t n_entries;
    struct bg_sysplan_cmd *install_cmds; /* to run after the entries, on a systemd host */
    size_t n_install_cmds;
    struct bg_sysplan_cmd *uninstall_cmds; /* to run before the entries go */
    size_t n_uninstall_cmds;
    const char *resolver_note; /* what the resolver entry does, or why there is none */
};

/* Build the plan for o into *ret. -EINVAL with err for uid 0, a relative or empty prefix, an
 * owner name that cannot go into a unit file. On failure *ret is zeroed. */
int bg_sysplan_build(const struct bg_sysplan_opts *o, struct bg_sysplan *ret, struct bg_error *err);

void bg_sysplan_done(struct bg_sysplan *p);

/* The entry at path, or NULL. */
const struct bg_sysplan_entry *bg_sysplan_find(const struct bg_sysplan *p, const char *path);
