/* SPDX-License-Identifier: MIT */
/* The package mirror the host already uses: its apt sources (one-line .list files and deb822
 * .sources files) read for the Debian release a dev image is made of, and the Date of a
 * suite's InRelease file. Pure parsing; the files are read by the caller. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"

#define BG_APTSRC_CODENAME "bookworm" /* the Debian release of a dev image (Debian 12) */
#define BG_APTSRC_MAX 32              /* entries kept */
#define BG_APTSRC_URI_MAX 512         /* bytes of a mirror URI */

/* One "deb URI SUITE COMPONENTS" line of the Debian release. */
struct bg_aptsrc_entry {
    char *uri;        /* http://, https:// or file:/, without a trailing '/', owned */
    char *suite;      /* "bookworm", "bookworm-updates" or "bookworm-security", owned */
    char *components; /* "main" or "main contrib ...", space-separated, owned */
    char *signed_by;  /* the keyring file named by Signed-By, owned; NULL when none (or when
                       * the key is inline: the host's keyrings then decide) */
    int trusted;      /* [trusted=yes] */
};

/* The entries of the Debian release, in the order apt reads them. */
struct bg_aptsrc {
    struct bg_aptsrc_entry e[BG_APTSRC_MAX];
    size_t n;
};

/* Add the entries of text, the content of one sources file named name (whose ending, ".list"
 * or ".sources", chooses the format), to s: only "deb" entries (not deb-src) of the suites
 * BG_APTSRC_CODENAME, -updates and -security, with an http(s) or file URI; an entry of another
 * release or repository is skipped, and so is a deb822 stanza with "Enabled: no". Returns 0, or
 * -EINVAL with err naming the file and line of a malformed line, a URI too long or with a
 * character apt's one-line format cannot carry, or more than BG_APTSRC_MAX entries. */
int bg_aptsrc_parse(struct bg_aptsrc *s, const char *name, const char *text, struct bg_error *err);

/* The one-line sources list mmdebstrap reads on its stdin ("deb [signed-by=K] URI SUITE
 * COMPONENTS\n" per entry), owned. */
char *bg_aptsrc_format(const struct bg_aptsrc *s);

/* URI/dists/SUITE/InRelease of entry i, owned. */
char *bg_aptsrc_inrelease_url(const struct bg_aptsrc *s, size_t i);

void bg_aptsrc_done(struct bg_aptsrc *s);

/* The "Date:" field of an InRelease (or Release) file's text as seconds since the epoch:
 * "Sat, 10 Jun 2023 08:54:42 UTC" (RFC 2822, UTC or +0000). Returns 0, or -EINVAL when there
 * is no such field in the first paragraph or it does not parse. */
int bg_aptsrc_release_date(const char *text, int64_t *ret, struct bg_error *err);

/* The installed packages of a dpkg status file's text ("Status: install ok installed") as
 * "NAME VERSION" lines sorted by name, owned; "" when there are none. Stanzas without a name,
 * a version or that status, and names or versions with blanks or control characters, are
 * left out. */
char *bg_aptsrc_dpkg_installed(const char *text);
