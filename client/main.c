/* SPDX-License-Identifier: MIT */
/* banger: parses the command line, dispatches to a command module, reports errors and exits. */
#include <stdio.h>

#include "args.h"
#include "banger/alloc.h"
#include "banger/macro.h"
#include "cmd_ci.h"
#include "cmd_cp.h"
#include "cmd_doctor.h"
#include "cmd_events.h"
#include "cmd_exec.h"
#include "cmd_forward.h"
#include "cmd_image.h"
#include "cmd_remote.h"
#include "cmd_run.h"
#include "cmd_ssh.h"
#include "cmd_sysinstall.h"
#include "cmd_system.h"
#include "cmd_token.h"
#include "cmd_vm.h"
#include "cmd_workspace.h"
#include "http.h"
#include "remote.h"

enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1, /* the daemon refused, failed or could not be reached */
    EXIT_USAGE = 2,  /* the command line was wrong; nothing was sent */
};

static int dispatch(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    switch (bg_cli_args_cmd(a)) {
    case BG_CLI_CMD_VERSION:
        return bg_cli_system_version(socket, a, err);
    case BG_CLI_CMD_SYSTEM_INFO:
        return bg_cli_system_info(socket, a, err);
    case BG_CLI_CMD_EVENTS:
        return bg_cli_events_run(socket, a, err);
    case BG_CLI_CMD_DOCTOR:
        return bg_cli_doctor_cmd(socket, a, err);
    case BG_CLI_CMD_IMAGE_LS:
    case BG_CLI_CMD_IMAGE_SHOW:
    case BG_CLI_CMD_IMAGE_IMPORT:
    case BG_CLI_CMD_IMAGE_RM:
    case BG_CLI_CMD_IMAGE_BUILD:
        return bg_cli_image_run(socket, a, err);
    case BG_CLI_CMD_VM_EXEC:
        return bg_cli_exec_cmd(socket, a, err);
    case BG_CLI_CMD_VM_RUN:
        return bg_cli_run_cmd(socket, a, err);
    case BG_CLI_CMD_VM_WORKSPACE:
        return bg_cli_workspace_cmd(socket, a, err);
    case BG_CLI_CMD_VM_CP:
        return bg_cli_cp_cmd(socket, a, err);
    case BG_CLI_CMD_VM_SSH:
    case BG_CLI_CMD_VM_TUNNEL:
    case BG_CLI_CMD_SSH_CONFIG_INSTALL:
    case BG_CLI_CMD_SSH_CONFIG_UNINSTALL:
    case BG_CLI_CMD_SSH_CONFIG_PROXY:
        return bg_cli_ssh_cmd(socket, a, err);
    case BG_CLI_CMD_VM_FORWARD:
        return bg_cli_forward_cmd(socket, a, err);
    case BG_CLI_CMD_TOKEN_CREATE:
    case BG_CLI_CMD_TOKEN_LS:
    case BG_CLI_CMD_TOKEN_RM:
        return bg_cli_token_run(socket, a, err);
    case BG_CLI_CMD_REMOTE_ADD:
    case BG_CLI_CMD_REMOTE_LS:
    case BG_CLI_CMD_REMOTE_RM:
        return bg_cli_remote_run(a, err);
    case BG_CLI_CMD_CI_GITLAB:
        return bg_cli_ci_cmd(socket, a, err);
    case BG_CLI_CMD_SYSTEM_INSTALL:
        return bg_cli_system_install(a, err);
    case BG_CLI_CMD_SYSTEM_UNINSTALL:
        return bg_cli_system_uninstall(a, err);
    default:
        return bg_cli_vm_run(socket, a, err);
    }
}

int main(int argc, char *argv[])
{
    struct bg_cli_args a;
    struct bg_error err = {0};
    int r = bg_cli_args_parse(argc, argv, &a, &err);

    if (r < 0) {
        fprintf(stderr, "banger: %s\nRun 'banger %s%s--help'.\n", err.msg, a.where,
                a.where[0] ? " " : "");
        return EXIT_USAGE;
    }
    if (a.help) {
        bg_cli_args_usage(stdout, &a);
        return EXIT_OK;
    }
    if (a.version) {
        printf("banger %s\n", BANGER_VERSION);
        return EXIT_OK;
    }
    /* the endpoint: the unix socket, or a remote (its URL then names it in messages) */
    bg_auto(bg_cli_remote_done) struct bg_cli_remote remote = {0};
    bg_autofree char *socket = NULL;
    r = bg_cli_remote_resolve(&a, &remote, &err);
    if (r > 0) {
        bg_cli_http_use_remote(&remote);
        socket = bg_strdup(remote.url);
    } else if (r == 0) {
        socket = bg_cli_args_socket(&a);
    }
    if (r >= 0)
        r = dispatch(socket, &a, &err);
    /* stdout first, so what was printed precedes the error when both go to one terminal */
    fflush(stdout);
    if (r < 0) {
        fprintf(stderr, "banger: %s\n", err.msg);
        return EXIT_FAILED;
    }
    /* vm exec and vm run exit with the remote command's status */
    return r > 0 ? (r > 255 ? 255 : r) : EXIT_OK;
}
