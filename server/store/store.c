/* SPDX-License-Identifier: MIT */
/* The store handle: opening and checking the database, locking, and write transactions. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "store/migrate.h"
#include "store/store-internal.h"

#define BG_STORE_BUSY_TIMEOUT_MS 5000

/* Read-write: create the file with mode 0600 ourselves, so SQLite (which would use 0644 less
 * umask) never creates it; its -wal and -shm files then inherit 0600. Read-only: it must exist. */
static int prepare_file(const char *path, enum bg_store_mode mode, struct bg_error *err)
{
    struct stat st;

    if (mode == BG_STORE_READ_ONLY) {
        if (stat(path, &st) < 0) {
            if (errno == ENOENT)
                return bg_error_set(err, -ENOENT, "database %s does not exist", path);
            return bg_error_errno(err, "database %s", path);
        }
        return 0;
    }
    bg_autoclose int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return bg_error_errno(err, "create database %s", path);
    return 0;
}

/* No SQLITE_OPEN_CREATE: prepare_file made the file, and should it vanish in between, failing
 * beats SQLite creating a new one with looser permissions. */
static int open_connection(struct bg_store *s, struct bg_error *err)
{
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
                (s->mode == BG_STORE_READ_ONLY ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
    int rc = sqlite3_open_v2(s->path, &s->db, flags, NULL);

    if (rc != SQLITE_OK)
        return bg_store_sql_error(s, rc, "open", err);
    (void)sqlite3_busy_timeout(s->db, BG_STORE_BUSY_TIMEOUT_MS);
    rc = sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return bg_store_sql_error(s, rc, "enable foreign keys", err);
    return 0;
}

/* WAL lets the CLI's read-only opens run beside the daemon; NORMAL is durable enough with WAL
 * (a power cut loses at most the last commits, never consistency). Only after the file has been
 * recognised as banger's, since switching the journal mode writes the header. */
static int set_journal(struct bg_store *s, struct bg_error *err)
{
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int r, rc;

    if ((r = bg_store_prepare(s, "PRAGMA journal_mode = WAL", &stmt, err)) < 0)
        return r;
    if ((rc = sqlite3_step(stmt)) != SQLITE_ROW)
        return bg_store_sql_error(s, rc, "enable WAL", err);
    const char *got = (const char *)sqlite3_column_text(stmt, 0);
    if (!got || strcmp(got, "wal") != 0)
        bg_log_warn("open database '%s': journal mode is '%s', not wal", s->path, got ? got : "?");
    rc = sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return bg_store_sql_error(s, rc, "set synchronous", err);
    return 0;
}

static int open_steps(struct bg_store *s, struct bg_error *err)
{
    int version, r;

    if ((r = prepare_file(s->path, s->mode, err)) < 0)
        return r;
    if ((r = open_connection(s, err)) < 0)
        return r;
    if ((r = bg_migrate_check(s->db, s->path, s->mode, &version, err)) < 0)
        return r;
    if (s->mode == BG_STORE_READ_ONLY) {
        s->schema_version = version;
        return 0;
    }
    if ((r = set_journal(s, err)) < 0)
        return r;
    if ((r = bg_migrate_run(s->db, s->path, version, err)) < 0)
        return r;
    s->schema_version = BG_STORE_SCHEMA_VERSION;
    return 0;
}

int bg_store_open(const char *path, enum bg_store_mode mode, struct bg_store **ret,
                  struct bg_error *err)
{
    bg_auto(bg_store_closep) struct bg_store *s = bg_calloc(1, sizeof(*s));
    int r;

    pthread_mutex_init(&s->lock, NULL);
    s->path = bg_strdup(path);
    s->mode = mode;
    s->event_history = BG_STORE_EVENT_HISTORY_DEFAULT;
    s->op_history = BG_STORE_OPERATION_HISTORY_DEFAULT;
    if ((r = open_steps(s, err)) < 0)
        return r;
    *ret = bg_steal_ptr(&s);
    return 0;
}

void bg_store_close(struct bg_store *s)
{
    if (!s)
        return;
    /* close_v2 also copes with a half-opened handle; the last close checkpoints the WAL. */
    (void)sqlite3_close_v2(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

void bg_store_closep(struct bg_store **s)
{
    bg_store_close(*s);
}

int bg_store_schema_version(struct bg_store *s)
{
    BG_STORE_LOCKED(s);
    return s->schema_version;
}

void bg_store_set_event_history(struct bg_store *s, int64_t keep)
{
    BG_STORE_LOCKED(s);
    s->event_history = keep < 1 ? 1 : keep;
}

void bg_store_set_operation_history(struct bg_store *s, int64_t keep)
{
    BG_STORE_LOCKED(s);
    s->op_history = keep > 0 ? keep : 1;
}

void bg_store_set_event_hook(struct bg_store *s, bg_store_event_hook hook, void *userdata)
{
    BG_STORE_LOCKED(s);
    s->hook = hook;
    s->hook_userdata = userdata;
}

/* The transaction body: apply, then the event and pruning, all or nothing. */
static int write_steps(struct bg_store *s, const struct bg_store_write *w, int64_t *ret_seq,
                       struct bg_error *err)
{
    bg_auto(json_decrefp) json_t *data = NULL;
    bg_autofree char *text = NULL;
    int r;

    if ((r = w->apply(s, w->arg, &data, err)) < 0)
        return r;
    text = json_dumps(data, JSON_COMPACT);
    if (!text)
        return bg_error_set(err, -EINVAL, "encode event %s for %s", w->type, w->subject);
    if ((r = bg_store_event_append(s, w->type, w->subject, text, ret_seq, err)) < 0)
        return r;
    return bg_store_event_prune(s, err);
}

static int write_locked(struct bg_store *s, const struct bg_store_write *w, int64_t *ret_seq,
                        struct bg_error *err)
{
    int r, rc;

    if (s->mode == BG_STORE_READ_ONLY)
        return bg_error_set(err, -EROFS, "database %s is open read-only", s->path);
    rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return bg_store_sql_error(s, rc, "begin transaction", err);
    r = write_steps(s, w, ret_seq, err);
    if (r == 0 && (rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
        r = bg_store_sql_error(s, rc, "commit", err);
    if (r < 0)
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

/* The hook runs after the mutex is released, so it may call back into the store and a slow hook
 * never holds up other writers. Two writers may therefore report their seqs out of order; the
 * hook must treat seq as "at least this much has been committed" (bg_events_notify keeps the
 * maximum). */
int bg_store_write_run(struct bg_store *s, const struct bg_store_write *w, int64_t *ret_seq,
                       struct bg_error *err)
{
    bg_store_event_hook hook;
    void *userdata;
    int64_t seq = 0;
    int r;

    {
        BG_STORE_LOCKED(s);
        if ((r = write_locked(s, w, &seq, err)) < 0)
            return r;
        hook = s->hook;
        userdata = s->hook_userdata;
    }
    if (hook)
        hook(userdata, seq);
    if (ret_seq)
        *ret_seq = seq;
    return 0;
}

int bg_store_write_named(struct bg_store *s, const char *type, const char *collection,
                         const char *name, bg_store_apply_fn apply, const void *arg,
                         int64_t *ret_seq, struct bg_error *err)
{
    char subject[sizeof(((struct bg_event *)0)->subject)];

    snprintf(subject, sizeof(subject), "%s/%s", collection, name);
    struct bg_store_write w = {.type = type, .subject = subject, .apply = apply, .arg = arg};
    return bg_store_write_run(s, &w, ret_seq, err);
}
