/* SPDX-License-Identifier: MIT */
/* banger's ssh options and its Include in ~/.ssh/config, as pure text transforms. */
#include "sshconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/utf8.h"

/* A path ssh reads back as it is inside double quotes: no expansion characters (% tokens,
 * globs), no quoting characters, no control characters. */
static int plain_path(const char *what, const char *path, struct bg_error *err)
{
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f || strchr("%\"'\\*?[", *c))
            return bg_error_set(err, -EINVAL,
                                "%s '%s' has a character an ssh config cannot hold (%%, quotes, "
                                "backslashes, globs, control characters); move it or set "
                                "XDG_CONFIG_HOME",
                                what, BG_QUOTE(path));
    return 0;
}

int bg_cli_ssh_options(const struct bg_cli_ssh_paths *p, const char *banger, const char *socket,
                       char ***ret, struct bg_error *err)
{
    int r;

    if ((r = plain_path("the banger program", banger, err)) < 0 ||
        (r = plain_path("the daemon's socket", socket, err)) < 0 ||
        (r = plain_path("the ssh key", p->key, err)) < 0 ||
        (r = plain_path("banger's known_hosts", p->known_hosts, err)) < 0)
        return r;
    /* ProxyCommand is run by "sh -c": the paths go in single quotes (plain_path kept quotes
     * and % out of them) */
    char *opts[] = {
        bg_strdup("User root"),
        bg_asprintf("ProxyCommand '%s' --socket '%s' ssh-config proxy %%n %%p", banger, socket),
        bg_asprintf("IdentityFile \"%s\"", p->key),
        bg_strdup("IdentitiesOnly yes"),
        bg_asprintf("UserKnownHostsFile \"%s\"", p->known_hosts),
        /* the keys there come from the VM's agent with each connection: none is unknown */
        bg_strdup("StrictHostKeyChecking yes"),
        bg_strdup("UpdateHostKeys no"),
        NULL,
    };
    char **list = bg_calloc(BG_ARRAY_SIZE(opts), sizeof(char *));
    memcpy(list, opts, sizeof(opts));
    *ret = list;
    return 0;
}

char *bg_cli_sshconfig_file(char *const *options)
{
    char *text = bg_strdup(
        "# banger's ssh settings for its VMs, written by 'banger ssh-config install' (run it\n"
        "# again after moving banger); ~/.ssh/config includes this file, and\n"
        "# 'banger ssh-config uninstall' takes both away.\n"
        "Host *.vm\n");

    for (size_t i = 0; options[i]; i++) {
        char *more = bg_asprintf("%s    %s\n", text, options[i]);
        free(text);
        text = more;
    }
    return text;
}

char *bg_cli_sshconfig_include(const char *path)
{
    return bg_asprintf("Include \"%s\"", path);
}

/* Line [s, s + n) without its line end and surrounding blanks equals want. */
static bool line_is(const char *s, size_t n, const char *want)
{
    while (n > 0 && strchr(" \t\r\n", s[n - 1]))
        n--;
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    return n == strlen(want) && !memcmp(s, want, n);
}

/* The end (after its '\n', or len) of the line starting at start. */
static size_t line_end(const char *text, size_t len, size_t start)
{
    const char *nl = memchr(text + start, '\n', len - start);

    return nl ? (size_t)(nl - text) + 1 : len;
}

int bg_cli_sshconfig_add(const char *text, size_t len, const char *path, char **ret)
{
    bg_autofree char *include = bg_cli_sshconfig_include(path);

    *ret = NULL;
    for (size_t start = 0; start < len;) {
        size_t end = line_end(text, len, start);
        if (line_is(text + start, end - start, include))
            return 0;
        start = end;
    }
    char *out = bg_malloc(strlen(BG_CLI_SSHCONFIG_MARK) + strlen(include) + len + 3);
    size_t n = 0;
    memcpy(out, BG_CLI_SSHCONFIG_MARK "\n", strlen(BG_CLI_SSHCONFIG_MARK) + 1);
    n += strlen(BG_CLI_SSHCONFIG_MARK) + 1;
    memcpy(out + n, include, strlen(include));
    n += strlen(include);
    out[n++] = '\n';
    memcpy(out + n, text, len);
    out[n + len] = '\0';
    *ret = out;
    return 1;
}

int bg_cli_sshconfig_remove(const char *text, size_t len, const char *path, char **ret)
{
    bg_autofree char *include = bg_cli_sshconfig_include(path);
    char *out = bg_malloc(len + 1);
    size_t n = 0;
    bool removed = false;

    *ret = NULL;
    for (size_t start = 0; start < len;) {
        size_t end = line_end(text, len, start);
        if (line_is(text + start, end - start, include) ||
            line_is(text + start, end - start, BG_CLI_SSHCONFIG_MARK)) {
            removed = true;
        } else {
            memcpy(out + n, text + start, end - start);
            n += end - start;
        }
        start = end;
    }
    if (!removed) {
        free(out);
        return 0;
    }
    out[n] = '\0';
    *ret = out;
    return 1;
}
