/* SPDX-License-Identifier: MIT */
/* ssh in the guest: per-VM host keys, the image's sshd, authorized_keys, reported host keys. */
#include "sshd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/sshkey.h"
#include "banger/utf8.h"

#define SSHD "/usr/sbin/sshd"
#define SSH_KEYGEN "/usr/bin/ssh-keygen"
#define SSH_DIR "/etc/ssh"
/* Left beside the host keys the agent generated: keys without it came with the image. */
#define HOST_KEYS_MARKER ".banger-host-keys"
#define PRIVSEP_DIR "/run/sshd"
#define AUTHORIZED_KEYS_MAX (1024 * 1024)
#define PUB_FILE_MAX (16 * 1024)
/* What the agent appends to the keys it adds, so a person reading the file sees whose they are. */
#define KEY_COMMENT "banger"

static const char *const host_key_types[] = {"ed25519", "ecdsa", "rsa"};

/* Run argv (argv[0] an absolute path) with stdin from /dev/null and the agent's stdout and
 * stderr (the console), a clean environment and default signals; wait for it. Returns its
 * exit status, or <0 with err when it could not run or was killed. */
static int run_wait(const char *const argv[], struct bg_error *err)
{
    static const char *const env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", NULL};
    pid_t pid = fork();
    int st;

    if (pid < 0)
        return bg_error_errno(err, "fork for %s", argv[0]);
    if (pid == 0) {
        sigset_t none;
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        (void)signal(SIGPIPE, SIG_DFL);
        if (null >= 0)
            (void)dup2(null, 0);
        /* execve takes char *const[] for historical reasons; it writes to neither */
        execve(argv[0], (char *const *)argv, (char *const *)env);
        _exit(127);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return bg_error_errno(err, "wait for %s", argv[0]);
    if (!WIFEXITED(st))
        return bg_error_set(err, -EIO, "%s was killed by signal %d", argv[0], WTERMSIG(st));
    return WEXITSTATUS(st);
}

/* Write len bytes of data to path through path.tmp and rename, with mode. */
static int write_replace(const char *path, const char *data, size_t len, mode_t mode,
                         struct bg_error *err)
{
    bg_autofree char *tmp = bg_asprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);

    if (fd < 0)
        return bg_error_errno(err, "write %s", tmp);
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int r = bg_error_errno(err, "write %s", tmp);
            (void)close(fd);
            (void)unlink(tmp);
            return r;
        }
        data += n;
        len -= (size_t)n;
    }
    if (fchmod(fd, mode) < 0 || fsync(fd) < 0 || close(fd) < 0) {
        int r = bg_error_errno(err, "write %s", tmp);
        (void)unlink(tmp);
        return r;
    }
    if (rename(tmp, path) < 0) {
        int r = bg_error_errno(err, "rename %s to %s", tmp, path);
        (void)unlink(tmp);
        return r;
    }
    return 0;
}

/* Read all of path (at most max bytes) into a new NUL-terminated buffer. -ENOENT when the
 * file is missing, -EFBIG when it is longer than max. */
static int read_small(const char *path, size_t max, char **ret, size_t *ret_len,
                      struct bg_error *err)
{
    bg_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf;
    size_t got = 0;
    ssize_t n;

    if (fd < 0)
        return bg_error_errno(err, "read %s", path);
    buf = bg_malloc(max + 2);
    while (got <= max && (n = read(fd, buf + got, max + 1 - got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            return bg_error_errno(err, "read %s", path);
        }
        got += (size_t)n;
    }
    if (got > max) {
        free(buf);
        return bg_error_set(err, -EFBIG, "read %s: longer than %zu bytes", path, max);
    }
    buf[got] = '\0';
    *ret = buf;
    *ret_len = got;
    return 0;
}

/* True when one line of text (len bytes) carries key. */
static bool has_key(const char *text, size_t len, const char *key)
{
    char line_key[BG_SSHKEY_MAX + 1];
    size_t start = 0;

    while (start < len) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (bg_sshkey_from_line(text + start, end - start, line_key, sizeof(line_key), NULL) == 0 &&
            !strcmp(line_key, key))
            return true;
        start = end + 1;
    }
    return false;
}

int bg_sshd_authorize(const char *root_dir, const char *key, struct bg_error *err)
{
    bg_autofree char *home = bg_asprintf("%s/root", root_dir);
    bg_autofree char *dir = bg_asprintf("%s/.ssh", home);
    bg_autofree char *path = bg_asprintf("%s/authorized_keys", dir);
    bg_autofree char *old = NULL;
    size_t old_len = 0;
    int r;

    if ((r = bg_sshkey_validate(key, strlen(key), err)) < 0)
        return r;
    if ((mkdir(home, 0700) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST))
        return bg_error_errno(err, "authorize the key: mkdir %s", dir);
    r = read_small(path, AUTHORIZED_KEYS_MAX, &old, &old_len, err);
    if (r == -ENOENT) {
        old = bg_strdup("");
        old_len = 0;
    } else if (r < 0) {
        return bg_error_prefix(err, r, "authorize the key");
    }
    if (has_key(old, old_len, key))
        return 0;
    bool newline = old_len > 0 && old[old_len - 1] != '\n';
    bg_autofree char *text = bg_asprintf("%s%s%s " KEY_COMMENT "\n", old, newline ? "\n" : "", key);
    r = write_replace(path, text, strlen(text), 0600, err);
    return r < 0 ? bg_error_prefix(err, r, "authorize the key") : 0;
}

int bg_sshd_host_keys(const char *root_dir, json_t **ret, struct bg_error *err)
{
    json_t *keys = json_array();

    for (size_t i = 0; i < BG_ARRAY_SIZE(host_key_types); i++) {
        bg_autofree char *path =
            bg_asprintf("%s" SSH_DIR "/ssh_host_%s_key.pub", root_dir, host_key_types[i]);
        bg_autofree char *text = NULL;
        char key[BG_SSHKEY_MAX + 1];
        size_t len = 0;
        if (read_small(path, PUB_FILE_MAX, &text, &len, NULL) < 0 ||
            bg_sshkey_from_line(text, len, key, sizeof(key), NULL) < 0)
            continue;
        (void)json_array_append_new(keys, json_string(key)); /* a valid key is ASCII */
    }
    if (json_array_size(keys) == 0) {
        json_decref(keys);
        return bg_error_set(err, -ENOENT, "no ssh host keys in %s" SSH_DIR " (ssh_host_*_key.pub)",
                            root_dir);
    }
    *ret = keys;
    return 0;
}

/* Remove every ssh_host_* file in dir: keys the image came with, which every VM would share. */
static void remove_image_host_keys(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "ssh_host_", 9) && unlinkat(dirfd(d), e->d_name, 0) == 0)
            bg_log_info("sshd: removed %s/%s, which came with the image", dir, e->d_name);
    closedir(d);
}

/* Under root_dir: replace host keys that came with the image (no marker) and make an ed25519
 * key with keygen (the path of ssh-keygen) when there is none. */
static int host_keys_prepare(const char *root_dir, const char *keygen, struct bg_error *err)
{
    bg_autofree char *dir = bg_asprintf("%s" SSH_DIR, root_dir);
    bg_autofree char *marker = bg_asprintf("%s/" HOST_KEYS_MARKER, dir);
    bg_autofree char *key = bg_asprintf("%s/ssh_host_ed25519_key", dir);
    char host[65] = "";
    int r;

    if (access(marker, F_OK) < 0)
        remove_image_host_keys(dir);
    if (access(key, F_OK) < 0) {
        (void)gethostname(host, sizeof(host) - 1);
        bg_autofree char *comment = bg_asprintf("root@%s", host[0] ? host : "banger");
        const char *argv[] = {keygen, "-q",    "-t", "ed25519", "-N", "",
                              "-C",   comment, "-f", key,       NULL};
        if ((r = run_wait(argv, err)) != 0)
            return r < 0 ? r : bg_error_set(err, -EIO, "%s exited with status %d", keygen, r);
    }
    static const char note[] =
        "The ssh host keys here were generated by banger-agent for this VM.\n";
    return write_replace(marker, note, sizeof(note) - 1, 0644, err);
}

bool bg_sshd_start(void)
{
    const char *argv[] = {SSHD, NULL};
    struct bg_error err;
    int r;

    if (access(SSHD, X_OK) < 0) {
        bg_log_info("sshd: the image has no %s; ssh is not available in this VM", SSHD);
        return false;
    }
    if (access(SSH_KEYGEN, X_OK) < 0) {
        bg_log_error("sshd: the image has %s but no %s to make host keys; not starting it", SSHD,
                     SSH_KEYGEN);
        return false;
    }
    if (host_keys_prepare("", SSH_KEYGEN, &err) < 0) {
        bg_log_error("sshd: host keys: %s; not starting sshd", err.msg);
        return false;
    }
    if (mkdir(PRIVSEP_DIR, 0755) < 0 && errno != EEXIST) {
        bg_log_error("sshd: mkdir %s: %s; not starting sshd", PRIVSEP_DIR, strerror(errno));
        return false;
    }
    /* sshd forks into the background; its first process exits once it listens, with 255 on
     * a bad configuration (which it prints on the console). */
    if ((r = run_wait(argv, &err)) != 0) {
        if (r < 0)
            bg_log_error("sshd: %s", err.msg);
        else
            bg_log_error("sshd: %s exited with status %d", SSHD, r);
        return false;
    }
    bg_log_info("sshd: started");
    return true;
}
