/* SPDX-License-Identifier: MIT */
/* Remote daemons: the remotes file (JSON, mode 0600, $XDG_CONFIG_HOME/banger/remotes.json),
 * their URLs, token files, and which endpoint a command line and environment choose. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "args.h"
#include "banger/error.h"
#include "http.h"

#define BG_CLI_REMOTES_MAX 64
#define BG_CLI_REMOTES_FILE_MAX (256 * 1024)
#define BG_CLI_URL_MAX 512
#define BG_CLI_TOKEN_FILE_MAX 4096

/* Every remote of the file, in its order. Owned (bg_cli_remotes_done). */
struct bg_cli_remotes {
    struct bg_cli_remote *list;
    size_t n;
};

/* Parse the text of a remotes file (len bytes, any bytes), strictly:
 *   {"remotes": {"NAME": {"url": "https://HOST:PORT", "token": "bgr_...",
 *                         "fingerprint": "64 hex digits" (absent: the system's CAs decide),
 *                         "client_cert": "PATH", "client_key": "PATH" (both or neither)}}}
 * NAME a DNS label, at most BG_CLI_REMOTES_MAX of them, no other member anywhere. -EINVAL
 * with err naming the remote and member (a token is never repeated). */
int bg_cli_remotes_parse(const char *text, size_t len, struct bg_cli_remotes *ret,
                         struct bg_error *err);
/* The file's text for rs (a new string), which bg_cli_remotes_parse reads back. */
char *bg_cli_remotes_format(const struct bg_cli_remotes *rs);
/* Free what rs owns and zero it. Accepts a zeroed rs. */
void bg_cli_remotes_done(struct bg_cli_remotes *rs);

/* $XDG_CONFIG_HOME/banger/remotes.json, else $HOME/.config/banger/remotes.json; -ENOENT when
 * neither variable is set. Caller frees. */
int bg_cli_remotes_path(char **ret, struct bg_error *err);
/* Read path: a missing file is no remotes; one that others may read or write is refused (it
 * holds tokens), as are the errors of bg_cli_remotes_parse, prefixed with the path. */
int bg_cli_remotes_load(const char *path, struct bg_cli_remotes *ret, struct bg_error *err);
/* Write rs to path (mode 0600, its directory made 0700), through a temporary file. */
int bg_cli_remotes_save(const char *path, const struct bg_cli_remotes *rs, struct bg_error *err);
/* The remote called name, or NULL. */
struct bg_cli_remote *bg_cli_remotes_find(const struct bg_cli_remotes *rs, const char *name);
/* Remove the remote called name; false when there is none. */
bool bg_cli_remotes_remove(struct bg_cli_remotes *rs, const char *name);
/* Append r (its strings taken; r zeroed). */
void bg_cli_remotes_add_take(struct bg_cli_remotes *rs, struct bg_cli_remote *r);

/* Check a remote's URL: "https://HOST[:PORT]" with HOST a name, an IPv4 address or an IPv6 one
 * in brackets, an optional trailing '/', and nothing else (no user, path, query). *ret is it
 * without the '/'. -EINVAL saying what is wrong. */
int bg_cli_remote_url_parse(const char *url, char **ret, struct bg_error *err);

/* The token in the file at path: its first line, spaces and CR trimmed, which must be a banger
 * token. *ret is the caller's. -EINVAL when it is not (the file's content is not repeated). */
int bg_cli_remote_token_read(const char *path, char **ret, struct bg_error *err);

/* Where this command goes. A remote when: --remote NAME (from the remotes file); else
 * BANGER_HOST (a URL; BANGER_TOKEN required; BANGER_FINGERPRINT pins the certificate, else the
 * system's CAs decide; BANGER_CLIENT_CERT and BANGER_CLIENT_KEY); else BANGER_REMOTE=NAME.
 * --socket and --system choose the unix socket over all of them. Returns 1 with *ret filled
 * for a remote, 0 for the unix socket, or a negative errno with err saying what is wrong. */
int bg_cli_remote_resolve(const struct bg_cli_args *a, struct bg_cli_remote *ret,
                          struct bg_error *err);
