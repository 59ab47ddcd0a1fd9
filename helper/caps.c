/* SPDX-License-Identifier: MIT */
/* Dropping to the helper's capability set with libcap-ng. */
#include "caps.h"

#include <cap-ng.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "banger/macro.h"

/* What the helper itself uses. */
static const int kept[] = {CAP_NET_ADMIN, CAP_KILL, CAP_SETUID, CAP_SETGID};
/* What laying out a jail needs in the helper. */
static const int jail_kept[] = {CAP_CHOWN, CAP_FOWNER};
/* What the jailer needs (root exec: it gets the bounding set), on top of the above. */
static const int jailer_bound[] = {CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_MKNOD, CAP_DAC_OVERRIDE,
                                   CAP_SYS_RESOURCE};

static void add(const int *caps, size_t n, capng_type_t where)
{
    for (size_t i = 0; i < n; i++)
        (void)capng_update(CAPNG_ADD, where, (unsigned)caps[i]);
}

int bg_caps_drop(bool jailer, struct bg_error *err)
{
    capng_type_t all = CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET;

    if (capng_get_caps_process() < 0)
        return bg_error_set(err, -EPERM, "read the process's capabilities");
    for (size_t i = 0; i < BG_ARRAY_SIZE(kept); i++)
        if (capng_have_capability(CAPNG_EFFECTIVE, (unsigned)kept[i]) != 1)
            return bg_error_set(err, -EPERM, "bangerd-root lacks %s: run it as root",
                                capng_capability_to_name((unsigned)kept[i]));
    capng_clear(CAPNG_SELECT_BOTH);
    add(kept, BG_ARRAY_SIZE(kept), all);
    if (jailer) {
        add(jail_kept, BG_ARRAY_SIZE(jail_kept), all);
        add(jailer_bound, BG_ARRAY_SIZE(jailer_bound), CAPNG_BOUNDING_SET);
    }
    if (capng_apply(CAPNG_SELECT_BOTH) < 0)
        return bg_error_set(err, -EPERM, "drop capabilities: capng_apply failed");
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (!jailer && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return bg_error_errno(err, "set no_new_privs");
    return 0;
}

const char *bg_caps_describe(void)
{
    static char buf[512];
    char *text;

    (void)capng_get_caps_process();
    text = capng_print_caps_text(CAPNG_PRINT_BUFFER, CAPNG_EFFECTIVE);
    snprintf(buf, sizeof(buf), "%s", text ? text : "none");
    free(text);
    return buf;
}
