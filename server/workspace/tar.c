/* SPDX-License-Identifier: MIT */
/* The workspace archive: files opened with openat2 beneath their root, written by libarchive
 * as pax (restricted: plain ustar headers unless a name, link or size needs more). */
#include "workspace/tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/utf8.h"
#include "banger/validate.h"

#define OPENAT2_TRIES 8 /* RESOLVE_BENEATH answers EAGAIN while a rename races the lookup */

struct bg_workspace_tar {
    struct archive *a;
    struct archive_entry *entry;
    struct bg_workspace_sink sink;
    struct bg_error sink_err; /* why the sink failed, once sink_failed */
    bool sink_failed;
    bool finished; /* the end-of-archive went out */
    bool discard;  /* being freed unfinished: nothing more reaches the sink */
    uint64_t bytes;
    uint64_t entries;
    char target[BG_PATH_MAX + 1];
    char chunk[BG_WORKSPACE_TAR_BUF];
};

/* ---- the stream ---- */

static la_ssize_t sink_write(struct archive *a, void *cls, const void *buf, size_t len)
{
    struct bg_workspace_tar *t = cls;

    if (t->discard || t->sink_failed) {
        archive_set_error(a, ECANCELED, "the archive was abandoned");
        return -1;
    }
    if (t->sink.write(t->sink.cls, buf, len, &t->sink_err) < 0) {
        t->sink_failed = true;
        archive_set_error(a, EIO, "%s", t->sink_err.msg);
        return -1;
    }
    t->bytes += len;
    return (la_ssize_t)len;
}

/* A libarchive failure: the sink's own error when that is what failed. */
static int tar_error(struct bg_workspace_tar *t, const char *what, const char *rel,
                     struct bg_error *err)
{
    const char *why = archive_error_string(t->a);

    if (t->sink_failed) {
        if (err)
            *err = t->sink_err;
        return t->sink_err.code;
    }
    return bg_error_set(err, -EIO, "tar: %s '%s': %s", what, BG_QUOTE(rel),
                        why ? why : "libarchive failed");
}

int bg_workspace_tar_new(const struct bg_workspace_sink *sink, struct bg_workspace_tar **ret,
                         struct bg_error *err)
{
    struct bg_workspace_tar *t = bg_calloc(1, sizeof(*t));

    t->sink = *sink;
    t->a = archive_write_new();
    t->entry = archive_entry_new();
    if (!t->a || !t->entry) {
        bg_workspace_tar_free(t);
        return bg_error_set(err, -ENOMEM, "tar: libarchive has no memory");
    }
    /* pax names are raw bytes (hdrcharset=BINARY): a path is whatever git stored, in no
     * particular encoding, and must come out as the same bytes. Blocks of TAR_BUF bytes go
     * to the sink, the last one unpadded (the reader is a pipe, not a tape). */
    if (archive_write_set_format_pax_restricted(t->a) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(t->a, BG_WORKSPACE_TAR_BUF) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(t->a, 1) != ARCHIVE_OK ||
        archive_write_open(t->a, t, NULL, sink_write, NULL) != ARCHIVE_OK) {
        int r = tar_error(t, "open", "", err);
        bg_workspace_tar_free(t);
        return r;
    }
    *ret = t;
    return 0;
}

void bg_workspace_tar_free(struct bg_workspace_tar *t)
{
    if (!t)
        return;
    t->discard = !t->finished;
    if (t->a)
        (void)archive_write_free(t->a);
    if (t->entry)
        archive_entry_free(t->entry);
    free(t);
}

void bg_workspace_tar_freep(struct bg_workspace_tar **t)
{
    bg_workspace_tar_free(*t);
}

int bg_workspace_tar_finish(struct bg_workspace_tar *t, struct bg_error *err)
{
    if (archive_write_close(t->a) != ARCHIVE_OK)
        return tar_error(t, "finish", "", err);
    t->finished = true;
    return 0;
}

uint64_t bg_workspace_tar_entries(const struct bg_workspace_tar *t)
{
    return t->entries;
}

uint64_t bg_workspace_tar_bytes(const struct bg_workspace_tar *t)
{
    return t->bytes;
}

/* ---- entries ---- */

/* rel beneath rootfd with no symlink followed anywhere; O_PATH|O_NOFOLLOW opens a trailing
 * symlink itself. -errno. */
static int open_beneath(int rootfd, const char *rel, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
    };

    for (int i = 0; i < OPENAT2_TRIES; i++) {
        long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != EAGAIN && errno != EINTR)
            break;
    }
    return -errno;
}

/* Why rel could not be opened, as bg_workspace_tar_add reports it. */
static int open_error(const char *rel, int code, struct bg_error *err)
{
    switch (code) {
    case -ENOENT:
    case -ENOTDIR:
        return bg_error_set(err, -ENOENT, "'%s' vanished while it was read", BG_QUOTE(rel));
    case -ELOOP:
    case -EXDEV:
        return bg_error_set(err, BG_ERR(BG_PROBLEM_INVALID_FIELD),
                            "'%s': a directory on its way is a symlink, and banger never follows "
                            "one out of the work tree (git sees the path as deleted: restore "
                            "the directory or commit the change)",
                            BG_QUOTE(rel));
    case -ENAMETOOLONG:
        return bg_error_set(err, BG_ERR(BG_PROBLEM_INVALID_FIELD),
                            "'%s...': the path is longer than %d bytes", BG_QUOTE(rel),
                            BG_PATH_MAX);
    case -ENOSYS:
        return bg_error_set(err, code, "open '%s': openat2 needs Linux 5.6 or later",
                            BG_QUOTE(rel));
    default:
        return bg_error_set(err, code, "open '%s': %s", BG_QUOTE(rel), strerror(-code));
    }
}

/* A fresh header for rel: owner root, the type, permissions and mtime of st. */
static struct archive_entry *entry_for(struct bg_workspace_tar *t, const char *rel,
                                       const struct stat *st)
{
    struct archive_entry *e = archive_entry_clear(t->entry);

    archive_entry_copy_pathname(e, rel);
    archive_entry_set_filetype(e, st->st_mode & S_IFMT);
    archive_entry_set_perm(e, S_ISLNK(st->st_mode) ? 0777 : st->st_mode & 07777);
    archive_entry_set_mtime(e, st->st_mtime, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_copy_uname(e, "root");
    archive_entry_copy_gname(e, "root");
    archive_entry_set_size(e, S_ISREG(st->st_mode) ? st->st_size : 0);
    return e;
}

static int write_header(struct bg_workspace_tar *t, struct archive_entry *e, const char *rel,
                        struct bg_error *err)
{
    /* ARCHIVE_WARN: written, with a remark (e.g. about a name's charset) */
    return archive_write_header(t->a, e) < ARCHIVE_WARN ? tar_error(t, "header", rel, err) : 0;
}

/* Copy up to size bytes of fd; libarchive pads a short file with zeros at finish_entry and
 * cuts one that grew, so the header stays true. */
static int write_content(struct bg_workspace_tar *t, int fd, uint64_t size, const char *rel,
                         struct bg_error *err)
{
    uint64_t left = size;

    while (left > 0) {
        size_t want = left < sizeof(t->chunk) ? (size_t)left : sizeof(t->chunk);
        ssize_t n = read(fd, t->chunk, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bg_error_errno(err, "read '%s'", BG_QUOTE(rel));
        if (n == 0)
            break;
        if (archive_write_data(t->a, t->chunk, (size_t)n) < 0)
            return tar_error(t, "write", rel, err);
        left -= (uint64_t)n;
    }
    return archive_write_finish_entry(t->a) < ARCHIVE_WARN ? tar_error(t, "write", rel, err) : 0;
}

/* A regular file: reopened for reading beneath rootfd, and taken only if it is still the
 * file the O_PATH descriptor saw (the work tree may change under us). */
static int add_file(struct bg_workspace_tar *t, int rootfd, const char *rel,
                    const struct stat *seen, struct bg_error *err)
{
    bg_autoclose int fd = open_beneath(rootfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    int r;

    if (fd < 0)
        return open_error(rel, fd, err);
    if (fstat(fd, &st) < 0)
        return bg_error_errno(err, "stat '%s'", BG_QUOTE(rel));
    if (!S_ISREG(st.st_mode) || st.st_ino != seen->st_ino || st.st_dev != seen->st_dev)
        return bg_error_set(err, -ENOENT, "'%s' was replaced while it was read", BG_QUOTE(rel));
    if ((r = write_header(t, entry_for(t, rel, &st), rel, err)) < 0)
        return r;
    return write_content(t, fd, (uint64_t)st.st_size, rel, err);
}

static int add_symlink(struct bg_workspace_tar *t, int pfd, const char *rel, const struct stat *st,
                       struct bg_error *err)
{
    ssize_t n = readlinkat(pfd, "", t->target, sizeof(t->target) - 1);
    struct archive_entry *e;

    if (n < 0)
        return bg_error_errno(err, "readlink '%s'", BG_QUOTE(rel));
    t->target[n] = '\0';
    e = entry_for(t, rel, st);
    archive_entry_copy_symlink(e, t->target);
    return write_header(t, e, rel, err);
}

/* bg_workspace_tar_add, telling the caller the type it found in *ret_type. */
static int add_entry(struct bg_workspace_tar *t, int rootfd, const char *rel, mode_t *ret_type,
                     struct bg_error *err)
{
    bg_autoclose int pfd = open_beneath(rootfd, rel, O_PATH);
    struct stat st;
    int r;

    *ret_type = 0;
    if (pfd < 0)
        return open_error(rel, pfd, err);
    if (fstat(pfd, &st) < 0)
        return bg_error_errno(err, "stat '%s'", BG_QUOTE(rel));
    *ret_type = st.st_mode & S_IFMT;
    if (S_ISREG(st.st_mode))
        r = add_file(t, rootfd, rel, &st, err);
    else if (S_ISLNK(st.st_mode))
        r = add_symlink(t, pfd, rel, &st, err);
    else if (S_ISDIR(st.st_mode))
        return write_header(t, entry_for(t, rel, &st), rel, err);
    else
        return 0;
    if (r < 0)
        return r;
    t->entries++;
    return 1;
}

int bg_workspace_tar_add(struct bg_workspace_tar *t, int rootfd, const char *relpath,
                         struct bg_error *err)
{
    mode_t type;

    return add_entry(t, rootfd, relpath, &type, err);
}

/* ---- what goes in ---- */

static int too_many(struct bg_error *err)
{
    return bg_error_set(err, BG_ERR(BG_PROBLEM_INVALID_FIELD),
                        "the repository has more than %d files: more than one transfer takes",
                        BG_WORKSPACE_FILES_MAX);
}

int bg_workspace_tar_tracked(struct bg_workspace_tar *t, const char *top,
                             const struct bg_workspace_cancel *cancel, struct bg_error *err)
{
    bg_autoclose int rootfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bg_autofree char *list = NULL;
    const char *prev = "";
    size_t len, count = 0;
    int r;

    if (rootfd < 0)
        return bg_error_errno(err, "open '%s'", top);
    if ((r = bg_workspace_ls_files(top, cancel, &list, &len, err)) < 0)
        return r;
    /* -z: NUL-terminated paths relative to top; a path appears once per stage in a
     * conflicted merge, hence the check against the previous one. */
    for (size_t off = 0; off < len; off += strlen(list + off) + 1) {
        const char *path = list + off;
        if (!*path || !strcmp(path, prev))
            continue;
        prev = path;
        if (++count > BG_WORKSPACE_FILES_MAX)
            return too_many(err);
        r = bg_workspace_tar_add(t, rootfd, path, err);
        if (r < 0 && r != -ENOENT) /* -ENOENT: deleted in the work tree, still tracked */
            return r;
    }
    return 0;
}

/* One directory being walked: its path below the root and the names in it not yet added. */
struct frame {
    char *dir; /* "" for the root */
    char **names;
    size_t n, next;
};

static void frame_done(struct frame *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->names[i]);
    free(f->names);
    free(f->dir);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read the names of dir (beneath rootfd) into f, sorted; *count grows by their number. */
static int frame_read(struct frame *f, int rootfd, const char *dir, size_t *count,
                      struct bg_error *err)
{
    int fd = open_beneath(rootfd, dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY);
    struct dirent *de;
    size_t cap = 0;
    DIR *d;

    *f = (struct frame){.dir = bg_strdup(dir)};
    if (fd < 0)
        return open_error(dir, fd, err);
    if (!(d = fdopendir(fd))) {
        int r = bg_error_errno(err, "opendir '%s'", BG_QUOTE(dir));
        (void)close(fd);
        return r;
    }
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (++*count > BG_WORKSPACE_FILES_MAX) {
            closedir(d);
            return too_many(err);
        }
        if (f->n == cap)
            f->names = bg_realloc(f->names, (cap = cap ? 2 * cap : 16) * sizeof(*f->names));
        f->names[f->n++] = bg_strdup(de->d_name);
    }
    closedir(d);
    if (f->n > 1)
        qsort(f->names, f->n, sizeof(*f->names), name_cmp);
    return 0;
}

/* Depth-first without recursion: stack[depth] is the directory depth levels below the root,
 * so the stack never holds more than BG_WORKSPACE_DEPTH_MAX + 1 frames. */
static int walk(struct bg_workspace_tar *t, int rootfd, struct frame *stack, struct bg_error *err)
{
    size_t depth = 0, count = 0;
    int r = frame_read(&stack[0], rootfd, "", &count, err);

    while (r >= 0) {
        struct frame *f = &stack[depth];
        if (f->next == f->n) {
            frame_done(f);
            if (depth-- == 0)
                return 0;
            continue;
        }
        const char *name = f->names[f->next++];
        bg_autofree char *path = f->dir[0] ? bg_asprintf("%s/%s", f->dir, name) : bg_strdup(name);
        mode_t type;
        if ((r = add_entry(t, rootfd, path, &type, err)) < 0 || type != S_IFDIR)
            continue;
        if (depth + 1 > BG_WORKSPACE_DEPTH_MAX)
            r = bg_error_set(err, BG_ERR(BG_PROBLEM_INVALID_FIELD),
                             "'%s...' is more than %d directories deep", BG_QUOTE(path),
                             BG_WORKSPACE_DEPTH_MAX);
        else
            r = frame_read(&stack[++depth], rootfd, path, &count, err);
    }
    for (size_t i = 0; i <= depth; i++)
        frame_done(&stack[i]);
    return r;
}

int bg_workspace_tar_tree(struct bg_workspace_tar *t, const char *dir, struct bg_error *err)
{
    bg_autoclose int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bg_autofree struct frame *stack = NULL;

    if (rootfd < 0)
        return bg_error_errno(err, "open '%s'", dir);
    stack = bg_calloc(BG_WORKSPACE_DEPTH_MAX + 1, sizeof(*stack));
    return walk(t, rootfd, stack, err);
}
