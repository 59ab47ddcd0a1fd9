/* SPDX-License-Identifier: MIT */
/* Certificate fingerprints as people type and read them: the SHA-256 of a certificate's DER,
 * shown as 64 lowercase hex digits, which clients pin. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/macro.h"

#define BG_FINGERPRINT_BYTES 32
#define BG_FINGERPRINT_HEX_MAX 65    /* 64 hex digits and the NUL */
#define BG_FINGERPRINT_INPUT_MAX 128 /* the longest spelling accepted: "sha256:" + AA:BB:... */

/* Parse a fingerprint: 64 hex digits in either case, optionally in pairs separated by ':'
 * (as openssl x509 -fingerprint prints them), optionally after "sha256:" or "SHA256:". The len
 * bytes at s may hold anything. Returns 0 with *ret, or -EINVAL with err saying what is wrong
 * (the input is not repeated). */
BG_PUBLIC int bg_fingerprint_parse(const char *s, size_t len, uint8_t ret[BG_FINGERPRINT_BYTES],
                                   struct bg_error *err);

/* fp as 64 lowercase hex digits into out. Returns out. */
BG_PUBLIC char *bg_fingerprint_format(const uint8_t fp[BG_FINGERPRINT_BYTES],
                                      char out[BG_FINGERPRINT_HEX_MAX]);
