/* SPDX-License-Identifier: MIT */
/* A single self-updating progress line on a terminal, silent when the stream is not a TTY. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BG_CLI_PROGRESS_MAX 160

/* Caller-owned progress state; set up with bg_cli_progress_init. */
struct bg_cli_progress {
    FILE *f;        /* where the line goes (stderr) */
    bool tty;       /* draw only on a terminal */
    bool drawn;     /* a line is on screen and must be cleared */
    unsigned width; /* the terminal's columns (80 when it does not say) */
};

/* What an operation's "progress" says. Strings borrowed, NULL when absent. */
struct bg_cli_progress_state {
    uint64_t done, total;           /* in unit (total 0: unknown) */
    const char *unit;               /* "bytes" or "steps" */
    const char *step;               /* what it is doing now */
    uint64_t step_done, step_total; /* the step's own count, in step_unit */
    const char *step_unit;          /* "bytes", "packages" or NULL: the step counts nothing */
};

/* The progress line of s for a terminal width columns wide, never longer than width - 1:
 *   steps: "building dev  [8/10] rootfs: download packages [####-----] 45% 41.2/87.4 MiB 1:07"
 *   bytes: "importing base [#######---------] 45% 120.0/266.3 MiB 0:12"
 * The bar is left out when it would be narrower than 10 columns, the elapsed time when
 * elapsed_s < 0. With width 0 only the text before the bar: what a log line says. */
char *bg_cli_progress_line(const char *verb, const char *name,
                           const struct bg_cli_progress_state *s, int64_t elapsed_s, unsigned width,
                           char buf[BG_CLI_PROGRESS_MAX]);

/* "importing NAME  45% 120.0/266.3 MiB" into buf (both amounts in total's unit); with
 * total 0, "importing NAME  120.0 MiB". Returns buf. */
char *bg_cli_progress_format(const char *verb, const char *name, uint64_t done, uint64_t total,
                             char buf[BG_CLI_PROGRESS_MAX]);

/* Start drawing on f if it is a terminal. */
void bg_cli_progress_init(struct bg_cli_progress *p, FILE *f);
/* Redraw the line in place. */
void bg_cli_progress_update(struct bg_cli_progress *p, const char *verb, const char *name,
                            uint64_t done, uint64_t total);
/* Redraw the line in place with text as given (cut at BG_CLI_PROGRESS_MAX). */
void bg_cli_progress_update_text(struct bg_cli_progress *p, const char *text);
/* Erase the line, so what follows starts on a clean row. */
void bg_cli_progress_done(struct bg_cli_progress *p);
