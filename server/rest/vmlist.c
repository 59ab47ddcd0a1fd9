/* SPDX-License-Identifier: MIT */
/* GET /v1/vms body cache: rebuilt only when the event seq moves, so a poll costs a memcpy. */
#include "rest/vmlist.h"

#include <pthread.h>
#include <string.h>

#include "banger/alloc.h"

struct bg_vmlist {
    pthread_mutex_t lock;
    struct bg_blob *body; /* unfiltered body, or NULL */
    int64_t seq;          /* the event seq body reflects */
};

static struct bg_blob *blob_ref(struct bg_blob *b)
{
    __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
    return b;
}

void bg_blob_unref(void *blob)
{
    struct bg_blob *b = blob;
    if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(b);
}

struct bg_vmlist *bg_vmlist_new(void)
{
    struct bg_vmlist *c = bg_calloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->seq = -1;
    return c;
}

void bg_vmlist_free(struct bg_vmlist *c)
{
    if (!c)
        return;
    bg_blob_unref(c->body);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static int build(struct bg_store *s, const enum bg_vm_state *state, struct bg_blob **ret,
                 struct bg_error *err)
{
    struct bg_vm *vms;
    size_t n;
    int r = bg_store_vm_list(s, state, &vms, &n, err);
    if (r < 0)
        return r;

    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, bg_vm_to_json(&vms[i]));
    free(vms);
    json_t *body = json_pack("{s:o}", "vms", list);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        abort();

    size_t len = strlen(text);
    struct bg_blob *b = bg_malloc(sizeof(*b) + len + 1);
    b->refs = 1;
    b->len = len;
    memcpy(b->data, text, len + 1);
    free(text);
    *ret = b;
    return 0;
}

int bg_vmlist_get(struct bg_vmlist *c, struct bg_store *s, int64_t seq,
                  const enum bg_vm_state *state, struct bg_blob **ret, struct bg_error *err)
{
    if (state)
        return build(s, state, ret, err);

    pthread_mutex_lock(&c->lock);
    if (!c->body || c->seq != seq) {
        struct bg_blob *b;
        int r = build(s, NULL, &b, err);
        if (r < 0) {
            pthread_mutex_unlock(&c->lock);
            return r;
        }
        bg_blob_unref(c->body);
        c->body = b;
        c->seq = seq;
    }
    *ret = blob_ref(c->body);
    pthread_mutex_unlock(&c->lock);
    return 0;
}
