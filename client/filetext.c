/* SPDX-License-Identifier: MIT */
/* Bounded reads and atomic replacement of the user's small text files. */
#include "filetext.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/agentio.h"
#include "banger/alloc.h"

int bg_cli_file_read(const char *path, size_t max, char **ret, size_t *ret_len,
                     struct bg_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    ssize_t n;

    if (fd < 0)
        return bg_error_errno(err, "read %s", path);
    char *buf = bg_malloc(max + 2);
    while (got <= max && (n = read(fd, buf + got, max + 1 - got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int r = bg_error_errno(err, "read %s", path);
            free(buf);
            (void)close(fd);
            return r;
        }
        got += (size_t)n;
    }
    (void)close(fd);
    if (got > max) {
        free(buf);
        return bg_error_set(err, -EFBIG, "%s is longer than %zu bytes", path, max);
    }
    buf[got] = '\0';
    *ret = buf;
    *ret_len = got;
    return 0;
}

int bg_cli_file_replace(const char *path, const char *data, size_t len, mode_t mode,
                        struct bg_error *err)
{
    char target[PATH_MAX];
    struct stat st;

    /* a link (a dotfile manager's) stays a link: the file it names is what changes */
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        if (!realpath(path, target))
            return bg_error_errno(err, "resolve %s", path);
    } else {
        snprintf(target, sizeof(target), "%s", path);
    }
    bg_autofree char *tmp = bg_asprintf("%s.banger-tmp", target);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return bg_error_errno(err, "write %s", tmp);
    int r = bg_write_all(fd, data, len);
    if (r == 0 && (fchmod(fd, mode) < 0 || fsync(fd) < 0))
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, target) < 0)
        r = -errno;
    if (r < 0) {
        (void)unlink(tmp);
        errno = -r;
        return bg_error_errno(err, "write %s", target);
    }
    return 0;
}
