/* SPDX-License-Identifier: MIT */
/* Internals shared by the store's files: the handle, locking, statements, write transactions. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/macro.h"
#include "store/store.h"

/* The store handle. Every field but lock is guarded by lock once bg_store_open() returns. */
struct bg_store {
    pthread_mutex_t lock;     /* serializes every use of db (opened SQLITE_OPEN_NOMUTEX) */
    sqlite3 *db;              /* the one connection */
    char *path;               /* the database file, for messages */
    enum bg_store_mode mode;  /* read-only handles refuse every write up front */
    int schema_version;       /* PRAGMA user_version after open (and migration) */
    int64_t event_history;    /* events kept, >= 1 */
    int64_t op_history;       /* ended operations kept, >= 1 */
    bg_store_event_hook hook; /* called after each committed write; may be NULL */
    void *hook_userdata;      /* passed to hook */
};

/* Take s->lock and return s; bg_store_unlockp releases it at scope exit. */
struct bg_store *bg_store_lock(struct bg_store *s);
void bg_store_unlockp(struct bg_store **locked);
/* unused: clang does not count the cleanup attribute as a use. */
#define BG_STORE_LOCKED(s)                                                                         \
    bg_auto(bg_store_unlockp) __attribute__((unused)) struct bg_store *bg_locked_ = bg_store_lock(s)

/* sqlite3_finalize for bg_auto(); accepts NULL. */
void bg_store_stmt_finalizep(sqlite3_stmt **stmt);

/* The negative errno for an SQLite result code (see bg_store_sql_error). */
int bg_store_errno_from_sqlite(int rc);
/* Map the SQLite result rc of s->db to a negative errno and set err to "what: sqlite message".
 * NOTADB/CORRUPT give -EBADMSG, READONLY -EROFS, BUSY/LOCKED -EAGAIN, FULL -ENOSPC,
 * constraint failures -EINVAL (callers map the ones they expect first), the rest -EIO. */
int bg_store_sql_error(struct bg_store *s, int rc, const char *what, struct bg_error *err);
/* sqlite3_prepare_v2 of a constant statement; -errno with err set on failure. */
int bg_store_prepare(struct bg_store *s, const char *sql, sqlite3_stmt **ret, struct bg_error *err);
/* Bind str (borrowed until the statement is reset) or NULL as SQL NULL. */
int bg_store_bind_text(sqlite3_stmt *stmt, int idx, const char *str);

/* Prepare sql and bind key (borrowed until the statement is finalized) as ?1. */
int bg_store_prepare_key(struct bg_store *s, const char *sql, const char *key, sqlite3_stmt **ret,
                         struct bg_error *err);
/* bg_store_prepare_key, then step to the first row. Returns 1 with *ret on that row, 0 with
 * *ret done when there is none, or -errno with err "what: sqlite message". */
int bg_store_select_key(struct bg_store *s, const char *sql, const char *key, const char *what,
                        sqlite3_stmt **ret, struct bg_error *err);

/* The outcome of an INSERT of the row "<noun> '<key>'" whose step gave rc (callers map other
 * constraints they expect first): 0 on SQLITE_DONE; -EEXIST "<noun> '<key>' already exists"
 * on a primary key clash; else bg_store_sql_error with what. */
int bg_store_insert_result(struct bg_store *s, int rc, const char *what, const char *noun,
                           const char *key, struct bg_error *err);
/* The outcome of an UPDATE or DELETE of the row "<noun> '<key>'" whose step gave rc: 0 when
 * it changed a row; -ENOENT "<noun> '<key>' not found" when none; bg_store_sql_error with
 * what when rc is not SQLITE_DONE. */
int bg_store_change_result(struct bg_store *s, int rc, const char *what, const char *noun,
                           const char *key, struct bg_error *err);

/* Copy a non-NULL TEXT column into buf (size bytes with NUL). A NULL or too long value is a
 * damaged row: -EBADMSG naming the database, what (e.g. "vm 'web1'") and the column. */
int bg_store_col_text(struct bg_store *s, sqlite3_stmt *stmt, int col, char *buf, size_t size,
                      const char *what, struct bg_error *err);
/* A TEXT column as a new string, or NULL when the column is NULL. */
char *bg_store_col_strdup(sqlite3_stmt *stmt, int col);
/* The -EBADMSG "database PATH: what has a bad column 'col'" error for loaders. */
int bg_store_bad_row(struct bg_store *s, const char *what, const char *col, struct bg_error *err);

/* Runs a write's SQL inside the transaction and hands back the event's data (new reference). */
typedef int (*bg_store_apply_fn)(struct bg_store *s, const void *arg, json_t **ret_data,
                                 struct bg_error *err);

/* One write: apply runs the SQL inside the transaction and hands back the event's data (a new
 * reference). The runner appends the event and prunes old ones in the same transaction. */
struct bg_store_write {
    const char *type;        /* event type, "vm.created" */
    const char *subject;     /* event subject, "/v1/vms/web1" */
    bg_store_apply_fn apply; /* the SQL of this write */
    const void *arg;         /* passed to apply */
};

/* Lock, BEGIN IMMEDIATE, apply, append the event, prune, COMMIT, unlock, then call the hook.
 * Refuses read-only stores with -EROFS. On any failure the transaction is rolled back. The
 * event's seq goes to *ret_seq (may be NULL). */
int bg_store_write_run(struct bg_store *s, const struct bg_store_write *w, int64_t *ret_seq,
                       struct bg_error *err);

/* bg_store_write_run with the event subject "<collection>/<name>" ("/v1/vms" + "web1"). */
int bg_store_write_named(struct bg_store *s, const char *type, const char *collection,
                         const char *name, bg_store_apply_fn apply, const void *arg,
                         int64_t *ret_seq, struct bg_error *err);

/* Run a statement that returns one integer column in one row (counts, pragmas). */
int bg_store_query_int(struct bg_store *s, const char *sql, int64_t *ret, struct bg_error *err);

/* Append an event row inside the current transaction; data is JSON text. Its seq goes to
 * *ret_seq. */
int bg_store_event_append(struct bg_store *s, const char *type, const char *subject,
                          const char *data, int64_t *ret_seq, struct bg_error *err);
/* Delete all but the newest s->event_history events, inside the current transaction. */
int bg_store_event_prune(struct bg_store *s, struct bg_error *err);
