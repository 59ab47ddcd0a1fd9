/* SPDX-License-Identifier: MIT */
/* The serialized GET /v1/vms body, cached until the next state change. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/vm.h"
#include "store/store.h"

/* An immutable, reference-counted byte string. */
struct bg_blob {
    int refs;    /* atomic; the blob frees itself at zero */
    size_t len;  /* bytes in data, without the terminator */
    char data[]; /* NUL-terminated */
};

void bg_blob_unref(void *blob);

struct bg_vmlist;

struct bg_vmlist *bg_vmlist_new(void);
void bg_vmlist_free(struct bg_vmlist *c);

/* The body {"vms":[...]} for state (NULL: all VMs) as of event seq. The unfiltered body is
 * served from the cache while seq is unchanged. *ret carries one reference for the caller. */
int bg_vmlist_get(struct bg_vmlist *c, struct bg_store *s, int64_t seq,
                  const enum bg_vm_state *state, struct bg_blob **ret, struct bg_error *err);
