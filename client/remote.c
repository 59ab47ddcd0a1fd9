/* SPDX-License-Identifier: MIT */
/* The remotes file, remote URLs and token files, and the choice of endpoint. */
#include "remote.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/fingerprint.h"
#include "banger/jsonutil.h"
#include "banger/parse.h"
#include "banger/token.h"
#include "banger/utf8.h"
#include "banger/validate.h"

void bg_cli_remotes_done(struct bg_cli_remotes *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++)
        bg_cli_remote_done(&rs->list[i]);
    free(rs->list);
    memset(rs, 0, sizeof(*rs));
}

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
}

/* HOST of a URL, n bytes at h: a name or IPv4 address, or an IPv6 one in brackets. */
static bool host_valid(const char *h, size_t n)
{
    char buf[64];
    struct in6_addr a6;

    if (n > 2 && h[0] == '[' && h[n - 1] == ']') {
        if (n - 2 >= sizeof(buf))
            return false;
        memcpy(buf, h + 1, n - 2);
        buf[n - 2] = '\0';
        return inet_pton(AF_INET6, buf, &a6) == 1;
    }
    if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!host_char(h[i]))
            return false;
    return true;
}

int bg_cli_remote_url_parse(const char *url, char **ret, struct bg_error *err)
{
    size_t len = strlen(url);

    if (strncmp(url, "https://", 8))
        return bg_error_set(err, -EINVAL,
                            "'%s' is not an https:// URL (remote daemons speak TLS only)",
                            BG_QUOTE(url));
    if (len > BG_CLI_URL_MAX)
        return bg_error_set(err, -EINVAL, "the URL is over %d bytes", BG_CLI_URL_MAX);
    const char *host = url + 8;
    size_t n = strlen(host);
    if (n > 0 && host[n - 1] == '/')
        n--;
    /* the port: digits after the last ':' outside brackets */
    const char *end = host + n, *colon = NULL;
    for (const char *p = host; p < end; p++)
        if (*p == ':' && !(host[0] == '[' && memchr(p, ']', (size_t)(end - p))))
            colon = p;
    size_t hlen = colon ? (size_t)(colon - host) : n;
    if (colon) {
        size_t plen = (size_t)(end - colon - 1);
        char port[8];
        uint64_t v;
        if (plen == 0 || plen >= sizeof(port) || strspn(colon + 1, "0123456789") < plen)
            return bg_error_set(err, -EINVAL, "'%s': the port is not a number", BG_QUOTE(url));
        memcpy(port, colon + 1, plen);
        port[plen] = '\0';
        if (bg_parse_u64(port, 1, 65535, &v, NULL) < 0)
            return bg_error_set(err, -EINVAL, "'%s': the port is not 1..65535", BG_QUOTE(url));
    }
    if (!host_valid(host, hlen))
        return bg_error_set(err, -EINVAL,
                            "'%s' is not https://HOST[:PORT] (a host name or address, an IPv6 "
                            "one in brackets, and nothing after the port)",
                            BG_QUOTE(url));
    *ret = bg_strndup(url, (size_t)(end - url));
    return 0;
}

/* obj[key] as a string without NUL bytes, or NULL when absent; -EINVAL when not a string. */
static int opt_string(const json_t *obj, const char *key, const char *remote, char **ret,
                      struct bg_error *err)
{
    const json_t *v = json_object_get(obj, key);

    *ret = NULL;
    if (!v)
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
        !json_string_length(v))
        return bg_error_set(err, -EINVAL, "remote '%s': '%s' must be a non-empty string", remote,
                            key);
    *ret = bg_strdup(json_string_value(v));
    return 0;
}

/* One remote's object into *r; r is left for bg_cli_remote_done either way. */
static int remote_parse(const char *name, const json_t *obj, struct bg_cli_remote *r,
                        struct bg_error *err)
{
    static const char *const allowed[] = {"url",         "token",      "fingerprint",
                                          "client_cert", "client_key", NULL};
    bg_autofree char *url = NULL, *fp = NULL;
    struct bg_token t;
    struct bg_error e;
    const char *bad;

    r->name = bg_strdup(name);
    if (!json_is_object(obj))
        return bg_error_set(err, -EINVAL, "remote '%s' is not an object", name);
    if ((bad = bg_json_unknown_member(obj, allowed)))
        return bg_error_set(err, -EINVAL, "remote '%s': unknown member '%s'", name, BG_QUOTE(bad));
    if (opt_string(obj, "url", name, &url, err) < 0 ||
        opt_string(obj, "token", name, &r->token, err) < 0 ||
        opt_string(obj, "fingerprint", name, &fp, err) < 0 ||
        opt_string(obj, "client_cert", name, &r->client_cert, err) < 0 ||
        opt_string(obj, "client_key", name, &r->client_key, err) < 0)
        return -EINVAL;
    if (!url || !r->token)
        return bg_error_set(err, -EINVAL, "remote '%s' needs 'url' and 'token'", name);
    if (bg_cli_remote_url_parse(url, &r->url, &e) < 0)
        return bg_error_set(err, -EINVAL, "remote '%s': %s", name, e.msg);
    if (bg_token_parse(r->token, strlen(r->token), &t, &e) < 0)
        return bg_error_set(err, -EINVAL, "remote '%s': its token is not valid: %s", name, e.msg);
    OPENSSL_cleanse(t.secret, sizeof(t.secret));
    if (fp && bg_fingerprint_parse(fp, strlen(fp), r->fingerprint, &e) < 0)
        return bg_error_set(err, -EINVAL, "remote '%s': %s", name, e.msg);
    r->pinned = fp != NULL;
    if (!r->client_cert != !r->client_key)
        return bg_error_set(err, -EINVAL, "remote '%s': 'client_cert' and 'client_key' go together",
                            name);
    return 0;
}

int bg_cli_remotes_parse(const char *text, size_t len, struct bg_cli_remotes *ret,
                         struct bg_error *err)
{
    static const char *const top[] = {"remotes", NULL};
    struct bg_cli_remotes rs = {0};
    json_t *doc = NULL;
    const char *name, *bad;
    json_t *obj;

    json_error_t jerr;

    /* jansson's own message quotes the text near the fault, which may be a token */
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return bg_error_set(err, -EINVAL, "not a JSON object (line %d, column %d)", jerr.line,
                            jerr.column);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return bg_error_set(err, -EINVAL, "not a JSON object");
    }
    const json_t *map = json_object_get(doc, "remotes");
    int r = 0;
    if ((bad = bg_json_unknown_member(doc, top)))
        r = bg_error_set(err, -EINVAL, "unknown member '%s'", BG_QUOTE(bad));
    else if (!json_is_object(map))
        r = bg_error_set(err, -EINVAL, "'remotes' must be an object of remotes by name");
    else if (json_object_size(map) > BG_CLI_REMOTES_MAX)
        r = bg_error_set(err, -EINVAL, "more than %d remotes", BG_CLI_REMOTES_MAX);
    if (r == 0) {
        rs.list = bg_calloc(json_object_size(map) + 1, sizeof(*rs.list));
        json_object_foreach ((json_t *)map, name, obj) {
            if (strlen(name) > BG_NAME_MAX || bg_name_validate(name, NULL) < 0) {
                r = bg_error_set(err, -EINVAL, "'%s' is not a remote name (a DNS label)",
                                 BG_QUOTE(name));
                break;
            }
            r = remote_parse(name, obj, &rs.list[rs.n++], err);
            if (r < 0)
                break;
        }
    }
    json_decref(doc);
    if (r < 0) {
        bg_cli_remotes_done(&rs);
        return r;
    }
    *ret = rs;
    return 0;
}

char *bg_cli_remotes_format(const struct bg_cli_remotes *rs)
{
    json_t *map = json_object();
    char hex[BG_FINGERPRINT_HEX_MAX];

    for (size_t i = 0; i < rs->n; i++) {
        const struct bg_cli_remote *r = &rs->list[i];
        json_t *o = json_pack("{s:s, s:s}", "url", r->url, "token", r->token);
        /* set_new steals the new values */
        if (r->pinned)
            (void)json_object_set_new(o, "fingerprint",
                                      json_string(bg_fingerprint_format(r->fingerprint, hex)));
        if (r->client_cert) {
            (void)json_object_set_new(o, "client_cert", json_string(r->client_cert));
            (void)json_object_set_new(o, "client_key", json_string(r->client_key));
        }
        (void)json_object_set_new(map, r->name, o);
    }
    json_t *doc = json_pack("{s:o}", "remotes", map);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    if (!text)
        abort(); /* only fails when out of memory */
    return text;
}

int bg_cli_remotes_path(char **ret, struct bg_error *err)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

    if (xdg && xdg[0] == '/') {
        *ret = bg_asprintf("%s/banger/remotes.json", xdg);
        return 0;
    }
    if (home && *home) {
        *ret = bg_asprintf("%s/.config/banger/remotes.json", home);
        return 0;
    }
    return bg_error_set(err, -ENOENT,
                        "cannot find the remotes file: neither XDG_CONFIG_HOME nor HOME is set");
}

int bg_cli_remotes_load(const char *path, struct bg_cli_remotes *ret, struct bg_error *err)
{
    bg_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;

    *ret = (struct bg_cli_remotes){0};
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0)
        return bg_error_errno(err, "open the remotes file %s", path);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > BG_CLI_REMOTES_FILE_MAX)
        return bg_error_set(err, -EINVAL, "the remotes file %s is not a file of at most %d bytes",
                            path, BG_CLI_REMOTES_FILE_MAX);
    if (st.st_mode & 077)
        return bg_error_set(err, -EPERM,
                            "the remotes file %s holds tokens but others may read it (mode %04o); "
                            "run 'chmod 600 %s'",
                            path, (unsigned)(st.st_mode & 07777), path);
    bg_autofree char *text = bg_malloc((size_t)st.st_size + 1);
    ssize_t n = read(fd, text, (size_t)st.st_size);
    if (n != st.st_size)
        return bg_error_errno(err, "read the remotes file %s", path);
    int r = bg_cli_remotes_parse(text, (size_t)n, ret, err);
    OPENSSL_cleanse(text, (size_t)n);
    return r < 0 ? bg_error_prefix(err, r, "the remotes file %s", path) : 0;
}

/* mkdir of path's directory (and its parent, ~/.config), mode 0700. */
static int make_parent(const char *path, struct bg_error *err)
{
    bg_autofree char *dir = bg_strdup(path);
    char *slash = strrchr(dir, '/');

    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    char *up = strrchr(dir, '/');
    if (up && up != dir) {
        *up = '\0';
        (void)mkdir(dir, 0700);
        *up = '/';
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return bg_error_errno(err, "create %s", dir);
    return 0;
}

int bg_cli_remotes_save(const char *path, const struct bg_cli_remotes *rs, struct bg_error *err)
{
    bg_autofree char *text = bg_cli_remotes_format(rs);
    bg_autofree char *tmp = bg_asprintf("%s.tmp.%d", path, (int)getpid());
    size_t len = strlen(text);
    int r = make_parent(path, err);

    if (r < 0)
        return r;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return bg_error_errno(err, "write the remotes file %s", tmp);
    bool ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    OPENSSL_cleanse(text, len);
    if (!ok || rename(tmp, path) < 0) {
        r = bg_error_errno(err, "write the remotes file %s", path);
        (void)unlink(tmp);
        return r;
    }
    return 0;
}

struct bg_cli_remote *bg_cli_remotes_find(const struct bg_cli_remotes *rs, const char *name)
{
    for (size_t i = 0; i < rs->n; i++)
        if (!strcmp(rs->list[i].name, name))
            return &rs->list[i];
    return NULL;
}

bool bg_cli_remotes_remove(struct bg_cli_remotes *rs, const char *name)
{
    struct bg_cli_remote *r = bg_cli_remotes_find(rs, name);

    if (!r)
        return false;
    bg_cli_remote_done(r);
    size_t i = (size_t)(r - rs->list);
    memmove(r, r + 1, (rs->n - i - 1) * sizeof(*r));
    rs->n--;
    return true;
}

void bg_cli_remotes_add_take(struct bg_cli_remotes *rs, struct bg_cli_remote *r)
{
    rs->list = bg_realloc(rs->list, (rs->n + 1) * sizeof(*rs->list));
    rs->list[rs->n++] = *r;
    memset(r, 0, sizeof(*r));
}

int bg_cli_remote_token_read(const char *path, char **ret, struct bg_error *err)
{
    bg_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    char buf[BG_CLI_TOKEN_FILE_MAX + 1];
    struct bg_token t;
    struct bg_error e;
    ssize_t n;

    if (fd < 0)
        return bg_error_errno(err, "read the token file %s", path);
    while ((n = read(fd, buf, sizeof(buf) - 1)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return bg_error_errno(err, "read the token file %s", path);
    buf[n] = '\0';
    size_t len = strcspn(buf, "\r\n");
    size_t start = strspn(buf, " \t");
    while (len > start && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
        len--;
    int r = 0;
    if (bg_token_parse(buf + start, len - start, &t, &e) < 0)
        r = bg_error_set(err, -EINVAL, "the token file %s does not hold a banger token: %s", path,
                         e.msg);
    else
        *ret = bg_strndup(buf + start, len - start);
    OPENSSL_cleanse(buf, sizeof(buf));
    OPENSSL_cleanse(t.secret, sizeof(t.secret));
    return r;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

/* BANGER_HOST and its companions into *ret. */
static int resolve_host(const char *host, struct bg_cli_remote *ret, struct bg_error *err)
{
    const char *token = env_nonempty("BANGER_TOKEN"), *fp = env_nonempty("BANGER_FINGERPRINT");
    const char *cert = env_nonempty("BANGER_CLIENT_CERT"), *key = env_nonempty("BANGER_CLIENT_KEY");
    struct bg_token t;
    struct bg_error e;

    if (bg_cli_remote_url_parse(host, &ret->url, &e) < 0)
        return bg_error_set(err, -EINVAL, "BANGER_HOST: %s", e.msg);
    ret->name = bg_strdup("");
    if (!token)
        return bg_error_set(err, -EINVAL,
                            "BANGER_HOST needs BANGER_TOKEN, a token from 'banger token create'");
    if (bg_token_parse(token, strlen(token), &t, &e) < 0)
        return bg_error_set(err, -EINVAL, "BANGER_TOKEN: %s", e.msg);
    OPENSSL_cleanse(t.secret, sizeof(t.secret));
    ret->token = bg_strdup(token);
    if (fp && bg_fingerprint_parse(fp, strlen(fp), ret->fingerprint, &e) < 0)
        return bg_error_set(err, -EINVAL, "BANGER_FINGERPRINT: %s", e.msg);
    ret->pinned = fp != NULL;
    if (!cert != !key)
        return bg_error_set(err, -EINVAL, "BANGER_CLIENT_CERT and BANGER_CLIENT_KEY go together");
    ret->client_cert = cert ? bg_strdup(cert) : NULL;
    ret->client_key = key ? bg_strdup(key) : NULL;
    return 0;
}

/* The remote called name in the remotes file into *ret. */
static int resolve_named(const char *name, const char *origin, struct bg_cli_remote *ret,
                         struct bg_error *err)
{
    bg_auto(bg_cli_remotes_done) struct bg_cli_remotes rs = {0};
    bg_autofree char *path = NULL;
    int r = bg_cli_remotes_path(&path, err);

    if (r < 0 || (r = bg_cli_remotes_load(path, &rs, err)) < 0)
        return r;
    struct bg_cli_remote *found = bg_cli_remotes_find(&rs, name);
    if (!found)
        return bg_error_set(err, -ENOENT,
                            "%s: no remote named '%s' (banger remote ls lists them; banger "
                            "remote add makes one)",
                            origin, BG_QUOTE(name));
    *ret = *found;
    memset(found, 0, sizeof(*found));
    return 0;
}

int bg_cli_remote_resolve(const struct bg_cli_args *a, struct bg_cli_remote *ret,
                          struct bg_error *err)
{
    const char *host = env_nonempty("BANGER_HOST"), *named = env_nonempty("BANGER_REMOTE");
    int r;

    *ret = (struct bg_cli_remote){0};
    if (a->socket || a->system)
        return 0;
    if (a->remote)
        r = resolve_named(a->remote, "--remote", ret, err);
    else if (host)
        r = resolve_host(host, ret, err);
    else if (named)
        r = resolve_named(named, "BANGER_REMOTE", ret, err);
    else
        return 0;
    if (r < 0) {
        bg_cli_remote_done(ret);
        return r;
    }
    return 1;
}
