/* SPDX-License-Identifier: MIT */
/* banger vm forward: listen on a host port, and tunnel each connection to the guest port. */
#include "cmd_forward.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/parse.h"
#include "banger/utf8.h"
#include "http.h"
#include "request.h"
#include "tunnel.h"

static int parse_port(const char *s, size_t n, const char *what, uint16_t *ret,
                      struct bg_error *err)
{
    char buf[8];
    uint64_t v;
    int r;

    if (n == 0 || n >= sizeof(buf))
        return bg_error_set(err, -EINVAL, "%s must be a port number 1..65535", what);
    memcpy(buf, s, n);
    buf[n] = '\0';
    if ((r = bg_parse_u64(buf, 1, 65535, &v, err)) < 0)
        return bg_error_prefix(err, r, "%s", what);
    *ret = (uint16_t)v;
    return 0;
}

/* ADDR (n bytes): "localhost", an IPv4 address, or an IPv6 one in brackets. */
static int parse_addr(const char *s, size_t n, struct bg_cli_forward_spec *f, struct bg_error *err)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&f->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&f->addr;
    char buf[64];

    if (n == 0 || n >= sizeof(buf))
        return bg_error_set(err, -EINVAL,
                            "ADDR must be an IPv4 address, an IPv6 one in brackets or localhost");
    memcpy(buf, s, n);
    buf[n] = '\0';
    snprintf(f->host, sizeof(f->host), "%s", buf);
    if (!strcmp(buf, "localhost"))
        snprintf(buf, sizeof(buf), "127.0.0.1");
    if (buf[0] == '[' && buf[n - 1] == ']') {
        buf[n - 1] = '\0';
        if (inet_pton(AF_INET6, buf + 1, &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6;
            f->addr_len = sizeof(*v6);
            return 0;
        }
    } else if (inet_pton(AF_INET, buf, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        f->addr_len = sizeof(*v4);
        return 0;
    }
    return bg_error_set(err, -EINVAL,
                        "ADDR '%s' is not an IPv4 address, an IPv6 one in brackets or localhost",
                        BG_QUOTE(f->host));
}

int bg_cli_forward_parse(const char *spec, struct bg_cli_forward_spec *ret, struct bg_error *err)
{
    struct bg_cli_forward_spec f = {0};
    const char *last = strrchr(spec, ':');
    int r;

    if (!last)
        return bg_error_set(err, -EINVAL, "'%s' is not [ADDR:]HOST_PORT:GUEST_PORT (e.g. 8080:80)",
                            BG_QUOTE(spec));
    if ((r = parse_port(last + 1, strlen(last + 1), "GUEST_PORT", &f.guest_port, err)) < 0)
        return r;
    /* before the last colon: HOST_PORT, or ADDR:HOST_PORT (an IPv6 ADDR in brackets) */
    size_t rest = (size_t)(last - spec);
    const char *colon = NULL;
    for (size_t i = rest; i > 0; i--)
        if (spec[i - 1] == ':' || spec[i - 1] == ']') {
            colon = spec[i - 1] == ':' ? spec + i - 1 : NULL;
            break;
        }
    const char *port = colon ? colon + 1 : spec;
    if ((r = parse_port(port, (size_t)(last - port), "HOST_PORT", &f.host_port, err)) < 0)
        return r;
    if ((r = colon ? parse_addr(spec, (size_t)(colon - spec), &f, err)
                   : parse_addr("localhost", 9, &f, err)) < 0)
        return r;
    if (f.addr.ss_family == AF_INET)
        ((struct sockaddr_in *)&f.addr)->sin_port = htons(f.host_port);
    else
        ((struct sockaddr_in6 *)&f.addr)->sin6_port = htons(f.host_port);
    *ret = f;
    return 0;
}

/* The VM must be running for its port to be reached. */
static int check_running(const char *socket, const char *vm, struct bg_error *err)
{
    bg_autofree char *path = bg_cli_request_path("/v1/vms", vm);
    json_t *j = NULL;
    int r = bg_cli_http_call(socket, "GET", path, NULL, &j, err);

    if (r < 0)
        return r;
    const char *state = json_string_value(json_object_get(j, "state"));
    if (!state || strcmp(state, "running"))
        r = bg_error_set(err, -EINVAL,
                         "vm '%s' is %s, not running; start it with 'banger vm "
                         "start %s'",
                         vm, state ? state : "in an unknown state", vm);
    json_decref(j);
    return r;
}

static int listen_on(const struct bg_cli_forward_spec *f, struct bg_error *err)
{
    int fd = socket(f->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;

    if (fd < 0)
        return bg_error_errno(err, "socket");
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&f->addr, f->addr_len) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        (void)close(fd);
        errno = e;
        if (e == EADDRINUSE)
            return bg_error_errno(err,
                                  "host port %s:%u is taken: another program listens there; "
                                  "pick another HOST_PORT",
                                  f->host, f->host_port);
        if (e == EACCES)
            return bg_error_errno(err,
                                  "cannot listen on %s:%u: ports below 1024 need root; pick "
                                  "another HOST_PORT",
                                  f->host, f->host_port);
        return bg_error_errno(err, "listen on %s:%u", f->host, f->host_port);
    }
    return fd;
}

/* One accepted connection, tunnelled on its own thread. */
struct forward_conn {
    char *socket;
    char vm[64];
    uint16_t port;
    int fd;
};

static void *conn_main(void *arg)
{
    struct forward_conn *c = arg;
    struct bg_cli_tunnel_opts o = {.vm = c->vm, .port = c->port};
    struct bg_cli_upgrade *u = NULL;
    char **keys = NULL;
    struct bg_error err;

    /* a tunnel that cannot be had is said; how a connection ends is its client's business */
    if (bg_cli_tunnel_open(c->socket, &o, &u, &keys, &err) < 0)
        fprintf(stderr, "banger: vm forward: %s\n", err.msg);
    else
        (void)bg_cli_tunnel_relay(u, c->fd, c->fd, true, &err);
    bg_cli_upgrade_free(u);
    (void)close(c->fd);
    free(c->socket);
    free(c);
    return NULL;
}

static int sig_pipe[2] = {-1, -1};

static void on_signal(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;

    (void)!write(sig_pipe[1], &b, 1);
    errno = saved;
}

/* Accept until SIGINT or SIGTERM. */
static int serve(const char *socket, const char *vm, const struct bg_cli_forward_spec *f, int lfd,
                 struct bg_error *err)
{
    struct sigaction sa = {.sa_handler = on_signal};

    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return bg_error_errno(err, "pipe");
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "forwarding %s:%u to port %u of vm '%s' (Ctrl-C stops)\n", f->host,
            f->host_port, f->guest_port, vm);
    for (;;) {
        struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = sig_pipe[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return bg_error_errno(err, "poll");
        if (p[1].revents)
            return 0;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue; /* the client gave up already, or a moment without fds */
        struct forward_conn *c = bg_calloc(1, sizeof(*c));
        *c = (struct forward_conn){.socket = bg_strdup(socket), .port = f->guest_port, .fd = fd};
        snprintf(c->vm, sizeof(c->vm), "%s", vm);
        pthread_t t;
        if (pthread_create(&t, NULL, conn_main, c) != 0) {
            (void)close(fd);
            free(c->socket);
            free(c);
            continue;
        }
        (void)pthread_detach(t);
    }
}

int bg_cli_forward_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    struct bg_cli_forward_spec f;
    int r;

    if ((r = bg_cli_forward_parse(a->target, &f, err)) < 0 ||
        (r = check_running(socket, a->name, err)) < 0)
        return r;
    int lfd = listen_on(&f, err);
    if (lfd < 0)
        return lfd;
    r = serve(socket, a->name, &f, lfd, err);
    (void)close(lfd);
    return r;
}
