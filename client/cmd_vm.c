/* SPDX-License-Identifier: MIT */
/* The VM commands: list, create, show, change (merge patch), delete, start, stop, console. */
#include "cmd_vm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"
#include "http.h"
#include "output.h"
#include "request.h"
#include "table.h"

static char *vm_path(const char *name)
{
    return bg_cli_request_path("/v1/vms", name);
}

static char *mib(const json_t *vm, const char *key, char buf[BG_CLI_TEXT_MAX])
{
    snprintf(buf, BG_CLI_TEXT_MAX, "%llu MiB", (unsigned long long)bg_cli_json_u64(vm, key));
    return buf;
}

/* The table of GET /v1/vms. */
static void print_vm_table(const json_t *answer)
{
    static const char *const head[] = {"NAME",   "IMAGE", "STATE", "VCPUS",
                                       "MEMORY", "DISK",  "NAT",   "CREATED"};
    bg_auto(bg_cli_table_freep) struct bg_cli_table *t = bg_cli_table_new(head, 8);
    time_t now = time(NULL);
    size_t i;
    json_t *vm;

    json_array_foreach (json_object_get(answer, "vms"), i, vm) {
        char vcpus[BG_CLI_TEXT_MAX], mem[BG_CLI_TEXT_MAX], disk[BG_CLI_TEXT_MAX];
        char age[BG_CLI_TEXT_MAX];
        snprintf(vcpus, sizeof(vcpus), "%llu", (unsigned long long)bg_cli_json_u64(vm, "vcpus"));
        const char *row[] = {
            bg_cli_json_str(vm, "name"),
            bg_cli_json_str(vm, "image"),
            bg_cli_json_str(vm, "state"),
            vcpus,
            mib(vm, "memory_mib", mem),
            mib(vm, "disk_mib", disk),
            bg_cli_json_onoff(vm, "nat"),
            bg_cli_output_age(json_string_value(json_object_get(vm, "created_at")), now, age)};
        bg_cli_table_add(t, row);
    }
    bg_cli_table_print(t, stdout);
}

static int vm_ls(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_autofree char *state = a->state ? bg_cli_http_escape(a->state) : NULL;
    bg_autofree char *path = state ? bg_asprintf("/v1/vms?state=%s", state) : bg_strdup("/v1/vms");

    return bg_cli_request_print(socket, "GET", path, NULL, a->json, print_vm_table, err);
}

static void print_vm(const json_t *vm)
{
    char buf[BG_CLI_TEXT_MAX];

    bg_cli_output_field(stdout, "name", bg_cli_json_str(vm, "name"));
    bg_cli_output_field(stdout, "image", bg_cli_json_str(vm, "image"));
    bg_cli_output_field(stdout, "state", bg_cli_json_str(vm, "state"));
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)bg_cli_json_u64(vm, "vcpus"));
    bg_cli_output_field(stdout, "vcpus", buf);
    bg_cli_output_field(stdout, "memory", mib(vm, "memory_mib", buf));
    bg_cli_output_field(stdout, "disk", mib(vm, "disk_mib", buf));
    bg_cli_output_field(stdout, "nat", bg_cli_json_onoff(vm, "nat"));
    bg_cli_output_field(stdout, "vmm", bg_cli_json_str(vm, "vmm"));
    bg_cli_output_field(stdout, "started", bg_cli_json_str(vm, "started_at"));
    if (json_is_string(json_object_get(vm, "error")))
        bg_cli_output_field(stdout, "error", bg_cli_json_str(vm, "error"));
    bg_cli_output_created(stdout, vm);
    bg_cli_output_field(stdout, "updated", bg_cli_json_str(vm, "updated_at"));
}

static int vm_show(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_autofree char *path = vm_path(a->name);

    return bg_cli_request_print(socket, "GET", path, NULL, a->json, print_vm, err);
}

/* The members of a VM body that flags set: vcpus, memory_mib, disk_mib, nat. */
static void add_size_fields(json_t *body, const struct bg_cli_args *a)
{
    /* json_*_new setters steal the new value's reference */
    if (a->given & BG_CLI_FLAG_VCPUS)
        (void)json_object_set_new(body, "vcpus", json_integer((json_int_t)a->vcpus));
    if (a->given & BG_CLI_FLAG_MEMORY)
        (void)json_object_set_new(body, "memory_mib", json_integer((json_int_t)a->memory_mib));
    if (a->given & BG_CLI_FLAG_DISK)
        (void)json_object_set_new(body, "disk_mib", json_integer((json_int_t)a->disk_mib));
    if (a->given & (BG_CLI_FLAG_NAT | BG_CLI_FLAG_NO_NAT))
        (void)json_object_set_new(body, "nat", json_boolean(a->given & BG_CLI_FLAG_NAT));
}

/* "(image base, 2 vcpus, 1024 MiB memory, 8192 MiB disk, nat off)" after verb. */
static void print_summary(const char *verb, const json_t *vm, bool with_image)
{
    printf("%s vm '%s' (", verb, bg_cli_json_str(vm, "name"));
    if (with_image)
        printf("image %s, ", bg_cli_json_str(vm, "image"));
    printf("%llu vcpus, %llu MiB memory, %llu MiB disk, nat %s)\n",
           (unsigned long long)bg_cli_json_u64(vm, "vcpus"),
           (unsigned long long)bg_cli_json_u64(vm, "memory_mib"),
           (unsigned long long)bg_cli_json_u64(vm, "disk_mib"), bg_cli_json_onoff(vm, "nat"));
}

static int64_t progress_t0;

/* "starting web1 ..." on stderr while the daemon boots the VM. */
static void start_progress(const char *name)
{
    progress_t0 = bg_now_ms();
    fprintf(stderr, "starting %s ...", name);
    fflush(stderr);
}

/* " agent ready in 2.3 s" (the daemon's boot time when it says, else the wall time). */
static void end_progress(int r, const json_t *vm)
{
    const json_t *boot = json_object_get(json_object_get(vm, "timings"), "boot_ms");
    double s = (double)(bg_now_ms() - progress_t0) / 1000.0;

    if (r < 0) {
        fputs(" failed\n", stderr);
        return;
    }
    if (json_is_integer(boot))
        s = (double)json_integer_value(boot) / 1000.0;
    fprintf(stderr, " agent ready in %.1f s\n", s);
}

static int vm_send(const char *socket, const struct bg_cli_args *a, bool create,
                   struct bg_error *err)
{
    bg_auto(bg_cli_json_decrefp) json_t *body = json_object();
    bg_auto(bg_cli_json_decrefp) json_t *vm = NULL;
    bg_autofree char *path = create ? bg_strdup("/v1/vms") : vm_path(a->name);
    int r;

    bool start = create && (a->given & BG_CLI_FLAG_START);

    if (create) {
        (void)json_object_set_new(body, "name", json_string(a->name));
        /* without --image the daemon picks its vm_default_image */
        if (a->image)
            (void)json_object_set_new(body, "image", json_string(a->image));
    }
    if (start)
        (void)json_object_set_new(body, "start", json_true());
    add_size_fields(body, a);
    if (start)
        start_progress(a->name);
    r = bg_cli_http_call(socket, create ? "POST" : "PATCH", path, body, &vm, err);
    if (start)
        end_progress(r, vm);
    if (r < 0)
        return r;
    if (a->json)
        bg_cli_output_json(stdout, vm);
    else
        print_summary(create ? (start ? "created and started" : "created") : "updated", vm, create);
    return 0;
}

static int vm_rm(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_autofree char *base = vm_path(a->name);
    bg_autofree char *path =
        a->given & BG_CLI_FLAG_FORCE ? bg_asprintf("%s?force=true", base) : bg_strdup(base);

    return bg_cli_request_delete(socket, path, a->json, "vm", a->name, err);
}

static void print_started(const json_t *vm)
{
    printf("started vm '%s'\n", bg_cli_json_str(vm, "name"));
}

static void print_state(const json_t *vm)
{
    printf("vm '%s' is %s\n", bg_cli_json_str(vm, "name"), bg_cli_json_str(vm, "state"));
}

static int vm_start(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_autofree char *base = vm_path(a->name);
    bg_autofree char *path = bg_asprintf("%s/start", base);
    bg_auto(bg_cli_json_decrefp) json_t *vm = NULL;
    int r;

    start_progress(a->name);
    r = bg_cli_http_call(socket, "POST", path, NULL, &vm, err);
    end_progress(r, vm);
    if (r < 0)
        return r;
    bg_cli_request_output(a->json, vm, print_started);
    return 0;
}

static int vm_stop(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_autofree char *base = vm_path(a->name);
    bg_autofree char *path =
        a->given & BG_CLI_FLAG_TIMEOUT
            ? bg_asprintf("%s/stop?timeout=%llu", base, (unsigned long long)a->timeout_s)
            : bg_asprintf("%s/stop", base);

    return bg_cli_request_print(socket, "POST", path, NULL, a->json, print_state, err);
}

static int print_line(const char *line, size_t len, void *userdata)
{
    (void)userdata;
    fwrite(line, 1, len, stdout);
    fputc('\n', stdout);
    return 0;
}

static int vm_console(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_autofree char *base = vm_path(a->name);
    bg_autofree char *path = a->given & BG_CLI_FLAG_TAIL ? bg_asprintf("%s/console?tail=%llu", base,
                                                                       (unsigned long long)a->tail)
                                                         : bg_asprintf("%s/console", base);

    return bg_cli_http_stream(socket, path, print_line, NULL, err);
}

int bg_cli_vm_run(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    switch (bg_cli_args_cmd(a)) {
    case BG_CLI_CMD_VM_LS:
        return vm_ls(socket, a, err);
    case BG_CLI_CMD_VM_CREATE:
        return vm_send(socket, a, true, err);
    case BG_CLI_CMD_VM_SHOW:
        return vm_show(socket, a, err);
    case BG_CLI_CMD_VM_SET:
        return vm_send(socket, a, false, err);
    case BG_CLI_CMD_VM_RM:
        return vm_rm(socket, a, err);
    case BG_CLI_CMD_VM_START:
        return vm_start(socket, a, err);
    case BG_CLI_CMD_VM_STOP:
        return vm_stop(socket, a, err);
    case BG_CLI_CMD_VM_CONSOLE:
        return vm_console(socket, a, err);
    default:
        return bg_error_set(err, -EINVAL, "not a vm command");
    }
}
