/* SPDX-License-Identifier: MIT */
/* Upgraded exec stream, client side: the Upgrade handshake (upgrade.h, over the unix socket or
 * a remote's TLS), then a poll loop that moves frames with credit flow control in both
 * directions. */
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "banger/agentio.h"
#include "banger/agentproto.h"
#include "banger/alloc.h"
#include "banger/exec.h"
#include "upgrade.h"

#define CHANNEL 1

struct bg_cli_stream {
    struct bg_cli_upgrade *up; /* the connection */
    int fd;                    /* up's socket, non-blocking: for poll only */
    uint8_t *in;               /* received bytes not yet parsed as frames */
    size_t in_len;
    char id[BG_EXEC_ID_LEN + 1];
};

void bg_cli_stream_free(struct bg_cli_stream *s)
{
    if (!s)
        return;
    bg_cli_upgrade_free(s->up);
    free(s->in);
    free(s);
}

static int send_all(struct bg_cli_stream *s, const void *buf, size_t len)
{
    return bg_cli_upgrade_send(s->up, buf, len);
}

int bg_cli_stream_open(const char *socket, const char *path, json_t *body,
                       struct bg_cli_stream **ret, struct bg_error *err)
{
    struct bg_cli_upgrade *up = NULL;
    int r = bg_cli_upgrade_open(socket, path, BG_EXEC_UPGRADE_PROTOCOL, body, &up, err);

    if (r < 0)
        return r;
    struct bg_cli_stream *s = bg_calloc(1, sizeof(*s));
    s->up = up;
    s->fd = up->fd;
    /* frames that came with the 101 answer */
    s->in = bg_malloc(up->extra_len + 1);
    memcpy(s->in, up->extra, up->extra_len);
    s->in_len = up->extra_len;
    *ret = s;
    return 0;
}

/* ---- the frame loop ---- */

/* The loop's state. */
struct loop {
    struct bg_cli_stream *s;
    const struct bg_cli_stream_opts *o;
    int sigpipe[2];  /* signal handler -> loop */
    int64_t window;  /* stdin bytes the daemon can take now */
    bool stdin_open; /* still reading in_fd */
    bool done;       /* EXIT or ERROR arrived */
    int status;      /* exit code, or 128 + signal */
    struct bg_error *err;
    int result;
};

static int loop_wake_fd = -1;

static void on_signal(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;

    if (loop_wake_fd >= 0)
        (void)!write(loop_wake_fd, &b, 1);
    errno = saved;
}

static int send_frame(struct bg_cli_stream *s, uint8_t type, uint8_t flags, const void *p,
                      size_t len)
{
    struct bg_agent_header h = {
        .type = type, .flags = flags, .channel = CHANNEL, .length = (uint32_t)len};
    uint8_t hdr[BG_AGENT_HEADER_SIZE];

    bg_agent_header_encode(&h, hdr);
    int r = send_all(s, hdr, sizeof(hdr));
    return r < 0 || !len ? r : send_all(s, p, len);
}

static int send_u32(struct bg_cli_stream *s, uint8_t type, uint8_t flags, uint32_t v)
{
    uint8_t p[4];

    bg_agent_put_u32(p, v);
    return send_frame(s, type, flags, p, sizeof(p));
}

static int send_winsize(struct loop *l)
{
    struct winsize ws;
    uint8_t p[4];

    if (ioctl(l->o->in_fd, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0)
        ws = (struct winsize){.ws_row = 24, .ws_col = 80};
    bg_agent_put_u16(p, ws.ws_row);
    bg_agent_put_u16(p + 2, ws.ws_col);
    return send_frame(l->s, BG_AGENT_RESIZE, 0, p, sizeof(p));
}

/* EXIT's {"exit_code":N} or {"signal":N} as a shell-style status. */
static void take_exit(struct loop *l, const uint8_t *p, size_t len)
{
    json_t *j = json_loadb((const char *)p, len, 0, NULL);
    json_t *code = json_object_get(j, "exit_code");
    json_t *sig = json_object_get(j, "signal");

    l->status = json_is_integer(sig)    ? 128 + (int)json_integer_value(sig)
                : json_is_integer(code) ? (int)json_integer_value(code)
                                        : 255;
    json_decref(j);
    l->done = true;
}

static void take_error(struct loop *l, const uint8_t *p, size_t len)
{
    json_t *j = json_loadb((const char *)p, len, 0, NULL);
    const char *msg = json_string_value(json_object_get(j, "message"));

    l->result = bg_error_set(l->err, -EIO, "%s", msg ? msg : "the command failed to run");
    json_decref(j);
    l->done = true;
}

static void take_started(struct loop *l, const uint8_t *p, size_t len)
{
    json_t *j = json_loadb((const char *)p, len, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "id"));

    if (id && bg_exec_id_valid(id))
        memcpy(l->s->id, id, BG_EXEC_ID_LEN + 1);
    json_decref(j);
}

/* Output goes to the local fd first; credit goes back only once it is written, so the
 * daemon never sends faster than this terminal or pipe takes it. */
static int take_data(struct loop *l, uint8_t flags, const uint8_t *p, size_t len)
{
    int fd = flags == BG_AGENT_F_STDERR ? l->o->err_fd : l->o->out_fd;

    if (bg_write_all(fd, p, len) < 0) {
        l->result = bg_error_errno(l->err, "write the command's output");
        l->done = true;
        return l->result;
    }
    /* A failed send means bangerd is closing after the last frame, which may already be
     * in the buffer: keep parsing; a real loss shows as end of stream without EXIT. */
    (void)send_u32(l->s, BG_AGENT_CREDIT, flags, (uint32_t)len);
    return 0;
}

static int take_frame(struct loop *l, const struct bg_agent_header *h, const uint8_t *p)
{
    switch (h->type) {
    case BG_AGENT_STARTED:
        take_started(l, p, h->length);
        return 0;
    case BG_AGENT_DATA:
        return take_data(l, h->flags, p, h->length);
    case BG_AGENT_EOF:
        return 0;
    case BG_AGENT_CREDIT:
        l->window += bg_agent_get_u32(p);
        return 0;
    case BG_AGENT_EXIT:
        take_exit(l, p, h->length);
        return 0;
    case BG_AGENT_ERROR:
        take_error(l, p, h->length);
        return 0;
    default:
        return bg_error_set(l->err, -EPROTO, "bangerd sent an unexpected %s frame",
                            bg_agent_type_name(h->type));
    }
}

/* Parse every complete frame in the input buffer. */
static int take_frames(struct loop *l)
{
    struct bg_cli_stream *s = l->s;
    size_t off = 0;
    int r = 0;

    while (!l->done && s->in_len - off >= BG_AGENT_HEADER_SIZE) {
        struct bg_agent_header h;
        if ((r = bg_agent_header_decode(s->in + off, &h, l->err)) < 0)
            return bg_error_prefix(l->err, r, "bad frame from bangerd");
        if (s->in_len - off < BG_AGENT_HEADER_SIZE + h.length)
            break;
        if ((r = take_frame(l, &h, s->in + off + BG_AGENT_HEADER_SIZE)) < 0)
            return r;
        off += BG_AGENT_HEADER_SIZE + h.length;
    }
    memmove(s->in, s->in + off, s->in_len - off);
    s->in_len -= off;
    return 0;
}

/* Everything there is to read now, frame by frame: a buffer holds one frame at most, and
 * TLS may hold more than poll shows. */
static int read_socket(struct loop *l)
{
    struct bg_cli_stream *s = l->s;
    size_t cap = BG_AGENT_HEADER_SIZE + BG_AGENT_PAYLOAD_MAX;

    while (!l->done) {
        ssize_t n = bg_cli_upgrade_recv(s->up, s->in + s->in_len, cap - s->in_len);
        if (n == -EAGAIN)
            return 0;
        if (n <= 0) {
            l->done = true;
            const char *how = bg_cli_http_remote()
                                  ? "; GET /v1/execs/"
                                  : "; 'curl --unix-socket SOCKET http://b/v1/execs/";
            return l->result = bg_error_set(
                       l->err, -ECONNRESET, "lost the connection to bangerd%s%s%s",
                       s->id[0] ? how : "", s->id, s->id[0] ? "' tells how the command ended" : "");
        }
        s->in_len += (size_t)n;
        int r = take_frames(l);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Send as much stdin as the daemon's window allows; end of input is an EOF frame. */
static int read_stdin(struct loop *l)
{
    uint8_t buf[BG_AGENT_PAYLOAD_MAX];
    size_t want = l->window < (int64_t)sizeof(buf) ? (size_t)l->window : sizeof(buf);
    ssize_t n = read(l->o->in_fd, buf, want);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) {
        l->stdin_open = false;
        return send_frame(l->s, BG_AGENT_EOF, BG_AGENT_F_STDIN, NULL, 0);
    }
    l->window -= n;
    return send_frame(l->s, BG_AGENT_DATA, BG_AGENT_F_STDIN, buf, (size_t)n);
}

static int take_signal(struct loop *l)
{
    unsigned char b;

    if (read(l->sigpipe[0], &b, 1) != 1)
        return 0;
    if (b == SIGWINCH)
        return l->o->tty ? send_winsize(l) : 0;
    if (l->o->on_signal == BG_CLI_STREAM_FORWARD)
        return send_u32(l->s, BG_AGENT_SIGNAL, 0, b);
    if (l->o->interrupted)
        *l->o->interrupted = b;
    l->done = true;
    return l->result = bg_error_set(l->err, -EINTR, "interrupted by %s", strsignal(b));
}

static int loop_run(struct loop *l)
{
    while (!l->done) {
        struct pollfd p[3] = {
            {.fd = l->s->fd, .events = POLLIN},
            {.fd = l->sigpipe[0], .events = POLLIN},
            {.fd = l->stdin_open && l->window > 0 ? l->o->in_fd : -1, .events = POLLIN},
        };
        int r = poll(p, 3, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return bg_error_errno(l->err, "poll");
        if (p[1].revents && (r = take_signal(l)) < 0)
            return r;
        if (p[0].revents && (r = read_socket(l)) < 0)
            return r;
        if (!l->done && p[2].revents && read_stdin(l) < 0)
            l->stdin_open = false; /* bangerd is closing; EXIT or end of stream follows */
    }
    return l->result;
}

static const int caught[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH};

int bg_cli_stream_run(struct bg_cli_stream *s, const struct bg_cli_stream_opts *o, int *ret_status,
                      struct bg_error *err)
{
    struct loop l = {.s = s, .o = o, .window = BG_AGENT_WINDOW_INITIAL, .err = err};
    struct sigaction sa = {.sa_handler = on_signal}, old[BG_ARRAY_SIZE(caught)];
    struct termios saved;
    bool raw = false;
    int r;

    s->in = bg_realloc(s->in, BG_AGENT_HEADER_SIZE + BG_AGENT_PAYLOAD_MAX);
    l.stdin_open = o->attach_stdin;
    if (pipe2(l.sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return bg_error_errno(err, "pipe");
    loop_wake_fd = l.sigpipe[1];
    for (size_t i = 0; i < BG_ARRAY_SIZE(caught); i++)
        (void)sigaction(caught[i], &sa, &old[i]);
    if (o->tty && tcgetattr(o->in_fd, &saved) == 0) {
        struct termios t = saved;
        cfmakeraw(&t);
        raw = tcsetattr(o->in_fd, TCSANOW, &t) == 0;
    }
    /* With a tty the daemon waits for the window size before starting the command. */
    r = o->tty ? send_winsize(&l) : 0;
    if (r < 0)
        r = bg_error_set(err, -ECONNRESET, "lost the connection to bangerd");
    /* Frames may have arrived with the 101 answer already, and more may wait in TLS. */
    if (r == 0)
        r = take_frames(&l);
    if (r == 0 && !l.done)
        r = read_socket(&l);
    if (r == 0)
        r = loop_run(&l);
    if (raw)
        (void)tcsetattr(o->in_fd, TCSANOW, &saved);
    for (size_t i = 0; i < BG_ARRAY_SIZE(caught); i++)
        (void)sigaction(caught[i], &old[i], NULL);
    loop_wake_fd = -1;
    (void)close(l.sigpipe[0]);
    (void)close(l.sigpipe[1]);
    if (r < 0)
        return r;
    *ret_status = l.status;
    return 0;
}
