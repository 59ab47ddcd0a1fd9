/* SPDX-License-Identifier: MIT */
/* The exec request: strict decoding of POST /v1/vms/{name}/exec bodies, its limits, and the
 * lossy UTF-8 text of collected output. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/problem.h"

#define BG_EXEC_ARGV_MAX 4096            /* strings in "cmd" */
#define BG_EXEC_ENV_MAX 1024             /* members of "env" */
#define BG_EXEC_ENV_NAME_MAX 255         /* bytes of one variable name */
#define BG_EXEC_TIMEOUT_MAX 86400        /* seconds; 0 means no timeout */
#define BG_EXEC_OUTPUT_MAX (1024 * 1024) /* bytes of stdout (and of stderr) kept by one-shot */
#define BG_EXEC_ID_LEN 21                /* "exec-" + 16 lowercase hex digits */
#define BG_EXEC_UPGRADE_PROTOCOL "banger-exec/1"

/* A validated exec request. Every pointer is owned; release with bg_exec_request_done. */
struct bg_exec_request {
    char **argv;        /* the command, NULL-terminated, argc >= 1 strings */
    size_t argc;        /* 1..BG_EXEC_ARGV_MAX */
    char **env;         /* "NAME=value" strings, NULL-terminated (empty list when none) */
    size_t envc;        /* 0..BG_EXEC_ENV_MAX */
    char *cwd;          /* absolute normalised path, or NULL for the agent's default */
    bool tty;           /* run under a pseudo-terminal */
    bool attach_stdin;  /* "stdin": the caller sends stdin (upgraded stream only) */
    uint32_t timeout_s; /* 0..BG_EXEC_TIMEOUT_MAX; 0: no limit */
};

/* Decode body strictly: unknown members, wrong types, an empty or oversized "cmd", bad
 * variable names, a relative "cwd" and out-of-range "timeout_s" are refused with -EINVAL,
 * f naming the problem and field, err saying what is wrong. On success *ret is filled. */
BG_PUBLIC int bg_exec_request_decode(const json_t *body, struct bg_exec_request *ret,
                                     struct bg_field_error *f, struct bg_error *err);

/* Free what r owns and zero it. Accepts a zeroed or half-built request. */
BG_PUBLIC void bg_exec_request_done(struct bg_exec_request *r);

/* The request as its JSON body (new reference); the inverse of bg_exec_request_decode. */
BG_PUBLIC json_t *bg_exec_request_to_json(const struct bg_exec_request *r);

/* True when name is a valid environment variable name: [A-Za-z_][A-Za-z0-9_]*, at most
 * BG_EXEC_ENV_NAME_MAX bytes. */
BG_PUBLIC bool bg_exec_env_name_valid(const char *name, size_t len);

/* True when id looks like an exec id: "exec-" and 16 lowercase hex digits. */
BG_PUBLIC bool bg_exec_id_valid(const char *id);

/* buf (len bytes) as a JSON string (new reference): valid UTF-8 is kept as it is, every
 * invalid sequence becomes U+FFFD. NUL bytes are kept (JSON "\u0000"). */
BG_PUBLIC json_t *bg_exec_text_lossy(const void *buf, size_t len);
