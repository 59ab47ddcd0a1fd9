/* SPDX-License-Identifier: MIT */
/* The host's apt sources, read for the Debian release of a dev image. */
#define _GNU_SOURCE 1 /* strptime */
#include "image/aptsrc.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "banger/alloc.h"
#include "banger/utf8.h"
#include "banger/validate.h"

static const char *const suites[] = {BG_APTSRC_CODENAME, BG_APTSRC_CODENAME "-updates",
                                     BG_APTSRC_CODENAME "-security", NULL};

static bool wanted_suite(const char *s, size_t n)
{
    for (size_t i = 0; suites[i]; i++)
        if (strlen(suites[i]) == n && !strncmp(s, suites[i], n))
            return true;
    return false;
}

/* A character apt's one-line format and a URL carry as is. */
static bool uri_char(char c)
{
    return c > 0x20 && c < 0x7f && !strchr("[]\"'\\#", c);
}

static bool known_scheme(const char *s)
{
    return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8) || !strncmp(s, "file:/", 6);
}

static bool component_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("-_./+", c);
}

/* Where in the file a message points. */
struct where {
    const char *file;
    unsigned line;
};

static int bad(const struct where *w, struct bg_error *err, const char *what, const char *text)
{
    return bg_error_set(err, -EINVAL, "%s:%u: %s '%s'", w->file, w->line, what, BG_QUOTE(text));
}

/* Check and add one entry; the strings are the caller's. */
static int add(struct bg_aptsrc *s, const struct where *w, const char *uri, size_t uri_n,
               const char *suite, size_t suite_n, const char *comps, const char *signed_by,
               bool trusted, struct bg_error *err)
{
    bg_autofree char *u = bg_strndup(uri, uri_n);

    if (!wanted_suite(suite, suite_n) || !known_scheme(u))
        return 0;
    if (uri_n > BG_APTSRC_URI_MAX)
        return bg_error_set(err, -EINVAL, "%s:%u: a URI longer than %d bytes", w->file, w->line,
                            BG_APTSRC_URI_MAX);
    for (size_t i = 0; i < uri_n; i++)
        if (!uri_char(u[i]))
            return bad(w, err, "a URI with a character apt's one-line format cannot hold:", u);
    if (!*comps)
        return bad(w, err, "no components for suite", suite);
    for (const char *p = comps; *p; p++)
        if (*p != ' ' && !component_char(*p))
            return bad(w, err, "a malformed component list", comps);
    if (signed_by && (bg_path_validate(signed_by, NULL) < 0 || strpbrk(signed_by, " ]")))
        return bad(w, err, "Signed-By names no usable keyring path:", signed_by);
    if (s->n == BG_APTSRC_MAX)
        return bg_error_set(err, -EINVAL,
                            "%s:%u: more than %d Debian " BG_APTSRC_CODENAME " entries", w->file,
                            w->line, BG_APTSRC_MAX);
    while (uri_n > 0 && u[uri_n - 1] == '/')
        u[--uri_n] = '\0';
    struct bg_aptsrc_entry *e = &s->e[s->n++];
    e->uri = bg_steal_ptr(&u);
    e->suite = bg_strndup(suite, suite_n);
    e->components = bg_strdup(comps);
    e->signed_by = signed_by ? bg_strdup(signed_by) : NULL;
    e->trusted = trusted;
    return 0;
}

/* ---- one-line format ---- */

static const char *skip_ws(const char *p)
{
    return p + strspn(p, " \t");
}

/* The options between '[' and ']': signed-by and trusted are kept. */
static int line_options(const char *opts, const struct where *w, char **ret_signed,
                        bool *ret_trusted, struct bg_error *err)
{
    bg_autofree char *copy = bg_strdup(opts);
    char *save = NULL;

    for (char *o = strtok_r(copy, " \t", &save); o; o = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(o, '=');
        if (!eq || eq == o)
            return bad(w, err, "a malformed option", o);
        *eq = '\0';
        if (!strcmp(o, "signed-by")) {
            free(*ret_signed);
            *ret_signed = bg_strdup(eq + 1);
        } else if (!strcmp(o, "trusted")) {
            *ret_trusted = !strcmp(eq + 1, "yes");
        }
    }
    return 0;
}

static int one_line(struct bg_aptsrc *s, const struct where *w, const char *line,
                    struct bg_error *err)
{
    const char *p = skip_ws(line);
    size_t n = strcspn(p, " \t[");
    bg_autofree char *signed_by = NULL;
    bool trusted = false, src;
    int r;

    if (n == 3 && !strncmp(p, "deb", 3))
        src = false;
    else if (n == 7 && !strncmp(p, "deb-src", 7))
        src = true;
    else
        return bad(w, err, "not a deb or deb-src line:", line);
    p = skip_ws(p + n);
    if (*p == '[') {
        const char *end = strchr(p, ']');
        if (!end)
            return bad(w, err, "an option list without ']':", line);
        bg_autofree char *opts = bg_strndup(p + 1, (size_t)(end - p - 1));
        if ((r = line_options(opts, w, &signed_by, &trusted, err)) < 0)
            return r;
        p = skip_ws(end + 1);
    }
    const char *uri = p;
    size_t uri_n = strcspn(p, " \t");
    p = skip_ws(p + uri_n);
    const char *suite = p;
    size_t suite_n = strcspn(p, " \t");
    if (!uri_n || !suite_n)
        return bad(w, err, "a line without URI and suite:", line);
    p = skip_ws(p + suite_n);
    bg_autofree char *comps = bg_strdup("");
    while (*p) {
        size_t c = strcspn(p, " \t");
        char *next = bg_asprintf("%s%s%.*s", comps, *comps ? " " : "", (int)c, p);
        free(comps);
        comps = next;
        p = skip_ws(p + c);
    }
    if (src)
        return 0;
    return add(s, w, uri, uri_n, suite, suite_n, comps, signed_by, trusted, err);
}

static int parse_list(struct bg_aptsrc *s, const char *name, const char *text, struct bg_error *err)
{
    struct where w = {name, 0};

    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        bg_autofree char *line = bg_strndup(p, n);
        w.line++;
        line[strcspn(line, "#")] = '\0';
        size_t len = strlen(line);
        while (len > 0 && strchr(" \t\r", line[len - 1]))
            line[--len] = '\0';
        if (*skip_ws(line)) {
            int r = one_line(s, &w, line, err);
            if (r < 0)
                return r;
        }
        p += n + (p[n] == '\n');
    }
    return 0;
}

/* ---- deb822 ---- */

/* The fields of one stanza that matter here; values owned, continuation lines joined. */
struct stanza {
    char *types, *uris, *suites, *components, *signed_by, *enabled, *trusted;
    bool signed_inline; /* Signed-By held a key block, not a path */
    unsigned line;      /* where it starts */
};

static void stanza_done(struct stanza *st)
{
    free(st->types);
    free(st->uris);
    free(st->suites);
    free(st->components);
    free(st->signed_by);
    free(st->enabled);
    free(st->trusted);
    memset(st, 0, sizeof(*st));
}

static char **stanza_slot(struct stanza *st, const char *field, size_t n)
{
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {"types", offsetof(struct stanza, types)},
        {"uris", offsetof(struct stanza, uris)},
        {"suites", offsetof(struct stanza, suites)},
        {"components", offsetof(struct stanza, components)},
        {"signed-by", offsetof(struct stanza, signed_by)},
        {"enabled", offsetof(struct stanza, enabled)},
        {"trusted", offsetof(struct stanza, trusted)},
    };

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (strlen(fields[i].name) == n && !strncasecmp(fields[i].name, field, n))
            return (char **)((char *)st + fields[i].off);
    return NULL;
}

/* Each URI with each suite, for a stanza of type deb. */
static int stanza_emit(struct bg_aptsrc *s, struct stanza *st, const char *name,
                       struct bg_error *err)
{
    struct where w = {name, st->line};
    bool deb = false;

    if (!st->types && !st->uris && !st->suites)
        return 0; /* only comments or unknown fields */
    for (const char *p = st->types ? st->types : ""; *p;) {
        p = skip_ws(p);
        size_t n = strcspn(p, " \t");
        deb |= n == 3 && !strncmp(p, "deb", 3);
        p += n;
    }
    if (!st->types || !st->uris || !st->suites)
        return bad(&w, err, "a stanza without Types, URIs and Suites in", name);
    if (!deb || (st->enabled && !strcasecmp(skip_ws(st->enabled), "no")))
        return 0;
    const char *signed_by = st->signed_inline || !st->signed_by ? NULL : skip_ws(st->signed_by);
    bool trusted = st->trusted && !strcasecmp(skip_ws(st->trusted), "yes");
    bg_autofree char *comps = bg_strdup("");
    for (const char *p = st->components ? st->components : ""; *(p = skip_ws(p));) {
        size_t n = strcspn(p, " \t");
        char *next = bg_asprintf("%s%s%.*s", comps, *comps ? " " : "", (int)n, p);
        free(comps);
        comps = next;
        p += n;
    }
    for (const char *u = st->uris; *(u = skip_ws(u));) {
        size_t un = strcspn(u, " \t");
        for (const char *q = st->suites; *(q = skip_ws(q));) {
            size_t qn = strcspn(q, " \t");
            int r = add(s, &w, u, un, q, qn, comps, signed_by, trusted, err);
            if (r < 0)
                return r;
            q += qn;
        }
        u += un;
    }
    return 0;
}

/* One "Field: value" or continuation line into st. */
static int stanza_line(struct stanza *st, char **last, const struct where *w, const char *line,
                       struct bg_error *err)
{
    if (line[0] == ' ' || line[0] == '\t') {
        if (!last)
            return bad(w, err, "a continuation line outside a field:", line);
        if (last == &st->signed_by) {
            st->signed_inline = true; /* a key block: apt takes it, one-line sources cannot */
            return 0;
        }
        char *next = bg_asprintf("%s %s", *last, skip_ws(line));
        free(*last);
        *last = next;
        return 0;
    }
    const char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return bad(w, err, "not a 'Field: value' line:", line);
    return 0;
}

static int parse_sources(struct bg_aptsrc *s, const char *name, const char *text,
                         struct bg_error *err)
{
    struct stanza st = {0};
    struct where w = {name, 0};
    char **last = NULL;
    int r = 0;

    for (const char *p = text; r >= 0;) {
        size_t n = strcspn(p, "\n");
        bg_autofree char *line = bg_strndup(p, n);
        bool end = !*p;
        w.line++;
        size_t len = strlen(line);
        while (len > 0 && strchr(" \t\r", line[len - 1]))
            line[--len] = '\0';
        if (end || !len) {
            r = stanza_emit(s, &st, name, err);
            stanza_done(&st);
            last = NULL;
            if (end)
                break;
        } else if (line[0] != '#') {
            if (!st.line)
                st.line = w.line;
            r = stanza_line(&st, last, &w, line, err);
            if (r >= 0 && line[0] != ' ' && line[0] != '\t') {
                const char *colon = strchr(line, ':');
                last = stanza_slot(&st, line, (size_t)(colon - line));
                if (last) {
                    free(*last);
                    *last = bg_strdup(skip_ws(colon + 1));
                    if (last == &st.signed_by)
                        st.signed_inline = false;
                }
            }
        }
        p += n + (p[n] == '\n');
    }
    stanza_done(&st);
    return r;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && !strcmp(s + n - m, suffix);
}

int bg_aptsrc_parse(struct bg_aptsrc *s, const char *name, const char *text, struct bg_error *err)
{
    if (ends_with(name, ".sources"))
        return parse_sources(s, name, text, err);
    return parse_list(s, name, text, err);
}

char *bg_aptsrc_format(const struct bg_aptsrc *s)
{
    char *out = bg_strdup("");

    for (size_t i = 0; i < s->n; i++) {
        const struct bg_aptsrc_entry *e = &s->e[i];
        bg_autofree char *opts = NULL;
        if (e->signed_by || e->trusted)
            opts = bg_asprintf(
                "[%s%s%s%s] ", e->signed_by ? "signed-by=" : "", e->signed_by ? e->signed_by : "",
                e->signed_by && e->trusted ? " " : "", e->trusted ? "trusted=yes" : "");
        char *next = bg_asprintf("%sdeb %s%s %s %s\n", out, opts ? opts : "", e->uri, e->suite,
                                 e->components);
        free(out);
        out = next;
    }
    return out;
}

char *bg_aptsrc_inrelease_url(const struct bg_aptsrc *s, size_t i)
{
    return bg_asprintf("%s/dists/%s/InRelease", s->e[i].uri, s->e[i].suite);
}

void bg_aptsrc_done(struct bg_aptsrc *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->e[i].uri);
        free(s->e[i].suite);
        free(s->e[i].components);
        free(s->e[i].signed_by);
    }
    s->n = 0;
}

int bg_aptsrc_release_date(const char *text, int64_t *ret, struct bg_error *err)
{
    const char *p = text;

    /* a clearsigned file starts with the armour header and a blank line: skip it */
    if (!strncmp(p, "-----BEGIN PGP SIGNED MESSAGE-----", 34)) {
        const char *blank = strstr(p, "\n\n");
        p = blank ? blank + 2 : p + strlen(p);
    }
    while (*p && *p != '\n') {
        size_t n = strcspn(p, "\n");
        if (n > 6 && !strncmp(p, "Date: ", 6)) {
            bg_autofree char *v = bg_strndup(p + 6, n - 6);
            struct tm tm = {0};
            const char *rest = strptime(v, "%a, %d %b %Y %H:%M:%S", &tm);
            if (!rest || (strcmp(rest, " UTC") && strcmp(rest, " +0000")))
                return bg_error_set(err, -EINVAL, "the Release file's Date '%s' does not parse",
                                    BG_QUOTE(v));
            time_t t = timegm(&tm);
            if (t < 0)
                return bg_error_set(err, -EINVAL, "the Release file's Date '%s' is before 1970",
                                    BG_QUOTE(v));
            *ret = (int64_t)t;
            return 0;
        }
        p += n + (p[n] == '\n');
    }
    return bg_error_set(err, -EINVAL, "the Release file has no Date field");
}

/* A dpkg field value fit for a "NAME VERSION" line. */
static bool plain_word(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return false;
    return true;
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *bg_aptsrc_dpkg_installed(const char *text)
{
    char **lines = NULL;
    size_t n = 0;
    bg_autofree char *name = NULL, *version = NULL;
    bool installed = false;

    for (const char *p = text;; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n')) {
        size_t len = strcspn(p, "\n");
        if (len == 0) { /* the end of a stanza, or of the text */
            if (installed && name && version && plain_word(name) && plain_word(version)) {
                lines = bg_realloc(lines, (n + 1) * sizeof(char *));
                lines[n++] = bg_asprintf("%s %s", name, version);
            }
            free(name);
            free(version);
            name = version = NULL;
            installed = false;
            if (!*p)
                break;
            continue;
        }
        bg_autofree char *line = bg_strndup(p, len);
        if (!strncmp(line, "Package: ", 9)) {
            free(name);
            name = bg_strdup(line + 9);
        } else if (!strncmp(line, "Version: ", 9)) {
            free(version);
            version = bg_strdup(line + 9);
        } else if (!strncmp(line, "Status: ", 8)) {
            installed = !strcmp(line + 8, "install ok installed");
        }
    }
    if (n)
        qsort(lines, n, sizeof(char *), cmp_lines);
    char *out = bg_strdup("");
    for (size_t i = 0; i < n; i++) {
        char *next = bg_asprintf("%s%s\n", out, lines[i]);
        free(out);
        out = next;
        free(lines[i]);
    }
    free(lines);
    return out;
}
