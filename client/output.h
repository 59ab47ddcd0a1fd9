/* SPDX-License-Identifier: MIT */
/* Shared rendering for the CLI: --json printing, sizes, ages, and safe JSON field access. */
#pragma once

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define BG_CLI_TEXT_MAX 64

/* Print j pretty (2-space indent) with a trailing newline to f. */
void bg_cli_output_json(FILE *f, const json_t *j);

/* "512 B", "120.0 KiB", "266.3 MiB", "1.5 GiB" into buf; returns buf. */
char *bg_cli_output_size(uint64_t bytes, char buf[BG_CLI_TEXT_MAX]);

/* How long before now the RFC 3339 UTC time ts was: "just now", "42s ago", "5m ago", "3h ago",
 * "12d ago". ts that does not parse is copied as it is ("-" for NULL). Returns buf. */
char *bg_cli_output_age(const char *ts, time_t now, char buf[BG_CLI_TEXT_MAX]);

/* The string member key of object o, or "-" when absent, null or not a string (borrowed). */
const char *bg_cli_json_str(const json_t *o, const char *key);

/* The integer member key of o, or 0 when absent or not a non-negative integer. */
uint64_t bg_cli_json_u64(const json_t *o, const char *key);

/* "on"/"off" for the boolean member key of o. */
const char *bg_cli_json_onoff(const json_t *o, const char *key);

/* One "key:  value" line of a show command, the key padded to a fixed column. */
void bg_cli_output_field(FILE *f, const char *key, const char *value);

/* The "created:  <created_at> (<age>)" line of a show command for object o. */
void bg_cli_output_created(FILE *f, const json_t *o);

/* Cleanup for bg_auto: json_decref(*j). */
void bg_cli_json_decrefp(json_t **j);
