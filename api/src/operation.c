/* SPDX-License-Identifier: MIT */
/* Operation resource codec. */
#include "banger/operation.h"

#include <errno.h>
#include <string.h>

#include "banger/timefmt.h"

static const char *const state_names[BG_OPERATION_STATE_COUNT_] = {
    [BG_OPERATION_STATE_RUNNING] = "running",
    [BG_OPERATION_STATE_SUCCEEDED] = "succeeded",
    [BG_OPERATION_STATE_FAILED] = "failed",
};

const char *bg_operation_state_name(enum bg_operation_state s)
{
    return s < BG_OPERATION_STATE_COUNT_ ? state_names[s] : "failed";
}

int bg_operation_state_parse(const char *s, enum bg_operation_state *ret)
{
    for (int i = 0; i < BG_OPERATION_STATE_COUNT_; i++)
        if (!strcmp(s, state_names[i])) {
            *ret = (enum bg_operation_state)i;
            return 0;
        }
    return -EINVAL;
}

int bg_operation_id_validate(const char *id)
{
    if (strncmp(id, "op-", 3) != 0 || strlen(id) != 19)
        return 0;
    for (const char *p = id + 3; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

void bg_operation_done(struct bg_operation *op)
{
    json_decref(op->error);
    json_decref(op->result);
    op->error = op->result = NULL;
}

json_t *bg_operation_to_json(const struct bg_operation *op)
{
    char created[BG_TIME_STR_MAX], updated[BG_TIME_STR_MAX];

    /* "O" takes a new reference, so op keeps its own. */
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:I, s:I, s:s}, s:O, s:O, s:s, s:s}", "id", op->id, "kind",
        op->kind, "target", op->target, "state", bg_operation_state_name(op->state), "progress",
        "done", (json_int_t)op->done, "total", (json_int_t)op->total, "unit", op->unit, "error",
        op->error ? op->error : json_null(), "result", op->result ? op->result : json_null(),
        "created_at", bg_time_format(op->created_at, created), "updated_at",
        bg_time_format(op->updated_at, updated));

    /* step is optional: present only when the job says what it is doing */
    json_t *progress = json_object_get(j, "progress");
    if (op->step[0])
        json_object_set_new(progress, "step", json_string(op->step));
    /* and so is what the step itself counts (bytes downloaded, packages set up) */
    if (op->step_unit[0]) {
        json_object_set_new(progress, "step_done", json_integer((json_int_t)op->step_done));
        json_object_set_new(progress, "step_total", json_integer((json_int_t)op->step_total));
        json_object_set_new(progress, "step_unit", json_string(op->step_unit));
    }
    return j;
}
