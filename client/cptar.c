/* SPDX-License-Identifier: MIT */
/* vm cp's archives: archive_read_disk walks the host tree into a pax writer; a tar reader feeds
 * archive_write_disk inside the destination directory, after each entry's name is checked. */
#include "cptar.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/utf8.h"

#define BLOCK (64 * 1024)

/* --- writing --- */

struct writer {
    bg_cli_tar_sink sink;
    void *cls;
    struct bg_error sink_err;
    bool sink_failed;
};

static la_ssize_t on_write(struct archive *a, void *cls, const void *buf, size_t len)
{
    struct writer *w = cls;

    if (w->sink(w->cls, buf, len, &w->sink_err) < 0) {
        w->sink_failed = true;
        archive_set_error(a, EIO, "%s", w->sink_err.msg);
        return -1;
    }
    return (la_ssize_t)len;
}

/* A libarchive failure of a (the sink's own error when that is what failed). */
static int tar_error(struct archive *a, const struct writer *w, const char *what, const char *name,
                     struct bg_error *err)
{
    const char *why = archive_error_string(a);
    int e = archive_errno(a);

    if (w && w->sink_failed) {
        *err = w->sink_err;
        return err->code;
    }
    return bg_error_set(err, e > 0 ? -e : -EIO, "%s '%s': %s", what, BG_QUOTE(name),
                        why ? why : "libarchive failed");
}

static void archive_freep(struct archive **a)
{
    if (*a)
        (void)archive_free(*a);
}

static void entry_freep(struct archive_entry **e)
{
    if (*e)
        archive_entry_free(*e);
}

/* path without its trailing '/' (the walk's names start with it). */
static char *strip_slashes(const char *path)
{
    char *p = bg_strdup(path);
    size_t n = strlen(p);

    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    return p;
}

int bg_cli_tar_top_name(const char *path, char *buf, size_t size, struct bg_error *err)
{
    bg_autofree char *p = strip_slashes(path);
    bg_autofree char *real = NULL;
    const char *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;

    if (!strcmp(base, ".") || !strcmp(base, "..")) {
        if (!(real = realpath(p, NULL)))
            return bg_error_errno(err, "'%s'", BG_QUOTE(path));
        base = strrchr(real, '/') + 1;
    }
    if (!*base || !strcmp(p, "/"))
        return bg_error_set(err, -EINVAL,
                            "'%s' has no name to copy it under; name a file or "
                            "directory below it",
                            BG_QUOTE(path));
    snprintf(buf, size, "%s", base);
    return 0;
}

/* Copy the data of the current file of disk into w. */
static int copy_data(struct archive *disk, struct archive *w, const struct writer *wr,
                     const char *name, struct bg_error *err)
{
    const void *buf;
    size_t size;
    la_int64_t offset;
    int r;

    while ((r = archive_read_data_block(disk, &buf, &size, &offset)) == ARCHIVE_OK)
        if (archive_write_data(w, buf, size) < 0)
            return tar_error(w, wr, "write", name, err);
    return r == ARCHIVE_EOF ? 0 : tar_error(disk, NULL, "read", name, err);
}

/* The walk: every entry below root renamed under top, header then data. */
static int walk(struct archive *disk, struct archive *w, const struct writer *wr, const char *root,
                const char *top, uint64_t *n, struct bg_error *err)
{
    bg_auto(entry_freep) struct archive_entry *e = archive_entry_new();
    size_t root_len = strlen(root);
    int r;

    for (;;) {
        archive_entry_clear(e);
        if ((r = archive_read_next_header2(disk, e)) == ARCHIVE_EOF)
            return 0;
        const char *name = archive_entry_pathname(e);
        if (r < ARCHIVE_WARN || !name)
            return tar_error(disk, NULL, "read", name ? name : root, err);
        if (strncmp(name, root, root_len))
            return bg_error_set(err, -EIO, "walk of '%s' reached '%s'", BG_QUOTE(root),
                                BG_QUOTE(name));
        bg_autofree char *renamed = bg_asprintf("%s%s", top, name + root_len);
        archive_entry_copy_pathname(e, renamed);
        (void)archive_read_disk_descend(disk);
        if (archive_write_header(w, e) < ARCHIVE_WARN)
            return tar_error(w, wr, "write", renamed, err);
        (*n)++;
        if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0 &&
            (r = copy_data(disk, w, wr, renamed, err)) < 0)
            return r;
    }
}

int bg_cli_tar_write(const char *path, const char *top, bg_cli_tar_sink sink, void *cls,
                     uint64_t *ret_entries, struct bg_error *err)
{
    bg_auto(archive_freep) struct archive *disk = archive_read_disk_new();
    bg_auto(archive_freep) struct archive *w = archive_write_new();
    bg_autofree char *root = strip_slashes(path);
    struct writer wr = {.sink = sink, .cls = cls};
    uint64_t n = 0;
    int r;

    if (!disk || !w)
        return bg_error_set(err, -ENOMEM, "libarchive has no memory");
    (void)archive_read_disk_set_symlink_physical(disk);
    (void)archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
                                                   ARCHIVE_READDISK_NO_FFLAGS |
                                                   ARCHIVE_READDISK_NO_SPARSE);
    /* pax names are raw bytes; blocks of BLOCK go out, the last one unpadded */
    if (archive_write_set_format_pax_restricted(w) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(w, BLOCK) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(w, 1) != ARCHIVE_OK ||
        archive_write_open(w, &wr, NULL, on_write, NULL) != ARCHIVE_OK)
        return tar_error(w, &wr, "start the archive of", path, err);
    if (archive_read_disk_open(disk, root) != ARCHIVE_OK)
        return tar_error(disk, NULL, "read", path, err);
    if ((r = walk(disk, w, &wr, root, top, &n, err)) < 0)
        return r;
    if (archive_write_close(w) != ARCHIVE_OK)
        return tar_error(w, &wr, "finish the archive of", path, err);
    if (ret_entries)
        *ret_entries = n;
    return 0;
}

/* --- reading --- */

struct reader {
    bg_cli_tar_source source;
    void *cls;
    struct bg_error source_err;
    bool source_failed;
    char buf[BLOCK];
};

static la_ssize_t on_read(struct archive *a, void *cls, const void **ret)
{
    struct reader *rd = cls;
    ssize_t n = rd->source(rd->cls, rd->buf, sizeof(rd->buf), &rd->source_err);

    if (n < 0) {
        rd->source_failed = true;
        archive_set_error(a, EIO, "%s", rd->source_err.msg);
        return -1;
    }
    *ret = rd->buf;
    return n;
}

/* name (an entry's path or hard link target) is top or below it, without an absolute path or
 * a ".." component; the name it gets, top replaced by as, into *ret. */
static int check_name(const char *name, const char *top, const char *as, char **ret,
                      struct bg_error *err)
{
    size_t tl = strlen(top);
    const char *rest = name + tl;

    if (strncmp(name, top, tl) || (*rest && *rest != '/'))
        return bg_error_set(err, -EPROTO, "the archive holds '%s', which is not below '%s'",
                            BG_QUOTE(name), BG_QUOTE(top));
    for (const char *c = rest; (c = strstr(c, "..")); c += 2)
        if (c[-1] == '/' && (c[2] == '/' || c[2] == '\0'))
            return bg_error_set(err, -EPROTO, "the archive holds '%s', with a '..' component",
                                BG_QUOTE(name));
    *ret = bg_asprintf("%s%s", as, rest);
    return 0;
}

/* Rename e's path (and hard link target) under as, refusing names outside top. */
static int rename_entry(struct archive_entry *e, const char *top, const char *as,
                        struct bg_error *err)
{
    const char *name = archive_entry_pathname(e);
    const char *link = archive_entry_hardlink(e);
    bg_autofree char *p = NULL;
    bg_autofree char *l = NULL;
    int r;

    if (!name)
        return bg_error_set(err, -EPROTO, "the archive holds an entry without a name");
    if ((r = check_name(name, top, as, &p, err)) < 0 ||
        (link && (r = check_name(link, top, as, &l, err)) < 0))
        return r;
    archive_entry_copy_pathname(e, p);
    if (l)
        archive_entry_copy_hardlink(e, l);
    return 0;
}

/* Copy the current entry's data from a to disk. */
static int copy_entry(struct archive *a, struct archive *disk, const struct reader *rd,
                      const char *name, struct bg_error *err)
{
    const void *buf;
    size_t size;
    la_int64_t offset;
    int r;

    while ((r = archive_read_data_block(a, &buf, &size, &offset)) == ARCHIVE_OK)
        if (archive_write_data_block(disk, buf, size, offset) < ARCHIVE_WARN)
            return tar_error(disk, NULL, "write", name, err);
    if (r == ARCHIVE_EOF)
        return 0;
    if (rd->source_failed) {
        *err = rd->source_err;
        return err->code;
    }
    return tar_error(a, NULL, "read", name, err);
}

static int unpack(struct archive *a, struct archive *disk, const struct reader *rd, const char *top,
                  const char *as, uint64_t *n, struct bg_error *err)
{
    struct archive_entry *e;
    int r;

    while ((r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN) {
            if (rd->source_failed) {
                *err = rd->source_err;
                return err->code;
            }
            return bg_error_set(err, -EPROTO, "the archive does not read as tar: %s",
                                archive_error_string(a) ? archive_error_string(a) : "?");
        }
        if ((r = rename_entry(e, top, as, err)) < 0)
            return r;
        if (archive_write_header(disk, e) < ARCHIVE_WARN)
            return tar_error(disk, NULL, "write", archive_entry_pathname(e), err);
        if (archive_entry_size(e) > 0 &&
            (r = copy_entry(a, disk, rd, archive_entry_pathname(e), err)) < 0)
            return r;
        if (archive_write_finish_entry(disk) < ARCHIVE_WARN)
            return tar_error(disk, NULL, "write", archive_entry_pathname(e), err);
        (*n)++;
    }
    return 0;
}

int bg_cli_tar_extract(bg_cli_tar_source source, void *cls, const char *dir, const char *top,
                       const char *as, uint64_t *ret_entries, struct bg_error *err)
{
    bg_auto(archive_freep) struct archive *a = archive_read_new();
    bg_auto(archive_freep) struct archive *disk = archive_write_disk_new();
    bg_autofree struct reader *rd = bg_calloc(1, sizeof(*rd));
    bg_autoclose int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    uint64_t n = 0;
    int r;

    if (!a || !disk)
        return bg_error_set(err, -ENOMEM, "libarchive has no memory");
    if (here < 0)
        return bg_error_errno(err, "open the working directory");
    rd->source = source;
    rd->cls = cls;
    (void)archive_read_support_format_tar(a);
    (void)archive_write_disk_set_options(
        disk, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                  ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
    if (archive_read_open(a, rd, NULL, on_read, NULL) != ARCHIVE_OK)
        return rd->source_failed ? (*err = rd->source_err, err->code)
                                 : bg_error_set(err, -EPROTO, "the archive does not read as tar");
    /* relative names inside dir: libarchive's symlink checks then cover only what the archive
     * made, not the directories above dir */
    if (chdir(dir) < 0)
        return bg_error_errno(err, "enter '%s'", BG_QUOTE(dir));
    r = unpack(a, disk, rd, top, as ? as : top, &n, err);
    if (r == 0 && archive_write_close(disk) != ARCHIVE_OK)
        r = tar_error(disk, NULL, "finish writing into", dir, err);
    if (fchdir(here) < 0 && r == 0)
        r = bg_error_errno(err, "return to the working directory");
    if (r == 0 && ret_entries)
        *ret_entries = n;
    return r;
}
