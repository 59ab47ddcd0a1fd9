/* SPDX-License-Identifier: MIT */
/* The TOML-subset configuration line format: open, read a line, take it apart. */
#include "banger/kvfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/utf8.h"

const char *bg_kv_type_name(enum bg_kv_type t)
{
    return t == BG_KV_INTEGER ? "an integer" : t == BG_KV_BOOL ? "a boolean" : "a string";
}

int bg_kv_file_open(const char *path, FILE **ret, struct bg_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;

    if (fd < 0)
        return bg_error_errno(err, "open %s", path);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > BG_KV_FILE_MAX) {
        (void)close(fd);
        return bg_error_set(err, -EINVAL, "%s is not a regular file of at most %d bytes", path,
                            BG_KV_FILE_MAX);
    }
    if (!(*ret = fdopen(fd, "r"))) {
        int r = bg_error_errno(err, "open %s", path);
        (void)close(fd);
        return r;
    }
    return 0;
}

int bg_kv_line_read(FILE *f, char *buf, size_t size, struct bg_error *err)
{
    size_t n = 0;
    int c;

    while ((c = getc(f)) != EOF && c != '\n') {
        if (n == size - 1)
            return bg_error_set(err, -E2BIG, "line is longer than %d bytes", BG_KV_LINE_MAX);
        if (c == '\0')
            return bg_error_set(err, -EINVAL, "line contains a NUL byte");
        buf[n++] = (char)c;
    }
    if (c == EOF && ferror(f))
        return bg_error_errno(err, "read");
    if (c == EOF && n == 0)
        return 0;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return 1;
}

static const char *skip_blank(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static bool is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* A double-quoted string at *pp; advances *pp past the closing quote. */
static int string_parse(const char **pp, char **ret, struct bg_error *err)
{
    const char *p = *pp + 1;
    bg_autofree char *out = bg_malloc(strlen(p) + 1);
    size_t n = 0;

    for (; *p != '"'; p++) {
        if (*p == '\0' || (*p == '\\' && p[1] == '\0'))
            return bg_error_set(err, -EINVAL, "unterminated string");
        if (*p == '\\' && p[1] != '"' && p[1] != '\\')
            return bg_error_set(err, -EINVAL,
                                "unsupported escape '\\%c' (only \\\" and \\\\ are allowed)", p[1]);
        if (*p == '\\')
            p++;
        else if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return bg_error_set(err, -EINVAL, "control character in string");
        out[n++] = *p;
    }
    out[n] = '\0';
    if (!bg_utf8_valid(out, n))
        return bg_error_set(err, -EINVAL, "string is not valid UTF-8");
    *pp = p + 1;
    *ret = bg_steal_ptr(&out);
    return 0;
}

/* The value at p, then nothing but blanks and an optional comment. */
static int value_parse(const char *p, struct bg_kv_line *l, struct bg_error *err)
{
    bg_autofree char *text = NULL;
    int r;

    if (*p == '"') {
        if ((r = string_parse(&p, &text, err)) < 0)
            return r;
        l->type = BG_KV_STRING;
    } else {
        size_t n = strcspn(p, " \t#");
        if (n == 0)
            return bg_error_set(err, -EINVAL, "missing value after '='");
        text = bg_strndup(p, n);
        p += n;
        if (!strcmp(text, "true") || !strcmp(text, "false"))
            l->type = BG_KV_BOOL;
        else if ((text[0] >= '0' && text[0] <= '9') || strchr("+-", text[0]))
            l->type = BG_KV_INTEGER;
        else
            return bg_error_set(err, -EINVAL,
                                "'%s' is not a string, integer or boolean (quote strings)",
                                BG_QUOTE(text));
    }
    p = skip_blank(p);
    if (*p && *p != '#')
        return bg_error_set(err, -EINVAL, "unexpected '%s' after the value", BG_QUOTE(p));
    l->text = bg_steal_ptr(&text);
    return 0;
}

int bg_kv_line_parse(const char *line, struct bg_kv_line *ret, struct bg_error *err)
{
    struct bg_kv_line l = {0};
    const char *p = skip_blank(line), *name = p;

    if (*p == '\0' || *p == '#') {
        ret->empty = true;
        ret->text = NULL;
        return 0;
    }
    if (*p == '[')
        return bg_error_set(err, -EINVAL,
                            "sections like '%s' are not supported; write every key at the top "
                            "level",
                            BG_QUOTE(p));
    while (is_key_char(*p))
        p++;
    size_t len = (size_t)(p - name);
    if (len == 0)
        return bg_error_set(err, -EINVAL, "malformed line, expected 'key = value'");
    if (len > BG_KV_KEY_MAX)
        return bg_error_set(err, -EINVAL, "key is longer than %d bytes", BG_KV_KEY_MAX);
    memcpy(l.key, name, len);
    p = skip_blank(p);
    if (*p != '=')
        return bg_error_set(err, -EINVAL, "key '%s': expected '=' after the key", l.key);
    int r = value_parse(skip_blank(p + 1), &l, err);
    if (r < 0)
        return bg_error_prefix(err, r, "key '%s'", l.key);
    *ret = l;
    return 0;
}

void bg_kv_line_done(struct bg_kv_line *l)
{
    free(l->text);
    l->text = NULL;
}
