/* SPDX-License-Identifier: MIT */
/* banger's ssh key and known_hosts: made and kept under the user's banger config directory. */
#include "sshkeys.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/utf8.h"
#include "filetext.h"

#define PUB_MAX (16 * 1024)
#define KNOWN_HOSTS_MAX (4 * 1024 * 1024)

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

static int mkdir_one(const char *path, struct bg_error *err)
{
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return bg_error_errno(err, "mkdir %s", path);
    return 0;
}

int bg_cli_ssh_paths_get(struct bg_cli_ssh_paths *ret, bool create, struct bg_error *err)
{
    const char *xdg = env_nonempty("XDG_CONFIG_HOME");
    const char *home = env_nonempty("HOME");
    struct passwd *pw = home ? NULL : getpwuid(getuid());
    bg_autofree char *config = NULL;

    if (!xdg && !home && !(pw && pw->pw_dir && pw->pw_dir[0] == '/'))
        return bg_error_set(err, -ENOENT, "cannot tell your home directory (set HOME)");
    config = xdg ? bg_strdup(xdg) : bg_asprintf("%s/.config", home ? home : pw->pw_dir);
    bg_autofree char *banger = bg_asprintf("%s/banger", config);
    struct bg_cli_ssh_paths p = {.dir = bg_asprintf("%s/ssh", banger)};
    if (create) {
        int r;
        if ((r = mkdir_one(config, err)) < 0 || (r = mkdir_one(banger, err)) < 0 ||
            (r = mkdir_one(p.dir, err)) < 0) {
            free(p.dir);
            return r;
        }
    }
    p.key = bg_asprintf("%s/id_ed25519", p.dir);
    p.known_hosts = bg_asprintf("%s/known_hosts", p.dir);
    p.config = bg_asprintf("%s/config", p.dir);
    p.lock = bg_asprintf("%s/lock", p.dir);
    *ret = p;
    return 0;
}

void bg_cli_ssh_paths_done(struct bg_cli_ssh_paths *p)
{
    free(p->dir);
    free(p->key);
    free(p->known_hosts);
    free(p->config);
    free(p->lock);
    *p = (struct bg_cli_ssh_paths){0};
}

/* An exclusive lock on p->lock: the fd to close, or <0 with err. */
static int take_lock(const struct bg_cli_ssh_paths *p, struct bg_error *err)
{
    int fd = open(p->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0)
        return bg_error_errno(err, "open %s", p->lock);
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int r = bg_error_errno(err, "lock %s", p->lock);
            (void)close(fd);
            return r;
        }
    }
    return fd;
}

/* ssh-keygen -t ed25519 for p->key; its messages go to stderr. */
static int make_key(const struct bg_cli_ssh_paths *p, struct bg_error *err)
{
    char host[256] = "";
    (void)gethostname(host, sizeof(host) - 1);
    bg_autofree char *comment = bg_asprintf("banger@%s", host[0] ? host : "localhost");
    const char *argv[] = {"ssh-keygen", "-q",    "-t", "ed25519", "-N", "",
                          "-C",         comment, "-f", p->key,    NULL};
    int st;
    pid_t pid = fork();

    if (pid < 0)
        return bg_error_errno(err, "fork for ssh-keygen");
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            (void)dup2(null, 0);
            (void)dup2(null, 1);
        }
        /* execvp takes char *const[] for historical reasons; it writes to none of them */
        execvp(argv[0], (char *const *)argv);
        _exit(errno == ENOENT ? 127 : 126);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return bg_error_errno(err, "wait for ssh-keygen");
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return bg_error_set(err, -ENOENT,
                            "ssh-keygen is not installed: banger makes its ssh key with it "
                            "(Debian: apt-get install openssh-client)");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return bg_error_set(err, -EIO, "ssh-keygen could not make %s", p->key);
    return 0;
}

int bg_cli_ssh_client_key(const struct bg_cli_ssh_paths *p, char *buf, struct bg_error *err)
{
    bg_autofree char *pub = bg_asprintf("%s.pub", p->key);
    bg_autofree char *text = NULL;
    size_t len = 0;
    int r = 0;

    if (access(p->key, F_OK) < 0 || access(pub, F_OK) < 0) {
        int lock = take_lock(p, err);
        if (lock < 0)
            return lock;
        /* another banger may have made it while this one waited for the lock */
        if (access(p->key, F_OK) < 0 || access(pub, F_OK) < 0) {
            (void)unlink(p->key);
            (void)unlink(pub);
            r = make_key(p, err);
        }
        (void)close(lock);
    }
    if (r < 0 || (r = bg_cli_file_read(pub, PUB_MAX, &text, &len, err)) < 0)
        return r;
    if ((r = bg_sshkey_from_line(text, len, buf, BG_SSHKEY_MAX + 1, err)) < 0)
        return bg_error_prefix(err, r, "%s", pub);
    return 0;
}

void bg_cli_ssh_host_name(const char *vm, unsigned port, char *buf, size_t size)
{
    if (port == 22)
        snprintf(buf, size, "%s.vm", vm);
    else
        snprintf(buf, size, "[%s.vm]:%u", vm, port);
}

/* The line [start, end) with host taken out of its name list, appended to out; false when the
 * line is not a plain entry naming host (out untouched then). */
static bool drop_host(const char *line, size_t n, const char *host, char **out, size_t *out_len)
{
    size_t names = strcspn(line, " \t");
    size_t host_len = strlen(host);
    bool found = false, first = true;

    if (names >= n || line[0] == '@' || line[0] == '|' || line[0] == '#')
        return false;
    for (size_t i = 0; i < names;) {
        size_t k = i;
        while (k < names && line[k] != ',')
            k++;
        found |= k - i == host_len && !memcmp(line + i, host, host_len);
        i = k + 1;
    }
    if (!found)
        return false;
    for (size_t i = 0; i < names;) {
        size_t k = i;
        while (k < names && line[k] != ',')
            k++;
        if (!(k - i == host_len && !memcmp(line + i, host, host_len))) {
            *out = bg_realloc(*out, *out_len + (k - i) + 2);
            if (!first)
                (*out)[(*out_len)++] = ',';
            memcpy(*out + *out_len, line + i, k - i);
            *out_len += k - i;
            first = false;
        }
        i = k + 1;
    }
    if (first)
        return true; /* host was its only name: the line goes */
    *out = bg_realloc(*out, *out_len + (n - names) + 1);
    memcpy(*out + *out_len, line + names, n - names);
    *out_len += n - names;
    return true;
}

char *bg_cli_known_hosts_set(const char *text, size_t len, const char *host, char *const *keys)
{
    char *out = bg_malloc(1);
    size_t out_len = 0;

    for (size_t start = 0; start < len;) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) + 1 : len;
        if (!drop_host(text + start, end - start, host, &out, &out_len)) {
            out = bg_realloc(out, out_len + (end - start) + 1);
            memcpy(out + out_len, text + start, end - start);
            out_len += end - start;
        }
        start = end;
    }
    if (out_len > 0 && out[out_len - 1] != '\n') {
        out = bg_realloc(out, out_len + 2);
        out[out_len++] = '\n';
    }
    for (size_t i = 0; keys[i]; i++) {
        bg_autofree char *line = bg_asprintf("%s %s\n", host, keys[i]);
        out = bg_realloc(out, out_len + strlen(line) + 1);
        memcpy(out + out_len, line, strlen(line));
        out_len += strlen(line);
    }
    out[out_len] = '\0';
    return out;
}

int bg_cli_known_hosts_update(const struct bg_cli_ssh_paths *p, const char *host, char *const *keys,
                              struct bg_error *err)
{
    bg_autofree char *old = NULL;
    size_t old_len = 0;
    int lock = take_lock(p, err);
    int r;

    if (lock < 0)
        return lock;
    r = bg_cli_file_read(p->known_hosts, KNOWN_HOSTS_MAX, &old, &old_len, err);
    if (r == -ENOENT) {
        old = bg_strdup("");
        r = 0;
    }
    if (r == 0) {
        bg_autofree char *text = bg_cli_known_hosts_set(old, old_len, host, keys);
        if (strlen(text) != old_len || memcmp(text, old, old_len))
            r = bg_cli_file_replace(p->known_hosts, text, strlen(text), 0600, err);
    }
    (void)close(lock);
    return r;
}

int bg_cli_ssh_host_keys_parse(const char *header, char ***ret, struct bg_error *err)
{
    size_t n = 1;

    for (const char *c = header; *c; c++)
        n += *c == ',';
    char **keys = bg_calloc(n + 1, sizeof(char *));
    size_t count = 0;
    /* every comma starts another key: an empty one is malformed, not skipped */
    for (const char *p = header; *header;) {
        const char *comma = strchr(p, ',');
        size_t seg = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;
        size_t len = seg;
        while (len > 0 && *s == ' ') {
            s++;
            len--;
        }
        while (len > 0 && s[len - 1] == ' ')
            len--;
        if (bg_sshkey_validate(s, len, err) < 0) {
            bg_strv_free(keys);
            return bg_error_prefix(err, -EPROTO, "the VM's ssh host keys from bangerd");
        }
        keys[count++] = bg_strndup(s, len);
        if (!comma)
            break;
        p = comma + 1;
    }
    if (count == 0) {
        bg_strv_free(keys);
        return bg_error_set(err, -EPROTO, "bangerd sent no ssh host keys for the VM");
    }
    *ret = keys;
    return 0;
}
