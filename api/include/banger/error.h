/* SPDX-License-Identifier: MIT */
/* One error pattern everywhere: a negative code returned, a human message alongside. */
#pragma once

#include <stdbool.h>

#include "banger/macro.h"
#include "banger/problem.h"

#define BG_ERROR_MSG_MAX 512

/* banger's own failure codes: a state of one of its objects that no errno names (a VM that
 * is not running, an image that is not ready). Such a code is the API problem it becomes,
 * negative like an errno value and far below every errno, so the two never meet:
 * bg_error_set(err, BG_ERR(BG_PROBLEM_VM_NOT_FOUND), "no VM named '%s'", name). */
#define BG_ERR_BASE 100000
#define BG_ERR(problem) (-(BG_ERR_BASE + (int)(problem)))

/* True when code is a BG_ERR() code; *ret_problem (may be NULL) is then its problem. */
BG_PUBLIC bool bg_error_is_problem(int code, enum bg_problem *ret_problem);

/* Filled only on failure. code equals the negative errno (or BG_ERR code) returned. msg is
 * always well-formed UTF-8, cut on a character boundary: it may go into JSON and log lines. */
struct bg_error {
    int code;                   /* negative errno or BG_ERR() code */
    char msg[BG_ERROR_MSG_MAX]; /* human-readable, no trailing newline */
};

/* Record code (a negative errno or BG_ERR code) and a message; returns code. err may be NULL. */
BG_PUBLIC int bg_error_set(struct bg_error *err, int code, const char *fmt, ...) BG_PRINTF(3, 4);
/* Like bg_error_set with code = -errno and ": strerror" appended; returns -errno. */
BG_PUBLIC int bg_error_errno(struct bg_error *err, const char *fmt, ...) BG_PRINTF(2, 3);
/* Prepend "context: " to the message of a failure with code (what the failing call returned)
 * and return code, so the caller's code survives whether err is NULL or not. */
BG_PUBLIC int bg_error_prefix(struct bg_error *err, int code, const char *fmt, ...) BG_PRINTF(3, 4);
