/* SPDX-License-Identifier: MIT */
/* Allow-list validation of names and paths. */
#include "banger/validate.h"

#include <errno.h>
#include <string.h>

#include "banger/utf8.h"

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int bg_name_validate(const char *name, struct bg_error *err)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0)
        return bg_error_set(err, -EINVAL, "name is empty");
    if (n > BG_NAME_MAX)
        return bg_error_set(err, -EINVAL, "name is %zu characters long; the limit is %d", n,
                            BG_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!is_lower_alnum(c) && c != '-')
            return bg_error_set(err, -EINVAL,
                                "name may contain only a-z, 0-9 and '-' (found '%c' at %zu)",
                                (c >= 0x20 && c < 0x7f) ? c : '?', i + 1);
    }
    if (name[0] == '-' || name[n - 1] == '-')
        return bg_error_set(err, -EINVAL, "name must start and end with a letter or digit");
    return 0;
}

int bg_package_validate(const char *name, struct bg_error *err)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0)
        return bg_error_set(err, -EINVAL, "package name is empty");
    if (n > BG_PACKAGE_MAX)
        return bg_error_set(err, -EINVAL, "package name is %zu characters long; the limit is %d", n,
                            BG_PACKAGE_MAX);
    if (n < 2)
        return bg_error_set(err, -EINVAL, "package name '%s' is shorter than 2 characters", name);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!is_lower_alnum(c) && (i == 0 || !strchr("+.-", c)))
            return bg_error_set(err, -EINVAL,
                                "package name may contain only a-z, 0-9, '+', '.' and '-', and "
                                "starts with a letter or digit (found '%c' at %zu)",
                                (c >= 0x20 && c < 0x7f) ? c : '?', i + 1);
    }
    return 0;
}

int bg_path_validate(const char *path, struct bg_error *err)
{
    size_t n = path ? strlen(path) : 0;

    if (n == 0)
        return bg_error_set(err, -EINVAL, "path is empty");
    if (n > BG_PATH_MAX)
        return bg_error_set(err, -EINVAL, "path is longer than %d bytes", BG_PATH_MAX);
    if (path[0] != '/')
        return bg_error_set(err, -EINVAL, "path '%s' is not absolute", path);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
            return bg_error_set(err, -EINVAL, "path contains a control character");
    if (!bg_utf8_valid(path, n))
        return bg_error_set(err, -EINVAL, "path is not valid UTF-8");
    for (const char *c = path; *c;) {
        c++; /* skip '/' */
        const char *e = strchrnul(c, '/');
        size_t len = (size_t)(e - c);
        if ((len == 0 && *e) || (len == 1 && c[0] == '.') || (len == 2 && !strncmp(c, "..", 2)))
            return bg_error_set(err, -EINVAL,
                                "path '%s' is not normalised (empty, '.' or '..' component)", path);
        c = e;
    }
    return 0;
}
