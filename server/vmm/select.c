/* SPDX-License-Identifier: MIT */
/* Which VMM this host uses, from the drivers the daemon offers in order of preference, and
 * why; the KVM check the drivers share. */
#include "vmm/driver.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "banger/utf8.h"

const struct bg_vmm_driver *bg_vmm_find(const struct bg_vmm_driver *const *drivers, size_t n,
                                        const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(drivers[i]->name, name))
            return drivers[i];
    return NULL;
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

/* Append "name: reason" to why (len bytes), after "; " when why is not empty. */
static void why_add(char *why, size_t len, const struct bg_vmm_driver *d,
                    const struct bg_vmm_probe *p)
{
    size_t n = strlen(why);

    if (n + 1 < len)
        bg_utf8_format(why + n, len - n, "%s%s: %s", n ? "; " : "", d->name, p->reason);
}

static int probe(const struct bg_vmm_driver *d, const struct bg_vmm_settings *s,
                 struct bg_vmm_probe *ret, struct bg_error *err)
{
    int r;

    *ret = (struct bg_vmm_probe){0};
    if ((r = d->probe(s, ret)) < 0)
        return bg_error_set(err, r, "probe %s: %s", d->name, strerror(-r));
    return 0;
}

static int select_auto(const struct bg_vmm_driver *const *drivers, size_t n,
                       const struct bg_vmm_settings *s, const struct bg_vmm_driver **ret,
                       struct bg_vmm_probe *ret_probe, char *why, size_t why_len,
                       struct bg_error *err)
{
    struct bg_vmm_probe p;
    int r;

    why[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if ((r = probe(drivers[i], s, &p, err)) < 0)
            return r;
        why_add(why, why_len, drivers[i], &p);
        if (p.usable) {
            *ret = drivers[i];
            *ret_probe = p;
            return 0;
        }
    }
    return bg_error_set(err, -ENOENT, "%s", n ? why : "no VMM driver in this build");
}

int bg_vmm_select(const char *want, const struct bg_vmm_driver *const *drivers, size_t n,
                  const struct bg_vmm_settings *s, const struct bg_vmm_driver **ret,
                  struct bg_vmm_probe *ret_probe, char *why, size_t why_len, struct bg_error *err)
{
    struct bg_vmm_probe p, *pp = ret_probe ? ret_probe : &p;
    char names[128] = "auto";
    int r;

    if (!strcmp(want, "auto"))
        return select_auto(drivers, n, s, ret, pp, why, why_len, err);
    const struct bg_vmm_driver *d = bg_vmm_find(drivers, n, want);
    if (!d) {
        for (size_t i = 0; i < n; i++) {
            size_t k = strlen(names);
            snprintf(names + k, sizeof(names) - k, ", %s", drivers[i]->name);
        }
        return bg_error_set(err, -EINVAL, "vmm '%s' is not one of %s", BG_QUOTE(want), names);
    }
    if ((r = probe(d, s, pp, err)) < 0)
        return r;
    if (!pp->usable)
        return bg_error_set(err, -ENOENT, "vmm '%s' is not usable: %s", d->name, pp->reason);
    bg_utf8_format(why, why_len, "configured; %s: %s", d->name, pp->reason);
    *ret = d;
    return 0;
}
