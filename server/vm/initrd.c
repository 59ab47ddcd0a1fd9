/* SPDX-License-Identifier: MIT */
/* What a VM boots with: the image's initrd plus banger's agent archive (cached), and the
 * kernel command line. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "host/fileio.h"
#include "host/sha256.h"
#include "image/cpio.h"
#include "vm/vm-internal.h"

#define ALIGN 512 /* the kernel finds each appended archive at a 4-byte boundary; use a block */
#define HASH_PREFIX 16

/* The banger-agent binary: $BANGER_AGENT, else next to bangerd in the build tree
 * (<dir>/../agent/banger-agent) or in an install (<dir>/banger-agent, <dir>/../lib/banger/). */
static int agent_find(char **ret, struct bg_error *err)
{
    const char *env = getenv("BANGER_AGENT");
    char exe[PATH_MAX];

    if (env && *env) {
        if (access(env, R_OK) < 0)
            return bg_error_errno(err, "BANGER_AGENT=%s", env);
        *ret = bg_strdup(env);
        return 0;
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n < 0)
        return bg_error_errno(err, "readlink /proc/self/exe");
    exe[n] = '\0';
    const char *dir = dirname(exe);
    const char *const tries[] = {"/../agent/banger-agent", "/banger-agent",
                                 "/../lib/banger/banger-agent"};
    for (size_t i = 0; i < BG_ARRAY_SIZE(tries); i++) {
        bg_autofree char *p = bg_asprintf("%s%s", dir, tries[i]);
        if (access(p, R_OK) == 0) {
            *ret = bg_steal_ptr(&p);
            return 0;
        }
    }
    return bg_error_set(err, -ENOENT,
                        "banger-agent not found next to bangerd (%s); build it or set "
                        "BANGER_AGENT",
                        dir);
}

static int copy_fd(int out, const char *src, struct bg_error *err)
{
    bg_autoclose int in = open(src, O_RDONLY | O_CLOEXEC);
    char buf[65536];
    ssize_t n;

    if (in < 0)
        return bg_error_errno(err, "open %s", src);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            return bg_error_errno(err, "write initrd");
    if (n < 0)
        return bg_error_errno(err, "read %s", src);
    off_t pos = lseek(out, 0, SEEK_CUR);
    static const char zeros[ALIGN];
    if (pos % ALIGN && write(out, zeros, (size_t)(ALIGN - pos % ALIGN)) < 0)
        return bg_error_errno(err, "write initrd");
    return 0;
}

/* The agent archive: /init and the mount points it needs. */
static int agent_archive(int fd, const char *agent, struct bg_error *err)
{
    static const char *const dirs[] = {"dev", "proc", "sys", "run", "tmp", "mnt"};
    bg_auto(bg_cpio_freep) struct bg_cpio *c = bg_cpio_new(fd, 0);
    int r;

    for (size_t i = 0; i < BG_ARRAY_SIZE(dirs); i++)
        if ((r = bg_cpio_add_dir(c, dirs[i], 0755, err)) < 0)
            return r;
    if ((r = bg_cpio_add_file(c, "init", 0755, agent, err)) < 0)
        return r;
    return bg_cpio_finish(c, err);
}

/* Write image initrd + agent archive to tmp, then rename it to path. */
static int initrd_build(const char *path, const char *image_initrd, const char *agent,
                        struct bg_error *err)
{
    bg_autofree char *tmp = bg_asprintf("%s.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    int r = 0;

    if (fd < 0)
        return bg_error_errno(err, "create %s", tmp);
    if (image_initrd)
        r = copy_fd(fd, image_initrd, err);
    if (r == 0)
        r = agent_archive(fd, agent, err);
    if (r == 0 && fchmod(fd, 0644) < 0)
        r = bg_error_errno(err, "chmod %s", tmp);
    (void)close(fd);
    if (r == 0 && rename(tmp, path) < 0)
        r = bg_error_errno(err, "rename %s", tmp);
    if (r < 0)
        (void)unlink(tmp);
    return r;
}

int bg_vm_initrd_prepare(const char *cache_dir, const struct bg_image *img, char **ret_path,
                         struct bg_error *err)
{
    const struct bg_image_file *f = &img->files[BG_IMAGE_INITRD];
    char agent_sha[BG_SHA256_HEX_LEN + 1], img_sha[BG_SHA256_HEX_LEN + 1] = "none";
    bg_autofree char *agent = NULL;
    int r;

    if ((r = agent_find(&agent, err)) < 0)
        return r;
    if ((r = bg_sha256_file(agent, agent_sha, NULL, err)) < 0)
        return r;
    /* hashed again rather than trusting the record: the file may have been replaced */
    if (f->path && (r = bg_sha256_file(f->path, img_sha, NULL, err)) < 0)
        return r;
    bg_autofree char *dir = bg_asprintf("%s/initrd", cache_dir);
    if ((r = bg_mkdir_p(dir, 0700, err)) < 0)
        return r;
    bg_autofree char *path =
        bg_asprintf("%s/%.*s-%.*s.img", dir, HASH_PREFIX, img_sha, HASH_PREFIX, agent_sha);
    if (access(path, R_OK) != 0 && (r = initrd_build(path, f->path, agent, err)) < 0)
        return bg_error_prefix(err, r, "make initrd");
    *ret_path = bg_steal_ptr(&path);
    return 0;
}

char *bg_vm_cmdline(const struct bg_vm *vm, bool rootfs, bool workdisk)
{
    /* Disks are attached in this order, so the guest names them vda, vdb, vdc. */
    char root[32] = "", work[32] = "";
    char disk = 'a';

    if (rootfs)
        snprintf(root, sizeof(root), " banger.root=/dev/vd%c", disk++);
    char overlay = disk++;
    if (workdisk)
        snprintf(work, sizeof(work), " banger.work=/dev/vd%c", disk);
    /* the network, if any, is the driver's to describe: it knows what the guest is wired to */
    return bg_asprintf("console=ttyS0 panic=-1%s banger.overlay=/dev/vd%c%s banger.hostname=%s",
                       root, overlay, work, vm->spec.name);
}
