/* SPDX-License-Identifier: MIT */
/* The event log: appending inside write transactions, pruning, and reading back. */
#include "store/store.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "banger/alloc.h"
#include "store/store-internal.h"

int bg_store_event_append(struct bg_store *s, const char *type, const char *subject,
                          const char *data, int64_t *ret_seq, struct bg_error *err)
{
    static const char sql[] = "INSERT INTO events (time, type, subject, data) VALUES (?, ?, ?, ?)";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int r, rc;

    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    (void)sqlite3_bind_int64(stmt, 1, (int64_t)time(NULL));
    (void)bg_store_bind_text(stmt, 2, type);
    (void)bg_store_bind_text(stmt, 3, subject);
    (void)bg_store_bind_text(stmt, 4, data);
    if ((rc = sqlite3_step(stmt)) != SQLITE_DONE)
        return bg_store_sql_error(s, rc, "append event", err);
    *ret_seq = sqlite3_last_insert_rowid(s->db);
    return 0;
}

/* Keeps exactly the newest event_history rows, whatever gaps the seqs have. */
int bg_store_event_prune(struct bg_store *s, struct bg_error *err)
{
    static const char sql[] = "DELETE FROM events WHERE seq <= "
                              "(SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?)";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int r, rc;

    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    (void)sqlite3_bind_int64(stmt, 1, s->event_history);
    if ((rc = sqlite3_step(stmt)) != SQLITE_DONE)
        return bg_store_sql_error(s, rc, "prune events", err);
    return 0;
}

static int load_event(struct bg_store *s, sqlite3_stmt *stmt, struct bg_event *ret,
                      struct bg_error *err)
{
    struct bg_event ev = {.seq = sqlite3_column_int64(stmt, 0),
                          .time = sqlite3_column_int64(stmt, 1)};
    char what[48];
    int r;

    snprintf(what, sizeof(what), "event %lld", (long long)ev.seq);
    if ((r = bg_store_col_text(s, stmt, 2, ev.type, sizeof(ev.type), what, err)) < 0)
        return r;
    if ((r = bg_store_col_text(s, stmt, 3, ev.subject, sizeof(ev.subject), what, err)) < 0)
        return r;
    ev.data = bg_store_col_strdup(stmt, 4);
    if (!ev.data)
        return bg_store_bad_row(s, what, "data", err);
    *ret = ev;
    return 0;
}

static int list_locked(struct bg_store *s, int64_t since, size_t limit, struct bg_event **ret,
                       size_t *ret_n, struct bg_error *err)
{
    static const char sql[] = "SELECT seq, time, type, subject, data FROM events "
                              "WHERE seq > ? ORDER BY seq LIMIT ?";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    struct bg_event *evs = NULL;
    size_t n = 0;
    int r, rc;

    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    (void)sqlite3_bind_int64(stmt, 1, since);
    (void)sqlite3_bind_int64(stmt, 2, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        evs = bg_realloc(evs, (n + 1) * sizeof(*evs));
        if ((r = load_event(s, stmt, &evs[n], err)) < 0) {
            bg_store_events_free(evs, n);
            return r;
        }
        n++;
    }
    if (rc != SQLITE_DONE) {
        bg_store_events_free(evs, n);
        return bg_store_sql_error(s, rc, "list events", err);
    }
    *ret = evs;
    *ret_n = n;
    return 0;
}

int bg_store_event_list(struct bg_store *s, int64_t since, size_t limit, struct bg_event **ret,
                        size_t *ret_n, struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return list_locked(s, since, limit, ret, ret_n, err);
}

void bg_store_events_free(struct bg_event *evs, size_t n)
{
    for (size_t i = 0; evs && i < n; i++)
        free(evs[i].data);
    free(evs);
}

/* latest comes from sqlite_sequence, the AUTOINCREMENT high-water mark, so it stays right even
 * if every event row were gone. */
int bg_store_event_bounds(struct bg_store *s, int64_t *ret_oldest, int64_t *ret_latest,
                          struct bg_error *err)
{
    int64_t oldest, latest;
    int r;

    BG_STORE_LOCKED(s);
    r = bg_store_query_int(s, "SELECT coalesce(min(seq), 0) FROM events", &oldest, err);
    if (r < 0)
        return r;
    r = bg_store_query_int(s,
                           "SELECT coalesce((SELECT seq FROM sqlite_sequence "
                           "WHERE name = 'events'), 0)",
                           &latest, err);
    if (r < 0)
        return r;
    *ret_oldest = oldest;
    *ret_latest = latest;
    return 0;
}
