/* SPDX-License-Identifier: MIT */
/* QMP over a unix socket: newline-delimited JSON, greeting, qmp_capabilities, commands. */
#include "vmm/qemu/qmp.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"
#include "host/unixsock.h"

/* Read one line (without '\n') into a new string by deadline. -ECONNRESET on EOF. */
static int read_line(int fd, int64_t deadline, char **ret, struct bg_error *err)
{
    bg_autofree char *buf = bg_malloc(BG_QMP_LINE_MAX);
    size_t n = 0;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - bg_now_ms();
        if (left <= 0)
            return bg_error_set(err, -ETIMEDOUT, "qmp: no answer in time");
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return bg_error_errno(err, "qmp: poll");
        if (r == 0)
            continue;
        /* one byte at a time: answers are short and this never reads past a line */
        ssize_t got = read(fd, buf + n, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return bg_error_errno(err, "qmp: read");
        if (got == 0)
            return bg_error_set(err, -ECONNRESET, "qmp: connection closed");
        if (buf[n] == '\n') {
            buf[n] = '\0';
            *ret = bg_steal_ptr(&buf);
            return 0;
        }
        if (++n == BG_QMP_LINE_MAX - 1)
            return bg_error_set(err, -EMSGSIZE, "qmp: line over %d bytes", BG_QMP_LINE_MAX);
    }
}

/* The next message that is not an event, as a new reference. */
static int read_message(int fd, int64_t deadline, json_t **ret, struct bg_error *err)
{
    for (;;) {
        bg_autofree char *line = NULL;
        int r = read_line(fd, deadline, &line, err);
        if (r < 0)
            return r;
        json_t *j = json_loads(line, 0, NULL);
        if (!json_is_object(j)) {
            json_decref(j);
            return bg_error_set(err, -EBADMSG, "qmp: answer is not a JSON object");
        }
        if (!json_object_get(j, "event")) {
            *ret = j;
            return 0;
        }
        json_decref(j);
    }
}

static int send_command(int fd, const char *command, struct bg_error *err)
{
    bg_autofree char *msg = bg_asprintf("{\"execute\":\"%s\"}\n", command);
    size_t len = strlen(msg), off = 0;

    while (off < len) {
        ssize_t n = send(fd, msg + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bg_error_errno(err, "qmp: send %s", command);
        off += (size_t)n;
    }
    return 0;
}

static int await_return(int fd, const char *command, int64_t deadline, struct bg_error *err)
{
    json_t *j = NULL;
    int r = read_message(fd, deadline, &j, err);

    if (r == -ECONNRESET && !strcmp(command, "quit"))
        return 0;
    if (r < 0)
        return bg_error_prefix(err, r, "qmp %s", command);
    json_t *e = json_object_get(j, "error");
    if (e) {
        const char *desc = json_string_value(json_object_get(e, "desc"));
        r = bg_error_set(err, -EIO, "qmp %s: %s", command, desc ? desc : "error");
    } else if (!json_object_get(j, "return")) {
        r = bg_error_set(err, -EBADMSG, "qmp %s: unexpected answer", command);
    }
    json_decref(j);
    return r;
}

int bg_qmp_connect(const char *path, int timeout_ms, int *ret_fd, struct bg_error *err)
{
    int64_t deadline = bg_now_ms() + timeout_ms;
    json_t *greeting = NULL;
    bg_autoclose int fd = -1;
    int r;

    if ((r = bg_unix_connect(path, &fd)) < 0)
        return bg_error_set(err, r, "qmp: connect %s: %s", path, strerror(-r));
    if ((r = read_message(fd, deadline, &greeting, err)) < 0)
        return bg_error_prefix(err, r, "qmp greeting");
    bool ok = json_object_get(greeting, "QMP") != NULL;
    json_decref(greeting);
    if (!ok)
        return bg_error_set(err, -EBADMSG, "qmp: %s did not greet with QMP", path);
    if ((r = send_command(fd, "qmp_capabilities", err)) < 0 ||
        (r = await_return(fd, "qmp_capabilities", deadline, err)) < 0)
        return r;
    *ret_fd = bg_steal_fd(&fd);
    return 0;
}

int bg_qmp_execute(int fd, const char *command, int timeout_ms, struct bg_error *err)
{
    int r = send_command(fd, command, err);

    if (r == -EPIPE && !strcmp(command, "quit"))
        return 0;
    if (r < 0)
        return r;
    return await_return(fd, command, bg_now_ms() + timeout_ms, err);
}
