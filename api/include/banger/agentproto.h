/* SPDX-License-Identifier: MIT */
/* The agent protocol: framed, multiplexed channels between bangerd and banger-agent.
 * The same bytes run over virtio-serial (QEMU) and hybrid vsock (Firecracker).
 * docs/agent-protocol.md is the prose version of this header. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/macro.h"

#define BG_AGENT_VERSION 1
#define BG_AGENT_HEADER_SIZE 12
#define BG_AGENT_PAYLOAD_MAX (64 * 1024)
/* Bytes of data a receiver grants each direction of a channel before any CREDIT frame. */
#define BG_AGENT_WINDOW_INITIAL (256 * 1024)
/* Channel 0 is the control channel; exec sessions and TCP channels use 1..BG_AGENT_CHANNEL_MAX. */
#define BG_AGENT_CHANNEL_MAX 0xffffu
#define BG_AGENT_SESSIONS_MAX 64
#define BG_AGENT_VSOCK_PORT 52 /* the guest port the agent listens on when the channel is vsock */

/* Frame types. "h>g" host to guest, "g>h" guest to host. */
enum bg_agent_type {
    BG_AGENT_HELLO = 1,    /* both, ch 0: JSON {"version":1,"agent":"0.1.0","caps":[...]} */
    BG_AGENT_POWEROFF = 2, /* h>g, ch 0: empty; sync and power off (flag REBOOT: reboot) */
    BG_AGENT_EXEC = 3,     /* h>g: JSON {"argv":[..],"env":{..},"cwd":"","tty":false,
                            * "stdin":false,"rows":0,"cols":0}; opens the channel */
    BG_AGENT_STARTED = 4,  /* g>h: JSON {"pid":N} */
    BG_AGENT_DATA = 5,     /* both: raw bytes of stream (flags: STDIN/STDOUT/STDERR) */
    BG_AGENT_EOF = 6,      /* both: end of a stream (flags say which); empty */
    BG_AGENT_CREDIT = 7,   /* both: u32 LE bytes the receiver can take on top */
    BG_AGENT_RESIZE = 8,   /* h>g: u16 LE rows, u16 LE cols */
    BG_AGENT_SIGNAL = 9,   /* h>g: u32 LE signal number, for the session's process group */
    BG_AGENT_EXIT = 10,    /* g>h: JSON {"exit_code":N} or {"signal":N}; last on channel */
    BG_AGENT_ERROR = 11,   /* g>h: JSON {"message":"..."}; the request failed, channel ends */
    BG_AGENT_CLOSE = 12,   /* h>g: host gave up the session: kill it, send EXIT */
    BG_AGENT_CONNECT = 13, /* h>g: JSON {"port":N,"authorized_key":"..","host_keys":false};
                            * opens a TCP channel to 127.0.0.1:N in the guest (cap "tcp") */
    BG_AGENT_TYPE_MAX_ = 13,
};

/* Frame flags. */
#define BG_AGENT_F_STDIN 0x01u  /* DATA/EOF: the stream is stdin */
#define BG_AGENT_F_STDOUT 0x02u /* DATA/EOF: stdout (or the PTY) */
#define BG_AGENT_F_STDERR 0x04u /* DATA/EOF: stderr */
#define BG_AGENT_F_REBOOT 0x08u /* POWEROFF: reboot instead (Firecracker exits on reboot) */
#define BG_AGENT_F_ALL 0x0fu

/* A decoded frame header. */
struct bg_agent_header {
    uint8_t type;     /* enum bg_agent_type */
    uint8_t flags;    /* BG_AGENT_F_* */
    uint32_t channel; /* 0 control, 1..BG_AGENT_CHANNEL_MAX sessions */
    uint32_t length;  /* payload bytes that follow, <= BG_AGENT_PAYLOAD_MAX */
};

/* Write h into buf (BG_AGENT_HEADER_SIZE bytes). */
BG_PUBLIC void bg_agent_header_encode(const struct bg_agent_header *h,
                                      uint8_t buf[BG_AGENT_HEADER_SIZE]);

/* Decode and check a header: known type, flags allowed for the type, reserved bytes zero,
 * channel 0 exactly for control types, length within the cap and exact for fixed-size
 * payloads (CREDIT 4, RESIZE 4, SIGNAL 4, EOF 0, POWEROFF 0, CLOSE 0). Returns 0, or
 * -EBADMSG / -EMSGSIZE with err saying which rule broke. */
BG_PUBLIC int bg_agent_header_decode(const uint8_t buf[BG_AGENT_HEADER_SIZE],
                                     struct bg_agent_header *ret, struct bg_error *err);

/* Little-endian helpers for the fixed payloads. */
BG_PUBLIC void bg_agent_put_u32(uint8_t *p, uint32_t v);
BG_PUBLIC uint32_t bg_agent_get_u32(const uint8_t *p);
BG_PUBLIC void bg_agent_put_u16(uint8_t *p, uint16_t v);
BG_PUBLIC uint16_t bg_agent_get_u16(const uint8_t *p);

/* Name of a frame type for logs ("EXEC"), "?" when unknown. */
BG_PUBLIC const char *bg_agent_type_name(uint8_t type);
