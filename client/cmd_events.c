/* SPDX-License-Identifier: MIT */
/* Follows the daemon's event stream and prints each event the moment it arrives. */
#include "cmd_events.h"

#include <inttypes.h>

#include "banger/alloc.h"
#include "http.h"
#include "output.h"

char *bg_cli_events_format(const char *line, size_t len)
{
    bg_auto(bg_cli_json_decrefp) json_t *ev = json_loadb(line, len, 0, NULL);

    if (!json_is_object(ev))
        return bg_strndup(line, len);
    return bg_asprintf("%-6" PRIu64 "  %s  %-17s  %s", bg_cli_json_u64(ev, "seq"),
                       bg_cli_json_str(ev, "time"), bg_cli_json_str(ev, "type"),
                       bg_cli_json_str(ev, "subject"));
}

static int on_line(const char *line, size_t len, void *userdata)
{
    const struct bg_cli_args *a = userdata;

    if (len == 0)
        return 0; /* a blank line carries no event */
    if (a->json) {
        fwrite(line, 1, len, stdout);
        fputc('\n', stdout);
    } else {
        bg_autofree char *text = bg_cli_events_format(line, len);
        puts(text);
    }
    /* flush per event: a pipe reader must see it now, not when a buffer fills */
    fflush(stdout);
    return 0;
}

int bg_cli_events_run(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_autofree char *path = a->given & BG_CLI_FLAG_SINCE
                                 ? bg_asprintf("/v1/events?since=%" PRIu64, a->since)
                                 : bg_strdup("/v1/events");

    return bg_cli_http_stream(socket, path, on_line, (void *)a, err);
}
