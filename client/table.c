/* SPDX-License-Identifier: MIT */
/* Column-aligned table printer used by every human-readable listing of the CLI. */
#include "table.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include "banger/alloc.h"

struct bg_cli_table {
    size_t ncols;
    size_t nrows; /* including the header row */
    char **cells; /* nrows * ncols owned strings, row-major */
};

/* A copy of s with control characters replaced by '?'. */
static char *cell_dup(const char *s)
{
    char *c = bg_strdup(s ? s : "-");

    for (char *p = c; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return c;
}

/* Display width of UTF-8 s: its code points, counting no continuation byte. */
static size_t text_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

struct bg_cli_table *bg_cli_table_new(const char *const headers[], size_t ncols)
{
    struct bg_cli_table *t = bg_calloc(1, sizeof(*t));

    assert(ncols > 0 && ncols <= BG_CLI_TABLE_COLS_MAX);
    t->ncols = ncols;
    bg_cli_table_add(t, headers);
    return t;
}

void bg_cli_table_add(struct bg_cli_table *t, const char *const cells[])
{
    t->cells = bg_realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
    for (size_t c = 0; c < t->ncols; c++)
        t->cells[t->nrows * t->ncols + c] = cell_dup(cells[c]);
    t->nrows++;
}

void bg_cli_table_print(const struct bg_cli_table *t, FILE *f)
{
    size_t width[BG_CLI_TABLE_COLS_MAX] = {0};

    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t w = text_width(t->cells[r * t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            bool last = c + 1 == t->ncols;
            fputs(cell, f);
            if (!last)
                fprintf(f, "%*s", (int)(width[c] - text_width(cell) + 2), "");
        }
        fputc('\n', f);
    }
}

void bg_cli_table_free(struct bg_cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

void bg_cli_table_freep(struct bg_cli_table **t)
{
    bg_cli_table_free(*t);
}
