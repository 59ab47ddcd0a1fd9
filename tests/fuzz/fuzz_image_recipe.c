/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the parsers of a dev image build: the host's apt sources (one-line and
 * deb822), an InRelease Date, dpkg's status file, /etc/subuid, mmdebstrap's output lines and
 * apt sizes, package lists, tarball paths. The first byte picks how the rest is read; every
 * parser sees all of it. Refusals carry -EINVAL and a message that encodes as JSON; what is
 * accepted has the shape the build relies on. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/utf8.h"
#include "banger/validate.h"
#include "image/aptsrc.h"
#include "image/ext4.h"
#include "image/mmdeb.h"
#include "image/recipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in release builds; these invariants must hold in every build. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_refusal(int r, const struct bg_error *err)
{
    CHECK(r == -EINVAL);
    CHECK(err->code == r);
    CHECK(err->msg[0] != '\0');
    CHECK(bg_utf8_valid(err->msg, strlen(err->msg)));
    json_t *s = json_string(err->msg);
    CHECK(s != NULL);
    json_decref(s);
}

static bool printable_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

static void fuzz_sources(const char *text, bool deb822)
{
    struct bg_aptsrc s = {0};
    struct bg_error err;
    int r = bg_aptsrc_parse(&s, deb822 ? "f.sources" : "f.list", text, &err);

    if (r < 0)
        check_refusal(r, &err);
    CHECK(s.n <= BG_APTSRC_MAX);
    for (size_t i = 0; i < s.n; i++) {
        CHECK(strlen(s.e[i].uri) <= BG_APTSRC_URI_MAX && printable_ascii(s.e[i].uri));
        CHECK(!strncmp(s.e[i].suite, BG_APTSRC_CODENAME, strlen(BG_APTSRC_CODENAME)));
        CHECK(s.e[i].components[0] != '\0');
        CHECK(!s.e[i].signed_by || s.e[i].signed_by[0] == '/');
    }
    /* what is kept always makes one well-formed line per entry */
    bg_autofree char *lines = bg_aptsrc_format(&s);
    size_t n = 0;
    for (const char *p = lines; *p; p++)
        n += *p == '\n';
    CHECK(n == s.n);
    bg_aptsrc_done(&s);
}

static void fuzz_release(const char *text)
{
    int64_t t = -7;
    struct bg_error err;
    int r = bg_aptsrc_release_date(text, &t, &err);

    if (r < 0) {
        check_refusal(r, &err);
        CHECK(t == -7);
    } else {
        CHECK(r == 0 && t >= 0);
    }
}

static void fuzz_status(const char *text)
{
    bg_autofree char *out = bg_aptsrc_dpkg_installed(text);

    /* "NAME VERSION\n" lines of printable words */
    for (const char *p = out; *p;) {
        size_t n = strcspn(p, "\n");
        CHECK(p[n] == '\n');
        bg_autofree char *line = bg_strndup(p, n);
        char *sp = strchr(line, ' ');
        CHECK(sp && sp != line && sp[1] && !strchr(sp + 1, ' '));
        p += n + 1;
    }
}

static void fuzz_mmdeb(const char *text, size_t len)
{
    struct bg_mmdeb_progress p = {0};
    uint64_t v;

    (void)bg_mmdeb_subid_count(text, "dev", 1000);
    bg_mmdeb_feed(&p, text, len);
    CHECK(p.line_len <= BG_MMDEB_LINE_MAX);
    CHECK(p.phase < BG_MMDEB_PHASE_COUNT_);
    /* a round's bytes are counted in the run's too */
    CHECK(p.bytes_done <= p.bytes_fetched);
    /* an accepted size is "DIGITS[.DIGITS] UNIT" */
    if (bg_mmdeb_size_parse(text, &v) == 0) {
        size_t n = strlen(text);
        CHECK(text[0] >= '0' && text[0] <= '9' && n >= 3 && text[n - 1] == 'B');
        CHECK(strchr(text, ' ') && !strchr(strchr(text, ' ') + 1, ' '));
    }
}

static void fuzz_lists(const char *text)
{
    struct bg_pkglist l = {0};
    struct bg_error err;
    char path[PATH_MAX];
    int r = bg_pkglist_add_text(&l, text, "fuzz", &err);

    if (r < 0)
        check_refusal(r, &err);
    CHECK(l.n <= BG_RECIPE_PACKAGES_MAX);
    for (size_t i = 0; i < l.n; i++)
        CHECK(bg_package_validate(l.names[i], NULL) == 0);
    bg_pkglist_done(&l);
    if (bg_ext4_path_clean(text, path, sizeof(path)) == 0) {
        CHECK(path[0] != '/' && !strstr(path, "//"));
        CHECK(strcmp(path, "..") && strncmp(path, "../", 3) && !strstr(path, "/../"));
        size_t n = strlen(path);
        CHECK(n < 3 || strcmp(path + n - 3, "/.."));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bg_autofree char *text = bg_malloc(size);

    /* the first byte picks the format; the text goes on to its end or its first NUL */
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    fuzz_sources(text, data[0] & 1);
    fuzz_release(text);
    fuzz_status(text);
    fuzz_mmdeb(text, size - 1);
    fuzz_lists(text);
    return 0;
}
