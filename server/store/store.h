/* SPDX-License-Identifier: MIT */
/* bangerd's SQLite store: images, VMs, operations, events, leases, tokens; migrations. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/image.h"
#include "banger/operation.h"
#include "banger/token.h"
#include "banger/vm.h"

/* The schema version this build writes (PRAGMA user_version). */
#define BG_STORE_SCHEMA_VERSION 7
/* Events kept by default; older ones are pruned as new ones arrive. */
#define BG_STORE_EVENT_HISTORY_DEFAULT 10000
/* Ended operations kept by default; older ones are pruned as new operations start. */
#define BG_STORE_OPERATION_HISTORY_DEFAULT 1000

struct bg_store;

enum bg_store_mode {
    BG_STORE_READ_WRITE, /* create the file if absent, migrate to BG_STORE_SCHEMA_VERSION */
    BG_STORE_READ_ONLY,  /* never create, never migrate */
};

/* A stored event: one state change. */
struct bg_event {
    int64_t seq;       /* strictly increasing, never reused */
    int64_t time;      /* seconds since the epoch */
    char type[32];     /* "vm.created", "image.updated", "operation.updated", ... */
    char subject[160]; /* API path of the object, "/v1/vms/web1" */
    char *data;        /* JSON text of the object (or {"name":..} on delete), owned */
};

/* Called after each committed change with the new event's seq (from the writing thread, after
 * the store's lock is released, so it may call into the store). Concurrent writers may report
 * their seqs out of order: treat seq as "everything up to here is committed". */
typedef void (*bg_store_event_hook)(void *userdata, int64_t seq);

/* Open the database at path. Read-write creates it (mode 0600) and migrates; WAL, foreign
 * keys and a busy timeout are set. Refusals: -EPROTO when the file's schema is newer than
 * this build (or, read-only, older: it needs migrating), -EBADMSG when the file is not a
 * banger database or is corrupt, -ENOENT read-only and absent. Never recreates a file. */
int bg_store_open(const char *path, enum bg_store_mode mode, struct bg_store **ret,
                  struct bg_error *err);
void bg_store_close(struct bg_store *s);
void bg_store_closep(struct bg_store **s);

int bg_store_schema_version(struct bg_store *s);
void bg_store_set_event_history(struct bg_store *s, int64_t keep);
/* How many ended (succeeded or failed) operations to keep, >= 1: each insert prunes the oldest
 * beyond it. Running operations are never pruned. */
void bg_store_set_operation_history(struct bg_store *s, int64_t keep);
void bg_store_set_event_hook(struct bg_store *s, bg_store_event_hook hook, void *userdata);

/* Every write on a BG_STORE_READ_ONLY store returns -EROFS. update replaces every field but the
 * name (the key) and created_at (fixed at insert); its event carries the row as stored.
 *
 * Images. insert: -EEXIST on a duplicate name. get/update: -ENOENT. delete: -ENOENT, or
 * -EBUSY when VMs use it, with their names in err's message. list is sorted by name.
 * Every write records its event ("image.created/updated/deleted") in the same
 * transaction and returns its seq in *ret_seq (may be NULL). */
int bg_store_image_insert(struct bg_store *s, const struct bg_image *img, int64_t *ret_seq,
                          struct bg_error *err);
int bg_store_image_get(struct bg_store *s, const char *name, struct bg_image *ret,
                       struct bg_error *err);
int bg_store_image_update(struct bg_store *s, const struct bg_image *img, int64_t *ret_seq,
                          struct bg_error *err);
int bg_store_image_delete(struct bg_store *s, const char *name, int64_t *ret_seq,
                          struct bg_error *err);
/* *ret is a new array of *ret_n images; free with bg_store_images_free(). */
int bg_store_image_list(struct bg_store *s, struct bg_image **ret, size_t *ret_n,
                        struct bg_error *err);
void bg_store_images_free(struct bg_image *imgs, size_t n);

/* VMs. insert: -EEXIST on a duplicate name, -ENOENT when the image does not exist.
 * list: state may be NULL for all; sorted by name; *ret is a new array, release it with free().
 * Events "vm.created/updated/deleted". */
int bg_store_vm_insert(struct bg_store *s, const struct bg_vm *vm, int64_t *ret_seq,
                       struct bg_error *err);
int bg_store_vm_get(struct bg_store *s, const char *name, struct bg_vm *ret, struct bg_error *err);
int bg_store_vm_update(struct bg_store *s, const struct bg_vm *vm, int64_t *ret_seq,
                       struct bg_error *err);
int bg_store_vm_delete(struct bg_store *s, const char *name, int64_t *ret_seq,
                       struct bg_error *err);
int bg_store_vm_list(struct bg_store *s, const enum bg_vm_state *state, struct bg_vm **ret,
                     size_t *ret_n, struct bg_error *err);
int bg_store_vm_count(struct bg_store *s, int64_t *ret, struct bg_error *err);
int bg_store_image_count(struct bg_store *s, int64_t *ret, struct bg_error *err);

/* Operations (ids come from the caller). insert: -EEXIST; update/get: -ENOENT; insert also
 * prunes ended operations beyond the operation history. Events "operation.created/updated".
 * list: newest first, at most limit. */
int bg_store_op_insert(struct bg_store *s, const struct bg_operation *op, int64_t *ret_seq,
                       struct bg_error *err);
int bg_store_op_update(struct bg_store *s, const struct bg_operation *op, int64_t *ret_seq,
                       struct bg_error *err);
int bg_store_op_get(struct bg_store *s, const char *id, struct bg_operation *ret,
                    struct bg_error *err);
int bg_store_op_list(struct bg_store *s, size_t limit, struct bg_operation **ret, size_t *ret_n,
                     struct bg_error *err);
void bg_store_ops_free(struct bg_operation *ops, size_t n);

/* Events with seq > since, oldest first, at most limit. */
int bg_store_event_list(struct bg_store *s, int64_t since, size_t limit, struct bg_event **ret,
                        size_t *ret_n, struct bg_error *err);
void bg_store_events_free(struct bg_event *evs, size_t n);
/* Oldest kept and latest seq (both 0 when there has never been an event). */
int bg_store_event_bounds(struct bg_store *s, int64_t *ret_oldest, int64_t *ret_latest,
                          struct bg_error *err);

/* Where a VM's VMM process and its files are, while it has any: what reconcile needs after a
 * daemon restart. Strings are owned (bg_store_runtime_done). No events: the VM record's state
 * is what clients see. */
struct bg_store_runtime {
    char vm[BG_NAME_MAX + 1]; /* the VM's name */
    char vmm[16];             /* driver name, "qemu" */
    char accel[16];           /* "kvm" | "tcg" */
    int64_t pid;              /* VMM process, 0 until spawned */
    uint64_t start_time;      /* /proc/PID/stat field 22 of pid, guards against pid reuse */
    char *run_dir;            /* per-VM runtime directory */
    char *agent_path;         /* agent socket */
    char *control_path;       /* VMM control socket (QMP, Firecracker API) */
    char *console_path;       /* console log */
};

/* Insert or replace the row of rt->vm. -ENOENT when the VM does not exist. */
int bg_store_runtime_put(struct bg_store *s, const struct bg_store_runtime *rt,
                         struct bg_error *err);
/* The row of vm into *ret (release with bg_store_runtime_done). -ENOENT when none. */
int bg_store_runtime_get(struct bg_store *s, const char *vm, struct bg_store_runtime *ret,
                         struct bg_error *err);
/* Remove the row of vm; no row is not an error. */
int bg_store_runtime_delete(struct bg_store *s, const char *vm, struct bg_error *err);
/* Free the strings of rt and zero it; accepts a zeroed rt. */
void bg_store_runtime_done(struct bg_store_runtime *rt);

/* An API token as stored: never its secret, only a keyed hash of it (auth/). No events: the
 * event stream is readable with the read scope, tokens are the admin's. */
#define BG_STORE_TOKEN_HASH_BYTES 32
struct bg_store_token {
    char id[BG_TOKEN_ID_LEN + 1];            /* public id, the key */
    char name[BG_NAME_MAX + 1];              /* unique, a DNS label */
    uint8_t hash[BG_STORE_TOKEN_HASH_BYTES]; /* keyed hash of the whole token */
    unsigned scopes;                         /* enum bg_scope bits */
    int64_t created_at;                      /* seconds since the epoch */
    int64_t last_used_at;                    /* 0: never used */
    int64_t expires_at;                      /* 0: never expires */
};

/* Tokens. insert: -EEXIST when the id or the name is taken (the message names the name).
 * get/delete/touch: -ENOENT "token 'ID' not found". list: sorted by name, *ret a new array
 * (free()). touch sets last_used_at. */
int bg_store_token_insert(struct bg_store *s, const struct bg_store_token *t, struct bg_error *err);
int bg_store_token_get(struct bg_store *s, const char *id, struct bg_store_token *ret,
                       struct bg_error *err);
int bg_store_token_list(struct bg_store *s, struct bg_store_token **ret, size_t *ret_n,
                        struct bg_error *err);
int bg_store_token_delete(struct bg_store *s, const char *id, struct bg_error *err);
int bg_store_token_touch(struct bg_store *s, const char *id, int64_t now, struct bg_error *err);
