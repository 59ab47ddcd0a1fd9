/* SPDX-License-Identifier: MIT */
/* OpenSSH public keys as they cross a wire: "TYPE BASE64", checked strictly, shared by the CLI
 * (its own key), the daemon (tunnel requests, what the guest reports) and the agent (what it
 * writes into authorized_keys). */
#pragma once

#include <stddef.h>

#include "banger/error.h"
#include "banger/macro.h"

/* Bytes of one key as "TYPE BASE64" (an RSA key of 16384 bits stays under it). */
#define BG_SSHKEY_MAX 4096

/* Check that s (len bytes, not NUL-terminated) is exactly one public key "TYPE BASE64": TYPE
 * one of ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa,
 * sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com; one space; BASE64 canonical
 * (padded) base64 of a key blob whose first field is TYPE again. No options, no comment, no
 * other whitespace, at most BG_SSHKEY_MAX bytes. Returns 0 or -EINVAL with err saying which
 * rule broke. */
BG_PUBLIC int bg_sshkey_validate(const char *s, size_t len, struct bg_error *err);

/* The key of one line of a .pub file or authorized_keys entry without options,
 * "TYPE BASE64 [COMMENT]": writes "TYPE BASE64" (valid as above) into buf (size bytes,
 * NUL-terminated). Surrounding whitespace and the line's end are ignored. Returns 0 or -EINVAL
 * with err (also when the key does not fit in buf). */
BG_PUBLIC int bg_sshkey_from_line(const char *line, size_t len, char *buf, size_t size,
                                  struct bg_error *err);
