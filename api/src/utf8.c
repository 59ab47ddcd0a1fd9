/* SPDX-License-Identifier: MIT */
/* UTF-8: the sequence decoder, validation, cutting on character boundaries, lossy encoding. */
#include "banger/utf8.h"

#include <stdio.h>
#include <string.h>

#include "banger/alloc.h"

/* Bytes a sequence with lead byte c takes (1..4), or 0 when c cannot lead one. */
static size_t lead_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return 2;
    if (c >= 0xe0 && c <= 0xef)
        return 3;
    if (c >= 0xf0 && c <= 0xf4)
        return 4;
    return 0;
}

size_t bg_utf8_seq(const void *s, size_t n)
{
    const unsigned char *p = s;
    size_t len = lead_len(p[0]);

    if (len == 0 || len > n)
        return 0;
    unsigned cp = len > 1 ? p[0] & (0x7fu >> len) : p[0];
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

bool bg_utf8_valid(const void *s, size_t len)
{
    const char *p = s;

    for (size_t i = 0; i < len;) {
        size_t n = bg_utf8_seq(p + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

bool bg_utf8_printable(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return bg_utf8_valid(s, strlen(s));
}

/* True when the n bytes at p are the start of a sequence that the end of the text cut short. */
static bool cut_short(const unsigned char *p, size_t n)
{
    size_t want = lead_len(p[0]);

    if (want < 2 || n >= want)
        return false;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return false;
    return true;
}

size_t bg_utf8_cut(const char *s, size_t len, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    if (max > len)
        max = len;
    while (i < max) {
        size_t n = bg_utf8_seq(p + i, len - i);
        if (n == 0 && cut_short(p + i, len - i))
            break;
        n = n ? n : 1;
        if (i + n > max)
            break;
        i += n;
    }
    return i;
}

char *bg_utf8_lossy(const void *buf, size_t len, size_t *ret_len)
{
    const char *s = buf;
    /* every invalid byte becomes three */
    char *out = bg_malloc(len * 3 + 1);
    size_t o = 0;

    for (size_t i = 0; i < len;) {
        size_t n = bg_utf8_seq(s + i, len - i);
        if (n == 0) {
            memcpy(out + o, BG_UTF8_REPLACEMENT, 3);
            o += 3;
            i++;
            continue;
        }
        memcpy(out + o, s + i, n);
        o += n;
        i += n;
    }
    out[o] = '\0';
    if (ret_len)
        *ret_len = o;
    return out;
}

void bg_utf8_fix(char *s)
{
    size_t len = strlen(s);

    for (size_t i = 0; i < len;) {
        size_t n = bg_utf8_seq(s + i, len - i);
        if (n == 0) {
            s[i++] = '?';
            continue;
        }
        i += n;
    }
}

const char *bg_utf8_clip(char *buf, size_t size, const char *s)
{
    size_t len = strlen(s);

    if (len < size) {
        memcpy(buf, s, len + 1);
    } else {
        size_t n = bg_utf8_cut(s, len, size - 4);
        memcpy(buf, s, n);
        memcpy(buf + n, "...", 4);
    }
    bg_utf8_fix(buf);
    return buf;
}

size_t bg_utf8_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
    int r = vsnprintf(buf, size, fmt, ap);

    if (r < 0) /* an encoding error leaves buf undefined */
        buf[0] = '\0';
    size_t n = strlen(buf);
    if (r >= 0 && (size_t)r >= size) {
        n = bg_utf8_cut(buf, n, n);
        buf[n] = '\0';
    }
    bg_utf8_fix(buf);
    return n;
}

size_t bg_utf8_format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    size_t n = bg_utf8_vformat(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
