/* SPDX-License-Identifier: MIT */
/* Operation records: insert, update, get, newest-first list; error and result kept as JSON. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banger/alloc.h"
#include "store/store-internal.h"

/* The column list shared by every statement; ?1..?15 bind in this order (bind_op). */
#define OP_COLUMNS                                                                                 \
    "id, kind, target, state, done, total, unit, error, result, created_at, updated_at, step, "    \
    "step_done, step_total, step_unit"

/* JSON text of op->error and op->result, kept alive while the statement runs. */
struct op_json {
    char *error;
    char *result;
};

static void op_json_done(struct op_json *j)
{
    free(j->error);
    free(j->result);
}

static char *json_text(const json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static void bind_op(sqlite3_stmt *stmt, const struct bg_operation *op, struct op_json *j)
{
    j->error = json_text(op->error);
    j->result = json_text(op->result);
    (void)bg_store_bind_text(stmt, 1, op->id);
    (void)bg_store_bind_text(stmt, 2, op->kind);
    (void)bg_store_bind_text(stmt, 3, op->target);
    (void)bg_store_bind_text(stmt, 4, bg_operation_state_name(op->state));
    (void)sqlite3_bind_int64(stmt, 5, (int64_t)op->done);
    (void)sqlite3_bind_int64(stmt, 6, (int64_t)op->total);
    (void)bg_store_bind_text(stmt, 7, op->unit);
    (void)bg_store_bind_text(stmt, 8, j->error);
    (void)bg_store_bind_text(stmt, 9, j->result);
    /* The update statement leaves ?10 unused: created_at is fixed at insert. */
    (void)sqlite3_bind_int64(stmt, 10, op->created_at);
    (void)sqlite3_bind_int64(stmt, 11, op->updated_at);
    (void)bg_store_bind_text(stmt, 12, op->step);
    (void)sqlite3_bind_int64(stmt, 13, (int64_t)op->step_done);
    (void)sqlite3_bind_int64(stmt, 14, (int64_t)op->step_total);
    (void)bg_store_bind_text(stmt, 15, op->step_unit);
}

/* A nullable JSON column; *ret stays NULL for SQL NULL. */
static int load_json(struct bg_store *s, sqlite3_stmt *stmt, int col, json_t **ret,
                     const char *what, struct bg_error *err)
{
    const char *text = (const char *)sqlite3_column_text(stmt, col);

    if (!text)
        return 0;
    *ret = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!*ret)
        return bg_store_bad_row(s, what, sqlite3_column_name(stmt, col), err);
    return 0;
}

static int load_strings(struct bg_store *s, sqlite3_stmt *stmt, struct bg_operation *op,
                        const char *what, struct bg_error *err)
{
    int r;

    if ((r = bg_store_col_text(s, stmt, 1, op->kind, sizeof(op->kind), what, err)) < 0)
        return r;
    if ((r = bg_store_col_text(s, stmt, 2, op->target, sizeof(op->target), what, err)) < 0)
        return r;
    const char *state = (const char *)sqlite3_column_text(stmt, 3);
    if (!state || bg_operation_state_parse(state, &op->state) < 0)
        return bg_store_bad_row(s, what, "state", err);
    if ((r = bg_store_col_text(s, stmt, 6, op->unit, sizeof(op->unit), what, err)) < 0)
        return r;
    if ((r = bg_store_col_text(s, stmt, 11, op->step, sizeof(op->step), what, err)) < 0)
        return r;
    return bg_store_col_text(s, stmt, 14, op->step_unit, sizeof(op->step_unit), what, err);
}

/* A row of OP_COLUMNS into *ret, checked like any input. */
static int load_op(struct bg_store *s, sqlite3_stmt *stmt, struct bg_operation *ret,
                   struct bg_error *err)
{
    struct bg_operation op = {.done = (uint64_t)sqlite3_column_int64(stmt, 4),
                              .total = (uint64_t)sqlite3_column_int64(stmt, 5),
                              .step_done = (uint64_t)sqlite3_column_int64(stmt, 12),
                              .step_total = (uint64_t)sqlite3_column_int64(stmt, 13),
                              .created_at = sqlite3_column_int64(stmt, 9),
                              .updated_at = sqlite3_column_int64(stmt, 10)};
    char what[BG_OPERATION_ID_MAX + 16] = "an operation";
    int r;

    if ((r = bg_store_col_text(s, stmt, 0, op.id, sizeof(op.id), what, err)) < 0)
        return r;
    snprintf(what, sizeof(what), "operation '%s'", op.id);
    if ((r = load_strings(s, stmt, &op, what, err)) < 0)
        return r;
    if ((r = load_json(s, stmt, 7, &op.error, what, err)) < 0 ||
        (r = load_json(s, stmt, 8, &op.result, what, err)) < 0) {
        bg_operation_done(&op);
        return r;
    }
    *ret = op;
    return 0;
}

static int get_locked(struct bg_store *s, const char *id, struct bg_operation *ret,
                      struct bg_error *err)
{
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int r = bg_store_select_key(s, "SELECT " OP_COLUMNS " FROM operations WHERE id = ?", id,
                                "get operation", &stmt, err);

    if (r == 0)
        return bg_error_set(err, -ENOENT, "operation '%s' not found", id);
    return r < 0 ? r : load_op(s, stmt, ret, err);
}

/* Delete the ended operations beyond the newest s->op_history, inside the transaction. */
static int prune_ended(struct bg_store *s, struct bg_error *err)
{
    static const char sql[] =
        "DELETE FROM operations WHERE state != 'running' AND id NOT IN (SELECT id FROM "
        "operations WHERE state != 'running' ORDER BY created_at DESC, id DESC LIMIT ?)";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int r, rc;

    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    (void)sqlite3_bind_int64(stmt, 1, s->op_history);
    if ((rc = sqlite3_step(stmt)) != SQLITE_DONE)
        return bg_store_sql_error(s, rc, "prune operations", err);
    return 0;
}

static int apply_insert(struct bg_store *s, const void *arg, json_t **ret_data,
                        struct bg_error *err)
{
    static const char sql[] = "INSERT INTO operations (" OP_COLUMNS ") VALUES "
                              "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    bg_auto(op_json_done) struct op_json j = {0};
    const struct bg_operation *op = arg;
    int r, rc;

    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    bind_op(stmt, op, &j);
    rc = sqlite3_step(stmt);
    if ((r = bg_store_insert_result(s, rc, "insert operation", "operation", op->id, err)) < 0 ||
        (r = prune_ended(s, err)) < 0)
        return r;
    *ret_data = bg_operation_to_json(op);
    return 0;
}

/* Everything but id and created_at is replaced; the event carries the row as stored. */
static int apply_update(struct bg_store *s, const void *arg, json_t **ret_data,
                        struct bg_error *err)
{
    static const char sql[] = "UPDATE operations SET kind = ?2, target = ?3, state = ?4, "
                              "done = ?5, total = ?6, unit = ?7, error = ?8, result = ?9, "
                              "updated_at = ?11, step = ?12, step_done = ?13, "
                              "step_total = ?14, step_unit = ?15 WHERE id = ?1";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    bg_auto(op_json_done) struct op_json j = {0};
    const struct bg_operation *op = arg;
    struct bg_operation stored;
    int r, rc;

    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    bind_op(stmt, op, &j);
    rc = sqlite3_step(stmt);
    if ((r = bg_store_change_result(s, rc, "update operation", "operation", op->id, err)) < 0)
        return r;
    if ((r = get_locked(s, op->id, &stored, err)) < 0)
        return r;
    *ret_data = bg_operation_to_json(&stored);
    bg_operation_done(&stored);
    return 0;
}

static int write_op(struct bg_store *s, const char *type, const struct bg_operation *op,
                    bg_store_apply_fn apply, int64_t *ret_seq, struct bg_error *err)
{
    return bg_store_write_named(s, type, "/v1/operations", op->id, apply, op, ret_seq, err);
}

int bg_store_op_insert(struct bg_store *s, const struct bg_operation *op, int64_t *ret_seq,
                       struct bg_error *err)
{
    return write_op(s, "operation.created", op, apply_insert, ret_seq, err);
}

int bg_store_op_update(struct bg_store *s, const struct bg_operation *op, int64_t *ret_seq,
                       struct bg_error *err)
{
    return write_op(s, "operation.updated", op, apply_update, ret_seq, err);
}

int bg_store_op_get(struct bg_store *s, const char *id, struct bg_operation *ret,
                    struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return get_locked(s, id, ret, err);
}

static int list_locked(struct bg_store *s, size_t limit, struct bg_operation **ret, size_t *ret_n,
                       struct bg_error *err)
{
    static const char sql[] =
        "SELECT " OP_COLUMNS " FROM operations ORDER BY created_at DESC, id DESC LIMIT ?";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    struct bg_operation *ops = NULL;
    size_t n = 0;
    int r, rc;

    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    (void)sqlite3_bind_int64(stmt, 1, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        ops = bg_realloc(ops, (n + 1) * sizeof(*ops));
        if ((r = load_op(s, stmt, &ops[n], err)) < 0) {
            bg_store_ops_free(ops, n);
            return r;
        }
        n++;
    }
    if (rc != SQLITE_DONE) {
        bg_store_ops_free(ops, n);
        return bg_store_sql_error(s, rc, "list operations", err);
    }
    *ret = ops;
    *ret_n = n;
    return 0;
}

int bg_store_op_list(struct bg_store *s, size_t limit, struct bg_operation **ret, size_t *ret_n,
                     struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return list_locked(s, limit, ret, ret_n, err);
}

void bg_store_ops_free(struct bg_operation *ops, size_t n)
{
    for (size_t i = 0; ops && i < n; i++)
        bg_operation_done(&ops[i]);
    free(ops);
}
