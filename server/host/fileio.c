/* SPDX-License-Identifier: MIT */
/* Host files and directories bangerd reads, creates and removes. */
#include "host/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/agentio.h"
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

int bg_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct bg_error *err)
{
    bg_autofree char *tmp = bg_asprintf("%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    int r;

    if (fd < 0)
        return bg_error_errno(err, "create '%s'", tmp);
    if ((r = bg_write_all(fd, data, len)) == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        (void)unlink(tmp);
        return bg_error_set(err, r, "write '%s': %s", path, strerror(-r));
    }
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

/* Remove every entry of the directory open at fd, staying on device dev. Returns 1 with
 * *ret_child (open) and *ret_name (new) when it met a subdirectory to empty first, 0 when the
 * directory is empty now, or -errno with err set. */
static int rm_entries(int fd, dev_t dev, const char *where, int *ret_child, char **ret_name,
                      struct bg_error *err)
{
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
    struct dirent *de;
    struct stat st;
    int r = 0;

    if (!d) {
        r = bg_error_errno(err, "read directory '%s'", where);
        if (dup_fd >= 0)
            (void)close(dup_fd);
        return r;
    }
    while (r == 0 && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno != ENOENT)
                r = bg_error_errno(err, "stat '%s/%s'", where, de->d_name);
        } else if (S_ISDIR(st.st_mode) && st.st_dev != dev) {
            r = bg_error_set(err, -EXDEV, "'%s/%s' is a mount point; not removing it", where,
                             de->d_name);
        } else if (S_ISDIR(st.st_mode)) {
            int child = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (child < 0)
                r = bg_error_errno(err, "open '%s/%s'", where, de->d_name);
            else {
                *ret_child = child;
                *ret_name = bg_strdup(de->d_name);
                r = 1;
            }
        } else if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT) {
            r = bg_error_errno(err, "remove '%s/%s'", where, de->d_name);
        }
    }
    closedir(d);
    return r;
}

/* Walk down into the first subdirectory left, empty the directories on the way back up. The
 * depth is only bounded by memory for the names (one open directory at a time): no recursion,
 * so a tree of any depth is removed on any stack. */
int bg_rm_tree(const char *path, struct bg_error *err)
{
    struct stat st;
    char **names = NULL;
    size_t depth = 0;
    int r;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : bg_error_errno(err, "stat '%s'", path);
    if (!S_ISDIR(st.st_mode))
        return unlink(path) < 0 && errno != ENOENT ? bg_error_errno(err, "remove '%s'", path) : 0;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return bg_error_errno(err, "open '%s'", path);
    for (;;) {
        int child = -1;
        char *name = NULL;
        if ((r = rm_entries(fd, st.st_dev, path, &child, &name, err)) < 0)
            break;
        if (r == 1) {
            names = bg_realloc(names, (depth + 1) * sizeof(*names));
            names[depth++] = name;
            (void)close(fd);
            fd = child;
            continue;
        }
        if (depth == 0)
            break;
        int parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent < 0) {
            r = bg_error_errno(err, "open the parent of '%s' in '%s'", names[depth - 1], path);
            break;
        }
        (void)close(fd);
        fd = parent;
        name = names[--depth];
        r = unlinkat(fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT
                ? bg_error_errno(err, "remove '%s' in '%s'", name, path)
                : 0;
        free(name);
        if (r < 0)
            break;
    }
    (void)close(fd);
    while (depth > 0)
        free(names[--depth]);
    free(names);
    if (r == 0 && rmdir(path) < 0 && errno != ENOENT)
        r = bg_error_errno(err, "remove '%s'", path);
    return r;
}
