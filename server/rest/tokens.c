/* SPDX-License-Identifier: MIT */
/* POST /v1/tokens, GET /v1/tokens, GET and DELETE /v1/tokens/{id}. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "banger/log.h"
#include "banger/timefmt.h"
#include "banger/token.h"
#include "rest/daemon.h"
#include "rest/errors.h"
#include "rest/handlers.h"

static json_t *time_or_null(int64_t t)
{
    char buf[BG_TIME_STR_MAX];

    return t > 0 ? json_string(bg_time_format(t, buf)) : json_null();
}

/* What the API shows of a token: never its secret, nor its hash. */
static json_t *token_json(const struct bg_store_token *t, int64_t now)
{
    char masked[BG_TOKEN_MASKED_LEN + 1], created[BG_TIME_STR_MAX];

    /* "o" steals the new references */
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:b}", "id", t->id, "name", t->name,
                     "masked", bg_token_mask(t->id, masked), "scopes", bg_scopes_to_json(t->scopes),
                     "created_at", bg_time_format(t->created_at, created), "expires_at",
                     time_or_null(t->expires_at), "last_used_at", time_or_null(t->last_used_at),
                     "expired", t->expires_at > 0 && now >= t->expires_at);
}

/* Decode the body; replies and returns < 0 on a refusal. */
static int decode_request(struct bg_http_request *req, struct bg_token_request *ret, int *ret_mhd)
{
    struct bg_field_error f;
    struct bg_error err;
    json_t *body;

    if (bg_http_body_object(req, &body, ret_mhd) < 0)
        return -1;
    int r = bg_token_request_decode(body, ret, &f, &err);
    json_decref(body);
    if (r < 0) {
        *ret_mhd = bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
        return -1;
    }
    return 0;
}

int bg_handle_tokens_create(struct bg_http_request *req)
{
    struct bg_daemon *d = bg_rest_daemon(req);
    const struct bg_http_principal *who = req->principal;
    struct bg_token_request rq;
    struct bg_store_token row;
    char text[BG_TOKEN_LEN + 1], want[BG_SCOPES_TEXT_MAX], have[BG_SCOPES_TEXT_MAX];
    struct bg_error err;
    int mhd;

    if (decode_request(req, &rq, &mhd) < 0)
        return mhd;
    /* a token hands on only what it holds: an admin token cannot mint an exec one */
    if (rq.scopes & ~who->scopes)
        return bg_http_reply_problem(req, BG_PROBLEM_INSUFFICIENT_SCOPE, "scopes",
                                     "a token can only grant scopes it holds: asked for %s, "
                                     "this one holds %s",
                                     bg_scopes_format(rq.scopes, want),
                                     bg_scopes_format(who->scopes, have));
    int64_t now = time(NULL);
    if (bg_auth_token_create(d->auth, &rq, now, &row, text, &err) < 0)
        return bg_rest_reply_error(req, &err, BG_REST_TOKEN, BG_PROBLEM_INTERNAL,
                                   err.code == -EEXIST ? "name" : NULL);
    bg_log_info("create token '%s' (id %s, scopes %s) for %s", row.name, row.id,
                bg_scopes_format(row.scopes, want), who->remote ? who->name : "the socket's owner");
    json_t *j = token_json(&row, now);
    /* set_new steals the string; the secret is shown this once */
    (void)json_object_set_new(j, "secret", json_string(text));
    sodium_memzero(text, sizeof(text));
    char location[64];
    snprintf(location, sizeof(location), "/v1/tokens/%s", row.id);
    return bg_http_reply_json_located(req, MHD_HTTP_CREATED, j, location);
}

int bg_handle_tokens_list(struct bg_http_request *req)
{
    struct bg_store_token *rows = NULL;
    struct bg_error err;
    size_t n = 0;
    int64_t now = time(NULL);

    if (bg_store_token_list(bg_rest_daemon(req)->store, &rows, &n, &err) < 0)
        return bg_rest_reply_error(req, &err, BG_REST_NONE, BG_PROBLEM_INTERNAL, NULL);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        (void)json_array_append_new(list, token_json(&rows[i], now));
    free(rows);
    return bg_http_reply_json(req, MHD_HTTP_OK, json_pack("{s:o}", "tokens", list));
}

int bg_handle_tokens_get(struct bg_http_request *req)
{
    struct bg_store_token row;
    struct bg_error err;

    /* the router checked the id's form */
    if (bg_store_token_get(bg_rest_daemon(req)->store, req->params[0], &row, &err) < 0)
        return bg_rest_reply_error(req, &err, BG_REST_TOKEN, BG_PROBLEM_INTERNAL, NULL);
    return bg_http_reply_json(req, MHD_HTTP_OK, token_json(&row, time(NULL)));
}

int bg_handle_tokens_delete(struct bg_http_request *req)
{
    const struct bg_http_principal *who = req->principal;
    struct bg_error err;

    if (bg_store_token_delete(bg_rest_daemon(req)->store, req->params[0], &err) < 0)
        return bg_rest_reply_error(req, &err, BG_REST_TOKEN, BG_PROBLEM_INTERNAL, NULL);
    bg_log_info("revoke token %s for %s", req->params[0],
                who->remote ? who->name : "the socket's owner");
    return bg_http_reply_empty(req, MHD_HTTP_NO_CONTENT);
}
