/* SPDX-License-Identifier: MIT */
#include "doctor/doctor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/macro.h"
#include "banger/utf8.h"
#include "doctor/osrelease.h"
#include "host/run.h"
#include "store/store.h"
#include "vmm/firecracker/fcversion.h"
#include "vmm/qemu/qemu.h"

/* "7.2.22" of "QEMU emulator version 7.2.22 (Debian ...)" into buf; -EBADMSG. */
static int qemu_version(const char *text, char *buf, size_t len)
{
    static const char prefix[] = "QEMU emulator version ";
    const char *p = text ? strstr(text, prefix) : NULL;

    if (!p)
        return -EBADMSG;
    p += sizeof(prefix) - 1;
    size_t n = strspn(p, "0123456789.");
    if (n == 0 || n >= len)
        return -EBADMSG;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return 0;
}

#define SMALL_FILE_MAX 65536  /* bytes read of a proc, sys or os-release file */
#define UNIT_FILE_MAX 1048576 /* bytes read of a unit file */

struct ctx {
    const struct bg_doctor_env *env;
    struct bg_doctor_report *r;
    enum bg_os_family family;
};

/* Add a row; fmt is its detail. Returns it for the fix. */
BG_PRINTF(4, 5)
static struct bg_doctor_check *add(struct ctx *c, const char *name, enum bg_doctor_status s,
                                   const char *fmt, ...)
{
    static struct bg_doctor_check overflow;
    struct bg_doctor_check *k =
        c->r->n < BG_DOCTOR_CHECKS_MAX ? &c->r->check[c->r->n++] : &overflow;
    char raw[BG_DOCTOR_TEXT_MAX];
    va_list ap;

    memset(k, 0, sizeof(*k));
    snprintf(k->name, sizeof(k->name), "%s", name);
    k->status = s;
    va_start(ap, fmt);
    (void)vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    bg_utf8_clip(k->detail, sizeof(k->detail), raw);
    return k;
}

BG_PRINTF(2, 3)
static void fix(struct bg_doctor_check *k, const char *fmt, ...)
{
    char raw[BG_DOCTOR_TEXT_MAX];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    bg_utf8_clip(k->fix, sizeof(k->fix), raw);
}

/* root + path into buf: the one way a check names a file. */
static const char *at(const struct ctx *c, const char *path, char *buf, size_t len)
{
    const char *root = c->env->root ? c->env->root : "/";
    size_t n = strlen(root);
    while (n > 0 && root[n - 1] == '/')
        n--;
    snprintf(buf, len, "%.*s%s", (int)n, root, path);
    return buf;
}

/* The file root + path (a proc or sys file too: read to its end, at most max bytes), or NULL
 * with errno set. */
static char *read_at(const struct ctx *c, const char *path, size_t max)
{
    char p[4096];
    int fd = open(at(c, path, p, sizeof(p)), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    size_t n = 0;

    if (fd < 0)
        return NULL;
    char *text = bg_malloc(max + 1);
    for (;;) {
        ssize_t k = read(fd, text + n, max - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            free(text);
            (void)close(fd);
            errno = e;
            return NULL;
        }
        n += (size_t)k;
        if (k == 0 || n == max)
            break;
    }
    (void)close(fd);
    text[n] = '\0';
    return text;
}

static int run(const struct ctx *c, const char *const *argv, char **out)
{
    *out = NULL;
    return c->env->run ? c->env->run(c->env->run_cls, argv, out)
                       : bg_doctor_run_host(NULL, argv, out);
}

static bool system_mode(const struct ctx *c)
{
    return c->env->cfg->mode == BG_CONFIG_MODE_SYSTEM;
}

/* ---- programs ---- */

static void first_line(const char *text, char *buf, size_t len)
{
    size_t n = text ? strcspn(text, "\n") : 0;
    char raw[BG_DOCTOR_TEXT_MAX];
    snprintf(raw, sizeof(raw), "%.*s", (int)(n < sizeof(raw) ? n : sizeof(raw) - 1), text);
    bg_utf8_clip(buf, len, raw);
}

/* `firecracker --version` or `jailer --version` ("Jailer v1.16.1", the same format under
 * another name) into *v. */
static int fc_version(const char *text, struct bg_fc_version *v, struct bg_error *err)
{
    static const char jailer[] = "Jailer ";
    if (strncmp(text, jailer, sizeof(jailer) - 1) != 0)
        return bg_fc_version_parse(text, v, err);
    bg_autofree char *as_fc = bg_asprintf("Firecracker %s", text + sizeof(jailer) - 1);
    return bg_fc_version_parse(as_fc, v, err);
}

/* The version of a Firecracker-style program (firecracker, jailer) into *v; 0, or -1 with a row
 * added. severity_missing applies when it is not installed. */
static int fc_style_version(struct ctx *c, const char *name, const char *bin, enum bg_os_program p,
                            enum bg_doctor_status missing, struct bg_fc_version *v)
{
    const char *argv[] = {bin, "--version", NULL};
    char *out = NULL;
    int r = run(c, argv, &out);
    char line[BG_DOCTOR_TEXT_MAX];
    struct bg_error err;
    struct bg_doctor_check *k = NULL;

    first_line(out, line, sizeof(line));
    if (r == -ENOENT) {
        k = add(c, name, missing, "%s is not installed", bin);
        fix(k, "%s", bg_os_install_hint(c->family, p));
    } else if (r < 0) {
        k = add(c, name, BG_DOCTOR_FAIL, "cannot run %s --version: %s", bin, strerror(-r));
        fix(k, "check that %s is an executable for this machine", bin);
    } else if (r > 0) {
        k = add(c, name, BG_DOCTOR_FAIL, "%s --version exits %d: %s", bin, r, line);
        fix(k, "reinstall it: %s", bg_os_install_hint(c->family, p));
    } else if (fc_version(out, v, &err) < 0) {
        k = add(c, name, BG_DOCTOR_FAIL, "%s --version says %s, not a version", bin,
                BG_QUOTE(line));
        fix(k, "reinstall it: %s", bg_os_install_hint(c->family, p));
    }
    free(out);
    return k ? -1 : 0;
}

static int fc_cmp(const struct bg_fc_version *a, unsigned major, unsigned minor, unsigned patch)
{
    if (a->major != major)
        return a->major < major ? -1 : 1;
    if (a->minor != minor)
        return a->minor < minor ? -1 : 1;
    if (a->patch != patch)
        return a->patch < patch ? -1 : 1;
    return 0;
}

static void check_firecracker(struct ctx *c)
{
    const struct bg_config *cfg = c->env->cfg;
    const char *bin = c->env->firecracker     ? c->env->firecracker
                      : cfg->firecracker_path ? cfg->firecracker_path
                                              : "firecracker";
    const char *jailer = c->env->jailer ? c->env->jailer : "jailer";
    enum bg_doctor_status missing = strcmp(cfg->vmm, "qemu") == 0 ? BG_DOCTOR_WARN : BG_DOCTOR_FAIL;
    struct bg_fc_version v, j;
    char s[64], js[64];

    if (fc_style_version(c, "firecracker", bin, BG_OS_PROGRAM_FIRECRACKER, missing, &v) < 0)
        return;
    bg_fc_version_format(&v, s, sizeof(s));
    if (v.major < 1 || (v.major == 1 && v.minor < BG_FC_MIN_MINOR)) {
        struct bg_doctor_check *k =
            add(c, "firecracker", BG_DOCTOR_FAIL,
                "Firecracker %s is older than 1.%d.0, the oldest this build speaks to", s,
                BG_FC_MIN_MINOR);
        fix(k, "install %s: %s", BG_DOCTOR_FC_TESTED,
            bg_os_install_hint(c->family, BG_OS_PROGRAM_FIRECRACKER));
        return;
    }
    if (fc_cmp(&v, 1, 16, 1) > 0) {
        struct bg_doctor_check *k =
            add(c, "firecracker", BG_DOCTOR_WARN,
                "Firecracker %s is newer than %s, the newest banger is tested with", s,
                BG_DOCTOR_FC_TESTED);
        fix(k, "if VMs misbehave, install %s: %s", BG_DOCTOR_FC_TESTED,
            bg_os_install_hint(c->family, BG_OS_PROGRAM_FIRECRACKER));
    } else {
        add(c, "firecracker", BG_DOCTOR_PASS, "Firecracker %s (supported 1.%d.0 to %s)", s,
            BG_FC_MIN_MINOR, BG_DOCTOR_FC_TESTED);
    }

    /* the jailer only matters next to a Firecracker, and must be its twin */
    if (fc_style_version(c, "jailer", jailer, BG_OS_PROGRAM_JAILER, BG_DOCTOR_WARN, &j) < 0)
        return;
    bg_fc_version_format(&j, js, sizeof(js));
    if (fc_cmp(&j, v.major, v.minor, v.patch) != 0 || strcmp(j.pre, v.pre) != 0) {
        struct bg_doctor_check *k =
            add(c, "jailer", BG_DOCTOR_FAIL, "jailer %s does not match Firecracker %s", js, s);
        fix(k, "install the jailer of the same release: %s",
            bg_os_install_hint(c->family, BG_OS_PROGRAM_JAILER));
    } else {
        add(c, "jailer", BG_DOCTOR_PASS, "jailer %s, the same release as Firecracker", js);
    }
}

static void check_qemu(struct ctx *c)
{
    const char *argv[] = {BG_QEMU_BINARY, "--version", NULL};
    char *out = NULL;
    int r = run(c, argv, &out);
    char line[BG_DOCTOR_TEXT_MAX], ver[64];
    enum bg_doctor_status missing =
        strcmp(c->env->cfg->vmm, "firecracker") == 0 ? BG_DOCTOR_WARN : BG_DOCTOR_FAIL;
    struct bg_doctor_check *k;
    const char *hint = bg_os_install_hint(c->family, BG_OS_PROGRAM_QEMU);

    first_line(out, line, sizeof(line));
    if (r == -ENOENT) {
        k = add(c, "qemu", missing, "%s is not installed", BG_QEMU_BINARY);
        fix(k, "%s", hint);
    } else if (r < 0) {
        k = add(c, "qemu", BG_DOCTOR_FAIL, "cannot run %s --version: %s", BG_QEMU_BINARY,
                strerror(-r));
        fix(k, "reinstall it: %s", hint);
    } else if (r > 0) {
        k = add(c, "qemu", BG_DOCTOR_FAIL, "%s --version exits %d: %s", BG_QEMU_BINARY, r, line);
        fix(k, "reinstall it: %s", hint);
    } else if (qemu_version(out, ver, sizeof(ver)) < 0) {
        k = add(c, "qemu", BG_DOCTOR_FAIL, "%s --version says %s, not a version", BG_QEMU_BINARY,
                BG_QUOTE(line));
        fix(k, "reinstall it: %s", hint);
    } else {
        add(c, "qemu", BG_DOCTOR_PASS, "QEMU %s", ver);
    }
    free(out);
}

/* ---- devices and kernel ---- */

static bool exists_at(const struct ctx *c, const char *path)
{
    char p[4096];
    return access(at(c, path, p, sizeof(p)), F_OK) == 0;
}

static void check_kvm(struct ctx *c)
{
    const struct bg_config *cfg = c->env->cfg;
    bool need = strcmp(cfg->vmm, "firecracker") == 0 || strcmp(cfg->accel, "kvm") == 0;
    enum bg_doctor_status bad = need ? BG_DOCTOR_FAIL : BG_DOCTOR_WARN;
    const char *fallback = need ? "" : "; QEMU falls back to TCG (much slower)";
    char p[4096];
    struct bg_doctor_check *k;

    int fd = open(at(c, "/dev/kvm", p, sizeof(p)), O_RDWR | O_CLOEXEC | O_NOCTTY);
    int e = errno;
    if (fd < 0) {
        k = add(c, "kvm", bad, "/dev/kvm does not open: %s%s", strerror(e), fallback);
        if (e == EACCES)
            fix(k, "add the daemon's user to the kvm group: sudo usermod -aG kvm USER");
        else
            fix(k, "enable virtualization in the firmware and load kvm_intel or kvm_amd "
                   "(sudo modprobe kvm_intel)");
        return;
    }
    (void)close(fd);
    if (exists_at(c, "/sys/module/kvm_pvm") && !exists_at(c, "/sys/module/kvm_intel") &&
        !exists_at(c, "/sys/module/kvm_amd")) {
        k = add(c, "kvm", bad,
                "/dev/kvm opens, but it is kvm_pvm, which boots only PVM guest kernels: "
                "banger's ordinary guests hang in early boot%s",
                fallback);
        fix(k, "use a host with hardware KVM (kvm_intel or kvm_amd), or set accel = tcg");
        return;
    }
    add(c, "kvm", BG_DOCTOR_PASS, "/dev/kvm opens read-write (hardware KVM)");
}

/* A character device that the daemon's user opens read-write. */
static void check_chardev(struct ctx *c, const char *name, const char *path, const char *module,
                          enum bg_doctor_status bad)
{
    char p[4096];
    struct stat st;
    struct bg_doctor_check *k;

    at(c, path, p, sizeof(p));
    int r = stat(p, &st) < 0 ? -errno : 0;
    if (r < 0 || !S_ISCHR(st.st_mode)) {
        k = add(c, name, bad, "%s is %s", path,
                r == -ENOENT ? "missing"
                : r < 0      ? strerror(-r)
                             : "not a character device");
        fix(k,
            "sudo modprobe %s, and make it load at boot: echo %s | sudo tee "
            "/etc/modules-load.d/banger-%s.conf",
            module, module, module);
        return;
    }
    if (access(p, R_OK | W_OK) < 0) {
        k = add(c, name, bad, "%s (mode %04o) is not read-write for this user", path,
                (unsigned)(st.st_mode & 07777));
        fix(k, "give the daemon's user access (a udev rule, or the system install)");
        return;
    }
    add(c, name, BG_DOCTOR_PASS, "%s: character device, mode %04o", path,
        (unsigned)(st.st_mode & 07777));
}

static bool has_word(const char *list, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = list; (p = strstr(p, w)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
            return true;
    return false;
}

static void check_cgroup(struct ctx *c)
{
    static const char *const want[] = {"cpu", "memory", "pids"};
    char *text = read_at(c, "/sys/fs/cgroup/cgroup.controllers", SMALL_FILE_MAX);
    char missing[64] = "";
    struct bg_doctor_check *k;

    if (!text) {
        k = add(c, "cgroup", BG_DOCTOR_WARN,
                "no cgroup v2 at /sys/fs/cgroup (cgroup v1 or hybrid): VM limits are not "
                "enforced by cgroups");
        fix(k, "boot with systemd.unified_cgroup_hierarchy=1");
        return;
    }
    for (size_t i = 0; i < BG_ARRAY_SIZE(want); i++)
        if (!has_word(text, want[i])) {
            size_t n = strlen(missing);
            snprintf(missing + n, sizeof(missing) - n, "%s%s", n ? " " : "", want[i]);
        }
    text[strcspn(text, "\n")] = '\0';
    if (missing[0]) {
        k = add(c, "cgroup", BG_DOCTOR_WARN, "cgroup v2, but %s not delegated (have: %s)", missing,
                text);
        fix(k, "delegate them to the daemon's service: Delegate=%s", missing);
    } else {
        add(c, "cgroup", BG_DOCTOR_PASS, "cgroup v2 with %s", text);
    }
    free(text);
}

/* What NAT needs is a FAIL in system mode (the install promises it), a WARN otherwise. */
static enum bg_doctor_status net_bad(const struct ctx *c)
{
    return system_mode(c) ? BG_DOCTOR_FAIL : BG_DOCTOR_WARN;
}

static void check_nft(struct ctx *c)
{
    const char *argv[] = {"nft", "--version", NULL};
    char *out = NULL;
    int r = run(c, argv, &out);
    char line[BG_DOCTOR_TEXT_MAX];

    first_line(out, line, sizeof(line));
    if (r == 0) {
        add(c, "nft", BG_DOCTOR_PASS, "%s", line);
    } else {
        struct bg_doctor_check *k = add(c, "nft", net_bad(c), "nft %s: NAT for VMs needs nftables",
                                        r == -ENOENT ? "is not installed" : "does not run");
        fix(k, "install nftables (sudo apt-get install nftables on Debian and Ubuntu)");
    }
    free(out);
}

static void check_forwarding(struct ctx *c)
{
    char *text = read_at(c, "/proc/sys/net/ipv4/ip_forward", SMALL_FILE_MAX);
    struct bg_doctor_check *k;

    if (text && text[0] == '1') {
        add(c, "ip_forward", BG_DOCTOR_PASS, "net.ipv4.ip_forward = 1");
    } else {
        k = add(c, "ip_forward", net_bad(c), "net.ipv4.ip_forward is %s: VMs reach no network",
                text ? "off" : "unreadable");
        fix(k, "echo net.ipv4.ip_forward=1 | sudo tee /etc/sysctl.d/60-banger.conf && sudo "
               "sysctl --system");
    }
    free(text);
}

/* A chain on the forward hook whose policy drops (Docker and ufw set one), from
 * `nft -j list ruleset`; the first one's "family table chain" into buf. */
static bool forward_drop(json_t *ruleset, char *buf, size_t len)
{
    json_t *items = json_object_get(ruleset, "nftables");
    size_t i;
    json_t *it;

    json_array_foreach (items, i, it) {
        json_t *ch = json_object_get(it, "chain");
        const char *hook = json_string_value(json_object_get(ch, "hook"));
        const char *policy = json_string_value(json_object_get(ch, "policy"));
        const char *family = json_string_value(json_object_get(ch, "family"));
        const char *table = json_string_value(json_object_get(ch, "table"));
        const char *name = json_string_value(json_object_get(ch, "name"));
        if (hook && policy && family && table && name && !strcmp(hook, "forward") &&
            !strcmp(policy, "drop")) {
            bg_utf8_format(buf, len, "%s %s %s", family, table, name);
            return true;
        }
    }
    return false;
}

static void check_forward_policy(struct ctx *c)
{
    const char *argv[] = {"nft", "-j", "list", "ruleset", NULL};
    char *out = NULL;
    int r = run(c, argv, &out);
    char chain[3 * BG_DOCTOR_NAME_MAX * 4];
    struct bg_doctor_check *k;
    json_t *j = r == 0 ? json_loads(out ? out : "", 0, NULL) : NULL;

    if (!j) {
        char line[BG_DOCTOR_TEXT_MAX];
        first_line(out, line, sizeof(line));
        k = add(c, "forward_policy", BG_DOCTOR_WARN, "cannot read the nftables ruleset%s%s",
                line[0] ? ": " : "", line);
        fix(k, "run banger doctor against a daemon in system mode (the ruleset needs root)");
    } else if (forward_drop(j, chain, sizeof(chain))) {
        k = add(c, "forward_policy", BG_DOCTOR_FAIL,
                "chain %s drops forwarded packets by default (Docker and ufw set this): VM "
                "traffic through NAT is dropped",
                chain);
        const char *br = c->env->bridge ? c->env->bridge : "BRIDGE";
        fix(k,
            "accept the VM bridge in it: sudo nft insert rule %s iifname %s accept; sudo "
            "nft insert rule %s oifname %s ct state established,related accept%s",
            chain, br, chain, br, c->env->bridge ? "" : " (BRIDGE: the bridge of install.toml)");
    } else {
        add(c, "forward_policy", BG_DOCTOR_PASS, "no forward chain drops by default");
    }
    json_decref(j);
    free(out);
}

/* ---- state ---- */

static void check_disk(struct ctx *c)
{
    const struct bg_doctor_env *env = c->env;
    char p[4096];
    struct statvfs vfs;
    struct bg_doctor_check *k;

    /* the state directory, or the nearest parent of it that exists yet */
    at(c, env->cfg->state_dir, p, sizeof(p));
    while (statvfs(p, &vfs) < 0) {
        char *slash = strrchr(p, '/');
        if (errno != ENOENT || !slash || slash == p) {
            k = add(c, "disk", BG_DOCTOR_FAIL, "cannot see the free space of %s: %s",
                    env->cfg->state_dir, strerror(errno));
            fix(k, "create state_dir %s, writable by the daemon's user", env->cfg->state_dir);
            return;
        }
        *slash = '\0';
    }
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    uint64_t gib = avail >> 30;
    if (avail < env->disk_fail_bytes) {
        k = add(c, "disk", BG_DOCTOR_FAIL, "%" PRIu64 " MiB free under %s: too little for an image",
                avail >> 20, env->cfg->state_dir);
        fix(k, "free space there, or point state_dir at a larger filesystem");
    } else if (avail < env->disk_warn_bytes) {
        k = add(c, "disk", BG_DOCTOR_WARN, "%" PRIu64 " GiB free under %s: room for few images",
                gib, env->cfg->state_dir);
        fix(k, "free space there, or point state_dir at a larger filesystem");
    } else {
        add(c, "disk", BG_DOCTOR_PASS, "%" PRIu64 " GiB free under %s", gib, env->cfg->state_dir);
    }
}

static void check_store(struct ctx *c)
{
    char p[4096];
    struct stat st;
    struct bg_store *s = NULL;
    struct bg_error err = {0};
    struct bg_doctor_check *k;

    if (!c->env->db_path)
        return;
    at(c, c->env->db_path, p, sizeof(p));
    if (stat(p, &st) < 0 && errno == ENOENT) {
        add(c, "store", BG_DOCTOR_PASS, "%s does not exist yet: it will be created on first start",
            c->env->db_path);
        return;
    }
    int r = bg_store_open(p, BG_STORE_READ_ONLY, &s, &err);
    if (r == 0) {
        add(c, "store", BG_DOCTOR_PASS, "%s, schema %d", c->env->db_path,
            bg_store_schema_version(s));
        bg_store_close(s);
        return;
    }
    k = add(c, "store", BG_DOCTOR_FAIL, "%s", err.msg);
    if (r == -EPROTO)
        fix(k, "run the bangerd that wrote it, or move the file away to start afresh");
    else
        fix(k, "make it readable and writable by the daemon's user, or move it away");
}

static void check_default_image(struct ctx *c)
{
    const char *name = c->env->cfg->vm_default_image;
    char state[32] = "";
    struct bg_doctor_check *k;

    if (!c->env->image)
        return;
    int r = c->env->image(c->env->image_cls, name, state, sizeof(state));
    if (r > 0) {
        add(c, "default_image", BG_DOCTOR_PASS, "image %s (vm_default_image) is ready", name);
    } else if (r == 0) {
        k = add(c, "default_image", BG_DOCTOR_WARN, "image %s (vm_default_image) is %s", name,
                state);
        fix(k, "wait for it, or rebuild it: banger image build %s", name);
    } else {
        k = add(c, "default_image", BG_DOCTOR_WARN,
                "no image %s (vm_default_image): a VM created without --image fails", name);
        fix(k, "banger image build %s", name);
    }
}

static void check_defaults(struct ctx *c)
{
    const struct bg_config *cfg = c->env->cfg;
    const char *const *src = (const char *const *)cfg->source;

    add(c, "vm_defaults", BG_DOCTOR_PASS,
        "vmm %s (%s), %" PRIu64 " vCPUs (%s), %" PRIu64 " MiB memory (%s), %" PRIu64
        " MiB disk (%s), image %s (%s); config file %s%s",
        cfg->vmm, src[BG_CONFIG_KEY_VMM], cfg->vm_default_vcpus,
        src[BG_CONFIG_KEY_VM_DEFAULT_VCPUS], cfg->vm_default_memory_mib,
        src[BG_CONFIG_KEY_VM_DEFAULT_MEMORY_MIB], cfg->vm_default_disk_mib,
        src[BG_CONFIG_KEY_VM_DEFAULT_DISK_MIB], cfg->vm_default_image,
        src[BG_CONFIG_KEY_VM_DEFAULT_IMAGE], cfg->config_file ? cfg->config_file : "(none)",
        cfg->config_file_loaded ? "" : " (absent)");
}

/* ---- the system install's promises ---- */

static void check_socket(struct ctx *c, const char *name, const char *path)
{
    char p[4096];
    struct stat st;
    struct bg_doctor_check *k;

    if (!path)
        return;
    at(c, path, p, sizeof(p));
    if (lstat(p, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        k = add(c, name, BG_DOCTOR_FAIL, "%s is not a socket", path);
        fix(k, "start the services: sudo systemctl start bangerd-root bangerd");
    } else if ((st.st_mode & 07777) != 0600 || st.st_uid != c->env->owner) {
        k = add(c, name, BG_DOCTOR_FAIL, "%s has mode %04o and owner uid %u, not 0600 and %u", path,
                (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)c->env->owner);
        fix(k, "reinstall: sudo banger system install --owner USER");
    } else {
        add(c, name, BG_DOCTOR_PASS, "%s: mode 0600, owned by uid %u", path, (unsigned)st.st_uid);
    }
}

/* Directives a unit must carry, each "Key=" optionally with the value it must start with. */
static const char *const hardening[] = {
    "NoNewPrivileges=yes",  "ProtectSystem=strict",     "ProtectHome=",
    "RestrictSUIDSGID=yes", "LockPersonality=yes",      "CapabilityBoundingSet=",
    "DevicePolicy=closed",  "RestrictAddressFamilies=",
};

static const char *const unit_dirs[] = {"/etc/systemd/system", "/usr/lib/systemd/system",
                                        "/lib/systemd/system"};

static bool unit_has(const char *text, const char *directive)
{
    size_t n = strlen(directive);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, directive, n))
            return true;
    return false;
}

static void check_unit(struct ctx *c, const char *unit, bool daemon)
{
    char path[256], missing[BG_DOCTOR_TEXT_MAX] = "";
    char *text = NULL;
    struct bg_doctor_check *k;

    for (size_t i = 0; !text && i < BG_ARRAY_SIZE(unit_dirs); i++) {
        snprintf(path, sizeof(path), "%s/%s", unit_dirs[i], unit);
        text = read_at(c, path, UNIT_FILE_MAX);
    }
    if (!text) {
        k = add(c, unit, BG_DOCTOR_FAIL, "no %s in %s, %s or %s", unit, unit_dirs[0], unit_dirs[1],
                unit_dirs[2]);
        fix(k, "sudo banger system install --owner USER");
        return;
    }
    for (size_t i = 0; i < BG_ARRAY_SIZE(hardening); i++)
        if (!unit_has(text, hardening[i])) {
            size_t n = strlen(missing);
            snprintf(missing + n, sizeof(missing) - n, "%s%s", n ? " " : "", hardening[i]);
        }
    if (daemon && !unit_has(text, "User=")) {
        size_t n = strlen(missing);
        snprintf(missing + n, sizeof(missing) - n, "%sUser=", n ? " " : "");
    }
    if (missing[0]) {
        k = add(c, unit, BG_DOCTOR_FAIL, "%s lacks %s", path, missing);
        fix(k, "reinstall the units: sudo banger system install --owner USER");
    } else {
        add(c, unit, BG_DOCTOR_PASS, "%s carries its hardening directives", path);
    }
    free(text);
}

static void check_vmm_binaries(struct ctx *c)
{
    const char *fc = c->env->firecracker ? c->env->firecracker : c->env->cfg->firecracker_path;
    const char *jl = c->env->jailer;
    const char *names[] = {fc && fc[0] == '/' ? fc : "firecracker",
                           jl && jl[0] == '/' ? jl : "jailer", BG_QEMU_BINARY};
    static const char *const dirs[] = {"/usr/local/bin/", "/usr/bin/", "/usr/sbin/"};
    char bad[BG_DOCTOR_TEXT_MAX] = "", seen[BG_DOCTOR_TEXT_MAX] = "";

    for (size_t i = 0; i < BG_ARRAY_SIZE(names); i++) {
        for (size_t d = 0; d < BG_ARRAY_SIZE(dirs); d++) {
            char path[512], p[4096];
            struct stat st;
            const char *why = NULL;
            if (names[i][0] == '/' && d > 0)
                break;
            snprintf(path, sizeof(path), "%s%s", names[i][0] == '/' ? "" : dirs[d], names[i]);
            if (lstat(at(c, path, p, sizeof(p)), &st) < 0)
                continue;
            if (S_ISLNK(st.st_mode))
                why = "a symlink";
            else if (!S_ISREG(st.st_mode))
                why = "not a regular file";
            else if (st.st_uid != c->env->vmm_owner)
                why = "not owned by root";
            else if (st.st_mode & 022)
                why = "writable by group or others";
            size_t n = why ? strlen(bad) : strlen(seen);
            if (why)
                snprintf(bad + n, sizeof(bad) - n, "%s%s is %s", n ? "; " : "", path, why);
            else
                snprintf(seen + n, sizeof(seen) - n, "%s%s", n ? ", " : "", path);
            break;
        }
    }
    if (bad[0]) {
        struct bg_doctor_check *k = add(c, "vmm_binaries", BG_DOCTOR_FAIL, "%s", bad);
        fix(k, "install them as regular files: sudo install -o root -g root -m 0755 FILE DIR");
    } else {
        add(c, "vmm_binaries", BG_DOCTOR_PASS,
            "root-owned regular files, not writable by others: %s",
            seen[0] ? seen : "(none installed)");
    }
}

static void check_services(struct ctx *c)
{
    static const char *const units[] = {"bangerd-root.service", "bangerd.service"};
    char down[BG_DOCTOR_TEXT_MAX] = "";

    for (size_t i = 0; i < BG_ARRAY_SIZE(units); i++) {
        const char *argv[] = {"systemctl", "is-active", "--quiet", units[i], NULL};
        char *out = NULL;
        int r = run(c, argv, &out);
        free(out);
        if (r == -ENOENT) {
            struct bg_doctor_check *k =
                add(c, "services", BG_DOCTOR_WARN,
                    "no systemctl: cannot tell whether %s and %s run", units[0], units[1]);
            fix(k, "check that bangerd-root and bangerd run under your service manager");
            return;
        }
        if (r != 0) {
            size_t n = strlen(down);
            snprintf(down + n, sizeof(down) - n, "%s%s", n ? " " : "", units[i]);
        }
    }
    if (down[0]) {
        struct bg_doctor_check *k = add(c, "services", BG_DOCTOR_FAIL, "not active: %s", down);
        fix(k, "sudo systemctl enable --now %s", down);
    } else {
        add(c, "services", BG_DOCTOR_PASS, "%s and %s are active", units[0], units[1]);
    }
}

static void check_mode(struct ctx *c)
{
    if (!system_mode(c)) {
        struct bg_doctor_check *k =
            add(c, "privileges", BG_DOCTOR_WARN,
                "user mode: none of the system install's guarantees hold (root-owned VMM "
                "binaries, sockets 0600, hardened units); see docs/privileges.md");
        fix(k, "for a host that runs VMs for others: sudo banger system install --owner USER");
        return;
    }
    check_services(c);
    check_socket(c, "socket", c->env->cfg->socket);
    check_socket(c, "helper_socket", c->env->helper_socket);
    check_unit(c, "bangerd-root.service", false);
    check_unit(c, "bangerd.service", true);
    check_vmm_binaries(c);
}

/* ---- the report ---- */

void bg_doctor_run(const struct bg_doctor_env *env, struct bg_doctor_report *ret)
{
    struct ctx c = {.env = env, .r = ret};
    struct bg_os_release os;
    char *text;

    memset(ret, 0, sizeof(*ret));
    text = read_at(&c, "/etc/os-release", SMALL_FILE_MAX);
    if (!text)
        text = read_at(&c, "/usr/lib/os-release", SMALL_FILE_MAX);
    bg_os_release_parse(text, &os);
    free(text);
    c.family = bg_os_release_family(&os);

    check_firecracker(&c);
    check_qemu(&c);
    check_kvm(&c);
    check_chardev(&c, "tun", "/dev/net/tun", "tun", BG_DOCTOR_FAIL);
    check_chardev(&c, "vhost_vsock", "/dev/vhost-vsock", "vhost_vsock",
                  strcmp(env->cfg->vmm, "firecracker") == 0 ? BG_DOCTOR_WARN : BG_DOCTOR_FAIL);
    check_cgroup(&c);
    check_nft(&c);
    check_forwarding(&c);
    check_forward_policy(&c);
    check_disk(&c);
    check_store(&c);
    check_default_image(&c);
    check_defaults(&c);
    check_mode(&c);
}

const char *bg_doctor_status_name(enum bg_doctor_status s)
{
    return s == BG_DOCTOR_PASS ? "PASS" : s == BG_DOCTOR_WARN ? "WARN" : "FAIL";
}

json_t *bg_doctor_to_json(const struct bg_doctor_report *r)
{
    json_t *checks = json_array();
    json_int_t count[3] = {0};

    for (size_t i = 0; i < r->n; i++) {
        const struct bg_doctor_check *k = &r->check[i];
        json_t *o = json_pack("{s:s, s:s, s:s}", "name", k->name, "status",
                              bg_doctor_status_name(k->status), "detail", k->detail);
        if (k->fix[0])
            json_object_set_new(o, "fix", json_string(k->fix));
        json_array_append_new(checks, o);
        count[k->status]++;
    }
    return json_pack("{s:o, s:{s:I, s:I, s:I}}", "checks", checks, "summary", "pass",
                     count[BG_DOCTOR_PASS], "warn", count[BG_DOCTOR_WARN], "fail",
                     count[BG_DOCTOR_FAIL]);
}

int bg_doctor_run_host(void *cls, const char *const *argv, char **ret_out)
{
    struct bg_run_opts o = {.argv = argv,
                            .timeout_ms = BG_DOCTOR_RUN_TIMEOUT_MS,
                            .out_fd = -1,
                            .out_max = SMALL_FILE_MAX};
    struct bg_run_result res = {0};
    struct bg_error err;
    (void)cls;

    int r = bg_run(&o, &res, &err);
    if (r < 0)
        return r;
    *ret_out = bg_strdup(res.out_len ? res.out : res.err);
    r = res.status;
    bg_run_result_done(&res);
    return r;
}
