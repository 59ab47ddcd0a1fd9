/* SPDX-License-Identifier: MIT */
/* Runtime rows of VMs: where each VMM process and its sockets are, for reconcile. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banger/alloc.h"
#include "store/store-internal.h"

#define RT_COLUMNS                                                                                 \
    "vm, vmm, accel, pid, start_time, run_dir, agent_path, control_path, console_path"

static int put_locked(struct bg_store *s, const struct bg_store_runtime *rt, struct bg_error *err)
{
    static const char sql[] = "INSERT OR REPLACE INTO vm_runtime (" RT_COLUMNS
                              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int r, rc;

    if (s->mode == BG_STORE_READ_ONLY)
        return bg_error_set(err, -EROFS, "database %s is open read-only", s->path);
    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    (void)bg_store_bind_text(stmt, 1, rt->vm);
    (void)bg_store_bind_text(stmt, 2, rt->vmm);
    (void)bg_store_bind_text(stmt, 3, rt->accel);
    (void)sqlite3_bind_int64(stmt, 4, rt->pid);
    (void)sqlite3_bind_int64(stmt, 5, (int64_t)rt->start_time);
    (void)bg_store_bind_text(stmt, 6, rt->run_dir ? rt->run_dir : "");
    (void)bg_store_bind_text(stmt, 7, rt->agent_path ? rt->agent_path : "");
    (void)bg_store_bind_text(stmt, 8, rt->control_path ? rt->control_path : "");
    (void)bg_store_bind_text(stmt, 9, rt->console_path ? rt->console_path : "");
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return bg_error_set(err, -ENOENT, "vm '%s' not found", rt->vm);
    if (rc != SQLITE_DONE)
        return bg_store_sql_error(s, rc, "record vm runtime", err);
    return 0;
}

int bg_store_runtime_put(struct bg_store *s, const struct bg_store_runtime *rt,
                         struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return put_locked(s, rt, err);
}

static int load_row(struct bg_store *s, sqlite3_stmt *stmt, struct bg_store_runtime *ret,
                    struct bg_error *err)
{
    struct bg_store_runtime rt = {
        .pid = sqlite3_column_int64(stmt, 3),
        .start_time = (uint64_t)sqlite3_column_int64(stmt, 4),
    };
    char what[BG_NAME_MAX + 32];
    int r;

    const char *name = (const char *)sqlite3_column_text(stmt, 0);

    snprintf(what, sizeof(what), "runtime of vm '%s'", name ? name : "?");
    if ((r = bg_store_col_text(s, stmt, 0, rt.vm, sizeof(rt.vm), what, err)) < 0 ||
        (r = bg_store_col_text(s, stmt, 1, rt.vmm, sizeof(rt.vmm), what, err)) < 0 ||
        (r = bg_store_col_text(s, stmt, 2, rt.accel, sizeof(rt.accel), what, err)) < 0)
        return r;
    if (rt.pid < 0 || rt.pid > (1 << 22))
        return bg_store_bad_row(s, what, "pid", err);
    rt.run_dir = bg_store_col_strdup(stmt, 5);
    rt.agent_path = bg_store_col_strdup(stmt, 6);
    rt.control_path = bg_store_col_strdup(stmt, 7);
    rt.console_path = bg_store_col_strdup(stmt, 8);
    if (!rt.run_dir || !rt.agent_path || !rt.control_path || !rt.console_path) {
        bg_store_runtime_done(&rt);
        return bg_store_bad_row(s, what, "run_dir", err);
    }
    *ret = rt;
    return 0;
}

int bg_store_runtime_get(struct bg_store *s, const char *vm, struct bg_store_runtime *ret,
                         struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int r = bg_store_select_key(s, "SELECT " RT_COLUMNS " FROM vm_runtime WHERE vm = ?", vm,
                                "get vm runtime", &stmt, err);

    if (r == 0)
        return bg_error_set(err, -ENOENT, "vm '%s' has no runtime record", vm);
    return r < 0 ? r : load_row(s, stmt, ret, err);
}

int bg_store_runtime_delete(struct bg_store *s, const char *vm, struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int r, rc;

    if (s->mode == BG_STORE_READ_ONLY)
        return bg_error_set(err, -EROFS, "database %s is open read-only", s->path);
    if ((r = bg_store_prepare_key(s, "DELETE FROM vm_runtime WHERE vm = ?", vm, &stmt, err)) < 0)
        return r;
    if ((rc = sqlite3_step(stmt)) != SQLITE_DONE)
        return bg_store_sql_error(s, rc, "delete vm runtime", err);
    return 0;
}

void bg_store_runtime_done(struct bg_store_runtime *rt)
{
    if (!rt)
        return;
    free(rt->run_dir);
    free(rt->agent_path);
    free(rt->control_path);
    free(rt->console_path);
    memset(rt, 0, sizeof(*rt));
}
