/* SPDX-License-Identifier: MIT */
/* Fuzz the root helper's request decoder: every refusal encodes, every accepted request
 * encodes again and decodes the same. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banger/helperproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bg_helper_request r, again;
    struct bg_error err;
    char *text = NULL;
    size_t len;

    if (bg_helper_request_decode(data, size, &r, &err) < 0) {
        json_t *s = json_string(err.msg);
        if (!s)
            abort();
        json_decref(s);
        return 0;
    }
    if (bg_helper_request_encode(&r, &text, &len, &err) < 0 ||
        bg_helper_request_decode(text, len, &again, &err) < 0)
        abort();
    if (again.op != r.op || again.n_guests != r.n_guests || again.n_vms != r.n_vms ||
        strcmp(again.vm, r.vm) || again.pid != r.pid)
        abort();
    free(text);
    bg_helper_request_done(&again);
    bg_helper_request_done(&r);
    return 0;
}
