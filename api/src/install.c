/* SPDX-License-Identifier: MIT */
/* install.toml: the system install's owner, network and paths, strictly parsed. */
#include "banger/install.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/kvfile.h"
#include "banger/parse.h"
#include "banger/utf8.h"
#include "banger/validate.h"

enum key {
    K_OWNER_UID,
    K_OWNER_GID,
    K_BRIDGE,
    K_SUBNET,
    K_DNS_PORT,
    K_HELPER_SOCKET,
    K_HELPER_STATE_DIR,
    K_RUNTIME_DIR,
    K_STATE_DIR,
    K_FIRECRACKER,
    K_JAILER,
    K_JAIL_DIR,
    K_COUNT,
};

enum kind { KIND_ID, KIND_IFNAME, KIND_SUBNET, KIND_PORT, KIND_PATH };

struct key_desc {
    const char *name;
    enum kind kind;
    size_t offset; /* KIND_PATH: of the char * in struct bg_install */
};

#define PATH_KEY(k, n) [k] = {#n, KIND_PATH, offsetof(struct bg_install, n)}

static const struct key_desc keys[K_COUNT] = {
    [K_OWNER_UID] = {"owner_uid", KIND_ID, 0},
    [K_OWNER_GID] = {"owner_gid", KIND_ID, 0},
    [K_BRIDGE] = {"bridge", KIND_IFNAME, 0},
    [K_SUBNET] = {"subnet", KIND_SUBNET, 0},
    [K_DNS_PORT] = {"dns_port", KIND_PORT, 0},
    PATH_KEY(K_HELPER_SOCKET, helper_socket),
    PATH_KEY(K_HELPER_STATE_DIR, helper_state_dir),
    PATH_KEY(K_RUNTIME_DIR, runtime_dir),
    PATH_KEY(K_STATE_DIR, state_dir),
    PATH_KEY(K_FIRECRACKER, firecracker),
    PATH_KEY(K_JAILER, jailer),
    PATH_KEY(K_JAIL_DIR, jail_dir),
};

#define SOCKET_PATH_MAX 107 /* sun_path less the terminator */

int bg_ipv4_parse(const char *s, uint32_t *ret, struct bg_error *err)
{
    uint32_t addr = 0;
    const char *p = s;

    for (int i = 0; i < 4; i++) {
        size_t n = strspn(p, "0123456789");
        uint64_t octet;
        char buf[4];
        if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
            return bg_error_set(err, -EINVAL, "'%s' is not an IPv4 address", BG_QUOTE(s));
        memcpy(buf, p, n);
        buf[n] = '\0';
        if (bg_parse_u64(buf, 0, 255, &octet, NULL) < 0)
            return bg_error_set(err, -EINVAL, "'%s' is not an IPv4 address", BG_QUOTE(s));
        addr = addr << 8 | (uint32_t)octet;
        p += n;
        if (i < 3 && *p++ != '.')
            return bg_error_set(err, -EINVAL, "'%s' is not an IPv4 address", BG_QUOTE(s));
    }
    if (*p)
        return bg_error_set(err, -EINVAL, "'%s' is not an IPv4 address", BG_QUOTE(s));
    *ret = addr;
    return 0;
}

void bg_install_cidr(uint32_t a, unsigned prefix, char *buf, size_t len)
{
    snprintf(buf, len, "%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, prefix);
}

/* One of the RFC 1918 ranges holds all of addr/prefix. */
static bool private_range(uint32_t addr, unsigned prefix)
{
    return (prefix >= 8 && (addr >> 24) == 10) || (prefix >= 12 && (addr >> 20) == 0xac1) ||
           (prefix >= 16 && (addr >> 16) == 0xc0a8);
}

static int subnet_parse(const char *text, struct bg_install *in, struct bg_error *err)
{
    const char *slash = strchr(text, '/');
    uint64_t prefix;
    uint32_t addr;
    char host[16];

    if (!slash || (size_t)(slash - text) >= sizeof(host))
        return bg_error_set(err, -EINVAL, "'%s' is not ADDRESS/PREFIX", BG_QUOTE(text));
    memcpy(host, text, (size_t)(slash - text));
    host[slash - text] = '\0';
    if (bg_ipv4_parse(host, &addr, err) < 0)
        return -EINVAL;
    if (bg_parse_u64(slash + 1, 16, 29, &prefix, err) < 0)
        return bg_error_prefix(err, -ERANGE, "prefix length (16..29)");
    uint32_t mask = ~0u << (32 - prefix);
    if (addr & ~mask)
        return bg_error_set(err, -EINVAL, "'%s' has host bits set", BG_QUOTE(text));
    if (!private_range(addr, (unsigned)prefix))
        return bg_error_set(err, -EINVAL,
                            "'%s' is not a private range (10/8, 172.16/12, 192.168/16)",
                            BG_QUOTE(text));
    in->subnet = addr;
    in->prefix = (unsigned)prefix;
    return 0;
}

static int ifname_check(const char *text, struct bg_error *err)
{
    size_t n = strlen(text);

    if (n < 3 || n > BG_INSTALL_IFNAME_MAX || strncmp(text, "bg", 2))
        return bg_error_set(err, -EINVAL, "'%s' must be 3 to %d characters starting with 'bg'",
                            BG_QUOTE(text), BG_INSTALL_IFNAME_MAX);
    if (strspn(text, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
        return bg_error_set(err, -EINVAL, "'%s' may hold only a-z, 0-9 and '-'", BG_QUOTE(text));
    if (!strncmp(text, "bgt", 3))
        return bg_error_set(err, -EINVAL, "'%s' starts like banger's taps ('bgt')", BG_QUOTE(text));
    return 0;
}

static int store(struct bg_install *in, enum key k, const struct bg_kv_line *l,
                 struct bg_error *err)
{
    enum bg_kv_type want =
        keys[k].kind == KIND_ID || keys[k].kind == KIND_PORT ? BG_KV_INTEGER : BG_KV_STRING;
    uint64_t n;
    int r;

    if (l->type != want)
        return bg_error_set(err, -EINVAL, "expected %s, got %s", bg_kv_type_name(want),
                            bg_kv_type_name(l->type));
    switch (keys[k].kind) {
    case KIND_ID:
        if ((r = bg_parse_u64(l->text, 1, 4294967294u, &n, err)) < 0)
            return r;
        if (k == K_OWNER_UID)
            in->owner_uid = (uid_t)n;
        else
            in->owner_gid = (gid_t)n;
        return 0;
    case KIND_PORT:
        if ((r = bg_parse_u64(l->text, 1, 65535, &n, err)) < 0)
            return r;
        in->dns_port = (uint16_t)n;
        return 0;
    case KIND_IFNAME:
        if ((r = ifname_check(l->text, err)) < 0)
            return r;
        snprintf(in->bridge, sizeof(in->bridge), "%s", l->text);
        return 0;
    case KIND_SUBNET:
        return subnet_parse(l->text, in, err);
    case KIND_PATH:
        if ((r = bg_path_validate(l->text, err)) < 0)
            return r;
        if (k == K_HELPER_SOCKET && strlen(l->text) > SOCKET_PATH_MAX)
            return bg_error_set(err, -EINVAL, "'%s' is longer than a unix socket path", l->text);
        char **slot = (char **)((char *)in + keys[k].offset);
        free(*slot);
        *slot = bg_strdup(l->text);
        return 0;
    }
    return bg_error_set(err, -EINVAL, "key has no kind");
}

static int line_apply(struct bg_install *in, const char *line, unsigned *seen, unsigned lineno,
                      struct bg_error *err)
{
    bg_auto(bg_kv_line_done) struct bg_kv_line l = {0};
    int r = bg_kv_line_parse(line, &l, err);

    if (r < 0 || l.empty)
        return r;
    for (int k = 0; k < K_COUNT; k++) {
        if (strcmp(keys[k].name, l.key))
            continue;
        if (seen[k])
            return bg_error_set(err, -EINVAL, "key '%s': duplicate, first set on line %u", l.key,
                                seen[k]);
        if ((r = store(in, (enum key)k, &l, err)) < 0)
            return bg_error_prefix(err, r, "key '%s'", l.key);
        seen[k] = lineno;
        return 0;
    }
    return bg_error_set(err, -EINVAL, "unknown key '%s'", l.key);
}

static void defaults_fill(struct bg_install *in)
{
    static const struct {
        size_t offset;
        const char *value;
    } paths[] = {
        {offsetof(struct bg_install, helper_socket), "/run/banger/helper.sock"},
        {offsetof(struct bg_install, helper_state_dir), "/var/lib/banger-helper"},
        {offsetof(struct bg_install, runtime_dir), "/run/banger"},
        {offsetof(struct bg_install, state_dir), "/var/lib/banger"},
        {offsetof(struct bg_install, jail_dir), "/srv/banger-jail"},
    };

    if (!in->bridge[0])
        snprintf(in->bridge, sizeof(in->bridge), "bgbr0");
    if (!in->prefix) {
        in->subnet = 0x0a4d0000; /* 10.77.0.0 */
        in->prefix = 24;
    }
    if (!in->dns_port)
        in->dns_port = 42069;
    if (!in->owner_gid)
        in->owner_gid = in->owner_uid;
    for (size_t i = 0; i < BG_ARRAY_SIZE(paths); i++) {
        char **slot = (char **)((char *)in + paths[i].offset);
        if (!*slot)
            *slot = bg_strdup(paths[i].value);
    }
}

static void fclosep(FILE **f)
{
    if (*f)
        (void)fclose(*f);
}

static int file_read(const char *path, struct bg_install *in, struct bg_error *err)
{
    char line[BG_KV_LINE_MAX + 2];
    unsigned seen[K_COUNT] = {0};
    bg_auto(fclosep) FILE *f = NULL;
    int r;

    if ((r = bg_kv_file_open(path, &f, err)) < 0)
        return r;
    for (unsigned lineno = 1;; lineno++) {
        r = bg_kv_line_read(f, line, BG_KV_LINE_MAX + 1, err);
        if (r == 0)
            break;
        if (r > 0)
            r = line_apply(in, line, seen, lineno, err);
        if (r < 0)
            return bg_error_prefix(err, r, "%s:%u", path, lineno);
    }
    if (!seen[K_OWNER_UID])
        return bg_error_set(err, -EINVAL, "%s: owner_uid is not set", path);
    return 0;
}

int bg_install_load(const char *path, struct bg_install *ret, struct bg_error *err)
{
    struct bg_install in = {0};
    int r = file_read(path, &in, err);

    if (r < 0) {
        bg_install_done(&in);
        memset(ret, 0, sizeof(*ret));
        return r;
    }
    defaults_fill(&in);
    in.path = bg_strdup(path);
    *ret = in;
    return 0;
}

void bg_install_done(struct bg_install *in)
{
    if (!in)
        return;
    for (int k = 0; k < K_COUNT; k++)
        if (keys[k].kind == KIND_PATH)
            free(*(char **)((char *)in + keys[k].offset));
    free(in->path);
    memset(in, 0, sizeof(*in));
}
