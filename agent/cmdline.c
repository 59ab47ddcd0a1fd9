/* SPDX-License-Identifier: MIT */
/* Reading key=value words of the kernel command line. */
#include "cmdline.h"

#include <errno.h>
#include <string.h>

#define WORD_SEPARATORS " \t\n"

bool bg_cmdline_next(const char **cursor, const char **ret_word, size_t *ret_len)
{
    const char *w = *cursor + strspn(*cursor, WORD_SEPARATORS);
    size_t n = strcspn(w, WORD_SEPARATORS);

    *cursor = w + n;
    if (n == 0)
        return false;
    *ret_word = w;
    *ret_len = n;
    return true;
}

bool bg_cmdline_match(const char *word, size_t len, const char *key, const char **ret_value,
                      size_t *ret_value_len)
{
    size_t klen = strlen(key);

    if (len <= klen || strncmp(word, key, klen) || word[klen] != '=')
        return false;
    *ret_value = word + klen + 1;
    *ret_value_len = len - klen - 1;
    return true;
}

int bg_cmdline_value(const char *cmdline, const char *key, char *buf, size_t size)
{
    const char *cursor = cmdline, *word, *value = NULL, *v;
    size_t len, value_len = 0, vlen;

    buf[0] = '\0';
    while (bg_cmdline_next(&cursor, &word, &len))
        if (bg_cmdline_match(word, len, key, &v, &vlen)) {
            value = v;
            value_len = vlen;
        }
    if (!value)
        return 0;
    if (value_len >= size)
        return -ENAMETOOLONG;
    memcpy(buf, value, value_len);
    buf[value_len] = '\0';
    return 1;
}
