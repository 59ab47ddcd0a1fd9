/* SPDX-License-Identifier: MIT */
#include "cmd_doctor.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "banger/utf8.h"
#include "http.h"
#include "output.h"

#define DOCTOR_TEXT_MAX 1024

/* s clipped into buf, with control characters as '?', so a row cannot drive the terminal. */
static const char *printable(const char *s, char buf[DOCTOR_TEXT_MAX])
{
    bg_utf8_clip(buf, DOCTOR_TEXT_MAX, s);
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return buf;
}

int bg_cli_doctor_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_auto(bg_cli_json_decrefp) json_t *j = NULL;
    int r = bg_cli_http_call(socket, "GET", "/v1/system/doctor", NULL, &j, err);
    json_t *summary, *checks, *c;
    size_t i;

    if (r < 0)
        return r;
    summary = json_object_get(j, "summary");
    if (a->json) {
        bg_cli_output_json(stdout, j);
    } else {
        checks = json_object_get(j, "checks");
        json_array_foreach (checks, i, c) {
            char name[DOCTOR_TEXT_MAX], detail[DOCTOR_TEXT_MAX], fix[DOCTOR_TEXT_MAX];
            const char *status = bg_cli_json_str(c, "status");
            printf("%-4s  %-20s %s\n", status, printable(bg_cli_json_str(c, "name"), name),
                   printable(bg_cli_json_str(c, "detail"), detail));
            if (json_is_string(json_object_get(c, "fix")))
                printf("      %-20s %s\n", !strcmp(status, "FAIL") ? "fix:" : "hint:",
                       printable(bg_cli_json_str(c, "fix"), fix));
        }
        printf("\n%" PRIu64 " passed, %" PRIu64 " warnings, %" PRIu64 " failed\n",
               bg_cli_json_u64(summary, "pass"), bg_cli_json_u64(summary, "warn"),
               bg_cli_json_u64(summary, "fail"));
    }
    return bg_cli_json_u64(summary, "fail") > 0 ? 1 : 0;
}
