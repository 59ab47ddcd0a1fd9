/* SPDX-License-Identifier: MIT */
/* Firecracker's HTTP API over its unix socket, with libcurl: one request at a time. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "banger/error.h"

#define BG_FCAPI_BODY_MAX 65536 /* bytes of a response body we keep */

/* An API client for one socket. */
struct bg_fcapi;

/* A client for the API socket at sock_path (copied). timeout_ms bounds each request. */
struct bg_fcapi *bg_fcapi_new(const char *sock_path, int timeout_ms);
/* Accepts NULL. */
void bg_fcapi_free(struct bg_fcapi *a);
void bg_fcapi_freep(struct bg_fcapi **a);

/* Send method path with body (borrowed; NULL: no body). 2xx gives 0 and, when ret_body is
 * not NULL, the parsed JSON body in *ret_body (NULL for 204 or an empty body; new reference).
 * A 4xx/5xx gives -EINVAL (400) or -EIO with err holding "METHOD PATH: HTTP n: <fault_message>".
 * A transport failure gives -ECONNREFUSED (nothing listens), -ETIMEDOUT or -EIO. */
int bg_fcapi_call(struct bg_fcapi *a, const char *method, const char *path, const json_t *body,
                  json_t **ret_body, struct bg_error *err);

/* Shorthand for PUT path with body. */
int bg_fcapi_put(struct bg_fcapi *a, const char *path, const json_t *body, struct bg_error *err);
