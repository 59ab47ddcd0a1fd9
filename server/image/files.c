/* SPDX-License-Identifier: MIT */
/* File steps of image builds: text reads, copies. */
#include "image/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "host/fileio.h"

#define COPY_CHUNK (1u << 20)

int bg_imagebuild_read_text(const char *path, char **ret, struct bg_error *err)
{
    size_t len;
    int r = bg_file_read(path, BG_IMAGEBUILD_TEXT_MAX, ret, &len, err);

    if (r >= 0 && strlen(*ret) != len) {
        free(bg_steal_ptr(ret));
        return bg_error_set(err, -EINVAL, "'%s' holds a NUL byte", path);
    }
    return r;
}

int bg_imagebuild_copy_file(const char *src, const char *dst, struct bg_error *err)
{
    bg_autoclose int in = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    bg_autoclose int out = -1;
    bg_autofree char *buf = bg_malloc(COPY_CHUNK);

    if (in < 0)
        return bg_error_errno(err, "open '%s'", src);
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (out < 0)
        return bg_error_errno(err, "create '%s'", dst);
    for (;;) {
        ssize_t n = read(in, buf, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bg_error_errno(err, "read '%s'", src);
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno != EINTR)
                return bg_error_errno(err, "write '%s'", dst);
            off += w > 0 ? w : 0;
        }
    }
    if (fsync(out) < 0)
        return bg_error_errno(err, "fsync '%s'", dst);
    return 0;
}

/* Copy len bytes at off of in to the same offset of out. */
static int copy_range(int in, int out, off_t off, off_t len, char *buf, const char *src,
                      const char *dst, struct bg_error *err)
{
    while (len > 0) {
        ssize_t n = pread(in, buf, len < COPY_CHUNK ? (size_t)len : COPY_CHUNK, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bg_error_errno(err, "read '%s'", src);
        if (n == 0)
            return bg_error_set(err, -EIO, "'%s' shrank while it was copied", src);
        for (ssize_t done = 0; done < n;) {
            ssize_t w = pwrite(out, buf + done, (size_t)(n - done), off + done);
            if (w < 0 && errno != EINTR)
                return bg_error_errno(err, "write '%s'", dst);
            done += w > 0 ? w : 0;
        }
        off += n;
        len -= n;
    }
    return 0;
}

int bg_imagebuild_copy_sparse(const char *src, const char *dst, struct bg_error *err)
{
    bg_autoclose int in = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    bg_autoclose int out = -1;
    bg_autofree char *buf = bg_malloc(COPY_CHUNK);
    struct stat st;
    int r;

    if (in < 0 || fstat(in, &st) < 0)
        return bg_error_errno(err, "open '%s'", src);
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (out < 0)
        return bg_error_errno(err, "create '%s'", dst);
    for (off_t data = 0; data < st.st_size;) {
        data = lseek(in, data, SEEK_DATA);
        if (data < 0 && errno == ENXIO)
            break; /* only a hole is left */
        off_t hole = data < 0 ? -1 : lseek(in, data, SEEK_HOLE);
        if (hole < 0)
            return bg_error_errno(err, "seek in '%s'", src);
        if ((r = copy_range(in, out, data, hole - data, buf, src, dst, err)) < 0)
            return r;
        data = hole;
    }
    if (ftruncate(out, st.st_size) < 0 || fsync(out) < 0)
        return bg_error_errno(err, "write '%s'", dst);
    return 0;
}
