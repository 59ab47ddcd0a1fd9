/* SPDX-License-Identifier: MIT */
/* banger vm exec NAME [-i] [-t] [--env K=V]... [--cwd DIR] -- CMD [ARGS...] */
#include "cmd_exec.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "http.h"

static json_t *exec_body(const struct bg_cli_exec *x)
{
    json_t *cmd = json_array();
    json_t *env = json_object();

    /* json_*_new setters steal the new value's reference */
    for (int i = 0; i < x->argc; i++)
        (void)json_array_append_new(cmd, json_string(x->argv[i]));
    for (size_t i = 0; i < x->n_env; i++) {
        const char *eq = strchr(x->env[i], '=');
        bg_autofree char *name = bg_strndup(x->env[i], (size_t)(eq - x->env[i]));
        (void)json_object_set_new(env, name, json_string(eq + 1));
    }
    return json_pack("{s:o, s:o, s:s, s:b, s:b}", "cmd", cmd, "env", env, "cwd",
                     x->cwd ? x->cwd : "", "tty", x->tty, "stdin", x->attach_stdin);
}

int bg_cli_exec_run(const char *socket, const struct bg_cli_exec *x, int *ret_status,
                    struct bg_error *err)
{
    bg_autofree char *esc = bg_cli_http_escape(x->vm);
    bg_autofree char *path = bg_asprintf("/v1/vms/%s/exec", esc);
    json_t *body = exec_body(x);
    struct bg_cli_stream *s = NULL;
    struct bg_cli_stream_opts o = {
        .attach_stdin = x->attach_stdin,
        .tty = x->tty,
        .in_fd = STDIN_FILENO,
        .out_fd = STDOUT_FILENO,
        .err_fd = STDERR_FILENO,
        .on_signal = x->on_signal,
        .interrupted = x->interrupted,
    };
    int r = bg_cli_stream_open(socket, path, body, &s, err);

    json_decref(body);
    if (r < 0)
        return r;
    /* Output goes straight to the fds; nothing buffered in stdio may follow it. */
    fflush(stdout);
    r = bg_cli_stream_run(s, &o, ret_status, err);
    bg_cli_stream_free(s);
    return r;
}

int bg_cli_exec_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    struct bg_cli_exec x = {
        .vm = a->name,
        .argv = a->command,
        .argc = a->n_command,
        .env = a->env,
        .n_env = a->n_env,
        .cwd = a->cwd,
        .attach_stdin = a->given & BG_CLI_FLAG_INTERACTIVE,
        .tty = a->given & BG_CLI_FLAG_TTY,
        .on_signal = BG_CLI_STREAM_FORWARD,
    };
    int status = 0;

    if (x.tty && !isatty(STDIN_FILENO) && x.attach_stdin)
        return bg_error_set(err, -EINVAL,
                            "-t needs stdin to be a terminal; drop -t to pipe "
                            "input");
    int r = bg_cli_exec_run(socket, &x, &status, err);
    return r < 0 ? r : status;
}
