/* SPDX-License-Identifier: MIT */
/* The command and flag tables of banger, the parser that checks argv against them, and usage. */
#include "args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banger/alloc.h"

#include "banger/fingerprint.h"
#include "banger/parse.h"
#include "banger/token.h"
#include "banger/utf8.h"
#include "banger/validate.h"
#include "cmd_ci.h"
#include "cmd_forward.h"

struct bg_cli_command {
    enum bg_cli_cmd id;
    const char *group;   /* "vm", or NULL for a top-level command */
    const char *verb;    /* "create" */
    const char *summary; /* one line for listings */
    bool takes_name;     /* needs the NAME positional */
    uint64_t flags;      /* enum bg_cli_flag bits allowed */
    uint64_t required;   /* of those, the ones that must be given */
};

struct flag_spec {
    enum bg_cli_flag bit;
    const char *name;    /* "--vcpus" */
    const char *metavar; /* "N"; NULL for a switch */
    uint64_t min, max;   /* bounds for numeric flags (max 0: not a number) */
    const char *help;
};

struct group_spec {
    const char *name;
    const char *summary;
};

#define VM_SIZE_FLAGS (BG_CLI_FLAG_VCPUS | BG_CLI_FLAG_MEMORY | BG_CLI_FLAG_DISK)

static const struct bg_cli_command commands[] = {
    {BG_CLI_CMD_VERSION, NULL, "version", "Show the client and daemon versions", false, 0, 0},
    {BG_CLI_CMD_DOCTOR, NULL, "doctor",
     "Check this host: PASS, WARN or FAIL per check, what to do for each FAIL", false, 0, 0},
    {BG_CLI_CMD_SYSTEM_INFO, "system", "info", "Show the daemon's paths, counts and configuration",
     false, 0, 0},
    {BG_CLI_CMD_IMAGE_LS, "image", "ls", "List images", false, 0, 0},
    {BG_CLI_CMD_IMAGE_SHOW, "image", "show", "Show one image", true, 0, 0},
    {BG_CLI_CMD_IMAGE_IMPORT, "image", "import",
     "Register a kernel (and rootfs/initrd/vmlinux) as an image", true,
     BG_CLI_FLAG_KERNEL | BG_CLI_FLAG_ROOTFS | BG_CLI_FLAG_INITRD | BG_CLI_FLAG_VMLINUX |
         BG_CLI_FLAG_NO_WAIT,
     BG_CLI_FLAG_KERNEL},
    {BG_CLI_CMD_IMAGE_RM, "image", "rm", "Delete an image no VM uses", true, 0, 0},
    {BG_CLI_CMD_IMAGE_BUILD, "image", "build",
     "Build an image from Debian's packages (NAME defaults to 'default', recipe to dev)", false,
     BG_CLI_FLAG_NO_WAIT | BG_CLI_FLAG_RECIPE | BG_CLI_FLAG_PACKAGES, 0},
    {BG_CLI_CMD_VM_LS, "vm", "ls", "List VMs", false, BG_CLI_FLAG_STATE, 0},
    {BG_CLI_CMD_VM_CREATE, "vm", "create", "Create a VM from an image", true,
     BG_CLI_FLAG_IMAGE | VM_SIZE_FLAGS | BG_CLI_FLAG_NAT | BG_CLI_FLAG_START, 0},
    {BG_CLI_CMD_VM_SHOW, "vm", "show", "Show one VM", true, 0, 0},
    {BG_CLI_CMD_VM_SET, "vm", "set", "Change a VM's size or NAT", true,
     VM_SIZE_FLAGS | BG_CLI_FLAG_NAT | BG_CLI_FLAG_NO_NAT, 0},
    {BG_CLI_CMD_VM_RM, "vm", "rm", "Delete a VM and its disks", true, BG_CLI_FLAG_FORCE, 0},
    {BG_CLI_CMD_VM_START, "vm", "start", "Boot a VM and wait until its agent answers", true, 0, 0},
    {BG_CLI_CMD_VM_STOP, "vm", "stop", "Power a VM off (forced after the timeout)", true,
     BG_CLI_FLAG_TIMEOUT, 0},
    {BG_CLI_CMD_VM_CONSOLE, "vm", "console", "Print the end of a VM's console log", true,
     BG_CLI_FLAG_TAIL, 0},
    {BG_CLI_CMD_EVENTS, NULL, "events", "Stream state-change events as they happen", false,
     BG_CLI_FLAG_SINCE, 0},
    {BG_CLI_CMD_VM_EXEC, "vm", "exec", "Run a command in a running VM", true,
     BG_CLI_FLAG_INTERACTIVE | BG_CLI_FLAG_TTY | BG_CLI_FLAG_ENV | BG_CLI_FLAG_CWD, 0},
    /* every flag of vm create too (--start is what run does anyway) */
    {BG_CLI_CMD_VM_RUN, "vm", "run",
     "Create and start a VM, copy a repository in, run a command (and delete the VM)", false,
     BG_CLI_FLAG_RM | BG_CLI_FLAG_TIMINGS | BG_CLI_FLAG_IMAGE | BG_CLI_FLAG_NAME | VM_SIZE_FLAGS |
         BG_CLI_FLAG_NAT | BG_CLI_FLAG_START | BG_CLI_FLAG_INTERACTIVE | BG_CLI_FLAG_TTY |
         BG_CLI_FLAG_ENV | BG_CLI_FLAG_CWD | BG_CLI_FLAG_MODE,
     0},
    {BG_CLI_CMD_VM_WORKSPACE, "vm", "workspace",
     "Put a git repository's files at /root/repo in a running VM", true,
     BG_CLI_FLAG_MODE | BG_CLI_FLAG_FROM | BG_CLI_FLAG_BRANCH, 0},
    {BG_CLI_CMD_VM_CP, "vm", "cp",
     "Copy files or directories between the host and a running VM (NAME:PATH is in the VM)", false,
     0, 0},
    {BG_CLI_CMD_VM_SSH, "vm", "ssh", "Open a shell (or run a command) in a VM with your ssh client",
     true, 0, 0},
    {BG_CLI_CMD_VM_TUNNEL, "vm", "tunnel",
     "Connect stdin and stdout to a TCP port inside a VM (like nc)", true, 0, 0},
    {BG_CLI_CMD_VM_FORWARD, "vm", "forward",
     "Forward a host port to a port inside a VM until interrupted", true, 0, 0},
    {BG_CLI_CMD_SSH_CONFIG_INSTALL, "ssh-config", "install",
     "Include banger's settings in ~/.ssh/config, so 'ssh NAME.vm' works", false, 0, 0},
    {BG_CLI_CMD_SSH_CONFIG_UNINSTALL, "ssh-config", "uninstall",
     "Take banger's Include out of ~/.ssh/config", false, 0, 0},
    {BG_CLI_CMD_SSH_CONFIG_PROXY, "ssh-config", "proxy",
     "The ssh ProxyCommand: stdin and stdout to a VM's sshd (NAME or NAME.vm)", true, 0, 0},
    {BG_CLI_CMD_TOKEN_CREATE, "token", "create",
     "Make an API token for remote clients (its secret is printed once)", false,
     BG_CLI_FLAG_NAME | BG_CLI_FLAG_SCOPE | BG_CLI_FLAG_EXPIRES,
     BG_CLI_FLAG_NAME | BG_CLI_FLAG_SCOPE},
    {BG_CLI_CMD_TOKEN_LS, "token", "ls", "List API tokens (never their secrets)", false, 0, 0},
    {BG_CLI_CMD_TOKEN_RM, "token", "rm", "Revoke an API token (NAME is its name or id)", true, 0,
     0},
    {BG_CLI_CMD_REMOTE_ADD, "remote", "add",
     "Add a remote daemon (NAME URL), pinning its certificate's fingerprint", true,
     BG_CLI_FLAG_TOKEN_FILE | BG_CLI_FLAG_FINGERPRINT | BG_CLI_FLAG_ACCEPT_CERT |
         BG_CLI_FLAG_CLIENT_CERT | BG_CLI_FLAG_CLIENT_KEY,
     BG_CLI_FLAG_TOKEN_FILE},
    {BG_CLI_CMD_REMOTE_LS, "remote", "ls", "List the remote daemons this CLI knows", false, 0, 0},
    {BG_CLI_CMD_REMOTE_RM, "remote", "rm", "Forget a remote daemon", true, 0, 0},
    {BG_CLI_CMD_CI_GITLAB, "ci", "gitlab", "A GitLab Runner custom executor driver (docs/ci.md)",
     false, BG_CLI_FLAG_IMAGE | VM_SIZE_FLAGS | BG_CLI_FLAG_NAT, 0},
    {BG_CLI_CMD_SYSTEM_INSTALL, "system", "install",
     "Make this host a banger host: install.toml, hardened units, directories, drop-ins (root)",
     false, BG_CLI_FLAG_OWNER | BG_CLI_FLAG_DRY_RUN | BG_CLI_FLAG_ROOT | BG_CLI_FLAG_PREFIX,
     BG_CLI_FLAG_OWNER},
    {BG_CLI_CMD_SYSTEM_UNINSTALL, "system", "uninstall",
     "Undo 'system install' (state and cache stay unless --purge)", false,
     BG_CLI_FLAG_DRY_RUN | BG_CLI_FLAG_ROOT | BG_CLI_FLAG_PURGE, 0},
};

static const struct flag_spec flags[] = {
    {BG_CLI_FLAG_STATE, "--state", "S", 0, 0,
     "only VMs in state S (created, starting, running, stopping, stopped, failed)"},
    {BG_CLI_FLAG_IMAGE, "--image", "IMG", 0, 0,
     "the image to boot (default: the daemon's vm_default_image, 'default')"},
    {BG_CLI_FLAG_VCPUS, "--vcpus", "N", BG_CLI_VCPUS_MIN, BG_CLI_VCPUS_MAX,
     "virtual CPUs, 1..32 (default 2)"},
    {BG_CLI_FLAG_MEMORY, "--memory", "MIB", BG_CLI_MEMORY_MIN, BG_CLI_MEMORY_MAX,
     "memory in MiB, 128..65536 (default 1024)"},
    {BG_CLI_FLAG_DISK, "--disk", "MIB", BG_CLI_DISK_MIN, BG_CLI_DISK_MAX,
     "writable disk in MiB, 512..1048576 (default 8192; may only grow)"},
    {BG_CLI_FLAG_NAT, "--nat", NULL, 0, 0, "give the VM outbound NAT"},
    {BG_CLI_FLAG_NO_NAT, "--no-nat", NULL, 0, 0, "take outbound NAT away"},
    {BG_CLI_FLAG_KERNEL, "--kernel", "PATH", 0, 0, "the kernel (vmlinux ELF or bzImage)"},
    {BG_CLI_FLAG_ROOTFS, "--rootfs", "PATH", 0, 0, "an ext4 root filesystem"},
    {BG_CLI_FLAG_INITRD, "--initrd", "PATH", 0, 0, "an initramfs"},
    {BG_CLI_FLAG_VMLINUX, "--vmlinux", "PATH", 0, 0,
     "an ELF vmlinux for Firecracker, when --kernel is a bzImage"},
    {BG_CLI_FLAG_NO_WAIT, "--no-wait", NULL, 0, 0, "print the operation and return at once"},
    {BG_CLI_FLAG_RECIPE, "--recipe", "R", 0, 0,
     "dev (Debian 12 rootfs with a toolchain, git, sshd; default) or minimal (busybox "
     "initramfs only)"},
    {BG_CLI_FLAG_PACKAGES, "--packages", "A,B", 0, 0,
     "dev: Debian packages to add to the recipe's (and to image_dev_packages)"},
    {BG_CLI_FLAG_SINCE, "--since", "SEQ", 0, INT64_MAX, "replay events after SEQ, then follow"},
    {BG_CLI_FLAG_TIMEOUT, "--timeout", "S", 1, 300,
     "seconds to wait for the guest to power off before forcing it, 1..300 (default 30)"},
    {BG_CLI_FLAG_TAIL, "--tail", "BYTES", 1, 1048576,
     "print at most the last BYTES bytes, 1..1048576 (default 65536)"},
    {BG_CLI_FLAG_FORCE, "--force", NULL, 0, 0, "stop the VM first if it runs"},
    {BG_CLI_FLAG_START, "--start", NULL, 0, 0, "boot it right away (vm run always does)"},
    {BG_CLI_FLAG_INTERACTIVE, "-i", NULL, 0, 0, "attach stdin (else the command reads /dev/null)"},
    {BG_CLI_FLAG_TTY, "-t", NULL, 0, 0, "run under a terminal (raw mode, window size)"},
    {BG_CLI_FLAG_ENV, "--env", "K=V", 0, 0, "set an environment variable (repeatable)"},
    {BG_CLI_FLAG_CWD, "--cwd", "DIR", 0, 0, "working directory in the guest (absolute)"},
    {BG_CLI_FLAG_RM, "--rm", NULL, 0, 0, "delete the VM afterwards (also on Ctrl-C)"},
    {BG_CLI_FLAG_TIMINGS, "--timings", NULL, 0, 0, "print where the time went to stderr"},
    {BG_CLI_FLAG_NAME, "--name", "NAME", 0, 0,
     "vm run: the VM's name (default run-XXXXXX); token create: the token's"},
    {BG_CLI_FLAG_MODE, "--mode", "M", 0, 0,
     "copy (tracked files as they are, default) or clone (full history)"},
    {BG_CLI_FLAG_FROM, "--from", "REF", 0, 0, "clone: the commit to branch from"},
    {BG_CLI_FLAG_BRANCH, "--branch", "NAME", 0, 0, "clone: the branch to create"},
    {BG_CLI_FLAG_SCOPE, "--scope", "SCOPE", 0, 0,
     "read, write, exec or admin (repeatable, or comma-separated)"},
    {BG_CLI_FLAG_EXPIRES, "--expires", "DURATION", 0, 0,
     "expire after DURATION (90m, 12h, 30d, 2w; default never)"},
    {BG_CLI_FLAG_TOKEN_FILE, "--token-file", "FILE", 0, 0,
     "the file holding the token (from 'banger token create')"},
    {BG_CLI_FLAG_FINGERPRINT, "--fingerprint", "SHA256", 0, 0,
     "the SHA-256 fingerprint the server's certificate must have (banger system info)"},
    {BG_CLI_FLAG_ACCEPT_CERT, "--accept-certificate", NULL, 0, 0,
     "pin whatever certificate the server presents now, without asking"},
    {BG_CLI_FLAG_CLIENT_CERT, "--client-cert", "FILE", 0, 0,
     "a client certificate (PEM) for a daemon that pins them"},
    {BG_CLI_FLAG_CLIENT_KEY, "--client-key", "FILE", 0, 0, "the client certificate's key (PEM)"},
    {BG_CLI_FLAG_OWNER, "--owner", "USER", 0, 0, "the user bangerd runs as (not root)"},
    {BG_CLI_FLAG_DRY_RUN, "--dry-run", NULL, 0, 0, "print every file and command; change nothing"},
    {BG_CLI_FLAG_ROOT, "--root", "DIR", 0, 0,
     "install into the tree at DIR instead of / (packaging, tests); runs no command"},
    {BG_CLI_FLAG_PURGE, "--purge", NULL, 0, 0, "also delete the state and cache (images, disks)"},
    {BG_CLI_FLAG_PREFIX, "--prefix", "DIR", 0, 0,
     "where bin/bangerd and sbin/bangerd-root are (default: above this banger's bin/)"},
};

static const struct group_spec groups[] = {
    {"system", "Inspect the daemon; install banger on this host"},
    {"image", "Manage images"},
    {"vm", "Manage VMs"},
    {"ssh-config", "Make 'ssh NAME.vm' (scp, rsync, editors) reach VMs"},
    {"token", "Manage API tokens for remote clients"},
    {"remote", "Manage the remote daemons this CLI talks to"},
    {"ci", "Run CI jobs in VMs for a CI engine's runner"},
};

static const char *const vm_states[] = {"created",  "starting", "running",
                                        "stopping", "stopped",  "failed"};

enum bg_cli_cmd bg_cli_args_cmd(const struct bg_cli_args *a)
{
    return a->cmd->id;
}

unsigned bg_cli_args_flags_of(enum bg_cli_cmd id)
{
    for (size_t k = 0; k < BG_ARRAY_SIZE(commands); k++)
        if (commands[k].id == id)
            return commands[k].flags;
    return 0;
}

static bool is_help(const char *s)
{
    return !strcmp(s, "--help") || !strcmp(s, "-h");
}

/* Split "--flag=value" into the flag name (copied into buf) and the value, if any. */
static const char *split_flag(const char *arg, char *buf, size_t n, const char **ret_value)
{
    const char *eq = strchr(arg, '=');

    *ret_value = NULL;
    if (!eq)
        return arg;
    snprintf(buf, n, "%.*s", (int)(eq - arg), arg);
    *ret_value = eq + 1;
    return buf;
}

/* Take the value of flag `name`: the part after '=' or the next argument. */
static int take_value(int argc, char *const argv[], int *i, const char *name, const char *inline_v,
                      const char *metavar, const char **ret, struct bg_error *err)
{
    if (inline_v) {
        *ret = inline_v;
        return 0;
    }
    if (*i + 1 >= argc)
        return bg_error_set(err, -EINVAL, "flag '%s' needs a value (%s)", name, metavar);
    *ret = argv[++*i];
    return 0;
}

/* One of the options valid anywhere (--socket, --json, --system, --help): returns 1 when
 * argv[*i] was one and is consumed, 0 when it is something else, or a usage error. */
static int parse_global(int argc, char *const argv[], int *i, struct bg_cli_args *a,
                        struct bg_error *err)
{
    char buf[64];
    const char *v;
    const char *arg = split_flag(argv[*i], buf, sizeof(buf), &v);

    if (!strcmp(arg, "--socket")) {
        int r = take_value(argc, argv, i, arg, v, "PATH", &a->socket, err);
        if (r < 0)
            return r;
        if (!*a->socket)
            return bg_error_set(err, -EINVAL, "flag '--socket' needs a non-empty PATH");
        return 1;
    }
    if (!strcmp(arg, "--remote")) {
        int r = take_value(argc, argv, i, arg, v, "NAME", &a->remote, err);
        if (r < 0)
            return r;
        r = bg_name_validate(a->remote, err);
        return r < 0 ? bg_error_prefix(err, r, "flag '--remote'") : 1;
    }
    if (v)
        return 0;
    if (!strcmp(arg, "--json"))
        a->json = true;
    else if (!strcmp(arg, "--system"))
        a->system = true;
    else if (is_help(arg))
        a->help = true;
    else
        return 0;
    return 1;
}

static int parse_globals(int argc, char *const argv[], int *i, struct bg_cli_args *a,
                         struct bg_error *err)
{
    for (; *i < argc && argv[*i][0] == '-'; (*i)++) {
        int r = parse_global(argc, argv, i, a, err);
        if (r < 0)
            return r;
        if (r > 0)
            continue;
        if (strcmp(argv[*i], "--version"))
            return bg_error_set(err, -EINVAL, "unknown option '%s'", argv[*i]);
        a->version = true;
    }
    return 0;
}

static const struct bg_cli_command *find_command(const char *group, const char *verb)
{
    for (size_t k = 0; k < BG_ARRAY_SIZE(commands); k++) {
        const struct bg_cli_command *c = &commands[k];
        bool same_group = group ? c->group && !strcmp(c->group, group) : !c->group;
        if (same_group && !strcmp(c->verb, verb))
            return c;
    }
    return NULL;
}

static const char *find_group(const char *word)
{
    for (size_t k = 0; k < BG_ARRAY_SIZE(groups); k++)
        if (!strcmp(groups[k].name, word))
            return groups[k].name;
    return NULL;
}

/* Resolve "vm create" / "events" / "vm" from argv[*i...]; leaves *i after the command words. */
static int resolve_command(int argc, char *const argv[], int *i, struct bg_cli_args *a,
                           struct bg_error *err)
{
    const char *word = argv[(*i)++];

    a->group = find_group(word);
    if (!a->group) {
        a->cmd = find_command(NULL, word);
        if (!a->cmd)
            return bg_error_set(err, -EINVAL, "unknown command '%s'", word);
        snprintf(a->where, sizeof(a->where), "%s", a->cmd->verb);
        return 0;
    }
    snprintf(a->where, sizeof(a->where), "%s", a->group);
    if (*i >= argc || is_help(argv[*i])) {
        if (a->help || (*i < argc && is_help(argv[*i]))) {
            a->help = true;
            return 0;
        }
        return bg_error_set(err, -EINVAL, "'banger %s' needs a subcommand", a->group);
    }
    word = argv[(*i)++];
    a->cmd = find_command(a->group, word);
    if (!a->cmd)
        return bg_error_set(err, -EINVAL, "unknown command '%s %s'", a->group, word);
    snprintf(a->where, sizeof(a->where), "%s %s", a->group, a->cmd->verb);
    return 0;
}

static int check_state(const char *s, struct bg_error *err)
{
    for (size_t k = 0; k < BG_ARRAY_SIZE(vm_states); k++)
        if (!strcmp(vm_states[k], s))
            return 0;
    return bg_error_set(err, -EINVAL,
                        "flag '--state': '%s' is not a VM state (created, starting, running, "
                        "stopping, stopped, failed)",
                        BG_QUOTE(s));
}

/* The values of vm exec/run/workspace flags that need checking. */
static int store_exec_flag(const struct flag_spec *f, const char *v, struct bg_cli_args *a,
                           struct bg_error *err)
{
    const char *eq = strchr(v, '=');

    switch (f->bit) {
    case BG_CLI_FLAG_ENV:
        if (a->n_env == BG_CLI_ENV_MAX)
            return bg_error_set(err, -EINVAL, "at most %d --env flags", BG_CLI_ENV_MAX);
        if (!eq || eq == v)
            return bg_error_set(err, -EINVAL, "flag '--env' needs NAME=VALUE (got '%s')",
                                BG_QUOTE(v));
        a->env[a->n_env++] = v;
        return 0;
    case BG_CLI_FLAG_CWD:
        a->cwd = v;
        return v[0] == '/' ? 0 : bg_error_set(err, -EINVAL, "flag '--cwd' needs an absolute path");
    case BG_CLI_FLAG_NAME: {
        a->name = v;
        int r = bg_name_validate(v, err);
        return r < 0 ? bg_error_prefix(err, r, "flag '--name'") : 0;
    }
    default: /* BG_CLI_FLAG_MODE */
        a->mode = v;
        if (strcmp(v, "copy") && strcmp(v, "clone"))
            return bg_error_set(err, -EINVAL, "flag '--mode' is copy or clone (got '%s')",
                                BG_QUOTE(v));
        return 0;
    }
}

/* --packages: names separated by commas or blanks, each a Debian package name. */
static int check_packages(const char *v, struct bg_error *err)
{
    size_t count = 0;

    for (const char *p = v;;) {
        p += strspn(p, ", \t");
        if (!*p)
            return count ? 0 : bg_error_set(err, -EINVAL, "flag '--packages': no package named");
        size_t n = strcspn(p, ", \t");
        bg_autofree char *name = bg_strndup(p, n);
        int r = bg_package_validate(name, err);
        if (r < 0)
            return bg_error_prefix(err, r, "flag '--packages'");
        count++;
        p += n;
    }
}

/* --scope's value: one scope or several separated by ',', added to a->scopes. */
static int store_scopes(const char *v, struct bg_cli_args *a, struct bg_error *err)
{
    bg_autofree char *copy = bg_strdup(v);
    char *save = NULL;
    unsigned bit;

    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (bg_scope_parse(w, &bit, err) < 0)
            return bg_error_prefix(err, -EINVAL, "flag '--scope'");
        a->scopes |= bit;
    }
    if (!a->scopes)
        return bg_error_set(err, -EINVAL, "flag '--scope' needs read, write, exec or admin");
    return 0;
}

/* The values of token and remote flags that need checking. */
static int store_remote_flag(const struct flag_spec *f, const char *v, struct bg_cli_args *a,
                             struct bg_error *err)
{
    uint8_t fp[BG_FINGERPRINT_BYTES];
    int r;

    switch (f->bit) {
    case BG_CLI_FLAG_SCOPE:
        return store_scopes(v, a, err);
    case BG_CLI_FLAG_EXPIRES:
        r = bg_cli_args_duration(v, BG_TOKEN_EXPIRES_MIN, BG_TOKEN_EXPIRES_MAX, &a->expires_s, err);
        return r < 0 ? bg_error_prefix(err, r, "flag '--expires'") : 0;
    case BG_CLI_FLAG_FINGERPRINT:
        a->fingerprint = v;
        r = bg_fingerprint_parse(v, strlen(v), fp, err);
        return r < 0 ? bg_error_prefix(err, r, "flag '--fingerprint'") : 0;
    case BG_CLI_FLAG_TOKEN_FILE:
        a->token_file = v;
        break;
    case BG_CLI_FLAG_CLIENT_CERT:
        a->client_cert = v;
        break;
    default: /* BG_CLI_FLAG_CLIENT_KEY */
        a->client_key = v;
        break;
    }
    return *v ? 0
              : bg_error_set(err, -EINVAL, "flag '%s' needs a non-empty %s", f->name, f->metavar);
}

int bg_cli_args_duration(const char *s, uint64_t min, uint64_t max, uint64_t *ret,
                         struct bg_error *err)
{
    static const struct {
        char unit;
        uint64_t seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
    size_t len = strlen(s);
    uint64_t mult = 1, n;
    char digits[24];

    for (size_t i = 0; len > 1 && i < BG_ARRAY_SIZE(units); i++)
        if (s[len - 1] == units[i].unit) {
            mult = units[i].seconds;
            len--;
            break;
        }
    if (len == 0 || len >= sizeof(digits) || strspn(s, "0123456789") != len)
        return bg_error_set(err, -EINVAL,
                            "'%s' is not a duration: a number and s, m, h, d or w (90m, 30d)",
                            BG_QUOTE(s));
    memcpy(digits, s, len);
    digits[len] = '\0';
    if (bg_parse_u64(digits, 0, max / mult, &n, NULL) < 0 || n * mult < min)
        return bg_error_set(err, -ERANGE, "'%s' is out of range: %llu s to about %llu days",
                            BG_QUOTE(s), (unsigned long long)min,
                            (unsigned long long)(max / 86400));
    *ret = n * mult;
    return 0;
}

/* Check and store the value v of flag f. */
static int store_flag(const struct flag_spec *f, const char *v, struct bg_cli_args *a,
                      struct bg_error *err)
{
    uint64_t n = 0;
    int r;

    if (f->max) {
        r = bg_parse_u64(v, f->min, f->max, &n, err);
        if (r < 0)
            return bg_error_prefix(err, r, "flag '%s'", f->name);
    }
    switch (f->bit) {
    case BG_CLI_FLAG_STATE:
        a->state = v;
        return check_state(v, err);
    case BG_CLI_FLAG_IMAGE:
        a->image = v;
        r = bg_name_validate(v, err);
        return r < 0 ? bg_error_prefix(err, r, "flag '--image'") : 0;
    case BG_CLI_FLAG_KERNEL:
        a->kernel = v;
        break;
    case BG_CLI_FLAG_ROOTFS:
        a->rootfs = v;
        break;
    case BG_CLI_FLAG_INITRD:
        a->initrd = v;
        break;
    case BG_CLI_FLAG_VMLINUX:
        a->vmlinux = v;
        break;
    case BG_CLI_FLAG_RECIPE:
        a->recipe = v;
        if (strcmp(v, "dev") != 0 && strcmp(v, "minimal") != 0)
            return bg_error_set(err, -EINVAL, "flag '--recipe': '%s' is not one of dev, minimal",
                                BG_QUOTE(v));
        break;
    case BG_CLI_FLAG_PACKAGES:
        a->packages = v;
        return check_packages(v, err);
    case BG_CLI_FLAG_VCPUS:
        a->vcpus = n;
        break;
    case BG_CLI_FLAG_MEMORY:
        a->memory_mib = n;
        break;
    case BG_CLI_FLAG_DISK:
        a->disk_mib = n;
        break;
    case BG_CLI_FLAG_SINCE:
        a->since = n;
        break;
    case BG_CLI_FLAG_TIMEOUT:
        a->timeout_s = n;
        break;
    case BG_CLI_FLAG_TAIL:
        a->tail = n;
        break;
    case BG_CLI_FLAG_ENV:
    case BG_CLI_FLAG_CWD:
    case BG_CLI_FLAG_NAME:
    case BG_CLI_FLAG_MODE:
        return store_exec_flag(f, v, a, err);
    case BG_CLI_FLAG_FROM:
        a->from = v;
        break;
    case BG_CLI_FLAG_BRANCH:
        a->branch = v;
        break;
    case BG_CLI_FLAG_OWNER:
        a->owner = v;
        break;
    case BG_CLI_FLAG_ROOT:
        a->root = v;
        break;
    case BG_CLI_FLAG_PREFIX:
        a->prefix = v;
        break;
    case BG_CLI_FLAG_SCOPE:
    case BG_CLI_FLAG_EXPIRES:
    case BG_CLI_FLAG_TOKEN_FILE:
    case BG_CLI_FLAG_FINGERPRINT:
    case BG_CLI_FLAG_CLIENT_CERT:
    case BG_CLI_FLAG_CLIENT_KEY:
        return store_remote_flag(f, v, a, err);
    default:
        break; /* switches carry no value */
    }
    if (f->metavar && !f->max && !*v)
        return bg_error_set(err, -EINVAL, "flag '%s' needs a non-empty %s", f->name, f->metavar);
    return 0;
}

static const struct flag_spec *find_flag(const char *name)
{
    for (size_t k = 0; k < BG_ARRAY_SIZE(flags); k++)
        if (!strcmp(flags[k].name, name))
            return &flags[k];
    return NULL;
}

/* One "--flag[=value]" argument of the command; *i advances past a separate value. */
static int parse_flag(int argc, char *const argv[], int *i, struct bg_cli_args *a,
                      struct bg_error *err)
{
    char buf[64];
    const char *v;
    const char *name = split_flag(argv[*i], buf, sizeof(buf), &v);
    const struct flag_spec *f = find_flag(name);
    int r = parse_global(argc, argv, i, a, err);

    if (r != 0)
        return r < 0 ? r : 0;
    if ((!strcmp(name, "-it") || !strcmp(name, "-ti")) &&
        (a->cmd->flags & BG_CLI_FLAG_INTERACTIVE)) {
        a->given |= BG_CLI_FLAG_INTERACTIVE | BG_CLI_FLAG_TTY; /* the usual shorthand */
        return 0;
    }
    if (!f || !(a->cmd->flags & f->bit))
        return bg_error_set(err, -EINVAL, "unknown flag '%s' for 'banger %s'", name, a->where);
    if ((a->given & f->bit) && f->bit != BG_CLI_FLAG_ENV && f->bit != BG_CLI_FLAG_SCOPE)
        return bg_error_set(err, -EINVAL, "flag '%s' given twice", name);
    a->given |= f->bit;
    if (!f->metavar) {
        if (v)
            return bg_error_set(err, -EINVAL, "flag '%s' takes no value", name);
        return 0;
    }
    r = take_value(argc, argv, i, name, v, f->metavar, &v, err);
    return r < 0 ? r : store_flag(f, v, a, err);
}

static bool takes_command(const struct bg_cli_args *a)
{
    return a->cmd->id == BG_CLI_CMD_VM_EXEC || a->cmd->id == BG_CLI_CMD_VM_RUN ||
           a->cmd->id == BG_CLI_CMD_VM_SSH;
}

/* The one positional after NAME of vm tunnel, vm forward and ssh-config proxy. */
static bool takes_target(const struct bg_cli_args *a)
{
    return a->cmd->id == BG_CLI_CMD_VM_TUNNEL || a->cmd->id == BG_CLI_CMD_VM_FORWARD ||
           a->cmd->id == BG_CLI_CMD_SSH_CONFIG_PROXY;
}

/* NAME, then REPO (vm workspace, vm run); for vm exec the next word starts the command,
 * which *ret_command_start reports. */
static int parse_positional(int i, char *const argv[], struct bg_cli_args *a,
                            int *ret_command_start, struct bg_error *err)
{
    const char *arg = argv[i];
    enum bg_cli_cmd id = a->cmd->id;

    if ((a->cmd->takes_name || id == BG_CLI_CMD_IMAGE_BUILD) && !a->name) {
        a->name = arg; /* image build: an optional NAME */
        return 0;
    }
    if ((id == BG_CLI_CMD_VM_WORKSPACE || id == BG_CLI_CMD_VM_RUN) && !a->repo) {
        a->repo = arg;
        return 0;
    }
    if (id == BG_CLI_CMD_REMOTE_ADD && !a->url) {
        a->url = arg;
        return 0;
    }
    if (id == BG_CLI_CMD_VM_EXEC || id == BG_CLI_CMD_VM_SSH) {
        *ret_command_start = i;
        return 0;
    }
    if (id == BG_CLI_CMD_VM_CP && (!a->src || !a->dst)) {
        *(a->src ? &a->dst : &a->src) = arg;
        return 0;
    }
    if (takes_target(a) && !a->target) {
        a->target = arg;
        return 0;
    }
    if (id == BG_CLI_CMD_CI_GITLAB && !a->ci_substage) {
        const char **slot = !a->ci_stage    ? &a->ci_stage
                            : !a->ci_script ? &a->ci_script
                                            : &a->ci_substage;
        *slot = arg;
        return 0;
    }
    if (id == BG_CLI_CMD_VM_RUN)
        return bg_error_set(err, -EINVAL, "unexpected argument '%s'; put the command after '--'",
                            arg);
    return bg_error_set(err, -EINVAL, "unexpected argument '%s'", arg);
}

static int parse_command_args(int argc, char *const argv[], int i, struct bg_cli_args *a,
                              struct bg_error *err)
{
    bool only_positional = false;

    for (; i < argc; i++) {
        const char *arg = argv[i];
        int command_start = -1;
        int r = 0;

        if (!only_positional && !strcmp(arg, "--") && takes_command(a))
            command_start = i + 1;
        else if (!only_positional && !strcmp(arg, "--"))
            only_positional = true;
        else if (!only_positional && arg[0] == '-' && arg[1] != '\0')
            r = parse_flag(argc, argv, &i, a, err);
        else
            r = parse_positional(i, argv, a, &command_start, err);
        if (r < 0)
            return r;
        if (command_start >= 0) {
            a->command = argv + command_start;
            a->n_command = argc - command_start;
            return 0;
        }
    }
    return 0;
}

/* What vm exec, run and workspace need beyond their flags. */
static int check_exec_args(const struct bg_cli_args *a, struct bg_error *err)
{
    switch (a->cmd->id) {
    case BG_CLI_CMD_VM_EXEC:
        if (a->n_command == 0)
            return bg_error_set(err, -EINVAL,
                                "'banger vm exec' needs a command: "
                                "banger vm exec NAME -- CMD [ARGS...]");
        return 0;
    case BG_CLI_CMD_VM_WORKSPACE:
        if (!a->repo)
            return bg_error_set(err, -EINVAL, "'banger vm workspace' needs a REPO path");
        if (a->from && !a->branch)
            return bg_error_set(err, -EINVAL, "flag '--from' needs '--branch NAME' too");
        if ((a->from || a->branch) && (!a->mode || strcmp(a->mode, "clone")))
            return bg_error_set(err, -EINVAL, "flags '--from' and '--branch' need '--mode clone'");
        return 0;
    case BG_CLI_CMD_VM_RUN:
        if (a->mode && !a->repo)
            return bg_error_set(err, -EINVAL, "flag '--mode' needs a REPO");
        return 0;
    case BG_CLI_CMD_CI_GITLAB: {
        enum bg_cli_ci_stage stage;
        return bg_cli_ci_args_check(a->ci_stage, a->ci_script, a->ci_substage,
                                    a->given & a->cmd->flags, &stage, err);
    }
    case BG_CLI_CMD_VM_CP:
        if (!a->dst)
            return bg_error_set(err, -EINVAL,
                                "'banger vm cp' needs SRC and DST: banger vm cp SRC NAME:DST or "
                                "banger vm cp NAME:SRC DST");
        return 0;
    default:
        return 0;
    }
}

int bg_cli_args_vm_host(const char *host, char buf[64], struct bg_error *err)
{
    size_t n = strlen(host);

    if (n > 3 && !strcmp(host + n - 3, ".vm"))
        n -= 3;
    if (n > 63)
        return bg_error_set(err, -EINVAL, "'%s' is not a VM name (or NAME.vm)", BG_QUOTE(host));
    memcpy(buf, host, n);
    buf[n] = '\0';
    int r = bg_name_validate(buf, err);
    return r < 0 ? bg_error_prefix(err, r, "'%s' is not a VM name (or NAME.vm)", BG_QUOTE(host))
                 : 0;
}

/* The PORT, [PORT] or forward spec of vm tunnel, ssh-config proxy and vm forward. */
static int check_target(struct bg_cli_args *a, struct bg_error *err)
{
    struct bg_cli_forward_spec spec;
    int r;

    switch (a->cmd->id) {
    case BG_CLI_CMD_VM_TUNNEL:
    case BG_CLI_CMD_SSH_CONFIG_PROXY:
        a->port = 22;
        if (!a->target && a->cmd->id == BG_CLI_CMD_VM_TUNNEL)
            return bg_error_set(err, -EINVAL,
                                "'banger vm tunnel' needs a PORT: banger vm tunnel "
                                "NAME PORT");
        if (a->target && (r = bg_parse_u64(a->target, 1, 65535, &a->port, err)) < 0)
            return bg_error_prefix(err, r, "PORT");
        return 0;
    case BG_CLI_CMD_VM_FORWARD:
        if (!a->target)
            return bg_error_set(err, -EINVAL,
                                "'banger vm forward' needs the ports: banger vm forward NAME "
                                "[ADDR:]HOST_PORT:GUEST_PORT");
        return bg_cli_forward_parse(a->target, &spec, err);
    default:
        return 0;
    }
}

/* What the whole command needs beyond each flag being well formed. */
static int check_complete(struct bg_cli_args *a, struct bg_error *err)
{
    const struct bg_cli_command *c = a->cmd;
    uint64_t missing = c->required & ~a->given;

    if (c->takes_name || (c->id == BG_CLI_CMD_IMAGE_BUILD && a->name)) {
        char host[64];
        if (!a->name)
            return bg_error_set(err, -EINVAL, "'banger %s' needs a NAME", a->where);
        int r = c->id == BG_CLI_CMD_SSH_CONFIG_PROXY ? bg_cli_args_vm_host(a->name, host, err)
                                                     : bg_name_validate(a->name, err);
        if (r < 0 && c->id == BG_CLI_CMD_SSH_CONFIG_PROXY)
            return r;
        if (r < 0)
            return bg_error_prefix(err, r, "invalid name '%s'", BG_QUOTE(a->name));
        if ((r = check_target(a, err)) < 0)
            return r;
    }
    for (size_t k = 0; k < BG_ARRAY_SIZE(flags); k++)
        if (missing & flags[k].bit)
            return bg_error_set(err, -EINVAL, "'banger %s' needs %s %s", a->where, flags[k].name,
                                flags[k].metavar);
    if ((a->given & BG_CLI_FLAG_NAT) && (a->given & BG_CLI_FLAG_NO_NAT))
        return bg_error_set(err, -EINVAL, "flags '--nat' and '--no-nat' contradict each other");
    if (c->id == BG_CLI_CMD_VM_SET && !(a->given & c->flags))
        return bg_error_set(err, -EINVAL, "'banger vm set' needs at least one change");
    if (c->id == BG_CLI_CMD_REMOTE_ADD && !a->url)
        return bg_error_set(err, -EINVAL, "'banger remote add' needs a URL: https://HOST:PORT");
    if (!a->client_cert != !a->client_key)
        return bg_error_set(err, -EINVAL, "flags '--client-cert' and '--client-key' go together");
    if (a->fingerprint && (a->given & BG_CLI_FLAG_ACCEPT_CERT))
        return bg_error_set(
            err, -EINVAL, "flags '--fingerprint' and '--accept-certificate' contradict each other");
    if (a->remote && a->socket)
        return bg_error_set(err, -EINVAL, "flags '--remote' and '--socket' contradict each other");
    return check_exec_args(a, err);
}

int bg_cli_args_parse(int argc, char *const argv[], struct bg_cli_args *ret, struct bg_error *err)
{
    struct bg_cli_args a = {0};
    int i = 1;
    int r = parse_globals(argc, argv, &i, &a, err);

    if (r >= 0 && i < argc && !strcmp(argv[i], "help")) {
        a.help = true;
        i++;
        /* "banger help --help" asks for the same thing twice. */
        if (i < argc && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")))
            i++;
    }
    if (r >= 0 && i >= argc && !a.help && !a.version)
        r = bg_error_set(err, -EINVAL, "no command given");
    if (r >= 0 && i < argc)
        r = resolve_command(argc, argv, &i, &a, err);
    if (r >= 0 && a.cmd)
        r = parse_command_args(argc, argv, i, &a, err);
    if (r >= 0 && a.cmd && !a.help)
        r = check_complete(&a, err);
    if (r < 0) {
        *ret = (struct bg_cli_args){0};
        memcpy(ret->where, a.where, sizeof(a.where));
        return r;
    }
    *ret = a;
    return 0;
}

/* " NAME", " [NAME]" (image build: optional) or "". */
static const char *name_synopsis(const struct bg_cli_command *c)
{
    if (c->takes_name)
        return " NAME";
    return c->id == BG_CLI_CMD_IMAGE_BUILD ? " [NAME]" : "";
}

/* "NAME --image IMG [--vcpus N] ..." for command c. */
static void print_synopsis(FILE *f, const struct bg_cli_command *c)
{
    fputs(name_synopsis(c), f);
    for (size_t k = 0; k < BG_ARRAY_SIZE(flags); k++) {
        const struct flag_spec *s = &flags[k];
        bool req = c->required & s->bit;
        if (!(c->flags & s->bit))
            continue;
        fprintf(f, " %s%s%s%s%s", req ? "" : "[", s->name, s->metavar ? " " : "",
                s->metavar ? s->metavar : "", req ? "" : "]");
    }
    if (c->id == BG_CLI_CMD_VM_EXEC)
        fputs(" -- CMD [ARGS...]", f);
    else if (c->id == BG_CLI_CMD_VM_SSH)
        fputs(" [-- CMD [ARGS...]]", f);
    else if (c->id == BG_CLI_CMD_VM_TUNNEL)
        fputs(" PORT", f);
    else if (c->id == BG_CLI_CMD_VM_FORWARD)
        fputs(" [ADDR:]HOST_PORT:GUEST_PORT", f);
    else if (c->id == BG_CLI_CMD_SSH_CONFIG_PROXY)
        fputs(" [PORT]", f);
    else if (c->id == BG_CLI_CMD_VM_RUN)
        fputs(" [REPO] [-- CMD [ARGS...]]", f);
    else if (c->id == BG_CLI_CMD_VM_WORKSPACE)
        fputs(" REPO", f);
    else if (c->id == BG_CLI_CMD_VM_CP)
        fputs(" SRC NAME:DST | NAME:SRC DST", f);
    else if (c->id == BG_CLI_CMD_REMOTE_ADD)
        fputs(" https://HOST:PORT", f);
    else if (c->id == BG_CLI_CMD_CI_GITLAB)
        fputs(" config | prepare | run SCRIPT STAGE | cleanup", f);
}

static void print_command_usage(FILE *f, const struct bg_cli_command *c)
{
    fprintf(f, "Usage: banger %s%s%s", c->group ? c->group : "", c->group ? " " : "", c->verb);
    print_synopsis(f, c);
    fprintf(f, "\n\n%s.\n\nFlags:\n", c->summary);
    for (size_t k = 0; k < BG_ARRAY_SIZE(flags); k++) {
        const struct flag_spec *s = &flags[k];
        char left[32];
        if (!(c->flags & s->bit))
            continue;
        snprintf(left, sizeof(left), "%s%s%s", s->name, s->metavar ? " " : "",
                 s->metavar ? s->metavar : "");
        fprintf(f, "  %-16s %s\n", left, s->help);
    }
    fprintf(f, "  %-16s %s\n  %-16s %s\n", "--json", "print the daemon's JSON", "-h, --help",
            "show this help");
}

static void print_command_list(FILE *f, const char *group)
{
    for (size_t k = 0; k < BG_ARRAY_SIZE(commands); k++) {
        const struct bg_cli_command *c = &commands[k];
        char left[40];
        if (group && (!c->group || strcmp(c->group, group)))
            continue;
        snprintf(left, sizeof(left), "%s%s%s%s", c->group ? c->group : "", c->group ? " " : "",
                 c->verb, name_synopsis(c));
        fprintf(f, "  %-20s %s\n", left, c->summary);
    }
}

static void print_top_usage(FILE *f)
{
    fputs("Usage: banger [--socket PATH | --remote NAME] [--system] [--json] COMMAND [ARGS...]\n\n"
          "Drive bangerd, the daemon that runs throwaway microVMs.\n\nCommands:\n",
          f);
    print_command_list(f, NULL);
    fprintf(f, "  %-20s %s\n", "help [COMMAND]", "Show help for a command");
    fputs("\nGlobal options (--socket, --remote, --system and --json also work after the "
          "command):\n"
          "  --socket PATH   the daemon's socket (env BANGER_SOCKET; default\n"
          "                  $XDG_RUNTIME_DIR/banger/bangerd.sock)\n"
          "  --system        use the system daemon at /run/banger/bangerd.sock (env "
          "BANGER_SYSTEM=1)\n"
          "  --remote NAME   talk to the remote daemon NAME (banger remote add; env\n"
          "                  BANGER_REMOTE); or set BANGER_HOST=https://HOST:PORT and\n"
          "                  BANGER_TOKEN (BANGER_FINGERPRINT to pin, BANGER_CLIENT_CERT and\n"
          "                  BANGER_CLIENT_KEY for a client certificate)\n"
          "  --json          print the daemon's JSON instead of tables\n"
          "  -h, --help      show this help\n"
          "  --version       print the client version\n\n"
          "Run 'banger COMMAND --help' for a command's flags.\n",
          f);
}

void bg_cli_args_usage(FILE *f, const struct bg_cli_args *a)
{
    if (a->cmd) {
        print_command_usage(f, a->cmd);
        return;
    }
    if (!a->group) {
        print_top_usage(f);
        return;
    }
    fprintf(f, "Usage: banger %s COMMAND [ARGS...]\n\nCommands:\n", a->group);
    print_command_list(f, a->group);
    fprintf(f, "\nRun 'banger %s COMMAND --help' for a command's flags.\n", a->group);
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

char *bg_cli_args_socket(const struct bg_cli_args *a)
{
    const char *sys = env_nonempty("BANGER_SYSTEM");
    const char *runtime = env_nonempty("XDG_RUNTIME_DIR");

    if (a->socket)
        return bg_strdup(a->socket);
    if (a->system)
        return bg_strdup(BG_CLI_SYSTEM_SOCKET);
    if (env_nonempty("BANGER_SOCKET"))
        return bg_strdup(env_nonempty("BANGER_SOCKET"));
    if (sys && !strcmp(sys, "1"))
        return bg_strdup(BG_CLI_SYSTEM_SOCKET);
    if (runtime)
        return bg_asprintf("%s/banger/bangerd.sock", runtime);
    return bg_asprintf("/run/user/%u/banger/bangerd.sock", (unsigned)getuid());
}
