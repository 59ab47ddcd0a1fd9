/* SPDX-License-Identifier: MIT */
/* Which VMM this host uses: Firecracker, else QEMU with KVM, else QEMU with TCG, and why. */
#include "vmm/select.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/parse.h"
#include "vmm/proc.h"

#define FC_MIN_MINOR 10 /* oldest Firecracker 1.x this build speaks to */

static const struct bg_vmm_driver *const drivers[] = {&bg_vmm_qemu};

const struct bg_vmm_driver *bg_vmm_find(const char *name)
{
    for (size_t i = 0; i < BG_ARRAY_SIZE(drivers); i++)
        if (!strcmp(drivers[i]->name, name))
            return drivers[i];
    return NULL;
}

void bg_vmm_instance_done(struct bg_vmm_instance *vi)
{
    if (!vi)
        return;
    free(vi->agent_path);
    free(vi->control_path);
    free(vi->console_path);
    memset(vi, 0, sizeof(*vi));
}

/* kvm_pvm (Pagetable-based Virtual Machine, found on some cloud hosts) serves /dev/kvm and its
 * API, but boots only PVM-enabled guest kernels: an ordinary kernel hangs in early boot. So
 * /dev/kvm counts only when a hardware KVM module (or none of these: built in) is present. */
static bool kvm_is_pvm_only(void)
{
    return access("/sys/module/kvm_pvm", F_OK) == 0 && access("/sys/module/kvm_intel", F_OK) != 0 &&
           access("/sys/module/kvm_amd", F_OK) != 0;
}

const char *bg_vmm_kvm_why(int k)
{
    return k == -ENOTSUP ? "only kvm_pvm is loaded, which boots PVM guest kernels only"
                         : strerror(-k);
}

int bg_vmm_kvm_check(void)
{
    if (kvm_is_pvm_only())
        return -ENOTSUP;

    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    int v = ioctl(fd, KVM_GET_API_VERSION, 0);
    int e = errno;
    (void)close(fd);
    if (v < 0)
        return -e;
    return v == KVM_API_VERSION ? 0 : -EPROTO;
}

BG_TESTABLE int bg_vmm_fc_version_parse(const char *text, char *buf, size_t len, bool *ret_ok)
{
    const char *p = strstr(text, "Firecracker v");
    char major[8], minor[8];
    uint64_t ma, mi;

    if (!p)
        return -EBADMSG;
    p += strlen("Firecracker v");
    size_t n = strspn(p, "0123456789.");
    size_t a = strspn(p, "0123456789");
    if (n == 0 || n >= len || a == 0 || a >= sizeof(major) || p[a] != '.')
        return -EBADMSG;
    size_t b = strspn(p + a + 1, "0123456789");
    if (b == 0 || b >= sizeof(minor))
        return -EBADMSG;
    memcpy(buf, p, n);
    buf[n] = '\0';
    snprintf(major, sizeof(major), "%.*s", (int)a, p);
    snprintf(minor, sizeof(minor), "%.*s", (int)b, p + a + 1);
    if (bg_parse_u64(major, 0, 1000, &ma, NULL) < 0 || bg_parse_u64(minor, 0, 1000, &mi, NULL) < 0)
        return -EBADMSG;
    *ret_ok = ma == 1 && mi >= FC_MIN_MINOR;
    return 0;
}

/* Firecracker's half of the facts. problem and version point into the caller's buffers. */
static void fc_probe(struct bg_vmm_facts *f, char *problem, size_t plen, char *version, size_t vlen)
{
    bg_autofree char *bin = NULL;
    char out[256];
    bool ok = false;

    f->fc_problem = problem;
    if (bg_proc_find_program("firecracker", &bin, NULL) < 0) {
        snprintf(problem, plen, "not installed");
        return;
    }
    const char *argv[] = {bin, "--version", NULL};
    if (bg_proc_run(argv, 5000, out, sizeof(out), NULL) != 0 ||
        bg_vmm_fc_version_parse(out, version, vlen, &ok) < 0) {
        snprintf(problem, plen, "%s --version failed", bin);
        return;
    }
    f->fc_version = version;
    if (!ok)
        snprintf(problem, plen, "version %s unsupported (need 1.%d or newer)", version,
                 FC_MIN_MINOR);
    else
        f->fc_problem = NULL;
}

static int decide_firecracker(const struct bg_vmm_facts *f, struct bg_error *err)
{
    if (f->fc_problem)
        return bg_error_set(err, -ENOENT, "vmm 'firecracker' is not usable: firecracker %s",
                            f->fc_problem);
    if (f->kvm < 0)
        return bg_error_set(err, -ENOENT,
                            "vmm 'firecracker' is not usable: /dev/kvm not usable (%s)",
                            bg_vmm_kvm_why(f->kvm));
    return bg_error_set(err, -ENOTSUP,
                        "vmm 'firecracker': version %s found, but this build has no Firecracker "
                        "driver yet; set vmm = \"qemu\" or \"auto\"",
                        f->fc_version ? f->fc_version : "?");
}

BG_TESTABLE int bg_vmm_decide(const char *want, const struct bg_vmm_facts *f,
                              const struct bg_vmm_driver **ret, char *why, size_t why_len,
                              struct bg_error *err)
{
    char fc[128];

    if (strcmp(want, "auto") && strcmp(want, "qemu") && strcmp(want, "firecracker"))
        return bg_error_set(err, -EINVAL, "vmm '%.32s' is not one of auto, qemu, firecracker",
                            want);
    if (!strcmp(want, "firecracker"))
        return decide_firecracker(f, err);
    if (f->fc_problem)
        snprintf(fc, sizeof(fc), "firecracker: %s; ", f->fc_problem);
    else if (f->kvm < 0)
        snprintf(fc, sizeof(fc), "firecracker: /dev/kvm not usable; ");
    else
        snprintf(fc, sizeof(fc), "firecracker: %s found, no driver in this build; ",
                 f->fc_version ? f->fc_version : "?");
    bool automatic = !strcmp(want, "auto");
    if (!f->qemu.usable)
        return bg_error_set(err, -ENOENT, "%sqemu: %s", automatic ? fc : "", f->qemu.reason);
    snprintf(why, why_len, "%sqemu: %s", automatic ? fc : "configured; ", f->qemu.reason);
    *ret = &bg_vmm_qemu;
    return 0;
}

int bg_vmm_select_probe(const char *want, const struct bg_vmm_driver **ret,
                        struct bg_vmm_probe *ret_probe, char *why, size_t why_len,
                        struct bg_error *err)
{
    struct bg_vmm_facts f = {0};
    char problem[128], version[64];
    int r;

    f.kvm = bg_vmm_kvm_check();
    if (!strcmp(want, "auto") || !strcmp(want, "firecracker"))
        fc_probe(&f, problem, sizeof(problem), version, sizeof(version));
    if ((r = bg_vmm_qemu.probe(&f.qemu)) < 0)
        return bg_error_set(err, r, "probe qemu: %s", strerror(-r));
    if ((r = bg_vmm_decide(want, &f, ret, why, why_len, err)) < 0)
        return r;
    if (ret_probe)
        *ret_probe = f.qemu;
    return 0;
}

int bg_vmm_select(const char *want, const struct bg_vmm_driver **ret, char *why, size_t why_len,
                  struct bg_error *err)
{
    return bg_vmm_select_probe(want, ret, NULL, why, why_len, err);
}
