/* SPDX-License-Identifier: MIT */
/* JSON payloads of agent frames: strict decoders for both ends (EXEC and CONNECT for the agent;
 * HELLO, STARTED, EXIT and ERROR for the daemon, which trusts nothing the guest sends). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/macro.h"

#define BG_AGENT_ARGV_MAX 4096    /* strings in an EXEC "argv" */
#define BG_AGENT_ENV_MAX 1024     /* members of an EXEC "env" */
#define BG_AGENT_CWD_MAX 4095     /* bytes of an EXEC "cwd" */
#define BG_AGENT_CAPS_MAX 32      /* entries of HELLO "caps" */
#define BG_AGENT_NAME_MAX 64      /* bytes of HELLO "agent" and of one capability */
#define BG_AGENT_MESSAGE_MAX 1024 /* bytes of an ERROR "message" */
#define BG_AGENT_SIGNAL_MAX 64    /* highest signal number on the wire */
#define BG_AGENT_HOST_KEYS_MAX 8  /* ssh host keys in the STARTED of a TCP channel */

/* A decoded EXEC request. Owned; release with bg_agentreq_exec_done. */
struct bg_agentreq_exec {
    char **argv;       /* NULL-terminated, 1..BG_AGENT_ARGV_MAX strings */
    size_t argc;       /* strings in argv */
    char **env;        /* "NAME=value", NULL-terminated; never NULL (empty list when none) */
    size_t envc;       /* strings in env */
    char *cwd;         /* absolute path, or NULL when the request left it out or empty */
    bool tty;          /* run under a pseudo-terminal */
    bool attach_stdin; /* "stdin": the host sends stdin; otherwise the child reads /dev/null */
    uint16_t rows;     /* initial terminal size (tty only; 0 leaves the kernel default) */
    uint16_t cols;
};

/* Decode an EXEC payload (len bytes of JSON, not NUL-terminated). Refuses with -EINVAL:
 * invalid JSON, unknown members, wrong types, an empty argv or one over the cap, strings
 * with NUL bytes, env names that are not [A-Za-z_][A-Za-z0-9_]*, a relative cwd, sizes out
 * of range. err says which rule broke. On success *ret is filled and owned by the caller. */
BG_PUBLIC int bg_agentreq_exec_decode(const void *payload, size_t len, struct bg_agentreq_exec *ret,
                                      struct bg_error *err);

/* Encode r as an EXEC payload (*ret: a new NUL-terminated string, *ret_len its length).
 * The result is checked with bg_agentreq_exec_decode, so what the agent would refuse is
 * refused here with the same message (-EINVAL), and -EMSGSIZE when over the payload cap.
 * r->env may be NULL. Only reads r. */
BG_PUBLIC int bg_agentreq_exec_encode(const struct bg_agentreq_exec *r, char **ret, size_t *ret_len,
                                      struct bg_error *err);

/* Free what r owns and zero it; accepts a zeroed or half-built request. */
BG_PUBLIC void bg_agentreq_exec_done(struct bg_agentreq_exec *r);

/* A decoded HELLO. */
struct bg_agentreq_hello {
    uint32_t version;                  /* protocol version the peer speaks, >= 1 */
    char agent[BG_AGENT_NAME_MAX + 1]; /* peer's software version, may be "" */
    bool cap_exec;                     /* "exec" capability */
    bool cap_pty;                      /* "pty" capability */
    bool cap_tcp;                      /* "tcp": CONNECT opens TCP channels */
    bool cap_sshd;                     /* "sshd": the agent started the image's sshd */
};

/* Decode a HELLO payload: {"version":N,"agent":"...","caps":[...]}; "agent" and "caps" are
 * optional, capability names the decoder does not know are ignored (that is how a newer
 * peer adds features), unknown members are refused. -EINVAL with err on failure. */
BG_PUBLIC int bg_agentreq_hello_decode(const void *payload, size_t len,
                                       struct bg_agentreq_hello *ret, struct bg_error *err);

/* Decode STARTED {"pid":N}, N in 1..INT32_MAX. -EINVAL with err on failure. */
BG_PUBLIC int bg_agentreq_started_decode(const void *payload, size_t len, int *ret_pid,
                                         struct bg_error *err);

/* Decode EXIT: exactly one of {"exit_code":0..255} or {"signal":1..BG_AGENT_SIGNAL_MAX}.
 * On success *ret_exit_code is the code (-1 when signalled) and *ret_signal the signal
 * (0 when it exited). -EINVAL with err on failure. */
BG_PUBLIC int bg_agentreq_exit_decode(const void *payload, size_t len, int *ret_exit_code,
                                      int *ret_signal, struct bg_error *err);

/* Decode ERROR {"message":"..."} into buf (size bytes, >= 1): the message cut to fit on a
 * character boundary, with control characters replaced by '?', so it is well-formed UTF-8
 * that is safe to log and to put into JSON. -EINVAL with err on failure. */
BG_PUBLIC int bg_agentreq_error_decode(const void *payload, size_t len, char *buf, size_t size,
                                       struct bg_error *err);

/* A decoded CONNECT request. Owned; release with bg_agentreq_connect_done. */
struct bg_agentreq_connect {
    uint16_t port;        /* 1..65535: the guest's 127.0.0.1:port */
    char *authorized_key; /* "TYPE BASE64" (bg_sshkey_validate) to add to root's
                           * authorized_keys before connecting, or NULL */
    bool host_keys;       /* answer STARTED with the guest's ssh host keys */
};

/* Decode a CONNECT payload {"port":N,"authorized_key":"TYPE BASE64","host_keys":BOOL}; only
 * "port" is required. Refuses with -EINVAL: invalid JSON, unknown members, wrong types, a
 * port outside 1..65535, a key bg_sshkey_validate refuses. err says which rule broke. */
BG_PUBLIC int bg_agentreq_connect_decode(const void *payload, size_t len,
                                         struct bg_agentreq_connect *ret, struct bg_error *err);

/* Encode r as a CONNECT payload (*ret: a new NUL-terminated string, *ret_len its length),
 * checked with bg_agentreq_connect_decode: what the agent would refuse is refused here with
 * the same message (-EINVAL). Only reads r. */
BG_PUBLIC int bg_agentreq_connect_encode(const struct bg_agentreq_connect *r, char **ret,
                                         size_t *ret_len, struct bg_error *err);

/* Free what r owns and zero it; accepts a zeroed or half-built request. */
BG_PUBLIC void bg_agentreq_connect_done(struct bg_agentreq_connect *r);

/* Decode the STARTED of a TCP channel: {} or {"host_keys":["TYPE BASE64",...]} with at most
 * BG_AGENT_HOST_KEYS_MAX keys, each one bg_sshkey_validate takes. *ret_host_keys is a new
 * NULL-terminated list (empty without "host_keys"; free with bg_strv_free). -EINVAL with err
 * on failure. */
BG_PUBLIC int bg_agentreq_connected_decode(const void *payload, size_t len, char ***ret_host_keys,
                                           struct bg_error *err);

/* Decode the EXIT of a TCP channel: exactly {}. -EINVAL with err on failure. */
BG_PUBLIC int bg_agentreq_closed_decode(const void *payload, size_t len, struct bg_error *err);
