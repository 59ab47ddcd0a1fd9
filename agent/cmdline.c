/* SPDX-License-Identifier: MIT */
/* Reading key=value words of the kernel command line. */
#include "cmdline.h"

#include <stdio.h>
#include <string.h>

#define WORD_SEPARATORS " \t\n"

bool bg_cmdline_value(const char *cmdline, const char *key, char *buf, size_t size)
{
    size_t klen = strlen(key);
    bool found = false;

    buf[0] = '\0';
    for (const char *w = cmdline + strspn(cmdline, WORD_SEPARATORS); *w;) {
        size_t n = strcspn(w, WORD_SEPARATORS);
        if (n > klen && !strncmp(w, key, klen) && w[klen] == '=') {
            snprintf(buf, size, "%.*s", (int)(n - klen - 1), w + klen + 1);
            found = true;
        }
        w += n;
        w += strspn(w, WORD_SEPARATORS);
    }
    return found;
}
