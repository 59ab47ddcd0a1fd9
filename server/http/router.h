/* SPDX-License-Identifier: MIT */
/* Method + path-template routing for the v1 API, with typed path parameters. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "banger/error.h"

#define BG_ROUTE_PARAMS_MAX 4
#define BG_ROUTE_SEGMENTS_MAX 8
#define BG_ROUTE_ALLOW_MAX 64      /* the Allow list of one path */
#define BG_ROUTE_PARAM_NAME_MAX 32 /* a parameter's name in its template */

struct bg_http_request;
typedef int (*bg_http_handler)(struct bg_http_request *req);

enum bg_route_flags {
    BG_ROUTE_BODY = 1 << 0,   /* takes a JSON request body; other routes refuse one */
    BG_ROUTE_STREAM = 1 << 1, /* takes a body of any length, handed to the handler's sink as it
                               * arrives (bg_http_body_stream); the handler, called when the
                               * headers are in, checks the media type itself */
};

/* One route. path is a template of literal segments and typed parameters, "{NAME:TYPE}",
 * each matching one non-empty segment that must pass TYPE's check before any handler runs:
 *   vm         a VM name (a DNS label, bg_name_validate)
 *   image      an image name (a DNS label, bg_name_validate)
 *   exec       an exec id (bg_exec_id_valid)
 *   operation  an operation id (bg_operation_id_validate)
 *   token      a token id (bg_token_id_valid)
 * A GET route also serves HEAD (same status and headers, no body). */
struct bg_route {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* "/v1/vms/{name:vm}" */
    bg_http_handler handler;
    unsigned flags;           /* enum bg_route_flags */
    const char *const *query; /* allowed query parameters, NULL-terminated; NULL for none */
    unsigned scope;           /* what a token needs for it over TCP: one enum bg_scope bit,
                               * or BG_SCOPE_ANY; 0 (left out): not served over TCP at all */
};

/* What matching one request found. */
enum bg_route_result {
    BG_ROUTE_MATCHED,   /* route and params are set */
    BG_ROUTE_NO_PATH,   /* no template matches the path: 404 */
    BG_ROUTE_NO_METHOD, /* templates match, none with this method: 405, allow is set */
    BG_ROUTE_BAD_PARAM, /* the route matched, a parameter failed its type: 400 */
};

struct bg_route_match {
    enum bg_route_result result;
    const struct bg_route *route;            /* MATCHED and BAD_PARAM: the route */
    const char *params[BG_ROUTE_PARAMS_MAX]; /* MATCHED: parameters in template order, pointing
                                              * into the caller's scratch */
    char allow[BG_ROUTE_ALLOW_MAX];          /* NO_METHOD: "GET, HEAD, DELETE" */
    char param[BG_ROUTE_PARAM_NAME_MAX];     /* BAD_PARAM: the parameter's name ("name") */
    struct bg_error why;                     /* BAD_PARAM: what is wrong with it, for a human */
};

/* Match method and path against the table (n entries) and fill *m. scratch must hold
 * strlen(path) + 1 bytes; the parameters point into it. HEAD matches GET routes. Pure: no
 * allocation, no I/O. */
void bg_router_match(const struct bg_route *table, size_t n, const char *method, const char *path,
                     char *scratch, struct bg_route_match *m);

/* Check a route table once, before serving it: every template starts with '/', has at most
 * BG_ROUTE_SEGMENTS_MAX segments and BG_ROUTE_PARAMS_MAX parameters, each parameter has a
 * name and a known type, no two routes share a method and template, and no route is both
 * BG_ROUTE_BODY and BG_ROUTE_STREAM. Returns 0, or
 * -EINVAL with err naming the route. */
int bg_router_check(const struct bg_route *table, size_t n, struct bg_error *err);

/* The route's path as the API documents it, parameters without their types
 * ("/v1/vms/{name}"), into buf (size bytes, cut to fit). Returns buf. */
const char *bg_route_public_path(const struct bg_route *route, char *buf, size_t size);

/* True when the route answers HEAD as well as its own method (a GET route). */
bool bg_route_serves_head(const struct bg_route *route);
