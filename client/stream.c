/* SPDX-License-Identifier: MIT */
/* Upgraded exec stream, client side: the Upgrade exchange written by hand over libcurl's
 * connection (curl_easy_send/recv, so the same code runs over the unix socket and over TLS),
 * then a poll loop that moves frames with credit flow control in both directions. */
#include "stream.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "banger/agentproto.h"
#include "banger/alloc.h"
#include "banger/exec.h"
#include "banger/parse.h"
#include "http.h"

#define HEAD_MAX 16384
#define BODY_MAX (1u << 20)
#define CHANNEL 1

struct bg_cli_stream {
    CURL *curl;
    int fd; /* the connection's socket, owned by curl, non-blocking: for poll only */
    struct bg_cli_tls_seen seen; /* the pin check of a remote's connection */
    uint8_t *in;                 /* received bytes not yet parsed as frames */
    size_t in_len;
    char id[BG_EXEC_ID_LEN + 1];
};

void bg_cli_stream_free(struct bg_cli_stream *s)
{
    if (!s)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    free(s->in);
    free(s);
}

/* Wait until the connection can take (POLLOUT) or give (POLLIN) bytes. */
static void wait_for(const struct bg_cli_stream *s, short events)
{
    struct pollfd p = {.fd = s->fd, .events = events};

    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
}

/* Send all of buf over the connection (through TLS when remote). 0 or -ECONNRESET. */
static int send_all(struct bg_cli_stream *s, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        size_t n = 0;
        CURLcode rc = curl_easy_send(s->curl, p, len, &n);
        if (rc == CURLE_AGAIN) {
            wait_for(s, POLLOUT);
            continue;
        }
        if (rc != CURLE_OK)
            return -ECONNRESET;
        p += n;
        len -= n;
    }
    return 0;
}

/* What is there to read, without waiting: the byte count (0 at the end of the stream),
 * -EAGAIN when nothing is, -ECONNRESET when the connection broke. TLS may hold decrypted
 * bytes that poll does not see, so callers read until -EAGAIN before they poll again. */
static ssize_t recv_some(struct bg_cli_stream *s, void *buf, size_t cap)
{
    size_t n = 0;
    CURLcode rc = curl_easy_recv(s->curl, buf, cap, &n);

    if (rc == CURLE_AGAIN)
        return -EAGAIN;
    return rc == CURLE_OK ? (ssize_t)n : -ECONNRESET;
}

/* recv_some, waiting for bytes first when there are none. */
static ssize_t recv_wait(struct bg_cli_stream *s, void *buf, size_t cap)
{
    ssize_t n;

    while ((n = recv_some(s, buf, cap)) == -EAGAIN)
        wait_for(s, POLLIN);
    return n;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void slist_freep(struct curl_slist **l)
{
    curl_slist_free_all(*l);
}

/* Connect with curl to the endpoint in use (its error messages, TLS and pin check), and keep
 * the connection: the Upgrade exchange is written by hand. *ret_headers gets the endpoint's
 * own header lines ("Authorization: ...\r\n"), for the request; the caller frees them. */
static int connect_raw(struct bg_cli_stream *s, const char *socket, char **ret_headers,
                       struct bg_error *err)
{
    bg_auto(slist_freep) struct curl_slist *hdrs = NULL;
    bg_autofree char *url = NULL;
    curl_socket_t fd = CURL_SOCKET_BAD;
    char errbuf[CURL_ERROR_SIZE] = "";
    int r;

    s->curl = curl_easy_init();
    if (!s->curl)
        return bg_error_set(err, -ENOMEM, "cannot prepare the request to bangerd");
    if ((r = bg_cli_http_target(s->curl, socket, "/", &s->seen, &hdrs, &url, err)) < 0)
        return r;
    (void)curl_easy_setopt(s->curl, CURLOPT_CONNECT_ONLY, 1L);
    (void)curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    (void)curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(s->curl);
    if (rc != CURLE_OK)
        return bg_cli_http_transport_error(s->curl, rc, socket, errbuf, &s->seen, err);
    if (s->seen.pin && !s->seen.any)
        return bg_error_set(err, -EPROTO, "%s showed no certificate to check", socket);
    if (curl_easy_getinfo(s->curl, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD)
        return bg_error_set(err, -EIO, "cannot get the connection to bangerd");
    s->fd = (int)fd;
    size_t len = 0;
    for (const struct curl_slist *h = hdrs; h; h = h->next)
        len += strlen(h->data) + 2;
    char *lines = bg_malloc(len + 1);
    lines[0] = '\0';
    for (const struct curl_slist *h = hdrs; h; h = h->next)
        strcat(strcat(lines, h->data), "\r\n");
    *ret_headers = lines;
    return 0;
}

/* Read until the end of the response head; what follows stays in s->in. */
static int read_head(struct bg_cli_stream *s, size_t *ret_head_len, struct bg_error *err)
{
    s->in = bg_malloc(HEAD_MAX + 1);
    for (;;) {
        ssize_t n = recv_wait(s, s->in + s->in_len, HEAD_MAX - s->in_len);
        if (n <= 0)
            return bg_error_set(err, -ECONNRESET,
                                "bangerd closed the connection before "
                                "answering");
        s->in_len += (size_t)n;
        s->in[s->in_len] = '\0';
        char *end = strstr((char *)s->in, "\r\n\r\n");
        if (end) {
            *ret_head_len = (size_t)(end - (char *)s->in) + 4;
            return 0;
        }
        if (s->in_len == HEAD_MAX)
            return bg_error_set(err, -EPROTO, "bangerd sent an oversized answer head");
    }
}

/* A refused upgrade: read the problem body and turn it into err. */
static int refusal(struct bg_cli_stream *s, long status, size_t head_len, struct bg_error *err)
{
    const char *cl = strcasestr((char *)s->in, "\r\nContent-Length:");
    uint64_t len = 0;
    char num[24] = "";

    if (cl) {
        cl += 17;
        cl += strspn(cl, " \t");
        size_t n = strspn(cl, "0123456789");
        snprintf(num, sizeof(num), "%.*s", (int)(n < sizeof(num) ? n : sizeof(num) - 1), cl);
    }
    if (bg_parse_u64(num, 0, BODY_MAX, &len, NULL) < 0)
        return bg_error_set(err, bg_cli_http_status_errno(status), "bangerd answered HTTP %ld",
                            status);
    bg_autofree char *body = bg_malloc(len + 1);
    size_t have = s->in_len - head_len < len ? s->in_len - head_len : len;
    memcpy(body, s->in + head_len, have);
    while (have < len) {
        ssize_t n = recv_wait(s, body + have, len - have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    json_t *j = json_loadb(body, have, 0, NULL);
    const char *detail = json_string_value(json_object_get(j, "detail"));
    int r = detail ? bg_error_set(err, bg_cli_http_status_errno(status), "%s", detail)
                   : bg_error_set(err, bg_cli_http_status_errno(status),
                                  "bangerd answered HTTP %ld", status);
    json_decref(j);
    return r;
}

/* The status code of "HTTP/1.x NNN ...", or -1. */
static long parse_status(const char *head)
{
    char code[4];
    uint64_t v;

    if (strncmp(head, "HTTP/1.1 ", 9) && strncmp(head, "HTTP/1.0 ", 9))
        return -1;
    snprintf(code, sizeof(code), "%.3s", head + 9);
    return bg_parse_u64(code, 100, 599, &v, NULL) < 0 ? -1 : (long)v;
}

int bg_cli_stream_open(const char *socket, const char *path, json_t *body,
                       struct bg_cli_stream **ret, struct bg_error *err)
{
    struct bg_cli_stream *s = bg_calloc(1, sizeof(*s));
    bg_autofree char *payload = json_dumps(body, JSON_COMPACT);
    bg_autofree char *req = NULL, *headers = NULL;
    size_t head_len = 0;
    long status = 0;
    int r;

    s->fd = -1;
    if ((r = connect_raw(s, socket, &headers, err)) < 0)
        goto fail;
    req =
        bg_asprintf("POST %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: %s\r\nConnection: Upgrade\r\n"
                    "Content-Type: application/json\r\nAccept: application/problem+json\r\n"
                    "%sContent-Length: %zu\r\n\r\n%s",
                    path, BG_EXEC_UPGRADE_PROTOCOL, headers, strlen(payload), payload);
    r = send_all(s, req, strlen(req));
    explicit_bzero(req, strlen(req)); /* it holds the token of a remote */
    if (r < 0) {
        r = bg_error_set(err, r, "send the request to bangerd: the connection broke");
        goto fail;
    }
    if ((r = read_head(s, &head_len, err)) < 0)
        goto fail;
    if ((status = parse_status((const char *)s->in)) < 0) {
        r = bg_error_set(err, -EPROTO, "bangerd sent something that is not HTTP");
        goto fail;
    }
    if (status != 101) {
        r = refusal(s, status, head_len, err);
        goto fail;
    }
    memmove(s->in, s->in + head_len, s->in_len - head_len);
    s->in_len -= head_len;
    *ret = s;
    return 0;
fail:
    bg_cli_stream_free(s);
    return r;
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

    if (write_all(fd, p, len) < 0) {
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
        ssize_t n = recv_some(s, s->in + s->in_len, cap - s->in_len);
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
