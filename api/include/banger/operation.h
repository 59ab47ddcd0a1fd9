/* SPDX-License-Identifier: MIT */
/* The operation resource: a job that takes seconds or more, with progress. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "banger/macro.h"

#define BG_OPERATION_ID_MAX 24 /* "op-" + 16 hex + NUL, with room */

enum bg_operation_state {
    BG_OPERATION_STATE_RUNNING,
    BG_OPERATION_STATE_SUCCEEDED,
    BG_OPERATION_STATE_FAILED,
    BG_OPERATION_STATE_COUNT_,
};

/* An operation record. Release with bg_operation_done(). */
struct bg_operation {
    char id[BG_OPERATION_ID_MAX]; /* "op-" + 16 lowercase hex */
    char kind[32];                /* "image_import", "image_build" */
    char target[128];             /* API path of what it works on, "/v1/images/base" */
    enum bg_operation_state state;
    uint64_t done;       /* progress so far, in unit */
    uint64_t total;      /* expected total, in unit (0 when unknown) */
    char unit[16];       /* "bytes" or "steps" */
    char step[96];       /* what it is doing now, for humans ("unpack"); "" when not told */
    uint64_t step_done;  /* progress of the step itself, in step_unit */
    uint64_t step_total; /* the step's expected total, in step_unit (0 when unknown) */
    char step_unit[16];  /* "bytes" or "packages"; "" when the step counts nothing */
    json_t *error;       /* problem object when failed, owned; NULL otherwise */
    json_t *result;      /* result object when succeeded, owned; NULL otherwise */
    int64_t created_at;
    int64_t updated_at;
};

BG_PUBLIC const char *bg_operation_state_name(enum bg_operation_state s);
BG_PUBLIC int bg_operation_state_parse(const char *s, enum bg_operation_state *ret);
/* True for syntactically valid ids ("op-" + 16 lowercase hex). */
BG_PUBLIC int bg_operation_id_validate(const char *id);
BG_PUBLIC void bg_operation_done(struct bg_operation *op);
/* The wire form of op (new reference). */
BG_PUBLIC json_t *bg_operation_to_json(const struct bg_operation *op);
