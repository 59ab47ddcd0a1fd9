/* SPDX-License-Identifier: MIT */
/* The agent as PID 1: what an init does before it can serve the host. */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/timefmt.h"
#include "cmdline.h"
#include "net.h"

#define MODULES_ORDER "/lib/banger/modules.order"
#define MODULES_ORDER_MAX (64 * 1024)
#define CMDLINE_MAX 4096
#define DEVICE_WAIT_MS 5000
#define WORK_DIR "/root/repo"

/* What the kernel command line asks of the agent. */
struct boot_args {
    char root[64];    /* banger.root=: read-only root filesystem device, "" for none */
    char overlay[64]; /* banger.overlay=: the writable ext4 overlay device */
    char work[64];    /* banger.work=: the work disk, "" for none */
};

static int mount_one(const char *src, const char *dst, const char *type, unsigned long flags,
                     const char *data, struct bg_error *err)
{
    (void)mkdir(dst, 0755);
    if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
        return bg_error_errno(err, "mount %s on %s", type ? type : src, dst);
    return 0;
}

static int mount_basics(struct bg_error *err)
{
    int r;

    if ((r = mount_one("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err)) < 0 ||
        (r = mount_one("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err)) <
            0 ||
        (r = mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", err)) < 0 ||
        (r = mount_one("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                       "mode=0620,ptmxmode=0666,gid=5", err)) < 0 ||
        (r = mount_one("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", err)) < 0 ||
        (r = mount_one("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", err)) < 0 ||
        (r = mount_one("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", err)) < 0)
        return r;
    return 0;
}

/* Read a small file into a new NUL-terminated string, or NULL when it cannot be opened.
 * *ret_cut tells whether the file holds more than max bytes, of which only max were read. */
static char *read_text(const char *path, size_t max, bool *ret_cut)
{
    bg_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = bg_malloc(max + 2);
    size_t got = 0;
    ssize_t n;

    if (fd < 0) {
        free(buf);
        return NULL;
    }
    /* one byte past max tells a file of exactly max bytes from a longer one */
    while (got <= max && (n = read(fd, buf + got, max + 1 - got)) > 0)
        got += (size_t)n;
    *ret_cut = got > max;
    buf[got > max ? max : got] = '\0';
    return buf;
}

static void load_module(const char *path)
{
    bg_autofree char *abs = path[0] == '/' ? bg_strdup(path) : bg_asprintf("/%s", path);
    bg_autoclose int fd = open(abs, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        bg_log_warn("load module '%s': %s", abs, strerror(errno));
    else if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
        bg_log_warn("load module '%s': %s", abs, strerror(errno));
}

static void load_modules(void)
{
    bool cut = false;
    bg_autofree char *order = read_text(MODULES_ORDER, MODULES_ORDER_MAX, &cut);
    char *save = NULL;

    if (!order)
        return; /* an initramfs without modules: the kernel has what it needs built in */
    if (cut) {
        /* the last line read may be part of a path: load only whole lines */
        char *nl = strrchr(order, '\n');
        *(nl ? nl : order) = '\0';
        bg_log_warn("load modules: %s is longer than %d bytes; the modules after that are not "
                    "loaded",
                    MODULES_ORDER, MODULES_ORDER_MAX);
    }
    for (char *line = strtok_r(order, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (line[0] && line[0] != '#')
            load_module(line);
}

/* One device word: a value that does not fit is refused, never cut (a cut name is another
 * device). */
static int device_arg(const char *cmdline, const char *key, char *buf, size_t size,
                      struct bg_error *err)
{
    if (bg_cmdline_value(cmdline, key, buf, size) < 0)
        return bg_error_set(err, -EINVAL, "%s= is longer than %zu bytes", key, size - 1);
    return 0;
}

static int parse_cmdline(const char *cmdline, struct boot_args *a, struct bg_error *err)
{
    int r;

    if ((r = device_arg(cmdline, "banger.root", a->root, sizeof(a->root), err)) < 0 ||
        (r = device_arg(cmdline, "banger.overlay", a->overlay, sizeof(a->overlay), err)) < 0 ||
        (r = device_arg(cmdline, "banger.work", a->work, sizeof(a->work), err)) < 0)
        return r;
    return 0;
}

/* virtio-blk probes asynchronously after its module loads: wait for the node. */
static int wait_device(const char *dev, struct bg_error *err)
{
    int64_t deadline = bg_now_ms() + DEVICE_WAIT_MS;

    while (access(dev, F_OK) < 0) {
        if (bg_now_ms() >= deadline)
            return bg_error_set(err, -ENODEV, "device %s did not appear within %d ms", dev,
                                DEVICE_WAIT_MS);
        (void)usleep(10000);
    }
    return 0;
}

/* Mount the lower, upper and overlay filesystems under /mnt. */
static int mount_overlay(const struct boot_args *a, struct bg_error *err)
{
    int r;

    if (!a->overlay[0])
        return bg_error_set(err, -EINVAL, "banger.root= needs banger.overlay=");
    (void)mkdir("/mnt", 0755);
    if ((r = wait_device(a->root, err)) < 0 || (r = wait_device(a->overlay, err)) < 0 ||
        (r = mount_one(a->root, "/mnt/lower", "ext4", MS_RDONLY, NULL, err)) < 0 ||
        (r = mount_one(a->overlay, "/mnt/rw", "ext4", 0, NULL, err)) < 0)
        return r;
    (void)mkdir("/mnt/rw/upper", 0755);
    (void)mkdir("/mnt/rw/work", 0755);
    return mount_one("overlay", "/mnt/root", "overlay", 0,
                     "lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work", err);
}

/* Move the API filesystems into /mnt/root and make it "/" for this process and its children:
 * switch_root without exec, so the agent keeps running. */
static int switch_root(struct bg_error *err)
{
    static const char *const moved[] = {"/proc", "/sys", "/dev", "/run", "/tmp"};

    for (size_t i = 0; i < BG_ARRAY_SIZE(moved); i++) {
        bg_autofree char *dst = bg_asprintf("/mnt/root%s", moved[i]);
        (void)mkdir(dst, 0755);
        if (mount(moved[i], dst, NULL, MS_MOVE, NULL) < 0)
            return bg_error_errno(err, "move %s to %s", moved[i], dst);
    }
    if (chdir("/mnt/root") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
        chdir("/") < 0)
        return bg_error_errno(err, "switch root to /mnt/root");
    return 0;
}

static void mount_work(const char *dev)
{
    struct bg_error err;

    (void)mkdir("/root", 0700);
    if (wait_device(dev, &err) < 0 || mount_one(dev, WORK_DIR, "ext4", 0, NULL, &err) < 0)
        bg_log_error("mount work disk: %s", err.msg);
}

/* The network is a convenience, not a reason to power off: a bad banger.ip= or a missing
 * interface is logged, and the host can still reach the agent. */
static void setup_net(const char *cmdline)
{
    struct bg_net_config net = {0};
    struct bg_error err;

    if (bg_net_config_parse(cmdline, &net, &err) < 0) {
        bg_log_error("set up network: %s; only lo is configured", err.msg);
        memset(&net, 0, sizeof(net));
    }
    if (bg_net_setup(&net, &err) < 0)
        bg_log_error("set up network: %s", err.msg);
}

int bg_init_boot(enum bg_agent_channel *ret_channel, struct bg_error *err)
{
    struct boot_args a;
    int r;

    if ((r = mount_basics(err)) < 0)
        return r;
    load_modules();
    bool cut = false;
    bg_autofree char *cmdline = read_text("/proc/cmdline", CMDLINE_MAX, &cut);
    if (!cmdline)
        cmdline = bg_strdup(""); /* /proc is mounted: this is only a kernel without it */
    if (cut) /* its last word would be cut short, and a cut word says something else */
        return bg_error_set(err, -EINVAL, "the kernel command line is longer than %d bytes",
                            CMDLINE_MAX);
    if ((r = bg_agent_channel_parse(cmdline, ret_channel, err)) < 0 ||
        (r = parse_cmdline(cmdline, &a, err)) < 0)
        return r;
    if (a.root[0]) {
        if ((r = mount_overlay(&a, err)) < 0 || (r = switch_root(err)) < 0)
            return bg_error_prefix(err, r, "set up root %s", a.root);
    }
    if (a.work[0])
        mount_work(a.work);
    /* after the root switch: resolv.conf belongs in the root that sessions see */
    setup_net(cmdline);
    return 0;
}

void bg_init_poweroff(bool reboot_instead)
{
    /* Sessions are gone already; this ends orphans and daemons (sshd) too. */
    (void)kill(-1, SIGKILL);
    sync();
    (void)umount2(WORK_DIR, MNT_DETACH);
    (void)mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
    sync();
    (void)reboot(reboot_instead ? RB_AUTOBOOT : RB_POWER_OFF);
    /* reboot(2) does not return for PID 1 unless it failed: PID 1 must never exit. */
    for (;;)
        pause();
}
