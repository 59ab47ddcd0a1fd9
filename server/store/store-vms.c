/* SPDX-License-Identifier: MIT */
/* VM records: insert (the image must exist), get, update, delete, list by state, count. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banger/alloc.h"
#include "store/store-internal.h"

/* The column list shared by every statement; ?1..?13 bind in this order (bind_vm). */
#define VM_COLUMNS                                                                                 \
    "name, image, state, vcpus, memory_mib, disk_mib, nat, created_at, updated_at, vmm, error, "   \
    "started_at, auto_remove"

static void bind_vm(sqlite3_stmt *stmt, const struct bg_vm *vm)
{
    (void)bg_store_bind_text(stmt, 1, vm->spec.name);
    (void)bg_store_bind_text(stmt, 2, vm->spec.image);
    (void)bg_store_bind_text(stmt, 3, bg_vm_state_name(vm->state));
    (void)sqlite3_bind_int64(stmt, 4, vm->spec.vcpus);
    (void)sqlite3_bind_int64(stmt, 5, vm->spec.memory_mib);
    (void)sqlite3_bind_int64(stmt, 6, (int64_t)vm->spec.disk_mib);
    (void)sqlite3_bind_int(stmt, 7, vm->spec.nat ? 1 : 0);
    (void)sqlite3_bind_int64(stmt, 8, vm->created_at);
    (void)sqlite3_bind_int64(stmt, 9, vm->updated_at);
    (void)bg_store_bind_text(stmt, 10, vm->vmm[0] ? vm->vmm : NULL);
    (void)bg_store_bind_text(stmt, 11, vm->error[0] ? vm->error : NULL);
    if (vm->started_at > 0)
        (void)sqlite3_bind_int64(stmt, 12, vm->started_at);
    else
        (void)sqlite3_bind_null(stmt, 12);
    (void)sqlite3_bind_int(stmt, 13, vm->spec.auto_remove ? 1 : 0);
}

/* The nullable columns of the last start: vmm, error, started_at. */
static int load_runtime_columns(struct bg_store *s, sqlite3_stmt *stmt, struct bg_vm *vm,
                                const char *what, struct bg_error *err)
{
    const char *vmm = (const char *)sqlite3_column_text(stmt, 9);
    const char *error = (const char *)sqlite3_column_text(stmt, 10);

    if (vmm && strlen(vmm) >= sizeof(vm->vmm))
        return bg_store_bad_row(s, what, "vmm", err);
    snprintf(vm->vmm, sizeof(vm->vmm), "%s", vmm ? vmm : "");
    /* an over-long error is cut, not refused: it is a message for humans */
    snprintf(vm->error, sizeof(vm->error), "%s", error ? error : "");
    vm->started_at = sqlite3_column_int64(stmt, 11);
    return 0;
}

/* A row of VM_COLUMNS into *ret, checked like any input. */
static int load_vm(struct bg_store *s, sqlite3_stmt *stmt, struct bg_vm *ret, struct bg_error *err)
{
    struct bg_vm vm = {
        .spec = {.vcpus = (uint32_t)sqlite3_column_int64(stmt, 3),
                 .memory_mib = (uint32_t)sqlite3_column_int64(stmt, 4),
                 .disk_mib = (uint64_t)sqlite3_column_int64(stmt, 5),
                 .nat = sqlite3_column_int(stmt, 6) != 0,
                 .auto_remove = sqlite3_column_int(stmt, 12) != 0},
        .created_at = sqlite3_column_int64(stmt, 7),
        .updated_at = sqlite3_column_int64(stmt, 8),
    };
    char what[BG_NAME_MAX + 16] = "a vm";
    int r;

    if ((r = bg_store_col_text(s, stmt, 0, vm.spec.name, sizeof(vm.spec.name), what, err)) < 0)
        return r;
    snprintf(what, sizeof(what), "vm '%s'", vm.spec.name);
    r = bg_store_col_text(s, stmt, 1, vm.spec.image, sizeof(vm.spec.image), what, err);
    if (r < 0)
        return r;
    const char *state = (const char *)sqlite3_column_text(stmt, 2);
    if (!state || bg_vm_state_parse(state, &vm.state) < 0)
        return bg_store_bad_row(s, what, "state", err);
    if ((r = load_runtime_columns(s, stmt, &vm, what, err)) < 0)
        return r;
    *ret = vm;
    return 0;
}

static int get_locked(struct bg_store *s, const char *name, struct bg_vm *ret, struct bg_error *err)
{
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int r = bg_store_select_key(s, "SELECT " VM_COLUMNS " FROM vms WHERE name = ?", name, "get vm",
                                &stmt, err);

    if (r == 0)
        return bg_error_set(err, -ENOENT, "vm '%s' not found", name);
    return r < 0 ? r : load_vm(s, stmt, ret, err);
}

static int apply_insert(struct bg_store *s, const void *arg, json_t **ret_data,
                        struct bg_error *err)
{
    static const char sql[] = "INSERT INTO vms (" VM_COLUMNS
                              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    const struct bg_vm *vm = arg;
    int r, rc;

    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    bind_vm(stmt, vm);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return bg_error_set(err, -ENOENT, "image '%s' not found", vm->spec.image);
    if ((r = bg_store_insert_result(s, rc, "insert vm", "vm", vm->spec.name, err)) < 0)
        return r;
    *ret_data = bg_vm_to_json(vm);
    return 0;
}

/* Everything but name and created_at is replaced; the event carries the row as stored. */
static int apply_update(struct bg_store *s, const void *arg, json_t **ret_data,
                        struct bg_error *err)
{
    static const char sql[] = "UPDATE vms SET image = ?2, state = ?3, vcpus = ?4, "
                              "memory_mib = ?5, disk_mib = ?6, nat = ?7, updated_at = ?9, "
                              "vmm = ?10, error = ?11, started_at = ?12 WHERE name = ?1";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    const struct bg_vm *vm = arg;
    struct bg_vm stored;
    int r, rc;

    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    bind_vm(stmt, vm);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return bg_error_set(err, -ENOENT, "image '%s' not found", vm->spec.image);
    if ((r = bg_store_change_result(s, rc, "update vm", "vm", vm->spec.name, err)) < 0)
        return r;
    if ((r = get_locked(s, vm->spec.name, &stored, err)) < 0)
        return r;
    *ret_data = bg_vm_to_json(&stored);
    return 0;
}

/* Its address lease goes with it (ON DELETE CASCADE). */
static int apply_delete(struct bg_store *s, const void *arg, json_t **ret_data,
                        struct bg_error *err)
{
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    const char *name = arg;
    int r, rc;

    if ((r = bg_store_prepare_key(s, "DELETE FROM vms WHERE name = ?", name, &stmt, err)) < 0)
        return r;
    rc = sqlite3_step(stmt);
    if ((r = bg_store_change_result(s, rc, "delete vm", "vm", name, err)) < 0)
        return r;
    *ret_data = json_pack("{s:s}", "name", name);
    return 0;
}

static int write_vm(struct bg_store *s, const char *type, const char *name, bg_store_apply_fn apply,
                    const void *arg, int64_t *ret_seq, struct bg_error *err)
{
    return bg_store_write_named(s, type, "/v1/vms", name, apply, arg, ret_seq, err);
}

int bg_store_vm_insert(struct bg_store *s, const struct bg_vm *vm, int64_t *ret_seq,
                       struct bg_error *err)
{
    return write_vm(s, "vm.created", vm->spec.name, apply_insert, vm, ret_seq, err);
}

int bg_store_vm_update(struct bg_store *s, const struct bg_vm *vm, int64_t *ret_seq,
                       struct bg_error *err)
{
    return write_vm(s, "vm.updated", vm->spec.name, apply_update, vm, ret_seq, err);
}

int bg_store_vm_delete(struct bg_store *s, const char *name, int64_t *ret_seq, struct bg_error *err)
{
    return write_vm(s, "vm.deleted", name, apply_delete, name, ret_seq, err);
}

int bg_store_vm_get(struct bg_store *s, const char *name, struct bg_vm *ret, struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return get_locked(s, name, ret, err);
}

static int list_locked(struct bg_store *s, const enum bg_vm_state *state, struct bg_vm **ret,
                       size_t *ret_n, struct bg_error *err)
{
    static const char sql[] =
        "SELECT " VM_COLUMNS " FROM vms WHERE ?1 IS NULL OR state = ?1 ORDER BY name";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    bg_autofree struct bg_vm *vms = NULL;
    size_t n = 0;
    int r, rc;

    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    (void)bg_store_bind_text(stmt, 1, state ? bg_vm_state_name(*state) : NULL);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        vms = bg_realloc(vms, (n + 1) * sizeof(*vms));
        if ((r = load_vm(s, stmt, &vms[n], err)) < 0)
            return r;
        n++;
    }
    if (rc != SQLITE_DONE)
        return bg_store_sql_error(s, rc, "list vms", err);
    *ret = bg_steal_ptr(&vms);
    *ret_n = n;
    return 0;
}

/* *ret is a new array (free()) of *ret_n VMs; it holds no other heap memory. */
int bg_store_vm_list(struct bg_store *s, const enum bg_vm_state *state, struct bg_vm **ret,
                     size_t *ret_n, struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return list_locked(s, state, ret, ret_n, err);
}

int bg_store_vm_count(struct bg_store *s, int64_t *ret, struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return bg_store_query_int(s, "SELECT count(*) FROM vms", ret, err);
}
