/* SPDX-License-Identifier: MIT */
/* A VM's writable overlay disk: a sparse raw file with ext4, made on the host, grown on request
 * (a growth cut short is finished at the next start). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "host/run.h"
#include "vm/vm-internal.h"

#define MKFS_TIMEOUT_MS 120000

/* Run a disk tool; ok_mask has bit N set for each exit status N that counts as success. */
static int run_tool(const char *const *argv, unsigned ok_mask, struct bg_error *err)
{
    struct bg_run_opts o = {.argv = argv, .out_fd = -1, .timeout_ms = MKFS_TIMEOUT_MS};
    struct bg_run_result res;
    char line[256];
    int r = bg_run(&o, &res, err);

    if (r < 0)
        return r;
    int st = res.status;
    if (st < 32 && (ok_mask & (1u << st))) {
        bg_run_result_done(&res);
        return 0;
    }
    r = bg_error_set(err, -EIO, "%s failed (exit %d): %s", argv[0], st,
                     bg_run_last_line(&res, line, sizeof(line))[0] ? line : "no output");
    bg_run_result_done(&res);
    return r;
}

static int disk_create(const char *path, uint64_t mib, struct bg_error *err)
{
    bg_autofree char *tmp = bg_asprintf("%s.new", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int r;

    if (fd < 0)
        return bg_error_errno(err, "create %s", tmp);
    if (ftruncate(fd, (off_t)(mib << 20)) < 0) {
        r = bg_error_errno(err, "size %s to %llu MiB", tmp, (unsigned long long)mib);
        (void)close(fd);
        (void)unlink(tmp);
        return r;
    }
    (void)close(fd);
    /* lazy init: the kernel zeroes inode tables in the guest later; the file stays sparse */
    const char *argv[] = {
        "mkfs.ext4",      "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", "-L",
        "banger-overlay", tmp,  NULL};
    if ((r = run_tool(argv, 1u, err)) < 0) {
        (void)unlink(tmp);
        return r;
    }
    /* renamed only once formatted, so a half-made disk is never mistaken for the user's */
    if (rename(tmp, path) < 0) {
        r = bg_error_errno(err, "rename %s", tmp);
        (void)unlink(tmp);
        return r;
    }
    return 0;
}

/* Create the marker that says a growth of path to mib MiB has begun, durably: once the file
 * is grown, only the marker tells a later start that the filesystem may not be. */
static int marker_write(const char *marker, uint64_t mib, struct bg_error *err)
{
    bg_autofree char *dir = bg_strdup(marker);
    char text[32];
    int n = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)mib);
    bg_autoclose int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0 || write(fd, text, (size_t)n) != n || fsync(fd) < 0)
        return bg_error_errno(err, "write %s", marker);
    *strrchr(dir, '/') = '\0';
    bg_autoclose int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) < 0)
        return bg_error_errno(err, "sync %s", dir);
    return 0;
}

/* Grow the file to mib MiB (when smaller) and its filesystem to the file. Every step may be
 * done again: the marker stays until the last one succeeded. */
static int disk_grow(const char *path, const char *marker, uint64_t mib, off_t size,
                     struct bg_error *err)
{
    int r;

    if ((r = marker_write(marker, mib, err)) < 0)
        return r;
    if (size < (off_t)(mib << 20) && truncate(path, (off_t)(mib << 20)) < 0)
        return bg_error_errno(err, "grow %s to %llu MiB", path, (unsigned long long)mib);
    /* resize2fs wants a freshly checked filesystem; e2fsck exits 1 when it fixed something */
    const char *fsck[] = {"e2fsck", "-f", "-y", path, NULL};
    if ((r = run_tool(fsck, 1u | 2u, err)) < 0)
        return r;
    /* no size: the filesystem grows to the file, which is never smaller than it */
    const char *resize[] = {"resize2fs", path, NULL};
    if ((r = run_tool(resize, 1u, err)) < 0)
        return r;
    if (unlink(marker) < 0)
        return bg_error_errno(err, "remove %s", marker);
    return 0;
}

int bg_vm_disk_ensure(const char *path, uint64_t mib, struct bg_error *err)
{
    bg_autofree char *marker = bg_asprintf("%s" BG_VM_DISK_GROW_MARKER, path);
    struct stat st;

    if (stat(path, &st) < 0) {
        if (errno != ENOENT)
            return bg_error_errno(err, "stat %s", path);
        (void)unlink(marker);
        return disk_create(path, mib, err);
    }
    if (!S_ISREG(st.st_mode))
        return bg_error_set(err, -EINVAL, "%s is not a regular file", path);
    bool pending = access(marker, F_OK) == 0;
    if (!pending && (uint64_t)st.st_size >= (mib << 20))
        return 0;
    if (pending)
        bg_log_info("grow disk '%s': finishing a growth that stopped half way", path);
    else
        bg_log_info("grow disk '%s' from %lld to %llu MiB", path, (long long)(st.st_size >> 20),
                    (unsigned long long)mib);
    return disk_grow(path, marker, mib, st.st_size, err);
}
