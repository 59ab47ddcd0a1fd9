/* SPDX-License-Identifier: MIT */
/* Image records: insert, get, update, delete (refused while VMs use the image), list. */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banger/alloc.h"
#include "store/store-internal.h"

/* The column list shared by every statement; ?1..?21 bind in this order (bind_image): four
 * fixed columns, three per file in enum bg_image_file_kind order, then COL_SOURCE.. */
#define IMAGE_COLUMNS                                                                              \
    "name, state, arch, vmms, kernel_path, kernel_size, kernel_sha256, rootfs_path, rootfs_size, " \
    "rootfs_sha256, initrd_path, initrd_size, initrd_sha256, vmlinux_path, vmlinux_size, "         \
    "vmlinux_sha256, source, error, created_at, recipe, packages"
#define COL_FILES 4 /* 0-based column of the first file's path */
#define COL_SOURCE (COL_FILES + 3 * BG_IMAGE_FILE_COUNT_)
#define COL_ERROR (COL_SOURCE + 1)
#define COL_CREATED (COL_SOURCE + 2)
#define COL_RECIPE (COL_SOURCE + 3)
#define COL_PACKAGES (COL_SOURCE + 4)

/* How many VM names an -EBUSY message lists before "...". */
#define IMAGE_USERS_LISTED 10

static void bind_image(sqlite3_stmt *stmt, const struct bg_image *img)
{
    (void)bg_store_bind_text(stmt, 1, img->name);
    (void)bg_store_bind_text(stmt, 2, bg_image_state_name(img->state));
    (void)bg_store_bind_text(stmt, 3, img->arch);
    (void)sqlite3_bind_int64(stmt, 4, img->vmms);
    for (int k = 0; k < BG_IMAGE_FILE_COUNT_; k++) {
        const struct bg_image_file *f = &img->files[k];

        /* parameters count from 1, columns from 0 */
        (void)bg_store_bind_text(stmt, COL_FILES + 1 + 3 * k, f->path);
        (void)sqlite3_bind_int64(stmt, COL_FILES + 2 + 3 * k, (int64_t)f->size_bytes);
        (void)bg_store_bind_text(stmt, COL_FILES + 3 + 3 * k, f->sha256);
    }
    (void)bg_store_bind_text(stmt, COL_SOURCE + 1, img->source);
    (void)bg_store_bind_text(stmt, COL_ERROR + 1, img->error);
    /* The update statement leaves ?19 unused (created_at is fixed at insert). */
    (void)sqlite3_bind_int64(stmt, COL_CREATED + 1, img->created_at);
    (void)bg_store_bind_text(stmt, COL_RECIPE + 1, img->recipe);
    (void)bg_store_bind_text(stmt, COL_PACKAGES + 1, img->packages);
}

static int load_files(struct bg_store *s, sqlite3_stmt *stmt, struct bg_image *img,
                      const char *what, struct bg_error *err)
{
    for (int k = 0; k < BG_IMAGE_FILE_COUNT_; k++) {
        struct bg_image_file *f = &img->files[k];
        int r;

        f->path = bg_store_col_strdup(stmt, COL_FILES + 3 * k);
        f->size_bytes = (uint64_t)sqlite3_column_int64(stmt, COL_FILES + 1 + 3 * k);
        r = bg_store_col_text(s, stmt, COL_FILES + 2 + 3 * k, f->sha256, sizeof(f->sha256), what,
                              err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* A row of IMAGE_COLUMNS into *ret, checked like any input. */
static int load_image(struct bg_store *s, sqlite3_stmt *stmt, struct bg_image *ret,
                      struct bg_error *err)
{
    struct bg_image img = {.vmms = (unsigned)sqlite3_column_int64(stmt, 3),
                           .created_at = sqlite3_column_int64(stmt, COL_CREATED)};
    char what[BG_NAME_MAX + 16] = "an image";
    int r;

    if ((r = bg_store_col_text(s, stmt, 0, img.name, sizeof(img.name), what, err)) < 0)
        return r;
    snprintf(what, sizeof(what), "image '%s'", img.name);
    const char *state = (const char *)sqlite3_column_text(stmt, 1);
    if (!state || bg_image_state_parse(state, &img.state) < 0)
        return bg_store_bad_row(s, what, "state", err);
    if ((r = bg_store_col_text(s, stmt, 2, img.arch, sizeof(img.arch), what, err)) < 0)
        return r;
    img.source = bg_store_col_strdup(stmt, COL_SOURCE);
    img.error = bg_store_col_strdup(stmt, COL_ERROR);
    img.recipe = bg_store_col_strdup(stmt, COL_RECIPE);
    img.packages = bg_store_col_strdup(stmt, COL_PACKAGES);
    if ((r = load_files(s, stmt, &img, what, err)) < 0) {
        bg_image_done(&img);
        return r;
    }
    *ret = img;
    return 0;
}

static int get_locked(struct bg_store *s, const char *name, struct bg_image *ret,
                      struct bg_error *err)
{
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    int r = bg_store_select_key(s, "SELECT " IMAGE_COLUMNS " FROM images WHERE name = ?", name,
                                "get image", &stmt, err);

    if (r == 0)
        return bg_error_set(err, -ENOENT, "image '%s' not found", name);
    return r < 0 ? r : load_image(s, stmt, ret, err);
}

static int apply_insert(struct bg_store *s, const void *arg, json_t **ret_data,
                        struct bg_error *err)
{
    static const char sql[] = "INSERT INTO images (" IMAGE_COLUMNS ") VALUES "
                              "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                              "?16, ?17, ?18, ?19, ?20, "
                              "?21)";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    const struct bg_image *img = arg;
    int r, rc;

    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    bind_image(stmt, img);
    rc = sqlite3_step(stmt);
    if ((r = bg_store_insert_result(s, rc, "insert image", "image", img->name, err)) < 0)
        return r;
    *ret_data = bg_image_to_json(img);
    return 0;
}

/* The event carries the row as stored, re-read inside the transaction. */
static int apply_update(struct bg_store *s, const void *arg, json_t **ret_data,
                        struct bg_error *err)
{
    static const char sql[] =
        "UPDATE images SET state = ?2, arch = ?3, vmms = ?4, kernel_path = ?5, kernel_size = ?6, "
        "kernel_sha256 = ?7, rootfs_path = ?8, rootfs_size = ?9, rootfs_sha256 = ?10, "
        "initrd_path = ?11, initrd_size = ?12, initrd_sha256 = ?13, vmlinux_path = ?14, "
        "vmlinux_size = ?15, vmlinux_sha256 = ?16, source = ?17, error = ?18, recipe = ?20, "
        "packages = ?21 WHERE name = ?1";
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    const struct bg_image *img = arg;
    struct bg_image stored;
    int r, rc;

    if ((r = bg_store_prepare(s, sql, &stmt, err)) < 0)
        return r;
    bind_image(stmt, img);
    rc = sqlite3_step(stmt);
    if ((r = bg_store_change_result(s, rc, "update image", "image", img->name, err)) < 0)
        return r;
    if ((r = get_locked(s, img->name, &stored, err)) < 0)
        return r;
    *ret_data = bg_image_to_json(&stored);
    bg_image_done(&stored);
    return 0;
}

/* "a, b, c" from up to IMAGE_USERS_LISTED rows of stmt, then ", ..." when there are more.
 * Returns how many names were found. */
static int users_format(sqlite3_stmt *stmt, char *buf, size_t size)
{
    size_t len = 0;
    int n = 0;

    buf[0] = '\0';
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(stmt, 0);

        if (n == IMAGE_USERS_LISTED) {
            snprintf(buf + len, size - len, ", ...");
            return n + 1;
        }
        int w = snprintf(buf + len, size - len, "%s%s", n ? ", " : "", name ? name : "?");
        len = w < 0 || (size_t)w >= size - len ? size - 1 : len + (size_t)w;
        n++;
    }
    return n;
}

static int check_unused(struct bg_store *s, const char *name, struct bg_error *err)
{
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    char users[BG_ERROR_MSG_MAX];
    int r;

    r = bg_store_prepare(s, "SELECT name FROM vms WHERE image = ? ORDER BY name LIMIT ?", &stmt,
                         err);
    if (r < 0)
        return r;
    (void)bg_store_bind_text(stmt, 1, name);
    (void)sqlite3_bind_int(stmt, 2, IMAGE_USERS_LISTED + 1);
    if (users_format(stmt, users, sizeof(users)) > 0)
        return bg_error_set(err, -EBUSY, "image '%s' is used by VMs: %s", name, users);
    return 0;
}

static int apply_delete(struct bg_store *s, const void *arg, json_t **ret_data,
                        struct bg_error *err)
{
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    const char *name = arg;
    int r, rc;

    if ((r = check_unused(s, name, err)) < 0)
        return r;
    if ((r = bg_store_prepare_key(s, "DELETE FROM images WHERE name = ?", name, &stmt, err)) < 0)
        return r;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return bg_error_set(err, -EBUSY, "image '%s' is used by VMs", name);
    if ((r = bg_store_change_result(s, rc, "delete image", "image", name, err)) < 0)
        return r;
    *ret_data = json_pack("{s:s}", "name", name);
    return 0;
}

static int write_image(struct bg_store *s, const char *type, const char *name,
                       bg_store_apply_fn apply, const void *arg, int64_t *ret_seq,
                       struct bg_error *err)
{
    return bg_store_write_named(s, type, "/v1/images", name, apply, arg, ret_seq, err);
}

int bg_store_image_insert(struct bg_store *s, const struct bg_image *img, int64_t *ret_seq,
                          struct bg_error *err)
{
    return write_image(s, "image.created", img->name, apply_insert, img, ret_seq, err);
}

int bg_store_image_update(struct bg_store *s, const struct bg_image *img, int64_t *ret_seq,
                          struct bg_error *err)
{
    return write_image(s, "image.updated", img->name, apply_update, img, ret_seq, err);
}

int bg_store_image_delete(struct bg_store *s, const char *name, int64_t *ret_seq,
                          struct bg_error *err)
{
    return write_image(s, "image.deleted", name, apply_delete, name, ret_seq, err);
}

int bg_store_image_get(struct bg_store *s, const char *name, struct bg_image *ret,
                       struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return get_locked(s, name, ret, err);
}

static int list_locked(struct bg_store *s, struct bg_image **ret, size_t *ret_n,
                       struct bg_error *err)
{
    bg_auto(bg_store_stmt_finalizep) sqlite3_stmt *stmt = NULL;
    struct bg_image *imgs = NULL;
    size_t n = 0;
    int r, rc;

    r = bg_store_prepare(s, "SELECT " IMAGE_COLUMNS " FROM images ORDER BY name", &stmt, err);
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        imgs = bg_realloc(imgs, (n + 1) * sizeof(*imgs));
        if ((r = load_image(s, stmt, &imgs[n], err)) < 0) {
            bg_store_images_free(imgs, n);
            return r;
        }
        n++;
    }
    if (rc != SQLITE_DONE) {
        bg_store_images_free(imgs, n);
        return bg_store_sql_error(s, rc, "list images", err);
    }
    *ret = imgs;
    *ret_n = n;
    return 0;
}

int bg_store_image_list(struct bg_store *s, struct bg_image **ret, size_t *ret_n,
                        struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return list_locked(s, ret, ret_n, err);
}

void bg_store_images_free(struct bg_image *imgs, size_t n)
{
    for (size_t i = 0; imgs && i < n; i++)
        bg_image_done(&imgs[i]);
    free(imgs);
}

int bg_store_image_count(struct bg_store *s, int64_t *ret, struct bg_error *err)
{
    BG_STORE_LOCKED(s);
    return bg_store_query_int(s, "SELECT count(*) FROM images", ret, err);
}
