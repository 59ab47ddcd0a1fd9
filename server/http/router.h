/* SPDX-License-Identifier: MIT */
/* Method + path-template routing for the v1 API. */
#pragma once

#include <stddef.h>

#define BG_ROUTE_PARAMS_MAX 4
#define BG_ROUTE_SEGMENTS_MAX 8

struct bg_http_request;
typedef int (*bg_http_handler)(struct bg_http_request *req);

enum bg_route_flags {
    BG_ROUTE_BODY = 1 << 0, /* takes a JSON request body */
};

struct bg_route {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* "/v1/vms/{name}": {x} matches one non-empty segment */
    bg_http_handler handler;
    unsigned flags;           /* enum bg_route_flags */
    const char *const *query; /* allowed query parameters, NULL-terminated; NULL for none */
};

/* Find the route for method and path in the table (n entries). On a match returns it and
 * fills params (pointers into scratch, which must hold strlen(path)+1 bytes). Otherwise
 * returns NULL and writes into allow (size allow_len) the methods that the path does
 * accept, comma-separated ("" when the path matches no route at all). */
const struct bg_route *bg_router_match(const struct bg_route *table, size_t n, const char *method,
                                       const char *path, char *scratch,
                                       const char *params[BG_ROUTE_PARAMS_MAX], char *allow,
                                       size_t allow_len);
