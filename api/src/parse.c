/* SPDX-License-Identifier: MIT */
/* Strict decimal parsing with explicit bounds. */
#include "banger/parse.h"
#include "banger/utf8.h"

#include <errno.h>

int bg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret, struct bg_error *err)
{
    uint64_t v = 0;

    if (!s || !*s)
        return bg_error_set(err, -EINVAL, "empty number");
    if (s[0] == '0' && s[1] != '\0')
        return bg_error_set(err, -EINVAL, "'%s' has a leading zero", BG_QUOTE(s));
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return bg_error_set(err, -EINVAL, "'%s' is not a decimal number", BG_QUOTE(s));
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return bg_error_set(err, -ERANGE, "'%s' is too large", BG_QUOTE(s));
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return bg_error_set(err, -ERANGE, "%llu is outside %llu..%llu", (unsigned long long)v,
                            (unsigned long long)min, (unsigned long long)max);
    *ret = v;
    return 0;
}
