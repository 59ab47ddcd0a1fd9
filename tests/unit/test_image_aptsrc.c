/* SPDX-License-Identifier: MIT */
/* Unit tests for server/image/aptsrc.c: the host's apt sources (one-line and deb822), what is
 * kept of them, malformed files, InRelease dates and dpkg's status file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "image/aptsrc.h"
#include "testutil.h"

/* The sources of the Debian 12 machine CI runs on, with two third-party repositories. */
static const char host_sources[] = "Types: deb\n"
                                   "# http://snapshot.debian.org/archive/debian/20250520T000000Z\n"
                                   "URIs: http://deb.debian.org/debian\n"
                                   "Suites: bookworm bookworm-updates\n"
                                   "Components: main\n"
                                   "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
                                   "\n"
                                   "Types: deb\n"
                                   "URIs: http://deb.debian.org/debian-security\n"
                                   "Suites: bookworm-security\n"
                                   "Components: main\n"
                                   "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";

static const char nodesource[] = "Types: deb\n"
                                 "URIs: https://deb.nodesource.com/node_20.x\n"
                                 "Suites: nodistro\n"
                                 "Components: main\n"
                                 "Architectures: amd64\n"
                                 "Signed-By: /usr/share/keyrings/nodesource.gpg\n";

static void test_deb822_host(void **state)
{
    (void)state;
    struct bg_aptsrc s = {0};
    struct bg_error err;

    assert_int_equal(
        bg_aptsrc_parse(&s, "/etc/apt/sources.list.d/debian.sources", host_sources, &err), 0);
    assert_int_equal(bg_aptsrc_parse(&s, "nodesource.sources", nodesource, &err), 0);
    assert_int_equal(s.n, 3);
    bg_autofree char *text = bg_aptsrc_format(&s);
    assert_string_equal(text, "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                              "http://deb.debian.org/debian bookworm main\n"
                              "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                              "http://deb.debian.org/debian bookworm-updates main\n"
                              "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                              "http://deb.debian.org/debian-security bookworm-security main\n");
    bg_autofree char *url = bg_aptsrc_inrelease_url(&s, 2);
    assert_string_equal(url, "http://deb.debian.org/debian-security/dists/bookworm-security/"
                             "InRelease");
    bg_aptsrc_done(&s);
    assert_int_equal(s.n, 0);
}

static void test_one_line(void **state)
{
    (void)state;
    static const char list[] =
        "# a comment\n"
        "deb http://mirror.example/debian/ bookworm main contrib # trailing comment\n"
        "deb-src http://mirror.example/debian bookworm main\n"
        "  deb [ arch=amd64 signed-by=/k.gpg ]   https://m.example/d  bookworm-updates  main\r\n"
        "deb [trusted=yes] file:/srv/mirror bookworm-security main\n"
        "deb http://deb.debian.org/debian trixie main\n"
        "deb http://deb.debian.org/debian bookworm-backports main\n"
        "deb cdrom:[Debian 12]/ bookworm main\n"
        "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n"
        "\n";
    struct bg_aptsrc s = {0};
    struct bg_error err;

    assert_int_equal(bg_aptsrc_parse(&s, "sources.list", list, &err), 0);
    bg_autofree char *text = bg_aptsrc_format(&s);
    assert_string_equal(text, "deb http://mirror.example/debian bookworm main contrib\n"
                              "deb [signed-by=/k.gpg] https://m.example/d bookworm-updates main\n"
                              "deb [trusted=yes] file:/srv/mirror bookworm-security main\n");
    bg_aptsrc_done(&s);
}

static void test_deb822_details(void **state)
{
    (void)state;
    static const char src[] = "Types: deb-src deb\n"
                              "URIs: http://a.example/debian http://b.example/debian\n"
                              "Suites: bookworm\n"
                              "Components: main\n"
                              "  non-free-firmware\n"
                              "Signed-By:\n"
                              " -----BEGIN PGP PUBLIC KEY BLOCK-----\n"
                              " .\n"
                              " mDMEY...\n"
                              "\n"
                              "Types: deb\n"
                              "URIs: http://c.example/debian\n"
                              "Suites: bookworm\n"
                              "Components: main\n"
                              "Enabled: no\n"
                              "\n"
                              "# only a comment\n"
                              "\n"
                              "types: deb\n"
                              "uris: http://d.example/debian\n"
                              "suites: bookworm-updates\n"
                              "components: main\n"
                              "trusted: yes\n";
    struct bg_aptsrc s = {0};
    struct bg_error err;

    assert_int_equal(bg_aptsrc_parse(&s, "x.sources", src, &err), 0);
    bg_autofree char *text = bg_aptsrc_format(&s);
    /* an inline key cannot go on a one-line entry: the host's keyrings decide */
    assert_string_equal(text, "deb http://a.example/debian bookworm main non-free-firmware\n"
                              "deb http://b.example/debian bookworm main non-free-firmware\n"
                              "deb [trusted=yes] http://d.example/debian bookworm-updates main\n");
    bg_aptsrc_done(&s);
}

/* Malformed files: each refusal names the file and line. */
static void test_refusals(void **state)
{
    (void)state;
    bg_autofree char *long_uri = bg_malloc(BG_APTSRC_URI_MAX + 64);
    snprintf(long_uri, BG_APTSRC_URI_MAX + 64, "deb http://a.example/%0*d bookworm main\n",
             BG_APTSRC_URI_MAX, 0);
    bg_autofree char *many = bg_strdup("");
    for (int i = 0; i <= BG_APTSRC_MAX; i++) {
        char *next = bg_asprintf("%sdeb http://m%d.example/debian bookworm main\n", many, i);
        free(many);
        many = next;
    }
    const struct {
        const char *name, *text, *fragment;
    } cases[] = {
        {"a.list", "deb\n", "a.list:1: a line without URI and suite: 'deb'"},
        {"a.list", "\n\ndeb http://x\n", "a.list:3: a line without URI and suite"},
        {"a.list", "rpm http://x bookworm main\n", "a.list:1: not a deb or deb-src line"},
        {"a.list", "deb [arch=amd64 http://x bookworm main\n", "an option list without ']'"},
        {"a.list", "deb [=x] http://x bookworm main\n", "a malformed option '=x'"},
        {"a.list", "deb [arch] http://x bookworm main\n", "a malformed option 'arch'"},
        {"a.list", "deb http://x bookworm\n", "a.list:1: no components for suite 'bookworm'"},
        {"a.list", "deb http://x\"y bookworm main\n", "a character apt's one-line format"},
        {"a.list", "deb http://x bookworm ma;in\n", "a malformed component list"},
        {"a.list", "deb [signed-by=k.gpg] http://x bookworm main\n",
         "Signed-By names no usable keyring path: 'k.gpg'"},
        {"a.list", long_uri, "a.list:1: a URI longer than 512 bytes"},
        {"a.list", many, "a.list:33: more than 32 Debian bookworm entries"},
        {"b.sources", "Types deb\n", "b.sources:1: not a 'Field: value' line"},
        {"b.sources", " deb\n", "b.sources:1: a continuation line outside a field"},
        {"b.sources", "Types: deb\nURIs: http://x\n", "b.sources:1: a stanza without Types"},
        {"b.sources", "\n\nTypes: deb\nSuites: bookworm\n", "b.sources:3: a stanza without"},
        {"b.sources", "Types: deb\nURIs: http://x\nSuites: bookworm\n",
         "no components for suite 'bookworm'"},
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        struct bg_aptsrc s = {0};
        struct bg_error err = {0};
        int r = bg_aptsrc_parse(&s, cases[i].name, cases[i].text, &err);
        if (r != -EINVAL || err.code != -EINVAL || !strstr(err.msg, cases[i].fragment))
            fail_msg("case %zu: r=%d msg='%s', want '%s'", i, r, err.msg, cases[i].fragment);
        bg_aptsrc_done(&s);
    }
}

static void test_release_date(void **state)
{
    (void)state;
    static const char inrelease[] = "-----BEGIN PGP SIGNED MESSAGE-----\n"
                                    "Hash: SHA256\n"
                                    "\n"
                                    "Origin: Debian\n"
                                    "Codename: bookworm\n"
                                    "Date: Sat, 10 Jun 2023 08:54:42 UTC\n"
                                    "MD5Sum:\n"
                                    " 0ed6 1484322 contrib/Contents-all\n";
    int64_t t = 0;
    struct bg_error err;

    assert_int_equal(bg_aptsrc_release_date(inrelease, &t, &err), 0);
    assert_int_equal(t, 1686387282);
    assert_int_equal(bg_aptsrc_release_date("Date: Thu, 01 Jan 1970 00:00:01 +0000\n", &t, &err),
                     0);
    assert_int_equal(t, 1);
    assert_err(bg_aptsrc_release_date("Origin: Debian\n", &t, &err), err, -EINVAL,
               "has no Date field");
    assert_err(
        bg_aptsrc_release_date("Origin: Debian\n\nDate: Sat, 10 Jun 2023 08:54:42 UTC\n", &t, &err),
        err, -EINVAL, "has no Date field");
    assert_err(bg_aptsrc_release_date("Date: yesterday\n", &t, &err), err, -EINVAL,
               "Date 'yesterday' does not parse");
    assert_err(bg_aptsrc_release_date("Date: Sat, 10 Jun 2023 08:54:42 CEST\n", &t, &err), err,
               -EINVAL, "does not parse");
    assert_err(bg_aptsrc_release_date("-----BEGIN PGP SIGNED MESSAGE-----\n", &t, &err), err,
               -EINVAL, "has no Date field");
    assert_int_equal(t, 1); /* untouched by refusals */
}

static void test_dpkg_installed(void **state)
{
    (void)state;
    static const char status[] = "Package: zlib1g\n"
                                 "Status: install ok installed\n"
                                 "Version: 1:1.2.13.dfsg-1\n"
                                 "\n"
                                 "Package: gcc-12\n"
                                 "Status: install ok installed\n"
                                 "Description: GNU C\n"
                                 " compiler\n"
                                 "Version: 12.2.0-14\n"
                                 "\n"
                                 "Package: removed\n"
                                 "Status: deinstall ok config-files\n"
                                 "Version: 1\n"
                                 "\n"
                                 "Package: bad name\n"
                                 "Status: install ok installed\n"
                                 "Version: 1\n"
                                 "\n"
                                 "Status: install ok installed\n"
                                 "Version: 2\n"
                                 "\n"
                                 "Package: last\n"
                                 "Version: 3\n"
                                 "Status: install ok installed";
    bg_autofree char *got = bg_aptsrc_dpkg_installed(status);
    bg_autofree char *none = bg_aptsrc_dpkg_installed("");

    assert_string_equal(got, "gcc-12 12.2.0-14\nlast 3\nzlib1g 1:1.2.13.dfsg-1\n");
    assert_string_equal(none, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deb822_host),    cmocka_unit_test(test_one_line),
        cmocka_unit_test(test_deb822_details), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_release_date),   cmocka_unit_test(test_dpkg_installed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
