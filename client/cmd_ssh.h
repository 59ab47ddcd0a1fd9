/* SPDX-License-Identifier: MIT */
/* ssh the way developers already work: banger vm ssh, banger vm tunnel, and
 * banger ssh-config install|uninstall|proxy (the ProxyCommand behind "ssh NAME.vm"). */
#pragma once

#include "args.h"
#include "banger/error.h"

/* Run the parsed command a against the daemon at socket. vm ssh replaces banger with ssh
 * (so ssh's exit status, the remote command's, is banger's) and returns only on failure.
 * Returns 0, or <0 with err. */
int bg_cli_ssh_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err);
