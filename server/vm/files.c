/* SPDX-License-Identifier: MIT */
/* A VM's paths and the file chores of its lifecycle: directories, removal, log tails. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "config.h"
#include "vm/vm-internal.h"
#include "vmm/qemu.h"

void bg_vm_paths_init(const struct bg_config *cfg, const char *name, struct bg_vm_paths *ret)
{
    ret->run_dir = bg_asprintf("%s/vms/%s", cfg->runtime_dir, name);
    ret->state_dir = bg_asprintf("%s/vms/%s", cfg->state_dir, name);
    ret->overlay = bg_asprintf("%s/overlay.img", ret->state_dir);
    ret->workdisk = bg_asprintf("%s/work.img", ret->state_dir);
    ret->console = bg_asprintf("%s/" BG_QEMU_CONSOLE, ret->run_dir);
}

void bg_vm_paths_done(struct bg_vm_paths *p)
{
    free(p->run_dir);
    free(p->state_dir);
    free(p->overlay);
    free(p->workdisk);
    free(p->console);
    memset(p, 0, sizeof(*p));
}

int bg_vm_mkdirs(const char *path, mode_t mode, struct bg_error *err)
{
    bg_autofree char *p = bg_strdup(path);

    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return bg_error_errno(err, "create directory %s", p);
        *s = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return bg_error_errno(err, "stat %s", path);
    if (!S_ISDIR(st.st_mode))
        return bg_error_set(err, -ENOTDIR, "%s is not a directory", path);
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int bg_vm_rm_tree(const char *path, struct bg_error *err)
{
    if (access(path, F_OK) < 0 && errno == ENOENT)
        return 0;
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
        return bg_error_errno(err, "remove %s", path);
    return 0;
}

void bg_vm_run_files_remove(const char *run_dir)
{
    static const char *const names[] = {BG_QEMU_AGENT_SOCK, BG_QEMU_QMP_SOCK, BG_QEMU_PIDFILE,
                                        "initrd.img"};

    for (size_t i = 0; i < BG_ARRAY_SIZE(names); i++) {
        bg_autofree char *p = bg_asprintf("%s/%s", run_dir, names[i]);
        (void)unlink(p);
    }
}

void bg_vm_file_tail_text(const char *path, char *buf, size_t len)
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
