/* SPDX-License-Identifier: MIT */
/* UTF-8 at every boundary: validate, cut on a character boundary, and a lossy encoder. The one
 * decoder of banger: every check of text that crosses a wire goes through bg_utf8_seq. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "banger/macro.h"

/* What replaces a byte that is not part of a well-formed sequence: U+FFFD. */
#define BG_UTF8_REPLACEMENT "\xef\xbf\xbd"

/* Length (1..4) of the well-formed UTF-8 sequence at s, of which n >= 1 bytes are readable, or
 * 0 when the bytes there are not one: a stray continuation byte, an overlong form, a surrogate,
 * a code point past U+10FFFF, or a sequence that n cuts short. NUL is a valid character. */
BG_PUBLIC size_t bg_utf8_seq(const void *s, size_t n);

/* True when the len bytes at s are well-formed UTF-8 (NUL bytes count as characters). */
BG_PUBLIC bool bg_utf8_valid(const void *s, size_t len);

/* True when the C string s is well-formed UTF-8 without control characters (U+0000..U+001F,
 * U+007F): text that may go into a header, a log line or a path. */
BG_PUBLIC bool bg_utf8_printable(const char *s);

/* The longest prefix of the len bytes at s of at most max bytes that does not end inside a
 * sequence: a well-formed character is never split, and a lead byte whose continuation is
 * missing at the end is dropped. Invalid bytes elsewhere count as one byte each. */
BG_PUBLIC size_t bg_utf8_cut(const char *s, size_t len, size_t max);

/* The len bytes at buf as well-formed UTF-8: every byte that is not part of a well-formed
 * sequence becomes U+FFFD. A new NUL-terminated string (NUL bytes of buf are kept, so use
 * *ret_len, which may be NULL, for the length). Never fails. */
BG_PUBLIC char *bg_utf8_lossy(const void *buf, size_t len, size_t *ret_len);

/* Make the C string s well-formed in place, keeping its length: every byte that is not part of
 * a well-formed sequence becomes '?'. For fixed-size text such as error messages. */
BG_PUBLIC void bg_utf8_fix(char *s);

/* Copy the C string s into buf (size >= 4 bytes), cut on a character boundary to fit with "..."
 * appended when cut, and made well-formed with bg_utf8_fix. Returns buf. This is how input is
 * quoted in a message, instead of "%.Ns", which cuts inside a character. */
BG_PUBLIC const char *bg_utf8_clip(char *buf, size_t size, const char *s);

/* Write into buf (size >= 1) what vsnprintf would, cut on a character boundary when it does
 * not fit, and made well-formed with bg_utf8_fix. Returns the length written. */
BG_PUBLIC size_t bg_utf8_vformat(char *buf, size_t size, const char *fmt, va_list ap)
    BG_PRINTF(3, 0);
BG_PUBLIC size_t bg_utf8_format(char *buf, size_t size, const char *fmt, ...) BG_PRINTF(3, 4);

#define BG_QUOTE_MAX 72
/* s (a C string) clipped to a short, well-formed quote for a message: a compound literal, valid
 * to the end of the enclosing block. */
#define BG_QUOTE(s) bg_utf8_clip((char[BG_QUOTE_MAX]){0}, BG_QUOTE_MAX, (s))
