/* SPDX-License-Identifier: MIT */
#include "doctor/osrelease.h"

#include <stdbool.h>
#include <string.h>

#include "banger/macro.h"

/* One value, unquoted and unescaped, into buf (len bytes); false when it does not fit or is
 * malformed (an unterminated quote). */
static bool value_unquote(const char *v, size_t n, char *buf, size_t len)
{
    size_t o = 0;
    char q = 0;

    if (n > 0 && (v[0] == '"' || v[0] == '\'')) {
        q = v[0];
        if (n < 2 || v[n - 1] != q)
            return false;
        v++;
        n -= 2;
    }
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (q == '"' && c == '\\' && i + 1 < n)
            c = v[++i];
        if (o + 1 >= len)
            return false;
        buf[o++] = c;
    }
    buf[o] = '\0';
    return true;
}

/* Keep only os-release's id alphabet, lowercased; ' ' separates ID_LIKE's words. */
static void id_clean(char *s, bool words)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
            (words && c == ' '))
            s[o++] = c;
    }
    s[o] = '\0';
}

int bg_os_release_parse(const char *text, struct bg_os_release *ret)
{
    memset(ret, 0, sizeof(*ret));
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        const char *line = p;
        p = eol ? eol + 1 : p + n;
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            n--;
        while (n > 0 && (*line == ' ' || *line == '\t')) {
            line++;
            n--;
        }
        const char *eq = memchr(line, '=', n);
        if (n == 0 || line[0] == '#' || !eq)
            continue;
        size_t klen = (size_t)(eq - line);
        const char *v = eq + 1;
        size_t vlen = n - klen - 1;
        if (klen == 2 && !memcmp(line, "ID", 2)) {
            if (!value_unquote(v, vlen, ret->id, sizeof(ret->id)))
                ret->id[0] = '\0';
            id_clean(ret->id, false);
        } else if (klen == 7 && !memcmp(line, "ID_LIKE", 7)) {
            if (!value_unquote(v, vlen, ret->id_like, sizeof(ret->id_like)))
                ret->id_like[0] = '\0';
            id_clean(ret->id_like, true);
        }
    }
    return 0;
}

static const struct {
    const char *id;
    enum bg_os_family family;
} families[] = {
    {"debian", BG_OS_FAMILY_DEBIAN}, {"ubuntu", BG_OS_FAMILY_DEBIAN}, {"arch", BG_OS_FAMILY_ARCH},
    {"manjaro", BG_OS_FAMILY_ARCH},  {"nixos", BG_OS_FAMILY_NIXOS},
};

static enum bg_os_family family_of(const char *id, size_t n)
{
    for (size_t i = 0; i < BG_ARRAY_SIZE(families); i++)
        if (strlen(families[i].id) == n && !memcmp(families[i].id, id, n))
            return families[i].family;
    return BG_OS_FAMILY_OTHER;
}

enum bg_os_family bg_os_release_family(const struct bg_os_release *os)
{
    enum bg_os_family f = family_of(os->id, strlen(os->id));
    for (const char *p = os->id_like; f == BG_OS_FAMILY_OTHER && *p;) {
        size_t n = strcspn(p, " ");
        f = family_of(p, n);
        p += n;
        p += strspn(p, " ");
    }
    return f;
}

#define FC_RELEASE "https://github.com/firecracker-microvm/firecracker/releases"
#define FC_TGZ FC_RELEASE "/download/v1.16.1/firecracker-v1.16.1-x86_64.tgz"
#define FC_FETCH "curl -fsSL " FC_TGZ " | tar -xz -C /tmp && sudo install -o root -m 0755 "
#define FC_DIR "/tmp/release-v1.16.1-x86_64/"

static const char *const hints[][3] = {
    [BG_OS_FAMILY_OTHER] =
        {
            [BG_OS_PROGRAM_FIRECRACKER] = "see " FC_RELEASE,
            [BG_OS_PROGRAM_JAILER] = "see " FC_RELEASE,
            [BG_OS_PROGRAM_QEMU] = "see https://www.qemu.org/download/#linux",
        },
    [BG_OS_FAMILY_DEBIAN] =
        {
            [BG_OS_PROGRAM_FIRECRACKER] =
                FC_FETCH FC_DIR "firecracker-v1.16.1-x86_64 /usr/local/bin/firecracker",
            [BG_OS_PROGRAM_JAILER] = FC_FETCH FC_DIR "jailer-v1.16.1-x86_64 /usr/local/bin/jailer",
            [BG_OS_PROGRAM_QEMU] = "sudo apt-get install qemu-system-x86",
        },
    [BG_OS_FAMILY_ARCH] =
        {
            [BG_OS_PROGRAM_FIRECRACKER] = "sudo pacman -S firecracker",
            [BG_OS_PROGRAM_JAILER] = "sudo pacman -S firecracker",
            [BG_OS_PROGRAM_QEMU] = "sudo pacman -S qemu-system-x86",
        },
    [BG_OS_FAMILY_NIXOS] =
        {
            [BG_OS_PROGRAM_FIRECRACKER] = "nix profile install nixpkgs#firecracker",
            [BG_OS_PROGRAM_JAILER] = "nix profile install nixpkgs#firecracker",
            [BG_OS_PROGRAM_QEMU] = "nix profile install nixpkgs#qemu",
        },
};

const char *bg_os_install_hint(enum bg_os_family f, enum bg_os_program prog)
{
    return hints[f][prog];
}
