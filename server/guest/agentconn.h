/* SPDX-License-Identifier: MIT */
/* The daemon's end of the agent protocol: one connection to a guest's banger-agent, exec
 * sessions and TCP channels multiplexed on it, safe to use from many threads. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"

/* A connection to one agent. A reader thread demultiplexes its frames into per-session
 * buffers bounded by the credit window. */
struct bg_agent_conn;
/* One command running in the guest, or one TCP connection inside it (a TCP channel: reads
 * are the bytes from the guest's socket, as stream 1, writes go into it, closing stdin shuts
 * it down for writing, wait returns once both directions are over). Used by one thread at a
 * time (reads may run in one thread while writes, signals and resizes come from another). */
struct bg_agent_session;

/* What to run. Every pointer is borrowed for the call. */
struct bg_agent_exec_spec {
    const char *const *argv; /* NULL-terminated, at least one string */
    const char *const *env;  /* "K=V", NULL-terminated, may be NULL; added to the defaults */
    const char *cwd;         /* NULL: / or /root/repo when present */
    bool tty;                /* run under a PTY (stdout carries the terminal, no stderr) */
    bool stdin;              /* attach stdin (without it the command reads /dev/null) */
    uint16_t rows, cols;     /* initial PTY size (0: the kernel default) */
};

/* A TCP connection to open in the guest. Every pointer is borrowed for the call. */
struct bg_agent_connect_spec {
    uint16_t port;              /* 1..65535 on the guest's 127.0.0.1 */
    const char *authorized_key; /* "TYPE BASE64" to add to root's authorized_keys first, or
                                 * NULL */
    bool host_keys;             /* ask for the guest's ssh host keys */
};

/* Speak HELLO on fd (taken, also on failure) and wait for the agent's HELLO until
 * deadline_ms (bg_now_ms clock), then start the reader thread. Returns 0 and *ret (free with
 * bg_agent_conn_free), -ETIMEDOUT at the deadline, -ECONNRESET when the agent hung up, or
 * -EPROTO when it answered something other than a valid HELLO of a version we speak. */
int bg_agent_conn_open(int fd, int64_t deadline_ms, struct bg_agent_conn **ret,
                       struct bg_error *err);

/* Close the connection and free c once its last session is freed (accepts NULL). Blocked
 * calls on its sessions fail with -ECONNRESET. */
void bg_agent_conn_free(struct bg_agent_conn *c);

/* Ask the agent to power the guest off (reboot: reboot instead). Does not wait for it.
 * Returns 0, or -ECONNRESET when the connection is gone. */
int bg_agent_conn_poweroff(struct bg_agent_conn *c, bool reboot, struct bg_error *err);

/* True once the connection is lost (the agent hung up or broke the protocol). */
bool bg_agent_conn_dead(struct bg_agent_conn *c);

/* Start spec's command: sends EXEC and waits for STARTED or ERROR. Returns 0 and *ret (free
 * with bg_agent_session_free); -EINVAL for a spec the agent would refuse;
 * BG_ERR(BG_PROBLEM_TOO_MANY_EXECS) with too many sessions; BG_ERR(BG_PROBLEM_EXEC_FAILED)
 * when the agent could not start it (err has the agent's message, e.g. "exec 'nosuch': No
 * such file or directory"); -ECONNRESET when the connection is lost; -ETIMEDOUT when the
 * agent does not answer in time. */
int bg_agent_exec(struct bg_agent_conn *c, const struct bg_agent_exec_spec *spec,
                  struct bg_agent_session **ret, struct bg_error *err);

/* Open a TCP channel to spec's port inside the guest: sends CONNECT, waits for STARTED or
 * ERROR. Returns 0, *ret (a session, see above; free with bg_agent_session_free, which closes
 * the connection when it is not over) and *ret_host_keys (the guest's ssh host keys as
 * "TYPE BASE64", NULL-terminated, empty unless asked; free with bg_strv_free);
 * BG_ERR(BG_PROBLEM_TUNNEL_FAILED) when the agent cannot open connections (it lacks the "tcp"
 * capability) or refused (err has its message, e.g. "connect 127.0.0.1:22: Connection
 * refused"); -EINVAL for a spec the agent would refuse; BG_ERR(BG_PROBLEM_TOO_MANY_EXECS)
 * with too many sessions; -ECONNRESET; -ETIMEDOUT. */
int bg_agent_connect(struct bg_agent_conn *c, const struct bg_agent_connect_spec *spec,
                     struct bg_agent_session **ret, char ***ret_host_keys, struct bg_error *err);

/* True when the agent's HELLO said it started the image's sshd ("sshd"). */
bool bg_agent_conn_has_sshd(struct bg_agent_conn *c);

/* Read output into buf (up to len bytes, all of one stream): *ret_stream is 1 for stdout
 * (and the PTY), 2 for stderr. Blocks until there is output. Returns the byte count; 0 when
 * stdout and stderr have both ended; -ETIMEDOUT at deadline_ms (<= 0: no deadline);
 * -ECONNRESET when the connection is lost (after what was already received); -EPROTO when
 * the agent ended the session with an error. Consumed bytes are granted back to the agent
 * as credit, so output flows only as fast as it is read. */
ssize_t bg_agent_session_read(struct bg_agent_session *s, int *ret_stream, void *buf, size_t len,
                              int64_t deadline_ms, struct bg_error *err);

/* Send some of buf (len bytes) to the command's stdin: as much as the agent's credit allows
 * now, at most one frame, waiting for credit until deadline_ms (<= 0: no deadline). Returns
 * the bytes sent (>= 1; 0 when len is 0); -ETIMEDOUT when no credit came by the deadline
 * (nothing was sent); -EPIPE when stdin was closed or the command has ended; -ECONNRESET
 * when the connection is lost. */
ssize_t bg_agent_session_write_some(struct bg_agent_session *s, const void *buf, size_t len,
                                    int64_t deadline_ms, struct bg_error *err);

/* Send all of buf to the command's stdin, waiting while the agent grants no credit, but for
 * at most 30 s without progress: a command that reads none of its input that long (or a
 * guest that stops granting credit) fails the write with -ETIMEDOUT, so no caller waits
 * forever. Returns 0; -ETIMEDOUT (some of buf may have been sent); -EPIPE when stdin was
 * closed or the command has ended; -ECONNRESET when the connection is lost (also when it is
 * closed by bg_agent_conn_free while this waits). */
int bg_agent_session_write(struct bg_agent_session *s, const void *buf, size_t len,
                           struct bg_error *err);

/* End the command's stdin (with a PTY: the terminal's EOF character). Idempotent. */
int bg_agent_session_close_stdin(struct bg_agent_session *s, struct bg_error *err);

/* Resize the PTY (no-op without one, or once the command ended). */
int bg_agent_session_resize(struct bg_agent_session *s, uint16_t rows, uint16_t cols,
                            struct bg_error *err);

/* Send signo (1..64) to the command's process group; no-op once it ended. -EINVAL for an
 * out-of-range signal. */
int bg_agent_session_signal(struct bg_agent_session *s, int signo, struct bg_error *err);

/* Wait until the command's EXIT: *ret_exit_code is its code (-1 when signalled) and
 * *ret_signal the signal (0 when it exited). EXIT comes after all output, so read the
 * output to the end first. Returns 0; -ETIMEDOUT at deadline_ms (<= 0: no deadline);
 * -ECONNRESET; -EPROTO when the agent ended the session with an error. */
int bg_agent_session_wait(struct bg_agent_session *s, int64_t deadline_ms, int *ret_exit_code,
                          int *ret_signal, struct bg_error *err);

/* The command's pid inside the guest (the leader of its process group). */
pid_t bg_agent_session_pid(const struct bg_agent_session *s);

/* Output bytes received and not yet read; never more than the credit window per stream. */
size_t bg_agent_session_buffered(struct bg_agent_session *s);

/* Free s (accepts NULL). If the command still runs, sends CLOSE: the agent kills its
 * process group. */
void bg_agent_session_free(struct bg_agent_session *s);

#ifdef BANGER_TESTING
/* How long a write waits without progress (30000 ms): the socket to the agent, and stdin
 * credit in bg_agent_session_write. Tests shorten it. */
extern int bg_agent_conn_write_stall_ms;
/* A connection on fd (taken; writes go there, nothing is read from it) without HELLO and
 * without a reader thread, for the fuzz harness: bg_agent_conn_feed_testing stands in for
 * the reader. Free with bg_agent_conn_free. */
struct bg_agent_conn *bg_agent_conn_new_testing(int fd);
/* A session on the next channel (1, 2, ...) waiting for STARTED, as bg_agent_exec leaves it
 * after sending EXEC; tty: one output stream. Errors of bg_agent_exec's session table. */
int bg_agent_session_new_testing(struct bg_agent_conn *c, bool tty, struct bg_agent_session **ret,
                                 struct bg_error *err);
/* The same for a TCP channel, as bg_agent_connect leaves it after sending CONNECT. */
int bg_agent_tcp_new_testing(struct bg_agent_conn *c, struct bg_agent_session **ret,
                             struct bg_error *err);
/* Handle len bytes as if the reader had read them from the agent: every whole frame is
 * dispatched, a partial one kept for the next call. Returns 0, or the protocol error that
 * would end the connection (the connection is then dead), with err. */
int bg_agent_conn_feed_testing(struct bg_agent_conn *c, const void *buf, size_t len,
                               struct bg_error *err);
#endif
