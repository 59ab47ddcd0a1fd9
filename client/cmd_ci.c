/* SPDX-License-Identifier: MIT */
/* banger ci gitlab config|prepare|run SCRIPT STAGE|cleanup, GitLab Runner's custom executor
 * contract: config prints the JSON the runner reads; prepare creates and boots the job's VM;
 * run puts the runner's script into the VM and runs it there, streaming its output; cleanup
 * deletes the VM. Every request goes through the CLI's HTTP layer (http.h, xfer.h), so a
 * stage reaches whichever daemon the CLI is pointed at. */
#include "cmd_ci.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "banger/alloc.h"
#include "banger/macro.h"
#include "banger/parse.h"
#include "banger/utf8.h"
#include "cmd_exec.h"
#include "cptar.h"
#include "http.h"
#include "output.h"
#include "xfer.h"

#define CI_BUILDS_DIR "/builds"
#define CI_CACHE_DIR "/cache"
#define CI_SCRIPT_DIR "/tmp" /* where run puts the runner's script in the guest */
#define CI_PREPARE_FLAGS                                                                           \
    (BG_CLI_FLAG_IMAGE | BG_CLI_FLAG_VCPUS | BG_CLI_FLAG_MEMORY | BG_CLI_FLAG_DISK |               \
     BG_CLI_FLAG_NAT)

/* Runs the script with bash, as the runner's scripts are written for it, or with sh where the
 * image has no bash (the busybox image); exec, so that the agent's signals (sent to the
 * process group) and the exit status are the script's own. */
#define CI_WRAPPER                                                                                 \
    "if command -v bash >/dev/null 2>&1; then exec bash \"$1\"; fi; "                              \
    "echo 'banger: no bash in this image; running the script with sh' >&2; exec sh \"$1\""

static const char *const stage_names[] = {
    [BG_CLI_CI_CONFIG] = "config",
    [BG_CLI_CI_PREPARE] = "prepare",
    [BG_CLI_CI_RUN] = "run",
    [BG_CLI_CI_CLEANUP] = "cleanup",
};

int bg_cli_ci_substage_validate(const char *name, struct bg_error *err)
{
    size_t n = strlen(name);

    if (n == 0 || n > BG_CLI_CI_SUBSTAGE_MAX)
        return bg_error_set(err, -EINVAL, "STAGE '%s' must be 1..%d characters", BG_QUOTE(name),
                            BG_CLI_CI_SUBSTAGE_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return bg_error_set(err, -EINVAL,
                                "STAGE '%s' may only hold letters, digits, '_' and '-'",
                                BG_QUOTE(name));
    }
    return 0;
}

int bg_cli_ci_args_check(const char *stage, const char *script, const char *substage, bool given,
                         enum bg_cli_ci_stage *ret_stage, struct bg_error *err)
{
    size_t k = 0;

    if (!stage)
        return bg_error_set(err, -EINVAL,
                            "'banger ci gitlab' needs a stage: config, prepare, run SCRIPT STAGE "
                            "or cleanup");
    while (k < BG_ARRAY_SIZE(stage_names) && strcmp(stage_names[k], stage) != 0)
        k++;
    if (k == BG_ARRAY_SIZE(stage_names))
        return bg_error_set(err, -EINVAL,
                            "'%s' is not a stage (config, prepare, run SCRIPT STAGE, cleanup)",
                            BG_QUOTE(stage));
    if (k == BG_CLI_CI_RUN && !substage)
        return bg_error_set(err, -EINVAL, "'banger ci gitlab run' needs SCRIPT and STAGE");
    if (k != BG_CLI_CI_RUN && script)
        return bg_error_set(err, -EINVAL, "unexpected argument '%s'", BG_QUOTE(script));
    if (k != BG_CLI_CI_PREPARE && given)
        return bg_error_set(err, -EINVAL,
                            "flags --image, --vcpus, --memory, --disk and --nat only go with "
                            "'prepare'");
    int r = k == BG_CLI_CI_RUN ? bg_cli_ci_substage_validate(substage, err) : 0;
    if (r < 0)
        return r;
    *ret_stage = (enum bg_cli_ci_stage)k;
    return 0;
}

/* Append "-<tag><id>" to buf (or "ci-<id>" when tag is 0) for a decimal ID in variable var. */
static int append_id(char *buf, size_t *len, char tag, const char *var, const char *id,
                     struct bg_error *err)
{
    uint64_t v;
    int r = bg_parse_u64(id, 0, UINT64_MAX, &v, err);

    if (r < 0)
        return bg_error_prefix(err, -EINVAL, "%s '%s'", var, BG_QUOTE(id));
    int n =
        tag ? snprintf(buf + *len, BG_NAME_MAX + 1 - *len, "-%c%llu", tag, (unsigned long long)v)
            : snprintf(buf, BG_NAME_MAX + 1, "ci-%llu", (unsigned long long)v);
    if (n < 0 || (size_t)n >= BG_NAME_MAX + 1 - *len)
        return bg_error_set(err, -ENAMETOOLONG,
                            "the VM name of this job would be longer than %d characters",
                            BG_NAME_MAX);
    *len += (size_t)n;
    return 0;
}

int bg_cli_ci_vm_name(const char *job_id, const char *runner_id, const char *project_id,
                      char buf[BG_NAME_MAX + 1], struct bg_error *err)
{
    char name[BG_NAME_MAX + 1] = "";
    size_t len = 0;
    int r;

    if (!job_id || !*job_id)
        return bg_error_set(err, -EINVAL,
                            "CUSTOM_ENV_CI_JOB_ID is not set: run this as a GitLab Runner "
                            "custom executor stage");
    if ((r = append_id(name, &len, 0, "CUSTOM_ENV_CI_JOB_ID", job_id, err)) < 0)
        return r;
    if (runner_id && *runner_id &&
        (r = append_id(name, &len, 'r', "CUSTOM_ENV_CI_RUNNER_ID", runner_id, err)) < 0)
        return r;
    if (project_id && *project_id &&
        (r = append_id(name, &len, 'p', "CUSTOM_ENV_CI_CONCURRENT_PROJECT_ID", project_id, err)) <
            0)
        return r;
    memcpy(buf, name, len + 1);
    return 0;
}

int bg_cli_ci_exit_code(const char *var, const char *value, int fallback, int *ret,
                        struct bg_error *err)
{
    uint64_t v;

    *ret = fallback;
    if (!value || !*value)
        return 0;
    int r = bg_parse_u64(value, 1, 255, &v, err);
    if (r < 0)
        return bg_error_prefix(err, -EINVAL, "%s '%s'", var, BG_QUOTE(value));
    *ret = (int)v;
    return 0;
}

/* --- the stages --- */

struct ci_job {
    char vm[BG_NAME_MAX + 1];
    int build_failure, system_failure; /* the runner's exit codes */
};

/* Print err as the stage's failure and give the system failure code. */
static int system_failure(const struct ci_job *j, const char *stage, const struct bg_error *err)
{
    fprintf(stderr, "banger: ci gitlab %s: %s\n", stage, err->msg);
    return j->system_failure;
}

static int job_init(struct ci_job *j, struct bg_error *err)
{
    struct bg_error e;

    if (bg_cli_ci_exit_code("BUILD_FAILURE_EXIT_CODE", getenv("BUILD_FAILURE_EXIT_CODE"),
                            BG_CLI_CI_BUILD_FALLBACK, &j->build_failure, &e) < 0)
        fprintf(stderr, "banger: %s; using %d\n", e.msg, j->build_failure);
    if (bg_cli_ci_exit_code("SYSTEM_FAILURE_EXIT_CODE", getenv("SYSTEM_FAILURE_EXIT_CODE"),
                            BG_CLI_CI_SYSTEM_FALLBACK, &j->system_failure, &e) < 0)
        fprintf(stderr, "banger: %s; using %d\n", e.msg, j->system_failure);
    return bg_cli_ci_vm_name(getenv("CUSTOM_ENV_CI_JOB_ID"), getenv("CUSTOM_ENV_CI_RUNNER_ID"),
                             getenv("CUSTOM_ENV_CI_CONCURRENT_PROJECT_ID"), j->vm, err);
}

static int stage_config(const struct ci_job *j)
{
    bg_auto(bg_cli_json_decrefp) json_t *o =
        json_pack("{s:s, s:s, s:b, s:s, s:{s:s, s:s}, s:{s:s}}", "builds_dir", CI_BUILDS_DIR,
                  "cache_dir", CI_CACHE_DIR, "builds_dir_is_shared", 0, "hostname", j->vm, "driver",
                  "name", "banger", "version", BANGER_VERSION, "job_env", "BANGER_CI_VM", j->vm);

    bg_cli_output_json(stdout, o);
    return 0;
}

/* DELETE the job's VM, powering it off first; a VM that is not there is no failure. Sets
 * *ret_removed when there was one. */
static int remove_vm(const char *socket, const char *vm, bool *ret_removed, struct bg_error *err)
{
    bg_autofree char *esc = bg_cli_http_escape(vm);
    bg_autofree char *path = bg_asprintf("/v1/vms/%s?force=true", esc);
    int r = bg_cli_http_call(socket, "DELETE", path, NULL, NULL, err);

    *ret_removed = r >= 0;
    return r == -ENOENT ? 0 : r;
}

/* The image: the job's BANGER_IMAGE variable, else --image, else NULL (the daemon's
 * vm_default_image). */
static int pick_image(const struct bg_cli_args *a, const char **ret, struct bg_error *err)
{
    const char *img = getenv("CUSTOM_ENV_BANGER_IMAGE");

    *ret = a->image;
    if (!img || !*img)
        return 0;
    int r = bg_name_validate(img, err);
    if (r < 0)
        return bg_error_prefix(err, r, "CUSTOM_ENV_BANGER_IMAGE '%s'", BG_QUOTE(img));
    *ret = img;
    return 0;
}

/* A VM of this name can only be left by an earlier attempt of this same job's prepare (the
 * runner retried it, or it was killed): it is removed, not reused, because its state is
 * unknown (a half-finished boot, a failed one, or files of the attempt) and a job must start
 * from the image as it is. */
static int stage_prepare(const char *socket, const struct bg_cli_args *a, const struct ci_job *j,
                         struct bg_error *err)
{
    bg_auto(bg_cli_json_decrefp) json_t *vm = NULL;
    const char *image;
    bool removed;
    int r;

    if ((r = pick_image(a, &image, err)) < 0)
        return r;
    if ((r = remove_vm(socket, j->vm, &removed, err)) < 0)
        return bg_error_prefix(err, r, "remove vm '%s' of an earlier attempt", j->vm);
    if (removed)
        printf("banger: removed vm '%s' left by an earlier attempt of this job\n", j->vm);
    /* auto_remove stays off: it ties the VM to this request's connection, which ends with this
     * process, and the VM must outlive it for the run stages; cleanup removes it */
    bg_auto(bg_cli_json_decrefp) json_t *body = json_pack("{s:s, s:b}", "name", j->vm, "start", 1);
    /* json_object_set_new steals the new value's reference */
    if (image)
        (void)json_object_set_new(body, "image", json_string(image));
    if (a->given & BG_CLI_FLAG_VCPUS)
        (void)json_object_set_new(body, "vcpus", json_integer((json_int_t)a->vcpus));
    if (a->given & BG_CLI_FLAG_MEMORY)
        (void)json_object_set_new(body, "memory_mib", json_integer((json_int_t)a->memory_mib));
    if (a->given & BG_CLI_FLAG_DISK)
        (void)json_object_set_new(body, "disk_mib", json_integer((json_int_t)a->disk_mib));
    if (a->given & BG_CLI_FLAG_NAT)
        (void)json_object_set_new(body, "nat", json_true());
    printf("banger: creating and booting vm '%s'\n", j->vm);
    fflush(stdout);
    if ((r = bg_cli_http_call(socket, "POST", "/v1/vms", body, &vm, err)) < 0)
        return bg_error_prefix(err, r, "create vm '%s'", j->vm);
    printf("banger: vm '%s' is running (image %s)\n", j->vm, bg_cli_json_str(vm, "image"));
    return 0;
}

static int sink_xfer(void *cls, const void *buf, size_t len, struct bg_error *err)
{
    return bg_cli_xfer_send(cls, buf, len, err);
}

/* Put the host file script into the VM as CI_SCRIPT_DIR/name (PUT /v1/vms/{name}/files, the
 * route banger vm cp uses). */
static int upload_script(const char *socket, const char *vm, const char *script, const char *name,
                         struct bg_error *err)
{
    bg_auto(bg_cli_xfer_freep) struct bg_cli_xfer *x = NULL;
    bg_autofree char *esc_vm = bg_cli_http_escape(vm);
    bg_autofree char *esc_dir = bg_cli_http_escape(CI_SCRIPT_DIR);
    bg_autofree char *path = bg_asprintf("/v1/vms/%s/files?path=%s", esc_vm, esc_dir);
    struct bg_error send_err;
    struct stat st;
    int r;

    if (stat(script, &st) < 0)
        return bg_error_errno(err, "script '%s'", BG_QUOTE(script));
    if (!S_ISREG(st.st_mode))
        return bg_error_set(err, -EINVAL, "script '%s' is not a file", BG_QUOTE(script));
    if ((r = bg_cli_xfer_start(socket, "PUT", path, "application/x-tar", &x, err)) < 0)
        return r;
    r = bg_cli_tar_write(script, name, sink_xfer, x, NULL, &send_err);
    /* as in vm cp: -EPIPE is a refusal the answer tells; any other failure cuts the transfer
     * off so that the guest never takes half an archive as whole */
    int f = bg_cli_xfer_finish(x, r < 0 && r != -EPIPE, NULL, err);
    if (r < 0 && r != -EPIPE) {
        *err = send_err;
        return r;
    }
    return f;
}

/* The script's exit status in *ret_status, or < 0 when banger, the daemon or the VM failed. */
static int stage_run(const char *socket, const char *script, const char *substage,
                     const struct ci_job *j, int *ret_status, struct bg_error *err)
{
    bg_autofree char *name = bg_asprintf("banger-ci-%s.sh", substage);
    bg_autofree char *guest = bg_asprintf("%s/%s", CI_SCRIPT_DIR, name);
    static char sh[] = "sh", dash_c[] = "-c", wrapper[] = CI_WRAPPER, arg0[] = "banger-ci";
    char *argv[] = {sh, dash_c, wrapper, arg0, guest, NULL};
    /* SIGTERM (the runner's cancel) goes to the script's process group in the guest; a SIGKILL
     * after it closes the connection, and the daemon then kills the command */
    struct bg_cli_exec x = {
        .vm = j->vm,
        .argv = argv,
        .argc = 5,
        .on_signal = BG_CLI_STREAM_FORWARD,
    };
    int r = upload_script(socket, j->vm, script, name, err);

    if (r < 0)
        return bg_error_prefix(err, r, "put the script into vm '%s'", j->vm);
    fflush(stdout);
    r = bg_cli_exec_run(socket, &x, ret_status, err);
    return r < 0 ? bg_error_prefix(err, r, "run %s in vm '%s'", substage, j->vm) : 0;
}

static int stage_cleanup(const char *socket, const struct ci_job *j, struct bg_error *err)
{
    bool removed;
    int r = remove_vm(socket, j->vm, &removed, err);

    if (r < 0)
        return bg_error_prefix(err, r, "delete vm '%s'", j->vm);
    printf(removed ? "banger: deleted vm '%s'\n" : "banger: vm '%s' was already gone\n", j->vm);
    return 0;
}

int bg_cli_ci_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    enum bg_cli_ci_stage stage;
    struct ci_job j = {0};
    int status = 0;
    int r = bg_cli_ci_args_check(a->ci_stage, a->ci_script, a->ci_substage,
                                 a->given & CI_PREPARE_FLAGS, &stage, err);

    if (r < 0)
        return r;
    if ((r = job_init(&j, err)) < 0)
        return system_failure(&j, stage_names[stage], err);
    switch (stage) {
    case BG_CLI_CI_CONFIG:
        r = stage_config(&j);
        break;
    case BG_CLI_CI_PREPARE:
        r = stage_prepare(socket, a, &j, err);
        break;
    case BG_CLI_CI_RUN:
        r = stage_run(socket, a->ci_script, a->ci_substage, &j, &status, err);
        break;
    case BG_CLI_CI_CLEANUP:
        r = stage_cleanup(socket, &j, err);
        break;
    }
    fflush(stdout);
    if (r < 0)
        return system_failure(&j, stage_names[stage], err);
    return status == 0 ? 0 : j.build_failure;
}
