/* SPDX-License-Identifier: MIT */
/* banger vm cp SRC NAME:DST | NAME:SRC DST: files and directories between the host and a
 * running VM, streamed as tar through PUT and GET /v1/vms/{name}/files. */
#pragma once

#include <stdbool.h>

#include "args.h"
#include "banger/error.h"
#include "banger/validate.h"

/* What a vm cp command line asks. Strings borrow from the arguments. */
struct bg_cli_cp {
    bool upload;              /* host -> VM; else VM -> host */
    char vm[BG_NAME_MAX + 1]; /* the VM */
    const char *guest;        /* the guest path: absolute */
    const char *host;         /* the host path, or "-" */
    bool stdio;               /* host is "-": a tar archive on stdin (upload) or stdout */
};

/* Parse SRC and DST: exactly one is NAME:PATH (a VM name, a colon, an absolute guest path;
 * a host path holding ':' is written ./a:b), the other a host path or "-". Returns 0, or
 * -EINVAL with err saying what to write instead. */
int bg_cli_cp_parse(const char *src, const char *dst, struct bg_cli_cp *ret, struct bg_error *err);

/* banger vm cp: upload or download; prints nothing on success (--json: the daemon's result of
 * an upload). Returns 0 or a negative errno with err set. */
int bg_cli_cp_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err);
