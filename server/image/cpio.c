/* SPDX-License-Identifier: MIT */
/* Writes newc cpio archives entry by entry through libarchive, with deterministic metadata. */
#include "image/cpio.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/utf8.h"

#define BLOCK_SIZE (64 * 1024) /* bytes libarchive hands to write_out at a time */
#define LAST_BLOCK 512         /* the archive is padded to a multiple of this, as GNU cpio does */
#define COPY_CHUNK (64 * 1024)
#define TRAILER "TRAILER!!!"

struct bg_cpio {
    struct archive *a; /* the newc writer */
    int fd;            /* borrowed */
    int64_t mtime;     /* of every entry */
    uint32_t next_ino; /* inode numbers in order of addition, from 1 */
    uint64_t written;  /* bytes written to fd */
    int failed;        /* sticky -errno after a failed read or write; 0 when fine */
    bool discard;      /* drop libarchive's output from now on (failed, or being freed) */
    bool finished;     /* trailer written */
};

/* libarchive's output: the whole buffer to fd. A write error is recorded, not returned:
 * libarchive 3.6 leaks its block buffer when an archive ends in its fatal state, so instead
 * the archive goes on with its output dropped, and every call reports c->failed. */
static la_ssize_t write_out(struct archive *a, void *cls, const void *buf, size_t len)
{
    struct bg_cpio *c = cls;
    const unsigned char *p = buf;

    (void)a;
    for (size_t off = 0; off < len && !c->discard;) {
        ssize_t n = write(c->fd, p + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            c->failed = -errno;
            c->discard = true;
            break;
        }
        off += (size_t)n;
        c->written += (uint64_t)n;
    }
    return (la_ssize_t)len;
}

struct bg_cpio *bg_cpio_new(int fd, int64_t mtime)
{
    struct bg_cpio *c = bg_calloc(1, sizeof(*c));

    c->fd = fd;
    c->mtime = mtime;
    c->next_ino = 1;
    c->a = archive_write_new();
    if (!c->a)
        abort(); /* libarchive allocates nothing else here: out of memory */
    /* Each setter only records a value, and fails only for a bad argument or state. */
    if (archive_write_set_format_cpio_newc(c->a) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(c->a, BLOCK_SIZE) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(c->a, LAST_BLOCK) != ARCHIVE_OK ||
        archive_write_open(c->a, c, NULL, write_out, NULL) != ARCHIVE_OK) {
        c->failed = archive_errno(c->a) > 0 ? -archive_errno(c->a) : -EIO;
        c->discard = true;
    }
    return c;
}

void bg_cpio_free(struct bg_cpio *c)
{
    if (!c)
        return;
    /* archive_write_free closes an unfinished archive, writing its trailer: drop that. */
    c->discard = true;
    archive_write_free(c->a);
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

/* After a libarchive call that returned ok (or not): a write error during it, or the call's own
 * failure, fails the archive from now on. */
static int result(struct bg_cpio *c, bool ok, const char *name, struct bg_error *err)
{
    const char *why = archive_error_string(c->a);

    if (c->failed)
        return bg_error_set(err, c->failed, "write cpio archive: %s", strerror(-c->failed));
    if (ok)
        return 0;
    c->failed = archive_errno(c->a) > 0 ? -archive_errno(c->a) : -EIO;
    c->discard = true;
    return bg_error_set(err, c->failed, "cpio entry '%s': %s", BG_QUOTE(name),
                        why ? why : "libarchive failed");
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

/* Write the header of one entry: the next inode number, the archive's mtime, uid and gid 0,
 * device numbers 0; nothing taken from the host. target: a symlink's, else NULL. */
static int header(struct bg_cpio *c, const char *name, mode_t mode, unsigned nlink, uint64_t size,
                  const char *target, struct bg_error *err)
{
    struct archive_entry *e = archive_entry_new();
    int r;

    if (!e)
        abort(); /* out of memory */
    archive_entry_copy_pathname(e, name);
    archive_entry_set_mode(e, mode);
    archive_entry_set_ino(e, c->next_ino++);
    archive_entry_set_nlink(e, nlink);
    /* newc stores 32 bits of mtime: the same truncation for every value */
    archive_entry_set_mtime(e, (time_t)(uint32_t)c->mtime, 0);
    archive_entry_set_size(e, (la_int64_t)size);
    if (target)
        archive_entry_copy_symlink(e, target);
    r = archive_write_header(c->a, e);
    archive_entry_free(e);
    return result(c, r == ARCHIVE_OK, name, err);
}

/* len bytes of an entry's content. */
static int data(struct bg_cpio *c, const char *name, const void *buf, size_t len,
                struct bg_error *err)
{
    la_ssize_t n = len ? archive_write_data(c->a, buf, len) : 0;

    return result(c, n == (la_ssize_t)len, name, err);
}

int bg_cpio_add_dir(struct bg_cpio *c, const char *name, mode_t perm, struct bg_error *err)
{
    int r = check(c, name, perm, err);

    return r < 0 ? r : header(c, name, S_IFDIR | perm, 2, 0, NULL, err);
}

int bg_cpio_add_data(struct bg_cpio *c, const char *name, mode_t perm, const void *buf, size_t len,
                     struct bg_error *err)
{
    int r = check(c, name, perm, err);

    if (r < 0)
        return r;
    if (len > BG_CPIO_FILE_MAX)
        return bg_error_set(err, -EFBIG, "cpio entry '%s': %zu bytes is over the newc limit",
                            BG_QUOTE(name), len);
    if ((r = header(c, name, S_IFREG | perm, 1, len, NULL, err)) < 0)
        return r;
    return data(c, name, buf, len, err);
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
    /* libarchive writes the target as the entry's content and its length as the size */
    return header(c, name, S_IFLNK | 0777, 1, 0, target, err);
}

/* Copy exactly size bytes of fd into the archive; the file must not change meanwhile. */
static int copy_content(struct bg_cpio *c, const char *name, int fd, const char *src, uint64_t size,
                        struct bg_error *err)
{
    bg_autofree unsigned char *buf = bg_malloc(COPY_CHUNK);
    uint64_t left = size;

    while (left > 0) {
        ssize_t n = read(fd, buf, left < COPY_CHUNK ? (size_t)left : COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            c->failed = n < 0 ? -errno : -EIO;
            c->discard = true;
            return n < 0 ? bg_error_errno(err, "read '%s'", src)
                         : bg_error_set(err, -EIO, "'%s' shrank while being archived", src);
        }
        int r = data(c, name, buf, (size_t)n, err);
        if (r < 0)
            return r;
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
    /* O_NONBLOCK: a FIFO at src is refused below instead of waiting for a writer. */
    fd = open(src, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) < 0)
        return bg_error_errno(err, "open '%s'", src);
    if (!S_ISREG(st.st_mode))
        return bg_error_set(err, -EINVAL, "'%s' is not a regular file", src);
    if ((uint64_t)st.st_size > BG_CPIO_FILE_MAX)
        return bg_error_set(err, -EFBIG, "'%s': %lld bytes is over the newc limit", src,
                            (long long)st.st_size);
    if ((r = header(c, name, S_IFREG | perm, 1, (uint64_t)st.st_size, NULL, err)) < 0)
        return r;
    return copy_content(c, name, fd, src, (uint64_t)st.st_size, err);
}

int bg_cpio_finish(struct bg_cpio *c, struct bg_error *err)
{
    if (c->failed)
        return bg_error_set(err, c->failed, "cpio archive already failed: %s",
                            strerror(-c->failed));
    if (c->finished)
        return bg_error_set(err, -EINVAL, "cpio archive already finished");
    /* the trailer (inode 0, nlink 1, mtime 0, as GNU cpio writes it), padding, flush */
    int r = result(c, archive_write_close(c->a) == ARCHIVE_OK, TRAILER, err);

    c->finished = r == 0;
    return r;
}
