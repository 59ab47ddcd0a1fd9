/* SPDX-License-Identifier: MIT */
/* banger's own ssh files, per user: the client key (ed25519, made with ssh-keygen on first
 * use) and the known_hosts file that holds each VM's current host keys, which come from the
 * guest's agent with every tunnel, so a VM made again under the same name never trips a
 * host-key warning while checking stays strict. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "banger/error.h"
#include "banger/sshkey.h"

/* The files, all under one directory (owned, 0700). */
struct bg_cli_ssh_paths {
    char *dir;         /* $XDG_CONFIG_HOME/banger/ssh, else ~/.config/banger/ssh */
    char *key;         /* dir/id_ed25519 (0600), with key.pub beside it */
    char *known_hosts; /* dir/known_hosts */
    char *config;      /* dir/config: what ~/.ssh/config includes */
    char *lock;        /* dir/lock: serializes key creation and known_hosts updates */
};

/* The paths for this user (from XDG_CONFIG_HOME, HOME, else the passwd entry). Creates dir
 * (0700) when create. Returns 0 or <0 with err; free with bg_cli_ssh_paths_done. */
int bg_cli_ssh_paths_get(struct bg_cli_ssh_paths *ret, bool create, struct bg_error *err);
void bg_cli_ssh_paths_done(struct bg_cli_ssh_paths *p);

/* The client key's public half as "TYPE BASE64" in buf (BG_SSHKEY_MAX + 1 bytes); the key is
 * made first when it does not exist (ssh-keygen -t ed25519, no passphrase; the private file
 * 0600). -ENOENT with advice when ssh-keygen is missing; other failures with err. */
int bg_cli_ssh_client_key(const struct bg_cli_ssh_paths *p, char *buf, struct bg_error *err);

/* The known_hosts name of a VM's sshd: "NAME.vm", or "[NAME.vm]:PORT" for another port than 22.
 * Writes at most size bytes into buf. */
void bg_cli_ssh_host_name(const char *vm, unsigned port, char *buf, size_t size);

/* text (len bytes) with host's entries replaced by one line "host KEY" per key (keys
 * NULL-terminated, "TYPE BASE64"): host is taken out of every plain (unhashed, unmarked)
 * entry that names it, a line naming nothing else is dropped, every other line is kept byte
 * for byte, and the new lines come last. A new string. */
char *bg_cli_known_hosts_set(const char *text, size_t len, const char *host, char *const *keys);

/* Record keys as host's in p's known_hosts (under the lock; through a temporary file and
 * rename; left alone when nothing changes). 0 or <0 with err. */
int bg_cli_known_hosts_update(const struct bg_cli_ssh_paths *p, const char *host, char *const *keys,
                              struct bg_error *err);

/* Split a tunnel's host-keys header ("TYPE BASE64, TYPE BASE64") into a new NULL-terminated
 * list, each key checked with bg_sshkey_validate. -EPROTO with err when one is not a key or
 * there is none. */
int bg_cli_ssh_host_keys_parse(const char *header, char ***ret, struct bg_error *err);
