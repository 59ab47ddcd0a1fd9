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
#include "banger/utf8.h"
#include "host/proc.h"
#include "vmm/firecracker/fcversion.h"
#include "vmm/firecracker/firecracker.h"

static const struct bg_vmm_driver *const drivers[] = {&bg_vmm_qemu, &bg_vmm_firecracker};

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

bool bg_vmm_instance_alive(const struct bg_vmm_instance *vi)
{
    char state;
    uint64_t st;

    if (vi->pid <= 0 || bg_proc_stat(vi->pid, &state, &st, NULL) < 0)
        return false;
    return st == vi->start_time && state != 'Z' && state != 'X';
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

#ifdef BANGER_TESTING
int bg_vmm_fc_version_parse(const char *text, char *buf, size_t len, bool *ret_ok)
{
    struct bg_fc_version v;

    if (bg_fc_version_parse(text, &v, NULL) < 0)
        return -EBADMSG;
    bg_fc_version_format(&v, buf, len);
    *ret_ok = bg_fc_version_supported(&v);
    return 0;
}
#endif

/* Firecracker's half of the facts. problem and version point into the caller's buffers. */
static void fc_probe(struct bg_vmm_facts *f, char *problem, size_t plen, char *version, size_t vlen)
{
    bg_autofree char *bin = NULL;
    struct bg_fc_version v;
    struct bg_error e;
    int r;

    f->fc_problem = problem;
    if ((r = bg_firecracker_version(&bin, &v, &e)) < 0) {
        snprintf(problem, plen, "%s", r == -ENOENT ? "not installed" : e.msg);
        return;
    }
    bg_fc_version_format(&v, version, vlen);
    f->fc_version = version;
    f->fc_no_kvm = v.no_kvm;
    if (!bg_fc_version_supported(&v))
        snprintf(problem, plen, "version %s unsupported (need 1.%d or newer)", version,
                 BG_FC_MIN_MINOR);
    else
        f->fc_problem = NULL;
}

static int decide_firecracker(const struct bg_vmm_facts *f, const struct bg_vmm_driver **ret,
                              char *why, size_t why_len, struct bg_error *err)
{
    if (f->fc_problem)
        return bg_error_set(err, -ENOENT, "vmm 'firecracker' is not usable: firecracker %s",
                            f->fc_problem);
    if (f->kvm < 0 && !f->fc_no_kvm)
        return bg_error_set(err, -ENOENT,
                            "vmm 'firecracker' is not usable: /dev/kvm not usable (%s)",
                            bg_vmm_kvm_why(f->kvm));
    snprintf(why, why_len, "firecracker %s%s", f->fc_version ? f->fc_version : "?",
             f->fc_no_kvm ? " (test double, no KVM)" : "");
    *ret = &bg_vmm_firecracker;
    return 0;
}

BG_TESTABLE int bg_vmm_decide(const char *want, const struct bg_vmm_facts *f,
                              const struct bg_vmm_driver **ret, char *why, size_t why_len,
                              struct bg_error *err)
{
    char fc[128];

    if (strcmp(want, "auto") && strcmp(want, "qemu") && strcmp(want, "firecracker"))
        return bg_error_set(err, -EINVAL, "vmm '%s' is not one of auto, qemu, firecracker",
                            BG_QUOTE(want));
    if (!strcmp(want, "firecracker") ||
        (!strcmp(want, "auto") && !f->fc_problem && (f->kvm == 0 || f->fc_no_kvm)))
        return decide_firecracker(f, ret, why, why_len, err);
    if (f->fc_problem)
        snprintf(fc, sizeof(fc), "firecracker: %s; ", f->fc_problem);
    else
        snprintf(fc, sizeof(fc), "firecracker: /dev/kvm not usable; ");
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
    if (ret_probe && *ret == &bg_vmm_firecracker)
        return bg_vmm_firecracker.probe(ret_probe);
    if (ret_probe)
        *ret_probe = f.qemu;
    return 0;
}

int bg_vmm_select(const char *want, const struct bg_vmm_driver **ret, char *why, size_t why_len,
                  struct bg_error *err)
{
    return bg_vmm_select_probe(want, ret, NULL, why, why_len, err);
}
