/* SPDX-License-Identifier: MIT */
/* The request-and-print steps every command repeats: resource paths, GET/DELETE and show. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "banger/error.h"

/* Prints a command's answer in human form (borrowed for the call). */
typedef void (*bg_cli_print_fn)(const json_t *answer);

/* "<collection>/<name>" with name percent-encoded as one path segment, e.g.
 * bg_cli_request_path("/v1/vms", "web1"); caller frees. */
char *bg_cli_request_path(const char *collection, const char *name);

/* Print answer: pretty JSON on stdout when as_json, else through print. */
void bg_cli_request_output(bool as_json, const json_t *answer, bg_cli_print_fn print);

/* bg_cli_http_call(socket, method, path, body), then bg_cli_request_output of the answer.
 * Returns 0, or the errors of bg_cli_http_call. */
int bg_cli_request_print(const char *socket, const char *method, const char *path, json_t *body,
                         bool as_json, bg_cli_print_fn print, struct bg_error *err);

/* DELETE path; unless as_json prints "deleted <kind> '<name>'". Returns 0, or the errors of
 * bg_cli_http_call. */
int bg_cli_request_delete(const char *socket, const char *path, bool as_json, const char *kind,
                          const char *name, struct bg_error *err);
