/* SPDX-License-Identifier: MIT */
/* Whole-file reads with a size cap, for the host files bangerd parses. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"

int bg_file_read(const char *path, size_t max, char **ret, size_t *ret_len, struct bg_error *err)
{
    bg_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;

    if (fd < 0)
        return bg_error_errno(err, "open '%s'", path);
    if (fstat(fd, &st) < 0)
        return bg_error_errno(err, "stat '%s'", path);
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max)
        return bg_error_set(err, -EFBIG, "'%s' is not a regular file of at most %zu bytes", path,
                            max);
    bg_autofree char *buf = bg_malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? bg_error_errno(err, "read '%s'", path)
                         : bg_error_set(err, -EIO, "'%s' shrank while read", path);
        got += (size_t)n;
    }
    buf[got] = '\0';
    *ret = bg_steal_ptr(&buf);
    *ret_len = got;
    return 0;
}
