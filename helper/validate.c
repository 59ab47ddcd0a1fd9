/* SPDX-License-Identifier: MIT */
/* bangerd-root's checks on untrusted input: names, signals, pids, addresses, files, binaries. */
#include "validate.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "banger/alloc.h"
#include "banger/proc.h"
#include "banger/utf8.h"
#include "banger/validate.h"

static const struct {
    const char *name;
    int sig;
} allowed_signals[] = {
    {"TERM", SIGTERM}, {"KILL", SIGKILL}, {"INT", SIGINT},   {"HUP", SIGHUP},
    {"QUIT", SIGQUIT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"ABRT", SIGABRT},
};

int bg_hv_vm(const char *vm, struct bg_error *err)
{
    int r = bg_name_validate(vm, err);
    return r < 0 ? bg_error_prefix(err, r, "vm") : 0;
}

int bg_hv_signal(const char *name, int *ret_sig, struct bg_error *err)
{
    const char *bare = strncasecmp(name, "SIG", 3) ? name : name + 3;

    for (size_t i = 0; i < BG_ARRAY_SIZE(allowed_signals); i++)
        if (!strcasecmp(bare, allowed_signals[i].name)) {
            *ret_sig = allowed_signals[i].sig;
            return 0;
        }
    return bg_error_set(err, -EINVAL,
                        "signal '%s' is not allowed (TERM, KILL, INT, HUP, QUIT, USR1, USR2 or "
                        "ABRT, by name)",
                        BG_QUOTE(name));
}

int bg_hv_pid_range(int64_t pid, pid_t self, struct bg_error *err)
{
    if (pid <= 1 || pid == self)
        return bg_error_set(err, -EPERM, "pid %lld is never signalled", (long long)pid);
    if (pid > (int64_t)BG_PROC_PID_MAX)
        return bg_error_set(err, -EINVAL, "pid %lld is above the kernel's limit", (long long)pid);
    return 0;
}

int bg_hv_guest_address(const struct bg_install *in, const char *text, uint32_t *ret,
                        struct bg_error *err)
{
    uint32_t a, mask = ~0u << (32 - in->prefix);
    char cidr[32];

    if (bg_ipv4_parse(text, &a, err) < 0)
        return -EINVAL;
    bg_install_cidr(in->subnet, in->prefix, cidr, sizeof(cidr));
    if ((a & mask) != in->subnet)
        return bg_error_set(err, -EINVAL, "address %s is outside the subnet %s", text, cidr);
    if (a == in->subnet || a == (in->subnet | ~mask) || a == in->subnet + 1)
        return bg_error_set(err, -EINVAL,
                            "address %s is the network, broadcast or bridge address of %s", text,
                            cidr);
    *ret = a;
    return 0;
}

int bg_hv_file_name(const char *what, const char *name, struct bg_error *err)
{
    size_t n = strlen(name);

    if (n == 0 || n > BG_HELPER_FILE_MAX || !strcmp(name, ".") || !strcmp(name, "..") ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
        return bg_error_set(err, -EINVAL, "%s '%s' is not a file name ([A-Za-z0-9._-])", what,
                            BG_QUOTE(name));
    return 0;
}

int bg_hv_binary(const char *path, struct bg_error *err)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return bg_error_errno(err, "VMM binary %s", path);
    if (S_ISLNK(st.st_mode))
        return bg_error_set(err, -EPERM, "VMM binary %s is a symlink", path);
    if (!S_ISREG(st.st_mode))
        return bg_error_set(err, -EPERM, "VMM binary %s is not a regular file", path);
    if (st.st_uid != 0)
        return bg_error_set(err, -EPERM, "VMM binary %s is not owned by root (uid %u)", path,
                            (unsigned)st.st_uid);
    if (st.st_mode & 022)
        return bg_error_set(err, -EPERM, "VMM binary %s is writable by group or others", path);
    return 0;
}

bool bg_hv_is_tap_name(const char *name)
{
    size_t p = strlen(BG_HELPER_TAP_PREFIX);

    return strlen(name) == BG_HELPER_TAP_LEN && !strncmp(name, BG_HELPER_TAP_PREFIX, p) &&
           strspn(name + p, "0123456789abcdef") == BG_HELPER_TAP_LEN - p;
}

static int launch_check(const struct bg_install *in, const struct bg_helper_request *r,
                        struct bg_error *err)
{
    int rc;

    if ((rc = bg_hv_vm(r->vm, err)) < 0)
        return rc;
    if (strcmp(r->vmm, "firecracker"))
        return bg_error_set(err, -EINVAL, "vmm '%s' is not launched by the helper (firecracker)",
                            BG_QUOTE(r->vmm));
    if (!in->jailer) {
        if (r->image[0] || r->kernel[0] || r->initrd[0] || r->rootfs[0] || r->workdisk)
            return bg_error_set(err, -EINVAL,
                                "image files are for the jailer, which install.toml does not set");
        return 0;
    }
    if ((rc = bg_name_validate(r->image, err)) < 0)
        return bg_error_prefix(err, rc, "image");
    if ((rc = bg_hv_file_name("kernel", r->kernel, err)) < 0)
        return rc;
    if (r->initrd[0] && (rc = bg_hv_file_name("initrd", r->initrd, err)) < 0)
        return rc;
    if (r->rootfs[0] && (rc = bg_hv_file_name("rootfs", r->rootfs, err)) < 0)
        return rc;
    return 0;
}

static int guests_check(const struct bg_install *in, const struct bg_helper_request *r,
                        struct bg_error *err)
{
    uint32_t *seen = bg_calloc(r->n_guests + 1, sizeof(*seen));
    int rc = 0;

    for (size_t i = 0; i < r->n_guests && rc == 0; i++) {
        if ((rc = bg_hv_vm(r->guests[i].vm, err)) < 0 ||
            (rc = bg_hv_guest_address(in, r->guests[i].address, &seen[i], err)) < 0) {
            rc = bg_error_prefix(err, rc, "guests[%zu]", i);
            break;
        }
        for (size_t j = 0; j < i && rc == 0; j++) {
            if (seen[j] == seen[i])
                rc = bg_error_set(err, -EINVAL, "guests[%zu]: address %s is also guests[%zu]'s", i,
                                  r->guests[i].address, j);
            else if (!strcmp(r->guests[j].vm, r->guests[i].vm))
                rc = bg_error_set(err, -EINVAL, "guests[%zu]: vm '%s' is also guests[%zu]", i,
                                  r->guests[i].vm, j);
        }
    }
    free(seen);
    return rc;
}

int bg_hv_request(const struct bg_install *in, const struct bg_helper_request *r,
                  struct bg_error *err)
{
    int sig, rc;

    switch (r->op) {
    case BG_HELPER_OP_TAP_CREATE:
    case BG_HELPER_OP_TAP_DELETE:
        return bg_hv_vm(r->vm, err);
    case BG_HELPER_OP_NAT_APPLY:
        return guests_check(in, r, err);
    case BG_HELPER_OP_VMM_LAUNCH:
        return launch_check(in, r, err);
    case BG_HELPER_OP_VMM_SIGNAL:
        if ((rc = bg_hv_signal(r->signal, &sig, err)) < 0)
            return rc;
        return bg_hv_pid_range(r->pid, getpid(), err);
    case BG_HELPER_OP_VMM_KILL:
        return bg_hv_pid_range(r->pid, getpid(), err);
    case BG_HELPER_OP_RECONCILE:
        for (size_t i = 0; i < r->n_vms; i++)
            if ((rc = bg_hv_vm(r->vms[i], err)) < 0)
                return bg_error_prefix(err, rc, "vms[%zu]", i);
        return 0;
    case BG_HELPER_OP_HELLO:
    case BG_HELPER_OP_BRIDGE_ENSURE:
    case BG_HELPER_OP_TEARDOWN:
    case BG_HELPER_OP_COUNT:
        break;
    }
    return 0;
}

/* path is <runtime_dir>/vms/<VM name>/<file>. */
static bool vm_path(const char *runtime_dir, const char *path, size_t plen, const char *file)
{
    size_t rl = strlen(runtime_dir), fl = strlen(file);
    char name[BG_NAME_MAX + 2];

    if (plen < rl + 5 + fl + 2 || strncmp(path, runtime_dir, rl) || strncmp(path + rl, "/vms/", 5))
        return false;
    const char *n = path + rl + 5, *end = path + plen - fl - 1;
    if (end[0] != '/' || strncmp(end + 1, file, fl) || (size_t)(end - n) >= sizeof(name))
        return false;
    memcpy(name, n, (size_t)(end - n));
    name[end - n] = '\0';
    return bg_name_validate(name, NULL) == 0;
}

/* The PATH of a QEMU option list value after prefix, up to the first single comma (a doubled
 * comma is a literal one), undoubled into buf. */
static bool qemu_opt_path(const char *word, const char *prefix, char *buf, size_t len)
{
    size_t pl = strlen(prefix), n = 0;

    if (strncmp(word, prefix, pl))
        return false;
    for (const char *p = word + pl; *p && !(p[0] == ',' && p[1] != ','); p++) {
        if (n + 1 >= len)
            return false;
        if (p[0] == ',')
            p++;
        buf[n++] = *p;
    }
    buf[n] = '\0';
    return n > 0;
}

static bool word_ok(const char *runtime_dir, const char *prev, const char *w)
{
    char path[BG_PATH_MAX + 1];

    if (prev && (!strcmp(prev, "--api-sock") || !strcmp(prev, "-a")))
        return vm_path(runtime_dir, w, strlen(w), "api.sock");
    if (!strncmp(w, "--api-sock=", 11))
        return vm_path(runtime_dir, w + 11, strlen(w + 11), "api.sock");
    if (prev && !strcmp(prev, "-pidfile"))
        return vm_path(runtime_dir, w, strlen(w), "qemu.pid");
    if (prev && !strcmp(prev, "-qmp") && qemu_opt_path(w, "unix:", path, sizeof(path)))
        return vm_path(runtime_dir, path, strlen(path), "qmp.sock");
    if (prev && !strcmp(prev, "-chardev") &&
        qemu_opt_path(w, "socket,id=qmp,path=", path, sizeof(path)))
        return vm_path(runtime_dir, path, strlen(path), "qmp.sock");
    return false;
}

bool bg_hv_vmm_argv(const char *runtime_dir, const char *argv, size_t len)
{
    const char *end = argv + len, *prev = NULL;

    for (const char *w = argv; w < end;) {
        size_t wl = strnlen(w, (size_t)(end - w));
        if (w + wl == end) /* cut off: not a whole word */
            break;
        if (word_ok(runtime_dir, prev, w))
            return true;
        prev = w;
        w += wl + 1;
    }
    return false;
}

/* The process behind pidfd (pid) is banger's by cgroup or command line. */
static bool banger_process(const struct bg_install *in, pid_t pid, const char *self_cgroup)
{
    char cg[BG_PROC_CGROUP_MAX];
    bg_autofree char *argv = NULL;
    size_t len;

    if (self_cgroup && strcmp(self_cgroup, "/") && bg_proc_cgroup(pid, cg, sizeof(cg)) == 0 &&
        !strcmp(cg, self_cgroup))
        return true;
    return bg_proc_cmdline_read(pid, &argv, &len) == 0 &&
           bg_hv_vmm_argv(in->runtime_dir, argv, len);
}

int bg_hv_vmm_pid(const struct bg_install *in, pid_t pid, uint64_t start_time, pid_t self,
                  const char *self_cgroup, const struct bg_hv_launched *launched, size_t n,
                  int *ret_pidfd, struct bg_error *err)
{
    bg_autoclose int fd = -1;
    uint64_t st;
    char state;
    bool known = false;
    int r;

    if ((r = bg_hv_pid_range(pid, self, err)) < 0)
        return r;
    /* The pidfd first: whatever is checked below is then the process it names. */
    if ((r = bg_proc_pidfd_open(pid, start_time, &fd, err)) < 0)
        return r;
    for (size_t i = 0; i < n && !known; i++)
        known = launched[i].pid == pid && launched[i].start_time == start_time;
    if (!known && !banger_process(in, pid, self_cgroup))
        return bg_error_set(err, -EPERM, "pid %d is not a VMM banger launched", (int)pid);
    /* the command line read belongs to this process only if it is still the one started then */
    if (bg_proc_stat(pid, &state, &st, NULL) < 0 || st != start_time)
        return bg_error_set(err, -ESRCH, "process %d is gone", (int)pid);
    *ret_pidfd = bg_steal_fd(&fd);
    return 0;
}
