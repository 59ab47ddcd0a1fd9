/* SPDX-License-Identifier: MIT */
/* Command-line parsing for banger: argv in, a validated struct bg_cli_args out, no I/O. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "banger/error.h"

/* Every command banger knows, grouped by the file that runs it. */
enum bg_cli_cmd {
    BG_CLI_CMD_VERSION,
    BG_CLI_CMD_SYSTEM_INFO,
    BG_CLI_CMD_IMAGE_LS,
    BG_CLI_CMD_IMAGE_SHOW,
    BG_CLI_CMD_IMAGE_IMPORT,
    BG_CLI_CMD_IMAGE_RM,
    BG_CLI_CMD_IMAGE_BUILD,
    BG_CLI_CMD_VM_LS,
    BG_CLI_CMD_VM_CREATE,
    BG_CLI_CMD_VM_SHOW,
    BG_CLI_CMD_VM_SET,
    BG_CLI_CMD_VM_RM,
    BG_CLI_CMD_EVENTS,
    BG_CLI_CMD_VM_EXEC,
    BG_CLI_CMD_VM_RUN,
    BG_CLI_CMD_VM_WORKSPACE,
    BG_CLI_CMD_VM_START,
    BG_CLI_CMD_VM_STOP,
    BG_CLI_CMD_VM_CONSOLE,
    BG_CLI_CMD_VM_CP,
    BG_CLI_CMD_VM_SSH,
    BG_CLI_CMD_VM_TUNNEL,
    BG_CLI_CMD_VM_FORWARD,
    BG_CLI_CMD_SSH_CONFIG_INSTALL,
    BG_CLI_CMD_SSH_CONFIG_UNINSTALL,
    BG_CLI_CMD_SSH_CONFIG_PROXY,
    BG_CLI_CMD_TOKEN_CREATE,
    BG_CLI_CMD_TOKEN_LS,
    BG_CLI_CMD_TOKEN_RM,
    BG_CLI_CMD_REMOTE_ADD,
    BG_CLI_CMD_REMOTE_LS,
    BG_CLI_CMD_REMOTE_RM,
    BG_CLI_CMD_CI_GITLAB,
    BG_CLI_CMD_SYSTEM_INSTALL,
    BG_CLI_CMD_SYSTEM_UNINSTALL,
    BG_CLI_CMD_DOCTOR,
};

/* Command flags; each is one bit in bg_cli_args.given (64 bits: the enum's type is 64-bit
 * from the token and remote flags on, a GNU C extension as 1u << 31 already was). */
enum bg_cli_flag {
    BG_CLI_FLAG_STATE = 1u << 0,
    BG_CLI_FLAG_IMAGE = 1u << 1,
    BG_CLI_FLAG_VCPUS = 1u << 2,
    BG_CLI_FLAG_MEMORY = 1u << 3,
    BG_CLI_FLAG_DISK = 1u << 4,
    BG_CLI_FLAG_NAT = 1u << 5,
    BG_CLI_FLAG_NO_NAT = 1u << 6,
    BG_CLI_FLAG_KERNEL = 1u << 7,
    BG_CLI_FLAG_ROOTFS = 1u << 8,
    BG_CLI_FLAG_INITRD = 1u << 9,
    BG_CLI_FLAG_NO_WAIT = 1u << 10,
    BG_CLI_FLAG_SINCE = 1u << 11,
    /* lifecycle flags */
    BG_CLI_FLAG_TIMEOUT = 1u << 12,
    BG_CLI_FLAG_TAIL = 1u << 13,
    BG_CLI_FLAG_FORCE = 1u << 14,
    BG_CLI_FLAG_START = 1u << 15,
    BG_CLI_FLAG_VMLINUX = 1u << 16,
    /* image build flags */
    BG_CLI_FLAG_RECIPE = 1u << 20,
    BG_CLI_FLAG_PACKAGES = 1u << 21,
    /* exec, run and workspace flags take the high bits */
    BG_CLI_FLAG_INTERACTIVE = 1u << 22,
    BG_CLI_FLAG_TTY = 1u << 23,
    BG_CLI_FLAG_ENV = 1u << 24,
    BG_CLI_FLAG_CWD = 1u << 25,
    BG_CLI_FLAG_RM = 1u << 26,
    BG_CLI_FLAG_TIMINGS = 1u << 27,
    BG_CLI_FLAG_NAME = 1u << 28,
    BG_CLI_FLAG_MODE = 1u << 29,
    BG_CLI_FLAG_FROM = 1u << 30,
    BG_CLI_FLAG_BRANCH = 1u << 31,
    /* token and remote flags */
    BG_CLI_FLAG_SCOPE = 1ull << 32,
    BG_CLI_FLAG_EXPIRES = 1ull << 33,
    BG_CLI_FLAG_TOKEN_FILE = 1ull << 34,
    BG_CLI_FLAG_FINGERPRINT = 1ull << 35,
    BG_CLI_FLAG_ACCEPT_CERT = 1ull << 36,
    BG_CLI_FLAG_CLIENT_CERT = 1ull << 37,
    BG_CLI_FLAG_CLIENT_KEY = 1ull << 38,
    /* system install and uninstall */
    BG_CLI_FLAG_OWNER = 1ull << 39,
    BG_CLI_FLAG_DRY_RUN = 1ull << 40,
    BG_CLI_FLAG_ROOT = 1ull << 41,
    BG_CLI_FLAG_PURGE = 1ull << 42,
    BG_CLI_FLAG_PREFIX = 1ull << 43,
};

#define BG_CLI_VCPUS_MIN 1
#define BG_CLI_VCPUS_MAX 32
#define BG_CLI_MEMORY_MIN 128
#define BG_CLI_MEMORY_MAX 65536
#define BG_CLI_DISK_MIN 512
#define BG_CLI_DISK_MAX 1048576
#define BG_CLI_WHERE_MAX 32
#define BG_CLI_ENV_MAX 64 /* --env flags one command takes */
#define BG_CLI_SYSTEM_SOCKET "/run/banger/bangerd.sock"

struct bg_cli_command;

/* The parsed command line. Strings are borrowed from argv. */
struct bg_cli_args {
    const char *socket;               /* --socket PATH, NULL when not given */
    const char *remote;               /* --remote NAME, NULL when not given */
    bool system;                      /* --system */
    bool json;                        /* --json (before or after the command) */
    bool help;                        /* --help, -h or `banger help ...` */
    bool version;                     /* --version before any command */
    const struct bg_cli_command *cmd; /* the command, NULL for top-level or group help */
    const char *group;                /* "vm", "image", "system", NULL otherwise */
    char where[BG_CLI_WHERE_MAX];     /* "vm create": the deepest command recognised */
    const char *name;                 /* the NAME positional */
    uint64_t given;                   /* bitmask of enum bg_cli_flag seen */
    const char *state;                /* --state */
    const char *image;                /* --image */
    const char *kernel;               /* --kernel */
    const char *rootfs;               /* --rootfs */
    const char *initrd;               /* --initrd */
    const char *vmlinux;              /* --vmlinux */
    const char *recipe;               /* image build --recipe dev|minimal */
    const char *packages;             /* image build --packages a,b (names checked) */
    uint64_t vcpus;                   /* --vcpus */
    uint64_t memory_mib;              /* --memory */
    uint64_t disk_mib;                /* --disk */
    uint64_t since;                   /* --since */
    uint64_t timeout_s;               /* vm stop --timeout */
    uint64_t tail;                    /* vm console --tail */
    const char *env[BG_CLI_ENV_MAX];  /* --env K=V, in order */
    size_t n_env;
    const char *cwd;         /* --cwd */
    const char *mode;        /* --mode copy|clone */
    const char *from;        /* --from REF */
    const char *branch;      /* --branch NAME */
    const char *repo;        /* the REPO positional (vm run, vm workspace) */
    const char *src;         /* vm cp: SRC */
    const char *dst;         /* vm cp: DST */
    const char *target;      /* vm tunnel: PORT; ssh-config proxy: [PORT]; vm forward:
                              * [ADDR:]HOST_PORT:GUEST_PORT (checked, see cmd_forward.h) */
    uint64_t port;           /* vm tunnel, ssh-config proxy: the guest port (default 22) */
    char *const *command;    /* vm exec/run/ssh: the command after NAME or '--' */
    int n_command;           /* its length; 0 when none */
    unsigned scopes;         /* --scope (repeatable, or comma-separated): enum bg_scope bits */
    uint64_t expires_s;      /* --expires DURATION in seconds */
    const char *token_file;  /* --token-file */
    const char *fingerprint; /* --fingerprint, as typed (checked) */
    const char *client_cert; /* --client-cert */
    const char *client_key;  /* --client-key */
    const char *url;         /* remote add: the URL positional */
    const char *owner;       /* system install --owner USER */
    const char *root;        /* system install/uninstall --root DIR */
    const char *prefix;      /* system install --prefix DIR */

    /* ci gitlab: STAGE (config, prepare, run, cleanup); for run SCRIPT (the runner's script
     * on the host) and SUBSTAGE (the runner's sub-stage: step_script...) */
    const char *ci_stage, *ci_script, *ci_substage;
};

/* A duration as people write it: a number and a unit, s, m, h, d or w ("90m", "30d"), or
 * plain seconds, in [min, max] seconds. -EINVAL or -ERANGE with err saying why. */
int bg_cli_args_duration(const char *s, uint64_t min, uint64_t max, uint64_t *ret,
                         struct bg_error *err);

/* Parse argv (argv[0] is the program) into *ret. On a usage error returns -EINVAL with a
 * one-line message in err; of *ret only ret->where is then set, naming the command for the
 * "Run 'banger WHERE --help'" hint ("" for the top level). */
int bg_cli_args_parse(int argc, char *const argv[], struct bg_cli_args *ret, struct bg_error *err);

/* The flags command id takes (enum bg_cli_flag bits), for tests that compare commands. */
unsigned bg_cli_args_flags_of(enum bg_cli_cmd id);

/* The id of a parsed command (a->cmd must not be NULL). */
enum bg_cli_cmd bg_cli_args_cmd(const struct bg_cli_args *a);

/* Print the usage that fits a: a command's, a group's, or the top-level one. */
void bg_cli_args_usage(FILE *f, const struct bg_cli_args *a);

/* The VM name of an ssh host name: NAME, or NAME.vm without ".vm" (into buf, 64 bytes).
 * -EINVAL with err when what remains is not a VM name. */
int bg_cli_args_vm_host(const char *host, char buf[64], struct bg_error *err);

/* The daemon's socket path, first match wins: --socket; --system (/run/banger/bangerd.sock);
 * $BANGER_SOCKET; BANGER_SYSTEM=1; $XDG_RUNTIME_DIR/banger/bangerd.sock;
 * /run/user/UID/banger/bangerd.sock. Empty variables count as unset. Caller frees. */
char *bg_cli_args_socket(const struct bg_cli_args *a);
