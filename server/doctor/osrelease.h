/* SPDX-License-Identifier: MIT */
/* /etc/os-release read for the two fields doctor needs (ID, ID_LIKE), and the install hints
 * that follow from them: a pinned command for the distributions whose packaging we know, the
 * upstream URL for every other one (a wrong guess sends an operator on a wild goose chase). */
#pragma once

#include <stddef.h>

#define BG_OS_ID_MAX 64       /* bytes of ID, NUL included */
#define BG_OS_ID_LIKE_MAX 256 /* bytes of ID_LIKE, NUL included */

struct bg_os_release {
    char id[BG_OS_ID_MAX];           /* "debian"; "" when absent */
    char id_like[BG_OS_ID_LIKE_MAX]; /* "ubuntu debian"; "" when absent */
};

/* Fill *ret from text, os-release(5) lines: KEY=VALUE, VALUE bare or in double or single
 * quotes, backslash escapes inside double quotes, # comments and blank lines skipped. A
 * malformed line is skipped, as systemd does; a value too long for its field leaves it "".
 * Only lowercase [a-z0-9._-] is kept of an id (os-release's own alphabet), so what it yields is
 * always safe to print. Returns 0 (text NULL: both empty). */
int bg_os_release_parse(const char *text, struct bg_os_release *ret);

/* The families the hints know. */
enum bg_os_family {
    BG_OS_FAMILY_OTHER,  /* unknown distribution, or no os-release: the upstream URL only */
    BG_OS_FAMILY_DEBIAN, /* debian, ubuntu (and those ID_LIKE them) */
    BG_OS_FAMILY_ARCH,   /* arch, manjaro */
    BG_OS_FAMILY_NIXOS,  /* nixos */
};

/* The family of os: ID first, then each word of ID_LIKE in order. */
enum bg_os_family bg_os_release_family(const struct bg_os_release *os);

/* Programs doctor gives install hints for. */
enum bg_os_program {
    BG_OS_PROGRAM_FIRECRACKER,
    BG_OS_PROGRAM_JAILER,
    BG_OS_PROGRAM_QEMU,
};

/* What to run to install prog on family f, or, for BG_OS_FAMILY_OTHER, "see URL". Static. */
const char *bg_os_install_hint(enum bg_os_family f, enum bg_os_program prog);
