/* SPDX-License-Identifier: MIT */
/* banger token create --name NAME --scope S... [--expires D], token ls, token rm NAME|ID. */
#include "cmd_token.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/token.h"
#include "http.h"
#include "output.h"
#include "request.h"
#include "table.h"

/* A JSON array of strings as "a, b". */
static void join(const json_t *a, char *buf, size_t n)
{
    size_t at = 0;
    size_t i;
    json_t *v;

    buf[0] = '\0';
    json_array_foreach (a, i, v)
        at += (size_t)snprintf(buf + at, at < n ? n - at : 0, "%s%s", i ? ", " : "",
                               json_string_value(v) ? json_string_value(v) : "?");
}

static int token_create(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_auto(bg_cli_json_decrefp) json_t *body =
        json_pack("{s:s, s:o}", "name", a->name, "scopes", bg_scopes_to_json(a->scopes));
    bg_auto(bg_cli_json_decrefp) json_t *j = NULL;
    char scopes[BG_SCOPES_TEXT_MAX];

    /* set_new steals the new integer */
    if (a->given & BG_CLI_FLAG_EXPIRES)
        (void)json_object_set_new(body, "expires_in_s", json_integer((json_int_t)a->expires_s));
    int r = bg_cli_http_call(socket, "POST", "/v1/tokens", body, &j, err);
    if (r < 0)
        return r;
    if (a->json) {
        bg_cli_output_json(stdout, j);
        return 0;
    }
    const char *expires = json_string_value(json_object_get(j, "expires_at"));
    fprintf(stderr,
            "made token '%s' (id %s, scopes %s, expires %s); its secret follows, shown "
            "this once:\n",
            bg_cli_json_str(j, "name"), bg_cli_json_str(j, "id"),
            bg_scopes_format(a->scopes, scopes), expires ? expires : "never");
    /* the secret alone on stdout, so that 'banger token create ... > FILE' keeps just it */
    printf("%s\n", bg_cli_json_str(j, "secret"));
    return 0;
}

static void print_tokens(const json_t *answer)
{
    static const char *const head[] = {"ID",      "NAME",      "SCOPES", "CREATED",
                                       "EXPIRES", "LAST USED", "TOKEN"};
    bg_auto(bg_cli_table_freep) struct bg_cli_table *t = bg_cli_table_new(head, 7);
    size_t i;
    json_t *tok;

    json_array_foreach (json_object_get(answer, "tokens"), i, tok) {
        char scopes[64];
        const char *exp = json_string_value(json_object_get(tok, "expires_at"));
        const char *used = json_string_value(json_object_get(tok, "last_used_at"));
        bool expired = json_is_true(json_object_get(tok, "expired"));
        bg_autofree char *exp_text =
            bg_asprintf("%s%s", exp ? exp : "never", expired ? " (expired)" : "");
        join(json_object_get(tok, "scopes"), scopes, sizeof(scopes));
        const char *row[] = {bg_cli_json_str(tok, "id"),
                             bg_cli_json_str(tok, "name"),
                             scopes,
                             bg_cli_json_str(tok, "created_at"),
                             exp_text,
                             used ? used : "never",
                             bg_cli_json_str(tok, "masked")};
        bg_cli_table_add(t, row);
    }
    bg_cli_table_print(t, stdout);
}

/* The id of the token called (or with the id) name. */
static int find_token(const char *socket, const char *name, char id[BG_TOKEN_ID_LEN + 1],
                      struct bg_error *err)
{
    bg_auto(bg_cli_json_decrefp) json_t *j = NULL;
    int r = bg_cli_http_call(socket, "GET", "/v1/tokens", NULL, &j, err);
    size_t i;
    json_t *tok;

    if (r < 0)
        return r;
    json_array_foreach (json_object_get(j, "tokens"), i, tok) {
        const char *tid = bg_cli_json_str(tok, "id");
        if ((!strcmp(bg_cli_json_str(tok, "name"), name) || !strcmp(tid, name)) &&
            bg_token_id_valid(tid)) {
            snprintf(id, BG_TOKEN_ID_LEN + 1, "%s", tid);
            return 0;
        }
    }
    return bg_error_set(err, -ENOENT, "no token is named or has the id '%s' (banger token ls)",
                        name);
}

static int token_rm(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    char id[BG_TOKEN_ID_LEN + 1];
    int r = find_token(socket, a->name, id, err);

    if (r < 0)
        return r;
    bg_autofree char *path = bg_cli_request_path("/v1/tokens", id);
    return bg_cli_request_delete(socket, path, a->json, "token", a->name, err);
}

int bg_cli_token_run(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    switch (bg_cli_args_cmd(a)) {
    case BG_CLI_CMD_TOKEN_CREATE:
        return token_create(socket, a, err);
    case BG_CLI_CMD_TOKEN_LS:
        return bg_cli_request_print(socket, "GET", "/v1/tokens", NULL, a->json, print_tokens, err);
    default:
        return token_rm(socket, a, err);
    }
}
