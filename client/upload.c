/* SPDX-License-Identifier: MIT */
/* git ls-files -z, then a tar of those files (libarchive), then the PUT of it. */
#include "upload.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"
#include "git.h"
#include "http.h"

#define CHUNK (64 * 1024)

/* `git -C top ls-files -z`: NUL-separated paths into *ret (*ret_len bytes). */
static int list_files(const char *top, char **ret, size_t *ret_len, struct bg_error *err)
{
    static const char *const args[] = {"ls-files", "-z", "--cached", NULL};
    int status = 0;
    int r = bg_cli_git(top, args, BG_CLI_UPLOAD_LIST_MAX, ret, ret_len, &status, err);

    if (r == -E2BIG)
        return bg_error_set(err, r, "the list of tracked files of %s is over %u bytes", top,
                            BG_CLI_UPLOAD_LIST_MAX);
    if (r < 0)
        return r;
    if (status != 0) {
        free(*ret);
        *ret = NULL;
        return bg_error_set(err, -EIO, "git ls-files failed in %s", top);
    }
    return 0;
}

static int archive_failed(struct archive *a, const char *what, struct bg_error *err)
{
    return bg_error_set(err, -EIO, "%s: %s", what, archive_error_string(a));
}

/* A header for name with st's type and permissions, owned by root. */
static struct archive_entry *entry_new(const char *name, const struct stat *st)
{
    struct archive_entry *e = archive_entry_new();

    archive_entry_set_pathname(e, name);
    archive_entry_set_mode(e, st->st_mode);
    archive_entry_set_mtime(e, st->st_mtime, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_uname(e, "root");
    archive_entry_set_gname(e, "root");
    return e;
}

/* The directories of path not yet written (path's parents, given in sorted order, so a
 * directory's files come together and *last says what was written last). */
static int write_dirs(struct archive *a, const char *path, char *last, struct bg_error *err)
{
    struct stat st = {.st_mode = S_IFDIR | 0755};

    for (const char *slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
        size_t n = (size_t)(slash - path);
        if (!strncmp(last, path, n) && (last[n] == '/' || last[n] == '\0'))
            continue;
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
        struct archive_entry *e = entry_new(dir, &st);
        int r = archive_write_header(a, e);
        archive_entry_free(e);
        if (r != ARCHIVE_OK)
            return archive_failed(a, "write a directory into the tar", err);
        snprintf(last, PATH_MAX, "%s", dir);
    }
    return 0;
}

/* One tracked file, after the directories on its way: a regular file or a symlink; anything
 * else (a submodule, a file gone from the work tree) is left out and counts nothing. */
static int write_file(struct archive *a, int topfd, const char *name, char *last, size_t *files,
                      uint64_t *bytes, struct bg_error *err)
{
    struct stat st;
    char target[PATH_MAX];

    if (fstatat(topfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)))
        return 0;
    int r = write_dirs(a, name, last, err);
    if (r < 0)
        return r;
    struct archive_entry *e = entry_new(name, &st);
    if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlinkat(topfd, name, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        archive_entry_set_symlink(e, target);
    } else {
        archive_entry_set_size(e, st.st_size);
    }
    int fd = S_ISREG(st.st_mode) ? openat(topfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
    r = S_ISREG(st.st_mode) && fd < 0 ? bg_error_errno(err, "open '%s'", name) : 0;
    if (r == 0 && archive_write_header(a, e) != ARCHIVE_OK)
        r = archive_failed(a, "write the tar", err);
    archive_entry_free(e);
    bg_autofree char *buf = fd >= 0 ? bg_malloc(CHUNK) : NULL;
    for (int64_t left = st.st_size; r == 0 && fd >= 0 && left > 0;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n <= 0) {
            r = n < 0 ? bg_error_errno(err, "read '%s'", name)
                      : bg_error_set(err, -EIO, "'%s' shrank while it was read", name);
            break;
        }
        if (archive_write_data(a, buf, (size_t)n) != n)
            r = archive_failed(a, "write the tar", err);
        left -= n;
    }
    if (fd >= 0)
        (void)close(fd);
    if (r == 0) {
        (*files)++;
        *bytes += S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    }
    return r;
}

int bg_cli_upload_tar(const char *top, FILE *f, size_t *ret_files, uint64_t *ret_bytes,
                      struct bg_error *err)
{
    bg_autofree char *list = NULL;
    bg_autoclose int topfd = -1;
    char last[PATH_MAX] = "";
    size_t len = 0, files = 0;
    uint64_t bytes = 0;
    int r = list_files(top, &list, &len, err);

    if (r < 0)
        return r;
    if ((topfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return bg_error_errno(err, "open '%s'", top);
    struct archive *a = archive_write_new();
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_open_FILE(a, f) != ARCHIVE_OK)
        r = archive_failed(a, "start the tar", err);
    for (size_t at = 0; r == 0 && at < len;) {
        const char *name = list + at;
        size_t n = strnlen(name, len - at);
        if (n == len - at)
            break; /* git ends every name with NUL: a cut one is ignored */
        at += n + 1;
        r = write_file(a, topfd, name, last, &files, &bytes, err);
    }
    if (archive_write_close(a) != ARCHIVE_OK && r == 0)
        r = archive_failed(a, "finish the tar", err);
    archive_write_free(a);
    if (r < 0)
        return r;
    *ret_files = files;
    *ret_bytes = bytes;
    return 0;
}

static void fclosep(FILE **f)
{
    if (*f)
        (void)fclose(*f);
}

int bg_cli_upload_repo(const char *socket, const char *vm, const char *top, const char *dest,
                       json_t **ret, struct bg_error *err)
{
    bg_auto(fclosep) FILE *f = tmpfile();
    bg_autofree char *esc_vm = bg_cli_http_escape(vm), *esc_dest = bg_cli_http_escape(dest);
    bg_autofree char *path = bg_asprintf("/v1/vms/%s/files?path=%s", esc_vm, esc_dest);
    int64_t t0 = bg_now_ms();
    uint64_t bytes = 0;
    size_t files = 0;
    int r;

    if (!f)
        return bg_error_errno(err, "make a temporary file for the tar");
    if ((r = bg_cli_upload_tar(top, f, &files, &bytes, err)) < 0)
        return r;
    long size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) < 0)
        return bg_error_errno(err, "rewind the tar");
    r = bg_cli_http_upload(socket, "PUT", path, "application/x-tar", f, (uint64_t)size, NULL, err);
    if (r < 0)
        return bg_error_prefix(err, r, "upload %s to vm '%s':%s", top, vm, dest);
    if (ret)
        *ret = json_pack("{s:I, s:I, s:I}", "files", (json_int_t)files, "bytes", (json_int_t)bytes,
                         "ms", (json_int_t)(bg_now_ms() - t0));
    return 0;
}
