/* SPDX-License-Identifier: MIT */
/* banger vm cp: host paths archived with libarchive and unpacked by the guest's tar (PUT), the
 * guest's archive unpacked on the host (GET), both streamed; "-" is a tar on stdin or stdout.
 * A directory destination takes the source under its own name; any other destination names
 * the copy (its parent directory must exist), as cp does. */
#include "cmd_cp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/utf8.h"
#include "cptar.h"
#include "http.h"
#include "output.h"
#include "xfer.h"

#define TAR_TYPE "application/x-tar"
#define STDIO_BLOCK (64 * 1024)

/* "NAME:PATH" into ret->vm and ret->guest: 1 when arg is one, 0 when it is a host path. */
static int split_remote(const char *arg, struct bg_cli_cp *ret, struct bg_error *err)
{
    const char *colon = strchr(arg, ':');
    size_t n = colon ? (size_t)(colon - arg) : 0;
    char name[BG_NAME_MAX + 2];

    /* a ':' after a '/' belongs to a host path (./a:b) */
    if (!colon || n == 0 || memchr(arg, '/', n))
        return 0;
    if (n > BG_NAME_MAX)
        return bg_error_set(err, -EINVAL, "'%s' is not NAME:PATH: the VM name is too long",
                            BG_QUOTE(arg));
    memcpy(name, arg, n);
    name[n] = '\0';
    int r = bg_name_validate(name, err);
    if (r < 0)
        return bg_error_prefix(err, r,
                               "'%s' is not NAME:PATH (write a host path that holds ':' as "
                               "./PATH)",
                               BG_QUOTE(arg));
    if (colon[1] != '/')
        return bg_error_set(err, -EINVAL, "the guest path in '%s' must be absolute (NAME:/PATH)",
                            BG_QUOTE(arg));
    memcpy(ret->vm, name, n + 1);
    ret->guest = colon + 1;
    return 1;
}

int bg_cli_cp_parse(const char *src, const char *dst, struct bg_cli_cp *ret, struct bg_error *err)
{
    struct bg_cli_cp c = {0}, other = {0};
    int rs, rd;

    if ((rs = split_remote(src, &c, err)) < 0 || (rd = split_remote(dst, &other, err)) < 0)
        return -EINVAL;
    if (rs && rd)
        return bg_error_set(err, -EINVAL,
                            "copy between a VM and the host: only one of SRC and DST is "
                            "NAME:PATH");
    if (!rs && !rd)
        return bg_error_set(err, -EINVAL,
                            "one of SRC and DST must be NAME:PATH, a path in a VM (write a host "
                            "path that holds ':' as ./PATH)");
    if (rd)
        c = other;
    c.upload = rd;
    c.host = rd ? src : dst;
    if (!*c.host)
        return bg_error_set(err, -EINVAL, "the host path is empty");
    c.stdio = !strcmp(c.host, "-");
    *ret = c;
    return 0;
}

static char *files_path(const char *vm, const char *guest)
{
    bg_autofree char *v = bg_cli_http_escape(vm);
    bg_autofree char *g = bg_cli_http_escape(guest);

    return bg_asprintf("/v1/vms/%s/files?path=%s", v, g);
}

static bool ends_with_slash(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && s[n - 1] == '/';
}

/* The last component of p (no trailing '/'), and p's parent, as new strings. */
static void split_last(const char *p, char **ret_parent, char **ret_last)
{
    bg_autofree char *s = bg_strdup(p);
    size_t n = strlen(s);

    while (n > 1 && s[n - 1] == '/')
        s[--n] = '\0';
    char *slash = strrchr(s, '/');
    *ret_last = bg_strdup(slash ? slash + 1 : s);
    if (!slash)
        *ret_parent = bg_strdup(".");
    else if (slash == s)
        *ret_parent = bg_strdup("/");
    else
        *ret_parent = bg_strndup(s, (size_t)(slash - s));
}

/* --- upload --- */

static int sink_xfer(void *cls, const void *buf, size_t len, struct bg_error *err)
{
    return bg_cli_xfer_send(cls, buf, len, err);
}

/* Whether guest path is a directory in VM vm (a one-shot `test -d` there). */
static int guest_is_dir(const char *socket, const char *vm, const char *path, bool *ret,
                        struct bg_error *err)
{
    bg_autofree char *esc = bg_cli_http_escape(vm);
    bg_autofree char *url = bg_asprintf("/v1/vms/%s/exec", esc);
    bg_auto(bg_cli_json_decrefp) json_t *body =
        json_pack("{s:[s,s,s,s,s]}", "cmd", "sh", "-c", "test -d \"$1\"", "sh", path);
    bg_auto(bg_cli_json_decrefp) json_t *res = NULL;
    int r = bg_cli_http_call(socket, "POST", url, body, &res, err);

    if (r < 0)
        return r;
    json_t *code = json_object_get(res, "exit_code");
    *ret = json_is_integer(code) && json_integer_value(code) == 0;
    return 0;
}

/* Where an upload goes: the directory to unpack into and the name its top entry takes. */
static int upload_target(const char *socket, const struct bg_cli_cp *c, const char *top,
                         char **ret_dir, char **ret_name, struct bg_error *err)
{
    bool is_dir = ends_with_slash(c->guest);
    int r;

    if (!is_dir && (r = guest_is_dir(socket, c->vm, c->guest, &is_dir, err)) < 0)
        return r;
    if (is_dir) {
        *ret_dir = bg_strdup(c->guest);
        *ret_name = bg_strdup(top);
        return 0;
    }
    split_last(c->guest, ret_dir, ret_name);
    return 0;
}

/* Send stdin (a tar archive) as the body. */
static int send_stdin(struct bg_cli_xfer *x, struct bg_error *err)
{
    bg_autofree char *buf = bg_malloc(STDIO_BLOCK);
    ssize_t n;
    int r;

    while ((n = read(STDIN_FILENO, buf, STDIO_BLOCK)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bg_error_errno(err, "read stdin");
        if ((r = bg_cli_xfer_send(x, buf, (size_t)n, err)) < 0)
            return r;
    }
    return 0;
}

static int upload(const char *socket, const struct bg_cli_cp *c, bool json, struct bg_error *err)
{
    bg_auto(bg_cli_xfer_freep) struct bg_cli_xfer *x = NULL;
    bg_auto(bg_cli_json_decrefp) json_t *res = NULL;
    bg_autofree char *dir = NULL;
    bg_autofree char *name = NULL;
    char top[NAME_MAX + 1];
    struct stat st;
    struct bg_error send_err;
    int r;

    if (!c->stdio) {
        if (lstat(c->host, &st) < 0)
            return bg_error_errno(err, "'%s'", BG_QUOTE(c->host));
        if ((r = bg_cli_tar_top_name(c->host, top, sizeof(top), err)) < 0 ||
            (r = upload_target(socket, c, top, &dir, &name, err)) < 0)
            return r;
    }
    bg_autofree char *path = files_path(c->vm, dir ? dir : c->guest);
    if ((r = bg_cli_xfer_start(socket, "PUT", path, TAR_TYPE, &x, err)) < 0)
        return r;
    r = c->stdio ? send_stdin(x, &send_err)
                 : bg_cli_tar_write(c->host, name, sink_xfer, x, NULL, &send_err);
    /* a refusal (-EPIPE: the daemon answered early) is told by the answer; any other failure
     * cuts the transfer off, so that the guest never takes half an archive as whole */
    int f = bg_cli_xfer_finish(x, r < 0 && r != -EPIPE, &res, err);
    if (r < 0 && r != -EPIPE) {
        *err = send_err;
        return r;
    }
    if (f < 0)
        return f;
    if (json)
        bg_cli_output_json(stdout, res);
    return 0;
}

/* --- download --- */

static ssize_t source_xfer(void *cls, void *buf, size_t len, struct bg_error *err)
{
    return bg_cli_xfer_recv(cls, buf, len, err);
}

/* Where a download goes: the host directory and the name the top entry takes there. */
static int download_target(const struct bg_cli_cp *c, const char *top, char **ret_dir,
                           char **ret_name, struct bg_error *err)
{
    struct stat st;

    if (ends_with_slash(c->host) && mkdir(c->host, 0777) < 0 && errno != EEXIST)
        return bg_error_errno(err, "create '%s'", BG_QUOTE(c->host));
    if (stat(c->host, &st) == 0 && S_ISDIR(st.st_mode)) {
        *ret_dir = bg_strdup(c->host);
        *ret_name = bg_strdup(top);
        return 0;
    }
    split_last(c->host, ret_dir, ret_name);
    if (stat(*ret_dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return bg_error_set(err, -ENOENT, "no directory '%s' to copy into", BG_QUOTE(*ret_dir));
    return 0;
}

/* Write the archive to stdout. */
static int recv_stdout(struct bg_cli_xfer *x, struct bg_error *err)
{
    bg_autofree char *buf = bg_malloc(STDIO_BLOCK);
    ssize_t n;

    while ((n = bg_cli_xfer_recv(x, buf, STDIO_BLOCK, err)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return bg_error_errno(err, "write stdout");
            off += w;
        }
    return (int)n;
}

static int download(const char *socket, const struct bg_cli_cp *c, struct bg_error *err)
{
    bg_auto(bg_cli_xfer_freep) struct bg_cli_xfer *x = NULL;
    bg_autofree char *dir = NULL;
    bg_autofree char *name = NULL;
    bg_autofree char *guest_parent = NULL;
    bg_autofree char *top = NULL;
    bg_autofree char *path = files_path(c->vm, c->guest);
    int r;

    split_last(c->guest, &guest_parent, &top);
    if (!c->stdio && (r = download_target(c, top, &dir, &name, err)) < 0)
        return r;
    if ((r = bg_cli_xfer_start(socket, "GET", path, NULL, &x, err)) < 0)
        return r;
    if (c->stdio)
        return recv_stdout(x, err);
    return bg_cli_tar_extract(source_xfer, x, dir, top, name, NULL, err);
}

int bg_cli_cp_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    struct bg_cli_cp c;
    int r = bg_cli_cp_parse(a->src, a->dst, &c, err);

    if (r < 0)
        return r;
    return c.upload ? upload(socket, &c, a->json, err) : download(socket, &c, err);
}
