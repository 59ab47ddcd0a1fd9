/* SPDX-License-Identifier: MIT */
/* VMM launch (direct or under the jailer), signal and kill. */
#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/jailer.h"
#include "banger/proc.h"
#include "spawn.h"
#include "validate.h"

#define KILL_WAIT_MS 5000

static int open_beneath(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
    struct open_how how = {.flags = (uint64_t)flags, .mode = mode, .resolve = resolve};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* <runtime_dir>/vms/<vm>: a directory of the owner's, reached without a symlink. */
static int run_dir_open(const struct bg_install *in, const char *vm, int *ret, struct bg_error *err)
{
    bg_autofree char *path = bg_asprintf("%s/vms/%s", in->runtime_dir, vm);
    int fd = open_beneath(AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS);
    struct stat st;

    if (fd < 0)
        return bg_error_errno(err, "run dir %s", path);
    if (fstat(fd, &st) < 0 || st.st_uid != in->owner_uid) {
        (void)close(fd);
        return bg_error_set(err, -EPERM, "run dir %s is not the owner's (uid %u)", path,
                            (unsigned)in->owner_uid);
    }
    *ret = fd;
    return 0;
}

static int mkdir_p(const char *path)
{
    bg_autofree char *p = bg_strdup(path);

    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0755) < 0 && errno != EEXIST)
                return -errno;
            *s = '/';
        }
    return mkdir(p, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* The jailed VMM's console log, <jail_dir>/<vm>.console.log: created by root in root's own
 * directory without following a link, then given to the owner. */
static int jail_log_open(const struct bg_install *in, const char *vm, int *ret,
                         struct bg_error *err)
{
    bg_autofree char *path = bg_asprintf("%s/%s.console.log", in->jail_dir, vm);
    int fd, rc;

    if ((rc = mkdir_p(in->jail_dir)) < 0)
        return bg_error_set(err, rc, "create %s: %s", in->jail_dir, strerror(-rc));
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat st;
    if (fd < 0)
        return bg_error_errno(err, "open %s", path);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
        fchown(fd, in->owner_uid, in->owner_gid) < 0) {
        (void)close(fd);
        return bg_error_set(err, -EPERM, "%s is not a plain file", path);
    }
    *ret = fd;
    return 0;
}

static int launch_direct(const struct bg_install *in, const char *vm, pid_t *ret_pid,
                         struct bg_error *err)
{
    bg_autofree char *console = bg_asprintf("%s/vms/%s/console.log", in->runtime_dir, vm);
    bg_autofree char *api = bg_asprintf("%s/vms/%s/api.sock", in->runtime_dir, vm);
    bg_autofree char *log = bg_asprintf("%s/vms/%s/firecracker.log", in->runtime_dir, vm);
    /* "--name value" as two words: Firecracker refuses "--name=value" */
    const char *argv[] = {in->firecracker, "--api-sock", api, "--id", vm, "--log-path", log, NULL};
    struct bg_spawn_detached s = {.argv = argv,
                                  .log_fd = -1,
                                  .log_path = console,
                                  .drop = true,
                                  .uid = in->owner_uid,
                                  .gid = in->owner_gid};

    return bg_spawn_detached(&s, ret_pid, err);
}

/* Hard-link the file rel (beneath state_dir, no symlink) to f->path. */
static int jail_link(const struct bg_install *in, int state_fd, const char *rel,
                     const struct bg_jail_file *f, struct bg_error *err)
{
    bg_autoclose int src =
        open_beneath(state_fd, rel, O_PATH | O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
    char proc[64];
    struct stat st;

    if (src < 0)
        return bg_error_errno(err, "jail file %s/%s", in->state_dir, rel);
    if (fstat(src, &st) < 0 || !S_ISREG(st.st_mode))
        return bg_error_set(err, -EPERM, "jail file %s/%s is not a regular file", in->state_dir,
                            rel);
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", src);
    (void)unlink(f->path);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, f->path, AT_SYMLINK_FOLLOW) < 0)
        return bg_error_errno(err,
                              "link %s into the jail (the jail must be on the state "
                              "dir's filesystem)",
                              rel);
    if (f->chown && chown(f->path, in->owner_uid, in->owner_gid) < 0)
        return bg_error_errno(err, "chown %s", f->path);
    return 0;
}

static int jail_layout(const struct bg_install *in, const struct bg_helper_request *r,
                       const struct bg_jail_spec *spec, struct bg_error *err)
{
    bg_autoclose int state_fd = open(in->state_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const char *rel[BG_JAIL_FILES_MAX];
    bg_autofree char *k = bg_asprintf("images/%s/%s", r->image, r->kernel);
    bg_autofree char *i = bg_asprintf("images/%s/%s", r->image, r->initrd);
    bg_autofree char *f = bg_asprintf("images/%s/%s", r->image, r->rootfs);
    bg_autofree char *o = bg_asprintf("vms/%s/overlay.img", r->vm);
    bg_autofree char *w = bg_asprintf("vms/%s/work.img", r->vm);
    size_t n = 0;
    int rc;

    if (state_fd < 0)
        return bg_error_errno(err, "state dir %s", in->state_dir);
    rel[n++] = k;
    if (r->initrd[0])
        rel[n++] = i;
    if (r->rootfs[0])
        rel[n++] = f;
    rel[n++] = o;
    if (r->workdisk)
        rel[n++] = w;
    if ((rc = mkdir_p(spec->root)) < 0)
        return bg_error_set(err, rc, "create jail %s: %s", spec->root, strerror(-rc));
    for (size_t j = 0; j < n && j < spec->n_files; j++)
        if ((rc = jail_link(in, state_fd, rel[j], &spec->files[j], err)) < 0)
            return rc;
    return 0;
}

static int launch_jailed(const struct bg_install *in, const struct bg_helper_request *r,
                         pid_t *ret_pid, struct bg_error *err)
{
    bg_autoclose int log_fd = -1;
    bg_autofree char *k = bg_asprintf("%s/images/%s/%s", in->state_dir, r->image, r->kernel);
    bg_autofree char *i = bg_asprintf("%s/images/%s/%s", in->state_dir, r->image, r->initrd);
    bg_autofree char *f = bg_asprintf("%s/images/%s/%s", in->state_dir, r->image, r->rootfs);
    bg_autofree char *o = bg_asprintf("%s/vms/%s/overlay.img", in->state_dir, r->vm);
    bg_autofree char *w = bg_asprintf("%s/vms/%s/work.img", in->state_dir, r->vm);
    struct bg_jail_disks d = {.kernel = k,
                              .initrd = r->initrd[0] ? i : NULL,
                              .rootfs = r->rootfs[0] ? f : NULL,
                              .overlay = o,
                              .workdisk = r->workdisk ? w : NULL};
    struct bg_jail_params p = {.jailer = in->jailer,
                               .id = r->vm,
                               .uid = in->owner_uid,
                               .gid = in->owner_gid,
                               .chroot_base = in->jail_dir,
                               .exec_file = in->firecracker,
                               .cgroup_version = 2};
    struct bg_jail_spec spec = {0};
    int rc = bg_jail_spec_build(&d, &p, &spec, err);

    if (rc == 0)
        rc = jail_log_open(in, r->vm, &log_fd, err);
    if (rc == 0)
        rc = jail_layout(in, r, &spec, err);
    if (rc == 0) {
        struct bg_spawn_detached s = {
            .argv = (const char *const *)spec.argv, .log_fd = log_fd, .drop = false};
        rc = bg_spawn_detached(&s, ret_pid, err);
    }
    bg_jail_spec_done(&spec);
    return rc;
}

int bg_hvmm_launch(const struct bg_install *in, const struct bg_helper_request *r, pid_t *ret_pid,
                   uint64_t *ret_start_time, int *ret_pidfd, struct bg_error *err)
{
    bg_autoclose int run_fd = -1;
    pid_t pid = 0;
    uint64_t st;
    char state;
    int rc;

    if (!in->firecracker)
        return bg_error_set(err, -EPERM, "install.toml sets no firecracker binary");
    if ((rc = bg_hv_binary(in->firecracker, err)) < 0 ||
        (in->jailer && (rc = bg_hv_binary(in->jailer, err)) < 0))
        return rc;
    if ((rc = run_dir_open(in, r->vm, &run_fd, err)) < 0)
        return rc;
    rc = in->jailer ? launch_jailed(in, r, &pid, err) : launch_direct(in, r->vm, &pid, err);
    if (rc < 0)
        return rc;
    if ((rc = bg_proc_stat(pid, &state, &st, err)) < 0 ||
        (rc = bg_proc_pidfd_open(pid, st, ret_pidfd, err)) < 0)
        return bg_error_prefix(err, rc, "firecracker exited at once");
    *ret_pid = pid;
    *ret_start_time = st;
    return 0;
}

int bg_hvmm_signal(int pidfd, int sig, struct bg_error *err)
{
    return bg_proc_pidfd_signal(pidfd, sig, err);
}

int bg_hvmm_kill(int pidfd, bool *ret_exited, struct bg_error *err)
{
    int r = bg_proc_pidfd_signal(pidfd, SIGKILL, err);

    if (r == -ESRCH) {
        *ret_exited = true;
        return 0;
    }
    if (r < 0)
        return r;
    *ret_exited = bg_proc_pidfd_wait(pidfd, KILL_WAIT_MS) == 1;
    return 0;
}
