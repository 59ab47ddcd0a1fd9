/* SPDX-License-Identifier: MIT */
/* `banger events [--since SEQ]`. */
#pragma once

#include "args.h"
#include "banger/error.h"

/* Stream GET /v1/events to stdout, one line per event as it arrives: the raw JSON line with
 * --json, else "SEQ  TIME  TYPE  SUBJECT". Returns when the daemon ends the stream. */
int bg_cli_events_run(const char *socket, const struct bg_cli_args *a, struct bg_error *err);

/* Format one NDJSON event line for humans into a new string; a line that is not an event
 * object comes back unchanged. Caller frees. */
char *bg_cli_events_format(const char *line, size_t len);
