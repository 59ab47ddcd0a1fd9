/* SPDX-License-Identifier: MIT */
/* VMM selection internals that unit tests reach: the decision from injected facts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "banger/error.h"
#include "vmm/driver.h"

/* What selection looked at on this host. */
struct bg_vmm_facts {
    const char *fc_problem;   /* why Firecracker is unusable ("not installed"), NULL if it
                               * passed its version check */
    const char *fc_version;   /* its version when found, else NULL */
    bool fc_no_kvm;           /* its --version said it needs no KVM (the test double) */
    int kvm;                  /* 0 when /dev/kvm is usable, else -errno */
    struct bg_vmm_probe qemu; /* the QEMU driver's probe */
};

#ifdef BANGER_TESTING
/* Decide for want from f. Same results as bg_vmm_select. */
int bg_vmm_decide(const char *want, const struct bg_vmm_facts *f, const struct bg_vmm_driver **ret,
                  char *why, size_t why_len, struct bg_error *err);
/* "1.16.0" from `firecracker --version` output ("Firecracker v1.16.0"); -EBADMSG otherwise.
 * Sets *ret_ok when the version is one this build supports (1.10 or newer within 1.x). */
int bg_vmm_fc_version_parse(const char *text, char *buf, size_t len, bool *ret_ok);
#endif
