/* SPDX-License-Identifier: MIT */
/* A column-aligned text table: a header row, then rows, printed with two spaces between columns. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "banger/macro.h"

#define BG_CLI_TABLE_COLS_MAX 16

struct bg_cli_table;

/* A new table with ncols (1..BG_CLI_TABLE_COLS_MAX) columns titled headers[0..ncols-1]
 * (copied). Aborts on out-of-memory; asserts ncols is in range. */
struct bg_cli_table *bg_cli_table_new(const char *const headers[], size_t ncols);

/* Append a row of ncols cells (copied; NULL prints as "-"). Control characters in a cell
 * are shown as '?', so nothing the daemon sends can drive the terminal. */
void bg_cli_table_add(struct bg_cli_table *t, const char *const cells[]);

/* Print the header and every row to f. Each column is as wide as its widest cell in
 * characters (UTF-8 aware); the last column carries no trailing spaces. */
void bg_cli_table_print(const struct bg_cli_table *t, FILE *f);

/* Free t and its cells; NULL is fine. */
void bg_cli_table_free(struct bg_cli_table *t);
void bg_cli_table_freep(struct bg_cli_table **t);
