/* SPDX-License-Identifier: MIT */
/* banger vm run [--rm] [--timings] [--image IMG] [--name NAME] [vm create's flags] [REPO]
 * [-- CMD...]. With --rm the VM is made auto_remove and every request until the command ends
 * goes over one connection, so bangerd deletes the VM however this process ends. */
#include "cmd_run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"
#include "cmd_exec.h"
#include "cmd_workspace.h"
#include "http.h"
#include "output.h"

/* Where the time went, in ms; -1 for a step that did not run. */
struct run_times {
    int64_t create, disks, vmm_start, boot, start, workspace, exec, teardown, total;
};

static volatile sig_atomic_t interrupted;

static void on_interrupt(int signo)
{
    interrupted = signo;
}

static void random_name(char buf[16])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char raw[6] = {0};

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        for (size_t i = 0; i < sizeof(raw); i++)
            raw[i] = (unsigned char)(rand() ^ (int)time(NULL));
    memcpy(buf, "run-", 4);
    for (size_t i = 0; i < sizeof(raw); i++)
        buf[4 + i] = alphabet[raw[i] % (sizeof(alphabet) - 1)];
    buf[10] = '\0';
}

/* Without --image the daemon picks its vm_default_image, named in its answer. */
static int create_vm(const char *socket, const struct bg_cli_args *a, const char *name,
                     struct bg_error *err)
{
    bg_auto(bg_cli_json_decrefp) json_t *body = json_pack("{s:s}", "name", name);
    bg_auto(bg_cli_json_decrefp) json_t *vm = NULL;

    /* json_object_set_new steals the new value's reference */
    if (a->given & BG_CLI_FLAG_VCPUS)
        (void)json_object_set_new(body, "vcpus", json_integer((json_int_t)a->vcpus));
    if (a->given & BG_CLI_FLAG_MEMORY)
        (void)json_object_set_new(body, "memory_mib", json_integer((json_int_t)a->memory_mib));
    if (a->given & BG_CLI_FLAG_DISK)
        (void)json_object_set_new(body, "disk_mib", json_integer((json_int_t)a->disk_mib));
    if (a->given & BG_CLI_FLAG_NAT)
        (void)json_object_set_new(body, "nat", json_true());
    if (a->given & BG_CLI_FLAG_RM)
        (void)json_object_set_new(body, "auto_remove", json_true());
    if (a->image)
        (void)json_object_set_new(body, "image", json_string(a->image));
    int r = bg_cli_http_call(socket, "POST", "/v1/vms", body, &vm, err);
    if (r >= 0)
        fprintf(stderr, "created vm '%s' (image %s)\n", name, bg_cli_json_str(vm, "image"));
    return r;
}

static int start_vm(const char *socket, const char *name, struct run_times *t, struct bg_error *err)
{
    bg_autofree char *esc = bg_cli_http_escape(name);
    bg_autofree char *path = bg_asprintf("/v1/vms/%s/start", esc);
    bg_auto(bg_cli_json_decrefp) json_t *vm = NULL;
    bg_auto(bg_cli_json_decrefp) json_t *empty = json_object();

    fprintf(stderr, "starting vm '%s'\n", name);
    int r = bg_cli_http_call(socket, "POST", path, empty, &vm, err);
    if (r < 0)
        return r;
    json_t *tm = json_object_get(vm, "timings");
    t->disks = (int64_t)bg_cli_json_u64(tm, "disks_ms");
    t->vmm_start = (int64_t)bg_cli_json_u64(tm, "vmm_start_ms");
    t->boot = (int64_t)bg_cli_json_u64(tm, "boot_ms");
    return 0;
}

/* Delete the VM and wait for it to be gone. bangerd deletes an auto-remove VM itself once its
 * connection closes, which may win: gone already is done. */
static int teardown(const char *socket, const char *name, struct bg_error *err)
{
    bg_autofree char *esc = bg_cli_http_escape(name);
    bg_autofree char *path = bg_asprintf("/v1/vms/%s?force=true", esc);

    fprintf(stderr, "deleting vm '%s'\n", name);
    bg_cli_http_unpin();
    int r = bg_cli_http_call(socket, "DELETE", path, NULL, NULL, err);
    return r == -ENOENT ? 0 : r;
}

static void print_times(const struct run_times *t)
{
    fprintf(stderr,
            "timings (ms): create %lld, disks %lld, vmm start %lld, boot to agent %lld, "
            "workspace %lld, exec %lld, teardown %lld, total %lld\n",
            (long long)t->create, (long long)t->disks, (long long)t->vmm_start, (long long)t->boot,
            (long long)t->workspace, (long long)t->exec, (long long)t->teardown,
            (long long)t->total);
}

/* Timed step: *slot gets the ms the step took. */
#define TIMED(slot, call)                                                                          \
    ({                                                                                             \
        int64_t t0_ = bg_now_ms();                                                                 \
        int r_ = (call);                                                                           \
        (slot) = bg_now_ms() - t0_;                                                                \
        r_;                                                                                        \
    })

/* The command to run: the one given, or an interactive shell on a terminal. */
static int pick_command(const struct bg_cli_args *a, struct bg_cli_exec *x, struct bg_error *err)
{
    static char sh[] = "sh";
    static char *const shell[] = {sh, NULL};

    x->argv = a->command;
    x->argc = a->n_command;
    x->attach_stdin = a->given & BG_CLI_FLAG_INTERACTIVE;
    x->tty = a->given & BG_CLI_FLAG_TTY;
    if (x->argc > 0)
        return 0;
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        return bg_error_set(err, -EINVAL,
                            "give the command after '--' (an interactive shell "
                            "needs a terminal): banger vm run [REPO] -- CMD...");
    x->argv = shell;
    x->argc = 1;
    x->attach_stdin = x->tty = true;
    return 0;
}

/* Create, start, copy, exec. Returns the command's status, or <0. */
static int run_steps(const char *socket, const struct bg_cli_args *a, const char *name,
                     struct bg_cli_exec *x, struct run_times *t, bool *created,
                     struct bg_error *err)
{
    int status = 0;
    int r = TIMED(t->create, create_vm(socket, a, name, err));

    if (r < 0)
        return r;
    *created = true;
    if (interrupted || (r = TIMED(t->start, start_vm(socket, name, t, err))) < 0)
        return r < 0 ? r : -EINTR;
    if (a->repo) {
        fprintf(stderr, "copying %s to vm '%s':/root/repo\n", a->repo, name);
        r = TIMED(t->workspace,
                  bg_cli_workspace_push(socket, name, a->repo, a->mode, NULL, NULL, NULL, err));
        if (r < 0)
            return r;
    }
    if (interrupted)
        return -EINTR;
    r = TIMED(t->exec, bg_cli_exec_run(socket, x, &status, err));
    return r < 0 ? r : status;
}

int bg_cli_run_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    struct run_times t = {.workspace = -1};
    struct bg_cli_exec x = {.env = a->env, .n_env = a->n_env, .cwd = a->cwd};
    struct sigaction sa = {.sa_handler = on_interrupt}, old_int, old_term;
    bg_autofree char *top = NULL;
    int64_t t0 = bg_now_ms();
    bool created = false;
    char name[16];
    int r;

    if ((r = pick_command(a, &x, err)) < 0)
        return r;
    if (a->repo && (r = bg_cli_workspace_check(a->repo, &top, err)) < 0)
        return r; /* before anything exists */
    snprintf(name, sizeof(name), "%s", a->name ? a->name : "");
    if (!a->name)
        random_name(name);
    x.vm = name;
    x.cwd = x.cwd ? x.cwd : a->repo ? "/root/repo" : NULL;
    bool rm = a->given & BG_CLI_FLAG_RM;
    x.on_signal = rm ? BG_CLI_STREAM_ABORT : BG_CLI_STREAM_FORWARD;
    x.interrupted = &interrupted;
    (void)sigaction(SIGINT, &sa, &old_int);
    (void)sigaction(SIGTERM, &sa, &old_term);

    /* with --rm the VM lives as long as this connection: create, start, workspace, exec */
    r = rm ? bg_cli_http_pin(socket, err) : 0;
    if (r >= 0)
        r = run_steps(socket, a, name, &x, &t, &created, err);
    if (rm && created) {
        struct bg_error terr;
        if (TIMED(t.teardown, teardown(socket, name, &terr)) < 0)
            fprintf(stderr, "banger: delete vm '%s': %s\n", name, terr.msg);
    }
    bg_cli_http_unpin();
    (void)sigaction(SIGINT, &old_int, NULL);
    (void)sigaction(SIGTERM, &old_term, NULL);
    t.total = bg_now_ms() - t0;
    if (a->given & BG_CLI_FLAG_TIMINGS)
        print_times(&t);
    if (interrupted && (r == -EINTR || r >= 0)) {
        fprintf(stderr, "banger: interrupted\n");
        return BG_CLI_RUN_INTERRUPTED;
    }
    return r;
}
