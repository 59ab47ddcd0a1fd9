/* SPDX-License-Identifier: MIT */
/* Parsing and formatting SHA-256 certificate fingerprints. */
#include "banger/fingerprint.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The digits at s (n bytes) as bytes, with every pair followed by ':' (but the last) when
 * colons, else none. */
static int digits_decode(const char *s, size_t n, bool colons, uint8_t out[BG_FINGERPRINT_BYTES],
                         struct bg_error *err)
{
    size_t want = colons ? BG_FINGERPRINT_BYTES * 3 - 1 : BG_FINGERPRINT_BYTES * 2;

    if (n != want)
        return bg_error_set(err, -EINVAL,
                            "a SHA-256 fingerprint is 64 hex digits (or 32 pairs separated by "
                            "':'), not %zu characters",
                            n);
    for (size_t i = 0, at = 0; i < BG_FINGERPRINT_BYTES; i++) {
        int hi = hex_value((unsigned char)s[at]), lo = hex_value((unsigned char)s[at + 1]);
        if (hi < 0 || lo < 0)
            return bg_error_set(err, -EINVAL,
                                "a SHA-256 fingerprint holds hex digits only; character %zu is "
                                "not one",
                                at + (hi < 0 ? 1 : 2));
        out[i] = (uint8_t)(hi << 4 | lo);
        at += 2;
        if (colons && i + 1 < BG_FINGERPRINT_BYTES) {
            if (s[at] != ':')
                return bg_error_set(err, -EINVAL,
                                    "a SHA-256 fingerprint with ':' has one after every pair; "
                                    "character %zu is not ':'",
                                    at + 1);
            at++;
        }
    }
    return 0;
}

int bg_fingerprint_parse(const char *s, size_t len, uint8_t ret[BG_FINGERPRINT_BYTES],
                         struct bg_error *err)
{
    uint8_t fp[BG_FINGERPRINT_BYTES];

    if (len >= 7 && !strncasecmp(s, "sha256:", 7)) {
        s += 7;
        len -= 7;
    }
    bool colons = len > 2 && s[2] == ':';
    int r = digits_decode(s, len, colons, fp, err);
    if (r < 0)
        return r;
    memcpy(ret, fp, sizeof(fp));
    return 0;
}

char *bg_fingerprint_format(const uint8_t fp[BG_FINGERPRINT_BYTES],
                            char out[BG_FINGERPRINT_HEX_MAX])
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < BG_FINGERPRINT_BYTES; i++) {
        out[2 * i] = hex[fp[i] >> 4];
        out[2 * i + 1] = hex[fp[i] & 15];
    }
    out[2 * BG_FINGERPRINT_BYTES] = '\0';
    return out;
}
