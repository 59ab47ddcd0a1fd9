/* SPDX-License-Identifier: MIT */
/* What every file of the store shares: the lock, statements, binding, results and columns. */
#include "store/store-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banger/alloc.h"

struct bg_store *bg_store_lock(struct bg_store *s)
{
    pthread_mutex_lock(&s->lock);
    return s;
}

void bg_store_unlockp(struct bg_store **locked)
{
    if (*locked)
        pthread_mutex_unlock(&(*locked)->lock);
}

void bg_store_stmt_finalizep(sqlite3_stmt **stmt)
{
    (void)sqlite3_finalize(*stmt);
}

int bg_store_errno_from_sqlite(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return -EBADMSG;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EAGAIN;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
        return -EINVAL;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    default:
        return -EIO;
    }
}

int bg_store_sql_error(struct bg_store *s, int rc, const char *what, struct bg_error *err)
{
    return bg_error_set(err, bg_store_errno_from_sqlite(rc), "database %s: %s: %s", s->path, what,
                        sqlite3_errmsg(s->db));
}

int bg_store_prepare(struct bg_store *s, const char *sql, sqlite3_stmt **ret, struct bg_error *err)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);

    if (rc != SQLITE_OK)
        return bg_store_sql_error(s, rc, "prepare statement", err);
    return 0;
}

int bg_store_bind_text(sqlite3_stmt *stmt, int idx, const char *str)
{
    if (!str)
        return sqlite3_bind_null(stmt, idx);
    return sqlite3_bind_text(stmt, idx, str, -1, SQLITE_STATIC);
}

int bg_store_prepare_key(struct bg_store *s, const char *sql, const char *key, sqlite3_stmt **ret,
                         struct bg_error *err)
{
    int r = bg_store_prepare(s, sql, ret, err);

    if (r < 0)
        return r;
    (void)bg_store_bind_text(*ret, 1, key);
    return 0;
}

int bg_store_select_key(struct bg_store *s, const char *sql, const char *key, const char *what,
                        sqlite3_stmt **ret, struct bg_error *err)
{
    int r = bg_store_prepare_key(s, sql, key, ret, err);
    int rc;

    if (r < 0)
        return r;
    rc = sqlite3_step(*ret);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return bg_store_sql_error(s, rc, what, err);
    return 1;
}

int bg_store_insert_result(struct bg_store *s, int rc, const char *what, const char *noun,
                           const char *key, struct bg_error *err)
{
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return bg_error_set(err, -EEXIST, "%s '%s' already exists", noun, key);
    if (rc != SQLITE_DONE)
        return bg_store_sql_error(s, rc, what, err);
    return 0;
}

int bg_store_change_result(struct bg_store *s, int rc, const char *what, const char *noun,
                           const char *key, struct bg_error *err)
{
    if (rc != SQLITE_DONE)
        return bg_store_sql_error(s, rc, what, err);
    if (sqlite3_changes(s->db) == 0)
        return bg_error_set(err, -ENOENT, "%s '%s' not found", noun, key);
    return 0;
}

int bg_store_bad_row(struct bg_store *s, const char *what, const char *col, struct bg_error *err)
{
    return bg_error_set(err, -EBADMSG, "database %s: %s has a bad value in column '%s'", s->path,
                        what, col);
}

int bg_store_col_text(struct bg_store *s, sqlite3_stmt *stmt, int col, char *buf, size_t size,
                      const char *what, struct bg_error *err)
{
    const char *text = (const char *)sqlite3_column_text(stmt, col);

    if (!text || (size_t)sqlite3_column_bytes(stmt, col) >= size)
        return bg_store_bad_row(s, what, sqlite3_column_name(stmt, col), err);
    memcpy(buf, text, (size_t)sqlite3_column_bytes(stmt, col) + 1);
    return 0;
}

char *bg_store_col_strdup(sqlite3_stmt *stmt, int col)
{
    const char *text = (const char *)sqlite3_column_text(stmt, col);

    return text ? bg_strdup(text) : NULL;
}

int bg_store_query_int(struct bg_store *s, const char *sql, int64_t *ret, struct bg_error *err)
{
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int r, rc;

    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    if ((rc = sqlite3_step(stmt)) != SQLITE_ROW)
        return bg_store_sql_error(s, rc, "query", err);
    *ret = sqlite3_column_int64(stmt, 0);
    return 0;
}
