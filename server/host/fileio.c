/* SPDX-License-Identifier: MIT */
/* Host files and directories bangerd reads, creates and removes. */
#include "host/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <string.h>
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

void bg_file_tail_text(const char *path, char *buf, size_t len)
{
    bg_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;

    buf[0] = '\0';
    if (fd < 0 || fstat(fd, &st) < 0 || len < 2)
        return;
    off_t want = (off_t)(len - 1);
    ssize_t n = pread(fd, buf, len - 1, st.st_size > want ? st.st_size - want : 0);
    if (n <= 0)
        return;
    buf[n] = '\0';
    /* JSON strings and log lines need printable ASCII; console output may be anything */
    for (ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if ((c < 0x20 && c != '\n') || c > 0x7e)
            buf[i] = c == '\r' || c == '\t' ? ' ' : '?';
    }
}

int bg_mkdir_p(const char *path, mode_t mode, struct bg_error *err)
{
    bg_autofree char *p = bg_strdup(path);
    struct stat st;

    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return bg_error_errno(err, "create directory '%s'", p);
        *s = c;
        if (c == '\0')
            break;
    }
    if (stat(path, &st) < 0)
        return bg_error_errno(err, "stat '%s'", path);
    if (!S_ISDIR(st.st_mode))
        return bg_error_set(err, -ENOTDIR, "'%s' is not a directory", path);
    return 0;
}

/* The first failure of the walk running in this thread (nftw passes no user data). */
static _Thread_local int rm_errno;

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT && !rm_errno)
        rm_errno = errno;
    return 0; /* go on: remove what can be removed */
}

int bg_rm_tree(const char *path, struct bg_error *err)
{
    rm_errno = 0;
    if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
        return errno == ENOENT ? 0 : bg_error_errno(err, "remove '%s'", path);
    if (rm_errno)
        return bg_error_set(err, -rm_errno, "remove '%s': %s", path, strerror(rm_errno));
    return 0;
}
