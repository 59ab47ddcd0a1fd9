/* SPDX-License-Identifier: MIT */
/* One channel of the agent: an exec session (the child process, its pipes or PTY) or a TCP
 * connection inside the guest, and its stream state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/agentreq.h"
#include "banger/error.h"

/* How long a connect inside the guest may take; on loopback it is immediate unless the
 * listener's backlog is full. */
#define BG_SESSION_CONNECT_TIMEOUT_MS 10000

/* A running command or a TCP connection. serve.c moves bytes; this module owns the process,
 * the socket and the fds. A TCP channel's stdin is what goes into the socket and its stdout
 * what comes out of it; it has no process (pid 0) and no stderr. */
struct bg_session {
    uint32_t channel;   /* the host's channel id; 0 once detached (killed, waiting to be reaped) */
    pid_t pid;          /* the child, leader of its own process group; 0 once reaped */
    int status;         /* wait status, valid once pid is 0 */
    bool tty;           /* under a PTY: out_fd and in_fd are the same master */
    int in_fd;          /* child's stdin (pipe write end or PTY master); -1: none or closed */
    int out_fd;         /* child's stdout (or the PTY master); -1 once ended */
    int err_fd;         /* child's stderr; -1 once ended (always -1 with a PTY) */
    bool in_eof;        /* the host sent EOF on stdin: close in_fd once in_buf drains */
    bool in_broken;     /* the child closed its stdin: further stdin is discarded */
    uint8_t *in_buf;    /* stdin received from the host, not yet written to the child */
    size_t in_len;      /* bytes in in_buf, <= BG_AGENT_WINDOW_INITIAL */
    uint64_t in_credit; /* stdin bytes the host may still send */
    uint64_t in_grant;  /* stdin bytes written to the child, not yet granted back */
    uint64_t out_credit[2];   /* stdout/stderr bytes the host still accepts */
    bool closing;             /* CLOSE received: output is discarded, EXIT still follows */
    bool tcp;                 /* a TCP channel: in_fd is the socket, out_fd a dup of it */
    bool connecting;          /* tcp: the connect is in progress (in_fd becomes writable) */
    int64_t connect_deadline; /* tcp: bg_now_ms() time by which the connect must finish */
    uint16_t port;            /* tcp: the guest port */
    bool host_keys;           /* tcp: STARTED carries the guest's ssh host keys */
};

/* Connect to 127.0.0.1:port (non-blocking) for channel. On return the session is connected,
 * or connecting (then bg_session_connect_finish when in_fd is writable, or time out at
 * connect_deadline). Fails with <0 and err, e.g. "connect 127.0.0.1:22: Connection refused";
 * nothing is left open. */
int bg_session_connect(uint32_t channel, uint16_t port, struct bg_session **ret,
                       struct bg_error *err);

/* A connect in progress became writable: 0 when it succeeded (connecting is then false), or
 * <0 with err saying why it failed. */
int bg_session_connect_finish(struct bg_session *s, struct bg_error *err);

/* Start req's command for channel. default_cwd is used when req->cwd is NULL. On failure
 * (a missing program, a bad cwd, out of fds) returns <0 with err saying, e.g.,
 * "exec 'nosuch': No such file or directory"; nothing is left running. */
int bg_session_start(uint32_t channel, const struct bg_agentreq_exec *req, const char *default_cwd,
                     struct bg_session **ret, struct bg_error *err);

/* Send signo to the session's process group (if it still runs). */
void bg_session_signal(struct bg_session *s, int signo);

/* Set the PTY's window size (the kernel sends SIGWINCH). No-op without a PTY. */
void bg_session_resize(struct bg_session *s, uint16_t rows, uint16_t cols);

/* Close the child's stdin: the pipe, or with a PTY, type the terminal's EOF character; a TCP
 * channel shuts the socket down for writing (the peer reads end of stream). */
void bg_session_close_stdin(struct bg_session *s);

/* Close every fd of the session; its output is then never read. */
void bg_session_close_fds(struct bg_session *s);

/* True when the session has ended: reaped and both output streams at EOF; a TCP channel once
 * both directions are closed. */
bool bg_session_done(const struct bg_session *s);

/* Kill the process group if it runs, close the fds and free s. Accepts NULL. Does not reap. */
void bg_session_free(struct bg_session *s);
