/* SPDX-License-Identifier: MIT */
/* `firecracker --version` output parsed into a semantic version. */
#include "vmm/firecracker/fcversion.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "banger/parse.h"

#define PREFIX "Firecracker v"
#define NUM_MAX 6 /* digits of one version number */

/* One decimal number at *p, advancing *p past it. */
static int take_number(const char **p, unsigned *ret)
{
    char num[NUM_MAX + 1];
    size_t n = strspn(*p, "0123456789");
    uint64_t v;

    if (n == 0 || n > NUM_MAX)
        return -EBADMSG;
    memcpy(num, *p, n);
    num[n] = '\0';
    /* semver: no leading zeros */
    if ((n > 1 && num[0] == '0') || bg_parse_u64(num, 0, 999999, &v, NULL) < 0)
        return -EBADMSG;
    *p += n;
    *ret = (unsigned)v;
    return 0;
}

static int take_pre(const char **p, char *pre)
{
    size_t n;

    pre[0] = '\0';
    if (**p != '-')
        return 0;
    (*p)++;
    n = strspn(*p, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-.");
    if (n == 0 || n >= BG_FC_VERSION_PRE_MAX)
        return -EBADMSG;
    memcpy(pre, *p, n);
    pre[n] = '\0';
    *p += n;
    return 0;
}

int bg_fc_version_parse(const char *text, struct bg_fc_version *ret, struct bg_error *err)
{
    struct bg_fc_version v = {0};
    const char *p = text;

    if (strncmp(p, PREFIX, strlen(PREFIX)))
        return bg_error_set(err, -EBADMSG, "version output does not start with '" PREFIX "'");
    p += strlen(PREFIX);
    if (take_number(&p, &v.major) < 0 || *p++ != '.' || take_number(&p, &v.minor) < 0 ||
        *p++ != '.' || take_number(&p, &v.patch) < 0 || take_pre(&p, v.pre) < 0)
        return bg_error_set(err, -EBADMSG, "version output has no MAJOR.MINOR.PATCH after 'v'");
    if (*p == '+') /* build metadata ("+fuzzing"): ignored, as semver says */
        p += 1 + strspn(p + 1, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-.");
    if (*p != '\n' && *p != '\0' && *p != '\r')
        return bg_error_set(err, -EBADMSG, "version output has junk after the version");
    *ret = v;
    return 0;
}

void bg_fc_version_format(const struct bg_fc_version *v, char *buf, size_t len)
{
    snprintf(buf, len, "%u.%u.%u%s%s", v->major, v->minor, v->patch, v->pre[0] ? "-" : "", v->pre);
}

bool bg_fc_version_supported(const struct bg_fc_version *v)
{
    return v->major == 1 && v->minor >= BG_FC_MIN_MINOR;
}
