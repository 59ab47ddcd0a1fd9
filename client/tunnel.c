/* SPDX-License-Identifier: MIT */
/* Tunnels, client side: the upgrade request, the host keys of its answer, the byte relay. */
#include "tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/agentio.h"
#include "banger/alloc.h"
#include "banger/sshkey.h"
#include "banger/tunnel.h"
#include "http.h"
#include "sshkeys.h"

#define RELAY_BUF (64 * 1024)
/* the header holds at most 8 keys of BG_SSHKEY_MAX bytes and their separators */
#define HOST_KEYS_HEADER_MAX (8 * (BG_SSHKEY_MAX + 2))

int bg_cli_tunnel_open(const char *socket, const struct bg_cli_tunnel_opts *o,
                       struct bg_cli_upgrade **ret, char ***ret_host_keys, struct bg_error *err)
{
    bg_autofree char *esc = bg_cli_http_escape(o->vm);
    bg_autofree char *path = bg_asprintf("/v1/vms/%s/tunnel", esc);
    json_t *body = json_pack("{s:i}", "port", (int)o->port);
    struct bg_cli_upgrade *u = NULL;
    int r;

    /* the relay's two threads move raw bytes on the socket, which TLS would sit between */
    if (bg_cli_http_remote()) {
        json_decref(body);
        return bg_error_set(err, -ENOTSUP,
                            "tunnels (vm ssh, vm tunnel, vm forward) reach only the local "
                            "daemon, over its unix socket; run them on the daemon's host");
    }
    /* json_object_set_new steals the new values */
    if (o->authorized_key)
        (void)json_object_set_new(body, "authorized_key", json_string(o->authorized_key));
    if (o->host_keys)
        (void)json_object_set_new(body, "host_keys", json_true());
    r = bg_cli_upgrade_open(socket, path, BG_TUNNEL_UPGRADE_PROTOCOL, body, &u, err);
    json_decref(body);
    if (r < 0)
        return r;
    int fl = fcntl(u->fd, F_GETFL); /* the relay blocks on the socket on purpose */
    if (fl >= 0)
        (void)fcntl(u->fd, F_SETFL, fl & ~O_NONBLOCK);
    *ret_host_keys = NULL;
    if (o->host_keys) {
        bg_autofree char *header = bg_malloc(HOST_KEYS_HEADER_MAX);
        if (!bg_cli_upgrade_header(u, BG_TUNNEL_HOST_KEYS_HEADER, header, HOST_KEYS_HEADER_MAX))
            r = bg_error_set(err, -EPROTO, "bangerd sent no ssh host keys for vm '%s'", o->vm);
        else
            r = bg_cli_ssh_host_keys_parse(header, ret_host_keys, err);
        if (r < 0) {
            bg_cli_upgrade_free(u);
            return r;
        }
    }
    *ret = u;
    return 0;
}

/* The input side's state, shared with its thread; the last of the two to let go frees it. */
struct relay_in {
    int in_fd, tunnel_fd;
    int error;        /* -errno when reading in_fd or sending failed */
    int done[2];      /* the thread writes a byte here as it ends */
    atomic_int holds; /* 2: the relay and the thread */
};

static void relay_in_release(struct relay_in *in)
{
    if (atomic_fetch_sub(&in->holds, 1) != 1)
        return;
    (void)close(in->done[0]);
    (void)close(in->done[1]);
    free(in);
}

/* Local input to the guest: its end becomes the tunnel's half-close; a failure ends both. */
static void *input_main(void *arg)
{
    struct relay_in *in = arg;
    bg_autofree char *buf = bg_malloc(RELAY_BUF);

    for (;;) {
        ssize_t n = read(in->in_fd, buf, RELAY_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0) {
            (void)shutdown(in->tunnel_fd, SHUT_WR);
            break;
        }
        if (n < 0 || bg_agentio_send_all(in->tunnel_fd, buf, (size_t)n) < 0) {
            in->error = -errno;
            (void)shutdown(in->tunnel_fd, SHUT_RDWR);
            break;
        }
    }
    (void)!write(in->done[1], "", 1);
    relay_in_release(in);
    return NULL;
}

static bool is_socket(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* The guest's bytes to out_fd until the tunnel ends. 0, or -errno. */
static int output(struct bg_cli_upgrade *u, int out_fd)
{
    bg_autofree char *buf = bg_malloc(RELAY_BUF);
    int r = bg_write_all(out_fd, u->extra, u->extra_len);

    while (r == 0) {
        ssize_t n = recv(u->fd, buf, RELAY_BUF, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            r = -errno;
        else if (n == 0)
            break;
        else
            r = bg_write_all(out_fd, buf, (size_t)n);
    }
    return r;
}

/* After the guest's side ended: wait for the local input to end too (a half-close), unless
 * bangerd closes the tunnel first (the channel is over: the guest closed its socket, or the
 * VM went away). True when the input side has ended. */
static bool input_ended(struct relay_in *in, int tunnel_fd)
{
    for (;;) {
        /* POLLHUP without asking: the peer shut both directions, not just its sending one */
        struct pollfd p[2] = {{.fd = tunnel_fd}, {.fd = in->done[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return false;
        if (p[1].revents)
            return true;
        if (p[0].revents & (POLLHUP | POLLERR))
            return false;
    }
}

int bg_cli_tunnel_relay(struct bg_cli_upgrade *u, int in_fd, int out_fd, bool wait_input,
                        struct bg_error *err)
{
    /* on the heap: a thread left reading stdin keeps it past this call */
    struct relay_in *in = bg_calloc(1, sizeof(*in));
    bool out_socket = is_socket(out_fd);
    pthread_t thread;

    in->in_fd = in_fd;
    in->tunnel_fd = u->fd;
    atomic_init(&in->holds, 2);
    /* a reader that went away shows as EPIPE, not as a killed banger */
    (void)signal(SIGPIPE, SIG_IGN);
    if (pipe2(in->done, O_CLOEXEC) < 0) {
        free(in);
        return bg_error_errno(err, "start the relay");
    }
    if ((errno = pthread_create(&thread, NULL, input_main, in)) != 0) {
        atomic_store(&in->holds, 1); /* no thread holds it */
        relay_in_release(in);
        return bg_error_errno(err, "start the relay");
    }
    int r = output(u, out_fd);
    if (r < 0)
        (void)shutdown(u->fd, SHUT_RDWR); /* the input side stops sending too */
    if (out_socket)
        (void)shutdown(out_fd, r < 0 ? SHUT_RDWR : SHUT_WR);
    else
        (void)close(out_fd);
    if (r == 0 && wait_input && input_ended(in, u->fd)) {
        (void)pthread_join(thread, NULL);
        r = in->error;
    } else if (is_socket(in_fd)) {
        (void)shutdown(in_fd, SHUT_RD); /* wakes the input side's recv */
        (void)pthread_join(thread, NULL);
    } else {
        /* a read of stdin cannot be interrupted; the process is about to end */
        (void)pthread_detach(thread);
    }
    relay_in_release(in);
    if (r < 0) {
        errno = -r;
        return bg_error_errno(err, "relay");
    }
    return 0;
}
