/* SPDX-License-Identifier: MIT */
/* banger vm ssh, vm tunnel and ssh-config: the user's own ssh client, through banger's
 * tunnel to the guest's sshd, with banger's key and known_hosts. */
#include "cmd_ssh.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "filetext.h"
#include "sshconfig.h"
#include "sshkeys.h"
#include "tunnel.h"

#define SSH_CONFIG_MAX (1024 * 1024)

/* The absolute path of this banger, for the ProxyCommand. */
static int banger_path(char buf[PATH_MAX], struct bg_error *err)
{
    ssize_t n = readlink("/proc/self/exe", buf, PATH_MAX - 1);

    if (n < 0)
        return bg_error_errno(err, "find the banger program (/proc/self/exe)");
    buf[n] = '\0';
    return 0;
}

/* socket as an absolute path (it may not exist yet). A new string. */
static char *absolute(const char *socket)
{
    char cwd[PATH_MAX];

    if (socket[0] == '/' || !getcwd(cwd, sizeof(cwd)))
        return bg_strdup(socket);
    return bg_asprintf("%s/%s", cwd, socket);
}

/* Open a tunnel to vm's sshd with banger's key authorized and record the host keys it
 * reports in banger's known_hosts, before a byte of ssh goes through. */
static int open_ssh(const char *socket, const char *vm, unsigned port, struct bg_cli_upgrade **ret,
                    struct bg_error *err)
{
    struct bg_cli_ssh_paths p = {0};
    char key[BG_SSHKEY_MAX + 1], host[128];
    char **host_keys = NULL;
    int r;

    if ((r = bg_cli_ssh_paths_get(&p, true, err)) < 0)
        return r;
    struct bg_cli_tunnel_opts o = {
        .vm = vm, .port = (uint16_t)port, .authorized_key = key, .host_keys = true};
    if ((r = bg_cli_ssh_client_key(&p, key, err)) == 0 &&
        (r = bg_cli_tunnel_open(socket, &o, ret, &host_keys, err)) == 0) {
        bg_cli_ssh_host_name(vm, port, host, sizeof(host));
        if ((r = bg_cli_known_hosts_update(&p, host, host_keys, err)) < 0)
            bg_cli_upgrade_free(*ret);
    }
    bg_strv_free(host_keys);
    bg_cli_ssh_paths_done(&p);
    return r;
}

static int ssh_proxy(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    struct bg_cli_upgrade *u = NULL;
    char vm[64];
    int r;

    if ((r = bg_cli_args_vm_host(a->name, vm, err)) < 0 ||
        (r = open_ssh(socket, vm, (unsigned)a->port, &u, err)) < 0)
        return r;
    r = bg_cli_tunnel_relay(u, STDIN_FILENO, STDOUT_FILENO, true, err);
    bg_cli_upgrade_free(u);
    return r;
}

static int vm_tunnel(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    struct bg_cli_tunnel_opts o = {.vm = a->name, .port = (uint16_t)a->port};
    struct bg_cli_upgrade *u = NULL;
    char **keys = NULL;
    int r = bg_cli_tunnel_open(socket, &o, &u, &keys, err);

    if (r < 0)
        return r;
    fflush(stdout);
    /* input that was piped in all goes to the guest, also after the guest's side ended (a
     * half-close); a person at a terminal is done when the guest is */
    r = bg_cli_tunnel_relay(u, STDIN_FILENO, STDOUT_FILENO, !isatty(STDIN_FILENO), err);
    bg_cli_upgrade_free(u);
    return r;
}

/* banger's ssh options for this banger and socket. */
static int options(const struct bg_cli_ssh_paths *p, const char *socket, char ***ret,
                   struct bg_error *err)
{
    char self[PATH_MAX];
    bg_autofree char *sock = absolute(socket);
    int r = banger_path(self, err);

    return r < 0 ? r : bg_cli_ssh_options(p, self, sock, ret, err);
}

/* True when PATH has an executable name. */
static bool in_path(const char *name)
{
    const char *path = getenv("PATH");

    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        bg_autofree char *candidate = bg_asprintf("%.*s/%s", (int)n, p, name);
        if (n > 0 && access(candidate, X_OK) == 0)
            return true;
        p += n + (p[n] == ':');
    }
    return false;
}

/* Replace banger with ssh to vm: ssh -o ... -- NAME.vm [CMD...]. */
static int vm_ssh(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    struct bg_cli_ssh_paths p = {0};
    struct bg_cli_upgrade *u = NULL;
    char **opts = NULL;
    int r;

    if (!in_path("ssh"))
        return bg_error_set(err, -ENOENT,
                            "ssh is not installed: 'banger vm ssh' runs your ssh client (Debian: "
                            "apt-get install openssh-client)");
    /* a tunnel first: a VM that is not running or has no sshd is said plainly, and the
     * host keys are recorded before ssh looks for them */
    if ((r = open_ssh(socket, a->name, 22, &u, err)) < 0)
        return r;
    bg_cli_upgrade_free(u);
    if ((r = bg_cli_ssh_paths_get(&p, true, err)) < 0 ||
        (r = options(&p, socket, &opts, err)) < 0) {
        bg_cli_ssh_paths_done(&p);
        return r;
    }
    size_t n = 0;
    while (opts[n])
        n++;
    const char **argv = bg_calloc(2 * n + 4 + (size_t)a->n_command, sizeof(char *));
    size_t k = 0;
    argv[k++] = "ssh";
    for (size_t i = 0; i < n; i++) {
        argv[k++] = "-o";
        argv[k++] = opts[i];
    }
    /* after "--" ssh takes no more options: the command's words stay the command's */
    argv[k++] = "--";
    bg_autofree char *host = bg_asprintf("%s.vm", a->name);
    argv[k++] = host;
    for (int i = 0; i < a->n_command; i++)
        argv[k++] = a->command[i];
    fflush(stdout);
    /* execvp takes char *const[] for historical reasons; it writes to none of them */
    execvp("ssh", (char *const *)argv);
    r = bg_error_errno(err, "run ssh");
    free(argv);
    bg_strv_free(opts);
    bg_cli_ssh_paths_done(&p);
    return r;
}

/* ~/.ssh (from HOME, else the passwd entry). A new string, or NULL. */
static char *dot_ssh(void)
{
    const char *home = getenv("HOME");
    struct passwd *pw = home && *home ? NULL : getpwuid(getuid());

    if (home && *home)
        return bg_asprintf("%s/.ssh", home);
    return pw && pw->pw_dir ? bg_asprintf("%s/.ssh", pw->pw_dir) : NULL;
}

/* Read ~/.ssh/config ("" when missing) and its mode (0600 for a new one). */
static int read_user_config(const char *path, char **ret, size_t *ret_len, mode_t *ret_mode,
                            struct bg_error *err)
{
    struct stat st;
    int r = bg_cli_file_read(path, SSH_CONFIG_MAX, ret, ret_len, err);

    *ret_mode = stat(path, &st) == 0 ? st.st_mode & 07777 : 0600;
    if (r == -ENOENT) {
        *ret = bg_strdup("");
        *ret_len = 0;
        return 0;
    }
    return r;
}

static int ssh_config_install(const char *socket, struct bg_error *err)
{
    struct bg_cli_ssh_paths p = {0};
    bg_autofree char *dir = dot_ssh();
    bg_autofree char *path = dir ? bg_asprintf("%s/config", dir) : NULL;
    bg_autofree char *text = NULL, *updated = NULL, *mine = NULL;
    char key[BG_SSHKEY_MAX + 1];
    char **opts = NULL;
    size_t len = 0;
    mode_t mode;
    int r;

    if (!dir)
        return bg_error_set(err, -ENOENT, "cannot tell your home directory (set HOME)");
    if ((r = bg_cli_ssh_paths_get(&p, true, err)) < 0)
        return r;
    if ((r = bg_cli_ssh_client_key(&p, key, err)) < 0 || (r = options(&p, socket, &opts, err)) < 0)
        goto done;
    mine = bg_cli_sshconfig_file(opts);
    if ((r = bg_cli_file_replace(p.config, mine, strlen(mine), 0600, err)) < 0)
        goto done;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        r = bg_error_errno(err, "mkdir %s", dir);
        goto done;
    }
    if ((r = read_user_config(path, &text, &len, &mode, err)) < 0)
        goto done;
    if (bg_cli_sshconfig_add(text, len, p.config, &updated) == 0) {
        printf("%s already includes %s (its settings are up to date now)\n", path, p.config);
    } else if ((r = bg_cli_file_replace(path, updated, strlen(updated), mode, err)) == 0) {
        printf("added 'Include \"%s\"' at the top of %s\n", p.config, path);
        printf("now 'ssh NAME.vm' (and scp, rsync, editors' remote modes) reach banger's VMs\n");
    }
done:
    bg_strv_free(opts);
    bg_cli_ssh_paths_done(&p);
    return r;
}

static int ssh_config_uninstall(struct bg_error *err)
{
    struct bg_cli_ssh_paths p = {0};
    bg_autofree char *dir = dot_ssh();
    bg_autofree char *path = dir ? bg_asprintf("%s/config", dir) : NULL;
    bg_autofree char *text = NULL, *updated = NULL;
    size_t len = 0;
    mode_t mode;
    int r;

    if (!dir)
        return bg_error_set(err, -ENOENT, "cannot tell your home directory (set HOME)");
    if ((r = bg_cli_ssh_paths_get(&p, false, err)) < 0)
        return r;
    if ((r = read_user_config(path, &text, &len, &mode, err)) < 0)
        goto done;
    if (bg_cli_sshconfig_remove(text, len, p.config, &updated) == 0)
        printf("%s has no Include of banger's\n", path);
    else if ((r = bg_cli_file_replace(path, updated, strlen(updated), mode, err)) == 0)
        printf("took banger's Include out of %s\n", path);
    if (r == 0 && unlink(p.config) == 0)
        printf("removed %s (banger's key and known_hosts stay in %s)\n", p.config, p.dir);
done:
    bg_cli_ssh_paths_done(&p);
    return r;
}

int bg_cli_ssh_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    switch (bg_cli_args_cmd(a)) {
    case BG_CLI_CMD_VM_SSH:
        return vm_ssh(socket, a, err);
    case BG_CLI_CMD_VM_TUNNEL:
        return vm_tunnel(socket, a, err);
    case BG_CLI_CMD_SSH_CONFIG_INSTALL:
        return ssh_config_install(socket, err);
    case BG_CLI_CMD_SSH_CONFIG_UNINSTALL:
        return ssh_config_uninstall(err);
    case BG_CLI_CMD_SSH_CONFIG_PROXY:
        return ssh_proxy(socket, a, err);
    default:
        return bg_error_set(err, -EINVAL, "not an ssh command");
    }
}
