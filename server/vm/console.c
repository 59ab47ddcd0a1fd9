/* SPDX-License-Identifier: MIT */
/* A VM's console log: its tail for the API and for failure reasons, and its cap. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/utf8.h"
#include "host/fileio.h"
#include "vm/vm-internal.h"

#define CONSOLE_TAIL_IN_ERROR 700
#define VMM_LOG_TAIL_IN_ERROR 300
#define TRIM_SLACK (64 * 1024) /* allocated bytes over the cap before a trim: not every pass */

int bg_vm_console_trim(const char *path, uint64_t max_bytes)
{
    bg_autoclose int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;

    if (fd < 0 || fstat(fd, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_blocks * 512 <= max_bytes + TRIM_SLACK)
        return 0;
    off_t block = st.st_blksize > 0 ? st.st_blksize : 4096;
    off_t head = (st.st_size - (off_t)max_bytes) / block * block;
    /* a hole, not a shorter file: QEMU writes at its own offset, Firecracker's stdout appends;
     * neither notices, and no byte written meanwhile is lost as with copy-and-truncate */
    if (head > 0 && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, head) < 0)
        return -errno;
    return 0;
}

int bg_vm_console_tail(struct bg_vm_runtime *rt, const char *name, size_t max_bytes, char **ret,
                       size_t *ret_len, struct bg_error *err)
{
    struct bg_vm_paths p;
    struct bg_vm vm;
    struct stat st;
    int r;

    if ((r = bg_vm_get(rt, name, &vm, err)) < 0)
        return r;
    bg_vm_paths_init(rt, name, &p);
    bg_autoclose int fd = open(p.console, O_RDONLY | O_CLOEXEC);
    bg_vm_paths_done(&p);
    *ret = bg_malloc(max_bytes + 1);
    *ret_len = 0;
    if (fd < 0 || fstat(fd, &st) < 0)
        return 0;
    off_t from = st.st_size > (off_t)max_bytes ? st.st_size - (off_t)max_bytes : 0;
    /* skip the hole a trim left over the head: it reads as zeros */
    off_t data = lseek(fd, from, SEEK_DATA);
    if (data < 0 && errno == ENXIO)
        return 0;
    if (data > from)
        from = data;
    ssize_t n = pread(fd, *ret, max_bytes, from);
    *ret_len = n > 0 ? (size_t)n : 0;
    return 0;
}

void bg_vm_failure_text(const struct bg_vmm_driver *drv, const struct bg_vm_paths *p,
                        const char *reason, char *buf, size_t len)
{
    char tail[CONSOLE_TAIL_IN_ERROR + 1];
    size_t n = bg_utf8_format(buf, len, "%s", reason);

    /* the VMM's own complaints (bad kernel, locked disk) first: they are short and decisive */
    if (drv && drv->log_name) {
        bg_autofree char *log = bg_asprintf("%s/%s", p->run_dir, drv->log_name);
        bg_file_tail_text(log, tail, VMM_LOG_TAIL_IN_ERROR + 1);
        if (tail[0] && n + 1 < len)
            n += bg_utf8_format(buf + n, len - n, "\n%s log tail:\n%s", drv->name, tail);
    }
    bg_file_tail_text(p->console, tail, sizeof(tail));
    if (tail[0] && n + 1 < len)
        bg_utf8_format(buf + n, len - n, "\nconsole tail:\n%s", tail);
}
