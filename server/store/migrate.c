/* SPDX-License-Identifier: MIT */
/* Store schema: the ordered migration steps, and the checks that refuse foreign or newer files. */
#include "store/migrate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store/store-internal.h"

/* One step: running sql on a database at version - 1 brings it to version. */
struct bg_migration {
    int version;
    const char *sql;
};

/* Version 1, the baseline. Tables are STRICT so a row never holds a value of another type;
 * states are stored by name so the file reads well in the sqlite3 shell. */
static const char schema_v1[] =
    "CREATE TABLE images ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  state TEXT NOT NULL,"
    "  arch TEXT NOT NULL,"
    "  vmms INTEGER NOT NULL,"
    "  kernel_path TEXT, kernel_size INTEGER NOT NULL, kernel_sha256 TEXT NOT NULL,"
    "  rootfs_path TEXT, rootfs_size INTEGER NOT NULL, rootfs_sha256 TEXT NOT NULL,"
    "  initrd_path TEXT, initrd_size INTEGER NOT NULL, initrd_sha256 TEXT NOT NULL,"
    "  source TEXT,"
    "  error TEXT,"
    "  created_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE vms ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  image TEXT NOT NULL REFERENCES images(name) ON DELETE RESTRICT,"
    "  state TEXT NOT NULL,"
    "  vcpus INTEGER NOT NULL,"
    "  memory_mib INTEGER NOT NULL,"
    "  disk_mib INTEGER NOT NULL,"
    "  nat INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX vms_image ON vms(image);"
    "CREATE TABLE leases ("
    "  vm TEXT PRIMARY KEY NOT NULL REFERENCES vms(name) ON DELETE CASCADE,"
    "  address TEXT NOT NULL UNIQUE,"
    "  mac TEXT NOT NULL UNIQUE,"
    "  leased_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE tokens ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  name TEXT NOT NULL UNIQUE,"
    "  hash BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  last_used_at INTEGER,"
    "  expires_at INTEGER"
    ") STRICT;"
    "CREATE TABLE operations ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  done INTEGER NOT NULL,"
    "  total INTEGER NOT NULL,"
    "  unit TEXT NOT NULL,"
    "  error TEXT,"
    "  result TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX operations_created ON operations(created_at, id);"
    /* AUTOINCREMENT: seq is never reused, even once the newest events were pruned or deleted. */
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time INTEGER NOT NULL,"
    "  type TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  data TEXT NOT NULL"
    ") STRICT;";

/* Version 2: running VMs. The VM record gains what the API shows of the last start (vmm,
 * error, started_at); vm_runtime holds what reconcile needs to find a VMM process again after
 * a daemon restart. A row exists from just before the VMM is spawned (pid 0 until it is known)
 * until its files are cleaned up. */
static const char schema_v2[] =
    "ALTER TABLE vms ADD COLUMN vmm TEXT;"
    "ALTER TABLE vms ADD COLUMN error TEXT;"
    "ALTER TABLE vms ADD COLUMN started_at INTEGER;"
    "CREATE TABLE vm_runtime ("
    "  vm TEXT PRIMARY KEY NOT NULL REFERENCES vms(name) ON DELETE CASCADE,"
    "  vmm TEXT NOT NULL,"
    "  accel TEXT NOT NULL,"
    "  pid INTEGER NOT NULL,"
    "  start_time INTEGER NOT NULL,"
    "  run_dir TEXT NOT NULL,"
    "  agent_path TEXT NOT NULL,"
    "  control_path TEXT NOT NULL,"
    "  console_path TEXT NOT NULL"
    ") STRICT;";

/* Version 3: an operation says what it is doing now, for humans ("download PKG", "unpack"). */
static const char schema_v3[] = "ALTER TABLE operations ADD COLUMN step TEXT NOT NULL DEFAULT '';";

/* Version 4: an image may carry an ELF vmlinux for Firecracker beside a bzImage kernel. Images
 * built before it recorded none, so their kernel (a bzImage) is not Firecracker's: they lose
 * the firecracker bit (rebuilding them gives it back). */
static const char schema_v4[] =
    "ALTER TABLE images ADD COLUMN vmlinux_path TEXT;"
    "ALTER TABLE images ADD COLUMN vmlinux_size INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE images ADD COLUMN vmlinux_sha256 TEXT NOT NULL DEFAULT '';"
    "UPDATE images SET vmms = vmms & ~2 WHERE source = 'build:debian';";

/* Version 5: a VM may be tied to the connection that made it (auto_remove): the daemon deletes
 * it when that connection closes, and at its next start when it died meanwhile. */
static const char schema_v5[] =
    "ALTER TABLE vms ADD COLUMN auto_remove INTEGER NOT NULL DEFAULT 0;";

/* Version 6: a built image records its recipe and the packages it asked for; an operation's
 * step may count something of its own (bytes downloaded, packages set up). */
static const char schema_v6[] = "ALTER TABLE images ADD COLUMN recipe TEXT;"
                                "ALTER TABLE images ADD COLUMN packages TEXT;"
                                "UPDATE images SET recipe = 'minimal', packages = "
                                "'linux-image-cloud-amd64 busybox-static' "
                                "WHERE source = 'build:debian';"
                                "ALTER TABLE operations ADD COLUMN step_done INTEGER NOT NULL "
                                "DEFAULT 0;"
                                "ALTER TABLE operations ADD COLUMN step_total INTEGER NOT NULL "
                                "DEFAULT 0;"
                                "ALTER TABLE operations ADD COLUMN step_unit TEXT NOT NULL "
                                "DEFAULT '';";

/* Version 7: a token holds scopes (a bit set, enum bg_scope); the table was unused before. */
static const char schema_v7[] = "ALTER TABLE tokens ADD COLUMN scopes INTEGER NOT NULL DEFAULT 0;";

/* Ordered by version, contiguous from 1 to BG_STORE_SCHEMA_VERSION. */
static const struct bg_migration migrations[] = {
    {1, schema_v1}, {2, schema_v2}, {3, schema_v3}, {4, schema_v4},
    {5, schema_v5}, {6, schema_v6}, {7, schema_v7},
};

_Static_assert(BG_ARRAY_SIZE(migrations) == BG_STORE_SCHEMA_VERSION,
               "one migration step per schema version");

/* What the file's header and schema say about it. */
struct bg_migrate_header {
    int64_t application_id;
    int64_t version;
    int64_t tables; /* rows of sqlite_schema */
};

/* detail may span lines (quick_check's report); messages are one line. */
static int db_error(int rc, const char *path, const char *what, const char *raw,
                    struct bg_error *err)
{
    int code = bg_store_errno_from_sqlite(rc);
    char detail[256];

    snprintf(detail, sizeof(detail), "%s", raw);
    for (char *p = detail; *p; p++)
        if (*p == '\n')
            *p = ' ';

    if (code == -EBADMSG)
        return bg_error_set(err, code,
                            "database %s is not a banger database or is corrupt (%s); "
                            "it will not be touched",
                            path, detail);
    return bg_error_set(err, code, "database %s: %s: %s", path, what, detail);
}

static int read_int(sqlite3 *db, const char *path, const char *sql, int64_t *ret,
                    struct bg_error *err)
{
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW)
        return db_error(rc, path, sql, sqlite3_errmsg(db), err);
    *ret = sqlite3_column_int64(stmt, 0);
    return 0;
}

static int read_header(sqlite3 *db, const char *path, struct bg_migrate_header *ret,
                       struct bg_error *err)
{
    struct bg_migrate_header h = {0};
    int r;

    if ((r = read_int(db, path, "PRAGMA application_id", &h.application_id, err)) < 0)
        return r;
    if ((r = read_int(db, path, "PRAGMA user_version", &h.version, err)) < 0)
        return r;
    if ((r = read_int(db, path, "SELECT count(*) FROM sqlite_schema", &h.tables, err)) < 0)
        return r;
    *ret = h;
    return 0;
}

static int quick_check(sqlite3 *db, const char *path, struct bg_error *err)
{
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &stmt, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW)
        return db_error(rc, path, "quick_check", sqlite3_errmsg(db), err);
    const char *verdict = (const char *)sqlite3_column_text(stmt, 0);
    if (!verdict || strcmp(verdict, "ok") != 0)
        return db_error(SQLITE_CORRUPT, path, "quick_check", verdict ? verdict : "no verdict", err);
    return 0;
}

/* Refuse what this build must not open; h describes a readable SQLite file. */
static int judge(const struct bg_migrate_header *h, const char *path, enum bg_store_mode mode,
                 struct bg_error *err)
{
    bool fresh = h->application_id == 0 && h->version == 0 && h->tables == 0;

    if (!fresh && h->application_id != BG_MIGRATE_APPLICATION_ID)
        return bg_error_set(err, -EBADMSG,
                            "database %s is not a banger database (an SQLite file of another "
                            "application, application_id 0x%08" PRIx64 "); it will not be touched",
                            path, (uint64_t)(uint32_t)h->application_id);
    if (h->version > BG_STORE_SCHEMA_VERSION)
        return bg_error_set(err, -EPROTO,
                            "database %s has schema version %" PRId64 ", newer than this bangerd "
                            "understands (%d); upgrade banger or restore a backup",
                            path, h->version, BG_STORE_SCHEMA_VERSION);
    if (mode == BG_STORE_READ_ONLY && h->version < BG_STORE_SCHEMA_VERSION)
        return bg_error_set(err, -EPROTO,
                            "database %s has schema version %" PRId64 ", older than this "
                            "bangerd's (%d), and needs migrating; start bangerd (read-write) once",
                            path, h->version, BG_STORE_SCHEMA_VERSION);
    return 0;
}

int bg_migrate_check(sqlite3 *db, const char *path, enum bg_store_mode mode, int *ret_version,
                     struct bg_error *err)
{
    struct bg_migrate_header h = {0};
    int r;

    if ((r = read_header(db, path, &h, err)) < 0)
        return r;
    if ((r = judge(&h, path, mode, err)) < 0)
        return r;
    if (h.tables > 0 && (r = quick_check(db, path, err)) < 0)
        return r;
    *ret_version = (int)h.version;
    return 0;
}

static int exec_sql(sqlite3 *db, const char *path, const char *sql, const char *what,
                    struct bg_error *err)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        return db_error(rc, path, what, sqlite3_errmsg(db), err);
    return 0;
}

/* The body of one step, inside its transaction. Pragmas take no bound parameters; the values
 * formatted here are this build's constants, never input. */
static int apply_step(sqlite3 *db, const char *path, const struct bg_migration *m,
                      struct bg_error *err)
{
    char pragma[96];
    char what[48];
    int r;

    snprintf(what, sizeof(what), "migrate to schema version %d", m->version);
    if ((r = exec_sql(db, path, m->sql, what, err)) < 0)
        return r;
    snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", m->version);
    if ((r = exec_sql(db, path, pragma, what, err)) < 0)
        return r;
    if (m->version == 1) {
        snprintf(pragma, sizeof(pragma), "PRAGMA application_id = %d", BG_MIGRATE_APPLICATION_ID);
        r = exec_sql(db, path, pragma, what, err);
    }
    return r;
}

/* One step in one transaction. The version is read again under the write lock, so a second
 * bangerd migrating the same file at the same time does not apply a step twice. */
static int run_step(sqlite3 *db, const char *path, const struct bg_migration *m,
                    struct bg_error *err)
{
    int64_t now = 0;
    int r;

    if ((r = exec_sql(db, path, "BEGIN IMMEDIATE", "begin migration", err)) < 0)
        return r;
    r = read_int(db, path, "PRAGMA user_version", &now, err);
    if (r == 0 && now < m->version)
        r = apply_step(db, path, m, err);
    if (r == 0)
        r = exec_sql(db, path, "COMMIT", "commit migration", err);
    if (r < 0)
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

int bg_migrate_run(sqlite3 *db, const char *path, int from, struct bg_error *err)
{
    for (size_t i = 0; i < BG_ARRAY_SIZE(migrations); i++) {
        int r;

        if (migrations[i].version <= from)
            continue;
        if ((r = run_step(db, path, &migrations[i], err)) < 0)
            return r;
    }
    return 0;
}
