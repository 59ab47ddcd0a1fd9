/* SPDX-License-Identifier: MIT */
/* Token rows: insert, get, list, delete, and the last-used time. No events (store.h). */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banger/alloc.h"
#include "store/store-internal.h"

#define TOKEN_COLUMNS "id, name, hash, scopes, created_at, last_used_at, expires_at"

static int refuse_read_only(struct bg_store *s, struct bg_error *err)
{
    return bg_error_set(err, -EROFS, "database %s is open read-only", s->path);
}

static void bind_time(sqlite3_stmt *stmt, int idx, int64_t t)
{
    if (t > 0)
        (void)sqlite3_bind_int64(stmt, idx, t);
    else
        (void)sqlite3_bind_null(stmt, idx);
}

static int insert_locked(struct bg_store *s, const struct bg_store_token *t, struct bg_error *err)
{
    static const char sql[] =
        "INSERT INTO tokens (" TOKEN_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int r, rc;

    if (s->mode == BG_STORE_READ_ONLY)
        return refuse_read_only(s, err);
    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    (void)bg_store_bind_text(stmt, 1, t->id);
    (void)bg_store_bind_text(stmt, 2, t->name);
    (void)sqlite3_bind_blob(stmt, 3, t->hash, sizeof(t->hash), SQLITE_STATIC);
    (void)sqlite3_bind_int64(stmt, 4, t->scopes);
    (void)sqlite3_bind_int64(stmt, 5, t->created_at);
    bind_time(stmt, 6, t->last_used_at);
    bind_time(stmt, 7, t->expires_at);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_CONSTRAINT_UNIQUE)
        return bg_error_set(err, -EEXIST, "a token named '%s' already exists", t->name);
    return bg_store_insert_result(s, rc, "insert token", "token", t->id, err);
}

int bg_store_token_insert(struct bg_store *s, const struct bg_store_token *t, struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return insert_locked(s, t, err);
}

/* A row of TOKEN_COLUMNS into *ret, checked like any input. */
static int load_token(struct bg_store *s, sqlite3_stmt *stmt, struct bg_store_token *ret,
                      struct bg_error *err)
{
    struct bg_store_token t = {
        .created_at = sqlite3_column_int64(stmt, 4),
        .last_used_at = sqlite3_column_int64(stmt, 5),
        .expires_at = sqlite3_column_int64(stmt, 6),
    };
    int64_t scopes = sqlite3_column_int64(stmt, 3);
    char what[BG_TOKEN_ID_LEN + 16] = "a token";
    int r;

    if ((r = bg_store_col_text(s, stmt, 0, t.id, sizeof(t.id), what, err)) < 0)
        return r;
    snprintf(what, sizeof(what), "token '%s'", t.id);
    if (!bg_token_id_valid(t.id))
        return bg_store_bad_row(s, what, "id", err);
    if ((r = bg_store_col_text(s, stmt, 1, t.name, sizeof(t.name), what, err)) < 0)
        return r;
    if (sqlite3_column_bytes(stmt, 2) != (int)sizeof(t.hash))
        return bg_store_bad_row(s, what, "hash", err);
    memcpy(t.hash, sqlite3_column_blob(stmt, 2), sizeof(t.hash));
    if (scopes <= 0 || scopes > (int64_t)BG_SCOPE_ALL)
        return bg_store_bad_row(s, what, "scopes", err);
    t.scopes = (unsigned)scopes;
    *ret = t;
    return 0;
}

static int get_locked(struct bg_store *s, const char *id, struct bg_store_token *ret,
                      struct bg_error *err)
{
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int r = bg_store_select_key(s, "SELECT " TOKEN_COLUMNS " FROM tokens WHERE id = ?", id,
                                "get token", &stmt, err);

    if (r == 0)
        return bg_error_set(err, -ENOENT, "token '%s' not found", id);
    return r < 0 ? r : load_token(s, stmt, ret, err);
}

int bg_store_token_get(struct bg_store *s, const char *id, struct bg_store_token *ret,
                       struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return get_locked(s, id, ret, err);
}

static int list_locked(struct bg_store *s, struct bg_store_token **ret, size_t *ret_n,
                       struct bg_error *err)
{
    static const char sql[] = "SELECT " TOKEN_COLUMNS " FROM tokens ORDER BY name";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    bg_autofree struct bg_store_token *tokens = NULL;
    size_t n = 0;
    int r, rc;

    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        tokens = bg_realloc(tokens, (n + 1) * sizeof(*tokens));
        if ((r = load_token(s, stmt, &tokens[n], err)) < 0)
            return r;
        n++;
    }
    if (rc != SQLITE_DONE)
        return bg_store_sql_error(s, rc, "list tokens", err);
    *ret = bg_steal_ptr(&tokens);
    *ret_n = n;
    return 0;
}

int bg_store_token_list(struct bg_store *s, struct bg_store_token **ret, size_t *ret_n,
                        struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return list_locked(s, ret, ret_n, err);
}

/* Run sql (one statement: ?1 the id and, when it has one, ?2 the time t) on the row of id. */
static int change_locked(struct bg_store *s, const char *sql, const char *what, const char *id,
                         int64_t t, struct bg_error *err)
{
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int r;

    if (s->mode == BG_STORE_READ_ONLY)
        return refuse_read_only(s, err);
    if ((r = bg_store_prepare_key(s, sql, id, &stmt, err)) < 0)
        return r;
    if (sqlite3_bind_parameter_count(stmt) >= 2)
        (void)sqlite3_bind_int64(stmt, 2, t);
    return bg_store_change_result(s, sqlite3_step(stmt), what, "token", id, err);
}

int bg_store_token_delete(struct bg_store *s, const char *id, struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return change_locked(s, "DELETE FROM tokens WHERE id = ?1", "delete token", id, 0, err);
}

int bg_store_token_touch(struct bg_store *s, const char *id, int64_t now, struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return change_locked(s, "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1", "touch token", id,
                         now, err);
}
