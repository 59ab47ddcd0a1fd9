/* SPDX-License-Identifier: MIT */
/* Image job records: the image and its operation in the store, from start to end. */
#include "image/record.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/problem.h"
#include "store/store.h"

#define RECOVER_OPS_MAX 10000

void bg_image_op_init(struct bg_operation *op, const char *kind, const char *name, const char *unit,
                      uint64_t total)
{
    unsigned char rnd[8];

    randombytes_buf(rnd, sizeof(rnd));
    memcpy(op->id, "op-", 3);
    sodium_bin2hex(op->id + 3, sizeof(op->id) - 3, rnd, sizeof(rnd));
    snprintf(op->kind, sizeof(op->kind), "%s", kind);
    snprintf(op->target, sizeof(op->target), "/v1/images/%s", name);
    snprintf(op->unit, sizeof(op->unit), "%s", unit);
    op->state = BG_OPERATION_STATE_RUNNING;
    op->total = total;
    op->created_at = op->updated_at = time(NULL);
}

int bg_image_op_record(struct bg_store *store, const struct bg_image *img,
                       const struct bg_operation *op, struct bg_error *err)
{
    int r = bg_store_image_insert(store, img, NULL, err);

    if (r == -EEXIST)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_IMAGE_EXISTS),
                            "an image named '%s' already exists; remove it first or choose "
                            "another name",
                            img->name);
    if (r >= 0 && (r = bg_store_op_insert(store, op, NULL, err)) < 0)
        (void)bg_store_image_delete(store, img->name, NULL, NULL);
    return r;
}

void bg_image_op_update(struct bg_store *store, struct bg_operation *op)
{
    struct bg_error err;

    op->updated_at = time(NULL);
    if (bg_store_op_update(store, op, NULL, &err) < 0)
        bg_log_warn("update operation '%s': %s", op->id, err.msg);
}

void bg_image_op_settle(struct bg_store *store, struct bg_image *img, struct bg_operation *op,
                        const struct bg_error *failure)
{
    struct bg_error err;

    if (failure) {
        img->state = BG_IMAGE_STATE_FAILED;
        img->error = bg_strdup(failure->msg);
        op->state = BG_OPERATION_STATE_FAILED;
        op->error = bg_problem_to_json(BG_PROBLEM_INTERNAL, failure->msg, op->target);
    } else {
        img->state = BG_IMAGE_STATE_READY;
        op->state = BG_OPERATION_STATE_SUCCEEDED;
        op->done = op->total;
        op->result = bg_image_to_json(img);
    }
    if (bg_store_image_update(store, img, NULL, &err) < 0)
        bg_log_error("%s image '%s': %s", op->kind, img->name, err.msg);
}

int bg_image_recover(struct bg_store *store, struct bg_error *err)
{
    static const char why[] = "bangerd restarted while this operation ran; remove the image "
                              "and import or build it again";
    struct bg_image *imgs;
    struct bg_operation *ops;
    size_t n;
    int r;

    if ((r = bg_store_image_list(store, &imgs, &n, err)) < 0)
        return r;
    for (size_t i = 0; i < n && r >= 0; i++)
        if (imgs[i].state == BG_IMAGE_STATE_IMPORTING) {
            imgs[i].state = BG_IMAGE_STATE_FAILED;
            imgs[i].error = bg_strdup(why);
            r = bg_store_image_update(store, &imgs[i], NULL, err);
        }
    bg_store_images_free(imgs, n);
    if (r < 0 || (r = bg_store_op_list(store, RECOVER_OPS_MAX, &ops, &n, err)) < 0)
        return r;
    for (size_t i = 0; i < n && r >= 0; i++)
        if (ops[i].state == BG_OPERATION_STATE_RUNNING) {
            ops[i].state = BG_OPERATION_STATE_FAILED;
            ops[i].error = bg_problem_to_json(BG_PROBLEM_INTERNAL, why, ops[i].target);
            ops[i].updated_at = time(NULL);
            r = bg_store_op_update(store, &ops[i], NULL, err);
        }
    bg_store_ops_free(ops, n);
    return r < 0 ? r : 0;
}
