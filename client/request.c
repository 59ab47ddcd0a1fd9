/* SPDX-License-Identifier: MIT */
/* Request-and-print helpers shared by the command files of the CLI. */
#include "request.h"

#include <stdio.h>

#include "banger/alloc.h"
#include "http.h"
#include "output.h"

char *bg_cli_request_path(const char *collection, const char *name)
{
    bg_autofree char *esc = bg_cli_http_escape(name);

    return bg_asprintf("%s/%s", collection, esc);
}

void bg_cli_request_output(bool as_json, const json_t *answer, bg_cli_print_fn print)
{
    if (as_json)
        bg_cli_output_json(stdout, answer);
    else
        print(answer);
}

int bg_cli_request_print(const char *socket, const char *method, const char *path, json_t *body,
                         bool as_json, bg_cli_print_fn print, struct bg_error *err)
{
    bg_auto(bg_cli_json_decrefp) json_t *j = NULL;
    int r = bg_cli_http_call(socket, method, path, body, &j, err);

    if (r < 0)
        return r;
    bg_cli_request_output(as_json, j, print);
    return 0;
}

int bg_cli_request_delete(const char *socket, const char *path, bool as_json, const char *kind,
                          const char *name, struct bg_error *err)
{
    int r = bg_cli_http_call(socket, "DELETE", path, NULL, NULL, err);

    if (r < 0)
        return r;
    if (!as_json)
        printf("deleted %s '%s'\n", kind, name);
    return 0;
}
