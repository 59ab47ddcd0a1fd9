/* SPDX-License-Identifier: MIT */
/* The image commands: list, show, import and build (waiting on the operation), delete. */
#include "cmd_image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"
#include "http.h"
#include "output.h"
#include "progress.h"
#include "request.h"
#include "table.h"

#define WAIT_POLL "?wait=1" /* one second per poll keeps the progress line moving */

static const char *file_base(const json_t *image, const char *key)
{
    const char *path = json_string_value(json_object_get(json_object_get(image, key), "path"));
    const char *slash = path ? strrchr(path, '/') : NULL;

    return slash ? slash + 1 : path ? path : "-";
}

static uint64_t image_bytes(const json_t *image)
{
    return bg_cli_json_u64(json_object_get(image, "kernel"), "size_bytes") +
           bg_cli_json_u64(json_object_get(image, "rootfs"), "size_bytes") +
           bg_cli_json_u64(json_object_get(image, "initrd"), "size_bytes") +
           bg_cli_json_u64(json_object_get(image, "vmlinux"), "size_bytes");
}

/* Whether vmm is listed in the image's vmms_unproven. */
static bool unproven(const json_t *image, const char *vmm)
{
    size_t i;
    json_t *v;

    json_array_foreach (json_object_get(image, "vmms_unproven"), i, v)
        if (json_string_value(v) && !strcmp(json_string_value(v), vmm))
            return true;
    return false;
}

/* "firecracker,qemu" into buf; with marked, "firecracker (not yet proven),qemu". */
static char *join_vmms(const json_t *image, bool marked, char buf[BG_CLI_TEXT_MAX])
{
    size_t i;
    json_t *v;

    buf[0] = '\0';
    json_array_foreach (json_object_get(image, "vmms"), i, v) {
        const char *name = json_string_value(v) ? json_string_value(v) : "?";
        size_t len = strlen(buf);
        snprintf(buf + len, BG_CLI_TEXT_MAX - len, "%s%s%s", i ? "," : "", name,
                 marked && unproven(image, name) ? " (not yet proven)" : "");
    }
    return buf[0] ? buf : strcpy(buf, "-");
}

/* The table of GET /v1/images. */
static void print_image_table(const json_t *answer)
{
    static const char *const head[] = {"NAME",   "STATE",  "ARCH", "VMMS",
                                       "KERNEL", "ROOTFS", "SIZE", "CREATED"};
    bg_auto(bg_cli_table_freep) struct bg_cli_table *t = bg_cli_table_new(head, 8);
    time_t now = time(NULL);
    size_t i;
    json_t *img;

    json_array_foreach (json_object_get(answer, "images"), i, img) {
        char vmms[BG_CLI_TEXT_MAX], size[BG_CLI_TEXT_MAX], age[BG_CLI_TEXT_MAX];
        const char *row[] = {
            bg_cli_json_str(img, "name"),
            bg_cli_json_str(img, "state"),
            bg_cli_json_str(img, "arch"),
            join_vmms(img, false, vmms),
            file_base(img, "kernel"),
            file_base(img, "rootfs"),
            bg_cli_output_size(image_bytes(img), size),
            bg_cli_output_age(json_string_value(json_object_get(img, "created_at")), now, age)};
        bg_cli_table_add(t, row);
    }
    bg_cli_table_print(t, stdout);
}

static int image_ls(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    return bg_cli_request_print(socket, "GET", "/v1/images", NULL, a->json, print_image_table, err);
}

/* "kernel:  /path/vmlinux (21.4 MiB, sha256 0123456789ab)" or "-". */
static void print_file_field(const char *key, const json_t *file)
{
    char size[BG_CLI_TEXT_MAX];
    const char *sha = json_string_value(json_object_get(file, "sha256"));
    bg_autofree char *line = NULL;

    if (!json_is_object(file)) {
        bg_cli_output_field(stdout, key, "-");
        return;
    }
    line = bg_asprintf("%s (%s, sha256 %.12s)", bg_cli_json_str(file, "path"),
                       bg_cli_output_size(bg_cli_json_u64(file, "size_bytes"), size),
                       sha ? sha : "pending");
    bg_cli_output_field(stdout, key, line);
}

/* "recipe:  dev (build-essential, ca-certificates, ...)"; nothing for an imported image. */
static void print_recipe(const json_t *recipe)
{
    bg_autofree char *line = NULL;
    size_t i;
    json_t *v;

    if (!json_is_object(recipe))
        return;
    line = bg_asprintf("%s (", bg_cli_json_str(recipe, "name"));
    json_array_foreach (json_object_get(recipe, "packages"), i, v) {
        char *next = bg_asprintf("%s%s%s", line, i ? ", " : "",
                                 json_string_value(v) ? json_string_value(v) : "?");
        free(line);
        line = next;
    }
    char *next = bg_asprintf("%s)", line);
    free(line);
    line = next;
    bg_cli_output_field(stdout, "recipe", line);
}

static void print_image(const json_t *img)
{
    char vmms[BG_CLI_TEXT_MAX];

    bg_cli_output_field(stdout, "name", bg_cli_json_str(img, "name"));
    bg_cli_output_field(stdout, "state", bg_cli_json_str(img, "state"));
    bg_cli_output_field(stdout, "arch", bg_cli_json_str(img, "arch"));
    bg_cli_output_field(stdout, "vmms", join_vmms(img, true, vmms));
    print_file_field("kernel", json_object_get(img, "kernel"));
    print_file_field("rootfs", json_object_get(img, "rootfs"));
    print_file_field("initrd", json_object_get(img, "initrd"));
    print_file_field("vmlinux", json_object_get(img, "vmlinux"));
    bg_cli_output_field(stdout, "source", bg_cli_json_str(img, "source"));
    print_recipe(json_object_get(img, "recipe"));
    if (json_is_string(json_object_get(img, "error")))
        bg_cli_output_field(stdout, "error", bg_cli_json_str(img, "error"));
    bg_cli_output_created(stdout, img);
}

static int image_show(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_autofree char *path = bg_cli_request_path("/v1/images", a->name);

    return bg_cli_request_print(socket, "GET", path, NULL, a->json, print_image, err);
}

static int image_rm(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_autofree char *path = bg_cli_request_path("/v1/images", a->name);

    return bg_cli_request_delete(socket, path, a->json, "image", a->name, err);
}

/* Set body[key] to path made absolute; relative paths resolve against the working directory. */
static int add_path(json_t *body, const char *key, const char *path, struct bg_error *err)
{
    bg_autofree char *abs = NULL;

    if (!path)
        return 0;
    abs = path[0] == '/' ? bg_strdup(path) : realpath(path, NULL);
    if (!abs)
        return bg_error_errno(err, "--%s '%s'", key, path);
    if (json_object_set_new(body, key, json_string(abs)) < 0)
        return bg_error_set(err, -EINVAL, "--%s '%s' is not valid UTF-8", key, path);
    return 0;
}

/* One progress update. On a terminal the line is redrawn in place: the step, a bar of what
 * the step (or, for bytes, the whole operation) counts, and the time so far. Elsewhere one line
 * per new step, so logs show how far a build got. */
static void draw_progress(struct bg_cli_progress *p, const char *verb, const char *name,
                          const json_t *prog, int64_t t0, char last_step[BG_CLI_PROGRESS_MAX])
{
    struct bg_cli_progress_state s = {
        .done = bg_cli_json_u64(prog, "done"),
        .total = bg_cli_json_u64(prog, "total"),
        .unit = json_string_value(json_object_get(prog, "unit")),
        .step = json_string_value(json_object_get(prog, "step")),
        .step_done = bg_cli_json_u64(prog, "step_done"),
        .step_total = bg_cli_json_u64(prog, "step_total"),
        .step_unit = json_string_value(json_object_get(prog, "step_unit")),
    };
    char line[BG_CLI_PROGRESS_MAX];

    if (p->tty) {
        bg_cli_progress_update_text(
            p, bg_cli_progress_line(verb, name, &s, (bg_now_ms() - t0) / 1000, p->width, line));
        return;
    }
    if (!s.step || !strcmp(s.step, last_step))
        return;
    fprintf(p->f, "%s\n", bg_cli_progress_line(verb, name, &s, -1, 0, line));
    snprintf(last_step, BG_CLI_PROGRESS_MAX, "%s", s.step);
}

/* Poll the operation *op until it leaves "running", drawing progress on stderr. */
static int wait_operation(const char *socket, const char *verb, const char *name, json_t **op,
                          struct bg_error *err)
{
    bg_autofree char *id = bg_cli_http_escape(bg_cli_json_str(*op, "id"));
    bg_autofree char *path = bg_asprintf("/v1/operations/%s" WAIT_POLL, id);
    char last_step[BG_CLI_PROGRESS_MAX] = "";
    struct bg_cli_progress p;
    int64_t t0 = bg_now_ms();
    int r = 0;

    bg_cli_progress_init(&p, stderr);
    while (r >= 0 && !strcmp(bg_cli_json_str(*op, "state"), "running")) {
        const json_t *prog = json_object_get(*op, "progress");
        json_t *next = NULL;
        draw_progress(&p, verb, name, prog, t0, last_step);
        r = bg_cli_http_call(socket, "GET", path, NULL, &next, err);
        if (r >= 0) {
            json_decref(*op);
            *op = next;
        }
    }
    bg_cli_progress_done(&p);
    if (r >= 0 && !p.tty && !strcmp(bg_cli_json_str(*op, "state"), "succeeded"))
        fprintf(p.f, "%s %s  done in %.1f s\n", verb, name, (double)(bg_now_ms() - t0) / 1000);
    return r;
}

/* verb: "import", "build". */
static int op_outcome(const json_t *op, const char *verb, const char *name, struct bg_error *err)
{
    const char *state = bg_cli_json_str(op, "state");
    const json_t *problem = json_object_get(op, "error");

    if (!strcmp(state, "succeeded"))
        return 0;
    if (!strcmp(state, "failed"))
        return bg_error_set(err, -EIO, "%s image '%s' failed: %s", verb, name,
                            json_is_object(problem) ? bg_cli_json_str(problem, "detail")
                                                    : "no reason given");
    return bg_error_set(err, -EPROTO, "%s image '%s': operation ended in state '%s'", verb, name,
                        state);
}

/* After POST of an import or build answered with op: with --no-wait print the operation,
 * else wait for it and show the image. verb: "import", "build"; ing: "importing", ... */
static int follow_operation(const char *socket, const struct bg_cli_args *a, json_t **op,
                            const char *verb, const char *ing, struct bg_error *err)
{
    int r;

    if (a->given & BG_CLI_FLAG_NO_WAIT) {
        if (a->json)
            bg_cli_output_json(stdout, *op);
        else
            printf("%s image '%s' (operation %s)\n", ing, a->name, bg_cli_json_str(*op, "id"));
        return 0;
    }
    r = wait_operation(socket, ing, a->name, op, err);
    if (r >= 0)
        r = op_outcome(*op, verb, a->name, err);
    return r < 0 ? r : image_show(socket, a, err);
}

static int image_import(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_auto(bg_cli_json_decrefp) json_t *body = json_pack("{s:s}", "name", a->name);
    bg_auto(bg_cli_json_decrefp) json_t *op = NULL;
    int r;

    if ((r = add_path(body, "kernel", a->kernel, err)) < 0 ||
        (r = add_path(body, "rootfs", a->rootfs, err)) < 0 ||
        (r = add_path(body, "initrd", a->initrd, err)) < 0 ||
        (r = add_path(body, "vmlinux", a->vmlinux, err)) < 0)
        return r;
    r = bg_cli_http_call(socket, "POST", "/v1/images", body, &op, err);
    if (r < 0)
        return r;
    return follow_operation(socket, a, &op, "import", "importing", err);
}

/* --packages "a,b c" as the JSON array ["a", "b", "c"] (names checked by the parser). */
static json_t *package_array(const char *text)
{
    json_t *list = json_array();

    for (const char *p = text;;) {
        p += strspn(p, ", \t");
        if (!*p)
            return list;
        size_t n = strcspn(p, ", \t");
        json_array_append_new(list, json_stringn(p, n));
        p += n;
    }
}

static int image_build(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    struct bg_cli_args shown = *a;
    bg_auto(bg_cli_json_decrefp) json_t *body = json_object();
    bg_auto(bg_cli_json_decrefp) json_t *op = NULL;
    int r;

    shown.name = a->name ? a->name : "default"; /* the daemon's default too */
    if (a->name)
        json_object_set_new(body, "name", json_string(a->name));
    if (a->recipe)
        json_object_set_new(body, "recipe", json_string(a->recipe));
    if (a->packages)
        json_object_set_new(body, "packages", package_array(a->packages));
    r = bg_cli_http_call(socket, "POST", "/v1/images/build", body, &op, err);
    if (r < 0)
        return r;
    return follow_operation(socket, &shown, &op, "build", "building", err);
}

int bg_cli_image_run(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    switch (bg_cli_args_cmd(a)) {
    case BG_CLI_CMD_IMAGE_LS:
        return image_ls(socket, a, err);
    case BG_CLI_CMD_IMAGE_SHOW:
        return image_show(socket, a, err);
    case BG_CLI_CMD_IMAGE_IMPORT:
        return image_import(socket, a, err);
    case BG_CLI_CMD_IMAGE_RM:
        return image_rm(socket, a, err);
    case BG_CLI_CMD_IMAGE_BUILD:
        return image_build(socket, a, err);
    default:
        return bg_error_set(err, -EINVAL, "not an image command");
    }
}
