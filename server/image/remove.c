/* SPDX-License-Identifier: MIT */
/* Image removal: refused while a job owns the image or VMs use it. */
#include "image/remove.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "banger/image.h"
#include "image/build.h"
#include "store/store.h"

int bg_image_remove(const struct bg_image_ctx *ctx, const char *name, struct bg_error *err)
{
    struct bg_image img = {0};
    int r = bg_store_image_get(ctx->store, name, &img, err);

    if (r < 0)
        return r;
    enum bg_image_state state = img.state;
    bool built = img.source && !strcmp(img.source, BG_IMAGE_SOURCE_BUILD);
    bg_image_done(&img);
    if (state == BG_IMAGE_STATE_IMPORTING)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_IMAGE_NOT_READY),
                            "image '%s' is still importing; remove it once its operation has "
                            "finished",
                            name);
    if ((r = bg_store_image_delete(ctx->store, name, NULL, err)) == -EBUSY) {
        char users[BG_ERROR_MSG_MAX] = "";
        if (err) /* the store's message names the VMs */
            memcpy(users, err->msg, sizeof(users));
        return bg_error_set(err, BG_ERR(BG_PROBLEM_IMAGE_IN_USE), "%s; remove those VMs first",
                            users);
    }
    if (r < 0)
        return r;
    if (built) /* bangerd made those files; imported ones stay the user's */
        bg_imagebuild_remove_files(ctx->state_dir, name);
    return 0;
}
