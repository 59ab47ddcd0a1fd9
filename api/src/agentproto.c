/* SPDX-License-Identifier: MIT */
/* Agent frame header codec: the only parser of agent frames, shared by both ends. */
#include "banger/agentproto.h"

#include <errno.h>

static const char *const type_names[BG_AGENT_TYPE_MAX_ + 1] = {
    [BG_AGENT_HELLO] = "HELLO",     [BG_AGENT_POWEROFF] = "POWEROFF", [BG_AGENT_EXEC] = "EXEC",
    [BG_AGENT_STARTED] = "STARTED", [BG_AGENT_DATA] = "DATA",         [BG_AGENT_EOF] = "EOF",
    [BG_AGENT_CREDIT] = "CREDIT",   [BG_AGENT_RESIZE] = "RESIZE",     [BG_AGENT_SIGNAL] = "SIGNAL",
    [BG_AGENT_EXIT] = "EXIT",       [BG_AGENT_ERROR] = "ERROR",       [BG_AGENT_CLOSE] = "CLOSE",
    [BG_AGENT_CONNECT] = "CONNECT",
};

/* Per type: which flags it may carry, whether it lives on channel 0, and its fixed payload
 * length (-1 when variable). */
static const struct {
    uint8_t flags;
    bool control;
    int fixed_len;
} rules[BG_AGENT_TYPE_MAX_ + 1] = {
    [BG_AGENT_HELLO] = {0, true, -1},
    [BG_AGENT_POWEROFF] = {BG_AGENT_F_REBOOT, true, 0},
    [BG_AGENT_EXEC] = {0, false, -1},
    [BG_AGENT_STARTED] = {0, false, -1},
    [BG_AGENT_DATA] = {BG_AGENT_F_STDIN | BG_AGENT_F_STDOUT | BG_AGENT_F_STDERR, false, -1},
    [BG_AGENT_EOF] = {BG_AGENT_F_STDIN | BG_AGENT_F_STDOUT | BG_AGENT_F_STDERR, false, 0},
    [BG_AGENT_CREDIT] = {BG_AGENT_F_STDIN | BG_AGENT_F_STDOUT | BG_AGENT_F_STDERR, false, 4},
    [BG_AGENT_RESIZE] = {0, false, 4},
    [BG_AGENT_SIGNAL] = {0, false, 4},
    [BG_AGENT_EXIT] = {0, false, -1},
    [BG_AGENT_ERROR] = {0, false, -1},
    [BG_AGENT_CLOSE] = {0, false, 0},
    [BG_AGENT_CONNECT] = {0, false, -1},
};

void bg_agent_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

uint32_t bg_agent_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void bg_agent_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

uint16_t bg_agent_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

const char *bg_agent_type_name(uint8_t type)
{
    return type >= 1 && type <= BG_AGENT_TYPE_MAX_ ? type_names[type] : "?";
}

void bg_agent_header_encode(const struct bg_agent_header *h, uint8_t buf[BG_AGENT_HEADER_SIZE])
{
    buf[0] = h->type;
    buf[1] = h->flags;
    buf[2] = buf[3] = 0;
    bg_agent_put_u32(buf + 4, h->channel);
    bg_agent_put_u32(buf + 8, h->length);
}

int bg_agent_header_decode(const uint8_t buf[BG_AGENT_HEADER_SIZE], struct bg_agent_header *ret,
                           struct bg_error *err)
{
    struct bg_agent_header h = {
        .type = buf[0],
        .flags = buf[1],
        .channel = bg_agent_get_u32(buf + 4),
        .length = bg_agent_get_u32(buf + 8),
    };

    if (h.type < 1 || h.type > BG_AGENT_TYPE_MAX_)
        return bg_error_set(err, -EBADMSG, "unknown frame type %u", h.type);
    const char *name = type_names[h.type];
    if (buf[2] || buf[3])
        return bg_error_set(err, -EBADMSG, "%s frame: reserved bytes are not zero", name);
    if (h.flags & ~rules[h.type].flags)
        return bg_error_set(err, -EBADMSG, "%s frame: flags 0x%02x not allowed", name, h.flags);
    if (rules[h.type].control != (h.channel == 0))
        return bg_error_set(err, -EBADMSG, "%s frame on channel %u: %s", name, h.channel,
                            rules[h.type].control ? "belongs on channel 0"
                                                  : "channel 0 is for control frames");
    if (h.channel > BG_AGENT_CHANNEL_MAX)
        return bg_error_set(err, -EBADMSG, "%s frame: channel %u is over %u", name, h.channel,
                            BG_AGENT_CHANNEL_MAX);
    if (h.length > BG_AGENT_PAYLOAD_MAX)
        return bg_error_set(err, -EMSGSIZE, "%s frame: payload of %u bytes is over %u", name,
                            h.length, BG_AGENT_PAYLOAD_MAX);
    if (rules[h.type].fixed_len >= 0 && h.length != (uint32_t)rules[h.type].fixed_len)
        return bg_error_set(err, -EBADMSG, "%s frame: payload must be %d bytes, not %u", name,
                            rules[h.type].fixed_len, h.length);
    if ((h.type == BG_AGENT_DATA || h.type == BG_AGENT_EOF || h.type == BG_AGENT_CREDIT) &&
        __builtin_popcount(h.flags) != 1)
        return bg_error_set(err, -EBADMSG, "%s frame: must name exactly one stream", name);
    *ret = h;
    return 0;
}
