/* SPDX-License-Identifier: MIT */
/* Process identity: /proc/PID/stat start times, and pidfds opened only for the right process. */
#include "banger/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/parse.h"
#include "banger/timefmt.h"

#define STAT_MAX 1024
#define CGROUP_FILE_MAX 4096
#define STARTTIME_FIELD 22

int bg_proc_stat_parse(const char *text, char *ret_state, uint64_t *ret_start_time,
                       struct bg_error *err)
{
    const char *p = strrchr(text, ')');
    char field[32];

    if (!p || p[1] != ' ' || !p[2])
        return bg_error_set(err, -EBADMSG, "/proc stat: no command name");
    char state = p[2];
    p += 2;
    /* p is at field 3; skip to field 22 */
    for (int i = 3; i < STARTTIME_FIELD; i++) {
        p = strchr(p, ' ');
        if (!p)
            return bg_error_set(err, -EBADMSG, "/proc stat: only %d fields", i);
        p++;
    }
    size_t n = strcspn(p, " \n");
    if (n == 0 || n >= sizeof(field))
        return bg_error_set(err, -EBADMSG, "/proc stat: bad start time field");
    memcpy(field, p, n);
    field[n] = '\0';
    if (bg_parse_u64(field, 0, UINT64_MAX, ret_start_time, err) < 0)
        return bg_error_set(err, -EBADMSG, "/proc stat: start time '%s' is not a number", field);
    *ret_state = state;
    return 0;
}

int bg_proc_stat(pid_t pid, char *ret_state, uint64_t *ret_start_time, struct bg_error *err)
{
    char path[64], buf[STAT_MAX];
    bg_autoclose int fd = -1;

    if (pid <= 0)
        return bg_error_set(err, -ESRCH, "no process (pid %d)", (int)pid);
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return bg_error_set(err, -ESRCH, "process %d does not exist", (int)pid);
    if (fd < 0)
        return bg_error_errno(err, "open %s", path);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n < 0 && errno == ESRCH)
        return bg_error_set(err, -ESRCH, "process %d does not exist", (int)pid);
    if (n < 0)
        return bg_error_errno(err, "read %s", path);
    buf[n] = '\0';
    return bg_proc_stat_parse(buf, ret_state, ret_start_time, err);
}

int bg_proc_pidfd_open(pid_t pid, uint64_t start_time, int *ret_fd, struct bg_error *err)
{
    uint64_t now_start;
    char state;
    int r;

    if (pid <= 0)
        return bg_error_set(err, -ESRCH, "no process recorded");
    bg_autoclose int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0 && errno == ESRCH)
        return bg_error_set(err, -ESRCH, "process %d is gone", (int)pid);
    if (fd < 0)
        return bg_error_errno(err, "pidfd_open %d", (int)pid);
    /* Checked after the pidfd exists: if the start time matches now, the pidfd names our
     * process, whatever happens to the pid number later. */
    if ((r = bg_proc_stat(pid, &state, &now_start, err)) < 0)
        return r;
    if (now_start != start_time)
        return bg_error_set(
            err, -ESRCH, "process %d is gone (the pid now belongs to another process)", (int)pid);
    if (state == 'Z' || state == 'X')
        return bg_error_set(err, -ESRCH, "process %d has exited", (int)pid);
    *ret_fd = bg_steal_fd(&fd);
    return 0;
}

int bg_proc_pidfd_wait(int pidfd, int timeout_ms)
{
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    int64_t deadline = bg_now_ms() + timeout_ms;

    for (;;) {
        int64_t left = deadline - bg_now_ms();
        int r = poll(&p, 1, left > 0 ? (int)left : 0);
        if (r > 0)
            return 1;
        if (r == 0 || (r < 0 && errno != EINTR))
            return 0;
    }
}

int bg_proc_pidfd_signal(int pidfd, int sig, struct bg_error *err)
{
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0) {
        if (errno == ESRCH)
            return bg_error_set(err, -ESRCH, "process has exited");
        return bg_error_errno(err, "signal %d", sig);
    }
    return 0;
}

int bg_proc_cmdline_read(pid_t pid, char **ret, size_t *ret_len)
{
    char path[64];
    bg_autofree char *buf = NULL;
    size_t len = 0;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    bg_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    buf = bg_malloc(BG_PROC_CMDLINE_MAX);
    while (len < BG_PROC_CMDLINE_MAX && (n = read(fd, buf + len, BG_PROC_CMDLINE_MAX - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        len += (size_t)n;
    }
    *ret = bg_steal_ptr(&buf);
    *ret_len = len;
    return 0;
}

bool bg_proc_argv_has(const char *argv, size_t len, const char *flag, const char *value)
{
    const char *end = argv + len, *prev = NULL;

    for (const char *w = argv; w < end;) {
        size_t wl = strnlen(w, (size_t)(end - w));
        if (w + wl == end) /* cut off: not a whole word */
            break;
        if (prev && !strcmp(prev, flag) && !strcmp(w, value))
            return true;
        prev = w;
        w += wl + 1;
    }
    return false;
}

bool bg_proc_argv_has_joined(const char *argv, size_t len, const char *flag, const char *value)
{
    const char *end = argv + len;
    size_t fl = strlen(flag);

    for (const char *w = argv; w < end;) {
        size_t wl = strnlen(w, (size_t)(end - w));
        if (w + wl == end)
            break;
        if (wl > fl && !strncmp(w, flag, fl) && w[fl] == '=' && !strcmp(w + fl + 1, value))
            return true;
        w += wl + 1;
    }
    return false;
}

int bg_proc_cgroup(pid_t pid, char *buf, size_t len)
{
    char path[64], text[CGROUP_FILE_MAX];
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    bg_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    if ((n = read(fd, text, sizeof(text) - 1)) < 0)
        return errno == ESRCH ? -ESRCH : -errno;
    text[n] = '\0';
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!strncmp(line, "0::", 3)) {
            if (strlen(line + 3) >= len)
                return -ENAMETOOLONG;
            snprintf(buf, len, "%s", line + 3);
            return 0;
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    return -ENOENT;
}
