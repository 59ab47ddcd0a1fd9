/* SPDX-License-Identifier: MIT */
/* Strict decimal parsing with explicit bounds. */
#include "banger/parse.h"

#include <errno.h>

int bg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret, struct bg_error *err)
{
    uint64_t v = 0;

    if (!s || !*s)
        return bg_error_set(err, -EINVAL, "empty number");
    if (s[0] == '0' && s[1] != '\0')
        return bg_error_set(err, -EINVAL, "'%.32s' has a leading zero", s);
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return bg_error_set(err, -EINVAL, "'%.32s' is not a decimal number", s);
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return bg_error_set(err, -ERANGE, "'%.32s' is too large", s);
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return bg_error_set(err, -ERANGE, "%llu is outside %llu..%llu", (unsigned long long)v,
                            (unsigned long long)min, (unsigned long long)max);
    *ret = v;
    return 0;
}
