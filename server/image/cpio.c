/* SPDX-License-Identifier: MIT */
/* Writes newc cpio archives entry by entry, buffered, with deterministic metadata. */
#include "image/cpio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/utf8.h"

#define BUF_SIZE (64 * 1024)
#define HEADER_LEN 110 /* "070701" + 13 fields of 8 hex digits */
#define BLOCK 512      /* GNU cpio pads the whole archive to this */
#define TRAILER "TRAILER!!!"

struct bg_cpio {
    int fd;             /* borrowed */
    int64_t mtime;      /* of every entry */
    uint32_t next_ino;  /* inode numbers in order of addition, from 1 */
    uint64_t written;   /* bytes accepted so far (buffered or on disk) */
    int failed;         /* sticky -errno after a failed read or write; 0 when fine */
    bool finished;      /* trailer written */
    size_t used;        /* bytes in buf */
    unsigned char *buf; /* BUF_SIZE bytes */
};

struct bg_cpio *bg_cpio_new(int fd, int64_t mtime)
{
    struct bg_cpio *c = bg_calloc(1, sizeof(*c));

    c->fd = fd;
    c->mtime = mtime;
    c->next_ino = 1;
    c->buf = bg_malloc(BUF_SIZE);
    return c;
}

void bg_cpio_free(struct bg_cpio *c)
{
    if (!c)
        return;
    free(c->buf);
    free(c);
}

void bg_cpio_freep(struct bg_cpio **c)
{
    bg_cpio_free(*c);
}

uint64_t bg_cpio_size(const struct bg_cpio *c)
{
    return c->written;
}

static int flush(struct bg_cpio *c, struct bg_error *err)
{
    size_t off = 0;

    while (off < c->used) {
        ssize_t n = write(c->fd, c->buf + off, c->used - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            c->failed = -errno;
            return bg_error_errno(err, "write cpio archive");
        }
        off += (size_t)n;
    }
    c->used = 0;
    return 0;
}

static int put(struct bg_cpio *c, const void *data, size_t len, struct bg_error *err)
{
    const unsigned char *p = data;

    while (len > 0) {
        if (c->used == BUF_SIZE && flush(c, err) < 0)
            return c->failed;
        size_t n = len < BUF_SIZE - c->used ? len : BUF_SIZE - c->used;
        memcpy(c->buf + c->used, p, n);
        c->used += n;
        c->written += n;
        p += n;
        len -= n;
    }
    return 0;
}

/* Zero bytes up to the next multiple of align. */
static int pad(struct bg_cpio *c, uint64_t align, struct bg_error *err)
{
    static const unsigned char zeros[BLOCK];
    size_t n = (size_t)((align - c->written % align) % align);

    return put(c, zeros, n, err);
}

/* Every component non-empty and neither "." nor ".."; no leading or trailing '/'. */
static bool name_ok(const char *name)
{
    const char *p = name;

    /* the kernel stops unpacking at an entry named like the trailer */
    if (!*name || strlen(name) > BG_CPIO_NAME_MAX || !strcmp(name, TRAILER))
        return false;
    for (;;) {
        const char *e = strchrnul(p, '/');
        size_t len = (size_t)(e - p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!*e)
            return true;
        p = e + 1;
    }
}

static int check(struct bg_cpio *c, const char *name, mode_t perm, struct bg_error *err)
{
    if (c->failed)
        return bg_error_set(err, c->failed, "cpio archive already failed: %s",
                            strerror(-c->failed));
    if (c->finished)
        return bg_error_set(err, -EINVAL, "cpio archive already finished");
    if (!name_ok(name))
        return bg_error_set(err, -EINVAL,
                            "cpio entry name '%s' is not a relative path of at most %d bytes "
                            "without empty, '.' or '..' components",
                            BG_QUOTE(name), BG_CPIO_NAME_MAX);
    if (perm & ~(mode_t)07777)
        return bg_error_set(err, -EINVAL,
                            "cpio entry '%s': mode %o has more than permission "
                            "bits",
                            BG_QUOTE(name), (unsigned)perm);
    return 0;
}

/* The 110-byte header, the name with its NUL, and padding to 4 bytes. */
static int header(struct bg_cpio *c, const char *name, uint32_t mode, uint32_t nlink, uint64_t size,
                  struct bg_error *err)
{
    char h[HEADER_LEN + 1];
    size_t namesize = strlen(name) + 1;
    uint32_t ino = strcmp(name, TRAILER) ? c->next_ino++ : 0; /* the trailer has inode 0 */

    snprintf(h, sizeof(h), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode,
             0u, 0u, nlink, (uint32_t)c->mtime, (uint32_t)size, 0u, 0u, 0u, 0u, (uint32_t)namesize,
             0u);
    int r = put(c, h, HEADER_LEN, err);
    if (r >= 0)
        r = put(c, name, namesize, err);
    return r < 0 ? r : pad(c, 4, err);
}

int bg_cpio_add_dir(struct bg_cpio *c, const char *name, mode_t perm, struct bg_error *err)
{
    int r = check(c, name, perm, err);

    return r < 0 ? r : header(c, name, S_IFDIR | perm, 2, 0, err);
}

int bg_cpio_add_data(struct bg_cpio *c, const char *name, mode_t perm, const void *data, size_t len,
                     struct bg_error *err)
{
    int r = check(c, name, perm, err);

    if (r < 0)
        return r;
    if (len > BG_CPIO_FILE_MAX)
        return bg_error_set(err, -EFBIG, "cpio entry '%s': %zu bytes is over the newc limit",
                            BG_QUOTE(name), len);
    if ((r = header(c, name, S_IFREG | perm, 1, len, err)) < 0 || (r = put(c, data, len, err)) < 0)
        return r;
    return pad(c, 4, err);
}

int bg_cpio_add_symlink(struct bg_cpio *c, const char *name, const char *target,
                        struct bg_error *err)
{
    int r = check(c, name, 0777, err);
    size_t len = strlen(target);

    if (r < 0)
        return r;
    if (len == 0 || len > BG_CPIO_NAME_MAX)
        return bg_error_set(err, -EINVAL, "cpio symlink '%s': target must be 1 to %d bytes",
                            BG_QUOTE(name), BG_CPIO_NAME_MAX);
    if ((r = header(c, name, S_IFLNK | 0777, 1, len, err)) < 0 ||
        (r = put(c, target, len, err)) < 0)
        return r;
    return pad(c, 4, err);
}

/* Copy exactly size bytes of fd into the archive; the file must not change meanwhile. */
static int copy_content(struct bg_cpio *c, int fd, const char *src, uint64_t size,
                        struct bg_error *err)
{
    uint64_t left = size;

    while (left > 0) {
        if (c->used == BUF_SIZE && flush(c, err) < 0)
            return c->failed;
        size_t want = BUF_SIZE - c->used;
        ssize_t n = read(fd, c->buf + c->used, want < left ? want : (size_t)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            c->failed = n < 0 ? -errno : -EIO;
            return n < 0 ? bg_error_errno(err, "read '%s'", src)
                         : bg_error_set(err, -EIO, "'%s' shrank while being archived", src);
        }
        c->used += (size_t)n;
        c->written += (uint64_t)n;
        left -= (uint64_t)n;
    }
    return 0;
}

int bg_cpio_add_file(struct bg_cpio *c, const char *name, mode_t perm, const char *src,
                     struct bg_error *err)
{
    int r = check(c, name, perm, err);
    bg_autoclose int fd = -1;
    struct stat st;

    if (r < 0)
        return r;
    fd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) < 0)
        return bg_error_errno(err, "open '%s'", src);
    if (!S_ISREG(st.st_mode))
        return bg_error_set(err, -EINVAL, "'%s' is not a regular file", src);
    if ((uint64_t)st.st_size > BG_CPIO_FILE_MAX)
        return bg_error_set(err, -EFBIG, "'%s': %lld bytes is over the newc limit", src,
                            (long long)st.st_size);
    if ((r = header(c, name, S_IFREG | perm, 1, (uint64_t)st.st_size, err)) < 0 ||
        (r = copy_content(c, fd, src, (uint64_t)st.st_size, err)) < 0)
        return r;
    return pad(c, 4, err);
}

int bg_cpio_finish(struct bg_cpio *c, struct bg_error *err)
{
    int r;

    if (c->failed)
        return bg_error_set(err, c->failed, "cpio archive already failed: %s",
                            strerror(-c->failed));
    if (c->finished)
        return bg_error_set(err, -EINVAL, "cpio archive already finished");
    /* nlink 1 and inode 0, as GNU cpio writes it */
    if ((r = header(c, TRAILER, 0, 1, 0, err)) < 0 || (r = pad(c, BLOCK, err)) < 0 ||
        (r = flush(c, err)) < 0)
        return r;
    c->finished = true;
    return 0;
}
