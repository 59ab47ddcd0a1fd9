/* SPDX-License-Identifier: MIT */
/* banger remote add NAME URL --token-file F [--fingerprint FP | --accept-certificate]
 * [--client-cert F --client-key K], remote ls, remote rm NAME. */
#include "cmd_remote.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/fingerprint.h"
#include "banger/token.h"
#include "http.h"
#include "output.h"
#include "remote.h"
#include "table.h"

/* path made absolute, so the remote works from any directory. */
static int absolute(const char *path, char **ret, struct bg_error *err)
{
    char buf[PATH_MAX];

    if (!realpath(path, buf))
        return bg_error_errno(err, "'%s'", path);
    *ret = bg_strdup(buf);
    return 0;
}

/* Ask on the terminal whether to trust fp; true on "y" or "yes". */
static bool confirm(void)
{
    char line[16] = "";

    fputs("Pin this certificate and add the remote? [y/N] ", stderr);
    if (!fgets(line, sizeof(line), stdin))
        return false;
    line[strcspn(line, "\n")] = '\0';
    return !strcasecmp(line, "y") || !strcasecmp(line, "yes");
}

/* Incus-style trust on first use: what the server shows must match --fingerprint, or be
 * accepted by --accept-certificate or on the terminal. */
static int decide_pin(const struct bg_cli_args *a, const char *url,
                      const struct bg_cli_tls_seen *seen, struct bg_error *err)
{
    char hex[BG_FINGERPRINT_HEX_MAX], want_hex[BG_FINGERPRINT_HEX_MAX];
    uint8_t want[BG_FINGERPRINT_BYTES];

    bg_fingerprint_format(seen->fingerprint, hex);
    if (a->fingerprint) {
        (void)bg_fingerprint_parse(a->fingerprint, strlen(a->fingerprint), want, NULL);
        if (memcmp(want, seen->fingerprint, sizeof(want)))
            return bg_error_set(err, -EPERM,
                                "the server at %s presented a certificate with SHA-256 %s, not "
                                "the %s of --fingerprint; nothing was sent and nothing added",
                                url, hex, bg_fingerprint_format(want, want_hex));
        return 0;
    }
    fprintf(stderr, "The certificate of %s has the SHA-256 fingerprint\n  %s\n", url, hex);
    fprintf(stderr, "(compare it with the 'tls' fingerprint of 'banger system info' on that "
                    "host).\n");
    if (a->given & BG_CLI_FLAG_ACCEPT_CERT)
        return 0;
    if (isatty(STDIN_FILENO) && isatty(STDERR_FILENO)) {
        if (confirm())
            return 0;
        return bg_error_set(err, -ECANCELED, "not added: the certificate was not accepted");
    }
    return bg_error_set(err, -EPERM,
                        "cannot ask whether to trust it without a terminal: pass --fingerprint "
                        "%s after checking it, or --accept-certificate",
                        hex);
}

/* The remote a describes, before its certificate is known. */
static int candidate(const struct bg_cli_args *a, struct bg_cli_remote *c, struct bg_error *err)
{
    int r;

    c->name = bg_strdup(a->name);
    if ((r = bg_cli_remote_url_parse(a->url, &c->url, err)) < 0 ||
        (r = bg_cli_remote_token_read(a->token_file, &c->token, err)) < 0)
        return r;
    if (a->client_cert && ((r = absolute(a->client_cert, &c->client_cert, err)) < 0 ||
                           (r = absolute(a->client_key, &c->client_key, err)) < 0))
        return bg_error_prefix(err, r, "client certificate");
    return 0;
}

/* Pin what the server shows, then check the token against it (any valid token may ask for
 * the version). */
static int contact(const struct bg_cli_args *a, struct bg_cli_remote *c, struct bg_error *err)
{
    struct bg_cli_tls_seen seen;
    int r = bg_cli_http_probe(c, &seen, err);

    if (r < 0 || (r = decide_pin(a, c->url, &seen, err)) < 0)
        return r;
    c->pinned = true;
    memcpy(c->fingerprint, seen.fingerprint, sizeof(c->fingerprint));
    bg_cli_http_use_remote(c);
    r = bg_cli_http_call(c->url, "GET", "/v1/system/version", NULL, NULL, err);
    bg_cli_http_use_remote(NULL);
    return r < 0 ? bg_error_prefix(err, r, "the daemon at %s refused the token", c->url) : 0;
}

static int remote_add(const struct bg_cli_args *a, struct bg_error *err)
{
    bg_auto(bg_cli_remotes_done) struct bg_cli_remotes rs = {0};
    bg_auto(bg_cli_remote_done) struct bg_cli_remote c = {0};
    bg_autofree char *path = NULL;
    char hex[BG_FINGERPRINT_HEX_MAX];
    int r;

    if ((r = bg_cli_remotes_path(&path, err)) < 0 || (r = bg_cli_remotes_load(path, &rs, err)) < 0)
        return r;
    const struct bg_cli_remote *old = bg_cli_remotes_find(&rs, a->name);
    if (old)
        return bg_error_set(err, -EEXIST,
                            "a remote named '%s' exists (%s); 'banger remote rm %s' first", a->name,
                            old->url, a->name);
    if (rs.n == BG_CLI_REMOTES_MAX)
        return bg_error_set(err, -ENOSPC, "at most %d remotes", BG_CLI_REMOTES_MAX);
    if ((r = candidate(a, &c, err)) < 0 || (r = contact(a, &c, err)) < 0)
        return r;
    bg_fingerprint_format(c.fingerprint, hex);
    bg_autofree char *url = bg_strdup(c.url);
    bg_cli_remotes_add_take(&rs, &c);
    if ((r = bg_cli_remotes_save(path, &rs, err)) < 0)
        return r;
    if (a->json) {
        json_t *j = json_pack("{s:s, s:s, s:s}", "name", a->name, "url", url, "fingerprint", hex);
        bg_cli_output_json(stdout, j);
        json_decref(j);
    } else {
        printf("added remote '%s' (%s, certificate SHA-256 %s pinned)\n", a->name, url, hex);
    }
    return 0;
}

/* What ls shows of r: never its token, only the masked form. */
static json_t *remote_json(const struct bg_cli_remote *r)
{
    char hex[BG_FINGERPRINT_HEX_MAX], masked[BG_TOKEN_MASKED_LEN + 1];
    struct bg_token t = {0};

    (void)bg_token_parse(r->token, strlen(r->token), &t, NULL);
    json_t *j = json_pack("{s:s, s:s, s:s}", "name", r->name, "url", r->url, "token",
                          bg_token_mask(t.id, masked));
    /* set_new steals the new values */
    (void)json_object_set_new(j, "fingerprint",
                              r->pinned ? json_string(bg_fingerprint_format(r->fingerprint, hex))
                                        : json_null());
    (void)json_object_set_new(j, "client_cert",
                              r->client_cert ? json_string(r->client_cert) : json_null());
    return j;
}

static int remote_ls(const struct bg_cli_args *a, struct bg_error *err)
{
    static const char *const head[] = {"NAME", "URL", "FINGERPRINT", "TOKEN", "CLIENT CERT"};
    bg_auto(bg_cli_remotes_done) struct bg_cli_remotes rs = {0};
    bg_auto(bg_cli_json_decrefp) json_t *list = json_array();
    bg_autofree char *path = NULL;
    int r;

    if ((r = bg_cli_remotes_path(&path, err)) < 0 || (r = bg_cli_remotes_load(path, &rs, err)) < 0)
        return r;
    for (size_t i = 0; i < rs.n; i++)
        (void)json_array_append_new(list, remote_json(&rs.list[i]));
    if (a->json) {
        json_t *j = json_pack("{s:O}", "remotes", list);
        bg_cli_output_json(stdout, j);
        json_decref(j);
        return 0;
    }
    bg_auto(bg_cli_table_freep) struct bg_cli_table *t = bg_cli_table_new(head, 5);
    size_t i;
    json_t *o;
    json_array_foreach (list, i, o) {
        const char *fp = json_string_value(json_object_get(o, "fingerprint"));
        const char *cert = json_string_value(json_object_get(o, "client_cert"));
        const char *row[] = {bg_cli_json_str(o, "name"), bg_cli_json_str(o, "url"),
                             fp ? fp : "(system CAs)", bg_cli_json_str(o, "token"),
                             cert ? cert : "-"};
        bg_cli_table_add(t, row);
    }
    bg_cli_table_print(t, stdout);
    return 0;
}

static int remote_rm(const struct bg_cli_args *a, struct bg_error *err)
{
    bg_auto(bg_cli_remotes_done) struct bg_cli_remotes rs = {0};
    bg_autofree char *path = NULL;
    int r;

    if ((r = bg_cli_remotes_path(&path, err)) < 0 || (r = bg_cli_remotes_load(path, &rs, err)) < 0)
        return r;
    if (!bg_cli_remotes_remove(&rs, a->name))
        return bg_error_set(err, -ENOENT, "no remote named '%s' (banger remote ls)", a->name);
    if ((r = bg_cli_remotes_save(path, &rs, err)) < 0)
        return r;
    if (!a->json)
        printf("removed remote '%s'\n", a->name);
    return 0;
}

int bg_cli_remote_run(const struct bg_cli_args *a, struct bg_error *err)
{
    switch (bg_cli_args_cmd(a)) {
    case BG_CLI_CMD_REMOTE_ADD:
        return remote_add(a, err);
    case BG_CLI_CMD_REMOTE_LS:
        return remote_ls(a, err);
    default:
        return remote_rm(a, err);
    }
}
