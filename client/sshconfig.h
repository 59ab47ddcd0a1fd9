/* SPDX-License-Identifier: MIT */
/* banger in the user's ssh configuration: the ssh options that make "NAME.vm" reach a VM
 * through banger (one table, written into banger's own included file and passed by
 * 'banger vm ssh' as -o), and the one managed Include in ~/.ssh/config, added and removed
 * without touching anything else in the file. */
#pragma once

#include <stddef.h>

#include "banger/error.h"
#include "sshkeys.h"

/* The marker line above banger's Include in ~/.ssh/config. */
#define BG_CLI_SSHCONFIG_MARK                                                                      \
    "# Added by 'banger ssh-config install' (ssh NAME.vm); 'banger ssh-config uninstall' "         \
    "removes it."

/* The options for a VM's ssh ("Keyword value" strings, NULL-terminated, new): user root,
 * banger's key only, banger's known_hosts with strict checking, and the ProxyCommand
 * "BANGER --socket SOCKET ssh-config proxy %n %p". banger and socket are absolute paths.
 * -EINVAL with err when a path holds what an ssh config cannot say (%, quotes, backslashes,
 * glob characters, control characters). */
int bg_cli_ssh_options(const struct bg_cli_ssh_paths *p, const char *banger, const char *socket,
                       char ***ret, struct bg_error *err);

/* banger's own file: a comment and "Host *.vm" with options indented. A new string. */
char *bg_cli_sshconfig_file(char *const *options);

/* The line that includes banger's file at path: Include "PATH". A new string. */
char *bg_cli_sshconfig_include(const char *path);

/* text (len bytes, an ~/.ssh/config) with banger's Include for path added at the top (an
 * Include inside a Host or Match block would apply only there), under BG_CLI_SSHCONFIG_MARK.
 * Returns 1 and a new *ret, or 0 (*ret NULL) when a line of text is that Include already. */
int bg_cli_sshconfig_add(const char *text, size_t len, const char *path, char **ret);

/* text without banger's lines: the marker and every line that is the Include for path (blanks
 * around them ignored); everything else is kept byte for byte. Returns 1 and a new *ret, or 0
 * (*ret NULL) when there was nothing of banger's. */
int bg_cli_sshconfig_remove(const char *text, size_t len, const char *path, char **ret);
