/* SPDX-License-Identifier: MIT */
/* Guest paths of file transfers: absolute, plain components, bounded. */
#include "files/path.h"

#include <errno.h>
#include <string.h>

#include "banger/utf8.h"

/* The component of len bytes at s is one a path may hold; last: it ends the path, where an
 * empty one is what follows a trailing '/' (or the root's). */
static int check_component(const char *raw, const char *s, size_t len, bool last,
                           struct bg_error *err)
{
    if (len == 0 && !last)
        return bg_error_set(err, -EINVAL, "path '%s' has an empty component ('//')", BG_QUOTE(raw));
    if (len == 1 && s[0] == '.')
        return bg_error_set(err, -EINVAL, "path '%s' holds a '.' component; give it without one",
                            BG_QUOTE(raw));
    if (len == 2 && s[0] == '.' && s[1] == '.')
        return bg_error_set(err, -EINVAL,
                            "path '%s' holds a '..' component; give the path it leads to",
                            BG_QUOTE(raw));
    return 0;
}

int bg_files_path_parse(const char *raw, bool need_base, struct bg_files_path *ret,
                        struct bg_error *err)
{
    size_t len = strlen(raw);
    int r;

    if (raw[0] != '/')
        return bg_error_set(err, -EINVAL, "path '%s' is not absolute; give it from '/'",
                            BG_QUOTE(raw));
    if (len > BG_FILES_PATH_MAX)
        return bg_error_set(err, -EINVAL, "path is %zu bytes long; the limit is %d", len,
                            BG_FILES_PATH_MAX);
    for (const char *c = raw + 1;;) {
        const char *slash = strchr(c, '/');
        size_t n = slash ? (size_t)(slash - c) : strlen(c);
        if ((r = check_component(raw, c, n, !slash, err)) < 0)
            return r;
        if (!slash)
            break;
        c = slash + 1;
    }
    if (len > 1 && raw[len - 1] == '/')
        len--; /* the trailing '/' */
    if (need_base && len == 1)
        return bg_error_set(err, -EINVAL,
                            "path '/' names no file or directory to archive; give one below it");
    memcpy(ret->path, raw, len);
    ret->path[len] = '\0';
    const char *last = strrchr(ret->path, '/');
    size_t plen = last == ret->path ? 1 : (size_t)(last - ret->path);
    memcpy(ret->parent, ret->path, plen);
    ret->parent[plen] = '\0';
    ret->base = len == 1 ? ret->path + len : last + 1;
    return 0;
}
