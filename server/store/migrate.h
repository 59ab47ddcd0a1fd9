/* SPDX-License-Identifier: MIT */
/* Schema versions of the store: recognising a banger database and migrating it forward. */
#pragma once

#include <sqlite3.h>
#include <stdint.h>

#include "banger/error.h"
#include "store/store.h"

/* PRAGMA application_id of every banger database: "bang" in ASCII. */
#define BG_MIGRATE_APPLICATION_ID 0x62616e67

/* Decide whether the freshly opened db (at path, for messages) may be used in mode, reading its
 * header and, unless it is empty, running PRAGMA quick_check. Writes nothing. Returns 0 with its
 * schema version in *ret_version (0: a fresh file), -EBADMSG when it is not a banger database or
 * is corrupt, -EPROTO when its schema is newer than BG_STORE_SCHEMA_VERSION or, read-only,
 * older. */
int bg_migrate_check(sqlite3 *db, const char *path, enum bg_store_mode mode, int *ret_version,
                     struct bg_error *err);

/* Migrate db from version from to BG_STORE_SCHEMA_VERSION, one transaction per step (each also
 * sets user_version; the first also application_id). Returns 0 or -errno with err set. */
int bg_migrate_run(sqlite3 *db, const char *path, int from, struct bg_error *err);
